"""EC2 action handlers for instances, network interfaces and tags, and the
ACTIONS dispatch table of every implemented action.

A handler is handler(ctx, params) -> dict in botocore's output shape for the
action (None for actions without output).  ctx: .state (SimState), .region
(Region), .action, .key (the caller's credential record).  Handlers run with
the state lock held, after Region.settle().  Shared helpers (filters,
pagination, ids, tags) are in ec2common.py; EBS/AMI actions in ec2ebs.py,
route/address/private-IP/security-group-rule actions in ec2net.py.
"""

import hashlib
import time

import ec2ebs
import ec2net
from ec2common import (MAX_TAGS, apply_filters, literal_filter_values, not_found, paginate,
                       require_ids, tag_list)
from ec2proto import Ec2Error
from simstate import STATE_CODES

# ---------------------------------------------------------------------------
# output shapes

def _private_dns(region, ip):
    if not ip:
        return ""
    suffix = "ec2.internal" if region.name == "us-east-1" else f"{region.name}.compute.internal"
    return "ip-" + ip.replace(".", "-") + "." + suffix


def public_dns(region, ip):
    if not ip:
        return ""
    if region.name == "us-east-1":
        return "ec2-" + ip.replace(".", "-") + ".compute-1.amazonaws.com"
    return "ec2-" + ip.replace(".", "-") + f".{region.name}.compute.amazonaws.com"


def _groups(groups):
    return [{"GroupId": g.get("id"), "GroupName": g.get("name", "default")} for g in groups]


def ip_associations(ctx, eni, full, now=None):
    """{private ip: association shape} as describes show them now: Elastic IPs first, then a
    scenario's static public IP on the primary address.  full: the DescribeNetworkInterfaces
    shape (with AllocationId/AssociationId); else the DescribeInstances one."""
    region = ctx.region
    out = {}
    static = eni.get("association")
    ips = region.eni_ips(eni, now)
    if static and ips:
        out[ips[0]] = {k: v for k, v in static.items()
                       if full or k in ("PublicIp", "PublicDnsName", "IpOwnerId", "CarrierIp")}
    for ip, addr in region.eni_addresses(eni["id"], now).items():
        assoc = {"IpOwnerId": ctx.state.account_id, "PublicDnsName": public_dns(region, addr["public_ip"]),
                 "PublicIp": addr["public_ip"]}
        if full:
            assoc["AllocationId"] = addr["id"]
            assoc["AssociationId"] = region.address_association(addr, now)["association_id"]
        out[ip] = assoc
    return out


def _private_ips(ctx, eni, full, now):
    region = ctx.region
    assocs = ip_associations(ctx, eni, full, now)
    out = []
    for n, ip in enumerate(region.eni_ips(eni, now)):
        item = {"Primary": n == 0, "PrivateIpAddress": ip, "PrivateDnsName": _private_dns(region, ip)}
        if ip in assocs:
            item["Association"] = assocs[ip]
        out.append(item)
    return out


def _eni_common(ctx, eni, full, now):
    region = ctx.region
    ips = region.eni_ips(eni, now)
    ip = ips[0] if ips else None
    return {
        "Association": ip_associations(ctx, eni, full, now).get(ip),
        "Description": eni["description"],
        "Groups": _groups(eni["security_groups"]),
        "Ipv6Addresses": [],
        "MacAddress": eni["mac"],
        "NetworkInterfaceId": eni["id"],
        "OwnerId": ctx.state.account_id,
        "PrivateDnsName": _private_dns(region, ip),
        "PrivateIpAddress": ip,
        "PrivateIpAddresses": _private_ips(ctx, eni, full, now),
        "SourceDestCheck": eni["source_dest_check"],
        "Status": eni["status"],
        "SubnetId": eni["subnet_id"],
        "VpcId": eni["vpc_id"],
        "InterfaceType": "interface",
    }


def instance_eni_shape(ctx, eni, now=None):
    att = eni["attachment"]
    out = _eni_common(ctx, eni, False, now)
    out["Attachment"] = {
        "AttachTime": att["attach_time"], "AttachmentId": att["attachment_id"],
        "DeleteOnTermination": att["delete_on_termination"], "DeviceIndex": att["device_index"],
        "Status": att["status"], "NetworkCardIndex": 0,
    }
    return out


def eni_shape(ctx, eni, now=None):
    out = _eni_common(ctx, eni, True, now)
    att = eni["attachment"]
    if att:
        out["Attachment"] = {
            "AttachTime": att["attach_time"], "AttachmentId": att["attachment_id"],
            "DeleteOnTermination": att["delete_on_termination"], "DeviceIndex": att["device_index"],
            "Status": att["status"], "NetworkCardIndex": 0, "InstanceId": att["instance_id"],
            "InstanceOwnerId": ctx.state.account_id,
        }
    out.update({"AvailabilityZone": eni["az"], "RequesterManaged": False, "TagSet": tag_list(eni["tags"])})
    return out


def public_ip(ctx, inst, now=None):
    """The instance's public IPv4: an Elastic IP on its primary address, else the scenario's."""
    region = ctx.region
    primary = region.primary_eni(inst)
    if primary:
        ips = region.eni_ips(primary, now)
        addr = region.eni_addresses(primary["id"], now).get(ips[0] if ips else None)
        if addr:
            return addr["public_ip"]
    return inst["public_ip"]


def instance_shape(ctx, inst):
    region = ctx.region
    now = time.time()
    primary = region.primary_eni(inst)
    ips = region.eni_ips(primary, now) if primary else []
    ip = ips[0] if ips else None
    pub = public_ip(ctx, inst, now)
    out = {
        "AmiLaunchIndex": 0,
        "ImageId": inst["image_id"],
        "InstanceId": inst["id"],
        "InstanceType": inst["instance_type"],
        "KeyName": inst["key_name"],
        "LaunchTime": inst["launch_time"],
        "Monitoring": {"State": "disabled"},
        "Placement": {"AvailabilityZone": inst["az"], "GroupName": "", "Tenancy": "default"},
        "PrivateDnsName": _private_dns(region, ip),
        "PrivateIpAddress": ip,
        "PublicIpAddress": pub,
        "PublicDnsName": public_dns(region, pub),
        "State": {"Code": STATE_CODES.get(inst["state"], 16), "Name": inst["state"]},
        "SubnetId": inst["subnet_id"] or (primary or {}).get("subnet_id"),
        "VpcId": inst["vpc_id"] or (primary or {}).get("vpc_id"),
        "Architecture": inst["architecture"],
        "BlockDeviceMappings": [
            {"DeviceName": dev, "Ebs": {"AttachTime": bd["attach_time"],
                                        "DeleteOnTermination": bd["delete_on_termination"],
                                        "Status": "attached", "VolumeId": bd["volume_id"]}}
            for dev, bd in inst["block_devices"].items()],
        "EbsOptimized": False,
        "EnaSupport": True,
        "Hypervisor": "xen",
        "NetworkInterfaces": [instance_eni_shape(ctx, region.network_interfaces[e], now)
                              for e in inst["network_interfaces"]],
        "RootDeviceName": inst["root_device"],
        "RootDeviceType": "ebs",
        "SecurityGroups": _groups(inst["security_groups"]),
        "SourceDestCheck": primary["source_dest_check"] if primary else True,
        "Tags": tag_list(inst["tags"]),
        "VirtualizationType": "hvm",
        "MetadataOptions": {
            "State": "applied", "HttpTokens": "required", "HttpPutResponseHopLimit": 2,
            "HttpEndpoint": "enabled" if inst["imds"] else "disabled",
            "HttpProtocolIpv6": "disabled",
            "InstanceMetadataTags": "enabled" if inst["instance_metadata_tags"] else "disabled",
        },
        "PlatformDetails": "Linux/UNIX",
        "UsageOperation": "RunInstances",
    }
    if inst["role"]:
        out["IamInstanceProfile"] = {
            "Arn": f"arn:aws:iam::{ctx.state.account_id}:instance-profile/{inst['role']}",
            "Id": "AIPA" + hashlib.sha256(inst["role"].encode()).hexdigest()[:17].upper(),
        }
    return out


# ---------------------------------------------------------------------------
# actions

def describe_tags(ctx, params):
    ids = literal_filter_values(params.get("Filters"), "resource-id")
    if ids is not None:  # fast path: only the named resources (cheap with 10,000 snapshots)
        found = [(kind, rid, res) for rid in sorted(set(ids))
                 for kind, res in [ctx.region.find(rid)] if res is not None]
    else:
        found = ctx.region.iter_resources()
    rows = [(kind, rid, res, key, value)
            for kind, rid, res in found
            for key, value in res["tags"].items()]
    rows = apply_filters(rows, params.get("Filters"), {
        "resource-id": lambda r: r[1],
        "resource-type": lambda r: r[0],
        "key": lambda r: r[3],
        "value": lambda r: r[4],
    }, tags_of=lambda r: r[2]["tags"])
    page, token = paginate(ctx, rows, params)
    return {"Tags": [{"ResourceId": rid, "ResourceType": kind, "Key": key, "Value": value}
                     for kind, rid, _, key, value in page],
            "NextToken": token}


def describe_instances(ctx, params):
    region = ctx.region
    ids = params.get("InstanceIds")
    if ids and "MaxResults" in params:
        raise Ec2Error("InvalidParameterCombination",
                       "The parameter instancesSet cannot be used with the parameter maxResults")
    if ids:
        require_ids(region.instances, ids)
        insts = [region.instances[i] for i in dict.fromkeys(ids)]
    else:
        insts = [region.instances[i] for i in sorted(region.instances)]
    now = time.time()

    def first_ip(inst):
        primary = region.primary_eni(inst)
        ips = region.eni_ips(primary, now) if primary else []
        return ips[0] if ips else None

    insts = apply_filters(insts, params.get("Filters"), {
        "instance-id": lambda i: i["id"],
        "instance-state-name": lambda i: i["state"],
        "instance-state-code": lambda i: STATE_CODES.get(i["state"]),
        "availability-zone": lambda i: i["az"],
        "image-id": lambda i: i["image_id"],
        "instance-type": lambda i: i["instance_type"],
        "private-ip-address": lambda i: first_ip(i),
        "ip-address": lambda i: public_ip(ctx, i, now),
        "vpc-id": lambda i: i["vpc_id"],
        "subnet-id": lambda i: i["subnet_id"],
        "reservation-id": lambda i: i["reservation_id"],
        "iam-instance-profile.arn": lambda i: i["role"] and
        f"arn:aws:iam::{ctx.state.account_id}:instance-profile/{i['role']}",
        "network-interface.network-interface-id": lambda i: i["network_interfaces"],
        "network-interface.addresses.private-ip-address": lambda i: [
            ip for e in i["network_interfaces"] for ip in region.eni_ips(region.network_interfaces[e], now)],
        "block-device-mapping.volume-id": lambda i: [bd["volume_id"] for bd in i["block_devices"].values()],
    }, tags_of=lambda i: i["tags"])
    page, token = paginate(ctx, insts, params)
    return {"Reservations": [{"ReservationId": i["reservation_id"], "OwnerId": ctx.state.account_id,
                              "Groups": [], "Instances": [instance_shape(ctx, i)]} for i in page],
            "NextToken": token}


def describe_network_interfaces(ctx, params):
    region = ctx.region
    ids = params.get("NetworkInterfaceIds")
    if ids:
        require_ids(region.network_interfaces, ids)
        enis = [region.network_interfaces[e] for e in dict.fromkeys(ids)]
    else:
        enis = [region.network_interfaces[e] for e in sorted(region.network_interfaces)]
    att = lambda e, k: e["attachment"][k] if e["attachment"] else None  # noqa: E731
    now = time.time()
    enis = apply_filters(enis, params.get("Filters"), {
        "network-interface-id": lambda e: e["id"],
        "attachment.instance-id": lambda e: att(e, "instance_id"),
        "attachment.device-index": lambda e: att(e, "device_index"),
        "attachment.attachment-id": lambda e: att(e, "attachment_id"),
        "attachment.status": lambda e: att(e, "status"),
        "availability-zone": lambda e: e["az"],
        "mac-address": lambda e: e["mac"],
        "private-ip-address": lambda e: region.eni_ips(e, now)[:1],
        "addresses.private-ip-address": lambda e: region.eni_ips(e, now),
        "association.public-ip": lambda e: [a["PublicIp"] for a in ip_associations(ctx, e, True, now).values()],
        "association.allocation-id": lambda e: [a.get("AllocationId")
                                                for a in ip_associations(ctx, e, True, now).values()],
        "association.association-id": lambda e: [a.get("AssociationId")
                                                 for a in ip_associations(ctx, e, True, now).values()],
        "source-dest-check": lambda e: e["source_dest_check"],
        "status": lambda e: e["status"],
        "subnet-id": lambda e: e["subnet_id"],
        "vpc-id": lambda e: e["vpc_id"],
        "description": lambda e: e["description"],
        "owner-id": lambda e: ctx.state.account_id,
    }, tags_of=lambda e: e["tags"])
    page, token = paginate(ctx, enis, params)
    return {"NetworkInterfaces": [eni_shape(ctx, e, now) for e in page], "NextToken": token}


def _resources(ctx, ids):
    out = []
    for rid in ids:
        _, res = ctx.region.find(rid)
        if res is None:
            raise not_found(rid)
        out.append(res)
    return out


def create_tags(ctx, params):
    resources = _resources(ctx, params["Resources"])
    new = {}
    for tag in params["Tags"]:
        key, value = tag.get("Key"), tag.get("Value", "")
        if not key:
            raise Ec2Error("InvalidParameterValue", "Tag key must not be empty")
        if len(key) > 128:
            raise Ec2Error("InvalidParameterValue", f"Tag key exceeds the maximum length of 128 characters: {key}")
        if len(value) > 256:
            raise Ec2Error("InvalidParameterValue", "Tag value exceeds the maximum length of 256 characters")
        if key.lower().startswith("aws:"):
            raise Ec2Error("InvalidParameterValue",
                           "Tag keys starting with 'aws:' are reserved for internal use")
        new[key] = value
    for res in resources:
        if len(set(res["tags"]) | set(new)) > MAX_TAGS:
            raise Ec2Error("TagLimitExceeded",
                           f"The maximum number of Tags for resource {res['id']} has been reached.")
    for res in resources:
        res["tags"].update(new)
    return None


def delete_tags(ctx, params):
    resources = _resources(ctx, params["Resources"])
    for res in resources:
        if "Tags" not in params:
            for key in [k for k in res["tags"] if not k.startswith("aws:")]:
                del res["tags"][key]
            continue
        for tag in params["Tags"]:
            key = tag.get("Key")
            if key in res["tags"] and ("Value" not in tag or res["tags"][key] == tag["Value"]):
                del res["tags"][key]
    return None


# ---------------------------------------------------------------------------
# instance state changes: stopping -> stopped, shutting-down -> terminated after
# instance_state_s, moved on lazily by Region.settle (IMDS keeps answering)

def _state(inst):
    return {"Code": STATE_CODES.get(inst["state"], 16), "Name": inst["state"]}


def _instances(ctx, ids):
    require_ids(ctx.region.instances, ids)
    return [ctx.region.instances[i] for i in dict.fromkeys(ids)]


def stop_instances(ctx, params):
    insts = _instances(ctx, params["InstanceIds"])
    for inst in insts:
        if inst["state"] in ("pending", "shutting-down", "terminated"):
            raise Ec2Error("IncorrectInstanceState", f"The instance '{inst['id']}' is not in a state from "
                                                     "which it can be stopped.")
    out = []
    for inst in insts:
        before = _state(inst)
        if inst["state"] == "running":
            ctx.region.begin_transition(inst, "stopping", "stopped", ctx.state.setting("instance_state_s"))
        out.append({"InstanceId": inst["id"], "PreviousState": before, "CurrentState": _state(inst)})
    return {"StoppingInstances": out}


def terminate_instances(ctx, params):
    insts = _instances(ctx, params["InstanceIds"])
    out = []
    for inst in insts:
        before = _state(inst)
        if inst["state"] not in ("shutting-down", "terminated"):
            ctx.region.begin_transition(inst, "shutting-down", "terminated",
                                        ctx.state.setting("instance_state_s"))
        out.append({"InstanceId": inst["id"], "PreviousState": before, "CurrentState": _state(inst)})
    return {"TerminatingInstances": out}


ACTIONS = {
    "DescribeTags": describe_tags,
    "DescribeInstances": describe_instances,
    "DescribeNetworkInterfaces": describe_network_interfaces,
    "CreateTags": create_tags,
    "DeleteTags": delete_tags,
    "StopInstances": stop_instances,
    "TerminateInstances": terminate_instances,
}
ACTIONS.update(ec2ebs.ACTIONS)
ACTIONS.update(ec2net.ACTIONS)
