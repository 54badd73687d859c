/* SPDX-License-Identifier: MIT */
/* SigV4 signer tests.
 *
 * Group "sigv4-vectors" is data-driven: every case directory under
 * $CDP_TEST_DATA/sigv4 (aws-c-auth layout: context.json + request.txt +
 * header-*.txt) and $CDP_TEST_DATA/sigv4/original-suite (AWS's original
 * layout: <case>.req/.creq/.sts/.authz) becomes one cmocka test that signs
 * the request and compares the canonical request, the string to sign, the
 * signature and the Authorization value byte for byte. See
 * tests/data/sigv4/README.md for what the cases are.
 *
 * Harness choices, where the vectors leave room:
 *   - request.txt continuation lines (get-header-value-multiline: a line
 *     starting with SP/HT) are folded onto the previous header's value with a
 *     single SP, which is what the HTTP obs-fold rule and aws-c-auth's
 *     expected output ("value1 value2 value3") amount to. The signer itself
 *     never sees a line break: it rejects CR/LF in values.
 *   - The request line's target may contain spaces ("GET /example space/
 *     HTTP/1.1"): the method ends at the first SP, the version starts after
 *     the last one.
 *   - original-suite requests already carry X-Amz-Date; the harness drops it
 *     (the signer owns that header) and checks it equals the signer's.
 *   - omit_session_token (post-sts-header-after): the token is not signed,
 *     so the request is signed without one; the caller would add the header
 *     afterwards.
 *   - Skipped: aws-c-auth post-x-www-form-urlencoded* (sign_body: they sign
 *     an x-amz-content-sha256 header this signer never emits; their
 *     original-suite versions run instead) and every presigned/ output
 *     (query-string signing is not implemented). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* asprintf, strptime, timegm in the test harness */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "cdp/secret.h"
#include "cdp/sigv4.h"

#define VECTOR_HEADERS_MAX 32

/* Shared by every vector (tests/data/sigv4/README.md). */
#define VEC_AKID "AKIDEXAMPLE"
#define VEC_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define VEC_TIME ((time_t) 1440938160) /* 2015-08-30T12:36:00Z */

/* ---- small helpers ---------------------------------------------------- */

static const char *data_dir(void) {
        const char *d = getenv("CDP_TEST_DATA");
        return d && *d ? d : "tests/data";
}

static char *path_join(const char *a, const char *b) {
        char *p = NULL;

        assert_true(asprintf(&p, "%s/%s", a, b) >= 0);
        return p;
}

/* Whole file, NUL-terminated; NULL if it does not exist. */
static char *read_file(const char *path, size_t *ret_len) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char *buf;
        long size;

        if (!f)
                return NULL;
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        size = ftell(f);
        assert_true(size >= 0);
        assert_int_equal(fseek(f, 0, SEEK_SET), 0);
        buf = malloc((size_t) size + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t) size, f), (size_t) size);
        buf[size] = '\0';
        if (ret_len)
                *ret_len = (size_t) size;
        return buf;
}

static char *read_file_or_fail(const char *dir, const char *name) {
        _cleanup_free_ char *p = path_join(dir, name);
        char *s = read_file(p, NULL);

        if (!s)
                fail_msg("missing %s", p);
        return s;
}

static bool file_exists(const char *dir, const char *name) {
        _cleanup_free_ char *p = path_join(dir, name);
        struct stat st;

        return stat(p, &st) == 0;
}

static void hex(const unsigned char *in, size_t n, char *out) {
        for (size_t i = 0; i < n; i++)
                sprintf(out + 2 * i, "%02x", in[i]);
}

/* Independent reference for the key chain and the final HMAC, with
 * OpenSSL's one-shot helpers (slow, but not the code under test). */
static void reference_signature(const char *secret, const char *date8, const char *region, const char *service,
                                const char *string_to_sign, char out[65]) {
        unsigned char k[32];
        unsigned int len = 0;
        char ksecret[256];

        snprintf(ksecret, sizeof(ksecret), "AWS4%s", secret);
        assert_non_null(HMAC(EVP_sha256(), ksecret, (int) strlen(ksecret), (const unsigned char *) date8, 8, k, &len));
        assert_non_null(HMAC(EVP_sha256(), k, 32, (const unsigned char *) region, strlen(region), k, &len));
        assert_non_null(HMAC(EVP_sha256(), k, 32, (const unsigned char *) service, strlen(service), k, &len));
        assert_non_null(HMAC(EVP_sha256(), k, 32, (const unsigned char *) "aws4_request", 12, k, &len));
        assert_non_null(HMAC(EVP_sha256(), k, 32, (const unsigned char *) string_to_sign, strlen(string_to_sign), k,
                             &len));
        assert_int_equal(len, 32);
        hex(k, 32, out);
}

/* Line 4 of the string to sign must be the SHA-256 of the canonical request. */
static void assert_sts_hashes_creq(const SigV4Result *res) {
        unsigned char md[32];
        char md_hex[65];
        const char *line4 = strrchr(res->string_to_sign, '\n');

        assert_non_null(line4);
        SHA256((const unsigned char *) res->canonical_request, strlen(res->canonical_request), md);
        hex(md, 32, md_hex);
        assert_string_equal(line4 + 1, md_hex);
}

/* ---- request.txt / .req parsing -------------------------------------- */

typedef struct ParsedRequest {
        char *method;
        char *path;
        char *query;                    /* NULL when the target has no '?' */
        char *names[VECTOR_HEADERS_MAX];
        char *values[VECTOR_HEADERS_MAX];
        size_t n_headers;
        char *body;
        size_t body_len;
} ParsedRequest;

static void parsed_request_done(ParsedRequest *p) {
        free(p->method);
        free(p->path);
        free(p->query);
        for (size_t i = 0; i < p->n_headers; i++) {
                free(p->names[i]);
                free(p->values[i]);
        }
        free(p->body);
        *p = (ParsedRequest) {};
}

static char *next_line(const char **cursor, const char *end) {
        const char *start = *cursor, *nl;
        size_t len;

        if (start >= end)
                return NULL;
        nl = memchr(start, '\n', (size_t) (end - start));
        len = nl ? (size_t) (nl - start) : (size_t) (end - start);
        *cursor = nl ? nl + 1 : end;
        if (len > 0 && start[len - 1] == '\r')
                len--;
        return strndup(start, len);
}

static void parse_request(const char *text, size_t len, ParsedRequest *ret) {
        const char *cur = text, *end = text + len;
        _cleanup_free_ char *line = next_line(&cur, end);
        char *sp1, *sp2, *target, *q;
        ParsedRequest p = {};

        assert_non_null(line);
        sp1 = strchr(line, ' ');
        sp2 = strrchr(line, ' ');
        assert_true(sp1 && sp2 && sp2 > sp1);
        p.method = strndup(line, (size_t) (sp1 - line));
        target = strndup(sp1 + 1, (size_t) (sp2 - sp1 - 1));
        assert_non_null(target);
        q = strchr(target, '?');
        if (q) {
                p.query = strdup(q + 1);
                *q = '\0';
        }
        p.path = target;

        for (;;) {
                _cleanup_free_ char *h = next_line(&cur, end);
                char *colon;

                if (!h || !*h)
                        break;
                if (h[0] == ' ' || h[0] == '\t') {
                        /* obs-fold: continuation of the previous value. */
                        char *prev, *joined = NULL;

                        assert_true(p.n_headers > 0);
                        prev = p.values[p.n_headers - 1];
                        assert_true(asprintf(&joined, "%s %s", prev, h + strspn(h, " \t")) >= 0);
                        free(prev);
                        p.values[p.n_headers - 1] = joined;
                        continue;
                }
                colon = strchr(h, ':');
                assert_non_null(colon);
                assert_true(p.n_headers < VECTOR_HEADERS_MAX);
                p.names[p.n_headers] = strndup(h, (size_t) (colon - h));
                p.values[p.n_headers] = strdup(colon + 1);
                p.n_headers++;
        }

        p.body_len = (size_t) (end - cur);
        p.body = strndup(cur, p.body_len);
        *ret = p;
}

/* ---- the vector cases ------------------------------------------------- */

typedef struct VectorCase {
        char *dir;
        char *name;                     /* e.g. "get-vanilla", "original-suite/get-special-character" */
        char *test_name;
        bool original;
        const char *skip_reason;        /* NULL: runs */
} VectorCase;

static VectorCase *vector_cases;
static size_t n_vector_cases;

typedef struct VectorInput {
        char *access_key_id, *secret, *token, *region, *service;
        time_t when;
        bool normalize;
} VectorInput;

static void vector_input_done(VectorInput *v) {
        free(v->access_key_id);
        free(v->secret);
        free(v->token);
        free(v->region);
        free(v->service);
        *v = (VectorInput) {};
}

static const char *json_str(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                return NULL;
        assert_true(json_object_is_type(v, json_type_string));
        return json_object_get_string(v);
}

static bool ctx_bool(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                return false;
        assert_true(json_object_is_type(v, json_type_boolean));
        return json_object_get_boolean(v);
}

static time_t parse_timestamp(const char *s) {
        struct tm tm = {};
        const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);

        assert_non_null(end);
        assert_int_equal(*end, '\0');
        return timegm(&tm);
}

static void load_context(const VectorCase *c, VectorInput *ret) {
        _cleanup_free_ char *p = path_join(c->dir, "context.json");
        json_object *root = json_object_from_file(p), *creds;
        VectorInput v = {};
        const char *token;

        if (!root)
                fail_msg("cannot parse %s", p);
        assert_true(json_object_object_get_ex(root, "credentials", &creds));
        v.access_key_id = strdup(json_str(creds, "access_key_id"));
        v.secret = strdup(json_str(creds, "secret_access_key"));
        token = json_str(creds, "token");
        /* omit_session_token: the token header is added after signing and
         * is not part of the signature, i.e. signed as if there were none. */
        if (token && !ctx_bool(root, "omit_session_token"))
                v.token = strdup(token);
        v.region = strdup(json_str(root, "region"));
        v.service = strdup(json_str(root, "service"));
        v.when = parse_timestamp(json_str(root, "timestamp"));
        v.normalize = ctx_bool(root, "normalize");
        json_object_put(root);
        *ret = v;
}

/* Value of the first "Authorization:" line of a signed request. */
static char *authorization_from_signed_request(const char *text) {
        for (const char *line = text; line && *line;) {
                const char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t) (nl - line) : strlen(line);

                if (len > 14 && strncasecmp(line, "Authorization:", 14) == 0) {
                        const char *v = line + 14;
                        while (*v == ' ')
                                v++;
                        return strndup(v, len - (size_t) (v - line));
                }
                line = nl ? nl + 1 : NULL;
        }
        return NULL;
}

static void test_sigv4_vector__case__matches_expected(void **state) {
        const VectorCase *c = *state;
        _cleanup_sigv4_signer_ SigV4Signer *signer = NULL;
        _cleanup_secret_ Secret *secret = NULL, *token = NULL;
        _cleanup_free_ char *req_text = NULL, *exp_creq = NULL, *exp_sts = NULL, *exp_sig = NULL,
                            *exp_authz = NULL, *signed_req = NULL, *sig_file = NULL, *dropped_date = NULL;
        SigV4Header headers[VECTOR_HEADERS_MAX];
        ParsedRequest preq = {};
        VectorInput in = {};
        SigV4Result res = {};
        size_t req_len = 0, n = 0;
        char ref_sig[65];

        if (c->skip_reason) {
                print_message("skipping %s: %s\n", c->name, c->skip_reason);
                skip();
        }

        if (c->original) {
                const char *base = strrchr(c->name, '/') + 1;
                _cleanup_free_ char *req_name = NULL, *creq_name = NULL, *sts_name = NULL, *authz_name = NULL;

                assert_true(asprintf(&req_name, "%s.req", base) >= 0);
                assert_true(asprintf(&creq_name, "%s.creq", base) >= 0);
                assert_true(asprintf(&sts_name, "%s.sts", base) >= 0);
                assert_true(asprintf(&authz_name, "%s.authz", base) >= 0);
                _cleanup_free_ char *req_path = path_join(c->dir, req_name);
                req_text = read_file(req_path, &req_len);
                assert_non_null(req_text);
                exp_creq = read_file_or_fail(c->dir, creq_name);
                exp_sts = read_file_or_fail(c->dir, sts_name);
                exp_authz = read_file_or_fail(c->dir, authz_name);
                in = (VectorInput) {
                        .access_key_id = strdup(VEC_AKID),
                        .secret = strdup(VEC_SECRET),
                        .region = strdup("us-east-1"),
                        .service = strdup("service"),
                        .when = VEC_TIME,
                        .normalize = true,
                };
        } else {
                _cleanup_free_ char *req_path = path_join(c->dir, "request.txt");
                req_text = read_file(req_path, &req_len);
                assert_non_null(req_text);
                exp_creq = read_file_or_fail(c->dir, "header-canonical-request.txt");
                exp_sts = read_file_or_fail(c->dir, "header-string-to-sign.txt");
                sig_file = read_file_or_fail(c->dir, "header-signature.txt");
                signed_req = read_file_or_fail(c->dir, "header-signed-request.txt");
                exp_authz = authorization_from_signed_request(signed_req);
                assert_non_null(exp_authz);
                load_context(c, &in);
        }

        parse_request(req_text, req_len, &preq);
        for (size_t i = 0; i < preq.n_headers; i++) {
                if (strcasecmp(preq.names[i], "X-Amz-Date") == 0) {
                        dropped_date = strdup(preq.values[i]);
                        continue;
                }
                headers[n++] = (SigV4Header) { preq.names[i], preq.values[i] };
        }

        assert_int_equal(secret_new(&secret, in.secret, strlen(in.secret)), 0);
        if (in.token)
                assert_int_equal(secret_new(&token, in.token, strlen(in.token)), 0);
        const SigV4Credentials creds = {
                .access_key_id = in.access_key_id,
                .secret_access_key = secret,
                .session_token = token,
        };
        const SigV4Request req = {
                .method = preq.method,
                .path = preq.path,
                .query = preq.query,
                .headers = headers,
                .n_headers = n,
                .payload = preq.body,
                .payload_len = preq.body_len,
                .normalize_path = in.normalize,
        };

        assert_int_equal(sigv4_signer_new(&signer), 0);
        sigv4_signer_set_debug(signer, true);
        assert_int_equal(sigv4_sign(signer, &creds, in.region, in.service, in.when, &req, &res), 0);

        if (dropped_date)
                assert_string_equal(res.amz_date, dropped_date);
        assert_string_equal(res.canonical_request, exp_creq);
        assert_string_equal(res.string_to_sign, exp_sts);
        if (sig_file) {
                exp_sig = strndup(sig_file, strspn(sig_file, "0123456789abcdef"));
                assert_string_equal(res.signature, exp_sig);
        }
        assert_string_equal(res.authorization, exp_authz);

        /* Cross-checks independent of the expected files. */
        assert_sts_hashes_creq(&res);
        reference_signature(in.secret, res.amz_date, in.region, in.service, res.string_to_sign, ref_sig);
        assert_string_equal(res.signature, ref_sig);

        sigv4_result_done(&res);
        parsed_request_done(&preq);
        vector_input_done(&in);
}

static int case_name_filter(const struct dirent *d) {
        return d->d_name[0] != '.';
}

static void add_case(const char *dir, const char *name, bool original, const char *skip_reason) {
        VectorCase *c;

        vector_cases = realloc(vector_cases, (n_vector_cases + 1) * sizeof(VectorCase));
        if (!vector_cases)
                abort();
        c = &vector_cases[n_vector_cases++];
        *c = (VectorCase) {
                .dir = strdup(dir),
                .name = strdup(name),
                .original = original,
                .skip_reason = skip_reason,
        };
        if (asprintf(&c->test_name, "test_sigv4_vector__%s__matches_expected", name) < 0 || !c->dir || !c->name)
                abort();
}

/* Finds every case directory; returns how many were found. */
static size_t discover_cases(const char *root, bool original) {
        struct dirent **ents = NULL;
        size_t found = 0;
        int n = scandir(root, &ents, case_name_filter, alphasort);

        if (n < 0)
                return 0;
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *dir = path_join(root, ents[i]->d_name);
                _cleanup_free_ char *req = NULL;
                struct stat st;

                if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                        free(ents[i]);
                        continue;
                }
                if (original) {
                        _cleanup_free_ char *name = NULL;

                        if (asprintf(&req, "%s.req", ents[i]->d_name) < 0 ||
                            asprintf(&name, "original-suite/%s", ents[i]->d_name) < 0)
                                abort();
                        if (file_exists(dir, req)) {
                                add_case(dir, name, true, NULL);
                                found++;
                        }
                } else if (file_exists(dir, "context.json") && file_exists(dir, "request.txt")) {
                        _cleanup_free_ char *ctx_path = path_join(dir, "context.json");
                        json_object *root_obj = json_object_from_file(ctx_path), *v;
                        const char *skip = NULL;

                        if (root_obj && json_object_object_get_ex(root_obj, "sign_body", &v) &&
                            json_object_get_boolean(v))
                                skip = "sign_body (signs x-amz-content-sha256, which this signer never emits; "
                                       "the original-suite version of the case runs instead)";
                        json_object_put(root_obj);
                        add_case(dir, ents[i]->d_name, false, skip);
                        found++;
                }
                free(ents[i]);
        }
        free(ents);
        return found;
}

static void free_cases(void) {
        for (size_t i = 0; i < n_vector_cases; i++) {
                free(vector_cases[i].dir);
                free(vector_cases[i].name);
                free(vector_cases[i].test_name);
        }
        free(vector_cases);
        vector_cases = NULL;
        n_vector_cases = 0;
}

/* ---- hand-written tests ---------------------------------------------- */

typedef struct Fixture {
        SigV4Signer *signer;
        Secret *secret;
        Secret *token;
} Fixture;

static int fixture_setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));

        if (!f || sigv4_signer_new(&f->signer) < 0 ||
            secret_new(&f->secret, VEC_SECRET, strlen(VEC_SECRET)) < 0)
                return -1;
        sigv4_signer_set_debug(f->signer, true);
        *state = f;
        return 0;
}

static int fixture_teardown(void **state) {
        Fixture *f = *state;

        sigv4_signer_free(f->signer);
        secret_free(f->secret);
        secret_free(f->token);
        free(f);
        return 0;
}

static const SigV4Header vanilla_headers[] = { { "Host", "example.amazonaws.com" } };
static const SigV4Request vanilla_req = {
        .method = "GET",
        .path = "/",
        .headers = vanilla_headers,
        .n_headers = 1,
        .normalize_path = true,
};

/* The typical EC2 Query call, with the signature botocore computes for it.
 * Made with Debian's python3-botocore 1.29.27 (/usr/bin/python3; pip's 1.43.11
 * gives the same value):
 *
 *   import datetime; from unittest import mock
 *   import botocore.auth, botocore.awsrequest, botocore.credentials
 *   creds = botocore.credentials.Credentials("ASIAEXAMPLEEXAMPLE01",
 *       "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", EC2_TOKEN)
 *   req = botocore.awsrequest.AWSRequest(method="POST",
 *       url="https://ec2.eu-west-1.amazonaws.com/", data=EC2_BODY,
 *       headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
 *   fixed = datetime.datetime(2024, 2, 29, 23, 59, 58)
 *   class FakeDT(datetime.datetime):
 *       @classmethod
 *       def utcnow(cls): return fixed
 *   with mock.patch.object(botocore.auth.datetime, "datetime", FakeDT):
 *       botocore.auth.SigV4Auth(creds, "ec2", "eu-west-1").add_auth(req)
 *   print(req.headers["Authorization"])
 */
#define EC2_BODY                                                                \
        "Action=DescribeTags&Version=2016-11-15"                                \
        "&Filter.1.Name=resource-id&Filter.1.Value.1=i-0123456789abcdef0"       \
        "&Filter.2.Name=key&Filter.2.Value.1=cdp%3Asnapshot&MaxResults=100"
#define EC2_TOKEN "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCWV1LXdlc3QtMSJHMEUCIQDexampleTOKENvalue+/=="
#define EC2_TIME ((time_t) 1709251198) /* 2024-02-29T23:59:58Z */
#define EC2_BOTOCORE_AUTHORIZATION                                                                      \
        "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEEXAMPLE01/20240229/eu-west-1/ec2/aws4_request, "        \
        "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "                            \
        "Signature=f8876cb67983ebbfd46fd5ce9aa8225f151bbb56f9987a8e335acefd3746eae5"

static void test_sigv4_sign__typical_ec2_post__matches_botocore(void **state) {
        Fixture *f = *state;
        const SigV4Header headers[] = {
                { "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" },
                { "Host", "ec2.eu-west-1.amazonaws.com" },
        };
        const SigV4Request req = {
                .method = "POST",
                .path = "/",
                .headers = headers,
                .n_headers = ELEMENTSOF(headers),
                .payload = EC2_BODY,
                .payload_len = strlen(EC2_BODY),
                .normalize_path = true,
        };
        SigV4Result res = {};

        assert_int_equal(secret_new(&f->token, EC2_TOKEN, strlen(EC2_TOKEN)), 0);
        const SigV4Credentials creds = {
                .access_key_id = "ASIAEXAMPLEEXAMPLE01",
                .secret_access_key = f->secret,
                .session_token = f->token,
        };

        assert_int_equal(sigv4_sign(f->signer, &creds, "eu-west-1", "ec2", EC2_TIME, &req, &res), 0);
        assert_string_equal(res.amz_date, "20240229T235958Z");
        assert_string_equal(res.authorization, EC2_BOTOCORE_AUTHORIZATION);
        assert_string_equal(res.signature, strrchr(EC2_BOTOCORE_AUTHORIZATION, '=') + 1);
        assert_string_equal(res.canonical_request,
                            "POST\n/\n\n"
                            "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
                            "host:ec2.eu-west-1.amazonaws.com\n"
                            "x-amz-date:20240229T235958Z\n"
                            "x-amz-security-token:" EC2_TOKEN "\n\n"
                            "content-type;host;x-amz-date;x-amz-security-token\n"
                            "540f2b9c5687c31a1fb4e099e8d0141a30a5d50cbb36767b2ddae3c1fe86b3b0");
        sigv4_result_done(&res);
}

static void sign_and_check(Fixture *f, const char *akid, const char *secret_text, const char *region,
                           const char *service, time_t when, uint64_t expected_derivations) {
        _cleanup_secret_ Secret *secret = NULL;
        SigV4Result res = {};
        char ref[65], date8[9];

        assert_int_equal(secret_new(&secret, secret_text, strlen(secret_text)), 0);
        const SigV4Credentials creds = { .access_key_id = akid, .secret_access_key = secret };

        assert_int_equal(sigv4_sign(f->signer, &creds, region, service, when, &vanilla_req, &res), 0);
        memcpy(date8, res.amz_date, 8);
        date8[8] = '\0';
        reference_signature(secret_text, date8, region, service, res.string_to_sign, ref);
        assert_string_equal(res.signature, ref);
        assert_non_null(strstr(res.string_to_sign, region));
        assert_int_equal(sigv4_signer_get_key_derivations(f->signer), expected_derivations);
        sigv4_result_done(&res);
}

static void test_sigv4_key_cache__scope_changes__rederived_and_correct(void **state) {
        Fixture *f = *state;
        const time_t day1 = VEC_TIME, day2 = VEC_TIME + 86400;
        const char *other_secret = "AnotherSecretKeyAnotherSecretKeyAnother1";

        assert_int_equal(sigv4_signer_get_key_derivations(f->signer), 0);
        sign_and_check(f, VEC_AKID, VEC_SECRET, "us-east-1", "ec2", day1, 1);
        /* Same day, later: cache hit. */
        sign_and_check(f, VEC_AKID, VEC_SECRET, "us-east-1", "ec2", day1 + 3600, 1);
        sign_and_check(f, VEC_AKID, VEC_SECRET, "us-east-1", "ec2", day1 - 12 * 3600, 1);
        /* Next day: miss. */
        sign_and_check(f, VEC_AKID, VEC_SECRET, "us-east-1", "ec2", day2, 2);
        sign_and_check(f, VEC_AKID, VEC_SECRET, "us-east-1", "ec2", day2 + 60, 2);
        /* Other region, other service: miss each time the scope changes. */
        sign_and_check(f, VEC_AKID, VEC_SECRET, "eu-west-1", "ec2", day2, 3);
        sign_and_check(f, VEC_AKID, VEC_SECRET, "eu-west-1", "sts", day2, 4);
        sign_and_check(f, VEC_AKID, VEC_SECRET, "us-east-1", "ec2", day2, 5);
        /* Rotated credentials: new key id, or same key id with a new secret. */
        sign_and_check(f, "AKIDOTHER", VEC_SECRET, "us-east-1", "ec2", day2, 6);
        sign_and_check(f, "AKIDOTHER", other_secret, "us-east-1", "ec2", day2, 7);
        sign_and_check(f, "AKIDOTHER", other_secret, "us-east-1", "ec2", day2 + 1, 7);
        /* Back to the first day: miss again, still right. */
        sign_and_check(f, VEC_AKID, VEC_SECRET, "us-east-1", "ec2", day1, 8);
}

static void assert_sign_fails(Fixture *f, const SigV4Credentials *creds, const char *region, const char *service,
                              const SigV4Request *req, int expected) {
        SigV4Result res;

        /* Poison *ret: a failed call must leave it untouched. */
        memset(&res, 0x5a, sizeof(res));
        assert_int_equal(sigv4_sign(f->signer, creds, region, service, VEC_TIME, req, &res), expected);
        for (size_t i = 0; i < sizeof(res); i++)
                assert_int_equal(((unsigned char *) &res)[i], 0x5a);
}

static void test_sigv4_sign__crlf_in_header_value__einval(void **state) {
        Fixture *f = *state;
        const SigV4Credentials creds = { .access_key_id = VEC_AKID, .secret_access_key = f->secret };
        static const char *bad_values[] = {
                "value\r\nX-Injected: 1", "value\nX-Injected: 1", "value\r", "\nvalue", "a\rb",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad_values); i++) {
                const SigV4Header headers[] = {
                        { "Host", "example.amazonaws.com" },
                        { "My-Header", bad_values[i] },
                };
                SigV4Request req = vanilla_req;

                req.headers = headers;
                req.n_headers = ELEMENTSOF(headers);
                assert_sign_fails(f, &creds, "us-east-1", "service", &req, -EINVAL);

                /* The same value on Host itself. */
                const SigV4Header host_only[] = { { "Host", bad_values[i] } };
                req.headers = host_only;
                req.n_headers = 1;
                assert_sign_fails(f, &creds, "us-east-1", "service", &req, -EINVAL);
        }
}

static void test_sigv4_sign__crlf_elsewhere__einval(void **state) {
        Fixture *f = *state;
        _cleanup_secret_ Secret *bad_token = NULL;
        const SigV4Credentials creds = { .access_key_id = VEC_AKID, .secret_access_key = f->secret };
        SigV4Request req;

        assert_int_equal(secret_new(&bad_token, "tok\r\nX-Injected: 1", 19), 0);
        const SigV4Credentials bad_creds = {
                .access_key_id = VEC_AKID,
                .secret_access_key = f->secret,
                .session_token = bad_token,
        };
        assert_sign_fails(f, &bad_creds, "us-east-1", "service", &vanilla_req, -EINVAL);

        req = vanilla_req;
        req.method = "GET\r\n";
        assert_sign_fails(f, &creds, "us-east-1", "service", &req, -EINVAL);
        req = vanilla_req;
        req.path = "/a\r\nb";
        assert_sign_fails(f, &creds, "us-east-1", "service", &req, -EINVAL);
        req = vanilla_req;
        req.query = "a=b\nc";
        assert_sign_fails(f, &creds, "us-east-1", "service", &req, -EINVAL);
}

static void test_sigv4_sign__invalid_input__einval(void **state) {
        Fixture *f = *state;
        const SigV4Credentials creds = { .access_key_id = VEC_AKID, .secret_access_key = f->secret };
        const SigV4Credentials no_secret = { .access_key_id = VEC_AKID };
        const SigV4Credentials bad_akid = { .access_key_id = "AKID/x", .secret_access_key = f->secret };
        const SigV4Credentials comma_akid = { .access_key_id = "AKID,x", .secret_access_key = f->secret };
        static const SigV4Header no_host[] = { { "My-Header", "x" } };
        static const SigV4Header bad_name[] = { { "Host", "h" }, { "My Header", "x" } };
        static const SigV4Header colon_name[] = { { "Host", "h" }, { "My:Header", "x" } };
        static const SigV4Header own_date[] = { { "Host", "h" }, { "X-Amz-Date", "20150830T123600Z" } };
        static const SigV4Header own_token[] = { { "Host", "h" }, { "x-amz-security-token", "t" } };
        static const SigV4Header own_auth[] = { { "Host", "h" }, { "Authorization", "AWS4-HMAC-SHA256 x" } };
        const struct {
                const SigV4Header *h;
                size_t n;
        } header_sets[] = {
                { no_host, 1 }, { bad_name, 2 }, { colon_name, 2 }, { own_date, 2 }, { own_token, 2 }, { own_auth, 2 },
        };
        SigV4Request req;

        for (size_t i = 0; i < ELEMENTSOF(header_sets); i++) {
                req = vanilla_req;
                req.headers = header_sets[i].h;
                req.n_headers = header_sets[i].n;
                assert_sign_fails(f, &creds, "us-east-1", "service", &req, -EINVAL);
        }

        assert_sign_fails(f, &no_secret, "us-east-1", "service", &vanilla_req, -EINVAL);
        assert_sign_fails(f, &bad_akid, "us-east-1", "service", &vanilla_req, -EINVAL);
        assert_sign_fails(f, &comma_akid, "us-east-1", "service", &vanilla_req, -EINVAL);
        assert_sign_fails(f, &creds, "us-east-1/x", "service", &vanilla_req, -EINVAL);
        assert_sign_fails(f, &creds, "", "service", &vanilla_req, -EINVAL);
        assert_sign_fails(f, &creds, "us-east-1", "ser vice", &vanilla_req, -EINVAL);
        assert_sign_fails(f, &creds, "us-east-1", NULL, &vanilla_req, -EINVAL);

        req = vanilla_req;
        req.method = "";
        assert_sign_fails(f, &creds, "us-east-1", "service", &req, -EINVAL);
        req = vanilla_req;
        req.path = "relative";
        assert_sign_fails(f, &creds, "us-east-1", "service", &req, -EINVAL);
        req = vanilla_req;
        req.query = "a=%zz";
        assert_sign_fails(f, &creds, "us-east-1", "service", &req, -EINVAL);
        req = vanilla_req;
        req.payload_len = 3;
        assert_sign_fails(f, &creds, "us-east-1", "service", &req, -EINVAL);
        req = vanilla_req;
        req.n_headers = SIGV4_HEADERS_MAX + 1;
        assert_sign_fails(f, &creds, "us-east-1", "service", &req, -E2BIG);

        /* One parameter too many; then one header value past the size cap. */
        _cleanup_free_ char *big_query = malloc(2 * (SIGV4_QUERY_PARAMS_MAX + 1));
        assert_non_null(big_query);
        for (size_t i = 0; i < SIGV4_QUERY_PARAMS_MAX + 1; i++)
                memcpy(big_query + 2 * i, "a&", 2);
        big_query[2 * (SIGV4_QUERY_PARAMS_MAX + 1) - 1] = '\0';
        req = vanilla_req;
        req.query = big_query;
        assert_sign_fails(f, &creds, "us-east-1", "service", &req, -E2BIG);
        big_query[2 * SIGV4_QUERY_PARAMS_MAX - 1] = '\0';        /* exactly the maximum */
        SigV4Result ok = {};
        assert_int_equal(sigv4_sign(f->signer, &creds, "us-east-1", "service", VEC_TIME, &req, &ok), 0);
        sigv4_result_done(&ok);

        _cleanup_free_ char *big_value = malloc(SIGV4_CANONICAL_REQUEST_MAX + 1);
        assert_non_null(big_value);
        memset(big_value, 'v', SIGV4_CANONICAL_REQUEST_MAX);
        big_value[SIGV4_CANONICAL_REQUEST_MAX] = '\0';
        const SigV4Header big_headers[] = { { "Host", "h" }, { "X-Big", big_value } };
        req = vanilla_req;
        req.headers = big_headers;
        req.n_headers = 2;
        assert_sign_fails(f, &creds, "us-east-1", "service", &req, -E2BIG);

        SigV4Result res;
        memset(&res, 0x5a, sizeof(res));
        assert_int_equal(sigv4_sign(f->signer, &creds, "us-east-1", "service", (time_t) -1, &vanilla_req, &res),
                         -EINVAL);
        assert_int_equal(sigv4_sign(NULL, &creds, "us-east-1", "service", VEC_TIME, &vanilla_req, &res), -EINVAL);
        assert_int_equal(sigv4_sign(f->signer, &creds, "us-east-1", "service", VEC_TIME, &vanilla_req, NULL),
                         -EINVAL);
}

static void test_sigv4_sign__path_and_query_rules__canonicalized(void **state) {
        Fixture *f = *state;
        const SigV4Credentials creds = { .access_key_id = VEC_AKID, .secret_access_key = f->secret };
        /* Canonical URIs as botocore's SigV4Auth._normalize_url_path() gives them;
         * queries decoded, re-encoded and sorted (the aws-c-auth rule: botocore
         * sorts a URL's query raw, but never signs one for EC2). */
        static const struct {
                const char *path, *canonical;
        } paths[] = {
                { "/a/b/../c/./d//", "/a/c/d/" },
                { "/a/b/..", "/a" },
                { "/a/.", "/a" },
                { "/..", "/" },
                { "/../a/", "/a/" },
                { "//", "/" },
                { "/a%20b", "/a%2520b" },
                { "/$x", "/%24x" },
                { "/a/b/../../..", "/" },
                { "", "/" },
                { NULL, "/" },
        };
        static const struct {
                const char *query, *canonical;
        } queries[] = {
                { "b=2&a=1&a=0", "a=0&a=1&b=2" },
                { "flag&x=", "flag=&x=" },
                { "a=1&&b=2&", "a=1&b=2" },
                { "k=a+b", "k=a%2Bb" },
                { "k=%7e%2F%41", "k=~%2FA" },
                { "", "" },
        };
        SigV4Result res = {};

        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                SigV4Request req = vanilla_req;
                _cleanup_free_ char *expected = NULL;

                req.path = paths[i].path;
                assert_int_equal(sigv4_sign(f->signer, &creds, "us-east-1", "service", VEC_TIME, &req, &res), 0);
                assert_true(asprintf(&expected, "GET\n%s\n\n", paths[i].canonical) >= 0);
                assert_memory_equal(res.canonical_request, expected, strlen(expected));
                sigv4_result_done(&res);
        }
        for (size_t i = 0; i < ELEMENTSOF(queries); i++) {
                SigV4Request req = vanilla_req;
                _cleanup_free_ char *expected = NULL;

                req.query = queries[i].query;
                assert_int_equal(sigv4_sign(f->signer, &creds, "us-east-1", "service", VEC_TIME, &req, &res), 0);
                assert_true(asprintf(&expected, "GET\n/\n%s\nhost:", queries[i].canonical) >= 0);
                assert_memory_equal(res.canonical_request, expected, strlen(expected));
                sigv4_result_done(&res);
        }
}

static void test_sigv4_sign__header_whitespace__collapsed(void **state) {
        Fixture *f = *state;
        const SigV4Credentials creds = { .access_key_id = VEC_AKID, .secret_access_key = f->secret };
        const SigV4Header headers[] = {
                { "Host", "example.amazonaws.com" },
                { "X-B", " \t a \t\t b  c \t" },
                { "x-a", "" },
                { "X-B", "second" },
                { "x-A", "  " },
        };
        SigV4Request req = vanilla_req;
        SigV4Result res = {};

        req.headers = headers;
        req.n_headers = ELEMENTSOF(headers);
        assert_int_equal(sigv4_sign(f->signer, &creds, "us-east-1", "service", VEC_TIME, &req, &res), 0);
        assert_string_equal(res.canonical_request,
                            "GET\n/\n\n"
                            "host:example.amazonaws.com\n"
                            "x-a:,\n"
                            "x-amz-date:20150830T123600Z\n"
                            "x-b:a b c,second\n\n"
                            "host;x-a;x-amz-date;x-b\n"
                            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_sts_hashes_creq(&res);
        sigv4_result_done(&res);
}

static void test_sigv4_sign__debug_off__no_intermediates(void **state) {
        Fixture *f = *state;
        const SigV4Credentials creds = { .access_key_id = VEC_AKID, .secret_access_key = f->secret };
        SigV4Result res = {};

        sigv4_signer_set_debug(f->signer, false);
        assert_int_equal(sigv4_sign(f->signer, &creds, "us-east-1", "service", VEC_TIME, &vanilla_req, &res), 0);
        assert_null(res.canonical_request);
        assert_null(res.string_to_sign);
        /* get-vanilla's expected signature. */
        assert_string_equal(res.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
        sigv4_result_done(&res);
        sigv4_result_done(&res);        /* idempotent */
        assert_null(res.authorization);
        sigv4_result_done(NULL);
}

static void test_sigv4_format_amz_date__range__matches_gmtime(void **state) {
        static const time_t fixed[] = {
                0, 59, 86399, 86400, 951782400 /* 2000-02-29 */, 951868799, 1440938160, 1709251198,
                4107542400 /* 2100-03-01 */, 253402300799 /* 9999-12-31T23:59:59 */,
        };
        char buf[17], ref[32];
        uint64_t x = 0x9e3779b97f4a7c15ULL;
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(fixed) + 20000; i++) {
                time_t t;
                struct tm tm;

                if (i < ELEMENTSOF(fixed))
                        t = fixed[i];
                else {
                        /* xorshift over the whole valid range */
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        t = (time_t) (x % UINT64_C(253402300800));
                }
                assert_non_null(gmtime_r(&t, &tm));
                assert_true(strftime(ref, sizeof(ref), "%Y%m%dT%H%M%SZ", &tm) == 16);
                assert_int_equal(sigv4_format_amz_date(t, buf), 0);
                assert_string_equal(buf, ref);
        }
        assert_int_equal(sigv4_format_amz_date((time_t) -1, buf), -EINVAL);
        assert_int_equal(sigv4_format_amz_date((time_t) 253402300800, buf), -EINVAL);
}

static void test_sigv4_signer__free_null__returns_null(void **state) {
        (void) state;
        assert_null(sigv4_signer_free(NULL));
        assert_int_equal(sigv4_signer_new(NULL), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_sigv4_sign__typical_ec2_post__matches_botocore,
                                                fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_sigv4_key_cache__scope_changes__rederived_and_correct,
                                                fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_sigv4_sign__crlf_in_header_value__einval,
                                                fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_sigv4_sign__crlf_elsewhere__einval,
                                                fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_sigv4_sign__invalid_input__einval,
                                                fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_sigv4_sign__path_and_query_rules__canonicalized,
                                                fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_sigv4_sign__header_whitespace__collapsed,
                                                fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_sigv4_sign__debug_off__no_intermediates,
                                                fixture_setup, fixture_teardown),
                cmocka_unit_test(test_sigv4_format_amz_date__range__matches_gmtime),
                cmocka_unit_test(test_sigv4_signer__free_null__returns_null),
        };
        _cleanup_free_ char *root = path_join(data_dir(), "sigv4");
        _cleanup_free_ char *orig_root = path_join(root, "original-suite");
        _cleanup_free_ struct CMUnitTest *vector_tests = NULL;
        size_t n_aws, n_orig, n_skipped = 0;
        int failed;

        failed = cmocka_run_group_tests_name("sigv4", tests, NULL, NULL);

        n_aws = discover_cases(root, false);
        n_orig = discover_cases(orig_root, true);
        if (n_aws == 0 || n_orig == 0) {
                fprintf(stderr, "sigv4: no test vectors under %s (set CDP_TEST_DATA)\n", root);
                return failed + 1;
        }

        vector_tests = calloc(n_vector_cases, sizeof(struct CMUnitTest));
        if (!vector_tests)
                return failed + 1;
        for (size_t i = 0; i < n_vector_cases; i++) {
                vector_tests[i] = (struct CMUnitTest) {
                        .name = vector_cases[i].test_name,
                        .test_func = test_sigv4_vector__case__matches_expected,
                        .initial_state = &vector_cases[i],
                };
                if (vector_cases[i].skip_reason) {
                        n_skipped++;
                        printf("sigv4 vectors: skipping %s: %s\n", vector_cases[i].name, vector_cases[i].skip_reason);
                }
        }
        printf("sigv4 vectors: %zu cases found (%zu aws-c-auth, %zu original-suite), %zu to run, %zu skipped; "
               "presigned/ outputs not checked (query-string signing not implemented)\n",
               n_vector_cases, n_aws, n_orig, n_vector_cases - n_skipped, n_skipped);
        fflush(stdout);

        /* The dynamic-array form of cmocka_run_group_tests_name(). */
        failed += _cmocka_run_group_tests("sigv4-vectors", vector_tests, n_vector_cases, NULL, NULL);

        printf("sigv4 vectors: %zu ran, %zu skipped, %d failed\n", n_vector_cases - n_skipped, n_skipped, failed);
        free_cases();
        return failed;
}
