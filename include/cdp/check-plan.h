/* SPDX-License-Identifier: MIT */
#pragma once

/* `cdpctl check` (SPEC 3): one DryRun call per EC2 action the instance's
 * current tag policy needs, pure planning and classification (no I/O).
 *
 * Actions, in this order (the table keeps it, so output is stable):
 *   core         DescribeTags, DescribeInstances (always: tags come from
 *                IMDS when instance metadata tags are on, DescribeTags is
 *                the fallback, so it is checked either way)
 *   snapshot     ebs: DescribeVolumes, CreateSnapshots, CreateTags,
 *                DescribeSnapshots, DeleteSnapshot, then CopySnapshot per
 *                cdp:snapshot:copy-to region (signed for that region);
 *                ami: CreateImage, DescribeImages, DeregisterImage,
 *                DeleteSnapshot, then CopyImage and CreateTags (the copy is
 *                tagged after the copy) per copy-to region
 *   floating-ip  DescribeNetworkInterfaces, then for Elastic IPs
 *                DescribeAddresses and AssociateAddress, for private IPs
 *                AssignPrivateIpAddresses
 *   routing-ha   DescribeRouteTables, ModifyNetworkInterfaceAttribute, then
 *                ReplaceRoute and CreateRoute per route table
 *   bastion      DescribeSecurityGroupRules and RevokeSecurityGroupIngress
 *                (per security group) when cdp:expire-revoke lists rules,
 *                StopInstances or TerminateInstances (cdp:expire-action),
 *                CreateTags on the instance (cdpctl extend)
 *
 * Every call carries plausible parameters: this instance's id, its primary
 * network interface, the policy's route tables, allocation ids, addresses
 * and rule ids, and the tags cdpd puts on what it creates (IAM conditions on
 * aws:RequestTag are evaluated by a dry run too). Deletes name a snapshot or
 * image cdpd manages for this instance when one exists, else a syntactically
 * valid placeholder.
 *
 * What AWS evaluates first: request syntax (an invalid parameter fails before
 * anything else), then IAM authorization, then, for most actions, whether
 * the named resources exist; a dry run stops before acting. Hence:
 *   DryRunOperation                     allowed
 *   UnauthorizedOperation (and kin)     denied, with the AWS code and message
 *                                       (which may carry an encoded
 *                                       authorization message: decode it
 *                                       with `aws sts decode-authorization-message`)
 *   ...on a placeholder resource        unknown: a policy with tag conditions
 *                                       (ec2:ResourceTag/cdp:instance-id)
 *                                       denies a resource that does not
 *                                       exist, so a denial proves nothing
 *   *.NotFound                          unknown: authorization usually passed
 *                                       before the existence check, but EC2
 *                                       does not promise that order
 *   anything else (throttling, network, unknown: with the code
 *   invalid parameters, ...)
 */

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "cdp/ec2-query.h"
#include "cdp/ec2.h"
#include "cdp/macro.h"
#include "cdp/policy.h"
#include "cdp/strbuf.h"

/* Syntactically valid ids of resources that do not exist. */
#define CHECK_PLACEHOLDER_SNAPSHOT "snap-00000000000000000"
#define CHECK_PLACEHOLDER_IMAGE "ami-00000000000000000"

typedef enum CheckResult {
        CHECK_ALLOWED,
        CHECK_DENIED,
        CHECK_UNKNOWN,
        _CHECK_RESULT_MAX,
} CheckResult;

/* One rule of cdp:expire-revoke as DescribeSecurityGroupRules found it. */
typedef struct CheckRuleGroup {
        const char *rule_id;
        const char *group_id;
        bool is_egress;
} CheckRuleGroup;

typedef struct CheckInput {
        const Policy *policy;                   /* borrowed, never NULL */
        const char *tag_prefix;                 /* "cdp:" */
        const char *instance_id;
        const char *region;                     /* this instance's region */
        const char *network_interface_id;       /* primary ENI; NULL when unknown */
        bool tags_from_imds;
        const char *managed_snapshot_id;        /* a snapshot cdpd made for this instance, or NULL */
        const char *managed_image_id;           /* an image cdpd made for this instance, or NULL */
        const CheckRuleGroup *rules;            /* the cdp:expire-revoke rules that exist */
        size_t n_rules;
        bool rules_described;                   /* false: DescribeSecurityGroupRules failed */
        const char *rules_error;                /* its error, when !rules_described */
        time_t now;                             /* the value the CreateTags dry run on the instance writes */
} CheckInput;

typedef struct CheckItem {
        const char *pattern;            /* "core", "snapshot", "floating-ip", "routing-ha", "bastion" (static) */
        char *action;                   /* EC2 action, e.g. "CreateSnapshots" */
        char *region;                   /* signed for this region; NULL = the instance's */
        char *resource;                 /* what the call names, for humans; may be NULL */
        bool placeholder;               /* resource is a placeholder id */
        const char *note;               /* static text appended to the message, or NULL */
        Ec2Query *query;                /* the DryRun call; NULL when none can be made (result preset) */
        bool done;                      /* result set */
        CheckResult result;
        char *code;                     /* AWS or local code; NULL when allowed without one */
        char *message;
} CheckItem;

typedef struct CheckPlan {
        CheckItem *items;
        size_t n_items;
} CheckPlan;

/* Builds the table for the input. -EINVAL for missing input, -ENOMEM.
 * Ownership: caller frees *ret with check_plan_free(). */
int check_plan_build(const CheckInput *in, CheckPlan **ret);
CheckPlan *check_plan_free(CheckPlan *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(CheckPlan *, check_plan_free);

/* Classifies the answer to item's dry run and stores it in the item.
 * error_class/code/message as in Ec2Response (code and message may be
 * NULL). -ENOMEM only. */
int check_item_set_answer(CheckItem *item, Ec2ErrorClass error_class, const char *code, const char *message);

/* Counts per result (items not done count as unknown). */
void check_plan_count(const CheckPlan *p, size_t counts[static _CHECK_RESULT_MAX]);

/* True when every item is allowed. */
bool check_plan_all_allowed(const CheckPlan *p);

/* One line naming what is not allowed, for the error message:
 * "denied: ec2:StopInstances (i-0123...); unknown: ec2:DeleteSnapshot (snap-...)". */
int check_plan_summary(const CheckPlan *p, StrBuf *out);

struct json_object;

/* The table as JSON (for `cdpctl check --json`):
 * {
 *   "checks": [ {"pattern": string, "action": string,   e.g. "CreateSnapshots"
 *                "iam_action": string,                   e.g. "ec2:CreateSnapshots"
 *                "result": "allowed" | "denied" | "unknown",
 *                "code": string | null,                  AWS code, e.g. "UnauthorizedOperation"
 *                "message": string | null,
 *                "resource": string | null,              what the dry run named
 *                "placeholder": bool,                    the resource does not exist
 *                "region": string} ],                    only when signed for another region
 *   "allowed": int, "denied": int, "unknown": int,
 *   "ok": bool                                           every action allowed
 * }
 * Ownership: caller releases *ret with json_object_put(). */
int check_plan_to_json(const CheckPlan *p, struct json_object **ret);

const char *check_result_to_string(CheckResult r);

/* The id of the first snapshot (DescribeSnapshots) or image (DescribeImages)
 * in an answer, to name in a delete's dry run. *ret = NULL when the answer
 * lists none. -EBADMSG for another document.
 * Ownership: caller frees *ret. */
int check_parse_first_snapshot_id(const char *body, size_t len, char **ret);
int check_parse_first_image_id(const char *body, size_t len, char **ret);
