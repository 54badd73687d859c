/* SPDX-License-Identifier: MIT */
#pragma once

#include "ctl-server.h"
#include "manager.h"

/* A pattern (snapshot, HA, bastion) plugs into the manager through a
 * PatternOps table (daemon/patterns.c lists them). The manager creates each
 * pattern after the AWS context exists, tells it when the policy changed,
 * asks it for its part of `cdpctl status`, and routes its control commands to
 * it. A pattern owns its timers and calls; it never blocks the loop. */

struct json_object;
typedef struct Pattern Pattern;
typedef struct StatusRequest StatusRequest;

typedef struct PatternCommand {
        const char *name;               /* cdpctl command, e.g. "takeover" */
        CtlHandler handler;             /* userdata is the Pattern */
} PatternCommand;

typedef struct PatternOps {
        const char *name;               /* "snapshot", "ha", "bastion": the key in cdpctl status */
        size_t size;                    /* of the pattern's struct, which starts with a Pattern */
        /* Called once after the AWS context exists, before the first tag read. */
        int (*init)(Pattern *p);
        /* Called once at shutdown; frees what init and later calls made. */
        void (*done)(Pattern *p);
        /* The policy was replaced (also the first time): re-plan from
         * manager->policy (never NULL here). */
        void (*policy_changed)(Pattern *p);
        /* Called on every tag_refresh tick, in the wake-up that starts the
         * tag read, so periodic work adds no wake-up of its own (SPEC 11: no
         * polling beyond tag_refresh). May be NULL. */
        void (*refresh)(Pattern *p);
        /* Fill in this pattern's part of `cdpctl status`: call
         * status_request_done() exactly once, now or later (after a
         * describe call). May be NULL. */
        void (*status)(Pattern *p, StatusRequest *sr);
        const PatternCommand *commands;
        size_t n_commands;
} PatternOps;

struct Pattern {
        const PatternOps *ops;
        Manager *manager;
};

/* Hands over this pattern's status object (consumed; NULL for none). */
void status_request_done(StatusRequest *sr, struct json_object *section);

/* The patterns cdpd runs, NULL-terminated (daemon/patterns.c). */
extern const PatternOps *const pattern_table[];
