"""Simulator state: regions with their resources, credentials, IMDS tokens.

Resources are plain JSON-friendly dicts kept in per-region collections keyed
by id, so /_sim/state can dump them and later actions can add collections.
All access goes through SimState.lock.
"""

import base64
import copy
import datetime
import fnmatch
import hashlib
import json
import os
import secrets
import string
import threading
import time

UTC = datetime.timezone.utc
ROLE_REFRESH_WINDOW = datetime.timedelta(minutes=5)

# id prefix -> (DescribeTags resource type, collection name)
RESOURCE_KINDS = [
    ("i-", "instance", "instances"),
    ("vol-", "volume", "volumes"),
    ("snap-", "snapshot", "snapshots"),
    ("ami-", "image", "images"),
    ("eni-", "network-interface", "network_interfaces"),
    ("eipalloc-", "elastic-ip", "addresses"),
    ("rtb-", "route-table", "route_tables"),
    ("sgr-", "security-group-rule", "security_group_rules"),
    ("sg-", "security-group", "security_groups"),
    ("vpc-", "vpc", "vpcs"),
    ("subnet-", "subnet", "subnets"),
]
COLLECTIONS = [c for _, _, c in RESOURCE_KINDS]

STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48,
               "stopping": 64, "stopped": 80}

# Scenario keys for timing (seconds); see README "Timing and eventual consistency".
DEFAULT_SETTINGS = {
    "snapshot_completion_s": 0.2,   # pending -> completed (snapshots)
    "image_completion_s": None,     # pending -> available (images); None = snapshot_completion_s
    "instance_state_s": 0.2,        # stopping -> stopped, shutting-down -> terminated
    "route_propagation_s": 0.0,     # describes show the old route/EIP/IP target this long
}

SNAPSHOT_STATES = ("pending", "completed", "error", "recoverable", "recovering")
IMAGE_STATES = ("pending", "available", "invalid", "transient", "failed", "error")

# scenario route key -> EC2 member name (routes keep their target as {member: id})
ROUTE_TARGETS = {"gateway_id": "GatewayId", "instance_id": "InstanceId",
                 "network_interface_id": "NetworkInterfaceId", "nat_gateway_id": "NatGatewayId",
                 "vpc_peering_connection_id": "VpcPeeringConnectionId",
                 "transit_gateway_id": "TransitGatewayId", "local_gateway_id": "LocalGatewayId",
                 "carrier_gateway_id": "CarrierGatewayId",
                 "egress_only_internet_gateway_id": "EgressOnlyInternetGatewayId"}


def utcnow():
    return datetime.datetime.now(UTC)


def parse_time(value):
    """Scenario time ("2026-01-01T00:00:00Z", epoch number or datetime) -> aware datetime."""
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, UTC)
    when = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def rfc3339(when):
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fresh_id(prefix, *taken):
    """A new EC2-style id (prefix + 17 hex digits) not present in any of `taken`."""
    while True:
        rid = prefix + "0" + secrets.token_hex(8)
        if not any(rid in t for t in taken):
            return rid


# -- eventual consistency: a resource can show older field values for a while ----

def mark_stale(res, fields, delay, now=None):
    """Before changing `fields` of res: keep what describes show now for `delay` s."""
    now = time.time() if now is None else now
    if delay <= 0:
        res.pop("stale", None)
        return
    st = res.get("stale")
    if not st or now >= st["until"]:
        st = {"until": 0.0, "fields": {}}
    for name in fields:
        st["fields"].setdefault(name, copy.deepcopy(res.get(name)))
    st["until"] = now + delay
    res["stale"] = st


def visible(res, name, now=None):
    """The value of res[name] that describe calls show now."""
    st = res.get("stale")
    if st and name in st["fields"] and (time.time() if now is None else now) < st["until"]:
        return st["fields"][name]
    return res.get(name)


def _ports(spec):
    """Security group rule ports: from_port/to_port, "ports" 22 | "22" | "1000-2000" | [a, b], "port"."""
    if "from_port" in spec or "to_port" in spec:
        lo = spec.get("from_port", spec.get("to_port"))
        hi = spec.get("to_port", lo)
        return int(lo), int(hi)
    ports = spec.get("ports", spec.get("port"))
    if ports is None:
        return None, None
    if isinstance(ports, (list, tuple)):
        return int(ports[0]), int(ports[-1])
    text = str(ports)
    if "-" in text.lstrip("-"):
        lo, hi = text.rsplit("-", 1) if not text.startswith("-") else ("-1", "-1")
        return int(lo), int(hi)
    return int(text), int(text)


def iso_seconds(when):
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stable_hex(seed, length=17):
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def normalize_tags(value):
    """Scenario tags: {k: v} or [{"Key": k, "Value": v}] -> {k: v}."""
    if not value:
        return {}
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    out = {}
    for item in value:
        key = item.get("Key", item.get("key"))
        out[str(key)] = str(item.get("Value", item.get("value", "")) or "")
    return out


def resource_kind(resource_id):
    for prefix, kind, collection in RESOURCE_KINDS:
        if resource_id.startswith(prefix):
            return kind, collection
    return None, None


def _json_default(value):
    if isinstance(value, datetime.datetime):
        return iso_seconds(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)


class Region:
    def __init__(self, name, spec, account_id):
        self.name = name
        self.account_id = account_id
        for collection in COLLECTIONS:
            setattr(self, collection, {})
        spec = spec or {}
        # Generic collections first, so instances can fill in what they reference.
        for collection in COLLECTIONS:
            if collection in ("instances", "network_interfaces", "volumes"):
                continue
            for rid, res in _items(spec.get(collection)):
                res = copy.deepcopy(res)
                res["id"] = rid
                res["tags"] = normalize_tags(res.get("tags"))
                getattr(self, collection)[rid] = res
        for vid, vol in _items(spec.get("volumes")):
            self._add_volume(vid, vol, None)
        for eid, eni in _items(spec.get("network_interfaces")):
            self._add_eni(eid, eni, None, None)
        for iid, inst in _items(spec.get("instances")):
            self._add_instance(iid, inst)
        self.pending = {}  # id -> collection: resources whose state moves on lazily (settle)
        for rid in list(self.snapshots):
            self.snapshots[rid] = self._norm_snapshot(rid, self.snapshots[rid])
        for rid in list(self.images):
            self.images[rid] = self._norm_image(rid, self.images[rid])
        for rid in list(self.addresses):
            self.addresses[rid] = self._norm_address(rid, self.addresses[rid])
        for rid in list(self.route_tables):
            self.route_tables[rid] = self._norm_route_table(rid, self.route_tables[rid])
        for rid in list(self.security_group_rules):
            self.security_group_rules[rid] = self._norm_sg_rule(rid, self.security_group_rules[rid])

    # -- loading ---------------------------------------------------------

    def _add_volume(self, vid, spec, inst):
        spec = dict(spec or {})
        vol = {
            "id": vid,
            "size": int(spec.get("size", 8)),
            "type": spec.get("type", "gp3"),
            "az": spec.get("az") or (inst["az"] if inst else self.name + "a"),
            "state": spec.get("state", "in-use" if inst else "available"),
            "encrypted": bool(spec.get("encrypted", False)),
            "snapshot_id": spec.get("snapshot_id", ""),
            "create_time": spec.get("create_time", "2026-01-01T00:00:00Z"),
            "iops": spec.get("iops", 3000),
            "tags": normalize_tags(spec.get("tags")),
        }
        existing = self.volumes.get(vid)
        if existing:
            existing.update({k: v for k, v in vol.items() if k in spec})
            return existing
        self.volumes[vid] = vol
        return vol

    def _add_eni(self, eid, spec, inst, device_index):
        spec = dict(spec or {})
        ips = list(spec.get("private_ips") or [])
        if spec.get("private_ip") and spec["private_ip"] not in ips:
            ips.insert(0, spec["private_ip"])
        ips += [ip for ip in spec.get("secondary_private_ips", []) if ip not in ips]
        eni = {
            "id": eid,
            "mac": spec.get("mac") or _mac_for(eid),
            "subnet_id": spec.get("subnet_id") or (inst or {}).get("subnet_id", ""),
            "vpc_id": spec.get("vpc_id") or (inst or {}).get("vpc_id", ""),
            "az": spec.get("az") or (inst["az"] if inst else self.name + "a"),
            "private_ips": ips,
            "source_dest_check": bool(spec.get("source_dest_check", True)),
            "description": spec.get("description", ""),
            "security_groups": spec.get("security_groups") or (inst or {}).get("security_groups", []),
            "status": "in-use" if inst else spec.get("status", "available"),
            "attachment": None,
            "association": spec.get("association"),
            "tags": normalize_tags(spec.get("tags")),
        }
        if inst is not None:
            eni["attachment"] = {
                "instance_id": inst["id"],
                "device_index": int(spec.get("device_index", device_index)),
                "attachment_id": spec.get("attachment_id") or "eni-attach-" + stable_hex(eid),
                "attach_time": spec.get("attach_time", inst["launch_time"]),
                "delete_on_termination": bool(spec.get("delete_on_termination", device_index == 0)),
                "status": "attached",
            }
        self.network_interfaces[eid] = eni
        return eni

    def _add_instance(self, iid, spec):
        spec = dict(spec or {})
        tags = normalize_tags(spec.get("tags"))
        if spec.get("name") and "Name" not in tags:
            tags = {"Name": spec["name"], **tags}
        inst = {
            "id": iid,
            "reservation_id": spec.get("reservation_id") or "r-" + stable_hex(iid),
            "az": spec.get("az", self.name + "a"),
            "launch_time": spec.get("launch_time", "2026-01-01T00:00:00Z"),
            "state": spec.get("state", "running"),
            "image_id": spec.get("image_id", "ami-0abcdef1234567890"),
            "instance_type": spec.get("instance_type", "t3.micro"),
            "architecture": spec.get("architecture", "x86_64"),
            "subnet_id": spec.get("subnet_id", ""),
            "vpc_id": spec.get("vpc_id", ""),
            "key_name": spec.get("key_name"),
            "public_ip": spec.get("public_ip"),
            "security_groups": spec.get("security_groups", []),
            "imds": bool(spec.get("imds", False)),
            "imds_port": int(spec.get("imds_port", 0)),
            "instance_metadata_tags": bool(spec.get("instance_metadata_tags", True)),
            "role": spec.get("role"),
            "max_private_ips": spec.get("max_private_ips"),
            "network_interfaces": [],
            "block_devices": {},
            "root_device": spec.get("root_device"),
            "tags": tags,
        }
        enis = spec.get("network_interfaces")
        if not enis:
            enis = [{"id": "eni-" + stable_hex(iid + "/eni0"), "private_ip": spec.get("private_ip")}]
        for index, eni_spec in enumerate(enis):
            eni_spec = dict(eni_spec)
            if index == 0 and spec.get("private_ip") and not eni_spec.get("private_ips") \
                    and not eni_spec.get("private_ip"):
                eni_spec["private_ip"] = spec["private_ip"]
            eni = self._add_eni(eni_spec["id"], eni_spec, inst, index)
            inst["network_interfaces"].append(eni["id"])
        inst["network_interfaces"].sort(
            key=lambda e: self.network_interfaces[e]["attachment"]["device_index"])
        for device, vol in (spec.get("block_devices") or {}).items():
            if isinstance(vol, str):
                vol = {"volume_id": vol}
            vid = vol["volume_id"]
            self._add_volume(vid, {k: v for k, v in vol.items() if k != "volume_id"}, inst)
            self.volumes[vid]["state"] = "in-use"
            inst["block_devices"][device] = {
                "volume_id": vid,
                "delete_on_termination": bool(vol.get("delete_on_termination", False)),
                "attach_time": vol.get("attach_time", inst["launch_time"]),
            }
        if not inst["root_device"]:
            inst["root_device"] = next(iter(inst["block_devices"]), "/dev/xvda")
        self.instances[iid] = inst

    def _norm_snapshot(self, sid, spec):
        vid = spec.get("volume_id", "vol-ffffffff")
        size = spec.get("volume_size", spec.get("size"))
        if size is None:
            size = self.volumes[vid]["size"] if vid in self.volumes else 8
        state = spec.get("state", "completed")
        return {
            "id": sid,
            "volume_id": vid,
            "volume_size": int(size),
            "description": spec.get("description", ""),
            "owner_id": str(spec.get("owner_id", self.account_id)),
            "owner_alias": spec.get("owner_alias"),
            "start_time": parse_time(spec.get("start_time", "2026-01-01T00:00:00Z")),
            "state": state,
            "state_message": spec.get("state_message"),
            "progress": spec.get("progress") or ("100%" if state == "completed" else "0%"),
            "complete_at": None,  # scenario snapshots never move on by themselves
            "encrypted": bool(spec.get("encrypted", False)),
            "tags": spec["tags"],
        }

    def _norm_image(self, aid, spec):
        devices = spec.get("block_devices") or {}
        if isinstance(devices, dict):
            devices = [dict({"device": dev}, **({"snapshot_id": v} if isinstance(v, str) else v))
                       for dev, v in devices.items()]
        bdm = []
        for bd in devices:
            snap = self.snapshots.get(bd.get("snapshot_id"))
            bdm.append({
                "device": bd.get("device") or bd.get("device_name"),
                "snapshot_id": bd.get("snapshot_id"),
                "volume_size": int(bd.get("volume_size", snap["volume_size"] if snap else 8)),
                "volume_type": bd.get("volume_type", "gp3"),
                "delete_on_termination": bool(bd.get("delete_on_termination", True)),
                "encrypted": bool(bd.get("encrypted", False)),
            })
        return {
            "id": aid,
            "name": spec.get("name", aid),
            "description": spec.get("description"),
            "state": spec.get("state", "available"),
            "creation_date": parse_time(spec.get("creation_date", "2026-01-01T00:00:00Z")),
            "owner_id": str(spec.get("owner_id", self.account_id)),
            "owner_alias": spec.get("owner_alias"),
            "public": bool(spec.get("public", False)),
            "architecture": spec.get("architecture", "x86_64"),
            "root_device_name": spec.get("root_device_name") or (bdm[0]["device"] if bdm else "/dev/xvda"),
            "block_devices": bdm,
            "source_instance_id": spec.get("source_instance_id"),
            "complete_at": None,
            "tags": spec["tags"],
        }

    def _norm_address(self, eid, spec):
        addr = {
            "id": eid,
            "public_ip": spec.get("public_ip") or "203.0.113." + str(int(stable_hex(eid, 4), 16) % 200 + 20),
            "domain": spec.get("domain", "vpc"),
            "association": None,
            "tags": spec["tags"],
        }
        assoc = spec.get("association") or {}
        eni_id = assoc.get("network_interface_id", spec.get("network_interface_id"))
        iid = assoc.get("instance_id", spec.get("instance_id"))
        if not eni_id and iid and iid in self.instances and self.instances[iid]["network_interfaces"]:
            eni_id = self.instances[iid]["network_interfaces"][0]
        if eni_id:
            eni = self.network_interfaces.get(eni_id)
            ip = assoc.get("private_ip", spec.get("private_ip", spec.get("private_ip_address")))
            if ip is None and eni and eni["private_ips"]:
                ip = eni["private_ips"][0]
            addr["association"] = {
                "association_id": assoc.get("association_id", spec.get("association_id"))
                or "eipassoc-" + stable_hex(eid + "/assoc"),
                "network_interface_id": eni_id,
                "private_ip": ip,
            }
        return addr

    def _norm_route_table(self, rid, spec):
        routes = []
        for r in spec.get("routes") or []:
            route = {"destination_cidr_block": r.get("destination_cidr_block") or r.get("destination")
                     or r.get("cidr"),
                     "origin": r.get("origin", "CreateRoute"),
                     "target": {member: r[key] for key, member in ROUTE_TARGETS.items() if r.get(key)}}
            if r.get("state"):
                route["forced_state"] = r["state"]
            routes.append(route)
        vpc = self.vpcs.get(spec.get("vpc_id") or "")
        if vpc and vpc.get("cidr_block") and not any(r["target"].get("GatewayId") == "local" for r in routes):
            routes.insert(0, {"destination_cidr_block": vpc["cidr_block"], "target": {"GatewayId": "local"},
                              "origin": "CreateRouteTable"})
        assocs = []
        for a in spec.get("associations") or [{"subnet_id": s} for s in spec.get("subnets", [])]:
            key = a.get("subnet_id") or "main"
            assocs.append({"id": a.get("id") or "rtbassoc-" + stable_hex(rid + "/" + key),
                           "subnet_id": a.get("subnet_id"), "main": bool(a.get("main", False))})
        if spec.get("main") and not any(a["main"] for a in assocs):
            assocs.append({"id": "rtbassoc-" + stable_hex(rid + "/main"), "subnet_id": None, "main": True})
        return {"id": rid, "vpc_id": spec.get("vpc_id", ""), "routes": routes, "associations": assocs,
                "owner_id": str(spec.get("owner_id", self.account_id)), "tags": spec["tags"]}

    def _norm_sg_rule(self, rid, spec):
        direction = spec.get("direction", "egress" if spec.get("egress") or spec.get("is_egress") else "ingress")
        proto = str(spec.get("protocol", spec.get("ip_protocol", "tcp"))).lower()
        proto = {"all": "-1", "6": "tcp", "17": "udp", "1": "icmp"}.get(proto, proto)
        lo, hi = _ports(spec)
        if proto == "-1":
            lo = hi = -1
        cidr = spec.get("cidr") or spec.get("cidr_ipv4") or spec.get("cidr_ipv6")
        return {
            "id": rid,
            "group_id": spec.get("group_id") or spec.get("group"),
            "is_egress": direction == "egress",
            "ip_protocol": proto,
            "from_port": lo,
            "to_port": hi,
            "cidr_ipv4": cidr if cidr and ":" not in cidr else None,
            "cidr_ipv6": cidr if cidr and ":" in cidr else None,
            "description": spec.get("description"),
            "tags": spec["tags"],
        }

    # -- lazy state ------------------------------------------------------

    def settle(self, now=None):
        """Move on every resource whose pending state has reached its deadline."""
        now = time.time() if now is None else now
        for rid, collection in list(self.pending.items()):
            res = getattr(self, collection).get(rid)
            if res is None:
                del self.pending[rid]
                continue
            if collection == "instances":
                tr = res.get("transition")
                if not tr:
                    del self.pending[rid]
                elif now >= tr["at"]:
                    res["state"] = tr["to"]
                    res.pop("transition", None)
                    del self.pending[rid]
                continue
            if res.get("complete_at") is None or res["state"] != "pending":
                del self.pending[rid]
            elif now >= res["complete_at"]:
                res["state"] = "completed" if collection == "snapshots" else "available"
                if collection == "snapshots":
                    res["progress"] = "100%"
                res["complete_at"] = None
                del self.pending[rid]

    def begin_transition(self, inst, now_state, final_state, delay, now=None):
        now = time.time() if now is None else now
        inst["state"] = now_state
        inst["transition"] = {"to": final_state, "at": now + max(0.0, delay)}
        self.pending[inst["id"]] = "instances"

    # -- eventual-consistency views -------------------------------------

    def eni_ips(self, eni, now=None):
        return visible(eni, "private_ips", now) or []

    def address_association(self, addr, now=None):
        return visible(addr, "association", now)

    def eni_addresses(self, eni_id, now=None):
        """{private ip: address} for the Elastic IPs describes show on this interface now."""
        out = {}
        for addr in self.addresses.values():
            assoc = self.address_association(addr, now)
            if assoc and assoc["network_interface_id"] == eni_id:
                out[assoc["private_ip"]] = addr
        return out

    # -- queries ---------------------------------------------------------

    def find(self, resource_id):
        """-> (resource type, resource dict) or (type-or-None, None)."""
        kind, collection = resource_kind(resource_id)
        if collection is None:
            return None, None
        return kind, getattr(self, collection).get(resource_id)

    def iter_resources(self):
        for _, kind, collection in RESOURCE_KINDS:
            for rid in sorted(getattr(self, collection)):
                yield kind, rid, getattr(self, collection)[rid]

    def primary_eni(self, inst):
        return self.network_interfaces[inst["network_interfaces"][0]] if inst["network_interfaces"] else None

    def private_ip(self, inst):
        eni = self.primary_eni(inst)
        return eni["private_ips"][0] if eni and eni["private_ips"] else None

    def volume_attachments(self, vid):
        out = []
        for inst in self.instances.values():
            for device, bd in inst["block_devices"].items():
                if bd["volume_id"] == vid:
                    out.append((inst, device, bd))
        return out

    def to_json(self):
        self.settle()
        return {c: getattr(self, c) for c in COLLECTIONS}


def _items(value):
    """Collections are dicts keyed by id; a list of dicts with "id" is accepted too."""
    if not value:
        return []
    if isinstance(value, dict):
        return list(value.items())
    return [(item["id"], item) for item in value]


def _mac_for(eid):
    h = stable_hex(eid, 10)
    return "0e:" + ":".join(h[i:i + 2] for i in range(0, 10, 2))


def _random_chars(alphabet, n):
    return "".join(secrets.choice(alphabet) for _ in range(n))


class SimState:
    def __init__(self, scenario):
        self.lock = threading.RLock()
        self.scenario = scenario
        self.account_id = str(scenario.get("account_id", "123456789012"))
        self.permissions = scenario.get("permissions")
        self.roles = scenario.get("roles", {})
        self.role_ttl = int(scenario.get("role_credentials_ttl", 21600))
        self.credentials = {}
        for cred in scenario.get("credentials", []):
            self.credentials[cred["access_key_id"]] = {
                "kind": "static",
                "access_key_id": cred["access_key_id"],
                "secret_access_key": cred["secret_access_key"],
                "session_token": cred.get("session_token"),
                "expiration": None,
                "permissions": cred.get("permissions"),
            }
        self.role_keys = {}      # access key id -> issued role credentials
        self.role_current = {}   # instance id -> access key id IMDS hands out now
        self.imds_tokens = {}    # instance id -> {token: monotonic expiry}
        self.page_secret = os.urandom(16)
        self.settings = dict(DEFAULT_SETTINGS)
        self.update_settings({k: scenario[k] for k in DEFAULT_SETTINGS if k in scenario})
        self.client_tokens = {}  # (region, action, token) -> (request fingerprint, result)
        self.regions = {}
        for name, spec in (scenario.get("regions") or {}).items():
            self.regions[name] = Region(name, spec, self.account_id)

    def reset(self):
        """Back to the scenario's resources, settings and permissions (POST /_sim/reset).
        Issued credentials and IMDS tokens stay valid; instances keep their IMDS listeners."""
        with self.lock:
            self.permissions = self.scenario.get("permissions")
            self.settings = dict(DEFAULT_SETTINGS)
            self.update_settings({k: self.scenario[k] for k in DEFAULT_SETTINGS if k in self.scenario})
            self.client_tokens = {}
            self.regions = {name: Region(name, spec, self.account_id)
                            for name, spec in (self.scenario.get("regions") or {}).items()}
            return sorted(self.regions)

    def region(self, name):
        """Regions absent from the scenario exist, empty (as in AWS)."""
        with self.lock:
            if name not in self.regions:
                self.regions[name] = Region(name, {}, self.account_id)
            return self.regions[name]

    def find_instance(self, iid):
        with self.lock:
            for region in self.regions.values():
                if iid in region.instances:
                    return region, region.instances[iid]
        return None, None

    def imds_instances(self):
        with self.lock:
            return [(r, i) for r in self.regions.values() for i in r.instances.values() if i["imds"]]

    # -- credentials -----------------------------------------------------

    def lookup_key(self, access_key_id):
        with self.lock:
            return self.credentials.get(access_key_id) or self.role_keys.get(access_key_id)

    def allowed(self, key, action):
        perms = key.get("permissions") if key else None
        if perms is None and key and key.get("role"):
            perms = (self.roles.get(key["role"]) or {}).get("permissions")
        if perms is None:
            perms = self.permissions
        if perms is None:
            return True
        wanted = ("ec2:" + action).lower()
        return any(fnmatch.fnmatchcase(wanted, p.lower()) for p in perms)

    def role_credentials(self, iid):
        """Credentials IMDS hands out now; fresh ones within 5 minutes of expiry."""
        with self.lock:
            now = utcnow().replace(microsecond=0)
            current = self.role_keys.get(self.role_current.get(iid))
            if current is None or current["expiration"] - now <= ROLE_REFRESH_WINDOW:
                _, inst = self.find_instance(iid)
                akid = "ASIA" + _random_chars(string.ascii_uppercase + "234567", 16)
                current = {
                    "kind": "role",
                    "role": inst["role"],
                    "instance_id": iid,
                    "access_key_id": akid,
                    "secret_access_key": _random_chars(string.ascii_letters + string.digits + "+/", 40),
                    "session_token": base64.b64encode(os.urandom(600)).decode(),
                    "last_updated": now,
                    "expiration": now + datetime.timedelta(seconds=self.role_ttl),
                    "permissions": None,
                }
                self.role_keys[akid] = current
                self.role_current[iid] = akid
            return dict(current)

    def expire_role_credentials(self, iid=None):
        """Make the current role credentials of one (or every) instance expired now."""
        with self.lock:
            past = utcnow().replace(microsecond=0) - datetime.timedelta(seconds=1)
            done = []
            for inst_id, akid in self.role_current.items():
                if iid is None or inst_id == iid:
                    self.role_keys[akid]["expiration"] = past
                    done.append(inst_id)
            return done

    # -- IMDS tokens -----------------------------------------------------

    def imds_new_token(self, iid, ttl):
        token = base64.urlsafe_b64encode(os.urandom(42)).decode()
        with self.lock:
            tokens = self.imds_tokens.setdefault(iid, {})
            now = time.monotonic()
            for t in [t for t, exp in tokens.items() if exp <= now]:
                del tokens[t]
            tokens[token] = now + ttl
        return token

    def imds_token_valid(self, iid, token):
        with self.lock:
            exp = self.imds_tokens.get(iid, {}).get(token or "")
            return exp is not None and exp > time.monotonic()

    def imds_expire_tokens(self, iid=None):
        with self.lock:
            for inst_id in list(self.imds_tokens):
                if iid is None or inst_id == iid:
                    self.imds_tokens[inst_id].clear()

    # -- timing settings -------------------------------------------------

    def update_settings(self, values):
        for name, value in values.items():
            if name not in DEFAULT_SETTINGS:
                raise ValueError(f"unknown setting {name}")
            if value is None and name == "image_completion_s":
                self.settings[name] = None
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number >= 0")
            self.settings[name] = float(value)
        return self.current_settings()

    def current_settings(self):
        out = dict(self.settings)
        if out["image_completion_s"] is None:
            out["image_completion_s"] = out["snapshot_completion_s"]
        return out

    def setting(self, name):
        return self.current_settings()[name]

    # -- mutation from the control API ----------------------------------

    def seed_snapshots(self, spec):
        """Create many snapshots at once (benchmarks); see README /_sim/seed_snapshots."""
        with self.lock:
            region = self.region(spec["region"])
            count = int(spec.get("count", 1))
            if count < 0 or count > 1_000_000:
                raise ValueError("count must be 0..1000000")
            iid = spec.get("instance_id")
            inst = region.instances.get(iid) if iid else None
            device = spec.get("device") or (inst["root_device"] if inst else None)
            vid = spec.get("volume_id")
            if not vid and inst and device in inst["block_devices"]:
                vid = inst["block_devices"][device]["volume_id"]
            vid = vid or "vol-ffffffff"
            size = spec.get("volume_size") or (region.volumes[vid]["size"] if vid in region.volumes else 8)
            start = parse_time(spec.get("start", "2026-01-01T00:00:00Z"))
            step = datetime.timedelta(seconds=float(spec.get("step_s", 3600)))
            state = spec.get("state", "completed")
            if state not in SNAPSHOT_STATES:
                raise ValueError(f"state must be one of {SNAPSHOT_STATES}")
            managed = spec.get("managed", iid is not None)
            prefix = spec.get("tag_prefix", "cdp:")
            name_base = (inst["tags"].get("Name") if inst else None) or iid
            extra = normalize_tags({k: v for k, v in (spec.get("tags") or {}).items() if v is not None})
            drop = [k for k, v in (spec.get("tags") or {}).items() if v is None]
            ids = []
            for n in range(count):
                when = start + n * step
                tags = {}
                if managed:
                    tags = {"Name": f"{name_base}-{when.strftime('%Y%m%dT%H%MZ')}",
                            prefix + "managed-by": "cdpd", prefix + "instance-id": iid,
                            prefix + "slot": rfc3339(when), prefix + "volume-id": vid}
                    if device:
                        tags[prefix + "device"] = device
                tags.update(extra)
                for k in drop:
                    tags.pop(k, None)
                sid = fresh_id("snap-", region.snapshots)
                region.snapshots[sid] = {
                    "id": sid, "volume_id": vid, "volume_size": int(size),
                    "description": spec.get("description", ""), "owner_id": self.account_id,
                    "owner_alias": None, "start_time": when, "state": state, "state_message": None,
                    "progress": "100%" if state == "completed" else "0%", "complete_at": None,
                    "encrypted": False, "tags": tags,
                }
                ids.append(sid)
            return {"region": region.name, "created": len(ids), "snapshot_ids": ids}

    def force_state(self, kind, region_name, rid, state):
        """/_sim/snapshot_state and /_sim/image_state: a forced state never moves on by itself."""
        with self.lock:
            region = self.region(region_name)
            region.settle()
            collection, states = (("snapshots", SNAPSHOT_STATES) if kind == "snapshot"
                                  else ("images", IMAGE_STATES))
            res = getattr(region, collection).get(rid)
            if res is None:
                raise KeyError(f"no {kind} {rid} in {region_name}")
            if state not in states:
                raise ValueError(f"state must be one of {states}")
            res["state"] = state
            res["complete_at"] = None
            region.pending.pop(rid, None)
            if kind == "snapshot":
                res["progress"] = "100%" if state == "completed" else ("0%" if state == "pending"
                                                                       else res.get("progress", "0%"))
                res["state_message"] = "Snapshot failed (forced by cdpsim)" if state == "error" else None
            return json.loads(dumps_state(res))

    def set_tags(self, region_name, resource_id, set_tags=None, delete=None):
        with self.lock:
            _, res = self.region(region_name).find(resource_id)
            if res is None:
                raise KeyError(f"no resource {resource_id} in {region_name}")
            for k, v in (set_tags or {}).items():
                res["tags"][str(k)] = str(v)
            for k in delete or []:
                res["tags"].pop(k, None)
            return dict(res["tags"])

    def to_json(self):
        with self.lock:
            return {
                "account_id": self.account_id,
                "permissions": self.permissions,
                "role_credentials_ttl": self.role_ttl,
                "regions": {n: r.to_json() for n, r in self.regions.items()},
                "role_credentials": {
                    iid: {k: v for k, v in self.role_keys[akid].items() if k != "kind"}
                    for iid, akid in self.role_current.items()},
            }


def dumps_state(obj):
    return json.dumps(obj, default=_json_default, indent=1, sort_keys=True)
