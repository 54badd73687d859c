/* SPDX-License-Identifier: MIT */
#include <limits.h>
#include <string.h>

#include "cdp/ec2-snapshot.h"
#include "cdp/xml.h"

/* Allocates a page struct and parses into it. */
static void *parse_page(const char *body, size_t len, const char *const *roots, const Ec2XmlSchema *schema,
                        int *ret_error) {
        _cleanup_free_ void *page = NULL;
        int r;

        page = calloc(1, schema->size);
        if (!page) {
                *ret_error = -ENOMEM;
                return NULL;
        }
        r = ec2_xml_parse(body, len, roots, schema, page);
        if (r < 0) {
                *ret_error = r;
                return NULL;
        }
        *ret_error = 0;
        return TAKE_PTR(page);
}

/* ------------------------------------------------------------------------
 * Snapshots
 * ------------------------------------------------------------------------ */

static void snapshot_init(void *item) {
        Ec2Snapshot *s = item;

        s->start_time = EC2_TIME_UNSET;
        s->volume_size = -1;
}

static int snapshot_finish(void *item) {
        Ec2Snapshot *s = item;
        return s->id && *s->id ? 0 : -EBADMSG;
}

static const Ec2XmlField snapshot_fields[] = {
        EC2_XML_STRING_FIELD("snapshotId", Ec2Snapshot, id),
        EC2_XML_STRING_FIELD("volumeId", Ec2Snapshot, volume_id),
        /* DescribeSnapshots writes <status>, CreateSnapshots <state>. */
        EC2_XML_STRING_FIELD("status", Ec2Snapshot, state),
        EC2_XML_STRING_FIELD("state", Ec2Snapshot, state),
        EC2_XML_STRING_FIELD("statusMessage", Ec2Snapshot, state_message),
        EC2_XML_STRING_FIELD("progress", Ec2Snapshot, progress),
        EC2_XML_STRING_FIELD("ownerId", Ec2Snapshot, owner_id),
        EC2_XML_STRING_FIELD("description", Ec2Snapshot, description),
        EC2_XML_TIME_FIELD("startTime", Ec2Snapshot, start_time),
        EC2_XML_INT_FIELD("volumeSize", Ec2Snapshot, volume_size),
        EC2_XML_BOOL_FIELD("encrypted", Ec2Snapshot, encrypted),
        EC2_XML_LIST_FIELD("tagSet", Ec2Snapshot, tags, n_tags, Ec2Tag, &ec2_tag_schema,
                           EC2_XML_MAX_NESTED_ITEMS),
};

const Ec2XmlSchema ec2_snapshot_schema = {
        .size = sizeof(Ec2Snapshot),
        .fields = snapshot_fields,
        .n_fields = ELEMENTSOF(snapshot_fields),
        .init = snapshot_init,
        .finish = snapshot_finish,
};

void ec2_snapshot_done(Ec2Snapshot *s) {
        ec2_xml_item_done(&ec2_snapshot_schema, s);
}

static const Ec2XmlField snapshot_page_fields[] = {
        EC2_XML_STRING_FIELD("requestId", Ec2SnapshotPage, request_id),
        EC2_XML_STRING_FIELD("nextToken", Ec2SnapshotPage, next_token),
        EC2_XML_LIST_FIELD("snapshotSet", Ec2SnapshotPage, snapshots, n_snapshots, Ec2Snapshot,
                           &ec2_snapshot_schema, EC2_XML_MAX_ITEMS),
};

const Ec2XmlSchema ec2_snapshot_page_schema = {
        .size = sizeof(Ec2SnapshotPage),
        .fields = snapshot_page_fields,
        .n_fields = ELEMENTSOF(snapshot_page_fields),
};

int ec2_parse_describe_snapshots(const char *body, size_t len, Ec2SnapshotPage **ret) {
        Ec2SnapshotPage *p;
        int r;

        if (!ret)
                return -EINVAL;
        p = parse_page(body, len, EC2_XML_ROOTS("DescribeSnapshotsResponse"), &ec2_snapshot_page_schema, &r);
        if (!p)
                return r;
        *ret = p;
        return 0;
}

int ec2_parse_create_snapshots(const char *body, size_t len, Ec2SnapshotPage **ret) {
        _cleanup_(ec2_snapshot_page_freep) Ec2SnapshotPage *p = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        p = parse_page(body, len, EC2_XML_ROOTS("CreateSnapshotsResponse"), &ec2_snapshot_page_schema, &r);
        if (!p)
                return r;
        /* The answer to a write must say what it made; an empty set would
         * look like success while nothing can be followed or tagged. */
        if (p->n_snapshots == 0)
                return -EBADMSG;
        *ret = TAKE_PTR(p);
        return 0;
}

/* ---- DescribeSnapshots, streamed ---- */

#define STREAM_CHUNK (64U * 1024U)

typedef struct SnapshotStream {
        Ec2SnapshotFn fn;
        void *userdata;
        bool root_seen;
        bool in_item;
        bool in_tag;
        Ec2Snapshot item;
        size_t tags_cap;
        Ec2Tag tag;
        size_t n_items;
        char *next_token;
        char *request_id;
} SnapshotStream;

static void stream_item_reset(SnapshotStream *st) {
        ec2_snapshot_done(&st->item);
        ec2_tag_done(&st->tag);
        st->tags_cap = 0;
        snapshot_init(&st->item);
}

static int set_string(char **field, const char *text) {
        char *c = strdup(text);

        if (!c)
                return -ENOMEM;
        free(*field);
        *field = c;
        return 0;
}

static int stream_scalar(Ec2Snapshot *s, const char *name, const char *text) {
        static const struct {
                const char *name;
                size_t offset;
        } strings[] = {
                { "snapshotId", offsetof(Ec2Snapshot, id) },
                { "volumeId", offsetof(Ec2Snapshot, volume_id) },
                { "status", offsetof(Ec2Snapshot, state) },
                { "state", offsetof(Ec2Snapshot, state) },
                { "statusMessage", offsetof(Ec2Snapshot, state_message) },
                { "progress", offsetof(Ec2Snapshot, progress) },
                { "ownerId", offsetof(Ec2Snapshot, owner_id) },
                { "description", offsetof(Ec2Snapshot, description) },
        };

        for (size_t i = 0; i < ELEMENTSOF(strings); i++)
                if (strcmp(name, strings[i].name) == 0) {
                        /* A known scalar with children is not the shape we know. */
                        if (!text)
                                return -EBADMSG;
                        return set_string((char **) ((char *) s + strings[i].offset), text);
                }
        if (strcmp(name, "startTime") == 0) {
                if (!text || ec2_parse_timestamp(text, &s->start_time) < 0)
                        return -EBADMSG;
        } else if (strcmp(name, "volumeSize") == 0) {
                char *end;
                long v;

                if (!text || !*text || (*text != '-' && (*text < '0' || *text > '9')))
                        return -EBADMSG;
                errno = 0;
                v = strtol(text, &end, 10);
                if (errno != 0 || *end || v < INT_MIN || v > INT_MAX)
                        return -EBADMSG;
                s->volume_size = (int) v;
        } else if (strcmp(name, "encrypted") == 0) {
                if (!text || (strcmp(text, "true") != 0 && strcmp(text, "false") != 0))
                        return -EBADMSG;
                s->encrypted = strcmp(text, "true") == 0;
        }
        return 0;
}

static int stream_start(void *userdata, const char *const *path, size_t depth) {
        SnapshotStream *st = userdata;

        if (depth == 1) {
                if (strcmp(path[0], "DescribeSnapshotsResponse") != 0)
                        return -EBADMSG;
                st->root_seen = true;
                return 0;
        }
        if (depth == 3 && strcmp(path[1], "snapshotSet") == 0 && strcmp(path[2], "item") == 0) {
                if (st->n_items >= EC2_XML_MAX_ITEMS)
                        return -E2BIG;
                stream_item_reset(st);
                st->in_item = true;
        } else if (st->in_item && depth == 5 && strcmp(path[3], "tagSet") == 0 && strcmp(path[4], "item") == 0) {
                if (st->item.n_tags >= EC2_XML_MAX_NESTED_ITEMS)
                        return -E2BIG;
                ec2_tag_done(&st->tag);
                st->in_tag = true;
        }
        return 0;
}

static int stream_end(void *userdata, const char *const *path, size_t depth, const char *text, size_t text_len) {
        SnapshotStream *st = userdata;
        int r;

        (void) text_len;
        if (depth == 2) {
                if (strcmp(path[1], "requestId") == 0)
                        return text ? set_string(&st->request_id, text) : -EBADMSG;
                if (strcmp(path[1], "nextToken") == 0)
                        return text ? set_string(&st->next_token, text) : -EBADMSG;
                return 0;
        }
        if (!st->in_item)
                return 0;
        if (depth == 3) {
                /* The item is complete: check it as the typed parser does, hand it out, drop it. */
                st->in_item = false;
                if (!st->item.id || !*st->item.id)
                        return -EBADMSG;
                st->n_items++;
                r = st->fn(&st->item, st->userdata);
                stream_item_reset(st);
                return r < 0 ? r : 0;
        }
        if (depth == 4)
                return stream_scalar(&st->item, path[3], text);
        if (!st->in_tag)
                return 0;
        if (depth == 6) {
                /* Every field of ec2_tag_schema, so a streamed tag is the typed one. */
                if (strcmp(path[5], "key") == 0)
                        return text ? set_string(&st->tag.key, text) : -EBADMSG;
                if (strcmp(path[5], "value") == 0)
                        return text ? set_string(&st->tag.value, text) : -EBADMSG;
                if (strcmp(path[5], "resourceId") == 0)
                        return text ? set_string(&st->tag.resource_id, text) : -EBADMSG;
                if (strcmp(path[5], "resourceType") == 0)
                        return text ? set_string(&st->tag.resource_type, text) : -EBADMSG;
                return 0;
        }
        if (depth == 5) {
                Ec2Tag *n;

                st->in_tag = false;
                if (!st->tag.key)
                        return -EBADMSG;
                if (!st->tag.value && !(st->tag.value = strdup("")))
                        return -ENOMEM;
                if (st->item.n_tags == st->tags_cap) {
                        size_t cap = st->tags_cap ? st->tags_cap * 2 : 8;

                        n = realloc(st->item.tags, cap * sizeof(Ec2Tag));
                        if (!n)
                                return -ENOMEM;
                        st->item.tags = n;
                        st->tags_cap = cap;
                }
                st->item.tags[st->item.n_tags++] = st->tag;
                st->tag = (Ec2Tag) {};
        }
        return 0;
}

int ec2_parse_describe_snapshots_each(const char *body, size_t len, Ec2SnapshotFn fn, void *userdata,
                                      char **ret_next_token, char **ret_request_id) {
        static const XmlHandlers handlers = {
                .element_start = stream_start,
                .element_end = stream_end,
        };
        _cleanup_(xml_parser_freep) XmlParser *x = NULL;
        SnapshotStream st = { .fn = fn, .userdata = userdata };
        int r;

        if (!fn || (!body && len > 0))
                return -EINVAL;
        snapshot_init(&st.item);
        r = xml_parser_new(&x, &handlers, &st);
        /* In pieces: expat copies what it is fed into its own buffer, and a
         * page of 1,000 snapshots is 0.75 MiB. */
        for (size_t off = 0; r >= 0 && off < len; off += STREAM_CHUNK)
                r = xml_parser_feed(x, body + off, MIN(STREAM_CHUNK, len - off));
        if (r >= 0)
                r = xml_parser_finish(x);
        if (r >= 0 && !st.root_seen)
                r = -EBADMSG;
        stream_item_reset(&st);
        if (r < 0) {
                free(st.next_token);
                free(st.request_id);
                return r;
        }
        if (ret_next_token)
                *ret_next_token = TAKE_PTR(st.next_token);
        if (ret_request_id)
                *ret_request_id = TAKE_PTR(st.request_id);
        free(st.next_token);
        free(st.request_id);
        return 0;
}

Ec2SnapshotPage *ec2_snapshot_page_free(Ec2SnapshotPage *p) {
        ec2_xml_item_done(&ec2_snapshot_page_schema, p);
        free(p);
        return NULL;
}

/* ------------------------------------------------------------------------
 * Images
 * ------------------------------------------------------------------------ */

static void image_device_init(void *item) {
        Ec2ImageDevice *d = item;
        d->volume_size = -1;
}

static int image_device_finish(void *item) {
        Ec2ImageDevice *d = item;
        return d->device_name ? 0 : -EBADMSG;
}

static const Ec2XmlField image_device_fields[] = {
        EC2_XML_STRING_FIELD("deviceName", Ec2ImageDevice, device_name),
        EC2_XML_STRING_FIELD("ebs/snapshotId", Ec2ImageDevice, snapshot_id),
        EC2_XML_INT_FIELD("ebs/volumeSize", Ec2ImageDevice, volume_size),
};

const Ec2XmlSchema ec2_image_device_schema = {
        .size = sizeof(Ec2ImageDevice),
        .fields = image_device_fields,
        .n_fields = ELEMENTSOF(image_device_fields),
        .init = image_device_init,
        .finish = image_device_finish,
};

void ec2_image_device_done(Ec2ImageDevice *d) {
        ec2_xml_item_done(&ec2_image_device_schema, d);
}

static void image_init(void *item) {
        Ec2Image *i = item;
        i->creation_time = EC2_TIME_UNSET;
}

static int image_finish(void *item) {
        Ec2Image *i = item;
        time_t t;

        if (!i->id || !*i->id)
                return -EBADMSG;
        /* creationDate is a plain string in the model; nothing decides on
         * it, so an odd form is kept as text rather than failing the page. */
        if (i->creation_date && ec2_parse_timestamp(i->creation_date, &t) >= 0)
                i->creation_time = t;
        return 0;
}

static const Ec2XmlField image_fields[] = {
        EC2_XML_STRING_FIELD("imageId", Ec2Image, id),
        EC2_XML_STRING_FIELD("name", Ec2Image, name),
        EC2_XML_STRING_FIELD("imageState", Ec2Image, state),
        EC2_XML_STRING_FIELD("imageOwnerId", Ec2Image, owner_id),
        EC2_XML_STRING_FIELD("description", Ec2Image, description),
        EC2_XML_STRING_FIELD("creationDate", Ec2Image, creation_date),
        EC2_XML_STRING_FIELD("rootDeviceName", Ec2Image, root_device_name),
        EC2_XML_STRING_FIELD("stateReason/code", Ec2Image, state_reason_code),
        EC2_XML_STRING_FIELD("stateReason/message", Ec2Image, state_reason_message),
        EC2_XML_LIST_FIELD("blockDeviceMapping", Ec2Image, devices, n_devices, Ec2ImageDevice,
                           &ec2_image_device_schema, EC2_XML_MAX_NESTED_ITEMS),
        EC2_XML_LIST_FIELD("tagSet", Ec2Image, tags, n_tags, Ec2Tag, &ec2_tag_schema, EC2_XML_MAX_NESTED_ITEMS),
};

const Ec2XmlSchema ec2_image_schema = {
        .size = sizeof(Ec2Image),
        .fields = image_fields,
        .n_fields = ELEMENTSOF(image_fields),
        .init = image_init,
        .finish = image_finish,
};

void ec2_image_done(Ec2Image *i) {
        ec2_xml_item_done(&ec2_image_schema, i);
}

static const Ec2XmlField image_page_fields[] = {
        EC2_XML_STRING_FIELD("requestId", Ec2ImagePage, request_id),
        EC2_XML_STRING_FIELD("nextToken", Ec2ImagePage, next_token),
        EC2_XML_LIST_FIELD("imagesSet", Ec2ImagePage, images, n_images, Ec2Image, &ec2_image_schema,
                           EC2_XML_MAX_ITEMS),
};

const Ec2XmlSchema ec2_image_page_schema = {
        .size = sizeof(Ec2ImagePage),
        .fields = image_page_fields,
        .n_fields = ELEMENTSOF(image_page_fields),
};

int ec2_parse_describe_images(const char *body, size_t len, Ec2ImagePage **ret) {
        Ec2ImagePage *p;
        int r;

        if (!ret)
                return -EINVAL;
        p = parse_page(body, len, EC2_XML_ROOTS("DescribeImagesResponse"), &ec2_image_page_schema, &r);
        if (!p)
                return r;
        *ret = p;
        return 0;
}

Ec2ImagePage *ec2_image_page_free(Ec2ImagePage *p) {
        ec2_xml_item_done(&ec2_image_page_schema, p);
        free(p);
        return NULL;
}

/* ------------------------------------------------------------------------
 * Volumes
 * ------------------------------------------------------------------------ */

static const Ec2XmlField volume_attachment_fields[] = {
        EC2_XML_STRING_FIELD("instanceId", Ec2VolumeAttachment, instance_id),
        EC2_XML_STRING_FIELD("device", Ec2VolumeAttachment, device),
        EC2_XML_STRING_FIELD("status", Ec2VolumeAttachment, state),
        EC2_XML_BOOL_FIELD("deleteOnTermination", Ec2VolumeAttachment, delete_on_termination),
};

const Ec2XmlSchema ec2_volume_attachment_schema = {
        .size = sizeof(Ec2VolumeAttachment),
        .fields = volume_attachment_fields,
        .n_fields = ELEMENTSOF(volume_attachment_fields),
};

void ec2_volume_attachment_done(Ec2VolumeAttachment *a) {
        ec2_xml_item_done(&ec2_volume_attachment_schema, a);
}

static void volume_init(void *item) {
        Ec2Volume *v = item;

        v->size = -1;
        v->create_time = EC2_TIME_UNSET;
}

static int volume_finish(void *item) {
        Ec2Volume *v = item;
        return v->id && *v->id ? 0 : -EBADMSG;
}

static const Ec2XmlField volume_fields[] = {
        EC2_XML_STRING_FIELD("volumeId", Ec2Volume, id),
        EC2_XML_STRING_FIELD("status", Ec2Volume, state),
        EC2_XML_STRING_FIELD("availabilityZone", Ec2Volume, availability_zone),
        EC2_XML_STRING_FIELD("snapshotId", Ec2Volume, snapshot_id),
        EC2_XML_STRING_FIELD("volumeType", Ec2Volume, volume_type),
        EC2_XML_INT_FIELD("size", Ec2Volume, size),
        EC2_XML_TIME_FIELD("createTime", Ec2Volume, create_time),
        EC2_XML_BOOL_FIELD("encrypted", Ec2Volume, encrypted),
        EC2_XML_LIST_FIELD("attachmentSet", Ec2Volume, attachments, n_attachments, Ec2VolumeAttachment,
                           &ec2_volume_attachment_schema, EC2_XML_MAX_NESTED_ITEMS),
        EC2_XML_LIST_FIELD("tagSet", Ec2Volume, tags, n_tags, Ec2Tag, &ec2_tag_schema, EC2_XML_MAX_NESTED_ITEMS),
};

const Ec2XmlSchema ec2_volume_schema = {
        .size = sizeof(Ec2Volume),
        .fields = volume_fields,
        .n_fields = ELEMENTSOF(volume_fields),
        .init = volume_init,
        .finish = volume_finish,
};

void ec2_volume_done(Ec2Volume *v) {
        ec2_xml_item_done(&ec2_volume_schema, v);
}

static const Ec2XmlField volume_page_fields[] = {
        EC2_XML_STRING_FIELD("requestId", Ec2VolumePage, request_id),
        EC2_XML_STRING_FIELD("nextToken", Ec2VolumePage, next_token),
        EC2_XML_LIST_FIELD("volumeSet", Ec2VolumePage, volumes, n_volumes, Ec2Volume, &ec2_volume_schema,
                           EC2_XML_MAX_ITEMS),
};

const Ec2XmlSchema ec2_volume_page_schema = {
        .size = sizeof(Ec2VolumePage),
        .fields = volume_page_fields,
        .n_fields = ELEMENTSOF(volume_page_fields),
};

int ec2_parse_describe_volumes(const char *body, size_t len, Ec2VolumePage **ret) {
        Ec2VolumePage *p;
        int r;

        if (!ret)
                return -EINVAL;
        p = parse_page(body, len, EC2_XML_ROOTS("DescribeVolumesResponse"), &ec2_volume_page_schema, &r);
        if (!p)
                return r;
        *ret = p;
        return 0;
}

Ec2VolumePage *ec2_volume_page_free(Ec2VolumePage *p) {
        ec2_xml_item_done(&ec2_volume_page_schema, p);
        free(p);
        return NULL;
}

/* ------------------------------------------------------------------------
 * One new id: CreateImage, CopyImage, CopySnapshot
 * ------------------------------------------------------------------------ */

typedef struct NewIdDocument {
        char *request_id;
        char *image_id;
        char *snapshot_id;
} NewIdDocument;

static const Ec2XmlField new_id_fields[] = {
        EC2_XML_STRING_FIELD("requestId", NewIdDocument, request_id),
        EC2_XML_STRING_FIELD("imageId", NewIdDocument, image_id),
        EC2_XML_STRING_FIELD("snapshotId", NewIdDocument, snapshot_id),
};

static const Ec2XmlSchema new_id_schema = {
        .size = sizeof(NewIdDocument),
        .fields = new_id_fields,
        .n_fields = ELEMENTSOF(new_id_fields),
};

static void new_id_document_done(NewIdDocument *d) {
        ec2_xml_item_done(&new_id_schema, d);
}

static int parse_new_id(const char *body, size_t len, const char *root, bool image, char **ret_id,
                        char **ret_request_id) {
        _cleanup_(new_id_document_done) NewIdDocument doc = {};
        char **id;
        int r;

        r = ec2_xml_parse(body, len, (const char *const[]) { root, NULL }, &new_id_schema, &doc);
        if (r < 0)
                return r;
        id = image ? &doc.image_id : &doc.snapshot_id;
        if (!*id || !**id || !doc.request_id || !*doc.request_id)
                return -EBADMSG;
        if (ret_id)
                *ret_id = TAKE_PTR(*id);
        if (ret_request_id)
                *ret_request_id = TAKE_PTR(doc.request_id);
        return 0;
}

int ec2_parse_create_image(const char *body, size_t len, char **ret_id, char **ret_request_id) {
        return parse_new_id(body, len, "CreateImageResponse", true, ret_id, ret_request_id);
}

int ec2_parse_copy_image(const char *body, size_t len, char **ret_id, char **ret_request_id) {
        return parse_new_id(body, len, "CopyImageResponse", true, ret_id, ret_request_id);
}

int ec2_parse_copy_snapshot(const char *body, size_t len, char **ret_id, char **ret_request_id) {
        return parse_new_id(body, len, "CopySnapshotResponse", false, ret_id, ret_request_id);
}
