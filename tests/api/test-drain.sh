#!/bin/bash
# POST /v1/drain, GET /v1/drains and destination "auto" against a real
# second migd (B, the peer that answers) and a peer that does not (C), on
# libvirt's test driver: the request's validation (an unknown peer in 'to'
# is a 400 that names it), a dry run that changes nothing, the plan and the
# choice with each refused peer's reason, GET /v1/capacity, and a drain
# whose only guest cannot go anywhere and stays.
. "$(dirname "$0")/lib.sh"
: "${MIGCTL:?run through make check, or set MIGCTL to the migctl binary}"

port_a=$((20000 + RANDOM % 20000))
port_b=$((port_a + 1))
dead=$((port_a + 2))
token=$(head -c 24 /dev/urandom | base64)
(umask 077; echo "$token" > "$T/peer.token")

# B: another migd with its own socket and state.
mkdir -p "$T/b"
cat > "$T/b.conf" <<EOC
[daemon]
libvirt_uri = test:///default
unix_socket = $T/b/migd.sock
state_dir = $T/b/state
tcp_listen = 127.0.0.1:$port_b
peer_token_file = $T/peer.token
# The test reads B over TCP without a credential (curl), as a monitoring
# system configured for it would.
tcp_read = open
[migration]
max_incoming = 3
EOC
start_migd "$T/b.conf" || { not_ok "migd B starts"; tap_finish; }
B_PID=$MIGD_PID
trap 'kill -KILL $B_PID 2>/dev/null; cleanup' EXIT

write_conf "$T/migd.conf" "tcp_listen=127.0.0.1:$port_a" "peer_token_file=$T/peer.token" "tcp_read=open"
cat >> "$T/migd.conf" <<EOC
[peer.B]
libvirt_uri = qemu+tcp://127.0.0.1:1/system
migd_url = http://127.0.0.1:$port_b
[peer.C]
libvirt_uri = qemu+tcp://127.0.0.2:1/system
migd_url = http://127.0.0.1:$dead
EOC
start_migd "$T/migd.conf" || { not_ok "migd A starts"; tap_finish; }
ctl() { "$MIGCTL" --socket "$T/migd.sock" "$@"; }
drain() { api POST /v1/drain -H 'Content-Type: application/json' -d "$1"; }

# --- what a destination can take ---------------------------------------------
STATUS=$(curl -s -S --max-time 10 -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$port_b/v1/capacity")
BODY=$(cat "$T/body")
check "GET /v1/capacity on B answers 200" [ "$STATUS" = 200 ]
check "it says B's incoming slots and pools, and that no drain empties B" \
    json_is "$BODY" '"\(.max_incoming) \(.incoming_free) \(.pools | length) \(.draining)"' "3 3 0 null"
api GET /v1/capacity
check "and the same on A's unix socket" json_is "$BODY" '.incoming_free' 2

# --- the request's validation ---------------------------------------------------
drain '{"to":["B","nosuch"]}'
check "a drain to an unknown peer is refused with 400" [ "$STATUS" = 400 ]
check "the refusal names it and the known peers" json_is "$BODY" '.error.message' \
    "field 'to': 'nosuch' is not a peer of migd.conf ([peer.NAME]); known peers: B, C"
drain '{"to":"B"}'
check "'to' that is not an array is refused" json_is "$BODY" '"\(.error.code): \(.error.message)"' \
    "invalid_argument: field 'to' must be an array of peer names"
drain '{"dryrun":true}'
check "an unknown field is refused, and the message names it" json_is "$BODY" '.error.message | test("dryrun")' true
drain '{"strategy":"fast"}'
check "an unknown strategy is refused" json_is "$BODY" '.error.message' \
    "field 'strategy' must be one of auto, unplug, native, pause, none, not 'fast'"
for bw in -1 1.5 '"8"' 1048577; do
    drain "{\"bandwidth_mibps\":$bw}"
    check "a bandwidth of $bw is refused, with the range" json_is "$BODY" '"\(.error.code): \(.error.message)"' \
        "invalid_argument: field 'bandwidth_mibps' must be a whole number of MiB/s from 0 (no limit) to 1048576"
done

# --- a dry run: the plan, and nothing changes ----------------------------------------
drain '{"dry_run":true}'
check "a dry run answers 200 with the plan" [ "$STATUS" = 200 ]
check "the plan sends the guest to B, the peer that answered" json_is "$BODY" \
    '[.state, .guests[0].domain, .guests[0].state, .guests[0].peer] | join(" ")' "planned test queued B"
check "it says C was refused and why" json_is "$BODY" \
    '.guests[0].destination_choice.refused[0] | "\(.peer): \(.why | test("did not answer"))"' "C: true"
check "it has no id and a summary" json_is "$BODY" '"\(.id) \(.summary)"' \
    "null 1 of 1 guest would leave this host; 0 would stay"
api GET /v1/migrations
check "the dry run started no migration" json_is "$BODY" '.migrations | length' 0
api GET /v1/drains
check "and left no drain" json_is "$BODY" '.drains | length' 0
out=$(ctl drain --dry-run --to B)
check "migctl drain --dry-run prints the plan" grep -q "^plan (dry run: nothing was started)" <<<"$out"
check "with the guest, its peer and the total" grep -Eq "^test +queued +B" <<<"$out"
api GET /v1/migrations
check "and starts nothing either" json_is "$BODY" '.migrations | length' 0

# --- destination auto ---------------------------------------------------------------
api POST /v1/migrations -H 'Content-Type: application/json' -d '{"domain":"test","destination":"auto"}'
check "destination auto is accepted (202)" [ "$STATUS" = 202 ]
check "the job goes to B" json_is "$BODY" '.destination.name' B
check "its record says B was chosen and why" json_is "$BODY" \
    '.destination_choice | "\(.chosen) \(.why | test("the best of 1 peer"))"' "B true"
check "and that C was refused" json_is "$BODY" '.destination_choice.refused[0].peer' C
id=$(printf '%s' "$BODY" | jq -r .id)
ctl watch "$id" >/dev/null 2>&1
api GET "/v1/migrations/$id"
check "the job ends (B's libvirt is not there) with the choice kept" json_is "$BODY" \
    '"\(.state) \(.destination_choice.chosen)"' "failed B"

# --- a drain whose guest cannot go anywhere ----------------------------------------
drain '{"to":["C"]}'
check "a drain is accepted (202)" [ "$STATUS" = 202 ]
check "its guest stays: C does not answer" json_is "$BODY" \
    '[.state, .guests[0].state, (.guests[0].why | test("no peer can take test.*C: the migd at .* did not answer") | tostring)] | join(" ")' \
    "done stays true"
check "the total says so" json_is "$BODY" '"\(.total.guests) \(.total.stays) \(.total.completed)"' "1 1 0"
drain_id=$(printf '%s' "$BODY" | jq -r .id)
api GET "/v1/drains/$drain_id"
check "GET /v1/drains/{id} shows it" json_is "$BODY" '"\(.id) \(.state)"' "$drain_id done"
check "and its summary" json_is "$BODY" '.summary | test("^0 of 1 guest left this host; 0 failed and 1 stays; test stays: ")' true
api GET /v1/drains/00000000-0000-4000-8000-000000000000
check "an unknown drain is a 404" json_is "$BODY" .error.code not_found
api GET /v1/migrations
check "the guest that stays got no job" json_is "$BODY" '.migrations | length' 1
out=$(ctl drain --to C --wait); rc=$?
check "migctl drain --wait exits 1 when a guest stays" [ "$rc" = 1 ]
check "and prints the total" grep -q "^total: 1 guests, 0 completed, 0 migrating, 0 queued, 0 failed, 1 stay" <<<"$out"

# --- the orchestrator's client: the REST API over TCP only --------------------------
client=$TOP_SRCDIR/tests/tools/drain-client
out=$("$client" "http://127.0.0.1:$port_a" "$token" --dry-run --to B); rc=$?
check "drain-client --dry-run prints the plan and exits 0" [ "$rc" = 0 ]
check "with the guest going to B" grep -q "^  test: queued to B" <<<"$out"
out=$("$client" "http://127.0.0.1:$port_a" "$token" --to C --interval 0.1); rc=$?
check "drain-client drives a drain to its end and exits 1 when a guest stays" [ "$rc" = 1 ]
check "and prints the summary" grep -q "^0 of 1 guest left this host; 0 failed and 1 stays" <<<"$out"
out=$("$client" "http://127.0.0.1:$port_a" "wrong-token" --to C 2>&1); rc=$?
check "a wrong token: exit 1 with migd's refusal" [ "$rc" = 1 ]
check "which says what is wrong" grep -q "HTTP 401 unauthenticated" <<<"$out"
out=$("$client" "http://127.0.0.1:$dead" "$token" 2>&1); rc=$?
check "a migd that does not answer: exit 3" [ "$rc" = 3 ]

# --- a drain with a bandwidth limit: each job carries it -------------------------------
out=$(ctl -o json drain --to B --bandwidth 8)
job=$(jq -r '.guests[0].job' <<<"$out")
check "migctl drain --bandwidth 8 starts the guest's job toward B" \
    json_is "$out" '"\(.guests[0].peer) \(.guests[0].job != null)"' "B true"
api GET "/v1/migrations/$job"
check "the job's options say 8 MiB/s" json_is "$BODY" .options.bandwidth_mibps 8
ctl watch "$job" >/dev/null 2>&1

stop_migd TERM
check "migd stops cleanly" [ $? -eq 0 ]
kill -TERM "$B_PID"; wait "$B_PID"
check "migd B stops cleanly" [ $? -eq 0 ]
tap_finish
