/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "cdp/macro.h"
#include "cdp/parse-util.h"
#include "cdp/policy.h"
#include "cdp/strbuf.h"

typedef enum PolicyKind {
        KIND_NONE,
        KIND_SNAPSHOT,
        KIND_ENV,
        KIND_FLOATING_IP,
        KIND_ROUTING_HA,
        KIND_BASTION,
        _KIND_MAX,
} PolicyKind;

typedef enum TagId {
        TAG_SNAPSHOT,
        TAG_SNAPSHOT_KEEP,
        TAG_SNAPSHOT_TYPE,
        TAG_SNAPSHOT_VOLUMES,
        TAG_SNAPSHOT_COPY_TO,
        TAG_TZ,
        TAG_FLOATING_IP,
        TAG_ROUTING_HA,
        TAG_EXPIRES_AT,
        TAG_TTL,
        TAG_EXPIRE_ACTION,
        TAG_EXPIRE_REVOKE,
        _TAG_MAX,
} TagId;

static const struct {
        const char *name;       /* after the prefix */
        PolicyKind kind;
} tag_table[_TAG_MAX] = {
        [TAG_SNAPSHOT] = { "snapshot", KIND_SNAPSHOT },
        [TAG_SNAPSHOT_KEEP] = { "snapshot:keep", KIND_SNAPSHOT },
        [TAG_SNAPSHOT_TYPE] = { "snapshot:type", KIND_SNAPSHOT },
        [TAG_SNAPSHOT_VOLUMES] = { "snapshot:volumes", KIND_SNAPSHOT },
        [TAG_SNAPSHOT_COPY_TO] = { "snapshot:copy-to", KIND_SNAPSHOT },
        [TAG_TZ] = { "tz", KIND_SNAPSHOT },
        [TAG_FLOATING_IP] = { "floating-ip", KIND_FLOATING_IP },
        [TAG_ROUTING_HA] = { "routing-ha", KIND_ROUTING_HA },
        [TAG_EXPIRES_AT] = { "expires-at", KIND_BASTION },
        [TAG_TTL] = { "ttl", KIND_BASTION },
        [TAG_EXPIRE_ACTION] = { "expire-action", KIND_BASTION },
        [TAG_EXPIRE_REVOKE] = { "expire-revoke", KIND_BASTION },
};

#define ENV_TAG "env:"

/* Tags cdpd sets on the snapshots and images it creates. */
static const char *const output_tags[] = {
        "managed-by", "instance-id", "slot", "volume-id", "device", "type", "source-id",
};

/* Environment variables that make a program load or run other code. A tag
 * never names code to run (SPEC 4), so Cloud DI refuses them. Not complete
 * by nature: it covers the dynamic loader, shells and common interpreters. */
static const char *const env_refused[] = {
        "PATH", "SHELL", "ENV", "BASH_ENV", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND", "IFS",
        "CDPATH", "GLOBIGNORE", "GLIBC_TUNABLES", "GCONV_PATH", "LOCPATH", "NLSPATH", "HOSTALIASES",
        "RESOLV_HOST_CONF", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PERL5LIB", "PERLLIB",
        "PERL5OPT", "PERL5DB", "RUBYLIB", "RUBYOPT", "NODE_OPTIONS", "NODE_PATH", "CLASSPATH",
        "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "GIT_SSH", "GIT_SSH_COMMAND",
        "GIT_EXEC_PATH", "LESSOPEN", "LESSCLOSE", "EDITOR", "VISUAL", "PAGER", "SSH_ASKPASS",
        "SUDO_ASKPASS", "OPENSSL_CONF", "OPENSSL_ENGINES",
};
static const char *const env_refused_prefixes[] = {
        "LD_", "DYLD_", "BASH_FUNC_",
};

/* ------------------------------------------------------------------------ */
/* Helpers */

static char **strv_free_n(char **v, size_t n) {
        if (!v)
                return NULL;
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
        return NULL;
}

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* A trimmed copy of s[0..len). Ownership: caller frees. */
static char *strndup_trimmed(const char *s, size_t len) {
        while (len > 0 && is_space(*s)) {
                s++;
                len--;
        }
        while (len > 0 && is_space(s[len - 1]))
                len--;
        return strndup(s, len);
}

/* A copy for PolicyError fields: at most SANITIZED_MAX bytes (any valid
 * value fits), cut at a character boundary, bytes that are not UTF-8 replaced
 * by U+FFFD, so the JSON output stays valid. Ownership: caller frees. */
#define SANITIZED_MAX (POLICY_VALUE_MAX * 4)
static char *sanitize(const char *s) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(SANITIZED_MAX + 1);

        if (strbuf_puts(&b, "") < 0)
                return NULL;
        for (; s && *s;) {
                size_t n = utf8_char_len(s);
                int r;

                if (n == 0) {
                        if (b.len + 3 > SANITIZED_MAX)
                                break;
                        r = strbuf_puts(&b, "\xef\xbf\xbd");
                        n = 1;
                } else {
                        if (b.len + n > SANITIZED_MAX)
                                break;
                        r = strbuf_append(&b, s, n);
                }
                if (r < 0)
                        return NULL;
                s += n;
        }
        return strbuf_steal(&b);
}

/* Optimal string alignment distance, capped: returns cap + 1 when above. */
static unsigned edit_distance(const char *a, const char *b, unsigned cap) {
        size_t la = strlen(a), lb = strlen(b);
        unsigned rows[3][POLICY_KEY_MAX + 2];
        unsigned *prev2 = rows[0], *prev = rows[1], *cur = rows[2];

        if (la > POLICY_KEY_MAX || lb > POLICY_KEY_MAX)
                return cap + 1;
        if ((la > lb ? la - lb : lb - la) > cap)
                return cap + 1;

        for (size_t j = 0; j <= lb; j++)
                prev[j] = (unsigned) j;
        for (size_t i = 1; i <= la; i++) {
                unsigned *t;

                cur[0] = (unsigned) i;
                for (size_t j = 1; j <= lb; j++) {
                        unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
                        unsigned v = MIN(prev[j] + 1, cur[j - 1] + 1);

                        v = MIN(v, prev[j - 1] + cost);
                        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                                v = MIN(v, prev2[j - 2] + 1);
                        cur[j] = v;
                }
                t = prev2;
                prev2 = prev;
                prev = cur;
                cur = t;
        }
        return MIN(prev[lb], cap + 1);
}

/* Characters in a valid UTF-8 string: EC2 counts its limits in characters. */
static size_t utf8_count(const char *s) {
        size_t n = 0;

        for (; *s; s++)
                if (((unsigned char) *s & 0xc0) != 0x80)
                        n++;
        return n;
}

static void ascii_lower(char *s) {
        for (; *s; s++)
                if (*s >= 'A' && *s <= 'Z')
                        *s = (char) (*s - 'A' + 'a');
}

/* ------------------------------------------------------------------------ */
/* Parser state */

typedef struct Parser {
        Policy *policy;
        const char *prefix;
        size_t prefix_len;
        const char *keys[_TAG_MAX];      /* borrowed from the input */
        const char *values[_TAG_MAX];
        bool invalid[_KIND_MAX];
        size_t errors_allocated;
} Parser;

/* Records an error and disables `kind`. The reason reads
 * "<key>: <quoted value> <text>", or "<key>: <text>" without show_value. */
static int parser_failv(Parser *p, PolicyKind kind, const char *key, const char *value, bool show_value,
                        const char *fmt, va_list ap) _printf_(6, 0);
static int parser_failv(Parser *p, PolicyKind kind, const char *key, const char *value, bool show_value,
                        const char *fmt, va_list ap) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(4096);
        _cleanup_free_ char *tag = NULL, *val = NULL, *reason = NULL;
        Policy *pol = p->policy;
        char qkey[POLICY_KEY_MAX + 16], qval[96];
        const char *shown_key;
        int r;

        p->invalid[kind] = true;

        /* Show the key bare when it is harmless, quoted otherwise. */
        shown_key = key;
        for (const char *c = key; *c; c++)
                if ((unsigned char) *c < 0x21 || (unsigned char) *c >= 0x7f || *c == '"' || *c == '\\') {
                        shown_key = quote_string(qkey, sizeof(qkey), key);
                        break;
                }
        if (strlen(key) > POLICY_KEY_MAX)
                shown_key = quote_string(qkey, 64, key);

        r = strbuf_printf(&b, "%s: ", shown_key);
        if (r >= 0 && show_value)
                r = strbuf_printf(&b, "%s ", quote_string(qval, sizeof(qval), value ? value : ""));
        if (r >= 0)
                r = strbuf_vprintf(&b, fmt, ap);
        if (r < 0)
                return -ENOMEM;

        reason = strbuf_steal(&b);
        tag = sanitize(key);
        val = sanitize(value ? value : "");
        if (!reason || !tag || !val)
                return -ENOMEM;

        if (pol->n_errors >= p->errors_allocated) {
                size_t n = p->errors_allocated ? p->errors_allocated * 2 : 8;
                PolicyError *e = realloc(pol->errors, n * sizeof(PolicyError));

                if (!e)
                        return -ENOMEM;
                pol->errors = e;
                p->errors_allocated = n;
        }
        pol->errors[pol->n_errors++] = (PolicyError) {
                .tag = TAKE_PTR(tag),
                .value = TAKE_PTR(val),
                .reason = TAKE_PTR(reason),
        };
        return 0;
}

static int parser_fail(Parser *p, PolicyKind kind, const char *key, const char *value, const char *fmt, ...)
        _printf_(5, 6);
static int parser_fail(Parser *p, PolicyKind kind, const char *key, const char *value, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = parser_failv(p, kind, key, value, true, fmt, ap);
        va_end(ap);
        return r;
}

/* As parser_fail(), for reasons that mention the value themselves (or where
 * it does not matter); the value is still recorded in PolicyError. */
static int parser_fail_key(Parser *p, PolicyKind kind, const char *key, const char *value, const char *fmt, ...)
        _printf_(5, 6);
static int parser_fail_key(Parser *p, PolicyKind kind, const char *key, const char *value, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = parser_failv(p, kind, key, value, false, fmt, ap);
        va_end(ap);
        return r;
}

/* The consequence, appended to every reason that disables a policy. */
static const char *off_note(PolicyKind kind) {
        switch (kind) {
        case KIND_SNAPSHOT:
                return " (the snapshot policy is off until this is fixed)";
        case KIND_FLOATING_IP:
                return " (the floating IP policy is off until this is fixed)";
        case KIND_ROUTING_HA:
                return " (the routing HA policy is off until this is fixed)";
        case KIND_BASTION:
                return " (the bastion policy is off, nothing expires, until this is fixed)";
        default:
                return "";
        }
}

typedef struct List {
        char **items;
        size_t n;
} List;

static void list_done(List *l) {
        l->items = strv_free_n(l->items, l->n);
        l->n = 0;
}

/* Splits value at sep into trimmed items. -EINVAL with err filled for an
 * empty item or too many items; -ENOMEM. */
static int list_split(const char *value, char sep, List *ret, char *err, size_t err_size) {
        _cleanup_(list_done) List l = {};
        const char *s = value;

        l.items = calloc(POLICY_LIST_MAX, sizeof(char *));
        if (!l.items)
                return -ENOMEM;

        for (;;) {
                const char *end = strchr(s, sep);
                size_t len = end ? (size_t) (end - s) : strlen(s);
                char *item;

                if (l.n >= POLICY_LIST_MAX) {
                        (void) snprintf(err, err_size, "has more than %d items", POLICY_LIST_MAX);
                        return -EINVAL;
                }
                item = strndup_trimmed(s, len);
                if (!item)
                        return -ENOMEM;
                l.items[l.n++] = item;
                if (item[0] == '\0') {
                        (void) snprintf(err, err_size, "has an empty item; expected items separated by \"%c\"", sep);
                        return -EINVAL;
                }
                if (!end)
                        break;
                s = end + 1;
        }

        *ret = l;
        l = (List) {};
        return 0;
}

/* Index of the first item equal to an earlier one, or -1. */
static ssize_t list_find_duplicate(const List *l) {
        for (size_t i = 1; i < l->n; i++)
                for (size_t j = 0; j < i; j++)
                        if (strcmp(l->items[i], l->items[j]) == 0) // NOLINT(clang-analyzer-core.NonNullParamChecker): n > 0 implies items
                                return (ssize_t) i;
        return -1;
}

/* ------------------------------------------------------------------------ */
/* Snapshot */

static void snapshot_policy_done(SnapshotPolicy *s) {
        free(s->schedule_text);
        free(s->tz);
        strv_free_n(s->devices, s->n_devices);
        strv_free_n(s->volume_ids, s->n_volume_ids);
        strv_free_n(s->copy_to, s->n_copy_to);
        *s = (SnapshotPolicy) {};
}

static bool valid_device_name(const char *s) {
        size_t n = 0;

        if (strncmp(s, "/dev/", 5) != 0)
                return false;
        s += 5;
        if (strncmp(s, "nvme", 4) == 0) {
                /* /dev/nvme<1-2 digits>n<1-2 digits> */
                s += 4;
                while (s[n] >= '0' && s[n] <= '9')
                        n++;
                if (n < 1 || n > 2 || s[n] != 'n')
                        return false;
                s += n + 1;
                n = 0;
                while (s[n] >= '0' && s[n] <= '9')
                        n++;
                return n >= 1 && n <= 2 && s[n] == '\0';
        }
        if (strncmp(s, "sd", 2) == 0)
                s += 2;
        else if (strncmp(s, "xvd", 3) == 0)
                s += 3;
        else
                return false;
        /* One or two letters, then an optional partition number ("/dev/sda1",
         * the usual root device name in EC2). */
        while (s[n] >= 'a' && s[n] <= 'z')
                n++;
        if (n < 1 || n > 2)
                return false;
        s += n;
        n = 0;
        while (s[n] >= '0' && s[n] <= '9')
                n++;
        return n <= 2 && s[n] == '\0' && !(n > 0 && s[0] == '0');
}

static int parse_snapshot_volumes(Parser *p, SnapshotPolicy *sp) {
        const char *key = p->keys[TAG_SNAPSHOT_VOLUMES], *value = p->values[TAG_SNAPSHOT_VOLUMES];
        _cleanup_(list_done) List l = {};
        char err[128], q[96];
        ssize_t dup;
        int r;

        r = list_split(value, ',', &l, err, sizeof(err));
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return parser_fail(p, KIND_SNAPSHOT, key, value, "%s%s", err, off_note(KIND_SNAPSHOT));

        if (l.n == 1 && strcasecmp(l.items[0], "all") == 0) {
                sp->volumes = SNAPSHOT_VOLUMES_ALL;
                return 0;
        }
        if (l.n == 1 && strcasecmp(l.items[0], "data") == 0) {
                sp->volumes = SNAPSHOT_VOLUMES_DATA;
                return 0;
        }

        sp->devices = calloc(l.n, sizeof(char *));
        sp->volume_ids = calloc(l.n, sizeof(char *));
        if (!sp->devices || !sp->volume_ids)
                return -ENOMEM;

        for (size_t i = 0; i < l.n; i++) {
                char *item = l.items[i];

                if (strcasecmp(item, "all") == 0 || strcasecmp(item, "data") == 0)
                        return parser_fail(p, KIND_SNAPSHOT, key, value,
                                           "combines %s with other items; use \"all\", \"data\" or a list of "
                                           "devices and volume ids%s",
                                           quote_string(q, sizeof(q), item), off_note(KIND_SNAPSHOT));
                if (valid_device_name(item))
                        sp->devices[sp->n_devices++] = TAKE_PTR(l.items[i]);
                else if (valid_aws_id(item, "vol"))
                        sp->volume_ids[sp->n_volume_ids++] = TAKE_PTR(l.items[i]);
                else
                        return parser_fail(p, KIND_SNAPSHOT, key, value,
                                           "has an invalid item %s: expected \"all\", \"data\" or a comma list of "
                                           "device names (/dev/sdf, /dev/xvdf, /dev/nvme1n1) and volume ids "
                                           "(vol- and 8 or 17 lowercase hex digits)%s",
                                           quote_string(q, sizeof(q), item), off_note(KIND_SNAPSHOT));
        }

        dup = list_find_duplicate(&(List) { .items = sp->devices, .n = sp->n_devices });
        if (dup >= 0)
                return parser_fail(p, KIND_SNAPSHOT, key, value, "lists %s twice%s",
                                   quote_string(q, sizeof(q), sp->devices[dup]), off_note(KIND_SNAPSHOT));
        dup = list_find_duplicate(&(List) { .items = sp->volume_ids, .n = sp->n_volume_ids });
        if (dup >= 0)
                return parser_fail(p, KIND_SNAPSHOT, key, value, "lists %s twice%s",
                                   quote_string(q, sizeof(q), sp->volume_ids[dup]), off_note(KIND_SNAPSHOT));

        sp->volumes = SNAPSHOT_VOLUMES_LIST;
        return 0;
}

static int parse_snapshot_copy_to(Parser *p, SnapshotPolicy *sp) {
        const char *key = p->keys[TAG_SNAPSHOT_COPY_TO], *value = p->values[TAG_SNAPSHOT_COPY_TO];
        _cleanup_(list_done) List l = {};
        char err[128], q[96];
        ssize_t dup;
        int r;

        r = list_split(value, ',', &l, err, sizeof(err));
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return parser_fail(p, KIND_SNAPSHOT, key, value, "%s%s", err, off_note(KIND_SNAPSHOT));

        for (size_t i = 0; i < l.n; i++)
                if (!valid_aws_region(l.items[i]))
                        return parser_fail(p, KIND_SNAPSHOT, key, value,
                                           "has an invalid item %s: expected a comma list of AWS region names "
                                           "such as us-east-1 or ap-northeast-1%s",
                                           quote_string(q, sizeof(q), l.items[i]), off_note(KIND_SNAPSHOT));
        dup = list_find_duplicate(&l);
        if (dup >= 0)
                return parser_fail(p, KIND_SNAPSHOT, key, value, "lists %s twice%s",
                                   quote_string(q, sizeof(q), l.items[dup]), off_note(KIND_SNAPSHOT));

        sp->copy_to = TAKE_PTR(l.items);
        sp->n_copy_to = l.n;
        l.n = 0;
        return 0;
}

static int parse_snapshot(Parser *p) {
        _cleanup_(snapshot_policy_done) SnapshotPolicy sp = {
                .keep = POLICY_KEEP_DEFAULT,
                .type = SNAPSHOT_TYPE_EBS,
                .volumes = SNAPSHOT_VOLUMES_ALL,
        };
        const char *v;
        int r;

        v = p->values[TAG_TZ];
        if (v) {
                _cleanup_(tz_freep) TimeZone *tz = NULL;
                _cleanup_free_ char *name = strndup_trimmed(v, strlen(v));

                if (!name)
                        return -ENOMEM;
                r = tz_load(name, &tz);
                if (r == -ENOMEM)
                        return r;
                if (r == -EINVAL)
                        r = parser_fail(p, KIND_SNAPSHOT, p->keys[TAG_TZ], v,
                                        "is not an IANA time zone name such as Asia/Tokyo, Europe/London or UTC%s",
                                        off_note(KIND_SNAPSHOT));
                else if (r == -ENOENT)
                        r = parser_fail(p, KIND_SNAPSHOT, p->keys[TAG_TZ], v,
                                        "is not a time zone known to this system (nothing under " TZ_ZONEINFO_DIR
                                        "; expected a name such as Asia/Tokyo, Europe/London or UTC)%s",
                                        off_note(KIND_SNAPSHOT));
                else if (r < 0)
                        r = parser_fail(p, KIND_SNAPSHOT, p->keys[TAG_TZ], v,
                                        "names a zone whose file under " TZ_ZONEINFO_DIR " could not be used (%s)%s",
                                        strerror(-r), off_note(KIND_SNAPSHOT));
                else
                        sp.tz = TAKE_PTR(name);
                if (r < 0)
                        return r;
        }
        if (!sp.tz) {
                sp.tz = strdup("UTC");
                if (!sp.tz)
                        return -ENOMEM;
        }

        v = p->values[TAG_SNAPSHOT];
        if (v) {
                _cleanup_free_ char *reason = NULL;

                r = schedule_parse(v, &sp.schedule, &reason);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        r = parser_fail(p, KIND_SNAPSHOT, p->keys[TAG_SNAPSHOT], v, "%s%s",
                                        reason ? reason : "is not a valid schedule", off_note(KIND_SNAPSHOT));
                else {
                        sp.schedule_text = strndup_trimmed(v, strlen(v));
                        r = sp.schedule_text ? 0 : -ENOMEM;
                }
                if (r < 0)
                        return r;
        }

        v = p->values[TAG_SNAPSHOT_KEEP];
        if (v) {
                _cleanup_free_ char *t = strndup_trimmed(v, strlen(v));

                if (!t)
                        return -ENOMEM;
                if (parse_uint_range(t, POLICY_KEEP_MIN, POLICY_KEEP_MAX, &sp.keep) < 0) {
                        /* Never fall back to the default: a wrong keep must not prune. */
                        r = parser_fail(p, KIND_SNAPSHOT, p->keys[TAG_SNAPSHOT_KEEP], v,
                                        "is not a whole number from %d to %d%s",
                                        POLICY_KEEP_MIN, POLICY_KEEP_MAX, off_note(KIND_SNAPSHOT));
                        if (r < 0)
                                return r;
                }
        }

        v = p->values[TAG_SNAPSHOT_TYPE];
        if (v) {
                _cleanup_free_ char *t = strndup_trimmed(v, strlen(v));

                if (!t)
                        return -ENOMEM;
                if (strcasecmp(t, "ebs") == 0)
                        sp.type = SNAPSHOT_TYPE_EBS;
                else if (strcasecmp(t, "ami") == 0)
                        sp.type = SNAPSHOT_TYPE_AMI;
                else {
                        r = parser_fail(p, KIND_SNAPSHOT, p->keys[TAG_SNAPSHOT_TYPE], v,
                                        "is not \"ebs\" or \"ami\"%s", off_note(KIND_SNAPSHOT));
                        if (r < 0)
                                return r;
                }
        }

        if (p->values[TAG_SNAPSHOT_VOLUMES]) {
                r = parse_snapshot_volumes(p, &sp);
                if (r < 0)
                        return r;
                if (!p->invalid[KIND_SNAPSHOT] && sp.type == SNAPSHOT_TYPE_AMI &&
                    sp.volumes != SNAPSHOT_VOLUMES_ALL) {
                        r = parser_fail(p, KIND_SNAPSHOT, p->keys[TAG_SNAPSHOT_VOLUMES],
                                        p->values[TAG_SNAPSHOT_VOLUMES],
                                        "cannot be used with %ssnapshot:type=ami: an image always holds every volume; "
                                        "use \"all\" or type ebs%s", p->prefix, off_note(KIND_SNAPSHOT));
                        if (r < 0)
                                return r;
                }
        }

        if (p->values[TAG_SNAPSHOT_COPY_TO]) {
                r = parse_snapshot_copy_to(p, &sp);
                if (r < 0)
                        return r;
        }

        if (p->invalid[KIND_SNAPSHOT] || !sp.schedule_text) {
                p->policy->snapshot = (SnapshotPolicy) { .invalid = p->invalid[KIND_SNAPSHOT] };
                return 0;
        }

        sp.enabled = true;
        p->policy->snapshot = sp;
        sp = (SnapshotPolicy) {};
        return 0;
}

/* ------------------------------------------------------------------------ */
/* Cloud DI */

static bool env_name_refused(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(env_refused); i++)
                if (strcmp(name, env_refused[i]) == 0)
                        return true;
        for (size_t i = 0; i < ELEMENTSOF(env_refused_prefixes); i++)
                if (strncmp(name, env_refused_prefixes[i], strlen(env_refused_prefixes[i])) == 0)
                        return true;
        return false;
}

static int env_var_compare(const void *a, const void *b) {
        return strcmp(((const EnvVar *) a)->name, ((const EnvVar *) b)->name);
}

/* One cdp:env:NAME tag; a bad one is reported and left out. */
static int parse_env_tag(Parser *p, const char *key, const char *value) {
        CloudDiPolicy *env = &p->policy->env;
        const char *name = key + p->prefix_len + strlen(ENV_TAG);
        _cleanup_free_ char *n = NULL, *v = NULL;

        if (!valid_env_name(name))
                return parser_fail(p, KIND_ENV, key, value,
                                   "has an invalid variable name: after %s" ENV_TAG " expected a name matching "
                                   "[A-Za-z_][A-Za-z0-9_]* (this variable is left out)", p->prefix);
        if (env_name_refused(name))
                return parser_fail(p, KIND_ENV, key, value,
                                   "is refused: %s makes programs load or run other code, and a tag never names "
                                   "code to run (this variable is left out)", name);
        for (const char *c = value; *c; c++)
                if (((unsigned char) *c < 0x20 && *c != '\t') || *c == 0x7f)
                        return parser_fail(p, KIND_ENV, key, value,
                                           "contains a control character; expected a single line of text, since the env "
                                           "file is line based (this variable is left out)");

        for (size_t i = 0; i < env->n_vars; i++)
                if (strcmp(env->vars[i].name, name) == 0) {
                        char q[96];

                        /* Not possible on EC2; keep the first and say so. */
                        return parser_fail(p, KIND_ENV, key, value,
                                           "repeats a tag given before (first value %s); the first value is kept",
                                           quote_string(q, sizeof(q), env->vars[i].value));
                }

        n = strdup(name);
        v = strdup(value);
        if (!n || !v)
                return -ENOMEM;
        if (env->n_vars % 8 == 0) {
                EnvVar *e = realloc(env->vars, (env->n_vars + 8) * sizeof(EnvVar));

                if (!e)
                        return -ENOMEM;
                env->vars = e;
        }
        env->vars[env->n_vars++] = (EnvVar) { .name = TAKE_PTR(n), .value = TAKE_PTR(v) };
        return 0;
}

/* ------------------------------------------------------------------------ */
/* Floating IP */

static void floating_ip_policy_done(FloatingIpPolicy *f) {
        for (size_t i = 0; f->targets && i < f->n_targets; i++)
                free(f->targets[i].allocation_id);
        free(f->targets);
        *f = (FloatingIpPolicy) {};
}

/* 0.0.0.0/8, 127/8, 169.254/16 and 224/4 and above cannot be a secondary
 * private address of an interface. */
static bool ipv4_is_usable_unicast(struct in_addr a) {
        uint32_t h = ntohl(a.s_addr);

        return (h >> 24) != 0 && (h >> 24) != 127 && (h >> 16) != 0xa9fe && (h >> 28) < 0xe;
}

static int parse_floating_ip(Parser *p) {
        const char *key = p->keys[TAG_FLOATING_IP], *value = p->values[TAG_FLOATING_IP];
        _cleanup_(floating_ip_policy_done) FloatingIpPolicy f = {};
        _cleanup_(list_done) List l = {};
        char err[128], q[96];
        ssize_t dup;
        int r;

        if (!value)
                return 0;

        r = list_split(value, ',', &l, err, sizeof(err));
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return parser_fail(p, KIND_FLOATING_IP, key, value, "%s%s", err, off_note(KIND_FLOATING_IP));

        f.targets = calloc(l.n, sizeof(FloatingIpTarget));
        if (!f.targets)
                return -ENOMEM;
        for (size_t i = 0; i < l.n; i++) {
                FloatingIpTarget *t = &f.targets[i];

                if (valid_aws_id(l.items[i], "eipalloc")) {
                        t->kind = FLOATING_IP_ELASTIC;
                        t->allocation_id = strdup(l.items[i]);
                        if (!t->allocation_id)
                                return -ENOMEM;
                } else if (parse_ipv4(l.items[i], &t->address) == 0) {
                        if (!ipv4_is_usable_unicast(t->address))
                                return parser_fail(p, KIND_FLOATING_IP, key, value,
                                                   "has %s, which cannot be a private address of an interface "
                                                   "(zero, loopback, link-local or multicast)%s",
                                                   quote_string(q, sizeof(q), l.items[i]), off_note(KIND_FLOATING_IP));
                        t->kind = FLOATING_IP_PRIVATE;
                } else
                        return parser_fail(p, KIND_FLOATING_IP, key, value,
                                           "has an invalid item %s: expected a comma list of Elastic IP allocation "
                                           "ids (eipalloc- and 8 or 17 lowercase hex digits) and private IPv4 "
                                           "addresses such as 10.0.1.10%s",
                                           quote_string(q, sizeof(q), l.items[i]), off_note(KIND_FLOATING_IP));
                f.n_targets++;
        }

        /* Comparing the text is enough: addresses have one spelling (no
         * leading zeros), allocation ids are lowercase. */
        dup = list_find_duplicate(&l);
        if (dup >= 0)
                return parser_fail(p, KIND_FLOATING_IP, key, value, "lists %s twice%s",
                                   quote_string(q, sizeof(q), l.items[dup]), off_note(KIND_FLOATING_IP));
        if (p->invalid[KIND_FLOATING_IP])
                return 0;

        f.enabled = true;
        p->policy->floating_ip = f;
        f = (FloatingIpPolicy) {};
        return 0;
}

/* ------------------------------------------------------------------------ */
/* Routing HA */

static void routing_ha_policy_done(RoutingHaPolicy *rh) {
        for (size_t i = 0; rh->routes && i < rh->n_routes; i++) {
                free(rh->routes[i].cidr);
                strv_free_n(rh->routes[i].route_tables, rh->routes[i].n_route_tables);
        }
        free(rh->routes);
        *rh = (RoutingHaPolicy) {};
}

#define ROUTING_HA_EXPECTED \
        "expected a comma list of <cidr>@<route table>[+<route table>...], " \
        "e.g. 192.168.100.10/32@rtb-0a1b2c3d+rtb-4e5f6a7b"

/* The network of a CIDR that parse_ipv4_cidr() refused with -EDOM. */
static int cidr_masked(const char *cidr, char *buf, size_t size) {
        const char *slash = strchr(cidr, '/');
        _cleanup_free_ char *addr = NULL;
        struct in_addr a;
        unsigned prefix;
        char text[INET_ADDRSTRLEN];

        if (!slash)
                return -EINVAL;
        addr = strndup(cidr, (size_t) (slash - cidr));
        if (!addr)
                return -ENOMEM;
        if (parse_ipv4(addr, &a) < 0 || parse_uint_range(slash + 1, 0, 32, &prefix) < 0)
                return -EINVAL;
        a.s_addr = htonl(ntohl(a.s_addr) & (prefix == 0 ? 0 : UINT32_MAX << (32 - prefix)));
        (void) inet_ntop(AF_INET, &a, text, sizeof(text));
        (void) snprintf(buf, size, "%s/%u", text, prefix);
        return 0;
}

static int parse_routing_ha_item(Parser *p, const char *item, RoutingHaRoute *ret) {
        const char *key = p->keys[TAG_ROUTING_HA], *value = p->values[TAG_ROUTING_HA];
        _cleanup_free_ char *cidr = NULL;
        _cleanup_(list_done) List rtbs = {};
        const char *at = strchr(item, '@');
        char err[128], q[96], buf[INET_ADDRSTRLEN + 4];
        struct in_addr net;
        unsigned prefix;
        int r;

        if (!at || strchr(at + 1, '@'))
                return parser_fail(p, KIND_ROUTING_HA, key, value, "has an invalid item %s: %s%s",
                                   quote_string(q, sizeof(q), item), ROUTING_HA_EXPECTED, off_note(KIND_ROUTING_HA));

        cidr = strndup_trimmed(item, (size_t) (at - item));
        if (!cidr)
                return -ENOMEM;
        r = parse_ipv4_cidr(cidr, &net, &prefix);
        if (r == -EDOM) {
                char masked[INET_ADDRSTRLEN + 4];

                r = cidr_masked(cidr, masked, sizeof(masked));
                if (r < 0)
                        return r;
                return parser_fail(p, KIND_ROUTING_HA, key, value,
                                   "has %s with host bits set (EC2 refuses such a route); did you mean %s?%s",
                                   quote_string(q, sizeof(q), cidr), masked, off_note(KIND_ROUTING_HA));
        }
        if (r < 0)
                return parser_fail(p, KIND_ROUTING_HA, key, value,
                                   "has an invalid destination %s: expected an IPv4 CIDR such as 192.168.100.10/32; %s%s",
                                   quote_string(q, sizeof(q), cidr), ROUTING_HA_EXPECTED, off_note(KIND_ROUTING_HA));

        r = list_split(at + 1, '+', &rtbs, err, sizeof(err));
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return parser_fail(p, KIND_ROUTING_HA, key, value, "has an item %s that %s%s",
                                   quote_string(q, sizeof(q), item), err, off_note(KIND_ROUTING_HA));
        for (size_t i = 0; i < rtbs.n; i++)
                if (!valid_aws_id_loose(rtbs.items[i], "rtb"))
                        return parser_fail(p, KIND_ROUTING_HA, key, value,
                                           "has an invalid route table id %s: expected rtb- and lowercase hex "
                                           "digits; %s%s", quote_string(q, sizeof(q), rtbs.items[i]), ROUTING_HA_EXPECTED,
                                           off_note(KIND_ROUTING_HA));

        (void) inet_ntop(AF_INET, &net, buf, sizeof(buf));
        free(cidr);
        cidr = malloc(strlen(buf) + 4);
        if (!cidr)
                return -ENOMEM;
        (void) sprintf(cidr, "%s/%u", buf, prefix);

        *ret = (RoutingHaRoute) {
                .cidr = TAKE_PTR(cidr),
                .network = net,
                .prefix = prefix,
                .route_tables = TAKE_PTR(rtbs.items),
                .n_route_tables = rtbs.n,
        };
        rtbs.n = 0;
        return 0;
}

static int parse_routing_ha(Parser *p) {
        const char *key = p->keys[TAG_ROUTING_HA], *value = p->values[TAG_ROUTING_HA];
        _cleanup_(routing_ha_policy_done) RoutingHaPolicy rh = {};
        _cleanup_(list_done) List l = {};
        char err[128], q[96];
        int r;

        if (!value)
                return 0;

        r = list_split(value, ',', &l, err, sizeof(err));
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return parser_fail(p, KIND_ROUTING_HA, key, value, "%s; %s%s", err, ROUTING_HA_EXPECTED,
                                   off_note(KIND_ROUTING_HA));

        rh.routes = calloc(l.n, sizeof(RoutingHaRoute));
        if (!rh.routes)
                return -ENOMEM;
        for (size_t i = 0; i < l.n; i++) {
                size_t before = p->policy->n_errors;

                r = parse_routing_ha_item(p, l.items[i], &rh.routes[i]);
                if (r < 0)
                        return r;
                if (p->policy->n_errors != before)
                        return 0;
                rh.n_routes++;
        }

        /* The same destination in the same table twice is a contradiction
         * waiting to happen; the same destination in several tables is the
         * normal case. */
        for (size_t i = 0; i < rh.n_routes; i++)
                for (size_t j = 0; j <= i; j++)
                        for (size_t a = 0; a < rh.routes[i].n_route_tables; a++)
                                for (size_t b = 0; b < (i == j ? a : rh.routes[j].n_route_tables); b++) {
                                        char q2[96];

                                        if (rh.routes[i].network.s_addr != rh.routes[j].network.s_addr ||
                                            rh.routes[i].prefix != rh.routes[j].prefix ||
                                            strcmp(rh.routes[i].route_tables[a], rh.routes[j].route_tables[b]) != 0)
                                                continue;
                                        return parser_fail(p, KIND_ROUTING_HA, key, value,
                                                           "lists %s in %s twice%s",
                                                           quote_string(q, sizeof(q), rh.routes[i].cidr),
                                                           quote_string(q2, sizeof(q2), rh.routes[i].route_tables[a]),
                                                           off_note(KIND_ROUTING_HA));
                                }
        if (p->invalid[KIND_ROUTING_HA])
                return 0;

        rh.enabled = true;
        p->policy->routing_ha = rh;
        rh = (RoutingHaPolicy) {};
        return 0;
}

/* ------------------------------------------------------------------------ */
/* Bastion */

static void bastion_policy_done(BastionPolicy *b) {
        strv_free_n(b->revoke_rule_ids, b->n_revoke_rule_ids);
        *b = (BastionPolicy) {};
}

static int parse_bastion(Parser *p) {
        _cleanup_(bastion_policy_done) BastionPolicy b = { .action = EXPIRE_ACTION_TERMINATE };
        const char *v;
        char q[96];
        int r;

        v = p->values[TAG_EXPIRES_AT];
        if (v) {
                _cleanup_free_ char *t = strndup_trimmed(v, strlen(v));

                if (!t)
                        return -ENOMEM;
                r = parse_rfc3339_utc(t, &b.expires_at);
                if (r < 0) {
                        r = parser_fail(p, KIND_BASTION, p->keys[TAG_EXPIRES_AT], v,
                                        "is not %s; expected an RFC 3339 time such as 2026-11-21T23:00:00Z%s",
                                        r == -ERANGE ? "a real date and time" : "an RFC 3339 time",
                                        off_note(KIND_BASTION));
                        if (r < 0)
                                return r;
                } else
                        b.has_expires_at = true;
        }

        v = p->values[TAG_TTL];
        if (v) {
                _cleanup_free_ char *t = strndup_trimmed(v, strlen(v));

                if (!t)
                        return -ENOMEM;
                r = parse_duration(t, &b.ttl_usec);
                if (r < 0) {
                        r = parser_fail(p, KIND_BASTION, p->keys[TAG_TTL], v,
                                        "is not a duration from 1s to 3650d such as 90m, 4h or 2d%s",
                                        off_note(KIND_BASTION));
                        if (r < 0)
                                return r;
                } else
                        b.has_ttl = true;
        }

        v = p->values[TAG_EXPIRE_ACTION];
        if (v) {
                _cleanup_free_ char *t = strndup_trimmed(v, strlen(v));

                if (!t)
                        return -ENOMEM;
                if (strcasecmp(t, "terminate") == 0)
                        b.action = EXPIRE_ACTION_TERMINATE;
                else if (strcasecmp(t, "stop") == 0)
                        b.action = EXPIRE_ACTION_STOP;
                else {
                        r = parser_fail(p, KIND_BASTION, p->keys[TAG_EXPIRE_ACTION], v,
                                        "is not \"terminate\" or \"stop\"%s", off_note(KIND_BASTION));
                        if (r < 0)
                                return r;
                }
        }

        v = p->values[TAG_EXPIRE_REVOKE];
        if (v) {
                _cleanup_(list_done) List l = {};
                char err[128];
                ssize_t dup;

                r = list_split(v, ',', &l, err, sizeof(err));
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        r = parser_fail(p, KIND_BASTION, p->keys[TAG_EXPIRE_REVOKE], v, "%s%s", err,
                                        off_note(KIND_BASTION));
                for (size_t i = 0; r == 0 && i < l.n; i++)
                        if (!valid_aws_id(l.items[i], "sgr"))
                                r = parser_fail(p, KIND_BASTION, p->keys[TAG_EXPIRE_REVOKE], v,
                                                "has an invalid item %s: expected a comma list of security group "
                                                "rule ids (sgr- and 8 or 17 lowercase hex digits)%s",
                                                quote_string(q, sizeof(q), l.items[i]), off_note(KIND_BASTION));
                if (r == 0 && !p->invalid[KIND_BASTION] && (dup = list_find_duplicate(&l)) >= 0)
                        r = parser_fail(p, KIND_BASTION, p->keys[TAG_EXPIRE_REVOKE], v, "lists %s twice%s",
                                        quote_string(q, sizeof(q), l.items[dup]), off_note(KIND_BASTION)); // NOLINT(clang-analyzer-core.NullDereference): dup >= 0 implies items
                if (r < 0)
                        return r;
                b.revoke_rule_ids = TAKE_PTR(l.items);
                b.n_revoke_rule_ids = l.n;
                l.n = 0;
        }

        if (p->invalid[KIND_BASTION] || !(b.has_expires_at || b.has_ttl)) {
                p->policy->bastion = (BastionPolicy) { .invalid = p->invalid[KIND_BASTION] };
                return 0;
        }

        b.enabled = true;
        p->policy->bastion = b;
        b = (BastionPolicy) {};
        return 0;
}

int bastion_policy_expiry(const BastionPolicy *b, time_t launch_time, time_t *ret) {
        int64_t e = INT64_MAX;

        if (!b || !ret)
                return -EINVAL;
        if (!b->enabled || !(b->has_expires_at || b->has_ttl))
                return -ENOENT;
        if (b->has_expires_at)
                e = b->expires_at;
        if (b->has_ttl) {
                int64_t ttl = (int64_t) (b->ttl_usec / USEC_PER_SEC);

                if ((int64_t) launch_time <= INT64_MAX - ttl)
                        e = MIN(e, (int64_t) launch_time + ttl);
        }
        if ((int64_t) (time_t) e != e)
                return -ERANGE;
        *ret = (time_t) e;
        return 0;
}

/* ------------------------------------------------------------------------ */
/* Tag classification */

/* For an unknown key: the known key it most likely misspells, if any. */
static int find_suggestion(const char *name) {
        _cleanup_free_ char *lower = strdup(name);
        int best = -1;
        unsigned best_d = UINT_MAX;

        if (!lower)
                return -1;
        ascii_lower(lower);
        for (int i = 0; i < _TAG_MAX; i++) {
                /* One edit for short keys ("tz", "ttl"), two for longer ones. */
                unsigned cap = strlen(tag_table[i].name) <= 4 ? 1 : 2;
                unsigned d = edit_distance(lower, tag_table[i].name, cap);

                if (d <= cap && d < best_d) {
                        best = i;
                        best_d = d;
                }
        }
        return best;
}

static int classify_unknown(Parser *p, const char *key, const char *value) {
        const char *name = key + p->prefix_len;
        _cleanup_free_ char *lower = strdup(name);
        PolicyKind kind = KIND_NONE;
        int s;

        if (!lower)
                return -ENOMEM;
        ascii_lower(lower);

        if (strncmp(lower, ENV_TAG, strlen(ENV_TAG)) == 0 && valid_env_name(name + strlen(ENV_TAG))) {
                char q[96];

                /* "Env:FOO": keys are case sensitive. */
                return parser_fail_key(p, KIND_NONE, key, value,
                                       "unknown tag (value %s); tag keys are case sensitive: did you mean %s"
                                       ENV_TAG "%s?", quote_string(q, sizeof(q), value), p->prefix,
                                       name + strlen(ENV_TAG));
        }

        s = find_suggestion(name);
        if (s >= 0)
                kind = tag_table[s].kind;
        if (strncmp(lower, "snapshot", 8) == 0)
                kind = KIND_SNAPSHOT;
        else if (strncmp(lower, "expire", 6) == 0)
                kind = KIND_BASTION;
        /* Only the patterns whose defaults destroy something are switched
         * off: a misspelt keep would prune to 7, a misspelt expire-action
         * would terminate. */
        if (kind != KIND_SNAPSHOT && kind != KIND_BASTION)
                kind = KIND_NONE;

        if (s >= 0) {
                char q[96];

                return parser_fail_key(p, kind, key, value, "unknown tag (value %s); did you mean %s%s?%s",
                                       quote_string(q, sizeof(q), value), p->prefix, tag_table[s].name,
                                       off_note(kind));
        }
        {
                char q[96];
                _cleanup_strbuf_ StrBuf known = STRBUF_INIT(2048);

                for (size_t i = 0; i < _TAG_MAX; i++)
                        if (strbuf_printf(&known, "%s%s", p->prefix, tag_table[i].name) < 0 ||
                            strbuf_puts(&known, ", ") < 0)
                                return -ENOMEM;
                if (strbuf_printf(&known, "%s" ENV_TAG "<NAME>", p->prefix) < 0)
                        return -ENOMEM;
                return parser_fail_key(p, kind, key, value, "unknown tag (value %s); known tags are %s%s",
                                       quote_string(q, sizeof(q), value), known.data, off_note(kind));
        }
}

/* Which policy a key (after the prefix) belongs to, for errors about its shape. */
static PolicyKind kind_of_name(const char *name) {
        if (strncmp(name, ENV_TAG, strlen(ENV_TAG)) == 0)
                return KIND_ENV;
        for (size_t i = 0; i < _TAG_MAX; i++)
                if (strcmp(name, tag_table[i].name) == 0)
                        return tag_table[i].kind;
        return KIND_NONE;
}

static int classify_tag(Parser *p, const char *key, const char *value) {
        const char *name = key + p->prefix_len;
        PolicyKind kind;
        char q[96];

        if (!valid_utf8(key))
                return parser_fail_key(p, KIND_NONE, key, value, "tag key is not valid UTF-8 (it is ignored)");
        if (utf8_count(key) > POLICY_KEY_MAX)
                return parser_fail_key(p, kind_of_name(name), key, value,
                                       "tag key is longer than %d characters, the EC2 limit (it is ignored)",
                                       POLICY_KEY_MAX);

        kind = kind_of_name(name);
        if (!valid_utf8(value))
                return parser_fail(p, kind, key, value, "is not valid UTF-8%s",
                                   kind == KIND_ENV ? " (this variable is left out)" : off_note(kind));
        if (utf8_count(value) > POLICY_VALUE_MAX)
                return parser_fail(p, kind, key, value, "is longer than %d characters, the EC2 limit%s",
                                   POLICY_VALUE_MAX,
                                   kind == KIND_ENV ? " (this variable is left out)" : off_note(kind));

        if (kind == KIND_ENV)
                return parse_env_tag(p, key, value);

        for (size_t i = 0; i < _TAG_MAX; i++) {
                if (strcmp(name, tag_table[i].name) != 0)
                        continue;
                if (p->keys[i])
                        /* Not possible on EC2; refuse rather than pick one. */
                        return parser_fail(p, tag_table[i].kind, key, value,
                                           "repeats a tag given before (first value %s)%s",
                                           quote_string(q, sizeof(q), p->values[i]), off_note(tag_table[i].kind));
                p->keys[i] = key;
                p->values[i] = value;
                return 0;
        }

        for (size_t i = 0; i < ELEMENTSOF(output_tags); i++)
                if (strcmp(name, output_tags[i]) == 0)
                        return 0;

        return classify_unknown(p, key, value);
}

int policy_parse(const PolicyTag *tags, size_t n_tags, const char *prefix, Policy **ret) {
        _cleanup_(policy_freep) Policy *pol = NULL;
        Parser p = {};
        int r;

        if ((!tags && n_tags > 0) || !prefix || !*prefix || !ret)
                return -EINVAL;
        for (size_t i = 0; i < n_tags; i++)
                if (!tags[i].key)
                        return -EINVAL;

        pol = calloc(1, sizeof(*pol));
        if (!pol)
                return -ENOMEM;
        p = (Parser) { .policy = pol, .prefix = prefix, .prefix_len = strlen(prefix) };

        /* EC2's limit counts user tags only: aws:-prefixed system tags
         * (CloudFormation, Auto Scaling) come on top. */
        size_t n_user = 0;
        for (size_t i = 0; i < n_tags; i++)
                if (strncmp(tags[i].key, "aws:", 4) != 0)
                        n_user++;
        if (n_user > POLICY_TAGS_MAX) {
                r = parser_fail_key(&p, KIND_NONE, prefix, NULL,
                                    "the instance has %zu tags but EC2 allows at most %d; something is wrong with "
                                    "the tag source, so no policy is applied", n_user, POLICY_TAGS_MAX);
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(pol);
                return 0;
        }

        for (size_t i = 0; i < n_tags; i++) {
                if (strncmp(tags[i].key, prefix, p.prefix_len) != 0)
                        continue;
                r = classify_tag(&p, tags[i].key, tags[i].value ? tags[i].value : "");
                if (r < 0)
                        return r;
        }

        r = parse_snapshot(&p);
        if (r < 0)
                return r;
        r = parse_floating_ip(&p);
        if (r < 0)
                return r;
        r = parse_routing_ha(&p);
        if (r < 0)
                return r;
        r = parse_bastion(&p);
        if (r < 0)
                return r;

        pol->snapshot.invalid = p.invalid[KIND_SNAPSHOT];
        pol->bastion.invalid = p.invalid[KIND_BASTION];
        pol->floating_ip.invalid = p.invalid[KIND_FLOATING_IP];
        pol->routing_ha.invalid = p.invalid[KIND_ROUTING_HA];

        if (pol->env.n_vars > 1)
                qsort(pol->env.vars, pol->env.n_vars, sizeof(EnvVar), env_var_compare);
        pol->env.enabled = pol->env.n_vars > 0;
        pol->env.invalid = p.invalid[KIND_ENV];

        *ret = TAKE_PTR(pol);
        return 0;
}

Policy *policy_free(Policy *p) {
        if (!p)
                return NULL;
        snapshot_policy_done(&p->snapshot);
        for (size_t i = 0; i < p->env.n_vars; i++) {
                free(p->env.vars[i].name);
                free(p->env.vars[i].value);
        }
        free(p->env.vars);
        floating_ip_policy_done(&p->floating_ip);
        routing_ha_policy_done(&p->routing_ha);
        bastion_policy_done(&p->bastion);
        for (size_t i = 0; i < p->n_errors; i++) {
                free(p->errors[i].tag);
                free(p->errors[i].value);
                free(p->errors[i].reason);
        }
        free(p->errors);
        free(p);
        return NULL;
}

const char *snapshot_type_to_string(SnapshotType t) {
        return t == SNAPSHOT_TYPE_AMI ? "ami" : "ebs";
}

const char *snapshot_volumes_to_string(SnapshotVolumes v) {
        switch (v) {
        case SNAPSHOT_VOLUMES_DATA:
                return "data";
        case SNAPSHOT_VOLUMES_LIST:
                return "list";
        default:
                return "all";
        }
}

const char *expire_action_to_string(ExpireAction a) {
        return a == EXPIRE_ACTION_STOP ? "stop" : "terminate";
}

/* ------------------------------------------------------------------------ */
/* JSON */

/* Adds val under key; val is released on failure. */
static int json_add(struct json_object *obj, const char *key, struct json_object *val) {
        if (!val)
                return -ENOMEM;
        if (json_object_object_add(obj, key, val) < 0) {
                json_object_put(val);
                return -ENOMEM;
        }
        return 0;
}

static int json_append(struct json_object *arr, struct json_object *val) {
        if (!val)
                return -ENOMEM;
        if (json_object_array_add(arr, val) < 0) {
                json_object_put(val);
                return -ENOMEM;
        }
        return 0;
}

static struct json_object *json_strv(char *const *v, size_t n) {
        struct json_object *arr = json_object_new_array();

        if (!arr)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (json_append(arr, json_object_new_string(v[i])) < 0) {
                        json_object_put(arr);
                        return NULL;
                }
        return arr;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);

static int json_policy_head(struct json_object **ret, bool enabled, bool invalid) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();

        if (!o ||
            json_add(o, "enabled", json_object_new_boolean(enabled)) < 0 ||
            json_add(o, "invalid", json_object_new_boolean(invalid)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

static int json_snapshot(const SnapshotPolicy *s, struct json_object **ret) {
        _cleanup_(json_object_putp) struct json_object *o = NULL;

        if (json_policy_head(&o, s->enabled, s->invalid) < 0)
                return -ENOMEM;
        if (s->enabled) {
                if (json_add(o, "schedule", json_object_new_string(s->schedule_text)) < 0 ||
                    json_add(o, "schedule_kind", json_object_new_string(
                                     s->schedule.kind == SCHEDULE_INTERVAL ? "interval" : "cron")) < 0 ||
                    (s->schedule.kind == SCHEDULE_INTERVAL &&
                     json_add(o, "interval_seconds",
                              json_object_new_int64((int64_t) (s->schedule.interval_usec / USEC_PER_SEC))) < 0) ||
                    json_add(o, "tz", json_object_new_string(s->tz)) < 0 ||
                    json_add(o, "keep", json_object_new_int64(s->keep)) < 0 ||
                    json_add(o, "type", json_object_new_string(snapshot_type_to_string(s->type))) < 0 ||
                    json_add(o, "volumes", json_object_new_string(snapshot_volumes_to_string(s->volumes))) < 0 ||
                    json_add(o, "devices", json_strv(s->devices, s->n_devices)) < 0 ||
                    json_add(o, "volume_ids", json_strv(s->volume_ids, s->n_volume_ids)) < 0 ||
                    json_add(o, "copy_to", json_strv(s->copy_to, s->n_copy_to)) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(o);
        return 0;
}

static int json_env(const CloudDiPolicy *e, struct json_object **ret) {
        _cleanup_(json_object_putp) struct json_object *o = NULL, *vars = NULL;

        if (json_policy_head(&o, e->enabled, e->invalid) < 0)
                return -ENOMEM;
        vars = json_object_new_object();
        if (!vars)
                return -ENOMEM;
        for (size_t i = 0; i < e->n_vars; i++)
                if (json_add(vars, e->vars[i].name, json_object_new_string(e->vars[i].value)) < 0)
                        return -ENOMEM;
        if (json_add(o, "env", TAKE_PTR(vars)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

static int json_floating_ip(const FloatingIpPolicy *f, struct json_object **ret) {
        _cleanup_(json_object_putp) struct json_object *o = NULL, *arr = NULL;

        if (json_policy_head(&o, f->enabled, f->invalid) < 0)
                return -ENOMEM;
        if (f->enabled) {
                arr = json_object_new_array();
                if (!arr)
                        return -ENOMEM;
                for (size_t i = 0; i < f->n_targets; i++) {
                        _cleanup_(json_object_putp) struct json_object *t = json_object_new_object();
                        const FloatingIpTarget *x = &f->targets[i];
                        char buf[INET_ADDRSTRLEN];

                        if (!t)
                                return -ENOMEM;
                        if (x->kind == FLOATING_IP_ELASTIC) {
                                if (json_add(t, "type", json_object_new_string("elastic-ip")) < 0 ||
                                    json_add(t, "allocation_id", json_object_new_string(x->allocation_id)) < 0)
                                        return -ENOMEM;
                        } else {
                                (void) inet_ntop(AF_INET, &x->address, buf, sizeof(buf));
                                if (json_add(t, "type", json_object_new_string("private-ip")) < 0 ||
                                    json_add(t, "address", json_object_new_string(buf)) < 0)
                                        return -ENOMEM;
                        }
                        if (json_append(arr, TAKE_PTR(t)) < 0)
                                return -ENOMEM;
                }
                if (json_add(o, "targets", TAKE_PTR(arr)) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(o);
        return 0;
}

static int json_routing_ha(const RoutingHaPolicy *rh, struct json_object **ret) {
        _cleanup_(json_object_putp) struct json_object *o = NULL, *arr = NULL;

        if (json_policy_head(&o, rh->enabled, rh->invalid) < 0)
                return -ENOMEM;
        if (rh->enabled) {
                arr = json_object_new_array();
                if (!arr)
                        return -ENOMEM;
                for (size_t i = 0; i < rh->n_routes; i++) {
                        _cleanup_(json_object_putp) struct json_object *t = json_object_new_object();

                        if (!t ||
                            json_add(t, "cidr", json_object_new_string(rh->routes[i].cidr)) < 0 ||
                            json_add(t, "route_tables",
                                     json_strv(rh->routes[i].route_tables, rh->routes[i].n_route_tables)) < 0 ||
                            json_append(arr, TAKE_PTR(t)) < 0)
                                return -ENOMEM;
                }
                if (json_add(o, "routes", TAKE_PTR(arr)) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(o);
        return 0;
}

static int json_bastion(const BastionPolicy *b, struct json_object **ret) {
        _cleanup_(json_object_putp) struct json_object *o = NULL;

        if (json_policy_head(&o, b->enabled, b->invalid) < 0)
                return -ENOMEM;
        if (b->enabled) {
                if (b->has_expires_at) {
                        char buf[RFC3339_UTC_STRING_MAX];

                        if (format_rfc3339_utc(b->expires_at, buf) < 0)
                                return -ERANGE;
                        if (json_add(o, "expires_at", json_object_new_string(buf)) < 0)
                                return -ENOMEM;
                }
                if (b->has_ttl) {
                        char buf[DURATION_STRING_MAX];

                        if (json_add(o, "ttl_seconds", json_object_new_int64((int64_t) (b->ttl_usec / USEC_PER_SEC))) < 0 ||
                            json_add(o, "ttl", json_object_new_string(format_duration(b->ttl_usec, buf))) < 0)
                                return -ENOMEM;
                }
                if (json_add(o, "expire_action", json_object_new_string(expire_action_to_string(b->action))) < 0 ||
                    json_add(o, "expire_revoke", json_strv(b->revoke_rule_ids, b->n_revoke_rule_ids)) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(o);
        return 0;
}

/* The keys are documented in policy.h. */
int policy_to_json(const Policy *p, struct json_object **ret) {
        _cleanup_(json_object_putp) struct json_object *o = NULL, *errors = NULL, *sub = NULL;
        int r;

        if (!p || !ret)
                return -EINVAL;
        o = json_object_new_object();
        errors = json_object_new_array();
        if (!o || !errors)
                return -ENOMEM;

        r = json_snapshot(&p->snapshot, &sub);
        if (r < 0 || json_add(o, "snapshot", TAKE_PTR(sub)) < 0)
                return r < 0 ? r : -ENOMEM;
        r = json_env(&p->env, &sub);
        if (r < 0 || json_add(o, "cloud_di", TAKE_PTR(sub)) < 0)
                return r < 0 ? r : -ENOMEM;
        r = json_floating_ip(&p->floating_ip, &sub);
        if (r < 0 || json_add(o, "floating_ip", TAKE_PTR(sub)) < 0)
                return r < 0 ? r : -ENOMEM;
        r = json_routing_ha(&p->routing_ha, &sub);
        if (r < 0 || json_add(o, "routing_ha", TAKE_PTR(sub)) < 0)
                return r < 0 ? r : -ENOMEM;
        r = json_bastion(&p->bastion, &sub);
        if (r < 0 || json_add(o, "bastion", TAKE_PTR(sub)) < 0)
                return r < 0 ? r : -ENOMEM;

        for (size_t i = 0; i < p->n_errors; i++) {
                _cleanup_(json_object_putp) struct json_object *e = json_object_new_object();

                if (!e ||
                    json_add(e, "tag", json_object_new_string(p->errors[i].tag)) < 0 ||
                    json_add(e, "value", json_object_new_string(p->errors[i].value)) < 0 ||
                    json_add(e, "reason", json_object_new_string(p->errors[i].reason)) < 0 ||
                    json_append(errors, TAKE_PTR(e)) < 0)
                        return -ENOMEM;
        }
        if (json_add(o, "errors", TAKE_PTR(errors)) < 0)
                return -ENOMEM;

        *ret = TAKE_PTR(o);
        return 0;
}
