/* SPDX-License-Identifier: MIT */
#pragma once

/* File system freezing for application-consistent snapshots (SPEC 5, config
 * `freeze`): FIFREEZE on each mount point just before the create call,
 * FITHAW on every one of them afterwards, whatever happened.
 *
 * The ioctls sit behind FreezeOps so that tests (and anything without
 * CAP_SYS_ADMIN) can use a fake. FIFREEZE flushes the file system and may
 * take a moment; it is a synchronous system call, done on the event loop
 * (as fsfreeze(8) would), and nothing in cdpd writes to a frozen file system
 * in between (the caller must not log to a file there while frozen).
 *
 * A FreezeSet remembers which paths it froze, so a thaw (also from a timer,
 * an exit handler or the destructor) touches exactly those, and is
 * idempotent. A path that is already frozen by someone else is refused
 * (-EBUSY) and never thawed by us. */

#include <stdbool.h>
#include <stddef.h>

#include "cdp/macro.h"

typedef struct FreezeOps {
        /* Freeze the file system mounted at path; on success *ret_fd is a
         * handle thaw() gets back (the real one keeps the directory open, so
         * thawing needs no path lookup on the frozen file system). */
        int (*freeze)(const char *path, int *ret_fd, void *userdata);
        /* Thaw it and release fd. A file system that is no longer frozen is
         * success. */
        int (*thaw)(const char *path, int fd, void *userdata);
        void *userdata;
} FreezeOps;

/* ioctl(FIFREEZE) / ioctl(FITHAW) on the mount point directory. Errors:
 * -ENOTBLK the path is not the root of a mount (FIFREEZE would freeze the
 * whole file system it is on, "/" for most directories), -EBUSY already
 * frozen (a bind mount of a file system already frozen counts), -EPERM/-EACCES
 * without CAP_SYS_ADMIN, -EOPNOTSUPP for a file system that cannot freeze,
 * -ENOENT/-ENOTDIR for the path. */
const FreezeOps *freeze_ops_real(void);

typedef struct FreezeSet FreezeSet;

/* paths are copied, trailing slashes dropped and duplicates listed once; ops
 * is borrowed (may be NULL: freeze_ops_real()).
 * Ownership: caller frees *ret with freeze_set_free(), which thaws first. */
int freeze_set_new(const char *const *paths, size_t n_paths, const FreezeOps *ops, FreezeSet **ret);

/* Freezes every path in order. If one fails, the ones already frozen are
 * thawed again and the error is returned with *reterr_path (borrowed, may be
 * NULL) naming the path that failed. -EALREADY when the set is frozen. */
int freeze_set_freeze(FreezeSet *s, const char **reterr_path);

/* Thaws every path this set froze, in reverse order, trying all of them;
 * returns the first error (with *reterr_path) or 0. After it, the set is not
 * frozen any more (a path that failed to thaw is not retried: its handle is
 * gone; the error is the caller's to report). Calling it on a thawed set is a
 * no-op that returns 0. */
int freeze_set_thaw(FreezeSet *s, const char **reterr_path);

bool freeze_set_is_frozen(const FreezeSet *s);
/* Readable reason for an error of freeze_set_freeze()/thaw() (static). */
const char *freeze_strerror(int error);
size_t freeze_set_size(const FreezeSet *s);

FreezeSet *freeze_set_free(FreezeSet *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(FreezeSet *, freeze_set_free);
