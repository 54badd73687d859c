/* SPDX-License-Identifier: MIT */
/* Unit tests of daemon/log.c in its stderr mode: the exact "level: message"
 * line of every level, the ": strerror" suffix, the "(request ID)" suffix
 * (the only field rendered on stderr), the max-level filter, the level
 * names, the -abs(error) return value and errno preservation. stderr is a
 * packet-mode pipe (O_DIRECT) dup2()ed over fd 2 around each call, so every
 * write() arrives as one packet and "one write per line" is checked too.
 * JOURNAL_STREAM naming anything but fd 2 must fall back to stderr; the
 * journal path itself is only checked (nothing reaches stderr) when no
 * journald listens, so the tests never add entries to a real journal. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cdp/macro.h"
#include "log.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"

/* What reached fd 2 between capture_begin() and capture_end(). */
typedef struct Capture {
        int saved_fd;           /* the real stderr while captured, else -1 */
        int read_fd;
        char text[16384];       /* all packets, concatenated */
        size_t len;
        unsigned writes;        /* packets = write() calls */
} Capture;

static Capture cap = { .saved_fd = -1, .read_fd = -1 };

static void capture_begin(void) {
        int p[2];

        assert_int_equal(cap.saved_fd, -1);
        assert_int_equal(pipe2(p, O_CLOEXEC | O_DIRECT), 0);
        fflush(stderr);
        cap.saved_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        assert_true(cap.saved_fd >= 0);
        assert_int_equal(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
        assert_int_equal(close(p[1]), 0);
        cap.read_fd = p[0];
        cap.len = 0;
        cap.writes = 0;
        cap.text[0] = '\0';
}

/* Restores fd 2 without asserting: also called from teardown. */
static void capture_restore(void) {
        if (cap.saved_fd < 0)
                return;
        (void) dup2(cap.saved_fd, STDERR_FILENO);
        (void) close(cap.saved_fd);
        cap.saved_fd = -1;
}

/* Restores fd 2, then reads every packet (the write end is closed now, so
 * the read ends at EOF). */
static void capture_end(void) {
        capture_restore();
        assert_true(cap.read_fd >= 0);
        for (;;) {
                ssize_t k = read(cap.read_fd, cap.text + cap.len, sizeof(cap.text) - 1 - cap.len);

                assert_true(k >= 0);
                if (k == 0)
                        break;
                cap.len += (size_t) k;
                cap.writes++;
                assert_true(cap.len < sizeof(cap.text) - 1);
        }
        cap.text[cap.len] = '\0';
        (void) close(cap.read_fd);
        cap.read_fd = -1;
}

static int setup(void **state) {
        (void) state;
        (void) unsetenv("JOURNAL_STREAM");
        log_open();
        log_set_max_level(LOG_DEBUG);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        capture_restore();
        if (cap.read_fd >= 0) {
                (void) close(cap.read_fd);
                cap.read_fd = -1;
        }
        (void) unsetenv("JOURNAL_STREAM");
        log_open();
        log_set_max_level(LOG_INFO);
        return 0;
}

/* Runs first, before anything sets a level: info is the default. */
static void test_log__default_level__info_shown_debug_dropped(void **state) {
        (void) state;
        (void) unsetenv("JOURNAL_STREAM");
        log_open();
        capture_begin();
        log_debug("not shown %d", 1);
        log_info("shown %d", 2);
        capture_end();
        assert_string_equal(cap.text, "info: shown 2\n");
        assert_int_equal(cap.writes, 1);
}

static void test_log__each_level__exact_line(void **state) {
        static const struct {
                int level;
                const char *line;
        } cases[] = {
                { LOG_DEBUG, "debug: m 7\n" },   { LOG_INFO, "info: m 6\n" },
                { LOG_NOTICE, "notice: m 5\n" }, { LOG_WARNING, "warning: m 4\n" },
                { LOG_ERR, "error: m 3\n" },     { LOG_CRIT, "error: m 2\n" },
                { LOG_ALERT, "error: m 1\n" },   { LOG_EMERG, "error: m 0\n" },
        };
        int r;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                capture_begin();
                r = log_full_fields(cases[i].level, 0, NULL, "m %d", cases[i].level);
                capture_end();
                assert_int_equal(r, 0);
                assert_string_equal(cap.text, cases[i].line);
                assert_int_equal(cap.writes, 1);
        }
}

static void test_log__macros__level_and_format(void **state) {
        int r[7];

        (void) state;
        capture_begin();
        r[0] = log_debug("d %s", "x");
        r[1] = log_info("i %u", 42u);
        r[2] = log_notice("n %c", 'c');
        r[3] = log_warning("w %%");
        r[4] = log_error("e %05.1f", 2.5);
        r[5] = log_warning_errno(ENOENT, "we %s", "f");
        r[6] = log_error_errno(-EACCES, "ee");
        capture_end();
        assert_string_equal(cap.text,
                            "debug: d x\n"
                            "info: i 42\n"
                            "notice: n c\n"
                            "warning: w %\n"
                            "error: e 002.5\n"
                            "warning: we f: No such file or directory\n"
                            "error: ee: Permission denied\n");
        assert_int_equal(cap.writes, 7);
        for (size_t i = 0; i < 5; i++)
                assert_int_equal(r[i], 0);
        assert_int_equal(r[5], -ENOENT);
        assert_int_equal(r[6], -EACCES);
}

static void test_log__error__suffix_and_minus_abs_either_sign(void **state) {
        static const int errors[] = { EIO, -EIO, ENOSPC, -ENOSPC, EPERM, -EPERM };
        char want[256];
        int r;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(errors); i++) {
                int e = abs(errors[i]);

                capture_begin();
                r = log_full_fields(LOG_ERR, errors[i], NULL, "op %zu failed", i);
                capture_end();
                assert_int_equal(r, -e);
                snprintf(want, sizeof(want), "error: op %zu failed: %s\n", i, strerror(e));
                assert_string_equal(cap.text, want);
        }
        /* error 0: no suffix, returns 0 */
        capture_begin();
        r = log_full_fields(LOG_ERR, 0, NULL, "plain");
        capture_end();
        assert_int_equal(r, 0);
        assert_string_equal(cap.text, "error: plain\n");
}

static void test_log__fields__only_request_id_on_stderr(void **state) {
        const LogFields all = {
                .pattern = "bastion", .action = "StopInstances", .resource = "i-0123", .request_id = "req-42",
        };
        const LogFields no_req = { .pattern = "snapshot", .action = "CreateSnapshots", .resource = "vol-1" };
        const LogFields only_req = { .request_id = "8f1a-77" };
        int r;

        (void) state;
        capture_begin();
        r = log_full_fields(LOG_NOTICE, 0, &all, "stopping %s", "now");
        capture_end();
        assert_int_equal(r, 0);
        assert_string_equal(cap.text, "notice: stopping now (request req-42)\n");
        assert_int_equal(cap.writes, 1);

        capture_begin();
        r = log_full_fields(LOG_INFO, 0, &no_req, "snap");
        capture_end();
        assert_int_equal(r, 0);
        assert_string_equal(cap.text, "info: snap\n");

        /* errno suffix comes before the request id; one write */
        capture_begin();
        r = log_full_fields(LOG_WARNING, -ETIMEDOUT, &only_req, "call");
        capture_end();
        assert_int_equal(r, -ETIMEDOUT);
        assert_string_equal(cap.text, "warning: call: Connection timed out (request 8f1a-77)\n");
        assert_int_equal(cap.writes, 1);
}

static void test_log__max_level__filters_and_still_returns(void **state) {
        int r;

        (void) state;
        log_set_max_level(LOG_WARNING);
        capture_begin();
        assert_int_equal(log_debug("d"), 0);
        assert_int_equal(log_info("i"), 0);
        assert_int_equal(log_notice("n"), 0);
        r = log_full_fields(LOG_INFO, EBUSY, NULL, "filtered with error");
        (void) log_warning("w");
        (void) log_error("e");
        (void) log_full_fields(LOG_CRIT, 0, NULL, "c");
        capture_end();
        assert_int_equal(r, -EBUSY);            /* filtered, still -abs(error) */
        assert_string_equal(cap.text, "warning: w\nerror: e\nerror: c\n");
        assert_int_equal(cap.writes, 3);

        log_set_max_level(LOG_ERR);
        capture_begin();
        (void) log_warning("w");
        (void) log_error("e");
        capture_end();
        assert_string_equal(cap.text, "error: e\n");

        /* LOG_CRIT silences everything up to err (what the unit tests use) */
        log_set_max_level(LOG_CRIT);
        capture_begin();
        r = log_error_errno(-ENOMEM, "quiet");
        capture_end();
        assert_int_equal(r, -ENOMEM);
        assert_int_equal(cap.len, 0);

        log_set_max_level(LOG_DEBUG);
        capture_begin();
        (void) log_debug("back");
        capture_end();
        assert_string_equal(cap.text, "debug: back\n");
}

static void test_log__parse_level__accepted_names(void **state) {
        static const struct {
                const char *name;
                int level;
        } ok[] = {
                { "debug", LOG_DEBUG },     { "info", LOG_INFO }, { "notice", LOG_NOTICE },
                { "warning", LOG_WARNING }, { "err", LOG_ERR },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(ok); i++)
                assert_int_equal(log_parse_level(ok[i].name), ok[i].level);

        /* a parsed level used as the max level filters as its name says */
        log_set_max_level(log_parse_level("notice"));
        capture_begin();
        (void) log_info("i");
        (void) log_notice("n");
        capture_end();
        assert_string_equal(cap.text, "notice: n\n");
}

/* Exactly the config's names (lib/core/config.c parse_log_level): no
 * numbers, no case folding, no other syslog names, no whitespace. */
static void test_log__parse_level__rejects(void **state) {
        static const char *const bad[] = {
                "",      "error",  "warn",   "crit",   "alert",  "emerg",   "Info",     "INFO", "DEBUG",
                " info", "info ",  "info\n", "debu",   "debugx", "errx",    "0",        "3",    "6",
                "7",     "-1",     "8",      "notice,", "info=1", "warning\t", "LOG_INFO",
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = log_parse_level(bad[i]);

                if (r != -EINVAL)
                        fail_msg("log_parse_level(\"%s\") = %d, expected -EINVAL", bad[i], r);
        }
}

static void test_log__long_message__truncated_one_line(void **state) {
        char *big;
        int r;

        (void) state;
        big = malloc(5000);
        assert_non_null(big);
        memset(big, 'x', 4999);
        big[4999] = '\0';

        capture_begin();
        r = log_full_fields(LOG_WARNING, EIO, NULL, "%s", big);
        capture_end();
        assert_int_equal(r, -EIO);
        /* the message is cut at 2047 bytes (no room left for the suffix),
         * the line still ends with its newline and is one write */
        assert_int_equal(cap.len, strlen("warning: ") + 2047 + 1);
        assert_int_equal(cap.writes, 1);
        assert_memory_equal(cap.text, "warning: ", 9);
        assert_int_equal(strspn(cap.text + 9, "x"), 2047);
        assert_int_equal(cap.text[cap.len - 1], '\n');
        free(big);
}

/* A long message and a long request id overflow the line buffer: the line
 * is cut but still ends with its newline, so the next one does not run on. */
static void test_log__line_over_buffer__still_one_terminated_line(void **state) {
        LogFields f = {};
        char *big, *rid;

        (void) state;
        big = malloc(2100);
        rid = malloc(600);
        assert_non_null(big);
        assert_non_null(rid);
        memset(big, 'x', 2099);
        big[2099] = '\0';
        memset(rid, 'r', 599);
        rid[599] = '\0';
        f.request_id = rid;

        capture_begin();
        (void) log_full_fields(LOG_WARNING, 0, &f, "%s", big);
        (void) log_full_fields(LOG_WARNING, 0, NULL, "next");
        capture_end();
        assert_int_equal(cap.writes, 2);
        assert_true(cap.len > 2000);
        assert_int_equal(cap.text[cap.len - 1], '\n');
        assert_non_null(memchr(cap.text, '\n', cap.len));
        assert_ptr_equal(memchr(cap.text, '\n', cap.len), cap.text + cap.len - strlen("warning: next\n") - 1);
        assert_memory_equal(cap.text + cap.len - strlen("warning: next\n"), "warning: next\n",
                            strlen("warning: next\n"));
        assert_int_equal(log_parse_level(NULL), -EINVAL);
        free(big);
        free(rid);
}

static void test_log__errno__preserved(void **state) {
        int saved_fd, r;

        (void) state;
        /* a failing write (fd 2 closed) must not leak its EBADF */
        fflush(stderr);
        saved_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        assert_true(saved_fd >= 0);
        (void) close(STDERR_FILENO);
        errno = EDOM;
        r = log_error_errno(EIO, "to nowhere");
        int e1 = errno;
        errno = ERANGE;
        (void) log_info("to nowhere");
        int e2 = errno;
        assert_int_equal(dup2(saved_fd, STDERR_FILENO), STDERR_FILENO);
        (void) close(saved_fd);
        assert_int_equal(r, -EIO);
        assert_int_equal(e1, EDOM);
        assert_int_equal(e2, ERANGE);

        /* and on the normal and the filtered path */
        capture_begin();
        errno = EXDEV;
        (void) log_warning_errno(ENOENT, "x");
        int e3 = errno;
        log_set_max_level(LOG_ERR);
        errno = ENOTTY;
        (void) log_debug("filtered");
        int e4 = errno;
        capture_end();
        assert_int_equal(e3, EXDEV);
        assert_int_equal(e4, ENOTTY);
        assert_string_equal(cap.text, "warning: x: No such file or directory\n");
}

/* JOURNAL_STREAM=<dev>:<ino> of fd 2, as fstat() sees it. */
static void journal_stream_of_stderr(char *buf, size_t size, long long dev_delta, long long ino_delta) {
        struct stat st;

        assert_int_equal(fstat(STDERR_FILENO, &st), 0);
        snprintf(buf, size, "%llu:%llu", (unsigned long long) st.st_dev + (unsigned long long) dev_delta,
                 (unsigned long long) st.st_ino + (unsigned long long) ino_delta);
}

static void test_log__journal_stream_mismatch__stderr(void **state) {
        char v[64];
        const char *garbage[] = { "", "garbage", "12", ":", "1:", "x:1", "1:2", "18446744073709551615:1" };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(garbage); i++) {
                capture_begin();
                setenv("JOURNAL_STREAM", garbage[i], 1);
                log_open();
                (void) log_info("g%zu", i);
                capture_end();
                snprintf(v, sizeof(v), "info: g%zu\n", i);
                assert_string_equal(cap.text, v);
        }

        /* the right inode on another device, the right device with another
         * inode: not the journal */
        capture_begin();
        journal_stream_of_stderr(v, sizeof(v), 1, 0);
        setenv("JOURNAL_STREAM", v, 1);
        log_open();
        (void) log_notice("dev differs");
        journal_stream_of_stderr(v, sizeof(v), 0, 1);
        setenv("JOURNAL_STREAM", v, 1);
        log_open();
        (void) log_notice("ino differs");
        capture_end();
        assert_string_equal(cap.text, "notice: dev differs\nnotice: ino differs\n");

        /* log_open() reads the environment only when called */
        capture_begin();
        unsetenv("JOURNAL_STREAM");
        log_open();
        (void) log_info("back");
        capture_end();
        assert_string_equal(cap.text, "info: back\n");
}

/* With JOURNAL_STREAM naming fd 2 the line goes to the journal, not to
 * stderr. Only run when no journald listens (the entry is then dropped),
 * so a developer's journal gets nothing. */
static void test_log__journal_stream_match__not_on_stderr(void **state) {
        char v[64];
        int r;

        (void) state;
        if (access(JOURNAL_SOCKET, F_OK) == 0)
                skip();
        capture_begin();
        journal_stream_of_stderr(v, sizeof(v), 0, 0);
        setenv("JOURNAL_STREAM", v, 1);
        log_open();
        errno = EILSEQ;
        r = log_full_fields(LOG_ERR, ENOENT, &(const LogFields) { .request_id = "r1" }, "to the journal");
        int e = errno;
        unsetenv("JOURNAL_STREAM");
        log_open();
        (void) log_info("after");
        capture_end();
        assert_int_equal(r, -ENOENT);
        assert_int_equal(e, EILSEQ);
        assert_string_equal(cap.text, "info: after\n");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_log__default_level__info_shown_debug_dropped, teardown),
                cmocka_unit_test_setup_teardown(test_log__each_level__exact_line, setup, teardown),
                cmocka_unit_test_setup_teardown(test_log__macros__level_and_format, setup, teardown),
                cmocka_unit_test_setup_teardown(test_log__error__suffix_and_minus_abs_either_sign, setup, teardown),
                cmocka_unit_test_setup_teardown(test_log__fields__only_request_id_on_stderr, setup, teardown),
                cmocka_unit_test_setup_teardown(test_log__max_level__filters_and_still_returns, setup, teardown),
                cmocka_unit_test_setup_teardown(test_log__parse_level__accepted_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_log__parse_level__rejects, setup, teardown),
                cmocka_unit_test_setup_teardown(test_log__long_message__truncated_one_line, setup, teardown),
                cmocka_unit_test_setup_teardown(test_log__line_over_buffer__still_one_terminated_line, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_log__errno__preserved, setup, teardown),
                cmocka_unit_test_setup_teardown(test_log__journal_stream_mismatch__stderr, setup, teardown),
                cmocka_unit_test_setup_teardown(test_log__journal_stream_match__not_on_stderr, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
