/* SPDX-License-Identifier: MIT */
#pragma once

/* Takeover planning for Floating IP and Routing-based HA (SPEC 6). Pure: no
 * I/O, time passed in. The executor (daemon/pattern-ha.c) runs rounds:
 *
 *   describe (DescribeRouteTables + DescribeAddresses +
 *             DescribeNetworkInterfaces of our primary interface, at once)
 *     -> ha_observe() per target -> ha_plan_round(): the write set
 *     -> every write at once -> ha_write_outcome() / ha_progress_apply()
 *     -> describe again (verification) -> ha_plan_round() ... until every
 *        target is DONE or FAILED, or the deadline.
 *
 * Rules kept here:
 *   - check before change: a target AWS already routes here is not written;
 *     a target whose state is unknown (its describe failed) is never written
 *     blind;
 *   - routes: ReplaceRoute when the table has a route for the destination,
 *     CreateRoute when it has none; ReplaceRoute answering
 *     InvalidRoute.NotFound switches to CreateRoute at once, CreateRoute
 *     answering RouteAlreadyExists to ReplaceRoute;
 *   - source/destination check: ModifyNetworkInterfaceAttribute only while
 *     it is on;
 *   - secondary private IPs: one AssignPrivateIpAddresses for all; when AWS
 *     refuses the batch as invalid, each address is retried alone so one bad
 *     address does not hold up the others;
 *   - verification: a route is here when it is active and targets our
 *     interface, an Elastic IP when it is associated with our interface (or
 *     instance), a private IP when our interface holds it;
 *   - a write AWS accepted but a describe does not show yet (eventual
 *     consistency) is awaited, and written again only after
 *     HA_REWRITE_AFTER_USEC;
 *   - transient failures (throttling, 5xx, network, timeouts, garbled
 *     answers, all already retried by ec2_call) are tried again in the next
 *     round inside the deadline; everything else fails that target only. */

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdp/ec2-ha.h"
#include "cdp/ec2-query.h"
#include "cdp/ec2-xml.h"
#include "cdp/ec2.h"
#include "cdp/macro.h"
#include "cdp/policy.h"

#define HA_REWRITE_AFTER_USEC (2 * USEC_PER_SEC)
#define HA_WRITE_TARGETS_MAX POLICY_LIST_MAX
#define HA_TARGET_NAME_MAX 160

typedef enum HaSelect {
        HA_SELECT_FLOATING_IP = 1 << 0,
        HA_SELECT_ROUTING_HA = 1 << 1,
        HA_SELECT_BOTH = HA_SELECT_FLOATING_IP | HA_SELECT_ROUTING_HA,
} HaSelect;

/* NULL or "" -> BOTH; "floating-ip"; "routing-ha". -EINVAL otherwise. */
int ha_select_from_string(const char *s, HaSelect *ret);
/* "floating-ip", "routing-ha" or "all". */
const char *ha_select_to_string(HaSelect s);

typedef enum HaTargetKind {
        HA_TARGET_SOURCE_DEST_CHECK,    /* our interface's check must be off for routing HA */
        HA_TARGET_ROUTE,
        HA_TARGET_ELASTIC_IP,
        HA_TARGET_PRIVATE_IP,
} HaTargetKind;

typedef struct HaTarget {
        HaTargetKind kind;
        char *id;                       /* SDC: interface id; ROUTE: route table id;
                                         * ELASTIC_IP: allocation id; PRIVATE_IP: the address */
        char *cidr;                     /* ROUTE: destination as written in the tag */
        struct in_addr address;         /* ROUTE: network; PRIVATE_IP: the address (network order) */
        unsigned prefix;                /* ROUTE: prefix length; PRIVATE_IP: 32 */
} HaTarget;

/* "routing-ha" (SDC, ROUTE) or "floating-ip" (ELASTIC_IP, PRIVATE_IP). */
const char *ha_target_pattern(const HaTarget *t);
/* "source-dest-check", "route", "elastic-ip", "private-ip". */
const char *ha_target_type(const HaTarget *t);
/* For messages: "route 192.168.100.10/32 in rtb-...", "Elastic IP
 * eipalloc-...", "private IP 10.0.1.50", "source/destination check of
 * eni-...". Truncated to size. */
void ha_target_name(const HaTarget *t, char *buf, size_t size);

typedef struct HaTargetSet {
        HaTarget *targets;              /* SDC first, then routes, Elastic IPs, private IPs (tag order) */
        size_t n_targets;
        char *interface_id;             /* our primary network interface */
        char *instance_id;
        HaSelect selected;              /* what was asked for */
        HaSelect enabled;               /* selected policies that contributed targets */
        HaSelect invalid;               /* selected policies refused by the tag parser */
} HaTargetSet;

/* The targets of the selected policies (disabled or invalid policies add
 * none; see ->invalid). Ownership: caller frees *ret with
 * ha_target_set_free(); nothing of p is kept. */
int ha_target_set_new(const Policy *p, HaSelect select, const char *interface_id, const char *instance_id,
                      HaTargetSet **ret);
HaTargetSet *ha_target_set_free(HaTargetSet *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(HaTargetSet *, ha_target_set_free);

bool ha_target_set_has(const HaTargetSet *s, HaTargetKind kind);

/* ---- describe */

typedef enum HaDescribeKind {
        HA_DESCRIBE_ROUTE_TABLES,       /* DescribeRouteTables, Filter route-table-id */
        HA_DESCRIBE_ADDRESSES,          /* DescribeAddresses, Filter allocation-id */
        HA_DESCRIBE_INTERFACE,          /* DescribeNetworkInterfaces NetworkInterfaceId.1 = ours */
        HA_DESCRIBE_HOLDERS,            /* status only: interfaces holding our private IPs */
        _HA_DESCRIBE_MAX,
} HaDescribeKind;

/* The query of one describe call of a round; *ret = NULL (and 0) when the
 * set needs none of this kind. Filters rather than id lists, so a table or
 * allocation that does not exist is simply absent from the answer instead of
 * failing the whole call. Ownership: caller frees *ret with ec2_query_free(). */
int ha_describe_query(const HaTargetSet *s, HaDescribeKind kind, Ec2Query **ret);

/* The answers of one round; NULL where the call failed or was not made. */
typedef struct HaDescribed {
        const Ec2RouteTablePage *route_tables;
        const Ec2AddressPage *addresses;
        const Ec2InterfacePage *interface;
        const Ec2InterfacePage *holders;
} HaDescribed;

typedef enum HaState {
        HA_STATE_UNKNOWN,               /* the API did not answer: never "moved away" */
        HA_STATE_HERE,
        HA_STATE_ELSEWHERE,
        HA_STATE_MISSING,               /* routed nowhere: no route, not associated, not assigned */
        _HA_STATE_MAX,
} HaState;

const char *ha_state_to_string(HaState s);

typedef struct HaObservation {
        HaState state;
        const char *where;              /* ELSEWHERE: what AWS routes it to (eni-, i-, igw-, ...);
                                         * NULL when not known. Borrowed from the answers. */
        const char *detail;             /* static words for a state other than HERE, or NULL */
        bool route_present;             /* ROUTE: the table has a route for the destination */
        const char *public_ip;          /* ELASTIC_IP: borrowed, may be NULL */
} HaObservation;

/* What the answers say of target i. Borrowed pointers live as long as d's
 * pages. */
void ha_observe(const HaTargetSet *s, size_t i, const HaDescribed *d, HaObservation *ret);

/* ---- writes */

typedef enum HaWriteKind {
        HA_WRITE_DISABLE_SOURCE_DEST_CHECK,     /* ModifyNetworkInterfaceAttribute SourceDestCheck.Value=false */
        HA_WRITE_REPLACE_ROUTE,
        HA_WRITE_CREATE_ROUTE,
        HA_WRITE_ASSOCIATE_ADDRESS,             /* AllowReassociation=true */
        HA_WRITE_ASSIGN_PRIVATE_IPS,            /* AllowReassignment=true */
} HaWriteKind;

/* The EC2 action name. */
const char *ha_write_action(HaWriteKind k);

typedef struct HaWrite {
        HaWriteKind kind;
        size_t targets[HA_WRITE_TARGETS_MAX];   /* indices into the set; several only for ASSIGN */
        size_t n_targets;
} HaWrite;

/* The write's query (marked idempotent: every one of them may be repeated
 * harmlessly, CreateRoute through its RouteAlreadyExists switch).
 * Ownership: caller frees *ret with ec2_query_free(). */
int ha_write_query(const HaTargetSet *s, const HaWrite *w, Ec2Query **ret);

typedef enum HaPhase {
        HA_PHASE_PENDING,               /* not seen here yet, no write outstanding */
        HA_PHASE_WRITING,               /* a write is in flight */
        HA_PHASE_WRITTEN,               /* AWS accepted it; waiting to see it */
        HA_PHASE_DONE,                  /* verified here */
        HA_PHASE_FAILED,                /* permanent error: not tried again */
} HaPhase;

typedef struct HaProgress {
        HaPhase phase;
        bool changed;                   /* a write of this takeover was accepted */
        bool alone;                     /* PRIVATE_IP: write it in a call of its own */
        bool retry;                     /* the last write failed transiently */
        unsigned writes;                /* write calls made for it */
        uint64_t written_at;            /* CLOCK_MONOTONIC usec of the last accepted write */
        HaState initial;                /* the state of the first describe (UNKNOWN until seen) */
        bool seen;                      /* a describe answered for it at least once */
} HaProgress;

/* After a describe round: targets seen here become DONE; the others get the
 * write that brings them here (see the rules above) and become WRITING.
 * writes must hold s->n_targets entries; *ret_n is how many were planned. */
void ha_plan_round(const HaTargetSet *s, const HaObservation *obs, HaProgress *progress, uint64_t now,
                   HaWrite *writes, size_t *ret_n);

typedef enum HaOutcome {
        HA_OUTCOME_ACCEPTED,
        HA_OUTCOME_SWITCH,              /* ReplaceRoute <-> CreateRoute, at once */
        HA_OUTCOME_SPLIT,               /* a batch of private IPs refused: each alone next round */
        HA_OUTCOME_RETRY,               /* transient: describe and try again inside the deadline */
        HA_OUTCOME_FAILED,              /* permanent for this takeover */
} HaOutcome;

/* How a finished write call counts. error is ec2_call's; code the AWS (or
 * local) error code, may be NULL. switched: this write already is the result
 * of a switch (no second switch, so two answers cannot ping-pong). */
HaOutcome ha_write_outcome(const HaWrite *w, int error, Ec2ErrorClass cls, const char *code, bool switched);

/* Records the outcome in the progress of the write's targets. For SWITCH,
 * *ret_next (required then) is the write to make at once (targets stay
 * WRITING). */
void ha_progress_apply(const HaWrite *w, HaOutcome o, HaProgress *progress, uint64_t now, HaWrite *ret_next);

/* Whether every target is DONE or FAILED. */
bool ha_progress_finished(const HaProgress *progress, size_t n);
/* Whether some target waits for a write AWS accepted (an early describe
 * again is worth it) or may be written again. */
bool ha_progress_waiting(const HaProgress *progress, size_t n);

/* ---- overall state, for status and the OCF monitor */

typedef enum HaSummary {
        HA_SUMMARY_NONE,                /* no targets */
        HA_SUMMARY_HERE,                /* every target here */
        HA_SUMMARY_ELSEWHERE,           /* every target answered, none here */
        HA_SUMMARY_PARTIAL,             /* every target answered, some here, some not */
        HA_SUMMARY_UNKNOWN,             /* some target's describe failed */
} HaSummary;

/* Over the route, Elastic IP and private IP targets of the patterns in
 * `which`; the source/destination check (routing HA) only turns an otherwise
 * complete HERE into PARTIAL (or UNKNOWN), since a former master keeps it
 * off. obs holds s->n_targets entries. */
HaSummary ha_summary(const HaTargetSet *s, const HaObservation *obs, HaSelect which);
const char *ha_summary_to_string(HaSummary s);

/* ---- local addresses (config manage_local_vip) */

typedef struct HaLocalAddress {
        struct in_addr address;         /* network order */
        unsigned prefix;                /* always 32 */
        bool on_primary;                /* secondary IP: the primary interface unless vip_interface
                                         * is set; routing HA: vip_interface, default "lo" */
        size_t target;                  /* the first target it belongs to */
} HaLocalAddress;

/* The addresses a takeover adds locally and a release removes: each /32
 * routing HA destination once (a wider destination, e.g. 0.0.0.0/0 of a NAT
 * instance, is not an address) and each secondary private IP. Elastic IPs
 * have none: AWS maps them onto the primary private address.
 * Ownership: caller frees *ret with free(). */
int ha_local_addresses(const HaTargetSet *s, HaLocalAddress **ret, size_t *ret_n);
