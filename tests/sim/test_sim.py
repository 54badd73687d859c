#!/usr/bin/python3
"""Tests of cdpsim, with botocore's real client as the reference client.

Run from the repository root:
    /usr/bin/python3 -m unittest tests/sim/test_sim.py
    /usr/bin/python3 tests/sim/test_sim.py
"""

import copy
import datetime
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# Only 127.0.0.1 is ever contacted: no proxies, no user AWS config.
for _var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
    os.environ.pop(_var, None)
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ.pop("AWS_PROFILE", None)

import botocore.auth  # noqa: E402
import botocore.awsrequest  # noqa: E402
import botocore.credentials  # noqa: E402
import botocore.parsers  # noqa: E402
import botocore.serialize  # noqa: E402
import botocore.session  # noqa: E402
import botocore.utils  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

import ec2actions  # noqa: E402
import ec2proto  # noqa: E402
from ec2api import Ctx  # noqa: E402
from simstate import SimState  # noqa: E402

PY = "/usr/bin/python3"
SIM = os.path.join(HERE, "cdpsim.py")
BASIC = os.path.join(HERE, "scenarios", "basic.json")
AKID = "AKIDSIMEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSIMKEY"
I1 = "i-0123456789abcdef0"
I2 = "i-0fedcba9876543210"
ENI1 = "eni-0a1b2c3d4e5f60001"
ENI2 = "eni-0a1b2c3d4e5f60002"
SIG_MSG = ("The request signature we calculated does not match the signature you provided. "
           "Check your AWS Secret Access Key and signing method. Consult the service "
           "documentation for details.")

MODEL = ec2proto.load_model()
SESSION = botocore.session.Session()


def load_basic():
    with open(BASIC, encoding="utf-8") as f:
        return json.load(f)


class SimProcess:
    """cdpsim as a subprocess on free ports, found through its ready file."""

    def __init__(self, scenario=None, scenario_path=BASIC, log=False):
        self.tmp = tempfile.mkdtemp(prefix="cdpsim-test-")
        if scenario is not None:
            scenario_path = os.path.join(self.tmp, "scenario.json")
            with open(scenario_path, "w", encoding="utf-8") as f:
                json.dump(scenario, f)
        self.ready = os.path.join(self.tmp, "ready.json")
        self.log = os.path.join(self.tmp, "calls.jsonl") if log else None
        cmd = [PY, SIM, "--scenario", scenario_path, "--ec2-port", "0", "--ready-file", self.ready]
        if self.log:
            cmd += ["--log", self.log]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("cdpsim did not start")
            time.sleep(0.01)
        self.startup_seconds = time.monotonic() - self.started
        with open(self.ready, encoding="utf-8") as f:
            self.info = json.load(f)
        self.ec2_port = self.info["ec2_port"]
        self.endpoint = f"http://127.0.0.1:{self.ec2_port}"

    def imds_port(self, iid):
        return self.info["imds"][iid]

    def control(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.ec2_port, timeout=10)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read() or b"null")
        finally:
            conn.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def sign(request, region, key=AKID, secret=SECRET, token=None, amz_date=None, service="ec2"):
    """SigV4-sign an AWSRequest like botocore does, optionally at a chosen time."""
    signer = botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret, token), service, region)
    if amz_date is None:
        signer.add_auth(request)
        return
    request.context["timestamp"] = amz_date
    signer._modify_request_before_signing(request)
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    signer._inject_signature_to_request(request, signature)


def parse_error(body):
    parser = botocore.parsers.create_parser("ec2")
    parsed = parser.parse({"body": body, "headers": {}, "status_code": 400}, None)
    return parsed["Error"]["Code"], parsed["Error"]["Message"]


class SimCase(unittest.TestCase):
    SCENARIO = None  # None = basic.json
    LOG = False

    @classmethod
    def setUpClass(cls):
        cls.sim = SimProcess(cls.SCENARIO, log=cls.LOG)

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        warnings.simplefilter("ignore", ResourceWarning)  # botocore's pooled sockets
        self._clients = []
        self.addCleanup(lambda: [c.close() for c in self._clients])
        self.sim.control("DELETE", "/_sim/faults")
        self.sim.control("POST", "/_sim/latency", {"ms": 0})
        self.sim.control("POST", "/_sim/calls/clear")

    def client(self, region="us-east-1", key=AKID, secret=SECRET, token=None, **config):
        config.setdefault("retries", {"total_max_attempts": 1, "mode": "standard"})
        client = SESSION.create_client(
            "ec2", region_name=region, endpoint_url=self.sim.endpoint,
            aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
            config=Config(**config))
        self._clients.append(client)
        return client

    def raw(self, params, region="us-east-1", key=AKID, secret=SECRET, token=None,
            amz_date=None, version="2016-11-15", tamper=None, service="ec2"):
        """A signed Query API POST built by hand -> (status, body bytes)."""
        params = dict(params)
        if version is not None:
            params.setdefault("Version", version)
        request = botocore.awsrequest.AWSRequest(
            method="POST", url=self.sim.endpoint + "/", data=urllib.parse.urlencode(params),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        sign(request, region, key, secret, token, amz_date, service)
        prepared = request.prepare()
        body = prepared.body
        if tamper:
            body = tamper(body)
        conn = http.client.HTTPConnection("127.0.0.1", self.sim.ec2_port, timeout=10)
        try:
            conn.request("POST", "/", body=body, headers=dict(prepared.headers))
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def assert_raw_error(self, params, status, code, message=None, **kw):
        got_status, body = self.raw(params, **kw)
        got_code, got_message = parse_error(body)
        self.assertEqual((got_status, got_code), (status, code), got_message)
        if message is not None:
            self.assertEqual(got_message, message)
        return got_message

    def assert_client_error(self, call, code, status=None):
        with self.assertRaises(ClientError) as cm:
            call()
        self.assertEqual(cm.exception.response["Error"]["Code"], code)
        if status is not None:
            self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], status)
        return cm.exception

    def calls(self, **match):
        query = urllib.parse.urlencode(match)
        return self.sim.control("GET", "/_sim/calls" + ("?" + query if query else ""))[1]

    def fault(self, **spec):
        status, answer = self.sim.control("POST", "/_sim/faults", spec)
        self.assertEqual(status, 200, answer)
        return answer

    # IMDS helpers
    def imds(self, method, path, headers=None, iid=I1, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.sim.imds_port(iid), timeout=timeout)
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    def token(self, iid=I1, ttl="21600"):
        status, token = self.imds("PUT", "/latest/api/token",
                                  {"X-aws-ec2-metadata-token-ttl-seconds": ttl}, iid)
        self.assertEqual(status, 200)
        return token

    def md(self, path, iid=I1, token=None):
        token = token or self.token(iid)
        return self.imds("GET", "/latest/" + path, {"X-aws-ec2-metadata-token": token}, iid)


# ---------------------------------------------------------------------------
# protocol module, no subprocess

def _normalize(shape, value):
    """Output value -> comparable form (timestamps as epoch, no None members)."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        return {k: _normalize(shape.members[k], v) for k, v in value.items()
                if k in shape.members and v is not None}
    if kind == "list":
        return [_normalize(shape.member, v) for v in value]
    if kind == "timestamp":
        if isinstance(value, str):
            value = ec2proto.parse_timestamp(value)
        return round(value.timestamp(), 3)
    return value


class TestProtocol(unittest.TestCase):
    def setUp(self):
        self.state = SimState(load_basic())
        self.parser = botocore.parsers.create_parser("ec2")

    def ctx(self, action, region="us-east-1"):
        return Ctx(self.state, self.state.region(region), action, None, "req-1")

    def round_trip(self, action, params):
        op = MODEL.operation_model(action)
        data = ec2actions.ACTIONS[action](self.ctx(action), params)
        body = ec2proto.serialize_response(op, data, "11111111-2222-3333-4444-555555555555")
        self.assertTrue(body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<' + action.encode()
                                        + b'Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
                                        + b"<requestId>11111111-2222-3333-4444-555555555555</requestId>"))
        parsed = self.parser.parse({"body": body, "headers": {}, "status_code": 200}, op.output_shape)
        self.assertEqual(parsed.pop("ResponseMetadata")["RequestId"], "11111111-2222-3333-4444-555555555555")
        if op.output_shape is None:
            self.assertEqual(parsed, {})
            self.assertIn(b"<return>true</return>", body)
        else:
            self.assertEqual(_normalize(op.output_shape, parsed), _normalize(op.output_shape, data))
        return parsed

    def test_every_action_answer_parses_with_botocore(self):
        tags = self.round_trip("DescribeTags", {})["Tags"]
        self.assertIn({"Key": "cdp:snapshot:keep", "ResourceId": I1, "ResourceType": "instance",
                       "Value": "7"}, tags)
        inst = self.round_trip("DescribeInstances", {})["Reservations"][0]["Instances"][0]
        self.assertEqual(inst["LaunchTime"],
                         datetime.datetime(2026, 1, 15, 9, 30, tzinfo=datetime.timezone.utc))
        self.assertIs(inst["SourceDestCheck"], True)
        self.round_trip("DescribeNetworkInterfaces", {})
        self.round_trip("DescribeTags", {"MaxResults": 5})
        self.round_trip("CreateTags", {"Resources": [I1], "Tags": [{"Key": "a", "Value": "<&>"}]})
        self.assertEqual(self.state.region("us-east-1").instances[I1]["tags"]["a"], "<&>")
        self.round_trip("DeleteTags", {"Resources": [I1], "Tags": [{"Key": "a"}]})
        self.assertNotIn("a", self.state.region("us-east-1").instances[I1]["tags"])

    def test_timestamps_have_milliseconds(self):
        self.assertEqual(ec2proto.format_timestamp("2026-11-21T10:00:00Z"), "2026-11-21T10:00:00.000Z")
        self.assertEqual(ec2proto.format_timestamp(
            datetime.datetime(2026, 11, 21, 10, 0, 0, 123456, tzinfo=datetime.timezone.utc)),
            "2026-11-21T10:00:00.123Z")

    def test_serializer_rejects_unknown_members(self):
        with self.assertRaises(ValueError):
            ec2proto.serialize_response(MODEL.operation_model("DescribeTags"), {"Bogus": 1}, "r")

    def test_error_body_parses_with_botocore(self):
        body = ec2proto.error_body("InvalidInstanceID.NotFound", "The instance ID 'i-1' does not exist", "rid-9")
        self.assertTrue(body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'))
        parsed = self.parser.parse({"body": body, "headers": {}, "status_code": 400}, None)
        self.assertEqual(parsed["Error"], {"Code": "InvalidInstanceID.NotFound",
                                           "Message": "The instance ID 'i-1' does not exist"})
        self.assertEqual(parsed["ResponseMetadata"]["RequestId"], "rid-9")

    def test_request_parser_inverts_botocore_serializer(self):
        serializer = botocore.serialize.create_serializer("ec2")
        when = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=datetime.timezone.utc)
        cases = [
            ("DescribeInstances", {"InstanceIds": [I1, I2], "DryRun": False,
                                   "Filters": [{"Name": "tag:Name", "Values": ["web-1", "web-*"]},
                                               {"Name": "instance-state-name", "Values": ["running"]}]}),
            ("DescribeTags", {"MaxResults": 7, "NextToken": "abc"}),
            ("CreateTags", {"Resources": [I1], "Tags": [{"Key": "k", "Value": ""}, {"Key": "x", "Value": "y"}]}),
            ("DeleteTags", {"Resources": [I1], "Tags": [{"Key": "k"}]}),
            ("DescribeNetworkInterfaces", {"NetworkInterfaceIds": [ENI1], "MaxResults": 5,
                                           "Filters": [{"Name": "attachment.instance-id", "Values": [I1]}]}),
            ("CreateSnapshots", {"InstanceSpecification": {"InstanceId": I1, "ExcludeBootVolume": True},
                                 "Description": "d", "CopyTagsFromSource": "volume",
                                 "TagSpecifications": [{"ResourceType": "snapshot",
                                                        "Tags": [{"Key": "cdp:managed", "Value": "1"}]}]}),
            ("ReplaceRoute", {"RouteTableId": "rtb-0aaa1111bbbb22223", "DestinationCidrBlock": "192.168.100.10/32",
                              "NetworkInterfaceId": ENI1}),
            ("AssignPrivateIpAddresses", {"NetworkInterfaceId": ENI1, "PrivateIpAddresses": ["10.0.1.20"],
                                          "AllowReassignment": True}),
            ("DescribeSpotPriceHistory", {"StartTime": when, "InstanceTypes": ["t3.micro"]}),
        ]
        for action, params in cases:
            with self.subTest(action=action):
                op = MODEL.operation_model(action)
                body = serializer.serialize_to_request(params, op)["body"]
                flat = {k: str(v) for k, v in body.items() if k not in ("Action", "Version")}
                self.assertEqual(ec2proto.parse_request(op, flat), params)

    def parse_error(self, action, flat):
        with self.assertRaises(ec2proto.Ec2Error) as cm:
            ec2proto.parse_request(MODEL.operation_model(action), flat)
        return cm.exception

    def test_request_parser_errors(self):
        err = self.parse_error("DescribeTags", {"Foo": "bar"})
        self.assertEqual((err.code, err.message), ("UnknownParameter", "The parameter Foo is not recognized"))
        self.assertEqual(self.parse_error("DescribeTags", {"Filter.1.Nme": "x"}).code, "UnknownParameter")
        self.assertEqual(self.parse_error("DescribeTags", {"Filter.x.Name": "x"}).code, "UnknownParameter")
        self.assertEqual(self.parse_error("DescribeInstances", {"InstanceId": I1}).code, "UnknownParameter")
        err = self.parse_error("CreateTags", {"ResourceId.1": I1})
        self.assertEqual((err.code, err.message),
                         ("MissingParameter", "The request must contain the parameter Tag"))
        err = self.parse_error("DescribeTags", {"MaxResults": "abc"})
        self.assertEqual(err.code, "InvalidParameterValue")
        self.assertIn("MaxResults", err.message)
        self.assertEqual(self.parse_error("DescribeTags", {"DryRun": "maybe"}).code, "InvalidParameterValue")
        self.assertEqual(self.parse_error("CreateSnapshots", {"InstanceSpecification.InstanceId": I1,
                                                              "CopyTagsFromSource": "bogus"}).code,
                         "InvalidParameterValue")
        # botocore.validate's own range check (model min 5)
        err = self.parse_error("DescribeNetworkInterfaces", {"MaxResults": "2"})
        self.assertEqual(err.code, "InvalidParameterValue")
        self.assertIn("MaxResults", err.message)


# ---------------------------------------------------------------------------
# EC2 endpoint

class TestEc2(SimCase):
    LOG = True

    def test_describe_tags_filters(self):
        ec2 = self.client()
        tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [I1]}])["Tags"]
        self.assertEqual({t["Key"]: t["Value"] for t in tags}, {
            "Name": "web-1", "cdp:snapshot": "@daily", "cdp:snapshot:keep": "7",
            "cdp:env:DB_HOST": "db.internal", "cdp:env:LOG_LEVEL": "info",
            "cdp:floating-ip": "eipalloc-0abc123def4567890",
            "cdp:routing-ha": "192.168.100.10/32@rtb-0aaa1111bbbb22223+rtb-0ccc3333dddd44445"})
        self.assertTrue(all(t["ResourceType"] == "instance" for t in tags))
        env = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [I1]},
                                         {"Name": "key", "Values": ["cdp:env:*"]}])["Tags"]
        self.assertEqual(sorted(t["Key"] for t in env), ["cdp:env:DB_HOST", "cdp:env:LOG_LEVEL"])
        vols = ec2.describe_tags(Filters=[{"Name": "resource-type", "Values": ["volume"]}])["Tags"]
        self.assertEqual({t["ResourceId"] for t in vols}, {"vol-0000000000000000a", "vol-0000000000000000b"})
        by_value = ec2.describe_tags(Filters=[{"Name": "value", "Values": ["web-?"]}])["Tags"]
        self.assertEqual({t["ResourceId"] for t in by_value}, {I1, I2})
        self.assert_client_error(lambda: ec2.describe_tags(Filters=[{"Name": "bogus", "Values": ["x"]}]),
                                 "InvalidParameterValue", 400)

    def test_describe_instances(self):
        ec2 = self.client()
        res = ec2.describe_instances(InstanceIds=[I1])["Reservations"]
        self.assertEqual(len(res), 1)
        inst = res[0]["Instances"][0]
        self.assertEqual(inst["InstanceId"], I1)
        self.assertEqual(inst["PrivateIpAddress"], "10.0.1.10")
        self.assertEqual(inst["Placement"]["AvailabilityZone"], "us-east-1a")
        self.assertEqual(inst["State"], {"Code": 16, "Name": "running"})
        self.assertTrue(inst["SourceDestCheck"])
        self.assertEqual({t["Key"]: t["Value"] for t in inst["Tags"]}["Name"], "web-1")
        self.assertEqual({b["DeviceName"]: b["Ebs"]["VolumeId"] for b in inst["BlockDeviceMappings"]},
                         {"/dev/xvda": "vol-0000000000000000a", "/dev/xvdf": "vol-0000000000000000b"})
        eni = inst["NetworkInterfaces"][0]
        self.assertEqual((eni["NetworkInterfaceId"], eni["MacAddress"], eni["Attachment"]["DeviceIndex"]),
                         (ENI1, "0e:00:00:00:00:01", 0))
        self.assertEqual(inst["LaunchTime"].year, 2026)
        self.assertEqual(inst["MetadataOptions"]["InstanceMetadataTags"], "enabled")

    def test_describe_instances_filters_and_errors(self):
        ec2 = self.client()
        ids = lambda **kw: [i["InstanceId"] for r in ec2.describe_instances(**kw)["Reservations"]  # noqa: E731
                            for i in r["Instances"]]
        self.assertEqual(ids(), [I1, I2])
        self.assertEqual(ids(Filters=[{"Name": "tag:Name", "Values": ["web-2"]}]), [I2])
        self.assertEqual(ids(Filters=[{"Name": "tag-key", "Values": ["cdp:routing-ha"]}]), [I1])
        self.assertEqual(ids(Filters=[{"Name": "instance-id", "Values": [I2, "i-00000000000000000"]}]), [I2])
        self.assertEqual(ids(Filters=[{"Name": "tag:Name", "Values": ["web-*"]},
                                      {"Name": "private-ip-address", "Values": ["10.0.1.10"]}]), [I1])
        err = self.assert_client_error(lambda: ec2.describe_instances(InstanceIds=["i-00000000000000099"]),
                                       "InvalidInstanceID.NotFound", 400)
        self.assertIn("i-00000000000000099", err.response["Error"]["Message"])
        self.assert_client_error(lambda: ec2.describe_instances(InstanceIds=["i-xyz"]),
                                 "InvalidInstanceID.Malformed")
        self.assert_client_error(lambda: ec2.describe_instances(InstanceIds=[I1], MaxResults=5),
                                 "InvalidParameterCombination")

    def test_describe_network_interfaces(self):
        ec2 = self.client()
        enis = ec2.describe_network_interfaces(NetworkInterfaceIds=[ENI1])["NetworkInterfaces"]
        self.assertEqual(enis[0]["Attachment"]["InstanceId"], I1)
        self.assertEqual(enis[0]["PrivateIpAddresses"][0]["PrivateIpAddress"], "10.0.1.10")
        by_instance = ec2.describe_network_interfaces(
            Filters=[{"Name": "attachment.instance-id", "Values": [I2]}])["NetworkInterfaces"]
        self.assertEqual([e["NetworkInterfaceId"] for e in by_instance], [ENI2])
        by_id = ec2.describe_network_interfaces(
            Filters=[{"Name": "network-interface-id", "Values": [ENI1]}])["NetworkInterfaces"]
        self.assertEqual([e["MacAddress"] for e in by_id], ["0e:00:00:00:00:01"])
        self.assert_client_error(
            lambda: ec2.describe_network_interfaces(NetworkInterfaceIds=["eni-0000000000000dead"]),
            "InvalidNetworkInterfaceID.NotFound")

    def test_create_and_delete_tags(self):
        ec2 = self.client()
        ec2.create_tags(Resources=[I2, "vol-0000000000000000c"], Tags=[{"Key": "cdp:test", "Value": "1"}])
        got = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["cdp:test"]}])["Tags"]
        self.assertEqual({(t["ResourceId"], t["ResourceType"]) for t in got},
                         {(I2, "instance"), ("vol-0000000000000000c", "volume")})
        ec2.delete_tags(Resources=[I2], Tags=[{"Key": "cdp:test", "Value": "other"}])  # value mismatch: kept
        self.assertEqual(len(ec2.describe_tags(Filters=[{"Name": "key", "Values": ["cdp:test"]}])["Tags"]), 2)
        ec2.delete_tags(Resources=[I2, "vol-0000000000000000c"], Tags=[{"Key": "cdp:test"}])
        self.assertEqual(ec2.describe_tags(Filters=[{"Name": "key", "Values": ["cdp:test"]}])["Tags"], [])
        self.assert_client_error(lambda: ec2.create_tags(Resources=["i-00000000000000077"],
                                                         Tags=[{"Key": "a", "Value": "b"}]),
                                 "InvalidInstanceID.NotFound")
        self.assert_client_error(lambda: ec2.create_tags(Resources=[I2], Tags=[{"Key": "aws:x", "Value": "b"}]),
                                 "InvalidParameterValue")

    def test_pagination(self):
        ec2 = self.client()
        everything = ec2.describe_tags()["Tags"]
        self.assertGreater(len(everything), 5)
        pages = list(ec2.get_paginator("describe_tags").paginate(PaginationConfig={"PageSize": 5}))
        self.assertEqual(len(pages), (len(everything) + 4) // 5)
        self.assertTrue(all(len(p["Tags"]) <= 5 for p in pages))
        self.assertEqual([t for p in pages for t in p["Tags"]], everything)
        first = ec2.describe_tags(MaxResults=5)
        self.assertIn("NextToken", first)
        self.assert_client_error(lambda: ec2.describe_tags(MaxResults=5, NextToken="garbage"),
                                 "InvalidParameterValue", 400)
        # a token is bound to the request's filters
        self.assert_client_error(lambda: ec2.describe_tags(
            MaxResults=5, NextToken=first["NextToken"],
            Filters=[{"Name": "key", "Values": ["Name"]}]), "InvalidParameterValue")
        self.assert_client_error(lambda: ec2.describe_tags(MaxResults=3), "InvalidParameterValue")
        self.assert_client_error(lambda: ec2.describe_tags(MaxResults=1001), "InvalidParameterValue")
        pages = list(ec2.get_paginator("describe_instances").paginate(PaginationConfig={"PageSize": 5}))
        self.assertEqual(len(pages[0]["Reservations"]), 2)
        enis = list(ec2.get_paginator("describe_network_interfaces").paginate(PaginationConfig={"PageSize": 5}))
        self.assertEqual(len(enis[0]["NetworkInterfaces"]), 2)

    def test_signature_errors(self):
        err = self.assert_client_error(lambda: self.client(secret="wrong-secret").describe_tags(),
                                       "SignatureDoesNotMatch", 403)
        self.assertEqual(err.response["Error"]["Message"], SIG_MSG)
        err = self.assert_client_error(lambda: self.client(key="AKIDUNKNOWN").describe_tags(), "AuthFailure", 401)
        self.assertEqual(err.response["Error"]["Message"],
                         "AWS was not able to validate the provided access credentials")
        # a session token where the key has none
        self.assert_client_error(lambda: self.client(token="bogus").describe_tags(), "AuthFailure", 401)
        # body changed after signing
        self.assert_raw_error({"Action": "DescribeTags"}, 403, "SignatureDoesNotMatch", SIG_MSG,
                              tamper=lambda b: b.replace("DescribeTags", "DescribeTagz"))
        # the credential scope must name ec2
        self.assert_raw_error({"Action": "DescribeTags"}, 403, "SignatureDoesNotMatch",
                              "Credential should be scoped to correct service: 'ec2'.", service="s3")
        old = (datetime.datetime.utcnow() - datetime.timedelta(minutes=6)).strftime("%Y%m%dT%H%M%SZ")
        self.assert_raw_error({"Action": "DescribeTags"}, 400, "RequestExpired", "Request has expired.",
                              amz_date=old)
        fine = (datetime.datetime.utcnow() - datetime.timedelta(minutes=4)).strftime("%Y%m%dT%H%M%SZ")
        self.assertEqual(self.raw({"Action": "DescribeTags"}, amz_date=fine)[0], 200)

    def test_parameter_validation(self):
        self.assert_raw_error({"Action": "DescribeTags", "Foo": "bar"}, 400, "UnknownParameter",
                              "The parameter Foo is not recognized")
        self.assert_raw_error({"Action": "DescribeInstances", "Filter.1.Nmae": "x"}, 400, "UnknownParameter")
        self.assert_raw_error({"Action": "CreateTags", "ResourceId.1": I1}, 400, "MissingParameter",
                              "The request must contain the parameter Tag")
        self.assert_raw_error({"Action": "DescribeTags", "MaxResults": "lots"}, 400, "InvalidParameterValue")
        self.assert_raw_error({"Action": "DescribeTags", "DryRun": "perhaps"}, 400, "InvalidParameterValue")
        self.assert_raw_error({"Action": "CreateSnapshots", "InstanceSpecification.InstanceId": I1,
                               "CopyTagsFromSource": "everything"}, 400, "InvalidParameterValue")
        self.assert_raw_error({"Action": "DescribeTagz"}, 400, "InvalidAction")
        self.assert_raw_error({}, 400, "MissingAction")
        self.assert_raw_error({"Action": "DescribeTags"}, 400, "MissingParameter", version=None)
        self.assert_raw_error({"Action": "DescribeTags"}, 400, "NoSuchVersion", version="2014-10-01")
        msg = self.assert_raw_error({"Action": "DescribeVpcs"}, 400, "InvalidAction")
        self.assertIn("not implemented by cdpsim", msg)
        # validation comes before the action: a bad parameter never changes state
        self.assert_raw_error({"Action": "CreateTags", "ResourceId.1": I2, "Tag.1.Key": "zz",
                               "Tag.1.Valeu": "1"}, 400, "UnknownParameter")
        self.assertNotIn("zz", self.sim.control("GET", "/_sim/state")[1]
                         ["regions"]["us-east-1"]["instances"][I2]["tags"])

    def test_dry_run_allowed(self):
        ec2 = self.client()
        self.assert_client_error(lambda: ec2.describe_tags(DryRun=True), "DryRunOperation", 412)
        err = self.assert_client_error(lambda: ec2.create_tags(DryRun=True, Resources=[I1],
                                                               Tags=[{"Key": "dry", "Value": "1"}]),
                                       "DryRunOperation", 412)
        self.assertEqual(err.response["Error"]["Message"], "Request would have succeeded, but DryRun flag is set.")
        self.assertNotIn("dry", self.sim.control("GET", "/_sim/state")[1]
                         ["regions"]["us-east-1"]["instances"][I1]["tags"])
        # DryRun proves permission even for actions cdpsim does not implement
        self.assert_client_error(lambda: ec2.describe_vpcs(DryRun=True), "DryRunOperation", 412)

    def test_regions_keep_separate_state(self):
        east, west = self.client("us-east-1"), self.client("us-west-2")
        self.assertEqual(west.describe_instances()["Reservations"], [])
        west.create_tags(Resources=["vol-0000000000000000d"], Tags=[{"Key": "side", "Value": "west"}])
        self.assertEqual([t["ResourceId"] for t in west.describe_tags(
            Filters=[{"Name": "key", "Values": ["side"]}])["Tags"]], ["vol-0000000000000000d"])
        self.assertEqual(east.describe_tags(Filters=[{"Name": "key", "Values": ["side"]}])["Tags"], [])
        self.assert_client_error(lambda: east.create_tags(Resources=["vol-0000000000000000d"],
                                                          Tags=[{"Key": "a", "Value": "b"}]),
                                 "InvalidVolume.NotFound")
        # a region absent from the scenario exists and is empty
        self.assertEqual(self.client("eu-west-1").describe_tags()["Tags"], [])
        calls = self.calls(action="CreateTags")
        self.assertEqual([c["region"] for c in calls if c["status"] == 200], ["us-west-2"])

    def test_calls_are_recorded(self):
        self.client().describe_tags(Filters=[{"Name": "resource-id", "Values": [I1]}])
        with self.assertRaises(ClientError):
            self.client(secret="nope").describe_instances()
        calls = self.calls(service="ec2")
        self.assertEqual([(c["action"], c["status"], c["code"]) for c in calls],
                         [("DescribeTags", 200, None), ("DescribeInstances", 403, "SignatureDoesNotMatch")])
        first = calls[0]
        self.assertEqual(first["params"]["Filter.1.Name"], "resource-id")
        self.assertEqual(first["params"]["Filter.1.Value.1"], I1)
        self.assertEqual((first["region"], first["access_key_id"], first["method"], first["path"]),
                         ("us-east-1", AKID, "POST", "/"))
        self.assertLess(abs(first["t"] - time.time()), 60)
        self.assertLess(first["seq"], calls[1]["seq"])
        with open(self.sim.log, encoding="utf-8") as f:
            logged = [json.loads(line) for line in f]
        self.assertIn(first["seq"], [c["seq"] for c in logged])
        self.assertEqual(self.sim.control("POST", "/_sim/calls/clear")[0], 200)
        self.assertEqual(self.calls(), [])

    def test_keep_alive(self):
        request = botocore.awsrequest.AWSRequest(
            method="POST", url=self.sim.endpoint + "/", data="Action=DescribeTags&Version=2016-11-15",
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        conn = http.client.HTTPConnection("127.0.0.1", self.sim.ec2_port, timeout=10)
        try:
            for _ in range(3):
                sign(request, "us-east-1")
                prepared = request.prepare()
                conn.request("POST", "/", body=prepared.body, headers=dict(prepared.headers))
                resp = conn.getresponse()
                self.assertEqual(resp.status, 200)
                self.assertEqual(int(resp.getheader("Content-Length")), len(resp.read()))
            self.assertIsNotNone(conn.sock)  # still the same connection
        finally:
            conn.close()

    def test_control_state_tags_instance(self):
        status, state = self.sim.control("GET", "/_sim/state")
        self.assertEqual(status, 200)
        self.assertEqual(state["regions"]["us-east-1"]["instances"][I1]["role"], "cdpd-test-role")
        self.assertIn("vol-0000000000000000b", state["regions"]["us-east-1"]["volumes"])
        status, out = self.sim.control("POST", "/_sim/tags", {"region": "us-east-1", "resource": I2,
                                                              "set": {"ctl": "v"}, "delete": ["nothing"]})
        self.assertEqual((status, out["tags"]["ctl"]), (200, "v"))
        got = self.client().describe_tags(Filters=[{"Name": "key", "Values": ["ctl"]}])["Tags"]
        self.assertEqual([t["ResourceId"] for t in got], [I2])
        self.sim.control("POST", "/_sim/tags", {"region": "us-east-1", "resource": I2, "delete": ["ctl"]})
        self.assertEqual(self.sim.control("POST", "/_sim/tags", {"region": "us-east-1",
                                                                 "resource": "i-00000000000000001"})[0], 404)
        self.assertEqual(self.sim.control("GET", "/_sim/nope")[0], 404)
        self.assertEqual(self.sim.control("POST", "/_sim/faults", {"kind": "explode"})[0], 400)


class TestPermissions(SimCase):
    SCENARIO = dict(load_basic(), permissions=["ec2:Describe*"], role_credentials_ttl=200)

    def test_dry_run_and_denial(self):
        ec2 = self.client()
        self.assert_client_error(lambda: ec2.describe_tags(DryRun=True), "DryRunOperation", 412)
        tag = lambda **kw: ec2.create_tags(Resources=[I1], Tags=[{"Key": "a", "Value": "b"}], **kw)  # noqa: E731
        self.assert_client_error(lambda: tag(DryRun=True), "UnauthorizedOperation", 403)
        self.assert_client_error(tag, "UnauthorizedOperation", 403)
        self.assertEqual(len(ec2.describe_tags()["Tags"]) > 0, True)
        self.sim.control("POST", "/_sim/permissions", {"permissions": ["ec2:DescribeTags", "ec2:CreateTags"]})
        self.assert_client_error(lambda: tag(DryRun=True), "DryRunOperation", 412)
        self.assert_client_error(lambda: ec2.describe_instances(DryRun=True), "UnauthorizedOperation", 403)
        self.sim.control("POST", "/_sim/permissions", {"permissions": None})
        tag()

    def test_short_ttl_gives_fresh_credentials_each_time(self):
        path = "meta-data/iam/security-credentials/cdpd-test-role"
        first = json.loads(self.md(path)[1])
        second = json.loads(self.md(path)[1])
        self.assertNotEqual(first["AccessKeyId"], second["AccessKeyId"])
        expiry = datetime.datetime.strptime(second["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
        self.assertLess(expiry - datetime.datetime.utcnow(), datetime.timedelta(seconds=201))


# ---------------------------------------------------------------------------
# IMDS

class TestImds(SimCase):
    def test_token_flow(self):
        self.assertEqual(self.imds("GET", "/latest/meta-data/instance-id")[0], 401)
        self.assertEqual(self.imds("GET", "/latest/meta-data/instance-id",
                                   {"X-aws-ec2-metadata-token": "bogus"})[0], 401)
        for ttl in (None, "0", "21601", "abc"):
            headers = {} if ttl is None else {"X-aws-ec2-metadata-token-ttl-seconds": ttl}
            self.assertEqual(self.imds("PUT", "/latest/api/token", headers)[0], 400, ttl)
        self.assertEqual(self.imds("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60",
                                                                "X-Forwarded-For": "10.1.1.1"})[0], 403)
        token = self.token(ttl="21600")
        self.assertEqual(self.md("meta-data/instance-id", token=token), (200, I1))
        # a token belongs to its instance
        self.assertEqual(self.md("meta-data/instance-id", iid=I2, token=token)[0], 401)
        self.assertEqual(self.fault(service="imds", kind="token_expire")["applied"], "token_expire")
        self.assertEqual(self.md("meta-data/instance-id", token=token)[0], 401)
        self.assertEqual(self.md("meta-data/instance-id"), (200, I1))
        short = self.token(ttl="1")
        time.sleep(1.1)
        self.assertEqual(self.md("meta-data/instance-id", token=short)[0], 401)

    def test_metadata_paths(self):
        token = self.token()
        expect = {
            "meta-data/instance-id": I1,
            "meta-data/ami-id": "ami-0abcdef1234567890",
            "meta-data/instance-type": "t3.micro",
            "meta-data/local-ipv4": "10.0.1.10",
            "meta-data/mac": "0e:00:00:00:00:01",
            "meta-data/placement/region": "us-east-1",
            "meta-data/placement/availability-zone": "us-east-1a",
            "meta-data/placement/availability-zone/": "us-east-1a",
            "meta-data/network/interfaces/macs/": "0e:00:00:00:00:01/",
            "meta-data/network/interfaces/macs/0e:00:00:00:00:01/interface-id": ENI1,
            "meta-data/network/interfaces/macs/0e:00:00:00:00:01/local-ipv4s": "10.0.1.10",
            "meta-data/iam/security-credentials/": "cdpd-test-role",
        }
        for path, value in expect.items():
            self.assertEqual(self.md(path, token=token), (200, value), path)
        self.assertEqual(self.md("meta-data/instance-id", iid=I2), (200, I2))
        listing = self.md("meta-data/", token=token)[1].split("\n")
        self.assertIn("instance-id", listing)
        self.assertIn("placement/", listing)
        self.assertEqual(self.md("meta-data/nonexistent", token=token)[0], 404)
        doc = json.loads(self.md("dynamic/instance-identity/document", token=token)[1])
        self.assertEqual({k: doc[k] for k in ("instanceId", "region", "availabilityZone", "accountId",
                                              "imageId", "instanceType", "privateIp")},
                         {"instanceId": I1, "region": "us-east-1", "availabilityZone": "us-east-1a",
                          "accountId": "123456789012", "imageId": "ami-0abcdef1234567890",
                          "instanceType": "t3.micro", "privateIp": "10.0.1.10"})
        info = json.loads(self.md("meta-data/iam/info", token=token)[1])
        self.assertEqual(info["InstanceProfileArn"], "arn:aws:iam::123456789012:instance-profile/cdpd-test-role")

    def test_tags(self):
        keys = self.md("meta-data/tags/instance/")[1].split("\n")
        self.assertEqual(sorted(keys), sorted(["Name", "cdp:snapshot", "cdp:snapshot:keep", "cdp:env:DB_HOST",
                                               "cdp:env:LOG_LEVEL", "cdp:floating-ip", "cdp:routing-ha"]))
        self.assertEqual(self.md("meta-data/tags/instance/cdp:snapshot"), (200, "@daily"))
        self.assertEqual(self.md("meta-data/tags/instance/nope")[0], 404)
        self.client().create_tags(Resources=[I1], Tags=[{"Key": "cdp:env:NEW", "Value": "fresh"}])
        self.assertEqual(self.md("meta-data/tags/instance/cdp:env:NEW"), (200, "fresh"))
        self.client().delete_tags(Resources=[I1], Tags=[{"Key": "cdp:env:NEW"}])
        self.assertEqual(self.md("meta-data/tags/instance/cdp:env:NEW")[0], 404)
        self.sim.control("POST", "/_sim/instance", {"region": "us-east-1", "id": I1,
                                                    "instance_metadata_tags": False})
        try:
            self.assertEqual(self.md("meta-data/tags/instance/")[0], 404)
            self.assertEqual(self.md("meta-data/tags/instance/Name")[0], 404)
            inst = self.client().describe_instances(InstanceIds=[I1])["Reservations"][0]["Instances"][0]
            self.assertEqual(inst["MetadataOptions"]["InstanceMetadataTags"], "disabled")
        finally:
            self.sim.control("POST", "/_sim/instance", {"region": "us-east-1", "id": I1,
                                                        "instance_metadata_tags": True})
        self.assertEqual(self.md("meta-data/tags/instance/Name"), (200, "web-1"))

    def test_no_role(self):
        self.sim.control("POST", "/_sim/instance", {"region": "us-east-1", "id": I2, "role": None})
        try:
            self.assertEqual(self.md("meta-data/iam/security-credentials/", iid=I2)[0], 404)
            self.assertEqual(self.md("meta-data/iam/info", iid=I2)[0], 404)
        finally:
            self.sim.control("POST", "/_sim/instance", {"region": "us-east-1", "id": I2, "role": "cdpd-test-role"})

    def role_creds(self, iid=I1):
        status, body = self.md("meta-data/iam/security-credentials/cdpd-test-role", iid=iid)
        self.assertEqual(status, 200)
        return json.loads(body)

    def test_role_credentials_work_until_expired(self):
        creds = self.role_creds()
        self.assertEqual((creds["Code"], creds["Type"]), ("Success", "AWS-HMAC"))
        expiry = datetime.datetime.strptime(creds["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
        self.assertGreater(expiry - datetime.datetime.utcnow(), datetime.timedelta(hours=5))
        self.assertEqual(self.role_creds()["AccessKeyId"], creds["AccessKeyId"])  # stable until near expiry
        ec2 = self.client(key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["Token"])
        self.assertTrue(ec2.describe_tags()["Tags"])
        self.assertEqual(self.calls(action="DescribeTags")[-1]["access_key_id"], creds["AccessKeyId"])
        # the token must come with the key
        self.assert_client_error(lambda: self.client(key=creds["AccessKeyId"], secret=creds["SecretAccessKey"])
                                 .describe_tags(), "AuthFailure", 401)
        out = self.fault(service="imds", kind="creds_expire", instance=I1)
        self.assertEqual(out["instances"], [I1])
        err = self.assert_client_error(ec2.describe_tags, "RequestExpired", 400)
        self.assertEqual(err.response["Error"]["Message"], "Request has expired.")
        fresh = self.role_creds()
        self.assertNotEqual(fresh["AccessKeyId"], creds["AccessKeyId"])
        self.assertTrue(self.client(key=fresh["AccessKeyId"], secret=fresh["SecretAccessKey"],
                                    token=fresh["Token"]).describe_tags()["Tags"])

    def test_botocore_metadata_fetcher(self):
        fetcher = botocore.utils.InstanceMetadataFetcher(
            timeout=2, num_attempts=1, base_url=f"http://127.0.0.1:{self.sim.imds_port(I2)}/")
        creds = fetcher.retrieve_iam_role_credentials()
        self.assertEqual(creds["role_name"], "cdpd-test-role")
        self.assertTrue(creds["access_key"].startswith("ASIA"))
        ec2 = self.client(key=creds["access_key"], secret=creds["secret_key"], token=creds["token"])
        self.assertEqual(len(ec2.describe_instances(InstanceIds=[I2])["Reservations"]), 1)
        region = botocore.utils.InstanceMetadataRegionFetcher(
            timeout=2, num_attempts=1, base_url=f"http://127.0.0.1:{self.sim.imds_port(I2)}/").retrieve_region()
        self.assertEqual(region, "us-east-1")

    def test_imds_calls_recorded(self):
        self.md("meta-data/instance-id", iid=I2)
        calls = self.calls(service="imds")
        self.assertEqual([(c["method"], c["path"], c["status"], c["instance"]) for c in calls],
                         [("PUT", "/latest/api/token", 200, I2), ("GET", "/latest/meta-data/instance-id", 200, I2)])
        self.assertEqual(calls[0]["params"], {"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
        self.assertEqual(calls[1]["region"], "us-east-1")


# ---------------------------------------------------------------------------
# faults

class TestFaults(SimCase):
    def test_ec2_throttle_and_codes(self):
        ec2 = self.client()
        self.fault(service="ec2", action="DescribeTags", kind="throttle")
        err = self.assert_client_error(ec2.describe_tags, "RequestLimitExceeded", 503)
        self.assertEqual(err.response["Error"]["Message"], "Request limit exceeded.")
        self.assertTrue(ec2.describe_tags()["Tags"])  # count 1: consumed
        self.fault(action="DescribeTags", kind="throttle", code="SnapshotCreationPerVolumeRateExceeded", status=400)
        self.assert_client_error(ec2.describe_tags, "SnapshotCreationPerVolumeRateExceeded", 400)
        self.fault(kind="error")
        self.assert_client_error(ec2.describe_tags, "InternalError", 500)
        self.fault(kind="error", status=503)
        self.assert_client_error(ec2.describe_tags, "Unavailable", 503)
        calls = self.calls()
        self.assertEqual([(c["status"], c["code"], c.get("fault")) for c in calls[:2]],
                         [(503, "RequestLimitExceeded", "throttle"), (200, None, None)])

    def test_fifo_matching_and_count(self):
        ec2 = self.client()
        self.fault(action="DescribeInstances", kind="throttle")
        self.fault(action="*", kind="error")
        self.fault(action="DescribeInstances", kind="throttle", code="Throttling", status=400)
        self.assert_client_error(ec2.describe_tags, "InternalError")  # first matching one: the '*' error
        self.assert_client_error(ec2.describe_instances, "RequestLimitExceeded")
        self.assert_client_error(ec2.describe_instances, "Throttling")
        ec2.describe_instances()
        self.fault(action="DescribeTags", kind="throttle", count=-1)
        for _ in range(3):
            self.assert_client_error(ec2.describe_tags, "RequestLimitExceeded")
        ec2.describe_instances()
        self.assertEqual(len(self.sim.control("GET", "/_sim/faults")[1]), 1)
        self.assertEqual(self.sim.control("DELETE", "/_sim/faults")[1], {"cleared": 1})
        ec2.describe_tags()
        self.fault(region="us-west-2", kind="error")
        ec2.describe_tags()
        self.assert_client_error(self.client("us-west-2").describe_tags, "InternalError")

    def test_ec2_drop_latency_timeout(self):
        ec2 = self.client(connect_timeout=2, read_timeout=5)
        self.fault(kind="drop")
        with self.assertRaises(Exception) as cm:
            ec2.describe_tags()
        self.assertNotIsInstance(cm.exception, ClientError)
        self.fault(kind="latency", latency_ms=300)
        start = time.monotonic()
        ec2.describe_tags()
        self.assertGreaterEqual(time.monotonic() - start, 0.3)
        self.fault(kind="timeout", latency_ms=1500)
        quick = self.client(read_timeout=0.3)
        with self.assertRaises(Exception) as cm:
            quick.describe_tags()
        self.assertIn("timeout", type(cm.exception).__name__.lower())
        self.sim.control("POST", "/_sim/latency", {"ms": 250})
        start = time.monotonic()
        ec2.describe_tags()
        self.assertGreaterEqual(time.monotonic() - start, 0.25)
        self.sim.control("POST", "/_sim/latency", {"ms": 0})
        drop = [c for c in self.calls() if c.get("fault") == "drop"][0]
        self.assertIsNone(drop["status"])

    def test_ec2_malformed_and_truncated(self):
        status, full = self.raw({"Action": "DescribeInstances"})
        self.assertEqual(status, 200)
        self.fault(kind="malformed")
        status, body = self.raw({"Action": "DescribeInstances"})
        self.assertEqual(status, 200)
        self.assertFalse(body.startswith(b"<?xml"))
        with self.assertRaises(Exception):
            json.loads(body)
        self.fault(kind="truncated")
        status, body = self.raw({"Action": "DescribeInstances"})  # http.client checks Content-Length
        self.assertEqual(status, 200)
        self.assertEqual(len(body), len(full) // 2)
        self.assertEqual(body[:body.index(b"<requestId>")], full[:full.index(b"<requestId>")])
        self.fault(kind="truncated")
        with self.assertRaises(Exception) as cm:
            self.client().describe_instances()
        self.assertIn("Parser", type(cm.exception).__name__)

    def test_imds_faults(self):
        token = self.token()

        def get(path="meta-data/instance-id", iid=I1, timeout=10):
            return self.imds("GET", "/latest/" + path, {"X-aws-ec2-metadata-token": token}, iid, timeout)

        self.fault(service="imds", kind="down", instance=I1)
        with self.assertRaises((ConnectionError, http.client.HTTPException, OSError)):
            get()
        self.assertEqual(get(), (200, I1))
        self.fault(service="imds", kind="throttle")
        self.assertEqual(get()[0], 429)
        self.fault(service="imds", kind="error")
        self.assertEqual(get()[0], 500)
        self.fault(service="imds", kind="error", status=503)
        self.assertEqual(get()[0], 503)
        self.fault(service="imds", kind="drop", path="/latest/meta-data/iam/")
        self.assertEqual(get(), (200, I1))  # path does not match
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            get("meta-data/iam/security-credentials/")
        self.fault(service="imds", kind="error", instance=I2)
        self.assertEqual(get(), (200, I1))
        self.assertEqual(get(iid=I2)[0], 500)
        self.fault(service="imds", kind="latency", latency_ms=300)
        start = time.monotonic()
        self.assertEqual(get(), (200, I1))
        self.assertGreaterEqual(time.monotonic() - start, 0.3)
        self.fault(service="imds", kind="timeout", latency_ms=1000)
        with self.assertRaises(OSError):  # socket.timeout
            get(timeout=0.3)
        self.fault(service="imds", kind="malformed", path="/latest/meta-data/iam/security-credentials/")
        status, body = get("meta-data/iam/security-credentials/cdpd-test-role")
        self.assertEqual(status, 200)
        with self.assertRaises(ValueError):
            json.loads(body)
        self.fault(service="imds", kind="truncated")
        status, body = get("meta-data/iam/security-credentials/cdpd-test-role")
        with self.assertRaises(ValueError):
            json.loads(body)
        self.fault(service="imds", kind="token_expire", instance=I1)
        self.assertEqual(get()[0], 401)
        kinds = [c.get("fault") for c in self.calls(service="imds")]
        for kind in ("down", "throttle", "error", "drop", "latency", "timeout", "malformed", "truncated"):
            self.assertIn(kind, kinds)

    def test_creds_expire_via_ec2_service_and_all_instances(self):
        c1 = json.loads(self.md("meta-data/iam/security-credentials/cdpd-test-role")[1])
        c2 = json.loads(self.md("meta-data/iam/security-credentials/cdpd-test-role", iid=I2)[1])
        out = self.fault(service="ec2", kind="creds_expire")
        self.assertEqual(sorted(out["instances"]), sorted([I1, I2]))
        for c in (c1, c2):
            self.assert_client_error(self.client(key=c["AccessKeyId"], secret=c["SecretAccessKey"],
                                                 token=c["Token"]).describe_tags, "RequestExpired", 400)


class TestLifecycle(unittest.TestCase):
    def test_startup_and_signals(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            sim = SimProcess()
            try:
                self.assertLess(sim.startup_seconds, 1.5)
                self.assertEqual(sim.info["pid"], sim.proc.pid)
                self.assertEqual(sorted(sim.info["imds"]), [I2, I1][::-1] if I1 < I2 else [I2, I1])
                self.assertNotEqual(sim.imds_port(I1), sim.imds_port(I2))
                sim.proc.send_signal(sig)
                self.assertEqual(sim.proc.wait(5), 0)
                self.assertFalse(os.path.exists(sim.ready))
            finally:
                sim.stop()

    def test_fixed_imds_port_and_shutdown(self):
        scenario = copy.deepcopy(load_basic())
        probe = SimProcess()  # borrow a free port number from a first run
        port = probe.imds_port(I2)
        probe.stop()
        scenario["regions"]["us-east-1"]["instances"][I2]["imds_port"] = port
        sim = SimProcess(scenario)
        try:
            self.assertEqual(sim.imds_port(I2), port)
            self.assertEqual(sim.control("POST", "/_sim/shutdown"), (200, {"shutdown": True}))
            self.assertEqual(sim.proc.wait(5), 0)
        finally:
            sim.stop()


if __name__ == "__main__":
    unittest.main()
