/* SPDX-License-Identifier: MIT */
#include <string.h>

#include <json-c/json.h>

#include "cdp/cloud-di.h"

int cloud_di_env_file(const CloudDiPolicy *env, StrBuf *out) {
        int r;

        strbuf_reset(out);
        r = strbuf_puts(out, "# Written by cdpd from this instance's cdp:env:* tags. Do not edit.\n");
        for (size_t i = 0; r >= 0 && i < env->n_vars; i++) {
                const char *v = env->vars[i].value;

                r = strbuf_printf(out, "%s=\"", env->vars[i].name);
                for (; r >= 0 && *v; v++) {
                        /* The policy refused control characters but TAB. */
                        if (*v == '\\' || *v == '"' || *v == '$' || *v == '`')
                                r = strbuf_putc(out, '\\');
                        if (r >= 0)
                                r = strbuf_putc(out, *v);
                }
                if (r >= 0)
                        r = strbuf_puts(out, "\"\n");
        }
        return r;
}

int cloud_di_tags_json(const char *instance_id, const char *const *keys, const char *const *values, size_t n,
                       StrBuf *out) {
        struct json_object *root, *tags;
        const char *s;
        int r;

        root = json_object_new_object();
        tags = json_object_new_object();
        if (!root || !tags) {
                json_object_put(root);
                json_object_put(tags);
                return -ENOMEM;
        }
        json_object_object_add(root, "instance_id", instance_id ? json_object_new_string(instance_id) : NULL);
        for (size_t i = 0; i < n; i++)
                json_object_object_add(tags, keys[i], json_object_new_string(values[i]));
        json_object_object_add(root, "tags", tags);

        strbuf_reset(out);
        s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE);
        r = s ? strbuf_puts(out, s) : -ENOMEM;
        if (r >= 0)
                r = strbuf_putc(out, '\n');
        json_object_put(root);
        return r;
}
