#!/bin/sh
# SPDX-License-Identifier: MIT
#
# cdpd-notify.sh: keepalived notify script for cdpd (Floating IP and
# Routing-based HA). keepalived decides who is master; cdpd moves the AWS
# side when told to.
#
#   MASTER              -> cdpctl takeover: moves the Elastic IPs, secondary
#                          private IPs and route table entries of this
#                          instance's cdp:floating-ip / cdp:routing-ha tags
#                          here; returns 0 once AWS routes all of them here.
#   BACKUP, FAULT, STOP -> cdpctl release: removes the local addresses cdpd
#                          added (manage_local_vip = yes). It never changes
#                          AWS: the new master's takeover moves the targets.
#
# Use it either way in keepalived.conf:
#   notify /usr/share/cdpd/keepalived/cdpd-notify.sh
#       (keepalived appends: GROUP|INSTANCE NAME STATE PRIORITY)
#   notify_master "/usr/share/cdpd/keepalived/cdpd-notify.sh master"
#   notify_backup "/usr/share/cdpd/keepalived/cdpd-notify.sh backup"
#
# Environment (all optional):
#   CDPCTL          the cdpctl binary (default /usr/bin/cdpctl)
#   CDPD_SOCKET     cdpd's control socket (cdpctl's default: /run/cdpd/control.sock)
#   CDPD_PATTERN    floating-ip or routing-ha; empty for both (default)
#   CDPD_TIMEOUT    takeover deadline in seconds (default: cdpd's takeover_timeout)
#
# keepalived runs this as script_user (root, or a user in the cdpd group) and,
# with enable_script_security, only when neither the script nor its
# directories are writable by anyone else. The exit status is cdpctl's
# (0 done, 1 failed, 2 usage, 3 cdpd unreachable); keepalived ignores it, the
# outcome goes to syslog.

set -u

CDPCTL=${CDPCTL:-/usr/bin/cdpctl}
PATTERN=${CDPD_PATTERN:-}

case "${1:-}" in
GROUP|INSTANCE) state=${3:-} ;;
*) state=${1:-} ;;
esac
state=$(printf '%s' "$state" | tr '[:upper:]' '[:lower:]')

log() {
        if command -v logger >/dev/null 2>&1; then
                logger -t cdpd-notify -- "$*"
        else
                printf 'cdpd-notify: %s\n' "$*" >&2
        fi
}

case "$state" in
master)
        if [ -n "${CDPD_TIMEOUT:-}" ]; then
                set -- takeover ${PATTERN:+"$PATTERN"} --timeout "$CDPD_TIMEOUT"
        else
                set -- takeover ${PATTERN:+"$PATTERN"}
        fi
        ;;
backup|fault|stop)
        set -- release ${PATTERN:+"$PATTERN"}
        ;;
*)
        log "unknown state '${state}', doing nothing"
        exit 2
        ;;
esac

out=$("$CDPCTL" "$@" 2>&1)
rc=$?
if [ "$rc" -eq 0 ]; then
        log "$state: cdpctl $1 done"
else
        log "$state: cdpctl $1 failed with status $rc: $out"
fi
exit "$rc"
