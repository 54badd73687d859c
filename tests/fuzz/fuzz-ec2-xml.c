/* SPDX-License-Identifier: MIT */
/* libFuzzer target: every typed EC2 parser on arbitrary bytes, plus two
 * oracles: a split feed must give the same outcome and the same struct as a
 * one-shot parse, and the raw XML events must respect the documented limits.
 *
 *   clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
 *         lib/core/strbuf.c lib/core/secret.c lib/core/xml.c lib/core/ec2-xml.c \
 *         tests/fuzz/fuzz-ec2-xml.c -o fuzz-ec2-xml -lexpat -lcrypto
 *   ./fuzz-ec2-xml -dict=tests/fuzz/ec2-xml.dict tests/fuzz/corpus/ec2-xml */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cdp/ec2-xml.h"
#include "cdp/xml.h"
#include "fuzz-ec2-schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_start(void *ud, const char *const *path, size_t depth) {
        (void) ud;
        CHECK(depth >= 1 && depth <= XML_PARSER_DEPTH_MAX);
        for (size_t i = 0; i < depth; i++)
                CHECK(path[i] && !strchr(path[i], '\xff'));
        return 0;
}

static int check_end(void *ud, const char *const *path, size_t depth, const char *text, size_t len) {
        (void) ud, (void) path;
        CHECK(depth >= 1 && depth <= XML_PARSER_DEPTH_MAX);
        if (text) {
                CHECK(len <= XML_PARSER_TEXT_MAX);
                CHECK(strlen(text) == len);
        } else
                CHECK(len == 0);
        return 0;
}

static void check_split(const uint8_t *data, size_t size, const char *root, const Ec2XmlSchema *schema) {
        _cleanup_free_ void *once = calloc(1, schema->size);
        _cleanup_free_ void *split = calloc(1, schema->size);
        _cleanup_(ec2_xml_parser_freep) Ec2XmlParser *p = NULL;
        size_t step = size > 0 ? 1 + data[0] % 16 : 1;
        int r1, r2 = 0;

        CHECK(once && split);
        r1 = ec2_xml_parse((const char *) data, size, EC2_XML_ROOTS(root), schema, once);

        CHECK(ec2_xml_parser_new(&p, EC2_XML_ROOTS(root), schema) == 0);
        for (size_t off = 0; off < size && r2 == 0; off += step)
                r2 = ec2_xml_parser_feed(p, data + off, MIN(step, size - off));
        if (r2 == 0)
                r2 = ec2_xml_parser_finish(p, split);

        if (r1 != r2) {
                fprintf(stderr, "one-shot %d, split(%zu) %d\n", r1, step, r2);
                abort();
        }
        CHECK(r1 <= 0);
        if (r1 == 0) {
                CHECK(items_equal(schema, once, split));
                ec2_xml_item_done(schema, once);
                ec2_xml_item_done(schema, split);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *body = (const char *) data;
        static const XmlHandlers checks = { .element_start = check_start, .element_end = check_end };
        Ec2TagPage *tags = NULL;
        Ec2InstancePage *instances = NULL;
        Ec2InterfacePage *interfaces = NULL;
        Ec2Error error = { .code = NULL };
        char *request_id = NULL;
        bool ret = false;
        char ts[40];
        time_t t;

        if (ec2_parse_describe_tags(body, size, &tags) == 0) {
                CHECK(tags->n_tags <= EC2_XML_MAX_ITEMS);
                for (size_t i = 0; i < tags->n_tags; i++)
                        CHECK(tags->tags[i].key && tags->tags[i].value);
        } else
                CHECK(!tags);
        ec2_tag_page_free(tags);

        if (ec2_parse_describe_instances(body, size, &instances) == 0) {
                for (size_t i = 0; i < instances->n_instances; i++) {
                        CHECK(instances->instances[i].id);
                        for (size_t j = 0; j < instances->instances[i].n_interfaces; j++)
                                CHECK(instances->instances[i].interfaces[j].attached_instance_id);
                }
        } else
                CHECK(!instances);
        ec2_instance_page_free(instances);

        if (ec2_parse_describe_network_interfaces(body, size, &interfaces) == 0) {
                for (size_t i = 0; i < interfaces->n_interfaces; i++)
                        CHECK(interfaces->interfaces[i].id);
        } else
                CHECK(!interfaces);
        ec2_interface_page_free(interfaces);

        if (ec2_parse_error(body, size, &error) == 0)
                CHECK(error.code);
        else
                CHECK(!error.code);
        ec2_error_done(&error);

        if (ec2_parse_request_id(body, size, &request_id) == 0)
                CHECK(request_id);
        free(request_id);
        request_id = NULL;
        if (ec2_parse_simple(body, size, &request_id, &ret) == 0)
                CHECK(request_id);
        free(request_id);

        (void) xml_parse_buffer(data, size, &checks, NULL);

        check_split(data, size, "DescribeInstancesResponse", &ec2_instance_page_schema);
        check_split(data, size, "DescribeNetworkInterfacesResponse", &ec2_interface_page_schema);
        check_split(data, size, "DescribeTagsResponse", &ec2_tag_page_schema);

        /* The timestamp parser on its own, as a C string. */
        memcpy(ts, data, MIN(size, sizeof(ts) - 1));
        ts[MIN(size, sizeof(ts) - 1)] = '\0';
        if (ec2_parse_timestamp(ts, &t) == 0)
                CHECK(t >= 0);

        return 0;
}
