/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/* The bastion's last resort (SPEC 7): when the EC2 API stays unreachable
 * for expire_grace after the expiry, the instance powers itself off.
 *
 * The implementation is a function pointer (poweroff_set_impl()), so tests
 * record the request instead of powering anything off. The default asks
 * systemd-logind over the system bus:
 *
 *   org.freedesktop.login1 /org/freedesktop/login1
 *   org.freedesktop.login1.Manager.PowerOff(b interactive = false)
 *
 * logind rather than org.freedesktop.systemd1.Manager.PowerOff(), which
 * needs CAP_SYS_BOOT (root) and skips the orderly shutdown, or
 * StartUnit("poweroff.target"), which needs polkit's manage-units and with
 * it the right to start any unit. For the unprivileged `cdpd` user of
 * systemd/cdpd.service.in logind asks polkit for
 * org.freedesktop.login1.power-off (and -multiple-sessions when users are
 * logged in, as on a bastion, and -ignore-inhibit when something holds a
 * shutdown inhibitor), whose defaults refuse a user without a session. The
 * project ships a polkit rule granting exactly these three actions to the
 * cdpd user (see the man page); without it the power-off fails with
 * "Interactive authentication required" / AccessDenied, which cdpd logs and
 * retries.
 *
 * Guards, so that `make check` can never power off the machine it runs on:
 *   - CDPD_TEST_POWEROFF_FILE=<path> in the environment: the default only
 *     appends one line "poweroff <reason>" to that file (integration tests);
 *   - otherwise the default refuses (-EPERM) unless the instance metadata
 *     service is the real one (AWS_EC2_METADATA_SERVICE_ENDPOINT unset, or
 *     http://169.254.169.254 or http://[fd00:ec2::254]): every test runs
 *     cdpd against the simulator's IMDS on 127.0.0.1, and an instance whose
 *     identity did not come from EC2 has no business powering itself off;
 *   - unit tests install a recording implementation. */

typedef struct sd_event sd_event;
typedef struct PoweroffRequest PoweroffRequest;

/* error 0: logind accepted (the machine is going down); otherwise a negative
 * errno with detail (borrowed for the call) saying why. */
typedef void (*PoweroffDoneFn)(int error, const char *detail, void *userdata);

/* Starts a power-off. Returns 0 when asked (done runs later from the loop,
 * or never for an implementation that cannot tell), or a negative errno
 * with *reterr_detail (caller frees; may be NULL) when it could not even
 * ask. *ret (may be NULL) is a handle for poweroff_cancel() while done has
 * not run; it stays NULL for implementations that have nothing to cancel. */
typedef int (*PoweroffFn)(sd_event *event, const char *reason, PoweroffDoneFn done, void *userdata,
                          PoweroffRequest **ret, char **reterr_detail);

/* NULL restores the default. */
void poweroff_set_impl(PoweroffFn impl);

int poweroff_request(sd_event *event, const char *reason, PoweroffDoneFn done, void *userdata,
                     PoweroffRequest **ret, char **reterr_detail);

/* Drops a pending request: done is not called. NULL-safe. (The power-off
 * itself, once logind has it, cannot be taken back.) */
void poweroff_cancel(PoweroffRequest *r);

/* The default implementation (logind), also usable directly. */
int poweroff_logind(sd_event *event, const char *reason, PoweroffDoneFn done, void *userdata,
                    PoweroffRequest **ret, char **reterr_detail);

/* Whether the IMDS endpoint is EC2's own (the second guard above). */
bool poweroff_imds_is_real(const char *endpoint);
