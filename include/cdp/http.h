/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdp/macro.h"

/* An asynchronous HTTP transport. The real one (http-curl.c) runs libcurl's
 * multi interface on sd-event, so one slow request never holds up another;
 * tests swap in a scripted fake through the same ops table. */

typedef struct HttpRequest {
        const char *method;             /* "GET", "PUT", "POST" */
        const char *url;
        const char *const *headers;     /* "Name: value" lines, NULL-terminated; copied */
        const void *body;               /* copied */
        size_t body_len;
        uint64_t timeout_usec;          /* whole transfer; 0 = default 30 s */
        uint64_t connect_timeout_usec;  /* 0 = default 5 s */
        size_t max_response;            /* body cap; 0 = default 8 MiB */
        bool allow_http;                /* plain http (IMDS, simulator); https always allowed */
        bool sensitive;                 /* answer carries secrets: wiped when freed */
        bool no_proxy;                  /* never through a proxy (IMDS) */
        bool fresh_connection;          /* not on a reused connection: libcurl silently sends a
                                         * request again when a reused one turns out dead, which
                                         * a non-idempotent write must not risk */
} HttpRequest;

typedef struct HttpResponse {
        long status;
        const char *body;               /* NUL-terminated; borrowed for the callback's duration */
        size_t body_len;
        bool connection_reused;
} HttpResponse;

/* error: 0 when an HTTP answer arrived (any status); otherwise
 *   -ETIMEDOUT (time limit), -ECONNREFUSED (nobody listening),
 *   -EHOSTUNREACH / -ENETUNREACH (no route, or the name did not resolve),
 *   -ECONNRESET (connection dropped, empty or partial answer), -E2BIG (body
 *   over the cap), -ENOMEM, -EPROTO (bad TLS or protocol, or a scheme not
 *   allowed), -EIO. A cancelled call gets no callback at all.
 * resp is NULL unless error == 0. The callback must not free the transport
 * nor cancel its own call. */
typedef void (*HttpDoneFn)(int error, const HttpResponse *resp, void *userdata);

typedef struct HttpTransport HttpTransport;
typedef struct HttpCall HttpCall;

typedef struct HttpTransportOps {
        int (*submit)(HttpTransport *t, const HttpRequest *req, HttpDoneFn done, void *userdata,
                      HttpCall **ret_call);
        void (*cancel)(HttpTransport *t, HttpCall *call);
        void (*free)(HttpTransport *t);
} HttpTransportOps;

struct HttpTransport {
        const HttpTransportOps *ops;
};

/* Starts a request. done runs later from the event loop, never from inside
 * http_submit(), exactly once unless the call is cancelled first.
 * ret_call (optional) is a borrowed handle, valid until done runs. */
static inline int http_submit(HttpTransport *t, const HttpRequest *req, HttpDoneFn done,
                              void *userdata, HttpCall **ret_call) {
        return t->ops->submit(t, req, done, userdata, ret_call);
}

/* Cancels a pending call: its done callback is not called. */
static inline void http_cancel(HttpTransport *t, HttpCall *call) {
        if (call)
                t->ops->cancel(t, call);
}

static inline HttpTransport *http_transport_free(HttpTransport *t) {
        if (t)
                t->ops->free(t);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpTransport *, http_transport_free);

typedef struct sd_event sd_event;

/* The libcurl transport on an sd-event loop. Ownership: caller frees *ret
 * with http_transport_free(); it holds a reference on the event loop. */
int http_curl_new(sd_event *event, HttpTransport **ret);
