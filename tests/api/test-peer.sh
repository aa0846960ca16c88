#!/bin/bash
# The peer endpoints a source's migd calls on the destination: the shared
# token over TCP, the incoming-migration limit and its queue, reservations
# (durable across a restart, independent, superseded by a retry, released
# when their source's job is over, per-NIC strategies), GET /v1/vfs, 503
# libvirt_disconnected, and the qemu hook's XML check. On libvirt's test driver.
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
    STATUS=$(curl -s -S --max-time 10 -X "$method" -o "$T/body" -D "$T/headers" \
        -w '%{http_code}' "$@" "http://127.0.0.1:$port$path")
    BODY=$(cat "$T/body")
}

reserve() {
    tcp POST /v1/reservations -H "Authorization: Bearer $token" \
        -d "{\"job\":\"$1\",\"domain\":\"$2\",\"source\":\"test\",\"strategy\":\"unplug\",\"nics\":${3:-[]}}"
}

# --- the token ----------------------------------------------------------------
tcp POST /v1/reservations -d '{}'
check "a change over TCP without the token is refused with 401" [ "$STATUS" = 401 ]
check "and says how to authenticate (WWW-Authenticate: Bearer, as RFC 9110 asks of a 401)" \
    grep -q '^WWW-Authenticate: Bearer realm="migd"' "$T/headers"
check "the refusal says a token is needed and none was sent" json_is "$BODY" '.error.code + ": " + (.error.message | test("needs the peer token.*none was sent") | tostring)' "unauthenticated: true"
tcp POST /v1/reservations -H "Authorization: Bearer not-the-token-at-all" -d '{}'
check "a wrong token is refused with 401" [ "$STATUS" = 401 ]
check "the refusal says the token sent is not it" json_is "$BODY" '.error.message | test("the token sent is not it")' true
tcp GET /v1/reservations
check "reading over TCP needs a credential too (tcp_read = authenticated by default)" [ "$STATUS" = 401 ]
check "the refusal names the setting" json_is "$BODY" '.error.message | test("reading over TCP \\(tcp_read = authenticated\\) needs the peer token.*none was sent")' true
tcp GET /v1/reservations -H "Authorization: Bearer $token"
check "reading with the token is answered" [ "$STATUS" = 200 ]
tcp GET /ui/
check "the status page's own files are read without a credential (it then asks for the token)" \
    bash -c '[ "$0" = 200 ] && grep -q "<html" "$1"' "$STATUS" "$T/body"
tcp GET /ui/api.js
check "... its scripts too" [ "$STATUS" = 200 ]
tcp GET /ui/api.js -H "Authorization: Bearer not-the-token-at-all"
check "... but a wrong token sent for them is still refused" [ "$STATUS" = 401 ]
tcp GET /v1/migrations
check "what the page reads from /v1 still needs the credential" [ "$STATUS" = 401 ]
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

# --- reservations are durable and independent -----------------------------------
stop_migd TERM >/dev/null 2>&1
rm -rf "$T/state"
# This migd is its own "source": [peer.self] names its URL, so it may ask
# itself about a reservation's job; another URL is never asked.
self="http://127.0.0.1:$port"
write_conf "$T/migd.conf" "tcp_listen=127.0.0.1:$port" "peer_token_file=$T/peer.token"
printf '\n[migration]\nmax_incoming = 4\n\n[pool.lab]\ntype = emulated\nbridge = br0\nslots = tvf0, tvf1\n\n[peer.self]\nlibvirt_uri = test:///default\nmigd_url = %s\n' "$self" >> "$T/migd.conf"
start_migd "$T/migd.conf" || not_ok "migd starts with [peer.self]"

# body JOB DOMAIN STRATEGY NICS [SOURCE_URL]
body() {
    jq -cn --arg j "$1" --arg d "$2" --arg s "$3" --argjson n "$4" --arg u "${5-}" \
        '{job:$j,domain:$d,source:"test",strategy:$s,nics:$n} + (if $u == "" then {} else {source_url:$u} end)'
}
api POST /v1/reservations -d "$(body prep-1 vm-p1 unplug '[{"alias":"ua-vf0","mac":"52:54:00:00:01:01","pool":"lab"}]')"
check "a first reservation with a VF" [ "$STATUS" = 201 ]
api POST /v1/reservations -d "$(body prep-2 vm-p2 unplug '[{"alias":"ua-vf0","mac":"52:54:00:00:01:02","pool":"lab"}]')"
check "a second one, for another guest" [ "$STATUS" = 201 ]
api POST /v1/reservations/prep-1/prepare
check "the first is prepared: its replug is armed" json_is "$BODY" '.state + " " + .replug.state' "armed armed"
api POST /v1/reservations/prep-2/prepare
check "the second is prepared too, at the same time (200: one event registration for both)" \
    bash -c '[ "$0" = 200 ] && [ "$1" = armed ]' "$STATUS" "$(jq -r .replug.state <<<"$BODY")"
api GET /v1/reservations/prep-2
check "GET /v1/reservations/ID gives one reservation with its replug state" json_is "$BODY" \
    '.id + " " + .replug.state + " " + (.replug.attempts | tostring) + " " + (.replug.plugged_at | tostring)' "prep-2 armed 0 null"
api GET /v1/reservations/no-such-job
check "GET of a reservation this host does not hold is a 404 that names it" json_is "$BODY" \
    '.error.code + ": " + (.error.message | test("no reservation no-such-job") | tostring)' "not_found: true"

# The test driver's domain "test" runs here: a prepared reservation for it
# (no NIC to plug) finishes its replug once migd sees it running.
api POST /v1/reservations -d "$(body here-1 test unplug '[]')"
api POST /v1/reservations/here-1/prepare
check "a reservation for a guest that already runs here is armed" json_is "$BODY" .replug.state armed
stop_migd KILL >/dev/null 2>&1
check "reservations.json holds the three" json_is "$(cat "$T/state/reservations.json")" '[.reservations[].id] | sort | join(",")' "here-1,prep-1,prep-2"
start_migd "$T/migd.conf" || not_ok "migd starts again after kill -9"
api GET /v1/reservations
check "after kill -9 and a restart the prepared reservations are still armed" json_is "$BODY" \
    '[.reservations[] | select(.id != "here-1") | .id + "=" + .replug.state] | sort | join(",")' "prep-1=armed,prep-2=armed"
check "... with their VFs" json_is "$BODY" '[.reservations[] | .nics[].address] | sort | join(",")' "tvf0,tvf1"
api GET /v1/vfs
check "... and their leases" json_is "$BODY" '[.vfs[].state] | join(",")' "leased,leased"
for _ in $(seq 50); do
    api GET /v1/reservations/here-1
    [ "$(jq -r .replug.state <<<"$BODY")" = done ] && break
    sleep 0.1
done
check "the restarted migd finds the guest running here and finishes its replug" json_is "$BODY" \
    '.replug.state + " " + (.replug.ok | tostring) + " " + (.replug.verified_at != null | tostring)' "done true true"
api POST /v1/reservations/here-1/replug
check "POST replug after the restart answers from the record" json_is "$BODY" '.replug.state + " " + (.replug.ok | tostring)' "done true"

# --- a new reservation for a domain supersedes what an earlier job left -------------
api POST /v1/reservations -d "$(body retry-1 vm-p1 unplug '[{"alias":"ua-vf0","mac":"52:54:00:00:01:01","pool":"lab"}]')"
check "a retry for vm-p1 from the same source gets its reservation (201)" [ "$STATUS" = 201 ]
api GET /v1/reservations
check "the failed job's armed reservation is gone" json_is "$BODY" '[.reservations[].id] | sort | join(",")' "here-1,prep-2,retry-1"
check "the log says the new one superseded it" grep -q "job prep-1's reservation for vm-p1 from test (armed) is superseded by job retry-1's" "$T/migd.log"
api DELETE /v1/reservations/retry-1
api DELETE /v1/reservations/here-1
# The test driver cannot attach a device: each attempt fails at libvirt's call.
api POST /v1/reservations -d "$(body here-2 test unplug '[{"alias":"ua-vf9","mac":"52:54:00:00:01:09","pool":"lab"}]')"
check "a reservation with a VF for the guest running here" [ "$STATUS" = 201 ]
api POST /v1/reservations/here-2/replug
check "a replug whose attach keeps failing answers failed after its attempts, saying why" json_is "$BODY" \
    '.replug.state + " " + (.replug.attempts | tostring) + " " + (.replug.detail | test("ua-vf9 was not plugged after 3 attempts: libvirt could not attach") | tostring)' "failed 3 true"
check "migd is still up" kill -0 "$MIGD_PID"
api DELETE /v1/reservations/here-2

# --- per-NIC strategy -----------------------------------------------------------
api POST /v1/reservations -d "$(body mixed-0 vm-m mixed '[{"alias":"ua-vf0","mac":"52:54:00:00:02:01","pool":"lab"}]')"
check "a mixed job's NIC without a strategy is a 400 that names it" json_is "$BODY" \
    '.error.code + ": " + (.error.message | test("nics\\[0\\] \\(ua-vf0\\) has no strategy")|tostring)' "invalid_argument: true"
api DELETE /v1/reservations/prep-2
api POST /v1/reservations -d "$(body mixed-1 vm-m mixed '[{"alias":"ua-vf0","mac":"52:54:00:00:02:01","pool":"lab","strategy":"unplug"},{"alias":"ua-vf1","mac":"52:54:00:00:02:02","pool":"lab","strategy":"native"}]')"
check "a mixed job's reservation keeps each NIC's strategy" json_is "$BODY" '[.nics[] | .alias + "=" + .strategy] | join(",")' "ua-vf0=unplug,ua-vf1=native"
native_tap=$(jq -r '.nics[1].address' <<<"$BODY")
mixed='<domain type="qemu"><name>vm-m</name><devices><interface type="bridge"><mac address="52:54:00:00:02:01"/><source bridge="br0"/><target dev="avf0"/><model type="vmxnet3"/><alias name="ua-vf0"/></interface><interface type="bridge"><mac address="52:54:00:00:02:02"/><source bridge="br0"/><target dev="avf1"/><model type="vmxnet3"/><alias name="ua-vf1"/></interface></devices></domain>'
api POST /v1/hooks/qemu -d "$(jq -cn --arg x "$mixed" '{domain:"vm-m",operation:"migrate",sub_operation:"begin",xml:$x}')"
check "the hook takes the mixed guest's XML (200)" [ "$STATUS" = 200 ]
check "it drops the unplugged NIC" json_is "$BODY" '.xml | test("ua-vf0")' false
check "it points the native NIC at its leased VF" json_is "$BODY" ".xml | test(\"target dev=.$native_tap.\") and test(\"ua-vf1\")" true
api DELETE /v1/reservations/mixed-1

# --- released when the source's job is over ---------------------------------------
api POST /v1/reservations -d "$(body gone-1 vm-g unplug '[]' "$self")"
check "a reservation naming its source's migd (a [peer.self] URL)" json_is "$BODY" .source_url "$self"
api POST /v1/reservations -d "$(body stranger-1 vm-s unplug '[]' "http://127.0.0.1:1")"
stop_migd TERM >/dev/null 2>&1
start_migd "$T/migd.conf" || not_ok "migd starts again"
for _ in $(seq 150); do
    api GET /v1/reservations/gone-1
    [ "$STATUS" = 404 ] && break
    sleep 0.1
done
check "after a restart, the reservation whose job its source does not know is released" [ "$STATUS" = 404 ]
check "the log says why" grep -q "Released the reservation of job gone-1 (vm-g): its job is unknown on its source $self" "$T/migd.log"
api GET /v1/reservations/stranger-1
check "one whose source_url is no [peer.NAME] of this host is not asked about, and kept" [ "$STATUS" = 200 ]
check "no request went to that URL" bash -c "! grep -q '127.0.0.1:1/' '$T/migd.log'"

# --- libvirt down: no lease, and not busy -------------------------------------------
stop_migd TERM >/dev/null 2>&1
write_conf "$T/down.conf" "libvirt_uri=qemu+unix:///system?socket=$T/no-libvirt.sock"
printf '\n[pool.lab]\ntype = emulated\nbridge = br0\nslots = tvf0, tvf1\n' >> "$T/down.conf"
UNTIL="STATUS=Serving the API; waiting for libvirt at qemu+unix:///system?socket=$T/no-libvirt.sock: cannot connect to qemu+unix:///system?socket=$T/no-libvirt.sock: Failed to connect socket to '$T/no-libvirt.sock': No such file or directory" \
    start_migd "$T/down.conf" || not_ok "migd starts without libvirt"
api POST /v1/reservations -d "$(body down-1 vm-d unplug '[{"alias":"ua-vf0","mac":"52:54:00:00:03:01","pool":"lab"}]')"
check "without libvirt a reservation is refused with 503 libvirt_disconnected, not busy" json_is "$BODY" \
    '(.error.code) + " " + (.error.message | test("not connected to libvirt") | tostring)' "libvirt_disconnected true"
check "... with status 503" [ "$STATUS" = 503 ]
api GET /v1/vfs
check "and GET /v1/vfs says why it cannot tell which VFs are free" json_is "$BODY" '.error.code' libvirt_disconnected

tap_finish
