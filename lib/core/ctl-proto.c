/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cdp/ctl-proto.h"
#include "cdp/parse-util.h"

#define JSON_FORMAT_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static inline void json_object_putp(struct json_object **o) {
        if (*o)
                (void) json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_object_putp)

static inline void json_tokener_freep(json_tokener **t) {
        if (*t)
                json_tokener_free(*t);
}

bool ctl_proto_command_name_valid(const char *s) {
        size_t n;

        if (!s || !(s[0] >= 'a' && s[0] <= 'z'))
                return false;
        for (n = 0; s[n]; n++)
                if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '-'))
                        return false;
        return n <= CTL_COMMAND_NAME_MAX;
}

bool ctl_proto_error_code_valid(const char *s) {
        size_t n;

        if (!s || !s[0])
                return false;
        for (n = 0; s[n]; n++)
                if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9') ||
                      s[n] == '.' || s[n] == '_' || s[n] == '-'))
                        return false;
        return n <= CTL_ERROR_CODE_MAX;
}

/* One JSON object from line[0..len): nothing before or after it but
 * whitespace. -EBADMSG with a reason otherwise. */
static int parse_object(const char *line, size_t len, int depth, bool strict, struct json_object **ret,
                        const char **reterr_message) {
        _cleanup_(json_tokener_freep) json_tokener *tok = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        enum json_tokener_error e;

        /* json-c would stop at a NUL and leave the rest unchecked. */
        if (memchr(line, '\0', len)) {
                *reterr_message = "NUL byte in message";
                return -EBADMSG;
        }
        tok = json_tokener_new_ex(depth);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | (strict ? JSON_TOKENER_VALIDATE_UTF8 : 0));

        o = json_tokener_parse_ex(tok, line, (int) len);
        e = json_tokener_get_error(tok);
        if (!o || e != json_tokener_success) {
                *reterr_message = e == json_tokener_continue ? "incomplete JSON"
                                : e == json_tokener_error_depth ? "JSON nested too deeply"
                                : e == json_tokener_error_parse_utf8_string ? "invalid UTF-8"
                                : "malformed JSON";
                return -EBADMSG;
        }
        if (json_tokener_get_parse_end(tok) != len) {
                *reterr_message = "trailing data after the JSON object";
                return -EBADMSG;
        }
        if (!json_object_is_type(o, json_type_object)) {
                *reterr_message = "message is not a JSON object";
                return -EBADMSG;
        }
        *ret = TAKE_PTR(o);
        return 0;
}

/* Request arguments reach handlers that read strings as C strings and
 * numbers as doubles: refuse what they would silently misread. json-c's own
 * UTF-8 check lets overlong forms through; valid_utf8() does not. */
static bool json_value_plain(struct json_object *v) {
        switch (json_object_get_type(v)) {
        case json_type_string: {
                const char *s = json_object_get_string(v);

                return strlen(s) == (size_t) json_object_get_string_len(v) && valid_utf8(s);
        }
        case json_type_double:
                return isfinite(json_object_get_double(v));
        case json_type_array:
                for (size_t i = 0, n = json_object_array_length(v); i < n; i++)
                        if (!json_value_plain(json_object_array_get_idx(v, i)))
                                return false;
                return true;
        case json_type_object: {
                json_object_object_foreach(v, key, val) {
                        if (!valid_utf8(key) || !json_value_plain(val))
                                return false;
                }
                return true;
        }
        default:
                return true;
        }
}

static size_t trim_line_end(const char *line, size_t len) {
        if (len > 0 && line[len - 1] == '\r')
                len--;
        return len;
}

int ctl_proto_parse_request(const char *line, size_t len, char **ret_command, struct json_object **ret_args,
                            const char **reterr_message) {
        _cleanup_json_ struct json_object *o = NULL, *args = NULL;
        struct json_object *command = NULL;
        const char *reason = NULL, *name;
        bool have_args = false;
        char *copy;
        int r;

        if (!reterr_message)
                reterr_message = &reason;
        if (len > CTL_REQUEST_LINE_MAX) {
                *reterr_message = "request line too long";
                return -E2BIG;
        }
        len = trim_line_end(line, len);

        r = parse_object(line, len, CTL_REQUEST_DEPTH_MAX, true, &o, reterr_message);
        if (r < 0)
                return r;

        json_object_object_foreach(o, key, val) {
                if (strcmp(key, "command") == 0)
                        command = val;
                else if (strcmp(key, "args") == 0) {
                        have_args = true;
                        args = json_object_get(val);
                } else {
                        *reterr_message = "unknown key in request (expected \"command\" and \"args\")";
                        return -EBADMSG;
                }
        }
        if (!command || !json_object_is_type(command, json_type_string)) {
                *reterr_message = "\"command\" missing or not a string";
                return -EBADMSG;
        }
        name = json_object_get_string(command);
        if (!json_value_plain(command) || !ctl_proto_command_name_valid(name)) {
                *reterr_message = "\"command\" is not a command name";
                return -EBADMSG;
        }
        if (!have_args) {
                args = json_object_new_object();
                if (!args)
                        return -ENOMEM;
        } else if (!json_object_is_type(args, json_type_object)) {
                *reterr_message = "\"args\" is not an object";
                return -EBADMSG;
        } else if (!json_value_plain(args)) {
                *reterr_message = "\"args\" holds a string with a NUL byte or invalid UTF-8, "
                                  "or a number that is not finite";
                return -EBADMSG;
        }

        copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        *ret_command = copy;
        *ret_args = TAKE_PTR(args);
        return 0;
}

/* Serialises o plus "\n". limit 0 = no limit. */
static int format_line(struct json_object *o, size_t limit, char **ret_line, size_t *ret_len) {
        const char *s;
        size_t n;
        char *line;

        s = json_object_to_json_string_length(o, JSON_FORMAT_FLAGS, &n);
        if (!s)
                return -ENOMEM;
        if (limit > 0 && n > limit)
                return -E2BIG;
        line = malloc(n + 2);
        if (!line)
                return -ENOMEM;
        memcpy(line, s, n);
        line[n] = '\n';
        line[n + 1] = '\0';
        *ret_line = line;
        if (ret_len)
                *ret_len = n + 1;
        return 0;
}

/* json_object_object_add() takes a reference; these keep our own. */
static int object_add(struct json_object *o, const char *key, struct json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                (void) json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

int ctl_proto_format_request(const char *command, struct json_object *args, char **ret_line, size_t *ret_len) {
        _cleanup_json_ struct json_object *o = NULL;
        int r;

        if (!ctl_proto_command_name_valid(command))
                return -EINVAL;
        if (args && !json_object_is_type(args, json_type_object))
                return -EINVAL;

        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        r = object_add(o, "command", json_object_new_string(command));
        if (r < 0)
                return r;
        if (args) {
                r = object_add(o, "args", json_object_get(args));
                if (r < 0)
                        return r;
        }
        return format_line(o, CTL_REQUEST_LINE_MAX, ret_line, ret_len);
}

int ctl_proto_format_ok(struct json_object *result, char **ret_line, size_t *ret_len) {
        _cleanup_json_ struct json_object *o = NULL;
        int r;

        if (result && !json_object_is_type(result, json_type_object))
                return -EINVAL;

        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        r = object_add(o, "ok", json_object_new_boolean(1));
        if (r < 0)
                return r;
        r = object_add(o, "result", result ? json_object_get(result) : json_object_new_object());
        if (r < 0)
                return r;
        return format_line(o, 0, ret_line, ret_len);
}

/* A copy of s in which every byte that does not belong to a well-formed
 * UTF-8 character is '?'. Ownership: caller frees the result. */
static char *utf8_sanitize(const char *s) {
        size_t n = strlen(s), i = 0;
        char *t;

        t = strdup(s);
        if (!t)
                return NULL;
        while (i < n) {
                size_t k = utf8_char_len(t + i);

                if (k == 0) {
                        t[i] = '?';
                        k = 1;
                }
                i += k;
        }
        return t;
}

int ctl_proto_format_error(int exit_code, const char *code, const char *message, struct json_object *result,
                           char **ret_line, size_t *ret_len) {
        _cleanup_json_ struct json_object *o = NULL, *error = NULL;
        _cleanup_free_ char *clean = NULL;
        int r;

        if (exit_code < 1 || exit_code > CTL_EXIT_MAX || !ctl_proto_error_code_valid(code))
                return -EINVAL;
        if (result && !json_object_is_type(result, json_type_object))
                return -EINVAL;

        clean = utf8_sanitize(message ? message : "");
        if (!clean)
                return -ENOMEM;

        o = json_object_new_object();
        error = json_object_new_object();
        if (!o || !error)
                return -ENOMEM;
        r = object_add(error, "code", json_object_new_string(code));
        if (r < 0)
                return r;
        r = object_add(error, "message", json_object_new_string(clean));
        if (r < 0)
                return r;
        r = object_add(o, "ok", json_object_new_boolean(0));
        if (r < 0)
                return r;
        r = object_add(o, "error", TAKE_PTR(error));
        if (r < 0)
                return r;
        r = object_add(o, "exit", json_object_new_int(exit_code));
        if (r < 0)
                return r;
        if (result) {
                r = object_add(o, "result", json_object_get(result));
                if (r < 0)
                        return r;
        }
        return format_line(o, 0, ret_line, ret_len);
}

int ctl_proto_parse_reply(const char *line, size_t len, CtlProtoReply *ret) {
        _cleanup_json_ struct json_object *o = NULL, *result = NULL;
        _cleanup_free_ char *code = NULL, *message = NULL;
        struct json_object *ok, *error, *v;
        const char *reason;
        int exit_code = 0, r;

        if (len > CTL_REPLY_LINE_MAX)
                return -E2BIG;
        len = trim_line_end(line, len);

        r = parse_object(line, len, CTL_REPLY_DEPTH_MAX, false, &o, &reason);
        if (r < 0)
                return r;

        if (!json_object_object_get_ex(o, "ok", &ok) || !json_object_is_type(ok, json_type_boolean))
                return -EBADMSG;

        if (json_object_object_get_ex(o, "result", &v)) {
                if (!json_object_is_type(v, json_type_object))
                        return -EBADMSG;
                result = json_object_get(v);
        } else {
                result = json_object_new_object();
                if (!result)
                        return -ENOMEM;
        }

        if (!json_object_get_boolean(ok)) {
                if (!json_object_object_get_ex(o, "error", &error) || !json_object_is_type(error, json_type_object))
                        return -EBADMSG;
                if (!json_object_object_get_ex(error, "code", &v) || !json_object_is_type(v, json_type_string) ||
                    !json_value_plain(v) || !ctl_proto_error_code_valid(json_object_get_string(v)))
                        return -EBADMSG;
                code = strdup(json_object_get_string(v));
                if (!code)
                        return -ENOMEM;

                if (json_object_object_get_ex(error, "message", &v)) {
                        if (!json_object_is_type(v, json_type_string))
                                return -EBADMSG;
                        message = strdup(json_object_get_string(v));
                } else
                        message = strdup("");
                if (!message)
                        return -ENOMEM;

                exit_code = CTL_EXIT_FAILED;
                if (json_object_object_get_ex(o, "exit", &v)) {
                        int64_t x;

                        if (!json_object_is_type(v, json_type_int))
                                return -EBADMSG;
                        x = json_object_get_int64(v);
                        if (x < 1 || x > CTL_EXIT_MAX)
                                return -EBADMSG;
                        exit_code = (int) x;
                }
        }

        *ret = (CtlProtoReply) {
                .ok = json_object_get_boolean(ok),
                .exit_code = exit_code,
                .code = TAKE_PTR(code),
                .message = TAKE_PTR(message),
                .result = TAKE_PTR(result),
        };
        return 0;
}

void ctl_proto_reply_done(CtlProtoReply *reply) {
        if (!reply)
                return;
        free(reply->code);
        free(reply->message);
        if (reply->result)
                (void) json_object_put(reply->result);
        *reply = (CtlProtoReply) {};
}
