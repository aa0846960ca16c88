#!/bin/bash
# Who may use the unix socket: its file mode and group decide who may
# connect, and whoever may connect may do everything, read and change (no
# credential is asked there). Tried as the user nobody, with and without the
# socket's group.
. "$(dirname "$0")/lib.sh"
: "${MIGCTL:?run through make check, or set MIGCTL to the migctl binary}"

if [ "$(id -u)" != 0 ] || ! command -v setpriv > /dev/null; then
    echo "1..0 # SKIP needs root and setpriv to try the socket as another user"
    exit 0
fi
# Others may reach the socket by name; its own mode decides the rest.
chmod 0711 "$T"
group=$(id -gn nobody)

# as_nobody GID METHOD PATH: the HTTP status nobody gets with GID as its only
# group, 000 when it cannot connect.
as_nobody() {
    setpriv --reuid=nobody --regid="$1" --clear-groups \
        curl -s --max-time 10 --unix-socket "$T/migd.sock" -X "$2" -o /dev/null \
        -w '%{http_code}' "http://localhost$3"
}

write_conf "$T/migd.conf"
start_migd "$T/migd.conf" || { not_ok "migd starts"; tap_finish; }
check "by default the socket is mode 0660, owned by root's group" \
    [ "$(stat -c '%a %U %G' "$T/migd.sock")" = "660 root $(id -gn root)" ]
api GET /v1/health
check "root reads" [ "$STATUS" = 200 ]
api DELETE /v1/reservations/none-such
check "root may change (a release of an unknown reservation is its 404)" [ "$STATUS" = 404 ]
check "another user cannot connect to read" [ "$(as_nobody "$group" GET /v1/health)" = 000 ]
check "nor to change" [ "$(as_nobody "$group" DELETE /v1/reservations/none-such)" = 000 ]
out=$(setpriv --reuid=nobody --regid="$group" --clear-groups "$MIGCTL" --socket "$T/migd.sock" health 2>&1); rc=$?
check "migctl as another user: exit 3, and says how to get access" \
    bash -c "[ $rc -eq 3 ] && grep -q 'member of the group that owns the socket' <<<\"\$1\"" _ "$out"
stop_migd

write_conf "$T/migd.conf" "unix_socket_group=$group"
start_migd "$T/migd.conf" || { not_ok "migd starts with unix_socket_group"; tap_finish; }
check "unix_socket_group gives the socket to that group" \
    [ "$(stat -c '%a %G' "$T/migd.sock")" = "660 $group" ]
check "a member of the group reads" [ "$(as_nobody "$group" GET /v1/health)" = 200 ]
check "and may change, as root may" [ "$(as_nobody "$group" DELETE /v1/reservations/none-such)" = 404 ]
check "a user outside the group still cannot connect" [ "$(as_nobody daemon GET /v1/health)" = 000 ]
stop_migd

write_conf "$T/migd.conf" "unix_socket_group=$group" "unix_socket_mode=0600"
start_migd "$T/migd.conf" || { not_ok "migd starts with unix_socket_mode 0600"; tap_finish; }
check "unix_socket_mode = 0600 is applied" [ "$(stat -c %a "$T/migd.sock")" = 600 ]
check "then even the group's members cannot connect" [ "$(as_nobody "$group" GET /v1/health)" = 000 ]
api GET /v1/health
check "and root still reads" [ "$STATUS" = 200 ]
stop_migd
tap_finish
