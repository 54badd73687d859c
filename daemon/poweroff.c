/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "cdp/imds.h"
#include "cdp/macro.h"
#include "poweroff.h"

static PoweroffFn poweroff_impl = NULL;

void poweroff_set_impl(PoweroffFn impl) {
        poweroff_impl = impl;
}

int poweroff_request(sd_event *event, const char *reason, PoweroffDoneFn done, void *userdata,
                     PoweroffRequest **ret, char **reterr_detail) {
        if (ret)
                *ret = NULL;
        return (poweroff_impl ?: poweroff_logind)(event, reason, done, userdata, ret, reterr_detail);
}

struct PoweroffRequest {
        sd_bus *bus;
        sd_bus_slot *slot;
        PoweroffDoneFn done;
        void *userdata;
};

void poweroff_cancel(PoweroffRequest *r) {
        if (!r)
                return;
        sd_bus_slot_unref(r->slot);
        sd_bus_flush_close_unref(r->bus);
        free(r);
}

bool poweroff_imds_is_real(const char *endpoint) {
        static const char *const real[] = { "http://169.254.169.254", "http://[fd00:ec2::254]" };

        if (!endpoint)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(real); i++) {
                size_t n = strlen(real[i]);

                if (strncmp(endpoint, real[i], n) == 0 &&
                    (endpoint[n] == '\0' || (endpoint[n] == '/' && endpoint[n + 1] == '\0')))
                        return true;
        }
        return false;
}

static int set_detail(char **reterr_detail, const char *fmt, const char *arg) {
        if (reterr_detail && asprintf(reterr_detail, fmt, arg ?: "") < 0)
                *reterr_detail = NULL;
        return 0;
}

/* Test hook: record instead of powering off. */
static int record_to_file(const char *path, const char *reason, char **reterr_detail) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *line = NULL;
        int n;

        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
                int r = negative_errno();
                set_detail(reterr_detail, "cannot open CDPD_TEST_POWEROFF_FILE %s", path);
                return r;
        }
        n = asprintf(&line, "poweroff %s\n", reason ?: "");
        if (n < 0)
                return -ENOMEM;
        if (write(fd, line, (size_t) n) != n) {
                set_detail(reterr_detail, "cannot write CDPD_TEST_POWEROFF_FILE %s", path);
                return -EIO;
        }
        return 0;
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        PoweroffRequest *r = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        PoweroffDoneFn done = r->done;
        void *ud = r->userdata;
        _cleanup_free_ char *detail = NULL;
        int error = 0;

        (void) ret_error;
        if (e) {
                error = -sd_bus_error_get_errno(e);
                if (error == 0)
                        error = -EIO;
                if (asprintf(&detail, "logind refused PowerOff: %s: %s", e->name ?: "error",
                             e->message ?: "no message") < 0)
                        detail = NULL;
        }
        poweroff_cancel(r);
        if (done)
                done(error, detail, ud);
        return 0;
}

int poweroff_logind(sd_event *event, const char *reason, PoweroffDoneFn done, void *userdata,
                    PoweroffRequest **ret, char **reterr_detail) {
        _cleanup_free_ PoweroffRequest *r = NULL;
        const char *test_file, *endpoint = NULL;
        int k;

        if (reterr_detail)
                *reterr_detail = NULL;

        test_file = secure_getenv("CDPD_TEST_POWEROFF_FILE");
        if (test_file && *test_file)
                return record_to_file(test_file, reason, reterr_detail);

        if (imds_endpoint_from_env(&endpoint) < 0 || !poweroff_imds_is_real(endpoint)) {
                set_detail(reterr_detail,
                           "not powering off: instance metadata comes from %s, not from EC2 (a test or a "
                           "simulator), so this is not known to be an EC2 instance",
                           endpoint ?: "nowhere (AWS_EC2_METADATA_DISABLED)");
                return -EPERM;
        }

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->done = done;
        r->userdata = userdata;
        k = sd_bus_open_system(&r->bus);
        if (k >= 0)
                k = sd_bus_attach_event(r->bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (k >= 0)
                k = sd_bus_call_method_async(r->bus, &r->slot, "org.freedesktop.login1", "/org/freedesktop/login1",
                                             "org.freedesktop.login1.Manager", "PowerOff", on_reply, r, "b", 0);
        if (k < 0) {
                sd_bus_flush_close_unref(r->bus);
                set_detail(reterr_detail, "cannot ask systemd-logind over the system bus: %s", strerror(-k));
                return k;
        }
        /* Without a handle the request frees itself when logind answers. */
        if (ret)
                *ret = TAKE_PTR(r);
        else
                (void) TAKE_PTR(r);
        return 0;
}
