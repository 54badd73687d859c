/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cdp/macro.h"
#include "cdp/parse-util.h"

static void test_parse_uint64__valid__parses(void **state) {
        uint64_t v = 1;

        (void) state;
        assert_int_equal(parse_uint64("0", &v), 0);
        assert_true(v == 0);
        assert_int_equal(parse_uint64("007", &v), 0);
        assert_true(v == 7);
        assert_int_equal(parse_uint64("18446744073709551615", &v), 0);
        assert_true(v == UINT64_MAX);
}

static void test_parse_uint64__overflow__erange(void **state) {
        uint64_t v = 42;

        (void) state;
        assert_int_equal(parse_uint64("18446744073709551616", &v), -ERANGE);
        assert_int_equal(parse_uint64("99999999999999999999999", &v), -ERANGE);
        assert_true(v == 42);
}

static void test_parse_uint64__junk__einval_output_untouched(void **state) {
        static const char *const bad[] = {
                "", " 1", "1 ", "+1", "-1", "0x10", "1a", "1.0", "1e3", "\t1", "1\n", "١",
        };
        uint64_t v = 42;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(parse_uint64(bad[i], &v), -EINVAL);
                assert_true(v == 42);
        }
        assert_int_equal(parse_uint64(NULL, &v), -EINVAL);
}

static void test_parse_uint_range__bounds__checked(void **state) {
        unsigned v = 99;

        (void) state;
        assert_int_equal(parse_uint_range("1", 1, 1000, &v), 0);
        assert_int_equal(v, 1);
        assert_int_equal(parse_uint_range("1000", 1, 1000, &v), 0);
        assert_int_equal(v, 1000);
        v = 99;
        assert_int_equal(parse_uint_range("0", 1, 1000, &v), -ERANGE);
        assert_int_equal(parse_uint_range("1001", 1, 1000, &v), -ERANGE);
        assert_int_equal(parse_uint_range("4294967297", 1, 1000, &v), -ERANGE);
        assert_int_equal(parse_uint_range("seven", 1, 1000, &v), -EINVAL);
        assert_int_equal(parse_uint_range("-1", 1, 1000, &v), -EINVAL);
        assert_int_equal(v, 99);
}

static void test_parse_duration__valid__parses(void **state) {
        static const struct {
                const char *text;
                uint64_t sec;
        } good[] = {
                { "30s", 30 },
                { "5m", 300 },
                { "90m", 5400 },
                { "4h", 14400 },
                { "2d", 172800 },
                { "1h30m", 5400 },
                { "1d12h", 129600 },
                { "1d1h1m1s", 90061 },
                { "3650d", 3650 * 86400ULL },
                { "0h1s", 1 },
        };
        uint64_t v;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                assert_int_equal(parse_duration(good[i].text, &v), 0);
                assert_true(v == good[i].sec * USEC_PER_SEC);
        }
}

static void test_parse_duration__bad_syntax__einval(void **state) {
        static const char *const bad[] = {
                "", "30", "m", "1.5h", "1H", "1M", " 5m", "5m ", "5 m", "-5m", "+5m", "30m1h", "1h1h",
                "1w", "1y", "5mm", "h5", "1h 30m", "0x5m", "5min",
        };
        uint64_t v = 7;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(parse_duration(bad[i], &v), -EINVAL);
                assert_true(v == 7);
        }
}

static void test_parse_duration__zero_or_huge__erange(void **state) {
        uint64_t v = 7;

        (void) state;
        assert_int_equal(parse_duration("0s", &v), -ERANGE);
        assert_int_equal(parse_duration("0m", &v), -ERANGE);
        assert_int_equal(parse_duration("3651d", &v), -ERANGE);
        assert_int_equal(parse_duration("3650d1s", &v), -ERANGE);
        assert_int_equal(parse_duration("99999999999999999999999d", &v), -ERANGE);
        assert_true(v == 7);
        /* A syntax error is reported as such even after a huge number. */
        assert_int_equal(parse_duration("99999999999999999999999x", &v), -EINVAL);

        assert_int_equal(parse_duration_full("0s", PARSE_DURATION_ALLOW_ZERO, &v), 0);
        assert_true(v == 0);
}

static void test_format_duration__values__largest_unit_first(void **state) {
        char buf[DURATION_STRING_MAX];
        uint64_t v;

        (void) state;
        assert_string_equal(format_duration(0, buf), "0s");
        assert_string_equal(format_duration(5400 * USEC_PER_SEC, buf), "1h30m");
        assert_string_equal(format_duration(172801 * USEC_PER_SEC, buf), "2d1s");
        assert_string_equal(format_duration(999999, buf), "0s");
        assert_string_equal(format_duration(UINT64_MAX, buf), "213503982d8h1m49s");

        /* Round trip. */
        assert_int_equal(parse_duration(format_duration(90061 * USEC_PER_SEC, buf), &v), 0);
        assert_true(v == 90061 * USEC_PER_SEC);
}

static void test_parse_rfc3339__utc__parses(void **state) {
        time_t t = 0;

        (void) state;
        assert_int_equal(parse_rfc3339_utc("2026-11-21T23:00:00Z", &t), 0);
        assert_true(t == 1795302000);
        assert_int_equal(parse_rfc3339_utc("1970-01-01T00:00:00Z", &t), 0);
        assert_true(t == 0);
        assert_int_equal(parse_rfc3339_utc("1969-12-31T23:59:59Z", &t), 0);
        assert_true(t == -1);
        assert_int_equal(parse_rfc3339_utc("2024-02-29T00:00:00Z", &t), 0);
        assert_true(t == 1709164800);
        assert_int_equal(parse_rfc3339_utc("2026-11-21t23:00:00z", &t), 0);
        assert_true(t == 1795302000);
}

static void test_parse_rfc3339__offset_and_fraction__converted_to_utc(void **state) {
        time_t t = 0;

        (void) state;
        assert_int_equal(parse_rfc3339_utc("2026-11-22T08:00:00+09:00", &t), 0);
        assert_true(t == 1795302000);
        assert_int_equal(parse_rfc3339_utc("2026-11-21T18:00:00-05:00", &t), 0);
        assert_true(t == 1795302000);
        assert_int_equal(parse_rfc3339_utc("2026-11-21T23:00:00+00:00", &t), 0);
        assert_true(t == 1795302000);
        assert_int_equal(parse_rfc3339_utc("2026-11-21T23:00:00-00:00", &t), 0);
        assert_true(t == 1795302000);
        assert_int_equal(parse_rfc3339_utc("2026-11-22T04:30:00+05:30", &t), 0);
        assert_true(t == 1795302000);
        assert_int_equal(parse_rfc3339_utc("2026-11-21T23:00:00.999Z", &t), 0);
        assert_true(t == 1795302000);
        assert_int_equal(parse_rfc3339_utc("2026-11-21T23:00:00.123456789+00:00", &t), 0);
        assert_true(t == 1795302000);
        /* An offset that crosses the year. */
        assert_int_equal(parse_rfc3339_utc("2027-01-01T08:59:59+09:00", &t), 0);
        assert_true(t == 1798761599);
}

static void test_parse_rfc3339__malformed__einval(void **state) {
        static const char *const bad[] = {
                "", "2026-11-21", "2026-11-21T23:00:00", "2026-11-21 23:00:00Z", "2026-11-21T23:00Z",
                "2026-11-21T23:00:00+0900", "2026-11-21T23:00:00+09", "26-11-21T23:00:00Z",
                "2026-1-21T23:00:00Z", "2026-11-21T23:00:00.Z", "2026-11-21T23:00:00.1234567890Z",
                "2026-11-21T23:00:00Z ", " 2026-11-21T23:00:00Z", "2026-11-21T23:00:00+24:00",
                "2026-11-21T23:00:00+09:60", "+2026-11-21T23:00:00Z", "2026-11-21T23:00:00UTC",
                "２026-11-21T23:00:00Z",
        };
        time_t t = 42;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(parse_rfc3339_utc(bad[i], &t), -EINVAL);
                assert_true(t == 42);
        }
}

static void test_parse_rfc3339__impossible_date__erange(void **state) {
        static const char *const bad[] = {
                "2026-02-29T00:00:00Z", "2026-02-30T00:00:00Z", "2100-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
                "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-01-00T00:00:00Z", "2026-01-01T24:00:00Z",
                "2026-01-01T23:60:00Z", "2026-12-31T23:59:60Z", "0000-01-01T00:00:00Z",
        };
        time_t t = 42;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(parse_rfc3339_utc(bad[i], &t), -ERANGE);
                assert_true(t == 42);
        }
        assert_int_equal(parse_rfc3339_utc("2000-02-29T00:00:00Z", &t), 0);
}

static void test_format_rfc3339__values__formats(void **state) {
        char buf[RFC3339_UTC_STRING_MAX];
        time_t t;

        (void) state;
        assert_int_equal(format_rfc3339_utc(0, buf), 0);
        assert_string_equal(buf, "1970-01-01T00:00:00Z");
        assert_int_equal(format_rfc3339_utc(1795302000, buf), 0);
        assert_string_equal(buf, "2026-11-21T23:00:00Z");
        assert_int_equal(format_rfc3339_utc(-1, buf), 0);
        assert_string_equal(buf, "1969-12-31T23:59:59Z");
        assert_int_equal(format_rfc3339_utc(253402300799, buf), 0);
        assert_string_equal(buf, "9999-12-31T23:59:59Z");

        memcpy(buf, "untouched", 10);
        assert_int_equal(format_rfc3339_utc(253402300800, buf), -ERANGE);
        assert_string_equal(buf, "untouched");

        /* Round trip over many instants. */
        for (int64_t s = -2208988800LL; s < 4102444800LL; s += 7777777) {
                assert_int_equal(format_rfc3339_utc((time_t) s, buf), 0);
                assert_int_equal(parse_rfc3339_utc(buf, &t), 0);
                assert_true(t == s);
        }
}

static void test_parse_bool__words__parsed_any_case(void **state) {
        static const char *const yes[] = { "yes", "YES", "true", "True", "1", "on", "ON" };
        static const char *const no[] = { "no", "No", "false", "FALSE", "0", "off", "Off" };
        bool b;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                b = false;
                assert_int_equal(parse_bool(yes[i], &b), 0);
                assert_true(b);
        }
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                b = true;
                assert_int_equal(parse_bool(no[i], &b), 0);
                assert_false(b);
        }
        b = true;
        assert_int_equal(parse_bool("y", &b), -EINVAL);
        assert_int_equal(parse_bool("", &b), -EINVAL);
        assert_int_equal(parse_bool(" yes", &b), -EINVAL);
        assert_int_equal(parse_bool("2", &b), -EINVAL);
        assert_true(b);
}

static void test_parse_ipv4__dotted_quad__parses(void **state) {
        struct in_addr a;

        (void) state;
        assert_int_equal(parse_ipv4("10.0.1.10", &a), 0);
        assert_true(a.s_addr == htonl(0x0a00010a));
        assert_int_equal(parse_ipv4("0.0.0.0", &a), 0);
        assert_true(a.s_addr == 0);
        assert_int_equal(parse_ipv4("255.255.255.255", &a), 0);
        assert_true(a.s_addr == 0xffffffff);
}

static void test_parse_ipv4__not_strict__einval(void **state) {
        static const char *const bad[] = {
                "", "256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.04", "1.2.3.4 ", " 1.2.3.4",
                "1..3.4", "0x1.2.3.4", "1.2.3.4/32", "-1.2.3.4", "1.2.3.", "1000.1.1.1", "10.0.1.10\n", "a.b.c.d",
        };
        struct in_addr a = { .s_addr = 42 };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(parse_ipv4(bad[i], &a), -EINVAL);
                assert_true(a.s_addr == 42);
        }
}

static void test_parse_ipv4_cidr__network__parses(void **state) {
        struct in_addr a;
        unsigned prefix;

        (void) state;
        assert_int_equal(parse_ipv4_cidr("192.168.100.10/32", &a, &prefix), 0);
        assert_true(a.s_addr == htonl(0xc0a8640a));
        assert_int_equal(prefix, 32);
        assert_int_equal(parse_ipv4_cidr("10.0.0.0/8", &a, &prefix), 0);
        assert_int_equal(prefix, 8);
        assert_int_equal(parse_ipv4_cidr("0.0.0.0/0", &a, &prefix), 0);
        assert_int_equal(prefix, 0);
        assert_true(a.s_addr == 0);
        assert_int_equal(parse_ipv4_cidr("172.16.0.0/12", &a, &prefix), 0);
}

static void test_parse_ipv4_cidr__host_bits__edom(void **state) {
        struct in_addr a = { .s_addr = 42 };
        unsigned prefix = 99;

        (void) state;
        assert_int_equal(parse_ipv4_cidr("10.0.0.1/24", &a, &prefix), -EDOM);
        assert_int_equal(parse_ipv4_cidr("192.168.100.11/31", &a, &prefix), -EDOM);
        assert_int_equal(parse_ipv4_cidr("1.0.0.0/0", &a, &prefix), -EDOM);
        assert_true(a.s_addr == 42);
        assert_int_equal(prefix, 99);
}

static void test_parse_ipv4_cidr__malformed__einval(void **state) {
        static const char *const bad[] = {
                "10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/08", "10.0.0.0/-1", "10.0.0.0/8 ",
                "10.0.0/8", "10.0.0.0/8/8", "/8", "10.0.0.0/100",
        };
        struct in_addr a;
        unsigned prefix;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(parse_ipv4_cidr(bad[i], &a, &prefix), -EINVAL);
}

static void test_valid_env_name__names__checked(void **state) {
        (void) state;
        assert_true(valid_env_name("DB_HOST"));
        assert_true(valid_env_name("_x1"));
        assert_true(valid_env_name("a"));
        assert_false(valid_env_name(""));
        assert_false(valid_env_name("1A"));
        assert_false(valid_env_name("A-B"));
        assert_false(valid_env_name("A B"));
        assert_false(valid_env_name("A=B"));
        assert_false(valid_env_name("Ä"));
        assert_false(valid_env_name(NULL));
}

static void test_valid_aws_id__shapes__checked(void **state) {
        (void) state;
        assert_true(valid_aws_id("eipalloc-0123abcd", "eipalloc"));
        assert_true(valid_aws_id("eipalloc-0123456789abcdef0", "eipalloc"));
        assert_true(valid_aws_id("vol-0123456789abcdef0", "vol"));
        assert_false(valid_aws_id("eipalloc-0123ABCD", "eipalloc"));
        assert_false(valid_aws_id("eipalloc-0123abc", "eipalloc"));
        assert_false(valid_aws_id("eipalloc-0123abcde", "eipalloc"));
        assert_false(valid_aws_id("eipalloc-0123456789abcdef01", "eipalloc"));
        assert_false(valid_aws_id("eipalloc-0123abcg", "eipalloc"));
        assert_false(valid_aws_id("eipalloc0123abcd", "eipalloc"));
        assert_false(valid_aws_id("vol-0123abcd", "eipalloc"));
        assert_false(valid_aws_id("eipalloc-", "eipalloc"));
        assert_false(valid_aws_id(" eipalloc-0123abcd", "eipalloc"));
        assert_false(valid_aws_id("eipalloc-0123abcd ", "eipalloc"));

        assert_true(valid_aws_id_loose("rtb-0a1", "rtb"));
        assert_true(valid_aws_id_loose("rtb-0", "rtb"));
        assert_true(valid_aws_id_loose("rtb-0123456789abcdef0", "rtb"));
        assert_false(valid_aws_id_loose("rtb-", "rtb"));
        assert_false(valid_aws_id_loose("rtb-0123456789abcdef01", "rtb"));
        assert_false(valid_aws_id_loose("rtb-0A1", "rtb"));
        assert_false(valid_aws_id_loose("rtb_0a1", "rtb"));
}

static void test_valid_aws_region__shapes__checked(void **state) {
        static const char *const good[] = {
                "us-east-1", "ap-northeast-1", "us-gov-west-1", "cn-north-1", "eu-central-2", "il-central-1",
                "us-isob-east-1", "ap-southeast-7", "mx-central-1", "cn-northwest-1",
        };
        static const char *const bad[] = {
                "", "us-east", "us-east-0", "useast1", "US-EAST-1", "us-east-1a", "u-east-1", "usa-east-1",
                "us--east-1", "us-east-100", "us-gov-west-east-1", "us-east-01", "us-east-1 ", "-us-east-1",
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                assert_true(valid_aws_region(good[i]));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_false(valid_aws_region(bad[i]));
}

static void test_valid_utf8__sequences__checked(void **state) {
        (void) state;
        assert_true(valid_utf8(""));
        assert_true(valid_utf8("plain"));
        assert_true(valid_utf8("日本語 ü €"));
        assert_true(valid_utf8("\xf0\x9f\x98\x80"));            /* U+1F600 */
        assert_false(valid_utf8("\xc0\x80"));                   /* overlong NUL */
        assert_false(valid_utf8("\xe0\x80\xaf"));               /* overlong '/' */
        assert_false(valid_utf8("\xed\xa0\x80"));               /* surrogate */
        assert_false(valid_utf8("\xf4\x90\x80\x80"));           /* above U+10FFFF */
        assert_false(valid_utf8("\xe6\x97"));                   /* cut short */
        assert_false(valid_utf8("\x80"));
        assert_false(valid_utf8("ab\xff"));

        assert_int_equal(utf8_char_len("a"), 1);
        assert_int_equal(utf8_char_len("ü"), 2);
        assert_int_equal(utf8_char_len("日"), 3);
        assert_int_equal(utf8_char_len("\xf0\x9f\x98\x80"), 4);
        assert_int_equal(utf8_char_len(""), 0);
        assert_int_equal(utf8_char_len("\xe6\x97"), 0);
}

static void test_civil__days__round_trip(void **state) {
        int64_t y;
        unsigned m, d;

        (void) state;
        assert_true(civil_to_days(1970, 1, 1) == 0);
        assert_true(civil_to_days(2000, 3, 1) == 11017);
        assert_true(civil_to_days(1969, 12, 31) == -1);
        assert_int_equal(weekday_from_days(civil_to_days(2026, 11, 21)), 6);   /* Saturday */
        assert_int_equal(weekday_from_days(civil_to_days(1970, 1, 1)), 4);     /* Thursday */
        assert_int_equal(weekday_from_days(-1), 3);
        assert_int_equal(days_in_month(2024, 2), 29);
        assert_int_equal(days_in_month(2100, 2), 28);
        assert_int_equal(days_in_month(2000, 2), 29);
        assert_int_equal(days_in_month(2026, 13), 0);

        for (int64_t z = -800000; z < 800000; z += 97) {
                civil_from_days(z, &y, &m, &d);
                assert_true(m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m));
                assert_true(civil_to_days(y, m, d) == z);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_uint64__valid__parses),
                cmocka_unit_test(test_parse_uint64__overflow__erange),
                cmocka_unit_test(test_parse_uint64__junk__einval_output_untouched),
                cmocka_unit_test(test_parse_uint_range__bounds__checked),
                cmocka_unit_test(test_parse_duration__valid__parses),
                cmocka_unit_test(test_parse_duration__bad_syntax__einval),
                cmocka_unit_test(test_parse_duration__zero_or_huge__erange),
                cmocka_unit_test(test_format_duration__values__largest_unit_first),
                cmocka_unit_test(test_parse_rfc3339__utc__parses),
                cmocka_unit_test(test_parse_rfc3339__offset_and_fraction__converted_to_utc),
                cmocka_unit_test(test_parse_rfc3339__malformed__einval),
                cmocka_unit_test(test_parse_rfc3339__impossible_date__erange),
                cmocka_unit_test(test_format_rfc3339__values__formats),
                cmocka_unit_test(test_parse_bool__words__parsed_any_case),
                cmocka_unit_test(test_parse_ipv4__dotted_quad__parses),
                cmocka_unit_test(test_parse_ipv4__not_strict__einval),
                cmocka_unit_test(test_parse_ipv4_cidr__network__parses),
                cmocka_unit_test(test_parse_ipv4_cidr__host_bits__edom),
                cmocka_unit_test(test_parse_ipv4_cidr__malformed__einval),
                cmocka_unit_test(test_valid_env_name__names__checked),
                cmocka_unit_test(test_valid_aws_id__shapes__checked),
                cmocka_unit_test(test_valid_aws_region__shapes__checked),
                cmocka_unit_test(test_valid_utf8__sequences__checked),
                cmocka_unit_test(test_civil__days__round_trip),
        };

        return cmocka_run_group_tests_name("parse-util", tests, NULL, NULL);
}
