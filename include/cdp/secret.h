/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "cdp/macro.h"

/* A secret (secret access key, session token, IMDS token) lives only in a
 * Secret: heap memory excluded from core dumps, wiped with OPENSSL_cleanse
 * when freed. Never print secret_data(). */
typedef struct Secret Secret;

/* Copies len bytes of data into a new Secret (NUL-terminated as well).
 * Ownership: *ret belongs to the caller, free with secret_free(). */
int secret_new(Secret **ret, const char *data, size_t len);

/* Wipes and frees; NULL-safe; returns NULL. */
Secret *secret_free(Secret *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Secret *, secret_free);
#define _cleanup_secret_ _cleanup_(secret_freep)

/* Borrowed pointer, valid until secret_free(). Always NUL-terminated. */
const char *secret_data(const Secret *s);
size_t secret_len(const Secret *s);

/* Constant-time equality of two secrets' contents. */
int secret_equal(const Secret *a, const Secret *b);

/* Wipe then free a plain heap string that held secret material. */
void erase_and_free(char *p, size_t len);
