/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "cdp/check-plan.h"
#include "cdp/ec2-xml.h"
#include "cdp/parse-util.h"

static const char *const result_names[_CHECK_RESULT_MAX] = {
        [CHECK_ALLOWED] = "allowed",
        [CHECK_DENIED] = "denied",
        [CHECK_UNKNOWN] = "unknown",
};

/* Local names for answers without an AWS code (lib/core does not link the
 * EC2 client, which owns ec2_class_name()). */
static const char *class_code(Ec2ErrorClass cls) {
        switch (cls) {
        case EC2_THROTTLED:
                return "Throttled";
        case EC2_SERVER:
                return "ServerError";
        case EC2_NETWORK:
                return "NetworkError";
        case EC2_TIMEOUT:
                return "Timeout";
        case EC2_MALFORMED:
                return "MalformedResponse";
        case EC2_CREDENTIALS:
                return "CredentialsRejected";
        case EC2_INVALID:
                return "InvalidRequest";
        default:
                return "Error";
        }
}

const char *check_result_to_string(CheckResult r) {
        return (unsigned) r < _CHECK_RESULT_MAX ? result_names[r] : NULL;
}

static void check_item_done(CheckItem *i) {
        free(i->action);
        free(i->region);
        free(i->resource);
        ec2_query_free(i->query);
        free(i->code);
        free(i->message);
}

CheckPlan *check_plan_free(CheckPlan *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_items; i++)
                check_item_done(&p->items[i]);
        free(p->items);
        free(p);
        return NULL;
}

/* ---- building: each helper is a no-op once an error happened, so the
 * per-action code reads as a list of parameters. */

typedef struct Builder {
        const CheckInput *in;
        CheckPlan *plan;
        char *key_managed_by;           /* <prefix>managed-by */
        char *key_instance_id;          /* <prefix>instance-id */
        char *key_expires_at;           /* <prefix>expires-at */
        int error;
} Builder;

static Ec2Query *qnew(Builder *b, const char *action) {
        Ec2Query *q = NULL;
        int r;

        if (b->error)
                return NULL;
        r = ec2_query_new(&q, action);
        if (r >= 0)
                r = ec2_query_set_dry_run(q, true);
        if (r < 0) {
                b->error = r;
                return ec2_query_free(q);
        }
        return q;
}

static void qset(Builder *b, Ec2Query *q, const char *name, const char *value) {
        int r;

        if (b->error || !q)
                return;
        r = ec2_query_set(q, name, value);
        if (r < 0)
                b->error = r;
}

static void qlist(Builder *b, Ec2Query *q, const char *prefix, const char *const *values, size_t n) {
        int r;

        if (b->error || !q || n == 0)
                return;
        r = ec2_query_add_list(q, prefix, values, n);
        if (r < 0)
                b->error = r;
}

static void qfilter(Builder *b, Ec2Query *q, const char *name, const char *value) {
        int r;

        if (b->error || !q)
                return;
        r = ec2_query_add_filter(q, name, &value, 1);
        if (r < 0)
                b->error = r;
}

static void qfilter_tag(Builder *b, Ec2Query *q, const char *key, const char *value) {
        _cleanup_free_ char *name = NULL;

        if (b->error || !q)
                return;
        if (asprintf(&name, "tag:%s", key) < 0) {
                b->error = -ENOMEM;
                return;
        }
        qfilter(b, q, name, value);
}

/* The tags cdpd puts on what it creates (SPEC 5), as a TagSpecification, so
 * IAM conditions on aws:RequestTag see what a real call sends. */
static void qtag_spec(Builder *b, Ec2Query *q, const char *resource_type) {
        const char *keys[] = { b->key_managed_by, b->key_instance_id };
        const char *values[] = { "cdpd", b->in->instance_id };
        int r;

        if (b->error || !q)
                return;
        r = ec2_query_add_tag_spec(q, resource_type, keys, values, ELEMENTSOF(keys));
        if (r < 0)
                b->error = r;
}

static int item_add(Builder *b, const char *pattern, const char *action, const char *resource, bool placeholder,
                    const char *region, Ec2Query *q) {
        _cleanup_(ec2_query_freep) Ec2Query *query = q;
        CheckItem *items, *i;

        if (b->error)
                return b->error;
        items = realloc(b->plan->items, (b->plan->n_items + 1) * sizeof(CheckItem));
        if (!items)
                return (b->error = -ENOMEM);
        b->plan->items = items;
        i = &items[b->plan->n_items];
        *i = (CheckItem) {
                .pattern = pattern,
                .action = strdup(action),
                .resource = resource ? strdup(resource) : NULL,
                .region = region ? strdup(region) : NULL,
                .placeholder = placeholder,
        };
        if (!i->action || (resource && !i->resource) || (region && !i->region)) {
                check_item_done(i);
                return (b->error = -ENOMEM);
        }
        i->query = TAKE_PTR(query);
        b->plan->n_items++;
        return 0;
}

/* An item without a call: its result is known now. */
static int item_add_preset(Builder *b, const char *pattern, const char *action, const char *resource,
                           CheckResult result, const char *code, const char *message) {
        CheckItem *i;
        int r;

        r = item_add(b, pattern, action, resource, false, NULL, NULL);
        if (r < 0)
                return r;
        i = &b->plan->items[b->plan->n_items - 1];
        i->done = true;
        i->result = result;
        i->code = code ? strdup(code) : NULL;
        i->message = message ? strdup(message) : NULL;
        if ((code && !i->code) || (message && !i->message))
                return (b->error = -ENOMEM);
        return 0;
}

static void build_core(Builder *b) {
        const CheckInput *in = b->in;
        Ec2Query *q;

        q = qnew(b, "DescribeTags");
        qfilter(b, q, "resource-id", in->instance_id);
        if (item_add(b, "core", "DescribeTags", in->instance_id, false, NULL, q) >= 0 && in->tags_from_imds)
                b->plan->items[b->plan->n_items - 1].note =
                        "tags are read from instance metadata now; DescribeTags is what cdpd falls back to when "
                        "instance metadata tags are turned off";

        q = qnew(b, "DescribeInstances");
        qlist(b, q, "InstanceId", &in->instance_id, 1);
        item_add(b, "core", "DescribeInstances", in->instance_id, false, NULL, q);
}

static void build_snapshot(Builder *b) {
        const CheckInput *in = b->in;
        const SnapshotPolicy *s = &in->policy->snapshot;
        const char *snap = in->managed_snapshot_id ?: CHECK_PLACEHOLDER_SNAPSHOT;
        const char *image = in->managed_image_id ?: CHECK_PLACEHOLDER_IMAGE;
        bool snap_placeholder = !in->managed_snapshot_id, image_placeholder = !in->managed_image_id;
        Ec2Query *q;

        if (!s->enabled)
                return;

        if (s->type == SNAPSHOT_TYPE_EBS) {
                q = qnew(b, "DescribeVolumes");
                qfilter(b, q, "attachment.instance-id", in->instance_id);
                item_add(b, "snapshot", "DescribeVolumes", in->instance_id, false, NULL, q);

                q = qnew(b, "CreateSnapshots");
                qset(b, q, "InstanceSpecification.InstanceId", in->instance_id);
                qtag_spec(b, q, "snapshot");
                item_add(b, "snapshot", "CreateSnapshots", in->instance_id, false, NULL, q);

                q = qnew(b, "CreateTags");
                qlist(b, q, "ResourceId", &snap, 1);
                qset(b, q, "Tag.1.Key", b->key_managed_by);
                qset(b, q, "Tag.1.Value", "cdpd");
                qset(b, q, "Tag.2.Key", b->key_instance_id);
                qset(b, q, "Tag.2.Value", in->instance_id);
                item_add(b, "snapshot", "CreateTags", snap, snap_placeholder, NULL, q);

                q = qnew(b, "DescribeSnapshots");
                qset(b, q, "Owner.1", "self");
                qfilter_tag(b, q, b->key_instance_id, in->instance_id);
                item_add(b, "snapshot", "DescribeSnapshots", NULL, false, NULL, q);

                q = qnew(b, "DeleteSnapshot");
                qset(b, q, "SnapshotId", snap);
                item_add(b, "snapshot", "DeleteSnapshot", snap, snap_placeholder, NULL, q);

                for (size_t i = 0; i < s->n_copy_to; i++) {
                        q = qnew(b, "CopySnapshot");
                        qset(b, q, "SourceRegion", in->region);
                        qset(b, q, "SourceSnapshotId", snap);
                        qtag_spec(b, q, "snapshot");
                        item_add(b, "snapshot", "CopySnapshot", snap, snap_placeholder, s->copy_to[i], q);
                }
                return;
        }

        q = qnew(b, "CreateImage");
        qset(b, q, "InstanceId", in->instance_id);
        qset(b, q, "Name", "cdpd-permission-check");
        qset(b, q, "NoReboot", "true");
        qtag_spec(b, q, "image");
        qtag_spec(b, q, "snapshot");
        item_add(b, "snapshot", "CreateImage", in->instance_id, false, NULL, q);

        q = qnew(b, "DescribeImages");
        qset(b, q, "Owner.1", "self");
        qfilter_tag(b, q, b->key_instance_id, in->instance_id);
        item_add(b, "snapshot", "DescribeImages", NULL, false, NULL, q);

        q = qnew(b, "DeregisterImage");
        qset(b, q, "ImageId", image);
        item_add(b, "snapshot", "DeregisterImage", image, image_placeholder, NULL, q);

        q = qnew(b, "DeleteSnapshot");
        qset(b, q, "SnapshotId", snap);
        item_add(b, "snapshot", "DeleteSnapshot", snap, snap_placeholder, NULL, q);

        for (size_t i = 0; i < s->n_copy_to; i++) {
                q = qnew(b, "CopyImage");
                qset(b, q, "Name", "cdpd-permission-check");
                qset(b, q, "SourceImageId", image);
                qset(b, q, "SourceRegion", in->region);
                item_add(b, "snapshot", "CopyImage", image, image_placeholder, s->copy_to[i], q);

                /* CopyImage takes no tag specification: the copy is tagged
                 * with CreateTags in its region right after. */
                q = qnew(b, "CreateTags");
                qlist(b, q, "ResourceId", &image, 1);
                qset(b, q, "Tag.1.Key", b->key_managed_by);
                qset(b, q, "Tag.1.Value", "cdpd");
                qset(b, q, "Tag.2.Key", b->key_instance_id);
                qset(b, q, "Tag.2.Value", in->instance_id);
                item_add(b, "snapshot", "CreateTags", image, image_placeholder, s->copy_to[i], q);
        }
}

static const char *no_interface_message =
        "the instance's primary network interface is not known (instance metadata did not name it)";

static void build_floating_ip(Builder *b) {
        const CheckInput *in = b->in;
        const FloatingIpPolicy *f = &in->policy->floating_ip;
        const char *eni = in->network_interface_id;
        _cleanup_free_ const char **alloc = NULL;
        size_t n_alloc = 0;
        const FloatingIpTarget *priv = NULL;
        Ec2Query *q;

        if (!f->enabled)
                return;
        alloc = calloc(f->n_targets + 1, sizeof(char *));
        if (!alloc) {
                b->error = -ENOMEM;
                return;
        }
        for (size_t i = 0; i < f->n_targets; i++) {
                if (f->targets[i].kind == FLOATING_IP_ELASTIC)
                        alloc[n_alloc++] = f->targets[i].allocation_id;
                else if (!priv)
                        priv = &f->targets[i];
        }

        if (eni) {
                q = qnew(b, "DescribeNetworkInterfaces");
                qlist(b, q, "NetworkInterfaceId", &eni, 1);
                item_add(b, "floating-ip", "DescribeNetworkInterfaces", eni, false, NULL, q);
        } else
                item_add_preset(b, "floating-ip", "DescribeNetworkInterfaces", NULL, CHECK_UNKNOWN,
                                "NoNetworkInterface", no_interface_message);

        if (n_alloc > 0) {
                q = qnew(b, "DescribeAddresses");
                qlist(b, q, "AllocationId", alloc, n_alloc);
                item_add(b, "floating-ip", "DescribeAddresses", alloc[0], false, NULL, q);

                if (eni) {
                        q = qnew(b, "AssociateAddress");
                        qset(b, q, "AllocationId", alloc[0]);
                        qset(b, q, "NetworkInterfaceId", eni);
                        qset(b, q, "AllowReassociation", "true");
                        item_add(b, "floating-ip", "AssociateAddress", alloc[0], false, NULL, q);
                } else
                        item_add_preset(b, "floating-ip", "AssociateAddress", alloc[0], CHECK_UNKNOWN,
                                        "NoNetworkInterface", no_interface_message);
        }

        if (priv) {
                char addr[INET_ADDRSTRLEN];

                if (!inet_ntop(AF_INET, &priv->address, addr, sizeof(addr))) {
                        b->error = -EINVAL;
                        return;
                }
                if (eni) {
                        q = qnew(b, "AssignPrivateIpAddresses");
                        qset(b, q, "NetworkInterfaceId", eni);
                        qset(b, q, "PrivateIpAddress.1", addr);
                        qset(b, q, "AllowReassignment", "true");
                        item_add(b, "floating-ip", "AssignPrivateIpAddresses", addr, false, NULL, q);
                } else
                        item_add_preset(b, "floating-ip", "AssignPrivateIpAddresses", addr, CHECK_UNKNOWN,
                                        "NoNetworkInterface", no_interface_message);
        }
}

static void build_routing_ha(Builder *b) {
        const CheckInput *in = b->in;
        const RoutingHaPolicy *h = &in->policy->routing_ha;
        const char *eni = in->network_interface_id;
        _cleanup_free_ const char **tables = NULL;
        size_t n_tables = 0, n_all = 0;
        Ec2Query *q;

        if (!h->enabled)
                return;
        for (size_t i = 0; i < h->n_routes; i++)
                n_all += h->routes[i].n_route_tables;
        tables = calloc(n_all + 1, sizeof(char *));
        if (!tables) {
                b->error = -ENOMEM;
                return;
        }
        /* Each table once, in tag order. */
        for (size_t i = 0; i < h->n_routes; i++)
                for (size_t k = 0; k < h->routes[i].n_route_tables; k++) {
                        const char *t = h->routes[i].route_tables[k];
                        bool seen = false;

                        for (size_t j = 0; j < n_tables && !seen; j++)
                                seen = strcmp(tables[j], t) == 0;
                        if (!seen)
                                tables[n_tables++] = t;
                }

        q = qnew(b, "DescribeRouteTables");
        qlist(b, q, "RouteTableId", tables, n_tables);
        item_add(b, "routing-ha", "DescribeRouteTables", n_tables > 0 ? tables[0] : NULL, false, NULL, q);

        if (!eni) {
                item_add_preset(b, "routing-ha", "ModifyNetworkInterfaceAttribute", NULL, CHECK_UNKNOWN,
                                "NoNetworkInterface", no_interface_message);
                for (size_t j = 0; j < n_tables; j++) {
                        item_add_preset(b, "routing-ha", "ReplaceRoute", tables[j], CHECK_UNKNOWN,
                                        "NoNetworkInterface", no_interface_message);
                        item_add_preset(b, "routing-ha", "CreateRoute", tables[j], CHECK_UNKNOWN,
                                        "NoNetworkInterface", no_interface_message);
                }
                return;
        }

        q = qnew(b, "ModifyNetworkInterfaceAttribute");
        qset(b, q, "NetworkInterfaceId", eni);
        qset(b, q, "SourceDestCheck.Value", "false");
        item_add(b, "routing-ha", "ModifyNetworkInterfaceAttribute", eni, false, NULL, q);

        for (size_t j = 0; j < n_tables; j++) {
                const char *cidr = NULL;

                /* The first destination routed through this table. */
                for (size_t i = 0; i < h->n_routes && !cidr; i++)
                        for (size_t k = 0; k < h->routes[i].n_route_tables && !cidr; k++)
                                if (strcmp(h->routes[i].route_tables[k], tables[j]) == 0)
                                        cidr = h->routes[i].cidr;

                q = qnew(b, "ReplaceRoute");
                qset(b, q, "RouteTableId", tables[j]);
                qset(b, q, "DestinationCidrBlock", cidr);
                qset(b, q, "NetworkInterfaceId", eni);
                item_add(b, "routing-ha", "ReplaceRoute", tables[j], false, NULL, q);

                q = qnew(b, "CreateRoute");
                qset(b, q, "RouteTableId", tables[j]);
                qset(b, q, "DestinationCidrBlock", cidr);
                qset(b, q, "NetworkInterfaceId", eni);
                item_add(b, "routing-ha", "CreateRoute", tables[j], false, NULL, q);
        }
}

static void build_bastion(Builder *b) {
        const CheckInput *in = b->in;
        const BastionPolicy *p = &in->policy->bastion;
        const char *stop_action = p->action == EXPIRE_ACTION_STOP ? "StopInstances" : "TerminateInstances";
        char now[RFC3339_UTC_STRING_MAX];
        Ec2Query *q;

        if (!p->enabled)
                return;

        if (p->n_revoke_rule_ids > 0) {
                q = qnew(b, "DescribeSecurityGroupRules");
                if (!b->error && q) {
                        int r = ec2_query_add_filter(q, "security-group-rule-id",
                                                     (const char *const *) p->revoke_rule_ids,
                                                     p->n_revoke_rule_ids);
                        if (r < 0)
                                b->error = r;
                }
                item_add(b, "bastion", "DescribeSecurityGroupRules", p->revoke_rule_ids[0], false, NULL, q);

                if (!in->rules_described) {
                        _cleanup_free_ char *msg = NULL;

                        if (asprintf(&msg,
                                     "cannot name the security group of the rules to revoke: "
                                     "DescribeSecurityGroupRules failed (%s)",
                                     in->rules_error ?: "no answer") < 0) {
                                b->error = -ENOMEM;
                                return;
                        }
                        item_add_preset(b, "bastion", "RevokeSecurityGroupIngress", p->revoke_rule_ids[0],
                                        CHECK_UNKNOWN, "NoSecurityGroup", msg);
                } else {
                        /* RevokeSecurityGroupIngress needs the group: one
                         * call per group, with that group's ingress rules. */
                        size_t n_groups = 0;

                        for (size_t i = 0; i < in->n_rules; i++) {
                                _cleanup_free_ const char **ids = NULL;
                                size_t n_ids = 0;
                                bool seen = false;

                                if (in->rules[i].is_egress)
                                        continue;
                                for (size_t j = 0; j < i && !seen; j++)
                                        seen = !in->rules[j].is_egress &&
                                               strcmp(in->rules[j].group_id, in->rules[i].group_id) == 0;
                                if (seen)
                                        continue;
                                ids = calloc(in->n_rules, sizeof(char *));
                                if (!ids) {
                                        b->error = -ENOMEM;
                                        return;
                                }
                                for (size_t j = i; j < in->n_rules; j++)
                                        if (!in->rules[j].is_egress &&
                                            strcmp(in->rules[j].group_id, in->rules[i].group_id) == 0)
                                                ids[n_ids++] = in->rules[j].rule_id;
                                q = qnew(b, "RevokeSecurityGroupIngress");
                                qset(b, q, "GroupId", in->rules[i].group_id);
                                qlist(b, q, "SecurityGroupRuleId", ids, n_ids);
                                item_add(b, "bastion", "RevokeSecurityGroupIngress", in->rules[i].group_id, false,
                                         NULL, q);
                                n_groups++;
                        }
                        if (n_groups == 0)
                                item_add_preset(b, "bastion", "RevokeSecurityGroupIngress", p->revoke_rule_ids[0],
                                                CHECK_UNKNOWN, "NoSuchRule",
                                                "none of the ingress rules in cdp:expire-revoke exists (revoked "
                                                "already?), so there is no security group to ask about");
                }
        }

        q = qnew(b, stop_action);
        qlist(b, q, "InstanceId", &in->instance_id, 1);
        item_add(b, "bastion", stop_action, in->instance_id, false, NULL, q);

        if (format_rfc3339_utc(in->now, now) < 0)
                strcpy(now, "2026-01-01T00:00:00Z");
        q = qnew(b, "CreateTags");
        qlist(b, q, "ResourceId", &in->instance_id, 1);
        qset(b, q, "Tag.1.Key", b->key_expires_at);
        qset(b, q, "Tag.1.Value", now);
        item_add(b, "bastion", "CreateTags", in->instance_id, false, NULL, q);
}

int check_plan_build(const CheckInput *in, CheckPlan **ret) {
        _cleanup_(check_plan_freep) CheckPlan *plan = NULL;
        Builder b = { .in = in };
        int r = 0;

        if (!in || !in->policy || !in->instance_id || !in->region || !in->tag_prefix || !ret)
                return -EINVAL;
        plan = calloc(1, sizeof(*plan));
        if (!plan)
                return -ENOMEM;
        b.plan = plan;
        if (asprintf(&b.key_managed_by, "%smanaged-by", in->tag_prefix) < 0)
                b.key_managed_by = NULL;
        if (asprintf(&b.key_instance_id, "%sinstance-id", in->tag_prefix) < 0)
                b.key_instance_id = NULL;
        if (asprintf(&b.key_expires_at, "%sexpires-at", in->tag_prefix) < 0)
                b.key_expires_at = NULL;
        if (!b.key_managed_by || !b.key_instance_id || !b.key_expires_at)
                r = -ENOMEM;

        if (r == 0) {
                build_core(&b);
                build_snapshot(&b);
                build_floating_ip(&b);
                build_routing_ha(&b);
                build_bastion(&b);
                r = b.error;
        }
        free(b.key_managed_by);
        free(b.key_instance_id);
        free(b.key_expires_at);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(plan);
        return 0;
}

/* ---- classification ---- */

static int set_result(CheckItem *item, CheckResult result, const char *code, const char *fmt, ...)
        _printf_(4, 5);
static int set_result(CheckItem *item, CheckResult result, const char *code, const char *fmt, ...) {
        _cleanup_free_ char *c = NULL, *m = NULL;
        va_list ap;
        int k;

        if (code) {
                c = strdup(code);
                if (!c)
                        return -ENOMEM;
        }
        va_start(ap, fmt);
        k = vasprintf(&m, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        if (item->note) {
                char *with = NULL;

                if (asprintf(&with, "%s (%s)", m, item->note) < 0)
                        return -ENOMEM;
                free(m);
                m = with;
        }
        free(item->code);
        free(item->message);
        item->code = TAKE_PTR(c);
        item->message = TAKE_PTR(m);
        item->result = result;
        item->done = true;
        return 0;
}

int check_item_set_answer(CheckItem *item, Ec2ErrorClass error_class, const char *code, const char *message) {
        const char *msg = message && *message ? message : "no message";

        if (!item)
                return -EINVAL;
        switch (error_class) {
        case EC2_DRY_RUN_OK:
                return set_result(item, CHECK_ALLOWED, code ?: "DryRunOperation", "%s",
                                  message && *message ? message : "the request would have succeeded");
        case EC2_UNAUTHORIZED:
                if (item->placeholder)
                        return set_result(item, CHECK_UNKNOWN, code,
                                          "denied for the placeholder %s, which does not exist (cdpd has made "
                                          "none yet); a policy that conditions this action on the resource's "
                                          "tags denies a placeholder, so this proves nothing: %s",
                                          item->resource ?: "resource", msg);
                return set_result(item, CHECK_DENIED, code, "%s", msg);
        case EC2_NOT_FOUND:
                return set_result(item, CHECK_UNKNOWN, code,
                                  "%s does not exist; AWS checks permissions before existence for most actions, "
                                  "so this usually means allowed, but it is not proof: %s",
                                  item->resource ?: "the resource", msg);
        case EC2_OK:
                return set_result(item, CHECK_UNKNOWN, code ?: "NotDryRun",
                                  "the endpoint answered as if the call had run, not as a dry run");
        default:
                return set_result(item, CHECK_UNKNOWN, code ?: class_code(error_class), "%s", msg);
        }
}

void check_plan_count(const CheckPlan *p, size_t counts[static _CHECK_RESULT_MAX]) {
        for (size_t r = 0; r < _CHECK_RESULT_MAX; r++)
                counts[r] = 0;
        for (size_t i = 0; p && i < p->n_items; i++)
                counts[p->items[i].done ? p->items[i].result : CHECK_UNKNOWN]++;
}

bool check_plan_all_allowed(const CheckPlan *p) {
        size_t counts[_CHECK_RESULT_MAX];

        check_plan_count(p, counts);
        return counts[CHECK_DENIED] == 0 && counts[CHECK_UNKNOWN] == 0;
}

int check_plan_summary(const CheckPlan *p, StrBuf *out) {
        static const CheckResult order[] = { CHECK_DENIED, CHECK_UNKNOWN };
        bool first_group = true;

        if (!p || !out)
                return -EINVAL;
        for (size_t o = 0; o < ELEMENTSOF(order); o++) {
                bool first = true;

                for (size_t i = 0; i < p->n_items; i++) {
                        const CheckItem *it = &p->items[i];
                        CheckResult res = it->done ? it->result : CHECK_UNKNOWN;
                        int r;

                        if (res != order[o])
                                continue;
                        if (first)
                                r = strbuf_printf(out, "%s%s: ", first_group ? "" : "; ",
                                                  check_result_to_string(order[o]));
                        else
                                r = strbuf_puts(out, ", ");
                        if (r >= 0)
                                r = strbuf_printf(out, "ec2:%s", it->action);
                        if (r >= 0 && (it->resource || it->region))
                                r = strbuf_printf(out, " (%s%s%s)", it->resource ?: "",
                                                  it->resource && it->region ? " in " : "", it->region ?: "");
                        if (r < 0)
                                return r;
                        first = false;
                        first_group = false;
                }
        }
        return 0;
}

static int json_add(struct json_object *o, const char *key, struct json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static struct json_object *json_string_or_null(const char *s) {
        return s ? json_object_new_string(s) : json_object_new_null();
}

int check_plan_to_json(const CheckPlan *p, struct json_object **ret) {
        struct json_object *o = NULL, *checks;
        size_t counts[_CHECK_RESULT_MAX];
        int r = 0;

        if (!p || !ret)
                return -EINVAL;
        o = json_object_new_object();
        checks = json_object_new_array();
        if (!o || !checks || json_add(o, "checks", checks) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        for (size_t i = 0; r >= 0 && i < p->n_items; i++) {
                const CheckItem *it = &p->items[i];
                CheckResult res = it->done ? it->result : CHECK_UNKNOWN;
                struct json_object *e = json_object_new_object();
                _cleanup_free_ char *iam = NULL;

                if (!e || asprintf(&iam, "ec2:%s", it->action) < 0) {
                        json_object_put(e);
                        r = -ENOMEM;
                        break;
                }
                if (json_object_array_add(checks, e) < 0) {
                        json_object_put(e);
                        r = -ENOMEM;
                        break;
                }
                /* JSON null is a NULL json_object: json_add refuses it, so
                 * nullable keys go through json_object_object_add. */
                r = json_add(e, "pattern", json_object_new_string(it->pattern));
                if (r >= 0)
                        r = json_add(e, "action", json_object_new_string(it->action));
                if (r >= 0)
                        r = json_add(e, "iam_action", json_object_new_string(iam));
                if (r >= 0)
                        r = json_add(e, "result", json_object_new_string(check_result_to_string(res)));
                if (r >= 0)
                        r = json_object_object_add(e, "code", json_string_or_null(it->code)) < 0 ? -ENOMEM : 0;
                if (r >= 0)
                        r = json_object_object_add(e, "message",
                                                   json_string_or_null(it->done ? it->message : "not checked")) < 0
                                    ? -ENOMEM
                                    : 0;
                if (r >= 0)
                        r = json_object_object_add(e, "resource", json_string_or_null(it->resource)) < 0 ? -ENOMEM
                                                                                                         : 0;
                if (r >= 0)
                        r = json_add(e, "placeholder", json_object_new_boolean(it->placeholder));
                if (r >= 0 && it->region)
                        r = json_add(e, "region", json_object_new_string(it->region));
        }
        check_plan_count(p, counts);
        if (r >= 0)
                r = json_add(o, "allowed", json_object_new_int64((int64_t) counts[CHECK_ALLOWED]));
        if (r >= 0)
                r = json_add(o, "denied", json_object_new_int64((int64_t) counts[CHECK_DENIED]));
        if (r >= 0)
                r = json_add(o, "unknown", json_object_new_int64((int64_t) counts[CHECK_UNKNOWN]));
        if (r >= 0)
                r = json_add(o, "ok", json_object_new_boolean(check_plan_all_allowed(p)));
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        *ret = o;
        return 0;
}

/* ---- first managed id in a describe answer ---- */

typedef struct IdItem {
        char *snapshot_id;
        char *image_id;
} IdItem;

static const Ec2XmlField id_item_fields[] = {
        EC2_XML_STRING_FIELD("snapshotId", IdItem, snapshot_id),
        EC2_XML_STRING_FIELD("imageId", IdItem, image_id),
};

static const Ec2XmlSchema id_item_schema = {
        .size = sizeof(IdItem),
        .fields = id_item_fields,
        .n_fields = ELEMENTSOF(id_item_fields),
};

typedef struct IdPage {
        IdItem *snapshots;
        size_t n_snapshots;
        IdItem *images;
        size_t n_images;
} IdPage;

static const Ec2XmlField id_page_fields[] = {
        EC2_XML_LIST_FIELD("snapshotSet", IdPage, snapshots, n_snapshots, IdItem, &id_item_schema,
                           EC2_XML_MAX_ITEMS),
        EC2_XML_LIST_FIELD("imagesSet", IdPage, images, n_images, IdItem, &id_item_schema, EC2_XML_MAX_ITEMS),
};

static const Ec2XmlSchema id_page_schema = {
        .size = sizeof(IdPage),
        .fields = id_page_fields,
        .n_fields = ELEMENTSOF(id_page_fields),
};

static void id_page_done(IdPage *p) {
        ec2_xml_item_done(&id_page_schema, p);
}

static int parse_first_id(const char *body, size_t len, const char *root, bool images, char **ret) {
        _cleanup_(id_page_done) IdPage page = {};
        const IdItem *items;
        size_t n;
        char *id = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        r = ec2_xml_parse(body, len, EC2_XML_ROOTS(root), &id_page_schema, &page);
        if (r < 0)
                return r;
        items = images ? page.images : page.snapshots;
        n = images ? page.n_images : page.n_snapshots;
        for (size_t i = 0; i < n && !id; i++) {
                const char *s = images ? items[i].image_id : items[i].snapshot_id;

                if (s && *s) {
                        id = strdup(s);
                        if (!id)
                                return -ENOMEM;
                }
        }
        *ret = id;
        return 0;
}

int check_parse_first_snapshot_id(const char *body, size_t len, char **ret) {
        return parse_first_id(body, len, "DescribeSnapshotsResponse", false, ret);
}

int check_parse_first_image_id(const char *body, size_t len, char **ret) {
        return parse_first_id(body, len, "DescribeImagesResponse", true, ret);
}
