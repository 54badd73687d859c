/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "log.h"

static int max_level = LOG_INFO;
static bool use_journal = false;

/* systemd sets JOURNAL_STREAM=<dev>:<ino> for a service whose stderr goes to
 * the journal; only then native journal entries are better than text. */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_open(void) {
        use_journal = stderr_is_journal();
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_parse_level(const char *s) {
        static const struct { const char *name; int level; } levels[] = {
                { "debug", LOG_DEBUG }, { "info", LOG_INFO }, { "notice", LOG_NOTICE },
                { "warning", LOG_WARNING }, { "err", LOG_ERR },
        };
        for (size_t i = 0; s && i < ELEMENTSOF(levels); i++)
                if (strcmp(s, levels[i].name) == 0)
                        return levels[i].level;
        return -EINVAL;
}

static const char *level_name(int level) {
        switch (level) {
        case LOG_DEBUG:
                return "debug";
        case LOG_INFO:
                return "info";
        case LOG_NOTICE:
                return "notice";
        case LOG_WARNING:
                return "warning";
        default:
                return "error";
        }
}

int log_internal(int level, int error, const LogFields *f, const char *file, int line, const char *func,
                 const char *fmt, ...) {
        char msg[2048];
        va_list ap;
        int saved = errno;

        if (error < 0)
                error = -error;
        if (level > max_level)
                return error ? -error : 0;

        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (error) {
                size_t n = strlen(msg);
                (void) snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(error));
        }

        if (use_journal) {
                char b[10][2100];
                struct iovec iov[10];
                size_t n = 0;

#define ADD(...)                                                                    \
        do {                                                                        \
                int k_ = snprintf(b[n], sizeof(b[n]), __VA_ARGS__);                 \
                iov[n] = (struct iovec) { b[n], MIN((size_t) MAX(k_, 0), sizeof(b[n]) - 1) }; \
                n++;                                                                \
        } while (0)
                ADD("MESSAGE=%s", msg);
                ADD("PRIORITY=%d", level);
                ADD("CODE_FILE=%s", file);
                ADD("CODE_LINE=%d", line);
                ADD("CODE_FUNC=%s", func);
                if (error)
                        ADD("ERRNO=%d", error);
                if (f && f->pattern)
                        ADD("CDP_PATTERN=%s", f->pattern);
                if (f && f->action)
                        ADD("CDP_ACTION=%s", f->action);
                if (f && f->resource)
                        ADD("CDP_RESOURCE=%s", f->resource);
                if (f && f->request_id)
                        ADD("AWS_REQUEST_ID=%s", f->request_id);
#undef ADD
                (void) sd_journal_sendv(iov, (int) n);
        } else {
                /* One write per line so concurrent writers do not interleave. */
                char out[2400];
                int n;

                if (f && f->request_id)
                        n = snprintf(out, sizeof(out), "%s: %s (request %s)\n", level_name(level), msg,
                                     f->request_id);
                else
                        n = snprintf(out, sizeof(out), "%s: %s\n", level_name(level), msg);
                if (n > 0) {
                        size_t len = MIN((size_t) n, sizeof(out) - 1);

                        /* Cut short, the line still ends: the next one must
                         * not run on. */
                        out[len - 1] = '\n';
                        (void) !write(STDERR_FILENO, out, len);
                }
        }
        errno = saved;
        return error ? -error : 0;
}
