#!/usr/bin/python3
"""SPEC 11 daemon budgets against the simulator: idle private memory
(RssAnon, with VmRSS beside it), wake-ups while idle, and `cdpctl status`
latency. Usage: bench/bench-daemon.py [--idle-seconds N] [--status-runs N]
Run from a build tree (CDP_TOP_BUILDDIR) or the source tree after make."""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))

from simharness import CDPCTL, Daemon, Simulator  # noqa: E402


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def kib(v):
    return int(v.split()[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle-seconds", type=int, default=60)
    ap.add_argument("--status-runs", type=int, default=200)
    args = ap.parse_args()

    sim = Simulator()
    tmp = tempfile.mkdtemp(prefix="cdpd-bench-")
    d = None
    try:
        d = Daemon(sim, tmp, "tag_refresh = 60s\n")
        d.wait_notify("READY=1")
        time.sleep(1)
        pid = d.proc.pid
        st0 = proc_status(pid)
        sim.clear_calls()
        t0 = time.monotonic()
        time.sleep(args.idle_seconds)
        elapsed = time.monotonic() - t0
        st1 = proc_status(pid)
        calls = sim.calls()
        wakeups = (int(st1["voluntary_ctxt_switches"]) - int(st0["voluntary_ctxt_switches"]) +
                   int(st1["nonvoluntary_ctxt_switches"]) - int(st0["nonvoluntary_ctxt_switches"]))

        lat = []
        for _ in range(args.status_runs):
            t = time.perf_counter()
            res = subprocess.run([CDPCTL, "--socket", d.socket, "status"], capture_output=True)
            lat.append((time.perf_counter() - t) * 1000)
            if res.returncode != 0:
                raise SystemExit("cdpctl status failed: %r" % res.stderr)
        lat.sort()

        print("machine: %s, %d cores, %s" % (platform.machine(), os.cpu_count(), platform.release()))
        print("idle RssAnon: %d KiB (budget 4096 KiB), VmRSS: %d KiB, VmHWM: %d KiB" % (
            kib(st1["RssAnon"]), kib(st1["VmRSS"]), kib(st1["VmHWM"])))
        print("idle %.0f s: %d context switches (wake-ups), %d API/IMDS calls (tag_refresh 60s)" % (
            elapsed, wakeups, len(calls)))
        print("cdpctl status (process start to exit, %d runs): median %.2f ms, p90 %.2f ms (budget 5 ms)" % (
            len(lat), statistics.median(lat), lat[int(len(lat) * 0.9)]))
    finally:
        if d:
            d.stop()
        sim.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
