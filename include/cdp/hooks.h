/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "cdp/macro.h"

/* Runs the executables of a hooks directory (CDP_EVENT=tags-changed,
 * pre-snapshot, post-snapshot) one after another in lexical order, like
 * run-parts, each with a time limit, from the event loop (no blocking).
 * Only regular executable files owned by root (or by us) and not writable
 * by group or others are run; names are [A-Za-z0-9_.-] and do not start
 * with '.' or end with '~' (editor backups, dpkg leftovers). The command
 * comes from the directory, never from a tag. Hooks get a minimal
 * environment (PATH, CDP_EVENT, and the extra variables given), stdin from
 * /dev/null, and our stdout/stderr. */

typedef struct sd_event sd_event;
typedef struct HookRun HookRun;

/* status: the exit status (0 = success), or a negative errno: -ETIMEDOUT
 * (killed at the time limit), -EINTR (killed by a signal), or a failure to
 * start. Called once per hook. name is borrowed. */
typedef void (*HookResultFn)(const char *name, int status, void *userdata);
/* Called once after the last hook (also when there were none). */
typedef void (*HooksDoneFn)(unsigned n_run, unsigned n_failed, void *userdata);

/* extra_env: NULL-terminated "NAME=value" strings (copied). A missing
 * directory means no hooks. SIGCHLD must be blocked (sd-event child
 * sources). Ownership: the run frees itself after done; ret (optional) is
 * borrowed for hooks_cancel() until done runs. */
int hooks_run(sd_event *event, const char *dir, const char *event_name, const char *const *extra_env,
              uint64_t timeout_usec, HookResultFn result, HooksDoneFn done, void *userdata, HookRun **ret);

/* Kills a running hook and drops the rest; no callback runs afterwards. */
void hooks_cancel(HookRun *run);
