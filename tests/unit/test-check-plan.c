/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/core/check-plan.c: which DryRun calls `cdpctl check`
 * makes for each tag policy, with which parameters and in which order, how
 * answers are classified (allowed / denied / unknown), and the JSON table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "cdp/check-plan.h"

#define IID "i-0123456789abcdef0"
#define ENI "eni-0a1b2c3d4e5f60001"

typedef struct Tag {
        const char *key, *value;
} Tag;

static Policy *parse(const Tag *tags, size_t n) {
        PolicyTag pt[16];
        Policy *p = NULL;

        assert_true(n <= ELEMENTSOF(pt));
        for (size_t i = 0; i < n; i++)
                pt[i] = (PolicyTag) { tags[i].key, tags[i].value };
        assert_int_equal(policy_parse(pt, n, "cdp:", &p), 0);
        return p;
}

static CheckInput input(const Policy *p) {
        return (CheckInput) {
                .policy = p,
                .tag_prefix = "cdp:",
                .instance_id = IID,
                .region = "us-east-1",
                .network_interface_id = ENI,
                .tags_from_imds = true,
                .rules_described = true,
                .now = 1768469400,
        };
}

static CheckPlan *build(const CheckInput *in) {
        CheckPlan *plan = NULL;

        assert_int_equal(check_plan_build(in, &plan), 0);
        return plan;
}

/* "Action@resource" per item, joined by spaces, for whole-table comparisons. */
static char *actions_of(const CheckPlan *plan) {
        StrBuf b = STRBUF_INIT(0);

        for (size_t i = 0; i < plan->n_items; i++) {
                const CheckItem *it = &plan->items[i];
                assert_int_equal(strbuf_printf(&b, "%s%s@%s%s%s", i ? " " : "", it->action, it->resource ?: "-",
                                               it->region ? "/" : "", it->region ?: ""),
                                 0);
        }
        return strbuf_steal(&b) ?: strdup("");
}

static const CheckItem *find(const CheckPlan *plan, const char *action, size_t nth) {
        for (size_t i = 0; i < plan->n_items; i++)
                if (strcmp(plan->items[i].action, action) == 0 && nth-- == 0)
                        return &plan->items[i];
        fail_msg("no %s in the plan", action);
        return NULL;
}

static const char *param(const CheckItem *it, const char *name) {
        assert_non_null(it->query);
        return ec2_query_get(it->query, name);
}

/* ---- which calls ---- */

static void test_build__no_policy__core_only_dry_runs(void **state) {
        _cleanup_(policy_freep) Policy *p = parse(NULL, 0);
        CheckInput in = input(p);
        _cleanup_(check_plan_freep) CheckPlan *plan = build(&in);
        _cleanup_free_ char *s = actions_of(plan);

        (void) state;
        assert_string_equal(s, "DescribeTags@" IID " DescribeInstances@" IID);
        for (size_t i = 0; i < plan->n_items; i++) {
                assert_true(ec2_query_is_dry_run(plan->items[i].query));
                assert_false(plan->items[i].done);
                assert_string_equal(plan->items[i].pattern, "core");
        }
        assert_string_equal(param(&plan->items[0], "Filter.1.Name"), "resource-id");
        assert_string_equal(param(&plan->items[0], "Filter.1.Value.1"), IID);
        assert_string_equal(param(&plan->items[1], "InstanceId.1"), IID);
}

static void test_build__snapshot_ebs_copy_to__placeholder_and_regions(void **state) {
        const Tag tags[] = {
                { "cdp:snapshot", "@daily" },
                { "cdp:snapshot:copy-to", "us-west-2,eu-west-1" },
        };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));
        CheckInput in = input(p);
        _cleanup_(check_plan_freep) CheckPlan *plan = build(&in);
        _cleanup_free_ char *s = actions_of(plan);
        const CheckItem *it;

        (void) state;
        assert_string_equal(s, "DescribeTags@" IID " DescribeInstances@" IID " DescribeVolumes@" IID
                               " CreateSnapshots@" IID " CreateTags@snap-00000000000000000"
                               " DescribeSnapshots@- DeleteSnapshot@snap-00000000000000000"
                               " CopySnapshot@snap-00000000000000000/us-west-2"
                               " CopySnapshot@snap-00000000000000000/eu-west-1");
        it = find(plan, "CreateSnapshots", 0);
        assert_string_equal(param(it, "InstanceSpecification.InstanceId"), IID);
        assert_string_equal(param(it, "TagSpecification.1.ResourceType"), "snapshot");
        assert_string_equal(param(it, "TagSpecification.1.Tag.1.Key"), "cdp:managed-by");
        assert_string_equal(param(it, "TagSpecification.1.Tag.1.Value"), "cdpd");
        assert_string_equal(param(it, "TagSpecification.1.Tag.2.Key"), "cdp:instance-id");
        assert_string_equal(param(it, "TagSpecification.1.Tag.2.Value"), IID);
        assert_false(it->placeholder);

        it = find(plan, "DeleteSnapshot", 0);
        assert_true(it->placeholder);
        assert_string_equal(param(it, "SnapshotId"), CHECK_PLACEHOLDER_SNAPSHOT);

        it = find(plan, "CopySnapshot", 1);
        assert_string_equal(it->region, "eu-west-1");
        assert_string_equal(param(it, "SourceRegion"), "us-east-1");
        assert_string_equal(param(it, "TagSpecification.1.Tag.2.Value"), IID);

        it = find(plan, "DescribeSnapshots", 0);
        assert_string_equal(param(it, "Owner.1"), "self");
        assert_string_equal(param(it, "Filter.1.Name"), "tag:cdp:instance-id");
}

static void test_build__managed_snapshot_known__named_not_placeholder(void **state) {
        const Tag tags[] = { { "cdp:snapshot", "every 6h" } };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));
        CheckInput in = input(p);
        _cleanup_(check_plan_freep) CheckPlan *plan = NULL;
        const CheckItem *it;

        (void) state;
        in.managed_snapshot_id = "snap-0123456789abcdef0";
        plan = build(&in);
        it = find(plan, "DeleteSnapshot", 0);
        assert_false(it->placeholder);
        assert_string_equal(param(it, "SnapshotId"), "snap-0123456789abcdef0");
        it = find(plan, "CreateTags", 0);
        assert_false(it->placeholder);
        assert_string_equal(param(it, "ResourceId.1"), "snap-0123456789abcdef0");
}

static void test_build__snapshot_ami__image_actions(void **state) {
        const Tag tags[] = {
                { "cdp:snapshot", "0 3 * * *" },
                { "cdp:snapshot:type", "ami" },
                { "cdp:snapshot:copy-to", "ap-northeast-1" },
        };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));
        CheckInput in = input(p);
        _cleanup_(check_plan_freep) CheckPlan *plan = NULL;
        _cleanup_free_ char *s = NULL;
        const CheckItem *it;

        (void) state;
        in.managed_image_id = "ami-0123456789abcdef0";
        plan = build(&in);
        s = actions_of(plan);
        assert_string_equal(s, "DescribeTags@" IID " DescribeInstances@" IID " CreateImage@" IID
                               " DescribeImages@- DeregisterImage@ami-0123456789abcdef0"
                               " DeleteSnapshot@snap-00000000000000000"
                               " CopyImage@ami-0123456789abcdef0/ap-northeast-1"
                               " CreateTags@ami-0123456789abcdef0/ap-northeast-1");
        it = find(plan, "CreateImage", 0);
        assert_string_equal(param(it, "InstanceId"), IID);
        assert_string_equal(param(it, "NoReboot"), "true");
        assert_string_equal(param(it, "TagSpecification.1.ResourceType"), "image");
        assert_string_equal(param(it, "TagSpecification.2.ResourceType"), "snapshot");
        it = find(plan, "CopyImage", 0);
        assert_string_equal(param(it, "SourceImageId"), "ami-0123456789abcdef0");
        assert_string_equal(param(it, "SourceRegion"), "us-east-1");
        assert_non_null(param(it, "Name"));
}

static void test_build__floating_ip__elastic_and_private(void **state) {
        const Tag tags[] = { { "cdp:floating-ip", "eipalloc-0abc123def4567890,10.0.1.99" } };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));
        CheckInput in = input(p);
        _cleanup_(check_plan_freep) CheckPlan *plan = build(&in);
        _cleanup_free_ char *s = actions_of(plan);
        const CheckItem *it;

        (void) state;
        assert_string_equal(s, "DescribeTags@" IID " DescribeInstances@" IID " DescribeNetworkInterfaces@" ENI
                               " DescribeAddresses@eipalloc-0abc123def4567890"
                               " AssociateAddress@eipalloc-0abc123def4567890 AssignPrivateIpAddresses@10.0.1.99");
        it = find(plan, "AssociateAddress", 0);
        assert_string_equal(param(it, "AllocationId"), "eipalloc-0abc123def4567890");
        assert_string_equal(param(it, "NetworkInterfaceId"), ENI);
        assert_string_equal(param(it, "AllowReassociation"), "true");
        it = find(plan, "AssignPrivateIpAddresses", 0);
        assert_string_equal(param(it, "PrivateIpAddress.1"), "10.0.1.99");
        assert_string_equal(param(it, "AllowReassignment"), "true");
        assert_string_equal(param(find(plan, "DescribeAddresses", 0), "AllocationId.1"),
                            "eipalloc-0abc123def4567890");
}

static void test_build__no_network_interface__preset_unknown(void **state) {
        const Tag tags[] = {
                { "cdp:floating-ip", "eipalloc-0abc123def4567890" },
                { "cdp:routing-ha", "10.9.0.0/16@rtb-0a1" },
        };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));
        CheckInput in = input(p);
        _cleanup_(check_plan_freep) CheckPlan *plan = NULL;
        const CheckItem *it;

        (void) state;
        in.network_interface_id = NULL;
        plan = build(&in);
        it = find(plan, "AssociateAddress", 0);
        assert_null(it->query);
        assert_true(it->done);
        assert_int_equal(it->result, CHECK_UNKNOWN);
        assert_string_equal(it->code, "NoNetworkInterface");
        assert_true(find(plan, "ReplaceRoute", 0)->done);
        /* describes that need no interface still run */
        assert_non_null(find(plan, "DescribeAddresses", 0)->query);
        assert_non_null(find(plan, "DescribeRouteTables", 0)->query);
        assert_false(check_plan_all_allowed(plan));
}

static void test_build__routing_ha__each_table_once(void **state) {
        const Tag tags[] = {
                { "cdp:routing-ha", "192.168.100.10/32@rtb-0aaa1111bbbb22223+rtb-0ccc3333dddd44445,"
                                    "10.1.0.0/16@rtb-0ccc3333dddd44445" },
        };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));
        CheckInput in = input(p);
        _cleanup_(check_plan_freep) CheckPlan *plan = build(&in);
        _cleanup_free_ char *s = actions_of(plan);
        const CheckItem *it;

        (void) state;
        assert_string_equal(s, "DescribeTags@" IID " DescribeInstances@" IID
                               " DescribeRouteTables@rtb-0aaa1111bbbb22223 ModifyNetworkInterfaceAttribute@" ENI
                               " ReplaceRoute@rtb-0aaa1111bbbb22223 CreateRoute@rtb-0aaa1111bbbb22223"
                               " ReplaceRoute@rtb-0ccc3333dddd44445 CreateRoute@rtb-0ccc3333dddd44445");
        it = find(plan, "DescribeRouteTables", 0);
        assert_string_equal(param(it, "RouteTableId.1"), "rtb-0aaa1111bbbb22223");
        assert_string_equal(param(it, "RouteTableId.2"), "rtb-0ccc3333dddd44445");
        assert_null(param(it, "RouteTableId.3"));
        it = find(plan, "ReplaceRoute", 1);
        assert_string_equal(param(it, "DestinationCidrBlock"), "192.168.100.10/32");
        assert_string_equal(param(it, "NetworkInterfaceId"), ENI);
        it = find(plan, "ModifyNetworkInterfaceAttribute", 0);
        assert_string_equal(param(it, "SourceDestCheck.Value"), "false");
}

static void test_build__bastion_terminate__revoke_per_group(void **state) {
        const Tag tags[] = {
                { "cdp:ttl", "4h" },
                { "cdp:expire-revoke", "sgr-0123456789abcdef0,sgr-0fedcba9876543210,sgr-00000000000000ee1,"
                                       "sgr-0000000000000aaaa" },
        };
        const CheckRuleGroup rules[] = {
                { "sgr-0123456789abcdef0", "sg-0aaaa1111bbbb2222", false },
                { "sgr-0fedcba9876543210", "sg-0cccc3333dddd4444", false },
                { "sgr-00000000000000ee1", "sg-0aaaa1111bbbb2222", true },     /* egress: not revoked here */
                { "sgr-0000000000000aaaa", "sg-0aaaa1111bbbb2222", false },
        };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));
        CheckInput in = input(p);
        _cleanup_(check_plan_freep) CheckPlan *plan = NULL;
        _cleanup_free_ char *s = NULL;
        const CheckItem *it;

        (void) state;
        in.rules = rules;
        in.n_rules = ELEMENTSOF(rules);
        plan = build(&in);
        s = actions_of(plan);
        assert_string_equal(s, "DescribeTags@" IID " DescribeInstances@" IID
                               " DescribeSecurityGroupRules@sgr-0123456789abcdef0"
                               " RevokeSecurityGroupIngress@sg-0aaaa1111bbbb2222"
                               " RevokeSecurityGroupIngress@sg-0cccc3333dddd4444"
                               " TerminateInstances@" IID " CreateTags@" IID);
        it = find(plan, "DescribeSecurityGroupRules", 0);
        assert_string_equal(param(it, "Filter.1.Name"), "security-group-rule-id");
        assert_string_equal(param(it, "Filter.1.Value.4"), "sgr-0000000000000aaaa");
        it = find(plan, "RevokeSecurityGroupIngress", 0);
        assert_string_equal(param(it, "GroupId"), "sg-0aaaa1111bbbb2222");
        assert_string_equal(param(it, "SecurityGroupRuleId.1"), "sgr-0123456789abcdef0");
        assert_string_equal(param(it, "SecurityGroupRuleId.2"), "sgr-0000000000000aaaa");
        assert_null(param(it, "SecurityGroupRuleId.3"));
        it = find(plan, "TerminateInstances", 0);
        assert_string_equal(param(it, "InstanceId.1"), IID);
        it = find(plan, "CreateTags", 0);
        assert_string_equal(param(it, "ResourceId.1"), IID);
        assert_string_equal(param(it, "Tag.1.Key"), "cdp:expires-at");
        assert_string_equal(param(it, "Tag.1.Value"), "2026-01-15T09:30:00Z");
}

static void test_build__bastion_stop_rules_unknown__preset_unknown(void **state) {
        const Tag tags[] = {
                { "cdp:expires-at", "2026-11-21T23:00:00Z" },
                { "cdp:expire-action", "stop" },
                { "cdp:expire-revoke", "sgr-0123456789abcdef0" },
        };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));
        CheckInput in = input(p);
        const CheckItem *it;

        (void) state;
        {
                _cleanup_(check_plan_freep) CheckPlan *plan = NULL;

                in.rules_described = false;
                in.rules_error = "UnauthorizedOperation: no";
                plan = build(&in);
                it = find(plan, "RevokeSecurityGroupIngress", 0);
                assert_true(it->done);
                assert_int_equal(it->result, CHECK_UNKNOWN);
                assert_string_equal(it->code, "NoSecurityGroup");
                assert_non_null(strstr(it->message, "UnauthorizedOperation: no"));
                assert_non_null(find(plan, "StopInstances", 0)->query);
        }
        {
                _cleanup_(check_plan_freep) CheckPlan *plan = NULL;

                /* described, but none exists */
                in.rules_described = true;
                plan = build(&in);
                it = find(plan, "RevokeSecurityGroupIngress", 0);
                assert_int_equal(it->result, CHECK_UNKNOWN);
                assert_string_equal(it->code, "NoSuchRule");
        }
}

static void test_build__invalid_bastion_tags__no_bastion_actions(void **state) {
        const Tag tags[] = {
                { "cdp:expires-at", "soon" },
                { "cdp:expire-revoke", "sgr-0123456789abcdef0" },
        };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));
        CheckInput in = input(p);
        _cleanup_(check_plan_freep) CheckPlan *plan = build(&in);
        _cleanup_free_ char *s = actions_of(plan);

        (void) state;
        assert_string_equal(s, "DescribeTags@" IID " DescribeInstances@" IID);
}

static void test_build__twice__same_order(void **state) {
        const Tag tags[] = {
                { "cdp:snapshot", "@hourly" },
                { "cdp:floating-ip", "10.0.1.50" },
                { "cdp:routing-ha", "0.0.0.0/0@rtb-0b2" },
                { "cdp:ttl", "2h" },
        };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));
        CheckInput in = input(p);
        _cleanup_(check_plan_freep) CheckPlan *a = build(&in);
        _cleanup_(check_plan_freep) CheckPlan *b = build(&in);
        _cleanup_free_ char *sa = actions_of(a), *sb = actions_of(b);

        (void) state;
        assert_string_equal(sa, sb);
        /* patterns come in a fixed order */
        assert_string_equal(a->items[0].pattern, "core");
        assert_string_equal(a->items[2].pattern, "snapshot");
        assert_string_equal(a->items[a->n_items - 1].pattern, "bastion");
}

static void test_build__bad_input__einval(void **state) {
        _cleanup_(policy_freep) Policy *p = parse(NULL, 0);
        CheckInput in = input(p);
        CheckPlan *plan = NULL;

        (void) state;
        in.instance_id = NULL;
        assert_int_equal(check_plan_build(&in, &plan), -EINVAL);
        in = input(NULL);
        assert_int_equal(check_plan_build(&in, &plan), -EINVAL);
        assert_null(plan);
}

/* ---- classification ---- */

static void test_classify__answers__allowed_denied_unknown(void **state) {
        const Tag tags[] = { { "cdp:snapshot", "@daily" }, { "cdp:ttl", "1h" } };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));
        CheckInput in = input(p);
        _cleanup_(check_plan_freep) CheckPlan *plan = build(&in);
        CheckItem *it;

        (void) state;
        it = (CheckItem *) find(plan, "DescribeInstances", 0);
        assert_int_equal(check_item_set_answer(it, EC2_DRY_RUN_OK, "DryRunOperation",
                                               "Request would have succeeded, but DryRun flag is set."),
                         0);
        assert_int_equal(it->result, CHECK_ALLOWED);
        assert_string_equal(it->code, "DryRunOperation");

        it = (CheckItem *) find(plan, "TerminateInstances", 0);
        assert_int_equal(check_item_set_answer(it, EC2_UNAUTHORIZED, "UnauthorizedOperation",
                                               "You are not authorized to perform this operation."),
                         0);
        assert_int_equal(it->result, CHECK_DENIED);
        assert_string_equal(it->code, "UnauthorizedOperation");
        assert_string_equal(it->message, "You are not authorized to perform this operation.");

        /* a denial on a placeholder proves nothing */
        it = (CheckItem *) find(plan, "DeleteSnapshot", 0);
        assert_int_equal(check_item_set_answer(it, EC2_UNAUTHORIZED, "UnauthorizedOperation", "nope"), 0);
        assert_int_equal(it->result, CHECK_UNKNOWN);
        assert_string_equal(it->code, "UnauthorizedOperation");
        assert_non_null(strstr(it->message, "placeholder snap-00000000000000000"));

        it = (CheckItem *) find(plan, "CreateTags", 0);
        assert_int_equal(check_item_set_answer(it, EC2_NOT_FOUND, "InvalidSnapshot.NotFound",
                                               "The snapshot 'snap-00000000000000000' does not exist."),
                         0);
        assert_int_equal(it->result, CHECK_UNKNOWN);
        assert_string_equal(it->code, "InvalidSnapshot.NotFound");
        assert_non_null(strstr(it->message, "not proof"));

        it = (CheckItem *) find(plan, "DescribeVolumes", 0);
        assert_int_equal(check_item_set_answer(it, EC2_THROTTLED, "RequestLimitExceeded", "Request limit exceeded."),
                         0);
        assert_int_equal(it->result, CHECK_UNKNOWN);
        assert_string_equal(it->code, "RequestLimitExceeded");

        it = (CheckItem *) find(plan, "DescribeTags", 0);
        assert_int_equal(check_item_set_answer(it, EC2_NETWORK, NULL, NULL), 0);
        assert_int_equal(it->result, CHECK_UNKNOWN);
        assert_string_equal(it->code, "NetworkError");
        /* tags come from IMDS here: the row says DescribeTags is the fallback */
        assert_non_null(strstr(it->message, "instance metadata"));
        assert_null(find(plan, "DescribeInstances", 0)->note);

        it = (CheckItem *) find(plan, "CreateSnapshots", 0);
        assert_int_equal(check_item_set_answer(it, EC2_OK, NULL, NULL), 0);
        assert_int_equal(it->result, CHECK_UNKNOWN);
}

static void test_table__json_and_summary__counts_and_names(void **state) {
        const Tag tags[] = { { "cdp:ttl", "1h" }, { "cdp:expire-action", "stop" } };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));
        CheckInput in = input(p);
        _cleanup_(check_plan_freep) CheckPlan *plan = build(&in);
        _cleanup_strbuf_ StrBuf sum = STRBUF_INIT(0);
        struct json_object *o = NULL, *checks, *e, *v;
        size_t counts[_CHECK_RESULT_MAX];

        (void) state;
        for (size_t i = 0; i < plan->n_items; i++)
                assert_int_equal(check_item_set_answer(&plan->items[i], EC2_DRY_RUN_OK, "DryRunOperation", "ok"), 0);
        assert_true(check_plan_all_allowed(plan));
        assert_int_equal(check_plan_summary(plan, &sum), 0);
        assert_int_equal(sum.len, 0);

        assert_int_equal(check_item_set_answer((CheckItem *) find(plan, "StopInstances", 0), EC2_UNAUTHORIZED,
                                               "UnauthorizedOperation", "You are not authorized"),
                         0);
        assert_int_equal(check_item_set_answer((CheckItem *) find(plan, "CreateTags", 0), EC2_SERVER, "Unavailable",
                                               "try later"),
                         0);
        check_plan_count(plan, counts);
        assert_int_equal(counts[CHECK_ALLOWED], 2);
        assert_int_equal(counts[CHECK_DENIED], 1);
        assert_int_equal(counts[CHECK_UNKNOWN], 1);
        assert_false(check_plan_all_allowed(plan));
        assert_int_equal(check_plan_summary(plan, &sum), 0);
        assert_string_equal(sum.data,
                            "denied: ec2:StopInstances (" IID "); unknown: ec2:CreateTags (" IID ")");

        assert_int_equal(check_plan_to_json(plan, &o), 0);
        assert_true(json_object_object_get_ex(o, "checks", &checks));
        assert_int_equal(json_object_array_length(checks), plan->n_items);
        e = json_object_array_get_idx(checks, 2);
        assert_true(json_object_object_get_ex(e, "action", &v));
        assert_string_equal(json_object_get_string(v), "StopInstances");
        assert_true(json_object_object_get_ex(e, "iam_action", &v));
        assert_string_equal(json_object_get_string(v), "ec2:StopInstances");
        assert_true(json_object_object_get_ex(e, "result", &v));
        assert_string_equal(json_object_get_string(v), "denied");
        assert_true(json_object_object_get_ex(e, "code", &v));
        assert_string_equal(json_object_get_string(v), "UnauthorizedOperation");
        assert_true(json_object_object_get_ex(e, "resource", &v));
        assert_string_equal(json_object_get_string(v), IID);
        assert_true(json_object_object_get_ex(e, "pattern", &v));
        assert_string_equal(json_object_get_string(v), "bastion");
        assert_false(json_object_object_get_ex(e, "region", &v));
        assert_true(json_object_object_get_ex(o, "denied", &v));
        assert_int_equal(json_object_get_int(v), 1);
        assert_true(json_object_object_get_ex(o, "ok", &v));
        assert_false(json_object_get_boolean(v));
        json_object_put(o);
}

static void test_table__not_done__counts_unknown(void **state) {
        _cleanup_(policy_freep) Policy *p = parse(NULL, 0);
        CheckInput in = input(p);
        _cleanup_(check_plan_freep) CheckPlan *plan = build(&in);
        size_t counts[_CHECK_RESULT_MAX];

        (void) state;
        check_plan_count(plan, counts);
        assert_int_equal(counts[CHECK_UNKNOWN], 2);
        assert_false(check_plan_all_allowed(plan));
}

/* ---- example ids ---- */

static void test_first_id__snapshots_and_images__first_or_null(void **state) {
        static const char snaps[] =
                "<DescribeSnapshotsResponse><requestId>r</requestId><snapshotSet>"
                "<item><snapshotId>snap-0aaaaaaaaaaaaaaa1</snapshotId><status>completed</status></item>"
                "<item><snapshotId>snap-0aaaaaaaaaaaaaaa2</snapshotId></item>"
                "</snapshotSet></DescribeSnapshotsResponse>";
        static const char images[] =
                "<DescribeImagesResponse><requestId>r</requestId><imagesSet><item>"
                "<imageId>ami-0bbbbbbbbbbbbbbb1</imageId><blockDeviceMapping><item><ebs>"
                "<snapshotId>snap-0ccccccccccccccc1</snapshotId></ebs></item></blockDeviceMapping>"
                "</item></imagesSet></DescribeImagesResponse>";
        static const char none[] =
                "<DescribeSnapshotsResponse><requestId>r</requestId><snapshotSet/></DescribeSnapshotsResponse>";
        char *id = (char *) 0x1;

        (void) state;
        assert_int_equal(check_parse_first_snapshot_id(snaps, sizeof(snaps) - 1, &id), 0);
        assert_string_equal(id, "snap-0aaaaaaaaaaaaaaa1");
        free(id);
        assert_int_equal(check_parse_first_image_id(images, sizeof(images) - 1, &id), 0);
        assert_string_equal(id, "ami-0bbbbbbbbbbbbbbb1");
        free(id);
        assert_int_equal(check_parse_first_snapshot_id(none, sizeof(none) - 1, &id), 0);
        assert_null(id);
        id = (char *) 0x1;
        assert_int_equal(check_parse_first_image_id(snaps, sizeof(snaps) - 1, &id), -EBADMSG);
        assert_int_equal(check_parse_first_snapshot_id(snaps, 40, &id), -EBADMSG);
        assert_ptr_equal(id, (char *) 0x1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_build__no_policy__core_only_dry_runs),
                cmocka_unit_test(test_build__snapshot_ebs_copy_to__placeholder_and_regions),
                cmocka_unit_test(test_build__managed_snapshot_known__named_not_placeholder),
                cmocka_unit_test(test_build__snapshot_ami__image_actions),
                cmocka_unit_test(test_build__floating_ip__elastic_and_private),
                cmocka_unit_test(test_build__no_network_interface__preset_unknown),
                cmocka_unit_test(test_build__routing_ha__each_table_once),
                cmocka_unit_test(test_build__bastion_terminate__revoke_per_group),
                cmocka_unit_test(test_build__bastion_stop_rules_unknown__preset_unknown),
                cmocka_unit_test(test_build__invalid_bastion_tags__no_bastion_actions),
                cmocka_unit_test(test_build__twice__same_order),
                cmocka_unit_test(test_build__bad_input__einval),
                cmocka_unit_test(test_classify__answers__allowed_denied_unknown),
                cmocka_unit_test(test_table__json_and_summary__counts_and_names),
                cmocka_unit_test(test_table__not_done__counts_unknown),
                cmocka_unit_test(test_first_id__snapshots_and_images__first_or_null),
        };
        return cmocka_run_group_tests_name("check-plan", tests, NULL, NULL);
}
