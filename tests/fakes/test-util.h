/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "cdp/clock.h"
#include "fake-http.h"

/* Shared pieces of the event-loop unit tests. */

/* A Clock the test moves by hand. */
typedef struct FakeClock {
        Clock clock;
        uint64_t mono;          /* CLOCK_MONOTONIC and CLOCK_BOOTTIME, usec */
        uint64_t real;          /* CLOCK_REALTIME, usec */
} FakeClock;

/* A FakeClock at the given times; pass &fc.clock where a Clock is wanted. */
FakeClock fake_clock_make(uint64_t mono, uint64_t real);

/* Runs the loop until nothing has happened for 30 ms; fails the test if it
 * never goes quiet. */
void run_until_quiet(sd_event *event);

/* SPEC 3 over every recorded request: each PUT is the IMDS token call with
 * TTL 21600 and no token, each GET carries a token (IMDSv1 never used).
 * Prints the first offending request. */
bool fake_http_imds_v2_only(const FakeHttp *http);
