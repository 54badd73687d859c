#!/usr/bin/python3
"""The Snapshot pattern against the simulator (issue 4, SPEC 4 and 5): what
`cdpctl snapshot` creates and how it is tagged, generations kept across
runs, restart safety, throttling storms, --dry-run making no write call,
cross-region copies and their pruning, AMI backups, and file systems frozen
just around the create call and always thawed (a real loop-mounted ext4,
root only)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from simharness import CDPCTL, Daemon, SimTestCase, main  # noqa: E402

INSTANCE = "i-0123456789abcdef0"
OTHER = "i-0fedcba9876543210"
REGION = "us-east-1"
DEVICES = {"/dev/xvda": "vol-0000000000000000a", "/dev/xvdf": "vol-0000000000000000b"}


def ctl_raw(d, command, args=None, timeout=60):
    """One request on the control socket, bypassing cdpctl (to name a slot)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(d.socket)
    try:
        s.sendall((json.dumps({"command": command, "args": args or {}}) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    return json.loads(buf)


class SnapshotBase(SimTestCase):

    def start(self, config_extra="", tmp=None, **kw):
        d = Daemon(self.sim, tmp or self.tmp, config_extra, **kw)
        self.addCleanup(d.stop)
        d.wait_notify("READY=1")
        # At start cdpd looks for a missed slot; let that finish before the
        # test changes the state under it.
        self.assertTrue(self.wait_for(lambda: d.ctl_json("status")["snapshot"]["running"] is None, 30),
                        d.log())
        return d

    def snapshot(self, d, *args, ok=True):
        res = d.ctl("--json", "--timeout", "60s", "snapshot", *args, timeout=90)
        if ok:
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr + d.log()[-3000:])
        return json.loads(res.stdout) if res.stdout.strip() else None, res

    def run_slot(self, d, slot, dry_run=False):
        args = {"slot": slot}
        if dry_run:
            args["dry_run"] = True
        ans = ctl_raw(d, "snapshot", args)
        self.assertTrue(ans["ok"], json.dumps(ans) + d.log()[-3000:])
        return ans["result"]

    def set_tags(self, d, tags):
        self.sim.set_tags(INSTANCE, {k: v for k, v in tags.items() if v is not None},
                          [k for k, v in tags.items() if v is None])
        res = d.ctl("reload", timeout=30)
        self.assertEqual(res.returncode, 0, res.stderr)

    def snapshots(self, region=REGION):
        return self.sim.state()["regions"].get(region, {}).get("snapshots") or {}

    def ours(self, region=REGION, state=None, instance=INSTANCE):
        out = {}
        for sid, s in self.snapshots(region).items():
            t = s["tags"]
            if t.get("cdp:managed-by") == "cdpd" and t.get("cdp:instance-id") == instance and \
                    (state is None or s["state"] == state):
                out[sid] = s
        return out

    def per_device(self, snaps):
        count = {}
        for s in snaps.values():
            dev = s["tags"].get("cdp:device")
            count[dev] = count.get(dev, 0) + 1
        return count

    def seed(self, count, device, start, step_s=3600, region=REGION, **kw):
        spec = {"region": region, "count": count, "instance_id": INSTANCE, "device": device,
                "start": start, "step_s": step_s}
        spec.update(kw)
        return self.sim.control("POST", "/_sim/seed_snapshots", spec)["snapshot_ids"]

    def writes(self, since_calls):
        return [c for c in self.sim.calls(service="ec2")[since_calls:]
                if c["action"] and not c["action"].startswith("Describe")]

    def wait_for(self, pred, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return True
            time.sleep(0.05)
        return False

    def daily_slot(self, d):
        """The most recent @daily slot whose run time (slot + splay) has come,
        as cdpd computes it for catch-up."""
        splay = d.ctl_json("status")["snapshot"]["splay_seconds"]
        t = time.time() - splay
        return time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime(t))


class SnapshotTest(SnapshotBase):

    def test_snapshot__manual__creates_with_all_tags(self):
        d = self.start()
        untouched = set(self.snapshots())
        res, _ = self.snapshot(d)
        self.assertEqual(res["type"], "ebs")
        self.assertFalse(res["dry_run"])
        self.assertEqual(res["result"], "ok")
        self.assertEqual(len(res["created"]), 2)
        slot = res["slot"]
        self.assertTrue(slot.endswith(":00Z"), slot)
        stamp = slot[0:4] + slot[5:7] + slot[8:10] + "T" + slot[11:13] + slot[14:16] + "Z"
        snaps = self.snapshots()
        for c in res["created"]:
            s = snaps[c["id"]]
            self.assertEqual(s["volume_id"], c["volume_id"])
            self.assertEqual(DEVICES[c["device"]], c["volume_id"])
            self.assertEqual(s["tags"], {
                "cdp:managed-by": "cdpd", "cdp:instance-id": INSTANCE, "cdp:slot": slot,
                "Name": "web-1-" + stamp, "cdp:type": "ebs",
                "cdp:device": c["device"], "cdp:volume-id": c["volume_id"],
            })
            self.assertEqual(s["state"], "completed")
        # the ownership tags come with the creating call itself
        create = self.sim.calls(action="CreateSnapshots")
        self.assertEqual(len(create), 1)
        p = create[0]["params"]
        spec = {p["TagSpecification.1.Tag.%d.Key" % i]: p["TagSpecification.1.Tag.%d.Value" % i]
                for i in range(1, 6)}
        self.assertEqual(spec["cdp:managed-by"], "cdpd")
        self.assertEqual(spec["cdp:instance-id"], INSTANCE)
        self.assertEqual(spec["cdp:slot"], slot)
        self.assertEqual(p["InstanceSpecification.InstanceId"], INSTANCE)
        self.assertNotIn("InstanceSpecification.ExcludeBootVolume", p)
        # everything that was there before is still there, unchanged
        self.assertTrue(untouched <= set(snaps))
        st = d.ctl_json("status")["snapshot"]
        self.assertEqual(st["last_run"]["result"], "ok")
        self.assertEqual(st["last_run"]["created"], 2)
        self.assertEqual(st["generations"], {"/dev/xvda": 1, "/dev/xvdf": 1})
        self.assertIsNone(st["last_error"])
        self.assertIn("next_slot", st)
        # the text form names what was made
        text = d.ctl("--timeout", "60s", "snapshot", "--dry-run", timeout=90)
        self.assertEqual(text.returncode, 0, text.stderr)

    def test_snapshot__data_volumes_only__boot_excluded(self):
        d = self.start()
        self.set_tags(d, {"cdp:snapshot:volumes": "data"})
        res, _ = self.snapshot(d)
        self.assertEqual([c["device"] for c in res["created"]], ["/dev/xvdf"])
        p = self.sim.calls(action="CreateSnapshots")[0]["params"]
        self.assertEqual(p["InstanceSpecification.ExcludeBootVolume"], "true")

    def test_snapshot__repeated_runs__keep_exactly_keep(self):
        d = self.start()
        self.set_tags(d, {"cdp:snapshot:keep": "3"})
        # someone else's backups and hand-made ones stay whatever happens
        self.sim.control("POST", "/_sim/seed_snapshots", {
            "region": REGION, "count": 5, "instance_id": OTHER, "device": "/dev/xvda",
            "start": "2026-02-01T00:00:00Z"})
        self.sim.control("POST", "/_sim/seed_snapshots", {
            "region": REGION, "count": 5, "instance_id": INSTANCE, "managed": False,
            "start": "2026-02-01T00:00:00Z"})
        foreign = set(self.snapshots()) - set(self.ours())
        for k in range(6):
            res = self.run_slot(d, "2026-03-01T%02d:00:00Z" % k)
            self.assertEqual(len(res["created"]), 2, res)
            done = self.ours(state="completed")
            want = min(k + 1, 3)
            self.assertEqual(self.per_device(done), {"/dev/xvda": want, "/dev/xvdf": want}, res)
            self.assertEqual(res["kept"], 2 * want)
            self.assertEqual(len(res["deleted"]), 0 if k < 3 else 2, res)
        # the three newest slots remain
        slots = sorted({s["tags"]["cdp:slot"] for s in self.ours().values()})
        self.assertEqual(slots, ["2026-03-01T03:00:00Z", "2026-03-01T04:00:00Z", "2026-03-01T05:00:00Z"])
        self.assertTrue(foreign <= set(self.snapshots()))
        # every delete was of a snapshot tagged as ours
        for c in self.sim.calls(action="DeleteSnapshot"):
            self.assertTrue(c["params"]["SnapshotId"] not in foreign)

    def test_snapshot__restart_inside_slot__not_taken_twice(self):
        d = self.start()
        slot = self.daily_slot(d)
        first = self.run_slot(d, slot)
        self.assertEqual(len(first["created"]), 2)
        d.stop()
        # a new cdpd in the same slot: neither the catch-up look at start
        # nor a second request takes it again
        tmp2 = tempfile.mkdtemp(prefix="cdpd-test-")
        self.addCleanup(shutil.rmtree, tmp2, True)
        d2 = self.start(tmp=tmp2)
        again = self.run_slot(d2, slot)
        self.assertTrue(again["slot_taken"])
        self.assertEqual(again["created"], [])
        self.assertEqual(len(self.sim.calls(action="CreateSnapshots")), 1)
        self.assertEqual(len(self.ours()), 2)

    def test_snapshot__downtime__one_catch_up_at_start(self):
        # the newest generation is two days old: one backup at start, for
        # the most recent slot, and only one
        for dev in DEVICES:
            self.seed(1, dev, time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime(time.time() - 2 * 86400)))
        d = self.start()
        self.assertTrue(self.wait_for(lambda: len(self.ours(state="completed")) == 4, 30), d.log())
        creates = self.sim.calls(action="CreateSnapshots")
        self.assertEqual(len(creates), 1)
        self.assertEqual(creates[0]["params"]["TagSpecification.1.Tag.3.Value"], self.daily_slot(d))
        self.assertIn("catching up slot", d.log())
        self.assertTrue(self.wait_for(lambda: d.ctl_json("status")["snapshot"]["running"] is None, 30))
        self.assertEqual(d.ctl_json("status")["snapshot"]["last_run"]["trigger"], "catch-up")
        # a restart now finds the slot taken: no second catch-up
        d.stop()
        tmp2 = tempfile.mkdtemp(prefix="cdpd-test-")
        self.addCleanup(shutil.rmtree, tmp2, True)
        d2 = self.start(tmp=tmp2)
        time.sleep(1)
        self.assertEqual(len(self.sim.calls(action="CreateSnapshots")), 1, d2.log())

    def test_snapshot__dry_run__no_write_call_same_decisions(self):
        d = self.start()
        for dev in DEVICES:
            self.seed(6, dev, "2026-02-01T00:00:00Z")
        self.set_tags(d, {"cdp:snapshot:keep": "4"})
        before = len(self.sim.calls())
        dry = self.run_slot(d, "2026-05-01T00:00:00Z", dry_run=True)
        self.assertTrue(dry["dry_run"])
        self.assertEqual(self.writes(before), [])
        self.assertEqual(len(dry["created"]), 2)
        self.assertEqual(len(self.ours()), 12)
        # the text form through cdpctl makes no write call either
        res, _ = self.snapshot(d, "--dry-run")
        self.assertTrue(res["dry_run"])
        self.assertEqual(self.writes(before), [])
        # the real run deletes exactly what the dry run said
        real = self.run_slot(d, "2026-05-01T00:00:00Z")
        self.assertEqual(sorted(x["id"] for x in dry["deleted"]), sorted(x["id"] for x in real["deleted"]))
        self.assertEqual(len(real["deleted"]), 6)
        self.assertEqual(self.per_device(self.ours(state="completed")), {"/dev/xvda": 4, "/dev/xvdf": 4})

    def test_snapshot__throttling_storm__ends_in_the_right_state(self):
        d = self.start("max_inflight = 2\n")
        for dev in DEVICES:
            self.seed(20, dev, "2026-02-01T00:00:00Z")
        self.set_tags(d, {"cdp:snapshot:keep": "3"})
        # the create is throttled through all its attempts: nothing made, nothing deleted
        self.sim.fault(action="CreateSnapshots", kind="throttle", count=3,
                       code="SnapshotCreationPerVolumeRateExceeded")
        ans = ctl_raw(d, "snapshot", {"slot": "2026-06-01T00:00:00Z"})
        self.assertFalse(ans["ok"])
        self.assertEqual(ans["exit"], 1)
        self.assertEqual(ans["error"]["code"], "SnapshotCreationPerVolumeRateExceeded")
        self.assertEqual(self.sim.calls(action="DeleteSnapshot"), [])
        self.assertEqual(len(self.ours()), 40)
        # deletes throttled part-way: the run stops issuing, defers the rest
        self.sim.fault(action="DeleteSnapshot", kind="throttle", count=-1)
        res = self.run_slot(d, "2026-06-01T00:00:00Z")
        self.assertEqual(len(res["created"]), 2)
        self.assertGreater(res["deferred"], 0)
        self.assertEqual(res["result"], "partial")
        self.sim.control("DELETE", "/_sim/faults")
        # a later run finishes the job: exactly keep, never fewer
        res = self.run_slot(d, "2026-06-01T01:00:00Z")
        self.assertEqual(res["deferred"], 0)
        self.assertEqual(self.per_device(self.ours(state="completed")), {"/dev/xvda": 3, "/dev/xvdf": 3})
        # one create per slot, whatever happened
        slots = [c["params"]["TagSpecification.1.Tag.3.Value"] for c in self.sim.calls(action="CreateSnapshots")
                 if c["status"] == 200]
        self.assertEqual(sorted(slots), ["2026-06-01T00:00:00Z", "2026-06-01T01:00:00Z"])
        self.assertEqual(len(self.ours()), 6)

    def test_snapshot__listing_dropped__nothing_deleted(self):
        d = self.start()
        for dev in DEVICES:
            self.seed(10, dev, "2026-02-01T00:00:00Z")
        self.set_tags(d, {"cdp:snapshot:keep": "2"})
        self.sim.fault(action="DescribeSnapshots", kind="truncated", count=3)
        ans = ctl_raw(d, "snapshot", {"slot": "2026-07-01T00:00:00Z"})
        self.assertFalse(ans["ok"])
        self.assertEqual(ans["error"]["code"], "ListingFailed")
        self.assertEqual(self.writes(0), [])
        self.assertEqual(len(self.ours()), 20)

    def test_snapshot__copy_to__copied_and_pruned_there(self):
        d = self.start()
        # older copies there, made by an earlier run
        for dev in DEVICES:
            self.seed(3, dev, "2026-02-01T00:00:00Z", region="us-west-2",
                      volume_id=DEVICES[dev], tags={"cdp:type": "ebs"})
        self.set_tags(d, {"cdp:snapshot:keep": "2", "cdp:snapshot:copy-to": "us-west-2"})
        res = self.run_slot(d, "2026-08-01T00:00:00Z")
        self.assertEqual(len(res["created"]), 2)
        # kept at home: the new one only has no copy there
        self.assertEqual(sorted(c["source_id"] for c in res["copied"]), sorted(c["id"] for c in res["created"]))
        self.assertTrue(all(c["region"] == "us-west-2" for c in res["copied"]))
        copies = self.sim.calls(action="CopySnapshot")
        self.assertEqual(len(copies), 2)
        for c in copies:
            self.assertEqual(c["region"], "us-west-2")
            self.assertEqual(c["params"]["SourceRegion"], REGION)
        there = self.ours(region="us-west-2")
        self.assertEqual(self.per_device(self.ours(region="us-west-2", state="completed")),
                         {"/dev/xvda": 2, "/dev/xvdf": 2})
        for c in res["copied"]:
            t = there[c["id"]]["tags"]
            self.assertEqual(t["cdp:source-id"], c["source_id"])
            self.assertEqual(t["cdp:slot"], "2026-08-01T00:00:00Z")
            self.assertIn(t["cdp:device"], DEVICES)
        # three older copies per device there plus the new one: two go per device
        deleted_there = [x for x in res["deleted"] if x["region"] == "us-west-2"]
        self.assertEqual(len(deleted_there), 4)
        # a second run copies only its own new generation
        res2 = self.run_slot(d, "2026-08-02T00:00:00Z")
        self.assertEqual(len(res2["copied"]), 2)
        self.assertEqual(self.per_device(self.ours(region="us-west-2", state="completed")),
                         {"/dev/xvda": 2, "/dev/xvdf": 2})

    def test_snapshot__ami__image_and_its_snapshots_pruned(self):
        d = self.start()
        self.set_tags(d, {"cdp:snapshot:type": "ami", "cdp:snapshot:keep": "1"})
        r1 = self.run_slot(d, "2026-09-01T00:00:00Z")
        self.assertEqual(r1["type"], "ami")
        self.assertEqual(len(r1["created"]), 1)
        first = r1["created"][0]["id"]
        imgs = self.sim.state()["regions"][REGION]["images"]
        self.assertEqual(imgs[first]["tags"]["cdp:managed-by"], "cdpd")
        self.assertEqual(imgs[first]["tags"]["cdp:type"], "ami")
        p = self.sim.calls(action="CreateImage")[0]["params"]
        self.assertEqual(p["NoReboot"], "true")
        parts = [bd["snapshot_id"] for bd in imgs[first]["block_devices"]]
        self.assertEqual(len(parts), 2)
        for sid in parts:
            self.assertEqual(self.snapshots()[sid]["tags"]["cdp:instance-id"], INSTANCE)
        r2 = self.run_slot(d, "2026-09-02T00:00:00Z")
        gone = sorted(x["id"] for x in r2["deleted"])
        self.assertEqual(gone, sorted([first] + parts))
        imgs = self.sim.state()["regions"][REGION]["images"]
        self.assertNotIn(first, imgs)
        self.assertIn("ami-0aaa0000000000001", imgs)        # the hand-made golden image stays
        for sid in parts:
            self.assertNotIn(sid, self.snapshots())
        self.assertIn("snap-0aaa0000000000001", self.snapshots())

    def test_snapshot__ami_copy_to__nothing_left_behind(self):
        d = self.start()
        self.set_tags(d, {"cdp:snapshot:type": "ami", "cdp:snapshot:keep": "1",
                          "cdp:snapshot:copy-to": "us-west-2"})
        for day in range(1, 4):
            res = self.run_slot(d, "2026-09-%02dT00:00:00Z" % day)
            self.assertEqual(res["result"], "ok", res)
            self.assertEqual(len(res["copied"]), 1, res)
        st = self.sim.state()["regions"]
        for region in (REGION, "us-west-2"):
            imgs = {k: v for k, v in st[region]["images"].items()
                    if v["tags"].get("cdp:managed-by") == "cdpd" and v["tags"].get("cdp:instance-id") == INSTANCE}
            self.assertEqual([v["tags"]["cdp:slot"] for v in imgs.values()], ["2026-09-03T00:00:00Z"], region)
            parts = {bd["snapshot_id"] for v in imgs.values() for bd in v["block_devices"]}
            # every snapshot an image of ours ever had is gone with it, in
            # both regions (the copies' ones were untagged by CopyImage)
            self.assertEqual(set(self.ours(region=region)), parts, region)
        # the hand-made golden image and its snapshot stay
        self.assertIn("ami-0aaa0000000000001", st[REGION]["images"])
        self.assertIn("snap-0aaa0000000000001", st[REGION]["snapshots"])

    def test_snapshot__failed_snapshot__reported_not_counted(self):
        d = self.start()
        for dev in DEVICES:
            self.seed(2, dev, "2026-02-01T00:00:00Z")
        self.set_tags(d, {"cdp:snapshot:keep": "2"})
        self.sim.control("POST", "/_sim/settings", {"snapshot_completion_s": 5})
        res = self.run_slot(d, "2026-10-01T00:00:00Z")
        new = [c["id"] for c in res["created"]]
        self.sim.control("POST", "/_sim/snapshot_state", {"region": REGION, "snapshot_id": new[0], "state": "error"})
        self.assertTrue(self.wait_for(lambda: d.ctl_json("status")["snapshot"]["running"] is None, 30))
        st = d.ctl_json("status")["snapshot"]
        self.assertIn(new[0], st["last_error"]["message"])
        # the failed one is no generation: both old ones of its device stay
        dev = res["created"][0]["device"]
        done = self.ours(state="completed")
        self.assertEqual(self.per_device(done)[dev], 2)

    def test_snapshot__no_policy__clear_error(self):
        d = self.start()
        self.set_tags(d, {"cdp:snapshot": None})
        res, raw = self.snapshot(d, ok=False)
        self.assertEqual(raw.returncode, 1)
        self.assertEqual(res["error"]["code"], "NoSnapshotPolicy")
        self.set_tags(d, {"cdp:snapshot": "@daily", "cdp:snapshot:keep": "lots"})
        res, raw = self.snapshot(d, ok=False)
        self.assertEqual(raw.returncode, 1)
        self.assertIn("lots", res["error"]["message"])
        self.assertEqual(self.sim.calls(action="CreateSnapshots"), [])


class Loop:
    """An ext4 file system on a loop device, mounted under a temp dir."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="cdpd-freeze-")
        self.img = os.path.join(self.dir, "fs.img")
        self.mnt = os.path.join(self.dir, "mnt")
        os.mkdir(self.mnt)
        self.mounted = False
        with open(self.img, "wb") as f:
            f.truncate(16 * 1024 * 1024)
        subprocess.run(["mkfs.ext4", "-q", "-F", self.img], check=True, capture_output=True)
        subprocess.run(["mount", "-o", "loop", self.img, self.mnt], check=True, capture_output=True)
        self.mounted = True

    def frozen(self, wait=0.3):
        """True when a write into the file system does not finish within
        wait seconds. The writer thread finishes whenever it is thawed, so
        looking never freezes or disturbs anything."""
        done = threading.Event()

        def write():
            path = os.path.join(self.mnt, "probe-%d" % threading.get_ident())
            with open(path, "w") as f:
                f.write("x")
            os.unlink(path)
            done.set()

        threading.Thread(target=write, daemon=True).start()
        return not done.wait(wait)

    def close(self):
        if self.mounted:
            subprocess.run(["umount", self.mnt], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class FreezeTest(SnapshotBase):
    """FIFREEZE on a real file system: frozen only around the create call,
    thawed after it, after an error, after the timeout and on SIGTERM."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("needs root to mount and freeze a loop file system")
        try:
            self.loop = Loop()
        except (OSError, subprocess.CalledProcessError) as e:
            self.skipTest("cannot make a loop-mounted ext4 file system here: %s" % e)
        self.addCleanup(self.loop.close)

    def start_frozen(self, timeout="10s"):
        d = self.start("freeze = %s\nfreeze_timeout = %s\n" % (self.loop.mnt, timeout))
        self.assertFalse(self.loop.frozen())
        return d

    def snapshot_async(self, d):
        return subprocess.Popen([CDPCTL, "--socket", d.socket, "--json", "--timeout", "60s", "snapshot"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def test_freeze__slow_create__frozen_during_thawed_after(self):
        d = self.start_frozen()
        self.sim.fault(action="CreateSnapshots", kind="latency", latency_ms=1500)
        p = self.snapshot_async(d)
        saw_frozen = self.wait_for(lambda: self.loop.frozen(0.1), 10)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, out + err)
        self.assertTrue(saw_frozen, "the file system was never seen frozen during the create call")
        self.assertEqual(json.loads(out)["frozen"], [self.loop.mnt])
        self.assertFalse(self.loop.frozen())
        self.assertIn("thawed 1 file system", d.log())

    def test_freeze__create_fails__thawed(self):
        d = self.start_frozen()
        self.sim.fault(action="CreateSnapshots", kind="error", status=400, code="InvalidParameterValue",
                       message="injected", count=1)
        res, raw = self.snapshot(d, ok=False)
        self.assertEqual(raw.returncode, 1)
        self.assertEqual(res["error"]["code"], "InvalidParameterValue")
        self.assertFalse(self.loop.frozen())
        self.assertEqual(self.sim.calls(action="DeleteSnapshot"), [])

    def test_freeze__api_slower_than_freeze_timeout__thawed_by_timer(self):
        d = self.start_frozen(timeout="1s")
        self.sim.fault(action="CreateSnapshots", kind="latency", latency_ms=4000)
        p = self.snapshot_async(d)
        self.assertTrue(self.wait_for(lambda: self.loop.frozen(0.1), 5))
        t0 = time.monotonic()
        self.assertTrue(self.wait_for(lambda: not self.loop.frozen(0.1), 5))
        self.assertLess(time.monotonic() - t0, 3.0)
        self.assertIsNone(p.poll(), "the create call should still be waiting")
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, out + err)
        self.assertIn("freeze_timeout", d.log())
        self.assertFalse(self.loop.frozen())

    def test_freeze__sigterm_while_frozen__thawed(self):
        d = self.start_frozen(timeout="60s")
        self.sim.fault(action="CreateSnapshots", kind="latency", latency_ms=5000)
        p = self.snapshot_async(d)
        self.assertTrue(self.wait_for(lambda: self.loop.frozen(0.1), 5))
        d.proc.send_signal(signal.SIGTERM)
        d.proc.wait(15)
        self.assertFalse(self.loop.frozen())
        p.communicate(timeout=30)
        self.assertIn("cdpd is stopping", d.log())


if __name__ == "__main__":
    main()
