/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/core/config.c: cdpd.conf parsing, drop-ins, limits and
 * validation. Files are written under a fresh mkdtemp() directory. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* asprintf, strndup, setenv in the harness */
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cdp/config.h"

#define SEC USEC_PER_SEC
#define MIN_ (60 * USEC_PER_SEC)
#define HOUR (3600 * USEC_PER_SEC)

/* ---- helpers --------------------------------------------------------- */

typedef struct TestDir {
        char path[256];
} TestDir;

static int setup_dir(void **state) {
        TestDir *d = calloc(1, sizeof(*d));
        const char *tmp = getenv("TMPDIR");

        if (!d)
                return -1;
        snprintf(d->path, sizeof(d->path), "%s/test-config.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(d->path)) {
                free(d);
                return -1;
        }
        *state = d;
        return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path);
}

static int teardown_dir(void **state) {
        TestDir *d = *state;

        if (d)
                (void) nftw(d->path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(d);
        return 0;
}

/* Writes len bytes (strlen when len is SIZE_MAX) to dir/name. */
static void write_file(const char *dir, const char *name, const char *text, size_t len) {
        char path[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "we");
        assert_non_null(f);
        if (len == SIZE_MAX)
                len = strlen(text);
        assert_int_equal(fwrite(text, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
}

static void make_dir(const char *dir, const char *name) {
        char path[512];

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        assert_int_equal(mkdir(path, 0755), 0);
}

static int parse(Config *c, const char *text, char **reterr) {
        return config_parse_text(c, text, strlen(text), "test.conf", reterr);
}

static const char *test_data_dir(void) {
        const char *d = getenv("CDP_TEST_DATA");
        return d && *d ? d : "tests/data";
}

/* ---- defaults -------------------------------------------------------- */

static void assert_defaults(const Config *c) {
        assert_null(c->region);
        assert_null(c->ec2_endpoint);
        assert_string_equal(c->tag_prefix, "cdp:");
        assert_int_equal(c->tag_refresh_usec, 60 * SEC);
        assert_string_equal(c->run_dir, "/run/cdpd");
        assert_string_equal(c->hooks_dir, "/etc/cdpd/hooks.d");
        assert_int_equal(c->hook_timeout_usec, 30 * SEC);
        assert_string_equal(c->control_socket, "/run/cdpd/control.sock");
        assert_string_equal(c->control_group, "cdpd");
        assert_int_equal(c->splay_usec, 5 * MIN_);
        assert_int_equal(c->max_inflight, 4);
        assert_int_equal(c->max_attempts, 3);
        assert_int_equal(c->api_timeout_usec, 10 * SEC);
        assert_int_equal(c->takeover_timeout_usec, 20 * SEC);
        assert_null(c->freeze);
        assert_int_equal(c->n_freeze, 0);
        assert_int_equal(c->freeze_timeout_usec, 10 * SEC);
        assert_false(c->manage_local_vip);
        assert_null(c->vip_interface);
        assert_int_equal(c->n_expire_warn, 2);
        assert_int_equal(c->expire_warn_usec[0], 10 * MIN_);
        assert_int_equal(c->expire_warn_usec[1], 1 * MIN_);
        assert_int_equal(c->expire_grace_usec, 10 * MIN_);
        assert_true(c->expire_fallback_poweroff);
        assert_int_equal(c->bastion_max_lifetime_usec, 24 * HOUR);
        assert_string_equal(c->log_level, "info");
}

static void test_config_new__nothing_parsed__documented_defaults(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        (void) state;

        assert_int_equal(config_new(&c), 0);
        assert_defaults(c);
        assert_int_equal(config_validate(c, &err), 0);
        assert_null(err);
}

static void test_config_parse_text__empty_text__defaults_kept(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        (void) state;

        assert_int_equal(config_new(&c), 0);
        assert_int_equal(config_parse_text(c, "", 0, "empty.conf", &err), 0);
        assert_int_equal(parse(c, "\n\n# only comments\n; and more\n   \n\t\n", &err), 0);
        assert_null(err);
        assert_defaults(c);
}

/* The shipped sample documents every default: un-commenting each
 * "#key = value" line must give exactly config_new()'s values. */
static void test_config_parse_text__shipped_sample_uncommented__gives_defaults(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL, *path = NULL;
        char line[1024];
        _cleanup_fclose_ FILE *f = NULL;
        unsigned n_keys = 0;
        (void) state;

        if (getenv("CDP_TOP_SRCDIR") && *getenv("CDP_TOP_SRCDIR"))
                assert_true(asprintf(&path, "%s/conf/cdpd.conf", getenv("CDP_TOP_SRCDIR")) > 0);
        else
                assert_true(asprintf(&path, "%s/../../conf/cdpd.conf", test_data_dir()) > 0);
        f = fopen(path, "re");
        if (!f)
                skip();
        assert_int_equal(config_new(&c), 0);
        while (fgets(line, sizeof(line), f)) {
                const char *p = line;
                size_t k = 0;

                if (p[0] != '#')
                        continue;
                p++;
                while ((p[k] >= 'a' && p[k] <= 'z') || (k > 0 && p[k] >= '0' && p[k] <= '9')) {
                        k++;
                        while (p[k] == '_')
                                k++;
                }
                if (k == 0 || strncmp(p + k, " =", 2) != 0)
                        continue;
                assert_int_equal(parse(c, p, &err), 0);
                n_keys++;
        }
        assert_null(err);
        /* Every known key is documented there. */
        {
                unsigned n = 0;
                for (const char *const *k = config_keys; *k; k++)
                        n++;
                assert_int_equal(n_keys, n);
        }
        assert_defaults(c);
}

/* ---- every key, good values ------------------------------------------ */

static void assert_full(const Config *c) {
        assert_string_equal(c->region, "ap-northeast-1");
        assert_string_equal(c->ec2_endpoint, "https://ec2.ap-northeast-1.amazonaws.com");
        assert_string_equal(c->tag_prefix, "acme:");
        assert_int_equal(c->tag_refresh_usec, 2 * MIN_);
        assert_string_equal(c->run_dir, "/run/acme");
        assert_string_equal(c->hooks_dir, "/etc/acme/hooks.d");
        assert_int_equal(c->hook_timeout_usec, 45 * SEC);
        assert_string_equal(c->control_socket, "/run/acme/ctl.sock");
        assert_string_equal(c->control_group, "acme-ops");
        assert_int_equal(c->splay_usec, 0);
        assert_int_equal(c->max_inflight, 8);
        assert_int_equal(c->max_attempts, 5);
        assert_int_equal(c->api_timeout_usec, 5 * SEC);
        assert_int_equal(c->takeover_timeout_usec, 30 * SEC);
        assert_int_equal(c->n_freeze, 2);
        assert_non_null(c->freeze);
        assert_string_equal(c->freeze[0], "/srv/data");
        assert_string_equal(c->freeze[1], "/var/lib/db");
        assert_null(c->freeze[2]);
        assert_int_equal(c->freeze_timeout_usec, 1 * MIN_);
        assert_true(c->manage_local_vip);
        assert_string_equal(c->vip_interface, "eth1");
        assert_int_equal(c->n_expire_warn, 3);
        assert_int_equal(c->expire_warn_usec[0], 1 * HOUR);
        assert_int_equal(c->expire_warn_usec[1], 10 * MIN_);
        assert_int_equal(c->expire_warn_usec[2], 1 * MIN_);
        assert_int_equal(c->expire_grace_usec, 90 * MIN_);
        assert_false(c->expire_fallback_poweroff);
        assert_int_equal(c->bastion_max_lifetime_usec, 48 * HOUR);
        assert_string_equal(c->log_level, "debug");
}

static void test_config_load__fixture_with_every_key__all_parsed(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL, *path = NULL;
        (void) state;

        assert_true(asprintf(&path, "%s/config/full.conf", test_data_dir()) > 0);
        assert_int_equal(config_new(&c), 0);
        assert_int_equal(config_load(c, path, false, &err), 0);
        assert_null(err);
        assert_full(c);
        assert_int_equal(config_validate(c, &err), 0);
}

/* One good value per key; the table must cover config_keys exactly. */
static const struct {
        const char *key;
        const char *good;
        const char *bad;
        const char *reason;     /* part of the message for `bad` */
} key_cases[] = {
        { "region", "eu-west-1", "Europe", "not an AWS region" },
        { "ec2_endpoint", "http://127.0.0.1:5000", "ftp://example.com", "not an http:// or https:// URL" },
        { "tag_prefix", "x:", "cdp", "ending in ':'" },
        { "tag_refresh", "90s", "60", "not a duration" },
        { "run_dir", "/var/run/x", "run/cdpd", "absolute" },
        { "hooks_dir", "/opt/hooks", "/etc/../hooks", "absolute, normalized" },
        { "hook_timeout", "1m", "5x", "not a duration" },
        { "control_socket", "/run/x.sock", NULL, "longer than 107 bytes" },
        { "control_group", "wheel", "Wheel", "not a group name" },
        { "splay", "10m", "-1s", "not a duration" },
        { "max_inflight", "64", "65", "from 1 to 64" },
        { "max_attempts", "1", "0", "from 1 to 10" },
        { "api_timeout", "3s", "0s", "not a duration" },
        { "takeover_timeout", "1m", "1.5s", "not a duration" },
        { "freeze", "/mnt/a", "mnt/a", "not an absolute mount point" },
        { "freeze_timeout", "2m", "soon", "not a duration" },
        { "manage_local_vip", "true", "maybe", "not a boolean" },
        { "vip_interface", "lo", "averyveryverylongname0", "not a network interface name" },
        { "expire_warn", "5m", "10m,shortly", "expire_warn item \"shortly\"" },
        { "expire_grace", "1h", "1H", "not a duration" },
        { "expire_fallback_poweroff", "no", "2", "not a boolean" },
        { "bastion_max_lifetime", "12h", "1y", "not a duration" },
        { "log_level", "warning", "verbose", "not one of debug" },
};

static void test_config_keys__table__covers_every_key(void **state) {
        size_t n = 0;
        (void) state;

        for (const char *const *k = config_keys; *k; k++, n++) {
                bool found = false;
                for (size_t i = 0; i < ELEMENTSOF(key_cases); i++)
                        found = found || strcmp(key_cases[i].key, *k) == 0;
                if (!found)
                        fail_msg("config key \"%s\" has no test case", *k);
        }
        assert_int_equal(n, ELEMENTSOF(key_cases));
}

static void test_config_parse_text__each_key_good_value__accepted(void **state) {
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(key_cases); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *err = NULL, *text = NULL;

                assert_int_equal(config_new(&c), 0);
                assert_true(asprintf(&text, "%s = %s\n", key_cases[i].key, key_cases[i].good) > 0);
                if (parse(c, text, &err) != 0)
                        fail_msg("\"%s\" refused: %s", text, err ? err : "(no message)");
        }
}

static void test_config_parse_text__each_key_bad_value__error_names_file_line_key(void **state) {
        _cleanup_free_ char *long_path = NULL;
        (void) state;

        long_path = malloc(121);
        assert_non_null(long_path);
        long_path[0] = '/';
        memset(long_path + 1, 'p', 119);
        long_path[120] = '\0';

        for (size_t i = 0; i < ELEMENTSOF(key_cases); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *err = NULL, *text = NULL, *prefix = NULL;
                const char *bad = key_cases[i].bad ? key_cases[i].bad : long_path;

                assert_int_equal(config_new(&c), 0);
                /* Two lines of noise first, so the line number is checked. */
                assert_true(asprintf(&text, "# comment\n\n%s = %s\nlog_level = info\n", key_cases[i].key, bad) > 0);
                assert_true(asprintf(&prefix, "test.conf:3: %s: ", key_cases[i].key) > 0);
                assert_int_equal(parse(c, text, &err), -EINVAL);
                assert_non_null(err);
                if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, key_cases[i].reason))
                        fail_msg("key %s: message \"%s\" lacks \"%s\" / \"%s\"", key_cases[i].key, err, prefix,
                                 key_cases[i].reason);
        }
}

static void test_config_parse_text__invalid_utf8_string__error(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        (void) state;

        assert_int_equal(config_new(&c), 0);
        assert_int_equal(parse(c, "hooks_dir = /etc/\xff\xfe\n", &err), -EINVAL);
        assert_non_null(strstr(err, "test.conf:1: hooks_dir: "));
        assert_non_null(strstr(err, "not valid UTF-8"));
        assert_string_equal(c->hooks_dir, "/etc/cdpd/hooks.d");
}

static void test_config_parse_text__aws_prefix__refused(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        (void) state;

        assert_int_equal(config_new(&c), 0);
        assert_int_equal(parse(c, "tag_prefix = AWS:\n", &err), -EINVAL);
        assert_non_null(strstr(err, "test.conf:1: tag_prefix: "));
        assert_string_equal(c->tag_prefix, "cdp:");
}

/* ---- syntax ---------------------------------------------------------- */

static void test_config_parse_text__unknown_key__error_names_key(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        (void) state;

        assert_int_equal(config_new(&c), 0);
        assert_int_equal(parse(c, "region = us-east-1\ncolour = blue\n", &err), -EINVAL);
        assert_string_equal(err, "test.conf:2: unknown key \"colour\"");
}

static void test_config_parse_text__key_case__is_significant(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        (void) state;

        assert_int_equal(config_new(&c), 0);
        assert_int_equal(parse(c, "Region = us-east-1\n", &err), -EINVAL);
        assert_string_equal(err, "test.conf:1: unknown key \"Region\"");
}

static void test_config_parse_text__line_without_equals__error(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        (void) state;

        assert_int_equal(config_new(&c), 0);
        assert_int_equal(parse(c, "\n\n\nregion us-east-1\n", &err), -EINVAL);
        assert_non_null(strstr(err, "test.conf:4: "));
        assert_non_null(strstr(err, "key = value"));
}

static void test_config_parse_text__comments_blanks_spaces_crlf__parsed(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        const char *text =
                "# leading comment\r\n"
                "\r\n"
                "   ; indented comment\n"
                "\t region\t=\t eu-central-1 \t\r\n"
                "max_attempts=7\n"
                "  # region = us-west-2\n"
                "log_level = notice";   /* no final newline */
        (void) state;

        assert_int_equal(config_new(&c), 0);
        assert_int_equal(parse(c, text, &err), 0);
        assert_null(err);
        assert_string_equal(c->region, "eu-central-1");
        assert_int_equal(c->max_attempts, 7);
        assert_string_equal(c->log_level, "notice");
}

static void test_config_parse_text__quoted_values__quotes_removed(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        (void) state;

        assert_int_equal(config_new(&c), 0);
        assert_int_equal(parse(c,
                               "vip_interface = \"eth0\"\n"
                               "hooks_dir = \"/etc/hooks#1\"\n"
                               "log_level = \"err\"\n",
                               &err),
                         0);
        assert_string_equal(c->vip_interface, "eth0");
        assert_string_equal(c->hooks_dir, "/etc/hooks#1");
        assert_string_equal(c->log_level, "err");
}

static void test_config_parse_text__empty_quoted_value__resets_optional(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        (void) state;

        assert_int_equal(config_new(&c), 0);
        assert_int_equal(parse(c, "region = us-east-1\nec2_endpoint = https://x.example\nvip_interface = eth0\n", &err), 0);
        assert_string_equal(c->region, "us-east-1");
        assert_int_equal(parse(c, "region = \"\"\nec2_endpoint =\nvip_interface = \"\"\n", &err), 0);
        assert_null(err);
        assert_null(c->region);
        assert_null(c->ec2_endpoint);
        assert_null(c->vip_interface);
}

static void test_config_parse_text__repeated_key__last_wins(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        (void) state;

        assert_int_equal(config_new(&c), 0);
        assert_int_equal(parse(c, "max_inflight = 2\nfreeze = /a,/b\nmax_inflight = 9\nfreeze = /c\n", &err), 0);
        assert_int_equal(c->max_inflight, 9);
        assert_int_equal(c->n_freeze, 1);
        assert_string_equal(c->freeze[0], "/c");
        assert_null(c->freeze[1]);
}

static void test_config_parse_text__lists__trimmed_and_checked(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        (void) state;

        assert_int_equal(config_new(&c), 0);
        {
                _cleanup_free_ char *err = NULL;
                assert_int_equal(parse(c, "freeze = /a ,\t/b/c , /d\nexpire_warn = 2h, 30m ,5m,1m\n", &err), 0);
                assert_int_equal(c->n_freeze, 3);
                assert_string_equal(c->freeze[0], "/a");
                assert_string_equal(c->freeze[1], "/b/c");
                assert_string_equal(c->freeze[2], "/d");
                assert_int_equal(c->n_expire_warn, 4);
                assert_int_equal(c->expire_warn_usec[0], 2 * HOUR);
                assert_int_equal(c->expire_warn_usec[3], 1 * MIN_);
        }
        {
                _cleanup_free_ char *err = NULL;
                assert_int_equal(parse(c, "freeze = /a,,/b\n", &err), -EINVAL);
                assert_non_null(strstr(err, "test.conf:1: freeze: "));
                assert_non_null(strstr(err, "empty list item"));
                /* The earlier list is kept. */
                assert_int_equal(c->n_freeze, 3);
        }
        {
                _cleanup_free_ char *err = NULL;
                assert_int_equal(parse(c, "expire_warn = 1m,\n", &err), -EINVAL);
                assert_non_null(strstr(err, "test.conf:1: expire_warn: "));
                assert_int_equal(c->n_expire_warn, 4);
        }
        {
                _cleanup_free_ char *err = NULL;
                assert_int_equal(parse(c, "freeze =\nexpire_warn =\n", &err), 0);
                assert_null(c->freeze);
                assert_int_equal(c->n_freeze, 0);
                assert_int_equal(c->n_expire_warn, 0);
        }
}

static void test_config_parse_text__list_over_cap__error(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        char text[1024] = "expire_warn = ";
        (void) state;

        for (unsigned i = 0; i < CONFIG_MAX_LIST + 1; i++)
                snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%um", i ? "," : "", i + 1);
        assert_int_equal(config_new(&c), 0);
        assert_int_equal(parse(c, text, &err), -EINVAL);
        assert_non_null(strstr(err, "test.conf:1: expire_warn: "));
        assert_non_null(strstr(err, "more than 32 items"));
        assert_int_equal(c->n_expire_warn, 2);

        /* Exactly the cap is fine. */
        *strrchr(text, ',') = '\0';
        assert_int_equal(parse(c, text, &err), 0);
        assert_int_equal(c->n_expire_warn, CONFIG_MAX_LIST);
        assert_int_equal(c->expire_warn_usec[CONFIG_MAX_LIST - 1], CONFIG_MAX_LIST * MIN_);
}

/* ---- limits ---------------------------------------------------------- */

static void test_config_parse_text__nul_byte__error(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        static const char text[] = "region = us-east-1\n\0log_level = debug\n";
        (void) state;

        assert_int_equal(config_new(&c), 0);
        assert_int_equal(config_parse_text(c, text, sizeof(text) - 1, "nul.conf", &err), -EINVAL);
        assert_non_null(strstr(err, "nul.conf:"));
        assert_non_null(strstr(err, "NUL byte"));
        /* Nothing of the file was applied. */
        assert_null(c->region);
}

static void test_config_parse_text__oversize__error(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL, *text = NULL;
        (void) state;

        text = malloc(CONFIG_MAX_FILE_SIZE + 1);
        assert_non_null(text);
        memset(text, '\n', CONFIG_MAX_FILE_SIZE + 1);
        assert_int_equal(config_new(&c), 0);
        assert_int_equal(config_parse_text(c, text, CONFIG_MAX_FILE_SIZE + 1, "big.conf", &err), -EINVAL);
        assert_non_null(strstr(err, "big.conf:"));
        assert_non_null(strstr(err, "larger than"));
        free(err);
        err = NULL;
        assert_int_equal(config_parse_text(c, text, CONFIG_MAX_FILE_SIZE, "big.conf", &err), 0);
        assert_null(err);
}

/* ---- files and drop-ins ---------------------------------------------- */

static void test_config_load__dropins__applied_in_lexical_order(void **state) {
        TestDir *d = *state;
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL, *main_path = NULL;
        (void) state;

        write_file(d->path, "cdpd.conf", "region = us-east-1\nmax_inflight = 2\nlog_level = err\n", SIZE_MAX);
        make_dir(d->path, "cdpd.conf.d");
        /* Created out of order, so directory order cannot pass for sorting. */
        write_file(d->path, "cdpd.conf.d/90-last.conf", "max_inflight = 9\n", SIZE_MAX);
        write_file(d->path, "cdpd.conf.d/10-first.conf", "max_inflight = 5\nregion = eu-west-1\n", SIZE_MAX);
        write_file(d->path, "cdpd.conf.d/50-middle.conf", "max_inflight = 7\nregion = ap-south-1\n", SIZE_MAX);
        /* Not drop-ins: wrong suffix, hidden, or a bare ".conf". */
        write_file(d->path, "cdpd.conf.d/99-notes.txt", "this is not a config line\n", SIZE_MAX);
        write_file(d->path, "cdpd.conf.d/.hidden.conf", "bogus\n", SIZE_MAX);
        write_file(d->path, "cdpd.conf.d/.conf", "bogus\n", SIZE_MAX);
        write_file(d->path, "cdpd.conf.d/99-disabled.conf.orig", "bogus\n", SIZE_MAX);

        assert_true(asprintf(&main_path, "%s/cdpd.conf", d->path) > 0);
        assert_int_equal(config_new(&c), 0);
        assert_int_equal(config_load(c, main_path, false, &err), 0);
        assert_null(err);
        assert_int_equal(c->max_inflight, 9);
        assert_string_equal(c->region, "ap-south-1");
        assert_string_equal(c->log_level, "err");       /* main file value, not overridden */
}

static void test_config_load__dropin_bad_value__error_names_dropin(void **state) {
        TestDir *d = *state;
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL, *main_path = NULL, *expected = NULL;

        write_file(d->path, "cdpd.conf", "max_inflight = 2\n", SIZE_MAX);
        make_dir(d->path, "cdpd.conf.d");
        write_file(d->path, "cdpd.conf.d/10-ok.conf", "max_inflight = 3\n", SIZE_MAX);
        write_file(d->path, "cdpd.conf.d/20-bad.conf", "# first\nmax_attempts = 3\nsplay = later\n", SIZE_MAX);
        write_file(d->path, "cdpd.conf.d/30-never.conf", "max_inflight = 30\n", SIZE_MAX);

        assert_true(asprintf(&main_path, "%s/cdpd.conf", d->path) > 0);
        assert_true(asprintf(&expected, "%s/cdpd.conf.d/20-bad.conf:3: splay: ", d->path) > 0);
        assert_int_equal(config_new(&c), 0);
        assert_int_equal(config_load(c, main_path, false, &err), -EINVAL);
        assert_non_null(err);
        assert_true(strncmp(err, expected, strlen(expected)) == 0);
        /* Loading stops at the bad drop-in. */
        assert_int_equal(c->max_inflight, 3);
}

static void test_config_load__bad_main_file__error_names_main_and_skips_dropins(void **state) {
        TestDir *d = *state;
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL, *main_path = NULL, *expected = NULL;

        write_file(d->path, "cdpd.conf", "max_inflight = 2\nmax_inflight = lots\n", SIZE_MAX);
        make_dir(d->path, "cdpd.conf.d");
        write_file(d->path, "cdpd.conf.d/10-ok.conf", "max_attempts = 9\n", SIZE_MAX);

        assert_true(asprintf(&main_path, "%s/cdpd.conf", d->path) > 0);
        assert_true(asprintf(&expected, "%s:2: max_inflight: ", main_path) > 0);
        assert_int_equal(config_new(&c), 0);
        assert_int_equal(config_load(c, main_path, false, &err), -EINVAL);
        assert_true(strncmp(err, expected, strlen(expected)) == 0);
        assert_int_equal(c->max_attempts, 3);
}

static void test_config_load__missing_main_with_missing_ok__defaults_plus_dropins(void **state) {
        TestDir *d = *state;
        _cleanup_(config_freep) Config *c = NULL, *c2 = NULL;
        _cleanup_free_ char *err = NULL, *main_path = NULL, *other = NULL;

        assert_true(asprintf(&other, "%s/absent.conf", d->path) > 0);
        assert_int_equal(config_new(&c2), 0);
        assert_int_equal(config_load(c2, other, true, &err), 0);
        assert_null(err);
        assert_defaults(c2);

        make_dir(d->path, "cdpd.conf.d");
        write_file(d->path, "cdpd.conf.d/10-region.conf", "region = sa-east-1\n", SIZE_MAX);
        assert_true(asprintf(&main_path, "%s/cdpd.conf", d->path) > 0);
        assert_int_equal(config_new(&c), 0);
        assert_int_equal(config_load(c, main_path, true, &err), 0);
        assert_null(err);
        assert_string_equal(c->region, "sa-east-1");
}

static void test_config_load__named_file_missing__enoent_with_path(void **state) {
        TestDir *d = *state;
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL, *path = NULL;

        assert_true(asprintf(&path, "%s/nope.conf", d->path) > 0);
        assert_int_equal(config_new(&c), 0);
        assert_int_equal(config_load(c, path, false, &err), -ENOENT);
        assert_non_null(err);
        assert_true(strncmp(err, path, strlen(path)) == 0);
        assert_non_null(strstr(err, strerror(ENOENT)));
}

static void test_config_load__nul_byte_in_file__error(void **state) {
        TestDir *d = *state;
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL, *path = NULL;

        write_file(d->path, "nul.conf", "region = us-east-1\n\0\n", 21);
        assert_true(asprintf(&path, "%s/nul.conf", d->path) > 0);
        assert_int_equal(config_new(&c), 0);
        assert_int_equal(config_load(c, path, false, &err), -EINVAL);
        assert_true(strncmp(err, path, strlen(path)) == 0);
        assert_non_null(strstr(err, "NUL byte"));
}

static void test_config_load__oversize_file__error(void **state) {
        TestDir *d = *state;
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL, *path = NULL, *text = NULL;

        text = malloc(CONFIG_MAX_FILE_SIZE + 4096);
        assert_non_null(text);
        memset(text, '#', CONFIG_MAX_FILE_SIZE + 4096);
        assert_true(asprintf(&path, "%s/big.conf", d->path) > 0);
        assert_int_equal(config_new(&c), 0);

        /* Exactly the cap: fine. */
        write_file(d->path, "big.conf", text, CONFIG_MAX_FILE_SIZE);
        assert_int_equal(config_load(c, path, false, &err), 0);
        assert_null(err);

        /* One byte more, and far more: refused with the file named. */
        for (size_t extra = 1; extra <= 4096; extra += 4095) {
                write_file(d->path, "big.conf", text, CONFIG_MAX_FILE_SIZE + extra);
                assert_int_equal(config_load(c, path, false, &err), -EINVAL);
                assert_true(strncmp(err, path, strlen(path)) == 0);
                assert_non_null(strstr(err, "larger than"));
                err = mfree(err);
        }
}

static void test_config_load__main_is_directory__error(void **state) {
        TestDir *d = *state;
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL, *path = NULL;

        make_dir(d->path, "dir.conf");
        assert_true(asprintf(&path, "%s/dir.conf", d->path) > 0);
        assert_int_equal(config_new(&c), 0);
        assert_true(config_load(c, path, true, &err) < 0);
        assert_non_null(err);
        assert_true(strncmp(err, path, strlen(path)) == 0);
}

/* ---- validation ------------------------------------------------------ */

static void test_config_validate__short_tag_refresh__error(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        (void) state;

        assert_int_equal(config_new(&c), 0);
        assert_int_equal(parse(c, "tag_refresh = 9s\n", &err), 0);
        assert_int_equal(config_validate(c, &err), -EINVAL);
        assert_non_null(strstr(err, "tag_refresh"));
        err = mfree(err);
        assert_int_equal(parse(c, "tag_refresh = 10s\n", &err), 0);
        assert_int_equal(config_validate(c, &err), 0);
        assert_null(err);
}

static void test_config_validate__api_timeout_over_takeover__error(void **state) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        (void) state;

        assert_int_equal(config_new(&c), 0);
        assert_int_equal(parse(c, "api_timeout = 21s\ntakeover_timeout = 20s\n", &err), 0);
        assert_int_equal(config_validate(c, &err), -EINVAL);
        assert_non_null(strstr(err, "api_timeout"));
        err = mfree(err);
        assert_int_equal(parse(c, "api_timeout = 20s\n", &err), 0);
        assert_int_equal(config_validate(c, &err), 0);
        assert_null(err);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_config_new__nothing_parsed__documented_defaults),
                cmocka_unit_test(test_config_parse_text__empty_text__defaults_kept),
                cmocka_unit_test(test_config_parse_text__shipped_sample_uncommented__gives_defaults),
                cmocka_unit_test(test_config_load__fixture_with_every_key__all_parsed),
                cmocka_unit_test(test_config_keys__table__covers_every_key),
                cmocka_unit_test(test_config_parse_text__each_key_good_value__accepted),
                cmocka_unit_test(test_config_parse_text__each_key_bad_value__error_names_file_line_key),
                cmocka_unit_test(test_config_parse_text__invalid_utf8_string__error),
                cmocka_unit_test(test_config_parse_text__aws_prefix__refused),
                cmocka_unit_test(test_config_parse_text__unknown_key__error_names_key),
                cmocka_unit_test(test_config_parse_text__key_case__is_significant),
                cmocka_unit_test(test_config_parse_text__line_without_equals__error),
                cmocka_unit_test(test_config_parse_text__comments_blanks_spaces_crlf__parsed),
                cmocka_unit_test(test_config_parse_text__quoted_values__quotes_removed),
                cmocka_unit_test(test_config_parse_text__empty_quoted_value__resets_optional),
                cmocka_unit_test(test_config_parse_text__repeated_key__last_wins),
                cmocka_unit_test(test_config_parse_text__lists__trimmed_and_checked),
                cmocka_unit_test(test_config_parse_text__list_over_cap__error),
                cmocka_unit_test(test_config_parse_text__nul_byte__error),
                cmocka_unit_test(test_config_parse_text__oversize__error),
                cmocka_unit_test_setup_teardown(test_config_load__dropins__applied_in_lexical_order, setup_dir,
                                                teardown_dir),
                cmocka_unit_test_setup_teardown(test_config_load__dropin_bad_value__error_names_dropin, setup_dir,
                                                teardown_dir),
                cmocka_unit_test_setup_teardown(test_config_load__bad_main_file__error_names_main_and_skips_dropins,
                                                setup_dir, teardown_dir),
                cmocka_unit_test_setup_teardown(test_config_load__missing_main_with_missing_ok__defaults_plus_dropins,
                                                setup_dir, teardown_dir),
                cmocka_unit_test_setup_teardown(test_config_load__named_file_missing__enoent_with_path, setup_dir,
                                                teardown_dir),
                cmocka_unit_test_setup_teardown(test_config_load__nul_byte_in_file__error, setup_dir, teardown_dir),
                cmocka_unit_test_setup_teardown(test_config_load__oversize_file__error, setup_dir, teardown_dir),
                cmocka_unit_test_setup_teardown(test_config_load__main_is_directory__error, setup_dir, teardown_dir),
                cmocka_unit_test(test_config_validate__short_tag_refresh__error),
                cmocka_unit_test(test_config_validate__api_timeout_over_takeover__error),
        };

        setvbuf(stdout, NULL, _IONBF, 0);
        setvbuf(stderr, NULL, _IONBF, 0);
        return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
