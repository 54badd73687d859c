/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "cdp/strbuf.h"
#include "test-data.h"

char *test_strf(const char *fmt, ...) {
        StrBuf b = STRBUF_INIT(0);
        va_list ap;

        va_start(ap, fmt);
        assert_int_equal(strbuf_vprintf(&b, fmt, ap), 0);
        va_end(ap);
        return strbuf_steal(&b);
}

char *test_fixture_read(const char *name, size_t *ret_len) {
        const char *dir = getenv("CDP_TEST_DATA") ?: "tests/data";
        _cleanup_free_ char *path = test_strf("%s/ec2/%s", dir, name);
        _cleanup_fclose_ FILE *f = NULL;
        StrBuf b = STRBUF_INIT(0);
        char chunk[4096];
        size_t n;

        f = fopen(path, "re");
        if (!f)
                fail_msg("cannot open fixture %s", path);
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                assert_int_equal(strbuf_append(&b, chunk, n), 0);
        *ret_len = b.len;
        return strbuf_steal(&b);
}

time_t test_utc(int y, int mo, int d, int h, int mi, int s) {
        struct tm tm = {
                .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                .tm_hour = h, .tm_min = mi, .tm_sec = s,
        };
        return timegm(&tm);
}
