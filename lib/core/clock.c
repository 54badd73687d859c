/* SPDX-License-Identifier: MIT */
#include "cdp/clock.h"
#include "cdp/macro.h"

static uint64_t real_now(const Clock *c, clockid_t id) {
        struct timespec ts;

        (void) c;
        if (clock_gettime(id, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

static const Clock real_clock = { .now = real_now };

const Clock *clock_real(void) {
        return &real_clock;
}
