#!/bin/sh
# Builds every libFuzzer target with clang (ASan + UBSan) and runs each for
# SECONDS (default 10: the CI smoke run; use 600 or more for a real run).
# New corpus entries go to build/fuzz/corpus-<target>, never into the seeds.
# Usage: tools/fuzz.sh [SECONDS] [TARGET...]
set -eu
cd "$(dirname "$0")/.."
secs=${1:-10}
[ $# -gt 0 ] && shift
targets=${*:-"ec2-xml ec2-xml-patterns policy ctl-proto creds-json config"}
out=build/fuzz
mkdir -p "$out"
CFLAGS="-std=gnu11 -g -O1 -D_GNU_SOURCE -DPACKAGE_VERSION=\"fuzz\" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude"
LIBS="$(pkg-config --cflags --libs libcrypto json-c expat)"
CORE="lib/core/strbuf.c lib/core/secret.c lib/core/parse-util.c"

for t in $targets; do
        case $t in
        ec2-xml)    src="$CORE lib/core/xml.c lib/core/ec2-xml.c" ;;
        ec2-xml-patterns)
                    src="$CORE lib/core/xml.c lib/core/ec2-xml.c lib/core/ec2-xml-ha.c
                         lib/core/ec2-xml-snapshot.c lib/core/ec2-xml-bastion.c" ;;
        policy)     src="$CORE lib/core/schedule.c lib/core/policy.c" ;;
        ctl-proto)  src="$CORE lib/core/ctl-proto.c" ;;
        creds-json) src="$CORE lib/io/creds.c lib/io/imds.c lib/core/clock.c"
                    LIBS_T="$(pkg-config --libs libsystemd)" ;;
        config)     src="$CORE lib/core/config.c" ;;
        *) echo "unknown target $t"; exit 2 ;;
        esac
        # shellcheck disable=SC2086
        clang $CFLAGS $src "tests/fuzz/fuzz-$t.c" -o "$out/fuzz-$t" $LIBS ${LIBS_T:-}
        LIBS_T=""
        mkdir -p "$out/corpus-$t"
        dict=""
        [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
        # shellcheck disable=SC2086
        "$out/fuzz-$t" -max_total_time="$secs" -max_len=65536 $dict -print_final_stats=1 \
                "$out/corpus-$t" "tests/fuzz/corpus/$t" >"$out/fuzz-$t.log" 2>&1 || {
                echo "fuzz-$t: FAILED"; tail -40 "$out/fuzz-$t.log"; exit 1; }
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/fuzz-$t.log" | grep -o '[0-9]*$')
        echo "fuzz-$t: ${runs:-?} executions in ${secs}s, no finding"
done
