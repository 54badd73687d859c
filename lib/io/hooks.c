/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <systemd/sd-event.h>

#include "cdp/hooks.h"

#define HOOKS_MAX 64

struct HookRun {
        sd_event *event;
        char *dir;
        char **names;
        size_t n_names;
        size_t next;
        char **env;
        uint64_t timeout_usec;
        pid_t pid;
        sd_event_source *child;
        sd_event_source *timer;
        sd_event_source *defer;
        bool timed_out;
        unsigned n_run, n_failed;
        HookResultFn result;
        HooksDoneFn done;
        void *userdata;
};

static void strv_free(char **l, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(l[i]);
        free(l);
}

static void run_free(HookRun *h) {
        if (!h)
                return;
        sd_event_source_disable_unref(h->child);
        sd_event_source_disable_unref(h->timer);
        sd_event_source_disable_unref(h->defer);
        if (h->pid > 0) {
                (void) kill(-h->pid, SIGKILL);
                (void) waitpid(h->pid, NULL, 0);
        }
        strv_free(h->names, h->n_names);
        if (h->env)
                for (char **e = h->env; *e; e++)
                        free(*e);
        free(h->env);
        free(h->dir);
        sd_event_unref(h->event);
        free(h);
}

void hooks_cancel(HookRun *h) {
        run_free(h);
}

static bool name_ok(const char *n) {
        size_t len = strlen(n);

        if (len == 0 || len > 200 || n[0] == '.' || n[len - 1] == '~')
                return false;
        if (strstr(n, ".dpkg-") || strstr(n, ".rpm"))
                return false;
        return strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == len;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int list_hooks(HookRun *h) {
        DIR *d;
        struct dirent *de;
        int r = 0;

        d = opendir(h->dir);
        if (!d)
                return errno == ENOENT ? 0 : negative_errno();
        while ((de = readdir(d))) {
                struct stat st;
                char **nn;

                if (!name_ok(de->d_name))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (!S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR) || (st.st_mode & (S_IWGRP | S_IWOTH)))
                        continue;
                if (st.st_uid != 0 && st.st_uid != geteuid())
                        continue;
                if (h->n_names >= HOOKS_MAX)
                        break;
                nn = realloc(h->names, (h->n_names + 1) * sizeof(char *));
                if (!nn) {
                        r = -ENOMEM;
                        break;
                }
                h->names = nn;
                h->names[h->n_names] = strdup(de->d_name);
                if (!h->names[h->n_names]) {
                        r = -ENOMEM;
                        break;
                }
                h->n_names++;
        }
        closedir(d);
        if (h->n_names > 1)
                qsort(h->names, h->n_names, sizeof(char *), cmp_str);
        return r;
}

static void run_next(HookRun *h);

static void finish_one(HookRun *h, int status) {
        h->child = sd_event_source_disable_unref(h->child);
        h->timer = sd_event_source_disable_unref(h->timer);
        h->pid = 0;
        h->n_run++;
        if (status != 0)
                h->n_failed++;
        if (h->result)
                h->result(h->names[h->next], status, h->userdata);
        h->next++;
        run_next(h);
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        HookRun *h = userdata;
        int status;

        (void) s;
        if (h->timed_out)
                status = -ETIMEDOUT;
        else if (si->si_code == CLD_EXITED)
                status = si->si_status;
        else
                status = -EINTR;
        finish_one(h, status);
        return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        HookRun *h = userdata;

        (void) s;
        (void) usec;
        h->timed_out = true;
        /* The hook leads its own process group: take its children too. */
        if (h->pid > 0)
                (void) kill(-h->pid, SIGKILL);
        return 0;
}

static pid_t spawn(HookRun *h, const char *name) {
        _cleanup_free_ char *path = NULL;
        pid_t pid;

        if (asprintf(&path, "%s/%s", h->dir, name) < 0)
                return -ENOMEM;
        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                sigset_t all;
                int fd;

                /* The daemon blocks signals for sd-event; a hook starts clean. */
                sigemptyset(&all);
                (void) sigprocmask(SIG_SETMASK, &all, NULL);
                fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (fd >= 0) {
                        (void) dup2(fd, STDIN_FILENO);
                        if (fd != STDIN_FILENO)
                                (void) close(fd);
                }
                (void) setpgid(0, 0);
                execve(path, (char *[]) { path, NULL }, h->env);
                _exit(127);
        }
        /* Also here: a timeout may come before the child ran its setpgid(). */
        (void) setpgid(pid, pid);
        return pid;
}

static int on_defer_done(sd_event_source *s, void *userdata) {
        HookRun *h = userdata;
        HooksDoneFn done = h->done;
        unsigned n_run = h->n_run, n_failed = h->n_failed;
        void *ud = h->userdata;

        (void) s;
        run_free(h);
        if (done)
                done(n_run, n_failed, ud);
        return 0;
}

static void run_next(HookRun *h) {
        int r;

        while (h->next < h->n_names) {
                pid_t pid;

                h->timed_out = false;
                pid = spawn(h, h->names[h->next]);
                if (pid < 0) {
                        h->n_run++;
                        h->n_failed++;
                        if (h->result)
                                h->result(h->names[h->next], (int) pid, h->userdata);
                        h->next++;
                        continue;
                }
                h->pid = pid;
                r = sd_event_add_child(h->event, &h->child, pid, WEXITED, on_child, h);
                if (r >= 0)
                        r = sd_event_add_time_relative(h->event, &h->timer, CLOCK_MONOTONIC, h->timeout_usec, 0,
                                                       on_timeout, h);
                if (r < 0) {
                        (void) kill(pid, SIGKILL);
                        (void) waitpid(pid, NULL, 0);
                        h->pid = 0;
                        h->child = sd_event_source_disable_unref(h->child);
                        finish_one(h, r);
                }
                return;
        }
        /* Report completion from the loop, never from inside hooks_run(). */
        if (!h->defer && sd_event_add_defer(h->event, &h->defer, on_defer_done, h) < 0)
                on_defer_done(NULL, h);
}

int hooks_run(sd_event *event, const char *dir, const char *event_name, const char *const *extra_env,
              uint64_t timeout_usec, HookResultFn result, HooksDoneFn done, void *userdata, HookRun **ret) {
        HookRun *h;
        size_t n_extra = 0, i = 0;
        int r;

        if (!event || !dir || !event_name)
                return -EINVAL;
        for (const char *const *e = extra_env; e && *e; e++)
                n_extra++;

        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->event = sd_event_ref(event);
        h->timeout_usec = timeout_usec ? timeout_usec : 30 * USEC_PER_SEC;
        h->result = result;
        h->done = done;
        h->userdata = userdata;
        h->dir = strdup(dir);
        h->env = calloc(n_extra + 3, sizeof(char *));
        if (!h->dir || !h->env) {
                run_free(h);
                return -ENOMEM;
        }
        h->env[i] = strdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        if (h->env[i])
                i++;
        if (asprintf(&h->env[i], "CDP_EVENT=%s", event_name) >= 0)
                i++;
        else
                h->env[i] = NULL;
        for (size_t k = 0; k < n_extra; k++) {
                h->env[i] = strdup(extra_env[k]);
                if (h->env[i])
                        i++;
        }
        if (i != n_extra + 2) {
                run_free(h);
                return -ENOMEM;
        }

        r = list_hooks(h);
        if (r < 0) {
                run_free(h);
                return r;
        }
        if (ret)
                *ret = h;
        run_next(h);
        return 0;
}
