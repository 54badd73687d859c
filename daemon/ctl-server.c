/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "cdp/ctl-proto.h"
#include "cdp/parse-util.h"
#include "cdp/strbuf.h"
#include "ctl-server.h"
#include "log.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

#define LISTEN_BACKLOG 128
#define READ_CHUNK 4096
/* Buffers bigger than this are released once empty. */
#define BUF_KEEP_MAX (16U * 1024U)
#define ACCEPT_RETRY_USEC USEC_PER_SEC

typedef struct CtlConn CtlConn;

struct CtlConn {
        CtlServer *server;
        CtlConn *prev, *next;
        int fd;
        struct ucred cred;
        sd_event_source *io, *idle;
        StrBuf in;                      /* bytes read, not yet handled; at most one line + 1 */
        StrBuf out;                     /* replies not yet written; out_off bytes of it are */
        size_t out_off;
        CtlRequest *current;            /* the request being handled, if any */
        bool read_eof;                  /* the client shut down its side */
        bool closing;                   /* close once out is written */
        bool dispatching;               /* inside a handler: replies only queue */
};

struct CtlRequest {
        CtlConn *conn;                  /* NULL once the client is gone */
        struct ucred cred;
        char *command;
        struct json_object *args;
};

struct CtlServer {
        sd_event *event;
        int fd;
        sd_event_source *listen_source, *accept_retry;
        char *created_path;             /* the socket we bound ourselves, unlinked at free */
        gid_t group;
        const CtlCommand *table;
        size_t n_table;
        void *userdata;
        uint64_t idle_usec;
        CtlConn *conns;
        size_t n_conns;
};

static void conn_process(CtlConn *c);

/* ---- requests ---- */

static CtlRequest *request_free(CtlRequest *req) {
        if (!req)
                return NULL;
        free(req->command);
        if (req->args)
                (void) json_object_put(req->args);
        free(req);
        return NULL;
}

uid_t ctl_request_uid(const CtlRequest *req) {
        return req->cred.uid;
}

gid_t ctl_request_gid(const CtlRequest *req) {
        return req->cred.gid;
}

pid_t ctl_request_pid(const CtlRequest *req) {
        return req->cred.pid;
}

const char *ctl_request_command(const CtlRequest *req) {
        return req->command;
}

bool ctl_request_connected(const CtlRequest *req) {
        return req->conn != NULL;
}

/* ---- connections ---- */

static CtlConn *conn_free(CtlConn *c) {
        CtlServer *s;

        if (!c)
                return NULL;
        s = c->server;
        if (c->current)
                c->current->conn = NULL;        /* the holder still answers it */
        if (c->prev)
                c->prev->next = c->next;
        else if (s->conns == c)
                s->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_conns--;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->idle);
        if (c->fd >= 0)
                (void) close(c->fd);
        strbuf_done(&c->in);
        strbuf_done(&c->out);
        free(c);
        return NULL;
}

/* Appends one reply line; a connection that cannot take it is closed. */
static void conn_queue(CtlConn *c, const char *line, size_t len) {
        if (strbuf_append(&c->out, line, len) < 0) {
                c->closing = true;
                c->read_eof = true;
        }
}

static void conn_queue_error(CtlConn *c, int exit_code, const char *code, const char *message) {
        _cleanup_free_ char *line = NULL;
        size_t len;

        if (ctl_proto_format_error(exit_code, code, message, NULL, &line, &len) < 0) {
                c->closing = true;
                return;
        }
        conn_queue(c, line, len);
}

/* Writes what it can. 0 when everything is out or the socket is full,
 * negative errno when the client is gone. */
static int conn_flush(CtlConn *c) {
        while (c->out_off < c->out.len) {
                ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return -errno;
                }
                c->out_off += (size_t) n;
        }
        c->out_off = 0;
        if (c->out.cap > BUF_KEEP_MAX)
                strbuf_done(&c->out);
        else
                strbuf_reset(&c->out);
        return 0;
}

/* Reads one chunk, never beyond one line + 1 byte (so an endless line is
 * caught without holding more). Negative errno when the client is gone. */
static int conn_read(CtlConn *c) {
        char buf[READ_CHUNK];
        size_t room = CTL_REQUEST_LINE_MAX + 1 - c->in.len;
        ssize_t n;

        n = recv(c->fd, buf, MIN(sizeof(buf), room), MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if (n == 0) {
                c->read_eof = true;
                return 0;
        }
        return strbuf_append(&c->in, buf, (size_t) n);
}

static void conn_arm_idle(CtlConn *c) {
        /* Without a timer a client could hold its slot forever. */
        if (sd_event_source_set_time_relative(c->idle, c->server->idle_usec) < 0 ||
            sd_event_source_set_enabled(c->idle, SD_EVENT_ONESHOT) < 0) {
                c->closing = true;
                c->read_eof = true;
        }
}

static const CtlCommand *server_find_command(CtlServer *s, const char *name) {
        for (size_t i = 0; i < s->n_table; i++)
                if (strcmp(s->table[i].name, name) == 0)
                        return &s->table[i];
        return NULL;
}

/* Handles one request line. */
static void conn_dispatch(CtlConn *c, const char *line, size_t len) {
        _cleanup_free_ char *command = NULL;
        struct json_object *args = NULL;
        const CtlCommand *cmd;
        const char *reason = NULL;
        CtlRequest *req;
        char message[128];
        int r;

        r = ctl_proto_parse_request(line, len, &command, &args, &reason);
        if (r == -ENOMEM) {
                conn_queue_error(c, CTL_EXIT_FAILED, CTL_ERROR_INTERNAL, "out of memory");
                return;
        }
        if (r < 0) {
                conn_queue_error(c, CTL_EXIT_USAGE, CTL_ERROR_BAD_REQUEST, reason ? reason : "bad request");
                return;
        }
        cmd = server_find_command(c->server, command);
        if (!cmd) {
                (void) json_object_put(args);
                (void) snprintf(message, sizeof(message), "unknown command \"%s\"", command);
                conn_queue_error(c, CTL_EXIT_USAGE, CTL_ERROR_UNKNOWN_COMMAND, message);
                return;
        }

        req = malloc(sizeof(*req));
        if (!req) {
                (void) json_object_put(args);
                conn_queue_error(c, CTL_EXIT_FAILED, CTL_ERROR_INTERNAL, "out of memory");
                return;
        }
        *req = (CtlRequest) {
                .conn = c,
                .cred = c->cred,
                .command = TAKE_PTR(command),
                .args = args,
        };
        c->current = req;
        (void) sd_event_source_set_enabled(c->idle, SD_EVENT_OFF);

        c->dispatching = true;
        r = cmd->handler(cmd->userdata ?: c->server->userdata, req, req->args);
        if (r < 0 && c->current == req) {
                (void) snprintf(message, sizeof(message), "%s failed: %s", req->command, strerror(-r));
                ctl_reply_error(req, CTL_EXIT_FAILED, CTL_ERROR_INTERNAL, message);
        }
        c->dispatching = false;
}

/* Takes the next complete line out of the input buffer and handles it.
 * Returns true when it did something that may allow more progress. */
static bool conn_next_line(CtlConn *c) {
        char *nl;
        size_t len, used;

        if (c->in.len == 0)
                return false;
        nl = memchr(c->in.data, '\n', c->in.len);
        if (nl) {
                len = (size_t) (nl - c->in.data);
                used = len + 1;
        } else if (c->in.len > CTL_REQUEST_LINE_MAX) {
                conn_queue_error(c, CTL_EXIT_USAGE, CTL_ERROR_REQUEST_TOO_LARGE, "request line too long");
                c->closing = true;
                return true;
        } else if (c->read_eof) {
                /* The client ended its side after a last line without "\n". */
                len = used = c->in.len;
        } else
                return false;

        conn_dispatch(c, c->in.data, len);
        memmove(c->in.data, c->in.data + used, c->in.len - used);
        c->in.len -= used;
        c->in.data[c->in.len] = '\0';
        /* One big request does not pin a big buffer for the connection's life. */
        if (c->in.len == 0 && c->in.cap > BUF_KEEP_MAX)
                strbuf_done(&c->in);
        return true;
}

static bool conn_has_line(const CtlConn *c) {
        return c->in.len > CTL_REQUEST_LINE_MAX ||
               (c->in.len > 0 && (c->read_eof || memchr(c->in.data, '\n', c->in.len)));
}

/* Drives a connection after anything happened to it: writes pending output,
 * handles buffered requests one at a time, chooses the events to wait for
 * and closes it when it is done. May free c. */
static void conn_process(CtlConn *c) {
        uint32_t events = 0;

        for (;;) {
                if (conn_flush(c) < 0) {
                        conn_free(c);
                        return;
                }
                /* Strict order: the next request only after this reply is out. */
                if (c->current || c->out.len > 0 || c->closing)
                        break;
                if (!conn_next_line(c))
                        break;
                if (!c->current && !c->closing)
                        conn_arm_idle(c);
        }

        if (!c->current && c->out.len == 0 && (c->closing || (c->read_eof && !conn_has_line(c)))) {
                conn_free(c);
                return;
        }
        if (c->out.len > 0)
                events |= EPOLLOUT;
        else if (!c->current && !c->closing && !c->read_eof && !conn_has_line(c))
                events |= EPOLLIN;
        /* With no events, epoll still reports EPOLLHUP: a client that goes
         * away during a long request is noticed. */
        if (sd_event_source_set_io_events(c->io, events) < 0)
                conn_free(c);
}

static int on_conn_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        CtlConn *c = userdata;

        (void) source, (void) fd;
        if (revents & EPOLLIN) {
                if (conn_read(c) < 0) {
                        conn_free(c);
                        return 0;
                }
        } else if (revents & (EPOLLHUP | EPOLLERR)) {
                /* Nobody left to read a reply: drop the connection; a
                 * request in flight is detached and answered into the void. */
                conn_free(c);
                return 0;
        }
        conn_process(c);
        return 0;
}

static int on_conn_idle(sd_event_source *source, uint64_t usec, void *userdata) {
        CtlConn *c = userdata;

        (void) source, (void) usec;
        if (!c->current)
                conn_free(c);
        return 0;
}

/* ---- replies ---- */

static void request_finish(CtlRequest *req, const char *line, size_t len) {
        CtlConn *c = req->conn;

        request_free(req);
        if (!c)
                return;
        c->current = NULL;
        if (line)
                conn_queue(c, line, len);
        else
                conn_queue_error(c, CTL_EXIT_FAILED, CTL_ERROR_INTERNAL, "cannot format the reply");
        if (!c->closing)
                conn_arm_idle(c);
        /* Inside the handler, conn_dispatch()'s caller carries on. */
        if (c->dispatching)
                return;
        /* A later reply goes out at once, but the next request waits for the
         * next loop iteration: handling it here would run a handler inside
         * whatever code is answering (which may be walking its own list of
         * waiting requests). The socket is writable, so EPOLLOUT fires
         * straight away; a failed write shows up there too. */
        (void) conn_flush(c);
        if (sd_event_source_set_io_events(c->io, EPOLLOUT) < 0)
                c->closing = true;      /* the idle timer ends it */
}

void ctl_reply_ok(CtlRequest *req, struct json_object *result) {
        _cleanup_free_ char *line = NULL;
        size_t len = 0;

        if (ctl_proto_format_ok(result, &line, &len) < 0)
                line = mfree(line);
        if (result)
                (void) json_object_put(result);
        request_finish(req, line, len);
}

void ctl_reply_error_with(CtlRequest *req, int exit_code, const char *code, const char *message,
                          struct json_object *result) {
        _cleanup_free_ char *line = NULL;
        size_t len = 0;

        if (ctl_proto_format_error(exit_code, code, message, result, &line, &len) < 0)
                line = mfree(line);
        if (result)
                (void) json_object_put(result);
        request_finish(req, line, len);
}

void ctl_reply_error(CtlRequest *req, int exit_code, const char *code, const char *message) {
        ctl_reply_error_with(req, exit_code, code, message, NULL);
}

/* ---- peers ---- */

/* Whether group is among the supplementary groups in /proc/<pid>/status
 * (kernels without SO_PEERGROUPS). Anything unreadable counts as no. */
static bool proc_status_has_group(pid_t pid, gid_t group) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        char path[64];
        size_t size = 0;

        (void) snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return false;
        while (getline(&line, &size, f) > 0) {
                char *save = NULL, *tok;

                if (strncmp(line, "Groups:", 7) != 0)
                        continue;
                for (tok = strtok_r(line + 7, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
                        uint64_t g;

                        if (parse_uint64(tok, &g) == 0 && g == (uint64_t) group)
                                return true;
                }
                return false;
        }
        return false;
}

/* The supplementary groups the peer had when it connected. */
static bool peer_groups_have(int fd, pid_t pid, gid_t group) {
        gid_t small[32];
        _cleanup_free_ gid_t *big = NULL;
        gid_t *groups = small;
        socklen_t len = sizeof(small);

        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, small, &len) < 0) {
                if (errno == ENOPROTOOPT)
                        return proc_status_has_group(pid, group);
                if (errno != ERANGE)
                        return false;
                /* len now holds the size needed. */
                big = malloc(len);
                if (!big || getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, big, &len) < 0)
                        return false;
                groups = big;
        }
        for (size_t i = 0; i < len / sizeof(gid_t); i++)
                if (groups[i] == group)
                        return true;
        return false;
}

static bool peer_allowed(const CtlServer *s, int fd, const struct ucred *cred) {
        if (cred->uid == 0)
                return true;
        if (s->group == (gid_t) -1)
                return false;
        if (cred->gid == s->group)
                return true;
        return peer_groups_have(fd, cred->pid, s->group);
}

/* A refused client gets one line (its socket buffer is empty, so the send
 * does not block) and is closed. */
static void peer_refuse(int fd, const char *message) {
        _cleanup_free_ char *line = NULL;
        size_t len;

        if (ctl_proto_format_error(CTL_EXIT_FAILED, CTL_ERROR_ACCESS_DENIED, message, NULL, &line, &len) >= 0)
                (void) send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static int server_add_conn(CtlServer *s, int fd, const struct ucred *cred) {
        _cleanup_free_ CtlConn *c = NULL;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->server = s;
        c->fd = fd;
        c->cred = *cred;
        c->in = STRBUF_INIT(CTL_REQUEST_LINE_MAX + 1);
        c->out = STRBUF_INIT(0);

        r = sd_event_add_io(s->event, &c->io, fd, EPOLLIN, on_conn_io, c);
        if (r < 0)
                return r;
        r = sd_event_add_time_relative(s->event, &c->idle, CLOCK_MONOTONIC, s->idle_usec, USEC_PER_SEC / 10,
                                       on_conn_idle, c);
        if (r < 0) {
                sd_event_source_disable_unref(c->io);
                return r;
        }
        c->next = s->conns;
        if (s->conns)
                s->conns->prev = c;
        s->conns = TAKE_PTR(c);
        s->n_conns++;
        return 0;
}

static int on_accept_retry(sd_event_source *source, uint64_t usec, void *userdata) {
        CtlServer *s = userdata;

        (void) source, (void) usec;
        (void) sd_event_source_set_enabled(s->listen_source, SD_EVENT_ON);
        return 0;
}

/* Out of file descriptors: the listening socket stays readable, so stop
 * watching it for a moment instead of spinning. */
static void server_pause_accept(CtlServer *s) {
        int r;

        if (!s->accept_retry)
                r = sd_event_add_time_relative(s->event, &s->accept_retry, CLOCK_MONOTONIC, ACCEPT_RETRY_USEC, 0,
                                               on_accept_retry, s);
        else
                r = sd_event_source_set_time_relative(s->accept_retry, ACCEPT_RETRY_USEC);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->accept_retry, SD_EVENT_ONESHOT);
        if (r >= 0)
                (void) sd_event_source_set_enabled(s->listen_source, SD_EVENT_OFF);
}

static int on_listen(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        CtlServer *s = userdata;

        (void) source, (void) revents;
        /* A bounded batch per wake-up, so a flood cannot starve the loop. */
        for (unsigned i = 0; i < 16; i++) {
                struct ucred cred;
                socklen_t len = sizeof(cred);
                int cfd, r;

                cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EAGAIN)
                                break;
                        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                                continue;
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                                log_warning_errno(errno, "control socket: cannot accept, pausing for a second");
                                server_pause_accept(s);
                        } else
                                log_warning_errno(errno, "control socket: accept failed");
                        break;
                }
                if (s->n_conns >= CTL_SERVER_CONNECTIONS_MAX) {
                        (void) close(cfd);
                        continue;
                }
                if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred)) {
                        (void) close(cfd);
                        continue;
                }
                if (!peer_allowed(s, cfd, &cred)) {
                        log_notice("control socket: refused pid %d, uid %u, gid %u "
                                   "(neither root nor in the control group)",
                                   (int) cred.pid, (unsigned) cred.uid, (unsigned) cred.gid);
                        peer_refuse(cfd, "only root or members of the control group may use cdpd's control socket");
                        (void) close(cfd);
                        continue;
                }
                r = server_add_conn(s, cfd, &cred);
                if (r < 0) {
                        (void) close(cfd);
                        log_warning_errno(r, "control socket: cannot take a connection");
                }
        }
        return 0;
}

/* ---- the listening socket ---- */

static int fd_nonblock_cloexec(int fd) {
        int flags = fcntl(fd, F_GETFL);

        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return negative_errno();
        if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
                return negative_errno();
        return 0;
}

/* The directory the socket goes in, when it does not exist yet (a run by
 * hand; under systemd RuntimeDirectory= made it). */
static int socket_make_parent(const char *path) {
        _cleanup_free_ char *copy = strdup(path);
        const char *dir;

        if (!copy)
                return -ENOMEM;
        dir = dirname(copy);
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        return 0;
}

static int socket_create(const char *path, gid_t group, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        size_t n = strlen(path);
        struct stat st;
        mode_t old;
        int r;

        if (n == 0 || n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, n);

        r = socket_make_parent(path);
        if (r < 0)
                return r;
        /* A socket left by a previous run goes; anything else is not ours. */
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return -EEXIST;
                if (unlink(path) < 0 && errno != ENOENT)
                        return negative_errno();
        } else if (errno != ENOENT)
                return negative_errno();

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        /* Born 0660: no window in which others could connect. */
        old = umask(0117);
        r = bind(fd, (const struct sockaddr *) &sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + 1));
        if (r < 0)
                r = negative_errno();
        (void) umask(old);
        if (r < 0)
                return r;

        if ((group != (gid_t) -1 && fchownat(AT_FDCWD, path, (uid_t) -1, group, AT_SYMLINK_NOFOLLOW) < 0) ||
            chmod(path, 0660) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
                r = negative_errno();
                (void) unlink(path);
                return r;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int socket_adopt(const char *path, int *ret_fd) {
        int fd = SD_LISTEN_FDS_START, r;

        r = sd_is_socket_unix(fd, SOCK_STREAM, 1, path, 0);
        if (r < 0)
                return r;
        if (r == 0)
                return log_error_errno(ENOTSOCK,
                                       "control socket: the socket passed by systemd is not a listening "
                                       "stream socket on %s", path);
        r = fd_nonblock_cloexec(fd);
        if (r < 0)
                return r;
        *ret_fd = fd;
        return 0;
}

int ctl_server_new(sd_event *event, const char *path, gid_t group, const CtlCommand *table, size_t n_table,
                   void *userdata, CtlServer **ret) {
        _cleanup_(ctl_server_freep) CtlServer *s = NULL;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->fd = -1;
        s->event = sd_event_ref(event);
        s->group = group;
        s->table = table;
        s->n_table = n_table;
        s->userdata = userdata;
        s->idle_usec = CTL_SERVER_IDLE_TIMEOUT_USEC;

        r = sd_listen_fds(1);
        if (r < 0)
                return r;
        if (r >= 1)
                r = socket_adopt(path, &s->fd);
        else {
                r = socket_create(path, group, &s->fd);
                if (r >= 0) {
                        s->created_path = strdup(path);
                        if (!s->created_path) {
                                (void) unlink(path);
                                r = -ENOMEM;
                        }
                }
        }
        if (r < 0)
                return r;

        r = sd_event_add_io(event, &s->listen_source, s->fd, EPOLLIN, on_listen, s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

CtlServer *ctl_server_free(CtlServer *s) {
        if (!s)
                return NULL;
        while (s->conns)
                conn_free(s->conns);
        sd_event_source_disable_unref(s->listen_source);
        sd_event_source_disable_unref(s->accept_retry);
        if (s->fd >= 0)
                (void) close(s->fd);
        if (s->created_path) {
                (void) unlink(s->created_path);
                free(s->created_path);
        }
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

void ctl_server_set_idle_timeout(CtlServer *s, uint64_t usec) {
        s->idle_usec = usec;
}

size_t ctl_server_n_connections(const CtlServer *s) {
        return s->n_conns;
}
