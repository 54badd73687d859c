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
    ("sg-", "security-group", "security_groups"),
    ("vpc-", "vpc", "vpcs"),
    ("subnet-", "subnet", "subnets"),
]
COLLECTIONS = [c for _, _, c in RESOURCE_KINDS]

STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48,
               "stopping": 64, "stopped": 80}


def utcnow():
    return datetime.datetime.now(UTC)


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
        self.regions = {}
        for name, spec in (scenario.get("regions") or {}).items():
            self.regions[name] = Region(name, spec, self.account_id)

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

    # -- mutation from the control API ----------------------------------

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
