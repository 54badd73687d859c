/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "cdp/ctl-proto.h"
#include "cdp/macro.h"

static inline void json_putp(struct json_object **o) {
        if (*o)
                (void) json_object_put(*o);
}

static int parse_req(const char *line, char **ret_command, struct json_object **ret_args, const char **reason) {
        return ctl_proto_parse_request(line, strlen(line), ret_command, ret_args, reason);
}

static void test_command_name_valid__shapes__checked(void **state) {
        (void) state;
        assert_true(ctl_proto_command_name_valid("status"));
        assert_true(ctl_proto_command_name_valid("x"));
        assert_true(ctl_proto_command_name_valid("take-over2"));
        assert_true(ctl_proto_command_name_valid("abcdefghijabcdefghijabcdefghijab"));     /* 32 */
        assert_false(ctl_proto_command_name_valid("abcdefghijabcdefghijabcdefghijabc"));   /* 33 */
        assert_false(ctl_proto_command_name_valid(""));
        assert_false(ctl_proto_command_name_valid(NULL));
        assert_false(ctl_proto_command_name_valid("Status"));
        assert_false(ctl_proto_command_name_valid("-status"));
        assert_false(ctl_proto_command_name_valid("2fa"));
        assert_false(ctl_proto_command_name_valid("sta tus"));
        assert_false(ctl_proto_command_name_valid("status\n"));
        assert_false(ctl_proto_command_name_valid("st_atus"));
}

static void test_error_code_valid__shapes__checked(void **state) {
        (void) state;
        assert_true(ctl_proto_error_code_valid("BadRequest"));
        assert_true(ctl_proto_error_code_valid("InvalidRoute.NotFound"));
        assert_true(ctl_proto_error_code_valid("Client.Some_thing-1"));
        assert_false(ctl_proto_error_code_valid(""));
        assert_false(ctl_proto_error_code_valid(NULL));
        assert_false(ctl_proto_error_code_valid("Bad Request"));
        assert_false(ctl_proto_error_code_valid("Bad\"Request"));
        assert_false(ctl_proto_error_code_valid("Bäd"));
}

static void test_parse_request__command_only__empty_args(void **state) {
        _cleanup_free_ char *command = NULL;
        _cleanup_(json_putp) struct json_object *args = NULL;

        (void) state;
        assert_int_equal(parse_req("{\"command\":\"status\"}", &command, &args, NULL), 0);
        assert_string_equal(command, "status");
        assert_non_null(args);
        assert_true(json_object_is_type(args, json_type_object));
        assert_int_equal(json_object_object_length(args), 0);
}

static void test_parse_request__with_args__args_returned(void **state) {
        _cleanup_free_ char *command = NULL;
        _cleanup_(json_putp) struct json_object *args = NULL;
        struct json_object *v;

        (void) state;
        assert_int_equal(parse_req("  {\"args\": {\"pattern\": \"routing-ha\", \"dry_run\": true, \"timeout_ms\": 20000},"
                                   " \"command\": \"takeover\"}  \r",
                                   &command, &args, NULL),
                         0);
        assert_string_equal(command, "takeover");
        assert_true(json_object_object_get_ex(args, "pattern", &v));
        assert_string_equal(json_object_get_string(v), "routing-ha");
        assert_true(json_object_object_get_ex(args, "dry_run", &v));
        assert_true(json_object_get_boolean(v));
        assert_true(json_object_object_get_ex(args, "timeout_ms", &v));
        assert_int_equal(json_object_get_int(v), 20000);
}

static void test_parse_request__malformed__ebadmsg_outputs_untouched(void **state) {
        static const char *const bad[] = {
                "",
                " ",
                "{",
                "[]",
                "null",
                "\"status\"",
                "{}",
                "{\"args\":{}}",
                "{\"command\":1}",
                "{\"command\":null}",
                "{\"command\":\"\"}",
                "{\"command\":\"Status\"}",
                "{\"command\":\"sta tus\"}",
                "{\"command\":\"abcdefghijabcdefghijabcdefghijabc\"}",
                "{\"command\":\"status\\u0000x\"}",
                "{\"command\":\"status\",\"args\":[]}",
                "{\"command\":\"status\",\"args\":\"x\"}",
                "{\"command\":\"status\",\"args\":null}",
                "{\"command\":\"status\",\"extra\":1}",
                "{\"command\":\"status\"} {}",
                "{\"command\":\"status\"}x",
                "{\"command\":\"status\",}",
                "{\"command\":\"status\",\"args\":{\"a\":NaN}}",
                "{\"command\":\"status\",\"args\":{\"a\":1e999}}",
                "{\"command\":\"status\",\"args\":{\"a\":[\"x\\u0000y\"]}}",
                "{\"command\":\"status\",\"args\":{\"a\":\"\xff\"}}",
                "{\"command\":\"status\",\"args\":{\"a\":\"\xc0\xaf\"}}",
                "{\"command\":\"status\",\"args\":{\"a\":[[[[[[[[[[[[[[1]]]]]]]]]]]]]]}}",
        };
        char *command = (char *) "untouched";
        struct json_object *args = (struct json_object *) &command;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                const char *reason = NULL;

                print_message("case %zu: %s\n", i, bad[i]);
                assert_int_equal(parse_req(bad[i], &command, &args, &reason), -EBADMSG);
                assert_non_null(reason);
                assert_string_equal(command, "untouched");
                assert_ptr_equal(args, (struct json_object *) &command);
        }
}

static void test_parse_request__nul_byte__ebadmsg(void **state) {
        static const char line[] = "{\"command\":\"status\"}\0{}";
        char *command = NULL;
        struct json_object *args = NULL;
        const char *reason = NULL;

        (void) state;
        assert_int_equal(ctl_proto_parse_request(line, sizeof(line) - 1, &command, &args, &reason), -EBADMSG);
        assert_non_null(reason);
        assert_null(command);
}

static void test_parse_request__depth_at_limit__accepted(void **state) {
        /* depth 16: the request object, args, 13 nested arrays and the number */
        static const char line[] = "{\"command\":\"x\",\"args\":{\"a\":[[[[[[[[[[[[[1]]]]]]]]]]]]]}}";
        _cleanup_free_ char *command = NULL;
        _cleanup_(json_putp) struct json_object *args = NULL;

        (void) state;
        assert_int_equal(parse_req(line, &command, &args, NULL), 0);
}

static void test_parse_request__size__capped_at_line_max(void **state) {
        static const char head[] = "{\"command\":\"status\"}";
        _cleanup_free_ char *line = malloc(CTL_REQUEST_LINE_MAX + 1);
        _cleanup_free_ char *command = NULL;
        _cleanup_(json_putp) struct json_object *args = NULL;
        const char *reason = NULL;

        (void) state;
        assert_non_null(line);
        memset(line, ' ', CTL_REQUEST_LINE_MAX + 1);
        memcpy(line, head, sizeof(head) - 1);

        /* exactly the limit: fine (trailing blanks are whitespace) */
        assert_int_equal(ctl_proto_parse_request(line, CTL_REQUEST_LINE_MAX, &command, &args, NULL), 0);
        assert_string_equal(command, "status");
        command = mfree(command);
        json_putp(&args);
        args = NULL;

        assert_int_equal(ctl_proto_parse_request(line, CTL_REQUEST_LINE_MAX + 1, &command, &args, &reason), -E2BIG);
        assert_non_null(reason);
        assert_null(command);
}

static void test_format_request__round_trip__equal(void **state) {
        _cleanup_(json_putp) struct json_object *args = json_object_new_object(), *parsed = NULL;
        _cleanup_free_ char *line = NULL, *command = NULL;
        size_t len = 0;

        (void) state;
        json_object_object_add(args, "duration", json_object_new_string("2h"));
        json_object_object_add(args, "path", json_object_new_string("/a/b \"q\" \xc3\xa9"));
        json_object_object_add(args, "pattern", NULL);
        assert_int_equal(ctl_proto_format_request("extend", args, &line, &len), 0);
        assert_int_equal(len, strlen(line));
        assert_true(len > 0 && line[len - 1] == '\n');
        assert_null(memchr(line, '\n', len - 1));
        assert_non_null(strstr(line, "/a/b"));  /* no slash escaping */

        assert_int_equal(ctl_proto_parse_request(line, len - 1, &command, &parsed, NULL), 0);
        assert_string_equal(command, "extend");
        assert_true(json_object_equal(args, parsed));
}

static void test_format_request__no_args__exact_line(void **state) {
        _cleanup_free_ char *line = NULL;
        size_t len = 0;

        (void) state;
        assert_int_equal(ctl_proto_format_request("status", NULL, &line, &len), 0);
        assert_string_equal(line, "{\"command\":\"status\"}\n");
        assert_int_equal(len, strlen(line));
}

static void test_format_request__invalid__einval_or_e2big(void **state) {
        _cleanup_(json_putp) struct json_object *arr = json_object_new_array(), *big = json_object_new_object();
        _cleanup_free_ char *pad = malloc(CTL_REQUEST_LINE_MAX);
        char *line = NULL;
        size_t len = 7;

        (void) state;
        assert_int_equal(ctl_proto_format_request("Bad", NULL, &line, &len), -EINVAL);
        assert_int_equal(ctl_proto_format_request("status", arr, &line, &len), -EINVAL);

        assert_non_null(pad);
        memset(pad, 'x', CTL_REQUEST_LINE_MAX - 1);
        pad[CTL_REQUEST_LINE_MAX - 1] = '\0';
        json_object_object_add(big, "pad", json_object_new_string(pad));
        assert_int_equal(ctl_proto_format_request("status", big, &line, &len), -E2BIG);
        assert_null(line);
        assert_int_equal(len, 7);
}

static void test_format_ok__result__exact_line(void **state) {
        _cleanup_(json_putp) struct json_object *result = json_object_new_object();
        _cleanup_free_ char *line = NULL, *empty = NULL;
        size_t len;

        (void) state;
        json_object_object_add(result, "socket", json_object_new_string("/run/cdpd/control.sock"));
        json_object_object_add(result, "n", json_object_new_int(3));
        assert_int_equal(ctl_proto_format_ok(result, &line, &len), 0);
        assert_string_equal(line, "{\"ok\":true,\"result\":{\"socket\":\"/run/cdpd/control.sock\",\"n\":3}}\n");
        assert_int_equal(len, strlen(line));
        /* borrowed: still ours */
        assert_int_equal(json_object_object_length(result), 2);

        assert_int_equal(ctl_proto_format_ok(NULL, &empty, NULL), 0);
        assert_string_equal(empty, "{\"ok\":true,\"result\":{}}\n");
}

static void test_format_ok__non_object__einval(void **state) {
        _cleanup_(json_putp) struct json_object *s = json_object_new_string("x");
        char *line = NULL;

        (void) state;
        assert_int_equal(ctl_proto_format_ok(s, &line, NULL), -EINVAL);
        assert_null(line);
}

static void test_format_error__fields__exact_line(void **state) {
        _cleanup_(json_putp) struct json_object *result = json_object_new_object();
        _cleanup_free_ char *line = NULL, *with = NULL, *nomsg = NULL;
        size_t len;

        (void) state;
        assert_int_equal(ctl_proto_format_error(2, "UnknownCommand", "unknown command \"x\"", NULL, &line, &len), 0);
        assert_string_equal(line, "{\"ok\":false,\"error\":{\"code\":\"UnknownCommand\",\"message\":\"unknown command "
                                  "\\\"x\\\"\"},\"exit\":2}\n");
        assert_int_equal(len, strlen(line));

        json_object_object_add(result, "moved", json_object_new_int(1));
        assert_int_equal(ctl_proto_format_error(1, "InvalidRoute.NotFound", "gone", result, &with, NULL), 0);
        assert_string_equal(with, "{\"ok\":false,\"error\":{\"code\":\"InvalidRoute.NotFound\",\"message\":\"gone\"},"
                                  "\"exit\":1,\"result\":{\"moved\":1}}\n");

        assert_int_equal(ctl_proto_format_error(1, "X", NULL, NULL, &nomsg, NULL), 0);
        assert_string_equal(nomsg, "{\"ok\":false,\"error\":{\"code\":\"X\",\"message\":\"\"},\"exit\":1}\n");
}

static void test_format_error__invalid_utf8_message__replaced(void **state) {
        _cleanup_free_ char *line = NULL;
        CtlProtoReply reply = {};

        (void) state;
        assert_int_equal(ctl_proto_format_error(1, "Boom", "caf\xc3\xa9 \xff\xfe ok \xe2\x82", NULL, &line, NULL), 0);
        assert_string_equal(line, "{\"ok\":false,\"error\":{\"code\":\"Boom\",\"message\":\"caf\xc3\xa9 ?? ok ??\"},"
                                  "\"exit\":1}\n");
        assert_int_equal(ctl_proto_parse_reply(line, strlen(line) - 1, &reply), 0);
        assert_string_equal(reply.message, "caf\xc3\xa9 ?? ok ??");
        ctl_proto_reply_done(&reply);
}

static void test_format_error__bad_exit_or_code__einval(void **state) {
        char *line = NULL;

        (void) state;
        assert_int_equal(ctl_proto_format_error(0, "X", "m", NULL, &line, NULL), -EINVAL);
        assert_int_equal(ctl_proto_format_error(CTL_EXIT_MAX + 1, "X", "m", NULL, &line, NULL), -EINVAL);
        assert_int_equal(ctl_proto_format_error(-1, "X", "m", NULL, &line, NULL), -EINVAL);
        assert_int_equal(ctl_proto_format_error(1, "", "m", NULL, &line, NULL), -EINVAL);
        assert_int_equal(ctl_proto_format_error(1, NULL, "m", NULL, &line, NULL), -EINVAL);
        assert_int_equal(ctl_proto_format_error(1, "has space", "m", NULL, &line, NULL), -EINVAL);
        assert_null(line);
}

static void test_parse_reply__ok__result(void **state) {
        static const char line[] = "{\"ok\":true,\"result\":{\"ready\":true},\"future\":[1]}";
        CtlProtoReply reply = {};
        struct json_object *v;

        (void) state;
        assert_int_equal(ctl_proto_parse_reply(line, sizeof(line) - 1, &reply), 0);
        assert_true(reply.ok);
        assert_int_equal(reply.exit_code, 0);
        assert_null(reply.code);
        assert_null(reply.message);
        assert_true(json_object_object_get_ex(reply.result, "ready", &v));
        assert_true(json_object_get_boolean(v));
        ctl_proto_reply_done(&reply);
        assert_null(reply.result);
        ctl_proto_reply_done(&reply);  /* twice is fine */
}

static void test_parse_reply__ok_without_result__empty_object(void **state) {
        static const char line[] = "{\"ok\":true}\r";
        CtlProtoReply reply = {};

        (void) state;
        assert_int_equal(ctl_proto_parse_reply(line, sizeof(line) - 1, &reply), 0);
        assert_true(reply.ok);
        assert_non_null(reply.result);
        assert_int_equal(json_object_object_length(reply.result), 0);
        ctl_proto_reply_done(&reply);
}

static void test_parse_reply__error__fields_and_default_exit(void **state) {
        static const char with_exit[] =
                "{\"ok\":false,\"error\":{\"code\":\"UnknownCommand\",\"message\":\"no\"},\"exit\":2}";
        static const char without[] = "{\"ok\":false,\"error\":{\"code\":\"Denied\"},\"result\":{\"n\":1}}";
        CtlProtoReply reply = {};

        (void) state;
        assert_int_equal(ctl_proto_parse_reply(with_exit, sizeof(with_exit) - 1, &reply), 0);
        assert_false(reply.ok);
        assert_int_equal(reply.exit_code, 2);
        assert_string_equal(reply.code, "UnknownCommand");
        assert_string_equal(reply.message, "no");
        ctl_proto_reply_done(&reply);

        assert_int_equal(ctl_proto_parse_reply(without, sizeof(without) - 1, &reply), 0);
        assert_false(reply.ok);
        assert_int_equal(reply.exit_code, 1);
        assert_string_equal(reply.code, "Denied");
        assert_string_equal(reply.message, "");
        assert_int_equal(json_object_object_length(reply.result), 1);
        ctl_proto_reply_done(&reply);
}

static void test_parse_reply__malformed__ebadmsg_untouched(void **state) {
        static const char *const bad[] = {
                "",
                "[]",
                "{}",
                "{\"ok\":1}",
                "{\"ok\":\"true\"}",
                "{\"ok\":true,\"result\":[]}",
                "{\"ok\":true,\"result\":null}",
                "{\"ok\":false}",
                "{\"ok\":false,\"error\":\"x\"}",
                "{\"ok\":false,\"error\":{}}",
                "{\"ok\":false,\"error\":{\"code\":\"\"}}",
                "{\"ok\":false,\"error\":{\"code\":\"a b\"}}",
                "{\"ok\":false,\"error\":{\"code\":7}}",
                "{\"ok\":false,\"error\":{\"code\":\"X\",\"message\":7}}",
                "{\"ok\":false,\"error\":{\"code\":\"X\"},\"exit\":0}",
                "{\"ok\":false,\"error\":{\"code\":\"X\"},\"exit\":126}",
                "{\"ok\":false,\"error\":{\"code\":\"X\"},\"exit\":\"2\"}",
                "{\"ok\":false,\"error\":{\"code\":\"X\"},\"exit\":1.5}",
                "{\"ok\":true} trailing",
        };
        CtlProtoReply reply = { .exit_code = 42 };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                print_message("case %zu: %s\n", i, bad[i]);
                assert_int_equal(ctl_proto_parse_reply(bad[i], strlen(bad[i]), &reply), -EBADMSG);
                assert_int_equal(reply.exit_code, 42);
                assert_null(reply.result);
        }
}

static void test_parse_reply__too_large__e2big(void **state) {
        CtlProtoReply reply = {};

        (void) state;
        /* the length check comes first: no need for real bytes behind it */
        assert_int_equal(ctl_proto_parse_reply("{}", CTL_REPLY_LINE_MAX + 1, &reply), -E2BIG);
        assert_null(reply.result);
}

static void test_reply__format_then_parse__same_fields(void **state) {
        _cleanup_(json_putp) struct json_object *result = json_object_new_object();
        _cleanup_free_ char *line = NULL;
        CtlProtoReply reply = {};
        size_t len;

        (void) state;
        json_object_object_add(result, "targets", json_object_new_array());
        assert_int_equal(ctl_proto_format_error(3, "Timeout", "deadline passed", result, &line, &len), 0);
        assert_int_equal(ctl_proto_parse_reply(line, len - 1, &reply), 0);
        assert_false(reply.ok);
        assert_int_equal(reply.exit_code, 3);
        assert_string_equal(reply.code, "Timeout");
        assert_string_equal(reply.message, "deadline passed");
        assert_true(json_object_equal(reply.result, result));
        ctl_proto_reply_done(&reply);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_command_name_valid__shapes__checked),
                cmocka_unit_test(test_error_code_valid__shapes__checked),
                cmocka_unit_test(test_parse_request__command_only__empty_args),
                cmocka_unit_test(test_parse_request__with_args__args_returned),
                cmocka_unit_test(test_parse_request__malformed__ebadmsg_outputs_untouched),
                cmocka_unit_test(test_parse_request__nul_byte__ebadmsg),
                cmocka_unit_test(test_parse_request__depth_at_limit__accepted),
                cmocka_unit_test(test_parse_request__size__capped_at_line_max),
                cmocka_unit_test(test_format_request__round_trip__equal),
                cmocka_unit_test(test_format_request__no_args__exact_line),
                cmocka_unit_test(test_format_request__invalid__einval_or_e2big),
                cmocka_unit_test(test_format_ok__result__exact_line),
                cmocka_unit_test(test_format_ok__non_object__einval),
                cmocka_unit_test(test_format_error__fields__exact_line),
                cmocka_unit_test(test_format_error__invalid_utf8_message__replaced),
                cmocka_unit_test(test_format_error__bad_exit_or_code__einval),
                cmocka_unit_test(test_parse_reply__ok__result),
                cmocka_unit_test(test_parse_reply__ok_without_result__empty_object),
                cmocka_unit_test(test_parse_reply__error__fields_and_default_exit),
                cmocka_unit_test(test_parse_reply__malformed__ebadmsg_untouched),
                cmocka_unit_test(test_parse_reply__too_large__e2big),
                cmocka_unit_test(test_reply__format_then_parse__same_fields),
        };

        return cmocka_run_group_tests_name("ctl-proto", tests, NULL, NULL);
}
