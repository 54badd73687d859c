/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdp/macro.h"
#include "cdp/parse-util.h"
#include "cdp/schedule.h"
#include "cdp/strbuf.h"

/* ------------------------------------------------------------------------ */
/* Small arithmetic helpers */

static int64_t floor_div64(int64_t a, int64_t b) {
        return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Years we compute with. Beyond them civil arithmetic still works, but RFC
 * 3339 output and cdp:slot tags would not. */
#define YEAR_MIN 1
#define YEAR_MAX 9999

/* ------------------------------------------------------------------------ */
/* Schedule parsing */

typedef struct CronField {
        const char *name;
        unsigned min, max;
        const char *const *names;     /* names[i] is value min + i */
} CronField;

static const char *const month_names[] = {
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
};

static const char *const day_names[] = {
        "sun", "mon", "tue", "wed", "thu", "fri", "sat",
};

enum {
        FIELD_MINUTE,
        FIELD_HOUR,
        FIELD_DOM,
        FIELD_MONTH,
        FIELD_DOW,
        _FIELD_MAX,
};

static const CronField cron_fields[_FIELD_MAX] = {
        [FIELD_MINUTE] = { "minute", 0, 59, NULL },
        [FIELD_HOUR] = { "hour", 0, 23, NULL },
        [FIELD_DOM] = { "day-of-month", 1, 31, NULL },
        [FIELD_MONTH] = { "month", 1, 12, month_names },
        [FIELD_DOW] = { "day-of-week", 0, 7, day_names },   /* 7 folds to 0 */
};

static const struct {
        const char *keyword;
        const char *line;
} cron_shorthands[] = {
        { "@hourly", "0 * * * *" },
        { "@daily", "0 0 * * *" },
        { "@weekly", "0 0 * * 0" },
        { "@monthly", "0 0 1 * *" },
        { "@yearly", "0 0 1 1 *" },
        { "@annually", "0 0 1 1 *" },
};

#define SCHEDULE_EXPECTED \
        "@hourly, @daily, @weekly, @monthly, @yearly, \"every <N>m|h|d\" " \
        "or a 5-field crontab line such as \"0 3 * * *\""

/* Sets *reason (if wanted) to a formatted sentence; returns -EINVAL, or
 * -ENOMEM when even that fails. */
static int fail(char **reason, const char *fmt, ...) _printf_(2, 3);
static int fail(char **reason, const char *fmt, ...) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(4096);
        va_list ap;
        int r;

        if (!reason)
                return -EINVAL;
        va_start(ap, fmt);
        r = strbuf_vprintf(&b, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        *reason = strbuf_steal(&b);
        return *reason ? -EINVAL : -ENOMEM;
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

/* A value of a crontab field: 1..3 digits, or a name where the field has names. */
static int cron_read_value(const char **p, const CronField *f, unsigned *ret, char *err, size_t errsz) {
        const char *s = *p;
        unsigned v = 0;
        size_t n = 0;

        if (f->names && ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z')) {
                size_t count = f == &cron_fields[FIELD_MONTH] ? ELEMENTSOF(month_names) : ELEMENTSOF(day_names);

                for (size_t i = 0; i < count; i++)
                        if (strncasecmp(s, f->names[i], 3) == 0 &&
                            !((s[3] | 0x20) >= 'a' && (s[3] | 0x20) <= 'z')) {
                                *p = s + 3;
                                *ret = f->min + (unsigned) i;
                                return 0;
                        }
                (void) snprintf(err, errsz, "unknown name; use %s",
                                f->names == month_names ? "jan..dec" : "sun..sat");
                return -EINVAL;
        }

        while (s[n] >= '0' && s[n] <= '9' && n < 4) {
                v = v * 10 + (unsigned) (s[n] - '0');
                n++;
        }
        if (n == 0) {
                (void) snprintf(err, errsz, "expected a number%s, \"*\", a range or a list",
                                f->names ? " or a name" : "");
                return -EINVAL;
        }
        if (n > 3 || v < f->min || v > f->max) {
                (void) snprintf(err, errsz, "%.*s is out of range %u-%u", (int) MIN(n, 8), s, f->min, f->max);
                return -EINVAL;
        }
        *p = s + n;
        *ret = v;
        return 0;
}

/* Parses one field into a bit mask (bit n = value n). */
static int cron_parse_field(const char *text, const CronField *f, uint64_t *ret_mask, char *err, size_t errsz) {
        uint64_t mask = 0;
        const char *s = text;

        for (;;) {
                unsigned lo, hi, step = 1;
                bool star = false;
                int r;

                if (*s == '*') {
                        star = true;
                        lo = f->min;
                        hi = f->max;
                        s++;
                } else {
                        if (*s == ',' || *s == '\0') {
                                (void) snprintf(err, errsz, "empty list item");
                                return -EINVAL;
                        }
                        r = cron_read_value(&s, f, &lo, err, errsz);
                        if (r < 0)
                                return r;
                        hi = lo;
                        if (*s == '-') {
                                s++;
                                r = cron_read_value(&s, f, &hi, err, errsz);
                                if (r < 0)
                                        return r;
                                if (hi < lo) {
                                        (void) snprintf(err, errsz, "range %u-%u goes backwards", lo, hi);
                                        return -EINVAL;
                                }
                        }
                }

                if (*s == '/') {
                        const char *st = ++s;
                        size_t n = 0;

                        if (!star && hi == lo) {
                                (void) snprintf(err, errsz, "a step needs a range or \"*\" before it, e.g. %u-%u/N", lo, f->max);
                                return -EINVAL;
                        }
                        step = 0;
                        while (st[n] >= '0' && st[n] <= '9' && n < 4) {
                                step = step * 10 + (unsigned) (st[n] - '0');
                                n++;
                        }
                        if (n == 0 || n > 3 || step < 1 || step > f->max - f->min + 1) {
                                (void) snprintf(err, errsz, "the step after \"/\" must be a number from 1 to %u",
                                                f->max - f->min + 1);
                                return -EINVAL;
                        }
                        s += n;
                }

                for (unsigned v = lo; v <= hi; v += step)
                        mask |= UINT64_C(1) << v;

                if (*s == '\0')
                        break;
                if (*s != ',') {
                        char c[5] = {}, q[16];

                        memcpy(c, s, MAX(utf8_char_len(s), 1u));
                        (void) snprintf(err, errsz, "unexpected %s; expected \",\", \"-\" or \"/\"",
                                        quote_string(q, sizeof(q), c));
                        return -EINVAL;
                }
                s++;
        }

        if (f == &cron_fields[FIELD_DOW] && (mask & (UINT64_C(1) << 7)))
                mask = (mask & ~(UINT64_C(1) << 7)) | 1;   /* 7 is Sunday too */

        *ret_mask = mask;
        return 0;
}

/* True if some date can match, ignoring the weekday: every (month, day) pair
 * meets every weekday within a 400-year cycle, and with both day fields
 * restricted any weekday alone is enough. */
static bool cron_can_fire(const Schedule *s) {
        if (s->dom_restricted && s->dow_restricted)
                return true;
        for (unsigned m = 1; m <= 12; m++) {
                if (!(s->months & (1u << m)))
                        continue;
                for (unsigned d = 1; d <= days_in_month(2000, m); d++)  /* 2000: leap year */
                        if (s->days_of_month & (UINT32_C(1) << d))
                                return true;
        }
        return false;
}

static int cron_parse_line(const char *line, Schedule *ret, char **reason) {
        char fields[_FIELD_MAX][64];
        const char *p = line;
        size_t n = 0;
        uint64_t masks[_FIELD_MAX];
        Schedule s = { .kind = SCHEDULE_CRON };

        for (;;) {
                size_t len = 0;

                while (is_blank(*p))
                        p++;
                if (*p == '\0')
                        break;
                while (p[len] && !is_blank(p[len]))
                        len++;
                if (n < _FIELD_MAX) {
                        if (len >= sizeof(fields[n]))
                                return fail(reason, "has a %s field that is too long", cron_fields[n].name);
                        memcpy(fields[n], p, len);
                        fields[n][len] = '\0';
                }
                n++;
                p += len;
        }

        if (n == 1)
                return fail(reason, "is not " SCHEDULE_EXPECTED);
        if (n != _FIELD_MAX)
                return fail(reason, "has %zu fields; a crontab line has 5: minute hour day-of-month month day-of-week "
                            "(no seconds, no command)", n);

        for (size_t i = 0; i < _FIELD_MAX; i++) {
                char err[128], q[96];

                if (cron_parse_field(fields[i], &cron_fields[i], &masks[i], err, sizeof(err)) < 0)
                        return fail(reason, "has an invalid %s field %s: %s", cron_fields[i].name,
                                    quote_string(q, sizeof(q), fields[i]), err);
        }

        s.minutes = masks[FIELD_MINUTE];
        s.hours = (uint32_t) masks[FIELD_HOUR];
        s.days_of_month = (uint32_t) masks[FIELD_DOM];
        s.months = (uint16_t) masks[FIELD_MONTH];
        s.days_of_week = (uint8_t) masks[FIELD_DOW];
        s.dom_restricted = fields[FIELD_DOM][0] != '*';
        s.dow_restricted = fields[FIELD_DOW][0] != '*';

        if (!cron_can_fire(&s))
                return fail(reason, "never fires: no month in the month field has the days in the day-of-month field");

        *ret = s;
        return 0;
}

static int interval_parse(const char *text, Schedule *ret, char **reason) {
        uint64_t usec;
        char q[96];
        int r;

        r = parse_duration(text, &usec);
        if (r == -EINVAL)
                return fail(reason, "has an invalid interval %s: expected a whole number and a unit m, h or d, "
                            "e.g. \"every 90m\", \"every 4h\", \"every 2d\"", quote_string(q, sizeof(q), text));
        if (r < 0 || usec % SCHEDULE_INTERVAL_MIN_USEC != 0 ||
            usec < SCHEDULE_INTERVAL_MIN_USEC || usec > SCHEDULE_INTERVAL_MAX_USEC)
                return fail(reason, "has an interval %s that is not a whole number of minutes from 1m to 365d",
                            quote_string(q, sizeof(q), text));

        *ret = (Schedule) { .kind = SCHEDULE_INTERVAL, .interval_usec = usec };
        return 0;
}

int schedule_parse(const char *value, Schedule *ret, char **reterr_reason) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        char *v;

        if (!value || !ret)
                return -EINVAL;

        /* Trim, and cap so that field copies stay small. */
        while (is_blank(*value))
                value++;
        len = strlen(value);
        while (len > 0 && is_blank(value[len - 1]))
                len--;
        if (len == 0)
                return fail(reterr_reason, "is empty; expected " SCHEDULE_EXPECTED);
        if (len > 256)
                return fail(reterr_reason, "is too long for a schedule");
        buf = strndup(value, len);
        if (!buf)
                return -ENOMEM;
        v = buf;

        if (v[0] == '@') {
                for (size_t i = 0; i < ELEMENTSOF(cron_shorthands); i++)
                        if (strcasecmp(v, cron_shorthands[i].keyword) == 0)
                                return cron_parse_line(cron_shorthands[i].line, ret, reterr_reason);
                return fail(reterr_reason, "is not a known shorthand; use @hourly, @daily, @weekly, @monthly or @yearly");
        }

        if (strncasecmp(v, "every", 5) == 0 && (v[5] == '\0' || is_blank(v[5]))) {
                v += 5;
                while (is_blank(*v))
                        v++;
                if (*v == '\0')
                        return fail(reterr_reason, "has no interval after \"every\"; expected e.g. \"every 90m\", "
                                    "\"every 4h\" or \"every 2d\"");
                return interval_parse(v, ret, reterr_reason);
        }

        return cron_parse_line(v, ret, reterr_reason);
}

/* ------------------------------------------------------------------------ */
/* Time zones: TZif (RFC 8536) reader and POSIX TZ rules for the footer */

typedef struct TzRule {
        char kind;              /* 'J': day 1..365 without Feb 29; 'N': day 0..365; 'M': month.week.weekday */
        unsigned day, month, week, wday;
        int32_t time;           /* seconds after local midnight, may be negative or beyond 24h */
} TzRule;

typedef struct TzPosix {
        bool present;
        bool has_dst;
        int32_t std_off;        /* seconds east of UTC */
        int32_t dst_off;
        TzRule start, end;      /* start: in standard time; end: in daylight time */
} TzPosix;

struct TimeZone {
        char *name;
        size_t n;               /* transitions */
        int64_t *times;         /* strictly ascending */
        int32_t *offsets;       /* offsets[i] applies from times[i] on */
        int32_t initial;        /* before times[0] (time type 0) */
        TzPosix footer;         /* after times[n - 1] (or always, if n == 0) */
};

/* RFC 8536: UT offsets lie in -89999..93599 (about +-25 h). */
#define TZ_OFFSET_MIN (-89999)
#define TZ_OFFSET_MAX 93599
#define TZ_TRANSITIONS_MAX 4096
#define TZ_FILE_MAX (256 * 1024)

TimeZone *tz_free(TimeZone *tz) {
        if (!tz)
                return NULL;
        free(tz->name);
        free(tz->times);
        free(tz->offsets);
        free(tz);
        return NULL;
}

const char *tz_name(const TimeZone *tz) {
        return tz && tz->name ? tz->name : "UTC";
}

bool tz_name_is_valid(const char *name) {
        static const char *const refused[] = { "localtime", "posixrules", "Factory" };
        size_t len, comp = 0;

        if (!name)
                return false;
        len = strlen(name);
        if (len == 0 || len > TZ_NAME_MAX)
                return false;
        for (const char *p = name; *p; p++) {
                char c = *p;

                if (c == '/') {
                        if (comp == 0)
                                return false;   /* leading '/' or "//" */
                        comp = 0;
                        continue;
                }
                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '+' || c == '-'))
                        return false;
                comp++;
        }
        if (comp == 0)
                return false;           /* trailing '/' */
        for (size_t i = 0; i < ELEMENTSOF(refused); i++)
                if (strcmp(name, refused[i]) == 0)
                        return false;
        if (strncmp(name, "right/", 6) == 0)
                return false;
        return true;
}

static int tz_posix_read_name(const char **p) {
        const char *s = *p;
        size_t n = 0;

        if (*s == '<') {
                s++;
                while (s[n] && s[n] != '>') {
                        char c = s[n];

                        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                              c == '+' || c == '-'))
                                return -EINVAL;
                        n++;
                }
                if (s[n] != '>' || n < 1)
                        return -EINVAL;
                *p = s + n + 1;
                return 0;
        }
        while ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z'))
                n++;
        if (n < 3)
                return -EINVAL;
        *p = s + n;
        return 0;
}

/* [+-]hh[:mm[:ss]] with hh <= max_hours, in seconds. */
static int tz_posix_read_hms(const char **p, unsigned max_hours, int32_t *ret) {
        const char *s = *p;
        int sign = 1;
        unsigned part[3] = { 0, 0, 0 };

        if (*s == '+' || *s == '-') {
                sign = *s == '-' ? -1 : 1;
                s++;
        }
        for (unsigned i = 0; i < 3; i++) {
                unsigned v = 0, n = 0;

                if (i > 0) {
                        if (*s != ':')
                                break;
                        s++;
                }
                while (*s >= '0' && *s <= '9' && n < 4) {
                        v = v * 10 + (unsigned) (*s - '0');
                        s++;
                        n++;
                }
                if (n == 0 || n > 3 || (i > 0 && (n != 2 || v > 59)))
                        return -EINVAL;
                part[i] = v;
        }
        if (part[0] > max_hours)
                return -EINVAL;
        *p = s;
        *ret = sign * (int32_t) (part[0] * 3600 + part[1] * 60 + part[2]);
        return 0;
}

static int tz_posix_read_number(const char **p, unsigned min, unsigned max, unsigned *ret) {
        unsigned v = 0, n = 0;
        const char *s = *p;

        while (*s >= '0' && *s <= '9' && n < 4) {
                v = v * 10 + (unsigned) (*s - '0');
                s++;
                n++;
        }
        if (n == 0 || n > 3 || v < min || v > max)
                return -EINVAL;
        *p = s;
        *ret = v;
        return 0;
}

static int tz_posix_read_rule(const char **p, TzRule *ret) {
        const char *s = *p;
        TzRule rule = { .time = 2 * 3600 };

        if (*s == 'J') {
                s++;
                rule.kind = 'J';
                if (tz_posix_read_number(&s, 1, 365, &rule.day) < 0)
                        return -EINVAL;
        } else if (*s == 'M') {
                s++;
                rule.kind = 'M';
                if (tz_posix_read_number(&s, 1, 12, &rule.month) < 0 || *s++ != '.' ||
                    tz_posix_read_number(&s, 1, 5, &rule.week) < 0 || *s++ != '.' ||
                    tz_posix_read_number(&s, 0, 6, &rule.wday) < 0)
                        return -EINVAL;
        } else {
                rule.kind = 'N';
                if (tz_posix_read_number(&s, 0, 365, &rule.day) < 0)
                        return -EINVAL;
        }
        if (*s == '/') {
                s++;
                /* RFC 8536 section 3.3.1 extends the hours to -167..167. */
                if (tz_posix_read_hms(&s, 167, &rule.time) < 0)
                        return -EINVAL;
        }
        *p = s;
        *ret = rule;
        return 0;
}

/* Parses a POSIX TZ string as found in a TZif footer. A DST name without
 * rules is refused: zic always writes the rules, and guessing them (US rules,
 * as glibc does) would silently give wrong times. */
static int tz_posix_parse(const char *s, TzPosix *ret) {
        TzPosix tp = { .present = true };
        int32_t off;

        if (tz_posix_read_name(&s) < 0 || tz_posix_read_hms(&s, 24, &off) < 0)
                return -EINVAL;
        tp.std_off = -off;      /* POSIX offsets count west of UTC */
        if (*s == '\0') {
                *ret = tp;
                return 0;
        }

        if (tz_posix_read_name(&s) < 0)
                return -EINVAL;
        tp.has_dst = true;
        tp.dst_off = tp.std_off + 3600;
        if (*s != ',' && *s != '\0') {
                if (tz_posix_read_hms(&s, 24, &off) < 0)
                        return -EINVAL;
                tp.dst_off = -off;
        }
        if (*s++ != ',' || tz_posix_read_rule(&s, &tp.start) < 0 ||
            *s++ != ',' || tz_posix_read_rule(&s, &tp.end) < 0 || *s != '\0')
                return -EINVAL;

        *ret = tp;
        return 0;
}

/* Day number (days since the epoch) on which a rule falls in `year`. */
static int64_t tz_rule_day(const TzRule *r, int64_t year) {
        int64_t jan1 = civil_to_days(year, 1, 1);

        switch (r->kind) {
        case 'J':
                return jan1 + r->day - 1 + (year_is_leap(year) && r->day >= 60);
        case 'N':
                return jan1 + r->day;
        default: {
                int64_t first = civil_to_days(year, r->month, 1);
                unsigned dim = days_in_month(year, r->month);
                unsigned d = (r->wday + 7 - weekday_from_days(first)) % 7 + (r->week - 1) * 7;

                while (d >= dim)
                        d -= 7;
                return first + d;
        }
        }
}

typedef struct TzEvent {
        int64_t at;
        bool dst;               /* state from `at` on */
} TzEvent;

/* The DST start and end instants of the years around local year y. */
static size_t tz_posix_events(const TzPosix *tp, int64_t y, TzEvent events[static 6]) {
        size_t n = 0;

        for (int64_t yy = y - 1; yy <= y + 1; yy++) {
                events[n++] = (TzEvent) {
                        .at = tz_rule_day(&tp->start, yy) * 86400 + tp->start.time - tp->std_off,
                        .dst = true,
                };
                events[n++] = (TzEvent) {
                        .at = tz_rule_day(&tp->end, yy) * 86400 + tp->end.time - tp->dst_off,
                        .dst = false,
                };
        }
        return n;
}

static int64_t tz_posix_year_of(const TzPosix *tp, int64_t t) {
        int64_t y;
        unsigned m, d;

        civil_from_days(floor_div64(t + tp->std_off, 86400), &y, &m, &d);
        return y;
}

static int32_t tz_posix_offset(const TzPosix *tp, int64_t t) {
        TzEvent ev[6];
        size_t n;
        bool found = false, dst = false;
        int64_t best = 0;

        if (!tp->has_dst)
                return tp->std_off;

        n = tz_posix_events(tp, tz_posix_year_of(tp, t), ev);
        for (size_t i = 0; i < n; i++) {
                if (ev[i].at > t)
                        continue;
                /* Latest event wins; on a tie the start (DST on) wins, which
                 * keeps "DST all year" strings (",0/0,J365/25") in DST. */
                if (!found || ev[i].at > best || (ev[i].at == best && ev[i].dst)) {
                        found = true;
                        best = ev[i].at;
                        dst = ev[i].dst;
                }
        }
        return dst ? tp->dst_off : tp->std_off;
}

/* The next instant after t at which the footer's offset may change. */
static int64_t tz_posix_next_change(const TzPosix *tp, int64_t t) {
        TzEvent ev[6];
        int64_t best = INT64_MAX;
        size_t n;

        if (!tp->has_dst)
                return INT64_MAX;
        for (int64_t y = tz_posix_year_of(tp, t); best == INT64_MAX && y <= tz_posix_year_of(tp, t) + 3; y++) {
                n = tz_posix_events(tp, y, ev);
                for (size_t i = 0; i < n; i++)
                        if (ev[i].at > t && ev[i].at < best)
                                best = ev[i].at;
        }
        return best;
}

static bool tz_uses_footer(const TimeZone *tz, int64_t t) {
        return tz->footer.present && (tz->n == 0 || t >= tz->times[tz->n - 1]);
}

int32_t tz_utc_offset(const TimeZone *tz, int64_t t) {
        size_t lo, hi;

        if (!tz)
                return 0;
        if (tz_uses_footer(tz, t))
                return tz_posix_offset(&tz->footer, t);
        if (tz->n == 0 || t < tz->times[0])
                return tz->initial;

        /* Last i with times[i] <= t. */
        lo = 0;
        hi = tz->n;
        while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;

                if (tz->times[mid] <= t)
                        lo = mid;
                else
                        hi = mid;
        }
        return tz->offsets[lo];
}

/* The next instant after t at which the offset may change, INT64_MAX if none. */
static int64_t tz_next_change(const TimeZone *tz, int64_t t) {
        size_t lo, hi;

        if (!tz)
                return INT64_MAX;
        if (tz_uses_footer(tz, t))
                return tz_posix_next_change(&tz->footer, t);
        if (tz->n == 0)
                return INT64_MAX;

        /* First i with times[i] > t. */
        lo = 0;
        hi = tz->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (tz->times[mid] <= t)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < tz->n ? tz->times[lo] : INT64_MAX;
}

static uint32_t be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p) {
        return (uint64_t) be32(p) << 32 | be32(p + 4);
}

typedef struct TzifHeader {
        char version;
        uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} TzifHeader;

static int tzif_read_header(const uint8_t *p, size_t size, TzifHeader *ret) {
        if (size < 44 || memcmp(p, "TZif", 4) != 0)
                return -EBADMSG;
        if (p[4] != 0 && p[4] != '2' && p[4] != '3' && p[4] != '4')
                return -EBADMSG;
        *ret = (TzifHeader) {
                .version = (char) p[4],
                .isutcnt = be32(p + 20),
                .isstdcnt = be32(p + 24),
                .leapcnt = be32(p + 28),
                .timecnt = be32(p + 32),
                .typecnt = be32(p + 36),
                .charcnt = be32(p + 40),
        };
        if (ret->timecnt > TZ_TRANSITIONS_MAX || ret->typecnt < 1 || ret->typecnt > 256 ||
            ret->charcnt < 1 || ret->charcnt > 1024 || ret->leapcnt > 1024 ||
            (ret->isutcnt != 0 && ret->isutcnt != ret->typecnt) ||
            (ret->isstdcnt != 0 && ret->isstdcnt != ret->typecnt))
                return -EBADMSG;
        return 0;
}

static size_t tzif_block_size(const TzifHeader *h, size_t time_size) {
        /* Bounded by the caps above: no overflow. */
        return h->timecnt * time_size + h->timecnt + h->typecnt * 6 + h->charcnt +
                h->leapcnt * (time_size + 4) + h->isstdcnt + h->isutcnt;
}

static int tzif_read_block(const uint8_t *p, const TzifHeader *h, size_t time_size, TimeZone *tz) {
        const uint8_t *times = p;
        const uint8_t *idx = times + h->timecnt * time_size;
        const uint8_t *types = idx + h->timecnt;
        int32_t offs[256];

        /* Leap-second clocks count differently from the time_t we work with. */
        if (h->leapcnt != 0)
                return -EBADMSG;

        for (size_t i = 0; i < h->typecnt; i++) {
                int32_t off = (int32_t) be32(types + i * 6);

                if (off < TZ_OFFSET_MIN || off > TZ_OFFSET_MAX || types[i * 6 + 4] > 1 ||
                    types[i * 6 + 5] >= h->charcnt)
                        return -EBADMSG;
                offs[i] = off;
        }

        tz->initial = offs[0];
        tz->n = h->timecnt;
        if (tz->n == 0)
                return 0;
        tz->times = calloc(tz->n, sizeof(int64_t));
        tz->offsets = calloc(tz->n, sizeof(int32_t));
        if (!tz->times || !tz->offsets)
                return -ENOMEM;

        for (size_t i = 0; i < tz->n; i++) {
                int64_t t = time_size == 8 ? (int64_t) be64(times + i * 8) : (int64_t) (int32_t) be32(times + i * 4);

                if (i > 0 && t <= tz->times[i - 1])
                        return -EBADMSG;
                if (idx[i] >= h->typecnt)
                        return -EBADMSG;
                tz->times[i] = t;
                tz->offsets[i] = offs[idx[i]];
        }
        return 0;
}

int tz_parse_tzif(const void *data, size_t size, TimeZone **ret) {
        _cleanup_(tz_freep) TimeZone *tz = NULL;
        const uint8_t *p = data;
        TzifHeader h;
        size_t block;
        int r;

        if (!data || !ret)
                return -EINVAL;

        r = tzif_read_header(p, size, &h);
        if (r < 0)
                return r;
        block = tzif_block_size(&h, 4);
        if (size - 44 < block)
                return -EBADMSG;

        tz = calloc(1, sizeof(*tz));
        if (!tz)
                return -ENOMEM;

        if (h.version == 0) {
                r = tzif_read_block(p + 44, &h, 4, tz);
                if (r < 0)
                        return r;
        } else {
                const uint8_t *footer, *end;
                char tzstr[128];
                size_t len;

                /* Version 2+: skip the 32-bit data, use the 64-bit data and the footer. */
                p += 44 + block;
                size -= 44 + block;
                r = tzif_read_header(p, size, &h);
                if (r < 0)
                        return r;
                block = tzif_block_size(&h, 8);
                if (size - 44 < block)
                        return -EBADMSG;
                r = tzif_read_block(p + 44, &h, 8, tz);
                if (r < 0)
                        return r;

                footer = p + 44 + block;
                size -= 44 + block;
                if (size < 2 || footer[0] != '\n')
                        return -EBADMSG;
                end = memchr(footer + 1, '\n', size - 1);
                if (!end)
                        return -EBADMSG;
                len = (size_t) (end - footer - 1);
                if (len >= sizeof(tzstr) || memchr(footer + 1, '\0', len))
                        return -EBADMSG;
                memcpy(tzstr, footer + 1, len);
                tzstr[len] = '\0';
                if (len > 0 && tz_posix_parse(tzstr, &tz->footer) < 0)
                        return -EBADMSG;
                if (tz->footer.present &&
                    (tz->footer.std_off < TZ_OFFSET_MIN || tz->footer.std_off > TZ_OFFSET_MAX ||
                     tz->footer.dst_off < TZ_OFFSET_MIN || tz->footer.dst_off > TZ_OFFSET_MAX))
                        return -EBADMSG;
        }

        *ret = TAKE_PTR(tz);
        return 0;
}

static int tz_new_utc(TimeZone **ret) {
        TimeZone *tz;

        tz = calloc(1, sizeof(*tz));
        if (!tz)
                return -ENOMEM;
        tz->name = strdup("UTC");
        if (!tz->name) {
                tz_free(tz);
                return -ENOMEM;
        }
        *ret = tz;
        return 0;
}

static int read_small_file(const char *path, uint8_t **ret_data, size_t *ret_size) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ uint8_t *data = NULL;
        struct stat st;
        size_t got = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return errno == ENOENT || errno == ENOTDIR ? -ENOENT : negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -ENOENT;         /* a directory such as "America" is no zone */
        if (st.st_size > TZ_FILE_MAX)
                return -EBADMSG;

        data = malloc((size_t) st.st_size + 1);
        if (!data)
                return -ENOMEM;
        while (got < (size_t) st.st_size) {
                ssize_t k = read(fd, data + got, (size_t) st.st_size - got);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                got += (size_t) k;
        }
        *ret_data = TAKE_PTR(data);
        *ret_size = got;
        return 0;
}

int tz_load_from(const char *dir, const char *name, TimeZone **ret) {
        _cleanup_(tz_freep) TimeZone *tz = NULL;
        _cleanup_free_ char *path = NULL, *real_dir = NULL, *real_path = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        size_t size = 0, dl;
        int r;

        if (!dir || !ret)
                return -EINVAL;
        if (!name || strcmp(name, "UTC") == 0)
                return tz_new_utc(ret);
        if (!tz_name_is_valid(name))
                return -EINVAL;

        path = malloc(strlen(dir) + 1 + strlen(name) + 1);
        if (!path)
                return -ENOMEM;
        (void) sprintf(path, "%s/%s", dir, name);

        /* Symlinks are fine (US/Eastern -> ../America/New_York) as long as
         * they stay inside the zone directory ("localtime" points to /etc). */
        real_dir = realpath(dir, NULL);
        if (!real_dir)
                return errno == ENOMEM ? -ENOMEM : -ENOENT;
        real_path = realpath(path, NULL);
        if (!real_path)
                return errno == ENOMEM ? -ENOMEM : -ENOENT;
        dl = strlen(real_dir);
        if (strncmp(real_path, real_dir, dl) != 0 || (real_path[dl] != '/' && dl != 1))
                return -ENOENT;

        r = read_small_file(real_path, &data, &size);
        if (r < 0)
                return r;
        r = tz_parse_tzif(data, size, &tz);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        tz->name = strdup(name);
        if (!tz->name)
                return -ENOMEM;

        *ret = TAKE_PTR(tz);
        return 0;
}

int tz_load(const char *name, TimeZone **ret) {
        return tz_load_from(TZ_ZONEINFO_DIR, name, ret);
}

/* ------------------------------------------------------------------------ */
/* Local wall-clock time <-> UTC */

/* Local times are "local seconds": the civil date and time in the zone,
 * counted as if it were UTC. Every solution t of t + offset(t) == L lies
 * within this distance of L, since |offset| < 26 h. */
#define TZ_WINDOW (26 * 3600)

/* The instant a local time stands for: the smallest t with
 * t + offset(t) >= L. That is L's only occurrence when there is one, its
 * first occurrence in a fall-back overlap, and the end of the gap for a time
 * skipped by a forward change. It never decreases as L grows. */
static int64_t tz_local_to_utc(const TimeZone *tz, int64_t local) {
        int64_t lo = local - TZ_WINDOW, hi = local + TZ_WINDOW;
        int64_t seg = lo;

        /* Walk the constant-offset segments of [lo, hi]; the first one that
         * reaches `local` holds the answer. A window contains a handful of
         * segments; the cap only guards against a broken zone. */
        for (unsigned i = 0; i < 64 && seg <= hi; i++) {
                int32_t off = tz_utc_offset(tz, seg);
                int64_t next = tz_next_change(tz, seg);
                int64_t cand = MAX(seg, local - off);

                if (cand < next && cand <= hi)
                        return cand;
                seg = next;
        }
        return local - tz_utc_offset(tz, local);
}

/* The largest local time shown at or before UTC instant t (larger than the
 * local time of t just after a fall-back change). */
static int64_t tz_max_local_until(const TimeZone *tz, int64_t t) {
        int64_t seg = t - 2 * TZ_WINDOW;
        int64_t best = t + tz_utc_offset(tz, t);

        for (unsigned i = 0; i < 64 && seg <= t; i++) {
                int64_t next = tz_next_change(tz, seg);
                int64_t last = MIN(next - 1, t);

                best = MAX(best, last + tz_utc_offset(tz, seg));
                seg = next;
        }
        return best;
}

/* ------------------------------------------------------------------------ */
/* Crontab matching on the civil calendar */

typedef struct Civil {
        int64_t year;
        unsigned month, day, hour, minute;
} Civil;

static Civil civil_from_local(int64_t local) {
        int64_t days = floor_div64(local, 86400);
        int64_t secs = local - days * 86400;
        Civil c;

        civil_from_days(days, &c.year, &c.month, &c.day);
        c.hour = (unsigned) (secs / 3600);
        c.minute = (unsigned) (secs / 60 % 60);
        return c;
}

static int64_t civil_to_local(const Civil *c) {
        return civil_to_days(c->year, c->month, c->day) * 86400 + c->hour * 3600 + c->minute * 60;
}

/* Smallest set bit >= from (and <= to), or -1. */
static int bit_next(uint64_t mask, unsigned from, unsigned to) {
        for (unsigned i = from; i <= to; i++)
                if (mask & (UINT64_C(1) << i))
                        return (int) i;
        return -1;
}

/* Largest set bit <= from (and >= to), or -1. */
static int bit_prev(uint64_t mask, int from, int to) {
        for (int i = from; i >= to; i--)
                if (mask & (UINT64_C(1) << i))
                        return i;
        return -1;
}

static bool cron_day_matches(const Schedule *s, const Civil *c) {
        bool dom = s->days_of_month & (UINT32_C(1) << c->day);
        bool dow = s->days_of_week & (1u << weekday_from_days(civil_to_days(c->year, c->month, c->day)));

        /* Vixie cron: both restricted means either one; otherwise both. */
        if (s->dom_restricted && s->dow_restricted)
                return dom || dow;
        return dom && dow;
}

/* The first matching local minute at or after `local`. A schedule that
 * passed cron_can_fire() matches within 400 years of any date. */
static int cron_next_match(const Schedule *s, int64_t local, int64_t *ret) {
        Civil c = civil_from_local(local);
        int64_t year_limit = c.year + 401;

        while (c.year <= year_limit) {
                int b;

                if (!(s->months & (1u << c.month))) {
                        b = bit_next(s->months, c.month + 1, 12);
                        if (b < 0) {
                                c.year++;
                                b = bit_next(s->months, 1, 12);
                        }
                        c.month = (unsigned) b;
                        c.day = 1;
                        c.hour = c.minute = 0;
                        continue;
                }
                if (c.day > days_in_month(c.year, c.month)) {
                        if (++c.month > 12) {
                                c.month = 1;
                                c.year++;
                        }
                        c.day = 1;
                        c.hour = c.minute = 0;
                        continue;
                }
                if (!cron_day_matches(s, &c)) {
                        c.day++;
                        c.hour = c.minute = 0;
                        continue;
                }
                b = bit_next(s->hours, c.hour, 23);
                if (b < 0) {
                        c.day++;
                        c.hour = c.minute = 0;
                        continue;
                }
                if ((unsigned) b != c.hour) {
                        c.hour = (unsigned) b;
                        c.minute = 0;
                }
                b = bit_next(s->minutes, c.minute, 59);
                if (b < 0) {
                        c.hour++;
                        c.minute = 0;
                        if (c.hour > 23) {
                                c.day++;
                                c.hour = 0;
                        }
                        continue;
                }
                c.minute = (unsigned) b;
                if (c.year > YEAR_MAX)
                        return -ERANGE;
                *ret = civil_to_local(&c);
                return 0;
        }
        return -ERANGE;
}

static void civil_prev_day(Civil *c) {
        if (c->day > 1)
                c->day--;
        else {
                if (--c->month < 1) {
                        c->month = 12;
                        c->year--;
                }
                c->day = days_in_month(c->year, c->month);
        }
        c->hour = 23;
        c->minute = 59;
}

/* The last matching local minute at or before `local`. */
static int cron_prev_match(const Schedule *s, int64_t local, int64_t *ret) {
        Civil c = civil_from_local(local);
        int64_t year_limit = c.year - 401;

        while (c.year >= year_limit) {
                int b;

                if (!(s->months & (1u << c.month))) {
                        b = bit_prev(s->months, (int) c.month - 1, 1);
                        if (b < 0) {
                                c.year--;
                                b = bit_prev(s->months, 12, 1);
                        }
                        c.month = (unsigned) b;
                        c.day = days_in_month(c.year, c.month);
                        c.hour = 23;
                        c.minute = 59;
                        continue;
                }
                if (!cron_day_matches(s, &c)) {
                        civil_prev_day(&c);
                        continue;
                }
                b = bit_prev(s->hours, (int) c.hour, 0);
                if (b < 0) {
                        civil_prev_day(&c);
                        continue;
                }
                if ((unsigned) b != c.hour) {
                        c.hour = (unsigned) b;
                        c.minute = 59;
                }
                b = bit_prev(s->minutes, (int) c.minute, 0);
                if (b < 0) {
                        if (c.hour == 0)
                                civil_prev_day(&c);
                        else {
                                c.hour--;
                                c.minute = 59;
                        }
                        continue;
                }
                c.minute = (unsigned) b;
                if (c.year < YEAR_MIN)
                        return -ERANGE;
                *ret = civil_to_local(&c);
                return 0;
        }
        return -ERANGE;
}

/* Bounds for the instants we accept, well inside the years we handle. */
#define T_MIN ((int64_t) -62135596800LL + 4 * 86400)   /* 0001-01-05 */
#define T_MAX ((int64_t) 253402300799LL - 4 * 86400)   /* 9999-12-27 */

/* A bound on candidates skipped inside a fall-back overlap (one a minute). */
#define CANDIDATES_MAX (2 * 24 * 60 + 16)

int schedule_next_in(const Schedule *s, const TimeZone *tz, time_t after, time_t *ret) {
        int64_t local, t = after;

        if (!s || !ret)
                return -EINVAL;
        if (t < T_MIN || t > T_MAX)
                return -ERANGE;

        if (s->kind == SCHEDULE_INTERVAL) {
                int64_t period = (int64_t) (s->interval_usec / USEC_PER_SEC);

                if (period <= 0)
                        return -EINVAL;
                t = (floor_div64(t, period) + 1) * period;
                if (t > T_MAX)
                        return -ERANGE;
                *ret = (time_t) t;
                return 0;
        }
        if (s->kind != SCHEDULE_CRON)
                return -EINVAL;

        /* Every local time before the local time of `after` stands for an
         * instant at or before `after`, so start there. */
        local = floor_div64(t + tz_utc_offset(tz, t), 60) * 60;
        for (unsigned i = 0; i < CANDIDATES_MAX; i++) {
                int64_t match, when;
                int r;

                r = cron_next_match(s, local, &match);
                if (r < 0)
                        return r;
                when = tz_local_to_utc(tz, match);
                if (when > t) {
                        if (when > T_MAX)
                                return -ERANGE;
                        *ret = (time_t) when;
                        return 0;
                }
                local = match + 60;
        }
        return -ERANGE;
}

int schedule_prev_in(const Schedule *s, const TimeZone *tz, time_t t, time_t *ret) {
        int64_t local, tt = t;

        if (!s || !ret)
                return -EINVAL;
        if (tt < T_MIN || tt > T_MAX)
                return -ERANGE;

        if (s->kind == SCHEDULE_INTERVAL) {
                int64_t period = (int64_t) (s->interval_usec / USEC_PER_SEC);

                if (period <= 0)
                        return -EINVAL;
                *ret = (time_t) (floor_div64(tt, period) * period);
                return 0;
        }
        if (s->kind != SCHEDULE_CRON)
                return -EINVAL;

        /* Start from the latest local time shown so far: right after a
         * fall-back change that is later than the local time of t. */
        local = floor_div64(tz_max_local_until(tz, tt), 60) * 60;
        for (unsigned i = 0; i < CANDIDATES_MAX; i++) {
                int64_t match, when;
                int r;

                r = cron_prev_match(s, local, &match);
                if (r < 0)
                        return r;
                when = tz_local_to_utc(tz, match);
                if (when <= tt) {
                        if (when < T_MIN)
                                return -ERANGE;
                        *ret = (time_t) when;
                        return 0;
                }
                local = match - 60;
        }
        return -ERANGE;
}

int schedule_next(const Schedule *s, const char *tz, time_t after, time_t *ret) {
        _cleanup_(tz_freep) TimeZone *zone = NULL;
        int r;

        if (!s || !ret)
                return -EINVAL;
        if (s->kind == SCHEDULE_CRON) {
                r = tz_load(tz, &zone);
                if (r < 0)
                        return r;
        }
        return schedule_next_in(s, zone, after, ret);
}

int schedule_prev(const Schedule *s, const char *tz, time_t t, time_t *ret) {
        _cleanup_(tz_freep) TimeZone *zone = NULL;
        int r;

        if (!s || !ret)
                return -EINVAL;
        if (s->kind == SCHEDULE_CRON) {
                r = tz_load(tz, &zone);
                if (r < 0)
                        return r;
        }
        return schedule_prev_in(s, zone, t, ret);
}

/* ------------------------------------------------------------------------ */

uint64_t splay_usec(const char *instance_id, uint64_t max_usec) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        if (max_usec == 0)
                return 0;
        for (const unsigned char *p = (const unsigned char *) (instance_id ? instance_id : ""); *p; p++) {
                h ^= *p;
                h *= UINT64_C(0x100000001b3);
        }
        /* FNV's low bits mix poorly for ids that differ only at the end. */
        h ^= h >> 30;
        h *= UINT64_C(0xbf58476d1ce4e5b9);
        h ^= h >> 27;
        h *= UINT64_C(0x94d049bb133111eb);
        h ^= h >> 31;
        return h % max_usec;
}
