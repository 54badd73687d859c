/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <time.h>

#include "cdp/freeze.h"
#include "pattern.h"

/* The Snapshot pattern (SPEC 4, 5): scheduled EBS / AMI backups with
 * generations, cross-region copies and safe pruning. See
 * daemon/pattern-snapshot.c for the run's phases. */

extern const PatternOps snapshot_pattern_ops;

/* How long the pattern waits between its own steps. The defaults suit AWS;
 * tests shorten them. */
typedef struct SnapshotTimings {
        uint64_t poll_first_usec;       /* first completion check after a create (1 s) */
        uint64_t poll_max_usec;         /* cap of the doubling delay between checks (60 s) */
        uint64_t follow_max_usec;       /* stop following completion after this (6 h) */
        uint64_t verify_delay_usec;     /* before looking for a create whose answer was lost (5 s) */
        uint64_t retry_base_usec;       /* a failed scheduled run is retried after 1 min, 2, 4, ... */
        uint64_t retry_max_usec;        /* ... at most this far apart (30 min) ... */
        unsigned retry_max;             /* ... at most this many times (5), never past the next slot */
} SnapshotTimings;

extern const SnapshotTimings snapshot_timings_default;

/* Test seams, for a pattern made by snapshot_pattern_ops.init(): replace the
 * timings or the freeze ioctls (ops borrowed; NULL = the real ones). */
void snapshot_pattern_set_timings(Pattern *p, const SnapshotTimings *t);
void snapshot_pattern_set_freeze_ops(Pattern *p, const FreezeOps *ops);

/* Starts the run of a scheduled slot as the scheduler's timer would (tests). */
void snapshot_pattern_fire(Pattern *p, time_t slot);

/* Whether any file system is frozen by the pattern right now (tests). */
bool snapshot_pattern_frozen(const Pattern *p);

/* Whether a run (not a dry run) is active (tests). */
bool snapshot_pattern_busy(const Pattern *p);
