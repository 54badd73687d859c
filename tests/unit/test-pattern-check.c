/* SPDX-License-Identifier: MIT */
/* Unit tests of the permission check (daemon/pattern-check.c) on a real
 * sd-event loop: `cdpctl check` goes through a real control socket
 * (ctl-server.c), the EC2 calls through the real client (signing, retries,
 * classification) into a scripted transport that answers every DryRun call
 * with DryRunOperation (HTTP 412) unless a fault says otherwise, answers the
 * preparing describes (a managed snapshot, the security groups of the
 * cdp:expire-revoke rules) and records every submission, the calls in flight
 * and their peak.
 *
 * The self-check runs CHECK_SETTLE_USEC (30 s) after a policy change, on an
 * sd-event timer. sd_event_add_time() is interposed below (a pass-through via
 * dlsym(RTLD_NEXT)) only to learn which source is the pattern's settle timer;
 * the tests then move that timer to "now" instead of waiting 30 s. Its log
 * lines are read from a memfd dup2()ed over stderr. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "cdp/aws.h"
#include "cdp/check-plan.h"
#include "cdp/ctl-proto.h"
#include "cdp/parse-util.h"
#include "cdp/strbuf.h"
#include "ctl-server.h"
#include "manager.h"
#include "pattern.h"

extern const PatternOps check_pattern_ops;

/* Mirrors of daemon/pattern-check.c (private there). */
#define CHECK_INFLIGHT_MAX 8
#define CHECK_SETTLE_USEC (30 * USEC_PER_SEC)

#define INSTANCE "i-0123456789abcdef0"
#define ENI "eni-0a1b2c3d4e5f60001"
#define RTB_A "rtb-0aaa1111bbbb22223"
#define RTB_B "rtb-0ccc3333dddd44445"
#define VIP "192.168.100.10/32"
#define EIP "eipalloc-0abc123def4567890"
#define IP1 "10.0.1.50"
#define SNAP "snap-0f00dfeedbeef0001"
#define RULE_A "sgr-0aaaaaaaaaaaaaaa1"
#define RULE_B "sgr-0bbbbbbbbbbbbbbb2"
#define RULE_C "sgr-0ccccccccccccccc3"
#define GROUP_A "sg-0aaaa1111bbbb2222"
#define GROUP_B "sg-0cccc3333dddd4444"
#define COPY_REGION "us-west-2"
#define WAIT_USEC (10 * USEC_PER_SEC)
#define UNAUTHORIZED_MESSAGE                                                                                     \
        "You are not authorized to perform this operation. Encoded authorization failure message: AbCdEf0123"

/* The full policy: snapshot (with a copy), routing-ha, floating-ip, bastion. */
static const char *const FULL_TAGS[] = {
        "Name", "web-1",
        "cdp:snapshot", "@daily",
        "cdp:snapshot:copy-to", COPY_REGION,
        "cdp:routing-ha", VIP "@" RTB_A "+" RTB_B,
        "cdp:floating-ip", EIP "," IP1,
        "cdp:expires-at", "2099-01-01T00:00:00Z",
        "cdp:expire-action", "stop",
        "cdp:expire-revoke", RULE_A "," RULE_B "," RULE_C,
        NULL,
};
#define FULL_DRY_RUNS 23

static uint64_t now_usec(void) {
        return clock_now(clock_real(), CLOCK_MONOTONIC);
}

/* ------------------------------------------------------------------------
 * A scripted EC2 behind an HttpTransport
 * ------------------------------------------------------------------------ */

typedef enum FaultKind {
        FAULT_ERROR,                    /* status + an EC2 error document (code, message) */
        FAULT_RAW,                      /* status + body as given */
        FAULT_HANG,                     /* no answer: the transport's time limit ends it, as curl's does */
        FAULT_DROP,                     /* connection reset */
} FaultKind;

typedef struct Fault {
        const char *action;
        const char *match;              /* substring of the body, or NULL */
        bool real_only;                 /* only calls without DryRun (the preparing describes) */
        FaultKind kind;
        long status;
        const char *code;
        const char *message;
        const char *body;
        int count;                      /* -1 = always */
} Fault;

typedef struct Record {
        bool dry_run;
        char action[48];
        char url[96];
        char body[1024];
} Record;

typedef struct FakeEc2 FakeEc2;

struct HttpCall {
        FakeEc2 *f;
        sd_event_source *timer;
        HttpDoneFn done;
        void *userdata;
        bool dry_run;
        long status;
        char *body;
        int error;
        struct HttpCall *next;
};

struct FakeEc2 {
        HttpTransport base;
        sd_event *event;
        uint64_t latency_usec;
        bool no_snapshot;               /* DescribeSnapshots lists none (placeholders are used) */
        Fault faults[16];
        size_t n_faults;
        Record records[128];
        size_t n_records;
        struct HttpCall *calls;
        size_t in_flight, max_in_flight;
        size_t dry_in_flight, max_dry_in_flight;
        size_t n_answered, n_cancelled;
        unsigned request_no;
};

/* The decoded value of name in a form body. */
static bool form_get(const char *body, const char *name, char *buf, size_t size) {
        size_t n = strlen(name);

        for (const char *p = body; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
                const char *end;
                size_t k = 0;

                if (strncmp(p, name, n) != 0 || p[n] != '=')
                        continue;
                p += n + 1;
                end = strchr(p, '&') ?: p + strlen(p);
                while (p < end && k + 1 < size) {
                        if (*p == '%' && end - p >= 3) {
                                char hex[3] = { p[1], p[2], 0 };

                                buf[k++] = (char) strtol(hex, NULL, 16);
                                p += 3;
                        } else
                                buf[k++] = *p++;
                }
                buf[k] = '\0';
                return true;
        }
        return false;
}

static void xml_error(StrBuf *b, const char *code, const char *message, unsigned no) {
        assert_int_equal(strbuf_printf(b, "<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error>"
                                          "</Errors><RequestID>req-%u</RequestID></Response>", code, message, no), 0);
}

/* The answers to the real (not dry-run) calls: the preparing describes. */
static void play_real(FakeEc2 *f, struct HttpCall *c, const char *action, StrBuf *b, unsigned no) {
        c->status = 200;
        if (strcmp(action, "DescribeSnapshots") == 0)
                assert_int_equal(strbuf_printf(b, "<DescribeSnapshotsResponse><requestId>req-%u</requestId>"
                                                  "<snapshotSet>%s</snapshotSet></DescribeSnapshotsResponse>", no,
                                               f->no_snapshot ? "" : "<item><snapshotId>" SNAP "</snapshotId>"
                                                                     "<status>completed</status></item>"), 0);
        else if (strcmp(action, "DescribeImages") == 0)
                assert_int_equal(strbuf_printf(b, "<DescribeImagesResponse><requestId>req-%u</requestId>"
                                                  "<imagesSet/></DescribeImagesResponse>", no), 0);
        else if (strcmp(action, "DescribeSecurityGroupRules") == 0)
                assert_int_equal(
                        strbuf_printf(b, "<DescribeSecurityGroupRulesResponse><requestId>req-%u</requestId>"
                                         "<securityGroupRuleSet>"
                                         "<item><securityGroupRuleId>" RULE_A "</securityGroupRuleId><groupId>"
                                         GROUP_A "</groupId><isEgress>false</isEgress></item>"
                                         "<item><securityGroupRuleId>" RULE_B "</securityGroupRuleId><groupId>"
                                         GROUP_B "</groupId><isEgress>false</isEgress></item>"
                                         "<item><securityGroupRuleId>" RULE_C "</securityGroupRuleId><groupId>"
                                         GROUP_A "</groupId><isEgress>false</isEgress></item>"
                                         "</securityGroupRuleSet></DescribeSecurityGroupRulesResponse>", no), 0);
        else
                /* a real write: recorded, and the tests make sure there is none */
                assert_int_equal(strbuf_printf(b, "<%sResponse><requestId>req-%u</requestId><return>true</return>"
                                                  "</%sResponse>", action, no, action), 0);
}

static void call_unlink(FakeEc2 *f, struct HttpCall *c) {
        for (struct HttpCall **i = &f->calls; *i; i = &(*i)->next)
                if (*i == c) {
                        *i = c->next;
                        break;
                }
        f->in_flight--;
        if (c->dry_run)
                f->dry_in_flight--;
}

static void call_free(struct HttpCall *c) {
        sd_event_source_disable_unref(c->timer);
        free(c->body);
        free(c);
}

static int on_answer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct HttpCall *c = userdata;
        FakeEc2 *f = c->f;
        HttpResponse resp = { .status = c->status, .body = c->body ?: "", .body_len = c->body ? strlen(c->body) : 0 };

        (void) s;
        (void) usec;
        call_unlink(f, c);
        f->n_answered++;
        if (c->error)
                c->done(c->error, NULL, c->userdata);
        else
                c->done(0, &resp, c->userdata);
        call_free(c);
        return 0;
}

static int fake_submit(HttpTransport *base, const HttpRequest *req, HttpDoneFn done, void *userdata,
                       struct HttpCall **ret_call) {
        FakeEc2 *f = (FakeEc2 *) base;
        _cleanup_free_ char *body = strndup(req->body, req->body_len);
        StrBuf b = STRBUF_INIT(0);
        struct HttpCall *c;
        Record *rec;
        Fault *fault = NULL;
        uint64_t delay = f->latency_usec;
        char v[16];
        unsigned no = ++f->request_no;

        assert_non_null(body);
        assert_string_equal(req->method, "POST");
        assert_true(f->n_records < ELEMENTSOF(f->records));
        rec = &f->records[f->n_records++];
        *rec = (Record) {};
        assert_true(strlen(body) < sizeof(rec->body));
        assert_true(strlen(req->url) < sizeof(rec->url));
        strcpy(rec->body, body);
        strcpy(rec->url, req->url);
        assert_true(form_get(body, "Action", rec->action, sizeof(rec->action)));
        rec->dry_run = form_get(body, "DryRun", v, sizeof(v)) && strcmp(v, "true") == 0;

        c = calloc(1, sizeof(*c));
        assert_non_null(c);
        c->f = f;
        c->done = done;
        c->userdata = userdata;
        c->dry_run = rec->dry_run;

        for (size_t i = 0; i < f->n_faults; i++) {
                Fault *x = &f->faults[i];

                if (x->count != 0 && strcmp(x->action, rec->action) == 0 && (!x->real_only || !rec->dry_run) &&
                    (!x->match || strstr(body, x->match))) {
                        fault = x;
                        if (x->count > 0)
                                x->count--;
                        break;
                }
        }
        if (fault && fault->kind == FAULT_HANG) {
                c->error = -ETIMEDOUT;
                delay = req->timeout_usec;
        } else if (fault && fault->kind == FAULT_DROP)
                c->error = -ECONNRESET;
        else if (fault && fault->kind == FAULT_RAW) {
                c->status = fault->status;
                c->body = strdup(fault->body);
                assert_non_null(c->body);
        } else if (fault) {
                c->status = fault->status;
                xml_error(&b, fault->code, fault->message, no);
                c->body = strbuf_steal(&b);
        } else if (rec->dry_run) {
                c->status = 412;
                xml_error(&b, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.", no);
                c->body = strbuf_steal(&b);
        } else {
                play_real(f, c, rec->action, &b, no);
                c->body = strbuf_steal(&b);
        }
        assert_true(sd_event_add_time_relative(f->event, &c->timer, CLOCK_MONOTONIC, delay, 1, on_answer, c) >= 0);
        c->next = f->calls;
        f->calls = c;
        f->in_flight++;
        f->max_in_flight = MAX(f->max_in_flight, f->in_flight);
        if (c->dry_run) {
                f->dry_in_flight++;
                f->max_dry_in_flight = MAX(f->max_dry_in_flight, f->dry_in_flight);
        }
        if (ret_call)
                *ret_call = c;
        return 0;
}

static void fake_cancel(HttpTransport *base, struct HttpCall *c) {
        FakeEc2 *f = (FakeEc2 *) base;

        call_unlink(f, c);
        f->n_cancelled++;
        call_free(c);
}

static void fake_free(HttpTransport *base) {
        (void) base;
}

static const HttpTransportOps fake_ops = { .submit = fake_submit, .cancel = fake_cancel, .free = fake_free };

static void fault_add(FakeEc2 *f, Fault fault) {
        assert_true(f->n_faults < ELEMENTSOF(f->faults));
        f->faults[f->n_faults++] = fault;
}

/* Submissions of action (NULL = any) with DryRun (dry) or without, whose
 * body contains match (NULL = any). */
static size_t count_calls(const FakeEc2 *f, bool dry, const char *action, const char *match) {
        size_t n = 0;

        for (size_t i = 0; i < f->n_records; i++)
                if (f->records[i].dry_run == dry && (!action || strcmp(f->records[i].action, action) == 0) &&
                    (!match || strstr(f->records[i].body, match)))
                        n++;
        return n;
}

/* ------------------------------------------------------------------------
 * Fixture: a manager with config, AWS context, tags and policy; the pattern;
 * a control socket
 * ------------------------------------------------------------------------ */

typedef struct Fixture {
        char dir[64];
        char path[128];
        sd_event *event;
        FakeEc2 fake;
        CredsProvider *creds;
        AwsContext aws;
        Manager manager;
        Pattern *pattern;
        bool pattern_done;
        CtlServer *server;
        CtlCommand table[2];
        struct json_object *status;     /* the section handed to status_request_done */
        bool status_done;
        /* the settle timer, as sd_event_add_time() handed it to the pattern */
        sd_event_source *settle;
        unsigned settle_adds;
        uint64_t settle_requested;      /* the time it asked for, CLOCK_MONOTONIC */
        /* stderr capture */
        int saved_stderr, log_fd;
        char log[64 * 1024];
} Fixture;

static Fixture *the_fixture;

/* The manager's, here: the tests receive the pattern's status section. */
void status_request_done(StatusRequest *sr, struct json_object *section) {
        Fixture *f = (Fixture *) sr;

        assert_ptr_equal(f, the_fixture);
        assert_false(f->status_done);
        f->status = section;
        f->status_done = true;
}

typedef int (*AddTimeFn)(sd_event *e, sd_event_source **s, clockid_t clock, uint64_t usec, uint64_t accuracy,
                         sd_event_time_handler_t callback, void *userdata);

/* Pass-through that notes the pattern's own timer (userdata is the pattern). */
int sd_event_add_time(sd_event *e, sd_event_source **s, clockid_t clock, uint64_t usec, uint64_t accuracy,
                      sd_event_time_handler_t callback, void *userdata) {
        static AddTimeFn real;
        int r;

        if (!real) {
                real = (AddTimeFn) dlsym(RTLD_NEXT, "sd_event_add_time");
                assert_non_null(real);
        }
        r = real(e, s, clock, usec, accuracy, callback, userdata);
        if (r >= 0 && s && the_fixture && userdata == the_fixture->pattern) {
                the_fixture->settle = *s;
                the_fixture->settle_adds++;
                the_fixture->settle_requested = usec;
        }
        return r;
}

static void pump(Fixture *f, uint64_t usec) {
        uint64_t end = now_usec() + usec;

        while (now_usec() < end)
                assert_true(sd_event_run(f->event, 5 * USEC_PER_MSEC) >= 0);
}

static void pump_until(Fixture *f, bool (*done)(Fixture *f)) {
        uint64_t end = now_usec() + WAIT_USEC;

        while (!done(f)) {
                assert_true(now_usec() < end);
                assert_true(sd_event_run(f->event, 5 * USEC_PER_MSEC) >= 0);
        }
}

static bool dry_runs_in_flight(Fixture *f) {
        return f->fake.dry_in_flight > 0;
}

/* Sets the instance's tags (pairs, NULL-terminated; NULL = none read yet),
 * parses the policy as the manager does and tells the pattern. */
static void set_tags(Fixture *f, const char *const *kv) {
        _cleanup_free_ PolicyTag *tags = NULL;
        TagList *l;
        size_t n = 0;

        f->manager.tags = tag_list_free(f->manager.tags);
        f->manager.policy = policy_free(f->manager.policy);
        if (!kv)
                return;
        while (kv[2 * n])
                n++;
        l = calloc(1, sizeof(*l));
        assert_non_null(l);
        l->keys = calloc(n + 1, sizeof(char *));
        l->values = calloc(n + 1, sizeof(char *));
        tags = calloc(n + 1, sizeof(PolicyTag));
        assert_non_null(l->keys);
        assert_non_null(l->values);
        assert_non_null(tags);
        l->source = TAG_SOURCE_API;
        for (size_t i = 0; i < n; i++) {
                l->keys[i] = strdup(kv[2 * i]);
                l->values[i] = strdup(kv[2 * i + 1]);
                assert_non_null(l->keys[i]);
                assert_non_null(l->values[i]);
                l->n++;
                tags[i] = (PolicyTag) { kv[2 * i], kv[2 * i + 1] };
        }
        f->manager.tags = l;
        assert_int_equal(policy_parse(tags, n, "cdp:", &f->manager.policy), 0);
        assert_int_equal(f->manager.policy->n_errors, 0);
        check_pattern_ops.policy_changed(f->pattern);
}

static int setup_with(void **state, const char *const *kv) {
        Ec2ClientConfig ec = {
                .region = "us-east-1",
                .max_attempts = 3,
                .timeout_usec = 100 * USEC_PER_MSEC,
                .base_delay_usec = 1000,
                .throttle_delay_usec = 2000,
                .max_delay_usec = 10000,
        };
        Fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        the_fixture = f;
        f->saved_stderr = f->log_fd = -1;
        strcpy(f->dir, "/tmp/test-pattern-check.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        (void) snprintf(f->path, sizeof(f->path), "%s/control.sock", f->dir);
        assert_true(sd_event_new(&f->event) >= 0);

        f->fake = (FakeEc2) { .base = { .ops = &fake_ops }, .event = f->event, .latency_usec = 2 * USEC_PER_MSEC };

        unsetenv("AWS_ENDPOINT_URL");
        unsetenv("AWS_ENDPOINT_URL_EC2");
        setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 1);
        unsetenv("AWS_SESSION_TOKEN");
        assert_int_equal(creds_provider_new(&f->creds, f->event, NULL, NULL), 0);

        f->aws = (AwsContext) {
                .event = f->event,
                .transport = &f->fake.base,
                .creds = f->creds,
                .region = (char *) "us-east-1",
                .instance_id = (char *) INSTANCE,
                .network_interface_id = (char *) ENI,
                .mac = (char *) "0e:00:00:00:00:01",
        };
        assert_int_equal(ec2_client_new(&f->aws.ec2, f->event, &f->fake.base, f->creds, NULL, &ec), 0);

        f->manager.event = f->event;
        assert_int_equal(config_new(&f->manager.config), 0);
        assert_string_equal(f->manager.config->tag_prefix, "cdp:");
        f->manager.aws = &f->aws;

        f->pattern = calloc(1, check_pattern_ops.size);
        assert_non_null(f->pattern);
        f->pattern->ops = &check_pattern_ops;
        f->pattern->manager = &f->manager;
        assert_null(check_pattern_ops.init);
        assert_int_equal(check_pattern_ops.n_commands, 1);
        assert_string_equal(check_pattern_ops.name, "check");

        for (size_t i = 0; i < check_pattern_ops.n_commands; i++)
                f->table[i] = (CtlCommand) { .name = check_pattern_ops.commands[i].name,
                                             .handler = check_pattern_ops.commands[i].handler,
                                             .userdata = f->pattern };
        assert_int_equal(ctl_server_new(f->event, f->path, getegid(), f->table, check_pattern_ops.n_commands, f,
                                        &f->server), 0);

        set_tags(f, kv);
        *state = f;
        return 0;
}

static int setup(void **state) {
        return setup_with(state, FULL_TAGS);
}

static int setup_plain(void **state) {
        static const char *const kv[] = { "Name", "web-1", "team", "ops", NULL };

        return setup_with(state, kv);
}

static int setup_unread(void **state) {
        return setup_with(state, NULL);
}

static void capture_restore(Fixture *f) {
        if (f->saved_stderr < 0)
                return;
        (void) dup2(f->saved_stderr, STDERR_FILENO);
        (void) close(f->saved_stderr);
        f->saved_stderr = -1;
}

static int teardown(void **state) {
        Fixture *f = *state;

        capture_restore(f);
        if (f->log_fd >= 0)
                (void) close(f->log_fd);
        if (!f->pattern_done)
                check_pattern_ops.done(f->pattern);
        free(f->pattern);
        ctl_server_free(f->server);
        ec2_client_free(f->aws.ec2);
        creds_provider_free(f->creds);
        while (f->fake.calls) {
                struct HttpCall *c = f->fake.calls;
                f->fake.calls = c->next;
                call_free(c);
        }
        tag_list_free(f->manager.tags);
        policy_free(f->manager.policy);
        config_free(f->manager.config);
        if (f->status)
                json_object_put(f->status);
        sd_event_unref(f->event);
        (void) unlink(f->path);
        (void) rmdir(f->dir);
        unsetenv("AWS_ACCESS_KEY_ID");
        unsetenv("AWS_SECRET_ACCESS_KEY");
        free(f);
        the_fixture = NULL;
        return 0;
}

/* ---- stderr capture (the self-check's log) ---- */

static void capture_begin(Fixture *f) {
        assert_int_equal(f->saved_stderr, -1);
        if (f->log_fd < 0) {
                f->log_fd = memfd_create("stderr", MFD_CLOEXEC);
                assert_true(f->log_fd >= 0);
        }
        fflush(stderr);
        f->saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        assert_true(f->saved_stderr >= 0);
        assert_int_equal(dup2(f->log_fd, STDERR_FILENO), STDERR_FILENO);
}

/* What reached stderr since the first capture_begin(); NUL-terminated. */
static const char *captured(Fixture *f) {
        ssize_t n;

        assert_true(f->log_fd >= 0);
        n = pread(f->log_fd, f->log, sizeof(f->log) - 1, 0);
        assert_true(n >= 0 && (size_t) n < sizeof(f->log) - 1);
        f->log[n] = '\0';
        return f->log;
}

static size_t count_substr(const char *s, const char *needle) {
        size_t n = 0;

        for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
                n++;
        return n;
}

/* The last line of a run: "permission check: all N actions ..." or
 * "permission check: A allowed, D denied, U unknown (...)". */
static bool summary_logged(Fixture *f) {
        const char *s = captured(f);

        return strstr(s, "permission check: all ") || strstr(s, " unknown (");
}

/* Moves the pattern's settle timer (armed by policy_changed) to now, so the
 * self-check starts on the next loop iteration instead of in 30 s. */
static void fire_settle(Fixture *f) {
        int enabled = SD_EVENT_OFF;

        assert_non_null(f->settle);
        assert_true(sd_event_source_get_enabled(f->settle, &enabled) >= 0);
        assert_int_equal(enabled, SD_EVENT_ONESHOT);
        assert_true(sd_event_source_set_time(f->settle, 1) >= 0);
}

/* ---- control socket client ---- */

static int client_connect(Fixture *f) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        strcpy(sa.sun_path, f->path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        return fd;
}

static void client_send(int fd, const char *line) {
        assert_int_equal(send(fd, line, strlen(line), MSG_NOSIGNAL), (ssize_t) strlen(line));
}

/* Runs the loop until one reply line arrives; parses it into *ret. */
static void client_reply(Fixture *f, int fd, CtlProtoReply *ret) {
        static char buf[256 * 1024];
        size_t len = 0;
        uint64_t end = now_usec() + WAIT_USEC;

        for (;;) {
                char *nl = memchr(buf, '\n', len);
                ssize_t k;

                if (nl) {
                        assert_int_equal(ctl_proto_parse_reply(buf, (size_t) (nl - buf), ret), 0);
                        return;
                }
                k = recv(fd, buf + len, sizeof(buf) - len, MSG_DONTWAIT);
                if (k > 0) {
                        len += (size_t) k;
                        continue;
                }
                assert_true(k < 0 && errno == EAGAIN);
                assert_true(now_usec() < end);
                assert_true(sd_event_run(f->event, 5 * USEC_PER_MSEC) >= 0);
        }
}

static void request(Fixture *f, const char *line, CtlProtoReply *ret) {
        int fd = client_connect(f);

        client_send(fd, line);
        client_reply(f, fd, ret);
        close(fd);
}

#define CHECK_REQUEST "{\"command\":\"check\"}\n"

/* ---- JSON helpers ---- */

static struct json_object *jget(struct json_object *o, const char *key) {
        struct json_object *v = NULL;

        assert_true(json_object_object_get_ex(o, key, &v));
        return v;
}

static const char *jstr(struct json_object *o, const char *key) {
        struct json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v) || !v)
                return NULL;
        return json_object_get_string(v);
}

static int64_t jint(struct json_object *o, const char *key) {
        return json_object_get_int64(jget(o, key));
}

/* The row of the check table for action whose resource is resource (NULL =
 * the only row of that action). */
static struct json_object *row(struct json_object *result, const char *action, const char *resource) {
        struct json_object *checks = jget(result, "checks"), *found = NULL;

        for (size_t i = 0; i < json_object_array_length(checks); i++) {
                struct json_object *r = json_object_array_get_idx(checks, i);
                const char *res = jstr(r, "resource");

                if (strcmp(jstr(r, "action"), action) != 0 || (resource && (!res || strcmp(res, resource) != 0)))
                        continue;
                if (found)
                        fail_msg("more than one row for %s %s", action, resource ?: "");
                found = r;
        }
        if (!found)
                fail_msg("no row for %s %s", action, resource ?: "");
        return found;
}

static size_t count_rows(struct json_object *result, const char *res) {
        struct json_object *checks = jget(result, "checks");
        size_t n = 0;

        for (size_t i = 0; i < json_object_array_length(checks); i++)
                n += strcmp(jstr(json_object_array_get_idx(checks, i), "result"), res) == 0;
        return n;
}


static bool status_arrived(Fixture *f) {
        return f->status_done;
}

static void run_status(Fixture *f) {
        if (f->status)
                json_object_put(f->status);
        f->status = NULL;
        f->status_done = false;
        check_pattern_ops.status(f->pattern, (StatusRequest *) f);
        pump_until(f, status_arrived);
}

/* ------------------------------------------------------------------------
 * The dry runs FULL_TAGS needs, with every parameter each carries
 * ------------------------------------------------------------------------ */

typedef struct Expect {
        const char *action;
        const char *region;             /* signed for and sent to; NULL = us-east-1 */
        const char *params[8];          /* "Name=value" (decoded; "*" = any value); NULL-terminated */
} Expect;

#define TAGSPEC_SNAPSHOT                                                                                          \
        "TagSpecification.1.ResourceType=snapshot", "TagSpecification.1.Tag.1.Key=cdp:managed-by",               \
                "TagSpecification.1.Tag.1.Value=cdpd", "TagSpecification.1.Tag.2.Key=cdp:instance-id",          \
                "TagSpecification.1.Tag.2.Value=" INSTANCE
#define ROUTE(table)                                                                                              \
        { "RouteTableId=" table, "DestinationCidrBlock=" VIP, "NetworkInterfaceId=" ENI }

static const Expect FULL_EXPECT[] = {
        { "DescribeTags", NULL, { "Filter.1.Name=resource-id", "Filter.1.Value.1=" INSTANCE } },
        { "DescribeInstances", NULL, { "InstanceId.1=" INSTANCE } },
        { "DescribeVolumes", NULL, { "Filter.1.Name=attachment.instance-id", "Filter.1.Value.1=" INSTANCE } },
        { "CreateSnapshots", NULL, { "InstanceSpecification.InstanceId=" INSTANCE, TAGSPEC_SNAPSHOT } },
        { "CreateTags", NULL, { "ResourceId.1=" SNAP, "Tag.1.Key=cdp:managed-by", "Tag.1.Value=cdpd",
                                "Tag.2.Key=cdp:instance-id", "Tag.2.Value=" INSTANCE } },
        { "DescribeSnapshots", NULL, { "Owner.1=self", "Filter.1.Name=tag:cdp:instance-id",
                                       "Filter.1.Value.1=" INSTANCE } },
        { "DeleteSnapshot", NULL, { "SnapshotId=" SNAP } },
        { "CopySnapshot", COPY_REGION, { "SourceRegion=us-east-1", "SourceSnapshotId=" SNAP, TAGSPEC_SNAPSHOT } },
        { "DescribeNetworkInterfaces", NULL, { "NetworkInterfaceId.1=" ENI } },
        { "DescribeAddresses", NULL, { "AllocationId.1=" EIP } },
        { "AssociateAddress", NULL, { "AllocationId=" EIP, "NetworkInterfaceId=" ENI, "AllowReassociation=true" } },
        { "AssignPrivateIpAddresses", NULL, { "NetworkInterfaceId=" ENI, "PrivateIpAddress.1=" IP1,
                                              "AllowReassignment=true" } },
        { "DescribeRouteTables", NULL, { "RouteTableId.1=" RTB_A, "RouteTableId.2=" RTB_B } },
        { "ModifyNetworkInterfaceAttribute", NULL, { "NetworkInterfaceId=" ENI, "SourceDestCheck.Value=false" } },
        { "ReplaceRoute", NULL, ROUTE(RTB_A) },
        { "CreateRoute", NULL, ROUTE(RTB_A) },
        { "ReplaceRoute", NULL, ROUTE(RTB_B) },
        { "CreateRoute", NULL, ROUTE(RTB_B) },
        { "DescribeSecurityGroupRules", NULL, { "Filter.1.Name=security-group-rule-id", "Filter.1.Value.1=" RULE_A,
                                                "Filter.1.Value.2=" RULE_B, "Filter.1.Value.3=" RULE_C } },
        /* one call per group, with that group's ingress rules */
        { "RevokeSecurityGroupIngress", NULL, { "GroupId=" GROUP_A, "SecurityGroupRuleId.1=" RULE_A,
                                                "SecurityGroupRuleId.2=" RULE_C } },
        { "RevokeSecurityGroupIngress", NULL, { "GroupId=" GROUP_B, "SecurityGroupRuleId.1=" RULE_B } },
        { "StopInstances", NULL, { "InstanceId.1=" INSTANCE } },
        { "CreateTags", NULL, { "ResourceId.1=" INSTANCE, "Tag.1.Key=cdp:expires-at", "Tag.1.Value=*" } },
};

static size_t n_pairs(const char *body) {
        return count_substr(body, "&") + 1;
}

/* Action, Version, DryRun=true, the expected parameters and nothing else,
 * sent to the expected region's endpoint. */
static bool record_matches(const Record *r, const Expect *e) {
        char host[96], name[64], v[256];
        size_t n;

        if (!r->dry_run || strcmp(r->action, e->action) != 0)
                return false;
        for (n = 0; n < ELEMENTSOF(e->params) && e->params[n]; n++) {
                const char *eq = strchr(e->params[n], '=');

                assert_non_null(eq);
                (void) snprintf(name, sizeof(name), "%.*s", (int) (eq - e->params[n]), e->params[n]);
                if (!form_get(r->body, name, v, sizeof(v)))
                        return false;
                if (strcmp(eq + 1, "*") == 0 ? !*v : strcmp(eq + 1, v) != 0)
                        return false;
        }
        if (n_pairs(r->body) != n + 3)
                return false;
        (void) snprintf(host, sizeof(host), "https://ec2.%s.amazonaws.com", e->region ?: "us-east-1");
        return strncmp(r->url, host, strlen(host)) == 0;
}

/* Exactly one dry run per expected action, with its parameters, and no other. */
static void assert_dry_runs(const FakeEc2 *fake, const Expect *expect, size_t n_expect) {
        for (size_t i = 0; i < n_expect; i++) {
                size_t n = 0;

                for (size_t j = 0; j < fake->n_records; j++)
                        n += record_matches(&fake->records[j], &expect[i]);
                if (n != 1)
                        fail_msg("%zu dry runs of %s %s match, expected 1", n, expect[i].action,
                                 expect[i].params[0] ?: "");
        }
        assert_int_equal(count_calls(fake, true, NULL, NULL), n_expect);
}

/* The only calls without DryRun are the two preparing describes (a managed
 * snapshot, the groups of the expire-revoke rules), each made once. */
static void assert_real_calls_are_preparing_describes(const FakeEc2 *fake) {
        char v[64];

        assert_int_equal(count_calls(fake, false, NULL, NULL), 2);
        for (size_t i = 0; i < fake->n_records; i++) {
                const Record *r = &fake->records[i];

                if (r->dry_run)
                        continue;
                assert_false(form_get(r->body, "DryRun", v, sizeof(v)));
                if (strcmp(r->action, "DescribeSnapshots") == 0) {
                        assert_true(form_get(r->body, "Filter.1.Name", v, sizeof(v)));
                        assert_string_equal(v, "tag:cdp:managed-by");
                        assert_true(form_get(r->body, "Filter.2.Value.1", v, sizeof(v)));
                        assert_string_equal(v, INSTANCE);
                } else if (strcmp(r->action, "DescribeSecurityGroupRules") == 0) {
                        assert_true(form_get(r->body, "Filter.1.Value.3", v, sizeof(v)));
                        assert_string_equal(v, RULE_C);
                } else
                        fail_msg("a call without DryRun: %s", r->action);
        }
}

/* ------------------------------------------------------------------------
 * Tests: cdpctl check
 * ------------------------------------------------------------------------ */

static void test_check__full_policy__one_dry_run_per_action_all_allowed(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};
        struct json_object *checks, *r;

        assert_int_equal(ELEMENTSOF(FULL_EXPECT), FULL_DRY_RUNS);
        request(f, CHECK_REQUEST, &reply);
        assert_true(reply.ok);
        assert_int_equal(reply.exit_code, 0);
        assert_true(json_object_get_boolean(jget(reply.result, "ok")));
        assert_int_equal(jint(reply.result, "allowed"), FULL_DRY_RUNS);
        assert_int_equal(jint(reply.result, "denied"), 0);
        assert_int_equal(jint(reply.result, "unknown"), 0);

        checks = jget(reply.result, "checks");
        assert_int_equal(json_object_array_length(checks), FULL_DRY_RUNS);
        for (size_t i = 0; i < FULL_DRY_RUNS; i++) {
                char iam[64];

                r = json_object_array_get_idx(checks, i);
                /* the table keeps the plan's order */
                assert_string_equal(jstr(r, "action"), FULL_EXPECT[i].action);
                (void) snprintf(iam, sizeof(iam), "ec2:%s", FULL_EXPECT[i].action);
                assert_string_equal(jstr(r, "iam_action"), iam);
                assert_string_equal(jstr(r, "result"), "allowed");
                assert_string_equal(jstr(r, "code"), "DryRunOperation");
                assert_false(json_object_get_boolean(jget(r, "placeholder")));
        }
        assert_string_equal(jstr(row(reply.result, "DescribeTags", NULL), "pattern"), "core");
        assert_string_equal(jstr(row(reply.result, "CreateSnapshots", NULL), "pattern"), "snapshot");
        assert_string_equal(jstr(row(reply.result, "AssociateAddress", NULL), "pattern"), "floating-ip");
        assert_string_equal(jstr(row(reply.result, "ReplaceRoute", RTB_B), "pattern"), "routing-ha");
        assert_string_equal(jstr(row(reply.result, "StopInstances", NULL), "pattern"), "bastion");
        assert_string_equal(jstr(row(reply.result, "RevokeSecurityGroupIngress", GROUP_B), "pattern"), "bastion");
        assert_string_equal(jstr(row(reply.result, "CopySnapshot", SNAP), "region"), COPY_REGION);
        assert_null(jstr(row(reply.result, "DeleteSnapshot", SNAP), "region"));

        assert_dry_runs(&f->fake, FULL_EXPECT, ELEMENTSOF(FULL_EXPECT));
        assert_real_calls_are_preparing_describes(&f->fake);
        assert_null(f->fake.calls);
        ctl_proto_reply_done(&reply);
}

static void test_check__unauthorized__denied_with_aws_code_exit_1(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};
        struct json_object *r;

        fault_add(&f->fake, (Fault) { .action = "StopInstances", .kind = FAULT_ERROR, .status = 403,
                                      .code = "UnauthorizedOperation", .message = UNAUTHORIZED_MESSAGE,
                                      .count = -1 });
        fault_add(&f->fake, (Fault) { .action = "CreateTags", .match = "ResourceId.1=" INSTANCE, .kind = FAULT_ERROR,
                                      .status = 403, .code = "UnauthorizedOperation",
                                      .message = "You are not authorized to perform this operation.", .count = -1 });
        request(f, CHECK_REQUEST, &reply);
        assert_false(reply.ok);
        assert_int_equal(reply.exit_code, 1);
        assert_string_equal(reply.code, "PermissionDenied");
        assert_non_null(strstr(reply.message, "2 of 23 actions not proven allowed"));
        assert_non_null(strstr(reply.message,
                               "denied: ec2:StopInstances (" INSTANCE "), ec2:CreateTags (" INSTANCE ")"));

        assert_false(json_object_get_boolean(jget(reply.result, "ok")));
        assert_int_equal(jint(reply.result, "allowed"), FULL_DRY_RUNS - 2);
        assert_int_equal(jint(reply.result, "denied"), 2);
        assert_int_equal(jint(reply.result, "unknown"), 0);
        r = row(reply.result, "StopInstances", NULL);
        assert_string_equal(jstr(r, "result"), "denied");
        assert_string_equal(jstr(r, "code"), "UnauthorizedOperation");
        assert_string_equal(jstr(r, "message"), UNAUTHORIZED_MESSAGE);
        r = row(reply.result, "CreateTags", INSTANCE);
        assert_string_equal(jstr(r, "result"), "denied");
        assert_string_equal(jstr(r, "code"), "UnauthorizedOperation");
        assert_string_equal(jstr(row(reply.result, "CreateTags", SNAP), "result"), "allowed");
        assert_int_equal(count_rows(reply.result, "allowed"), FULL_DRY_RUNS - 2);

        /* a denial is an answer: never retried */
        assert_int_equal(count_calls(&f->fake, true, "StopInstances", NULL), 1);
        assert_dry_runs(&f->fake, FULL_EXPECT, ELEMENTSOF(FULL_EXPECT));
        ctl_proto_reply_done(&reply);
}

static void test_check__denied_on_placeholder__unknown_not_denied(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};
        struct json_object *r;

        f->fake.no_snapshot = true;     /* cdpd has made no snapshot yet */
        fault_add(&f->fake, (Fault) { .action = "DeleteSnapshot", .kind = FAULT_ERROR, .status = 403,
                                      .code = "UnauthorizedOperation", .message = UNAUTHORIZED_MESSAGE,
                                      .count = -1 });
        request(f, CHECK_REQUEST, &reply);
        assert_false(reply.ok);
        assert_int_equal(reply.exit_code, 1);
        assert_string_equal(reply.code, "PermissionUnknown");
        assert_non_null(strstr(reply.message, "unknown: ec2:DeleteSnapshot (" CHECK_PLACEHOLDER_SNAPSHOT ")"));
        assert_int_equal(jint(reply.result, "denied"), 0);
        assert_int_equal(jint(reply.result, "unknown"), 1);
        r = row(reply.result, "DeleteSnapshot", NULL);
        assert_string_equal(jstr(r, "result"), "unknown");
        assert_string_equal(jstr(r, "code"), "UnauthorizedOperation");
        assert_string_equal(jstr(r, "resource"), CHECK_PLACEHOLDER_SNAPSHOT);
        assert_true(json_object_get_boolean(jget(r, "placeholder")));
        assert_int_equal(count_calls(&f->fake, true, "DeleteSnapshot", "SnapshotId=" CHECK_PLACEHOLDER_SNAPSHOT), 1);
        /* allowed on the placeholder is still allowed */
        r = row(reply.result, "CopySnapshot", NULL);
        assert_string_equal(jstr(r, "result"), "allowed");
        assert_true(json_object_get_boolean(jget(r, "placeholder")));
        ctl_proto_reply_done(&reply);
}

static void test_check__transient_and_broken_answers__unknown_with_code_exit_1(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};
        static const struct {
                const char *action, *result, *code;
                size_t attempts;
        } want[] = {
                { "DescribeTags", "allowed", "DryRunOperation", 3 },    /* throttled twice, then answered */
                { "DescribeInstances", "unknown", "InternalError", 3 },
                { "DescribeVolumes", "unknown", "MalformedResponse", 3 },
                { "CreateSnapshots", "unknown", "Timeout", 3 },
                { "DescribeRouteTables", "unknown", "HttpError", 1 },
                { "ModifyNetworkInterfaceAttribute", "unknown", "NotDryRun", 1 },
                { "AssociateAddress", "unknown", "InvalidAllocationID.NotFound", 1 },
                { "DescribeAddresses", "unknown", "NetworkError", 3 },
        };

        fault_add(&f->fake, (Fault) { .action = "DescribeTags", .kind = FAULT_ERROR, .status = 503,
                                      .code = "RequestLimitExceeded", .message = "Request limit exceeded.",
                                      .count = 2 });
        fault_add(&f->fake, (Fault) { .action = "DescribeInstances", .kind = FAULT_ERROR, .status = 500,
                                      .code = "InternalError", .message = "An internal error has occurred",
                                      .count = -1 });
        fault_add(&f->fake, (Fault) { .action = "DescribeVolumes", .kind = FAULT_RAW, .status = 200,
                                      .body = "<DescribeVolumesResponse><requestId>req-cut</requestId><volu",
                                      .count = -1 });
        fault_add(&f->fake, (Fault) { .action = "CreateSnapshots", .kind = FAULT_HANG, .count = -1 });
        fault_add(&f->fake, (Fault) { .action = "DescribeRouteTables", .kind = FAULT_RAW, .status = 412,
                                      .body = "<html><body>Precondition Failed</body></html>", .count = -1 });
        /* an endpoint that ignored DryRun and acted */
        fault_add(&f->fake, (Fault) { .action = "ModifyNetworkInterfaceAttribute", .kind = FAULT_RAW, .status = 200,
                                      .body = "<ModifyNetworkInterfaceAttributeResponse><requestId>req-m</requestId>"
                                              "<return>true</return></ModifyNetworkInterfaceAttributeResponse>",
                                      .count = -1 });
        fault_add(&f->fake, (Fault) { .action = "AssociateAddress", .kind = FAULT_ERROR, .status = 400,
                                      .code = "InvalidAllocationID.NotFound",
                                      .message = "The allocation ID '" EIP "' does not exist", .count = -1 });
        fault_add(&f->fake, (Fault) { .action = "DescribeAddresses", .kind = FAULT_DROP, .count = -1 });

        request(f, CHECK_REQUEST, &reply);
        assert_false(reply.ok);
        assert_int_equal(reply.exit_code, 1);
        assert_string_equal(reply.code, "PermissionUnknown");
        assert_non_null(strstr(reply.message, "7 of 23 actions not proven allowed"));
        assert_null(strstr(reply.message, "denied:"));
        assert_false(json_object_get_boolean(jget(reply.result, "ok")));
        assert_int_equal(jint(reply.result, "allowed"), FULL_DRY_RUNS - 7);
        assert_int_equal(jint(reply.result, "denied"), 0);
        assert_int_equal(jint(reply.result, "unknown"), 7);
        assert_int_equal(count_rows(reply.result, "denied"), 0);
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                struct json_object *r = row(reply.result, want[i].action, NULL);

                assert_string_equal(jstr(r, "result"), want[i].result);
                assert_string_equal(jstr(r, "code"), want[i].code);
                assert_non_null(jstr(r, "message"));
                if (count_calls(&f->fake, true, want[i].action, NULL) != want[i].attempts)
                        fail_msg("%s: %zu attempts, expected %zu", want[i].action,
                                 count_calls(&f->fake, true, want[i].action, NULL), want[i].attempts);
        }
        assert_null(f->fake.calls);
        ctl_proto_reply_done(&reply);
}

static void test_check__rules_describe_denied__revoke_unknown_no_group(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};
        struct json_object *r;

        fault_add(&f->fake, (Fault) { .action = "DescribeSecurityGroupRules", .real_only = true, .kind = FAULT_ERROR,
                                      .status = 403, .code = "UnauthorizedOperation",
                                      .message = "You are not authorized to perform this operation.", .count = -1 });
        request(f, CHECK_REQUEST, &reply);
        assert_false(reply.ok);
        assert_int_equal(reply.exit_code, 1);
        assert_string_equal(reply.code, "PermissionUnknown");
        /* the group is not known: one row without a call instead of one per group */
        assert_int_equal(json_object_array_length(jget(reply.result, "checks")), FULL_DRY_RUNS - 1);
        r = row(reply.result, "RevokeSecurityGroupIngress", NULL);
        assert_string_equal(jstr(r, "result"), "unknown");
        assert_string_equal(jstr(r, "code"), "NoSecurityGroup");
        assert_non_null(strstr(jstr(r, "message"), "DescribeSecurityGroupRules failed (UnauthorizedOperation: You "
                                                   "are not authorized"));
        assert_string_equal(jstr(row(reply.result, "DescribeSecurityGroupRules", NULL), "result"), "allowed");
        assert_int_equal(jint(reply.result, "unknown"), 1);
        assert_int_equal(count_calls(&f->fake, true, "RevokeSecurityGroupIngress", NULL), 0);
        assert_int_equal(count_calls(&f->fake, true, NULL, NULL), FULL_DRY_RUNS - 2);
        ctl_proto_reply_done(&reply);
}

static void test_check__latency__at_most_inflight_max_all_issued(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};

        f->fake.latency_usec = 30 * USEC_PER_MSEC;
        request(f, CHECK_REQUEST, &reply);
        assert_true(reply.ok);
        /* the bound is reached (the calls overlap) and never passed */
        assert_int_equal(f->fake.max_dry_in_flight, CHECK_INFLIGHT_MAX);
        assert_true(f->fake.max_in_flight <= CHECK_INFLIGHT_MAX);
        assert_dry_runs(&f->fake, FULL_EXPECT, ELEMENTSOF(FULL_EXPECT));
        assert_int_equal(f->fake.n_answered, FULL_DRY_RUNS + 2);
        assert_int_equal(f->fake.n_cancelled, 0);
        ctl_proto_reply_done(&reply);
}

static void test_check__two_requests_at_once__each_gets_the_full_table(void **state) {
        Fixture *f = *state;
        CtlProtoReply a = {}, b = {};
        int fa, fb;

        /* Two runs, each with its own dry runs (nothing is shared or joined).
         * The in-flight bound is per run, so up to twice CHECK_INFLIGHT_MAX
         * calls are out here: not asserted either way. */
        f->fake.latency_usec = 20 * USEC_PER_MSEC;
        fa = client_connect(f);
        fb = client_connect(f);
        client_send(fa, CHECK_REQUEST);
        client_send(fb, CHECK_REQUEST);
        client_reply(f, fa, &a);
        client_reply(f, fb, &b);
        close(fa);
        close(fb);
        assert_true(a.ok);
        assert_true(b.ok);
        assert_int_equal(jint(a.result, "allowed"), FULL_DRY_RUNS);
        assert_int_equal(jint(b.result, "allowed"), FULL_DRY_RUNS);
        assert_int_equal(count_calls(&f->fake, true, NULL, NULL), 2 * FULL_DRY_RUNS);
        assert_int_equal(count_calls(&f->fake, true, "StopInstances", NULL), 2);
        ctl_proto_reply_done(&a);
        ctl_proto_reply_done(&b);
}

static void test_check__no_cdp_tags__core_actions_only(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};
        static const Expect core[] = {
                { "DescribeTags", NULL, { "Filter.1.Name=resource-id", "Filter.1.Value.1=" INSTANCE } },
                { "DescribeInstances", NULL, { "InstanceId.1=" INSTANCE } },
        };

        request(f, CHECK_REQUEST, &reply);
        assert_true(reply.ok);
        assert_int_equal(reply.exit_code, 0);
        assert_int_equal(json_object_array_length(jget(reply.result, "checks")), 2);
        assert_int_equal(jint(reply.result, "allowed"), 2);
        assert_string_equal(jstr(row(reply.result, "DescribeTags", INSTANCE), "result"), "allowed");
        assert_string_equal(jstr(row(reply.result, "DescribeInstances", INSTANCE), "result"), "allowed");
        assert_dry_runs(&f->fake, core, ELEMENTSOF(core));
        /* nothing to prepare */
        assert_int_equal(count_calls(&f->fake, false, NULL, NULL), 0);
        ctl_proto_reply_done(&reply);
}

static void test_check__tags_not_read__not_ready_no_call(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};

        request(f, CHECK_REQUEST, &reply);
        assert_false(reply.ok);
        assert_int_equal(reply.exit_code, 1);
        assert_string_equal(reply.code, "NotReady");
        pump(f, 20 * USEC_PER_MSEC);
        assert_int_equal(f->fake.n_records, 0);
        ctl_proto_reply_done(&reply);
}

/* ------------------------------------------------------------------------
 * Tests: the self-check after a policy change, and its status section
 * ------------------------------------------------------------------------ */

static void test_self_check__policy_changed__settles_then_logs_denied(void **state) {
        Fixture *f = *state;
        const char *log;
        time_t at, now = time(NULL);

        /* setup's policy_changed armed one timer, CHECK_SETTLE_USEC out, and
         * called nothing yet */
        assert_int_equal(f->settle_adds, 1);
        assert_true(f->settle_requested > now_usec() + CHECK_SETTLE_USEC - 2 * USEC_PER_SEC);
        assert_true(f->settle_requested <= now_usec() + CHECK_SETTLE_USEC);
        pump(f, 30 * USEC_PER_MSEC);
        assert_int_equal(f->fake.n_records, 0);

        fault_add(&f->fake, (Fault) { .action = "StopInstances", .kind = FAULT_ERROR, .status = 403,
                                      .code = "UnauthorizedOperation", .message = UNAUTHORIZED_MESSAGE,
                                      .count = -1 });
        capture_begin(f);
        fire_settle(f);
        pump_until(f, summary_logged);
        capture_restore(f);
        log = captured(f);
        assert_non_null(strstr(log, "warning: permission check: ec2:StopInstances on " INSTANCE
                                    " is denied (UnauthorizedOperation: " UNAUTHORIZED_MESSAGE
                                    "); the bastion pattern will fail when it needs it\n"));
        assert_non_null(strstr(log, "warning: permission check: 22 allowed, 1 denied, 0 unknown "
                                    "(denied: ec2:StopInstances (" INSTANCE "))\n"));
        /* nothing about the allowed actions */
        assert_int_equal(count_substr(log, "permission check:"), 2);
        assert_dry_runs(&f->fake, FULL_EXPECT, ELEMENTSOF(FULL_EXPECT));
        assert_real_calls_are_preparing_describes(&f->fake);
        assert_null(f->fake.calls);

        run_status(f);
        assert_non_null(f->status);
        assert_int_equal(jint(f->status, "allowed"), FULL_DRY_RUNS - 1);
        assert_int_equal(jint(f->status, "denied"), 1);
        assert_int_equal(jint(f->status, "unknown"), 0);
        assert_string_equal(jstr(f->status, "missing"), "denied: ec2:StopInstances (" INSTANCE ")");
        assert_int_equal(parse_rfc3339_utc(jstr(f->status, "checked_at"), &at), 0);
        assert_true(at >= now - 1 && at <= time(NULL) + 1);

        /* one run per change: nothing more without another one */
        pump(f, 50 * USEC_PER_MSEC);
        assert_int_equal(count_calls(&f->fake, true, NULL, NULL), FULL_DRY_RUNS);
}

static void test_status__before_and_after_a_clean_self_check(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};

        run_status(f);
        assert_null(f->status);

        capture_begin(f);
        fire_settle(f);
        pump_until(f, summary_logged);
        capture_restore(f);
        assert_non_null(strstr(captured(f), "info: permission check: all 23 actions the tag policy needs are "
                                            "allowed\n"));
        assert_int_equal(count_substr(captured(f), "permission check:"), 1);
        run_status(f);
        assert_non_null(f->status);
        assert_int_equal(jint(f->status, "allowed"), FULL_DRY_RUNS);
        assert_int_equal(jint(f->status, "denied"), 0);
        assert_int_equal(jint(f->status, "unknown"), 0);
        assert_false(json_object_object_get_ex(f->status, "missing", NULL));
        assert_non_null(jstr(f->status, "checked_at"));

        /* a cdpctl check answers its client and does not log */
        request(f, CHECK_REQUEST, &reply);
        assert_true(reply.ok);
        assert_int_equal(count_substr(captured(f), "permission check:"), 1);
        ctl_proto_reply_done(&reply);
}

/* FULL_TAGS without the bastion policy: 18 dry runs. */
static const char *const NO_BASTION_TAGS[] = {
        "Name", "web-1",
        "cdp:snapshot", "@daily",
        "cdp:snapshot:copy-to", COPY_REGION,
        "cdp:routing-ha", VIP "@" RTB_A "+" RTB_B,
        "cdp:floating-ip", EIP "," IP1,
        NULL,
};

static void test_self_check__tag_change_while_running__replaced_never_two_at_once(void **state) {
        Fixture *f = *state;
        uint64_t t;
        size_t cancelled;
        const char *log;

        f->fake.latency_usec = 100 * USEC_PER_MSEC;
        capture_begin(f);
        fire_settle(f);
        pump_until(f, dry_runs_in_flight);

        /* the tags change while it runs: the same timer is pushed out again */
        set_tags(f, NO_BASTION_TAGS);
        assert_int_equal(f->settle_adds, 1);
        assert_true(sd_event_source_get_time(f->settle, &t) >= 0);
        assert_true(t > now_usec() + CHECK_SETTLE_USEC - 2 * USEC_PER_SEC);

        /* it settles while the old run still has calls out */
        assert_true(f->fake.dry_in_flight > 0);
        cancelled = f->fake.n_cancelled;
        fire_settle(f);
        pump_until(f, summary_logged);
        capture_restore(f);
        log = captured(f);

        /* the old run was withdrawn, never reported, never overlapped the new one */
        assert_true(f->fake.n_cancelled > cancelled);
        assert_true(f->fake.max_dry_in_flight <= CHECK_INFLIGHT_MAX);
        assert_int_equal(count_substr(log, "permission check:"), 1);
        assert_non_null(strstr(log, "info: permission check: all 18 actions the tag policy needs are allowed\n"));
        pump(f, 250 * USEC_PER_MSEC);
        assert_null(f->fake.calls);
        assert_int_equal(count_substr(captured(f), "permission check:"), 1);
        run_status(f);
        assert_int_equal(jint(f->status, "allowed"), 18);
}

/* ------------------------------------------------------------------------
 * Tests: shutting down with work in flight
 * ------------------------------------------------------------------------ */

static bool preparation_in_flight(Fixture *f) {
        return f->fake.in_flight > 0;
}

/* Stops the pattern as the manager does at shutdown. */
static void done_now(Fixture *f, size_t *ret_answered) {
        check_pattern_ops.done(f->pattern);
        f->pattern_done = true;
        /* every call withdrawn at once */
        assert_null(f->fake.calls);
        assert_int_equal(f->fake.in_flight, 0);
        *ret_answered = f->fake.n_answered;
}

static void test_done__ctl_check_in_flight__aborted_reply_no_callback(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};
        size_t answered;
        int fd;

        f->fake.latency_usec = 200 * USEC_PER_MSEC;
        fd = client_connect(f);
        client_send(fd, CHECK_REQUEST);
        pump_until(f, dry_runs_in_flight);
        done_now(f, &answered);
        client_reply(f, fd, &reply);
        close(fd);
        assert_false(reply.ok);
        assert_int_equal(reply.exit_code, 1);
        assert_string_equal(reply.code, "Aborted");
        /* past the time every withdrawn call would have answered */
        pump(f, 250 * USEC_PER_MSEC);
        assert_int_equal(f->fake.n_answered, answered);
        ctl_proto_reply_done(&reply);
}

static void test_done__preparation_in_flight__aborted_reply_no_callback(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};
        size_t answered;
        int fd;

        f->fake.latency_usec = 200 * USEC_PER_MSEC;
        fd = client_connect(f);
        client_send(fd, CHECK_REQUEST);
        pump_until(f, preparation_in_flight);
        assert_int_equal(f->fake.dry_in_flight, 0);
        done_now(f, &answered);
        client_reply(f, fd, &reply);
        close(fd);
        assert_string_equal(reply.code, "Aborted");
        pump(f, 250 * USEC_PER_MSEC);
        assert_int_equal(f->fake.n_answered, answered);
        assert_int_equal(count_calls(&f->fake, true, NULL, NULL), 0);
        ctl_proto_reply_done(&reply);
}

static void test_done__self_check_in_flight_timer_armed__freed_silently(void **state) {
        Fixture *f = *state;
        size_t answered;

        f->fake.latency_usec = 200 * USEC_PER_MSEC;
        capture_begin(f);
        fire_settle(f);
        pump_until(f, dry_runs_in_flight);
        set_tags(f, NO_BASTION_TAGS);   /* and the timer armed again */
        done_now(f, &answered);
        pump(f, 250 * USEC_PER_MSEC);
        capture_restore(f);
        assert_int_equal(f->fake.n_answered, answered);
        assert_int_equal(count_substr(captured(f), "permission check:"), 0);
}

int main(void) {
#define T(test, setup_fn) cmocka_unit_test_setup_teardown(test, setup_fn, teardown)
        const struct CMUnitTest tests[] = {
                T(test_check__full_policy__one_dry_run_per_action_all_allowed, setup),
                T(test_check__unauthorized__denied_with_aws_code_exit_1, setup),
                T(test_check__denied_on_placeholder__unknown_not_denied, setup),
                T(test_check__transient_and_broken_answers__unknown_with_code_exit_1, setup),
                T(test_check__rules_describe_denied__revoke_unknown_no_group, setup),
                T(test_check__latency__at_most_inflight_max_all_issued, setup),
                T(test_check__two_requests_at_once__each_gets_the_full_table, setup),
                T(test_check__no_cdp_tags__core_actions_only, setup_plain),
                T(test_check__tags_not_read__not_ready_no_call, setup_unread),
                T(test_self_check__policy_changed__settles_then_logs_denied, setup),
                T(test_status__before_and_after_a_clean_self_check, setup),
                T(test_self_check__tag_change_while_running__replaced_never_two_at_once, setup),
                T(test_done__ctl_check_in_flight__aborted_reply_no_callback, setup),
                T(test_done__preparation_in_flight__aborted_reply_no_callback, setup),
                T(test_done__self_check_in_flight_timer_armed__freed_silently, setup),
        };
#undef T
        return cmocka_run_group_tests_name("pattern-check", tests, NULL, NULL);
}
