"""EC2 action handlers and the helpers they share (filters, pagination, ids).

A handler is handler(ctx, params) -> dict in botocore's output shape for the
action (None for actions without output).  ctx: .state (SimState), .region
(Region), .action, .key (the caller's credential record).  Handlers run with
the state lock held.  Register new actions in ACTIONS at the bottom.
"""

import base64
import hashlib
import hmac
import json
import re

from ec2proto import Ec2Error
from simstate import STATE_CODES

# ---------------------------------------------------------------------------
# ids and not-found errors

_ID_RE = re.compile(r"^[a-z]+(-[a-z]+)*-([0-9a-f]{8}|[0-9a-f]{17})$")

_NOT_FOUND = {
    "i-": ("InvalidInstanceID", "The instance ID '{}' does not exist"),
    "vol-": ("InvalidVolume", "The volume '{}' does not exist."),
    "snap-": ("InvalidSnapshot", "The snapshot '{}' does not exist."),
    "ami-": ("InvalidAMIID", "The image id '[{}]' does not exist"),
    "eni-": ("InvalidNetworkInterfaceID", "The networkInterface ID '{}' does not exist"),
    "eipalloc-": ("InvalidAllocationID", "The allocation ID '{}' does not exist"),
    "rtb-": ("InvalidRouteTableID", "The routeTable ID '{}' does not exist"),
    "sg-": ("InvalidGroup", "The security group '{}' does not exist"),
    "vpc-": ("InvalidVpcID", "The vpc ID '{}' does not exist"),
    "subnet-": ("InvalidSubnetID", "The subnet ID '{}' does not exist"),
}


def not_found(resource_id):
    for prefix, (base, msg) in _NOT_FOUND.items():
        if resource_id.startswith(prefix):
            if not _ID_RE.match(resource_id):
                return Ec2Error(base + ".Malformed", f'Invalid id: "{resource_id}"')
            return Ec2Error(base + ".NotFound", msg.format(resource_id))
    return Ec2Error("InvalidID", f"The ID '{resource_id}' is not valid")


def require_ids(collection, ids):
    """Every id must exist in the collection, else EC2's NotFound/Malformed error."""
    for rid in ids:
        if rid not in collection:
            raise not_found(rid)


# ---------------------------------------------------------------------------
# filters: values in one filter are OR'd, filters are AND'd, * and ? wildcards

def _pattern(value):
    out, escaped = [], False
    for ch in value:
        if escaped:
            out.append(re.escape(ch))
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("^" + "".join(out) + "$", re.S)


def apply_filters(items, filters, fields, tags_of=None):
    """fields: filter name -> fn(item) -> value or list of values.
    tags_of(item) -> {k: v} enables tag:<key>, tag-key and tag-value."""
    for flt in filters or []:
        name = flt.get("Name")
        patterns = [_pattern(v) for v in flt.get("Values", [])]
        if name is None:
            raise Ec2Error("InvalidParameterValue", "The filter 'null' is invalid")
        if name in fields:
            get = fields[name]
        elif tags_of is not None and name.startswith("tag:"):
            key = name[4:]
            get = (lambda k: lambda it: [tags_of(it)[k]] if k in tags_of(it) else [])(key)
        elif tags_of is not None and name == "tag-key":
            get = lambda it: list(tags_of(it))  # noqa: E731
        elif tags_of is not None and name == "tag-value":
            get = lambda it: list(tags_of(it).values())  # noqa: E731
        else:
            raise Ec2Error("InvalidParameterValue", f"The filter '{name}' is invalid")
        kept = []
        for item in items:
            values = get(item)
            if not isinstance(values, (list, tuple, set)):
                values = [values]
            values = ["true" if v is True else "false" if v is False else str(v)
                      for v in values if v is not None]
            if any(p.match(v) for p in patterns for v in values):
                kept.append(item)
        items = kept
    return items


# ---------------------------------------------------------------------------
# pagination: MaxResults + opaque NextToken bound to the action and its filters

def _fingerprint(ctx, params):
    rest = {k: v for k, v in params.items() if k not in ("NextToken", "MaxResults", "DryRun")}
    raw = json.dumps([ctx.action, ctx.region.name, rest], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _sign(ctx, payload):
    return hmac.new(ctx.state.page_secret, payload.encode(), hashlib.sha256).hexdigest()[:16]


def paginate(ctx, items, params, min_results=5, max_results=1000):
    """-> (page, next_token or None)."""
    token = params.get("NextToken")
    limit = params.get("MaxResults")
    start = 0
    if token is not None:
        try:
            payload, mac = base64.urlsafe_b64decode(token.encode()).decode().rsplit("|", 1)
            offset, fingerprint = payload.split("|")
            valid = hmac.compare_digest(mac, _sign(ctx, payload)) and \
                fingerprint == _fingerprint(ctx, params)
            start = int(offset)
        except (ValueError, UnicodeDecodeError):
            valid = False
        if not valid:
            raise Ec2Error("InvalidParameterValue", f"The value '{token}' for nextToken is invalid.")
    if limit is None:
        return items[start:], None
    if limit < min_results:
        raise Ec2Error("InvalidParameterValue",
                       f"Value ( {limit} ) for parameter maxResults is invalid. "
                       f"Expecting a value greater than {min_results}.")
    if limit > max_results:
        raise Ec2Error("InvalidParameterValue",
                       f"Value ( {limit} ) for parameter maxResults is invalid. "
                       f"Expecting a value less than {max_results}.")
    end = start + limit
    if end >= len(items):
        return items[start:], None
    payload = f"{end}|{_fingerprint(ctx, params)}"
    return items[start:end], base64.urlsafe_b64encode(f"{payload}|{_sign(ctx, payload)}".encode()).decode()


# ---------------------------------------------------------------------------
# output shapes

def tag_list(tags):
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _private_dns(region, ip):
    if not ip:
        return ""
    suffix = "ec2.internal" if region.name == "us-east-1" else f"{region.name}.compute.internal"
    return "ip-" + ip.replace(".", "-") + "." + suffix


def _groups(groups):
    return [{"GroupId": g.get("id"), "GroupName": g.get("name", "default")} for g in groups]


def _private_ips(region, eni):
    out = []
    for n, ip in enumerate(eni["private_ips"]):
        item = {"Primary": n == 0, "PrivateIpAddress": ip, "PrivateDnsName": _private_dns(region, ip)}
        assoc = (eni.get("ip_associations") or {}).get(ip)
        if assoc:
            item["Association"] = assoc
        out.append(item)
    return out


def instance_eni_shape(ctx, eni):
    region, att = ctx.region, eni["attachment"]
    ip = eni["private_ips"][0] if eni["private_ips"] else None
    return {
        "Attachment": {
            "AttachTime": att["attach_time"], "AttachmentId": att["attachment_id"],
            "DeleteOnTermination": att["delete_on_termination"], "DeviceIndex": att["device_index"],
            "Status": att["status"], "NetworkCardIndex": 0,
        },
        "Association": eni.get("association"),
        "Description": eni["description"],
        "Groups": _groups(eni["security_groups"]),
        "Ipv6Addresses": [],
        "MacAddress": eni["mac"],
        "NetworkInterfaceId": eni["id"],
        "OwnerId": ctx.state.account_id,
        "PrivateDnsName": _private_dns(region, ip),
        "PrivateIpAddress": ip,
        "PrivateIpAddresses": _private_ips(region, eni),
        "SourceDestCheck": eni["source_dest_check"],
        "Status": eni["status"],
        "SubnetId": eni["subnet_id"],
        "VpcId": eni["vpc_id"],
        "InterfaceType": "interface",
    }


def eni_shape(ctx, eni):
    out = instance_eni_shape(ctx, eni) if eni["attachment"] else {
        "Description": eni["description"], "Groups": _groups(eni["security_groups"]),
        "Ipv6Addresses": [], "MacAddress": eni["mac"], "NetworkInterfaceId": eni["id"],
        "OwnerId": ctx.state.account_id, "PrivateIpAddress": eni["private_ips"][0] if eni["private_ips"] else None,
        "PrivateIpAddresses": _private_ips(ctx.region, eni), "SourceDestCheck": eni["source_dest_check"],
        "Status": eni["status"], "SubnetId": eni["subnet_id"], "VpcId": eni["vpc_id"],
        "InterfaceType": "interface", "Association": eni.get("association"),
    }
    if eni["attachment"]:
        out["Attachment"] = dict(out["Attachment"], InstanceId=eni["attachment"]["instance_id"],
                                 InstanceOwnerId=ctx.state.account_id)
    out.update({"AvailabilityZone": eni["az"], "RequesterManaged": False, "TagSet": tag_list(eni["tags"])})
    return out


def instance_shape(ctx, inst):
    region = ctx.region
    ip = region.private_ip(inst)
    primary = region.primary_eni(inst)
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
        "PublicIpAddress": inst["public_ip"],
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
        "NetworkInterfaces": [instance_eni_shape(ctx, region.network_interfaces[e])
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
    rows = [(kind, rid, res, key, value)
            for kind, rid, res in ctx.region.iter_resources()
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
    insts = apply_filters(insts, params.get("Filters"), {
        "instance-id": lambda i: i["id"],
        "instance-state-name": lambda i: i["state"],
        "instance-state-code": lambda i: STATE_CODES.get(i["state"]),
        "availability-zone": lambda i: i["az"],
        "image-id": lambda i: i["image_id"],
        "instance-type": lambda i: i["instance_type"],
        "private-ip-address": lambda i: region.private_ip(i),
        "vpc-id": lambda i: i["vpc_id"],
        "subnet-id": lambda i: i["subnet_id"],
        "reservation-id": lambda i: i["reservation_id"],
        "iam-instance-profile.arn": lambda i: i["role"] and
        f"arn:aws:iam::{ctx.state.account_id}:instance-profile/{i['role']}",
        "network-interface.network-interface-id": lambda i: i["network_interfaces"],
        "network-interface.addresses.private-ip-address": lambda i: [
            ip for e in i["network_interfaces"] for ip in region.network_interfaces[e]["private_ips"]],
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
    enis = apply_filters(enis, params.get("Filters"), {
        "network-interface-id": lambda e: e["id"],
        "attachment.instance-id": lambda e: att(e, "instance_id"),
        "attachment.device-index": lambda e: att(e, "device_index"),
        "attachment.attachment-id": lambda e: att(e, "attachment_id"),
        "attachment.status": lambda e: att(e, "status"),
        "availability-zone": lambda e: e["az"],
        "mac-address": lambda e: e["mac"],
        "private-ip-address": lambda e: e["private_ips"][:1],
        "addresses.private-ip-address": lambda e: e["private_ips"],
        "source-dest-check": lambda e: e["source_dest_check"],
        "status": lambda e: e["status"],
        "subnet-id": lambda e: e["subnet_id"],
        "vpc-id": lambda e: e["vpc_id"],
        "description": lambda e: e["description"],
        "owner-id": lambda e: ctx.state.account_id,
    }, tags_of=lambda e: e["tags"])
    page, token = paginate(ctx, enis, params)
    return {"NetworkInterfaces": [eni_shape(ctx, e) for e in page], "NextToken": token}


MAX_TAGS = 50


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


ACTIONS = {
    "DescribeTags": describe_tags,
    "DescribeInstances": describe_instances,
    "DescribeNetworkInterfaces": describe_network_interfaces,
    "CreateTags": create_tags,
    "DeleteTags": delete_tags,
}
