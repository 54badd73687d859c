/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/io/freeze.c (FreezeSet over FreezeOps).
 *
 * The first group drives a FreezeSet through a fake FreezeOps that models the
 * kernel's rules (a frozen file system refuses a second FIFREEZE with -EBUSY,
 * thawing a thawed one is success) and records every call, so order, handles
 * and error paths can be checked.
 *
 * The second group uses the real ioctls on a throw-away ext4 image,
 * loop-mounted in a mkdtemp directory. It needs root, mkfs.ext4 and loop
 * mounts; without them each of those tests is skipped. The fixture's teardown
 * always thaws (FreezeSet, then `fsfreeze -u` defensively), reaps the writer
 * children, unmounts and removes everything, whatever the test did.
 * "Frozen" is observed from outside: a forked writer (create, write, fsync)
 * must still be running after 200 ms, asleep in the kernel ('D'), and finish
 * once thawed.
 *
 * Under valgrind, memcheck flags freeze.c's ioctl(fd, FIFREEZE/FITHAW, 0)
 * ("Syscall param ioctl(generic) points to unaddressable byte(s)": it takes
 * the _IOWR(int) encoding at its word; the kernel ignores the argument).
 * Suppress Memcheck:Param ioctl(generic) under fun:real_freeze / real_thaw. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cdp/freeze.h"

/* ---- fake FreezeOps ---------------------------------------------------- */

#define FAKE_MAX_CALLS 32
#define FAKE_MAX_RULES 8
#define FAKE_MAX_FROZEN 8

typedef struct FakeCall {
        char op;                        /* 'F' freeze, 'T' thaw */
        char path[PATH_MAX];
        int fd;                         /* handle returned (F) or received (T) */
} FakeCall;

typedef struct FakeRule {
        char op;
        const char *path;
        int error;
} FakeRule;

typedef struct FakeFs {
        FreezeOps ops;
        FakeCall calls[FAKE_MAX_CALLS];
        size_t n_calls;
        FakeRule rules[FAKE_MAX_RULES];
        size_t n_rules;
        /* The "kernel": which paths are frozen and by which handle (-1 =
         * frozen by someone else). */
        char frozen[FAKE_MAX_FROZEN][PATH_MAX];
        int frozen_fd[FAKE_MAX_FROZEN];
        size_t n_frozen;
        int next_fd;
        int open_handles;               /* freeze successes minus thaws */
} FakeFs;

static int fake_rule(const FakeFs *f, char op, const char *path) {
        for (size_t i = 0; i < f->n_rules; i++)
                if (f->rules[i].op == op && strcmp(f->rules[i].path, path) == 0)
                        return f->rules[i].error;
        return 0;
}

static ssize_t fake_find_frozen(const FakeFs *f, const char *path) {
        for (size_t i = 0; i < f->n_frozen; i++)
                if (strcmp(f->frozen[i], path) == 0)
                        return (ssize_t) i;
        return -1;
}

static void fake_record(FakeFs *f, char op, const char *path, int fd) {
        assert_true(f->n_calls < FAKE_MAX_CALLS);
        assert_true(strlen(path) < PATH_MAX);
        f->calls[f->n_calls].op = op;
        strcpy(f->calls[f->n_calls].path, path);
        f->calls[f->n_calls].fd = fd;
        f->n_calls++;
}

static void fake_mark_frozen(FakeFs *f, const char *path, int fd) {
        assert_true(f->n_frozen < FAKE_MAX_FROZEN);
        strcpy(f->frozen[f->n_frozen], path);
        f->frozen_fd[f->n_frozen] = fd;
        f->n_frozen++;
}

static void fake_unmark_frozen(FakeFs *f, size_t i) {
        f->n_frozen--;
        if (i != f->n_frozen) {
                memmove(f->frozen[i], f->frozen[f->n_frozen], sizeof(f->frozen[i]));
                f->frozen_fd[i] = f->frozen_fd[f->n_frozen];
        }
}

static int fake_freeze(const char *path, int *ret_fd, void *userdata) {
        FakeFs *f = userdata;
        int r;

        assert_non_null(path);
        assert_non_null(ret_fd);
        r = fake_rule(f, 'F', path);
        if (r == 0 && fake_find_frozen(f, path) >= 0)
                r = -EBUSY;
        if (r < 0) {
                fake_record(f, 'F', path, -1);
                return r;
        }
        *ret_fd = f->next_fd++;
        fake_mark_frozen(f, path, *ret_fd);
        f->open_handles++;
        fake_record(f, 'F', path, *ret_fd);
        return 0;
}

static int fake_thaw(const char *path, int fd, void *userdata) {
        FakeFs *f = userdata;
        ssize_t i;

        assert_non_null(path);
        fake_record(f, 'T', path, fd);
        f->open_handles--;
        i = fake_find_frozen(f, path);
        /* The handle must be the one our freeze handed out for this path. */
        if (i >= 0 && f->frozen_fd[i] != fd)
                fail_msg("thaw of %s with handle %d, but it was frozen with %d", path, fd, f->frozen_fd[i]);
        if (i >= 0)
                fake_unmark_frozen(f, (size_t) i);
        return fake_rule(f, 'T', path);
}

static int fake_setup(void **state) {
        FakeFs *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        f->ops = (FreezeOps) { .freeze = fake_freeze, .thaw = fake_thaw, .userdata = f };
        f->next_fd = 100;
        *state = f;
        return 0;
}

static int fake_teardown(void **state) {
        free(*state);
        return 0;
}

static void fake_fail(FakeFs *f, char op, const char *path, int error) {
        assert_true(f->n_rules < FAKE_MAX_RULES);
        f->rules[f->n_rules++] = (FakeRule) { .op = op, .path = path, .error = error };
}

static void assert_call(const FakeFs *f, size_t i, char op, const char *path) {
        if (i >= f->n_calls)
                fail_msg("call %zu (%c %s) missing, only %zu calls", i, op, path, f->n_calls);
        if (f->calls[i].op != op || strcmp(f->calls[i].path, path) != 0)
                fail_msg("call %zu: expected %c %s, got %c %s", i, op, path, f->calls[i].op, f->calls[i].path);
}

static const char *const three[] = { "/srv/a", "/srv/b", "/srv/c" };

/* ---- construction ------------------------------------------------------ */

static void test_new__bad_arguments__einval(void **state) {
        FakeFs *f = *state;
        FreezeSet *s = NULL;
        const char *const with_null[] = { "/srv/a", NULL };

        assert_int_equal(freeze_set_new(three, 3, &f->ops, NULL), -EINVAL);
        assert_int_equal(freeze_set_new(NULL, 1, &f->ops, &s), -EINVAL);
        assert_null(s);
        assert_int_equal(freeze_set_new(with_null, 2, &f->ops, &s), -EINVAL);
        assert_null(s);
        assert_int_equal(f->n_calls, 0);
}

static void test_new__empty_set__freeze_and_thaw_do_nothing(void **state) {
        FakeFs *f = *state;
        _cleanup_(freeze_set_freep) FreezeSet *s = NULL;

        assert_int_equal(freeze_set_new(NULL, 0, &f->ops, &s), 0);
        assert_non_null(s);
        assert_int_equal(freeze_set_size(s), 0);
        assert_int_equal(freeze_set_freeze(s, NULL), 0);
        assert_false(freeze_set_is_frozen(s));
        assert_int_equal(freeze_set_thaw(s, NULL), 0);
        assert_int_equal(f->n_calls, 0);
}

static void test_new__paths_are_copied(void **state) {
        FakeFs *f = *state;
        _cleanup_(freeze_set_freep) FreezeSet *s = NULL;
        char a[] = "/srv/a", b[] = "/srv/b";
        const char *paths[] = { a, b };

        assert_int_equal(freeze_set_new(paths, 2, &f->ops, &s), 0);
        assert_int_equal(freeze_set_size(s), 2);
        a[1] = 'X';
        b[1] = 'X';
        paths[0] = paths[1] = "/changed";
        assert_int_equal(freeze_set_freeze(s, NULL), 0);
        assert_call(f, 0, 'F', "/srv/a");
        assert_call(f, 1, 'F', "/srv/b");
}

static void test_null_set__accessors_and_thaw_are_safe(void **state) {
        const char *path = "untouched";

        (void) state;
        assert_false(freeze_set_is_frozen(NULL));
        assert_int_equal(freeze_set_size(NULL), 0);
        assert_int_equal(freeze_set_thaw(NULL, &path), 0);
        assert_int_equal(freeze_set_freeze(NULL, &path), -EINVAL);
        assert_string_equal(path, "untouched");
        assert_null(freeze_set_free(NULL));
}

/* ---- freeze ------------------------------------------------------------- */

static void test_freeze__all__in_order_then_thaw_in_reverse_with_same_handles(void **state) {
        FakeFs *f = *state;
        _cleanup_(freeze_set_freep) FreezeSet *s = NULL;
        const char *err = "untouched";

        assert_int_equal(freeze_set_new(three, 3, &f->ops, &s), 0);
        assert_int_equal(freeze_set_size(s), 3);
        assert_false(freeze_set_is_frozen(s));

        assert_int_equal(freeze_set_freeze(s, &err), 0);
        assert_string_equal(err, "untouched");
        assert_true(freeze_set_is_frozen(s));
        assert_int_equal(f->n_calls, 3);
        assert_call(f, 0, 'F', "/srv/a");
        assert_call(f, 1, 'F', "/srv/b");
        assert_call(f, 2, 'F', "/srv/c");
        assert_int_equal(f->n_frozen, 3);

        assert_int_equal(freeze_set_thaw(s, &err), 0);
        assert_string_equal(err, "untouched");
        assert_false(freeze_set_is_frozen(s));
        assert_int_equal(f->n_calls, 6);
        assert_call(f, 3, 'T', "/srv/c");
        assert_call(f, 4, 'T', "/srv/b");
        assert_call(f, 5, 'T', "/srv/a");
        /* Each thaw got the handle its freeze returned (also checked in the fake). */
        assert_int_equal(f->calls[3].fd, f->calls[2].fd);
        assert_int_equal(f->calls[4].fd, f->calls[1].fd);
        assert_int_equal(f->calls[5].fd, f->calls[0].fd);
        assert_int_equal(f->n_frozen, 0);
        assert_int_equal(f->open_handles, 0);
        assert_int_equal(freeze_set_size(s), 3);
}

static void test_freeze__already_frozen__ealready_and_no_calls(void **state) {
        FakeFs *f = *state;
        _cleanup_(freeze_set_freep) FreezeSet *s = NULL;

        assert_int_equal(freeze_set_new(three, 3, &f->ops, &s), 0);
        assert_int_equal(freeze_set_freeze(s, NULL), 0);
        assert_int_equal(f->n_calls, 3);
        assert_int_equal(freeze_set_freeze(s, NULL), -EALREADY);
        assert_int_equal(f->n_calls, 3);
        assert_true(freeze_set_is_frozen(s));
}

static void test_freeze__second_of_three_fails__first_thawed_and_error_names_path(void **state) {
        FakeFs *f = *state;
        _cleanup_(freeze_set_freep) FreezeSet *s = NULL;
        const char *err = NULL;

        fake_fail(f, 'F', "/srv/b", -EOPNOTSUPP);
        assert_int_equal(freeze_set_new(three, 3, &f->ops, &s), 0);
        assert_int_equal(freeze_set_freeze(s, &err), -EOPNOTSUPP);
        assert_non_null(err);
        assert_string_equal(err, "/srv/b");
        assert_false(freeze_set_is_frozen(s));

        assert_int_equal(f->n_calls, 3);
        assert_call(f, 0, 'F', "/srv/a");
        assert_call(f, 1, 'F', "/srv/b");
        assert_call(f, 2, 'T', "/srv/a");
        assert_int_equal(f->calls[2].fd, f->calls[0].fd);
        assert_int_equal(f->n_frozen, 0);
        assert_int_equal(f->open_handles, 0);

        /* Nothing left to thaw: no further calls. */
        assert_int_equal(freeze_set_thaw(s, NULL), 0);
        assert_int_equal(f->n_calls, 3);
}

static void test_freeze__first_fails__nothing_thawed(void **state) {
        FakeFs *f = *state;
        _cleanup_(freeze_set_freep) FreezeSet *s = NULL;
        const char *err = NULL;

        fake_fail(f, 'F', "/srv/a", -EPERM);
        assert_int_equal(freeze_set_new(three, 3, &f->ops, &s), 0);
        assert_int_equal(freeze_set_freeze(s, &err), -EPERM);
        assert_string_equal(err, "/srv/a");
        assert_int_equal(f->n_calls, 1);
        assert_call(f, 0, 'F', "/srv/a");
        assert_false(freeze_set_is_frozen(s));
}

static void test_freeze__last_fails__earlier_ones_thawed_in_reverse(void **state) {
        FakeFs *f = *state;
        _cleanup_(freeze_set_freep) FreezeSet *s = NULL;
        const char *err = NULL;

        fake_fail(f, 'F', "/srv/c", -ENOENT);
        assert_int_equal(freeze_set_new(three, 3, &f->ops, &s), 0);
        assert_int_equal(freeze_set_freeze(s, &err), -ENOENT);
        assert_string_equal(err, "/srv/c");
        assert_int_equal(f->n_calls, 5);
        assert_call(f, 3, 'T', "/srv/b");
        assert_call(f, 4, 'T', "/srv/a");
        assert_int_equal(f->n_frozen, 0);
}

static void test_freeze__after_failure__can_be_retried(void **state) {
        FakeFs *f = *state;
        _cleanup_(freeze_set_freep) FreezeSet *s = NULL;

        fake_fail(f, 'F', "/srv/b", -EIO);
        assert_int_equal(freeze_set_new(three, 3, &f->ops, &s), 0);
        assert_int_equal(freeze_set_freeze(s, NULL), -EIO);
        f->n_rules = 0;
        f->n_calls = 0;
        assert_int_equal(freeze_set_freeze(s, NULL), 0);
        assert_true(freeze_set_is_frozen(s));
        assert_int_equal(f->n_calls, 3);
        assert_int_equal(f->n_frozen, 3);
}

static void test_freeze__frozen_by_someone_else__ebusy_and_never_thawed_by_us(void **state) {
        FakeFs *f = *state;
        _cleanup_(freeze_set_freep) FreezeSet *s = NULL;
        const char *err = NULL;

        /* /srv/b was frozen by another tool (no handle of ours). */
        fake_mark_frozen(f, "/srv/b", -1);
        assert_int_equal(freeze_set_new(three, 3, &f->ops, &s), 0);
        assert_int_equal(freeze_set_freeze(s, &err), -EBUSY);
        assert_string_equal(err, "/srv/b");
        assert_call(f, 0, 'F', "/srv/a");
        assert_call(f, 1, 'F', "/srv/b");
        assert_call(f, 2, 'T', "/srv/a");
        assert_int_equal(f->n_calls, 3);
        /* Still frozen, by its owner. */
        assert_int_equal(f->n_frozen, 1);
        assert_string_equal(f->frozen[0], "/srv/b");

        assert_int_equal(freeze_set_thaw(s, NULL), 0);
        s = freeze_set_free(s);
        assert_int_equal(f->n_calls, 3);
        assert_int_equal(f->n_frozen, 1);
}

/* The same path twice (also spelled with a trailing slash) is listed once:
 * the kernel would refuse the second FIFREEZE (-EBUSY) and fail every
 * freeze. */
static void test_freeze__duplicate_path__listed_once(void **state) {
        FakeFs *f = *state;
        _cleanup_(freeze_set_freep) FreezeSet *s = NULL;
        const char *const dup[] = { "/srv/a", "/srv/a/", "/srv/b", "/srv/a" };
        const char *err = NULL;

        assert_int_equal(freeze_set_new(dup, 4, &f->ops, &s), 0);
        assert_int_equal(freeze_set_size(s), 2);
        assert_int_equal(freeze_set_freeze(s, &err), 0);
        assert_null(err);
        assert_int_equal(f->n_calls, 2);
        assert_call(f, 0, 'F', "/srv/a");
        assert_call(f, 1, 'F', "/srv/b");
        assert_int_equal(freeze_set_thaw(s, NULL), 0);
        assert_int_equal(f->n_frozen, 0);
}

/* freeze.c passes paths to the ops as given, less trailing slashes; the
 * mount point check is the real ops' (see the real test on a subdirectory
 * below), relative paths are config.c's to refuse. */
static void test_freeze__relative_and_odd_paths__passed_through(void **state) {
        FakeFs *f = *state;
        _cleanup_(freeze_set_freep) FreezeSet *s = NULL;
        const char *const odd[] = { "relative/dir", "/srv/a/", "/srv/a/sub" };

        assert_int_equal(freeze_set_new(odd, 3, &f->ops, &s), 0);
        assert_int_equal(freeze_set_freeze(s, NULL), 0);
        assert_call(f, 0, 'F', "relative/dir");
        assert_call(f, 1, 'F', "/srv/a");
        assert_call(f, 2, 'F', "/srv/a/sub");
        assert_int_equal(freeze_set_thaw(s, NULL), 0);
        assert_call(f, 3, 'T', "/srv/a/sub");
        assert_call(f, 4, 'T', "/srv/a");
        assert_call(f, 5, 'T', "relative/dir");
}

/* ---- thaw ----------------------------------------------------------------- */

static void test_thaw__one_fails__all_others_thawed_and_error_names_path(void **state) {
        FakeFs *f = *state;
        _cleanup_(freeze_set_freep) FreezeSet *s = NULL;
        const char *err = NULL;

        fake_fail(f, 'T', "/srv/b", -EIO);
        assert_int_equal(freeze_set_new(three, 3, &f->ops, &s), 0);
        assert_int_equal(freeze_set_freeze(s, NULL), 0);
        assert_int_equal(freeze_set_thaw(s, &err), -EIO);
        assert_non_null(err);
        assert_string_equal(err, "/srv/b");
        assert_int_equal(f->n_calls, 6);
        assert_call(f, 3, 'T', "/srv/c");
        assert_call(f, 4, 'T', "/srv/b");
        assert_call(f, 5, 'T', "/srv/a");
        assert_int_equal(f->open_handles, 0);
        /* Not frozen any more and not retried: its handle is gone. */
        assert_false(freeze_set_is_frozen(s));
        err = "untouched";
        assert_int_equal(freeze_set_thaw(s, &err), 0);
        assert_string_equal(err, "untouched");
        assert_int_equal(f->n_calls, 6);
}

static void test_thaw__two_fail__first_in_thaw_order_reported(void **state) {
        FakeFs *f = *state;
        _cleanup_(freeze_set_freep) FreezeSet *s = NULL;
        const char *err = NULL;

        fake_fail(f, 'T', "/srv/a", -EIO);
        fake_fail(f, 'T', "/srv/c", -EPERM);
        assert_int_equal(freeze_set_new(three, 3, &f->ops, &s), 0);
        assert_int_equal(freeze_set_freeze(s, NULL), 0);
        /* Reverse order: /srv/c is thawed (and fails) first. */
        assert_int_equal(freeze_set_thaw(s, &err), -EPERM);
        assert_string_equal(err, "/srv/c");
        assert_int_equal(f->n_calls, 6);
        assert_false(freeze_set_is_frozen(s));
}

static void test_thaw__twice__second_is_noop(void **state) {
        FakeFs *f = *state;
        _cleanup_(freeze_set_freep) FreezeSet *s = NULL;

        assert_int_equal(freeze_set_new(three, 3, &f->ops, &s), 0);
        assert_int_equal(freeze_set_thaw(s, NULL), 0);     /* never frozen */
        assert_int_equal(f->n_calls, 0);
        assert_int_equal(freeze_set_freeze(s, NULL), 0);
        assert_int_equal(freeze_set_thaw(s, NULL), 0);
        assert_int_equal(freeze_set_thaw(s, NULL), 0);
        assert_int_equal(f->n_calls, 6);
}

static void test_thaw__then_freeze_again__works(void **state) {
        FakeFs *f = *state;
        _cleanup_(freeze_set_freep) FreezeSet *s = NULL;

        assert_int_equal(freeze_set_new(three, 3, &f->ops, &s), 0);
        for (int round = 0; round < 3; round++) {
                assert_int_equal(freeze_set_freeze(s, NULL), 0);
                assert_true(freeze_set_is_frozen(s));
                assert_int_equal(freeze_set_thaw(s, NULL), 0);
                assert_false(freeze_set_is_frozen(s));
        }
        assert_int_equal(f->n_calls, 18);
        assert_int_equal(f->open_handles, 0);
}

static void test_free__frozen_set__thaws_everything(void **state) {
        FakeFs *f = *state;
        FreezeSet *s = NULL;

        assert_int_equal(freeze_set_new(three, 3, &f->ops, &s), 0);
        assert_int_equal(freeze_set_freeze(s, NULL), 0);
        assert_null(freeze_set_free(s));
        assert_int_equal(f->n_calls, 6);
        assert_call(f, 3, 'T', "/srv/c");
        assert_call(f, 5, 'T', "/srv/a");
        assert_int_equal(f->n_frozen, 0);
        assert_int_equal(f->open_handles, 0);
}

/* ---- real ops without freezing anything --------------------------------- */

/* One real freeze attempt on path with the real ops; *ret_err gets a copy of
 * the path the error named. */
static int real_freeze_once(const char *path, const FreezeOps *ops, char *ret_err, size_t n_err) {
        _cleanup_(freeze_set_freep) FreezeSet *s = NULL;
        const char *const paths[] = { path };
        const char *err = NULL;
        int r;

        r = freeze_set_new(paths, 1, ops, &s);
        if (r < 0)
                return r;
        r = freeze_set_freeze(s, &err);
        if (freeze_set_is_frozen(s))
                fail_msg("%s is frozen after a failed freeze", path);
        snprintf(ret_err, n_err, "%s", err ? err : "(null)");
        return r;
}

/* These paths cannot be opened, so no FIFREEZE is ever issued: safe as any
 * user. NULL ops means the real ones. */
static void test_real_ops__unopenable_paths__errno_and_path(void **state) {
        char dir[] = "/tmp/cdp-test-freeze-XXXXXX", missing[64], file[64], err1[64], err2[64];
        int fd, r1, r2;

        (void) state;
        assert_non_null(freeze_ops_real());
        assert_non_null(freeze_ops_real()->freeze);
        assert_non_null(freeze_ops_real()->thaw);
        assert_non_null(mkdtemp(dir));
        snprintf(missing, sizeof(missing), "%s/missing", dir);
        snprintf(file, sizeof(file), "%s/file", dir);
        fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        if (fd >= 0)
                close(fd);
        r1 = real_freeze_once(missing, NULL, err1, sizeof(err1));
        r2 = real_freeze_once(file, freeze_ops_real(), err2, sizeof(err2));
        (void) unlink(file);
        (void) rmdir(dir);

        assert_true(fd >= 0);
        assert_int_equal(r1, -ENOENT);
        assert_string_equal(err1, missing);
        assert_int_equal(r2, -ENOTDIR);
        assert_string_equal(err2, file);
}

/* ---- real ops on a loop-mounted ext4 -------------------------------------- */

#define MAX_WRITERS 4
#define WNAME "during"   /* the file of the writer that runs into a freeze */

typedef struct Loop {
        bool skip;
        char dir[64];
        char img[96];
        char mnt[96];
        char tmpfs[96];
        bool mounted;
        bool tmpfs_mounted;
        pid_t writers[MAX_WRITERS];
        unsigned n_writers;
        FreezeSet *set;
} Loop;

/* Runs a shell command with its output discarded; 0 if it exited 0. */
static int run_quiet(const char *fmt, ...) _printf_(1, 2);
static int run_quiet(const char *fmt, ...) {
        char cmd[512], line[560];
        va_list ap;
        int n, r;

        va_start(ap, fmt);
        n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= sizeof(cmd))
                return -1;
        snprintf(line, sizeof(line), "{ %s; } >/dev/null 2>&1", cmd);
        r = system(line);
        return r == 0 ? 0 : -1;
}

static void writers_kill(Loop *l) {
        for (unsigned i = 0; i < l->n_writers; i++) {
                if (l->writers[i] <= 0)
                        continue;
                (void) kill(l->writers[i], SIGKILL);
                (void) waitpid(l->writers[i], NULL, 0);
                l->writers[i] = 0;
        }
        l->n_writers = 0;
}

/* umount, or if something still holds the file system (a handle leaked by
 * the code under test), detach it lazily: it and its loop device (autoclear)
 * go away when this process exits. The failure is still reported. */
static int unmount_path(const char *path) {
        if (run_quiet("umount '%s'", path) == 0)
                return 0;
        fprintf(stderr, "cleanup: cannot unmount %s (busy?), detaching it lazily\n", path);
        (void) run_quiet("umount -l '%s'", path);
        return -1;
}

/* Undoes whatever loop_setup() and the test left: thaws first (a writer
 * blocked on a frozen file system cannot even be killed, and umount would
 * fail), reaps the writers, unmounts (mount -o loop sets autoclear, so the
 * loop device goes too) and removes the directory. -1 if anything stays. */
static int loop_cleanup(Loop *l) {
        int r = 0;

        l->set = freeze_set_free(l->set);
        if (l->mounted)
                (void) run_quiet("fsfreeze -u '%s'", l->mnt);
        writers_kill(l);
        if (l->tmpfs_mounted && unmount_path(l->tmpfs) < 0)
                r = -1;
        l->tmpfs_mounted = false;
        if (l->mounted && unmount_path(l->mnt) < 0)
                r = -1;
        l->mounted = false;
        if (l->dir[0]) {
                (void) unlink(l->img);
                (void) rmdir(l->mnt);
                (void) rmdir(l->tmpfs);
                if (rmdir(l->dir) < 0) {
                        fprintf(stderr, "cleanup: cannot remove %s: %m\n", l->dir);
                        r = -1;
                } else
                        l->dir[0] = '\0';
        }
        return r;
}

static int loop_teardown(void **state) {
        Loop *l = *state;
        int r;

        if (!l)
                return 0;
        r = loop_cleanup(l);
        free(l);
        *state = NULL;
        return r;
}

static int loop_setup(void **state) {
        Loop *l = calloc(1, sizeof(*l));
        int fd;

        if (!l)
                return -1;
        *state = l;
        if (geteuid() != 0 || run_quiet("command -v mkfs.ext4 && command -v fsfreeze") < 0) {
                l->skip = true;
                return 0;
        }
        strcpy(l->dir, "/tmp/cdp-test-freeze-XXXXXX");
        if (!mkdtemp(l->dir)) {
                l->dir[0] = '\0';
                goto fail;
        }
        snprintf(l->img, sizeof(l->img), "%s/fs.img", l->dir);
        snprintf(l->mnt, sizeof(l->mnt), "%s/mnt", l->dir);
        snprintf(l->tmpfs, sizeof(l->tmpfs), "%s/tmpfs", l->dir);
        fd = open(l->img, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
        if (fd < 0)
                goto fail;
        if (ftruncate(fd, 32 * 1024 * 1024) < 0) {
                close(fd);
                goto fail;
        }
        close(fd);
        if (mkdir(l->mnt, 0700) < 0 || mkdir(l->tmpfs, 0700) < 0)
                goto fail;
        /* No loop devices or no permission to mount (containers): skip; the
         * teardown removes the directory. */
        if (run_quiet("mkfs.ext4 -q -F '%s'", l->img) < 0 || run_quiet("mount -o loop '%s' '%s'", l->img, l->mnt) < 0) {
                l->skip = true;
                return 0;
        }
        l->mounted = true;
        return 0;
fail:
        fprintf(stderr, "setup: %m\n");
        (void) loop_cleanup(l);
        free(l);
        *state = NULL;
        return -1;
}

/* A child that creates dir/name, writes 4 KiB and fsyncs it. Blocks while
 * the file system under dir is frozen. */
static pid_t writer_start(Loop *l, const char *dir, const char *name) {
        char path[PATH_MAX];
        pid_t pid;

        assert_true(l->n_writers < MAX_WRITERS);
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                static char buf[4096];
                int fd;

                memset(buf, 'x', sizeof(buf));
                fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0)
                        _exit(2);
                if (write(fd, buf, sizeof(buf)) != (ssize_t) sizeof(buf) || fsync(fd) < 0)
                        _exit(3);
                close(fd);
                _exit(0);
        }
        l->writers[l->n_writers++] = pid;
        return pid;
}

static void msleep(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* -1 if the writer has not finished within ms; 0 if it finished and its
 * file holds the 4 KiB; else its exit status (or 99: file incomplete).
 * Success is judged by the file, not only the exit status: under valgrind
 * --error-exitcode the forked child inherits the parent's error count. */
static int writer_wait(Loop *l, pid_t pid, const char *dir, const char *name, unsigned ms) {
        for (unsigned waited = 0;; waited += 10) {
                char path[PATH_MAX];
                struct stat st;
                int status;
                pid_t r = waitpid(pid, &status, WNOHANG);

                assert_true(r >= 0);
                if (r == pid) {
                        for (unsigned i = 0; i < l->n_writers; i++)
                                if (l->writers[i] == pid)
                                        l->writers[i] = 0;
                        snprintf(path, sizeof(path), "%s/%s", dir, name);
                        if (stat(path, &st) == 0 && st.st_size == 4096)
                                return 0;
                        return WIFEXITED(status) && WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : 99;
                }
                if (waited >= ms)
                        return -1;
                msleep(10);
        }
}

/* Whether the writer sleeps uninterruptibly in the kernel ('D' in
 * /proc/<pid>/stat): a write held up by a frozen file system, not merely a
 * slow child. */
static bool writer_blocked(pid_t pid) {
        char path[64], buf[512], *p;
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return false;
        buf[n] = '\0';
        p = strrchr(buf, ')');
        return p && p[1] == ' ' && p[2] == 'D';
}

/* Frozen: the writer is still running after 200 ms, stuck in the kernel. */
static void assert_writer_held(Loop *l, pid_t pid) {
        assert_int_equal(writer_wait(l, pid, l->mnt, WNAME, 200), -1);
        if (!writer_blocked(pid))
                fail_msg("writer %d is not blocked in the kernel: the file system is not frozen?", (int) pid);
}

/* Not frozen: a writer finishes (10 s is plenty for 4 KiB on a loop device). */
static void assert_writable(Loop *l, const char *dir, const char *name) {
        pid_t pid = writer_start(l, dir, name);
        int r = writer_wait(l, pid, dir, name, 10000);

        if (r != 0)
                fail_msg("writer on %s did not finish (%d): the file system is still frozen?", dir, r);
}

static void test_real__freeze_blocks_writers_until_thaw(void **state) {
        Loop *l = *state;
        const char *err = NULL;
        pid_t pid;

        if (l->skip)
                skip();
        assert_writable(l, l->mnt, "before");
        {
                const char *const paths[] = { l->mnt };
                assert_int_equal(freeze_set_new(paths, 1, NULL, &l->set), 0);
        }
        assert_int_equal(freeze_set_freeze(l->set, &err), 0);
        assert_null(err);
        assert_true(freeze_set_is_frozen(l->set));

        pid = writer_start(l, l->mnt, WNAME);
        assert_writer_held(l, pid);

        assert_int_equal(freeze_set_thaw(l->set, &err), 0);
        assert_null(err);
        assert_false(freeze_set_is_frozen(l->set));
        assert_int_equal(writer_wait(l, pid, l->mnt, WNAME, 10000), 0);
        assert_writable(l, l->mnt, "after");
        /* Thawing again touches nothing. */
        assert_int_equal(freeze_set_thaw(l->set, NULL), 0);
}

static void test_real__free_while_frozen__thaws(void **state) {
        Loop *l = *state;
        pid_t pid;

        if (l->skip)
                skip();
        {
                const char *const paths[] = { l->mnt };
                assert_int_equal(freeze_set_new(paths, 1, freeze_ops_real(), &l->set), 0);
        }
        assert_int_equal(freeze_set_freeze(l->set, NULL), 0);
        pid = writer_start(l, l->mnt, WNAME);
        assert_writer_held(l, pid);
        l->set = freeze_set_free(l->set);
        assert_int_equal(writer_wait(l, pid, l->mnt, WNAME, 10000), 0);
}

static void test_real__frozen_by_someone_else__ebusy_and_left_frozen(void **state) {
        Loop *l = *state;
        const char *err = NULL;
        pid_t pid;

        if (l->skip)
                skip();
        assert_int_equal(run_quiet("fsfreeze -f '%s'", l->mnt), 0);
        {
                const char *const paths[] = { l->mnt };
                assert_int_equal(freeze_set_new(paths, 1, NULL, &l->set), 0);
        }
        assert_int_equal(freeze_set_freeze(l->set, &err), -EBUSY);
        assert_non_null(err);
        assert_string_equal(err, l->mnt);
        assert_false(freeze_set_is_frozen(l->set));
        assert_int_equal(freeze_set_thaw(l->set, NULL), 0);
        l->set = freeze_set_free(l->set);

        /* Still frozen by its owner: we must not have thawed it. */
        pid = writer_start(l, l->mnt, WNAME);
        assert_writer_held(l, pid);
        assert_int_equal(run_quiet("fsfreeze -u '%s'", l->mnt), 0);
        assert_int_equal(writer_wait(l, pid, l->mnt, WNAME, 10000), 0);
}

static void test_real__thawed_by_someone_else__thaw_is_success(void **state) {
        Loop *l = *state;
        const char *err = NULL;

        if (l->skip)
                skip();
        {
                const char *const paths[] = { l->mnt };
                assert_int_equal(freeze_set_new(paths, 1, NULL, &l->set), 0);
        }
        assert_int_equal(freeze_set_freeze(l->set, NULL), 0);
        assert_int_equal(run_quiet("fsfreeze -u '%s'", l->mnt), 0);
        assert_int_equal(freeze_set_thaw(l->set, &err), 0);
        assert_null(err);
        assert_false(freeze_set_is_frozen(l->set));
        assert_writable(l, l->mnt, "after");
}

/* Second of two fails for real (tmpfs cannot freeze): the ext4 one frozen
 * first must be thawed again, and the error names the tmpfs. */
static void test_real__second_fails__first_thawed(void **state) {
        Loop *l = *state;
        const char *err = NULL;
        int r;

        if (l->skip)
                skip();
        assert_int_equal(run_quiet("mount -t tmpfs -o size=1m cdp-test '%s'", l->tmpfs), 0);
        l->tmpfs_mounted = true;
        {
                const char *const paths[] = { l->mnt, l->tmpfs };
                assert_int_equal(freeze_set_new(paths, 2, NULL, &l->set), 0);
        }
        r = freeze_set_freeze(l->set, &err);
        assert_int_equal(r, -EOPNOTSUPP);
        assert_non_null(err);
        assert_string_equal(err, l->tmpfs);
        assert_false(freeze_set_is_frozen(l->set));
        assert_writable(l, l->mnt, "after");
}

static void test_real__duplicate_mount_point__frozen_once(void **state) {
        Loop *l = *state;
        char slash[PATH_MAX];
        const char *err = NULL;
        pid_t pid;

        if (l->skip)
                skip();
        snprintf(slash, sizeof(slash), "%s/", l->mnt);
        {
                const char *const paths[] = { l->mnt, slash };
                assert_int_equal(freeze_set_new(paths, 2, NULL, &l->set), 0);
        }
        assert_int_equal(freeze_set_size(l->set), 1);
        assert_int_equal(freeze_set_freeze(l->set, &err), 0);
        assert_true(freeze_set_is_frozen(l->set));
        pid = writer_start(l, l->mnt, WNAME);
        assert_writer_held(l, pid);
        assert_int_equal(freeze_set_thaw(l->set, NULL), 0);
        assert_int_equal(writer_wait(l, pid, l->mnt, WNAME, 10000), 0);
}

/* FIFREEZE on any directory would freeze the whole file system it is on (a
 * config `freeze = /var/lib/db` would freeze "/"): a path that is not the
 * root of a mount is refused with -ENOTBLK, and nothing is frozen. */
static void test_real__subdirectory__refused_not_a_mount_point(void **state) {
        Loop *l = *state;
        char sub[PATH_MAX];
        const char *err = NULL;

        if (l->skip)
                skip();
        snprintf(sub, sizeof(sub), "%s/sub", l->mnt);
        assert_int_equal(mkdir(sub, 0755), 0);
        {
                const char *const paths[] = { l->mnt, sub };
                assert_int_equal(freeze_set_new(paths, 2, NULL, &l->set), 0);
        }
        assert_int_equal(freeze_set_freeze(l->set, &err), -ENOTBLK);
        assert_non_null(err);
        assert_string_equal(err, sub);
        assert_false(freeze_set_is_frozen(l->set));
        assert_writable(l, l->mnt, "after");
        assert_string_equal(freeze_strerror(-ENOTBLK),
                            "not a mount point (freezing it would freeze the file system it is on)");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_new__bad_arguments__einval, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_new__empty_set__freeze_and_thaw_do_nothing, fake_setup,
                                                fake_teardown),
                cmocka_unit_test_setup_teardown(test_new__paths_are_copied, fake_setup, fake_teardown),
                cmocka_unit_test(test_null_set__accessors_and_thaw_are_safe),
                cmocka_unit_test_setup_teardown(test_freeze__all__in_order_then_thaw_in_reverse_with_same_handles,
                                                fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_freeze__already_frozen__ealready_and_no_calls, fake_setup,
                                                fake_teardown),
                cmocka_unit_test_setup_teardown(test_freeze__second_of_three_fails__first_thawed_and_error_names_path,
                                                fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_freeze__first_fails__nothing_thawed, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_freeze__last_fails__earlier_ones_thawed_in_reverse, fake_setup,
                                                fake_teardown),
                cmocka_unit_test_setup_teardown(test_freeze__after_failure__can_be_retried, fake_setup,
                                                fake_teardown),
                cmocka_unit_test_setup_teardown(test_freeze__frozen_by_someone_else__ebusy_and_never_thawed_by_us,
                                                fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_freeze__duplicate_path__listed_once,
                                                fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_freeze__relative_and_odd_paths__passed_through,
                                                fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_thaw__one_fails__all_others_thawed_and_error_names_path,
                                                fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_thaw__two_fail__first_in_thaw_order_reported, fake_setup,
                                                fake_teardown),
                cmocka_unit_test_setup_teardown(test_thaw__twice__second_is_noop, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_thaw__then_freeze_again__works, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_free__frozen_set__thaws_everything, fake_setup, fake_teardown),
                cmocka_unit_test(test_real_ops__unopenable_paths__errno_and_path),
                cmocka_unit_test_setup_teardown(test_real__freeze_blocks_writers_until_thaw, loop_setup,
                                                loop_teardown),
                cmocka_unit_test_setup_teardown(test_real__free_while_frozen__thaws, loop_setup, loop_teardown),
                cmocka_unit_test_setup_teardown(test_real__frozen_by_someone_else__ebusy_and_left_frozen, loop_setup,
                                                loop_teardown),
                cmocka_unit_test_setup_teardown(test_real__thawed_by_someone_else__thaw_is_success, loop_setup,
                                                loop_teardown),
                cmocka_unit_test_setup_teardown(test_real__second_fails__first_thawed, loop_setup, loop_teardown),
                cmocka_unit_test_setup_teardown(test_real__duplicate_mount_point__frozen_once, loop_setup,
                                                loop_teardown),
                cmocka_unit_test_setup_teardown(test_real__subdirectory__refused_not_a_mount_point, loop_setup,
                                                loop_teardown),
        };

        return cmocka_run_group_tests_name("freeze", tests, NULL, NULL);
}
