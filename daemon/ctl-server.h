/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cdp/ctl-proto.h"
#include "cdp/macro.h"

/* The control socket (SPEC 8): an AF_UNIX stream socket speaking JSON lines.
 * Each request is one line {"command": "...", "args": {...}}; each reply is
 * one line {"ok": true, "result": {...}} or
 * {"ok": false, "error": {"code": "...", "message": "..."}, "exit": N}.
 * Only root or members of the control group may connect (SO_PEERCRED).
 * A handler may answer at once or keep the request and answer later (a
 * takeover waits for AWS); the loop never blocks on a client.
 *
 * Per connection, requests are handled one at a time in the order they
 * arrive: the next line is read only once the current request is answered
 * and its reply written out. A line longer than CTL_REQUEST_LINE_MAX gets
 * RequestTooLarge and the connection is closed; malformed requests get
 * BadRequest (exit 2), unknown commands UnknownCommand (exit 2). At most
 * CTL_SERVER_CONNECTIONS_MAX clients at once (more are accepted and closed at
 * once); a connection without a request for the idle timeout is closed. */

#define CTL_SERVER_CONNECTIONS_MAX 64
#define CTL_SERVER_IDLE_TIMEOUT_USEC (30ULL * 1000000ULL)

struct json_object;
typedef struct sd_event sd_event;
typedef struct CtlServer CtlServer;
typedef struct CtlRequest CtlRequest;

/* Return 0 after replying or after taking the request for a later reply;
 * a negative errno makes the server answer {"code": "InternalError"} (unless
 * the handler replied already). args is borrowed (never NULL: {} when
 * absent) and stays valid until the request is answered. */
typedef int (*CtlHandler)(void *userdata, CtlRequest *req, struct json_object *args);

typedef struct CtlCommand {
        const char *name;
        CtlHandler handler;
        void *userdata;                 /* NULL: the server's userdata */
} CtlCommand;

/* Listens on path (created with mode 0660 and group `group`, replacing a
 * stale socket but never another kind of file; the parent directory is
 * created when missing), or adopts a socket-activated one (LISTEN_FDS)
 * bound to path. Peers are allowed when their uid is 0, their gid is
 * `group` or `group` is among their supplementary groups; group
 * (gid_t) -1 means root only. table is borrowed and must outlive the server.
 * Ownership: caller frees *ret with ctl_server_free(), which closes every
 * connection and unlinks the socket if it created it. Requests taken for a
 * later reply stay valid handles, detached from their client: the holder
 * still answers them (which only frees them). */
int ctl_server_new(sd_event *event, const char *path, gid_t group, const CtlCommand *table, size_t n_table,
                   void *userdata, CtlServer **ret);
CtlServer *ctl_server_free(CtlServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(CtlServer *, ctl_server_free);

/* Changes the idle timeout of connections accepted from now on (tests). */
void ctl_server_set_idle_timeout(CtlServer *s, uint64_t usec);
/* Number of open client connections (tests, status). */
size_t ctl_server_n_connections(const CtlServer *s);

/* Replies and releases the request (the handle is invalid afterwards).
 * result is consumed (may be NULL for {}). Safe after the client went away. */
void ctl_reply_ok(CtlRequest *req, struct json_object *result);
/* exit_code: what cdpctl exits with (1 = the operation failed). */
void ctl_reply_error(CtlRequest *req, int exit_code, const char *code, const char *message);
/* Like ctl_reply_error but carries a result object too (per-target details
 * of a failed takeover, a check table with denials). result is consumed. */
void ctl_reply_error_with(CtlRequest *req, int exit_code, const char *code, const char *message,
                          struct json_object *result);

/* Peer credentials of the connection the request came from. */
uid_t ctl_request_uid(const CtlRequest *req);
gid_t ctl_request_gid(const CtlRequest *req);
pid_t ctl_request_pid(const CtlRequest *req);
/* The command name (borrowed, valid until the request is answered). */
const char *ctl_request_command(const CtlRequest *req);
/* Whether the client is still connected (a long takeover may outlive it). */
bool ctl_request_connected(const CtlRequest *req);
