/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/io/hooks.c: which files run, in what order, with what
 * environment, and the time limit. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <systemd/sd-event.h>

#include "cdp/hooks.h"

typedef struct Run {
        char dir[64];
        char out[128];
        bool done;
        unsigned n_run, n_failed;
        char results[512];
} Run;

static void write_hook(Run *r, const char *name, const char *body, mode_t mode) {
        char path[256];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", r->dir, name);
        f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "#!/bin/sh\n%s\n", body);
        fclose(f);
        assert_int_equal(chmod(path, mode), 0);
}

static void on_result(const char *name, int status, void *userdata) {
        Run *r = userdata;
        size_t n = strlen(r->results);

        snprintf(r->results + n, sizeof(r->results) - n, "%s=%d;", name, status);
}

static void on_done(unsigned n_run, unsigned n_failed, void *userdata) {
        Run *r = userdata;

        r->done = true;
        r->n_run = n_run;
        r->n_failed = n_failed;
}

static char *slurp(const char *path) {
        static char buf[4096];
        FILE *f = fopen(path, "r");
        size_t n;

        if (!f)
                return NULL;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        return buf;
}

static int setup(void **state) {
        Run *r = calloc(1, sizeof(Run));
        sigset_t mask;

        strcpy(r->dir, "/tmp/cdp-hooks-XXXXXX");
        assert_non_null(mkdtemp(r->dir));
        snprintf(r->out, sizeof(r->out), "%s.out", r->dir);
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        *state = r;
        return 0;
}

static int teardown(void **state) {
        Run *r = *state;
        char cmd[256];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", r->dir, r->out);
        assert_int_equal(system(cmd), 0);
        free(r);
        return 0;
}

static void run_all(Run *r, const char *const *env, uint64_t timeout) {
        sd_event *e = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(hooks_run(e, r->dir, "tags-changed", env, timeout, on_result, on_done, r, NULL), 0);
        assert_false(r->done); /* never from inside hooks_run() */
        while (!r->done)
                assert_true(sd_event_run(e, 5 * USEC_PER_SEC) >= 0);
        sd_event_unref(e);
}

static void test_hooks__order_and_environment__lexical_with_cdp_event(void **state) {
        Run *r = *state;
        char body[256];
        const char *env[] = { "CDP_INSTANCE_ID=i-0123456789abcdef0", NULL };

        snprintf(body, sizeof(body), "echo \"b $CDP_EVENT $CDP_INSTANCE_ID ${HOME:-nohome}\" >> %s", r->out);
        write_hook(r, "20-b", body, 0755);
        snprintf(body, sizeof(body), "echo a >> %s", r->out);
        write_hook(r, "10-a", body, 0755);
        run_all(r, env, 5 * USEC_PER_SEC);
        assert_int_equal(r->n_run, 2);
        assert_int_equal(r->n_failed, 0);
        assert_string_equal(slurp(r->out), "a\nb tags-changed i-0123456789abcdef0 nohome\n");
        assert_string_equal(r->results, "10-a=0;20-b=0;");
}

static void test_hooks__unsafe_files__skipped(void **state) {
        Run *r = *state;
        char body[256];

        snprintf(body, sizeof(body), "echo ran-$0 >> %s", r->out);
        write_hook(r, "ok", body, 0755);
        write_hook(r, "world-writable", body, 0757);
        write_hook(r, "group-writable", body, 0775);
        write_hook(r, "not-executable", body, 0644);
        write_hook(r, ".hidden", body, 0755);
        write_hook(r, "backup~", body, 0755);
        write_hook(r, "x.dpkg-old", body, 0755);
        run_all(r, NULL, 5 * USEC_PER_SEC);
        assert_int_equal(r->n_run, 1);
        assert_non_null(strstr(slurp(r->out), "/ok\n"));
        assert_null(strstr(slurp(r->out), "writable"));
}

static void test_hooks__failure_and_timeout__reported_not_fatal(void **state) {
        Run *r = *state;
        char body[256];

        write_hook(r, "1-fails", "exit 3", 0755);
        write_hook(r, "2-hangs", "sleep 30", 0755);
        snprintf(body, sizeof(body), "echo after >> %s", r->out);
        write_hook(r, "3-after", body, 0755);
        run_all(r, NULL, 300 * USEC_PER_MSEC);
        assert_int_equal(r->n_run, 3);
        assert_int_equal(r->n_failed, 2);
        assert_string_equal(r->results, "1-fails=3;2-hangs=-110;3-after=0;");
        assert_string_equal(slurp(r->out), "after\n");
}

static void test_hooks__missing_dir__done_with_none(void **state) {
        Run *r = *state;

        assert_int_equal(rmdir(r->dir), 0);
        run_all(r, NULL, USEC_PER_SEC);
        assert_int_equal(r->n_run, 0);
        assert_int_equal(mkdir(r->dir, 0700), 0);
}

static void test_hooks__cancel__kills_and_no_callback(void **state) {
        Run *r = *state;
        sd_event *e = NULL;
        HookRun *h = NULL;

        write_hook(r, "hangs", "sleep 30", 0755);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(hooks_run(e, r->dir, "x", NULL, 30 * USEC_PER_SEC, on_result, on_done, r, &h), 0);
        assert_true(sd_event_run(e, 100 * USEC_PER_MSEC) >= 0);
        hooks_cancel(h);
        assert_true(sd_event_run(e, 100 * USEC_PER_MSEC) >= 0);
        assert_false(r->done);
        assert_string_equal(r->results, "");
        sd_event_unref(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_hooks__order_and_environment__lexical_with_cdp_event, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_hooks__unsafe_files__skipped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hooks__failure_and_timeout__reported_not_fatal, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hooks__missing_dir__done_with_none, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hooks__cancel__kills_and_no_callback, setup, teardown),
        };
        return cmocka_run_group_tests_name("hooks", tests, NULL, NULL);
}
