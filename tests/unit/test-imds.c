/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/io/imds.c, the IMDSv2 client, on a scripted transport
 * (tests/fakes/fake-http.c), a real sd-event loop and a hand-moved clock. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* asprintf, strndup, setenv in the harness */
#endif
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <systemd/sd-event.h>

#include "cdp/imds.h"
#include "fake-http.h"
#include "test-util.h"

#define EP IMDS_DEFAULT_ENDPOINT
#define TOKEN_URL EP "/latest/api/token"
#define TOKEN_PATH "/latest/api/token"

/* ---- harness --------------------------------------------------------- */

typedef struct Env {
        sd_event *event;
        FakeHttp *http;
        FakeClock clock;
        ImdsClient *imds;
} Env;

static int env_setup_with(void **state, const ImdsConfig *config) {
        Env *e = calloc(1, sizeof(*e));

        if (!e || sd_event_new(&e->event) < 0 || fake_http_new(e->event, &e->http) < 0)
                return -1;
        e->clock = fake_clock_make(1000 * USEC_PER_SEC, 1767225600ULL * USEC_PER_SEC);
        if (imds_client_new(&e->imds, e->event, fake_http_transport(e->http), &e->clock.clock, config) < 0)
                return -1;
        *state = e;
        return 0;
}

static int env_setup(void **state) {
        /* Retry delays of 1 us keep the tests fast; the loop is real. */
        ImdsConfig config = { .retry_delay_usec = 1, .max_attempts = 3 };
        return env_setup_with(state, &config);
}

static int env_teardown(void **state) {
        Env *e = *state;
        bool ok;

        if (!e)
                return 0;
        ok = !e->http || fake_http_imds_v2_only(e->http);
        imds_client_free(e->imds);
        fake_http_free(e->http);
        sd_event_unref(e->event);
        free(e);
        return ok ? 0 : -1;
}

typedef struct Result {
        int calls;
        int error;
        char *body;
        size_t len;
} Result;

static void on_done(int error, const char *body, size_t len, void *userdata) {
        Result *r = userdata;

        r->calls++;
        r->error = error;
        free(r->body);
        r->body = body ? strndup(body, len) : NULL;
        r->len = len;
}

static void result_done(Result *r) {
        free(r->body);
        r->body = NULL;
}

/* Checks SPEC 3 on everything the client sent: every PUT is the token call
 * with the TTL header, every GET carries a token, no other method is used. */
static void assert_imdsv2_only(const Env *e) {
        for (size_t i = 0; i < fake_http_count(e->http); i++) {
                const FakeHttpRecord *rec = fake_http_get(e->http, i);
                const char *tok = fake_http_header(e->http, i, "X-aws-ec2-metadata-token");

                if (strcmp(rec->method, "PUT") == 0) {
                        const char *ttl = fake_http_header(e->http, i, "X-aws-ec2-metadata-token-ttl-seconds");
                        assert_string_equal(rec->url + strlen(rec->url) - strlen(TOKEN_PATH), TOKEN_PATH);
                        assert_non_null(ttl);
                        assert_string_equal(ttl, "21600");
                        assert_null(tok);
                } else if (strcmp(rec->method, "GET") == 0) {
                        if (!tok || !*tok)
                                fail_msg("request %zu (GET %s) was sent without a token", i, rec->url);
                } else
                        fail_msg("unexpected method %s", rec->method);
        }
}

static size_t count_method(const Env *e, const char *method) {
        size_t n = 0;
        for (size_t i = 0; i < fake_http_count(e->http); i++)
                n += strcmp(fake_http_get(e->http, i)->method, method) == 0;
        return n;
}

/* ---- token handshake ------------------------------------------------- */

static void test_imds_get__first_call__token_put_then_get_with_token(void **state) {
        Env *e = *state;
        Result res = {};

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "AQAEAtoken-1==", 0);
        fake_http_push(e->http, "GET", "/latest/meta-data/instance-id", 200, "i-0123456789abcdef0", 0);

        assert_false(imds_has_token(e->imds));
        assert_int_equal(imds_get(e->imds, "meta-data/instance-id", false, on_done, &res, NULL), 0);
        /* done never runs inside imds_get(). */
        assert_int_equal(res.calls, 0);
        run_until_quiet(e->event);

        assert_int_equal(res.calls, 1);
        assert_int_equal(res.error, 0);
        assert_string_equal(res.body, "i-0123456789abcdef0");
        assert_int_equal(res.len, 19);

        assert_int_equal(fake_http_count(e->http), 2);
        assert_string_equal(fake_http_get(e->http, 0)->method, "PUT");
        assert_string_equal(fake_http_get(e->http, 0)->url, TOKEN_URL);
        assert_string_equal(fake_http_header(e->http, 0, "X-aws-ec2-metadata-token-ttl-seconds"), "21600");
        assert_string_equal(fake_http_get(e->http, 1)->method, "GET");
        assert_string_equal(fake_http_get(e->http, 1)->url, EP "/latest/meta-data/instance-id");
        assert_string_equal(fake_http_header(e->http, 1, "X-aws-ec2-metadata-token"), "AQAEAtoken-1==");
        assert_true(imds_has_token(e->imds));
        assert_int_equal(imds_token_fetches(e->imds), 1);
        assert_imdsv2_only(e);
        result_done(&res);
}

static void test_imds_get__token_with_trailing_newline__newline_not_sent(void **state) {
        Env *e = *state;
        Result res = {};

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "tok-nl\r\n", 0);
        fake_http_push(e->http, "GET", NULL, 200, "x", 0);
        assert_int_equal(imds_get(e->imds, "meta-data/ami-id", false, on_done, &res, NULL), 0);
        run_until_quiet(e->event);
        assert_int_equal(res.error, 0);
        assert_string_equal(fake_http_header(e->http, 1, "X-aws-ec2-metadata-token"), "tok-nl");
        result_done(&res);
}

static void test_imds_get__sequential_calls__one_token_put(void **state) {
        Env *e = *state;
        Result res[4] = {};

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "tok", 0);
        for (int i = 0; i < 4; i++) {
                char body[8];
                snprintf(body, sizeof(body), "v%d", i);
                fake_http_push(e->http, "GET", NULL, 200, body, 0);
        }
        for (int i = 0; i < 4; i++) {
                char expected[8];
                assert_int_equal(imds_get(e->imds, "meta-data/placement/region", false, on_done, &res[i], NULL), 0);
                run_until_quiet(e->event);
                snprintf(expected, sizeof(expected), "v%d", i);
                assert_int_equal(res[i].error, 0);
                assert_string_equal(res[i].body, expected);
                result_done(&res[i]);
        }
        assert_int_equal(count_method(e, "PUT"), 1);
        assert_int_equal(count_method(e, "GET"), 4);
        assert_int_equal(imds_token_fetches(e->imds), 1);
        assert_imdsv2_only(e);
}

static void test_imds_get__concurrent_calls__share_one_token_put(void **state) {
        Env *e = *state;
        Result res[5] = {};

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "shared", 0);
        for (int i = 0; i < 5; i++)
                fake_http_push(e->http, "GET", NULL, 200, "ok", 0);
        for (int i = 0; i < 5; i++)
                assert_int_equal(imds_get(e->imds, "meta-data/mac", false, on_done, &res[i], NULL), 0);
        /* Only the token call is out until it answers. */
        assert_int_equal(fake_http_count(e->http), 1);
        run_until_quiet(e->event);

        for (int i = 0; i < 5; i++) {
                assert_int_equal(res[i].calls, 1);
                assert_int_equal(res[i].error, 0);
                assert_string_equal(res[i].body, "ok");
                result_done(&res[i]);
        }
        assert_int_equal(count_method(e, "PUT"), 1);
        assert_int_equal(count_method(e, "GET"), 5);
        for (size_t i = 1; i < 6; i++)
                assert_string_equal(fake_http_header(e->http, i, "X-aws-ec2-metadata-token"), "shared");
        assert_imdsv2_only(e);
}

static void test_imds_get__token_near_ttl__renewed(void **state) {
        Env *e = *state;
        Result res = {};
        /* The client renews 5 minutes before the 6 h TTL ends. */
        const uint64_t renew_after = (IMDS_TOKEN_TTL_SEC - 300) * USEC_PER_SEC;

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "tok-1", 0);
        fake_http_push(e->http, "GET", NULL, 200, "a", 0);
        assert_int_equal(imds_get(e->imds, "meta-data/a", false, on_done, &res, NULL), 0);
        run_until_quiet(e->event);
        assert_int_equal(res.error, 0);

        /* One microsecond before the renewal point: still reused. */
        e->clock.mono += renew_after - 1;
        assert_true(imds_has_token(e->imds));
        fake_http_push(e->http, "GET", NULL, 200, "b", 0);
        assert_int_equal(imds_get(e->imds, "meta-data/b", false, on_done, &res, NULL), 0);
        run_until_quiet(e->event);
        assert_int_equal(res.error, 0);
        assert_int_equal(imds_token_fetches(e->imds), 1);

        /* At the renewal point: a new PUT before the GET. */
        e->clock.mono += 1;
        assert_false(imds_has_token(e->imds));
        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "tok-2", 0);
        fake_http_push(e->http, "GET", NULL, 200, "c", 0);
        assert_int_equal(imds_get(e->imds, "meta-data/c", false, on_done, &res, NULL), 0);
        run_until_quiet(e->event);
        assert_int_equal(res.error, 0);
        assert_string_equal(res.body, "c");
        assert_int_equal(imds_token_fetches(e->imds), 2);
        assert_int_equal(fake_http_count(e->http), 5);
        assert_string_equal(fake_http_get(e->http, 3)->method, "PUT");
        assert_string_equal(fake_http_header(e->http, 4, "X-aws-ec2-metadata-token"), "tok-2");
        assert_imdsv2_only(e);
        result_done(&res);
}

static void test_imds_drop_token__cached__next_get_fetches_new(void **state) {
        Env *e = *state;
        Result res = {};

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "t1", 0);
        fake_http_push(e->http, "GET", NULL, 200, "a", 0);
        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "t2", 0);
        fake_http_push(e->http, "GET", NULL, 200, "b", 0);
        assert_int_equal(imds_get(e->imds, "meta-data/a", false, on_done, &res, NULL), 0);
        run_until_quiet(e->event);
        imds_drop_token(e->imds);
        assert_false(imds_has_token(e->imds));
        assert_int_equal(imds_get(e->imds, "meta-data/b", false, on_done, &res, NULL), 0);
        run_until_quiet(e->event);
        assert_string_equal(res.body, "b");
        assert_string_equal(fake_http_header(e->http, 3, "X-aws-ec2-metadata-token"), "t2");
        assert_int_equal(imds_token_fetches(e->imds), 2);
        result_done(&res);
}

/* ---- 401 handling ---------------------------------------------------- */

static void test_imds_get__401_once__new_token_one_retry_success(void **state) {
        Env *e = *state;
        Result res = {};

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "old", 0);
        fake_http_push(e->http, "GET", NULL, 401, "", 0);
        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "new", 0);
        fake_http_push(e->http, "GET", NULL, 200, "fine", 0);
        assert_int_equal(imds_get(e->imds, "meta-data/local-ipv4", false, on_done, &res, NULL), 0);
        run_until_quiet(e->event);

        assert_int_equal(res.calls, 1);
        assert_int_equal(res.error, 0);
        assert_string_equal(res.body, "fine");
        assert_int_equal(fake_http_count(e->http), 4);
        assert_string_equal(fake_http_get(e->http, 0)->method, "PUT");
        assert_string_equal(fake_http_header(e->http, 1, "X-aws-ec2-metadata-token"), "old");
        assert_string_equal(fake_http_get(e->http, 2)->method, "PUT");
        assert_string_equal(fake_http_header(e->http, 3, "X-aws-ec2-metadata-token"), "new");
        assert_string_equal(fake_http_get(e->http, 3)->url, EP "/latest/meta-data/local-ipv4");
        assert_int_equal(imds_token_fetches(e->imds), 2);
        assert_imdsv2_only(e);
        result_done(&res);
}

static void test_imds_get__401_twice__eacces_no_third_try(void **state) {
        Env *e = *state;
        Result res = {};

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "t1", 0);
        fake_http_push(e->http, "GET", NULL, 401, "", 0);
        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "t2", 0);
        fake_http_push(e->http, "GET", NULL, 401, "", 0);
        fake_http_push(e->http, NULL, NULL, 200, "must not be used", 0);
        assert_int_equal(imds_get(e->imds, "meta-data/x", false, on_done, &res, NULL), 0);
        run_until_quiet(e->event);

        assert_int_equal(res.calls, 1);
        assert_int_equal(res.error, -EACCES);
        assert_null(res.body);
        assert_int_equal(fake_http_count(e->http), 4);
        assert_int_equal(fake_http_pending(e->http), 1);
        assert_imdsv2_only(e);
}

static void test_imds_get__concurrent_401s__share_one_new_token(void **state) {
        Env *e = *state;
        Result res[2] = {};

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "revoked", 0);
        fake_http_push(e->http, "GET", NULL, 401, "", 0);
        fake_http_push(e->http, "GET", NULL, 401, "", 0);
        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "fresh", 0);
        fake_http_push(e->http, "GET", NULL, 200, "a", 0);
        fake_http_push(e->http, "GET", NULL, 200, "b", 0);
        assert_int_equal(imds_get(e->imds, "meta-data/a", false, on_done, &res[0], NULL), 0);
        assert_int_equal(imds_get(e->imds, "meta-data/b", false, on_done, &res[1], NULL), 0);
        run_until_quiet(e->event);

        for (int i = 0; i < 2; i++) {
                assert_int_equal(res[i].calls, 1);
                assert_int_equal(res[i].error, 0);
                result_done(&res[i]);
        }
        assert_int_equal(count_method(e, "PUT"), 2);
        assert_int_equal(count_method(e, "GET"), 4);
        assert_string_equal(fake_http_header(e->http, 4, "X-aws-ec2-metadata-token"), "fresh");
        assert_string_equal(fake_http_header(e->http, 5, "X-aws-ec2-metadata-token"), "fresh");
        assert_imdsv2_only(e);
}

/* ---- status and transport errors ------------------------------------- */

static void test_imds_get__404__enoent_without_retry(void **state) {
        Env *e = *state;
        Result res = {};

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "t", 0);
        fake_http_push(e->http, "GET", NULL, 404, "Not Found", 0);
        assert_int_equal(imds_get(e->imds, "meta-data/tags/instance/", false, on_done, &res, NULL), 0);
        run_until_quiet(e->event);
        assert_int_equal(res.calls, 1);
        assert_int_equal(res.error, -ENOENT);
        assert_null(res.body);
        assert_int_equal(fake_http_count(e->http), 2);
}

static void test_imds_get__other_4xx__ebadmsg_without_retry(void **state) {
        Env *e = *state;
        Result res = {};

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "t", 0);
        fake_http_push(e->http, "GET", NULL, 400, "", 0);
        assert_int_equal(imds_get(e->imds, "meta-data/x", false, on_done, &res, NULL), 0);
        run_until_quiet(e->event);
        assert_int_equal(res.error, -EBADMSG);
        assert_int_equal(fake_http_count(e->http), 2);
}

static void test_imds_get__5xx_then_200__retried_success(void **state) {
        Env *e = *state;
        Result res = {};

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "t", 0);
        fake_http_push(e->http, "GET", NULL, 503, "", 0);
        fake_http_push(e->http, "GET", NULL, 200, "after retry", 0);
        assert_int_equal(imds_get(e->imds, "meta-data/x", false, on_done, &res, NULL), 0);
        run_until_quiet(e->event);
        assert_int_equal(res.calls, 1);
        assert_int_equal(res.error, 0);
        assert_string_equal(res.body, "after retry");
        assert_int_equal(count_method(e, "GET"), 2);
        assert_int_equal(count_method(e, "PUT"), 1);
        assert_imdsv2_only(e);
        result_done(&res);
}

static void test_imds_get__5xx_every_time__ehostdown_after_max_attempts(void **state) {
        Env *e = *state;
        Result res = {};

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "t", 0);
        for (int i = 0; i < 5; i++)
                fake_http_push(e->http, "GET", NULL, 500, "", 0);
        assert_int_equal(imds_get(e->imds, "meta-data/x", false, on_done, &res, NULL), 0);
        run_until_quiet(e->event);
        assert_int_equal(res.calls, 1);
        assert_int_equal(res.error, -EHOSTDOWN);
        assert_int_equal(count_method(e, "GET"), 3);
        assert_imdsv2_only(e);
}

static void test_imds_get__connection_refused__retried_then_ehostdown(void **state) {
        Env *e = *state;
        Result res = {};

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "t", 0);
        fake_http_push(e->http, "GET", NULL, 0, NULL, -ECONNREFUSED);
        fake_http_push(e->http, "GET", NULL, 0, NULL, -ECONNRESET);
        fake_http_push(e->http, "GET", NULL, 0, NULL, -ECONNREFUSED);
        fake_http_push(e->http, "GET", NULL, 200, "never", 0);
        assert_int_equal(imds_get(e->imds, "meta-data/x", false, on_done, &res, NULL), 0);
        run_until_quiet(e->event);
        assert_int_equal(res.calls, 1);
        assert_int_equal(res.error, -EHOSTDOWN);
        assert_int_equal(count_method(e, "GET"), 3);
        assert_int_equal(fake_http_pending(e->http), 1);
}

static void test_imds_get__timeouts__retried_then_etimedout(void **state) {
        Env *e = *state;
        Result res = {};

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "t", 0);
        for (int i = 0; i < 3; i++)
                fake_http_push(e->http, "GET", NULL, 0, NULL, -ETIMEDOUT);
        assert_int_equal(imds_get(e->imds, "meta-data/x", false, on_done, &res, NULL), 0);
        run_until_quiet(e->event);
        assert_int_equal(res.error, -ETIMEDOUT);
        assert_int_equal(count_method(e, "GET"), 3);
}

static void test_imds_get__oversized_answer__e2big_without_retry(void **state) {
        Env *e = *state;
        Result res = {};

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "t", 0);
        fake_http_push(e->http, "GET", NULL, 0, NULL, -E2BIG);
        fake_http_push(e->http, "GET", NULL, 200, "never", 0);
        assert_int_equal(imds_get(e->imds, "meta-data/x", false, on_done, &res, NULL), 0);
        run_until_quiet(e->event);
        assert_int_equal(res.error, -E2BIG);
        assert_int_equal(count_method(e, "GET"), 1);
}

static void test_imds_get__imds_unreachable__ehostdown_and_no_get(void **state) {
        Env *e = *state;
        Result res = {};

        /* Nothing queued: every request is refused. */
        assert_int_equal(imds_get(e->imds, "meta-data/x", false, on_done, &res, NULL), 0);
        run_until_quiet(e->event);
        assert_int_equal(res.calls, 1);
        assert_int_equal(res.error, -EHOSTDOWN);
        assert_int_equal(count_method(e, "PUT"), 3);
        assert_int_equal(count_method(e, "GET"), 0);
        assert_false(imds_has_token(e->imds));
}

static void test_imds_get__token_put_5xx_then_200__get_proceeds(void **state) {
        Env *e = *state;
        Result res = {};

        fake_http_push(e->http, "PUT", TOKEN_PATH, 500, "", 0);
        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "late", 0);
        fake_http_push(e->http, "GET", NULL, 200, "v", 0);
        assert_int_equal(imds_get(e->imds, "meta-data/x", false, on_done, &res, NULL), 0);
        run_until_quiet(e->event);
        assert_int_equal(res.error, 0);
        assert_string_equal(res.body, "v");
        assert_string_equal(fake_http_header(e->http, 2, "X-aws-ec2-metadata-token"), "late");
        assert_imdsv2_only(e);
        result_done(&res);
}

static void test_imds_get__token_put_403__eacces_for_every_waiter(void **state) {
        Env *e = *state;
        Result res[3] = {};

        fake_http_push(e->http, "PUT", TOKEN_PATH, 403, "Forbidden", 0);
        fake_http_push(e->http, NULL, NULL, 200, "must not be used", 0);
        for (int i = 0; i < 3; i++)
                assert_int_equal(imds_get(e->imds, "meta-data/x", false, on_done, &res[i], NULL), 0);
        run_until_quiet(e->event);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(res[i].calls, 1);
                assert_int_equal(res[i].error, -EACCES);
        }
        /* 403 is not retried, and no GET went out without a token. */
        assert_int_equal(fake_http_count(e->http), 1);
        assert_int_equal(count_method(e, "GET"), 0);
        assert_false(imds_has_token(e->imds));
}

static void test_imds_get__empty_token__ebadmsg_and_no_get(void **state) {
        Env *e = *state;
        Result res = {};

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "\n", 0);
        assert_int_equal(imds_get(e->imds, "meta-data/x", false, on_done, &res, NULL), 0);
        run_until_quiet(e->event);
        assert_int_equal(res.error, -EBADMSG);
        assert_int_equal(count_method(e, "GET"), 0);
}

/* A caller that starts a new GET from a failure callback (a retry policy
 * one level up) gets that GET's own result later, not the old error
 * synchronously inside imds_get(). */
typedef struct Chain {
        Env *env;
        Result first;
        Result second;
        int second_started;
} Chain;

static void on_second(int error, const char *body, size_t len, void *userdata) {
        Chain *c = userdata;

        /* Must not run inside the imds_get() that started it. */
        assert_int_equal(c->second_started, 2);
        on_done(error, body, len, &c->second);
}

static void on_first_then_retry(int error, const char *body, size_t len, void *userdata) {
        Chain *c = userdata;

        on_done(error, body, len, &c->first);
        c->second_started = 1;
        assert_int_equal(imds_get(c->env->imds, "meta-data/y", false, on_second, c, NULL), 0);
        c->second_started = 2;
}

static void test_imds_get__get_started_from_failure_callback__gets_own_result(void **state) {
        Env *e = *state;
        Chain c = { .env = e };

        fake_http_push(e->http, "PUT", TOKEN_PATH, 403, "", 0);
        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "second-token", 0);
        fake_http_push(e->http, "GET", "/latest/meta-data/y", 200, "y", 0);
        assert_int_equal(imds_get(e->imds, "meta-data/x", false, on_first_then_retry, &c, NULL), 0);
        run_until_quiet(e->event);

        assert_int_equal(c.first.calls, 1);
        assert_int_equal(c.first.error, -EACCES);
        assert_int_equal(c.second.calls, 1);
        assert_int_equal(c.second.error, 0);
        assert_string_equal(c.second.body, "y");
        assert_imdsv2_only(e);
        result_done(&c.second);
}

/* A transport that cannot take the token PUT: imds_get() says so itself and
 * never calls back from inside (callers store the handle it returns). */
static void test_imds_get__transport_refuses_submit__error_returned_no_callback(void **state) {
        Env *e = *state;
        sd_event *dead = NULL;
        FakeHttp *broken = NULL;
        ImdsClient *c = NULL;
        ImdsRequest *req = (ImdsRequest *) 0x1;
        Result res = {};
        int r;

        /* A fake whose loop has finished: sd-event refuses new sources. */
        assert_int_equal(sd_event_new(&dead), 0);
        assert_int_equal(sd_event_exit(dead, 0), 0);
        assert_int_equal(sd_event_loop(dead), 0);
        assert_int_equal(fake_http_new(dead, &broken), 0);
        assert_int_equal(imds_client_new(&c, e->event, fake_http_transport(broken), &e->clock.clock, NULL), 0);

        r = imds_get(c, "meta-data/x", false, on_done, &res, &req);
        assert_true(r < 0);
        assert_int_equal(res.calls, 0);
        assert_ptr_equal(req, (ImdsRequest *) 0x1);
        run_until_quiet(e->event);
        assert_int_equal(res.calls, 0);

        imds_client_free(c);
        fake_http_free(broken);
        sd_event_unref(dead);
}

/* ---- cancellation ---------------------------------------------------- */

static void test_imds_cancel__waiting_for_token__callback_never_runs(void **state) {
        Env *e = *state;
        Result cancelled = {}, other = {};
        ImdsRequest *req = NULL;

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "t", 0);
        fake_http_push(e->http, "GET", NULL, 200, "other", 0);
        assert_int_equal(imds_get(e->imds, "meta-data/a", false, on_done, &cancelled, &req), 0);
        assert_int_equal(imds_get(e->imds, "meta-data/b", false, on_done, &other, NULL), 0);
        assert_non_null(req);
        imds_cancel(req);
        run_until_quiet(e->event);

        assert_int_equal(cancelled.calls, 0);
        assert_int_equal(other.calls, 1);
        assert_int_equal(other.error, 0);
        assert_int_equal(count_method(e, "GET"), 1);
        assert_string_equal(fake_http_get(e->http, 1)->url, EP "/latest/meta-data/b");
        imds_cancel(NULL);
        result_done(&other);
}

static void test_imds_cancel__get_in_flight__callback_never_runs(void **state) {
        Env *e = *state;
        Result warm = {}, res = {};
        ImdsRequest *req = NULL;

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "t", 0);
        fake_http_push(e->http, "GET", NULL, 200, "warm", 0);
        fake_http_push(e->http, "GET", NULL, 200, "late", 0);
        assert_int_equal(imds_get(e->imds, "meta-data/warm", false, on_done, &warm, NULL), 0);
        run_until_quiet(e->event);
        result_done(&warm);

        /* Token cached: the GET is submitted at once and is in flight. */
        assert_int_equal(imds_get(e->imds, "meta-data/a", false, on_done, &res, &req), 0);
        assert_int_equal(fake_http_in_flight(e->http), 1);
        imds_cancel(req);
        assert_int_equal(fake_http_in_flight(e->http), 0);
        run_until_quiet(e->event);
        assert_int_equal(res.calls, 0);
}

static void test_imds_cancel__during_retry_delay__callback_never_runs(void **state) {
        ImdsConfig config = { .retry_delay_usec = 100 * USEC_PER_MSEC, .max_attempts = 3 };
        Env *e;
        Result res = {};
        ImdsRequest *req = NULL;

        assert_int_equal(env_setup_with(state, &config), 0);
        e = *state;
        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "t", 0);
        fake_http_push(e->http, "GET", NULL, 500, "", 0);
        fake_http_push(e->http, "GET", NULL, 200, "never", 0);
        assert_int_equal(imds_get(e->imds, "meta-data/a", false, on_done, &res, &req), 0);
        /* Run until the 500 came back and the retry timer is armed. */
        for (unsigned i = 0; i < 1000 && fake_http_count(e->http) < 2; i++)
                assert_true(sd_event_run(e->event, 5 * USEC_PER_MSEC) >= 0);
        while (fake_http_in_flight(e->http) > 0)
                assert_true(sd_event_run(e->event, 5 * USEC_PER_MSEC) >= 0);
        assert_int_equal(res.calls, 0);
        imds_cancel(req);
        run_until_quiet(e->event);
        /* Past the moment the retry would have been sent. */
        (void) sd_event_run(e->event, 150 * USEC_PER_MSEC);
        assert_int_equal(res.calls, 0);
        assert_int_equal(count_method(e, "GET"), 1);
}

static void test_imds_client_free__requests_pending__no_callbacks(void **state) {
        Env *e = *state;
        Result res[2] = {};

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "t", 0);
        assert_int_equal(imds_get(e->imds, "meta-data/a", false, on_done, &res[0], NULL), 0);
        assert_int_equal(imds_get(e->imds, "meta-data/b", false, on_done, &res[1], NULL), 0);
        e->imds = imds_client_free(e->imds);
        assert_int_equal(fake_http_in_flight(e->http), 0);
        run_until_quiet(e->event);
        assert_int_equal(res[0].calls + res[1].calls, 0);
}

/* ---- arguments and endpoint ------------------------------------------ */

static void test_imds_get__bad_paths__einval_nothing_sent(void **state) {
        Env *e = *state;
        Result res = {};
        static const char *const bad[] = {
                "/meta-data/x", "meta-data/../user-data", "meta data", "meta-data/x?y", "meta-data/x#y",
                "meta-data/x\n", "..",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (imds_get(e->imds, bad[i], false, on_done, &res, NULL) != -EINVAL)
                        fail_msg("path \"%s\" accepted", bad[i]);
        assert_int_equal(imds_get(e->imds, NULL, false, on_done, &res, NULL), -EINVAL);
        assert_int_equal(imds_get(e->imds, "meta-data/x", false, NULL, &res, NULL), -EINVAL);
        run_until_quiet(e->event);
        assert_int_equal(res.calls, 0);
        assert_int_equal(fake_http_count(e->http), 0);
}

static void test_imds_client_new__custom_endpoint__trailing_slash_dropped(void **state) {
        ImdsConfig config = { .endpoint = "http://127.0.0.1:1338//", .retry_delay_usec = 1 };
        Env *e;
        Result res = {};

        assert_int_equal(env_setup_with(state, &config), 0);
        e = *state;
        fake_http_push(e->http, "PUT", NULL, 200, "t", 0);
        fake_http_push(e->http, "GET", NULL, 200, "v", 0);
        assert_int_equal(imds_get(e->imds, "dynamic/instance-identity/document", false, on_done, &res, NULL), 0);
        run_until_quiet(e->event);
        assert_int_equal(res.error, 0);
        assert_string_equal(fake_http_get(e->http, 0)->url, "http://127.0.0.1:1338/latest/api/token");
        assert_string_equal(fake_http_get(e->http, 1)->url,
                            "http://127.0.0.1:1338/latest/dynamic/instance-identity/document");
        result_done(&res);
}

static void test_imds_client_new__bad_arguments__einval(void **state) {
        Env *e = *state;
        ImdsClient *c = (ImdsClient *) 0x1;
        ImdsConfig bad = { .endpoint = "ftp://169.254.169.254" };

        assert_int_equal(imds_client_new(&c, e->event, fake_http_transport(e->http), NULL, &bad), -EINVAL);
        assert_int_equal(imds_client_new(&c, NULL, fake_http_transport(e->http), NULL, NULL), -EINVAL);
        assert_int_equal(imds_client_new(&c, e->event, NULL, NULL, NULL), -EINVAL);
        assert_ptr_equal(c, (ImdsClient *) 0x1);
        assert_null(imds_client_free(NULL));
}

static void test_imds_endpoint_from_env__variables__honoured(void **state) {
        const char *ep = NULL;
        (void) state;

        unsetenv("AWS_EC2_METADATA_DISABLED");
        unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        assert_int_equal(imds_endpoint_from_env(&ep), 0);
        assert_string_equal(ep, "http://169.254.169.254");

        setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:8111", 1);
        assert_int_equal(imds_endpoint_from_env(&ep), 0);
        assert_string_equal(ep, "http://127.0.0.1:8111");

        setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "", 1);
        assert_int_equal(imds_endpoint_from_env(&ep), 0);
        assert_string_equal(ep, "http://169.254.169.254");

        setenv("AWS_EC2_METADATA_DISABLED", "false", 1);
        assert_int_equal(imds_endpoint_from_env(&ep), 0);
        assert_string_equal(ep, "http://169.254.169.254");

        ep = "untouched";
        setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
        assert_int_equal(imds_endpoint_from_env(&ep), -ENXIO);
        assert_string_equal(ep, "untouched");
        setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
        setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:8111", 1);
        assert_int_equal(imds_endpoint_from_env(&ep), -ENXIO);

        unsetenv("AWS_EC2_METADATA_DISABLED");
        unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
}

#define T(name) cmocka_unit_test_setup_teardown(name, env_setup, env_teardown)
/* Tests that build their own client with a special config. */
#define T_OWN(name) cmocka_unit_test_teardown(name, env_teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_imds_get__first_call__token_put_then_get_with_token),
                T(test_imds_get__token_with_trailing_newline__newline_not_sent),
                T(test_imds_get__sequential_calls__one_token_put),
                T(test_imds_get__concurrent_calls__share_one_token_put),
                T(test_imds_get__token_near_ttl__renewed),
                T(test_imds_drop_token__cached__next_get_fetches_new),
                T(test_imds_get__401_once__new_token_one_retry_success),
                T(test_imds_get__401_twice__eacces_no_third_try),
                T(test_imds_get__concurrent_401s__share_one_new_token),
                T(test_imds_get__404__enoent_without_retry),
                T(test_imds_get__other_4xx__ebadmsg_without_retry),
                T(test_imds_get__5xx_then_200__retried_success),
                T(test_imds_get__5xx_every_time__ehostdown_after_max_attempts),
                T(test_imds_get__connection_refused__retried_then_ehostdown),
                T(test_imds_get__timeouts__retried_then_etimedout),
                T(test_imds_get__oversized_answer__e2big_without_retry),
                T(test_imds_get__imds_unreachable__ehostdown_and_no_get),
                T(test_imds_get__token_put_5xx_then_200__get_proceeds),
                T(test_imds_get__token_put_403__eacces_for_every_waiter),
                T(test_imds_get__empty_token__ebadmsg_and_no_get),
                T(test_imds_get__get_started_from_failure_callback__gets_own_result),
                T(test_imds_get__transport_refuses_submit__error_returned_no_callback),
                T(test_imds_cancel__waiting_for_token__callback_never_runs),
                T(test_imds_cancel__get_in_flight__callback_never_runs),
                T_OWN(test_imds_cancel__during_retry_delay__callback_never_runs),
                T(test_imds_client_free__requests_pending__no_callbacks),
                T(test_imds_get__bad_paths__einval_nothing_sent),
                T_OWN(test_imds_client_new__custom_endpoint__trailing_slash_dropped),
                T(test_imds_client_new__bad_arguments__einval),
                cmocka_unit_test(test_imds_endpoint_from_env__variables__honoured),
        };

        setvbuf(stdout, NULL, _IONBF, 0);
        setvbuf(stderr, NULL, _IONBF, 0);
        return cmocka_run_group_tests_name("imds", tests, NULL, NULL);
}
