/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/io/fileio.c (include/cdp/fileio.h).
 *
 * write_file_atomic(): contents and exact mode (umask does not apply), an
 * existing file replaced by rename (old readers keep the old inode), empty
 * and large data, short writes and EINTR retried, the fsync sequence (the
 * temporary file is fsync'ed complete before the rename, the directory after
 * it), and on every failure (missing directory, parent is a regular file,
 * target is a directory, trailing slash, write error, fsync error,
 * unwritable directory) an error code, the old file untouched and no
 * temporary file left behind.
 * mkdir_safe(): creation with mode, existing directory accepted, anything
 * else refused, exactly one level.
 *
 * Each test works in its own mkdtemp() directory under /tmp, removed after.
 * Faults are injected by defining write() and fsync() in this program: the
 * fileio object from the static libcdp-io.a binds to these definitions at
 * link time. Unless a test arms them they pass straight to the syscalls. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* asprintf */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cdp/fileio.h"
#include "cdp/macro.h"

/* ---- write()/fsync() fault injection ---------------------------------- */

typedef struct FsyncCall {
        bool is_dir;
        off_t size;
        mode_t mode;
        ino_t ino;
        char link[PATH_MAX];            /* what /proc/self/fd/N pointed at */
        bool target_exists;             /* fx.target at the time of the call */
        ino_t target_ino;
} FsyncCall;

static struct {
        bool armed;
        /* write() */
        unsigned eintr_first;           /* this many calls fail with EINTR first */
        size_t chunk;                   /* at most this many bytes per call; 0 = any */
        size_t fail_after;              /* then fail with write_errno; 0 = never */
        int write_errno;
        size_t write_calls, written;
        /* fsync() */
        int fsync_file_errno;           /* fail fsync() of a regular file; 0 = don't */
        const char *target;
        size_t fsync_n;
        FsyncCall fsyncs[8];
} fx;

ssize_t write(int fd, const void *buf, size_t n) {
        bool hook = fx.armed && fd > STDERR_FILENO;
        ssize_t r;

        if (hook) {
                fx.write_calls++;
                if (fx.eintr_first > 0) {
                        fx.eintr_first--;
                        errno = EINTR;
                        return -1;
                }
                if (fx.fail_after > 0) {
                        if (fx.written >= fx.fail_after) {
                                errno = fx.write_errno;
                                return -1;
                        }
                        n = MIN(n, fx.fail_after - fx.written);
                }
                if (fx.chunk > 0)
                        n = MIN(n, fx.chunk);
        }
        r = (ssize_t) syscall(SYS_write, fd, buf, n);
        if (hook && r > 0)
                fx.written += (size_t) r;
        return r;
}

int fsync(int fd) {
        if (fx.armed && fx.fsync_n < ELEMENTSOF(fx.fsyncs)) {
                FsyncCall *c = &fx.fsyncs[fx.fsync_n++];
                char proc[64];
                struct stat st;
                ssize_t n;

                memset(c, 0, sizeof(*c));
                if (fstat(fd, &st) >= 0) {
                        c->is_dir = S_ISDIR(st.st_mode);
                        c->size = st.st_size;
                        c->mode = st.st_mode & 07777;
                        c->ino = st.st_ino;
                }
                (void) snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
                n = readlink(proc, c->link, sizeof(c->link) - 1);
                c->link[n > 0 ? n : 0] = '\0';
                if (fx.target && stat(fx.target, &st) >= 0) {
                        c->target_exists = true;
                        c->target_ino = st.st_ino;
                }
                if (fx.fsync_file_errno != 0 && !c->is_dir) {
                        errno = fx.fsync_file_errno;
                        return -1;
                }
        }
        return (int) syscall(SYS_fsync, fd);
}

/* ---- fixture --------------------------------------------------------------- */

typedef struct Fixture {
        char dir[PATH_MAX];             /* realpath of the test directory */
        mode_t umask;
        int cwd_fd;
} Fixture;

static int unlink_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path) < 0 ? -1 : 0;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        char tmpl[] = "/tmp/cdpd-test-fileio.XXXXXX";

        if (!f || !mkdtemp(tmpl) || !realpath(tmpl, f->dir)) {
                free(f);
                return -1;
        }
        f->umask = umask(022);
        (void) umask(f->umask);
        f->cwd_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        memset(&fx, 0, sizeof(fx));
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        int r = 0;

        memset(&fx, 0, sizeof(fx));
        (void) umask(f->umask);
        if (f->cwd_fd >= 0) {
                if (fchdir(f->cwd_fd) < 0)
                        r = -1;
                (void) close(f->cwd_fd);
        }
        (void) chmod(f->dir, 0700);
        if (nftw(f->dir, unlink_cb, 16, FTW_DEPTH | FTW_PHYS) != 0)
                r = -1;
        free(f);
        return r;
}

/* ---- helpers ----------------------------------------------------------- */

static char *path_in(const Fixture *f, const char *name) {
        char *p = NULL;

        assert_true(asprintf(&p, "%s/%s", f->dir, name) > 0);
        return p;
}

/* The whole file, NUL-terminated; NULL (errno set) if it cannot be opened. */
static char *read_all(const char *path, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        char *buf;
        size_t len = 0;

        if (fd < 0)
                return NULL;
        assert_int_equal(fstat(fd, &st), 0);
        buf = malloc((size_t) st.st_size + 1);
        assert_non_null(buf);
        while (len < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + len, (size_t) st.st_size - len);

                assert_true(n > 0);
                len += (size_t) n;
        }
        buf[len] = '\0';
        *ret_len = len;
        return buf;
}

static void assert_file_is(const char *path, const void *data, size_t len) {
        _cleanup_free_ char *got = NULL;
        size_t n = SIZE_MAX;

        got = read_all(path, &n);
        assert_non_null(got);
        assert_int_equal(n, len);
        if (len > 0)
                assert_memory_equal(got, data, len);
}

/* The directory holds exactly the NULL-terminated list of names (no
 * leftover temporary files). */
static void assert_dir_holds(const char *dir, ...) {
        char names[16][NAME_MAX + 1];
        size_t expected = 0, found = 0;
        struct dirent *de;
        DIR *d;
        va_list ap;

        va_start(ap, dir);
        for (const char *n = va_arg(ap, const char *); n; n = va_arg(ap, const char *)) {
                assert_true(expected < ELEMENTSOF(names));
                (void) snprintf(names[expected++], sizeof(names[0]), "%s", n);
        }
        va_end(ap);

        d = opendir(dir);
        assert_non_null(d);
        while ((de = readdir(d))) {
                bool known = false;

                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                found++;
                for (size_t i = 0; i < expected; i++)
                        known = known || strcmp(names[i], de->d_name) == 0;
                if (!known)
                        fprintf(stderr, "unexpected entry in %s: %s\n", dir, de->d_name);
                assert_true(known);
        }
        (void) closedir(d);
        assert_int_equal(found, expected);
}

static mode_t mode_of(const char *path) {
        struct stat st;

        assert_int_equal(lstat(path, &st), 0);
        return st.st_mode & 07777;
}

static ino_t ino_of(const char *path) {
        struct stat st;

        assert_int_equal(lstat(path, &st), 0);
        return st.st_ino;
}

/* ---- write_file_atomic: success ----------------------------------------- */

static void test_write_file_atomic__new_file__content_and_exact_mode(void **state) {
        const Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "state.json");
        static const char data[] = "{\"a\":1}\n\0binary\xff\x00tail";
        struct stat st;

        /* fchmod: the umask must not narrow the mode. */
        (void) umask(0777);
        assert_int_equal(write_file_atomic(p, data, sizeof(data), 0640), 0);
        (void) umask(f->umask);

        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0640);
        assert_int_equal(st.st_uid, geteuid());
        assert_file_is(p, data, sizeof(data));
        assert_dir_holds(f->dir, "state.json", NULL);
}

static void test_write_file_atomic__modes__applied_exactly_on_each_write(void **state) {
        const Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "m");
        static const mode_t modes[] = { 0600, 0644, 0400, 0755, 0000, 0640, 0666 };
        static const mode_t masks[] = { 022, 077, 0 };
        char data[32];

        for (size_t i = 0; i < ELEMENTSOF(modes); i++) {
                int len = snprintf(data, sizeof(data), "round %zu", i);

                (void) umask(masks[i % ELEMENTSOF(masks)]);
                assert_int_equal(write_file_atomic(p, data, (size_t) len, modes[i]), 0);
                assert_int_equal(mode_of(p), modes[i]);
                assert_file_is(p, data, (size_t) len);
        }
        (void) umask(f->umask);
        assert_dir_holds(f->dir, "m", NULL);
}

static void test_write_file_atomic__existing_file__replaced_old_readers_keep_old(void **state) {
        const Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "creds");
        _cleanup_close_ int old_fd = -1;
        char buf[64];
        ino_t old_ino;
        ssize_t n;

        assert_int_equal(write_file_atomic(p, "old contents, quite long", 24, 0600), 0);
        old_ino = ino_of(p);
        old_fd = open(p, O_RDONLY | O_CLOEXEC);
        assert_true(old_fd >= 0);

        assert_int_equal(write_file_atomic(p, "new", 3, 0600), 0);
        assert_file_is(p, "new", 3);
        /* Replaced by rename, not rewritten in place: a reader that opened
         * the old file still sees all of the old contents. */
        assert_true(ino_of(p) != old_ino);
        n = pread(old_fd, buf, sizeof(buf), 0);
        assert_int_equal(n, 24);
        assert_memory_equal(buf, "old contents, quite long", 24);
        assert_dir_holds(f->dir, "creds", NULL);
}

static void test_write_file_atomic__empty_data__empty_file(void **state) {
        const Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "empty");
        struct stat st;

        assert_int_equal(write_file_atomic(p, "previous", 8, 0644), 0);
        assert_int_equal(write_file_atomic(p, "", 0, 0644), 0);
        assert_int_equal(lstat(p, &st), 0);
        assert_int_equal(st.st_size, 0);
        assert_dir_holds(f->dir, "empty", NULL);
}

static void test_write_file_atomic__large_data__written_completely(void **state) {
        const Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "big");
        const size_t len = 4 * 1024 * 1024 + 3;
        _cleanup_free_ unsigned char *data = malloc(len);

        assert_non_null(data);
        for (size_t i = 0; i < len; i++)
                data[i] = (unsigned char) (i ^ (i >> 8) ^ (i >> 16));
        assert_int_equal(write_file_atomic(p, data, len, 0600), 0);
        assert_file_is(p, data, len);
        assert_dir_holds(f->dir, "big", NULL);
}

static void test_write_file_atomic__short_writes_and_eintr__retried_to_completion(void **state) {
        const Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "chunked");
        char data[10000];
        int r;

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (char) ('A' + i % 53);
        fx.eintr_first = 3;
        fx.chunk = 777;
        fx.armed = true;
        r = write_file_atomic(p, data, sizeof(data), 0600);
        fx.armed = false;

        assert_int_equal(r, 0);
        assert_int_equal(fx.written, sizeof(data));
        assert_int_equal(fx.write_calls, 3 + (sizeof(data) + 776) / 777);
        assert_file_is(p, data, sizeof(data));
        assert_dir_holds(f->dir, "chunked", NULL);
}

static void test_write_file_atomic__sequence__file_synced_before_rename_dir_after(void **state) {
        const Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "seq"), *tmp_prefix = NULL;

        assert_int_equal(write_file_atomic(p, "old", 3, 0600), 0);
        assert_true(asprintf(&tmp_prefix, "%s.tmp", p) > 0);

        fx.target = p;
        fx.armed = true;
        assert_int_equal(write_file_atomic(p, "brand new data", 14, 0644), 0);
        fx.armed = false;

        assert_int_equal(fx.fsync_n, 2);
        /* 1: the temporary file beside the target, complete, while the
         * target is still the old file. */
        assert_false(fx.fsyncs[0].is_dir);
        assert_int_equal(strncmp(fx.fsyncs[0].link, tmp_prefix, strlen(tmp_prefix)), 0);
        assert_int_equal(fx.fsyncs[0].size, 14);
        assert_true(fx.fsyncs[0].target_exists);
        assert_true(fx.fsyncs[0].target_ino != fx.fsyncs[0].ino);
        /* 2: the directory, after the rename put that very file in place. */
        assert_true(fx.fsyncs[1].is_dir);
        assert_string_equal(fx.fsyncs[1].link, f->dir);
        assert_true(fx.fsyncs[1].target_exists);
        assert_true(fx.fsyncs[1].target_ino == fx.fsyncs[0].ino);
        assert_true(ino_of(p) == fx.fsyncs[0].ino);
        assert_int_equal(mode_of(p), 0644);
        assert_file_is(p, "brand new data", 14);
        assert_dir_holds(f->dir, "seq", NULL);
}

static void test_write_file_atomic__relative_path__cwd_directory_synced(void **state) {
        const Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "rel");

        assert_int_equal(chdir(f->dir), 0);
        fx.armed = true;
        assert_int_equal(write_file_atomic("rel", "relative", 8, 0600), 0);
        fx.armed = false;

        assert_file_is(p, "relative", 8);
        assert_int_equal(fx.fsync_n, 2);
        assert_true(fx.fsyncs[1].is_dir);
        assert_string_equal(fx.fsyncs[1].link, f->dir);
        assert_dir_holds(f->dir, "rel", NULL);
}

/* ---- write_file_atomic: failure ------------------------------------------ */

static void test_write_file_atomic__missing_directory__enoent_nothing_created(void **state) {
        const Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "nope/file");

        assert_int_equal(write_file_atomic(p, "x", 1, 0600), -ENOENT);
        assert_dir_holds(f->dir, NULL);
}

static void test_write_file_atomic__parent_is_regular_file__enotdir_nothing_created(void **state) {
        const Fixture *f = *state;
        _cleanup_free_ char *plain = path_in(f, "plain"), *p = path_in(f, "plain/file");

        assert_int_equal(write_file_atomic(plain, "keep", 4, 0600), 0);
        assert_int_equal(write_file_atomic(p, "x", 1, 0600), -ENOTDIR);
        assert_file_is(plain, "keep", 4);
        assert_dir_holds(f->dir, "plain", NULL);
}

static void test_write_file_atomic__target_is_directory__fails_no_temp_left(void **state) {
        const Fixture *f = *state;
        _cleanup_free_ char *d = path_in(f, "d"), *inner = path_in(f, "d/inner");

        assert_int_equal(mkdir(d, 0700), 0);
        assert_int_equal(write_file_atomic(inner, "inside", 6, 0600), 0);
        /* The temporary file is written, then the rename fails. */
        assert_int_equal(write_file_atomic(d, "x", 1, 0600), -EISDIR);
        assert_dir_holds(f->dir, "d", NULL);
        assert_dir_holds(d, "inner", NULL);
        assert_file_is(inner, "inside", 6);
}

static void test_write_file_atomic__trailing_slash__fails_no_temp_left(void **state) {
        const Fixture *f = *state;
        _cleanup_free_ char *d = path_in(f, "d"), *p = path_in(f, "d/");

        assert_int_equal(mkdir(d, 0700), 0);
        /* "d/" + ".tmpXXXXXX" lands inside d; it must not stay there. */
        assert_true(write_file_atomic(p, "x", 1, 0600) < 0);
        assert_dir_holds(d, NULL);
        assert_dir_holds(f->dir, "d", NULL);
}

static void test_write_file_atomic__write_fails__error_old_kept_no_temp(void **state) {
        const Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "full");
        char data[8192];
        ino_t ino;
        int r;

        assert_int_equal(write_file_atomic(p, "old", 3, 0600), 0);
        ino = ino_of(p);
        memset(data, 'n', sizeof(data));
        fx.fail_after = 5000;
        fx.write_errno = ENOSPC;
        fx.armed = true;
        r = write_file_atomic(p, data, sizeof(data), 0644);
        fx.armed = false;

        assert_int_equal(r, -ENOSPC);
        assert_int_equal(fx.written, 5000);
        assert_true(ino_of(p) == ino);
        assert_int_equal(mode_of(p), 0600);
        assert_file_is(p, "old", 3);
        assert_dir_holds(f->dir, "full", NULL);
}

static void test_write_file_atomic__fsync_fails__error_old_kept_no_temp(void **state) {
        const Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "sync");
        int r;

        assert_int_equal(write_file_atomic(p, "old", 3, 0600), 0);
        fx.fsync_file_errno = EIO;
        fx.armed = true;
        r = write_file_atomic(p, "never visible", 13, 0600);
        fx.armed = false;

        assert_int_equal(r, -EIO);
        /* Not renamed: an unsynced file must never replace the old one. */
        assert_int_equal(fx.fsync_n, 1);
        assert_file_is(p, "old", 3);
        assert_dir_holds(f->dir, "sync", NULL);
}

/* Root ignores directory permissions, so as root the write is done by a
 * child that has dropped to nobody. Exit status: 0 success, the errno on
 * failure, 255 when privileges could not be dropped. */
static void test_write_file_atomic__unwritable_directory__eacces_old_kept(void **state) {
        const Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "locked");
        int r, status;
        pid_t pid;

        assert_int_equal(write_file_atomic(p, "old", 3, 0644), 0);
        if (geteuid() != 0) {
                assert_int_equal(chmod(f->dir, 0555), 0);
                r = write_file_atomic(p, "new", 3, 0644);
                assert_int_equal(chmod(f->dir, 0700), 0);
        } else {
                /* nobody may enter but not write. */
                assert_int_equal(chmod(f->dir, 0755), 0);
                pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        int q;

                        if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0 ||
                            geteuid() == 0)
                                _exit(255);
                        q = write_file_atomic(p, "new", 3, 0644);
                        _exit(q < 0 ? -q : 0);
                }
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_int_equal(chmod(f->dir, 0700), 0);
                assert_true(WIFEXITED(status));
                if (WEXITSTATUS(status) == 255)
                        skip();
                r = -WEXITSTATUS(status);
        }

        assert_int_equal(r, -EACCES);
        assert_file_is(p, "old", 3);
        assert_dir_holds(f->dir, "locked", NULL);
}

/* ---- mkdir_safe ------------------------------------------------------------ */

static void test_mkdir_safe__new__directory_with_mode(void **state) {
        const Fixture *f = *state;
        _cleanup_free_ char *a = path_in(f, "a"), *b = path_in(f, "b");
        struct stat st;

        (void) umask(0);
        assert_int_equal(mkdir_safe(a, 0750), 0);
        assert_int_equal(mkdir_safe(b, 0711), 0);
        (void) umask(f->umask);

        assert_int_equal(lstat(a, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0750);
        assert_int_equal(mode_of(b), 0711);
        assert_dir_holds(f->dir, "a", "b", NULL);
}

static void test_mkdir_safe__existing_directory__ok_and_untouched(void **state) {
        const Fixture *f = *state;
        _cleanup_free_ char *d = path_in(f, "d"), *inner = path_in(f, "d/keep");
        ino_t ino;

        assert_int_equal(mkdir_safe(d, 0700), 0);
        assert_int_equal(write_file_atomic(inner, "k", 1, 0600), 0);
        ino = ino_of(d);
        assert_int_equal(mkdir_safe(d, 0700), 0);
        assert_int_equal(mkdir_safe(d, 0755), 0);
        assert_true(ino_of(d) == ino);
        assert_dir_holds(d, "keep", NULL);
        assert_file_is(inner, "k", 1);
}

static void test_mkdir_safe__existing_file__enotdir_file_untouched(void **state) {
        const Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "file");

        assert_int_equal(write_file_atomic(p, "data", 4, 0600), 0);
        assert_int_equal(mkdir_safe(p, 0700), -ENOTDIR);
        assert_file_is(p, "data", 4);
        assert_dir_holds(f->dir, "file", NULL);
}

static void test_mkdir_safe__missing_parent__enoent_one_level_only(void **state) {
        const Fixture *f = *state;
        _cleanup_free_ char *p = path_in(f, "x/y");

        assert_int_equal(mkdir_safe(p, 0700), -ENOENT);
        assert_dir_holds(f->dir, NULL);
}

static void test_mkdir_safe__parent_is_file__enotdir(void **state) {
        const Fixture *f = *state;
        _cleanup_free_ char *file = path_in(f, "file"), *p = path_in(f, "file/sub");

        assert_int_equal(write_file_atomic(file, "data", 4, 0600), 0);
        assert_int_equal(mkdir_safe(p, 0700), -ENOTDIR);
        assert_dir_holds(f->dir, "file", NULL);
}

static void test_mkdir_safe__dangling_symlink__refused_target_not_created(void **state) {
        const Fixture *f = *state;
        _cleanup_free_ char *lnk = path_in(f, "link"), *target = path_in(f, "elsewhere");

        assert_int_equal(symlink(target, lnk), 0);
        assert_true(mkdir_safe(lnk, 0700) < 0);
        assert_dir_holds(f->dir, "link", NULL);
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_write_file_atomic__new_file__content_and_exact_mode),
                T(test_write_file_atomic__modes__applied_exactly_on_each_write),
                T(test_write_file_atomic__existing_file__replaced_old_readers_keep_old),
                T(test_write_file_atomic__empty_data__empty_file),
                T(test_write_file_atomic__large_data__written_completely),
                T(test_write_file_atomic__short_writes_and_eintr__retried_to_completion),
                T(test_write_file_atomic__sequence__file_synced_before_rename_dir_after),
                T(test_write_file_atomic__relative_path__cwd_directory_synced),
                T(test_write_file_atomic__missing_directory__enoent_nothing_created),
                T(test_write_file_atomic__parent_is_regular_file__enotdir_nothing_created),
                T(test_write_file_atomic__target_is_directory__fails_no_temp_left),
                T(test_write_file_atomic__trailing_slash__fails_no_temp_left),
                T(test_write_file_atomic__write_fails__error_old_kept_no_temp),
                T(test_write_file_atomic__fsync_fails__error_old_kept_no_temp),
                T(test_write_file_atomic__unwritable_directory__eacces_old_kept),
                T(test_mkdir_safe__new__directory_with_mode),
                T(test_mkdir_safe__existing_directory__ok_and_untouched),
                T(test_mkdir_safe__existing_file__enotdir_file_untouched),
                T(test_mkdir_safe__missing_parent__enoent_one_level_only),
                T(test_mkdir_safe__parent_is_file__enotdir),
                T(test_mkdir_safe__dangling_symlink__refused_target_not_created),
        };
#undef T

        setvbuf(stdout, NULL, _IONBF, 0);
        setvbuf(stderr, NULL, _IONBF, 0);
        return cmocka_run_group_tests_name("fileio", tests, NULL, NULL);
}
