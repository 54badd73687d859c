/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdp/clock.h"
#include "cdp/http.h"

/* IMDSv2 client (SPEC 3). A session token is fetched with PUT /latest/api/token
 * and reused until shortly before its TTL ends; a 401 answer drops it, fetches
 * a new one and retries that request once. There is no IMDSv1 fallback: a
 * GET is never sent without a token. */

#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
#define IMDS_TOKEN_TTL_SEC 21600
#define IMDS_MAX_BODY (64u * 1024)

typedef struct ImdsClient ImdsClient;

typedef struct ImdsConfig {
        const char *endpoint;           /* NULL = default, or AWS_EC2_METADATA_SERVICE_ENDPOINT */
        uint64_t timeout_usec;          /* per attempt; 0 = 1 s */
        unsigned max_attempts;          /* transport errors and 5xx; 0 = 3 */
        uint64_t retry_delay_usec;      /* between attempts; 0 = 100 ms */
} ImdsConfig;

/* error: 0 and the body on a 200; -ENOENT on 404 (path or feature absent);
 * -EACCES when a fresh token is still refused; -EHOSTDOWN when IMDS cannot be
 * reached after all attempts; -ETIMEDOUT; -EBADMSG for other statuses;
 * -E2BIG for an oversized answer. body is borrowed for the callback only.
 * With `sensitive` the body buffer is wiped after the callback. */
typedef void (*ImdsDoneFn)(int error, const char *body, size_t len, void *userdata);

/* Ownership: caller frees *ret with imds_client_free(); transport, event and
 * clock are borrowed and must outlive the client. endpoint is copied. */
int imds_client_new(ImdsClient **ret, sd_event *event, HttpTransport *transport, const Clock *clock,
                    const ImdsConfig *config);
ImdsClient *imds_client_free(ImdsClient *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(ImdsClient *, imds_client_free);

typedef struct ImdsRequest ImdsRequest;

/* GET <endpoint>/latest/<path> (path like "meta-data/instance-id").
 * done runs from the event loop, never inside this call. ret_req (optional)
 * is a borrowed handle for imds_cancel(), valid until done runs. */
int imds_get(ImdsClient *c, const char *path, bool sensitive, ImdsDoneFn done, void *userdata,
             ImdsRequest **ret_req);

/* Cancels a pending request; its done callback is not called. NULL-safe. */
void imds_cancel(ImdsRequest *req);

/* Forget the cached token (tests, and after the endpoint says it is bad). */
void imds_drop_token(ImdsClient *c);

/* Whether a usable token is cached (so the next GET needs no PUT). */
bool imds_has_token(const ImdsClient *c);

/* Number of token PUTs so far (tests, probe statistics). */
unsigned imds_token_fetches(const ImdsClient *c);

/* Resolve the endpoint from the environment: AWS_EC2_METADATA_DISABLED=true
 * gives -ENXIO; AWS_EC2_METADATA_SERVICE_ENDPOINT overrides the default.
 * Ownership: *ret is borrowed from the environment or a constant. */
int imds_endpoint_from_env(const char **ret);
