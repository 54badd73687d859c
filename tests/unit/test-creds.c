/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/io/creds.c: environment credentials, the instance role
 * from IMDS (on the scripted transport), caching and refresh by a hand-moved
 * CLOCK_REALTIME, and the credential JSON parser. */
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

#include "cdp/creds.h"
#include "cdp/imds.h"
#include "fake-http.h"
#include "test-util.h"

#define T0 1767225600ULL                        /* 2026-01-01T00:00:00Z */
#define EXP1 "2026-01-01T06:00:00Z"
#define EXP1_USEC ((T0 + 6 * 3600) * USEC_PER_SEC)
#define EXP2 "2026-01-01T12:00:00Z"
#define EXP2_USEC ((T0 + 12 * 3600) * USEC_PER_SEC)
#define AKID1 "ASIAEXAMPLEKEY000001"
#define AKID2 "ASIAEXAMPLEKEY000002"
#define ROLE "web-role"
#define LIST_PATH "/latest/meta-data/iam/security-credentials/"
#define ROLE_PATH LIST_PATH ROLE
#define TOKEN_PATH "/latest/api/token"

/* ---- harness --------------------------------------------------------- */

typedef struct Env {
        sd_event *event;
        FakeHttp *http;
        FakeClock clock;
        ImdsClient *imds;
        CredsProvider *creds;
} Env;

static void clear_env_credentials(void) {
        unsetenv("AWS_ACCESS_KEY_ID");
        unsetenv("AWS_SECRET_ACCESS_KEY");
        unsetenv("AWS_SESSION_TOKEN");
}

/* Builds everything but the provider (tests that set the environment first
 * create it themselves). */
static int env_setup_base(void **state) {
        ImdsConfig config = { .retry_delay_usec = 1, .max_attempts = 3 };
        Env *e = calloc(1, sizeof(*e));

        clear_env_credentials();
        if (!e || sd_event_new(&e->event) < 0 || fake_http_new(e->event, &e->http) < 0)
                return -1;
        e->clock = fake_clock_make(500 * USEC_PER_SEC, T0 * USEC_PER_SEC);
        if (imds_client_new(&e->imds, e->event, fake_http_transport(e->http), &e->clock.clock, &config) < 0)
                return -1;
        *state = e;
        return 0;
}

static int env_setup(void **state) {
        Env *e;

        if (env_setup_base(state) < 0)
                return -1;
        e = *state;
        return creds_provider_new(&e->creds, e->event, e->imds, &e->clock.clock) < 0 ? -1 : 0;
}

static int env_teardown(void **state) {
        Env *e = *state;
        bool ok;

        clear_env_credentials();
        if (!e)
                return 0;
        ok = !e->http || fake_http_imds_v2_only(e->http);
        creds_provider_free(e->creds);
        imds_client_free(e->imds);
        fake_http_free(e->http);
        sd_event_unref(e->event);
        free(e);
        return ok ? 0 : -1;
}

typedef struct Result {
        int calls;
        int error;
        Credentials *creds;     /* own reference */
} Result;

static void on_creds(int error, Credentials *creds, void *userdata) {
        Result *r = userdata;

        r->calls++;
        r->error = error;
        credentials_unref(r->creds);
        r->creds = credentials_ref(creds);
        if (error == 0)
                assert_non_null(creds);
        else
                assert_null(creds);
}

static void result_done(Result *r) {
        r->creds = credentials_unref(r->creds);
}

static char *role_json(const char *akid, const char *expiration) {
        char *s = NULL;

        assert_true(asprintf(&s,
                             "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2026-01-01T00:00:00Z\",\n"
                             "  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"%s\",\n"
                             "  \"SecretAccessKey\" : \"wJalrXUtnFEMI/K7MDENG/bPxRfiCY%s\",\n"
                             "  \"Token\" : \"IQoJb3JpZ2luX2VjTOKEN-%s\",\n  \"Expiration\" : \"%s\"\n}",
                             akid, akid + 16, akid + 16, expiration) > 0);
        return s;
}

/* Queues the answers of a first instance-role fetch: token, role, creds. */
static void push_role_fetch(Env *e, const char *akid, const char *expiration) {
        _cleanup_free_ char *json = role_json(akid, expiration);

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "imds-token", 0);
        fake_http_push(e->http, "GET", LIST_PATH, 200, ROLE, 0);
        fake_http_push(e->http, "GET", ROLE_PATH, 200, json, 0);
}

static void push_role_creds(Env *e, const char *akid, const char *expiration) {
        _cleanup_free_ char *json = role_json(akid, expiration);
        fake_http_push(e->http, "GET", ROLE_PATH, 200, json, 0);
}

/* Gets credentials once and runs the loop until the callback ran. */
static void get_creds(Env *e, bool force, Result *res) {
        int before = res->calls;

        assert_int_equal(creds_get(e->creds, force, on_creds, res, NULL), 0);
        assert_int_equal(res->calls, before);    /* never from inside creds_get() */
        run_until_quiet(e->event);
        assert_int_equal(res->calls, before + 1);
}

/* ---- environment ----------------------------------------------------- */

static void test_creds_get__environment__wins_without_http(void **state) {
        Env *e = *state;
        Result res = {};

        setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 1);
        setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLE", 1);
        assert_int_equal(creds_provider_new(&e->creds, e->event, e->imds, &e->clock.clock), 0);
        /* IMDS has answers queued that must never be asked for. */
        push_role_fetch(e, AKID1, EXP1);

        get_creds(e, false, &res);
        assert_int_equal(res.error, 0);
        assert_string_equal(res.creds->access_key_id, "AKIAIOSFODNN7EXAMPLE");
        assert_string_equal(secret_data(res.creds->secret_access_key), "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        assert_non_null(res.creds->session_token);
        assert_string_equal(secret_data(res.creds->session_token), "FwoGZXIvYXdzEXAMPLE");
        assert_int_equal(res.creds->expiration, 0);
        assert_int_equal(creds_source(e->creds), CREDS_SOURCE_ENVIRONMENT);
        assert_string_equal(creds_source_name(e->creds), "environment");
        assert_ptr_equal(creds_peek(e->creds), res.creds);
        assert_int_equal(creds_refresh_due(e->creds), USEC_INFINITY);

        /* Even a forced refresh does not go to IMDS. */
        get_creds(e, true, &res);
        assert_int_equal(res.error, 0);
        assert_int_equal(fake_http_count(e->http), 0);
        result_done(&res);
}

static void test_creds_get__environment_without_token__no_session_token(void **state) {
        Env *e = *state;
        Result res = {};

        setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
        assert_int_equal(creds_provider_new(&e->creds, e->event, NULL, &e->clock.clock), 0);
        get_creds(e, false, &res);
        assert_int_equal(res.error, 0);
        assert_null(res.creds->session_token);
        assert_string_equal(secret_data(res.creds->secret_access_key), "secret");
        result_done(&res);
}

static void test_creds_provider_new__partial_environment__instance_role(void **state) {
        Env *e = *state;
        Result res = {};

        setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "", 1);
        assert_int_equal(creds_provider_new(&e->creds, e->event, e->imds, &e->clock.clock), 0);
        assert_int_equal(creds_source(e->creds), CREDS_SOURCE_INSTANCE_ROLE);
        push_role_fetch(e, AKID1, EXP1);
        get_creds(e, false, &res);
        assert_int_equal(res.error, 0);
        assert_string_equal(res.creds->access_key_id, AKID1);
        result_done(&res);
}

static void test_creds_get__no_source__enokey(void **state) {
        Env *e = *state;
        Result res = {};

        assert_int_equal(creds_provider_new(&e->creds, e->event, NULL, &e->clock.clock), 0);
        assert_int_equal(creds_source(e->creds), CREDS_SOURCE_NONE);
        assert_string_equal(creds_source_name(e->creds), "none");
        get_creds(e, false, &res);
        assert_int_equal(res.error, -ENOKEY);
        assert_null(res.creds);
        assert_null(creds_peek(e->creds));
        assert_int_equal(fake_http_count(e->http), 0);
}

/* ---- instance role --------------------------------------------------- */

static void test_creds_get__instance_role__role_name_then_json(void **state) {
        Env *e = *state;
        Result res = {};

        push_role_fetch(e, AKID1, EXP1);
        assert_int_equal(creds_source(e->creds), CREDS_SOURCE_INSTANCE_ROLE);
        assert_null(creds_peek(e->creds));
        assert_int_equal(creds_refresh_due(e->creds), 0);
        get_creds(e, false, &res);

        assert_int_equal(res.error, 0);
        assert_string_equal(res.creds->access_key_id, AKID1);
        assert_string_equal(secret_data(res.creds->secret_access_key), "wJalrXUtnFEMI/K7MDENG/bPxRfiCY0001");
        assert_string_equal(secret_data(res.creds->session_token), "IQoJb3JpZ2luX2VjTOKEN-0001");
        assert_int_equal(res.creds->expiration, EXP1_USEC);
        assert_string_equal(creds_source_name(e->creds), "instance-role:" ROLE);
        assert_int_equal(creds_refresh_count(e->creds), 1);
        assert_int_equal(creds_refresh_due(e->creds), EXP1_USEC - CREDS_EARLY_REFRESH_USEC);

        assert_int_equal(fake_http_count(e->http), 3);
        assert_string_equal(fake_http_get(e->http, 1)->url, "http://169.254.169.254" LIST_PATH);
        assert_string_equal(fake_http_get(e->http, 2)->url, "http://169.254.169.254" ROLE_PATH);
        assert_non_null(fake_http_header(e->http, 2, "X-aws-ec2-metadata-token"));
        result_done(&res);
}

static void test_creds_get__role_listing_with_several_lines__first_line_used(void **state) {
        Env *e = *state;
        Result res = {};
        _cleanup_free_ char *json = role_json(AKID1, EXP1);

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "t", 0);
        fake_http_push(e->http, "GET", LIST_PATH, 200, ROLE "\nother-role\n", 0);
        fake_http_push(e->http, "GET", ROLE_PATH, 200, json, 0);
        get_creds(e, false, &res);
        assert_int_equal(res.error, 0);
        assert_string_equal(creds_source_name(e->creds), "instance-role:" ROLE);
        result_done(&res);
}

static void test_creds_get__fresh__cached_no_second_fetch(void **state) {
        Env *e = *state;
        Result a = {}, b = {};

        push_role_fetch(e, AKID1, EXP1);
        get_creds(e, false, &a);
        /* Well inside the validity: served from the cache. */
        e->clock.real += 3 * 3600 * USEC_PER_SEC;
        get_creds(e, false, &b);
        assert_int_equal(b.error, 0);
        assert_ptr_equal(a.creds, b.creds);
        assert_ptr_equal(creds_peek(e->creds), a.creds);
        assert_int_equal(fake_http_count(e->http), 3);
        assert_int_equal(creds_refresh_count(e->creds), 1);
        result_done(&a);
        result_done(&b);
}

static void test_creds_get__within_five_minutes_of_expiration__refreshed(void **state) {
        Env *e = *state;
        Result a = {}, b = {};

        push_role_fetch(e, AKID1, EXP1);
        get_creds(e, false, &a);

        /* One second before the margin: still fresh. */
        e->clock.real = EXP1_USEC - CREDS_REFRESH_MARGIN_USEC - USEC_PER_SEC;
        assert_non_null(creds_peek(e->creds));
        get_creds(e, false, &b);
        assert_int_equal(fake_http_count(e->http), 3);

        /* At the margin: due; only the role's JSON is fetched again. */
        e->clock.real = EXP1_USEC - CREDS_REFRESH_MARGIN_USEC;
        assert_null(creds_peek(e->creds));
        push_role_creds(e, AKID2, EXP2);
        get_creds(e, false, &b);
        assert_int_equal(b.error, 0);
        assert_string_equal(b.creds->access_key_id, AKID2);
        assert_int_equal(b.creds->expiration, EXP2_USEC);
        assert_int_equal(fake_http_count(e->http), 4);
        assert_string_equal(fake_http_get(e->http, 3)->url, "http://169.254.169.254" ROLE_PATH);
        assert_int_equal(creds_refresh_count(e->creds), 2);
        assert_int_equal(creds_refresh_due(e->creds), EXP2_USEC - CREDS_EARLY_REFRESH_USEC);
        /* The old set stays alive for whoever still holds it. */
        assert_string_equal(a.creds->access_key_id, AKID1);
        result_done(&a);
        result_done(&b);
}

static void test_creds_get__force_refresh__fetches_even_when_fresh(void **state) {
        Env *e = *state;
        Result a = {}, b = {};

        push_role_fetch(e, AKID1, EXP1);
        get_creds(e, false, &a);
        push_role_creds(e, AKID2, EXP2);
        get_creds(e, true, &b);
        assert_int_equal(b.error, 0);
        assert_string_equal(b.creds->access_key_id, AKID2);
        assert_int_equal(fake_http_count(e->http), 4);
        assert_int_equal(creds_refresh_count(e->creds), 2);
        result_done(&a);
        result_done(&b);
}

/* A waiter that asked for a forced refresh (after RequestExpired) must get
 * the new set, even when a plain request is about to be served the cached
 * one. */
static void test_creds_get__force_while_cached_delivery_pending__gets_new_set(void **state) {
        Env *e = *state;
        Result a = {}, plain = {}, forced = {};

        push_role_fetch(e, AKID1, EXP1);
        get_creds(e, false, &a);
        push_role_creds(e, AKID2, EXP2);
        assert_int_equal(creds_get(e->creds, false, on_creds, &plain, NULL), 0);
        assert_int_equal(creds_get(e->creds, true, on_creds, &forced, NULL), 0);
        run_until_quiet(e->event);

        assert_int_equal(plain.calls, 1);
        assert_int_equal(plain.error, 0);
        assert_int_equal(forced.calls, 1);
        assert_int_equal(forced.error, 0);
        assert_string_equal(forced.creds->access_key_id, AKID2);
        assert_int_equal(fake_http_count(e->http), 4);
        result_done(&a);
        result_done(&plain);
        result_done(&forced);
}

static void test_creds_get__refresh_fails_while_valid__old_set_returned(void **state) {
        Env *e = *state;
        Result a = {}, b = {};

        push_role_fetch(e, AKID1, EXP1);
        get_creds(e, false, &a);
        e->clock.real = EXP1_USEC - 60 * USEC_PER_SEC;     /* due, still valid */
        for (int i = 0; i < 3; i++)
                fake_http_push(e->http, "GET", ROLE_PATH, 500, "", 0);
        get_creds(e, false, &b);
        assert_int_equal(b.error, 0);
        assert_ptr_equal(b.creds, a.creds);
        assert_string_equal(b.creds->access_key_id, AKID1);
        assert_int_equal(fake_http_count(e->http), 6);
        assert_int_equal(creds_refresh_count(e->creds), 1);
        result_done(&a);
        result_done(&b);
}

static void test_creds_get__expired_and_refresh_fails__error(void **state) {
        Env *e = *state;
        Result a = {}, b = {};

        push_role_fetch(e, AKID1, EXP1);
        get_creds(e, false, &a);
        e->clock.real = EXP1_USEC;                          /* expired */
        for (int i = 0; i < 3; i++)
                fake_http_push(e->http, "GET", ROLE_PATH, 500, "", 0);
        get_creds(e, false, &b);
        assert_int_equal(b.error, -EHOSTDOWN);
        assert_null(b.creds);
        assert_null(creds_peek(e->creds));
        result_done(&a);
}

static void test_creds_get__malformed_role_json__ebadmsg(void **state) {
        Env *e = *state;
        Result res = {};

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "t", 0);
        fake_http_push(e->http, "GET", LIST_PATH, 200, ROLE, 0);
        fake_http_push(e->http, "GET", ROLE_PATH, 200, "{\"Code\":\"Success\"", 0);
        get_creds(e, false, &res);
        assert_int_equal(res.error, -EBADMSG);
        assert_null(res.creds);
        assert_int_equal(creds_refresh_count(e->creds), 0);
}

static void test_creds_get__no_role_attached__enokey(void **state) {
        Env *e = *state;
        Result res = {};

        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "t", 0);
        fake_http_push(e->http, "GET", LIST_PATH, 404, "", 0);
        get_creds(e, false, &res);
        assert_int_equal(res.error, -ENOKEY);
        assert_null(res.creds);
        assert_int_equal(fake_http_count(e->http), 2);
}

static void test_creds_get__role_replaced__rediscovered(void **state) {
        Env *e = *state;
        Result a = {}, b = {}, c = {};
        _cleanup_free_ char *json = role_json(AKID2, EXP2);

        push_role_fetch(e, AKID1, EXP1);
        get_creds(e, false, &a);
        /* The instance profile now carries another role: the old path is 404. */
        fake_http_push(e->http, "GET", ROLE_PATH, 404, "", 0);
        e->clock.real = EXP1_USEC - 60 * USEC_PER_SEC;
        get_creds(e, true, &b);
        /* Still valid: the old set is kept. */
        assert_int_equal(b.error, 0);
        assert_string_equal(b.creds->access_key_id, AKID1);

        fake_http_push(e->http, "GET", LIST_PATH, 200, "new-role", 0);
        fake_http_push(e->http, "GET", LIST_PATH "new-role", 200, json, 0);
        get_creds(e, true, &c);
        assert_int_equal(c.error, 0);
        assert_string_equal(c.creds->access_key_id, AKID2);
        assert_string_equal(creds_source_name(e->creds), "instance-role:new-role");
        result_done(&a);
        result_done(&b);
        result_done(&c);
}

static void test_creds_get__bad_role_name__ebadmsg(void **state) {
        static const char *const bad[] = { "", "\n", "role/with/slash", "role with space",
                "a-role-name-that-is-longer-than-sixty-four-characters-which-iam-refuses" };
        Env *e = *state;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Result res = {};
                size_t before = fake_http_count(e->http);

                imds_drop_token(e->imds);
                fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "t", 0);
                fake_http_push(e->http, "GET", LIST_PATH, 200, bad[i], 0);
                get_creds(e, false, &res);
                if (res.error != -EBADMSG)
                        fail_msg("role name \"%s\": error %d", bad[i], res.error);
                /* Nothing fetched under a bad name. */
                assert_int_equal(fake_http_count(e->http), before + 2);
        }
}

static void test_creds_get__concurrent__share_one_fetch(void **state) {
        Env *e = *state;
        Result res[4] = {};

        push_role_fetch(e, AKID1, EXP1);
        for (int i = 0; i < 4; i++)
                assert_int_equal(creds_get(e->creds, false, on_creds, &res[i], NULL), 0);
        run_until_quiet(e->event);
        for (int i = 0; i < 4; i++) {
                assert_int_equal(res[i].calls, 1);
                assert_int_equal(res[i].error, 0);
                assert_ptr_equal(res[i].creds, res[0].creds);
        }
        assert_int_equal(fake_http_count(e->http), 3);
        assert_int_equal(creds_refresh_count(e->creds), 1);
        for (int i = 0; i < 4; i++)
                result_done(&res[i]);
}

static void test_creds_cancel__waiting__callback_never_runs(void **state) {
        Env *e = *state;
        Result cancelled = {}, kept = {};
        CredsWaiter *w = NULL;

        push_role_fetch(e, AKID1, EXP1);
        assert_int_equal(creds_get(e->creds, false, on_creds, &cancelled, &w), 0);
        assert_int_equal(creds_get(e->creds, false, on_creds, &kept, NULL), 0);
        assert_non_null(w);
        creds_cancel(e->creds, w);
        creds_cancel(e->creds, NULL);
        run_until_quiet(e->event);
        assert_int_equal(cancelled.calls, 0);
        assert_int_equal(kept.calls, 1);
        assert_int_equal(kept.error, 0);
        result_done(&kept);
}

static void test_creds_cancel__only_waiter__fetch_still_installs(void **state) {
        Env *e = *state;
        Result cancelled = {};
        CredsWaiter *w = NULL;

        push_role_fetch(e, AKID1, EXP1);
        assert_int_equal(creds_get(e->creds, false, on_creds, &cancelled, &w), 0);
        creds_cancel(e->creds, w);
        run_until_quiet(e->event);
        assert_int_equal(cancelled.calls, 0);
        assert_non_null(creds_peek(e->creds));
        assert_string_equal(creds_peek(e->creds)->access_key_id, AKID1);
}

/* A callback that cancels a waiter still queued behind it. */
typedef struct CancelOther {
        CredsProvider *p;
        CredsWaiter *victim;
        int calls;
} CancelOther;

static void on_cancel_other(int error, Credentials *creds, void *userdata) {
        CancelOther *c = userdata;

        (void) error;
        (void) creds;
        c->calls++;
        creds_cancel(c->p, c->victim);
}

static void test_creds_cancel__from_another_callback__victim_not_called(void **state) {
        Env *e = *state;
        Result victim = {};
        CancelOther first = { .p = e->creds };

        push_role_fetch(e, AKID1, EXP1);
        /* Waiters are served newest first: register the victim first. */
        assert_int_equal(creds_get(e->creds, false, on_creds, &victim, &first.victim), 0);
        assert_int_equal(creds_get(e->creds, false, on_cancel_other, &first, NULL), 0);
        run_until_quiet(e->event);
        assert_int_equal(first.calls, 1);
        assert_int_equal(victim.calls, 0);
}

static void test_creds_provider_free__fetch_in_flight__no_callback(void **state) {
        Env *e = *state;
        Result res = {};

        push_role_fetch(e, AKID1, EXP1);
        assert_int_equal(creds_get(e->creds, false, on_creds, &res, NULL), 0);
        run_until_quiet(e->event);
        result_done(&res);
        e->clock.real = EXP1_USEC;
        push_role_creds(e, AKID2, EXP2);
        assert_int_equal(creds_get(e->creds, false, on_creds, &res, NULL), 0);
        e->creds = creds_provider_free(e->creds);
        run_until_quiet(e->event);
        assert_int_equal(res.calls, 1);
}

/* ---- Credentials objects and the JSON parser -------------------------- */

static void test_credentials_new__bad_input__einval(void **state) {
        Credentials *c = (Credentials *) 0x1;

        char long_id[130];

        memset(long_id, 'A', 129);
        long_id[129] = '\0';
        /* Key ids go into the Authorization header: no separators, no blanks. */
        assert_int_equal(credentials_new(&c, "AKIAIOSFODNN7EXAMPL/", "s", 1, NULL, 0, 0), -EINVAL);
        assert_int_equal(credentials_new(&c, "AKIAIOSFODNN7,EXAMPLE", "s", 1, NULL, 0, 0), -EINVAL);
        assert_int_equal(credentials_new(&c, "AKIA IOSFODNN7EXAMPLE", "s", 1, NULL, 0, 0), -EINVAL);
        assert_int_equal(credentials_new(&c, "AKIAIOSFODNN7EXAMPLE\r\n", "s", 1, NULL, 0, 0), -EINVAL);
        assert_int_equal(credentials_new(&c, "", "s", 1, NULL, 0, 0), -EINVAL);
        assert_int_equal(credentials_new(&c, long_id, "s", 1, NULL, 0, 0), -EINVAL);
        assert_int_equal(credentials_new(&c, "AKIAIOSFODNN7EXAMPLE", "", 0, NULL, 0, 0), -EINVAL);
        assert_int_equal(credentials_new(&c, "AKIAIOSFODNN7EXAMPLE", NULL, 3, NULL, 0, 0), -EINVAL);
        assert_int_equal(credentials_new(&c, NULL, "s", 1, NULL, 0, 0), -EINVAL);
        assert_ptr_equal(c, (Credentials *) 0x1);
        (void) state;
}

static void test_credentials_ref__counted__freed_on_last_unref(void **state) {
        Credentials *c = NULL;
        (void) state;

        assert_int_equal(credentials_new(&c, "AKIAIOSFODNN7EXAMPLE", "sec", 3, "tok", 3, 42), 0);
        assert_int_equal(c->n_ref, 1);
        assert_ptr_equal(credentials_ref(c), c);
        assert_int_equal(c->n_ref, 2);
        assert_null(credentials_unref(c));
        assert_int_equal(c->n_ref, 1);
        assert_string_equal(secret_data(c->session_token), "tok");
        assert_int_equal(c->expiration, 42);
        assert_null(credentials_unref(c));
        assert_null(credentials_ref(NULL));
        assert_null(credentials_unref(NULL));
}

static void test_credentials_parse_imds_json__valid__fields(void **state) {
        _cleanup_(credentials_unrefp) Credentials *c = NULL;
        _cleanup_free_ char *json = role_json(AKID1, "2026-01-01T09:00:00+09:00");
        (void) state;

        assert_int_equal(credentials_parse_imds_json(json, strlen(json), &c), 0);
        assert_string_equal(c->access_key_id, AKID1);
        assert_string_equal(secret_data(c->secret_access_key), "wJalrXUtnFEMI/K7MDENG/bPxRfiCY0001");
        assert_string_equal(secret_data(c->session_token), "IQoJb3JpZ2luX2VjTOKEN-0001");
        assert_int_equal(c->expiration, T0 * USEC_PER_SEC);
        assert_int_equal(c->n_ref, 1);
}

static void test_credentials_parse_imds_json__malformed__ebadmsg(void **state) {
#define OK_FIELDS "\"AccessKeyId\":\"" AKID1 "\",\"SecretAccessKey\":\"s3cr3t\",\"Token\":\"tok\",\"Expiration\":\"" EXP1 "\""
        static const char *const bad[] = {
                "{\"Code\":\"Failure\"," OK_FIELDS "}",
                "{\"Code\":\"success\"," OK_FIELDS "}",
                "{" OK_FIELDS "}",
                "{\"Code\":1," OK_FIELDS "}",
                "{\"Code\":\"Success\",\"SecretAccessKey\":\"s\",\"Token\":\"t\",\"Expiration\":\"" EXP1 "\"}",
                "{\"Code\":\"Success\",\"AccessKeyId\":\"" AKID1 "\",\"Token\":\"t\",\"Expiration\":\"" EXP1 "\"}",
                "{\"Code\":\"Success\",\"AccessKeyId\":\"" AKID1 "\",\"SecretAccessKey\":\"\",\"Token\":\"t\",\"Expiration\":\"" EXP1 "\"}",
                "{\"Code\":\"Success\",\"AccessKeyId\":\"" AKID1 "\",\"SecretAccessKey\":\"s\",\"Expiration\":\"" EXP1 "\"}",
                "{\"Code\":\"Success\",\"AccessKeyId\":\"" AKID1 "\",\"SecretAccessKey\":\"s\",\"Token\":\"\",\"Expiration\":\"" EXP1 "\"}",
                "{\"Code\":\"Success\",\"AccessKeyId\":\"" AKID1 "\",\"SecretAccessKey\":\"s\",\"Token\":\"t\"}",
                "{\"Code\":\"Success\",\"AccessKeyId\":\"" AKID1 "\",\"SecretAccessKey\":\"s\",\"Token\":\"t\",\"Expiration\":\"tomorrow\"}",
                "{\"Code\":\"Success\",\"AccessKeyId\":\"" AKID1 "\",\"SecretAccessKey\":\"s\",\"Token\":\"t\",\"Expiration\":\"2026-02-30T00:00:00Z\"}",
                "{\"Code\":\"Success\",\"AccessKeyId\":\"" AKID1 "\",\"SecretAccessKey\":\"s\",\"Token\":\"t\",\"Expiration\":1767225600}",
                "{\"Code\":\"Success\",\"AccessKeyId\":\"key-id/with:separators\",\"SecretAccessKey\":\"s\",\"Token\":\"t\",\"Expiration\":\"" EXP1 "\"}",
                "{\"Code\":\"Success\",\"AccessKeyId\":[\"" AKID1 "\"],\"SecretAccessKey\":\"s\",\"Token\":\"t\",\"Expiration\":\"" EXP1 "\"}",
                "{\"Code\":\"Success\"," OK_FIELDS "} junk",
                "{\"Code\":\"Success\"," OK_FIELDS "}{}",
                "{\"Code\":\"Success\"," OK_FIELDS,
                "[{\"Code\":\"Success\"," OK_FIELDS "}]",
                "\"Success\"",
                "null",
                "42",
                "",
        };
#undef OK_FIELDS
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Credentials *c = (Credentials *) 0x1;
                int r = credentials_parse_imds_json(bad[i], strlen(bad[i]), &c);
                if (r != -EBADMSG)
                        fail_msg("case %zu (%s): %d", i, bad[i], r);
                assert_ptr_equal(c, (Credentials *) 0x1);
        }
}

static void test_credentials_parse_imds_json__oversize_or_embedded_nul__ebadmsg(void **state) {
        _cleanup_free_ char *json = role_json(AKID1, EXP1), *big = NULL;
        Credentials *c = (Credentials *) 0x1;
        size_t n = strlen(json);
        (void) state;

        big = calloc(1, IMDS_MAX_BODY + 2);
        assert_non_null(big);
        memcpy(big, json, n);
        memset(big + n, ' ', IMDS_MAX_BODY + 1 - n);
        assert_int_equal(credentials_parse_imds_json(big, IMDS_MAX_BODY + 1, &c), -EBADMSG);
        /* A length that stops inside the document: truncated. */
        assert_int_equal(credentials_parse_imds_json(json, n - 1, &c), -EBADMSG);
        /* A length past a NUL: the rest is not JSON. */
        memcpy(big, json, n + 1);
        big[n + 1] = '}';
        assert_int_equal(credentials_parse_imds_json(big, n + 2, &c), -EBADMSG);
        assert_ptr_equal(c, (Credentials *) 0x1);
        assert_int_equal(credentials_parse_imds_json(NULL, 3, &c), -EINVAL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, env_setup, env_teardown)
/* Tests that build the provider themselves (after setting the environment). */
#define T_BASE(name) cmocka_unit_test_setup_teardown(name, env_setup_base, env_teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T_BASE(test_creds_get__environment__wins_without_http),
                T_BASE(test_creds_get__environment_without_token__no_session_token),
                T_BASE(test_creds_provider_new__partial_environment__instance_role),
                T_BASE(test_creds_get__no_source__enokey),
                T(test_creds_get__instance_role__role_name_then_json),
                T(test_creds_get__role_listing_with_several_lines__first_line_used),
                T(test_creds_get__fresh__cached_no_second_fetch),
                T(test_creds_get__within_five_minutes_of_expiration__refreshed),
                T(test_creds_get__force_refresh__fetches_even_when_fresh),
                T(test_creds_get__force_while_cached_delivery_pending__gets_new_set),
                T(test_creds_get__refresh_fails_while_valid__old_set_returned),
                T(test_creds_get__expired_and_refresh_fails__error),
                T(test_creds_get__malformed_role_json__ebadmsg),
                T(test_creds_get__no_role_attached__enokey),
                T(test_creds_get__role_replaced__rediscovered),
                T(test_creds_get__bad_role_name__ebadmsg),
                T(test_creds_get__concurrent__share_one_fetch),
                T(test_creds_cancel__waiting__callback_never_runs),
                T(test_creds_cancel__only_waiter__fetch_still_installs),
                T(test_creds_cancel__from_another_callback__victim_not_called),
                T(test_creds_provider_free__fetch_in_flight__no_callback),
                cmocka_unit_test(test_credentials_new__bad_input__einval),
                cmocka_unit_test(test_credentials_ref__counted__freed_on_last_unref),
                cmocka_unit_test(test_credentials_parse_imds_json__valid__fields),
                cmocka_unit_test(test_credentials_parse_imds_json__malformed__ebadmsg),
                cmocka_unit_test(test_credentials_parse_imds_json__oversize_or_embedded_nul__ebadmsg),
        };

        setvbuf(stdout, NULL, _IONBF, 0);
        setvbuf(stderr, NULL, _IONBF, 0);
        return cmocka_run_group_tests_name("creds", tests, NULL, NULL);
}
