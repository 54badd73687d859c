/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/io/aws.c: event_run_until(), region_source_name(),
 * imds_get_sync() (on the scripted transport, tests/fakes/fake-http.c) and
 * aws_context_new().
 *
 * aws_context_new() always builds the real libcurl transport and takes the
 * IMDS endpoint from AWS_EC2_METADATA_SERVICE_ENDPOINT, so its tests point
 * that variable at 127.0.0.1: either at a port that is bound but not
 * listening (connection refused: "unreachable"), or at a small HTTP server
 * this file runs on the same sd-event loop, which aws_context_new() runs
 * itself. No test ever reaches 169.254.169.254 or an AWS host: every
 * aws_context_new() call goes through context_new(), which refuses to run
 * unless the variable names 127.0.0.1. The EC2 endpoint is only resolved to
 * a string here, never contacted. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* asprintf, strndup, setenv in the harness */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

#include "cdp/aws.h"
#include "cdp/config.h"
#include "cdp/imds.h"
#include "fake-http.h"
#include "test-util.h"

#define INSTANCE_ID "i-0123456789abcdef0"
#define AZ "eu-central-1b"
#define MAC "0a:1b:2c:3d:4e:5f"
#define ENI "eni-0fedcba9876543210"
#define LOCAL_IPV4 "10.1.2.3"
#define IMDS_REGION "eu-central-1"

static const char *const aws_env_vars[] = {
        "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
};

static void clear_aws_env(void) {
        for (size_t i = 0; i < ELEMENTSOF(aws_env_vars); i++)
                unsetenv(aws_env_vars[i]);
}

static uint64_t now_usec(void) {
        struct timespec ts;

        assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

/* ---- region_source_name ------------------------------------------------ */

static void test_region_source_name__every_value_and_out_of_range(void **state) {
        (void) state;
        assert_string_equal(region_source_name(REGION_SOURCE_ENV_AWS_REGION), "environment (AWS_REGION)");
        assert_string_equal(region_source_name(REGION_SOURCE_ENV_AWS_DEFAULT_REGION),
                            "environment (AWS_DEFAULT_REGION)");
        assert_string_equal(region_source_name(REGION_SOURCE_CONFIG), "config");
        assert_string_equal(region_source_name(REGION_SOURCE_IMDS), "imds");
        assert_string_equal(region_source_name((RegionSource) (REGION_SOURCE_IMDS + 1)), "unknown");
        assert_string_equal(region_source_name((RegionSource) -1), "unknown");
        assert_string_equal(region_source_name((RegionSource) 1000), "unknown");
}

/* ---- event_run_until ----------------------------------------------------- */

/* Timers armed by absolute CLOCK_MONOTONIC time taken now, not from
 * sd_event_now() (which is the cached time of the last loop iteration). */
static int on_set_done(sd_event_source *s, uint64_t usec, void *userdata) {
        *(bool *) userdata = true;
        return 0;
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        (*(unsigned *) userdata)++;
        (void) sd_event_source_set_time(s, now_usec() + 5 * USEC_PER_MSEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static sd_event_source *add_timer_in(sd_event *event, uint64_t usec, sd_event_time_handler_t cb, void *userdata) {
        sd_event_source *s = NULL;

        assert_int_equal(sd_event_add_time(event, &s, CLOCK_MONOTONIC, now_usec() + usec, 1, cb, userdata), 0);
        return s;
}

static void test_event_run_until__timer_sets_done__returns_0_early(void **state) {
        sd_event *event = NULL;
        sd_event_source *s;
        bool done = false;
        uint64_t t0, elapsed;
        int r;

        (void) state;
        assert_int_equal(sd_event_new(&event), 0);
        s = add_timer_in(event, 20 * USEC_PER_MSEC, on_set_done, &done);
        t0 = now_usec();
        r = event_run_until(event, &done, 5 * USEC_PER_SEC);
        elapsed = now_usec() - t0;
        sd_event_source_unref(s);
        sd_event_unref(event);

        assert_int_equal(r, 0);
        assert_true(done);
        assert_true(elapsed >= 15 * USEC_PER_MSEC);
        assert_true(elapsed < 2 * USEC_PER_SEC);
}

static void test_event_run_until__already_done__returns_0_without_dispatching(void **state) {
        sd_event *event = NULL;
        sd_event_source *s;
        unsigned ticks = 0;
        bool done = true;

        (void) state;
        assert_int_equal(sd_event_new(&event), 0);
        /* Already due: any loop iteration would dispatch it. */
        assert_int_equal(sd_event_add_time(event, &s, CLOCK_MONOTONIC, 1, 0, on_tick, &ticks), 0);
        assert_int_equal(event_run_until(event, &done, 5 * USEC_PER_SEC), 0);
        assert_int_equal(ticks, 0);
        sd_event_source_unref(s);
        sd_event_unref(event);
}

static void test_event_run_until__nothing_happens__etimedout_after_timeout(void **state) {
        sd_event *event = NULL;
        bool done = false;
        uint64_t t0, elapsed;
        int r;

        (void) state;
        assert_int_equal(sd_event_new(&event), 0);
        t0 = now_usec();
        r = event_run_until(event, &done, 150 * USEC_PER_MSEC);
        elapsed = now_usec() - t0;
        sd_event_unref(event);

        assert_int_equal(r, -ETIMEDOUT);
        assert_false(done);
        assert_true(elapsed >= 140 * USEC_PER_MSEC);
        assert_true(elapsed < 2 * USEC_PER_SEC);
}

/* Events keep arriving but none sets done: the timeout is for the whole
 * wait, not per iteration. */
static void test_event_run_until__busy_but_never_done__etimedout_overall(void **state) {
        sd_event *event = NULL;
        sd_event_source *s;
        unsigned ticks = 0;
        bool done = false;
        uint64_t t0, elapsed;
        int r;

        (void) state;
        assert_int_equal(sd_event_new(&event), 0);
        s = add_timer_in(event, 5 * USEC_PER_MSEC, on_tick, &ticks);
        t0 = now_usec();
        r = event_run_until(event, &done, 200 * USEC_PER_MSEC);
        elapsed = now_usec() - t0;
        sd_event_source_unref(s);
        sd_event_unref(event);

        assert_int_equal(r, -ETIMEDOUT);
        assert_true(ticks >= 3);
        assert_true(elapsed >= 190 * USEC_PER_MSEC);
        assert_true(elapsed < 2 * USEC_PER_SEC);
}

static void test_event_run_until__zero_timeout__etimedout_at_once(void **state) {
        sd_event *event = NULL;
        bool done = false;
        uint64_t t0;
        int r;

        (void) state;
        assert_int_equal(sd_event_new(&event), 0);
        t0 = now_usec();
        r = event_run_until(event, &done, 0);
        assert_true(now_usec() - t0 < USEC_PER_SEC);
        sd_event_unref(event);
        assert_int_equal(r, -ETIMEDOUT);
}

/* event_run_until() measures the timeout from the call, not from
 * sd_event_now() (the time of the loop's *last* iteration): here the loop
 * last ran 300 ms before the call, a tick every 5 ms stands for curl's
 * timers, and done comes 100 ms into a 250 ms wait; measured from the last
 * iteration, the wait looked expired after ~5 ms. */
static void msleep(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static void test_event_run_until__after_time_outside_loop__timeout_counts_from_call(void **state) {
        sd_event *event = NULL;
        sd_event_source *s, *tick, *done_timer;
        unsigned ticks = 0;
        bool done = false, first = false;
        int r;

        (void) state;
        assert_int_equal(sd_event_new(&event), 0);
        s = add_timer_in(event, 0, on_set_done, &first);
        assert_int_equal(event_run_until(event, &first, USEC_PER_SEC), 0);
        msleep(300);
        tick = add_timer_in(event, 5 * USEC_PER_MSEC, on_tick, &ticks);
        done_timer = add_timer_in(event, 100 * USEC_PER_MSEC, on_set_done, &done);
        r = event_run_until(event, &done, 250 * USEC_PER_MSEC);
        sd_event_source_unref(s);
        sd_event_source_unref(tick);
        sd_event_source_unref(done_timer);
        sd_event_unref(event);

        assert_int_equal(r, 0);
        assert_true(done);
}

/* ---- imds_get_sync (scripted transport) ---------------------------------- */

typedef struct SyncEnv {
        sd_event *event;
        FakeHttp *http;
        ImdsClient *imds;
} SyncEnv;

static int sync_setup(void **state) {
        ImdsConfig config = { .endpoint = "http://127.0.0.1:9", .retry_delay_usec = 1, .max_attempts = 2 };
        SyncEnv *e = calloc(1, sizeof(*e));

        if (!e)
                return -1;
        *state = e;
        if (sd_event_new(&e->event) < 0 || fake_http_new(e->event, &e->http) < 0)
                return -1;
        if (imds_client_new(&e->imds, e->event, fake_http_transport(e->http), NULL, &config) < 0)
                return -1;
        return 0;
}

static int sync_teardown(void **state) {
        SyncEnv *e = *state;
        bool ok;

        if (!e)
                return 0;
        ok = !e->http || fake_http_imds_v2_only(e->http);
        imds_client_free(e->imds);
        fake_http_free(e->http);
        sd_event_unref(e->event);
        free(e);
        return ok ? 0 : -1;
}

static void test_imds_get_sync__answer__trailing_newlines_removed(void **state) {
        SyncEnv *e = *state;
        char *v = NULL;

        fake_http_push(e->http, "PUT", "/latest/api/token", 200, "token-1", 0);
        fake_http_push(e->http, "GET", "/latest/meta-data/instance-id", 200, INSTANCE_ID "\r\n\n", 0);
        fake_http_push(e->http, "GET", "/latest/meta-data/mac", 200, MAC, 0);
        fake_http_push(e->http, "GET", "/latest/meta-data/empty", 200, "\n", 0);

        assert_int_equal(imds_get_sync(e->event, e->imds, "meta-data/instance-id", &v), 0);
        assert_string_equal(v, INSTANCE_ID);
        free(v);
        assert_int_equal(imds_get_sync(e->event, e->imds, "meta-data/mac", &v), 0);
        assert_string_equal(v, MAC);
        free(v);
        assert_int_equal(imds_get_sync(e->event, e->imds, "meta-data/empty", &v), 0);
        assert_string_equal(v, "");
        free(v);
        /* One token for all three. */
        assert_int_equal(fake_http_count(e->http), 4);
        assert_string_equal(fake_http_get(e->http, 1)->url, "http://127.0.0.1:9/latest/meta-data/instance-id");
}

static void test_imds_get_sync__404__enoent_and_ret_untouched(void **state) {
        SyncEnv *e = *state;
        char *v = (char *) "untouched";

        fake_http_push(e->http, "PUT", "/latest/api/token", 200, "token-1", 0);
        fake_http_push(e->http, "GET", "/latest/meta-data/local-ipv4", 404, "Not Found", 0);
        assert_int_equal(imds_get_sync(e->event, e->imds, "meta-data/local-ipv4", &v), -ENOENT);
        assert_string_equal(v, "untouched");
}

static void test_imds_get_sync__bad_path__einval_and_nothing_sent(void **state) {
        SyncEnv *e = *state;
        char *v = (char *) "untouched";

        assert_int_equal(imds_get_sync(e->event, e->imds, "/meta-data/instance-id", &v), -EINVAL);
        assert_int_equal(imds_get_sync(e->event, e->imds, "meta-data/../x", &v), -EINVAL);
        assert_int_equal(imds_get_sync(e->event, e->imds, "meta-data/x?y", &v), -EINVAL);
        assert_string_equal(v, "untouched");
        assert_int_equal(fake_http_count(e->http), 0);
}

static void test_imds_get_sync__unreachable__ehostdown(void **state) {
        SyncEnv *e = *state;
        char *v = (char *) "untouched";
        uint64_t t0 = now_usec();

        /* Nothing queued: every request is refused. */
        assert_int_equal(imds_get_sync(e->event, e->imds, "meta-data/instance-id", &v), -EHOSTDOWN);
        assert_true(now_usec() - t0 < 5 * USEC_PER_SEC);
        assert_string_equal(v, "untouched");
        assert_true(fake_http_count(e->http) >= 1);
        assert_int_equal(fake_http_in_flight(e->http), 0);
}

/* ---- a tiny IMDS on 127.0.0.1, served from the same event loop ----------- */

#define MAX_ROUTES 16
#define MAX_SEEN 64

typedef struct Route {
        const char *method;
        const char *path;
        int status;
        const char *body;
} Route;

typedef struct Seen {
        char method[8];
        char path[256];
        bool token;             /* X-aws-ec2-metadata-token present */
} Seen;

typedef struct Conn Conn;
typedef struct Server Server;

struct Conn {
        Server *server;
        int fd;
        sd_event_source *source;
        char buf[8192];
        size_t len;
        Conn *next;
};

struct Server {
        int fd;                 /* listening socket, or bound and never listening */
        uint16_t port;
        sd_event_source *source;
        Route routes[MAX_ROUTES];
        size_t n_routes;
        Seen seen[MAX_SEEN];
        size_t n_seen;
        Conn *conns;
};

typedef struct AwsEnv {
        sd_event *event;
        Config *config;
        Server server;          /* serving */
        int refuse_fd;          /* bound, not listening: connection refused */
        uint16_t refuse_port;
        AwsContext *ctx;
        char *err;
} AwsEnv;

static void server_route(Server *s, const char *method, const char *path, int status, const char *body) {
        /* A later route for the same request replaces an earlier one. */
        for (size_t i = 0; i < s->n_routes; i++)
                if (strcmp(s->routes[i].method, method) == 0 && strcmp(s->routes[i].path, path) == 0) {
                        s->routes[i].status = status;
                        s->routes[i].body = body;
                        return;
                }
        assert_true(s->n_routes < MAX_ROUTES);
        s->routes[s->n_routes++] = (Route) { .method = method, .path = path, .status = status, .body = body };
}

static void conn_free(Conn *c) {
        Server *s = c->server;

        for (Conn **p = &s->conns; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        sd_event_source_disable_unref(c->source);
        close(c->fd);
        free(c);
}

static void conn_answer(Conn *c) {
        Server *s = c->server;
        char method[8] = "", path[256] = "", head[512];
        const Route *route = NULL;
        const char *body = "Not Found";
        int status = 404, n;
        Seen *seen;

        c->buf[c->len] = '\0';
        if (sscanf(c->buf, "%7s %255s", method, path) != 2)
                status = 400;
        if (s->n_seen < MAX_SEEN) {
                seen = &s->seen[s->n_seen++];
                snprintf(seen->method, sizeof(seen->method), "%s", method);
                snprintf(seen->path, sizeof(seen->path), "%s", path);
                seen->token = strcasestr(c->buf, "\r\nX-aws-ec2-metadata-token:") != NULL;
        }
        for (size_t i = 0; i < s->n_routes && status != 400; i++)
                if (strcmp(s->routes[i].method, method) == 0 && strcmp(s->routes[i].path, path) == 0)
                        route = &s->routes[i];
        if (route) {
                status = route->status;
                body = route->body;
        }
        n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, strlen(body));
        assert_true(n > 0 && (size_t) n < sizeof(head));
        /* Small answers on a fresh loopback socket: the send buffer takes them. */
        if (send(c->fd, head, (size_t) n, MSG_NOSIGNAL) != n ||
            send(c->fd, body, strlen(body), MSG_NOSIGNAL) != (ssize_t) strlen(body))
                fprintf(stderr, "fake IMDS: short write\n");
        conn_free(c);
}

static int on_conn_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Conn *c = userdata;
        ssize_t n;

        n = recv(fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                conn_free(c);
                return 0;
        }
        c->len += (size_t) n;
        c->buf[c->len] = '\0';
        /* The requests IMDS gets have no body: the head is the request. */
        if (strstr(c->buf, "\r\n\r\n") || c->len >= sizeof(c->buf) - 1)
                conn_answer(c);
        return 0;
}

static int on_accept(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Server *s = userdata;
        Conn *c;
        int cfd;

        cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
                return 0;
        c = calloc(1, sizeof(*c));
        assert_non_null(c);
        c->server = s;
        c->fd = cfd;
        c->next = s->conns;
        s->conns = c;
        if (sd_event_add_io(sd_event_source_get_event(source), &c->source, cfd, EPOLLIN, on_conn_io, c) < 0)
                conn_free(c);
        return 0;
}

/* A TCP socket on 127.0.0.1 with a kernel-chosen port. */
static int loopback_socket(uint16_t *ret_port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int fd;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || getsockname(fd, (struct sockaddr *) &sa, &len) < 0) {
                close(fd);
                return -1;
        }
        *ret_port = ntohs(sa.sin_port);
        return fd;
}

/* The answers of a healthy instance whose region IMDS gives as IMDS_REGION. */
static void server_default_routes(Server *s) {
        server_route(s, "PUT", "/latest/api/token", 200, "AQAEAfake-token==");
        server_route(s, "GET", "/latest/meta-data/placement/region", 200, IMDS_REGION);
        server_route(s, "GET", "/latest/meta-data/instance-id", 200, INSTANCE_ID);
        server_route(s, "GET", "/latest/meta-data/placement/availability-zone", 200, AZ);
        server_route(s, "GET", "/latest/meta-data/mac", 200, MAC "\n");
        server_route(s, "GET", "/latest/meta-data/network/interfaces/macs/" MAC "/interface-id", 200, ENI);
        server_route(s, "GET", "/latest/meta-data/local-ipv4", 200, LOCAL_IPV4);
}

static int aws_setup(void **state) {
        AwsEnv *e = calloc(1, sizeof(*e));

        if (!e)
                return -1;
        *state = e;
        e->server.fd = e->refuse_fd = -1;
        clear_aws_env();
        if (sd_event_new(&e->event) < 0 || config_new(&e->config) < 0)
                return -1;
        e->refuse_fd = loopback_socket(&e->refuse_port);
        e->server.fd = loopback_socket(&e->server.port);
        if (e->refuse_fd < 0 || e->server.fd < 0 || listen(e->server.fd, 16) < 0)
                return -1;
        if (sd_event_add_io(e->event, &e->server.source, e->server.fd, EPOLLIN, on_accept, &e->server) < 0)
                return -1;
        server_default_routes(&e->server);
        return 0;
}

static int aws_teardown(void **state) {
        AwsEnv *e = *state;

        if (!e)
                return 0;
        aws_context_free(e->ctx);
        free(e->err);
        while (e->server.conns)
                conn_free(e->server.conns);
        sd_event_source_disable_unref(e->server.source);
        if (e->server.fd >= 0)
                close(e->server.fd);
        if (e->refuse_fd >= 0)
                close(e->refuse_fd);
        config_free(e->config);
        sd_event_unref(e->event);
        clear_aws_env();
        free(e);
        return 0;
}

static void use_imds(AwsEnv *e, uint16_t port) {
        char url[64];

        snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned) port);
        assert_int_equal(setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1), 0);
}

/* The only way the tests call aws_context_new(): never without IMDS on
 * 127.0.0.1 (an unset variable would mean 169.254.169.254). */
static int context_new(AwsEnv *e) {
        const char *ep = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");

        if (!ep || !strstr(ep, "://127.0.0.1:"))
                fail_msg("refusing to build an AwsContext with IMDS at %s", ep ? ep : "(default)");
        assert_null(e->ctx);
        free(e->err);
        e->err = NULL;
        return aws_context_new(e->event, e->config, &e->ctx, &e->err);
}

static size_t server_count(const Server *s, const char *method, const char *path) {
        size_t n = 0;

        for (size_t i = 0; i < s->n_seen; i++)
                n += strcmp(s->seen[i].method, method) == 0 && strcmp(s->seen[i].path, path) == 0;
        return n;
}

/* SPEC 3: token first, every GET with a token. */
static void assert_server_saw_imdsv2_only(const Server *s) {
        assert_true(s->n_seen > 0);
        assert_string_equal(s->seen[0].method, "PUT");
        for (size_t i = 0; i < s->n_seen; i++) {
                if (strcmp(s->seen[i].method, "PUT") == 0) {
                        assert_string_equal(s->seen[i].path, "/latest/api/token");
                        assert_false(s->seen[i].token);
                } else if (strcmp(s->seen[i].method, "GET") == 0) {
                        if (!s->seen[i].token)
                                fail_msg("GET %s without a token", s->seen[i].path);
                } else
                        fail_msg("unexpected %s %s", s->seen[i].method, s->seen[i].path);
        }
}

static void assert_err(const AwsEnv *e, const char *expected) {
        if (!e->err)
                fail_msg("no error message, expected \"%s\"", expected);
        assert_string_equal(e->err, expected);
}

/* ---- aws_context_new: no IMDS -------------------------------------------- */

static void test_context__metadata_disabled__enxio_with_reason(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->refuse_port);
        setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
        setenv("AWS_REGION", "eu-west-1", 1);
        assert_int_equal(context_new(e), -ENXIO);
        assert_null(e->ctx);
        assert_err(e, "instance metadata is disabled (AWS_EC2_METADATA_DISABLED=true): cdpd needs it to know "
                      "which instance it runs on");
        assert_int_equal(e->server.n_seen, 0);
}

static void test_context__metadata_disabled_false__imds_used(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->refuse_port);
        setenv("AWS_EC2_METADATA_DISABLED", "false", 1);
        assert_int_equal(context_new(e), -EHOSTDOWN);
        assert_err(e, "IMDS meta-data/placement/region: instance metadata service unreachable");
}

static void test_context__bad_metadata_endpoint__einval_names_it(void **state) {
        AwsEnv *e = *state;

        setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "ftp://127.0.0.1:1", 1);
        assert_int_equal(context_new(e), -EINVAL);
        assert_null(e->ctx);
        assert_err(e, "AWS_EC2_METADATA_SERVICE_ENDPOINT \"ftp://127.0.0.1:1\": Invalid argument");
}

/* ---- aws_context_new: IMDS refuses connections ------------------------------ */

static void test_context__unreachable_without_region__ehostdown_at_region(void **state) {
        AwsEnv *e = *state;
        uint64_t t0;

        use_imds(e, e->refuse_port);
        t0 = now_usec();
        assert_int_equal(context_new(e), -EHOSTDOWN);
        assert_true(now_usec() - t0 < 20 * USEC_PER_SEC);
        assert_null(e->ctx);
        assert_err(e, "IMDS meta-data/placement/region: instance metadata service unreachable");
}

/* With the region known, IMDS is not asked for it: the first failure is the
 * instance id. */
static void test_context__unreachable_with_config_region__ehostdown_at_instance_id(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->refuse_port);
        e->config->region = strdup("eu-west-1");
        assert_non_null(e->config->region);
        assert_int_equal(context_new(e), -EHOSTDOWN);
        assert_err(e, "IMDS meta-data/instance-id: instance metadata service unreachable");
}

static void test_context__unreachable_with_env_region__ehostdown_at_instance_id(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->refuse_port);
        setenv("AWS_DEFAULT_REGION", "us-east-2", 1);
        assert_int_equal(context_new(e), -EHOSTDOWN);
        assert_err(e, "IMDS meta-data/instance-id: instance metadata service unreachable");
}

/* Region order, seen through the one place it shows on failure: the source
 * named in the "not a region name" message. */
static void test_context__region_order__aws_region_first(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->refuse_port);
        setenv("AWS_REGION", "Bogus_1", 1);
        setenv("AWS_DEFAULT_REGION", "also-bogus", 1);
        e->config->region = strdup("still bogus");
        assert_int_equal(context_new(e), -EINVAL);
        assert_err(e, "region \"Bogus_1\" (from environment (AWS_REGION)) is not a region name");
}

static void test_context__region_order__aws_default_region_second(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->refuse_port);
        setenv("AWS_REGION", "", 1);    /* empty counts as unset */
        setenv("AWS_DEFAULT_REGION", "also-bogus", 1);
        e->config->region = strdup("still bogus");
        assert_int_equal(context_new(e), -EINVAL);
        assert_err(e, "region \"also-bogus\" (from environment (AWS_DEFAULT_REGION)) is not a region name");
}

static void test_context__region_order__config_third(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->refuse_port);
        setenv("AWS_DEFAULT_REGION", "", 1);
        e->config->region = strdup("still bogus");
        assert_int_equal(context_new(e), -EINVAL);
        assert_err(e, "region \"still bogus\" (from config) is not a region name");
}

/* ---- aws_context_new: the local IMDS -------------------------------------- */

static void test_context__healthy_instance__identity_from_imds(void **state) {
        AwsEnv *e = *state;
        Server *s = &e->server;

        use_imds(e, s->port);
        assert_int_equal(context_new(e), 0);
        assert_null(e->err);
        assert_non_null(e->ctx);
        assert_ptr_equal(e->ctx->event, e->event);
        assert_non_null(e->ctx->transport);
        assert_non_null(e->ctx->imds);
        assert_non_null(e->ctx->creds);
        assert_non_null(e->ctx->ec2);
        assert_string_equal(e->ctx->region, IMDS_REGION);
        assert_int_equal(e->ctx->region_source, REGION_SOURCE_IMDS);
        assert_string_equal(e->ctx->endpoint, "https://ec2." IMDS_REGION ".amazonaws.com");
        assert_string_equal(e->ctx->instance_id, INSTANCE_ID);
        assert_string_equal(e->ctx->availability_zone, AZ);
        assert_string_equal(e->ctx->mac, MAC);
        assert_string_equal(e->ctx->network_interface_id, ENI);
        assert_string_equal(e->ctx->local_ipv4, LOCAL_IPV4);
        assert_int_equal(creds_source(e->ctx->creds), CREDS_SOURCE_INSTANCE_ROLE);

        assert_server_saw_imdsv2_only(s);
        assert_int_equal(server_count(s, "PUT", "/latest/api/token"), 1);
        assert_int_equal(server_count(s, "GET", "/latest/meta-data/placement/region"), 1);
        assert_int_equal(server_count(s, "GET", "/latest/meta-data/local-ipv4"), 1);
        assert_int_equal(s->n_seen, 7);
}

static void test_context__aws_region_beats_config_and_imds(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->server.port);
        setenv("AWS_REGION", "ap-southeast-2", 1);
        setenv("AWS_DEFAULT_REGION", "us-west-2", 1);
        e->config->region = strdup("eu-west-1");
        assert_int_equal(context_new(e), 0);
        assert_string_equal(e->ctx->region, "ap-southeast-2");
        assert_int_equal(e->ctx->region_source, REGION_SOURCE_ENV_AWS_REGION);
        assert_string_equal(e->ctx->endpoint, "https://ec2.ap-southeast-2.amazonaws.com");
        assert_int_equal(server_count(&e->server, "GET", "/latest/meta-data/placement/region"), 0);
}

static void test_context__aws_default_region_beats_config_and_imds(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->server.port);
        setenv("AWS_DEFAULT_REGION", "us-west-2", 1);
        e->config->region = strdup("eu-west-1");
        assert_int_equal(context_new(e), 0);
        assert_string_equal(e->ctx->region, "us-west-2");
        assert_int_equal(e->ctx->region_source, REGION_SOURCE_ENV_AWS_DEFAULT_REGION);
        assert_int_equal(server_count(&e->server, "GET", "/latest/meta-data/placement/region"), 0);
}

static void test_context__config_region_beats_imds(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->server.port);
        e->config->region = strdup("cn-north-1");
        assert_int_equal(context_new(e), 0);
        assert_string_equal(e->ctx->region, "cn-north-1");
        assert_int_equal(e->ctx->region_source, REGION_SOURCE_CONFIG);
        assert_string_equal(e->ctx->endpoint, "https://ec2.cn-north-1.amazonaws.com.cn");
        assert_int_equal(server_count(&e->server, "GET", "/latest/meta-data/placement/region"), 0);
}

static void test_context__imds_region_invalid__einval_from_imds(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->server.port);
        server_route(&e->server, "GET", "/latest/meta-data/placement/region", 200, "<html>oops</html>");
        assert_int_equal(context_new(e), -EINVAL);
        assert_null(e->ctx);
        assert_err(e, "region \"<html>oops</html>\" (from imds) is not a region name");
}

static void test_context__endpoint__config_then_environment(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->server.port);
        e->config->ec2_endpoint = strdup("http://127.0.0.1:1/ec2");
        assert_int_equal(context_new(e), 0);
        assert_string_equal(e->ctx->endpoint, "http://127.0.0.1:1/ec2");
        e->ctx = aws_context_free(e->ctx);

        setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:2", 1);
        assert_int_equal(context_new(e), 0);
        assert_string_equal(e->ctx->endpoint, "http://127.0.0.1:2");
        e->ctx = aws_context_free(e->ctx);

        setenv("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:3", 1);
        assert_int_equal(context_new(e), 0);
        assert_string_equal(e->ctx->endpoint, "http://127.0.0.1:3");
}

static void test_context__bad_ec2_endpoint__einval_message(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->server.port);
        setenv("AWS_ENDPOINT_URL_EC2", "ec2.example", 1);
        assert_int_equal(context_new(e), -EINVAL);
        assert_null(e->ctx);
        assert_err(e, "EC2 endpoint: Invalid argument");
}

static void test_context__no_local_ipv4__still_succeeds(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->server.port);
        server_route(&e->server, "GET", "/latest/meta-data/local-ipv4", 404, "Not Found");
        assert_int_equal(context_new(e), 0);
        assert_null(e->ctx->local_ipv4);
        assert_string_equal(e->ctx->instance_id, INSTANCE_ID);
}

static void test_context__local_ipv4_server_error__fails(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->server.port);
        server_route(&e->server, "GET", "/latest/meta-data/local-ipv4", 400, "Bad Request");
        assert_int_equal(context_new(e), -EBADMSG);
        assert_null(e->ctx);
        assert_err(e, "IMDS meta-data/local-ipv4: Bad message");
}

static void test_context__token_refused__eacces_message(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->server.port);
        server_route(&e->server, "PUT", "/latest/api/token", 403, "Forbidden");
        assert_int_equal(context_new(e), -EACCES);
        assert_err(e, "IMDS meta-data/placement/region: instance metadata service refused the token");
        /* IMDSv2 only: no GET went out without a token. */
        assert_int_equal(server_count(&e->server, "GET", "/latest/meta-data/placement/region"), 0);
}

static void test_context__instance_id_missing__enoent_names_path(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->server.port);
        server_route(&e->server, "GET", "/latest/meta-data/instance-id", 404, "Not Found");
        assert_int_equal(context_new(e), -ENOENT);
        assert_err(e, "IMDS meta-data/instance-id: not found in instance metadata");
}

static void test_context__instance_id_invalid__ebadmsg_quotes_it(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->server.port);
        server_route(&e->server, "GET", "/latest/meta-data/instance-id", 200, "vol-0123456789abcdef0");
        assert_int_equal(context_new(e), -EBADMSG);
        assert_err(e, "IMDS meta-data/instance-id: \"vol-0123456789abcdef0\" is not an instance id");
}

static void test_context__availability_zone_missing__enoent_names_path(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->server.port);
        server_route(&e->server, "GET", "/latest/meta-data/placement/availability-zone", 404, "Not Found");
        assert_int_equal(context_new(e), -ENOENT);
        assert_err(e, "IMDS meta-data/placement/availability-zone: not found in instance metadata");
}

static void test_context__mac_invalid__ebadmsg_quotes_it(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->server.port);
        server_route(&e->server, "GET", "/latest/meta-data/mac", 200, "0A:1B:2C:3D:4E:5F");
        assert_int_equal(context_new(e), -EBADMSG);
        assert_err(e, "IMDS meta-data/mac: \"0A:1B:2C:3D:4E:5F\" is not a MAC address");
        /* Never asked for the interface of a bad MAC. */
        for (size_t i = 0; i < e->server.n_seen; i++)
                assert_null(strstr(e->server.seen[i].path, "/macs/"));
}

static void test_context__interface_id_invalid__ebadmsg_names_path(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->server.port);
        server_route(&e->server, "GET", "/latest/meta-data/network/interfaces/macs/" MAC "/interface-id", 200,
                     "i-0123456789abcdef0");
        assert_int_equal(context_new(e), -EBADMSG);
        assert_err(e, "IMDS meta-data/network/interfaces/macs/" MAC "/interface-id: \"i-0123456789abcdef0\" is "
                      "not a network interface id");
}

static void test_context__environment_credentials__used(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->server.port);
        setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 1);
        assert_int_equal(context_new(e), 0);
        assert_int_equal(creds_source(e->ctx->creds), CREDS_SOURCE_ENVIRONMENT);
        assert_string_equal(creds_source_name(e->ctx->creds), "environment");
        /* Credentials are not fetched while building the context. */
        for (size_t i = 0; i < e->server.n_seen; i++)
                assert_null(strstr(e->server.seen[i].path, "security-credentials"));
}

static void test_context__bad_access_key_id__einval_message(void **state) {
        AwsEnv *e = *state;

        use_imds(e, e->server.port);
        setenv("AWS_ACCESS_KEY_ID", "not a key id", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
        assert_int_equal(context_new(e), -EINVAL);
        assert_null(e->ctx);
        assert_err(e, "credentials from the environment: AWS_ACCESS_KEY_ID is not an access key id");
}

static void test_context__free_null__is_noop(void **state) {
        (void) state;
        assert_null(aws_context_free(NULL));
}

#define AWS_TEST(t) cmocka_unit_test_setup_teardown(t, aws_setup, aws_teardown)
#define SYNC_TEST(t) cmocka_unit_test_setup_teardown(t, sync_setup, sync_teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_region_source_name__every_value_and_out_of_range),
                cmocka_unit_test(test_event_run_until__timer_sets_done__returns_0_early),
                cmocka_unit_test(test_event_run_until__already_done__returns_0_without_dispatching),
                cmocka_unit_test(test_event_run_until__nothing_happens__etimedout_after_timeout),
                cmocka_unit_test(test_event_run_until__busy_but_never_done__etimedout_overall),
                cmocka_unit_test(test_event_run_until__zero_timeout__etimedout_at_once),
                cmocka_unit_test(test_event_run_until__after_time_outside_loop__timeout_counts_from_call),
                SYNC_TEST(test_imds_get_sync__answer__trailing_newlines_removed),
                SYNC_TEST(test_imds_get_sync__404__enoent_and_ret_untouched),
                SYNC_TEST(test_imds_get_sync__bad_path__einval_and_nothing_sent),
                SYNC_TEST(test_imds_get_sync__unreachable__ehostdown),
                AWS_TEST(test_context__metadata_disabled__enxio_with_reason),
                AWS_TEST(test_context__metadata_disabled_false__imds_used),
                AWS_TEST(test_context__bad_metadata_endpoint__einval_names_it),
                AWS_TEST(test_context__unreachable_without_region__ehostdown_at_region),
                AWS_TEST(test_context__unreachable_with_config_region__ehostdown_at_instance_id),
                AWS_TEST(test_context__unreachable_with_env_region__ehostdown_at_instance_id),
                AWS_TEST(test_context__region_order__aws_region_first),
                AWS_TEST(test_context__region_order__aws_default_region_second),
                AWS_TEST(test_context__region_order__config_third),
                AWS_TEST(test_context__healthy_instance__identity_from_imds),
                AWS_TEST(test_context__aws_region_beats_config_and_imds),
                AWS_TEST(test_context__aws_default_region_beats_config_and_imds),
                AWS_TEST(test_context__config_region_beats_imds),
                AWS_TEST(test_context__imds_region_invalid__einval_from_imds),
                AWS_TEST(test_context__endpoint__config_then_environment),
                AWS_TEST(test_context__bad_ec2_endpoint__einval_message),
                AWS_TEST(test_context__no_local_ipv4__still_succeeds),
                AWS_TEST(test_context__local_ipv4_server_error__fails),
                AWS_TEST(test_context__token_refused__eacces_message),
                AWS_TEST(test_context__instance_id_missing__enoent_names_path),
                AWS_TEST(test_context__instance_id_invalid__ebadmsg_quotes_it),
                AWS_TEST(test_context__availability_zone_missing__enoent_names_path),
                AWS_TEST(test_context__mac_invalid__ebadmsg_quotes_it),
                AWS_TEST(test_context__interface_id_invalid__ebadmsg_names_path),
                AWS_TEST(test_context__environment_credentials__used),
                AWS_TEST(test_context__bad_access_key_id__einval_message),
                cmocka_unit_test(test_context__free_null__is_noop),
        };

        return cmocka_run_group_tests_name("aws", tests, NULL, NULL);
}
