#!/usr/bin/python3
"""A real heartbeat failover (issue 5, SPEC 11): two nodes as two network
namespaces joined by a veth pair, real keepalived in each speaking unicast
VRRPv3 with 100 ms adverts, each node's notify_master running `cdpctl
--socket <its cdpd> takeover`. The two cdpd (web-1 and web-2) run in the root
namespace, where the simulator listens on 127.0.0.1; their Unix sockets are
reachable from inside the namespaces.

The master's keepalived is killed with SIGKILL; the backup takes over and the
simulator shows the routes, the Elastic IP and the secondary IP on the
backup's interface. The time from the kill to the AWS side moved is taken
from the simulator's call log and printed (target: under 0.4 s, of which
keepalived's own detection is about 0.32 s)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from simharness import CDPCTL, TOP_SRCDIR, Daemon, Simulator, main  # noqa: E402
from test_ha import ENI1, ENI2, RTB_A, RTB_B, EIP, SECONDARY, VIP, WEB1, WEB2, ha_tags  # noqa: E402

KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"
WRITES = {"CreateRoute", "ReplaceRoute", "AssociateAddress", "AssignPrivateIpAddresses",
          "ModifyNetworkInterfaceAttribute"}

CONFIG = """# test node {name}
global_defs {{
    router_id cdp_{name}
    vrrp_version 3
    script_user root
    enable_script_security
}}

vrrp_instance VI_CDP {{
    state {state}
    interface {dev}
    virtual_router_id 51
    priority {priority}
    advert_int 0.1
    unicast_src_ip {me}
    unicast_peer {{
        {peer}
    }}
    virtual_ipaddress {{
        10.99.0.100/24 dev {dev}
    }}
    notify_master "{notify} master"
    notify_backup "{notify} backup"
    notify_fault "{notify} fault"
}}
"""

# The keepalived notify script of a test node: the shipped
# conf/keepalived/cdpd-notify.sh, with timestamps around it for the test.
NOTIFY = """#!/bin/sh
echo "start $1 $(date +%s.%N)" >> {log}
CDPCTL={cdpctl} CDPD_SOCKET={socket} CDPD_TIMEOUT=10 /bin/sh {script} "$1" >> {out} 2>&1
echo "done $1 $? $(date +%s.%N)" >> {log}
"""
NOTIFY_SCRIPT = os.path.join(TOP_SRCDIR, "conf", "keepalived", "cdpd-notify.sh")
EXAMPLE = os.path.join(TOP_SRCDIR, "conf", "keepalived", "keepalived.conf.example")


def ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), capture_output=True, text=True, check=check)


def can_run():
    if os.geteuid() != 0:
        return "needs root (network namespaces, keepalived)"
    if not shutil.which("ip"):
        return "ip(8) is not installed"
    if not os.access(KEEPALIVED, os.X_OK):
        return "keepalived is not installed (Debian package keepalived)"
    probe = "cdpfo-probe-%d" % os.getpid()
    r = ip("netns", "add", probe, check=False)
    if r.returncode != 0:
        return "ip netns add failed: " + r.stderr.strip()
    ip("netns", "del", probe, check=False)
    return None


class Node:
    def __init__(self, test, name, instance, dev, me, peer, priority, state):
        self.test = test
        self.name = name
        self.ns = "cdpfo-%s-%d" % (name, os.getpid())
        self.dir = os.path.join(test.tmp, name)
        os.makedirs(self.dir)
        self.instance = instance
        self.dev, self.me, self.peer = dev, me, peer
        self.priority, self.state = priority, state
        self.daemon = None
        self.proc = None
        self.notify_log = os.path.join(self.dir, "notify.log")
        self.keepalived_log = os.path.join(self.dir, "keepalived.log")

    def start_cdpd(self):
        self.daemon = Daemon(self.test.sim, self.dir, "", instance=self.instance)
        self.test.addCleanup(self.daemon.stop)
        self.daemon.wait_notify("READY=1")

    def write_config(self):
        notify = os.path.join(self.dir, "notify.sh")
        with open(notify, "w") as f:
            f.write(NOTIFY.format(log=self.notify_log, out=os.path.join(self.dir, "notify.out"),
                                  cdpctl=CDPCTL, socket=self.daemon.socket, script=NOTIFY_SCRIPT))
        os.chmod(notify, 0o755)
        self.config = os.path.join(self.dir, "keepalived.conf")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(name=self.name, state=self.state, dev=self.dev, priority=self.priority,
                                  me=self.me, peer=self.peer, notify=notify))
        os.chmod(self.config, 0o644)

    def start_keepalived(self):
        self.write_config()
        self.log = open(self.keepalived_log, "w")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, KEEPALIVED, "--dont-fork", "--log-console", "--log-detail",
             "--vrrp", "--use-file", self.config,
             "--pid", os.path.join(self.dir, "keepalived.pid"),
             "--vrrp_pid", os.path.join(self.dir, "vrrp.pid")],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.test.addCleanup(self.kill_keepalived)

    def pids(self):
        r = ip("netns", "pids", self.ns, check=False)
        return [int(p) for p in r.stdout.split()]

    def kill_keepalived(self, sig=signal.SIGKILL):
        """Every keepalived process of this node at once (a crash, not a
        shutdown: no priority-0 advert goes out). All are stopped first:
        killed one by one, the VRRP child could see its parent die and send
        a priority-0 advert (a graceful hand-over in ~50 ms) before its own
        SIGKILL arrives, which would measure the wrong thing."""
        pids = self.pids()
        if sig == signal.SIGKILL:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGSTOP)
                except ProcessLookupError:
                    pass
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if self.proc:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()
            self.proc = None

    def notify_events(self):
        if not os.path.exists(self.notify_log):
            return []
        with open(self.notify_log) as f:
            return [line.split() for line in f if line.strip()]

    def keepalived_output(self):
        with open(self.keepalived_log, errors="replace") as f:
            return f.read()[-3000:]


class FailoverTest(unittest.TestCase):

    def setUp(self):
        why = can_run()
        if why:
            self.skipTest(why)
        self.tmp = tempfile.mkdtemp(prefix="cdpd-failover-")
        os.chmod(self.tmp, 0o755)
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.sim = Simulator("basic.json", edit=ha_tags)
        self.addCleanup(self.sim.stop)

        # VRRPv3: the backup declares the master dead after 3 adverts plus a
        # skew of (256 - priority) / 256 adverts: 0.32 s at priority 200.
        self.a = Node(self, "a", WEB1, "cdpfo-a", "10.99.0.1", "10.99.0.2", 250, "MASTER")
        self.b = Node(self, "b", WEB2, "cdpfo-b", "10.99.0.2", "10.99.0.1", 200, "BACKUP")
        for n in (self.a, self.b):
            ip("netns", "add", n.ns)
            self.addCleanup(ip, "netns", "del", n.ns, check=False)
        ip("link", "add", self.a.dev, "netns", self.a.ns, "type", "veth", "peer", "name", self.b.dev,
           "netns", self.b.ns)
        for n in (self.a, self.b):
            ip("-n", n.ns, "link", "set", "lo", "up")
            ip("-n", n.ns, "addr", "add", n.me + "/24", "dev", n.dev)
            ip("-n", n.ns, "link", "set", n.dev, "up")

    def wait(self, pred, timeout, what):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return
            time.sleep(0.01)
        self.fail("timed out waiting for %s\nA: %s\nB: %s" % (what, self.a.keepalived_output(),
                                                              self.b.keepalived_output()))

    def region(self):
        return self.sim.state()["regions"]["us-east-1"]

    def all_at(self, eni):
        reg = self.region()
        routes = [r for t in (RTB_A, RTB_B) for r in reg["route_tables"][t]["routes"]
                  if r["destination_cidr_block"] == VIP]
        return (len(routes) == 2 and all(r["target"].get("NetworkInterfaceId") == eni for r in routes)
                and (reg["addresses"][EIP]["association"] or {}).get("network_interface_id") == eni
                and SECONDARY in reg["network_interfaces"][eni]["private_ips"])

    def test_failover__sigkill_master__backup_takes_everything(self):
        for n in (self.a, self.b):
            n.start_cdpd()

        # A becomes master and takes everything from web-2
        self.a.start_keepalived()
        self.wait(lambda: any(e[:3] == ["done", "master", "0"] for e in self.a.notify_events()), 15,
                  "node A's takeover")
        self.assertTrue(self.all_at(ENI1))

        # B joins as backup
        self.b.start_keepalived()
        self.wait(lambda: any(e[:2] == ["done", "backup"] for e in self.b.notify_events()), 15,
                  "node B in BACKUP")
        time.sleep(0.5)
        self.assertFalse(any(e[1] == "master" for e in self.b.notify_events()), "B must stay backup")
        since = self.sim.calls()[-1]["seq"] if self.sim.calls() else 0

        # crash A
        t_kill = time.time()
        self.a.kill_keepalived(signal.SIGKILL)
        self.wait(lambda: self.all_at(ENI2), 20, "the AWS side on node B")
        self.wait(lambda: any(e[:2] == ["done", "master"] for e in self.b.notify_events()), 15,
                  "node B's takeover to return")

        calls = [c for c in self.sim.calls(service="ec2") if c["seq"] > since]
        writes = [c for c in calls if c["action"] in WRITES
                  and c["params"].get("NetworkInterfaceId") == ENI2 and c["status"] == 200]
        self.assertTrue(writes, "no write of node B in the call log")
        key = writes[0]["access_key_id"]
        last_write = max(c["t"] for c in writes)
        # The verifying describe starts once every write was answered.
        verify = [c["t"] for c in calls if c["access_key_id"] == key and c["action"].startswith("Describe")
                  and c["t"] >= last_write]
        moved_at = min(verify) if verify else last_write
        start = [float(e[2]) for e in self.b.notify_events() if e[:2] == ["start", "master"]][0]
        done = [e for e in self.b.notify_events() if e[:2] == ["done", "master"]][0]
        self.assertEqual(done[2], "0", "cdpctl takeover on B failed: " + open(os.path.join(
            self.b.dir, "notify.out")).read())

        detection = start - t_kill
        total = moved_at - t_kill
        print("\nfailover: SIGKILL -> AWS moved %.3f s (keepalived detection + notify %.3f s, "
              "cdpd %.3f s, cdpctl returned after %.3f s); target < 0.4 s"
              % (total, detection, moved_at - start, float(done[3]) - t_kill))
        with open(os.path.join(os.environ.get("CDP_TEST_RESULTS", self.tmp), "failover-time.json"), "w") as f:
            json.dump({"kill_to_aws_moved_s": total, "detection_s": detection,
                       "cdpd_s": moved_at - start, "cdpctl_done_s": float(done[3]) - t_kill}, f)
        # A timed test would be flaky on a busy machine; SPEC 11 budgets are
        # the benchmarks'. This only proves the failover happened at all in
        # reasonable time.
        self.assertLess(total, 10)
        self.assertTrue(self.all_at(ENI2))
        self.assertFalse(self.region()["network_interfaces"][ENI2]["source_dest_check"])


class KitTest(unittest.TestCase):
    """The shipped keepalived example and notify script."""

    def test_example__keepalived_config_test__accepted(self):
        if not os.access(KEEPALIVED, os.X_OK):
            self.skipTest("keepalived is not installed (Debian package keepalived)")
        r = subprocess.run([KEEPALIVED, "--config-test", "--use-file", EXAMPLE], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(EXAMPLE) as f:
            text = f.read()
        self.assertIn('notify_master "/usr/bin/cdpctl takeover"', text)
        self.assertIn("vrrp_version 3", text)
        self.assertIn("enable_script_security", text)
        self.assertIn("script_user root", text)

    def run_notify(self, *args, **env):
        tmp = tempfile.mkdtemp(prefix="cdpd-notify-")
        self.addCleanup(shutil.rmtree, tmp, True)
        fake = os.path.join(tmp, "cdpctl")
        record = os.path.join(tmp, "args")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\necho \"$CDPD_SOCKET|$*\" >> %s\nexit ${FAKE_RC:-0}\n" % record)
        os.chmod(fake, 0o755)
        e = {"PATH": "/usr/bin:/bin", "CDPCTL": fake, "CDPD_SOCKET": "/run/x.sock"}
        e.update(env)
        r = subprocess.run(["/bin/sh", NOTIFY_SCRIPT] + list(args), env=e, capture_output=True, text=True)
        calls = open(record).read().splitlines() if os.path.exists(record) else []
        return r.returncode, calls

    def test_notify__states__takeover_or_release(self):
        self.assertEqual(self.run_notify("INSTANCE", "VI_CDPD", "MASTER", "150"),
                         (0, ["/run/x.sock|takeover"]))
        self.assertEqual(self.run_notify("master"), (0, ["/run/x.sock|takeover"]))
        for state in ("BACKUP", "FAULT", "STOP"):
            self.assertEqual(self.run_notify("GROUP", "G", state), (0, ["/run/x.sock|release"]))
        self.assertEqual(self.run_notify("backup", CDPD_PATTERN="routing-ha"), (0, ["/run/x.sock|release routing-ha"]))
        self.assertEqual(self.run_notify("master", CDPD_PATTERN="floating-ip", CDPD_TIMEOUT="7"),
                         (0, ["/run/x.sock|takeover floating-ip --timeout 7"]))
        self.assertEqual(self.run_notify("master", FAKE_RC="1"), (1, ["/run/x.sock|takeover"]))
        self.assertEqual(self.run_notify("INSTANCE", "VI", "DELETED"), (2, []))
        self.assertEqual(self.run_notify(), (2, []))


if __name__ == "__main__":
    main()
