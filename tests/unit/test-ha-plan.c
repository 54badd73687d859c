/* SPDX-License-Identifier: MIT */
/* Unit tests of the takeover planner (lib/core/ha-plan.c): targets from the
 * tag policy, describe queries, observations of described state, the write
 * set (check before change, CreateRoute vs ReplaceRoute, the
 * source/destination check only while on, batched private IPs), outcomes of
 * writes, the verification predicate and the summary. Described state comes
 * from real EC2 XML answers through the typed parsers. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cdp/ha-plan.h"
#include "cdp/strbuf.h"
#include "test-data.h"

#define ENI "eni-0a1b2c3d4e5f60001"
#define OTHER_ENI "eni-0a1b2c3d4e5f60002"
#define INSTANCE "i-0123456789abcdef0"
#define OTHER_INSTANCE "i-0fedcba9876543210"
#define RTB_A "rtb-0aaa1111bbbb22223"
#define RTB_B "rtb-0ccc3333dddd44445"
#define EIP "eipalloc-0abc123def4567890"
#define VIP "192.168.100.10/32"

/* ---- helpers ---- */

static Policy *policy_from(const char *routing, const char *floating) {
        PolicyTag tags[2];
        size_t n = 0;
        Policy *p = NULL;

        if (routing)
                tags[n++] = (PolicyTag) { "cdp:routing-ha", routing };
        if (floating)
                tags[n++] = (PolicyTag) { "cdp:floating-ip", floating };
        assert_int_equal(policy_parse(tags, n, "cdp:", &p), 0);
        return p;
}

static HaTargetSet *set_from(const char *routing, const char *floating, HaSelect sel) {
        _cleanup_(policy_freep) Policy *p = policy_from(routing, floating);
        HaTargetSet *s = NULL;

        assert_int_equal(ha_target_set_new(p, sel, ENI, INSTANCE, &s), 0);
        return s;
}

static HaTargetSet *standard_set(void) {
        return set_from(VIP "@" RTB_A "+" RTB_B, EIP ",10.0.1.50,10.0.1.51", HA_SELECT_BOTH);
}

static char *query_body(const Ec2Query *q) {
        StrBuf b = STRBUF_INIT(0);

        assert_non_null(q);
        assert_int_equal(ec2_query_encode(q, &b), 0);
        return strbuf_steal(&b);
}

/* A route <item> of DescribeRouteTables. */
static char *route_xml(const char *cidr, const char *eni, const char *instance, const char *state) {
        return test_strf("<item><destinationCidrBlock>%s</destinationCidrBlock>%s%s%s%s%s%s<state>%s</state>"
                    "<origin>CreateRoute</origin></item>",
                    cidr, instance ? "<instanceId>" : "", instance ?: "", instance ? "</instanceId>" : "",
                    eni ? "<networkInterfaceId>" : "", eni ?: "", eni ? "</networkInterfaceId>" : "", state);
}

static Ec2RouteTablePage *route_tables(const char *routes_a, const char *routes_b) {
        _cleanup_free_ char *body = NULL;
        Ec2RouteTablePage *p = NULL;

        body = test_strf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<DescribeRouteTablesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
                    "<requestId>req-rtb</requestId><routeTableSet>"
                    "%s%s%s%s%s%s"
                    "</routeTableSet></DescribeRouteTablesResponse>",
                    routes_a ? "<item><routeTableId>" RTB_A "</routeTableId><routeSet>"
                               "<item><destinationCidrBlock>10.0.0.0/16</destinationCidrBlock>"
                               "<gatewayId>local</gatewayId><state>active</state></item>" : "",
                    routes_a ?: "", routes_a ? "</routeSet></item>" : "",
                    routes_b ? "<item><routeTableId>" RTB_B "</routeTableId><routeSet>" : "",
                    routes_b ?: "", routes_b ? "</routeSet></item>" : "");
        assert_int_equal(ec2_parse_describe_route_tables(body, strlen(body), &p), 0);
        return p;
}

static Ec2AddressPage *addresses(const char *items) {
        _cleanup_free_ char *body = NULL;
        Ec2AddressPage *p = NULL;

        body = test_strf("<DescribeAddressesResponse><requestId>req-addr</requestId><addressesSet>%s"
                    "</addressesSet></DescribeAddressesResponse>", items);
        assert_int_equal(ec2_parse_describe_addresses(body, strlen(body), &p), 0);
        return p;
}

static Ec2InterfacePage *interfaces(const char *items) {
        _cleanup_free_ char *body = NULL;
        Ec2InterfacePage *p = NULL;

        body = test_strf("<DescribeNetworkInterfacesResponse><requestId>req-eni</requestId><networkInterfaceSet>%s"
                    "</networkInterfaceSet></DescribeNetworkInterfacesResponse>", items);
        assert_int_equal(ec2_parse_describe_network_interfaces(body, strlen(body), &p), 0);
        return p;
}

/* Our interface with the source/destination check as given and these
 * secondary addresses. */
static char *eni_xml(const char *id, const char *primary, bool check, const char *secondary1, const char *secondary2) {
        return test_strf("<item><networkInterfaceId>%s</networkInterfaceId><privateIpAddress>%s</privateIpAddress>"
                    "<sourceDestCheck>%s</sourceDestCheck><privateIpAddressesSet>"
                    "<item><privateIpAddress>%s</privateIpAddress><primary>true</primary></item>"
                    "%s%s%s%s%s%s</privateIpAddressesSet></item>",
                    id, primary, check ? "true" : "false", primary,
                    secondary1 ? "<item><privateIpAddress>" : "", secondary1 ?: "",
                    secondary1 ? "</privateIpAddress><primary>false</primary></item>" : "",
                    secondary2 ? "<item><privateIpAddress>" : "", secondary2 ?: "",
                    secondary2 ? "</privateIpAddress><primary>false</primary></item>" : "");
}

typedef struct World {
        Ec2RouteTablePage *rtb;
        Ec2AddressPage *addr;
        Ec2InterfacePage *eni;
        Ec2InterfacePage *holders;
        HaDescribed d;
} World;

static void world_done(World *w) {
        ec2_route_table_page_free(w->rtb);
        ec2_address_page_free(w->addr);
        ec2_interface_page_free(w->eni);
        ec2_interface_page_free(w->holders);
        *w = (World) {};
}

static void world_set(World *w) {
        w->d = (HaDescribed) { w->rtb, w->addr, w->eni, w->holders };
}

/* Everything at the other instance: routes to its interface, the EIP
 * associated with it, the private IPs on it, our check on. */
static void world_elsewhere(World *w) {
        _cleanup_free_ char *ra = route_xml(VIP, OTHER_ENI, OTHER_INSTANCE, "active");
        _cleanup_free_ char *rb = route_xml(VIP, OTHER_ENI, OTHER_INSTANCE, "active");
        _cleanup_free_ char *ours = eni_xml(ENI, "10.0.1.10", true, NULL, NULL);
        _cleanup_free_ char *theirs = eni_xml(OTHER_ENI, "10.0.1.20", true, "10.0.1.50", "10.0.1.51");
        _cleanup_free_ char *both = test_strf("%s%s", ours, theirs);

        w->rtb = route_tables(ra, rb);
        w->addr = addresses("<item><publicIp>203.0.113.10</publicIp><allocationId>" EIP "</allocationId>"
                            "<associationId>eipassoc-1</associationId><instanceId>" OTHER_INSTANCE "</instanceId>"
                            "<networkInterfaceId>" OTHER_ENI "</networkInterfaceId></item>");
        w->eni = interfaces(ours);
        w->holders = interfaces(both);
        world_set(w);
}

static void world_here(World *w) {
        _cleanup_free_ char *ra = route_xml(VIP, ENI, INSTANCE, "active");
        _cleanup_free_ char *rb = route_xml(VIP, ENI, NULL, "active");
        _cleanup_free_ char *ours = eni_xml(ENI, "10.0.1.10", false, "10.0.1.50", "10.0.1.51");

        w->rtb = route_tables(ra, rb);
        w->addr = addresses("<item><publicIp>203.0.113.10</publicIp><allocationId>" EIP "</allocationId>"
                            "<associationId>eipassoc-2</associationId><instanceId>" INSTANCE "</instanceId>"
                            "<networkInterfaceId>" ENI "</networkInterfaceId></item>");
        w->eni = interfaces(ours);
        w->holders = interfaces(ours);
        world_set(w);
}

static void observe_all(const HaTargetSet *s, const HaDescribed *d, HaObservation *obs) {
        for (size_t i = 0; i < s->n_targets; i++)
                ha_observe(s, i, d, &obs[i]);
}

/* ---- selection and targets ---- */

static void test_select__strings__parsed_or_refused(void **state) {
        HaSelect s = 0;

        (void) state;
        assert_int_equal(ha_select_from_string(NULL, &s), 0);
        assert_int_equal(s, HA_SELECT_BOTH);
        assert_int_equal(ha_select_from_string("", &s), 0);
        assert_int_equal(s, HA_SELECT_BOTH);
        assert_int_equal(ha_select_from_string("floating-ip", &s), 0);
        assert_int_equal(s, HA_SELECT_FLOATING_IP);
        assert_int_equal(ha_select_from_string("routing-ha", &s), 0);
        assert_int_equal(s, HA_SELECT_ROUTING_HA);
        s = HA_SELECT_ROUTING_HA;
        assert_int_equal(ha_select_from_string("Routing-HA", &s), -EINVAL);
        assert_int_equal(ha_select_from_string("both", &s), -EINVAL);
        assert_int_equal(s, HA_SELECT_ROUTING_HA);
        assert_string_equal(ha_select_to_string(HA_SELECT_BOTH), "all");
        assert_string_equal(ha_select_to_string(HA_SELECT_FLOATING_IP), "floating-ip");
}

static void test_target_set__both_policies__check_routes_eips_private_ips_in_order(void **state) {
        _cleanup_(ha_target_set_freep) HaTargetSet *s =
                set_from(VIP "@" RTB_A "+" RTB_B ",10.10.0.0/16@" RTB_A, "10.0.1.50," EIP, HA_SELECT_BOTH);
        char name[HA_TARGET_NAME_MAX];

        (void) state;
        assert_int_equal(s->n_targets, 6);
        assert_int_equal(s->enabled, HA_SELECT_BOTH);
        assert_int_equal(s->invalid, 0);
        assert_string_equal(s->interface_id, ENI);
        assert_string_equal(s->instance_id, INSTANCE);

        assert_int_equal(s->targets[0].kind, HA_TARGET_SOURCE_DEST_CHECK);
        assert_string_equal(s->targets[0].id, ENI);
        assert_int_equal(s->targets[1].kind, HA_TARGET_ROUTE);
        assert_string_equal(s->targets[1].id, RTB_A);
        assert_string_equal(s->targets[1].cidr, VIP);
        assert_int_equal(s->targets[1].prefix, 32);
        assert_string_equal(s->targets[2].id, RTB_B);
        assert_string_equal(s->targets[3].cidr, "10.10.0.0/16");
        /* Elastic IPs first among floating targets, though written second */
        assert_int_equal(s->targets[4].kind, HA_TARGET_ELASTIC_IP);
        assert_string_equal(s->targets[4].id, EIP);
        assert_int_equal(s->targets[5].kind, HA_TARGET_PRIVATE_IP);
        assert_string_equal(s->targets[5].id, "10.0.1.50");
        assert_int_equal(s->targets[5].address.s_addr, inet_addr("10.0.1.50"));

        assert_string_equal(ha_target_pattern(&s->targets[0]), "routing-ha");
        assert_string_equal(ha_target_pattern(&s->targets[4]), "floating-ip");
        assert_string_equal(ha_target_type(&s->targets[0]), "source-dest-check");
        assert_string_equal(ha_target_type(&s->targets[5]), "private-ip");
        ha_target_name(&s->targets[1], name, sizeof(name));
        assert_string_equal(name, "route " VIP " in " RTB_A);
        ha_target_name(&s->targets[4], name, sizeof(name));
        assert_string_equal(name, "Elastic IP " EIP);
        ha_target_name(&s->targets[0], name, 12);
        assert_string_equal(name, "source/dest");
}

static void test_target_set__one_policy_selected__only_its_targets(void **state) {
        _cleanup_(ha_target_set_freep) HaTargetSet *r = set_from(VIP "@" RTB_A, EIP, HA_SELECT_ROUTING_HA);
        _cleanup_(ha_target_set_freep) HaTargetSet *f = set_from(VIP "@" RTB_A, EIP, HA_SELECT_FLOATING_IP);
        _cleanup_(ha_target_set_freep) HaTargetSet *none = set_from(NULL, NULL, HA_SELECT_BOTH);

        (void) state;
        assert_int_equal(r->n_targets, 2);
        assert_int_equal(r->enabled, HA_SELECT_ROUTING_HA);
        assert_false(ha_target_set_has(r, HA_TARGET_ELASTIC_IP));
        assert_int_equal(f->n_targets, 1);
        assert_int_equal(f->targets[0].kind, HA_TARGET_ELASTIC_IP);
        /* no source/destination check without routes */
        assert_false(ha_target_set_has(f, HA_TARGET_SOURCE_DEST_CHECK));
        assert_int_equal(none->n_targets, 0);
        assert_int_equal(none->enabled, 0);
}

static void test_target_set__invalid_policy__flagged_and_no_targets(void **state) {
        _cleanup_(ha_target_set_freep) HaTargetSet *s =
                set_from("192.168.100.11/24@" RTB_A, EIP, HA_SELECT_BOTH);
        _cleanup_(policy_freep) Policy *p = policy_from(VIP "@" RTB_A, NULL);
        HaTargetSet *t = NULL;

        (void) state;
        /* host bits set: the routing policy is refused, the floating one kept */
        assert_int_equal(s->invalid, HA_SELECT_ROUTING_HA);
        assert_int_equal(s->enabled, HA_SELECT_FLOATING_IP);
        assert_int_equal(s->n_targets, 1);
        assert_int_equal(ha_target_set_new(p, 0, ENI, INSTANCE, &t), -EINVAL);
        assert_int_equal(ha_target_set_new(p, HA_SELECT_BOTH, NULL, INSTANCE, &t), -EINVAL);
        assert_null(t);
}

/* ---- describe queries ---- */

static void test_describe_query__standard_set__filters_and_our_interface(void **state) {
        _cleanup_(ha_target_set_freep) HaTargetSet *s =
                set_from(VIP "@" RTB_A "+" RTB_B ",10.10.0.0/16@" RTB_B, EIP ",10.0.1.50", HA_SELECT_BOTH);
        const char *const expected[_HA_DESCRIBE_MAX] = {
                [HA_DESCRIBE_ROUTE_TABLES] = ("Action=DescribeRouteTables&Version=2016-11-15"
                                              "&Filter.1.Name=route-table-id"
                                              "&Filter.1.Value.1=" RTB_A "&Filter.1.Value.2=" RTB_B),
                [HA_DESCRIBE_ADDRESSES] = ("Action=DescribeAddresses&Version=2016-11-15&Filter.1.Name=allocation-id"
                                           "&Filter.1.Value.1=" EIP),
                [HA_DESCRIBE_INTERFACE] = ("Action=DescribeNetworkInterfaces&Version=2016-11-15"
                                           "&NetworkInterfaceId.1=" ENI),
                [HA_DESCRIBE_HOLDERS] = ("Action=DescribeNetworkInterfaces&Version=2016-11-15"
                                         "&Filter.1.Name=addresses.private-ip-address&Filter.1.Value.1=10.0.1.50"),
        };

        (void) state;
        for (HaDescribeKind k = 0; k < _HA_DESCRIBE_MAX; k++) {
                _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
                _cleanup_free_ char *body = NULL;

                assert_int_equal(ha_describe_query(s, k, &q), 0);
                body = query_body(q);
                assert_string_equal(body, expected[k]);
                assert_true(ec2_query_is_idempotent(q));
        }
}

static void test_describe_query__elastic_ip_only__no_route_or_interface_call(void **state) {
        _cleanup_(ha_target_set_freep) HaTargetSet *s = set_from(NULL, EIP, HA_SELECT_BOTH);
        Ec2Query *q = (Ec2Query *) 0x1;

        (void) state;
        assert_int_equal(ha_describe_query(s, HA_DESCRIBE_ROUTE_TABLES, &q), 0);
        assert_null(q);
        q = (Ec2Query *) 0x1;
        assert_int_equal(ha_describe_query(s, HA_DESCRIBE_INTERFACE, &q), 0);
        assert_null(q);
        q = (Ec2Query *) 0x1;
        assert_int_equal(ha_describe_query(s, HA_DESCRIBE_HOLDERS, &q), 0);
        assert_null(q);
        assert_int_equal(ha_describe_query(s, _HA_DESCRIBE_MAX, &q), -EINVAL);
}

/* ---- observations ---- */

static void test_observe__everything_elsewhere__states_and_where(void **state) {
        _cleanup_(ha_target_set_freep) HaTargetSet *s = standard_set();
        _cleanup_(world_done) World w = {};
        HaObservation o[6];

        (void) state;
        world_elsewhere(&w);
        assert_int_equal(s->n_targets, 6);
        observe_all(s, &w.d, o);

        assert_int_equal(o[0].state, HA_STATE_ELSEWHERE);      /* check on */
        assert_string_equal(o[0].detail, "source/destination check is on");
        for (size_t i = 1; i <= 2; i++) {
                assert_int_equal(o[i].state, HA_STATE_ELSEWHERE);
                assert_string_equal(o[i].where, OTHER_ENI);
                assert_true(o[i].route_present);
        }
        assert_int_equal(o[3].state, HA_STATE_ELSEWHERE);
        assert_string_equal(o[3].where, OTHER_ENI);
        assert_string_equal(o[3].public_ip, "203.0.113.10");
        assert_int_equal(o[4].state, HA_STATE_ELSEWHERE);
        assert_string_equal(o[4].where, OTHER_ENI);
        assert_int_equal(o[5].state, HA_STATE_ELSEWHERE);
        assert_int_equal(ha_summary(s, o, HA_SELECT_BOTH), HA_SUMMARY_ELSEWHERE);
}

static void test_observe__everything_here__verified(void **state) {
        _cleanup_(ha_target_set_freep) HaTargetSet *s = standard_set();
        _cleanup_(world_done) World w = {};
        HaObservation o[6];

        (void) state;
        world_here(&w);
        observe_all(s, &w.d, o);
        for (size_t i = 0; i < 6; i++) {
                assert_int_equal(o[i].state, HA_STATE_HERE);
                assert_null(o[i].detail);
        }
        assert_int_equal(ha_summary(s, o, HA_SELECT_BOTH), HA_SUMMARY_HERE);
        assert_string_equal(ha_summary_to_string(HA_SUMMARY_HERE), "here");
}

static void test_observe__routes__absent_table_absent_route_blackhole(void **state) {
        _cleanup_(ha_target_set_freep) HaTargetSet *s = set_from(VIP "@" RTB_A "+" RTB_B, NULL, HA_SELECT_BOTH);
        _cleanup_free_ char *hole = route_xml(VIP, ENI, INSTANCE, "blackhole");
        _cleanup_(ec2_route_table_page_freep) Ec2RouteTablePage *only_a = route_tables(hole, NULL);
        _cleanup_(ec2_route_table_page_freep) Ec2RouteTablePage *no_route = route_tables("", "");
        HaDescribed d = { .route_tables = only_a };
        HaObservation o;

        (void) state;
        /* ours but blackhole: not verified */
        ha_observe(s, 1, &d, &o);
        assert_int_equal(o.state, HA_STATE_ELSEWHERE);
        assert_true(o.route_present);
        assert_string_equal(o.detail, "the route targets this interface but is not active");
        /* table B is not in the answer: it does not exist */
        ha_observe(s, 2, &d, &o);
        assert_int_equal(o.state, HA_STATE_MISSING);
        assert_false(o.route_present);
        assert_string_equal(o.detail, "the route table does not exist");

        d.route_tables = no_route;
        ha_observe(s, 2, &d, &o);
        assert_int_equal(o.state, HA_STATE_MISSING);
        assert_false(o.route_present);
        assert_string_equal(o.detail, "the route table has no route for the destination");

        /* the describe failed: unknown, never elsewhere */
        d.route_tables = NULL;
        ha_observe(s, 1, &d, &o);
        assert_int_equal(o.state, HA_STATE_UNKNOWN);
        assert_string_equal(o.detail, "the API did not answer");
        ha_observe(s, 0, &d, &o);
        assert_int_equal(o.state, HA_STATE_UNKNOWN);
        ha_observe(s, 99, &d, &o);
        assert_int_equal(o.state, HA_STATE_UNKNOWN);
}

static void test_observe__elastic_ip__unassociated_missing_instance_only(void **state) {
        _cleanup_(ha_target_set_freep) HaTargetSet *s = set_from(NULL, EIP, HA_SELECT_BOTH);
        _cleanup_(ec2_address_page_freep) Ec2AddressPage *free_eip = addresses(
                "<item><publicIp>203.0.113.10</publicIp><allocationId>" EIP "</allocationId></item>");
        _cleanup_(ec2_address_page_freep) Ec2AddressPage *none = addresses("");
        _cleanup_(ec2_address_page_freep) Ec2AddressPage *by_instance = addresses(
                "<item><publicIp>203.0.113.10</publicIp><allocationId>" EIP "</allocationId>"
                "<associationId>eipassoc-3</associationId><instanceId>" INSTANCE "</instanceId></item>");
        HaDescribed d = { .addresses = free_eip };
        HaObservation o;

        (void) state;
        ha_observe(s, 0, &d, &o);
        assert_int_equal(o.state, HA_STATE_MISSING);
        assert_string_equal(o.detail, "the Elastic IP is not associated");
        assert_null(o.where);
        d.addresses = none;
        ha_observe(s, 0, &d, &o);
        assert_int_equal(o.state, HA_STATE_MISSING);
        assert_string_equal(o.detail, "the Elastic IP allocation does not exist");
        d.addresses = by_instance;
        ha_observe(s, 0, &d, &o);
        assert_int_equal(o.state, HA_STATE_HERE);
}

static void test_observe__private_ip__holder_found_or_missing(void **state) {
        _cleanup_(ha_target_set_freep) HaTargetSet *s = set_from(NULL, "10.0.1.50", HA_SELECT_BOTH);
        _cleanup_free_ char *ours = eni_xml(ENI, "10.0.1.10", true, "10.0.1.77", NULL);
        _cleanup_(ec2_interface_page_freep) Ec2InterfacePage *eni = interfaces(ours);
        _cleanup_(ec2_interface_page_freep) Ec2InterfacePage *empty = interfaces("");
        HaDescribed d = { .interface = eni };
        HaObservation o;

        (void) state;
        /* only our interface described (a takeover): elsewhere, holder unknown */
        ha_observe(s, 0, &d, &o);
        assert_int_equal(o.state, HA_STATE_ELSEWHERE);
        assert_null(o.where);
        /* status also asked who holds it: nobody */
        d.holders = eni;
        ha_observe(s, 0, &d, &o);
        assert_int_equal(o.state, HA_STATE_MISSING);
        assert_string_equal(o.detail, "no network interface holds the address");
        /* our interface missing from the answer: unknown */
        d = (HaDescribed) { .interface = empty };
        ha_observe(s, 0, &d, &o);
        assert_int_equal(o.state, HA_STATE_UNKNOWN);
        assert_string_equal(o.detail, "this instance's network interface was not in the answer");
}

/* ---- planning ---- */

static void test_plan__everything_elsewhere__one_write_per_target_private_ips_batched(void **state) {
        _cleanup_(ha_target_set_freep) HaTargetSet *s = standard_set();
        _cleanup_(world_done) World w = {};
        HaObservation o[6];
        HaProgress p[6] = {};
        HaWrite writes[6];
        size_t n = 99;

        (void) state;
        world_elsewhere(&w);
        observe_all(s, &w.d, o);
        ha_plan_round(s, o, p, 1000, writes, &n);

        assert_int_equal(n, 5);
        assert_int_equal(writes[0].kind, HA_WRITE_DISABLE_SOURCE_DEST_CHECK);
        assert_int_equal(writes[1].kind, HA_WRITE_REPLACE_ROUTE);
        assert_int_equal(writes[1].targets[0], 1);
        assert_int_equal(writes[2].kind, HA_WRITE_REPLACE_ROUTE);
        assert_int_equal(writes[2].targets[0], 2);
        assert_int_equal(writes[3].kind, HA_WRITE_ASSOCIATE_ADDRESS);
        assert_int_equal(writes[4].kind, HA_WRITE_ASSIGN_PRIVATE_IPS);
        assert_int_equal(writes[4].n_targets, 2);
        assert_int_equal(writes[4].targets[0], 4);
        assert_int_equal(writes[4].targets[1], 5);
        for (size_t i = 0; i < 6; i++) {
                assert_int_equal(p[i].phase, HA_PHASE_WRITING);
                assert_true(p[i].seen);
                assert_int_equal(p[i].initial, HA_STATE_ELSEWHERE);
        }
        assert_false(ha_progress_finished(p, 6));
}

static void test_plan__everything_here__no_write_all_done(void **state) {
        _cleanup_(ha_target_set_freep) HaTargetSet *s = standard_set();
        _cleanup_(world_done) World w = {};
        HaObservation o[6];
        HaProgress p[6] = {};
        HaWrite writes[6];
        size_t n = 99;

        (void) state;
        world_here(&w);
        observe_all(s, &w.d, o);
        ha_plan_round(s, o, p, 1000, writes, &n);
        assert_int_equal(n, 0);
        for (size_t i = 0; i < 6; i++) {
                assert_int_equal(p[i].phase, HA_PHASE_DONE);
                assert_false(p[i].changed);
                assert_int_equal(p[i].initial, HA_STATE_HERE);
        }
        assert_true(ha_progress_finished(p, 6));
        assert_false(ha_progress_waiting(p, 6));
}

static void test_plan__route_absent__create_route_check_already_off__no_modify(void **state) {
        _cleanup_(ha_target_set_freep) HaTargetSet *s = set_from(VIP "@" RTB_A "+" RTB_B, NULL, HA_SELECT_BOTH);
        _cleanup_free_ char *other = route_xml(VIP, OTHER_ENI, NULL, "blackhole");
        _cleanup_free_ char *ours = eni_xml(ENI, "10.0.1.10", false, NULL, NULL);
        _cleanup_(ec2_route_table_page_freep) Ec2RouteTablePage *rtb = route_tables("", other);
        _cleanup_(ec2_interface_page_freep) Ec2InterfacePage *eni = interfaces(ours);
        HaDescribed d = { .route_tables = rtb, .interface = eni };
        HaObservation o[3];
        HaProgress p[3] = {};
        HaWrite writes[3];
        size_t n;

        (void) state;
        observe_all(s, &d, o);
        ha_plan_round(s, o, p, 0, writes, &n);
        assert_int_equal(n, 2);
        assert_int_equal(p[0].phase, HA_PHASE_DONE);    /* check already off: left alone */
        assert_int_equal(writes[0].kind, HA_WRITE_CREATE_ROUTE);
        assert_int_equal(writes[0].targets[0], 1);
        assert_int_equal(writes[1].kind, HA_WRITE_REPLACE_ROUTE);  /* a blackhole route is replaced */
        assert_int_equal(writes[1].targets[0], 2);
        assert_int_equal(p[2].initial, HA_STATE_ELSEWHERE);
}

static void test_plan__describe_failed__no_blind_write(void **state) {
        _cleanup_(ha_target_set_freep) HaTargetSet *s = standard_set();
        _cleanup_(world_done) World w = {};
        HaObservation o[6];
        HaProgress p[6] = {};
        HaWrite writes[6];
        size_t n;

        (void) state;
        world_elsewhere(&w);
        w.d.route_tables = NULL;        /* DescribeRouteTables failed */
        observe_all(s, &w.d, o);
        ha_plan_round(s, o, p, 0, writes, &n);
        assert_int_equal(n, 3);         /* check, EIP, private IPs; no route */
        for (size_t i = 0; i < n; i++)
                assert_int_not_equal(writes[i].kind, HA_WRITE_REPLACE_ROUTE);
        assert_int_equal(p[1].phase, HA_PHASE_PENDING);
        assert_false(p[1].seen);
        assert_int_equal(p[1].initial, HA_STATE_UNKNOWN);
        assert_int_equal(ha_summary(s, o, HA_SELECT_BOTH), HA_SUMMARY_UNKNOWN);
        assert_true(ha_progress_waiting(p, 6));
}

static void test_plan__written_recently__awaited_then_rewritten(void **state) {
        _cleanup_(ha_target_set_freep) HaTargetSet *s = set_from(NULL, EIP, HA_SELECT_BOTH);
        _cleanup_(world_done) World w = {};
        HaObservation o[1];
        HaProgress p[1] = {};
        HaWrite writes[1], next;
        size_t n;

        (void) state;
        world_elsewhere(&w);
        observe_all(s, &w.d, o);
        ha_plan_round(s, o, p, 10 * USEC_PER_SEC, writes, &n);
        assert_int_equal(n, 1);
        ha_progress_apply(&writes[0], HA_OUTCOME_ACCEPTED, p, 10 * USEC_PER_SEC, &next);
        assert_int_equal(p[0].phase, HA_PHASE_WRITTEN);
        assert_true(p[0].changed);
        assert_int_equal(p[0].writes, 1);
        assert_true(ha_progress_waiting(p, 1));

        /* eventual consistency: the describe still shows the old owner */
        ha_plan_round(s, o, p, 10 * USEC_PER_SEC + 100 * USEC_PER_MSEC, writes, &n);
        assert_int_equal(n, 0);
        assert_int_equal(p[0].phase, HA_PHASE_WRITTEN);
        /* long enough without seeing it: write again */
        ha_plan_round(s, o, p, 10 * USEC_PER_SEC + HA_REWRITE_AFTER_USEC, writes, &n);
        assert_int_equal(n, 1);
        assert_int_equal(writes[0].kind, HA_WRITE_ASSOCIATE_ADDRESS);
        assert_int_equal(p[0].phase, HA_PHASE_WRITING);
        /* the initial state is the first one seen */
        assert_int_equal(p[0].initial, HA_STATE_ELSEWHERE);
}

static void test_plan__private_ip_alone__separate_calls(void **state) {
        _cleanup_(ha_target_set_freep) HaTargetSet *s = set_from(NULL, "10.0.1.50,10.0.1.51,10.0.1.52", HA_SELECT_BOTH);
        _cleanup_(world_done) World w = {};
        HaObservation o[3];
        HaProgress p[3] = {};
        HaWrite writes[3];
        size_t n;

        (void) state;
        world_elsewhere(&w);
        observe_all(s, &w.d, o);
        ha_plan_round(s, o, p, 0, writes, &n);
        assert_int_equal(n, 1);
        assert_int_equal(writes[0].n_targets, 3);

        /* AWS refused the batch as invalid: each address alone next time */
        assert_int_equal(ha_write_outcome(&writes[0], -EINVAL, EC2_INVALID, "InvalidParameterValue", false),
                         HA_OUTCOME_SPLIT);
        ha_progress_apply(&writes[0], HA_OUTCOME_SPLIT, p, 0, NULL);
        for (size_t i = 0; i < 3; i++) {
                assert_int_equal(p[i].phase, HA_PHASE_PENDING);
                assert_true(p[i].alone);
        }
        ha_plan_round(s, o, p, 0, writes, &n);
        assert_int_equal(n, 3);
        for (size_t i = 0; i < 3; i++) {
                assert_int_equal(writes[i].kind, HA_WRITE_ASSIGN_PRIVATE_IPS);
                assert_int_equal(writes[i].n_targets, 1);
                assert_int_equal(writes[i].targets[0], i);
        }
        /* a single address refused is a failure of that one */
        assert_int_equal(ha_write_outcome(&writes[1], -EINVAL, EC2_INVALID, "InvalidParameterValue", false),
                         HA_OUTCOME_FAILED);
}

/* ---- write queries ---- */

static void test_write_query__every_kind__exact_parameters(void **state) {
        _cleanup_(ha_target_set_freep) HaTargetSet *s = standard_set();
        const struct {
                HaWrite w;
                const char *body;
        } cases[] = {
                { { HA_WRITE_DISABLE_SOURCE_DEST_CHECK, { 0 }, 1 },
                  "Action=ModifyNetworkInterfaceAttribute&Version=2016-11-15&NetworkInterfaceId=" ENI
                  "&SourceDestCheck.Value=false" },
                { { HA_WRITE_REPLACE_ROUTE, { 1 }, 1 },
                  "Action=ReplaceRoute&Version=2016-11-15&RouteTableId=" RTB_A
                  "&DestinationCidrBlock=192.168.100.10%2F32&NetworkInterfaceId=" ENI },
                { { HA_WRITE_CREATE_ROUTE, { 2 }, 1 },
                  "Action=CreateRoute&Version=2016-11-15&RouteTableId=" RTB_B
                  "&DestinationCidrBlock=192.168.100.10%2F32&NetworkInterfaceId=" ENI },
                { { HA_WRITE_ASSOCIATE_ADDRESS, { 3 }, 1 },
                  "Action=AssociateAddress&Version=2016-11-15&AllocationId=" EIP "&NetworkInterfaceId=" ENI
                  "&AllowReassociation=true" },
                { { HA_WRITE_ASSIGN_PRIVATE_IPS, { 4, 5 }, 2 },
                  "Action=AssignPrivateIpAddresses&Version=2016-11-15&NetworkInterfaceId=" ENI
                  "&PrivateIpAddress.1=10.0.1.50&PrivateIpAddress.2=10.0.1.51&AllowReassignment=true" },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
                _cleanup_free_ char *body = NULL;

                assert_int_equal(ha_write_query(s, &cases[i].w, &q), 0);
                body = query_body(q);
                assert_string_equal(body, cases[i].body);
                assert_true(ec2_query_is_idempotent(q));
        }
}

static void test_write_query__mismatched_target__einval(void **state) {
        _cleanup_(ha_target_set_freep) HaTargetSet *s = standard_set();
        const HaWrite bad[] = {
                { HA_WRITE_REPLACE_ROUTE, { 3 }, 1 },           /* an EIP */
                { HA_WRITE_ASSOCIATE_ADDRESS, { 1 }, 1 },       /* a route */
                { HA_WRITE_ASSIGN_PRIVATE_IPS, { 4, 1 }, 2 },
                { HA_WRITE_DISABLE_SOURCE_DEST_CHECK, { 2 }, 1 },
                { HA_WRITE_REPLACE_ROUTE, { 42 }, 1 },
                { HA_WRITE_REPLACE_ROUTE, { 1 }, 0 },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Ec2Query *q = NULL;
                assert_int_equal(ha_write_query(s, &bad[i], &q), -EINVAL);
                assert_null(q);
        }
}

/* ---- outcomes ---- */

static void test_outcome__classes__switch_retry_fail(void **state) {
        const HaWrite replace = { HA_WRITE_REPLACE_ROUTE, { 1 }, 1 };
        const HaWrite create = { HA_WRITE_CREATE_ROUTE, { 1 }, 1 };
        const HaWrite assoc = { HA_WRITE_ASSOCIATE_ADDRESS, { 3 }, 1 };

        (void) state;
        assert_int_equal(ha_write_outcome(&replace, 0, EC2_OK, NULL, false), HA_OUTCOME_ACCEPTED);
        assert_int_equal(ha_write_outcome(&replace, -ENOENT, EC2_NOT_FOUND, "InvalidRoute.NotFound", false),
                         HA_OUTCOME_SWITCH);
        /* no ping-pong: a switched write that fails the same way fails */
        assert_int_equal(ha_write_outcome(&replace, -ENOENT, EC2_NOT_FOUND, "InvalidRoute.NotFound", true),
                         HA_OUTCOME_FAILED);
        assert_int_equal(ha_write_outcome(&create, -EINVAL, EC2_INVALID, "RouteAlreadyExists", false),
                         HA_OUTCOME_SWITCH);
        assert_int_equal(ha_write_outcome(&replace, -ENOENT, EC2_NOT_FOUND, "InvalidRouteTableID.NotFound", false),
                         HA_OUTCOME_FAILED);
        assert_int_equal(ha_write_outcome(&replace, -EACCES, EC2_UNAUTHORIZED, "UnauthorizedOperation", false),
                         HA_OUTCOME_FAILED);
        assert_int_equal(ha_write_outcome(&assoc, -EINVAL, EC2_INVALID, "InvalidParameterValue", false),
                         HA_OUTCOME_FAILED);
        assert_int_equal(ha_write_outcome(&assoc, -EKEYREJECTED, EC2_CREDENTIALS, "AuthFailure", false),
                         HA_OUTCOME_FAILED);
        assert_int_equal(ha_write_outcome(&assoc, -EAGAIN, EC2_THROTTLED, "RequestLimitExceeded", false),
                         HA_OUTCOME_RETRY);
        assert_int_equal(ha_write_outcome(&assoc, -EAGAIN, EC2_SERVER, "InternalError", false), HA_OUTCOME_RETRY);
        assert_int_equal(ha_write_outcome(&assoc, -ECONNRESET, EC2_NETWORK, "NetworkError", false),
                         HA_OUTCOME_RETRY);
        assert_int_equal(ha_write_outcome(&assoc, -ETIMEDOUT, EC2_TIMEOUT, "Timeout", false), HA_OUTCOME_RETRY);
        assert_int_equal(ha_write_outcome(&assoc, -EBADMSG, EC2_MALFORMED, "MalformedResponse", false),
                         HA_OUTCOME_RETRY);
}

static void test_progress_apply__switch__next_write_is_create_route(void **state) {
        const HaWrite replace = { HA_WRITE_REPLACE_ROUTE, { 1 }, 1 };
        HaProgress p[2] = { {}, { .phase = HA_PHASE_WRITING } };
        HaWrite next = {};

        (void) state;
        ha_progress_apply(&replace, HA_OUTCOME_SWITCH, p, 5, &next);
        assert_int_equal(next.kind, HA_WRITE_CREATE_ROUTE);
        assert_int_equal(next.n_targets, 1);
        assert_int_equal(next.targets[0], 1);
        assert_int_equal(p[1].phase, HA_PHASE_WRITING);
        assert_int_equal(p[1].writes, 1);
        assert_int_equal(p[0].writes, 0);

        ha_progress_apply(&next, HA_OUTCOME_RETRY, p, 6, NULL);
        assert_int_equal(p[1].phase, HA_PHASE_PENDING);
        assert_true(p[1].retry);
        ha_progress_apply(&next, HA_OUTCOME_FAILED, p, 7, NULL);
        assert_int_equal(p[1].phase, HA_PHASE_FAILED);
        assert_int_equal(p[1].writes, 3);
        assert_false(p[1].changed);
        p[0].phase = HA_PHASE_DONE;
        assert_true(ha_progress_finished(p, 2));
}

/* The whole cycle: describe, writes, verifying describe. */
static void test_cycle__takeover_then_verify__done_and_second_takeover_writes_nothing(void **state) {
        _cleanup_(ha_target_set_freep) HaTargetSet *s = standard_set();
        _cleanup_(world_done) World before = {}, after = {};
        HaObservation o[6];
        HaProgress p[6] = {}, second[6] = {};
        HaWrite writes[6];
        size_t n;

        (void) state;
        world_elsewhere(&before);
        observe_all(s, &before.d, o);
        ha_plan_round(s, o, p, 0, writes, &n);
        assert_int_equal(n, 5);
        for (size_t i = 0; i < n; i++)
                ha_progress_apply(&writes[i], ha_write_outcome(&writes[i], 0, EC2_OK, NULL, false), p, 1, NULL);
        for (size_t i = 0; i < 6; i++)
                assert_int_equal(p[i].phase, HA_PHASE_WRITTEN);

        world_here(&after);
        observe_all(s, &after.d, o);
        ha_plan_round(s, o, p, 2, writes, &n);
        assert_int_equal(n, 0);
        assert_true(ha_progress_finished(p, 6));
        for (size_t i = 0; i < 6; i++) {
                assert_int_equal(p[i].phase, HA_PHASE_DONE);
                assert_true(p[i].changed);
                assert_int_equal(p[i].initial, HA_STATE_ELSEWHERE);
        }

        /* a second takeover: check before change finds everything here */
        ha_plan_round(s, o, second, 3, writes, &n);
        assert_int_equal(n, 0);
        assert_true(ha_progress_finished(second, 6));
}

/* ---- summary ---- */

static void test_summary__mixtures__partial_unknown_none(void **state) {
        _cleanup_(ha_target_set_freep) HaTargetSet *s = set_from(VIP "@" RTB_A, EIP, HA_SELECT_BOTH);
        _cleanup_(ha_target_set_freep) HaTargetSet *empty = set_from(NULL, NULL, HA_SELECT_BOTH);
        HaObservation o[3] = {};

        (void) state;
        assert_int_equal(s->n_targets, 3);
        /* check off, route here, EIP elsewhere */
        o[0].state = HA_STATE_HERE;
        o[1].state = HA_STATE_HERE;
        o[2].state = HA_STATE_ELSEWHERE;
        assert_int_equal(ha_summary(s, o, HA_SELECT_BOTH), HA_SUMMARY_PARTIAL);
        /* a former master: check still off, nothing routed here */
        o[1].state = HA_STATE_ELSEWHERE;
        o[2].state = HA_STATE_MISSING;
        assert_int_equal(ha_summary(s, o, HA_SELECT_BOTH), HA_SUMMARY_ELSEWHERE);
        /* all routed here but the check is on */
        o[0].state = HA_STATE_ELSEWHERE;
        o[1].state = HA_STATE_HERE;
        o[2].state = HA_STATE_HERE;
        assert_int_equal(ha_summary(s, o, HA_SELECT_BOTH), HA_SUMMARY_PARTIAL);
        o[0].state = HA_STATE_UNKNOWN;
        assert_int_equal(ha_summary(s, o, HA_SELECT_BOTH), HA_SUMMARY_UNKNOWN);
        /* an unknown target is never counted as moved away */
        o[0].state = HA_STATE_HERE;
        o[1].state = HA_STATE_ELSEWHERE;
        o[2].state = HA_STATE_UNKNOWN;
        assert_int_equal(ha_summary(s, o, HA_SELECT_BOTH), HA_SUMMARY_UNKNOWN);
        assert_int_equal(ha_summary(empty, o, HA_SELECT_BOTH), HA_SUMMARY_NONE);
        /* per pattern: the routes here, the Elastic IP elsewhere */
        o[0].state = HA_STATE_HERE;
        o[1].state = HA_STATE_HERE;
        o[2].state = HA_STATE_ELSEWHERE;
        assert_int_equal(ha_summary(s, o, HA_SELECT_ROUTING_HA), HA_SUMMARY_HERE);
        assert_int_equal(ha_summary(s, o, HA_SELECT_FLOATING_IP), HA_SUMMARY_ELSEWHERE);
        assert_int_equal(ha_summary(s, o, HA_SELECT_BOTH), HA_SUMMARY_PARTIAL);
        o[0].state = HA_STATE_ELSEWHERE;
        assert_int_equal(ha_summary(s, o, HA_SELECT_ROUTING_HA), HA_SUMMARY_PARTIAL);
        assert_int_equal(ha_summary(empty, o, HA_SELECT_FLOATING_IP), HA_SUMMARY_NONE);
        assert_string_equal(ha_summary_to_string(HA_SUMMARY_PARTIAL), "partial");
        assert_string_equal(ha_state_to_string(HA_STATE_MISSING), "missing");
        assert_string_equal(ha_state_to_string(_HA_STATE_MAX), "unknown");
}

/* ---- local addresses ---- */

static void test_local_addresses__routes_and_private_ips__deduplicated_no_eip(void **state) {
        _cleanup_(ha_target_set_freep) HaTargetSet *s =
                set_from(VIP "@" RTB_A "+" RTB_B ",0.0.0.0/0@" RTB_A ",192.168.100.11/32@" RTB_B,
                         EIP ",10.0.1.50", HA_SELECT_BOTH);
        _cleanup_free_ HaLocalAddress *a = NULL;
        size_t n = 0;

        (void) state;
        assert_int_equal(ha_local_addresses(s, &a, &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(a[0].address.s_addr, inet_addr("192.168.100.10"));
        assert_int_equal(a[0].prefix, 32);
        assert_false(a[0].on_primary);
        assert_int_equal(a[0].target, 1);
        assert_int_equal(a[1].address.s_addr, inet_addr("192.168.100.11"));
        assert_false(a[1].on_primary);
        assert_int_equal(a[2].address.s_addr, inet_addr("10.0.1.50"));
        assert_true(a[2].on_primary);
        assert_int_equal(s->targets[a[2].target].kind, HA_TARGET_PRIVATE_IP);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_select__strings__parsed_or_refused),
                cmocka_unit_test(test_target_set__both_policies__check_routes_eips_private_ips_in_order),
                cmocka_unit_test(test_target_set__one_policy_selected__only_its_targets),
                cmocka_unit_test(test_target_set__invalid_policy__flagged_and_no_targets),
                cmocka_unit_test(test_describe_query__standard_set__filters_and_our_interface),
                cmocka_unit_test(test_describe_query__elastic_ip_only__no_route_or_interface_call),
                cmocka_unit_test(test_observe__everything_elsewhere__states_and_where),
                cmocka_unit_test(test_observe__everything_here__verified),
                cmocka_unit_test(test_observe__routes__absent_table_absent_route_blackhole),
                cmocka_unit_test(test_observe__elastic_ip__unassociated_missing_instance_only),
                cmocka_unit_test(test_observe__private_ip__holder_found_or_missing),
                cmocka_unit_test(test_plan__everything_elsewhere__one_write_per_target_private_ips_batched),
                cmocka_unit_test(test_plan__everything_here__no_write_all_done),
                cmocka_unit_test(test_plan__route_absent__create_route_check_already_off__no_modify),
                cmocka_unit_test(test_plan__describe_failed__no_blind_write),
                cmocka_unit_test(test_plan__written_recently__awaited_then_rewritten),
                cmocka_unit_test(test_plan__private_ip_alone__separate_calls),
                cmocka_unit_test(test_write_query__every_kind__exact_parameters),
                cmocka_unit_test(test_write_query__mismatched_target__einval),
                cmocka_unit_test(test_outcome__classes__switch_retry_fail),
                cmocka_unit_test(test_progress_apply__switch__next_write_is_create_route),
                cmocka_unit_test(test_cycle__takeover_then_verify__done_and_second_takeover_writes_nothing),
                cmocka_unit_test(test_summary__mixtures__partial_unknown_none),
                cmocka_unit_test(test_local_addresses__routes_and_private_ips__deduplicated_no_eip),
        };
        return cmocka_run_group_tests_name("ha-plan", tests, NULL, NULL);
}
