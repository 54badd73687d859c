/* SPDX-License-Identifier: MIT */
/* Unit tests for the Snapshot planner (lib/core/snapshot-plan.c): which
 * backups are ours, what a run keeps, deletes and copies (SPEC 5), which
 * volumes a CreateSnapshots call takes, names and catch-up. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "cdp/parse-util.h"
#include "cdp/snapshot-plan.h"

#define ME "i-0123456789abcdef0"
#define OTHER "i-0fedcba9876543210"
#define HOUR 3600
#define T0 1767322800           /* 2026-01-02T03:00:00Z */

/* ---- helpers ---- */

typedef struct Rec {
        const char *id;
        SnapshotState state;
        const char *managed_by;
        const char *instance_id;
        time_t slot;
        const char *device;
        const char *volume_id;
        const char *type;
} Rec;

static void add(SnapshotSet *s, Rec r) {
        SnapshotRecord rec = {
                .id = (char *) r.id,
                .state = r.state,
                .managed_by = (char *) r.managed_by,
                .instance_id = (char *) r.instance_id,
                .slot = r.slot,
                .device = (char *) r.device,
                .volume_id = (char *) r.volume_id,
                .type = (char *) r.type,
        };
        assert_int_equal(snapshot_set_add(s, &rec), 0);
}

/* One of our EBS snapshots. */
static void add_ours(SnapshotSet *s, const char *id, SnapshotState st, time_t slot, const char *device,
                     const char *vol) {
        add(s, (Rec) { id, st, "cdpd", ME, slot, device, vol, NULL });
}

static void add_image(SnapshotSet *s, const char *id, SnapshotState st, time_t slot, const char *const *snaps,
                      const char *instance) {
        size_t n = 0;

        while (snaps && snaps[n])
                n++;
        SnapshotRecord rec = {
                .id = (char *) id,
                .state = st,
                .managed_by = (char *) "cdpd",
                .instance_id = (char *) instance,
                .slot = slot,
                .type = (char *) "ami",
                .name = (char *) id,
                .snapshot_ids = (char **) snaps,
                .n_snapshot_ids = n,
        };
        assert_int_equal(snapshot_set_add(s, &rec), 0);
}

static SnapshotPlanInput ebs_input(const SnapshotSet *s, unsigned keep) {
        return (SnapshotPlanInput) {
                .instance_id = ME,
                .type = SNAPSHOT_TYPE_EBS,
                .keep = keep,
                .records = s->records,
                .n_records = s->n_records,
                .create_accepted = true,
        };
}

static bool plan_deletes(const SnapshotPlan *p, const char *id) {
        for (size_t i = 0; i < p->n_deletes; i++)
                if (strcmp(p->deletes[i].record->id, id) == 0)
                        return true;
        return false;
}

/* Removes the planned deletes from the set, as the executor's calls would. */
static void apply(SnapshotSet *s, const SnapshotPlan *p) {
        _cleanup_free_ char **gone = calloc(p->n_deletes + 1, sizeof(char *));

        assert_non_null(gone);
        for (size_t i = 0; i < p->n_deletes; i++) {
                gone[i] = strdup(p->deletes[i].record->id);
                assert_non_null(gone[i]);
        }
        for (size_t i = 0; i < p->n_deletes; i++) {
                SnapshotRecord *r = snapshot_set_find(s, gone[i]);

                assert_non_null(r);
                snapshot_record_done(r);
                *r = s->records[--s->n_records];
                free(gone[i]);
        }
}

static unsigned count_state(const SnapshotSet *s, const char *device, SnapshotState st) {
        unsigned n = 0;

        for (size_t i = 0; i < s->n_records; i++)
                if (s->records[i].state == st && s->records[i].device && strcmp(s->records[i].device, device) == 0)
                        n++;
        return n;
}

/* ---- tag keys, states, records ---- */

static void test_snapshot_tag_keys_init__prefix__keys_built(void **state) {
        SnapshotTagKeys k;
        char prefix[200];

        (void) state;
        assert_int_equal(snapshot_tag_keys_init(&k, "cdp:"), 0);
        assert_string_equal(k.managed_by, "cdp:managed-by");
        assert_string_equal(k.instance_id, "cdp:instance-id");
        assert_string_equal(k.slot, "cdp:slot");
        assert_string_equal(k.device, "cdp:device");
        assert_string_equal(k.volume_id, "cdp:volume-id");
        assert_string_equal(k.type, "cdp:type");
        assert_string_equal(k.source_id, "cdp:source-id");
        assert_int_equal(snapshot_tag_keys_init(&k, "acme/"), 0);
        assert_string_equal(k.slot, "acme/slot");

        memset(prefix, 'p', 120);
        prefix[120] = '\0';
        assert_int_equal(snapshot_tag_keys_init(&k, prefix), -ENAMETOOLONG);
        assert_string_equal(k.slot, "acme/slot");       /* untouched on failure */
        assert_int_equal(snapshot_tag_keys_init(&k, NULL), -EINVAL);
}

static void test_snapshot_state_from_ec2__all_states__mapped(void **state) {
        (void) state;
        assert_int_equal(snapshot_state_from_ec2("pending", false), SNAPSHOT_STATE_PENDING);
        assert_int_equal(snapshot_state_from_ec2("completed", false), SNAPSHOT_STATE_COMPLETED);
        assert_int_equal(snapshot_state_from_ec2("error", false), SNAPSHOT_STATE_ERROR);
        assert_int_equal(snapshot_state_from_ec2("recoverable", false), SNAPSHOT_STATE_OTHER);
        assert_int_equal(snapshot_state_from_ec2("recovering", false), SNAPSHOT_STATE_OTHER);
        assert_int_equal(snapshot_state_from_ec2("available", false), SNAPSHOT_STATE_OTHER);
        assert_int_equal(snapshot_state_from_ec2(NULL, false), SNAPSHOT_STATE_OTHER);
        assert_int_equal(snapshot_state_from_ec2("pending", true), SNAPSHOT_STATE_PENDING);
        assert_int_equal(snapshot_state_from_ec2("available", true), SNAPSHOT_STATE_COMPLETED);
        assert_int_equal(snapshot_state_from_ec2("failed", true), SNAPSHOT_STATE_ERROR);
        assert_int_equal(snapshot_state_from_ec2("invalid", true), SNAPSHOT_STATE_ERROR);
        assert_int_equal(snapshot_state_from_ec2("error", true), SNAPSHOT_STATE_ERROR);
        assert_int_equal(snapshot_state_from_ec2("deregistered", true), SNAPSHOT_STATE_OTHER);
        assert_int_equal(snapshot_state_from_ec2("transient", true), SNAPSHOT_STATE_OTHER);
        assert_int_equal(snapshot_state_from_ec2("completed", true), SNAPSHOT_STATE_OTHER);
        assert_string_equal(snapshot_state_to_string(SNAPSHOT_STATE_ERROR), "error");
}

static void test_snapshot_set_add_snapshot__ec2_item__tags_read(void **state) {
        _cleanup_(snapshot_set_done) SnapshotSet s = {};
        SnapshotTagKeys k;
        Ec2Tag tags[] = {
                { .key = (char *) "cdp:managed-by", .value = (char *) "cdpd" },
                { .key = (char *) "cdp:instance-id", .value = (char *) ME },
                { .key = (char *) "cdp:slot", .value = (char *) "2026-01-02T03:00:00Z" },
                { .key = (char *) "cdp:device", .value = (char *) "/dev/xvdf" },
        };
        Ec2Tag bad_slot[] = {
                { .key = (char *) "cdp:slot", .value = (char *) "yesterday" },
                { .key = (char *) "cdp:volume-id", .value = (char *) "vol-tagged" },
        };
        Ec2Snapshot snap = {
                .id = (char *) "snap-1", .volume_id = (char *) "vol-1", .state = (char *) "completed",
                .tags = tags, .n_tags = ELEMENTSOF(tags),
        };
        Ec2Snapshot snap2 = {
                .id = (char *) "snap-2", .volume_id = (char *) "vol-ffffffff", .state = (char *) "pending",
                .tags = bad_slot, .n_tags = ELEMENTSOF(bad_slot),
        };

        (void) state;
        assert_int_equal(snapshot_tag_keys_init(&k, "cdp:"), 0);
        assert_int_equal(snapshot_set_add_snapshot(&s, &k, &snap), 0);
        assert_int_equal(snapshot_set_add_snapshot(&s, &k, &snap2), 0);
        assert_int_equal(s.n_records, 2);
        assert_string_equal(s.records[0].id, "snap-1");
        assert_int_equal(s.records[0].state, SNAPSHOT_STATE_COMPLETED);
        assert_string_equal(s.records[0].managed_by, "cdpd");
        assert_string_equal(s.records[0].instance_id, ME);
        assert_int_equal(s.records[0].slot, T0);
        assert_string_equal(s.records[0].device, "/dev/xvdf");
        assert_string_equal(s.records[0].volume_id, "vol-1");
        assert_true(snapshot_record_is_ours(&s.records[0], ME));
        assert_false(snapshot_record_is_ours(&s.records[0], OTHER));

        assert_int_equal(s.records[1].slot, SNAPSHOT_SLOT_UNSET);
        assert_string_equal(s.records[1].volume_id, "vol-tagged");       /* the tag wins over volumeId */
        assert_null(s.records[1].managed_by);
        assert_false(snapshot_record_is_ours(&s.records[1], ME));
        assert_ptr_equal(snapshot_set_find(&s, "snap-2"), &s.records[1]);
        assert_null(snapshot_set_find(&s, "snap-3"));
}

static void test_snapshot_set_add_image__block_devices__snapshot_ids(void **state) {
        _cleanup_(snapshot_set_done) SnapshotSet s = {};
        SnapshotTagKeys k;
        Ec2Tag tags[] = {
                { .key = (char *) "cdp:managed-by", .value = (char *) "cdpd" },
                { .key = (char *) "cdp:instance-id", .value = (char *) ME },
                { .key = (char *) "cdp:slot", .value = (char *) "2026-01-02T03:00:00Z" },
        };
        Ec2ImageDevice devs[] = {
                { .device_name = (char *) "/dev/xvda", .snapshot_id = (char *) "snap-a" },
                { .device_name = (char *) "/dev/sdb" },
                { .device_name = (char *) "/dev/xvdf", .snapshot_id = (char *) "snap-f" },
        };
        Ec2Image img = {
                .id = (char *) "ami-1", .name = (char *) "web", .state = (char *) "available",
                .devices = devs, .n_devices = ELEMENTSOF(devs), .tags = tags, .n_tags = ELEMENTSOF(tags),
        };

        (void) state;
        assert_int_equal(snapshot_tag_keys_init(&k, "cdp:"), 0);
        assert_int_equal(snapshot_set_add_image(&s, &k, &img), 0);
        assert_int_equal(s.records[0].state, SNAPSHOT_STATE_COMPLETED);
        assert_string_equal(s.records[0].name, "web");
        assert_int_equal(s.records[0].n_snapshot_ids, 2);
        assert_string_equal(s.records[0].snapshot_ids[0], "snap-a");
        assert_string_equal(s.records[0].snapshot_ids[1], "snap-f");
        assert_int_equal(s.records[0].slot, T0);
}

/* ---- pruning ---- */

static void test_snapshot_plan_prune__many_runs__exactly_keep_per_device(void **state) {
        _cleanup_(snapshot_set_done) SnapshotSet s = {};
        const unsigned keep = 7;

        (void) state;
        for (unsigned run = 0; run < 40; run++) {
                _cleanup_(snapshot_plan_freep) SnapshotPlan *p = NULL;
                char id_a[32], id_f[32];
                SnapshotPlanInput in;

                snprintf(id_a, sizeof(id_a), "snap-a%u", run);
                snprintf(id_f, sizeof(id_f), "snap-f%u", run);
                /* This run's create: pending, then the prune. */
                add_ours(&s, id_a, SNAPSHOT_STATE_PENDING, T0 + (time_t) run * HOUR, "/dev/xvda", "vol-a");
                add_ours(&s, id_f, SNAPSHOT_STATE_PENDING, T0 + (time_t) run * HOUR, "/dev/xvdf", "vol-f");
                in = ebs_input(&s, keep);
                assert_int_equal(snapshot_plan_prune(&in, &p), 0);
                assert_false(p->prune_skipped);
                /* Pending ones never count: keep completed generations only. */
                assert_int_equal(p->n_deletes, run > keep ? 2 : 0);
                for (size_t i = 0; i < p->n_deletes; i++)
                        assert_int_equal(p->deletes[i].record->state, SNAPSHOT_STATE_COMPLETED);
                apply(&s, p);
                /* It completes before the next run. */
                snapshot_set_find(&s, id_a)->state = SNAPSHOT_STATE_COMPLETED;
                snapshot_set_find(&s, id_f)->state = SNAPSHOT_STATE_COMPLETED;
                if (run >= keep) {
                        assert_int_equal(count_state(&s, "/dev/xvda", SNAPSHOT_STATE_COMPLETED), keep + 1);
                        assert_int_equal(count_state(&s, "/dev/xvdf", SNAPSHOT_STATE_COMPLETED), keep + 1);
                }
        }
        /* A final prune with nothing pending brings each device to keep. */
        {
                _cleanup_(snapshot_plan_freep) SnapshotPlan *p = NULL;
                SnapshotPlanInput in = ebs_input(&s, keep);
                const SnapshotGroup *g;

                assert_int_equal(snapshot_plan_prune(&in, &p), 0);
                assert_int_equal(p->n_deletes, 2);
                apply(&s, p);
                assert_int_equal(count_state(&s, "/dev/xvda", SNAPSHOT_STATE_COMPLETED), keep);
                assert_int_equal(count_state(&s, "/dev/xvdf", SNAPSHOT_STATE_COMPLETED), keep);
                assert_int_equal(p->n_groups, 2);
                g = snapshot_plan_group(p, "/dev/xvda");
                assert_non_null(g);
                assert_int_equal(g->completed, keep + 1);
                assert_int_equal(g->kept, keep);
                assert_int_equal(g->newest, T0 + 39 * HOUR);
                /* the oldest remaining is run 33 */
                assert_null(snapshot_set_find(&s, "snap-a32"));
                assert_non_null(snapshot_set_find(&s, "snap-a33"));
        }
}

static void test_snapshot_plan_prune__foreign_and_unmanaged__untouched(void **state) {
        _cleanup_(snapshot_set_done) SnapshotSet s = {};
        _cleanup_(snapshot_plan_freep) SnapshotPlan *p = NULL;
        SnapshotPlanInput in;

        (void) state;
        for (int i = 0; i < 5; i++) {
                char id[32];

                snprintf(id, sizeof(id), "snap-mine%d", i);
                add_ours(&s, id, SNAPSHOT_STATE_COMPLETED, T0 + i * HOUR, "/dev/xvda", "vol-a");
                snprintf(id, sizeof(id), "snap-other%d", i);
                add(&s, (Rec) { id, SNAPSHOT_STATE_COMPLETED, "cdpd", OTHER, T0 + i * HOUR, "/dev/xvda", "vol-o",
                                NULL });
                snprintf(id, sizeof(id), "snap-unmanaged%d", i);
                add(&s, (Rec) { id, SNAPSHOT_STATE_COMPLETED, NULL, ME, T0 + i * HOUR, "/dev/xvda", "vol-a", NULL });
                snprintf(id, sizeof(id), "snap-byother%d", i);
                add(&s, (Rec) { id, SNAPSHOT_STATE_COMPLETED, "someone-else", ME, T0 + i * HOUR, "/dev/xvda",
                                "vol-a", NULL });
                snprintf(id, sizeof(id), "snap-noinst%d", i);
                add(&s, (Rec) { id, SNAPSHOT_STATE_COMPLETED, "cdpd", NULL, T0 + i * HOUR, "/dev/xvda", "vol-a",
                                NULL });
        }
        in = ebs_input(&s, 2);
        assert_int_equal(snapshot_plan_prune(&in, &p), 0);
        assert_int_equal(p->n_deletes, 3);
        for (size_t i = 0; i < p->n_deletes; i++)
                assert_memory_equal(p->deletes[i].record->id, "snap-mine", 9);
        assert_true(plan_deletes(p, "snap-mine0"));
        assert_true(plan_deletes(p, "snap-mine2"));
        assert_false(plan_deletes(p, "snap-mine3"));
        assert_int_equal(p->n_ignored, 20);
        assert_int_equal(p->n_kept, 2);
}

static void test_snapshot_plan_prune__replaced_volume__same_device_count(void **state) {
        _cleanup_(snapshot_set_done) SnapshotSet s = {};
        _cleanup_(snapshot_plan_freep) SnapshotPlan *p = NULL;
        const SnapshotVolume vols[] = { { "/dev/xvda", "vol-root" }, { "/dev/xvdf", "vol-new" } };
        SnapshotPlanInput in;

        (void) state;
        /* Three generations of the old data volume, two of its replacement:
         * the device's count continues over the replacement. */
        add_ours(&s, "snap-old0", SNAPSHOT_STATE_COMPLETED, T0 + 0 * HOUR, "/dev/xvdf", "vol-old");
        add_ours(&s, "snap-old1", SNAPSHOT_STATE_COMPLETED, T0 + 1 * HOUR, "/dev/xvdf", "vol-old");
        add_ours(&s, "snap-old2", SNAPSHOT_STATE_COMPLETED, T0 + 2 * HOUR, "/dev/xvdf", "vol-old");
        add_ours(&s, "snap-new3", SNAPSHOT_STATE_COMPLETED, T0 + 3 * HOUR, "/dev/xvdf", "vol-new");
        /* its device tag was never set (the follow-up CreateTags failed):
         * placed by its volume, attached as /dev/xvdf */
        add_ours(&s, "snap-new4", SNAPSHOT_STATE_COMPLETED, T0 + 4 * HOUR, NULL, "vol-new");
        /* a detached volume without device tag keeps its own key */
        add_ours(&s, "snap-gone0", SNAPSHOT_STATE_COMPLETED, T0 + 0 * HOUR, NULL, "vol-gone");
        add_ours(&s, "snap-gone1", SNAPSHOT_STATE_COMPLETED, T0 + 1 * HOUR, NULL, "vol-gone");
        add_ours(&s, "snap-gone2", SNAPSHOT_STATE_COMPLETED, T0 + 2 * HOUR, NULL, "vol-gone");
        in = ebs_input(&s, 3);
        in.volumes = vols;
        in.n_volumes = ELEMENTSOF(vols);
        assert_int_equal(snapshot_plan_prune(&in, &p), 0);
        assert_int_equal(p->n_deletes, 2);
        assert_true(plan_deletes(p, "snap-old0"));
        assert_true(plan_deletes(p, "snap-old1"));
        assert_non_null(snapshot_plan_group(p, "/dev/xvdf"));
        assert_int_equal(snapshot_plan_group(p, "/dev/xvdf")->completed, 5);
        assert_int_equal(snapshot_plan_group(p, "volume:vol-gone")->completed, 3);
        assert_null(snapshot_plan_group(p, "volume:vol-new"));
}

static void test_snapshot_plan_prune__pending_old__never_deleted(void **state) {
        _cleanup_(snapshot_set_done) SnapshotSet s = {};
        _cleanup_(snapshot_plan_freep) SnapshotPlan *p = NULL;
        SnapshotPlanInput in;

        (void) state;
        add_ours(&s, "snap-stuck", SNAPSHOT_STATE_PENDING, T0 - 100 * HOUR, "/dev/xvda", "vol-a");
        add_ours(&s, "snap-other", SNAPSHOT_STATE_OTHER, T0 - 90 * HOUR, "/dev/xvda", "vol-a");
        for (int i = 0; i < 6; i++) {
                char id[32];
                snprintf(id, sizeof(id), "snap-%d", i);
                add_ours(&s, id, SNAPSHOT_STATE_COMPLETED, T0 + i * HOUR, "/dev/xvda", "vol-a");
        }
        in = ebs_input(&s, 1);
        assert_int_equal(snapshot_plan_prune(&in, &p), 0);
        assert_int_equal(p->n_deletes, 5);
        assert_false(plan_deletes(p, "snap-stuck"));
        assert_false(plan_deletes(p, "snap-other"));
        assert_false(plan_deletes(p, "snap-5"));
        assert_int_equal(snapshot_plan_group(p, "/dev/xvda")->pending, 1);
}

static void test_snapshot_plan_prune__keep_zero_or_newer_pending__newest_completed_kept(void **state) {
        _cleanup_(snapshot_set_done) SnapshotSet s = {};
        _cleanup_(snapshot_plan_freep) SnapshotPlan *p = NULL;
        SnapshotPlanInput in;

        (void) state;
        add_ours(&s, "snap-0", SNAPSHOT_STATE_COMPLETED, T0, "/dev/xvda", "vol-a");
        add_ours(&s, "snap-1", SNAPSHOT_STATE_COMPLETED, T0 + HOUR, "/dev/xvda", "vol-a");
        /* newer generations that are not complete yet do not push it out */
        add_ours(&s, "snap-2", SNAPSHOT_STATE_PENDING, T0 + 2 * HOUR, "/dev/xvda", "vol-a");
        add_ours(&s, "snap-3", SNAPSHOT_STATE_ERROR, T0 + 3 * HOUR, "/dev/xvda", "vol-a");
        in = ebs_input(&s, 0);
        assert_int_equal(snapshot_plan_prune(&in, &p), 0);
        assert_int_equal(p->n_deletes, 1);
        assert_true(plan_deletes(p, "snap-0"));
        assert_false(plan_deletes(p, "snap-1"));
        /* the failed one is newer than every completed one: left alone */
        assert_false(plan_deletes(p, "snap-3"));
        assert_int_equal(snapshot_plan_group(p, "/dev/xvda")->newest, T0 + HOUR);
}

static void test_snapshot_plan_prune__create_not_accepted__nothing_deleted(void **state) {
        _cleanup_(snapshot_set_done) SnapshotSet s = {};
        _cleanup_(snapshot_plan_freep) SnapshotPlan *p = NULL;
        SnapshotPlanInput in;

        (void) state;
        for (int i = 0; i < 10; i++) {
                char id[32];
                snprintf(id, sizeof(id), "snap-%d", i);
                add_ours(&s, id, i == 0 ? SNAPSHOT_STATE_ERROR : SNAPSHOT_STATE_COMPLETED, T0 + i * HOUR,
                         "/dev/xvda", "vol-a");
        }
        in = ebs_input(&s, 2);
        in.create_accepted = false;
        assert_int_equal(snapshot_plan_prune(&in, &p), 0);
        assert_true(p->prune_skipped);
        assert_int_equal(p->n_deletes, 0);
        assert_null(p->deletes);
        /* The counts are still there, for the report. */
        assert_int_equal(snapshot_plan_group(p, "/dev/xvda")->completed, 9);
        assert_int_equal(snapshot_plan_group(p, "/dev/xvda")->kept, 2);
}

static void test_snapshot_plan_prune__failed_superseded__deleted(void **state) {
        _cleanup_(snapshot_set_done) SnapshotSet s = {};
        _cleanup_(snapshot_plan_freep) SnapshotPlan *p = NULL;
        SnapshotPlanInput in;

        (void) state;
        add_ours(&s, "snap-err", SNAPSHOT_STATE_ERROR, T0, "/dev/xvda", "vol-a");
        add_ours(&s, "snap-ok", SNAPSHOT_STATE_COMPLETED, T0 + HOUR, "/dev/xvda", "vol-a");
        add_ours(&s, "snap-err-f", SNAPSHOT_STATE_ERROR, T0, "/dev/xvdf", "vol-f");
        in = ebs_input(&s, 7);
        assert_int_equal(snapshot_plan_prune(&in, &p), 0);
        assert_int_equal(p->n_deletes, 1);
        assert_string_equal(p->deletes[0].record->id, "snap-err");
        assert_int_equal(p->deletes[0].reason, SNAPSHOT_DELETE_FAILED);
        assert_string_equal(p->deletes[0].key, "/dev/xvda");
        assert_string_equal(snapshot_delete_reason_to_string(p->deletes[0].reason), "failed");
        assert_int_equal(snapshot_plan_group(p, "/dev/xvdf")->failed, 1);
}

static void test_snapshot_plan_prune__no_slot_or_image_parts__ignored(void **state) {
        _cleanup_(snapshot_set_done) SnapshotSet s = {};
        _cleanup_(snapshot_plan_freep) SnapshotPlan *p = NULL;
        SnapshotPlanInput in;

        (void) state;
        add_ours(&s, "snap-noslot", SNAPSHOT_STATE_COMPLETED, SNAPSHOT_SLOT_UNSET, "/dev/xvda", "vol-a");
        add_ours(&s, "snap-nokey", SNAPSHOT_STATE_COMPLETED, T0, NULL, NULL);
        for (int i = 0; i < 4; i++) {
                char id[32];
                snprintf(id, sizeof(id), "snap-ami%d", i);
                add(&s, (Rec) { id, SNAPSHOT_STATE_COMPLETED, "cdpd", ME, T0 + i * HOUR, NULL, "vol-a", "ami" });
                snprintf(id, sizeof(id), "snap-%d", i);
                add(&s, (Rec) { id, SNAPSHOT_STATE_COMPLETED, "cdpd", ME, T0 + i * HOUR, "/dev/xvda", "vol-a", "ebs" });
        }
        in = ebs_input(&s, 1);
        assert_int_equal(snapshot_plan_prune(&in, &p), 0);
        assert_int_equal(p->n_deletes, 3);
        assert_true(plan_deletes(p, "snap-0"));
        assert_false(plan_deletes(p, "snap-noslot"));
        assert_false(plan_deletes(p, "snap-ami0"));
        assert_int_equal(p->n_ignored, 6);
}

static void test_snapshot_plan_prune__same_slot_twice__one_generation(void **state) {
        _cleanup_(snapshot_set_done) SnapshotSet s = {};
        _cleanup_(snapshot_plan_freep) SnapshotPlan *p = NULL;
        SnapshotPlanInput in;

        (void) state;
        add_ours(&s, "snap-0", SNAPSHOT_STATE_COMPLETED, T0, "/dev/xvda", "vol-a");
        add_ours(&s, "snap-1a", SNAPSHOT_STATE_COMPLETED, T0 + HOUR, "/dev/xvda", "vol-a");
        add_ours(&s, "snap-1b", SNAPSHOT_STATE_COMPLETED, T0 + HOUR, "/dev/xvda", "vol-a");
        in = ebs_input(&s, 1);
        assert_int_equal(snapshot_plan_prune(&in, &p), 0);
        assert_int_equal(p->n_deletes, 1);
        assert_true(plan_deletes(p, "snap-0"));
        assert_int_equal(snapshot_plan_group(p, "/dev/xvda")->completed, 2);
}

static void test_snapshot_plan_prune__ami__own_snapshots_only(void **state) {
        _cleanup_(snapshot_set_done) SnapshotSet images = {}, snaps = {};
        _cleanup_(snapshot_plan_freep) SnapshotPlan *p = NULL;
        const char *old_parts[] = { "snap-o1", "snap-o2", "snap-shared", "snap-foreign", NULL };
        const char *mid_parts[] = { "snap-m1", NULL };
        const char *new_parts[] = { "snap-n1", "snap-shared", NULL };
        const char *other_parts[] = { "snap-x1", NULL };
        SnapshotPlanInput in;
        const SnapshotDelete *d;

        (void) state;
        add_image(&images, "ami-old", SNAPSHOT_STATE_COMPLETED, T0, old_parts, ME);
        add_image(&images, "ami-mid", SNAPSHOT_STATE_COMPLETED, T0 + HOUR, mid_parts, ME);
        add_image(&images, "ami-new", SNAPSHOT_STATE_COMPLETED, T0 + 2 * HOUR, new_parts, ME);
        add_image(&images, "ami-pending", SNAPSHOT_STATE_PENDING, T0 - HOUR, NULL, ME);
        add_image(&images, "ami-other", SNAPSHOT_STATE_COMPLETED, T0 - 2 * HOUR, other_parts, OTHER);
        add(&snaps, (Rec) { "snap-o1", SNAPSHOT_STATE_COMPLETED, "cdpd", ME, T0, NULL, "vol-a", "ami" });
        add(&snaps, (Rec) { "snap-o2", SNAPSHOT_STATE_COMPLETED, "cdpd", ME, T0, NULL, "vol-f", "ami" });
        add(&snaps, (Rec) { "snap-shared", SNAPSHOT_STATE_COMPLETED, "cdpd", ME, T0, NULL, "vol-g", "ami" });
        add(&snaps, (Rec) { "snap-m1", SNAPSHOT_STATE_COMPLETED, "cdpd", ME, T0 + HOUR, NULL, "vol-a", "ami" });
        add(&snaps, (Rec) { "snap-x1", SNAPSHOT_STATE_COMPLETED, "cdpd", OTHER, T0, NULL, "vol-x", "ami" });
        /* snap-foreign: not in the list of ours at all */

        in = (SnapshotPlanInput) {
                .instance_id = ME, .type = SNAPSHOT_TYPE_AMI, .keep = 1,
                .records = images.records, .n_records = images.n_records,
                .snapshots = snaps.records, .n_snapshots = snaps.n_records,
                .create_accepted = true,
        };
        assert_int_equal(snapshot_plan_prune(&in, &p), 0);
        assert_int_equal(p->n_deletes, 2);
        assert_false(plan_deletes(p, "ami-pending"));
        assert_false(plan_deletes(p, "ami-other"));
        assert_false(plan_deletes(p, "ami-new"));

        d = &p->deletes[0];
        if (strcmp(d->record->id, "ami-old") != 0)
                d = &p->deletes[1];
        assert_string_equal(d->record->id, "ami-old");
        assert_string_equal(d->key, "image");
        /* its own two; the one the kept image uses and the foreign one stay */
        assert_int_equal(d->n_image_snapshots, 2);
        assert_string_equal(d->image_snapshots[0], "snap-o1");
        assert_string_equal(d->image_snapshots[1], "snap-o2");
        assert_int_equal(d->n_foreign_snapshots, 2);
        d = d == &p->deletes[0] ? &p->deletes[1] : &p->deletes[0];
        assert_string_equal(d->record->id, "ami-mid");
        assert_int_equal(d->n_image_snapshots, 1);
        assert_string_equal(d->image_snapshots[0], "snap-m1");
}

static void test_snapshot_plan_prune__ami_orphans__left_parts_deleted(void **state) {
        _cleanup_(snapshot_set_done) SnapshotSet images = {}, snaps = {};
        _cleanup_(snapshot_plan_freep) SnapshotPlan *p = NULL;
        const char *new_parts[] = { "snap-n1", NULL };
        const char *pending_parts[] = { "snap-pend", NULL };
        SnapshotPlanInput in;

        (void) state;
        add_image(&images, "ami-new", SNAPSHOT_STATE_COMPLETED, T0 + 2 * HOUR, new_parts, ME);
        add_image(&images, "ami-pending", SNAPSHOT_STATE_PENDING, T0 + 3 * HOUR, pending_parts, ME);
        /* parts of an image deregistered by an earlier run whose deletes did not happen */
        add(&snaps, (Rec) { "snap-o1", SNAPSHOT_STATE_COMPLETED, "cdpd", ME, T0, NULL, "vol-a", "ami" });
        add(&snaps, (Rec) { "snap-o2", SNAPSHOT_STATE_ERROR, "cdpd", ME, T0 + HOUR, NULL, "vol-f", "ami" });
        /* in use, newer, pending, not an image's, not ours: all stay */
        add(&snaps, (Rec) { "snap-n1", SNAPSHOT_STATE_COMPLETED, "cdpd", ME, T0 + 2 * HOUR, NULL, "vol-a", "ami" });
        add(&snaps, (Rec) { "snap-pend", SNAPSHOT_STATE_PENDING, "cdpd", ME, T0 + 3 * HOUR, NULL, "vol-a", "ami" });
        add(&snaps, (Rec) { "snap-later", SNAPSHOT_STATE_COMPLETED, "cdpd", ME, T0 + 3 * HOUR, NULL, "vol-a", "ami" });
        add(&snaps, (Rec) { "snap-ebs", SNAPSHOT_STATE_COMPLETED, "cdpd", ME, T0, "/dev/xvda", "vol-a", "ebs" });
        add(&snaps, (Rec) { "snap-x", SNAPSHOT_STATE_COMPLETED, "cdpd", OTHER, T0, NULL, "vol-x", "ami" });
        in = (SnapshotPlanInput) {
                .instance_id = ME, .type = SNAPSHOT_TYPE_AMI, .keep = 1,
                .records = images.records, .n_records = images.n_records,
                .snapshots = snaps.records, .n_snapshots = snaps.n_records,
                .create_accepted = true,
        };
        assert_int_equal(snapshot_plan_prune(&in, &p), 0);
        assert_int_equal(p->n_deletes, 2);
        assert_true(plan_deletes(p, "snap-o1"));
        assert_true(plan_deletes(p, "snap-o2"));
        assert_int_equal(p->deletes[0].reason, SNAPSHOT_DELETE_ORPHANED);
        assert_string_equal(snapshot_delete_reason_to_string(p->deletes[1].reason), "orphaned");
        p = snapshot_plan_free(p);

        /* never without an accepted create */
        in.create_accepted = false;
        assert_int_equal(snapshot_plan_prune(&in, &p), 0);
        assert_int_equal(p->n_deletes, 0);
}

static void test_snapshot_plan_prune__ten_thousand__keeps_seven(void **state) {
        _cleanup_(snapshot_set_done) SnapshotSet s = {};
        _cleanup_(snapshot_plan_freep) SnapshotPlan *p = NULL;
        SnapshotPlanInput in;

        (void) state;
        for (int i = 0; i < 10000; i++) {
                char id[32];
                snprintf(id, sizeof(id), "snap-%05d", i);
                add_ours(&s, id, SNAPSHOT_STATE_COMPLETED, T0 + (time_t) (i / 2) * 60,
                         i % 2 ? "/dev/xvdf" : "/dev/xvda", i % 2 ? "vol-f" : "vol-a");
        }
        in = ebs_input(&s, 7);
        assert_int_equal(snapshot_plan_prune(&in, &p), 0);
        assert_int_equal(p->n_deletes, 10000 - 14);
        assert_int_equal(p->n_kept, 14);
        assert_false(plan_deletes(p, "snap-09999"));
        assert_false(plan_deletes(p, "snap-09986"));
        assert_true(plan_deletes(p, "snap-09985"));
}

static void test_snapshot_plan_prune__bad_args__einval(void **state) {
        SnapshotPlanInput in = { .keep = 1 };
        SnapshotPlan *p = NULL;

        (void) state;
        assert_int_equal(snapshot_plan_prune(&in, &p), -EINVAL);
        assert_int_equal(snapshot_plan_prune(NULL, &p), -EINVAL);
        assert_null(p);
        assert_null(snapshot_plan_free(NULL));
}

/* ---- slots and catch-up ---- */

static void test_snapshot_plan_slot_taken__states__pending_counts_error_not(void **state) {
        _cleanup_(snapshot_set_done) SnapshotSet s = {};
        SnapshotPlanInput in;

        (void) state;
        add_ours(&s, "snap-p", SNAPSHOT_STATE_PENDING, T0, "/dev/xvda", "vol-a");
        add_ours(&s, "snap-e", SNAPSHOT_STATE_ERROR, T0 + HOUR, "/dev/xvda", "vol-a");
        add(&s, (Rec) { "snap-o", SNAPSHOT_STATE_COMPLETED, "cdpd", OTHER, T0 + 2 * HOUR, "/dev/xvda", "vol-o", NULL });
        add(&s, (Rec) { "snap-i", SNAPSHOT_STATE_COMPLETED, "cdpd", ME, T0 + 3 * HOUR, NULL, "vol-a", "ami" });
        in = ebs_input(&s, 7);
        assert_true(snapshot_plan_slot_taken(&in, T0));
        assert_false(snapshot_plan_slot_taken(&in, T0 + HOUR));
        assert_false(snapshot_plan_slot_taken(&in, T0 + 2 * HOUR));
        /* an image's part does not take an EBS slot */
        assert_false(snapshot_plan_slot_taken(&in, T0 + 3 * HOUR));
        assert_false(snapshot_plan_slot_taken(&in, SNAPSHOT_SLOT_UNSET));
}

static void test_snapshot_plan_need_catch_up__newest_vs_prev__decided(void **state) {
        _cleanup_(snapshot_set_done) SnapshotSet s = {};
        SnapshotPlanInput in;
        time_t newest;

        (void) state;
        in = ebs_input(&s, 7);
        /* nothing at all: nothing to catch up */
        assert_false(snapshot_plan_need_catch_up(&in, T0));
        assert_int_equal(snapshot_plan_newest_slot(&in, &newest), -ENOENT);

        add_ours(&s, "snap-old", SNAPSHOT_STATE_COMPLETED, T0 - 24 * HOUR, "/dev/xvda", "vol-a");
        add_ours(&s, "snap-err", SNAPSHOT_STATE_ERROR, T0, "/dev/xvda", "vol-a");
        in = ebs_input(&s, 7);
        assert_int_equal(snapshot_plan_newest_slot(&in, &newest), 0);
        assert_int_equal(newest, T0 - 24 * HOUR);
        assert_true(snapshot_plan_need_catch_up(&in, T0));
        assert_false(snapshot_plan_need_catch_up(&in, T0 - 24 * HOUR));

        add_ours(&s, "snap-now", SNAPSHOT_STATE_PENDING, T0, "/dev/xvda", "vol-a");
        in = ebs_input(&s, 7);
        assert_false(snapshot_plan_need_catch_up(&in, T0));
        assert_true(snapshot_plan_need_catch_up(&in, T0 + 24 * HOUR));
}

/* ---- volumes ---- */

static SnapshotPolicy policy_with(SnapshotVolumes mode, char **devices, size_t n_devices, char **vols, size_t n_vols) {
        return (SnapshotPolicy) {
                .enabled = true, .keep = 7, .volumes = mode,
                .devices = devices, .n_devices = n_devices, .volume_ids = vols, .n_volume_ids = n_vols,
        };
}

static const SnapshotVolume attached[] = {
        { "/dev/xvda", "vol-root" },
        { "/dev/sdf", "vol-f" },
        { "/dev/sdg", "vol-g" },
};

static void test_snapshot_plan_volumes__all_and_data__exclusions(void **state) {
        _cleanup_(snapshot_volume_choice_done) SnapshotVolumeChoice c = {};
        SnapshotPolicy p = policy_with(SNAPSHOT_VOLUMES_ALL, NULL, 0, NULL, 0);

        (void) state;
        assert_int_equal(snapshot_plan_volumes(&p, attached, 3, "/dev/xvda", NULL, 0, &c), 0);
        assert_false(c.exclude_boot);
        assert_int_equal(c.n_included, 3);
        assert_int_equal(c.n_exclude_data, 0);
        snapshot_volume_choice_done(&c);

        p.volumes = SNAPSHOT_VOLUMES_DATA;
        assert_int_equal(snapshot_plan_volumes(&p, attached, 3, "/dev/sda", NULL, 0, &c), 0);
        /* /dev/xvda is the root /dev/sda under its Xen name */
        assert_true(c.exclude_boot);
        assert_int_equal(c.n_included, 2);
        assert_string_equal(c.included[0]->volume_id, "vol-f");
        assert_int_equal(c.n_exclude_data, 0);
        snapshot_volume_choice_done(&c);

        /* only a boot volume: no data volume to take */
        assert_int_equal(snapshot_plan_volumes(&p, attached, 1, "/dev/xvda", NULL, 0, &c), -ENOENT);
        assert_null(c.included);
}

static void test_snapshot_plan_volumes__list__named_missing_aliases(void **state) {
        _cleanup_(snapshot_volume_choice_done) SnapshotVolumeChoice c = {};
        char *devices[] = { (char *) "/dev/xvdf", (char *) "/dev/nvme3n1", (char *) "/dev/sdz" };
        char *vols[] = { (char *) "vol-nope" };
        const SnapshotVolume aliases[] = { { "/dev/nvme3n1", "vol-g" } };
        SnapshotPolicy p = policy_with(SNAPSHOT_VOLUMES_LIST, devices, 3, vols, 1);

        (void) state;
        assert_int_equal(snapshot_plan_volumes(&p, attached, 3, "/dev/xvda", aliases, 1, &c), 0);
        assert_true(c.exclude_boot);
        assert_int_equal(c.n_included, 2);
        assert_string_equal(c.included[0]->device, "/dev/sdf");
        assert_string_equal(c.included[1]->device, "/dev/sdg");
        assert_int_equal(c.n_exclude_data, 0);
        assert_int_equal(c.n_missing, 2);
        assert_string_equal(c.missing[0], "/dev/sdz");
        assert_string_equal(c.missing[1], "vol-nope");
        snapshot_volume_choice_done(&c);

        /* the root named by volume id, one data volume excluded */
        char *vols2[] = { (char *) "vol-root", (char *) "vol-g" };
        p = policy_with(SNAPSHOT_VOLUMES_LIST, NULL, 0, vols2, 2);
        assert_int_equal(snapshot_plan_volumes(&p, attached, 3, "/dev/xvda", NULL, 0, &c), 0);
        assert_false(c.exclude_boot);
        assert_int_equal(c.n_included, 2);
        assert_int_equal(c.n_exclude_data, 1);
        assert_string_equal(c.exclude_data[0], "vol-f");
        assert_int_equal(c.n_missing, 0);
        snapshot_volume_choice_done(&c);

        /* nothing named is attached */
        p = policy_with(SNAPSHOT_VOLUMES_LIST, devices + 2, 1, NULL, 0);
        assert_int_equal(snapshot_plan_volumes(&p, attached, 3, "/dev/xvda", NULL, 0, &c), -ENOENT);
}

static void test_snapshot_device_equal__xen_names__equal(void **state) {
        (void) state;
        assert_true(snapshot_device_equal("/dev/sdf", "/dev/xvdf"));
        assert_true(snapshot_device_equal("/dev/xvda1", "/dev/sda1"));
        assert_true(snapshot_device_equal("/dev/nvme1n1", "/dev/nvme1n1"));
        assert_false(snapshot_device_equal("/dev/sdf", "/dev/sdg"));
        assert_false(snapshot_device_equal("/dev/sd", "/dev/xvd"));
        assert_false(snapshot_device_equal("/dev/sda1", "/dev/sda"));
        assert_false(snapshot_device_equal(NULL, "/dev/sda"));
}

static void test_snapshot_record_key__fallbacks__device_volume_image(void **state) {
        const SnapshotVolume vols[] = { { "/dev/xvdf", "vol-f" } };
        SnapshotRecord r = { .id = (char *) "snap-1", .volume_id = (char *) "vol-f" };
        _cleanup_free_ char *k1 = NULL, *k2 = NULL, *k3 = NULL, *k4 = NULL;
        char *k5 = NULL;

        (void) state;
        assert_int_equal(snapshot_record_key(&r, SNAPSHOT_TYPE_EBS, vols, 1, &k1), 0);
        assert_string_equal(k1, "/dev/xvdf");
        assert_int_equal(snapshot_record_key(&r, SNAPSHOT_TYPE_EBS, NULL, 0, &k2), 0);
        assert_string_equal(k2, "volume:vol-f");
        assert_int_equal(snapshot_record_key(&r, SNAPSHOT_TYPE_AMI, NULL, 0, &k3), 0);
        assert_string_equal(k3, "image");
        r.device = (char *) "/dev/sdh";
        assert_int_equal(snapshot_record_key(&r, SNAPSHOT_TYPE_EBS, vols, 1, &k4), 0);
        assert_string_equal(k4, "/dev/sdh");
        r.device = NULL;
        r.volume_id = NULL;
        assert_int_equal(snapshot_record_key(&r, SNAPSHOT_TYPE_EBS, vols, 1, &k5), -ENOENT);
        assert_null(k5);
}

/* ---- names ---- */

static void test_snapshot_name__slot__stamp_and_cut(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        char base[700];

        (void) state;
        assert_int_equal(snapshot_name("web-1", T0 + 30 * 60 + 59, &a), 0);
        assert_string_equal(a, "web-1-20260102T0330Z");

        /* 300 two-byte characters: cut to 241 characters, never inside one */
        for (size_t i = 0; i < 300; i++)
                memcpy(base + 2 * i, "\xc3\xa9", 2);
        base[600] = '\0';
        assert_int_equal(snapshot_name(base, T0, &b), 0);
        assert_true(valid_utf8(b));
        {
                size_t chars = 0;
                for (const char *p = b; *p; p += utf8_char_len(p))
                        chars++;
                assert_int_equal(chars, SNAPSHOT_NAME_MAX);
        }
        assert_string_equal(b + strlen(b) - 15, "-20260102T0300Z");

        assert_int_equal(snapshot_name("", T0, &c), 0);
        assert_string_equal(c, "-20260102T0300Z");
}

static void test_snapshot_image_name__refused_chars__replaced_and_fits(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        char base[300];

        (void) state;
        assert_int_equal(snapshot_image_name("web 1 (prod)/db's@x_y.z", ME, T0, &a), 0);
        assert_string_equal(a, "web 1 (prod)/db's@x_y.z-20260102T0300Z-" ME);
        memset(base, 'x', sizeof(base) - 1);
        base[sizeof(base) - 1] = '\0';
        memcpy(base, "caf\xc3\xa9!*", 7);
        assert_int_equal(snapshot_image_name(base, ME, T0, &b), 0);
        assert_int_equal(strlen(b), SNAPSHOT_IMAGE_NAME_MAX);
        assert_memory_equal(b, "caf---x", 7);
        assert_string_equal(b + strlen(b) - strlen(ME) - 16, "-20260102T0300Z-" ME);
}

/* ---- copies ---- */

static void test_snapshot_plan_copies__dest_partial__missing_newest_first(void **state) {
        _cleanup_(snapshot_set_done) SnapshotSet home = {}, dest = {};
        SnapshotCopy *c = NULL;
        size_t n = 0;
        SnapshotPlanInput in;

        (void) state;
        for (int i = 0; i < 5; i++) {
                char id[32];
                snprintf(id, sizeof(id), "snap-a%d", i);
                add_ours(&home, id, SNAPSHOT_STATE_COMPLETED, T0 + i * HOUR, "/dev/xvda", "vol-a");
                snprintf(id, sizeof(id), "snap-f%d", i);
                add_ours(&home, id, SNAPSHOT_STATE_COMPLETED, T0 + i * HOUR, NULL, "vol-f");
        }
        add_ours(&home, "snap-a5", SNAPSHOT_STATE_PENDING, T0 + 5 * HOUR, "/dev/xvda", "vol-a");
        /* already there: a4 (completed), f4 (still pending); a3's copy failed */
        add_ours(&dest, "snap-c-a4", SNAPSHOT_STATE_COMPLETED, T0 + 4 * HOUR, "/dev/xvda", "vol-a");
        add_ours(&dest, "snap-c-f4", SNAPSHOT_STATE_PENDING, T0 + 4 * HOUR, "/dev/xvdf", "vol-f");
        add_ours(&dest, "snap-c-a3", SNAPSHOT_STATE_ERROR, T0 + 3 * HOUR, "/dev/xvda", "vol-a");
        /* someone else's copy of the same slot does not count */
        add(&dest, (Rec) { "snap-c-x", SNAPSHOT_STATE_COMPLETED, "cdpd", OTHER, T0 + 3 * HOUR, "/dev/xvdf",
                           "vol-f", NULL });

        const SnapshotVolume vols[] = { { "/dev/xvda", "vol-a" }, { "/dev/xvdf", "vol-f" } };
        in = ebs_input(&home, 3);
        in.volumes = vols;
        in.n_volumes = 2;
        assert_int_equal(snapshot_plan_copies(&in, dest.records, dest.n_records, &c, &n), 0);
        /* kept: a4 a3 a2, f4 f3 f2; missing: a3 a2 f3 f2, by rank */
        assert_int_equal(n, 4);
        assert_string_equal(c[0].record->id, "snap-a3");
        assert_string_equal(c[0].key, "/dev/xvda");
        assert_string_equal(c[1].record->id, "snap-f3");
        assert_string_equal(c[1].key, "/dev/xvdf");
        assert_string_equal(c[2].record->id, "snap-a2");
        assert_string_equal(c[3].record->id, "snap-f2");
        c = snapshot_copies_free(c, n);

        /* nothing at home: nothing to copy */
        in = ebs_input(&dest, 3);
        in.n_records = 0;
        assert_int_equal(snapshot_plan_copies(&in, dest.records, dest.n_records, &c, &n), 0);
        assert_int_equal(n, 0);
        c = snapshot_copies_free(c, n);
}

static void test_snapshot_plan_copies__ami__by_slot(void **state) {
        _cleanup_(snapshot_set_done) SnapshotSet home = {}, dest = {};
        SnapshotCopy *c = NULL;
        size_t n = 0;
        SnapshotPlanInput in;

        (void) state;
        add_image(&home, "ami-1", SNAPSHOT_STATE_COMPLETED, T0, NULL, ME);
        add_image(&home, "ami-2", SNAPSHOT_STATE_COMPLETED, T0 + HOUR, NULL, ME);
        add_image(&home, "ami-3", SNAPSHOT_STATE_PENDING, T0 + 2 * HOUR, NULL, ME);
        add_image(&dest, "ami-c1", SNAPSHOT_STATE_PENDING, T0, NULL, ME);
        in = (SnapshotPlanInput) { .instance_id = ME, .type = SNAPSHOT_TYPE_AMI, .keep = 7,
                                   .records = home.records, .n_records = home.n_records };
        assert_int_equal(snapshot_plan_copies(&in, dest.records, dest.n_records, &c, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(c[0].record->id, "ami-2");
        assert_string_equal(c[0].key, "image");
        snapshot_copies_free(c, n);
}

static void test_snapshot_plan_untagged_image_parts__copied_image__untagged_listed(void **state) {
        _cleanup_(snapshot_set_done) SnapshotSet images = {}, snaps = {};
        _cleanup_free_ const char **ids = NULL;
        const char *parts[] = { "snap-1", "snap-2", NULL };
        const char *pending_parts[] = { "snap-3", NULL };
        size_t n = 0;
        SnapshotPlanInput in;

        (void) state;
        add_image(&images, "ami-1", SNAPSHOT_STATE_COMPLETED, T0, parts, ME);
        add_image(&images, "ami-2", SNAPSHOT_STATE_PENDING, T0 + HOUR, pending_parts, ME);
        add_image(&images, "ami-x", SNAPSHOT_STATE_COMPLETED, T0, parts, OTHER);
        add(&snaps, (Rec) { "snap-1", SNAPSHOT_STATE_COMPLETED, "cdpd", ME, T0, NULL, "vol-a", "ami" });
        in = (SnapshotPlanInput) { .instance_id = ME, .type = SNAPSHOT_TYPE_AMI, .keep = 7,
                                   .records = images.records, .n_records = images.n_records,
                                   .snapshots = snaps.records, .n_snapshots = snaps.n_records };
        assert_int_equal(snapshot_plan_untagged_image_parts(&in, &ids, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(ids[0], "snap-2");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_snapshot_tag_keys_init__prefix__keys_built),
                cmocka_unit_test(test_snapshot_state_from_ec2__all_states__mapped),
                cmocka_unit_test(test_snapshot_set_add_snapshot__ec2_item__tags_read),
                cmocka_unit_test(test_snapshot_set_add_image__block_devices__snapshot_ids),
                cmocka_unit_test(test_snapshot_plan_prune__many_runs__exactly_keep_per_device),
                cmocka_unit_test(test_snapshot_plan_prune__foreign_and_unmanaged__untouched),
                cmocka_unit_test(test_snapshot_plan_prune__replaced_volume__same_device_count),
                cmocka_unit_test(test_snapshot_plan_prune__pending_old__never_deleted),
                cmocka_unit_test(test_snapshot_plan_prune__keep_zero_or_newer_pending__newest_completed_kept),
                cmocka_unit_test(test_snapshot_plan_prune__create_not_accepted__nothing_deleted),
                cmocka_unit_test(test_snapshot_plan_prune__failed_superseded__deleted),
                cmocka_unit_test(test_snapshot_plan_prune__no_slot_or_image_parts__ignored),
                cmocka_unit_test(test_snapshot_plan_prune__same_slot_twice__one_generation),
                cmocka_unit_test(test_snapshot_plan_prune__ami__own_snapshots_only),
                cmocka_unit_test(test_snapshot_plan_prune__ami_orphans__left_parts_deleted),
                cmocka_unit_test(test_snapshot_plan_prune__ten_thousand__keeps_seven),
                cmocka_unit_test(test_snapshot_plan_prune__bad_args__einval),
                cmocka_unit_test(test_snapshot_plan_slot_taken__states__pending_counts_error_not),
                cmocka_unit_test(test_snapshot_plan_need_catch_up__newest_vs_prev__decided),
                cmocka_unit_test(test_snapshot_plan_volumes__all_and_data__exclusions),
                cmocka_unit_test(test_snapshot_plan_volumes__list__named_missing_aliases),
                cmocka_unit_test(test_snapshot_device_equal__xen_names__equal),
                cmocka_unit_test(test_snapshot_record_key__fallbacks__device_volume_image),
                cmocka_unit_test(test_snapshot_name__slot__stamp_and_cut),
                cmocka_unit_test(test_snapshot_image_name__refused_chars__replaced_and_fits),
                cmocka_unit_test(test_snapshot_plan_copies__dest_partial__missing_newest_first),
                cmocka_unit_test(test_snapshot_plan_copies__ami__by_slot),
                cmocka_unit_test(test_snapshot_plan_untagged_image_parts__copied_image__untagged_listed),
        };

        return cmocka_run_group_tests_name("snapshot-plan", tests, NULL, NULL);
}
