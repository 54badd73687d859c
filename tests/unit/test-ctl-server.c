/* SPDX-License-Identifier: MIT */
/* The control socket server on a real socket in a temporary directory, with
 * a small command table, driven by its own sd-event loop; clients are plain
 * sockets in the same process (the helpers run the loop while they wait),
 * forked children for peer credentials, and the cdpctl binary when it has
 * been built (CDPCTL or $CDP_TOP_BUILDDIR/daemon/cdpctl). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "cdp/macro.h"
#include "ctl-server.h"
#include "log.h"

#define NOBODY 65534
#define WAIT_USEC (5 * USEC_PER_SEC)

typedef struct Fixture {
        sd_event *event;
        CtlServer *server;
        char dir[64];
        char path[128];
        gid_t group;
        CtlRequest *held;               /* "hold": answered by the test */
        CtlRequest *later;              /* "later": answered by a timer */
        sd_event_source *later_timer;
        char log[256];                  /* handler calls and late replies, in order */
        const char *verb_mode;          /* what cdpctl's verbs do: NULL echo, "fail", "usage", "hold" */
} Fixture;

typedef struct Client {
        int fd;
        char buf[256 * 1024];
        size_t len;
} Client;

static inline void json_putp(struct json_object **o) {
        if (*o)
                (void) json_object_put(*o);
}

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

static void log_call(Fixture *f, const char *what) {
        if (!f)
                return;
        if (f->log[0])
                (void) strncat(f->log, " ", sizeof(f->log) - strlen(f->log) - 1);
        (void) strncat(f->log, what, sizeof(f->log) - strlen(f->log) - 1);
}

/* ---- handlers ---- */

static int h_echo(void *userdata, CtlRequest *req, struct json_object *args) {
        log_call(userdata, "echo");
        ctl_reply_ok(req, json_object_get(args));
        return 0;
}

static int h_status(void *userdata, CtlRequest *req, struct json_object *args) {
        struct json_object *o = json_object_new_object(), *patterns = json_object_new_object(),
                           *p = json_object_new_object(), *targets = json_object_new_array(),
                           *t = json_object_new_object();

        (void) args;
        log_call(userdata, "status");
        json_object_object_add(t, "cidr", json_object_new_string("192.168.100.10/32"));
        json_object_object_add(t, "here", json_object_new_boolean(1));
        json_object_array_add(targets, t);
        json_object_array_add(targets, json_object_new_string("eipalloc-1a2b3c4d"));
        json_object_object_add(p, "enabled", json_object_new_boolean(1));
        json_object_object_add(p, "targets", targets);
        json_object_object_add(patterns, "routing_ha", p);
        json_object_object_add(patterns, "bastion", json_object_new_object());
        json_object_object_add(o, "version", json_object_new_string("0.1.0"));
        json_object_object_add(o, "ready", json_object_new_boolean(1));
        json_object_object_add(o, "tags", json_object_new_int(3));
        json_object_object_add(o, "tags_error", NULL);
        json_object_object_add(o, "patterns", patterns);
        json_object_object_add(o, "note", json_object_new_string("a\tb\x1b[31m"));
        ctl_reply_ok(req, o);
        return 0;
}

static int h_fail(void *userdata, CtlRequest *req, struct json_object *args) {
        (void) args;
        log_call(userdata, "fail");
        ctl_reply_error(req, 1, "Boom", "it broke");
        return 0;
}

static int h_usage(void *userdata, CtlRequest *req, struct json_object *args) {
        (void) args;
        log_call(userdata, "usage");
        ctl_reply_error(req, 2, "InvalidArgument", "no such pattern");
        return 0;
}

static int h_details(void *userdata, CtlRequest *req, struct json_object *args) {
        struct json_object *o = json_object_new_object();

        (void) args;
        log_call(userdata, "details");
        json_object_object_add(o, "moved", json_object_new_int(1));
        json_object_object_add(o, "failed", json_object_new_int(1));
        ctl_reply_error_with(req, 1, "UnauthorizedOperation", "not allowed: ec2:ReplaceRoute", o);
        return 0;
}

static int h_internal(void *userdata, CtlRequest *req, struct json_object *args) {
        (void) req, (void) args;
        log_call(userdata, "internal");
        return -EIO;
}

static int h_replied_then_fails(void *userdata, CtlRequest *req, struct json_object *args) {
        (void) args;
        log_call(userdata, "replied");
        ctl_reply_ok(req, NULL);
        return -EIO;
}

static int h_whoami(void *userdata, CtlRequest *req, struct json_object *args) {
        struct json_object *o = json_object_new_object();

        (void) args;
        log_call(userdata, "whoami");
        json_object_object_add(o, "uid", json_object_new_int64(ctl_request_uid(req)));
        json_object_object_add(o, "gid", json_object_new_int64(ctl_request_gid(req)));
        json_object_object_add(o, "pid", json_object_new_int64(ctl_request_pid(req)));
        json_object_object_add(o, "command", json_object_new_string(ctl_request_command(req)));
        ctl_reply_ok(req, o);
        return 0;
}

static int h_hold(void *userdata, CtlRequest *req, struct json_object *args) {
        Fixture *f = userdata;

        (void) args;
        log_call(f, "hold");
        assert_null(f->held);
        f->held = req;
        return 0;
}

static int on_later(sd_event_source *s, uint64_t usec, void *userdata) {
        Fixture *f = userdata;
        struct json_object *o = json_object_new_object();

        (void) s, (void) usec;
        json_object_object_add(o, "late", json_object_new_boolean(1));
        log_call(f, "later-reply");
        ctl_reply_ok(TAKE_PTR(f->later), o);
        return 0;
}

static int h_later(void *userdata, CtlRequest *req, struct json_object *args) {
        Fixture *f = userdata;

        (void) args;
        log_call(f, "later");
        f->later = req;
        f->later_timer = sd_event_source_disable_unref(f->later_timer);
        assert_int_equal(sd_event_add_time_relative(f->event, &f->later_timer, CLOCK_MONOTONIC, 50 * USEC_PER_MSEC, 0,
                                                    on_later, f),
                         0);
        return 0;
}

/* cdpctl's verbs other than status: behaviour chosen by the test. */
static int h_verb(void *userdata, CtlRequest *req, struct json_object *args) {
        Fixture *f = userdata;
        const char *mode = f->verb_mode ?: "echo";

        if (strcmp(mode, "fail") == 0)
                return h_fail(f, req, args);
        if (strcmp(mode, "usage") == 0)
                return h_usage(f, req, args);
        if (strcmp(mode, "hold") == 0)
                return h_hold(f, req, args);
        if (strcmp(mode, "details") == 0)
                return h_details(f, req, args);
        return h_echo(f, req, args);
}

static int h_verb_private(void *userdata, CtlRequest *req, struct json_object *args) {
        int *calls = userdata;

        (*calls)++;
        return h_replied_then_fails(NULL, req, args);
}

static int verb_private_calls = 0;

static const CtlCommand commands[] = {
        { "check", h_verb, NULL },
        { "details", h_details, NULL },
        { "echo", h_echo, NULL },
        { "extend", h_verb, NULL },
        { "fail", h_fail, NULL },
        { "hold", h_hold, NULL },
        { "internal", h_internal, NULL },
        { "later", h_later, NULL },
        { "own-userdata", h_verb_private, &verb_private_calls },
        { "policy", h_verb, NULL },
        { "release", h_verb, NULL },
        { "reload", h_verb, NULL },
        { "replied", h_replied_then_fails, NULL },
        { "snapshot", h_verb, NULL },
        { "status", h_status, NULL },
        { "takeover", h_verb, NULL },
        { "usage", h_usage, NULL },
        { "whoami", h_whoami, NULL },
};

/* ---- fixture ---- */

static int fixture_prepare(Fixture **ret) {
        Fixture *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        strcpy(f->dir, "/tmp/test-ctl-server.XXXXXX");
        if (!mkdtemp(f->dir))
                return -1;
        /* nobody must reach the socket for the credential tests */
        (void) chmod(f->dir, 0755);
        (void) snprintf(f->path, sizeof(f->path), "%s/control.sock", f->dir);
        /* Any gid works for root; others may only give their own group. */
        f->group = geteuid() == 0 ? 4242 : getegid();
        if (sd_event_new(&f->event) < 0)
                return -1;
        *ret = f;
        return 0;
}

static int setup(void **state) {
        Fixture *f;

        if (fixture_prepare(&f) < 0)
                return -1;
        if (ctl_server_new(f->event, f->path, f->group, commands, ELEMENTSOF(commands), f, &f->server) < 0)
                return -1;
        *state = f;
        return 0;
}

static int setup_no_server(void **state) {
        Fixture *f;

        if (fixture_prepare(&f) < 0)
                return -1;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        if (f->held)
                ctl_reply_ok(TAKE_PTR(f->held), NULL);
        if (f->later)
                ctl_reply_ok(TAKE_PTR(f->later), NULL);
        sd_event_source_disable_unref(f->later_timer);
        ctl_server_free(f->server);
        sd_event_unref(f->event);
        (void) unlink(f->path);
        (void) rmdir(f->dir);
        free(f);
        return 0;
}

/* ---- clients ---- */

static void pump(Fixture *f, uint64_t usec) {
        uint64_t end = now_usec() + usec;

        while (now_usec() < end)
                assert_true(sd_event_run(f->event, 10 * USEC_PER_MSEC) >= 0);
}

static void pump_until_connections(Fixture *f, size_t n) {
        uint64_t end = now_usec() + WAIT_USEC;

        while (ctl_server_n_connections(f->server) != n) {
                assert_true(now_usec() < end);
                assert_true(sd_event_run(f->event, 10 * USEC_PER_MSEC) >= 0);
        }
}

/* false when path does not fit */
static bool sun_path_set(struct sockaddr_un *sa, const char *path) {
        size_t n = strlen(path);

        if (n >= sizeof(sa->sun_path))
                return false;
        memcpy(sa->sun_path, path, n + 1);
        return true;
}

static int connect_path(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (!sun_path_set(&sa, path))
                return -ENAMETOOLONG;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static Client *client_new(Fixture *f) {
        Client *c = calloc(1, sizeof(*c));

        assert_non_null(c);
        c->fd = connect_path(f->path);
        assert_true(c->fd >= 0);
        return c;
}

static void client_free(Client *c) {
        if (!c)
                return;
        if (c->fd >= 0)
                close(c->fd);
        free(c);
}

/* Sends everything, running the loop whenever the socket is full. Returns
 * the bytes sent (less when the server closed the connection). */
static size_t client_send_bytes(Fixture *f, Client *c, const char *p, size_t n) {
        size_t done = 0;
        uint64_t end = now_usec() + WAIT_USEC;

        while (done < n) {
                ssize_t k = send(c->fd, p + done, n - done, MSG_DONTWAIT | MSG_NOSIGNAL);

                if (k < 0) {
                        if (errno == EPIPE || errno == ECONNRESET)
                                break;
                        assert_int_equal(errno, EAGAIN);
                        assert_true(now_usec() < end);
                        assert_true(sd_event_run(f->event, 10 * USEC_PER_MSEC) >= 0);
                        continue;
                }
                done += (size_t) k;
        }
        return done;
}

static void client_send(Fixture *f, Client *c, const char *s) {
        assert_int_equal(client_send_bytes(f, c, s, strlen(s)), strlen(s));
}

/* One reply line (without "\n"), or NULL on EOF. The caller frees it. */
static char *client_read_line(Fixture *f, Client *c) {
        uint64_t end = now_usec() + WAIT_USEC;

        for (;;) {
                char *nl = memchr(c->buf, '\n', c->len);
                ssize_t k;

                if (nl) {
                        size_t n = (size_t) (nl - c->buf);
                        char *line = strndup(c->buf, n);

                        assert_non_null(line);
                        memmove(c->buf, nl + 1, c->len - n - 1);
                        c->len -= n + 1;
                        return line;
                }
                assert_true(c->len < sizeof(c->buf));
                k = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
                if (k == 0 || (k < 0 && errno == ECONNRESET))
                        return NULL;
                if (k > 0) {
                        c->len += (size_t) k;
                        continue;
                }
                assert_int_equal(errno, EAGAIN);
                assert_true(now_usec() < end);
                assert_true(sd_event_run(f->event, 10 * USEC_PER_MSEC) >= 0);
        }
}

static void client_expect_line(Fixture *f, Client *c, const char *expected) {
        _cleanup_free_ char *line = client_read_line(f, c);

        assert_non_null(line);
        assert_string_equal(line, expected);
}

static void client_expect_eof(Fixture *f, Client *c) {
        _cleanup_free_ char *line = client_read_line(f, c);

        assert_null(line);
        assert_int_equal(c->len, 0);
}

/* ---- tests ---- */

static void test_ctl_server__one_request__one_reply(void **state) {
        Fixture *f = *state;
        Client *c = client_new(f);

        client_send(f, c, "{\"command\":\"echo\",\"args\":{\"x\":1,\"path\":\"/a/b\"}}\n");
        client_expect_line(f, c, "{\"ok\":true,\"result\":{\"x\":1,\"path\":\"/a/b\"}}");
        client_send(f, c, "{\"command\":\"echo\"}\n");
        client_expect_line(f, c, "{\"ok\":true,\"result\":{}}");
        assert_string_equal(f->log, "echo echo");
        client_free(c);
}

static void test_ctl_server__peer_credentials__passed_to_handler(void **state) {
        Fixture *f = *state;
        Client *c = client_new(f);
        char expected[256];

        client_send(f, c, "{\"command\":\"whoami\"}\n");
        (void) snprintf(expected, sizeof(expected),
                        "{\"ok\":true,\"result\":{\"uid\":%u,\"gid\":%u,\"pid\":%d,\"command\":\"whoami\"}}",
                        (unsigned) geteuid(), (unsigned) getegid(), (int) getpid());
        client_expect_line(f, c, expected);
        client_free(c);
}

static void test_ctl_server__async_reply__arrives_later(void **state) {
        Fixture *f = *state;
        Client *c = client_new(f);
        uint64_t start = now_usec();

        client_send(f, c, "{\"command\":\"later\"}\n");
        client_expect_line(f, c, "{\"ok\":true,\"result\":{\"late\":true}}");
        assert_true(now_usec() - start >= 45 * USEC_PER_MSEC);
        assert_string_equal(f->log, "later later-reply");
        client_free(c);
}

static void test_ctl_server__pipelined__answered_in_order(void **state) {
        Fixture *f = *state;
        Client *c = client_new(f);

        /* One write: the echo requests must wait for the slow one. */
        client_send(f, c,
                    "{\"command\":\"later\"}\n"
                    "{\"command\":\"echo\",\"args\":{\"n\":1}}\n"
                    "{\"command\":\"nope\"}\n"
                    "{\"command\":\"echo\",\"args\":{\"n\":2}}\n");
        client_expect_line(f, c, "{\"ok\":true,\"result\":{\"late\":true}}");
        client_expect_line(f, c, "{\"ok\":true,\"result\":{\"n\":1}}");
        client_expect_line(f, c, "{\"ok\":false,\"error\":{\"code\":\"UnknownCommand\",\"message\":\"unknown command "
                                 "\\\"nope\\\"\"},\"exit\":2}");
        client_expect_line(f, c, "{\"ok\":true,\"result\":{\"n\":2}}");
        assert_string_equal(f->log, "later later-reply echo echo");
        client_free(c);
}

static void test_ctl_server__two_clients__independent(void **state) {
        Fixture *f = *state;
        Client *a = client_new(f), *b = client_new(f);

        client_send(f, a, "{\"command\":\"hold\"}\n");
        client_send(f, b, "{\"command\":\"echo\",\"args\":{\"b\":true}}\n");
        /* b is not stuck behind a's pending request */
        client_expect_line(f, b, "{\"ok\":true,\"result\":{\"b\":true}}");
        assert_non_null(f->held);
        assert_true(ctl_request_connected(f->held));
        ctl_reply_error(TAKE_PTR(f->held), 1, "Done", "late");
        client_expect_line(f, a, "{\"ok\":false,\"error\":{\"code\":\"Done\",\"message\":\"late\"},\"exit\":1}");
        client_free(a);
        client_free(b);
}

static void test_ctl_server__oversize_line__error_and_closed(void **state) {
        Fixture *f = *state;
        Client *c = client_new(f);
        size_t n = CTL_REQUEST_LINE_MAX + 8192;
        _cleanup_free_ char *big = malloc(n);

        assert_non_null(big);
        memset(big, 'x', n);
        /* The server stops reading after one line + 1 byte and closes, so
         * the tail may not go out. */
        assert_true(client_send_bytes(f, c, big, n) > CTL_REQUEST_LINE_MAX);
        client_expect_line(f, c,
                           "{\"ok\":false,\"error\":{\"code\":\"RequestTooLarge\",\"message\":\"request line too "
                           "long\"},\"exit\":2}");
        client_expect_eof(f, c);
        pump_until_connections(f, 0);
        assert_string_equal(f->log, "");
        client_free(c);
}

static void test_ctl_server__line_at_limit__accepted(void **state) {
        static const char head[] = "{\"command\":\"echo\"}";
        Fixture *f = *state;
        Client *c = client_new(f);
        _cleanup_free_ char *line = malloc(CTL_REQUEST_LINE_MAX + 1);

        assert_non_null(line);
        memset(line, ' ', CTL_REQUEST_LINE_MAX);
        memcpy(line, head, sizeof(head) - 1);
        line[CTL_REQUEST_LINE_MAX] = '\n';
        assert_int_equal(client_send_bytes(f, c, line, CTL_REQUEST_LINE_MAX + 1), CTL_REQUEST_LINE_MAX + 1);
        client_expect_line(f, c, "{\"ok\":true,\"result\":{}}");
        client_free(c);
}

static void test_ctl_server__malformed_json__bad_request_connection_kept(void **state) {
        Fixture *f = *state;
        Client *c = client_new(f);

        client_send(f, c, "{nope\n");
        client_expect_line(f, c, "{\"ok\":false,\"error\":{\"code\":\"BadRequest\",\"message\":\"malformed JSON\"},"
                                 "\"exit\":2}");
        client_send(f, c, "{\"command\":\"echo\",\"argz\":{}}\n");
        client_expect_line(f, c, "{\"ok\":false,\"error\":{\"code\":\"BadRequest\",\"message\":"
                                 "\"unknown key in request (expected \\\"command\\\" and \\\"args\\\")\"},\"exit\":2}");
        client_send(f, c, "\n");
        client_expect_line(f, c, "{\"ok\":false,\"error\":{\"code\":\"BadRequest\",\"message\":\"incomplete JSON\"},"
                                 "\"exit\":2}");
        client_send(f, c, "{\"command\":\"echo\"}\n");
        client_expect_line(f, c, "{\"ok\":true,\"result\":{}}");
        assert_string_equal(f->log, "echo");
        client_free(c);
}

static void test_ctl_server__unknown_command__exit_2(void **state) {
        Fixture *f = *state;
        Client *c = client_new(f);

        client_send(f, c, "{\"command\":\"format-disk\",\"args\":{}}\n");
        client_expect_line(f, c, "{\"ok\":false,\"error\":{\"code\":\"UnknownCommand\",\"message\":\"unknown command "
                                 "\\\"format-disk\\\"\"},\"exit\":2}");
        assert_string_equal(f->log, "");
        client_free(c);
}

static void test_ctl_server__handler_errors__mapped(void **state) {
        Fixture *f = *state;
        Client *c = client_new(f);

        client_send(f, c, "{\"command\":\"internal\"}\n");
        client_expect_line(f, c, "{\"ok\":false,\"error\":{\"code\":\"InternalError\",\"message\":\"internal failed: "
                                 "Input/output error\"},\"exit\":1}");
        /* a handler that replied and then fails: one reply only */
        client_send(f, c, "{\"command\":\"replied\"}\n{\"command\":\"usage\"}\n");
        client_expect_line(f, c, "{\"ok\":true,\"result\":{}}");
        client_expect_line(f, c, "{\"ok\":false,\"error\":{\"code\":\"InvalidArgument\",\"message\":\"no such "
                                 "pattern\"},\"exit\":2}");
        client_send(f, c, "{\"command\":\"details\"}\n");
        client_expect_line(f, c, "{\"ok\":false,\"error\":{\"code\":\"UnauthorizedOperation\",\"message\":\"not "
                                 "allowed: ec2:ReplaceRoute\"},\"exit\":1,\"result\":{\"moved\":1,\"failed\":1}}");
        assert_string_equal(f->log, "internal replied usage details");
        client_free(c);
}

static void test_ctl_server__disconnect_before_async_reply__harmless(void **state) {
        Fixture *f = *state;
        Client *c = client_new(f), *d;

        client_send(f, c, "{\"command\":\"hold\"}\n");
        while (!f->held)
                pump(f, 10 * USEC_PER_MSEC);
        pump_until_connections(f, 1);
        client_free(c);
        /* EPOLLHUP is seen even though the server is not reading */
        pump_until_connections(f, 0);
        assert_false(ctl_request_connected(f->held));
        assert_string_equal(ctl_request_command(f->held), "hold");
        ctl_reply_ok(TAKE_PTR(f->held), json_object_new_object());

        d = client_new(f);
        client_send(f, d, "{\"command\":\"echo\"}\n");
        client_expect_line(f, d, "{\"ok\":true,\"result\":{}}");
        client_free(d);
}

static void test_ctl_server__shutdown_after_request__reply_delivered(void **state) {
        Fixture *f = *state;
        Client *c = client_new(f), *d = client_new(f);

        client_send(f, c, "{\"command\":\"later\"}\n");
        assert_int_equal(shutdown(c->fd, SHUT_WR), 0);
        client_expect_line(f, c, "{\"ok\":true,\"result\":{\"late\":true}}");
        client_expect_eof(f, c);

        /* a last line without "\n" counts when the client ends its side */
        client_send(f, d, "{\"command\":\"echo\",\"args\":{\"last\":1}}");
        assert_int_equal(shutdown(d->fd, SHUT_WR), 0);
        client_expect_line(f, d, "{\"ok\":true,\"result\":{\"last\":1}}");
        client_expect_eof(f, d);
        pump_until_connections(f, 0);
        client_free(c);
        client_free(d);
}

static void test_ctl_server__connection_limit__extra_closed(void **state) {
        Fixture *f = *state;
        Client *c[CTL_SERVER_CONNECTIONS_MAX], *extra;

        for (size_t i = 0; i < ELEMENTSOF(c); i++)
                c[i] = client_new(f);
        pump_until_connections(f, CTL_SERVER_CONNECTIONS_MAX);

        extra = client_new(f);
        client_send(f, extra, "{\"command\":\"echo\"}\n");
        client_expect_eof(f, extra);
        assert_int_equal(ctl_server_n_connections(f->server), CTL_SERVER_CONNECTIONS_MAX);
        client_free(extra);

        client_send(f, c[17], "{\"command\":\"echo\"}\n");
        client_expect_line(f, c[17], "{\"ok\":true,\"result\":{}}");
        for (size_t i = 0; i < ELEMENTSOF(c); i++)
                client_free(c[i]);
        pump_until_connections(f, 0);

        /* room again */
        extra = client_new(f);
        client_send(f, extra, "{\"command\":\"echo\"}\n");
        client_expect_line(f, extra, "{\"ok\":true,\"result\":{}}");
        client_free(extra);
}

static void test_ctl_server__idle__closed_but_not_while_busy(void **state) {
        Fixture *f = *state;
        Client *c, *d;

        ctl_server_set_idle_timeout(f->server, 100 * USEC_PER_MSEC);
        c = client_new(f);
        client_expect_eof(f, c);
        pump_until_connections(f, 0);
        client_free(c);

        d = client_new(f);
        client_send(f, d, "{\"command\":\"hold\"}\n");
        pump(f, 300 * USEC_PER_MSEC);
        assert_int_equal(ctl_server_n_connections(f->server), 1);
        assert_non_null(f->held);
        assert_true(ctl_request_connected(f->held));
        ctl_reply_ok(TAKE_PTR(f->held), NULL);
        client_expect_line(f, d, "{\"ok\":true,\"result\":{}}");
        /* idle again after the reply */
        client_expect_eof(f, d);
        client_free(d);
}

static void test_ctl_server__free_with_held_request__reply_harmless(void **state) {
        Fixture *f = *state;
        Client *c = client_new(f);

        client_send(f, c, "{\"command\":\"hold\"}\n");
        while (!f->held)
                pump(f, 10 * USEC_PER_MSEC);
        f->server = ctl_server_free(f->server);
        assert_false(ctl_request_connected(f->held));
        ctl_reply_error(TAKE_PTR(f->held), 1, "Stopping", "cdpd is stopping");
        client_expect_eof(f, c);
        client_free(c);
}

static void test_ctl_server__socket_file__mode_group_and_unlinked(void **state) {
        Fixture *f = *state;
        struct stat st;

        assert_int_equal(lstat(f->path, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0660);
        assert_int_equal(st.st_gid, f->group);
        f->server = ctl_server_free(f->server);
        assert_int_equal(lstat(f->path, &st), -1);
        assert_int_equal(errno, ENOENT);
}

static void test_ctl_server__existing_paths__stale_socket_replaced_file_kept(void **state) {
        Fixture *f = *state;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        CtlServer *s = NULL;
        struct stat st;
        int fd;

        /* a regular file is never removed */
        fd = open(f->path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(ctl_server_new(f->event, f->path, f->group, commands, ELEMENTSOF(commands), f, &s), -EEXIST);
        assert_null(s);
        assert_int_equal(lstat(f->path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(unlink(f->path), 0);

        /* a socket nobody listens on any more is replaced */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(sun_path_set(&sa, f->path));
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        close(fd);
        assert_int_equal(ctl_server_new(f->event, f->path, f->group, commands, ELEMENTSOF(commands), f, &s), 0);
        f->server = s;
        Client *c = client_new(f);
        client_send(f, c, "{\"command\":\"echo\"}\n");
        client_expect_line(f, c, "{\"ok\":true,\"result\":{}}");
        client_free(c);
}

static void test_ctl_server__missing_parent__created(void **state) {
        Fixture *f = *state;
        char sub[96];

        (void) snprintf(sub, sizeof(sub), "%s/run", f->dir);
        (void) snprintf(f->path, sizeof(f->path), "%s/control.sock", sub);
        assert_int_equal(ctl_server_new(f->event, f->path, f->group, commands, ELEMENTSOF(commands), f, &f->server), 0);
        Client *c = client_new(f);
        client_send(f, c, "{\"command\":\"echo\"}\n");
        client_expect_line(f, c, "{\"ok\":true,\"result\":{}}");
        client_free(c);
        f->server = ctl_server_free(f->server);
        assert_int_equal(rmdir(sub), 0);
        (void) snprintf(f->path, sizeof(f->path), "%s/control.sock", f->dir);
}

/* Socket activation: the listening socket arrives as fd 3 with LISTEN_PID
 * and LISTEN_FDS set. */
static int listen_socket_on(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(sun_path_set(&sa, path));
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 16) < 0)
                return -1;
        return fd;
}

/* The loop's epoll fd was probably created first and took fd 3: make a new
 * loop after the socket got there. */
static bool pass_as_fd3(Fixture *f, const char *path) {
        char pid[32];
        int fd;

        f->event = sd_event_unref(f->event);
        fd = listen_socket_on(path);
        assert_true(fd >= 0);
        assert_int_equal(sd_event_new(&f->event), 0);

        if (fcntl(3, F_GETFD) >= 0 && fd != 3) {
                close(fd);
                return false;   /* fd 3 is taken in this process */
        }
        if (fd != 3) {
                if (dup2(fd, 3) < 0)
                        return false;
                close(fd);
        }
        (void) snprintf(pid, sizeof(pid), "%d", (int) getpid());
        setenv("LISTEN_PID", pid, 1);
        setenv("LISTEN_FDS", "1", 1);
        return true;
}

static void test_ctl_server__socket_activation__adopted_not_unlinked(void **state) {
        Fixture *f = *state;
        struct stat st;

        if (!pass_as_fd3(f, f->path))
                skip();
        assert_int_equal(ctl_server_new(f->event, f->path, f->group, commands, ELEMENTSOF(commands), f, &f->server), 0);
        /* consumed: a hook started later must not see it */
        assert_null(getenv("LISTEN_FDS"));
        assert_true(fcntl(3, F_GETFL) & O_NONBLOCK);

        Client *c = client_new(f);
        client_send(f, c, "{\"command\":\"echo\"}\n");
        client_expect_line(f, c, "{\"ok\":true,\"result\":{}}");
        client_free(c);

        f->server = ctl_server_free(f->server);
        /* the socket belongs to systemd: still there */
        assert_int_equal(lstat(f->path, &st), 0);
        assert_int_equal(fcntl(3, F_GETFD), -1);
}

static void test_ctl_server__socket_activation_wrong_path__refused(void **state) {
        Fixture *f = *state;
        char other[160];

        (void) snprintf(other, sizeof(other), "%s/other.sock", f->dir);
        if (!pass_as_fd3(f, other))
                skip();
        log_set_max_level(LOG_CRIT);
        assert_int_equal(ctl_server_new(f->event, f->path, f->group, commands, ELEMENTSOF(commands), f, &f->server),
                         -ENOTSOCK);
        log_set_max_level(LOG_INFO);
        assert_null(f->server);
        close(3);
        (void) unlink(other);
}

/* Forks a client that takes uid/gid NOBODY (plus `extra_group` as a
 * supplementary group unless it is -1, or `gid` as its primary group),
 * connects and sends a request; returns its exit status: 0 answered ok,
 * 10 AccessDenied then EOF, others for unexpected things. */
static int run_client_as(Fixture *f, gid_t gid, gid_t extra_group) {
        pid_t pid;
        int status;
        uint64_t end;

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                static const char req[] = "{\"command\":\"echo\"}\n";
                static const char denied[] =
                        "{\"ok\":false,\"error\":{\"code\":\"AccessDenied\",\"message\":\"only root or members "
                        "of the control group may use cdpd's control socket\"},\"exit\":1}\n";
                static const char ok[] = "{\"ok\":true,\"result\":{}}\n";
                char buf[512];
                size_t len = 0;
                int fd;

                if (extra_group != (gid_t) -1 ? setgroups(1, &extra_group) < 0 : setgroups(0, NULL) < 0)
                        _exit(20);
                if (setresgid(gid, gid, gid) < 0 || setresuid(NOBODY, NOBODY, NOBODY) < 0)
                        _exit(21);
                fd = connect_path(f->path);
                if (fd < 0)
                        _exit(22);
                (void) send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL);
                for (;;) {
                        struct pollfd p = { .fd = fd, .events = POLLIN };
                        ssize_t k;

                        if (poll(&p, 1, 5000) <= 0)
                                _exit(23);
                        k = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
                        if (k <= 0)
                                break;
                        len += (size_t) k;
                        buf[len] = '\0';
                        if (strcmp(buf, ok) == 0)
                                _exit(0);
                }
                _exit(strcmp(buf, denied) == 0 ? 10 : 24);
        }

        end = now_usec() + WAIT_USEC;
        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);

                if (r == pid)
                        break;
                assert_int_equal(r, 0);
                if (now_usec() > end) {
                        (void) kill(pid, SIGKILL);
                        fail_msg("client child hangs");
                }
                assert_true(sd_event_run(f->event, 10 * USEC_PER_MSEC) >= 0);
        }
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

static void test_ctl_server__peer_credentials__checked(void **state) {
        Fixture *f = *state;

        if (geteuid() != 0) {
                print_message("not root: cannot switch users, skipping the peer credential check\n");
                skip();
        }
        /* Past the file mode, so that the server's own check is what is tested. */
        assert_int_equal(chmod(f->path, 0666), 0);
        log_set_max_level(LOG_CRIT);

        /* neither root nor in the group: refused with one line */
        assert_int_equal(run_client_as(f, NOBODY, (gid_t) -1), 10);
        /* the group as a supplementary group */
        assert_int_equal(run_client_as(f, NOBODY, f->group), 0);
        /* the group as the primary group */
        assert_int_equal(run_client_as(f, f->group, (gid_t) -1), 0);

        log_set_max_level(LOG_INFO);
        assert_string_equal(f->log, "echo echo");
        pump_until_connections(f, 0);
}

static void test_ctl_server__no_group__root_only(void **state) {
        Fixture *f = *state;

        if (geteuid() != 0) {
                print_message("not root: cannot switch users, skipping\n");
                skip();
        }
        assert_int_equal(ctl_server_new(f->event, f->path, (gid_t) -1, commands, ELEMENTSOF(commands), f,
                                        &f->server),
                         0);
        assert_int_equal(chmod(f->path, 0666), 0);
        log_set_max_level(LOG_CRIT);
        assert_int_equal(run_client_as(f, NOBODY, 4242), 10);
        log_set_max_level(LOG_INFO);
        Client *c = client_new(f);
        client_send(f, c, "{\"command\":\"echo\"}\n");
        client_expect_line(f, c, "{\"ok\":true,\"result\":{}}");
        client_free(c);
}

static void test_ctl_server__command_userdata__passed_instead(void **state) {
        Fixture *f = *state;
        Client *c = client_new(f);

        verb_private_calls = 0;
        client_send(f, c, "{\"command\":\"own-userdata\"}\n");
        client_expect_line(f, c, "{\"ok\":true,\"result\":{}}");
        assert_int_equal(verb_private_calls, 1);
        assert_string_equal(f->log, "");        /* the fixture was not the userdata */
        client_free(c);
}

/* ---- cdpctl against this server ---- */

static const char *cdpctl_path(void) {
        static char buf[512];
        const char *e = getenv("CDPCTL"), *top = getenv("CDP_TOP_BUILDDIR");

        if (e)
                return access(e, X_OK) == 0 ? e : NULL;
        (void) snprintf(buf, sizeof(buf), "%s/daemon/cdpctl", top ? top : ".");
        return access(buf, X_OK) == 0 ? buf : NULL;
}

typedef struct Run {
        int status;                     /* exit status */
        char out[16384], err[4096];
        size_t n_out, n_err;
        uint64_t usec;                  /* wall time */
} Run;

static void drain(int fd, char *buf, size_t size, size_t *n, bool *open) {
        for (;;) {
                ssize_t k = read(fd, buf + *n, size - 1 - *n);

                if (k > 0) {
                        *n += (size_t) k;
                        buf[*n] = '\0';
                        continue;
                }
                if (k == 0 || errno != EAGAIN)
                        *open = false;
                return;
        }
}

/* Runs cdpctl with CDPD_SOCKET = the fixture's socket (and as uid NOBODY
 * when as_nobody), driving the server's loop until it has exited. */
static void run_cdpctl_as(Fixture *f, bool as_nobody, Run *run, const char *const *args) {
        const char *bin = cdpctl_path();
        int out[2], err[2], status;
        bool out_open = true, err_open = true, exited = false;
        uint64_t start = now_usec();
        pid_t pid;

        if (!bin) {
                print_message("cdpctl not built (set CDPCTL or CDP_TOP_BUILDDIR), skipping\n");
                skip();
        }
        memset(run, 0, sizeof(*run));
        assert_int_equal(pipe2(out, O_CLOEXEC | O_NONBLOCK), 0);
        assert_int_equal(pipe2(err, O_CLOEXEC | O_NONBLOCK), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char *argv[16];
                size_t n = 0;

                argv[n++] = (char *) "cdpctl";
                for (; args[n - 1] && n < ELEMENTSOF(argv) - 1; n++)
                        argv[n] = (char *) args[n - 1];
                argv[n] = NULL;
                if (dup2(out[1], STDOUT_FILENO) < 0 || dup2(err[1], STDERR_FILENO) < 0)
                        _exit(120);
                if (setenv("CDPD_SOCKET", f->path, 1) < 0)
                        _exit(121);
                if (as_nobody && (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
                                  setresuid(NOBODY, NOBODY, NOBODY) < 0))
                        _exit(122);
                execv(bin, argv);
                _exit(123);
        }
        close(out[1]);
        close(err[1]);
        while (!exited || out_open || err_open) {
                if (!exited) {
                        pid_t r = waitpid(pid, &status, WNOHANG);

                        assert_true(r >= 0);
                        if (r == pid) {
                                exited = true;
                                run->usec = now_usec() - start;
                        }
                }
                if (out_open)
                        drain(out[0], run->out, sizeof(run->out), &run->n_out, &out_open);
                if (err_open)
                        drain(err[0], run->err, sizeof(run->err), &run->n_err, &err_open);
                if (now_usec() - start > 2 * WAIT_USEC) {
                        (void) kill(pid, SIGKILL);
                        fail_msg("cdpctl hangs");
                }
                assert_true(sd_event_run(f->event, 5 * USEC_PER_MSEC) >= 0);
        }
        close(out[0]);
        close(err[0]);
        assert_true(WIFEXITED(status));
        run->status = WEXITSTATUS(status);
}

#define RUN_CDPCTL(f, run, ...) run_cdpctl_as((f), false, (run), (const char *const[]) { __VA_ARGS__, NULL })

static void assert_json_output(const Run *run, const char *expected) {
        _cleanup_(json_putp) struct json_object *got = json_tokener_parse(run->out),
                                                *want = json_tokener_parse(expected);

        assert_non_null(want);
        if (!got || !json_object_equal(got, want))
                fail_msg("stdout %s, expected %s", run->out, expected);
}

static void test_cdpctl__status_text__sorted_and_indented(void **state) {
        Fixture *f = *state;
        Run run;

        RUN_CDPCTL(f, &run, "status");
        assert_int_equal(run.status, 0);
        assert_string_equal(run.err, "");
        assert_string_equal(run.out,
                            "note: a\\tb\\x1b[31m\n"
                            "patterns:\n"
                            "  bastion: (none)\n"
                            "  routing_ha:\n"
                            "    enabled: true\n"
                            "    targets:\n"
                            "      - cidr: 192.168.100.10/32\n"
                            "        here: true\n"
                            "      - eipalloc-1a2b3c4d\n"
                            "ready: true\n"
                            "tags: 3\n"
                            "tags_error: -\n"
                            "version: 0.1.0\n");
}

static void test_cdpctl__status_json__result_object(void **state) {
        Fixture *f = *state;
        Run run;

        RUN_CDPCTL(f, &run, "status", "--json");
        assert_int_equal(run.status, 0);
        assert_json_output(&run, "{\"version\":\"0.1.0\",\"ready\":true,\"tags\":3,\"tags_error\":null,"
                                 "\"patterns\":{\"routing_ha\":{\"enabled\":true,\"targets\":[{\"cidr\":"
                                 "\"192.168.100.10/32\",\"here\":true},\"eipalloc-1a2b3c4d\"]},\"bastion\":{}},"
                                 "\"note\":\"a\\tb\\u001b[31m\"}");
        assert_string_equal(f->log, "status");
}

static void test_cdpctl__verb_args__sent_as_documented(void **state) {
        Fixture *f = *state;
        Run run;

        RUN_CDPCTL(f, &run, "--json", "takeover", "routing-ha", "--dry-run", "--timeout", "7");
        assert_int_equal(run.status, 0);
        assert_json_output(&run, "{\"pattern\":\"routing-ha\",\"dry_run\":true,\"timeout_ms\":7000}");

        RUN_CDPCTL(f, &run, "takeover", "--json");
        assert_int_equal(run.status, 0);
        assert_json_output(&run, "{\"pattern\":null,\"dry_run\":false,\"timeout_ms\":null}");

        RUN_CDPCTL(f, &run, "--json", "--timeout", "3", "takeover", "floating-ip", "--timeout", "1m");
        assert_int_equal(run.status, 0);
        assert_json_output(&run, "{\"pattern\":\"floating-ip\",\"dry_run\":false,\"timeout_ms\":60000}");

        RUN_CDPCTL(f, &run, "--json", "snapshot", "--dry-run");
        assert_int_equal(run.status, 0);
        assert_json_output(&run, "{\"dry_run\":true}");

        RUN_CDPCTL(f, &run, "--json", "release", "floating-ip");
        assert_int_equal(run.status, 0);
        assert_json_output(&run, "{\"pattern\":\"floating-ip\"}");

        RUN_CDPCTL(f, &run, "--json", "extend", "1d12h");
        assert_int_equal(run.status, 0);
        assert_json_output(&run, "{\"duration\":\"1d12h\"}");

        RUN_CDPCTL(f, &run, "reload");
        assert_int_equal(run.status, 0);
        assert_string_equal(run.out, "");
}

static void test_cdpctl__bad_arguments__exit_2_nothing_sent(void **state) {
        static const char *const bad[][4] = {
                { "frobnicate" }, { "status", "extra" }, { "extend" }, { "extend", "2x" }, { "extend", "0m" },
                { "takeover", "elastic-ip" }, { "status", "--dry-run" }, { "--timeout", "0", "status" },
                { "takeover", "--timeout", "2h" }, { "--nope", "status" }, { "release", "a", "b" }, { NULL },
        };
        Fixture *f = *state;
        Run run;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                run_cdpctl_as(f, false, &run, bad[i]);
                assert_int_equal(run.status, 2);
                assert_string_equal(run.out, "");
                assert_true(strncmp(run.err, "cdpctl: ", 8) == 0);
        }
        assert_string_equal(f->log, "");
}

static void test_cdpctl__operation_failed__exit_1(void **state) {
        Fixture *f = *state;
        Run run;

        f->verb_mode = "fail";
        RUN_CDPCTL(f, &run, "policy");
        assert_int_equal(run.status, 1);
        assert_string_equal(run.out, "");
        assert_string_equal(run.err, "cdpctl: Boom: it broke\n");

        RUN_CDPCTL(f, &run, "--json", "policy");
        assert_int_equal(run.status, 1);
        assert_json_output(&run, "{\"error\":{\"code\":\"Boom\",\"message\":\"it broke\"}}");

        /* a failure that carries details prints them */
        f->verb_mode = "details";
        RUN_CDPCTL(f, &run, "check");
        assert_int_equal(run.status, 1);
        assert_string_equal(run.out, "failed: 1\nmoved: 1\n");
        assert_string_equal(run.err, "cdpctl: UnauthorizedOperation: not allowed: ec2:ReplaceRoute\n");

        RUN_CDPCTL(f, &run, "check", "--json");
        assert_int_equal(run.status, 1);
        assert_json_output(&run, "{\"moved\":1,\"failed\":1,\"error\":{\"code\":\"UnauthorizedOperation\","
                                 "\"message\":\"not allowed: ec2:ReplaceRoute\"}}");
}

static void test_cdpctl__daemon_says_usage__exit_2(void **state) {
        Fixture *f = *state;
        Run run;

        f->verb_mode = "usage";
        RUN_CDPCTL(f, &run, "release", "routing-ha");
        assert_int_equal(run.status, 2);
        assert_string_equal(run.err, "cdpctl: InvalidArgument: no such pattern\n");
}

static void test_cdpctl__no_reply_in_time__exit_3(void **state) {
        Fixture *f = *state;
        Run run;

        f->verb_mode = "hold";
        RUN_CDPCTL(f, &run, "--timeout", "1", "reload");
        assert_int_equal(run.status, 3);
        assert_string_equal(run.err, "cdpctl: Timeout: no reply from cdpd within 1s\n");
        assert_true(run.usec >= 900 * USEC_PER_MSEC);
        assert_true(run.usec < 3 * USEC_PER_SEC);
        /* cdpctl is gone; answering is harmless */
        assert_non_null(f->held);
        ctl_reply_ok(TAKE_PTR(f->held), NULL);
}

static void test_cdpctl__socket_missing__exit_3(void **state) {
        Fixture *f = *state;
        char path[160], expected[320];
        Run run;

        (void) snprintf(path, sizeof(path), "%s/nope.sock", f->dir);
        RUN_CDPCTL(f, &run, "--socket", path, "status");
        assert_int_equal(run.status, 3);
        (void) snprintf(expected, sizeof(expected),
                        "cdpctl: Unreachable: cannot connect to %s: No such file or directory (is cdpd running?)\n",
                        path);
        assert_string_equal(run.err, expected);

        RUN_CDPCTL(f, &run, "--json", "--socket", path, "status");
        assert_int_equal(run.status, 3);
        assert_non_null(strstr(run.out, "\"code\": \"Unreachable\""));
}

static void test_cdpctl__socket_option__beats_environment(void **state) {
        Fixture *f = *state;
        char real[128];
        Run run;

        /* run_cdpctl points CDPD_SOCKET at the fixture: move the server away */
        memcpy(real, f->path, sizeof(real));
        f->server = ctl_server_free(f->server);
        (void) snprintf(f->path, sizeof(f->path), "%s/other.sock", f->dir);
        assert_int_equal(ctl_server_new(f->event, f->path, f->group, commands, ELEMENTSOF(commands), f, &f->server), 0);
        memcpy(f->path, real, sizeof(real));    /* CDPD_SOCKET: nothing there */

        RUN_CDPCTL(f, &run, "status");
        assert_int_equal(run.status, 3);
        (void) snprintf(real, sizeof(real), "%s/other.sock", f->dir);
        RUN_CDPCTL(f, &run, "--socket", real, "--json", "status");
        assert_int_equal(run.status, 0);
        f->server = ctl_server_free(f->server);
}

static void test_cdpctl__not_in_group__exit_3_permission(void **state) {
        Fixture *f = *state;
        Run run;

        if (geteuid() != 0) {
                print_message("not root: cannot switch users, skipping\n");
                skip();
        }
        run_cdpctl_as(f, true, &run, (const char *const[]) { "status", NULL });
        assert_int_equal(run.status, 3);
        assert_non_null(strstr(run.err, "Permission denied (only root and the cdpd group may use it)"));
}

/* A stand-in server that reads the request and then answers `answer` (NULL:
 * closes without a word). */
static void fake_server_cdpctl(Fixture *f, const char *answer, Run *run) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int lfd, cfd, status;
        pid_t pid;

        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(sun_path_set(&sa, f->path));
        assert_int_equal(bind(lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(lfd, 4), 0);

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char buf[4096];
                struct pollfd p = { .fd = lfd, .events = POLLIN };

                if (poll(&p, 1, 5000) != 1)
                        _exit(1);
                cfd = accept(lfd, NULL, NULL);
                if (cfd < 0 || recv(cfd, buf, sizeof(buf), 0) <= 0)
                        _exit(2);
                if (answer)
                        (void) send(cfd, answer, strlen(answer), MSG_NOSIGNAL);
                _exit(0);
        }
        close(lfd);
        RUN_CDPCTL(f, run, "status");
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        (void) unlink(f->path);
}

static void test_cdpctl__closed_or_garbled_reply__exit_3_or_1(void **state) {
        Fixture *f = *state;
        Run run;

        fake_server_cdpctl(f, NULL, &run);
        assert_int_equal(run.status, 3);
        assert_true(strncmp(run.err, "cdpctl: Disconnected: cdpd closed the connection without a reply", 64) == 0);

        fake_server_cdpctl(f, "{\"ok\":\"yes\"}\n", &run);
        assert_int_equal(run.status, 1);
        assert_true(strncmp(run.err, "cdpctl: BadReply: ", 18) == 0);

        fake_server_cdpctl(f, "{\"ok\":false,\"error\":{\"code\":\"Weird\"},\"exit\":7}\n", &run);
        assert_int_equal(run.status, 7);
        assert_string_equal(run.err, "cdpctl: Weird: \n");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_ctl_server__one_request__one_reply, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__peer_credentials__passed_to_handler, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__async_reply__arrives_later, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__pipelined__answered_in_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__two_clients__independent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__oversize_line__error_and_closed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__line_at_limit__accepted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__malformed_json__bad_request_connection_kept, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__unknown_command__exit_2, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__handler_errors__mapped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__disconnect_before_async_reply__harmless, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__shutdown_after_request__reply_delivered, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__connection_limit__extra_closed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__idle__closed_but_not_while_busy, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__free_with_held_request__reply_harmless, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__socket_file__mode_group_and_unlinked, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__existing_paths__stale_socket_replaced_file_kept,
                                                setup_no_server, teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__missing_parent__created, setup_no_server, teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__socket_activation__adopted_not_unlinked,
                                                setup_no_server, teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__socket_activation_wrong_path__refused,
                                                setup_no_server, teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__peer_credentials__checked, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__no_group__root_only, setup_no_server, teardown),
                cmocka_unit_test_setup_teardown(test_ctl_server__command_userdata__passed_instead, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cdpctl__status_text__sorted_and_indented, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cdpctl__status_json__result_object, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cdpctl__verb_args__sent_as_documented, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cdpctl__bad_arguments__exit_2_nothing_sent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cdpctl__operation_failed__exit_1, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cdpctl__daemon_says_usage__exit_2, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cdpctl__no_reply_in_time__exit_3, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cdpctl__socket_missing__exit_3, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cdpctl__socket_option__beats_environment, setup_no_server,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_cdpctl__not_in_group__exit_3_permission, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cdpctl__closed_or_garbled_reply__exit_3_or_1, setup_no_server,
                                                teardown),
        };

        /* A client that vanishes must not kill the test (the daemon ignores
         * SIGPIPE the same way). */
        (void) signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests_name("ctl-server", tests, NULL, NULL);
}
