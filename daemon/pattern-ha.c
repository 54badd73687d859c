/* SPDX-License-Identifier: MIT */
/* Floating IP and Routing-based HA (SPEC 6): `cdpctl takeover`, `cdpctl
 * release` and the "ha" part of `cdpctl status`.
 *
 * A takeover runs rounds on the shared curl multi, so it never waits behind
 * another pattern's calls:
 *
 *   local addresses (manage_local_vip, rtnetlink, synchronous: kernel only)
 *   describe round: DescribeRouteTables + DescribeAddresses +
 *                   DescribeNetworkInterfaces of our interface, at once
 *   write round:    every write the planner asks for, at once
 *   describe round: verification; again after a short backoff while AWS has
 *                   not caught up, within the deadline
 *
 * Three API round trips when nothing goes wrong. The decisions are in
 * lib/core/ha-plan.c; this file only runs them.
 *
 * Warm path: after every policy change (the first one right after the first
 * tag read) and then every HA_KEEPALIVE_USEC while an HA policy is enabled,
 * one describe round keeps curl's connections to the endpoint open and
 * proves the credentials, so a takeover starts without a TCP/TLS handshake,
 * an IMDS call or a process. */
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "cdp/ec2-ha.h"
#include "cdp/ha-plan.h"
#include "cdp/netlink-addr.h"
#include "cdp/parse-util.h"
#include "ctl-server.h"
#include "log.h"
#include "pattern.h"

#define HA_STATUS_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define HA_WARM_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define HA_BACKOFF_MIN_USEC (20 * USEC_PER_MSEC)
#define HA_BACKOFF_MAX_USEC (1 * USEC_PER_SEC)
#define HA_TIMEOUT_MAX_MS (3600LL * 1000)

typedef struct HaPattern HaPattern;
typedef struct Round Round;
typedef struct Takeover Takeover;
typedef struct StatusQuery StatusQuery;

static uint64_t now_mono(void) {
        return clock_now(clock_real(), CLOCK_MONOTONIC);
}

static const char *strna(const char *s) {
        return s ?: "n/a";
}

/* ------------------------------------------------------------------------
 * Describe rounds
 * ------------------------------------------------------------------------ */

typedef void (*RoundDoneFn)(Round *r, void *userdata);

typedef struct RoundCall {
        Round *round;
        HaDescribeKind kind;
        Ec2Call *call;
        int error;                      /* 0, or ec2_call's error */
        Ec2ErrorClass error_class;
        char *code;
        char *message;
} RoundCall;

struct Round {
        RoundCall calls[_HA_DESCRIBE_MAX];
        unsigned pending;
        unsigned made;
        Ec2RouteTablePage *route_tables;
        Ec2AddressPage *addresses;
        Ec2InterfacePage *interface;
        Ec2InterfacePage *holders;
        RoundDoneFn done;
        void *userdata;
};

static Round *round_free(Round *r) {
        if (!r)
                return NULL;
        for (size_t k = 0; k < _HA_DESCRIBE_MAX; k++) {
                ec2_call_cancel(r->calls[k].call);
                free(r->calls[k].code);
                free(r->calls[k].message);
        }
        ec2_route_table_page_free(r->route_tables);
        ec2_address_page_free(r->addresses);
        ec2_interface_page_free(r->interface);
        ec2_interface_page_free(r->holders);
        free(r);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Round *, round_free);

static void round_call_fail(RoundCall *c, int error, Ec2ErrorClass cls, const char *code, const char *message) {
        c->error = error < 0 ? error : -EIO;
        c->error_class = cls;
        free(c->code);
        free(c->message);
        c->code = strdup(code ?: "Error");
        c->message = message ? strdup(message) : NULL;
}

static void on_describe_done(int error, const Ec2Response *resp, void *userdata) {
        RoundCall *c = userdata;
        Round *r = c->round;
        int p = 0;

        c->call = NULL;
        if (error < 0)
                round_call_fail(c, error, resp->error_class, resp->error_code, resp->error_message);
        else {
                switch (c->kind) {
                case HA_DESCRIBE_ROUTE_TABLES:
                        p = ec2_parse_describe_route_tables(resp->body, resp->body_len, &r->route_tables);
                        break;
                case HA_DESCRIBE_ADDRESSES:
                        p = ec2_parse_describe_addresses(resp->body, resp->body_len, &r->addresses);
                        break;
                case HA_DESCRIBE_INTERFACE:
                        p = ec2_parse_describe_network_interfaces(resp->body, resp->body_len, &r->interface);
                        break;
                case HA_DESCRIBE_HOLDERS:
                        p = ec2_parse_describe_network_interfaces(resp->body, resp->body_len, &r->holders);
                        break;
                default:
                        p = -EINVAL;
                }
                if (p < 0)
                        round_call_fail(c, p, EC2_MALFORMED, "MalformedResponse",
                                        "the answer could not be read as the expected EC2 document");
        }
        if (--r->pending == 0)
                r->done(r, r->userdata);
}

/* Starts the describe calls the set needs (HOLDERS only when with_holders),
 * all at once. -ENODATA when the set needs none. Ownership: caller frees
 * *ret with round_free() (which cancels what is in flight); done runs once,
 * from the loop, and may free the round. */
static int round_start(Ec2Client *ec2, const HaTargetSet *s, bool with_holders, uint64_t deadline, RoundDoneFn done,
                       void *userdata, Round **ret) {
        _cleanup_(round_freep) Round *r = NULL;
        Ec2CallOptions opts = { .deadline = deadline };
        int q;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->done = done;
        r->userdata = userdata;
        for (HaDescribeKind k = 0; k < _HA_DESCRIBE_MAX; k++) {
                _cleanup_(ec2_query_freep) Ec2Query *query = NULL;

                r->calls[k] = (RoundCall) { .round = r, .kind = k };
                if (k == HA_DESCRIBE_HOLDERS && !with_holders)
                        continue;
                q = ha_describe_query(s, k, &query);
                if (q < 0)
                        return q;
                if (!query)
                        continue;
                q = ec2_call(ec2, query, &opts, on_describe_done, &r->calls[k], &r->calls[k].call);
                if (q < 0)
                        return q;
                r->pending++;
                r->made++;
        }
        if (r->made == 0)
                return -ENODATA;
        *ret = TAKE_PTR(r);
        return 0;
}

static HaDescribed round_described(const Round *r) {
        return (HaDescribed) {
                .route_tables = r->route_tables,
                .addresses = r->addresses,
                .interface = r->interface,
                .holders = r->holders,
        };
}

/* The describe a target's state comes from. */
static HaDescribeKind describe_kind_of(const HaTarget *t) {
        switch (t->kind) {
        case HA_TARGET_ROUTE:
                return HA_DESCRIBE_ROUTE_TABLES;
        case HA_TARGET_ELASTIC_IP:
                return HA_DESCRIBE_ADDRESSES;
        default:
                return HA_DESCRIBE_INTERFACE;
        }
}

static bool class_transient(Ec2ErrorClass cls) {
        return cls == EC2_THROTTLED || cls == EC2_SERVER || cls == EC2_NETWORK || cls == EC2_TIMEOUT ||
               cls == EC2_MALFORMED;
}

/* ------------------------------------------------------------------------
 * The pattern
 * ------------------------------------------------------------------------ */

struct HaPattern {
        Pattern pattern;
        Takeover *takeovers;
        StatusQuery *statuses;
        Round *warm;
        HaTargetSet *warm_set;
        uint64_t last_api_usec;         /* CLOCK_MONOTONIC of the last round of ours */
        unsigned takeovers_run;
        uint64_t last_takeover_at;      /* CLOCK_REALTIME usec */
        uint64_t last_takeover_elapsed;
        bool last_takeover_ok;
};

static Manager *ha_manager(HaPattern *ha) {
        return ha->pattern.manager;
}

static bool ha_policy_enabled(const Manager *m) {
        return m->policy && ((m->policy->routing_ha.enabled && m->policy->routing_ha.n_routes > 0) ||
                             (m->policy->floating_ip.enabled && m->policy->floating_ip.n_targets > 0));
}

/* ---- local addresses ---- */

typedef enum LocalResult {
        LOCAL_SKIPPED,
        LOCAL_ADDED,
        LOCAL_PRESENT,
        LOCAL_REMOVED,
        LOCAL_ABSENT,
        LOCAL_FAILED,
} LocalResult;

static const char *local_result_to_string(LocalResult r) {
        static const char *const names[] = {
                [LOCAL_SKIPPED] = "skipped", [LOCAL_ADDED] = "added", [LOCAL_PRESENT] = "present",
                [LOCAL_REMOVED] = "removed", [LOCAL_ABSENT] = "absent", [LOCAL_FAILED] = "failed",
        };
        return names[r];
}

typedef struct LocalStep {
        HaLocalAddress addr;
        char interface[IF_NAMESIZE];
        LocalResult result;
        int error;
        char *message;
} LocalStep;

static void local_steps_free(LocalStep *steps, size_t n) {
        for (size_t i = 0; steps && i < n; i++)
                free(steps[i].message);
        free(steps);
}

/* The interface an address goes on: vip_interface when set, else "lo" for
 * routing HA and the interface with our MAC for a secondary IP. */
static int local_interface(Manager *m, const HaLocalAddress *a, int *ret_ifindex, char name[IF_NAMESIZE],
                           char **ret_message) {
        const char *want = m->config->vip_interface ?: (a->on_primary ? NULL : "lo");
        int r;

        if (want) {
                (void) snprintf(name, IF_NAMESIZE, "%s", want);
                r = netlink_ifindex_by_name(want, ret_ifindex);
                if (r < 0 && asprintf(ret_message, "interface %s: %s", want, strerror(-r)) < 0)
                        *ret_message = NULL;
                return r;
        }
        (void) snprintf(name, IF_NAMESIZE, "%s", "?");
        r = netlink_ifindex_by_mac(m->aws->mac ?: "", ret_ifindex, name);
        if (r < 0 && asprintf(ret_message, "no local interface has this instance's MAC address %s (%s); set "
                              "vip_interface", strna(m->aws->mac), strerror(-r)) < 0)
                *ret_message = NULL;
        return r;
}

/* Adds (add) or removes the set's local addresses. Kernel calls only. */
static int local_apply(Manager *m, const HaTargetSet *s, bool add, LocalStep **ret, size_t *ret_n) {
        _cleanup_free_ HaLocalAddress *addrs = NULL;
        LocalStep *steps;
        size_t n = 0;
        int r;

        r = ha_local_addresses(s, &addrs, &n);
        if (r < 0)
                return r;
        steps = calloc(n + 1, sizeof(LocalStep));
        if (!steps)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                LocalStep *st = &steps[i];
                char text[INET_ADDRSTRLEN];
                const LogFields f = { .pattern = ha_target_pattern(&s->targets[addrs[i].target]),
                                      .action = add ? "add-address" : "remove-address",
                                      .resource = inet_ntop(AF_INET, &addrs[i].address, text, sizeof(text)) };
                int ifindex = 0;

                st->addr = addrs[i];
                r = local_interface(m, &st->addr, &ifindex, st->interface, &st->message);
                if (r >= 0)
                        r = add ? netlink_addr_add(ifindex, st->addr.address, st->addr.prefix)
                                : netlink_addr_del(ifindex, st->addr.address, st->addr.prefix);
                if (r < 0) {
                        st->result = LOCAL_FAILED;
                        st->error = r;
                        if (!st->message && asprintf(&st->message, "%s %s/%u on %s: %s", add ? "adding" : "removing",
                                                     text, st->addr.prefix, st->interface, strerror(-r)) < 0)
                                st->message = NULL;
                        log_full_fields(LOG_ERR, r, &f, "%s", st->message ?: "local address change failed");
                        continue;
                }
                st->result = add ? (r > 0 ? LOCAL_ADDED : LOCAL_PRESENT) : (r > 0 ? LOCAL_REMOVED : LOCAL_ABSENT);
                if (r > 0)
                        log_full_fields(LOG_INFO, 0, &f, "%s %s/%u %s %s", add ? "added" : "removed", text,
                                        st->addr.prefix, add ? "to" : "from", st->interface);
        }
        *ret = steps;
        *ret_n = n;
        return 0;
}

static struct json_object *local_steps_json(const LocalStep *steps, size_t n) {
        struct json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < n; i++) {
                struct json_object *o = json_object_new_object();
                char text[INET_ADDRSTRLEN + 4];

                (void) inet_ntop(AF_INET, &steps[i].addr.address, text, INET_ADDRSTRLEN);
                (void) snprintf(text + strlen(text), 4, "/%u", steps[i].addr.prefix);
                json_object_object_add(o, "address", json_object_new_string(text));
                json_object_object_add(o, "interface", json_object_new_string(steps[i].interface));
                json_object_object_add(o, "result", json_object_new_string(local_result_to_string(steps[i].result)));
                if (steps[i].message && steps[i].result == LOCAL_FAILED)
                        json_object_object_add(o, "error", json_object_new_string(steps[i].message));
                json_object_array_add(a, o);
        }
        return a;
}

/* ---- JSON of targets ---- */

static void json_add_str(struct json_object *o, const char *key, const char *value) {
        if (value)
                json_object_object_add(o, key, json_object_new_string(value));
}

static struct json_object *target_json(const HaTarget *t) {
        struct json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_add_str(o, "pattern", ha_target_pattern(t));
        json_add_str(o, "type", ha_target_type(t));
        switch (t->kind) {
        case HA_TARGET_SOURCE_DEST_CHECK:
                json_add_str(o, "interface", t->id);
                break;
        case HA_TARGET_ROUTE:
                json_add_str(o, "cidr", t->cidr);
                json_add_str(o, "route_table", t->id);
                break;
        case HA_TARGET_ELASTIC_IP:
                json_add_str(o, "allocation_id", t->id);
                break;
        case HA_TARGET_PRIVATE_IP:
                json_add_str(o, "address", t->id);
                break;
        }
        return o;
}

static struct json_object *error_json(const char *code, const char *message) {
        struct json_object *e = json_object_new_object();

        json_add_str(e, "code", code ?: "Error");
        json_add_str(e, "message", message ?: "");
        return e;
}

/* The policy errors of the selected, refused policies. */
static struct json_object *policy_errors_json(const Policy *p, const char *prefix, HaSelect invalid) {
        struct json_object *a = json_object_new_array();
        size_t plen = strlen(prefix);

        for (size_t i = 0; p && a && i < p->n_errors; i++) {
                const char *tag = p->errors[i].tag;

                if (!tag || strncmp(tag, prefix, plen) != 0)
                        continue;
                if (((invalid & HA_SELECT_ROUTING_HA) && strcmp(tag + plen, "routing-ha") == 0) ||
                    ((invalid & HA_SELECT_FLOATING_IP) && strcmp(tag + plen, "floating-ip") == 0))
                        json_object_array_add(a, json_object_new_string(p->errors[i].reason));
        }
        return a;
}

/* ------------------------------------------------------------------------
 * Takeover
 * ------------------------------------------------------------------------ */

typedef struct TargetResult {
        HaState state;                  /* last observed */
        HaState initial;
        char *where;                    /* last observed */
        char *initial_where;
        char *public_ip;
        const char *detail;             /* static */
        const char *action;             /* last write's EC2 action (static) */
        char *request_id;               /* of the last accepted write */
        char *error_code;               /* last error, cleared by a later success */
        char *error_message;
} TargetResult;

typedef struct WriteCall {
        Takeover *takeover;
        HaWrite write;
        bool switched;
        Ec2Call *call;
        struct WriteCall *next;
} WriteCall;

struct Takeover {
        HaPattern *ha;
        Takeover *next;
        CtlRequest **waiters;
        size_t n_waiters;
        HaSelect select;
        bool dry_run;
        uint64_t started;               /* CLOCK_MONOTONIC */
        uint64_t deadline;
        HaTargetSet *set;
        HaProgress *progress;
        HaObservation *obs;             /* of the last round; borrowed pointers cleared after it */
        HaWrite *plan;
        TargetResult *results;
        LocalStep *local;
        size_t n_local;
        Round *round;
        WriteCall *writes;
        unsigned inflight;
        bool round_had_retry;
        bool describe_again;            /* a write finished while a describe was out */
        uint64_t writes_started;        /* CLOCK_MONOTONIC of the current write round */
        unsigned backoff_step;
        unsigned describe_rounds, write_rounds, calls, write_calls;
        sd_event_source *timer;         /* backoff before the next describe */
        sd_event_source *straggler;     /* verify what was accepted while a write lags */
        sd_event_source *deadline_timer;
        struct json_object *policy_errors;
};

static void takeover_start_round(Takeover *t);

static void target_result_done(TargetResult *r) {
        free(r->where);
        free(r->initial_where);
        free(r->public_ip);
        free(r->request_id);
        free(r->error_code);
        free(r->error_message);
}

static void replace_str(char **p, const char *value) {
        free(*p);
        *p = value ? strdup(value) : NULL;
}

static Takeover *takeover_free(Takeover *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Takeover *, takeover_free);

static Takeover *takeover_free(Takeover *t) {
        if (!t)
                return NULL;
        round_free(t->round);
        while (t->writes) {
                WriteCall *w = t->writes;
                t->writes = w->next;
                ec2_call_cancel(w->call);
                free(w);
        }
        sd_event_source_disable_unref(t->timer);
        sd_event_source_disable_unref(t->straggler);
        sd_event_source_disable_unref(t->deadline_timer);
        for (size_t i = 0; t->results && t->set && i < t->set->n_targets; i++)
                target_result_done(&t->results[i]);
        free(t->results);
        free(t->progress);
        free(t->obs);
        free(t->plan);
        local_steps_free(t->local, t->n_local);
        ha_target_set_free(t->set);
        if (t->policy_errors)
                json_object_put(t->policy_errors);
        free(t->waiters);
        free(t);
        return NULL;
}

static void takeover_unlink(Takeover *t) {
        for (Takeover **i = &t->ha->takeovers; *i; i = &(*i)->next)
                if (*i == t) {
                        *i = t->next;
                        return;
                }
}

static void reply_all(Takeover *t, bool ok, const char *code, const char *message, struct json_object *result) {
        for (size_t i = 0; i < t->n_waiters; i++) {
                struct json_object *r = i + 1 < t->n_waiters ? json_object_get(result) : result;

                if (ok)
                        ctl_reply_ok(t->waiters[i], r);
                else
                        ctl_reply_error_with(t->waiters[i], 1, code, message, r);
        }
        if (t->n_waiters == 0 && result)
                json_object_put(result);
        t->n_waiters = 0;
}

static const char *target_outcome(const Takeover *t, size_t i) {
        const HaProgress *p = &t->progress[i];

        if (t->dry_run)
                return t->results[i].state == HA_STATE_HERE ? "already-here"
                       : t->results[i].state == HA_STATE_UNKNOWN ? "unknown" : "would-move";
        if (p->phase == HA_PHASE_DONE)
                return p->changed ? "moved" : "already-here";
        return "failed";
}

static struct json_object *takeover_json(Takeover *t, unsigned *ret_moved, unsigned *ret_here, unsigned *ret_failed) {
        struct json_object *o = json_object_new_object(), *targets = json_object_new_array(), *api;
        unsigned moved = 0, here = 0, failed = 0;

        for (size_t i = 0; i < t->set->n_targets; i++) {
                const TargetResult *r = &t->results[i];
                struct json_object *j = target_json(&t->set->targets[i]);
                const char *outcome = target_outcome(t, i);

                json_add_str(j, "state", ha_state_to_string(r->state));
                json_add_str(j, "result", outcome);
                if (r->initial_where && r->initial != HA_STATE_HERE)
                        json_add_str(j, "previous", r->initial_where);
                if (r->state != HA_STATE_HERE) {
                        json_add_str(j, "where", r->where);
                        json_add_str(j, "detail", r->detail);
                }
                json_add_str(j, "public_ip", r->public_ip);
                json_add_str(j, "action", r->action);
                json_add_str(j, "request_id", r->request_id);
                if (strcmp(outcome, "failed") == 0 && r->error_code)
                        json_object_object_add(j, "error", error_json(r->error_code, r->error_message));
                json_object_array_add(targets, j);

                if (strcmp(outcome, "moved") == 0)
                        moved++;
                else if (strcmp(outcome, "already-here") == 0)
                        here++;
                else if (strcmp(outcome, "failed") == 0 || strcmp(outcome, "unknown") == 0)
                        failed++;
        }

        json_add_str(o, "pattern", ha_select_to_string(t->select));
        json_object_object_add(o, "dry_run", json_object_new_boolean(t->dry_run));
        json_add_str(o, "instance_id", t->set->instance_id);
        json_add_str(o, "interface", t->set->interface_id);
        json_object_object_add(o, "elapsed_ms", json_object_new_int64((int64_t) ((now_mono() - t->started) / 1000)));
        json_object_object_add(o, "moved", json_object_new_int((int) moved));
        json_object_object_add(o, "already_here", json_object_new_int((int) here));
        json_object_object_add(o, "failed", json_object_new_int((int) failed));
        api = json_object_new_object();
        json_object_object_add(api, "describe_rounds", json_object_new_int((int) t->describe_rounds));
        json_object_object_add(api, "write_rounds", json_object_new_int((int) t->write_rounds));
        json_object_object_add(api, "calls", json_object_new_int((int) t->calls));
        json_object_object_add(api, "writes", json_object_new_int((int) t->write_calls));
        json_object_object_add(o, "api", api);
        json_object_object_add(o, "targets", targets);
        if (t->local)
                json_object_object_add(o, "local", local_steps_json(t->local, t->n_local));
        if (t->policy_errors)
                json_object_object_add(o, "policy_errors", json_object_get(t->policy_errors));
        *ret_moved = moved;
        *ret_here = here;
        *ret_failed = failed;
        return o;
}

/* Answers every waiter and frees the takeover. */
static void takeover_finish(Takeover *t) {
        HaPattern *ha = t->ha;
        const LogFields f = { .pattern = t->select == HA_SELECT_BOTH ? "ha" : ha_select_to_string(t->select),
                              .action = t->dry_run ? "takeover-dry-run" : "takeover" };
        _cleanup_free_ char *message = NULL;
        _cleanup_strbuf_ StrBuf why = STRBUF_INIT(16 * 1024);
        struct json_object *result;
        const char *code = NULL;
        unsigned moved, here, failed, local_failed = 0;
        uint64_t elapsed;
        bool ok;

        takeover_unlink(t);
        t->round = round_free(t->round);
        t->timer = sd_event_source_disable_unref(t->timer);
        t->straggler = sd_event_source_disable_unref(t->straggler);
        t->deadline_timer = sd_event_source_disable_unref(t->deadline_timer);
        while (t->writes) {
                WriteCall *w = t->writes;
                t->writes = w->next;
                ec2_call_cancel(w->call);
                free(w);
        }

        /* What is still open at the deadline failed, with its last error. */
        for (size_t i = 0; !t->dry_run && i < t->set->n_targets; i++) {
                TargetResult *r = &t->results[i];
                HaProgress *p = &t->progress[i];

                if (p->phase == HA_PHASE_DONE || p->phase == HA_PHASE_FAILED)
                        continue;
                if (!r->error_code) {
                        replace_str(&r->error_code, "Timeout");
                        replace_str(&r->error_message,
                                    p->phase == HA_PHASE_WRITTEN
                                            ? "AWS accepted the change but did not show it within the deadline"
                                    : p->phase == HA_PHASE_WRITING ? "AWS did not answer the change within the deadline"
                                    : r->state == HA_STATE_UNKNOWN ? "the API did not answer within the deadline"
                                                                   : "not moved within the deadline");
                } else {
                        _cleanup_free_ char *m = NULL;
                        if (asprintf(&m, "%s (still failing at the deadline)", strna(r->error_message)) >= 0)
                                replace_str(&r->error_message, m);
                }
                p->phase = HA_PHASE_FAILED;
        }

        result = takeover_json(t, &moved, &here, &failed);
        for (size_t i = 0; i < t->n_local; i++)
                local_failed += t->local[i].result == LOCAL_FAILED;

        /* One sentence naming every failure, AWS code and message included. */
        for (size_t i = 0; i < t->set->n_targets; i++) {
                const TargetResult *r = &t->results[i];
                char name[HA_TARGET_NAME_MAX];

                if (t->dry_run ? r->state != HA_STATE_UNKNOWN : t->progress[i].phase != HA_PHASE_FAILED)
                        continue;
                ha_target_name(&t->set->targets[i], name, sizeof(name));
                (void) strbuf_printf(&why, "%s%s: %s: %s", why.len ? "; " : "", name, strna(r->error_code),
                                     strna(r->error_message));
                code = !code || strcmp(code, strna(r->error_code)) == 0 ? strna(r->error_code) : "TakeoverIncomplete";
        }
        for (size_t i = 0; i < t->n_local; i++)
                if (t->local[i].result == LOCAL_FAILED) {
                        (void) strbuf_printf(&why, "%slocal address: %s", why.len ? "; " : "",
                                             strna(t->local[i].message));
                        code = code ? "TakeoverIncomplete" : "LocalAddressFailed";
                }
        if (t->set->invalid) {
                (void) strbuf_printf(&why, "%sthe %s tag is invalid (see policy_errors)", why.len ? "; " : "",
                                     t->set->invalid == HA_SELECT_BOTH ? "cdp:floating-ip and cdp:routing-ha"
                                     : t->set->invalid == HA_SELECT_ROUTING_HA ? "routing-ha" : "floating-ip");
                code = code ? "TakeoverIncomplete" : "InvalidPolicy";
        }
        ok = failed == 0 && local_failed == 0 && !t->set->invalid;
        elapsed = now_mono() - t->started;
        if (!ok && asprintf(&message, "%u of %zu targets %s: %s", failed, t->set->n_targets,
                            t->dry_run ? "could not be checked" : "not moved here", why.data ?: "") < 0)
                message = NULL;

        if (t->dry_run)
                log_full_fields(LOG_INFO, 0, &f, "takeover dry run: %zu targets, %u already here%s%s",
                                t->set->n_targets, here, ok ? "" : "; ", ok ? "" : strna(message));
        else if (ok)
                log_full_fields(LOG_NOTICE, 0, &f, "takeover done in %llu ms: %u moved, %u already here",
                                (unsigned long long) (elapsed / 1000), moved, here);
        else
                log_full_fields(LOG_ERR, 0, &f, "takeover failed after %llu ms: %s",
                                (unsigned long long) (elapsed / 1000), strna(message));

        if (!t->dry_run) {
                ha->takeovers_run++;
                ha->last_takeover_at = clock_now(clock_real(), CLOCK_REALTIME);
                ha->last_takeover_elapsed = elapsed;
                ha->last_takeover_ok = ok;
        }
        reply_all(t, ok, code ?: "TakeoverFailed", message ?: "takeover failed", result);
        takeover_free(t);
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        takeover_finish(userdata);
        return 0;
}

static int on_backoff(sd_event_source *s, uint64_t usec, void *userdata) {
        Takeover *t = userdata;

        (void) usec;
        t->timer = sd_event_source_disable_unref(s);
        takeover_start_round(t);
        return 0;
}

/* The next describe after a backoff: 20 ms doubling to 1 s; near the
 * deadline, half the time left, so one last look still fits. */
static void takeover_round_later(Takeover *t) {
        uint64_t delay = HA_BACKOFF_MIN_USEC << MIN(t->backoff_step, 10u), now = now_mono();
        int r;

        if (t->timer || t->round)
                return;         /* a describe is coming anyway */
        t->backoff_step++;
        if (delay > HA_BACKOFF_MAX_USEC)
                delay = HA_BACKOFF_MAX_USEC;
        if (now + 2 * delay >= t->deadline)
                delay = t->deadline > now ? (t->deadline - now) / 2 : 0;
        if (delay < HA_BACKOFF_MIN_USEC / 4) {
                takeover_finish(t);
                return;
        }
        r = sd_event_add_time(ha_manager(t->ha)->event, &t->timer, CLOCK_MONOTONIC, now + delay, 1000, on_backoff, t);
        if (r < 0) {
                log_error_errno(r, "cannot schedule the next describe of the takeover");
                takeover_finish(t);
        }
}

/* Verify now: a describe round, at once unless AWS pushed back on the last
 * writes; after the running one when a describe is already out (its answer
 * may predate the write). */
static void takeover_verify(Takeover *t) {
        if (t->round) {
                t->describe_again = true;
                return;
        }
        t->timer = sd_event_source_disable_unref(t->timer);
        if (t->round_had_retry) {
                t->round_had_retry = false;
                takeover_round_later(t);
        } else
                takeover_start_round(t);
}

static int on_straggler(sd_event_source *s, uint64_t usec, void *userdata) {
        Takeover *t = userdata;

        (void) usec;
        t->straggler = sd_event_source_disable_unref(s);
        takeover_verify(t);
        return 0;
}

static bool some_written(const Takeover *t) {
        for (size_t i = 0; i < t->set->n_targets; i++)
                if (t->progress[i].phase == HA_PHASE_WRITTEN)
                        return true;
        return false;
}

static void target_set_error(TargetResult *r, const char *code, const char *message) {
        replace_str(&r->error_code, code ?: "Error");
        replace_str(&r->error_message, message);
}

static void takeover_write(Takeover *t, const HaWrite *w, bool switched);

static void on_write_done(int error, const Ec2Response *resp, void *userdata) {
        WriteCall *wc = userdata;
        Takeover *t = wc->takeover;
        HaWrite w = wc->write, next = {};
        bool switched = wc->switched;
        HaOutcome o;

        wc->call = NULL;
        for (WriteCall **i = &t->writes; *i; i = &(*i)->next)
                if (*i == wc) {
                        *i = wc->next;
                        break;
                }
        free(wc);
        t->inflight--;

        o = ha_write_outcome(&w, error, resp->error_class, resp->error_code, switched);
        ha_progress_apply(&w, o, t->progress, now_mono(), &next);
        for (size_t i = 0; i < w.n_targets; i++) {
                size_t k = w.targets[i];
                const HaTarget *tg = &t->set->targets[k];
                TargetResult *r = &t->results[k];
                char name[HA_TARGET_NAME_MAX];
                const LogFields f = { .pattern = ha_target_pattern(tg), .action = ha_write_action(w.kind),
                                      .resource = tg->id, .request_id = resp->request_id };

                r->action = ha_write_action(w.kind);
                ha_target_name(tg, name, sizeof(name));
                switch (o) {
                case HA_OUTCOME_ACCEPTED:
                        replace_str(&r->request_id, resp->request_id);
                        r->error_code = mfree(r->error_code);
                        r->error_message = mfree(r->error_message);
                        if (tg->kind == HA_TARGET_SOURCE_DEST_CHECK)
                                log_full_fields(LOG_INFO, 0, &f, "%s: turned off (%s)", name, ha_write_action(w.kind));
                        else
                                log_full_fields(LOG_INFO, 0, &f, "%s: %s to %s%s%s", name, ha_write_action(w.kind),
                                                t->set->interface_id, r->initial_where ? ", was at " : "",
                                                r->initial_where ?: "");
                        break;
                case HA_OUTCOME_SWITCH:
                        log_full_fields(LOG_INFO, 0, &f, "%s: %s answered %s, trying %s", name,
                                        ha_write_action(w.kind), strna(resp->error_code), ha_write_action(next.kind));
                        break;
                case HA_OUTCOME_RETRY:
                case HA_OUTCOME_SPLIT:
                        target_set_error(r, resp->error_code, resp->error_message);
                        log_full_fields(LOG_WARNING, 0, &f, "%s: %s failed (%s: %s), trying again", name,
                                        ha_write_action(w.kind), strna(resp->error_code), strna(resp->error_message));
                        break;
                case HA_OUTCOME_FAILED:
                        target_set_error(r, resp->error_code, resp->error_message);
                        log_full_fields(LOG_ERR, 0, &f, "%s: %s failed: %s: %s", name, ha_write_action(w.kind),
                                        strna(resp->error_code), strna(resp->error_message));
                        break;
                }
        }
        if (o == HA_OUTCOME_RETRY)
                t->round_had_retry = true;
        if (o == HA_OUTCOME_SWITCH)
                takeover_write(t, &next, true);

        if (t->inflight > 0) {
                /* One slow write must not keep the others unverified: look
                 * at what was accepted once the laggard takes twice as long
                 * as the round so far (at least 100 ms). */
                if (!t->straggler && !t->round && !t->timer && some_written(t)) {
                        uint64_t now = now_mono(), wait = MAX(100 * USEC_PER_MSEC, now - t->writes_started);

                        if (sd_event_add_time(ha_manager(t->ha)->event, &t->straggler, CLOCK_MONOTONIC, now + wait,
                                              1000, on_straggler, t) < 0)
                                t->straggler = NULL;
                }
                return;
        }
        /* Every write answered: verify. */
        t->straggler = sd_event_source_disable_unref(t->straggler);
        takeover_verify(t);
}

static void takeover_write(Takeover *t, const HaWrite *w, bool switched) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        Ec2CallOptions opts = { .deadline = t->deadline };
        WriteCall *wc;
        int r;

        r = ha_write_query(t->set, w, &q);
        wc = r >= 0 ? calloc(1, sizeof(*wc)) : NULL;
        if (wc) {
                *wc = (WriteCall) { .takeover = t, .write = *w, .switched = switched };
                r = ec2_call(ha_manager(t->ha)->aws->ec2, q, &opts, on_write_done, wc, &wc->call);
        } else if (r >= 0)
                r = -ENOMEM;
        if (r < 0) {
                free(wc);
                ha_progress_apply(w, HA_OUTCOME_FAILED, t->progress, now_mono(), NULL);
                for (size_t i = 0; i < w->n_targets; i++)
                        target_set_error(&t->results[w->targets[i]], "LocalError", strerror(-r));
                log_error_errno(r, "cannot start %s", ha_write_action(w->kind));
                return;
        }
        wc->next = t->writes;
        t->writes = wc;
        t->inflight++;
        t->calls++;
        t->write_calls++;
}

/* Observations of a round into the results; permanent describe failures
 * fail their targets (they would never be written blind anyway). */
static void takeover_observe(Takeover *t, const Round *rd) {
        HaDescribed d = round_described(rd);

        for (size_t i = 0; i < t->set->n_targets; i++) {
                const HaTarget *tg = &t->set->targets[i];
                const RoundCall *c = &rd->calls[describe_kind_of(tg)];
                TargetResult *r = &t->results[i];
                HaObservation *o = &t->obs[i];
                HaProgress *p = &t->progress[i];

                ha_observe(t->set, i, &d, o);
                r->state = o->state;
                r->detail = o->detail;
                if (o->state != HA_STATE_UNKNOWN) {
                        replace_str(&r->where, o->where);
                        if (o->public_ip)
                                replace_str(&r->public_ip, o->public_ip);
                        if (!p->seen) {
                                r->initial = o->state;
                                replace_str(&r->initial_where, o->where);
                        }
                } else if (c->error < 0 && p->phase != HA_PHASE_DONE && p->phase != HA_PHASE_FAILED) {
                        target_set_error(r, c->code, c->message);
                        if (!class_transient(c->error_class) && !t->dry_run) {
                                char name[HA_TARGET_NAME_MAX];
                                const LogFields f = { .pattern = ha_target_pattern(tg), .resource = tg->id,
                                                      .action = "describe" };

                                p->phase = HA_PHASE_FAILED;
                                ha_target_name(tg, name, sizeof(name));
                                log_full_fields(LOG_ERR, 0, &f, "%s: cannot check it before changing it: %s: %s",
                                                name, strna(c->code), strna(c->message));
                        }
                }
        }
}

static void on_takeover_round(Round *rd, void *userdata) {
        Takeover *t = userdata;
        size_t n = 0;

        t->round = NULL;
        t->describe_rounds++;
        t->ha->last_api_usec = now_mono();
        takeover_observe(t, rd);

        if (t->dry_run) {
                HaProgress *scratch = calloc(t->set->n_targets, sizeof(HaProgress));

                /* The same decision code, writes left unmade. */
                if (scratch) {
                        ha_plan_round(t->set, t->obs, scratch, now_mono(), t->plan, &n);
                        for (size_t i = 0; i < n; i++)
                                for (size_t k = 0; k < t->plan[i].n_targets; k++)
                                        t->results[t->plan[i].targets[k]].action = ha_write_action(t->plan[i].kind);
                        free(scratch);
                }
                round_free(rd);
                takeover_finish(t);
                return;
        }

        ha_plan_round(t->set, t->obs, t->progress, now_mono(), t->plan, &n);
        round_free(rd);
        memset(t->obs, 0, t->set->n_targets * sizeof(HaObservation));

        if (ha_progress_finished(t->progress, t->set->n_targets)) {
                takeover_finish(t);
                return;
        }
        if (n > 0) {
                if (t->inflight == 0)
                        t->writes_started = now_mono();
                t->write_rounds++;
                t->backoff_step = 0;
                for (size_t i = 0; i < n; i++)
                        takeover_write(t, &t->plan[i], false);
        }
        if (t->describe_again) {
                t->describe_again = false;
                takeover_start_round(t);
                return;
        }
        /* Writes out: their answers lead to the next describe. Otherwise
         * AWS has not caught up yet or a describe failed: look again
         * shortly. Only writes in flight and nothing else to look at: wait
         * for them. */
        if (t->inflight == 0 || (n == 0 && ha_progress_waiting(t->progress, t->set->n_targets)))
                takeover_round_later(t);
}

static void takeover_start_round(Takeover *t) {
        int r;

        if (t->round) {
                t->describe_again = true;
                return;
        }
        r = round_start(ha_manager(t->ha)->aws->ec2, t->set, false, t->deadline, on_takeover_round, t, &t->round);
        if (r < 0) {
                log_error_errno(r, "cannot start the takeover's describe calls");
                takeover_finish(t);
                return;
        }
        t->calls += t->round->made;
}

/* ---- argument parsing shared by takeover and release ---- */

static int parse_args(CtlRequest *req, struct json_object *args, bool with_takeover, HaSelect *ret_select,
                      bool *ret_dry_run, int64_t *ret_timeout_ms) {
        const char *pattern = NULL;
        bool dry_run = false;
        int64_t timeout_ms = 0;

        json_object_object_foreach(args, key, value) {
                if (strcmp(key, "pattern") == 0) {
                        if (value && !json_object_is_type(value, json_type_string))
                                goto bad;
                        pattern = value ? json_object_get_string(value) : NULL;
                } else if (with_takeover && strcmp(key, "dry_run") == 0) {
                        if (!json_object_is_type(value, json_type_boolean))
                                goto bad;
                        dry_run = json_object_get_boolean(value);
                } else if (with_takeover && strcmp(key, "timeout_ms") == 0) {
                        if (!value)
                                continue;
                        if (!json_object_is_type(value, json_type_int))
                                goto bad;
                        timeout_ms = json_object_get_int64(value);
                        if (timeout_ms <= 0 || timeout_ms > HA_TIMEOUT_MAX_MS)
                                goto bad;
                } else
                        goto bad;
        }
        if (ha_select_from_string(pattern, ret_select) < 0)
                goto bad;
        if (ret_dry_run)
                *ret_dry_run = dry_run;
        if (ret_timeout_ms)
                *ret_timeout_ms = timeout_ms;
        return 0;
bad:
        ctl_reply_error(req, 2, "BadRequest",
                        with_takeover ? "takeover takes {\"pattern\": \"floating-ip\"|\"routing-ha\"|null, "
                                        "\"dry_run\": bool, \"timeout_ms\": 1..3600000}"
                                      : "release takes {\"pattern\": \"floating-ip\"|\"routing-ha\"|null}");
        return -EINVAL;
}

/* The targets of the selection, or a reply saying why there are none
 * (unless allow_empty: an empty set is returned then). */
static int selected_targets(HaPattern *ha, CtlRequest *req, HaSelect select, bool allow_empty, HaTargetSet **ret) {
        Manager *m = ha_manager(ha);
        _cleanup_(ha_target_set_freep) HaTargetSet *s = NULL;
        _cleanup_free_ char *msg = NULL;
        int r;

        if (!m->policy) {
                ctl_reply_error(req, 1, "NotReady", "the tags have not been read yet");
                return -EAGAIN;
        }
        r = ha_target_set_new(m->policy, select, m->aws->network_interface_id, m->aws->instance_id, &s);
        if (r < 0)
                return r;
        if (s->n_targets == 0 && !allow_empty) {
                struct json_object *o = json_object_new_object();

                json_object_object_add(o, "policy_errors",
                                       policy_errors_json(m->policy, m->config->tag_prefix, s->invalid));
                if (asprintf(&msg, "%s on instance %s",
                             s->invalid                       ? "the HA tags are invalid (see policy_errors)"
                             : select == HA_SELECT_ROUTING_HA  ? "no cdp:routing-ha tag"
                             : select == HA_SELECT_FLOATING_IP ? "no cdp:floating-ip tag"
                                                               : "no cdp:floating-ip or cdp:routing-ha tag",
                             m->aws->instance_id) < 0)
                        msg = NULL;
                ctl_reply_error_with(req, 1, s->invalid ? "InvalidPolicy" : "NoTargets", msg ?: "nothing to do", o);
                return -ENOENT;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

static int ha_takeover(void *userdata, CtlRequest *req, struct json_object *args) {
        HaPattern *ha = userdata;
        Manager *m = ha_manager(ha);
        _cleanup_(takeover_freep) Takeover *t = NULL;
        HaTargetSet *set = NULL;
        HaSelect select;
        bool dry_run;
        int64_t timeout_ms;
        uint64_t timeout;
        size_t n;
        int r;

        if (parse_args(req, args, true, &select, &dry_run, &timeout_ms) < 0)
                return 0;
        r = selected_targets(ha, req, select, false, &set);
        if (r == -EAGAIN || r == -ENOENT)
                return 0;
        if (r < 0)
                return r;

        /* keepalived may call twice in a row: join a running takeover of the
         * same targets rather than doing everything twice. */
        for (Takeover *i = ha->takeovers; !dry_run && i; i = i->next) {
                CtlRequest **w;

                if (i->dry_run || i->select != select)
                        continue;
                w = realloc(i->waiters, (i->n_waiters + 1) * sizeof(*w));
                if (!w) {
                        ha_target_set_free(set);
                        return -ENOMEM;
                }
                i->waiters = w;
                i->waiters[i->n_waiters++] = req;
                ha_target_set_free(set);
                return 0;
        }

        t = calloc(1, sizeof(*t));
        if (!t) {
                ha_target_set_free(set);
                return -ENOMEM;
        }
        t->ha = ha;
        t->set = set;
        n = set->n_targets;
        t->select = select;
        t->dry_run = dry_run;
        t->started = now_mono();
        timeout = timeout_ms > 0 ? (uint64_t) timeout_ms * USEC_PER_MSEC : m->config->takeover_timeout_usec;
        t->deadline = t->started + timeout;
        t->progress = calloc(n, sizeof(HaProgress));
        t->obs = calloc(n, sizeof(HaObservation));
        t->plan = calloc(n, sizeof(HaWrite));
        t->results = calloc(n, sizeof(TargetResult));
        t->waiters = calloc(1, sizeof(CtlRequest *));
        if (!t->progress || !t->obs || !t->plan || !t->results || !t->waiters)
                return -ENOMEM;
        if (set->invalid)
                t->policy_errors = policy_errors_json(m->policy, m->config->tag_prefix, set->invalid);

        r = sd_event_add_time(m->event, &t->deadline_timer, CLOCK_MONOTONIC, t->deadline, 1000, on_deadline, t);
        if (r < 0)
                return r;

        /* SPEC 6 order: the local address first, then AWS, then verify. */
        if (m->config->manage_local_vip && !dry_run) {
                r = local_apply(m, set, true, &t->local, &t->n_local);
                if (r < 0)
                        return r;
        }

        r = round_start(m->aws->ec2, set, false, t->deadline, on_takeover_round, t, &t->round);
        if (r < 0)
                return r;
        t->calls += t->round->made;
        t->waiters[t->n_waiters++] = req;
        t->next = ha->takeovers;
        ha->takeovers = TAKE_PTR(t);
        return 0;
}

/* ------------------------------------------------------------------------
 * Release: local addresses only; AWS is left to the next takeover
 * ------------------------------------------------------------------------ */

static int ha_release(void *userdata, CtlRequest *req, struct json_object *args) {
        HaPattern *ha = userdata;
        Manager *m = ha_manager(ha);
        _cleanup_(ha_target_set_freep) HaTargetSet *set = NULL;
        LocalStep *steps = NULL;
        struct json_object *o;
        unsigned cancelled = 0;
        size_t n = 0;
        bool failed = false;
        HaSelect select;
        int r;

        if (parse_args(req, args, false, &select, NULL, NULL) < 0)
                return 0;
        /* Nothing configured is nothing to release: keepalived's BACKUP
         * notify must not fail on a node without HA tags. */
        r = selected_targets(ha, req, select, true, &set);
        if (r == -EAGAIN || r == -ENOENT)
                return 0;
        if (r < 0)
                return r;

        /* The cluster manager says this node is no longer master: a takeover
         * still running must not pull the addresses back here afterwards. */
        for (Takeover *t = ha->takeovers, *next; t; t = next) {
                next = t->next;
                if (t->dry_run || !(t->select & select))
                        continue;
                takeover_unlink(t);
                reply_all(t, false, "Cancelled", "cdpctl release ran while this takeover was running", NULL);
                takeover_free(t);
                cancelled++;
        }

        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        json_add_str(o, "pattern", ha_select_to_string(select));
        json_object_object_add(o, "manage_local_vip", json_object_new_boolean(m->config->manage_local_vip));
        if (m->config->manage_local_vip) {
                r = local_apply(m, set, false, &steps, &n);
                if (r < 0) {
                        json_object_put(o);
                        return r;
                }
                for (size_t i = 0; i < n; i++)
                        failed = failed || steps[i].result == LOCAL_FAILED;
                json_object_object_add(o, "local", local_steps_json(steps, n));
                local_steps_free(steps, n);
        } else
                json_object_object_add(o, "local", json_object_new_array());
        json_object_object_add(o, "cancelled_takeovers", json_object_new_int((int) cancelled));
        json_add_str(o, "note", "release never changes AWS: the next takeover moves the targets");
        if (failed)
                ctl_reply_error_with(req, 1, "LocalAddressFailed", "a local address could not be removed", o);
        else
                ctl_reply_ok(req, o);
        return 0;
}

/* ------------------------------------------------------------------------
 * Status: a fresh describe, never a write
 * ------------------------------------------------------------------------ */

struct StatusQuery {
        HaPattern *ha;
        StatusQuery *next;
        StatusRequest *sr;
        HaTargetSet *set;
        Round *round;
        struct json_object *section;
};

static StatusQuery *status_query_free(StatusQuery *q) {
        if (!q)
                return NULL;
        round_free(q->round);
        ha_target_set_free(q->set);
        if (q->section)
                json_object_put(q->section);
        free(q);
        return NULL;
}

static void status_query_unlink(StatusQuery *q) {
        for (StatusQuery **i = &q->ha->statuses; *i; i = &(*i)->next)
                if (*i == q) {
                        *i = q->next;
                        return;
                }
}

/* The same word for the whole and both parts (nothing described). */
static void status_states(struct json_object *o, const char *word) {
        json_add_str(o, "takeover_state", word);
        json_add_str(o, "routing_ha_state", word);
        json_add_str(o, "floating_ip_state", word);
}

static void status_add_common(HaPattern *ha, struct json_object *o) {
        Manager *m = ha_manager(ha);
        struct json_object *tk = json_object_new_object();
        char buf[RFC3339_UTC_STRING_MAX];

        json_add_str(o, "interface", m->aws->network_interface_id);
        json_object_object_add(tk, "running", json_object_new_boolean(ha->takeovers != NULL));
        json_object_object_add(tk, "count", json_object_new_int((int) ha->takeovers_run));
        if (ha->takeovers_run > 0) {
                json_object_object_add(tk, "last_ok", json_object_new_boolean(ha->last_takeover_ok));
                if (format_rfc3339_utc((time_t) (ha->last_takeover_at / USEC_PER_SEC), buf) >= 0)
                        json_add_str(tk, "last_at", buf);
                json_object_object_add(tk, "last_elapsed_ms",
                                       json_object_new_int64((int64_t) (ha->last_takeover_elapsed / 1000)));
        }
        json_object_object_add(o, "takeover", tk);
}

static void on_status_round(Round *rd, void *userdata) {
        StatusQuery *q = userdata;
        HaPattern *ha = q->ha;
        Manager *m = ha_manager(ha);
        HaDescribed d = round_described(rd);
        _cleanup_free_ HaObservation *obs = NULL;
        struct json_object *targets = json_object_new_array();
        size_t n = q->set->n_targets;

        q->round = NULL;
        ha->last_api_usec = now_mono();
        obs = calloc(n + 1, sizeof(HaObservation));
        for (size_t i = 0; obs && i < n; i++) {
                const HaTarget *tg = &q->set->targets[i];
                const RoundCall *c = &rd->calls[describe_kind_of(tg)];
                struct json_object *j = target_json(tg);

                ha_observe(q->set, i, &d, &obs[i]);
                json_add_str(j, "state", ha_state_to_string(obs[i].state));
                if (obs[i].state != HA_STATE_HERE) {
                        json_add_str(j, "where", obs[i].where);
                        json_add_str(j, "detail", obs[i].detail);
                }
                json_add_str(j, "public_ip", obs[i].public_ip);
                if (obs[i].state == HA_STATE_UNKNOWN && c->error < 0)
                        json_object_object_add(j, "error", error_json(c->code, c->message));
                json_object_array_add(targets, j);
        }
        /* For monitors: one word each, the routing and floating parts too. */
        json_add_str(q->section, "takeover_state",
                     obs ? ha_summary_to_string(ha_summary(q->set, obs, HA_SELECT_BOTH)) : "unknown");
        json_add_str(q->section, "routing_ha_state",
                     obs ? ha_summary_to_string(ha_summary(q->set, obs, HA_SELECT_ROUTING_HA)) : "unknown");
        json_add_str(q->section, "floating_ip_state",
                     obs ? ha_summary_to_string(ha_summary(q->set, obs, HA_SELECT_FLOATING_IP)) : "unknown");
        json_object_object_add(q->section, "targets", targets);

        if (m->config->manage_local_vip) {
                _cleanup_free_ HaLocalAddress *addrs = NULL;
                struct json_object *local = json_object_new_array();
                size_t nl = 0;

                if (ha_local_addresses(q->set, &addrs, &nl) >= 0)
                        for (size_t i = 0; i < nl; i++) {
                                struct json_object *j = json_object_new_object();
                                char text[INET_ADDRSTRLEN], ifname[IF_NAMESIZE] = "";
                                _cleanup_free_ char *err = NULL;
                                int ifindex = 0, r;
                                bool present = false;

                                r = local_interface(m, &addrs[i], &ifindex, ifname, &err);
                                if (r >= 0)
                                        r = netlink_addr_has(ifindex, addrs[i].address, addrs[i].prefix, &present);
                                json_add_str(j, "address", inet_ntop(AF_INET, &addrs[i].address, text, sizeof(text)));
                                json_add_str(j, "interface", ifname);
                                json_object_object_add(j, "present", json_object_new_boolean(present));
                                if (r < 0)
                                        json_add_str(j, "error", err ?: strerror(-r));
                                json_object_array_add(local, j);
                        }
                json_object_object_add(q->section, "local", local);
        }

        round_free(rd);
        status_query_unlink(q);
        status_request_done(q->sr, TAKE_PTR(q->section));
        status_query_free(q);
}

static void ha_status(Pattern *p, StatusRequest *sr) {
        HaPattern *ha = (HaPattern *) p;
        Manager *m = ha_manager(ha);
        _cleanup_(ha_target_set_freep) HaTargetSet *set = NULL;
        StatusQuery *q;
        struct json_object *o = json_object_new_object();
        int r;

        if (!o) {
                status_request_done(sr, NULL);
                return;
        }
        status_add_common(ha, o);
        if (m->policy) {
                r = ha_target_set_new(m->policy, HA_SELECT_BOTH, m->aws->network_interface_id, m->aws->instance_id,
                                      &set);
                if (r < 0) {
                        status_states(o, "unknown");
                        status_request_done(sr, o);
                        return;
                }
                if (set->invalid)
                        json_object_object_add(o, "policy_errors",
                                               policy_errors_json(m->policy, m->config->tag_prefix, set->invalid));
        }
        if (!set || set->n_targets == 0) {
                status_states(o, "none");
                json_object_object_add(o, "targets", json_object_new_array());
                status_request_done(sr, o);
                return;
        }

        q = calloc(1, sizeof(*q));
        if (!q) {
                status_states(o, "unknown");
                status_request_done(sr, o);
                return;
        }
        *q = (StatusQuery) { .ha = ha, .sr = sr, .set = TAKE_PTR(set), .section = o };
        r = round_start(m->aws->ec2, q->set, true, now_mono() + HA_STATUS_TIMEOUT_USEC, on_status_round, q,
                        &q->round);
        if (r < 0) {
                log_warning_errno(r, "cannot describe the HA targets for status");
                status_states(o, "unknown");
                status_request_done(sr, TAKE_PTR(q->section));
                status_query_free(q);
                return;
        }
        q->next = ha->statuses;
        ha->statuses = q;
}

/* ------------------------------------------------------------------------
 * Warm path and life cycle
 * ------------------------------------------------------------------------ */

static void on_warm_round(Round *rd, void *userdata) {
        HaPattern *ha = userdata;
        HaDescribed d = round_described(rd);
        const LogFields f = { .pattern = "ha", .action = "warm-up" };
        unsigned here = 0, unknown = 0;
        int error = 0;

        ha->warm = NULL;
        ha->last_api_usec = now_mono();
        for (size_t k = 0; k < _HA_DESCRIBE_MAX; k++)
                if (rd->calls[k].error < 0 && !error) {
                        error = rd->calls[k].error;
                        log_full_fields(LOG_WARNING, 0, &f, "HA describe %s failed: %s: %s (a takeover will retry)",
                                        k == HA_DESCRIBE_ROUTE_TABLES ? "DescribeRouteTables"
                                        : k == HA_DESCRIBE_ADDRESSES ? "DescribeAddresses"
                                                                     : "DescribeNetworkInterfaces",
                                        strna(rd->calls[k].code), strna(rd->calls[k].message));
                }
        for (size_t i = 0; ha->warm_set && i < ha->warm_set->n_targets; i++) {
                HaObservation o;

                ha_observe(ha->warm_set, i, &d, &o);
                here += o.state == HA_STATE_HERE;
                unknown += o.state == HA_STATE_UNKNOWN;
        }
        if (ha->warm_set)
                log_full_fields(LOG_DEBUG, 0, &f, "HA targets: %u of %zu routed here, %u unknown", here,
                                ha->warm_set->n_targets, unknown);
        round_free(rd);
}

/* One describe round of the current policy's targets, so connections and
 * credentials are warm when a takeover comes. */
static void ha_warm(HaPattern *ha) {
        Manager *m = ha_manager(ha);
        int r;

        if (ha->warm || !ha_policy_enabled(m))
                return;
        ha->warm_set = ha_target_set_free(ha->warm_set);
        r = ha_target_set_new(m->policy, HA_SELECT_BOTH, m->aws->network_interface_id, m->aws->instance_id,
                              &ha->warm_set);
        if (r >= 0)
                r = round_start(m->aws->ec2, ha->warm_set, false, now_mono() + HA_WARM_TIMEOUT_USEC, on_warm_round,
                                ha, &ha->warm);
        if (r < 0 && r != -ENODATA)
                log_warning_errno(r, "cannot warm up the HA describe calls");
}

/* The tag_refresh tick: one describe round keeps the HTTPS connections and
 * the signing key warm, unless a round of ours (a takeover, a status, the
 * last warm-up) ran within the last half period. Riding on the tag refresh
 * adds no wake-up of its own; an idle connection the endpoint closed in the
 * meantime costs one new TLS handshake on the next takeover. */
static void ha_refresh(Pattern *p) {
        HaPattern *ha = (HaPattern *) p;
        Manager *m = ha_manager(ha);

        if (!ha_policy_enabled(m))
                return;
        if (ha->last_api_usec != 0 && ha->last_api_usec + m->config->tag_refresh_usec / 2 > now_mono())
                return;
        ha_warm(ha);
}

static void ha_policy_changed(Pattern *p) {
        HaPattern *ha = (HaPattern *) p;

        if (ha_policy_enabled(ha_manager(ha)))
                ha_warm(ha);
}

static void ha_done(Pattern *p) {
        HaPattern *ha = (HaPattern *) p;

        while (ha->takeovers) {
                Takeover *t = ha->takeovers;

                ha->takeovers = t->next;
                reply_all(t, false, "Stopping", "cdpd is stopping", NULL);
                takeover_free(t);
        }
        while (ha->statuses) {
                StatusQuery *q = ha->statuses;

                ha->statuses = q->next;
                status_states(q->section, "unknown");
                status_request_done(q->sr, TAKE_PTR(q->section));
                status_query_free(q);
        }
        ha->warm = round_free(ha->warm);
        ha->warm_set = ha_target_set_free(ha->warm_set);
}

static const PatternCommand ha_commands[] = {
        { "takeover", ha_takeover },
        { "release", ha_release },
};

extern const PatternOps ha_pattern_ops;
const PatternOps ha_pattern_ops = {
        .name = "ha",
        .size = sizeof(HaPattern),
        .done = ha_done,
        .policy_changed = ha_policy_changed,
        .refresh = ha_refresh,
        .status = ha_status,
        .commands = ha_commands,
        .n_commands = ELEMENTSOF(ha_commands),
};
