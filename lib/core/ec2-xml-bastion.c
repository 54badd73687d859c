/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/ec2-bastion.h"

/* Allocate a result struct and parse into it. */
static int parse_new(const char *body, size_t len, const char *const *roots, const Ec2XmlSchema *schema,
                     void **ret) {
        _cleanup_free_ void *doc = NULL;
        int r;

        doc = calloc(1, schema->size);
        if (!doc)
                return -ENOMEM;
        r = ec2_xml_parse(body, len, roots, schema, doc);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(doc);
        return 0;
}

/* ------------------------------------------------------------------------
 * DescribeSecurityGroupRules
 * ------------------------------------------------------------------------ */

static void security_group_rule_init(void *item) {
        Ec2SecurityGroupRule *r = item;
        r->from_port = -1;
        r->to_port = -1;
}

static int security_group_rule_finish(void *item) {
        Ec2SecurityGroupRule *r = item;
        /* Without both ids the rule cannot be revoked: not an answer we can use. */
        return r->id && r->group_id ? 0 : -EBADMSG;
}

static const Ec2XmlField security_group_rule_fields[] = {
        EC2_XML_STRING_FIELD("securityGroupRuleId", Ec2SecurityGroupRule, id),
        EC2_XML_STRING_FIELD("groupId", Ec2SecurityGroupRule, group_id),
        EC2_XML_STRING_FIELD("groupOwnerId", Ec2SecurityGroupRule, group_owner_id),
        EC2_XML_BOOL_FIELD("isEgress", Ec2SecurityGroupRule, is_egress),
        EC2_XML_STRING_FIELD("ipProtocol", Ec2SecurityGroupRule, ip_protocol),
        EC2_XML_INT_FIELD("fromPort", Ec2SecurityGroupRule, from_port),
        EC2_XML_INT_FIELD("toPort", Ec2SecurityGroupRule, to_port),
        EC2_XML_STRING_FIELD("cidrIpv4", Ec2SecurityGroupRule, cidr_ipv4),
        EC2_XML_STRING_FIELD("cidrIpv6", Ec2SecurityGroupRule, cidr_ipv6),
        EC2_XML_STRING_FIELD("prefixListId", Ec2SecurityGroupRule, prefix_list_id),
        EC2_XML_STRING_FIELD("referencedGroupInfo/groupId", Ec2SecurityGroupRule, referenced_group_id),
        EC2_XML_STRING_FIELD("description", Ec2SecurityGroupRule, description),
        EC2_XML_LIST_FIELD("tagSet", Ec2SecurityGroupRule, tags, n_tags, Ec2Tag, &ec2_tag_schema,
                           EC2_XML_MAX_NESTED_ITEMS),
};

const Ec2XmlSchema ec2_security_group_rule_schema = {
        .size = sizeof(Ec2SecurityGroupRule),
        .fields = security_group_rule_fields,
        .n_fields = ELEMENTSOF(security_group_rule_fields),
        .init = security_group_rule_init,
        .finish = security_group_rule_finish,
};

void ec2_security_group_rule_done(Ec2SecurityGroupRule *r) {
        ec2_xml_item_done(&ec2_security_group_rule_schema, r);
}

static const Ec2XmlField security_group_rule_page_fields[] = {
        EC2_XML_STRING_FIELD("requestId", Ec2SecurityGroupRulePage, request_id),
        EC2_XML_STRING_FIELD("nextToken", Ec2SecurityGroupRulePage, next_token),
        EC2_XML_LIST_FIELD("securityGroupRuleSet", Ec2SecurityGroupRulePage, rules, n_rules,
                           Ec2SecurityGroupRule, &ec2_security_group_rule_schema, EC2_XML_MAX_ITEMS),
};

const Ec2XmlSchema ec2_security_group_rule_page_schema = {
        .size = sizeof(Ec2SecurityGroupRulePage),
        .fields = security_group_rule_page_fields,
        .n_fields = ELEMENTSOF(security_group_rule_page_fields),
};

int ec2_parse_describe_security_group_rules(const char *body, size_t len, Ec2SecurityGroupRulePage **ret) {
        void *page;
        int r;

        if (!ret)
                return -EINVAL;
        r = parse_new(body, len, EC2_XML_ROOTS("DescribeSecurityGroupRulesResponse"),
                      &ec2_security_group_rule_page_schema, &page);
        if (r < 0)
                return r;
        *ret = page;
        return 0;
}

Ec2SecurityGroupRulePage *ec2_security_group_rule_page_free(Ec2SecurityGroupRulePage *p) {
        ec2_xml_item_done(&ec2_security_group_rule_page_schema, p);
        free(p);
        return NULL;
}

const Ec2SecurityGroupRule *ec2_security_group_rule_find(const Ec2SecurityGroupRulePage *p, const char *id) {
        if (!p || !id)
                return NULL;
        for (size_t i = 0; i < p->n_rules; i++)
                if (strcmp(p->rules[i].id, id) == 0)
                        return &p->rules[i];
        return NULL;
}

/* ------------------------------------------------------------------------
 * RevokeSecurityGroupIngress
 * ------------------------------------------------------------------------ */

/* Only counted: an unknown permission means AWS found no such rule. */
typedef struct UnknownPermission {
        char *ip_protocol;
} UnknownPermission;

static const Ec2XmlField unknown_permission_fields[] = {
        EC2_XML_STRING_FIELD("ipProtocol", UnknownPermission, ip_protocol),
};

static const Ec2XmlSchema unknown_permission_schema = {
        .size = sizeof(UnknownPermission),
        .fields = unknown_permission_fields,
        .n_fields = ELEMENTSOF(unknown_permission_fields),
};

static int revoked_rule_finish(void *item) {
        Ec2RevokedRule *r = item;
        return r->id ? 0 : -EBADMSG;
}

static const Ec2XmlField revoked_rule_fields[] = {
        EC2_XML_STRING_FIELD("securityGroupRuleId", Ec2RevokedRule, id),
        EC2_XML_STRING_FIELD("groupId", Ec2RevokedRule, group_id),
};

static const Ec2XmlSchema revoked_rule_schema = {
        .size = sizeof(Ec2RevokedRule),
        .fields = revoked_rule_fields,
        .n_fields = ELEMENTSOF(revoked_rule_fields),
        .finish = revoked_rule_finish,
};

typedef struct RevokeDocument {
        char *request_id;
        char *ret;
        UnknownPermission *unknown;
        size_t n_unknown;
        Ec2RevokedRule *revoked;
        size_t n_revoked;
} RevokeDocument;

static const Ec2XmlField revoke_document_fields[] = {
        EC2_XML_STRING_FIELD("requestId", RevokeDocument, request_id),
        EC2_XML_STRING_FIELD("return", RevokeDocument, ret),
        EC2_XML_LIST_FIELD("unknownIpPermissionSet", RevokeDocument, unknown, n_unknown, UnknownPermission,
                           &unknown_permission_schema, EC2_XML_MAX_NESTED_ITEMS),
        EC2_XML_LIST_FIELD("revokedSecurityGroupRuleSet", RevokeDocument, revoked, n_revoked, Ec2RevokedRule,
                           &revoked_rule_schema, EC2_XML_MAX_NESTED_ITEMS),
};

static const Ec2XmlSchema revoke_document_schema = {
        .size = sizeof(RevokeDocument),
        .fields = revoke_document_fields,
        .n_fields = ELEMENTSOF(revoke_document_fields),
};

static void revoke_document_done(RevokeDocument *d) {
        ec2_xml_item_done(&revoke_document_schema, d);
}

int ec2_parse_revoke_security_group_ingress(const char *body, size_t len, Ec2RevokeResult **ret) {
        _cleanup_(revoke_document_done) RevokeDocument doc = {};
        Ec2RevokeResult *res;
        bool value;
        int r;

        if (!ret)
                return -EINVAL;
        r = ec2_xml_parse(body, len, EC2_XML_ROOTS("RevokeSecurityGroupIngressResponse"), &revoke_document_schema,
                          &doc);
        if (r < 0)
                return r;
        if (!doc.request_id || !doc.ret)
                return -EBADMSG;
        if (strcmp(doc.ret, "true") == 0)
                value = true;
        else if (strcmp(doc.ret, "false") == 0)
                value = false;
        else
                return -EBADMSG;

        res = calloc(1, sizeof(*res));
        if (!res)
                return -ENOMEM;
        *res = (Ec2RevokeResult) {
                .request_id = TAKE_PTR(doc.request_id),
                .ret = value,
                .n_unknown = doc.n_unknown,
                .revoked = TAKE_PTR(doc.revoked),
                .n_revoked = doc.n_revoked,
        };
        doc.n_revoked = 0;
        *ret = res;
        return 0;
}

Ec2RevokeResult *ec2_revoke_result_free(Ec2RevokeResult *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_revoked; i++)
                ec2_xml_item_done(&revoked_rule_schema, &r->revoked[i]);
        free(r->revoked);
        free(r->request_id);
        free(r);
        return NULL;
}

/* ------------------------------------------------------------------------
 * StopInstances / TerminateInstances
 * ------------------------------------------------------------------------ */

static void state_change_init(void *item) {
        Ec2InstanceStateChange *c = item;
        c->current_code = -1;
        c->previous_code = -1;
}

static int state_change_finish(void *item) {
        Ec2InstanceStateChange *c = item;
        return c->instance_id && c->current_state ? 0 : -EBADMSG;
}

static const Ec2XmlField state_change_fields[] = {
        EC2_XML_STRING_FIELD("instanceId", Ec2InstanceStateChange, instance_id),
        EC2_XML_STRING_FIELD("currentState/name", Ec2InstanceStateChange, current_state),
        EC2_XML_INT_FIELD("currentState/code", Ec2InstanceStateChange, current_code),
        EC2_XML_STRING_FIELD("previousState/name", Ec2InstanceStateChange, previous_state),
        EC2_XML_INT_FIELD("previousState/code", Ec2InstanceStateChange, previous_code),
};

static const Ec2XmlSchema state_change_schema = {
        .size = sizeof(Ec2InstanceStateChange),
        .fields = state_change_fields,
        .n_fields = ELEMENTSOF(state_change_fields),
        .init = state_change_init,
        .finish = state_change_finish,
};

void ec2_instance_state_change_done(Ec2InstanceStateChange *c) {
        ec2_xml_item_done(&state_change_schema, c);
}

static int state_changes_finish(void *item) {
        Ec2InstanceStateChanges *c = item;
        return c->request_id ? 0 : -EBADMSG;
}

static const Ec2XmlField state_changes_fields[] = {
        EC2_XML_STRING_FIELD("requestId", Ec2InstanceStateChanges, request_id),
        EC2_XML_LIST_FIELD("instancesSet", Ec2InstanceStateChanges, changes, n_changes, Ec2InstanceStateChange,
                           &state_change_schema, EC2_XML_MAX_ITEMS),
};

static const Ec2XmlSchema state_changes_schema = {
        .size = sizeof(Ec2InstanceStateChanges),
        .fields = state_changes_fields,
        .n_fields = ELEMENTSOF(state_changes_fields),
        .finish = state_changes_finish,
};

int ec2_parse_instance_state_changes(const char *action, const char *body, size_t len,
                                     Ec2InstanceStateChanges **ret) {
        const char *root;
        void *doc;
        int r;

        if (!action || !ret)
                return -EINVAL;
        if (strcmp(action, "StopInstances") == 0)
                root = "StopInstancesResponse";
        else if (strcmp(action, "TerminateInstances") == 0)
                root = "TerminateInstancesResponse";
        else
                return -EINVAL;
        r = parse_new(body, len, EC2_XML_ROOTS(root), &state_changes_schema, &doc);
        if (r < 0)
                return r;
        *ret = doc;
        return 0;
}

Ec2InstanceStateChanges *ec2_instance_state_changes_free(Ec2InstanceStateChanges *c) {
        ec2_xml_item_done(&state_changes_schema, c);
        free(c);
        return NULL;
}

const Ec2InstanceStateChange *ec2_instance_state_changes_find(const Ec2InstanceStateChanges *c,
                                                              const char *instance_id) {
        if (!c || !instance_id)
                return NULL;
        for (size_t i = 0; i < c->n_changes; i++)
                if (strcmp(c->changes[i].instance_id, instance_id) == 0)
                        return &c->changes[i];
        return NULL;
}
