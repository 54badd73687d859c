"""EC2 Query protocol, driven by botocore's EC2 service model.

Requests: the flat form parameters are folded back into botocore's input
structure (the inverse of botocore.serialize.EC2Serializer), then checked with
botocore.validate.  Answers: Python dicts in botocore's output shape are
written as EC2 XML using the output shape's locationNames, so botocore's own
EC2QueryParser reads them back unchanged.
"""

import base64
import datetime
import uuid
from xml.sax.saxutils import escape

import botocore.session
import botocore.validate

API_VERSION = "2016-11-15"
XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"
XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'

# HTTP status EC2 uses for each error code; anything else is a 400.
STATUS_BY_CODE = {
    "AuthFailure": 401,
    "SignatureDoesNotMatch": 403,
    "UnauthorizedOperation": 403,
    "OptInRequired": 403,
    "DryRunOperation": 412,
    "RequestLimitExceeded": 503,
    # throttling of snapshot creation is a client error in EC2 (400), unlike RequestLimitExceeded
    "SnapshotCreationPerVolumeRateExceeded": 400,
    "ConcurrentSnapshotLimitExceeded": 400,
    "InternalError": 500,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
    "Unavailable": 503,
}

DEFAULT_MESSAGES = {
    "AuthFailure": "AWS was not able to validate the provided access credentials",
    "SignatureDoesNotMatch": (
        "The request signature we calculated does not match the signature you "
        "provided. Check your AWS Secret Access Key and signing method. Consult "
        "the service documentation for details."),
    "RequestExpired": "Request has expired.",
    "DryRunOperation": "Request would have succeeded, but DryRun flag is set.",
    "UnauthorizedOperation": "You are not authorized to perform this operation.",
    "RequestLimitExceeded": "Request limit exceeded.",
    "InternalError": "An internal error has occurred",
    "Unavailable": "The server is overloaded and can't handle the request.",
    "SnapshotCreationPerVolumeRateExceeded":
        "The maximum per volume CreateSnapshot request rate has been exceeded. "
        "Use an increasing or variable sleep interval between requests.",
    "ConcurrentSnapshotLimitExceeded":
        "The maximum number of concurrent snapshots has been reached. Wait for pending snapshots to "
        "complete before creating more.",
}

# Actions whose AWS answer carries <return>true</return> although botocore's output
# shape has no Return member (it is written right after requestId).
EXTRA_RETURN = {"AssignPrivateIpAddresses"}


class Ec2Error(Exception):
    """An EC2 error answer: code, message and HTTP status."""

    def __init__(self, code, message=None, status=None):
        self.code = code
        self.message = message if message is not None else DEFAULT_MESSAGES.get(code, code)
        self.status = status or STATUS_BY_CODE.get(code, 400)
        super().__init__(f"{self.code}: {self.message}")


def new_request_id():
    return str(uuid.uuid4())


def error_body(code, message, request_id):
    return (XML_DECL + "<Response><Errors><Error><Code>%s</Code><Message>%s</Message>"
            "</Error></Errors><RequestID>%s</RequestID></Response>"
            % (escape(code), escape(message), escape(request_id))).encode()


_MODEL = None


def load_model():
    """The EC2 service model, loaded once per process."""
    global _MODEL
    if _MODEL is None:
        _MODEL = botocore.session.get_session().get_service_model("ec2")
    return _MODEL


# ---------------------------------------------------------------------------
# request side

def serialized_name(shape, default):
    """Wire name of a member, exactly as EC2Serializer._get_serialized_name."""
    if "queryName" in shape.serialization:
        return shape.serialization["queryName"]
    if "name" in shape.serialization:
        name = shape.serialization["name"]
        return name[0].upper() + name[1:]
    return default


def _unknown(full_key):
    return Ec2Error("UnknownParameter", f"The parameter {full_key} is not recognized")


def _bad_value(value, spath, expect=None):
    msg = f"Value ({value}) for parameter {spath} is invalid."
    if expect:
        msg += " " + expect
    return Ec2Error("InvalidParameterValue", msg)


class _Parser:
    def __init__(self):
        # botocore.validate path (".Filters[0].Name") -> wire name ("Filter.1.Name")
        self.paths = {}

    def structure(self, shape, items, sprefix, bprefix):
        groups = {}
        for parts, full, val in items:
            if not parts:
                raise _unknown(full)
            groups.setdefault(parts[0], []).append((parts[1:], full, val))
        by_wire = {serialized_name(m, n): n for n, m in shape.members.items()}
        out = {}
        for comp, sub in groups.items():
            mname = by_wire.get(comp)
            if mname is None:
                raise _unknown(sub[0][1])
            spath = f"{sprefix}.{comp}" if sprefix else comp
            bpath = f"{bprefix}.{mname}"
            out[mname] = self.value(shape.members[mname], sub, spath, bpath)
        for req in shape.required_members:
            if req not in out:
                wire = serialized_name(shape.members[req], req)
                full = f"{sprefix}.{wire}" if sprefix else wire
                raise Ec2Error("MissingParameter", f"The request must contain the parameter {full}")
        return out

    def value(self, shape, items, spath, bpath):
        self.paths[bpath] = spath
        kind = shape.type_name
        if kind == "structure":
            return self.structure(shape, items, spath, bpath)
        if kind == "list":
            groups = {}
            for parts, full, val in items:
                if not parts or not parts[0].isdigit() or int(parts[0]) < 1:
                    raise _unknown(full)
                groups.setdefault(int(parts[0]), []).append((parts[1:], full, val))
            return [self.value(shape.member, groups[i], f"{spath}.{i}", f"{bpath}[{n}]")
                    for n, i in enumerate(sorted(groups))]
        if kind == "map":
            raise _unknown(items[0][1])
        if len(items) != 1 or items[0][0]:
            bad = [full for parts, full, _ in items if parts] or [items[0][1]]
            raise _unknown(bad[0])
        return self.scalar(shape, items[0][2], spath)

    def scalar(self, shape, raw, spath):
        kind = shape.type_name
        if kind == "string":
            if shape.enum and raw not in shape.enum:
                raise _bad_value(raw, spath)
            if "max" in shape.metadata and len(raw) > shape.metadata["max"]:
                raise _bad_value(raw, spath, f"Length must be at most {shape.metadata['max']}.")
            return raw
        if kind in ("integer", "long"):
            try:
                val = int(raw)
            except ValueError:
                raise _bad_value(raw, spath, "Expecting an integer.") from None
            if "max" in shape.metadata and val > shape.metadata["max"]:
                raise _bad_value(raw, spath, f"Expecting a value at most {shape.metadata['max']}.")
            return val
        if kind in ("float", "double"):
            try:
                return float(raw)
            except ValueError:
                raise _bad_value(raw, spath, "Expecting a number.") from None
        if kind == "boolean":
            if raw.lower() not in ("true", "false"):
                raise _bad_value(raw, spath, "Expecting true or false.")
            return raw.lower() == "true"
        if kind == "timestamp":
            try:
                return parse_timestamp(raw)
            except ValueError:
                raise _bad_value(raw, spath, "Expecting an ISO 8601 timestamp.") from None
        if kind == "blob":
            try:
                return base64.b64decode(raw, validate=True)
            except ValueError:
                raise _bad_value(raw, spath, "Expecting base64.") from None
        raise _unknown(spath)


def parse_timestamp(raw):
    try:
        when = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        when = datetime.datetime.fromtimestamp(float(raw), datetime.timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when


def parse_request(op_model, flat):
    """Flat wire parameters (without Action/Version) -> validated botocore params.

    Raises Ec2Error (UnknownParameter, MissingParameter, InvalidParameterValue).
    """
    shape = op_model.input_shape
    if shape is None:
        if flat:
            raise _unknown(sorted(flat)[0])
        return {}
    parser = _Parser()
    items = [(tuple(k.split(".")), k, v) for k, v in sorted(flat.items())]
    params = parser.structure(shape, items, "", "")
    report = botocore.validate.ParamValidator().validate(params, shape)
    for reason, bpath, extra in report._errors:  # noqa: SLF001 - only structured access
        spath = parser.paths.get(bpath, bpath.lstrip("."))
        if reason == "missing required field":
            name = extra.get("required_name", "")
            raise Ec2Error("MissingParameter",
                           f"The request must contain the parameter {spath + '.' if spath else ''}{name}")
        if reason in ("invalid range", "invalid length"):
            raise _bad_value(extra.get("param"), spath,
                             f"Expecting a value greater than {extra.get('min_allowed')}."
                             if reason == "invalid range" else
                             f"Length must be at least {extra.get('min_allowed')}.")
        raise _bad_value(extra.get("param"), spath)
    return params


# ---------------------------------------------------------------------------
# answer side

def format_timestamp(value):
    """EC2 XML timestamps: ISO 8601, UTC, milliseconds."""
    if isinstance(value, str):
        value = parse_timestamp(value)
    if isinstance(value, (int, float)):
        value = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (value.microsecond // 1000)


def _xml(shape, value, tag, out):
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        unknown = set(value) - set(members)
        if unknown:
            raise ValueError(f"{shape.name}: no member {sorted(unknown)}")
        out.append(f"<{tag}>")
        for name, mshape in members.items():
            if value.get(name) is not None:
                _xml(mshape, value[name], mshape.serialization.get("name", name), out)
        out.append(f"</{tag}>")
    elif kind == "list":
        item_tag = shape.member.serialization.get("name", "item")
        if shape.serialization.get("flattened"):
            for element in value:
                _xml(shape.member, element, tag, out)
            return
        out.append(f"<{tag}>")
        for element in value:
            _xml(shape.member, element, item_tag, out)
        out.append(f"</{tag}>")
    elif kind == "map":
        out.append(f"<{tag}>")
        for key, val in value.items():
            out.append("<item>")
            _xml(shape.key, key, shape.key.serialization.get("name", "key"), out)
            _xml(shape.value, val, shape.value.serialization.get("name", "value"), out)
            out.append("</item>")
        out.append(f"</{tag}>")
    else:
        if kind == "boolean":
            text = "true" if value else "false"
        elif kind == "timestamp":
            text = format_timestamp(value)
        elif kind in ("integer", "long"):
            text = str(int(value))
        elif kind == "blob":
            text = base64.b64encode(value).decode()
        else:
            text = escape(str(value))
        out.append(f"<{tag}>{text}</{tag}>")


def serialize_response(op_model, data, request_id):
    """botocore-shaped output dict -> EC2 XML answer body (bytes)."""
    root = f"{op_model.name}Response"
    out = [XML_DECL, f'<{root} xmlns="{XMLNS}">', f"<requestId>{escape(request_id)}</requestId>"]
    shape = op_model.output_shape
    if shape is None or op_model.name in EXTRA_RETURN:
        out.append("<return>true</return>")
    if shape is not None:
        data = data or {}
        unknown = set(data) - set(shape.members)
        if unknown:
            raise ValueError(f"{shape.name}: no member {sorted(unknown)}")
        for name, mshape in shape.members.items():
            if data.get(name) is not None:
                _xml(mshape, data[name], mshape.serialization.get("name", name), out)
    out.append(f"</{root}>")
    return "".join(out).encode("utf-8")
