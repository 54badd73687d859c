/* SPDX-License-Identifier: MIT */
/* HttpTransport over libcurl's multi interface, driven by sd-event: curl
 * tells us which sockets to watch and when to wake it (socket and timer
 * callbacks), sd-event tells curl when they are ready. Every transfer runs
 * concurrently on one loop and idle connections are kept for reuse. */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <systemd/sd-event.h>

#include "cdp/http.h"
#include "cdp/strbuf.h"

#define HTTP_DEFAULT_TIMEOUT_USEC (30 * USEC_PER_SEC)
#define HTTP_DEFAULT_CONNECT_USEC (5 * USEC_PER_SEC)
#define HTTP_DEFAULT_MAX_RESPONSE (8u * 1024 * 1024)
/* Idle keep-alive connections kept for reuse (IMDS and the EC2 endpoints of
 * one or two regions). libcurl's default grows the pool with the number of
 * handles ever added, so a burst of parallel calls (check's 8 dry runs, the
 * snapshot deletes) would leave sockets open for good; a fixed cap keeps a
 * long-running daemon's descriptor count bounded. */
#define HTTP_MAX_IDLE_CONNECTIONS 8L

typedef struct CurlTransport CurlTransport;

struct HttpCall {
        CurlTransport *owner;
        CURL *easy;
        struct curl_slist *headers;
        StrBuf body;
        int write_error;                /* strbuf's error when the body could not be stored */
        HttpDoneFn done;
        void *userdata;
        HttpCall *prev, *next;
};

struct CurlTransport {
        HttpTransport base;
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        HttpCall *calls;
};

static void slist_free_wiped(struct curl_slist *l) {
        /* Header lines carry the session token: wipe before freeing. */
        for (struct curl_slist *i = l; i; i = i->next)
                OPENSSL_cleanse(i->data, strlen(i->data));
        curl_slist_free_all(l);
}

static void call_free(HttpCall *c) {
        if (!c)
                return;
        if (c->easy) {
                if (c->owner)
                        (void) curl_multi_remove_handle(c->owner->multi, c->easy);
                curl_easy_cleanup(c->easy);
        }
        slist_free_wiped(c->headers);
        strbuf_done(&c->body);
        free(c);
}

static void call_unlink(CurlTransport *t, HttpCall *c) {
        if (c->prev)
                c->prev->next = c->next;
        else if (t->calls == c)
                t->calls = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
}

static int curl_code_to_errno(CURLcode code, int write_error, long os_errno) {
        switch (code) {
        case CURLE_OK:
                return 0;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_COULDNT_CONNECT:
                /* curl folds "no route" into "could not connect" */
                if (os_errno == EHOSTUNREACH || os_errno == ENETUNREACH)
                        return -(int) os_errno;
                return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
                return -ECONNRESET;
        case CURLE_WRITE_ERROR:
                return write_error < 0 ? write_error : -EIO;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_WEIRD_SERVER_REPLY:
                return -EPROTO;
        default:
                return -EIO;
        }
}

static void transport_check_finished(CurlTransport *t) {
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(t->multi, &left))) {
                HttpCall *c = NULL;
                HttpResponse resp = {};
                long reused = 0;
                int error;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                if (curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &c) != CURLE_OK || !c)
                        continue;

                long os_errno = 0;

                (void) curl_easy_getinfo(msg->easy_handle, CURLINFO_OS_ERRNO, &os_errno);
                error = curl_code_to_errno(msg->data.result, c->write_error, os_errno);
                if (error == 0) {
                        (void) curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &resp.status);
                        (void) curl_easy_getinfo(c->easy, CURLINFO_NUM_CONNECTS, &reused);
                        resp.connection_reused = reused == 0;
                        if (!c->body.data && strbuf_append(&c->body, "", 0) < 0)
                                error = -ENOMEM;
                        resp.body = c->body.data;
                        resp.body_len = c->body.len;
                }

                call_unlink(t, c);
                c->done(error, error == 0 ? &resp : NULL, c->userdata);
                call_free(c);
        }
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        CurlTransport *t = userdata;
        int action = 0, running;

        (void) s;
        if (revents & (EPOLLIN | EPOLLPRI))
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & (EPOLLERR | EPOLLHUP))
                action |= CURL_CSELECT_ERR;

        (void) curl_multi_socket_action(t->multi, fd, action, &running);
        transport_check_finished(t);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        CurlTransport *t = userdata;
        int running;

        (void) s;
        (void) usec;
        (void) curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        transport_check_finished(t);
        return 0;
}

static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        CurlTransport *t = userp;
        sd_event_source *io = socketp;
        uint32_t events = 0;
        int r;

        (void) easy;
        if (what == CURL_POLL_REMOVE) {
                if (io) {
                        (void) sd_event_source_set_enabled(io, SD_EVENT_OFF);
                        sd_event_source_unref(io);
                        (void) curl_multi_assign(t->multi, fd, NULL);
                }
                return 0;
        }

        if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
                events |= EPOLLIN;
        if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
                events |= EPOLLOUT;

        if (io) {
                r = sd_event_source_set_io_events(io, events);
                if (r < 0)
                        return -1;
                r = sd_event_source_set_enabled(io, SD_EVENT_ON);
                return r < 0 ? -1 : 0;
        }

        r = sd_event_add_io(t->event, &io, fd, events, on_io, t);
        if (r < 0)
                return -1;
        (void) sd_event_source_set_description(io, "curl-io");
        if (curl_multi_assign(t->multi, fd, io) != CURLM_OK) {
                sd_event_source_unref(io);
                return -1;
        }
        return 0;
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
        CurlTransport *t = userp;
        uint64_t usec;
        int r;

        (void) multi;
        if (timeout_ms < 0) {
                if (t->timer)
                        (void) sd_event_source_set_enabled(t->timer, SD_EVENT_OFF);
                return 0;
        }

        r = sd_event_now(t->event, CLOCK_MONOTONIC, &usec);
        if (r < 0)
                return -1;
        usec += (uint64_t) timeout_ms * USEC_PER_MSEC;

        if (t->timer) {
                r = sd_event_source_set_time(t->timer, usec);
                if (r >= 0)
                        r = sd_event_source_set_enabled(t->timer, SD_EVENT_ONESHOT);
                return r < 0 ? -1 : 0;
        }
        r = sd_event_add_time(t->event, &t->timer, CLOCK_MONOTONIC, usec, 1, on_timer, t);
        if (r < 0)
                return -1;
        (void) sd_event_source_set_description(t->timer, "curl-timer");
        return 0;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata) {
        HttpCall *c = userdata;
        size_t n = size * nmemb;

        int r = strbuf_append(&c->body, ptr, n);

        if (r < 0) {
                c->write_error = r;     /* -E2BIG over the cap, -ENOMEM */
                return 0;               /* makes curl fail with CURLE_WRITE_ERROR */
        }
        return n;
}

static long usec_to_curl_ms(uint64_t usec) {
        uint64_t ms = (usec + USEC_PER_MSEC - 1) / USEC_PER_MSEC;

        return ms > LONG_MAX ? LONG_MAX : (long) ms;
}

static int curl_setopt_all(HttpCall *c, const HttpRequest *req) {
        CURL *e = c->easy;
        uint64_t timeout = req->timeout_usec ? req->timeout_usec : HTTP_DEFAULT_TIMEOUT_USEC;
        uint64_t connect = req->connect_timeout_usec ? req->connect_timeout_usec : HTTP_DEFAULT_CONNECT_USEC;

#define SET(opt, val) do { if (curl_easy_setopt(e, opt, val) != CURLE_OK) return -EINVAL; } while (0)
        SET(CURLOPT_URL, req->url);
        SET(CURLOPT_PROTOCOLS_STR, req->allow_http ? "http,https" : "https");
        SET(CURLOPT_FOLLOWLOCATION, 0L);
        SET(CURLOPT_NOSIGNAL, 1L);
        /* Rounded up: 0 ms would mean "no limit" to libcurl. */
        SET(CURLOPT_TIMEOUT_MS, usec_to_curl_ms(timeout));
        SET(CURLOPT_CONNECTTIMEOUT_MS, usec_to_curl_ms(connect));
        SET(CURLOPT_SSL_VERIFYPEER, 1L);
        SET(CURLOPT_SSL_VERIFYHOST, 2L);
        SET(CURLOPT_TCP_KEEPALIVE, 1L);
        SET(CURLOPT_TCP_NODELAY, 1L);
        SET(CURLOPT_WRITEFUNCTION, write_cb);
        SET(CURLOPT_WRITEDATA, c);
        SET(CURLOPT_PRIVATE, c);
        SET(CURLOPT_USERAGENT, "cdpd/" PACKAGE_VERSION);
        if (req->no_proxy)
                SET(CURLOPT_NOPROXY, "*");
        if (req->fresh_connection)
                SET(CURLOPT_FRESH_CONNECT, 1L);
        if (c->headers)
                SET(CURLOPT_HTTPHEADER, c->headers);

        if (strcmp(req->method, "GET") == 0)
                SET(CURLOPT_HTTPGET, 1L);
        else if (strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0) {
                SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
                SET(CURLOPT_COPYPOSTFIELDS, req->body_len > 0 ? (const char *) req->body : "");
                if (strcmp(req->method, "PUT") == 0)
                        SET(CURLOPT_CUSTOMREQUEST, "PUT");
        } else
                return -EINVAL;
#undef SET
        return 0;
}

static int curl_submit(HttpTransport *base, const HttpRequest *req, HttpDoneFn done, void *userdata,
                       HttpCall **ret_call) {
        CurlTransport *t = (CurlTransport *) base;
        HttpCall *c;
        int r;

        if (!req || !req->url || !req->method || !done)
                return -EINVAL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->done = done;
        c->userdata = userdata;
        c->body = STRBUF_INIT(req->max_response ? req->max_response : HTTP_DEFAULT_MAX_RESPONSE);
        c->body.sensitive = req->sensitive;

        c->easy = curl_easy_init();
        if (!c->easy) {
                r = -ENOMEM;
                goto fail;
        }
        for (const char *const *h = req->headers; h && *h; h++) {
                struct curl_slist *n;

                /* A CR or LF would let a value smuggle in a header. */
                if (strpbrk(*h, "\r\n")) {
                        r = -EINVAL;
                        goto fail;
                }
                n = curl_slist_append(c->headers, *h);
                if (!n) {
                        r = -ENOMEM;
                        goto fail;
                }
                c->headers = n;
        }
        {
                /* No "Expect: 100-continue" round trip for larger bodies. */
                struct curl_slist *n = curl_slist_append(c->headers, "Expect:");
                if (!n) {
                        r = -ENOMEM;
                        goto fail;
                }
                c->headers = n;
        }

        r = curl_setopt_all(c, req);
        if (r < 0)
                goto fail;

        if (curl_multi_add_handle(t->multi, c->easy) != CURLM_OK) {
                r = -EIO;
                goto fail;
        }
        c->owner = t;
        c->next = t->calls;
        if (t->calls)
                t->calls->prev = c;
        t->calls = c;

        if (ret_call)
                *ret_call = c;
        return 0;

fail:
        call_free(c);
        return r;
}

static void curl_cancel(HttpTransport *base, HttpCall *c) {
        CurlTransport *t = (CurlTransport *) base;

        call_unlink(t, c);
        call_free(c);
}

static void curl_free_transport(HttpTransport *base) {
        CurlTransport *t = (CurlTransport *) base;

        while (t->calls) {
                HttpCall *c = t->calls;
                call_unlink(t, c);
                call_free(c);
        }
        if (t->multi)
                curl_multi_cleanup(t->multi);
        sd_event_source_disable_unref(t->timer);
        sd_event_unref(t->event);
        free(t);
}

static const HttpTransportOps curl_ops = {
        .submit = curl_submit,
        .cancel = curl_cancel,
        .free = curl_free_transport,
};

/* libcurl's own buffers hold what we cannot wipe ourselves: the request it
 * builds (Authorization, the IMDS token) and the answer it receives (role
 * credentials). Its heap is wiped on free and on every move, so no copy of a
 * secret outlives the transfer in freed memory. malloc_usable_size() is the
 * whole block, slack included. */
static void wiping_free(void *p) {
        if (!p)
                return;
        OPENSSL_cleanse(p, malloc_usable_size(p));
        free(p);
}

static void *wiping_realloc(void *p, size_t n) {
        size_t old;
        void *q;

        if (!p)
                return malloc(n);
        old = malloc_usable_size(p);
        if (n <= old)
                return p;       /* shrinking in place leaves nothing behind */
        q = malloc(n);
        if (!q)
                return NULL;
        memcpy(q, p, old);
        wiping_free(p);
        return q;
}

int http_curl_new(sd_event *event, HttpTransport **ret) {
        static bool initialized = false;
        CurlTransport *t;

        if (!event || !ret)
                return -EINVAL;
        if (!initialized) {
                if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, wiping_free, wiping_realloc, strdup,
                                         calloc) != CURLE_OK)
                        return -EIO;
                initialized = true;
        }

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->base.ops = &curl_ops;
        t->event = sd_event_ref(event);
        t->multi = curl_multi_init();
        if (!t->multi) {
                curl_free_transport(&t->base);
                return -ENOMEM;
        }
        if (curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb) != CURLM_OK ||
            curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t) != CURLM_OK ||
            curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb) != CURLM_OK ||
            curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, t) != CURLM_OK ||
            curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, HTTP_MAX_IDLE_CONNECTIONS) != CURLM_OK) {
                curl_free_transport(&t->base);
                return -EIO;
        }
        *ret = &t->base;
        return 0;
}
