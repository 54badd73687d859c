/* SPDX-License-Identifier: MIT */
#pragma once

/* On-demand bastion planning (SPEC 7), pure: no I/O, time passed in.
 *
 * The expiry is an absolute UTC time, so a restart of cdpd never resets the
 * count-down:
 *
 *   expiry = the earlier of cdp:expires-at and launch time + cdp:ttl
 *            (bastion_policy_expiry())
 *   cap    = launch time + bastion_max_lifetime (config, default 24h;
 *            0 = no cap)
 *
 * The cap bounds `cdpctl extend` (SPEC 7), not the tags: anyone who can
 * write the tags can as well remove them, so capping their value would
 * protect nothing, while it would stop at once an instance older than the
 * cap that someone just tagged to expire in two hours.
 *
 * Nothing is ever planned on doubt: a disabled or invalid bastion policy
 * (policy.h disables it on any invalid bastion tag) gives
 * BASTION_PLAN_OFF, an unknown launch time (EC2_TIME_UNSET: DescribeInstances
 * did not answer yet) gives BASTION_PLAN_NO_LAUNCH_TIME; neither acts.
 *
 * `cdpctl extend D` moves the expiry to max(expiry, now) + D: "extend by 2h"
 * means two hours past the current expiry, as AWS operators read it. An
 * extension past the cap is refused (not shortened) with an error naming the
 * cap and the longest extension still possible, so a script asking for 2h
 * never silently gets 20 minutes. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cdp/policy.h"

typedef enum BastionPlanState {
        BASTION_PLAN_OFF,               /* not a bastion, or a bastion tag is invalid */
        BASTION_PLAN_NO_LAUNCH_TIME,    /* the launch time is unknown: never act */
        BASTION_PLAN_COUNTDOWN,         /* the expiry is ahead */
        BASTION_PLAN_EXPIRED,           /* the expiry is now or past: act at once */
        _BASTION_PLAN_STATE_MAX,
} BastionPlanState;

typedef enum BastionExpirySource {
        BASTION_SOURCE_EXPIRES_AT,      /* cdp:expires-at */
        BASTION_SOURCE_TTL,             /* launch time + cdp:ttl */
        _BASTION_SOURCE_MAX,
} BastionExpirySource;

typedef struct BastionPlanInput {
        const BastionPolicy *policy;    /* borrowed */
        time_t launch_time;             /* EC2_TIME_UNSET (-1) when unknown */
        uint64_t max_lifetime_usec;     /* 0 = no cap */
} BastionPlanInput;

typedef struct BastionPlan {
        BastionPlanState state;
        /* The rest is set for COUNTDOWN and EXPIRED only. */
        time_t expiry;                  /* UTC seconds */
        BastionExpirySource source;
        bool has_cap;
        time_t cap;                     /* launch time + max lifetime: the latest extend may go */
        ExpireAction action;
        uint64_t time_left_usec;        /* 0 when EXPIRED */
} BastionPlan;

/* Plans from the input at now_usec (CLOCK_REALTIME). Never fails on tag
 * content (that is BASTION_PLAN_OFF); -EINVAL for NULL arguments, -ERANGE
 * when a time does not fit. *ret is written only on success. */
int bastion_plan(const BastionPlanInput *in, uint64_t now_usec, BastionPlan *ret);

/* Expiry as CLOCK_REALTIME usec (for timers). */
uint64_t bastion_plan_expiry_usec(const BastionPlan *p);

/* ---- warnings before the expiry (config expire_warn, default 10m,1m)
 *
 * A warning is due once for each threshold offset w (warn before expiry)
 * when now >= expiry - w. Thresholds already passed when planning (a start
 * 5 minutes before expiry with warnings at 10m and 1m) collapse into one
 * warning now, naming the real time left. `announced` is the smallest offset
 * announced so far for this expiry (UINT64_MAX: none); the caller resets it
 * when the expiry changes. */
typedef struct BastionWarningStep {
        bool due;                       /* announce now */
        uint64_t offset;                /* the threshold announced (when due) */
        uint64_t announced;             /* the new value of `announced` */
        uint64_t next_usec;             /* CLOCK_REALTIME usec of the next threshold, or the expiry */
} BastionWarningStep;

void bastion_warning_step(const uint64_t *warn_usec, size_t n_warn, uint64_t expiry_usec, uint64_t now_usec,
                          uint64_t announced, BastionWarningStep *ret);

/* ---- cdpctl extend */

typedef struct BastionExtension {
        time_t previous;                /* the expiry before */
        time_t expires_at;              /* the new cdp:expires-at */
        bool set_ttl;                   /* cdp:ttl would still win: rewrite it too */
        uint64_t ttl_usec;              /* new cdp:ttl (whole seconds) when set_ttl */
} BastionExtension;

/* The tags to write for `cdpctl extend duration_usec`. Errors, with a
 * sentence in *reterr_message (caller frees):
 *   -ENOENT   not a bastion (plan OFF)
 *   -EAGAIN   the launch time is not known yet
 *   -ESTALE   the expiry was reached: the instance is being stopped or
 *             terminated, extending is too late
 *   -ERANGE   past the cap (bastion_max_lifetime after launch), or a time
 *             that cannot be written
 *   -EINVAL   a zero duration or NULL arguments. */
int bastion_plan_extend(const BastionPlanInput *in, const BastionPlan *plan, uint64_t now_usec,
                        uint64_t duration_usec, BastionExtension *ret, char **reterr_message);

const char *bastion_plan_state_to_string(BastionPlanState s);
const char *bastion_expiry_source_to_string(BastionExpirySource s);
