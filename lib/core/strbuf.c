/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cdp/strbuf.h"

static int strbuf_reserve(StrBuf *b, size_t extra) {
        /* Capped at SIZE_MAX / 2 whatever max says, so len + extra + 1 and the
         * doubling below can never wrap. */
        size_t limit = b->max && b->max < SIZE_MAX / 2 ? b->max : SIZE_MAX / 2;
        size_t need, cap;
        char *p;

        if (extra > limit || b->len > limit - extra)
                return -E2BIG;
        need = b->len + extra + 1;
        if (need <= b->cap)
                return 0;

        cap = b->cap ? b->cap : 64;
        while (cap < need)
                cap = cap > SIZE_MAX / 4 ? need : cap * 2;

        if (b->sensitive) {
                /* realloc() might leave a copy behind; move by hand. */
                p = malloc(cap);
                if (!p)
                        return -ENOMEM;
                if (b->data) {
                        memcpy(p, b->data, b->len + 1);
                        OPENSSL_cleanse(b->data, b->cap);
                        free(b->data);
                }
        } else {
                p = realloc(b->data, cap);
                if (!p)
                        return -ENOMEM;
        }
        b->data = p;
        b->cap = cap;
        return 0;
}

int strbuf_append(StrBuf *b, const void *p, size_t n) {
        int r;

        r = strbuf_reserve(b, n);
        if (r < 0)
                return r;
        if (n > 0)
                memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
}

int strbuf_puts(StrBuf *b, const char *s) {
        return strbuf_append(b, s, strlen(s));
}

int strbuf_putc(StrBuf *b, char c) {
        return strbuf_append(b, &c, 1);
}

int strbuf_vprintf(StrBuf *b, const char *fmt, va_list ap) {
        va_list aq;
        int n, r;

        va_copy(aq, ap);
        n = vsnprintf(NULL, 0, fmt, aq);
        va_end(aq);
        if (n < 0)
                return -EINVAL;
        r = strbuf_reserve(b, (size_t) n);
        if (r < 0)
                return r;
        (void) vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
        b->len += (size_t) n;
        return 0;
}

int strbuf_printf(StrBuf *b, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = strbuf_vprintf(b, fmt, ap);
        va_end(ap);
        return r;
}

void strbuf_reset(StrBuf *b) {
        if (b->data) {
                if (b->sensitive)
                        OPENSSL_cleanse(b->data, b->len);
                b->data[0] = '\0'; // NOLINT(clang-analyzer-core.NullDereference): reserve() allocated it
        }
        b->len = 0;
}

void strbuf_done(StrBuf *b) {
        if (b->data && b->sensitive)
                OPENSSL_cleanse(b->data, b->cap);
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}

char *strbuf_steal(StrBuf *b) {
        char *p;

        if (!b->data) {
                if (strbuf_reserve(b, 0) < 0)
                        return NULL;
                /* reserve() only allocates: terminate the fresh buffer. */
                b->data[0] = '\0'; // NOLINT(clang-analyzer-core.NullDereference): reserve() allocated it
        }
        p = b->data;
        b->data = NULL;
        b->len = b->cap = 0;
        return p;
}
