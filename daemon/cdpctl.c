/* SPDX-License-Identifier: MIT */
/* cdpctl: the command-line client of cdpd (SPEC 8). One request, one reply,
 * over the control socket; blocking I/O bounded by poll() and a deadline,
 * no event loop, no privileges of its own, nothing but json-c linked in, so
 * that `cdpctl status` stays a few milliseconds. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cdp/ctl-proto.h"
#include "cdp/macro.h"
#include "cdp/parse-util.h"

#define DEFAULT_SOCKET "/run/cdpd/control.sock"
#define DEFAULT_TIMEOUT_USEC (5 * USEC_PER_SEC)
/* A backup run waits for AWS (creates, throttled deletes): longer. */
#define SNAPSHOT_TIMEOUT_USEC (60 * USEC_PER_SEC)
#define TAKEOVER_DEFAULT_TIMEOUT_USEC (20 * USEC_PER_SEC)
/* A takeover's deadline is cdpd's; cdpctl waits this much longer for the answer. */
#define TAKEOVER_GRACE_USEC (5 * USEC_PER_SEC)
#define TIMEOUT_MAX_USEC (86400 * USEC_PER_SEC)
#define TAKEOVER_TIMEOUT_MAX_USEC (3600 * USEC_PER_SEC)

static const char *arg_socket = NULL;
static bool arg_json = false;
static uint64_t arg_timeout_usec = 0;           /* 0 = per command default */
static bool arg_dry_run = false;
static uint64_t arg_takeover_timeout_usec = TAKEOVER_DEFAULT_TIMEOUT_USEC;
static bool arg_takeover_timeout_given = false;

static inline void json_object_putp(struct json_object **o) {
        if (*o)
                (void) json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_object_putp)

/* ---- output ---- */

static void print_json(struct json_object *o) {
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Strings come from tags and AWS among others: no terminal escapes get
 * through. */
static void fprint_text(FILE *f, const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '\n')
                        fputs("\\n", f);
                else if (*p == '\t')
                        fputs("\\t", f);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\x%02x", *p);
                else
                        putc(*p, f);
        }
}

static void print_text(const char *s) {
        fprint_text(stdout, s);
}

static void print_error_line(const char *code, const char *message) {
        fputs("cdpctl: ", stderr);
        fprint_text(stderr, code);
        fputs(": ", stderr);
        fprint_text(stderr, message);
        putc('\n', stderr);
}

/* Errors: {"error":{...}} on stdout with --json (plus the members of a
 * result that came with it), "cdpctl: code: message" on stderr otherwise. */
static int fail(int exit_code, const char *code, struct json_object *result, const char *fmt, ...) _printf_(4, 5);
static int fail(int exit_code, const char *code, struct json_object *result, const char *fmt, ...) {
        char message[1024];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);

        if (arg_json) {
                _cleanup_json_ struct json_object *o = NULL;
                struct json_object *e = json_object_new_object();

                if (!result || json_object_deep_copy(result, &o, NULL) < 0)
                        o = json_object_new_object();
                if (!o || !e) {
                        json_object_put(e);
                        print_error_line(code, message);
                        return exit_code;
                }
                json_object_object_add(e, "code", json_object_new_string(code));
                json_object_object_add(e, "message", json_object_new_string(message));
                json_object_object_add(o, "error", e);
                print_json(o);
        } else
                print_error_line(code, message);
        return exit_code;
}

static int usage_error(const char *fmt, ...) _printf_(1, 2);
static int usage_error(const char *fmt, ...) {
        char message[512];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        if (!arg_json)
                fprintf(stderr, "cdpctl: %s (see cdpctl --help)\n", message);
        else
                (void) fail(CTL_EXIT_USAGE, "UsageError", NULL, "%s", message);
        return CTL_EXIT_USAGE;
}

static void print_scalar(struct json_object *v) {
        if (!v)
                fputs("-", stdout);
        else if (json_object_is_type(v, json_type_string))
                print_text(json_object_get_string(v));
        else if (json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array))
                fputs("(none)", stdout);        /* only empty ones get here */
        else
                print_text(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

static bool is_nonempty_container(struct json_object *v) {
        return (json_object_is_type(v, json_type_object) && json_object_object_length(v) > 0) ||
               (json_object_is_type(v, json_type_array) && json_object_array_length(v) > 0);
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static void print_value_lines(struct json_object *v, unsigned indent);

/* The members of o, sorted by key, one "key: value" line each at `indent`;
 * the first line starts with `first` instead (the "- " of a list item). */
static void print_object(struct json_object *o, unsigned indent, const char *first) {
        size_t n = (size_t) json_object_object_length(o), i = 0;
        _cleanup_free_ const char **keys = calloc(n ? n : 1, sizeof(char *));

        if (!keys)
                return;
        json_object_object_foreach(o, key, val) {
                (void) val;
                keys[i++] = key;
        }
        qsort(keys, n, sizeof(char *), cmp_str);

        for (i = 0; i < n; i++) {
                struct json_object *v = json_object_object_get(o, keys[i]);

                if (i == 0 && first)
                        fputs(first, stdout);
                else
                        printf("%*s", (int) indent, "");
                print_text(keys[i]);
                if (is_nonempty_container(v)) {
                        fputs(":\n", stdout);
                        print_value_lines(v, indent + 2);
                } else {
                        fputs(": ", stdout);
                        print_scalar(v);
                        putchar('\n');
                }
        }
}

static void print_value_lines(struct json_object *v, unsigned indent) {
        if (json_object_is_type(v, json_type_object)) {
                print_object(v, indent, NULL);
                return;
        }
        for (size_t i = 0, n = json_object_array_length(v); i < n; i++) {
                struct json_object *item = json_object_array_get_idx(v, i);
                char first[128];

                if (json_object_is_type(item, json_type_object) && json_object_object_length(item) > 0) {
                        (void) snprintf(first, sizeof(first), "%*s- ", (int) MIN(indent, 100u), "");
                        print_object(item, indent + 2, first);
                } else if (is_nonempty_container(item)) {
                        printf("%*s-\n", (int) indent, "");
                        print_value_lines(item, indent + 2);
                } else {
                        printf("%*s- ", (int) indent, "");
                        print_scalar(item);
                        putchar('\n');
                }
        }
}

/* ---- talking to cdpd ---- */

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

/* Milliseconds left until deadline for poll(), at least 1 while any is left. */
static int ms_left(uint64_t deadline) {
        uint64_t now = now_usec();

        if (now >= deadline)
                return 0;
        return (int) MIN((deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC, (uint64_t) INT32_MAX);
}

static int wait_fd(int fd, short events, uint64_t deadline) {
        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                int ms = ms_left(deadline), r;

                if (ms == 0)
                        return -ETIMEDOUT;
                r = poll(&p, 1, ms);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r > 0)
                        return 0;
        }
}

/* Connects; a full listen backlog waits at most until the deadline
 * (SO_SNDTIMEO bounds a blocking AF_UNIX connect). */
static int ctl_connect(const char *path, uint64_t deadline, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        uint64_t left = deadline - MIN(now_usec(), deadline);
        struct timeval tv = {
                .tv_sec = (time_t) (left / USEC_PER_SEC),
                .tv_usec = (suseconds_t) (left % USEC_PER_SEC),
        };
        size_t n = strlen(path);
        socklen_t salen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + 1);

        if (n == 0 || n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, n);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (tv.tv_sec == 0 && tv.tv_usec == 0)
                tv.tv_usec = 1;
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, (const struct sockaddr *) &sa, salen) < 0)
                return errno == EINPROGRESS || errno == EAGAIN ? -ETIMEDOUT : -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int send_all(int fd, const char *p, size_t n, uint64_t deadline) {
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                int r;

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                return -errno;
                        r = wait_fd(fd, POLLOUT, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Reads up to the first "\n". -ECONNRESET when the connection ends first,
 * -E2BIG beyond CTL_REPLY_LINE_MAX. Ownership: caller frees *ret_line. */
static int recv_line(int fd, uint64_t deadline, char **ret_line, size_t *ret_len) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;

        for (;;) {
                ssize_t k;
                char *nl;
                int r;

                if (cap - len < 4096) {
                        size_t ncap = cap ? cap * 2 : 8192;
                        char *p;

                        if (cap > CTL_REPLY_LINE_MAX + 1)
                                return -E2BIG;
                        p = realloc(buf, ncap);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        cap = ncap;
                }
                k = recv(fd, buf + len, cap - len - 1, MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == ECONNRESET)
                                return -ECONNRESET;
                        if (errno != EAGAIN)
                                return -errno;
                        r = wait_fd(fd, POLLIN, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (k == 0)
                        return -ECONNRESET;
                nl = memchr(buf + len, '\n', (size_t) k);
                len += (size_t) k;
                if (nl) {
                        *nl = '\0';
                        *ret_len = (size_t) (nl - buf);
                        *ret_line = TAKE_PTR(buf);
                        return 0;
                }
                if (len > CTL_REPLY_LINE_MAX)
                        return -E2BIG;
        }
}

static int run(const char *command, struct json_object *args, uint64_t timeout_usec) {
        _cleanup_free_ char *request = NULL, *line = NULL;
        _cleanup_close_ int fd = -1;
        CtlProtoReply reply = {};
        const char *path;
        char tbuf[DURATION_STRING_MAX];
        uint64_t deadline = now_usec() + timeout_usec;
        size_t n;
        int r, ret;

        path = arg_socket ?: getenv("CDPD_SOCKET") ?: DEFAULT_SOCKET;

        r = ctl_proto_format_request(command, args, &request, &n);
        if (r < 0)
                return fail(CTL_EXIT_USAGE, "UsageError", NULL, "cannot build the request: %s", strerror(-r));

        r = ctl_connect(path, deadline, &fd);
        if (r == -ENAMETOOLONG)
                return usage_error("socket path \"%s\" is empty or too long", path);
        if (r < 0)
                return fail(CTL_EXIT_UNREACHABLE, "Unreachable", NULL, "cannot connect to %s: %s%s", path,
                            strerror(-r),
                            r == -ENOENT || r == -ECONNREFUSED ? " (is cdpd running?)"
                            : r == -EACCES                     ? " (only root and the cdpd group may use it)"
                                                               : "");

        r = send_all(fd, request, n, deadline);
        if (r >= 0)
                r = recv_line(fd, deadline, &line, &n);
        if (r == -ETIMEDOUT)
                return fail(CTL_EXIT_UNREACHABLE, "Timeout", NULL, "no reply from cdpd within %s",
                            format_duration(timeout_usec, tbuf));
        if (r == -E2BIG)
                return fail(CTL_EXIT_FAILED, "BadReply", NULL, "the reply from cdpd is too large");
        if (r < 0)
                return fail(CTL_EXIT_UNREACHABLE, "Disconnected", NULL,
                            "cdpd closed the connection without a reply (%s)", strerror(-r));

        r = ctl_proto_parse_reply(line, n, &reply);
        if (r < 0)
                return fail(CTL_EXIT_FAILED, "BadReply", NULL, "cannot understand the reply from cdpd: %s",
                            strerror(-r));

        if (reply.ok) {
                if (arg_json)
                        print_json(reply.result);
                else
                        print_object(reply.result, 0, NULL);
                ret = CTL_EXIT_OK;
        } else {
                /* Details of a failed operation (per-target states) still help. */
                if (!arg_json && json_object_object_length(reply.result) > 0)
                        print_object(reply.result, 0, NULL);
                ret = fail(reply.exit_code, reply.code, reply.result, "%s", reply.message);
        }
        ctl_proto_reply_done(&reply);
        /* A monitor reading a file must not take a cut-off answer for one. */
        if (fflush(stdout) != 0 && ret == CTL_EXIT_OK) {
                fprintf(stderr, "cdpctl: cannot write the output: %m\n");
                return CTL_EXIT_FAILED;
        }
        return ret;
}

/* ---- arguments ---- */

static void help(void) {
        printf("Usage: cdpctl [OPTIONS] COMMAND [ARGS]\n\n"
               "Talks to cdpd, the Cloud Design Patterns daemon of this EC2 instance.\n\n"
               "Commands:\n"
               "  status                     what cdpd does now, per pattern and target\n"
               "  policy                     the tag policy as parsed, with its errors\n"
               "  reload                     re-read the configuration and the tags\n"
               "  snapshot [--dry-run]       take a backup now (or show what it would do)\n"
               "  takeover [floating-ip|routing-ha] [--dry-run] [--timeout S]\n"
               "                             move the HA targets to this instance\n"
               "  release [floating-ip|routing-ha]\n"
               "                             remove the local addresses of the HA targets\n"
               "  check                      prove the IAM permissions with DryRun calls\n"
               "  extend DURATION            move the bastion expiry later (e.g. 2h)\n\n"
               "Options:\n"
               "      --socket PATH   control socket (default $CDPD_SOCKET, then " DEFAULT_SOCKET ")\n"
               "      --json          print the reply as JSON\n"
               "      --timeout S     give up waiting for cdpd after S (seconds or 30s, 2m; default 5s;\n"
               "                      after `takeover` it is the takeover's deadline, default 20s)\n"
               "  -h, --help          this help\n"
               "      --version       print the version\n\n"
               "Exit status: 0 done, 1 the operation failed, 2 usage error, 3 cdpd unreachable.\n");
}

/* "S" (whole seconds) or a duration ("30s", "2m"), 1 s .. max. */
static int parse_timeout(const char *s, uint64_t max, uint64_t *ret) {
        uint64_t v;
        unsigned sec;
        int r;

        r = parse_uint_range(s, 1, (unsigned) (max / USEC_PER_SEC), &sec);
        if (r == -EINVAL) {
                r = parse_duration(s, &v);
                if (r >= 0 && (v < USEC_PER_SEC || v > max))
                        r = -ERANGE;
        } else
                v = (uint64_t) sec * USEC_PER_SEC;
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

enum {
        ARG_SOCKET = 0x100,
        ARG_JSON,
        ARG_TIMEOUT,
        ARG_DRY_RUN,
        ARG_VERSION,
};

/* Options valid before and after the command; the per-command ones are
 * refused by the command's check. */
static const struct option options[] = {
        { "socket", required_argument, NULL, ARG_SOCKET },
        { "json", no_argument, NULL, ARG_JSON },
        { "timeout", required_argument, NULL, ARG_TIMEOUT },
        { "dry-run", no_argument, NULL, ARG_DRY_RUN },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, ARG_VERSION },
        {},
};

typedef enum VerbFlags {
        VERB_DRY_RUN = 1 << 0,          /* takes --dry-run */
        VERB_DEADLINE = 1 << 1,         /* --timeout after the verb is the operation's deadline */
} VerbFlags;

typedef struct Verb {
        const char *name;
        unsigned min_args, max_args;
        VerbFlags flags;
} Verb;

static const Verb verbs[] = {
        { "status", 0, 0, 0 },
        { "policy", 0, 0, 0 },
        { "reload", 0, 0, 0 },
        { "snapshot", 0, 0, VERB_DRY_RUN },
        { "takeover", 0, 1, VERB_DRY_RUN | VERB_DEADLINE },
        { "release", 0, 1, 0 },
        { "check", 0, 0, 0 },
        { "extend", 1, 1, 0 },
};

static const Verb *arg_verb = NULL;
static char *arg_pos[1];
static size_t arg_n_pos = 0;
static bool arg_dry_run_given = false;

/* Returns 0 to go on, 1 when done (help, version), -exit status on error. */
static int parse_option(int c, char *const *argv) {
        switch (c) {
        case ARG_SOCKET:
                arg_socket = optarg;
                return 0;
        case ARG_JSON:
                return 0;
        case ARG_TIMEOUT:
                if (arg_verb && (arg_verb->flags & VERB_DEADLINE)) {
                        arg_takeover_timeout_given = true;
                        if (parse_timeout(optarg, TAKEOVER_TIMEOUT_MAX_USEC, &arg_takeover_timeout_usec) < 0)
                                return -usage_error("%s: --timeout \"%s\" is not a time between 1s and 1h",
                                                    arg_verb->name, optarg);
                } else if (parse_timeout(optarg, TIMEOUT_MAX_USEC, &arg_timeout_usec) < 0)
                        return -usage_error("--timeout \"%s\" is not a time between 1s and 1d", optarg);
                return 0;
        case ARG_DRY_RUN:
                arg_dry_run = arg_dry_run_given = true;
                return 0;
        case 'h':
                help();
                return 1;
        case ARG_VERSION:
                printf("cdpctl " PACKAGE_VERSION "\n");
                return 1;
        default:
                return -usage_error("unknown option or missing value: \"%s\"", argv[optind - 1]);
        }
}

static int parse_positional(const char *arg) {
        if (arg_n_pos >= arg_verb->max_args)
                return -usage_error("%s: unexpected argument \"%s\"", arg_verb->name, arg);
        arg_pos[arg_n_pos++] = (char *) arg;
        return 0;
}

/* Options, the verb, then the verb's arguments and options in any order.
 * After the verb, --timeout of a takeover is the takeover's deadline. */
static int parse_argv(int argc, char *argv[]) {
        char **sub_argv;
        int c, r, sub_argc;

        /* --json decides where error messages go, wherever it stands. */
        for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
                if (strcmp(argv[i], "--json") == 0)
                        arg_json = true;
        opterr = 0;

        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
                r = parse_option(c, argv);
                if (r != 0)
                        return r;
        }
        if (optind >= argc)
                return -usage_error("no command given");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(verbs[i].name, argv[optind]) == 0)
                        arg_verb = &verbs[i];
        if (!arg_verb)
                return -usage_error("unknown command \"%s\"", argv[optind]);

        /* The verb plays argv[0] for a fresh scan ("-": positional
         * arguments come back as option 1, in order). */
        sub_argv = argv + optind;
        sub_argc = argc - optind;
        optind = 0;
        while ((c = getopt_long(sub_argc, sub_argv, "-h", options, NULL)) >= 0) {
                r = c == 1 ? parse_positional(optarg) : parse_option(c, sub_argv);
                if (r != 0)
                        return r;
        }
        for (; optind < sub_argc; optind++) {   /* after "--" */
                r = parse_positional(sub_argv[optind]);
                if (r != 0)
                        return r;
        }

        if (arg_n_pos < arg_verb->min_args)
                return -usage_error("%s: missing argument", arg_verb->name);
        if (arg_dry_run_given && !(arg_verb->flags & VERB_DRY_RUN))
                return -usage_error("%s does not take --dry-run", arg_verb->name);
        return 0;
}

static int pattern_arg(const Verb *verb, char **pos, size_t n, struct json_object *args) {
        if (n == 0)
                return json_object_object_add(args, "pattern", NULL);
        if (strcmp(pos[0], "floating-ip") != 0 && strcmp(pos[0], "routing-ha") != 0)
                return -usage_error("%s: pattern \"%s\" is neither floating-ip nor routing-ha", verb->name, pos[0]);
        return json_object_object_add(args, "pattern", json_object_new_string(pos[0]));
}

/* The request's args for the verb; -exit status on a usage error. */
static int build_args(const Verb *verb, char **pos, size_t n, struct json_object **ret) {
        _cleanup_json_ struct json_object *args = NULL;
        uint64_t usec;
        int r;

        if (verb->max_args == 0 && !(verb->flags & VERB_DRY_RUN)) {
                *ret = NULL;    /* no "args" */
                return 0;
        }
        args = json_object_new_object();
        if (!args)
                return -CTL_EXIT_FAILED;

        if (strcmp(verb->name, "snapshot") == 0)
                r = json_object_object_add(args, "dry_run", json_object_new_boolean(arg_dry_run));
        else if (strcmp(verb->name, "takeover") == 0) {
                r = pattern_arg(verb, pos, n, args);
                if (r >= 0)
                        r = json_object_object_add(args, "dry_run", json_object_new_boolean(arg_dry_run));
                /* Without --timeout the daemon's takeover_timeout applies. */
                if (r >= 0)
                        r = json_object_object_add(args, "timeout_ms",
                                                   arg_takeover_timeout_given
                                                           ? json_object_new_int64((int64_t) (arg_takeover_timeout_usec /
                                                                                              USEC_PER_MSEC))
                                                           : NULL);
        } else if (strcmp(verb->name, "release") == 0)
                r = pattern_arg(verb, pos, n, args);
        else if (strcmp(verb->name, "extend") == 0) {
                r = parse_duration(pos[0], &usec);
                if (r < 0)
                        return -usage_error("extend: \"%s\" is not a duration such as 30m, 2h or 1d12h%s", pos[0],
                                            r == -ERANGE ? " (zero and more than 10 years are out of range)" : "");
                r = json_object_object_add(args, "duration", json_object_new_string(pos[0]));
        } else
                r = 0;
        if (r == -CTL_EXIT_USAGE)
                return r;
        if (r < 0)
                return -CTL_EXIT_FAILED;
        *ret = TAKE_PTR(args);
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_json_ struct json_object *args = NULL;
        uint64_t timeout;
        int r;

        r = parse_argv(argc, argv);
        if (r != 0)
                return r > 0 ? CTL_EXIT_OK : -r;

        if (!arg_verb)
                return CTL_EXIT_USAGE;
        r = build_args(arg_verb, arg_pos, arg_n_pos, &args);
        if (r < 0)
                return -r;

        /* A takeover without --timeout runs for the daemon's takeover_timeout,
         * which cdpctl does not know: the daemon's deadline ends it. */
        timeout = arg_timeout_usec;
        if (timeout == 0)
                timeout = strcmp(arg_verb->name, "snapshot") == 0     ? SNAPSHOT_TIMEOUT_USEC
                          : !(arg_verb->flags & VERB_DEADLINE) ? DEFAULT_TIMEOUT_USEC
                          : arg_takeover_timeout_given       ? arg_takeover_timeout_usec + TAKEOVER_GRACE_USEC
                                                             : TAKEOVER_TIMEOUT_MAX_USEC + TAKEOVER_GRACE_USEC;
        return run(arg_verb->name, args, timeout);
}
