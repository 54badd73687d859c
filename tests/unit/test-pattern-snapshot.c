/* SPDX-License-Identifier: MIT */
/* Unit tests for the Snapshot pattern's executor (daemon/pattern-snapshot.c)
 * on a real sd-event loop over the scripted HTTP transport: the calls a run
 * makes and in which order, the tags of the creating call, dry runs making
 * no write call, failed or unanswered creates pruning nothing, throttled
 * deletes stopping, listings that fail part-way, AMI deregistration,
 * cross-region copies, retries of scheduled runs, freeze/thaw on every path,
 * and the hooks.
 *
 * Link-time fakes (this file): ctl_reply_ok/ctl_reply_error/
 * ctl_reply_error_with (daemon/ctl-server.c) and status_request_done
 * (daemon/manager.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "cdp/creds.h"
#include "cdp/ec2.h"
#include "cdp/imds.h"
#include "cdp/parse-util.h"
#include "cdp/strbuf.h"
#include "fake-http.h"
#include "log.h"
#include "manager.h"
#include "pattern-snapshot.h"
#include "test-data.h"

#define ME "i-0123456789abcdef0"
#define SLOT "2026-01-10T00:00:00Z"
#define OLD1 "2026-01-07T00:00:00Z"
#define OLD2 "2026-01-08T00:00:00Z"
#define OLD3 "2026-01-09T00:00:00Z"

/* ---- link-time fakes ---------------------------------------------------- */

struct CtlRequest {
        int unused;
};

typedef struct Reply {
        bool done;
        bool ok;
        int exit_code;
        char *code;
        char *message;
        struct json_object *result;
} Reply;

static Reply reply;

static void reply_reset(void) {
        free(reply.code);
        free(reply.message);
        json_object_put(reply.result);
        reply = (Reply) {};
}

static void reply_set(bool ok, int exit_code, const char *code, const char *message, struct json_object *result) {
        /* Exactly once per request. */
        assert_false(reply.done);
        reply.done = true;
        reply.ok = ok;
        reply.exit_code = exit_code;
        reply.code = code ? strdup(code) : NULL;
        reply.message = message ? strdup(message) : NULL;
        reply.result = result;
}

void ctl_reply_ok(CtlRequest *req, struct json_object *result) {
        (void) req;
        reply_set(true, 0, NULL, NULL, result);
}

void ctl_reply_error(CtlRequest *req, int exit_code, const char *code, const char *message) {
        (void) req;
        reply_set(false, exit_code, code, message, NULL);
}

void ctl_reply_error_with(CtlRequest *req, int exit_code, const char *code, const char *message,
                          struct json_object *result) {
        (void) req;
        reply_set(false, exit_code, code, message, result);
}

static struct json_object *status_section;

void status_request_done(StatusRequest *sr, struct json_object *section) {
        (void) sr;
        json_object_put(status_section);
        status_section = section;
}

/* ---- a transport that can hold the create call --------------------------- */

typedef struct HoldHttp {
        HttpTransport base;
        HttpTransport *inner;
        const char *hold_action;        /* "Action=CreateSnapshots": held until released */
        HttpCall *inner_call;
        HttpDoneFn done;
        void *userdata;
        char *body;
        size_t body_len;
        const char *url;
        bool holding;
        unsigned held;
} HoldHttp;

static HoldHttp hold;

static int hold_submit(HttpTransport *t, const HttpRequest *req, HttpDoneFn done, void *userdata, HttpCall **ret) {
        HoldHttp *h = (HoldHttp *) t;

        if (h->hold_action && req->body && memmem(req->body, req->body_len, h->hold_action, strlen(h->hold_action))) {
                /* Keep it; hand out a dummy handle. */
                h->holding = true;
                h->held++;
                h->done = done;
                h->userdata = userdata;
                if (ret)
                        *ret = (HttpCall *) &h->holding;
                return 0;
        }
        return http_submit(h->inner, req, done, userdata, ret);
}

static void hold_cancel(HttpTransport *t, HttpCall *c) {
        HoldHttp *h = (HoldHttp *) t;

        if (c == (HttpCall *) &h->holding) {
                h->holding = false;
                return;
        }
        http_cancel(h->inner, c);
}

static void hold_free(HttpTransport *t) {
        (void) t;
}

static const HttpTransportOps hold_ops = { .submit = hold_submit, .cancel = hold_cancel, .free = hold_free };

/* Answers the held call. */
static void hold_release(long status, const char *body, int error) {
        HttpResponse resp = { .status = status, .body = body, .body_len = body ? strlen(body) : 0 };

        assert_true(hold.holding);
        hold.holding = false;
        hold.done(error, error ? NULL : &resp, hold.userdata);
}

/* ---- fake freeze ---------------------------------------------------------- */

typedef struct FakeFreeze {
        unsigned freezes, thaws;
        int frozen;                     /* file systems frozen now */
        int freeze_error;
        unsigned http_at_freeze;        /* requests recorded when the freeze happened */
} FakeFreeze;

static FakeFreeze ff;
static FakeHttp *current_http;

static int fake_freeze(const char *path, int *ret_fd, void *userdata) {
        (void) path;
        (void) userdata;
        if (ff.freeze_error)
                return ff.freeze_error;
        ff.freezes++;
        ff.frozen++;
        ff.http_at_freeze = (unsigned) fake_http_count(current_http);
        *ret_fd = 100 + ff.frozen;
        return 0;
}

static int fake_thaw(const char *path, int fd, void *userdata) {
        (void) path;
        (void) fd;
        (void) userdata;
        ff.thaws++;
        ff.frozen--;
        return 0;
}

static const FreezeOps fake_freeze_ops = { .freeze = fake_freeze, .thaw = fake_thaw };

/* ---- environment ---------------------------------------------------------- */

typedef struct Env {
        sd_event *event;
        FakeHttp *http;
        ImdsClient *imds;
        CredsProvider *creds;
        AwsContext aws;
        Manager m;
        Pattern *p;
        TagList *tags;
        char tmpdir[64];
} Env;

static const SnapshotTimings fast_timings = {
        .poll_first_usec = 1000,
        .poll_max_usec = 4000,
        .follow_max_usec = 2 * USEC_PER_SEC,
        .verify_delay_usec = 1000,
        .retry_base_usec = 5000,
        .retry_max_usec = 20000,
        .retry_max = 2,
};

static void run_until(Env *e, bool (*cond)(Env *e), uint64_t max_usec) {
        uint64_t end = clock_now(clock_real(), CLOCK_MONOTONIC) + max_usec;

        while (!cond(e)) {
                assert_true(clock_now(clock_real(), CLOCK_MONOTONIC) < end);
                assert_true(sd_event_run(e->event, 10 * USEC_PER_MSEC) >= 0);
        }
}

static bool cond_replied(Env *e) {
        (void) e;
        return reply.done;
}

static bool cond_idle(Env *e) {
        return !snapshot_pattern_busy(e->p) && fake_http_in_flight(e->http) == 0;
}

static void run_quiet(Env *e) {
        for (unsigned i = 0; i < 1000; i++) {
                int r = sd_event_run(e->event, 20 * USEC_PER_MSEC);
                assert_true(r >= 0);
                if (r == 0 && cond_idle(e))
                        return;
        }
        fail_msg("the loop never went quiet");
}

/* Sets the instance tags and applies them as the manager would. */
static void env_policy(Env *e, const char *const *kv) {
        _cleanup_free_ PolicyTag *pt = NULL;
        size_t n = 0;

        while (kv[2 * n])
                n++;
        pt = calloc(n + 1, sizeof(PolicyTag));
        assert_non_null(pt);
        for (size_t i = 0; i < n; i++)
                pt[i] = (PolicyTag) { kv[2 * i], kv[2 * i + 1] };
        policy_free(e->m.policy);
        e->m.policy = NULL;
        assert_int_equal(policy_parse(pt, n, "cdp:", &e->m.policy), 0);
        e->p->ops->policy_changed(e->p);
}

/* ---- answers ---- */

#define NS " xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\""

static const char *const instance_xml =
        "<DescribeInstancesResponse" NS "><requestId>req-di</requestId><reservationSet><item><instancesSet><item>"
        "<instanceId>" ME "</instanceId><rootDeviceName>/dev/xvda</rootDeviceName>"
        "<blockDeviceMapping>"
        "<item><deviceName>/dev/xvda</deviceName><ebs><volumeId>vol-a</volumeId></ebs></item>"
        "<item><deviceName>/dev/xvdf</deviceName><ebs><volumeId>vol-f</volumeId></ebs></item>"
        "</blockDeviceMapping>"
        "<tagSet><item><key>Name</key><value>web-1</value></item></tagSet>"
        "</item></instancesSet></item></reservationSet></DescribeInstancesResponse>";

typedef struct Snap {
        const char *id, *state, *slot, *device, *volume;
        const char *instance;   /* NULL = ME */
        const char *managed;    /* NULL = cdpd */
        const char *type;
} Snap;

#define SNAP(i, st, sl, d, v) { .id = (i), .state = (st), .slot = (sl), .device = (d), .volume = (v) }
#define SNAP_OF(i, st, sl, d, v, inst, man, ty) \
        {                                                                                       \
                .id = (i), .state = (st), .slot = (sl), .device = (d), .volume = (v),            \
                .instance = (inst), .managed = (man), .type = (ty),                             \
        }

static char *snapshots_xml(const Snap *s, size_t n, const char *next_token) {
        StrBuf b = STRBUF_INIT(0);

        assert_int_equal(strbuf_puts(&b, "<DescribeSnapshotsResponse" NS "><requestId>req-ds</requestId>"
                                         "<snapshotSet>"), 0);
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(strbuf_printf(&b,
                                               "<item><snapshotId>%s</snapshotId><volumeId>%s</volumeId>"
                                               "<status>%s</status>"
                                               "<tagSet><item><key>cdp:managed-by</key><value>%s</value></item>"
                                               "<item><key>cdp:instance-id</key><value>%s</value></item>"
                                               "<item><key>cdp:slot</key><value>%s</value></item>",
                                               s[i].id, s[i].volume ? s[i].volume : "vol-ffffffff", s[i].state,
                                               s[i].managed ? s[i].managed : "cdpd", s[i].instance ? s[i].instance : ME,
                                               s[i].slot), 0);
                if (s[i].device)
                        assert_int_equal(strbuf_printf(&b, "<item><key>cdp:device</key><value>%s</value></item>",
                                                       s[i].device), 0);
                if (s[i].type)
                        assert_int_equal(strbuf_printf(&b, "<item><key>cdp:type</key><value>%s</value></item>",
                                                       s[i].type), 0);
                assert_int_equal(strbuf_puts(&b, "</tagSet></item>"), 0);
        }
        assert_int_equal(strbuf_puts(&b, "</snapshotSet>"), 0);
        if (next_token)
                assert_int_equal(strbuf_printf(&b, "<nextToken>%s</nextToken>", next_token), 0);
        assert_int_equal(strbuf_puts(&b, "</DescribeSnapshotsResponse>"), 0);
        return strbuf_steal(&b);
}

static const char *const create_snapshots_xml =
        "<CreateSnapshotsResponse" NS "><requestId>req-cs</requestId><snapshotSet>"
        "<item><snapshotId>snap-new-a</snapshotId><volumeId>vol-a</volumeId><state>pending</state></item>"
        "<item><snapshotId>snap-new-f</snapshotId><volumeId>vol-f</volumeId><state>pending</state></item>"
        "</snapshotSet></CreateSnapshotsResponse>";

static char *ok_xml(const char *action) {
        return test_strf("<%sResponse" NS "><requestId>req-%s</requestId><return>true</return></%sResponse>", action,
                    action, action);
}

static char *error_xml(const char *code) {
        return test_strf("<Response><Errors><Error><Code>%s</Code><Message>%s happened</Message></Error></Errors>"
                    "<RequestID>req-err</RequestID></Response>", code, code);
}

static void push(Env *e, long status, const char *body) {
        fake_http_push(e->http, "POST", NULL, status, body, 0);
}

static void push_owned(Env *e, long status, char *body) {
        push(e, status, body);
        free(body);
}

static void push_ok(Env *e, const char *action, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                push_owned(e, 200, ok_xml(action));
}

static void push_snapshots(Env *e, const Snap *s, size_t n) {
        push_owned(e, 200, snapshots_xml(s, n, NULL));
}

/* The completion check of the two new snapshots: completed. */
static void push_poll_completed(Env *e) {
        const Snap done[] = {
                SNAP("snap-new-a", "completed", SLOT, "/dev/xvda", "vol-a"),
                SNAP("snap-new-f", "completed", SLOT, "/dev/xvdf", "vol-f"),
        };
        push_snapshots(e, done, ELEMENTSOF(done));
}

/* ---- requests ---- */

static const char *req_body(Env *e, size_t i) {
        return fake_http_get(e->http, i)->body;
}

static bool body_has(const char *body, const char *s) {
        return strstr(body, s) != NULL;
}

/* The Action of request i ("" for non-EC2 requests). */
static char *req_action(Env *e, size_t i) {
        const char *b = req_body(e, i), *a = strstr(b, "Action=");
        size_t n;

        if (!a)
                return strdup("");
        a += 7;
        n = strcspn(a, "&");
        return strndup(a, n);
}

static unsigned count_action(Env *e, size_t from, const char *action) {
        unsigned n = 0;

        for (size_t i = from; i < fake_http_count(e->http); i++) {
                _cleanup_free_ char *a = req_action(e, i);
                if (strcmp(a, action) == 0)
                        n++;
        }
        return n;
}

static bool is_write(const char *action) {
        return strncmp(action, "Describe", 8) != 0;
}

static unsigned count_writes(Env *e, size_t from) {
        unsigned n = 0;

        for (size_t i = from; i < fake_http_count(e->http); i++) {
                _cleanup_free_ char *a = req_action(e, i);
                if (*a && is_write(a))
                        n++;
        }
        return n;
}

/* Index of the first request with this action at or after from, or -1. */
static ssize_t find_action(Env *e, size_t from, const char *action) {
        for (size_t i = from; i < fake_http_count(e->http); i++) {
                _cleanup_free_ char *a = req_action(e, i);
                if (strcmp(a, action) == 0)
                        return (ssize_t) i;
        }
        return -1;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* The ids of a list in the reply ("id", else "source_id"), sorted, comma
 * separated (concurrent calls finish in any order). */
static char *reply_ids(const char *key) {
        _cleanup_free_ const char **ids = NULL;
        struct json_object *a;
        StrBuf b = STRBUF_INIT(0);
        size_t n;

        assert_non_null(reply.result);
        assert_true(json_object_object_get_ex(reply.result, key, &a));
        n = json_object_array_length(a);
        ids = calloc(n + 1, sizeof(char *));
        assert_non_null(ids);
        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_array_get_idx(a, i), *id;

                if (!json_object_object_get_ex(o, "id", &id))
                        assert_true(json_object_object_get_ex(o, "source_id", &id));
                ids[i] = json_object_get_string(id);
        }
        qsort(ids, n, sizeof(char *), cmp_str);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(strbuf_printf(&b, "%s%s", i ? "," : "", ids[i]), 0);
        return strbuf_steal(&b);
}

static int64_t reply_int(const char *key) {
        struct json_object *v;

        assert_true(json_object_object_get_ex(reply.result, key, &v));
        return json_object_get_int64(v);
}

static bool reply_bool(const char *key) {
        struct json_object *v;

        assert_true(json_object_object_get_ex(reply.result, key, &v));
        return json_object_get_boolean(v);
}

static const char *reply_str(const char *key) {
        struct json_object *v;

        assert_true(json_object_object_get_ex(reply.result, key, &v));
        return json_object_get_string(v);
}

/* Runs `cdpctl snapshot` with args and waits for the reply. */
static void ctl_snapshot(Env *e, bool dry_run, const char *slot) {
        static CtlRequest req;
        struct json_object *args = json_object_new_object();
        const PatternCommand *cmd = &e->p->ops->commands[0];

        reply_reset();
        assert_string_equal(cmd->name, "snapshot");
        if (dry_run)
                json_object_object_add(args, "dry_run", json_object_new_boolean(true));
        if (slot)
                json_object_object_add(args, "slot", json_object_new_string(slot));
        assert_int_equal(cmd->handler(e->p, &req, args), 0);
        json_object_put(args);
        run_until(e, cond_replied, 5 * USEC_PER_SEC);
}

/* ---- setup ---- */

static const char *const default_tags[] = {
        "Name", "web-1",
        "cdp:snapshot", "@daily",
        "cdp:snapshot:keep", "2",
        NULL,
};

static int env_setup_with(void **state, const char *const *tags) {
        Env *e = calloc(1, sizeof(*e));
        ImdsConfig ic = { .retry_delay_usec = 1, .max_attempts = 1 };
        Ec2ClientConfig cc = {
                .region = "us-east-1",
                .max_attempts = 3,
                .base_delay_usec = 1000,
                .throttle_delay_usec = 1000,
                .max_delay_usec = 2000,
        };

        if (!e)
                return -1;
        *state = e;
        reply_reset();
        ff = (FakeFreeze) {};
        unsetenv("AWS_ENDPOINT_URL");
        unsetenv("AWS_ENDPOINT_URL_EC2");
        setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "secret-example", 1);
        unsetenv("AWS_SESSION_TOKEN");
        if (sd_event_new(&e->event) < 0 || fake_http_new(e->event, &e->http) < 0)
                return -1;
        current_http = e->http;
        hold = (HoldHttp) { .base = { .ops = &hold_ops }, .inner = fake_http_transport(e->http) };
        if (imds_client_new(&e->imds, e->event, fake_http_transport(e->http), clock_real(), &ic) < 0 ||
            creds_provider_new(&e->creds, e->event, e->imds, clock_real()) < 0)
                return -1;
        e->aws = (AwsContext) {
                .event = e->event,
                .transport = &hold.base,
                .region = (char *) "us-east-1",
                .instance_id = (char *) ME,
        };
        if (ec2_client_new(&e->aws.ec2, e->event, &hold.base, e->creds, clock_real(), &cc) < 0)
                return -1;
        if (config_new(&e->m.config) < 0)
                return -1;
        strcpy(e->tmpdir, "/tmp/cdpd-test-snapshot-XXXXXX");
        if (!mkdtemp(e->tmpdir))
                return -1;
        free(e->m.config->hooks_dir);
        e->m.config->hooks_dir = test_strf("%s/hooks.d", e->tmpdir);
        e->m.config->splay_usec = 0;
        e->m.event = e->event;
        e->m.aws = &e->aws;

        e->p = calloc(1, snapshot_pattern_ops.size);
        if (!e->p)
                return -1;
        e->p->ops = &snapshot_pattern_ops;
        e->p->manager = &e->m;
        if (snapshot_pattern_ops.init(e->p) < 0)
                return -1;
        snapshot_pattern_set_timings(e->p, &fast_timings);
        snapshot_pattern_set_freeze_ops(e->p, &fake_freeze_ops);

        /* The catch-up look at start: nothing exists, so nothing to catch up. */
        push(e, 200, instance_xml);
        push_snapshots(e, NULL, 0);
        env_policy(e, tags);
        run_quiet(e);
        if (fake_http_count(e->http) != 2 || count_writes(e, 0) != 0)
                return -1;
        return 0;
}

static int env_setup(void **state) {
        return env_setup_with(state, default_tags);
}

static int env_teardown(void **state) {
        Env *e = *state;
        _cleanup_free_ char *cmd = NULL;

        if (!e)
                return 0;
        snapshot_pattern_ops.done(e->p);
        free(e->p);
        policy_free(e->m.policy);
        config_free(e->m.config);
        ec2_client_free(e->aws.ec2);
        creds_provider_free(e->creds);
        imds_client_free(e->imds);
        fake_http_free(e->http);
        sd_event_unref(e->event);
        cmd = test_strf("rm -rf '%s'", e->tmpdir);
        if (system(cmd) != 0)
                fprintf(stderr, "cannot remove %s\n", e->tmpdir);
        free(e);
        reply_reset();
        json_object_put(status_section);
        status_section = NULL;
        unsetenv("AWS_ACCESS_KEY_ID");
        unsetenv("AWS_SECRET_ACCESS_KEY");
        return ff.frozen == 0 ? 0 : -1;
}

/* Three completed generations per device; keep = 2. */
static const Snap three_generations[] = {
        SNAP("snap-a1", "completed", OLD1, "/dev/xvda", "vol-a"),
        SNAP("snap-a2", "completed", OLD2, "/dev/xvda", "vol-a"),
        SNAP("snap-a3", "completed", OLD3, "/dev/xvda", "vol-a"),
        SNAP("snap-f1", "completed", OLD1, "/dev/xvdf", "vol-f"),
        SNAP("snap-f2", "completed", OLD2, "/dev/xvdf", "vol-f"),
        SNAP("snap-f3", "completed", OLD3, "/dev/xvdf", "vol-f"),
        /* not ours: never touched */
        SNAP_OF("snap-x1", "completed", OLD1, "/dev/xvda", "vol-x", "i-0fedcba9876543210", NULL, NULL),
        SNAP_OF("snap-u1", "completed", OLD1, "/dev/xvda", "vol-a", NULL, "someone", NULL),
};

/* ---- tests ---- */

static void test_snapshot_run__ebs_manual__create_tag_prune_follow(void **state) {
        Env *e = *state;
        size_t base = fake_http_count(e->http);
        _cleanup_free_ char *deleted = NULL, *created = NULL;
        ssize_t i_create, i_first_delete, i_poll;
        const char *b;

        push(e, 200, instance_xml);
        push_snapshots(e, three_generations, ELEMENTSOF(three_generations));
        push(e, 200, create_snapshots_xml);
        push_ok(e, "CreateTags", 2);
        push_poll_completed(e);
        push_ok(e, "DeleteSnapshot", 4);

        ctl_snapshot(e, false, SLOT);
        assert_true(reply.ok);
        assert_string_equal(reply_str("slot"), SLOT);
        assert_string_equal(reply_str("type"), "ebs");
        assert_string_equal(reply_str("result"), "ok");
        assert_false(reply_bool("dry_run"));
        assert_false(reply_bool("slot_taken"));
        created = reply_ids("created");
        assert_string_equal(created, "snap-new-a,snap-new-f");
        deleted = reply_ids("deleted");
        /* pruned once the new ones completed: keep 2 = the new and the newest old */
        assert_string_equal(deleted, "snap-a1,snap-a2,snap-f1,snap-f2");
        assert_int_equal(reply_int("kept"), 4);
        assert_int_equal(reply_int("deferred"), 0);

        /* the calls, in order */
        {
                _cleanup_free_ char *a0 = req_action(e, base), *a1 = req_action(e, base + 1),
                                    *a2 = req_action(e, base + 2);
                assert_string_equal(a0, "DescribeInstances");
                assert_string_equal(a1, "DescribeSnapshots");
                assert_string_equal(a2, "CreateSnapshots");
        }
        b = req_body(e, base + 1);
        assert_true(body_has(b, "Owner.1=self"));
        assert_true(body_has(b, "MaxResults=1000"));
        assert_true(body_has(b, "Filter.1.Name=tag%3Acdp%3Amanaged-by&Filter.1.Value.1=cdpd"));
        assert_true(body_has(b, "Filter.2.Name=tag%3Acdp%3Ainstance-id&Filter.2.Value.1=" ME));

        i_create = find_action(e, base, "CreateSnapshots");
        b = req_body(e, (size_t) i_create);
        assert_true(body_has(b, "InstanceSpecification.InstanceId=" ME));
        assert_false(body_has(b, "ExcludeBootVolume"));
        assert_true(body_has(b, "TagSpecification.1.ResourceType=snapshot"));
        assert_true(body_has(b, "Key=cdp%3Amanaged-by&TagSpecification.1.Tag.1.Value=cdpd"));
        assert_true(body_has(b, "Key=cdp%3Ainstance-id&TagSpecification.1.Tag.2.Value=" ME));
        assert_true(body_has(b, "Key=cdp%3Aslot&TagSpecification.1.Tag.3.Value=2026-01-10T00%3A00%3A00Z"));
        assert_true(body_has(b, "Key=Name&TagSpecification.1.Tag.4.Value=web-1-20260110T0000Z"));
        assert_true(body_has(b, "Key=cdp%3Atype&TagSpecification.1.Tag.5.Value=ebs"));

        /* per-snapshot device tags, then the completion check, then the deletes */
        assert_int_equal(count_action(e, base, "CreateTags"), 2);
        b = req_body(e, (size_t) find_action(e, base, "CreateTags"));
        assert_true(body_has(b, "ResourceId.1=snap-new-a"));
        assert_true(body_has(b, "Tag.1.Key=cdp%3Adevice&Tag.1.Value=%2Fdev%2Fxvda"));
        assert_true(body_has(b, "Tag.2.Key=cdp%3Avolume-id&Tag.2.Value=vol-a"));
        i_poll = find_action(e, (size_t) i_create + 1, "DescribeSnapshots");
        assert_true(i_poll > i_create);
        b = req_body(e, (size_t) i_poll);
        assert_true(body_has(b, "SnapshotId.1=snap-new-a"));
        assert_true(body_has(b, "SnapshotId.2=snap-new-f"));
        assert_false(body_has(b, "MaxResults"));
        i_first_delete = find_action(e, base, "DeleteSnapshot");
        assert_true(i_first_delete > i_poll);
        assert_int_equal(count_action(e, base, "DeleteSnapshot"), 4);
        assert_int_equal(count_writes(e, base), 1 + 2 + 4);

        run_quiet(e);
        assert_int_equal(fake_http_pending(e->http), 0);
        assert_false(snapshot_pattern_busy(e->p));
}

static void test_snapshot_run__dry_run__same_decisions_no_write(void **state) {
        Env *e = *state;
        size_t base = fake_http_count(e->http), base2;
        _cleanup_free_ char *dry_deleted = NULL, *real_deleted = NULL, *dry_created = NULL;
        struct json_object *c0, *dev;

        push(e, 200, instance_xml);
        push_snapshots(e, three_generations, ELEMENTSOF(three_generations));
        ctl_snapshot(e, true, SLOT);
        assert_true(reply.ok);
        assert_true(reply_bool("dry_run"));
        dry_deleted = reply_ids("deleted");
        /* as if the new ones were made and completed, as the real run prunes */
        assert_string_equal(dry_deleted, "snap-a1,snap-a2,snap-f1,snap-f2");
        assert_int_equal(json_object_array_length(json_object_object_get(reply.result, "created")), 2);
        c0 = json_object_array_get_idx(json_object_object_get(reply.result, "created"), 0);
        assert_true(json_object_object_get_ex(c0, "device", &dev));
        assert_string_equal(json_object_get_string(dev), "/dev/xvda");
        assert_int_equal(count_writes(e, base), 0);
        assert_int_equal(fake_http_count(e->http) - base, 2);
        assert_int_equal(ff.freezes, 0);
        run_quiet(e);

        /* The real run on the same state decides the same deletes. */
        base2 = fake_http_count(e->http);
        push(e, 200, instance_xml);
        push_snapshots(e, three_generations, ELEMENTSOF(three_generations));
        push(e, 200, create_snapshots_xml);
        push_ok(e, "CreateTags", 2);
        push_poll_completed(e);
        push_ok(e, "DeleteSnapshot", 4);
        ctl_snapshot(e, false, SLOT);
        assert_true(reply.ok);
        real_deleted = reply_ids("deleted");
        assert_string_equal(dry_deleted, real_deleted);
        assert_true(count_writes(e, base2) > 0);
        run_quiet(e);
        (void) dry_created;
}

static void test_snapshot_run__create_refused__nothing_deleted(void **state) {
        Env *e = *state;
        size_t base = fake_http_count(e->http);

        e->m.config->n_freeze = 1;
        e->m.config->freeze = calloc(2, sizeof(char *));
        e->m.config->freeze[0] = strdup("/srv/db");
        push(e, 200, instance_xml);
        push_snapshots(e, three_generations, ELEMENTSOF(three_generations));
        push_owned(e, 403, error_xml("UnauthorizedOperation"));

        ctl_snapshot(e, false, SLOT);
        assert_false(reply.ok);
        assert_int_equal(reply.exit_code, 1);
        assert_string_equal(reply.code, "UnauthorizedOperation");
        assert_non_null(strstr(reply.message, "CreateSnapshots"));
        assert_string_equal(reply_str("result"), "failed");
        assert_int_equal(count_action(e, base, "DeleteSnapshot"), 0);
        assert_int_equal(count_writes(e, base), 1);
        /* frozen just around the call, thawed after its error */
        assert_int_equal(ff.freezes, 1);
        assert_int_equal(ff.thaws, 1);
        assert_int_equal(ff.frozen, 0);
        assert_int_equal(ff.http_at_freeze, (unsigned) (base + 2));
        run_quiet(e);
}

static void test_snapshot_run__create_unanswered_not_found__no_second_create(void **state) {
        Env *e = *state;
        size_t base = fake_http_count(e->http);
        ssize_t i_verify;

        push(e, 200, instance_xml);
        push_snapshots(e, three_generations, ELEMENTSOF(three_generations));
        fake_http_push(e->http, "POST", NULL, 0, NULL, -ECONNRESET);
        push_snapshots(e, NULL, 0);     /* verify: no backup of the slot */

        ctl_snapshot(e, false, SLOT);
        assert_false(reply.ok);
        assert_string_equal(reply.code, "CreateOutcomeUnknown");
        assert_int_equal(count_action(e, base, "CreateSnapshots"), 1);
        assert_int_equal(count_writes(e, base), 1);
        i_verify = find_action(e, base + 3, "DescribeSnapshots");
        assert_true(i_verify > 0);
        assert_true(body_has(req_body(e, (size_t) i_verify),
                             "Name=tag%3Acdp%3Aslot&Filter.3.Value.1=2026-01-10T00%3A00%3A00Z"));
        run_quiet(e);
}

static void test_snapshot_run__create_unanswered_found__accepted_and_pruned(void **state) {
        Env *e = *state;
        size_t base = fake_http_count(e->http);
        const Snap made[] = {
                SNAP("snap-new-a", "pending", SLOT, NULL, "vol-a"),
                SNAP("snap-new-f", "pending", SLOT, NULL, "vol-f"),
        };
        _cleanup_free_ char *created = NULL;

        push(e, 200, instance_xml);
        push_snapshots(e, three_generations, ELEMENTSOF(three_generations));
        fake_http_push(e->http, "POST", NULL, 0, NULL, -ETIMEDOUT);
        push_snapshots(e, made, ELEMENTSOF(made));
        push_ok(e, "CreateTags", 2);
        push_poll_completed(e);
        push_ok(e, "DeleteSnapshot", 4);

        ctl_snapshot(e, false, SLOT);
        assert_true(reply.ok);
        created = reply_ids("created");
        assert_string_equal(created, "snap-new-a,snap-new-f");
        assert_int_equal(count_action(e, base, "CreateSnapshots"), 1);
        assert_int_equal(count_action(e, base, "CreateTags"), 2);
        assert_int_equal(count_action(e, base, "DeleteSnapshot"), 4);
        run_quiet(e);
}

static void test_snapshot_run__slot_taken__no_create_prune_runs(void **state) {
        Env *e = *state;
        size_t base = fake_http_count(e->http);
        Snap s[ELEMENTSOF(three_generations) + 1];
        _cleanup_free_ char *deleted = NULL;

        memcpy(s, three_generations, sizeof(three_generations));
        s[ELEMENTSOF(three_generations)] = (Snap) SNAP("snap-now", "pending", SLOT, "/dev/xvda", "vol-a");
        push(e, 200, instance_xml);
        push_snapshots(e, s, ELEMENTSOF(s));
        push_ok(e, "DeleteSnapshot", 2);

        ctl_snapshot(e, false, SLOT);
        assert_true(reply.ok);
        assert_true(reply_bool("slot_taken"));
        assert_int_equal(count_action(e, base, "CreateSnapshots"), 0);
        deleted = reply_ids("deleted");
        assert_string_equal(deleted, "snap-a1,snap-f1");
        run_quiet(e);
}

static void test_snapshot_run__delete_throttled__stops_and_defers(void **state) {
        Env *e = *state;
        size_t base = fake_http_count(e->http);
        Snap many[12];
        char ids[12][32], slots[12][32];

        e->m.config->max_inflight = 1;
        for (int i = 0; i < 12; i++) {
                snprintf(ids[i], sizeof(ids[i]), "snap-old%02d", i);
                snprintf(slots[i], sizeof(slots[i]), "2026-01-0%dT%02d:00:00Z", 1 + i / 12, i);
                many[i] = (Snap) SNAP(ids[i], "completed", slots[i], "/dev/xvda", "vol-a");
        }
        push(e, 200, instance_xml);
        push_snapshots(e, many, ELEMENTSOF(many));
        push(e, 200, create_snapshots_xml);
        push_ok(e, "CreateTags", 2);
        push_poll_completed(e);
        push_ok(e, "DeleteSnapshot", 2);
        /* the third delete is throttled through every attempt */
        for (int i = 0; i < 3; i++)
                push_owned(e, 503, error_xml("RequestLimitExceeded"));

        ctl_snapshot(e, false, SLOT);
        assert_true(reply.ok);
        assert_string_equal(reply_str("result"), "partial");
        /* 13 completed, keep 2: 11 to go; 2 went, the 3rd was throttled, 8 more wait */
        assert_int_equal(json_object_array_length(json_object_object_get(reply.result, "deleted")), 2);
        assert_int_equal(reply_int("deferred"), 9);
        assert_int_equal(count_action(e, base, "DeleteSnapshot"), 5);
        run_quiet(e);
        assert_int_equal(fake_http_pending(e->http), 0);
}

static void test_snapshot_run__listing_fails_part_way__nothing_created_or_deleted(void **state) {
        Env *e = *state;
        size_t base = fake_http_count(e->http);

        push(e, 200, instance_xml);
        push_owned(e, 200, snapshots_xml(three_generations, 3, "page-2"));
        /* the second page is cut off on every attempt */
        for (int i = 0; i < 3; i++)
                push(e, 200, "<DescribeSnapshotsResponse" NS "><requestId>r</requestId><snapshotSet><item><snap");

        ctl_snapshot(e, false, SLOT);
        assert_false(reply.ok);
        assert_string_equal(reply.code, "ListingFailed");
        assert_int_equal(count_writes(e, base), 0);
        assert_true(body_has(req_body(e, base + 2), "NextToken=page-2"));
        run_quiet(e);
}

static void test_snapshot_run__freeze_timeout__thawed_before_answer(void **state) {
        Env *e = *state;
        size_t base = fake_http_count(e->http);

        e->m.config->n_freeze = 2;
        e->m.config->freeze = calloc(3, sizeof(char *));
        e->m.config->freeze[0] = strdup("/srv/db");
        e->m.config->freeze[1] = strdup("/srv/log");
        e->m.config->freeze_timeout_usec = 20 * USEC_PER_MSEC;
        hold.hold_action = "Action=CreateSnapshots";
        push(e, 200, instance_xml);
        push_snapshots(e, three_generations, ELEMENTSOF(three_generations));

        {
                static CtlRequest req;
                struct json_object *args = json_object_new_object();

                reply_reset();
                json_object_object_add(args, "slot", json_object_new_string(SLOT));
                assert_int_equal(e->p->ops->commands[0].handler(e->p, &req, args), 0);
                json_object_put(args);
        }
        /* the create is on its way and not answered: frozen */
        for (int i = 0; i < 200 && !hold.holding; i++)
                assert_true(sd_event_run(e->event, 5 * USEC_PER_MSEC) >= 0);
        assert_true(hold.holding);
        assert_int_equal(ff.frozen, 2);
        assert_true(snapshot_pattern_frozen(e->p));
        /* the freeze timeout thaws even though the API has not answered */
        for (int i = 0; i < 200 && ff.frozen > 0; i++)
                assert_true(sd_event_run(e->event, 5 * USEC_PER_MSEC) >= 0);
        assert_int_equal(ff.frozen, 0);
        assert_int_equal(ff.thaws, 2);
        assert_true(hold.holding);
        assert_false(reply.done);

        /* the answer arrives late: the run goes on normally */
        push_ok(e, "CreateTags", 2);
        push_poll_completed(e);
        push_ok(e, "DeleteSnapshot", 4);
        hold_release(200, create_snapshots_xml, 0);
        run_until(e, cond_replied, 5 * USEC_PER_SEC);
        assert_true(reply.ok);
        assert_int_equal(ff.thaws, 2);
        assert_int_equal(count_action(e, base, "DeleteSnapshot"), 4);
        hold.hold_action = NULL;
        run_quiet(e);
}

static void test_snapshot_run__exit_while_frozen__thawed_by_exit_handler(void **state) {
        Env *e = *state;

        e->m.config->n_freeze = 1;
        e->m.config->freeze = calloc(2, sizeof(char *));
        e->m.config->freeze[0] = strdup("/srv/db");
        e->m.config->freeze_timeout_usec = 60 * USEC_PER_SEC;
        hold.hold_action = "Action=CreateSnapshots";
        push(e, 200, instance_xml);
        push_snapshots(e, three_generations, ELEMENTSOF(three_generations));
        {
                static CtlRequest req;
                struct json_object *args = json_object_new_object();

                reply_reset();
                assert_int_equal(e->p->ops->commands[0].handler(e->p, &req, args), 0);
                json_object_put(args);
        }
        for (int i = 0; i < 200 && !hold.holding; i++)
                assert_true(sd_event_run(e->event, 5 * USEC_PER_MSEC) >= 0);
        assert_int_equal(ff.frozen, 1);

        /* SIGTERM makes sd-event exit: the exit handler thaws first */
        assert_int_equal(sd_event_exit(e->event, 0), 0);
        for (int i = 0; i < 100 && sd_event_get_state(e->event) != SD_EVENT_FINISHED; i++)
                assert_true(sd_event_run(e->event, 0) >= 0);
        assert_int_equal(sd_event_get_state(e->event), SD_EVENT_FINISHED);
        assert_int_equal(ff.frozen, 0);
        assert_false(reply.done);
        /* done() answers the waiting request */
        snapshot_pattern_ops.done(e->p);
        assert_true(reply.done);
        assert_string_equal(reply.code, "ShuttingDown");
        hold.hold_action = NULL;
        hold.holding = false;
        /* teardown calls done() again: it must be harmless */
}

static void test_snapshot_run__freeze_fails__crash_consistent_backup(void **state) {
        Env *e = *state;

        e->m.config->n_freeze = 1;
        e->m.config->freeze = calloc(2, sizeof(char *));
        e->m.config->freeze[0] = strdup("/srv/db");
        ff.freeze_error = -EOPNOTSUPP;
        push(e, 200, instance_xml);
        push_snapshots(e, three_generations, ELEMENTSOF(three_generations));
        push(e, 200, create_snapshots_xml);
        push_ok(e, "CreateTags", 2);
        push_poll_completed(e);
        push_ok(e, "DeleteSnapshot", 4);
        ctl_snapshot(e, false, SLOT);
        assert_true(reply.ok);
        assert_string_equal(reply_str("result"), "partial");       /* the freeze error is reported */
        assert_int_equal(json_object_array_length(json_object_object_get(reply.result, "frozen")), 0);
        assert_int_equal(ff.frozen, 0);
        run_quiet(e);
}

static void test_snapshot_run__ami__deregisters_then_deletes_own_parts(void **state) {
        static const char *const ami_tags[] = {
                "Name", "web-1", "cdp:snapshot", "@daily", "cdp:snapshot:keep", "1", "cdp:snapshot:type", "ami", NULL,
        };
        Env *e = *state;
        size_t base;
        const char *images =
                "<DescribeImagesResponse" NS "><requestId>req-di</requestId><imagesSet>"
                "<item><imageId>ami-old</imageId><imageState>available</imageState><name>old</name>"
                "<blockDeviceMapping>"
                "<item><deviceName>/dev/xvda</deviceName><ebs><snapshotId>snap-p1</snapshotId></ebs></item>"
                "<item><deviceName>/dev/xvdf</deviceName><ebs><snapshotId>snap-foreign</snapshotId></ebs></item>"
                "</blockDeviceMapping>"
                "<tagSet><item><key>cdp:managed-by</key><value>cdpd</value></item>"
                "<item><key>cdp:instance-id</key><value>" ME "</value></item>"
                "<item><key>cdp:slot</key><value>" OLD2 "</value></item></tagSet></item>"
                "<item><imageId>ami-mid</imageId><imageState>available</imageState><name>mid</name>"
                "<tagSet><item><key>cdp:managed-by</key><value>cdpd</value></item>"
                "<item><key>cdp:instance-id</key><value>" ME "</value></item>"
                "<item><key>cdp:slot</key><value>" OLD3 "</value></item></tagSet></item>"
                "</imagesSet></DescribeImagesResponse>";
        const Snap parts[] = { SNAP_OF("snap-p1", "completed", OLD2, NULL, "vol-a", NULL, NULL, "ami") };
        const char *create = "<CreateImageResponse" NS "><requestId>req-ci</requestId><imageId>ami-new</imageId>"
                             "</CreateImageResponse>";
        const char *poll = "<DescribeImagesResponse" NS "><requestId>req-p</requestId><imagesSet><item>"
                           "<imageId>ami-new</imageId>"
                           "<imageState>available</imageState></item></imagesSet></DescribeImagesResponse>";
        _cleanup_free_ char *deleted = NULL;
        ssize_t i_dereg, i_del;
        const char *b;

        /* same schedule: no new look for a missed slot */
        env_policy(e, ami_tags);
        run_quiet(e);

        base = fake_http_count(e->http);
        push(e, 200, instance_xml);
        push(e, 200, images);
        push_snapshots(e, parts, ELEMENTSOF(parts));
        push(e, 200, create);
        push(e, 200, poll);
        push_ok(e, "DeregisterImage", 2);
        push_ok(e, "DeleteSnapshot", 1);

        ctl_snapshot(e, false, SLOT);
        assert_true(reply.ok);
        assert_string_equal(reply_str("type"), "ami");
        b = req_body(e, (size_t) find_action(e, base, "CreateImage"));
        assert_true(body_has(b, "NoReboot=true"));
        assert_true(body_has(b, "Name=web-1-20260110T0000Z-" ME));
        assert_true(body_has(b, "TagSpecification.1.ResourceType=image"));
        assert_true(body_has(b, "TagSpecification.2.ResourceType=snapshot"));
        assert_true(body_has(b, "TagSpecification.2.Tag.5.Value=ami"));
        b = req_body(e, (size_t) find_action(e, base, "DescribeImages"));
        assert_false(body_has(b, "MaxResults"));
        assert_true(body_has(b, "Owner.1=self"));

        /* keep 1, once ami-new is available: ami-old and ami-mid go, then
         * ami-old's snapshot that is ours (not snap-foreign) */
        i_dereg = find_action(e, base, "DeregisterImage");
        i_del = find_action(e, base, "DeleteSnapshot");
        assert_true(i_dereg > 0 && i_del > i_dereg);
        assert_true(body_has(req_body(e, (size_t) i_dereg), "ImageId=ami-old"));
        assert_true(body_has(req_body(e, (size_t) i_dereg + 1), "ImageId=ami-mid"));
        assert_true(body_has(req_body(e, (size_t) i_del), "SnapshotId=snap-p1"));
        assert_int_equal(count_action(e, base, "DeleteSnapshot"), 1);
        deleted = reply_ids("deleted");
        assert_string_equal(deleted, "ami-mid,ami-old,snap-p1");
        run_quiet(e);
}

static void test_snapshot_run__copy_to__copies_missing_and_prunes_there(void **state) {
        static const char *const copy_tags[] = {
                "Name", "web-1", "cdp:snapshot", "@daily", "cdp:snapshot:keep", "2",
                "cdp:snapshot:copy-to", "us-west-2", NULL,
        };
        Env *e = *state;
        size_t base;
        /* there: a3/f3's copies exist, plus an old copy to prune */
        const Snap dest[] = {
                SNAP("snap-c-a3", "completed", OLD3, "/dev/xvda", "vol-a"),
                SNAP("snap-c-f3", "completed", OLD3, "/dev/xvdf", "vol-f"),
                SNAP("snap-c-a2", "completed", OLD2, "/dev/xvda", "vol-a"),
                SNAP("snap-c-a1", "completed", OLD1, "/dev/xvda", "vol-a"),
        };
        const Snap copies_done[] = {
                SNAP("snap-c-new-a", "completed", SLOT, "/dev/xvda", "vol-a"),
                SNAP("snap-c-new-f", "completed", SLOT, "/dev/xvdf", "vol-f"),
        };
        _cleanup_free_ char *copied = NULL, *deleted = NULL, *dry_copied = NULL, *dry_deleted = NULL;
        ssize_t i_copy;
        const char *b;
        char *auth;

        env_policy(e, copy_tags);
        run_quiet(e);

        /* first a dry run: reads only, decides what the real run then does */
        base = fake_http_count(e->http);
        push(e, 200, instance_xml);
        push_snapshots(e, three_generations, ELEMENTSOF(three_generations));
        push_snapshots(e, dest, ELEMENTSOF(dest));
        ctl_snapshot(e, true, SLOT);
        assert_true(reply.ok);
        assert_int_equal(count_writes(e, base), 0);
        dry_copied = reply_ids("copied");
        assert_string_equal(dry_copied, "(new /dev/xvda),(new /dev/xvdf)");
        dry_deleted = reply_ids("deleted");
        assert_string_equal(dry_deleted, "snap-a1,snap-a2,snap-c-a1,snap-c-a2,snap-f1,snap-f2");
        run_quiet(e);

        base = fake_http_count(e->http);
        push(e, 200, instance_xml);
        push_snapshots(e, three_generations, ELEMENTSOF(three_generations));
        push(e, 200, create_snapshots_xml);
        push_ok(e, "CreateTags", 2);
        push_poll_completed(e);
        push_ok(e, "DeleteSnapshot", 4);
        push_snapshots(e, dest, ELEMENTSOF(dest));
        push(e, 200, "<CopySnapshotResponse" NS "><requestId>r1</requestId><snapshotId>snap-c-new-a</snapshotId>"
                     "</CopySnapshotResponse>");
        push(e, 200, "<CopySnapshotResponse" NS "><requestId>r2</requestId><snapshotId>snap-c-new-f</snapshotId>"
                     "</CopySnapshotResponse>");
        /* the copies are followed there too, then that region is pruned */
        push_snapshots(e, copies_done, ELEMENTSOF(copies_done));
        push_ok(e, "DeleteSnapshot", 2);

        ctl_snapshot(e, false, SLOT);
        assert_true(reply.ok);
        /* kept at home now: new (completed), a3 / f3; missing there: the new ones */
        copied = reply_ids("copied");
        assert_string_equal(copied, "snap-c-new-a,snap-c-new-f");
        i_copy = find_action(e, base, "CopySnapshot");
        assert_true(i_copy > 0);
        b = req_body(e, (size_t) i_copy);
        assert_true(body_has(b, "SourceRegion=us-east-1"));
        assert_true(body_has(b, "SourceSnapshotId=snap-new-a"));
        assert_true(body_has(b, "TagSpecification.1.ResourceType=snapshot"));
        assert_true(body_has(b, "Value=snap-new-a"));   /* cdp:source-id */
        assert_true(body_has(b, "cdp%3Adevice&TagSpecification.1.Tag.7.Value=%2Fdev%2Fxvda"));
        auth = (char *) fake_http_header(e->http, (size_t) i_copy, "Authorization");
        assert_non_null(auth);
        assert_non_null(strstr(auth, "/us-west-2/ec2/aws4_request"));
        /* pruned there with the same keep once the copies completed: a has
         * four copies there, two go */
        deleted = reply_ids("deleted");
        assert_string_equal(deleted, "snap-a1,snap-a2,snap-c-a1,snap-c-a2,snap-f1,snap-f2");
        assert_int_equal(count_action(e, base, "DeleteSnapshot"), 6);
        assert_true(body_has(req_body(e, fake_http_count(e->http) - 1), "SnapshotId=snap-c-a"));
        auth = (char *) fake_http_header(e->http, fake_http_count(e->http) - 1, "Authorization");
        assert_non_null(strstr(auth, "/us-west-2/ec2/aws4_request"));
        run_quiet(e);
        (void) dest;
}

static bool cond_two_runs(Env *e) {
        return count_action(e, 0, "CreateSnapshots") >= 1 && cond_idle(e) && fake_http_pending(e->http) == 0;
}

static void test_snapshot_run__scheduled_fails__retried_then_succeeds(void **state) {
        Env *e = *state;
        size_t base = fake_http_count(e->http);
        time_t slot;

        assert_int_equal(parse_rfc3339_utc(SLOT, &slot), 0);
        /* first try: the listing answers 500 on every attempt */
        push(e, 200, instance_xml);
        for (int i = 0; i < 3; i++)
                push_owned(e, 500, error_xml("InternalError"));
        /* the retry works */
        push(e, 200, instance_xml);
        push_snapshots(e, three_generations, ELEMENTSOF(three_generations));
        push(e, 200, create_snapshots_xml);
        push_ok(e, "CreateTags", 2);
        push_poll_completed(e);
        push_ok(e, "DeleteSnapshot", 4);

        snapshot_pattern_fire(e->p, slot);
        run_until(e, cond_two_runs, 5 * USEC_PER_SEC);
        assert_int_equal(count_action(e, base, "DescribeInstances"), 2);
        assert_int_equal(count_action(e, base, "CreateSnapshots"), 1);
        assert_int_equal(count_action(e, base, "DeleteSnapshot"), 4);
        assert_int_equal(fake_http_pending(e->http), 0);

        /* status shows the last run */
        e->p->ops->status(e->p, NULL);
        assert_non_null(status_section);
        {
                struct json_object *last, *res, *gens, *g;

                assert_true(json_object_object_get_ex(status_section, "last_run", &last));
                assert_true(json_object_object_get_ex(last, "result", &res));
                assert_string_equal(json_object_get_string(res), "ok");
                assert_true(json_object_object_get_ex(last, "trigger", &res));
                assert_string_equal(json_object_get_string(res), "retry");
                assert_true(json_object_object_get_ex(status_section, "generations", &gens));
                assert_true(json_object_object_get_ex(gens, "/dev/xvda", &g));
                assert_int_equal(json_object_get_int(g), 2);
                assert_true(json_object_object_get_ex(status_section, "next_slot", &res));
                assert_true(json_object_object_get_ex(status_section, "last_error", &res));
        }
}

static void test_snapshot_run__busy__one_request_waits_third_refused(void **state) {
        Env *e = *state;
        static CtlRequest req1, req2, req3;
        struct json_object *args = json_object_new_object(), *args2 = json_object_new_object();
        Snap s[ELEMENTSOF(three_generations) + 1];
        size_t base = fake_http_count(e->http);
        _cleanup_free_ char *deleted = NULL;

        memcpy(s, three_generations, sizeof(three_generations));
        s[ELEMENTSOF(three_generations)] = (Snap) SNAP("snap-now", "pending", SLOT, "/dev/xvda", "vol-a");
        json_object_object_add(args2, "slot", json_object_new_string(SLOT));
        hold.hold_action = "Action=CreateSnapshots";
        push(e, 200, instance_xml);
        push_snapshots(e, three_generations, ELEMENTSOF(three_generations));
        reply_reset();
        assert_int_equal(e->p->ops->commands[0].handler(e->p, &req1, args), 0);
        for (int i = 0; i < 200 && !hold.holding; i++)
                assert_true(sd_event_run(e->event, 5 * USEC_PER_MSEC) >= 0);
        assert_true(snapshot_pattern_busy(e->p));

        /* the second waits for the first, a third is refused */
        assert_int_equal(e->p->ops->commands[0].handler(e->p, &req2, args2), 0);
        assert_false(reply.done);
        assert_int_equal(e->p->ops->commands[0].handler(e->p, &req3, args), 0);
        assert_true(reply.done);
        assert_string_equal(reply.code, "Busy");
        reply_reset();

        /* the first one is refused by AWS; the second starts then */
        push(e, 200, instance_xml);
        push_snapshots(e, s, ELEMENTSOF(s));
        push_ok(e, "DeleteSnapshot", 2);
        hold_release(400, "<Response><Errors><Error><Code>InvalidParameterValue</Code><Message>no</Message>"
                          "</Error></Errors><RequestID>x</RequestID></Response>", 0);
        run_until(e, cond_replied, 5 * USEC_PER_SEC);
        assert_false(reply.ok);
        assert_string_equal(reply.code, "InvalidParameterValue");
        reply_reset();
        hold.hold_action = NULL;
        run_until(e, cond_replied, 5 * USEC_PER_SEC);
        assert_true(reply.ok);
        assert_true(reply_bool("slot_taken"));
        deleted = reply_ids("deleted");
        assert_string_equal(deleted, "snap-a1,snap-f1");
        assert_int_equal(hold.held, 1);        /* the held create never reached the fake */
        assert_int_equal(count_action(e, base, "CreateSnapshots"), 0);
        json_object_put(args);
        json_object_put(args2);
        run_quiet(e);
}

static void test_snapshot_ctl__no_policy_or_bad_args__errors(void **state) {
        static const char *const no_snapshot[] = { "Name", "web-1", NULL };
        static const char *const bad_keep[] = { "Name", "web-1", "cdp:snapshot", "@daily", "cdp:snapshot:keep",
                                                "seven", NULL };
        Env *e = *state;
        static CtlRequest req;
        struct json_object *args = json_object_new_object();
        size_t base = fake_http_count(e->http);

        json_object_object_add(args, "bogus", json_object_new_boolean(true));
        reply_reset();
        assert_int_equal(e->p->ops->commands[0].handler(e->p, &req, args), 0);
        assert_string_equal(reply.code, "BadRequest");
        assert_int_equal(reply.exit_code, 2);
        json_object_put(args);

        env_policy(e, no_snapshot);
        args = json_object_new_object();
        reply_reset();
        assert_int_equal(e->p->ops->commands[0].handler(e->p, &req, args), 0);
        assert_string_equal(reply.code, "NoSnapshotPolicy");
        env_policy(e, bad_keep);
        reply_reset();
        assert_int_equal(e->p->ops->commands[0].handler(e->p, &req, args), 0);
        assert_string_equal(reply.code, "NoSnapshotPolicy");
        assert_non_null(strstr(reply.message, "seven"));
        json_object_put(args);
        assert_int_equal(fake_http_count(e->http), base);
}

static void test_snapshot_run__hooks__pre_before_freeze_post_after_thaw(void **state) {
        Env *e = *state;
        _cleanup_free_ char *dir = test_strf("%s/hooks.d", e->tmpdir), *script = test_strf("%s/10-record", dir),
                            *out = test_strf("%s/hook.log", e->tmpdir), *text = NULL;
        FILE *f;
        long len;

        assert_int_equal(mkdir(dir, 0755), 0);
        f = fopen(script, "we");
        assert_non_null(f);
        fprintf(f, "#!/bin/sh\n"
                   "echo \"$CDP_EVENT $CDP_SLOT $CDP_SNAPSHOT_TYPE ${CDP_RESULT:-} ${CDP_SNAPSHOT_IDS:-}\" >> '%s'\n",
                out);
        fclose(f);
        assert_int_equal(chmod(script, 0755), 0);

        e->m.config->n_freeze = 1;
        e->m.config->freeze = calloc(2, sizeof(char *));
        e->m.config->freeze[0] = strdup("/srv/db");
        push(e, 200, instance_xml);
        push_snapshots(e, three_generations, ELEMENTSOF(three_generations));
        push(e, 200, create_snapshots_xml);
        push_ok(e, "CreateTags", 2);
        push_poll_completed(e);
        push_ok(e, "DeleteSnapshot", 4);
        ctl_snapshot(e, false, SLOT);
        assert_true(reply.ok);
        run_quiet(e);

        f = fopen(out, "re");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        len = ftell(f);
        rewind(f);
        text = calloc(1, (size_t) len + 1);
        assert_int_equal(fread(text, 1, (size_t) len, f), (size_t) len);
        fclose(f);
        assert_string_equal(text, "pre-snapshot " SLOT " ebs  \n"
                                  "post-snapshot " SLOT " ebs accepted snap-new-a snap-new-f\n");
        assert_int_equal(ff.freezes, 1);
        assert_int_equal(ff.thaws, 1);
}

static void test_snapshot_catch_up__old_newest__one_backup_at_start(void **state) {
        static const char *const hourly[] = { "Name", "web-1", "cdp:snapshot", "every 1h", "cdp:snapshot:keep", "7",
                                              NULL };
        Env *e = *state;
        size_t base = fake_http_count(e->http);
        const Snap old[] = { SNAP("snap-a1", "completed", OLD1, "/dev/xvda", "vol-a") };
        time_t now = time(NULL), prev = now / 3600 * 3600;
        char prev_text[RFC3339_UTC_STRING_MAX], *b;
        _cleanup_free_ char *want = NULL;

        assert_int_equal(format_rfc3339_utc(prev, prev_text), 0);
        /* the look at start: instance, listing (old), then the catch-up itself */
        push(e, 200, instance_xml);
        push_snapshots(e, old, ELEMENTSOF(old));
        push(e, 200, create_snapshots_xml);
        push_ok(e, "CreateTags", 2);
        push_poll_completed(e);
        env_policy(e, hourly);
        run_until(e, cond_two_runs, 5 * USEC_PER_SEC);
        assert_int_equal(count_action(e, base, "CreateSnapshots"), 1);
        b = (char *) req_body(e, (size_t) find_action(e, base, "CreateSnapshots"));
        want = test_strf("Key=cdp%%3Aslot&TagSpecification.1.Tag.3.Value=%.13s%%3A00%%3A00Z", prev_text);
        assert_non_null(strstr(b, want));
        run_quiet(e);
        assert_int_equal(fake_http_pending(e->http), 0);
}

static void test_snapshot_catch_up__look_fails__looks_again_never_slot_zero(void **state) {
        static const char *const hourly[] = { "Name", "web-1", "cdp:snapshot", "every 1h", "cdp:snapshot:keep", "7",
                                              NULL };
        Env *e = *state;
        size_t base = fake_http_count(e->http);
        const Snap old[] = { SNAP("snap-a1", "completed", OLD1, "/dev/xvda", "vol-a") };
        time_t prev = time(NULL) / 3600 * 3600;
        char prev_text[RFC3339_UTC_STRING_MAX];
        _cleanup_free_ char *want = NULL;

        assert_int_equal(format_rfc3339_utc(prev, prev_text), 0);
        /* the look at start fails (DescribeInstances answers 500 to every attempt) */
        for (int i = 0; i < 3; i++)
                push_owned(e, 500, error_xml("InternalError"));
        /* it looks again after the retry delay and finds a missed period */
        push(e, 200, instance_xml);
        push_snapshots(e, old, ELEMENTSOF(old));
        push(e, 200, create_snapshots_xml);
        push_ok(e, "CreateTags", 2);
        push_poll_completed(e);
        env_policy(e, hourly);
        run_until(e, cond_two_runs, 5 * USEC_PER_SEC);
        assert_int_equal(count_action(e, base, "DescribeInstances"), 4);
        assert_int_equal(count_action(e, base, "CreateSnapshots"), 1);
        want = test_strf("Key=cdp%%3Aslot&TagSpecification.1.Tag.3.Value=%.13s%%3A00%%3A00Z", prev_text);
        assert_non_null(strstr(req_body(e, (size_t) find_action(e, base, "CreateSnapshots")), want));
        run_quiet(e);
        assert_int_equal(fake_http_pending(e->http), 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, env_setup, env_teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_snapshot_run__ebs_manual__create_tag_prune_follow),
                T(test_snapshot_run__dry_run__same_decisions_no_write),
                T(test_snapshot_run__create_refused__nothing_deleted),
                T(test_snapshot_run__create_unanswered_not_found__no_second_create),
                T(test_snapshot_run__create_unanswered_found__accepted_and_pruned),
                T(test_snapshot_run__slot_taken__no_create_prune_runs),
                T(test_snapshot_run__delete_throttled__stops_and_defers),
                T(test_snapshot_run__listing_fails_part_way__nothing_created_or_deleted),
                T(test_snapshot_run__freeze_timeout__thawed_before_answer),
                T(test_snapshot_run__exit_while_frozen__thawed_by_exit_handler),
                T(test_snapshot_run__freeze_fails__crash_consistent_backup),
                T(test_snapshot_run__ami__deregisters_then_deletes_own_parts),
                T(test_snapshot_run__copy_to__copies_missing_and_prunes_there),
                T(test_snapshot_run__scheduled_fails__retried_then_succeeds),
                T(test_snapshot_run__busy__one_request_waits_third_refused),
                T(test_snapshot_ctl__no_policy_or_bad_args__errors),
                T(test_snapshot_run__hooks__pre_before_freeze_post_after_thaw),
                T(test_snapshot_catch_up__old_newest__one_backup_at_start),
                T(test_snapshot_catch_up__look_fails__looks_again_never_slot_zero),
        };
        sigset_t mask;

        /* Hooks are child processes watched by sd-event. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        log_set_max_level(getenv("CDP_TEST_VERBOSE") ? LOG_DEBUG : LOG_CRIT);
        return cmocka_run_group_tests_name("pattern-snapshot", tests, NULL, NULL);
}
