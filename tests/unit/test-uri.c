/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cdp/strbuf.h"
#include "cdp/uri.h"

/* Reference rule written independently of uri.c's table. */
static bool ref_unreserved(unsigned c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.' || c == '~';
}

static void test_uri_encode__unreserved__unchanged(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        const char *in = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        (void) state;

        assert_int_equal(uri_encode(&b, in, strlen(in), false), 0);
        assert_string_equal(b.data, in);
        assert_int_equal(b.len, strlen(in));
}

static void test_uri_encode__every_byte__matches_rule(void **state) {
        (void) state;

        for (unsigned c = 0; c < 256; c++) {
                for (int keep = 0; keep <= 1; keep++) {
                        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
                        char in = (char) c, expected[4];

                        if (ref_unreserved(c) || (keep && c == '/'))
                                snprintf(expected, sizeof(expected), "%c", (char) c);
                        else
                                snprintf(expected, sizeof(expected), "%%%02X", c);

                        assert_int_equal(uri_encode(&b, &in, 1, keep), 0);
                        assert_int_equal(b.len, strlen(expected));
                        assert_memory_equal(b.data, expected, b.len);
                        assert_int_equal(uri_is_unreserved((unsigned char) c), ref_unreserved(c));
                }
        }
}

static void test_uri_encode__slash__kept_only_for_paths(void **state) {
        _cleanup_strbuf_ StrBuf path = STRBUF_INIT(0), query = STRBUF_INIT(0);
        (void) state;

        assert_int_equal(uri_encode(&path, "/a b/c/", 7, true), 0);
        assert_string_equal(path.data, "/a%20b/c/");
        assert_int_equal(uri_encode(&query, "/a b/c/", 7, false), 0);
        assert_string_equal(query.data, "%2Fa%20b%2Fc%2F");
}

static void test_uri_encode__utf8__encoded_bytewise(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        const char *in = "\xe1\x88\xb4-\xc3\xa9";    /* U+1234, '-', U+00E9 */
        (void) state;

        assert_int_equal(uri_encode(&b, in, strlen(in), true), 0);
        assert_string_equal(b.data, "%E1%88%B4-%C3%A9");
}

static void test_uri_encode__form_values__match_botocore(void **state) {
        /* Expected strings from botocore.utils.percent_encode (quote with
         * safe='-_.~'): '+', '*', ':', '=', '&', '%' and space are escaped. */
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "DescribeTags", "DescribeTags" },
                { "resource-id", "resource-id" },
                { "cdp:snapshot", "cdp%3Asnapshot" },
                { "a+b c*d", "a%2Bb%20c%2Ad" },
                { "k=v&x", "k%3Dv%26x" },
                { "100%", "100%25" },
                { "2024-02-29T23:59:58.000Z", "2024-02-29T23%3A59%3A58.000Z" },
        };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);

                assert_int_equal(uri_encode(&b, cases[i].in, strlen(cases[i].in), false), 0);
                assert_string_equal(b.data, cases[i].out);
        }
}

static void test_uri_encode__existing_content__appended(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        (void) state;

        assert_int_equal(strbuf_puts(&b, "Action="), 0);
        assert_int_equal(uri_encode(&b, "Describe Tags", 13, false), 0);
        assert_int_equal(uri_encode(&b, "", 0, false), 0);
        assert_string_equal(b.data, "Action=Describe%20Tags");
}

static void test_uri_encode__long_input__crosses_staging_buffer(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        char in[1000];
        (void) state;

        /* Alternate plain and escaped bytes so flushes land at odd offsets. */
        for (size_t i = 0; i < sizeof(in); i++)
                in[i] = i % 3 == 0 ? ' ' : 'x';
        assert_int_equal(uri_encode(&b, in, sizeof(in), false), 0);
        assert_int_equal(b.len, 334 * 3 + 666);
        for (size_t i = 0, o = 0; i < sizeof(in); i++) {
                if (i % 3 == 0) {
                        assert_memory_equal(b.data + o, "%20", 3);
                        o += 3;
                } else
                        assert_int_equal(b.data[o++], 'x');
        }
}

static void test_uri_encode__over_limit__e2big_and_unchanged(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(300);
        char in[200];
        (void) state;

        memset(in, ' ', sizeof(in));    /* 600 bytes encoded, more than one flush */
        assert_int_equal(strbuf_puts(&b, "keep"), 0);
        assert_int_equal(uri_encode(&b, in, sizeof(in), false), -E2BIG);
        assert_int_equal(b.len, 4);
        assert_string_equal(b.data, "keep");
}

static void test_uri_encode__null_input__einval(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        (void) state;

        assert_int_equal(uri_encode(&b, NULL, 1, false), -EINVAL);
        assert_int_equal(uri_encode(NULL, "a", 1, false), -EINVAL);
        assert_int_equal(uri_encode(&b, NULL, 0, false), 0);
        assert_int_equal(b.len, 0);
}

static void test_uri_decode__escapes__decoded(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        const char *in = "%E1%88%b4=a%2fb%20c";
        (void) state;

        assert_int_equal(uri_decode(&b, in, strlen(in)), 0);
        assert_string_equal(b.data, "\xe1\x88\xb4=a/b c");
}

static void test_uri_decode__plus__kept_literal(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        (void) state;

        assert_int_equal(uri_decode(&b, "a+b%2B", 6), 0);
        assert_string_equal(b.data, "a+b+");
}

static void test_uri_decode__nul_escape__byte_kept(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        (void) state;

        assert_int_equal(uri_decode(&b, "a%00b", 5), 0);
        assert_int_equal(b.len, 3);
        assert_memory_equal(b.data, "a\0b", 3);
}

static void test_uri_decode__empty__empty_string(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        (void) state;

        assert_int_equal(uri_decode(&b, "", 0), 0);
        assert_non_null(b.data);
        assert_string_equal(b.data, "");
}

static void test_uri_decode__malformed__einval_and_unchanged(void **state) {
        static const char *bad[] = { "%", "%4", "a%", "%G0", "%0G", "a%zzb", "%%41", "%-1", "%\xff\xff", "ok%2" };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);

                assert_int_equal(strbuf_puts(&b, "keep"), 0);
                assert_int_equal(uri_decode(&b, bad[i], strlen(bad[i])), -EINVAL);
                assert_int_equal(b.len, 4);
                assert_string_equal(b.data, "keep");
        }
}

static void test_uri_decode__over_limit__e2big_and_unchanged(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(8);
        (void) state;

        assert_int_equal(strbuf_puts(&b, "keep"), 0);
        assert_int_equal(uri_decode(&b, "abc%41%42", 9), -E2BIG);
        assert_int_equal(b.len, 4);
        assert_string_equal(b.data, "keep");
}

static void test_uri_roundtrip__all_bytes__identity(void **state) {
        _cleanup_strbuf_ StrBuf enc = STRBUF_INIT(0), dec = STRBUF_INIT(0);
        char all[256];
        (void) state;

        for (size_t i = 0; i < sizeof(all); i++)
                all[i] = (char) i;
        assert_int_equal(uri_encode(&enc, all, sizeof(all), false), 0);
        assert_int_equal(uri_decode(&dec, enc.data, enc.len), 0);
        assert_int_equal(dec.len, sizeof(all));
        assert_memory_equal(dec.data, all, sizeof(all));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_uri_encode__unreserved__unchanged),
                cmocka_unit_test(test_uri_encode__every_byte__matches_rule),
                cmocka_unit_test(test_uri_encode__slash__kept_only_for_paths),
                cmocka_unit_test(test_uri_encode__utf8__encoded_bytewise),
                cmocka_unit_test(test_uri_encode__form_values__match_botocore),
                cmocka_unit_test(test_uri_encode__existing_content__appended),
                cmocka_unit_test(test_uri_encode__long_input__crosses_staging_buffer),
                cmocka_unit_test(test_uri_encode__over_limit__e2big_and_unchanged),
                cmocka_unit_test(test_uri_encode__null_input__einval),
                cmocka_unit_test(test_uri_decode__escapes__decoded),
                cmocka_unit_test(test_uri_decode__plus__kept_literal),
                cmocka_unit_test(test_uri_decode__nul_escape__byte_kept),
                cmocka_unit_test(test_uri_decode__empty__empty_string),
                cmocka_unit_test(test_uri_decode__malformed__einval_and_unchanged),
                cmocka_unit_test(test_uri_decode__over_limit__e2big_and_unchanged),
                cmocka_unit_test(test_uri_roundtrip__all_bytes__identity),
        };

        return cmocka_run_group_tests_name("uri", tests, NULL, NULL);
}
