/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utmpx.h>

#include "cdp/imds.h"
#include "cdp/macro.h"
#include "cdp/strbuf.h"
#include "poweroff.h"
#include "wall.h"

#define WALL_MESSAGE_MAX 1024

static WallSinkFn wall_sink = NULL;
static void *wall_sink_userdata = NULL;

void wall_set_sink(WallSinkFn sink, void *userdata) {
        wall_sink = sink;
        wall_sink_userdata = userdata;
}

static bool all_digits(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

static bool all_alnum(const char *s) {
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
                        return false;
        return true;
}

bool wall_tty_line_valid(const char *line) {
        if (!line)
                return false;
        if (strncmp(line, "pts/", 4) == 0)
                return strlen(line + 4) <= 10 && all_digits(line + 4);
        /* "tty" alone is the controlling terminal of whoever opens it: never. */
        if (strncmp(line, "tty", 3) == 0)
                return line[3] != '\0' && strlen(line) <= 16 && all_alnum(line + 3);
        return false;
}

/* The terminal, opened without following any symlink, or -1. */
static int open_tty(int dev_fd, int pts_fd, const char *line) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (strncmp(line, "pts/", 4) == 0) {
                if (pts_fd < 0)
                        return -1;
                fd = openat(pts_fd, line + 4, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
        } else
                fd = openat(dev_fd, line, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -1;
        if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode))
                return -1;
        return TAKE_FD(fd);
}

/* \n becomes \r\n (a raw-mode terminal would not return the carriage);
 * other control characters but \a become '?'. */
static int render(const char *message, StrBuf *out) {
        int r = 0;

        for (const unsigned char *p = (const unsigned char *) message; r >= 0 && *p; p++) {
                if (*p == '\n')
                        r = strbuf_puts(out, "\r\n");
                else if (*p == '\a' || *p >= 0x20)
                        r = *p == 0x7f ? strbuf_putc(out, '?') : strbuf_putc(out, (char) *p);
                else
                        r = strbuf_putc(out, '?');
        }
        return r;
}

int wall_send_utmp(const char *utmp_path, const char *dev_root, const char *message) {
        _cleanup_strbuf_ StrBuf text = STRBUF_INIT(WALL_MESSAGE_MAX * 2);
        _cleanup_close_ int dev_fd = -1, pts_fd = -1, utmp_fd = -1;
        struct utmpx *u;
        int n = 0, r;

        if (!message)
                return -EINVAL;
        r = render(message, &text);
        if (r < 0)
                return r;

        dev_fd = open(dev_root ?: "/dev", O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dev_fd < 0)
                return negative_errno();
        pts_fd = openat(dev_fd, "pts", O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        /* No /dev/pts: virtual consoles may still be there. */

        /* glibc's setutxent() swallows the open() error (a missing utmp
         * reads as nobody logged in): look first. */
        utmp_fd = open(utmp_path ?: _PATH_UTMPX, O_RDONLY | O_CLOEXEC);
        if (utmp_fd < 0)
                return negative_errno();
        if (utmp_path && utmpxname(utmp_path) < 0)
                return -ENOENT;
        setutxent();
        while ((u = getutxent())) {
                char line[sizeof(u->ut_line) + 1];
                _cleanup_close_ int fd = -1;
                ssize_t k;

                if (u->ut_type != USER_PROCESS)
                        continue;
                memcpy(line, u->ut_line, sizeof(u->ut_line));
                line[sizeof(u->ut_line)] = '\0';
                if (!wall_tty_line_valid(line))
                        continue;
                fd = open_tty(dev_fd, pts_fd, line);
                if (fd < 0)
                        continue;
                k = write(fd, text.data, text.len);
                if (k > 0)
                        n++;
        }
        endutxent();
        if (utmp_path)
                (void) utmpxname(_PATH_UTMPX);
        return n;
}

/* Test hook: append the message to a file instead. */
static int append_to_file(const char *path, const char *message) {
        _cleanup_close_ int fd = -1;
        size_t n = strlen(message);

        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return negative_errno();
        if (write(fd, message, n) != (ssize_t) n)
                return -EIO;
        return 1;
}

int wall_send(const char *message) {
        const char *file, *endpoint = NULL;

        if (!message)
                return -EINVAL;
        if (wall_sink)
                return wall_sink(message, wall_sink_userdata);
        file = secure_getenv("CDPD_TEST_WALL_FILE");
        if (file && *file)
                return append_to_file(file, message);
        /* Against a simulator (tests, the demo) the terminals are a
         * developer's: leave them alone. */
        if (imds_endpoint_from_env(&endpoint) < 0 || !poweroff_imds_is_real(endpoint))
                return 0;
        return wall_send_utmp(NULL, NULL, message);
}
