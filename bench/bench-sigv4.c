/* SPDX-License-Identifier: MIT */
/* Signing throughput for a typical EC2 Query request (SPEC 11: >= 300,000
 * signatures/s on one core): POST / with Content-Type and Host, the signer
 * adding X-Amz-Date and X-Amz-Security-Token, a ~150-byte form body and an
 * instance-role-sized (~1 KiB) session token.
 *
 * Usage: bench-sigv4 [N]   (N signatures per repeat, default 1000000)
 * Prints each repeat and the median signatures/s and ns/signature. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdp/secret.h"
#include "cdp/sigv4.h"

#define REPEATS 5

static double now_seconds(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static int parse_count(const char *s, unsigned long *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || v == 0 || s[0] == '-')
                return -EINVAL;
        *ret = v;
        return 0;
}

int main(int argc, char **argv) {
        _cleanup_sigv4_signer_ SigV4Signer *signer = NULL;
        _cleanup_secret_ Secret *secret = NULL, *token = NULL;
        static const char body[] =
                "Action=DescribeTags&Version=2016-11-15"
                "&Filter.1.Name=resource-id&Filter.1.Value.1=i-0123456789abcdef0"
                "&Filter.2.Name=key&Filter.2.Value.1=cdp%3Asnapshot&MaxResults=100";
        const SigV4Header headers[] = {
                { "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" },
                { "Host", "ec2.eu-west-1.amazonaws.com" },
        };
        const SigV4Request req = {
                .method = "POST",
                .path = "/",
                .headers = headers,
                .n_headers = ELEMENTSOF(headers),
                .payload = body,
                .payload_len = sizeof(body) - 1,
                .normalize_path = true,
        };
        static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char token_text[1100];
        double rates[REPEATS];
        unsigned long n = 1000000;
        uint64_t sink = 0;
        int r;

        if (argc > 2 || (argc == 2 && parse_count(argv[1], &n) < 0)) {
                fprintf(stderr, "Usage: %s [N]\n", argv[0]);
                return 2;
        }

        /* Instance-role tokens are ~1 KiB of base64; the content is
         * irrelevant, the length is what costs. */
        for (size_t i = 0; i < sizeof(token_text); i++)
                token_text[i] = b64[(i * 7 + 3) % 64];

        r = secret_new(&secret, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 40);
        if (r >= 0)
                r = secret_new(&token, token_text, sizeof(token_text));
        if (r >= 0)
                r = sigv4_signer_new(&signer);
        if (r < 0) {
                fprintf(stderr, "setup failed: %s\n", strerror(-r));
                return 1;
        }
        const SigV4Credentials creds = {
                .access_key_id = "ASIAEXAMPLEEXAMPLE01",
                .secret_access_key = secret,
                .session_token = token,
        };

        printf("request: POST /, body %zu bytes, session token %zu bytes, %lu signatures x %d repeats\n",
               req.payload_len, sizeof(token_text), n, REPEATS);

        for (int rep = 0; rep < REPEATS; rep++) {
                time_t base = 1700000000; /* 2023-11-14T22:13:20Z; stays within one day */
                double t0 = now_seconds(), dt;

                for (unsigned long i = 0; i < n; i++) {
                        SigV4Result res;

                        r = sigv4_sign(signer, &creds, "eu-west-1", "ec2", base + (time_t) (i % 3600), &req, &res);
                        if (r < 0) {
                                fprintf(stderr, "sigv4_sign failed: %s\n", strerror(-r));
                                return 1;
                        }
                        sink += (unsigned char) res.signature[0];
                        sigv4_result_done(&res);
                }
                dt = now_seconds() - t0;
                rates[rep] = (double) n / dt;
                printf("repeat %d: %.0f signatures/s (%.0f ns/signature)\n", rep + 1, rates[rep], 1e9 / rates[rep]);
        }

        qsort(rates, REPEATS, sizeof(double), cmp_double);
        printf("median: %.0f signatures/s, %.0f ns/signature (checksum %llu)\n",
               rates[REPEATS / 2], 1e9 / rates[REPEATS / 2], (unsigned long long) sink);
        return 0;
}
