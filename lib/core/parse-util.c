/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "cdp/macro.h"
#include "cdp/parse-util.h"

static bool char_is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool char_is_lower_hex(char c) {
        return char_is_digit(c) || (c >= 'a' && c <= 'f');
}

static bool char_is_lower(char c) {
        return c >= 'a' && c <= 'z';
}

/* Reads a run of decimal digits at *p (at least one), advancing *p. No sign,
 * no whitespace: strtoull() would accept both, and "-1" would wrap. */
static int read_digits(const char **p, uint64_t *ret) {
        const char *s = *p;
        uint64_t v = 0;

        if (!char_is_digit(*s))
                return -EINVAL;
        for (; char_is_digit(*s); s++) {
                unsigned d = (unsigned) (*s - '0');

                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *p = s;
        *ret = v;
        return 0;
}

int parse_uint64(const char *s, uint64_t *ret) {
        uint64_t v;
        int r;

        if (!s || !ret)
                return -EINVAL;
        r = read_digits(&s, &v);
        if (r < 0)
                return r;
        if (*s != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_uint_range(const char *s, unsigned min, unsigned max, unsigned *ret) {
        uint64_t v;
        int r;

        if (!ret || min > max)
                return -EINVAL;
        r = parse_uint64(s, &v);
        if (r < 0)
                return r;
        if (v < min || v > max)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

static const struct {
        char unit;
        uint64_t usec;
} duration_units[] = {
        /* Largest first: this order is the only one accepted. */
        { 'd', 86400ULL * USEC_PER_SEC },
        { 'h', 3600ULL * USEC_PER_SEC },
        { 'm', 60ULL * USEC_PER_SEC },
        { 's', USEC_PER_SEC },
};

int parse_duration_full(const char *s, unsigned flags, uint64_t *ret_usec) {
        uint64_t total = 0;
        size_t next_unit = 0;
        bool too_big = false;

        if (!s || !ret_usec || *s == '\0')
                return -EINVAL;

        while (*s != '\0') {
                uint64_t n;
                size_t i;
                int r;

                r = read_digits(&s, &n);
                if (r == -ERANGE) {
                        /* Keep checking the shape: a syntax error wins over a range error. */
                        too_big = true;
                        while (char_is_digit(*s))
                                s++;
                        n = 0;
                } else if (r < 0)
                        return r;

                for (i = next_unit; i < ELEMENTSOF(duration_units); i++)
                        if (duration_units[i].unit == *s)
                                break;
                if (i >= ELEMENTSOF(duration_units))
                        return -EINVAL;   /* no unit, unknown unit, or units out of order */
                s++;
                next_unit = i + 1;

                if (n > DURATION_MAX_USEC / duration_units[i].usec)
                        too_big = true;
                else {
                        total += n * duration_units[i].usec;
                        if (total > DURATION_MAX_USEC)
                                too_big = true;
                }
        }

        if (too_big)
                return -ERANGE;
        if (total == 0 && !(flags & PARSE_DURATION_ALLOW_ZERO))
                return -ERANGE;
        *ret_usec = total;
        return 0;
}

int parse_duration(const char *s, uint64_t *ret_usec) {
        return parse_duration_full(s, 0, ret_usec);
}

char *format_duration(uint64_t usec, char buf[static DURATION_STRING_MAX]) {
        uint64_t left = usec / USEC_PER_SEC;
        size_t len = 0;

        buf[0] = '\0';
        if (left == 0) {
                memcpy(buf, "0s", 3);
                return buf;
        }
        for (size_t i = 0; i < ELEMENTSOF(duration_units); i++) {
                uint64_t unit_sec = duration_units[i].usec / USEC_PER_SEC;
                uint64_t n = left / unit_sec;
                int k;

                if (n == 0)
                        continue;
                left -= n * unit_sec;
                k = snprintf(buf + len, DURATION_STRING_MAX - len, "%llu%c",
                             (unsigned long long) n, duration_units[i].unit);
                if (k < 0 || (size_t) k >= DURATION_STRING_MAX - len)
                        break;   /* cannot happen: 2^64/86400 has 15 digits */
                len += (size_t) k;
        }
        return buf;
}

bool year_is_leap(int64_t year) {
        return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

unsigned days_in_month(int64_t year, unsigned month) {
        static const unsigned char days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

        if (month < 1 || month > 12)
                return 0;
        if (month == 2 && year_is_leap(year))
                return 29;
        return days[month - 1];
}

/* Howard Hinnant's days_from_civil: eras of 400 years, March-based years so
 * that the leap day is the last day of the year. */
int64_t civil_to_days(int64_t year, unsigned month, unsigned day) {
        int64_t y = year - (month <= 2);
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        int64_t yoe = y - era * 400;                                    /* [0, 399] */
        int64_t mp = (int64_t) month + (month > 2 ? -3 : 9);            /* [0, 11], March = 0 */
        int64_t doy = (153 * mp + 2) / 5 + (int64_t) day - 1;           /* [0, 365] */
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            /* [0, 146096] */

        return era * 146097 + doe - 719468;
}

void civil_from_days(int64_t days, int64_t *ret_year, unsigned *ret_month, unsigned *ret_day) {
        int64_t z = days + 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153;
        int64_t d = doy - (153 * mp + 2) / 5 + 1;
        int64_t m = mp < 10 ? mp + 3 : mp - 9;

        *ret_year = yoe + era * 400 + (m <= 2);
        *ret_month = (unsigned) m;
        *ret_day = (unsigned) d;
}

unsigned weekday_from_days(int64_t days) {
        /* 1970-01-01 was a Thursday. */
        int64_t w = (days + 4) % 7;

        return (unsigned) (w < 0 ? w + 7 : w);
}

/* Exactly n digits at *p. */
static int read_fixed(const char **p, size_t n, unsigned *ret) {
        unsigned v = 0;

        for (size_t i = 0; i < n; i++) {
                char c = (*p)[i];

                if (!char_is_digit(c))
                        return -EINVAL;
                v = v * 10 + (unsigned) (c - '0');
        }
        *p += n;
        *ret = v;
        return 0;
}

static int expect_char(const char **p, char c) {
        if (**p != c)
                return -EINVAL;
        (*p)++;
        return 0;
}

int parse_rfc3339_utc(const char *s, time_t *ret) {
        unsigned year, month, day, hour, minute, second;
        int64_t t, offset = 0;

        if (!s || !ret)
                return -EINVAL;

        if (read_fixed(&s, 4, &year) < 0 || expect_char(&s, '-') < 0 ||
            read_fixed(&s, 2, &month) < 0 || expect_char(&s, '-') < 0 ||
            read_fixed(&s, 2, &day) < 0)
                return -EINVAL;
        if (*s != 'T' && *s != 't')
                return -EINVAL;
        s++;
        if (read_fixed(&s, 2, &hour) < 0 || expect_char(&s, ':') < 0 ||
            read_fixed(&s, 2, &minute) < 0 || expect_char(&s, ':') < 0 ||
            read_fixed(&s, 2, &second) < 0)
                return -EINVAL;

        if (*s == '.') {
                size_t n = 0;

                for (s++; char_is_digit(*s); s++)
                        n++;
                if (n < 1 || n > 9)
                        return -EINVAL;
        }

        if (*s == 'Z' || *s == 'z')
                s++;
        else if (*s == '+' || *s == '-') {
                int sign = *s == '-' ? -1 : 1;
                unsigned oh, om;

                s++;
                if (read_fixed(&s, 2, &oh) < 0 || expect_char(&s, ':') < 0 ||
                    read_fixed(&s, 2, &om) < 0)
                        return -EINVAL;
                if (oh > 23 || om > 59)
                        return -EINVAL;
                offset = sign * (int64_t) (oh * 3600 + om * 60);
        } else
                return -EINVAL;
        if (*s != '\0')
                return -EINVAL;

        /* The right shape but not a real date or time: out of range. */
        if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month))
                return -ERANGE;
        if (hour > 23 || minute > 59 || second > 59)
                return -ERANGE;

        t = civil_to_days(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
        if ((int64_t) (time_t) t != t)
                return -ERANGE;     /* 32-bit time_t */
        *ret = (time_t) t;
        return 0;
}

static int64_t floor_div(int64_t a, int64_t b) {
        return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int format_rfc3339_utc(time_t t, char buf[static RFC3339_UTC_STRING_MAX]) {
        int64_t days = floor_div((int64_t) t, 86400);
        int64_t secs = (int64_t) t - days * 86400;
        int64_t year;
        unsigned month, day;

        civil_from_days(days, &year, &month, &day);
        if (year < 0 || year > 9999)
                return -ERANGE;
        (void) snprintf(buf, RFC3339_UTC_STRING_MAX, "%04u-%02u-%02uT%02u:%02u:%02uZ",
                        (unsigned) year, month, day,
                        (unsigned) (secs / 3600), (unsigned) (secs / 60 % 60), (unsigned) (secs % 60));
        return 0;
}

int parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = { "1", "yes", "true", "on" };
        static const char *const no[] = { "0", "no", "false", "off" };

        if (!s || !ret)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

/* A decimal 0..max without leading zeros and at most 3 digits. */
static int read_small_decimal(const char **p, unsigned max, unsigned *ret) {
        const char *s = *p;
        unsigned v = 0;
        size_t n = 0;

        while (n < 4 && char_is_digit(s[n])) {
                v = v * 10 + (unsigned) (s[n] - '0');
                n++;
        }
        if (n == 0 || n > 3 || (n > 1 && s[0] == '0') || v > max)
                return -EINVAL;
        *p = s + n;
        *ret = v;
        return 0;
}

static int read_ipv4(const char **p, uint32_t *ret_host_order) {
        const char *s = *p;
        uint32_t a = 0;

        for (unsigned i = 0; i < 4; i++) {
                unsigned part;

                if (i > 0 && expect_char(&s, '.') < 0)
                        return -EINVAL;
                if (read_small_decimal(&s, 255, &part) < 0)
                        return -EINVAL;
                a = (a << 8) | part;
        }
        *p = s;
        *ret_host_order = a;
        return 0;
}

int parse_ipv4(const char *s, struct in_addr *ret) {
        uint32_t a;

        if (!s || !ret)
                return -EINVAL;
        if (read_ipv4(&s, &a) < 0 || *s != '\0')
                return -EINVAL;
        ret->s_addr = htonl(a);
        return 0;
}

int parse_ipv4_cidr(const char *s, struct in_addr *ret_addr, unsigned *ret_prefix) {
        unsigned prefix;
        uint32_t a, mask;

        if (!s || !ret_addr || !ret_prefix)
                return -EINVAL;
        if (read_ipv4(&s, &a) < 0 || expect_char(&s, '/') < 0 ||
            read_small_decimal(&s, 32, &prefix) < 0 || *s != '\0')
                return -EINVAL;

        mask = prefix == 0 ? 0 : UINT32_MAX << (32 - prefix);
        if (a & ~mask)
                return -EDOM;

        ret_addr->s_addr = htonl(a);
        *ret_prefix = prefix;
        return 0;
}

bool valid_env_name(const char *s) {
        if (!s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
                return false;
        for (s++; *s; s++)
                if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_' || char_is_digit(*s)))
                        return false;
        return true;
}

/* Number of lowercase hex digits after "<prefix>-", or 0 when the shape is wrong. */
static size_t aws_id_hex_len(const char *s, const char *prefix) {
        size_t pl, n = 0;

        if (!s || !prefix)
                return 0;
        pl = strlen(prefix);
        if (pl == 0 || strncmp(s, prefix, pl) != 0 || s[pl] != '-')
                return 0;
        for (s += pl + 1; s[n]; n++)
                if (!char_is_lower_hex(s[n]) || n >= 17)
                        return 0;
        return n;
}

bool valid_aws_id(const char *s, const char *prefix) {
        size_t n = aws_id_hex_len(s, prefix);

        return n == 8 || n == 17;
}

bool valid_aws_id_loose(const char *s, const char *prefix) {
        return aws_id_hex_len(s, prefix) >= 1;
}

/* Lowercase word of 2..12 letters followed by '-'. */
static bool read_region_word(const char **p, size_t min, size_t max) {
        size_t n = 0;

        while (char_is_lower((*p)[n]))
                n++;
        if (n < min || n > max || (*p)[n] != '-')
                return false;
        *p += n + 1;
        return true;
}

bool valid_aws_region(const char *s) {
        unsigned words = 0, number;

        if (!s || !read_region_word(&s, 2, 2))
                return false;
        /* One ("east") or two ("gov-west", "isob-east") words, then the number. */
        while (!char_is_digit(*s)) {
                if (++words > 2 || !read_region_word(&s, 2, 12))
                        return false;
        }
        if (words < 1)
                return false;
        if (read_small_decimal(&s, 99, &number) < 0 || number < 1 || *s != '\0')
                return false;
        return true;
}

size_t utf8_char_len(const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        unsigned c = p[0], n, cp;

        if (c == 0)
                return 0;
        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf) {
                n = 1;
                cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
                n = 2;
                cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
                n = 3;
                cp = c & 0x07;
        } else
                return 0;       /* continuation byte, overlong lead, or > U+10FFFF */

        for (unsigned i = 1; i <= n; i++) {
                /* Stops at a NUL too: 0x00 is no continuation byte. */
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n + 1;
}

bool valid_utf8(const char *s) {
        if (!s)
                return false;
        while (*s) {
                size_t n = utf8_char_len(s);

                if (n == 0)
                        return false;
                s += n;
        }
        return true;
}

char *quote_string(char *out, size_t out_size, const char *s) {
        size_t o = 0;

        out[o++] = '"';
        while (*s) {
                char rep[8];
                size_t n = utf8_char_len(s), rl;
                unsigned char c = (unsigned char) *s;

                if (n == 0 || (n == 1 && (c < 0x20 || c == 0x7f))) {
                        if (c == '\n')
                                memcpy(rep, "\\n", rl = 2);
                        else if (c == '\t')
                                memcpy(rep, "\\t", rl = 2);
                        else if (c == '\r')
                                memcpy(rep, "\\r", rl = 2);
                        else
                                rl = (size_t) snprintf(rep, sizeof(rep), "\\x%02x", c);
                        n = 1;
                } else if (n == 1 && (c == '"' || c == '\\')) {
                        rep[0] = '\\';
                        rep[1] = (char) c;
                        rl = 2;
                } else {
                        memcpy(rep, s, n);
                        rl = n;
                }
                /* Room for this, the "..." that may follow, the quote and NUL. */
                if (o + rl + 5 > out_size) {
                        memcpy(out + o, "...", 3);
                        o += 3;
                        break;
                }
                memcpy(out + o, rep, rl);
                o += rl;
                s += n;
        }
        out[o++] = '"';
        out[o] = '\0';
        return out;
}
