/* SPDX-License-Identifier: MIT */
/* `cdpctl check` and the permission check cdpd runs by itself (SPEC 3):
 * one DryRun call per EC2 action the current tag policy needs (the table is
 * lib/core/check-plan.c). cdpd runs it after the first tag read and after
 * every tag change and logs a warning per denied action, so a standby learns
 * about a missing permission long before the failover that needs it.
 *
 * A run: (1) a few real describe calls that make the dry runs plausible: a
 * snapshot and an image cdpd made for this instance (to name in the deletes'
 * dry runs) and the security group of each rule of cdp:expire-revoke
 * (RevokeSecurityGroupIngress needs it); (2) every dry run at once, at most
 * CHECK_INFLIGHT_MAX in flight; (3) the table. A whole run is bounded by
 * CHECK_DEADLINE_USEC, inside cdpctl's default wait of 5 s; an action whose
 * call did not answer in time is "unknown" with code Timeout. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "cdp/check-plan.h"
#include "cdp/clock.h"
#include "cdp/ec2-bastion.h"
#include "cdp/parse-util.h"
#include "cdp/strbuf.h"
#include "ctl-server.h"
#include "log.h"
#include "pattern.h"

#define CHECK_DEADLINE_USEC (4 * USEC_PER_SEC)
#define CHECK_INFLIGHT_MAX 8
#define CHECK_SETTLE_USEC (30 * USEC_PER_SEC)

typedef struct CheckPattern CheckPattern;
typedef struct CheckRun CheckRun;
typedef struct DryRunCall DryRunCall;

struct DryRunCall {
        CheckRun *run;
        size_t index;
        Ec2Call *call;
};

struct CheckRun {
        CheckPattern *pattern;
        CheckRun *next;
        CtlRequest *req;                /* NULL: the run cdpd starts itself, which logs */
        Policy *policy;                 /* a private parse of the tags, so a tag change cannot pull it away */
        uint64_t deadline;              /* CLOCK_MONOTONIC */

        /* preparation */
        unsigned prep_pending;
        Ec2Call *prep_snapshots, *prep_images, *prep_rules;
        char *managed_snapshot_id, *managed_image_id;
        CheckRuleGroup *rules;
        size_t n_rules;
        bool rules_described;
        char *rules_error;

        /* dry runs */
        CheckPlan *plan;
        DryRunCall *calls;
        size_t next_call, in_flight, n_done;
};

struct CheckPattern {
        Pattern base;
        CheckRun *runs;
        CheckRun *log_run;              /* the one started by a tag change, at most one */
        sd_event_source *settle_timer;  /* CLOCK_MONOTONIC: the self-check after a policy change */
        /* The last table, for `cdpctl status`. */
        uint64_t last_at;
        size_t last_counts[_CHECK_RESULT_MAX];
        char *last_summary;
};

static Manager *manager_of(CheckRun *r) {
        return r->pattern->base.manager;
}

static uint64_t now_monotonic(void) {
        return clock_now(clock_real(), CLOCK_MONOTONIC);
}

static void run_free(CheckRun *r) {
        if (!r)
                return;
        ec2_call_cancel(r->prep_snapshots);
        ec2_call_cancel(r->prep_images);
        ec2_call_cancel(r->prep_rules);
        for (size_t i = 0; r->calls && r->plan && i < r->plan->n_items; i++)
                ec2_call_cancel(r->calls[i].call);
        free(r->calls);
        check_plan_free(r->plan);
        policy_free(r->policy);
        free(r->managed_snapshot_id);
        free(r->managed_image_id);
        for (size_t i = 0; i < r->n_rules; i++) {
                free((char *) r->rules[i].rule_id);
                free((char *) r->rules[i].group_id);
        }
        free(r->rules);
        free(r->rules_error);
        free(r);
}

static void run_unlink(CheckRun *r) {
        CheckPattern *c = r->pattern;

        for (CheckRun **p = &c->runs; *p; p = &(*p)->next)
                if (*p == r) {
                        *p = r->next;
                        break;
                }
        if (c->log_run == r)
                c->log_run = NULL;
}

/* ---- finishing ---- */

static void run_log(CheckRun *r) {
        CheckPattern *c = r->pattern;
        _cleanup_strbuf_ StrBuf sum = STRBUF_INIT(16 * 1024);
        size_t counts[_CHECK_RESULT_MAX];

        for (size_t i = 0; i < r->plan->n_items; i++) {
                const CheckItem *it = &r->plan->items[i];
                const LogFields f = { .pattern = it->pattern, .action = it->action, .resource = it->resource };

                if (!it->done || it->result == CHECK_UNKNOWN)
                        log_full_fields(LOG_NOTICE, 0, &f,
                                        "permission check: ec2:%s%s%s%s%s cannot be proven: %s: %s", it->action,
                                        it->resource ? " on " : "", it->resource ?: "", it->region ? " in " : "",
                                        it->region ?: "", it->code ?: "Unknown", it->message ?: "not checked");
                else if (it->result == CHECK_DENIED)
                        log_full_fields(LOG_WARNING, 0, &f,
                                        "permission check: ec2:%s%s%s%s%s is denied (%s: %s); the %s pattern will "
                                        "fail when it needs it",
                                        it->action, it->resource ? " on " : "", it->resource ?: "",
                                        it->region ? " in " : "", it->region ?: "", it->code ?: "denied",
                                        it->message ?: "", it->pattern);
        }
        check_plan_count(r->plan, counts);
        (void) check_plan_summary(r->plan, &sum);
        memcpy(c->last_counts, counts, sizeof(counts));
        c->last_at = clock_now(clock_real(), CLOCK_REALTIME);
        free(c->last_summary);
        c->last_summary = sum.len > 0 ? strdup(sum.data) : NULL;
        if (counts[CHECK_DENIED] == 0 && counts[CHECK_UNKNOWN] == 0)
                log_full_fields(LOG_INFO, 0, &(LogFields) { .pattern = "check" },
                                "permission check: all %zu actions the tag policy needs are allowed",
                                counts[CHECK_ALLOWED]);
        else
                log_full_fields(counts[CHECK_DENIED] > 0 ? LOG_WARNING : LOG_NOTICE, 0,
                                &(LogFields) { .pattern = "check" },
                                "permission check: %zu allowed, %zu denied, %zu unknown (%s)", counts[CHECK_ALLOWED],
                                counts[CHECK_DENIED], counts[CHECK_UNKNOWN], sum.data ?: "");
}

static void run_finish(CheckRun *r) {
        struct json_object *o = NULL;
        int k;

        run_unlink(r);
        if (!r->req) {
                run_log(r);
                run_free(r);
                return;
        }
        k = check_plan_to_json(r->plan, &o);
        if (k < 0)
                ctl_reply_error(r->req, 1, "InternalError", "cannot build the check table");
        else if (check_plan_all_allowed(r->plan))
                ctl_reply_ok(r->req, o);
        else {
                _cleanup_strbuf_ StrBuf sum = STRBUF_INIT(16 * 1024);
                size_t counts[_CHECK_RESULT_MAX];
                _cleanup_free_ char *msg = NULL;

                check_plan_count(r->plan, counts);
                (void) check_plan_summary(r->plan, &sum);
                if (asprintf(&msg, "%zu of %zu actions not proven allowed: %s",
                             counts[CHECK_DENIED] + counts[CHECK_UNKNOWN], r->plan->n_items, sum.data ?: "") < 0)
                        msg = NULL;
                ctl_reply_error_with(r->req, 1, counts[CHECK_DENIED] > 0 ? "PermissionDenied" : "PermissionUnknown",
                                     msg ?: "some actions are not allowed", o);
        }
        run_free(r);
}

/* ---- dry runs ---- */

static void dry_run_next(CheckRun *r);

static void on_dry_run(int error, const Ec2Response *resp, void *userdata) {
        DryRunCall *d = userdata;
        CheckRun *r = d->run;
        CheckItem *it = &r->plan->items[d->index];

        (void) error;
        d->call = NULL;
        r->in_flight--;
        r->n_done++;
        if (check_item_set_answer(it, resp->error_class, resp->error_code, resp->error_message) < 0)
                it->done = false;       /* counted as unknown */
        dry_run_next(r);
}

static void dry_run_next(CheckRun *r) {
        Manager *m = manager_of(r);

        while (r->in_flight < CHECK_INFLIGHT_MAX && r->next_call < r->plan->n_items) {
                size_t i = r->next_call++;
                CheckItem *it = &r->plan->items[i];
                Ec2CallOptions opts = { .region = it->region, .deadline = r->deadline };
                int k;

                if (!it->query || it->done) {
                        r->n_done++;
                        continue;
                }
                r->calls[i] = (DryRunCall) { .run = r, .index = i };
                k = ec2_call(m->aws->ec2, it->query, &opts, on_dry_run, &r->calls[i], &r->calls[i].call);
                if (k < 0) {
                        (void) check_item_set_answer(it, EC2_INVALID, "LocalError", strerror(-k));
                        r->n_done++;
                        continue;
                }
                r->in_flight++;
        }
        if (r->n_done == r->plan->n_items && r->in_flight == 0)
                run_finish(r);
}

static void run_dry_runs(CheckRun *r) {
        Manager *m = manager_of(r);
        CheckInput in = {
                .policy = r->policy,
                .tag_prefix = m->config->tag_prefix,
                .instance_id = m->aws->instance_id,
                .region = m->aws->region,
                .network_interface_id = m->aws->network_interface_id,
                .tags_from_imds = m->tags && m->tags->source == TAG_SOURCE_IMDS,
                .managed_snapshot_id = r->managed_snapshot_id,
                .managed_image_id = r->managed_image_id,
                .rules = r->rules,
                .n_rules = r->n_rules,
                .rules_described = r->rules_described,
                .rules_error = r->rules_error,
                .now = (time_t) (clock_now(clock_real(), CLOCK_REALTIME) / USEC_PER_SEC),
        };
        int k;

        k = check_plan_build(&in, &r->plan);
        if (k >= 0) {
                r->calls = calloc(r->plan->n_items + 1, sizeof(DryRunCall));
                if (!r->calls)
                        k = -ENOMEM;
        }
        if (k < 0) {
                log_error_errno(k, "cannot build the permission check");
                run_unlink(r);
                if (r->req)
                        ctl_reply_error(r->req, 1, "InternalError", "cannot build the permission check");
                run_free(r);
                return;
        }
        dry_run_next(r);
}

/* ---- preparation: real describes that make the dry runs plausible ---- */

static void prep_done(CheckRun *r) {
        if (--r->prep_pending == 0)
                run_dry_runs(r);
}

static void on_prep_snapshots(int error, const Ec2Response *resp, void *userdata) {
        CheckRun *r = userdata;

        r->prep_snapshots = NULL;
        if (error >= 0 && check_parse_first_snapshot_id(resp->body, resp->body_len, &r->managed_snapshot_id) < 0)
                r->managed_snapshot_id = NULL;
        prep_done(r);
}

static void on_prep_images(int error, const Ec2Response *resp, void *userdata) {
        CheckRun *r = userdata;

        r->prep_images = NULL;
        if (error >= 0 && check_parse_first_image_id(resp->body, resp->body_len, &r->managed_image_id) < 0)
                r->managed_image_id = NULL;
        prep_done(r);
}

static void on_prep_rules(int error, const Ec2Response *resp, void *userdata) {
        CheckRun *r = userdata;
        _cleanup_(ec2_security_group_rule_page_freep) Ec2SecurityGroupRulePage *page = NULL;
        int k;

        r->prep_rules = NULL;
        if (error < 0) {
                if (asprintf(&r->rules_error, "%s: %s", resp->error_code ?: "error",
                             resp->error_message ?: strerror(-error)) < 0)
                        r->rules_error = NULL;
                prep_done(r);
                return;
        }
        k = ec2_parse_describe_security_group_rules(resp->body, resp->body_len, &page);
        if (k >= 0) {
                r->rules = calloc(page->n_rules + 1, sizeof(CheckRuleGroup));
                if (!r->rules)
                        k = -ENOMEM;
        }
        for (size_t i = 0; k >= 0 && i < page->n_rules; i++) {
                char *id = strdup(page->rules[i].id), *g = strdup(page->rules[i].group_id);

                if (!id || !g) {
                        free(id);
                        free(g);
                        k = -ENOMEM;
                        break;
                }
                r->rules[r->n_rules++] = (CheckRuleGroup) { .rule_id = id, .group_id = g,
                                                            .is_egress = page->rules[i].is_egress };
        }
        if (k < 0) {
                if (asprintf(&r->rules_error, "the answer could not be read: %s", strerror(-k)) < 0)
                        r->rules_error = NULL;
        } else
                r->rules_described = true;
        prep_done(r);
}

static int prep_call(CheckRun *r, Ec2Query *q, Ec2DoneFn done, Ec2Call **ret_call) {
        Ec2CallOptions opts = { .deadline = r->deadline };
        int k;

        k = ec2_call(manager_of(r)->aws->ec2, q, &opts, done, r, ret_call);
        if (k >= 0)
                r->prep_pending++;
        return k;
}

static int managed_query(CheckRun *r, const char *action, Ec2Query **ret) {
        Manager *m = manager_of(r);
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        _cleanup_free_ char *f_managed = NULL, *f_instance = NULL;
        const char *cdpd = "cdpd", *iid = m->aws->instance_id;
        int k;

        if (asprintf(&f_managed, "tag:%smanaged-by", m->config->tag_prefix) < 0 ||
            asprintf(&f_instance, "tag:%sinstance-id", m->config->tag_prefix) < 0)
                return -ENOMEM;
        k = ec2_query_new(&q, action);
        if (k >= 0)
                k = ec2_query_set(q, "Owner.1", "self");
        if (k >= 0)
                k = ec2_query_add_filter(q, f_managed, &cdpd, 1);
        if (k >= 0)
                k = ec2_query_add_filter(q, f_instance, &iid, 1);
        if (k >= 0 && strcmp(action, "DescribeSnapshots") == 0)
                k = ec2_query_set(q, "MaxResults", "5");
        if (k < 0)
                return k;
        *ret = TAKE_PTR(q);
        return 0;
}

static void run_start(CheckRun *r) {
        const SnapshotPolicy *s = &r->policy->snapshot;
        const BastionPolicy *bp = &r->policy->bastion;
        int k = 0;

        /* Held until every preparation call is started, so an early answer
         * cannot finish the preparation. */
        r->prep_pending = 1;
        if (s->enabled) {
                _cleanup_(ec2_query_freep) Ec2Query *q = NULL;

                k = managed_query(r, "DescribeSnapshots", &q);
                if (k >= 0)
                        k = prep_call(r, q, on_prep_snapshots, &r->prep_snapshots);
        }
        if (k >= 0 && s->enabled && s->type == SNAPSHOT_TYPE_AMI) {
                _cleanup_(ec2_query_freep) Ec2Query *q = NULL;

                k = managed_query(r, "DescribeImages", &q);
                if (k >= 0)
                        k = prep_call(r, q, on_prep_images, &r->prep_images);
        }
        if (k >= 0 && bp->enabled && bp->n_revoke_rule_ids > 0) {
                _cleanup_(ec2_query_freep) Ec2Query *q = NULL;

                k = ec2_query_new(&q, "DescribeSecurityGroupRules");
                if (k >= 0)
                        k = ec2_query_add_filter(q, "security-group-rule-id",
                                                 (const char *const *) bp->revoke_rule_ids, bp->n_revoke_rule_ids);
                if (k >= 0)
                        k = prep_call(r, q, on_prep_rules, &r->prep_rules);
        }
        if (k < 0)
                log_warning_errno(k, "permission check: cannot start a preparing describe call, going on without");
        prep_done(r);
}

/* Ownership: the run is kept in the pattern's list until it finishes. */
static int run_new(CheckPattern *c, CtlRequest *req, CheckRun **ret) {
        Manager *m = c->base.manager;
        _cleanup_free_ PolicyTag *tags = NULL;
        CheckRun *r;
        int k;

        if (!m->policy || !m->tags)
                return -EAGAIN;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->pattern = c;
        r->req = req;
        r->deadline = now_monotonic() + CHECK_DEADLINE_USEC;
        tags = calloc(m->tags->n + 1, sizeof(PolicyTag));
        if (!tags) {
                free(r);
                return -ENOMEM;
        }
        for (size_t i = 0; i < m->tags->n; i++)
                tags[i] = (PolicyTag) { m->tags->keys[i], m->tags->values[i] };
        k = policy_parse(tags, m->tags->n, m->config->tag_prefix, &r->policy);
        if (k < 0) {
                free(r);
                return k;
        }
        r->next = c->runs;
        c->runs = r;
        *ret = r;
        return 0;
}

/* ---- PatternOps ---- */

static int on_settle(sd_event_source *s, uint64_t usec, void *userdata) {
        CheckPattern *c = userdata;
        CheckRun *r;
        int k;

        (void) s;
        (void) usec;
        /* A newer policy makes a running self-check moot. */
        if (c->log_run) {
                CheckRun *old = c->log_run;
                run_unlink(old);
                run_free(old);
        }
        k = run_new(c, NULL, &r);
        if (k < 0) {
                log_warning_errno(k, "cannot start the permission check");
                return 0;
        }
        c->log_run = r;
        run_start(r);
        return 0;
}

static void check_policy_changed(Pattern *p) {
        CheckPattern *c = (CheckPattern *) p;
        uint64_t when = now_monotonic() + CHECK_SETTLE_USEC;
        int k;

        if (!c->settle_timer)
                k = sd_event_add_time(p->manager->event, &c->settle_timer, CLOCK_MONOTONIC, when, USEC_PER_SEC,
                                      on_settle, c);
        else
                k = sd_event_source_set_time(c->settle_timer, when);
        if (k >= 0)
                k = sd_event_source_set_enabled(c->settle_timer, SD_EVENT_ONESHOT);
        if (k < 0)
                log_warning_errno(k, "cannot schedule the permission check");
}

static int ctl_check(void *userdata, CtlRequest *req, struct json_object *args) {
        CheckPattern *c = userdata;
        CheckRun *r;
        int k;

        (void) args;
        k = run_new(c, req, &r);
        if (k == -EAGAIN) {
                ctl_reply_error(req, 1, "NotReady", "the tags have not been read yet");
                return 0;
        }
        if (k < 0)
                return k;
        run_start(r);
        return 0;
}

static void check_done(Pattern *p) {
        CheckPattern *c = (CheckPattern *) p;

        c->settle_timer = sd_event_source_disable_unref(c->settle_timer);
        while (c->runs) {
                CheckRun *r = c->runs;

                run_unlink(r);
                if (r->req)
                        ctl_reply_error(r->req, 1, "Aborted", "cdpd is stopping");
                run_free(r);
        }
        free(c->last_summary);
}

/* JSON keys (cdpctl status, "check"): checked_at, allowed, denied, unknown,
 * missing (the summary line naming what is not allowed; absent when all is). */
static void check_status(Pattern *p, StatusRequest *sr) {
        CheckPattern *c = (CheckPattern *) p;
        struct json_object *o;
        char buf[RFC3339_UTC_STRING_MAX];

        if (c->last_at == 0) {
                status_request_done(sr, NULL);
                return;
        }
        o = json_object_new_object();
        if (!o) {
                status_request_done(sr, NULL);
                return;
        }
        if (format_rfc3339_utc((time_t) (c->last_at / USEC_PER_SEC), buf) >= 0)
                json_object_object_add(o, "checked_at", json_object_new_string(buf));
        json_object_object_add(o, "allowed", json_object_new_int64((int64_t) c->last_counts[CHECK_ALLOWED]));
        json_object_object_add(o, "denied", json_object_new_int64((int64_t) c->last_counts[CHECK_DENIED]));
        json_object_object_add(o, "unknown", json_object_new_int64((int64_t) c->last_counts[CHECK_UNKNOWN]));
        if (c->last_summary)
                json_object_object_add(o, "missing", json_object_new_string(c->last_summary));
        status_request_done(sr, o);
}

static const PatternCommand check_commands[] = {
        { "check", ctl_check },
};

const PatternOps check_pattern_ops = {
        .name = "check",
        .size = sizeof(CheckPattern),
        .done = check_done,
        .policy_changed = check_policy_changed,
        .status = check_status,
        .commands = check_commands,
        .n_commands = ELEMENTSOF(check_commands),
};
