/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/core/ec2-query.c: EC2 Query API parameter building and
 * the form encoding that gets signed and POSTed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* asprintf, strndup, setenv in the harness */
#endif
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cdp/ec2-query.h"

/* Encodes q and compares with the expected body. */
static void assert_encoding(const Ec2Query *q, const char *expected) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);

        assert_int_equal(ec2_query_encode(q, &b), 0);
        assert_string_equal(b.data, expected);
        assert_int_equal(b.len, strlen(expected));
}

static void test_ec2_query_encode__action_only__action_and_version(void **state) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        (void) state;

        assert_int_equal(ec2_query_new(&q, "DescribeRegions"), 0);
        assert_string_equal(ec2_query_action(q), "DescribeRegions");
        assert_int_equal(ec2_query_count(q), 0);
        assert_encoding(q, "Action=DescribeRegions&Version=2016-11-15");
}

static void test_ec2_query_encode__params__in_order_set(void **state) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        (void) state;

        assert_int_equal(ec2_query_new(&q, "ReplaceRoute"), 0);
        assert_int_equal(ec2_query_set(q, "RouteTableId", "rtb-0a1"), 0);
        assert_int_equal(ec2_query_set(q, "DestinationCidrBlock", "192.168.100.10/32"), 0);
        assert_int_equal(ec2_query_set(q, "NetworkInterfaceId", "eni-1"), 0);
        assert_int_equal(ec2_query_count(q), 3);
        assert_encoding(q, "Action=ReplaceRoute&Version=2016-11-15&RouteTableId=rtb-0a1"
                           "&DestinationCidrBlock=192.168.100.10%2F32&NetworkInterfaceId=eni-1");
}

static void test_ec2_query_encode__special_characters__sigv4_percent_encoding(void **state) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        (void) state;

        assert_int_equal(ec2_query_new(&q, "CreateTags"), 0);
        assert_int_equal(ec2_query_set(q, "Tag.1.Key", "cdp:slot"), 0);
        assert_int_equal(ec2_query_set(q, "Tag.1.Value", "a b/c~d-e_f.g"), 0);
        assert_int_equal(ec2_query_set(q, "Tag.2.Key", "Name"), 0);
        /* "é" and "日" as UTF-8 bytes; '+', '=', '&', '%', '*' must not pass through. */
        assert_int_equal(ec2_query_set(q, "Tag.2.Value", "\xc3\xa9\xe6\x97\xa5+=&%*"), 0);
        assert_encoding(q, "Action=CreateTags&Version=2016-11-15"
                           "&Tag.1.Key=cdp%3Aslot"
                           "&Tag.1.Value=a%20b%2Fc~d-e_f.g"
                           "&Tag.2.Key=Name"
                           "&Tag.2.Value=%C3%A9%E6%97%A5%2B%3D%26%25%2A");
}

static void test_ec2_query_encode__empty_value__name_and_equals(void **state) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        (void) state;

        assert_int_equal(ec2_query_new(&q, "CreateTags"), 0);
        assert_int_equal(ec2_query_set(q, "Tag.1.Value", ""), 0);
        assert_encoding(q, "Action=CreateTags&Version=2016-11-15&Tag.1.Value=");
}

static void test_ec2_query_encode__reused_buffer__replaced_not_appended(void **state) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        (void) state;

        assert_int_equal(ec2_query_new(&q, "DescribeTags"), 0);
        assert_int_equal(strbuf_puts(&b, "leftover"), 0);
        assert_int_equal(ec2_query_encode(q, &b), 0);
        assert_string_equal(b.data, "Action=DescribeTags&Version=2016-11-15");
        assert_int_equal(ec2_query_encode(q, &b), 0);
        assert_string_equal(b.data, "Action=DescribeTags&Version=2016-11-15");
}

static void test_ec2_query_encode__buffer_limit__e2big(void **state) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(32);
        (void) state;

        assert_int_equal(ec2_query_new(&q, "DescribeInstances"), 0);
        assert_int_equal(ec2_query_encode(q, &b), -E2BIG);
}

static void test_ec2_query_set__same_name__replaces_in_place(void **state) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        (void) state;

        assert_int_equal(ec2_query_new(&q, "DescribeSnapshots"), 0);
        assert_int_equal(ec2_query_set(q, "MaxResults", "1000"), 0);
        assert_int_equal(ec2_query_set(q, "NextToken", "page2"), 0);
        assert_int_equal(ec2_query_set(q, "OwnerId.1", "self"), 0);
        assert_int_equal(ec2_query_set(q, "NextToken", "page3"), 0);
        assert_int_equal(ec2_query_count(q), 3);
        assert_string_equal(ec2_query_get(q, "NextToken"), "page3");
        assert_encoding(q, "Action=DescribeSnapshots&Version=2016-11-15&MaxResults=1000&NextToken=page3&OwnerId.1=self");
}

static void test_ec2_query_get__absent__null(void **state) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        (void) state;

        assert_int_equal(ec2_query_new(&q, "DescribeSnapshots"), 0);
        assert_null(ec2_query_get(q, "NextToken"));
        assert_int_equal(ec2_query_set(q, "NextTokenX", "a"), 0);
        assert_null(ec2_query_get(q, "NextToken"));
}

static void test_ec2_query_setf__formatted_name__set(void **state) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        char longname[300];
        (void) state;

        assert_int_equal(ec2_query_new(&q, "DeleteSnapshot"), 0);
        assert_int_equal(ec2_query_setf(q, "snap-1", "%s.%u", "SnapshotId", 7u), 0);
        assert_string_equal(ec2_query_get(q, "SnapshotId.7"), "snap-1");
        memset(longname, 'a', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        assert_int_equal(ec2_query_setf(q, "x", "%s", longname), -EINVAL);
        assert_int_equal(ec2_query_count(q), 1);
}

static void test_ec2_query_set_bool_and_uint__values__text(void **state) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        (void) state;

        assert_int_equal(ec2_query_new(&q, "AssociateAddress"), 0);
        assert_int_equal(ec2_query_set_bool(q, "AllowReassociation", true), 0);
        assert_int_equal(ec2_query_set_bool(q, "NoReboot", false), 0);
        assert_int_equal(ec2_query_set_uint(q, "MaxResults", 18446744073709551615ULL), 0);
        assert_int_equal(ec2_query_set_uint(q, "Zero", 0), 0);
        assert_encoding(q, "Action=AssociateAddress&Version=2016-11-15&AllowReassociation=true&NoReboot=false"
                           "&MaxResults=18446744073709551615&Zero=0");
}

static void test_ec2_query_add_filter__several__auto_numbered(void **state) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        const char *ids[] = { "i-0123456789abcdef0" };
        const char *keys[] = { "cdp:managed-by", "cdp:instance-id" };
        const char *states[] = { "completed", "pending", "error" };
        (void) state;

        assert_int_equal(ec2_query_new(&q, "DescribeSnapshots"), 0);
        assert_int_equal(ec2_query_add_filter(q, "resource-id", ids, 1), 0);
        assert_int_equal(ec2_query_add_filter(q, "tag-key", keys, 2), 0);
        assert_int_equal(ec2_query_add_filter(q, "status", states, 3), 0);
        assert_encoding(q, "Action=DescribeSnapshots&Version=2016-11-15"
                           "&Filter.1.Name=resource-id&Filter.1.Value.1=i-0123456789abcdef0"
                           "&Filter.2.Name=tag-key&Filter.2.Value.1=cdp%3Amanaged-by&Filter.2.Value.2=cdp%3Ainstance-id"
                           "&Filter.3.Name=status&Filter.3.Value.1=completed&Filter.3.Value.2=pending"
                           "&Filter.3.Value.3=error");
}

static void test_ec2_query_add_filter__no_values__einval(void **state) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        const char *v[] = { "x" };
        (void) state;

        assert_int_equal(ec2_query_new(&q, "DescribeTags"), 0);
        assert_int_equal(ec2_query_add_filter(q, "key", v, 0), -EINVAL);
        assert_int_equal(ec2_query_add_filter(q, NULL, v, 1), -EINVAL);
        assert_int_equal(ec2_query_count(q), 0);
        /* The failed calls did not use up a filter number. */
        assert_int_equal(ec2_query_add_filter(q, "key", v, 1), 0);
        assert_string_equal(ec2_query_get(q, "Filter.1.Name"), "key");
}

static void test_ec2_query_add_tag_spec__two_specs__numbered(void **state) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        const char *k1[] = { "cdp:managed-by", "Name" };
        const char *v1[] = { "cdpd", "web-1 20260101T0300Z" };
        const char *k2[] = { "cdp:slot" };
        const char *v2[] = { "2026-01-01T03:00:00Z" };
        (void) state;

        assert_int_equal(ec2_query_new(&q, "CreateSnapshots"), 0);
        assert_int_equal(ec2_query_add_tag_spec(q, "snapshot", k1, v1, 2), 0);
        assert_int_equal(ec2_query_add_tag_spec(q, "image", k2, v2, 1), 0);
        assert_encoding(q, "Action=CreateSnapshots&Version=2016-11-15"
                           "&TagSpecification.1.ResourceType=snapshot"
                           "&TagSpecification.1.Tag.1.Key=cdp%3Amanaged-by&TagSpecification.1.Tag.1.Value=cdpd"
                           "&TagSpecification.1.Tag.2.Key=Name&TagSpecification.1.Tag.2.Value=web-1%2020260101T0300Z"
                           "&TagSpecification.2.ResourceType=image"
                           "&TagSpecification.2.Tag.1.Key=cdp%3Aslot"
                           "&TagSpecification.2.Tag.1.Value=2026-01-01T03%3A00%3A00Z");
}

static void test_ec2_query_add_tag_spec__no_tags__einval(void **state) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        const char *k[] = { "a" }, *v[] = { "b" };
        (void) state;

        assert_int_equal(ec2_query_new(&q, "CreateImage"), 0);
        assert_int_equal(ec2_query_add_tag_spec(q, "image", k, v, 0), -EINVAL);
        assert_int_equal(ec2_query_add_tag_spec(q, NULL, k, v, 1), -EINVAL);
        assert_int_equal(ec2_query_count(q), 0);
}

static void test_ec2_query_add_list__values__numbered_from_one(void **state) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        const char *ids[] = { "i-1", "i-2", "i-3" };
        (void) state;

        assert_int_equal(ec2_query_new(&q, "DescribeInstances"), 0);
        assert_int_equal(ec2_query_add_list(q, "InstanceId", ids, 3), 0);
        assert_int_equal(ec2_query_add_list(q, "Empty", ids, 0), 0);
        assert_encoding(q, "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-1&InstanceId.2=i-2&InstanceId.3=i-3");
}

static void test_ec2_query_set_dry_run__toggle__param_set_and_removed(void **state) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        (void) state;

        assert_int_equal(ec2_query_new(&q, "StopInstances"), 0);
        assert_false(ec2_query_is_dry_run(q));
        assert_int_equal(ec2_query_set(q, "InstanceId.1", "i-1"), 0);
        assert_int_equal(ec2_query_set_dry_run(q, true), 0);
        assert_true(ec2_query_is_dry_run(q));
        assert_encoding(q, "Action=StopInstances&Version=2016-11-15&InstanceId.1=i-1&DryRun=true");
        assert_int_equal(ec2_query_set_dry_run(q, false), 0);
        assert_false(ec2_query_is_dry_run(q));
        assert_encoding(q, "Action=StopInstances&Version=2016-11-15&InstanceId.1=i-1");
        /* DryRun=false set by hand is not a dry run. */
        assert_int_equal(ec2_query_set_bool(q, "DryRun", false), 0);
        assert_false(ec2_query_is_dry_run(q));
}

static void test_ec2_query_new__action_kind__idempotent_default(void **state) {
        static const struct {
                const char *action;
                bool idempotent;
        } cases[] = {
                { "DescribeInstances", true },   { "DescribeTags", true },    { "DescribeRouteTables", true },
                { "DescribeSnapshots", true },   { "ReplaceRoute", false },   { "CreateSnapshots", false },
                { "AssociateAddress", false },   { "TerminateInstances", false }, { "Describe", true },
                { "describeInstances", false },
        };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(ec2_query_freep) Ec2Query *q = NULL;

                assert_int_equal(ec2_query_new(&q, cases[i].action), 0);
                if (ec2_query_is_idempotent(q) != cases[i].idempotent)
                        fail_msg("%s: idempotent %d", cases[i].action, ec2_query_is_idempotent(q));
                ec2_query_set_idempotent(q, !cases[i].idempotent);
                assert_int_equal(ec2_query_is_idempotent(q), !cases[i].idempotent);
        }
}

static void test_ec2_query_unset__middle_param__removed_order_kept(void **state) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        (void) state;

        assert_int_equal(ec2_query_new(&q, "DescribeImages"), 0);
        assert_int_equal(ec2_query_set(q, "A", "1"), 0);
        assert_int_equal(ec2_query_set(q, "B", "2"), 0);
        assert_int_equal(ec2_query_set(q, "C", "3"), 0);
        ec2_query_unset(q, "B");
        ec2_query_unset(q, "Missing");
        assert_int_equal(ec2_query_count(q), 2);
        assert_null(ec2_query_get(q, "B"));
        assert_encoding(q, "Action=DescribeImages&Version=2016-11-15&A=1&C=3");
        ec2_query_unset(q, "C");
        ec2_query_unset(q, "A");
        assert_int_equal(ec2_query_count(q), 0);
        assert_encoding(q, "Action=DescribeImages&Version=2016-11-15");
        assert_int_equal(ec2_query_set(q, "B", "again"), 0);
        assert_encoding(q, "Action=DescribeImages&Version=2016-11-15&B=again");
}

static void test_ec2_query_set__invalid_names__einval(void **state) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        char longname[257];
        static const char *const bad[] = {
                "", "a b", "a=b", "a&b", "Tag%2E1", "Name\n", "caf\xc3\xa9", "Action", "Version",
        };
        (void) state;

        assert_int_equal(ec2_query_new(&q, "CreateTags"), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (ec2_query_set(q, bad[i], "v") != -EINVAL)
                        fail_msg("name \"%s\" accepted", bad[i]);
        assert_int_equal(ec2_query_set(q, NULL, "v"), -EINVAL);
        assert_int_equal(ec2_query_set(q, "Name", NULL), -EINVAL);
        memset(longname, 'N', 256);
        longname[256] = '\0';
        assert_int_equal(ec2_query_set(q, longname, "v"), -EINVAL);
        longname[255] = '\0';
        assert_int_equal(ec2_query_set(q, longname, "v"), 0);
        assert_int_equal(ec2_query_count(q), 1);
}

static void test_ec2_query_new__invalid_action__einval(void **state) {
        Ec2Query *q = (Ec2Query *) 0x1;
        (void) state;

        assert_int_equal(ec2_query_new(&q, ""), -EINVAL);
        assert_int_equal(ec2_query_new(&q, NULL), -EINVAL);
        assert_int_equal(ec2_query_new(&q, "Describe Instances"), -EINVAL);
        assert_int_equal(ec2_query_new(&q, "Describe.Instances"), -EINVAL);
        assert_int_equal(ec2_query_new(&q, "Describe&X=1"), -EINVAL);
        assert_int_equal(ec2_query_new(NULL, "DescribeInstances"), -EINVAL);
        assert_ptr_equal(q, (Ec2Query *) 0x1);
}

static void test_ec2_query_set__param_cap__e2big_but_replace_allowed(void **state) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        (void) state;

        assert_int_equal(ec2_query_new(&q, "DeleteSnapshots"), 0);
        for (unsigned i = 1; i <= EC2_QUERY_MAX_PARAMS; i++)
                assert_int_equal(ec2_query_setf(q, "v", "Id.%u", i), 0);
        assert_int_equal(ec2_query_count(q), EC2_QUERY_MAX_PARAMS);
        assert_int_equal(ec2_query_set(q, "OneTooMany", "v"), -E2BIG);
        assert_null(ec2_query_get(q, "OneTooMany"));
        assert_int_equal(ec2_query_count(q), EC2_QUERY_MAX_PARAMS);
        /* Replacing keeps the count, so it still works at the cap. */
        assert_int_equal(ec2_query_set(q, "Id.1024", "w"), 0);
        assert_string_equal(ec2_query_get(q, "Id.1024"), "w");
        /* And unsetting makes room. */
        ec2_query_unset(q, "Id.1");
        assert_int_equal(ec2_query_set(q, "OneTooMany", "v"), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ec2_query_encode__action_only__action_and_version),
                cmocka_unit_test(test_ec2_query_encode__params__in_order_set),
                cmocka_unit_test(test_ec2_query_encode__special_characters__sigv4_percent_encoding),
                cmocka_unit_test(test_ec2_query_encode__empty_value__name_and_equals),
                cmocka_unit_test(test_ec2_query_encode__reused_buffer__replaced_not_appended),
                cmocka_unit_test(test_ec2_query_encode__buffer_limit__e2big),
                cmocka_unit_test(test_ec2_query_set__same_name__replaces_in_place),
                cmocka_unit_test(test_ec2_query_get__absent__null),
                cmocka_unit_test(test_ec2_query_setf__formatted_name__set),
                cmocka_unit_test(test_ec2_query_set_bool_and_uint__values__text),
                cmocka_unit_test(test_ec2_query_add_filter__several__auto_numbered),
                cmocka_unit_test(test_ec2_query_add_filter__no_values__einval),
                cmocka_unit_test(test_ec2_query_add_tag_spec__two_specs__numbered),
                cmocka_unit_test(test_ec2_query_add_tag_spec__no_tags__einval),
                cmocka_unit_test(test_ec2_query_add_list__values__numbered_from_one),
                cmocka_unit_test(test_ec2_query_set_dry_run__toggle__param_set_and_removed),
                cmocka_unit_test(test_ec2_query_new__action_kind__idempotent_default),
                cmocka_unit_test(test_ec2_query_unset__middle_param__removed_order_kept),
                cmocka_unit_test(test_ec2_query_set__invalid_names__einval),
                cmocka_unit_test(test_ec2_query_new__invalid_action__einval),
                cmocka_unit_test(test_ec2_query_set__param_cap__e2big_but_replace_allowed),
        };

        setvbuf(stdout, NULL, _IONBF, 0);
        setvbuf(stderr, NULL, _IONBF, 0);
        return cmocka_run_group_tests_name("ec2-query", tests, NULL, NULL);
}
