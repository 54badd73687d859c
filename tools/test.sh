#!/bin/sh
# Installs what is missing, builds cdpd and runs every test:
#   1. gcc -Werror: unit tests, simulator tests, integration tests (probe,
#      daemon, HA with a real keepalived failover, OCF agent, unit file);
#   2. the unit tests again under valgrind memcheck (no error, no leak);
#   3. clang AddressSanitizer + UBSan: the same `make check`;
#   4. a short run of every libFuzzer target;
#   5. make distcheck.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0
started=$(date +%s)

count() { # test-suite.log -> totals
        p=$(sed -n 's/^# PASS: *//p' "$1")
        f=$(sed -n 's/^# FAIL: *//p' "$1")
        e=$(sed -n 's/^# ERROR: *//p' "$1")
        passed=$((passed + p))
        failed=$((failed + f + e))
        grep -E '^# (TOTAL|PASS|SKIP|FAIL|ERROR)' "$1" | tr '\n' ' '
        echo
}

./tools/deps.sh --test
./autogen.sh >/dev/null

echo "=== 1. gcc -Werror: build and make check"
rm -rf build/gcc && mkdir -p build/gcc && cd build/gcc
"$top/configure" --enable-werror -q CFLAGS="-O2 -g"
make -s -j"$jobs" >/dev/null
make -s -j"$jobs" check >/dev/null 2>&1 || { cat test-suite.log; exit 1; }
count test-suite.log

echo "=== 2. valgrind memcheck over the unit tests"
vg_fail=0
vg_pass=0
for t in tests/unit/test-*; do
        case $t in *.o|*.log|*.trs) continue ;; esac
        [ -x "$t" ] || continue
        if CDP_TEST_DATA="$top/tests/data" CDP_TOP_SRCDIR="$top" CDP_TOP_BUILDDIR="$(pwd)" \
                valgrind -q --error-exitcode=99 --leak-check=full \
                --errors-for-leak-kinds=definite,indirect,possible "$t" >"$t.valgrind.log" 2>&1; then
                vg_pass=$((vg_pass + 1))
        else
                vg_fail=$((vg_fail + 1))
                echo "valgrind: $t failed"; tail -30 "$t.valgrind.log"
        fi
done
echo "valgrind: $vg_pass binaries clean, $vg_fail with errors or leaks"
passed=$((passed + vg_pass))
failed=$((failed + vg_fail))
[ "$vg_fail" -eq 0 ] || exit 1

echo "=== 3. clang AddressSanitizer + UBSan: make check"
cd "$top"
rm -rf build/asan && mkdir -p build/asan && cd build/asan
"$top/configure" --enable-werror -q CC=clang \
        CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
        LDFLAGS="-fsanitize=address,undefined"
make -s -j"$jobs" >/dev/null
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        make -s -j"$jobs" check >/dev/null 2>&1 || { cat test-suite.log; exit 1; }
count test-suite.log

echo "=== 4. cppcheck and clang-tidy (tools/lint.sh), then a fuzz smoke run (10 s per target)"
cd "$top"
cppcheck --version >/dev/null 2>&1 || { echo "cppcheck missing"; exit 1; }
./tools/lint.sh
cd "$top"
# (no pipe into tee: sh has no pipefail, a finding must fail this script)
./tools/fuzz.sh 10 >build/fuzz-smoke.log 2>&1 || { cat build/fuzz-smoke.log; exit 1; }
cat build/fuzz-smoke.log
# one per target that ran clean (fuzz.sh stops at the first finding)
passed=$((passed + $(grep -c ', no finding$' build/fuzz-smoke.log)))

echo "=== 5. make distcheck"
cd "$top/build/gcc"
make -s distcheck DISTCHECK_CONFIGURE_FLAGS="--enable-werror" TESTS="$(make -s print-distcheck-tests)" \
        >distcheck.log 2>&1 || { tail -60 distcheck.log; exit 1; }
grep -A2 'archives ready for distribution' distcheck.log || tail -3 distcheck.log
passed=$((passed + 1))

echo
echo "$passed passed, $failed failed ($(( $(date +%s) - started )) s)"
[ "$failed" -eq 0 ]
