/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <time.h>

#include "cdp/macro.h"
#include "cdp/schedule.h"

/* Scheduled jobs on sd-event: one one-shot CLOCK_REALTIME timer per job,
 * re-armed after each run, so a clock step or a suspend is handled by the
 * kernel and nothing wakes up between slots. A job's timer fires at
 * slot + splay (stable per instance); the callback gets the slot itself, the
 * identity of the run (SPEC 5: cdp:slot). */

typedef struct sd_event sd_event;
typedef struct SchedJob SchedJob;

typedef void (*SchedFireFn)(SchedJob *job, time_t slot, void *userdata);

/* Ownership: caller frees *ret with sched_job_free(); tz is copied into a
 * loaded zone (NULL = UTC). The first slot is the one after now. */
int sched_job_new(sd_event *event, const Schedule *s, const char *tz, uint64_t splay_usec, SchedFireFn fire,
                  void *userdata, SchedJob **ret);
SchedJob *sched_job_free(SchedJob *j);
DEFINE_TRIVIAL_CLEANUP_FUNC(SchedJob *, sched_job_free);

/* The slot the timer waits for, and when it fires (slot + splay). */
time_t sched_job_next_slot(const SchedJob *j);
uint64_t sched_job_next_fire_usec(const SchedJob *j);

/* The most recent slot at or before now (catch-up decisions). */
int sched_job_prev_slot(const SchedJob *j, time_t now, time_t *ret);
