/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the control protocol: arbitrary bytes as a request
 * line and as a reply line, with round-trip oracles: whatever parses must
 * format, parse again to the same thing, and format to the same bytes.
 *
 *   clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude \
 *         lib/core/ctl-proto.c lib/core/parse-util.c tests/fuzz/fuzz-ctl-proto.c \
 *         -o fuzz-ctl-proto $(pkg-config --cflags --libs json-c)
 *   ./fuzz-ctl-proto -dict=tests/fuzz/ctl-proto.dict tests/fuzz/corpus/ctl-proto */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cdp/ctl-proto.h"
#include "cdp/parse-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                \
        do {                                                                    \
                if (!(x)) {                                                     \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x); \
                        abort();                                                \
                }                                                               \
        } while (0)

static void check_request(const char *line, size_t size) {
        _cleanup_free_ char *command = NULL, *command2 = NULL, *formatted = NULL, *formatted2 = NULL;
        struct json_object *args = NULL, *args2 = NULL;
        const char *reason = NULL;
        size_t n = 0, n2 = 0;
        int r;

        r = ctl_proto_parse_request(line, size, &command, &args, &reason);
        if (r < 0) {
                CHECK(r == -EBADMSG || r == -E2BIG);
                CHECK(reason && !command && !args);
                return;
        }
        CHECK(size <= CTL_REQUEST_LINE_MAX);
        CHECK(ctl_proto_command_name_valid(command));
        CHECK(args && json_object_is_type(args, json_type_object));

        r = ctl_proto_format_request(command, args, &formatted, &n);
        CHECK(r == 0 || r == -E2BIG);
        if (r == 0) {
                CHECK(n == strlen(formatted) && formatted[n - 1] == '\n');
                CHECK(!memchr(formatted, '\n', n - 1));
                CHECK(ctl_proto_parse_request(formatted, n - 1, &command2, &args2, NULL) == 0);
                CHECK(strcmp(command, command2) == 0);
                CHECK(json_object_equal(args, args2));
                CHECK(ctl_proto_format_request(command2, args2, &formatted2, &n2) == 0);
                CHECK(n == n2 && memcmp(formatted, formatted2, n) == 0);
        }
        json_object_put(args);
        json_object_put(args2);
}

/* Formats a parsed reply back into a line. Ownership: caller frees *ret. */
static int reformat_reply(const CtlProtoReply *reply, char **ret, size_t *ret_len) {
        if (reply->ok)
                return ctl_proto_format_ok(reply->result, ret, ret_len);
        return ctl_proto_format_error(reply->exit_code, reply->code, reply->message, reply->result, ret, ret_len);
}

static void check_reply(const char *line, size_t size) {
        _cleanup_free_ char *formatted = NULL, *formatted2 = NULL;
        CtlProtoReply reply = { .exit_code = -7 }, reply2 = {};
        size_t n = 0, n2 = 0;
        int r;

        r = ctl_proto_parse_reply(line, size, &reply);
        if (r < 0) {
                CHECK(r == -EBADMSG || r == -E2BIG);
                CHECK(reply.exit_code == -7 && !reply.result);
                return;
        }
        CHECK(reply.result && json_object_is_type(reply.result, json_type_object));
        if (reply.ok)
                CHECK(reply.exit_code == 0 && !reply.code && !reply.message);
        else
                CHECK(reply.exit_code >= 1 && reply.exit_code <= CTL_EXIT_MAX &&
                      ctl_proto_error_code_valid(reply.code) && reply.message);

        CHECK(reformat_reply(&reply, &formatted, &n) == 0);
        CHECK(n == strlen(formatted) && formatted[n - 1] == '\n');
        CHECK(ctl_proto_parse_reply(formatted, n - 1, &reply2) == 0);
        CHECK(reply.ok == reply2.ok && reply.exit_code == reply2.exit_code);
        if (!reply.ok) {
                CHECK(strcmp(reply.code, reply2.code) == 0);
                /* what the server sends is always valid UTF-8 */
                CHECK(valid_utf8(reply2.message));
        }
        CHECK(reformat_reply(&reply2, &formatted2, &n2) == 0);
        CHECK(n == n2 && memcmp(formatted, formatted2, n) == 0);

        ctl_proto_reply_done(&reply);
        ctl_proto_reply_done(&reply2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *s = NULL;

        check_request((const char *) data, size);
        check_reply((const char *) data, size);

        /* the name checks, on the input as a C string */
        s = strndup((const char *) data, MIN(size, 256));
        CHECK(s);
        if (ctl_proto_command_name_valid(s))
                CHECK(strlen(s) >= 1 && strlen(s) <= CTL_COMMAND_NAME_MAX && s[0] >= 'a' && s[0] <= 'z');
        if (ctl_proto_error_code_valid(s))
                CHECK(strlen(s) >= 1 && strlen(s) <= CTL_ERROR_CODE_MAX && !strpbrk(s, " \"\\\n"));
        return 0;
}
