/* SPDX-License-Identifier: MIT */
/* Unit tests of daemon/poweroff.c: which IMDS endpoints count as EC2's own,
 * the implementation seam (poweroff_set_impl), and the two guards of the
 * default: CDPD_TEST_POWEROFF_FILE appends one line, a simulator endpoint
 * refuses with -EPERM. The logind path is never taken: every call of the
 * default goes through request_default(), which asserts that one of the
 * guards is set, and DBUS_SYSTEM_BUS_ADDRESS points at a socket of this test
 * that must never see a connection (checked after every default call), so
 * even a broken guard cannot reach the real system bus. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "cdp/macro.h"
#include "poweroff.h"

static char tmpdir[64];
static char bus_path[100];
static int bus_fd = -1;

static const char *tmp_path(const char *name) {
        static char buf[4][256];
        static unsigned i;
        char *p = buf[i++ % ELEMENTSOF(buf)];

        snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
        return p;
}

/* A listening socket posing as the system bus: any connection is a failure. */
static int group_setup(void **state) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char addr[200];

        (void) state;
        strcpy(tmpdir, "/tmp/cdpd-test-poweroff-XXXXXX");
        if (!mkdtemp(tmpdir))
                return -1;
        snprintf(bus_path, sizeof(bus_path), "%s/system_bus_socket", tmpdir);
        bus_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (bus_fd < 0)
                return -1;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", bus_path);
        if (bind(bus_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(bus_fd, 8) < 0)
                return -1;
        snprintf(addr, sizeof(addr), "unix:path=%s", bus_path);
        return setenv("DBUS_SYSTEM_BUS_ADDRESS", addr, 1);
}

static int group_teardown(void **state) {
        (void) state;
        if (bus_fd >= 0)
                (void) close(bus_fd);
        (void) unlink(bus_path);
        (void) rmdir(tmpdir);
        return 0;
}

static int setup(void **state) {
        (void) state;
        poweroff_set_impl(NULL);
        (void) unsetenv("CDPD_TEST_POWEROFF_FILE");
        (void) unsetenv("AWS_EC2_METADATA_DISABLED");
        /* the simulator's endpoint unless a test says otherwise */
        return setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9", 1);
}

static int teardown(void **state) {
        static const char *const names[] = { "poweroff", "poweroff-link", "victim", "created" };

        (void) state;
        poweroff_set_impl(NULL);
        (void) unsetenv("CDPD_TEST_POWEROFF_FILE");
        (void) unsetenv("AWS_EC2_METADATA_DISABLED");
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                (void) unlink(tmp_path(names[i]));
        return 0;
}

static void assert_no_bus_connection(void) {
        int fd = accept4(bus_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (fd >= 0) {
                (void) close(fd);
                fail_msg("something connected to the (fake) system bus");
        }
        assert_int_equal(errno, EAGAIN);
}

/* The only way these tests call the default implementation. */
static int request_default(sd_event *e, const char *reason, PoweroffDoneFn done, void *userdata,
                           PoweroffRequest **ret, char **reterr_detail) {
        const char *file = secure_getenv("CDPD_TEST_POWEROFF_FILE");
        const char *ep = secure_getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        const char *bus = secure_getenv("DBUS_SYSTEM_BUS_ADDRESS");
        int r;

        assert_true((file && *file) || (ep && strncmp(ep, "http://127.0.0.1:", 17) == 0));
        assert_non_null(bus);
        assert_non_null(strstr(bus, bus_path));
        r = poweroff_request(e, reason, done, userdata, ret, reterr_detail);
        assert_no_bus_connection();
        return r;
}

static char *read_file(const char *path) {
        static char buf[4096];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t k;

        assert_true(fd >= 0);
        k = read(fd, buf, sizeof(buf) - 1);
        assert_true(k >= 0);
        buf[k] = '\0';
        (void) close(fd);
        return buf;
}

/* The tripwire works: sd-bus really connects to the fake system bus, so
 * assert_no_bus_connection() would see a logind attempt. */
static void test_poweroff__tripwire__fake_bus_sees_connections(void **state) {
        sd_bus *bus = NULL;
        int fd;

        (void) state;
        assert_no_bus_connection();
        assert_true(sd_bus_open_system(&bus) >= 0);
        fd = accept4(bus_fd, NULL, NULL, SOCK_CLOEXEC);
        assert_true(fd >= 0);
        (void) close(fd);
        sd_bus_close_unref(bus);
        assert_no_bus_connection();
}

/* ---- poweroff_imds_is_real ---- */

static void test_poweroff__imds_is_real__ec2_only(void **state) {
        static const char *const real[] = {
                "http://169.254.169.254",
                "http://169.254.169.254/",
                "http://[fd00:ec2::254]",
                "http://[fd00:ec2::254]/",
        };
        static const char *const not_real[] = {
                "",
                "garbage",
                "169.254.169.254",
                "https://169.254.169.254",
                "https://169.254.169.254/",
                "https://[fd00:ec2::254]",
                "HTTP://169.254.169.254",
                "http://169.254.169.254//",
                "http://169.254.169.254:80",
                "http://169.254.169.254/latest",
                "http://169.254.169.254/latest/meta-data/",
                "http://169.254.169.254?x",
                "http://169.254.169.254#",
                "http://169.254.169.2540",
                "http://169.254.169.25",
                "http://169.254.169.254.evil.test",
                "http://169.254.169.254@evil.test",
                "http://user@169.254.169.254",
                " http://169.254.169.254",
                "http://169.254.169.254 ",
                "http://169.254.169.254\n",
                "http://[fd00:ec2::254]:80",
                "http://[FD00:EC2::254]",
                "http://[fd00:ec2::254",
                "http://fd00:ec2::254",
                "http://[fd00:ec2::2540]",
                "http://127.0.0.1",
                "http://127.0.0.1:1234",
                "http://127.0.0.1:1234/",
                "http://localhost:1338",
                "http://[::1]:1338",
                "http://169.254.170.2",
        };

        (void) state;
        assert_false(poweroff_imds_is_real(NULL));
        for (size_t i = 0; i < ELEMENTSOF(real); i++)
                if (!poweroff_imds_is_real(real[i]))
                        fail_msg("\"%s\" not real", real[i]);
        for (size_t i = 0; i < ELEMENTSOF(not_real); i++)
                if (poweroff_imds_is_real(not_real[i]))
                        fail_msg("\"%s\" real", not_real[i]);
}

/* ---- the seam ---- */

typedef struct Recorded {
        unsigned calls;
        sd_event *event;
        char reason[256];
        bool reason_null;
        PoweroffDoneFn done;
        void *userdata;
        PoweroffRequest **ret;
        PoweroffRequest *ret_on_entry;
        char **reterr_detail;
} Recorded;

static Recorded rec, rec2;
static int rec_result;
static const char *rec_detail;

static void record(Recorded *x, sd_event *event, const char *reason, PoweroffDoneFn done, void *userdata,
                   PoweroffRequest **ret, char **reterr_detail) {
        x->calls++;
        x->event = event;
        x->reason_null = !reason;
        snprintf(x->reason, sizeof(x->reason), "%s", reason ?: "");
        x->done = done;
        x->userdata = userdata;
        x->ret = ret;
        x->ret_on_entry = ret ? *ret : NULL;
        x->reterr_detail = reterr_detail;
}

static int recording_impl(sd_event *event, const char *reason, PoweroffDoneFn done, void *userdata,
                          PoweroffRequest **ret, char **reterr_detail) {
        record(&rec, event, reason, done, userdata, ret, reterr_detail);
        if (rec_result < 0 && reterr_detail)
                *reterr_detail = rec_detail ? strdup(rec_detail) : NULL;
        return rec_result;
}

static int other_impl(sd_event *event, const char *reason, PoweroffDoneFn done, void *userdata,
                      PoweroffRequest **ret, char **reterr_detail) {
        record(&rec2, event, reason, done, userdata, ret, reterr_detail);
        return -ENOTSUP;
}

typedef struct DoneLog {
        unsigned calls;
        int error;
        char detail[256];
} DoneLog;

static void on_done(int error, const char *detail, void *userdata) {
        DoneLog *d = userdata;

        d->calls++;
        d->error = error;
        snprintf(d->detail, sizeof(d->detail), "%s", detail ?: "(null)");
}

static void test_poweroff__set_impl__request_goes_to_impl(void **state) {
        _cleanup_free_ char *detail = NULL;
        sd_event *e = (sd_event *) 0x1;         /* opaque to the seam: never dereferenced */
        PoweroffRequest *handle = (PoweroffRequest *) 0x2;
        DoneLog d = {};
        int r;

        (void) state;
        memset(&rec, 0, sizeof(rec));
        rec_result = 0;
        poweroff_set_impl(recording_impl);
        r = poweroff_request(e, "bastion i-1 expired", on_done, &d, &handle, &detail);
        assert_int_equal(r, 0);
        assert_int_equal(rec.calls, 1);
        assert_ptr_equal(rec.event, e);
        assert_string_equal(rec.reason, "bastion i-1 expired");
        assert_ptr_equal(rec.done, on_done);
        assert_ptr_equal(rec.userdata, &d);
        assert_ptr_equal(rec.ret, &handle);
        assert_null(rec.ret_on_entry);          /* *ret is reset before the impl runs */
        assert_null(handle);
        assert_ptr_equal(rec.reterr_detail, &detail);
        assert_null(detail);
        assert_int_equal(d.calls, 0);           /* the impl decides when done runs */

        /* NULL ret, NULL detail, NULL reason pass through */
        r = poweroff_request(NULL, NULL, NULL, NULL, NULL, NULL);
        assert_int_equal(r, 0);
        assert_int_equal(rec.calls, 2);
        assert_null(rec.event);
        assert_true(rec.reason_null);
        assert_null(rec.done);
        assert_null(rec.userdata);
        assert_null(rec.ret);
        assert_null(rec.reterr_detail);

        /* errors and their detail come back unchanged */
        rec_result = -EACCES;
        rec_detail = "Interactive authentication required";
        r = poweroff_request(NULL, "again", on_done, &d, &handle, &detail);
        assert_int_equal(r, -EACCES);
        assert_int_equal(rec.calls, 3);
        assert_string_equal(detail, "Interactive authentication required");
        assert_null(handle);
        rec_result = 0;
        rec_detail = NULL;
}

static void test_poweroff__set_impl__replace_and_null_restores_default(void **state) {
        DoneLog d = {};
        int r;

        (void) state;
        memset(&rec, 0, sizeof(rec));
        memset(&rec2, 0, sizeof(rec2));
        rec_result = 0;
        poweroff_set_impl(recording_impl);
        poweroff_set_impl(other_impl);
        r = poweroff_request(NULL, "second impl", on_done, &d, NULL, NULL);
        assert_int_equal(r, -ENOTSUP);
        assert_int_equal(rec.calls, 0);
        assert_int_equal(rec2.calls, 1);
        assert_string_equal(rec2.reason, "second impl");

        /* NULL: the default again, here its test file */
        poweroff_set_impl(NULL);
        setenv("CDPD_TEST_POWEROFF_FILE", tmp_path("poweroff"), 1);
        r = request_default(NULL, "default again", on_done, &d, NULL, NULL);
        assert_int_equal(r, 0);
        assert_int_equal(rec.calls, 0);
        assert_int_equal(rec2.calls, 1);
        assert_string_equal(read_file(tmp_path("poweroff")), "poweroff default again\n");
}

/* Nothing to cancel from a seam or from the file hook: the handle stays
 * NULL and poweroff_cancel(NULL) is a no-op, as the pattern calls it. */
static void test_poweroff__cancel__null_safe(void **state) {
        PoweroffRequest *handle = (PoweroffRequest *) 0x2;

        (void) state;
        poweroff_cancel(NULL);
        rec_result = 0;
        poweroff_set_impl(recording_impl);
        assert_int_equal(poweroff_request(NULL, "r", NULL, NULL, &handle, NULL), 0);
        assert_null(handle);
        poweroff_cancel(handle);

        poweroff_set_impl(NULL);
        setenv("CDPD_TEST_POWEROFF_FILE", tmp_path("poweroff"), 1);
        handle = (PoweroffRequest *) 0x2;
        assert_int_equal(request_default(NULL, "r", NULL, NULL, &handle, NULL), 0);
        assert_null(handle);
        poweroff_cancel(handle);
}

/* ---- the default: test file ---- */

static void test_poweroff__default_file__appends_line(void **state) {
        char *detail = (char *) "untouched";
        PoweroffRequest *handle = (PoweroffRequest *) 0x2;
        sd_event *e = NULL;
        DoneLog d = {};
        struct stat st;
        int fd, r;

        (void) state;
        /* an existing file keeps its contents */
        fd = open(tmp_path("poweroff"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "before\n", 7), 7);
        (void) close(fd);

        /* the file hook wins even when the endpoint would be EC2's */
        (void) unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        setenv("CDPD_TEST_POWEROFF_FILE", tmp_path("poweroff"), 1);
        assert_int_equal(sd_event_new(&e), 0);
        r = request_default(e, "bastion i-0abc expired", on_done, &d, &handle, &detail);
        assert_int_equal(r, 0);
        assert_null(handle);
        assert_null(detail);
        r = request_default(e, "second", on_done, &d, NULL, NULL);
        assert_int_equal(r, 0);
        r = request_default(e, NULL, on_done, &d, NULL, NULL);
        assert_int_equal(r, 0);
        assert_string_equal(read_file(tmp_path("poweroff")),
                            "before\npoweroff bastion i-0abc expired\npoweroff second\npoweroff \n");

        /* the hook only records: the loop has nothing to run, done never comes */
        for (int i = 0; i < 3; i++)
                assert_int_equal(sd_event_run(e, 0), 0);
        assert_int_equal(d.calls, 0);
        sd_event_unref(e);

        /* created 0600 when missing */
        setenv("CDPD_TEST_POWEROFF_FILE", tmp_path("created"), 1);
        mode_t old = umask(0);
        r = request_default(NULL, "new", NULL, NULL, NULL, NULL);
        umask(old);
        assert_int_equal(r, 0);
        assert_int_equal(stat(tmp_path("created"), &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_string_equal(read_file(tmp_path("created")), "poweroff new\n");
}

static void test_poweroff__default_file__errors_with_detail(void **state) {
        _cleanup_free_ char *detail = NULL;
        char want[512];
        int r;

        (void) state;
        /* not followed through a symlink */
        assert_int_equal(symlink(tmp_path("victim"), tmp_path("poweroff-link")), 0);
        setenv("CDPD_TEST_POWEROFF_FILE", tmp_path("poweroff-link"), 1);
        r = request_default(NULL, "x", NULL, NULL, NULL, &detail);
        assert_int_equal(r, -ELOOP);
        snprintf(want, sizeof(want), "cannot open CDPD_TEST_POWEROFF_FILE %s", tmp_path("poweroff-link"));
        assert_non_null(detail);
        assert_string_equal(detail, want);
        assert_int_equal(access(tmp_path("victim"), F_OK), -1);
        detail = mfree(detail);

        /* a directory that does not exist */
        setenv("CDPD_TEST_POWEROFF_FILE", tmp_path("no/such/file"), 1);
        r = request_default(NULL, "x", NULL, NULL, NULL, &detail);
        assert_int_equal(r, -ENOENT);
        assert_non_null(detail);
        assert_non_null(strstr(detail, tmp_path("no/such/file")));
        detail = mfree(detail);

        /* NULL reterr_detail is fine */
        r = request_default(NULL, "x", NULL, NULL, NULL, NULL);
        assert_int_equal(r, -ENOENT);
}

/* ---- the default: simulator guard ---- */

static void test_poweroff__default_simulator__eperm_no_logind(void **state) {
        _cleanup_free_ char *detail = NULL;
        PoweroffRequest *handle = (PoweroffRequest *) 0x2;
        sd_event *e = NULL;
        DoneLog d = {};
        int r;

        (void) state;
        assert_int_equal(sd_event_new(&e), 0);
        r = request_default(e, "expired", on_done, &d, &handle, &detail);
        assert_int_equal(r, -EPERM);
        assert_null(handle);
        assert_non_null(detail);
        assert_non_null(strstr(detail, "not powering off"));
        assert_non_null(strstr(detail, "http://127.0.0.1:9"));
        assert_int_equal(sd_event_run(e, 0), 0);
        assert_int_equal(d.calls, 0);           /* the caller handles -EPERM itself */
        detail = mfree(detail);

        /* an empty hook path is no hook */
        setenv("CDPD_TEST_POWEROFF_FILE", "", 1);
        setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1338/", 1);
        r = request_default(e, "expired", on_done, &d, NULL, &detail);
        assert_int_equal(r, -EPERM);
        assert_non_null(strstr(detail, "http://127.0.0.1:1338/"));
        detail = mfree(detail);

        /* IMDS disabled: no identity from EC2 either */
        setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
        r = request_default(e, "expired", on_done, &d, NULL, &detail);
        assert_int_equal(r, -EPERM);
        assert_non_null(strstr(detail, "nowhere (AWS_EC2_METADATA_DISABLED)"));
        detail = mfree(detail);

        /* NULL reterr_detail is fine */
        r = request_default(e, "expired", on_done, &d, NULL, NULL);
        assert_int_equal(r, -EPERM);
        assert_int_equal(d.calls, 0);
        assert_int_equal(access(tmp_path("poweroff"), F_OK), -1);
        sd_event_unref(e);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_poweroff__tripwire__fake_bus_sees_connections),
                T(test_poweroff__imds_is_real__ec2_only),
                T(test_poweroff__set_impl__request_goes_to_impl),
                T(test_poweroff__set_impl__replace_and_null_restores_default),
                T(test_poweroff__cancel__null_safe),
                T(test_poweroff__default_file__appends_line),
                T(test_poweroff__default_file__errors_with_detail),
                T(test_poweroff__default_simulator__eperm_no_logind),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
