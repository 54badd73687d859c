"""Helpers every EC2 action module shares: ids and not-found errors, filters,
pagination, tags and tag specifications, owner scoping.

Handlers live in ec2actions.py (instances, interfaces, tags), ec2ebs.py
(volumes, snapshots, images) and ec2net.py (routes, addresses, private IPs,
security group rules); they all build on this module, which imports no
handler module (no import cycles).
"""

import base64
import bisect
import hashlib
import hmac
import json
import re

from ec2proto import Ec2Error
from simstate import fresh_id

new_id = fresh_id  # EC2-style ids for the handler modules

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
    "eipassoc-": ("InvalidAssociationID", "The association ID '{}' does not exist"),
    "rtb-": ("InvalidRouteTableID", "The routeTable ID '{}' does not exist"),
    "sgr-": ("InvalidSecurityGroupRuleId", "The security group rule ID '{}' does not exist"),
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


def no_ids_with_max_results(params, ids_member, wire_name):
    if params.get(ids_member) and "MaxResults" in params:
        raise Ec2Error("InvalidParameterCombination",
                       f"The parameter {wire_name} cannot be used with the parameter maxResults")


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


def _matcher(values):
    """Filter values -> fn(str) -> bool; literal values are a set lookup (fast path)."""
    literal = {v for v in values if not any(c in v for c in "*?\\")}
    patterns = [_pattern(v) for v in values if v not in literal]
    if not patterns:
        return literal.__contains__
    return lambda s: s in literal or any(p.match(s) for p in patterns)


def _text(v):
    return "true" if v is True else "false" if v is False else str(v)


def apply_filters(items, filters, fields, tags_of=None):
    """fields: filter name -> fn(item) -> value or list of values.
    tags_of(item) -> {k: v} enables tag:<key>, tag-key and tag-value."""
    for flt in filters or []:
        name = flt.get("Name")
        if name is None:
            raise Ec2Error("InvalidParameterValue", "The filter 'null' is invalid")
        match = _matcher(flt.get("Values", []))
        if name in fields:
            get = fields[name]
        elif tags_of is not None and name.startswith("tag:"):
            key = name[4:]

            def keep(item, key=key):
                value = tags_of(item).get(key)
                return value is not None and match(value)
            items = [it for it in items if keep(it)]
            continue
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
            if any(match(_text(v)) for v in values if v is not None):
                kept.append(item)
        items = kept
    return items


def literal_filter_values(filters, name):
    """The values of filter `name` when every one is literal (no wildcard), else None."""
    for flt in filters or []:
        if flt.get("Name") == name:
            values = flt.get("Values", [])
            if any(any(c in v for c in "*?\\") for v in values):
                return None
            return values
    return None


# ---------------------------------------------------------------------------
# pagination: MaxResults + opaque NextToken bound to the action and its filters

def _fingerprint(ctx, params):
    rest = {k: v for k, v in params.items() if k not in ("NextToken", "MaxResults", "DryRun")}
    raw = json.dumps([ctx.action, ctx.region.name, rest], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _sign(ctx, payload):
    return hmac.new(ctx.state.page_secret, payload.encode(), hashlib.sha256).hexdigest()[:16]


def paginate(ctx, items, params, min_results=5, max_results=1000, key=None, clamp=False):
    """-> (page, next_token or None).

    key: with items sorted by key(item), the token remembers the last key
    returned instead of an offset, so deleting items between pages (pruning
    while paging) skips nothing.  clamp: a MaxResults above max_results is
    cut to it (DescribeSnapshots, DescribeVolumes) instead of refused.
    """
    token = params.get("NextToken")
    limit = params.get("MaxResults")
    start = 0
    if token is not None:
        try:
            payload, mac = base64.urlsafe_b64decode(token.encode()).decode().rsplit("|", 1)
            marker, fingerprint = payload.split("|")
            valid = hmac.compare_digest(mac, _sign(ctx, payload)) and \
                fingerprint == _fingerprint(ctx, params)
            if marker.startswith("k:"):
                if key is None:
                    raise ValueError(marker)
                start = bisect.bisect_right([key(i) for i in items], marker[2:])
            else:
                start = int(marker)
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
        if not clamp:
            raise Ec2Error("InvalidParameterValue",
                           f"Value ( {limit} ) for parameter maxResults is invalid. "
                           f"Expecting a value less than {max_results}.")
        limit = max_results
    end = start + limit
    if end >= len(items):
        return items[start:], None
    marker = f"k:{key(items[end - 1])}" if key else str(end)
    payload = f"{marker}|{_fingerprint(ctx, params)}"
    return items[start:end], base64.urlsafe_b64encode(f"{payload}|{_sign(ctx, payload)}".encode()).decode()


def by_id(collection):
    """A collection's resources sorted by id (the order pagination by key needs)."""
    return [collection[k] for k in sorted(collection)]


def id_key(res):
    return res["id"]


# ---------------------------------------------------------------------------
# tags

MAX_TAGS = 50


def tag_list(tags):
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def validate_tags(tags):
    """[{"Key","Value"}] from a request -> {k: v}, with CreateTags' rules."""
    out = {}
    for tag in tags or []:
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
        out[key] = value
    if len(out) > MAX_TAGS:
        raise Ec2Error("TagLimitExceeded", f"The maximum number of Tags ({MAX_TAGS}) has been exceeded.")
    return out


def tag_specifications(params, allowed):
    """TagSpecification.N -> {resource type: {k: v}}; a type the action cannot tag is refused."""
    out = {}
    for spec in params.get("TagSpecifications") or []:
        rtype = spec.get("ResourceType")
        if rtype is None:
            raise Ec2Error("InvalidParameterValue", "Tag specification resource type must have a value")
        if rtype not in allowed:
            raise Ec2Error("InvalidParameterValue",
                           f"'{rtype}' is not a valid taggable resource type for this operation.")
        if rtype in out:
            raise Ec2Error("InvalidParameterValue",
                           "The same resource type may not be specified more than once in tag specifications")
        out[rtype] = validate_tags(spec.get("Tags"))
    return out


def merged_tags(*dicts):
    out = {}
    for d in dicts:
        out.update(d or {})
    if len(out) > MAX_TAGS:
        raise Ec2Error("TagLimitExceeded", f"The maximum number of Tags ({MAX_TAGS}) has been exceeded.")
    return out


# ---------------------------------------------------------------------------
# owners (DescribeSnapshots Owner.N, DescribeImages Owner.N)

_ACCOUNT_RE = re.compile(r"^[0-9]{12}$")
OWNER_ALIASES = ("amazon", "aws-marketplace", "aws-backup-vault")


def owner_matcher(ctx, owners):
    """Owner.N values -> fn(resource) -> bool; self / account ids / aliases."""
    if not owners:
        return lambda res: True
    accounts, aliases = set(), set()
    for owner in owners:
        if owner == "self":
            accounts.add(ctx.state.account_id)
        elif _ACCOUNT_RE.match(owner):
            accounts.add(owner)
        elif owner in OWNER_ALIASES:
            aliases.add(owner)
        else:
            raise Ec2Error("InvalidUserID.Malformed", f'Invalid user id: "{owner}"')
    return lambda res: (res.get("owner_id", ctx.state.account_id) in accounts
                        or res.get("owner_alias") in aliases)
