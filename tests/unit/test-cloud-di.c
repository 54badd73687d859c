/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/core/cloud-di.c: the env file and tags.json. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "cdp/cloud-di.h"

static Policy *parse(const PolicyTag *tags, size_t n) {
        Policy *p = NULL;

        assert_int_equal(policy_parse(tags, n, "cdp:", &p), 0);
        return p;
}

static void test_env_file__values__quoted_for_environmentfile(void **state) {
        const PolicyTag tags[] = {
                { "cdp:env:B_VAR", "plain" },
                { "cdp:env:A_VAR", "with \"quotes\" and \\ and $HOME and `cmd`" },
                { "cdp:env:EMPTY", "" },
                { "cdp:env:TAB", "a\tb" },
                { "Name", "ignored" },
        };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));
        _cleanup_strbuf_ StrBuf b = {};
        (void) state;

        assert_int_equal(cloud_di_env_file(&p->env, &b), 0);
        assert_string_equal(b.data,
                            "# Written by cdpd from this instance's cdp:env:* tags. Do not edit.\n"
                            "A_VAR=\"with \\\"quotes\\\" and \\\\ and \\$HOME and \\`cmd\\`\"\n"
                            "B_VAR=\"plain\"\n"
                            "EMPTY=\"\"\n"
                            "TAB=\"a\tb\"\n");
}

static void test_env_file__bad_name__left_out(void **state) {
        const PolicyTag tags[] = {
                { "cdp:env:GOOD", "1" },
                { "cdp:env:9BAD", "2" },
                { "cdp:env:LD_PRELOAD", "/tmp/x.so" },
        };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));
        _cleanup_strbuf_ StrBuf b = {};
        (void) state;

        assert_int_equal(cloud_di_env_file(&p->env, &b), 0);
        assert_non_null(strstr(b.data, "GOOD=\"1\"\n"));
        assert_null(strstr(b.data, "9BAD"));
        assert_null(strstr(b.data, "LD_PRELOAD"));
        assert_true(p->n_errors >= 2);
}

static void test_env_file__no_vars__header_only(void **state) {
        _cleanup_(policy_freep) Policy *p = parse(NULL, 0);
        _cleanup_strbuf_ StrBuf b = {};
        (void) state;

        assert_int_equal(cloud_di_env_file(&p->env, &b), 0);
        assert_int_equal(strchr(b.data, '\n') - b.data + 1, (long) b.len);
}

static void test_env_file__shell_reads_back__exact_value(void **state) {
        /* A POSIX shell sourcing the file must see the tag's exact bytes. */
        const char *value = "x \"y\" \\z $HOME `id` 'q'";
        const PolicyTag tags[] = { { "cdp:env:V", value } };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));
        _cleanup_strbuf_ StrBuf b = {};
        char path[] = "/tmp/cdp-env-XXXXXX", cmd[256], out[256] = "";
        FILE *f;
        int fd;
        (void) state;

        assert_int_equal(cloud_di_env_file(&p->env, &b), 0);
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, b.data, b.len), (ssize_t) b.len);
        close(fd);
        snprintf(cmd, sizeof(cmd), "/bin/sh -c '. %s; printf %%s \"$V\"'", path);
        f = popen(cmd, "r");
        assert_non_null(f);
        assert_non_null(fgets(out, sizeof(out), f));
        pclose(f);
        unlink(path);
        assert_string_equal(out, value);
}

static void test_tags_json__all_tags__parse_back(void **state) {
        const char *keys[] = { "Name", "cdp:env:X", "weird \"key\"" };
        const char *values[] = { "web-1", "1", "v/\\" };
        _cleanup_strbuf_ StrBuf b = {};
        struct json_object *root, *tags, *v;
        (void) state;

        assert_int_equal(cloud_di_tags_json("i-0123456789abcdef0", keys, values, 3, &b), 0);
        root = json_tokener_parse(b.data);
        assert_non_null(root);
        assert_true(json_object_object_get_ex(root, "instance_id", &v));
        assert_string_equal(json_object_get_string(v), "i-0123456789abcdef0");
        assert_true(json_object_object_get_ex(root, "tags", &tags));
        assert_int_equal(json_object_object_length(tags), 3);
        assert_true(json_object_object_get_ex(tags, "weird \"key\"", &v));
        assert_string_equal(json_object_get_string(v), "v/\\");
        json_object_put(root);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_env_file__values__quoted_for_environmentfile),
                cmocka_unit_test(test_env_file__bad_name__left_out),
                cmocka_unit_test(test_env_file__no_vars__header_only),
                cmocka_unit_test(test_env_file__shell_reads_back__exact_value),
                cmocka_unit_test(test_tags_json__all_tags__parse_back),
        };
        return cmocka_run_group_tests_name("cloud-di", tests, NULL, NULL);
}
