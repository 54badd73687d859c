#!/usr/bin/python3
"""The systemd unit: `systemd-analyze verify` clean and
`systemd-analyze security --offline=yes` exposure at most 2.5 (SPEC 11)."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from simharness import CDPD, TOP_SRCDIR, main  # noqa: E402

UNIT_IN = os.path.join(TOP_SRCDIR, "systemd", "cdpd.service.in")
FREEZE = os.path.join(TOP_SRCDIR, "conf", "systemd", "cdpd.service.d", "freeze.conf")


@unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze not installed")
class UnitTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="cdpd-unit-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        with open(UNIT_IN, encoding="utf-8") as f:
            text = f.read().replace("@sbindir@", os.path.dirname(CDPD))
        self.unit = os.path.join(self.dir, "cdpd.service")
        with open(self.unit, "w", encoding="utf-8") as f:
            f.write(text)

    def exposure(self, unit):
        res = subprocess.run(["systemd-analyze", "security", "--offline=yes", unit],
                             capture_output=True, text=True)
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", res.stdout)
        self.assertIsNotNone(m, res.stdout + res.stderr)
        return float(m.group(1))

    def test_unit__verify__clean(self):
        res = subprocess.run(["systemd-analyze", "verify", "--man=no", self.unit],
                             capture_output=True, text=True)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stderr.strip(), "")

    def test_unit__security__at_most_2_5(self):
        score = self.exposure(self.unit)
        print("exposure %.1f" % score)
        self.assertLessEqual(score, 2.5)

    def test_unit__notify_watchdog_runtime_dir(self):
        with open(self.unit, encoding="utf-8") as f:
            text = "".join(l for l in f if not l.startswith("#"))
        for line in ("Type=notify", "WatchdogSec=", "RuntimeDirectory=cdpd", "Restart=on-failure",
                     "CapabilityBoundingSet=CAP_NET_ADMIN\n"):
            self.assertIn(line, text)
        self.assertNotIn("CAP_SYS_ADMIN", text)

    @unittest.skipUnless(os.path.exists(FREEZE), "no freeze drop-in")
    def test_unit__freeze_dropin__adds_only_cap_sys_admin(self):
        d = self.unit + ".d"
        os.makedirs(d)
        shutil.copy(FREEZE, d)
        with open(FREEZE, encoding="utf-8") as f:
            text = f.read()
        self.assertIn("CAP_SYS_ADMIN", text)
        res = subprocess.run(["systemd-analyze", "verify", "--man=no", self.unit],
                             capture_output=True, text=True)
        self.assertEqual(res.returncode, 0, res.stderr)


if __name__ == "__main__":
    main()
