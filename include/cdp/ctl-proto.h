/* SPDX-License-Identifier: MIT */
#pragma once

/* The control protocol between cdpctl and cdpd (SPEC 8), without any I/O:
 * framing, validation and formatting of the JSON lines on the control socket.
 *
 *   request: {"command": "<name>", "args": {...}}          ("args" optional)
 *   reply:   {"ok": true, "result": {...}}
 *            {"ok": false, "error": {"code": "...", "message": "..."}, "exit": N, "result": {...}}
 *
 * Every message is one JSON object on one line, ended by "\n". Requests come
 * from local clients of a root daemon, so they are parsed strictly (size,
 * depth, UTF-8, no unknown keys); replies come from cdpd, so the client only
 * checks the shape it needs and ignores keys it does not know. */

#include <stdbool.h>
#include <stddef.h>

#include "cdp/macro.h"

struct json_object;

/* A request line may hold at most this many bytes before its "\n". */
#define CTL_REQUEST_LINE_MAX (64U * 1024U)
/* A reply line cdpctl accepts (status of many targets, a check table). */
#define CTL_REPLY_LINE_MAX (4U * 1024U * 1024U)
/* Nesting depth as json-c counts it: every value is one level deeper than
 * its container, so in {"args":{"a":1}} the 1 is at depth 3. */
#define CTL_REQUEST_DEPTH_MAX 16
#define CTL_REPLY_DEPTH_MAX 64
/* Command names: [a-z][a-z0-9-]*, at most this long. */
#define CTL_COMMAND_NAME_MAX 32
/* Error codes: [A-Za-z0-9._-]+, at most this long (AWS codes such as
 * "InvalidRoute.NotFound" pass through unchanged). */
#define CTL_ERROR_CODE_MAX 128

/* What cdpctl exits with (SPEC 8). */
enum {
        CTL_EXIT_OK = 0,
        CTL_EXIT_FAILED = 1,            /* the operation failed */
        CTL_EXIT_USAGE = 2,             /* bad arguments (locally or as judged by cdpd) */
        CTL_EXIT_UNREACHABLE = 3,       /* cdpd did not answer */
        CTL_EXIT_MAX = 125,             /* replies may carry 1..CTL_EXIT_MAX */
};

/* Error codes the protocol layer itself produces. */
#define CTL_ERROR_BAD_REQUEST "BadRequest"              /* exit 2 */
#define CTL_ERROR_REQUEST_TOO_LARGE "RequestTooLarge"   /* exit 2, connection closed */
#define CTL_ERROR_UNKNOWN_COMMAND "UnknownCommand"      /* exit 2 */
#define CTL_ERROR_ACCESS_DENIED "AccessDenied"          /* exit 1, connection closed */
#define CTL_ERROR_INTERNAL "InternalError"              /* exit 1 */

/* Whether s is a well-formed command name / error code (see above). */
bool ctl_proto_command_name_valid(const char *s);
bool ctl_proto_error_code_valid(const char *s);

/* Parses one request line: line[0..len) without the "\n" (a trailing "\r" is
 * tolerated). Returns 0, -E2BIG when len > CTL_REQUEST_LINE_MAX, -EBADMSG when
 * the line is not a request (malformed JSON, NUL bytes, invalid UTF-8, too
 * deep, not an object, a missing or invalid "command", "args" not an object,
 * any other key), -ENOMEM. On -EBADMSG and -E2BIG, *reterr_message (if
 * reterr_message is non-NULL) points to a static English reason.
 * Ownership: on success the caller frees *ret_command with free() and
 * releases *ret_args (never NULL: an empty object when "args" is absent) with
 * json_object_put(). */
int ctl_proto_parse_request(const char *line, size_t len, char **ret_command, struct json_object **ret_args,
                            const char **reterr_message);

/* Builds a request line ending in "\n" (NUL-terminated too). args is borrowed
 * and may be NULL (no "args" key); it must be an object otherwise. Returns
 * -EINVAL for an invalid command name or a non-object args, -E2BIG when the
 * line would exceed CTL_REQUEST_LINE_MAX, -ENOMEM.
 * Ownership: caller frees *ret_line with free(). */
int ctl_proto_format_request(const char *command, struct json_object *args, char **ret_line, size_t *ret_len);

/* Builds {"ok":true,"result":result} + "\n". result is borrowed, NULL means
 * {}; it must be an object. -EINVAL for a non-object, -ENOMEM.
 * Ownership: caller frees *ret_line with free(). */
int ctl_proto_format_ok(struct json_object *result, char **ret_line, size_t *ret_len);

/* Builds {"ok":false,"error":{"code":code,"message":message},"exit":exit_code}
 * (+ "result" when result is non-NULL) + "\n". exit_code must be
 * 1..CTL_EXIT_MAX and code well-formed (-EINVAL otherwise); message may be
 * NULL (""), invalid UTF-8 in it is replaced by '?' so that a strict reader
 * never rejects the reply. result is borrowed.
 * Ownership: caller frees *ret_line with free(). */
int ctl_proto_format_error(int exit_code, const char *code, const char *message, struct json_object *result,
                           char **ret_line, size_t *ret_len);

/* A parsed reply. */
typedef struct CtlProtoReply {
        bool ok;
        int exit_code;                  /* 0 when ok, else 1..CTL_EXIT_MAX (1 when absent) */
        char *code;                     /* NULL when ok */
        char *message;                  /* NULL when ok, "" when absent */
        struct json_object *result;     /* never NULL after a parse: {} when absent */
} CtlProtoReply;

/* Parses one reply line (without the "\n"). Returns 0, -E2BIG beyond
 * CTL_REPLY_LINE_MAX, -EBADMSG for anything that is not a reply (no boolean
 * "ok", an error without a well-formed "code", "exit" not an integer in
 * 1..CTL_EXIT_MAX, "result" not an object, ...), -ENOMEM. Unknown keys are
 * ignored. *ret is written only on success.
 * Ownership: caller releases *ret with ctl_proto_reply_done(). */
int ctl_proto_parse_reply(const char *line, size_t len, CtlProtoReply *ret);

/* Frees the members and resets *reply; safe on a zeroed or done reply. */
void ctl_proto_reply_done(CtlProtoReply *reply);
