/* SPDX-License-Identifier: MIT */
/* Fixture tests of the HA answer parsers (lib/core/ec2-xml-ha.c):
 * DescribeRouteTables, DescribeAddresses, AssociateAddress,
 * AssignPrivateIpAddresses, including truncated and malformed input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cdp/ec2-ha.h"
#include "cdp/strbuf.h"
#include "test-data.h"

/* ---- DescribeRouteTables ---- */

static void test_describe_route_tables__fixture__tables_and_routes(void **state) {
        _cleanup_(ec2_route_table_page_freep) Ec2RouteTablePage *p = NULL;
        _cleanup_free_ char *body = NULL;
        const Ec2RouteTable *t;
        const Ec2Route *r;
        size_t len;

        (void) state;
        body = test_fixture_read("ha-describe-route-tables.xml", &len);
        assert_int_equal(ec2_parse_describe_route_tables(body, len, &p), 0);
        assert_string_equal(p->request_id, "6f570b0b-9c18-4b07-bdec-73740dcf861aEXAMPLE");
        assert_null(p->next_token);
        assert_int_equal(p->n_tables, 2);

        t = &p->tables[0];
        assert_string_equal(t->id, "rtb-0aaa1111bbbb22223");
        assert_string_equal(t->vpc_id, "vpc-0aaaa1111bbbb2222");
        assert_string_equal(t->owner_id, "123456789012");
        assert_int_equal(t->n_routes, 4);
        /* the association's routeTableId is not mistaken for the table's */
        assert_int_equal(t->n_tags, 1);
        assert_string_equal(t->tags[0].key, "Name");
        assert_string_equal(t->tags[0].value, "private-a");

        r = &t->routes[0];
        assert_string_equal(r->destination_cidr, "10.0.0.0/16");
        assert_string_equal(r->gateway_id, "local");
        assert_string_equal(r->origin, "CreateRouteTable");
        assert_string_equal(ec2_route_target(r), "local");

        r = &t->routes[1];
        assert_string_equal(r->destination_cidr, "192.168.100.10/32");
        assert_string_equal(r->instance_id, "i-0fedcba9876543210");
        assert_string_equal(r->network_interface_id, "eni-0a1b2c3d4e5f60002");
        assert_string_equal(r->state, "active");
        assert_string_equal(r->origin, "CreateRoute");
        /* the interface wins over the instance */
        assert_string_equal(ec2_route_target(r), "eni-0a1b2c3d4e5f60002");

        r = &t->routes[2];
        assert_null(r->destination_cidr);
        assert_string_equal(r->destination_ipv6_cidr, "::/0");
        assert_string_equal(ec2_route_target(r), "eigw-015e0e244e24dfe8a");

        assert_ptr_equal(ec2_route_table_find(t, "192.168.100.10/32"), &t->routes[1]);
        assert_ptr_equal(ec2_route_table_find(t, "0.0.0.0/0"), &t->routes[3]);
        assert_null(ec2_route_table_find(t, "192.168.100.10/31"));
        assert_null(ec2_route_table_find(t, "::/0"));

        t = &p->tables[1];
        assert_string_equal(t->id, "rtb-0ccc3333dddd44445");
        assert_int_equal(t->n_routes, 2);
        assert_int_equal(t->n_tags, 0);
        assert_string_equal(t->routes[1].state, "blackhole");
        assert_null(t->routes[1].instance_id);

        assert_ptr_equal(ec2_route_table_page_find(p, "rtb-0ccc3333dddd44445"), &p->tables[1]);
        assert_null(ec2_route_table_page_find(p, "rtb-0ccc3333dddd4444"));
        assert_null(ec2_route_table_page_find(NULL, "rtb-0ccc3333dddd44445"));
}

static void test_describe_route_tables__empty_set__zero_tables(void **state) {
        _cleanup_(ec2_route_table_page_freep) Ec2RouteTablePage *p = NULL;
        _cleanup_free_ char *body = NULL;
        size_t len;

        (void) state;
        body = test_fixture_read("ha-describe-route-tables-empty.xml", &len);
        assert_int_equal(ec2_parse_describe_route_tables(body, len, &p), 0);
        assert_int_equal(p->n_tables, 0);
        assert_null(p->tables);
        assert_string_equal(p->request_id, "a7e5f1c8-1d55-4c2b-9f1e-2a3b4c5d6e7f");
}

static void test_describe_route_tables__bad_input__ebadmsg_and_untouched(void **state) {
        const char *const names[] = {
                "ha-describe-route-tables-truncated.xml", /* cut in the middle */
                "ha-describe-route-tables-no-id.xml",     /* an item without routeTableId */
                "ha-describe-addresses.xml",              /* another answer's root */
                "error-unauthorized-operation.xml",       /* an error document */
                "malformed-html-gateway.xml",
                "attack-external-entity.xml",
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                Ec2RouteTablePage *sentinel = (Ec2RouteTablePage *) 0x1, *p = sentinel;
                _cleanup_free_ char *body = NULL;
                size_t len;

                body = test_fixture_read(names[i], &len);
                assert_int_equal(ec2_parse_describe_route_tables(body, len, &p), -EBADMSG);
                assert_ptr_equal(p, sentinel);
        }
}

static void test_describe_route_tables__every_prefix__never_succeeds(void **state) {
        _cleanup_free_ char *body = NULL;
        size_t len;

        (void) state;
        body = test_fixture_read("ha-describe-route-tables.xml", &len);
        /* Every proper prefix of the document is refused, never half-read. */
        for (size_t n = 0; n + 1 < len; n++) {
                Ec2RouteTablePage *p = NULL;
                int r = ec2_parse_describe_route_tables(body, n, &p);
                assert_true(r < 0);
                assert_null(p);
        }
}

/* ---- DescribeAddresses ---- */

static void test_describe_addresses__fixture__associated_and_free(void **state) {
        _cleanup_(ec2_address_page_freep) Ec2AddressPage *p = NULL;
        _cleanup_free_ char *body = NULL;
        const Ec2Address *a;
        size_t len;

        (void) state;
        body = test_fixture_read("ha-describe-addresses.xml", &len);
        assert_int_equal(ec2_parse_describe_addresses(body, len, &p), 0);
        assert_string_equal(p->request_id, "f7de5e98-491a-4c19-a92d-908d6EXAMPLE");
        assert_int_equal(p->n_addresses, 2);

        a = &p->addresses[0];
        assert_string_equal(a->public_ip, "203.0.113.10");
        assert_string_equal(a->allocation_id, "eipalloc-0abc123def4567890");
        assert_string_equal(a->association_id, "eipassoc-0fc5ca0951EXAMPLE");
        assert_string_equal(a->domain, "vpc");
        assert_string_equal(a->instance_id, "i-0fedcba9876543210");
        assert_string_equal(a->network_interface_id, "eni-0a1b2c3d4e5f60002");
        assert_string_equal(a->network_interface_owner_id, "123456789012");
        assert_string_equal(a->private_ip, "10.0.2.10");
        assert_int_equal(a->n_tags, 1);
        assert_string_equal(a->tags[0].value, "web-vip");

        a = &p->addresses[1];
        assert_string_equal(a->allocation_id, "eipalloc-08229861aEXAMPLE");
        assert_null(a->association_id);
        assert_null(a->network_interface_id);
        assert_null(a->instance_id);

        assert_ptr_equal(ec2_address_page_find(p, "eipalloc-08229861aEXAMPLE"), &p->addresses[1]);
        assert_null(ec2_address_page_find(p, "eipalloc-0000000000000000"));
}

static void test_describe_addresses__bad_input__ebadmsg(void **state) {
        const char *const names[] = {
                "ha-describe-addresses-no-ids.xml",       /* neither publicIp nor allocationId */
                "ha-describe-route-tables.xml",
                "error-request-limit-exceeded.xml",
                "malformed-mismatched-tags.xml",
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                Ec2AddressPage *p = NULL;
                _cleanup_free_ char *body = NULL;
                size_t len;

                body = test_fixture_read(names[i], &len);
                assert_int_equal(ec2_parse_describe_addresses(body, len, &p), -EBADMSG);
                assert_null(p);
        }
}

static void test_describe_addresses__every_prefix__never_succeeds(void **state) {
        _cleanup_free_ char *body = NULL;
        size_t len;

        (void) state;
        body = test_fixture_read("ha-describe-addresses.xml", &len);
        for (size_t n = 0; n + 1 < len; n++) {
                Ec2AddressPage *p = NULL;
                assert_true(ec2_parse_describe_addresses(body, n, &p) < 0);
                assert_null(p);
        }
}

/* ---- AssociateAddress ---- */

static void test_associate_address__fixtures__association_id(void **state) {
        const char *const names[] = { "ha-associate-address.xml", "associate-address.xml" };
        const char *const ids[] = { "eipassoc-0fc5ca0951EXAMPLE", "eipassoc-fc5ca095" };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_(ec2_associate_address_result_done) Ec2AssociateAddressResult r = {};
                _cleanup_free_ char *body = NULL;
                size_t len;

                body = test_fixture_read(names[i], &len);
                assert_int_equal(ec2_parse_associate_address(body, len, &r), 0);
                assert_string_equal(r.request_id, "59dbff89-35bd-4eac-99ed-be587EXAMPLE");
                assert_string_equal(r.association_id, ids[i]);
        }
}

static void test_associate_address__wrong_documents__ebadmsg(void **state) {
        const char *const names[] = {
                "replace-route.xml", "error-unauthorized-operation.xml", "malformed-two-roots.xml",
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                Ec2AssociateAddressResult r = { .request_id = (char *) "untouched" };
                _cleanup_free_ char *body = NULL;
                size_t len;

                body = test_fixture_read(names[i], &len);
                assert_int_equal(ec2_parse_associate_address(body, len, &r), -EBADMSG);
                assert_string_equal(r.request_id, "untouched");
                assert_null(r.association_id);
        }
}

static void test_associate_address__no_request_id__ebadmsg(void **state) {
        static const char body[] =
                "<AssociateAddressResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
                "<return>true</return><associationId>eipassoc-1</associationId></AssociateAddressResponse>";
        Ec2AssociateAddressResult r = {};

        (void) state;
        assert_int_equal(ec2_parse_associate_address(body, strlen(body), &r), -EBADMSG);
        assert_null(r.request_id);
}

/* ---- AssignPrivateIpAddresses ---- */

static void test_assign_private_ips__fixture__assigned_list(void **state) {
        _cleanup_(ec2_assign_private_ips_result_done) Ec2AssignPrivateIpsResult r = {};
        _cleanup_free_ char *body = NULL;
        size_t len;

        (void) state;
        body = test_fixture_read("ha-assign-private-ip-addresses.xml", &len);
        assert_int_equal(ec2_parse_assign_private_ip_addresses(body, len, &r), 0);
        assert_string_equal(r.request_id, "3fb591ba-558c-48f8-ae6b-c2f9d6d06425");
        assert_string_equal(r.network_interface_id, "eni-0a1b2c3d4e5f60001");
        assert_int_equal(r.n_assigned, 2);
        assert_string_equal(r.assigned[0].address, "10.0.1.50");
        assert_string_equal(r.assigned[1].address, "10.0.1.51");
}

static void test_assign_private_ips__minimal_answer__empty_list(void **state) {
        static const char body[] =
                "<AssignPrivateIpAddressesResponse><requestId>r-1</requestId><return>true</return>"
                "</AssignPrivateIpAddressesResponse>";
        _cleanup_(ec2_assign_private_ips_result_done) Ec2AssignPrivateIpsResult r = {};

        (void) state;
        assert_int_equal(ec2_parse_assign_private_ip_addresses(body, strlen(body), &r), 0);
        assert_string_equal(r.request_id, "r-1");
        assert_null(r.network_interface_id);
        assert_int_equal(r.n_assigned, 0);
}

static void test_assign_private_ips__bad_input__ebadmsg(void **state) {
        static const char item_without_address[] =
                "<AssignPrivateIpAddressesResponse><requestId>r-1</requestId>"
                "<assignedPrivateIpAddressesSet><item/></assignedPrivateIpAddressesSet>"
                "</AssignPrivateIpAddressesResponse>";
        const char *const names[] = {
                "ha-assign-private-ip-addresses-no-request-id.xml",
                "ha-associate-address.xml",
                "error-invalid-route-not-found.xml",
                "malformed-invalid-utf8.xml",
        };
        Ec2AssignPrivateIpsResult r = {};

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *body = NULL;
                size_t len;

                body = test_fixture_read(names[i], &len);
                assert_int_equal(ec2_parse_assign_private_ip_addresses(body, len, &r), -EBADMSG);
                assert_null(r.request_id);
        }
        assert_int_equal(ec2_parse_assign_private_ip_addresses(item_without_address, strlen(item_without_address),
                                                               &r),
                         -EBADMSG);
        assert_null(r.request_id);
}

static void test_parsers__null_arguments__einval(void **state) {
        static const char body[] = "<DescribeAddressesResponse/>";

        (void) state;
        assert_int_equal(ec2_parse_describe_route_tables(body, strlen(body), NULL), -EINVAL);
        assert_int_equal(ec2_parse_describe_addresses(body, strlen(body), NULL), -EINVAL);
        assert_int_equal(ec2_parse_associate_address(body, strlen(body), NULL), -EINVAL);
        assert_int_equal(ec2_parse_assign_private_ip_addresses(body, strlen(body), NULL), -EINVAL);
        assert_null(ec2_route_target(NULL));
        assert_null(ec2_route_table_find(NULL, "10.0.0.0/8"));
        /* NULL-safe destructors */
        assert_null(ec2_route_table_page_free(NULL));
        assert_null(ec2_address_page_free(NULL));
}

static void test_route_target__precedence__interface_then_instance_then_gateways(void **state) {
        Ec2Route r = {};

        (void) state;
        assert_null(ec2_route_target(&r));
        r.gateway_id = (char *) "igw-1";
        assert_string_equal(ec2_route_target(&r), "igw-1");
        r.nat_gateway_id = (char *) "nat-1";
        assert_string_equal(ec2_route_target(&r), "nat-1");
        r.instance_id = (char *) "i-1";
        assert_string_equal(ec2_route_target(&r), "i-1");
        r.network_interface_id = (char *) "";
        assert_string_equal(ec2_route_target(&r), "i-1");
        r.network_interface_id = (char *) "eni-1";
        assert_string_equal(ec2_route_target(&r), "eni-1");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_describe_route_tables__fixture__tables_and_routes),
                cmocka_unit_test(test_describe_route_tables__empty_set__zero_tables),
                cmocka_unit_test(test_describe_route_tables__bad_input__ebadmsg_and_untouched),
                cmocka_unit_test(test_describe_route_tables__every_prefix__never_succeeds),
                cmocka_unit_test(test_describe_addresses__fixture__associated_and_free),
                cmocka_unit_test(test_describe_addresses__bad_input__ebadmsg),
                cmocka_unit_test(test_describe_addresses__every_prefix__never_succeeds),
                cmocka_unit_test(test_associate_address__fixtures__association_id),
                cmocka_unit_test(test_associate_address__wrong_documents__ebadmsg),
                cmocka_unit_test(test_associate_address__no_request_id__ebadmsg),
                cmocka_unit_test(test_assign_private_ips__fixture__assigned_list),
                cmocka_unit_test(test_assign_private_ips__minimal_answer__empty_list),
                cmocka_unit_test(test_assign_private_ips__bad_input__ebadmsg),
                cmocka_unit_test(test_parsers__null_arguments__einval),
                cmocka_unit_test(test_route_target__precedence__interface_then_instance_then_gateways),
        };
        return cmocka_run_group_tests_name("ec2-xml-ha", tests, NULL, NULL);
}
