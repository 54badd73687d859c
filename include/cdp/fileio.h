/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Replaces path with data atomically: a temporary file in the same
 * directory, written, fsync'ed, given mode, renamed over path, and the
 * directory fsync'ed (best effort). Readers see the old or the new file,
 * never a part. Returns 0 once path holds data, or a negative errno with the
 * old file untouched. The temporary name adds 10 bytes to the last path
 * component, so a name of more than NAME_MAX - 10 bytes fails with
 * -ENAMETOOLONG (cdpd writes only short names: env, tags.json). */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* mkdir -p for one level below an existing parent, with mode; EEXIST is
 * fine if it is a directory. */
int mkdir_safe(const char *path, mode_t mode);
