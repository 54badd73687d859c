/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/core/strbuf.c (StrBuf, include/cdp/strbuf.h): appends of
 * raw bytes, strings, characters and printf output; growth over many appends;
 * the size limit (error code, state afterwards, exactly at the limit); OOM;
 * reset/done/steal; and the `sensitive` wipe path.
 *
 * The wipe path is observed by defining OPENSSL_cleanse() in this program: the
 * strbuf object from the static libcdp-core.a binds to this definition at
 * link time, so every wipe strbuf asks for is recorded (pointer, length and
 * the bytes it held) before it is carried out with explicit_bzero(). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* explicit_bzero */
#endif
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "cdp/macro.h"
#include "cdp/strbuf.h"

/* ---- OPENSSL_cleanse recorder ------------------------------------------ */

#define WIPE_MAX 64
#define WIPE_SNAP 256

typedef struct WipeCall {
        const void *ptr;
        size_t len;
        char before[WIPE_SNAP];         /* the first bytes, as they were before the wipe */
        bool zero_after;                /* every byte was 0 after the wipe */
} WipeCall;

static struct {
        bool armed;
        size_t n;
        WipeCall calls[WIPE_MAX];
} wipes;

void OPENSSL_cleanse(void *ptr, size_t len) {
        WipeCall *w = NULL;

        if (wipes.armed && wipes.n < WIPE_MAX) {
                w = &wipes.calls[wipes.n++];
                w->ptr = ptr;
                w->len = len;
                memcpy(w->before, ptr, MIN(len, (size_t) WIPE_SNAP));
        }
        explicit_bzero(ptr, len);
        if (w) {
                const unsigned char *p = ptr;

                w->zero_after = true;
                for (size_t i = 0; i < len; i++)
                        if (p[i] != 0)
                                w->zero_after = false;
        }
}

static void wipes_arm(void) {
        memset(&wipes, 0, sizeof(wipes));
        wipes.armed = true;
}

static int wipes_teardown(void **state) {
        (void) state;
        wipes.armed = false;
        return 0;
}

/* The ENOMEM test asks for 2^62 bytes; ASan would abort instead of
 * returning NULL. Harmless when not built with ASan. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
        return "allocator_may_return_null=1";
}

/* ---- helpers ----------------------------------------------------------- */

static int vprintf_helper(StrBuf *b, const char *fmt, ...) _printf_(2, 3);
static int vprintf_helper(StrBuf *b, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = strbuf_vprintf(b, fmt, ap);
        va_end(ap);
        return r;
}

/* ---- init / append ------------------------------------------------------ */

static void test_strbuf_init__macro__empty_unallocated_with_limit(void **state) {
        StrBuf b = STRBUF_INIT(42);
        (void) state;

        assert_null(b.data);
        assert_int_equal(b.len, 0);
        assert_int_equal(b.cap, 0);
        assert_int_equal(b.max, 42);
        assert_false(b.sensitive);
}

static void test_strbuf_append__many_small__grows_and_keeps_every_byte(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        _cleanup_free_ unsigned char *expected = malloc(100000);
        size_t cap_changes = 0, last_cap = 0;
        (void) state;

        assert_non_null(expected);
        for (size_t i = 0; i < 100000; i++) {
                /* Every byte value, NUL included, several times over. */
                unsigned char c = (unsigned char) (i * 7 + i / 256);

                expected[i] = c;
                assert_int_equal(strbuf_append(&b, &c, 1), 0);
                assert_int_equal(b.len, i + 1);
                assert_true(b.cap > b.len);
                assert_int_equal(b.data[b.len], '\0');
                if (b.cap != last_cap) {
                        cap_changes++;
                        last_cap = b.cap;
                }
        }
        assert_memory_equal(b.data, expected, 100000);
        /* Geometric growth: a handful of reallocations, not one per append. */
        assert_true(cap_changes >= 2);
        assert_true(cap_changes <= 20);
}

static void test_strbuf_append__chunks_of_varied_size__concatenated(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        char chunk[700], expected[64 * 1024];
        size_t n = 0;
        (void) state;

        for (size_t size = 0; size < sizeof(chunk); size += 37) {
                for (size_t i = 0; i < size; i++)
                        chunk[i] = (char) ('a' + (size + i) % 26);
                assert_true(n + size <= sizeof(expected));
                memcpy(expected + n, chunk, size);
                n += size;
                assert_int_equal(strbuf_append(&b, chunk, size), 0);
        }
        assert_int_equal(b.len, n);
        assert_memory_equal(b.data, expected, n);
        assert_int_equal(strlen(b.data), n);
}

static void test_strbuf_append__zero_bytes_on_filled__unchanged(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        char *data;
        size_t cap;
        (void) state;

        assert_int_equal(strbuf_puts(&b, "abc"), 0);
        data = b.data;
        cap = b.cap;
        assert_int_equal(strbuf_append(&b, "zzz", 0), 0);
        assert_int_equal(strbuf_append(&b, NULL, 0), 0);
        assert_ptr_equal(b.data, data);
        assert_int_equal(b.cap, cap);
        assert_int_equal(b.len, 3);
        assert_string_equal(b.data, "abc");
}

static void test_strbuf_append__embedded_nul_bytes__kept_and_counted(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        static const char zeros[5];
        (void) state;

        assert_int_equal(strbuf_append(&b, zeros, sizeof(zeros)), 0);
        assert_int_equal(b.len, 5);
        assert_memory_equal(b.data, zeros, 5);
        assert_int_equal(strbuf_putc(&b, '\0'), 0);
        assert_int_equal(strbuf_putc(&b, 'x'), 0);
        assert_int_equal(b.len, 7);
        assert_int_equal(b.data[5], '\0');
        assert_int_equal(b.data[6], 'x');
        assert_int_equal(b.data[7], '\0');
}

/* ---- the limit ---------------------------------------------------------- */

static void test_strbuf_append__limit_in_one_call__exact_accepted_one_more_refused(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(16), c = STRBUF_INIT(16);
        char *data;
        size_t cap;
        (void) state;

        /* 17 bytes into an empty buffer with max 16: refused, nothing allocated. */
        assert_int_equal(strbuf_append(&c, "0123456789abcdefg", 17), -E2BIG);
        assert_null(c.data);
        assert_int_equal(c.len, 0);
        assert_int_equal(c.cap, 0);

        /* The limit counts content bytes; the terminator comes on top. */
        assert_int_equal(strbuf_append(&b, "0123456789abcdef", 16), 0);
        assert_int_equal(b.len, 16);
        assert_true(b.cap >= 17);
        assert_string_equal(b.data, "0123456789abcdef");
        data = b.data;
        cap = b.cap;

        assert_int_equal(strbuf_putc(&b, 'x'), -E2BIG);
        assert_int_equal(strbuf_puts(&b, "yz"), -E2BIG);
        assert_int_equal(strbuf_printf(&b, "%c", 'p'), -E2BIG);
        /* Refusals leave everything as it was. */
        assert_ptr_equal(b.data, data);
        assert_int_equal(b.cap, cap);
        assert_int_equal(b.len, 16);
        assert_string_equal(b.data, "0123456789abcdef");
        /* Zero bytes still fit at the limit. */
        assert_int_equal(strbuf_append(&b, "", 0), 0);
        assert_int_equal(strbuf_puts(&b, ""), 0);
        assert_int_equal(b.len, 16);
}

static void test_strbuf_putc__up_to_limit__limit_exact(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(100);
        size_t accepted = 0;
        int r = 0;
        (void) state;

        for (int i = 0; i < 1000; i++) {
                r = strbuf_putc(&b, (char) ('0' + i % 10));
                if (r < 0)
                        break;
                accepted++;
        }
        assert_int_equal(r, -E2BIG);
        assert_int_equal(accepted, 100);
        assert_int_equal(b.len, 100);
        assert_int_equal(strlen(b.data), 100);
        assert_int_equal(b.data[99], '9');
}

static void test_strbuf_append__after_e2big__buffer_still_usable(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(8);
        _cleanup_free_ char *p = NULL;
        (void) state;

        assert_int_equal(strbuf_puts(&b, "abcdef"), 0);
        assert_int_equal(strbuf_puts(&b, "ghi"), -E2BIG);
        assert_int_equal(strbuf_puts(&b, "gh"), 0);
        assert_string_equal(b.data, "abcdefgh");
        /* After a reset the limit applies to the new contents only. */
        strbuf_reset(&b);
        assert_int_equal(strbuf_puts(&b, "12345678"), 0);
        assert_string_equal(b.data, "12345678");
        assert_int_equal(strbuf_putc(&b, '9'), -E2BIG);
        p = strbuf_steal(&b);
        assert_string_equal(p, "12345678");
        /* ...and after a steal, too: max survives. */
        assert_int_equal(b.max, 8);
        assert_int_equal(strbuf_puts(&b, "123456789"), -E2BIG);
        assert_null(b.data);
}

static void test_strbuf_append__size_arithmetic_edges__e2big_no_wrap(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0), c = STRBUF_INIT(16), d = STRBUF_INIT(0);
        (void) state;

        /* Unlimited buffers stop at SIZE_MAX/2. */
        assert_int_equal(strbuf_append(&d, "x", SIZE_MAX), -E2BIG);
        assert_int_equal(strbuf_append(&d, "x", SIZE_MAX / 2 + 1), -E2BIG);
        assert_null(d.data);

        assert_int_equal(strbuf_puts(&b, "abc"), 0);
        assert_int_equal(strbuf_append(&b, "x", SIZE_MAX - 2), -E2BIG);
        assert_int_equal(strbuf_append(&b, "x", SIZE_MAX / 2 - 2), -E2BIG);
        assert_int_equal(b.len, 3);
        assert_string_equal(b.data, "abc");

        assert_int_equal(strbuf_puts(&c, "0123456789"), 0);
        assert_int_equal(strbuf_append(&c, "x", SIZE_MAX - 9), -E2BIG);
        assert_int_equal(strbuf_append(&c, "x", SIZE_MAX), -E2BIG);
        assert_int_equal(c.len, 10);
        assert_string_equal(c.data, "0123456789");

        /* A limit above SIZE_MAX/2 is held to SIZE_MAX/2 too: len + n + 1
         * would wrap to 0 (and copy into NULL) otherwise. */
        StrBuf e = STRBUF_INIT(SIZE_MAX);
        assert_int_equal(strbuf_append(&e, "x", SIZE_MAX), -E2BIG);
        assert_int_equal(strbuf_append(&e, "x", SIZE_MAX / 2 + 1), -E2BIG);
        assert_null(e.data);
        assert_int_equal(strbuf_puts(&e, "ok"), 0);
        assert_string_equal(e.data, "ok");
        strbuf_done(&e);
}

static void test_strbuf_append__allocation_fails__enomem_state_kept(void **state) {
        /* 2^62 bytes: within the unlimited cap (SIZE_MAX/2) but beyond any
         * address space, so the allocation fails. (Not 2^63: valgrind counts
         * a "negative" size as an error.) The source is never read on failure. */
        const size_t huge = SIZE_MAX / 4 + 1;
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0), s = { .sensitive = true };
        char *data;
        size_t cap;
        (void) state;

        if (SIZE_MAX < UINT64_MAX)
                skip();         /* 32-bit: a 1 GiB request might succeed */

        assert_int_equal(strbuf_append(&b, "x", huge - 1), -ENOMEM);
        assert_null(b.data);
        assert_int_equal(b.len, 0);
        assert_int_equal(b.cap, 0);

        assert_int_equal(strbuf_puts(&b, "abc"), 0);
        data = b.data;
        cap = b.cap;
        assert_int_equal(strbuf_append(&b, "x", huge - 4), -ENOMEM);
        assert_ptr_equal(b.data, data);
        assert_int_equal(b.cap, cap);
        assert_int_equal(b.len, 3);
        assert_string_equal(b.data, "abc");

        /* Same for the sensitive (malloc + copy) path. */
        assert_int_equal(strbuf_puts(&s, "key"), 0);
        data = s.data;
        cap = s.cap;
        assert_int_equal(strbuf_append(&s, "x", huge - 4), -ENOMEM);
        assert_ptr_equal(s.data, data);
        assert_int_equal(s.cap, cap);
        assert_string_equal(s.data, "key");
        assert_int_equal(strbuf_puts(&s, "!"), 0);
        assert_string_equal(s.data, "key!");
}

/* ---- puts / putc ----------------------------------------------------------- */

static void test_strbuf_puts__strings__appended_up_to_nul(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0), e = STRBUF_INIT(0);
        (void) state;

        assert_int_equal(strbuf_puts(&e, ""), 0);
        assert_non_null(e.data);
        assert_string_equal(e.data, "");
        assert_int_equal(e.len, 0);

        assert_int_equal(strbuf_puts(&b, "key"), 0);
        assert_int_equal(strbuf_puts(&b, "=val\0ignored"), 0);
        assert_int_equal(strbuf_puts(&b, ""), 0);
        assert_int_equal(b.len, 7);
        assert_string_equal(b.data, "key=val");
}

static void test_strbuf_putc__nul_and_high_bytes__appended(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        (void) state;

        assert_int_equal(strbuf_putc(&b, '\0'), 0);
        assert_int_equal(b.len, 1);
        assert_int_equal(b.data[0], '\0');
        assert_int_equal(b.data[1], '\0');
        assert_int_equal(strbuf_putc(&b, (char) 0xff), 0);
        assert_int_equal(strbuf_putc(&b, '\n'), 0);
        assert_int_equal(b.len, 3);
        assert_memory_equal(b.data, "\0\xff\n", 4);
}

/* ---- printf / vprintf ---------------------------------------------------- */

static void test_strbuf_printf__conversions__formatted_and_appended(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        (void) state;

        assert_int_equal(strbuf_puts(&b, ">"), 0);
        assert_int_equal(strbuf_printf(&b, "%d|%u|%zu|%x|%s|%%|%5s|%-3d|%.2f", -12, 7u, (size_t) 99, 255u,
                                       "str", "r", 4, 2.5), 0);
        assert_string_equal(b.data, ">-12|7|99|ff|str|%|    r|4  |2.50");
        assert_int_equal(b.len, strlen(b.data));
        assert_int_equal(strbuf_printf(&b, "%llu", (unsigned long long) UINT64_MAX), 0);
        assert_string_equal(b.data, ">-12|7|99|ff|str|%|    r|4  |2.5018446744073709551615");
}

static void test_strbuf_printf__empty_output__allocates_empty_string(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0), full = STRBUF_INIT(3);
        (void) state;

        assert_int_equal(strbuf_printf(&b, "%s", ""), 0);
        assert_non_null(b.data);
        assert_int_equal(b.len, 0);
        assert_string_equal(b.data, "");
        /* Empty output fits even into a full buffer. */
        assert_int_equal(strbuf_puts(&full, "abc"), 0);
        assert_int_equal(strbuf_printf(&full, "%s", ""), 0);
        assert_string_equal(full.data, "abc");
}

static void test_strbuf_printf__nul_from_conversion__counted_in_len(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        (void) state;

        assert_int_equal(strbuf_printf(&b, "a%cb", '\0'), 0);
        assert_int_equal(b.len, 3);
        assert_memory_equal(b.data, "a\0b", 4);
        assert_int_equal(strbuf_putc(&b, 'c'), 0);
        assert_memory_equal(b.data, "a\0bc", 5);
}

static void test_strbuf_printf__exactly_the_limit__accepted_then_e2big(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(12);
        (void) state;

        assert_int_equal(strbuf_printf(&b, "%06d", 42), 0);
        assert_int_equal(strbuf_printf(&b, "%6s", "x"), 0);
        assert_int_equal(b.len, 12);
        assert_string_equal(b.data, "000042     x");
        assert_int_equal(strbuf_printf(&b, "%d", 1), -E2BIG);
        assert_int_equal(b.len, 12);
        assert_string_equal(b.data, "000042     x");

        /* A single printf over the limit on an empty buffer allocates nothing. */
        strbuf_done(&b);
        assert_int_equal(strbuf_printf(&b, "%013d", 1), -E2BIG);
        assert_null(b.data);
        assert_int_equal(b.len, 0);
}

static void test_strbuf_printf__large_output__one_call_grows(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        (void) state;

        assert_int_equal(strbuf_puts(&b, "<"), 0);
        assert_int_equal(strbuf_printf(&b, "%*s>", 100000, "end"), 0);
        assert_int_equal(b.len, 100002);
        assert_int_equal(strlen(b.data), 100002);
        assert_int_equal(b.data[0], '<');
        assert_int_equal(b.data[1], ' ');
        assert_memory_equal(b.data + 99998, "end>", 5);
}

static void test_strbuf_printf__encoding_error__einval_unchanged(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0), e = STRBUF_INIT(0);
        static const wchar_t bad[] = { 0xdc00, 0 };     /* lone surrogate: EILSEQ in any locale */
        (void) state;

        assert_int_equal(strbuf_printf(&e, "x%ls", bad), -EINVAL);
        assert_null(e.data);
        assert_int_equal(e.len, 0);

        assert_int_equal(strbuf_puts(&b, "kept"), 0);
        assert_int_equal(strbuf_printf(&b, "%s%ls", "more", bad), -EINVAL);
        assert_int_equal(b.len, 4);
        assert_string_equal(b.data, "kept");
}

static void test_strbuf_vprintf__va_list__all_arguments_used_once(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        (void) state;

        /* vprintf walks the arguments twice (measure, then write); both passes
         * must see the same arguments. */
        assert_int_equal(vprintf_helper(&b, "%s-%d-%lld-%.1f-%c-%s", "one", 2, 3LL, 4.5, '5', "six"), 0);
        assert_string_equal(b.data, "one-2-3-4.5-5-six");
        assert_int_equal(b.len, 17);
        for (int i = 0; i < 50; i++)
                assert_int_equal(vprintf_helper(&b, "[%03d:%s]", i, "abcdefghij"), 0);
        assert_int_equal(b.len, 17 + 50 * 16);
        assert_memory_equal(b.data + 17, "[000:abcdefghij][001:abcdefghij]", 32);
        assert_string_equal(b.data + 17 + 49 * 16, "[049:abcdefghij]");
}

/* ---- reset / done / steal ------------------------------------------------ */

static void test_strbuf_reset__unallocated__stays_empty(void **state) {
        StrBuf b = STRBUF_INIT(5), s = { .sensitive = true };
        (void) state;

        strbuf_reset(&b);
        strbuf_reset(&s);
        assert_null(b.data);
        assert_null(s.data);
        assert_int_equal(b.len, 0);
        assert_int_equal(b.max, 5);
}

static void test_strbuf_done__unallocated_and_twice__safe(void **state) {
        StrBuf b = STRBUF_INIT(5);
        (void) state;

        strbuf_done(&b);
        assert_null(b.data);
        assert_int_equal(strbuf_puts(&b, "abcd"), 0);
        strbuf_done(&b);
        strbuf_done(&b);
        assert_null(b.data);
        assert_int_equal(b.len, 0);
        assert_int_equal(b.cap, 0);
        assert_int_equal(b.max, 5);
}

static void test_strbuf_steal__after_reset__empty_string_owned_by_caller(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        _cleanup_free_ char *p = NULL;
        char *data;
        (void) state;

        assert_int_equal(strbuf_puts(&b, "gone"), 0);
        data = b.data;
        strbuf_reset(&b);
        p = strbuf_steal(&b);
        assert_ptr_equal(p, data);
        assert_string_equal(p, "");
        assert_null(b.data);
        assert_int_equal(b.len, 0);
        assert_int_equal(b.cap, 0);
}

static void test_strbuf_steal__binary__bytes_and_terminator_handed_over(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        _cleanup_free_ char *p = NULL;
        (void) state;

        assert_int_equal(strbuf_append(&b, "a\0b\0", 4), 0);
        p = strbuf_steal(&b);
        assert_memory_equal(p, "a\0b\0\0", 5);
        assert_null(b.data);
        /* The StrBuf starts over with a fresh allocation. */
        assert_int_equal(strbuf_puts(&b, "new"), 0);
        assert_ptr_not_equal(b.data, p);
        assert_string_equal(b.data, "new");
        assert_memory_equal(p, "a\0b\0\0", 5);
}

/* ---- sensitive: what gets wiped ------------------------------------------- */

static void test_strbuf_sensitive__growth__old_block_wiped_before_release(void **state) {
        _cleanup_strbuf_ StrBuf b = { .sensitive = true };
        char secret[64];
        const char *old;
        size_t old_cap;
        (void) state;

        memset(secret, 'S', sizeof(secret) - 1);
        secret[sizeof(secret) - 1] = '\0';
        assert_int_equal(strbuf_puts(&b, secret), 0);
        old = b.data;
        old_cap = b.cap;
        assert_true(old_cap >= b.len + 1);

        wipes_arm();
        /* Appends until the block must move. */
        while (b.data == old && b.cap == old_cap)
                assert_int_equal(strbuf_putc(&b, 'T'), 0);
        wipes.armed = false;

        assert_ptr_not_equal(b.data, old);
        assert_int_equal(wipes.n, 1);
        assert_ptr_equal(wipes.calls[0].ptr, old);
        assert_int_equal(wipes.calls[0].len, old_cap);
        assert_true(wipes.calls[0].zero_after);
        /* It wiped the secret, and the new block holds it intact. */
        assert_memory_equal(wipes.calls[0].before, secret, sizeof(secret) - 1);
        assert_memory_equal(b.data, secret, sizeof(secret) - 1);
        assert_int_equal(b.data[b.len - 1], 'T');
}

static void test_strbuf_sensitive__repeated_growth__every_reallocation_wiped(void **state) {
        _cleanup_strbuf_ StrBuf b = { .sensitive = true };
        const char *blocks[WIPE_MAX];
        size_t caps[WIPE_MAX], moves = 0;
        (void) state;

        wipes_arm();
        for (int i = 0; i < 20000; i++) {
                const char *before = b.data;
                size_t cap = b.cap;

                assert_int_equal(strbuf_printf(&b, "%c", 'a' + i % 26), 0);
                if (before && b.data != before) {
                        assert_true(moves < WIPE_MAX);
                        blocks[moves] = before;
                        caps[moves] = cap;
                        moves++;
                }
        }
        wipes.armed = false;

        assert_true(moves >= 5);
        assert_int_equal(wipes.n, moves);
        for (size_t i = 0; i < moves; i++) {
                assert_ptr_equal(wipes.calls[i].ptr, blocks[i]);
                assert_int_equal(wipes.calls[i].len, caps[i]);
                assert_memory_equal(wipes.calls[i].before, "abcdefghij", 10);
        }
        assert_int_equal(b.len, 20000);
}

static void test_strbuf_sensitive__reset__contents_wiped_allocation_kept(void **state) {
        _cleanup_strbuf_ StrBuf b = { .sensitive = true };
        static const char zeros[40];
        char *data;
        (void) state;

        assert_int_equal(strbuf_printf(&b, "%s", "AKIAIOSFODNN7EXAMPLEwJalrXUtnFEMIK7MDENG"), 0);
        data = b.data;
        wipes_arm();
        strbuf_reset(&b);
        wipes.armed = false;

        assert_int_equal(wipes.n, 1);
        assert_ptr_equal(wipes.calls[0].ptr, data);
        assert_true(wipes.calls[0].len >= 40);
        assert_memory_equal(wipes.calls[0].before, "AKIAIOSFODNN7EXAMPLEwJalrXUtnFEMIK7MDENG", 40);
        assert_ptr_equal(b.data, data);
        assert_memory_equal(b.data, zeros, 40);
        assert_int_equal(b.len, 0);
}

static void test_strbuf_sensitive__done__whole_block_wiped(void **state) {
        StrBuf b = { .sensitive = true };
        char *data;
        size_t cap;
        (void) state;

        assert_int_equal(strbuf_puts(&b, "session-token-value"), 0);
        data = b.data;
        cap = b.cap;
        wipes_arm();
        strbuf_done(&b);
        wipes.armed = false;

        assert_int_equal(wipes.n, 1);
        assert_ptr_equal(wipes.calls[0].ptr, data);
        assert_int_equal(wipes.calls[0].len, cap);
        assert_true(wipes.calls[0].zero_after);
        assert_memory_equal(wipes.calls[0].before, "session-token-value", 20);
        assert_null(b.data);
        assert_true(b.sensitive);
}

static void test_strbuf_sensitive__steal__handed_over_unwiped(void **state) {
        StrBuf b = { .sensitive = true };
        _cleanup_free_ char *p = NULL;
        (void) state;

        assert_int_equal(strbuf_puts(&b, "secret"), 0);
        wipes_arm();
        p = strbuf_steal(&b);
        strbuf_done(&b);
        wipes.armed = false;

        assert_int_equal(wipes.n, 0);
        assert_string_equal(p, "secret");
        assert_null(b.data);
}

static void test_strbuf_not_sensitive__growth_reset_done__nothing_wiped(void **state) {
        StrBuf b = STRBUF_INIT(0);
        (void) state;

        wipes_arm();
        for (int i = 0; i < 5000; i++)
                assert_int_equal(strbuf_putc(&b, 'p'), 0);
        strbuf_reset(&b);
        assert_int_equal(strbuf_puts(&b, "plain"), 0);
        strbuf_done(&b);
        wipes.armed = false;

        assert_int_equal(wipes.n, 0);
        assert_null(b.data);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_strbuf_init__macro__empty_unallocated_with_limit),
                cmocka_unit_test(test_strbuf_append__many_small__grows_and_keeps_every_byte),
                cmocka_unit_test(test_strbuf_append__chunks_of_varied_size__concatenated),
                cmocka_unit_test(test_strbuf_append__zero_bytes_on_filled__unchanged),
                cmocka_unit_test(test_strbuf_append__embedded_nul_bytes__kept_and_counted),
                cmocka_unit_test(test_strbuf_append__limit_in_one_call__exact_accepted_one_more_refused),
                cmocka_unit_test(test_strbuf_putc__up_to_limit__limit_exact),
                cmocka_unit_test(test_strbuf_append__after_e2big__buffer_still_usable),
                cmocka_unit_test(test_strbuf_append__size_arithmetic_edges__e2big_no_wrap),
                cmocka_unit_test(test_strbuf_append__allocation_fails__enomem_state_kept),
                cmocka_unit_test(test_strbuf_puts__strings__appended_up_to_nul),
                cmocka_unit_test(test_strbuf_putc__nul_and_high_bytes__appended),
                cmocka_unit_test(test_strbuf_printf__conversions__formatted_and_appended),
                cmocka_unit_test(test_strbuf_printf__empty_output__allocates_empty_string),
                cmocka_unit_test(test_strbuf_printf__nul_from_conversion__counted_in_len),
                cmocka_unit_test(test_strbuf_printf__exactly_the_limit__accepted_then_e2big),
                cmocka_unit_test(test_strbuf_printf__large_output__one_call_grows),
                cmocka_unit_test(test_strbuf_printf__encoding_error__einval_unchanged),
                cmocka_unit_test(test_strbuf_vprintf__va_list__all_arguments_used_once),
                cmocka_unit_test(test_strbuf_reset__unallocated__stays_empty),
                cmocka_unit_test(test_strbuf_done__unallocated_and_twice__safe),
                cmocka_unit_test(test_strbuf_steal__after_reset__empty_string_owned_by_caller),
                cmocka_unit_test(test_strbuf_steal__binary__bytes_and_terminator_handed_over),
                cmocka_unit_test_teardown(test_strbuf_sensitive__growth__old_block_wiped_before_release,
                                          wipes_teardown),
                cmocka_unit_test_teardown(test_strbuf_sensitive__repeated_growth__every_reallocation_wiped,
                                          wipes_teardown),
                cmocka_unit_test_teardown(test_strbuf_sensitive__reset__contents_wiped_allocation_kept,
                                          wipes_teardown),
                cmocka_unit_test_teardown(test_strbuf_sensitive__done__whole_block_wiped, wipes_teardown),
                cmocka_unit_test_teardown(test_strbuf_sensitive__steal__handed_over_unwiped, wipes_teardown),
                cmocka_unit_test_teardown(test_strbuf_not_sensitive__growth_reset_done__nothing_wiped,
                                          wipes_teardown),
        };

        setvbuf(stdout, NULL, _IONBF, 0);
        setvbuf(stderr, NULL, _IONBF, 0);
        return cmocka_run_group_tests_name("strbuf", tests, NULL, NULL);
}
