/* SPDX-License-Identifier: MIT */
/* Control socket round trips (SPEC 11: `cdpctl status` answers in under
 * 5 ms). A child process runs the real control server on sd-event with a
 * `status` handler that answers a reply the size of cdpd's; the parent
 * measures
 *   1. the protocol alone: connect, send the request, read the reply, close;
 *   2. `cdpctl status` end to end: spawn, connect, print, exit
 *      (stdout to /dev/null), as a user or a monitor script runs it.
 *
 * Usage: bench-ctl [PATH-TO-CDPCTL [N]]   (default daemon/cdpctl, N = 1000)
 * Prints median, 90th percentile and maximum of each, in microseconds. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "cdp/macro.h"
#include "cdp/parse-util.h"
#include "ctl-server.h"

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *v, size_t n) {
        qsort(v, n, sizeof(*v), cmp_u64);
        printf("%-34s n=%zu  median %6.0f us  p90 %6.0f us  max %6.0f us\n", what, n, (double) v[n / 2],
               (double) v[n * 9 / 10], (double) v[n - 1]);
}

/* A status answer shaped like cdpd's (about 700 bytes). */
static int h_status(void *userdata, CtlRequest *req, struct json_object *args) {
        static const char *const names[] = { "snapshot", "cloud_di", "floating_ip", "routing_ha", "bastion" };
        struct json_object *o = json_object_new_object(), *patterns = json_object_new_object();

        (void) userdata, (void) args;
        json_object_object_add(o, "version", json_object_new_string("0.1.0"));
        json_object_object_add(o, "ready", json_object_new_boolean(1));
        json_object_object_add(o, "instance_id", json_object_new_string("i-0123456789abcdef0"));
        json_object_object_add(o, "region", json_object_new_string("ap-northeast-1"));
        json_object_object_add(o, "availability_zone", json_object_new_string("ap-northeast-1a"));
        json_object_object_add(o, "network_interface_id", json_object_new_string("eni-0123456789abcdef0"));
        json_object_object_add(o, "endpoint", json_object_new_string("https://ec2.ap-northeast-1.amazonaws.com"));
        json_object_object_add(o, "credentials_source", json_object_new_string("instance-role"));
        json_object_object_add(o, "tags_source", json_object_new_string("imds"));
        json_object_object_add(o, "tags", json_object_new_int(12));
        json_object_object_add(o, "tags_read_at", json_object_new_string("2026-11-21T23:00:00Z"));
        json_object_object_add(o, "tags_changed_at", json_object_new_string("2026-11-21T22:00:00Z"));
        json_object_object_add(o, "tags_error", NULL);
        json_object_object_add(o, "tag_refresh", json_object_new_string("1m"));
        json_object_object_add(o, "policy_errors", json_object_new_int(0));
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                struct json_object *e = json_object_new_object();

                json_object_object_add(e, "enabled", json_object_new_boolean(1));
                json_object_object_add(e, "invalid", json_object_new_boolean(0));
                json_object_object_add(patterns, names[i], e);
        }
        json_object_object_add(o, "patterns", patterns);
        ctl_reply_ok(req, o);
        return 0;
}

static const CtlCommand commands[] = {
        { "status", h_status, NULL },
};

static _noreturn_ void run_server(const char *path) {
        sd_event *e = NULL;
        CtlServer *s = NULL;

        if (sd_event_new(&e) < 0 || ctl_server_new(e, path, getegid(), commands, ELEMENTSOF(commands), NULL, &s) < 0)
                _exit(1);
        (void) sd_event_loop(e);
        _exit(0);
}

static int connect_path(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t n = strlen(path);
        int fd;

        if (n >= sizeof(sa.sun_path))
                return -1;
        memcpy(sa.sun_path, path, n + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        return fd;
}

/* One protocol round trip; returns the reply size or -1. */
static ssize_t round_trip(const char *path) {
        static const char req[] = "{\"command\":\"status\"}\n";
        char buf[8192];
        size_t len = 0;
        int fd = connect_path(path);

        if (fd < 0)
                return -1;
        if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t) sizeof(req) - 1) {
                close(fd);
                return -1;
        }
        for (;;) {
                ssize_t k = recv(fd, buf + len, sizeof(buf) - len, 0);

                if (k <= 0)
                        break;
                len += (size_t) k;
                if (memchr(buf, '\n', len))
                        break;
        }
        close(fd);
        return len > 0 && buf[len - 1] == '\n' ? (ssize_t) len : -1;
}

int main(int argc, char **argv) {
        const char *cdpctl = argc > 1 ? argv[1] : "daemon/cdpctl";
        char dir[] = "/tmp/bench-ctl.XXXXXX", path[128], env[160];
        _cleanup_free_ uint64_t *t = NULL;
        posix_spawn_file_actions_t fa;
        unsigned long n = 1000;
        ssize_t size = -1;
        pid_t server;
        int status, ret = 1;

        if (argc > 2) {
                uint64_t v;

                if (parse_uint64(argv[2], &v) < 0 || v == 0 || v > 1000000) {
                        fprintf(stderr, "usage: bench-ctl [CDPCTL [N]]\n");
                        return 2;
                }
                n = (unsigned long) v;
        }
        if (access(cdpctl, X_OK) < 0) {
                fprintf(stderr, "bench-ctl: %s: %s (build cdpctl first)\n", cdpctl, strerror(errno));
                return 1;
        }
        t = calloc(n, sizeof(*t));
        if (!t || !mkdtemp(dir))
                return 1;
        (void) snprintf(path, sizeof(path), "%s/control.sock", dir);
        (void) snprintf(env, sizeof(env), "CDPD_SOCKET=%s", path);

        server = fork();
        if (server < 0)
                return 1;
        if (server == 0)
                run_server(path);
        for (int i = 0; i < 2000 && size < 0; i++) {
                size = round_trip(path);
                if (size < 0)
                        (void) usleep(1000);
        }
        if (size < 0) {
                fprintf(stderr, "bench-ctl: the server did not come up\n");
                goto finish;
        }
        printf("status reply: %zd bytes\n", size);

        /* warm up both paths (page cache, dynamic loader) */
        for (int i = 0; i < 50; i++)
                (void) round_trip(path);

        for (unsigned long i = 0; i < n; i++) {
                uint64_t start = now_usec();

                if (round_trip(path) < 0) {
                        fprintf(stderr, "bench-ctl: round trip failed\n");
                        goto finish;
                }
                t[i] = now_usec() - start;
        }
        report("protocol round trip", t, n);

        if (posix_spawn_file_actions_init(&fa) != 0 ||
            posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0) != 0)
                goto finish;
        for (unsigned long i = 0; i < n + 20; i++) {
                char *args[] = { (char *) "cdpctl", (char *) "status", NULL };
                char *envp[] = { env, NULL };
                uint64_t start = now_usec();
                pid_t pid;

                if (posix_spawn(&pid, cdpctl, &fa, NULL, args, envp) != 0 || waitpid(pid, &status, 0) != pid ||
                    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        fprintf(stderr, "bench-ctl: cdpctl status failed\n");
                        posix_spawn_file_actions_destroy(&fa);
                        goto finish;
                }
                if (i >= 20)    /* the first runs warm up */
                        t[i - 20] = now_usec() - start;
        }
        posix_spawn_file_actions_destroy(&fa);
        report("cdpctl status (spawn to exit)", t, n);
        ret = 0;

finish:
        (void) kill(server, SIGTERM);
        (void) waitpid(server, &status, 0);
        (void) unlink(path);
        (void) rmdir(dir);
        return ret;
}
