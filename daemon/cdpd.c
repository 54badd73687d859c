/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <signal.h>

#include "cdp/config.h"
#include "log.h"
#include "manager.h"
#include "probe.h"

static const char *arg_config = CONFIG_DEFAULT_PATH;
static bool arg_config_given = false;
static bool arg_probe = false;
static bool arg_json = false;
static bool arg_check_config = false;

static void help(void) {
        printf("Usage: cdpd [OPTIONS]\n\n"
               "Applies the AWS Cloud Design Patterns to this EC2 instance, driven by its tags.\n\n"
               "  -c, --config FILE   configuration file (default " CONFIG_DEFAULT_PATH ")\n"
               "      --check-config  parse the configuration, report, exit\n"
               "      --probe         resolve identity, credentials, tags and policy once, print, exit\n"
               "      --json          with --probe: machine-readable output\n"
               "  -h, --help          this help\n"
               "      --version       print the version\n");
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_CHECK_CONFIG = 0x100, ARG_PROBE, ARG_JSON, ARG_VERSION };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                { "probe", no_argument, NULL, ARG_PROBE },
                { "json", no_argument, NULL, ARG_JSON },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "c:h", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        arg_config = optarg;
                        arg_config_given = true;
                        break;
                case ARG_CHECK_CONFIG:
                        arg_check_config = true;
                        break;
                case ARG_PROBE:
                        arg_probe = true;
                        break;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("cdpd " PACKAGE_VERSION "\n");
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "cdpd: unexpected argument \"%s\"\n", argv[optind]);
                return -EINVAL;
        }
        if (arg_json && !arg_probe) {
                fprintf(stderr, "cdpd: --json goes with --probe\n");
                return -EINVAL;
        }
        return 1;
}

static int load_config(Config **ret) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        int r;

        r = config_new(&c);
        if (r < 0)
                return r;
        /* The default file may be absent (all defaults); a named one may not. */
        r = config_load(c, arg_config, !arg_config_given, &err);
        if (r >= 0)
                r = config_validate(c, &err);
        if (r < 0) {
                fprintf(stderr, "cdpd: config: %s\n", err ? err : strerror(-r));
                return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

static int run_daemon(Config *config) {
        _cleanup_(manager_freep) Manager *m = NULL;
        sigset_t mask;
        int r;

        log_open();
        /* sd-event takes these as events; SIGCHLD for hook processes. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
                config_free(config);
                return log_error_errno(errno, "cannot block signals"), 1;
        }
        /* A peer that goes away mid-reply must not kill us. */
        (void) signal(SIGPIPE, SIG_IGN);

        r = manager_new(&m, config, arg_config, arg_config_given);
        if (r < 0) {
                config_free(config);
                return log_error_errno(r, "cannot start"), 1;
        }
        r = manager_run(m);
        return r < 0 ? 1 : 0;
}

int main(int argc, char *argv[]) {
        _cleanup_(config_freep) Config *config = NULL;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;

        r = load_config(&config);
        if (r < 0)
                return 1;
        if (arg_check_config) {
                printf("%s: ok\n", arg_config);
                return 0;
        }
        if (arg_probe)
                return probe_run(config, arg_json);

        return run_daemon(TAKE_PTR(config));
}
