#!/bin/sh
# Installs what building and testing cdpd needs on Debian/Ubuntu (apt).
# Amazon Linux 2023 equivalents: gcc make autoconf automake pkgconf-pkg-config
# libcurl-devel openssl-devel json-c-devel systemd-devel expat-devel
# libcmocka-devel python3-botocore (tests), clang compiler-rt (sanitizers).
set -eu
PKGS="build-essential autoconf automake pkg-config libcurl4-openssl-dev libssl-dev
libjson-c-dev libsystemd-dev libexpat1-dev libcmocka-dev python3 python3-botocore
tzdata ca-certificates"
# Tests: sanitizers, valgrind, and the real heartbeat peers of SPEC 6
# (keepalived; resource-agents' ocf-tester, which lints with xmllint; ip netns).
[ "${1:-}" = "--test" ] && PKGS="$PKGS clang libclang-rt-14-dev clang-tidy cppcheck valgrind keepalived resource-agents libxml2-utils iproute2"

missing=""
for p in $PKGS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "deps: installing$missing"
$SUDO apt-get update -q
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
