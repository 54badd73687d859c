/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/* Warnings to logged-in users, as wall(1) does (SPEC 7: bastion expiry
 * warnings go to the journal and to logged-in users).
 *
 * The default writes the message to the terminal of every USER_PROCESS entry
 * of utmp: /dev/<ut_line>, only when the line is pts/<digits> or
 * tty<letters and digits> (nothing else under /dev, no "..", no extra
 * slashes), opened with O_WRONLY|O_NOCTTY|O_NONBLOCK|O_CLOEXEC|O_NOFOLLOW
 * relative to an O_PATH handle of /dev (and of /dev/pts), so no symlink is
 * ever followed, and written only when it is a character device. A
 * terminal whose owner ran `mesg n` (no group write) is skipped by the
 * permission check itself. Writes never block: a full terminal loses the
 * message.
 *
 * Under systemd/cdpd.service.in the unprivileged cdpd user needs
 * SupplementaryGroups=tty and DeviceAllow=char-pts w (PrivateDevices= keeps
 * /dev/pts, DevicePolicy=closed hides it) to reach pseudo terminals; without
 * them the warning still reaches the journal and wall_send() returns 0.
 *
 * Tests never write to real terminals: unit tests install a sink
 * (wall_set_sink()), integration tests set CDPD_TEST_WALL_FILE=<path> (the
 * message is appended there), and without either the terminals are written
 * only when instance metadata is EC2's own (poweroff_imds_is_real()), so
 * cdpd run against the simulator leaves a developer's terminals alone. */

/* Receives the message instead of the terminals; returns what wall_send()
 * returns. */
typedef int (*WallSinkFn)(const char *message, void *userdata);

/* NULL restores the default. */
void wall_set_sink(WallSinkFn sink, void *userdata);

/* Writes message (one or more lines, no terminal control characters other
 * than \n and \a; anything else is replaced by '?') to every terminal of a
 * logged-in user. Returns the number of terminals written (>= 0), or a
 * negative errno when utmp cannot be read. */
int wall_send(const char *message);

/* The default implementation with its paths, for tests: utmp_path (NULL =
 * the system's), dev_root (NULL = "/dev"). */
int wall_send_utmp(const char *utmp_path, const char *dev_root, const char *message);

/* Whether a utmp ut_line names a terminal wall_send() may open. */
bool wall_tty_line_valid(const char *line);
