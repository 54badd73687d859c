/* SPDX-License-Identifier: MIT */
/* The Snapshot pattern (SPEC 4, 5): scheduled EBS snapshots or AMIs of this
 * instance, kept in generations, copied to other regions, pruned safely.
 *
 * The EC2 API is the state: nothing is stored locally. One run handles one
 * slot and goes through these phases, every call asynchronous:
 *
 *   INSTANCE   DescribeInstances: block devices, root device, Name tag
 *   LIST       DescribeSnapshots (EBS) or DescribeImages + DescribeSnapshots
 *              (AMI), filtered on the server by our two ownership tags,
 *              Owner=self, pages of 1000; a listing that fails part-way is
 *              thrown away whole
 *   DECIDE     slot already taken? (restart-safe) catch-up needed?
 *   PRE_HOOKS  hooks_dir with CDP_EVENT=pre-snapshot
 *   CREATE     freeze -> CreateSnapshots / CreateImage (all tags in the
 *              creating call) -> thaw (also on error, on the freeze timeout,
 *              at exit)
 *   POST_HOOKS CDP_EVENT=post-snapshot
 *   VERIFY     only when the create's answer was lost: is there a backup of
 *              this slot? Never a second create before that is known.
 *   TAG        EBS: per snapshot CreateTags <prefix>device / volume-id
 *              (CreateSnapshots tags every snapshot of the set alike)
 *   FOLLOW     DescribeSnapshots/DescribeImages by id until completed (a
 *              manual run answers `cdpctl snapshot` here if that takes
 *              longer than the first check; the rest goes on behind it)
 *   PRUNE      snapshot_plan_prune(), deletes with bounded concurrency; after
 *              FOLLOW, so that an old generation goes only once the new one
 *              is usable, and `keep` generations remain after a run. A
 *              backup still pending (or failed) counts for nothing.
 *   COPY       per copy-to region: list there, copy what is missing (newest
 *              generations first), follow the copies, tag the snapshots of
 *              copied images (CopyImage leaves them untagged), prune there
 *              with the same keep
 *
 * One run writes at a time; a slot that comes due meanwhile waits (the
 * latest one), and so does one `cdpctl snapshot`; a run that only waits for
 * completion stops waiting for them. A scheduled run that failed for a
 * reason that may pass (throttling, 5xx, network, a lost create answer with
 * no backup found) is retried for the same slot, 1 min, 2, 4, ... at most
 * 30 min apart, 5 times, never past the next slot.
 *
 * --dry-run goes through the same phases and decisions and makes no write
 * call (and runs no hooks, freezes nothing). */
#include <assert.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "cdp/ec2-query.h"
#include "cdp/ec2-snapshot.h"
#include "cdp/freeze.h"
#include "cdp/hooks.h"
#include "cdp/parse-util.h"
#include "cdp/schedule.h"
#include "cdp/sched.h"
#include "cdp/snapshot-plan.h"
#include "ctl-server.h"
#include "log.h"
#include "pattern-snapshot.h"

#define PATTERN_NAME "snapshot"
#define LIST_PAGE_SIZE 1000
#define LIST_MAX_PAGES 10000            /* 10 million records: a loop guard, not a limit */
#define REPORT_LIST_MAX 1000

const SnapshotTimings snapshot_timings_default = {
        .poll_first_usec = 1 * USEC_PER_SEC,
        .poll_max_usec = 60 * USEC_PER_SEC,
        .follow_max_usec = 6ULL * 3600 * USEC_PER_SEC,
        .verify_delay_usec = 5 * USEC_PER_SEC,
        .retry_base_usec = 60 * USEC_PER_SEC,
        .retry_max_usec = 30 * 60 * USEC_PER_SEC,
        .retry_max = 5,
};

typedef enum RunTrigger {
        TRIGGER_SCHEDULE,
        TRIGGER_CATCH_UP,       /* starts as a probe: a run only if a period was missed */
        TRIGGER_RETRY,
        TRIGGER_MANUAL,
        _TRIGGER_MAX,
} RunTrigger;

static const char *const trigger_names[_TRIGGER_MAX] = {
        [TRIGGER_SCHEDULE] = "schedule",
        [TRIGGER_CATCH_UP] = "catch-up",
        [TRIGGER_RETRY] = "retry",
        [TRIGGER_MANUAL] = "manual",
};

typedef enum RunPhase {
        PHASE_INSTANCE,
        PHASE_LIST,
        PHASE_PRE_HOOKS,
        PHASE_CREATE,
        PHASE_POST_HOOKS,
        PHASE_VERIFY,
        PHASE_TAG,
        PHASE_FOLLOW,
        PHASE_PRUNE,
        PHASE_COPY,
        PHASE_DONE,
        _PHASE_MAX,
} RunPhase;

static const char *const phase_names[_PHASE_MAX] = {
        [PHASE_INSTANCE] = "describe-instance",
        [PHASE_LIST] = "list",
        [PHASE_PRE_HOOKS] = "pre-snapshot-hooks",
        [PHASE_CREATE] = "create",
        [PHASE_POST_HOOKS] = "post-snapshot-hooks",
        [PHASE_VERIFY] = "verify",
        [PHASE_TAG] = "tag",
        [PHASE_PRUNE] = "prune",
        [PHASE_FOLLOW] = "follow",
        [PHASE_COPY] = "copy",
        [PHASE_DONE] = "done",
};

typedef enum CreateOutcome {
        CREATE_NONE,            /* not tried (dry run, slot taken, probe) */
        CREATE_ACCEPTED,
        CREATE_UNKNOWN,         /* the answer was lost: verify before anything else */
        CREATE_FAILED,
} CreateOutcome;

typedef struct SnapRun SnapRun;
typedef struct SnapshotPattern SnapshotPattern;

/* ---- one EC2 call of a run ---- */

typedef void (*RunCallFn)(SnapRun *run, int error, const Ec2Response *resp, void *data);

typedef struct RunCall {
        SnapRun *run;
        Ec2Call *call;
        RunCallFn fn;
        void *data;
        void (*data_free)(void *data);
        struct RunCall *prev, *next;
} RunCall;

/* ---- a paginated listing ---- */

typedef enum ListKind {
        LIST_SNAPSHOTS,
        LIST_IMAGES,
} ListKind;

typedef void (*ListDoneFn)(SnapRun *run, int error, const char *detail);

typedef struct Lister {
        bool active;
        ListKind kind;
        char *region;
        char *slot_value;               /* extra server-side filter on <prefix>slot */
        char **ids;                     /* by id instead of by tags */
        size_t n_ids;
        char *next_token;
        unsigned pages;
        SnapshotSet tmp;                /* handed over only when the last page is in */
        SnapshotSet *out;
        ListDoneFn done;
} Lister;

/* ---- write operations with bounded concurrency ---- */

typedef enum OpKind {
        OP_DELETE_SNAPSHOT,
        OP_DEREGISTER_IMAGE,
        OP_TAG,
        OP_COPY_SNAPSHOT,
        OP_COPY_IMAGE,
        _OP_KIND_MAX,
} OpKind;

static const char *const op_actions[_OP_KIND_MAX] = {
        [OP_DELETE_SNAPSHOT] = "DeleteSnapshot",
        [OP_DEREGISTER_IMAGE] = "DeregisterImage",
        [OP_TAG] = "CreateTags",
        [OP_COPY_SNAPSHOT] = "CopySnapshot",
        [OP_COPY_IMAGE] = "CopyImage",
};

#define OP_TAGS_MAX 10

typedef struct Op {
        OpKind kind;
        char *region;
        char *id;                       /* the resource acted on (the source, for copies) */
        const char *reason;             /* deletes: static string */
        char **parts;                   /* deregister: our snapshots to delete after */
        size_t n_parts;
        char *name;                     /* CopyImage */
        char *tag_keys[OP_TAGS_MAX];    /* tags to set (CreateTags, copies) */
        char *tag_values[OP_TAGS_MAX];
        size_t n_tags;
        bool adopt;                     /* OP_TAG of a copied image's snapshot: ours once tagged */
        struct Op *next;
} Op;

typedef void (*QueueDoneFn)(SnapRun *run);

/* ---- following new backups until they complete ---- */

typedef struct Follow {
        bool active;
        ListKind kind;
        const char *region;             /* borrowed */
        SnapshotSet *set;               /* whose records get the new states */
        char **ids;                     /* borrowed */
        size_t n_ids;
        QueueDoneFn done;
        uint64_t delay;
        uint64_t deadline;              /* CLOCK_MONOTONIC */
} Follow;

typedef struct OpQueue {
        Op *head, *tail;
        unsigned inflight;
        unsigned limit;
        bool stopped;                   /* throttled or denied: issue nothing more this run */
        QueueDoneFn drained;
        /* Deletes are made into ops on demand from the plan, after the ops
         * above: 10,000 of them never sit in memory as ops. */
        SnapshotPlan *plan;
        size_t plan_next;
        const char *plan_region;        /* borrowed: the run's region or copy-to entry */
        const SnapshotSet *plan_parts;  /* borrowed: the run's set of our image parts */
} OpQueue;

/* ---- the run ---- */

struct SnapRun {
        SnapshotPattern *sp;
        SnapRun *next;                  /* sp->runs */
        RunTrigger trigger;
        RunPhase phase;
        bool dry_run;
        time_t slot;
        char slot_text[RFC3339_UTC_STRING_MAX + 8];
        uint64_t started_at;            /* CLOCK_REALTIME usec */
        unsigned policy_gen;
        SnapshotPolicy policy;          /* owned copy: tags may change under a run */
        CtlRequest *req;
        bool replied;

        RunCall *calls;
        HookRun *hooks;
        sd_event_source *timer;

        /* the instance */
        char *name_base;
        char *root_device;
        SnapshotVolume *volumes;        /* owned strings */
        size_t n_volumes;
        SnapshotVolume *aliases;        /* NVMe names resolved locally */
        size_t n_aliases;

        SnapshotVolumeChoice choice;    /* EBS: what CreateSnapshots takes */

        Lister list;
        SnapshotSet home;               /* EBS: snapshots; AMI: images */
        SnapshotSet home_parts;         /* AMI: our snapshots */
        SnapshotSet found;              /* VERIFY */

        bool decided;                   /* catch-up: the slot is known (else only looking) */
        bool slot_taken;
        CreateOutcome create;
        char **created;                 /* ids this run created */
        size_t n_created;
        bool follow_abandoned;
        Follow follow;

        OpQueue queue;
        bool write_denied;

        size_t region_index;
        SnapshotSet dest, dest_parts;
        bool copies_ok;
        char **region_copied;           /* copies made in this region by this run */
        size_t n_region_copied;

        /* result */
        bool failed;
        bool retryable;
        char *fail_code;
        char *fail_message;
        unsigned n_deleted, n_copied, n_deferred, n_kept, n_errors;
        bool report_truncated;
        struct json_object *j_created, *j_copied, *j_deleted, *j_errors, *j_generations, *j_frozen;
};

typedef struct LastRun {
        bool valid;
        time_t slot;
        RunTrigger trigger;
        uint64_t started_at, finished_at;
        char *result;
        char *message;
        unsigned created, copied, deleted, deferred;
} LastRun;

struct SnapshotPattern {
        Pattern base;
        SnapshotTagKeys keys;
        SnapshotTimings timings;
        const FreezeOps *freeze_ops;

        unsigned policy_gen;            /* bumped when the snapshot policy really changes */
        SnapshotPolicy cur;             /* copy of the policy in force (when enabled) */
        bool enabled;
        Schedule schedule;
        char *tz;
        SchedJob *job;
        uint64_t splay;

        SnapRun *runs;                  /* every run, dry runs included */
        SnapRun *active;                /* the one that may write */
        CtlRequest *waiting_req;        /* a `cdpctl snapshot` waits for the active run */
        time_t waiting_slot;
        bool queued;                    /* a slot waits for the active run */
        time_t queued_slot;
        RunTrigger queued_trigger;
        bool catch_up_pending;

        sd_event_source *retry_timer;
        time_t retry_slot;
        unsigned retry_count;
        uint64_t retry_at;              /* CLOCK_REALTIME usec, 0 = none */

        FreezeSet *freeze;
        sd_event_source *freeze_timer;
        sd_event_source *exit_source;

        LastRun last;
        char *last_error;
        uint64_t last_error_at;
        struct json_object *generations;        /* from the last listing of a run */
        struct json_object *failed_ids;
};

static const LogFields base_fields = { .pattern = PATTERN_NAME };

static void run_next_phase(SnapRun *run);
static void run_finish(SnapRun *run);
static void pattern_start_queued(SnapshotPattern *sp);
static int run_start(SnapshotPattern *sp, RunTrigger trigger, time_t slot, bool dry_run, CtlRequest *req);

static Manager *sp_manager(const SnapshotPattern *sp) {
        return sp->base.manager;
}

static AwsContext *run_aws(const SnapRun *run) {
        return sp_manager(run->sp)->aws;
}

static const Config *run_config(const SnapRun *run) {
        return sp_manager(run->sp)->config;
}

static uint64_t now_realtime(void) {
        return clock_now(clock_real(), CLOCK_REALTIME);
}

static uint64_t now_monotonic(void) {
        return clock_now(clock_real(), CLOCK_MONOTONIC);
}

/* sd-event's accuracy 0 means its default of 250 ms: say how late a timer
 * may be, an eighth of its delay. */
static uint64_t timer_accuracy(uint64_t delay) {
        return delay / 8 + 1;
}

/* ------------------------------------------------------------------------
 * small helpers
 * ------------------------------------------------------------------------ */

/* asprintf() that gives NULL on failure. Ownership: caller frees. */
static char *strprintf(const char *fmt, ...) _printf_(1, 2);
static char *strprintf(const char *fmt, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}

static void strv_free_n(char **l, size_t n) {
        for (size_t i = 0; l && i < n; i++)
                free(l[i]);
        free(l);
}

static int strv_copy_n(char *const *src, size_t n, char ***ret) {
        char **l;

        if (n == 0) {
                *ret = NULL;
                return 0;
        }
        l = calloc(n, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                l[i] = strdup(src[i]);
                if (!l[i]) {
                        strv_free_n(l, i);
                        return -ENOMEM;
                }
        }
        *ret = l;
        return 0;
}

static int strv_push(char ***l, size_t *n, const char *s) {
        char **nl, *c;

        c = strdup(s);
        if (!c)
                return -ENOMEM;
        nl = realloc(*l, (*n + 1) * sizeof(char *));
        if (!nl) {
                free(c);
                return -ENOMEM;
        }
        nl[(*n)++] = c;
        *l = nl;
        return 0;
}

static void policy_copy_done(SnapshotPolicy *p) {
        free(p->schedule_text);
        free(p->tz);
        strv_free_n(p->devices, p->n_devices);
        strv_free_n(p->volume_ids, p->n_volume_ids);
        strv_free_n(p->copy_to, p->n_copy_to);
        *p = (SnapshotPolicy) {};
}

static int policy_copy(SnapshotPolicy *dst, const SnapshotPolicy *src) {
        SnapshotPolicy p = *src;
        int r;

        p.schedule_text = NULL;
        p.tz = NULL;
        p.devices = p.volume_ids = p.copy_to = NULL;
        if ((src->schedule_text && !(p.schedule_text = strdup(src->schedule_text))) ||
            (src->tz && !(p.tz = strdup(src->tz)))) {
                policy_copy_done(&p);
                return -ENOMEM;
        }
        if ((r = strv_copy_n(src->devices, src->n_devices, &p.devices)) < 0 ||
            (r = strv_copy_n(src->volume_ids, src->n_volume_ids, &p.volume_ids)) < 0 ||
            (r = strv_copy_n(src->copy_to, src->n_copy_to, &p.copy_to)) < 0) {
                p.n_devices = p.devices ? p.n_devices : 0;
                p.n_volume_ids = p.volume_ids ? p.n_volume_ids : 0;
                p.n_copy_to = 0;
                policy_copy_done(&p);
                return r;
        }
        *dst = p;
        return 0;
}

static struct json_object *json_str(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static struct json_object *json_time_usec(uint64_t usec) {
        char buf[RFC3339_UTC_STRING_MAX];

        if (usec == 0 || format_rfc3339_utc((time_t) (usec / USEC_PER_SEC), buf) < 0)
                return NULL;
        return json_object_new_string(buf);
}

static struct json_object *json_time(time_t t) {
        char buf[RFC3339_UTC_STRING_MAX];

        if (format_rfc3339_utc(t, buf) < 0)
                return NULL;
        return json_object_new_string(buf);
}

/* "Action in region: Code: message" for logs and replies. */
static char *describe_failure(const char *action, const char *region, int error, const Ec2Response *resp) {
        char *s = NULL;

        if (resp && resp->error_code)
                s = strprintf("%s in %s: %s: %s", action, region ? region : "?", resp->error_code,
                              resp->error_message ? resp->error_message : "(no message)");
        else
                s = strprintf("%s in %s: %s", action, region ? region : "?", strerror(error < 0 ? -error : EIO));
        return s;
}

/* Lists in the reply are capped (the counts are not; the journal has every
 * item): 10,000 deletions as JSON objects would cost cdpd ~8 MiB. */
static bool report_room(SnapRun *run, struct json_object *list) {
        if (json_object_array_length(list) < REPORT_LIST_MAX)
                return true;
        run->report_truncated = true;
        return false;
}

static void run_add_error(SnapRun *run, const char *action, const char *resource, const char *region,
                          const char *code, const char *message) {
        struct json_object *e;

        run->n_errors++;
        if (!report_room(run, run->j_errors))
                return;
        e = json_object_new_object();
        if (!e)
                return;
        json_object_object_add(e, "action", json_str(action));
        json_object_object_add(e, "resource", json_str(resource));
        json_object_object_add(e, "region", json_str(region));
        json_object_object_add(e, "code", json_str(code));
        json_object_object_add(e, "message", json_str(message));
        json_object_array_add(run->j_errors, e);
}

/* Marks the run failed (the first failure names the run's error). */
static void run_set_failed(SnapRun *run, bool retryable, const char *code, const char *message) {
        if (run->failed)
                return;
        run->failed = true;
        run->retryable = retryable;
        run->fail_code = strdup(code ? code : "SnapshotFailed");
        run->fail_message = strdup(message ? message : "the backup run failed");
}

/* ------------------------------------------------------------------------
 * calls
 * ------------------------------------------------------------------------ */

static void run_call_unlink(RunCall *c) {
        SnapRun *run = c->run;

        if (c->prev)
                c->prev->next = c->next;
        else if (run->calls == c)
                run->calls = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
}

static void on_run_call_done(int error, const Ec2Response *resp, void *userdata) {
        RunCall *c = userdata;
        SnapRun *run = c->run;
        RunCallFn fn = c->fn;
        void *data = c->data;
        void (*data_free)(void *) = c->data_free;

        run_call_unlink(c);
        free(c);
        /* fn may end (and free) the run: nothing of it is touched after. */
        fn(run, error, resp, data);
        if (data_free)
                data_free(data);
}

static int run_call(SnapRun *run, const Ec2Query *q, const char *region, RunCallFn fn, void *data,
                    void (*data_free)(void *)) {
        Ec2CallOptions opts = { .region = region };
        RunCall *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->run = run;
        c->fn = fn;
        c->data = data;
        c->data_free = data_free;
        r = ec2_call(run_aws(run)->ec2, q, &opts, on_run_call_done, c, &c->call);
        if (r < 0) {
                free(c);
                return r;
        }
        c->next = run->calls;
        if (run->calls)
                run->calls->prev = c;
        run->calls = c;
        return 0;
}

static void run_calls_cancel(SnapRun *run) {
        while (run->calls) {
                RunCall *c = run->calls;

                run_call_unlink(c);
                ec2_call_cancel(c->call);
                if (c->data_free)
                        c->data_free(c->data);
                free(c);
        }
}

static void log_write(SnapRun *run, const char *action, const char *resource, const Ec2Response *resp,
                      const char *fmt, ...) _printf_(5, 6);
static void log_write(SnapRun *run, const char *action, const char *resource, const Ec2Response *resp,
                      const char *fmt, ...) {
        const LogFields f = {
                .pattern = PATTERN_NAME,
                .action = action,
                .resource = resource,
                .request_id = resp ? resp->request_id : NULL,
        };
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        (void) run;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        /* The request id goes in its own field (and on stderr after the text). */
        log_full_fields(LOG_INFO, 0, &f, "%s", msg ? msg : action);
}

static void log_call_error(SnapRun *run, int level, const char *action, const char *resource, int error,
                           const Ec2Response *resp, const char *detail) {
        const LogFields f = {
                .pattern = PATTERN_NAME,
                .action = action,
                .resource = resource,
                .request_id = resp ? resp->request_id : NULL,
        };

        (void) run;
        log_full_fields(level, error, &f, "%s", detail);
}

/* ------------------------------------------------------------------------
 * listing
 * ------------------------------------------------------------------------ */

static void lister_done(Lister *l) {
        free(l->region);
        free(l->slot_value);
        strv_free_n(l->ids, l->n_ids);
        free(l->next_token);
        snapshot_set_done(&l->tmp);
        *l = (Lister) {};
}

static int list_page(SnapRun *run);

static void list_finish(SnapRun *run, int error, const char *detail) {
        ListDoneFn done = run->list.done;

        if (error >= 0) {
                /* Hand the whole listing over at once; never a part of it. */
                snapshot_set_done(run->list.out);
                *run->list.out = run->list.tmp;
                run->list.tmp = (SnapshotSet) {};
        }
        lister_done(&run->list);
        done(run, error, detail);
}

static const char *list_action(ListKind k) {
        return k == LIST_IMAGES ? "DescribeImages" : "DescribeSnapshots";
}

static int on_listed_snapshot(const Ec2Snapshot *snap, void *userdata) {
        SnapRun *run = userdata;

        return snapshot_set_add_snapshot(&run->list.tmp, &run->sp->keys, snap);
}

static void on_list_page(SnapRun *run, int error, const Ec2Response *resp, void *data) {
        Lister *l = &run->list;
        _cleanup_free_ char *detail = NULL;
        char *token = NULL;
        int r;

        (void) data;
        if (error < 0) {
                detail = describe_failure(list_action(l->kind), l->region, error, resp);
                list_finish(run, error, detail);
                return;
        }

        if (l->kind == LIST_SNAPSHOTS)
                /* Item by item into records: a page of 1,000 never exists as structs. */
                r = ec2_parse_describe_snapshots_each(resp->body, resp->body_len, on_listed_snapshot, run, &token,
                                                      NULL);
        else {
                _cleanup_(ec2_image_page_freep) Ec2ImagePage *p = NULL;

                r = ec2_parse_describe_images(resp->body, resp->body_len, &p);
                for (size_t i = 0; r >= 0 && i < p->n_images; i++)
                        r = snapshot_set_add_image(&l->tmp, &run->sp->keys, &p->images[i]);
                if (r >= 0 && p->next_token)
                        token = TAKE_PTR(p->next_token);
        }
        if (r < 0) {
                free(token);
                detail = strprintf("%s in %s: cannot read the answer: %s", list_action(l->kind),
                                   l->region, strerror(-r));
                list_finish(run, r, detail);
                return;
        }
        l->pages++;
        if (token && *token) {
                /* A token that does not move on would page forever. */
                if ((l->next_token && strcmp(l->next_token, token) == 0) || l->pages >= LIST_MAX_PAGES) {
                        free(token);
                        detail = strprintf("%s in %s: the listing does not end (page %u)",
                                           list_action(l->kind), l->region, l->pages);
                        list_finish(run, -EBADMSG, detail);
                        return;
                }
                free(l->next_token);
                l->next_token = token;
                r = list_page(run);
                if (r < 0) {
                        detail = strprintf("%s in %s: %s", list_action(l->kind), l->region, strerror(-r));
                        list_finish(run, r, detail);
                }
                return;
        }
        free(token);
        list_finish(run, 0, NULL);
}

static int list_page(SnapRun *run) {
        Lister *l = &run->list;
        const SnapshotTagKeys *k = &run->sp->keys;
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        const char *self = "self";
        int r;

        r = ec2_query_new(&q, list_action(l->kind));
        if (r < 0)
                return r;
        r = ec2_query_add_list(q, "Owner", &self, 1);
        if (r < 0)
                return r;
        if (l->n_ids > 0) {
                r = ec2_query_add_list(q, l->kind == LIST_IMAGES ? "ImageId" : "SnapshotId",
                                       (const char *const *) l->ids, l->n_ids);
                if (r < 0)
                        return r;
        } else {
                _cleanup_free_ char *f_managed = NULL, *f_instance = NULL, *f_slot = NULL;
                const char *managed = SNAPSHOT_MANAGED_BY_VALUE, *iid = run_aws(run)->instance_id;

                if (asprintf(&f_managed, "tag:%s", k->managed_by) < 0 ||
                    asprintf(&f_instance, "tag:%s", k->instance_id) < 0 ||
                    (l->slot_value && asprintf(&f_slot, "tag:%s", k->slot) < 0))
                        return -ENOMEM;
                r = ec2_query_add_filter(q, f_managed, &managed, 1);
                if (r >= 0)
                        r = ec2_query_add_filter(q, f_instance, &iid, 1);
                if (r >= 0 && l->slot_value)
                        r = ec2_query_add_filter(q, f_slot, (const char *const *) &l->slot_value, 1);
                /* DescribeImages pages only in newer API models than the
                 * simulator's: ask for pages of snapshots only, follow a
                 * token whenever one comes. */
                if (r >= 0 && l->kind == LIST_SNAPSHOTS)
                        r = ec2_query_set_uint(q, "MaxResults", LIST_PAGE_SIZE);
                if (r < 0)
                        return r;
        }
        if (l->next_token) {
                r = ec2_query_set(q, "NextToken", l->next_token);
                if (r < 0)
                        return r;
        }
        ec2_query_set_idempotent(q, true);
        return run_call(run, q, l->region, on_list_page, NULL, NULL);
}

/* Lists our backups (or the given ids) in region into *out, replacing it
 * only when every page arrived. done runs from the loop. */
static int run_list(SnapRun *run, ListKind kind, const char *region, const char *slot_value, char *const *ids,
                    size_t n_ids, SnapshotSet *out, ListDoneFn done) {
        Lister *l = &run->list;
        int r;

        assert(!l->active);
        *l = (Lister) { .active = true, .kind = kind, .out = out, .done = done };
        l->region = strdup(region);
        if (!l->region || (slot_value && !(l->slot_value = strdup(slot_value)))) {
                lister_done(l);
                return -ENOMEM;
        }
        r = strv_copy_n(ids, n_ids, &l->ids);
        if (r < 0) {
                lister_done(l);
                return r;
        }
        l->n_ids = n_ids;
        r = list_page(run);
        if (r < 0)
                lister_done(l);
        return r;
}

/* ------------------------------------------------------------------------
 * write operations: bounded concurrency, stop on throttling
 * ------------------------------------------------------------------------ */

static Op *op_free(Op *op) {
        if (!op)
                return NULL;
        free(op->region);
        free(op->id);
        strv_free_n(op->parts, op->n_parts);
        free(op->name);
        for (size_t i = 0; i < op->n_tags; i++) {
                free(op->tag_keys[i]);
                free(op->tag_values[i]);
        }
        free(op);
        return NULL;
}

static void op_free_void(void *op) {
        op_free(op);
}

static Op *op_new(OpKind kind, const char *region, const char *id) {
        Op *op = calloc(1, sizeof(*op));

        if (!op)
                return NULL;
        op->kind = kind;
        op->region = strdup(region);
        op->id = strdup(id);
        if (!op->region || !op->id)
                return op_free(op);
        return op;
}

static int op_add_tag(Op *op, const char *key, const char *value) {
        if (op->n_tags >= OP_TAGS_MAX)
                return -E2BIG;
        op->tag_keys[op->n_tags] = strdup(key);
        op->tag_values[op->n_tags] = strdup(value);
        if (!op->tag_keys[op->n_tags] || !op->tag_values[op->n_tags]) {
                free(op->tag_keys[op->n_tags]);
                free(op->tag_values[op->n_tags]);
                op->tag_keys[op->n_tags] = op->tag_values[op->n_tags] = NULL;
                return -ENOMEM;
        }
        op->n_tags++;
        return 0;
}

static void queue_push(SnapRun *run, Op *op) {
        op->next = NULL;
        if (run->queue.tail)
                run->queue.tail->next = op;
        else
                run->queue.head = op;
        run->queue.tail = op;
}

static void queue_clear(SnapRun *run, bool count_deferred) {
        OpQueue *qu = &run->queue;

        while (qu->head) {
                Op *op = qu->head;

                qu->head = op->next;
                if (count_deferred && op->kind != OP_TAG)
                        run->n_deferred++;
                op_free(op);
        }
        qu->tail = NULL;
        if (qu->plan && count_deferred)
                run->n_deferred += (unsigned) (qu->plan->n_deletes - qu->plan_next);
        qu->plan = snapshot_plan_free(qu->plan);
        qu->plan_next = 0;
}

static void queue_pump(SnapRun *run);
static Op *queue_next_delete(SnapRun *run);

/* Stop issuing for this run: what is left is retried by the next run, whose
 * plan is made afresh from what exists then (never "more to catch up"). */
static void queue_stop(SnapRun *run) {
        if (run->queue.stopped)
                return;
        run->queue.stopped = true;
        queue_clear(run, true);
}

static void op_deleted(SnapRun *run, const Op *op, const char *kind, bool already) {
        struct json_object *o;

        run->n_deleted++;
        if (!report_room(run, run->j_deleted))
                return;
        o = json_object_new_object();
        if (!o)
                return;
        json_object_object_add(o, "region", json_str(op->region));
        json_object_object_add(o, "id", json_str(op->id));
        json_object_object_add(o, "kind", json_str(kind));
        if (op->reason)
                json_object_object_add(o, "reason", json_str(op->reason));
        if (already)
                json_object_object_add(o, "already_gone", json_object_new_boolean(true));
        json_object_array_add(run->j_deleted, o);
}

static const char *op_tag(const Op *op, const char *key) {
        for (size_t i = 0; i < op->n_tags; i++)
                if (strcmp(op->tag_keys[i], key) == 0)
                        return op->tag_values[i];
        return NULL;
}

static void op_copied(SnapRun *run, const Op *op, const char *new_id) {
        const SnapshotTagKeys *k = &run->sp->keys;
        struct json_object *o = NULL;
        time_t slot = SNAPSHOT_SLOT_UNSET;
        const char *slot_text = op_tag(op, k->slot);

        run->n_copied++;
        /* The copy is pending there now: the region's prune must see it (and
         * not count it until it completes). */
        if (!slot_text || parse_rfc3339_utc(slot_text, &slot) < 0)
                slot = SNAPSHOT_SLOT_UNSET;
        const SnapshotRecord rec = {
                .id = (char *) new_id,
                .state = SNAPSHOT_STATE_PENDING,
                .managed_by = (char *) op_tag(op, k->managed_by),
                .instance_id = (char *) op_tag(op, k->instance_id),
                .slot = slot,
                .device = (char *) op_tag(op, k->device),
                .volume_id = (char *) op_tag(op, k->volume_id),
                .type = (char *) op_tag(op, k->type),
                .name = op->name,
        };
        if (snapshot_set_add(&run->dest, &rec) < 0 || strv_push(&run->region_copied, &run->n_region_copied, new_id) < 0)
                log_error_errno(-ENOMEM, "cannot follow the copy %s", new_id);
        if (report_room(run, run->j_copied))
                o = json_object_new_object();
        if (!o)
                return;
        json_object_object_add(o, "region", json_str(op->region));
        json_object_object_add(o, "id", json_str(new_id));
        json_object_object_add(o, "source_id", json_str(op->id));
        json_object_array_add(run->j_copied, o);
}

/* A copied image's snapshot now carries our tags: it counts as ours for
 * this run's prune there too (it goes with its image). */
static void op_adopted(SnapRun *run, const Op *op) {
        const SnapshotTagKeys *k = &run->sp->keys;
        const char *slot_text = op_tag(op, k->slot);
        time_t slot;

        if (!slot_text || parse_rfc3339_utc(slot_text, &slot) < 0)
                slot = SNAPSHOT_SLOT_UNSET;
        const SnapshotRecord rec = {
                .id = op->id,
                .state = SNAPSHOT_STATE_COMPLETED,
                .managed_by = op_tag(op, k->managed_by),
                .instance_id = op_tag(op, k->instance_id),
                .slot = slot,
                .type = op_tag(op, k->type),
        };
        if (!snapshot_set_find(&run->dest_parts, op->id) && snapshot_set_add(&run->dest_parts, &rec) < 0)
                log_error_errno(-ENOMEM, "cannot note %s as ours", op->id);
}

static void on_op_done(SnapRun *run, int error, const Ec2Response *resp, void *data) {
        Op *op = data;
        const char *action = op_actions[op->kind];
        _cleanup_free_ char *detail = NULL;
        int r;

        run->queue.inflight--;

        /* AWS pushed back even if the call got through in the end: go slower. */
        if (resp && resp->attempts > 1 && run->queue.limit > 1)
                run->queue.limit /= 2;

        if (error == 0 || (error == -ENOENT && (op->kind == OP_DELETE_SNAPSHOT || op->kind == OP_DEREGISTER_IMAGE))) {
                bool gone = error == -ENOENT;

                switch (op->kind) {
                case OP_DELETE_SNAPSHOT:
                        log_write(run, action, op->id, resp, "%s snapshot %s in %s (%s)",
                                  gone ? "already gone:" : "deleted", op->id, op->region, op->reason);
                        op_deleted(run, op, "snapshot", gone);
                        break;
                case OP_DEREGISTER_IMAGE:
                        log_write(run, action, op->id, resp, "%s image %s in %s (%s)",
                                  gone ? "already gone:" : "deregistered", op->id, op->region,
                                  op->reason ? op->reason : "expired");
                        op_deleted(run, op, "image", gone);
                        /* Then the snapshots it was built from, ours only (the
                         * planner checked, and so did run_queue_deletes()). */
                        for (size_t i = 0; i < op->n_parts && !run->queue.stopped; i++) {
                                Op *part = op_new(OP_DELETE_SNAPSHOT, op->region, op->parts[i]);

                                if (!part) {
                                        log_error_errno(-ENOMEM, "cannot queue the deletion of %s", op->parts[i]);
                                        continue;
                                }
                                part->reason = "image-part";
                                queue_push(run, part);
                        }
                        break;
                case OP_TAG:
                        log_write(run, action, op->id, resp, "tagged %s in %s", op->id, op->region);
                        if (op->adopt)
                                op_adopted(run, op);
                        break;
                case OP_COPY_SNAPSHOT:
                case OP_COPY_IMAGE: {
                        _cleanup_free_ char *new_id = NULL;

                        /* error == 0: an answer arrived, so resp is set. */
                        r = !resp                          ? -EBADMSG
                            : op->kind == OP_COPY_SNAPSHOT ? ec2_parse_copy_snapshot(resp->body, resp->body_len, &new_id, NULL)
                                                           : ec2_parse_copy_image(resp->body, resp->body_len, &new_id, NULL);
                        if (r < 0) {
                                /* It may well have been made: the next run's
                                 * listing of the region tells. */
                                run->copies_ok = false;
                                log_call_error(run, LOG_WARNING, action, op->id, r, resp,
                                               "copy answer unreadable; the next run checks whether it was made");
                                run_add_error(run, action, op->id, op->region, "MalformedResponse",
                                              "the answer could not be read");
                                break;
                        }
                        log_write(run, action, new_id, resp, "copied %s to %s as %s", op->id, op->region, new_id);
                        op_copied(run, op, new_id);
                        if (op->kind == OP_COPY_IMAGE) {
                                /* CopyImage takes no TagSpecification: tag the copy
                                 * at once (CopyImageTags already brought the
                                 * source's tags in most cases). */
                                Op *tag = op_new(OP_TAG, op->region, new_id);

                                for (size_t i = 0; tag && i < op->n_tags; i++)
                                        if (op_add_tag(tag, op->tag_keys[i], op->tag_values[i]) < 0)
                                                tag = op_free(tag);
                                if (tag)
                                        queue_push(run, tag);
                                else
                                        log_error_errno(-ENOMEM, "cannot tag %s", new_id);
                        }
                        break;
                }
                default:
                        break;
                }
        } else {
                detail = describe_failure(action, op->region, error, resp);
                log_call_error(run, LOG_WARNING, action, op->id, error, resp, detail ? detail : action);
                run_add_error(run, action, op->id, op->region, resp ? resp->error_code : NULL,
                              resp && resp->error_message ? resp->error_message : strerror(-error));
                if (op->kind == OP_COPY_SNAPSHOT || op->kind == OP_COPY_IMAGE)
                        run->copies_ok = false;
                if (error == -EAGAIN) {
                        /* Throttled through every retry: this op and the rest wait
                         * for the next run. */
                        if (op->kind != OP_TAG)
                                run->n_deferred++;
                        queue_stop(run);
                } else if (error == -EACCES || error == -EKEYREJECTED) {
                        run->write_denied = true;
                        queue_stop(run);
                }
        }
        queue_pump(run);
}

static int op_submit(SnapRun *run, Op *op) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        const char *home = run_aws(run)->region;
        int r;

        /* Nothing writes in a dry run; getting here would be a bug. */
        assert(!run->dry_run);

        r = ec2_query_new(&q, op_actions[op->kind]);
        if (r < 0)
                return r;
        switch (op->kind) {
        case OP_DELETE_SNAPSHOT:
                r = ec2_query_set(q, "SnapshotId", op->id);
                /* A repeat finds it gone (NotFound), which counts as done. */
                ec2_query_set_idempotent(q, true);
                break;
        case OP_DEREGISTER_IMAGE:
                r = ec2_query_set(q, "ImageId", op->id);
                ec2_query_set_idempotent(q, true);
                break;
        case OP_TAG:
                r = ec2_query_set(q, "ResourceId.1", op->id);
                for (size_t i = 0; r >= 0 && i < op->n_tags; i++) {
                        r = ec2_query_setf(q, op->tag_keys[i], "Tag.%zu.Key", i + 1);
                        if (r >= 0)
                                r = ec2_query_setf(q, op->tag_values[i], "Tag.%zu.Value", i + 1);
                }
                ec2_query_set_idempotent(q, true);
                break;
        case OP_COPY_SNAPSHOT: {
                _cleanup_free_ char *desc = NULL;

                if (asprintf(&desc, "cdpd copy of %s from %s", op->id, home) < 0)
                        return -ENOMEM;
                r = ec2_query_set(q, "SourceRegion", home);
                if (r >= 0)
                        r = ec2_query_set(q, "SourceSnapshotId", op->id);
                if (r >= 0)
                        r = ec2_query_set(q, "Description", desc);
                if (r >= 0)
                        r = ec2_query_add_tag_spec(q, "snapshot", (const char *const *) op->tag_keys,
                                                   (const char *const *) op->tag_values, op->n_tags);
                break;
        }
        case OP_COPY_IMAGE: {
                _cleanup_free_ char *desc = NULL, *token = NULL;

                if (asprintf(&desc, "cdpd copy of %s from %s", op->id, home) < 0 ||
                    asprintf(&token, "cdpd-%s-%s", op->id, op->region) < 0)
                        return -ENOMEM;
                if (strlen(token) > 64)
                        token[64] = '\0';
                r = ec2_query_set(q, "SourceRegion", home);
                if (r >= 0)
                        r = ec2_query_set(q, "SourceImageId", op->id);
                if (r >= 0)
                        r = ec2_query_set(q, "Name", op->name);
                if (r >= 0)
                        r = ec2_query_set(q, "Description", desc);
                if (r >= 0)
                        r = ec2_query_set_bool(q, "CopyImageTags", true);
                /* The same token for the same copy: a repeat returns the
                 * first copy instead of making a second one. */
                if (r >= 0)
                        r = ec2_query_set(q, "ClientToken", token);
                ec2_query_set_idempotent(q, true);
                break;
        }
        default:
                return -EINVAL;
        }
        if (r < 0)
                return r;
        return run_call(run, q, op->region, on_op_done, op, op_free_void);
}

static void queue_pump(SnapRun *run) {
        OpQueue *qu = &run->queue;

        while (!qu->stopped && qu->inflight < MAX(qu->limit, 1u)) {
                Op *op = qu->head;
                int r;

                if (op) {
                        qu->head = op->next;
                        if (!qu->head)
                                qu->tail = NULL;
                        op->next = NULL;
                } else {
                        op = queue_next_delete(run);
                        if (!op)
                                break;
                }
                r = op_submit(run, op);
                if (r < 0) {
                        log_error_errno(r, "cannot send %s for %s", op_actions[op->kind], op->id);
                        run_add_error(run, op_actions[op->kind], op->id, op->region, "LocalError", strerror(-r));
                        op_free(op);
                        continue;
                }
                qu->inflight++;
        }
        if (qu->inflight == 0 && qu->drained &&
            (qu->stopped || (!qu->head && (!qu->plan || qu->plan_next >= qu->plan->n_deletes)))) {
                QueueDoneFn done = qu->drained;

                queue_clear(run, true);
                qu->drained = NULL;
                done(run);
        }
}

/* Runs the queued ops; done runs from the loop (or at once when there is
 * nothing to do) once every op finished or the queue was stopped. */
static void queue_run(SnapRun *run, QueueDoneFn done) {
        run->queue.drained = done;
        run->queue.stopped = false;
        if (run->queue.limit == 0)
                run->queue.limit = MAX(run_config(run)->max_inflight, 1u);
        queue_pump(run);
}

/* ------------------------------------------------------------------------
 * freeze
 * ------------------------------------------------------------------------ */

/* Thaws whatever the pattern froze. Logs only after thawing: a log line
 * must never wait on a frozen file system. */
static void pattern_thaw(SnapshotPattern *sp, const char *why) {
        _cleanup_free_ char *failed = NULL;
        const char *path = NULL;
        size_t n;
        int r;

        sp->freeze_timer = sd_event_source_disable_unref(sp->freeze_timer);
        if (!sp->freeze)
                return;
        n = freeze_set_size(sp->freeze);
        r = freeze_set_thaw(sp->freeze, &path);
        /* path points into the set: keep a copy for the message. */
        if (r < 0 && path)
                failed = strdup(path);
        sp->freeze = freeze_set_free(sp->freeze);
        if (r < 0)
                log_full_fields(LOG_ERR, r, &base_fields, "cannot thaw %s (%s); run fsfreeze -u %s",
                                failed ? failed : "?", why, failed ? failed : "<mount point>");
        else
                log_full_fields(LOG_INFO, 0, &base_fields, "thawed %zu file system%s (%s)", n, n == 1 ? "" : "s",
                                why);
}

static int on_freeze_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        SnapshotPattern *sp = userdata;

        (void) s;
        (void) usec;
        pattern_thaw(sp, "freeze_timeout reached before the create call was answered");
        return 0;
}

static int on_exit_thaw(sd_event_source *s, void *userdata) {
        SnapshotPattern *sp = userdata;

        (void) s;
        pattern_thaw(sp, "cdpd is stopping");
        return 0;
}

/* Freezes config `freeze` around the create call. A failure to freeze is
 * logged and the backup is taken crash-consistent: a backup without the
 * freeze is worth more than none. */
static void run_freeze(SnapRun *run) {
        SnapshotPattern *sp = run->sp;
        const Config *c = run_config(run);
        const char *path = NULL;
        int r;

        if (c->n_freeze == 0)
                return;
        /* Nothing may stay frozen from before; never stack freezes. */
        pattern_thaw(sp, "before a new freeze");
        r = freeze_set_new((const char *const *) c->freeze, c->n_freeze, sp->freeze_ops, &sp->freeze);
        if (r < 0) {
                log_full_fields(LOG_WARNING, r, &base_fields, "cannot prepare the freeze, backing up without it");
                return;
        }
        /* Arm the timer first: if freezing takes its time, the thaw still
         * comes freeze_timeout after the start. */
        r = sd_event_add_time_relative(sp_manager(sp)->event, &sp->freeze_timer, CLOCK_MONOTONIC,
                                       c->freeze_timeout_usec, USEC_PER_MSEC, on_freeze_timeout, sp);
        if (r < 0) {
                sp->freeze = freeze_set_free(sp->freeze);
                log_full_fields(LOG_WARNING, r, &base_fields, "cannot arm the freeze timer, backing up without freeze");
                return;
        }
        r = freeze_set_freeze(sp->freeze, &path);
        if (r < 0) {
                _cleanup_free_ char *failed = path ? strdup(path) : NULL;

                pattern_thaw(sp, "freeze failed");
                log_full_fields(LOG_WARNING, r, &base_fields, "cannot freeze %s (%s), backing up crash-consistent",
                                failed ? failed : "?", freeze_strerror(r));
                run_add_error(run, "FIFREEZE", failed, NULL, "FreezeFailed", freeze_strerror(r));
                return;
        }
        for (size_t i = 0; i < c->n_freeze; i++)
                json_object_array_add(run->j_frozen, json_object_new_string(c->freeze[i]));
}

/* ------------------------------------------------------------------------
 * the run: helpers
 * ------------------------------------------------------------------------ */

static bool error_retryable(int error) {
        return error == -EAGAIN || error == -ETIMEDOUT || error == -ECONNRESET || error == -EBADMSG ||
               error == -ENOKEY || error == -EKEYREJECTED || error == -ECONNREFUSED || error == -EIO;
}

static SnapshotPlanInput run_input(const SnapRun *run, const SnapshotSet *records, const SnapshotSet *parts,
                                   bool home) {
        return (SnapshotPlanInput) {
                .instance_id = run_aws(run)->instance_id,
                .type = run->policy.type,
                .keep = run->policy.keep,
                .records = records->records,
                .n_records = records->n_records,
                .snapshots = parts ? parts->records : NULL,
                .n_snapshots = parts ? parts->n_records : 0,
                .volumes = home ? run->volumes : NULL,
                .n_volumes = home ? run->n_volumes : 0,
        };
}

static const char *run_type_name(const SnapRun *run) {
        return run->policy.type == SNAPSHOT_TYPE_AMI ? "ami" : "ebs";
}

static const char *volume_device(const SnapRun *run, const char *volume_id) {
        for (size_t i = 0; volume_id && i < run->n_volumes; i++)
                if (strcmp(run->volumes[i].volume_id, volume_id) == 0)
                        return run->volumes[i].device;
        return NULL;
}

static void run_fail_call(SnapRun *run, const char *action, int error, const Ec2Response *resp) {
        _cleanup_free_ char *detail = describe_failure(action, run_aws(run)->region, error, resp);

        log_call_error(run, LOG_ERR, action, run_aws(run)->instance_id, error, resp, detail ? detail : action);
        run_add_error(run, action, run_aws(run)->instance_id, run_aws(run)->region, resp ? resp->error_code : NULL,
                      resp && resp->error_message ? resp->error_message : strerror(-error));
        run_set_failed(run, error_retryable(error), resp && resp->error_code ? resp->error_code : "SnapshotFailed",
                       detail);
}

/* Our tags for what this run creates (or copies): managed-by, instance-id,
 * slot, Name, type. */
static int base_tags(const SnapRun *run, time_t slot, const char **keys, const char **values, char **ret_name,
                     char ret_slot[static RFC3339_UTC_STRING_MAX], size_t *ret_n) {
        const SnapshotTagKeys *k = &run->sp->keys;
        int r;

        r = format_rfc3339_utc(slot, ret_slot);
        if (r < 0)
                return r;
        r = snapshot_name(run->name_base, slot, ret_name);
        if (r < 0)
                return r;
        keys[0] = k->managed_by;
        values[0] = SNAPSHOT_MANAGED_BY_VALUE;
        keys[1] = k->instance_id;
        values[1] = run_aws(run)->instance_id;
        keys[2] = k->slot;
        values[2] = ret_slot;
        keys[3] = "Name";
        values[3] = *ret_name;
        keys[4] = k->type;
        values[4] = run_type_name(run);
        *ret_n = 5;
        return 0;
}

/* NVMe device names in the policy: EC2 knows the volume by its attachment
 * name (/dev/sdf), the kernel by /dev/nvme1n1, whose serial number is the
 * volume id without its dash. */
static int resolve_nvme_aliases(SnapRun *run) {
        for (size_t i = 0; i < run->policy.n_devices; i++) {
                const char *dev = run->policy.devices[i];
                _cleanup_free_ char *path = NULL;
                _cleanup_fclose_ FILE *f = NULL;
                char serial[64] = "", vol[80];
                SnapshotVolume *n;
                size_t len;

                if (strncmp(dev, "/dev/nvme", 9) != 0 || strchr(dev + 5, '/'))
                        continue;
                if (asprintf(&path, "/sys/class/block/%s/device/serial", dev + 5) < 0)
                        return -ENOMEM;
                f = fopen(path, "re");
                if (!f || !fgets(serial, sizeof(serial), f))
                        continue;
                len = strcspn(serial, " \n\t");
                serial[len] = '\0';
                if (strncmp(serial, "vol", 3) != 0 || len < 4)
                        continue;
                (void) snprintf(vol, sizeof(vol), "vol-%s", serial[3] == '-' ? serial + 4 : serial + 3);
                n = realloc(run->aliases, (run->n_aliases + 1) * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                run->aliases = n;
                n[run->n_aliases].device = strdup(dev);
                n[run->n_aliases].volume_id = strdup(vol);
                if (!n[run->n_aliases].device || !n[run->n_aliases].volume_id) {
                        free((char *) n[run->n_aliases].device);
                        free((char *) n[run->n_aliases].volume_id);
                        return -ENOMEM;
                }
                run->n_aliases++;
        }
        return 0;
}

static int volumes_add(SnapshotVolume **v, size_t *n, const char *device, const char *volume_id) {
        SnapshotVolume *nv = realloc(*v, (*n + 1) * sizeof(SnapshotVolume));

        if (!nv)
                return -ENOMEM;
        *v = nv;
        nv[*n].device = strdup(device);
        nv[*n].volume_id = strdup(volume_id);
        if (!nv[*n].device || !nv[*n].volume_id) {
                free((char *) nv[*n].device);
                free((char *) nv[*n].volume_id);
                return -ENOMEM;
        }
        (*n)++;
        return 0;
}

static void volumes_free(SnapshotVolume *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free((char *) v[i].device);
                free((char *) v[i].volume_id);
        }
        free(v);
}

/* ------------------------------------------------------------------------
 * phase INSTANCE
 * ------------------------------------------------------------------------ */

static void on_instance(SnapRun *run, int error, const Ec2Response *resp, void *data) {
        _cleanup_(ec2_instance_page_freep) Ec2InstancePage *page = NULL;
        const char *iid = run_aws(run)->instance_id;
        const Ec2Instance *inst = NULL;
        const char *name;
        int r;

        (void) data;
        if (error < 0) {
                run_fail_call(run, "DescribeInstances", error, resp);
                run_finish(run);
                return;
        }
        r = ec2_parse_describe_instances(resp->body, resp->body_len, &page);
        for (size_t i = 0; r >= 0 && i < page->n_instances; i++)
                if (strcmp(page->instances[i].id, iid) == 0)
                        inst = &page->instances[i];
        if (r < 0 || !inst) {
                run_add_error(run, "DescribeInstances", iid, run_aws(run)->region, "MalformedResponse",
                              "the answer does not describe this instance");
                run_set_failed(run, true, "MalformedResponse",
                               "DescribeInstances: the answer does not describe this instance");
                run_finish(run);
                return;
        }

        name = ec2_tags_get(inst->tags, inst->n_tags, "Name");
        run->name_base = strdup(name && *name ? name : iid);
        run->root_device = inst->root_device_name ? strdup(inst->root_device_name) : NULL;
        if (!run->name_base || (inst->root_device_name && !run->root_device))
                goto oom;
        for (size_t i = 0; i < inst->n_block_devices; i++)
                if (inst->block_devices[i].volume_id &&
                    volumes_add(&run->volumes, &run->n_volumes, inst->block_devices[i].device_name,
                                inst->block_devices[i].volume_id) < 0)
                        goto oom;
        if (resolve_nvme_aliases(run) < 0)
                goto oom;

        run->phase = PHASE_LIST;
        run_next_phase(run);
        return;
oom:
        run_set_failed(run, true, "LocalError", strerror(ENOMEM));
        run_finish(run);
}

static int phase_instance(SnapRun *run) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        int r;

        r = ec2_query_new(&q, "DescribeInstances");
        if (r >= 0)
                r = ec2_query_set(q, "InstanceId.1", run_aws(run)->instance_id);
        if (r < 0)
                return r;
        return run_call(run, q, run_aws(run)->region, on_instance, NULL, NULL);
}

/* ------------------------------------------------------------------------
 * phase LIST and DECIDE
 * ------------------------------------------------------------------------ */

static void run_decide(SnapRun *run);

static void on_home_listed(SnapRun *run, int error, const char *detail) {
        if (error < 0) {
                log_full_fields(LOG_ERR, error, &base_fields, "%s; nothing is created or deleted on its basis",
                                detail ? detail : "listing failed");
                run_add_error(run, "List", NULL, run_aws(run)->region, "ListingFailed", detail);
                run_set_failed(run, error_retryable(error) || error == -ENOENT, "ListingFailed", detail);
                run_finish(run);
                return;
        }
        run_decide(run);
}

static void on_home_images_listed(SnapRun *run, int error, const char *detail) {
        int r;

        if (error < 0) {
                on_home_listed(run, error, detail);
                return;
        }
        /* The snapshots of our images, to delete with them (ours only). */
        r = run_list(run, LIST_SNAPSHOTS, run_aws(run)->region, NULL, NULL, 0, &run->home_parts, on_home_listed);
        if (r < 0)
                on_home_listed(run, r, "DescribeSnapshots: cannot start the listing");
}

static int phase_list(SnapRun *run) {
        if (run->policy.type == SNAPSHOT_TYPE_AMI)
                return run_list(run, LIST_IMAGES, run_aws(run)->region, NULL, NULL, 0, &run->home,
                                on_home_images_listed);
        return run_list(run, LIST_SNAPSHOTS, run_aws(run)->region, NULL, NULL, 0, &run->home, on_home_listed);
}

static void run_set_slot(SnapRun *run, time_t slot) {
        char buf[RFC3339_UTC_STRING_MAX];

        run->slot = slot;
        if (format_rfc3339_utc(slot, buf) < 0)
                strcpy(buf, "?");
        strcpy(run->slot_text, buf);
}

static SnapshotVolumeChoice *run_choice(SnapRun *run);

static void run_decide(SnapRun *run) {
        SnapshotPlanInput in = run_input(run, &run->home, &run->home_parts, true);

        if (run->trigger == TRIGGER_CATCH_UP) {
                uint64_t now = now_realtime();
                time_t prev;

                if (!run->sp->job ||
                    sched_job_prev_slot(run->sp->job, (time_t) ((now - MIN(now, run->sp->splay)) / USEC_PER_SEC),
                                        &prev) < 0 ||
                    !snapshot_plan_need_catch_up(&in, prev)) {
                        /* Nothing was missed: this was only a look. */
                        run->phase = PHASE_DONE;
                        run_finish(run);
                        return;
                }
                run_set_slot(run, prev);
                run->decided = true;
                log_full_fields(LOG_NOTICE, 0, &base_fields,
                                "the newest backup is older than one period: catching up slot %s", run->slot_text);
        }

        if (snapshot_plan_slot_taken(&in, run->slot)) {
                run->slot_taken = true;
                log_full_fields(LOG_INFO, 0, &base_fields, "slot %s already has a backup, not taking it again",
                                run->slot_text);
                run->phase = PHASE_PRUNE;
                run_next_phase(run);
                return;
        }

        if (run->policy.type == SNAPSHOT_TYPE_EBS) {
                SnapshotVolumeChoice *c = run_choice(run);
                int r;

                if (!c) {
                        run_set_failed(run, true, "LocalError", strerror(ENOMEM));
                        run_finish(run);
                        return;
                }
                r = snapshot_plan_volumes(&run->policy, run->volumes, run->n_volumes, run->root_device,
                                          run->aliases, run->n_aliases, c);
                if (r < 0) {
                        _cleanup_free_ char *msg = NULL;

                        msg = strprintf("no EBS volume of %s matches %ssnapshot:volumes=%s",
                                        run_aws(run)->instance_id, run_config(run)->tag_prefix,
                                        snapshot_volumes_to_string(run->policy.volumes));
                        log_full_fields(LOG_ERR, r, &base_fields, "%s", msg ? msg : "no volume to back up");
                        run_set_failed(run, false, "NoVolume", msg);
                        run_finish(run);
                        return;
                }
                for (size_t i = 0; i < c->n_missing; i++)
                        log_full_fields(LOG_WARNING, 0, &base_fields,
                                        "%ssnapshot:volumes names %s, which is not attached here, ignoring",
                                        run_config(run)->tag_prefix, c->missing[i]);
        }

        if (run->dry_run) {
                /* What it would create. The plan then sees it as made and
                 * completed, as the real run's prune (after FOLLOW) would:
                 * the same decisions, from the same code. */
                SnapshotRecord would = {
                        .state = SNAPSHOT_STATE_COMPLETED,
                        .managed_by = (char *) SNAPSHOT_MANAGED_BY_VALUE,
                        .instance_id = run_aws(run)->instance_id,
                        .slot = run->slot,
                        .type = (char *) run_type_name(run),
                };
                int r = 0;

                if (run->policy.type == SNAPSHOT_TYPE_AMI) {
                        _cleanup_free_ char *name = NULL;
                        struct json_object *o = json_object_new_object();

                        (void) snapshot_image_name(run->name_base, run_aws(run)->instance_id, run->slot, &name);
                        json_object_object_add(o, "name", json_str(name));
                        json_object_array_add(run->j_created, o);
                        would.id = (char *) "(new image)";
                        would.name = name;
                        r = snapshot_set_add(&run->home, &would);
                } else {
                        const SnapshotVolumeChoice *c = run_choice(run);

                        for (size_t i = 0; r >= 0 && i < c->n_included; i++) {
                                struct json_object *o = json_object_new_object();
                                _cleanup_free_ char *id = NULL;

                                json_object_object_add(o, "volume_id", json_str(c->included[i]->volume_id));
                                json_object_object_add(o, "device", json_str(c->included[i]->device));
                                json_object_array_add(run->j_created, o);
                                if (asprintf(&id, "(new %s)", c->included[i]->device) < 0) {
                                        r = -ENOMEM;
                                        break;
                                }
                                would.id = id;
                                would.device = (char *) c->included[i]->device;
                                would.volume_id = (char *) c->included[i]->volume_id;
                                r = snapshot_set_add(&run->home, &would);
                        }
                }
                if (r < 0) {
                        run_set_failed(run, true, "LocalError", strerror(-r));
                        run_finish(run);
                        return;
                }
                run->phase = PHASE_PRUNE;
                run_next_phase(run);
                return;
        }

        run->phase = PHASE_PRE_HOOKS;
        run_next_phase(run);
}

/* ------------------------------------------------------------------------
 * phases PRE_HOOKS, CREATE, POST_HOOKS
 * ------------------------------------------------------------------------ */

static void on_hook_result(const char *name, int status, void *userdata) {
        SnapRun *run = userdata;
        const LogFields f = { .pattern = PATTERN_NAME, .action = "hook", .resource = name };

        if (status == 0)
                log_full_fields(LOG_INFO, 0, &f, "hook %s finished", name);
        else if (status == -ETIMEDOUT)
                log_full_fields(LOG_WARNING, 0, &f, "hook %s killed at its time limit, continuing", name);
        else if (status < 0)
                log_full_fields(LOG_WARNING, status, &f, "hook %s failed, continuing", name);
        else
                log_full_fields(LOG_WARNING, 0, &f, "hook %s exited with status %d, continuing", name, status);
        if (status != 0)
                run_add_error(run, "hook", name, NULL, "HookFailed",
                              status == -ETIMEDOUT ? "killed at its time limit" : "failed");
}

static void on_hooks_done(unsigned n_run, unsigned n_failed, void *userdata) {
        SnapRun *run = userdata;

        (void) n_run;
        (void) n_failed;
        run->hooks = NULL;
        /* pre-snapshot hooks lead to the create, post-snapshot ones onwards. */
        if (run->phase == PHASE_PRE_HOOKS)
                run->phase = PHASE_CREATE;
        else if (run->create == CREATE_ACCEPTED)
                run->phase = run->policy.type == SNAPSHOT_TYPE_EBS ? PHASE_TAG : PHASE_FOLLOW;
        else if (run->create == CREATE_UNKNOWN)
                run->phase = PHASE_VERIFY;
        else {
                run_finish(run);
                return;
        }
        run_next_phase(run);
}

static int run_hooks(SnapRun *run, const char *event_name) {
        const Config *c = run_config(run);
        _cleanup_free_ char *e_id = NULL, *e_slot = NULL, *e_type = NULL, *e_result = NULL, *e_ids = NULL;
        _cleanup_strbuf_ StrBuf ids = STRBUF_INIT(64 * 1024);
        const char *result;
        int r;

        for (size_t i = 0; i < run->n_created; i++)
                if (strbuf_printf(&ids, "%s%s", i ? " " : "", run->created[i]) < 0)
                        break;
        result = run->create == CREATE_ACCEPTED ? "accepted" : run->create == CREATE_UNKNOWN ? "unknown" : "failed";
        if (asprintf(&e_id, "CDP_INSTANCE_ID=%s", run_aws(run)->instance_id) < 0 ||
            asprintf(&e_slot, "CDP_SLOT=%s", run->slot_text) < 0 ||
            asprintf(&e_type, "CDP_SNAPSHOT_TYPE=%s", run_type_name(run)) < 0 ||
            asprintf(&e_result, "CDP_RESULT=%s", result) < 0 ||
            asprintf(&e_ids, "CDP_SNAPSHOT_IDS=%s", ids.data ? ids.data : "") < 0)
                return -ENOMEM;
        const char *env_pre[] = { e_id, e_slot, e_type, NULL };
        const char *env_post[] = { e_id, e_slot, e_type, e_result, e_ids, NULL };
        r = hooks_run(sp_manager(run->sp)->event, c->hooks_dir, event_name,
                      strcmp(event_name, "pre-snapshot") == 0 ? env_pre : env_post, c->hook_timeout_usec,
                      on_hook_result, on_hooks_done, run, &run->hooks);
        return r;
}

static int run_add_created(SnapRun *run, const SnapshotRecord *rec) {
        struct json_object *o;
        int r;

        r = strv_push(&run->created, &run->n_created, rec->id);
        if (r < 0)
                return r;
        if (!snapshot_set_find(&run->home, rec->id)) {
                r = snapshot_set_add(&run->home, rec);
                if (r < 0)
                        return r;
        }
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "id", json_str(rec->id));
        if (run->policy.type == SNAPSHOT_TYPE_EBS) {
                json_object_object_add(o, "volume_id", json_str(rec->volume_id));
                json_object_object_add(o, "device", json_str(rec->device ? rec->device
                                                                         : volume_device(run, rec->volume_id)));
        } else
                /* Its snapshots show once it is described (DescribeImages). */
                json_object_object_add(o, "name", json_str(rec->name));
        json_object_array_add(run->j_created, o);
        return 0;
}

static void on_create_done(SnapRun *run, int error, const Ec2Response *resp, void *data) {
        const char *action = run->policy.type == SNAPSHOT_TYPE_AMI ? "CreateImage" : "CreateSnapshots";
        const char *iid = run_aws(run)->instance_id;
        int r = 0;

        (void) data;
        /* First thing, before any log line: thaw. */
        pattern_thaw(run->sp, "create call answered");

        if (error == 0) {
                if (run->policy.type == SNAPSHOT_TYPE_EBS) {
                        _cleanup_(ec2_snapshot_page_freep) Ec2SnapshotPage *p = NULL;

                        r = ec2_parse_create_snapshots(resp->body, resp->body_len, &p);
                        for (size_t i = 0; r >= 0 && i < p->n_snapshots; i++) {
                                const Ec2Snapshot *s = &p->snapshots[i];
                                SnapshotRecord rec = {
                                        .id = s->id,
                                        .state = snapshot_state_from_ec2(s->state, false),
                                        .managed_by = (char *) SNAPSHOT_MANAGED_BY_VALUE,
                                        .instance_id = (char *) iid,
                                        .slot = run->slot,
                                        .volume_id = s->volume_id,
                                        .type = (char *) "ebs",
                                };
                                r = run_add_created(run, &rec);
                                log_write(run, action, s->id, resp, "created snapshot %s of %s (%s) for slot %s",
                                          s->id, s->volume_id ? s->volume_id : "?",
                                          volume_device(run, s->volume_id) ?: "?", run->slot_text);
                        }
                } else {
                        _cleanup_free_ char *id = NULL, *name = NULL;

                        r = ec2_parse_create_image(resp->body, resp->body_len, &id, NULL);
                        if (r >= 0)
                                r = snapshot_image_name(run->name_base, iid, run->slot, &name);
                        if (r >= 0) {
                                SnapshotRecord rec = {
                                        .id = id,
                                        .state = SNAPSHOT_STATE_PENDING,
                                        .managed_by = (char *) SNAPSHOT_MANAGED_BY_VALUE,
                                        .instance_id = (char *) iid,
                                        .slot = run->slot,
                                        .type = (char *) "ami",
                                        .name = name,
                                };
                                r = run_add_created(run, &rec);
                                log_write(run, action, id, resp, "created image %s (%s) for slot %s", id, name,
                                          run->slot_text);
                        }
                }
                if (r < 0) {
                        /* It was made but we cannot tell what: find out by listing. */
                        log_call_error(run, LOG_WARNING, action, iid, r, resp,
                                       "the create answer could not be read; looking for the backup");
                        run->create = CREATE_UNKNOWN;
                } else
                        run->create = CREATE_ACCEPTED;
        } else if (error == -ETIMEDOUT || error == -ECONNRESET || error == -EBADMSG) {
                _cleanup_free_ char *detail = describe_failure(action, run_aws(run)->region, error, resp);

                log_call_error(run, LOG_WARNING, action, iid, error, resp, detail ? detail : action);
                run->create = CREATE_UNKNOWN;
        } else {
                run_fail_call(run, action, error, resp);
                run->create = CREATE_FAILED;
        }

        run->phase = PHASE_POST_HOOKS;
        run_next_phase(run);
}

static SnapshotVolumeChoice *run_choice(SnapRun *run);

static int phase_create(SnapRun *run) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        _cleanup_free_ char *name = NULL, *desc = NULL, *image_name = NULL;
        char slot_buf[RFC3339_UTC_STRING_MAX];
        const char *keys[6], *values[6];
        size_t n;
        int r;

        r = base_tags(run, run->slot, keys, values, &name, slot_buf, &n);
        if (r < 0)
                return r;
        if (asprintf(&desc, "cdpd backup of %s, slot %s", run_aws(run)->instance_id, run->slot_text) < 0)
                return -ENOMEM;

        if (run->policy.type == SNAPSHOT_TYPE_EBS) {
                const SnapshotVolumeChoice *c = run_choice(run);

                r = ec2_query_new(&q, "CreateSnapshots");
                if (r >= 0)
                        r = ec2_query_set(q, "InstanceSpecification.InstanceId", run_aws(run)->instance_id);
                if (r >= 0 && c->exclude_boot)
                        r = ec2_query_set_bool(q, "InstanceSpecification.ExcludeBootVolume", true);
                if (r >= 0 && c->n_exclude_data > 0)
                        r = ec2_query_add_list(q, "InstanceSpecification.ExcludeDataVolumeId", c->exclude_data,
                                               c->n_exclude_data);
                if (r >= 0)
                        r = ec2_query_set(q, "Description", desc);
                /* Every snapshot of the set gets these; the per-volume ones
                 * follow in phase TAG. */
                if (r >= 0)
                        r = ec2_query_add_tag_spec(q, "snapshot", keys, values, n);
        } else {
                r = snapshot_image_name(run->name_base, run_aws(run)->instance_id, run->slot, &image_name);
                if (r >= 0)
                        r = ec2_query_new(&q, "CreateImage");
                if (r >= 0)
                        r = ec2_query_set(q, "InstanceId", run_aws(run)->instance_id);
                if (r >= 0)
                        r = ec2_query_set(q, "Name", image_name);
                if (r >= 0)
                        r = ec2_query_set(q, "Description", desc);
                if (r >= 0)
                        r = ec2_query_set_bool(q, "NoReboot", true);
                if (r >= 0)
                        r = ec2_query_add_tag_spec(q, "image", keys, values, n);
                if (r >= 0)
                        r = ec2_query_add_tag_spec(q, "snapshot", keys, values, n);
        }
        if (r < 0)
                return r;

        /* Never retried blindly (not idempotent): a lost answer is looked
         * for in phase VERIFY before anything else happens. */
        ec2_query_set_idempotent(q, false);
        run_freeze(run);
        r = run_call(run, q, run_aws(run)->region, on_create_done, NULL, NULL);
        if (r < 0)
                pattern_thaw(run->sp, "the create call could not be sent");
        return r;
}

/* ------------------------------------------------------------------------
 * phases VERIFY and TAG
 * ------------------------------------------------------------------------ */

static void on_verified(SnapRun *run, int error, const char *detail) {
        SnapshotPlanInput in;
        bool found = false;
        int r;

        if (error < 0) {
                _cleanup_free_ char *msg = NULL;

                msg = strprintf("the create call for slot %s got no answer and checking for its backup failed "
                                "(%s); the slot is tried again later", run->slot_text, detail ? detail : "?");
                log_full_fields(LOG_ERR, error, &base_fields, "%s", msg ? msg : "verify failed");
                run_set_failed(run, true, "CreateOutcomeUnknown", msg);
                run_finish(run);
                return;
        }
        in = run_input(run, &run->found, NULL, true);
        for (size_t i = 0; i < run->found.n_records; i++) {
                const SnapshotRecord *rec = &run->found.records[i];

                if (!snapshot_record_is_ours(rec, in.instance_id) || rec->slot != run->slot ||
                    rec->state == SNAPSHOT_STATE_ERROR)
                        continue;
                if (run->policy.type == SNAPSHOT_TYPE_EBS && rec->type && strcmp(rec->type, "ami") == 0)
                        continue;
                found = true;
                r = run_add_created(run, rec);
                if (r < 0) {
                        run_set_failed(run, true, "LocalError", strerror(-r));
                        run_finish(run);
                        return;
                }
        }
        snapshot_set_done(&run->found);
        if (!found) {
                _cleanup_free_ char *msg = NULL;

                msg = strprintf("the create call for slot %s got no answer and made no backup; "
                                "the slot is tried again later", run->slot_text);
                log_full_fields(LOG_WARNING, 0, &base_fields, "%s", msg ? msg : "no backup");
                run_set_failed(run, true, "CreateOutcomeUnknown", msg);
                run_finish(run);
                return;
        }
        log_full_fields(LOG_NOTICE, 0, &base_fields, "the create call's answer was lost, but its backup exists (%zu)",
                        run->n_created);
        run->create = CREATE_ACCEPTED;
        run->phase = run->policy.type == SNAPSHOT_TYPE_EBS ? PHASE_TAG : PHASE_FOLLOW;
        run_next_phase(run);
}

static int on_verify_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        SnapRun *run = userdata;
        int r;

        (void) s;
        (void) usec;
        run->timer = sd_event_source_disable_unref(run->timer);
        r = run_list(run, run->policy.type == SNAPSHOT_TYPE_AMI ? LIST_IMAGES : LIST_SNAPSHOTS,
                     run_aws(run)->region, run->slot_text, NULL, 0, &run->found, on_verified);
        if (r < 0)
                on_verified(run, r, "cannot start the listing");
        return 0;
}

static int phase_verify(SnapRun *run) {
        /* Give a create that did happen the moment EC2 needs to show it. */
        return sd_event_add_time_relative(sp_manager(run->sp)->event, &run->timer, CLOCK_MONOTONIC,
                                          run->sp->timings.verify_delay_usec,
                                          timer_accuracy(run->sp->timings.verify_delay_usec), on_verify_timer, run);
}

static void on_tagged(SnapRun *run) {
        run->phase = PHASE_FOLLOW;
        run_next_phase(run);
}

/* CreateSnapshots tags every snapshot of the set alike: the device and the
 * volume go on each one right after. Until then (or if this fails) the
 * pruner places a snapshot by its volume id. */
static int phase_tag(SnapRun *run) {
        const SnapshotTagKeys *k = &run->sp->keys;

        for (size_t i = 0; i < run->n_created; i++) {
                SnapshotRecord *rec = snapshot_set_find(&run->home, run->created[i]);
                const char *dev;
                Op *op;

                if (!rec || rec->device || !rec->volume_id)
                        continue;
                dev = volume_device(run, rec->volume_id);
                if (!dev)
                        continue;
                op = op_new(OP_TAG, run_aws(run)->region, rec->id);
                if (!op || op_add_tag(op, k->device, dev) < 0 || op_add_tag(op, k->volume_id, rec->volume_id) < 0) {
                        op_free(op);
                        return -ENOMEM;
                }
                queue_push(run, op);
                /* The plan of this run already knows. */
                rec->device = snapshot_set_intern(&run->home, dev);
        }
        queue_run(run, on_tagged);
        return 0;
}

/* ------------------------------------------------------------------------
 * phase PRUNE (home region and copy regions)
 * ------------------------------------------------------------------------ */

static bool run_policy_current(const SnapRun *run) {
        return run->sp->policy_gen == run->policy_gen && run->sp->enabled;
}

static void report_delete(SnapRun *run, const char *region, const SnapshotDelete *d) {
        struct json_object *o;

        if (!report_room(run, run->j_deleted))
                return;
        o = json_object_new_object();
        if (!o)
                return;
        json_object_object_add(o, "region", json_str(region));
        json_object_object_add(o, "id", json_str(d->record->id));
        json_object_object_add(o, "kind", json_str(run->policy.type == SNAPSHOT_TYPE_AMI &&
                                                           d->reason != SNAPSHOT_DELETE_ORPHANED
                                                   ? "image"
                                                   : "snapshot"));
        json_object_object_add(o, "reason", json_str(snapshot_delete_reason_to_string(d->reason)));
        if (d->n_image_snapshots > 0) {
                struct json_object *a = json_object_new_array();

                for (size_t i = 0; i < d->n_image_snapshots; i++)
                        json_object_array_add(a, json_object_new_string(d->image_snapshots[i]));
                json_object_object_add(o, "snapshots", a);
        }
        json_object_array_add(run->j_deleted, o);
}

/* Turns a plan into delete ops (or, in a dry run, into the report). Every
 * record is checked once more for both ownership tags right here. */
/* The op for the plan's next delete, or NULL when there is none left. Every
 * record is checked once more for both ownership tags right here, before
 * anything is sent. */
static Op *queue_next_delete(SnapRun *run) {
        OpQueue *qu = &run->queue;
        const char *iid = run_aws(run)->instance_id;

        while (qu->plan && qu->plan_next < qu->plan->n_deletes) {
                const SnapshotDelete *d = &qu->plan->deletes[qu->plan_next++];
                Op *op;

                if (!snapshot_record_is_ours(d->record, iid)) {
                        log_full_fields(LOG_CRIT, 0, &base_fields, "refusing to delete %s: not tagged as ours",
                                        d->record->id);
                        continue;
                }
                if (d->record->type && strcmp(d->record->type, "ami") == 0 && run->policy.type == SNAPSHOT_TYPE_EBS) {
                        log_full_fields(LOG_CRIT, 0, &base_fields, "refusing to delete %s: part of an image",
                                        d->record->id);
                        continue;
                }
                op = op_new(run->policy.type == SNAPSHOT_TYPE_AMI && d->reason != SNAPSHOT_DELETE_ORPHANED
                                    ? OP_DEREGISTER_IMAGE
                                    : OP_DELETE_SNAPSHOT,
                            qu->plan_region, d->record->id);
                if (!op) {
                        log_error_errno(-ENOMEM, "cannot delete %s", d->record->id);
                        run->n_deferred++;
                        continue;
                }
                op->reason = snapshot_delete_reason_to_string(d->reason);
                for (size_t k = 0; k < d->n_image_snapshots; k++) {
                        const SnapshotRecord *part = snapshot_set_find(qu->plan_parts, d->image_snapshots[k]);

                        if (!part || !snapshot_record_is_ours(part, iid))
                                continue;
                        if (strv_push(&op->parts, &op->n_parts, part->id) < 0) {
                                log_error_errno(-ENOMEM, "cannot delete the snapshots of %s", d->record->id);
                                break;
                        }
                }
                if (d->n_foreign_snapshots > 0)
                        log_full_fields(LOG_INFO, 0, &base_fields,
                                        "image %s: %zu of its snapshots are not ours or still in use; they stay",
                                        d->record->id, d->n_foreign_snapshots);
                return op;
        }
        return NULL;
}

/* Hands the plan's deletes to the queue (taking *plan), or in a dry run
 * reports them. */
static void run_queue_deletes(SnapRun *run, SnapshotPlan **plan, const char *region, const SnapshotSet *parts) {
        if (run->dry_run) {
                const char *iid = run_aws(run)->instance_id;

                for (size_t i = 0; i < (*plan)->n_deletes; i++) {
                        const SnapshotDelete *d = &(*plan)->deletes[i];

                        if (!snapshot_record_is_ours(d->record, iid))
                                continue;
                        run->n_deleted++;
                        report_delete(run, region, d);
                }
                return;
        }
        snapshot_plan_free(run->queue.plan);
        run->queue.plan = TAKE_PTR(*plan);
        run->queue.plan_next = 0;
        run->queue.plan_region = region;
        run->queue.plan_parts = parts;
}

static void update_generations(SnapRun *run, const SnapshotPlan *plan) {
        struct json_object *g = json_object_new_object(), *failed = json_object_new_array();
        SnapshotPattern *sp = run->sp;

        for (size_t i = 0; g && i < plan->n_groups; i++)
                json_object_object_add(g, plan->groups[i].key, json_object_new_int((int) plan->groups[i].kept));
        json_object_put(run->j_generations);
        run->j_generations = g;
        run->n_kept = (unsigned) plan->n_kept;

        for (size_t i = 0; failed && i < run->home.n_records; i++) {
                const SnapshotRecord *rec = &run->home.records[i];

                if (rec->state == SNAPSHOT_STATE_ERROR && snapshot_record_is_ours(rec, run_aws(run)->instance_id))
                        json_object_array_add(failed, json_object_new_string(rec->id));
        }
        if (run->dry_run) {
                json_object_put(failed);
                return;
        }
        json_object_put(sp->generations);
        sp->generations = g ? json_object_get(g) : NULL;
        json_object_put(sp->failed_ids);
        sp->failed_ids = failed;
}

static void on_pruned(SnapRun *run) {
        run->phase = PHASE_COPY;
        run_next_phase(run);
}

static int phase_prune(SnapRun *run) {
        _cleanup_(snapshot_plan_freep) SnapshotPlan *plan = NULL;
        SnapshotPlanInput in = run_input(run, &run->home, &run->home_parts, true);
        int r;

        /* A dry run decides as if its create had been accepted. */
        in.create_accepted = run->create == CREATE_ACCEPTED || run->slot_taken || run->dry_run;
        in.run_slot = run->slot;
        r = snapshot_plan_prune(&in, &plan);
        if (r < 0)
                return r;
        update_generations(run, plan);

        if (!run_policy_current(run)) {
                log_full_fields(LOG_NOTICE, 0, &base_fields,
                                "the snapshot policy changed during the run: pruning waits for the next run");
                on_pruned(run);
                return 0;
        }
        if (plan->prune_skipped) {
                log_full_fields(LOG_INFO, 0, &base_fields, "not pruning: this run created nothing");
                on_pruned(run);
                return 0;
        }
        run_queue_deletes(run, &plan, run_aws(run)->region, &run->home_parts);
        queue_run(run, on_pruned);
        return 0;
}

/* ------------------------------------------------------------------------
 * phase FOLLOW
 * ------------------------------------------------------------------------ */

/* The ids of set still pending among ids (all of them in ret, or just
 * counted when ret is NULL). */
static size_t pending_among(const SnapshotSet *set, char *const *ids, size_t n_ids, char ***ret) {
        char **l = NULL;
        size_t n = 0;

        for (size_t i = 0; i < n_ids; i++) {
                const SnapshotRecord *rec = snapshot_set_find(set, ids[i]);

                if (!rec || rec->state != SNAPSHOT_STATE_PENDING)
                        continue;
                if (ret && strv_push(&l, &n, rec->id) < 0)
                        break;
                if (!ret)
                        n++;
        }
        if (ret)
                *ret = l;
        return n;
}

/* What this run created that is still pending (for the reply). */
static size_t run_pending(const SnapRun *run, char ***ret) {
        return pending_among(&run->home, run->created, run->n_created, ret);
}

static void run_reply(SnapRun *run, bool in_progress);

static int follow_arm(SnapRun *run);

static void follow_end(SnapRun *run) {
        QueueDoneFn done = run->follow.done;

        run->timer = sd_event_source_disable_unref(run->timer);
        run->follow = (Follow) {};
        done(run);
}

static void on_polled(SnapRun *run, int error, const char *detail) {
        Follow *f = &run->follow;
        bool image = f->kind == LIST_IMAGES;

        if (error == -ENOENT) {
                /* Someone deleted one: there is nothing left to follow there. */
                log_full_fields(LOG_WARNING, 0, &base_fields, "%s; not following it further", detail ? detail : "gone");
                follow_end(run);
                return;
        }
        if (error < 0)
                /* Only a look: try again at the next tick. */
                log_full_fields(LOG_DEBUG, error, &base_fields, "%s", detail ? detail : "poll failed");
        for (size_t i = 0; error >= 0 && i < run->found.n_records; i++) {
                const SnapshotRecord *found = &run->found.records[i];
                SnapshotRecord *rec = snapshot_set_find(f->set, found->id);
                const LogFields lf = { .pattern = PATTERN_NAME, .action = list_action(f->kind), .resource = found->id };

                if (!rec)
                        continue;
                /* An image's snapshots show once it is described. */
                if (rec->n_snapshot_ids == 0 && found->n_snapshot_ids > 0) {
                        char **ids = NULL;

                        if (strv_copy_n(found->snapshot_ids, found->n_snapshot_ids, &ids) >= 0) {
                                rec->snapshot_ids = ids;
                                rec->n_snapshot_ids = found->n_snapshot_ids;
                        }
                }
                if (rec->state == found->state)
                        continue;
                rec->state = found->state;
                if (found->state == SNAPSHOT_STATE_COMPLETED)
                        log_full_fields(LOG_INFO, 0, &lf, "%s %s in %s is %s", image ? "image" : "snapshot", found->id,
                                        f->region, image ? "available" : "completed");
                else if (found->state == SNAPSHOT_STATE_ERROR) {
                        /* Reported, never counted as a generation. */
                        log_full_fields(LOG_ERR, 0, &lf, "%s %s in %s (slot %s) failed: state error",
                                        image ? "image" : "snapshot", found->id, f->region, run->slot_text);
                        run_add_error(run, lf.action, found->id, f->region, "BackupFailed",
                                      "the backup ended in state error");
                        free(run->sp->last_error);
                        if (asprintf(&run->sp->last_error, "%s %s in %s (slot %s) failed", image ? "image" : "snapshot",
                                     found->id, f->region, run->slot_text) < 0)
                                run->sp->last_error = NULL;
                        run->sp->last_error_at = now_realtime();
                }
        }
        snapshot_set_done(&run->found);

        if (pending_among(f->set, f->ids, f->n_ids, NULL) == 0 || run->follow_abandoned) {
                if (run->follow_abandoned)
                        log_full_fields(LOG_INFO, 0, &base_fields,
                                        "a new slot is due: not following slot %s further", run->slot_text);
                follow_end(run);
                return;
        }
        /* A manual run answers now; the rest goes on in the background. */
        if (run->req && !run->replied)
                run_reply(run, true);
        f->delay = MIN(f->delay * 2, run->sp->timings.poll_max_usec);
        if (now_monotonic() + f->delay > f->deadline) {
                log_full_fields(LOG_WARNING, 0, &base_fields,
                                "backups of slot %s in %s still pending; not following them further (a later run "
                                "counts, copies and prunes them)", run->slot_text, f->region);
                follow_end(run);
                return;
        }
        if (follow_arm(run) < 0)
                follow_end(run);
}

static int on_follow_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        SnapRun *run = userdata;
        Follow *f = &run->follow;
        char **pending = NULL;
        size_t n;
        int r;

        (void) s;
        (void) usec;
        run->timer = sd_event_source_disable_unref(run->timer);
        n = pending_among(f->set, f->ids, f->n_ids, &pending);
        if (n == 0) {
                follow_end(run);
                return 0;
        }
        r = run_list(run, f->kind, f->region, NULL, pending, n, &run->found, on_polled);
        strv_free_n(pending, n);
        if (r < 0)
                follow_end(run);
        return 0;
}

static int follow_arm(SnapRun *run) {
        return sd_event_add_time_relative(sp_manager(run->sp)->event, &run->timer, CLOCK_MONOTONIC, run->follow.delay,
                                          timer_accuracy(run->follow.delay), on_follow_timer, run);
}

/* Describes ids (records of set, in region) by id until none is pending,
 * with a doubling delay, for at most follow_max; then done. ids and set are
 * borrowed and must stay until done. */
static void follow_start(SnapRun *run, ListKind kind, const char *region, SnapshotSet *set, char **ids, size_t n_ids,
                         QueueDoneFn done) {
        run->follow = (Follow) {
                .active = true,
                .kind = kind,
                .region = region,
                .set = set,
                .ids = ids,
                .n_ids = n_ids,
                .done = done,
                .delay = run->sp->timings.poll_first_usec,
                .deadline = now_monotonic() + run->sp->timings.follow_max_usec,
        };
        if (run->dry_run || run->follow_abandoned || pending_among(set, ids, n_ids, NULL) == 0 || follow_arm(run) < 0)
                follow_end(run);
}

static void on_home_followed(SnapRun *run) {
        run->phase = PHASE_PRUNE;
        run_next_phase(run);
}

static int phase_follow(SnapRun *run) {
        follow_start(run, run->policy.type == SNAPSHOT_TYPE_AMI ? LIST_IMAGES : LIST_SNAPSHOTS, run_aws(run)->region,
                     &run->home, run->created, run->n_created, on_home_followed);
        return 0;
}

/* A new slot is due while this run only waits for completion: stop waiting. */
static void run_abandon_follow(SnapRun *run) {
        run->follow_abandoned = true;
        if (run->follow.active && !run->list.active && run->timer)
                follow_end(run);
}

/* ------------------------------------------------------------------------
 * phase COPY
 * ------------------------------------------------------------------------ */

static void copy_next_region(SnapRun *run);

static void on_dest_pruned(SnapRun *run) {
        run->region_index++;
        copy_next_region(run);
}

/* CopyImage leaves the snapshots of the copy untagged: adopt those of our
 * available images, so that they can go with their image later. */
static int queue_adopt_parts(SnapRun *run, const char *region) {
        _cleanup_free_ const char **ids = NULL;
        SnapshotPlanInput in = run_input(run, &run->dest, &run->dest_parts, false);
        size_t n = 0;
        int r;

        r = snapshot_plan_untagged_image_parts(&in, &ids, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                const SnapshotRecord *img = NULL;
                char slot_buf[RFC3339_UTC_STRING_MAX];
                Op *op;

                for (size_t k = 0; k < run->dest.n_records && !img; k++)
                        for (size_t j = 0; j < run->dest.records[k].n_snapshot_ids; j++)
                                if (strcmp(run->dest.records[k].snapshot_ids[j], ids[i]) == 0)
                                        img = &run->dest.records[k];
                if (!img || format_rfc3339_utc(img->slot, slot_buf) < 0)
                        continue;
                op = op_new(OP_TAG, region, ids[i]);
                if (!op || op_add_tag(op, run->sp->keys.managed_by, SNAPSHOT_MANAGED_BY_VALUE) < 0 ||
                    op_add_tag(op, run->sp->keys.instance_id, run_aws(run)->instance_id) < 0 ||
                    op_add_tag(op, run->sp->keys.slot, slot_buf) < 0 || op_add_tag(op, run->sp->keys.type, "ami") < 0 ||
                    op_add_tag(op, run->sp->keys.source_id, img->id) < 0) {
                        op_free(op);
                        return -ENOMEM;
                }
                op->adopt = true;
                queue_push(run, op);
        }
        return 0;
}

static void dest_prune(SnapRun *run) {
        _cleanup_(snapshot_plan_freep) SnapshotPlan *plan = NULL;
        const char *region = run->policy.copy_to[run->region_index];
        SnapshotPlanInput in = run_input(run, &run->dest, &run->dest_parts, false);
        int r;

        /* Pruning there follows the same rule: only after this run's copy
         * was accepted (or nothing needed copying). */
        in.create_accepted = run->copies_ok || run->dry_run;
        in.run_slot = run->slot;
        r = snapshot_plan_prune(&in, &plan);
        if (r < 0) {
                log_full_fields(LOG_ERR, r, &base_fields, "cannot plan the pruning in %s", region);
                run_add_error(run, "Prune", NULL, region, "LocalError", strerror(-r));
                queue_clear(run, false);
                on_dest_pruned(run);
                return;
        }
        if (plan->prune_skipped)
                log_full_fields(LOG_INFO, 0, &base_fields, "not pruning in %s: a copy failed", region);
        else if (run_policy_current(run))
                run_queue_deletes(run, &plan, region, &run->dest_parts);
        if (run->dry_run) {
                on_dest_pruned(run);
                return;
        }
        queue_run(run, on_dest_pruned);
}

/* AMI: the snapshots of our available images there get our tags before the
 * prune is planned, so that an image pruned there takes its snapshots along. */
static void dest_adopt(SnapRun *run) {
        const char *region = run->policy.copy_to[run->region_index];
        int r;

        if (run->dry_run || run->policy.type != SNAPSHOT_TYPE_AMI) {
                dest_prune(run);
                return;
        }
        r = queue_adopt_parts(run, region);
        if (r < 0) {
                log_full_fields(LOG_ERR, r, &base_fields, "cannot tag the snapshots of our images in %s", region);
                queue_clear(run, false);
        }
        queue_run(run, dest_prune);
}

/* Copies in flight are followed like the home backups: the region's prune
 * comes once they completed (or stopped being followed). */
static void on_copies_done(SnapRun *run) {
        const char *region = run->policy.copy_to[run->region_index];

        if (run->dry_run || run->n_region_copied == 0) {
                dest_adopt(run);
                return;
        }
        follow_start(run, run->policy.type == SNAPSHOT_TYPE_AMI ? LIST_IMAGES : LIST_SNAPSHOTS, region, &run->dest,
                     run->region_copied, run->n_region_copied, dest_adopt);
}

static int queue_copies(SnapRun *run, const char *region) {
        SnapshotPlanInput in = run_input(run, &run->home, &run->home_parts, true);
        SnapshotCopy *copies = NULL;
        size_t n = 0;
        int r;

        r = snapshot_plan_copies(&in, run->dest.records, run->dest.n_records, &copies, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                const SnapshotRecord *src = copies[i].record;
                _cleanup_free_ char *name = NULL;
                char slot_buf[RFC3339_UTC_STRING_MAX];
                const char *keys[6], *values[6];
                size_t nt;
                Op *op;

                if (run->dry_run) {
                        _cleanup_free_ char *id = NULL;
                        bool device = run->policy.type == SNAPSHOT_TYPE_EBS &&
                                      strncmp(copies[i].key, SNAPSHOT_VOLUME_KEY_PREFIX,
                                              strlen(SNAPSHOT_VOLUME_KEY_PREFIX)) != 0;

                        run->n_copied++;
                        if (report_room(run, run->j_copied)) {
                                struct json_object *o = json_object_new_object();

                                json_object_object_add(o, "region", json_str(region));
                                json_object_object_add(o, "source_id", json_str(src->id));
                                json_object_array_add(run->j_copied, o);
                        }
                        /* There as made and completed, as the real run prunes
                         * that region after following its copies. */
                        if (asprintf(&id, "(copy of %s)", src->id) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                        const SnapshotRecord would = {
                                .id = id,
                                .state = SNAPSHOT_STATE_COMPLETED,
                                .managed_by = SNAPSHOT_MANAGED_BY_VALUE,
                                .instance_id = run_aws(run)->instance_id,
                                .slot = src->slot,
                                .device = device ? copies[i].key : NULL,
                                .volume_id = src->volume_id,
                                .type = run_type_name(run),
                                .name = src->name,
                        };
                        r = snapshot_set_add(&run->dest, &would);
                        if (r < 0)
                                break;
                        continue;
                }
                r = base_tags(run, src->slot, keys, values, &name, slot_buf, &nt);
                if (r < 0)
                        break;
                op = op_new(run->policy.type == SNAPSHOT_TYPE_AMI ? OP_COPY_IMAGE : OP_COPY_SNAPSHOT, region, src->id);
                if (!op) {
                        r = -ENOMEM;
                        break;
                }
                for (size_t k = 0; k < nt && r >= 0; k++)
                        r = op_add_tag(op, keys[k], values[k]);
                if (r >= 0)
                        r = op_add_tag(op, run->sp->keys.source_id, src->id);
                if (r >= 0 && run->policy.type == SNAPSHOT_TYPE_EBS &&
                    strncmp(copies[i].key, SNAPSHOT_VOLUME_KEY_PREFIX, strlen(SNAPSHOT_VOLUME_KEY_PREFIX)) != 0)
                        r = op_add_tag(op, run->sp->keys.device, copies[i].key);
                if (r >= 0 && run->policy.type == SNAPSHOT_TYPE_EBS && src->volume_id)
                        r = op_add_tag(op, run->sp->keys.volume_id, src->volume_id);
                if (r >= 0 && run->policy.type == SNAPSHOT_TYPE_AMI) {
                        op->name = strdup(src->name ? src->name : src->id);
                        if (!op->name)
                                r = -ENOMEM;
                }
                if (r < 0) {
                        op_free(op);
                        break;
                }
                queue_push(run, op);
        }
        snapshot_copies_free(copies, n);
        return r < 0 ? r : 0;
}

static void on_dest_listed(SnapRun *run, int error, const char *detail) {
        const char *region = run->policy.copy_to[run->region_index];
        int r;

        if (error < 0) {
                log_full_fields(LOG_ERR, error, &base_fields, "%s; nothing is copied to or deleted in %s this run",
                                detail ? detail : "listing failed", region);
                run_add_error(run, "List", NULL, region, "ListingFailed", detail);
                run->region_index++;
                copy_next_region(run);
                return;
        }
        run->copies_ok = true;
        r = queue_copies(run, region);
        if (r < 0) {
                log_full_fields(LOG_ERR, r, &base_fields, "cannot plan copies to %s", region);
                run_add_error(run, "Copy", NULL, region, "LocalError", strerror(-r));
                queue_clear(run, false);
                run->region_index++;
                copy_next_region(run);
                return;
        }
        if (run->dry_run) {
                on_copies_done(run);
                return;
        }
        queue_run(run, on_copies_done);
}

static void on_dest_images_listed(SnapRun *run, int error, const char *detail) {
        int r;

        if (error < 0) {
                on_dest_listed(run, error, detail);
                return;
        }
        r = run_list(run, LIST_SNAPSHOTS, run->policy.copy_to[run->region_index], NULL, NULL, 0, &run->dest_parts,
                     on_dest_listed);
        if (r < 0)
                on_dest_listed(run, r, "DescribeSnapshots: cannot start the listing");
}

static void copy_next_region(SnapRun *run) {
        int r;

        snapshot_set_done(&run->dest);
        snapshot_set_done(&run->dest_parts);
        strv_free_n(run->region_copied, run->n_region_copied);
        run->region_copied = NULL;
        run->n_region_copied = 0;
        for (; run->region_index < run->policy.n_copy_to; run->region_index++) {
                const char *region = run->policy.copy_to[run->region_index];

                if (strcmp(region, run_aws(run)->region) == 0) {
                        log_full_fields(LOG_WARNING, 0, &base_fields,
                                        "%ssnapshot:copy-to names this instance's own region %s, ignoring",
                                        run_config(run)->tag_prefix, region);
                        continue;
                }
                if (!run_policy_current(run)) {
                        log_full_fields(LOG_NOTICE, 0, &base_fields,
                                        "the snapshot policy changed during the run: copies wait for the next run");
                        break;
                }
                r = run_list(run, run->policy.type == SNAPSHOT_TYPE_AMI ? LIST_IMAGES : LIST_SNAPSHOTS, region, NULL,
                             NULL, 0, &run->dest,
                             run->policy.type == SNAPSHOT_TYPE_AMI ? on_dest_images_listed : on_dest_listed);
                if (r < 0) {
                        log_full_fields(LOG_ERR, r, &base_fields, "cannot list %s", region);
                        continue;
                }
                return;
        }
        run_finish(run);
}

static int phase_copy(SnapRun *run) {
        run->region_index = 0;
        copy_next_region(run);
        return 0;
}

/* ------------------------------------------------------------------------
 * result, finish
 * ------------------------------------------------------------------------ */

static const char *run_result(const SnapRun *run) {
        if (run->failed)
                return "failed";
        if (run->n_deferred > 0 || run->n_errors > 0)
                return "partial";
        return "ok";
}

/* The reply of `cdpctl snapshot` (keys documented in the man page). */
static struct json_object *run_result_json(SnapRun *run, bool in_progress) {
        struct json_object *o = json_object_new_object(), *pending = json_object_new_array();
        char **ids = NULL;
        size_t n;

        if (!o || !pending) {
                json_object_put(o);
                json_object_put(pending);
                return NULL;
        }
        n = run_pending(run, &ids);
        for (size_t i = 0; i < n; i++)
                json_object_array_add(pending, json_object_new_string(ids[i]));
        strv_free_n(ids, n);

        json_object_object_add(o, "slot", json_str(run->slot_text));
        json_object_object_add(o, "type", json_str(run_type_name(run)));
        json_object_object_add(o, "trigger", json_str(trigger_names[run->trigger]));
        json_object_object_add(o, "dry_run", json_object_new_boolean(run->dry_run));
        json_object_object_add(o, "slot_taken", json_object_new_boolean(run->slot_taken));
        json_object_object_add(o, "created", json_object_get(run->j_created));
        json_object_object_add(o, "copied", json_object_get(run->j_copied));
        json_object_object_add(o, "deleted", json_object_get(run->j_deleted));
        json_object_object_add(o, "created_count",
                               json_object_new_int((int) (run->dry_run ? json_object_array_length(run->j_created)
                                                                       : run->n_created)));
        json_object_object_add(o, "copied_count", json_object_new_int((int) run->n_copied));
        json_object_object_add(o, "deleted_count", json_object_new_int((int) run->n_deleted));
        json_object_object_add(o, "truncated", json_object_new_boolean(run->report_truncated));
        json_object_object_add(o, "kept", json_object_new_int((int) run->n_kept));
        json_object_object_add(o, "generations",
                               run->j_generations ? json_object_get(run->j_generations) : json_object_new_object());
        json_object_object_add(o, "deferred", json_object_new_int((int) run->n_deferred));
        json_object_object_add(o, "pending", pending);
        json_object_object_add(o, "frozen", json_object_get(run->j_frozen));
        json_object_object_add(o, "errors", json_object_get(run->j_errors));
        json_object_object_add(o, "in_progress", json_object_new_boolean(in_progress));
        json_object_object_add(o, "result", json_str(in_progress ? "in-progress" : run_result(run)));
        return o;
}

static void run_reply(SnapRun *run, bool in_progress) {
        struct json_object *o;

        if (!run->req || run->replied)
                return;
        run->replied = true;
        o = run_result_json(run, in_progress);
        if (run->failed)
                ctl_reply_error_with(run->req, CTL_EXIT_FAILED, run->fail_code ? run->fail_code : "SnapshotFailed",
                                     run->fail_message ? run->fail_message : "the backup run failed", o);
        else
                ctl_reply_ok(run->req, o);
        run->req = NULL;
}

static void run_free(SnapRun *run) {
        if (!run)
                return;
        if (run->req && !run->replied)
                ctl_reply_error(run->req, CTL_EXIT_FAILED, "ShuttingDown", "cdpd is stopping");
        run_calls_cancel(run);
        hooks_cancel(run->hooks);
        sd_event_source_disable_unref(run->timer);
        queue_clear(run, false);
        lister_done(&run->list);
        policy_copy_done(&run->policy);
        free(run->name_base);
        free(run->root_device);
        volumes_free(run->volumes, run->n_volumes);
        volumes_free(run->aliases, run->n_aliases);
        snapshot_volume_choice_done(&run->choice);
        snapshot_set_done(&run->home);
        snapshot_set_done(&run->home_parts);
        snapshot_set_done(&run->found);
        snapshot_set_done(&run->dest);
        snapshot_set_done(&run->dest_parts);
        strv_free_n(run->created, run->n_created);
        strv_free_n(run->region_copied, run->n_region_copied);
        free(run->fail_code);
        free(run->fail_message);
        json_object_put(run->j_created);
        json_object_put(run->j_copied);
        json_object_put(run->j_deleted);
        json_object_put(run->j_errors);
        json_object_put(run->j_generations);
        json_object_put(run->j_frozen);
        free(run);
}

static void retry_schedule(SnapshotPattern *sp, time_t slot);

static void run_unlink(SnapRun *run) {
        SnapshotPattern *sp = run->sp;

        for (SnapRun **i = &sp->runs; *i; i = &(*i)->next)
                if (*i == run) {
                        *i = run->next;
                        break;
                }
        if (sp->active == run)
                sp->active = NULL;
}

static void run_finish(SnapRun *run) {
        SnapshotPattern *sp = run->sp;
        const char *result = run_result(run);
        /* A look for a missed slot that found none is no run to report. */
        bool probe_only = run->trigger == TRIGGER_CATCH_UP && !run->decided && !run->failed;

        run->phase = PHASE_DONE;
        if (sp->active == run)
                pattern_thaw(sp, "run finished");
        run->timer = sd_event_source_disable_unref(run->timer);

        if (!probe_only) {
                log_full_fields(run->failed ? LOG_ERR : LOG_INFO, 0, &base_fields,
                                "%sbackup run for slot %s (%s) %s: %zu created, %u copied, %u deleted, %u deferred%s%s",
                                run->dry_run ? "dry " : "", run->slot_text, trigger_names[run->trigger], result,
                                run->n_created, run->n_copied, run->n_deleted, run->n_deferred,
                                run->failed ? ": " : "", run->failed && run->fail_message ? run->fail_message : "");
                if (!run->dry_run) {
                        LastRun *l = &sp->last;

                        free(l->result);
                        free(l->message);
                        *l = (LastRun) {
                                .valid = true,
                                .slot = run->slot,
                                .trigger = run->trigger,
                                .started_at = run->started_at,
                                .finished_at = now_realtime(),
                                .result = strdup(result),
                                .message = run->fail_message ? strdup(run->fail_message) : NULL,
                                .created = (unsigned) run->n_created,
                                .copied = run->n_copied,
                                .deleted = run->n_deleted,
                                .deferred = run->n_deferred,
                        };
                        if (run->failed) {
                                free(sp->last_error);
                                sp->last_error = run->fail_message ? strdup(run->fail_message) : NULL;
                                sp->last_error_at = now_realtime();
                        }
                }
        }

        run_reply(run, false);

        if (!run->dry_run && run->trigger != TRIGGER_MANUAL && !probe_only) {
                if (run->failed && run->retryable)
                        /* A look that failed before it knew its slot looks again. */
                        retry_schedule(sp, run->decided ? run->slot : SNAPSHOT_SLOT_UNSET);
                else if (sp->retry_slot == run->slot)
                        sp->retry_count = 0;
        }

        run_unlink(run);
        run_free(run);
        /* A big prune's listing and answers were freed: give the pages back,
         * idle cdpd stays small (SPEC 11). */
        (void) malloc_trim(0);
        pattern_start_queued(sp);
}

/* ------------------------------------------------------------------------
 * phase dispatch
 * ------------------------------------------------------------------------ */

static SnapshotVolumeChoice *run_choice(SnapRun *run) {
        return &run->choice;
}

static void run_next_phase(SnapRun *run) {
        int r = 0;

        switch (run->phase) {
        case PHASE_INSTANCE:
                r = phase_instance(run);
                break;
        case PHASE_LIST:
                r = phase_list(run);
                break;
        case PHASE_PRE_HOOKS:
                r = run_hooks(run, "pre-snapshot");
                if (r < 0) {
                        log_full_fields(LOG_WARNING, r, &base_fields, "cannot run the pre-snapshot hooks, continuing");
                        run->phase = PHASE_CREATE;
                        run_next_phase(run);
                        return;
                }
                break;
        case PHASE_CREATE:
                r = phase_create(run);
                if (r < 0) {
                        _cleanup_free_ char *msg = NULL;

                        msg = strprintf("cannot send the create call: %s", strerror(-r));
                        run_set_failed(run, true, "LocalError", msg);
                        run->create = CREATE_FAILED;
                        run->phase = PHASE_POST_HOOKS;
                        run_next_phase(run);
                        return;
                }
                break;
        case PHASE_POST_HOOKS:
                r = run_hooks(run, "post-snapshot");
                if (r < 0) {
                        log_full_fields(LOG_WARNING, r, &base_fields, "cannot run the post-snapshot hooks, continuing");
                        on_hooks_done(0, 0, run);
                        return;
                }
                break;
        case PHASE_VERIFY:
                r = phase_verify(run);
                break;
        case PHASE_TAG:
                r = phase_tag(run);
                break;
        case PHASE_PRUNE:
                r = phase_prune(run);
                break;
        case PHASE_FOLLOW:
                r = phase_follow(run);
                break;
        case PHASE_COPY:
                r = phase_copy(run);
                break;
        case PHASE_DONE:
        default:
                run_finish(run);
                return;
        }
        if (r < 0) {
                _cleanup_free_ char *msg = NULL;

                msg = strprintf("%s: %s", phase_names[run->phase], strerror(-r));
                log_full_fields(LOG_ERR, r, &base_fields, "backup run for slot %s failed in %s", run->slot_text,
                                phase_names[run->phase]);
                run_set_failed(run, true, "LocalError", msg);
                run_finish(run);
        }
}

/* ------------------------------------------------------------------------
 * starting runs, scheduling
 * ------------------------------------------------------------------------ */

static int run_start(SnapshotPattern *sp, RunTrigger trigger, time_t slot, bool dry_run, CtlRequest *req) {
        Manager *m = sp_manager(sp);
        SnapRun *run;
        int r;

        if (!sp->enabled || !m->policy || !m->policy->snapshot.enabled)
                return -ENOENT;
        if (!dry_run && sp->active)
                return -EBUSY;

        run = calloc(1, sizeof(*run));
        if (!run)
                return -ENOMEM;
        run->sp = sp;
        run->trigger = trigger;
        run->dry_run = dry_run;
        run->started_at = now_realtime();
        run->policy_gen = sp->policy_gen;
        run->queue.limit = MAX(m->config->max_inflight, 1u);
        if (trigger == TRIGGER_CATCH_UP)
                strcpy(run->slot_text, "(missed?)");
        else {
                run_set_slot(run, slot);
                run->decided = true;
        }
        run->j_created = json_object_new_array();
        run->j_copied = json_object_new_array();
        run->j_deleted = json_object_new_array();
        run->j_errors = json_object_new_array();
        run->j_frozen = json_object_new_array();
        r = policy_copy(&run->policy, &m->policy->snapshot);
        if (r < 0 || !run->j_created || !run->j_copied || !run->j_deleted || !run->j_errors || !run->j_frozen) {
                if (r >= 0)
                        policy_copy_done(&run->policy);
                json_object_put(run->j_created);
                json_object_put(run->j_copied);
                json_object_put(run->j_deleted);
                json_object_put(run->j_errors);
                json_object_put(run->j_frozen);
                free(run);
                return -ENOMEM;
        }

        run->next = sp->runs;
        sp->runs = run;
        if (!dry_run)
                sp->active = run;
        /* From here on the run owns req and answers it. */
        run->req = req;
        if (trigger != TRIGGER_CATCH_UP)
                log_full_fields(LOG_INFO, 0, &base_fields, "%sbackup run for slot %s (%s, %s, keep %u)",
                                dry_run ? "dry " : "", run->slot_text, trigger_names[trigger], run_type_name(run),
                                run->policy.keep);
        run->phase = PHASE_INSTANCE;
        run_next_phase(run);
        return 0;
}

static void pattern_start_queued(SnapshotPattern *sp) {
        int r;

        if (sp->active)
                return;
        if (sp->waiting_req) {
                CtlRequest *req = TAKE_PTR(sp->waiting_req);

                r = run_start(sp, TRIGGER_MANUAL, sp->waiting_slot, false, req);
                if (r < 0)
                        ctl_reply_error(req, CTL_EXIT_FAILED, r == -ENOENT ? "NoSnapshotPolicy" : "InternalError",
                                        r == -ENOENT ? "the snapshot policy was turned off" : strerror(-r));
                return;
        }
        if (!sp->enabled)
                return;
        if (sp->queued) {
                sp->queued = false;
                r = run_start(sp, sp->queued_trigger, sp->queued_slot, false, NULL);
                if (r < 0)
                        log_full_fields(LOG_ERR, r, &base_fields, "cannot start the backup run");
                return;
        }
        if (sp->catch_up_pending) {
                sp->catch_up_pending = false;
                r = run_start(sp, TRIGGER_CATCH_UP, 0, false, NULL);
                if (r < 0)
                        log_full_fields(LOG_ERR, r, &base_fields, "cannot look for a missed backup");
        }
}

/* A slot is due (scheduler) or retried. */
static void pattern_slot_due(SnapshotPattern *sp, time_t slot, RunTrigger trigger) {
        char buf[RFC3339_UTC_STRING_MAX] = "?";
        int r;

        if (!sp->enabled)
                return;
        if (sp->active) {
                (void) format_rfc3339_utc(slot, buf);
                if (sp->queued && sp->queued_slot != slot)
                        log_full_fields(LOG_WARNING, 0, &base_fields,
                                        "backup run still busy: slot %s replaces a queued one", buf);
                sp->queued = true;
                sp->queued_slot = slot;
                sp->queued_trigger = trigger;
                run_abandon_follow(sp->active);
                return;
        }
        r = run_start(sp, trigger, slot, false, NULL);
        if (r < 0)
                log_full_fields(LOG_ERR, r, &base_fields, "cannot start the backup run");
}

static void on_sched_fire(SchedJob *job, time_t slot, void *userdata) {
        SnapshotPattern *sp = userdata;

        (void) job;
        /* A new slot supersedes retries of an older one. */
        sp->retry_timer = sd_event_source_disable_unref(sp->retry_timer);
        sp->retry_at = 0;
        pattern_slot_due(sp, slot, TRIGGER_SCHEDULE);
}

static int on_retry_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        SnapshotPattern *sp = userdata;

        (void) s;
        (void) usec;
        sp->retry_timer = sd_event_source_disable_unref(sp->retry_timer);
        sp->retry_at = 0;
        if (sp->retry_slot == SNAPSHOT_SLOT_UNSET) {
                sp->catch_up_pending = true;
                pattern_start_queued(sp);
                return 0;
        }
        pattern_slot_due(sp, sp->retry_slot, TRIGGER_RETRY);
        return 0;
}

static void retry_schedule(SnapshotPattern *sp, time_t slot) {
        char buf[RFC3339_UTC_STRING_MAX] = "?";
        uint64_t delay, now = now_realtime();
        int r;

        if (slot == SNAPSHOT_SLOT_UNSET)
                strcpy(buf, "(missed slot look)");
        else
                (void) format_rfc3339_utc(slot, buf);
        if (sp->retry_slot != slot) {
                sp->retry_slot = slot;
                sp->retry_count = 0;
        }
        if (!sp->enabled || sp->retry_count >= sp->timings.retry_max) {
                log_full_fields(LOG_ERR, 0, &base_fields, "giving up on slot %s after %u retries", buf,
                                sp->retry_count);
                return;
        }
        delay = sp->timings.retry_base_usec;
        for (unsigned i = 0; i < sp->retry_count && delay < sp->timings.retry_max_usec; i++)
                delay *= 2;
        delay = MIN(delay, sp->timings.retry_max_usec);
        if (sp->job && now + delay >= sched_job_next_fire_usec(sp->job)) {
                log_full_fields(LOG_NOTICE, 0, &base_fields, "slot %s is not retried: the next slot comes first", buf);
                return;
        }
        sp->retry_timer = sd_event_source_disable_unref(sp->retry_timer);
        r = sd_event_add_time_relative(sp_manager(sp)->event, &sp->retry_timer, CLOCK_MONOTONIC, delay,
                                       timer_accuracy(delay), on_retry_timer, sp);
        if (r < 0) {
                log_full_fields(LOG_ERR, r, &base_fields, "cannot arm the retry timer for slot %s", buf);
                return;
        }
        sp->retry_count++;
        sp->retry_at = now + delay;
        log_full_fields(LOG_NOTICE, 0, &base_fields, "slot %s is retried in %llu s (attempt %u of %u)", buf,
                        (unsigned long long) (delay / USEC_PER_SEC), sp->retry_count, sp->timings.retry_max);
}

static bool schedule_equal(const Schedule *a, const Schedule *b) {
        return a->kind == b->kind && a->interval_usec == b->interval_usec && a->minutes == b->minutes &&
               a->hours == b->hours && a->days_of_month == b->days_of_month && a->months == b->months &&
               a->days_of_week == b->days_of_week && a->dom_restricted == b->dom_restricted &&
               a->dow_restricted == b->dow_restricted;
}

static bool str_equal(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool strv_equal_n(char *const *a, size_t na, char *const *b, size_t nb) {
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if (strcmp(a[i], b[i]) != 0)
                        return false;
        return true;
}

static bool policy_same(const SnapshotPolicy *a, const SnapshotPolicy *b) {
        return a->enabled == b->enabled && a->keep == b->keep && a->type == b->type && a->volumes == b->volumes &&
               schedule_equal(&a->schedule, &b->schedule) && str_equal(a->tz, b->tz) &&
               strv_equal_n(a->devices, a->n_devices, b->devices, b->n_devices) &&
               strv_equal_n(a->volume_ids, a->n_volume_ids, b->volume_ids, b->n_volume_ids) &&
               strv_equal_n(a->copy_to, a->n_copy_to, b->copy_to, b->n_copy_to);
}

/* ------------------------------------------------------------------------
 * PatternOps
 * ------------------------------------------------------------------------ */

static void snapshot_policy_changed(Pattern *p) {
        SnapshotPattern *sp = (SnapshotPattern *) p;
        Manager *m = p->manager;
        const SnapshotPolicy *pol = m->policy ? &m->policy->snapshot : NULL;
        char next[RFC3339_UTC_STRING_MAX] = "?", at[RFC3339_UTC_STRING_MAX] = "?";
        int r;

        /* Tags re-read unchanged (cdpctl reload) change nothing here, and a
         * run in progress keeps its right to prune. */
        if (pol && pol->enabled && sp->enabled && policy_same(&sp->cur, pol))
                return;
        sp->policy_gen++;
        policy_copy_done(&sp->cur);
        if (pol && pol->enabled && policy_copy(&sp->cur, pol) < 0) {
                log_full_fields(LOG_ERR, -ENOMEM, &base_fields, "cannot apply the snapshot policy");
                pol = NULL;
        }
        if (!pol || !pol->enabled) {
                if (sp->enabled || sp->job)
                        log_full_fields(LOG_INFO, 0, &base_fields, "snapshot policy %s: no scheduled backups",
                                        pol && pol->invalid ? "disabled by invalid tags" : "absent");
                sp->enabled = false;
                sp->job = sched_job_free(sp->job);
                sp->retry_timer = sd_event_source_disable_unref(sp->retry_timer);
                sp->retry_at = 0;
                sp->queued = false;
                sp->catch_up_pending = false;
                return;
        }
        sp->enabled = true;
        if (sp->job && schedule_equal(&sp->schedule, &pol->schedule) && str_equal(sp->tz, pol->tz))
                return;

        sp->job = sched_job_free(sp->job);
        free(sp->tz);
        sp->tz = pol->tz ? strdup(pol->tz) : NULL;
        sp->schedule = pol->schedule;
        r = sched_job_new(m->event, &pol->schedule, pol->tz, sp->splay, on_sched_fire, sp, &sp->job);
        if (r < 0) {
                log_full_fields(LOG_ERR, r, &base_fields, "cannot schedule backups \"%s\" in %s",
                                pol->schedule_text ? pol->schedule_text : "?", pol->tz ? pol->tz : "UTC");
                sp->enabled = false;
                return;
        }
        (void) format_rfc3339_utc(sched_job_next_slot(sp->job), next);
        (void) format_rfc3339_utc((time_t) (sched_job_next_fire_usec(sp->job) / USEC_PER_SEC), at);
        log_full_fields(LOG_INFO, 0, &base_fields, "backups \"%s\" (%s): next slot %s, run at %s (splay %llu s)",
                        pol->schedule_text ? pol->schedule_text : "?", pol->tz ? pol->tz : "UTC", next, at,
                        (unsigned long long) (sp->splay / USEC_PER_SEC));
        /* After downtime or a new schedule: one catch-up if a period was missed. */
        sp->catch_up_pending = true;
        pattern_start_queued(sp);
}

static void snapshot_status(Pattern *p, StatusRequest *sr) {
        SnapshotPattern *sp = (SnapshotPattern *) p;
        const SnapshotPolicy *pol = p->manager->policy ? &p->manager->policy->snapshot : NULL;
        struct json_object *o = json_object_new_object(), *last = NULL, *err = NULL, *running = NULL;

        if (!o) {
                status_request_done(sr, NULL);
                return;
        }
        json_object_object_add(o, "enabled", json_object_new_boolean(sp->enabled));
        if (sp->enabled && pol) {
                struct json_object *copy_to = json_object_new_array();

                json_object_object_add(o, "schedule", json_str(pol->schedule_text));
                json_object_object_add(o, "tz", json_str(pol->tz ? pol->tz : "UTC"));
                json_object_object_add(o, "type", json_str(snapshot_type_to_string(pol->type)));
                json_object_object_add(o, "keep", json_object_new_int((int) pol->keep));
                for (size_t i = 0; i < pol->n_copy_to; i++)
                        json_object_array_add(copy_to, json_object_new_string(pol->copy_to[i]));
                json_object_object_add(o, "copy_to", copy_to);
        }
        if (sp->job) {
                json_object_object_add(o, "next_slot", json_time(sched_job_next_slot(sp->job)));
                json_object_object_add(o, "next_run_at", json_time_usec(sched_job_next_fire_usec(sp->job)));
        }
        json_object_object_add(o, "splay_seconds", json_object_new_int64((int64_t) (sp->splay / USEC_PER_SEC)));
        if (sp->active) {
                running = json_object_new_object();
                json_object_object_add(running, "slot", json_str(sp->active->slot_text));
                json_object_object_add(running, "trigger", json_str(trigger_names[sp->active->trigger]));
                json_object_object_add(running, "phase", json_str(phase_names[sp->active->phase]));
                json_object_object_add(running, "started_at", json_time_usec(sp->active->started_at));
        }
        json_object_object_add(o, "running", running);
        json_object_object_add(o, "retry_at", sp->retry_at ? json_time_usec(sp->retry_at) : NULL);
        if (sp->last.valid) {
                last = json_object_new_object();
                json_object_object_add(last, "slot", json_time(sp->last.slot));
                json_object_object_add(last, "trigger", json_str(trigger_names[sp->last.trigger]));
                json_object_object_add(last, "started_at", json_time_usec(sp->last.started_at));
                json_object_object_add(last, "finished_at", json_time_usec(sp->last.finished_at));
                json_object_object_add(last, "result", json_str(sp->last.result));
                json_object_object_add(last, "message", json_str(sp->last.message));
                json_object_object_add(last, "created", json_object_new_int((int) sp->last.created));
                json_object_object_add(last, "copied", json_object_new_int((int) sp->last.copied));
                json_object_object_add(last, "deleted", json_object_new_int((int) sp->last.deleted));
                json_object_object_add(last, "deferred", json_object_new_int((int) sp->last.deferred));
        }
        json_object_object_add(o, "last_run", last);
        if (sp->last_error) {
                err = json_object_new_object();
                json_object_object_add(err, "at", json_time_usec(sp->last_error_at));
                json_object_object_add(err, "message", json_str(sp->last_error));
        }
        json_object_object_add(o, "last_error", err);
        json_object_object_add(o, "generations",
                               sp->generations ? json_object_get(sp->generations) : json_object_new_object());
        json_object_object_add(o, "failed", sp->failed_ids ? json_object_get(sp->failed_ids) : json_object_new_array());
        status_request_done(sr, o);
}

/* cdpctl snapshot [--dry-run]: args {"dry_run": bool, "slot": "<RFC 3339>"}.
 * The slot of a manual run is now, rounded down to the minute, unless
 * "slot" names one (to redo a missed one). */
static int ctl_snapshot(void *userdata, CtlRequest *req, struct json_object *args) {
        SnapshotPattern *sp = userdata;
        Manager *m = sp->base.manager;
        bool dry_run = false;
        time_t slot = (time_t) (now_realtime() / USEC_PER_SEC / 60 * 60);
        int r;

        json_object_object_foreach(args, key, val) {
                if (strcmp(key, "dry_run") == 0 && json_object_is_type(val, json_type_boolean))
                        dry_run = json_object_get_boolean(val);
                else if (strcmp(key, "slot") == 0 && json_object_is_type(val, json_type_string)) {
                        if (parse_rfc3339_utc(json_object_get_string(val), &slot) < 0) {
                                ctl_reply_error(req, CTL_EXIT_USAGE, "BadRequest",
                                                "\"slot\" is not an RFC 3339 time");
                                return 0;
                        }
                } else {
                        ctl_reply_error(req, CTL_EXIT_USAGE, "BadRequest",
                                        "snapshot takes {\"dry_run\": bool, \"slot\": \"<RFC 3339>\"}");
                        return 0;
                }
        }
        if (!m->policy) {
                ctl_reply_error(req, CTL_EXIT_FAILED, "NotReady", "the tags have not been read yet");
                return 0;
        }
        if (!sp->enabled) {
                _cleanup_free_ char *msg = NULL;
                const Policy *pol = m->policy;

                if (pol->snapshot.invalid) {
                        const char *reason = NULL;

                        for (size_t i = 0; i < pol->n_errors && !reason; i++)
                                reason = pol->errors[i].reason;
                        msg = strprintf("the snapshot policy is off because of an invalid tag: %s",
                                        reason ? reason : "see cdpctl policy");
                } else
                        msg = strprintf("this instance has no %ssnapshot tag", m->config->tag_prefix);
                ctl_reply_error(req, CTL_EXIT_FAILED, "NoSnapshotPolicy", msg ? msg : "no snapshot policy");
                return 0;
        }
        if (!dry_run && sp->active) {
                _cleanup_free_ char *msg = NULL;

                /* One request may wait for the run in progress (a look for a
                 * missed slot at start, a scheduled run); a run that only
                 * waits for completion stops waiting for it. */
                if (!sp->waiting_req) {
                        sp->waiting_req = req;
                        sp->waiting_slot = slot;
                        run_abandon_follow(sp->active);
                        return 0;
                }
                msg = strprintf("a backup run for slot %s is in progress (%s) and another request waits; "
                                "try again when they are done", sp->active->slot_text, phase_names[sp->active->phase]);
                ctl_reply_error(req, CTL_EXIT_FAILED, "Busy", msg ? msg : "busy");
                return 0;
        }
        r = run_start(sp, TRIGGER_MANUAL, slot, dry_run, req);
        if (r < 0) {
                ctl_reply_error(req, CTL_EXIT_FAILED, "InternalError", strerror(-r));
                return 0;
        }
        return 0;
}

static const PatternCommand snapshot_commands[] = {
        { "snapshot", ctl_snapshot },
};

static int snapshot_init(Pattern *p) {
        SnapshotPattern *sp = (SnapshotPattern *) p;
        Manager *m = p->manager;
        int r;

        sp->timings = snapshot_timings_default;
        r = snapshot_tag_keys_init(&sp->keys, m->config->tag_prefix);
        if (r < 0)
                return r;
        sp->splay = splay_usec(m->aws->instance_id, m->config->splay_usec);
        /* SIGTERM ends the loop: thaw before anything else goes. */
        r = sd_event_add_exit(m->event, &sp->exit_source, on_exit_thaw, sp);
        if (r < 0)
                return r;
        (void) sd_event_source_set_priority(sp->exit_source, SD_EVENT_PRIORITY_IMPORTANT);
        return 0;
}

static void snapshot_done(Pattern *p) {
        SnapshotPattern *sp = (SnapshotPattern *) p;

        pattern_thaw(sp, "cdpd is stopping");
        if (sp->waiting_req)
                ctl_reply_error(TAKE_PTR(sp->waiting_req), CTL_EXIT_FAILED, "ShuttingDown", "cdpd is stopping");
        while (sp->runs) {
                SnapRun *run = sp->runs;

                sp->runs = run->next;
                if (sp->active == run)
                        sp->active = NULL;
                run_free(run);
        }
        sp->job = sched_job_free(sp->job);
        sp->retry_timer = sd_event_source_disable_unref(sp->retry_timer);
        sp->exit_source = sd_event_source_disable_unref(sp->exit_source);
        policy_copy_done(&sp->cur);
        sp->tz = mfree(sp->tz);
        sp->last.result = mfree(sp->last.result);
        sp->last.message = mfree(sp->last.message);
        sp->last_error = mfree(sp->last_error);
        json_object_put(sp->generations);
        sp->generations = NULL;
        json_object_put(sp->failed_ids);
        sp->failed_ids = NULL;
}

const PatternOps snapshot_pattern_ops = {
        .name = "snapshot",
        .size = sizeof(SnapshotPattern),
        .init = snapshot_init,
        .done = snapshot_done,
        .policy_changed = snapshot_policy_changed,
        .status = snapshot_status,
        .commands = snapshot_commands,
        .n_commands = ELEMENTSOF(snapshot_commands),
};

/* ---- test seams ---- */

void snapshot_pattern_set_timings(Pattern *p, const SnapshotTimings *t) {
        ((SnapshotPattern *) p)->timings = t ? *t : snapshot_timings_default;
}

void snapshot_pattern_set_freeze_ops(Pattern *p, const FreezeOps *ops) {
        ((SnapshotPattern *) p)->freeze_ops = ops;
}

void snapshot_pattern_fire(Pattern *p, time_t slot) {
        on_sched_fire(NULL, slot, p);
}

bool snapshot_pattern_frozen(const Pattern *p) {
        return freeze_set_is_frozen(((const SnapshotPattern *) p)->freeze);
}

bool snapshot_pattern_busy(const Pattern *p) {
        return ((const SnapshotPattern *) p)->active != NULL;
}
