/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/io/tags.c: the instance's tags from IMDS
 * tags/instance/, the DescribeTags fallback (all pages), and TagList helpers.
 * IMDS and EC2 both run on the scripted transport. */
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
#include "cdp/ec2.h"
#include "cdp/imds.h"
#include "cdp/tags.h"
#include "fake-http.h"
#include "test-util.h"

#define IID "i-0123456789abcdef0"
#define EP "http://169.254.169.254"
#define LISTING "/latest/meta-data/tags/instance/"
#define TOKEN_PATH "/latest/api/token"

/* ---- harness --------------------------------------------------------- */

typedef struct Env {
        sd_event *event;
        FakeHttp *http;
        FakeClock clock;
        ImdsClient *imds;
        CredsProvider *creds;
        Ec2Client *ec2;
} Env;

static int env_setup(void **state) {
        ImdsConfig ic = { .retry_delay_usec = 1, .max_attempts = 3 };
        Ec2ClientConfig ec = { .region = "ap-northeast-1", .max_attempts = 3, .base_delay_usec = 1000,
                               .throttle_delay_usec = 1000, .max_delay_usec = 5000 };
        Env *e = calloc(1, sizeof(*e));

        unsetenv("AWS_ENDPOINT_URL");
        unsetenv("AWS_ENDPOINT_URL_EC2");
        unsetenv("AWS_SESSION_TOKEN");
        setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 1);
        if (!e || sd_event_new(&e->event) < 0 || fake_http_new(e->event, &e->http) < 0)
                return -1;
        *state = e;
        e->clock = fake_clock_make(100 * USEC_PER_SEC, 1767225600ULL * USEC_PER_SEC);
        if (imds_client_new(&e->imds, e->event, fake_http_transport(e->http), &e->clock.clock, &ic) < 0 ||
            creds_provider_new(&e->creds, e->event, e->imds, &e->clock.clock) < 0 ||
            ec2_client_new(&e->ec2, e->event, fake_http_transport(e->http), e->creds, &e->clock.clock, &ec) < 0)
                return -1;
        unsetenv("AWS_ACCESS_KEY_ID");
        unsetenv("AWS_SECRET_ACCESS_KEY");
        return 0;
}

static int env_teardown(void **state) {
        Env *e = *state;
        bool ok;

        if (!e)
                return 0;
        ok = !e->http || fake_http_imds_v2_only(e->http);
        ec2_client_free(e->ec2);
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
        TagList *tags;
        char *detail;
} Result;

static void on_tags(int error, TagList *tags, const char *detail, void *userdata) {
        Result *r = userdata;

        r->calls++;
        r->error = error;
        tag_list_free(r->tags);
        r->tags = tags;
        free(r->detail);
        r->detail = detail ? strdup(detail) : NULL;
        if (error == 0)
                assert_non_null(tags);
        else
                assert_null(tags);
}

static void result_done(Result *r) {
        tag_list_free(r->tags);
        free(r->detail);
        *r = (Result) {};
}

static void fetch(Env *e, bool with_imds, Result *res) {
        assert_int_equal(tag_fetch_start(with_imds ? e->imds : NULL, e->ec2, IID, on_tags, res, NULL), 0);
        assert_int_equal(res->calls, 0);
        run_until_quiet(e->event);
        assert_int_equal(res->calls, 1);
}

static void push_token(Env *e) {
        fake_http_push(e->http, "PUT", TOKEN_PATH, 200, "tok", 0);
}

/* Queues the value of one tag under its URL-encoded key. */
static void push_value(Env *e, const char *encoded_key, long status, const char *value) {
        _cleanup_free_ char *suffix = NULL;

        assert_true(asprintf(&suffix, LISTING "%s", encoded_key) > 0);
        fake_http_push(e->http, "GET", suffix, status, value, 0);
}

/* A DescribeTags page; kv holds key/value pairs; rid NULL = IID. */
static char *tags_page(const char *next_token, const char *const *kv, size_t n_pairs, const char *rid) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(0);

        assert_int_equal(strbuf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                         "<DescribeTagsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
                                         "<requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId><tagSet>"),
                         0);
        for (size_t i = 0; i < n_pairs; i++)
                assert_int_equal(strbuf_printf(&b,
                                               "<item><resourceId>%s</resourceId><resourceType>instance</resourceType>"
                                               "<key>%s</key><value>%s</value></item>",
                                               rid ? rid : IID, kv[2 * i], kv[2 * i + 1]),
                                 0);
        assert_int_equal(strbuf_puts(&b, "</tagSet>"), 0);
        if (next_token)
                assert_int_equal(strbuf_printf(&b, "<nextToken>%s</nextToken>", next_token), 0);
        assert_int_equal(strbuf_puts(&b, "</DescribeTagsResponse>"), 0);
        return strbuf_steal(&b);
}

static void push_page(Env *e, const char *next_token, const char *const *kv, size_t n_pairs, const char *rid) {
        _cleanup_free_ char *xml = tags_page(next_token, kv, n_pairs, rid);
        fake_http_push(e->http, "POST", NULL, 200, xml, 0);
}

static size_t count_method(const Env *e, const char *method) {
        size_t n = 0;
        for (size_t i = 0; i < fake_http_count(e->http); i++)
                n += strcmp(fake_http_get(e->http, i)->method, method) == 0;
        return n;
}

static bool was_requested(const Env *e, const char *url) {
        for (size_t i = 0; i < fake_http_count(e->http); i++)
                if (strcmp(fake_http_get(e->http, i)->url, url) == 0)
                        return true;
        return false;
}

/* ---- IMDS ------------------------------------------------------------ */

static void test_tag_fetch__imds_listing__values_assembled_sorted(void **state) {
        Env *e = *state;
        Result res = {};

        push_token(e);
        fake_http_push(e->http, "GET", LISTING, 200, "Name\ncdp:snapshot\nOwner", 0);
        push_value(e, "Name", 200, "web-1");
        push_value(e, "cdp:snapshot", 200, "@daily");
        push_value(e, "Owner", 200, "");
        fetch(e, true, &res);

        assert_int_equal(res.error, 0);
        assert_null(res.detail);
        assert_int_equal(res.tags->source, TAG_SOURCE_IMDS);
        assert_int_equal(res.tags->n, 3);
        /* Sorted by key (bytewise: upper case first). */
        assert_string_equal(res.tags->keys[0], "Name");
        assert_string_equal(res.tags->values[0], "web-1");
        assert_string_equal(res.tags->keys[1], "Owner");
        assert_string_equal(res.tags->values[1], "");
        assert_string_equal(res.tags->keys[2], "cdp:snapshot");
        assert_string_equal(res.tags->values[2], "@daily");
        assert_string_equal(tag_list_get(res.tags, "cdp:snapshot"), "@daily");

        assert_true(was_requested(e, EP LISTING));
        assert_true(was_requested(e, EP LISTING "cdp:snapshot"));
        assert_int_equal(count_method(e, "GET"), 4);
        assert_int_equal(count_method(e, "POST"), 0);
        assert_int_equal(fake_http_pending(e->http), 0);
        result_done(&res);
}

static void test_tag_fetch__key_with_space_and_utf8__percent_encoded_in_url(void **state) {
        Env *e = *state;
        Result res = {};

        push_token(e);
        fake_http_push(e->http, "GET", LISTING, 200, "My Key\ncaf\xc3\xa9\n100%", 0);
        push_value(e, "My%20Key", 200, "a value with spaces");
        push_value(e, "caf%C3%A9", 200, "cr\xc3\xa8me");
        push_value(e, "100%25", 200, "pct");
        fetch(e, true, &res);

        assert_int_equal(res.error, 0);
        assert_int_equal(res.tags->n, 3);
        assert_string_equal(tag_list_get(res.tags, "My Key"), "a value with spaces");
        assert_string_equal(tag_list_get(res.tags, "caf\xc3\xa9"), "cr\xc3\xa8me");
        assert_string_equal(tag_list_get(res.tags, "100%"), "pct");
        assert_true(was_requested(e, EP LISTING "My%20Key"));
        assert_true(was_requested(e, EP LISTING "caf%C3%A9"));
        assert_true(was_requested(e, EP LISTING "100%25"));
        result_done(&res);
}

static void test_tag_fetch__listing_trailing_newline__no_empty_key(void **state) {
        Env *e = *state;
        Result res = {};

        push_token(e);
        fake_http_push(e->http, "GET", LISTING, 200, "a\nb\n", 0);
        push_value(e, "a", 200, "1");
        push_value(e, "b", 200, "2");
        fetch(e, true, &res);
        assert_int_equal(res.error, 0);
        assert_int_equal(res.tags->n, 2);
        assert_int_equal(count_method(e, "GET"), 3);
        result_done(&res);
}

static void test_tag_fetch__empty_listing__no_tags_from_imds(void **state) {
        Env *e = *state;
        Result res = {};

        push_token(e);
        fake_http_push(e->http, "GET", LISTING, 200, "", 0);
        fetch(e, true, &res);
        assert_int_equal(res.error, 0);
        assert_int_equal(res.tags->n, 0);
        assert_int_equal(res.tags->source, TAG_SOURCE_IMDS);
        assert_int_equal(count_method(e, "POST"), 0);
        result_done(&res);
}

static void test_tag_fetch__tag_removed_after_listing__skipped(void **state) {
        Env *e = *state;
        Result res = {};

        push_token(e);
        fake_http_push(e->http, "GET", LISTING, 200, "Name\nGone\nEnv", 0);
        push_value(e, "Name", 200, "web-1");
        push_value(e, "Gone", 404, "");
        push_value(e, "Env", 200, "prod");
        fetch(e, true, &res);
        assert_int_equal(res.error, 0);
        assert_int_equal(res.tags->n, 2);
        assert_null(tag_list_get(res.tags, "Gone"));
        assert_string_equal(tag_list_get(res.tags, "Env"), "prod");
        result_done(&res);
}

static void test_tag_fetch__value_error__error_with_detail(void **state) {
        Env *e = *state;
        Result res = {};

        push_token(e);
        fake_http_push(e->http, "GET", LISTING, 200, "Name\nOwner", 0);
        push_value(e, "Name", 200, "web-1");
        push_value(e, "Owner", 400, "");
        fetch(e, true, &res);
        assert_int_equal(res.error, -EBADMSG);
        assert_null(res.tags);
        assert_non_null(res.detail);
        assert_non_null(strstr(res.detail, "IMDS tags/instance/Owner"));
        assert_non_null(strstr(res.detail, strerror(EBADMSG)));
        /* No fallback to DescribeTags on an IMDS failure. */
        assert_int_equal(count_method(e, "POST"), 0);
        result_done(&res);
}

static void test_tag_fetch__imds_down__error_with_detail(void **state) {
        Env *e = *state;
        Result res = {};

        /* Nothing queued: IMDS refuses every connection. */
        fetch(e, true, &res);
        assert_int_equal(res.error, -EHOSTDOWN);
        assert_null(res.tags);
        assert_non_null(res.detail);
        assert_non_null(strstr(res.detail, "IMDS tags/instance/"));
        assert_int_equal(count_method(e, "POST"), 0);
        result_done(&res);
}

static void test_tag_fetch__exactly_tags_max__accepted(void **state) {
        Env *e = *state;
        _cleanup_strbuf_ StrBuf listing = STRBUF_INIT(0);
        Result res = {};

        for (unsigned i = 0; i < TAGS_MAX; i++)
                assert_int_equal(strbuf_printf(&listing, "%sk%02u", i ? "\n" : "", i), 0);
        push_token(e);
        fake_http_push(e->http, "GET", LISTING, 200, listing.data, 0);
        for (unsigned i = 0; i < TAGS_MAX; i++)
                fake_http_push(e->http, "GET", NULL, 200, "v", 0);
        fetch(e, true, &res);
        assert_int_equal(res.error, 0);
        assert_int_equal(res.tags->n, TAGS_MAX);
        assert_string_equal(res.tags->keys[0], "k00");
        assert_string_equal(res.tags->keys[TAGS_MAX - 1], "k63");
        result_done(&res);
}

static void test_tag_fetch__imds_lists_more_than_tags_max__e2big(void **state) {
        Env *e = *state;
        _cleanup_strbuf_ StrBuf listing = STRBUF_INIT(0);
        Result res = {};

        for (unsigned i = 0; i <= TAGS_MAX; i++)
                assert_int_equal(strbuf_printf(&listing, "%sk%02u", i ? "\n" : "", i), 0);
        push_token(e);
        fake_http_push(e->http, "GET", LISTING, 200, listing.data, 0);
        fetch(e, true, &res);
        assert_int_equal(res.error, -E2BIG);
        assert_null(res.tags);
        assert_non_null(res.detail);
        assert_int_equal(count_method(e, "GET"), 1);
        result_done(&res);
}

/* ---- DescribeTags ----------------------------------------------------- */

static void test_tag_fetch__listing_404__describe_tags_all_pages(void **state) {
        Env *e = *state;
        static const char *const page1[] = { "Name", "web-1", "cdp:snapshot", "@daily" };
        static const char *const page2[] = { "Owner", "ops &amp; dev" };
        static const char *const other[] = { "Name", "someone-else" };
        const char *body1, *body2;
        Result res = {};

        push_token(e);
        fake_http_push(e->http, "GET", LISTING, 404, "", 0);
        push_page(e, "page-2-token", page1, 2, NULL);
        push_page(e, NULL, page2, 1, NULL);
        /* Never reached: the second page has no nextToken. */
        push_page(e, NULL, other, 1, "i-0ffffffffffffffff");
        fetch(e, true, &res);

        assert_int_equal(res.error, 0);
        assert_null(res.detail);
        assert_int_equal(res.tags->source, TAG_SOURCE_API);
        assert_int_equal(res.tags->n, 3);
        assert_string_equal(res.tags->keys[0], "Name");
        assert_string_equal(res.tags->keys[1], "Owner");
        assert_string_equal(res.tags->values[1], "ops & dev");
        assert_string_equal(res.tags->keys[2], "cdp:snapshot");

        assert_int_equal(count_method(e, "POST"), 2);
        assert_int_equal(fake_http_pending(e->http), 1);
        body1 = fake_http_get(e->http, 2)->body;
        body2 = fake_http_get(e->http, 3)->body;
        assert_true(strncmp(body1, "Action=DescribeTags&Version=2016-11-15&", 39) == 0);
        assert_non_null(strstr(body1, "Filter.1.Name=resource-id&Filter.1.Value.1=" IID));
        assert_null(strstr(body1, "NextToken"));
        assert_non_null(strstr(body2, "Filter.1.Name=resource-id&Filter.1.Value.1=" IID));
        assert_non_null(strstr(body2, "&NextToken=page-2-token"));
        assert_string_equal(fake_http_get(e->http, 2)->url, "https://ec2.ap-northeast-1.amazonaws.com");
        result_done(&res);
}

static void test_tag_fetch__describe_tags_other_resource__ignored(void **state) {
        Env *e = *state;
        static const char *const mine[] = { "Name", "web-1" };
        static const char *const theirs[] = { "Name", "not-me", "Extra", "x" };
        _cleanup_strbuf_ StrBuf xml = STRBUF_INIT(0);
        _cleanup_free_ char *p1 = tags_page(NULL, mine, 1, NULL), *p2 = tags_page(NULL, theirs, 2, "i-0aaaaaaaaaaaaaaaa");
        Result res = {};

        /* One page holding items of two instances. */
        assert_int_equal(strbuf_append(&xml, p1, strstr(p1, "</tagSet>") - p1), 0);
        assert_int_equal(strbuf_puts(&xml, strstr(p2, "<item>")), 0);
        fake_http_push(e->http, "POST", NULL, 200, xml.data, 0);
        fetch(e, false, &res);
        assert_int_equal(res.error, 0);
        assert_int_equal(res.tags->n, 1);
        assert_string_equal(tag_list_get(res.tags, "Name"), "web-1");
        result_done(&res);
}

static void test_tag_fetch__no_imds__describe_tags_directly(void **state) {
        Env *e = *state;
        static const char *const kv[] = { "Name", "bastion" };
        Result res = {};

        push_page(e, NULL, kv, 1, NULL);
        fetch(e, false, &res);
        assert_int_equal(res.error, 0);
        assert_int_equal(res.tags->source, TAG_SOURCE_API);
        assert_string_equal(tag_list_get(res.tags, "Name"), "bastion");
        assert_int_equal(fake_http_count(e->http), 1);
        assert_int_equal(count_method(e, "POST"), 1);
        result_done(&res);
}

static void test_tag_fetch__describe_tags_denied__detail_names_call_and_code(void **state) {
        Env *e = *state;
        Result res = {};

        fake_http_push(e->http, "POST", NULL, 403,
                       "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized "
                       "to perform this operation.</Message></Error></Errors><RequestID>r-1</RequestID></Response>",
                       0);
        fetch(e, false, &res);
        assert_int_equal(res.error, -EACCES);
        assert_null(res.tags);
        assert_non_null(res.detail);
        assert_string_equal(res.detail, "DescribeTags: UnauthorizedOperation: You are not authorized to perform this operation.");
        result_done(&res);
}

static void test_tag_fetch__describe_tags_unreadable__ebadmsg_with_detail(void **state) {
        Env *e = *state;
        Result res = {};

        /* A complete document, but a tag without a key. */
        fake_http_push(e->http, "POST", NULL, 200,
                       "<DescribeTagsResponse><requestId>r</requestId><tagSet><item><resourceId>" IID
                       "</resourceId><value>v</value></item></tagSet></DescribeTagsResponse>",
                       0);
        fetch(e, false, &res);
        assert_int_equal(res.error, -EBADMSG);
        assert_non_null(res.detail);
        assert_true(strncmp(res.detail, "DescribeTags: ", 14) == 0);
        result_done(&res);
}

static void test_tag_fetch__describe_tags_more_than_tags_max__e2big(void **state) {
        Env *e = *state;
        const char *kv[2 * 40];
        char keys[40][8];
        Result res = {};

        for (int i = 0; i < 40; i++) {
                snprintf(keys[i], sizeof(keys[i]), "k%02d", i);
                kv[2 * i] = keys[i];
                kv[2 * i + 1] = "v";
        }
        /* 40 + 40 > 64, split over two pages. */
        push_page(e, "more", kv, 40, NULL);
        push_page(e, NULL, kv, 40, NULL);
        fetch(e, false, &res);
        assert_int_equal(res.error, -E2BIG);
        assert_null(res.tags);
        assert_non_null(res.detail);
        assert_non_null(strstr(res.detail, "DescribeTags"));
        result_done(&res);
}

/* ---- cancellation ---------------------------------------------------- */

static void test_tag_fetch_cancel__during_listing__callback_never_runs(void **state) {
        Env *e = *state;
        TagFetch *f = NULL;
        Result res = {};

        push_token(e);
        fake_http_push(e->http, "GET", LISTING, 200, "Name", 0);
        push_value(e, "Name", 200, "x");
        assert_int_equal(tag_fetch_start(e->imds, e->ec2, IID, on_tags, &res, &f), 0);
        assert_non_null(f);
        tag_fetch_cancel(f);
        run_until_quiet(e->event);
        assert_int_equal(res.calls, 0);
        assert_int_equal(count_method(e, "GET"), 0);
}

static void test_tag_fetch_cancel__during_values__callback_never_runs(void **state) {
        Env *e = *state;
        TagFetch *f = NULL;
        Result res = {};

        push_token(e);
        fake_http_push(e->http, "GET", LISTING, 200, "A\nB", 0);
        push_value(e, "A", 200, "1");
        push_value(e, "B", 200, "2");
        assert_int_equal(tag_fetch_start(e->imds, e->ec2, IID, on_tags, &res, &f), 0);
        /* Run until the value GETs are out. */
        while (count_method(e, "GET") < 3)
                assert_true(sd_event_run(e->event, 10 * USEC_PER_MSEC) >= 0);
        assert_true(fake_http_in_flight(e->http) > 0);
        tag_fetch_cancel(f);
        assert_int_equal(fake_http_in_flight(e->http), 0);
        run_until_quiet(e->event);
        assert_int_equal(res.calls, 0);
}

static void test_tag_fetch_cancel__during_describe_tags__callback_never_runs(void **state) {
        Env *e = *state;
        static const char *const kv[] = { "Name", "x" };
        TagFetch *f = NULL;
        Result res = {};

        push_page(e, "next", kv, 1, NULL);
        push_page(e, NULL, kv, 1, NULL);
        assert_int_equal(tag_fetch_start(NULL, e->ec2, IID, on_tags, &res, &f), 0);
        while (count_method(e, "POST") < 2)
                assert_true(sd_event_run(e->event, 10 * USEC_PER_MSEC) >= 0);
        tag_fetch_cancel(f);
        run_until_quiet(e->event);
        assert_int_equal(res.calls, 0);
        assert_int_equal(fake_http_in_flight(e->http), 0);
}

static void test_tag_fetch_start__bad_arguments__einval(void **state) {
        Env *e = *state;
        TagFetch *f = (TagFetch *) 0x1;
        Result res = {};

        assert_int_equal(tag_fetch_start(e->imds, NULL, IID, on_tags, &res, &f), -EINVAL);
        assert_int_equal(tag_fetch_start(e->imds, e->ec2, NULL, on_tags, &res, &f), -EINVAL);
        assert_int_equal(tag_fetch_start(e->imds, e->ec2, IID, NULL, &res, &f), -EINVAL);
        assert_ptr_equal(f, (TagFetch *) 0x1);
        run_until_quiet(e->event);
        assert_int_equal(fake_http_count(e->http), 0);
}

/* ---- TagList --------------------------------------------------------- */

static TagList *list_of(size_t n, const char *const *kv) {
        TagList *l = calloc(1, sizeof(*l));

        assert_non_null(l);
        l->keys = calloc(n ? n : 1, sizeof(char *));
        l->values = calloc(n ? n : 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
                l->keys[i] = strdup(kv[2 * i]);
                l->values[i] = strdup(kv[2 * i + 1]);
        }
        l->n = n;
        return l;
}

static void test_tag_list_equal__pairs__order_ignored_values_compared(void **state) {
        static const char *const a_kv[] = { "a", "1", "b", "2", "c", "" };
        static const char *const b_kv[] = { "c", "", "a", "1", "b", "2" };
        static const char *const c_kv[] = { "a", "1", "b", "2", "c", "x" };
        static const char *const d_kv[] = { "a", "1", "b", "2" };
        static const char *const e_kv[] = { "a", "1", "b", "2", "C", "" };
        _cleanup_(tag_list_freep) TagList *a = list_of(3, a_kv), *b = list_of(3, b_kv), *c = list_of(3, c_kv),
                                          *d = list_of(2, d_kv), *e = list_of(3, e_kv), *empty1 = list_of(0, NULL),
                                          *empty2 = list_of(0, NULL);
        (void) state;

        assert_true(tag_list_equal(a, b));
        assert_true(tag_list_equal(b, a));
        assert_true(tag_list_equal(a, a));
        assert_false(tag_list_equal(a, c));
        assert_false(tag_list_equal(a, d));
        assert_false(tag_list_equal(d, a));
        assert_false(tag_list_equal(a, e));
        assert_true(tag_list_equal(empty1, empty2));
        assert_false(tag_list_equal(a, empty1));
        assert_false(tag_list_equal(a, NULL));
        assert_false(tag_list_equal(NULL, a));
        assert_true(tag_list_equal(NULL, NULL));
}

static void test_tag_list_get__keys__exact_match_only(void **state) {
        static const char *const kv[] = { "Name", "web", "cdp:env:A", "1" };
        _cleanup_(tag_list_freep) TagList *l = list_of(2, kv);
        (void) state;

        assert_string_equal(tag_list_get(l, "Name"), "web");
        assert_string_equal(tag_list_get(l, "cdp:env:A"), "1");
        assert_null(tag_list_get(l, "name"));
        assert_null(tag_list_get(l, "cdp:env"));
        assert_null(tag_list_get(NULL, "Name"));
}

static void test_tag_list_sort__unsorted__keys_ordered_values_follow(void **state) {
        static const char *const kv[] = { "zeta", "26", "Alpha", "1", "cdp:b", "b", "cdp:a", "a", "beta", "2" };
        _cleanup_(tag_list_freep) TagList *l = list_of(5, kv);
        static const char *const order[] = { "Alpha", "beta", "cdp:a", "cdp:b", "zeta" };
        static const char *const values[] = { "1", "2", "a", "b", "26" };
        (void) state;

        tag_list_sort(l);
        for (size_t i = 0; i < 5; i++) {
                assert_string_equal(l->keys[i], order[i]);
                assert_string_equal(l->values[i], values[i]);
        }
        assert_null(tag_list_free(NULL));
}

#define T(name) cmocka_unit_test_setup_teardown(name, env_setup, env_teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_tag_fetch__imds_listing__values_assembled_sorted),
                T(test_tag_fetch__key_with_space_and_utf8__percent_encoded_in_url),
                T(test_tag_fetch__listing_trailing_newline__no_empty_key),
                T(test_tag_fetch__empty_listing__no_tags_from_imds),
                T(test_tag_fetch__tag_removed_after_listing__skipped),
                T(test_tag_fetch__value_error__error_with_detail),
                T(test_tag_fetch__imds_down__error_with_detail),
                T(test_tag_fetch__exactly_tags_max__accepted),
                T(test_tag_fetch__imds_lists_more_than_tags_max__e2big),
                T(test_tag_fetch__listing_404__describe_tags_all_pages),
                T(test_tag_fetch__describe_tags_other_resource__ignored),
                T(test_tag_fetch__no_imds__describe_tags_directly),
                T(test_tag_fetch__describe_tags_denied__detail_names_call_and_code),
                T(test_tag_fetch__describe_tags_unreadable__ebadmsg_with_detail),
                T(test_tag_fetch__describe_tags_more_than_tags_max__e2big),
                T(test_tag_fetch_cancel__during_listing__callback_never_runs),
                T(test_tag_fetch_cancel__during_values__callback_never_runs),
                T(test_tag_fetch_cancel__during_describe_tags__callback_never_runs),
                T(test_tag_fetch_start__bad_arguments__einval),
                cmocka_unit_test(test_tag_list_equal__pairs__order_ignored_values_compared),
                cmocka_unit_test(test_tag_list_get__keys__exact_match_only),
                cmocka_unit_test(test_tag_list_sort__unsorted__keys_ordered_values_follow),
        };

        setvbuf(stdout, NULL, _IONBF, 0);
        setvbuf(stderr, NULL, _IONBF, 0);
        return cmocka_run_group_tests_name("tags", tests, NULL, NULL);
}
