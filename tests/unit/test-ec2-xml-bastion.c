/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/core/ec2-xml-bastion.c: the typed answers of
 * DescribeSecurityGroupRules, RevokeSecurityGroupIngress, StopInstances and
 * TerminateInstances, from fixtures shaped like the EC2 API reference, plus
 * truncated and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cdp/ec2-bastion.h"
#include "cdp/strbuf.h"
#include "test-data.h"

/* ---- DescribeSecurityGroupRules ---- */

static void test_describe_security_group_rules__fixture__all_fields(void **state) {
        _cleanup_(ec2_security_group_rule_page_freep) Ec2SecurityGroupRulePage *p = NULL;
        _cleanup_free_ char *body = NULL;
        const Ec2SecurityGroupRule *r;
        size_t len;

        (void) state;
        body = test_fixture_read("bastion-describe-security-group-rules.xml", &len);
        assert_int_equal(ec2_parse_describe_security_group_rules(body, len, &p), 0);
        assert_string_equal(p->request_id, "c4b7a1f2-3d5e-4f60-8a9b-0c1d2e3fEXAMPLE");
        assert_string_equal(p->next_token, "eyJ2IjoxLCJjIjoic2dyIn0=");
        assert_int_equal(p->n_rules, 3);

        r = &p->rules[0];
        assert_string_equal(r->id, "sgr-0123456789abcdef0");
        assert_string_equal(r->group_id, "sg-0aaaa1111bbbb2222");
        assert_string_equal(r->group_owner_id, "123456789012");
        assert_false(r->is_egress);
        assert_string_equal(r->ip_protocol, "tcp");
        assert_int_equal(r->from_port, 22);
        assert_int_equal(r->to_port, 22);
        assert_string_equal(r->cidr_ipv4, "203.0.113.7/32");
        assert_null(r->cidr_ipv6);
        assert_null(r->referenced_group_id);
        assert_string_equal(r->description, "temporary SSH for the on-call engineer");
        assert_int_equal(r->n_tags, 1);
        assert_string_equal(r->tags[0].key, "Name");
        assert_string_equal(r->tags[0].value, "oncall-ssh");

        r = &p->rules[1];
        assert_string_equal(r->group_id, "sg-0cccc3333dddd4444");
        assert_string_equal(r->ip_protocol, "-1");
        assert_int_equal(r->from_port, -1);
        assert_int_equal(r->to_port, -1);
        assert_string_equal(r->referenced_group_id, "sg-0eeee5555ffff6666");
        assert_null(r->cidr_ipv4);
        assert_null(r->description);
        assert_int_equal(r->n_tags, 0);

        r = &p->rules[2];
        assert_true(r->is_egress);
        assert_string_equal(r->cidr_ipv6, "::/0");
}

static void test_describe_security_group_rules__find__by_id_or_null(void **state) {
        _cleanup_(ec2_security_group_rule_page_freep) Ec2SecurityGroupRulePage *p = NULL;
        _cleanup_free_ char *body = NULL;
        size_t len;

        (void) state;
        body = test_fixture_read("bastion-describe-security-group-rules.xml", &len);
        assert_int_equal(ec2_parse_describe_security_group_rules(body, len, &p), 0);
        assert_ptr_equal(ec2_security_group_rule_find(p, "sgr-0fedcba9876543210"), &p->rules[1]);
        assert_null(ec2_security_group_rule_find(p, "sgr-00000000000000000"));
        assert_null(ec2_security_group_rule_find(p, NULL));
        assert_null(ec2_security_group_rule_find(NULL, "sgr-0fedcba9876543210"));
}

static void test_describe_security_group_rules__empty__no_rules_no_token(void **state) {
        _cleanup_(ec2_security_group_rule_page_freep) Ec2SecurityGroupRulePage *p = NULL;
        _cleanup_free_ char *body = NULL;
        size_t len;

        (void) state;
        body = test_fixture_read("bastion-describe-security-group-rules-empty.xml", &len);
        assert_int_equal(ec2_parse_describe_security_group_rules(body, len, &p), 0);
        assert_int_equal(p->n_rules, 0);
        assert_null(p->next_token);
        assert_non_null(p->request_id);
}

static void test_describe_security_group_rules__broken__ebadmsg_output_untouched(void **state) {
        static const char *const names[] = {
                "bastion-describe-security-group-rules-truncated.xml",
                "bastion-describe-security-group-rules-no-group.xml",
                "bastion-describe-security-group-rules-bad-port.xml",
                "error-unauthorized-operation.xml",
                "bastion-stop-instances.xml",   /* another call's answer */
                "malformed-html-gateway.xml",
        };
        Ec2SecurityGroupRulePage *sentinel = (Ec2SecurityGroupRulePage *) 0x1;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *body = NULL;
                Ec2SecurityGroupRulePage *p = sentinel;
                size_t len;

                body = test_fixture_read(names[i], &len);
                assert_int_equal(ec2_parse_describe_security_group_rules(body, len, &p), -EBADMSG);
                assert_ptr_equal(p, sentinel);
        }
        assert_int_equal(ec2_parse_describe_security_group_rules("x", 1, NULL), -EINVAL);
}

/* ---- RevokeSecurityGroupIngress ---- */

static void test_revoke__fixture__return_and_revoked_rules(void **state) {
        _cleanup_(ec2_revoke_result_freep) Ec2RevokeResult *r = NULL;
        _cleanup_free_ char *body = NULL;
        size_t len;

        (void) state;
        body = test_fixture_read("bastion-revoke-security-group-ingress.xml", &len);
        assert_int_equal(ec2_parse_revoke_security_group_ingress(body, len, &r), 0);
        assert_string_equal(r->request_id, "59dbff89-35bd-4eac-99ed-be587EXAMPLE");
        assert_true(r->ret);
        assert_int_equal(r->n_unknown, 0);
        assert_int_equal(r->n_revoked, 1);
        assert_string_equal(r->revoked[0].id, "sgr-0123456789abcdef0");
        assert_string_equal(r->revoked[0].group_id, "sg-0aaaa1111bbbb2222");
}

static void test_revoke__unknown_permissions__counted(void **state) {
        _cleanup_(ec2_revoke_result_freep) Ec2RevokeResult *r = NULL;
        _cleanup_free_ char *body = NULL;
        size_t len;

        (void) state;
        body = test_fixture_read("bastion-revoke-security-group-ingress-unknown.xml", &len);
        assert_int_equal(ec2_parse_revoke_security_group_ingress(body, len, &r), 0);
        assert_true(r->ret);
        assert_int_equal(r->n_unknown, 1);
        assert_int_equal(r->n_revoked, 0);
}

static void test_revoke__simple_return_false__parsed(void **state) {
        static const char body[] =
                "<RevokeSecurityGroupIngressResponse><requestId>r-1</requestId>"
                "<return>false</return></RevokeSecurityGroupIngressResponse>";
        _cleanup_(ec2_revoke_result_freep) Ec2RevokeResult *r = NULL;

        (void) state;
        assert_int_equal(ec2_parse_revoke_security_group_ingress(body, sizeof(body) - 1, &r), 0);
        assert_false(r->ret);
        assert_string_equal(r->request_id, "r-1");
}

static void test_revoke__broken__ebadmsg(void **state) {
        static const char no_return[] =
                "<RevokeSecurityGroupIngressResponse><requestId>r-1</requestId></RevokeSecurityGroupIngressResponse>";
        static const char no_id[] =
                "<RevokeSecurityGroupIngressResponse><return>true</return></RevokeSecurityGroupIngressResponse>";
        static const char wrong_root[] =
                "<ReplaceRouteResponse><requestId>r</requestId><return>true</return></ReplaceRouteResponse>";
        static const char revoked_without_id[] =
                "<RevokeSecurityGroupIngressResponse><requestId>r</requestId><return>true</return>"
                "<revokedSecurityGroupRuleSet><item><groupId>sg-1</groupId></item></revokedSecurityGroupRuleSet>"
                "</RevokeSecurityGroupIngressResponse>";
        _cleanup_free_ char *bad = NULL;
        Ec2RevokeResult *r = NULL;
        size_t len;

        (void) state;
        bad = test_fixture_read("bastion-revoke-security-group-ingress-bad-return.xml", &len);
        assert_int_equal(ec2_parse_revoke_security_group_ingress(bad, len, &r), -EBADMSG);
        assert_int_equal(ec2_parse_revoke_security_group_ingress(no_return, sizeof(no_return) - 1, &r), -EBADMSG);
        assert_int_equal(ec2_parse_revoke_security_group_ingress(no_id, sizeof(no_id) - 1, &r), -EBADMSG);
        assert_int_equal(ec2_parse_revoke_security_group_ingress(wrong_root, sizeof(wrong_root) - 1, &r), -EBADMSG);
        assert_int_equal(ec2_parse_revoke_security_group_ingress(revoked_without_id, sizeof(revoked_without_id) - 1,
                                                                 &r),
                         -EBADMSG);
        assert_int_equal(ec2_parse_revoke_security_group_ingress(no_id, 20, &r), -EBADMSG);
        assert_null(r);
}

/* ---- StopInstances / TerminateInstances ---- */

static void test_stop_instances__fixture__state_change(void **state) {
        _cleanup_(ec2_instance_state_changes_freep) Ec2InstanceStateChanges *c = NULL;
        _cleanup_free_ char *body = NULL;
        const Ec2InstanceStateChange *ch;
        size_t len;

        (void) state;
        body = test_fixture_read("bastion-stop-instances.xml", &len);
        assert_int_equal(ec2_parse_instance_state_changes("StopInstances", body, len, &c), 0);
        assert_string_equal(c->request_id, "59dbff89-35bd-4eac-99ed-be587EXAMPLE");
        assert_int_equal(c->n_changes, 1);
        ch = ec2_instance_state_changes_find(c, "i-0123456789abcdef0");
        assert_non_null(ch);
        assert_string_equal(ch->current_state, "stopping");
        assert_int_equal(ch->current_code, 64);
        assert_string_equal(ch->previous_state, "running");
        assert_int_equal(ch->previous_code, 16);
        assert_null(ec2_instance_state_changes_find(c, "i-0fedcba9876543210"));
}

static void test_terminate_instances__fixture__shutting_down(void **state) {
        _cleanup_(ec2_instance_state_changes_freep) Ec2InstanceStateChanges *c = NULL;
        _cleanup_free_ char *body = NULL;
        size_t len;

        (void) state;
        body = test_fixture_read("bastion-terminate-instances.xml", &len);
        assert_int_equal(ec2_parse_instance_state_changes("TerminateInstances", body, len, &c), 0);
        assert_int_equal(c->n_changes, 1);
        assert_string_equal(c->changes[0].current_state, "shutting-down");
        assert_int_equal(c->changes[0].current_code, 32);
}

static void test_instance_state_changes__wrong_action_or_root__refused(void **state) {
        _cleanup_free_ char *stop = NULL;
        Ec2InstanceStateChanges *c = NULL;
        size_t len;

        (void) state;
        stop = test_fixture_read("bastion-stop-instances.xml", &len);
        /* a stop answer is not a terminate answer: the root is checked */
        assert_int_equal(ec2_parse_instance_state_changes("TerminateInstances", stop, len, &c), -EBADMSG);
        assert_int_equal(ec2_parse_instance_state_changes("RebootInstances", stop, len, &c), -EINVAL);
        assert_int_equal(ec2_parse_instance_state_changes(NULL, stop, len, &c), -EINVAL);
        assert_null(c);
}

static void test_instance_state_changes__broken__ebadmsg(void **state) {
        static const char *const names[] = {
                "bastion-stop-instances-truncated.xml",
                "bastion-stop-instances-no-state.xml",
                "error-unauthorized-operation.xml",
                "malformed-mismatched-tags.xml",
                "attack-billion-laughs.xml",
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *body = NULL;
                Ec2InstanceStateChanges *c = NULL;
                size_t len;
                int r;

                body = test_fixture_read(names[i], &len);
                r = ec2_parse_instance_state_changes("StopInstances", body, len, &c);
                assert_true(r == -EBADMSG || r == -E2BIG);
                assert_null(c);
        }
}

static void test_instance_state_changes__no_request_id__ebadmsg(void **state) {
        static const char body[] = "<StopInstancesResponse><instancesSet/></StopInstancesResponse>";
        Ec2InstanceStateChanges *c = NULL;

        (void) state;
        assert_int_equal(ec2_parse_instance_state_changes("StopInstances", body, sizeof(body) - 1, &c), -EBADMSG);
        assert_null(c);
}

/* Every prefix of a good answer is refused, never half-read. */
static void test_all_parsers__every_truncation__refused(void **state) {
        static const char *const names[] = {
                "bastion-describe-security-group-rules.xml",
                "bastion-revoke-security-group-ingress.xml",
                "bastion-stop-instances.xml",
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *body = NULL;
                size_t len;

                body = test_fixture_read(names[i], &len);
                /* The closing tag of the root is the last thing that makes it whole. */
                while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == ' '))
                        len--;
                for (size_t cut = 0; cut < len; cut++) {
                        int r;
                        if (i == 0) {
                                Ec2SecurityGroupRulePage *p = NULL;
                                r = ec2_parse_describe_security_group_rules(body, cut, &p);
                                assert_null(p);
                        } else if (i == 1) {
                                Ec2RevokeResult *p = NULL;
                                r = ec2_parse_revoke_security_group_ingress(body, cut, &p);
                                assert_null(p);
                        } else {
                                Ec2InstanceStateChanges *p = NULL;
                                r = ec2_parse_instance_state_changes("StopInstances", body, cut, &p);
                                assert_null(p);
                        }
                        if (r >= 0)
                                fail_msg("%s cut at %zu was accepted", names[i], cut);
                }
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_describe_security_group_rules__fixture__all_fields),
                cmocka_unit_test(test_describe_security_group_rules__find__by_id_or_null),
                cmocka_unit_test(test_describe_security_group_rules__empty__no_rules_no_token),
                cmocka_unit_test(test_describe_security_group_rules__broken__ebadmsg_output_untouched),
                cmocka_unit_test(test_revoke__fixture__return_and_revoked_rules),
                cmocka_unit_test(test_revoke__unknown_permissions__counted),
                cmocka_unit_test(test_revoke__simple_return_false__parsed),
                cmocka_unit_test(test_revoke__broken__ebadmsg),
                cmocka_unit_test(test_stop_instances__fixture__state_change),
                cmocka_unit_test(test_terminate_instances__fixture__shutting_down),
                cmocka_unit_test(test_instance_state_changes__wrong_action_or_root__refused),
                cmocka_unit_test(test_instance_state_changes__broken__ebadmsg),
                cmocka_unit_test(test_instance_state_changes__no_request_id__ebadmsg),
                cmocka_unit_test(test_all_parsers__every_truncation__refused),
        };
        return cmocka_run_group_tests_name("ec2-xml-bastion", tests, NULL, NULL);
}
