/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "cdp/aws.h"
#include "cdp/ec2-xml.h"
#include "cdp/parse-util.h"
#include "cdp/policy.h"
#include "cdp/tags.h"
#include "probe.h"

#define PROBE_TIMEOUT_USEC (60 * USEC_PER_SEC)

typedef struct ProbeCall {
        bool done;
        int error;
        char *detail;
        char *body;
        size_t body_len;
        TagList *tags;
} ProbeCall;

static void probe_call_done(ProbeCall *p) {
        free(p->detail);
        free(p->body);
        tag_list_free(p->tags);
}

static void on_ec2(int error, const Ec2Response *resp, void *userdata) {
        ProbeCall *p = userdata;

        p->done = true;
        p->error = error;
        if (error < 0) {
                if (asprintf(&p->detail, "%s%s%s (HTTP %ld, %u attempt%s)",
                             resp->error_code ? resp->error_code : "error",
                             resp->error_message ? ": " : "", resp->error_message ? resp->error_message : "",
                             resp->http_status, resp->attempts, resp->attempts == 1 ? "" : "s") < 0)
                        p->detail = NULL;
                return;
        }
        p->body = strndup(resp->body, resp->body_len);
        p->body_len = resp->body_len;
        if (!p->body)
                p->error = -ENOMEM;
}

static void on_tags(int error, TagList *tags, const char *detail, void *userdata) {
        ProbeCall *p = userdata;

        p->done = true;
        p->error = error;
        p->tags = tags;
        if (detail)
                p->detail = strdup(detail);
}

static int fail(const char *fmt, ...) _printf_(1, 2);
static int fail(const char *fmt, ...) {
        va_list ap;

        fputs("cdpd: probe failed: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return 1;
}

/* DescribeInstances on ourselves: proves the credentials and the endpoint
 * work (whatever the tag source) and gives the launch time. */
static int describe_self(AwsContext *aws, Ec2InstancePage **ret, char **reterr) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        _cleanup_(probe_call_done) ProbeCall call = {};
        const char *ids[] = { aws->instance_id };
        int r;

        r = ec2_query_new(&q, "DescribeInstances");
        if (r >= 0)
                r = ec2_query_add_list(q, "InstanceId", ids, 1);
        if (r >= 0)
                r = ec2_call(aws->ec2, q, NULL, on_ec2, &call, NULL);
        if (r >= 0)
                r = event_run_until(aws->event, &call.done, PROBE_TIMEOUT_USEC);
        if (r >= 0)
                r = call.error;
        if (r < 0) {
                if (asprintf(reterr, "DescribeInstances: %s", call.detail ? call.detail : strerror(-r)) < 0)
                        *reterr = NULL;
                return r;
        }
        r = ec2_parse_describe_instances(call.body, call.body_len, ret);
        if (r < 0) {
                if (asprintf(reterr, "DescribeInstances: the answer could not be read: %s", strerror(-r)) < 0)
                        *reterr = NULL;
                return r;
        }
        if ((*ret)->n_instances != 1 || strcmp((*ret)->instances[0].id, aws->instance_id) != 0) {
                *ret = ec2_instance_page_free(*ret);
                if (asprintf(reterr, "DescribeInstances: instance %s not found in region %s", aws->instance_id,
                             aws->region) < 0)
                        *reterr = NULL;
                return -ENOENT;
        }
        return 0;
}

static void json_add_str(struct json_object *o, const char *key, const char *value) {
        json_object_object_add(o, key, value ? json_object_new_string(value) : NULL);
}

static void print_text(struct json_object *root) {
        static const char *const order[] = {
                "instance_id", "region", "region_source", "availability_zone", "endpoint",
                "credentials_source", "network_interface_id", "local_ipv4", "launch_time",
                "instance_state", "tags_source",
        };
        struct json_object *v;

        for (size_t i = 0; i < ELEMENTSOF(order); i++)
                if (json_object_object_get_ex(root, order[i], &v))
                        printf("%-22s %s\n", order[i], v ? json_object_get_string(v) : "-");

        if (json_object_object_get_ex(root, "tags", &v)) {
                printf("tags:\n");
                json_object_object_foreach(v, key, val)
                        printf("  %s = %s\n", key, json_object_get_string(val));
        }
        if (json_object_object_get_ex(root, "policy", &v))
                printf("policy:\n%s\n",
                       json_object_to_json_string_ext(v, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        if (json_object_object_get_ex(root, "errors", &v)) {
                size_t n = json_object_array_length(v);

                printf("errors:%s\n", n == 0 ? " none" : "");
                for (size_t i = 0; i < n; i++) {
                        struct json_object *e = json_object_array_get_idx(v, i), *reason;
                        if (json_object_object_get_ex(e, "reason", &reason))
                                printf("  %s\n", json_object_get_string(reason));
                }
        }
}

int probe_run(const Config *config, bool json) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(aws_context_freep) AwsContext *aws = NULL;
        _cleanup_(ec2_instance_page_freep) Ec2InstancePage *self = NULL;
        _cleanup_(probe_call_done) ProbeCall tags = {};
        _cleanup_free_ char *err = NULL;
        _cleanup_free_ PolicyTag *ptags = NULL;
        _cleanup_(policy_freep) Policy *policy = NULL;
        struct json_object *root = NULL, *jtags, *jpolicy = NULL, *errors;
        char when[RFC3339_UTC_STRING_MAX];
        int r;

        r = sd_event_new(&event);
        if (r < 0)
                return fail("event loop: %s", strerror(-r));

        r = aws_context_new(event, config, &aws, &err);
        if (r < 0)
                return fail("%s", err ? err : strerror(-r));

        r = describe_self(aws, &self, &err);
        if (r < 0)
                return fail("%s", err ? err : strerror(-r));

        r = tag_fetch_start(aws->imds, aws->ec2, aws->instance_id, on_tags, &tags, NULL);
        if (r >= 0)
                r = event_run_until(event, &tags.done, PROBE_TIMEOUT_USEC);
        if (r >= 0)
                r = tags.error;
        if (r < 0)
                return fail("tags: %s", tags.detail ? tags.detail : strerror(-r));

        ptags = calloc(tags.tags->n + 1, sizeof(PolicyTag));
        if (!ptags)
                return fail("out of memory");
        for (size_t i = 0; i < tags.tags->n; i++)
                ptags[i] = (PolicyTag) { .key = tags.tags->keys[i], .value = tags.tags->values[i] };
        r = policy_parse(ptags, tags.tags->n, config->tag_prefix, &policy);
        if (r < 0)
                return fail("policy: %s", strerror(-r));
        r = policy_to_json(policy, &jpolicy);
        if (r < 0)
                return fail("policy: %s", strerror(-r));

        root = json_object_new_object();
        if (!root)
                return fail("out of memory");
        json_add_str(root, "instance_id", aws->instance_id);
        json_add_str(root, "region", aws->region);
        json_add_str(root, "region_source", region_source_name(aws->region_source));
        json_add_str(root, "availability_zone", aws->availability_zone);
        json_add_str(root, "endpoint", aws->endpoint);
        json_add_str(root, "credentials_source", creds_source_name(aws->creds));
        json_add_str(root, "network_interface_id", aws->network_interface_id);
        json_add_str(root, "local_ipv4", aws->local_ipv4);
        if (self->instances[0].launch_time != EC2_TIME_UNSET &&
            format_rfc3339_utc(self->instances[0].launch_time, when) >= 0)
                json_add_str(root, "launch_time", when);
        json_add_str(root, "instance_state", self->instances[0].state);
        jtags = json_object_new_object();
        for (size_t i = 0; i < tags.tags->n; i++)
                json_object_object_add(jtags, tags.tags->keys[i], json_object_new_string(tags.tags->values[i]));
        json_object_object_add(root, "tags", jtags);
        json_add_str(root, "tags_source", tags.tags->source == TAG_SOURCE_IMDS ? "imds" : "api");
        /* The errors list is part of the policy JSON; lift it to the top level. */
        if (json_object_object_get_ex(jpolicy, "errors", &errors)) {
                json_object_object_add(root, "errors", json_object_get(errors));
                json_object_object_del(jpolicy, "errors");
        } else
                json_object_object_add(root, "errors", json_object_new_array());
        json_object_object_add(root, "policy", jpolicy);

        if (json)
                printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                                        JSON_C_TO_STRING_NOSLASHESCAPE));
        else
                print_text(root);

        if (policy->n_errors > 0)
                fprintf(stderr, "cdpd: %zu tag%s could not be parsed; those policies are disabled\n",
                        policy->n_errors, policy->n_errors == 1 ? "" : "s");
        json_object_put(root);
        return 0;
}
