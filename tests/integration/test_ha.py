#!/usr/bin/python3
"""Floating IP and Routing-based HA against the simulator (issue 5, SPEC 6):
takeover moves every target and verifies it, a second takeover writes
nothing, dry runs write nothing, faults are ridden out or reported per
target, status tells here / elsewhere / unknown and never writes, a takeover
does not wait behind a slow call, and with manage_local_vip the addresses go
on and off local interfaces (in a private network namespace)."""

import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import simharness  # noqa: E402
from simharness import CDPCTL, Daemon, Simulator, clean_env, main  # noqa: E402

WEB1 = "i-0123456789abcdef0"
WEB2 = "i-0fedcba9876543210"
ENI1 = "eni-0a1b2c3d4e5f60001"
ENI2 = "eni-0a1b2c3d4e5f60002"
RTB_A = "rtb-0aaa1111bbbb22223"
RTB_B = "rtb-0ccc3333dddd44445"
EIP = "eipalloc-0abc123def4567890"
VIP = "192.168.100.10/32"
SECONDARY = "10.0.1.100"
ROUTING_TAG = VIP + "@" + RTB_A + "+" + RTB_B
FLOATING_TAG = EIP + "," + SECONDARY
DESCRIBES = {"DescribeRouteTables", "DescribeAddresses", "DescribeNetworkInterfaces"}
WRITES = {"CreateRoute", "ReplaceRoute", "AssociateAddress", "AssignPrivateIpAddresses",
          "ModifyNetworkInterfaceAttribute", "DisassociateAddress", "UnassignPrivateIpAddresses"}


def ha_tags(data):
    """Both instances carry the same HA tags (the secondary IP too)."""
    insts = data["regions"]["us-east-1"]["instances"]
    for iid in (WEB1, WEB2):
        insts[iid].setdefault("tags", {}).update({"cdp:routing-ha": ROUTING_TAG,
                                                  "cdp:floating-ip": FLOATING_TAG})


class HaTestCase(unittest.TestCase):
    """A simulator where web-2 holds the routes, the Elastic IP and the
    secondary IP; cdpd daemons started on demand."""

    edit = staticmethod(ha_tags)

    def setUp(self):
        self.sim = Simulator("basic.json", edit=self.edit)
        self.addCleanup(self.sim.stop)
        self.tmp = tempfile.mkdtemp(prefix="cdpd-ha-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def start(self, instance=WEB1, config_extra=""):
        tmp = os.path.join(self.tmp, instance)
        os.makedirs(tmp, exist_ok=True)
        d = Daemon(self.sim, tmp, config_extra, instance=instance)
        self.addCleanup(d.stop)
        d.wait_notify("READY=1")
        self.settle()
        return d

    def settle(self, quiet=0.2, timeout=10):
        """Wait until the simulator saw no call for `quiet` seconds (the
        warm-up describe round after start)."""
        end = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < end:
            n = len(self.sim.calls(service="ec2"))
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.05)

    def takeover(self, d, *args, timeout=60):
        res = d.ctl("--json", "takeover", *args, timeout=timeout)
        out = json.loads(res.stdout) if res.stdout.strip().startswith("{") else {}
        return res, out

    def writes(self, since=0):
        """Real writes (not the DryRun probes of `cdpctl check`)."""
        return [c for c in self.sim.calls(service="ec2") if c["action"] in WRITES and c["seq"] > since
                and c["params"].get("DryRun") != "true"]

    def last_seq(self):
        calls = self.sim.calls()
        return calls[-1]["seq"] if calls else 0

    def region(self):
        return self.sim.state()["regions"]["us-east-1"]

    def route_target(self, rtb, cidr=VIP):
        for r in self.region()["route_tables"][rtb]["routes"]:
            if r["destination_cidr_block"] == cidr:
                return r["target"].get("NetworkInterfaceId")
        return None

    def assert_all_at(self, eni):
        reg = self.region()
        self.assertEqual(self.route_target(RTB_A), eni)
        self.assertEqual(self.route_target(RTB_B), eni)
        self.assertEqual(reg["addresses"][EIP]["association"]["network_interface_id"], eni)
        self.assertIn(SECONDARY, reg["network_interfaces"][eni]["private_ips"])

    def target(self, out, **match):
        for t in out["targets"]:
            if all(t.get(k) == v for k, v in match.items()):
                return t
        self.fail("no target %s in %s" % (match, json.dumps(out, indent=1)))


class TakeoverTest(HaTestCase):

    def test_takeover__from_web2__everything_moved_and_verified(self):
        d = self.start()
        since = self.last_seq()
        res, out = self.takeover(d)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assert_all_at(ENI1)
        self.assertFalse(self.region()["network_interfaces"][ENI1]["source_dest_check"])
        self.assertEqual(out["failed"], 0)
        self.assertEqual(out["moved"], 5)     # check, 2 routes, EIP, secondary IP
        for t in out["targets"]:
            self.assertEqual(t["state"], "here")
            self.assertEqual(t["result"], "moved")
            self.assertTrue(t["request_id"])
        self.assertEqual(self.target(out, route_table=RTB_A)["previous"], ENI2)
        self.assertEqual(self.target(out, route_table=RTB_A)["action"], "ReplaceRoute")

        # The critical path: one describe round, the writes, one verifying round.
        calls = [c for c in self.sim.calls(service="ec2") if c["seq"] > since
                 and c["params"].get("DryRun") != "true" and c["action"] in WRITES | DESCRIBES]
        kinds = ["w" if c["action"] in WRITES else "d" for c in calls]
        self.assertEqual("".join(kinds), "ddd" + "wwwww" + "ddd", [c["action"] for c in calls])
        self.assertEqual(out["api"]["describe_rounds"], 2)
        self.assertEqual(out["api"]["write_rounds"], 1)
        assign = [c for c in calls if c["action"] == "AssignPrivateIpAddresses"][0]["params"]
        self.assertEqual(assign["AllowReassignment"], "true")
        self.assertEqual(assign["PrivateIpAddress.1"], SECONDARY)
        assoc = [c for c in calls if c["action"] == "AssociateAddress"][0]["params"]
        self.assertEqual(assoc["AllowReassociation"], "true")
        self.assertEqual(assoc["NetworkInterfaceId"], ENI1)
        # no IMDS call during a takeover
        self.assertEqual([c for c in self.sim.calls(service="imds") if c["seq"] > since], [])
        # every write logged with its request id
        log = d.log()
        for c in calls:
            if c["action"] in WRITES:
                self.assertIn(c["action"], log)
        self.assertIn("request ", log)

    def test_takeover__second_time__no_write_call(self):
        d = self.start()
        res, _ = self.takeover(d)
        self.assertEqual(res.returncode, 0, res.stdout)
        since = self.last_seq()
        res, out = self.takeover(d)
        self.assertEqual(res.returncode, 0, res.stdout)
        self.assertEqual(self.writes(since), [])
        self.assertEqual(out["already_here"], 5)
        self.assertEqual(out["moved"], 0)

    def test_takeover__dry_run__no_write_and_plan_shown(self):
        d = self.start()
        since = self.last_seq()
        res, out = self.takeover(d, "--dry-run")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertEqual(self.writes(since), [])
        self.assertTrue(out["dry_run"])
        t = self.target(out, route_table=RTB_B)
        self.assertEqual(t["result"], "would-move")
        self.assertEqual(t["action"], "ReplaceRoute")
        self.assertEqual(t["where"], ENI2)
        self.assertEqual(self.target(out, type="source-dest-check")["action"], "ModifyNetworkInterfaceAttribute")
        self.assert_all_at(ENI2)

    def test_takeover__one_pattern__only_its_targets(self):
        d = self.start()
        res, out = self.takeover(d, "floating-ip")
        self.assertEqual(res.returncode, 0, res.stdout)
        self.assertEqual(sorted(t["type"] for t in out["targets"]), ["elastic-ip", "private-ip"])
        self.assertEqual(self.route_target(RTB_A), ENI2)
        self.assertEqual(self.region()["addresses"][EIP]["association"]["network_interface_id"], ENI1)

    def test_takeover__route_absent__create_route(self):
        def edit(data):
            ha_tags(data)
            rtb = data["regions"]["us-east-1"]["route_tables"][RTB_B]
            rtb["routes"] = [r for r in rtb["routes"] if r["destination_cidr_block"] != VIP]
        self.sim.stop()
        self.sim = Simulator("basic.json", edit=edit)
        self.addCleanup(self.sim.stop)
        d = self.start()
        res, out = self.takeover(d)
        self.assertEqual(res.returncode, 0, res.stdout)
        self.assertEqual(self.target(out, route_table=RTB_B)["action"], "CreateRoute")
        self.assertEqual(self.route_target(RTB_B), ENI1)

    def test_takeover__eventual_consistency__verified_after_propagation(self):
        d = self.start()
        self.sim.control("POST", "/_sim/settings", {"route_propagation_s": 0.3})
        res, out = self.takeover(d)
        self.assertEqual(res.returncode, 0, res.stdout)
        self.assertGreater(out["api"]["describe_rounds"], 2)
        self.assertEqual(out["api"]["write_rounds"], 1)
        self.assertGreaterEqual(out["elapsed_ms"], 250)
        self.assert_all_at(ENI1)


class FaultTest(HaTestCase):

    def test_faults__throttle_5xx_drop_on_replace_route__still_completes(self):
        d = self.start()
        self.sim.fault(action="ReplaceRoute", kind="throttle", count=2)
        self.sim.fault(action="ReplaceRoute", kind="error", count=1)
        self.sim.fault(action="ReplaceRoute", kind="drop", count=1)
        res, out = self.takeover(d)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assert_all_at(ENI1)
        rr = [c for c in self.writes() if c["action"] == "ReplaceRoute"]
        self.assertGreaterEqual(len(rr), 6)
        self.assertEqual(out["failed"], 0)

    def test_faults__unauthorized_on_one_table__exit_1_others_moved(self):
        d = self.start()
        self.sim.fault(action="ReplaceRoute", kind="error", status=403, code="UnauthorizedOperation",
                       message="You are not authorized to perform this operation.", count=1)
        start = time.monotonic()
        res, out = self.takeover(d)
        elapsed = time.monotonic() - start
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
        self.assertLess(elapsed, 5)      # at once, not at the 20 s deadline
        failed = [t for t in out["targets"] if t["result"] == "failed"]
        self.assertEqual(len(failed), 1, out)
        self.assertEqual(failed[0]["type"], "route")
        self.assertEqual(failed[0]["error"]["code"], "UnauthorizedOperation")
        other = RTB_B if failed[0]["route_table"] == RTB_A else RTB_A
        self.assertEqual(self.route_target(other), ENI1)
        self.assertEqual(self.route_target(failed[0]["route_table"]), ENI2)
        self.assertEqual(self.region()["addresses"][EIP]["association"]["network_interface_id"], ENI1)
        self.assertIn("UnauthorizedOperation", res.stderr + res.stdout)
        # the denied table got exactly one attempt
        denied = [c for c in self.writes()
                  if c["action"] == "ReplaceRoute" and c["params"]["RouteTableId"] == failed[0]["route_table"]]
        self.assertEqual(len(denied), 1)

    def test_faults__write_slower_than_deadline__that_target_fails_others_moved(self):
        d = self.start()
        self.sim.fault(action="AssociateAddress", kind="latency", latency_ms=4000, count=-1)
        start = time.monotonic()
        res, out = self.takeover(d, "--timeout", "1")
        elapsed = time.monotonic() - start
        self.assertEqual(res.returncode, 1, res.stdout)
        self.assertLess(elapsed, 3)
        t = self.target(out, type="elastic-ip")
        self.assertEqual(t["result"], "failed")
        self.assertEqual(self.target(out, route_table=RTB_A)["result"], "moved")
        self.assertEqual(self.target(out, type="private-ip")["result"], "moved")

    def test_faults__invalid_allocation__fails_with_aws_code(self):
        def edit(data):
            ha_tags(data)
            data["regions"]["us-east-1"]["instances"][WEB1]["tags"]["cdp:floating-ip"] = \
                "eipalloc-0badbadbadbadbad0"
        self.sim.stop()
        self.sim = Simulator("basic.json", edit=edit)
        self.addCleanup(self.sim.stop)
        d = self.start()
        res, out = self.takeover(d)
        self.assertEqual(res.returncode, 1, res.stdout)
        t = self.target(out, type="elastic-ip")
        self.assertEqual(t["result"], "failed")
        self.assertEqual(t["state"], "missing")
        self.assertTrue(t["error"]["code"].endswith("NotFound"), t)
        self.assertEqual(self.route_target(RTB_A), ENI1)


class StatusTest(HaTestCase):

    def status(self, d):
        res = d.ctl("--json", "status")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        return json.loads(res.stdout)["ha"]

    def test_status__here_elsewhere_unknown__never_writes(self):
        d1 = self.start(WEB1)
        since = self.last_seq()
        ha = self.status(d1)
        self.assertEqual(ha["takeover_state"], "elsewhere")
        t = self.target(ha, route_table=RTB_A)
        self.assertEqual(t["state"], "elsewhere")
        self.assertEqual(t["where"], ENI2)
        self.assertEqual(self.target(ha, type="private-ip")["where"], ENI2)

        res, _ = self.takeover(d1)
        self.assertEqual(res.returncode, 0, res.stdout)
        ha = self.status(d1)
        self.assertEqual(ha["takeover_state"], "here")
        self.assertTrue(all(t["state"] == "here" for t in ha["targets"]))

        # web-2 takes the floating IP back: web-1 sees it elsewhere
        d2 = self.start(WEB2)
        res, _ = self.takeover(d2, "floating-ip")
        self.assertEqual(res.returncode, 0, res.stdout)
        ha = self.status(d1)
        self.assertEqual(ha["takeover_state"], "partial")
        self.assertEqual(self.target(ha, type="elastic-ip")["where"], ENI2)
        self.assertEqual(self.target(ha, route_table=RTB_B)["state"], "here")

        # the API is down: unknown, not "moved away", and status still answers
        self.sim.fault(action="*", kind="drop", count=-1)
        t0 = time.monotonic()
        ha = self.status(d1)
        self.assertLess(time.monotonic() - t0, 8)
        self.assertEqual(ha["takeover_state"], "unknown")
        for t in ha["targets"]:
            self.assertEqual(t["state"], "unknown", t)
            self.assertIn("error", t)
        self.sim.control("DELETE", "/_sim/faults")

        # only the two takeovers wrote
        self.assertEqual(len(self.writes(since)), 5 + 2)

    def test_status__no_ha_tags__none(self):
        def edit(data):
            tags = data["regions"]["us-east-1"]["instances"][WEB1]["tags"]
            tags.pop("cdp:routing-ha", None)
            tags.pop("cdp:floating-ip", None)
        self.sim.stop()
        self.sim = Simulator("basic.json", edit=edit)
        self.addCleanup(self.sim.stop)
        d = self.start()
        since = self.last_seq()
        ha = self.status(d)
        self.assertEqual(ha["takeover_state"], "none")
        self.assertEqual(ha["targets"], [])
        res, _ = self.takeover(d)
        self.assertEqual(res.returncode, 1)
        self.assertIn("NoTargets", res.stdout + res.stderr)
        self.assertEqual([c for c in self.sim.calls(service="ec2") if c["seq"] > since
                          and c["action"] in WRITES | {"DescribeRouteTables", "DescribeAddresses"}], [])


class KeepAliveTest(HaTestCase):
    """SPEC 11: no polling beyond tag_refresh. The HA keep-alive describe
    round rides on the tag refresh tick: no describe of cdpd's own except in
    the second after a tag read."""

    def test_keepalive__rides_on_the_tag_refresh__no_timer_of_its_own(self):
        d = self.start(config_extra="tag_refresh = 10s\n")
        since = self.last_seq()
        time.sleep(12.5)
        calls = [c for c in self.sim.calls() if c["seq"] > since]
        reads = [c["t"] for c in calls if c["service"] == "imds"
                 and c["path"].startswith("/latest/meta-data/tags/instance")]
        rounds = [c for c in calls if c["service"] == "ec2" and c["action"] in DESCRIBES
                  and c["params"].get("DryRun") != "true"]
        self.assertTrue(reads, "no tag read in 12.5 s with tag_refresh = 10s")
        ticks = [t for i, t in enumerate(reads) if i == 0 or t - reads[i - 1] > 1.0]  # a read is several GETs
        self.assertEqual(len([c for c in rounds if c["action"] == "DescribeRouteTables"]), len(ticks),
                         "one keep-alive round per tick: %s" % [(c["action"], c["t"]) for c in rounds])
        for c in rounds:
            self.assertTrue(any(-0.1 <= c["t"] - t <= 1.0 for t in reads),
                            "%s at %.2f, tag reads at %s" % (c["action"], c["t"], reads))
        self.assertEqual(self.writes(since), [])
        self.assertIsNone(d.proc.poll(), "cdpd exited")


class ConcurrencyTest(HaTestCase):

    def test_takeover__while_a_slow_describe_runs__finishes_in_its_own_time(self):
        # tags through DescribeTags, which the simulator makes slow
        self.sim.control("POST", "/_sim/instance", {"region": "us-east-1", "id": WEB1,
                                                    "instance_metadata_tags": False})
        d = self.start()
        self.sim.fault(action="DescribeTags", kind="latency", latency_ms=3000, count=-1)
        self.sim.fault(action="DescribeSnapshots", kind="latency", latency_ms=3000, count=-1)
        reload = subprocess.Popen([CDPCTL, "--socket", d.socket, "reload"], env=clean_env(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(reload.wait)
        # a backup too, when this build has the snapshot pattern
        snap = subprocess.Popen([CDPCTL, "--socket", d.socket, "snapshot", "--dry-run"], env=clean_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(snap.wait)
        # the simulator logs a call once answered: give the slow ones time to
        # be on the wire
        time.sleep(0.3)
        t0 = time.monotonic()
        res, out = self.takeover(d)
        elapsed = time.monotonic() - t0
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertLess(elapsed, 1.5)
        self.assertIsNone(reload.poll(), "the slow tag read should still be running")
        self.assert_all_at(ENI1)

    def test_takeover__two_nodes_alternating__each_takes_everything(self):
        d1 = self.start(WEB1)
        d2 = self.start(WEB2)
        # web-1's check goes off once and stays off: 5, 5, then 4 moves
        for d, eni, moved in ((d1, ENI1, 5), (d2, ENI2, 5), (d1, ENI1, 4)):
            res, out = self.takeover(d)
            self.assertEqual(res.returncode, 0, res.stdout)
            self.assert_all_at(eni)
            self.assertEqual(out["moved"], moved, out)


# ---- manage_local_vip: everything inside a private network namespace ----

CLONE_NEWNET = 0x40000000


def _setns(fd):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), capture_output=True, text=True, check=check)


class LocalVipTest(HaTestCase):
    """The test process enters a fresh network namespace (setns) before the
    simulator and cdpd start, so both run there and the addresses cdpd adds
    never touch the machine's own interfaces."""

    def setUp(self):
        if os.geteuid() != 0 or not shutil.which("ip"):
            self.skipTest("needs root and ip(8) for a private network namespace")
        self.ns = "cdpha-%d" % os.getpid()
        r = _ip("netns", "add", self.ns, check=False)
        if r.returncode != 0:
            self.skipTest("ip netns add failed: " + r.stderr.strip())
        self.addCleanup(_ip, "netns", "del", self.ns, check=False)
        self.home = os.open("/proc/self/ns/net", os.O_RDONLY)
        self.addCleanup(os.close, self.home)
        fd = os.open("/run/netns/" + self.ns, os.O_RDONLY)
        try:
            _setns(fd)
        finally:
            os.close(fd)
        self.addCleanup(_setns, self.home)
        _ip("link", "set", "lo", "up")
        # the "primary interface": a veth with web-1's MAC
        _ip("link", "add", "cdpeth0", "address", "0e:00:00:00:00:01", "type", "veth", "peer", "name", "cdpeth1")
        _ip("link", "set", "cdpeth0", "up")
        super().setUp()

    def addrs(self, dev):
        return _ip("-o", "-4", "addr", "show", "dev", dev).stdout

    def test_local_vip__takeover_adds_release_removes_aws_untouched(self):
        d = self.start(WEB1, "manage_local_vip = yes\n")
        res, out = self.takeover(d)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertIn("192.168.100.10/32", self.addrs("lo"))
        self.assertIn(SECONDARY + "/32", self.addrs("cdpeth0"))
        local = {x["address"]: x for x in out["local"]}
        self.assertEqual(local[VIP]["interface"], "lo")
        self.assertEqual(local[VIP]["result"], "added")
        self.assertEqual(local[SECONDARY + "/32"]["interface"], "cdpeth0")

        res, out = self.takeover(d)
        self.assertEqual(res.returncode, 0)
        self.assertTrue(all(x["result"] == "present" for x in out["local"]), out["local"])

        ha = json.loads(d.ctl("--json", "status").stdout)["ha"]
        self.assertTrue(all(x["present"] for x in ha["local"]), ha["local"])

        since = self.last_seq()
        res = d.ctl("--json", "release")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertNotIn("192.168.100.10", self.addrs("lo"))
        self.assertNotIn(SECONDARY, self.addrs("cdpeth0"))
        self.assertEqual(self.writes(since), [])
        self.assert_all_at(ENI1)
        res = d.ctl("--json", "release")
        self.assertEqual(res.returncode, 0)
        self.assertTrue(all(x["result"] == "absent" for x in json.loads(res.stdout)["local"]))

    def test_local_vip__vip_interface_set__both_there(self):
        d = self.start(WEB1, "manage_local_vip = yes\nvip_interface = cdpeth1\n")
        res, _ = self.takeover(d)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertIn("192.168.100.10/32", self.addrs("cdpeth1"))
        self.assertIn(SECONDARY + "/32", self.addrs("cdpeth1"))
        self.assertNotIn("192.168.100.10", self.addrs("lo"))

    def test_local_vip__no_interface_with_our_mac__local_failure_aws_still_moved(self):
        _ip("link", "del", "cdpeth0")
        d = self.start(WEB1, "manage_local_vip = yes\n")
        res, out = self.takeover(d)
        self.assertEqual(res.returncode, 1, res.stdout)
        failed = [x for x in out["local"] if x["result"] == "failed"]
        self.assertEqual(len(failed), 1)
        self.assertIn("0e:00:00:00:00:01", failed[0]["error"])
        self.assertIn("192.168.100.10/32", self.addrs("lo"))
        self.assert_all_at(ENI1)


if __name__ == "__main__":
    main()
