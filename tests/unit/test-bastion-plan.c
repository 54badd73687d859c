/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/core/bastion-plan.c: the expiry (cdp:expires-at vs
 * launch + cdp:ttl vs the bastion_max_lifetime cap), what happens without a
 * launch time or a valid policy, warning times, and `cdpctl extend` within
 * and beyond the cap. Time is passed in; nothing here reads a clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cdp/bastion-plan.h"
#include "cdp/ec2-xml.h"
#include "cdp/parse-util.h"

#define MIN_USEC (60ULL * USEC_PER_SEC)
#define HOUR (3600)
#define H_USEC (3600ULL * USEC_PER_SEC)

/* 2026-01-15T09:30:00Z, the scenario's launch time. */
static const time_t LAUNCH = 1768469400;

static uint64_t at(time_t t) {
        return (uint64_t) t * USEC_PER_SEC;
}

static BastionPolicy policy_expires_at(time_t e) {
        return (BastionPolicy) { .enabled = true, .has_expires_at = true, .expires_at = e };
}

static BastionPolicy policy_ttl(uint64_t ttl_usec) {
        return (BastionPolicy) { .enabled = true, .has_ttl = true, .ttl_usec = ttl_usec };
}

static BastionPlan plan_of(const BastionPolicy *b, time_t launch, uint64_t max_life, uint64_t now) {
        BastionPlanInput in = { .policy = b, .launch_time = launch, .max_lifetime_usec = max_life };
        BastionPlan p;

        assert_int_equal(bastion_plan(&in, now, &p), 0);
        return p;
}

/* ---- expiry ---- */

static void test_plan__expires_at_only__counts_down_to_it(void **state) {
        BastionPolicy b = policy_expires_at(LAUNCH + 2 * HOUR);
        BastionPlan p = plan_of(&b, LAUNCH, 24 * H_USEC, at(LAUNCH + HOUR));

        (void) state;
        assert_int_equal(p.state, BASTION_PLAN_COUNTDOWN);
        assert_int_equal(p.expiry, LAUNCH + 2 * HOUR);
        assert_int_equal(p.source, BASTION_SOURCE_EXPIRES_AT);
        assert_true(p.has_cap);
        assert_int_equal(p.cap, LAUNCH + 24 * HOUR);
        assert_int_equal(p.time_left_usec, H_USEC);
        assert_int_equal(p.action, EXPIRE_ACTION_TERMINATE);
        assert_int_equal(bastion_plan_expiry_usec(&p), at(LAUNCH + 2 * HOUR));
        assert_string_equal(bastion_plan_state_to_string(p.state), "counting-down");
        assert_string_equal(bastion_expiry_source_to_string(p.source), "expires-at");
}

static void test_plan__ttl_only__launch_plus_ttl(void **state) {
        BastionPolicy b = policy_ttl(90 * MIN_USEC);
        BastionPlan p = plan_of(&b, LAUNCH, 24 * H_USEC, at(LAUNCH));

        (void) state;
        assert_int_equal(p.state, BASTION_PLAN_COUNTDOWN);
        assert_int_equal(p.expiry, LAUNCH + 90 * 60);
        assert_int_equal(p.source, BASTION_SOURCE_TTL);
        assert_string_equal(bastion_expiry_source_to_string(p.source), "ttl");
}

static void test_plan__ttl_and_expires_at__earliest_wins(void **state) {
        BastionPolicy b = policy_ttl(4 * H_USEC);
        BastionPlan p;

        (void) state;
        b.has_expires_at = true;
        b.expires_at = LAUNCH + 3 * HOUR;       /* before launch + 4h */
        p = plan_of(&b, LAUNCH, 24 * H_USEC, at(LAUNCH));
        assert_int_equal(p.expiry, LAUNCH + 3 * HOUR);
        assert_int_equal(p.source, BASTION_SOURCE_EXPIRES_AT);

        b.expires_at = LAUNCH + 5 * HOUR;       /* after launch + 4h */
        p = plan_of(&b, LAUNCH, 24 * H_USEC, at(LAUNCH));
        assert_int_equal(p.expiry, LAUNCH + 4 * HOUR);
        assert_int_equal(p.source, BASTION_SOURCE_TTL);

        b.expires_at = LAUNCH + 4 * HOUR;       /* a tie is the explicit time */
        p = plan_of(&b, LAUNCH, 24 * H_USEC, at(LAUNCH));
        assert_int_equal(p.expiry, LAUNCH + 4 * HOUR);
        assert_int_equal(p.source, BASTION_SOURCE_EXPIRES_AT);
}

/* The cap bounds extend, not the tags: an instance older than the cap that
 * gets tagged to expire in two hours is not stopped at once. */
static void test_plan__tags_beyond_max_lifetime__not_shortened(void **state) {
        BastionPolicy b = policy_expires_at(LAUNCH + 72 * HOUR);
        BastionPlan p = plan_of(&b, LAUNCH, 24 * H_USEC, at(LAUNCH + 70 * HOUR));

        (void) state;
        assert_int_equal(p.state, BASTION_PLAN_COUNTDOWN);
        assert_int_equal(p.expiry, LAUNCH + 72 * HOUR);
        assert_int_equal(p.source, BASTION_SOURCE_EXPIRES_AT);
        assert_true(p.has_cap);
        assert_int_equal(p.cap, LAUNCH + 24 * HOUR);

        /* a long ttl is not shortened either */
        b = policy_ttl(2 * 24 * H_USEC);
        p = plan_of(&b, LAUNCH, 24 * H_USEC, at(LAUNCH));
        assert_int_equal(p.expiry, LAUNCH + 48 * HOUR);
        assert_int_equal(p.source, BASTION_SOURCE_TTL);
}

static void test_plan__no_cap__tag_expiry_stands(void **state) {
        BastionPolicy b = policy_expires_at(LAUNCH + 48 * HOUR);
        BastionPlan p = plan_of(&b, LAUNCH, 0, at(LAUNCH));

        (void) state;
        assert_false(p.has_cap);
        assert_int_equal(p.expiry, LAUNCH + 48 * HOUR);
        assert_int_equal(p.source, BASTION_SOURCE_EXPIRES_AT);
}

static void test_plan__at_or_past_expiry__expired(void **state) {
        BastionPolicy b = policy_expires_at(LAUNCH + HOUR);
        BastionPlan p;

        (void) state;
        p = plan_of(&b, LAUNCH, 24 * H_USEC, at(LAUNCH + HOUR));
        assert_int_equal(p.state, BASTION_PLAN_EXPIRED);
        assert_int_equal(p.time_left_usec, 0);
        p = plan_of(&b, LAUNCH, 24 * H_USEC, at(LAUNCH + 30 * 24 * HOUR));
        assert_int_equal(p.state, BASTION_PLAN_EXPIRED);
        assert_int_equal(p.expiry, LAUNCH + HOUR);
        p = plan_of(&b, LAUNCH, 24 * H_USEC, at(LAUNCH + HOUR) - 1);
        assert_int_equal(p.state, BASTION_PLAN_COUNTDOWN);
        assert_int_equal(p.time_left_usec, 1);
}

static void test_plan__expire_action_stop__carried(void **state) {
        BastionPolicy b = policy_expires_at(LAUNCH + HOUR);
        BastionPlan p;

        (void) state;
        b.action = EXPIRE_ACTION_STOP;
        p = plan_of(&b, LAUNCH, 24 * H_USEC, at(LAUNCH));
        assert_int_equal(p.action, EXPIRE_ACTION_STOP);
}

static void test_plan__not_a_bastion_or_invalid__off(void **state) {
        BastionPolicy none = {};
        BastionPolicy invalid = { .invalid = true };
        BastionPolicy enabled_but_empty = { .enabled = true };
        BastionPlan p;

        (void) state;
        p = plan_of(&none, LAUNCH, 24 * H_USEC, at(LAUNCH + 100 * HOUR));
        assert_int_equal(p.state, BASTION_PLAN_OFF);
        p = plan_of(&invalid, LAUNCH, 24 * H_USEC, at(LAUNCH + 100 * HOUR));
        assert_int_equal(p.state, BASTION_PLAN_OFF);
        p = plan_of(&enabled_but_empty, LAUNCH, 24 * H_USEC, at(LAUNCH + 100 * HOUR));
        assert_int_equal(p.state, BASTION_PLAN_OFF);
        assert_string_equal(bastion_plan_state_to_string(p.state), "off");
}

static void test_plan__unknown_launch_time__never_acts(void **state) {
        BastionPolicy b = policy_expires_at(LAUNCH);
        BastionPolicy t = policy_ttl(H_USEC);
        BastionPlan p;

        (void) state;
        /* even an expires-at long past does nothing without the launch time */
        p = plan_of(&b, EC2_TIME_UNSET, 24 * H_USEC, at(LAUNCH + 100 * HOUR));
        assert_int_equal(p.state, BASTION_PLAN_NO_LAUNCH_TIME);
        p = plan_of(&t, EC2_TIME_UNSET, 24 * H_USEC, at(LAUNCH + 100 * HOUR));
        assert_int_equal(p.state, BASTION_PLAN_NO_LAUNCH_TIME);
        assert_string_equal(bastion_plan_state_to_string(p.state), "waiting-for-launch-time");
}

static void test_plan__bad_arguments__einval(void **state) {
        BastionPolicy b = policy_expires_at(LAUNCH);
        BastionPlanInput in = { .policy = &b, .launch_time = LAUNCH };
        BastionPlanInput no_policy = { .launch_time = LAUNCH };
        BastionPlan p = { .state = BASTION_PLAN_EXPIRED, .expiry = 42 };

        (void) state;
        assert_int_equal(bastion_plan(NULL, 0, &p), -EINVAL);
        assert_int_equal(bastion_plan(&in, 0, NULL), -EINVAL);
        assert_int_equal(bastion_plan(&no_policy, 0, &p), -EINVAL);
        /* untouched on failure */
        assert_int_equal(p.expiry, 42);
}

/* Through the real tag parser: an invalid bastion tag never expires anything. */
static void test_plan__unparsable_tags__off(void **state) {
        static const struct {
                const char *key, *value;
        } cases[] = {
                { "cdp:expires-at", "tomorrow" },
                { "cdp:ttl", "forever" },
                { "cdp:expire-action", "explode" },
                { "cdp:expire-revoke", "sg-123" },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(policy_freep) Policy *pol = NULL;
                PolicyTag tags[] = {
                        { "cdp:expires-at", "2026-01-15T10:00:00Z" },
                        { cases[i].key, cases[i].value },
                };
                /* the first tag is replaced by the broken one when keys collide */
                size_t n = strcmp(cases[i].key, "cdp:expires-at") == 0 ? 1 : 2;
                BastionPlan p;

                if (n == 1)
                        tags[0] = tags[1];
                assert_int_equal(policy_parse(tags, n, "cdp:", &pol), 0);
                p = plan_of(&pol->bastion, LAUNCH, 24 * H_USEC, at(LAUNCH + 100 * HOUR));
                assert_int_equal(p.state, BASTION_PLAN_OFF);
                assert_true(pol->n_errors >= 1);
        }
}

/* ---- warnings ---- */

static const uint64_t WARN[] = { 10 * MIN_USEC, 1 * MIN_USEC };

static void test_warning__far_ahead__next_is_first_threshold(void **state) {
        uint64_t expiry = at(LAUNCH + HOUR);
        BastionWarningStep s;

        (void) state;
        bastion_warning_step(WARN, ELEMENTSOF(WARN), expiry, expiry - 20 * MIN_USEC, UINT64_MAX, &s);
        assert_false(s.due);
        assert_int_equal(s.next_usec, expiry - 10 * MIN_USEC);
        assert_int_equal(s.announced, UINT64_MAX);
}

static void test_warning__thresholds_in_turn__each_once(void **state) {
        uint64_t expiry = at(LAUNCH + HOUR), announced = UINT64_MAX;
        BastionWarningStep s;

        (void) state;
        bastion_warning_step(WARN, ELEMENTSOF(WARN), expiry, expiry - 10 * MIN_USEC, announced, &s);
        assert_true(s.due);
        assert_int_equal(s.offset, 10 * MIN_USEC);
        assert_int_equal(s.next_usec, expiry - MIN_USEC);
        announced = s.announced;

        /* the timer may fire again (a re-plan): nothing new to say */
        bastion_warning_step(WARN, ELEMENTSOF(WARN), expiry, expiry - 5 * MIN_USEC, announced, &s);
        assert_false(s.due);
        assert_int_equal(s.next_usec, expiry - MIN_USEC);

        bastion_warning_step(WARN, ELEMENTSOF(WARN), expiry, expiry - MIN_USEC, announced, &s);
        assert_true(s.due);
        assert_int_equal(s.offset, MIN_USEC);
        assert_int_equal(s.next_usec, expiry);
        announced = s.announced;

        bastion_warning_step(WARN, ELEMENTSOF(WARN), expiry, expiry - 1, announced, &s);
        assert_false(s.due);
        assert_int_equal(s.next_usec, expiry);
}

static void test_warning__start_inside_window__one_collapsed_warning(void **state) {
        uint64_t expiry = at(LAUNCH + HOUR);
        BastionWarningStep s;

        (void) state;
        /* started 5 minutes before expiry: the 10m warning now, the 1m one later */
        bastion_warning_step(WARN, ELEMENTSOF(WARN), expiry, expiry - 5 * MIN_USEC, UINT64_MAX, &s);
        assert_true(s.due);
        assert_int_equal(s.offset, 10 * MIN_USEC);
        assert_int_equal(s.next_usec, expiry - MIN_USEC);

        /* started 30 s before: one warning, the most urgent threshold */
        bastion_warning_step(WARN, ELEMENTSOF(WARN), expiry, expiry - 30 * USEC_PER_SEC, UINT64_MAX, &s);
        assert_true(s.due);
        assert_int_equal(s.offset, MIN_USEC);
        assert_int_equal(s.announced, MIN_USEC);
        assert_int_equal(s.next_usec, expiry);
}

static void test_warning__past_expiry_or_no_thresholds__nothing(void **state) {
        uint64_t expiry = at(LAUNCH + HOUR);
        const uint64_t unsorted[] = { MIN_USEC, 0, 30 * MIN_USEC, 10 * MIN_USEC };
        BastionWarningStep s;

        (void) state;
        bastion_warning_step(WARN, ELEMENTSOF(WARN), expiry, expiry, UINT64_MAX, &s);
        assert_false(s.due);
        assert_int_equal(s.next_usec, expiry);
        bastion_warning_step(NULL, 0, expiry, expiry - H_USEC, UINT64_MAX, &s);
        assert_false(s.due);
        assert_int_equal(s.next_usec, expiry);
        /* order of the config list does not matter; a zero offset is ignored */
        bastion_warning_step(unsorted, ELEMENTSOF(unsorted), expiry, expiry - 20 * MIN_USEC, UINT64_MAX, &s);
        assert_true(s.due);
        assert_int_equal(s.offset, 30 * MIN_USEC);
        assert_int_equal(s.next_usec, expiry - 10 * MIN_USEC);
}

/* ---- extend ---- */

static void test_extend__within_cap__from_current_expiry(void **state) {
        BastionPolicy b = policy_expires_at(LAUNCH + 2 * HOUR);
        BastionPlanInput in = { .policy = &b, .launch_time = LAUNCH, .max_lifetime_usec = 24 * H_USEC };
        BastionPlan p = plan_of(&b, LAUNCH, 24 * H_USEC, at(LAUNCH + HOUR));
        _cleanup_free_ char *err = NULL;
        BastionExtension e;

        (void) state;
        assert_int_equal(bastion_plan_extend(&in, &p, at(LAUNCH + HOUR), 2 * H_USEC, &e, &err), 0);
        assert_null(err);
        assert_int_equal(e.previous, LAUNCH + 2 * HOUR);
        assert_int_equal(e.expires_at, LAUNCH + 4 * HOUR);
        assert_false(e.set_ttl);
}

static void test_extend__ttl_wins__ttl_rewritten_too(void **state) {
        BastionPolicy b = policy_ttl(2 * H_USEC);
        BastionPlanInput in = { .policy = &b, .launch_time = LAUNCH, .max_lifetime_usec = 24 * H_USEC };
        BastionPlan p = plan_of(&b, LAUNCH, 24 * H_USEC, at(LAUNCH + HOUR));
        BastionExtension e;

        (void) state;
        assert_int_equal(bastion_plan_extend(&in, &p, at(LAUNCH + HOUR), 90 * MIN_USEC, &e, NULL), 0);
        assert_int_equal(e.expires_at, LAUNCH + 2 * HOUR + 90 * 60);
        assert_true(e.set_ttl);
        assert_int_equal(e.ttl_usec, (uint64_t) (2 * HOUR + 90 * 60) * USEC_PER_SEC);

        /* the new tags plan to the new expiry */
        b.has_expires_at = true;
        b.expires_at = e.expires_at;
        b.ttl_usec = e.ttl_usec;
        p = plan_of(&b, LAUNCH, 24 * H_USEC, at(LAUNCH + HOUR));
        assert_int_equal(p.expiry, LAUNCH + 2 * HOUR + 90 * 60);
}

static void test_extend__beyond_cap__refused_naming_cap(void **state) {
        BastionPolicy b = policy_expires_at(LAUNCH + 22 * HOUR);
        BastionPlanInput in = { .policy = &b, .launch_time = LAUNCH, .max_lifetime_usec = 24 * H_USEC };
        BastionPlan p = plan_of(&b, LAUNCH, 24 * H_USEC, at(LAUNCH + HOUR));
        _cleanup_free_ char *err = NULL;
        BastionExtension e = { .expires_at = 7 };

        (void) state;
        assert_int_equal(bastion_plan_extend(&in, &p, at(LAUNCH + HOUR), 3 * H_USEC, &e, &err), -ERANGE);
        assert_non_null(err);
        assert_non_null(strstr(err, "bastion_max_lifetime"));
        assert_non_null(strstr(err, "of 1d after the launch"));   /* 24h */
        assert_non_null(strstr(err, "2026-01-16T09:30:00Z"));    /* the cap */
        assert_non_null(strstr(err, "at most 2h more"));
        assert_int_equal(e.expires_at, 7);                       /* untouched */

        /* exactly up to the cap is fine */
        assert_int_equal(bastion_plan_extend(&in, &p, at(LAUNCH + HOUR), 2 * H_USEC, &e, NULL), 0);
        assert_int_equal(e.expires_at, LAUNCH + 24 * HOUR);
}

static void test_extend__at_or_past_cap__refused(void **state) {
        BastionPolicy b = policy_expires_at(LAUNCH + 24 * HOUR);
        BastionPlanInput in = { .policy = &b, .launch_time = LAUNCH, .max_lifetime_usec = 24 * H_USEC };
        BastionPlan p = plan_of(&b, LAUNCH, 24 * H_USEC, at(LAUNCH + HOUR));
        BastionExtension e;

        (void) state;
        {
                _cleanup_free_ char *err = NULL;
                assert_int_equal(bastion_plan_extend(&in, &p, at(LAUNCH + HOUR), 60 * USEC_PER_SEC, &e, &err),
                                 -ERANGE);
                assert_non_null(strstr(err, "already at or past the bastion_max_lifetime cap"));
        }
        {
                /* tags set past the cap stay, but cannot be extended further */
                _cleanup_free_ char *err = NULL;
                b.expires_at = LAUNCH + 30 * HOUR;
                p = plan_of(&b, LAUNCH, 24 * H_USEC, at(LAUNCH + HOUR));
                assert_int_equal(p.expiry, LAUNCH + 30 * HOUR);
                assert_int_equal(bastion_plan_extend(&in, &p, at(LAUNCH + HOUR), H_USEC, &e, &err), -ERANGE);
                assert_non_null(strstr(err, "already at or past the bastion_max_lifetime cap"));
        }
        {
                /* no cap: any extension */
                in.max_lifetime_usec = 0;
                p = plan_of(&b, LAUNCH, 0, at(LAUNCH + HOUR));
                assert_int_equal(bastion_plan_extend(&in, &p, at(LAUNCH + HOUR), 100 * H_USEC, &e, NULL), 0);
                assert_int_equal(e.expires_at, LAUNCH + 130 * HOUR);
        }
}

static void test_extend__not_armed__refused_with_reason(void **state) {
        BastionPolicy off = {};
        BastionPolicy b = policy_expires_at(LAUNCH + HOUR);
        BastionPlanInput in_off = { .policy = &off, .launch_time = LAUNCH, .max_lifetime_usec = 24 * H_USEC };
        BastionPlanInput in = { .policy = &b, .launch_time = LAUNCH, .max_lifetime_usec = 24 * H_USEC };
        BastionExtension e;
        BastionPlan p;

        (void) state;
        {
                _cleanup_free_ char *err = NULL;
                p = plan_of(&off, LAUNCH, 24 * H_USEC, at(LAUNCH));
                assert_int_equal(bastion_plan_extend(&in_off, &p, at(LAUNCH), H_USEC, &e, &err), -ENOENT);
                assert_non_null(strstr(err, "not an on-demand bastion"));
        }
        {
                _cleanup_free_ char *err = NULL;
                p = plan_of(&b, EC2_TIME_UNSET, 24 * H_USEC, at(LAUNCH));
                assert_int_equal(bastion_plan_extend(&in, &p, at(LAUNCH), H_USEC, &e, &err), -EAGAIN);
                assert_non_null(strstr(err, "launch time"));
        }
        {
                _cleanup_free_ char *err = NULL;
                p = plan_of(&b, LAUNCH, 24 * H_USEC, at(LAUNCH + 2 * HOUR));
                assert_int_equal(bastion_plan_extend(&in, &p, at(LAUNCH + 2 * HOUR), H_USEC, &e, &err), -ESTALE);
                assert_non_null(strstr(err, "too late"));
                assert_non_null(strstr(err, "terminated"));
        }
        {
                _cleanup_free_ char *err = NULL;
                p = plan_of(&b, LAUNCH, 24 * H_USEC, at(LAUNCH));
                assert_int_equal(bastion_plan_extend(&in, &p, at(LAUNCH), 0, &e, &err), -EINVAL);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_plan__expires_at_only__counts_down_to_it),
                cmocka_unit_test(test_plan__ttl_only__launch_plus_ttl),
                cmocka_unit_test(test_plan__ttl_and_expires_at__earliest_wins),
                cmocka_unit_test(test_plan__tags_beyond_max_lifetime__not_shortened),
                cmocka_unit_test(test_plan__no_cap__tag_expiry_stands),
                cmocka_unit_test(test_plan__at_or_past_expiry__expired),
                cmocka_unit_test(test_plan__expire_action_stop__carried),
                cmocka_unit_test(test_plan__not_a_bastion_or_invalid__off),
                cmocka_unit_test(test_plan__unknown_launch_time__never_acts),
                cmocka_unit_test(test_plan__bad_arguments__einval),
                cmocka_unit_test(test_plan__unparsable_tags__off),
                cmocka_unit_test(test_warning__far_ahead__next_is_first_threshold),
                cmocka_unit_test(test_warning__thresholds_in_turn__each_once),
                cmocka_unit_test(test_warning__start_inside_window__one_collapsed_warning),
                cmocka_unit_test(test_warning__past_expiry_or_no_thresholds__nothing),
                cmocka_unit_test(test_extend__within_cap__from_current_expiry),
                cmocka_unit_test(test_extend__ttl_wins__ttl_rewritten_too),
                cmocka_unit_test(test_extend__beyond_cap__refused_naming_cap),
                cmocka_unit_test(test_extend__at_or_past_cap__refused),
                cmocka_unit_test(test_extend__not_armed__refused_with_reason),
        };
        return cmocka_run_group_tests_name("bastion-plan", tests, NULL, NULL);
}
