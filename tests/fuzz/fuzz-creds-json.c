/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the IMDS role credential JSON
 * (credentials_parse_imds_json): whatever parses must hold a key id, a
 * secret and a token of the documented shape; nothing else may be accepted.
 * Build: tools/fuzz.sh. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/creds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
        do {                                                                                       \
                if (!(x)) {                                                                        \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);      \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Credentials *c = NULL;
        int r;

        r = credentials_parse_imds_json((const char *) data, size, &c);
        if (r < 0) {
                CHECK(r == -EBADMSG || r == -ENOMEM);
                CHECK(c == NULL);
                return 0;
        }
        CHECK(c && c->n_ref == 1);
        CHECK(c->access_key_id && *c->access_key_id && strlen(c->access_key_id) <= 128);
        CHECK(strcspn(c->access_key_id, " \t\r\n:") == strlen(c->access_key_id));
        CHECK(c->secret_access_key && secret_len(c->secret_access_key) > 0);
        CHECK(c->session_token && secret_len(c->session_token) > 0);
        CHECK(c->expiration > 0);
        credentials_unref(c);
        return 0;
}
