#!/bin/bash
# POST /v1/reservations/{id}/prepare with the NICs' device states, on the
# test driver with the stateful fixture plugin: a damaged, oversized,
# foreign or malformed state is refused with a status and a message that
# names the NIC, the plugin and why, before any plugin sees it; an accepted
# one is checked, kept across a restart and shown per NIC; a plugin that
# refuses the state fails the prepare with its words and undoes its work.
. "$(dirname "$0")/lib.sh"
: "${PLUGIN_FIXTURES:?run through make check, or set PLUGIN_FIXTURES to tests/unit/plugins in the build}"

mkdir -p "$T/plugins"
ln -s "$PLUGIN_FIXTURES/stateful.so" "$T/plugins/stateful.so"

# conf [SETTING...]: migd.conf with the plugin, its settings and a pool.
conf() {
    write_conf "$T/migd.conf"
    {
        printf '\n[plugins]\ndir = %s\ncall_timeout_s = 2\nmax_state_bytes = 64\n' "$T/plugins"
        printf '\n[plugin.stateful]\nlog = %s\n' "$T/calls.log"
        for s in "$@"; do echo "$s"; done
        printf '\n[pool.lab]\ntype = emulated\nbridge = br0\nslots = tvf0, tvf1\n'
    } >>"$T/migd.conf"
}

# The frame's integers, big-endian.
be16() { printf "\\x$(printf %02x $(($1 >> 8)))\\x$(printf %02x $(($1 & 255)))"; }
be32() { be16 $(($1 >> 16)); be16 $(($1 & 65535)); }

# frame PLUGIN ALIAS STATE [SENT]: migd's frame (base64) of STATE; with
# SENT, the frame carries SENT in its place and STATE's checksum.
frame() {
    local body
    body() {
        printf 'MGDS'; be16 1; be16 1; be16 0; be32 3
        be16 ${#1}; be16 ${#2}; be32 ${#3}; printf '%s%s%s' "$1" "$2" "$3"
    }
    body "$1" "$2" "$3" >"$T/frame"
    sha256sum "$T/frame" | cut -c1-64 | sed 's/../\\x&/g' >"$T/sum"
    [ -n "${4-}" ] && body "$1" "$2" "$4" >"$T/frame"
    printf "$(cat "$T/sum")" >>"$T/frame"
    base64 -w0 "$T/frame"
}

# prepare JOB ALIAS PLUGIN FRAME
prepare() {
    api POST "/v1/reservations/$1/prepare" \
        -d "$(jq -cn --arg a "$2" --arg p "$3" --arg f "$4" '{states:[{alias:$a,plugin:$p,frame:$f}]}')"
}

reserve() {
    api POST /v1/reservations -d "{\"job\":\"$1\",\"domain\":\"$2\",\"source\":\"test\",\"strategy\":\"unplug\",\"nics\":[{\"alias\":\"ua-vf0\",\"mac\":\"52:54:00:00:01:01\",\"pool\":\"lab\"}]}"
}

calls() { if [ -f "$T/calls.log" ]; then grep -c "$1" "$T/calls.log"; else echo 0; fi; }

conf
start_migd "$T/migd.conf" || { not_ok "migd starts with the stateful plugin"; tap_finish; }
reserve st-1 vm-s1
check "a reservation with a VF for the prepare" [ "$STATUS" = 201 ]

good=$(frame stateful ua-vf0 "state of ua-vf0")
prepare st-1 ua-vf0 stateful "$(frame stateful ua-vf0 "state of ua-vf0" "state of ua-vf1")"
check "a damaged state (its checksum does not match) is refused with 400" [ "$STATUS" = 400 ]
check "... whose message names the NIC, the plugin and the checksum" json_is "$BODY" \
    '.error.code + ": " + .error.message' \
    "invalid_argument: the device state of NIC ua-vf0 from plugin stateful is refused: The device state frame is refused: its checksum does not match: it was damaged on the way."
prepare st-1 ua-vf0 stateful "$(frame stateful ua-vf0 "$(printf 'x%.0s' $(seq 100))")"
check "a state over max_state_bytes is refused with 400" [ "$STATUS" = 400 ]
check "... saying how large it is and which limit it passes" json_is "$BODY" \
    '.error.message | test("NIC ua-vf0 from plugin stateful is refused: .*its state is 100 bytes, over the limit of 64 \\(\\[plugins\\] max_state_bytes\\)")' true
prepare st-1 ua-vf0 nosuch "$(frame nosuch ua-vf0 "state of ua-vf0")"
check "a state for a plugin this host does not have is refused with 409" [ "$STATUS" = 409 ]
check "... naming the plugin, the NIC and what is loaded here" json_is "$BODY" \
    '.error.code + ": " + .error.message' \
    "conflict: the device state of NIC ua-vf0 is refused: this host has no plugin nosuch (loaded: stateful); install it here or migrate to a host that has it"
prepare st-1 ua-vf0 stateful "not base64!"
check "a frame that is not base64 is refused with 400, saying so" json_is "$BODY" \
    '.error.message | test("NIC ua-vf0 from plugin stateful is refused: .*it is not base64")' true
prepare st-1 ua-vf0 stateful "$(frame stateful ua-vf1 "state of ua-vf1")"
check "a frame for another NIC than the one it is sent for is refused" json_is "$BODY" \
    '.error.message | test("its frame says it is plugin stateful.s state of NIC ua-vf1")' true
api POST /v1/reservations/st-1/prepare -d '{"states":[{"alias":"ua-vf0","plugin":"stateful","frame":"'"$good"'","extra":1}]}'
check "an unknown member of a state is a 400 that names it" json_is "$BODY" \
    '.error.message | test("states\\[0\\] of the prepare is not valid: .*extra")' true
api POST /v1/reservations/st-1/prepare -d '{"states":{}}'
check "states that are not an array are a 400 that says so" json_is "$BODY" \
    '.error.message' "the prepare's body is not valid: 'states' must be an array"
api GET /v1/reservations/st-1
check "none of the refusals armed the replug or kept a state" json_is "$BODY" \
    '.replug.state + " " + (.nics[0].states | tostring)' "idle []"
check "... and no plugin saw any of them" [ "$(calls .)" = 0 ]

prepare st-1 ua-vf0 stateful "$good"
check "a good state is accepted: 200, the replug is armed" json_is "$BODY" '.replug.state' armed
check "... the answer shows the NIC's plugin, its bytes and the check's time" json_is "$BODY" \
    '.nics[0].states[0] | "\(.plugin) \(.bytes) \(.check_ms >= 0) \(.restored)"' "stateful 15 true false"
check "... the plugin checked it on this host" [ "$(calls "check_state ua-vf0 destination")" = 1 ]

stop_migd KILL >/dev/null 2>&1
start_migd "$T/migd.conf" || not_ok "migd starts again after kill -9"
api GET /v1/reservations/st-1
check "after kill -9 and a restart the state is still kept with the reservation" json_is "$BODY" \
    '.replug.state + " " + .nics[0].states[0].plugin' "armed stateful"
api DELETE /v1/reservations/st-1
check "releasing the prepared reservation has the plugin undo its work (abort)" \
    bash -c 'for i in $(seq 50); do grep -q "abort ua-vf0 destination" "$0" && exit 0; sleep 0.1; done; exit 1' "$T/calls.log"
stop_migd >/dev/null 2>&1

conf "fail_at = check_state"
start_migd "$T/migd.conf" || not_ok "migd starts with a plugin whose check_state fails"
reserve st-2 vm-s2
prepare st-2 ua-vf0 stateful "$good"
check "a state the plugin refuses fails the prepare with 409" [ "$STATUS" = 409 ]
check "... with the plugin's name and words" json_is "$BODY" '.error.message' \
    "the destination refuses the device state of NIC ua-vf0: plugin stateful: check_state failed: check_state of ua-vf0 fails: fail_at = check_state is set (Input/output error)"
api GET /v1/reservations/st-2
check "... leaving the replug unarmed and no state kept" json_is "$BODY" \
    '.replug.state + " " + (.nics[0].states | tostring)' "idle []"
check "... and the plugin is called abort for what it may have done" \
    bash -c 'for i in $(seq 50); do grep -q "abort ua-vf0 destination" "$0" && exit 0; sleep 0.1; done; exit 1' "$T/calls.log"
stop_migd
tap_finish
