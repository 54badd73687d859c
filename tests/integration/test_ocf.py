#!/usr/bin/python3
"""The Pacemaker resource agent conf/pacemaker/cdpd (issue 5): ocf-tester
from Debian's resource-agents against a cdpd on the simulator, then the
monitor's answers one by one (here, moved away, partly here, API down, cdpd
unreachable, probes), validate-all and unsupported actions."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from simharness import CDPCTL, TOP_SRCDIR, main  # noqa: E402
from test_ha import ENI1, HaTestCase, WEB2  # noqa: E402

AGENT = os.path.join(TOP_SRCDIR, "conf", "pacemaker", "cdpd")
OCF_TESTER = shutil.which("ocf-tester") or "/usr/sbin/ocf-tester"
OCF_ROOT = "/usr/lib/ocf"

OCF_SUCCESS, OCF_ERR_GENERIC, OCF_ERR_UNIMPLEMENTED = 0, 1, 3
OCF_ERR_INSTALLED, OCF_ERR_CONFIGURED, OCF_NOT_RUNNING = 5, 6, 7


class OcfTest(HaTestCase):

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("ocf-tester runs agents as root")
        if not os.access(OCF_TESTER, os.X_OK) or not os.path.isdir(OCF_ROOT):
            self.skipTest("ocf-tester is not installed (Debian package resource-agents)")
        super().setUp()
        self.rsctmp = os.path.join(self.tmp, "rsctmp")
        os.makedirs(self.rsctmp)
        # meta-data is run as nobody: the agent must be reachable for it
        os.chmod(self.tmp, 0o755)

    def env(self, **reskeys):
        e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT": OCF_ROOT, "HA_RSCTMP": self.rsctmp,
             "OCF_RESOURCE_INSTANCE": "cdpd-test", "OCF_RESKEY_CRM_meta_interval": "10000"}
        for k, v in reskeys.items():
            e["OCF_RESKEY_" + k] = v
        return e

    def agent(self, action, interval="10000", **reskeys):
        reskeys.setdefault("cdpctl", CDPCTL)
        reskeys.setdefault("socket", self.d.socket)
        env = self.env(**reskeys)
        env["OCF_RESKEY_CRM_meta_interval"] = interval
        r = subprocess.run(["/bin/sh", AGENT, action], env=env, capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout + r.stderr

    def test_ocf_tester__agent__passes_every_test(self):
        self.d = self.start()
        r = subprocess.run([OCF_TESTER, "-v", "-n", "cdpd-test", "-o", "cdpctl=" + CDPCTL,
                            "-o", "socket=" + self.d.socket, "-o", "takeover_timeout=10", AGENT],
                           env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT": OCF_ROOT,
                                "HA_RSCTMP": self.rsctmp},
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("passed all tests", r.stdout + r.stderr)
        # its start really moved everything here; its stop left AWS alone
        self.assert_all_at(ENI1)

    def test_monitor__states__ocf_codes(self):
        self.d = self.start()
        # never started here: not running, without asking cdpd
        self.assertEqual(self.agent("monitor")[0], OCF_NOT_RUNNING)
        self.assertEqual(self.agent("monitor", interval="0")[0], OCF_NOT_RUNNING)
        rc, out = self.agent("start")
        self.assertEqual(rc, OCF_SUCCESS, out)
        self.assert_all_at(ENI1)
        self.assertEqual(self.agent("monitor")[0], OCF_SUCCESS)

        # web-2 takes the floating IP: partly here overall, but the routes
        # alone are all here
        d2 = self.start(WEB2)
        res, _ = self.takeover(d2, "floating-ip")
        self.assertEqual(res.returncode, 0, res.stdout)
        rc, out = self.agent("monitor")
        self.assertEqual(rc, OCF_ERR_GENERIC, out)
        self.assertEqual(self.agent("monitor", pattern="routing-ha")[0], OCF_SUCCESS)
        self.assertEqual(self.agent("monitor", pattern="floating-ip")[0], OCF_NOT_RUNNING)

        # everything moved away
        res, _ = self.takeover(d2)
        self.assertEqual(res.returncode, 0, res.stdout)
        self.assertEqual(self.agent("monitor")[0], OCF_NOT_RUNNING)

        # back here, then the API goes down: a failure, never "moved away"
        self.assertEqual(self.agent("start")[0], OCF_SUCCESS)
        self.sim.fault(action="*", kind="drop", count=-1)
        rc, out = self.agent("monitor")
        self.assertEqual(rc, OCF_ERR_GENERIC, out)
        self.assertIn("did not answer", out)
        self.assertEqual(self.agent("monitor", interval="0")[0], OCF_ERR_GENERIC)
        self.sim.control("DELETE", "/_sim/faults")

        # cdpd unreachable: a failure, except for a probe
        bogus = os.path.join(self.tmp, "nothing.sock")
        self.assertEqual(self.agent("monitor", socket=bogus)[0], OCF_ERR_GENERIC)
        self.assertEqual(self.agent("monitor", socket=bogus, interval="0")[0], OCF_NOT_RUNNING)

        # stop: not running at once, AWS untouched, twice fine, also without cdpd
        since = self.last_seq()
        self.assertEqual(self.agent("stop")[0], OCF_SUCCESS)
        self.assertEqual(self.agent("monitor")[0], OCF_NOT_RUNNING)
        self.assertEqual(self.writes(since), [])
        self.assert_all_at(ENI1)
        self.assertEqual(self.agent("stop")[0], OCF_SUCCESS)
        self.assertEqual(self.agent("stop", socket=bogus)[0], OCF_SUCCESS)

        # start without cdpd fails
        rc, out = self.agent("start", socket=bogus)
        self.assertEqual(rc, OCF_ERR_GENERIC)
        self.assertIn("unreachable", out)

    def test_validate__bad_parameters__configured_or_installed(self):
        self.d = self.start()
        self.assertEqual(self.agent("validate-all")[0], OCF_SUCCESS)
        self.assertEqual(self.agent("validate-all", pattern="both")[0], OCF_ERR_CONFIGURED)
        self.assertEqual(self.agent("validate-all", takeover_timeout="5s")[0], OCF_ERR_CONFIGURED)
        self.assertEqual(self.agent("validate-all", cdpctl="/nonexistent/cdpctl")[0], OCF_ERR_INSTALLED)
        self.assertEqual(self.agent("start", pattern="both")[0], OCF_ERR_CONFIGURED)
        # a broken installation still stops and probes cleanly
        self.assertEqual(self.agent("stop", cdpctl="/nonexistent/cdpctl")[0], OCF_SUCCESS)
        self.assertEqual(self.agent("monitor", cdpctl="/nonexistent/cdpctl", interval="0")[0], OCF_NOT_RUNNING)
        for action in ("promote", "demote", "notify", "migrate_to", "reload", "bogus"):
            self.assertEqual(self.agent(action)[0], OCF_ERR_UNIMPLEMENTED, action)
        rc, out = self.agent("meta-data")
        self.assertEqual(rc, OCF_SUCCESS)
        self.assertIn('<resource-agent name="cdpd"', out)

    def test_start__with_pattern_and_timeout__only_that_pattern(self):
        self.d = self.start()
        rc, out = self.agent("start", pattern="routing-ha", takeover_timeout="5")
        self.assertEqual(rc, OCF_SUCCESS, out)
        self.assertEqual(self.route_target("rtb-0aaa1111bbbb22223"), ENI1)
        self.assertNotEqual(self.region()["addresses"]["eipalloc-0abc123def4567890"]["association"]
                            ["network_interface_id"], ENI1)
        self.assertEqual(self.agent("monitor", pattern="routing-ha")[0], OCF_SUCCESS)


if __name__ == "__main__":
    main()
