/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdp/clock.h"
#include "cdp/creds.h"
#include "cdp/ec2-query.h"
#include "cdp/http.h"

/* EC2 Query API client: signs (SigV4), POSTs, classifies the answer and
 * retries as the AWS SDKs' "standard" mode does (SPEC 3). Typed parsing of
 * the answer is the caller's (ec2-xml.h). */

typedef enum Ec2ErrorClass {
        EC2_OK,
        EC2_DRY_RUN_OK,         /* DryRunOperation: the call would have been allowed */
        EC2_THROTTLED,          /* RequestLimitExceeded, Throttling, ... */
        EC2_SERVER,             /* 5xx, InternalError, Unavailable */
        EC2_NETWORK,            /* connection refused, reset, dropped */
        EC2_TIMEOUT,
        EC2_MALFORMED,          /* an answer we could not read */
        EC2_CREDENTIALS,        /* AuthFailure, SignatureDoesNotMatch, RequestExpired, ... */
        EC2_UNAUTHORIZED,       /* UnauthorizedOperation: IAM said no */
        EC2_NOT_FOUND,          /* *.NotFound */
        EC2_INVALID,            /* InvalidParameter*, MissingParameter, other 4xx */
        _EC2_ERROR_CLASS_MAX,
} Ec2ErrorClass;

typedef struct Ec2Response {
        long http_status;               /* 0 when no HTTP answer arrived */
        const char *body;               /* the 200 answer (borrowed, NUL-terminated) */
        size_t body_len;
        const char *request_id;         /* borrowed, may be NULL */
        const char *error_code;         /* AWS code, or a local one ("Timeout", "NetworkError"); NULL on success */
        const char *error_message;
        Ec2ErrorClass error_class;
        unsigned attempts;
        const char *region;             /* the region the call was signed for */
} Ec2Response;

/* error: 0 (EC2_OK or EC2_DRY_RUN_OK), else the class as a negative errno:
 * -EAGAIN (throttled or server errors, retries used up), -ECONNRESET
 * (network), -ETIMEDOUT, -EBADMSG, -EKEYREJECTED (credentials), -EACCES
 * (unauthorized), -ENOENT (not found), -EINVAL (invalid), or a local error
 * (-ENOKEY no credentials, -ENOMEM). resp is always non-NULL; borrowed for
 * the callback only. */
typedef void (*Ec2DoneFn)(int error, const Ec2Response *resp, void *userdata);

typedef struct Ec2ClientConfig {
        const char *region;             /* default region (required) */
        const char *endpoint;           /* config ec2_endpoint (serves every region), or NULL;
                                         * AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL still win */
        unsigned max_attempts;          /* 0 = 3 */
        uint64_t timeout_usec;          /* one attempt; 0 = 10 s */
        uint64_t connect_timeout_usec;  /* 0 = 3 s */
        uint64_t base_delay_usec;       /* transient errors; 0 = 100 ms */
        uint64_t throttle_delay_usec;   /* throttling; 0 = 1 s */
        uint64_t max_delay_usec;        /* 0 = 20 s */
} Ec2ClientConfig;

typedef struct Ec2CallOptions {
        const char *region;             /* NULL = the client's default */
        uint64_t deadline;              /* CLOCK_MONOTONIC usec; 0 = none. Caps attempts and backoff. */
} Ec2CallOptions;

typedef struct Ec2Client Ec2Client;
typedef struct Ec2Call Ec2Call;

/* Ownership: caller frees *ret with ec2_client_free(); event, transport,
 * creds and clock are borrowed and must outlive it. Strings are copied. */
int ec2_client_new(Ec2Client **ret, sd_event *event, HttpTransport *transport, CredsProvider *creds,
                   const Clock *clock, const Ec2ClientConfig *config);
Ec2Client *ec2_client_free(Ec2Client *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Ec2Client *, ec2_client_free);

/* Starts a call; the query is encoded now, so the caller may free it at once.
 * done runs from the event loop, never inside ec2_call(). ret_call
 * (optional) is borrowed, valid until done runs. */
int ec2_call(Ec2Client *c, const Ec2Query *q, const Ec2CallOptions *opts, Ec2DoneFn done, void *userdata,
             Ec2Call **ret_call);
void ec2_call_cancel(Ec2Call *call);

/* The endpoint URL for region: AWS_ENDPOINT_URL_EC2, then AWS_ENDPOINT_URL,
 * then config_endpoint, then https://ec2.<region>.amazonaws.com (.com.cn in
 * China). Ownership: caller frees *ret. */
int ec2_endpoint_resolve(const char *config_endpoint, const char *region, char **ret);

/* Building blocks, pure, exposed for tests. */
Ec2ErrorClass ec2_classify(long http_status, const char *code);
bool ec2_class_retryable(Ec2ErrorClass cls, bool idempotent);
int ec2_class_to_errno(Ec2ErrorClass cls);
const char *ec2_class_name(Ec2ErrorClass cls);
/* Full-jitter exponential backoff: random in [0, min(cap, base * 2^retry)]
 * where retry counts from 0; rnd is a uniform 32-bit random number. */
uint64_t ec2_backoff_usec(unsigned retry, uint64_t base, uint64_t cap, uint32_t rnd);

/* Statistics, for tests and benchmarks. */
typedef struct Ec2Stats {
        unsigned calls;
        unsigned attempts;
        unsigned retries;
        unsigned credential_refreshes;
} Ec2Stats;
const Ec2Stats *ec2_client_stats(const Ec2Client *c);
