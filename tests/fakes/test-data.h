/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <time.h>

#include "cdp/macro.h"

/* Small helpers the parser and planner tests share. Each fails the running
 * cmocka test instead of returning an error. */

/* printf into a new string. Ownership: caller frees. */
char *test_strf(const char *fmt, ...) _printf_(1, 2);

/* The whole of $CDP_TEST_DATA/ec2/<name> (default tests/data), NUL-terminated,
 * its length in *ret_len. Ownership: caller frees. */
char *test_fixture_read(const char *name, size_t *ret_len);

/* A UTC calendar time as time_t. */
time_t test_utc(int y, int mo, int d, int h, int mi, int s);
