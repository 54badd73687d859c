/* SPDX-License-Identifier: MIT */
/* libFuzzer target for cdpd.conf parsing (config_parse_text) and the
 * whole-config validation: any input either parses or fails with a message
 * naming the file and a line; a parsed config always validates or says why.
 * Build: tools/fuzz.sh. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
        do {                                                                                       \
                if (!(x)) {                                                                        \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);      \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Config *c = NULL;
        char *err = NULL;
        int r;

        CHECK(config_new(&c) == 0);
        r = config_parse_text(c, (const char *) data, size, "fuzz.conf", &err);
        if (r < 0) {
                CHECK(r == -EINVAL || r == -ENOMEM);
                if (r == -EINVAL) {
                        CHECK(err);
                        CHECK(strncmp(err, "fuzz.conf:", 10) == 0);
                }
        } else {
                CHECK(!err);
                CHECK(c->tag_prefix && c->run_dir && c->control_socket && c->log_level);
                CHECK(c->max_inflight >= 1 && c->max_attempts >= 1);
                CHECK(c->n_expire_warn <= CONFIG_MAX_LIST);
                r = config_validate(c, &err);
                CHECK(r == 0 || (r == -EINVAL && err));
        }
        free(err);
        config_free(c);
        return 0;
}
