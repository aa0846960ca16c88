#!/bin/bash
# migctl against a real migd: what a person reads, what a script parses, and
# the exit codes both rely on (0 ok, 1 migd said no, 2 usage, 3 unreachable).
. "$(dirname "$0")/lib.sh"
: "${MIGCTL:?run through make check, or set MIGCTL to the migctl binary}"

port=$((20000 + RANDOM % 20000))
write_conf "$T/migd.conf" "tcp_listen=127.0.0.1:$port" "tcp_read=open"
start_migd "$T/migd.conf" || { not_ok "migd starts"; tap_finish; }
ctl() { "$MIGCTL" --socket "$T/migd.sock" "$@"; }

out=$(ctl version); rc=$?
check "version exits 0" [ $rc -eq 0 ]
check "version names migd, the API and libvirt" grep -Eq "^migd 0.1.0 \(API v1\), libvirt [0-9]+\.[0-9]+\.[0-9]+, hypervisor TEST" <<<"$out"

out=$(ctl -o json version)
check "-o json version prints migd's JSON" json_is "$out" '.api' v1

out=$(ctl health); rc=$?
check "health exits 0 when migd is healthy" [ $rc -eq 0 ]
check "health says ok and what it is connected to" bash -c 'grep -q "^status: *ok" <<<"$1" && grep -q "connected to test:///default" <<<"$1"' _ "$out"

out=$("$MIGCTL" --url "http://127.0.0.1:$port" -o json health)
check "--url reaches migd over TCP" json_is "$out" .status ok

out=$(MIGCTL_SOCKET="$T/migd.sock" "$MIGCTL" -o json health)
check "MIGCTL_SOCKET chooses the socket" json_is "$out" .status ok

# Global options after the command, as README's 'migctl status ID -o json'.
out=$("$MIGCTL" health -o json --url "http://127.0.0.1:$port" --timeout 5); rc=$?
check "health -o json --url ... --timeout ... exits 0" [ $rc -eq 0 ]
check "health -o json --url ...: JSON over TCP, from the options after the command" \
    json_is "$out" .status ok
out=$("$MIGCTL" list --socket "$T/migd.sock" -o json); rc=$?
check "list --socket ... -o json exits 0" [ $rc -eq 0 ]
check "list --socket ... -o json: JSON from the socket given after the command" \
    json_is "$out" ".migrations | type" array
out=$("$MIGCTL" --socket "$T/migd.sock" status 00000000-0000-4000-8000-000000000000 -o json 2>/dev/null); rc=$?
check "status ID -o json of an unknown ID exits 1" [ $rc -eq 1 ]
check "status ID -o json prints migd's error envelope" json_is "$out" .error.code not_found
check "migctl help says global options go before or after the command" \
    bash -c '"$1" help | grep -q "^Global options (before or after the command"' _ "$MIGCTL"
stop_migd TERM

# A migd that cannot reach libvirt: health is an answer, and an unhappy one.
write_conf "$T/down.conf" "libvirt_uri=qemu+unix:///system?socket=$T/no-libvirt.sock"
UNTIL="STATUS=Serving the API; waiting for libvirt at qemu+unix:///system?socket=$T/no-libvirt.sock: cannot connect to qemu+unix:///system?socket=$T/no-libvirt.sock: Failed to connect socket to '$T/no-libvirt.sock': No such file or directory" \
    start_migd "$T/down.conf" || not_ok "degraded migd starts"
out=$(ctl health 2>"$T/err"); rc=$?
check "health exits 1 when migd is degraded" [ $rc -eq 1 ]
check "degraded health still prints the report" grep -q "^status: *degraded" <<<"$out"
check "stderr says why, with the error code" grep -q "libvirt_disconnected, HTTP 503" "$T/err"
out=$(ctl -o json health 2>/dev/null)
check "-o json health prints the error envelope for scripts" json_is "$out" .error.code libvirt_disconnected
stop_migd TERM

# Unreachable: exit 3 and a message that says what to check.
out=$(ctl health 2>&1); rc=$?
check "no daemon: exit 3" [ $rc -eq 3 ]
check "no daemon: the message names the socket and what to check" \
    grep -q "cannot reach migd at $T/migd.sock: .*Is migd running?" <<<"$out"
out=$("$MIGCTL" --url "http://127.0.0.1:$port" health 2>&1); rc=$?
check "no daemon on TCP: exit 3" [ $rc -eq 3 ]

write_conf "$T/migd.conf"
start_migd "$T/migd.conf" || not_ok "migd starts again"
chmod 0755 "$T"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$MIGCTL" --socket "$T/migd.sock" health 2>&1); rc=$?
check "a user outside the socket's group gets exit 3" [ $rc -eq 3 ]
check "permission denied says what to do" grep -qi "permission denied.*root\|group" <<<"$out"
stop_migd TERM

# Usage errors: exit 2 and no request.
out=$("$MIGCTL" frobnicate 2>&1); rc=$?
check "an unknown command is exit 2 and named" [ $rc -eq 2 -a "${out#*frobnicate}" != "$out" ]
"$MIGCTL" >/dev/null 2>&1; rc=$?
check "no command is exit 2" [ $rc -eq 2 ]
"$MIGCTL" -o yaml health >/dev/null 2>&1; rc=$?
check "an unknown output format is exit 2" [ $rc -eq 2 ]

tap_finish
