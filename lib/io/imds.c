/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <systemd/sd-event.h>

#include "cdp/imds.h"
#include "cdp/secret.h"
#include "cdp/strbuf.h"

/* Renew this long before the token's TTL ends, so a request never races its
 * expiry. */
#define IMDS_TOKEN_MARGIN_USEC (300 * USEC_PER_SEC)

struct ImdsRequest {
        ImdsClient *client;
        char *path;
        bool sensitive;
        bool retried_401;
        unsigned attempt;
        ImdsDoneFn done;
        void *userdata;
        HttpCall *call;
        sd_event_source *retry;
        ImdsRequest *prev, *next;
        bool waiting;                   /* on the token wait list */
        bool failing;                   /* token fetch failed: finish with its error */
        unsigned token_generation;      /* of the token this request was sent with */
};

struct ImdsClient {
        sd_event *event;
        HttpTransport *transport;
        const Clock *clock;
        char *endpoint;
        uint64_t timeout_usec;
        unsigned max_attempts;
        uint64_t retry_delay_usec;

        Secret *token;
        uint64_t token_renew_at;        /* CLOCK_MONOTONIC usec */
        unsigned token_generation;
        unsigned token_fetches;

        HttpCall *token_call;
        unsigned token_attempt;
        sd_event_source *token_retry;

        ImdsRequest *requests;          /* every live request */
};

static void request_unlink(ImdsRequest *r) {
        ImdsClient *c = r->client;

        if (r->prev)
                r->prev->next = r->next;
        else if (c->requests == r)
                c->requests = r->next;
        if (r->next)
                r->next->prev = r->prev;
        r->prev = r->next = NULL;
}

static void request_free(ImdsRequest *r) {
        if (!r)
                return;
        request_unlink(r);
        http_cancel(r->client->transport, r->call);
        sd_event_source_disable_unref(r->retry);
        free(r->path);
        free(r);
}

static void request_finish(ImdsRequest *r, int error, const char *body, size_t len) {
        ImdsDoneFn done = r->done;
        void *ud = r->userdata;

        r->call = NULL;
        request_free(r);
        done(error, body, len, ud);
}

static int http_error_to_imds(int error) {
        switch (error) {
        case -ECONNREFUSED:
        case -ECONNRESET:
        case -EHOSTUNREACH:
        case -ENETUNREACH:
                return -EHOSTDOWN;
        default:
                return error;
        }
}

static bool token_usable(ImdsClient *c) {
        return c->token && clock_now(c->clock, CLOCK_MONOTONIC) < c->token_renew_at;
}

static int token_fetch_start(ImdsClient *c);
static int request_send(ImdsRequest *r);

static void fail_waiting(ImdsClient *c, int error) {
        ImdsRequest *r;

        /* Only the requests waiting now get this error: one that a callback
         * below starts waits for its own token fetch. */
        for (r = c->requests; r; r = r->next)
                if (r->waiting) {
                        r->waiting = false;
                        r->failing = true;
                }
        for (r = c->requests; r;)
                if (r->failing) {
                        request_finish(r, error, NULL, 0);
                        /* A callback may have freed or added requests: restart. */
                        r = c->requests;
                } else
                        r = r->next;
}

static void flush_waiting(ImdsClient *c) {
        ImdsRequest *r, *next;

        for (r = c->requests; r; r = next) {
                next = r->next;
                if (r->waiting) {
                        int k;

                        r->waiting = false;
                        k = request_send(r);
                        if (k < 0) {
                                request_finish(r, k, NULL, 0);
                                next = c->requests;
                        }
                }
        }
}

static int on_token_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        ImdsClient *c = userdata;
        int r;

        (void) usec;
        c->token_retry = sd_event_source_disable_unref(s);
        r = token_fetch_start(c);
        if (r < 0)
                fail_waiting(c, r);
        return 0;
}

static void token_done(int error, const HttpResponse *resp, void *userdata) {
        ImdsClient *c = userdata;
        size_t len;
        int r;

        c->token_call = NULL;
        if (error == 0 && resp->status == 200) {
                len = resp->body_len;
                while (len > 0 && (resp->body[len - 1] == '\n' || resp->body[len - 1] == '\r'))
                        len--;
                if (len == 0 || len > 1024 || memchr(resp->body, '\n', len)) {
                        fail_waiting(c, -EBADMSG);
                        return;
                }
                c->token = secret_free(c->token);
                r = secret_new(&c->token, resp->body, len);
                if (r < 0) {
                        fail_waiting(c, r);
                        return;
                }
                c->token_generation++;
                c->token_renew_at = clock_now(c->clock, CLOCK_MONOTONIC) +
                                    IMDS_TOKEN_TTL_SEC * USEC_PER_SEC - IMDS_TOKEN_MARGIN_USEC;
                c->token_attempt = 0;
                flush_waiting(c);
                return;
        }

        /* 403: IMDS disabled for this instance, or a proxy header was seen;
         * 400: the TTL was refused. Neither gets better by retrying. */
        if (error == 0 && resp->status >= 400 && resp->status < 500) {
                c->token_attempt = 0;
                fail_waiting(c, resp->status == 403 ? -EACCES : -EBADMSG);
                return;
        }

        if (++c->token_attempt < c->max_attempts) {
                r = sd_event_add_time_relative(c->event, &c->token_retry, CLOCK_MONOTONIC,
                                               c->retry_delay_usec, USEC_PER_MSEC, on_token_retry, c);
                if (r >= 0)
                        return;
        }
        c->token_attempt = 0;
        fail_waiting(c, error < 0 ? http_error_to_imds(error) : -EHOSTDOWN);
}

/* Starts the token PUT unless one is under way. A failure to start is
 * returned, not delivered to waiters: callers run inside imds_get() too. */
static int token_fetch_start(ImdsClient *c) {
        _cleanup_free_ char *url = NULL;
        static const char *const headers[] = {
                "X-aws-ec2-metadata-token-ttl-seconds: 21600",
                NULL,
        };
        HttpRequest req = {
                .method = "PUT",
                .headers = headers,
                .timeout_usec = c->timeout_usec,
                .connect_timeout_usec = c->timeout_usec,
                .max_response = 4096,
                .allow_http = true,
                .sensitive = true,
                .no_proxy = true,
        };

        if (c->token_call || c->token_retry)
                return 0;
        if (asprintf(&url, "%s/latest/api/token", c->endpoint) < 0)
                return -ENOMEM;
        req.url = url;
        c->token_fetches++;
        return http_submit(c->transport, &req, token_done, c, &c->token_call);
}

static void get_done(int error, const HttpResponse *resp, void *userdata);

static int on_request_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        ImdsRequest *r = userdata;
        int k;

        (void) usec;
        r->retry = sd_event_source_disable_unref(s);
        k = request_send(r);
        if (k < 0)
                request_finish(r, k, NULL, 0);
        return 0;
}

static void get_done(int error, const HttpResponse *resp, void *userdata) {
        ImdsRequest *r = userdata;
        ImdsClient *c = r->client;
        int k;

        r->call = NULL;
        if (error == 0) {
                switch (resp->status) {
                case 200:
                        request_finish(r, 0, resp->body, resp->body_len);
                        return;
                case 404:
                        request_finish(r, -ENOENT, NULL, 0);
                        return;
                case 401:
                        if (r->retried_401) {
                                request_finish(r, -EACCES, NULL, 0);
                                return;
                        }
                        /* The token expired or was revoked: one new token, one retry. */
                        r->retried_401 = true;
                        if (r->token_generation == c->token_generation)
                                imds_drop_token(c);
                        k = request_send(r);
                        if (k < 0)
                                request_finish(r, k, NULL, 0);
                        return;
                default:
                        if (resp->status < 500) {
                                request_finish(r, -EBADMSG, NULL, 0);
                                return;
                        }
                        break;
                }
        } else if (error == -E2BIG) {
                request_finish(r, error, NULL, 0);
                return;
        }

        if (++r->attempt >= c->max_attempts) {
                request_finish(r, error < 0 ? http_error_to_imds(error) : -EHOSTDOWN, NULL, 0);
                return;
        }
        k = sd_event_add_time_relative(c->event, &r->retry, CLOCK_MONOTONIC, c->retry_delay_usec, USEC_PER_MSEC,
                                       on_request_retry, r);
        if (k < 0)
                request_finish(r, k, NULL, 0);
}

/* Sends the GET now if a token is at hand, else parks the request until the
 * token fetch (started here if needed) ends. */
static int request_send(ImdsRequest *r) {
        ImdsClient *c = r->client;
        _cleanup_free_ char *url = NULL;
        _cleanup_strbuf_ StrBuf hdr = { .sensitive = true };
        const char *headers[2] = {};
        HttpRequest req = {
                .method = "GET",
                .timeout_usec = c->timeout_usec,
                .connect_timeout_usec = c->timeout_usec,
                .max_response = IMDS_MAX_BODY,
                .allow_http = true,
                .sensitive = r->sensitive,
                .no_proxy = true,
        };
        int k;

        if (!token_usable(c)) {
                k = token_fetch_start(c);
                if (k < 0)
                        return k;
                r->waiting = true;
                return 0;
        }

        if (asprintf(&url, "%s/latest/%s", c->endpoint, r->path) < 0)
                return -ENOMEM;
        k = strbuf_printf(&hdr, "X-aws-ec2-metadata-token: %s", secret_data(c->token));
        if (k < 0)
                return k;
        headers[0] = hdr.data;
        r->token_generation = c->token_generation;
        req.url = url;
        req.headers = headers;
        return http_submit(c->transport, &req, get_done, r, &r->call);
}

int imds_get(ImdsClient *c, const char *path, bool sensitive, ImdsDoneFn done, void *userdata,
             ImdsRequest **ret_req) {
        ImdsRequest *r;
        int k;

        if (!c || !path || !done || path[0] == '/' || strstr(path, ".."))
                return -EINVAL;
        if (strpbrk(path, " \t\r\n?#"))
                return -EINVAL;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->client = c;
        r->sensitive = sensitive;
        r->done = done;
        r->userdata = userdata;
        r->path = strdup(path);
        if (!r->path) {
                free(r);
                return -ENOMEM;
        }
        r->next = c->requests;
        if (c->requests)
                c->requests->prev = r;
        c->requests = r;

        k = request_send(r);
        if (k < 0) {
                request_free(r);
                return k;
        }
        if (ret_req)
                *ret_req = r;
        return 0;
}

void imds_cancel(ImdsRequest *req) {
        request_free(req);
}

void imds_drop_token(ImdsClient *c) {
        c->token = secret_free(c->token);
        c->token_renew_at = 0;
}

bool imds_has_token(const ImdsClient *c) {
        return token_usable((ImdsClient *) c);
}

unsigned imds_token_fetches(const ImdsClient *c) {
        return c->token_fetches;
}

int imds_endpoint_from_env(const char **ret) {
        const char *e;

        e = secure_getenv("AWS_EC2_METADATA_DISABLED");
        if (e && strcasecmp(e, "true") == 0)
                return -ENXIO;
        e = secure_getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        *ret = e && *e ? e : IMDS_DEFAULT_ENDPOINT;
        return 0;
}

int imds_client_new(ImdsClient **ret, sd_event *event, HttpTransport *transport, const Clock *clock,
                    const ImdsConfig *config) {
        ImdsClient *c;
        const char *endpoint = config ? config->endpoint : NULL;
        size_t n;

        if (!ret || !event || !transport)
                return -EINVAL;
        if (!endpoint)
                endpoint = IMDS_DEFAULT_ENDPOINT;
        if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0)
                return -EINVAL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(event);
        c->transport = transport;
        c->clock = clock ? clock : clock_real();
        c->endpoint = strdup(endpoint);
        if (!c->endpoint) {
                imds_client_free(c);
                return -ENOMEM;
        }
        n = strlen(c->endpoint);
        while (n > 0 && c->endpoint[n - 1] == '/')
                c->endpoint[--n] = '\0';
        c->timeout_usec = config && config->timeout_usec ? config->timeout_usec : 1 * USEC_PER_SEC;
        c->max_attempts = config && config->max_attempts ? config->max_attempts : 3;
        c->retry_delay_usec = config && config->retry_delay_usec ? config->retry_delay_usec
                                                                 : 100 * USEC_PER_MSEC;
        *ret = c;
        return 0;
}

ImdsClient *imds_client_free(ImdsClient *c) {
        if (!c)
                return NULL;
        while (c->requests)
                request_free(c->requests);
        http_cancel(c->transport, c->token_call);
        sd_event_source_disable_unref(c->token_retry);
        secret_free(c->token);
        free(c->endpoint);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}
