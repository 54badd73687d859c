/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/io/sched.c: slot and fire time of scheduled jobs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <systemd/sd-event.h>

#include "cdp/sched.h"

static void on_fire(SchedJob *j, time_t slot, void *userdata) {
        (void) j;
        *(time_t *) userdata = slot;
}

static void test_sched__interval__next_slot_aligned_and_splayed(void **state) {
        _cleanup_(sched_job_freep) SchedJob *j = NULL;
        sd_event *e = NULL;
        Schedule s;
        time_t fired = 0, now = time(NULL), prev;
        (void) state;

        assert_int_equal(schedule_parse("every 5m", &s, NULL), 0);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(sched_job_new(e, &s, NULL, 90 * USEC_PER_SEC, on_fire, &fired, &j), 0);
        /* Slots are multiples of 5 minutes since the epoch; the timer fires
         * 90 s after the slot, and that moment is still ahead. */
        assert_int_equal(sched_job_next_slot(j) % 300, 0);
        assert_true(sched_job_next_fire_usec(j) > (uint64_t) now * USEC_PER_SEC);
        assert_int_equal(sched_job_next_fire_usec(j), (uint64_t) sched_job_next_slot(j) * USEC_PER_SEC + 90 * USEC_PER_SEC);
        assert_true(sched_job_next_slot(j) - 300 + 90 <= now + 1);
        assert_int_equal(sched_job_prev_slot(j, now, &prev), 0);
        assert_true(prev <= now && now - prev < 300);
        assert_int_equal(fired, 0);
        j = sched_job_free(j);
        sd_event_unref(e);
}

static void test_sched__cron_in_zone__next_slot_matches(void **state) {
        _cleanup_(sched_job_freep) SchedJob *j = NULL;
        sd_event *e = NULL;
        Schedule s;
        time_t fired = 0;
        struct tm tm;
        time_t slot;
        (void) state;

        /* 03:00 in Tokyo is 18:00 UTC the day before (no DST there). */
        assert_int_equal(schedule_parse("0 3 * * *", &s, NULL), 0);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(sched_job_new(e, &s, "Asia/Tokyo", 0, on_fire, &fired, &j), 0);
        slot = sched_job_next_slot(j);
        gmtime_r(&slot, &tm);
        assert_int_equal(tm.tm_hour, 18);
        assert_int_equal(tm.tm_min, 0);
        assert_true(slot > time(NULL) && slot - time(NULL) <= 86400);
        j = sched_job_free(j);
        sd_event_unref(e);
}

static void test_sched__bad_zone__error(void **state) {
        SchedJob *j = NULL;
        sd_event *e = NULL;
        Schedule s;
        time_t fired = 0;
        (void) state;

        assert_int_equal(schedule_parse("@daily", &s, NULL), 0);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(sched_job_new(e, &s, "../etc/passwd", 0, on_fire, &fired, &j), -EINVAL);
        assert_int_equal(sched_job_new(e, &s, "Mars/Olympus_Mons", 0, on_fire, &fired, &j), -ENOENT);
        assert_null(j);
        sd_event_unref(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sched__interval__next_slot_aligned_and_splayed),
                cmocka_unit_test(test_sched__cron_in_zone__next_slot_matches),
                cmocka_unit_test(test_sched__bad_zone__error),
        };
        return cmocka_run_group_tests_name("sched", tests, NULL, NULL);
}
