#!/bin/sh
# Installs what is missing, builds cdpd and runs every test: gcc with -Werror
# (unit tests, simulator tests, integration tests, make distcheck), then the
# same tests built with clang under AddressSanitizer + UBSan.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)

./tools/deps.sh --test
./autogen.sh >/dev/null

echo "=== gcc -Werror: build and make check"
rm -rf build/gcc && mkdir -p build/gcc && cd build/gcc
"$top/configure" --enable-werror -q CFLAGS="-O2 -g"
make -s -j"$jobs"
make -s -j"$jobs" check || { cat test-suite.log; exit 1; }
grep -hE '^# (TOTAL|PASS|FAIL|ERROR)' test-suite.log || true

echo "=== clang AddressSanitizer + UBSan: make check"
cd "$top"
rm -rf build/asan && mkdir -p build/asan && cd build/asan
"$top/configure" --enable-werror -q CC=clang \
        CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
        LDFLAGS="-fsanitize=address,undefined"
make -s -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        make -s -j"$jobs" check || { cat test-suite.log; exit 1; }
grep -hE '^# (TOTAL|PASS|FAIL|ERROR)' test-suite.log || true

echo "=== make distcheck"
cd "$top/build/gcc"
make -s distcheck DISTCHECK_CONFIGURE_FLAGS="--enable-werror" >distcheck.log 2>&1 || { tail -50 distcheck.log; exit 1; }
tail -4 distcheck.log
echo "all tests passed"
