/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cdp/macro.h"
#include "cdp/parse-util.h"
#include "cdp/schedule.h"

/* ------------------------------------------------------------------------ */
/* Helpers: times are written as RFC 3339 so that expectations read easily. */

static time_t ts(const char *s) {
        time_t t;

        assert_int_equal(parse_rfc3339_utc(s, &t), 0);
        return t;
}

static char fmt_buf[8][RFC3339_UTC_STRING_MAX];
static unsigned fmt_idx;

static const char *fmt(time_t t) {
        char *b = fmt_buf[fmt_idx++ % ELEMENTSOF(fmt_buf)];

        assert_int_equal(format_rfc3339_utc(t, b), 0);
        return b;
}

static Schedule parse_ok(const char *text) {
        Schedule s;
        char *reason = NULL;
        int r;

        r = schedule_parse(text, &s, &reason);
        if (r < 0)
                fail_msg("schedule_parse(\"%s\") = %d: %s", text, r, reason ? reason : "(null)");
        assert_null(reason);
        return s;
}

static const char *next_of(const char *sched, const char *tz, const char *after) {
        Schedule s = parse_ok(sched);
        time_t t = 0;

        assert_int_equal(schedule_next(&s, tz, ts(after), &t), 0);
        return fmt(t);
}

static const char *prev_of(const char *sched, const char *tz, const char *at) {
        Schedule s = parse_ok(sched);
        time_t t = 0;

        assert_int_equal(schedule_prev(&s, tz, ts(at), &t), 0);
        return fmt(t);
}

static void assert_parse_fails(const char *text, const char *reason) {
        Schedule s = { .kind = SCHEDULE_INTERVAL, .interval_usec = 42 };
        char *got = NULL;

        assert_int_equal(schedule_parse(text, &s, &got), -EINVAL);
        assert_non_null(got);
        if (strcmp(got, reason) != 0)
                fail_msg("schedule_parse(\"%s\"):\n  got      %s\n  expected %s", text, got, reason);
        free(got);
        /* Output untouched. */
        assert_int_equal(s.kind, SCHEDULE_INTERVAL);
        assert_true(s.interval_usec == 42);
}

/* ------------------------------------------------------------------------ */
/* Parsing */

static void test_schedule_parse__shorthands__crontab_masks(void **state) {
        Schedule s;

        (void) state;
        s = parse_ok("@hourly");
        assert_int_equal(s.kind, SCHEDULE_CRON);
        assert_true(s.minutes == 1);
        assert_true(s.hours == 0xffffff);
        s = parse_ok("@daily");
        assert_true(s.hours == 1);
        assert_true(s.days_of_month == 0xfffffffe);
        s = parse_ok("@weekly");
        assert_true(s.days_of_week == 1);
        assert_true(s.dow_restricted);
        assert_false(s.dom_restricted);
        s = parse_ok("@monthly");
        assert_true(s.days_of_month == 2);
        s = parse_ok("@yearly");
        assert_true(s.months == 2);
        s = parse_ok("@ANNUALLY");
        assert_true(s.months == 2);
        s = parse_ok("  @Daily\t");
        assert_true(s.hours == 1);
}

static void test_schedule_parse__intervals__whole_minutes(void **state) {
        Schedule s;

        (void) state;
        s = parse_ok("every 90m");
        assert_int_equal(s.kind, SCHEDULE_INTERVAL);
        assert_true(s.interval_usec == 5400 * USEC_PER_SEC);
        s = parse_ok("every 4h");
        assert_true(s.interval_usec == 4 * 3600 * USEC_PER_SEC);
        s = parse_ok("EVERY   2d");
        assert_true(s.interval_usec == 2 * 86400 * USEC_PER_SEC);
        s = parse_ok("every 1m");
        assert_true(s.interval_usec == 60 * USEC_PER_SEC);
        s = parse_ok("every 1h30m");
        assert_true(s.interval_usec == 5400 * USEC_PER_SEC);
        s = parse_ok("every 365d");
        assert_true(s.interval_usec == SCHEDULE_INTERVAL_MAX_USEC);
}

static void test_schedule_parse__crontab_syntax__masks(void **state) {
        Schedule s;

        (void) state;
        s = parse_ok("*/15 1-5 1,15 jan-MAR mon-fri");
        assert_true(s.minutes == ((1ULL << 0) | (1ULL << 15) | (1ULL << 30) | (1ULL << 45)));
        assert_true(s.hours == 0x3e);
        assert_true(s.days_of_month == ((1u << 1) | (1u << 15)));
        assert_true(s.months == 0xe);
        assert_true(s.days_of_week == 0x3e);
        assert_true(s.dom_restricted);
        assert_true(s.dow_restricted);

        s = parse_ok("1-30/10 0 * * *");
        assert_true(s.minutes == ((1ULL << 1) | (1ULL << 11) | (1ULL << 21)));

        /* 0 and 7 are both Sunday; ranges may end at 7. */
        s = parse_ok("0 0 * * 7");
        assert_true(s.days_of_week == 1);
        s = parse_ok("0 0 * * 5-7");
        assert_true(s.days_of_week == ((1u << 5) | (1u << 6) | 1u));
        s = parse_ok("0 0 * * Sun,SAT");
        assert_true(s.days_of_week == ((1u << 6) | 1u));

        /* Leading zeros, tabs, surrounding blanks. */
        s = parse_ok(" 00\t03 * *  * ");
        assert_true(s.minutes == 1);
        assert_true(s.hours == (1u << 3));

        /* A field starting with '*' counts as unrestricted (Vixie). */
        s = parse_ok("0 0 */2 * mon");
        assert_false(s.dom_restricted);
        assert_true(s.dow_restricted);

        /* Feb 29 exists. */
        s = parse_ok("0 0 29 2 *");
        assert_true(s.days_of_month == (1u << 29));
}

static void test_schedule_parse__errors__reason_says_what_was_expected(void **state) {
        (void) state;
        assert_parse_fails("", "is empty; expected @hourly, @daily, @weekly, @monthly, @yearly, \"every <N>m|h|d\" or "
                           "a 5-field crontab line such as \"0 3 * * *\"");
        assert_parse_fails("daily", "is not @hourly, @daily, @weekly, @monthly, @yearly, \"every <N>m|h|d\" or a "
                           "5-field crontab line such as \"0 3 * * *\"");
        assert_parse_fails("@reboot", "is not a known shorthand; use @hourly, @daily, @weekly, @monthly or @yearly");
        assert_parse_fails("0 3 * *", "has 4 fields; a crontab line has 5: minute hour day-of-month month "
                           "day-of-week (no seconds, no command)");
        assert_parse_fails("0 3 * * * /usr/bin/backup", "has 6 fields; a crontab line has 5: minute hour "
                           "day-of-month month day-of-week (no seconds, no command)");
        assert_parse_fails("75 3 * * *", "has an invalid minute field \"75\": 75 is out of range 0-59");
        assert_parse_fails("0 24 * * *", "has an invalid hour field \"24\": 24 is out of range 0-23");
        assert_parse_fails("0 3 0 * *", "has an invalid day-of-month field \"0\": 0 is out of range 1-31");
        assert_parse_fails("0 3 * 13 *", "has an invalid month field \"13\": 13 is out of range 1-12");
        assert_parse_fails("0 3 * * 8", "has an invalid day-of-week field \"8\": 8 is out of range 0-7");
        assert_parse_fails("0 3 * * fri-mon", "has an invalid day-of-week field \"fri-mon\": range 5-1 goes backwards");
        assert_parse_fails("0 3 * foo *", "has an invalid month field \"foo\": unknown name; use jan..dec");
        assert_parse_fails("0 3 * * sunday", "has an invalid day-of-week field \"sunday\": unknown name; use sun..sat");
        assert_parse_fails("0 mon * * *", "has an invalid hour field \"mon\": expected a number, \"*\", a range or a list");
        assert_parse_fails("*/0 * * * *", "has an invalid minute field \"*/0\": the step after \"/\" must be a number "
                           "from 1 to 60");
        assert_parse_fails("*/61 * * * *", "has an invalid minute field \"*/61\": the step after \"/\" must be a "
                           "number from 1 to 60");
        assert_parse_fails("5/15 * * * *", "has an invalid minute field \"5/15\": a step needs a range or \"*\" "
                           "before it, e.g. 5-59/N");
        assert_parse_fails("1,,2 * * * *", "has an invalid minute field \"1,,2\": empty list item");
        assert_parse_fails("1, * * * *", "has an invalid minute field \"1,\": empty list item");
        assert_parse_fails("1-2-3 * * * *", "has an invalid minute field \"1-2-3\": unexpected \"-\"; expected \",\", "
                           "\"-\" or \"/\"");
        /* Reasons stay printable UTF-8 whatever the input. */
        assert_parse_fails("0 3 * * mon\xd9\x99r", "has an invalid day-of-week field \"mon\xd9\x99r\": unexpected "
                           "\"\xd9\x99\"; expected \",\", \"-\" or \"/\"");
        assert_parse_fails("0 3 * * mon\xff\x01", "has an invalid day-of-week field \"mon\\xff\\x01\": unexpected "
                           "\"\\xff\"; expected \",\", \"-\" or \"/\"");
        assert_parse_fails("every 5\"m", "has an invalid interval \"5\\\"m\": expected a whole number and a unit m, "
                           "h or d, e.g. \"every 90m\", \"every 4h\", \"every 2d\"");
        assert_parse_fails("0 0 30 2 *", "never fires: no month in the month field has the days in the day-of-month "
                           "field");
        assert_parse_fails("0 0 31 4,6,9,11 *", "never fires: no month in the month field has the days in the "
                           "day-of-month field");
        assert_parse_fails("every", "has no interval after \"every\"; expected e.g. \"every 90m\", \"every 4h\" or "
                           "\"every 2d\"");
        assert_parse_fails("every ten minutes", "has an invalid interval \"ten minutes\": expected a whole number and "
                           "a unit m, h or d, e.g. \"every 90m\", \"every 4h\", \"every 2d\"");
        assert_parse_fails("every 30s", "has an interval \"30s\" that is not a whole number of minutes from 1m to 365d");
        assert_parse_fails("every 90s", "has an interval \"90s\" that is not a whole number of minutes from 1m to 365d");
        assert_parse_fails("every 0m", "has an interval \"0m\" that is not a whole number of minutes from 1m to 365d");
        assert_parse_fails("every 366d", "has an interval \"366d\" that is not a whole number of minutes from 1m to "
                           "365d");
}

static void test_schedule_parse__null_reason__still_einval(void **state) {
        Schedule s;

        (void) state;
        assert_int_equal(schedule_parse("nope nope", &s, NULL), -EINVAL);
        assert_int_equal(schedule_parse(NULL, &s, NULL), -EINVAL);
}

/* ------------------------------------------------------------------------ */
/* Next and previous slots */

static void test_schedule_next__utc_crontab__strictly_after(void **state) {
        (void) state;
        assert_string_equal(next_of("0 3 * * *", NULL, "2026-11-21T02:59:59Z"), "2026-11-21T03:00:00Z");
        assert_string_equal(next_of("0 3 * * *", NULL, "2026-11-21T03:00:00Z"), "2026-11-22T03:00:00Z");
        assert_string_equal(next_of("0 3 * * *", "UTC", "2026-12-31T03:00:00Z"), "2027-01-01T03:00:00Z");
        assert_string_equal(next_of("*/15 * * * *", "UTC", "2026-11-21T23:59:00Z"), "2026-11-22T00:00:00Z");
        assert_string_equal(next_of("@monthly", "UTC", "2026-01-31T00:00:00Z"), "2026-02-01T00:00:00Z");
        assert_string_equal(next_of("@yearly", "UTC", "2026-01-01T00:00:00Z"), "2027-01-01T00:00:00Z");
        assert_string_equal(next_of("0 0 31 * *", "UTC", "2026-04-01T00:00:00Z"), "2026-05-31T00:00:00Z");
        assert_string_equal(next_of("0 0 * * *", "Etc/UTC", "1969-12-31T12:00:00Z"), "1970-01-01T00:00:00Z");
}

static void test_schedule_next__leap_day__skips_to_next_leap_year(void **state) {
        (void) state;
        assert_string_equal(next_of("0 0 29 2 *", "UTC", "2026-03-01T00:00:00Z"), "2028-02-29T00:00:00Z");
        /* 2100 is not a leap year. */
        assert_string_equal(next_of("0 0 29 2 *", "UTC", "2097-03-01T00:00:00Z"), "2104-02-29T00:00:00Z");
        assert_string_equal(next_of("0 0 29 2 *", "America/New_York", "2097-03-01T00:00:00Z"),
                            "2104-02-29T05:00:00Z");
        assert_string_equal(prev_of("0 0 29 2 *", "UTC", "2104-02-28T00:00:00Z"), "2096-02-29T00:00:00Z");
}

static void test_schedule_next__vixie_dom_dow__either_or_both(void **state) {
        (void) state;
        /* Both restricted: the 1st or any Monday (2026-11-01 is a Sunday). */
        assert_string_equal(next_of("0 0 1 * mon", "UTC", "2026-11-02T00:00:00Z"), "2026-11-09T00:00:00Z");
        assert_string_equal(next_of("0 0 1 * mon", "UTC", "2026-11-30T00:00:00Z"), "2026-12-01T00:00:00Z");
        assert_string_equal(next_of("0 0 1-31/2 * mon", "UTC", "2026-11-01T00:00:00Z"), "2026-11-02T00:00:00Z");
        /* Day-of-month starts with '*': both must match (odd days that are Mondays). */
        assert_string_equal(next_of("0 0 */2 * mon", "UTC", "2026-11-01T00:00:00Z"), "2026-11-09T00:00:00Z");
        assert_string_equal(next_of("0 0 */2 * mon", "UTC", "2026-11-09T00:00:00Z"), "2026-11-23T00:00:00Z");
        /* Day-of-week '*': only day-of-month. */
        assert_string_equal(next_of("0 0 13 * *", "UTC", "2026-11-01T00:00:00Z"), "2026-11-13T00:00:00Z");
        /* Weekdays only. */
        assert_string_equal(next_of("0 9 * * mon-fri", "UTC", "2026-11-20T09:00:00Z"), "2026-11-23T09:00:00Z");
}

static void test_schedule_next__zones__local_wall_clock(void **state) {
        (void) state;
        assert_string_equal(next_of("0 3 * * *", "Asia/Tokyo", "2026-11-21T00:00:00Z"), "2026-11-21T18:00:00Z");
        assert_string_equal(next_of("0 3 * * *", "Asia/Tokyo", "2026-11-21T18:00:00Z"), "2026-11-22T18:00:00Z");
        assert_string_equal(next_of("@daily", "Asia/Tokyo", "2026-11-21T00:00:00Z"), "2026-11-21T15:00:00Z");
        /* Half-hour zone: @hourly is at :30 UTC. */
        assert_string_equal(next_of("@hourly", "Asia/Kolkata", "2026-11-21T00:00:00Z"), "2026-11-21T00:30:00Z");
        /* @weekly: Sunday 00:00 local (Saturday 18:00 EST). */
        assert_string_equal(next_of("@weekly", "America/New_York", "2026-11-21T23:00:00Z"), "2026-11-22T05:00:00Z");
        assert_string_equal(next_of("@weekly", "UTC", "2026-11-21T23:00:00Z"), "2026-11-22T00:00:00Z");
        /* Symlinked zone names work. */
        assert_string_equal(next_of("0 3 * * *", "US/Eastern", "2026-11-21T00:00:00Z"), "2026-11-21T08:00:00Z");
        /* Beyond the zone file's last transition (2037) the footer rule applies. */
        assert_string_equal(next_of("0 3 * * *", "America/New_York", "2050-07-01T00:00:00Z"), "2050-07-01T07:00:00Z");
        assert_string_equal(next_of("0 3 * * *", "America/New_York", "2050-12-01T00:00:00Z"), "2050-12-01T08:00:00Z");
}

static void test_schedule_next__spring_forward_gap__fires_once_after_gap(void **state) {
        (void) state;
        /* America/New_York, 2026-03-08 02:00 EST -> 03:00 EDT. */
        assert_string_equal(next_of("30 2 * * *", "America/New_York", "2026-03-06T08:00:00Z"), "2026-03-07T07:30:00Z");
        assert_string_equal(next_of("30 2 * * *", "America/New_York", "2026-03-07T07:30:00Z"), "2026-03-08T07:00:00Z");
        assert_string_equal(next_of("30 2 * * *", "America/New_York", "2026-03-08T07:00:00Z"), "2026-03-09T06:30:00Z");
        /* Every gap minute maps to 03:00 EDT, and fires once. */
        assert_string_equal(next_of("*/15 * * * *", "America/New_York", "2026-03-08T06:45:00Z"), "2026-03-08T07:00:00Z");
        assert_string_equal(next_of("*/15 * * * *", "America/New_York", "2026-03-08T07:00:00Z"), "2026-03-08T07:15:00Z");
        assert_string_equal(next_of("0 * * * *", "America/New_York", "2026-03-08T06:00:00Z"), "2026-03-08T07:00:00Z");
        assert_string_equal(next_of("0 * * * *", "America/New_York", "2026-03-08T07:00:00Z"), "2026-03-08T08:00:00Z");

        /* Europe/London, 2026-03-29 01:00 GMT -> 02:00 BST. */
        assert_string_equal(next_of("30 1 * * *", "Europe/London", "2026-03-28T12:00:00Z"), "2026-03-29T01:00:00Z");
        assert_string_equal(next_of("30 1 * * *", "Europe/London", "2026-03-29T01:00:00Z"), "2026-03-30T00:30:00Z");

        /* Australia/Lord_Howe moves by 30 minutes: 2026-10-04 02:00 -> 02:30. */
        assert_string_equal(next_of("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00Z"), "2026-10-03T15:30:00Z");

        /* Pacific/Apia skipped all of 2011-12-30 (-10 -> +14): noon that day
         * fires at the end of the gap, 2011-12-31 00:00 local. */
        assert_string_equal(next_of("0 12 * * *", "Pacific/Apia", "2011-12-29T22:00:00Z"), "2011-12-30T10:00:00Z");
        assert_string_equal(next_of("0 12 * * *", "Pacific/Apia", "2011-12-30T10:00:00Z"), "2011-12-30T22:00:00Z");
}

static void test_schedule_next__fall_back_overlap__fires_once_at_first(void **state) {
        (void) state;
        /* America/New_York, 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 happens twice. */
        assert_string_equal(next_of("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z"), "2026-11-01T05:30:00Z");
        assert_string_equal(next_of("30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z"), "2026-11-02T06:30:00Z");
        /* Asked during the second 01:00-02:00: the repeated times do not fire again. */
        assert_string_equal(next_of("30 1 * * *", "America/New_York", "2026-11-01T06:10:00Z"), "2026-11-02T06:30:00Z");
        assert_string_equal(next_of("0 * * * *", "America/New_York", "2026-11-01T05:00:00Z"), "2026-11-01T07:00:00Z");
        /* 02:30 exists once. */
        assert_string_equal(next_of("30 2 * * *", "America/New_York", "2026-10-31T12:00:00Z"), "2026-11-01T07:30:00Z");

        /* Europe/London, 2026-10-25 02:00 BST -> 01:00 GMT. */
        assert_string_equal(next_of("30 1 * * *", "Europe/London", "2026-10-24T12:00:00Z"), "2026-10-25T00:30:00Z");
        assert_string_equal(next_of("30 1 * * *", "Europe/London", "2026-10-25T00:30:00Z"), "2026-10-26T01:30:00Z");

        /* Australia/Lord_Howe, 2026-04-05 02:00 (+11) -> 01:30 (+10:30). */
        assert_string_equal(next_of("45 1 * * *", "Australia/Lord_Howe", "2026-04-04T12:00:00Z"), "2026-04-04T14:45:00Z");
        assert_string_equal(next_of("45 1 * * *", "Australia/Lord_Howe", "2026-04-04T14:45:00Z"), "2026-04-05T15:15:00Z");
}

static void test_schedule_prev__at_or_before__latest_slot(void **state) {
        (void) state;
        assert_string_equal(prev_of("0 3 * * *", "UTC", "2026-11-21T03:00:00Z"), "2026-11-21T03:00:00Z");
        assert_string_equal(prev_of("0 3 * * *", "UTC", "2026-11-21T02:59:59Z"), "2026-11-20T03:00:00Z");
        assert_string_equal(prev_of("0 3 * * *", "Asia/Tokyo", "2026-11-21T17:59:59Z"), "2026-11-20T18:00:00Z");
        assert_string_equal(prev_of("@weekly", "UTC", "2026-11-21T23:00:00Z"), "2026-11-15T00:00:00Z");
        assert_string_equal(prev_of("0 0 1 1 *", "UTC", "2026-06-01T00:00:00Z"), "2026-01-01T00:00:00Z");
        /* In the second pass of a fall-back hour, the slot taken in the first pass. */
        assert_string_equal(prev_of("45 1 * * *", "America/New_York", "2026-11-01T06:30:00Z"), "2026-11-01T05:45:00Z");
        assert_string_equal(prev_of("30 1 * * *", "America/New_York", "2026-11-01T06:59:00Z"), "2026-11-01T05:30:00Z");
        /* Just after a spring-forward gap. */
        assert_string_equal(prev_of("30 2 * * *", "America/New_York", "2026-03-08T07:10:00Z"), "2026-03-08T07:00:00Z");
        assert_string_equal(prev_of("30 2 * * *", "America/New_York", "2026-03-08T06:59:59Z"), "2026-03-07T07:30:00Z");
}

static void test_schedule_prev__catch_up__newest_older_than_a_period(void **state) {
        Schedule s = parse_ok("0 3 * * *");
        time_t now = ts("2026-11-21T10:00:00Z"), due;

        (void) state;
        /* A generation from yesterday 03:00 is older than today's slot: catch up. */
        assert_int_equal(schedule_prev(&s, "UTC", now, &due), 0);
        assert_string_equal(fmt(due), "2026-11-21T03:00:00Z");
        assert_true(ts("2026-11-20T03:00:00Z") < due);
        /* One from today's slot is current. */
        assert_false(ts("2026-11-21T03:00:00Z") < due);
}

static void test_schedule_interval__epoch_aligned__same_in_every_zone(void **state) {
        Schedule s = parse_ok("every 90m");
        time_t t, u;

        (void) state;
        assert_int_equal(schedule_next(&s, NULL, ts("2026-11-21T23:00:00Z"), &t), 0);
        assert_true(t % 5400 == 0);
        assert_string_equal(fmt(t), "2026-11-22T00:00:00Z");
        assert_int_equal(schedule_next(&s, "Asia/Tokyo", ts("2026-11-21T23:00:00Z"), &u), 0);
        assert_true(t == u);
        /* A slot is not "after" itself. */
        assert_int_equal(schedule_next(&s, NULL, t, &u), 0);
        assert_true(u == t + 5400);
        assert_int_equal(schedule_prev(&s, NULL, t, &u), 0);
        assert_true(u == t);
        assert_int_equal(schedule_prev(&s, NULL, t - 1, &u), 0);
        assert_true(u == t - 5400);

        /* every 7d: Thursdays 00:00 UTC, as 1970-01-01 was a Thursday. */
        s = parse_ok("every 7d");
        assert_int_equal(schedule_next(&s, "America/New_York", ts("2026-11-21T23:00:00Z"), &t), 0);
        assert_string_equal(fmt(t), "2026-11-26T00:00:00Z");

        /* Before the epoch too. */
        s = parse_ok("every 1d");
        assert_int_equal(schedule_prev(&s, NULL, ts("1969-12-31T12:00:00Z"), &t), 0);
        assert_string_equal(fmt(t), "1969-12-31T00:00:00Z");
}

static void test_schedule_next__bad_zone__error(void **state) {
        Schedule s = parse_ok("0 3 * * *");
        time_t t = 42;

        (void) state;
        assert_int_equal(schedule_next(&s, "Asia/Tokio", 0, &t), -ENOENT);
        assert_int_equal(schedule_next(&s, "../../etc/passwd", 0, &t), -EINVAL);
        assert_int_equal(schedule_prev(&s, "localtime", 0, &t), -EINVAL);
        assert_true(t == 42);
        /* Beyond the year 9999. */
        assert_int_equal(schedule_next(&s, NULL, ts("9999-12-31T12:00:00Z"), &t), -ERANGE);
        assert_true(t == 42);
}

static void test_schedule_next__sequence__consistent_with_prev(void **state) {
        static const char *const scheds[] = { "30 2 * * *", "*/20 * * * *", "0 0 * * 0", "45 1 1,15 * *" };
        static const char *const zones[] = { "America/New_York", "Europe/London", "Australia/Sydney", "UTC" };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(scheds); i++)
                for (size_t j = 0; j < ELEMENTSOF(zones); j++) {
                        _cleanup_(tz_freep) TimeZone *tz = NULL;
                        Schedule s = parse_ok(scheds[i]);
                        time_t t = ts("2026-01-01T00:00:00Z"), n, p;

                        assert_int_equal(tz_load(zones[j], &tz), 0);
                        for (unsigned k = 0; k < 2000; k++) {
                                assert_int_equal(schedule_next_in(&s, tz, t, &n), 0);
                                assert_true(n > t);
                                assert_int_equal(schedule_prev_in(&s, tz, n, &p), 0);
                                assert_true(p == n);
                                assert_int_equal(schedule_prev_in(&s, tz, n - 1, &p), 0);
                                assert_true(p <= t);
                                t = n;
                        }
                }
}

/* ------------------------------------------------------------------------ */
/* Time zones */

static void test_tz_name_is_valid__names__strict(void **state) {
        static const char *const good[] = {
                "UTC", "Asia/Tokyo", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "Etc/GMT-14",
                "America/Port-au-Prince", "EST5EDT", "posix/Asia/Tokyo",
        };
        static const char *const bad[] = {
                "", "/etc/passwd", "../etc/passwd", "Asia/../../etc/passwd", "Asia/./Tokyo", "Asia//Tokyo",
                "Asia/", "/Asia/Tokyo", "localtime", "posixrules", "Factory", "right/UTC", "Asia/Tokyo\n",
                "Asia Tokyo", "Asia\\Tokyo", "zone.tab", "Asia/Tōkyō",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                assert_true(tz_name_is_valid(good[i]));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (tz_name_is_valid(bad[i]))
                        fail_msg("accepted \"%s\"", bad[i]);
        assert_false(tz_name_is_valid(NULL));
}

static void test_tz_load__system_zones__errors_by_kind(void **state) {
        TimeZone *tz = NULL;

        (void) state;
        assert_int_equal(tz_load("Asia/Tokyo", &tz), 0);
        assert_string_equal(tz_name(tz), "Asia/Tokyo");
        assert_int_equal(tz_utc_offset(tz, ts("2026-11-21T00:00:00Z")), 9 * 3600);
        tz = tz_free(tz);

        assert_int_equal(tz_load(NULL, &tz), 0);
        assert_string_equal(tz_name(tz), "UTC");
        assert_int_equal(tz_utc_offset(tz, 0), 0);
        tz = tz_free(tz);

        assert_int_equal(tz_load("US/Eastern", &tz), 0);
        assert_string_equal(tz_name(tz), "US/Eastern");
        assert_int_equal(tz_utc_offset(tz, ts("2026-07-01T00:00:00Z")), -4 * 3600);
        tz = tz_free(tz);

        assert_int_equal(tz_load("Asia/Tokio", &tz), -ENOENT);
        assert_int_equal(tz_load("America", &tz), -ENOENT);
        assert_int_equal(tz_load("localtime", &tz), -EINVAL);
        assert_int_equal(tz_load("../../etc/passwd", &tz), -EINVAL);
        assert_int_equal(tz_load("", &tz), -EINVAL);
        assert_null(tz);
        assert_null(tz_free(NULL));
        assert_int_equal(tz_utc_offset(NULL, 12345), 0);
}

static void write_file(const char *path, const void *data, size_t size) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_true(write(fd, data, size) == (ssize_t) size);
        assert_int_equal(close(fd), 0);
}

static void test_tz_load_from__escapes_and_junk__refused(void **state) {
        char dir[] = "/tmp/test-schedule-XXXXXX", path[256];
        TimeZone *tz = NULL;
        FILE *f;
        char buf[8192];
        size_t n;

        (void) state;
        assert_non_null(mkdtemp(dir));

        f = fopen(TZ_ZONEINFO_DIR "/Asia/Tokyo", "re");
        assert_non_null(f);
        n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        (void) snprintf(path, sizeof(path), "%s/Good", dir);
        write_file(path, buf, n);
        (void) snprintf(path, sizeof(path), "%s/Text", dir);
        write_file(path, "not a zone\n", 11);
        (void) snprintf(path, sizeof(path), "%s/Out", dir);
        assert_int_equal(symlink(TZ_ZONEINFO_DIR "/Asia/Tokyo", path), 0);
        (void) snprintf(path, sizeof(path), "%s/In", dir);
        assert_int_equal(symlink("Good", path), 0);
        (void) snprintf(path, sizeof(path), "%s/Loop", dir);
        assert_int_equal(symlink("Loop", path), 0);

        assert_int_equal(tz_load_from(dir, "Good", &tz), 0);
        assert_int_equal(tz_utc_offset(tz, 0), 9 * 3600);
        tz = tz_free(tz);
        assert_int_equal(tz_load_from(dir, "In", &tz), 0);
        tz = tz_free(tz);
        assert_int_equal(tz_load_from(dir, "Text", &tz), -EBADMSG);
        assert_int_equal(tz_load_from(dir, "Out", &tz), -ENOENT);
        assert_int_equal(tz_load_from(dir, "Loop", &tz), -ENOENT);
        assert_int_equal(tz_load_from(dir, "Missing", &tz), -ENOENT);
        assert_null(tz);

        for (const char *const *x = (const char *const[]) { "Good", "Text", "Out", "In", "Loop", NULL }; *x; x++) {
                (void) snprintf(path, sizeof(path), "%s/%s", dir, *x);
                assert_int_equal(unlink(path), 0);
        }
        assert_int_equal(rmdir(dir), 0);
}

/* Compares our reader with glibc's for whole zones, 1900..2200. The test
 * (not the library) sets TZ: it is single-threaded. */
static void test_tz_utc_offset__system_zones__match_glibc(void **state) {
        static const char *const zones[] = {
                "America/New_York", "Europe/London", "Asia/Tokyo", "Australia/Sydney", "Australia/Lord_Howe",
                "Pacific/Chatham", "Asia/Kolkata", "Pacific/Apia", "America/Sao_Paulo", "Africa/Casablanca",
                "Antarctica/Troll", "Europe/Dublin", "America/St_Johns", "Asia/Tehran", "America/Santiago",
                "Pacific/Kiritimati", "Europe/Moscow", "America/Nuuk", "Asia/Gaza", "Etc/GMT+12",
        };
        char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(zones); i++) {
                _cleanup_(tz_freep) TimeZone *tz = NULL;
                char env[128];

                assert_int_equal(tz_load(zones[i], &tz), 0);
                (void) snprintf(env, sizeof(env), ":" TZ_ZONEINFO_DIR "/%s", zones[i]);
                assert_int_equal(setenv("TZ", env, 1), 0);
                tzset();
                for (int64_t t = -2208988800LL; t < 7258118400LL; t += 86400 * 2 + 3599) {
                        time_t tt = (time_t) t;
                        struct tm tm;

                        assert_non_null(localtime_r(&tt, &tm));
                        if (tz_utc_offset(tz, t) != tm.tm_gmtoff)
                                fail_msg("%s at %lld: ours %d, glibc %ld", zones[i], (long long) t,
                                         tz_utc_offset(tz, t), (long) tm.tm_gmtoff);
                }
        }
        if (old)
                setenv("TZ", old, 1);
        else
                unsetenv("TZ");
        tzset();
        free(old);
}

/* A TZif v2 file without transitions: only the footer matters. */
static size_t make_tzif(uint8_t *buf, size_t size, char version, const char *footer, uint32_t leapcnt) {
        size_t o = 0;

        for (unsigned pass = 0; pass < (version ? 2u : 1u); pass++) {
                size_t ts_size = pass == 0 ? 4 : 8;
                uint32_t counts[6] = { 0, 0, leapcnt, 0, 1, 4 };

                assert_true(o + 44 + 10 + leapcnt * (ts_size + 4) < size);
                memcpy(buf + o, "TZif", 4);
                buf[o + 4] = (uint8_t) version;
                memset(buf + o + 5, 0, 15);
                o += 20;
                for (unsigned i = 0; i < 6; i++) {
                        buf[o++] = (uint8_t) (counts[i] >> 24);
                        buf[o++] = (uint8_t) (counts[i] >> 16);
                        buf[o++] = (uint8_t) (counts[i] >> 8);
                        buf[o++] = (uint8_t) counts[i];
                }
                memcpy(buf + o, "\0\0\0\0\0\0XXX\0", 10);          /* ttinfo UTC, "XXX" */
                o += 10;
                memset(buf + o, 0, leapcnt * (ts_size + 4));
                o += leapcnt * (ts_size + 4);
        }
        if (version) {
                o += (size_t) snprintf((char *) buf + o, size - o, "\n%s\n", footer);
                assert_true(o < size);
        }
        return o;
}

static void test_tz_parse_tzif__posix_footers__match_glibc(void **state) {
        static const char *const footers[] = {
                "EST5EDT,M3.2.0,M11.1.0",
                "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
                "AEST-10AEDT,M10.1.0,M4.1.0/3",
                "IST-1GMT0,M10.5.0,M3.5.0/1",                  /* negative DST (Dublin) */
                "<+00>0<+02>-2,M3.5.0/1,M10.5.0/3",            /* Troll */
                "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",             /* negative transition time (Nuuk) */
                "XXX3YYY,J60/2,J300/2",
                "AAA-3BBB-4,100/1:30,250/23:59:59",
                "JST-9",
                "<-03>3",
                "<+0545>-5:45",
        };
        char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(footers); i++) {
                _cleanup_(tz_freep) TimeZone *tz = NULL;
                uint8_t buf[512];
                size_t n = make_tzif(buf, sizeof(buf), '2', footers[i], 0);

                assert_int_equal(tz_parse_tzif(buf, n, &tz), 0);
                assert_int_equal(setenv("TZ", footers[i], 1), 0);
                tzset();
                for (int64_t t = 946684800LL; t < 4102444800LL; t += 86400 + 1799) {
                        time_t tt = (time_t) t;
                        struct tm tm;

                        assert_non_null(localtime_r(&tt, &tm));
                        if (tz_utc_offset(tz, t) != tm.tm_gmtoff)
                                fail_msg("\"%s\" at %lld: ours %d, glibc %ld", footers[i], (long long) t,
                                         tz_utc_offset(tz, t), (long) tm.tm_gmtoff);
                }
        }
        if (old)
                setenv("TZ", old, 1);
        else
                unsetenv("TZ");
        tzset();
        free(old);
}

/* tzfile(5)'s way to write "daylight saving time all year". glibc gets the
 * hours around New Year wrong (it looks at one year only), so this one is
 * checked against the rule itself. */
static void test_tz_parse_tzif__dst_all_year__always_dst(void **state) {
        _cleanup_(tz_freep) TimeZone *tz = NULL;
        uint8_t buf[512];
        size_t n = make_tzif(buf, sizeof(buf), '3', "EST5EDT4,0/0,J365/25", 0);

        (void) state;
        assert_int_equal(tz_parse_tzif(buf, n, &tz), 0);
        for (int64_t t = 946684800LL - 86400; t < 4102444800LL; t += 3600 * 7 + 1)
                assert_int_equal(tz_utc_offset(tz, t), -4 * 3600);
        assert_int_equal(tz_utc_offset(tz, ts("2027-01-01T00:00:00Z")), -4 * 3600);
        assert_int_equal(tz_utc_offset(tz, ts("2026-12-31T23:59:59Z")), -4 * 3600);
}

static void test_tz_parse_tzif__malformed__ebadmsg(void **state) {
        static const char *const bad_footers[] = {
                "EST5EDT",                      /* DST without rules */
                "EST", "5", "EST5EDT,M3.2.0", "EST5EDT,M13.2.0,M11.1.0", "EST5EDT,M3.6.0,M11.1.0",
                "EST5EDT,M3.2.7,M11.1.0", "EST5EDT,J0,J365", "EST5EDT,366,0", "EST25", "<>5", "<E,T>5",
                "EST5EDT,M3.2.0/168,M11.1.0", "EST5EDT,M3.2.0,M11.1.0x",
        };
        TimeZone *tz = NULL;
        uint8_t buf[512];
        size_t n;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(bad_footers); i++) {
                n = make_tzif(buf, sizeof(buf), '2', bad_footers[i], 0);
                if (tz_parse_tzif(buf, n, &tz) != -EBADMSG)
                        fail_msg("footer \"%s\" accepted", bad_footers[i]);
        }

        /* Leap seconds ("right/" zones). */
        n = make_tzif(buf, sizeof(buf), '2', "UTC0", 1);
        assert_int_equal(tz_parse_tzif(buf, n, &tz), -EBADMSG);

        /* Every truncation of a valid file. */
        n = make_tzif(buf, sizeof(buf), '2', "EST5EDT,M3.2.0,M11.1.0", 0);
        assert_int_equal(tz_parse_tzif(buf, n, &tz), 0);
        tz = tz_free(tz);
        for (size_t k = 0; k < n; k++)
                assert_int_equal(tz_parse_tzif(buf, k, &tz), -EBADMSG);

        /* Version 1: no footer, fixed offset. */
        n = make_tzif(buf, sizeof(buf), 0, NULL, 0);
        assert_int_equal(tz_parse_tzif(buf, n, &tz), 0);
        assert_int_equal(tz_utc_offset(tz, 1795302000), 0);
        tz = tz_free(tz);

        /* Bad magic and version. */
        n = make_tzif(buf, sizeof(buf), '2', "UTC0", 0);
        buf[0] = 'X';
        assert_int_equal(tz_parse_tzif(buf, n, &tz), -EBADMSG);
        buf[0] = 'T';
        buf[4] = '9';
        assert_int_equal(tz_parse_tzif(buf, n, &tz), -EBADMSG);
        assert_null(tz);
}

/* ------------------------------------------------------------------------ */
/* Splay */

/* FNV-1a 64 + splitmix64 finaliser of "i-0123456789abcdef0", mod 300 s,
 * computed independently (Python). */
#define SPLAY_PINNED UINT64_C(114009638)

static void test_splay__instance_ids__stable_and_bounded(void **state) {
        const uint64_t max = 300 * USEC_PER_SEC;
        unsigned buckets[10] = {};

        (void) state;
        /* Pinned: a change here moves every instance's backup time. */
        assert_true(splay_usec("i-0123456789abcdef0", max) == SPLAY_PINNED);
        assert_true(splay_usec("i-0123456789abcdef0", max) == splay_usec("i-0123456789abcdef0", max));
        assert_true(splay_usec("i-0123456789abcdef0", max) != splay_usec("i-0123456789abcdef1", max));
        assert_true(splay_usec("i-0123456789abcdef0", 0) == 0);
        assert_true(splay_usec(NULL, max) < max);
        assert_true(splay_usec("i-1", 1) == 0);

        for (unsigned i = 0; i < 10000; i++) {
                char id[32];
                uint64_t s;

                (void) snprintf(id, sizeof(id), "i-%017x", i);
                s = splay_usec(id, max);
                assert_true(s < max);
                buckets[s * 10 / max]++;
        }
        /* Ids that differ in the last digits still spread out. */
        for (unsigned i = 0; i < 10; i++)
                assert_in_range(buckets[i], 800, 1200);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_schedule_parse__shorthands__crontab_masks),
                cmocka_unit_test(test_schedule_parse__intervals__whole_minutes),
                cmocka_unit_test(test_schedule_parse__crontab_syntax__masks),
                cmocka_unit_test(test_schedule_parse__errors__reason_says_what_was_expected),
                cmocka_unit_test(test_schedule_parse__null_reason__still_einval),
                cmocka_unit_test(test_schedule_next__utc_crontab__strictly_after),
                cmocka_unit_test(test_schedule_next__leap_day__skips_to_next_leap_year),
                cmocka_unit_test(test_schedule_next__vixie_dom_dow__either_or_both),
                cmocka_unit_test(test_schedule_next__zones__local_wall_clock),
                cmocka_unit_test(test_schedule_next__spring_forward_gap__fires_once_after_gap),
                cmocka_unit_test(test_schedule_next__fall_back_overlap__fires_once_at_first),
                cmocka_unit_test(test_schedule_prev__at_or_before__latest_slot),
                cmocka_unit_test(test_schedule_prev__catch_up__newest_older_than_a_period),
                cmocka_unit_test(test_schedule_interval__epoch_aligned__same_in_every_zone),
                cmocka_unit_test(test_schedule_next__bad_zone__error),
                cmocka_unit_test(test_schedule_next__sequence__consistent_with_prev),
                cmocka_unit_test(test_tz_name_is_valid__names__strict),
                cmocka_unit_test(test_tz_load__system_zones__errors_by_kind),
                cmocka_unit_test(test_tz_load_from__escapes_and_junk__refused),
                cmocka_unit_test(test_tz_utc_offset__system_zones__match_glibc),
                cmocka_unit_test(test_tz_parse_tzif__posix_footers__match_glibc),
                cmocka_unit_test(test_tz_parse_tzif__dst_all_year__always_dst),
                cmocka_unit_test(test_tz_parse_tzif__malformed__ebadmsg),
                cmocka_unit_test(test_splay__instance_ids__stable_and_bounded),
        };

        return cmocka_run_group_tests_name("schedule", tests, NULL, NULL);
}
