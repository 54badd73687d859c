/* SPDX-License-Identifier: MIT */
#pragma once

/* Typed results of EC2 Query API answers (API version 2016-11-15), built
 * straight from the expat event stream (cdp/xml.h), never through a DOM.
 *
 * Every parser takes the raw HTTP body. It fails with
 *   -EBADMSG  malformed/truncated XML, a DOCTYPE, the wrong root element
 *             (an error document handed to a success parser and vice versa),
 *             a required element missing, a bool/int/timestamp that does not
 *             parse;
 *   -E2BIG    the body, the nesting, one text node or an item count over its
 *             cap (EC2_XML_MAX_ITEMS per page, EC2_XML_MAX_NESTED_ITEMS per
 *             nested list, EC2_XML_MAX_TOTAL_ITEMS per document);
 *   -ENOMEM.
 * Outputs are only written on success. Unknown elements are ignored (AWS adds
 * fields over time); elements are matched by local name, so namespaces and
 * prefixes do not matter. Strings are NUL-terminated UTF-8 with entities
 * decoded; an absent element leaves its string NULL, an empty one (<a/>)
 * gives "".
 *
 * Adding a parser for another Describe call takes a struct, a field table and
 * three lines (see "Building blocks" at the end and lib/core/ec2-xml.c). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cdp/macro.h"

#define EC2_XML_MAX_ITEMS 10000U          /* items in one page (a top-level list) */
#define EC2_XML_MAX_NESTED_ITEMS 1000U    /* items in a list inside an item (tags of one instance, ...) */
#define EC2_XML_MAX_TOTAL_ITEMS 100000U   /* items of all lists in one document */

/* time_t fields hold this when the element was absent. Callers that compute
 * deadlines from a time must check for it (an unknown launch time must never
 * look like 1970). */
#define EC2_TIME_UNSET ((time_t) -1)

/* ---- Errors: <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>,
 *      also <ErrorResponse><Error>...</Error><RequestId/></ErrorResponse> and a bare <Error> root. */

typedef struct Ec2Error {
        char *code;             /* never NULL after a successful parse */
        char *message;          /* NULL when absent */
        char *request_id;       /* NULL when absent */
} Ec2Error;

/* Parse an error document; with several <Error> elements the first one wins.
 * -EBADMSG if body is not an error document or has no Code.
 * Ownership: *ret is overwritten (not freed) on success; release it with
 * ec2_error_done(). */
int ec2_parse_error(const char *body, size_t len, Ec2Error *ret);
void ec2_error_done(Ec2Error *e);

/* ---- Simple answers: <XxxResponse><requestId/>...</XxxResponse> (any root but an error root). */

/* The requestId of a success answer; -EBADMSG when absent.
 * Ownership: caller frees *ret_request_id with free(). */
int ec2_parse_request_id(const char *body, size_t len, char **ret_request_id);

/* Answers of write calls that carry <return>true|false</return>
 * (ReplaceRoute, CreateTags, ModifyNetworkInterfaceAttribute, ...).
 * -EBADMSG when requestId or return is absent or return is not true/false.
 * Either output may be NULL when not wanted.
 * Ownership: caller frees *ret_request_id with free(). */
int ec2_parse_simple(const char *body, size_t len, char **ret_request_id, bool *ret_return);

/* ---- Tags */

typedef struct Ec2Tag {
        char *resource_id;      /* DescribeTags only; NULL in an item's tagSet */
        char *resource_type;    /* DescribeTags only; NULL in an item's tagSet */
        char *key;              /* never NULL */
        char *value;            /* never NULL: an absent or empty <value/> gives "" */
} Ec2Tag;

void ec2_tag_done(Ec2Tag *t);

/* Borrowed value of the first tag with this key, or NULL. */
const char *ec2_tags_get(const Ec2Tag *tags, size_t n_tags, const char *key);

typedef struct Ec2TagPage {
        Ec2Tag *tags;
        size_t n_tags;
        char *next_token;       /* NULL on the last page */
        char *request_id;
} Ec2TagPage;

/* DescribeTagsResponse/tagSet/item/{resourceId,resourceType,key,value}.
 * Ownership: caller frees *ret with ec2_tag_page_free(). */
int ec2_parse_describe_tags(const char *body, size_t len, Ec2TagPage **ret);
Ec2TagPage *ec2_tag_page_free(Ec2TagPage *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Ec2TagPage *, ec2_tag_page_free);

/* ---- Network interfaces */

typedef struct Ec2PrivateIp {
        char *address;          /* privateIpAddress; never NULL */
        bool primary;
        char *public_ip;        /* association/publicIp, NULL when none */
        char *allocation_id;    /* association/allocationId (DescribeNetworkInterfaces only) */
} Ec2PrivateIp;

void ec2_private_ip_done(Ec2PrivateIp *ip);

/* One shape for DescribeNetworkInterfaces items and the networkInterfaceSet
 * of an instance. Inside DescribeInstances AWS sends no attachment/instanceId
 * (filled in from the enclosing instance here), no association/allocationId,
 * associationId, availabilityZone nor tagSet. */
typedef struct Ec2NetworkInterface {
        char *id;                       /* networkInterfaceId; never NULL */
        char *mac;                      /* macAddress */
        char *private_ip;               /* privateIpAddress (the primary one) */
        char *subnet_id;
        char *vpc_id;
        char *availability_zone;
        char *status;                   /* available | in-use | ... */
        char *description;
        char *attachment_id;            /* attachment/attachmentId */
        char *attached_instance_id;     /* attachment/instanceId */
        int device_index;               /* attachment/deviceIndex; -1 when not attached */
        char *public_ip;                /* association/publicIp */
        char *allocation_id;            /* association/allocationId */
        char *association_id;           /* association/associationId */
        bool source_dest_check;         /* AWS's default (true) when absent */
        Ec2PrivateIp *private_ips;      /* privateIpAddressesSet */
        size_t n_private_ips;
        Ec2Tag *tags;                   /* tagSet */
        size_t n_tags;
} Ec2NetworkInterface;

void ec2_network_interface_done(Ec2NetworkInterface *ni);

typedef struct Ec2InterfacePage {
        Ec2NetworkInterface *interfaces;
        size_t n_interfaces;
        char *next_token;
        char *request_id;
} Ec2InterfacePage;

/* DescribeNetworkInterfacesResponse/networkInterfaceSet/item.
 * Ownership: caller frees *ret with ec2_interface_page_free(). */
int ec2_parse_describe_network_interfaces(const char *body, size_t len, Ec2InterfacePage **ret);
Ec2InterfacePage *ec2_interface_page_free(Ec2InterfacePage *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Ec2InterfacePage *, ec2_interface_page_free);

/* ---- Instances */

typedef struct Ec2BlockDevice {
        char *device_name;              /* deviceName, e.g. /dev/xvda; never NULL */
        char *volume_id;                /* ebs/volumeId; NULL for non-EBS mappings */
        char *status;                   /* ebs/status: attaching | attached | ... */
        bool delete_on_termination;     /* ebs/deleteOnTermination */
} Ec2BlockDevice;

void ec2_block_device_done(Ec2BlockDevice *b);

typedef struct Ec2Instance {
        char *id;                       /* instanceId; never NULL */
        char *image_id;
        char *instance_type;
        char *state;                    /* instanceState/name: pending | running | ... */
        char *availability_zone;        /* placement/availabilityZone */
        char *private_ip;               /* privateIpAddress */
        char *public_ip;                /* ipAddress */
        char *subnet_id;
        char *vpc_id;
        char *root_device_name;
        char *root_device_type;         /* ebs | instance-store */
        time_t launch_time;             /* EC2_TIME_UNSET when absent */
        Ec2Tag *tags;                   /* tagSet */
        size_t n_tags;
        Ec2NetworkInterface *interfaces;        /* networkInterfaceSet */
        size_t n_interfaces;
        Ec2BlockDevice *block_devices;  /* blockDeviceMapping */
        size_t n_block_devices;
} Ec2Instance;

void ec2_instance_done(Ec2Instance *i);

typedef struct Ec2InstancePage {
        Ec2Instance *instances;         /* flattened over all reservations */
        size_t n_instances;
        char *next_token;
        char *request_id;
} Ec2InstancePage;

/* DescribeInstancesResponse/reservationSet/item/instancesSet/item.
 * Ownership: caller frees *ret with ec2_instance_page_free(). */
int ec2_parse_describe_instances(const char *body, size_t len, Ec2InstancePage **ret);
Ec2InstancePage *ec2_instance_page_free(Ec2InstancePage *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Ec2InstancePage *, ec2_instance_page_free);

/* ---- Timestamps */

/* Strict ISO 8601 UTC as EC2 writes it: YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z, years
 * 1970..9999, no leap seconds, no offsets, no surrounding blanks. Fractions
 * are dropped. -EINVAL otherwise. */
int ec2_parse_timestamp(const char *s, time_t *ret);

/* ---- Building blocks for typed parsers
 *
 * A typed parser is a C struct plus a table of Ec2XmlField: each field maps
 * a '/'-separated path, relative to the element the struct stands for, to a
 * member. A list field maps the path of a container (e.g. "tagSet", or
 * "reservationSet/item/instancesSet" to flatten through an unstored level)
 * to an array member plus a size_t count member; each child element named
 * item_name ("item" by default) becomes one array element described by its
 * own schema. Paths are only matched inside the innermost open item, so an
 * instance's tagSet is never mistaken for the page's. The root element is
 * the outermost item. */

typedef enum Ec2XmlKind {
        EC2_XML_STRING,         /* char *: the text, duplicated; last occurrence wins */
        EC2_XML_BOOL,           /* bool: "true" | "false" */
        EC2_XML_INT,            /* int: optional '-' and decimal digits, range-checked */
        EC2_XML_TIME,           /* time_t: ec2_parse_timestamp() */
        EC2_XML_LIST,           /* T * array + size_t count */
} Ec2XmlKind;

typedef struct Ec2XmlSchema Ec2XmlSchema;

typedef struct Ec2XmlField {
        const char *path;
        Ec2XmlKind kind;
        size_t offset;                  /* of the member in the struct */
        /* EC2_XML_LIST only: */
        size_t count_offset;            /* of the size_t count member */
        size_t item_size;               /* sizeof one array element */
        const Ec2XmlSchema *item;       /* schema of one array element */
        size_t max_items;
        const char *item_name;          /* NULL = "item" */
} Ec2XmlField;

struct Ec2XmlSchema {
        size_t size;                    /* sizeof the struct */
        const Ec2XmlField *fields;
        size_t n_fields;
        /* Optional: defaults, called on zeroed memory before any field. */
        void (*init)(void *item);
        /* Optional: validate and complete after the closing tag; a negative
         * errno aborts the parse. */
        int (*finish)(void *item);
};

/* Compile-time check that a member has the type the kind implies, so a
 * table entry can never write through a mistyped offset. */
#define EC2_XML__TYPED(type, member, ctype)                                          \
        (offsetof(type, member) +                                                   \
         0 * sizeof(struct {                                                        \
                 _Static_assert(__builtin_types_compatible_p(                       \
                                        __typeof__(((type *) 0)->member), ctype),   \
                                #type "." #member " must be " #ctype);              \
                 char dummy_;                                                       \
         }))

#define EC2_XML_STRING_FIELD(p, type, member) \
        { .path = (p), .kind = EC2_XML_STRING, .offset = EC2_XML__TYPED(type, member, char *) }
#define EC2_XML_BOOL_FIELD(p, type, member) \
        { .path = (p), .kind = EC2_XML_BOOL, .offset = EC2_XML__TYPED(type, member, bool) }
#define EC2_XML_INT_FIELD(p, type, member) \
        { .path = (p), .kind = EC2_XML_INT, .offset = EC2_XML__TYPED(type, member, int) }
#define EC2_XML_TIME_FIELD(p, type, member) \
        { .path = (p), .kind = EC2_XML_TIME, .offset = EC2_XML__TYPED(type, member, time_t) }
#define EC2_XML_LIST_FIELD_NAMED(p, type, member, n_member, item_type, item_schema, max, name) \
        {                                                                       \
                .path = (p),                                                    \
                .kind = EC2_XML_LIST,                                           \
                .offset = EC2_XML__TYPED(type, member, item_type *),            \
                .count_offset = EC2_XML__TYPED(type, n_member, size_t),         \
                .item_size = sizeof(item_type),                                 \
                .item = (item_schema),                                          \
                .max_items = (max),                                             \
                .item_name = (name),                                            \
        }
#define EC2_XML_LIST_FIELD(p, type, member, n_member, item_type, item_schema, max) \
        EC2_XML_LIST_FIELD_NAMED(p, type, member, n_member, item_type, item_schema, max, NULL)

/* Accepted root element names, NULL-terminated; a NULL list accepts any root
 * except the error roots (Response, ErrorResponse, Error). */
#define EC2_XML_ROOTS(...) ((const char *const[]) { __VA_ARGS__, NULL })

/* Free everything the schema's fields own inside item (recursively) and zero
 * the struct. NULL-safe. */
void ec2_xml_item_done(const Ec2XmlSchema *schema, void *item);

typedef struct Ec2XmlParser Ec2XmlParser;

/* Incremental typed parse, for bodies that arrive in pieces.
 * Ownership: caller frees *ret with ec2_xml_parser_free(); roots and schema
 * are borrowed and must outlive the parser. */
int ec2_xml_parser_new(Ec2XmlParser **ret, const char *const *roots, const Ec2XmlSchema *schema);
int ec2_xml_parser_feed(Ec2XmlParser *p, const void *buf, size_t len);
/* On success moves the parsed struct into *result (schema->size bytes, not
 * freed first); on failure leaves *result untouched.
 * Ownership: release *result with ec2_xml_item_done(schema, result). */
int ec2_xml_parser_finish(Ec2XmlParser *p, void *result);
Ec2XmlParser *ec2_xml_parser_free(Ec2XmlParser *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Ec2XmlParser *, ec2_xml_parser_free);

/* One shot of the above. */
int ec2_xml_parse(const char *body, size_t len, const char *const *roots,
                  const Ec2XmlSchema *schema, void *result);

/* Schemas of the public types, for parsers of other calls that embed them
 * (e.g. the tagSet of a snapshot: EC2_XML_LIST_FIELD("tagSet", Snap, tags,
 * n_tags, Ec2Tag, &ec2_tag_schema, EC2_XML_MAX_NESTED_ITEMS)). */
extern const Ec2XmlSchema ec2_tag_schema;
extern const Ec2XmlSchema ec2_private_ip_schema;
extern const Ec2XmlSchema ec2_network_interface_schema;
extern const Ec2XmlSchema ec2_block_device_schema;
extern const Ec2XmlSchema ec2_instance_schema;

/* Schemas of the pages, for incremental parsing with ec2_xml_parser_new()
 * (roots: "DescribeTagsResponse", "DescribeNetworkInterfacesResponse",
 * "DescribeInstancesResponse"); the result is the page struct itself. */
extern const Ec2XmlSchema ec2_tag_page_schema;
extern const Ec2XmlSchema ec2_interface_page_schema;
extern const Ec2XmlSchema ec2_instance_page_schema;
