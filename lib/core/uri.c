/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cdp/uri.h"

static const char hex_upper[16] = "0123456789ABCDEF";

/* Bit 0: unreserved. Built once by hand rather than with ctype, which is
 * locale-dependent and would accept non-ASCII letters in some locales. */
static const uint8_t unreserved_table[256] = {
        ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
        ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
        ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
        ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
        ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
        ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
        ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
        ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
        ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
        ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
        ['-'] = 1, ['_'] = 1, ['.'] = 1, ['~'] = 1,
};

bool uri_is_unreserved(unsigned char c) {
        return unreserved_table[c] != 0;
}

/* Undo the appends of a failed call so callers see no partial output. */
static void strbuf_truncate(StrBuf *b, size_t len) {
        if (b->data && b->len > len) {
                b->len = len;
                b->data[len] = '\0';
        }
}

int uri_encode(StrBuf *out, const char *s, size_t len, bool keep_slash) {
        /* Staged through a stack buffer: one strbuf_append per 256 bytes
         * instead of one per escape keeps the hot signing path cheap. */
        char buf[256];
        size_t n = 0, old_len;
        int r;

        if (!out || (!s && len > 0))
                return -EINVAL;

        old_len = out->len;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];

                if (n > sizeof(buf) - 3) {
                        r = strbuf_append(out, buf, n);
                        if (r < 0)
                                goto fail;
                        n = 0;
                }
                if (unreserved_table[c] || (c == '/' && keep_slash))
                        buf[n++] = (char) c;
                else {
                        buf[n++] = '%';
                        buf[n++] = hex_upper[c >> 4];
                        buf[n++] = hex_upper[c & 0xf];
                }
        }
        r = strbuf_append(out, buf, n);
        if (r < 0)
                goto fail;
        return 0;

fail:
        strbuf_truncate(out, old_len);
        return r;
}

static int hex_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

int uri_decode(StrBuf *out, const char *s, size_t len) {
        size_t i = 0, old_len;
        int r;

        if (!out || (!s && len > 0))
                return -EINVAL;

        /* Validate first so a malformed escape leaves out untouched without
         * having to undo anything. */
        for (size_t j = 0; j < len; j++)
                if (s[j] == '%') {
                        if (len - j < 3 || hex_value(s[j + 1]) < 0 || hex_value(s[j + 2]) < 0)
                                return -EINVAL;
                        j += 2;
                }

        old_len = out->len;
        while (i < len) {
                const char *pct = memchr(s + i, '%', len - i);
                size_t run = pct ? (size_t) (pct - (s + i)) : len - i;
                char c;

                r = strbuf_append(out, s + i, run);
                if (r < 0)
                        goto fail;
                i += run;
                if (i >= len)
                        break;

                /* Both digits were checked above. */
                c = (char) ((unsigned) hex_value(s[i + 1]) << 4 | (unsigned) hex_value(s[i + 2]));
                r = strbuf_append(out, &c, 1);
                if (r < 0)
                        goto fail;
                i += 3;
        }
        /* Make sure out->data exists (and is "" terminated) even when
         * nothing was appended. */
        r = strbuf_append(out, "", 0);
        if (r < 0)
                goto fail;
        return 0;

fail:
        strbuf_truncate(out, old_len);
        return r;
}
