/* SPDX-License-Identifier: MIT */
#pragma once

/* Strict parsers for values that come from tags, the config file and the
 * command line. Every parser takes the whole string: no leading or trailing
 * whitespace, no sign, no trailing junk. They return 0 on success, -EINVAL
 * when the text does not have the expected shape and -ERANGE when it has the
 * shape but the value is out of range; the output is written only on
 * success. None of them allocates, logs or reads global state. */

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Decimal digits only ("0" .. "18446744073709551615"). Leading zeros are
 * accepted ("007" is 7): they are unambiguous in decimal. */
int parse_uint64(const char *s, uint64_t *ret);

/* parse_uint64() plus a range check, min <= value <= max (-ERANGE outside). */
int parse_uint_range(const char *s, unsigned min, unsigned max, unsigned *ret);

/* Durations: one or more <digits><unit> parts with units d (day), h, m, s,
 * written from the largest unit to the smallest with each unit at most once
 * and nothing in between: "30s", "5m", "90m", "4h", "2d", "1h30m", "1d12h".
 * No bare numbers (the unit is never guessed), no spaces, no fractions,
 * lowercase units only. The total is capped at DURATION_MAX_USEC (-ERANGE
 * above). Zero ("0s", "0m") is -ERANGE unless PARSE_DURATION_ALLOW_ZERO. */
#define DURATION_MAX_USEC (3650ULL * 86400ULL * 1000000ULL)   /* 10 years of 365 days */
enum {
        PARSE_DURATION_ALLOW_ZERO = 1 << 0,
};
int parse_duration(const char *s, uint64_t *ret_usec);
int parse_duration_full(const char *s, unsigned flags, uint64_t *ret_usec);

/* Formats whole seconds of usec the way parse_duration() reads them, largest
 * unit first: 5400 s -> "1h30m", 0 -> "0s". Sub-second parts are dropped.
 * 24 bytes hold any uint64_t. */
#define DURATION_STRING_MAX 24
char *format_duration(uint64_t usec, char buf[static DURATION_STRING_MAX]);

/* RFC 3339 date-time: YYYY-MM-DD"T"hh:mm:ss[.fraction]("Z"|+hh:mm|-hh:mm),
 * "T" and "Z" in either case. The result is UTC seconds; an offset is applied
 * ("2026-11-22T08:00:00+09:00" == "2026-11-21T23:00:00Z"); a fraction
 * (1..9 digits) is truncated towards the earlier second. Dates are checked
 * against the calendar (no Feb 30, Feb 29 only in leap years); years
 * 0001..9999; leap seconds (ss = 60) are rejected. A well-formed text that
 * is no real date or time ("2026-02-30", "24:00:00") gives -ERANGE, as does
 * a result that does not fit time_t. */
int parse_rfc3339_utc(const char *s, time_t *ret);

/* "YYYY-MM-DDThh:mm:ssZ" (20 characters + NUL). -ERANGE outside years
 * 0000..9999 (buf is then left untouched). */
#define RFC3339_UTC_STRING_MAX 21
int format_rfc3339_utc(time_t t, char buf[static RFC3339_UTC_STRING_MAX]);

/* yes/no, true/false, on/off, 1/0, in any letter case. */
int parse_bool(const char *s, bool *ret);

/* Strict dotted quad: exactly four decimal parts 0..255 without leading zeros
 * ("010.0.0.1" is refused, because inet_aton() would read it as octal). */
int parse_ipv4(const char *s, struct in_addr *ret);

/* "a.b.c.d/N", N 0..32 without leading zeros. Returns -EDOM when the address
 * has bits set beyond the prefix ("10.0.0.1/24"): EC2 refuses such a route
 * destination, and silently masking it would hide a typo; the caller can
 * suggest the masked network. ret_prefix and ret_addr are set only on 0. */
int parse_ipv4_cidr(const char *s, struct in_addr *ret_addr, unsigned *ret_prefix);

/* [A-Za-z_][A-Za-z0-9_]* */
bool valid_env_name(const char *s);

/* <prefix>-<8 or 17 lowercase hex digits>, e.g. valid_aws_id(s, "eipalloc")
 * for "eipalloc-0123456789abcdef0" or "eipalloc-1a2b3c4d". */
bool valid_aws_id(const char *s, const char *prefix);

/* Like valid_aws_id() but 1..17 lowercase hex digits, for ids that users
 * shorten in examples ("rtb-0a1"). Still strict in shape. */
bool valid_aws_id_loose(const char *s, const char *prefix);

/* Shape of an AWS region name: a two-letter area, one or two lowercase words
 * and a number 1..99 ("us-east-1", "ap-northeast-1", "us-gov-west-1",
 * "cn-north-1", "us-isob-east-1"). It does not check that the region exists. */
bool valid_aws_region(const char *s);

/* Well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
 * NUL ends the string. */
bool valid_utf8(const char *s);

/* Length in bytes (1..4) of the well-formed UTF-8 character at s; 0 at the
 * terminating NUL or at a byte that does not start a well-formed character. */
size_t utf8_char_len(const char *s);

/* Writes s double-quoted for a log line or an error message: '"', '\\' and
 * control characters escaped (\n, \t, \r, \xNN), bytes that are not UTF-8
 * as \xNN, shortened with "..." inside the quotes to fit out_size (at least
 * 16). The result is printable UTF-8. Returns out. */
char *quote_string(char *out, size_t out_size, const char *s);

/* Proleptic Gregorian calendar helpers (no time zone, no global state).
 * civil_to_days(1970, 1, 1) == 0. month 1..12, day 1..31 (not validated). */
int64_t civil_to_days(int64_t year, unsigned month, unsigned day);
void civil_from_days(int64_t days, int64_t *ret_year, unsigned *ret_month, unsigned *ret_day);
bool year_is_leap(int64_t year);
unsigned days_in_month(int64_t year, unsigned month);
/* 0 = Sunday .. 6 = Saturday */
unsigned weekday_from_days(int64_t days);
