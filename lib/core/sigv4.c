/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "cdp/sigv4.h"
#include "cdp/strbuf.h"
#include "cdp/uri.h"

#define SHA256_LEN 32
#define ALGORITHM "AWS4-HMAC-SHA256"
/* Hex SHA-256 of the empty string: the payload hash of every body-less request. */
#define EMPTY_SHA256_HEX "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct HeaderRef {
        const char *name;
        size_t name_len;
        const char *value;
} HeaderRef;

typedef struct QueryParam {
        /* Offsets into SigV4Signer.query while encoding, pointers once the
         * buffer stops moving. */
        size_t key_off, key_len, value_off, value_len;
        const char *key, *value;
} QueryParam;

struct SigV4Signer {
        EVP_MD *sha256;
        EVP_MAC *hmac;
        EVP_MD_CTX *md_ctx;
        EVP_MAC_CTX *mac_derive;        /* re-keyed for each step of the key chain */
        EVP_MAC_CTX *mac_sign;          /* holds the cached signing key (its only copy) */

        /* Signing key cache: valid for exactly this scope and credential. */
        bool key_valid;
        char key_date[9];
        char *key_region;
        char *key_service;
        char *key_access_key_id;
        Secret *key_secret;             /* copy, to notice a rotated secret */
        uint64_t key_derivations;

        bool debug;

        /* Scratch kept between calls so a signature normally allocates only
         * its result strings. */
        StrBuf creq;                    /* canonical request; sensitive: holds the token */
        StrBuf sts;                     /* string to sign */
        StrBuf signed_headers;
        StrBuf path;                    /* normalized path */
        StrBuf query;                   /* encoded query keys and values */
        StrBuf decoded;                 /* one decoded query key or value */
        HeaderRef *headers;             /* SIGV4_HEADERS_MAX + 2 entries */
        QueryParam *params;
        size_t n_params_alloc;
};

static const char hex_lower[16] = "0123456789abcdef";

static void hex_encode(char *out, const unsigned char *in, size_t n) {
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = hex_lower[in[i] >> 4];
                out[2 * i + 1] = hex_lower[in[i] & 0xf];
        }
        out[2 * n] = '\0';
}

static char ascii_lower(char c) {
        return c >= 'A' && c <= 'Z' ? (char) (c + ('a' - 'A')) : c;
}

/* RFC 9110 token characters (header names, methods). */
static const bool tchar_table[256] = {
        ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1,
        ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
        ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
};

static bool is_tchar(unsigned char c) {
        return tchar_table[c];
}

static bool has_crlf(const char *s) {
        return strpbrk(s, "\r\n") != NULL;
}

/* Credential-scope and Authorization fields: printable ASCII without '/'
 * (which would shift the scope's fields) and, with no_comma, without ','
 * (which would end the Credential= part of the header). */
static bool scope_field_valid(const char *s, bool no_comma) {
        if (!s || !*s)
                return false;
        for (const char *p = s; *p; p++) {
                unsigned char c = (unsigned char) *p;
                if (c <= ' ' || c >= 0x7f || c == '/' || (no_comma && c == ','))
                        return false;
        }
        return true;
}

static bool name_equal_lower(const char *name, size_t len, const char *lower) {
        size_t n = strlen(lower);

        if (len != n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (ascii_lower(name[i]) != lower[i])
                        return false;
        return true;
}

int sigv4_format_amz_date(time_t now, char ret[static 17]) {
        /* Civil-from-days (proleptic Gregorian) by hand: gmtime_r() takes
         * glibc's timezone lock on every call, which shows up at 300k/s. */
        int64_t t = (int64_t) now, days, secs, era, doe, yoe, doy, mp, y, m, d;

        if (t < 0 || t >= INT64_C(253402300800)) /* 10000-01-01T00:00:00Z */
                return -EINVAL;

        days = t / 86400;
        secs = t % 86400;
        days += 719468;                         /* shift epoch to 0000-03-01 */
        era = days / 146097;
        doe = days - era * 146097;
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        d = doy - (153 * mp + 2) / 5 + 1;
        m = mp < 10 ? mp + 3 : mp - 9;
        y = yoe + era * 400 + (m <= 2);

        int64_t fields[] = { y / 1000, y / 100 % 10, y / 10 % 10, y % 10,
                             m / 10, m % 10, d / 10, d % 10 };
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                ret[i] = (char) ('0' + fields[i]);
        ret[8] = 'T';
        int64_t h = secs / 3600, mi = secs / 60 % 60, se = secs % 60;
        ret[9] = (char) ('0' + h / 10);
        ret[10] = (char) ('0' + h % 10);
        ret[11] = (char) ('0' + mi / 10);
        ret[12] = (char) ('0' + mi % 10);
        ret[13] = (char) ('0' + se / 10);
        ret[14] = (char) ('0' + se % 10);
        ret[15] = 'Z';
        ret[16] = '\0';
        return 0;
}

int sigv4_signer_new(SigV4Signer **ret) {
        _cleanup_sigv4_signer_ SigV4Signer *s = NULL;
        char digest[] = "SHA256";
        OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                OSSL_PARAM_construct_end(),
        };

        if (!ret)
                return -EINVAL;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->creq = STRBUF_INIT(SIGV4_CANONICAL_REQUEST_MAX);
        s->creq.sensitive = true;
        s->sts = STRBUF_INIT(SIGV4_CANONICAL_REQUEST_MAX);
        s->signed_headers = STRBUF_INIT(SIGV4_CANONICAL_REQUEST_MAX);
        s->path = STRBUF_INIT(SIGV4_CANONICAL_REQUEST_MAX);
        s->query = STRBUF_INIT(SIGV4_CANONICAL_REQUEST_MAX);
        s->decoded = STRBUF_INIT(SIGV4_CANONICAL_REQUEST_MAX);

        s->headers = calloc(SIGV4_HEADERS_MAX + 2, sizeof(HeaderRef));
        if (!s->headers)
                return -ENOMEM;

        s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
        s->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        if (!s->sha256 || !s->hmac)
                return -EIO;
        s->md_ctx = EVP_MD_CTX_new();
        s->mac_derive = EVP_MAC_CTX_new(s->hmac);
        s->mac_sign = EVP_MAC_CTX_new(s->hmac);
        if (!s->md_ctx || !s->mac_derive || !s->mac_sign)
                return -ENOMEM;
        if (EVP_MAC_CTX_set_params(s->mac_derive, params) != 1 ||
            EVP_MAC_CTX_set_params(s->mac_sign, params) != 1)
                return -EIO;

        *ret = TAKE_PTR(s);
        return 0;
}

static void signer_key_forget(SigV4Signer *s) {
        s->key_valid = false;
        s->key_date[0] = '\0';
        free(s->key_region);
        free(s->key_service);
        free(s->key_access_key_id);
        s->key_region = s->key_service = s->key_access_key_id = NULL;
        s->key_secret = secret_free(s->key_secret);
}

SigV4Signer *sigv4_signer_free(SigV4Signer *s) {
        if (!s)
                return NULL;
        signer_key_forget(s);
        /* EVP_MAC_CTX_free() cleanses the HMAC key schedule it holds. */
        EVP_MAC_CTX_free(s->mac_sign);
        EVP_MAC_CTX_free(s->mac_derive);
        EVP_MD_CTX_free(s->md_ctx);
        EVP_MAC_free(s->hmac);
        EVP_MD_free(s->sha256);
        strbuf_done(&s->creq);
        strbuf_done(&s->sts);
        strbuf_done(&s->signed_headers);
        strbuf_done(&s->path);
        strbuf_done(&s->query);
        strbuf_done(&s->decoded);
        free(s->headers);
        free(s->params);
        free(s);
        return NULL;
}

void sigv4_signer_set_debug(SigV4Signer *s, bool keep_intermediates) {
        if (s)
                s->debug = keep_intermediates;
}

uint64_t sigv4_signer_get_key_derivations(const SigV4Signer *s) {
        return s ? s->key_derivations : 0;
}

void sigv4_result_done(SigV4Result *r) {
        if (!r)
                return;
        free(r->authorization);
        if (r->canonical_request)
                erase_and_free(r->canonical_request, strlen(r->canonical_request));
        free(r->string_to_sign);
        *r = (SigV4Result) {};
}

static int sha256_hex(SigV4Signer *s, const void *data, size_t len, char out[static 2 * SHA256_LEN + 1]) {
        unsigned char md[SHA256_LEN];

        if (EVP_DigestInit_ex2(s->md_ctx, s->sha256, NULL) != 1 ||
            EVP_DigestUpdate(s->md_ctx, data, len) != 1 ||
            EVP_DigestFinal_ex(s->md_ctx, md, NULL) != 1)
                return -EIO;
        hex_encode(out, md, SHA256_LEN);
        return 0;
}

static int hmac_keyed(EVP_MAC_CTX *ctx, const void *key, size_t key_len, const void *data, size_t len,
                      unsigned char out[static SHA256_LEN]) {
        size_t out_len = 0;

        if (EVP_MAC_init(ctx, key, key_len, NULL) != 1 ||
            EVP_MAC_update(ctx, data, len) != 1 ||
            EVP_MAC_final(ctx, out, &out_len, SHA256_LEN) != 1 ||
            out_len != SHA256_LEN)
                return -EIO;
        return 0;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"),
 * cached until the day, region, service or credential changes. */
static int signer_key_ensure(SigV4Signer *s, const SigV4Credentials *creds, const char *date,
                             const char *region, const char *service) {
        _cleanup_free_ char *new_region = NULL, *new_service = NULL, *new_akid = NULL;
        _cleanup_secret_ Secret *new_secret = NULL;
        unsigned char k1[SHA256_LEN], k2[SHA256_LEN], k3[SHA256_LEN], k4[SHA256_LEN];
        size_t secret_len_ = secret_len(creds->secret_access_key), ksecret_len;
        char *ksecret;
        int r;

        if (s->key_valid &&
            memcmp(s->key_date, date, 8) == 0 &&
            strcmp(s->key_region, region) == 0 &&
            strcmp(s->key_service, service) == 0 &&
            strcmp(s->key_access_key_id, creds->access_key_id) == 0 &&
            secret_equal(s->key_secret, creds->secret_access_key))
                return 0;

        s->key_derivations++;
        new_region = strdup(region);
        new_service = strdup(service);
        new_akid = strdup(creds->access_key_id);
        if (!new_region || !new_service || !new_akid)
                return -ENOMEM;
        r = secret_new(&new_secret, secret_data(creds->secret_access_key), secret_len_);
        if (r < 0)
                return r;

        ksecret_len = 4 + secret_len_;
        ksecret = malloc(ksecret_len);
        if (!ksecret)
                return -ENOMEM;
        memcpy(ksecret, "AWS4", 4);
        memcpy(ksecret + 4, secret_data(creds->secret_access_key), secret_len_);

        r = hmac_keyed(s->mac_derive, ksecret, ksecret_len, date, 8, k1);
        if (r >= 0)
                r = hmac_keyed(s->mac_derive, k1, SHA256_LEN, region, strlen(region), k2);
        if (r >= 0)
                r = hmac_keyed(s->mac_derive, k2, SHA256_LEN, service, strlen(service), k3);
        if (r >= 0)
                r = hmac_keyed(s->mac_derive, k3, SHA256_LEN, "aws4_request", strlen("aws4_request"), k4);
        /* Re-keying replaces the old key inside mac_sign; OpenSSL clears the
         * copy it kept of the previous one. */
        if (r >= 0 && EVP_MAC_init(s->mac_sign, k4, SHA256_LEN, NULL) != 1)
                r = -EIO;

        /* mac_derive still holds k3 (as good as the signing key): re-key it
         * with an empty key so OpenSSL wipes that copy now, not at free. */
        if (EVP_MAC_init(s->mac_derive, (const unsigned char *) "", 0, NULL) != 1 && r >= 0)
                r = -EIO;

        erase_and_free(ksecret, ksecret_len);
        OPENSSL_cleanse(k1, sizeof(k1));
        OPENSSL_cleanse(k2, sizeof(k2));
        OPENSSL_cleanse(k3, sizeof(k3));
        OPENSSL_cleanse(k4, sizeof(k4));

        /* Whatever happened, the old scope no longer matches mac_sign. */
        signer_key_forget(s);
        if (r < 0)
                return r;

        memcpy(s->key_date, date, 8);
        s->key_date[8] = '\0';
        s->key_region = TAKE_PTR(new_region);
        s->key_service = TAKE_PTR(new_service);
        s->key_access_key_id = TAKE_PTR(new_akid);
        s->key_secret = TAKE_PTR(new_secret);
        s->key_valid = true;
        return 0;
}

static int append_lower(StrBuf *b, const char *s, size_t len) {
        char buf[64];
        int r;

        while (len > 0) {
                size_t n = MIN(len, sizeof(buf));

                for (size_t i = 0; i < n; i++)
                        buf[i] = ascii_lower(s[i]);
                r = strbuf_append(b, buf, n);
                if (r < 0)
                        return r;
                s += n;
                len -= n;
        }
        return 0;
}

/* Trimmed, inner SP/HT runs folded to one SP; copied run by run (strcspn
 * is vectorised, which matters for a ~1 KiB session token). A CR or LF
 * would let the value smuggle in another header: -EINVAL. */
static int append_header_value(StrBuf *b, const char *v) {
        bool first = true;
        int r;

        for (;;) {
                size_t run;

                v += strspn(v, " \t");
                run = strcspn(v, " \t\r\n");
                if (v[run] == '\r' || v[run] == '\n')
                        return -EINVAL;
                if (run == 0)
                        return 0;       /* end of string: trailing blanks dropped */
                if (!first) {
                        r = strbuf_putc(b, ' ');
                        if (r < 0)
                                return r;
                }
                r = strbuf_append(b, v, run);
                if (r < 0)
                        return r;
                v += run;
                first = false;
        }
}

/* Segment-wise normalisation as botocore's remove_dot_segments(): empty and
 * "." segments vanish, ".." drops the previous one (never above the root), a
 * trailing '/' survives when anything is left. */
static int normalize_path(StrBuf *out, const char *path) {
        size_t len = strlen(path);
        const char *p = path, *end = path + len;
        int r;

        strbuf_reset(out);
        while (p < end) {
                const char *seg = p, *slash = memchr(p, '/', (size_t) (end - p));
                size_t seg_len = slash ? (size_t) (slash - p) : (size_t) (end - p);

                p = slash ? slash + 1 : end;
                if (seg_len == 0 || (seg_len == 1 && seg[0] == '.'))
                        continue;
                if (seg_len == 2 && seg[0] == '.' && seg[1] == '.') {
                        /* Every kept segment starts with '/', so popping one
                         * means cutting at the last '/'. */
                        size_t cut = out->len;

                        while (cut > 0 && out->data[cut - 1] != '/')
                                cut--;
                        if (cut > 0) {
                                out->len = cut - 1;
                                out->data[out->len] = '\0';
                        }
                        continue;
                }
                r = strbuf_putc(out, '/');
                if (r < 0)
                        return r;
                r = strbuf_append(out, seg, seg_len);
                if (r < 0)
                        return r;
        }

        if (out->len == 0)
                return strbuf_putc(out, '/');
        if (path[len - 1] == '/')
                return strbuf_putc(out, '/');
        return 0;
}

static int append_canonical_uri(SigV4Signer *s, const char *path, bool normalize) {
        int r;

        if (!path || !*path || (path[0] == '/' && path[1] == '\0'))
                return strbuf_putc(&s->creq, '/');

        if (!normalize)
                return uri_encode(&s->creq, path, strlen(path), /* keep_slash= */ true);

        r = normalize_path(&s->path, path);
        if (r < 0)
                return r;
        r = uri_encode(&s->creq, s->path.data, s->path.len, /* keep_slash= */ true);
        strbuf_reset(&s->path);
        return r;
}

static int query_part_encode(SigV4Signer *s, const char *p, size_t len, size_t *ret_off, size_t *ret_len) {
        size_t off = s->query.len;
        int r;

        strbuf_reset(&s->decoded);
        r = uri_decode(&s->decoded, p, len);
        if (r < 0)
                return r;
        r = uri_encode(&s->query, s->decoded.data, s->decoded.len, /* keep_slash= */ false);
        if (r < 0)
                return r;
        *ret_off = off;
        *ret_len = s->query.len - off;
        return 0;
}

static int bytes_cmp(const char *a, size_t a_len, const char *b, size_t b_len) {
        int c = memcmp(a, b, MIN(a_len, b_len));

        if (c != 0)
                return c;
        return a_len < b_len ? -1 : a_len > b_len;
}

static int query_param_cmp(const void *x, const void *y) {
        const QueryParam *a = x, *b = y;
        int c = bytes_cmp(a->key, a->key_len, b->key, b->key_len);

        return c != 0 ? c : bytes_cmp(a->value, a->value_len, b->value, b->value_len);
}

static int append_canonical_query(SigV4Signer *s, const char *query) {
        const char *p = query, *end;
        size_t n = 0;
        int r;

        if (!query || !*query)
                return 0;

        end = query + strlen(query);
        strbuf_reset(&s->query);
        while (p < end) {
                const char *amp = memchr(p, '&', (size_t) (end - p));
                const char *piece_end = amp ? amp : end;
                const char *eq = memchr(p, '=', (size_t) (piece_end - p));
                QueryParam *qp;

                if (piece_end == p) {
                        p = piece_end + 1;
                        continue;
                }
                if (n >= SIGV4_QUERY_PARAMS_MAX)
                        return -E2BIG;
                if (n >= s->n_params_alloc) {
                        size_t alloc = s->n_params_alloc ? s->n_params_alloc * 2 : 16;
                        QueryParam *np;

                        if (alloc > SIZE_MAX / sizeof(QueryParam))
                                return -ENOMEM;
                        np = realloc(s->params, alloc * sizeof(QueryParam));
                        if (!np)
                                return -ENOMEM;
                        s->params = np;
                        s->n_params_alloc = alloc;
                }
                qp = &s->params[n];
                r = query_part_encode(s, p, (size_t) ((eq ? eq : piece_end) - p), &qp->key_off, &qp->key_len);
                if (r < 0)
                        return r;
                if (eq)
                        r = query_part_encode(s, eq + 1, (size_t) (piece_end - eq - 1), &qp->value_off, &qp->value_len);
                else
                        r = query_part_encode(s, "", 0, &qp->value_off, &qp->value_len);
                if (r < 0)
                        return r;
                n++;
                p = piece_end + 1;
        }

        for (size_t i = 0; i < n; i++) {
                s->params[i].key = s->query.data + s->params[i].key_off;
                s->params[i].value = s->query.data + s->params[i].value_off;
        }
        qsort(s->params, n, sizeof(QueryParam), query_param_cmp);

        for (size_t i = 0; i < n; i++) {
                if (i > 0) {
                        r = strbuf_putc(&s->creq, '&');
                        if (r < 0)
                                return r;
                }
                r = strbuf_append(&s->creq, s->params[i].key, s->params[i].key_len);
                if (r >= 0)
                        r = strbuf_putc(&s->creq, '=');
                if (r >= 0)
                        r = strbuf_append(&s->creq, s->params[i].value, s->params[i].value_len);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int header_name_cmp(const HeaderRef *a, const HeaderRef *b) {
        size_t n = MIN(a->name_len, b->name_len);

        for (size_t i = 0; i < n; i++) {
                unsigned char x = (unsigned char) ascii_lower(a->name[i]);
                unsigned char y = (unsigned char) ascii_lower(b->name[i]);
                if (x != y)
                        return x < y ? -1 : 1;
        }
        return a->name_len < b->name_len ? -1 : a->name_len > b->name_len;
}

/* Collects, validates and stably sorts the headers into s->headers; returns
 * how many there are. */
static int collect_headers(SigV4Signer *s, const SigV4Credentials *creds, const SigV4Request *req,
                           const char *amz_date, size_t *ret_n) {
        HeaderRef *h = s->headers;
        size_t n = 0;
        bool have_host = false;

        if (req->n_headers > SIGV4_HEADERS_MAX)
                return -E2BIG;
        if (req->n_headers > 0 && !req->headers)
                return -EINVAL;

        for (size_t i = 0; i < req->n_headers; i++) {
                const char *name = req->headers[i].name, *value = req->headers[i].value;
                size_t len;

                if (!name || !value || !*name)
                        return -EINVAL;
                for (len = 0; name[len]; len++)
                        if (!is_tchar((unsigned char) name[len]))
                                return -EINVAL;
                /* CR/LF in the value is rejected by append_header_value(). */
                if (name_equal_lower(name, len, "x-amz-date") ||
                    name_equal_lower(name, len, "x-amz-security-token") ||
                    name_equal_lower(name, len, "authorization"))
                        return -EINVAL;
                if (name_equal_lower(name, len, "host"))
                        have_host = true;
                h[n++] = (HeaderRef) { .name = name, .name_len = len, .value = value };
        }
        if (!have_host)
                return -EINVAL;

        h[n++] = (HeaderRef) { .name = "x-amz-date", .name_len = strlen("x-amz-date"), .value = amz_date };
        if (creds->session_token)
                h[n++] = (HeaderRef) {
                        .name = "x-amz-security-token",
                        .name_len = strlen("x-amz-security-token"),
                        .value = secret_data(creds->session_token),
                };

        /* Insertion sort: stable (repeated names keep their order, which the
         * joined value depends on) and fast for the handful of headers a
         * request has. */
        for (size_t i = 1; i < n; i++) {
                HeaderRef cur = h[i];
                size_t j = i;

                while (j > 0 && header_name_cmp(&h[j - 1], &cur) > 0) {
                        h[j] = h[j - 1];
                        j--;
                }
                h[j] = cur;
        }

        *ret_n = n;
        return 0;
}

static int append_canonical_headers(SigV4Signer *s, size_t n) {
        const HeaderRef *h = s->headers;
        int r;

        strbuf_reset(&s->signed_headers);
        for (size_t i = 0; i < n; i++) {
                bool repeat = i > 0 && header_name_cmp(&h[i - 1], &h[i]) == 0;

                if (repeat)
                        r = strbuf_putc(&s->creq, ',');
                else {
                        if (i > 0) {
                                r = strbuf_putc(&s->creq, '\n');
                                if (r >= 0)
                                        r = strbuf_putc(&s->signed_headers, ';');
                                if (r < 0)
                                        return r;
                        }
                        r = append_lower(&s->creq, h[i].name, h[i].name_len);
                        if (r >= 0)
                                r = append_lower(&s->signed_headers, h[i].name, h[i].name_len);
                        if (r >= 0)
                                r = strbuf_putc(&s->creq, ':');
                }
                if (r >= 0)
                        r = append_header_value(&s->creq, h[i].value);
                if (r < 0)
                        return r;
        }
        /* The last header line's '\n' plus the blank line ending the block. */
        return strbuf_puts(&s->creq, "\n\n");
}

static int build_canonical_request(SigV4Signer *s, const SigV4Credentials *creds, const SigV4Request *req,
                                   const char *amz_date) {
        char payload_hash[2 * SHA256_LEN + 1];
        size_t n_headers;
        int r;

        r = collect_headers(s, creds, req, amz_date, &n_headers);
        if (r < 0)
                return r;

        if (req->payload_len == 0)
                memcpy(payload_hash, EMPTY_SHA256_HEX, sizeof(payload_hash));
        else {
                r = sha256_hex(s, req->payload, req->payload_len, payload_hash);
                if (r < 0)
                        return r;
        }

        strbuf_reset(&s->creq);
        r = strbuf_puts(&s->creq, req->method);
        if (r >= 0)
                r = strbuf_putc(&s->creq, '\n');
        if (r >= 0)
                r = append_canonical_uri(s, req->path, req->normalize_path);
        if (r >= 0)
                r = strbuf_putc(&s->creq, '\n');
        if (r >= 0)
                r = append_canonical_query(s, req->query);
        if (r >= 0)
                r = strbuf_putc(&s->creq, '\n');
        if (r >= 0)
                r = append_canonical_headers(s, n_headers);
        if (r >= 0)
                r = strbuf_append(&s->creq, s->signed_headers.data, s->signed_headers.len);
        if (r >= 0)
                r = strbuf_putc(&s->creq, '\n');
        if (r >= 0)
                r = strbuf_append(&s->creq, payload_hash, 2 * SHA256_LEN);
        return r;
}

static int validate_input(const SigV4Credentials *creds, const char *region, const char *service,
                          const SigV4Request *req) {
        if (!creds || !req || !req->method)
                return -EINVAL;
        if (!scope_field_valid(region, false) || !scope_field_valid(service, false))
                return -EINVAL;
        if (!scope_field_valid(creds->access_key_id, true))
                return -EINVAL;
        if (!creds->secret_access_key || secret_len(creds->secret_access_key) == 0)
                return -EINVAL;
        /* CR/LF in the token is caught with the other header values. */
        if (creds->session_token && secret_len(creds->session_token) == 0)
                return -EINVAL;
        if (!*req->method)
                return -EINVAL;
        for (const char *p = req->method; *p; p++)
                if (!is_tchar((unsigned char) *p))
                        return -EINVAL;
        if (req->path && *req->path && (req->path[0] != '/' || has_crlf(req->path)))
                return -EINVAL;
        if (req->query && has_crlf(req->query))
                return -EINVAL;
        if (req->payload_len > 0 && !req->payload)
                return -EINVAL;
        return 0;
}

/* memcpy returning the end of the copy (mempcpy without _GNU_SOURCE). */
static char *put_bytes(char *dst, const char *src, size_t n) {
        memcpy(dst, src, n);
        return dst + n;
}

int sigv4_sign(SigV4Signer *s, const SigV4Credentials *creds, const char *region, const char *service,
               time_t now, const SigV4Request *req, SigV4Result *ret) {
        static const char cred_prefix[] = ALGORITHM " Credential=";
        static const char sh_prefix[] = ", SignedHeaders=";
        static const char sig_prefix[] = ", Signature=";
        _cleanup_free_ char *creq_copy = NULL, *sts_copy = NULL;
        char amz_date[17], creq_hash[2 * SHA256_LEN + 1], signature[2 * SHA256_LEN + 1];
        unsigned char mac[SHA256_LEN];
        size_t mac_len = 0, scope_off, scope_len, auth_len;
        char *auth, *p;
        int r;

        if (!s || !ret)
                return -EINVAL;
        r = validate_input(creds, region, service, req);
        if (r < 0)
                return r;
        r = sigv4_format_amz_date(now, amz_date);
        if (r < 0)
                return r;

        r = signer_key_ensure(s, creds, amz_date, region, service);
        if (r < 0)
                return r;

        r = build_canonical_request(s, creds, req, amz_date);
        if (r >= 0)
                r = sha256_hex(s, s->creq.data, s->creq.len, creq_hash);
        if (r >= 0 && s->debug) {
                creq_copy = strndup(s->creq.data, s->creq.len);
                if (!creq_copy)
                        r = -ENOMEM;
        }
        /* The canonical request holds the session token: wipe it now rather
         * than leaving it in the scratch buffer until the next call. */
        strbuf_reset(&s->creq);
        if (r < 0) {
                if (creq_copy)
                        OPENSSL_cleanse(creq_copy, strlen(creq_copy));
                return r;
        }

        /* String to sign; the credential scope inside it is reused below. */
        strbuf_reset(&s->sts);
        r = strbuf_puts(&s->sts, ALGORITHM "\n");
        if (r >= 0)
                r = strbuf_append(&s->sts, amz_date, 16);
        if (r >= 0)
                r = strbuf_putc(&s->sts, '\n');
        scope_off = s->sts.len;
        if (r >= 0)
                r = strbuf_append(&s->sts, amz_date, 8);
        if (r >= 0)
                r = strbuf_putc(&s->sts, '/');
        if (r >= 0)
                r = strbuf_puts(&s->sts, region);
        if (r >= 0)
                r = strbuf_putc(&s->sts, '/');
        if (r >= 0)
                r = strbuf_puts(&s->sts, service);
        if (r >= 0)
                r = strbuf_puts(&s->sts, "/aws4_request");
        scope_len = s->sts.len - scope_off;
        if (r >= 0)
                r = strbuf_putc(&s->sts, '\n');
        if (r >= 0)
                r = strbuf_append(&s->sts, creq_hash, 2 * SHA256_LEN);
        if (r < 0)
                goto fail;

        if (EVP_MAC_init(s->mac_sign, NULL, 0, NULL) != 1 ||
            EVP_MAC_update(s->mac_sign, (const unsigned char *) s->sts.data, s->sts.len) != 1 ||
            EVP_MAC_final(s->mac_sign, mac, &mac_len, sizeof(mac)) != 1 ||
            mac_len != SHA256_LEN) {
                r = -EIO;
                goto fail;
        }
        hex_encode(signature, mac, SHA256_LEN);

        if (s->debug) {
                sts_copy = strndup(s->sts.data, s->sts.len);
                if (!sts_copy) {
                        r = -ENOMEM;
                        goto fail;
                }
        }

        auth_len = strlen(cred_prefix) + strlen(creds->access_key_id) + 1 + scope_len +
                   strlen(sh_prefix) + s->signed_headers.len + strlen(sig_prefix) + 2 * SHA256_LEN;
        auth = malloc(auth_len + 1);
        if (!auth) {
                r = -ENOMEM;
                goto fail;
        }
        p = put_bytes(auth, cred_prefix, strlen(cred_prefix));
        p = put_bytes(p, creds->access_key_id, strlen(creds->access_key_id));
        p = put_bytes(p, "/", 1);
        p = put_bytes(p, s->sts.data + scope_off, scope_len);
        p = put_bytes(p, sh_prefix, strlen(sh_prefix));
        p = put_bytes(p, s->signed_headers.data, s->signed_headers.len);
        p = put_bytes(p, sig_prefix, strlen(sig_prefix));
        p = put_bytes(p, signature, 2 * SHA256_LEN);
        *p = '\0';

        *ret = (SigV4Result) {
                .authorization = auth,
                .canonical_request = TAKE_PTR(creq_copy),
                .string_to_sign = TAKE_PTR(sts_copy),
        };
        memcpy(ret->amz_date, amz_date, sizeof(ret->amz_date));
        memcpy(ret->signature, signature, sizeof(ret->signature));
        return 0;

fail:
        if (creq_copy)
                OPENSSL_cleanse(creq_copy, strlen(creq_copy));
        return r;
}
