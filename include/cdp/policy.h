/* SPDX-License-Identifier: MIT */
#pragma once

/* The tag policy (SPEC 4): an instance's tags -> one typed policy per pattern.
 *
 * Tags are untrusted input. The parser is strict and fails closed: a tag that
 * does not parse disables the policy it belongs to (never more), and lands in
 * Policy.errors with a sentence naming the tag, the value and what was
 * expected. Nothing here performs I/O except checking that a cdp:tz zone
 * exists under /usr/share/zoneinfo.
 *
 * Keys below are written with the default prefix "cdp:".
 *
 *   snapshot      cdp:snapshot (schedule, see schedule.h), cdp:tz,
 *                 cdp:snapshot:keep, :type, :volumes, :copy-to
 *   cloud_di      cdp:env:<NAME>
 *   floating_ip   cdp:floating-ip
 *   routing_ha    cdp:routing-ha
 *   bastion       cdp:expires-at, cdp:ttl, cdp:expire-action, cdp:expire-revoke
 *
 * Rules beyond the grammar of SPEC 4:
 *   - Values and list items are trimmed of surrounding blanks; empty list
 *     items ("a,,b", "a,") and duplicate items are errors; at most 50 items.
 *   - Keywords (@daily, every, ebs/ami, all/data, terminate/stop) are
 *     accepted in any letter case; ids, regions and device names are not.
 *   - More than 50 tags (the EC2 limit) is an error that applies no policy
 *     at all; a key over 128 characters or a value over 256 characters
 *     (Unicode characters, as EC2 counts) is an error; keys and values must
 *     be UTF-8.
 *   - An unknown cdp: key is an error ("unknown tag"), with a suggestion
 *     when it is close to a known key (ignoring letter case, two edits, one
 *     for "tz" and "ttl"). When it looks like a misspelt setting of the
 *     snapshot or bastion policy (it starts with "snapshot" or "expire", or
 *     the suggestion belongs to one of them), that policy is disabled too: a
 *     misspelt cdp:snapshot:keep would otherwise prune down to the default 7
 *     and a misspelt cdp:expire-action would terminate an instance meant to
 *     stop. Other unknown keys disable nothing.
 *   - A key given twice (impossible on EC2) is an error; for a policy tag it
 *     disables the policy, for cdp:env:NAME the first value is kept.
 *   - cdp:managed-by, cdp:instance-id, cdp:slot, cdp:volume-id and
 *     cdp:device are the tags cdpd puts on what it creates; on an instance
 *     they are ignored.
 *   - cdp:tz must name a TZif file under /usr/share/zoneinfo (see
 *     tz_name_is_valid()); a bad one disables the snapshot policy even for an
 *     "every" schedule (which does not use it).
 *   - cdp:snapshot:volumes: "all", "data", or device names /dev/sd<x>[<y>][N],
 *     /dev/xvd<x>[<y>][N] (N up to 2 digits, so "/dev/sda1" works),
 *     /dev/nvme<N>n<M>, and vol- ids; "all"/"data" cannot be mixed with
 *     a list. Other than "all" it is an error with type "ami" (an image
 *     always holds the boot volume).
 *   - cdp:snapshot:copy-to: region names by shape (valid_aws_region()); it is
 *     not checked here that the region exists or differs from our own.
 *   - cdp:floating-ip: allocation ids eipalloc-<8|17 hex>; addresses must be
 *     usable unicast (not 0/8, 127/8, 169.254/16, 224/4 and above).
 *   - cdp:routing-ha: the CIDR must have no host bits set (EC2 refuses such a
 *     route; the error suggests the network); 0.0.0.0/0 is allowed (NAT
 *     instance HA). Route table ids are rtb- and 1..17 lowercase hex digits
 *     (short ids as in the SPEC example are accepted). The same destination
 *     in the same table twice is an error.
 *   - Any invalid bastion tag disables the whole bastion policy: a missing
 *     or unparsable expiry never terminates anything.
 *   - cdp:env:NAME: NAME must match [A-Za-z_][A-Za-z0-9_]* and must not be
 *     one of the variables that make a program load or run other code
 *     (LD_*, PATH, BASH_ENV, PYTHONPATH, ...; see policy.c), because SPEC 4
 *     says a tag never names a command or a path to execute. The value may
 *     hold anything but control characters other than TAB: the env file is
 *     line based, and while systemd's EnvironmentFile= can quote a newline,
 *     shells sourcing the file, docker --env-file and most dotenv readers
 *     cannot, so a newline would let one tag smuggle a second variable past
 *     the name check. Values are kept exactly as given (not trimmed). A bad
 *     env tag drops only that variable.
 */

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cdp/macro.h"
#include "cdp/schedule.h"

#define POLICY_TAGS_MAX 50
#define POLICY_KEY_MAX 128
#define POLICY_VALUE_MAX 256
#define POLICY_LIST_MAX 50
#define POLICY_KEEP_MIN 1
#define POLICY_KEEP_MAX 1000
#define POLICY_KEEP_DEFAULT 7

typedef struct PolicyTag {
        const char *key;                /* borrowed */
        const char *value;              /* borrowed */
} PolicyTag;

typedef struct PolicyError {
        char *tag;                      /* the tag key (sanitised: valid UTF-8, at most 1024 bytes) */
        char *value;                    /* the tag value, sanitised the same way; "" when not relevant */
        char *reason;                   /* one sentence for humans, naming the tag, the value and
                                         * what was expected, e.g.
                                         * cdp:snapshot:keep: "seven" is not a whole number from 1 to 1000 */
} PolicyError;

typedef enum SnapshotType {
        SNAPSHOT_TYPE_EBS,
        SNAPSHOT_TYPE_AMI,
} SnapshotType;

typedef enum SnapshotVolumes {
        SNAPSHOT_VOLUMES_ALL,
        SNAPSHOT_VOLUMES_DATA,          /* every volume but the boot volume */
        SNAPSHOT_VOLUMES_LIST,          /* devices[] and volume_ids[] */
} SnapshotVolumes;

typedef struct SnapshotPolicy {
        bool enabled;                   /* cdp:snapshot present and every snapshot tag valid */
        bool invalid;                   /* some snapshot tag (or cdp:tz) was refused */
        char *schedule_text;            /* the trimmed cdp:snapshot value */
        Schedule schedule;
        char *tz;                       /* IANA zone name, "UTC" by default */
        unsigned keep;                  /* 1..1000, default 7 */
        SnapshotType type;              /* default EBS */
        SnapshotVolumes volumes;        /* default ALL */
        char **devices;                 /* SNAPSHOT_VOLUMES_LIST: "/dev/sdf", "/dev/xvdf", "/dev/nvme1n1" */
        size_t n_devices;
        char **volume_ids;              /* SNAPSHOT_VOLUMES_LIST: "vol-..." */
        size_t n_volume_ids;
        char **copy_to;                 /* region names, no duplicates */
        size_t n_copy_to;
} SnapshotPolicy;

typedef struct EnvVar {
        char *name;
        char *value;
} EnvVar;

typedef struct CloudDiPolicy {
        bool enabled;                   /* at least one valid cdp:env: tag */
        bool invalid;                   /* some cdp:env: tag was refused (and left out) */
        EnvVar *vars;                   /* sorted by name (byte order) */
        size_t n_vars;
} CloudDiPolicy;

typedef enum FloatingIpKind {
        FLOATING_IP_ELASTIC,            /* allocation_id */
        FLOATING_IP_PRIVATE,            /* address: a secondary private IPv4 address */
} FloatingIpKind;

typedef struct FloatingIpTarget {
        FloatingIpKind kind;
        char *allocation_id;            /* FLOATING_IP_ELASTIC, else NULL */
        struct in_addr address;         /* FLOATING_IP_PRIVATE, network byte order */
} FloatingIpTarget;

typedef struct FloatingIpPolicy {
        bool enabled;
        bool invalid;
        FloatingIpTarget *targets;      /* in tag order */
        size_t n_targets;
} FloatingIpPolicy;

typedef struct RoutingHaRoute {
        char *cidr;                     /* destination as written, e.g. "192.168.100.10/32" */
        struct in_addr network;         /* network byte order, host bits zero */
        unsigned prefix;
        char **route_tables;            /* "rtb-..." ids, at least one */
        size_t n_route_tables;
} RoutingHaRoute;

typedef struct RoutingHaPolicy {
        bool enabled;
        bool invalid;
        RoutingHaRoute *routes;         /* in tag order; no (cidr, rtb) pair twice */
        size_t n_routes;
} RoutingHaPolicy;

typedef enum ExpireAction {
        EXPIRE_ACTION_TERMINATE,
        EXPIRE_ACTION_STOP,
} ExpireAction;

typedef struct BastionPolicy {
        bool enabled;                   /* cdp:expires-at and/or cdp:ttl present, every bastion tag valid */
        bool invalid;
        bool has_expires_at;
        time_t expires_at;              /* UTC seconds */
        bool has_ttl;
        uint64_t ttl_usec;
        ExpireAction action;            /* default TERMINATE */
        char **revoke_rule_ids;         /* "sgr-..." */
        size_t n_revoke_rule_ids;
} BastionPolicy;

typedef struct Policy {
        SnapshotPolicy snapshot;
        CloudDiPolicy env;
        FloatingIpPolicy floating_ip;
        RoutingHaPolicy routing_ha;
        BastionPolicy bastion;
        PolicyError *errors;            /* shape and unknown-key errors first, then per policy */
        size_t n_errors;
} Policy;

/* Parses the tags of one resource. prefix is the tag prefix ("cdp:"); tags
 * without it are ignored. Returns 0 even when tags are invalid (see
 * Policy.errors); -EINVAL for bad arguments, -ENOMEM.
 * Ownership: caller frees *ret with policy_free(). The tags are not kept. */
int policy_parse(const PolicyTag *tags, size_t n_tags, const char *prefix, Policy **ret);

Policy *policy_free(Policy *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Policy *, policy_free);

/* The bastion expiry: the earlier of expires_at and launch_time + ttl.
 * -ENOENT when the policy is not enabled (never expire on doubt). */
int bastion_policy_expiry(const BastionPolicy *b, time_t launch_time, time_t *ret);

const char *snapshot_type_to_string(SnapshotType t);
const char *snapshot_volumes_to_string(SnapshotVolumes v);
const char *expire_action_to_string(ExpireAction a);

struct json_object;

/* The policy as JSON (json-c), for `cdpctl policy --json`, `cdpd --probe
 * --json` and status. Ownership: caller releases *ret with json_object_put().
 *
 * JSON keys (every policy object has "enabled" and "invalid"; the other keys
 * appear only when "enabled" is true):
 *
 * {
 *   "snapshot": {
 *     "enabled": bool,            policy active: cdp:snapshot present, all snapshot tags valid
 *     "invalid": bool,            some snapshot tag (or cdp:tz) was refused, see "errors"
 *     "schedule": string,         the cdp:snapshot value, trimmed
 *     "schedule_kind": "cron" | "interval",
 *     "interval_seconds": int,    only for "interval"
 *     "tz": string,               IANA zone of crontab schedules ("UTC" by default)
 *     "keep": int,                generations kept, 1..1000
 *     "type": "ebs" | "ami",
 *     "volumes": "all" | "data" | "list",
 *     "devices": [string],        device names of "list"
 *     "volume_ids": [string],     vol- ids of "list"
 *     "copy_to": [string]         regions
 *   },
 *   "cloud_di": {
 *     "enabled": bool,            at least one valid cdp:env: tag
 *     "invalid": bool,            some cdp:env: tag was refused and left out
 *     "env": { NAME: value }      always present, possibly empty
 *   },
 *   "floating_ip": {
 *     "enabled": bool, "invalid": bool,
 *     "targets": [ {"type": "elastic-ip", "allocation_id": string}
 *                | {"type": "private-ip", "address": string} ]
 *   },
 *   "routing_ha": {
 *     "enabled": bool, "invalid": bool,
 *     "routes": [ {"cidr": string, "route_tables": [string]} ]
 *   },
 *   "bastion": {
 *     "enabled": bool, "invalid": bool,
 *     "expires_at": string,       RFC 3339 UTC (converted), when cdp:expires-at is set
 *     "ttl_seconds": int,         when cdp:ttl is set
 *     "ttl": string,              the same as a duration ("1h30m")
 *     "expire_action": "terminate" | "stop",
 *     "expire_revoke": [string]   sgr- ids
 *   },
 *   "errors": [ {"tag": string, "value": string, "reason": string} ]
 * }
 */
int policy_to_json(const Policy *p, struct json_object **ret);
