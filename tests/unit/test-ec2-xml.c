/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "cdp/ec2-xml.h"
#include "cdp/strbuf.h"
#include "cdp/xml.h"
#include "test-data.h"

/* ---- helpers ---- */

/* Renders any struct through its schema, so whole results compare as text. */
static void dump_item(StrBuf *b, const Ec2XmlSchema *schema, const void *item, int indent) {
        for (size_t i = 0; i < schema->n_fields; i++) {
                const Ec2XmlField *f = &schema->fields[i];
                const char *m = (const char *) item + f->offset;

                assert_int_equal(strbuf_printf(b, "%*s%s: ", indent, "", f->path), 0);
                switch (f->kind) {
                case EC2_XML_STRING: {
                        const char *s = *(char *const *) m;
                        assert_int_equal(s ? strbuf_printf(b, "'%s'\n", s) : strbuf_puts(b, "NULL\n"), 0);
                        break;
                }
                case EC2_XML_BOOL:
                        assert_int_equal(strbuf_printf(b, "%s\n", *(const bool *) m ? "true" : "false"), 0);
                        break;
                case EC2_XML_INT:
                        assert_int_equal(strbuf_printf(b, "%d\n", *(const int *) m), 0);
                        break;
                case EC2_XML_TIME:
                        assert_int_equal(strbuf_printf(b, "%jd\n", (intmax_t) *(const time_t *) m), 0);
                        break;
                case EC2_XML_LIST: {
                        const char *a = *(char *const *) m;
                        size_t n = *(const size_t *) ((const char *) item + f->count_offset);

                        assert_int_equal(strbuf_printf(b, "[%zu]\n", n), 0);
                        for (size_t j = 0; j < n; j++)
                                dump_item(b, f->item, a + j * f->item_size, indent + 2);
                        break;
                }
                }
        }
}

static char *dump(const Ec2XmlSchema *schema, const void *item) {
        StrBuf b = STRBUF_INIT(0);

        dump_item(&b, schema, item, 0);
        return strbuf_steal(&b);
}

typedef struct PageKind {
        const char *fixture;
        const char *root;
        const Ec2XmlSchema *schema;
} PageKind;

static const PageKind pages[] = {
        { "describe-tags.xml", "DescribeTagsResponse", &ec2_tag_page_schema },
        { "describe-tags-last-page.xml", "DescribeTagsResponse", &ec2_tag_page_schema },
        { "describe-tags-prefixed.xml", "DescribeTagsResponse", &ec2_tag_page_schema },
        { "describe-instances.xml", "DescribeInstancesResponse", &ec2_instance_page_schema },
        { "describe-network-interfaces.xml", "DescribeNetworkInterfacesResponse", &ec2_interface_page_schema },
};

/* Run every typed parser on body; returns how many accepted it. */
static int parse_all(const char *body, size_t len, int results[6]) {
        Ec2TagPage *tags = NULL;
        Ec2InstancePage *instances = NULL;
        Ec2InterfacePage *interfaces = NULL;
        Ec2Error err = {};
        char *rid = NULL;
        bool ret = false;
        int ok = 0;

        results[0] = ec2_parse_describe_tags(body, len, &tags);
        results[1] = ec2_parse_describe_instances(body, len, &instances);
        results[2] = ec2_parse_describe_network_interfaces(body, len, &interfaces);
        results[3] = ec2_parse_error(body, len, &err);
        results[4] = ec2_parse_request_id(body, len, &rid);
        free(rid);
        rid = NULL;
        results[5] = ec2_parse_simple(body, len, &rid, &ret);
        for (size_t i = 0; i < 6; i++) {
                assert_true(results[i] <= 0);
                ok += results[i] == 0;
        }
        /* Outputs are written on success only. */
        assert_true((results[0] == 0) == (tags != NULL));
        assert_true((results[1] == 0) == (instances != NULL));
        assert_true((results[2] == 0) == (interfaces != NULL));
        assert_true((results[3] == 0) == (err.code != NULL));
        assert_true((results[5] == 0) == (rid != NULL));
        ec2_tag_page_free(tags);
        ec2_instance_page_free(instances);
        ec2_interface_page_free(interfaces);
        ec2_error_done(&err);
        free(rid);
        return ok;
}

/* ---- DescribeTags ---- */

static void test_ec2_parse_describe_tags__aws_example__all_tags(void **state) {
        _cleanup_(ec2_tag_page_freep) Ec2TagPage *page = NULL;
        _cleanup_free_ char *body = NULL;
        size_t len;

        (void) state;
        body = test_fixture_read("describe-tags.xml", &len);
        assert_int_equal(ec2_parse_describe_tags(body, len, &page), 0);

        assert_string_equal(page->request_id, "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE");
        assert_string_equal(page->next_token, "AAEAAWvAH1kQ4Zsx8fG/ZkKNh+Q2bL3z0Pv0eXAMPLE==");
        assert_int_equal(page->n_tags, 7);

        assert_string_equal(page->tags[0].resource_id, "i-1234567890abcdef0");
        assert_string_equal(page->tags[0].resource_type, "instance");
        assert_string_equal(page->tags[0].key, "webserver");
        assert_string_equal(page->tags[0].value, "");   /* <value/> */

        assert_string_equal(page->tags[1].key, "stack");
        assert_string_equal(page->tags[1].value, "Production");
        assert_string_equal(page->tags[2].value, "0 3 * * *");
        assert_string_equal(page->tags[3].key, "cdp:env:GREETING");
        assert_string_equal(page->tags[3].value, "R&D <team> says \"hi\" & 'bye'");
        assert_string_equal(page->tags[5].value, "\xe6\x9d\xb1\xe4\xba\xac web-01");
        assert_string_equal(page->tags[6].resource_id, "vol-049df61146c4d7901");
        assert_string_equal(page->tags[6].resource_type, "volume");

        assert_string_equal(ec2_tags_get(page->tags, page->n_tags, "cdp:tz"), "Asia/Tokyo");
        assert_null(ec2_tags_get(page->tags, page->n_tags, "cdp:ttl"));
        assert_null(ec2_tags_get(page->tags, page->n_tags, NULL));
}

static void test_ec2_parse_describe_tags__last_page__no_tags_no_token(void **state) {
        _cleanup_(ec2_tag_page_freep) Ec2TagPage *page = NULL;
        _cleanup_free_ char *body = NULL;
        size_t len;

        (void) state;
        body = test_fixture_read("describe-tags-last-page.xml", &len);
        assert_int_equal(ec2_parse_describe_tags(body, len, &page), 0);
        assert_int_equal(page->n_tags, 0);
        assert_null(page->tags);
        assert_null(page->next_token);
        assert_string_equal(page->request_id, "b2f7a0f1-7d5c-4a0e-9a7e-3c1dEXAMPLE");
}

static void test_ec2_parse_describe_tags__prefixed_namespace__same_result(void **state) {
        _cleanup_(ec2_tag_page_freep) Ec2TagPage *page = NULL;
        _cleanup_free_ char *body = NULL;
        size_t len;

        (void) state;
        body = test_fixture_read("describe-tags-prefixed.xml", &len);
        assert_int_equal(ec2_parse_describe_tags(body, len, &page), 0);
        assert_int_equal(page->n_tags, 1);
        assert_string_equal(page->tags[0].resource_type, "network-interface");
        assert_string_equal(page->tags[0].key, "cdp:floating-ip");
        assert_string_equal(page->tags[0].value, "eipalloc-0123456789abcdef0,10.0.1.200");
        assert_string_equal(page->request_id, "0c8e3b6a-ff0c-4b8a-8a8e-5e22EXAMPLE");
}

static void test_ec2_parse_describe_tags__item_not_direct_child__ignored(void **state) {
        static const char body[] =
                "<DescribeTagsResponse><tagSet>"
                "<wrapper><item><key>nested</key></item></wrapper>"
                "<item><key>direct</key><extra><item><key>deeper</key></item></extra></item>"
                "<entry><key>not-an-item</key></entry>"
                "</tagSet></DescribeTagsResponse>";
        _cleanup_(ec2_tag_page_freep) Ec2TagPage *page = NULL;

        (void) state;
        assert_int_equal(ec2_parse_describe_tags(body, strlen(body), &page), 0);
        assert_int_equal(page->n_tags, 1);
        assert_string_equal(page->tags[0].key, "direct");
}

static void test_ec2_parse_describe_tags__leaf_text__kept_verbatim(void **state) {
        static const char body[] =
                "<DescribeTagsResponse><requestId>r</requestId><tagSet><item>"
                "<key>k</key><value>  spaced\nvalue </value></item><item><key>no-value</key></item>"
                "</tagSet></DescribeTagsResponse>";
        _cleanup_(ec2_tag_page_freep) Ec2TagPage *page = NULL;

        (void) state;
        assert_int_equal(ec2_parse_describe_tags(body, strlen(body), &page), 0);
        assert_int_equal(page->n_tags, 2);
        assert_string_equal(page->tags[0].value, "  spaced\nvalue ");
        assert_string_equal(page->tags[1].value, "");
        assert_null(page->tags[1].resource_id);
}

/* ---- DescribeInstances ---- */

static void test_ec2_parse_describe_instances__two_reservations__flattened_instances(void **state) {
        _cleanup_(ec2_instance_page_freep) Ec2InstancePage *page = NULL;
        _cleanup_free_ char *body = NULL;
        const Ec2Instance *i;
        const Ec2NetworkInterface *ni;
        size_t len;

        (void) state;
        body = test_fixture_read("describe-instances.xml", &len);
        assert_int_equal(ec2_parse_describe_instances(body, len, &page), 0);

        assert_string_equal(page->request_id, "8f7724cf-496f-496e-8fe3-example");
        assert_string_equal(page->next_token, "eyJ2IjoiMiIsImMiOiJleGFtcGxlIn0=");
        assert_int_equal(page->n_instances, 3);

        i = &page->instances[0];
        assert_string_equal(i->id, "i-1234567890abcdef0");
        assert_string_equal(i->image_id, "ami-bff32ccc");
        assert_string_equal(i->state, "running");
        assert_string_equal(i->instance_type, "t3.micro");
        assert_int_equal(i->launch_time, test_utc(2026, 11, 21, 10, 0, 0));
        assert_string_equal(i->availability_zone, "eu-west-1c");
        assert_string_equal(i->private_ip, "192.168.1.88");
        assert_string_equal(i->public_ip, "54.194.252.215");
        assert_string_equal(i->subnet_id, "subnet-56f5f633");
        assert_string_equal(i->vpc_id, "vpc-11112222");
        assert_string_equal(i->root_device_name, "/dev/xvda");
        assert_string_equal(i->root_device_type, "ebs");

        assert_int_equal(i->n_block_devices, 2);
        assert_string_equal(i->block_devices[0].device_name, "/dev/xvda");
        assert_string_equal(i->block_devices[0].volume_id, "vol-1234567890abcdef0");
        assert_string_equal(i->block_devices[0].status, "attached");
        assert_true(i->block_devices[0].delete_on_termination);
        assert_string_equal(i->block_devices[1].device_name, "/dev/sdf");
        assert_string_equal(i->block_devices[1].volume_id, "vol-049df61146c4d7901");
        assert_false(i->block_devices[1].delete_on_termination);

        /* The instance's own tagSet, not the groupSet items nor anything else. */
        assert_int_equal(i->n_tags, 3);
        assert_null(i->tags[0].resource_id);
        assert_string_equal(ec2_tags_get(i->tags, i->n_tags, "Name"), "Server_1");
        assert_string_equal(ec2_tags_get(i->tags, i->n_tags, "cdp:routing-ha"), "192.168.100.10/32@rtb-0a1+rtb-0b2");
        assert_string_equal(ec2_tags_get(i->tags, i->n_tags, "cdp:snapshot:keep"), "");

        assert_int_equal(i->n_interfaces, 2);
        ni = &i->interfaces[0];
        assert_string_equal(ni->id, "eni-551ba033");
        assert_string_equal(ni->mac, "02:dd:2c:5e:01:69");
        assert_string_equal(ni->private_ip, "192.168.1.88");
        assert_string_equal(ni->subnet_id, "subnet-56f5f633");
        assert_string_equal(ni->description, "Primary network interface");
        assert_string_equal(ni->status, "in-use");
        assert_string_equal(ni->attachment_id, "eni-attach-39697adc");
        assert_string_equal(ni->attached_instance_id, "i-1234567890abcdef0");  /* from the instance */
        assert_int_equal(ni->device_index, 0);
        assert_false(ni->source_dest_check);
        assert_string_equal(ni->public_ip, "54.194.252.215");
        assert_null(ni->allocation_id);
        assert_int_equal(ni->n_private_ips, 2);
        assert_string_equal(ni->private_ips[0].address, "192.168.1.88");
        assert_true(ni->private_ips[0].primary);
        assert_string_equal(ni->private_ips[0].public_ip, "54.194.252.215");
        assert_string_equal(ni->private_ips[1].address, "192.168.1.200");
        assert_false(ni->private_ips[1].primary);
        assert_null(ni->private_ips[1].public_ip);
        assert_int_equal(ni->n_tags, 0);

        ni = &i->interfaces[1];
        assert_string_equal(ni->id, "eni-0b2c3d4e5f6071829");
        assert_string_equal(ni->description, "");
        assert_int_equal(ni->device_index, 1);
        assert_true(ni->source_dest_check);
        assert_null(ni->public_ip);
        assert_int_equal(ni->n_private_ips, 1);

        i = &page->instances[1];
        assert_string_equal(i->id, "i-0598c7d356eba48d7");
        assert_string_equal(i->state, "stopped");
        assert_int_equal(i->launch_time, test_utc(2026, 1, 2, 3, 4, 5));
        assert_string_equal(i->root_device_name, "/dev/sda1");
        assert_null(i->public_ip);
        assert_int_equal(i->n_tags, 0);
        assert_int_equal(i->n_interfaces, 0);
        assert_int_equal(i->n_block_devices, 0);

        i = &page->instances[2];
        assert_string_equal(i->id, "i-0ba5710000000001a");
        assert_string_equal(i->state, "pending");
        assert_int_equal(i->launch_time, test_utc(2024, 2, 29, 23, 59, 59));
        assert_null(i->vpc_id);
        assert_null(i->root_device_name);
        assert_int_equal(i->n_tags, 2);
        assert_string_equal(ec2_tags_get(i->tags, i->n_tags, "cdp:ttl"), "4h");
        assert_string_equal(ec2_tags_get(i->tags, i->n_tags, "owner"), "ops & security <oncall>");
}

static void test_ec2_parse_describe_instances__no_launch_time__time_unset(void **state) {
        static const char body[] =
                "<DescribeInstancesResponse><requestId>r</requestId><reservationSet><item><instancesSet>"
                "<item><instanceId>i-1</instanceId></item></instancesSet></item></reservationSet>"
                "</DescribeInstancesResponse>";
        _cleanup_(ec2_instance_page_freep) Ec2InstancePage *page = NULL;

        (void) state;
        assert_int_equal(ec2_parse_describe_instances(body, strlen(body), &page), 0);
        assert_int_equal(page->n_instances, 1);
        assert_int_equal(page->instances[0].launch_time, EC2_TIME_UNSET);
        assert_null(page->next_token);
}

static void test_ec2_parse_describe_instances__items_outside_instances_set__not_instances(void **state) {
        /* item elements under other sets (groupSet) at any level must not
         * turn into instances, tags or interfaces. */
        static const char body[] =
                "<DescribeInstancesResponse><reservationSet><item>"
                "<groupSet><item><instanceId>i-not</instanceId></item></groupSet>"
                "<instancesSet><item><instanceId>i-yes</instanceId>"
                "<groupSet><item><key>not-a-tag</key></item></groupSet>"
                "<tagSet><item><key>k</key><value>v</value></item></tagSet>"
                "<networkInterfaceSet><item><networkInterfaceId>eni-1</networkInterfaceId>"
                "<groupSet><item><privateIpAddress>1.2.3.4</privateIpAddress></item></groupSet>"
                "</item></networkInterfaceSet>"
                "</item></instancesSet></item></reservationSet>"
                "<tagSet><item><key>top-level-stray</key></item></tagSet>"
                "</DescribeInstancesResponse>";
        _cleanup_(ec2_instance_page_freep) Ec2InstancePage *page = NULL;

        (void) state;
        assert_int_equal(ec2_parse_describe_instances(body, strlen(body), &page), 0);
        assert_int_equal(page->n_instances, 1);
        assert_string_equal(page->instances[0].id, "i-yes");
        assert_int_equal(page->instances[0].n_tags, 1);
        assert_string_equal(page->instances[0].tags[0].key, "k");
        assert_int_equal(page->instances[0].n_interfaces, 1);
        assert_int_equal(page->instances[0].interfaces[0].n_private_ips, 0);
        assert_null(page->instances[0].interfaces[0].private_ip);
}

/* ---- DescribeNetworkInterfaces ---- */

static void test_ec2_parse_describe_network_interfaces__aws_example__all_fields(void **state) {
        _cleanup_(ec2_interface_page_freep) Ec2InterfacePage *page = NULL;
        _cleanup_free_ char *body = NULL;
        const Ec2NetworkInterface *ni;
        size_t len;

        (void) state;
        body = test_fixture_read("describe-network-interfaces.xml", &len);
        assert_int_equal(ec2_parse_describe_network_interfaces(body, len, &page), 0);
        assert_string_equal(page->request_id, "fc45294c-006b-457b-bab9-012f5b3b0e40");
        assert_null(page->next_token);
        assert_int_equal(page->n_interfaces, 2);

        ni = &page->interfaces[0];
        assert_string_equal(ni->id, "eni-0f62d866");
        assert_string_equal(ni->subnet_id, "subnet-c53c87ac");
        assert_string_equal(ni->vpc_id, "vpc-cc3c87a5");
        assert_string_equal(ni->availability_zone, "ap-southeast-1b");
        assert_string_equal(ni->description, "");
        assert_string_equal(ni->status, "in-use");
        assert_string_equal(ni->mac, "02:81:60:cb:27:37");
        assert_string_equal(ni->private_ip, "10.0.0.146");
        assert_true(ni->source_dest_check);
        assert_string_equal(ni->attachment_id, "eni-attach-6537fc0c");
        assert_string_equal(ni->attached_instance_id, "i-1234567890abcdef0");
        assert_int_equal(ni->device_index, 0);
        assert_string_equal(ni->public_ip, "203.0.113.12");
        assert_string_equal(ni->allocation_id, "eipalloc-0123456789abcdef0");
        assert_string_equal(ni->association_id, "eipassoc-0fbb766a");
        assert_int_equal(ni->n_tags, 1);
        assert_string_equal(ec2_tags_get(ni->tags, ni->n_tags, "Name"), "primary");
        assert_int_equal(ni->n_private_ips, 3);
        assert_string_equal(ni->private_ips[0].address, "10.0.0.146");
        assert_true(ni->private_ips[0].primary);
        assert_string_equal(ni->private_ips[0].public_ip, "203.0.113.12");
        assert_string_equal(ni->private_ips[0].allocation_id, "eipalloc-0123456789abcdef0");
        assert_string_equal(ni->private_ips[1].address, "10.0.0.148");
        assert_false(ni->private_ips[1].primary);
        assert_null(ni->private_ips[1].allocation_id);
        assert_string_equal(ni->private_ips[2].address, "10.0.0.150");

        ni = &page->interfaces[1];
        assert_string_equal(ni->id, "eni-a66ed5cf");
        assert_string_equal(ni->status, "available");
        assert_string_equal(ni->description, "Secondary Network Interface");
        assert_false(ni->source_dest_check);
        assert_int_equal(ni->device_index, -1);          /* not attached */
        assert_null(ni->attached_instance_id);
        assert_null(ni->attachment_id);
        assert_null(ni->public_ip);
        assert_int_equal(ni->n_tags, 2);
        assert_string_equal(ec2_tags_get(ni->tags, ni->n_tags, "cdp:role"), "standby & spare");
        assert_string_equal(ec2_tags_get(ni->tags, ni->n_tags, "empty"), "");
        assert_int_equal(ni->n_private_ips, 1);
}

/* ---- errors and simple answers ---- */

static void test_ec2_parse_error__aws_error_documents__code_message_request_id(void **state) {
        static const struct {
                const char *fixture, *code, *message_prefix, *request_id;
        } cases[] = {
                { "error-instance-not-found.xml", "InvalidInstanceID.NotFound",
                  "The instance ID 'i-1a2b3c4d' does not exist", "ea966190-f9aa-478e-9ede-example" },
                { "error-request-limit-exceeded.xml", "RequestLimitExceeded",
                  "Request limit exceeded.", "5b0e6b3c-4a45-4a6f-9c3e-example" },
                { "error-unauthorized-operation.xml", "UnauthorizedOperation",
                  "You are not authorized to perform this operation. User: arn:aws:sts::", "c2f6e2d4-1b0e-4a77-8f0e-example" },
                { "error-invalid-route-not-found.xml", "InvalidRoute.NotFound",
                  "There is no route defined for '192.168.100.10/32'", "0a7d1a84-2f2e-4b59-9b8c-example" },
                { "error-dry-run-operation.xml", "DryRunOperation",
                  "Request would have succeeded", "3e1c1f0e-8a1b-4a6b-b0b5-example" },
                { "error-multiple.xml", "InvalidParameterValue",
                  "Value (rtb-zz) for parameter routeTableId is invalid.", "9d3c3c36-example" },
                { "error-response-shape.xml", "SignatureDoesNotMatch",
                  "The request signature we calculated", "d1f0c1a6-5a4c-4d5e-8d6e-example" },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *body = NULL;
                Ec2Error e = {};
                size_t len;

                body = test_fixture_read(cases[i].fixture, &len);
                assert_int_equal(ec2_parse_error(body, len, &e), 0);
                assert_string_equal(e.code, cases[i].code);
                assert_non_null(e.message);
                if (strncmp(e.message, cases[i].message_prefix, strlen(cases[i].message_prefix)) != 0)
                        fail_msg("%s: message '%s'", cases[i].fixture, e.message);
                assert_string_equal(e.request_id, cases[i].request_id);
                ec2_error_done(&e);
                assert_null(e.code);
                assert_null(e.message);
                assert_null(e.request_id);
        }
}

static void test_ec2_parse_error__entity_in_message__decoded(void **state) {
        _cleanup_free_ char *body = NULL;
        _cleanup_(ec2_error_done) Ec2Error e = {};
        size_t len;

        (void) state;
        body = test_fixture_read("error-unauthorized-operation.xml", &len);
        assert_int_equal(ec2_parse_error(body, len, &e), 0);
        assert_non_null(strstr(e.message, "Encoded authorization failure message: 4Ee2sxr&K0pq"));
}

static void test_ec2_parse_error__minimal_document__message_and_id_null(void **state) {
        _cleanup_free_ char *body = NULL;
        _cleanup_(ec2_error_done) Ec2Error e = {};
        size_t len;

        (void) state;
        body = test_fixture_read("error-minimal.xml", &len);
        assert_int_equal(ec2_parse_error(body, len, &e), 0);
        assert_string_equal(e.code, "InternalError");
        assert_null(e.message);
        assert_null(e.request_id);
}

static void test_ec2_parse_error__not_an_error_document__ebadmsg_untouched(void **state) {
        static const char no_code[] = "<Response><Errors><Error><Message>m</Message></Error></Errors></Response>";
        static const char empty[] = "<Response><Errors/><RequestID>x</RequestID></Response>";
        _cleanup_free_ char *body = NULL;
        char sentinel[] = "untouched";
        Ec2Error e = { .code = sentinel };
        size_t len;

        (void) state;
        body = test_fixture_read("describe-tags.xml", &len);
        assert_int_equal(ec2_parse_error(body, len, &e), -EBADMSG);
        assert_ptr_equal(e.code, sentinel);
        assert_int_equal(ec2_parse_error(no_code, strlen(no_code), &e), -EBADMSG);
        assert_int_equal(ec2_parse_error(empty, strlen(empty), &e), -EBADMSG);
        assert_int_equal(ec2_parse_error("<html/>", 7, &e), -EBADMSG);
        assert_ptr_equal(e.code, sentinel);
        assert_int_equal(ec2_parse_error(body, len, NULL), -EINVAL);
}

static void test_ec2_parse_describe__error_document__ebadmsg_untouched(void **state) {
        _cleanup_free_ char *body = NULL;
        Ec2TagPage *tags = (Ec2TagPage *) 0x1;
        Ec2InstancePage *instances = (Ec2InstancePage *) 0x1;
        Ec2InterfacePage *interfaces = (Ec2InterfacePage *) 0x1;
        char *rid = (char *) 0x1;
        size_t len;

        (void) state;
        body = test_fixture_read("error-request-limit-exceeded.xml", &len);
        assert_int_equal(ec2_parse_describe_tags(body, len, &tags), -EBADMSG);
        assert_int_equal(ec2_parse_describe_instances(body, len, &instances), -EBADMSG);
        assert_int_equal(ec2_parse_describe_network_interfaces(body, len, &interfaces), -EBADMSG);
        assert_int_equal(ec2_parse_request_id(body, len, &rid), -EBADMSG);
        assert_int_equal(ec2_parse_simple(body, len, &rid, NULL), -EBADMSG);
        assert_ptr_equal(tags, (Ec2TagPage *) 0x1);
        assert_ptr_equal(instances, (Ec2InstancePage *) 0x1);
        assert_ptr_equal(interfaces, (Ec2InterfacePage *) 0x1);
        assert_ptr_equal(rid, (char *) 0x1);
}

static void test_ec2_parse_describe__wrong_response_type__ebadmsg(void **state) {
        _cleanup_free_ char *body = NULL;
        Ec2TagPage *tags = NULL;
        Ec2InterfacePage *interfaces = NULL;
        size_t len;

        (void) state;
        body = test_fixture_read("describe-instances.xml", &len);
        assert_int_equal(ec2_parse_describe_tags(body, len, &tags), -EBADMSG);
        assert_int_equal(ec2_parse_describe_network_interfaces(body, len, &interfaces), -EBADMSG);
        assert_null(tags);
        assert_null(interfaces);
}

static void test_ec2_parse_simple__return_values__request_id_and_bool(void **state) {
        static const struct {
                const char *fixture, *request_id;
                bool value;
        } cases[] = {
                { "replace-route.xml", "59dbff89-35bd-4eac-99ed-be587EXAMPLE", true },
                { "associate-address.xml", "59dbff89-35bd-4eac-99ed-be587EXAMPLE", true },
                { "modify-attribute-false.xml", "657a4623-5620-4232-b03b-427e852d71cf", false },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *body = NULL, *rid = NULL, *rid2 = NULL;
                bool value = !cases[i].value;
                size_t len;

                body = test_fixture_read(cases[i].fixture, &len);
                assert_int_equal(ec2_parse_simple(body, len, &rid, &value), 0);
                assert_string_equal(rid, cases[i].request_id);
                assert_int_equal(value, cases[i].value);
                assert_int_equal(ec2_parse_simple(body, len, NULL, NULL), 0);
                assert_int_equal(ec2_parse_request_id(body, len, &rid2), 0);
                assert_string_equal(rid2, cases[i].request_id);
        }
}

static void test_ec2_parse_simple__missing_or_bad_return__ebadmsg(void **state) {
        static const char *const bodies[] = {
                "<CreateTagsResponse><requestId>r</requestId></CreateTagsResponse>",
                "<CreateTagsResponse><requestId>r</requestId><return>yes</return></CreateTagsResponse>",
                "<CreateTagsResponse><requestId>r</requestId><return/></CreateTagsResponse>",
                "<CreateTagsResponse><return>true</return></CreateTagsResponse>",
                "<CreateTagsResponse><requestId>r</requestId><return><b/></return></CreateTagsResponse>",
        };
        _cleanup_free_ char *body = NULL;
        char *rid = NULL;
        bool value = true;
        size_t len;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(bodies); i++) {
                assert_int_equal(ec2_parse_simple(bodies[i], strlen(bodies[i]), &rid, &value), -EBADMSG);
                assert_null(rid);
                assert_true(value);
        }
        body = test_fixture_read("describe-tags.xml", &len);
        assert_int_equal(ec2_parse_simple(body, len, &rid, &value), -EBADMSG);
        /* ...but its request id is there. */
        assert_int_equal(ec2_parse_request_id(body, len, &rid), 0);
        assert_string_equal(rid, "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE");
        free(rid);
        assert_int_equal(ec2_parse_request_id(bodies[3], strlen(bodies[3]), &rid), -EBADMSG);
        assert_int_equal(ec2_parse_request_id(bodies[3], strlen(bodies[3]), NULL), -EINVAL);
}

/* ---- hostile and broken input ---- */

static void test_ec2_parse__every_truncation__fails_cleanly(void **state) {
        static const char *const fixtures[] = {
                "describe-tags.xml",
                "describe-instances.xml",
                "describe-network-interfaces.xml",
                "error-invalid-route-not-found.xml",
                "error-response-shape.xml",
                "replace-route.xml",
        };

        (void) state;
        for (size_t k = 0; k < ELEMENTSOF(fixtures); k++) {
                _cleanup_free_ char *body = NULL;
                size_t len, root_end;
                int full[6];

                body = test_fixture_read(fixtures[k], &len);
                root_end = (size_t) (strrchr(body, '>') - body) + 1;
                /* Exactly one parser family accepts the whole document. */
                assert_true(parse_all(body, len, full) >= 1);

                for (size_t n = 0; n < len; n++) {
                        /* A copy of exactly n bytes, so ASan sees any overread. */
                        _cleanup_free_ char *prefix = malloc(n ?: 1);
                        int results[6];

                        assert_non_null(prefix);
                        memcpy(prefix, body, n);
                        parse_all(prefix, n, results);
                        for (size_t j = 0; j < 6; j++) {
                                if (n >= root_end)
                                        assert_int_equal(results[j], full[j]);
                                else if (results[j] != -EBADMSG)
                                        fail_msg("%s: prefix %zu/%zu, parser %zu: %d",
                                                 fixtures[k], n, len, j, results[j]);
                        }
                }
        }
}

static void test_ec2_parse__attacks_and_malformed__ebadmsg(void **state) {
        static const char *const fixtures[] = {
                "attack-billion-laughs.xml",
                "attack-external-entity.xml",
                "attack-external-dtd.xml",
                "malformed-mismatched-tags.xml",
                "malformed-undefined-entity.xml",
                "malformed-unbound-prefix.xml",
                "malformed-two-roots.xml",
                "malformed-html-gateway.xml",
                "malformed-control-char.xml",
                "malformed-invalid-utf8.xml",
        };

        (void) state;
        for (size_t k = 0; k < ELEMENTSOF(fixtures); k++) {
                _cleanup_free_ char *body = NULL;
                int results[6];
                size_t len;

                body = test_fixture_read(fixtures[k], &len);
                assert_int_equal(parse_all(body, len, results), 0);
                for (size_t j = 0; j < 6; j++)
                        if (results[j] != -EBADMSG)
                                fail_msg("%s, parser %zu: %d", fixtures[k], j, results[j]);
        }
}

static void test_ec2_parse__invalid_values__ebadmsg(void **state) {
        static const struct {
                const char *fixture;
                bool instances;
        } cases[] = {
                { "invalid-bool.xml", false },
                { "invalid-timestamp.xml", true },
                { "invalid-int.xml", true },
                { "invalid-tag-without-key.xml", true },
        };
        static const char scalar_with_children[] =
                "<DescribeTagsResponse><tagSet><item><key><b>x</b></key></item></tagSet></DescribeTagsResponse>";
        static const char interface_without_id[] =
                "<DescribeNetworkInterfacesResponse><networkInterfaceSet><item><macAddress>m</macAddress>"
                "</item></networkInterfaceSet></DescribeNetworkInterfacesResponse>";
        Ec2TagPage *tags = NULL;
        Ec2InterfacePage *interfaces = NULL;

        (void) state;
        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                _cleanup_free_ char *body = NULL;
                Ec2InstancePage *instances = NULL;
                size_t len;
                int r;

                body = test_fixture_read(cases[k].fixture, &len);
                if (cases[k].instances)
                        r = ec2_parse_describe_instances(body, len, &instances);
                else
                        r = ec2_parse_describe_network_interfaces(body, len, &interfaces);
                if (r != -EBADMSG)
                        fail_msg("%s: %d", cases[k].fixture, r);
                assert_null(instances);
                assert_null(interfaces);
        }
        assert_int_equal(ec2_parse_describe_tags(scalar_with_children, strlen(scalar_with_children), &tags), -EBADMSG);
        assert_int_equal(ec2_parse_describe_network_interfaces(interface_without_id, strlen(interface_without_id),
                                                               &interfaces), -EBADMSG);
}

static char *tags_document(size_t n_tags, size_t depth_padding) {
        StrBuf b = STRBUF_INIT(0);

        assert_int_equal(strbuf_puts(&b, "<DescribeTagsResponse><requestId>r</requestId><tagSet>"), 0);
        for (size_t i = 0; i < n_tags; i++)
                assert_int_equal(strbuf_printf(&b, "<item><key>k%zu</key><value>v</value></item>", i), 0);
        for (size_t i = 0; i < depth_padding; i++)
                assert_int_equal(strbuf_puts(&b, "<x>"), 0);
        for (size_t i = 0; i < depth_padding; i++)
                assert_int_equal(strbuf_puts(&b, "</x>"), 0);
        assert_int_equal(strbuf_puts(&b, "</tagSet></DescribeTagsResponse>"), 0);
        return strbuf_steal(&b);
}

static void test_ec2_parse_describe_tags__item_cap__ok_at_cap_e2big_above(void **state) {
        _cleanup_free_ char *at_cap = tags_document(EC2_XML_MAX_ITEMS, 0);
        _cleanup_free_ char *over = tags_document(EC2_XML_MAX_ITEMS + 1, 0);
        _cleanup_(ec2_tag_page_freep) Ec2TagPage *page = NULL;
        Ec2TagPage *none = NULL;

        (void) state;
        assert_int_equal(ec2_parse_describe_tags(at_cap, strlen(at_cap), &page), 0);
        assert_int_equal(page->n_tags, EC2_XML_MAX_ITEMS);
        assert_string_equal(page->tags[EC2_XML_MAX_ITEMS - 1].key, "k9999");
        assert_int_equal(ec2_parse_describe_tags(over, strlen(over), &none), -E2BIG);
        assert_null(none);
}

static void test_ec2_parse_describe_instances__nested_and_total_caps__e2big(void **state) {
        StrBuf nested = STRBUF_INIT(0), total = STRBUF_INIT(0);
        Ec2InstancePage *page = NULL;

        (void) state;
        /* One instance with EC2_XML_MAX_NESTED_ITEMS + 1 tags. */
        assert_int_equal(strbuf_puts(&nested, "<DescribeInstancesResponse><reservationSet><item><instancesSet>"
                                              "<item><instanceId>i-1</instanceId><tagSet>"), 0);
        for (size_t i = 0; i <= EC2_XML_MAX_NESTED_ITEMS; i++)
                assert_int_equal(strbuf_puts(&nested, "<item><key>k</key></item>"), 0);
        assert_int_equal(strbuf_puts(&nested, "</tagSet></item></instancesSet></item></reservationSet>"
                                              "</DescribeInstancesResponse>"), 0);
        assert_int_equal(ec2_parse_describe_instances(nested.data, nested.len, &page), -E2BIG);
        assert_null(page);

        /* 10,000 instances (the page cap) with 10 tags each: each list is
         * within its cap, the document is not. */
        assert_int_equal(strbuf_puts(&total, "<DescribeInstancesResponse><reservationSet><item><instancesSet>"), 0);
        for (size_t i = 0; i < EC2_XML_MAX_ITEMS; i++) {
                assert_int_equal(strbuf_puts(&total, "<item><instanceId>i</instanceId><tagSet>"), 0);
                for (size_t j = 0; j < 10; j++)
                        assert_int_equal(strbuf_puts(&total, "<item><key>k</key></item>"), 0);
                assert_int_equal(strbuf_puts(&total, "</tagSet></item>"), 0);
        }
        assert_int_equal(strbuf_puts(&total, "</instancesSet></item></reservationSet></DescribeInstancesResponse>"), 0);
        assert_int_equal(ec2_parse_describe_instances(total.data, total.len, &page), -E2BIG);
        assert_null(page);

        strbuf_done(&nested);
        strbuf_done(&total);
}

static void test_ec2_parse_describe_tags__too_deep__e2big(void **state) {
        /* Root, tagSet, then padding: 2 + 30 = 32 is fine, 33 is not. */
        _cleanup_free_ char *ok = tags_document(1, XML_PARSER_DEPTH_MAX - 2);
        _cleanup_free_ char *deep = tags_document(1, XML_PARSER_DEPTH_MAX - 1);
        _cleanup_(ec2_tag_page_freep) Ec2TagPage *page = NULL;
        Ec2TagPage *none = NULL;

        (void) state;
        assert_int_equal(ec2_parse_describe_tags(ok, strlen(ok), &page), 0);
        assert_int_equal(page->n_tags, 1);
        assert_int_equal(ec2_parse_describe_tags(deep, strlen(deep), &none), -E2BIG);
        assert_null(none);
}

static void test_ec2_parse_describe_tags__huge_value__e2big(void **state) {
        StrBuf b = STRBUF_INIT(0);
        Ec2TagPage *page = NULL;

        (void) state;
        assert_int_equal(strbuf_puts(&b, "<DescribeTagsResponse><tagSet><item><key>k</key><value>"), 0);
        for (size_t i = 0; i <= XML_PARSER_TEXT_MAX; i++)
                assert_int_equal(strbuf_putc(&b, 'v'), 0);
        assert_int_equal(strbuf_puts(&b, "</value></item></tagSet></DescribeTagsResponse>"), 0);
        assert_int_equal(ec2_parse_describe_tags(b.data, b.len, &page), -E2BIG);
        assert_null(page);
        strbuf_done(&b);
}

static void test_ec2_xml_parser_feed__byte_by_byte__equals_one_shot(void **state) {
        (void) state;

        for (size_t k = 0; k < ELEMENTSOF(pages); k++) {
                _cleanup_free_ char *body = NULL, *once = NULL, *split = NULL;
                _cleanup_free_ void *a = calloc(1, pages[k].schema->size);
                _cleanup_free_ void *b = calloc(1, pages[k].schema->size);
                _cleanup_(ec2_xml_parser_freep) Ec2XmlParser *p = NULL;
                size_t len;

                assert_non_null(a);
                assert_non_null(b);
                body = test_fixture_read(pages[k].fixture, &len);
                assert_int_equal(ec2_xml_parse(body, len, EC2_XML_ROOTS(pages[k].root), pages[k].schema, a), 0);

                assert_int_equal(ec2_xml_parser_new(&p, EC2_XML_ROOTS(pages[k].root), pages[k].schema), 0);
                for (size_t i = 0; i < len; i++)
                        assert_int_equal(ec2_xml_parser_feed(p, body + i, 1), 0);
                assert_int_equal(ec2_xml_parser_finish(p, b), 0);
                /* Moved out: a second finish has nothing to give. */
                assert_int_equal(ec2_xml_parser_finish(p, b), -EINVAL);

                once = dump(pages[k].schema, a);
                split = dump(pages[k].schema, b);
                assert_string_equal(split, once);
                assert_true(strlen(once) > 40);
                ec2_xml_item_done(pages[k].schema, a);
                ec2_xml_item_done(pages[k].schema, b);
        }
}

static void test_ec2_xml_parser_finish__truncated__result_untouched(void **state) {
        _cleanup_free_ char *body = NULL;
        _cleanup_(ec2_xml_parser_freep) Ec2XmlParser *p = NULL;
        Ec2InstancePage page = { .n_instances = 42 };
        size_t len;

        (void) state;
        body = test_fixture_read("describe-instances.xml", &len);
        assert_int_equal(ec2_xml_parser_new(&p, EC2_XML_ROOTS("DescribeInstancesResponse"),
                                            &ec2_instance_page_schema), 0);
        assert_int_equal(ec2_xml_parser_feed(p, body, len / 2), 0);
        assert_int_equal(ec2_xml_parser_finish(p, &page), -EBADMSG);
        assert_int_equal(page.n_instances, 42);
        assert_null(page.instances);
}

/* ---- the building blocks, used the way a later module would ---- */

typedef struct TestSnapshot {
        char *id;
        char *state;
        int volume_size;
        time_t start_time;
        bool encrypted;
        Ec2Tag *tags;
        size_t n_tags;
} TestSnapshot;

typedef struct TestSnapshotPage {
        TestSnapshot *snapshots;
        size_t n_snapshots;
        char *next_token;
} TestSnapshotPage;

static const Ec2XmlField test_snapshot_fields[] = {
        EC2_XML_STRING_FIELD("snapshotId", TestSnapshot, id),
        EC2_XML_STRING_FIELD("status", TestSnapshot, state),
        EC2_XML_INT_FIELD("volumeSize", TestSnapshot, volume_size),
        EC2_XML_TIME_FIELD("startTime", TestSnapshot, start_time),
        EC2_XML_BOOL_FIELD("encrypted", TestSnapshot, encrypted),
        EC2_XML_LIST_FIELD("tagSet", TestSnapshot, tags, n_tags, Ec2Tag, &ec2_tag_schema, EC2_XML_MAX_NESTED_ITEMS),
};

static const Ec2XmlSchema test_snapshot_schema = {
        .size = sizeof(TestSnapshot),
        .fields = test_snapshot_fields,
        .n_fields = ELEMENTSOF(test_snapshot_fields),
};

static const Ec2XmlField test_snapshot_page_fields[] = {
        EC2_XML_STRING_FIELD("nextToken", TestSnapshotPage, next_token),
        EC2_XML_LIST_FIELD("snapshotSet", TestSnapshotPage, snapshots, n_snapshots, TestSnapshot,
                           &test_snapshot_schema, EC2_XML_MAX_ITEMS),
};

static const Ec2XmlSchema test_snapshot_page_schema = {
        .size = sizeof(TestSnapshotPage),
        .fields = test_snapshot_page_fields,
        .n_fields = ELEMENTSOF(test_snapshot_page_fields),
};

static void test_ec2_xml_parse__custom_schema__describe_snapshots(void **state) {
        static const char body[] =
                "<DescribeSnapshotsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
                "<requestId>r</requestId><snapshotSet>"
                "<item><snapshotId>snap-1</snapshotId><volumeId>vol-1</volumeId><status>completed</status>"
                "<startTime>2026-11-21T03:00:12.345Z</startTime><progress>100%</progress>"
                "<volumeSize>-8</volumeSize><encrypted>true</encrypted>"
                "<tagSet><item><key>cdp:managed-by</key><value>cdpd</value></item></tagSet></item>"
                "<item><snapshotId>snap-2</snapshotId><status>pending</status><volumeSize>2147483647</volumeSize></item>"
                "</snapshotSet><nextToken>n</nextToken></DescribeSnapshotsResponse>";
        TestSnapshotPage page = {};

        (void) state;
        assert_int_equal(ec2_xml_parse(body, strlen(body), EC2_XML_ROOTS("DescribeSnapshotsResponse"),
                                       &test_snapshot_page_schema, &page), 0);
        assert_int_equal(page.n_snapshots, 2);
        assert_string_equal(page.snapshots[0].id, "snap-1");
        assert_string_equal(page.snapshots[0].state, "completed");
        assert_int_equal(page.snapshots[0].volume_size, -8);
        assert_int_equal(page.snapshots[0].start_time, test_utc(2026, 11, 21, 3, 0, 12));
        assert_true(page.snapshots[0].encrypted);
        assert_string_equal(ec2_tags_get(page.snapshots[0].tags, page.snapshots[0].n_tags, "cdp:managed-by"), "cdpd");
        assert_int_equal(page.snapshots[1].volume_size, 2147483647);
        assert_int_equal(page.snapshots[1].start_time, 0);    /* no init hook: zero */
        assert_false(page.snapshots[1].encrypted);
        assert_string_equal(page.next_token, "n");
        ec2_xml_item_done(&test_snapshot_page_schema, &page);
        assert_null(page.snapshots);
        assert_int_equal(page.n_snapshots, 0);

        /* Any root when roots is NULL, but never an error root. */
        assert_int_equal(ec2_xml_parse(body, strlen(body), NULL, &test_snapshot_page_schema, &page), 0);
        ec2_xml_item_done(&test_snapshot_page_schema, &page);
        assert_int_equal(ec2_xml_parse("<Response/>", 11, NULL, &test_snapshot_page_schema, &page), -EBADMSG);
        assert_int_equal(ec2_xml_parse("<Error/>", 8, NULL, &test_snapshot_page_schema, &page), -EBADMSG);
}

static void test_ec2_xml_parse__int_out_of_range__ebadmsg(void **state) {
        static const char *const bad[] = { "2147483648", "-2147483649", "", "-", "+1", " 1", "1 ", "0x10", "99999999999999999999" };
        static const char *const good[] = { "0", "-2147483648", "007" };
        TestSnapshotPage page = {};

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *body = test_strf("<R><snapshotSet><item><volumeSize>%s</volumeSize></item></snapshotSet></R>", bad[i]);
                int r = ec2_xml_parse(body, strlen(body), NULL, &test_snapshot_page_schema, &page);
                if (r != -EBADMSG)
                        fail_msg("'%s' -> %d", bad[i], r);
        }
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_free_ char *body = test_strf("<R><snapshotSet><item><volumeSize>%s</volumeSize></item></snapshotSet></R>", good[i]);
                assert_int_equal(ec2_xml_parse(body, strlen(body), NULL, &test_snapshot_page_schema, &page), 0);
                assert_int_equal(page.snapshots[0].volume_size, (int) strtol(good[i], NULL, 10));
                ec2_xml_item_done(&test_snapshot_page_schema, &page);
        }
}

/* ---- timestamps ---- */

static void test_ec2_parse_timestamp__valid_forms__utc_seconds(void **state) {
        static const struct {
                const char *s;
                int y, mo, d, h, mi, sec;
        } cases[] = {
                { "2026-11-21T10:00:00.000Z", 2026, 11, 21, 10, 0, 0 },
                { "2026-11-21T10:00:00Z", 2026, 11, 21, 10, 0, 0 },
                { "1970-01-01T00:00:00Z", 1970, 1, 1, 0, 0, 0 },
                { "2000-02-29T12:34:56.7Z", 2000, 2, 29, 12, 34, 56 },
                { "2024-02-29T23:59:59.123456789Z", 2024, 2, 29, 23, 59, 59 },
                { "2100-03-01T00:00:00Z", 2100, 3, 1, 0, 0, 0 },
                { "2038-01-19T03:14:08Z", 2038, 1, 19, 3, 14, 8 },
                { "9999-12-31T23:59:59Z", 9999, 12, 31, 23, 59, 59 },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                time_t t = 0;

                assert_int_equal(ec2_parse_timestamp(cases[i].s, &t), 0);
                assert_int_equal(t, test_utc(cases[i].y, cases[i].mo, cases[i].d, cases[i].h, cases[i].mi, cases[i].sec));
        }
}

static void test_ec2_parse_timestamp__invalid_forms__einval_untouched(void **state) {
        static const char *const bad[] = {
                "", "2026", "2026-11-21", "2026-11-21T10:00", "2026-11-21T10:00:00",
                "2026-11-21 10:00:00Z", "2026-11-21t10:00:00Z", "2026-11-21T10:00:00z",
                "2026-11-21T10:00:00+00:00", "2026-11-21T10:00:00.Z", "2026-11-21T10:00:00.1234567890Z",
                "2026-11-21T10:00:00Z ", " 2026-11-21T10:00:00Z", "2026-13-01T00:00:00Z",
                "2026-00-01T00:00:00Z", "2026-01-00T00:00:00Z", "2026-01-32T00:00:00Z",
                "2026-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
                "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z", "2026-01-01T00:00:60Z",
                "1969-12-31T23:59:59Z", "2026-1-01T00:00:00Z", "+026-01-01T00:00:00Z",
                "2026-01-01T00:00:00ZZ", "２０２６-01-01T00:00:00Z",
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                time_t t = 12345;
                int r = ec2_parse_timestamp(bad[i], &t);

                if (r != -EINVAL)
                        fail_msg("'%s' -> %d", bad[i], r);
                assert_int_equal(t, 12345);
        }
        assert_int_equal(ec2_parse_timestamp(NULL, &(time_t) { 0 }), -EINVAL);
}

static void test_ec2_free_functions__null__safe(void **state) {
        (void) state;
        assert_null(ec2_tag_page_free(NULL));
        assert_null(ec2_instance_page_free(NULL));
        assert_null(ec2_interface_page_free(NULL));
        assert_null(ec2_xml_parser_free(NULL));
        ec2_error_done(NULL);
        ec2_tag_done(NULL);
        ec2_private_ip_done(NULL);
        ec2_network_interface_done(NULL);
        ec2_block_device_done(NULL);
        ec2_instance_done(NULL);
        ec2_xml_item_done(&ec2_instance_schema, NULL);
}

static void test_ec2_instance_done__embedded_item__all_released(void **state) {
        _cleanup_(ec2_instance_page_freep) Ec2InstancePage *page = NULL;
        _cleanup_free_ char *body = NULL;
        Ec2Instance taken;
        size_t len;

        (void) state;
        body = test_fixture_read("describe-instances.xml", &len);
        assert_int_equal(ec2_parse_describe_instances(body, len, &page), 0);
        /* Take the first instance out of the page, release it on its own. */
        taken = page->instances[0];
        memmove(&page->instances[0], &page->instances[1], 2 * sizeof(Ec2Instance));
        page->n_instances--;
        assert_int_equal(taken.n_interfaces, 2);
        ec2_instance_done(&taken);
        assert_null(taken.id);
        assert_null(taken.interfaces);
        assert_int_equal(taken.n_interfaces, 0);
        assert_string_equal(page->instances[0].id, "i-0598c7d356eba48d7");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ec2_parse_describe_tags__aws_example__all_tags),
                cmocka_unit_test(test_ec2_parse_describe_tags__last_page__no_tags_no_token),
                cmocka_unit_test(test_ec2_parse_describe_tags__prefixed_namespace__same_result),
                cmocka_unit_test(test_ec2_parse_describe_tags__item_not_direct_child__ignored),
                cmocka_unit_test(test_ec2_parse_describe_tags__leaf_text__kept_verbatim),
                cmocka_unit_test(test_ec2_parse_describe_instances__two_reservations__flattened_instances),
                cmocka_unit_test(test_ec2_parse_describe_instances__no_launch_time__time_unset),
                cmocka_unit_test(test_ec2_parse_describe_instances__items_outside_instances_set__not_instances),
                cmocka_unit_test(test_ec2_parse_describe_network_interfaces__aws_example__all_fields),
                cmocka_unit_test(test_ec2_parse_error__aws_error_documents__code_message_request_id),
                cmocka_unit_test(test_ec2_parse_error__entity_in_message__decoded),
                cmocka_unit_test(test_ec2_parse_error__minimal_document__message_and_id_null),
                cmocka_unit_test(test_ec2_parse_error__not_an_error_document__ebadmsg_untouched),
                cmocka_unit_test(test_ec2_parse_describe__error_document__ebadmsg_untouched),
                cmocka_unit_test(test_ec2_parse_describe__wrong_response_type__ebadmsg),
                cmocka_unit_test(test_ec2_parse_simple__return_values__request_id_and_bool),
                cmocka_unit_test(test_ec2_parse_simple__missing_or_bad_return__ebadmsg),
                cmocka_unit_test(test_ec2_parse__every_truncation__fails_cleanly),
                cmocka_unit_test(test_ec2_parse__attacks_and_malformed__ebadmsg),
                cmocka_unit_test(test_ec2_parse__invalid_values__ebadmsg),
                cmocka_unit_test(test_ec2_parse_describe_tags__item_cap__ok_at_cap_e2big_above),
                cmocka_unit_test(test_ec2_parse_describe_instances__nested_and_total_caps__e2big),
                cmocka_unit_test(test_ec2_parse_describe_tags__too_deep__e2big),
                cmocka_unit_test(test_ec2_parse_describe_tags__huge_value__e2big),
                cmocka_unit_test(test_ec2_xml_parser_feed__byte_by_byte__equals_one_shot),
                cmocka_unit_test(test_ec2_xml_parser_finish__truncated__result_untouched),
                cmocka_unit_test(test_ec2_xml_parse__custom_schema__describe_snapshots),
                cmocka_unit_test(test_ec2_xml_parse__int_out_of_range__ebadmsg),
                cmocka_unit_test(test_ec2_parse_timestamp__valid_forms__utc_seconds),
                cmocka_unit_test(test_ec2_parse_timestamp__invalid_forms__einval_untouched),
                cmocka_unit_test(test_ec2_free_functions__null__safe),
                cmocka_unit_test(test_ec2_instance_done__embedded_item__all_released),
        };

        setvbuf(stdout, NULL, _IONBF, 0);
        return cmocka_run_group_tests_name("ec2-xml", tests, NULL, NULL);
}
