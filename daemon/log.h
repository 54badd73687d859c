/* SPDX-License-Identifier: MIT */
#pragma once

#include <syslog.h>

#include "cdp/macro.h"

/* Logging (SPEC 8): structured journal entries (PRIORITY, MESSAGE,
 * CDP_PATTERN, CDP_ACTION, CDP_RESOURCE, AWS_REQUEST_ID, CODE_*) when stderr
 * is connected to the journal (JOURNAL_STREAM), plain "level: message" lines
 * on stderr otherwise. Never pass a secret: nothing here can tell one. */

typedef struct LogFields {
        const char *pattern;            /* snapshot, cloud-di, floating-ip, routing-ha, bastion */
        const char *action;             /* e.g. CreateSnapshots, tags-changed */
        const char *resource;           /* e.g. rtb-..., vol-... */
        const char *request_id;         /* AWS request id */
} LogFields;

void log_open(void);
void log_set_max_level(int level);
int log_parse_level(const char *s);     /* syslog level, or -EINVAL */

/* Returns -abs(error) when error != 0, else 0, so callers can
 * `return log_error_errno(r, ...)`. */
int log_internal(int level, int error, const LogFields *fields, const char *file, int line, const char *func,
                 const char *fmt, ...) _printf_(7, 8);

#define log_full_fields(level, error, fields, ...) \
        log_internal(level, error, fields, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_debug(...) log_full_fields(LOG_DEBUG, 0, NULL, __VA_ARGS__)
#define log_info(...) log_full_fields(LOG_INFO, 0, NULL, __VA_ARGS__)
#define log_notice(...) log_full_fields(LOG_NOTICE, 0, NULL, __VA_ARGS__)
#define log_warning(...) log_full_fields(LOG_WARNING, 0, NULL, __VA_ARGS__)
#define log_error(...) log_full_fields(LOG_ERR, 0, NULL, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_fields(LOG_WARNING, e, NULL, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_fields(LOG_ERR, e, NULL, __VA_ARGS__)
