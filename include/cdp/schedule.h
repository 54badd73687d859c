/* SPDX-License-Identifier: MIT */
#pragma once

/* Backup schedules (the value of the cdp:snapshot tag), time zones and splay.
 *
 * Grammar (leading/trailing whitespace ignored, keywords in any letter case):
 *   @hourly  = "0 * * * *"     @daily = "0 0 * * *"     @weekly = "0 0 * * 0"
 *   @monthly = "0 0 1 * *"     @yearly, @annually = "0 0 1 1 *"
 *   every <duration>           whole minutes from 1m to 365d, e.g. "every 90m",
 *                              "every 4h", "every 2d" (parse_duration() syntax)
 *   a 5-field crontab line     minute hour day-of-month month day-of-week
 *
 * Crontab fields: "*", numbers, ranges "1-5", lists "1,2,9-11", steps ("*"
 * followed by "/15", or "1-30/5"); month names jan..dec and day names
 * sun..sat in any case, also inside ranges ("mon-fri"); day-of-week 0 and 7
 * are both Sunday. "5/15" (a step without a range) is refused. Like Vixie
 * cron: when day-of-month and day-of-week are both restricted (neither field
 * starts with "*"), a day matching either fires; otherwise both must match
 * (so a field like "*" + "/2" counts as unrestricted, as in Vixie cron and
 * cronie). A line that can never fire ("0 0 30 2 *") is refused.
 *
 * Slots:
 *   - every <N>: slots are the multiples of N since the Unix epoch, in UTC,
 *     whatever the time zone: all instances agree on them and a restart keeps
 *     them ("every 1d" is 00:00 UTC, "every 7d" is Thursday 00:00 UTC).
 *   - crontab and @-shorthands: local wall-clock times in the zone (cdp:tz,
 *     default UTC). A local time skipped by a forward clock change (the
 *     spring-forward gap) fires once, at the first instant after the gap
 *     ("30 2 * * *" in America/New_York on 2026-03-08 fires at 03:00 EDT).
 *     A local time that occurs twice (the fall-back overlap) fires once, at its
 *     first occurrence. Consequence: an hourly or faster crontab line
 *     (@hourly, minute field "*" + "/15") does not fire during the second
 *     pass of the repeated hour; "every 15m" is unaffected by clock changes.
 *
 * Time zones are read from TZif files under /usr/share/zoneinfo (Debian's
 * tzdata) by our own reader: no TZ environment variable is touched, so the
 * conversion is pure and thread-safe. Rules beyond the file's last transition
 * come from its POSIX TZ footer. */

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "cdp/macro.h"

typedef enum ScheduleKind {
        SCHEDULE_INTERVAL = 1,
        SCHEDULE_CRON,
} ScheduleKind;

/* A plain value: no heap memory, copy it freely. */
typedef struct Schedule {
        ScheduleKind kind;
        uint64_t interval_usec;        /* SCHEDULE_INTERVAL: period, whole minutes */
        /* SCHEDULE_CRON: bit n set = value n matches */
        uint64_t minutes;              /* 0..59 */
        uint32_t hours;                /* 0..23 */
        uint32_t days_of_month;        /* 1..31 */
        uint16_t months;               /* 1..12 */
        uint8_t days_of_week;          /* 0 (Sunday)..6 */
        bool dom_restricted;           /* the day-of-month field did not start with '*' */
        bool dow_restricted;           /* the day-of-week field did not start with '*' */
} Schedule;

#define SCHEDULE_INTERVAL_MIN_USEC (60ULL * USEC_PER_SEC)
#define SCHEDULE_INTERVAL_MAX_USEC (365ULL * 86400ULL * USEC_PER_SEC)

/* Parses a schedule. On -EINVAL, *reterr_reason (if not NULL) receives a
 * sentence fragment meant to follow the quoted value, saying what is wrong and
 * what was expected, e.g. "has 4 fields; a crontab line has 5: minute hour
 * day-of-month month day-of-week". -ENOMEM on allocation failure.
 * Ownership: caller frees *reterr_reason with free(). */
int schedule_parse(const char *value, Schedule *ret, char **reterr_reason);

/* Time zones. */
typedef struct TimeZone TimeZone;

#define TZ_ZONEINFO_DIR "/usr/share/zoneinfo"
#define TZ_NAME_MAX 64

/* True for a name we are willing to look up: [A-Za-z0-9_+-]+ components
 * separated by single '/', at most TZ_NAME_MAX bytes, no leading '/', no '.'
 * anywhere (so no ".."), and not "localtime", "posixrules", "Factory" or
 * anything under "right/" (leap-second clocks). Says nothing about existence. */
bool tz_name_is_valid(const char *name);

/* Loads zone `name` from TZ_ZONEINFO_DIR. NULL and "UTC" give UTC without
 * touching the file system ("" is -EINVAL). -EINVAL for a name that fails tz_name_is_valid(),
 * -ENOENT when there is no such zone (also when a symlink points outside the
 * zone directory), -EBADMSG when the file is not a usable TZif file.
 * Ownership: caller frees *ret with tz_free(). */
int tz_load(const char *name, TimeZone **ret);

/* As tz_load() with another zoneinfo directory (tests). */
int tz_load_from(const char *dir, const char *name, TimeZone **ret);

/* Parses TZif data (RFC 8536, versions 1-4) held in memory. Files with leap
 * second records are refused (-EBADMSG). Ownership: caller frees *ret. */
int tz_parse_tzif(const void *data, size_t size, TimeZone **ret);

TimeZone *tz_free(TimeZone *tz);
DEFINE_TRIVIAL_CLEANUP_FUNC(TimeZone *, tz_free);

/* The zone's name as loaded ("UTC" for the built-in UTC). Borrowed. */
const char *tz_name(const TimeZone *tz);

/* Offset from UTC in seconds (east positive) in force at UTC instant t.
 * tz NULL means UTC. */
int32_t tz_utc_offset(const TimeZone *tz, int64_t t);

/* The first slot strictly after `after`. tz is an IANA name (NULL = UTC),
 * ignored for intervals. -EINVAL/-ENOENT/-EBADMSG for a bad zone (as
 * tz_load()), -ERANGE when the answer would lie beyond the year 9999. */
int schedule_next(const Schedule *s, const char *tz, time_t after, time_t *ret);

/* The most recent slot at or before t. Use it for catch-up after downtime:
 * when the newest generation is older than schedule_prev(now), one period has
 * passed without a backup. -ERANGE before the year 1. */
int schedule_prev(const Schedule *s, const char *tz, time_t t, time_t *ret);

/* The same with a loaded zone (NULL = UTC), to avoid reloading it. */
int schedule_next_in(const Schedule *s, const TimeZone *tz, time_t after, time_t *ret);
int schedule_prev_in(const Schedule *s, const TimeZone *tz, time_t t, time_t *ret);

/* A stable per-instance offset in [0, max_usec) (0 when max_usec is 0), so a
 * fleet on one schedule does not call the API in the same second. It is
 * FNV-1a 64 over the bytes of instance_id, passed through the splitmix64
 * finaliser, modulo max_usec: the same id gives the same splay on every
 * version and every machine. */
uint64_t splay_usec(const char *instance_id, uint64_t max_usec);
