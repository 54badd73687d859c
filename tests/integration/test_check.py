#!/usr/bin/python3
"""`cdpctl check` against the simulator (issue 6, SPEC 3): one DryRun call per
action the tag policy needs; with the permissions of conf/iam/cdpd-policy.json
everything is allowed, with some removed the check fails naming them; cdpd
runs the same check at start and after a tag change and logs what is
missing."""

import json
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from simharness import TOP_SRCDIR, Daemon, Simulator, main  # noqa: E402

INSTANCE = "i-0123456789abcdef0"
RULE = "sgr-0aaaaaaaaaaaaaaa1"
POLICY_FILE = os.path.join(TOP_SRCDIR, "conf", "iam", "cdpd-policy.json")


def load_policy():
    with open(POLICY_FILE, encoding="utf-8") as f:
        return json.load(f)


def as_list(v):
    return v if isinstance(v, list) else [v]


def policy_actions(policy):
    """Every "ec2:X" action the policy allows, as the simulator's permission list."""
    out = []
    for st in policy["Statement"]:
        if st["Effect"] != "Allow":
            continue
        for a in as_list(st["Action"]):
            if a not in out:
                out.append(a)
    return out


def edit(data):
    region = data["regions"]["us-east-1"]
    inst = region["instances"][INSTANCE]
    inst["tags"].update({
        "cdp:snapshot:copy-to": "us-west-2",
        "cdp:ttl": "10h",
        "cdp:expire-action": "stop",
        "cdp:expire-revoke": RULE,
    })
    inst["launch_time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 600))
    region["security_group_rules"] = {
        RULE: {"group_id": "sg-0aaaa1111bbbb2222", "protocol": "tcp", "from_port": 22, "to_port": 22,
               "cidr": "203.0.113.7/32"},
    }


class PolicyFileTest(unittest.TestCase):

    def test_policy_file__json__valid_iam_shape(self):
        policy = load_policy()
        self.assertEqual(policy["Version"], "2012-10-17")
        sids = [st["Sid"] for st in policy["Statement"]]
        self.assertEqual(len(sids), len(set(sids)), "Sids are unique")
        for st in policy["Statement"]:
            self.assertIn(st["Effect"], ("Allow", "Deny"))
            self.assertTrue(set(st) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, st)
            for a in as_list(st["Action"]):
                self.assertRegex(a, r"^ec2:[A-Z][A-Za-z]+$", "one action per name, no wildcards")
            for r in as_list(st["Resource"]):
                self.assertTrue(r == "*" or r.startswith("arn:aws:ec2:"), r)
            for op, keys in st.get("Condition", {}).items():
                self.assertIsInstance(keys, dict)
        # nothing that is not needed
        self.assertNotIn("ec2:*", policy_actions(policy))
        self.assertNotIn("ec2:DeleteVolume", policy_actions(policy))

    def test_policy_file__self_only_statements__conditioned(self):
        by_sid = {st["Sid"]: st for st in load_policy()["Statement"]}
        stop = by_sid["StopOrTerminateOnlyItself"]
        self.assertEqual(stop["Condition"]["StringEquals"]["aws:ARN"], "${ec2:SourceInstanceARN}")
        extend = by_sid["ExtendOnlyItsOwnExpiry"]
        self.assertEqual(sorted(extend["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"]),
                         ["cdp:expires-at", "cdp:ttl"])
        delete = by_sid["DeleteOnlyItsOwnBackups"]
        self.assertEqual(delete["Condition"]["StringEquals"]["aws:ResourceTag/cdp:managed-by"], "cdpd")
        self.assertIn("${aws:ResourceTag/cdp:instance-id}", delete["Condition"]["ArnLike"]["ec2:SourceInstanceARN"])
        tag = by_sid["TagOnlyWhatItCreates"]
        self.assertIn("CreateSnapshots", tag["Condition"]["StringEquals"]["ec2:CreateAction"])


class CheckTest(unittest.TestCase):

    def setUp(self):
        self.sim = Simulator(edit=edit)
        self.addCleanup(self.sim.stop)
        self.tmp = tempfile.mkdtemp(prefix="cdpd-check-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def set_permissions(self, perms):
        self.sim.control("POST", "/_sim/permissions", {"permissions": perms})

    def start(self, extra=""):
        d = Daemon(self.sim, self.tmp, extra,
                   env_extra={"CDPD_TEST_POWEROFF_FILE": os.path.join(self.tmp, "poweroff"),
                              "CDPD_TEST_WALL_FILE": os.path.join(self.tmp, "wall")})
        self.addCleanup(d.stop)
        d.wait_notify("READY=1")
        return d

    def wait_for(self, pred, timeout=15):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            v = pred()
            if v:
                return v
            time.sleep(0.05)
        return None

    def check_json(self, d):
        res = d.ctl("--json", "check")
        return res.returncode, json.loads(res.stdout), res

    def test_check__permissions_of_policy_file__all_allowed_exit_0(self):
        policy = load_policy()
        self.set_permissions(policy_actions(policy))
        d = self.start()
        rc, out, res = self.check_json(d)
        self.assertEqual(rc, 0, res.stdout + res.stderr)
        self.assertTrue(out["ok"])
        self.assertEqual(out["denied"], 0)
        self.assertEqual(out["unknown"], 0)
        actions = [c["action"] for c in out["checks"]]
        for a in ("DescribeTags", "DescribeInstances", "DescribeVolumes", "CreateSnapshots", "DescribeSnapshots",
                  "DeleteSnapshot", "CopySnapshot", "AssociateAddress", "DescribeAddresses",
                  "DescribeNetworkInterfaces", "DescribeRouteTables", "ReplaceRoute", "CreateRoute",
                  "ModifyNetworkInterfaceAttribute", "DescribeSecurityGroupRules", "RevokeSecurityGroupIngress",
                  "StopInstances", "CreateTags"):
            self.assertIn(a, actions)
        self.assertNotIn("TerminateInstances", actions)      # cdp:expire-action=stop
        for c in out["checks"]:
            self.assertEqual(c["result"], "allowed", c)
            self.assertEqual(c["code"], "DryRunOperation")
            self.assertIn(c["iam_action"], policy_actions(policy), "the policy file covers every checked action")
        # the security group of the rule was found, the copy is signed for its region
        revoke = [c for c in out["checks"] if c["action"] == "RevokeSecurityGroupIngress"]
        self.assertEqual(revoke[0]["resource"], "sg-0aaaa1111bbbb2222")
        copy = [c for c in out["checks"] if c["action"] == "CopySnapshot"]
        self.assertEqual(copy[0]["region"], "us-west-2")
        dry = [c for c in self.sim.calls(service="ec2", action="CopySnapshot")]
        self.assertTrue(dry and all(c["region"] == "us-west-2" and c["params"]["DryRun"] == "true" for c in dry))
        # stable order
        rc2, out2, _ = self.check_json(d)
        self.assertEqual(rc2, 0)
        self.assertEqual([(c["action"], c["resource"]) for c in out["checks"]],
                         [(c["action"], c["resource"]) for c in out2["checks"]])
        # text output, one block per action
        res = d.ctl("check")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("StopInstances", res.stdout)
        # a dry run only: nothing was written
        writes = [c for c in self.sim.calls(service="ec2")
                  if c["action"] in ("StopInstances", "CreateTags", "RevokeSecurityGroupIngress", "DeleteSnapshot",
                                     "CreateSnapshots", "ReplaceRoute", "AssociateAddress")
                  and c["params"].get("DryRun") != "true"]
        self.assertEqual(writes, [])

    def test_check__reduced_permissions__exit_1_naming_missing(self):
        missing = ["ec2:StopInstances", "ec2:CreateSnapshots", "ec2:CopySnapshot"]
        self.set_permissions([a for a in policy_actions(load_policy()) if a not in missing])
        d = self.start()
        rc, out, res = self.check_json(d)
        self.assertEqual(rc, 1, res.stdout + res.stderr)
        self.assertFalse(out["ok"])
        self.assertEqual(out["denied"], 2)
        denied = sorted(c["iam_action"] for c in out["checks"] if c["result"] == "denied")
        self.assertEqual(denied, ["ec2:CreateSnapshots", "ec2:StopInstances"])
        # no snapshot exists yet: the copy names a placeholder source, and a
        # denial on a placeholder proves nothing (a tag condition denies it)
        copy = [c for c in out["checks"] if c["action"] == "CopySnapshot"][0]
        self.assertEqual(copy["result"], "unknown")
        self.assertTrue(copy["placeholder"])
        self.assertEqual(copy["code"], "UnauthorizedOperation")
        self.assertEqual(out["unknown"], 1)
        for c in out["checks"]:
            if c["result"] == "denied":
                self.assertEqual(c["code"], "UnauthorizedOperation")
                self.assertTrue(c["message"])
        self.assertEqual(out["error"]["code"], "PermissionDenied")
        for a in missing:
            self.assertIn(a, out["error"]["message"])
        # the text form names them on stderr and exits 1 too
        res = d.ctl("check")
        self.assertEqual(res.returncode, 1)
        for a in missing:
            self.assertIn(a, res.stderr)

    def test_check__at_start__warns_per_denied_action(self):
        self.set_permissions([a for a in policy_actions(load_policy()) if a != "ec2:StopInstances"])
        d = self.start()
        # the self-check settles for 30 s after the tags were read
        self.assertTrue(self.wait_for(lambda: "permission check:" in d.log(), timeout=45), d.log())
        log = d.log()
        self.assertIn("ec2:StopInstances on %s is denied" % INSTANCE, log)
        self.assertIn("the bastion pattern will fail", log)
        self.assertIn("1 denied", log)
        st = self.wait_for(lambda: d.ctl_json("status").get("check"))
        self.assertEqual(st["denied"], 1)
        self.assertIn("ec2:StopInstances", st["missing"])

    def test_check__tag_change__checked_again(self):
        self.set_permissions([a for a in policy_actions(load_policy()) if a != "ec2:CreateImage"])
        d = self.start()
        # a tag change soon after start: one self-check covers both
        self.sim.set_tags(INSTANCE, {"cdp:snapshot:type": "ami"}, ["cdp:snapshot:copy-to"])
        self.assertEqual(d.ctl("reload").returncode, 0)
        self.assertTrue(self.wait_for(lambda: "ec2:CreateImage on %s is denied" % INSTANCE in d.log(), timeout=45),
                        d.log())
        import re
        self.assertEqual(len(re.findall(r"permission check: \d+ allowed", d.log())), 1, d.log())
        self.assertEqual(len([c for c in self.sim.calls(service="ec2", action="CreateImage")]), 1)

    def test_check__no_bastion_no_snapshot__core_only(self):
        self.sim.set_tags(INSTANCE, {}, ["cdp:snapshot", "cdp:snapshot:keep", "cdp:snapshot:copy-to", "cdp:ttl",
                                          "cdp:expire-action", "cdp:expire-revoke", "cdp:floating-ip",
                                          "cdp:routing-ha"])
        d = self.start()
        rc, out, res = self.check_json(d)
        self.assertEqual(rc, 0, res.stderr)
        self.assertEqual([c["action"] for c in out["checks"]], ["DescribeTags", "DescribeInstances"])


if __name__ == "__main__":
    main()
