/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "cdp/macro.h"

/* A growable byte buffer with a hard size limit. The contents are always
 * NUL-terminated. With `sensitive` set, every reallocation and the final free
 * wipe the old memory first (for buffers that carry secrets). */
typedef struct StrBuf {
        char *data;
        size_t len;
        size_t cap;
        size_t max;     /* 0 (or anything above SIZE_MAX/2) = SIZE_MAX/2 */
        bool sensitive;
} StrBuf;

#define STRBUF_INIT(limit) ((StrBuf) { .max = (limit) })

/* Append bytes; -E2BIG when the limit would be exceeded (nothing appended).
 * p must not point into b itself: growing frees the old block first. */
int strbuf_append(StrBuf *b, const void *p, size_t n);
int strbuf_puts(StrBuf *b, const char *s);
int strbuf_putc(StrBuf *b, char c);
int strbuf_printf(StrBuf *b, const char *fmt, ...) _printf_(2, 3);
int strbuf_vprintf(StrBuf *b, const char *fmt, va_list ap) _printf_(2, 0);

/* Drop the contents, keep the allocation. */
void strbuf_reset(StrBuf *b);

/* Release memory (wiping it if sensitive). The StrBuf may be reused. */
void strbuf_done(StrBuf *b);

/* Hand the buffer over: returns data (never NULL, "" for empty; NULL only on
 * OOM) and leaves b empty. Ownership: the caller frees the result (and, for a
 * sensitive buffer, wipes it first: nothing is wiped here). */
char *strbuf_steal(StrBuf *b);

static inline void strbuf_donep(StrBuf *b) {
        strbuf_done(b);
}
#define _cleanup_strbuf_ _cleanup_(strbuf_donep)
