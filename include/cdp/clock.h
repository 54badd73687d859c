/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <time.h>

/* A clock seam: modules that decide by time (token TTLs, credential refresh,
 * retry deadlines) read it through a Clock so tests can move time by hand. */
typedef struct Clock {
        uint64_t (*now)(const struct Clock *c, clockid_t id); /* usec */
        void *userdata;
} Clock;

/* The process-wide real clock (clock_gettime). Never NULL, never freed. */
const Clock *clock_real(void);

static inline uint64_t clock_now(const Clock *c, clockid_t id) {
        return c->now(c, id);
}
