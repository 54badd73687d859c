/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/io/ec2.c: error classification, backoff, endpoint
 * resolution, and whole calls through the scripted transport (signing,
 * headers, retries, credential refresh, deadlines, cancellation).
 * Signatures are checked against an independent SigV4 computation over the
 * request as recorded by the fake transport. */
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
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <systemd/sd-event.h>

#include "cdp/creds.h"
#include "cdp/ec2.h"
#include "cdp/imds.h"
#include "fake-http.h"
#include "test-util.h"

#define NOW_SEC 1767323045ULL                   /* 2026-01-02T03:04:05Z */
#define AMZ_DATE "20260102T030405Z"
#define DATE8 "20260102"
#define ENV_AKID "AKIAIOSFODNN7EXAMPLE"
#define ENV_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"
#define OK_XML \
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
        "<DescribeRegionsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">" \
        "<requestId>req-ok-1</requestId><regionInfo/></DescribeRegionsResponse>"
#define TRUNCATED_XML \
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
        "<DescribeRegionsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>req-"

/* ---- harness --------------------------------------------------------- */

typedef struct Env {
        sd_event *event;
        FakeHttp *http;
        FakeClock clock;
        ImdsClient *imds;
        CredsProvider *creds;
        Ec2Client *ec2;
} Env;

static void clear_environment(void) {
        unsetenv("AWS_ACCESS_KEY_ID");
        unsetenv("AWS_SECRET_ACCESS_KEY");
        unsetenv("AWS_SESSION_TOKEN");
        unsetenv("AWS_ENDPOINT_URL");
        unsetenv("AWS_ENDPOINT_URL_EC2");
}

static const Ec2ClientConfig default_config = {
        .region = "us-east-1",
        .max_attempts = 3,
        .base_delay_usec = 1000,
        .throttle_delay_usec = 1000,
        .max_delay_usec = 5000,
};

/* token: AWS_SESSION_TOKEN or NULL; use_imds: instance role instead of the
 * environment. */
static int env_build(void **state, const Ec2ClientConfig *config, const char *token, bool use_imds) {
        ImdsConfig ic = { .retry_delay_usec = 1, .max_attempts = 3 };
        Env *e = calloc(1, sizeof(*e));

        clear_environment();
        if (!e || sd_event_new(&e->event) < 0 || fake_http_new(e->event, &e->http) < 0)
                return -1;
        *state = e;
        e->clock = fake_clock_make(7000 * USEC_PER_SEC, NOW_SEC * USEC_PER_SEC);
        if (imds_client_new(&e->imds, e->event, fake_http_transport(e->http), &e->clock.clock, &ic) < 0)
                return -1;
        if (!use_imds) {
                setenv("AWS_ACCESS_KEY_ID", ENV_AKID, 1);
                setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET, 1);
                if (token)
                        setenv("AWS_SESSION_TOKEN", token, 1);
        }
        if (creds_provider_new(&e->creds, e->event, e->imds, &e->clock.clock) < 0)
                return -1;
        clear_environment();
        if (ec2_client_new(&e->ec2, e->event, fake_http_transport(e->http), e->creds, &e->clock.clock, config) < 0)
                return -1;
        return 0;
}

static int env_setup(void **state) {
        return env_build(state, &default_config, NULL, false);
}

static int env_teardown(void **state) {
        Env *e = *state;
        bool ok;

        clear_environment();
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

/* Replaces the Env a fixture built with one of a different shape. */
static Env *env_rebuild(void **state, const Ec2ClientConfig *config, const char *token, bool use_imds) {
        env_teardown(state);
        *state = NULL;
        assert_int_equal(env_build(state, config, token, use_imds), 0);
        return *state;
}

typedef struct Result {
        int calls;
        int error;
        long http_status;
        char *body;
        char *request_id;
        char *error_code;
        char *error_message;
        char *region;
        Ec2ErrorClass error_class;
        unsigned attempts;
} Result;

static char *dup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

static void result_done(Result *r) {
        free(r->body);
        free(r->request_id);
        free(r->error_code);
        free(r->error_message);
        free(r->region);
        *r = (Result) {};
}

static void on_done(int error, const Ec2Response *resp, void *userdata) {
        Result *r = userdata;

        assert_non_null(resp);
        result_done(r);
        r->calls = 1;
        r->error = error;
        r->http_status = resp->http_status;
        r->body = resp->body ? strndup(resp->body, resp->body_len) : NULL;
        r->request_id = dup_or_null(resp->request_id);
        r->error_code = dup_or_null(resp->error_code);
        r->error_message = dup_or_null(resp->error_message);
        r->region = dup_or_null(resp->region);
        r->error_class = resp->error_class;
        r->attempts = resp->attempts;
}

static char *error_xml(const char *code, const char *message) {
        char *s = NULL;
        assert_true(asprintf(&s,
                             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>%s</Code>"
                             "<Message>%s</Message></Error></Errors><RequestID>req-err-%s</RequestID></Response>",
                             code, message, code) > 0);
        return s;
}

static void push_error(Env *e, long status, const char *code, const char *message) {
        _cleanup_free_ char *xml = error_xml(code, message);
        fake_http_push(e->http, "POST", NULL, status, xml, 0);
}

static Ec2Query *make_query(const char *action) {
        Ec2Query *q = NULL;

        assert_int_equal(ec2_query_new(&q, action), 0);
        return q;
}

/* Starts action and runs the loop until the call finished. */
static void call_and_wait(Env *e, const char *action, const Ec2CallOptions *opts, Result *res) {
        _cleanup_(ec2_query_freep) Ec2Query *q = make_query(action);

        if (strcmp(action, "ReplaceRoute") == 0) {
                assert_int_equal(ec2_query_set(q, "RouteTableId", "rtb-0a1"), 0);
                assert_int_equal(ec2_query_set(q, "DestinationCidrBlock", "192.168.100.10/32"), 0);
        }
        assert_int_equal(ec2_call(e->ec2, q, opts, on_done, res, NULL), 0);
        assert_int_equal(res->calls, 0);        /* never from inside ec2_call() */
        run_until_quiet(e->event);
        assert_int_equal(res->calls, 1);
}

static size_t count_method(const Env *e, const char *method) {
        size_t n = 0;
        for (size_t i = 0; i < fake_http_count(e->http); i++)
                n += strcmp(fake_http_get(e->http, i)->method, method) == 0;
        return n;
}

/* Index of the n-th (0-based) POST. */
static size_t nth_post(const Env *e, size_t n) {
        for (size_t i = 0; i < fake_http_count(e->http); i++)
                if (strcmp(fake_http_get(e->http, i)->method, "POST") == 0 && n-- == 0)
                        return i;
        fail_msg("no POST number %zu", n);
        return 0;
}

/* ---- independent SigV4 reference -------------------------------------- */

static void hex(const unsigned char *in, size_t n, char *out) {
        for (size_t i = 0; i < n; i++)
                sprintf(out + 2 * i, "%02x", in[i]);
}

static void sha256_hex(const void *data, size_t n, char out[65]) {
        unsigned char md[32];
        SHA256(data, n, md);
        hex(md, 32, out);
}

static void hmac(const void *key, size_t klen, const char *msg, unsigned char out[32]) {
        unsigned int len = 32;
        assert_non_null(HMAC(EVP_sha256(), key, (int) klen, (const unsigned char *) msg, strlen(msg), out, &len));
}

/* Recomputes the Authorization header of recorded request i from what was
 * actually sent, and compares it with the one that was sent. */
static void assert_signed(const Env *e, size_t i, const char *akid, const char *secret, const char *region) {
        const FakeHttpRecord *rec = fake_http_get(e->http, i);
        const char *host = fake_http_header(e->http, i, "Host");
        const char *date = fake_http_header(e->http, i, "X-Amz-Date");
        const char *ctype = fake_http_header(e->http, i, "Content-Type");
        const char *token = fake_http_header(e->http, i, "X-Amz-Security-Token");
        const char *auth = fake_http_header(e->http, i, "Authorization");
        const char *signed_headers = token ? "content-type;host;x-amz-date;x-amz-security-token"
                                           : "content-type;host;x-amz-date";
        _cleanup_free_ char *creq = NULL, *sts = NULL, *ksecret = NULL, *expected = NULL;
        char body_hash[65], creq_hash[65], sig[65];
        unsigned char k[32];
        const char *path;

        assert_non_null(host);
        assert_non_null(date);
        assert_non_null(ctype);
        assert_non_null(auth);
        path = strchr(strstr(rec->url, "://") + 3, '/');
        sha256_hex(rec->body, rec->body_len, body_hash);
        assert_true(asprintf(&creq, "%s\n%s\n\ncontent-type:%s\nhost:%s\nx-amz-date:%s\n%s%s%s\n%s\n%s",
                             rec->method, path ? path : "/", ctype, host, date, token ? "x-amz-security-token:" : "",
                             token ? token : "", token ? "\n" : "", signed_headers, body_hash) > 0);
        sha256_hex(creq, strlen(creq), creq_hash);
        assert_true(asprintf(&sts, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/ec2/aws4_request\n%s", date, date, region,
                             creq_hash) > 0);
        assert_true(asprintf(&ksecret, "AWS4%s", secret) > 0);
        hmac(ksecret, strlen(ksecret), DATE8, k);
        hmac(k, 32, region, k);
        hmac(k, 32, "ec2", k);
        hmac(k, 32, "aws4_request", k);
        hmac(k, 32, sts, k);
        hex(k, 32, sig);
        assert_true(asprintf(&expected,
                             "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/ec2/aws4_request, SignedHeaders=%s, Signature=%s",
                             akid, date, region, signed_headers, sig) > 0);
        assert_string_equal(auth, expected);
}

/* ---- classification, pure -------------------------------------------- */

static void test_ec2_classify__table__expected_classes(void **state) {
        static const struct {
                long status;
                const char *code;
                Ec2ErrorClass cls;
        } cases[] = {
                { 200, NULL, EC2_OK },
                { 200, "", EC2_OK },
                { 412, "DryRunOperation", EC2_DRY_RUN_OK },
                { 400, "DryRunOperation", EC2_DRY_RUN_OK },
                { 503, "RequestLimitExceeded", EC2_THROTTLED },
                { 400, "RequestLimitExceeded", EC2_THROTTLED },
                { 400, "Throttling", EC2_THROTTLED },
                { 400, "ThrottlingException", EC2_THROTTLED },
                { 400, "SnapshotCreationPerVolumeRateExceeded", EC2_THROTTLED },
                { 400, "ConcurrentSnapshotLimitExceeded", EC2_THROTTLED },
                { 429, NULL, EC2_THROTTLED },
                { 500, "InternalError", EC2_SERVER },
                { 503, "Unavailable", EC2_SERVER },
                { 503, NULL, EC2_SERVER },
                { 500, NULL, EC2_SERVER },
                { 502, "", EC2_SERVER },
                { 403, "UnauthorizedOperation", EC2_UNAUTHORIZED },
                { 401, "AuthFailure", EC2_CREDENTIALS },
                { 403, "SignatureDoesNotMatch", EC2_CREDENTIALS },
                { 400, "RequestExpired", EC2_CREDENTIALS },
                { 400, "InvalidClientTokenId", EC2_CREDENTIALS },
                { 400, "InvalidRoute.NotFound", EC2_NOT_FOUND },
                { 400, "InvalidAllocationID.NotFound", EC2_NOT_FOUND },
                { 400, "InvalidParameterValue", EC2_INVALID },
                { 400, "MissingParameter", EC2_INVALID },
                { 400, "SomethingNewThatAwsInvented", EC2_INVALID },
                { 400, NULL, EC2_INVALID },
                { 404, NULL, EC2_INVALID },
        };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Ec2ErrorClass got = ec2_classify(cases[i].status, cases[i].code);
                if (got != cases[i].cls)
                        fail_msg("%ld %s: %s, expected %s", cases[i].status, cases[i].code ?: "(null)",
                                 ec2_class_name(got), ec2_class_name(cases[i].cls));
        }
}

static void test_ec2_class_retryable__each_class__matches_policy(void **state) {
        (void) state;

        for (int idem = 0; idem <= 1; idem++) {
                assert_true(ec2_class_retryable(EC2_THROTTLED, idem));
                assert_true(ec2_class_retryable(EC2_SERVER, idem));
                /* Ambiguous outcomes only for idempotent requests. */
                assert_int_equal(ec2_class_retryable(EC2_NETWORK, idem), idem);
                assert_int_equal(ec2_class_retryable(EC2_TIMEOUT, idem), idem);
                assert_int_equal(ec2_class_retryable(EC2_MALFORMED, idem), idem);
                assert_false(ec2_class_retryable(EC2_OK, idem));
                assert_false(ec2_class_retryable(EC2_DRY_RUN_OK, idem));
                assert_false(ec2_class_retryable(EC2_CREDENTIALS, idem));
                assert_false(ec2_class_retryable(EC2_UNAUTHORIZED, idem));
                assert_false(ec2_class_retryable(EC2_NOT_FOUND, idem));
                assert_false(ec2_class_retryable(EC2_INVALID, idem));
        }
}

static void test_ec2_class_to_errno__each_class__documented_errno(void **state) {
        (void) state;

        assert_int_equal(ec2_class_to_errno(EC2_OK), 0);
        assert_int_equal(ec2_class_to_errno(EC2_DRY_RUN_OK), 0);
        assert_int_equal(ec2_class_to_errno(EC2_THROTTLED), -EAGAIN);
        assert_int_equal(ec2_class_to_errno(EC2_SERVER), -EAGAIN);
        assert_int_equal(ec2_class_to_errno(EC2_NETWORK), -ECONNRESET);
        assert_int_equal(ec2_class_to_errno(EC2_TIMEOUT), -ETIMEDOUT);
        assert_int_equal(ec2_class_to_errno(EC2_MALFORMED), -EBADMSG);
        assert_int_equal(ec2_class_to_errno(EC2_CREDENTIALS), -EKEYREJECTED);
        assert_int_equal(ec2_class_to_errno(EC2_UNAUTHORIZED), -EACCES);
        assert_int_equal(ec2_class_to_errno(EC2_NOT_FOUND), -ENOENT);
        assert_int_equal(ec2_class_to_errno(EC2_INVALID), -EINVAL);
        assert_string_equal(ec2_class_name(EC2_THROTTLED), "throttled");
        assert_string_equal(ec2_class_name(EC2_UNAUTHORIZED), "unauthorized");
        assert_string_equal(ec2_class_name(_EC2_ERROR_CLASS_MAX), "unknown");
        for (int c = 0; c < _EC2_ERROR_CLASS_MAX; c++)
                assert_non_null(ec2_class_name((Ec2ErrorClass) c));
}

/* min(cap, base * 2^n) without overflow. */
static uint64_t ref_limit(unsigned n, uint64_t base, uint64_t cap) {
        uint64_t l = base;
        for (unsigned i = 0; i < n; i++) {
                if (l > cap / 2)
                        return cap;
                l *= 2;
        }
        return MIN(l, cap);
}

static void test_ec2_backoff_usec__any_retry__within_full_jitter_bounds(void **state) {
        static const uint32_t rnds[] = { 0, 1, 12345, UINT32_MAX / 3, UINT32_MAX / 2, UINT32_MAX - 1, UINT32_MAX };
        static const struct {
                uint64_t base, cap;
        } shapes[] = {
                { 100 * USEC_PER_MSEC, 20 * USEC_PER_SEC },
                { USEC_PER_SEC, 20 * USEC_PER_SEC },
                { 1000, 5000 },
                { 1, UINT64_MAX },
                { UINT64_MAX / 4, UINT64_MAX },
                { 7, 7 },
        };
        (void) state;

        for (size_t s = 0; s < ELEMENTSOF(shapes); s++)
                for (unsigned n = 0; n <= 70; n++)
                        for (size_t k = 0; k < ELEMENTSOF(rnds); k++) {
                                uint64_t lim = ref_limit(n, shapes[s].base, shapes[s].cap);
                                uint64_t d = ec2_backoff_usec(n, shapes[s].base, shapes[s].cap, rnds[k]);

                                if (d > lim)
                                        fail_msg("retry %u base %llu cap %llu rnd %u: %llu > %llu", n,
                                                 (unsigned long long) shapes[s].base,
                                                 (unsigned long long) shapes[s].cap, rnds[k],
                                                 (unsigned long long) d, (unsigned long long) lim);
                                if (rnds[k] == 0)
                                        assert_int_equal(d, 0);
                                /* The top of the range is reachable: the whole window is used. */
                                if (rnds[k] == UINT32_MAX && d != lim)
                                        fail_msg("retry %u base %llu cap %llu: max rnd gives %llu, want %llu", n,
                                                 (unsigned long long) shapes[s].base,
                                                 (unsigned long long) shapes[s].cap, (unsigned long long) d,
                                                 (unsigned long long) lim);
                        }
}

static void test_ec2_backoff_usec__high_retry__cap_respected_no_overflow(void **state) {
        (void) state;

        assert_int_equal(ec2_backoff_usec(0, 100000, 20000000, UINT32_MAX), 100000);
        assert_int_equal(ec2_backoff_usec(1, 100000, 20000000, UINT32_MAX), 200000);
        assert_int_equal(ec2_backoff_usec(7, 100000, 20000000, UINT32_MAX), 12800000);
        assert_int_equal(ec2_backoff_usec(8, 100000, 20000000, UINT32_MAX), 20000000);
        assert_int_equal(ec2_backoff_usec(64, 100000, 20000000, UINT32_MAX), 20000000);
        assert_int_equal(ec2_backoff_usec(UINT32_MAX, 100000, 20000000, UINT32_MAX), 20000000);
        /* 1 us doubled 64 times passes 2^64: the cap, not a wrapped value. */
        assert_int_equal(ec2_backoff_usec(64, 1, UINT64_MAX, UINT32_MAX), UINT64_MAX);
        assert_true(ec2_backoff_usec(64, 1, UINT64_MAX, UINT32_MAX / 2) > UINT64_MAX / 4);
        /* Half the random range gives about half the window. */
        {
                uint64_t d = ec2_backoff_usec(3, 100000, 20000000, UINT32_MAX / 2);
                assert_true(d >= 399999 && d <= 400000);
        }
}

/* ---- endpoints ------------------------------------------------------- */

static void test_ec2_endpoint_resolve__precedence__env_ec2_then_env_then_config_then_default(void **state) {
        char *s = NULL;
        (void) state;

        clear_environment();
        assert_int_equal(ec2_endpoint_resolve(NULL, "us-east-1", &s), 0);
        assert_string_equal(s, "https://ec2.us-east-1.amazonaws.com");
        s = mfree(s);
        assert_int_equal(ec2_endpoint_resolve("", "ap-northeast-1", &s), 0);
        assert_string_equal(s, "https://ec2.ap-northeast-1.amazonaws.com");
        s = mfree(s);
        assert_int_equal(ec2_endpoint_resolve(NULL, "cn-north-1", &s), 0);
        assert_string_equal(s, "https://ec2.cn-north-1.amazonaws.com.cn");
        s = mfree(s);

        assert_int_equal(ec2_endpoint_resolve("https://vpce-1.ec2.us-east-1.vpce.amazonaws.com", "eu-west-1", &s), 0);
        assert_string_equal(s, "https://vpce-1.ec2.us-east-1.vpce.amazonaws.com");
        s = mfree(s);

        setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4000", 1);
        assert_int_equal(ec2_endpoint_resolve("https://config.example", "us-east-1", &s), 0);
        assert_string_equal(s, "http://127.0.0.1:4000");
        s = mfree(s);

        setenv("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:5000", 1);
        assert_int_equal(ec2_endpoint_resolve("https://config.example", "us-east-1", &s), 0);
        assert_string_equal(s, "http://127.0.0.1:5000");
        s = mfree(s);

        /* Empty variables do not count. */
        setenv("AWS_ENDPOINT_URL_EC2", "", 1);
        setenv("AWS_ENDPOINT_URL", "", 1);
        assert_int_equal(ec2_endpoint_resolve("https://config.example", "us-east-1", &s), 0);
        assert_string_equal(s, "https://config.example");
        s = mfree(s);

        s = (char *) "untouched";
        setenv("AWS_ENDPOINT_URL_EC2", "ftp://127.0.0.1", 1);
        assert_int_equal(ec2_endpoint_resolve(NULL, "us-east-1", &s), -EINVAL);
        clear_environment();
        assert_int_equal(ec2_endpoint_resolve(NULL, "US-EAST-1", &s), -EINVAL);
        assert_int_equal(ec2_endpoint_resolve(NULL, "us-east-1/x", &s), -EINVAL);
        assert_int_equal(ec2_endpoint_resolve(NULL, NULL, &s), -EINVAL);
        assert_string_equal(s, "untouched");
}

/* ---- calls: request shape and signature ------------------------------ */

static void test_ec2_call__ok__form_post_signed_with_headers(void **state) {
        Env *e = *state;
        _cleanup_(ec2_query_freep) Ec2Query *q = make_query("DescribeInstances");
        _cleanup_strbuf_ StrBuf expected_body = STRBUF_INIT(0);
        const char *ids[] = { "i-0123456789abcdef0" };
        const FakeHttpRecord *rec;
        Result res = {};

        assert_int_equal(ec2_query_add_filter(q, "instance-id", ids, 1), 0);
        assert_int_equal(ec2_query_set(q, "MaxResults", "5"), 0);
        assert_int_equal(ec2_query_encode(q, &expected_body), 0);
        fake_http_push(e->http, "POST", NULL, 200, OK_XML, 0);
        assert_int_equal(ec2_call(e->ec2, q, NULL, on_done, &res, NULL), 0);
        /* The query is encoded at once: the caller may free it now. */
        q = ec2_query_free(q);
        run_until_quiet(e->event);

        assert_int_equal(res.calls, 1);
        assert_int_equal(res.error, 0);
        assert_int_equal(res.error_class, EC2_OK);
        assert_int_equal(res.http_status, 200);
        assert_string_equal(res.request_id, "req-ok-1");
        assert_null(res.error_code);
        assert_string_equal(res.body, OK_XML);
        assert_int_equal(res.attempts, 1);
        assert_string_equal(res.region, "us-east-1");

        assert_int_equal(fake_http_count(e->http), 1);
        rec = fake_http_get(e->http, 0);
        assert_string_equal(rec->method, "POST");
        assert_string_equal(rec->url, "https://ec2.us-east-1.amazonaws.com");
        assert_string_equal(rec->body, expected_body.data);
        assert_int_equal(rec->body_len, expected_body.len);
        assert_string_equal(fake_http_header(e->http, 0, "Content-Type"), CONTENT_TYPE);
        assert_string_equal(fake_http_header(e->http, 0, "Host"), "ec2.us-east-1.amazonaws.com");
        assert_string_equal(fake_http_header(e->http, 0, "X-Amz-Date"), AMZ_DATE);
        assert_null(fake_http_header(e->http, 0, "X-Amz-Security-Token"));
        assert_true(strncmp(fake_http_header(e->http, 0, "Authorization"),
                            "AWS4-HMAC-SHA256 Credential=" ENV_AKID "/" DATE8 "/us-east-1/ec2/aws4_request, "
                            "SignedHeaders=content-type;host;x-amz-date, Signature=",
                            strlen("AWS4-HMAC-SHA256 Credential=" ENV_AKID "/" DATE8 "/us-east-1/ec2/aws4_request, "
                                   "SignedHeaders=content-type;host;x-amz-date, Signature=")) == 0);
        assert_signed(e, 0, ENV_AKID, ENV_SECRET, "us-east-1");

        const Ec2Stats *st = ec2_client_stats(e->ec2);
        assert_int_equal(st->calls, 1);
        assert_int_equal(st->attempts, 1);
        assert_int_equal(st->retries, 0);
        result_done(&res);
}

static void test_ec2_call__session_token__sent_and_signed(void **state) {
        Env *e = env_rebuild(state, &default_config, "FwoGZXIvYXdzSESSIONTOKEN==", false);
        Result res = {};

        fake_http_push(e->http, "POST", NULL, 200, OK_XML, 0);
        call_and_wait(e, "DescribeRegions", NULL, &res);
        assert_int_equal(res.error, 0);
        assert_string_equal(fake_http_header(e->http, 0, "X-Amz-Security-Token"), "FwoGZXIvYXdzSESSIONTOKEN==");
        assert_non_null(strstr(fake_http_header(e->http, 0, "Authorization"),
                               "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "));
        assert_signed(e, 0, ENV_AKID, ENV_SECRET, "us-east-1");
        result_done(&res);
}

static void test_ec2_call__endpoint_with_port__host_has_port(void **state) {
        Ec2ClientConfig config = default_config;
        Env *e;
        Result res = {};

        config.endpoint = "http://127.0.0.1:5000";
        e = env_rebuild(state, &config, NULL, false);
        fake_http_push(e->http, "POST", NULL, 200, OK_XML, 0);
        call_and_wait(e, "DescribeRegions", NULL, &res);
        assert_int_equal(res.error, 0);
        assert_string_equal(fake_http_get(e->http, 0)->url, "http://127.0.0.1:5000");
        assert_string_equal(fake_http_header(e->http, 0, "Host"), "127.0.0.1:5000");
        assert_signed(e, 0, ENV_AKID, ENV_SECRET, "us-east-1");
        result_done(&res);
}

static void test_ec2_call__env_endpoint_override__used_for_call(void **state) {
        Env *e = *state;
        Result res = {};

        setenv("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:6001", 1);
        fake_http_push(e->http, "POST", NULL, 200, OK_XML, 0);
        call_and_wait(e, "DescribeRegions", NULL, &res);
        assert_int_equal(res.error, 0);
        assert_string_equal(fake_http_get(e->http, 0)->url, "http://127.0.0.1:6001");
        assert_string_equal(fake_http_header(e->http, 0, "Host"), "127.0.0.1:6001");
        result_done(&res);
}

static void test_ec2_call__region_override__scope_and_endpoint_follow(void **state) {
        Env *e = *state;
        Ec2CallOptions opts = { .region = "eu-west-1" };
        Ec2CallOptions cn = { .region = "cn-north-1" };
        Result res = {};

        fake_http_push(e->http, "POST", NULL, 200, OK_XML, 0);
        call_and_wait(e, "CopySnapshot", &opts, &res);
        assert_int_equal(res.error, 0);
        assert_string_equal(res.region, "eu-west-1");
        assert_string_equal(fake_http_get(e->http, 0)->url, "https://ec2.eu-west-1.amazonaws.com");
        assert_string_equal(fake_http_header(e->http, 0, "Host"), "ec2.eu-west-1.amazonaws.com");
        assert_non_null(strstr(fake_http_header(e->http, 0, "Authorization"), "/" DATE8 "/eu-west-1/ec2/aws4_request"));
        assert_signed(e, 0, ENV_AKID, ENV_SECRET, "eu-west-1");

        /* The client's default is unchanged for the next call. */
        result_done(&res);
        fake_http_push(e->http, "POST", NULL, 200, OK_XML, 0);
        call_and_wait(e, "DescribeRegions", NULL, &res);
        assert_string_equal(res.region, "us-east-1");
        assert_signed(e, 1, ENV_AKID, ENV_SECRET, "us-east-1");
        result_done(&res);

        fake_http_push(e->http, "POST", NULL, 200, OK_XML, 0);
        call_and_wait(e, "DescribeRegions", &cn, &res);
        assert_string_equal(fake_http_get(e->http, 2)->url, "https://ec2.cn-north-1.amazonaws.com.cn");
        assert_signed(e, 2, ENV_AKID, ENV_SECRET, "cn-north-1");
        result_done(&res);
}

/* ---- calls: outcomes and retries ------------------------------------- */

static void test_ec2_call__dry_run_operation__success_class(void **state) {
        Env *e = *state;
        Result res = {};

        push_error(e, 412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.");
        call_and_wait(e, "StopInstances", NULL, &res);
        assert_int_equal(res.error, 0);
        assert_int_equal(res.error_class, EC2_DRY_RUN_OK);
        assert_string_equal(res.error_code, "DryRunOperation");
        assert_int_equal(res.attempts, 1);
        result_done(&res);
}

static void test_ec2_call__throttled_twice_then_ok__success_after_three_attempts(void **state) {
        Env *e = *state;
        Result res = {};

        push_error(e, 503, "RequestLimitExceeded", "Request limit exceeded.");
        push_error(e, 400, "Throttling", "Rate exceeded");
        fake_http_push(e->http, "POST", NULL, 200, OK_XML, 0);
        call_and_wait(e, "ReplaceRoute", NULL, &res);
        assert_int_equal(res.error, 0);
        assert_int_equal(res.attempts, 3);
        assert_string_equal(res.request_id, "req-ok-1");
        assert_int_equal(count_method(e, "POST"), 3);
        assert_int_equal(ec2_client_stats(e->ec2)->retries, 2);
        assert_int_equal(ec2_client_stats(e->ec2)->attempts, 3);
        /* Every attempt is the same, freshly signed request. */
        for (size_t i = 0; i < 3; i++) {
                assert_string_equal(fake_http_get(e->http, i)->body, fake_http_get(e->http, 0)->body);
                assert_signed(e, i, ENV_AKID, ENV_SECRET, "us-east-1");
        }
        result_done(&res);
}

static void test_ec2_call__server_error_every_time__eagain_after_max_attempts(void **state) {
        Env *e = *state;
        Result res = {};

        for (int i = 0; i < 4; i++)
                push_error(e, 500, "InternalError", "An internal error has occurred");
        call_and_wait(e, "ReplaceRoute", NULL, &res);
        assert_int_equal(res.error, -EAGAIN);
        assert_int_equal(res.error_class, EC2_SERVER);
        assert_string_equal(res.error_code, "InternalError");
        assert_string_equal(res.error_message, "An internal error has occurred");
        assert_string_equal(res.request_id, "req-err-InternalError");
        assert_int_equal(res.http_status, 500);
        assert_int_equal(res.attempts, 3);
        assert_int_equal(count_method(e, "POST"), 3);
        assert_int_equal(fake_http_pending(e->http), 1);
        result_done(&res);
}

static void test_ec2_call__503_without_body__server_class_retried(void **state) {
        Env *e = *state;
        Result res = {};

        for (int i = 0; i < 3; i++)
                fake_http_push(e->http, "POST", NULL, 503, "", 0);
        call_and_wait(e, "DescribeRegions", NULL, &res);
        assert_int_equal(res.error, -EAGAIN);
        assert_int_equal(res.error_class, EC2_SERVER);
        assert_int_equal(res.http_status, 503);
        assert_non_null(res.error_code);
        assert_int_equal(res.attempts, 3);
        result_done(&res);
}

static void test_ec2_call__unauthorized__eacces_no_retry(void **state) {
        Env *e = *state;
        Result res = {};

        push_error(e, 403, "UnauthorizedOperation", "You are not authorized to perform this operation.");
        fake_http_push(e->http, "POST", NULL, 200, OK_XML, 0);
        call_and_wait(e, "ReplaceRoute", NULL, &res);
        assert_int_equal(res.error, -EACCES);
        assert_int_equal(res.error_class, EC2_UNAUTHORIZED);
        assert_string_equal(res.error_code, "UnauthorizedOperation");
        assert_string_equal(res.error_message, "You are not authorized to perform this operation.");
        assert_int_equal(res.attempts, 1);
        assert_int_equal(count_method(e, "POST"), 1);
        result_done(&res);
}

static void test_ec2_call__route_not_found__enoent_no_retry(void **state) {
        Env *e = *state;
        Result res = {};

        push_error(e, 400, "InvalidRoute.NotFound", "no route with destination-cidr-block 192.168.100.10/32");
        call_and_wait(e, "ReplaceRoute", NULL, &res);
        assert_int_equal(res.error, -ENOENT);
        assert_int_equal(res.error_class, EC2_NOT_FOUND);
        assert_string_equal(res.error_code, "InvalidRoute.NotFound");
        assert_int_equal(res.attempts, 1);
        result_done(&res);
}

static void test_ec2_call__invalid_parameter__einval_no_retry(void **state) {
        Env *e = *state;
        Result res = {};

        push_error(e, 400, "InvalidParameterValue", "Value (x) for parameter cidr is invalid");
        call_and_wait(e, "DescribeRouteTables", NULL, &res);
        assert_int_equal(res.error, -EINVAL);
        assert_string_equal(res.error_code, "InvalidParameterValue");
        assert_int_equal(res.attempts, 1);
        assert_int_equal(count_method(e, "POST"), 1);
        result_done(&res);
}

static void test_ec2_call__dropped_connection_not_idempotent__econnreset_no_retry(void **state) {
        Env *e = *state;
        Result res = {};

        fake_http_push(e->http, "POST", NULL, 0, NULL, -ECONNRESET);
        fake_http_push(e->http, "POST", NULL, 200, OK_XML, 0);
        call_and_wait(e, "ReplaceRoute", NULL, &res);
        assert_int_equal(res.error, -ECONNRESET);
        assert_int_equal(res.error_class, EC2_NETWORK);
        assert_int_equal(res.http_status, 0);
        assert_int_equal(res.attempts, 1);
        assert_int_equal(count_method(e, "POST"), 1);
        result_done(&res);
}

static void test_ec2_call__dropped_connection_describe__retried(void **state) {
        Env *e = *state;
        Result res = {};

        fake_http_push(e->http, "POST", NULL, 0, NULL, -ECONNRESET);
        fake_http_push(e->http, "POST", NULL, 200, OK_XML, 0);
        call_and_wait(e, "DescribeRouteTables", NULL, &res);
        assert_int_equal(res.error, 0);
        assert_int_equal(res.attempts, 2);
        result_done(&res);
}

static void test_ec2_call__idempotent_flag_set__write_retried_after_drop(void **state) {
        Env *e = *state;
        _cleanup_(ec2_query_freep) Ec2Query *q = make_query("ReplaceRoute");
        Result res = {};

        ec2_query_set_idempotent(q, true);
        fake_http_push(e->http, "POST", NULL, 0, NULL, -ECONNRESET);
        fake_http_push(e->http, "POST", NULL, 200, OK_XML, 0);
        assert_int_equal(ec2_call(e->ec2, q, NULL, on_done, &res, NULL), 0);
        run_until_quiet(e->event);
        assert_int_equal(res.error, 0);
        assert_int_equal(res.attempts, 2);
        result_done(&res);
}

static void test_ec2_call__timeouts_describe__etimedout_after_max_attempts(void **state) {
        Env *e = *state;
        Result res = {};

        for (int i = 0; i < 3; i++)
                fake_http_push(e->http, "POST", NULL, 0, NULL, -ETIMEDOUT);
        call_and_wait(e, "DescribeInstances", NULL, &res);
        assert_int_equal(res.error, -ETIMEDOUT);
        assert_int_equal(res.error_class, EC2_TIMEOUT);
        assert_int_equal(res.attempts, 3);
        result_done(&res);
}

static void test_ec2_call__truncated_xml_not_idempotent__ebadmsg_no_retry(void **state) {
        Env *e = *state;
        Result res = {};

        fake_http_push(e->http, "POST", NULL, 200, TRUNCATED_XML, 0);
        fake_http_push(e->http, "POST", NULL, 200, OK_XML, 0);
        call_and_wait(e, "CreateSnapshots", NULL, &res);
        assert_int_equal(res.error, -EBADMSG);
        assert_int_equal(res.error_class, EC2_MALFORMED);
        assert_null(res.body);
        assert_int_equal(res.attempts, 1);
        result_done(&res);
}

static void test_ec2_call__truncated_xml_describe__retried(void **state) {
        Env *e = *state;
        Result res = {};

        fake_http_push(e->http, "POST", NULL, 200, TRUNCATED_XML, 0);
        fake_http_push(e->http, "POST", NULL, 200, OK_XML, 0);
        call_and_wait(e, "DescribeInstances", NULL, &res);
        assert_int_equal(res.error, 0);
        assert_int_equal(res.attempts, 2);
        assert_string_equal(res.request_id, "req-ok-1");
        result_done(&res);
}

/* ---- credentials ----------------------------------------------------- */

#define ROLE_LIST "/latest/meta-data/iam/security-credentials/"
#define ROLE_CREDS ROLE_LIST "ec2-role"

static char *role_json(const char *akid, const char *secret) {
        char *s = NULL;
        assert_true(asprintf(&s,
                             "{\"Code\":\"Success\",\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"%s\","
                             "\"Token\":\"token-%s\",\"Expiration\":\"2026-01-02T09:00:00Z\"}",
                             akid, secret, akid) > 0);
        return s;
}

static void test_ec2_call__request_expired_with_role__one_forced_refresh_then_ok(void **state) {
        Env *e = env_rebuild(state, &default_config, NULL, true);
        _cleanup_free_ char *j1 = role_json("ASIAROLEKEY0000001", "secret-one");
        _cleanup_free_ char *j2 = role_json("ASIAROLEKEY0000002", "secret-two");
        Result res = {};
        size_t p0, p1;

        fake_http_push(e->http, "PUT", "/latest/api/token", 200, "imds-token", 0);
        fake_http_push(e->http, "GET", ROLE_LIST, 200, "ec2-role", 0);
        fake_http_push(e->http, "GET", ROLE_CREDS, 200, j1, 0);
        push_error(e, 400, "RequestExpired", "Request has expired.");
        fake_http_push(e->http, "GET", ROLE_CREDS, 200, j2, 0);
        fake_http_push(e->http, "POST", NULL, 200, OK_XML, 0);
        call_and_wait(e, "ReplaceRoute", NULL, &res);

        assert_int_equal(res.error, 0);
        assert_int_equal(res.attempts, 2);
        assert_int_equal(ec2_client_stats(e->ec2)->credential_refreshes, 1);
        assert_int_equal(count_method(e, "POST"), 2);
        assert_int_equal(creds_refresh_count(e->creds), 2);
        p0 = nth_post(e, 0);
        p1 = nth_post(e, 1);
        assert_signed(e, p0, "ASIAROLEKEY0000001", "secret-one", "us-east-1");
        assert_string_equal(fake_http_header(e->http, p0, "X-Amz-Security-Token"), "token-ASIAROLEKEY0000001");
        assert_signed(e, p1, "ASIAROLEKEY0000002", "secret-two", "us-east-1");
        assert_string_equal(fake_http_header(e->http, p1, "X-Amz-Security-Token"), "token-ASIAROLEKEY0000002");
        result_done(&res);
}

static void test_ec2_call__credentials_rejected_twice_with_role__ekeyrejected(void **state) {
        Env *e = env_rebuild(state, &default_config, NULL, true);
        _cleanup_free_ char *j1 = role_json("ASIAROLEKEY0000001", "secret-one");
        Result res = {};

        fake_http_push(e->http, "PUT", "/latest/api/token", 200, "imds-token", 0);
        fake_http_push(e->http, "GET", ROLE_LIST, 200, "ec2-role", 0);
        fake_http_push(e->http, "GET", ROLE_CREDS, 200, j1, 0);
        push_error(e, 401, "AuthFailure", "AWS was not able to validate the provided access credentials");
        fake_http_push(e->http, "GET", ROLE_CREDS, 200, j1, 0);
        push_error(e, 401, "AuthFailure", "AWS was not able to validate the provided access credentials");
        fake_http_push(e->http, "POST", NULL, 200, OK_XML, 0);
        call_and_wait(e, "DescribeInstances", NULL, &res);

        assert_int_equal(res.error, -EKEYREJECTED);
        assert_int_equal(res.error_class, EC2_CREDENTIALS);
        assert_string_equal(res.error_code, "AuthFailure");
        assert_int_equal(count_method(e, "POST"), 2);
        assert_int_equal(ec2_client_stats(e->ec2)->credential_refreshes, 1);
        result_done(&res);
}

static void test_ec2_call__signature_mismatch_with_env_creds__ekeyrejected_no_refresh(void **state) {
        Env *e = *state;
        Result res = {};

        push_error(e, 403, "SignatureDoesNotMatch", "The request signature we calculated does not match");
        fake_http_push(e->http, "POST", NULL, 200, OK_XML, 0);
        call_and_wait(e, "DescribeInstances", NULL, &res);
        assert_int_equal(res.error, -EKEYREJECTED);
        assert_int_equal(res.attempts, 1);
        assert_int_equal(fake_http_count(e->http), 1);
        assert_int_equal(ec2_client_stats(e->ec2)->credential_refreshes, 0);
        result_done(&res);
}

static void test_ec2_call__no_credentials__enokey_nothing_sent(void **state) {
        Env *e = *state;
        Result res = {};

        /* A provider with neither the environment nor IMDS. */
        ec2_client_free(e->ec2);
        creds_provider_free(e->creds);
        e->ec2 = NULL;
        assert_int_equal(creds_provider_new(&e->creds, e->event, NULL, &e->clock.clock), 0);
        assert_int_equal(ec2_client_new(&e->ec2, e->event, fake_http_transport(e->http), e->creds, &e->clock.clock,
                                        &default_config),
                         0);
        call_and_wait(e, "DescribeInstances", NULL, &res);
        assert_int_equal(res.error, -ENOKEY);
        assert_string_equal(res.error_code, "NoCredentials");
        assert_int_equal(res.attempts, 0);
        assert_int_equal(fake_http_count(e->http), 0);
        result_done(&res);
}

/* ---- deadlines ------------------------------------------------------- */

static void test_ec2_call__deadline_passes_during_backoff__fails_before_max_attempts(void **state) {
        Ec2ClientConfig config = default_config;
        Ec2CallOptions opts;
        _cleanup_(ec2_query_freep) Ec2Query *q = make_query("ReplaceRoute");
        Env *e;
        Result res = {};

        config.max_attempts = 5;
        config.throttle_delay_usec = 10 * USEC_PER_SEC;       /* far longer than the deadline */
        config.max_delay_usec = 20 * USEC_PER_SEC;
        e = env_rebuild(state, &config, NULL, false);
        opts = (Ec2CallOptions) { .deadline = e->clock.mono + 40 * USEC_PER_MSEC };
        for (int i = 0; i < 5; i++)
                push_error(e, 503, "RequestLimitExceeded", "Request limit exceeded.");

        assert_int_equal(ec2_call(e->ec2, q, &opts, on_done, &res, NULL), 0);
        /* Until the first answer was read (the backoff timer is armed)... */
        while (fake_http_count(e->http) < 1 || fake_http_in_flight(e->http) > 0)
                assert_true(sd_event_run(e->event, 10 * USEC_PER_MSEC) >= 0);
        assert_int_equal(res.calls, 0);
        /* ...then the deadline passes while waiting. */
        e->clock.mono += 50 * USEC_PER_MSEC;
        run_until_quiet(e->event);

        assert_int_equal(res.calls, 1);
        assert_int_equal(res.error, -ETIMEDOUT);
        assert_int_equal(res.error_class, EC2_TIMEOUT);
        assert_string_equal(res.error_code, "Timeout");
        assert_int_equal(res.attempts, 1);
        assert_int_equal(count_method(e, "POST"), 1);
        result_done(&res);
}

static void test_ec2_call__deadline_passed_when_answer_arrives__last_error_no_retry(void **state) {
        Env *e = *state;
        Ec2CallOptions opts = { .deadline = e->clock.mono + 10 * USEC_PER_MSEC };
        _cleanup_(ec2_query_freep) Ec2Query *q = make_query("ReplaceRoute");
        Result res = {};

        for (int i = 0; i < 3; i++)
                push_error(e, 503, "RequestLimitExceeded", "Request limit exceeded.");
        assert_int_equal(ec2_call(e->ec2, q, &opts, on_done, &res, NULL), 0);
        while (fake_http_count(e->http) < 1)
                assert_true(sd_event_run(e->event, 0) >= 0);
        e->clock.mono += 20 * USEC_PER_MSEC;
        run_until_quiet(e->event);

        assert_int_equal(res.calls, 1);
        assert_int_equal(res.error, -EAGAIN);
        assert_string_equal(res.error_code, "RequestLimitExceeded");
        assert_int_equal(res.attempts, 1);
        assert_int_equal(count_method(e, "POST"), 1);
        result_done(&res);
}

static void test_ec2_call__deadline_already_passed__etimedout_nothing_sent(void **state) {
        Env *e = *state;
        Ec2CallOptions opts = { .deadline = e->clock.mono };
        Result res = {};

        call_and_wait(e, "ReplaceRoute", &opts, &res);
        assert_int_equal(res.error, -ETIMEDOUT);
        assert_int_equal(res.attempts, 0);
        assert_int_equal(fake_http_count(e->http), 0);
        result_done(&res);
}

/* ---- cancellation and arguments -------------------------------------- */

static void test_ec2_call_cancel__before_start__callback_never_runs(void **state) {
        Env *e = *state;
        _cleanup_(ec2_query_freep) Ec2Query *q = make_query("ReplaceRoute");
        Ec2Call *call = NULL;
        Result res = {};

        fake_http_push(e->http, "POST", NULL, 200, OK_XML, 0);
        assert_int_equal(ec2_call(e->ec2, q, NULL, on_done, &res, &call), 0);
        assert_non_null(call);
        ec2_call_cancel(call);
        run_until_quiet(e->event);
        assert_int_equal(res.calls, 0);
        assert_int_equal(fake_http_count(e->http), 0);
}

static void test_ec2_call_cancel__in_flight__callback_never_runs(void **state) {
        Env *e = *state;
        _cleanup_(ec2_query_freep) Ec2Query *q = make_query("ReplaceRoute");
        Ec2Call *call = NULL;
        Result res = {};

        fake_http_push(e->http, "POST", NULL, 200, OK_XML, 0);
        assert_int_equal(ec2_call(e->ec2, q, NULL, on_done, &res, &call), 0);
        while (fake_http_count(e->http) < 1)
                assert_true(sd_event_run(e->event, 0) >= 0);
        assert_int_equal(fake_http_in_flight(e->http), 1);
        ec2_call_cancel(call);
        assert_int_equal(fake_http_in_flight(e->http), 0);
        run_until_quiet(e->event);
        assert_int_equal(res.calls, 0);
}

static void test_ec2_call_cancel__during_backoff__no_further_attempt(void **state) {
        Ec2ClientConfig config = default_config;
        _cleanup_(ec2_query_freep) Ec2Query *q = make_query("DescribeInstances");
        Ec2Call *call = NULL;
        Env *e;
        Result res = {};

        config.throttle_delay_usec = 20 * USEC_PER_MSEC;
        config.max_delay_usec = 20 * USEC_PER_MSEC;
        e = env_rebuild(state, &config, NULL, false);
        push_error(e, 503, "RequestLimitExceeded", "slow down");
        fake_http_push(e->http, "POST", NULL, 200, OK_XML, 0);
        assert_int_equal(ec2_call(e->ec2, q, NULL, on_done, &res, &call), 0);
        while (fake_http_count(e->http) < 1 || fake_http_in_flight(e->http) > 0)
                assert_true(sd_event_run(e->event, 0) >= 0);
        ec2_call_cancel(call);
        run_until_quiet(e->event);
        assert_int_equal(res.calls, 0);
        assert_int_equal(count_method(e, "POST"), 1);
}

static void test_ec2_call_cancel__waiting_for_credentials__callback_never_runs(void **state) {
        Env *e = env_rebuild(state, &default_config, NULL, true);
        _cleanup_(ec2_query_freep) Ec2Query *q = make_query("DescribeInstances");
        _cleanup_free_ char *j1 = role_json("ASIAROLEKEY0000001", "secret-one");
        Ec2Call *call = NULL;
        Result res = {};

        fake_http_push(e->http, "PUT", "/latest/api/token", 200, "imds-token", 0);
        fake_http_push(e->http, "GET", ROLE_LIST, 200, "ec2-role", 0);
        fake_http_push(e->http, "GET", ROLE_CREDS, 200, j1, 0);
        fake_http_push(e->http, "POST", NULL, 200, OK_XML, 0);
        assert_int_equal(ec2_call(e->ec2, q, NULL, on_done, &res, &call), 0);
        while (fake_http_count(e->http) < 1)
                assert_true(sd_event_run(e->event, 0) >= 0);
        ec2_call_cancel(call);
        run_until_quiet(e->event);
        assert_int_equal(res.calls, 0);
        assert_int_equal(count_method(e, "POST"), 0);
        /* The credential fetch itself went on. */
        assert_non_null(creds_peek(e->creds));
}

static void test_ec2_client_free__calls_pending__no_callbacks(void **state) {
        Env *e = *state;
        _cleanup_(ec2_query_freep) Ec2Query *q = make_query("DescribeInstances");
        Result a = {}, b = {};

        push_error(e, 503, "RequestLimitExceeded", "slow down");
        assert_int_equal(ec2_call(e->ec2, q, NULL, on_done, &a, NULL), 0);
        assert_int_equal(ec2_call(e->ec2, q, NULL, on_done, &b, NULL), 0);
        while (fake_http_count(e->http) < 2)
                assert_true(sd_event_run(e->event, 0) >= 0);
        e->ec2 = ec2_client_free(e->ec2);
        assert_int_equal(fake_http_in_flight(e->http), 0);
        run_until_quiet(e->event);
        assert_int_equal(a.calls + b.calls, 0);
}

static void test_ec2_call__bad_arguments__einval(void **state) {
        Env *e = *state;
        _cleanup_(ec2_query_freep) Ec2Query *q = make_query("DescribeInstances");
        Ec2CallOptions bad_region = { .region = "Not A Region" };
        Ec2Client *c = (Ec2Client *) 0x1;
        Ec2ClientConfig bad = default_config;
        Result res = {};

        assert_int_equal(ec2_call(e->ec2, q, &bad_region, on_done, &res, NULL), -EINVAL);
        assert_int_equal(ec2_call(e->ec2, NULL, NULL, on_done, &res, NULL), -EINVAL);
        assert_int_equal(ec2_call(e->ec2, q, NULL, NULL, &res, NULL), -EINVAL);
        bad.endpoint = "ftp://example.com";
        assert_int_equal(ec2_client_new(&c, e->event, fake_http_transport(e->http), e->creds, NULL, &bad), -EINVAL);
        bad = default_config;
        bad.region = NULL;
        assert_int_equal(ec2_client_new(&c, e->event, fake_http_transport(e->http), e->creds, NULL, &bad), -EINVAL);
        assert_int_equal(ec2_client_new(&c, e->event, fake_http_transport(e->http), NULL, NULL, &default_config),
                         -EINVAL);
        assert_ptr_equal(c, (Ec2Client *) 0x1);
        run_until_quiet(e->event);
        assert_int_equal(res.calls, 0);
        assert_int_equal(fake_http_count(e->http), 0);
        assert_int_equal(ec2_client_stats(e->ec2)->calls, 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, env_setup, env_teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ec2_classify__table__expected_classes),
                cmocka_unit_test(test_ec2_class_retryable__each_class__matches_policy),
                cmocka_unit_test(test_ec2_class_to_errno__each_class__documented_errno),
                cmocka_unit_test(test_ec2_backoff_usec__any_retry__within_full_jitter_bounds),
                cmocka_unit_test(test_ec2_backoff_usec__high_retry__cap_respected_no_overflow),
                cmocka_unit_test(test_ec2_endpoint_resolve__precedence__env_ec2_then_env_then_config_then_default),
                T(test_ec2_call__ok__form_post_signed_with_headers),
                T(test_ec2_call__session_token__sent_and_signed),
                T(test_ec2_call__endpoint_with_port__host_has_port),
                T(test_ec2_call__env_endpoint_override__used_for_call),
                T(test_ec2_call__region_override__scope_and_endpoint_follow),
                T(test_ec2_call__dry_run_operation__success_class),
                T(test_ec2_call__throttled_twice_then_ok__success_after_three_attempts),
                T(test_ec2_call__server_error_every_time__eagain_after_max_attempts),
                T(test_ec2_call__503_without_body__server_class_retried),
                T(test_ec2_call__unauthorized__eacces_no_retry),
                T(test_ec2_call__route_not_found__enoent_no_retry),
                T(test_ec2_call__invalid_parameter__einval_no_retry),
                T(test_ec2_call__dropped_connection_not_idempotent__econnreset_no_retry),
                T(test_ec2_call__dropped_connection_describe__retried),
                T(test_ec2_call__idempotent_flag_set__write_retried_after_drop),
                T(test_ec2_call__timeouts_describe__etimedout_after_max_attempts),
                T(test_ec2_call__truncated_xml_not_idempotent__ebadmsg_no_retry),
                T(test_ec2_call__truncated_xml_describe__retried),
                T(test_ec2_call__request_expired_with_role__one_forced_refresh_then_ok),
                T(test_ec2_call__credentials_rejected_twice_with_role__ekeyrejected),
                T(test_ec2_call__signature_mismatch_with_env_creds__ekeyrejected_no_refresh),
                T(test_ec2_call__no_credentials__enokey_nothing_sent),
                T(test_ec2_call__deadline_passes_during_backoff__fails_before_max_attempts),
                T(test_ec2_call__deadline_passed_when_answer_arrives__last_error_no_retry),
                T(test_ec2_call__deadline_already_passed__etimedout_nothing_sent),
                T(test_ec2_call_cancel__before_start__callback_never_runs),
                T(test_ec2_call_cancel__in_flight__callback_never_runs),
                T(test_ec2_call_cancel__during_backoff__no_further_attempt),
                T(test_ec2_call_cancel__waiting_for_credentials__callback_never_runs),
                T(test_ec2_client_free__calls_pending__no_callbacks),
                T(test_ec2_call__bad_arguments__einval),
        };

        setvbuf(stdout, NULL, _IONBF, 0);
        setvbuf(stderr, NULL, _IONBF, 0);
        return cmocka_run_group_tests_name("ec2", tests, NULL, NULL);
}
