/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "cdp/parse-util.h"
#include "cdp/snapshot-plan.h"

/* ------------------------------------------------------------------------
 * Tag keys, states
 * ------------------------------------------------------------------------ */

static int key_set(char buf[static SNAPSHOT_TAG_KEY_MAX + 1], const char *prefix, const char *name) {
        int n = snprintf(buf, SNAPSHOT_TAG_KEY_MAX + 1, "%s%s", prefix, name);

        if (n < 0)
                return -EINVAL;
        if ((size_t) n > SNAPSHOT_TAG_KEY_MAX)
                return -ENAMETOOLONG;
        return 0;
}

int snapshot_tag_keys_init(SnapshotTagKeys *k, const char *prefix) {
        SnapshotTagKeys t = {};
        int r;

        if (!k || !prefix)
                return -EINVAL;
        if ((r = key_set(t.managed_by, prefix, "managed-by")) < 0 ||
            (r = key_set(t.instance_id, prefix, "instance-id")) < 0 ||
            (r = key_set(t.slot, prefix, "slot")) < 0 ||
            (r = key_set(t.device, prefix, "device")) < 0 ||
            (r = key_set(t.volume_id, prefix, "volume-id")) < 0 ||
            (r = key_set(t.type, prefix, "type")) < 0 ||
            (r = key_set(t.source_id, prefix, "source-id")) < 0)
                return r;
        *k = t;
        return 0;
}

SnapshotState snapshot_state_from_ec2(const char *state, bool image) {
        if (!state)
                return SNAPSHOT_STATE_OTHER;
        if (strcmp(state, "pending") == 0)
                return SNAPSHOT_STATE_PENDING;
        if (image) {
                if (strcmp(state, "available") == 0)
                        return SNAPSHOT_STATE_COMPLETED;
                if (strcmp(state, "failed") == 0 || strcmp(state, "invalid") == 0 || strcmp(state, "error") == 0)
                        return SNAPSHOT_STATE_ERROR;
                return SNAPSHOT_STATE_OTHER;
        }
        if (strcmp(state, "completed") == 0)
                return SNAPSHOT_STATE_COMPLETED;
        if (strcmp(state, "error") == 0)
                return SNAPSHOT_STATE_ERROR;
        return SNAPSHOT_STATE_OTHER;
}

const char *snapshot_state_to_string(SnapshotState s) {
        static const char *const names[_SNAPSHOT_STATE_MAX] = {
                [SNAPSHOT_STATE_PENDING] = "pending",
                [SNAPSHOT_STATE_COMPLETED] = "completed",
                [SNAPSHOT_STATE_ERROR] = "error",
                [SNAPSHOT_STATE_OTHER] = "other",
        };
        return (unsigned) s < _SNAPSHOT_STATE_MAX ? names[s] : "other";
}

const char *snapshot_delete_reason_to_string(SnapshotDeleteReason r) {
        switch (r) {
        case SNAPSHOT_DELETE_FAILED:
                return "failed";
        case SNAPSHOT_DELETE_ORPHANED:
                return "orphaned";
        case SNAPSHOT_DELETE_EXPIRED:
        default:
                return "expired";
        }
}

/* ------------------------------------------------------------------------
 * Records
 * ------------------------------------------------------------------------ */

void snapshot_record_done(SnapshotRecord *r) {
        if (!r)
                return;
        free(r->id);
        free(r->name);
        for (size_t i = 0; i < r->n_snapshot_ids; i++)
                free(r->snapshot_ids[i]);
        free(r->snapshot_ids);
        *r = (SnapshotRecord) { .slot = SNAPSHOT_SLOT_UNSET };
}

void snapshot_set_done(SnapshotSet *s) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n_records; i++)
                snapshot_record_done(&s->records[i]);
        free(s->records);
        for (size_t i = 0; i < s->pool_cap; i++)
                free(s->pool[i]);
        free(s->pool);
        *s = (SnapshotSet) {};
}

static uint64_t str_hash(const char *s) {
        uint64_t h = 0xcbf29ce484222325ULL;     /* FNV-1a */

        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 0x100000001b3ULL;
        return h;
}

static bool pool_grow(SnapshotSet *s) {
        size_t cap = s->pool_cap ? s->pool_cap * 2 : 16;
        char **n;

        if (cap > SIZE_MAX / sizeof(char *))
                return false;
        n = calloc(cap, sizeof(char *));
        if (!n)
                return false;
        for (size_t i = 0; i < s->pool_cap; i++) {
                size_t j;

                if (!s->pool[i])
                        continue;
                for (j = str_hash(s->pool[i]) & (cap - 1); n[j]; j = (j + 1) & (cap - 1))
                        ;
                n[j] = s->pool[i];
        }
        free(s->pool);
        s->pool = n;
        s->pool_cap = cap;
        return true;
}

const char *snapshot_set_intern(SnapshotSet *s, const char *str) {
        size_t j;

        if (!s || !str)
                return NULL;
        /* At most half full, so probing always ends at an empty slot. */
        if ((s->n_pool + 1) * 2 > s->pool_cap && !pool_grow(s))
                return NULL;
        for (j = str_hash(str) & (s->pool_cap - 1); s->pool[j]; j = (j + 1) & (s->pool_cap - 1))
                if (strcmp(s->pool[j], str) == 0)
                        return s->pool[j];
        s->pool[j] = strdup(str);
        if (!s->pool[j])
                return NULL;
        s->n_pool++;
        return s->pool[j];
}

static int strdup_or_null(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int intern_or_null(SnapshotSet *s, const char *str, const char **ret) {
        *ret = str ? snapshot_set_intern(s, str) : NULL;
        return !str || *ret ? 0 : -ENOMEM;
}

/* Copy of src into *dst (zeroed first): owned strings duplicated, shared ones
 * interned in s. */
static int record_copy(SnapshotSet *s, SnapshotRecord *dst, const SnapshotRecord *src) {
        _cleanup_(snapshot_record_done) SnapshotRecord r = { .slot = src->slot, .state = src->state };

        if (!src->id)
                return -EINVAL;
        if (strdup_or_null(src->id, &r.id) < 0 || strdup_or_null(src->name, &r.name) < 0 ||
            intern_or_null(s, src->managed_by, &r.managed_by) < 0 ||
            intern_or_null(s, src->instance_id, &r.instance_id) < 0 ||
            intern_or_null(s, src->device, &r.device) < 0 || intern_or_null(s, src->volume_id, &r.volume_id) < 0 ||
            intern_or_null(s, src->type, &r.type) < 0)
                return -ENOMEM;
        if (src->n_snapshot_ids > 0) {
                r.snapshot_ids = calloc(src->n_snapshot_ids, sizeof(char *));
                if (!r.snapshot_ids)
                        return -ENOMEM;
                for (size_t i = 0; i < src->n_snapshot_ids; i++) {
                        if (strdup_or_null(src->snapshot_ids[i], &r.snapshot_ids[i]) < 0)
                                return -ENOMEM;
                        r.n_snapshot_ids++;
                }
        }
        *dst = r;
        r = (SnapshotRecord) {};
        return 0;
}

static int set_reserve(SnapshotSet *s) {
        SnapshotRecord *n;
        size_t cap;

        if (s->n_records < s->cap)
                return 0;
        /* Half again, not double: a listing of 10,000 wastes less. */
        cap = s->cap ? s->cap + s->cap / 2 : 64;
        if (cap > SIZE_MAX / sizeof(SnapshotRecord))
                return -ENOMEM;
        n = realloc(s->records, cap * sizeof(SnapshotRecord));
        if (!n)
                return -ENOMEM;
        s->records = n;
        s->cap = cap;
        return 0;
}

int snapshot_set_add(SnapshotSet *s, const SnapshotRecord *r) {
        int k;

        if (!s || !r)
                return -EINVAL;
        k = set_reserve(s);
        if (k < 0)
                return k;
        k = record_copy(s, &s->records[s->n_records], r);
        if (k < 0)
                return k;
        s->n_records++;
        return 0;
}

static time_t slot_parse(const char *s) {
        time_t t;

        if (!s || parse_rfc3339_utc(s, &t) < 0)
                return SNAPSHOT_SLOT_UNSET;
        return t;
}

int snapshot_set_add_snapshot(SnapshotSet *s, const SnapshotTagKeys *k, const Ec2Snapshot *snap) {
        const char *vol;

        if (!s || !k || !snap || !snap->id)
                return -EINVAL;
        vol = ec2_tags_get(snap->tags, snap->n_tags, k->volume_id);
        /* Borrowed view; snapshot_set_add() copies. */
        const SnapshotRecord r = {
                .id = snap->id,
                .state = snapshot_state_from_ec2(snap->state, false),
                .managed_by = ec2_tags_get(snap->tags, snap->n_tags, k->managed_by),
                .instance_id = ec2_tags_get(snap->tags, snap->n_tags, k->instance_id),
                .slot = slot_parse(ec2_tags_get(snap->tags, snap->n_tags, k->slot)),
                .device = ec2_tags_get(snap->tags, snap->n_tags, k->device),
                .volume_id = vol && *vol ? vol : snap->volume_id,
                .type = ec2_tags_get(snap->tags, snap->n_tags, k->type),
        };
        return snapshot_set_add(s, &r);
}

int snapshot_set_add_image(SnapshotSet *s, const SnapshotTagKeys *k, const Ec2Image *img) {
        _cleanup_free_ char **ids = NULL;
        size_t n = 0;

        if (!s || !k || !img || !img->id)
                return -EINVAL;
        if (img->n_devices > 0) {
                ids = calloc(img->n_devices, sizeof(char *));
                if (!ids)
                        return -ENOMEM;
                for (size_t i = 0; i < img->n_devices; i++)
                        if (img->devices[i].snapshot_id && *img->devices[i].snapshot_id)
                                ids[n++] = img->devices[i].snapshot_id;
        }
        const SnapshotRecord r = {
                .id = img->id,
                .state = snapshot_state_from_ec2(img->state, true),
                .managed_by = ec2_tags_get(img->tags, img->n_tags, k->managed_by),
                .instance_id = ec2_tags_get(img->tags, img->n_tags, k->instance_id),
                .slot = slot_parse(ec2_tags_get(img->tags, img->n_tags, k->slot)),
                .device = ec2_tags_get(img->tags, img->n_tags, k->device),
                .volume_id = ec2_tags_get(img->tags, img->n_tags, k->volume_id),
                .type = ec2_tags_get(img->tags, img->n_tags, k->type),
                .name = img->name,
                .snapshot_ids = ids,
                .n_snapshot_ids = n,
        };
        return snapshot_set_add(s, &r);
}

SnapshotRecord *snapshot_set_find(const SnapshotSet *s, const char *id) {
        if (!s || !id)
                return NULL;
        for (size_t i = 0; i < s->n_records; i++)
                if (strcmp(s->records[i].id, id) == 0)
                        return &s->records[i];
        return NULL;
}

bool snapshot_record_is_ours(const SnapshotRecord *r, const char *instance_id) {
        return r && instance_id && r->managed_by && r->instance_id &&
               strcmp(r->managed_by, SNAPSHOT_MANAGED_BY_VALUE) == 0 && strcmp(r->instance_id, instance_id) == 0;
}

/* ------------------------------------------------------------------------
 * Devices and volumes
 * ------------------------------------------------------------------------ */

/* The part after "/dev/sd" or "/dev/xvd", or NULL for other names. */
static const char *sd_suffix(const char *d) {
        if (strncmp(d, "/dev/sd", 7) == 0)
                return d + 7;
        if (strncmp(d, "/dev/xvd", 8) == 0)
                return d + 8;
        return NULL;
}

bool snapshot_device_equal(const char *a, const char *b) {
        const char *sa, *sb;

        if (!a || !b)
                return false;
        if (strcmp(a, b) == 0)
                return true;
        sa = sd_suffix(a);
        sb = sd_suffix(b);
        return sa && sb && *sa && strcmp(sa, sb) == 0;
}

static bool is_image_part(const SnapshotRecord *r) {
        return r->type && strcmp(r->type, "ami") == 0;
}

/* Whether a record belongs to this decision: ours, and of the type the
 * policy handles (images are passed separately from snapshots). */
static bool record_in_scope(const SnapshotPlanInput *in, const SnapshotRecord *r) {
        if (!snapshot_record_is_ours(r, in->instance_id))
                return false;
        if (in->type == SNAPSHOT_TYPE_EBS && is_image_part(r))
                return false;
        return true;
}

/* The key of r: borrowed from r, volumes or a literal when it can be (no
 * allocation for 10,000 records), else allocated into *ret_owned. */
static int record_key(const SnapshotRecord *r, SnapshotType type, const SnapshotVolume *volumes, size_t n_volumes,
                      const char **ret_key, char **ret_owned) {
        char *k;

        *ret_owned = NULL;
        if (type == SNAPSHOT_TYPE_AMI) {
                *ret_key = SNAPSHOT_IMAGE_KEY;
                return 0;
        }
        if (r->device && *r->device) {
                *ret_key = r->device;
                return 0;
        }
        if (!r->volume_id || !*r->volume_id)
                return -ENOENT;
        for (size_t i = 0; i < n_volumes && volumes; i++)
                if (volumes[i].volume_id && volumes[i].device && strcmp(volumes[i].volume_id, r->volume_id) == 0) {
                        *ret_key = volumes[i].device;
                        return 0;
                }
        if (asprintf(&k, SNAPSHOT_VOLUME_KEY_PREFIX "%s", r->volume_id) < 0)
                return -ENOMEM;
        *ret_key = *ret_owned = k;
        return 0;
}

int snapshot_record_key(const SnapshotRecord *r, SnapshotType type, const SnapshotVolume *volumes,
                        size_t n_volumes, char **ret) {
        const char *key;
        char *owned, *k;
        int e;

        if (!r || !ret)
                return -EINVAL;
        e = record_key(r, type, volumes, n_volumes, &key, &owned);
        if (e < 0)
                return e;
        k = owned ?: strdup(key);
        if (!k)
                return -ENOMEM;
        *ret = k;
        return 0;
}

static bool policy_names_device(const SnapshotPolicy *p, const char *device) {
        for (size_t i = 0; i < p->n_devices; i++)
                if (snapshot_device_equal(p->devices[i], device))
                        return true;
        return false;
}

static bool policy_names_volume(const SnapshotPolicy *p, const char *volume_id) {
        for (size_t i = 0; i < p->n_volume_ids; i++)
                if (strcmp(p->volume_ids[i], volume_id) == 0)
                        return true;
        return false;
}

/* A policy device name resolved locally (an NVMe name) to this volume. */
static bool policy_names_alias(const SnapshotPolicy *p, const SnapshotVolume *aliases, size_t n_aliases,
                               const char *volume_id) {
        for (size_t i = 0; i < n_aliases && aliases; i++)
                if (aliases[i].volume_id && strcmp(aliases[i].volume_id, volume_id) == 0 &&
                    policy_names_device(p, aliases[i].device))
                        return true;
        return false;
}

void snapshot_volume_choice_done(SnapshotVolumeChoice *c) {
        if (!c)
                return;
        free(c->exclude_data);
        free(c->included);
        free(c->missing);
        *c = (SnapshotVolumeChoice) {};
}

int snapshot_plan_volumes(const SnapshotPolicy *p, const SnapshotVolume *attached, size_t n_attached,
                          const char *root_device, const SnapshotVolume *aliases, size_t n_aliases,
                          SnapshotVolumeChoice *ret) {
        _cleanup_(snapshot_volume_choice_done) SnapshotVolumeChoice c = {};
        bool boot_named = false;

        if (!p || (!attached && n_attached > 0) || !ret)
                return -EINVAL;

        c.included = calloc(n_attached + 1, sizeof(*c.included));
        c.exclude_data = calloc(n_attached + 1, sizeof(*c.exclude_data));
        c.missing = calloc(p->n_devices + p->n_volume_ids + 1, sizeof(*c.missing));
        if (!c.included || !c.exclude_data || !c.missing)
                return -ENOMEM;

        for (size_t i = 0; i < n_attached; i++) {
                const SnapshotVolume *v = &attached[i];
                bool boot = root_device && snapshot_device_equal(v->device, root_device);
                bool take;

                if (!v->device || !v->volume_id)
                        continue;
                switch (p->volumes) {
                case SNAPSHOT_VOLUMES_ALL:
                        take = true;
                        break;
                case SNAPSHOT_VOLUMES_DATA:
                        take = !boot;
                        break;
                case SNAPSHOT_VOLUMES_LIST:
                default:
                        take = policy_names_device(p, v->device) || policy_names_volume(p, v->volume_id) ||
                               policy_names_alias(p, aliases, n_aliases, v->volume_id);
                        break;
                }
                if (take) {
                        c.included[c.n_included++] = v;
                        if (boot)
                                boot_named = true;
                } else if (!boot)
                        c.exclude_data[c.n_exclude_data++] = v->volume_id;
        }

        c.exclude_boot = p->volumes != SNAPSHOT_VOLUMES_ALL && !boot_named;

        if (p->volumes == SNAPSHOT_VOLUMES_LIST) {
                for (size_t i = 0; i < p->n_devices; i++) {
                        bool found = false;

                        for (size_t j = 0; j < n_attached && !found; j++)
                                found = attached[j].volume_id &&
                                        snapshot_device_equal(attached[j].device, p->devices[i]);
                        for (size_t j = 0; j < n_aliases && aliases && !found; j++) {
                                if (!aliases[j].volume_id || !snapshot_device_equal(aliases[j].device, p->devices[i]))
                                        continue;
                                for (size_t k = 0; k < n_attached && !found; k++)
                                        found = attached[k].volume_id &&
                                                strcmp(attached[k].volume_id, aliases[j].volume_id) == 0;
                        }
                        if (!found)
                                c.missing[c.n_missing++] = p->devices[i];
                }
                for (size_t i = 0; i < p->n_volume_ids; i++) {
                        bool found = false;

                        for (size_t j = 0; j < n_attached && !found; j++)
                                found = attached[j].volume_id && strcmp(attached[j].volume_id, p->volume_ids[i]) == 0;
                        if (!found)
                                c.missing[c.n_missing++] = p->volume_ids[i];
                }
        }

        if (c.n_included == 0)
                return -ENOENT;
        *ret = c;
        c = (SnapshotVolumeChoice) {};
        return 0;
}

/* ------------------------------------------------------------------------
 * Names
 * ------------------------------------------------------------------------ */

#define STAMP_LEN 14    /* yyyymmddThhmmZ */

static int format_stamp(time_t slot, char buf[static STAMP_LEN + 1]) {
        struct tm tm;

        if (!gmtime_r(&slot, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
                return -ERANGE;
        if (snprintf(buf, STAMP_LEN + 1, "%04d%02d%02dT%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min) != STAMP_LEN)
                return -ERANGE;
        return 0;
}

/* Bytes of the first max_chars characters of s (stops at a byte that does
 * not start a well-formed UTF-8 character). */
static size_t utf8_prefix(const char *s, size_t max_chars) {
        size_t bytes = 0;

        for (size_t n = 0; n < max_chars; n++) {
                size_t l = utf8_char_len(s + bytes);
                if (l == 0)
                        break;
                bytes += l;
        }
        return bytes;
}

int snapshot_name(const char *base, time_t slot, char **ret) {
        char stamp[STAMP_LEN + 1];
        size_t n;
        char *s;
        int r;

        if (!base || !ret)
                return -EINVAL;
        r = format_stamp(slot, stamp);
        if (r < 0)
                return r;
        n = utf8_prefix(base, SNAPSHOT_NAME_MAX - STAMP_LEN - 1);
        if (asprintf(&s, "%.*s-%s", (int) n, base, stamp) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static bool image_name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               strchr("()[] ./-'@_", c);
}

int snapshot_image_name(const char *base, const char *instance_id, time_t slot, char **ret) {
        char stamp[STAMP_LEN + 1];
        size_t room, n = 0, id_len;
        _cleanup_free_ char *clean = NULL;
        char *s;
        int r;

        if (!base || !instance_id || !ret)
                return -EINVAL;
        r = format_stamp(slot, stamp);
        if (r < 0)
                return r;
        id_len = strlen(instance_id);
        if (id_len + STAMP_LEN + 2 >= SNAPSHOT_IMAGE_NAME_MAX)
                return -ENAMETOOLONG;
        room = SNAPSHOT_IMAGE_NAME_MAX - STAMP_LEN - id_len - 2;

        clean = malloc(room + 1);
        if (!clean)
                return -ENOMEM;
        /* One '-' per refused character (a multi-byte one included). */
        for (const char *p = base; *p && n < room;) {
                size_t l = utf8_char_len(p);

                if (l == 1 && image_name_char(*p))
                        clean[n++] = *p;
                else
                        clean[n++] = '-';
                p += l ? l : 1;
        }
        clean[n] = '\0';
        if (asprintf(&s, "%s-%s-%s", clean, stamp, instance_id) < 0)
                return -ENOMEM;
        /* The instance id comes from IMDS; make sure it did not bring
         * anything EC2 would refuse either. */
        for (char *p = s; *p; p++)
                if (!image_name_char(*p))
                        *p = '-';
        *ret = s;
        return 0;
}

/* ------------------------------------------------------------------------
 * Decisions
 * ------------------------------------------------------------------------ */

bool snapshot_plan_slot_taken(const SnapshotPlanInput *in, time_t slot) {
        if (!in || slot == SNAPSHOT_SLOT_UNSET)
                return false;
        for (size_t i = 0; i < in->n_records; i++) {
                const SnapshotRecord *r = &in->records[i];

                if (record_in_scope(in, r) && r->slot == slot && r->state != SNAPSHOT_STATE_ERROR)
                        return true;
        }
        return false;
}

int snapshot_plan_newest_slot(const SnapshotPlanInput *in, time_t *ret) {
        time_t newest = SNAPSHOT_SLOT_UNSET;

        if (!in || !ret)
                return -EINVAL;
        for (size_t i = 0; i < in->n_records; i++) {
                const SnapshotRecord *r = &in->records[i];

                if (!record_in_scope(in, r) || r->slot == SNAPSHOT_SLOT_UNSET ||
                    (r->state != SNAPSHOT_STATE_PENDING && r->state != SNAPSHOT_STATE_COMPLETED))
                        continue;
                if (newest == SNAPSHOT_SLOT_UNSET || r->slot > newest)
                        newest = r->slot;
        }
        if (newest == SNAPSHOT_SLOT_UNSET)
                return -ENOENT;
        *ret = newest;
        return 0;
}

bool snapshot_plan_need_catch_up(const SnapshotPlanInput *in, time_t prev_slot) {
        time_t newest;

        if (snapshot_plan_newest_slot(in, &newest) < 0)
                return false;
        return newest < prev_slot;
}

typedef enum EntryFate {
        FATE_NONE,              /* pending, other, or failed without a newer completed generation */
        FATE_KEEP,              /* completed, among the newest `keep` */
        FATE_EXPIRED,           /* completed, older */
        FATE_FAILED,            /* failed, superseded */
} EntryFate;

typedef struct Entry {
        const SnapshotRecord *r;
        const char *key;                /* borrowed, or key_owned */
        char *key_owned;
        size_t group;
        EntryFate fate;
} Entry;

typedef struct Analysis {
        Entry *entries;
        size_t n_entries;
        SnapshotGroup *groups;
        size_t n_groups;
        size_t n_ignored;
} Analysis;

static void analysis_done(Analysis *a) {
        for (size_t i = 0; i < a->n_entries; i++)
                free(a->entries[i].key_owned);
        free(a->entries);
        for (size_t i = 0; i < a->n_groups; i++)
                free(a->groups[i].key);
        free(a->groups);
        *a = (Analysis) {};
}

static int entry_cmp(const void *x, const void *y) {
        const Entry *a = x, *b = y;
        int c = strcmp(a->key, b->key);

        if (c != 0)
                return c;
        if (a->r->slot != b->r->slot)
                return a->r->slot > b->r->slot ? -1 : 1;        /* newest first */
        return strcmp(a->r->id, b->r->id);
}

/* Groups the records in scope by key and decides each one's fate. */
static int analyse(const SnapshotPlanInput *in, const SnapshotRecord *records, size_t n_records,
                   const SnapshotVolume *volumes, size_t n_volumes, Analysis *ret) {
        _cleanup_(analysis_done) Analysis a = {};
        unsigned keep = in->keep ? in->keep : 1;
        int r;

        if (n_records > 0) {
                a.entries = calloc(n_records, sizeof(Entry));
                if (!a.entries)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n_records; i++) {
                const SnapshotRecord *rec = &records[i];
                const char *key;
                char *owned;

                if (!record_in_scope(in, rec) || rec->slot == SNAPSHOT_SLOT_UNSET) {
                        a.n_ignored++;
                        continue;
                }
                r = record_key(rec, in->type, volumes, n_volumes, &key, &owned);
                if (r == -ENOENT) {
                        a.n_ignored++;
                        continue;
                }
                if (r < 0)
                        return r;
                a.entries[a.n_entries++] = (Entry) { .r = rec, .key = key, .key_owned = owned };
        }
        if (a.n_entries > 1)
                qsort(a.entries, a.n_entries, sizeof(Entry), entry_cmp);

        for (size_t start = 0, cap = 0; start < a.n_entries;) {
                size_t end = start;
                SnapshotGroup *g;
                time_t last = SNAPSHOT_SLOT_UNSET, cutoff = SNAPSHOT_SLOT_UNSET;
                unsigned distinct = 0;

                /* Keys are few (devices): grow the group array as they come. */
                if (a.n_groups == cap) {
                        SnapshotGroup *ng;

                        cap = cap ? cap * 2 : 4;
                        ng = realloc(a.groups, cap * sizeof(SnapshotGroup));
                        if (!ng)
                                return -ENOMEM;
                        a.groups = ng;
                }
                g = &a.groups[a.n_groups];
                while (end < a.n_entries && strcmp(a.entries[end].key, a.entries[start].key) == 0)
                        end++;
                *g = (SnapshotGroup) { .newest = SNAPSHOT_SLOT_UNSET };
                g->key = strdup(a.entries[start].key);
                if (!g->key)
                        return -ENOMEM;
                a.n_groups++;

                /* Entries are newest first: count distinct completed slots. */
                for (size_t i = start; i < end; i++) {
                        const SnapshotRecord *rec = a.entries[i].r;

                        a.entries[i].group = a.n_groups - 1;
                        if (rec->state == SNAPSHOT_STATE_PENDING)
                                g->pending++;
                        else if (rec->state == SNAPSHOT_STATE_ERROR)
                                g->failed++;
                        if (rec->state != SNAPSHOT_STATE_COMPLETED)
                                continue;
                        if (g->newest == SNAPSHOT_SLOT_UNSET)
                                g->newest = rec->slot;
                        if (rec->slot != last) {
                                distinct++;
                                last = rec->slot;
                                if (distinct == keep)
                                        cutoff = rec->slot;
                        }
                }
                g->completed = distinct;
                g->kept = MIN(distinct, keep);

                for (size_t i = start; i < end; i++) {
                        Entry *e = &a.entries[i];

                        switch (e->r->state) {
                        case SNAPSHOT_STATE_COMPLETED:
                                /* cutoff is set only with at least `keep` generations; the
                                 * newest one is never below it. */
                                e->fate = cutoff != SNAPSHOT_SLOT_UNSET && e->r->slot < cutoff &&
                                                          e->r->slot != g->newest &&
                                                          (in->run_slot == 0 || e->r->slot != in->run_slot)
                                                  ? FATE_EXPIRED
                                                  : FATE_KEEP;
                                break;
                        case SNAPSHOT_STATE_ERROR:
                                e->fate = g->newest != SNAPSHOT_SLOT_UNSET && e->r->slot < g->newest ? FATE_FAILED
                                                                                                     : FATE_NONE;
                                break;
                        default:
                                e->fate = FATE_NONE;
                                break;
                        }
                }
                start = end;
        }

        *ret = a;
        a = (Analysis) {};
        return 0;
}

static int str_cmp(const void *x, const void *y) {
        return strcmp(*(const char *const *) x, *(const char *const *) y);
}

static bool sorted_has(const char **a, size_t n, const char *s) {
        return n > 0 && bsearch(&s, a, n, sizeof(char *), str_cmp) != NULL;
}

SnapshotPlan *snapshot_plan_free(SnapshotPlan *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_deletes; i++)
                free(p->deletes[i].image_snapshots);
        free(p->deletes);
        for (size_t i = 0; i < p->n_groups; i++)
                free(p->groups[i].key);
        free(p->groups);
        free(p);
        return NULL;
}

const SnapshotGroup *snapshot_plan_group(const SnapshotPlan *p, const char *key) {
        if (!p || !key)
                return NULL;
        for (size_t i = 0; i < p->n_groups; i++)
                if (strcmp(p->groups[i].key, key) == 0)
                        return &p->groups[i];
        return NULL;
}

/* AMI: which snapshots of the images being deleted may go too. */
static int plan_image_parts(const SnapshotPlanInput *in, SnapshotPlan *p) {
        _cleanup_free_ const char **stays = NULL, **ours = NULL;
        size_t n_stays = 0, n_ours = 0, n_refs = 0;

        for (size_t i = 0; i < in->n_records; i++)
                n_refs += in->records[i].n_snapshot_ids;
        stays = calloc(n_refs + 1, sizeof(char *));
        ours = calloc(in->n_snapshots + 1, sizeof(char *));
        if (!stays || !ours)
                return -ENOMEM;

        /* Snapshots used by any image that is not deleted now, ours or not. */
        for (size_t i = 0; i < in->n_records; i++) {
                const SnapshotRecord *rec = &in->records[i];
                bool deleted = false;

                for (size_t d = 0; d < p->n_deletes && !deleted; d++)
                        deleted = p->deletes[d].record == rec;
                if (deleted)
                        continue;
                for (size_t k = 0; k < rec->n_snapshot_ids; k++)
                        stays[n_stays++] = rec->snapshot_ids[k];
        }
        for (size_t i = 0; i < in->n_snapshots; i++)
                if (snapshot_record_is_ours(&in->snapshots[i], in->instance_id))
                        ours[n_ours++] = in->snapshots[i].id;
        if (n_stays > 1)
                qsort(stays, n_stays, sizeof(char *), str_cmp);
        if (n_ours > 1)
                qsort(ours, n_ours, sizeof(char *), str_cmp);

        for (size_t d = 0; d < p->n_deletes; d++) {
                SnapshotDelete *del = &p->deletes[d];
                const SnapshotRecord *rec = del->record;

                if (rec->n_snapshot_ids == 0)
                        continue;
                del->image_snapshots = calloc(rec->n_snapshot_ids, sizeof(char *));
                if (!del->image_snapshots)
                        return -ENOMEM;
                for (size_t k = 0; k < rec->n_snapshot_ids; k++) {
                        const char *id = rec->snapshot_ids[k];
                        bool dup = false;

                        for (size_t j = 0; j < del->n_image_snapshots && !dup; j++)
                                dup = strcmp(del->image_snapshots[j], id) == 0;
                        if (dup)
                                continue;
                        if (sorted_has(ours, n_ours, id) && !sorted_has(stays, n_stays, id))
                                del->image_snapshots[del->n_image_snapshots++] = id;
                        else
                                del->n_foreign_snapshots++;
                }
        }
        return 0;
}

/* AMI: our image snapshots that no image uses, older than the newest
 * available image of ours. */
static int plan_orphans(const SnapshotPlanInput *in, SnapshotPlan *p) {
        _cleanup_free_ const char **used = NULL;
        size_t n_used = 0, n_refs = 0, n_orphans = 0;
        time_t newest = SNAPSHOT_SLOT_UNSET;
        SnapshotDelete *n;

        for (size_t i = 0; i < in->n_records; i++) {
                const SnapshotRecord *rec = &in->records[i];

                n_refs += rec->n_snapshot_ids;
                if (snapshot_record_is_ours(rec, in->instance_id) && rec->state == SNAPSHOT_STATE_COMPLETED &&
                    rec->slot != SNAPSHOT_SLOT_UNSET && (newest == SNAPSHOT_SLOT_UNSET || rec->slot > newest))
                        newest = rec->slot;
        }
        if (newest == SNAPSHOT_SLOT_UNSET)
                return 0;
        used = calloc(n_refs + 1, sizeof(char *));
        if (!used)
                return -ENOMEM;
        /* Every listed image counts, whatever its state or owner. */
        for (size_t i = 0; i < in->n_records; i++)
                for (size_t k = 0; k < in->records[i].n_snapshot_ids; k++)
                        used[n_used++] = in->records[i].snapshot_ids[k];
        if (n_used > 1)
                qsort(used, n_used, sizeof(char *), str_cmp);

        for (int pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < in->n_snapshots; i++) {
                        const SnapshotRecord *s = &in->snapshots[i];

                        if (!snapshot_record_is_ours(s, in->instance_id) || !is_image_part(s) ||
                            s->slot == SNAPSHOT_SLOT_UNSET || s->slot >= newest ||
                            (s->state != SNAPSHOT_STATE_COMPLETED && s->state != SNAPSHOT_STATE_ERROR) ||
                            sorted_has(used, n_used, s->id))
                                continue;
                        if (pass == 0) {
                                n_orphans++;
                                continue;
                        }
                        p->deletes[p->n_deletes++] = (SnapshotDelete) {
                                .record = s,
                                .reason = SNAPSHOT_DELETE_ORPHANED,
                                .key = SNAPSHOT_IMAGE_KEY,
                        };
                }
                if (pass == 0) {
                        if (n_orphans == 0)
                                return 0;
                        n = realloc(p->deletes, (p->n_deletes + n_orphans) * sizeof(SnapshotDelete));
                        if (!n)
                                return -ENOMEM;
                        p->deletes = n;
                }
        }
        return 0;
}

int snapshot_plan_prune(const SnapshotPlanInput *in, SnapshotPlan **ret) {
        _cleanup_(snapshot_plan_freep) SnapshotPlan *p = NULL;
        _cleanup_(analysis_done) Analysis a = {};
        size_t n_del = 0;
        int r;

        if (!in || !ret || !in->instance_id || (!in->records && in->n_records > 0))
                return -EINVAL;

        r = analyse(in, in->records, in->n_records, in->type == SNAPSHOT_TYPE_EBS ? in->volumes : NULL,
                    in->type == SNAPSHOT_TYPE_EBS ? in->n_volumes : 0, &a);
        if (r < 0)
                return r;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->n_ignored = a.n_ignored;
        p->prune_skipped = !in->create_accepted;

        for (size_t i = 0; i < a.n_entries; i++) {
                if (a.entries[i].fate == FATE_KEEP)
                        p->n_kept++;
                if (a.entries[i].fate == FATE_EXPIRED || a.entries[i].fate == FATE_FAILED)
                        n_del++;
        }

        /* The groups move into the plan; deletes point at their keys. */
        p->groups = TAKE_PTR(a.groups);
        p->n_groups = a.n_groups;
        a.n_groups = 0;

        if (n_del > 0 && in->create_accepted) {
                p->deletes = calloc(n_del, sizeof(SnapshotDelete));
                if (!p->deletes)
                        return -ENOMEM;
                /* Per key the oldest first: if throttling stops a run part-way,
                 * what is left is the newest of what was to go. */
                for (size_t i = a.n_entries; i > 0; i--) {
                        const Entry *e = &a.entries[i - 1];

                        if (e->fate != FATE_EXPIRED && e->fate != FATE_FAILED)
                                continue;
                        p->deletes[p->n_deletes++] = (SnapshotDelete) {
                                .record = e->r,
                                .reason = e->fate == FATE_FAILED ? SNAPSHOT_DELETE_FAILED : SNAPSHOT_DELETE_EXPIRED,
                                .key = p->groups[e->group].key,
                        };
                }
                if (in->type == SNAPSHOT_TYPE_AMI) {
                        r = plan_image_parts(in, p);
                        if (r < 0)
                                return r;
                }
        }
        if (in->type == SNAPSHOT_TYPE_AMI && in->create_accepted) {
                r = plan_orphans(in, p);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(p);
        return 0;
}

SnapshotCopy *snapshot_copies_free(SnapshotCopy *c, size_t n) {
        for (size_t i = 0; i < n && c; i++)
                free(c[i].key);
        free(c);
        return NULL;
}

typedef struct DestKey {
        const char *key;
        time_t slot;
} DestKey;

static int dest_key_cmp(const void *x, const void *y) {
        const DestKey *a = x, *b = y;
        int c = strcmp(a->key, b->key);

        if (c != 0)
                return c;
        return a->slot < b->slot ? -1 : a->slot > b->slot ? 1 : 0;
}

int snapshot_plan_copies(const SnapshotPlanInput *home, const SnapshotRecord *dest, size_t n_dest,
                         SnapshotCopy **ret, size_t *ret_n) {
        _cleanup_(analysis_done) Analysis h = {}, d = {};
        _cleanup_free_ DestKey *present = NULL;
        _cleanup_free_ size_t *starts = NULL;
        _cleanup_free_ Entry **kept = NULL;
        SnapshotCopy *copies = NULL;
        size_t n_present = 0, n_copies = 0, n_kept = 0;
        int r;

        if (!home || !ret || !ret_n || !home->instance_id || (!dest && n_dest > 0))
                return -EINVAL;

        r = analyse(home, home->records, home->n_records, home->type == SNAPSHOT_TYPE_EBS ? home->volumes : NULL,
                    home->type == SNAPSHOT_TYPE_EBS ? home->n_volumes : 0, &h);
        if (r < 0)
                return r;
        /* Copies carry their key in their tags: no volume map there. */
        r = analyse(home, dest, n_dest, NULL, 0, &d);
        if (r < 0)
                return r;

        present = calloc(d.n_entries + 1, sizeof(DestKey));
        if (!present)
                return -ENOMEM;
        for (size_t i = 0; i < d.n_entries; i++)
                if (d.entries[i].r->state != SNAPSHOT_STATE_ERROR)
                        present[n_present++] = (DestKey) { d.entries[i].key, d.entries[i].r->slot };
        if (n_present > 1)
                qsort(present, n_present, sizeof(DestKey), dest_key_cmp);

        /* Each group's kept generations, newest first (entries are sorted by
         * key, then newest slot first); one record per slot. */
        starts = calloc(h.n_groups + 1, sizeof(size_t));
        kept = calloc(h.n_entries + 1, sizeof(Entry *));
        copies = calloc(h.n_entries + 1, sizeof(SnapshotCopy));
        if (!starts || !kept || !copies) {
                free(copies);
                return -ENOMEM;
        }
        for (size_t g = 0, i = 0; g < h.n_groups; g++) {
                starts[g] = n_kept;
                for (; i < h.n_entries && h.entries[i].group == g; i++) {
                        Entry *e = &h.entries[i];

                        if (e->fate != FATE_KEEP)
                                continue;
                        if (n_kept > starts[g] && kept[n_kept - 1]->r->slot == e->r->slot)
                                continue;
                        kept[n_kept++] = e;
                }
        }
        starts[h.n_groups] = n_kept;

        /* The newest generation of every key before any older one, so that a
         * run stopped by throttling has copied what matters most. */
        for (size_t rank = 0;; rank++) {
                bool any = false;

                for (size_t g = 0; g < h.n_groups; g++) {
                        Entry *e;
                        DestKey k;

                        if (starts[g] + rank >= starts[g + 1])
                                continue;
                        any = true;
                        e = kept[starts[g] + rank];
                        k = (DestKey) { e->key, e->r->slot };
                        if (n_present > 0 && bsearch(&k, present, n_present, sizeof(DestKey), dest_key_cmp))
                                continue;
                        copies[n_copies].record = e->r;
                        copies[n_copies].key = strdup(e->key);
                        if (!copies[n_copies].key) {
                                snapshot_copies_free(copies, n_copies);
                                return -ENOMEM;
                        }
                        n_copies++;
                }
                if (!any)
                        break;
        }

        *ret = copies;
        *ret_n = n_copies;
        return 0;
}

int snapshot_plan_untagged_image_parts(const SnapshotPlanInput *in, const char ***ret, size_t *ret_n) {
        _cleanup_free_ const char **ours = NULL, **out = NULL;
        size_t n_ours = 0, n_out = 0, n_refs = 0;

        if (!in || !ret || !ret_n)
                return -EINVAL;
        for (size_t i = 0; i < in->n_records; i++)
                n_refs += in->records[i].n_snapshot_ids;
        ours = calloc(in->n_snapshots + 1, sizeof(char *));
        out = calloc(n_refs + 1, sizeof(char *));
        if (!ours || !out)
                return -ENOMEM;
        for (size_t i = 0; i < in->n_snapshots; i++)
                if (snapshot_record_is_ours(&in->snapshots[i], in->instance_id))
                        ours[n_ours++] = in->snapshots[i].id;
        if (n_ours > 1)
                qsort(ours, n_ours, sizeof(char *), str_cmp);

        for (size_t i = 0; i < in->n_records; i++) {
                const SnapshotRecord *rec = &in->records[i];

                if (!snapshot_record_is_ours(rec, in->instance_id) || rec->state != SNAPSHOT_STATE_COMPLETED)
                        continue;
                for (size_t k = 0; k < rec->n_snapshot_ids; k++) {
                        const char *id = rec->snapshot_ids[k];
                        bool dup = false;

                        if (sorted_has(ours, n_ours, id))
                                continue;
                        for (size_t j = 0; j < n_out && !dup; j++)
                                dup = strcmp(out[j], id) == 0;
                        if (!dup)
                                out[n_out++] = id;
                }
        }
        *ret = TAKE_PTR(out);
        *ret_n = n_out;
        return 0;
}
