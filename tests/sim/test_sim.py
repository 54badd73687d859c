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

    def test_new_action_answers_parse_with_botocore(self):
        """Every action added for the snapshot, HA and bastion patterns, through the model serializer."""
        rtb = "rtb-0aaa1111bbbb22223"
        snaps = self.round_trip("CreateSnapshots", {
            "InstanceSpecification": {"InstanceId": I1}, "CopyTagsFromSource": "volume", "Description": "d",
            "TagSpecifications": [{"ResourceType": "snapshot", "Tags": [{"Key": "k", "Value": "v"}]}]})["Snapshots"]
        self.assertEqual(len(snaps), 2)
        one = self.round_trip("CreateSnapshot", {"VolumeId": "vol-0000000000000000a"})
        self.assertEqual(one["State"], "pending")
        self.round_trip("DescribeVolumes", {"MaxResults": 5})
        self.round_trip("DescribeSnapshots", {"OwnerIds": ["self"], "MaxResults": 5})
        self.round_trip("DeleteSnapshot", {"SnapshotId": one["SnapshotId"]})
        ami = self.round_trip("CreateImage", {"InstanceId": I1, "Name": "proto-image", "NoReboot": True})["ImageId"]
        self.round_trip("DescribeImages", {"ImageIds": [ami]})
        self.state.force_state("snapshot", "us-east-1", snaps[0]["SnapshotId"], "completed")
        self.round_trip("CopySnapshot", {"SourceRegion": "us-east-1", "SourceSnapshotId": snaps[0]["SnapshotId"]})
        self.state.force_state("image", "us-east-1", ami, "available")
        self.round_trip("CopyImage", {"SourceRegion": "us-east-1", "SourceImageId": ami, "Name": "proto-copy"})
        self.round_trip("DeregisterImage", {"ImageId": ami})
        self.round_trip("DescribeRouteTables", {"MaxResults": 5})
        self.round_trip("ReplaceRoute", {"RouteTableId": rtb, "DestinationCidrBlock": "192.168.100.10/32",
                                         "NetworkInterfaceId": ENI1})
        self.round_trip("CreateRoute", {"RouteTableId": rtb, "DestinationCidrBlock": "192.168.200.0/24",
                                        "NetworkInterfaceId": ENI1})
        self.round_trip("ModifyNetworkInterfaceAttribute", {"NetworkInterfaceId": ENI1,
                                                            "SourceDestCheck": {"Value": False}})
        self.round_trip("DescribeAddresses", {})
        self.round_trip("AssociateAddress", {"AllocationId": "eipalloc-0def4567890abc123", "InstanceId": I1})
        eni = self.round_trip("DescribeNetworkInterfaces", {"NetworkInterfaceIds": [ENI1]})["NetworkInterfaces"][0]
        self.assertEqual(eni["Association"]["AllocationId"], "eipalloc-0def4567890abc123")
        inst = self.round_trip("DescribeInstances", {"InstanceIds": [I1]})["Reservations"][0]["Instances"][0]
        self.assertEqual(inst["PublicIpAddress"], "203.0.113.20")
        self.round_trip("DisassociateAddress", {"AssociationId": eni["Association"]["AssociationId"]})
        body = self.round_trip("AssignPrivateIpAddresses", {"NetworkInterfaceId": ENI1,
                                                            "PrivateIpAddresses": ["10.0.1.100"],
                                                            "AllowReassignment": True})
        self.assertEqual(body["AssignedPrivateIpAddresses"], [{"PrivateIpAddress": "10.0.1.100"}])
        self.round_trip("UnassignPrivateIpAddresses", {"NetworkInterfaceId": ENI1,
                                                       "PrivateIpAddresses": ["10.0.1.100"]})
        self.round_trip("DescribeSecurityGroupRules", {"MaxResults": 5})
        self.round_trip("RevokeSecurityGroupIngress", {"GroupId": "sg-0aaaa1111bbbb2222",
                                                       "SecurityGroupRuleIds": ["sgr-0aaa1111bbbb22223"]})
        self.round_trip("StopInstances", {"InstanceIds": [I2]})
        self.round_trip("TerminateInstances", {"InstanceIds": [I1]})
        covered = {"DescribeTags", "DescribeInstances", "DescribeNetworkInterfaces", "CreateTags", "DeleteTags",
                   "CreateSnapshots", "CreateSnapshot", "DescribeVolumes", "DescribeSnapshots", "DeleteSnapshot",
                   "CreateImage", "DescribeImages", "CopySnapshot", "CopyImage", "DeregisterImage",
                   "DescribeRouteTables", "ReplaceRoute", "CreateRoute", "ModifyNetworkInterfaceAttribute",
                   "DescribeAddresses", "AssociateAddress", "DisassociateAddress", "AssignPrivateIpAddresses",
                   "UnassignPrivateIpAddresses", "DescribeSecurityGroupRules", "RevokeSecurityGroupIngress",
                   "StopInstances", "TerminateInstances"}
        self.assertEqual(covered, set(ec2actions.ACTIONS))

    def test_assign_answer_carries_return_true(self):
        op = MODEL.operation_model("AssignPrivateIpAddresses")
        body = ec2proto.serialize_response(op, {"NetworkInterfaceId": ENI1}, "r")
        self.assertIn(b"<requestId>r</requestId><return>true</return><networkInterfaceId>", body)

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
            ("CreateImage", {"InstanceId": I1, "Name": "n", "NoReboot": True,
                             "BlockDeviceMappings": [{"DeviceName": "/dev/xvdf", "NoDevice": ""}],
                             "TagSpecifications": [{"ResourceType": "image", "Tags": [{"Key": "a", "Value": "b"}]},
                                                   {"ResourceType": "snapshot", "Tags": [{"Key": "c", "Value": "d"}]}]}),
            ("CopySnapshot", {"SourceRegion": "us-east-1", "SourceSnapshotId": "snap-0aaa0000000000001",
                              "Description": "x", "DestinationRegion": "us-west-2"}),
            ("CopyImage", {"SourceRegion": "us-east-1", "SourceImageId": "ami-0aaa0000000000001", "Name": "n",
                           "CopyImageTags": True, "ClientToken": "tok"}),
            ("DescribeSnapshots", {"OwnerIds": ["self"], "SnapshotIds": ["snap-0aaa0000000000001"],
                                   "Filters": [{"Name": "tag:cdp:instance-id", "Values": [I1]}]}),
            ("ModifyNetworkInterfaceAttribute", {"NetworkInterfaceId": ENI1, "SourceDestCheck": {"Value": False}}),
            ("AssociateAddress", {"AllocationId": "eipalloc-0abc123def4567890", "NetworkInterfaceId": ENI1,
                                  "PrivateIpAddress": "10.0.1.10", "AllowReassociation": True}),
            ("RevokeSecurityGroupIngress", {"GroupId": "sg-0aaaa1111bbbb2222",
                                            "SecurityGroupRuleIds": ["sgr-0aaa1111bbbb22223"]}),
            ("StopInstances", {"InstanceIds": [I1, I2], "Force": True}),
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


# ---------------------------------------------------------------------------
# snapshot pattern: volumes, snapshots, images

RTB_A = "rtb-0aaa1111bbbb22223"
RTB_B = "rtb-0ccc3333dddd44445"
VIP = "192.168.100.10/32"
EIP = "eipalloc-0abc123def4567890"
SPARE_EIP = "eipalloc-0def4567890abc123"
SG = "sg-0aaaa1111bbbb2222"
SGR_SSH = "sgr-0aaa1111bbbb22223"
SGR_ADMIN = "sgr-0ccc3333dddd44445"
SGR_EGRESS = "sgr-0eee5555ffff66667"
VOL_ROOT, VOL_DATA, VOL_WEB2 = "vol-0000000000000000a", "vol-0000000000000000b", "vol-0000000000000000c"
GOLDEN_AMI, GOLDEN_SNAP = "ami-0aaa0000000000001", "snap-0aaa0000000000001"


def wait_for(check, timeout=5.0, interval=0.02):
    """Poll check() until it returns a true value (verify, don't sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def tagdict(tags):
    return {t["Key"]: t["Value"] for t in tags or []}


class TestSnapshots(SimCase):
    def snaps(self, ec2=None, **kw):
        return (ec2 or self.client()).describe_snapshots(**kw)["Snapshots"]

    def test_describe_volumes(self):
        ec2 = self.client()
        vols = ec2.describe_volumes(VolumeIds=[VOL_ROOT])["Volumes"]
        self.assertEqual(len(vols), 1)
        self.assertEqual((vols[0]["Size"], vols[0]["VolumeType"], vols[0]["State"]), (8, "gp3", "in-use"))
        att = vols[0]["Attachments"]
        self.assertEqual([(a["InstanceId"], a["Device"], a["State"], a["DeleteOnTermination"]) for a in att],
                         [(I1, "/dev/xvda", "attached", True)])
        ids = lambda **kw: [v["VolumeId"] for v in ec2.describe_volumes(**kw)["Volumes"]]  # noqa: E731
        self.assertEqual(ids(Filters=[{"Name": "attachment.instance-id", "Values": [I1]}]), [VOL_ROOT, VOL_DATA])
        self.assertEqual(ids(Filters=[{"Name": "attachment.instance-id", "Values": [I1]},
                                      {"Name": "attachment.device", "Values": ["/dev/xvdf"]}]), [VOL_DATA])
        self.assertEqual(ids(Filters=[{"Name": "volume-id", "Values": [VOL_WEB2]}]), [VOL_WEB2])
        self.assertEqual(ids(Filters=[{"Name": "tag:Name", "Values": ["web-1-*"]}]), [VOL_ROOT, VOL_DATA])
        self.assertEqual(ids(Filters=[{"Name": "tag-key", "Values": ["Name"]}]), [VOL_ROOT, VOL_DATA])
        data = ec2.describe_volumes(VolumeIds=[VOL_DATA])["Volumes"][0]["Attachments"][0]
        self.assertIs(data["DeleteOnTermination"], False)
        pages = list(ec2.get_paginator("describe_volumes").paginate(PaginationConfig={"PageSize": 5}))
        self.assertEqual([v["VolumeId"] for p in pages for v in p["Volumes"]], [VOL_ROOT, VOL_DATA, VOL_WEB2])
        self.assertEqual(ids(MaxResults=5000), [VOL_ROOT, VOL_DATA, VOL_WEB2])  # above 500: cut to 500
        self.assertEqual([v["VolumeId"] for v in self.client("us-west-2").describe_volumes()["Volumes"]],
                         ["vol-0000000000000000d"])
        self.assert_client_error(lambda: ec2.describe_volumes(VolumeIds=["vol-0000000000000dead"]),
                                 "InvalidVolume.NotFound", 400)
        self.assert_client_error(lambda: ec2.describe_volumes(VolumeIds=[VOL_ROOT], MaxResults=5),
                                 "InvalidParameterCombination")
        self.assert_client_error(lambda: ec2.describe_volumes(Filters=[{"Name": "bogus", "Values": ["x"]}]),
                                 "InvalidParameterValue")

    def test_create_snapshots_crash_consistent_set(self):
        ec2 = self.client()
        out = ec2.create_snapshots(
            InstanceSpecification={"InstanceId": I1}, Description="nightly", CopyTagsFromSource="volume",
            TagSpecifications=[{"ResourceType": "snapshot", "Tags": [
                {"Key": "cdp:managed-by", "Value": "cdpd"}, {"Key": "cdp:test", "Value": "set-1"}]}])["Snapshots"]
        self.assertEqual([s["VolumeId"] for s in out], [VOL_ROOT, VOL_DATA])
        self.assertEqual(len({s["StartTime"] for s in out}), 1)  # one start time for the whole set
        for s, size, name in zip(out, (8, 100), ("web-1-root", "web-1-data")):
            self.assertEqual((s["State"], s["VolumeSize"], s["OwnerId"], s["Description"]),
                             ("pending", size, "123456789012", "nightly"))
            self.assertTrue(s["SnapshotId"].startswith("snap-"))
            self.assertTrue(s["Progress"].endswith("%"))
            self.assertEqual(tagdict(s["Tags"]), {"Name": name, "cdp:managed-by": "cdpd", "cdp:test": "set-1"})
        # tags are there from the start, and the server filters on them
        mine = self.snaps(Filters=[{"Name": "tag:cdp:test", "Values": ["set-1"]}])
        self.assertEqual(sorted(s["SnapshotId"] for s in mine), sorted(s["SnapshotId"] for s in out))
        # the set completes by itself after snapshot_completion_s (0.2 s), read lazily
        done = wait_for(lambda: all(s["State"] == "completed" for s in
                                    self.snaps(SnapshotIds=[x["SnapshotId"] for x in out])))
        self.assertTrue(done)
        self.assertEqual({s["Progress"] for s in self.snaps(SnapshotIds=[x["SnapshotId"] for x in out])},
                         {"100%"})
        data_only = ec2.create_snapshots(InstanceSpecification={"InstanceId": I1, "ExcludeBootVolume": True})
        self.assertEqual([s["VolumeId"] for s in data_only["Snapshots"]], [VOL_DATA])
        self.assertEqual(data_only["Snapshots"][0].get("Tags", []), [])
        root_only = ec2.create_snapshots(InstanceSpecification={"InstanceId": I1,
                                                                "ExcludeDataVolumeIds": [VOL_DATA]})
        self.assertEqual([s["VolumeId"] for s in root_only["Snapshots"]], [VOL_ROOT])
        self.assert_client_error(lambda: ec2.create_snapshots(
            InstanceSpecification={"InstanceId": I1, "ExcludeBootVolume": True, "ExcludeDataVolumeIds": [VOL_DATA]}),
            "InvalidParameterValue")
        self.assert_client_error(lambda: ec2.create_snapshots(
            InstanceSpecification={"InstanceId": I1},
            TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "a", "Value": "b"}]}]),
            "InvalidParameterValue")
        self.assert_client_error(lambda: ec2.create_snapshots(InstanceSpecification={"InstanceId": "i-00000000000000042"}),
                                 "InvalidInstanceID.NotFound")
        self.assert_raw_error({"Action": "CreateSnapshots", "Description": "x"}, 400, "MissingParameter",
                              "The request must contain the parameter InstanceSpecification")

    def test_create_snapshot(self):
        ec2 = self.client()
        snap = ec2.create_snapshot(VolumeId=VOL_WEB2, Description="one", TagSpecifications=[
            {"ResourceType": "snapshot", "Tags": [{"Key": "cdp:test", "Value": "single"}]}])
        self.assertEqual((snap["State"], snap["VolumeId"], snap["VolumeSize"], snap["Description"]),
                         ("pending", VOL_WEB2, 8, "one"))
        self.assertEqual(tagdict(snap["Tags"]), {"cdp:test": "single"})
        waiter = ec2.get_waiter("snapshot_completed")  # botocore's own waiter polls DescribeSnapshots
        waiter.wait(SnapshotIds=[snap["SnapshotId"]], WaiterConfig={"Delay": 0.05, "MaxAttempts": 100})
        self.assert_client_error(lambda: ec2.create_snapshot(VolumeId="vol-0000000000000dead"),
                                 "InvalidVolume.NotFound")

    def test_describe_snapshots_filters_owner_pagination(self):
        ec2 = self.client()
        ids = lambda **kw: sorted(s["SnapshotId"] for s in self.snaps(ec2, **kw))  # noqa: E731
        # what cdpd asks: only its own, only this instance's, filtered by the server
        mine = ids(OwnerIds=["self"], Filters=[{"Name": "tag:cdp:managed-by", "Values": ["cdpd"]},
                                               {"Name": "tag:cdp:instance-id", "Values": [I2]}])
        self.assertEqual(mine, ["snap-0bbb0000000000001", "snap-0bbb0000000000002"])
        self.assertEqual(ids(Filters=[{"Name": "tag:cdp:managed-by", "Values": ["cdpd"]},
                                      {"Name": "tag:cdp:instance-id", "Values": [I1]}]), [])
        self.assertIn("snap-0aaa0000000000002", ids(Filters=[{"Name": "tag-key", "Values": ["cdp:instance-id"]}]))
        self.assertEqual(ids(Filters=[{"Name": "volume-id", "Values": [VOL_DATA]},
                                      {"Name": "status", "Values": ["completed"]},
                                      {"Name": "snapshot-id", "Values": ["snap-0aaa*"]}]),
                         ["snap-0aaa0000000000002"])
        self.assertEqual(ids(OwnerIds=["123456789012"], SnapshotIds=[GOLDEN_SNAP]), [GOLDEN_SNAP])
        self.assertEqual(ids(OwnerIds=["amazon"]), [])
        self.assertEqual(ids(OwnerIds=["210987654321"]), [])
        # pagination: MaxResults 5..1000; without MaxResults everything at once
        everything = ids()
        self.assertGreaterEqual(len(everything), 5)
        pages = list(ec2.get_paginator("describe_snapshots").paginate(PaginationConfig={"PageSize": 5}))
        self.assertTrue(all(len(p["Snapshots"]) <= 5 for p in pages))
        self.assertEqual(sorted(s["SnapshotId"] for p in pages for s in p["Snapshots"]), everything)
        first = ec2.describe_snapshots(MaxResults=5)
        self.assertEqual(len(first["Snapshots"]), 5)
        self.assertNotIn("NextToken", ec2.describe_snapshots(MaxResults=1001))  # above 1000: cut to 1000
        self.assert_client_error(lambda: ec2.describe_snapshots(MaxResults=4), "InvalidParameterValue", 400)
        self.assert_client_error(lambda: ec2.describe_snapshots(MaxResults=5, SnapshotIds=[GOLDEN_SNAP]),
                                 "InvalidParameterCombination")
        self.assert_client_error(lambda: ec2.describe_snapshots(SnapshotIds=["snap-0000000000000dead"]),
                                 "InvalidSnapshot.NotFound")
        self.assert_client_error(lambda: ec2.describe_snapshots(SnapshotIds=["snap-x"]), "InvalidSnapshot.Malformed")
        self.assert_client_error(lambda: ec2.describe_snapshots(OwnerIds=["somebody"]), "InvalidUserID.Malformed")
        if "NextToken" in first:
            self.assert_client_error(lambda: ec2.describe_snapshots(
                MaxResults=5, NextToken=first["NextToken"],
                Filters=[{"Name": "status", "Values": ["completed"]}]), "InvalidParameterValue")

    def test_pagination_survives_deletes_between_pages(self):
        ec2 = self.client()
        self.sim.control("POST", "/_sim/seed_snapshots", {"region": "us-east-1", "count": 12, "managed": False,
                                                          "tags": {"cdp:test": "paging"}})
        flt = [{"Name": "tag:cdp:test", "Values": ["paging"]}]
        seen = []
        page = ec2.describe_snapshots(Filters=flt, MaxResults=5)
        while True:
            got = [s["SnapshotId"] for s in page["Snapshots"]]
            seen += got
            for sid in got:  # prune while paging, as cdpd may
                ec2.delete_snapshot(SnapshotId=sid)
            if "NextToken" not in page:
                break
            page = ec2.describe_snapshots(Filters=flt, MaxResults=5, NextToken=page["NextToken"])
        self.assertEqual(len(seen), 12)
        self.assertEqual(ec2.describe_snapshots(Filters=flt)["Snapshots"], [])

    def test_delete_snapshot(self):
        ec2 = self.client()
        sid = ec2.create_snapshot(VolumeId=VOL_ROOT)["SnapshotId"]
        ec2.delete_snapshot(SnapshotId=sid)
        self.assert_client_error(lambda: ec2.describe_snapshots(SnapshotIds=[sid]), "InvalidSnapshot.NotFound")
        err = self.assert_client_error(lambda: ec2.delete_snapshot(SnapshotId=sid), "InvalidSnapshot.NotFound", 400)
        self.assertEqual(err.response["Error"]["Message"], f"The snapshot '{sid}' does not exist.")
        err = self.assert_client_error(lambda: ec2.delete_snapshot(SnapshotId=GOLDEN_SNAP),
                                       "InvalidSnapshot.InUse", 400)
        self.assertIn(GOLDEN_AMI, err.response["Error"]["Message"])
        self.assertEqual(len(self.snaps(SnapshotIds=[GOLDEN_SNAP])), 1)

    def test_copy_snapshot_to_the_signed_region(self):
        east, west = self.client("us-east-1"), self.client("us-west-2")
        src = east.create_snapshot(VolumeId=VOL_ROOT, TagSpecifications=[
            {"ResourceType": "snapshot", "Tags": [{"Key": "cdp:test", "Value": "copy-src"}]}])["SnapshotId"]
        # a pending snapshot cannot be copied yet
        self.assert_client_error(lambda: west.copy_snapshot(SourceRegion="us-east-1", SourceSnapshotId=src),
                                 "IncorrectState")
        self.assertTrue(wait_for(lambda: self.snaps(east, SnapshotIds=[src])[0]["State"] == "completed"))
        # botocore adds PresignedUrl and DestinationRegion itself, as for AWS
        out = west.copy_snapshot(SourceRegion="us-east-1", SourceSnapshotId=src, TagSpecifications=[
            {"ResourceType": "snapshot", "Tags": [{"Key": "cdp:test", "Value": "copy-dst"}]}])
        self.assertEqual(tagdict(out["Tags"]), {"cdp:test": "copy-dst"})
        params = self.calls(action="CopySnapshot")[-1]["params"]
        self.assertEqual(params["DestinationRegion"], "us-west-2")
        self.assertIn("PresignedUrl", params)
        copy = self.snaps(west, SnapshotIds=[out["SnapshotId"]])[0]
        self.assertEqual((copy["State"], copy["VolumeSize"], copy["VolumeId"]), ("pending", 8, "vol-ffffffff"))
        self.assertEqual(copy["Description"], f"[Copied {src} from us-east-1]")
        self.assert_client_error(lambda: east.describe_snapshots(SnapshotIds=[out["SnapshotId"]]),
                                 "InvalidSnapshot.NotFound")
        self.assertEqual([s["SnapshotId"] for s in self.snaps(
            west, Filters=[{"Name": "tag:cdp:test", "Values": ["copy-dst"]}])], [out["SnapshotId"]])
        self.assert_client_error(lambda: west.copy_snapshot(SourceRegion="us-east-1",
                                                            SourceSnapshotId="snap-0000000000000dead"),
                                 "InvalidSnapshot.NotFound")
        self.assertEqual(self.calls(action="CopySnapshot")[-1]["region"], "us-west-2")

    def test_images(self):
        ec2 = self.client()
        ami = ec2.create_image(InstanceId=I1, Name="web-1-20260301T0300Z", NoReboot=True, Description="nightly",
                               TagSpecifications=[
                                   {"ResourceType": "image", "Tags": [{"Key": "cdp:managed-by", "Value": "cdpd"}]},
                                   {"ResourceType": "snapshot", "Tags": [{"Key": "cdp:ami-part", "Value": "yes"}]}]
                               )["ImageId"]
        img = ec2.describe_images(ImageIds=[ami], Owners=["self"])["Images"][0]
        self.assertEqual((img["State"], img["Name"], img["Description"], img["RootDeviceName"], img["OwnerId"]),
                         ("pending", "web-1-20260301T0300Z", "nightly", "/dev/xvda", "123456789012"))
        self.assertEqual(tagdict(img["Tags"]), {"cdp:managed-by": "cdpd"})
        bdm = {b["DeviceName"]: b["Ebs"] for b in img["BlockDeviceMappings"]}
        self.assertEqual(sorted(bdm), ["/dev/xvda", "/dev/xvdf"])
        backing = [b["SnapshotId"] for b in bdm.values()]
        snaps = self.snaps(SnapshotIds=backing)
        self.assertEqual({tagdict(s["Tags"])["cdp:ami-part"] for s in snaps}, {"yes"})
        self.assertTrue(all(s["Description"] == f"Created by CreateImage({I1}) for {ami}" for s in snaps))
        self.assertEqual(sorted(s["VolumeId"] for s in snaps), [VOL_ROOT, VOL_DATA])
        ec2.get_waiter("image_available").wait(ImageIds=[ami], WaiterConfig={"Delay": 0.05, "MaxAttempts": 100})
        names = lambda **kw: [i["Name"] for i in ec2.describe_images(**kw)["Images"]]  # noqa: E731
        self.assertEqual(names(Filters=[{"Name": "tag:cdp:managed-by", "Values": ["cdpd"]},
                                        {"Name": "state", "Values": ["available"]}]), ["web-1-20260301T0300Z"])
        self.assertEqual(names(Filters=[{"Name": "name", "Values": ["golden-*"]}]), ["golden-web-2026-01"])
        self.assertEqual(names(Filters=[{"Name": "tag-key", "Values": ["Name"]}]), ["golden-web-2026-01"])
        self.assertEqual(names(Owners=["amazon"]), [])
        err = self.assert_client_error(lambda: ec2.create_image(InstanceId=I2, Name="web-1-20260301T0300Z"),
                                       "InvalidAMIName.Duplicate")
        self.assertIn(ami, err.response["Error"]["Message"])
        self.assert_client_error(lambda: ec2.create_image(InstanceId=I2, Name="x"), "InvalidAMIName.Malformed")
        self.assert_client_error(lambda: ec2.create_image(InstanceId=I2, Name="web-2-img", TagSpecifications=[
            {"ResourceType": "volume", "Tags": [{"Key": "a", "Value": "b"}]}]), "InvalidParameterValue")
        # a backing snapshot cannot go while the image is registered
        self.assert_client_error(lambda: ec2.delete_snapshot(SnapshotId=backing[0]), "InvalidSnapshot.InUse")
        ec2.deregister_image(ImageId=ami)
        self.assertEqual(ec2.describe_images(Filters=[{"Name": "image-id", "Values": [ami]}])["Images"], [])
        self.assert_client_error(lambda: ec2.describe_images(ImageIds=[ami]), "InvalidAMIID.NotFound")
        self.assertEqual(len(self.snaps(SnapshotIds=backing)), 2)  # deregistering keeps the snapshots
        for sid in backing:
            ec2.delete_snapshot(SnapshotId=sid)
        self.assert_client_error(lambda: ec2.deregister_image(ImageId=ami), "InvalidAMIID.NotFound")
        # NoDevice leaves a device out
        ami2 = ec2.create_image(InstanceId=I1, Name="web-1-root-only", NoReboot=True,
                                BlockDeviceMappings=[{"DeviceName": "/dev/xvdf", "NoDevice": ""}])["ImageId"]
        self.assertEqual([b["DeviceName"] for b in ec2.describe_images(ImageIds=[ami2])["Images"][0]
                          ["BlockDeviceMappings"]], ["/dev/xvda"])

    def test_copy_image(self):
        east, west = self.client("us-east-1"), self.client("us-west-2")
        ami = east.create_image(InstanceId=I2, Name="web-2-copy-src", NoReboot=True, TagSpecifications=[
            {"ResourceType": "image", "Tags": [{"Key": "cdp:test", "Value": "copy"}]}])["ImageId"]
        self.assert_client_error(lambda: west.copy_image(SourceRegion="us-east-1", SourceImageId=ami,
                                                         Name="web-2-copy"), "IncorrectState")
        east.get_waiter("image_available").wait(ImageIds=[ami], WaiterConfig={"Delay": 0.05, "MaxAttempts": 100})
        out = west.copy_image(SourceRegion="us-east-1", SourceImageId=ami, Name="web-2-copy",
                              Description="copied", CopyImageTags=True, ClientToken="tok-1")
        again = west.copy_image(SourceRegion="us-east-1", SourceImageId=ami, Name="web-2-copy",
                                Description="copied", CopyImageTags=True, ClientToken="tok-1")
        self.assertEqual(again["ImageId"], out["ImageId"])  # idempotent by ClientToken
        self.assert_client_error(lambda: west.copy_image(SourceRegion="us-east-1", SourceImageId=ami,
                                                         Name="other", ClientToken="tok-1"),
                                 "IdempotentParameterMismatch")
        img = west.describe_images(ImageIds=[out["ImageId"]])["Images"][0]
        self.assertEqual((img["Name"], img["Description"], img["State"]), ("web-2-copy", "copied", "pending"))
        self.assertEqual(tagdict(img["Tags"]), {"cdp:test": "copy"})
        copied = img["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
        snap = west.describe_snapshots(SnapshotIds=[copied])["Snapshots"][0]
        self.assertIn(f"from SourceAmi {ami}", snap["Description"])
        self.assert_client_error(lambda: east.describe_images(ImageIds=[out["ImageId"]]), "InvalidAMIID.NotFound")
        without_tags = west.copy_image(SourceRegion="us-east-1", SourceImageId=ami, Name="web-2-copy-2")
        self.assertEqual(west.describe_images(ImageIds=[without_tags["ImageId"]])["Images"][0].get("Tags", []), [])
        self.assert_client_error(lambda: west.copy_image(SourceRegion="us-east-1", SourceImageId=ami,
                                                         Name="web-2-copy"), "InvalidAMIName.Duplicate")
        self.assert_client_error(lambda: west.copy_image(SourceRegion="us-east-1",
                                                         SourceImageId="ami-0000000000000dead", Name="zz-z"),
                                 "InvalidAMIID.NotFound")

    def test_forced_states_and_seeding(self):
        ec2 = self.client()
        a = ec2.create_snapshot(VolumeId=VOL_ROOT)["SnapshotId"]
        b = ec2.create_snapshot(VolumeId=VOL_DATA)["SnapshotId"]
        status, out = self.sim.control("POST", "/_sim/snapshot_state",
                                       {"region": "us-east-1", "snapshot_id": a, "state": "error"})
        self.assertEqual((status, out["state"]), (200, "error"))
        self.sim.control("POST", "/_sim/snapshot_state", {"region": "us-east-1", "snapshot_id": b, "state": "pending"})
        time.sleep(0.3)  # longer than snapshot_completion_s: the forced states must not move on
        got = {s["SnapshotId"]: s for s in self.snaps(SnapshotIds=[a, b])}
        self.assertEqual((got[a]["State"], got[b]["State"]), ("error", "pending"))
        self.assertTrue(got[a].get("StateMessage"))
        self.assertEqual(self.snaps(Filters=[{"Name": "status", "Values": ["error"]}])[0]["SnapshotId"], a)
        self.sim.control("POST", "/_sim/snapshot_state", {"region": "us-east-1", "snapshot_id": b,
                                                          "state": "completed"})
        self.assertEqual(self.snaps(SnapshotIds=[b])[0]["Progress"], "100%")
        self.assertEqual(self.sim.control("POST", "/_sim/snapshot_state", {
            "region": "us-east-1", "snapshot_id": "snap-0000000000000dead", "state": "error"})[0], 404)
        self.assertEqual(self.sim.control("POST", "/_sim/snapshot_state", {
            "region": "us-east-1", "snapshot_id": a, "state": "broken"})[0], 400)
        ami = ec2.create_image(InstanceId=I2, Name="web-2-stuck", NoReboot=True)["ImageId"]
        status, out = self.sim.control("POST", "/_sim/image_state",
                                       {"region": "us-east-1", "image_id": ami, "state": "pending"})
        self.assertEqual((status, out["state"]), (200, "pending"))
        time.sleep(0.3)
        self.assertEqual(ec2.describe_images(ImageIds=[ami])["Images"][0]["State"], "pending")
        self.sim.control("POST", "/_sim/image_state", {"region": "us-east-1", "image_id": ami, "state": "failed"})
        img = ec2.describe_images(ImageIds=[ami])["Images"][0]
        self.assertEqual((img["State"], img["StateReason"]["Code"]), ("failed", "Client.Error"))
        # seeding: cdpd's own tags per SPEC section 5
        status, out = self.sim.control("POST", "/_sim/seed_snapshots", {
            "region": "us-east-1", "count": 3, "volume_id": VOL_DATA, "instance_id": I1, "device": "/dev/xvdf",
            "tags": {"extra": "1"}, "start": "2026-02-01T00:00:00Z", "step_s": 86400, "state": "completed"})
        self.assertEqual((status, out["created"], len(out["snapshot_ids"])), (200, 3, 3))
        seeded = sorted(self.snaps(SnapshotIds=out["snapshot_ids"]), key=lambda s: s["StartTime"])
        self.assertEqual(tagdict(seeded[1]["Tags"]), {
            "Name": "web-1-20260202T0000Z", "cdp:managed-by": "cdpd", "cdp:instance-id": I1,
            "cdp:slot": "2026-02-02T00:00:00Z", "cdp:volume-id": VOL_DATA, "cdp:device": "/dev/xvdf",
            "extra": "1"})
        self.assertEqual([s["StartTime"].day for s in seeded], [1, 2, 3])
        self.assertEqual({(s["State"], s["VolumeId"], s["VolumeSize"]) for s in seeded},
                         {("completed", VOL_DATA, 100)})
        for sid in out["snapshot_ids"]:
            ec2.delete_snapshot(SnapshotId=sid)


class TestSnapshotScale(SimCase):
    def test_seed_10000_and_page_by_1000(self):
        start = time.monotonic()
        status, out = self.sim.control("POST", "/_sim/seed_snapshots", {
            "region": "us-east-1", "count": 10000, "volume_id": VOL_ROOT, "instance_id": I1,
            "device": "/dev/xvda", "start": "2025-01-01T00:00:00Z", "step_s": 3600})
        seeded = time.monotonic() - start
        self.assertEqual((status, out["created"]), (200, 10000))
        ec2 = self.client()
        start = time.monotonic()
        pages = list(ec2.get_paginator("describe_snapshots").paginate(
            OwnerIds=["self"], Filters=[{"Name": "tag:cdp:managed-by", "Values": ["cdpd"]},
                                        {"Name": "tag:cdp:instance-id", "Values": [I1]}],
            PaginationConfig={"PageSize": 1000}))
        paged = time.monotonic() - start
        self.assertEqual([len(p["Snapshots"]) for p in pages], [1000] * 10)
        ids = [s["SnapshotId"] for p in pages for s in p["Snapshots"]]
        self.assertEqual(len(set(ids)), 10000)
        self.assertEqual([c["params"].get("MaxResults") for c in self.calls(action="DescribeSnapshots")],
                         ["1000"] * 10)
        print(f"\n  seed 10,000 snapshots: {seeded:.2f} s; 10 pages of 1,000: {paged:.2f} s", file=sys.stderr)
        self.assertLess(seeded, 5)
        self.assertLess(paged, 10)


# ---------------------------------------------------------------------------
# HA pattern: routes, Elastic IPs, secondary private IPs (a fresh simulator per test)

class FreshSimCase(SimCase):
    """The scenario's state afresh for every test (POST /_sim/reset): these tests move routes,
    addresses and instance states around."""

    def setUp(self):
        self.assertEqual(self.sim.control("POST", "/_sim/reset")[0], 200)
        super().setUp()


class TestRoutes(FreshSimCase):
    def routes(self, ec2, rtb):
        table = ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]
        return {r["DestinationCidrBlock"]: r for r in table["Routes"]}

    def test_describe_route_tables(self):
        ec2 = self.client()
        tables = ec2.describe_route_tables()["RouteTables"]
        self.assertEqual([t["RouteTableId"] for t in tables], [RTB_A, RTB_B])
        a = tables[0]
        self.assertEqual((a["VpcId"], a["OwnerId"]), ("vpc-0aaaa1111bbbb2222", "123456789012"))
        self.assertEqual([(x["SubnetId"], x["Main"], x["AssociationState"]["State"]) for x in a["Associations"]],
                         [("subnet-0aaaa1111bbbb2222", False, "associated")])
        routes = {r["DestinationCidrBlock"]: r for r in a["Routes"]}
        self.assertEqual((routes["10.0.0.0/16"]["GatewayId"], routes["10.0.0.0/16"]["Origin"]),
                         ("local", "CreateRouteTable"))
        vip = routes[VIP]
        self.assertEqual((vip["NetworkInterfaceId"], vip["InstanceId"], vip["State"], vip["Origin"]),
                         (ENI2, I2, "active", "CreateRoute"))
        ids = lambda **kw: [t["RouteTableId"] for t in ec2.describe_route_tables(**kw)["RouteTables"]]  # noqa
        self.assertEqual(ids(Filters=[{"Name": "route-table-id", "Values": [RTB_B]}]), [RTB_B])
        self.assertEqual(ids(Filters=[{"Name": "vpc-id", "Values": ["vpc-0aaaa1111bbbb2222"]},
                                      {"Name": "route.destination-cidr-block", "Values": [VIP]}]), [RTB_A, RTB_B])
        self.assertEqual(ids(Filters=[{"Name": "route.destination-cidr-block", "Values": ["10.9.9.9/32"]}]), [])
        self.assertEqual(ids(Filters=[{"Name": "association.subnet-id", "Values": ["subnet-0cccc3333dddd4444"]}]),
                         [RTB_B])
        pages = list(ec2.get_paginator("describe_route_tables").paginate(PaginationConfig={"PageSize": 5}))
        self.assertEqual([t["RouteTableId"] for p in pages for t in p["RouteTables"]], [RTB_A, RTB_B])
        self.assert_client_error(lambda: ec2.describe_route_tables(RouteTableIds=["rtb-0000000000000dead"]),
                                 "InvalidRouteTableID.NotFound", 400)
        self.assert_client_error(lambda: ec2.describe_route_tables(MaxResults=101), "InvalidParameterValue")

    def test_replace_route(self):
        ec2 = self.client()
        for rtb in (RTB_A, RTB_B):
            ec2.replace_route(RouteTableId=rtb, DestinationCidrBlock=VIP, NetworkInterfaceId=ENI1)
        for rtb in (RTB_A, RTB_B):
            vip = self.routes(ec2, rtb)[VIP]
            self.assertEqual((vip["NetworkInterfaceId"], vip["InstanceId"], vip["State"]), (ENI1, I1, "active"))
        status, body = self.raw({"Action": "ReplaceRoute", "RouteTableId": RTB_A, "DestinationCidrBlock": VIP,
                                 "NetworkInterfaceId": ENI2})
        self.assertEqual(status, 200)
        self.assertIn(b"<return>true</return>", body)
        ec2.replace_route(RouteTableId=RTB_A, DestinationCidrBlock=VIP, InstanceId=I1)
        self.assertEqual(self.routes(ec2, RTB_A)[VIP]["NetworkInterfaceId"], ENI1)
        err = self.assert_client_error(lambda: ec2.replace_route(
            RouteTableId=RTB_A, DestinationCidrBlock="192.168.100.99/32", NetworkInterfaceId=ENI1),
            "InvalidRoute.NotFound", 400)
        self.assertEqual(err.response["Error"]["Message"],
                         "There is no route defined for '192.168.100.99/32' in the route table. "
                         "Use CreateRoute instead.")
        err = self.assert_client_error(lambda: ec2.replace_route(
            RouteTableId="rtb-0000000000000dead", DestinationCidrBlock=VIP, NetworkInterfaceId=ENI1),
            "InvalidRouteTableID.NotFound")
        self.assertEqual(err.response["Error"]["Message"], "The routeTable ID 'rtb-0000000000000dead' does not exist")
        self.assert_client_error(lambda: ec2.replace_route(RouteTableId=RTB_A, DestinationCidrBlock=VIP,
                                                           NetworkInterfaceId="eni-0000000000000dead"),
                                 "InvalidNetworkInterfaceID.NotFound")
        self.assert_client_error(lambda: ec2.replace_route(RouteTableId=RTB_A, DestinationCidrBlock=VIP),
                                 "MissingParameter")
        self.assert_client_error(lambda: ec2.replace_route(RouteTableId=RTB_A, DestinationCidrBlock=VIP,
                                                           NetworkInterfaceId=ENI1, InstanceId=I1),
                                 "InvalidParameterCombination")
        self.assert_client_error(lambda: ec2.replace_route(RouteTableId=RTB_A, DestinationCidrBlock="10.1.2.3/8",
                                                           NetworkInterfaceId=ENI1), "InvalidParameterValue")
        self.assert_raw_error({"Action": "ReplaceRoute", "DestinationCidrBlock": VIP}, 400, "MissingParameter",
                              "The request must contain the parameter RouteTableId")

    def test_create_route_and_blackhole(self):
        ec2 = self.client()
        out = ec2.create_route(RouteTableId=RTB_A, DestinationCidrBlock="192.168.100.20/32", NetworkInterfaceId=ENI1)
        self.assertTrue(out["Return"])
        route = self.routes(ec2, RTB_A)["192.168.100.20/32"]
        self.assertEqual((route["NetworkInterfaceId"], route["Origin"], route["State"]), (ENI1, "CreateRoute", "active"))
        err = self.assert_client_error(lambda: ec2.create_route(
            RouteTableId=RTB_A, DestinationCidrBlock=VIP, NetworkInterfaceId=ENI1), "RouteAlreadyExists", 400)
        self.assertEqual(err.response["Error"]["Message"], f"The route identified by {VIP} already exists.")
        self.assertEqual(self.routes(ec2, RTB_A)[VIP]["NetworkInterfaceId"], ENI2)  # untouched
        # a route to a stopped instance's interface is a blackhole
        ec2.stop_instances(InstanceIds=[I2])
        self.assertTrue(wait_for(lambda: self.routes(ec2, RTB_B)[VIP]["State"] == "blackhole"))
        self.assertEqual([t["RouteTableId"] for t in ec2.describe_route_tables(
            Filters=[{"Name": "route.state", "Values": ["blackhole"]}])["RouteTables"]], [RTB_A, RTB_B])

    def test_modify_network_interface_attribute(self):
        ec2 = self.client()
        ec2.modify_network_interface_attribute(NetworkInterfaceId=ENI1, SourceDestCheck={"Value": False})
        eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[ENI1])["NetworkInterfaces"][0]
        self.assertIs(eni["SourceDestCheck"], False)
        inst = ec2.describe_instances(InstanceIds=[I1])["Reservations"][0]["Instances"][0]
        self.assertIs(inst["SourceDestCheck"], False)
        self.assertEqual([e["NetworkInterfaceId"] for e in ec2.describe_network_interfaces(
            Filters=[{"Name": "source-dest-check", "Values": ["false"]}])["NetworkInterfaces"]], [ENI1])
        ec2.modify_network_interface_attribute(NetworkInterfaceId=ENI1, Description={"Value": "ha primary"})
        self.assertEqual(ec2.describe_network_interfaces(NetworkInterfaceIds=[ENI1])["NetworkInterfaces"][0]
                         ["Description"], "ha primary")
        self.assert_client_error(lambda: ec2.modify_network_interface_attribute(
            NetworkInterfaceId=ENI1, SourceDestCheck={"Value": True}, Description={"Value": "x"}),
            "InvalidParameterCombination")
        self.assert_client_error(lambda: ec2.modify_network_interface_attribute(
            NetworkInterfaceId="eni-0000000000000dead", SourceDestCheck={"Value": False}),
            "InvalidNetworkInterfaceID.NotFound")
        self.assert_client_error(lambda: ec2.modify_network_interface_attribute(NetworkInterfaceId=ENI1),
                                 "MissingParameter")


class TestAddresses(FreshSimCase):
    def address(self, ec2, alloc=EIP):
        return ec2.describe_addresses(AllocationIds=[alloc])["Addresses"][0]

    def test_describe_addresses(self):
        ec2 = self.client()
        addrs = ec2.describe_addresses()["Addresses"]
        self.assertEqual([a["AllocationId"] for a in addrs], [EIP, SPARE_EIP])
        a = addrs[0]
        self.assertEqual((a["PublicIp"], a["Domain"], a["AssociationId"], a["InstanceId"],
                          a["NetworkInterfaceId"], a["PrivateIpAddress"]),
                         ("203.0.113.10", "vpc", "eipassoc-0abc123def4567890", I2, ENI2, "10.0.2.10"))
        self.assertNotIn("AssociationId", addrs[1])
        ids = lambda f: [x["AllocationId"] for x in ec2.describe_addresses(Filters=f)["Addresses"]]  # noqa
        self.assertEqual(ids([{"Name": "instance-id", "Values": [I2]}]), [EIP])
        self.assertEqual(ids([{"Name": "network-interface-id", "Values": [ENI2]}]), [EIP])
        self.assertEqual(ids([{"Name": "association-id", "Values": ["eipassoc-0abc123def4567890"]}]), [EIP])
        self.assertEqual(ids([{"Name": "allocation-id", "Values": [SPARE_EIP]}]), [SPARE_EIP])
        self.assertEqual(ids([{"Name": "tag:Name", "Values": ["spare"]}]), [SPARE_EIP])
        self.assertEqual([x["AllocationId"] for x in ec2.describe_addresses(PublicIps=["203.0.113.20"])["Addresses"]],
                         [SPARE_EIP])
        self.assert_client_error(lambda: ec2.describe_addresses(AllocationIds=["eipalloc-0000000000000dead"]),
                                 "InvalidAllocationID.NotFound")
        self.assert_client_error(lambda: ec2.describe_addresses(PublicIps=["198.51.100.99"]),
                                 "InvalidAddress.NotFound")
        # web-2's interface and instance show the association
        eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[ENI2])["NetworkInterfaces"][0]
        self.assertEqual((eni["Association"]["PublicIp"], eni["Association"]["AllocationId"],
                          eni["Association"]["AssociationId"]),
                         ("203.0.113.10", EIP, "eipassoc-0abc123def4567890"))
        self.assertEqual([p["PrivateIpAddress"] for p in eni["PrivateIpAddresses"]], ["10.0.2.10", "10.0.1.100"])
        self.assertEqual([p["Primary"] for p in eni["PrivateIpAddresses"]], [True, False])
        inst = ec2.describe_instances(InstanceIds=[I2])["Reservations"][0]["Instances"][0]
        self.assertEqual(inst["PublicIpAddress"], "203.0.113.10")
        self.assertEqual(self.md("meta-data/public-ipv4", iid=I2), (200, "203.0.113.10"))

    def test_associate_address_moves_the_eip(self):
        ec2 = self.client()
        err = self.assert_client_error(lambda: ec2.associate_address(AllocationId=EIP, NetworkInterfaceId=ENI1),
                                       "Resource.AlreadyAssociated", 400)
        self.assertIn("eipassoc-0abc123def4567890", err.response["Error"]["Message"])
        self.assertEqual(self.address(ec2)["NetworkInterfaceId"], ENI2)  # refused: nothing moved
        first = ec2.associate_address(AllocationId=EIP, NetworkInterfaceId=ENI1, AllowReassociation=True)
        second = ec2.associate_address(AllocationId=EIP, NetworkInterfaceId=ENI1, AllowReassociation=True)
        self.assertTrue(first["AssociationId"].startswith("eipassoc-"))
        self.assertNotEqual(first["AssociationId"], second["AssociationId"])  # a new one each time
        a = self.address(ec2)
        self.assertEqual((a["NetworkInterfaceId"], a["InstanceId"], a["PrivateIpAddress"], a["AssociationId"]),
                         (ENI1, I1, "10.0.1.10", second["AssociationId"]))
        eni1 = ec2.describe_network_interfaces(NetworkInterfaceIds=[ENI1])["NetworkInterfaces"][0]
        self.assertEqual(eni1["Association"]["PublicIp"], "203.0.113.10")
        eni2 = ec2.describe_network_interfaces(NetworkInterfaceIds=[ENI2])["NetworkInterfaces"][0]
        self.assertNotIn("Association", eni2)
        self.assertEqual(self.md("meta-data/public-ipv4"), (200, "203.0.113.10"))
        self.assertEqual(self.md("meta-data/network/interfaces/macs/0e:00:00:00:00:01/ipv4-associations/"
                                 "203.0.113.10"), (200, "10.0.1.10"))
        self.assertEqual(self.md("meta-data/public-ipv4", iid=I2)[0], 404)
        # by instance id, onto a secondary address
        ec2.associate_address(AllocationId=SPARE_EIP, InstanceId=I2, PrivateIpAddress="10.0.1.100")
        spare = self.address(ec2, SPARE_EIP)
        self.assertEqual((spare["InstanceId"], spare["PrivateIpAddress"]), (I2, "10.0.1.100"))
        self.assert_client_error(lambda: ec2.associate_address(AllocationId=SPARE_EIP, NetworkInterfaceId=ENI1,
                                                               PrivateIpAddress="10.9.9.9", AllowReassociation=True),
                                 "InvalidParameterValue")
        self.assert_client_error(lambda: ec2.associate_address(AllocationId="eipalloc-0000000000000dead",
                                                               NetworkInterfaceId=ENI1),
                                 "InvalidAllocationID.NotFound")
        self.assert_client_error(lambda: ec2.associate_address(AllocationId=EIP), "MissingParameter")
        ec2.disassociate_address(AssociationId=second["AssociationId"])
        self.assertNotIn("AssociationId", self.address(ec2))
        self.assert_client_error(lambda: ec2.disassociate_address(AssociationId=second["AssociationId"]),
                                 "InvalidAssociationID.NotFound")
        ec2.associate_address(AllocationId=EIP, NetworkInterfaceId=ENI2)  # free again: no flag needed

    def test_assign_private_ip_addresses(self):
        ec2 = self.client()
        ips = lambda eni: [p["PrivateIpAddress"] for p in ec2.describe_network_interfaces(  # noqa: E731
            NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]["PrivateIpAddresses"]]
        err = self.assert_client_error(lambda: ec2.assign_private_ip_addresses(
            NetworkInterfaceId=ENI1, PrivateIpAddresses=["10.0.1.100"]), "InvalidIPAddress.InUse", 400)
        self.assertEqual(err.response["Error"]["Message"], "Address 10.0.1.100 is in use.")
        self.assertEqual(ips(ENI2), ["10.0.2.10", "10.0.1.100"])
        out = ec2.assign_private_ip_addresses(NetworkInterfaceId=ENI1, PrivateIpAddresses=["10.0.1.100"],
                                              AllowReassignment=True)
        self.assertEqual((out["NetworkInterfaceId"], out["AssignedPrivateIpAddresses"]),
                         (ENI1, [{"PrivateIpAddress": "10.0.1.100"}]))
        self.assertEqual(ips(ENI1), ["10.0.1.10", "10.0.1.100"])
        self.assertEqual(ips(ENI2), ["10.0.2.10"])
        self.assertEqual(self.md("meta-data/network/interfaces/macs/0e:00:00:00:00:01/local-ipv4s"),
                         (200, "10.0.1.10\n10.0.1.100"))
        inst = ec2.describe_instances(Filters=[{"Name": "network-interface.addresses.private-ip-address",
                                                "Values": ["10.0.1.100"]}])["Reservations"]
        self.assertEqual([r["Instances"][0]["InstanceId"] for r in inst], [I1])
        # a primary address never moves
        self.assert_client_error(lambda: ec2.assign_private_ip_addresses(
            NetworkInterfaceId=ENI1, PrivateIpAddresses=["10.0.2.10"], AllowReassignment=True),
            "InvalidIPAddress.InUse")
        # the answer carries <return>true</return> like AWS's
        status, body = self.raw({"Action": "AssignPrivateIpAddresses", "NetworkInterfaceId": ENI2,
                                 "PrivateIpAddress.1": "10.0.1.100", "AllowReassignment": "true"})
        self.assertEqual(status, 200)
        self.assertIn(b"<return>true</return>", body)
        count = ec2.assign_private_ip_addresses(NetworkInterfaceId=ENI1, SecondaryPrivateIpAddressCount=2)
        self.assertEqual([a["PrivateIpAddress"] for a in count["AssignedPrivateIpAddresses"]],
                         ["10.0.1.4", "10.0.1.5"])
        ec2.unassign_private_ip_addresses(NetworkInterfaceId=ENI1, PrivateIpAddresses=["10.0.1.4", "10.0.1.5"])
        self.assertEqual(ips(ENI1), ["10.0.1.10"])
        self.assert_client_error(lambda: ec2.unassign_private_ip_addresses(
            NetworkInterfaceId=ENI1, PrivateIpAddresses=["10.0.1.10"]), "InvalidParameterValue")
        self.assert_client_error(lambda: ec2.unassign_private_ip_addresses(
            NetworkInterfaceId=ENI1, PrivateIpAddresses=["10.0.1.77"]), "InvalidParameterValue")
        self.assert_client_error(lambda: ec2.assign_private_ip_addresses(
            NetworkInterfaceId=ENI1, PrivateIpAddresses=["10.0.1.9"], SecondaryPrivateIpAddressCount=1),
            "InvalidParameterCombination")
        self.assert_client_error(lambda: ec2.assign_private_ip_addresses(NetworkInterfaceId="eni-0000000000000dead",
                                                                         PrivateIpAddresses=["10.0.1.9"]),
                                 "InvalidNetworkInterfaceID.NotFound")

    def test_eip_moves_with_its_secondary_address(self):
        ec2 = self.client()
        ec2.associate_address(AllocationId=SPARE_EIP, NetworkInterfaceId=ENI2, PrivateIpAddress="10.0.1.100")
        ec2.assign_private_ip_addresses(NetworkInterfaceId=ENI1, PrivateIpAddresses=["10.0.1.100"],
                                        AllowReassignment=True)
        a = ec2.describe_addresses(AllocationIds=[SPARE_EIP])["Addresses"][0]
        self.assertEqual((a["NetworkInterfaceId"], a["InstanceId"], a["PrivateIpAddress"]), (ENI1, I1, "10.0.1.100"))
        ec2.unassign_private_ip_addresses(NetworkInterfaceId=ENI1, PrivateIpAddresses=["10.0.1.100"])
        self.assertNotIn("AssociationId", ec2.describe_addresses(AllocationIds=[SPARE_EIP])["Addresses"][0])


class TestEventualConsistency(FreshSimCase):
    SCENARIO = dict(load_basic(), route_propagation_s=0.4)

    def test_describes_show_the_old_target_for_a_while(self):
        ec2 = self.client()
        self.assertEqual(self.sim.control("GET", "/_sim/settings")[1]["route_propagation_s"], 0.4)
        t0 = time.monotonic()
        ec2.replace_route(RouteTableId=RTB_A, DestinationCidrBlock=VIP, NetworkInterfaceId=ENI1)
        ec2.create_route(RouteTableId=RTB_A, DestinationCidrBlock="192.168.100.30/32", NetworkInterfaceId=ENI1)
        ec2.associate_address(AllocationId=EIP, NetworkInterfaceId=ENI1, AllowReassociation=True)
        ec2.assign_private_ip_addresses(NetworkInterfaceId=ENI1, PrivateIpAddresses=["10.0.1.100"],
                                        AllowReassignment=True)

        def routes():
            return {r["DestinationCidrBlock"]: r.get("NetworkInterfaceId") for r in
                    ec2.describe_route_tables(RouteTableIds=[RTB_A])["RouteTables"][0]["Routes"]}

        def eip_eni():
            return ec2.describe_addresses(AllocationIds=[EIP])["Addresses"][0].get("NetworkInterfaceId")

        def eni1_ips():
            return [p["PrivateIpAddress"] for p in ec2.describe_network_interfaces(
                NetworkInterfaceIds=[ENI1])["NetworkInterfaces"][0]["PrivateIpAddresses"]]

        if time.monotonic() - t0 < 0.3:  # still inside the window: the old view
            self.assertEqual(routes()[VIP], ENI2)
            self.assertNotIn("192.168.100.30/32", routes())
            self.assertEqual(eip_eni(), ENI2)
            self.assertEqual(eni1_ips(), ["10.0.1.10"])
            self.assertEqual(self.md("meta-data/network/interfaces/macs/0e:00:00:00:00:01/local-ipv4s"),
                             (200, "10.0.1.10"))
        self.assertTrue(wait_for(lambda: routes().get(VIP) == ENI1))
        self.assertGreaterEqual(time.monotonic() - t0, 0.35)
        # each write's window started when it was made: wait for each
        self.assertTrue(wait_for(lambda: routes().get("192.168.100.30/32") == ENI1))
        self.assertTrue(wait_for(lambda: eip_eni() == ENI1))
        self.assertTrue(wait_for(lambda: eni1_ips() == ["10.0.1.10", "10.0.1.100"]))
        # writes see the real state at once: the route exists even while it is not shown
        self.assertEqual(self.sim.control("POST", "/_sim/settings", {"route_propagation_s": 0})[1]
                         ["route_propagation_s"], 0)
        ec2.replace_route(RouteTableId=RTB_A, DestinationCidrBlock=VIP, NetworkInterfaceId=ENI2)
        self.assertEqual(routes()[VIP], ENI2)
        self.assertEqual(self.sim.control("POST", "/_sim/settings", {"route_propagation_s": -1})[0], 400)
        self.assertEqual(self.sim.control("POST", "/_sim/settings", {"bogus_s": 1})[0], 400)


# ---------------------------------------------------------------------------
# bastion pattern: security group rules, stop/terminate, tags

class TestBastion(FreshSimCase):
    def test_security_group_rules(self):
        ec2 = self.client()
        rules = ec2.describe_security_group_rules()["SecurityGroupRules"]
        self.assertEqual([r["SecurityGroupRuleId"] for r in rules], [SGR_SSH, SGR_ADMIN, SGR_EGRESS])
        ssh = rules[0]
        self.assertEqual((ssh["GroupId"], ssh["IsEgress"], ssh["IpProtocol"], ssh["FromPort"], ssh["ToPort"],
                          ssh["CidrIpv4"], ssh["Description"], ssh["GroupOwnerId"]),
                         (SG, False, "tcp", 22, 22, "198.51.100.7/32", "temporary ssh (bastion)", "123456789012"))
        self.assertEqual((rules[1]["FromPort"], rules[1]["ToPort"]), (8000, 8080))
        self.assertEqual((rules[2]["IsEgress"], rules[2]["IpProtocol"], rules[2]["FromPort"]), (True, "-1", -1))
        ids = lambda **kw: [r["SecurityGroupRuleId"] for r in  # noqa: E731
                            ec2.describe_security_group_rules(**kw)["SecurityGroupRules"]]
        self.assertEqual(ids(SecurityGroupRuleIds=[SGR_ADMIN]), [SGR_ADMIN])
        self.assertEqual(ids(Filters=[{"Name": "group-id", "Values": [SG]},
                                      {"Name": "security-group-rule-id", "Values": [SGR_SSH, SGR_EGRESS]}]),
                         [SGR_SSH, SGR_EGRESS])
        pages = list(ec2.get_paginator("describe_security_group_rules").paginate(PaginationConfig={"PageSize": 5}))
        self.assertEqual(len(pages), 1)
        self.assert_client_error(lambda: ec2.describe_security_group_rules(
            SecurityGroupRuleIds=["sgr-0000000000000dead"]), "InvalidSecurityGroupRuleId.NotFound")
        out = ec2.revoke_security_group_ingress(GroupId=SG, SecurityGroupRuleIds=[SGR_SSH, SGR_ADMIN])
        self.assertTrue(out["Return"])
        self.assertNotIn("UnknownIpPermissions", out)
        self.assertEqual(ids(), [SGR_EGRESS])
        err = self.assert_client_error(lambda: ec2.revoke_security_group_ingress(
            GroupId=SG, SecurityGroupRuleIds=[SGR_SSH]), "InvalidSecurityGroupRuleId.NotFound", 400)
        self.assertIn(SGR_SSH, err.response["Error"]["Message"])
        # an egress rule is not an ingress rule
        self.assert_client_error(lambda: ec2.revoke_security_group_ingress(
            GroupId=SG, SecurityGroupRuleIds=[SGR_EGRESS]), "InvalidSecurityGroupRuleId.NotFound")
        self.assert_client_error(lambda: ec2.revoke_security_group_ingress(
            GroupId="sg-0000000000000dead", SecurityGroupRuleIds=[SGR_EGRESS]), "InvalidGroup.NotFound")
        # the old IpPermissions form: what does not match comes back as unknown
        out = ec2.revoke_security_group_ingress(GroupId=SG, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "198.51.100.7/32"}]}])
        self.assertEqual(out["UnknownIpPermissions"][0]["IpRanges"], [{"CidrIp": "198.51.100.7/32"}])
        # POST /_sim/reset brings the scenario's rules back
        self.assertEqual(self.sim.control("POST", "/_sim/reset"), (200, {"regions": ["us-east-1", "us-west-2"]}))
        self.assertEqual(ids(), [SGR_SSH, SGR_ADMIN, SGR_EGRESS])
        ec2.revoke_security_group_ingress(GroupId=SG, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8080, "IpRanges": [{"CidrIp": "198.51.100.0/24"}]}])
        self.assertEqual(ids(), [SGR_SSH, SGR_EGRESS])

    def test_stop_and_terminate(self):
        ec2 = self.client()
        state = lambda iid: ec2.describe_instances(InstanceIds=[iid])[  # noqa: E731
            "Reservations"][0]["Instances"][0]["State"]["Name"]
        out = ec2.stop_instances(InstanceIds=[I2])["StoppingInstances"][0]
        self.assertEqual((out["InstanceId"], out["PreviousState"], out["CurrentState"]),
                         (I2, {"Code": 16, "Name": "running"}, {"Code": 64, "Name": "stopping"}))
        self.assertEqual(state(I2), "stopping")
        ec2.get_waiter("instance_stopped").wait(InstanceIds=[I2], WaiterConfig={"Delay": 0.05, "MaxAttempts": 100})
        again = ec2.stop_instances(InstanceIds=[I2])["StoppingInstances"][0]
        self.assertEqual((again["PreviousState"]["Name"], again["CurrentState"]["Name"]), ("stopped", "stopped"))
        self.assertEqual(self.md("meta-data/instance-id", iid=I2), (200, I2))  # IMDS keeps answering
        out = ec2.terminate_instances(InstanceIds=[I1, I2])["TerminatingInstances"]
        self.assertEqual([(o["PreviousState"]["Name"], o["CurrentState"]["Name"]) for o in out],
                         [("running", "shutting-down"), ("stopped", "shutting-down")])
        self.assertTrue(wait_for(lambda: state(I1) == "terminated"))
        self.assertEqual(state(I2), "terminated")
        self.assertEqual(self.md("meta-data/tags/instance/Name"), (200, "web-1"))
        self.assertEqual([r["Instances"][0]["InstanceId"] for r in ec2.describe_instances(
            Filters=[{"Name": "instance-state-name", "Values": ["terminated"]}])["Reservations"]], [I1, I2])
        self.assert_client_error(lambda: ec2.stop_instances(InstanceIds=[I1]), "IncorrectInstanceState", 400)
        again = ec2.terminate_instances(InstanceIds=[I1])["TerminatingInstances"][0]
        self.assertEqual(again["CurrentState"]["Name"], "terminated")
        self.assert_client_error(lambda: ec2.terminate_instances(InstanceIds=["i-00000000000000042"]),
                                 "InvalidInstanceID.NotFound")
        # a state forced through the control API stays
        self.sim.control("POST", "/_sim/instance", {"region": "us-east-1", "id": I1, "state": "running"})
        self.assertEqual(state(I1), "running")

    def test_tags_on_snapshots_images_instances(self):
        ec2 = self.client()
        sid = ec2.create_snapshot(VolumeId=VOL_ROOT)["SnapshotId"]
        ec2.create_tags(Resources=[sid, GOLDEN_AMI, I1, SGR_SSH, EIP, RTB_A],
                        Tags=[{"Key": "cdp:expires-at", "Value": "2026-11-21T23:00:00Z"}])
        got = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["cdp:expires-at"]}])["Tags"]
        self.assertEqual({(t["ResourceId"], t["ResourceType"]) for t in got},
                         {(sid, "snapshot"), (GOLDEN_AMI, "image"), (I1, "instance"),
                          (SGR_SSH, "security-group-rule"), (EIP, "elastic-ip"), (RTB_A, "route-table")})
        # cdpctl extend: the same key, rewritten later
        ec2.create_tags(Resources=[I1], Tags=[{"Key": "cdp:expires-at", "Value": "2026-11-22T01:00:00Z"}])
        self.assertEqual(self.md("meta-data/tags/instance/cdp:expires-at"), (200, "2026-11-22T01:00:00Z"))
        self.assertEqual(tagdict(ec2.describe_snapshots(SnapshotIds=[sid])["Snapshots"][0]["Tags"]),
                         {"cdp:expires-at": "2026-11-21T23:00:00Z"})
        self.assertEqual(tagdict(ec2.describe_images(ImageIds=[GOLDEN_AMI])["Images"][0]["Tags"])["cdp:expires-at"],
                         "2026-11-21T23:00:00Z")
        ec2.delete_tags(Resources=[sid, GOLDEN_AMI], Tags=[{"Key": "cdp:expires-at"}])
        self.assertEqual(ec2.describe_snapshots(SnapshotIds=[sid])["Snapshots"][0].get("Tags", []), [])
        self.assertEqual([t["ResourceId"] for t in ec2.describe_tags(
            Filters=[{"Name": "resource-id", "Values": [sid, I1]}, {"Name": "key", "Values": ["cdp:expires-at"]}])
            ["Tags"]], [I1])
        self.assert_client_error(lambda: ec2.create_tags(Resources=["snap-0000000000000dead"],
                                                         Tags=[{"Key": "a", "Value": "b"}]),
                                 "InvalidSnapshot.NotFound")


# ---------------------------------------------------------------------------
# DryRun, permissions and faults on the new actions

class TestNewActionsPipeline(SimCase):
    LOG = True

    def state(self):
        return self.sim.control("GET", "/_sim/state")[1]["regions"]["us-east-1"]

    def test_dry_run(self):
        ec2 = self.client()
        before = self.state()
        calls = [
            lambda: ec2.create_snapshots(DryRun=True, InstanceSpecification={"InstanceId": I1}),
            lambda: ec2.delete_snapshot(DryRun=True, SnapshotId="snap-0bbb0000000000001"),
            lambda: ec2.create_image(DryRun=True, InstanceId=I1, Name="dry-image", NoReboot=True),
            lambda: ec2.replace_route(DryRun=True, RouteTableId=RTB_A, DestinationCidrBlock=VIP,
                                      NetworkInterfaceId=ENI1),
            lambda: ec2.associate_address(DryRun=True, AllocationId=EIP, NetworkInterfaceId=ENI1,
                                          AllowReassociation=True),
            lambda: ec2.modify_network_interface_attribute(DryRun=True, NetworkInterfaceId=ENI1,
                                                           SourceDestCheck={"Value": False}),
            lambda: ec2.revoke_security_group_ingress(DryRun=True, GroupId=SG, SecurityGroupRuleIds=[SGR_SSH]),
            lambda: ec2.terminate_instances(DryRun=True, InstanceIds=[I1]),
            lambda: ec2.stop_instances(DryRun=True, InstanceIds=[I1]),
            lambda: ec2.describe_snapshots(DryRun=True),
        ]
        for call in calls:
            self.assert_client_error(call, "DryRunOperation", 412)
        after = self.state()
        for key in ("snapshots", "images", "route_tables", "addresses", "security_group_rules", "instances",
                    "network_interfaces"):
            self.assertEqual(after[key], before[key], key)
        self.assertEqual({c["code"] for c in self.calls(service="ec2")}, {"DryRunOperation"})

    def test_permissions(self):
        ec2 = self.client()
        self.sim.control("POST", "/_sim/permissions", {"permissions": ["ec2:Describe*", "ec2:CreateSnapshots"]})
        try:
            self.assert_client_error(lambda: ec2.create_snapshots(DryRun=True, InstanceSpecification={"InstanceId": I1}),
                                     "DryRunOperation", 412)
            self.assert_client_error(lambda: ec2.delete_snapshot(DryRun=True, SnapshotId="snap-0bbb0000000000001"),
                                     "UnauthorizedOperation", 403)
            err = self.assert_client_error(lambda: ec2.replace_route(
                RouteTableId=RTB_A, DestinationCidrBlock=VIP, NetworkInterfaceId=ENI1), "UnauthorizedOperation", 403)
            self.assertIn("ec2:ReplaceRoute", err.response["Error"]["Message"])
            self.assertEqual(self.state()["route_tables"][RTB_A]["routes"][2]["target"]["NetworkInterfaceId"], ENI2)
            self.assertTrue(ec2.describe_route_tables()["RouteTables"])
        finally:
            self.sim.control("POST", "/_sim/permissions", {"permissions": None})

    def test_parameters_are_validated_against_the_model(self):
        self.assert_raw_error({"Action": "ReplaceRoute", "RouteTableId": RTB_A, "DestinationCidrBlock": VIP,
                               "NetworkInterfaceID": ENI1}, 400, "UnknownParameter",
                              "The parameter NetworkInterfaceID is not recognized")
        self.assert_raw_error({"Action": "DeleteSnapshot"}, 400, "MissingParameter",
                              "The request must contain the parameter SnapshotId")
        self.assert_raw_error({"Action": "CreateSnapshots", "InstanceSpecification.InstanceId": I1,
                               "TagSpecification.1.ResourceType": "snapshots"}, 400, "InvalidParameterValue")
        self.assert_raw_error({"Action": "AssociateAddress", "AllocationId": EIP, "NetworkInterfaceId": ENI1,
                               "AllowReassociation": "yes"}, 400, "InvalidParameterValue")
        self.assert_raw_error({"Action": "StopInstances"}, 400, "MissingParameter",
                              "The request must contain the parameter InstanceId")
        self.assertEqual(self.state()["route_tables"][RTB_A]["routes"][2]["target"]["NetworkInterfaceId"], ENI2)

    def test_snapshot_throttling_faults(self):
        ec2 = self.client()
        before = len(self.state()["snapshots"])
        self.fault(action="CreateSnapshots", kind="throttle", code="SnapshotCreationPerVolumeRateExceeded")
        err = self.assert_client_error(lambda: ec2.create_snapshots(InstanceSpecification={"InstanceId": I1}),
                                       "SnapshotCreationPerVolumeRateExceeded", 400)
        self.assertIn("per volume", err.response["Error"]["Message"])
        self.fault(action="CreateSnapshot", kind="throttle", code="ConcurrentSnapshotLimitExceeded")
        self.assert_client_error(lambda: ec2.create_snapshot(VolumeId=VOL_ROOT), "ConcurrentSnapshotLimitExceeded", 400)
        self.fault(action="DescribeSnapshots", kind="throttle")
        self.assert_client_error(ec2.describe_snapshots, "RequestLimitExceeded", 503)
        self.assertEqual(len(self.state()["snapshots"]), before)  # a throttled call creates nothing
        calls = self.calls(service="ec2")
        self.assertEqual([(c["action"], c["status"], c["code"], c.get("fault")) for c in calls], [
            ("CreateSnapshots", 400, "SnapshotCreationPerVolumeRateExceeded", "throttle"),
            ("CreateSnapshot", 400, "ConcurrentSnapshotLimitExceeded", "throttle"),
            ("DescribeSnapshots", 503, "RequestLimitExceeded", "throttle")])
        # the retrying client gets through once the fault is used up
        retrying = self.client(retries={"total_max_attempts": 3, "mode": "standard"})
        self.fault(action="DescribeSnapshots", kind="throttle")
        self.assertTrue(retrying.describe_snapshots(OwnerIds=["self"])["Snapshots"])

    def test_ha_faults(self):
        ec2 = self.client(connect_timeout=2, read_timeout=5)
        self.fault(action="ReplaceRoute", kind="error", status=503)
        self.assert_client_error(lambda: ec2.replace_route(RouteTableId=RTB_A, DestinationCidrBlock=VIP,
                                                           NetworkInterfaceId=ENI2), "Unavailable", 503)
        self.fault(action="AssociateAddress", kind="drop")
        with self.assertRaises(Exception) as cm:
            ec2.associate_address(AllocationId=SPARE_EIP, NetworkInterfaceId=ENI1)
        self.assertNotIsInstance(cm.exception, ClientError)
        self.assertNotIn("AssociationId", ec2.describe_addresses(AllocationIds=[SPARE_EIP])["Addresses"][0])
        self.fault(action="DescribeRouteTables", kind="truncated")
        with self.assertRaises(Exception) as cm:
            ec2.describe_route_tables()
        self.assertIn("Parser", type(cm.exception).__name__)
        self.fault(action="DescribeAddresses", kind="latency", latency_ms=200)
        start = time.monotonic()
        ec2.describe_addresses()
        self.assertGreaterEqual(time.monotonic() - start, 0.2)
        self.assertEqual([c.get("fault") for c in self.calls(service="ec2")],
                         ["error", "drop", None, "truncated", "latency"])


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
