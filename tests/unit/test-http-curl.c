/* SPDX-License-Identifier: MIT */
/* Unit tests of lib/io/http-curl.c, the libcurl transport on sd-event,
 * against a small real HTTP/1.1 server that runs inside the test in its own
 * thread. The server listens on 127.0.0.1 port 0 (loopback only, never any
 * other address) and is driven by poll(): it reads each request (request
 * line, headers up to the blank line, a Content-Length body), logs it, and
 * answers according to the path:
 *   /hello          200 "hello world"
 *   /echo           200 "echoed" (the test inspects the logged request)
 *   /status/N       status N
 *   /redirect       302 with Location: /target
 *   /big/N          200 with an N-byte body
 *   /slow/MS        200 "slow", held back MS milliseconds
 *   /hang           never answers
 *   /close          closes the connection without answering
 *   /partial        Content-Length 100, sends 10 bytes, closes
 * It counts accepted connections and connections the peer closed, so tests
 * can see what reached the wire and how many sockets the pool keeps open.
 * The client side runs the transport on a real sd-event loop with deadlines
 * and never sleeps. Proxy variables are cleared so curl talks to the server
 * directly. Server-side state is read under the server's lock; the server
 * thread never calls cmocka (a failure must not unwind another thread). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* accept4, memmem, asprintf, strcasestr */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <systemd/sd-event.h>

#include "cdp/http.h"
#include "cdp/macro.h"

/* ---- clock ------------------------------------------------------------ */

static uint64_t now_usec(void) {
        struct timespec ts;

        if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
                abort();
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

/* ---- the server ------------------------------------------------------- */

#define SERVER_MAX_CONNS 64
#define SERVER_MAX_LOG 128
#define SERVER_MAX_REQUEST (4 * 1024 * 1024)

typedef struct Conn {
        int fd;
        char *in;
        size_t in_len, in_cap;
        char *out;
        size_t out_len, out_done;
        uint64_t send_at;       /* CLOCK_MONOTONIC usec: the answer is held back until then */
        bool close_after;       /* close once out is written */
        bool hang;              /* never answer; further input is discarded */
} Conn;

/* One request as it arrived. */
typedef struct Seen {
        char method[16];
        char path[128];
        char *head;             /* header lines after the request line, NUL-terminated */
        char *body;
        size_t body_len;
} Seen;

typedef struct Server {
        pthread_t thread;
        bool running;
        int listen_fd;
        int wake[2];
        uint16_t port;
        Conn conns[SERVER_MAX_CONNS];   /* server thread only */

        pthread_mutex_t lock;           /* guards everything below */
        unsigned accepted;
        unsigned peer_closed;           /* closed by the client (EOF, reset, EPIPE) */
        unsigned closed;                /* closed by either side */
        unsigned requests;
        Seen seen[SERVER_MAX_LOG];      /* the first SERVER_MAX_LOG requests */
} Server;

static void *xmalloc(size_t n) {
        void *p = malloc(n ? n : 1);
        if (!p)
                abort();
        return p;
}

static void conn_close(Server *s, Conn *c, bool by_peer) {
        (void) close(c->fd);
        free(c->in);
        free(c->out);
        *c = (Conn) { .fd = -1 };

        pthread_mutex_lock(&s->lock);
        s->closed++;
        if (by_peer)
                s->peer_closed++;
        pthread_mutex_unlock(&s->lock);
}

/* Queues an answer, sent once delay_usec has passed. */
static void conn_answer(Conn *c, int status, const char *extra_headers, const char *body, size_t body_len,
                        uint64_t delay_usec) {
        char *head = NULL;
        int n;

        n = asprintf(&head, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n",
                     status, status == 200 ? "OK" : "Status", body_len, extra_headers ? extra_headers : "");
        if (n < 0)
                abort();
        c->out = xmalloc((size_t) n + body_len);
        memcpy(c->out, head, (size_t) n);
        if (body_len > 0)
                memcpy(c->out + n, body, body_len);
        free(head);
        c->out_len = (size_t) n + body_len;
        c->out_done = 0;
        c->send_at = now_usec() + delay_usec;
}

static void server_log(Server *s, const char *method, const char *path, const char *head, size_t head_len,
                       const char *body, size_t body_len) {
        pthread_mutex_lock(&s->lock);
        if (s->requests < SERVER_MAX_LOG) {
                Seen *e = &s->seen[s->requests];

                snprintf(e->method, sizeof(e->method), "%s", method);
                snprintf(e->path, sizeof(e->path), "%s", path);
                e->head = strndup(head, head_len);
                e->body = xmalloc(body_len + 1);
                memcpy(e->body, body, body_len);
                e->body[body_len] = '\0';
                e->body_len = body_len;
                if (!e->head)
                        abort();
        }
        s->requests++;
        pthread_mutex_unlock(&s->lock);
}

/* The value of header `name` in a header block (lines ending in CRLF), as a
 * new string; NULL when absent. */
static char *head_value(const char *head, const char *name) {
        size_t n = strlen(name);

        for (const char *line = head; line && *line; ) {
                const char *eol = strstr(line, "\r\n");
                size_t len = eol ? (size_t) (eol - line) : strlen(line);

                if (len > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
                        const char *v = line + n + 1;
                        while (*v == ' ' || *v == '\t')
                                v++;
                        return strndup(v, len - (size_t) (v - line));
                }
                line = eol ? eol + 2 : NULL;
        }
        return NULL;
}

static void server_handle(Server *s, Conn *c, const char *method, const char *path, const char *body,
                          size_t body_len) {
        unsigned code, ms;
        size_t size;

        (void) method;
        (void) body;
        (void) body_len;
        if (strcmp(path, "/hello") == 0)
                conn_answer(c, 200, NULL, "hello world", 11, 0);
        else if (strcmp(path, "/echo") == 0)
                conn_answer(c, 200, NULL, "echoed", 6, 0);
        else if (sscanf(path, "/status/%u", &code) == 1) {
                char b[32];
                int n = snprintf(b, sizeof(b), "status %u", code);
                conn_answer(c, (int) code, NULL, b, (size_t) n, 0);
        } else if (strcmp(path, "/redirect") == 0)
                conn_answer(c, 302, "Location: /target\r\n", "moved", 5, 0);
        else if (strcmp(path, "/target") == 0)
                conn_answer(c, 200, NULL, "target", 6, 0);
        else if (sscanf(path, "/big/%zu", &size) == 1) {
                char *b = xmalloc(size);
                for (size_t i = 0; i < size; i++)
                        b[i] = (char) ('a' + i % 26);
                conn_answer(c, 200, NULL, b, size, 0);
                free(b);
        } else if (sscanf(path, "/slow/%u", &ms) == 1)
                conn_answer(c, 200, NULL, "slow", 4, (uint64_t) ms * USEC_PER_MSEC);
        else if (strcmp(path, "/hang") == 0)
                c->hang = true;
        else if (strcmp(path, "/close") == 0)
                conn_close(s, c, false);
        else if (strcmp(path, "/partial") == 0) {
                static const char partial[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789";
                c->out = xmalloc(sizeof(partial));
                memcpy(c->out, partial, sizeof(partial) - 1);
                c->out_len = sizeof(partial) - 1;
                c->out_done = 0;
                c->send_at = now_usec();
                c->close_after = true;
        } else
                conn_answer(c, 404, NULL, "not found", 9, 0);
}

/* Takes complete requests off the input buffer while no answer is pending. */
static void conn_process(Server *s, Conn *c) {
        while (c->fd >= 0 && !c->hang && !c->out) {
                char method[16] = "", path[128] = "";
                _cleanup_free_ char *line = NULL, *cl = NULL, *head = NULL, *body = NULL;
                const char *end, *line_end;
                size_t head_len, body_len = 0, used;

                end = c->in ? memmem(c->in, c->in_len, "\r\n\r\n", 4) : NULL;
                if (!end)
                        return;
                head_len = (size_t) (end - c->in) + 4;
                line_end = memmem(c->in, head_len, "\r\n", 2);
                head = strndup(line_end + 2, head_len - (size_t) (line_end + 2 - c->in));
                if (!head)
                        abort();
                cl = head_value(head, "Content-Length");
                if (cl && sscanf(cl, "%zu", &body_len) != 1) {
                        conn_close(s, c, false);
                        return;
                }
                if (c->in_len - head_len < body_len)
                        return;         /* body not complete yet */
                line = strndup(c->in, (size_t) (line_end - c->in));
                if (!line)
                        abort();
                if (sscanf(line, "%15s %127s", method, path) != 2) {
                        conn_close(s, c, false);
                        return;
                }

                body = xmalloc(body_len + 1);
                memcpy(body, c->in + head_len, body_len);
                server_log(s, method, path, head, strlen(head), body, body_len);

                used = head_len + body_len;
                memmove(c->in, c->in + used, c->in_len - used);
                c->in_len -= used;

                server_handle(s, c, method, path, body, body_len);
        }
}

static void conn_read(Server *s, Conn *c) {
        char buf[16384];
        ssize_t n;

        n = recv(c->fd, buf, sizeof(buf), 0);
        if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return;
                conn_close(s, c, true);
                return;
        }
        if (n == 0) {
                conn_close(s, c, true);
                return;
        }
        if (c->hang)
                return;
        if (c->in_len + (size_t) n > SERVER_MAX_REQUEST) {
                conn_close(s, c, false);
                return;
        }
        if (c->in_len + (size_t) n > c->in_cap) {
                size_t cap = MAX(c->in_cap * 2, c->in_len + (size_t) n);
                char *p = realloc(c->in, cap);
                if (!p)
                        abort();
                c->in = p;
                c->in_cap = cap;
        }
        memcpy(c->in + c->in_len, buf, (size_t) n);
        c->in_len += (size_t) n;
        conn_process(s, c);
}

static void conn_write(Server *s, Conn *c) {
        ssize_t n;

        n = send(c->fd, c->out + c->out_done, c->out_len - c->out_done, MSG_NOSIGNAL);
        if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return;
                conn_close(s, c, true);
                return;
        }
        c->out_done += (size_t) n;
        if (c->out_done < c->out_len)
                return;

        c->out = mfree(c->out);
        c->out_len = c->out_done = 0;
        if (c->close_after) {
                conn_close(s, c, false);
                return;
        }
        conn_process(s, c);
}

static void server_accept(Server *s) {
        for (;;) {
                int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                Conn *slot = NULL;

                if (fd < 0)
                        return;
                pthread_mutex_lock(&s->lock);
                s->accepted++;
                pthread_mutex_unlock(&s->lock);

                for (size_t i = 0; i < SERVER_MAX_CONNS && !slot; i++)
                        if (s->conns[i].fd < 0)
                                slot = &s->conns[i];
                if (!slot) {
                        fprintf(stderr, "test server: out of connection slots\n");
                        (void) close(fd);
                        pthread_mutex_lock(&s->lock);
                        s->closed++;
                        pthread_mutex_unlock(&s->lock);
                        continue;
                }
                *slot = (Conn) { .fd = fd };
        }
}

static void *server_main(void *userdata) {
        Server *s = userdata;

        for (;;) {
                struct pollfd pfd[2 + SERVER_MAX_CONNS];
                size_t slot[SERVER_MAX_CONNS];
                nfds_t n = 0;
                uint64_t now = now_usec();
                int timeout = -1;

                pfd[n++] = (struct pollfd) { .fd = s->wake[0], .events = POLLIN };
                pfd[n++] = (struct pollfd) { .fd = s->listen_fd, .events = POLLIN };
                for (size_t i = 0; i < SERVER_MAX_CONNS; i++) {
                        Conn *c = &s->conns[i];
                        short events = POLLIN;      /* always: notices the peer closing */

                        if (c->fd < 0)
                                continue;
                        if (c->out) {
                                if (c->send_at <= now)
                                        events |= POLLOUT;
                                else {
                                        int ms = (int) ((c->send_at - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC);
                                        if (timeout < 0 || ms < timeout)
                                                timeout = ms;
                                }
                        }
                        slot[n - 2] = i;
                        pfd[n++] = (struct pollfd) { .fd = c->fd, .events = events };
                }

                if (poll(pfd, n, timeout) < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, "test server: poll: %m\n");
                        abort();
                }
                if (pfd[0].revents)
                        break;
                if (pfd[1].revents & POLLIN)
                        server_accept(s);
                for (nfds_t k = 2; k < n; k++) {
                        Conn *c = &s->conns[slot[k - 2]];

                        if (pfd[k].revents & POLLOUT && c->fd >= 0)
                                conn_write(s, c);
                        if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR) && c->fd >= 0)
                                conn_read(s, c);
                }
        }
        return NULL;
}

static int server_start(Server *s) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);

        *s = (Server) { .listen_fd = -1, .wake = { -1, -1 } };
        for (size_t i = 0; i < SERVER_MAX_CONNS; i++)
                s->conns[i].fd = -1;
        if (pthread_mutex_init(&s->lock, NULL) != 0)
                return -1;
        s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s->listen_fd < 0 ||
            bind(s->listen_fd, (struct sockaddr *) &a, sizeof(a)) < 0 ||
            listen(s->listen_fd, 64) < 0 ||
            getsockname(s->listen_fd, (struct sockaddr *) &a, &len) < 0 ||
            pipe2(s->wake, O_CLOEXEC) < 0)
                return -1;
        s->port = ntohs(a.sin_port);
        if (pthread_create(&s->thread, NULL, server_main, s) != 0)
                return -1;
        s->running = true;
        return 0;
}

static void server_stop(Server *s) {
        if (s->running) {
                char b = 'x';
                if (write(s->wake[1], &b, 1) != 1)
                        abort();
                (void) pthread_join(s->thread, NULL);
                s->running = false;
        }
        for (size_t i = 0; i < SERVER_MAX_CONNS; i++)
                if (s->conns[i].fd >= 0)
                        conn_close(s, &s->conns[i], false);
        for (unsigned i = 0; i < MIN(s->requests, SERVER_MAX_LOG); i++) {
                free(s->seen[i].head);
                free(s->seen[i].body);
        }
        if (s->listen_fd >= 0)
                (void) close(s->listen_fd);
        for (size_t i = 0; i < 2; i++)
                if (s->wake[i] >= 0)
                        (void) close(s->wake[i]);
        (void) pthread_mutex_destroy(&s->lock);
        s->listen_fd = s->wake[0] = s->wake[1] = -1;
}

typedef enum Counter {
        ACCEPTED,
        PEER_CLOSED,
        OPEN,
        REQUESTS,
} Counter;

static unsigned server_count(Server *s, Counter what) {
        unsigned v = 0;

        pthread_mutex_lock(&s->lock);
        switch (what) {
        case ACCEPTED:
                v = s->accepted;
                break;
        case PEER_CLOSED:
                v = s->peer_closed;
                break;
        case OPEN:
                v = s->accepted - s->closed;
                break;
        case REQUESTS:
                v = s->requests;
                break;
        }
        pthread_mutex_unlock(&s->lock);
        return v;
}

/* A copy of logged request i (the caller frees head and body). */
static Seen server_seen(Server *s, unsigned i) {
        Seen copy;

        pthread_mutex_lock(&s->lock);
        assert_true(i < s->requests && i < SERVER_MAX_LOG);
        copy = s->seen[i];
        copy.head = strdup(copy.head);
        copy.body = xmalloc(copy.body_len + 1);
        memcpy(copy.body, s->seen[i].body, copy.body_len + 1);
        pthread_mutex_unlock(&s->lock);
        assert_non_null(copy.head);
        return copy;
}

static void seen_done(Seen *e) {
        e->head = mfree(e->head);
        e->body = mfree(e->body);
}

/* ---- client side ------------------------------------------------------ */

typedef struct Env {
        sd_event *event;
        HttpTransport *http;
        Server server;
} Env;

/* Completions across all calls of the current test, for ordering. */
static unsigned completions;

typedef struct Result {
        unsigned calls;
        unsigned order;         /* value of `completions` after this one finished */
        int error;
        bool has_resp;
        long status;
        char *body;
        size_t body_len;
        bool body_terminated;   /* resp->body[body_len] == '\0' */
        bool reused;
        uint64_t at;            /* when done ran */
} Result;

static void on_done(int error, const HttpResponse *resp, void *userdata) {
        Result *r = userdata;

        /* No cmocka here: a failure must not unwind through libcurl and
         * sd-event; record and let the test check. */
        r->calls++;
        r->order = ++completions;
        r->at = now_usec();
        r->error = error;
        r->has_resp = resp != NULL;
        if (resp) {
                r->status = resp->status;
                free(r->body);
                r->body = xmalloc(resp->body_len + 1);
                if (resp->body_len > 0)
                        memcpy(r->body, resp->body, resp->body_len);
                r->body[resp->body_len] = '\0';
                r->body_len = resp->body_len;
                r->body_terminated = resp->body && resp->body[resp->body_len] == '\0';
                r->reused = resp->connection_reused;
        }
}

static void result_done(Result *r) {
        r->body = mfree(r->body);
}

static int env_setup(void **state) {
        Env *e = calloc(1, sizeof(*e));

        if (!e)
                return -1;
        *state = e;
        completions = 0;
        if (server_start(&e->server) < 0 || sd_event_new(&e->event) < 0 || http_curl_new(e->event, &e->http) < 0)
                return -1;
        return 0;
}

static int env_teardown(void **state) {
        Env *e = *state;

        if (!e)
                return 0;
        (void) unsetenv("http_proxy");
        http_transport_free(e->http);
        server_stop(&e->server);
        sd_event_unref(e->event);
        free(e);
        return 0;
}

static char *url_for(const Env *e, const char *path) {
        char *u = NULL;

        assert_true(asprintf(&u, "http://127.0.0.1:%u%s", (unsigned) e->server.port, path) > 0);
        return u;
}

static HttpRequest get_request(const char *url) {
        return (HttpRequest) {
                .method = "GET",
                .url = url,
                .timeout_usec = 5 * USEC_PER_SEC,
                .allow_http = true,
        };
}

typedef bool (*Cond)(Env *e, unsigned n);

static bool cond_never(Env *e, unsigned n) {
        (void) e;
        (void) n;
        return false;
}

static bool cond_completions(Env *e, unsigned n) {
        (void) e;
        return completions >= n;
}

static bool cond_requests(Env *e, unsigned n) {
        return server_count(&e->server, REQUESTS) >= n;
}

static bool cond_peer_closed(Env *e, unsigned n) {
        return server_count(&e->server, PEER_CLOSED) >= n;
}

static bool cond_open_at_most(Env *e, unsigned n) {
        return server_count(&e->server, OPEN) <= n;
}

/* Runs the loop until cond holds or timeout_usec has passed; returns
 * whether cond held. */
static bool run_until(Env *e, Cond cond, unsigned n, uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;

        for (;;) {
                uint64_t now;

                if (cond(e, n))
                        return true;
                now = now_usec();
                if (now >= deadline)
                        return false;
                /* Short slices: server-side conditions change without any
                 * event on this loop. */
                assert_true(sd_event_run(e->event, MIN(deadline - now, 10 * USEC_PER_MSEC)) >= 0);
        }
}

static void run_for(Env *e, uint64_t usec) {
        (void) run_until(e, cond_never, 0, usec);
}

/* Submits and runs the loop until this call is done; done must not run
 * inside submit. */
static void fetch(Env *e, const HttpRequest *req, Result *r) {
        unsigned target = completions + 1;

        assert_int_equal(http_submit(e->http, req, on_done, r, NULL), 0);
        assert_int_equal(r->calls, 0);
        assert_true(run_until(e, cond_completions, target, 10 * USEC_PER_SEC));
        assert_int_equal(r->calls, 1);
}

static void assert_ok(const Result *r, long status) {
        if (r->error != 0)
                fail_msg("request failed: %s", strerror(-r->error));
        assert_true(r->has_resp);
        assert_int_equal(r->status, status);
        assert_true(r->body_terminated);
}

static void assert_failed(const Result *r, int error) {
        if (r->error != error)
                fail_msg("error %d (%s), expected %d (%s)", r->error, strerror(-r->error), error, strerror(-error));
        assert_false(r->has_resp);
}

/* A port on 127.0.0.1 that nobody listens on. */
static uint16_t dead_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        _cleanup_close_ int fd = -1;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof(a)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &len), 0);
        return ntohs(a.sin_port);
}

/* ---- tests ------------------------------------------------------------ */

static void test_get__200__status_body_later_from_loop(void **state) {
        Env *e = *state;
        _cleanup_free_ char *u = url_for(e, "/hello");
        HttpRequest req = get_request(u);
        Result r = {};
        Seen s;

        assert_int_equal(http_submit(e->http, &req, on_done, &r, NULL), 0);
        /* done never runs inside http_submit() */
        assert_int_equal(r.calls, 0);
        assert_true(run_until(e, cond_completions, 1, 10 * USEC_PER_SEC));

        assert_ok(&r, 200);
        assert_int_equal(r.body_len, 11);
        assert_memory_equal(r.body, "hello world", 12);
        assert_false(r.reused);

        /* exactly once */
        run_for(e, 50 * USEC_PER_MSEC);
        assert_int_equal(r.calls, 1);

        assert_int_equal(server_count(&e->server, REQUESTS), 1);
        s = server_seen(&e->server, 0);
        assert_string_equal(s.method, "GET");
        assert_string_equal(s.path, "/hello");
        assert_int_equal(s.body_len, 0);
        seen_done(&s);
        result_done(&r);
}

static void test_post__body_and_headers__copied_and_sent_exactly(void **state) {
        Env *e = *state;
        enum { BODY = 5000 };
        char *body = xmalloc(BODY), *expect = xmalloc(BODY);
        const char *lines[] = {
                "X-Cdp-Test: alpha-1",
                "Content-Type: application/x-www-form-urlencoded; charset=utf-8",
                "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/secret",
        };
        char *headers[ELEMENTSOF(lines) + 1] = {};
        char *u = url_for(e, "/echo");
        HttpRequest req;
        Result r = {};
        Seen s;
        _cleanup_free_ char *cl = NULL, *ua = NULL, *x = NULL, *ct = NULL, *auth = NULL;

        /* Binary-ish, never NUL. */
        for (size_t i = 0; i < BODY; i++)
                expect[i] = body[i] = (char) (1 + (i * 37 + i / 251) % 255);
        for (size_t i = 0; i < ELEMENTSOF(lines); i++)
                assert_non_null(headers[i] = strdup(lines[i]));

        req = (HttpRequest) {
                .method = "POST",
                .url = u,
                .headers = (const char *const *) headers,
                .body = body,
                .body_len = BODY,
                .timeout_usec = 5 * USEC_PER_SEC,
                .allow_http = true,
        };
        assert_int_equal(http_submit(e->http, &req, on_done, &r, NULL), 0);
        assert_int_equal(r.calls, 0);

        /* Everything the request pointed to is the caller's again. */
        for (size_t i = 0; headers[i]; i++) {
                memset(headers[i], 'Z', strlen(headers[i]));
                free(headers[i]);
                headers[i] = NULL;
        }
        memset(body, 0, BODY);
        free(body);
        memset(u, 'Z', strlen(u));
        free(u);

        assert_true(run_until(e, cond_completions, 1, 10 * USEC_PER_SEC));
        assert_ok(&r, 200);
        assert_string_equal(r.body, "echoed");

        assert_int_equal(server_count(&e->server, REQUESTS), 1);
        s = server_seen(&e->server, 0);
        assert_string_equal(s.method, "POST");
        assert_string_equal(s.path, "/echo");
        assert_int_equal(s.body_len, BODY);
        assert_memory_equal(s.body, expect, BODY);

        cl = head_value(s.head, "Content-Length");
        assert_non_null(cl);
        assert_string_equal(cl, "5000");
        x = head_value(s.head, "X-Cdp-Test");
        assert_non_null(x);
        assert_string_equal(x, "alpha-1");
        ct = head_value(s.head, "Content-Type");
        assert_non_null(ct);
        assert_string_equal(ct, "application/x-www-form-urlencoded; charset=utf-8");
        auth = head_value(s.head, "Authorization");
        assert_non_null(auth);
        assert_string_equal(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/secret");
        ua = head_value(s.head, "User-Agent");
        assert_non_null(ua);
        assert_true(strncmp(ua, "cdpd/", 5) == 0 && ua[5] != '\0');

        seen_done(&s);
        result_done(&r);
        free(expect);
}

static void test_post__large_body__no_expect_100_continue(void **state) {
        Env *e = *state;
        enum { BODY = 1536 * 1024 };    /* libcurl asks for 100-continue from 1 MiB on */
        _cleanup_free_ char *u = url_for(e, "/echo"), *body = xmalloc(BODY), *cl = NULL, *expect_hdr = NULL;
        HttpRequest req = {
                .method = "POST", .url = u, .body = body, .body_len = BODY,
                .timeout_usec = 5 * USEC_PER_SEC, .allow_http = true,
        };
        Result r = {};
        Seen s;

        for (size_t i = 0; i < BODY; i++)
                body[i] = (char) ('A' + i % 23);
        fetch(e, &req, &r);
        assert_ok(&r, 200);

        s = server_seen(&e->server, 0);
        assert_int_equal(s.body_len, BODY);
        assert_memory_equal(s.body, body, BODY);
        cl = head_value(s.head, "Content-Length");
        assert_non_null(cl);
        assert_int_equal(strtoull(cl, NULL, 10), BODY);
        /* No round trip waiting for "100 Continue". */
        expect_hdr = head_value(s.head, "Expect");
        assert_null(expect_hdr);

        seen_done(&s);
        result_done(&r);
}

static void test_put_and_empty_post__method_and_length(void **state) {
        Env *e = *state;
        _cleanup_free_ char *u = url_for(e, "/echo");
        _cleanup_free_ char *cl0 = NULL, *cl1 = NULL;
        HttpRequest put = {
                .method = "PUT", .url = u, .body = "ttl=21600", .body_len = 9,
                .timeout_usec = 5 * USEC_PER_SEC, .allow_http = true,
        };
        HttpRequest post = {
                .method = "POST", .url = u, .timeout_usec = 5 * USEC_PER_SEC, .allow_http = true,
        };
        Result r1 = {}, r2 = {};
        Seen s0, s1;

        fetch(e, &put, &r1);
        assert_ok(&r1, 200);
        fetch(e, &post, &r2);
        assert_ok(&r2, 200);

        assert_int_equal(server_count(&e->server, REQUESTS), 2);
        s0 = server_seen(&e->server, 0);
        s1 = server_seen(&e->server, 1);
        assert_string_equal(s0.method, "PUT");
        assert_string_equal(s0.body, "ttl=21600");
        cl0 = head_value(s0.head, "Content-Length");
        assert_non_null(cl0);
        assert_string_equal(cl0, "9");
        assert_string_equal(s1.method, "POST");
        assert_int_equal(s1.body_len, 0);
        cl1 = head_value(s1.head, "Content-Length");
        assert_non_null(cl1);
        assert_string_equal(cl1, "0");

        seen_done(&s0);
        seen_done(&s1);
        result_done(&r1);
        result_done(&r2);
}

static void test_get__non_2xx__error_0_with_status(void **state) {
        Env *e = *state;
        _cleanup_free_ char *u503 = url_for(e, "/status/503"), *u401 = url_for(e, "/status/401");
        HttpRequest a = get_request(u503), b = get_request(u401);
        Result r1 = {}, r2 = {};

        fetch(e, &a, &r1);
        assert_ok(&r1, 503);
        assert_string_equal(r1.body, "status 503");
        fetch(e, &b, &r2);
        assert_ok(&r2, 401);
        assert_string_equal(r2.body, "status 401");

        result_done(&r1);
        result_done(&r2);
}

static void test_get__302__not_followed(void **state) {
        Env *e = *state;
        _cleanup_free_ char *u = url_for(e, "/redirect"), *u2 = url_for(e, "/hello");
        HttpRequest req = get_request(u), req2 = get_request(u2);
        Result r = {}, r2 = {};
        Seen s0, s1;

        fetch(e, &req, &r);
        assert_ok(&r, 302);
        assert_string_equal(r.body, "moved");

        /* A later request proves the server's log is complete up to here. */
        fetch(e, &req2, &r2);
        assert_ok(&r2, 200);
        assert_int_equal(server_count(&e->server, REQUESTS), 2);
        s0 = server_seen(&e->server, 0);
        s1 = server_seen(&e->server, 1);
        assert_string_equal(s0.path, "/redirect");
        assert_string_equal(s1.path, "/hello");

        seen_done(&s0);
        seen_done(&s1);
        result_done(&r);
        result_done(&r2);
}

static void test_protocols__plain_http_not_allowed_and_file__eproto(void **state) {
        Env *e = *state;
        _cleanup_free_ char *u = url_for(e, "/hello");
        HttpRequest plain = get_request(u);
        HttpRequest file_strict = get_request("file:///etc/passwd");
        HttpRequest file_lax = get_request("file:///etc/passwd");
        HttpRequest ok = get_request(u);
        Result r1 = {}, r2 = {}, r3 = {}, r4 = {};

        plain.allow_http = false;
        fetch(e, &plain, &r1);
        assert_failed(&r1, -EPROTO);

        file_strict.allow_http = false;
        fetch(e, &file_strict, &r2);
        assert_failed(&r2, -EPROTO);
        fetch(e, &file_lax, &r3);
        assert_failed(&r3, -EPROTO);

        /* The one allowed request is the only connection the server ever
         * saw: it queues behind any earlier connection attempt. */
        ok.fresh_connection = true;
        fetch(e, &ok, &r4);
        assert_ok(&r4, 200);
        assert_int_equal(server_count(&e->server, ACCEPTED), 1);
        assert_int_equal(server_count(&e->server, REQUESTS), 1);

        result_done(&r4);
}

static void test_max_response__over_cap_e2big_at_cap_ok(void **state) {
        Env *e = *state;
        _cleanup_free_ char *big = url_for(e, "/big/65536");
        _cleanup_free_ char *at = url_for(e, "/big/1024");
        _cleanup_free_ char *over = url_for(e, "/big/1025");
        HttpRequest r_big = get_request(big), r_at = get_request(at), r_over = get_request(over);
        Result a = {}, b = {}, c = {};

        r_big.max_response = r_at.max_response = r_over.max_response = 1024;

        fetch(e, &r_big, &a);
        assert_failed(&a, -E2BIG);

        /* The cap is inclusive: a body of exactly max_response bytes is fine. */
        fetch(e, &r_at, &b);
        assert_ok(&b, 200);
        assert_int_equal(b.body_len, 1024);
        for (size_t i = 0; i < 1024; i++)
                assert_int_equal(b.body[i], 'a' + i % 26);

        fetch(e, &r_over, &c);
        assert_failed(&c, -E2BIG);

        result_done(&b);
}

static void test_timeout__no_answer__etimedout_in_time(void **state) {
        Env *e = *state;
        _cleanup_free_ char *u = url_for(e, "/hang");
        HttpRequest req = get_request(u);
        Result r = {};
        uint64_t start, took;

        req.timeout_usec = 300 * USEC_PER_MSEC;
        start = now_usec();
        fetch(e, &req, &r);
        took = r.at - start;
        assert_failed(&r, -ETIMEDOUT);
        assert_true(took >= 250 * USEC_PER_MSEC);
        assert_true(took < 3 * USEC_PER_SEC);
        assert_int_equal(server_count(&e->server, REQUESTS), 1);
}

/* Under a millisecond is rounded up, not down to libcurl's 0 = "no limit". */
static void test_timeout__under_a_millisecond__still_a_limit(void **state) {
        Env *e = *state;
        _cleanup_free_ char *u = url_for(e, "/hang");
        HttpRequest req = get_request(u);
        Result r = {};
        uint64_t start;

        req.timeout_usec = 500;
        start = now_usec();
        fetch(e, &req, &r);
        assert_failed(&r, -ETIMEDOUT);
        assert_true(r.at - start < 3 * USEC_PER_SEC);
}

static void test_connect__nobody_listening__econnrefused(void **state) {
        Env *e = *state;
        _cleanup_free_ char *u = NULL;
        HttpRequest req;
        Result r = {};

        assert_true(asprintf(&u, "http://127.0.0.1:%u/hello", (unsigned) dead_port()) > 0);
        req = get_request(u);
        fetch(e, &req, &r);
        assert_failed(&r, -ECONNREFUSED);
}

static void test_connection_dropped__no_or_partial_answer__econnreset(void **state) {
        Env *e = *state;
        _cleanup_free_ char *u1 = url_for(e, "/close"), *u2 = url_for(e, "/partial");
        HttpRequest a = get_request(u1), b = get_request(u2);
        Result r1 = {}, r2 = {};

        a.fresh_connection = b.fresh_connection = true;
        fetch(e, &a, &r1);
        assert_failed(&r1, -ECONNRESET);
        fetch(e, &b, &r2);
        assert_failed(&r2, -ECONNRESET);
}

static void test_reuse__sequential_gets__one_connection(void **state) {
        Env *e = *state;
        _cleanup_free_ char *u = url_for(e, "/hello");
        HttpRequest req = get_request(u);
        Result r1 = {}, r2 = {};

        fetch(e, &req, &r1);
        assert_ok(&r1, 200);
        assert_false(r1.reused);
        fetch(e, &req, &r2);
        assert_ok(&r2, 200);
        assert_true(r2.reused);
        assert_int_equal(server_count(&e->server, ACCEPTED), 1);

        result_done(&r1);
        result_done(&r2);
}

static void test_reuse__fresh_connection__new_connection(void **state) {
        Env *e = *state;
        _cleanup_free_ char *u = url_for(e, "/hello");
        HttpRequest req = get_request(u), fresh = get_request(u);
        Result r1 = {}, r2 = {};

        fresh.fresh_connection = true;
        fetch(e, &req, &r1);
        assert_ok(&r1, 200);
        fetch(e, &fresh, &r2);
        assert_ok(&r2, 200);
        assert_false(r2.reused);
        assert_int_equal(server_count(&e->server, ACCEPTED), 2);

        result_done(&r1);
        result_done(&r2);
}

static void test_concurrency__ten_slow__run_in_parallel(void **state) {
        Env *e = *state;
        _cleanup_free_ char *u = url_for(e, "/slow/200");
        HttpRequest req = get_request(u);
        Result r[10] = {};
        uint64_t start, took;

        start = now_usec();
        for (size_t i = 0; i < ELEMENTSOF(r); i++)
                assert_int_equal(http_submit(e->http, &req, on_done, &r[i], NULL), 0);
        assert_int_equal(completions, 0);
        assert_true(run_until(e, cond_completions, ELEMENTSOF(r), 10 * USEC_PER_SEC));
        took = now_usec() - start;

        for (size_t i = 0; i < ELEMENTSOF(r); i++) {
                assert_int_equal(r[i].calls, 1);
                assert_ok(&r[i], 200);
                assert_string_equal(r[i].body, "slow");
                result_done(&r[i]);
        }
        /* One after another would take 2 s. */
        if (took >= 1000 * USEC_PER_MSEC)
                fail_msg("10 concurrent 200 ms requests took %llu ms", (unsigned long long) (took / USEC_PER_MSEC));
        assert_int_equal(server_count(&e->server, ACCEPTED), ELEMENTSOF(r));
}

static void test_concurrency__slow_then_fast__fast_finishes_first(void **state) {
        Env *e = *state;
        _cleanup_free_ char *us = url_for(e, "/slow/300"), *uf = url_for(e, "/hello");
        HttpRequest slow = get_request(us), fast = get_request(uf);
        Result rs = {}, rf = {};

        assert_int_equal(http_submit(e->http, &slow, on_done, &rs, NULL), 0);
        assert_int_equal(http_submit(e->http, &fast, on_done, &rf, NULL), 0);
        assert_true(run_until(e, cond_completions, 2, 10 * USEC_PER_SEC));

        assert_ok(&rs, 200);
        assert_ok(&rf, 200);
        assert_int_equal(rf.order, 1);
        assert_int_equal(rs.order, 2);
        assert_true(rs.at - rf.at >= 100 * USEC_PER_MSEC);

        result_done(&rs);
        result_done(&rf);
}

static void test_pool__twenty_fresh_connections__at_most_8_stay_open(void **state) {
        Env *e = *state;
        _cleanup_free_ char *u = url_for(e, "/slow/100");
        HttpRequest req = get_request(u);
        Result r[20] = {};

        req.fresh_connection = true;
        for (size_t i = 0; i < ELEMENTSOF(r); i++)
                assert_int_equal(http_submit(e->http, &req, on_done, &r[i], NULL), 0);
        assert_true(run_until(e, cond_completions, ELEMENTSOF(r), 10 * USEC_PER_SEC));
        for (size_t i = 0; i < ELEMENTSOF(r); i++) {
                assert_ok(&r[i], 200);
                result_done(&r[i]);
        }
        assert_int_equal(server_count(&e->server, ACCEPTED), ELEMENTSOF(r));

        if (!run_until(e, cond_open_at_most, 8, 2 * USEC_PER_SEC))
                fail_msg("%u connections still open, expected at most 8", server_count(&e->server, OPEN));
}

static void test_cancel__pending__no_callback_and_transport_still_works(void **state) {
        Env *e = *state;
        _cleanup_free_ char *hang = url_for(e, "/hang"), *hello = url_for(e, "/hello");
        HttpRequest rh = get_request(hang), rg = get_request(hello);
        Result early = {}, inflight = {}, after = {};
        HttpCall *call = NULL;
        Seen seen;

        /* Cancelled before the loop ever ran. */
        assert_int_equal(http_submit(e->http, &rg, on_done, &early, &call), 0);
        assert_non_null(call);
        http_cancel(e->http, call);

        /* Cancelled while the server holds the request: the connection goes. */
        call = NULL;
        assert_int_equal(http_submit(e->http, &rh, on_done, &inflight, &call), 0);
        assert_non_null(call);
        assert_true(run_until(e, cond_requests, 1, 5 * USEC_PER_SEC));
        seen = server_seen(&e->server, 0);
        assert_string_equal(seen.path, "/hang");
        seen_done(&seen);
        http_cancel(e->http, call);
        if (!run_until(e, cond_peer_closed, 1, 2 * USEC_PER_SEC))
                fail_msg("the cancelled call's connection stayed open");

        run_for(e, 100 * USEC_PER_MSEC);
        assert_int_equal(early.calls, 0);
        assert_int_equal(inflight.calls, 0);

        fetch(e, &rg, &after);
        assert_ok(&after, 200);
        assert_string_equal(after.body, "hello world");
        assert_int_equal(early.calls, 0);
        assert_int_equal(inflight.calls, 0);

        result_done(&after);
}

static void test_free__calls_pending__no_callbacks_no_leaks(void **state) {
        Env *e = *state;
        _cleanup_free_ char *hang = url_for(e, "/hang"), *hello = url_for(e, "/hello");
        HttpRequest rh = get_request(hang), rg = get_request(hello);
        Result idle = {}, p1 = {}, p2 = {}, p3 = {};
        unsigned before;

        /* One idle connection in the pool, two transfers in flight, one not
         * yet started. */
        fetch(e, &rg, &idle);
        assert_ok(&idle, 200);
        result_done(&idle);
        assert_int_equal(http_submit(e->http, &rh, on_done, &p1, NULL), 0);
        assert_int_equal(http_submit(e->http, &rh, on_done, &p2, NULL), 0);
        assert_true(run_until(e, cond_requests, 3, 5 * USEC_PER_SEC));
        assert_int_equal(http_submit(e->http, &rg, on_done, &p3, NULL), 0);
        before = completions;

        e->http = http_transport_free(e->http);

        /* Nothing of the transport is left on the loop, and every socket it
         * had is closed. */
        run_for(e, 50 * USEC_PER_MSEC);
        assert_int_equal(completions, before);
        assert_int_equal(p1.calls + p2.calls + p3.calls, 0);
        if (!run_until(e, cond_open_at_most, 0, 2 * USEC_PER_SEC))
                fail_msg("%u connections still open after the transport was freed",
                         server_count(&e->server, OPEN));
}

static void test_sensitive__answer_delivered(void **state) {
        Env *e = *state;
        _cleanup_free_ char *u = url_for(e, "/hello"), *ubig = url_for(e, "/big/100000");
        HttpRequest req = get_request(u), big = get_request(ubig);
        Result r = {}, rb = {};

        req.sensitive = big.sensitive = true;
        fetch(e, &req, &r);
        assert_ok(&r, 200);
        assert_string_equal(r.body, "hello world");

        /* Large enough to move the buffer many times. */
        fetch(e, &big, &rb);
        assert_ok(&rb, 200);
        assert_int_equal(rb.body_len, 100000);
        for (size_t i = 0; i < rb.body_len; i++)
                if (rb.body[i] != (char) ('a' + i % 26))
                        fail_msg("byte %zu differs", i);

        result_done(&r);
        result_done(&rb);
}

static void test_submit__bad_requests__einval_nothing_sent(void **state) {
        Env *e = *state;
        _cleanup_free_ char *u = url_for(e, "/hello");
        const char *smuggle[] = { "X-Ok: 1", "X-Bad: a\r\nX-Injected: 1", NULL };
        const char *lf[] = { "X-Bad: a\nb", NULL };
        HttpRequest del = get_request(u), crlf = get_request(u), bare_lf = get_request(u), no_url = get_request(NULL);
        Result r = {};

        del.method = "DELETE";
        crlf.headers = smuggle;
        bare_lf.headers = lf;
        assert_int_equal(http_submit(e->http, &del, on_done, &r, NULL), -EINVAL);
        assert_int_equal(http_submit(e->http, &crlf, on_done, &r, NULL), -EINVAL);
        assert_int_equal(http_submit(e->http, &bare_lf, on_done, &r, NULL), -EINVAL);
        assert_int_equal(http_submit(e->http, &no_url, on_done, &r, NULL), -EINVAL);
        assert_int_equal(http_submit(e->http, &del, NULL, &r, NULL), -EINVAL);

        run_for(e, 50 * USEC_PER_MSEC);
        assert_int_equal(r.calls, 0);
        assert_int_equal(server_count(&e->server, ACCEPTED), 0);
}

static void test_no_proxy__proxy_in_environment__bypassed(void **state) {
        Env *e = *state;
        _cleanup_free_ char *u = url_for(e, "/hello"), *proxy = NULL;
        HttpRequest via = get_request(u), direct = get_request(u);
        Result r1 = {}, r2 = {};

        /* A proxy nobody listens on: used, the request is refused. */
        assert_true(asprintf(&proxy, "http://127.0.0.1:%u", (unsigned) dead_port()) > 0);
        assert_int_equal(setenv("http_proxy", proxy, 1), 0);

        fetch(e, &via, &r1);
        assert_failed(&r1, -ECONNREFUSED);

        direct.no_proxy = true;
        fetch(e, &direct, &r2);
        assert_ok(&r2, 200);
        assert_int_equal(server_count(&e->server, REQUESTS), 1);

        assert_int_equal(unsetenv("http_proxy"), 0);
        result_done(&r2);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, env_setup, env_teardown)
        const struct CMUnitTest tests[] = {
                T(test_get__200__status_body_later_from_loop),
                T(test_post__body_and_headers__copied_and_sent_exactly),
                T(test_post__large_body__no_expect_100_continue),
                T(test_put_and_empty_post__method_and_length),
                T(test_get__non_2xx__error_0_with_status),
                T(test_get__302__not_followed),
                T(test_protocols__plain_http_not_allowed_and_file__eproto),
                T(test_max_response__over_cap_e2big_at_cap_ok),
                T(test_timeout__no_answer__etimedout_in_time),
                T(test_timeout__under_a_millisecond__still_a_limit),
                T(test_connect__nobody_listening__econnrefused),
                T(test_connection_dropped__no_or_partial_answer__econnreset),
                T(test_reuse__sequential_gets__one_connection),
                T(test_reuse__fresh_connection__new_connection),
                T(test_concurrency__ten_slow__run_in_parallel),
                T(test_concurrency__slow_then_fast__fast_finishes_first),
                T(test_pool__twenty_fresh_connections__at_most_8_stay_open),
                T(test_cancel__pending__no_callback_and_transport_still_works),
                T(test_free__calls_pending__no_callbacks_no_leaks),
                T(test_sensitive__answer_delivered),
                T(test_submit__bad_requests__einval_nothing_sent),
                T(test_no_proxy__proxy_in_environment__bypassed),
        };
#undef T
        /* Talk to the test server directly, whatever the environment says. */
        static const char *const proxy_vars[] = {
                "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY",
        };

        for (size_t i = 0; i < ELEMENTSOF(proxy_vars); i++)
                (void) unsetenv(proxy_vars[i]);
        setvbuf(stdout, NULL, _IONBF, 0);
        setvbuf(stderr, NULL, _IONBF, 0);
        return cmocka_run_group_tests_name("http-curl", tests, NULL, NULL);
}
