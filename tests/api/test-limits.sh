#!/bin/bash
# What a client can make migd hold (issue 11, limits): the credential and the
# body's size are judged from the headers before any body is read, floods of
# connections from one address leave room for the peers, an idle connection
# is closed, and what comes from the network cannot break the JSON envelope
# or forge a log line. Loopback only; the floods are bounded in count and time.
# migd runs with 1024 descriptors, systemd's default for a service.
. "$(dirname "$0")/lib.sh"

FLOOD="python3 $(dirname "$0")/flood.py"
# Below the ephemeral range (32768-), where the floods' own ends are.
port=$((20000 + RANDOM % 12000))
token=$(head -c 24 /dev/urandom | base64)
(umask 077; echo "$token" > "$T/peer.token")
# tcp_read = open: the floods' GETs, and the peer's, carry no credential.
write_conf "$T/migd.conf" "tcp_listen=127.0.0.1:$port" "peer_token_file=$T/peer.token" \
    "idle_timeout_s=2" "tcp_read=open"
ulimit -Sn 1024
start_migd "$T/migd.conf" || { not_ok "migd starts"; tap_finish; }
ulimit -Sn "$(ulimit -Hn)"

# kv KEY: KEY's value in $OUT (KEY=VALUE lines from flood.py).
kv() {
    sed -n "s/^$1=//p" <<<"$OUT"
}

# --- the credential and the size, from the headers -----------------------------
# 500 connections (25 from each of 20 loopback addresses, under the default
# per-address limit, so every one is let in), each an unauthenticated POST
# announcing a body one byte short of 1 MiB and pushing all of it it can.
# Buffered, that would be ~500 MiB; refused at the headers, nothing is kept.
# 500 is also past max_connections (256): migd must go on accepting as the
# refused ones close.
# The bound: 64 MiB over the RSS before, above what 500 connections cost in
# MHD's 32 KiB buffers even if all were held (16 MiB) plus the sanitizers'
# slack, and far below the ~200-500 MiB that reading the bodies took.
# body_flood METHOD PATH CODE: the flood, and migd's answers and RSS.
body_flood() {
    local before held
    OUT=$($FLOOD body-flood "$port" "$MIGD_PID" 500 "$1" "$2")
    before=$(kv rss_before_kib) held=$(kv rss_held_kib)
    echo "# body flood ($1 $2): $(kv connections) connections, $(kv refused_4xx) answered $3; migd RSS ${before} KiB before, ${held} KiB at most while held"
    check "all 500 unauthenticated ${1}s holding a body are answered $3" [ "$(kv refused_4xx)" = 500 ]
    check "migd's RSS grows by less than 64 MiB while they are held" [ $((held - before)) -lt 65536 ]
}
body_flood POST /v1/migrations 401
# Reading needs no credential over TCP here (tcp_read = open), but a GET
# takes no body.
body_flood GET /v1/migrations 400

OUT=$($FLOOD big-length "$port" "$token")
echo "# a POST announcing 100 MB, none of it sent: $(kv status) after $(kv ms) ms"
check "a Content-Length past 1 MiB gets 413 from the headers alone" [ "$(kv status)" = 413 ]
check "the 413 is migd's envelope" json_is "$(kv body)" '.error.code' payload_too_large

OUT=$($FLOOD chunked "$T/migd.sock" $((8 * 1024 * 1024)))
echo "# a chunked POST of 8 MiB: $(kv sent) bytes went out before the answer $(kv status)"
check "a chunked body gets 413 at the first chunk past 1 MiB" [ "$(kv status)" = 413 ]
check "and the rest of it is not read" [ "$(kv sent)" -lt $((4 * 1024 * 1024)) ]

# --- floods of idle connections -------------------------------------------------
# 2000 connections from 127.0.0.1, each a request line sent a byte at a time
# (so that only the limits, not the idle timeout, may close them); "the
# peer" is 127.0.0.2.
OUT=$($FLOOD idle-flood "$port" "$MIGD_PID" 2000)
echo "# idle flood: $(kv connected) connected, $(kv held_open) held by migd, $(kv closed_by_migd) closed at once; the peer's GET /v1/health: $(kv peer_status), worst $(kv peer_ms_worst) ms, best $(kv peer_ms_best) ms"
check "2000 connections from one address are all made" [ "$(kv connected)" = 2000 ]
check "migd keeps 32 of them (max_connections_per_address) and closes the rest" \
    [ "$(kv held_open)" = 32 ]
check "a peer's request from another address is answered 200" [ "$(kv peer_status)" = "HTTP/1.1 200 OK" ]
check "within 100 ms" awk -v ms="$(kv peer_ms_worst)" 'BEGIN { exit !(ms != "" && ms < 100) }'

OUT=$($FLOOD idle-close "$port")
echo "# an idle connection was closed after $(kv closed_after_s) s (idle_timeout_s = 2)"
check "an idle connection is closed after idle_timeout_s" \
    awk -v s="$(kv closed_after_s)" 'BEGIN { exit !(s != "" && s >= 1.5 && s < 6) }'

# --- what comes from the network ------------------------------------------------
api GET '/v1/migrations/%ff%fe'
check "a path with invalid UTF-8 gets 400, not 500" [ "$STATUS" = 400 ]
check "as invalid_argument" json_is "$BODY" '.error.code' invalid_argument
api GET '/v1/migrations?state=%c3'
check "a query with invalid UTF-8 gets 400 invalid_argument" json_is "$STATUS $BODY" '.error.code' invalid_argument
api GET '/v1/nothing%0aFORGED%20error:%20forged'
check "a path with a newline gets its 404" [ "$STATUS" = 404 ]
check "and forges no log line" bash -c "! grep -q '^FORGED' '$T/migd.log'"
check "the newline is logged as \\n" grep -q 'nothing\\nFORGED' "$T/migd.log"

conf_refused() {
    write_conf "$T/bad.conf" "max_connections=10" "max_connections_per_address=10"
    ! "$MIGD" --config "$T/bad.conf" -n > "$T/bad.out" 2>&1 &&
        grep -q "max_connections_per_address (10) must be smaller than max_connections (10)" "$T/bad.out"
}
check "a per-address limit that leaves no room for others is refused" conf_refused

check "migd is still up" kill -0 "$MIGD_PID"
stop_migd
tap_finish
