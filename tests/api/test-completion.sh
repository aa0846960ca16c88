#!/bin/bash
# migctl's bash completion (client/bash-completion/migctl) against a real
# migd that loaded three finished migrations: commands and options as
# migctl's help lists them, migration IDs and domains from migd, peers from
# migd.conf, and the --socket on the line is the migd it asks.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
: "${MIGCTL:?run through make check, or set MIGCTL to the migctl binary}"
completion=$TOP_SRCDIR/client/bash-completion/migctl

write_conf "$T/migd.conf"
printf '\n[peer.hostb]\nlibvirt_uri = qemu+tcp://10.0.0.2/system\n' >>"$T/migd.conf"
mapfile -t ids < <("$here/../tools/make-records" "$here/../data/records/completed.json" \
    "$T/state" 3 3)
start_migd "$T/migd.conf" || { not_ok "migd starts"; tap_finish; }
api GET /v1/migrations
check "migd lists the three migrations the completion will offer" \
    json_is "$BODY" '[.migrations[].domain] | join(" ")' "vm-0 vm-1 vm-2"

# complete WORD...: what completing the last WORD of "migctl WORD..." offers,
# sorted, on one line; the line reaches migd with --socket.
complete_line() {
    MIGD_CONF=$T/migd.conf bash -c '
        . "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        _migctl
        printf "%s\n" "${COMPREPLY[@]}" | sort | xargs' sh "$completion" "$MIGCTL" "$@"
}

# offers EXPECTED WORD...: completing WORD... offers exactly EXPECTED.
offers() {
    local want=$1 got
    shift
    got=$(complete_line "$@")
    [ "$got" = "$want" ] || { echo "# migctl $*<TAB> offered '$got', expected '$want'"; return 1; }
}

short() {
    local i out=""
    for i in "$@"; do out+="${ids[$i]:0:8} "; done
    echo "${out% }"
}

check "bash reads the completion and binds it to migctl" \
    bash -c ". '$completion' && complete -p migctl | grep -q -- '-F _migctl migctl'"
check "the commands are those of migctl help" \
    offers "$("$MIGCTL" help | awk '/^Commands:/ {on=1; next} /^$/ {on=0} on && /^  [a-z]/ {print $1}' |
        sort | xargs)" ""
check "a command's beginning completes to it" offers "force-complete" f
check "the global options, from the help's option lines, not its prose (--wait)" \
    offers "--cacert --cert --help --key --output --socket --timeout --url --version" --
check "after a command, its options and the global ones" \
    offers "--socket --stall-iterations --strategy" migrate --s
check "-o takes text or json" offers "json text" -o ""
# The lists the completion holds, against docs/openapi.json's.
enum_of() {
    jq -r "$1.enum | sort | join(\" \")" "$TOP_SRCDIR/docs/openapi.json"
}
check "--strategy takes the strategies a migration request takes (openapi.json)" \
    offers "$(enum_of .components.schemas.MigrationRequest.properties.strategy)" drain --strategy ""
check "--state takes the job states (openapi.json)" \
    offers "$(enum_of .components.schemas.JobState)" list --state ""
check "--state completes a state's beginning" offers "cancelled checking completed" list --state c
check "status completes the IDs of migd's migrations (as list shows them)" \
    offers "$(short 0 1 2 | tr ' ' '\n' | sort | xargs)" --socket "$T/migd.sock" status ""
check "cancel offers no finished migration" offers "" --socket "$T/migd.sock" cancel ""
check "migrate completes the domains migd knows" \
    offers "vm-0 vm-1 vm-2" --socket "$T/migd.sock" migrate ""
check "... then auto and the peers of migd.conf" \
    offers "auto hostb" --socket "$T/migd.sock" migrate vm-0 ""
check "list --domain completes the domains, with --socket after the command" \
    offers "vm-1" list --socket "$T/migd.sock" --domain vm-1
check "drain --to completes the peers" offers "hostb" drain --to ""
check "without a migd to ask, IDs complete to nothing, quickly" \
    timeout 5 bash -c "[ -z \"\$(MIGD_CONF=/dev/null bash -c '. $completion; COMP_WORDS=($MIGCTL --socket $T/none.sock status \"\"); COMP_CWORD=4; _migctl; echo \"\${COMPREPLY[*]}\"')\" ]"
stop_migd
tap_finish
