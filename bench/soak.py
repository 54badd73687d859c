#!/usr/bin/python3
"""soak: cdpd for a long run (default 600 s) against the simulator, with
everything happening at once, and checks that nothing leaks or drifts.

Two daemons, one per instance of the basic scenario (web-1 with instance
metadata tags, web-2 reading its tags with DescribeTags), both tagged with
the same HA targets (2 route tables, 1 Elastic IP, 1 secondary private IP),
`cdp:snapshot = every 1m`, `cdp:snapshot:keep = 3` and a Cloud DI tag
`cdp:env:SOAK_SEQ`; config `tag_refresh = 10s`, `splay = 0s`. During the run:

  tag churn   every 5-10 s a new SOAK_SEQ value on one instance (alternating,
              POST /_sim/tags); cdpd must notice by itself (tag_refresh) and
              rewrite run_dir/env; every 30-60 s a `cdpctl reload` on one
              daemon, after which env must hold the current value.
  backups     cdpd's own scheduler, every minute, keep 3.
  takeovers   every 10-20 s `cdpctl takeover` on the other daemon
              (alternating); a takeover that exits 0 is checked against the
              simulator's state (routes, Elastic IP, secondary IP all here).
  faults      every 2-5 s one EC2 fault with count 1 (throttle, error, drop,
              latency, malformed, truncated) on an action in use: half the
              time one picked from the calls made since the last fault (so
              faults follow the traffic), half the time any action seen so
              far that has no fault pending (so rare calls such as
              CreateSnapshots get their share); 1 in 10 is an IMDS fault
              (tags, credentials, token paths) instead. Every 45-90 s a
              token_expire or creds_expire.
  sampling    every 10 s per daemon VmRSS, RssAnon (/proc/PID/status) and the
              open fds (/proc/PID/fd), TCP connections apart (their socket
              inodes in /proc/PID/net/tcp{,6}).

Then a settle: faults cleared, one `cdpctl reload` and one takeover per
daemon, and waiting (at most 150 s) until each daemon's scheduler has run a
backup that started after the faults were cleared.

Assertions (exit 1 when one fails):
  memory flat   last RssAnon <= baseline + 512 KiB, where baseline is the
                first sample taken at least WARMUP s into the run
                (WARMUP = min(60, seconds / 4)): by then every code path has
                run once (backups, takeovers, reloads, retries after faults,
                credential refresh), so libcurl's connection cache, OpenSSL's
                contexts and malloc's arenas have their working size; growth
                after that is what a leak looks like. The least-squares slope
                of RssAnon after the baseline is printed too (KiB/h).
  fds flat      the fds other than TCP connections (files, timers, signal
                and event fds, Unix sockets: control connections, hooks'
                pipes): last <= first + 2; first = the sample at t = 0, taken
                after both daemons were READY and each did one takeover.
  connections   TCP connections (libcurl's connection cache to the EC2 and
                IMDS endpoints): last <= the most seen in the first half of
                the run + 2. They are counted apart because their number
                moves with the traffic: a takeover opens one connection per
                parallel call, a tag read from IMDS one per tag, the
                simulator closes one on a dropped-connection fault and
                libcurl drops idle ones after 118 s, so the total swings by
                5-8 fds between two samples (a first 600 s run failed the
                plain "all fds: last <= first + 2" rule with 15 -> 18 for
                that reason alone); a leak of connections still shows as
                growth past the working set of the first half.
  alive         both processes running at the end, `cdpctl status` exit 0,
                the final takeover exit 0.
  generations   exactly keep (3) completed managed snapshots per device of
                each instance (web-1 /dev/xvda and /dev/xvdf, web-2
                /dev/xvda) after the settle.
  one per slot  no slot created twice: no two CreateSnapshots that ran for
                the same instance and cdp:slot (call log), no two managed
                snapshots of one instance, device and slot (state).
  reload        every `cdpctl reload` that exited 0 left env current.
  takeovers     every takeover that exited 0 is verified in the state;
                each daemon had at least one that succeeded.

Usage: bench/soak.py [--seconds 600] [--builddir DIR] [--json FILE]
                     [--seed N] [--keep-dir]
"""

import argparse
import collections
import datetime
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

import simharness  # noqa: E402

WEB1, WEB2 = "i-0123456789abcdef0", "i-0fedcba9876543210"
NAME = {WEB1: "web-1", WEB2: "web-2"}
ENI = {WEB1: "eni-0a1b2c3d4e5f60001", WEB2: "eni-0a1b2c3d4e5f60002"}
DEVICES = {WEB1: ["/dev/xvda", "/dev/xvdf"], WEB2: ["/dev/xvda"]}
RTB_A, RTB_B = "rtb-0aaa1111bbbb22223", "rtb-0ccc3333dddd44445"
EIP = "eipalloc-0abc123def4567890"
VIP = "192.168.100.10/32"
SECONDARY = "10.0.1.100"
REGION = "us-east-1"
KEEP = 3
ENV_TAG = "cdp:env:SOAK_SEQ"
ENV_NAME = "SOAK_SEQ"
SAMPLE_PERIOD = 10.0
RSS_SLACK_KIB = 512
FD_SLACK = 2
EC2_KINDS = ["throttle", "error", "drop", "latency", "malformed", "truncated"]
IMDS_PATHS = ["/latest/meta-data/tags/instance/", "/latest/meta-data/iam/security-credentials/",
              "/latest/api/token"]
SNAPSHOT_THROTTLE_CODES = ["RequestLimitExceeded", "SnapshotCreationPerVolumeRateExceeded",
                           "ConcurrentSnapshotLimitExceeded"]
CONFIG = "log_level = info\ntag_refresh = 10s\nsplay = 0s\n"


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def scenario(data):
    insts = data["regions"][REGION]["instances"]
    for iid in (WEB1, WEB2):
        insts[iid].setdefault("tags", {}).update({
            "cdp:routing-ha": "%s@%s+%s" % (VIP, RTB_A, RTB_B),
            "cdp:floating-ip": "%s,%s" % (EIP, SECONDARY),
            "cdp:snapshot": "every 1m",
            "cdp:snapshot:keep": str(KEEP),
            ENV_TAG: "v0",
        })


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def kib(v):
    return int(v.split()[0])


def read_env(path):
    """The SOAK_SEQ value in a run_dir/env file, or None."""
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                if k == ENV_NAME:
                    return v.strip('"')
    except OSError:
        return None
    return None


def tcp_inodes(pid):
    """Inodes of the TCP sockets in pid's network namespace."""
    out = set()
    for name in ("tcp", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, name)) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if len(cols) > 9:
                        out.add(cols[9])
        except (OSError, StopIteration):
            pass
    return out


def parse_time(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()


def slope_kib_per_hour(points):
    """Least-squares slope of [(t, kib)] in KiB/h (0 with fewer than 2)."""
    if len(points) < 2:
        return 0.0
    mt = statistics.fmean(p[0] for p in points)
    mv = statistics.fmean(p[1] for p in points)
    den = sum((p[0] - mt) ** 2 for p in points)
    if den == 0:
        return 0.0
    return sum((p[0] - mt) * (p[1] - mv) for p in points) / den * 3600


class Node:
    """One cdpd (simharness.Daemon) and what the soak saw of it."""

    def __init__(self, sim, tmp, iid):
        self.iid = iid
        self.name = NAME[iid]
        os.makedirs(os.path.join(tmp, iid), exist_ok=True)
        self.d = simharness.Daemon(sim, os.path.join(tmp, iid), CONFIG, instance=iid)
        self.env_path = os.path.join(self.d.run_dir, "env")
        self.samples = []            # (t, VmRSS, RssAnon, fds)
        self.tag_set = {}            # value -> time set (monotonic)
        self.tag_seen = {}           # value -> time first seen in env
        self.last_env = None
        self.tag_value = "v0"
        self.seq = 0
        self.takeovers = []          # dicts
        self.reloads = []            # (rc, env current?)
        self.reload_errors = collections.Counter()
        self.status_fail = 0
        self.status_ok = 0
        self.dead = None

    @property
    def pid(self):
        return self.d.proc.pid

    def alive(self):
        return self.d.proc.poll() is None

    def sample(self, t):
        st = proc_status(self.pid)
        tcp = tcp_inodes(self.pid)
        fds = n_tcp = 0
        for fd in os.listdir("/proc/%d/fd" % self.pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (self.pid, fd))
            except OSError:
                continue
            fds += 1
            if target.startswith("socket:[") and target[8:-1] in tcp:
                n_tcp += 1
        self.samples.append((t, kib(st["VmRSS"]), kib(st["RssAnon"]), fds, n_tcp))

    def drain_notify(self):
        """Read cdpd's sd_notify datagrams so its sends never block on a
        full queue (net.unix.max_dgram_qlen is 10 here)."""
        if self.d.notify_closed:
            return
        self.d.notify.settimeout(0)
        try:
            while True:
                data = self.d.notify.recv(4096).decode(errors="replace")
                self.d.notifications.extend(data.split("\n"))
                del self.d.notifications[:-50]
        except (BlockingIOError, socket.timeout, OSError):
            pass
        finally:
            self.d.notify.settimeout(0.2)

    def ctl(self, *args, timeout=30):
        return subprocess.run([simharness.CDPCTL, "--socket", self.d.socket] + list(args),
                              capture_output=True, text=True, timeout=timeout, env=simharness.clean_env())

    def ctl_json(self, *args, timeout=30):
        r = self.ctl("--json", *args, timeout=timeout)
        try:
            out = json.loads(r.stdout) if r.stdout.strip() else {}
        except ValueError:
            out = {}
        return r.returncode, out


class Monitor(threading.Thread):
    """Every 0.25 s: env files and notify sockets; every 10 s: /proc samples."""

    def __init__(self, nodes, t0):
        super().__init__(daemon=True)
        self.nodes, self.t0 = nodes, t0
        self.stop_event = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        next_sample = self.t0
        while not self.stop_event.is_set():
            now = time.monotonic()
            with self.lock:
                for n in self.nodes:
                    v = read_env(n.env_path)
                    if v is not None and v != n.last_env:
                        n.last_env = v
                        n.tag_seen.setdefault(v, now)
                    n.drain_notify()
                    if n.dead is None and not n.alive():
                        n.dead = now - self.t0
                if now >= next_sample:
                    for n in self.nodes:
                        if n.dead is None:
                            try:
                                n.sample(now - self.t0)
                            except OSError:
                                pass
                    next_sample += SAMPLE_PERIOD
            self.stop_event.wait(0.25)

    def stop(self):
        self.stop_event.set()
        self.join(5)


class Soak:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.tmp = tempfile.mkdtemp(prefix="cdpd-soak-")
        self.sim = None
        self.nodes = []
        self.faults = collections.Counter()      # "ec2 throttle" ... -> n
        self.fault_actions = collections.Counter()
        self.expiries = collections.Counter()
        self.tag_changes = 0
        self.seen_seq = 0
        self.actions_seen = set()
        self.recent_actions = []
        self.takeover_turn = 0
        self.churn_turn = 0
        self.failures = []
        self.figures = {}

    # ---- set-up and tear-down ----

    def start(self):
        self.sim = simharness.Simulator("basic.json", edit=scenario)
        log("simulator on 127.0.0.1:%d" % self.sim.ec2_port)
        for iid in (WEB1, WEB2):
            n = Node(self.sim, self.tmp, iid)
            self.nodes.append(n)
            n.d.wait_notify("READY=1", timeout=60)
            n.drain_notify()
            log("%s: cdpd pid %d ready" % (n.name, n.pid))

    def cleanup(self):
        for n in self.nodes:
            try:
                rc = n.d.stop()
                if rc not in (0, None):
                    log("%s: cdpd exited %s on SIGTERM" % (n.name, rc))
            except Exception as err:  # noqa: BLE001 - best effort
                log("cleanup %s: %s" % (n.name, err))
                try:
                    n.d.proc.kill()
                except OSError:
                    pass
        if self.sim:
            try:
                self.sim.stop()
            except Exception as err:  # noqa: BLE001
                log("cleanup simulator: %s" % err)
        if self.args.keep_dir or self.failures:
            log("logs kept in %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- simulator helpers ----

    def region(self):
        return self.sim.state()["regions"][REGION]

    def all_at(self, eni):
        reg = self.region()
        routes = [r for t in (RTB_A, RTB_B) for r in reg["route_tables"][t]["routes"]
                  if r["destination_cidr_block"] == VIP]
        return (len(routes) == 2 and all(r["target"].get("NetworkInterfaceId") == eni for r in routes)
                and (reg["addresses"][EIP]["association"] or {}).get("network_interface_id") == eni
                and SECONDARY in reg["network_interfaces"][eni]["private_ips"])

    def last_seq(self):
        calls = self.sim.control("GET", "/_sim/calls?since=%d" % self.seen_seq)
        for c in calls:
            if c["service"] == "ec2" and c["action"]:
                self.actions_seen.add(c["action"])
                self.recent_actions.append(c["action"])
        if calls:
            self.seen_seq = calls[-1]["seq"]

    # ---- the events ----

    def takeover(self, n, timeout=20):
        t = time.monotonic()
        rc, out = n.ctl_json("takeover", "--timeout", str(timeout), timeout=timeout + 15)
        dt = time.monotonic() - t
        verified = None
        if rc == 0:
            verified = self.all_at(ENI[n.iid])
        rec = {"t": round(t - self.t0, 1), "rc": rc, "seconds": round(dt, 3), "moved": out.get("moved"),
               "code": (out.get("error") or {}).get("code"), "verified": verified}
        n.takeovers.append(rec)
        return rec

    def event_takeover(self):
        n = self.nodes[self.takeover_turn % 2]
        self.takeover_turn += 1
        rec = self.takeover(n)
        if rec["rc"] != 0:
            log("%s: takeover exit %d (%s) after %.2f s" % (n.name, rec["rc"], rec["code"], rec["seconds"]))
        elif not rec["verified"]:
            log("%s: takeover exit 0 but the state does not show everything here" % n.name)

    def event_tag_change(self):
        n = self.nodes[self.churn_turn % 2]
        self.churn_turn += 1
        n.seq += 1
        value = "v%d" % n.seq
        with self.monitor.lock:
            self.sim.set_tags(n.iid, {ENV_TAG: value})
            n.tag_value = value
            n.tag_set[value] = time.monotonic()
        self.tag_changes += 1

    def event_reload(self):
        n = self.rng.choice(self.nodes)
        rc, out = n.ctl_json("reload", timeout=60)
        current = None
        if rc != 0:
            code = (out.get("error") or {}).get("code", "exit %d" % rc)
            n.reload_errors[code] += 1
            log("%s: cdpctl reload exit %d: %s" % (n.name, rc, json.dumps(out.get("error"))))
        else:
            current = read_env(n.env_path) == n.tag_value
            if not current:
                log("%s: cdpctl reload exit 0 but env has %s, tag is %s" % (n.name, read_env(n.env_path),
                                                                           n.tag_value))
        n.reloads.append((rc, current))

    def event_status(self):
        for n in self.nodes:
            r = n.ctl("status", timeout=15)
            if r.returncode == 0:
                n.status_ok += 1
            else:
                n.status_fail += 1
                log("%s: cdpctl status exit %d: %s" % (n.name, r.returncode, r.stderr.strip()))

    def event_fault(self):
        if self.rng.random() < 0.1:
            kind = self.rng.choice(["throttle", "error", "drop"])
            spec = {"service": "imds", "instance": self.rng.choice([WEB1, WEB2]),
                    "path": self.rng.choice(IMDS_PATHS), "kind": kind, "count": 1}
            self.sim.fault(**spec)
            self.faults["imds " + kind] += 1
            self.fault_actions["imds " + spec["path"]] += 1
            return
        self.last_seq()
        pending = {f["action"] for f in self.sim.control("GET", "/_sim/faults") if f["service"] == "ec2"}
        if self.recent_actions and self.rng.random() < 0.5:
            action = self.rng.choice(self.recent_actions)
        else:
            choices = sorted(self.actions_seen - pending)
            if not choices:
                return
            action = self.rng.choice(choices)
        self.recent_actions = []
        kind = self.rng.choice(EC2_KINDS)
        spec = {"service": "ec2", "action": action, "kind": kind, "count": 1}
        if kind == "latency":
            spec["latency_ms"] = self.rng.randint(200, 3000)
        elif kind == "error" and self.rng.random() < 0.5:
            spec["status"] = 503
        elif kind == "throttle" and action == "CreateSnapshots":
            spec["code"] = self.rng.choice(SNAPSHOT_THROTTLE_CODES)
        self.sim.fault(**spec)
        self.faults["ec2 " + kind] += 1
        self.fault_actions[action] += 1

    def event_expire(self):
        kind = self.rng.choice(["token_expire", "creds_expire"])
        inst = self.rng.choice([WEB1, WEB2, None])
        spec = {"service": "imds", "kind": kind}
        if inst:
            spec["instance"] = inst
        self.sim.fault(**spec)
        self.expiries[kind] += 1

    # ---- the run ----

    def run(self):
        self.start()
        # warm-up: each daemon takes over once (both warm connections open)
        self.t0 = time.monotonic()
        for n in self.nodes:
            rec = self.takeover(n)
            if rec["rc"] != 0:
                raise RuntimeError("warm-up takeover on %s failed: %s" % (n.name, rec))
        for n in self.nodes:
            n.takeovers.clear()
        self.t0 = time.monotonic()
        self.monitor = Monitor(self.nodes, self.t0)
        self.monitor.start()
        self.last_seq()

        end = self.t0 + self.args.seconds
        u = self.rng.uniform
        due = {
            "tag": self.t0 + u(5, 10),
            "takeover": self.t0 + u(10, 20),
            "fault": self.t0 + u(2, 5),
            "expire": self.t0 + u(45, 90),
            "reload": self.t0 + u(30, 60),
            "status": self.t0 + 60,
            "progress": self.t0 + 60,
        }
        period = {"tag": (5, 10), "takeover": (10, 20), "fault": (2, 5), "expire": (45, 90),
                  "reload": (30, 60), "status": (60, 60), "progress": (60, 60)}
        handlers = {"tag": self.event_tag_change, "takeover": self.event_takeover,
                    "fault": self.event_fault, "expire": self.event_expire,
                    "reload": self.event_reload, "status": self.event_status,
                    "progress": self.progress}
        log("soak for %d s (seed %s)" % (self.args.seconds, self.args.seed))
        while True:
            now = time.monotonic()
            if now >= end:
                break
            dead = [n for n in self.nodes if not n.alive()]
            if dead:
                self.failures.append("%s died during the soak (exit %s)" % (
                    ", ".join(n.name for n in dead), [n.d.proc.returncode for n in dead]))
                log(self.failures[-1])
                break
            name = min(due, key=due.get)
            if due[name] > now:
                time.sleep(min(due[name] - now, end - now, 0.5))
                continue
            try:
                handlers[name]()
            except (subprocess.TimeoutExpired, urllib.error.URLError, OSError, ValueError) as err:
                log("%s: %s" % (name, err))
            due[name] = time.monotonic() + u(*period[name])
        self.settle()

    def progress(self):
        t = time.monotonic() - self.t0
        parts = []
        for n in self.nodes:
            s = n.samples[-1] if n.samples else (0, 0, 0, 0, 0)
            ok = sum(1 for x in n.takeovers if x["rc"] == 0)
            parts.append("%s RssAnon %d KiB fds %d takeovers %d/%d tags seen %d" % (
                n.name, s[2], s[3], ok, len(n.takeovers), len(n.tag_seen)))
        log("t=%3.0f s: %s; faults %d" % (t, "; ".join(parts), sum(self.faults.values())))

    def status_snapshot(self, n):
        rc, out = n.ctl_json("status", timeout=15)
        return out.get("snapshot") if rc == 0 else None

    def settle(self):
        log("soak over: clearing faults, settling")
        self.soak_seconds = time.monotonic() - self.t0
        self.sim.control("DELETE", "/_sim/faults")
        cleared_at = time.time()
        time.sleep(1)
        for n in self.nodes:
            if not n.alive():
                continue
            r = n.ctl("reload", timeout=60)
            current = r.returncode == 0 and read_env(n.env_path) == n.tag_value
            n.reloads.append((r.returncode, current))
            n.final_reload = (r.returncode, current)
        for n in self.nodes:
            if n.alive():
                n.final_takeover = self.takeover(n)
        # wait for one scheduled backup per daemon that started after the faults were cleared
        deadline = time.monotonic() + 150
        pending = [n for n in self.nodes if n.alive()]
        while pending and time.monotonic() < deadline:
            for n in list(pending):
                snap = self.status_snapshot(n)
                last = (snap or {}).get("last_run") or {}
                if snap and snap.get("running") is None and last.get("started_at") and \
                        parse_time(last["started_at"]) >= cleared_at:
                    n.final_run = last
                    pending.remove(n)
            time.sleep(1)
        for n in pending:
            self.failures.append("%s: no scheduled backup finished within 150 s of the settle" % n.name)
        time.sleep(0.5)
        with self.monitor.lock:
            for n in self.nodes:
                if n.alive():
                    n.sample(time.monotonic() - self.t0)
        self.monitor.stop()
        self.settle_seconds = time.monotonic() - self.t0 - self.soak_seconds

    # ---- checks and report ----

    def check(self):
        a = self.args
        warmup = min(60.0, a.seconds / 4)
        reg = self.region()
        calls = self.sim.calls(service="ec2")
        fig = {"seconds": round(self.soak_seconds), "settle_seconds": round(self.settle_seconds),
               "seed": a.seed, "machine": machine(), "nodes": {}, "checks": []}

        # one per slot, from the call log (the CreateSnapshots that ran) and the state
        created = collections.Counter()
        for c in calls:
            if c["action"] != "CreateSnapshots" or c["status"] != 200 or c["params"].get("DryRun") == "true":
                continue
            p = c["params"]
            slot = None
            for k, v in p.items():
                if k.startswith("TagSpecification.") and k.endswith(".Key") and v == "cdp:slot":
                    slot = p[k[:-4] + ".Value"]
            created[(p.get("InstanceSpecification.InstanceId"), slot)] += 1
        twice_log = sorted("%s %s x%d" % (NAME.get(i, i), s, k) for (i, s), k in created.items() if k > 1)

        vol_dev = {}
        for iid in (WEB1, WEB2):
            for dev, v in reg["instances"][iid]["block_devices"].items():
                vol_dev[(v if isinstance(v, str) else v.get("volume_id"))] = dev
        gens = {(iid, dev): 0 for iid in (WEB1, WEB2) for dev in DEVICES[iid]}
        per_slot = collections.Counter()
        for s in reg["snapshots"].values():
            tags = s.get("tags") or {}
            if tags.get("cdp:managed-by") != "cdpd" or tags.get("cdp:instance-id") not in (WEB1, WEB2):
                continue
            iid = tags["cdp:instance-id"]
            dev = tags.get("cdp:device") or vol_dev.get(s.get("volume_id"))
            per_slot[(iid, dev, tags.get("cdp:slot"))] += 1
            if s.get("state") == "completed":
                gens[(iid, dev)] = gens.get((iid, dev), 0) + 1
        twice_state = sorted("%s %s %s x%d" % (NAME.get(i, i), d, s, k) for (i, d, s), k in per_slot.items()
                             if k > 1)

        consumed = collections.Counter(c.get("fault") for c in self.sim.calls() if c.get("fault"))
        fig["faults"] = {"injected": sum(self.faults.values()), "by_kind": dict(sorted(self.faults.items())),
                         "by_target": dict(self.fault_actions.most_common()),
                         "consumed": sum(consumed.values()), "consumed_by_kind": dict(sorted(consumed.items())),
                         "expiries": dict(self.expiries)}
        fig["tag_changes"] = self.tag_changes
        fig["api_calls"] = len(calls)

        ok_all = True

        def check(name, ok, detail):
            nonlocal ok_all
            fig["checks"].append({"check": name, "ok": bool(ok), "detail": detail})
            if not ok:
                ok_all = False
                self.failures.append("%s: %s" % (name, detail))

        for n in self.nodes:
            s = n.samples
            base = next((x for x in s if x[0] >= warmup), s[-1] if s else None)
            first, last = (s[0], s[-1]) if s else (None, None)
            after = [(x[0], x[2]) for x in s if base and x[0] >= base[0]]
            tcp_ref = max((x[4] for x in s if x[0] <= a.seconds / 2), default=0)
            tk = n.takeovers
            ok_tk = [x for x in tk if x["rc"] == 0]
            backups = sorted({sl for (i, sl), _ in created.items() if i == n.iid})
            lags = [n.tag_seen[v] - n.tag_set[v] for v in n.tag_set if v in n.tag_seen]
            nf = {
                "pid": n.pid,
                "samples": len(s),
                "VmRSS_kib": {"first": first[1], "last": last[1], "max": max(x[1] for x in s)} if s else None,
                "RssAnon_kib": {"first": first[2], "baseline": base[2], "baseline_t": base[0], "last": last[2],
                                "max": max(x[2] for x in s),
                                "slope_kib_per_h": round(slope_kib_per_hour(after), 1)} if s else None,
                "fds": {"first": first[3], "last": last[3], "max": max(x[3] for x in s)} if s else None,
                "other_fds": {"first": first[3] - first[4], "last": last[3] - last[4],
                              "max": max(x[3] - x[4] for x in s)} if s else None,
                "tcp": {"first": first[4], "first_half_max": tcp_ref, "last": last[4],
                        "max": max(x[4] for x in s)} if s else None,
                "takeovers": len(tk), "takeovers_ok": len(ok_tk),
                "takeovers_failed_codes": dict(collections.Counter(x["code"] for x in tk if x["rc"] != 0)),
                "takeover_median_ms": round(statistics.median(x["seconds"] for x in ok_tk) * 1000, 1)
                if ok_tk else None,
                "takeover_max_ms": round(max(x["seconds"] for x in ok_tk) * 1000, 1) if ok_tk else None,
                "backups": len(backups),
                "tag_changes": len(n.tag_set),
                "tag_changes_seen": len([v for v in n.tag_seen if v != "v0"]),
                "tag_lag_median_s": round(statistics.median(lags), 2) if lags else None,
                "tag_lag_max_s": round(max(lags), 2) if lags else None,
                "reloads": len(n.reloads), "reloads_ok": sum(1 for r in n.reloads if r[0] == 0),
                "reload_errors": dict(n.reload_errors),
                "status_checks": n.status_ok + n.status_fail, "status_failed": n.status_fail,
                "generations": {dev: gens.get((n.iid, dev), 0) for dev in DEVICES[n.iid]},
                "final_run": getattr(n, "final_run", None),
                "log_lines": log_levels(n.d.log()),
            }
            fig["nodes"][n.name] = nf
            label = n.name
            if s:
                check("memory flat " + label, last[2] <= base[2] + RSS_SLACK_KIB,
                      "RssAnon last %d KiB vs baseline %d KiB at t=%.0f s (+%d allowed)" % (
                          last[2], base[2], base[0], RSS_SLACK_KIB))
                check("fds flat " + label, last[3] - last[4] <= first[3] - first[4] + FD_SLACK,
                      "fds other than TCP connections: last %d vs first %d (+%d allowed); all fds %d -> %d" % (
                          last[3] - last[4], first[3] - first[4], FD_SLACK, first[3], last[3]))
                check("connections " + label, last[4] <= tcp_ref + FD_SLACK,
                      "TCP connections: last %d vs the first half's most %d (+%d allowed)" % (
                          last[4], tcp_ref, FD_SLACK))
            else:
                check("samples " + label, False, "no /proc sample")
            alive = n.alive()
            st = n.ctl("status", timeout=15) if alive else None
            ft = getattr(n, "final_takeover", None)
            check("alive " + label, alive and st.returncode == 0 and ft and ft["rc"] == 0 and ft["verified"],
                  "running %s, status exit %s, final takeover %s" % (
                      alive, st.returncode if st else "-", ft and (ft["rc"], ft["code"], ft["verified"])))
            bad_gens = {d: k for d, k in nf["generations"].items() if k != KEEP}
            check("generations " + label, not bad_gens,
                  "completed generations per device %s (keep %d)" % (json.dumps(nf["generations"]), KEEP))
            bad_reloads = [r for r in n.reloads if r[0] == 0 and not r[1]]
            check("reload " + label, not bad_reloads,
                  "%d reloads, %d exit 0, %d of those left env stale" % (
                      len(n.reloads), nf["reloads_ok"], len(bad_reloads)))
            unverified = [x for x in ok_tk if not x["verified"]]
            check("takeovers " + label, ok_tk and not unverified,
                  "%d/%d succeeded, %d of those not verified in the state" % (len(ok_tk), len(tk), len(unverified)))
        check("one backup per slot", not twice_log and not twice_state,
              "created twice (call log): %s; twice in state: %s" % (twice_log or "none", twice_state or "none"))
        fig["ok"] = ok_all
        self.figures = fig
        return ok_all

    def report(self):
        fig = self.figures
        rows = [("", "web-1", "web-2")]

        def row(label, fn):
            rows.append((label,) + tuple(fn(fig["nodes"][NAME[i]]) for i in (WEB1, WEB2)))

        row("VmRSS KiB first / last / max", lambda n: "%d / %d / %d" % tuple(n["VmRSS_kib"][k] for k in
                                                                           ("first", "last", "max")))
        row("RssAnon KiB first / baseline / last / max", lambda n: "%d / %d / %d / %d" % tuple(
            n["RssAnon_kib"][k] for k in ("first", "baseline", "last", "max")))
        row("RssAnon slope after baseline", lambda n: "%+.0f KiB/h" % n["RssAnon_kib"]["slope_kib_per_h"])
        row("open fds first / last / max", lambda n: "%d / %d / %d" % tuple(n["fds"][k] for k in
                                                                          ("first", "last", "max")))
        row("  of which TCP first / 1st-half max / last / max", lambda n: "%d / %d / %d / %d" % tuple(
            n["tcp"][k] for k in ("first", "first_half_max", "last", "max")))
        row("  other fds first / last / max", lambda n: "%d / %d / %d" % tuple(n["other_fds"][k] for k in
                                                                             ("first", "last", "max")))
        row("takeovers ok / asked", lambda n: "%d / %d" % (n["takeovers_ok"], n["takeovers"]))
        row("takeover median / max (ok)", lambda n: "%s / %s ms" % (n["takeover_median_ms"], n["takeover_max_ms"]))
        row("takeover failures", lambda n: json.dumps(n["takeovers_failed_codes"]) if n["takeovers_failed_codes"]
            else "-")
        row("backups taken (slots)", lambda n: str(n["backups"]))
        row("generations at the end", lambda n: ", ".join("%s %d" % kv for kv in n["generations"].items()))
        row("tag changes made / seen in env", lambda n: "%d / %d" % (n["tag_changes"], n["tag_changes_seen"]))
        row("tag change to env median / max", lambda n: "%s / %s s" % (n["tag_lag_median_s"], n["tag_lag_max_s"]))
        row("reloads ok / asked", lambda n: "%d / %d%s" % (n["reloads_ok"], n["reloads"], "".join(
            " (%s %d)" % kv for kv in n["reload_errors"].items())))
        row("status checks failed", lambda n: "%d / %d" % (n["status_failed"], n["status_checks"]))
        row("log lines (level: n)", lambda n: ", ".join("%s %d" % kv for kv in sorted(n["log_lines"].items())))
        w = [max(len(r[i]) for r in rows) for i in range(3)]
        print()
        print("soak: %d s (+%d s settle), seed %s, %s" % (fig["seconds"], fig["settle_seconds"], fig["seed"],
                                                          fig["machine"]))
        for r in rows:
            print("  %-*s  %-*s  %-*s" % (w[0], r[0], w[1], r[1], w[2], r[2]))
        f = fig["faults"]
        print("faults injected %d (%s), consumed %d; expiries %s; EC2 calls %d" % (
            f["injected"], ", ".join("%s %d" % kv for kv in f["by_kind"].items()), f["consumed"],
            json.dumps(f["expiries"]), fig["api_calls"]))
        print("checks:")
        for c in fig["checks"]:
            print("  %-4s %-22s %s" % ("ok" if c["ok"] else "FAIL", c["check"], c["detail"]))
        print("soak: %s" % ("PASS" if fig["ok"] else "FAIL"))
        if self.args.json:
            with open(self.args.json, "w") as fh:
                json.dump(dict(fig, samples={n.name: n.samples for n in self.nodes},
                               finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())), fh, indent=1)
            log("figures written to %s" % self.args.json)


def log_levels(text):
    c = collections.Counter()
    for line in text.splitlines():
        level, sep, _ = line.partition(":")
        if sep and level in ("debug", "info", "notice", "warning", "error", "critical", "alert", "emerg"):
            c[level] += 1
    return dict(c)


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%s, %d cores, Linux %s" % (model, os.cpu_count() or 0, platform.release())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=int, default=600, help="length of the soak (default 600)")
    p.add_argument("--builddir", help="where daemon/cdpd and daemon/cdpctl are (default: $CDP_TOP_BUILDDIR, "
                                      "else the source tree)")
    p.add_argument("--json", help="also write the figures (and every sample) to this file")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock, printed)")
    p.add_argument("--keep-dir", action="store_true", help="keep the daemons' logs and run dirs")
    args = p.parse_args()
    if args.seed is None:
        args.seed = int(time.time()) % 100000
    if args.seconds < 20:
        p.error("--seconds must be at least 20")
    if args.builddir:
        simharness.CDPD = os.path.join(args.builddir, "daemon", "cdpd")
        simharness.CDPCTL = os.path.join(args.builddir, "daemon", "cdpctl")
    for binary in (simharness.CDPD, simharness.CDPCTL):
        if not os.access(binary, os.X_OK):
            sys.exit("%s is not built (use --builddir)" % binary)

    s = Soak(args)

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    # a hard limit: the soak, the settle (at most ~4 min) and a margin
    signal.signal(signal.SIGALRM, on_signal)
    signal.alarm(args.seconds + 600)
    ok = False
    try:
        s.run()
        ok = s.check()
        s.report()
    except KeyboardInterrupt:
        s.failures.append("interrupted")
        log("interrupted (signal, or the hard time limit of --seconds + 600 s)")
    except Exception as err:
        s.failures.append("error: %s" % err)
        log("soak aborted: %r" % err)
        raise
    finally:
        signal.alarm(0)
        if getattr(s, "monitor", None):
            s.monitor.stop()
        s.cleanup()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
