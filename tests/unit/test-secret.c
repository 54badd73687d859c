/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/core/secret.c (Secret) and lib/core/strbuf.c (StrBuf). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* asprintf, strndup, setenv in the harness */
#endif
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cdp/secret.h"
#include "cdp/strbuf.h"

/* ---- Secret ---------------------------------------------------------- */

static void test_secret_new__bytes__copied_and_nul_terminated(void **state) {
        _cleanup_secret_ Secret *s = NULL;
        char in[] = { 'a', 'b', '\0', 'c', 'd' };
        (void) state;

        assert_int_equal(secret_new(&s, in, sizeof(in)), 0);
        assert_non_null(s);
        assert_int_equal(secret_len(s), sizeof(in));
        assert_memory_equal(secret_data(s), in, sizeof(in));
        assert_int_equal(secret_data(s)[sizeof(in)], '\0');
        /* A copy, not the caller's buffer: changing the input leaves it alone. */
        assert_ptr_not_equal(secret_data(s), in);
        in[0] = 'X';
        assert_int_equal(secret_data(s)[0], 'a');
}

static void test_secret_new__empty__gives_empty_string(void **state) {
        _cleanup_secret_ Secret *s = NULL, *t = NULL;
        (void) state;

        assert_int_equal(secret_new(&s, NULL, 0), 0);
        assert_int_equal(secret_len(s), 0);
        assert_string_equal(secret_data(s), "");
        assert_int_equal(secret_new(&t, "ignored", 0), 0);
        assert_string_equal(secret_data(t), "");
}

static void test_secret_new__bad_arguments__einval_and_untouched(void **state) {
        Secret *s = (Secret *) 0x1;
        (void) state;

        assert_int_equal(secret_new(NULL, "x", 1), -EINVAL);
        assert_int_equal(secret_new(&s, NULL, 3), -EINVAL);
        assert_ptr_equal(s, (Secret *) 0x1);
}

static void test_secret_new__over_64k__e2big(void **state) {
        _cleanup_free_ char *big = calloc(1, 64 * 1024 + 1);
        _cleanup_secret_ Secret *ok = NULL;
        Secret *s = (Secret *) 0x1;
        (void) state;

        assert_non_null(big);
        memset(big, 'k', 64 * 1024 + 1);
        assert_int_equal(secret_new(&s, big, 64 * 1024 + 1), -E2BIG);
        assert_ptr_equal(s, (Secret *) 0x1);
        /* Exactly the limit is accepted. */
        assert_int_equal(secret_new(&ok, big, 64 * 1024), 0);
        assert_int_equal(secret_len(ok), 64 * 1024);
        assert_int_equal(secret_data(ok)[64 * 1024], '\0');
}

/* Looks the mapping holding addr up in /proc/self/smaps and reports whether
 * its VmFlags include "dd" (MADV_DONTDUMP). -1 when it cannot tell. */
static int mapping_has_dontdump(const void *addr) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/smaps", "re");
        char line[512];
        bool inside = false;
        uintptr_t a = (uintptr_t) addr;

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f)) {
                uintptr_t lo, hi;

                if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2 && strchr(line, ' ') &&
                    line[strspn(line, "0123456789abcdef")] == '-') {
                        inside = a >= lo && a < hi;
                        continue;
                }
                if (inside && strncmp(line, "VmFlags:", 8) == 0)
                        return strstr(line, " dd") != NULL;
        }
        return -1;
}

static void test_secret_new__memory__page_aligned_and_excluded_from_core_dumps(void **state) {
        _cleanup_secret_ Secret *s = NULL;
        long page = sysconf(_SC_PAGESIZE);
        int dd;
        (void) state;

        assert_int_equal(secret_new(&s, "wJalrXUtnFEMI/K7MDENG", 21), 0);
        assert_int_equal((uintptr_t) secret_data(s) % (uintptr_t) page, 0);
        dd = mapping_has_dontdump(secret_data(s));
        if (dd < 0)
                skip();
        assert_int_equal(dd, 1);
}

static void test_secret_equal__contents__compared(void **state) {
        _cleanup_secret_ Secret *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;
        (void) state;

        assert_int_equal(secret_new(&a, "token-1", 7), 0);
        assert_int_equal(secret_new(&b, "token-1", 7), 0);
        assert_int_equal(secret_new(&c, "token-2", 7), 0);
        assert_int_equal(secret_new(&d, "token-1x", 8), 0);
        assert_int_equal(secret_new(&e, "token-", 6), 0);
        assert_true(secret_equal(a, b));
        assert_true(secret_equal(a, a));
        assert_false(secret_equal(a, c));
        assert_false(secret_equal(a, d));
        assert_false(secret_equal(a, e));
        assert_false(secret_equal(a, NULL));
        assert_false(secret_equal(NULL, a));
        assert_true(secret_equal(NULL, NULL));
}

static void test_secret_free__null__safe_and_returns_null(void **state) {
        Secret *s = NULL;
        (void) state;

        assert_null(secret_free(NULL));
        assert_int_equal(secret_new(&s, "x", 1), 0);
        assert_null(secret_free(s));
        assert_null(secret_data(NULL));
        assert_int_equal(secret_len(NULL), 0);
        erase_and_free(NULL, 10);
        erase_and_free(strdup("plain copy of a secret"), 22);
}

/* ---- StrBuf ---------------------------------------------------------- */

static void test_strbuf_append__bytes__copied_and_nul_terminated(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        (void) state;

        assert_int_equal(strbuf_append(&b, "abc", 3), 0);
        assert_int_equal(strbuf_append(&b, "de\0f", 4), 0);
        assert_int_equal(b.len, 7);
        assert_memory_equal(b.data, "abcde\0f", 7);
        assert_int_equal(b.data[7], '\0');
        assert_true(b.cap >= 8);
        assert_int_equal(strbuf_puts(&b, "gh"), 0);
        assert_int_equal(strbuf_putc(&b, 'i'), 0);
        assert_int_equal(b.len, 10);
        assert_memory_equal(b.data, "abcde\0fghi", 11);
}

static void test_strbuf_append__zero_bytes_on_empty__allocates_empty_string(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        (void) state;

        assert_int_equal(strbuf_append(&b, NULL, 0), 0);
        assert_non_null(b.data);
        assert_string_equal(b.data, "");
        assert_int_equal(b.len, 0);
}

static void test_strbuf_append__exactly_the_limit__accepted(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(8);
        (void) state;

        assert_int_equal(strbuf_append(&b, "12345", 5), 0);
        assert_int_equal(strbuf_append(&b, "678", 3), 0);
        assert_int_equal(b.len, 8);
        assert_string_equal(b.data, "12345678");
}

static void test_strbuf_append__over_the_limit__e2big_nothing_appended(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(8);
        (void) state;

        assert_int_equal(strbuf_puts(&b, "hello"), 0);
        assert_int_equal(strbuf_append(&b, "1234", 4), -E2BIG);
        assert_int_equal(b.len, 5);
        assert_string_equal(b.data, "hello");
        assert_int_equal(strbuf_puts(&b, "wide"), -E2BIG);
        assert_string_equal(b.data, "hello");
        assert_int_equal(strbuf_puts(&b, "abc"), 0);
        assert_int_equal(strbuf_putc(&b, '!'), -E2BIG);
        assert_int_equal(b.len, 8);
        assert_string_equal(b.data, "helloabc");
}

static void test_strbuf_append__huge_length__e2big_without_overflow(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0), c = STRBUF_INIT(16);
        (void) state;

        assert_int_equal(strbuf_puts(&b, "x"), 0);
        assert_int_equal(strbuf_append(&b, "y", SIZE_MAX), -E2BIG);
        assert_int_equal(strbuf_append(&b, "y", SIZE_MAX / 2), -E2BIG);
        assert_int_equal(strbuf_append(&c, "y", SIZE_MAX), -E2BIG);
        assert_string_equal(b.data, "x");
        assert_int_equal(b.len, 1);
}

static void test_strbuf_printf__long_output__grows_and_appends(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        char expected[2100];
        size_t n = 0;
        (void) state;

        assert_int_equal(strbuf_printf(&b, "%s=%d;", "a", 1), 0);
        assert_string_equal(b.data, "a=1;");
        n = (size_t) snprintf(expected, sizeof(expected), "a=1;");
        /* Several rounds, each well past the previous capacity. */
        for (int i = 0; i < 20; i++) {
                assert_int_equal(strbuf_printf(&b, "%0100d", i), 0);
                n += (size_t) snprintf(expected + n, sizeof(expected) - n, "%0100d", i);
        }
        assert_int_equal(b.len, n);
        assert_int_equal(strlen(b.data), n);
        assert_string_equal(b.data, expected);
        assert_true(b.cap > n);
}

static void test_strbuf_printf__over_the_limit__e2big_nothing_appended(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(10);
        (void) state;

        assert_int_equal(strbuf_printf(&b, "%d", 12345), 0);
        assert_int_equal(strbuf_printf(&b, "%s", "678901"), -E2BIG);
        assert_int_equal(b.len, 5);
        assert_string_equal(b.data, "12345");
        assert_int_equal(strbuf_printf(&b, "%s", "67890"), 0);
        assert_string_equal(b.data, "1234567890");
}

static void test_strbuf_steal__filled__hands_over_and_empties(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        _cleanup_free_ char *p = NULL, *q = NULL;
        (void) state;

        assert_int_equal(strbuf_puts(&b, "payload"), 0);
        p = strbuf_steal(&b);
        assert_non_null(p);
        assert_string_equal(p, "payload");
        assert_null(b.data);
        assert_int_equal(b.len, 0);
        assert_int_equal(b.cap, 0);
        /* The buffer can be reused after a steal. */
        assert_int_equal(strbuf_puts(&b, "again"), 0);
        assert_string_equal(b.data, "again");
        assert_ptr_not_equal(b.data, p);
        q = strbuf_steal(&b);
        assert_string_equal(q, "again");
}

static void test_strbuf_steal__empty__gives_allocated_empty_string(void **state) {
        StrBuf b = STRBUF_INIT(0);
        _cleanup_free_ char *p = NULL;
        (void) state;

        p = strbuf_steal(&b);
        assert_non_null(p);
        assert_string_equal(p, "");
        assert_null(b.data);
}

static void test_strbuf_reset__filled__keeps_allocation_and_empties(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        char *before;
        size_t cap;
        (void) state;

        assert_int_equal(strbuf_puts(&b, "some text"), 0);
        before = b.data;
        cap = b.cap;
        strbuf_reset(&b);
        assert_ptr_equal(b.data, before);
        assert_int_equal(b.cap, cap);
        assert_int_equal(b.len, 0);
        assert_string_equal(b.data, "");
        assert_int_equal(strbuf_puts(&b, "x"), 0);
        assert_string_equal(b.data, "x");
}

static void test_strbuf_reset__sensitive__wipes_old_contents(void **state) {
        _cleanup_strbuf_ StrBuf b = { .sensitive = true };
        static const char zeros[16];
        (void) state;

        assert_int_equal(strbuf_puts(&b, "SECRETSECRET1234"), 0);
        strbuf_reset(&b);
        assert_int_equal(b.len, 0);
        assert_memory_equal(b.data, zeros, 16);
}

static void test_strbuf_append__sensitive_growth__contents_kept(void **state) {
        _cleanup_strbuf_ StrBuf b = { .sensitive = true, .max = 4096 };
        char expected[1001];
        (void) state;

        for (int i = 0; i < 1000; i++) {
                expected[i] = (char) ('A' + i % 26);
                assert_int_equal(strbuf_putc(&b, expected[i]), 0);
        }
        expected[1000] = '\0';
        assert_int_equal(b.len, 1000);
        assert_string_equal(b.data, expected);
        assert_true(b.sensitive);
        assert_int_equal(strbuf_printf(&b, "%s", "tail"), 0);
        assert_int_equal(b.len, 1004);
        assert_string_equal(b.data + 1000, "tail");
}

static void test_strbuf_done__filled__releases_and_reusable(void **state) {
        StrBuf b = { .sensitive = true, .max = 100 };
        (void) state;

        assert_int_equal(strbuf_puts(&b, "token"), 0);
        strbuf_done(&b);
        assert_null(b.data);
        assert_int_equal(b.len, 0);
        assert_int_equal(b.cap, 0);
        /* Limit and sensitivity survive, so the buffer keeps its contract. */
        assert_int_equal(b.max, 100);
        assert_true(b.sensitive);
        assert_int_equal(strbuf_puts(&b, "again"), 0);
        assert_string_equal(b.data, "again");
        strbuf_done(&b);
        strbuf_done(&b);
        assert_null(b.data);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_secret_new__bytes__copied_and_nul_terminated),
                cmocka_unit_test(test_secret_new__empty__gives_empty_string),
                cmocka_unit_test(test_secret_new__bad_arguments__einval_and_untouched),
                cmocka_unit_test(test_secret_new__over_64k__e2big),
                cmocka_unit_test(test_secret_new__memory__page_aligned_and_excluded_from_core_dumps),
                cmocka_unit_test(test_secret_equal__contents__compared),
                cmocka_unit_test(test_secret_free__null__safe_and_returns_null),
                cmocka_unit_test(test_strbuf_append__bytes__copied_and_nul_terminated),
                cmocka_unit_test(test_strbuf_append__zero_bytes_on_empty__allocates_empty_string),
                cmocka_unit_test(test_strbuf_append__exactly_the_limit__accepted),
                cmocka_unit_test(test_strbuf_append__over_the_limit__e2big_nothing_appended),
                cmocka_unit_test(test_strbuf_append__huge_length__e2big_without_overflow),
                cmocka_unit_test(test_strbuf_printf__long_output__grows_and_appends),
                cmocka_unit_test(test_strbuf_printf__over_the_limit__e2big_nothing_appended),
                cmocka_unit_test(test_strbuf_steal__filled__hands_over_and_empties),
                cmocka_unit_test(test_strbuf_steal__empty__gives_allocated_empty_string),
                cmocka_unit_test(test_strbuf_reset__filled__keeps_allocation_and_empties),
                cmocka_unit_test(test_strbuf_reset__sensitive__wipes_old_contents),
                cmocka_unit_test(test_strbuf_append__sensitive_growth__contents_kept),
                cmocka_unit_test(test_strbuf_done__filled__releases_and_reusable),
        };

        setvbuf(stdout, NULL, _IONBF, 0);
        setvbuf(stderr, NULL, _IONBF, 0);
        return cmocka_run_group_tests_name("secret", tests, NULL, NULL);
}
