#!/bin/bash
# GET /metrics against a real migd on libvirt's test driver: the Prometheus
# text format (promtool from Debian's prometheus package checks the page),
# the gauges of what the host holds (its VFs by pool and state, the
# reservations and incoming slots, the libvirt connection), and the
# counters of what happened. A lab test moves them with a real migration.
. "$(dirname "$0")/lib.sh"

write_conf "$T/migd.conf"
cat >>"$T/migd.conf" <<CONF

[migration]
max_incoming = 3

[pool.lab]
type = emulated
bridge = labbr0
slots = tap-a, tap-b
CONF
start_migd "$T/migd.conf" || { not_ok "migd starts"; tap_finish; }

metrics() { api GET /metrics; }

metrics
check "GET /metrics answers 200" [ "$STATUS" = 200 ]
check "... as Prometheus text (version 0.0.4)" \
    grep -qi '^content-type: text/plain; version=0.0.4' "$T/headers"
check "... that promtool accepts" bash -c 'promtool check metrics < "$0" 2>&1' "$T/body"
check "it counts no migration yet" bash -c '! grep -q "^migd_migrations_finished_total{" "$0"' "$T/body"
check "every outgoing job state is a gauge, 0 here" \
    grep -qx 'migd_jobs{state="migrating"} 0' "$T/body"
check "the pool's two VFs are free" grep -qx 'migd_vfs{pool="lab",state="free"} 2' "$T/body"
check "the incoming slots are max_incoming" grep -qx 'migd_incoming_slots 3' "$T/body"
check "migd is connected to libvirt" grep -qx 'migd_libvirt_connected 1' "$T/body"

# A reservation leases a VF: the gauges follow.
api POST /v1/reservations -d '{"job":"m-1","domain":"vm-m","source":"test","strategy":"unplug","nics":[{"alias":"ua-vf0","mac":"52:54:00:00:09:01","pool":"lab"}]}'
check "a reservation is granted (201)" [ "$STATUS" = 201 ]
metrics
check "then one VF is leased and one free" \
    bash -c 'grep -qx "migd_vfs{pool=\"lab\",state=\"leased\"} 1" "$0" &&
             grep -qx "migd_vfs{pool=\"lab\",state=\"free\"} 1" "$0"' "$T/body"
check "and one reservation is held" grep -qx 'migd_reservations_held 1' "$T/body"
check "the page is still valid" bash -c 'promtool check metrics < "$0" 2>&1' "$T/body"

api POST /metrics
check "POST /metrics is a 405 in the JSON envelope" \
    json_is "$BODY" '.error.code' method_not_allowed

tap_finish
