"""Shared helpers for cdpd's integration tests: start the simulator, talk to
its control API, run cdpd binaries against it. Standard library only."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

TOP_SRCDIR = os.environ.get("CDP_TOP_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
TOP_BUILDDIR = os.environ.get("CDP_TOP_BUILDDIR") or TOP_SRCDIR
PYTHON3 = os.environ.get("CDP_PYTHON3", "/usr/bin/python3")
SIM = os.path.join(TOP_SRCDIR, "tests", "sim", "cdpsim.py")
SCENARIOS = os.path.join(TOP_SRCDIR, "tests", "sim", "scenarios")
CDPD = os.path.join(TOP_BUILDDIR, "daemon", "cdpd")
CDPCTL = os.path.join(TOP_BUILDDIR, "daemon", "cdpctl")
# Extra wrapper for every cdpd run, e.g. "valgrind --error-exitcode=99 -q".
WRAPPER = os.environ.get("CDP_TEST_WRAPPER", "").split()

STATIC_KEY = "AKIDSIMEXAMPLE"
STATIC_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSIMKEY"


class Simulator:
    """One cdpsim process on free 127.0.0.1 ports."""

    def __init__(self, scenario="basic.json", edit=None):
        self.dir = tempfile.mkdtemp(prefix="cdpsim-")
        path = os.path.join(SCENARIOS, scenario)
        if edit:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            edit(data)
            path = os.path.join(self.dir, "scenario.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(data, f)
        self.ready = os.path.join(self.dir, "ready.json")
        self.log = open(os.path.join(self.dir, "sim.log"), "w")
        self.proc = subprocess.Popen(
            [PYTHON3, SIM, "--scenario", path, "--ec2-port", "0", "--ready-file", self.ready],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not os.path.exists(self.ready):
            if self.proc.poll() is not None:
                raise RuntimeError("simulator exited: " + self.read_log())
            if time.monotonic() > deadline:
                raise RuntimeError("simulator did not start: " + self.read_log())
            time.sleep(0.02)
        with open(self.ready, encoding="utf-8") as f:
            info = json.load(f)
        self.ec2_port = info["ec2_port"]
        self.imds_ports = info["imds"]
        self.ec2_url = "http://127.0.0.1:%d" % self.ec2_port

    def read_log(self):
        self.log.flush()
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()[-4000:]

    def imds_url(self, instance="i-0123456789abcdef0"):
        return "http://127.0.0.1:%d" % self.imds_ports[instance]

    def control(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.ec2_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def fault(self, **spec):
        return self.control("POST", "/_sim/faults", spec)

    def calls(self, **match):
        calls = self.control("GET", "/_sim/calls")
        return [c for c in calls if all(c.get(k) == v for k, v in match.items())]

    def clear_calls(self):
        self.control("POST", "/_sim/calls/clear", {})

    def set_tags(self, resource, set_=None, delete=None, region="us-east-1"):
        return self.control("POST", "/_sim/tags", {"region": region, "resource": resource,
                                                    "set": set_ or {}, "delete": delete or []})

    def state(self):
        return self.control("GET", "/_sim/state")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def clean_env(**extra):
    """An environment with no AWS settings of the caller's, plus extra."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k not in ("http_proxy", "https_proxy", "HTTP_PROXY",
                                                       "HTTPS_PROXY", "NO_PROXY", "no_proxy")}
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def sim_env(sim, instance="i-0123456789abcdef0", static_keys=False, **extra):
    env = clean_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=sim.imds_url(instance),
                    AWS_ENDPOINT_URL_EC2=sim.ec2_url)
    if static_keys:
        env.update(AWS_ACCESS_KEY_ID=STATIC_KEY, AWS_SECRET_ACCESS_KEY=STATIC_SECRET)
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def run_cdpd(args, env, timeout=60):
    return subprocess.run(WRAPPER + [CDPD] + args, env=env, capture_output=True, text=True,
                          timeout=timeout)


class SimTestCase(unittest.TestCase):
    scenario = "basic.json"

    def setUp(self):
        self.sim = Simulator(self.scenario)
        self.addCleanup(self.sim.stop)
        self.tmp = tempfile.mkdtemp(prefix="cdpd-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        # An empty config so no /etc/cdpd of the machine leaks into the test.
        self.config = os.path.join(self.tmp, "cdpd.conf")
        with open(self.config, "w", encoding="utf-8") as f:
            f.write("# test config\n")

    def probe(self, env, *extra):
        return run_cdpd(["--probe", "-c", self.config] + list(extra), env)

    def probe_json(self, env):
        res = self.probe(env, "--json")
        self.assertEqual(res.returncode, 0, res.stderr)
        return json.loads(res.stdout)


def main():
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2)
    prog = unittest.main(module="__main__", testRunner=runner, exit=False)
    res = prog.result
    passed = res.testsRun - len(res.failures) - len(res.errors) - len(res.skipped)
    print("%d passed, %d failed, %d skipped" % (passed, len(res.failures) + len(res.errors),
                                                len(res.skipped)))
    sys.exit(0 if res.wasSuccessful() else 1)


class Daemon:
    """One cdpd process in the foreground, with a NOTIFY_SOCKET the test owns,
    its run_dir, hooks_dir and control socket in a temporary directory."""

    def __init__(self, sim, tmp, config_extra="", instance="i-0123456789abcdef0", env_extra=None):
        import socket
        self.sim = sim
        self.tmp = tmp
        self.run_dir = os.path.join(tmp, "run")
        self.hooks_dir = os.path.join(tmp, "hooks.d")
        os.makedirs(self.hooks_dir, exist_ok=True)
        self.socket = os.path.join(self.run_dir, "control.sock")
        self.config = os.path.join(tmp, "cdpd.conf")
        self.write_config(config_extra)
        self.notify_path = os.path.join(tmp, "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.notify.settimeout(0.2)
        self.notify_closed = False
        self.notifications = []
        import threading
        self.notify_thread = threading.Thread(target=self._drain_notify, daemon=True)
        self.notify_thread.start()
        self.stderr_path = os.path.join(tmp, "cdpd.stderr")
        self.stderr = open(self.stderr_path, "w")
        env = sim_env(sim, instance, NOTIFY_SOCKET=self.notify_path)
        if env_extra:
            env.update(env_extra)
        self.proc = subprocess.Popen(WRAPPER + [CDPD, "-c", self.config], env=env,
                                     stdout=self.stderr, stderr=subprocess.STDOUT)

    def write_config(self, extra=""):
        with open(self.config, "w", encoding="utf-8") as f:
            f.write("run_dir = %s\ncontrol_socket = %s\nhooks_dir = %s\nhook_timeout = 5s\n%s" % (
                self.run_dir, self.socket, self.hooks_dir, extra))

    def read_notify(self, timeout=0.2):
        """Give the drain thread time to collect what cdpd sent."""
        time.sleep(timeout)

    def _drain_notify(self):
        # cdpd's sd_notify() blocks once the datagram queue is full (every
        # reload sends several lines), so read it all the time.
        import socket
        while not self.notify_closed:
            try:
                data = self.notify.recv(4096).decode()
                self.notifications.extend(data.split("\n"))
            except socket.timeout:
                continue
            except OSError:
                return

    def wait_notify(self, line, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if line in self.notifications:
                return True
            if self.proc.poll() is not None:
                raise RuntimeError("cdpd exited %d: %s" % (self.proc.returncode, self.log()))
            self.read_notify(0.02)
        raise RuntimeError("no %s from cdpd: %s" % (line, self.log()))

    def log(self):
        if not self.stderr.closed:
            self.stderr.flush()
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def ctl(self, *args, timeout=30, user=None):
        cmd = [CDPCTL, "--socket", self.socket] + list(args)
        if user is not None:
            cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + cmd
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=clean_env())

    def ctl_json(self, *args):
        res = self.ctl("--json", *args)
        if res.returncode != 0:
            raise AssertionError("cdpctl %s: exit %d: %s%s" % (args, res.returncode, res.stdout, res.stderr))
        return json.loads(res.stdout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.notify_closed:
            time.sleep(0.2)
            self.notify_closed = True
            self.notify_thread.join(2)
            self.notify.close()
        self.stderr.close()
        return self.proc.returncode
