"""IMDSv2 for one simulated instance (each instance has its own listener).

Only token-authenticated (v2) requests are served; values are read live
from the state, so tag and credential changes show up immediately.
"""

import hashlib
import json
import urllib.parse

from simstate import iso_seconds

TOKEN_PATH = "/latest/api/token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
MAX_TTL = 21600


class ImdsAnswer:
    def __init__(self, status, body=b"", headers=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode()
        self.headers = headers or {}
        self.code = None if status < 400 else str(status)


def _tree(state, region, inst):
    """Leaf path (relative to /latest/) -> str or callable returning str."""
    iid = inst["id"]
    primary = region.primary_eni(inst)
    primary_ips = region.eni_ips(primary) if primary else []
    ip = primary_ips[0] if primary_ips else ""
    public = inst["public_ip"]
    if primary:  # an Elastic IP on the primary address is the instance's public IPv4
        addr = region.eni_addresses(primary["id"]).get(ip)
        if addr:
            public = addr["public_ip"]
    hostname = "ip-" + ip.replace(".", "-") + (".ec2.internal" if region.name == "us-east-1"
                                                else f".{region.name}.compute.internal")
    md = {
        "ami-id": inst["image_id"],
        "instance-id": iid,
        "instance-type": inst["instance_type"],
        "local-ipv4": ip,
        "local-hostname": hostname,
        "hostname": hostname,
        "mac": primary["mac"] if primary else "",
        "reservation-id": inst["reservation_id"],
        "placement/region": region.name,
        "placement/availability-zone": inst["az"],
        "security-groups": "\n".join(g.get("name", "default") for g in inst["security_groups"]),
    }
    if public:
        md["public-ipv4"] = public
    for eid in inst["network_interfaces"]:
        eni = region.network_interfaces[eid]
        base = f"network/interfaces/macs/{eni['mac']}/"
        eips = region.eni_addresses(eid)
        for private, addr in eips.items():
            md[base + "ipv4-associations/" + addr["public_ip"]] = private
        if eips:
            md[base + "public-ipv4s"] = "\n".join(a["public_ip"] for a in eips.values())
        md.update({
            base + "device-number": str(eni["attachment"]["device_index"]),
            base + "interface-id": eid,
            base + "local-ipv4s": "\n".join(region.eni_ips(eni)),
            base + "local-hostname": hostname,
            base + "mac": eni["mac"],
            base + "owner-id": state.account_id,
            base + "subnet-id": eni["subnet_id"],
            base + "vpc-id": eni["vpc_id"],
            base + "security-group-ids": "\n".join(g.get("id", "") for g in eni["security_groups"]),
        })
    for dev, bd in inst["block_devices"].items():
        name = "root" if dev == inst["root_device"] else dev.rsplit("/", 1)[-1]
        md["block-device-mapping/" + name] = dev
    role = inst["role"]
    if role:
        md["iam/security-credentials/" + role] = lambda: _role_json(state, iid)
        md["iam/info"] = lambda: json.dumps({
            "Code": "Success",
            "LastUpdated": iso_seconds(state.role_credentials(iid)["last_updated"]),
            "InstanceProfileArn": f"arn:aws:iam::{state.account_id}:instance-profile/{role}",
            "InstanceProfileId": "AIPA" + hashlib.sha256(role.encode()).hexdigest()[:17].upper(),
        }, indent=2)
    if inst["instance_metadata_tags"]:
        for key, value in inst["tags"].items():
            md["tags/instance/" + key] = value
    tree = {"meta-data/" + k: v for k, v in md.items()}
    tree["dynamic/instance-identity/document"] = json.dumps({
        "accountId": state.account_id,
        "architecture": inst["architecture"],
        "availabilityZone": inst["az"],
        "billingProducts": None,
        "devpayProductCodes": None,
        "marketplaceProductCodes": None,
        "imageId": inst["image_id"],
        "instanceId": iid,
        "instanceType": inst["instance_type"],
        "kernelId": None,
        "pendingTime": inst["launch_time"],
        "privateIp": ip,
        "ramdiskId": None,
        "region": region.name,
        "version": "2017-09-30",
    }, indent=2)
    return tree


def _role_json(state, iid):
    creds = state.role_credentials(iid)
    return json.dumps({
        "Code": "Success",
        "LastUpdated": iso_seconds(creds["last_updated"]),
        "Type": "AWS-HMAC",
        "AccessKeyId": creds["access_key_id"],
        "SecretAccessKey": creds["secret_access_key"],
        "Token": creds["session_token"],
        "Expiration": iso_seconds(creds["expiration"]),
    }, indent=2)


def handle(state, iid, method, path, headers):
    path = urllib.parse.unquote(path.split("?", 1)[0])
    if path == TOKEN_PATH:
        if method != "PUT":
            return ImdsAnswer(405, "Method Not Allowed")
        if headers.get("X-Forwarded-For") is not None:
            return ImdsAnswer(403, "Forbidden")
        raw = headers.get(TTL_HEADER)
        try:
            ttl = int(raw)
        except (TypeError, ValueError):
            ttl = 0
        if not 1 <= ttl <= MAX_TTL:
            return ImdsAnswer(400, "Bad Request")
        return ImdsAnswer(200, state.imds_new_token(iid, ttl), {TTL_HEADER: str(ttl)})
    if method != "GET":
        return ImdsAnswer(405, "Method Not Allowed")
    if not state.imds_token_valid(iid, headers.get(TOKEN_HEADER)):
        return ImdsAnswer(401, "Unauthorized")
    if not path.startswith("/latest/"):
        return ImdsAnswer(404, "Not Found")
    rel = path[len("/latest/"):]
    with state.lock:
        region, inst = state.find_instance(iid)
        if inst is None:
            return ImdsAnswer(404, "Not Found")
        is_tags = rel.rstrip("/") == "meta-data/tags/instance"
        if is_tags and not inst["instance_metadata_tags"]:
            return ImdsAnswer(404, "Not Found")
        tree = _tree(state, region, inst)
        key = rel.rstrip("/")
        if key in tree:  # a leaf answers with or without a trailing slash, as IMDS does
            value = tree[key]
            return ImdsAnswer(200, value() if callable(value) else value)
        # A directory: list immediate children, sub-directories with a trailing slash.
        prefix = key + "/" if key else ""
        children = []
        for leaf in tree:
            if leaf.startswith(prefix):
                rest = leaf[len(prefix):]
                child = rest.split("/", 1)[0] + ("/" if "/" in rest else "")
                if child not in children:
                    children.append(child)
        if not children and not is_tags:
            return ImdsAnswer(404, "Not Found")
        return ImdsAnswer(200, "\n".join(children))
