/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cdp/bastion-plan.h"
#include "cdp/parse-util.h"

#define TIME_UNSET ((time_t) -1)        /* as EC2_TIME_UNSET */

static const char *const state_names[_BASTION_PLAN_STATE_MAX] = {
        [BASTION_PLAN_OFF] = "off",
        [BASTION_PLAN_NO_LAUNCH_TIME] = "waiting-for-launch-time",
        [BASTION_PLAN_COUNTDOWN] = "counting-down",
        [BASTION_PLAN_EXPIRED] = "expired",
};

static const char *const source_names[_BASTION_SOURCE_MAX] = {
        [BASTION_SOURCE_EXPIRES_AT] = "expires-at",
        [BASTION_SOURCE_TTL] = "ttl",
};

const char *bastion_plan_state_to_string(BastionPlanState s) {
        return (unsigned) s < _BASTION_PLAN_STATE_MAX ? state_names[s] : NULL;
}

const char *bastion_expiry_source_to_string(BastionExpirySource s) {
        return (unsigned) s < _BASTION_SOURCE_MAX ? source_names[s] : NULL;
}

static int add_seconds(time_t base, uint64_t usec, time_t *ret) {
        uint64_t sec = usec / USEC_PER_SEC;

        if (base < 0 || sec > (uint64_t) INT64_MAX || (int64_t) base > INT64_MAX - (int64_t) sec)
                return -ERANGE;
        *ret = (time_t) ((int64_t) base + (int64_t) sec);
        return 0;
}

int bastion_plan(const BastionPlanInput *in, uint64_t now_usec, BastionPlan *ret) {
        const BastionPolicy *b;
        BastionPlan p = {};
        time_t expiry, ttl_end = 0;
        uint64_t expiry_usec;
        int r;

        if (!in || !in->policy || !ret)
                return -EINVAL;
        b = in->policy;

        if (!b->enabled || b->invalid || !(b->has_expires_at || b->has_ttl)) {
                *ret = (BastionPlan) { .state = BASTION_PLAN_OFF };
                return 0;
        }
        /* Without the launch time neither the ttl nor the cap can be known:
         * never act on a guess (a launch time of "-1" would be 1970). */
        if (in->launch_time == TIME_UNSET || in->launch_time < 0) {
                *ret = (BastionPlan) { .state = BASTION_PLAN_NO_LAUNCH_TIME, .action = b->action };
                return 0;
        }

        r = bastion_policy_expiry(b, in->launch_time, &expiry);
        if (r < 0)
                return r == -ENOENT ? -EINVAL : r;
        if (b->has_ttl) {
                r = add_seconds(in->launch_time, b->ttl_usec, &ttl_end);
                if (r < 0)
                        ttl_end = expiry + 1;           /* beyond time_t: cannot win */
        }

        p.expiry = expiry;
        p.source = b->has_expires_at && (!b->has_ttl || b->expires_at <= ttl_end) ? BASTION_SOURCE_EXPIRES_AT
                                                                                 : BASTION_SOURCE_TTL;
        p.action = b->action;
        if (in->max_lifetime_usec > 0 && add_seconds(in->launch_time, in->max_lifetime_usec, &p.cap) >= 0)
                p.has_cap = true;

        if (p.expiry < 0 || (uint64_t) p.expiry > UINT64_MAX / USEC_PER_SEC)
                return -ERANGE;
        expiry_usec = (uint64_t) p.expiry * USEC_PER_SEC;
        if (now_usec >= expiry_usec) {
                p.state = BASTION_PLAN_EXPIRED;
                p.time_left_usec = 0;
        } else {
                p.state = BASTION_PLAN_COUNTDOWN;
                p.time_left_usec = expiry_usec - now_usec;
        }
        *ret = p;
        return 0;
}

uint64_t bastion_plan_expiry_usec(const BastionPlan *p) {
        if (!p || p->expiry < 0)
                return 0;
        return (uint64_t) p->expiry * USEC_PER_SEC;
}

void bastion_warning_step(const uint64_t *warn_usec, size_t n_warn, uint64_t expiry_usec, uint64_t now_usec,
                          uint64_t announced, BastionWarningStep *ret) {
        BastionWarningStep s = { .announced = announced, .next_usec = expiry_usec };
        uint64_t left, smallest_due = UINT64_MAX, largest_ahead = 0;
        bool any_ahead = false;

        if (now_usec >= expiry_usec) {
                *ret = s;
                return;
        }
        left = expiry_usec - now_usec;
        for (size_t i = 0; i < n_warn; i++) {
                uint64_t w = warn_usec[i];

                if (w == 0)
                        continue;
                if (w >= left) {
                        /* Its time has come. */
                        if (w < smallest_due)
                                smallest_due = w;
                } else if (!any_ahead || w > largest_ahead) {
                        any_ahead = true;
                        largest_ahead = w;
                }
        }
        if (smallest_due != UINT64_MAX && smallest_due < announced) {
                s.due = true;
                s.offset = smallest_due;
                s.announced = smallest_due;
        }
        if (any_ahead)
                s.next_usec = expiry_usec - largest_ahead;
        *ret = s;
}

static int fail(char **reterr_message, int error, const char *fmt, ...) _printf_(3, 4);
static int fail(char **reterr_message, int error, const char *fmt, ...) {
        va_list ap;

        if (reterr_message) {
                va_start(ap, fmt);
                if (vasprintf(reterr_message, fmt, ap) < 0)
                        *reterr_message = NULL;
                va_end(ap);
        }
        return error;
}

int bastion_plan_extend(const BastionPlanInput *in, const BastionPlan *plan, uint64_t now_usec,
                        uint64_t duration_usec, BastionExtension *ret, char **reterr_message) {
        char t_new[RFC3339_UTC_STRING_MAX], t_cap[RFC3339_UTC_STRING_MAX], t_launch[RFC3339_UTC_STRING_MAX],
                t_exp[RFC3339_UTC_STRING_MAX];
        char d_req[DURATION_STRING_MAX], d_max[DURATION_STRING_MAX], d_life[DURATION_STRING_MAX];
        BastionExtension e = {};
        time_t base, now_sec;
        int r;

        if (!in || !in->policy || !plan || !ret)
                return -EINVAL;
        if (duration_usec < USEC_PER_SEC)
                return fail(reterr_message, -EINVAL, "the extension must be at least one second");

        switch (plan->state) {
        case BASTION_PLAN_OFF:
                return fail(reterr_message, -ENOENT,
                            "this instance is not an on-demand bastion: it has no valid cdp:expires-at or cdp:ttl tag");
        case BASTION_PLAN_NO_LAUNCH_TIME:
                return fail(reterr_message, -EAGAIN,
                            "the instance's launch time is not known yet (DescribeInstances has not answered), "
                            "so the expiry cannot be computed; try again later");
        case BASTION_PLAN_EXPIRED:
                if (format_rfc3339_utc(plan->expiry, t_exp) < 0)
                        strcpy(t_exp, "?");
                return fail(reterr_message, -ESTALE,
                            "the bastion expired at %s and is being %s; it is too late to extend it", t_exp,
                            plan->action == EXPIRE_ACTION_STOP ? "stopped" : "terminated");
        case BASTION_PLAN_COUNTDOWN:
        default:
                break;
        }

        now_sec = (time_t) ((now_usec + USEC_PER_SEC - 1) / USEC_PER_SEC);
        base = MAX(plan->expiry, now_sec);
        r = add_seconds(base, duration_usec, &e.expires_at);
        if (r < 0 || format_rfc3339_utc(e.expires_at, t_new) < 0)
                return fail(reterr_message, -ERANGE, "the extension by %s does not fit a date",
                            format_duration(duration_usec, d_req));
        e.previous = plan->expiry;

        if (plan->has_cap && e.expires_at > plan->cap) {
                if (format_rfc3339_utc(plan->cap, t_cap) < 0 ||
                    format_rfc3339_utc(in->launch_time, t_launch) < 0)
                        return -ERANGE;
                format_duration(in->max_lifetime_usec, d_life);
                format_duration(duration_usec, d_req);
                if (plan->cap <= base)
                        return fail(reterr_message, -ERANGE,
                                    "cannot extend by %s: the expiry is already at or past the bastion_max_lifetime cap "
                                    "(%s after the launch at %s, i.e. %s)",
                                    d_req, d_life, t_launch, t_cap);
                format_duration((uint64_t) (plan->cap - base) * USEC_PER_SEC, d_max);
                return fail(reterr_message, -ERANGE,
                            "cannot extend by %s to %s: past the bastion_max_lifetime cap of %s after the launch "
                            "at %s, i.e. %s; at most %s more is possible",
                            d_req, t_new, d_life, t_launch, t_cap, d_max);
        }

        /* Expiry is the earlier of expires-at and launch + ttl: a later
         * expires-at alone would not move it while the ttl ends first. */
        if (in->policy->has_ttl) {
                time_t ttl_end;

                if (add_seconds(in->launch_time, in->policy->ttl_usec, &ttl_end) >= 0 && ttl_end < e.expires_at) {
                        e.set_ttl = true;
                        e.ttl_usec = (uint64_t) (e.expires_at - in->launch_time) * USEC_PER_SEC;
                        /* A cdp:ttl the parser would refuse would disable the bastion. */
                        if (e.ttl_usec > DURATION_MAX_USEC)
                                return fail(reterr_message, -ERANGE,
                                            "cannot extend to %s: cdp:ttl would exceed its maximum of 3650d", t_new);
                }
        }
        *ret = e;
        return 0;
}
