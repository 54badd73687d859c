/* SPDX-License-Identifier: MIT */
#pragma once

/* The Snapshot pattern's decisions (SPEC 5), pure: no I/O, no clock, no
 * logging. The executor (daemon/pattern-snapshot.c) lists what exists,
 * converts it into SnapshotRecords, asks these functions what to create,
 * copy and delete, and carries that out. --dry-run runs the same functions.
 *
 * What a record is: one EBS snapshot or one AMI as a describe call showed
 * it, reduced to what decisions need (10,000 of them fit in about 1.5 MiB).
 *
 * Ownership rules the planner enforces (not the listing):
 *   - a record counts only when it carries <prefix>managed-by=cdpd AND
 *     <prefix>instance-id=<this instance> (checked here again, whatever the
 *     describe call's server-side filter said);
 *   - EBS pruning ignores snapshots tagged <prefix>type=ami (the parts of an
 *     image; they go with their image) and AMI pruning looks only at images;
 *   - a record without a readable <prefix>slot is never counted and never
 *     deleted (it cannot be placed among the generations).
 *
 * Generations and keys. A generation is one slot. EBS generations are
 * counted per backup slot key: the <prefix>device tag; for a snapshot
 * without it (its follow-up CreateTags failed) the device its volume is
 * attached as now (from the instance's block devices), else
 * "volume:<vol-id>". A replaced volume (same device, new volume id) thus
 * continues the count of its device. AMI generations are counted per image,
 * under the single key "image".
 *
 * Pruning, per key:
 *   - only completed snapshots / available images count;
 *   - the newest `keep` distinct completed slots are kept, every completed
 *     record of an older slot is deleted;
 *   - the newest completed generation is never deleted (keep 0 acts as 1);
 *   - pending records and records in any other state (recoverable, transient,
 *     ...) are never deleted;
 *   - a failed record (snapshot `error`, image `failed`/`invalid`/`error`)
 *     holds no data and is deleted once a completed generation of the same
 *     key with a newer slot exists; until then it is left for a person to
 *     look at;
 *   - nothing at all is deleted unless this run's create was accepted (or its
 *     slot already had a backup, i.e. an earlier run's create was accepted);
 *   - an image is deleted by deregistering it, then deleting those of its
 *     snapshots that are ours (tagged as above) and used by no image that
 *     stays; a snapshot of ours made for an image that no listed image uses
 *     any more and older than the newest available image is deleted as
 *     orphaned (its image went, its own deletion did not happen: throttled,
 *     cdpd stopped), so nothing an image leaves behind stays for ever.
 */

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "cdp/ec2-snapshot.h"
#include "cdp/macro.h"
#include "cdp/policy.h"

#define SNAPSHOT_SLOT_UNSET ((time_t) -1)
#define SNAPSHOT_MANAGED_BY_VALUE "cdpd"
#define SNAPSHOT_IMAGE_KEY "image"
#define SNAPSHOT_VOLUME_KEY_PREFIX "volume:"
/* EC2 limits: tag values 256 characters, AMI names 128. */
#define SNAPSHOT_NAME_MAX 256
#define SNAPSHOT_IMAGE_NAME_MAX 128

/* ---- Tag keys (the prefix is configurable) */

#define SNAPSHOT_TAG_KEY_MAX 128
typedef struct SnapshotTagKeys {
        char managed_by[SNAPSHOT_TAG_KEY_MAX + 1];      /* <prefix>managed-by */
        char instance_id[SNAPSHOT_TAG_KEY_MAX + 1];     /* <prefix>instance-id */
        char slot[SNAPSHOT_TAG_KEY_MAX + 1];            /* <prefix>slot */
        char device[SNAPSHOT_TAG_KEY_MAX + 1];          /* <prefix>device */
        char volume_id[SNAPSHOT_TAG_KEY_MAX + 1];       /* <prefix>volume-id */
        char type[SNAPSHOT_TAG_KEY_MAX + 1];            /* <prefix>type: ebs | ami */
        char source_id[SNAPSHOT_TAG_KEY_MAX + 1];       /* <prefix>source-id: on copies, the original */
} SnapshotTagKeys;

/* -ENAMETOOLONG when a key would exceed 128 characters, -EINVAL for NULL. */
int snapshot_tag_keys_init(SnapshotTagKeys *k, const char *prefix);

/* ---- Records */

typedef enum SnapshotState {
        SNAPSHOT_STATE_PENDING,         /* snapshot pending; image pending */
        SNAPSHOT_STATE_COMPLETED,       /* snapshot completed; image available */
        SNAPSHOT_STATE_ERROR,           /* snapshot error; image failed, invalid, error */
        SNAPSHOT_STATE_OTHER,           /* anything else: recoverable, recovering, transient,
                                         * deregistered, disabled, absent */
        _SNAPSHOT_STATE_MAX,
} SnapshotState;

SnapshotState snapshot_state_from_ec2(const char *state, bool image);
const char *snapshot_state_to_string(SnapshotState s);

/* Strings that repeat across thousands of records (tag values, volume ids)
 * are interned in the owning set's pool: 10,000 records cost one small
 * allocation each (the id) besides the array. */
typedef struct SnapshotRecord {
        char *id;                       /* snap-... or ami-...; owned */
        SnapshotState state;
        const char *managed_by;         /* tag values, NULL when the tag is absent; pooled */
        const char *instance_id;        /* pooled */
        time_t slot;                    /* <prefix>slot parsed; SNAPSHOT_SLOT_UNSET when absent or unreadable */
        const char *device;             /* <prefix>device; pooled */
        const char *volume_id;          /* <prefix>volume-id, else the snapshot's volumeId; pooled */
        const char *type;               /* <prefix>type; pooled */
        char *name;                     /* images: the AMI name; snapshots: NULL; owned */
        char **snapshot_ids;            /* images: the EBS snapshots of the block device mapping; owned */
        size_t n_snapshot_ids;
} SnapshotRecord;

/* A growable array of records plus the pool of their shared strings.
 * Zero-initialise; release with snapshot_set_done(). Records handed to
 * snapshot_set_add() are copied; records in a set may be changed in place
 * (state), their pooled fields only through snapshot_set_intern(). */
typedef struct SnapshotSet {
        SnapshotRecord *records;
        size_t n_records;
        size_t cap;
        char **pool;                    /* open-addressing hash table of interned strings */
        size_t pool_cap;
        size_t n_pool;
} SnapshotSet;

/* Append one record made from a describe/create answer item (copied). */
int snapshot_set_add_snapshot(SnapshotSet *s, const SnapshotTagKeys *k, const Ec2Snapshot *snap);
int snapshot_set_add_image(SnapshotSet *s, const SnapshotTagKeys *k, const Ec2Image *img);
/* Append a record built by hand (copied; tests, and the executor for what it
 * just created). */
int snapshot_set_add(SnapshotSet *s, const SnapshotRecord *r);
/* The set's copy of str (NULL for NULL, and on OOM), valid until
 * snapshot_set_done(). */
const char *snapshot_set_intern(SnapshotSet *s, const char *str);
/* The record with this id, or NULL. Borrowed. */
SnapshotRecord *snapshot_set_find(const SnapshotSet *s, const char *id);
void snapshot_set_done(SnapshotSet *s);
/* Releases what a record owns (id, name, snapshot_ids; not its pooled
 * strings) and resets it. */
void snapshot_record_done(SnapshotRecord *r);

/* Whether r carries managed-by=cdpd and instance-id=instance_id. */
bool snapshot_record_is_ours(const SnapshotRecord *r, const char *instance_id);

/* ---- Volumes of the instance */

typedef struct SnapshotVolume {
        const char *device;             /* as EC2 names it, e.g. /dev/xvda, /dev/sdf */
        const char *volume_id;
} SnapshotVolume;

/* Device names as EC2 and the kernel may spell them: equal, or equal once a
 * leading "/dev/xvd" is read as "/dev/sd" (Xen renames sdX to xvdX). */
bool snapshot_device_equal(const char *a, const char *b);

/* The backup slot key of a record (see the top): "image" for AMI, the
 * device, or "volume:<vol-id>". volumes may be NULL (another region).
 * -ENOENT when there is none. Ownership: caller frees *ret. */
int snapshot_record_key(const SnapshotRecord *r, SnapshotType type, const SnapshotVolume *volumes,
                        size_t n_volumes, char **ret);

/* Which volumes a CreateSnapshots call takes (cdp:snapshot:volumes):
 *   all  -> every EBS volume, nothing excluded;
 *   data -> ExcludeBootVolume, every other volume;
 *   list -> the named devices and vol- ids; the boot volume only when named
 *           (ExcludeBootVolume otherwise); data volumes not named go into
 *           ExcludeDataVolumeIds.
 * attached: the instance's EBS block devices; root_device: its root device
 * name. aliases: device names resolved locally to volume ids (an NVMe name
 * such as /dev/nvme1n1, which EC2 does not know), may be NULL.
 * Names in the list that match nothing attached go to `missing` (the caller
 * warns); -ENOENT when no volume would be taken at all. */
typedef struct SnapshotVolumeChoice {
        bool exclude_boot;
        const char **exclude_data;      /* volume ids (borrowed), array owned */
        size_t n_exclude_data;
        const SnapshotVolume **included;        /* borrowed entries of attached, array owned */
        size_t n_included;
        const char **missing;           /* borrowed from the policy, array owned */
        size_t n_missing;
} SnapshotVolumeChoice;

int snapshot_plan_volumes(const SnapshotPolicy *p, const SnapshotVolume *attached, size_t n_attached,
                          const char *root_device, const SnapshotVolume *aliases, size_t n_aliases,
                          SnapshotVolumeChoice *ret);
void snapshot_volume_choice_done(SnapshotVolumeChoice *c);

/* ---- Names */

/* The Name tag: "<base>-<yyyymmddThhmmZ>" of the slot in UTC, base cut (at
 * a UTF-8 character boundary) so that the whole fits SNAPSHOT_NAME_MAX
 * characters. Ownership: caller frees *ret. */
int snapshot_name(const char *base, time_t slot, char **ret);

/* The AMI name: "<base>-<yyyymmddThhmmZ>-<instance id>" with every character
 * EC2 refuses in an AMI name replaced by '-' and base cut to fit
 * SNAPSHOT_IMAGE_NAME_MAX. Unique per instance and slot, as EC2 requires
 * within a region. Ownership: caller frees *ret. */
int snapshot_image_name(const char *base, const char *instance_id, time_t slot, char **ret);

/* ---- Decisions */

typedef struct SnapshotPlanInput {
        const char *instance_id;
        SnapshotType type;
        unsigned keep;                  /* 1..1000; 0 acts as 1 */
        const SnapshotRecord *records;  /* EBS: snapshots; AMI: images */
        size_t n_records;
        const SnapshotRecord *snapshots;        /* AMI: our snapshots (image parts); else unused */
        size_t n_snapshots;
        const SnapshotVolume *volumes;  /* EBS: the instance's block devices; NULL in other regions */
        size_t n_volumes;
        bool create_accepted;           /* this run's create was accepted, or its slot existed */
        time_t run_slot;                /* this run's slot, never pruned by the same run (after a
                                         * clock step back it may be the oldest by slot while
                                         * holding the newest data); 0 = none */
} SnapshotPlanInput;

/* Whether a backup of ours (this type, any state but failed) exists for slot:
 * then that slot is not taken again. */
bool snapshot_plan_slot_taken(const SnapshotPlanInput *in, time_t slot);

/* The newest slot among our backups of this type that are pending or
 * completed. -ENOENT when there is none. */
int snapshot_plan_newest_slot(const SnapshotPlanInput *in, time_t *ret);

/* Catch-up at start (SPEC 5): true when there is a newest generation and it
 * is older than prev_slot (the most recent slot whose time has come). With
 * no backup at all there is nothing to catch up: the first slot comes by
 * the schedule (or `cdpctl snapshot`). */
bool snapshot_plan_need_catch_up(const SnapshotPlanInput *in, time_t prev_slot);

typedef enum SnapshotDeleteReason {
        SNAPSHOT_DELETE_EXPIRED,        /* older than the newest `keep` generations */
        SNAPSHOT_DELETE_FAILED,         /* failed, and a newer completed generation exists */
        SNAPSHOT_DELETE_ORPHANED,       /* AMI: a snapshot of ours made for an image (<prefix>type=ami)
                                         * that no image uses any more, older than the newest
                                         * available image (its image was deregistered and the
                                         * snapshot's own deletion did not happen); record points
                                         * into SnapshotPlanInput.snapshots */
} SnapshotDeleteReason;

const char *snapshot_delete_reason_to_string(SnapshotDeleteReason r);

typedef struct SnapshotDelete {
        const SnapshotRecord *record;   /* borrowed from the input */
        SnapshotDeleteReason reason;
        const char *key;                /* borrowed from the plan's groups */
        const char **image_snapshots;   /* AMI: our snapshots to delete after deregistration
                                         * (borrowed strings, array owned) */
        size_t n_image_snapshots;
        size_t n_foreign_snapshots;     /* AMI: snapshots of the image left alone (not ours, or
                                         * used by an image that stays) */
} SnapshotDelete;

typedef struct SnapshotGroup {
        char *key;
        unsigned completed;             /* completed generations (distinct slots) seen */
        unsigned kept;                  /* completed generations kept */
        unsigned pending;               /* pending records */
        unsigned failed;                /* failed records (deleted or not) */
        time_t newest;                  /* newest completed slot; SNAPSHOT_SLOT_UNSET if none */
} SnapshotGroup;

typedef struct SnapshotPlan {
        SnapshotDelete *deletes;        /* newest key first is not promised; oldest slot first per key */
        size_t n_deletes;
        SnapshotGroup *groups;          /* sorted by key */
        size_t n_groups;
        size_t n_kept;                  /* completed records kept, all keys */
        size_t n_ignored;               /* records not ours, of the other type, or without slot or key */
        bool prune_skipped;             /* create not accepted: no deletes */
} SnapshotPlan;

/* The prune decisions. The plan borrows from in's records: keep them alive
 * and unchanged while using it. Ownership: caller frees *ret with
 * snapshot_plan_free(). */
int snapshot_plan_prune(const SnapshotPlanInput *in, SnapshotPlan **ret);
SnapshotPlan *snapshot_plan_free(SnapshotPlan *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(SnapshotPlan *, snapshot_plan_free);

/* The group of key in a plan, or NULL. */
const SnapshotGroup *snapshot_plan_group(const SnapshotPlan *p, const char *key);

/* Copies to another region (cdp:snapshot:copy-to): every completed record of
 * ours among the newest `keep` generations of its key (home, with the
 * instance's volumes) that has no copy there yet: no record of ours in dest
 * (any state but failed) with the same key and slot. Newest first.
 * Ownership: caller frees *ret with snapshot_copies_free(); entries borrow
 * the records of home. */
typedef struct SnapshotCopy {
        const SnapshotRecord *record;
        char *key;                      /* the device (or volume:/image key) the copy is tagged with */
} SnapshotCopy;

int snapshot_plan_copies(const SnapshotPlanInput *home, const SnapshotRecord *dest, size_t n_dest,
                         SnapshotCopy **ret, size_t *ret_n);
SnapshotCopy *snapshot_copies_free(SnapshotCopy *c, size_t n);

/* AMI: ids of snapshots of our available images that carry no ownership tags
 * (CopyImage does not tag the snapshots it makes); the executor tags them so
 * that they can go with their image later. Borrowed strings, array owned:
 * free(*ret). */
int snapshot_plan_untagged_image_parts(const SnapshotPlanInput *in, const char ***ret, size_t *ret_n);
