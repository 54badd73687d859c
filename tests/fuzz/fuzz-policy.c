/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the tag policy grammar, schedules and the TZif reader.
 *
 * Input: when it starts with "TZif", the bytes are a zone file for
 * tz_parse_tzif(); otherwise they are tag lines "key=value" separated by
 * newlines (no '=' means an empty value), fed to policy_parse() with the
 * prefix "cdp:". Besides memory errors, it traps on broken invariants: the
 * JSON must parse back and be UTF-8; schedule_next() must be strictly after,
 * schedule_prev() at or before, and the two must agree.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
 *       lib/core/strbuf.c lib/core/parse-util.c lib/core/schedule.c lib/core/policy.c \
 *       tests/fuzz/fuzz-policy.c -o fuzz-policy $(pkg-config --cflags --libs json-c libcrypto)
 *   ./fuzz-policy -max_total_time=60 tests/fuzz/corpus/policy
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cdp/parse-util.h"
#include "cdp/policy.h"
#include "cdp/schedule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                \
        do {                                    \
                if (!(x))                       \
                        __builtin_trap();       \
        } while (0)

/* Instants around DST changes and year ends, plus the far future. */
static const time_t probes[] = {
        0, 1772953199, 1772953200, 1793511000, 1793514600, 1798761599, 1795302000, 2524608000, 4102444800,
};

static void check_schedule(const Schedule *s, const TimeZone *tz) {
        for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
                time_t n, p, q;

                if (schedule_next_in(s, tz, probes[i], &n) == 0) {
                        CHECK(n > probes[i]);
                        CHECK(schedule_prev_in(s, tz, n, &q) == 0 && q == n);
                        if (schedule_prev_in(s, tz, n - 1, &q) == 0)
                                CHECK(q <= probes[i]);
                }
                if (schedule_prev_in(s, tz, probes[i], &p) == 0) {
                        CHECK(p <= probes[i]);
                        CHECK(schedule_next_in(s, tz, p, &q) == 0 && q > probes[i]);
                }
        }
}

static void fuzz_tzif(const uint8_t *data, size_t size) {
        TimeZone *tz = NULL;
        Schedule s;

        if (tz_parse_tzif(data, size, &tz) < 0)
                return;
        for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
                int32_t off = tz_utc_offset(tz, probes[i]);

                CHECK(off > -26 * 3600 && off < 26 * 3600);
        }
        if (schedule_parse("30 2 * * *", &s, NULL) == 0)
                check_schedule(&s, tz);
        if (schedule_parse("*/20 * * * *", &s, NULL) == 0)
                check_schedule(&s, tz);
        tz_free(tz);
}

static void fuzz_tags(const uint8_t *data, size_t size) {
        PolicyTag tags[64];
        size_t n = 0;
        char *buf, *line;
        Policy *p = NULL;
        struct json_object *j = NULL, *back;
        const char *text;

        buf = malloc(size + 1);
        if (!buf)
                return;
        memcpy(buf, data, size);
        buf[size] = '\0';

        for (line = buf; line && n < sizeof(tags) / sizeof(tags[0]);) {
                char *nl = strchr(line, '\n'), *eq;

                if (nl)
                        *nl = '\0';
                eq = strchr(line, '=');
                if (eq) {
                        *eq = '\0';
                        tags[n++] = (PolicyTag) { .key = line, .value = eq + 1 };
                } else
                        tags[n++] = (PolicyTag) { .key = line, .value = "" };
                line = nl ? nl + 1 : NULL;
        }

        CHECK(policy_parse(tags, n, "cdp:", &p) == 0);
        CHECK(policy_to_json(p, &j) == 0);
        text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
        CHECK(text && valid_utf8(text));
        back = json_tokener_parse(text);
        CHECK(back);
        json_object_put(back);
        json_object_put(j);

        for (size_t i = 0; i < p->n_errors; i++)
                CHECK(p->errors[i].reason && valid_utf8(p->errors[i].reason) &&
                      valid_utf8(p->errors[i].tag) && valid_utf8(p->errors[i].value));

        if (p->snapshot.enabled) {
                TimeZone *tz = NULL;

                CHECK(p->snapshot.keep >= 1 && p->snapshot.keep <= 1000);
                CHECK(tz_load(p->snapshot.tz, &tz) == 0);
                check_schedule(&p->snapshot.schedule, tz);
                tz_free(tz);
        }
        if (p->bastion.enabled) {
                time_t t;

                CHECK(bastion_policy_expiry(&p->bastion, 1795302000, &t) == 0);
        } else
                CHECK(p->bastion.invalid || (!p->bastion.has_ttl && !p->bastion.has_expires_at));

        policy_free(p);
        free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 64 * 1024)
                return 0;
        if (size >= 4 && memcmp(data, "TZif", 4) == 0)
                fuzz_tzif(data, size);
        else
                fuzz_tags(data, size);
        return 0;
}
