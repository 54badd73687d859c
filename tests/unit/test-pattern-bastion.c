/* SPDX-License-Identifier: MIT */
/* Unit tests for daemon/pattern-bastion.c (the executor) over the scripted
 * transport with a real sd-event loop, and for the seams it acts through
 * (daemon/wall.c, daemon/poweroff.c). Expiries are a second or two ahead in
 * real time: the executor arms CLOCK_REALTIME timers.
 *
 * Nothing here can power the machine off or write to a terminal: a recording
 * power-off implementation and a wall sink are installed before any test,
 * and CDPD_TEST_POWEROFF_FILE / CDPD_TEST_WALL_FILE point at a scratch file
 * besides. The manager and control-socket functions the pattern calls are
 * stubbed below and record what they were given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utmpx.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "cdp/creds.h"
#include "cdp/ec2.h"
#include "cdp/parse-util.h"
#include "cdp/strbuf.h"
#include "fake-http.h"
#include "pattern.h"
#include "poweroff.h"
#include "wall.h"

#define IID "i-0123456789abcdef0"
#define RULE "sgr-0123456789abcdef0"
#define GROUP "sg-0aaaa1111bbbb2222"

extern const PatternOps bastion_pattern_ops;

/* ---- stubs of the manager and the control socket ---- */

struct CtlRequest {
        int replies;
        bool ok;
        int exit_code;
        char *code;
        char *message;
        struct json_object *result;
};

static unsigned refresh_calls;
static struct json_object *status_section;
static unsigned status_calls;

void manager_refresh_tags(Manager *m) {
        (void) m;
        refresh_calls++;
}

void status_request_done(StatusRequest *sr, struct json_object *section) {
        (void) sr;
        json_object_put(status_section);
        status_section = section;
        status_calls++;
}

static void reply(CtlRequest *req, bool ok, int exit_code, const char *code, const char *message,
                  struct json_object *result) {
        req->replies++;
        req->ok = ok;
        req->exit_code = exit_code;
        free(req->code);
        free(req->message);
        req->code = code ? strdup(code) : NULL;
        req->message = message ? strdup(message) : NULL;
        json_object_put(req->result);
        req->result = result;
}

void ctl_reply_ok(CtlRequest *req, struct json_object *result) {
        reply(req, true, 0, NULL, NULL, result);
}

void ctl_reply_error(CtlRequest *req, int exit_code, const char *code, const char *message) {
        reply(req, false, exit_code, code, message, NULL);
}

void ctl_reply_error_with(CtlRequest *req, int exit_code, const char *code, const char *message,
                          struct json_object *result) {
        reply(req, false, exit_code, code, message, result);
}

uid_t ctl_request_uid(const CtlRequest *req) {
        (void) req;
        return 0;
}

static void request_done(CtlRequest *req) {
        free(req->code);
        free(req->message);
        json_object_put(req->result);
        *req = (CtlRequest) {};
}

/* ---- recording seams ---- */

static unsigned poweroff_calls;
static char *poweroff_reason;

static int record_poweroff(sd_event *event, const char *reason, PoweroffDoneFn done, void *userdata,
                           PoweroffRequest **ret, char **reterr_detail) {
        (void) event;
        (void) done;
        (void) userdata;
        (void) ret;
        (void) reterr_detail;
        poweroff_calls++;
        free(poweroff_reason);
        poweroff_reason = strdup(reason ?: "");
        return 0;
}

static unsigned wall_calls;
static char *wall_last;

static int record_wall(const char *message, void *userdata) {
        (void) userdata;
        wall_calls++;
        free(wall_last);
        wall_last = strdup(message);
        return 1;
}

/* ---- harness ---- */

typedef struct Env {
        sd_event *event;
        FakeHttp *http;
        Config *config;
        AwsContext aws;
        Manager manager;
        Pattern *pattern;
        time_t launch;
} Env;

static uint64_t now_usec(void) {
        return clock_now(clock_real(), CLOCK_REALTIME);
}

static void rfc(time_t t, char buf[static RFC3339_UTC_STRING_MAX]) {
        assert_int_equal(format_rfc3339_utc(t, buf), 0);
}

static int env_setup(void **state) {
        Ec2ClientConfig ec = { .region = "us-east-1", .endpoint = "http://ec2.test", .max_attempts = 2,
                               .base_delay_usec = 1000, .throttle_delay_usec = 1000, .max_delay_usec = 5000,
                               .timeout_usec = 2 * USEC_PER_SEC };
        Env *e = calloc(1, sizeof(*e));

        assert_non_null(e);
        unsetenv("AWS_ENDPOINT_URL");
        unsetenv("AWS_ENDPOINT_URL_EC2");
        unsetenv("AWS_SESSION_TOKEN");
        setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 1);
        assert_int_equal(sd_event_new(&e->event), 0);
        assert_int_equal(fake_http_new(e->event, &e->http), 0);
        assert_int_equal(creds_provider_new(&e->aws.creds, e->event, NULL, clock_real()), 0);
        assert_int_equal(ec2_client_new(&e->aws.ec2, e->event, fake_http_transport(e->http), e->aws.creds,
                                        clock_real(), &ec),
                         0);
        e->aws.event = e->event;
        e->aws.region = strdup("us-east-1");
        e->aws.instance_id = strdup(IID);
        e->aws.network_interface_id = strdup("eni-0a1b2c3d4e5f60001");
        assert_int_equal(config_new(&e->config), 0);
        e->config->expire_warn_usec[0] = 1 * USEC_PER_SEC;
        e->config->n_expire_warn = 1;
        e->config->expire_grace_usec = 1 * USEC_PER_SEC;
        e->manager.event = e->event;
        e->manager.config = e->config;
        e->manager.aws = &e->aws;
        e->launch = (time_t) (now_usec() / USEC_PER_SEC) - 3600;

        e->pattern = calloc(1, bastion_pattern_ops.size);
        assert_non_null(e->pattern);
        e->pattern->ops = &bastion_pattern_ops;
        e->pattern->manager = &e->manager;
        assert_int_equal(bastion_pattern_ops.init(e->pattern), 0);

        poweroff_calls = wall_calls = refresh_calls = status_calls = 0;
        *state = e;
        return 0;
}

static int env_teardown(void **state) {
        Env *e = *state;

        bastion_pattern_ops.done(e->pattern);
        free(e->pattern);
        policy_free(e->manager.policy);
        config_free(e->config);
        ec2_client_free(e->aws.ec2);
        creds_provider_free(e->aws.creds);
        free(e->aws.region);
        free(e->aws.instance_id);
        free(e->aws.network_interface_id);
        fake_http_free(e->http);
        sd_event_unref(e->event);
        free(e);
        json_object_put(status_section);
        status_section = NULL;
        poweroff_reason = mfree(poweroff_reason);
        wall_last = mfree(wall_last);
        return 0;
}

/* Sets the instance's tags (pairs, NULL-terminated) and tells the pattern. */
static void set_policy(Env *e, const char *const *kv) {
        PolicyTag tags[16];
        size_t n = 0;

        for (; kv[2 * n]; n++)
                tags[n] = (PolicyTag) { kv[2 * n], kv[2 * n + 1] };
        policy_free(e->manager.policy);
        e->manager.policy = NULL;
        assert_int_equal(policy_parse(tags, n, "cdp:", &e->manager.policy), 0);
        bastion_pattern_ops.policy_changed(e->pattern);
}

static char *instances_xml(time_t launch, const char *state, const char *const *kv) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);
        char t[64];
        struct tm tm;

        /* as EC2 writes it, with milliseconds */
        assert_non_null(gmtime_r(&launch, &tm));
        assert_true(strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S.000Z", &tm) > 0);
        assert_int_equal(strbuf_printf(&b,
                                       "<DescribeInstancesResponse><requestId>r-describe</requestId><reservationSet>"
                                       "<item><instancesSet><item><instanceId>" IID "</instanceId>"
                                       "<instanceState><code>16</code><name>%s</name></instanceState>"
                                       "<launchTime>%s</launchTime><tagSet>",
                                       state, t),
                         0);
        for (size_t i = 0; kv && kv[i]; i += 2)
                assert_int_equal(strbuf_printf(&b, "<item><key>%s</key><value>%s</value></item>", kv[i], kv[i + 1]),
                                 0);
        assert_int_equal(strbuf_puts(&b, "</tagSet></item></instancesSet></item></reservationSet>"
                                         "</DescribeInstancesResponse>"),
                         0);
        return strbuf_steal(&b);
}

static void push(Env *e, const char *body) {
        fake_http_push(e->http, "POST", NULL, 200, body, 0);
}

static void push_status(Env *e, long status, const char *body) {
        fake_http_push(e->http, "POST", NULL, status, body, 0);
}

static const char RULES_XML[] =
        "<DescribeSecurityGroupRulesResponse><requestId>r-rules</requestId><securityGroupRuleSet><item>"
        "<securityGroupRuleId>" RULE "</securityGroupRuleId><groupId>" GROUP "</groupId>"
        "<isEgress>false</isEgress><ipProtocol>tcp</ipProtocol><fromPort>22</fromPort><toPort>22</toPort>"
        "</item></securityGroupRuleSet></DescribeSecurityGroupRulesResponse>";
static const char REVOKE_XML[] =
        "<RevokeSecurityGroupIngressResponse><requestId>r-revoke</requestId><return>true</return>"
        "</RevokeSecurityGroupIngressResponse>";
static const char TERMINATE_XML[] =
        "<TerminateInstancesResponse><requestId>r-terminate</requestId><instancesSet><item>"
        "<instanceId>" IID "</instanceId><currentState><code>32</code><name>shutting-down</name></currentState>"
        "<previousState><code>16</code><name>running</name></previousState></item></instancesSet>"
        "</TerminateInstancesResponse>";
static const char STOP_XML[] =
        "<StopInstancesResponse><requestId>r-stop</requestId><instancesSet><item>"
        "<instanceId>" IID "</instanceId><currentState><code>64</code><name>stopping</name></currentState>"
        "<previousState><code>16</code><name>running</name></previousState></item></instancesSet>"
        "</StopInstancesResponse>";
static const char CREATE_TAGS_XML[] =
        "<CreateTagsResponse><requestId>r-tags</requestId><return>true</return></CreateTagsResponse>";
static const char UNAUTHORIZED_XML[] =
        "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform "
        "this operation.</Message></Error></Errors><RequestID>r-denied</RequestID></Response>";

/* The Action of request i. Ownership: caller frees. */
static char *action_of(Env *e, size_t i) {
        const FakeHttpRecord *r = fake_http_get(e->http, i);
        const char *a = strstr(r->body, "Action=");
        size_t n;

        assert_non_null(a);
        a += 7;
        n = strcspn(a, "&");
        return strndup(a, n);
}

/* The decoded value of parameter name in request i, or NULL. Ownership: caller frees. */
static char *param_of(Env *e, size_t i, const char *name) {
        const FakeHttpRecord *r = fake_http_get(e->http, i);
        _cleanup_free_ char *needle = NULL;
        const char *p;
        StrBuf b = STRBUF_INIT(0);

        assert_true(asprintf(&needle, "&%s=", name) > 0);
        p = strstr(r->body, needle);
        if (!p)
                return NULL;
        for (p += strlen(needle); *p && *p != '&'; p++) {
                if (*p == '%' && p[1] && p[2]) {
                        char hex[3] = { p[1], p[2], 0 };
                        assert_int_equal(strbuf_putc(&b, (char) strtol(hex, NULL, 16)), 0);
                        p += 2;
                } else
                        assert_int_equal(strbuf_putc(&b, *p), 0);
        }
        return strbuf_steal(&b);
}

static size_t count_action(Env *e, const char *action) {
        size_t n = 0;

        for (size_t i = 0; i < fake_http_count(e->http); i++) {
                _cleanup_free_ char *a = action_of(e, i);
                n += strcmp(a, action) == 0;
        }
        return n;
}

/* Runs the loop until pred() or timeout; returns whether pred() held. */
static bool run_until(Env *e, bool (*pred)(Env *e), uint64_t timeout_usec) {
        uint64_t end = clock_now(clock_real(), CLOCK_MONOTONIC) + timeout_usec;

        while (clock_now(clock_real(), CLOCK_MONOTONIC) < end) {
                if (pred && pred(e))
                        return true;
                assert_true(sd_event_run(e->event, 10 * USEC_PER_MSEC) >= 0);
        }
        return pred ? pred(e) : true;
}

static bool launch_known(Env *e) {
        return fake_http_count(e->http) >= 1 && fake_http_pending(e->http) == 0 && fake_http_in_flight(e->http) == 0;
}

static bool terminated(Env *e) {
        return count_action(e, "TerminateInstances") > 0 && fake_http_in_flight(e->http) == 0;
}

static bool stopped(Env *e) {
        return count_action(e, "StopInstances") > 0 && fake_http_in_flight(e->http) == 0;
}

static const char *status_str(Env *e, const char *key);

static bool done_state(Env *e) {
        const char *st = status_str(e, "state");
        return st && strcmp(st, "done") == 0;
}

static bool powered_off(Env *e) {
        (void) e;
        return poweroff_calls > 0;
}

static struct json_object *status_of(Env *e) {
        bastion_pattern_ops.status(e->pattern, (StatusRequest *) 0x1);
        assert_non_null(status_section);
        return status_section;
}

static const char *status_str(Env *e, const char *key) {
        struct json_object *v;

        if (!json_object_object_get_ex(status_of(e), key, &v))
                return NULL;
        return json_object_get_string(v);
}

/* ---- tests ---- */

static void test_executor__expiry_ahead__revoke_then_terminate_in_order(void **state) {
        Env *e = *state;
        time_t expiry = (time_t) (now_usec() / USEC_PER_SEC) + 2;
        char t[RFC3339_UTC_STRING_MAX];
        _cleanup_free_ char *launch = NULL, *confirm = NULL;
        uint64_t acted_at;

        rfc(expiry, t);
        const char *const kv[] = { "cdp:expires-at", t, "cdp:expire-revoke", RULE, NULL };
        launch = instances_xml(e->launch, "running", kv);
        confirm = instances_xml(e->launch, "running", kv);
        push(e, launch);
        set_policy(e, kv);
        assert_true(run_until(e, launch_known, 2 * USEC_PER_SEC));
        assert_string_equal(status_str(e, "state"), "counting-down");
        assert_string_equal(status_str(e, "expires_at"), t);
        assert_string_equal(status_str(e, "expiry_source"), "expires-at");
        assert_string_equal(status_str(e, "action"), "terminate");

        push(e, confirm);
        push(e, RULES_XML);
        push(e, REVOKE_XML);
        push(e, TERMINATE_XML);
        assert_true(run_until(e, terminated, 6 * USEC_PER_SEC));
        acted_at = now_usec();
        assert_true(acted_at >= (uint64_t) expiry * USEC_PER_SEC);

        assert_int_equal(fake_http_count(e->http), 5);
        {
                static const char *const order[] = { "DescribeInstances", "DescribeInstances",
                                                     "DescribeSecurityGroupRules", "RevokeSecurityGroupIngress",
                                                     "TerminateInstances" };
                for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                        _cleanup_free_ char *a = action_of(e, i);
                        assert_string_equal(a, order[i]);
                }
        }
        {
                _cleanup_free_ char *g = param_of(e, 3, "GroupId"), *r = param_of(e, 3, "SecurityGroupRuleId.1"),
                                    *f = param_of(e, 2, "Filter.1.Name"), *id = param_of(e, 4, "InstanceId.1");
                assert_string_equal(g, GROUP);
                assert_string_equal(r, RULE);
                assert_string_equal(f, "security-group-rule-id");
                assert_string_equal(id, IID);
        }
        /* the 1 s warning reached the terminals' sink */
        assert_int_equal(wall_calls, 1);
        assert_non_null(strstr(wall_last, IID));
        assert_non_null(strstr(wall_last, "terminated"));
        assert_string_equal(status_str(e, "state"), "done");
        assert_int_equal(poweroff_calls, 0);
        /* nothing more happens afterwards */
        run_until(e, NULL, 1200 * USEC_PER_MSEC);
        assert_int_equal(fake_http_count(e->http), 5);
        assert_int_equal(poweroff_calls, 0);
}

static void test_executor__expired_at_start_stop__acts_at_once(void **state) {
        Env *e = *state;
        char t[RFC3339_UTC_STRING_MAX];
        _cleanup_free_ char *launch = NULL;

        rfc((time_t) (now_usec() / USEC_PER_SEC) - 600, t);
        const char *const kv[] = { "cdp:expires-at", t, "cdp:expire-action", "stop", NULL };
        launch = instances_xml(e->launch, "running", kv);
        push(e, launch);
        push(e, launch);        /* the confirmation */
        push(e, STOP_XML);
        set_policy(e, kv);
        assert_true(run_until(e, stopped, 2 * USEC_PER_SEC));
        assert_int_equal(count_action(e, "DescribeSecurityGroupRules"), 0);     /* nothing to revoke */
        assert_int_equal(fake_http_count(e->http), 3);
        assert_string_equal(status_str(e, "state"), "done");
}

static void test_executor__api_unreachable__retries_then_poweroff_seam(void **state) {
        Env *e = *state;
        time_t expiry = (time_t) (now_usec() / USEC_PER_SEC) + 1;
        char t[RFC3339_UTC_STRING_MAX];
        _cleanup_free_ char *launch = NULL;

        rfc(expiry, t);
        const char *const kv[] = { "cdp:expires-at", t, "cdp:expire-revoke", RULE, NULL };
        launch = instances_xml(e->launch, "running", kv);
        push(e, launch);
        set_policy(e, kv);
        assert_true(run_until(e, launch_known, 2 * USEC_PER_SEC));
        /* nothing more is queued: every call now fails with a refused connection */
        assert_true(run_until(e, powered_off, 6 * USEC_PER_SEC));
        assert_true(now_usec() >= ((uint64_t) expiry + 1) * USEC_PER_SEC);    /* not before expire_grace */
        assert_int_equal(poweroff_calls, 1);
        assert_non_null(strstr(poweroff_reason, IID));
        assert_non_null(strstr(poweroff_reason, "expire_grace"));
        /* retried in between: several rounds of the rule describe */
        assert_true(count_action(e, "DescribeSecurityGroupRules") >= 3);
        assert_int_equal(count_action(e, "TerminateInstances"), 0);             /* revokes come first */
        /* once asked, not asked again */
        run_until(e, NULL, 1500 * USEC_PER_MSEC);
        assert_int_equal(poweroff_calls, 1);
        {
                struct json_object *acting, *v;
                assert_true(json_object_object_get_ex(status_of(e), "acting", &acting));
                assert_true(json_object_object_get_ex(acting, "poweroff_requested", &v));
                assert_true(json_object_get_boolean(v));
        }
}

static void test_executor__fallback_disabled__only_retries(void **state) {
        Env *e = *state;
        time_t expiry = (time_t) (now_usec() / USEC_PER_SEC) + 1;
        char t[RFC3339_UTC_STRING_MAX];
        _cleanup_free_ char *launch = NULL;
        size_t n;

        e->config->expire_fallback_poweroff = false;
        rfc(expiry, t);
        const char *const kv[] = { "cdp:expires-at", t, NULL };
        launch = instances_xml(e->launch, "running", kv);
        push(e, launch);
        set_policy(e, kv);
        assert_true(run_until(e, launch_known, 2 * USEC_PER_SEC));
        run_until(e, NULL, 3500 * USEC_PER_MSEC);               /* expiry + grace + more */
        assert_int_equal(poweroff_calls, 0);
        n = count_action(e, "TerminateInstances");
        assert_true(n >= 2);
        run_until(e, NULL, 800 * USEC_PER_MSEC);
        assert_true(count_action(e, "TerminateInstances") > n);  /* still retrying */
        assert_int_equal(poweroff_calls, 0);
        /* and it goes through once the API answers */
        push(e, TERMINATE_XML);
        assert_true(run_until(e, done_state, 3 * USEC_PER_SEC));
}

static void test_executor__launch_time_unknown__never_acts(void **state) {
        Env *e = *state;
        char t[RFC3339_UTC_STRING_MAX];

        rfc((time_t) (now_usec() / USEC_PER_SEC) - 3600, t);
        const char *const kv[] = { "cdp:expires-at", t, NULL };
        /* DescribeInstances never answers */
        set_policy(e, kv);
        run_until(e, NULL, 1500 * USEC_PER_MSEC);
        assert_true(fake_http_count(e->http) >= 1);
        assert_int_equal(count_action(e, "DescribeInstances"), fake_http_count(e->http));
        assert_int_equal(poweroff_calls, 0);
        assert_string_equal(status_str(e, "state"), "waiting-for-launch-time");
        assert_non_null(status_str(e, "launch_time_error"));
}

static void test_executor__invalid_tag__nothing_at_all(void **state) {
        Env *e = *state;
        const char *const kv[] = { "cdp:expires-at", "2001-01-01T00:00:00Z", "cdp:expire-action", "explode", NULL };

        set_policy(e, kv);
        run_until(e, NULL, 1000 * USEC_PER_MSEC);
        assert_int_equal(fake_http_count(e->http), 0);
        assert_string_equal(status_str(e, "state"), "off");
        assert_non_null(strstr(status_str(e, "reason"), "invalid"));
        {
                struct json_object *errs;
                assert_true(json_object_object_get_ex(status_of(e), "errors", &errs));
                assert_int_equal(json_object_array_length(errs), 1);
        }
}

static void test_executor__revoke_denied__stop_goes_ahead(void **state) {
        Env *e = *state;
        char t[RFC3339_UTC_STRING_MAX];
        _cleanup_free_ char *launch = NULL;

        rfc((time_t) (now_usec() / USEC_PER_SEC) - 10, t);
        const char *const kv[] = { "cdp:expires-at", t, "cdp:expire-revoke", RULE, "cdp:expire-action", "stop",
                                   NULL };
        launch = instances_xml(e->launch, "running", kv);
        push(e, launch);
        push(e, launch);
        push(e, RULES_XML);
        push_status(e, 403, UNAUTHORIZED_XML);
        push(e, STOP_XML);
        set_policy(e, kv);
        assert_true(run_until(e, stopped, 3 * USEC_PER_SEC));
        {
                _cleanup_free_ char *a3 = action_of(e, 3), *a4 = action_of(e, 4);
                assert_string_equal(a3, "RevokeSecurityGroupIngress");
                assert_string_equal(a4, "StopInstances");
        }
        /* the revocation is retried beside the stop */
        run_until(e, NULL, 800 * USEC_PER_MSEC);
        assert_true(count_action(e, "DescribeSecurityGroupRules") >= 2);
        assert_int_equal(poweroff_calls, 0);
}

static void test_executor__tags_moved_at_expiry__not_acting(void **state) {
        Env *e = *state;
        time_t now = (time_t) (now_usec() / USEC_PER_SEC);
        char t_old[RFC3339_UTC_STRING_MAX], t_new[RFC3339_UTC_STRING_MAX];
        _cleanup_free_ char *launch = NULL, *confirm = NULL;

        rfc(now - 5, t_old);
        rfc(now + 3600, t_new);
        const char *const kv_old[] = { "cdp:expires-at", t_old, NULL };
        const char *const kv_new[] = { "cdp:expires-at", t_new, NULL };
        launch = instances_xml(e->launch, "running", kv_old);
        confirm = instances_xml(e->launch, "running", kv_new);
        push(e, launch);
        push(e, confirm);
        set_policy(e, kv_old);
        run_until(e, NULL, 1000 * USEC_PER_MSEC);
        assert_int_equal(fake_http_count(e->http), 2);
        assert_string_equal(status_str(e, "state"), "counting-down");
        assert_string_equal(status_str(e, "expires_at"), t_new);
        assert_int_equal(refresh_calls, 1);
        /* the stale tag read comes again (unchanged bastion tags): still not acting */
        set_policy(e, kv_old);
        run_until(e, NULL, 300 * USEC_PER_MSEC);
        assert_string_equal(status_str(e, "expires_at"), t_new);
        assert_int_equal(count_action(e, "TerminateInstances"), 0);
}

static void test_executor__extend__create_tags_then_new_expiry(void **state) {
        Env *e = *state;
        time_t expiry = (time_t) (now_usec() / USEC_PER_SEC) + 3600;
        char t[RFC3339_UTC_STRING_MAX], t_new[RFC3339_UTC_STRING_MAX];
        _cleanup_free_ char *launch = NULL;
        CtlRequest req = {};
        struct json_object *args = json_object_new_object(), *v;

        rfc(expiry, t);
        rfc(expiry + 7200, t_new);
        const char *const kv[] = { "cdp:expires-at", t, NULL };
        launch = instances_xml(e->launch, "running", kv);
        push(e, launch);
        set_policy(e, kv);
        assert_true(run_until(e, launch_known, 2 * USEC_PER_SEC));

        push(e, CREATE_TAGS_XML);
        json_object_object_add(args, "duration", json_object_new_string("2h"));
        assert_string_equal(bastion_pattern_ops.commands[0].name, "extend");
        assert_int_equal(bastion_pattern_ops.commands[0].handler(e->pattern, &req, args), 0);
        assert_int_equal(req.replies, 0);       /* answered once AWS has the tag */
        run_until(e, launch_known, 2 * USEC_PER_SEC);
        assert_int_equal(req.replies, 1);
        assert_true(req.ok);
        assert_true(json_object_object_get_ex(req.result, "expires_at", &v));
        assert_string_equal(json_object_get_string(v), t_new);
        {
                _cleanup_free_ char *a = action_of(e, 1), *k = param_of(e, 1, "Tag.1.Key"),
                                    *val = param_of(e, 1, "Tag.1.Value"), *id = param_of(e, 1, "ResourceId.1"),
                                    *k2 = param_of(e, 1, "Tag.2.Key");
                assert_string_equal(a, "CreateTags");
                assert_string_equal(id, IID);
                assert_string_equal(k, "cdp:expires-at");
                assert_string_equal(val, t_new);
                assert_null(k2);
        }
        assert_string_equal(status_str(e, "expires_at"), t_new);
        assert_string_equal(status_str(e, "tags_pending"), "extend");
        assert_int_equal(refresh_calls, 1);
        /* the tag read catches up: the override goes */
        {
                const char *const kv2[] = { "cdp:expires-at", t_new, NULL };
                push(e, launch);
                set_policy(e, kv2);
                assert_null(status_str(e, "tags_pending"));
                assert_string_equal(status_str(e, "expires_at"), t_new);
                run_until(e, launch_known, 2 * USEC_PER_SEC);
        }
        request_done(&req);

        /* beyond the 24h cap: refused, nothing written */
        {
                size_t n = fake_http_count(e->http);
                struct json_object *a2 = json_object_new_object();

                json_object_object_add(a2, "duration", json_object_new_string("1d"));
                assert_int_equal(bastion_pattern_ops.commands[0].handler(e->pattern, &req, a2), 0);
                assert_int_equal(req.replies, 1);
                assert_false(req.ok);
                assert_int_equal(req.exit_code, 1);
                assert_string_equal(req.code, "BeyondMaxLifetime");
                assert_non_null(strstr(req.message, "bastion_max_lifetime"));
                run_until(e, NULL, 100 * USEC_PER_MSEC);
                assert_int_equal(fake_http_count(e->http), n);
                json_object_put(a2);
                request_done(&req);
        }
        /* a bad duration is a usage error */
        {
                struct json_object *a3 = json_object_new_object();

                json_object_object_add(a3, "duration", json_object_new_string("soon"));
                assert_int_equal(bastion_pattern_ops.commands[0].handler(e->pattern, &req, a3), 0);
                assert_int_equal(req.exit_code, 2);
                json_object_put(a3);
                request_done(&req);
        }
        json_object_put(args);
}

static void test_executor__extend_denied__error_with_aws_code(void **state) {
        Env *e = *state;
        char t[RFC3339_UTC_STRING_MAX];
        _cleanup_free_ char *launch = NULL;
        CtlRequest req = {};
        struct json_object *args = json_object_new_object();

        rfc((time_t) (now_usec() / USEC_PER_SEC) + 600, t);
        const char *const kv[] = { "cdp:expires-at", t, NULL };
        launch = instances_xml(e->launch, "running", kv);
        push(e, launch);
        set_policy(e, kv);
        assert_true(run_until(e, launch_known, 2 * USEC_PER_SEC));
        push_status(e, 403, UNAUTHORIZED_XML);
        json_object_object_add(args, "duration", json_object_new_string("30m"));
        assert_int_equal(bastion_pattern_ops.commands[0].handler(e->pattern, &req, args), 0);
        run_until(e, launch_known, 2 * USEC_PER_SEC);
        assert_int_equal(req.replies, 1);
        assert_false(req.ok);
        assert_string_equal(req.code, "UnauthorizedOperation");
        assert_non_null(strstr(req.message, "CreateTags on " IID));
        assert_string_equal(status_str(e, "expires_at"), t);    /* unchanged */
        request_done(&req);
        json_object_put(args);
}

/* ---- seams ---- */

static void test_wall__tty_lines__only_terminals(void **state) {
        (void) state;
        assert_true(wall_tty_line_valid("pts/0"));
        assert_true(wall_tty_line_valid("pts/12"));
        assert_true(wall_tty_line_valid("tty1"));
        assert_true(wall_tty_line_valid("ttyS0"));
        assert_false(wall_tty_line_valid("tty"));
        assert_false(wall_tty_line_valid("pts/"));
        assert_false(wall_tty_line_valid("pts/0/../../etc/passwd"));
        assert_false(wall_tty_line_valid("pts/../sda"));
        assert_false(wall_tty_line_valid("../etc/shadow"));
        assert_false(wall_tty_line_valid("console"));
        assert_false(wall_tty_line_valid("sda1"));
        assert_false(wall_tty_line_valid("tty1/x"));
        assert_false(wall_tty_line_valid(""));
        assert_false(wall_tty_line_valid(NULL));
}

/* The real implementation over a fake utmp and a fake /dev: regular files
 * and symlinks named like terminals are never written. */
static void test_wall__fake_utmp__no_regular_file_no_symlink(void **state) {
        char dir[] = "/tmp/cdpd-wall-XXXXXX", path[256], target[256];
        struct utmpx u = { .ut_type = USER_PROCESS, .ut_pid = 42 };
        struct stat st;
        int n;

        (void) state;
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/pts", dir);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/pts/0", dir);               /* a regular file */
        fclose(fopen(path, "w"));
        snprintf(target, sizeof(target), "%s/victim", dir);           /* a symlink to a file */
        fclose(fopen(target, "w"));
        snprintf(path, sizeof(path), "%s/pts/1", dir);
        assert_int_equal(symlink(target, path), 0);
        snprintf(path, sizeof(path), "%s/tty1", dir);                 /* a symlink to a char device */
        assert_int_equal(symlink("/dev/null", path), 0);

        snprintf(path, sizeof(path), "%s/utmp", dir);
        fclose(fopen(path, "w"));
        assert_int_equal(utmpxname(path), 0);
        setutxent();
        static const char *const lines[] = { "pts/0", "pts/1", "tty1", "../victim" };
        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                strncpy(u.ut_line, lines[i], sizeof(u.ut_line));
                snprintf(u.ut_id, sizeof(u.ut_id), "%zu", i);
                strncpy(u.ut_user, "tester", sizeof(u.ut_user));
                u.ut_pid = 42 + (pid_t) i;
                assert_non_null(pututxline(&u));
        }
        endutxent();

        n = wall_send_utmp(path, dir, "hello\n");
        assert_int_equal(n, 0);
        snprintf(path, sizeof(path), "%s/pts/0", dir);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_size, 0);
        assert_int_equal(stat(target, &st), 0);
        assert_int_equal(st.st_size, 0);
        assert_int_equal(wall_send_utmp(path, "/nonexistent-dev", "x"), -ENOENT);
        {
                char cmd[300];
                snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
                assert_int_equal(system(cmd), 0);
        }
}

static void test_poweroff__guards__never_real_in_tests(void **state) {
        _cleanup_free_ char *detail = NULL;
        char file[] = "/tmp/cdpd-poweroff-XXXXXX";
        char buf[256] = {};
        int fd;

        (void) state;
        assert_true(poweroff_imds_is_real("http://169.254.169.254"));
        assert_true(poweroff_imds_is_real("http://169.254.169.254/"));
        assert_true(poweroff_imds_is_real("http://[fd00:ec2::254]"));
        assert_false(poweroff_imds_is_real("http://127.0.0.1:8080"));
        assert_false(poweroff_imds_is_real("http://169.254.169.254.evil.test"));
        assert_false(poweroff_imds_is_real(NULL));

        /* the file hook records instead of asking logind */
        fd = mkstemp(file);
        assert_true(fd >= 0);
        setenv("CDPD_TEST_POWEROFF_FILE", file, 1);
        assert_int_equal(poweroff_logind(NULL, "unit test", NULL, NULL, NULL, &detail), 0);
        assert_true(read(fd, buf, sizeof(buf) - 1) > 0);
        assert_string_equal(buf, "poweroff unit test\n");
        close(fd);
        unlink(file);

        /* without it, an IMDS that is not EC2's refuses */
        unsetenv("CDPD_TEST_POWEROFF_FILE");
        setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1", 1);
        assert_int_equal(poweroff_logind(NULL, "unit test", NULL, NULL, NULL, &detail), -EPERM);
        assert_non_null(strstr(detail, "127.0.0.1"));
        setenv("CDPD_TEST_POWEROFF_FILE", "/dev/null", 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_executor__expiry_ahead__revoke_then_terminate_in_order,
                                                env_setup, env_teardown),
                cmocka_unit_test_setup_teardown(test_executor__expired_at_start_stop__acts_at_once, env_setup,
                                                env_teardown),
                cmocka_unit_test_setup_teardown(test_executor__api_unreachable__retries_then_poweroff_seam,
                                                env_setup, env_teardown),
                cmocka_unit_test_setup_teardown(test_executor__fallback_disabled__only_retries, env_setup,
                                                env_teardown),
                cmocka_unit_test_setup_teardown(test_executor__launch_time_unknown__never_acts, env_setup,
                                                env_teardown),
                cmocka_unit_test_setup_teardown(test_executor__invalid_tag__nothing_at_all, env_setup, env_teardown),
                cmocka_unit_test_setup_teardown(test_executor__revoke_denied__stop_goes_ahead, env_setup,
                                                env_teardown),
                cmocka_unit_test_setup_teardown(test_executor__tags_moved_at_expiry__not_acting, env_setup,
                                                env_teardown),
                cmocka_unit_test_setup_teardown(test_executor__extend__create_tags_then_new_expiry, env_setup,
                                                env_teardown),
                cmocka_unit_test_setup_teardown(test_executor__extend_denied__error_with_aws_code, env_setup,
                                                env_teardown),
                cmocka_unit_test(test_wall__tty_lines__only_terminals),
                cmocka_unit_test(test_wall__fake_utmp__no_regular_file_no_symlink),
                cmocka_unit_test(test_poweroff__guards__never_real_in_tests),
        };

        /* Belt and braces: the seams are replaced, and the hooks point away. */
        poweroff_set_impl(record_poweroff);
        wall_set_sink(record_wall, NULL);
        setenv("CDPD_TEST_POWEROFF_FILE", "/dev/null", 1);
        setenv("CDPD_TEST_WALL_FILE", "/dev/null", 1);
        unsetenv("JOURNAL_STREAM");
        return cmocka_run_group_tests_name("pattern-bastion", tests, NULL, NULL);
}
