/* SPDX-License-Identifier: MIT */
#pragma once

/* AWS Signature Version 4 (AWS4-HMAC-SHA256), header ("Authorization")
 * signing. Pure computation: the time is an input, nothing is logged.
 *
 * What the signer produces for a request:
 *   X-Amz-Date:           ret->amz_date
 *   X-Amz-Security-Token: the session token (when creds->session_token is set;
 *                         it is part of the signature, as botocore does)
 *   Authorization:        ret->authorization
 * The caller adds those headers to the request it sends; the other headers
 * (Host included) must be sent exactly as passed in req->headers.
 *
 * Canonicalisation rules (botocore's and aws-c-auth's for non-S3 services;
 * all of AWS's SigV4 test vectors pass):
 *   - URI: the path as sent on the wire is, when normalize_path is set,
 *     cleared of empty, "." and ".." segments as botocore does ("//a//" ->
 *     "/a/", "/a/b/.." -> "/a", "/.." -> "/"), then percent-encoded once more
 *     with '/' kept ("double encoding": the wire path "/a%20b" signs as
 *     "/a%2520b").
 *   - Query: split on '&' (empty pieces skipped), each key and value
 *     %-decoded ('+' stays '+') and re-encoded, sorted by encoded key then
 *     encoded value; "key=" when the value is empty or missing.
 *   - Headers: names lower-cased; values trimmed of SP/HT and inner runs of
 *     SP/HT collapsed to one SP; repeated names joined with ',' in the order
 *     given; sorted by name.
 *   - Payload: hex SHA-256 of the body (no x-amz-content-sha256 header).
 *
 * A signer caches the derived signing key for one (date, region, service,
 * access key id, secret) and keeps scratch buffers between calls, so it is
 * NOT thread-safe: use one signer per thread. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cdp/macro.h"
#include "cdp/secret.h"

/* At most this many entries in SigV4Request.headers (-E2BIG beyond). */
#define SIGV4_HEADERS_MAX 256
/* At most this many query parameters (-E2BIG beyond). */
#define SIGV4_QUERY_PARAMS_MAX 4096
/* Upper bound on a canonical request (-E2BIG beyond). */
#define SIGV4_CANONICAL_REQUEST_MAX (1024 * 1024)

typedef struct SigV4Header {
        const char *name;
        const char *value;
} SigV4Header;

typedef struct SigV4Request {
        const char *method;            /* "POST" */
        const char *path;              /* raw path as sent on the wire, e.g. "/" or "/a%20b"; NULL or "" = "/" */
        const char *query;             /* raw query after '?', or NULL */
        const SigV4Header *headers;    /* headers to sign, incl. Host; the signer adds X-Amz-Date and X-Amz-Security-Token */
        size_t n_headers;
        const void *payload;
        size_t payload_len;
        bool normalize_path;           /* collapse . .. // (true for every non-S3 service incl. EC2) */
} SigV4Request;

typedef struct SigV4Credentials {
        const char *access_key_id;
        const Secret *secret_access_key;
        const Secret *session_token;   /* NULL: none; else signed as X-Amz-Security-Token */
} SigV4Credentials;

typedef struct SigV4Result {
        char amz_date[17];             /* "20150830T123600Z" */
        char *authorization;           /* full Authorization value; caller frees via sigv4_result_done */
        char *canonical_request;       /* only when SigV4Signer debug flag set (tests) */
        char *string_to_sign;          /* idem */
        char signature[65];
} SigV4Result;

typedef struct SigV4Signer SigV4Signer;

/* Creates a signer; fetches SHA-256 and HMAC from OpenSSL once.
 * Returns 0, -ENOMEM, or -EIO when OpenSSL lacks the algorithms.
 * Ownership: caller frees *ret with sigv4_signer_free(). */
int sigv4_signer_new(SigV4Signer **ret);

/* Wipes the cached signing key and every scratch buffer, then frees.
 * NULL-safe; returns NULL. */
SigV4Signer *sigv4_signer_free(SigV4Signer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(SigV4Signer *, sigv4_signer_free);
#define _cleanup_sigv4_signer_ _cleanup_(sigv4_signer_freep)

/* With keep_intermediates, sigv4_sign() also returns the canonical request
 * and the string to sign (for tests and debugging; the canonical request
 * contains the session token). */
void sigv4_signer_set_debug(SigV4Signer *s, bool keep_intermediates);

/* How many times this signer has derived a signing key (i.e. missed its
 * cache); for tests and statistics. */
uint64_t sigv4_signer_get_key_derivations(const SigV4Signer *s);

/* Signs req at time now (seconds since the epoch, UTC; years 1970..9999).
 * region and service: non-empty, no '/', whitespace or control characters.
 * access_key_id: non-empty, no '/', ',', whitespace or control characters.
 * Returns 0 and fills *ret; -EINVAL for invalid input, notably: a CR or LF in
 * a header value, the method, path, query or session token (header
 * injection); a header name that is not an HTTP token; no Host header; an
 * X-Amz-Date, X-Amz-Security-Token or Authorization header in req->headers
 * (the signer owns those); a malformed %-escape in the query.
 * -E2BIG past SIGV4_HEADERS_MAX / SIGV4_QUERY_PARAMS_MAX /
 * SIGV4_CANONICAL_REQUEST_MAX, -ENOMEM, -EIO
 * (OpenSSL failure). *ret is untouched on failure; on success it must not
 * hold a previous result (call sigv4_result_done() first).
 * Ownership: caller releases *ret with sigv4_result_done(). */
int sigv4_sign(SigV4Signer *s, const SigV4Credentials *creds, const char *region, const char *service,
               time_t now, const SigV4Request *req, SigV4Result *ret);

/* Frees the strings in r (wiping the canonical request, which holds the
 * session token) and zeroes r. NULL-safe, idempotent. */
void sigv4_result_done(SigV4Result *r);

/* Formats now as "YYYYMMDDTHHMMSSZ" (UTC). -EINVAL outside 1970..9999. */
int sigv4_format_amz_date(time_t now, char ret[static 17]);
