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
cleanup() {
        [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
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
echo "== the calls cdpd made (from the simulator's log)"
/usr/bin/python3 - "$work/calls.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    c = json.loads(line)
    what = c.get("action") or c.get("path")
    print("  %-5s %-4s %-60s %s %s" % (c["service"], c.get("method", ""), what, c["status"], c.get("code") or ""))
PY
