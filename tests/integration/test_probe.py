#!/usr/bin/python3
"""`cdpd --probe` against the simulator (issue 2): identity, credentials,
tags and policy, and the failure paths SPEC 3 names."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from simharness import SimTestCase, main, sim_env, STATIC_SECRET  # noqa: E402

INSTANCE = "i-0123456789abcdef0"


class ProbeTest(SimTestCase):

    def assert_identity(self, out):
        self.assertEqual(out["instance_id"], INSTANCE)
        self.assertEqual(out["region"], "us-east-1")
        self.assertEqual(out["availability_zone"], "us-east-1a")
        self.assertEqual(out["network_interface_id"], "eni-0a1b2c3d4e5f60001")
        self.assertEqual(out["endpoint"], self.sim.ec2_url)
        self.assertEqual(out["tags"]["Name"], "web-1")
        self.assertEqual(out["tags"]["cdp:env:DB_HOST"], "db.internal")
        self.assertEqual(out["launch_time"], "2026-01-15T09:30:00Z")

    def test_probe__instance_role__prints_identity_tags_policy(self):
        out = self.probe_json(sim_env(self.sim))
        self.assert_identity(out)
        self.assertEqual(out["credentials_source"], "instance-role:cdpd-test-role")
        self.assertEqual(out["tags_source"], "imds")
        self.assertEqual(out["region_source"], "imds")
        self.assertEqual(out["errors"], [])
        self.assertIn("policy", out)
        # Every EC2 call was signed with the role's key and accepted.
        calls = self.sim.calls(service="ec2")
        self.assertTrue(calls)
        for c in calls:
            self.assertEqual(c["status"], 200, c)
            self.assertTrue(c["access_key_id"].startswith("ASIA") or c["access_key_id"] != "", c)
        # IMDSv2 only: one token for the whole run, every GET carried it.
        imds = self.sim.calls(service="imds")
        self.assertEqual(sum(1 for c in imds if c["method"] == "PUT"), 1)
        self.assertTrue(all(c["status"] in (200, 404) for c in imds), imds)

    def test_probe__text_output__readable(self):
        res = self.probe(sim_env(self.sim))
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("instance_id", res.stdout)
        self.assertIn(INSTANCE, res.stdout)
        self.assertIn("cdp:env:DB_HOST = db.internal", res.stdout)

    def test_probe__environment_keys__source_environment(self):
        out = self.probe_json(sim_env(self.sim, static_keys=True))
        self.assert_identity(out)
        self.assertEqual(out["credentials_source"], "environment")
        self.assertTrue(all(c["access_key_id"] == "AKIDSIMEXAMPLE"
                            for c in self.sim.calls(service="ec2")))

    def test_probe__region_from_env__wins_over_imds(self):
        out = self.probe_json(sim_env(self.sim, AWS_REGION="us-east-1"))
        self.assertEqual(out["region_source"], "environment (AWS_REGION)")
        self.assertFalse(self.sim.calls(service="imds", path="/latest/meta-data/placement/region"))

    def test_probe__throttled_twice__then_answered(self):
        self.sim.fault(service="ec2", action="DescribeInstances", kind="throttle", count=2)
        out = self.probe_json(sim_env(self.sim))
        self.assert_identity(out)
        calls = self.sim.calls(service="ec2", action="DescribeInstances")
        self.assertEqual([c["status"] for c in calls], [503, 503, 200])
        self.assertEqual([c["code"] for c in calls][:2], ["RequestLimitExceeded"] * 2)

    def test_probe__server_error_once__retried(self):
        self.sim.fault(service="ec2", action="DescribeInstances", kind="error", count=1)
        out = self.probe_json(sim_env(self.sim))
        self.assert_identity(out)

    def test_probe__throttled_forever__fails_after_max_attempts(self):
        self.sim.fault(service="ec2", action="DescribeInstances", kind="throttle", count=-1)
        res = self.probe(sim_env(self.sim))
        self.assertEqual(res.returncode, 1)
        self.assertIn("RequestLimitExceeded", res.stderr)
        self.assertEqual(len(self.sim.calls(service="ec2", action="DescribeInstances")), 3)

    def test_probe__imds_401_once__new_token_and_retry(self):
        self.sim.fault(service="imds", kind="token_expire")
        out = self.probe_json(sim_env(self.sim))
        self.assert_identity(out)

    def test_probe__token_expires_mid_run__one_retry(self):
        # Expire tokens after the first answers: the next GET gets 401,
        # cdpd fetches one new token and carries on.
        env = sim_env(self.sim)
        self.probe_json(env)
        self.sim.clear_calls()
        self.sim.fault(service="imds", kind="token_expire")
        out = self.probe_json(env)
        self.assert_identity(out)

    def test_probe__credentials_expired_at_aws__refreshed_once(self):
        # The role key IMDS hands out is revoked at AWS: the first EC2 call
        # gets RequestExpired, cdpd fetches new role credentials and retries.
        env = sim_env(self.sim)
        self.sim.fault(service="ec2", action="DescribeInstances", kind="creds_expire")
        out = self.probe_json(env)
        self.assert_identity(out)
        creds = [c for c in self.sim.calls(service="imds")
                 if c["path"].startswith("/latest/meta-data/iam/security-credentials/cdpd-test-role")]
        self.assertGreaterEqual(len(creds), 1)

    def test_probe__credentials_near_expiry__refreshed(self):
        # Role credentials that expire within 5 minutes are refreshed before use.
        self.sim.stop()
        from simharness import Simulator

        def short_ttl(s):
            s["role_credentials_ttl"] = 200   # < 300 s: already inside the margin
            inst = s["regions"]["us-east-1"]["instances"][INSTANCE]
            inst["instance_metadata_tags"] = False   # two EC2 calls: DescribeInstances, DescribeTags
        self.sim = Simulator(edit=short_ttl)
        self.addCleanup(self.sim.stop)
        out = self.probe_json(sim_env(self.sim))
        self.assert_identity(out)
        creds = [c for c in self.sim.calls(service="imds")
                 if c["path"] == "/latest/meta-data/iam/security-credentials/cdpd-test-role"]
        self.assertGreaterEqual(len(creds), 2, creds)

    def test_probe__metadata_tags_disabled__falls_back_to_describe_tags(self):
        self.sim.control("POST", "/_sim/instance", {"region": "us-east-1", "id": INSTANCE,
                                                     "instance_metadata_tags": False})
        out = self.probe_json(sim_env(self.sim))
        self.assert_identity(out)
        self.assertEqual(out["tags_source"], "api")
        calls = self.sim.calls(service="ec2", action="DescribeTags")
        self.assertEqual(len(calls), 1)
        self.assertEqual(calls[0]["params"].get("Filter.1.Name"), "resource-id")
        self.assertEqual(calls[0]["params"].get("Filter.1.Value.1"), INSTANCE)

    def test_probe__wrong_secret__fails_like_aws(self):
        env = sim_env(self.sim, static_keys=True,
                      AWS_SECRET_ACCESS_KEY=STATIC_SECRET[:-1] + "X")
        res = self.probe(env)
        self.assertEqual(res.returncode, 1)
        self.assertIn("SignatureDoesNotMatch", res.stderr)
        self.assertEqual(len(res.stderr.strip().splitlines()), 1, res.stderr)
        self.assertNotIn(STATIC_SECRET[:-1], res.stderr + res.stdout)
        calls = self.sim.calls(service="ec2")
        self.assertEqual([c["code"] for c in calls], ["SignatureDoesNotMatch"])
        self.assertEqual(calls[0]["status"], 403)

    def test_probe__unknown_key__auth_failure(self):
        env = sim_env(self.sim, static_keys=True, AWS_ACCESS_KEY_ID="AKIDNOTKNOWN0000")
        res = self.probe(env)
        self.assertEqual(res.returncode, 1)
        self.assertIn("AuthFailure", res.stderr)

    def test_probe__imds_down__clear_error(self):
        self.sim.fault(service="imds", kind="down", count=-1)
        res = self.probe(sim_env(self.sim))
        self.assertEqual(res.returncode, 1)
        self.assertIn("instance metadata service unreachable", res.stderr)

    def test_probe__imds_disabled__clear_error(self):
        res = self.probe(sim_env(self.sim, AWS_EC2_METADATA_DISABLED="true"))
        self.assertEqual(res.returncode, 1)
        self.assertIn("AWS_EC2_METADATA_DISABLED", res.stderr)
        self.assertEqual(self.sim.calls(service="imds"), [])

    def test_probe__malformed_answer__retried_then_ok(self):
        self.sim.fault(service="ec2", action="DescribeInstances", kind="malformed", count=1)
        out = self.probe_json(sim_env(self.sim))
        self.assert_identity(out)

    def test_probe__truncated_answer_always__fails(self):
        self.sim.fault(service="ec2", action="DescribeInstances", kind="truncated", count=-1)
        res = self.probe(sim_env(self.sim))
        self.assertEqual(res.returncode, 1)
        self.assertIn("MalformedResponse", res.stderr)

    def test_probe__dropped_connection__retried(self):
        self.sim.fault(service="ec2", action="DescribeInstances", kind="drop", count=1)
        out = self.probe_json(sim_env(self.sim))
        self.assert_identity(out)

    def test_probe__timeout__retried(self):
        with open(self.config, "w", encoding="utf-8") as f:
            f.write("api_timeout = 1s\n")
        self.sim.fault(service="ec2", action="DescribeInstances", kind="timeout", latency_ms=3000,
                       count=1)
        out = self.probe_json(sim_env(self.sim))
        self.assert_identity(out)

    def test_probe__bad_tag__reported_with_tag_value_reason(self):
        self.sim.set_tags(INSTANCE, {"cdp:snapshot:keep": "seven"})
        out = self.probe_json(sim_env(self.sim))
        errs = [e for e in out["errors"] if e["tag"] == "cdp:snapshot:keep"]
        self.assertEqual(len(errs), 1, out["errors"])
        self.assertEqual(errs[0]["value"], "seven")
        self.assertTrue(errs[0]["reason"])

    def test_probe__bad_config__names_file_and_line(self):
        with open(self.config, "w", encoding="utf-8") as f:
            f.write("# ok\nregion = us-east-1\nno_such_key = 1\n")
        res = self.probe(sim_env(self.sim))
        self.assertEqual(res.returncode, 1)
        self.assertIn(self.config + ":3:", res.stderr)
        self.assertIn("no_such_key", res.stderr)


if __name__ == "__main__":
    main()
