/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <systemd/sd-event.h>

#include "test-util.h"

static uint64_t fake_now(const Clock *c, clockid_t id) {
        const FakeClock *f = (const FakeClock *) c;
        return id == CLOCK_REALTIME ? f->real : f->mono;
}

FakeClock fake_clock_make(uint64_t mono, uint64_t real) {
        return (FakeClock) { .clock = { .now = fake_now }, .mono = mono, .real = real };
}

void run_until_quiet(sd_event *event) {
        for (unsigned i = 0; i < 10000; i++) {
                int r = sd_event_run(event, 30 * USEC_PER_MSEC);
                assert_true(r >= 0);
                if (r == 0)
                        return;
        }
        fail_msg("the event loop never went quiet");
}

bool fake_http_imds_v2_only(const FakeHttp *http) {
        for (size_t i = 0; i < fake_http_count(http); i++) {
                const FakeHttpRecord *rec = fake_http_get(http, i);
                const char *tok = fake_http_header(http, i, "X-aws-ec2-metadata-token");
                const char *ttl = fake_http_header(http, i, "X-aws-ec2-metadata-token-ttl-seconds");
                size_t n = strlen(rec->url);

                if (strcmp(rec->method, "PUT") == 0 &&
                    (n < 17 || strcmp(rec->url + n - 17, "/latest/api/token") != 0 || !ttl ||
                     strcmp(ttl, "21600") != 0 || tok)) {
                        fprintf(stderr, "bad token request %zu: PUT %s\n", i, rec->url);
                        return false;
                }
                if (strcmp(rec->method, "GET") == 0 && (!tok || !*tok)) {
                        fprintf(stderr, "request %zu: GET %s without a token\n", i, rec->url);
                        return false;
                }
        }
        return true;
}
