#!/usr/bin/python3
"""cdpd as a daemon against the simulator (issue 3): readiness, control
socket, Cloud DI files and hooks, reload, bad config, peers, no secrets."""

import json
import os
import signal
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from simharness import Daemon, SimTestCase, main  # noqa: E402

INSTANCE = "i-0123456789abcdef0"

HOOK = """#!/bin/sh
echo "$CDP_EVENT $CDP_INSTANCE_ID" >> "%s"
cat "$CDP_ENV_FILE" > "%s"
"""


class DaemonTest(SimTestCase):

    def start(self, config_extra="", hook=True, **kw):
        self.hook_log = os.path.join(self.tmp, "hook.log")
        self.hook_env = os.path.join(self.tmp, "hook.env")
        d = Daemon(self.sim, self.tmp, config_extra, **kw)
        if hook:
            path = os.path.join(d.hooks_dir, "10-record")
            with open(path, "w") as f:
                f.write(HOOK % (self.hook_log, self.hook_env))
            os.chmod(path, 0o755)
        self.addCleanup(d.stop)
        d.wait_notify("READY=1")
        return d

    def read(self, path):
        with open(path, encoding="utf-8") as f:
            return f.read()

    def wait_for(self, pred, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return True
            time.sleep(0.05)
        return False

    def test_daemon__start__ready_env_file_and_hook(self):
        d = self.start()
        env = self.read(os.path.join(d.run_dir, "env"))
        self.assertIn('DB_HOST="db.internal"\n', env)
        self.assertIn('LOG_LEVEL="info"\n', env)
        tags = json.loads(self.read(os.path.join(d.run_dir, "tags.json")))
        self.assertEqual(tags["instance_id"], INSTANCE)
        self.assertEqual(tags["tags"]["Name"], "web-1")
        self.assertTrue(self.wait_for(lambda: os.path.exists(self.hook_log)))
        self.assertEqual(self.read(self.hook_log), "tags-changed %s\n" % INSTANCE)
        self.assertTrue(any(n.startswith("STATUS=") for n in d.notifications))

    def test_daemon__policy_json__scenario_policies_and_bad_tag(self):
        self.sim.set_tags(INSTANCE, {"cdp:ttl": "forever"})
        d = self.start()
        pol = d.ctl_json("policy")
        self.assertTrue(pol["snapshot"]["enabled"])
        self.assertTrue(pol["routing_ha"]["enabled"])
        self.assertEqual(pol["routing_ha"]["routes"][0]["route_tables"],
                         ["rtb-0aaa1111bbbb22223", "rtb-0ccc3333dddd44445"])
        self.assertTrue(pol["floating_ip"]["enabled"])
        self.assertFalse(pol["bastion"]["enabled"])
        errs = [e for e in pol["errors"] if e["tag"] == "cdp:ttl"]
        self.assertEqual(len(errs), 1, pol["errors"])
        self.assertEqual(errs[0]["value"], "forever")
        self.assertIn("cdp:ttl", errs[0]["reason"])
        # the error is in the log too, naming the tag
        self.assertIn("cdp:ttl", d.log())

    def test_daemon__status__text_and_json(self):
        d = self.start()
        st = d.ctl_json("status")
        self.assertEqual(st["instance_id"], INSTANCE)
        self.assertTrue(st["ready"])
        self.assertEqual(st["credentials_source"], "instance-role:cdpd-test-role")
        self.assertEqual(st["tags_source"], "imds")
        res = d.ctl("status")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn(INSTANCE, res.stdout)

    def test_daemon__tag_changed__reload_rewrites_env_and_runs_hook(self):
        d = self.start()
        self.assertTrue(self.wait_for(lambda: os.path.exists(self.hook_log)))
        self.sim.set_tags(INSTANCE, {"cdp:env:DB_HOST": "db2.internal", "cdp:env:NEW_ONE": "x y"},
                          delete=["cdp:env:LOG_LEVEL"])
        res = d.ctl("reload")
        self.assertEqual(res.returncode, 0, res.stderr + res.stdout)
        env = self.read(os.path.join(d.run_dir, "env"))
        self.assertIn('DB_HOST="db2.internal"\n', env)
        self.assertIn('NEW_ONE="x y"\n', env)
        self.assertNotIn("LOG_LEVEL", env)
        self.assertTrue(self.wait_for(lambda: self.read(self.hook_log).count("tags-changed") == 2),
                        self.read(self.hook_log))
        # the hook's environment file points at the rewritten env
        self.assertTrue(self.wait_for(lambda: "db2.internal" in self.read(self.hook_env)))

    def test_daemon__tag_refresh_timer__picks_up_change_without_reload(self):
        d = self.start("tag_refresh = 10s\n")
        self.sim.set_tags(INSTANCE, {"cdp:env:DB_HOST": "db3.internal"})
        self.assertTrue(self.wait_for(
            lambda: "db3.internal" in self.read(os.path.join(d.run_dir, "env")), timeout=25))

    def test_daemon__unchanged_tags__no_rewrite_no_hook(self):
        d = self.start("tag_refresh = 10s\n")
        self.assertTrue(self.wait_for(lambda: os.path.exists(self.hook_log)))
        mtime = os.stat(os.path.join(d.run_dir, "env")).st_mtime_ns
        time.sleep(11)
        self.assertEqual(os.stat(os.path.join(d.run_dir, "env")).st_mtime_ns, mtime)
        self.assertEqual(self.read(self.hook_log).count("tags-changed"), 1)

    def test_daemon__broken_config_on_sighup__keeps_old(self):
        d = self.start()
        d.write_config("no_such_key = 1\n")
        d.proc.send_signal(signal.SIGHUP)
        d.wait_notify("RELOADING=1")
        self.assertTrue(self.wait_for(lambda: "keeping the running configuration" in d.log()), d.log())
        self.assertIn("no_such_key", d.log())
        self.assertIsNone(d.proc.poll())
        st = d.ctl_json("status")
        self.assertTrue(st["ready"])
        # cdpctl reload with the broken file fails and says why
        res = d.ctl("reload")
        self.assertEqual(res.returncode, 1)
        self.assertIn("no_such_key", res.stderr)

    def test_daemon__good_config_on_sighup__applied(self):
        d = self.start()
        d.write_config("tag_refresh = 30s\n")
        d.proc.send_signal(signal.SIGHUP)
        self.assertTrue(self.wait_for(lambda: d.ctl_json("status")["tag_refresh"] == "30s"))

    def test_daemon__unprivileged_peer__refused(self):
        d = self.start()
        res = d.ctl("status", user=65534)
        self.assertIn(res.returncode, (1, 3), res.stdout + res.stderr)
        self.assertNotIn(INSTANCE, res.stdout)
        mode = os.stat(d.socket).st_mode
        self.assertTrue(stat.S_ISSOCK(mode))
        self.assertEqual(stat.S_IMODE(mode), 0o660)

    def test_daemon__cdpd_gone__cdpctl_exit_3(self):
        d = self.start()
        d.stop()
        res = d.ctl("status")
        self.assertEqual(res.returncode, 3)

    def test_daemon__sigterm__stops_cleanly(self):
        d = self.start()
        self.assertEqual(d.stop(), 0)
        self.assertIn("STOPPING=1", d.notifications)
        self.assertIn("stopped", d.log())

    def test_daemon__whole_run__no_secret_in_logs(self):
        d = self.start("log_level = debug\n")
        d.ctl_json("status")
        d.ctl_json("policy")
        self.sim.set_tags(INSTANCE, {"cdp:env:X": "1"})
        d.ctl("reload")
        creds = self.sim.state()["role_credentials"]
        d.stop()
        out = d.log() + self.read(os.path.join(d.run_dir, "env")) + \
            self.read(os.path.join(d.run_dir, "tags.json"))
        self.assertTrue(creds)
        for c in creds.values():
            self.assertNotIn(c["secret_access_key"], out)
            self.assertNotIn(c["session_token"][:40], out)

    def test_daemon__tags_unreadable_at_start__retries_until_ready(self):
        self.sim.fault(service="imds", path="/latest/meta-data/tags/instance/", kind="error", count=3)
        d = self.start()
        self.assertTrue(os.path.exists(os.path.join(d.run_dir, "env")))

    def test_daemon__metadata_tags_off__describe_tags_in_status(self):
        self.sim.control("POST", "/_sim/instance", {"region": "us-east-1", "id": INSTANCE,
                                                     "instance_metadata_tags": False})
        d = self.start()
        self.assertEqual(d.ctl_json("status")["tags_source"], "api")


if __name__ == "__main__":
    main()
