/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "cdp/policy.h"
#include "cdp/strbuf.h"

/* Cloud DI (SPEC 7): what cdpd hands to other services. Pure text builders;
 * writing the files is the caller's. */

/* run_dir/env: one NAME="value" line per cdp:env:NAME tag, sorted by name,
 * quoted so systemd's EnvironmentFile= (and a POSIX shell's `.`) read back
 * exactly the tag's value: backslash, double quote, dollar sign and backtick
 * are escaped. A comment header says where it came from. */
int cloud_di_env_file(const CloudDiPolicy *env, StrBuf *out);

/* run_dir/tags.json: {"instance_id": "...", "tags": {key: value, ...}} with
 * keys sorted, for programs that want every tag. */
int cloud_di_tags_json(const char *instance_id, const char *const *keys, const char *const *values, size_t n,
                       StrBuf *out);
