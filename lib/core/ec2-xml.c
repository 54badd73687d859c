/* SPDX-License-Identifier: MIT */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "cdp/ec2-xml.h"
#include "cdp/xml.h"

/* ------------------------------------------------------------------------
 * Timestamps
 * ------------------------------------------------------------------------ */

static bool is_leap_year(int y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Leap years in [1, y). */
static int64_t leaps_before(int y) {
        y--;
        return y / 4 - y / 100 + y / 400;
}

/* Parse exactly n decimal digits. */
static bool parse_digits(const char **s, size_t n, int *ret) {
        int v = 0;

        for (size_t i = 0; i < n; i++) {
                char c = (*s)[i];
                if (c < '0' || c > '9')
                        return false;
                v = v * 10 + (c - '0');
        }
        *s += n;
        *ret = v;
        return true;
}

static bool parse_char(const char **s, char c) {
        if (**s != c)
                return false;
        (*s)++;
        return true;
}

int ec2_parse_timestamp(const char *s, time_t *ret) {
        static const int cumulative_days[12] = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 };
        static const int month_days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        int year, month, day, hour, minute, second, mdays;
        int64_t days, t;

        if (!s || !ret)
                return -EINVAL;

        if (!parse_digits(&s, 4, &year) || !parse_char(&s, '-') ||
            !parse_digits(&s, 2, &month) || !parse_char(&s, '-') ||
            !parse_digits(&s, 2, &day) || !parse_char(&s, 'T') ||
            !parse_digits(&s, 2, &hour) || !parse_char(&s, ':') ||
            !parse_digits(&s, 2, &minute) || !parse_char(&s, ':') ||
            !parse_digits(&s, 2, &second))
                return -EINVAL;

        if (*s == '.') {
                size_t n = 0;

                s++;
                while (s[n] >= '0' && s[n] <= '9')
                        n++;
                if (n < 1 || n > 9)
                        return -EINVAL;
                s += n;
        }
        if (!parse_char(&s, 'Z') || *s != '\0')
                return -EINVAL;

        if (year < 1970 || month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59)
                return -EINVAL;
        mdays = month_days[month - 1] + (month == 2 && is_leap_year(year));
        if (day < 1 || day > mdays)
                return -EINVAL;

        days = (int64_t) 365 * (year - 1970) + leaps_before(year) - leaps_before(1970) +
               cumulative_days[month - 1] + (month > 2 && is_leap_year(year)) + (day - 1);
        t = days * 86400 + hour * 3600 + minute * 60 + second;
        if ((int64_t) (time_t) t != t)
                return -ERANGE;

        *ret = (time_t) t;
        return 0;
}

/* ------------------------------------------------------------------------
 * Schema engine: expat events -> structs through Ec2XmlField tables
 * ------------------------------------------------------------------------ */

typedef enum FrameType {
        FRAME_ITEM,     /* inside the element a struct stands for */
        FRAME_LIST,     /* inside a list container, waiting for <item> children */
} FrameType;

typedef struct Frame {
        FrameType type;
        size_t depth;                   /* depth of the element that opened the frame */
        const Ec2XmlSchema *schema;     /* ITEM */
        void *item;                     /* ITEM; stays valid: its array only grows while
                                         * its LIST frame is on top, i.e. after it is closed */
        const Ec2XmlField *field;       /* LIST */
        void *owner;                    /* LIST: struct holding the array and count */
} Frame;

struct Ec2XmlParser {
        XmlParser *xml;
        const char *const *roots;
        const Ec2XmlSchema *schema;
        void *root;                     /* owned until moved out by finish */

        Frame frames[XML_PARSER_DEPTH_MAX + 1];
        size_t n_frames;
        size_t n_items;                 /* all list items so far */
        bool done;
};

static void *member(void *item, size_t offset) {
        return (char *) item + offset;
}

/* Pointer members are read and written through memcpy, since the member is
 * typed (Ec2Tag *, ...) and the engine only knows it as void *. */
static void *get_array(void *owner, const Ec2XmlField *f) {
        void *a;
        memcpy(&a, member(owner, f->offset), sizeof(a));
        return a;
}

static void set_array(void *owner, const Ec2XmlField *f, void *a) {
        memcpy(member(owner, f->offset), &a, sizeof(a));
}

void ec2_xml_item_done(const Ec2XmlSchema *schema, void *item) {
        if (!schema || !item)
                return;

        for (size_t i = 0; i < schema->n_fields; i++) {
                const Ec2XmlField *f = &schema->fields[i];

                switch (f->kind) {
                case EC2_XML_STRING: {
                        char **s = member(item, f->offset);
                        free(*s);
                        *s = NULL;
                        break;
                }
                case EC2_XML_LIST: {
                        size_t *n = member(item, f->count_offset);
                        char *a = get_array(item, f);

                        for (size_t j = 0; j < *n; j++)
                                ec2_xml_item_done(f->item, a + j * f->item_size);
                        free(a);
                        set_array(item, f, NULL);
                        *n = 0;
                        break;
                }
                case EC2_XML_BOOL:
                case EC2_XML_INT:
                case EC2_XML_TIME:
                        break;
                }
        }
        memset(item, 0, schema->size);
}

static int parse_int(const char *s, int *ret) {
        bool neg = false;
        int64_t v = 0;

        if (*s == '-') {
                neg = true;
                s++;
        }
        if (*s == '\0')
                return -EBADMSG;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EBADMSG;
                v = v * 10 + (*s - '0');
                if (v > (int64_t) INT_MAX + 1)
                        return -EBADMSG;
        }
        if (neg)
                v = -v;
        if (v > INT_MAX || v < INT_MIN)
                return -EBADMSG;
        *ret = (int) v;
        return 0;
}

static int field_set(const Ec2XmlField *f, void *item, const char *text) {
        int r;

        /* A known scalar that arrives with child elements is not the shape
         * we know; guessing would be worse than failing. */
        if (!text)
                return -EBADMSG;

        switch (f->kind) {
        case EC2_XML_STRING: {
                char **s = member(item, f->offset);
                char *copy = strdup(text);

                if (!copy)
                        return -ENOMEM;
                free(*s);
                *s = copy;
                return 0;
        }
        case EC2_XML_BOOL: {
                bool *b = member(item, f->offset);

                if (strcmp(text, "true") == 0)
                        *b = true;
                else if (strcmp(text, "false") == 0)
                        *b = false;
                else
                        return -EBADMSG;
                return 0;
        }
        case EC2_XML_INT: {
                int v;

                r = parse_int(text, &v);
                if (r < 0)
                        return r;
                *(int *) member(item, f->offset) = v;
                return 0;
        }
        case EC2_XML_TIME: {
                time_t t;

                r = ec2_parse_timestamp(text, &t);
                if (r < 0)
                        return -EBADMSG;
                *(time_t *) member(item, f->offset) = t;
                return 0;
        }
        case EC2_XML_LIST:
                break;
        }
        return -EINVAL;
}

static bool is_error_root(const char *name) {
        return strcmp(name, "Response") == 0 || strcmp(name, "ErrorResponse") == 0 ||
               strcmp(name, "Error") == 0;
}

static bool root_allowed(const char *const *roots, const char *name) {
        if (!roots)
                return !is_error_root(name);
        for (; *roots; roots++)
                if (strcmp(*roots, name) == 0)
                        return true;
        return false;
}

static int frame_push(Ec2XmlParser *p, Frame f) {
        /* Every frame opens at a strictly deeper element than the one below
         * it and xml.c caps the depth, so this is a second lock only. */
        if (p->n_frames >= ELEMENTSOF(p->frames))
                return -E2BIG;
        p->frames[p->n_frames++] = f;
        return 0;
}

/* Array capacity is implied by the count: 4, then doubling at powers of two. */
static bool array_full(size_t n) {
        return n == 0 || (n >= 4 && (n & (n - 1)) == 0);
}

static int list_append(Ec2XmlParser *p, const Frame *list) {
        const Ec2XmlField *f = list->field;
        size_t *n = member(list->owner, f->count_offset);
        char *a = get_array(list->owner, f);
        void *item;

        /* A table whose element size disagrees with its schema is a bug;
         * refuse rather than write past the element. */
        if (f->item_size != f->item->size)
                return -EINVAL;
        if (*n >= f->max_items || p->n_items >= EC2_XML_MAX_TOTAL_ITEMS)
                return -E2BIG;

        if (array_full(*n)) {
                size_t cap = *n == 0 ? 4 : *n * 2;

                if (cap > SIZE_MAX / f->item_size)
                        return -ENOMEM;
                a = realloc(a, cap * f->item_size);
                if (!a)
                        return -ENOMEM;
                set_array(list->owner, f, a);
        }

        item = a + *n * f->item_size;
        memset(item, 0, f->item_size);
        if (f->item->init)
                f->item->init(item);
        (*n)++;
        p->n_items++;

        return frame_push(p, (Frame) {
                .type = FRAME_ITEM,
                .depth = list->depth + 1,
                .schema = f->item,
                .item = item,
        });
}

static int on_element_start(void *userdata, const char *const *path, size_t depth) {
        Ec2XmlParser *p = userdata;
        const Frame *top;

        if (depth == 1) {
                if (!root_allowed(p->roots, path[0]))
                        return -EBADMSG;
                return frame_push(p, (Frame) {
                        .type = FRAME_ITEM,
                        .depth = 1,
                        .schema = p->schema,
                        .item = p->root,
                });
        }

        /* expat reports no element after the root closed; stay safe anyway. */
        if (p->n_frames == 0)
                return -EBADMSG;
        top = &p->frames[p->n_frames - 1];

        if (top->type == FRAME_LIST) {
                const char *name = top->field->item_name ?: "item";

                if (depth == top->depth + 1 && strcmp(path[depth - 1], name) == 0)
                        return list_append(p, top);
                return 0;
        }

        for (size_t i = 0; i < top->schema->n_fields; i++) {
                const Ec2XmlField *f = &top->schema->fields[i];

                if (f->kind != EC2_XML_LIST || !xml_path_match(path, depth, top->depth, f->path))
                        continue;
                return frame_push(p, (Frame) {
                        .type = FRAME_LIST,
                        .depth = depth,
                        .field = f,
                        .owner = top->item,
                });
        }
        return 0;
}

static int on_element_end(void *userdata, const char *const *path, size_t depth,
                          const char *text, size_t text_len) {
        Ec2XmlParser *p = userdata;
        const Frame *top;

        (void) text_len;

        if (p->n_frames == 0)
                return -EBADMSG;
        top = &p->frames[p->n_frames - 1];

        if (top->depth == depth) {
                Frame f = *top;

                p->n_frames--;
                if (depth == 1)
                        p->done = true;
                if (f.type == FRAME_ITEM && f.schema->finish)
                        return f.schema->finish(f.item);
                return 0;
        }

        if (top->type != FRAME_ITEM)
                return 0;

        for (size_t i = 0; i < top->schema->n_fields; i++) {
                const Ec2XmlField *f = &top->schema->fields[i];

                if (f->kind == EC2_XML_LIST || !xml_path_match(path, depth, top->depth, f->path))
                        continue;
                return field_set(f, top->item, text);
        }
        return 0;
}

Ec2XmlParser *ec2_xml_parser_free(Ec2XmlParser *p) {
        if (!p)
                return NULL;
        xml_parser_free(p->xml);
        if (p->root) {
                ec2_xml_item_done(p->schema, p->root);
                free(p->root);
        }
        free(p);
        return NULL;
}

int ec2_xml_parser_new(Ec2XmlParser **ret, const char *const *roots, const Ec2XmlSchema *schema) {
        static const XmlHandlers handlers = {
                .element_start = on_element_start,
                .element_end = on_element_end,
        };
        _cleanup_(ec2_xml_parser_freep) Ec2XmlParser *p = NULL;
        int r;

        if (!ret || !schema || schema->size == 0)
                return -EINVAL;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->roots = roots;
        p->schema = schema;

        p->root = calloc(1, schema->size);
        if (!p->root)
                return -ENOMEM;
        if (schema->init)
                schema->init(p->root);

        r = xml_parser_new(&p->xml, &handlers, p);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(p);
        return 0;
}

int ec2_xml_parser_feed(Ec2XmlParser *p, const void *buf, size_t len) {
        if (!p)
                return -EINVAL;
        return xml_parser_feed(p->xml, buf, len);
}

int ec2_xml_parser_finish(Ec2XmlParser *p, void *result) {
        int r;

        if (!p || !result)
                return -EINVAL;
        if (!p->root)
                return -EINVAL;

        r = xml_parser_finish(p->xml);
        if (r < 0)
                return r;
        if (!p->done)
                return -EBADMSG;

        memcpy(result, p->root, p->schema->size);
        free(p->root);
        p->root = NULL;
        return 0;
}

int ec2_xml_parse(const char *body, size_t len, const char *const *roots,
                  const Ec2XmlSchema *schema, void *result) {
        _cleanup_(ec2_xml_parser_freep) Ec2XmlParser *p = NULL;
        int r;

        r = ec2_xml_parser_new(&p, roots, schema);
        if (r < 0)
                return r;
        r = ec2_xml_parser_feed(p, body, len);
        if (r < 0)
                return r;
        return ec2_xml_parser_finish(p, result);
}

/* Allocate a page struct and parse into it. */
static int parse_new(const char *body, size_t len, const char *const *roots,
                     const Ec2XmlSchema *schema, void **ret) {
        _cleanup_free_ void *page = NULL;
        int r;

        page = calloc(1, schema->size);
        if (!page)
                return -ENOMEM;
        r = ec2_xml_parse(body, len, roots, schema, page);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(page);
        return 0;
}

static int set_default_string(char **s, const char *value) {
        if (*s)
                return 0;
        *s = strdup(value);
        return *s ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------------------
 * Tags
 * ------------------------------------------------------------------------ */

static int tag_finish(void *item) {
        Ec2Tag *t = item;

        if (!t->key)
                return -EBADMSG;
        /* A tag always has a value; AWS writes an empty one as <value/> and
         * some tools leave it out. */
        return set_default_string(&t->value, "");
}

static const Ec2XmlField tag_fields[] = {
        EC2_XML_STRING_FIELD("resourceId", Ec2Tag, resource_id),
        EC2_XML_STRING_FIELD("resourceType", Ec2Tag, resource_type),
        EC2_XML_STRING_FIELD("key", Ec2Tag, key),
        EC2_XML_STRING_FIELD("value", Ec2Tag, value),
};

const Ec2XmlSchema ec2_tag_schema = {
        .size = sizeof(Ec2Tag),
        .fields = tag_fields,
        .n_fields = ELEMENTSOF(tag_fields),
        .finish = tag_finish,
};

void ec2_tag_done(Ec2Tag *t) {
        ec2_xml_item_done(&ec2_tag_schema, t);
}

const char *ec2_tags_get(const Ec2Tag *tags, size_t n_tags, const char *key) {
        if (!key)
                return NULL;
        for (size_t i = 0; i < n_tags; i++)
                if (tags[i].key && strcmp(tags[i].key, key) == 0)
                        return tags[i].value;
        return NULL;
}

static const Ec2XmlField tag_page_fields[] = {
        EC2_XML_STRING_FIELD("requestId", Ec2TagPage, request_id),
        EC2_XML_STRING_FIELD("nextToken", Ec2TagPage, next_token),
        EC2_XML_LIST_FIELD("tagSet", Ec2TagPage, tags, n_tags, Ec2Tag, &ec2_tag_schema, EC2_XML_MAX_ITEMS),
};

const Ec2XmlSchema ec2_tag_page_schema = {
        .size = sizeof(Ec2TagPage),
        .fields = tag_page_fields,
        .n_fields = ELEMENTSOF(tag_page_fields),
};

int ec2_parse_describe_tags(const char *body, size_t len, Ec2TagPage **ret) {
        void *page;
        int r;

        if (!ret)
                return -EINVAL;
        r = parse_new(body, len, EC2_XML_ROOTS("DescribeTagsResponse"), &ec2_tag_page_schema, &page);
        if (r < 0)
                return r;
        *ret = page;
        return 0;
}

Ec2TagPage *ec2_tag_page_free(Ec2TagPage *p) {
        ec2_xml_item_done(&ec2_tag_page_schema, p);
        free(p);
        return NULL;
}

/* ------------------------------------------------------------------------
 * Network interfaces
 * ------------------------------------------------------------------------ */

static int private_ip_finish(void *item) {
        Ec2PrivateIp *ip = item;
        return ip->address ? 0 : -EBADMSG;
}

static const Ec2XmlField private_ip_fields[] = {
        EC2_XML_STRING_FIELD("privateIpAddress", Ec2PrivateIp, address),
        EC2_XML_BOOL_FIELD("primary", Ec2PrivateIp, primary),
        EC2_XML_STRING_FIELD("association/publicIp", Ec2PrivateIp, public_ip),
        EC2_XML_STRING_FIELD("association/allocationId", Ec2PrivateIp, allocation_id),
};

const Ec2XmlSchema ec2_private_ip_schema = {
        .size = sizeof(Ec2PrivateIp),
        .fields = private_ip_fields,
        .n_fields = ELEMENTSOF(private_ip_fields),
        .finish = private_ip_finish,
};

void ec2_private_ip_done(Ec2PrivateIp *ip) {
        ec2_xml_item_done(&ec2_private_ip_schema, ip);
}

static void network_interface_init(void *item) {
        Ec2NetworkInterface *ni = item;

        ni->device_index = -1;
        /* Source/destination checking is on unless turned off; assuming that
         * when the element is missing errs towards an extra (idempotent)
         * ModifyNetworkInterfaceAttribute rather than a skipped one. */
        ni->source_dest_check = true;
}

static int network_interface_finish(void *item) {
        Ec2NetworkInterface *ni = item;
        return ni->id ? 0 : -EBADMSG;
}

static const Ec2XmlField network_interface_fields[] = {
        EC2_XML_STRING_FIELD("networkInterfaceId", Ec2NetworkInterface, id),
        EC2_XML_STRING_FIELD("macAddress", Ec2NetworkInterface, mac),
        EC2_XML_STRING_FIELD("privateIpAddress", Ec2NetworkInterface, private_ip),
        EC2_XML_STRING_FIELD("subnetId", Ec2NetworkInterface, subnet_id),
        EC2_XML_STRING_FIELD("vpcId", Ec2NetworkInterface, vpc_id),
        EC2_XML_STRING_FIELD("availabilityZone", Ec2NetworkInterface, availability_zone),
        EC2_XML_STRING_FIELD("status", Ec2NetworkInterface, status),
        EC2_XML_STRING_FIELD("description", Ec2NetworkInterface, description),
        EC2_XML_STRING_FIELD("attachment/attachmentId", Ec2NetworkInterface, attachment_id),
        EC2_XML_STRING_FIELD("attachment/instanceId", Ec2NetworkInterface, attached_instance_id),
        EC2_XML_INT_FIELD("attachment/deviceIndex", Ec2NetworkInterface, device_index),
        EC2_XML_STRING_FIELD("association/publicIp", Ec2NetworkInterface, public_ip),
        EC2_XML_STRING_FIELD("association/allocationId", Ec2NetworkInterface, allocation_id),
        EC2_XML_STRING_FIELD("association/associationId", Ec2NetworkInterface, association_id),
        EC2_XML_BOOL_FIELD("sourceDestCheck", Ec2NetworkInterface, source_dest_check),
        EC2_XML_LIST_FIELD("privateIpAddressesSet", Ec2NetworkInterface, private_ips, n_private_ips,
                           Ec2PrivateIp, &ec2_private_ip_schema, EC2_XML_MAX_NESTED_ITEMS),
        EC2_XML_LIST_FIELD("tagSet", Ec2NetworkInterface, tags, n_tags,
                           Ec2Tag, &ec2_tag_schema, EC2_XML_MAX_NESTED_ITEMS),
};

const Ec2XmlSchema ec2_network_interface_schema = {
        .size = sizeof(Ec2NetworkInterface),
        .fields = network_interface_fields,
        .n_fields = ELEMENTSOF(network_interface_fields),
        .init = network_interface_init,
        .finish = network_interface_finish,
};

void ec2_network_interface_done(Ec2NetworkInterface *ni) {
        ec2_xml_item_done(&ec2_network_interface_schema, ni);
}

static const Ec2XmlField interface_page_fields[] = {
        EC2_XML_STRING_FIELD("requestId", Ec2InterfacePage, request_id),
        EC2_XML_STRING_FIELD("nextToken", Ec2InterfacePage, next_token),
        EC2_XML_LIST_FIELD("networkInterfaceSet", Ec2InterfacePage, interfaces, n_interfaces,
                           Ec2NetworkInterface, &ec2_network_interface_schema, EC2_XML_MAX_ITEMS),
};

const Ec2XmlSchema ec2_interface_page_schema = {
        .size = sizeof(Ec2InterfacePage),
        .fields = interface_page_fields,
        .n_fields = ELEMENTSOF(interface_page_fields),
};

int ec2_parse_describe_network_interfaces(const char *body, size_t len, Ec2InterfacePage **ret) {
        void *page;
        int r;

        if (!ret)
                return -EINVAL;
        r = parse_new(body, len, EC2_XML_ROOTS("DescribeNetworkInterfacesResponse"),
                      &ec2_interface_page_schema, &page);
        if (r < 0)
                return r;
        *ret = page;
        return 0;
}

Ec2InterfacePage *ec2_interface_page_free(Ec2InterfacePage *p) {
        ec2_xml_item_done(&ec2_interface_page_schema, p);
        free(p);
        return NULL;
}

/* ------------------------------------------------------------------------
 * Instances
 * ------------------------------------------------------------------------ */

static int block_device_finish(void *item) {
        Ec2BlockDevice *b = item;
        return b->device_name ? 0 : -EBADMSG;
}

static const Ec2XmlField block_device_fields[] = {
        EC2_XML_STRING_FIELD("deviceName", Ec2BlockDevice, device_name),
        EC2_XML_STRING_FIELD("ebs/volumeId", Ec2BlockDevice, volume_id),
        EC2_XML_STRING_FIELD("ebs/status", Ec2BlockDevice, status),
        EC2_XML_BOOL_FIELD("ebs/deleteOnTermination", Ec2BlockDevice, delete_on_termination),
};

const Ec2XmlSchema ec2_block_device_schema = {
        .size = sizeof(Ec2BlockDevice),
        .fields = block_device_fields,
        .n_fields = ELEMENTSOF(block_device_fields),
        .finish = block_device_finish,
};

void ec2_block_device_done(Ec2BlockDevice *b) {
        ec2_xml_item_done(&ec2_block_device_schema, b);
}

static void instance_init(void *item) {
        Ec2Instance *i = item;
        i->launch_time = EC2_TIME_UNSET;
}

static int instance_finish(void *item) {
        Ec2Instance *i = item;
        int r;

        if (!i->id)
                return -EBADMSG;
        /* An instance's own interfaces omit attachment/instanceId: it is the
         * instance itself. Fill it in so both describe calls look alike. */
        for (size_t k = 0; k < i->n_interfaces; k++) {
                r = set_default_string(&i->interfaces[k].attached_instance_id, i->id);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const Ec2XmlField instance_fields[] = {
        EC2_XML_STRING_FIELD("instanceId", Ec2Instance, id),
        EC2_XML_STRING_FIELD("imageId", Ec2Instance, image_id),
        EC2_XML_STRING_FIELD("instanceType", Ec2Instance, instance_type),
        EC2_XML_STRING_FIELD("instanceState/name", Ec2Instance, state),
        EC2_XML_STRING_FIELD("placement/availabilityZone", Ec2Instance, availability_zone),
        EC2_XML_STRING_FIELD("privateIpAddress", Ec2Instance, private_ip),
        EC2_XML_STRING_FIELD("ipAddress", Ec2Instance, public_ip),
        EC2_XML_STRING_FIELD("subnetId", Ec2Instance, subnet_id),
        EC2_XML_STRING_FIELD("vpcId", Ec2Instance, vpc_id),
        EC2_XML_STRING_FIELD("rootDeviceName", Ec2Instance, root_device_name),
        EC2_XML_STRING_FIELD("rootDeviceType", Ec2Instance, root_device_type),
        EC2_XML_TIME_FIELD("launchTime", Ec2Instance, launch_time),
        EC2_XML_LIST_FIELD("tagSet", Ec2Instance, tags, n_tags,
                           Ec2Tag, &ec2_tag_schema, EC2_XML_MAX_NESTED_ITEMS),
        EC2_XML_LIST_FIELD("networkInterfaceSet", Ec2Instance, interfaces, n_interfaces,
                           Ec2NetworkInterface, &ec2_network_interface_schema, EC2_XML_MAX_NESTED_ITEMS),
        EC2_XML_LIST_FIELD("blockDeviceMapping", Ec2Instance, block_devices, n_block_devices,
                           Ec2BlockDevice, &ec2_block_device_schema, EC2_XML_MAX_NESTED_ITEMS),
};

const Ec2XmlSchema ec2_instance_schema = {
        .size = sizeof(Ec2Instance),
        .fields = instance_fields,
        .n_fields = ELEMENTSOF(instance_fields),
        .init = instance_init,
        .finish = instance_finish,
};

void ec2_instance_done(Ec2Instance *i) {
        ec2_xml_item_done(&ec2_instance_schema, i);
}

static const Ec2XmlField instance_page_fields[] = {
        EC2_XML_STRING_FIELD("requestId", Ec2InstancePage, request_id),
        EC2_XML_STRING_FIELD("nextToken", Ec2InstancePage, next_token),
        /* Reservations carry nothing cdpd needs: flatten through them. */
        EC2_XML_LIST_FIELD("reservationSet/item/instancesSet", Ec2InstancePage, instances, n_instances,
                           Ec2Instance, &ec2_instance_schema, EC2_XML_MAX_ITEMS),
};

const Ec2XmlSchema ec2_instance_page_schema = {
        .size = sizeof(Ec2InstancePage),
        .fields = instance_page_fields,
        .n_fields = ELEMENTSOF(instance_page_fields),
};

int ec2_parse_describe_instances(const char *body, size_t len, Ec2InstancePage **ret) {
        void *page;
        int r;

        if (!ret)
                return -EINVAL;
        r = parse_new(body, len, EC2_XML_ROOTS("DescribeInstancesResponse"),
                      &ec2_instance_page_schema, &page);
        if (r < 0)
                return r;
        *ret = page;
        return 0;
}

Ec2InstancePage *ec2_instance_page_free(Ec2InstancePage *p) {
        ec2_xml_item_done(&ec2_instance_page_schema, p);
        free(p);
        return NULL;
}

/* ------------------------------------------------------------------------
 * Errors and simple answers
 * ------------------------------------------------------------------------ */

typedef struct ErrorEntry {
        char *code;
        char *message;
} ErrorEntry;

typedef struct ErrorDocument {
        ErrorEntry *errors;             /* <Response><Errors><Error>... */
        size_t n_errors;
        char *code;                     /* <ErrorResponse><Error>... and a bare <Error> */
        char *message;
        char *request_id;
} ErrorDocument;

static const Ec2XmlField error_entry_fields[] = {
        EC2_XML_STRING_FIELD("Code", ErrorEntry, code),
        EC2_XML_STRING_FIELD("Message", ErrorEntry, message),
};

static const Ec2XmlSchema error_entry_schema = {
        .size = sizeof(ErrorEntry),
        .fields = error_entry_fields,
        .n_fields = ELEMENTSOF(error_entry_fields),
};

static const Ec2XmlField error_document_fields[] = {
        EC2_XML_LIST_FIELD_NAMED("Errors", ErrorDocument, errors, n_errors, ErrorEntry,
                                 &error_entry_schema, EC2_XML_MAX_NESTED_ITEMS, "Error"),
        EC2_XML_STRING_FIELD("Error/Code", ErrorDocument, code),
        EC2_XML_STRING_FIELD("Error/Message", ErrorDocument, message),
        EC2_XML_STRING_FIELD("Code", ErrorDocument, code),
        EC2_XML_STRING_FIELD("Message", ErrorDocument, message),
        /* EC2 spells it RequestID; the ErrorResponse shape RequestId. */
        EC2_XML_STRING_FIELD("RequestID", ErrorDocument, request_id),
        EC2_XML_STRING_FIELD("RequestId", ErrorDocument, request_id),
};

static const Ec2XmlSchema error_document_schema = {
        .size = sizeof(ErrorDocument),
        .fields = error_document_fields,
        .n_fields = ELEMENTSOF(error_document_fields),
};

static void error_document_done(ErrorDocument *d) {
        ec2_xml_item_done(&error_document_schema, d);
}

int ec2_parse_error(const char *body, size_t len, Ec2Error *ret) {
        _cleanup_(error_document_done) ErrorDocument doc = {};
        char **code, **message;
        int r;

        if (!ret)
                return -EINVAL;

        r = ec2_xml_parse(body, len, EC2_XML_ROOTS("Response", "ErrorResponse", "Error"),
                          &error_document_schema, &doc);
        if (r < 0)
                return r;

        if (doc.n_errors > 0) {
                code = &doc.errors[0].code;
                message = &doc.errors[0].message;
        } else {
                code = &doc.code;
                message = &doc.message;
        }
        if (!*code)
                return -EBADMSG;

        *ret = (Ec2Error) {
                .code = TAKE_PTR(*code),
                .message = TAKE_PTR(*message),
                .request_id = TAKE_PTR(doc.request_id),
        };
        return 0;
}

void ec2_error_done(Ec2Error *e) {
        if (!e)
                return;
        free(e->code);
        free(e->message);
        free(e->request_id);
        *e = (Ec2Error) {};
}

typedef struct SimpleDocument {
        char *request_id;
        char *ret;
} SimpleDocument;

static const Ec2XmlField simple_document_fields[] = {
        EC2_XML_STRING_FIELD("requestId", SimpleDocument, request_id),
        EC2_XML_STRING_FIELD("return", SimpleDocument, ret),
};

static const Ec2XmlSchema simple_document_schema = {
        .size = sizeof(SimpleDocument),
        .fields = simple_document_fields,
        .n_fields = ELEMENTSOF(simple_document_fields),
};

static void simple_document_done(SimpleDocument *d) {
        ec2_xml_item_done(&simple_document_schema, d);
}

int ec2_parse_request_id(const char *body, size_t len, char **ret_request_id) {
        _cleanup_(simple_document_done) SimpleDocument doc = {};
        int r;

        if (!ret_request_id)
                return -EINVAL;

        r = ec2_xml_parse(body, len, NULL, &simple_document_schema, &doc);
        if (r < 0)
                return r;
        if (!doc.request_id)
                return -EBADMSG;

        *ret_request_id = TAKE_PTR(doc.request_id);
        return 0;
}

int ec2_parse_simple(const char *body, size_t len, char **ret_request_id, bool *ret_return) {
        _cleanup_(simple_document_done) SimpleDocument doc = {};
        bool value;
        int r;

        r = ec2_xml_parse(body, len, NULL, &simple_document_schema, &doc);
        if (r < 0)
                return r;
        if (!doc.request_id || !doc.ret)
                return -EBADMSG;
        if (strcmp(doc.ret, "true") == 0)
                value = true;
        else if (strcmp(doc.ret, "false") == 0)
                value = false;
        else
                return -EBADMSG;

        if (ret_request_id)
                *ret_request_id = TAKE_PTR(doc.request_id);
        if (ret_return)
                *ret_return = value;
        return 0;
}
