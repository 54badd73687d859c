/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdp/macro.h"

/* cdpd.conf (SPEC 8): lines `key = value`, `#` comments, blank lines. The main
 * file, then <main>.d/ *.conf in lexical order; a later value replaces an
 * earlier one. An unknown key or a bad value is an error naming the file, the
 * line and the reason: cdpd does not start on a config it cannot read. */

#define CONFIG_DEFAULT_PATH "/etc/cdpd/cdpd.conf"
#define CONFIG_MAX_FILE_SIZE (256u * 1024)
#define CONFIG_MAX_LIST 32

typedef struct Config {
        char *region;                   /* NULL = from the environment or IMDS */
        char *ec2_endpoint;             /* NULL = https://ec2.<region>.amazonaws.com */
        char *tag_prefix;               /* "cdp:" */
        uint64_t tag_refresh_usec;      /* 60 s */
        char *run_dir;                  /* /run/cdpd */
        char *hooks_dir;                /* /etc/cdpd/hooks.d */
        uint64_t hook_timeout_usec;     /* 30 s */
        char *control_socket;           /* /run/cdpd/control.sock */
        char *control_group;            /* cdpd */
        uint64_t splay_usec;            /* 5 m */
        unsigned max_inflight;          /* 4 */
        unsigned max_attempts;          /* 3 */
        uint64_t api_timeout_usec;      /* 10 s, one EC2 attempt */
        uint64_t takeover_timeout_usec; /* 20 s */
        char **freeze;                  /* mount points, NULL-terminated */
        size_t n_freeze;
        uint64_t freeze_timeout_usec;   /* 10 s */
        bool manage_local_vip;          /* no */
        char *vip_interface;            /* NULL = lo (routing HA) / primary (secondary IP) */
        uint64_t expire_warn_usec[CONFIG_MAX_LIST]; /* 10m,1m */
        size_t n_expire_warn;
        uint64_t expire_grace_usec;     /* 10 m */
        bool expire_fallback_poweroff;  /* yes */
        uint64_t bastion_max_lifetime_usec; /* 24 h */
        char *log_level;                /* info */
} Config;

/* Ownership: caller frees *ret with config_free(). */
int config_new(Config **ret);
Config *config_free(Config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free);

/* Applies one file's text. filename is only used in messages. On error
 * returns -EINVAL (or -ENOMEM) and sets *reterr_message to "file:line: reason"
 * (caller frees); the Config may then hold part of the file. */
int config_parse_text(Config *c, const char *text, size_t len, const char *filename, char **reterr_message);

/* Loads path (missing main file = defaults only when `missing_ok`) and then
 * path + ".d/" *.conf. Same error contract as config_parse_text(). */
int config_load(Config *c, const char *path, bool missing_ok, char **reterr_message);

/* Checks values that depend on each other. Same error contract. */
int config_validate(const Config *c, char **reterr_message);

/* The known keys, NULL-terminated (documentation, tests). */
extern const char *const config_keys[];
