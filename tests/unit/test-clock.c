/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/core/clock.c (Clock seam, include/cdp/clock.h):
 * clock_real() is one process-wide object; it reads each clock id in
 * microseconds, converted exactly from clock_gettime (checked by bracketing
 * it between two direct clock_gettime calls); monotonic time never goes
 * back and advances with real time; a clock id the kernel refuses reads as
 * 0; clock_now() dispatches to any Clock implementation unchanged. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cdp/clock.h"
#include "cdp/macro.h"

/* usec from a direct clock_gettime, truncating the nanoseconds. */
static uint64_t direct_usec(clockid_t id) {
        struct timespec ts;

        assert_int_equal(clock_gettime(id, &ts), 0);
        assert_true(ts.tv_sec >= 0);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

/* The value must lie between two direct readings taken around it: this
 * catches a wrong unit (ms, ns), a dropped tv_nsec or tv_sec, rounding up, or
 * reading a different clock. */
static void assert_bracketed(clockid_t id) {
        const Clock *c = clock_real();

        for (int i = 0; i < 100; i++) {
                uint64_t lo = direct_usec(id);
                uint64_t v = clock_now(c, id);
                uint64_t hi = direct_usec(id);

                assert_true(lo > 0);
                assert_true(lo <= v);
                assert_true(v <= hi);
        }
}

static void test_clock_real__object__same_and_usable_every_time(void **state) {
        const Clock *a = clock_real(), *b = clock_real();
        (void) state;

        assert_non_null(a);
        assert_ptr_equal(a, b);
        assert_non_null(a->now);
}

static void test_clock_real__monotonic__matches_clock_gettime_in_usec(void **state) {
        (void) state;
        assert_bracketed(CLOCK_MONOTONIC);
}

static void test_clock_real__realtime__matches_clock_gettime_in_usec(void **state) {
        const uint64_t y2020 = UINT64_C(1577836800) * USEC_PER_SEC;
        const uint64_t y2200 = UINT64_C(7258118400) * USEC_PER_SEC;
        uint64_t now;
        time_t t;
        (void) state;

        assert_bracketed(CLOCK_REALTIME);
        /* Plausible wall-clock time in usec since the epoch, consistent with time(). */
        t = time(NULL);
        now = clock_now(clock_real(), CLOCK_REALTIME);
        assert_true(now > y2020);
        assert_true(now < y2200);
        assert_true(now / USEC_PER_SEC >= (uint64_t) t);
        assert_true(now / USEC_PER_SEC <= (uint64_t) t + 2);
}

static void test_clock_real__other_clock_ids__read_in_usec(void **state) {
        (void) state;

        assert_bracketed(CLOCK_BOOTTIME);
        assert_bracketed(CLOCK_MONOTONIC_RAW);
        assert_bracketed(CLOCK_MONOTONIC_COARSE);
        assert_bracketed(CLOCK_REALTIME_COARSE);
}

static void test_clock_real__boottime__never_behind_monotonic(void **state) {
        const Clock *c = clock_real();
        (void) state;

        for (int i = 0; i < 100; i++) {
                uint64_t mono = clock_now(c, CLOCK_MONOTONIC);
                uint64_t boot = clock_now(c, CLOCK_BOOTTIME);

                assert_true(boot >= mono);
        }
}

static void test_clock_real__cpu_time__small_and_increasing(void **state) {
        const Clock *c = clock_real();
        volatile uint64_t sink = 0;
        uint64_t before, after;
        (void) state;

        before = clock_now(c, CLOCK_PROCESS_CPUTIME_ID);
        for (uint64_t i = 0; i < 2000000; i++)
                sink += i;
        after = clock_now(c, CLOCK_PROCESS_CPUTIME_ID);
        assert_true(after > before);
        /* CPU time of this short test: well below an hour, in usec. */
        assert_true(after < 3600 * USEC_PER_SEC);
        (void) sink;
}

static void test_clock_real__monotonic__never_goes_back_and_tracks_sleep(void **state) {
        const Clock *c = clock_real();
        uint64_t prev, start, end;
        (void) state;

        prev = clock_now(c, CLOCK_MONOTONIC);
        for (int i = 0; i < 100000; i++) {
                uint64_t t = clock_now(c, CLOCK_MONOTONIC);

                assert_true(t >= prev);
                prev = t;
        }

        start = clock_now(c, CLOCK_MONOTONIC);
        assert_int_equal(usleep(50 * 1000), 0);
        end = clock_now(c, CLOCK_MONOTONIC);
        assert_true(end - start >= 50 * USEC_PER_MSEC);
        /* A generous upper bound still rules out a wrong unit (ms would be
         * ~50, ns ~50000000). */
        assert_true(end - start < 10 * USEC_PER_SEC);
}

static void test_clock_real__invalid_clock_id__reads_zero(void **state) {
        const Clock *c = clock_real();
        struct timespec ts;
        (void) state;

        /* Make sure the kernel really refuses these ids. */
        assert_int_equal(clock_gettime((clockid_t) 4242, &ts), -1);
        assert_int_equal(errno, EINVAL);
        assert_true(clock_now(c, (clockid_t) 4242) == 0);
        assert_true(clock_now(c, (clockid_t) INT32_MAX) == 0);
        /* The clock keeps working after a failure. */
        assert_true(clock_now(c, CLOCK_MONOTONIC) > 0);
}

/* ---- the seam ------------------------------------------------------------ */

typedef struct Recorder {
        Clock clock;            /* first member: the Clock * is the Recorder * */
        unsigned calls;
        const Clock *seen_clock;
        clockid_t seen_id;
        uint64_t value;
} Recorder;

static uint64_t recorder_now(const Clock *c, clockid_t id) {
        Recorder *r = c->userdata;

        r->calls++;
        r->seen_clock = c;
        r->seen_id = id;
        return r->value;
}

static void test_clock_now__custom_clock__dispatches_with_clock_and_id(void **state) {
        Recorder rec = { .clock = { .now = recorder_now } };
        static const uint64_t values[] = { 0, 1, USEC_PER_SEC, UINT64_C(1) << 63, UINT64_MAX - 1, UINT64_MAX };
        (void) state;

        rec.clock.userdata = &rec;
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                rec.value = values[i];
                /* Full 64-bit values pass through untruncated. */
                assert_true(clock_now(&rec.clock, CLOCK_BOOTTIME) == values[i]);
                assert_int_equal(rec.calls, i + 1);
                assert_ptr_equal(rec.seen_clock, &rec.clock);
                assert_int_equal(rec.seen_id, CLOCK_BOOTTIME);
        }
        rec.value = 7;
        assert_true(clock_now(&rec.clock, CLOCK_REALTIME) == 7);
        assert_int_equal(rec.seen_id, CLOCK_REALTIME);
        assert_int_equal(rec.calls, ELEMENTSOF(values) + 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_clock_real__object__same_and_usable_every_time),
                cmocka_unit_test(test_clock_real__monotonic__matches_clock_gettime_in_usec),
                cmocka_unit_test(test_clock_real__realtime__matches_clock_gettime_in_usec),
                cmocka_unit_test(test_clock_real__other_clock_ids__read_in_usec),
                cmocka_unit_test(test_clock_real__boottime__never_behind_monotonic),
                cmocka_unit_test(test_clock_real__cpu_time__small_and_increasing),
                cmocka_unit_test(test_clock_real__monotonic__never_goes_back_and_tracks_sleep),
                cmocka_unit_test(test_clock_real__invalid_clock_id__reads_zero),
                cmocka_unit_test(test_clock_now__custom_clock__dispatches_with_clock_and_id),
        };

        setvbuf(stdout, NULL, _IONBF, 0);
        setvbuf(stderr, NULL, _IONBF, 0);
        return cmocka_run_group_tests_name("clock", tests, NULL, NULL);
}
