#!/bin/sh
# Installs what is missing, builds cdpd, starts the IMDS + EC2 simulator on
# 127.0.0.1 and runs cdpd against it, printing what happens.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

./tools/deps.sh
[ -x configure ] || ./autogen.sh >/dev/null
mkdir -p build/demo && cd build/demo
[ -f Makefile ] || "$top/configure" -q
make -s -j"$(nproc 2>/dev/null || echo 2)"
cd "$top"

work=$(mktemp -d)
sim_pid=""
cdpd_pid=""
cleanup() {
        if [ -n "$cdpd_pid" ]; then kill "$cdpd_pid" 2>/dev/null || true; fi
        if [ -n "$sim_pid" ]; then
                kill "$sim_pid" 2>/dev/null || true
                wait "$sim_pid" 2>/dev/null || true
        fi
        rm -rf "$work"
}
trap cleanup EXIT INT TERM

/usr/bin/python3 tests/sim/cdpsim.py --scenario tests/sim/scenarios/basic.json \
        --ec2-port 0 --ready-file "$work/ready.json" --log "$work/calls.jsonl" >"$work/sim.log" 2>&1 &
sim_pid=$!
i=0
while [ ! -f "$work/ready.json" ]; do
        i=$((i + 1))
        [ $i -gt 200 ] && { echo "simulator did not start"; cat "$work/sim.log"; exit 1; }
        sleep 0.05
done
ports=$(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["ec2_port"], d["imds"]["i-0123456789abcdef0"])' "$work/ready.json")
ec2_port=${ports% *}
imds_port=${ports#* }

export AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$imds_port"
export AWS_ENDPOINT_URL_EC2="http://127.0.0.1:$ec2_port"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION AWS_PROFILE
: >"$work/cdpd.conf"

echo "== simulator: EC2 on 127.0.0.1:$ec2_port, IMDS of i-0123456789abcdef0 on 127.0.0.1:$imds_port"
echo
echo "== cdpd --probe (boot: identity, instance-role credentials, tags, policy)"
build/demo/daemon/cdpd --probe -c "$work/cdpd.conf"
echo
echo "== the daemon: cdpd in the foreground, its run_dir, hooks and control socket in $work"
mkdir -p "$work/hooks.d"
cat >"$work/hooks.d/10-show" <<'HOOK'
#!/bin/sh
if [ "$CDP_EVENT" = tags-changed ]; then
        echo "   hook: CDP_EVENT=$CDP_EVENT, $CDP_ENV_FILE now says: $(grep -v '^#' "$CDP_ENV_FILE" | tr '\n' ' ')"
else
        echo "   hook: CDP_EVENT=$CDP_EVENT"
fi
HOOK
chmod 755 "$work/hooks.d/10-show"
cat >"$work/cdpd.conf" <<CONF
run_dir = $work/run
control_socket = $work/run/control.sock
hooks_dir = $work/hooks.d
CONF
build/demo/daemon/cdpd -c "$work/cdpd.conf" 2>"$work/cdpd.log" &
cdpd_pid=$!
i=0
until build/demo/daemon/cdpctl --socket "$work/run/control.sock" --json status 2>/dev/null | grep -q '"ready": *true'; do
        i=$((i + 1))
        [ $i -gt 200 ] && { echo "cdpd did not start"; cat "$work/cdpd.log"; exit 1; }
        sleep 0.05
done
ctl() { build/demo/daemon/cdpctl --socket "$work/run/control.sock" "$@"; }
echo
echo "-- cdpctl status"
ctl status
echo
echo "-- Cloud DI: $work/run/env (EnvironmentFile= for other services)"
cat "$work/run/env"
echo
echo "-- an operator changes the instance's tags: cdp:env:DB_HOST=db2.internal, cdp:env:FEATURE_X=on"
/usr/bin/python3 - "$ec2_port" <<'PY'
import json, sys, urllib.request
body = {"region": "us-east-1", "resource": "i-0123456789abcdef0",
        "set": {"cdp:env:DB_HOST": "db2.internal", "cdp:env:FEATURE_X": "on"}, "delete": []}
req = urllib.request.Request("http://127.0.0.1:%s/_sim/tags" % sys.argv[1], json.dumps(body).encode(), method="POST")
urllib.request.urlopen(req).read()
PY
echo "-- cdpctl reload (cdpd also notices by itself within tag_refresh)"
ctl reload >/dev/null
sleep 0.3
cat "$work/run/env"
echo
echo "-- a bad tag: cdp:snapshot:keep=seven disables only the snapshot policy"
/usr/bin/python3 - "$ec2_port" <<'PY'
import json, sys, urllib.request
body = {"region": "us-east-1", "resource": "i-0123456789abcdef0", "set": {"cdp:snapshot:keep": "seven"}, "delete": []}
req = urllib.request.Request("http://127.0.0.1:%s/_sim/tags" % sys.argv[1], json.dumps(body).encode(), method="POST")
urllib.request.urlopen(req).read()
PY
ctl reload >/dev/null
ctl --json policy | /usr/bin/python3 -c 'import json,sys; p=json.load(sys.stdin); print("   snapshot enabled:", p["snapshot"]["enabled"], "| routing_ha enabled:", p["routing_ha"]["enabled"]); [print("   error:", e["reason"]) for e in p["errors"]]'
echo
echo "-- HA: keepalived (or Pacemaker) made this node master: cdpctl takeover"
echo "   before: $(ctl --json status | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin)["ha"]; print("routing-ha", s.get("routing_ha_state"), "| floating-ip", s.get("floating_ip_state"))')"
start=$(date +%s%N)
ctl takeover | sed "s/^/   /"
end=$(date +%s%N)
echo "   takeover returned after $(( (end - start) / 1000000 )) ms (route tables and the Elastic IP now point at this node, verified)"
echo "   a second takeover finds everything here and writes nothing:"
ctl takeover | sed 's/^/   /' | head -5
echo
echo "-- the operator fixes it: cdp:snapshot:keep=3"
/usr/bin/python3 - "$ec2_port" <<'PY'
import json, sys, urllib.request
body = {"region": "us-east-1", "resource": "i-0123456789abcdef0", "set": {"cdp:snapshot:keep": "3"}, "delete": []}
req = urllib.request.Request("http://127.0.0.1:%s/_sim/tags" % sys.argv[1], json.dumps(body).encode(), method="POST")
urllib.request.urlopen(req).read()
PY
ctl reload >/dev/null
echo
echo "-- Snapshot: cdpctl snapshot (the schedule's run, now): one crash-consistent CreateSnapshots, all tags set"
ctl snapshot | grep -E '^(slot|type|result|created_count|deleted_count|kept)|^  - (id|device)' | sed 's/^/   /'
echo "   the same slot again is never taken twice:"
ctl snapshot | grep -E '^(slot_taken|created_count)' | sed 's/^/   /'
echo
echo "-- Bastion: the instance is tagged to expire in 5 s, then stop, revoking its temporary SSH rule"
expiry=$(date -u -d '+5 seconds' +%Y-%m-%dT%H:%M:%SZ)
/usr/bin/python3 - "$ec2_port" "$expiry" <<'PY'
import json, sys, urllib.request
body = {"region": "us-east-1", "resource": "i-0123456789abcdef0",
        "set": {"cdp:expires-at": sys.argv[2], "cdp:expire-action": "stop",
                "cdp:expire-revoke": "sgr-0aaa1111bbbb22223"}, "delete": []}
req = urllib.request.Request("http://127.0.0.1:%s/_sim/tags" % sys.argv[1], json.dumps(body).encode(), method="POST")
urllib.request.urlopen(req).read()
PY
ctl reload >/dev/null
sleep 0.5
ctl --json status | /usr/bin/python3 -c 'import json,sys; b=json.load(sys.stdin)["bastion"]; print("   expires_at:", b.get("expires_at"), "| time left:", b.get("time_left"), "| action:", b.get("action"), "| revoke:", b.get("revoke"))'
sleep 7
/usr/bin/python3 - "$ec2_port" <<'PY'
import json, sys, urllib.request
calls = json.load(urllib.request.urlopen("http://127.0.0.1:%s/_sim/calls" % sys.argv[1]))
for c in calls:
    if c.get("action") in ("RevokeSecurityGroupIngress", "StopInstances", "TerminateInstances") and c["params"].get("DryRun") != "true":
        print("   at expiry:", c["action"], c["status"])
st = json.load(urllib.request.urlopen("http://127.0.0.1:%s/_sim/state" % sys.argv[1]))
print("   instance state now:", st["regions"]["us-east-1"]["instances"]["i-0123456789abcdef0"]["state"])
PY
kill -TERM "$cdpd_pid"
wait "$cdpd_pid" || true
echo
echo "-- cdpd's log"
sed 's/^/   /' "$work/cdpd.log"
echo
echo "== the calls cdpd made (from the simulator's log)"
/usr/bin/python3 - "$work/calls.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    c = json.loads(line)
    what = c.get("action") or c.get("path")
    print("  %-5s %-4s %-60s %s %s" % (c["service"], c.get("method", ""), what, c["status"], c.get("code") or ""))
PY
