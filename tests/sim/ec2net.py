"""Network actions for the HA and bastion patterns: DescribeRouteTables,
CreateRoute, ReplaceRoute, ModifyNetworkInterfaceAttribute, DescribeAddresses,
AssociateAddress, DisassociateAddress, AssignPrivateIpAddresses,
UnassignPrivateIpAddresses, DescribeSecurityGroupRules,
RevokeSecurityGroupIngress.

Route, Elastic IP and private IP writes are eventually consistent: for
route_propagation_s seconds after a write, describe calls (and IMDS
local-ipv4s) keep showing what they showed before it (simstate.mark_stale).
"""

import ipaddress
import time

from ec2common import (apply_filters, by_id, id_key, new_id, not_found, paginate, require_ids,
                       tag_list)
from ec2proto import Ec2Error
from simstate import mark_stale, visible

# ---------------------------------------------------------------------------
# route tables

# request member -> the Route member it shows up as
_TARGET_PARAMS = {
    "GatewayId": "GatewayId", "VpcEndpointId": "GatewayId", "InstanceId": "InstanceId",
    "NetworkInterfaceId": "NetworkInterfaceId", "NatGatewayId": "NatGatewayId",
    "VpcPeeringConnectionId": "VpcPeeringConnectionId", "TransitGatewayId": "TransitGatewayId",
    "LocalGatewayId": "LocalGatewayId", "CarrierGatewayId": "CarrierGatewayId",
    "EgressOnlyInternetGatewayId": "EgressOnlyInternetGatewayId", "CoreNetworkArn": "CoreNetworkArn",
}
_DOWN = ("stopping", "stopped", "shutting-down", "terminated")


def _delay(ctx):
    return ctx.state.setting("route_propagation_s")


def _route_state(region, route, target):
    if route.get("forced_state"):
        return route["forced_state"]
    if "NetworkInterfaceId" in target:
        eni = region.network_interfaces.get(target["NetworkInterfaceId"])
        if eni is None or not eni["attachment"]:
            return "blackhole"
        inst = region.instances.get(eni["attachment"]["instance_id"])
        return "blackhole" if inst is None or inst["state"] in _DOWN else "active"
    if "InstanceId" in target:
        inst = region.instances.get(target["InstanceId"])
        return "blackhole" if inst is None or inst["state"] in _DOWN else "active"
    return "active"


def _visible_routes(rt, now):
    """(route, target) pairs describes show now; a route created within the delay is hidden."""
    out = []
    for route in rt["routes"]:
        target = visible(route, "target", now)
        if target is not None:
            out.append((route, target))
    return out


def _route_shape(ctx, route, target):
    region = ctx.region
    out = {"DestinationCidrBlock": route["destination_cidr_block"], "Origin": route["origin"],
           "State": _route_state(region, route, target)}
    out.update(target)
    if "NetworkInterfaceId" in target and "InstanceId" not in target:
        eni = region.network_interfaces.get(target["NetworkInterfaceId"])
        if eni and eni["attachment"]:
            out["InstanceId"] = eni["attachment"]["instance_id"]
    if "InstanceId" in out:
        out["InstanceOwnerId"] = ctx.state.account_id
    return out


def route_table_shape(ctx, rt, now):
    return {
        "Associations": [{"Main": a["main"], "RouteTableAssociationId": a["id"], "RouteTableId": rt["id"],
                          "SubnetId": a.get("subnet_id"), "AssociationState": {"State": "associated"}}
                         for a in rt["associations"]],
        "PropagatingVgws": [],
        "RouteTableId": rt["id"],
        "Routes": [_route_shape(ctx, r, t) for r, t in _visible_routes(rt, now)],
        "Tags": tag_list(rt["tags"]),
        "VpcId": rt["vpc_id"],
        "OwnerId": rt["owner_id"],
    }


def describe_route_tables(ctx, params):
    region = ctx.region
    ids = params.get("RouteTableIds")
    if ids:
        require_ids(region.route_tables, ids)
        rts = [region.route_tables[r] for r in sorted(set(ids))]
    else:
        rts = by_id(region.route_tables)
    now = time.time()

    def routes(what):
        return lambda rt: [what(_route_shape(ctx, r, t)) for r, t in _visible_routes(rt, now)]

    rts = apply_filters(rts, params.get("Filters"), {
        "route-table-id": lambda rt: rt["id"],
        "vpc-id": lambda rt: rt["vpc_id"],
        "owner-id": lambda rt: rt["owner_id"],
        "route.destination-cidr-block": routes(lambda r: r["DestinationCidrBlock"]),
        "route.network-interface-id": routes(lambda r: r.get("NetworkInterfaceId")),
        "route.instance-id": routes(lambda r: r.get("InstanceId")),
        "route.gateway-id": routes(lambda r: r.get("GatewayId")),
        "route.nat-gateway-id": routes(lambda r: r.get("NatGatewayId")),
        "route.state": routes(lambda r: r["State"]),
        "route.origin": routes(lambda r: r["Origin"]),
        "association.route-table-association-id": lambda rt: [a["id"] for a in rt["associations"]],
        "association.route-table-id": lambda rt: [rt["id"] for _ in rt["associations"]],
        "association.subnet-id": lambda rt: [a.get("subnet_id") for a in rt["associations"]],
        "association.main": lambda rt: [a["main"] for a in rt["associations"]],
    }, tags_of=lambda rt: rt["tags"])
    page, token = paginate(ctx, rts, params, max_results=100, key=id_key)
    return {"RouteTables": [route_table_shape(ctx, rt, now) for rt in page], "NextToken": token}


def _destination(params):
    cidr = params.get("DestinationCidrBlock")
    if cidr is None:
        if params.get("DestinationIpv6CidrBlock") or params.get("DestinationPrefixListId"):
            raise Ec2Error("InvalidParameterValue",
                           "cdpsim simulates IPv4 destinations (DestinationCidrBlock) only")
        raise Ec2Error("MissingParameter", "The request must contain the parameter destinationCidrBlock "
                                           "or destinationIpv6CidrBlock or destinationPrefixListId")
    try:
        if "/" not in cidr:
            raise ValueError(cidr)
        return str(ipaddress.IPv4Network(cidr, strict=True))
    except ValueError:
        raise Ec2Error("InvalidParameterValue", f"Value ({cidr}) for parameter destinationCidrBlock is "
                                                "invalid. This is not a valid CIDR block.") from None


def _target(ctx, params, rt):
    given = [p for p in _TARGET_PARAMS if params.get(p)]
    if not given:
        raise Ec2Error("MissingParameter", "The request must contain exactly one of gatewayId, "
                                           "natGatewayId, networkInterfaceId, instanceId, "
                                           "vpcPeeringConnectionId, transitGatewayId")
    if len(given) > 1:
        raise Ec2Error("InvalidParameterCombination",
                       "The parameters " + ", ".join(given) + " cannot be used together; specify one target")
    member, value = given[0], params[given[0]]
    region = ctx.region
    if member == "NetworkInterfaceId":
        eni = region.network_interfaces.get(value)
        if eni is None:
            raise not_found(value)
        if rt["vpc_id"] and eni["vpc_id"] and rt["vpc_id"] != eni["vpc_id"]:
            raise Ec2Error("InvalidParameterValue",
                           f"Route table {rt['id']} and network interface {value} belong to different networks")
        return {"NetworkInterfaceId": value}
    if member == "InstanceId":
        inst = region.instances.get(value)
        if inst is None:
            raise not_found(value)
        if len(inst["network_interfaces"]) > 1:
            raise Ec2Error("InvalidInstanceID", f"There are multiple interfaces attached to instance "
                                                f"'{value}'. Please specify an interface ID for the operation "
                                                "instead.")
        out = {"InstanceId": value}
        if inst["network_interfaces"]:
            out["NetworkInterfaceId"] = inst["network_interfaces"][0]
        return out
    return {_TARGET_PARAMS[member]: value}


def _route_table(ctx, params):
    rid = params["RouteTableId"]
    rt = ctx.region.route_tables.get(rid)
    if rt is None:
        raise not_found(rid)
    return rt


def replace_route(ctx, params):
    rt = _route_table(ctx, params)
    dest = _destination(params)
    target = _target(ctx, params, rt)
    route = next((r for r in rt["routes"] if r["destination_cidr_block"] == dest), None)
    if route is None:
        raise Ec2Error("InvalidRoute.NotFound", f"There is no route defined for '{dest}' in the route table. "
                                                "Use CreateRoute instead.")
    if route["target"].get("GatewayId") == "local" and target.get("GatewayId") != "local":
        raise Ec2Error("InvalidParameterValue", f"The route identified by {dest} is the local route of the "
                                                "VPC and cannot be replaced by cdpsim.")
    mark_stale(route, ["target"], _delay(ctx))
    route["target"] = target
    route["origin"] = "CreateRoute"
    route.pop("forced_state", None)
    return None


def create_route(ctx, params):
    rt = _route_table(ctx, params)
    dest = _destination(params)
    target = _target(ctx, params, rt)
    if any(r["destination_cidr_block"] == dest for r in rt["routes"]):
        raise Ec2Error("RouteAlreadyExists", f"The route identified by {dest} already exists.")
    route = {"destination_cidr_block": dest, "origin": "CreateRoute", "target": None}
    mark_stale(route, ["target"], _delay(ctx))
    route["target"] = target
    rt["routes"].append(route)
    return {"Return": True}


# ---------------------------------------------------------------------------
# network interface attributes

def _eni(ctx, eid):
    eni = ctx.region.network_interfaces.get(eid)
    if eni is None:
        raise not_found(eid)
    return eni


def modify_network_interface_attribute(ctx, params):
    eni = _eni(ctx, params["NetworkInterfaceId"])
    wire = {"SourceDestCheck": "sourceDestCheck", "Description": "description", "Groups": "groupSet",
            "Attachment": "attachment", "EnaSrdSpecification": "enaSrdSpecification"}
    given = [k for k in wire if k in params]
    if not given:
        raise Ec2Error("MissingParameter", "The request must contain one of the parameters "
                                           "sourceDestCheck, description, groupSet, attachment")
    if len(given) > 1:
        raise Ec2Error("InvalidParameterCombination", "Fields for multiple attribute types specified: "
                       + ", ".join(wire[k] for k in given))
    what = given[0]
    if what == "SourceDestCheck":
        if "Value" not in params["SourceDestCheck"]:
            raise Ec2Error("MissingParameter", "The request must contain the parameter SourceDestCheck.Value")
        eni["source_dest_check"] = params["SourceDestCheck"]["Value"]
    elif what == "Description":
        eni["description"] = params["Description"].get("Value", "")
    elif what == "Groups":
        groups = []
        for gid in params["Groups"]:
            sg = ctx.region.security_groups.get(gid)
            if sg is None:
                raise not_found(gid)
            groups.append({"id": gid, "name": sg.get("name", gid)})
        eni["security_groups"] = groups
    elif what == "Attachment":
        att = eni["attachment"]
        aid = params["Attachment"].get("AttachmentId")
        if not att or att["attachment_id"] != aid:
            raise Ec2Error("InvalidAttachmentID.NotFound", f"The attachment ID '{aid}' does not exist")
        if "DeleteOnTermination" in params["Attachment"]:
            att["delete_on_termination"] = params["Attachment"]["DeleteOnTermination"]
    return None


# ---------------------------------------------------------------------------
# Elastic IPs

def address_shape(ctx, addr, now):
    region = ctx.region
    out = {"PublicIp": addr["public_ip"], "AllocationId": addr["id"], "Domain": addr["domain"],
           "Tags": tag_list(addr["tags"]), "PublicIpv4Pool": "amazon", "NetworkBorderGroup": region.name}
    assoc = region.address_association(addr, now)
    if assoc:
        eni = region.network_interfaces.get(assoc["network_interface_id"])
        out.update({"AssociationId": assoc["association_id"],
                    "NetworkInterfaceId": assoc["network_interface_id"],
                    "NetworkInterfaceOwnerId": ctx.state.account_id,
                    "PrivateIpAddress": assoc["private_ip"]})
        if eni and eni["attachment"]:
            out["InstanceId"] = eni["attachment"]["instance_id"]
    return out


def describe_addresses(ctx, params):
    region = ctx.region
    addrs = by_id(region.addresses)
    if params.get("AllocationIds"):
        require_ids(region.addresses, params["AllocationIds"])
        addrs = [a for a in addrs if a["id"] in params["AllocationIds"]]
    if params.get("PublicIps"):
        known = {a["public_ip"] for a in addrs}
        for ip in params["PublicIps"]:
            if ip not in known:
                raise Ec2Error("InvalidAddress.NotFound", f"Address '{ip}' not found.")
        addrs = [a for a in addrs if a["public_ip"] in params["PublicIps"]]
    now = time.time()
    shapes = [(a, address_shape(ctx, a, now)) for a in addrs]
    shapes = apply_filters(shapes, params.get("Filters"), {
        "allocation-id": lambda x: x[1]["AllocationId"],
        "association-id": lambda x: x[1].get("AssociationId"),
        "network-interface-id": lambda x: x[1].get("NetworkInterfaceId"),
        "network-interface-owner-id": lambda x: x[1].get("NetworkInterfaceOwnerId"),
        "instance-id": lambda x: x[1].get("InstanceId"),
        "private-ip-address": lambda x: x[1].get("PrivateIpAddress"),
        "public-ip": lambda x: x[1]["PublicIp"],
        "domain": lambda x: x[1]["Domain"],
        "network-border-group": lambda x: x[1]["NetworkBorderGroup"],
    }, tags_of=lambda x: x[0]["tags"])
    return {"Addresses": [shape for _, shape in shapes]}


def _address(ctx, params):
    region = ctx.region
    if params.get("AllocationId"):
        addr = region.addresses.get(params["AllocationId"])
        if addr is None:
            raise not_found(params["AllocationId"])
        return addr
    if params.get("PublicIp"):
        for addr in region.addresses.values():
            if addr["public_ip"] == params["PublicIp"]:
                return addr
        raise Ec2Error("InvalidAddress.NotFound", f"Address '{params['PublicIp']}' not found.")
    raise Ec2Error("MissingParameter", "Either public IP or allocation id must be specified")


def _new_association_id(region):
    taken = {a["association"]["association_id"] for a in region.addresses.values() if a.get("association")}
    return new_id("eipassoc-", taken)


def _set_association(ctx, addr, assoc):
    mark_stale(addr, ["association"], _delay(ctx))
    addr["association"] = assoc


def associate_address(ctx, params):
    region = ctx.region
    addr = _address(ctx, params)
    eid, iid = params.get("NetworkInterfaceId"), params.get("InstanceId")
    if not eid and not iid:
        raise Ec2Error("MissingParameter", "Either an instance ID or a network interface ID must be specified")
    if iid:
        inst = region.instances.get(iid)
        if inst is None:
            raise not_found(iid)
        if eid and eid not in inst["network_interfaces"]:
            raise Ec2Error("InvalidParameterCombination",
                           f"The network interface {eid} is not attached to instance {iid}")
        if not eid:
            if len(inst["network_interfaces"]) > 1:
                raise Ec2Error("InvalidInstanceID", f"There are multiple interfaces attached to instance "
                                                    f"'{iid}'. Please specify an interface ID for the "
                                                    "operation instead.")
            if not inst["network_interfaces"]:
                raise Ec2Error("InvalidInstanceID", f"The instance '{iid}' has no network interface")
            eid = inst["network_interfaces"][0]
    eni = _eni(ctx, eid)
    ip = params.get("PrivateIpAddress") or (eni["private_ips"][0] if eni["private_ips"] else None)
    if ip not in eni["private_ips"]:
        raise Ec2Error("InvalidParameterValue",
                       f"The private IP address {ip} is not assigned to network interface {eid}")
    allow = params.get("AllowReassociation", False)
    current = addr.get("association")
    if current and not allow:
        raise Ec2Error("Resource.AlreadyAssociated", f"resource {addr['id']} is already associated with "
                                                     f"associate-id {current['association_id']}")
    others = [a for a in region.addresses.values() if a is not addr and a.get("association")
              and a["association"]["network_interface_id"] == eid and a["association"]["private_ip"] == ip]
    if others and not allow:
        raise Ec2Error("Resource.AlreadyAssociated", f"resource {eid} with private IP address {ip} is already "
                                                     f"associated with {others[0]['id']}")
    for other in others:
        _set_association(ctx, other, None)
    assoc_id = _new_association_id(region)
    _set_association(ctx, addr, {"association_id": assoc_id, "network_interface_id": eid, "private_ip": ip})
    return {"AssociationId": assoc_id}


def disassociate_address(ctx, params):
    region = ctx.region
    if params.get("AssociationId"):
        aid = params["AssociationId"]
        addr = next((a for a in region.addresses.values()
                     if a.get("association") and a["association"]["association_id"] == aid), None)
        if addr is None:
            raise not_found(aid)
    elif params.get("PublicIp"):
        addr = _address(ctx, {"PublicIp": params["PublicIp"]})
        if not addr.get("association"):
            raise Ec2Error("InvalidAssociationID.NotFound",
                           f"The address {params['PublicIp']} is not associated")
    else:
        raise Ec2Error("MissingParameter", "Either public IP or association id must be specified")
    _set_association(ctx, addr, None)
    return None


# ---------------------------------------------------------------------------
# secondary private IPs

def _holder(region, ip):
    for eni in region.network_interfaces.values():
        if ip in eni["private_ips"]:
            return eni
    return None


def _free_ips(region, eni, count):
    subnet = region.subnets.get(eni["subnet_id"]) or {}
    try:
        net = ipaddress.IPv4Network(subnet.get("cidr_block") or f"{eni['private_ips'][0]}/24", strict=False)
    except (ValueError, IndexError):
        raise Ec2Error("InsufficientFreeAddressesInSubnet",
                       f"The subnet of {eni['id']} has no known address range") from None
    used = {ip for e in region.network_interfaces.values() for ip in e["private_ips"]}
    out = []
    hosts = list(net.hosts())[3:]  # AWS reserves the first four addresses (network + 3)
    for host in hosts[:-1] if len(hosts) > 1 else hosts:  # and the last one
        if str(host) not in used:
            out.append(str(host))
            if len(out) == count:
                return out
    raise Ec2Error("InsufficientFreeAddressesInSubnet",
                   f"There are not enough free addresses in the subnet of {eni['id']} to satisfy the request.")


def _limit(region, eni):
    att = eni["attachment"]
    inst = region.instances.get(att["instance_id"]) if att else None
    return inst.get("max_private_ips") if inst else None


def assign_private_ip_addresses(ctx, params):
    region = ctx.region
    eni = _eni(ctx, params["NetworkInterfaceId"])
    ips, count = params.get("PrivateIpAddresses"), params.get("SecondaryPrivateIpAddressCount")
    if params.get("Ipv4Prefixes") or params.get("Ipv4PrefixCount"):
        raise Ec2Error("InvalidParameterValue", "cdpsim does not simulate IPv4 prefix delegation")
    if ips and count:
        raise Ec2Error("InvalidParameterCombination", "You may specify secondaryPrivateIpAddressCount or "
                                                      "specific secondary private IP addresses, but not both.")
    if not ips and not count:
        raise Ec2Error("MissingParameter", "The request must contain the parameter "
                                           "secondaryPrivateIpAddressCount or privateIpAddress")
    if count:
        ips = _free_ips(region, eni, count)
    for ip in ips:
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            raise Ec2Error("InvalidParameterValue",
                           f"Value ({ip}) for parameter privateIpAddress is invalid.") from None
    allow = params.get("AllowReassignment", False)
    moves = []
    for ip in dict.fromkeys(ips):
        holder = _holder(region, ip)
        if holder is eni:
            continue
        if holder is not None and (not allow or holder["private_ips"][0] == ip):
            raise Ec2Error("InvalidIPAddress.InUse", f"Address {ip} is in use.")
        moves.append((ip, holder))
    limit = _limit(region, eni)
    if limit is not None and len(eni["private_ips"]) + len(moves) > limit:
        raise Ec2Error("PrivateIpAddressLimitExceeded",
                       f"Number of private addresses will exceed limit for network interface {eni['id']}")
    delay = _delay(ctx)
    for ip, holder in moves:
        if holder is not None:
            mark_stale(holder, ["private_ips"], delay)
            holder["private_ips"] = [x for x in holder["private_ips"] if x != ip]
            for addr in region.addresses.values():  # an EIP on the address moves with it
                assoc = addr.get("association")
                if assoc and assoc["network_interface_id"] == holder["id"] and assoc["private_ip"] == ip:
                    _set_association(ctx, addr, dict(assoc, network_interface_id=eni["id"]))
    if moves:
        mark_stale(eni, ["private_ips"], delay)
        eni["private_ips"] = eni["private_ips"] + [ip for ip, _ in moves]
    return {"NetworkInterfaceId": eni["id"],
            "AssignedPrivateIpAddresses": [{"PrivateIpAddress": ip} for ip in dict.fromkeys(ips)]}


def unassign_private_ip_addresses(ctx, params):
    region = ctx.region
    eni = _eni(ctx, params["NetworkInterfaceId"])
    if params.get("Ipv4Prefixes"):
        raise Ec2Error("InvalidParameterValue", "cdpsim does not simulate IPv4 prefix delegation")
    ips = params.get("PrivateIpAddresses")
    if not ips:
        raise Ec2Error("MissingParameter", "The request must contain the parameter privateIpAddress")
    for ip in ips:
        if ip not in eni["private_ips"]:
            raise Ec2Error("InvalidParameterValue",
                           f"Some of the specified addresses are not assigned to interface {eni['id']}")
        if ip == eni["private_ips"][0]:
            raise Ec2Error("InvalidParameterValue",
                           f"The primary private IP address {ip} of {eni['id']} cannot be unassigned")
    mark_stale(eni, ["private_ips"], _delay(ctx))
    eni["private_ips"] = [x for x in eni["private_ips"] if x not in ips]
    for addr in region.addresses.values():
        assoc = addr.get("association")
        if assoc and assoc["network_interface_id"] == eni["id"] and assoc["private_ip"] in ips:
            _set_association(ctx, addr, None)
    return None


# ---------------------------------------------------------------------------
# security group rules

def sg_rule_shape(ctx, rule):
    return {
        "SecurityGroupRuleId": rule["id"], "GroupId": rule["group_id"], "GroupOwnerId": ctx.state.account_id,
        "IsEgress": rule["is_egress"], "IpProtocol": rule["ip_protocol"], "FromPort": rule["from_port"],
        "ToPort": rule["to_port"], "CidrIpv4": rule.get("cidr_ipv4"), "CidrIpv6": rule.get("cidr_ipv6"),
        "Description": rule.get("description"), "Tags": tag_list(rule["tags"]),
    }


def describe_security_group_rules(ctx, params):
    region = ctx.region
    ids = params.get("SecurityGroupRuleIds")
    if ids:
        require_ids(region.security_group_rules, ids)
        rules = [region.security_group_rules[r] for r in sorted(set(ids))]
    else:
        rules = by_id(region.security_group_rules)
    rules = apply_filters(rules, params.get("Filters"), {
        "group-id": lambda r: r["group_id"],
        "security-group-rule-id": lambda r: r["id"],
    }, tags_of=lambda r: r["tags"])
    page, token = paginate(ctx, rules, params, max_results=1000, key=id_key)
    return {"SecurityGroupRules": [sg_rule_shape(ctx, r) for r in page], "NextToken": token}


def _proto(value):
    value = str(value).lower()
    return {"all": "-1", "6": "tcp", "17": "udp", "1": "icmp"}.get(value, value)


def _permission_keys(perm):
    """One IpPermission -> [(protocol, from, to, cidr4, cidr6, the range item)]."""
    proto = _proto(perm.get("IpProtocol", "-1"))
    lo, hi = (-1, -1) if proto == "-1" else (perm.get("FromPort"), perm.get("ToPort"))
    out = [(proto, lo, hi, r.get("CidrIp"), None, ("IpRanges", r)) for r in perm.get("IpRanges") or []]
    out += [(proto, lo, hi, None, r.get("CidrIpv6"), ("Ipv6Ranges", r)) for r in perm.get("Ipv6Ranges") or []]
    return out


def revoke_security_group_ingress(ctx, params):
    region = ctx.region
    gid = params.get("GroupId")
    if not gid and params.get("GroupName"):
        gid = next((g for g, sg in region.security_groups.items() if sg.get("name") == params["GroupName"]), None)
        if gid is None:
            raise Ec2Error("InvalidGroup.NotFound", f"The security group '{params['GroupName']}' does not exist")
    if not gid:
        raise Ec2Error("MissingParameter", "The request must contain the parameter groupName or groupId")
    if gid not in region.security_groups:
        raise not_found(gid)
    rule_ids = params.get("SecurityGroupRuleIds") or []
    perms = list(params.get("IpPermissions") or [])
    if params.get("CidrIp") or params.get("IpProtocol"):
        perms.append({"IpProtocol": params.get("IpProtocol", "-1"), "FromPort": params.get("FromPort"),
                      "ToPort": params.get("ToPort"), "IpRanges": [{"CidrIp": params.get("CidrIp")}]})
    if not rule_ids and not perms:
        raise Ec2Error("MissingParameter",
                       "The request must contain the parameter ipPermissions or securityGroupRuleIds")
    for rid in rule_ids:
        rule = region.security_group_rules.get(rid)
        if rule is None or rule["group_id"] != gid or rule["is_egress"]:
            raise Ec2Error("InvalidSecurityGroupRuleId.NotFound",
                           f"The security group rule ID '{rid}' does not exist")
    doomed = set(rule_ids)
    unknown = []
    ingress = [r for r in region.security_group_rules.values() if r["group_id"] == gid and not r["is_egress"]]
    for perm in perms:
        missing = {}
        for proto, lo, hi, c4, c6, (kind, item) in _permission_keys(perm):
            hit = [r for r in ingress if r["ip_protocol"] == proto and r["from_port"] == lo
                   and r["to_port"] == hi and r.get("cidr_ipv4") == c4 and r.get("cidr_ipv6") == c6]
            if hit:
                doomed.update(r["id"] for r in hit)
            else:
                missing.setdefault(kind, []).append(item)
        if missing:
            unknown.append(dict({k: perm[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in perm},
                                **missing))
    for rid in doomed:
        del region.security_group_rules[rid]
    return {"Return": True, "UnknownIpPermissions": unknown or None}


ACTIONS = {
    "DescribeRouteTables": describe_route_tables,
    "CreateRoute": create_route,
    "ReplaceRoute": replace_route,
    "ModifyNetworkInterfaceAttribute": modify_network_interface_attribute,
    "DescribeAddresses": describe_addresses,
    "AssociateAddress": associate_address,
    "DisassociateAddress": disassociate_address,
    "AssignPrivateIpAddresses": assign_private_ip_addresses,
    "UnassignPrivateIpAddresses": unassign_private_ip_addresses,
    "DescribeSecurityGroupRules": describe_security_group_rules,
    "RevokeSecurityGroupIngress": revoke_security_group_ingress,
}
