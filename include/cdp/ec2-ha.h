/* SPDX-License-Identifier: MIT */
#pragma once

/* Typed answers of the EC2 calls the HA patterns (Floating IP, Routing-based
 * HA) make: DescribeRouteTables, DescribeAddresses, AssociateAddress and
 * AssignPrivateIpAddresses. Built on the ec2-xml.h building blocks, with the
 * same error contract (-EBADMSG malformed, truncated or the wrong document,
 * -E2BIG over a cap, -ENOMEM; outputs written only on success; unknown
 * elements ignored). DescribeNetworkInterfaces is in ec2-xml.h; ReplaceRoute,
 * CreateRoute and ModifyNetworkInterfaceAttribute answer <return> and are
 * read with ec2_parse_simple(). */

#include <stdbool.h>
#include <stddef.h>

#include "cdp/ec2-xml.h"
#include "cdp/macro.h"

/* ---- DescribeRouteTables: routeTableSet/item/{routeTableId, vpcId, ownerId, routeSet, tagSet} */

typedef struct Ec2Route {
        char *destination_cidr;         /* destinationCidrBlock; NULL for IPv6 and prefix-list routes */
        char *destination_ipv6_cidr;    /* destinationIpv6CidrBlock */
        char *destination_prefix_list_id;
        char *network_interface_id;
        char *instance_id;              /* set by AWS too when the interface belongs to an instance */
        char *gateway_id;               /* igw-, vgw-, "local", vpce- */
        char *nat_gateway_id;
        char *transit_gateway_id;
        char *vpc_peering_connection_id;
        char *egress_only_gateway_id;   /* egressOnlyInternetGatewayId */
        char *local_gateway_id;
        char *carrier_gateway_id;
        char *core_network_arn;
        char *state;                    /* active | blackhole */
        char *origin;                   /* CreateRouteTable | CreateRoute | EnableVgwRoutePropagation */
} Ec2Route;

void ec2_route_done(Ec2Route *r);

/* What the route sends traffic to: the first of network interface, instance,
 * NAT gateway, transit gateway, peering connection, gateway, egress-only
 * gateway, local gateway, carrier gateway, core network. Borrowed; NULL when
 * the route names none. */
const char *ec2_route_target(const Ec2Route *r);

typedef struct Ec2RouteTable {
        char *id;                       /* routeTableId; never NULL */
        char *vpc_id;
        char *owner_id;
        Ec2Route *routes;               /* routeSet */
        size_t n_routes;
        Ec2Tag *tags;                   /* tagSet */
        size_t n_tags;
} Ec2RouteTable;

void ec2_route_table_done(Ec2RouteTable *t);

/* The IPv4 route of the table whose destinationCidrBlock is cidr (compared
 * as text, as EC2 writes it: "192.168.100.10/32"), or NULL. Borrowed. */
const Ec2Route *ec2_route_table_find(const Ec2RouteTable *t, const char *cidr);

typedef struct Ec2RouteTablePage {
        Ec2RouteTable *tables;
        size_t n_tables;
        char *next_token;
        char *request_id;
} Ec2RouteTablePage;

/* The table with this id, or NULL. Borrowed. */
const Ec2RouteTable *ec2_route_table_page_find(const Ec2RouteTablePage *p, const char *id);

/* Ownership: caller frees *ret with ec2_route_table_page_free(). */
int ec2_parse_describe_route_tables(const char *body, size_t len, Ec2RouteTablePage **ret);
Ec2RouteTablePage *ec2_route_table_page_free(Ec2RouteTablePage *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Ec2RouteTablePage *, ec2_route_table_page_free);

/* ---- DescribeAddresses: addressesSet/item (no pagination in the API) */

typedef struct Ec2Address {
        char *public_ip;                /* publicIp */
        char *allocation_id;            /* at least one of public_ip and allocation_id is set */
        char *association_id;           /* NULL when not associated */
        char *domain;                   /* vpc | standard */
        char *instance_id;
        char *network_interface_id;
        char *network_interface_owner_id;
        char *private_ip;               /* privateIpAddress the address maps to */
        Ec2Tag *tags;
        size_t n_tags;
} Ec2Address;

void ec2_address_done(Ec2Address *a);

typedef struct Ec2AddressPage {
        Ec2Address *addresses;
        size_t n_addresses;
        char *request_id;
} Ec2AddressPage;

/* The address with this allocation id, or NULL. Borrowed. */
const Ec2Address *ec2_address_page_find(const Ec2AddressPage *p, const char *allocation_id);

/* Ownership: caller frees *ret with ec2_address_page_free(). */
int ec2_parse_describe_addresses(const char *body, size_t len, Ec2AddressPage **ret);
Ec2AddressPage *ec2_address_page_free(Ec2AddressPage *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Ec2AddressPage *, ec2_address_page_free);

/* ---- AssociateAddress */

typedef struct Ec2AssociateAddressResult {
        char *request_id;               /* never NULL */
        char *association_id;           /* eipassoc-; NULL when AWS sent none */
} Ec2AssociateAddressResult;

/* Ownership: *ret is overwritten (not freed) on success; release it with
 * ec2_associate_address_result_done(). */
int ec2_parse_associate_address(const char *body, size_t len, Ec2AssociateAddressResult *ret);
void ec2_associate_address_result_done(Ec2AssociateAddressResult *r);

/* ---- AssignPrivateIpAddresses */

typedef struct Ec2AssignedPrivateIp {
        char *address;                  /* privateIpAddress; never NULL */
} Ec2AssignedPrivateIp;

typedef struct Ec2AssignPrivateIpsResult {
        char *request_id;               /* never NULL */
        char *network_interface_id;
        Ec2AssignedPrivateIp *assigned; /* assignedPrivateIpAddressesSet */
        size_t n_assigned;
} Ec2AssignPrivateIpsResult;

/* Ownership: *ret is overwritten (not freed) on success; release it with
 * ec2_assign_private_ips_result_done(). */
int ec2_parse_assign_private_ip_addresses(const char *body, size_t len, Ec2AssignPrivateIpsResult *ret);
void ec2_assign_private_ips_result_done(Ec2AssignPrivateIpsResult *r);

/* Schemas, for incremental parsing (ec2_xml_parser_new) and tests. */
extern const Ec2XmlSchema ec2_route_schema;
extern const Ec2XmlSchema ec2_route_table_schema;
extern const Ec2XmlSchema ec2_route_table_page_schema;
extern const Ec2XmlSchema ec2_address_schema;
extern const Ec2XmlSchema ec2_address_page_schema;
extern const Ec2XmlSchema ec2_associate_address_result_schema;
extern const Ec2XmlSchema ec2_assign_private_ips_result_schema;
