/* SPDX-License-Identifier: MIT */
/* Unit tests of the HA executor (daemon/pattern-ha.c) on a real sd-event loop:
 * the pattern's commands go through a real control socket (ctl-server.c), the
 * EC2 calls through the real client (signing, retries, classification) into
 * a scripted transport that plays a tiny EC2: route tables, an Elastic IP,
 * private IPs and the source/destination check, with per-action faults,
 * latency, eventual consistency and a log of submissions and completions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "cdp/aws.h"
#include "cdp/ctl-proto.h"
#include "cdp/strbuf.h"
#include "ctl-server.h"
#include "manager.h"
#include "pattern.h"

extern const PatternOps ha_pattern_ops;

#define ENI "eni-0a1b2c3d4e5f60001"
#define OTHER_ENI "eni-0a1b2c3d4e5f60002"
#define INSTANCE "i-0123456789abcdef0"
#define RTB_A "rtb-0aaa1111bbbb22223"
#define RTB_B "rtb-0ccc3333dddd44445"
#define EIP "eipalloc-0abc123def4567890"
#define IP1 "10.0.1.50"
#define IP2 "10.0.1.51"
#define VIP "192.168.100.10/32"
#define WAIT_USEC (10 * USEC_PER_SEC)
#define NS "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\""

static uint64_t now_usec(void) {
        return clock_now(clock_real(), CLOCK_MONOTONIC);
}

/* ------------------------------------------------------------------------
 * A tiny EC2 behind an HttpTransport
 * ------------------------------------------------------------------------ */

typedef struct World {
        char route[2][32];              /* target of VIP in RTB_A / RTB_B; "" = no route */
        bool table_missing[2];
        char eip_eni[32];               /* "" = not associated */
        bool check_on;                  /* our interface's source/destination check */
        char ip_holder[2][32];          /* who holds IP1 / IP2; "" = nobody */
} World;

typedef enum FaultKind {
        FAULT_ERROR,                    /* answer status/code/message */
        FAULT_HANG,                     /* never answer */
        FAULT_DROP,                     /* connection reset */
} FaultKind;

typedef struct Fault {
        const char *action;
        const char *match;              /* substring of the body, or NULL */
        FaultKind kind;
        long status;
        const char *code;
        const char *message;
        int count;                      /* -1 = always */
} Fault;

typedef struct Event {
        bool complete;
        char action[48];
        char body[512];
} Event;

typedef struct FakeEc2 FakeEc2;

struct HttpCall {
        FakeEc2 *f;
        sd_event_source *timer;
        HttpDoneFn done;
        void *userdata;
        long status;
        char *body;
        int error;
        char action[48];
        char request[512];
        struct HttpCall *next;
};

struct FakeEc2 {
        HttpTransport base;
        sd_event *event;
        World world;
        World shown;                    /* what describes show while stale */
        uint64_t lag_usec;              /* eventual consistency after a write */
        uint64_t stale_until;
        uint64_t latency_usec;
        Fault faults[16];
        size_t n_faults;
        Event events[1024];
        size_t n_events;
        struct HttpCall *calls;
        unsigned request_no;
};

static void log_event(FakeEc2 *f, bool complete, const char *action, const char *body) {
        Event *e;

        assert_true(f->n_events < ELEMENTSOF(f->events));
        e = &f->events[f->n_events++];
        *e = (Event) { .complete = complete };
        (void) snprintf(e->action, sizeof(e->action), "%s", action);
        (void) snprintf(e->body, sizeof(e->body), "%s", body ?: "");
}

/* The value of name in a form body (only %2F is decoded: enough here). */
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
                        if (strncmp(p, "%2F", 3) == 0) {
                                buf[k++] = '/';
                                p += 3;
                        } else
                                buf[k++] = *p++;
                }
                buf[k] = '\0';
                return true;
        }
        return false;
}

static bool form_has_value(const char *body, const char *prefix, const char *value) {
        char name[64], v[64];

        for (int i = 1; i < 20; i++) {
                (void) snprintf(name, sizeof(name), "%s%d", prefix, i);
                if (!form_get(body, name, v, sizeof(v)))
                        return false;
                if (strcmp(v, value) == 0)
                        return true;
        }
        return false;
}

static int table_index(const char *id) {
        return strcmp(id, RTB_A) == 0 ? 0 : strcmp(id, RTB_B) == 0 ? 1 : -1;
}

static void answer_simple(StrBuf *b, const char *action, unsigned no) {
        assert_int_equal(strbuf_printf(b, "<%sResponse " NS "><requestId>req-%u</requestId><return>true</return>"
                                          "</%sResponse>", action, no, action), 0);
}

static void answer_error(struct HttpCall *c, StrBuf *b, long status, const char *code, const char *message,
                         unsigned no) {
        c->status = status;
        assert_int_equal(strbuf_printf(b, "<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error>"
                                          "</Errors><RequestID>req-%u</RequestID></Response>", code, message, no), 0);
}

static void eni_xml(StrBuf *b, const char *id, const char *primary, bool check, const World *w) {
        assert_int_equal(strbuf_printf(b, "<item><networkInterfaceId>%s</networkInterfaceId>"
                                          "<privateIpAddress>%s</privateIpAddress>"
                                          "<sourceDestCheck>%s</sourceDestCheck><privateIpAddressesSet>"
                                          "<item><privateIpAddress>%s</privateIpAddress><primary>true</primary></item>",
                                       id, primary, check ? "true" : "false", primary), 0);
        for (int i = 0; i < 2; i++)
                if (strcmp(w->ip_holder[i], id) == 0)
                        assert_int_equal(strbuf_printf(b, "<item><privateIpAddress>%s</privateIpAddress>"
                                                          "<primary>false</primary></item>", i ? IP2 : IP1), 0);
        assert_int_equal(strbuf_puts(b, "</privateIpAddressesSet></item>"), 0);
}

/* Plays the action against the world; fills c->status and the body. */
static void ec2_play(FakeEc2 *f, struct HttpCall *c, const char *body, StrBuf *b) {
        const World *w = now_usec() < f->stale_until ? &f->shown : &f->world;
        unsigned no = ++f->request_no;
        char v[32], v2[32];
        int k;

        c->status = 200;
        if (strncmp(c->action, "Describe", 8) != 0 && now_usec() >= f->stale_until && f->lag_usec) {
                /* a write: describes keep showing the old world for a while */
                f->shown = f->world;
                f->stale_until = now_usec() + f->lag_usec;
        }

        if (strcmp(c->action, "DescribeRouteTables") == 0) {
                assert_int_equal(strbuf_printf(b, "<DescribeRouteTablesResponse " NS "><requestId>req-%u</requestId>"
                                                  "<routeTableSet>", no), 0);
                for (int i = 0; i < 2; i++) {
                        if (w->table_missing[i] || !form_has_value(body, "Filter.1.Value.", i ? RTB_B : RTB_A))
                                continue;
                        assert_int_equal(strbuf_printf(b, "<item><routeTableId>%s</routeTableId><routeSet>"
                                                          "<item><destinationCidrBlock>10.0.0.0/16"
                                                          "</destinationCidrBlock><gatewayId>local</gatewayId>"
                                                          "<state>active</state></item>",
                                                       i ? RTB_B : RTB_A), 0);
                        if (w->route[i][0])
                                assert_int_equal(strbuf_printf(b, "<item><destinationCidrBlock>" VIP
                                                                  "</destinationCidrBlock><networkInterfaceId>%s"
                                                                  "</networkInterfaceId><state>active</state></item>",
                                                               w->route[i]), 0);
                        assert_int_equal(strbuf_puts(b, "</routeSet></item>"), 0);
                }
                assert_int_equal(strbuf_puts(b, "</routeTableSet></DescribeRouteTablesResponse>"), 0);
        } else if (strcmp(c->action, "DescribeAddresses") == 0) {
                assert_int_equal(strbuf_printf(b, "<DescribeAddressesResponse " NS "><requestId>req-%u</requestId>"
                                                  "<addressesSet><item><publicIp>203.0.113.10</publicIp>"
                                                  "<allocationId>" EIP "</allocationId><domain>vpc</domain>", no), 0);
                if (w->eip_eni[0])
                        assert_int_equal(strbuf_printf(b, "<associationId>eipassoc-1</associationId>"
                                                          "<networkInterfaceId>%s</networkInterfaceId>",
                                                       w->eip_eni), 0);
                assert_int_equal(strbuf_puts(b, "</item></addressesSet></DescribeAddressesResponse>"), 0);
        } else if (strcmp(c->action, "DescribeNetworkInterfaces") == 0) {
                assert_int_equal(strbuf_printf(b, "<DescribeNetworkInterfacesResponse " NS "><requestId>req-%u"
                                                  "</requestId><networkInterfaceSet>", no), 0);
                if (form_get(body, "NetworkInterfaceId.1", v, sizeof(v))) {
                        assert_string_equal(v, ENI);
                        eni_xml(b, ENI, "10.0.1.10", w->check_on, w);
                } else {
                        eni_xml(b, ENI, "10.0.1.10", w->check_on, w);
                        eni_xml(b, OTHER_ENI, "10.0.1.20", true, w);
                }
                assert_int_equal(strbuf_puts(b, "</networkInterfaceSet></DescribeNetworkInterfacesResponse>"), 0);
        } else if (strcmp(c->action, "ModifyNetworkInterfaceAttribute") == 0) {
                assert_true(form_get(body, "NetworkInterfaceId", v, sizeof(v)));
                assert_string_equal(v, ENI);
                assert_true(form_get(body, "SourceDestCheck.Value", v, sizeof(v)));
                assert_string_equal(v, "false");
                f->world.check_on = false;
                answer_simple(b, c->action, no);
        } else if (strcmp(c->action, "ReplaceRoute") == 0 || strcmp(c->action, "CreateRoute") == 0) {
                assert_true(form_get(body, "RouteTableId", v, sizeof(v)));
                assert_true(form_get(body, "NetworkInterfaceId", v2, sizeof(v2)));
                assert_string_equal(v2, ENI);
                k = table_index(v);
                if (k < 0 || f->world.table_missing[k])
                        answer_error(c, b, 400, "InvalidRouteTableID.NotFound", "The routeTable ID does not exist",
                                     no);
                else if (c->action[0] == 'R' && !f->world.route[k][0])
                        answer_error(c, b, 400, "InvalidRoute.NotFound",
                                     "There is no route defined for '" VIP "' in the route table. "
                                     "Use CreateRoute instead.",
                                     no);
                else if (c->action[0] == 'C' && f->world.route[k][0])
                        answer_error(c, b, 400, "RouteAlreadyExists", "The route identified by " VIP " already exists.",
                                     no);
                else {
                        assert_true(form_get(body, "DestinationCidrBlock", v, sizeof(v)));
                        assert_string_equal(v, VIP);
                        (void) snprintf(f->world.route[k], sizeof(f->world.route[k]), "%s", v2);
                        answer_simple(b, c->action, no);
                }
        } else if (strcmp(c->action, "AssociateAddress") == 0) {
                assert_true(form_get(body, "AllowReassociation", v, sizeof(v)));
                assert_string_equal(v, "true");
                assert_true(form_get(body, "NetworkInterfaceId", v, sizeof(v)));
                (void) snprintf(f->world.eip_eni, sizeof(f->world.eip_eni), "%s", v);
                assert_int_equal(strbuf_printf(b, "<AssociateAddressResponse " NS "><requestId>req-%u</requestId>"
                                                  "<return>true</return><associationId>eipassoc-2</associationId>"
                                                  "</AssociateAddressResponse>", no), 0);
        } else if (strcmp(c->action, "AssignPrivateIpAddresses") == 0) {
                assert_true(form_get(body, "AllowReassignment", v, sizeof(v)));
                assert_string_equal(v, "true");
                for (int i = 0; i < 2; i++)
                        if (form_has_value(body, "PrivateIpAddress.", i ? IP2 : IP1))
                                (void) snprintf(f->world.ip_holder[i], sizeof(f->world.ip_holder[i]), "%s", ENI);
                assert_int_equal(strbuf_printf(b, "<AssignPrivateIpAddressesResponse " NS "><requestId>req-%u"
                                                  "</requestId><networkInterfaceId>" ENI "</networkInterfaceId>"
                                                  "<return>true</return></AssignPrivateIpAddressesResponse>", no), 0);
        } else
                answer_simple(b, c->action, no);
}

static void call_unlink(FakeEc2 *f, struct HttpCall *c) {
        for (struct HttpCall **i = &f->calls; *i; i = &(*i)->next)
                if (*i == c) {
                        *i = c->next;
                        return;
                }
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
        log_event(f, true, c->action, c->request);
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
        Fault *fault = NULL;

        assert_non_null(body);
        assert_string_equal(req->method, "POST");
        /* a takeover never asks instance metadata */
        assert_null(strstr(req->url, "169.254.169.254"));
        c = calloc(1, sizeof(*c));
        assert_non_null(c);
        c->f = f;
        c->done = done;
        c->userdata = userdata;
        assert_true(form_get(body, "Action", c->action, sizeof(c->action)));
        (void) snprintf(c->request, sizeof(c->request), "%s", body);
        log_event(f, false, c->action, body);

        for (size_t i = 0; i < f->n_faults; i++) {
                Fault *x = &f->faults[i];
                if (x->count != 0 && strcmp(x->action, c->action) == 0 && (!x->match || strstr(body, x->match))) {
                        fault = x;
                        if (x->count > 0)
                                x->count--;
                        break;
                }
        }
        if (fault && fault->kind == FAULT_HANG) {
                c->next = f->calls;
                f->calls = c;
                if (ret_call)
                        *ret_call = c;
                return 0;
        }
        if (fault && fault->kind == FAULT_DROP)
                c->error = -ECONNRESET;
        else if (fault) {
                answer_error(c, &b, fault->status, fault->code, fault->message, ++f->request_no);
                c->body = strbuf_steal(&b);
        } else {
                ec2_play(f, c, body, &b);
                c->body = strbuf_steal(&b);
        }
        assert_true(sd_event_add_time_relative(f->event, &c->timer, CLOCK_MONOTONIC, f->latency_usec, 1, on_answer,
                                               c) >= 0);
        c->next = f->calls;
        f->calls = c;
        if (ret_call)
                *ret_call = c;
        return 0;
}

static void fake_cancel(HttpTransport *base, struct HttpCall *c) {
        call_unlink((FakeEc2 *) base, c);
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

static size_t count_events(const FakeEc2 *f, bool complete, const char *action, const char *match) {
        size_t n = 0;

        for (size_t i = 0; i < f->n_events; i++)
                if (f->events[i].complete == complete && (!action || strcmp(f->events[i].action, action) == 0) &&
                    (!match || strstr(f->events[i].body, match)))
                        n++;
        return n;
}

static bool is_write(const char *action) {
        return strncmp(action, "Describe", 8) != 0;
}

static size_t count_writes(const FakeEc2 *f) {
        size_t n = 0;

        for (size_t i = 0; i < f->n_events; i++)
                n += !f->events[i].complete && is_write(f->events[i].action);
        return n;
}

/* ------------------------------------------------------------------------
 * Fixture: a manager with config, AWS context and policy; the pattern; a
 * control socket
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
        CtlServer *server;
        CtlCommand table[4];
        struct json_object *status;     /* the section handed to status_request_done */
        bool status_done;
} Fixture;

static Fixture *the_fixture;

/* The manager's, here: the tests receive the pattern's status section. */
void status_request_done(StatusRequest *sr, struct json_object *section) {
        Fixture *f = (Fixture *) sr;

        assert_ptr_equal(f, the_fixture);
        f->status = section;
        f->status_done = true;
}

static void set_policy(Fixture *f, const char *routing, const char *floating) {
        PolicyTag tags[2];
        size_t n = 0;

        if (routing)
                tags[n++] = (PolicyTag) { "cdp:routing-ha", routing };
        if (floating)
                tags[n++] = (PolicyTag) { "cdp:floating-ip", floating };
        policy_free(f->manager.policy);
        f->manager.policy = NULL;
        assert_int_equal(policy_parse(tags, n, "cdp:", &f->manager.policy), 0);
        ha_pattern_ops.policy_changed(f->pattern);
}

static void world_elsewhere(FakeEc2 *fake) {
        fake->world = (World) { .check_on = true };
        strcpy(fake->world.route[0], OTHER_ENI);
        strcpy(fake->world.route[1], OTHER_ENI);
        strcpy(fake->world.eip_eni, OTHER_ENI);
        strcpy(fake->world.ip_holder[0], OTHER_ENI);
        strcpy(fake->world.ip_holder[1], OTHER_ENI);
}

static void pump(Fixture *f, uint64_t usec) {
        uint64_t end = now_usec() + usec;

        while (now_usec() < end)
                assert_true(sd_event_run(f->event, 5 * USEC_PER_MSEC) >= 0);
}

/* Runs the loop until no call is in flight (the warm-up round). */
static void settle(Fixture *f) {
        uint64_t end = now_usec() + WAIT_USEC;

        do {
                assert_true(now_usec() < end);
                assert_true(sd_event_run(f->event, 5 * USEC_PER_MSEC) >= 0);
        } while (f->fake.calls);
}

static int setup_with(void **state, const char *routing, const char *floating) {
        Ec2ClientConfig ec = {
                .region = "us-east-1",
                .max_attempts = 3,
                .base_delay_usec = 1000,
                .throttle_delay_usec = 2000,
                .max_delay_usec = 10000,
        };
        Fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        the_fixture = f;
        strcpy(f->dir, "/tmp/test-pattern-ha.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        (void) snprintf(f->path, sizeof(f->path), "%s/control.sock", f->dir);
        assert_true(sd_event_new(&f->event) >= 0);

        f->fake = (FakeEc2) { .base = { .ops = &fake_ops }, .event = f->event, .latency_usec = 2 * USEC_PER_MSEC };
        world_elsewhere(&f->fake);

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
        f->manager.aws = &f->aws;

        f->pattern = calloc(1, ha_pattern_ops.size);
        assert_non_null(f->pattern);
        f->pattern->ops = &ha_pattern_ops;
        f->pattern->manager = &f->manager;
        assert_null(ha_pattern_ops.init);      /* no timer of its own: see refresh */

        for (size_t i = 0; i < ha_pattern_ops.n_commands; i++)
                f->table[i] = (CtlCommand) { .name = ha_pattern_ops.commands[i].name,
                                             .handler = ha_pattern_ops.commands[i].handler,
                                             .userdata = f->pattern };
        assert_int_equal(ctl_server_new(f->event, f->path, getegid(), f->table, ha_pattern_ops.n_commands, f,
                                        &f->server), 0);

        if (routing || floating) {
                set_policy(f, routing, floating);
                settle(f);      /* the warm-up describe round */
        }
        *state = f;
        return 0;
}

static int setup(void **state) {
        return setup_with(state, VIP "@" RTB_A "+" RTB_B, EIP);
}

static int setup_private(void **state) {
        return setup_with(state, NULL, EIP "," IP1 "," IP2);
}

static int setup_no_policy(void **state) {
        return setup_with(state, NULL, NULL);
}

static int teardown(void **state) {
        Fixture *f = *state;

        ha_pattern_ops.done(f->pattern);
        free(f->pattern);
        ctl_server_free(f->server);
        ec2_client_free(f->aws.ec2);
        creds_provider_free(f->creds);
        while (f->fake.calls) {
                struct HttpCall *c = f->fake.calls;
                f->fake.calls = c->next;
                call_free(c);
        }
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
        char buf[256 * 1024];
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

/* The target object whose key has value. */
static struct json_object *target_by(struct json_object *result, const char *key, const char *value) {
        struct json_object *targets = jget(result, "targets");

        for (size_t i = 0; i < json_object_array_length(targets); i++) {
                struct json_object *t = json_object_array_get_idx(targets, i);
                const char *v = jstr(t, key);
                if (v && strcmp(v, value) == 0)
                        return t;
        }
        fail_msg("no target with %s=%s", key, value);
        return NULL;
}

/* ------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------ */

static void test_warm__policy_changed__one_describe_round_before_any_takeover(void **state) {
        Fixture *f = *state;

        /* setup ran policy_changed and settled: the describes of a takeover
         * already went over the connection, no write */
        assert_int_equal(count_events(&f->fake, false, "DescribeRouteTables", NULL), 1);
        assert_int_equal(count_events(&f->fake, false, "DescribeAddresses", NULL), 1);
        assert_int_equal(count_events(&f->fake, false, "DescribeNetworkInterfaces", NULL), 1);
        assert_int_equal(count_writes(&f->fake), 0);
}

/* The keep-alive rides on the manager's tag_refresh tick: a tick right
 * after a round of ours makes no call, one after half a period makes one
 * describe round, and a tick without an HA policy makes none. */
static void test_refresh__recent_round__no_call(void **state) {
        Fixture *f = *state;

        f->manager.config->tag_refresh_usec = 60 * USEC_PER_SEC;
        ha_pattern_ops.refresh(f->pattern);
        pump(f, 20 * USEC_PER_MSEC);
        assert_int_equal(count_events(&f->fake, false, "DescribeRouteTables", NULL), 1);
        assert_null(f->fake.calls);
}

static void test_refresh__half_period_idle__one_describe_round(void **state) {
        Fixture *f = *state;

        f->manager.config->tag_refresh_usec = 100 * USEC_PER_MSEC;
        pump(f, 60 * USEC_PER_MSEC);
        ha_pattern_ops.refresh(f->pattern);
        settle(f);
        assert_int_equal(count_events(&f->fake, false, "DescribeRouteTables", NULL), 2);
        assert_int_equal(count_events(&f->fake, false, "DescribeAddresses", NULL), 2);
        assert_int_equal(count_events(&f->fake, false, "DescribeNetworkInterfaces", NULL), 2);
        assert_int_equal(count_writes(&f->fake), 0);
        /* and nothing more until the next tick: no timer of its own */
        pump(f, 300 * USEC_PER_MSEC);
        assert_int_equal(count_events(&f->fake, false, "DescribeRouteTables", NULL), 2);
}

static void test_refresh__no_policy__no_call(void **state) {
        Fixture *f = *state;

        f->manager.config->tag_refresh_usec = 100 * USEC_PER_MSEC;
        pump(f, 60 * USEC_PER_MSEC);
        ha_pattern_ops.refresh(f->pattern);
        pump(f, 20 * USEC_PER_MSEC);
        assert_int_equal(count_events(&f->fake, false, "DescribeRouteTables", NULL), 0);
        assert_null(f->fake.calls);
}

static void test_takeover__everything_elsewhere__concurrent_writes_then_verified(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};
        size_t first_write_done = SIZE_MAX, last_write_submit = 0, start;
        struct json_object *t, *api;

        f->fake.latency_usec = 20 * USEC_PER_MSEC;
        start = f->fake.n_events;
        request(f, "{\"command\":\"takeover\",\"args\":{\"pattern\":null,\"dry_run\":false,\"timeout_ms\":5000}}\n",
                &reply);
        assert_true(reply.ok);

        /* every write was on the wire before the first one completed */
        for (size_t i = start; i < f->fake.n_events; i++) {
                if (!is_write(f->fake.events[i].action))
                        continue;
                if (f->fake.events[i].complete && first_write_done == SIZE_MAX)
                        first_write_done = i;
                if (!f->fake.events[i].complete)
                        last_write_submit = i;
        }
        assert_true(last_write_submit < first_write_done);
        /* describe, writes, one verifying describe: 3 + 4 + 3 calls */
        assert_int_equal(f->fake.n_events - start, 2 * 10);
        assert_int_equal(count_writes(&f->fake), 4);
        assert_int_equal(count_events(&f->fake, false, "ModifyNetworkInterfaceAttribute", NULL), 1);
        assert_int_equal(count_events(&f->fake, false, "ReplaceRoute", NULL), 2);
        assert_int_equal(count_events(&f->fake, false, "AssociateAddress", NULL), 1);

        assert_string_equal(f->fake.world.route[0], ENI);
        assert_string_equal(f->fake.world.route[1], ENI);
        assert_string_equal(f->fake.world.eip_eni, ENI);
        assert_false(f->fake.world.check_on);

        assert_int_equal(json_object_get_int(jget(reply.result, "moved")), 4);
        assert_int_equal(json_object_get_int(jget(reply.result, "failed")), 0);
        api = jget(reply.result, "api");
        assert_int_equal(json_object_get_int(jget(api, "describe_rounds")), 2);
        assert_int_equal(json_object_get_int(jget(api, "write_rounds")), 1);
        assert_int_equal(json_object_get_int(jget(api, "writes")), 4);
        t = target_by(reply.result, "route_table", RTB_B);
        assert_string_equal(jstr(t, "state"), "here");
        assert_string_equal(jstr(t, "result"), "moved");
        assert_string_equal(jstr(t, "previous"), OTHER_ENI);
        assert_string_equal(jstr(t, "action"), "ReplaceRoute");
        assert_non_null(jstr(t, "request_id"));
        ctl_proto_reply_done(&reply);
}

static void test_takeover__twice__second_makes_no_write(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};
        size_t writes;

        request(f, "{\"command\":\"takeover\"}\n", &reply);
        assert_true(reply.ok);
        ctl_proto_reply_done(&reply);
        writes = count_writes(&f->fake);
        assert_int_equal(writes, 4);

        request(f, "{\"command\":\"takeover\",\"args\":{\"pattern\":\"routing-ha\"}}\n", &reply);
        assert_true(reply.ok);
        assert_int_equal(count_writes(&f->fake), writes);
        assert_int_equal(json_object_get_int(jget(reply.result, "already_here")), 3);
        assert_string_equal(jstr(target_by(reply.result, "route_table", RTB_A), "result"), "already-here");
        ctl_proto_reply_done(&reply);

        request(f, "{\"command\":\"takeover\"}\n", &reply);
        assert_true(reply.ok);
        assert_int_equal(count_writes(&f->fake), writes);
        ctl_proto_reply_done(&reply);
}

static void test_takeover__check_already_off_route_absent__no_modify_create_route(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};

        f->fake.world.check_on = false;
        f->fake.world.route[0][0] = '\0';
        request(f, "{\"command\":\"takeover\"}\n", &reply);
        assert_true(reply.ok);
        assert_int_equal(count_events(&f->fake, false, "ModifyNetworkInterfaceAttribute", NULL), 0);
        assert_int_equal(count_events(&f->fake, false, "CreateRoute", "RouteTableId=" RTB_A), 1);
        assert_int_equal(count_events(&f->fake, false, "ReplaceRoute", "RouteTableId=" RTB_A), 0);
        assert_int_equal(count_events(&f->fake, false, "ReplaceRoute", "RouteTableId=" RTB_B), 1);
        assert_string_equal(f->fake.world.route[0], ENI);
        assert_string_equal(jstr(target_by(reply.result, "route_table", RTB_A), "action"), "CreateRoute");
        ctl_proto_reply_done(&reply);
}

static void test_takeover__replace_route_not_found__create_route_at_once(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};

        /* the describe still shows a route the table no longer has */
        f->fake.lag_usec = 0;
        f->fake.shown = f->fake.world;
        f->fake.stale_until = now_usec() + 60 * USEC_PER_SEC;
        f->fake.world.route[0][0] = '\0';
        request(f, "{\"command\":\"takeover\",\"args\":{\"timeout_ms\":300}}\n", &reply);
        f->fake.stale_until = 0;
        /* the stale describe never shows the move: the deadline would end
         * it, so look only at the calls */
        assert_int_equal(count_events(&f->fake, false, "ReplaceRoute", "RouteTableId=" RTB_A), 1);
        assert_int_equal(count_events(&f->fake, false, "CreateRoute", "RouteTableId=" RTB_A), 1);
        assert_string_equal(f->fake.world.route[0], ENI);
        ctl_proto_reply_done(&reply);
}

static void test_takeover__unauthorized_on_one_table__fails_at_once_others_moved(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};
        struct json_object *t, *e;
        uint64_t start = now_usec();

        fault_add(&f->fake, (Fault) { .action = "ReplaceRoute", .match = "RouteTableId=" RTB_A, .kind = FAULT_ERROR,
                                      .status = 403, .code = "UnauthorizedOperation",
                                      .message = "You are not authorized to perform this operation.", .count = -1 });
        request(f, "{\"command\":\"takeover\",\"args\":{\"timeout_ms\":10000}}\n", &reply);
        assert_false(reply.ok);
        assert_int_equal(reply.exit_code, 1);
        assert_string_equal(reply.code, "UnauthorizedOperation");
        assert_non_null(strstr(reply.message, RTB_A));
        assert_non_null(strstr(reply.message, "You are not authorized"));
        /* at once: one attempt, no waiting for the deadline */
        assert_true(now_usec() - start < 2 * USEC_PER_SEC);
        assert_int_equal(count_events(&f->fake, false, "ReplaceRoute", "RouteTableId=" RTB_A), 1);

        t = target_by(reply.result, "route_table", RTB_A);
        assert_string_equal(jstr(t, "result"), "failed");
        e = jget(t, "error");
        assert_string_equal(jstr(e, "code"), "UnauthorizedOperation");
        assert_string_equal(jstr(target_by(reply.result, "route_table", RTB_B), "result"), "moved");
        assert_string_equal(jstr(target_by(reply.result, "type", "elastic-ip"), "result"), "moved");
        assert_int_equal(json_object_get_int(jget(reply.result, "failed")), 1);
        assert_string_equal(f->fake.world.route[0], OTHER_ENI);
        assert_string_equal(f->fake.world.route[1], ENI);
        ctl_proto_reply_done(&reply);
}

static void test_takeover__throttled__retried_within_deadline(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};

        /* more throttles than one call's attempts: the next round tries again */
        fault_add(&f->fake, (Fault) { .action = "AssociateAddress", .kind = FAULT_ERROR, .status = 503,
                                      .code = "RequestLimitExceeded", .message = "Request limit exceeded.",
                                      .count = 4 });
        fault_add(&f->fake, (Fault) { .action = "ReplaceRoute", .kind = FAULT_ERROR, .status = 500,
                                      .code = "InternalError", .message = "An internal error has occurred",
                                      .count = 1 });
        fault_add(&f->fake, (Fault) { .action = "ModifyNetworkInterfaceAttribute", .kind = FAULT_DROP, .count = 1 });
        request(f, "{\"command\":\"takeover\",\"args\":{\"timeout_ms\":10000}}\n", &reply);
        assert_true(reply.ok);
        assert_int_equal(count_events(&f->fake, false, "AssociateAddress", NULL), 5);
        assert_int_equal(count_events(&f->fake, false, "ReplaceRoute", NULL), 3);
        assert_int_equal(count_events(&f->fake, false, "ModifyNetworkInterfaceAttribute", NULL), 2);
        assert_string_equal(f->fake.world.eip_eni, ENI);
        /* a later success clears the error of an earlier attempt */
        assert_false(json_object_object_get_ex(target_by(reply.result, "type", "elastic-ip"), "error", NULL));
        assert_string_equal(jstr(target_by(reply.result, "type", "elastic-ip"), "result"), "moved");
        ctl_proto_reply_done(&reply);
}

static void test_takeover__write_never_answers__deadline_fails_that_target(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};
        uint64_t start = now_usec();
        struct json_object *t;

        fault_add(&f->fake, (Fault) { .action = "AssociateAddress", .kind = FAULT_HANG, .count = -1 });
        request(f, "{\"command\":\"takeover\",\"args\":{\"timeout_ms\":300}}\n", &reply);
        assert_false(reply.ok);
        assert_true(now_usec() - start < 2 * USEC_PER_SEC);
        assert_true(now_usec() - start >= 250 * USEC_PER_MSEC);
        t = target_by(reply.result, "type", "elastic-ip");
        assert_string_equal(jstr(t, "result"), "failed");
        assert_string_equal(jstr(jget(t, "error"), "code"), "Timeout");
        assert_string_equal(jstr(target_by(reply.result, "route_table", RTB_A), "result"), "moved");
        assert_string_equal(jstr(target_by(reply.result, "route_table", RTB_B), "result"), "moved");
        /* the hanging call was withdrawn */
        assert_null(f->fake.calls);
        ctl_proto_reply_done(&reply);
}

static void test_takeover__dry_run__describes_only(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};
        struct json_object *t;

        f->fake.world.route[1][0] = '\0';
        request(f, "{\"command\":\"takeover\",\"args\":{\"dry_run\":true}}\n", &reply);
        assert_true(reply.ok);
        assert_int_equal(count_writes(&f->fake), 0);
        assert_true(json_object_get_boolean(jget(reply.result, "dry_run")));
        t = target_by(reply.result, "route_table", RTB_A);
        assert_string_equal(jstr(t, "result"), "would-move");
        assert_string_equal(jstr(t, "action"), "ReplaceRoute");
        t = target_by(reply.result, "route_table", RTB_B);
        assert_string_equal(jstr(t, "state"), "missing");
        assert_string_equal(jstr(t, "action"), "CreateRoute");
        ctl_proto_reply_done(&reply);
}

static void test_takeover__eventual_consistency__describes_again_no_rewrite(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};

        f->fake.lag_usec = 150 * USEC_PER_MSEC;
        request(f, "{\"command\":\"takeover\"}\n", &reply);
        assert_true(reply.ok);
        assert_int_equal(count_writes(&f->fake), 4);
        /* more than one verifying round */
        assert_true(count_events(&f->fake, false, "DescribeRouteTables", NULL) >= 4);
        assert_int_equal(json_object_get_int(jget(reply.result, "moved")), 4);
        ctl_proto_reply_done(&reply);
}

static void test_takeover__describe_unauthorized__no_blind_write(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};
        struct json_object *t;

        fault_add(&f->fake, (Fault) { .action = "DescribeRouteTables", .kind = FAULT_ERROR, .status = 403,
                                      .code = "UnauthorizedOperation", .message = "no ec2:DescribeRouteTables",
                                      .count = -1 });
        request(f, "{\"command\":\"takeover\",\"args\":{\"timeout_ms\":5000}}\n", &reply);
        assert_false(reply.ok);
        assert_int_equal(count_events(&f->fake, false, "ReplaceRoute", NULL), 0);
        assert_int_equal(count_events(&f->fake, false, "CreateRoute", NULL), 0);
        t = target_by(reply.result, "route_table", RTB_A);
        assert_string_equal(jstr(t, "state"), "unknown");
        assert_string_equal(jstr(jget(t, "error"), "code"), "UnauthorizedOperation");
        assert_string_equal(jstr(target_by(reply.result, "type", "elastic-ip"), "result"), "moved");
        ctl_proto_reply_done(&reply);
}

static void test_takeover__two_requests_at_once__joined_one_set_of_writes(void **state) {
        Fixture *f = *state;
        CtlProtoReply a = {}, b = {};
        int fa, fb;

        f->fake.latency_usec = 20 * USEC_PER_MSEC;
        fa = client_connect(f);
        fb = client_connect(f);
        client_send(fa, "{\"command\":\"takeover\"}\n");
        client_send(fb, "{\"command\":\"takeover\"}\n");
        client_reply(f, fa, &a);
        client_reply(f, fb, &b);
        close(fa);
        close(fb);
        assert_true(a.ok);
        assert_true(b.ok);
        assert_int_equal(count_writes(&f->fake), 4);
        ctl_proto_reply_done(&a);
        ctl_proto_reply_done(&b);
}

static void test_takeover__private_ips__one_batched_assign(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};

        request(f, "{\"command\":\"takeover\",\"args\":{\"pattern\":\"floating-ip\"}}\n", &reply);
        assert_true(reply.ok);
        assert_int_equal(count_events(&f->fake, false, "AssignPrivateIpAddresses",
                                      "PrivateIpAddress.1=" IP1 "&PrivateIpAddress.2=" IP2), 1);
        assert_int_equal(count_events(&f->fake, false, "AssignPrivateIpAddresses", NULL), 1);
        assert_int_equal(count_events(&f->fake, false, "ModifyNetworkInterfaceAttribute", NULL), 0);
        assert_string_equal(f->fake.world.ip_holder[0], ENI);
        assert_string_equal(f->fake.world.ip_holder[1], ENI);
        assert_string_equal(jstr(target_by(reply.result, "address", IP2), "result"), "moved");
        ctl_proto_reply_done(&reply);
}

static void test_takeover__no_policy__no_targets_exit_1(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};

        request(f, "{\"command\":\"takeover\"}\n", &reply);
        assert_false(reply.ok);
        assert_string_equal(reply.code, "NotReady");
        ctl_proto_reply_done(&reply);

        set_policy(f, NULL, NULL);
        request(f, "{\"command\":\"takeover\",\"args\":{\"pattern\":\"routing-ha\"}}\n", &reply);
        assert_false(reply.ok);
        assert_int_equal(reply.exit_code, 1);
        assert_string_equal(reply.code, "NoTargets");
        assert_non_null(strstr(reply.message, "cdp:routing-ha"));
        ctl_proto_reply_done(&reply);

        /* nothing configured is nothing to release */
        request(f, "{\"command\":\"release\"}\n", &reply);
        assert_true(reply.ok);
        assert_int_equal(json_object_array_length(jget(reply.result, "local")), 0);
        ctl_proto_reply_done(&reply);

        set_policy(f, "192.168.100.10/24@" RTB_A, NULL);
        request(f, "{\"command\":\"takeover\"}\n", &reply);
        assert_false(reply.ok);
        assert_string_equal(reply.code, "InvalidPolicy");
        assert_int_equal(json_object_array_length(jget(reply.result, "policy_errors")), 1);
        ctl_proto_reply_done(&reply);
        assert_int_equal(f->fake.n_events, 0);
}

static void test_takeover__bad_arguments__usage_exit_2(void **state) {
        Fixture *f = *state;
        const char *const bad[] = {
                "{\"command\":\"takeover\",\"args\":{\"pattern\":\"both\"}}\n",
                "{\"command\":\"takeover\",\"args\":{\"dry_run\":\"yes\"}}\n",
                "{\"command\":\"takeover\",\"args\":{\"timeout_ms\":0}}\n",
                "{\"command\":\"takeover\",\"args\":{\"timeout_ms\":1.5}}\n",
                "{\"command\":\"takeover\",\"args\":{\"force\":true}}\n",
                "{\"command\":\"release\",\"args\":{\"dry_run\":true}}\n",
        };
        size_t before = f->fake.n_events;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                CtlProtoReply reply = {};

                request(f, bad[i], &reply);
                assert_false(reply.ok);
                assert_int_equal(reply.exit_code, 2);
                assert_string_equal(reply.code, "BadRequest");
                ctl_proto_reply_done(&reply);
        }
        assert_int_equal(f->fake.n_events, before);
}

static void test_release__local_vip_off__no_call_says_aws_untouched(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};
        size_t before = f->fake.n_events;

        request(f, "{\"command\":\"release\"}\n", &reply);
        assert_true(reply.ok);
        assert_false(json_object_get_boolean(jget(reply.result, "manage_local_vip")));
        assert_int_equal(json_object_array_length(jget(reply.result, "local")), 0);
        assert_int_equal(f->fake.n_events, before);
        ctl_proto_reply_done(&reply);
}

static void test_release__during_takeover__takeover_cancelled(void **state) {
        Fixture *f = *state;
        CtlProtoReply a = {}, b = {};
        int fa;

        fault_add(&f->fake, (Fault) { .action = "AssociateAddress", .kind = FAULT_HANG, .count = -1 });
        fa = client_connect(f);
        client_send(fa, "{\"command\":\"takeover\"}\n");
        pump(f, 50 * USEC_PER_MSEC);
        request(f, "{\"command\":\"release\"}\n", &b);
        assert_true(b.ok);
        assert_int_equal(json_object_get_int(jget(b.result, "cancelled_takeovers")), 1);
        client_reply(f, fa, &a);
        close(fa);
        assert_false(a.ok);
        assert_string_equal(a.code, "Cancelled");
        assert_null(f->fake.calls);
        ctl_proto_reply_done(&a);
        ctl_proto_reply_done(&b);
}

static void run_status(Fixture *f) {
        uint64_t end = now_usec() + WAIT_USEC;

        if (f->status)
                json_object_put(f->status);
        f->status = NULL;
        f->status_done = false;
        ha_pattern_ops.status(f->pattern, (StatusRequest *) f);
        while (!f->status_done) {
                assert_true(now_usec() < end);
                assert_true(sd_event_run(f->event, 5 * USEC_PER_MSEC) >= 0);
        }
        assert_non_null(f->status);
}

static void test_status__mixed_world__here_elsewhere_missing_no_write(void **state) {
        Fixture *f = *state;
        struct json_object *t;
        size_t before = f->fake.n_events;

        strcpy(f->fake.world.route[0], ENI);
        f->fake.world.route[1][0] = '\0';
        f->fake.world.check_on = false;
        run_status(f);
        assert_string_equal(jstr(f->status, "takeover_state"), "partial");
        assert_string_equal(jstr(f->status, "routing_ha_state"), "partial");
        assert_string_equal(jstr(f->status, "floating_ip_state"), "elsewhere");
        assert_string_equal(jstr(target_by(f->status, "route_table", RTB_A), "state"), "here");
        t = target_by(f->status, "route_table", RTB_B);
        assert_string_equal(jstr(t, "state"), "missing");
        t = target_by(f->status, "type", "elastic-ip");
        assert_string_equal(jstr(t, "state"), "elsewhere");
        assert_string_equal(jstr(t, "where"), OTHER_ENI);
        assert_string_equal(jstr(t, "public_ip"), "203.0.113.10");
        assert_string_equal(jstr(target_by(f->status, "type", "source-dest-check"), "state"), "here");
        for (size_t i = before; i < f->fake.n_events; i++)
                assert_false(is_write(f->fake.events[i].action));
}

static void test_status__api_down__unknown_never_elsewhere(void **state) {
        Fixture *f = *state;
        struct json_object *targets;

        fault_add(&f->fake, (Fault) { .action = "DescribeRouteTables", .kind = FAULT_DROP, .count = -1 });
        fault_add(&f->fake, (Fault) { .action = "DescribeAddresses", .kind = FAULT_ERROR, .status = 503,
                                      .code = "Unavailable", .message = "down", .count = -1 });
        fault_add(&f->fake, (Fault) { .action = "DescribeNetworkInterfaces", .kind = FAULT_DROP, .count = -1 });
        run_status(f);
        assert_string_equal(jstr(f->status, "takeover_state"), "unknown");
        targets = jget(f->status, "targets");
        assert_int_equal(json_object_array_length(targets), 4);
        for (size_t i = 0; i < 4; i++) {
                struct json_object *t = json_object_array_get_idx(targets, i);
                assert_string_equal(jstr(t, "state"), "unknown");
                assert_non_null(jget(t, "error"));
        }
        assert_string_equal(jstr(jget(target_by(f->status, "type", "elastic-ip"), "error"), "code"), "Unavailable");
}

static void test_status__private_ips__holder_named(void **state) {
        Fixture *f = *state;
        struct json_object *t;

        f->fake.world.ip_holder[1][0] = '\0';
        run_status(f);
        t = target_by(f->status, "address", IP1);
        assert_string_equal(jstr(t, "state"), "elsewhere");
        assert_string_equal(jstr(t, "where"), OTHER_ENI);
        t = target_by(f->status, "address", IP2);
        assert_string_equal(jstr(t, "state"), "missing");
        assert_string_equal(jstr(f->status, "takeover_state"), "elsewhere");
}

static void test_status__no_policy__none_without_call(void **state) {
        Fixture *f = *state;

        set_policy(f, NULL, NULL);
        run_status(f);
        assert_string_equal(jstr(f->status, "takeover_state"), "none");
        assert_string_equal(jstr(f->status, "routing_ha_state"), "none");
        assert_int_equal(json_object_array_length(jget(f->status, "targets")), 0);
        assert_int_equal(f->fake.n_events, 0);
}

static void on_never(int error, const Ec2Response *resp, void *userdata) {
        (void) error;
        (void) resp;
        (void) userdata;
        fail_msg("the hanging call must not complete");
}

static void test_takeover__slow_unrelated_call__not_waited_for(void **state) {
        Fixture *f = *state;
        CtlProtoReply reply = {};
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        Ec2Call *slow = NULL;
        uint64_t start;

        /* another pattern's call that takes forever */
        fault_add(&f->fake, (Fault) { .action = "DescribeSnapshots", .kind = FAULT_HANG, .count = -1 });
        assert_int_equal(ec2_query_new(&q, "DescribeSnapshots"), 0);
        assert_int_equal(ec2_call(f->aws.ec2, q, NULL, on_never, NULL, &slow), 0);
        pump(f, 10 * USEC_PER_MSEC);
        start = now_usec();
        request(f, "{\"command\":\"takeover\"}\n", &reply);
        assert_true(reply.ok);
        assert_true(now_usec() - start < USEC_PER_SEC);
        ec2_call_cancel(slow);
        ctl_proto_reply_done(&reply);
}

int main(void) {
#define T(test, setup_fn) cmocka_unit_test_setup_teardown(test, setup_fn, teardown)
        const struct CMUnitTest tests[] = {
                T(test_warm__policy_changed__one_describe_round_before_any_takeover, setup),
                T(test_refresh__recent_round__no_call, setup),
                T(test_refresh__half_period_idle__one_describe_round, setup),
                T(test_refresh__no_policy__no_call, setup_no_policy),
                T(test_takeover__everything_elsewhere__concurrent_writes_then_verified, setup),
                T(test_takeover__twice__second_makes_no_write, setup),
                T(test_takeover__check_already_off_route_absent__no_modify_create_route, setup),
                T(test_takeover__replace_route_not_found__create_route_at_once, setup),
                T(test_takeover__unauthorized_on_one_table__fails_at_once_others_moved, setup),
                T(test_takeover__throttled__retried_within_deadline, setup),
                T(test_takeover__write_never_answers__deadline_fails_that_target, setup),
                T(test_takeover__dry_run__describes_only, setup),
                T(test_takeover__eventual_consistency__describes_again_no_rewrite, setup),
                T(test_takeover__describe_unauthorized__no_blind_write, setup),
                T(test_takeover__two_requests_at_once__joined_one_set_of_writes, setup),
                T(test_takeover__private_ips__one_batched_assign, setup_private),
                T(test_takeover__no_policy__no_targets_exit_1, setup_no_policy),
                T(test_takeover__bad_arguments__usage_exit_2, setup),
                T(test_release__local_vip_off__no_call_says_aws_untouched, setup),
                T(test_release__during_takeover__takeover_cancelled, setup),
                T(test_status__mixed_world__here_elsewhere_missing_no_write, setup),
                T(test_status__api_down__unknown_never_elsewhere, setup),
                T(test_status__private_ips__holder_named, setup_private),
                T(test_status__no_policy__none_without_call, setup_no_policy),
                T(test_takeover__slow_unrelated_call__not_waited_for, setup),
        };
#undef T
        return cmocka_run_group_tests_name("pattern-ha", tests, NULL, NULL);
}
