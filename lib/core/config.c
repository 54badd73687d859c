/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cdp/config.h"
#include "cdp/parse-util.h"
#include "cdp/strbuf.h"

typedef int (*ConfigParser)(const char *value, void *field, char **reterr_reason);

typedef struct ConfigItem {
        const char *key;
        ConfigParser parse;
        size_t offset;
} ConfigItem;

static int reason(char **ret, const char *fmt, ...) _printf_(2, 3);
static int reason(char **ret, const char *fmt, ...) {
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(ret, fmt, ap);
        va_end(ap);
        if (n < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}

static int parse_string(const char *v, void *field, char **err) {
        char **p = field, *s;

        if (!valid_utf8(v))
                return reason(err, "\"%s\" is not valid UTF-8", v);
        s = strdup(v);
        if (!s)
                return -ENOMEM;
        free(*p);
        *p = s;
        return 0;
}

static int parse_optional_string(const char *v, void *field, char **err) {
        char **p = field;

        if (!*v) {
                *p = mfree(*p);
                return 0;
        }
        return parse_string(v, field, err);
}

static int parse_abs_path(const char *v, void *field, char **err) {
        if (v[0] != '/' || strstr(v, "/../") || strstr(v, "/./") || strpbrk(v, "\n\r"))
                return reason(err, "\"%s\" is not an absolute, normalized path", v);
        if (strlen(v) >= 108)
                return reason(err, "\"%s\" is longer than 107 bytes", v);
        return parse_string(v, field, err);
}

static int parse_dur(const char *v, void *field, char **err) {
        int r = parse_duration(v, field);
        if (r < 0)
                return reason(err, "\"%s\" is not a duration such as 30s, 5m, 4h or 2d", v);
        return 0;
}

static int parse_dur_zero(const char *v, void *field, char **err) {
        int r = parse_duration_full(v, PARSE_DURATION_ALLOW_ZERO, field);
        if (r < 0)
                return reason(err, "\"%s\" is not a duration such as 0s, 30s, 5m, 4h or 2d", v);
        return 0;
}

static int parse_bool_field(const char *v, void *field, char **err) {
        if (parse_bool(v, field) < 0)
                return reason(err, "\"%s\" is not a boolean (yes or no)", v);
        return 0;
}

#define DEFINE_UINT_PARSER(name, lo, hi)                                                          \
        static int name(const char *v, void *field, char **err) {                                \
                if (parse_uint_range(v, lo, hi, field) < 0)                                       \
                        return reason(err, "\"%s\" is not a whole number from %u to %u", v,       \
                                      (unsigned) (lo), (unsigned) (hi));                          \
                return 0;                                                                         \
        }
DEFINE_UINT_PARSER(parse_inflight, 1, 64)
DEFINE_UINT_PARSER(parse_attempts, 1, 10)

static int parse_region_field(const char *v, void *field, char **err) {
        if (!*v) {
                char **p = field;
                *p = mfree(*p);
                return 0;
        }
        if (!valid_aws_region(v))
                return reason(err, "\"%s\" is not an AWS region name such as us-east-1", v);
        return parse_string(v, field, err);
}

static int parse_endpoint(const char *v, void *field, char **err) {
        if (!*v)
                return parse_optional_string(v, field, err);
        if ((strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0) || strpbrk(v, " \t@"))
                return reason(err, "\"%s\" is not an http:// or https:// URL", v);
        return parse_string(v, field, err);
}

static int parse_prefix(const char *v, void *field, char **err) {
        size_t n = strlen(v);

        if (n == 0 || n > 32 || v[n - 1] != ':' || strncasecmp(v, "aws:", 4) == 0)
                return reason(err, "\"%s\" is not a tag prefix ending in ':' (and not aws:)", v);
        for (const char *p = v; *p; p++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:._-/", *p))
                        return reason(err, "\"%s\" has a character not allowed in a tag prefix", v);
        return parse_string(v, field, err);
}

static int parse_group(const char *v, void *field, char **err) {
        size_t n = strlen(v);

        if (n == 0 || n > 32 || v[0] == '-')
                return reason(err, "\"%s\" is not a group name", v);
        for (const char *p = v; *p; p++)
                if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789_-", *p))
                        return reason(err, "\"%s\" is not a group name", v);
        return parse_string(v, field, err);
}

static int parse_ifname(const char *v, void *field, char **err) {
        size_t n = strlen(v);

        if (n == 0)
                return parse_optional_string(v, field, err);
        if (n > 15 || strpbrk(v, "/ \t:") || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
                return reason(err, "\"%s\" is not a network interface name", v);
        return parse_string(v, field, err);
}

static int parse_log_level(const char *v, void *field, char **err) {
        static const char *const levels[] = { "debug", "info", "notice", "warning", "err" };

        for (size_t i = 0; i < ELEMENTSOF(levels); i++)
                if (strcmp(v, levels[i]) == 0)
                        return parse_string(v, field, err);
        return reason(err, "\"%s\" is not one of debug, info, notice, warning, err", v);
}

/* Splits a comma list into trimmed items; empty items are errors. */
static int split_list(const char *v, char ***ret, size_t *ret_n, char **err) {
        char **items = NULL;
        size_t n = 0;
        const char *p = v;

        if (!*v) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        for (;;) {
                const char *end = strchr(p, ',');
                size_t len = end ? (size_t) (end - p) : strlen(p);
                char **ni;

                while (len > 0 && (*p == ' ' || *p == '\t'))
                        p++, len--;
                while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
                        len--;
                if (len == 0 || n >= CONFIG_MAX_LIST) {
                        for (size_t i = 0; i < n; i++)
                                free(items[i]);
                        free(items);
                        return len == 0 ? reason(err, "\"%s\" has an empty list item", v)
                                        : reason(err, "\"%s\" has more than %u items", v, CONFIG_MAX_LIST);
                }
                ni = realloc(items, (n + 2) * sizeof(char *));
                if (!ni)
                        goto oom;
                items = ni;
                items[n] = strndup(p, len);
                if (!items[n])
                        goto oom;
                items[++n] = NULL;
                if (!end)
                        break;
                p = end + 1;
        }
        *ret = items;
        *ret_n = n;
        return 0;
oom:
        for (size_t i = 0; i < n; i++)
                free(items[i]);
        free(items);
        return -ENOMEM;
}

static void strv_free(char **l) {
        for (char **i = l; i && *i; i++)
                free(*i);
        free(l);
}

static int parse_freeze(const char *v, void *field, char **err) {
        Config *c = (Config *) ((char *) field - offsetof(Config, freeze));
        char **items;
        size_t n;
        int r;

        r = split_list(v, &items, &n, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (items[i][0] != '/' || strstr(items[i], "/../") || strstr(items[i], "/./")) {
                        r = reason(err, "freeze item \"%s\" is not an absolute mount point path", items[i]);
                        strv_free(items);
                        return r;
                }
        strv_free(c->freeze);
        c->freeze = items;
        c->n_freeze = n;
        return 0;
}

static int parse_expire_warn(const char *v, void *field, char **err) {
        Config *c = (Config *) ((char *) field - offsetof(Config, expire_warn_usec));
        char **items = NULL;
        size_t n = 0;
        uint64_t vals[CONFIG_MAX_LIST];
        int r;

        r = split_list(v, &items, &n, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (parse_duration(items[i], &vals[i]) < 0) {
                        r = reason(err, "expire_warn item \"%s\" is not a duration such as 10m", items[i]);
                        strv_free(items);
                        return r;
                }
        strv_free(items);
        memcpy(c->expire_warn_usec, vals, n * sizeof(uint64_t));
        c->n_expire_warn = n;
        return 0;
}

#define ITEM(k, p, f) { k, p, offsetof(Config, f) }
static const ConfigItem config_table[] = {
        ITEM("region", parse_region_field, region),
        ITEM("ec2_endpoint", parse_endpoint, ec2_endpoint),
        ITEM("tag_prefix", parse_prefix, tag_prefix),
        ITEM("tag_refresh", parse_dur, tag_refresh_usec),
        ITEM("run_dir", parse_abs_path, run_dir),
        ITEM("hooks_dir", parse_abs_path, hooks_dir),
        ITEM("hook_timeout", parse_dur, hook_timeout_usec),
        ITEM("control_socket", parse_abs_path, control_socket),
        ITEM("control_group", parse_group, control_group),
        ITEM("splay", parse_dur_zero, splay_usec),
        ITEM("max_inflight", parse_inflight, max_inflight),
        ITEM("max_attempts", parse_attempts, max_attempts),
        ITEM("api_timeout", parse_dur, api_timeout_usec),
        ITEM("takeover_timeout", parse_dur, takeover_timeout_usec),
        ITEM("freeze", parse_freeze, freeze),
        ITEM("freeze_timeout", parse_dur, freeze_timeout_usec),
        ITEM("manage_local_vip", parse_bool_field, manage_local_vip),
        ITEM("vip_interface", parse_ifname, vip_interface),
        ITEM("expire_warn", parse_expire_warn, expire_warn_usec),
        ITEM("expire_grace", parse_dur, expire_grace_usec),
        ITEM("expire_fallback_poweroff", parse_bool_field, expire_fallback_poweroff),
        ITEM("bastion_max_lifetime", parse_dur, bastion_max_lifetime_usec),
        ITEM("log_level", parse_log_level, log_level),
};
#undef ITEM

const char *const config_keys[] = {
        "region", "ec2_endpoint", "tag_prefix", "tag_refresh", "run_dir", "hooks_dir", "hook_timeout",
        "control_socket", "control_group", "splay", "max_inflight", "max_attempts", "api_timeout",
        "takeover_timeout", "freeze", "freeze_timeout", "manage_local_vip", "vip_interface", "expire_warn",
        "expire_grace", "expire_fallback_poweroff", "bastion_max_lifetime", "log_level", NULL,
};

int config_new(Config **ret) {
        _cleanup_(config_freep) Config *c = NULL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->tag_prefix = strdup("cdp:");
        c->run_dir = strdup("/run/cdpd");
        c->hooks_dir = strdup("/etc/cdpd/hooks.d");
        c->control_socket = strdup("/run/cdpd/control.sock");
        c->control_group = strdup("cdpd");
        c->log_level = strdup("info");
        if (!c->tag_prefix || !c->run_dir || !c->hooks_dir || !c->control_socket || !c->control_group ||
            !c->log_level)
                return -ENOMEM;
        c->tag_refresh_usec = 60 * USEC_PER_SEC;
        c->hook_timeout_usec = 30 * USEC_PER_SEC;
        c->splay_usec = 5 * 60 * USEC_PER_SEC;
        c->max_inflight = 4;
        c->max_attempts = 3;
        c->api_timeout_usec = 10 * USEC_PER_SEC;
        c->takeover_timeout_usec = 20 * USEC_PER_SEC;
        c->freeze_timeout_usec = 10 * USEC_PER_SEC;
        c->expire_warn_usec[0] = 10 * 60 * USEC_PER_SEC;
        c->expire_warn_usec[1] = 60 * USEC_PER_SEC;
        c->n_expire_warn = 2;
        c->expire_grace_usec = 10 * 60 * USEC_PER_SEC;
        c->expire_fallback_poweroff = true;
        c->bastion_max_lifetime_usec = 24 * 3600 * USEC_PER_SEC;
        *ret = TAKE_PTR(c);
        return 0;
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        free(c->region);
        free(c->ec2_endpoint);
        free(c->tag_prefix);
        free(c->run_dir);
        free(c->hooks_dir);
        free(c->control_socket);
        free(c->control_group);
        strv_free(c->freeze);
        free(c->vip_interface);
        free(c->log_level);
        free(c);
        return NULL;
}

static char *trim(char *s) {
        char *e;

        while (*s == ' ' || *s == '\t')
                s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                *--e = '\0';
        return s;
}

static int line_error(char **ret, const char *filename, unsigned line, const char *fmt, ...) _printf_(4, 5);
static int line_error(char **ret, const char *filename, unsigned line, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        if (asprintf(ret, "%s:%u: %s", filename, line, msg) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}

int config_parse_text(Config *c, const char *text, size_t len, const char *filename, char **reterr_message) {
        _cleanup_free_ char *copy = NULL;
        char *p, *next;
        unsigned line = 0;

        if (!text)
                text = "";
        if (len > CONFIG_MAX_FILE_SIZE)
                return line_error(reterr_message, filename, 0, "file is larger than %u bytes",
                                  CONFIG_MAX_FILE_SIZE);
        if (len > 0 && memchr(text, '\0', len))
                return line_error(reterr_message, filename, 0, "file contains a NUL byte");
        copy = strndup(text, len);
        if (!copy)
                return -ENOMEM;

        for (p = copy; p; p = next) {
                char *eq, *key, *value;
                const ConfigItem *item = NULL;
                _cleanup_free_ char *why = NULL;
                int r;

                line++;
                next = strchr(p, '\n');
                if (next)
                        *next++ = '\0';
                p = trim(p);
                if (*p == '\0' || *p == '#' || *p == ';')
                        continue;

                eq = strchr(p, '=');
                if (!eq)
                        return line_error(reterr_message, filename, line,
                                          "expected \"key = value\", got \"%s\"", p);
                *eq = '\0';
                key = trim(p);
                value = trim(eq + 1);

                for (size_t i = 0; i < ELEMENTSOF(config_table); i++)
                        if (strcmp(config_table[i].key, key) == 0) {
                                item = &config_table[i];
                                break;
                        }
                if (!item)
                        return line_error(reterr_message, filename, line, "unknown key \"%s\"", key);

                /* Values may be quoted to keep leading/trailing blanks or '#'. */
                if (strlen(value) >= 2 && value[0] == '"' && value[strlen(value) - 1] == '"') {
                        value[strlen(value) - 1] = '\0';
                        value++;
                }

                r = item->parse(value, (char *) c + item->offset, &why);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return line_error(reterr_message, filename, line, "%s: %s", key,
                                          why ? why : "invalid value");
        }
        return 0;
}

static int read_file(const char *path, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = -1;
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(CONFIG_MAX_FILE_SIZE + 1);
        char buf[4096];
        ssize_t n;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        for (;;) {
                n = read(fd, buf, sizeof(buf));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                r = strbuf_append(&b, buf, (size_t) n);
                if (r < 0)
                        return r;
        }
        *ret_len = b.len;
        *ret = strbuf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

static int load_one(Config *c, const char *path, char **reterr_message) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r;

        r = read_file(path, &text, &len);
        if (r == -E2BIG)
                return line_error(reterr_message, path, 0, "file is larger than %u bytes",
                                  CONFIG_MAX_FILE_SIZE);
        if (r < 0)
                return r;
        return config_parse_text(c, text, len, path, reterr_message);
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int config_load(Config *c, const char *path, bool missing_ok, char **reterr_message) {
        _cleanup_free_ char *dir = NULL;
        DIR *d;
        struct dirent *de;
        char **names = NULL;
        size_t n = 0;
        int r;

        r = load_one(c, path, reterr_message);
        if (r == -ENOENT && missing_ok)
                r = 0;
        else if (r < 0 && r != -EINVAL && r != -ENOMEM) {
                if (asprintf(reterr_message, "%s: %s", path, strerror(-r)) < 0)
                        *reterr_message = NULL;
                return r;
        }
        if (r < 0)
                return r;

        if (asprintf(&dir, "%s.d", path) < 0)
                return -ENOMEM;
        d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : negative_errno();
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name);
                char **nn;

                if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0)
                        continue;
                if (n >= 256)
                        break;
                nn = realloc(names, (n + 1) * sizeof(char *));
                if (!nn) {
                        r = -ENOMEM;
                        break;
                }
                names = nn;
                if (asprintf(&names[n], "%s/%s", dir, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                n++;
        }
        closedir(d);
        if (r >= 0) {
                if (n > 1)
                        qsort(names, n, sizeof(char *), cmp_str);
                for (size_t i = 0; i < n && r >= 0; i++) {
                        r = load_one(c, names[i], reterr_message);
                        if (r < 0 && r != -EINVAL && r != -ENOMEM &&
                            asprintf(reterr_message, "%s: %s", names[i], strerror(-r)) < 0)
                                *reterr_message = NULL;
                }
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        return r;
}

int config_validate(const Config *c, char **reterr_message) {
        if (c->tag_refresh_usec < 10 * USEC_PER_SEC) {
                if (asprintf(reterr_message, "tag_refresh: must be at least 10s (DescribeTags costs API quota)") < 0)
                        *reterr_message = NULL;
                return -EINVAL;
        }
        if (c->api_timeout_usec > c->takeover_timeout_usec) {
                /* Not fatal in AWS terms, but a takeover could never retry. */
                if (asprintf(reterr_message, "api_timeout: must not exceed takeover_timeout") < 0)
                        *reterr_message = NULL;
                return -EINVAL;
        }
        return 0;
}
