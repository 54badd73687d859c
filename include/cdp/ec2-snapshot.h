/* SPDX-License-Identifier: MIT */
#pragma once

/* Typed results of the EC2 answers the Snapshot pattern reads: DescribeSnapshots,
 * DescribeImages, DescribeVolumes, CreateSnapshots, CreateImage, CopySnapshot
 * and CopyImage (API version 2016-11-15). Built on the schema engine of
 * cdp/ec2-xml.h, with its contract: -EBADMSG for malformed or truncated XML,
 * the wrong root (an error document included), a required element missing or
 * a value that does not parse; -E2BIG over a cap; -ENOMEM. Outputs are
 * written only on success; unknown elements are ignored.
 *
 * Element names follow the EC2 XML answers, which differ between calls for
 * the same member: a snapshot's state is <status> in DescribeSnapshots and
 * <state> in CreateSnapshots; both land in Ec2Snapshot.state. */

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "cdp/ec2-xml.h"
#include "cdp/macro.h"

/* ---- Snapshots (DescribeSnapshots snapshotSet items, CreateSnapshots snapshotSet items) */

typedef struct Ec2Snapshot {
        char *id;                       /* snapshotId; never NULL */
        char *volume_id;                /* volumeId ("vol-ffffffff" for copies) */
        char *state;                    /* status | state: pending | completed | error | recoverable | recovering */
        char *state_message;            /* statusMessage, e.g. why it failed */
        char *progress;                 /* "100%" */
        char *owner_id;
        char *description;
        time_t start_time;              /* EC2_TIME_UNSET when absent */
        int volume_size;                /* GiB; -1 when absent */
        bool encrypted;
        Ec2Tag *tags;                   /* tagSet */
        size_t n_tags;
} Ec2Snapshot;

void ec2_snapshot_done(Ec2Snapshot *s);

typedef struct Ec2SnapshotPage {
        Ec2Snapshot *snapshots;
        size_t n_snapshots;
        char *next_token;               /* NULL on the last page (and for CreateSnapshots) */
        char *request_id;
} Ec2SnapshotPage;

/* DescribeSnapshotsResponse/snapshotSet/item.
 * Ownership: caller frees *ret with ec2_snapshot_page_free(). */
int ec2_parse_describe_snapshots(const char *body, size_t len, Ec2SnapshotPage **ret);

/* CreateSnapshotsResponse/snapshotSet/item: the snapshots of one
 * crash-consistent set, one per volume. Same ownership. */
int ec2_parse_create_snapshots(const char *body, size_t len, Ec2SnapshotPage **ret);

/* DescribeSnapshots one item at a time: fn gets each snapshot (borrowed for
 * the call) as soon as its closing tag is read, so a page of 1,000 never sits
 * in memory as structs (pruning 10,000 snapshots, SPEC 11). The same checks
 * as ec2_parse_describe_snapshots(), the same Ec2Snapshot contents; but the
 * items before a failure have been handed out already, so a caller must
 * treat the whole page as failed when this fails. A negative return from fn
 * stops the parse with that error. Either output may be NULL.
 * Ownership: caller frees *ret_next_token and *ret_request_id (NULL when
 * absent) with free(); they are written only on success. */
typedef int (*Ec2SnapshotFn)(const Ec2Snapshot *s, void *userdata);
int ec2_parse_describe_snapshots_each(const char *body, size_t len, Ec2SnapshotFn fn, void *userdata,
                                      char **ret_next_token, char **ret_request_id);

Ec2SnapshotPage *ec2_snapshot_page_free(Ec2SnapshotPage *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Ec2SnapshotPage *, ec2_snapshot_page_free);

/* ---- Images (DescribeImages imagesSet items) */

typedef struct Ec2ImageDevice {
        char *device_name;              /* deviceName; never NULL */
        char *snapshot_id;              /* ebs/snapshotId; NULL for ephemeral or no-device entries */
        int volume_size;                /* ebs/volumeSize; -1 when absent */
} Ec2ImageDevice;

void ec2_image_device_done(Ec2ImageDevice *d);

typedef struct Ec2Image {
        char *id;                       /* imageId; never NULL */
        char *name;
        char *state;                    /* imageState: pending | available | invalid | deregistered |
                                         * transient | failed | error | disabled */
        char *owner_id;                 /* imageOwnerId */
        char *description;
        char *creation_date;            /* creationDate as written (a string in the model) */
        time_t creation_time;           /* creationDate parsed; EC2_TIME_UNSET when absent or unreadable */
        char *root_device_name;
        char *state_reason_code;        /* stateReason/code */
        char *state_reason_message;     /* stateReason/message */
        Ec2ImageDevice *devices;        /* blockDeviceMapping */
        size_t n_devices;
        Ec2Tag *tags;                   /* tagSet */
        size_t n_tags;
} Ec2Image;

void ec2_image_done(Ec2Image *i);

typedef struct Ec2ImagePage {
        Ec2Image *images;
        size_t n_images;
        char *next_token;               /* newer API versions page DescribeImages; NULL otherwise */
        char *request_id;
} Ec2ImagePage;

/* DescribeImagesResponse/imagesSet/item.
 * Ownership: caller frees *ret with ec2_image_page_free(). */
int ec2_parse_describe_images(const char *body, size_t len, Ec2ImagePage **ret);
Ec2ImagePage *ec2_image_page_free(Ec2ImagePage *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Ec2ImagePage *, ec2_image_page_free);

/* ---- Volumes (DescribeVolumes volumeSet items) */

typedef struct Ec2VolumeAttachment {
        char *instance_id;
        char *device;                   /* device name as attached, e.g. /dev/sdf */
        char *state;                    /* status: attaching | attached | detaching | detached | busy */
        bool delete_on_termination;
} Ec2VolumeAttachment;

void ec2_volume_attachment_done(Ec2VolumeAttachment *a);

typedef struct Ec2Volume {
        char *id;                       /* volumeId; never NULL */
        char *state;                    /* status: creating | available | in-use | deleting | deleted | error */
        char *availability_zone;
        char *snapshot_id;              /* the snapshot it was made from, "" when none */
        char *volume_type;
        int size;                       /* GiB; -1 when absent */
        time_t create_time;             /* EC2_TIME_UNSET when absent */
        bool encrypted;
        Ec2VolumeAttachment *attachments;       /* attachmentSet */
        size_t n_attachments;
        Ec2Tag *tags;
        size_t n_tags;
} Ec2Volume;

void ec2_volume_done(Ec2Volume *v);

typedef struct Ec2VolumePage {
        Ec2Volume *volumes;
        size_t n_volumes;
        char *next_token;
        char *request_id;
} Ec2VolumePage;

/* DescribeVolumesResponse/volumeSet/item.
 * Ownership: caller frees *ret with ec2_volume_page_free(). */
int ec2_parse_describe_volumes(const char *body, size_t len, Ec2VolumePage **ret);
Ec2VolumePage *ec2_volume_page_free(Ec2VolumePage *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Ec2VolumePage *, ec2_volume_page_free);

/* ---- Answers that name one new resource */

/* CreateImageResponse/imageId, CopyImageResponse/imageId,
 * CopySnapshotResponse/snapshotId, each with its requestId. -EBADMSG when the
 * id or the requestId is absent or empty, or the root is another call's.
 * Either output may be NULL when not wanted.
 * Ownership: caller frees *ret_id and *ret_request_id with free(). */
int ec2_parse_create_image(const char *body, size_t len, char **ret_id, char **ret_request_id);
int ec2_parse_copy_image(const char *body, size_t len, char **ret_id, char **ret_request_id);
int ec2_parse_copy_snapshot(const char *body, size_t len, char **ret_id, char **ret_request_id);

/* Schemas, for incremental parsing with ec2_xml_parser_new() and for parsers
 * that embed these items. */
extern const Ec2XmlSchema ec2_snapshot_schema;
extern const Ec2XmlSchema ec2_snapshot_page_schema;
extern const Ec2XmlSchema ec2_image_device_schema;
extern const Ec2XmlSchema ec2_image_schema;
extern const Ec2XmlSchema ec2_image_page_schema;
extern const Ec2XmlSchema ec2_volume_attachment_schema;
extern const Ec2XmlSchema ec2_volume_schema;
extern const Ec2XmlSchema ec2_volume_page_schema;
