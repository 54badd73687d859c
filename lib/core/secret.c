/* SPDX-License-Identifier: MIT */
#include <string.h>
#include <sys/mman.h>

#include <openssl/crypto.h>

#include "cdp/secret.h"

struct Secret {
        size_t len;
        size_t alloc;
        char *data;
};

int secret_new(Secret **ret, const char *data, size_t len) {
        Secret *s;
        long page = sysconf(_SC_PAGESIZE);
        size_t alloc;
        void *mem;

        if (!ret || (!data && len > 0))
                return -EINVAL;
        if (len > 64 * 1024)
                return -E2BIG;
        if (page <= 0)
                page = 4096;

        /* Page-aligned so MADV_DONTDUMP covers exactly this allocation. */
        alloc = ((len + 1 + (size_t) page - 1) / (size_t) page) * (size_t) page;
        if (posix_memalign(&mem, (size_t) page, alloc) != 0)
                return -ENOMEM;
        (void) madvise(mem, alloc, MADV_DONTDUMP);

        s = calloc(1, sizeof(*s));
        if (!s) {
                free(mem);
                return -ENOMEM;
        }
        s->data = mem;
        s->alloc = alloc;
        s->len = len;
        if (len > 0)
                memcpy(s->data, data, len);
        s->data[len] = '\0';
        *ret = s;
        return 0;
}

Secret *secret_free(Secret *s) {
        if (!s)
                return NULL;
        if (s->data) {
                OPENSSL_cleanse(s->data, s->alloc);
                free(s->data);
        }
        free(s);
        return NULL;
}

const char *secret_data(const Secret *s) {
        return s ? s->data : NULL;
}

size_t secret_len(const Secret *s) {
        return s ? s->len : 0;
}

int secret_equal(const Secret *a, const Secret *b) {
        if (!a || !b)
                return a == b;
        if (a->len != b->len)
                return 0;
        return CRYPTO_memcmp(a->data, b->data, a->len) == 0;
}

void erase_and_free(char *p, size_t len) {
        if (!p)
                return;
        OPENSSL_cleanse(p, len);
        free(p);
}
