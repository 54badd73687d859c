/* SPDX-License-Identifier: MIT */
/* The on-demand bastion (SPEC 7): count down to an absolute expiry, warn
 * before it, then revoke the temporary ingress rules and stop or terminate
 * this instance, failing closed.
 *
 * Planning is lib/core/bastion-plan.c; this file is the executor:
 *
 *   launch time  DescribeInstances of ourselves whenever the policy changes
 *                (retried with backoff while unknown; unknown = never act)
 *   count-down   one CLOCK_REALTIME timer for the next warning or the
 *                expiry, so a clock step or a restart changes nothing
 *   at expiry    1. confirm: DescribeInstances again, re-reading our tags
 *                   from the API (the IMDS tag view lags behind CreateTags);
 *                   when the tags moved the expiry or dropped the policy, do
 *                   nothing; when the call fails, act anyway (fail closed)
 *                2. revoke: DescribeSecurityGroupRules (the API needs each
 *                   rule's group), then RevokeSecurityGroupIngress per group,
 *                   concurrently; a rule that no longer exists is done
 *                3. StopInstances or TerminateInstances on ourselves
 *                Every failing call is retried with backoff, forever. The
 *                stop waits for the revokes while their errors can pass
 *                (throttling, 5xx, network); on an error that waiting cannot
 *                fix (UnauthorizedOperation, invalid parameters) it goes
 *                ahead, and the revokes keep being retried beside it.
 *   grace        expire_grace after cdpd started acting (the expiry, or the
 *                start of cdpd when the expiry passed while it was not
 *                running) without StopInstances/TerminateInstances accepted:
 *                power off locally (poweroff.h) unless
 *                expire_fallback_poweroff=no, and keep retrying the API.
 *
 * Once acting has passed the confirmation it runs to the end: revoked rules
 * cannot be un-revoked, and a half-expired bastion is the worst outcome.
 *
 * `cdpctl extend D` writes cdp:expires-at (and cdp:ttl when the ttl would
 * still end first) with CreateTags; until the tag read shows the new value
 * the written policy is used (an override, dropped as soon as the tags read
 * differ from what they were when it was made). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "cdp/bastion-plan.h"
#include "cdp/clock.h"
#include "cdp/ec2-bastion.h"
#include "cdp/ec2-xml.h"
#include "cdp/parse-util.h"
#include "ctl-server.h"
#include "log.h"
#include "pattern.h"
#include "poweroff.h"
#include "wall.h"

#define TIMER_ACCURACY_USEC (1 * USEC_PER_MSEC)
#define RETRY_BASE_USEC (1 * USEC_PER_SEC)
#define RETRY_CAP_MIN_USEC (100 * USEC_PER_MSEC)
#define RETRY_CAP_MAX_USEC (60 * USEC_PER_SEC)
#define LAUNCH_RETRY_CAP_USEC (5 * 60 * USEC_PER_SEC)
#define POWEROFF_RETRY_USEC (60 * USEC_PER_SEC)

typedef enum Phase {
        PHASE_IDLE,             /* counting down, or nothing to do */
        PHASE_CONFIRM,          /* expired: re-reading our tags from the API */
        PHASE_REVOKE,           /* revoking cdp:expire-revoke */
        PHASE_STOP,             /* StopInstances / TerminateInstances */
        PHASE_DONE,             /* AWS accepted it (or the instance was already going down) */
        _PHASE_MAX,
} Phase;

static const char *const phase_names[_PHASE_MAX] = {
        [PHASE_IDLE] = "idle",
        [PHASE_CONFIRM] = "confirming",
        [PHASE_REVOKE] = "revoking",
        [PHASE_STOP] = "stopping",
        [PHASE_DONE] = "done",
};

typedef struct BastionPattern BastionPattern;

typedef struct RuleRef {
        char *id;
        char *group_id;
        bool is_egress;
} RuleRef;

typedef struct RevokeGroup {
        BastionPattern *b;
        char *group_id;
        char **rule_ids;
        size_t n_rule_ids;
        Ec2Call *call;
} RevokeGroup;

struct BastionPattern {
        Pattern base;

        BastionPolicy tags;             /* copy of the manager's bastion policy */
        bool have_override;
        BastionPolicy override_base;    /* the manager's policy when the override was made */
        BastionPolicy override;         /* what we wrote (extend) or the API said (confirm) */
        const char *override_source;    /* "extend" | "describe-instances" */

        time_t launch_time;             /* EC2_TIME_UNSET until DescribeInstances answered */
        char *instance_state;
        Ec2Call *launch_call;
        bool launch_again;
        sd_event_source *launch_timer;
        unsigned launch_failures;
        char *launch_error;

        BastionPlan plan;
        BastionPlanState logged_state;
        time_t logged_expiry;
        bool logged;
        sd_event_source *timer;         /* CLOCK_REALTIME: next warning or the expiry */
        time_t warned_expiry;
        uint64_t announced;
        uint64_t next_warning_usec;     /* 0: none ahead */

        Phase phase;
        BastionPolicy acting;           /* the policy acted on */
        uint64_t acting_since;          /* CLOCK_REALTIME usec */
        sd_event_source *grace_timer;   /* CLOCK_REALTIME */
        bool grace_passed;
        char *confirm_note;
        Ec2Call *call;                  /* confirm or stop */
        sd_event_source *retry_timer;
        unsigned failures;
        char *last_error;
        char *stop_request_id;
        char *final_state;

        /* revocation, which may go on beside the stop */
        bool revoke_running, revoke_complete, revoke_gave_up;
        Ec2Call *revoke_call;           /* DescribeSecurityGroupRules */
        RuleRef *rules;
        size_t n_rules;
        RevokeGroup *groups;
        size_t n_groups, groups_pending;
        bool round_transient, round_permanent;
        sd_event_source *revoke_timer;
        unsigned revoke_failures;
        char *revoke_error;
        size_t n_revoked;

        PoweroffRequest *poweroff;
        bool poweroff_asked, poweroff_accepted;
        char *poweroff_error;
        sd_event_source *poweroff_timer;

        CtlRequest *extend_req;
        Ec2Call *extend_call;
        BastionExtension extension;
        uint64_t extend_by_usec;
};

static const LogFields bastion_fields = { .pattern = "bastion" };

static Manager *manager_of(BastionPattern *b) {
        return b->base.manager;
}

static uint64_t now_realtime(void) {
        return clock_now(clock_real(), CLOCK_REALTIME);
}

static const char *fmt_time(time_t t, char buf[static RFC3339_UTC_STRING_MAX]) {
        if (t < 0 || format_rfc3339_utc(t, buf) < 0)
                strcpy(buf, "?");
        return buf;
}

static const char *action_verb(ExpireAction a) {
        return a == EXPIRE_ACTION_STOP ? "stopped" : "terminated";
}

static const char *action_call(ExpireAction a) {
        return a == EXPIRE_ACTION_STOP ? "StopInstances" : "TerminateInstances";
}

static void set_string(char **p, const char *s) {
        free(*p);
        *p = s ? strdup(s) : NULL;
}

static void set_stringf(char **p, const char *fmt, ...) _printf_(2, 3);
static void set_stringf(char **p, const char *fmt, ...) {
        va_list ap;

        free(*p);
        va_start(ap, fmt);
        if (vasprintf(p, fmt, ap) < 0)
                *p = NULL;
        va_end(ap);
}

/* ---- policy copies ---- */

static void bastion_copy_done(BastionPolicy *p) {
        for (size_t i = 0; i < p->n_revoke_rule_ids; i++)
                free(p->revoke_rule_ids[i]);
        free(p->revoke_rule_ids);
        *p = (BastionPolicy) {};
}

static int bastion_copy(const BastionPolicy *src, BastionPolicy *ret) {
        BastionPolicy c = *src;

        c.revoke_rule_ids = NULL;
        c.n_revoke_rule_ids = 0;
        if (src->n_revoke_rule_ids > 0) {
                c.revoke_rule_ids = calloc(src->n_revoke_rule_ids, sizeof(char *));
                if (!c.revoke_rule_ids)
                        return -ENOMEM;
                for (size_t i = 0; i < src->n_revoke_rule_ids; i++) {
                        c.revoke_rule_ids[i] = strdup(src->revoke_rule_ids[i]);
                        if (!c.revoke_rule_ids[i]) {
                                c.n_revoke_rule_ids = i;
                                bastion_copy_done(&c);
                                return -ENOMEM;
                        }
                        c.n_revoke_rule_ids = i + 1;
                }
        }
        bastion_copy_done(ret);
        *ret = c;
        return 0;
}

static bool bastion_equal(const BastionPolicy *a, const BastionPolicy *b) {
        if (a->enabled != b->enabled || a->invalid != b->invalid || a->has_expires_at != b->has_expires_at ||
            a->has_ttl != b->has_ttl || a->action != b->action || a->n_revoke_rule_ids != b->n_revoke_rule_ids)
                return false;
        if (a->has_expires_at && a->expires_at != b->expires_at)
                return false;
        if (a->has_ttl && a->ttl_usec != b->ttl_usec)
                return false;
        for (size_t i = 0; i < a->n_revoke_rule_ids; i++)
                if (strcmp(a->revoke_rule_ids[i], b->revoke_rule_ids[i]) != 0)
                        return false;
        return true;
}

static const BastionPolicy *effective_policy(BastionPattern *b) {
        return b->have_override ? &b->override : &b->tags;
}

static void override_drop(BastionPattern *b) {
        b->have_override = false;
        bastion_copy_done(&b->override);
        bastion_copy_done(&b->override_base);
        b->override_source = NULL;
}

static int override_set(BastionPattern *b, const BastionPolicy *p, const char *source) {
        BastionPolicy base = {}, over = {};
        int r;

        r = bastion_copy(&b->tags, &base);
        if (r >= 0)
                r = bastion_copy(p, &over);
        if (r < 0) {
                bastion_copy_done(&base);
                bastion_copy_done(&over);
                return r;
        }
        override_drop(b);
        b->override_base = base;
        b->override = over;
        b->override_source = source;
        b->have_override = true;
        return 0;
}

/* ---- timers ---- */

typedef int (*TimerFn)(sd_event_source *s, uint64_t usec, void *userdata);

static int timer_arm(BastionPattern *b, sd_event_source **s, clockid_t clock, uint64_t usec, TimerFn fn) {
        int r;

        if (!*s) {
                r = sd_event_add_time(manager_of(b)->event, s, clock, usec, TIMER_ACCURACY_USEC, fn, b);
                if (r < 0)
                        return r;
                return sd_event_source_set_enabled(*s, SD_EVENT_ONESHOT);
        }
        r = sd_event_source_set_time(*s, usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(*s, SD_EVENT_ONESHOT);
        return r;
}

static void timer_off(sd_event_source *s) {
        if (s)
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
}

static uint64_t now_monotonic(void) {
        return clock_now(clock_real(), CLOCK_MONOTONIC);
}

static uint32_t random_u32(void) {
        uint32_t v = 0;

        if (getentropy(&v, sizeof(v)) < 0)
                v = (uint32_t) now_monotonic();
        return v;
}

/* Exponential backoff with "equal jitter" (half fixed, half random, so a
 * retry never comes at once). The cap is a tenth of expire_grace, between
 * 100 ms and 1 min, so several attempts fit before the local fallback. */
static uint64_t retry_delay(const BastionPattern *b, unsigned failures, uint64_t cap_max) {
        uint64_t cap = manager_of((BastionPattern *) b)->config->expire_grace_usec / 10, limit;

        cap = MAX(MIN(cap, cap_max), RETRY_CAP_MIN_USEC);
        limit = ec2_backoff_usec(failures, MIN(RETRY_BASE_USEC, cap), cap, UINT32_MAX);
        return limit / 2 + ec2_backoff_usec(0, limit / 2, limit / 2, random_u32());
}

/* ---- planning ---- */

static void replan(BastionPattern *b);
static void act_start(BastionPattern *b);

static void warn_users(BastionPattern *b, uint64_t now) {
        Manager *m = manager_of(b);
        const LogFields f = { .pattern = "bastion", .action = "expire-warning", .resource = m->aws->instance_id };
        char t_exp[RFC3339_UTC_STRING_MAX], left[DURATION_STRING_MAX];
        _cleanup_free_ char *msg = NULL;
        uint64_t expiry = bastion_plan_expiry_usec(&b->plan);
        int n;

        /* Round the time left up to whole seconds: "in 0s" helps nobody. */
        format_duration(expiry > now ? expiry - now + USEC_PER_SEC - 1 : 0, left);
        fmt_time(b->plan.expiry, t_exp);
        log_full_fields(LOG_WARNING, 0, &f,
                        "bastion %s expires at %s (in %s): it will be %s%s; `cdpctl extend DURATION` moves the "
                        "expiry later",
                        m->aws->instance_id, t_exp, left, action_verb(b->plan.action),
                        effective_policy(b)->n_revoke_rule_ids > 0 ? " after revoking its temporary firewall rules"
                                                                   : "");
        if (asprintf(&msg,
                     "\a\n*** cdpd: this instance (%s) expires in %s, at %s. ***\n"
                     "*** It will then be %s. Save your work, or run `cdpctl extend 1h`. ***\n",
                     m->aws->instance_id, left, t_exp, action_verb(b->plan.action)) < 0)
                return;
        n = wall_send(msg);
        if (n < 0)
                log_full_fields(LOG_DEBUG, n, &f, "cannot warn logged-in users on their terminals");
        else
                log_full_fields(LOG_DEBUG, 0, &f, "warned %d terminal(s)", n);
}

static void log_plan_change(BastionPattern *b) {
        Manager *m = manager_of(b);
        char t_exp[RFC3339_UTC_STRING_MAX], left[DURATION_STRING_MAX];

        if (b->logged && b->logged_state == b->plan.state &&
            (b->plan.state != BASTION_PLAN_COUNTDOWN || b->logged_expiry == b->plan.expiry))
                return;
        b->logged = true;
        b->logged_state = b->plan.state;
        b->logged_expiry = b->plan.expiry;

        switch (b->plan.state) {
        case BASTION_PLAN_COUNTDOWN:
                fmt_time(b->plan.expiry, t_exp);
                format_duration(b->plan.time_left_usec, left);
                log_full_fields(LOG_INFO, 0, &bastion_fields,
                                "bastion %s expires at %s (in %s, from %s); it will then be %s",
                                m->aws->instance_id, t_exp, left,
                                b->plan.source == BASTION_SOURCE_TTL ? "launch time + cdp:ttl" : "cdp:expires-at",
                                action_verb(b->plan.action));
                break;
        case BASTION_PLAN_NO_LAUNCH_TIME:
                log_full_fields(LOG_NOTICE, 0, &bastion_fields,
                                "bastion: waiting for the launch time of %s (DescribeInstances) before counting "
                                "down; nothing is stopped or terminated meanwhile",
                                m->aws->instance_id);
                break;
        case BASTION_PLAN_OFF:
                if (effective_policy(b)->invalid)
                        log_full_fields(LOG_WARNING, 0, &bastion_fields,
                                        "bastion policy disabled by an invalid tag (see `cdpctl policy`): this "
                                        "instance will not expire");
                break;
        default:
                break;
        }
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        replan(userdata);
        return 0;
}

static void replan(BastionPattern *b) {
        Manager *m = manager_of(b);
        BastionPlanInput in = {
                .policy = effective_policy(b),
                .launch_time = b->launch_time,
                .max_lifetime_usec = m->config->bastion_max_lifetime_usec,
        };
        uint64_t now = now_realtime();
        BastionWarningStep w;
        int r;

        if (b->phase != PHASE_IDLE)
                return;         /* acting runs to its end */

        r = bastion_plan(&in, now, &b->plan);
        if (r < 0) {
                log_full_fields(LOG_ERR, r, &bastion_fields, "cannot compute the bastion expiry; not acting");
                b->plan = (BastionPlan) { .state = BASTION_PLAN_OFF };
        }
        log_plan_change(b);

        if (b->plan.state == BASTION_PLAN_EXPIRED) {
                timer_off(b->timer);
                b->next_warning_usec = 0;
                act_start(b);
                return;
        }
        if (b->plan.state != BASTION_PLAN_COUNTDOWN) {
                timer_off(b->timer);
                b->next_warning_usec = 0;
                return;
        }

        if (b->warned_expiry != b->plan.expiry) {
                /* A new expiry (extend, new tags): its warnings start afresh. */
                b->warned_expiry = b->plan.expiry;
                b->announced = UINT64_MAX;
        }
        bastion_warning_step(m->config->expire_warn_usec, m->config->n_expire_warn, bastion_plan_expiry_usec(&b->plan),
                             now, b->announced, &w);
        if (w.due) {
                b->announced = w.announced;
                warn_users(b, now);
        }
        b->next_warning_usec = w.next_usec < bastion_plan_expiry_usec(&b->plan) ? w.next_usec : 0;
        r = timer_arm(b, &b->timer, CLOCK_REALTIME, w.next_usec, on_timer);
        if (r < 0)
                log_full_fields(LOG_ERR, r, &bastion_fields, "cannot arm the bastion expiry timer");
}

/* ---- launch time ---- */

static void launch_fetch(BastionPattern *b);

static int on_launch_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        launch_fetch(userdata);
        return 0;
}

static void launch_failed(BastionPattern *b, int error, const char *fmt, ...) _printf_(3, 4);
static void launch_failed(BastionPattern *b, int error, const char *fmt, ...) {
        Manager *m = manager_of(b);
        const LogFields f = { .pattern = "bastion", .action = "DescribeInstances", .resource = m->aws->instance_id };
        uint64_t delay;
        va_list ap;
        int r;

        free(b->launch_error);
        va_start(ap, fmt);
        if (vasprintf(&b->launch_error, fmt, ap) < 0)
                b->launch_error = NULL;
        va_end(ap);
        /* Once loudly, then quietly: it is retried forever. */
        (void) error;
        log_full_fields(b->launch_failures == 0 ? LOG_WARNING : LOG_DEBUG, 0, &f,
                        "cannot read the launch time of %s: %s; the bastion does not count down until it is known",
                        m->aws->instance_id, b->launch_error ?: "error");
        delay = retry_delay(b, b->launch_failures++, LAUNCH_RETRY_CAP_USEC);
        r = timer_arm(b, &b->launch_timer, CLOCK_MONOTONIC, now_monotonic() + delay, on_launch_timer);
        if (r < 0)
                log_full_fields(LOG_ERR, r, &bastion_fields, "cannot arm the launch time retry");
}

static void on_launch(int error, const Ec2Response *resp, void *userdata) {
        BastionPattern *b = userdata;
        Manager *m = manager_of(b);
        _cleanup_(ec2_instance_page_freep) Ec2InstancePage *page = NULL;
        const Ec2Instance *inst = NULL;
        int r;

        b->launch_call = NULL;
        if (error < 0) {
                launch_failed(b, error, "DescribeInstances: %s: %s", resp->error_code ?: "error",
                              resp->error_message ?: strerror(-error));
                goto again;
        }
        r = ec2_parse_describe_instances(resp->body, resp->body_len, &page);
        if (r < 0) {
                launch_failed(b, r, "the DescribeInstances answer could not be read");
                goto again;
        }
        for (size_t i = 0; i < page->n_instances && !inst; i++)
                if (strcmp(page->instances[i].id, m->aws->instance_id) == 0)
                        inst = &page->instances[i];
        if (!inst || inst->launch_time == EC2_TIME_UNSET) {
                launch_failed(b, -ENOENT, "DescribeInstances did not give the launch time of %s",
                              m->aws->instance_id);
                goto again;
        }
        b->launch_time = inst->launch_time;
        set_string(&b->instance_state, inst->state);
        b->launch_failures = 0;
        b->launch_error = mfree(b->launch_error);
        timer_off(b->launch_timer);
        replan(b);
again:
        if (b->launch_again) {
                b->launch_again = false;
                launch_fetch(b);
        }
}

static void launch_fetch(BastionPattern *b) {
        Manager *m = manager_of(b);
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        const char *ids[] = { m->aws->instance_id };
        int r;

        if (b->launch_call) {
                b->launch_again = true;
                return;
        }
        timer_off(b->launch_timer);
        r = ec2_query_new(&q, "DescribeInstances");
        if (r >= 0)
                r = ec2_query_add_list(q, "InstanceId", ids, 1);
        if (r >= 0)
                r = ec2_call(m->aws->ec2, q, NULL, on_launch, b, &b->launch_call);
        if (r < 0)
                launch_failed(b, r, "cannot start DescribeInstances: %s", strerror(-r));
}

/* ---- acting: grace and the local power-off ---- */

static void poweroff_try(BastionPattern *b);

static int on_poweroff_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        poweroff_try(userdata);
        return 0;
}

static void on_poweroff_done(int error, const char *detail, void *userdata) {
        BastionPattern *b = userdata;
        const LogFields f = { .pattern = "bastion", .action = "poweroff" };

        b->poweroff = NULL;
        if (error >= 0) {
                b->poweroff_accepted = true;
                b->poweroff_error = mfree(b->poweroff_error);
                log_full_fields(LOG_NOTICE, 0, &f, "systemd-logind accepted the power-off");
                return;
        }
        set_string(&b->poweroff_error, detail ?: strerror(-error));
        log_full_fields(LOG_ERR, 0, &f, "local power-off failed: %s; retrying in %llus",
                        b->poweroff_error ?: "error", (unsigned long long) (POWEROFF_RETRY_USEC / USEC_PER_SEC));
        if (timer_arm(b, &b->poweroff_timer, CLOCK_MONOTONIC, now_monotonic() + POWEROFF_RETRY_USEC,
                      on_poweroff_timer) < 0)
                log_full_fields(LOG_ERR, 0, &f, "cannot arm the power-off retry");
}

static void poweroff_try(BastionPattern *b) {
        Manager *m = manager_of(b);
        const LogFields f = { .pattern = "bastion", .action = "poweroff", .resource = m->aws->instance_id };
        _cleanup_free_ char *reason = NULL, *detail = NULL;
        char grace[DURATION_STRING_MAX];
        int r;

        if (b->phase == PHASE_DONE || b->poweroff || b->poweroff_accepted)
                return;
        format_duration(m->config->expire_grace_usec, grace);
        if (asprintf(&reason, "bastion %s expired and the EC2 API did not accept %s within expire_grace (%s)",
                     m->aws->instance_id, action_call(b->acting.action), grace) < 0)
                reason = NULL;
        log_full_fields(LOG_CRIT, 0, &f, "%s (last error: %s): powering off locally",
                        reason ?: "bastion expired", b->last_error ?: b->revoke_error ?: "none");
        b->poweroff_asked = true;
        r = poweroff_request(m->event, reason, on_poweroff_done, b, &b->poweroff, &detail);
        if (r < 0)
                on_poweroff_done(r, detail, b);
}

static int on_grace(sd_event_source *s, uint64_t usec, void *userdata) {
        BastionPattern *b = userdata;
        Manager *m = manager_of(b);
        char grace[DURATION_STRING_MAX];

        (void) s;
        (void) usec;
        if (b->phase == PHASE_DONE)
                return 0;
        b->grace_passed = true;
        if (!m->config->expire_fallback_poweroff) {
                log_full_fields(LOG_ERR, 0, &bastion_fields,
                                "bastion %s: %s not accepted within expire_grace (%s) and "
                                "expire_fallback_poweroff=no: still retrying the EC2 API (last error: %s)",
                                m->aws->instance_id, action_call(b->acting.action),
                                format_duration(m->config->expire_grace_usec, grace),
                                b->last_error ?: b->revoke_error ?: "none");
                return 0;
        }
        poweroff_try(b);
        return 0;
}

/* ---- acting: stop or terminate ---- */

static void stop_start(BastionPattern *b);

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        BastionPattern *b = userdata;

        (void) s;
        (void) usec;
        if (b->phase == PHASE_STOP)
                stop_start(b);
        return 0;
}

static void phase_done(BastionPattern *b, const char *state) {
        b->phase = PHASE_DONE;
        set_string(&b->final_state, state);
        timer_off(b->grace_timer);
        timer_off(b->retry_timer);
        timer_off(b->poweroff_timer);
}

static void on_stop(int error, const Ec2Response *resp, void *userdata) {
        BastionPattern *b = userdata;
        Manager *m = manager_of(b);
        const char *action = action_call(b->acting.action);
        const LogFields f = { .pattern = "bastion", .action = action, .resource = m->aws->instance_id,
                              .request_id = resp->request_id };
        _cleanup_(ec2_instance_state_changes_freep) Ec2InstanceStateChanges *changes = NULL;
        const Ec2InstanceStateChange *ch = NULL;
        uint64_t delay;
        int r;

        b->call = NULL;
        if (error >= 0) {
                r = ec2_parse_instance_state_changes(action, resp->body, resp->body_len, &changes);
                if (r >= 0)
                        ch = ec2_instance_state_changes_find(changes, m->aws->instance_id);
                /* AWS acted (a 200 answer): even an unreadable body means done. */
                set_string(&b->stop_request_id, resp->request_id);
                log_full_fields(LOG_NOTICE, 0, &f, "%s accepted for bastion %s: %s -> %s", action,
                                m->aws->instance_id, ch && ch->previous_state ? ch->previous_state : "?",
                                ch ? ch->current_state : "?");
                phase_done(b, ch ? ch->current_state : (b->acting.action == EXPIRE_ACTION_STOP ? "stopping"
                                                                                              : "shutting-down"));
                return;
        }
        set_stringf(&b->last_error, "%s: %s: %s", action, resp->error_code ?: "error",
                    resp->error_message ?: strerror(-error));
        delay = retry_delay(b, b->failures++, RETRY_CAP_MAX_USEC);
        log_full_fields(LOG_ERR, 0, &f, "%s of bastion %s failed (%s); retrying in %llums", action,
                        m->aws->instance_id, b->last_error, (unsigned long long) (delay / USEC_PER_MSEC));
        r = timer_arm(b, &b->retry_timer, CLOCK_MONOTONIC, now_monotonic() + delay, on_retry);
        if (r < 0)
                log_full_fields(LOG_ERR, r, &f, "cannot arm the retry timer");
}

static void stop_start(BastionPattern *b) {
        Manager *m = manager_of(b);
        const char *action = action_call(b->acting.action);
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        const char *ids[] = { m->aws->instance_id };
        int r;

        b->phase = PHASE_STOP;
        if (b->call)
                return;
        r = ec2_query_new(&q, action);
        if (r >= 0)
                r = ec2_query_add_list(q, "InstanceId", ids, 1);
        /* Asking twice to stop or terminate the same instance is harmless:
         * retry after a dropped connection too. */
        if (r >= 0)
                ec2_query_set_idempotent(q, true);
        if (r >= 0)
                r = ec2_call(m->aws->ec2, q, NULL, on_stop, b, &b->call);
        if (r < 0) {
                Ec2Response resp = { .error_code = "LocalError", .error_message = strerror(-r) };
                on_stop(r, &resp, b);
        }
}

/* ---- acting: revoke ---- */

static void revoke_start(BastionPattern *b);

static void revoke_clear(BastionPattern *b) {
        ec2_call_cancel(b->revoke_call);
        b->revoke_call = NULL;
        for (size_t i = 0; i < b->n_groups; i++) {
                ec2_call_cancel(b->groups[i].call);
                free(b->groups[i].group_id);
                for (size_t k = 0; k < b->groups[i].n_rule_ids; k++)
                        free(b->groups[i].rule_ids[k]);
                free(b->groups[i].rule_ids);
        }
        b->groups = mfree(b->groups);
        b->n_groups = b->groups_pending = 0;
        for (size_t i = 0; i < b->n_rules; i++) {
                free(b->rules[i].id);
                free(b->rules[i].group_id);
        }
        b->rules = mfree(b->rules);
        b->n_rules = 0;
}

static int on_revoke_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        revoke_start(userdata);
        return 0;
}

/* Errors that waiting cannot fix. */
static bool error_is_permanent(Ec2ErrorClass cls) {
        return cls == EC2_UNAUTHORIZED || cls == EC2_INVALID;
}

static void revoke_round_done(BastionPattern *b) {
        uint64_t delay;
        int r;

        b->revoke_running = false;
        if (!b->round_transient && !b->round_permanent) {
                b->revoke_complete = true;
                b->revoke_error = mfree(b->revoke_error);
                revoke_clear(b);
                if (b->phase == PHASE_REVOKE)
                        stop_start(b);
                return;
        }
        revoke_clear(b);
        delay = retry_delay(b, b->revoke_failures++, RETRY_CAP_MAX_USEC);
        r = timer_arm(b, &b->revoke_timer, CLOCK_MONOTONIC, now_monotonic() + delay, on_revoke_timer);
        if (r < 0)
                log_full_fields(LOG_ERR, r, &bastion_fields, "cannot arm the revoke retry");
        if (b->round_permanent && b->phase == PHASE_REVOKE && !b->revoke_gave_up) {
                b->revoke_gave_up = true;
                log_full_fields(LOG_ERR, 0, &bastion_fields,
                                "bastion %s: cannot revoke its temporary rules (%s), which waiting will not fix: "
                                "going on with %s, and retrying the revocation meanwhile",
                                manager_of(b)->aws->instance_id, b->revoke_error ?: "error",
                                action_call(b->acting.action));
                stop_start(b);
        }
}

static void revoke_fail(BastionPattern *b, bool permanent, const char *fmt, ...) _printf_(3, 4);
static void revoke_fail(BastionPattern *b, bool permanent, const char *fmt, ...) {
        va_list ap;

        free(b->revoke_error);
        va_start(ap, fmt);
        if (vasprintf(&b->revoke_error, fmt, ap) < 0)
                b->revoke_error = NULL;
        va_end(ap);
        if (permanent)
                b->round_permanent = true;
        else
                b->round_transient = true;
}

static void on_revoke(int error, const Ec2Response *resp, void *userdata) {
        RevokeGroup *g = userdata;
        BastionPattern *b = g->b;
        Manager *m = manager_of(b);
        const LogFields f = { .pattern = "bastion", .action = "RevokeSecurityGroupIngress", .resource = g->group_id,
                              .request_id = resp->request_id };
        _cleanup_(ec2_revoke_result_freep) Ec2RevokeResult *res = NULL;
        _cleanup_strbuf_ StrBuf ids = STRBUF_INIT(4096);
        int r;

        g->call = NULL;
        for (size_t k = 0; k < g->n_rule_ids; k++)
                (void) strbuf_printf(&ids, "%s%s", k ? ", " : "", g->rule_ids[k]);

        if (error < 0) {
                /* A rule that vanished since the describe: the next round
                 * describes again and finds the rest. */
                revoke_fail(b, error_is_permanent(resp->error_class), "RevokeSecurityGroupIngress %s on %s: %s: %s", ids.data ?: "", g->group_id,
                            resp->error_code ?: "error", resp->error_message ?: strerror(-error));
                log_full_fields(LOG_ERR, 0, &f, "bastion %s: %s", m->aws->instance_id, b->revoke_error ?: "error");
        } else {
                r = ec2_parse_revoke_security_group_ingress(resp->body, resp->body_len, &res);
                if (r >= 0 && !res->ret) {
                        revoke_fail(b, false, "RevokeSecurityGroupIngress %s on %s answered false",
                                    ids.data ?: "", g->group_id);
                        log_full_fields(LOG_ERR, 0, &f, "bastion %s: %s", m->aws->instance_id,
                                        b->revoke_error ?: "error");
                } else {
                        b->n_revoked += g->n_rule_ids;
                        log_full_fields(LOG_NOTICE, 0, &f, "bastion %s: revoked %s from %s", m->aws->instance_id,
                                        ids.data ?: "", g->group_id);
                }
        }
        if (--b->groups_pending == 0)
                revoke_round_done(b);
}

static int group_add_rule(BastionPattern *b, const RuleRef *rule) {
        RevokeGroup *g = NULL;
        char **ids;

        for (size_t i = 0; i < b->n_groups && !g; i++)
                if (strcmp(b->groups[i].group_id, rule->group_id) == 0)
                        g = &b->groups[i];
        if (!g) {
                RevokeGroup *n = realloc(b->groups, (b->n_groups + 1) * sizeof(RevokeGroup));
                if (!n)
                        return -ENOMEM;
                b->groups = n;
                g = &b->groups[b->n_groups];
                *g = (RevokeGroup) { .b = b, .group_id = strdup(rule->group_id) };
                if (!g->group_id)
                        return -ENOMEM;
                b->n_groups++;
        }
        ids = realloc(g->rule_ids, (g->n_rule_ids + 1) * sizeof(char *));
        if (!ids)
                return -ENOMEM;
        g->rule_ids = ids;
        g->rule_ids[g->n_rule_ids] = strdup(rule->id);
        if (!g->rule_ids[g->n_rule_ids])
                return -ENOMEM;
        g->n_rule_ids++;
        return 0;
}

static void revoke_groups_start(BastionPattern *b) {
        Manager *m = manager_of(b);
        int r = 0;

        for (size_t i = 0; i < b->acting.n_revoke_rule_ids; i++) {
                const char *id = b->acting.revoke_rule_ids[i];
                const RuleRef *rule = NULL;

                for (size_t k = 0; k < b->n_rules && !rule; k++)
                        if (strcmp(b->rules[k].id, id) == 0)
                                rule = &b->rules[k];
                if (!rule) {
                        const LogFields f = { .pattern = "bastion", .action = "RevokeSecurityGroupIngress",
                                              .resource = id };
                        log_full_fields(LOG_NOTICE, 0, &f,
                                        "bastion %s: security group rule %s does not exist (revoked already?); "
                                        "nothing to revoke",
                                        m->aws->instance_id, id);
                        continue;
                }
                if (rule->is_egress) {
                        const LogFields f = { .pattern = "bastion", .action = "RevokeSecurityGroupIngress",
                                              .resource = id };
                        log_full_fields(LOG_WARNING, 0, &f,
                                        "bastion %s: %s is an egress rule of %s; cdp:expire-revoke revokes ingress "
                                        "rules only, leaving it",
                                        m->aws->instance_id, id, rule->group_id);
                        continue;
                }
                r = group_add_rule(b, rule);
                if (r < 0)
                        break;
        }
        if (r < 0) {
                revoke_fail(b, false, "out of memory");
                revoke_round_done(b);
                return;
        }

        b->groups_pending = b->n_groups;
        if (b->n_groups == 0) {
                revoke_round_done(b);
                return;
        }
        /* All groups at once: one slow group must not hold up the others. */
        for (size_t i = 0; i < b->n_groups; i++) {
                RevokeGroup *g = &b->groups[i];
                _cleanup_(ec2_query_freep) Ec2Query *q = NULL;

                r = ec2_query_new(&q, "RevokeSecurityGroupIngress");
                if (r >= 0)
                        r = ec2_query_set(q, "GroupId", g->group_id);
                if (r >= 0)
                        r = ec2_query_add_list(q, "SecurityGroupRuleId", (const char *const *) g->rule_ids,
                                               g->n_rule_ids);
                /* Revoking a revoked rule fails with NotFound, which the
                 * next round's describe resolves: safe to repeat. */
                if (r >= 0)
                        ec2_query_set_idempotent(q, true);
                if (r >= 0)
                        r = ec2_call(m->aws->ec2, q, NULL, on_revoke, g, &g->call);
                if (r < 0) {
                        Ec2Response resp = { .error_code = "LocalError", .error_message = strerror(-r),
                                             .error_class = EC2_SERVER };
                        on_revoke(r, &resp, g);
                }
        }
}

static void revoke_describe(BastionPattern *b, const char *next_token);

static void on_describe_rules(int error, const Ec2Response *resp, void *userdata) {
        BastionPattern *b = userdata;
        Manager *m = manager_of(b);
        const LogFields f = { .pattern = "bastion", .action = "DescribeSecurityGroupRules",
                              .request_id = resp->request_id };
        _cleanup_(ec2_security_group_rule_page_freep) Ec2SecurityGroupRulePage *page = NULL;
        int r;

        b->revoke_call = NULL;
        if (error < 0) {
                revoke_fail(b, error_is_permanent(resp->error_class), "DescribeSecurityGroupRules: %s: %s",
                            resp->error_code ?: "error",
                            resp->error_message ?: strerror(-error));
                log_full_fields(LOG_ERR, 0, &f, "bastion %s: %s", m->aws->instance_id, b->revoke_error ?: "error");
                revoke_round_done(b);
                return;
        }
        r = ec2_parse_describe_security_group_rules(resp->body, resp->body_len, &page);
        if (r < 0) {
                revoke_fail(b, false, "DescribeSecurityGroupRules: the answer could not be read: %s",
                            strerror(-r));
                log_full_fields(LOG_ERR, 0, &f, "bastion %s: %s", m->aws->instance_id, b->revoke_error ?: "error");
                revoke_round_done(b);
                return;
        }
        for (size_t i = 0; i < page->n_rules; i++) {
                RuleRef *n = realloc(b->rules, (b->n_rules + 1) * sizeof(RuleRef));

                if (!n) {
                        revoke_fail(b, false, "out of memory");
                        revoke_round_done(b);
                        return;
                }
                b->rules = n;
                b->rules[b->n_rules] = (RuleRef) {
                        .id = strdup(page->rules[i].id),
                        .group_id = strdup(page->rules[i].group_id),
                        .is_egress = page->rules[i].is_egress,
                };
                b->n_rules++;
                if (!b->rules[b->n_rules - 1].id || !b->rules[b->n_rules - 1].group_id) {
                        revoke_fail(b, false, "out of memory");
                        revoke_round_done(b);
                        return;
                }
        }
        if (page->next_token && *page->next_token) {
                revoke_describe(b, page->next_token);
                return;
        }
        revoke_groups_start(b);
}

static void revoke_describe(BastionPattern *b, const char *next_token) {
        Manager *m = manager_of(b);
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        int r;

        r = ec2_query_new(&q, "DescribeSecurityGroupRules");
        /* A filter, not SecurityGroupRuleId.N: one unknown id would fail the
         * whole call, while a rule that is gone is simply done. */
        if (r >= 0)
                r = ec2_query_add_filter(q, "security-group-rule-id", (const char *const *) b->acting.revoke_rule_ids,
                                         b->acting.n_revoke_rule_ids);
        if (r >= 0 && next_token)
                r = ec2_query_set(q, "NextToken", next_token);
        if (r >= 0)
                r = ec2_call(m->aws->ec2, q, NULL, on_describe_rules, b, &b->revoke_call);
        if (r < 0) {
                Ec2Response resp = { .error_code = "LocalError", .error_message = strerror(-r),
                                     .error_class = EC2_SERVER };
                on_describe_rules(r, &resp, b);
        }
}

static void revoke_start(BastionPattern *b) {
        if (b->revoke_running || b->revoke_complete)
                return;
        revoke_clear(b);
        b->revoke_running = true;
        b->round_transient = b->round_permanent = false;
        if (b->acting.n_revoke_rule_ids == 0) {
                revoke_round_done(b);
                return;
        }
        revoke_describe(b, NULL);
}

/* ---- acting: confirm ---- */

static void go_revoke(BastionPattern *b) {
        char t_exp[RFC3339_UTC_STRING_MAX];
        Manager *m = manager_of(b);
        const LogFields f = { .pattern = "bastion", .action = "expire", .resource = m->aws->instance_id };

        log_full_fields(LOG_WARNING, 0, &f, "bastion %s expired at %s: %s%s", m->aws->instance_id,
                        fmt_time(b->plan.expiry, t_exp),
                        b->acting.n_revoke_rule_ids > 0 ? "revoking its temporary firewall rules, then " : "",
                        b->acting.action == EXPIRE_ACTION_STOP ? "stopping it" : "terminating it");
        b->phase = PHASE_REVOKE;
        revoke_start(b);
}

static bool state_going_down(const char *s) {
        return s && (strcmp(s, "stopping") == 0 || strcmp(s, "stopped") == 0 || strcmp(s, "shutting-down") == 0 ||
                     strcmp(s, "terminated") == 0);
}

static void on_confirm(int error, const Ec2Response *resp, void *userdata) {
        BastionPattern *b = userdata;
        Manager *m = manager_of(b);
        const LogFields f = { .pattern = "bastion", .action = "DescribeInstances", .resource = m->aws->instance_id,
                              .request_id = resp->request_id };
        _cleanup_(ec2_instance_page_freep) Ec2InstancePage *page = NULL;
        _cleanup_(policy_freep) Policy *pol = NULL;
        _cleanup_free_ PolicyTag *tags = NULL;
        const Ec2Instance *inst = NULL;
        BastionPlanInput in;
        BastionPlan plan;
        int r;

        b->call = NULL;
        if (error < 0) {
                set_stringf(&b->confirm_note, "not confirmed: DescribeInstances: %s: %s", resp->error_code ?: "error",
                            resp->error_message ?: strerror(-error));
                log_full_fields(LOG_WARNING, 0, &f,
                                "bastion %s: cannot re-read the tags before acting (%s); acting on the tags read "
                                "last (fail closed)",
                                m->aws->instance_id, b->confirm_note);
                go_revoke(b);
                return;
        }
        r = ec2_parse_describe_instances(resp->body, resp->body_len, &page);
        for (size_t i = 0; r >= 0 && i < page->n_instances && !inst; i++)
                if (strcmp(page->instances[i].id, m->aws->instance_id) == 0)
                        inst = &page->instances[i];
        if (r >= 0 && inst) {
                tags = calloc(inst->n_tags + 1, sizeof(PolicyTag));
                if (!tags)
                        r = -ENOMEM;
                for (size_t i = 0; r >= 0 && i < inst->n_tags; i++)
                        tags[i] = (PolicyTag) { inst->tags[i].key, inst->tags[i].value };
                if (r >= 0)
                        r = policy_parse(tags, inst->n_tags, m->config->tag_prefix, &pol);
        }
        if (r < 0 || !inst) {
                set_string(&b->confirm_note, "not confirmed: the DescribeInstances answer could not be read");
                log_full_fields(LOG_WARNING, r, &f, "bastion %s: %s; acting on the tags read last (fail closed)",
                                m->aws->instance_id, b->confirm_note);
                go_revoke(b);
                return;
        }

        if (inst->launch_time != EC2_TIME_UNSET)
                b->launch_time = inst->launch_time;
        set_string(&b->instance_state, inst->state);
        if (state_going_down(inst->state)) {
                log_full_fields(LOG_NOTICE, 0, &f, "bastion %s expired and is already %s: nothing more to do",
                                m->aws->instance_id, inst->state);
                set_string(&b->confirm_note, "the instance was already going down");
                phase_done(b, inst->state);
                return;
        }

        in = (BastionPlanInput) { .policy = &pol->bastion, .launch_time = b->launch_time,
                                  .max_lifetime_usec = m->config->bastion_max_lifetime_usec };
        r = bastion_plan(&in, now_realtime(), &plan);
        if (r >= 0 && plan.state != BASTION_PLAN_EXPIRED) {
                char t_exp[RFC3339_UTC_STRING_MAX];

                /* The tags changed after the last read (an extension through
                 * the console or the CLI): believe the API, not the stale view. */
                if (plan.state == BASTION_PLAN_COUNTDOWN)
                        log_full_fields(LOG_NOTICE, 0, &f,
                                        "bastion %s: the tags now move the expiry to %s; not acting",
                                        m->aws->instance_id, fmt_time(plan.expiry, t_exp));
                else
                        log_full_fields(LOG_NOTICE, 0, &f,
                                        "bastion %s: the tags no longer hold a valid expiry; not acting "
                                        "(a missing or unparsable expiry never stops anything)",
                                        m->aws->instance_id);
                if (override_set(b, &pol->bastion, "describe-instances") < 0)
                        log_full_fields(LOG_ERR, -ENOMEM, &f, "cannot keep the new expiry");
                b->phase = PHASE_IDLE;
                timer_off(b->grace_timer);
                b->confirm_note = mfree(b->confirm_note);
                manager_refresh_tags(m);
                replan(b);
                return;
        }
        if (r >= 0 && bastion_copy(&pol->bastion, &b->acting) >= 0) {
                b->plan = plan;
                set_string(&b->confirm_note, "confirmed by DescribeInstances");
        }
        go_revoke(b);
}

static void act_start(BastionPattern *b) {
        Manager *m = manager_of(b);
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        const char *ids[] = { m->aws->instance_id };
        int r;

        if (b->phase != PHASE_IDLE)
                return;
        r = bastion_copy(effective_policy(b), &b->acting);
        if (r < 0) {
                log_full_fields(LOG_ERR, r, &bastion_fields, "cannot start acting on the bastion expiry");
                return;
        }
        b->phase = PHASE_CONFIRM;
        b->acting_since = now_realtime();
        b->failures = b->revoke_failures = 0;
        b->revoke_complete = b->revoke_gave_up = false;
        r = timer_arm(b, &b->grace_timer, CLOCK_REALTIME, b->acting_since + m->config->expire_grace_usec, on_grace);
        if (r < 0)
                log_full_fields(LOG_ERR, r, &bastion_fields, "cannot arm the expire_grace timer");

        r = ec2_query_new(&q, "DescribeInstances");
        if (r >= 0)
                r = ec2_query_add_list(q, "InstanceId", ids, 1);
        if (r >= 0)
                r = ec2_call(m->aws->ec2, q, NULL, on_confirm, b, &b->call);
        if (r < 0) {
                Ec2Response resp = { .error_code = "LocalError", .error_message = strerror(-r) };
                on_confirm(r, &resp, b);
        }
}

/* ---- PatternOps ---- */

static int bastion_init(Pattern *p) {
        BastionPattern *b = (BastionPattern *) p;

        b->launch_time = EC2_TIME_UNSET;
        b->warned_expiry = -1;
        b->announced = UINT64_MAX;
        return 0;
}

static void extend_abort(BastionPattern *b, const char *why);

static void bastion_done(Pattern *p) {
        BastionPattern *b = (BastionPattern *) p;

        extend_abort(b, "cdpd is stopping");
        ec2_call_cancel(b->launch_call);
        ec2_call_cancel(b->call);
        revoke_clear(b);
        poweroff_cancel(b->poweroff);
        sd_event_source_disable_unref(b->timer);
        sd_event_source_disable_unref(b->launch_timer);
        sd_event_source_disable_unref(b->grace_timer);
        sd_event_source_disable_unref(b->retry_timer);
        sd_event_source_disable_unref(b->revoke_timer);
        sd_event_source_disable_unref(b->poweroff_timer);
        bastion_copy_done(&b->tags);
        bastion_copy_done(&b->acting);
        override_drop(b);
        free(b->instance_state);
        free(b->launch_error);
        free(b->confirm_note);
        free(b->last_error);
        free(b->stop_request_id);
        free(b->final_state);
        free(b->revoke_error);
        free(b->poweroff_error);
}

static void bastion_policy_changed(Pattern *p) {
        BastionPattern *b = (BastionPattern *) p;
        Manager *m = p->manager;
        int r;

        r = bastion_copy(&m->policy->bastion, &b->tags);
        if (r < 0) {
                log_full_fields(LOG_ERR, r, &bastion_fields, "cannot apply the bastion policy");
                return;
        }
        /* The tags read moved on from what they were when the override was
         * made: they are current again (or someone changed them since). */
        if (b->have_override && !bastion_equal(&b->tags, &b->override_base))
                override_drop(b);

        if (effective_policy(b)->enabled)
                launch_fetch(b);
        replan(b);
}

/* ---- status ---- */

static struct json_object *json_time(time_t t) {
        char buf[RFC3339_UTC_STRING_MAX];

        if (t < 0 || format_rfc3339_utc(t, buf) < 0)
                return NULL;
        return json_object_new_string(buf);
}

static struct json_object *json_str(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static bool tag_is_bastion(const char *prefix, const char *tag) {
        static const char *const keys[] = { "expires-at", "ttl", "expire-action", "expire-revoke" };
        size_t n = strlen(prefix);

        if (!tag || strncmp(tag, prefix, n) != 0)
                return false;
        tag += n;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (strcmp(tag, keys[i]) == 0)
                        return true;
        return strncmp(tag, "expire", 6) == 0;
}

static const char *state_name(const BastionPattern *b, const BastionPlan *plan) {
        if (b->phase == PHASE_IDLE)
                return bastion_plan_state_to_string(plan->state);
        if (b->phase == PHASE_STOP && b->acting.action == EXPIRE_ACTION_TERMINATE)
                return "terminating";
        return phase_names[b->phase];
}

static struct json_object *acting_json(const BastionPattern *b, const Config *c) {
        struct json_object *a = json_object_new_object();

        if (!a)
                return NULL;
        json_object_object_add(a, "phase", json_str(phase_names[b->phase]));
        json_object_object_add(a, "since", json_time((time_t) (b->acting_since / USEC_PER_SEC)));
        json_object_object_add(a, "confirmation", json_str(b->confirm_note));
        json_object_object_add(a, "revoked", json_object_new_int64((int64_t) b->n_revoked));
        json_object_object_add(a, "revoke_complete", json_object_new_boolean(b->revoke_complete));
        json_object_object_add(a, "last_error", json_str(b->last_error ?: b->revoke_error));
        json_object_object_add(a, "request_id", json_str(b->stop_request_id));
        json_object_object_add(a, "instance_state", json_str(b->final_state));
        json_object_object_add(a, "fallback_poweroff", json_object_new_boolean(c->expire_fallback_poweroff));
        json_object_object_add(a, "fallback_at",
                               json_time((time_t) ((b->acting_since + c->expire_grace_usec) / USEC_PER_SEC)));
        json_object_object_add(a, "poweroff_requested", json_object_new_boolean(b->poweroff_asked));
        if (b->poweroff_error)
                json_object_object_add(a, "poweroff_error", json_str(b->poweroff_error));
        return a;
}

static struct json_object *errors_json(const Manager *m) {
        struct json_object *errs = json_object_new_array();

        for (size_t i = 0; errs && m->policy && i < m->policy->n_errors; i++) {
                const PolicyError *e = &m->policy->errors[i];
                struct json_object *eo;

                if (!tag_is_bastion(m->config->tag_prefix, e->tag))
                        continue;
                eo = json_object_new_object();
                if (!eo)
                        break;
                json_object_object_add(eo, "tag", json_str(e->tag));
                json_object_object_add(eo, "value", json_str(e->value));
                json_object_object_add(eo, "reason", json_str(e->reason));
                json_object_array_add(errs, eo);
        }
        return errs;
}

/* JSON keys (cdpctl status, "bastion"):
 *   enabled, state (off | waiting-for-launch-time | counting-down | expired |
 *   confirming | revoking | stopping | terminating | done), expires_at,
 *   expiry_source (expires-at | ttl), time_left_seconds, time_left,
 *   max_lifetime_ends (the latest `cdpctl extend` may go),
 *   next_warning_at, action, revoke [sgr-...], launch_time,
 *   launch_time_error, tags_pending (an extension or API read not yet in the
 *   tag read), reason (why nothing will happen), errors [{tag, value,
 *   reason}], acting {phase, since, confirmation, revoked, revoke_complete,
 *   last_error, request_id, instance_state, fallback_poweroff, fallback_at,
 *   poweroff_requested, poweroff_error}. */
static void bastion_status(Pattern *p, StatusRequest *sr) {
        BastionPattern *b = (BastionPattern *) p;
        Manager *m = p->manager;
        const BastionPolicy *pol = b->phase == PHASE_IDLE ? effective_policy(b) : &b->acting;
        struct json_object *o = json_object_new_object(), *rev;
        char buf[DURATION_STRING_MAX];
        uint64_t now = now_realtime();
        BastionPlan plan = b->plan;
        bool armed;

        if (!o) {
                status_request_done(sr, NULL);
                return;
        }
        if (b->phase == PHASE_IDLE) {
                /* Recomputed, so the time left follows the clock; never acts. */
                BastionPlanInput in = { .policy = pol, .launch_time = b->launch_time,
                                        .max_lifetime_usec = m->config->bastion_max_lifetime_usec };

                if (bastion_plan(&in, now, &plan) < 0)
                        plan = b->plan;
        }
        armed = plan.state == BASTION_PLAN_COUNTDOWN || plan.state == BASTION_PLAN_EXPIRED;

        json_object_object_add(o, "enabled", json_object_new_boolean(pol->enabled));
        json_object_object_add(o, "state", json_str(state_name(b, &plan)));
        if (armed) {
                uint64_t exp = bastion_plan_expiry_usec(&plan);
                uint64_t left = exp > now ? exp - now : 0;

                json_object_object_add(o, "expires_at", json_time(plan.expiry));
                json_object_object_add(o, "expiry_source", json_str(bastion_expiry_source_to_string(plan.source)));
                json_object_object_add(o, "time_left_seconds", json_object_new_int64((int64_t) (left / USEC_PER_SEC)));
                json_object_object_add(o, "time_left", json_str(format_duration(left, buf)));
                if (plan.has_cap)
                        json_object_object_add(o, "max_lifetime_ends", json_time(plan.cap));
                if (b->next_warning_usec && b->phase == PHASE_IDLE)
                        json_object_object_add(o, "next_warning_at",
                                               json_time((time_t) (b->next_warning_usec / USEC_PER_SEC)));
        }
        if (pol->enabled) {
                json_object_object_add(o, "action", json_str(expire_action_to_string(pol->action)));
                rev = json_object_new_array();
                for (size_t i = 0; rev && i < pol->n_revoke_rule_ids; i++)
                        json_object_array_add(rev, json_object_new_string(pol->revoke_rule_ids[i]));
                json_object_object_add(o, "revoke", rev);
                if (b->launch_time != EC2_TIME_UNSET)
                        json_object_object_add(o, "launch_time", json_time(b->launch_time));
        }
        if (b->launch_error)
                json_object_object_add(o, "launch_time_error", json_str(b->launch_error));
        if (b->have_override)
                json_object_object_add(o, "tags_pending", json_str(b->override_source));

        /* Why nothing will happen, in words. */
        if (b->phase == PHASE_IDLE && plan.state == BASTION_PLAN_OFF)
                json_object_object_add(
                        o, "reason",
                        json_str(pol->invalid ? "a bastion tag is invalid (see errors): this instance never expires"
                                              : "no cdp:expires-at or cdp:ttl tag: not an on-demand bastion"));
        else if (b->phase == PHASE_IDLE && plan.state == BASTION_PLAN_NO_LAUNCH_TIME)
                json_object_object_add(o, "reason",
                                       json_str("the launch time is not known yet: nothing is stopped or terminated "
                                                "until it is"));
        json_object_object_add(o, "errors", errors_json(m));
        if (b->phase != PHASE_IDLE)
                json_object_object_add(o, "acting", acting_json(b, m->config));
        status_request_done(sr, o);
}

/* ---- cdpctl extend ---- */

static void extend_abort(BastionPattern *b, const char *why) {
        if (!b->extend_req)
                return;
        ec2_call_cancel(b->extend_call);
        b->extend_call = NULL;
        ctl_reply_error(b->extend_req, 1, "Aborted", why);
        b->extend_req = NULL;
}

static void on_extend(int error, const Ec2Response *resp, void *userdata) {
        BastionPattern *b = userdata;
        Manager *m = manager_of(b);
        const LogFields f = { .pattern = "bastion", .action = "CreateTags", .resource = m->aws->instance_id,
                              .request_id = resp->request_id };
        CtlRequest *req = TAKE_PTR(b->extend_req);
        char t_new[RFC3339_UTC_STRING_MAX], t_old[RFC3339_UTC_STRING_MAX], by[DURATION_STRING_MAX],
                ttl[DURATION_STRING_MAX], left[DURATION_STRING_MAX];
        _cleanup_free_ char *msg = NULL;
        BastionPolicy over = {};
        struct json_object *o;
        uint64_t now = now_realtime();

        b->extend_call = NULL;
        fmt_time(b->extension.expires_at, t_new);
        fmt_time(b->extension.previous, t_old);
        format_duration(b->extend_by_usec, by);
        if (error < 0) {
                if (asprintf(&msg, "CreateTags on %s failed: %s: %s", m->aws->instance_id,
                             resp->error_code ?: "error", resp->error_message ?: strerror(-error)) < 0)
                        msg = NULL;
                log_full_fields(LOG_ERR, 0, &f, "cannot extend bastion %s to %s: %s", m->aws->instance_id, t_new,
                                msg ?: "error");
                ctl_reply_error(req, 1, resp->error_code ?: "ExtendFailed", msg ?: "CreateTags failed");
                return;
        }
        log_full_fields(LOG_NOTICE, 0, &f, "bastion %s extended by %s: expiry %s -> %s%s%s (cdpctl, uid %u)",
                        m->aws->instance_id, by, t_old, t_new, b->extension.set_ttl ? ", cdp:ttl rewritten to " : "",
                        b->extension.set_ttl ? format_duration(b->extension.ttl_usec, ttl) : "",
                        (unsigned) ctl_request_uid(req));

        /* Use what we wrote until the tag read shows it. */
        if (bastion_copy(effective_policy(b), &over) >= 0) {
                over.has_expires_at = true;
                over.expires_at = b->extension.expires_at;
                if (b->extension.set_ttl)
                        over.ttl_usec = b->extension.ttl_usec;
                if (override_set(b, &over, "extend") < 0)
                        log_full_fields(LOG_ERR, -ENOMEM, &f, "cannot keep the new expiry");
                bastion_copy_done(&over);
        }
        replan(b);
        manager_refresh_tags(m);

        o = json_object_new_object();
        if (o) {
                uint64_t exp = (uint64_t) b->extension.expires_at * USEC_PER_SEC;

                json_object_object_add(o, "instance_id", json_str(m->aws->instance_id));
                json_object_object_add(o, "expires_at", json_str(t_new));
                json_object_object_add(o, "previous_expires_at", json_str(t_old));
                json_object_object_add(o, "extended_by", json_str(by));
                json_object_object_add(o, "time_left",
                                       json_str(format_duration(exp > now ? exp - now : 0, left)));
                if (b->plan.has_cap)
                        json_object_object_add(o, "max_lifetime_ends", json_time(b->plan.cap));
                if (b->extension.set_ttl)
                        json_object_object_add(o, "ttl", json_str(format_duration(b->extension.ttl_usec, ttl)));
                json_object_object_add(o, "request_id", json_str(resp->request_id));
        }
        ctl_reply_ok(req, o);
}

static int ctl_extend(void *userdata, CtlRequest *req, struct json_object *args) {
        BastionPattern *b = userdata;
        Manager *m = manager_of(b);
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        _cleanup_free_ char *err = NULL, *k_exp = NULL, *k_ttl = NULL;
        struct json_object *d;
        const char *ids[] = { m->aws->instance_id };
        char t_new[RFC3339_UTC_STRING_MAX], ttl[DURATION_STRING_MAX];
        BastionPlanInput in;
        BastionPlan plan;
        uint64_t usec, now = now_realtime();
        int r;

        if (!json_object_object_get_ex(args, "duration", &d) || !json_object_is_type(d, json_type_string) ||
            parse_duration(json_object_get_string(d), &usec) < 0) {
                ctl_reply_error(req, 2, "BadRequest",
                                "extend needs a duration such as 30m, 2h or 1d12h (args {\"duration\": \"2h\"})");
                return 0;
        }
        if (!m->policy) {
                ctl_reply_error(req, 1, "NotReady", "the tags have not been read yet");
                return 0;
        }
        if (b->extend_req) {
                ctl_reply_error(req, 1, "Busy", "another extension is being written; try again in a moment");
                return 0;
        }
        if (b->phase != PHASE_IDLE) {
                ctl_reply_error(req, 1, "AlreadyExpired",
                                "the bastion expired and is being stopped or terminated; it is too late to extend it");
                return 0;
        }
        in = (BastionPlanInput) { .policy = effective_policy(b), .launch_time = b->launch_time,
                                  .max_lifetime_usec = m->config->bastion_max_lifetime_usec };
        r = bastion_plan(&in, now, &plan);
        if (r >= 0)
                r = bastion_plan_extend(&in, &plan, now, usec, &b->extension, &err);
        if (r < 0) {
                const char *code = r == -ENOENT   ? "NotABastion"
                                   : r == -EAGAIN ? "LaunchTimeUnknown"
                                   : r == -ESTALE ? "AlreadyExpired"
                                   : r == -ERANGE ? "BeyondMaxLifetime"
                                                  : "InvalidDuration";
                ctl_reply_error(req, 1, code, err ?: strerror(-r));
                return 0;
        }

        if (asprintf(&k_exp, "%sexpires-at", m->config->tag_prefix) < 0 ||
            asprintf(&k_ttl, "%sttl", m->config->tag_prefix) < 0)
                return -ENOMEM;
        r = ec2_query_new(&q, "CreateTags");
        if (r >= 0)
                r = ec2_query_add_list(q, "ResourceId", ids, 1);
        if (r >= 0)
                r = ec2_query_set(q, "Tag.1.Key", k_exp);
        if (r >= 0)
                r = ec2_query_set(q, "Tag.1.Value", fmt_time(b->extension.expires_at, t_new));
        if (r >= 0 && b->extension.set_ttl)
                r = ec2_query_set(q, "Tag.2.Key", k_ttl);
        if (r >= 0 && b->extension.set_ttl)
                r = ec2_query_set(q, "Tag.2.Value", format_duration(b->extension.ttl_usec, ttl));
        /* Writing the same absolute value twice is harmless. */
        if (r >= 0)
                ec2_query_set_idempotent(q, true);
        if (r >= 0)
                r = ec2_call(m->aws->ec2, q, NULL, on_extend, b, &b->extend_call);
        if (r < 0)
                return r;
        b->extend_req = req;
        b->extend_by_usec = usec;
        return 0;
}

static const PatternCommand bastion_commands[] = {
        { "extend", ctl_extend },
};

const PatternOps bastion_pattern_ops = {
        .name = "bastion",
        .size = sizeof(BastionPattern),
        .init = bastion_init,
        .done = bastion_done,
        .policy_changed = bastion_policy_changed,
        .status = bastion_status,
        .commands = bastion_commands,
        .n_commands = ELEMENTSOF(bastion_commands),
};
