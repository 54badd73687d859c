/* SPDX-License-Identifier: MIT */
#pragma once

/* Typed answers of the EC2 calls the on-demand bastion makes (SPEC 7):
 * DescribeSecurityGroupRules (which group a rule of cdp:expire-revoke
 * belongs to), RevokeSecurityGroupIngress, StopInstances and
 * TerminateInstances. Built on the ec2-xml.h building blocks, with the same
 * error contract (-EBADMSG, -E2BIG, -ENOMEM; outputs written only on
 * success). */

#include <stdbool.h>
#include <stddef.h>

#include "cdp/ec2-xml.h"
#include "cdp/macro.h"

/* ---- DescribeSecurityGroupRules */

typedef struct Ec2SecurityGroupRule {
        char *id;                       /* securityGroupRuleId; never NULL */
        char *group_id;                 /* groupId; never NULL */
        char *group_owner_id;
        bool is_egress;
        char *ip_protocol;              /* "tcp", "udp", "icmp", "-1" */
        int from_port;                  /* -1 when absent (all ports / all protocols) */
        int to_port;
        char *cidr_ipv4;
        char *cidr_ipv6;
        char *prefix_list_id;
        char *referenced_group_id;      /* referencedGroupInfo/groupId */
        char *description;
        Ec2Tag *tags;                   /* tagSet */
        size_t n_tags;
} Ec2SecurityGroupRule;

void ec2_security_group_rule_done(Ec2SecurityGroupRule *r);

typedef struct Ec2SecurityGroupRulePage {
        Ec2SecurityGroupRule *rules;
        size_t n_rules;
        char *next_token;               /* NULL on the last page */
        char *request_id;
} Ec2SecurityGroupRulePage;

/* DescribeSecurityGroupRulesResponse/securityGroupRuleSet/item.
 * Ownership: caller frees *ret with ec2_security_group_rule_page_free(). */
int ec2_parse_describe_security_group_rules(const char *body, size_t len, Ec2SecurityGroupRulePage **ret);
Ec2SecurityGroupRulePage *ec2_security_group_rule_page_free(Ec2SecurityGroupRulePage *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Ec2SecurityGroupRulePage *, ec2_security_group_rule_page_free);

/* The rule with this id in the page, or NULL. Borrowed. */
const Ec2SecurityGroupRule *ec2_security_group_rule_find(const Ec2SecurityGroupRulePage *p, const char *id);

/* ---- RevokeSecurityGroupIngress */

typedef struct Ec2RevokedRule {
        char *id;                       /* securityGroupRuleId; never NULL */
        char *group_id;
} Ec2RevokedRule;

typedef struct Ec2RevokeResult {
        char *request_id;               /* never NULL */
        bool ret;                       /* <return> */
        size_t n_unknown;               /* items in unknownIpPermissionSet: what AWS did not find */
        Ec2RevokedRule *revoked;        /* revokedSecurityGroupRuleSet/item (newer API answers only) */
        size_t n_revoked;
} Ec2RevokeResult;

/* RevokeSecurityGroupIngressResponse. -EBADMSG without requestId or return.
 * Ownership: caller frees *ret with ec2_revoke_result_free(). */
int ec2_parse_revoke_security_group_ingress(const char *body, size_t len, Ec2RevokeResult **ret);
Ec2RevokeResult *ec2_revoke_result_free(Ec2RevokeResult *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Ec2RevokeResult *, ec2_revoke_result_free);

/* ---- StopInstances / TerminateInstances */

typedef struct Ec2InstanceStateChange {
        char *instance_id;              /* never NULL */
        char *current_state;            /* currentState/name: stopping | shutting-down | ... ; never NULL */
        int current_code;               /* currentState/code; -1 when absent */
        char *previous_state;           /* previousState/name */
        int previous_code;
} Ec2InstanceStateChange;

void ec2_instance_state_change_done(Ec2InstanceStateChange *c);

typedef struct Ec2InstanceStateChanges {
        Ec2InstanceStateChange *changes;        /* instancesSet/item */
        size_t n_changes;
        char *request_id;               /* never NULL */
} Ec2InstanceStateChanges;

/* StopInstancesResponse or TerminateInstancesResponse (the root must match
 * `action`: "StopInstances" or "TerminateInstances"; -EINVAL for another).
 * Ownership: caller frees *ret with ec2_instance_state_changes_free(). */
int ec2_parse_instance_state_changes(const char *action, const char *body, size_t len,
                                     Ec2InstanceStateChanges **ret);
Ec2InstanceStateChanges *ec2_instance_state_changes_free(Ec2InstanceStateChanges *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Ec2InstanceStateChanges *, ec2_instance_state_changes_free);

/* The change of this instance, or NULL. Borrowed. */
const Ec2InstanceStateChange *ec2_instance_state_changes_find(const Ec2InstanceStateChanges *c,
                                                              const char *instance_id);

extern const Ec2XmlSchema ec2_security_group_rule_schema;
extern const Ec2XmlSchema ec2_security_group_rule_page_schema;
