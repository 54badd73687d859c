/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <systemd/sd-event.h>

#include "cdp/ec2-xml.h"
#include "cdp/ec2.h"
#include "cdp/sigv4.h"

#define EC2_CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"
#define EC2_MAX_RESPONSE (16u * 1024 * 1024)

struct Ec2Call {
        Ec2Client *client;
        char *region;
        StrBuf body;
        bool idempotent;
        bool creds_refreshed;
        bool force_refresh;
        uint64_t deadline;
        unsigned attempts;
        HttpCall *http;
        CredsWaiter *waiter;
        sd_event_source *retry;
        Ec2DoneFn done;
        void *userdata;
        Ec2Call *prev, *next;
};

struct Ec2Client {
        sd_event *event;
        HttpTransport *transport;
        CredsProvider *creds;
        const Clock *clock;
        SigV4Signer *signer;
        char *region;
        char *endpoint;                 /* config ec2_endpoint, or NULL */
        unsigned max_attempts;
        uint64_t timeout_usec;
        uint64_t connect_timeout_usec;
        uint64_t base_delay_usec;
        uint64_t throttle_delay_usec;
        uint64_t max_delay_usec;
        Ec2Stats stats;
        Ec2Call *calls;
};

/* --- classification (pure) --- */

static const char *const throttling_codes[] = {
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException",
        "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
        "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
        "EC2ThrottledException", "SnapshotCreationPerVolumeRateExceeded",
        "ConcurrentSnapshotLimitExceeded",
};

static const char *const server_codes[] = {
        "InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable", "RequestTimeout",
        "RequestTimeoutException",
};

static const char *const credential_codes[] = {
        "AuthFailure", "SignatureDoesNotMatch", "RequestExpired", "ExpiredToken", "ExpiredTokenException",
        "InvalidClientTokenId", "IncompleteSignature", "MissingAuthenticationToken", "InvalidToken",
};

static bool code_in(const char *code, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(code, list[i]) == 0)
                        return true;
        return false;
}

static bool code_is_not_found(const char *code) {
        size_t n = strlen(code);
        return n >= 8 && strcmp(code + n - 8, "NotFound") == 0;
}

Ec2ErrorClass ec2_classify(long http_status, const char *code) {
        if (code && *code) {
                if (strcmp(code, "DryRunOperation") == 0)
                        return EC2_DRY_RUN_OK;
                if (code_in(code, throttling_codes, ELEMENTSOF(throttling_codes)))
                        return EC2_THROTTLED;
                if (code_in(code, server_codes, ELEMENTSOF(server_codes)))
                        return EC2_SERVER;
                if (code_in(code, credential_codes, ELEMENTSOF(credential_codes)))
                        return EC2_CREDENTIALS;
                if (strcmp(code, "UnauthorizedOperation") == 0 || strcmp(code, "OptInRequired") == 0 ||
                    strcmp(code, "AccessDenied") == 0)
                        return EC2_UNAUTHORIZED;
                if (code_is_not_found(code))
                        return EC2_NOT_FOUND;
        }
        if (http_status >= 200 && http_status < 300)
                return EC2_OK;
        if (http_status == 429)
                return EC2_THROTTLED;
        if (http_status >= 500)
                return EC2_SERVER;
        return EC2_INVALID;
}

bool ec2_class_retryable(Ec2ErrorClass cls, bool idempotent) {
        switch (cls) {
        case EC2_THROTTLED:
        case EC2_SERVER:
                /* AWS answered with an error: it did not act. */
                return true;
        case EC2_NETWORK:
        case EC2_TIMEOUT:
        case EC2_MALFORMED:
                /* It may have acted: only safe when doing it twice is harmless. */
                return idempotent;
        default:
                return false;
        }
}

int ec2_class_to_errno(Ec2ErrorClass cls) {
        switch (cls) {
        case EC2_OK:
        case EC2_DRY_RUN_OK:
                return 0;
        case EC2_THROTTLED:
        case EC2_SERVER:
                return -EAGAIN;
        case EC2_NETWORK:
                return -ECONNRESET;
        case EC2_TIMEOUT:
                return -ETIMEDOUT;
        case EC2_MALFORMED:
                return -EBADMSG;
        case EC2_CREDENTIALS:
                return -EKEYREJECTED;
        case EC2_UNAUTHORIZED:
                return -EACCES;
        case EC2_NOT_FOUND:
                return -ENOENT;
        case EC2_INVALID:
        default:
                return -EINVAL;
        }
}

const char *ec2_class_name(Ec2ErrorClass cls) {
        static const char *const names[_EC2_ERROR_CLASS_MAX] = {
                [EC2_OK] = "ok",
                [EC2_DRY_RUN_OK] = "dry-run-ok",
                [EC2_THROTTLED] = "throttled",
                [EC2_SERVER] = "server-error",
                [EC2_NETWORK] = "network-error",
                [EC2_TIMEOUT] = "timeout",
                [EC2_MALFORMED] = "malformed-answer",
                [EC2_CREDENTIALS] = "credentials-rejected",
                [EC2_UNAUTHORIZED] = "unauthorized",
                [EC2_NOT_FOUND] = "not-found",
                [EC2_INVALID] = "invalid-request",
        };
        return (unsigned) cls < _EC2_ERROR_CLASS_MAX ? names[cls] : "unknown";
}

uint64_t ec2_backoff_usec(unsigned retry, uint64_t base, uint64_t cap, uint32_t rnd) {
        uint64_t limit = base;

        for (unsigned i = 0; i < retry && limit < cap; i++)
                limit = limit > cap / 2 ? cap : limit * 2;      /* never wraps past 2^64 */
        if (limit > cap)
                limit = cap;
        /* Full jitter: uniform in [0, limit]. */
        return (uint64_t) (((unsigned __int128) limit * rnd) / UINT32_MAX);
}

static uint32_t random_u32(void) {
        uint32_t v;

        if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t) sizeof(v))
                v = (uint32_t) random();
        return v;
}

/* --- endpoints --- */

static bool valid_region(const char *r) {
        size_t n = r ? strlen(r) : 0;

        if (n < 4 || n > 32)
                return false;
        for (; *r; r++)
                if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') || *r == '-'))
                        return false;
        return true;
}

int ec2_endpoint_resolve(const char *config_endpoint, const char *region, char **ret) {
        const char *e;
        char *s;

        if (!ret || !valid_region(region))
                return -EINVAL;
        e = secure_getenv("AWS_ENDPOINT_URL_EC2");
        if (!e || !*e)
                e = secure_getenv("AWS_ENDPOINT_URL");
        if (!e || !*e)
                e = config_endpoint;
        if (e && *e) {
                if (strncmp(e, "https://", 8) != 0 && strncmp(e, "http://", 7) != 0)
                        return -EINVAL;
                s = strdup(e);
        } else if (asprintf(&s, "https://ec2.%s.amazonaws.com%s", region,
                            strncmp(region, "cn-", 3) == 0 ? ".cn" : "") < 0)
                s = NULL;
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* Splits "scheme://host[:port][/path]" into host and path ("/" if none). */
static int url_split(const char *url, char **ret_host, char **ret_path) {
        const char *h = strstr(url, "://"), *slash;
        char *host, *path;

        if (!h)
                return -EINVAL;
        h += 3;
        slash = strchr(h, '/');
        host = slash ? strndup(h, (size_t) (slash - h)) : strdup(h);
        if (!host)
                return -ENOMEM;
        if (!*host || strpbrk(host, "@ \t\r\n?#")) {
                free(host);
                return -EINVAL;
        }
        path = strdup(slash ? slash : "/");
        if (!path) {
                free(host);
                return -ENOMEM;
        }
        *ret_host = host;
        *ret_path = path;
        return 0;
}

/* --- calls --- */

static void call_unlink(Ec2Call *k) {
        Ec2Client *c = k->client;

        if (k->prev)
                k->prev->next = k->next;
        else if (c->calls == k)
                c->calls = k->next;
        if (k->next)
                k->next->prev = k->prev;
        k->prev = k->next = NULL;
}

static void call_free(Ec2Call *k) {
        if (!k)
                return;
        call_unlink(k);
        http_cancel(k->client->transport, k->http);
        creds_cancel(k->client->creds, k->waiter);
        sd_event_source_disable_unref(k->retry);
        strbuf_done(&k->body);
        free(k->region);
        free(k);
}

void ec2_call_cancel(Ec2Call *k) {
        call_free(k);
}

static void call_finish(Ec2Call *k, Ec2Response *resp) {
        Ec2DoneFn done = k->done;
        void *ud = k->userdata;
        _cleanup_free_ char *region = TAKE_PTR(k->region);
        int error;

        resp->attempts = k->attempts;
        resp->region = region;
        error = ec2_class_to_errno(resp->error_class);
        k->http = NULL;
        k->waiter = NULL;
        call_free(k);
        done(error, resp, ud);
}

static void call_fail_local(Ec2Call *k, int error, const char *code) {
        Ec2Response resp = {
                .error_code = code,
                .error_message = strerror(-error),
                .error_class = error == -ETIMEDOUT ? EC2_TIMEOUT : EC2_INVALID,
        };
        Ec2DoneFn done = k->done;
        void *ud = k->userdata;
        _cleanup_free_ char *region = TAKE_PTR(k->region);

        resp.attempts = k->attempts;
        resp.region = region;
        k->http = NULL;
        k->waiter = NULL;
        call_free(k);
        done(error, &resp, ud);
}

static int call_attempt(Ec2Call *k);

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Ec2Call *k = userdata;
        int r;

        (void) usec;
        k->retry = sd_event_source_disable_unref(s);
        r = call_attempt(k);
        if (r < 0)
                call_fail_local(k, r, r == -ETIMEDOUT ? "Timeout" : "LocalError");
        return 0;
}

/* Whether to try again, and after how long. */
static bool call_should_retry(Ec2Call *k, Ec2ErrorClass cls, uint64_t *ret_delay) {
        Ec2Client *c = k->client;
        uint64_t base, delay, now;

        if (!ec2_class_retryable(cls, k->idempotent) || k->attempts >= c->max_attempts)
                return false;
        base = cls == EC2_THROTTLED ? c->throttle_delay_usec : c->base_delay_usec;
        delay = ec2_backoff_usec(k->attempts - 1, base, c->max_delay_usec, random_u32());
        if (k->deadline) {
                now = clock_now(c->clock, CLOCK_MONOTONIC);
                /* Inside a deadline, wait no longer than leaves room to try. */
                if (now >= k->deadline)
                        return false;
                if (delay > (k->deadline - now) / 2)
                        delay = (k->deadline - now) / 2;
        }
        *ret_delay = delay;
        return true;
}

static void on_http_done(int error, const HttpResponse *hr, void *userdata) {
        Ec2Call *k = userdata;
        Ec2Client *c = k->client;
        _cleanup_(ec2_error_done) Ec2Error err = {};
        _cleanup_free_ char *request_id = NULL;
        Ec2Response resp = {};
        uint64_t delay;
        int r;

        k->http = NULL;
        if (error < 0) {
                resp.error_class = error == -ETIMEDOUT ? EC2_TIMEOUT
                                   : error == -E2BIG  ? EC2_MALFORMED
                                                      : EC2_NETWORK;
                resp.error_code = error == -ETIMEDOUT ? "Timeout"
                                  : error == -E2BIG  ? "ResponseTooLarge"
                                                     : "NetworkError";
                resp.error_message = strerror(-error);
        } else {
                resp.http_status = hr->status;
                if (hr->status == 200) {
                        /* Reading the request id parses the whole document,
                         * so a truncated or garbled answer is caught here. */
                        if (ec2_parse_request_id(hr->body, hr->body_len, &request_id) < 0) {
                                resp.error_class = EC2_MALFORMED;
                                resp.error_code = "MalformedResponse";
                                resp.error_message = "the answer is not a complete EC2 XML document";
                        } else {
                                resp.error_class = EC2_OK;
                                resp.body = hr->body;
                                resp.body_len = hr->body_len;
                                resp.request_id = request_id;
                        }
                } else if (ec2_parse_error(hr->body, hr->body_len, &err) >= 0 && err.code) {
                        resp.error_code = err.code;
                        resp.error_message = err.message;
                        resp.request_id = err.request_id;
                        resp.error_class = ec2_classify(hr->status, err.code);
                } else {
                        resp.error_class = ec2_classify(hr->status, NULL);
                        resp.error_code = hr->status >= 500 ? "ServerError" : "HttpError";
                        resp.error_message = "the error answer could not be read";
                }
        }

        /* Role credentials rotated or revoked under us: fetch new ones once
         * and try again at once. */
        if (resp.error_class == EC2_CREDENTIALS && !k->creds_refreshed &&
            creds_source(c->creds) == CREDS_SOURCE_INSTANCE_ROLE) {
                k->creds_refreshed = true;
                k->force_refresh = true;
                c->stats.credential_refreshes++;
                r = call_attempt(k);
                if (r < 0)
                        call_fail_local(k, r, "LocalError");
                return;
        }

        if (resp.error_class != EC2_OK && resp.error_class != EC2_DRY_RUN_OK &&
            call_should_retry(k, resp.error_class, &delay)) {
                c->stats.retries++;
                r = sd_event_add_time_relative(c->event, &k->retry, CLOCK_MONOTONIC, delay, 1, on_retry, k);
                if (r >= 0)
                        return;
        }

        call_finish(k, &resp);
}

static int call_send(Ec2Call *k, Credentials *cr) {
        Ec2Client *c = k->client;
        _cleanup_free_ char *host = NULL, *path = NULL, *alloc_endpoint = NULL;
        _cleanup_strbuf_ StrBuf h_host = {}, h_date = {}, h_auth = {};
        _cleanup_strbuf_ StrBuf h_token = { .sensitive = true };
        SigV4Result sig = {};
        const char *endpoint;
        const char *headers[7] = {};
        size_t n = 0;
        uint64_t timeout = c->timeout_usec, now;
        int r;

        /* Resolved per call: the region differs for cross-region copies. */
        r = ec2_endpoint_resolve(c->endpoint, k->region, &alloc_endpoint);
        if (r < 0)
                return r;
        endpoint = alloc_endpoint;
        r = url_split(endpoint, &host, &path);
        if (r < 0)
                return r;

        SigV4Header sh[] = {
                { "Content-Type", EC2_CONTENT_TYPE },
                { "Host", host },
        };
        SigV4Request sreq = {
                .method = "POST",
                .path = path,
                .headers = sh,
                .n_headers = ELEMENTSOF(sh),
                .payload = k->body.data,
                .payload_len = k->body.len,
                .normalize_path = true,
        };
        SigV4Credentials screds = {
                .access_key_id = cr->access_key_id,
                .secret_access_key = cr->secret_access_key,
                .session_token = cr->session_token,
        };

        r = sigv4_sign(c->signer, &screds, k->region, "ec2",
                       (time_t) (clock_now(c->clock, CLOCK_REALTIME) / USEC_PER_SEC), &sreq, &sig);
        if (r < 0)
                return r;

        headers[n++] = "Content-Type: " EC2_CONTENT_TYPE;
        if (strbuf_printf(&h_host, "Host: %s", host) < 0 ||
            strbuf_printf(&h_date, "X-Amz-Date: %s", sig.amz_date) < 0 ||
            strbuf_printf(&h_auth, "Authorization: %s", sig.authorization) < 0) {
                sigv4_result_done(&sig);
                return -ENOMEM;
        }
        sigv4_result_done(&sig);
        headers[n++] = h_host.data;
        headers[n++] = h_date.data;
        if (cr->session_token) {
                r = strbuf_printf(&h_token, "X-Amz-Security-Token: %s", secret_data(cr->session_token));
                if (r < 0)
                        return r;
                headers[n++] = h_token.data;
        }
        headers[n++] = h_auth.data;

        if (k->deadline) {
                now = clock_now(c->clock, CLOCK_MONOTONIC);
                if (now >= k->deadline)
                        return -ETIMEDOUT;
                timeout = MIN(timeout, k->deadline - now);
        }

        HttpRequest hreq = {
                .method = "POST",
                .url = endpoint,
                .headers = headers,
                .body = k->body.data,
                .body_len = k->body.len,
                .timeout_usec = MAX(timeout, 1000),
                .connect_timeout_usec = MIN(c->connect_timeout_usec, MAX(timeout, 1000)),
                .max_response = EC2_MAX_RESPONSE,
                .allow_http = strncmp(endpoint, "http://", 7) == 0,
                .fresh_connection = !k->idempotent,
        };
        k->attempts++;
        c->stats.attempts++;
        return http_submit(c->transport, &hreq, on_http_done, k, &k->http);
}

static void on_creds(int error, Credentials *cr, void *userdata) {
        Ec2Call *k = userdata;
        int r;

        k->waiter = NULL;
        if (error < 0) {
                call_fail_local(k, error, error == -ENOKEY ? "NoCredentials" : "CredentialsUnavailable");
                return;
        }
        r = call_send(k, cr);
        if (r < 0)
                call_fail_local(k, r, r == -ETIMEDOUT ? "Timeout" : "LocalError");
}

static int call_attempt(Ec2Call *k) {
        Ec2Client *c = k->client;
        Credentials *cr;

        if (!k->force_refresh) {
                cr = creds_peek(c->creds);
                if (cr)
                        return call_send(k, cr);
        }
        k->force_refresh = false;
        return creds_get(c->creds, k->creds_refreshed, on_creds, k, &k->waiter);
}

static int on_start(sd_event_source *s, void *userdata) {
        Ec2Call *k = userdata;
        int r;

        k->retry = sd_event_source_disable_unref(s);
        r = call_attempt(k);
        if (r < 0)
                call_fail_local(k, r, r == -ETIMEDOUT ? "Timeout" : "LocalError");
        return 0;
}

int ec2_call(Ec2Client *c, const Ec2Query *q, const Ec2CallOptions *opts, Ec2DoneFn done, void *userdata,
             Ec2Call **ret_call) {
        Ec2Call *k;
        const char *region;
        int r;

        if (!c || !q || !done)
                return -EINVAL;
        region = opts && opts->region ? opts->region : c->region;
        if (!valid_region(region))
                return -EINVAL;

        k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        k->client = c;
        k->done = done;
        k->userdata = userdata;
        /* A dry run changes nothing, so it may always be repeated. */
        k->idempotent = ec2_query_is_idempotent(q) || ec2_query_is_dry_run(q);
        k->deadline = opts ? opts->deadline : 0;
        k->body = STRBUF_INIT(1024 * 1024);
        k->region = strdup(region);
        k->next = c->calls;
        if (c->calls)
                c->calls->prev = k;
        c->calls = k;
        if (!k->region) {
                call_free(k);
                return -ENOMEM;
        }
        r = ec2_query_encode(q, &k->body);
        if (r < 0) {
                call_free(k);
                return r;
        }
        /* Start from the loop so done never runs inside ec2_call(). */
        r = sd_event_add_defer(c->event, &k->retry, on_start, k);
        if (r < 0) {
                call_free(k);
                return r;
        }
        c->stats.calls++;
        if (ret_call)
                *ret_call = k;
        return 0;
}

const Ec2Stats *ec2_client_stats(const Ec2Client *c) {
        return &c->stats;
}

int ec2_client_new(Ec2Client **ret, sd_event *event, HttpTransport *transport, CredsProvider *creds,
                   const Clock *clock, const Ec2ClientConfig *config) {
        _cleanup_(ec2_client_freep) Ec2Client *c = NULL;
        int r;

        if (!ret || !event || !transport || !creds || !config || !valid_region(config->region))
                return -EINVAL;
        if (config->endpoint && strncmp(config->endpoint, "https://", 8) != 0 &&
            strncmp(config->endpoint, "http://", 7) != 0)
                return -EINVAL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(event);
        c->transport = transport;
        c->creds = creds;
        c->clock = clock ? clock : clock_real();
        c->region = strdup(config->region);
        if (!c->region)
                return -ENOMEM;
        if (config->endpoint) {
                c->endpoint = strdup(config->endpoint);
                if (!c->endpoint)
                        return -ENOMEM;
        }
        r = sigv4_signer_new(&c->signer);
        if (r < 0)
                return r;
        c->max_attempts = config->max_attempts ? config->max_attempts : 3;
        c->timeout_usec = config->timeout_usec ? config->timeout_usec : 10 * USEC_PER_SEC;
        c->connect_timeout_usec = config->connect_timeout_usec ? config->connect_timeout_usec
                                                               : 3 * USEC_PER_SEC;
        c->base_delay_usec = config->base_delay_usec ? config->base_delay_usec : 100 * USEC_PER_MSEC;
        c->throttle_delay_usec = config->throttle_delay_usec ? config->throttle_delay_usec : USEC_PER_SEC;
        c->max_delay_usec = config->max_delay_usec ? config->max_delay_usec : 20 * USEC_PER_SEC;
        *ret = TAKE_PTR(c);
        return 0;
}

Ec2Client *ec2_client_free(Ec2Client *c) {
        if (!c)
                return NULL;
        while (c->calls)
                call_free(c->calls);
        sigv4_signer_free(c->signer);
        free(c->region);
        free(c->endpoint);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}
