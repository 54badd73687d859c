/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "cdp/aws.h"
#include "cdp/config.h"
#include "cdp/policy.h"
#include "cdp/tags.h"

typedef struct sd_event sd_event;
typedef struct sd_event_source sd_event_source;
typedef struct CtlServer CtlServer;
typedef struct CtlRequest CtlRequest;
typedef struct HookRun HookRun;
typedef struct Pattern Pattern;
typedef struct CtlCommand CtlCommand;

/* The daemon's state: one sd-event loop, the AWS context, the current tags
 * and policy, the control socket and the timers. Everything runs on the
 * loop; nothing blocks it after start-up. */
typedef struct Manager {
        sd_event *event;
        char *config_path;
        bool config_path_given;
        Config *config;
        AwsContext *aws;
        CtlServer *ctl;

        TagList *tags;                  /* NULL until the first successful read */
        Policy *policy;
        uint64_t tags_read_at;          /* CLOCK_REALTIME usec of the last successful read */
        uint64_t tags_changed_at;
        char *tags_error;               /* last failed read, NULL after a success */
        unsigned tag_reads, tag_changes;
        TagFetch *tag_fetch;
        bool tag_refetch;               /* another read was asked for while one ran */
        bool force_reparse;             /* parse the next read even if unchanged (reload) */
        sd_event_source *tag_timer;
        CtlRequest **reload_waiters;    /* replied to after the next tag read */
        size_t n_reload_waiters;

        HookRun *hooks;
        bool hooks_again;
        unsigned hooks_run, hooks_failed;

        sd_event_source *creds_timer;
        bool ready;

        Pattern **patterns;             /* one per pattern_table entry */
        size_t n_patterns;
        CtlCommand *ctl_table;          /* the manager's commands and every pattern's */
        size_t n_ctl_table;
} Manager;

/* Ownership: takes config; caller frees *ret with manager_free(). */
int manager_new(Manager **ret, Config *config, const char *config_path, bool config_path_given);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Discovers the instance (IMDS), opens the control socket and starts the
 * timers; READY=1 follows the first tag read. Runs the loop until SIGTERM or
 * SIGINT. Returns 0 or a negative errno (already logged). */
int manager_run(Manager *m);

/* SIGHUP / cdpctl reload: re-read the config (keeping the running one when
 * the new one is bad) and the tags. */
int manager_reload(Manager *m, char **reterr_message);

/* Asks for a tag read now (coalesced with one in flight). */
void manager_refresh_tags(Manager *m);
