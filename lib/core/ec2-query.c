/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cdp/ec2-query.h"
#include "cdp/uri.h"

typedef struct Ec2Param {
        char *name;
        char *value;
} Ec2Param;

struct Ec2Query {
        char *action;
        Ec2Param *params;
        size_t n_params;
        size_t n_alloc;
        unsigned n_filters;
        unsigned n_tag_specs;
        bool idempotent;
};

static bool valid_name(const char *s) {
        /* Parameter names are ASCII words joined by dots. */
        if (!s || !*s || strlen(s) > 255)
                return false;
        for (; *s; s++)
                if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
                      *s == '.' || *s == '_' || *s == '-'))
                        return false;
        return true;
}

int ec2_query_new(Ec2Query **ret, const char *action) {
        Ec2Query *q;

        if (!ret || !valid_name(action) || strchr(action, '.'))
                return -EINVAL;
        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->action = strdup(action);
        if (!q->action) {
                free(q);
                return -ENOMEM;
        }
        q->idempotent = strncmp(action, "Describe", 8) == 0;
        *ret = q;
        return 0;
}

Ec2Query *ec2_query_free(Ec2Query *q) {
        if (!q)
                return NULL;
        for (size_t i = 0; i < q->n_params; i++) {
                free(q->params[i].name);
                free(q->params[i].value);
        }
        free(q->params);
        free(q->action);
        free(q);
        return NULL;
}

const char *ec2_query_action(const Ec2Query *q) {
        return q->action;
}

static Ec2Param *find_param(const Ec2Query *q, const char *name) {
        for (size_t i = 0; i < q->n_params; i++)
                if (strcmp(q->params[i].name, name) == 0)
                        return &q->params[i];
        return NULL;
}

int ec2_query_set(Ec2Query *q, const char *name, const char *value) {
        Ec2Param *p;
        char *v;

        if (!q || !valid_name(name) || !value)
                return -EINVAL;
        if (strcmp(name, "Action") == 0 || strcmp(name, "Version") == 0)
                return -EINVAL;

        v = strdup(value);
        if (!v)
                return -ENOMEM;
        p = find_param(q, name);
        if (p) {
                free(p->value);
                p->value = v;
                return 0;
        }

        if (q->n_params >= EC2_QUERY_MAX_PARAMS) {
                free(v);
                return -E2BIG;
        }
        if (q->n_params == q->n_alloc) {
                size_t n = q->n_alloc ? q->n_alloc * 2 : 16;
                Ec2Param *np = realloc(q->params, n * sizeof(*np));
                if (!np) {
                        free(v);
                        return -ENOMEM;
                }
                q->params = np;
                q->n_alloc = n;
        }
        p = &q->params[q->n_params];
        p->name = strdup(name);
        if (!p->name) {
                free(v);
                return -ENOMEM;
        }
        p->value = v;
        q->n_params++;
        return 0;
}

int ec2_query_setf(Ec2Query *q, const char *value, const char *name_fmt, ...) {
        char name[256];
        va_list ap;
        int n;

        va_start(ap, name_fmt);
        n = vsnprintf(name, sizeof(name), name_fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= sizeof(name))
                return -EINVAL;
        return ec2_query_set(q, name, value);
}

int ec2_query_set_bool(Ec2Query *q, const char *name, bool value) {
        return ec2_query_set(q, name, value ? "true" : "false");
}

int ec2_query_set_uint(Ec2Query *q, const char *name, unsigned long long value) {
        char buf[24];

        (void) snprintf(buf, sizeof(buf), "%llu", value);
        return ec2_query_set(q, name, buf);
}

const char *ec2_query_get(const Ec2Query *q, const char *name) {
        Ec2Param *p = find_param(q, name);
        return p ? p->value : NULL;
}

void ec2_query_unset(Ec2Query *q, const char *name) {
        Ec2Param *p = find_param(q, name);
        size_t i;

        if (!p)
                return;
        i = (size_t) (p - q->params);
        free(p->name);
        free(p->value);
        memmove(p, p + 1, (q->n_params - i - 1) * sizeof(*p));
        q->n_params--;
}

int ec2_query_add_list(Ec2Query *q, const char *prefix, const char *const *values, size_t n) {
        int r;

        for (size_t i = 0; i < n; i++) {
                r = ec2_query_setf(q, values[i], "%s.%zu", prefix, i + 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

int ec2_query_add_filter(Ec2Query *q, const char *name, const char *const *values, size_t n) {
        unsigned idx;
        int r;

        if (!q || !name || n == 0)
                return -EINVAL;
        idx = q->n_filters + 1;
        r = ec2_query_setf(q, name, "Filter.%u.Name", idx);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = ec2_query_setf(q, values[i], "Filter.%u.Value.%zu", idx, i + 1);
                if (r < 0)
                        return r;
        }
        q->n_filters = idx;
        return 0;
}

int ec2_query_add_tag_spec(Ec2Query *q, const char *resource_type, const char *const *keys,
                           const char *const *values, size_t n) {
        unsigned idx;
        int r;

        if (!q || !resource_type || n == 0)
                return -EINVAL;
        idx = q->n_tag_specs + 1;
        r = ec2_query_setf(q, resource_type, "TagSpecification.%u.ResourceType", idx);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = ec2_query_setf(q, keys[i], "TagSpecification.%u.Tag.%zu.Key", idx, i + 1);
                if (r < 0)
                        return r;
                r = ec2_query_setf(q, values[i], "TagSpecification.%u.Tag.%zu.Value", idx, i + 1);
                if (r < 0)
                        return r;
        }
        q->n_tag_specs = idx;
        return 0;
}

int ec2_query_set_dry_run(Ec2Query *q, bool dry_run) {
        if (!dry_run) {
                ec2_query_unset(q, "DryRun");
                return 0;
        }
        return ec2_query_set(q, "DryRun", "true");
}

bool ec2_query_is_dry_run(const Ec2Query *q) {
        const char *v = ec2_query_get(q, "DryRun");
        return v && strcmp(v, "true") == 0;
}

void ec2_query_set_idempotent(Ec2Query *q, bool idempotent) {
        q->idempotent = idempotent;
}

bool ec2_query_is_idempotent(const Ec2Query *q) {
        return q->idempotent;
}

static int encode_pair(StrBuf *out, const char *name, const char *value) {
        int r;

        if (out->len > 0) {
                r = strbuf_putc(out, '&');
                if (r < 0)
                        return r;
        }
        r = uri_encode(out, name, strlen(name), false);
        if (r < 0)
                return r;
        r = strbuf_putc(out, '=');
        if (r < 0)
                return r;
        return uri_encode(out, value, strlen(value), false);
}

int ec2_query_encode(const Ec2Query *q, StrBuf *out) {
        int r;

        strbuf_reset(out);
        r = encode_pair(out, "Action", q->action);
        if (r < 0)
                return r;
        r = encode_pair(out, "Version", EC2_API_VERSION);
        if (r < 0)
                return r;
        for (size_t i = 0; i < q->n_params; i++) {
                r = encode_pair(out, q->params[i].name, q->params[i].value);
                if (r < 0)
                        return r;
        }
        return 0;
}

size_t ec2_query_count(const Ec2Query *q) {
        return q->n_params;
}
