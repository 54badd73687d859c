#!/usr/bin/python3
"""bench-takeover: how long a takeover of 2 route tables + 1 Elastic IP takes
with cdpd already running, against what users run today, on the simulator
(SPEC 11), at 0 and 50 ms of simulated latency per EC2 call:

  cdpd       `cdpctl takeover`, from its start to its exit; also cdpd's own CPU
             time per takeover (/proc/PID/schedstat) and the API round trips
             on the critical path (from the takeover's reply).
  agent      resource-agents' aws-vpc-move-ip `start` (Debian package
             resource-agents) for the two route tables, its aws cli pointed at
             the simulator by a wrapper named `aws` on PATH (and its curl to
             169.254.169.254 by a wrapper named `curl`).
  aws cli    the same as plain aws cli calls, one after another as scripts do:
             two `aws ec2 replace-route` and one `aws ec2 associate-address`.

Every run alternates the owner (web-1 takes over from web-2, then web-2 from
web-1, ...), so every run writes. When run as root everything happens in a
private network namespace (aws-vpc-move-ip adds the address to a local
interface); otherwise the agent is left out.

Setup: installs awscli and resource-agents with apt-get when they are missing
and it may (root); nothing else. Writes bench/RESULTS-takeover.md.

  bench/bench-takeover.py [--runs 20] [--agent-runs 3] [--cli-runs 5]
                          [--latency 0,50] [--builddir DIR] [--results FILE]
"""

import argparse
import ctypes
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

import simharness  # noqa: E402

WEB1, WEB2 = "i-0123456789abcdef0", "i-0fedcba9876543210"
ENI = {WEB1: "eni-0a1b2c3d4e5f60001", WEB2: "eni-0a1b2c3d4e5f60002"}
MAC = {WEB1: "0e:00:00:00:00:01", WEB2: "0e:00:00:00:00:02"}
IFACE = {WEB1: "cdpbench1", WEB2: "cdpbench2"}
RTB_A, RTB_B = "rtb-0aaa1111bbbb22223", "rtb-0ccc3333dddd44445"
EIP = "eipalloc-0abc123def4567890"
VIP = "192.168.100.10"
AGENT = "/usr/lib/ocf/resource.d/heartbeat/aws-vpc-move-ip"
REAL_AWS = "/usr/bin/aws"
CLONE_NEWNET = 0x40000000


def log(msg):
    print(msg, flush=True)


def percentile(xs, p):
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def fmt(sec):
    return "%.1f ms" % (sec * 1000) if sec < 10 else "%.2f s" % sec


def installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return r.returncode == 0 and "install ok installed" in r.stdout


def ensure_packages(pkgs):
    """The bench's own setup step: apt-get install what is missing."""
    missing = [p for p in pkgs if shutil.which("dpkg-query") and not installed(p)]
    if not missing:
        return True
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        log("setup: %s missing and cannot be installed here" % " ".join(missing))
        return False
    log("setup: apt-get install %s" % " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], env=env, check=False, stdout=subprocess.DEVNULL)
    r = subprocess.run(["apt-get", "install", "-y", "-q"] + missing, env=env, stdout=subprocess.DEVNULL)
    return r.returncode == 0


def version_of(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else "?"


def setns(fd):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), capture_output=True, text=True, check=check)


def schedstat_ns(pid):
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0])


def scenario(data):
    """Both instances carry the HA tags: 2 route tables and 1 Elastic IP."""
    insts = data["regions"]["us-east-1"]["instances"]
    for iid in (WEB1, WEB2):
        insts[iid].setdefault("tags", {}).update({
            "cdp:routing-ha": "%s/32@%s+%s" % (VIP, RTB_A, RTB_B),
            "cdp:floating-ip": EIP,
        })


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="bench-takeover-")
        os.chmod(self.tmp, 0o755)
        self.cleanups = []
        self.results = []       # (method, latency_ms, runs, [seconds])
        self.cpu = {}           # latency -> cdpd CPU seconds per takeover
        self.trips = {}         # latency -> (describe rounds, write rounds) medians
        self.notes = []

    def cleanup(self):
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as err:  # noqa: BLE001 - best effort
                log("cleanup: %s" % err)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- environment ----

    def enter_netns(self):
        self.ns = "cdpbench-%d" % os.getpid()
        ip("netns", "add", self.ns)
        self.cleanups.append(lambda: ip("netns", "del", self.ns, check=False))
        home = os.open("/proc/self/ns/net", os.O_RDONLY)
        self.cleanups.append(lambda: os.close(home))
        fd = os.open("/run/netns/" + self.ns, os.O_RDONLY)
        try:
            setns(fd)
        finally:
            os.close(fd)
        self.cleanups.append(lambda: setns(home))
        ip("link", "set", "lo", "up")
        # One "primary interface" per node, with its ENI's MAC (the agent
        # finds its ENI through it).
        ip("link", "add", IFACE[WEB1], "address", MAC[WEB1], "type", "veth", "peer", "name", IFACE[WEB2],
           "address", MAC[WEB2])
        ip("link", "set", IFACE[WEB1], "up")
        ip("link", "set", IFACE[WEB2], "up")

    def start(self):
        self.sim = simharness.Simulator("basic.json", edit=scenario)
        self.cleanups.append(self.sim.stop)
        self.daemons = {}
        for iid in (WEB1, WEB2):
            d = simharness.Daemon(self.sim, os.path.join(self.tmp, iid), "log_level = warning\n", instance=iid)
            self.cleanups.append(d.stop)
            d.wait_notify("READY=1")
            self.daemons[iid] = d
        time.sleep(0.5)     # the warm-up describe rounds

    def latency(self, ms):
        self.sim.control("POST", "/_sim/latency", {"ms": ms})

    def owner_run(self, i):
        """web-1 takes over from web-2 first (see sync()), then back."""
        return WEB1 if i % 2 == 0 else WEB2

    def sync(self):
        """Untimed: everything to web-1 and back to web-2, whatever the
        previous method left (aws-vpc-move-ip moves no Elastic IP), so each
        run writes all; this also warms the simulator (botocore loads an
        action's model on its first use)."""
        for iid in (WEB1, WEB2):
            d = self.daemons[iid]
            r = subprocess.run([simharness.CDPCTL, "--socket", d.socket, "takeover"], capture_output=True,
                               text=True, timeout=120)
            if r.returncode != 0:
                raise RuntimeError("sync takeover failed: " + r.stdout + r.stderr)

    # ---- cdpd ----

    def bench_cdpd(self, ms):
        self.sync()
        times, trips = [], []
        pids = [d.proc.pid for d in self.daemons.values()]
        before = sum(schedstat_ns(p) for p in pids)
        for i in range(self.args.runs):
            d = self.daemons[self.owner_run(i)]
            t0 = time.monotonic()
            r = subprocess.run([simharness.CDPCTL, "--socket", d.socket, "--json", "takeover"],
                               capture_output=True, text=True, timeout=120)
            t1 = time.monotonic()
            if r.returncode != 0:
                raise RuntimeError("cdpctl takeover failed: " + r.stdout + r.stderr)
            out = json.loads(r.stdout)
            if out["moved"] < 3:
                raise RuntimeError("takeover moved %d targets, expected 2 routes + 1 EIP" % out["moved"])
            times.append(t1 - t0)
            trips.append((out["api"]["describe_rounds"], out["api"]["write_rounds"]))
        after = sum(schedstat_ns(p) for p in pids)
        self.cpu[ms] = (after - before) / 1e9 / self.args.runs
        self.trips[ms] = (statistics.median(t[0] for t in trips), statistics.median(t[1] for t in trips))
        self.results.append(("cdpd: cdpctl takeover (2 tables + 1 EIP)", ms, self.args.runs, times))

    # ---- aws cli ----

    def write_aws_config(self):
        self.awsdir = os.path.join(self.tmp, "aws")
        os.makedirs(self.awsdir)
        with open(os.path.join(self.awsdir, "config"), "w") as f:
            f.write("[default]\nregion = us-east-1\noutput = text\n")
        with open(os.path.join(self.awsdir, "credentials"), "w") as f:
            f.write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                    % (simharness.STATIC_KEY, simharness.STATIC_SECRET))
        self.bindir = os.path.join(self.tmp, "bin")
        os.makedirs(self.bindir)
        aws = os.path.join(self.bindir, "aws")
        with open(aws, "w") as f:
            f.write("#!/bin/sh\n# the real aws cli, pointed at the simulator\n"
                    "exec %s --endpoint-url %s \"$@\"\n" % (REAL_AWS, self.sim.ec2_url))
        curl = os.path.join(self.bindir, "curl")
        with open(curl, "w") as f:
            f.write("#!/bin/sh\n# instance metadata of the node being benchmarked, from the simulator\n"
                    "for arg do\n  shift\n  case $arg in\n"
                    "  *169.254.169.254*) arg=$(printf '%s' \"$arg\" | sed \"s#http://169.254.169.254#$BENCH_IMDS#\") ;;\n"
                    "  esac\n  set -- \"$@\" \"$arg\"\ndone\nexec /usr/bin/curl \"$@\"\n")
        for p in (aws, curl):
            os.chmod(p, 0o755)

    def cli_env(self, iid):
        return dict(simharness.clean_env(),
                    PATH=self.bindir + ":/usr/sbin:/usr/bin:/sbin:/bin",
                    HOME=self.tmp,
                    AWS_CONFIG_FILE=os.path.join(self.awsdir, "config"),
                    AWS_SHARED_CREDENTIALS_FILE=os.path.join(self.awsdir, "credentials"),
                    AWS_EC2_METADATA_DISABLED="true", AWS_PAGER="",
                    BENCH_IMDS=self.sim.imds_url(iid))

    def bench_cli(self, ms):
        self.sync()
        times = []
        for i in range(self.args.cli_runs):
            iid = self.owner_run(i)
            eni = ENI[iid]
            script = ("set -e\n"
                      "aws ec2 replace-route --route-table-id %s --destination-cidr-block %s/32 "
                      "--network-interface-id %s\n"
                      "aws ec2 replace-route --route-table-id %s --destination-cidr-block %s/32 "
                      "--network-interface-id %s\n"
                      "aws ec2 associate-address --allocation-id %s --network-interface-id %s "
                      "--allow-reassociation >/dev/null\n") % (RTB_A, VIP, eni, RTB_B, VIP, eni, EIP, eni)
            t0 = time.monotonic()
            r = subprocess.run(["/bin/sh", "-c", script], env=self.cli_env(iid), capture_output=True, text=True)
            t1 = time.monotonic()
            if r.returncode != 0:
                raise RuntimeError("aws cli failed: " + r.stdout + r.stderr)
            times.append(t1 - t0)
        self.results.append(("aws cli: 2 x replace-route + associate-address, sequential", ms,
                             self.args.cli_runs, times))

    # ---- resource-agents ----

    def bench_agent(self, ms):
        self.sync()
        times = []
        for i in range(self.args.agent_runs):
            iid = self.owner_run(i)
            for dev in IFACE.values():
                ip("addr", "del", VIP + "/32", "dev", dev, check=False)
            env = dict(self.cli_env(iid), OCF_ROOT="/usr/lib/ocf", OCF_RESOURCE_INSTANCE="bench-vip",
                       OCF_RESKEY_ip=VIP, OCF_RESKEY_routing_table=RTB_A + "," + RTB_B,
                       OCF_RESKEY_interface=IFACE[iid], OCF_RESKEY_lookup_type="NetworkInterfaceId",
                       OCF_RESKEY_awscli=os.path.join(self.bindir, "aws"), OCF_RESKEY_profile="default",
                       HA_RSCTMP=os.path.join(self.tmp, "rsctmp"))
            t0 = time.monotonic()
            r = subprocess.run([AGENT, "start"], env=env, capture_output=True, text=True, timeout=300)
            t1 = time.monotonic()
            if r.returncode != 0:
                raise RuntimeError("aws-vpc-move-ip start failed (%d): %s" % (r.returncode, r.stdout + r.stderr))
            times.append(t1 - t0)
        for dev in IFACE.values():
            ip("addr", "del", VIP + "/32", "dev", dev, check=False)
        self.results.append(("resource-agents aws-vpc-move-ip start (2 tables)", ms, self.args.agent_runs, times))

    # ---- report ----

    def report(self):
        med = {}
        for method, ms, n, times in self.results:
            med[(method.split(":")[0].split(" ")[0], ms)] = statistics.median(times)
        lines = ["# Takeover benchmark (bench/bench-takeover.py)", "",
                 "Takeover of 2 route tables + 1 Elastic IP on the simulator, cdpd already running; "
                 "every run alternates the owner (web-1 <-> web-2) so every run writes. "
                 "Wall time from the command's start to its exit.", "",
                 "| what | latency per call | runs | median | p90 | median vs cdpd |",
                 "|---|---|---|---|---|---|"]
        for method, ms, n, times in self.results:
            key = method.split(":")[0].split(" ")[0]
            base = med.get(("cdpd", ms))
            ratio = "1x" if key == "cdpd" or not base else "%.0fx slower" % (statistics.median(times) / base)
            lines.append("| %s | %d ms | %d | %s | %s | %s |" % (method, ms, n, fmt(statistics.median(times)),
                                                                fmt(percentile(times, 90)), ratio))
        lines += ["", "cdpd's own CPU time per takeover (both daemons' /proc/PID/schedstat over the cdpd runs):", ""]
        for ms, cpu in sorted(self.cpu.items()):
            d, w = self.trips[ms]
            lines.append("- %d ms latency: %.2f ms CPU; API round trips on the critical path: "
                         "%g describe + %g write = %g" % (ms, cpu * 1000, d, w, d + w))
        lines += ["", "Budgets (SPEC 11): at most 3 round trips and 5 ms of cdpd's own time; under 200 ms "
                      "end to end at 50 ms per call; hundreds of times faster than aws-vpc-move-ip and at "
                      "least 30 times faster than plain aws cli calls.", ""]
        lines += ["Notes:", ""]
        lines += ["- aws-vpc-move-ip moves route table entries only (no Elastic IP); it describes every "
                  "table before and after, one aws cli process per call, with `sleep 1` after each.",
                  "- the aws cli runs through a wrapper on PATH adding `--endpoint-url` of the simulator; "
                  "the agent's curl to 169.254.169.254 goes to the simulator's IMDS the same way.",
                  "- cdpd runs with log_level = warning; its replies report the describe and write rounds."]
        lines += ["- " + n for n in self.notes]
        lines += ["", "Environment: %s, %d CPUs, Python %s; awscli %s, resource-agents %s; cdpd %s." % (
            platform.platform(), os.cpu_count() or 0, platform.python_version(), version_of("awscli"),
            version_of("resource-agents"), self.git_rev()), ""]
        text = "\n".join(lines)
        print("\n" + text)
        with open(self.args.results, "w") as f:
            f.write(text)
        log("wrote %s" % self.args.results)

    def git_rev(self):
        r = subprocess.run(["git", "-C", TOP, "describe", "--always", "--dirty"], capture_output=True, text=True)
        return r.stdout.strip() or "?"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=20, help="cdpd takeovers per latency (default 20)")
    p.add_argument("--agent-runs", type=int, default=3, help="aws-vpc-move-ip starts per latency (default 3)")
    p.add_argument("--cli-runs", type=int, default=5, help="aws cli sequences per latency (default 5)")
    p.add_argument("--latency", default="0,50", help="simulated latencies in ms (default 0,50)")
    p.add_argument("--builddir", help="where daemon/cdpd and daemon/cdpctl are (default: the source tree)")
    p.add_argument("--results", default=os.path.join(TOP, "bench", "RESULTS-takeover.md"))
    p.add_argument("--no-install", action="store_true", help="do not apt-get install awscli/resource-agents")
    args = p.parse_args()
    if args.builddir:
        simharness.CDPD = os.path.join(args.builddir, "daemon", "cdpd")
        simharness.CDPCTL = os.path.join(args.builddir, "daemon", "cdpctl")
    for binary in (simharness.CDPD, simharness.CDPCTL):
        if not os.access(binary, os.X_OK):
            sys.exit("%s is not built (use --builddir)" % binary)

    have_pkgs = args.no_install or ensure_packages(["awscli", "resource-agents"])
    have_cli = os.access(REAL_AWS, os.X_OK)
    have_agent = os.access(AGENT, os.X_OK) and os.geteuid() == 0 and shutil.which("ip")
    b = Bench(args)
    try:
        if have_agent:
            b.enter_netns()
        else:
            b.notes.append("aws-vpc-move-ip left out: it needs root, ip(8) and resource-agents")
        if not have_cli:
            b.notes.append("aws cli left out: /usr/bin/aws (Debian awscli) is not installed")
        if not have_pkgs:
            b.notes.append("awscli/resource-agents could not be installed")
        b.start()
        if have_cli:
            b.write_aws_config()
        for ms in [int(x) for x in args.latency.split(",")]:
            b.latency(ms)
            log("latency %d ms: cdpd x%d" % (ms, args.runs))
            b.bench_cdpd(ms)
            if have_cli and args.cli_runs > 0:
                log("latency %d ms: aws cli x%d" % (ms, args.cli_runs))
                b.bench_cli(ms)
            if have_agent and have_cli and args.agent_runs > 0:
                log("latency %d ms: aws-vpc-move-ip x%d" % (ms, args.agent_runs))
                b.bench_agent(ms)
        b.latency(0)
        b.report()
    finally:
        b.cleanup()


if __name__ == "__main__":
    main()
