/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cdp/ec2-xml.h"
#include "cdp/strbuf.h"
#include "cdp/tags.h"

TagList *tag_list_free(TagList *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n; i++) {
                free(l->keys[i]);
                free(l->values[i]);
        }
        free(l->keys);
        free(l->values);
        free(l);
        return NULL;
}

const char *tag_list_get(const TagList *l, const char *key) {
        for (size_t i = 0; l && i < l->n; i++)
                if (strcmp(l->keys[i], key) == 0)
                        return l->values[i];
        return NULL;
}

bool tag_list_equal(const TagList *a, const TagList *b) {
        if (!a || !b)
                return a == b;
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++) {
                const char *v = tag_list_get(b, a->keys[i]);
                if (!v || strcmp(v, a->values[i]) != 0)
                        return false;
        }
        return true;
}

void tag_list_sort(TagList *l) {
        /* Insertion sort: at most TAGS_MAX entries. */
        for (size_t i = 1; i < l->n; i++)
                for (size_t j = i; j > 0 && strcmp(l->keys[j - 1], l->keys[j]) > 0; j--) {
                        char *k = l->keys[j], *v = l->values[j];
                        l->keys[j] = l->keys[j - 1];
                        l->values[j] = l->values[j - 1];
                        l->keys[j - 1] = k;
                        l->values[j - 1] = v;
                }
}

static int tag_list_add(TagList *l, const char *key, size_t key_len, const char *value, size_t value_len) {
        char **nk, **nv;

        if (l->n >= TAGS_MAX)
                return -E2BIG;
        nk = realloc(l->keys, (l->n + 1) * sizeof(char *));
        if (!nk)
                return -ENOMEM;
        l->keys = nk;
        nv = realloc(l->values, (l->n + 1) * sizeof(char *));
        if (!nv)
                return -ENOMEM;
        l->values = nv;
        l->keys[l->n] = strndup(key, key_len);
        l->values[l->n] = strndup(value, value_len);
        if (!l->keys[l->n] || !l->values[l->n]) {
                free(l->keys[l->n]);
                free(l->values[l->n]);
                return -ENOMEM;
        }
        l->n++;
        return 0;
}

typedef struct TagGet TagGet;

struct TagFetch {
        ImdsClient *imds;
        Ec2Client *ec2;
        char *instance_id;
        TagsDoneFn done;
        void *userdata;
        TagList *tags;
        ImdsRequest *listing;
        TagGet *gets;                   /* one per key, in flight */
        size_t n_gets;
        size_t n_pending;
        Ec2Call *call;
        char *detail;
        int error;
};

struct TagGet {
        TagFetch *fetch;
        char *key;
        ImdsRequest *req;
};

static void fetch_free(TagFetch *f) {
        if (!f)
                return;
        imds_cancel(f->listing);
        for (size_t i = 0; i < f->n_gets; i++) {
                imds_cancel(f->gets[i].req);
                free(f->gets[i].key);
        }
        free(f->gets);
        ec2_call_cancel(f->call);
        tag_list_free(f->tags);
        free(f->instance_id);
        free(f->detail);
        free(f);
}

void tag_fetch_cancel(TagFetch *f) {
        fetch_free(f);
}

static void fetch_finish(TagFetch *f, int error) {
        TagsDoneFn done = f->done;
        void *ud = f->userdata;
        _cleanup_(tag_list_freep) TagList *tags = NULL;
        _cleanup_free_ char *detail = TAKE_PTR(f->detail);

        f->listing = NULL;
        f->call = NULL;
        if (error == 0) {
                tags = TAKE_PTR(f->tags);
                tag_list_sort(tags);
        }
        fetch_free(f);
        done(error, error == 0 ? TAKE_PTR(tags) : NULL, detail, ud);
}

static void set_detail(TagFetch *f, const char *fmt, ...) _printf_(2, 3);
static void set_detail(TagFetch *f, const char *fmt, ...) {
        va_list ap;

        free(f->detail);
        va_start(ap, fmt);
        if (vasprintf(&f->detail, fmt, ap) < 0)
                f->detail = NULL;
        va_end(ap);
}

/* --- DescribeTags --- */

static int api_page(TagFetch *f, const char *next_token);

static void on_describe_tags(int error, const Ec2Response *resp, void *userdata) {
        TagFetch *f = userdata;
        _cleanup_(ec2_tag_page_freep) Ec2TagPage *page = NULL;
        int r;

        f->call = NULL;
        if (error < 0) {
                set_detail(f, "DescribeTags: %s: %s", resp->error_code ? resp->error_code : "error",
                           resp->error_message ? resp->error_message : strerror(-error));
                fetch_finish(f, error);
                return;
        }
        r = ec2_parse_describe_tags(resp->body, resp->body_len, &page);
        if (r < 0) {
                set_detail(f, "DescribeTags: the answer could not be read: %s", strerror(-r));
                fetch_finish(f, r);
                return;
        }
        for (size_t i = 0; i < page->n_tags; i++) {
                const Ec2Tag *t = &page->tags[i];

                /* The filter asked for this instance only; trust but verify. */
                if (t->resource_id && strcmp(t->resource_id, f->instance_id) != 0)
                        continue;
                r = tag_list_add(f->tags, t->key, strlen(t->key), t->value, strlen(t->value));
                if (r < 0) {
                        set_detail(f, "DescribeTags: more than %u tags", TAGS_MAX);
                        fetch_finish(f, r);
                        return;
                }
        }
        if (page->next_token && *page->next_token) {
                r = api_page(f, page->next_token);
                if (r < 0)
                        fetch_finish(f, r);
                return;
        }
        fetch_finish(f, 0);
}

static int api_page(TagFetch *f, const char *next_token) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        const char *ids[] = { f->instance_id };
        const char *types[] = { "instance" };
        int r;

        r = ec2_query_new(&q, "DescribeTags");
        if (r < 0)
                return r;
        r = ec2_query_add_filter(q, "resource-id", ids, 1);
        if (r >= 0)
                r = ec2_query_add_filter(q, "resource-type", types, 1);
        if (r >= 0)
                r = ec2_query_set(q, "MaxResults", "1000");
        if (r >= 0 && next_token)
                r = ec2_query_set(q, "NextToken", next_token);
        if (r < 0)
                return r;
        return ec2_call(f->ec2, q, NULL, on_describe_tags, f, &f->call);
}

static void start_api(TagFetch *f) {
        int r;

        f->tags->source = TAG_SOURCE_API;
        r = api_page(f, NULL);
        if (r < 0)
                fetch_finish(f, r);
}

/* --- IMDS tags/instance/ --- */

/* IMDS tag keys may hold spaces and a few punctuation marks; encode what a
 * URL path cannot carry as is. */
static int encode_tag_path(StrBuf *b, const char *key) {
        int r = strbuf_puts(b, "meta-data/tags/instance/");

        for (const unsigned char *p = (const unsigned char *) key; r >= 0 && *p; p++) { // NOLINT(clang-analyzer-core.NullDereference): p walks key
                if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                    strchr("-_.~:@+=,", *p))
                        r = strbuf_putc(b, (char) *p);
                else
                        r = strbuf_printf(b, "%%%02X", *p);
        }
        return r;
}

static void on_tag_value(int error, const char *body, size_t len, void *userdata) {
        TagGet *g = userdata;
        TagFetch *f = g->fetch;
        int r;

        g->req = NULL;
        if (error == 0) {
                r = tag_list_add(f->tags, g->key, strlen(g->key), body, len);
                if (r < 0 && f->error == 0)
                        f->error = r;
        } else if (error != -ENOENT && f->error == 0) {
                /* -ENOENT: the tag was removed after the listing; skip it. */
                f->error = error;
                set_detail(f, "IMDS tags/instance/%s: %s", g->key, strerror(-error));
        }
        if (--f->n_pending == 0)
                fetch_finish(f, f->error);
}

static void on_tag_listing(int error, const char *body, size_t len, void *userdata) {
        TagFetch *f = userdata;
        const char *p, *end;
        size_t n = 0;
        int r;

        f->listing = NULL;
        if (error == -ENOENT) {
                /* Instance metadata tags are off for this instance. */
                start_api(f);
                return;
        }
        if (error < 0) {
                set_detail(f, "IMDS tags/instance/: %s", strerror(-error));
                fetch_finish(f, error);
                return;
        }

        /* Only now: body is NULL on error, and NULL + 0 is undefined. */
        p = body;
        end = body + len;
        for (const char *q = body; q < end; q++)
                if (*q == '\n')
                        n++;
        n++;
        if (n > TAGS_MAX) {
                set_detail(f, "IMDS lists more than %u tags", TAGS_MAX);
                fetch_finish(f, -E2BIG);
                return;
        }
        f->gets = calloc(n, sizeof(TagGet));
        if (!f->gets) {
                fetch_finish(f, -ENOMEM);
                return;
        }
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t klen = nl ? (size_t) (nl - p) : (size_t) (end - p);

                if (klen > 0 && klen <= 128) {
                        f->gets[f->n_gets].fetch = f;
                        f->gets[f->n_gets].key = strndup(p, klen);
                        if (!f->gets[f->n_gets].key) {
                                fetch_finish(f, -ENOMEM);
                                return;
                        }
                        f->n_gets++;
                }
                p += klen + 1;
        }
        f->tags->source = TAG_SOURCE_IMDS;
        if (f->n_gets == 0) {
                fetch_finish(f, 0);
                return;
        }

        for (size_t i = 0; i < f->n_gets; i++) {
                _cleanup_strbuf_ StrBuf path = {};

                r = encode_tag_path(&path, f->gets[i].key);
                if (r >= 0)
                        r = imds_get(f->imds, path.data, false, on_tag_value, &f->gets[i], &f->gets[i].req);
                if (r < 0) {
                        /* Requests already started would still call back: stop them all. */
                        fetch_finish(f, r);
                        return;
                }
                f->n_pending++;
        }
}

int tag_fetch_start(ImdsClient *imds, Ec2Client *ec2, const char *instance_id, TagsDoneFn done,
                    void *userdata, TagFetch **ret) {
        TagFetch *f;
        int r;

        if (!ec2 || !instance_id || !done)
                return -EINVAL;
        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        f->imds = imds;
        f->ec2 = ec2;
        f->done = done;
        f->userdata = userdata;
        f->instance_id = strdup(instance_id);
        f->tags = calloc(1, sizeof(TagList));
        if (!f->instance_id || !f->tags) {
                fetch_free(f);
                return -ENOMEM;
        }
        if (imds)
                r = imds_get(imds, "meta-data/tags/instance/", false, on_tag_listing, f, &f->listing);
        else {
                f->tags->source = TAG_SOURCE_API;
                r = api_page(f, NULL);
        }
        if (r < 0) {
                fetch_free(f);
                return r;
        }
        if (ret)
                *ret = f;
        return 0;
}
