#!/bin/bash
# The peer endpoints a source's migd calls on the destination: the shared
# token over TCP, the incoming-migration limit and its queue, reservations,
# GET /v1/vfs and the qemu hook's XML check. On libvirt's test driver.
. "$(dirname "$0")/lib.sh"

port=$((20000 + RANDOM % 20000))
token=$(head -c 24 /dev/urandom | base64)
(umask 077; echo "$token" > "$T/peer.token")
write_conf "$T/migd.conf" "tcp_listen=127.0.0.1:$port" "peer_token_file=$T/peer.token"
printf '\n[migration]\nmax_incoming = 1\n' >> "$T/migd.conf"
start_migd "$T/migd.conf" || { not_ok "migd starts"; tap_finish; }

# tcp METHOD PATH [CURL-ARGS...]: one request over TCP; sets STATUS and BODY.
tcp() {
    local method=$1 path=$2
    shift 2
    STATUS=$(curl -s -S --max-time 10 -X "$method" -o "$T/body" -w '%{http_code}' "$@" \
        "http://127.0.0.1:$port$path")
    BODY=$(cat "$T/body")
}

reserve() {
    tcp POST /v1/reservations -H "Authorization: Bearer $token" \
        -d "{\"job\":\"$1\",\"domain\":\"$2\",\"source\":\"test\",\"strategy\":\"unplug\",\"nics\":${3:-[]}}"
}

# --- the token ----------------------------------------------------------------
tcp POST /v1/reservations -d '{}'
check "a change over TCP without the token is refused with 401" [ "$STATUS" = 401 ]
check "the refusal says a token is needed and none was sent" json_is "$BODY" '.error.code + ": " + (.error.message | test("needs the peer token.*none was sent") | tostring)' "unauthenticated: true"
tcp POST /v1/reservations -H "Authorization: Bearer not-the-token-at-all" -d '{}'
check "a wrong token is refused with 401" [ "$STATUS" = 401 ]
check "the refusal says the token sent is not it" json_is "$BODY" '.error.message | test("the one sent is not it")' true
tcp GET /v1/reservations
check "reading over TCP needs no token" [ "$STATUS" = 200 ]
tcp POST /v1/migrations -d '{"domain":"test","destination":"B"}'
check "POST /v1/migrations over TCP without the token is refused too" [ "$STATUS" = 401 ]

# --- the incoming limit and its queue -----------------------------------------
reserve job-1 vm1
check "the first incoming migration gets a slot (201)" [ "$STATUS" = 201 ]
check "the reservation is reserved and holds no VF" json_is "$BODY" '.state + " " + (.nics | length | tostring)' "reserved 0"
reserve job-1 vm1
check "asking again for the same job gives the same reservation" json_is "$BODY" '.id' job-1
reserve job-2 vm2
check "a second one waits: 503 busy (max_incoming = 1)" [ "$STATUS" = 503 ]
check "the answer says its place in the queue" json_is "$BODY" '.error.code + ": " + (.error.message | test("number 1 in the queue") | tostring)' "busy: true"
reserve job-3 vm3
check "a third one queues behind it" json_is "$BODY" '.error.message | test("number 2 in the queue")' true
api DELETE /v1/reservations/job-1
check "the source releases its reservation over the unix socket too" [ "$STATUS" = 200 ]
reserve job-3 vm3
check "the freed slot is not given to the job that asked later" [ "$STATUS" = 503 ]
reserve job-2 vm2
check "it goes to the job that asked first" [ "$STATUS" = 201 ]
api GET /v1/reservations
check "the reservations list shows the one holder" json_is "$BODY" '[.reservations[].id] | join(",")' job-2
api DELETE /v1/reservations/job-2
reserve job-3 vm3
check "then the next in the queue gets the slot" [ "$STATUS" = 201 ]
api DELETE /v1/reservations/job-3
api DELETE /v1/reservations/job-3
check "releasing twice is a 404 that names the reservation" json_is "$BODY" '.error.code + ": " + (.error.message | test("no reservation job-3")|tostring)' "not_found: true"

# --- VFs ----------------------------------------------------------------------
reserve job-4 vm4 '[{"alias":"hostdev0","mac":"52:54:00:00:00:01","pool":"physnet1"}]'
check "a NIC of a pool this host does not have is refused (409 no_free_vf)" json_is "$BODY" '.error.code + ": " + (.error.message | test("no pool .physnet1.") | tostring)' "no_free_vf: true"
api GET /v1/reservations
check "a refused reservation leaves nothing behind" json_is "$BODY" '.reservations | length' 0
api GET /v1/vfs
check "GET /v1/vfs answers 200 with the list (no pools here)" json_is "$BODY" '.vfs | length' 0

# --- leases: never twice, and they survive a restart ---------------------------
stop_migd TERM >/dev/null 2>&1
write_conf "$T/migd.conf" "tcp_listen=127.0.0.1:$port" "peer_token_file=$T/peer.token"
printf '\n[migration]\nmax_incoming = 10\n\n[pool.lab]\ntype = emulated\nbridge = br0\nslots = tvf0, tvf1\n' >> "$T/migd.conf"
start_migd "$T/migd.conf" || not_ok "migd starts with an emulated pool of two VFs"
racers=()
for i in 1 2 3 4 5 6; do
    reserve "race-$i" "vm-$i" "[{\"alias\":\"ua-vf0\",\"mac\":\"52:54:00:00:00:0$i\",\"pool\":\"lab\"}]" &
    racers+=($!)
done
wait "${racers[@]}"
api GET /v1/vfs
check "six concurrent reservations for two VFs: both VFs leased, each to one job" json_is "$BODY" \
    '[.vfs[] | select(.state == "leased") | .job] | unique | length' 2
api GET /v1/reservations
check "exactly two reservations were granted" json_is "$BODY" '.reservations | length' 2
check "they hold different VFs" json_is "$BODY" '[.reservations[].nics[0].address] | unique | length' 2
reserve late vm-late '[{"alias":"ua-vf0","mac":"52:54:00:00:00:09","pool":"lab"}]'
check "a seventh is refused: 409 no_free_vf naming the pool and its leases" json_is "$BODY" \
    '.error.code + ": " + .error.message' "no_free_vf: no free VF in pool 'lab': 2 leased, 0 in use"
stop_migd TERM >/dev/null 2>&1
start_migd "$T/migd.conf" || not_ok "migd starts again"
api GET /v1/vfs
check "after a restart both VFs are still leased" json_is "$BODY" '[.vfs[] | .state] | join(",")' "leased,leased"
holder=$(jq -r '[.vfs[] | select(.address == "tvf0") | .job][0]' <<<"$BODY")
api POST /v1/hooks/qemu -d "{\"domain\":\"vm-${holder#race-}\",\"operation\":\"release\",\"sub_operation\":\"end\"}"
check "the hook's release frees the stopped domain's lease" json_is "$BODY" .released 1
api GET /v1/vfs
check "tvf0 is free again" json_is "$BODY" '[.vfs[] | select(.address == "tvf0") | .state] | join(",")' free

# --- the qemu hook --------------------------------------------------------------
plain='<domain type="qemu"><name>vm5</name><devices><interface type="bridge"><mac address="52:54:00:00:00:05"/><source bridge="br0"/><model type="virtio"/><alias name="net0"/></interface></devices></domain>'
api POST /v1/hooks/qemu -d "$(jq -cn --arg x "$plain" '{domain:"vm5",operation:"migrate",sub_operation:"begin",xml:$x}')"
check "the hook passes a guest without passthrough NICs" [ "$STATUS" = 200 ]
check "its XML keeps the guest's NIC" json_is "$BODY" '.xml | test("alias name=.net0.")' true
vf='<domain type="qemu"><name>vm6</name><devices><interface type="hostdev" managed="yes"><mac address="52:54:00:00:00:06"/><source><address type="pci" domain="0x0000" bus="0x3b" slot="0x02" function="0x1"/></source><alias name="hostdev0"/></interface></devices></domain>'
api POST /v1/hooks/qemu -d "$(jq -cn --arg x "$vf" '{domain:"vm6",operation:"migrate",sub_operation:"begin",xml:$x}')"
check "the hook refuses XML that names a VF not leased here (409)" [ "$STATUS" = 409 ]
check "the refusal names the device and its address" json_is "$BODY" '.error.message | test("hostdev0 \\(0000:3b:02.1\\)")' true
api POST /v1/hooks/qemu -d '{"domain":"vm6","operation":"stopped","sub_operation":"end"}'
check "stopped is acknowledged with what was released" json_is "$BODY" .released 0
api POST /v1/hooks/qemu -d '{"domain":"vm6","operation":"start","sub_operation":"begin"}'
check "an operation migd does not handle is a 400 that names it" json_is "$BODY" '.error.message | test("operation .start.")' true

tap_finish
