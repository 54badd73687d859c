/* SPDX-License-Identifier: MIT */
/* Unit tests of daemon/wall.c: which utmp lines name a terminal, and the
 * default implementation (wall_send_utmp) over a crafted utmp file. The
 * only terminal ever written is a pseudo terminal this test opens itself
 * (posix_openpt); its slave side is put in raw mode and the master side
 * reads back the exact bytes. A fake dev_root (a temp dir) holds regular
 * files, FIFOs, directories and symlinks named like terminals, which must
 * never be written. wall_send() is only called with a sink, with
 * CDPD_TEST_WALL_FILE, or with the IMDS endpoint on 127.0.0.1 (asserted by
 * wall_send_guarded()), so the machine's real terminals are left alone. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <utmpx.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cdp/macro.h"
#include "wall.h"

#define MARKER "<<cdpd-test-end>>"
#define NOSUCH_TTY "ttyCdpdNoSuch9"     /* valid line, no such device */

/* ---- a pseudo terminal of our own ---- */

typedef struct Pty {
        int master;
        int slave;
        char path[64];          /* /dev/pts/N */
        char line[32];          /* pts/N */
} Pty;

static Pty pty = { .master = -1, .slave = -1 };

static void pty_close(void) {
        if (pty.slave >= 0)
                (void) close(pty.slave);
        if (pty.master >= 0)
                (void) close(pty.master);
        pty.slave = pty.master = -1;
}

/* Opens a pty; its slave is raw (no \n -> \r\n of its own), so the master
 * reads exactly what wall.c wrote. */
static void pty_open(void) {
        struct termios t;

        pty.master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (pty.master < 0)
                skip();
        assert_int_equal(grantpt(pty.master), 0);
        assert_int_equal(unlockpt(pty.master), 0);
        assert_int_equal(ptsname_r(pty.master, pty.path, sizeof(pty.path)), 0);
        /* wall.c reaches it only as <dev_root>/pts/N */
        if (strncmp(pty.path, "/dev/pts/", 9) != 0)
                skip();
        assert_true(strlen(pty.path + 9) + 5 <= sizeof(pty.line));
        memcpy(pty.line, "pts/", 4);
        strcpy(pty.line + 4, pty.path + 9);
        assert_true(wall_tty_line_valid(pty.line));
        pty.slave = open(pty.path, O_RDWR | O_NOCTTY | O_CLOEXEC);
        assert_true(pty.slave >= 0);
        assert_int_equal(tcgetattr(pty.slave, &t), 0);
        cfmakeraw(&t);
        assert_int_equal(tcsetattr(pty.slave, TCSANOW, &t), 0);
        assert_int_equal(fcntl(pty.master, F_SETFL, O_NONBLOCK), 0);
}

/* Everything the terminal received since the last call: writes a marker
 * through our own slave fd (same output queue, so it arrives after whatever
 * wall.c wrote) and reads the master up to it. Returns the length. */
static size_t pty_collect(char *buf, size_t size) {
        size_t len = 0, m = strlen(MARKER);

        assert_int_equal(write(pty.slave, MARKER, m), (ssize_t) m);
        for (;;) {
                struct pollfd p = { .fd = pty.master, .events = POLLIN };
                ssize_t k;

                assert_int_equal(poll(&p, 1, 5000), 1);
                k = read(pty.master, buf + len, size - 1 - len);
                if (k < 0 && errno == EAGAIN)
                        continue;
                assert_true(k > 0);
                len += (size_t) k;
                buf[len] = '\0';
                if (len >= m && memcmp(buf + len - m, MARKER, m) == 0)
                        break;
                assert_true(len < size - 1);
        }
        len -= m;
        buf[len] = '\0';
        return len;
}

static void assert_pty_received(const char *want) {
        char buf[16384];
        size_t n = pty_collect(buf, sizeof(buf));

        assert_int_equal(n, strlen(want));
        assert_memory_equal(buf, want, n);
}

/* ---- crafted utmp files and a fake /dev ---- */

static char tmpdir[64];

static int setup(void **state) {
        (void) state;
        strcpy(tmpdir, "/tmp/cdpd-test-wall-XXXXXX");
        assert_non_null(mkdtemp(tmpdir));
        assert_int_equal(chmod(tmpdir, 0755), 0);      /* readable after dropping privileges */
        return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) ftw;
        return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int teardown(void **state) {
        (void) state;
        pty_close();
        wall_set_sink(NULL, NULL);
        (void) unsetenv("CDPD_TEST_WALL_FILE");
        (void) unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        (void) unsetenv("AWS_EC2_METADATA_DISABLED");
        if (tmpdir[0])
                (void) nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        tmpdir[0] = '\0';
        return 0;
}

static const char *tmp_path(const char *name) {
        static char buf[4][256];
        static unsigned i;
        char *p = buf[i++ % ELEMENTSOF(buf)];

        snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
        return p;
}

typedef struct Entry {
        short type;
        const char *line;
} Entry;

/* Writes the records with write(): the file is exactly what utmp holds. */
static const char *utmp_write(const char *name, const Entry *e, size_t n) {
        const char *path = tmp_path(name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        for (size_t i = 0; i < n; i++) {
                struct utmpx u = { .ut_type = e[i].type, .ut_pid = 1000 + (pid_t) i };

                /* strncpy: ut_line is a fixed field, NUL-padded, maybe unterminated */
                strncpy(u.ut_line, e[i].line, sizeof(u.ut_line));
                snprintf(u.ut_id, sizeof(u.ut_id), "c%zu", i);
                strncpy(u.ut_user, "cdpdtest", sizeof(u.ut_user));
                u.ut_tv.tv_sec = 1700000000;
                assert_int_equal(write(fd, &u, sizeof(u)), (ssize_t) sizeof(u));
        }
        assert_int_equal(close(fd), 0);
        return path;
}

static void make_file(const char *path) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);

        assert_true(fd >= 0);
        assert_int_equal(close(fd), 0);
}

static off_t file_size(const char *path) {
        struct stat st;

        assert_int_equal(lstat(path, &st), 0);
        return st.st_size;
}

/* ---- wall_tty_line_valid ---- */

static void test_wall__tty_line__accepts_terminals(void **state) {
        static const char *const ok[] = {
                "pts/0",       "pts/1",      "pts/12",   "pts/4095",         "pts/0000000000", /* 10 digits */
                "pts/9999999999", "tty1",    "tty63",    "ttyS0",            "ttyUSB0",
                "ttyAMA0",     "ttyx",       "ttyZ",     "tty1234567890123", /* 16 */
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(ok); i++)
                if (!wall_tty_line_valid(ok[i]))
                        fail_msg("\"%s\" rejected", ok[i]);
}

static void test_wall__tty_line__rejects_everything_else(void **state) {
        static const char *const bad[] = {
                "",
                ".",
                "..",
                "pts",
                "pts/",
                "pts/../x",
                "pts/..",
                "pts//1",
                "pts/1/",
                "pts/1/..",
                "/dev/pts/1",
                "dev/pts/1",
                "./pts/1",
                "pts/1a",
                "pts/a1",
                "pts/-1",
                "pts/+1",
                "pts/ 1",
                "pts/1 ",
                "pts/1\n",
                "pts/12345678901",      /* 11 digits */
                "pts/ptmx",
                "ptmx",
                "PTS/1",
                "pts\\1",
                "console",
                "tty",
                "TTY1",
                "tty/1",
                "tty1/x",
                "tty1/../../etc/passwd",
                "tty-1",
                "tty.1",
                "tty_1",
                "tty1 ",
                "ttyS0\n",
                "tty\xc3\xa9",
                "tty12345678901234",    /* 17 */
                "ttyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "pts/000000000000000000000000000000000000000000000000000000001",
                "../etc/passwd",
                "../../dev/sda",
                "sda1",
                "null",
                ":0",
                "~",
                "x/pts/1",
        };

        (void) state;
        assert_false(wall_tty_line_valid(NULL));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (wall_tty_line_valid(bad[i]))
                        fail_msg("\"%s\" accepted", bad[i]);
}

/* ---- wall_send_utmp on /dev, reaching only our own pty ---- */

static void test_wall__utmp__only_user_process_on_valid_lines(void **state) {
        const char *utmp;
        int n;

        (void) state;
        pty_open();
        assert_int_equal(access("/dev/" NOSUCH_TTY, F_OK), -1);
        {
                const Entry e[] = {
                        { BOOT_TIME, "~" },
                        { INIT_PROCESS, pty.line },
                        { LOGIN_PROCESS, pty.line },
                        { DEAD_PROCESS, pty.line },
                        { USER_PROCESS, "../etc/passwd" },
                        { USER_PROCESS, "pts/../ptmx" },
                        { USER_PROCESS, "console" },
                        { USER_PROCESS, "" },
                        { USER_PROCESS, NOSUCH_TTY },
                        { USER_PROCESS, pty.line },     /* the only one */
                        { DEAD_PROCESS, pty.line },
                };
                utmp = utmp_write("utmp", e, ELEMENTSOF(e));
        }

        n = wall_send_utmp(utmp, "/dev", "hello\n");
        assert_int_equal(n, 1);
        assert_pty_received("hello\r\n");

        /* NULL dev_root is /dev */
        n = wall_send_utmp(utmp, NULL, "again");
        assert_int_equal(n, 1);
        assert_pty_received("again");
}

static void test_wall__utmp__sanitised_bytes(void **state) {
        const char *utmp;
        int n;

        (void) state;
        pty_open();
        {
                const Entry e[] = { { USER_PROCESS, pty.line } };
                utmp = utmp_write("utmp", e, ELEMENTSOF(e));
        }

        n = wall_send_utmp(utmp, "/dev",
                           "\a\n*** bell ***\n"
                           "tab\there\x1b[2J\x1b]0;title\x07.\r\b\v\f\x7f\x01\x1f end"
                           " caf\xc3\xa9 \xe2\x82\xac\n\n");
        assert_int_equal(n, 1);
        assert_pty_received("\a\r\n*** bell ***\r\n"
                            "tab?here?[2J?]0;title\a.??????? end"
                            " caf\xc3\xa9 \xe2\x82\xac\r\n\r\n");
}

static void test_wall__utmp__count_is_terminals_written(void **state) {
        char long_msg[1001];
        const char *utmp;
        int n;

        (void) state;
        pty_open();
        {
                /* two sessions on the same terminal: written twice */
                const Entry e[] = { { USER_PROCESS, pty.line }, { USER_PROCESS, NOSUCH_TTY },
                                    { USER_PROCESS, pty.line } };
                utmp = utmp_write("utmp", e, ELEMENTSOF(e));
        }
        n = wall_send_utmp(utmp, "/dev", "x\n");
        assert_int_equal(n, 2);
        assert_pty_received("x\r\nx\r\n");

        /* a bastion-sized message arrives whole */
        memset(long_msg, 'a', sizeof(long_msg) - 1);
        long_msg[sizeof(long_msg) - 1] = '\0';
        n = wall_send_utmp(utmp, "/dev", long_msg);
        assert_int_equal(n, 2);
        {
                char want[2 * sizeof(long_msg) - 1];

                memset(want, 'a', sizeof(want) - 1);
                want[sizeof(want) - 1] = '\0';
                assert_pty_received(want);
        }

        /* an empty message writes nothing anywhere */
        n = wall_send_utmp(utmp, "/dev", "");
        assert_int_equal(n, 0);
        assert_pty_received("");

        /* an empty utmp: nobody to tell */
        utmp = utmp_write("utmp-empty", NULL, 0);
        n = wall_send_utmp(utmp, "/dev", "nobody\n");
        assert_int_equal(n, 0);
        assert_pty_received("");
}

static void test_wall__utmp__oversized_message_refused_whole(void **state) {
        const size_t size = 64 * 1024;
        const char *utmp;
        char *big;
        int n;

        (void) state;
        pty_open();
        {
                const Entry e[] = { { USER_PROCESS, pty.line } };
                utmp = utmp_write("utmp", e, ELEMENTSOF(e));
        }
        big = malloc(size + 1);
        assert_non_null(big);
        memset(big, 'b', size);
        big[size] = '\0';
        n = wall_send_utmp(utmp, "/dev", big);
        free(big);
        assert_true(n < 0);
        assert_pty_received("");
}

static void test_wall__utmp__null_message(void **state) {
        const char *utmp;

        (void) state;
        pty_open();
        {
                const Entry e[] = { { USER_PROCESS, pty.line } };
                utmp = utmp_write("utmp", e, ELEMENTSOF(e));
        }
        assert_int_equal(wall_send_utmp(utmp, "/dev", NULL), -EINVAL);
        assert_pty_received("");
}

/* `mesg n` takes group write away from the terminal; cdpd runs as a user in
 * group tty, so its open() fails and the terminal is skipped. As root this
 * runs in a child that becomes nobody with group tty (root itself passes
 * any permission check: the effective uid and capabilities are what
 * count); otherwise the owner's own write bit stands in for
 * it. The child reports wall_send_utmp()'s result through its exit status. */
static int send_unprivileged(const char *utmp, const char *message) {
        pid_t pid;
        int status;

        if (geteuid() != 0)
                return wall_send_utmp(utmp, "/dev", message);

        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct group *g = getgrnam("tty");
                gid_t tty = g ? g->gr_gid : 5;
                int r;

                /* the saved ids stay 0: the child becomes root again before
                 * exiting, so a valgrind around it can remove its files */
                if (setgroups(1, &tty) < 0 || setresgid(65534, 65534, 0) < 0 || setresuid(65534, 65534, 0) < 0)
                        _exit(200);
                r = wall_send_utmp(utmp, "/dev", message);
                if (setresuid(0, 0, 0) < 0 || setresgid(0, 0, 0) < 0)
                        _exit(201);
                _exit(r < 0 ? 100 + MIN(-r, 99) : MIN(r, 99));
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_true(WEXITSTATUS(status) < 200);
        return WEXITSTATUS(status) >= 100 ? -(WEXITSTATUS(status) - 100) : WEXITSTATUS(status);
}

static void test_wall__utmp__mesg_n_skipped(void **state) {
        const bool root = geteuid() == 0;
        const char *utmp;

        (void) state;
        pty_open();
        {
                const Entry e[] = { { USER_PROCESS, pty.line } };
                utmp = utmp_write("utmp", e, ELEMENTSOF(e));
        }
        if (root) {
                struct group *g = getgrnam("tty");

                /* owned by root, group tty, like a session terminal */
                assert_int_equal(chown(pty.path, 0, g ? g->gr_gid : 5), 0);
        }

        /* mesg y */
        assert_int_equal(chmod(pty.path, root ? 0620 : 0200), 0);
        assert_int_equal(send_unprivileged(utmp, "mesg y\n"), 1);
        assert_pty_received("mesg y\r\n");

        /* mesg n */
        assert_int_equal(chmod(pty.path, root ? 0600 : 0400), 0);
        assert_int_equal(send_unprivileged(utmp, "mesg n\n"), 0);
        assert_pty_received("");
}

/* ---- a fake dev_root: nothing that is not a character device ---- */

static void test_wall__fake_dev__never_files_fifos_dirs_symlinks(void **state) {
        const char *utmp;
        int n;

        (void) state;
        pty_open();
        assert_int_equal(mkdir(tmp_path("dev"), 0755), 0);
        assert_int_equal(mkdir(tmp_path("dev/pts"), 0755), 0);
        make_file(tmp_path("dev/pts/5"));                               /* regular file */
        make_file(tmp_path("dev/tty5"));
        make_file(tmp_path("victim"));
        assert_int_equal(symlink(pty.path, tmp_path("dev/pts/6")), 0);  /* symlinks to our pty */
        assert_int_equal(symlink(pty.path, tmp_path("dev/ttyL")), 0);
        assert_int_equal(symlink(tmp_path("victim"), tmp_path("dev/pts/7")), 0);
        assert_int_equal(mkfifo(tmp_path("dev/pts/8"), 0666), 0);       /* FIFO, no reader */
        assert_int_equal(mkdir(tmp_path("dev/pts/9"), 0755), 0);        /* directory */
        {
                const Entry e[] = {
                        { USER_PROCESS, "pts/5" }, { USER_PROCESS, "tty5" },  { USER_PROCESS, "pts/6" },
                        { USER_PROCESS, "ttyL" },  { USER_PROCESS, "pts/7" }, { USER_PROCESS, "pts/8" },
                        { USER_PROCESS, "pts/9" }, { USER_PROCESS, "../victim" },
                        { USER_PROCESS, pty.line },     /* no such node under the fake root */
                };
                utmp = utmp_write("utmp", e, ELEMENTSOF(e));
        }

        n = wall_send_utmp(utmp, tmp_path("dev"), "must not land\n");
        assert_int_equal(n, 0);
        assert_int_equal(file_size(tmp_path("dev/pts/5")), 0);
        assert_int_equal(file_size(tmp_path("dev/tty5")), 0);
        assert_int_equal(file_size(tmp_path("victim")), 0);
        assert_pty_received("");
}

/* A "pts" that is a symlink to the real /dev/pts is not followed either. */
static void test_wall__fake_dev__pts_symlink_not_followed(void **state) {
        const char *utmp;
        int n;

        (void) state;
        pty_open();
        assert_int_equal(mkdir(tmp_path("dev"), 0755), 0);
        assert_int_equal(symlink("/dev/pts", tmp_path("dev/pts")), 0);
        {
                const Entry e[] = { { USER_PROCESS, pty.line } };
                utmp = utmp_write("utmp", e, ELEMENTSOF(e));
        }
        n = wall_send_utmp(utmp, tmp_path("dev"), "via symlink\n");
        assert_int_equal(n, 0);
        assert_pty_received("");
}

/* The fake root is really used: character device nodes there (made with
 * mknod, root only) are written, under pts/ and as tty<x>. They are
 * /dev/null's: a pty slave opened through a node outside its devpts
 * instance gives EIO. Our pty's own line has no node under the fake root. */
static void test_wall__fake_dev__char_device_written(void **state) {
        const char *utmp;
        struct stat st;
        int fd, n;

        (void) state;
        pty_open();
        assert_int_equal(stat("/dev/null", &st), 0);
        assert_true(S_ISCHR(st.st_mode));
        assert_int_equal(mkdir(tmp_path("dev"), 0755), 0);
        assert_int_equal(mkdir(tmp_path("dev/pts"), 0755), 0);
        if (mknod(tmp_path("dev/pts/77"), S_IFCHR | 0666, st.st_rdev) < 0) {
                assert_true(errno == EPERM || errno == EACCES);
                skip();
        }
        fd = open(tmp_path("dev/pts/77"), O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                skip();                 /* nodev mount or a device cgroup */
        (void) close(fd);
        assert_int_equal(mknod(tmp_path("dev/ttyQ7"), S_IFCHR | 0666, st.st_rdev), 0);
        {
                const Entry e[] = { { USER_PROCESS, "pts/77" }, { USER_PROCESS, "ttyQ7" },
                                    { DEAD_PROCESS, "pts/77" }, { USER_PROCESS, pty.line } };
                utmp = utmp_write("utmp", e, ELEMENTSOF(e));
        }
        n = wall_send_utmp(utmp, tmp_path("dev"), "fake root\n");
        assert_int_equal(n, 2);
        assert_pty_received("");
}

static void test_wall__bad_dev_root__negative_errno(void **state) {
        const Entry e[] = { { USER_PROCESS, NOSUCH_TTY } };   /* never a real terminal */
        const char *utmp;

        (void) state;
        utmp = utmp_write("utmp", e, ELEMENTSOF(e));
        make_file(tmp_path("file"));
        assert_int_equal(symlink("/dev", tmp_path("devlink")), 0);

        assert_int_equal(wall_send_utmp(utmp, tmp_path("missing"), "x"), -ENOENT);
        assert_int_equal(wall_send_utmp(utmp, tmp_path("file"), "x"), -ENOTDIR);
        /* O_NOFOLLOW: a symlinked /dev is refused, not followed */
        assert_true(wall_send_utmp(utmp, tmp_path("devlink"), "x") < 0);
}

/* Header: "a negative errno when utmp cannot be read". Fails as of writing:
 * glibc's setutxent()/getutxent() swallow the open() error, so a missing
 * utmp reads as an empty one and wall_send_utmp() returns 0. */
static void test_wall__missing_utmp__negative_errno(void **state) {
        int n;

        (void) state;
        n = wall_send_utmp(tmp_path("no-such-utmp"), "/dev", "x\n");
        assert_int_equal(n, -ENOENT);
}

/* ---- wall_send: sink, test file, simulator guard ---- */

typedef struct SinkLog {
        unsigned calls;
        char message[256];
        void *userdata;
        int ret;
} SinkLog;

static int sink(const char *message, void *userdata) {
        SinkLog *s = userdata;

        s->calls++;
        snprintf(s->message, sizeof(s->message), "%s", message);
        s->userdata = userdata;
        return s->ret;
}

static void test_wall__sink__gets_message_returns_its_value(void **state) {
        SinkLog s = { .ret = 7 };

        (void) state;
        /* the sink wins even over CDPD_TEST_WALL_FILE */
        setenv("CDPD_TEST_WALL_FILE", tmp_path("wall-file"), 1);
        wall_set_sink(sink, &s);
        assert_int_equal(wall_send("\a\nraw \x1b message\n"), 7);
        assert_int_equal(s.calls, 1);
        assert_string_equal(s.message, "\a\nraw \x1b message\n");    /* as given */
        assert_ptr_equal(s.userdata, &s);
        assert_int_equal(access(tmp_path("wall-file"), F_OK), -1);

        s.ret = -EIO;
        assert_int_equal(wall_send("second"), -EIO);
        assert_int_equal(s.calls, 2);
        assert_string_equal(s.message, "second");

        s.ret = 0;
        assert_int_equal(wall_send(NULL), -EINVAL);     /* never reaches the sink */
        assert_int_equal(s.calls, 2);
}

/* Default path with the sink gone: must never reach wall_send_utmp() on the
 * real utmp and /dev. Belt and braces: glibc's utmp name is pointed at a
 * crafted file holding only our own pty (if open), which wall_send() would
 * read if a guard failed, so a failure can only reach that pty. */
static int wall_send_guarded(const char *message) {
        const char *file = secure_getenv("CDPD_TEST_WALL_FILE");
        const char *ep = secure_getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        const Entry e[] = { { USER_PROCESS, pty.line } };
        int r;

        assert_true((file && *file) || (ep && strncmp(ep, "http://127.0.0.1:", 17) == 0));
        assert_int_equal(utmpxname(utmp_write("utmp-guard", e, pty.slave >= 0 ? 1 : 0)), 0);
        r = wall_send(message);
        assert_int_equal(utmpxname(_PATH_UTMPX), 0);
        return r;
}

static void test_wall__sink_null__default_test_file(void **state) {
        SinkLog s = { .ret = 5 };
        char buf[256] = {};
        int fd;

        (void) state;
        wall_set_sink(sink, &s);
        wall_set_sink(NULL, NULL);
        setenv("CDPD_TEST_WALL_FILE", tmp_path("wall-file"), 1);
        assert_int_equal(wall_send_guarded("one\n"), 1);
        assert_int_equal(wall_send_guarded("two\x1b\n"), 1);     /* appended, as given */
        assert_int_equal(s.calls, 0);
        assert_int_equal(file_size(tmp_path("wall-file")), 9);
        fd = open(tmp_path("wall-file"), O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(read(fd, buf, sizeof(buf) - 1), 9);
        (void) close(fd);
        assert_string_equal(buf, "one\ntwo\x1b\n");

        /* the hook file is not followed through a symlink */
        assert_int_equal(symlink(tmp_path("victim"), tmp_path("wall-link")), 0);
        setenv("CDPD_TEST_WALL_FILE", tmp_path("wall-link"), 1);
        assert_int_equal(wall_send_guarded("x"), -ELOOP);
        assert_int_equal(access(tmp_path("victim"), F_OK), -1);
}

static void test_wall__default__simulator_imds_writes_nothing(void **state) {
        (void) state;
        pty_open();
        wall_set_sink(NULL, NULL);
        (void) unsetenv("CDPD_TEST_WALL_FILE");
        setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9", 1);
        assert_int_equal(wall_send_guarded("simulator\n"), 0);
        /* an empty hook path counts as unset */
        setenv("CDPD_TEST_WALL_FILE", "", 1);
        assert_int_equal(wall_send_guarded("simulator\n"), 0);
        /* IMDS disabled: not EC2 either */
        setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
        assert_int_equal(wall_send_guarded("disabled\n"), 0);
        assert_int_equal(wall_send(NULL), -EINVAL);
        assert_pty_received("");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_wall__tty_line__accepts_terminals),
                T(test_wall__tty_line__rejects_everything_else),
                T(test_wall__utmp__only_user_process_on_valid_lines),
                T(test_wall__utmp__sanitised_bytes),
                T(test_wall__utmp__count_is_terminals_written),
                T(test_wall__utmp__oversized_message_refused_whole),
                T(test_wall__utmp__null_message),
                T(test_wall__utmp__mesg_n_skipped),
                T(test_wall__fake_dev__never_files_fifos_dirs_symlinks),
                T(test_wall__fake_dev__pts_symlink_not_followed),
                T(test_wall__fake_dev__char_device_written),
                T(test_wall__bad_dev_root__negative_errno),
                T(test_wall__missing_utmp__negative_errno),
                T(test_wall__sink__gets_message_returns_its_value),
                T(test_wall__sink_null__default_test_file),
                T(test_wall__default__simulator_imds_writes_nothing),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
