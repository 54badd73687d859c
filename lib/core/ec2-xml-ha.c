/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "cdp/ec2-ha.h"

/* Allocate a page struct and parse into it. */
static int parse_page(const char *body, size_t len, const char *root, const Ec2XmlSchema *schema, void **ret) {
        _cleanup_free_ void *page = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        page = calloc(1, schema->size);
        if (!page)
                return -ENOMEM;
        r = ec2_xml_parse(body, len, EC2_XML_ROOTS(root), schema, page);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(page);
        return 0;
}

/* ---- routes and route tables ---- */

static const Ec2XmlField route_fields[] = {
        EC2_XML_STRING_FIELD("destinationCidrBlock", Ec2Route, destination_cidr),
        EC2_XML_STRING_FIELD("destinationIpv6CidrBlock", Ec2Route, destination_ipv6_cidr),
        EC2_XML_STRING_FIELD("destinationPrefixListId", Ec2Route, destination_prefix_list_id),
        EC2_XML_STRING_FIELD("networkInterfaceId", Ec2Route, network_interface_id),
        EC2_XML_STRING_FIELD("instanceId", Ec2Route, instance_id),
        EC2_XML_STRING_FIELD("gatewayId", Ec2Route, gateway_id),
        EC2_XML_STRING_FIELD("natGatewayId", Ec2Route, nat_gateway_id),
        EC2_XML_STRING_FIELD("transitGatewayId", Ec2Route, transit_gateway_id),
        EC2_XML_STRING_FIELD("vpcPeeringConnectionId", Ec2Route, vpc_peering_connection_id),
        EC2_XML_STRING_FIELD("egressOnlyInternetGatewayId", Ec2Route, egress_only_gateway_id),
        EC2_XML_STRING_FIELD("localGatewayId", Ec2Route, local_gateway_id),
        EC2_XML_STRING_FIELD("carrierGatewayId", Ec2Route, carrier_gateway_id),
        EC2_XML_STRING_FIELD("coreNetworkArn", Ec2Route, core_network_arn),
        EC2_XML_STRING_FIELD("state", Ec2Route, state),
        EC2_XML_STRING_FIELD("origin", Ec2Route, origin),
};

const Ec2XmlSchema ec2_route_schema = {
        .size = sizeof(Ec2Route),
        .fields = route_fields,
        .n_fields = ELEMENTSOF(route_fields),
};

void ec2_route_done(Ec2Route *r) {
        ec2_xml_item_done(&ec2_route_schema, r);
}

const char *ec2_route_target(const Ec2Route *r) {
        if (!r)
                return NULL;
        /* The interface first: a route to an instance names both, and the
         * interface is what a takeover compares. */
        const char *const candidates[] = {
                r->network_interface_id, r->instance_id, r->nat_gateway_id, r->transit_gateway_id,
                r->vpc_peering_connection_id, r->gateway_id, r->egress_only_gateway_id,
                r->local_gateway_id, r->carrier_gateway_id, r->core_network_arn,
        };
        for (size_t i = 0; i < ELEMENTSOF(candidates); i++)
                if (candidates[i] && *candidates[i])
                        return candidates[i];
        return NULL;
}

static int route_table_finish(void *item) {
        Ec2RouteTable *t = item;
        return t->id ? 0 : -EBADMSG;
}

static const Ec2XmlField route_table_fields[] = {
        EC2_XML_STRING_FIELD("routeTableId", Ec2RouteTable, id),
        EC2_XML_STRING_FIELD("vpcId", Ec2RouteTable, vpc_id),
        EC2_XML_STRING_FIELD("ownerId", Ec2RouteTable, owner_id),
        EC2_XML_LIST_FIELD("routeSet", Ec2RouteTable, routes, n_routes, Ec2Route, &ec2_route_schema,
                           EC2_XML_MAX_NESTED_ITEMS),
        EC2_XML_LIST_FIELD("tagSet", Ec2RouteTable, tags, n_tags, Ec2Tag, &ec2_tag_schema,
                           EC2_XML_MAX_NESTED_ITEMS),
};

const Ec2XmlSchema ec2_route_table_schema = {
        .size = sizeof(Ec2RouteTable),
        .fields = route_table_fields,
        .n_fields = ELEMENTSOF(route_table_fields),
        .finish = route_table_finish,
};

void ec2_route_table_done(Ec2RouteTable *t) {
        ec2_xml_item_done(&ec2_route_table_schema, t);
}

const Ec2Route *ec2_route_table_find(const Ec2RouteTable *t, const char *cidr) {
        if (!t || !cidr)
                return NULL;
        for (size_t i = 0; i < t->n_routes; i++)
                if (t->routes[i].destination_cidr && strcmp(t->routes[i].destination_cidr, cidr) == 0)
                        return &t->routes[i];
        return NULL;
}

static const Ec2XmlField route_table_page_fields[] = {
        EC2_XML_STRING_FIELD("requestId", Ec2RouteTablePage, request_id),
        EC2_XML_STRING_FIELD("nextToken", Ec2RouteTablePage, next_token),
        EC2_XML_LIST_FIELD("routeTableSet", Ec2RouteTablePage, tables, n_tables, Ec2RouteTable,
                           &ec2_route_table_schema, EC2_XML_MAX_ITEMS),
};

const Ec2XmlSchema ec2_route_table_page_schema = {
        .size = sizeof(Ec2RouteTablePage),
        .fields = route_table_page_fields,
        .n_fields = ELEMENTSOF(route_table_page_fields),
};

const Ec2RouteTable *ec2_route_table_page_find(const Ec2RouteTablePage *p, const char *id) {
        if (!p || !id)
                return NULL;
        for (size_t i = 0; i < p->n_tables; i++)
                if (strcmp(p->tables[i].id, id) == 0)
                        return &p->tables[i];
        return NULL;
}

int ec2_parse_describe_route_tables(const char *body, size_t len, Ec2RouteTablePage **ret) {
        return parse_page(body, len, "DescribeRouteTablesResponse", &ec2_route_table_page_schema, (void **) ret);
}

Ec2RouteTablePage *ec2_route_table_page_free(Ec2RouteTablePage *p) {
        ec2_xml_item_done(&ec2_route_table_page_schema, p);
        free(p);
        return NULL;
}

/* ---- addresses ---- */

static int address_finish(void *item) {
        Ec2Address *a = item;
        return a->public_ip || a->allocation_id ? 0 : -EBADMSG;
}

static const Ec2XmlField address_fields[] = {
        EC2_XML_STRING_FIELD("publicIp", Ec2Address, public_ip),
        EC2_XML_STRING_FIELD("allocationId", Ec2Address, allocation_id),
        EC2_XML_STRING_FIELD("associationId", Ec2Address, association_id),
        EC2_XML_STRING_FIELD("domain", Ec2Address, domain),
        EC2_XML_STRING_FIELD("instanceId", Ec2Address, instance_id),
        EC2_XML_STRING_FIELD("networkInterfaceId", Ec2Address, network_interface_id),
        EC2_XML_STRING_FIELD("networkInterfaceOwnerId", Ec2Address, network_interface_owner_id),
        EC2_XML_STRING_FIELD("privateIpAddress", Ec2Address, private_ip),
        EC2_XML_LIST_FIELD("tagSet", Ec2Address, tags, n_tags, Ec2Tag, &ec2_tag_schema, EC2_XML_MAX_NESTED_ITEMS),
};

const Ec2XmlSchema ec2_address_schema = {
        .size = sizeof(Ec2Address),
        .fields = address_fields,
        .n_fields = ELEMENTSOF(address_fields),
        .finish = address_finish,
};

void ec2_address_done(Ec2Address *a) {
        ec2_xml_item_done(&ec2_address_schema, a);
}

static const Ec2XmlField address_page_fields[] = {
        EC2_XML_STRING_FIELD("requestId", Ec2AddressPage, request_id),
        EC2_XML_LIST_FIELD("addressesSet", Ec2AddressPage, addresses, n_addresses, Ec2Address,
                           &ec2_address_schema, EC2_XML_MAX_ITEMS),
};

const Ec2XmlSchema ec2_address_page_schema = {
        .size = sizeof(Ec2AddressPage),
        .fields = address_page_fields,
        .n_fields = ELEMENTSOF(address_page_fields),
};

const Ec2Address *ec2_address_page_find(const Ec2AddressPage *p, const char *allocation_id) {
        if (!p || !allocation_id)
                return NULL;
        for (size_t i = 0; i < p->n_addresses; i++)
                if (p->addresses[i].allocation_id && strcmp(p->addresses[i].allocation_id, allocation_id) == 0)
                        return &p->addresses[i];
        return NULL;
}

int ec2_parse_describe_addresses(const char *body, size_t len, Ec2AddressPage **ret) {
        return parse_page(body, len, "DescribeAddressesResponse", &ec2_address_page_schema, (void **) ret);
}

Ec2AddressPage *ec2_address_page_free(Ec2AddressPage *p) {
        ec2_xml_item_done(&ec2_address_page_schema, p);
        free(p);
        return NULL;
}

/* ---- AssociateAddress ---- */

static int request_id_required(const char *request_id) {
        return request_id ? 0 : -EBADMSG;
}

static int associate_address_finish(void *item) {
        return request_id_required(((Ec2AssociateAddressResult *) item)->request_id);
}

static const Ec2XmlField associate_address_fields[] = {
        EC2_XML_STRING_FIELD("requestId", Ec2AssociateAddressResult, request_id),
        EC2_XML_STRING_FIELD("associationId", Ec2AssociateAddressResult, association_id),
};

const Ec2XmlSchema ec2_associate_address_result_schema = {
        .size = sizeof(Ec2AssociateAddressResult),
        .fields = associate_address_fields,
        .n_fields = ELEMENTSOF(associate_address_fields),
        .finish = associate_address_finish,
};

int ec2_parse_associate_address(const char *body, size_t len, Ec2AssociateAddressResult *ret) {
        if (!ret)
                return -EINVAL;
        return ec2_xml_parse(body, len, EC2_XML_ROOTS("AssociateAddressResponse"),
                             &ec2_associate_address_result_schema, ret);
}

void ec2_associate_address_result_done(Ec2AssociateAddressResult *r) {
        ec2_xml_item_done(&ec2_associate_address_result_schema, r);
}

/* ---- AssignPrivateIpAddresses ---- */

static int assigned_private_ip_finish(void *item) {
        return ((Ec2AssignedPrivateIp *) item)->address ? 0 : -EBADMSG;
}

static const Ec2XmlField assigned_private_ip_fields[] = {
        EC2_XML_STRING_FIELD("privateIpAddress", Ec2AssignedPrivateIp, address),
};

static const Ec2XmlSchema assigned_private_ip_schema = {
        .size = sizeof(Ec2AssignedPrivateIp),
        .fields = assigned_private_ip_fields,
        .n_fields = ELEMENTSOF(assigned_private_ip_fields),
        .finish = assigned_private_ip_finish,
};

static int assign_private_ips_finish(void *item) {
        return request_id_required(((Ec2AssignPrivateIpsResult *) item)->request_id);
}

static const Ec2XmlField assign_private_ips_fields[] = {
        EC2_XML_STRING_FIELD("requestId", Ec2AssignPrivateIpsResult, request_id),
        EC2_XML_STRING_FIELD("networkInterfaceId", Ec2AssignPrivateIpsResult, network_interface_id),
        EC2_XML_LIST_FIELD("assignedPrivateIpAddressesSet", Ec2AssignPrivateIpsResult, assigned, n_assigned,
                           Ec2AssignedPrivateIp, &assigned_private_ip_schema, EC2_XML_MAX_NESTED_ITEMS),
};

const Ec2XmlSchema ec2_assign_private_ips_result_schema = {
        .size = sizeof(Ec2AssignPrivateIpsResult),
        .fields = assign_private_ips_fields,
        .n_fields = ELEMENTSOF(assign_private_ips_fields),
        .finish = assign_private_ips_finish,
};

int ec2_parse_assign_private_ip_addresses(const char *body, size_t len, Ec2AssignPrivateIpsResult *ret) {
        if (!ret)
                return -EINVAL;
        return ec2_xml_parse(body, len, EC2_XML_ROOTS("AssignPrivateIpAddressesResponse"),
                             &ec2_assign_private_ips_result_schema, ret);
}

void ec2_assign_private_ips_result_done(Ec2AssignPrivateIpsResult *r) {
        ec2_xml_item_done(&ec2_assign_private_ips_result_schema, r);
}
