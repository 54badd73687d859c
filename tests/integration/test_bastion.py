#!/usr/bin/python3
"""The on-demand bastion against the simulator (issue 6, SPEC 7): the expiry
acts on time and in order (revoke, then stop/terminate), survives a restart,
acts at once when already past, does nothing on unparsable tags, `cdpctl
extend` within and beyond the cap, warnings, and the local power-off fallback
when the API stays unreachable (recorded through CDPD_TEST_POWEROFF_FILE:
no test can power the machine off)."""

import json
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from simharness import Daemon, Simulator, main  # noqa: E402

INSTANCE = "i-0123456789abcdef0"
RULE_A = "sgr-0aaaaaaaaaaaaaaa1"        # ingress, sg-0aaaa1111bbbb2222
RULE_B = "sgr-0bbbbbbbbbbbbbbb2"        # ingress, sg-0bbbb3333cccc4444
RULE_EGRESS = "sgr-0eeeeeeeeeeeeeee3"   # egress: never revoked by cdp:expire-revoke
WRITES = ("RevokeSecurityGroupIngress", "StopInstances", "TerminateInstances", "CreateTags", "DeleteTags")


def rfc(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def parse_rfc(s):
    import calendar
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


class BastionTest(unittest.TestCase):
    """A fresh simulator per test whose instance was launched an hour ago and
    has temporary ingress rules in two security groups."""

    launched_ago = 3600

    def setUp(self):
        self.launch = int(time.time()) - self.launched_ago

        def edit(data):
            region = data["regions"]["us-east-1"]
            region["instances"][INSTANCE]["launch_time"] = rfc(self.launch)
            region["security_groups"]["sg-0bbbb3333cccc4444"] = {
                "name": "bastion-ssh", "vpc_id": "vpc-0aaaa1111bbbb2222", "ingress": [], "egress": []}
            region["security_group_rules"] = {
                RULE_A: {"group_id": "sg-0aaaa1111bbbb2222", "protocol": "tcp", "from_port": 22,
                         "to_port": 22, "cidr": "203.0.113.7/32", "description": "on-call ssh"},
                RULE_B: {"group_id": "sg-0bbbb3333cccc4444", "protocol": "tcp", "from_port": 443,
                         "to_port": 443, "cidr": "198.51.100.0/24"},
                RULE_EGRESS: {"group_id": "sg-0aaaa1111bbbb2222", "direction": "egress", "protocol": "all",
                              "cidr": "0.0.0.0/0"},
            }

        self.sim = Simulator(edit=edit)
        self.addCleanup(self.sim.stop)
        self.tmp = tempfile.mkdtemp(prefix="cdpd-bastion-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.poweroff_file = os.path.join(self.tmp, "poweroff.log")
        self.wall_file = os.path.join(self.tmp, "wall.log")

    # -- helpers -----------------------------------------------------------

    def start(self, config_extra="", wait_ready=True, fresh_dir=False):
        env = {"CDPD_TEST_POWEROFF_FILE": self.poweroff_file, "CDPD_TEST_WALL_FILE": self.wall_file}
        tmp = tempfile.mkdtemp(prefix="d-", dir=self.tmp) if fresh_dir else self.tmp
        d = Daemon(self.sim, tmp, "expire_warn = 2s\n" + config_extra, env_extra=env)
        self.addCleanup(d.stop)
        if wait_ready:
            d.wait_notify("READY=1")
            # The launch time (DescribeInstances) follows READY closely.
            self.assertTrue(self.wait_for(lambda: self.status(d)["state"] != "waiting-for-launch-time"),
                            d.log())
        return d

    def tag(self, tags, delete=None):
        self.sim.set_tags(INSTANCE, tags, delete)

    def writes(self, actions=WRITES):
        return [c for c in self.sim.calls(service="ec2")
                if c["action"] in actions and c["params"].get("DryRun") != "true"]

    def wait_for(self, pred, timeout=15):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            v = pred()
            if v:
                return v
            time.sleep(0.05)
        return None

    def instance(self):
        return self.sim.state()["regions"]["us-east-1"]["instances"][INSTANCE]

    def rules(self):
        return self.sim.state()["regions"]["us-east-1"].get("security_group_rules", {})

    def read(self, path):
        if not os.path.exists(path):
            return ""
        with open(path, encoding="utf-8") as f:
            return f.read()

    def status(self, d):
        return d.ctl_json("status")["bastion"]


    # -- expiry --------------------------------------------------------------

    def test_bastion__expiry_ahead__revokes_then_terminates_on_time(self):
        expiry = int(time.time()) + 6
        self.tag({"cdp:expires-at": rfc(expiry),
                  "cdp:expire-revoke": ",".join([RULE_A, RULE_B, RULE_EGRESS])})
        d = self.start()
        st = self.status(d)
        self.assertEqual(st["state"], "counting-down", st)
        self.assertEqual(st["expires_at"], rfc(expiry))
        self.assertEqual(st["expiry_source"], "expires-at")
        self.assertEqual(st["action"], "terminate")
        self.assertEqual(st["revoke"], [RULE_A, RULE_B, RULE_EGRESS])
        self.assertLessEqual(st["time_left_seconds"], 6)
        self.assertFalse(self.writes(), "nothing is written before the expiry")

        term = self.wait_for(lambda: self.writes(("TerminateInstances",)), timeout=20)
        self.assertTrue(term, d.log())
        revokes = self.writes(("RevokeSecurityGroupIngress",))
        # one revoke per security group, both before the terminate
        self.assertEqual(sorted(c["params"]["GroupId"] for c in revokes),
                         ["sg-0aaaa1111bbbb2222", "sg-0bbbb3333cccc4444"])
        self.assertTrue(all(c["seq"] < term[0]["seq"] for c in revokes), (revokes, term))
        self.assertEqual(term[0]["params"]["InstanceId.1"], INSTANCE)
        # on time: not before the expiry, and promptly after it
        self.assertGreaterEqual(term[0]["t"], expiry)
        self.assertLess(term[0]["t"], expiry + 5)
        self.assertTrue(all(c["t"] >= expiry for c in revokes))
        # the ingress rules are gone, the egress rule is left alone
        rules = self.rules()
        self.assertNotIn(RULE_A, rules)
        self.assertNotIn(RULE_B, rules)
        self.assertIn(RULE_EGRESS, rules)
        self.assertTrue(self.wait_for(lambda: self.instance()["state"] in ("shutting-down", "terminated")))
        self.assertIn("egress rule", d.log())
        # the status says what happened
        st = self.wait_for(lambda: (lambda s: s if s["state"] == "done" else None)(self.status(d)))
        self.assertTrue(st)
        self.assertEqual(st["acting"]["revoked"], 2)
        self.assertIsNotNone(st["acting"]["request_id"])
        # every write is logged with its request id
        log = d.log()
        self.assertRegex(log, r"TerminateInstances accepted for bastion %s: .*\(request [0-9a-f-]{36}\)" % INSTANCE)
        self.assertRegex(log, r"revoked %s from sg-0aaaa1111bbbb2222 \(request [0-9a-f-]{36}\)" % RULE_A)
        self.assertEqual(self.read(self.poweroff_file), "")

    def test_bastion__warnings__journal_and_terminals(self):
        expiry = int(time.time()) + 8
        self.tag({"cdp:expires-at": rfc(expiry), "cdp:expire-action": "stop"})
        d = self.start("expire_warn = 4s,2s\n")
        self.assertTrue(self.wait_for(lambda: self.read(self.wall_file).count("expires in") >= 2, timeout=10),
                        self.read(self.wall_file) + d.log())
        wall = self.read(self.wall_file)
        self.assertIn(INSTANCE, wall)
        self.assertIn("stopped", wall)
        self.assertIn("cdpctl extend", wall)
        self.assertIn("expires at " + rfc(expiry), d.log())
        self.assertTrue(self.wait_for(lambda: self.writes(("StopInstances",))), d.log())
        # two thresholds, two warnings: no repeats
        self.assertEqual(self.read(self.wall_file).count("expires in"), 2)

    def test_bastion__restart_before_expiry__keeps_deadline(self):
        # ttl counts from the launch time, not from cdpd's start
        ttl = int(time.time()) + 15 - self.launch
        self.tag({"cdp:ttl": "%ds" % ttl, "cdp:expire-action": "stop"})
        expiry = self.launch + ttl
        d = self.start()
        st = self.status(d)
        self.assertEqual(st["expires_at"], rfc(expiry))
        self.assertEqual(st["expiry_source"], "ttl")
        self.assertEqual(st["launch_time"], rfc(self.launch))
        time.sleep(1)
        self.assertEqual(d.stop(), 0)

        # a new process, nothing kept locally: the deadline comes from the API
        d2 = self.start(fresh_dir=True)
        st = self.status(d2)
        self.assertEqual(st["expires_at"], rfc(expiry))
        self.assertEqual(st["state"], "counting-down", "the restart did not reset the count-down")
        self.assertLessEqual(st["time_left_seconds"], expiry - int(time.time()) + 1)
        stop = self.wait_for(lambda: self.writes(("StopInstances",)), timeout=25)
        self.assertTrue(stop, d2.log())
        self.assertGreaterEqual(stop[0]["t"], expiry)
        self.assertLess(stop[0]["t"], expiry + 5)
        self.assertEqual(len(stop), 1)
        self.assertFalse(self.writes(("TerminateInstances",)))

    def test_bastion__expiry_past_at_start__acts_at_once(self):
        self.tag({"cdp:expires-at": rfc(int(time.time()) - 120), "cdp:expire-action": "stop",
                  "cdp:expire-revoke": RULE_B})
        started = time.time()
        d = self.start(wait_ready=False)
        stop = self.wait_for(lambda: self.writes(("StopInstances",)), timeout=15)
        self.assertTrue(stop, d.log())
        self.assertLess(stop[0]["t"] - started, 5)
        revokes = self.writes(("RevokeSecurityGroupIngress",))
        self.assertEqual(len(revokes), 1)
        self.assertLess(revokes[0]["seq"], stop[0]["seq"])
        self.assertNotIn(RULE_B, self.rules())
        self.assertTrue(self.wait_for(lambda: self.instance()["state"] in ("stopping", "stopped")))

    def test_bastion__unparsable_values__nothing_and_says_why(self):
        for tags, bad in (({"cdp:expires-at": "tomorrow", "cdp:expire-revoke": RULE_A}, "cdp:expires-at"),
                          ({"cdp:ttl": "forever"}, "cdp:ttl"),
                          ({"cdp:expires-at": rfc(int(time.time()) - 60), "cdp:expire-action": "explode"},
                           "cdp:expire-action")):
            with self.subTest(bad=bad):
                self.sim.clear_calls()
                self.tag(tags, delete=["cdp:expires-at", "cdp:ttl", "cdp:expire-action", "cdp:expire-revoke"])
                self.tag(tags)
                tmp = tempfile.mkdtemp(prefix="cdpd-bastion-sub-", dir=self.tmp)
                d = Daemon(self.sim, tmp, "expire_warn = 2s\n",
                           env_extra={"CDPD_TEST_POWEROFF_FILE": self.poweroff_file})
                try:
                    d.wait_notify("READY=1")
                    time.sleep(2)
                    st = self.status(d)
                    self.assertEqual(st["state"], "off", st)
                    self.assertFalse(st["enabled"])
                    self.assertIn("invalid", st["reason"])
                    self.assertTrue(any(e["tag"] == bad for e in st["errors"]), st)
                    pol = d.ctl_json("policy")
                    self.assertFalse(pol["bastion"]["enabled"])
                    self.assertTrue(pol["bastion"]["invalid"])
                    self.assertTrue(any(e["tag"] == bad for e in pol["errors"]))
                    self.assertIn(bad, d.log())
                    res = d.ctl("extend", "1h")
                    self.assertEqual(res.returncode, 1)
                    self.assertIn("NotABastion", res.stderr)
                    self.assertEqual(self.writes(), [], "zero writes")
                    self.assertEqual(self.instance()["state"], "running")
                    self.assertIn(RULE_A, self.rules())
                finally:
                    d.stop()
        self.assertEqual(self.read(self.poweroff_file), "")

    # -- extend ----------------------------------------------------------------

    def test_bastion__extend_within_cap__expires_at_rewritten(self):
        expiry = int(time.time()) + 3600
        self.tag({"cdp:expires-at": rfc(expiry)})
        d = self.start()
        out = d.ctl_json("extend", "2h")
        self.assertEqual(out["expires_at"], rfc(expiry + 7200))
        self.assertEqual(out["previous_expires_at"], rfc(expiry))
        self.assertEqual(out["extended_by"], "2h")
        self.assertEqual(out["max_lifetime_ends"], rfc(self.launch + 86400))
        self.assertEqual(self.instance()["tags"]["cdp:expires-at"], rfc(expiry + 7200))
        creates = self.writes(("CreateTags",))
        self.assertEqual(len(creates), 1)
        self.assertEqual(creates[0]["params"]["ResourceId.1"], INSTANCE)
        self.assertEqual(creates[0]["params"]["Tag.1.Key"], "cdp:expires-at")
        self.assertNotIn("Tag.2.Key", creates[0]["params"])
        # the status follows at once, before the next tag read
        st = self.status(d)
        self.assertEqual(st["expires_at"], rfc(expiry + 7200))
        # and after a tag read
        self.assertEqual(d.ctl("reload").returncode, 0)
        st = self.status(d)
        self.assertEqual(st["expires_at"], rfc(expiry + 7200))
        self.assertNotIn("tags_pending", st)
        self.assertIn("extended by 2h", d.log())

    def test_bastion__extend_with_ttl__ttl_rewritten_too(self):
        self.tag({"cdp:ttl": "2h"})
        d = self.start()
        out = d.ctl_json("extend", "30m")
        self.assertEqual(out["expires_at"], rfc(self.launch + 9000))
        self.assertEqual(out["ttl"], "2h30m")
        tags = self.instance()["tags"]
        self.assertEqual(tags["cdp:expires-at"], rfc(self.launch + 9000))
        self.assertEqual(tags["cdp:ttl"], "2h30m")
        self.assertEqual(d.ctl("reload").returncode, 0)
        self.assertEqual(self.status(d)["expires_at"], rfc(self.launch + 9000))

    def test_bastion__extend_beyond_cap__refused_naming_cap(self):
        expiry = self.launch + 2 * 3600     # an hour from now
        self.tag({"cdp:expires-at": rfc(expiry)})
        d = self.start("bastion_max_lifetime = 4h\n")
        res = d.ctl("extend", "5h")
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
        self.assertIn("BeyondMaxLifetime", res.stderr)
        self.assertIn("bastion_max_lifetime", res.stderr)
        self.assertIn(rfc(self.launch + 4 * 3600), res.stderr)
        self.assertIn("at most 2h more", res.stderr)
        self.assertEqual(self.instance()["tags"]["cdp:expires-at"], rfc(expiry))
        self.assertEqual(self.writes(("CreateTags",)), [])
        # up to the cap is fine
        out = d.ctl_json("extend", "2h")
        self.assertEqual(out["expires_at"], rfc(self.launch + 4 * 3600))
        res = d.ctl("extend", "1s")
        self.assertEqual(res.returncode, 1)
        self.assertIn("already at or past", res.stderr)

    def test_bastion__extend_usage__bad_duration_exit_2(self):
        self.tag({"cdp:expires-at": rfc(int(time.time()) + 3600)})
        d = self.start()
        res = d.ctl("extend", "soon")
        self.assertEqual(res.returncode, 2)
        self.assertEqual(self.writes(("CreateTags",)), [])

    def test_bastion__tags_extended_elsewhere__confirm_before_acting(self):
        """An extension written by someone else moments before the expiry is
        seen by the DescribeInstances made at expiry, even when the tag read
        is stale (tag_refresh is long here)."""
        expiry = int(time.time()) + 6
        self.tag({"cdp:expires-at": rfc(expiry)})
        d = self.start("tag_refresh = 1h\n")
        self.tag({"cdp:expires-at": rfc(expiry + 3600)})
        self.assertTrue(self.wait_for(lambda: "not acting" in d.log(), timeout=15), d.log())
        time.sleep(1)
        self.assertEqual(self.writes(), [])
        st = self.status(d)
        self.assertEqual(st["state"], "counting-down")
        self.assertEqual(st["expires_at"], rfc(expiry + 3600))

    # -- fail closed -----------------------------------------------------------

    def test_bastion__api_unreachable__retries_then_poweroff_fallback(self):
        expiry = int(time.time()) + 6
        self.tag({"cdp:expires-at": rfc(expiry), "cdp:expire-revoke": RULE_A})
        d = self.start("expire_grace = 3s\n")
        self.sim.fault(service="ec2", kind="drop", count=-1)
        self.assertTrue(self.wait_for(lambda: self.read(self.poweroff_file), timeout=20), d.log())
        line = self.read(self.poweroff_file)
        self.assertTrue(line.startswith("poweroff "), line)
        self.assertIn(INSTANCE, line)
        self.assertIn("powering off locally", d.log())
        # it kept trying the API in between
        attempts = [c for c in self.sim.calls(service="ec2") if c["t"] >= expiry and c.get("fault")]
        self.assertGreater(len(attempts), 2)
        self.assertEqual(self.instance()["state"], "running")
        st = self.status(d)
        self.assertTrue(st["acting"]["poweroff_requested"])
        self.assertEqual(self.read(self.poweroff_file).count("poweroff"), 1)

    def test_bastion__fallback_disabled__only_retries(self):
        expiry = int(time.time()) + 6
        self.tag({"cdp:expires-at": rfc(expiry), "cdp:expire-action": "stop"})
        d = self.start("expire_grace = 2s\nexpire_fallback_poweroff = no\n")
        self.sim.fault(service="ec2", kind="error", status=503, count=-1)
        self.assertTrue(self.wait_for(lambda: "expire_fallback_poweroff=no" in d.log(), timeout=20), d.log())
        n = len(self.sim.calls(service="ec2", action="StopInstances"))
        time.sleep(2)
        self.assertGreater(len(self.sim.calls(service="ec2", action="StopInstances")), n)
        self.assertEqual(self.read(self.poweroff_file), "")
        self.assertFalse(self.status(d)["acting"]["poweroff_requested"])
        # once the API is back the stop goes through
        self.sim.control("DELETE", "/_sim/faults")
        self.assertTrue(self.wait_for(lambda: self.instance()["state"] in ("stopping", "stopped"), timeout=90),
                        d.log())

    def test_bastion__not_a_bastion__no_timer_no_calls(self):
        d = self.start()
        st = self.status(d)
        self.assertEqual(st["state"], "off")
        self.assertIn("not an on-demand bastion", st["reason"])
        res = d.ctl("extend", "1h")
        self.assertEqual(res.returncode, 1)
        self.assertEqual(self.writes(), [])


if __name__ == "__main__":
    main()
