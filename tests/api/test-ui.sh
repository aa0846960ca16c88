#!/bin/bash
# The status page at /ui/, in a real browser: headless Chromium (Debian's,
# driven by playwright-core from npm: tests/ui/see.js) opens it on a real
# migd over TCP that holds finished job records (copies of a real lab
# migration's, one made a failure), a migration in flight (waiting in
# reserving: its destination's migd, busy-peer.py, has no slot free) and a
# leased VF, and the test
# checks what a person sees: the job in flight, then cancelled; the recent
# jobs with their outcomes; a job's chart with its phases, the no-VF window
# and the downtime; the VFs per pool. The job in flight is followed through
# token-proxy.py, which wants a bearer token for every read, as a migd that
# guards its reads would: the page asks for it and sends it, on the event
# stream too. The page's headers (a strict
# Content-Security-Policy) and files are checked over the unix socket. The
# screenshots go beside this test's log (test-ui-*.png).
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")

npm_dir=${MIGD_UI_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/migd/ui-test}
shots=$(dirname "${MIGD_API_RECORD:-$PWD/api/records}")
port=$((20000 + RANDOM % 20000))
busy_port=$((port + 1))     # B's migd: busy-peer.py
proxy_port=$((port + 2))    # token-proxy.py, in front of migd
secret=$(head -c 18 /dev/urandom | base64)
url=http://127.0.0.1:$port/ui/

mapfile -t ids < <("$here/../tools/make-records" "$here/../data/records/completed.json" \
    "$T/state" 4 4)
check "4 records are made" [ "${#ids[@]}" = 4 ]
# The newest one failed while migrating: libvirt's reason, no result, no window.
failed=$T/state/jobs/${ids[3]}.json
jq '.state = "failed" | .outcome = {result: "failed", reason: "the live migration failed: libvirt says the destination refused it"}
    | .result = null | .nics.no_vf_window_ms = null
    | .timeline = [.timeline[] | select(.state != "switchover" and .state != "replugging" and .state != "verifying" and .state != "completed")]
    + [.timeline[-1] | .state = "failed" | .message = "the live migration failed: libvirt says the destination refused it"]' \
    "$failed" > "$T/failed.json" && mv "$T/failed.json" "$failed"
echo '<node/>' > "$T/dest.xml"
write_conf "$T/migd.conf" "tcp_listen=127.0.0.1:$port" "tcp_read=open"
cat >> "$T/migd.conf" <<EOS
[pool.lab]
type = emulated
bridge = br0
slots = tvf0, tvf1, tvf2

[pool.fast]
type = emulated
bridge = br1
slots = tvf9

[peer.B]
libvirt_uri = test://$T/dest.xml
migd_url = http://127.0.0.1:$busy_port
EOS
start_migd "$T/migd.conf" || { not_ok "migd starts"; tap_finish; }
python3 "$here/busy-peer.py" "$busy_port" > "$T/busy.log" 2>&1 &
busy_pid=$!
python3 "$here/token-proxy.py" "$proxy_port" "$port" "$secret" > "$T/proxy.log" 2>&1 &
proxy_pid=$!
trap 'kill "$busy_pid" "$proxy_pid" 2>/dev/null; cleanup' EXIT

# --- the page's files and headers ---------------------------------------------
api GET /ui
location=$(sed -n 's/^Location: *//Ip' "$T/headers" | tr -d '\r')
check "GET /ui redirects to /ui/ (308)" [ "$STATUS $location" = "308 /ui/" ]
api GET /ui/
check "GET /ui/ is the page: 200 text/html" \
    grep -qi '^Content-Type: text/html; charset=utf-8' "$T/headers"
check "... with a Content-Security-Policy that allows only migd's own" \
    grep -qi "^Content-Security-Policy: default-src 'self';" "$T/headers"
check "... which names only files of the page" \
    bash -c 'diff <(grep -o "\(src\|href\)=\"[^\"]*\"" "$0" | sort -u) \
        <(printf "%s\n" "href=\"icon.svg\"" "href=\"ui.css\"" "src=\"ui.js\"")' "$T/body"
for file in ui.js:text/javascript api.js:text/javascript chart.js:text/javascript \
    ui.css:text/css icon.svg:image/svg+xml; do
    api GET "/ui/${file%%:*}"
    check "GET /ui/${file%%:*} is ${file#*:}" \
        grep -qi "^Content-Type: ${file#*:}" "$T/headers"
done
api GET /ui/secret.txt
check "a file the page does not have is a 404 that says where the page is" \
    json_is "$BODY" '.error.code + ": " + .error.message' "not_found: the status page has no file 'secret.txt'; open /ui/"
api POST /ui/
check "the page is read-only: POST /ui/ is a 405" [ "$STATUS" = 405 ]

# --- what the page shows --------------------------------------------------------
if ! command -v "${CHROMIUM:-chromium}" >/dev/null; then
    not_ok "Chromium is installed (tests/install-deps installs Debian's chromium)"
    tap_finish
fi
if ! npm_install "$npm_dir" "$TOP_SRCDIR/tests/ui"; then
    not_ok "npm ci installs playwright-core into $npm_dir (the npm registry must be reachable)"
    diag "$T/npm.log"
    tap_finish
fi
ok "playwright-core is installed in $npm_dir"
see() {
    NODE_PATH=$npm_dir/node_modules CHROMIUM=$(command -v "${CHROMIUM:-chromium}") \
        timeout 120 node "$TOP_SRCDIR/tests/ui/see.js" "$@"
}

# A VF of lab leased to a reservation, as a source's migd would ask.
api POST /v1/reservations -d '{"job":"incoming-1","domain":"vm-in","source":"A","strategy":"unplug","nics":[{"alias":"ua-vf0","mac":"52:54:00:00:00:01","pool":"lab"}]}'
check "a reservation leases a VF of pool lab" [ "$STATUS" = 201 ]
# A migration that stays in flight: B's migd has no slot for it.
check "B's migd listens" wait_log "$T/busy.log" 0 listening 10
api POST /v1/migrations -d '{"domain":"test","destination":"B"}'
check "a migration of test to B is accepted" [ "$STATUS" = 202 ]
job=$(jq -r .id <<<"$BODY")

# The page, through the proxy that wants a token, follows it until it is
# listed among the recent ones, once it is cancelled (after the page showed
# it in flight).
check "the proxy listens" wait_log "$T/proxy.log" 0 listening 10
SEE_TOKEN=$secret see follow "http://127.0.0.1:$proxy_port/ui/" "$shots/test-ui-cancelled.png" test 60 \
    > "$T/follow.json" 2> "$T/follow.err" &
see_pid=$!
if wait_log "$T/follow.err" 0 "in flight $job" 60; then
    ok "the page shows the migration of test in flight"
    api POST "/v1/migrations/$job/cancel"
else
    not_ok "the page shows the migration of test in flight"
    diag "$T/follow.err"
fi
wait "$see_pid"
check "the page saw it end (see.js follow exits 0)" [ $? -eq 0 ]
SEEN=$(cat "$T/follow.json")
check "in flight its card said test → B, reserving" \
    json_is "$SEEN" '.samples[0] | .job + " " + .state' "$job reserving"
check "... saying why it waited" json_is "$SEEN" '.samples[0].last | test("waiting for an incoming slot on the destination")' true
check "then it is listed among the recent ones as cancelled" \
    json_is "$SEEN" ".recent[] | select(.job == \"$job\") | .cells[1] + \" \" + (.cells[4] | split(\" \")[0])" "test cancelled"
check "... and no longer in flight" json_is "$SEEN" '.inFlight | length' 0
check "its chart shows the phases it went through" \
    json_is "$SEEN" '[.detail.phases[].state] | join(",")' "pending,checking,reserving,rolling-back"
check "the page asked for the token, saying why" \
    json_is "$SEEN" '.asked' "reading migd here needs the token. Type the token to read on."
# sent_token LOG JOB: after the first request with the token, every read
# of /v1/ came with it, and the event stream of JOB was one of them.
sent_token() {
    awk '$2 !~ /^\/v1\// { next }
         $NF == "token" && $(NF - 1) != "no" { sent = 1 } sent && $(NF - 1) == "no" { late = 1 }
         END { exit late || !sent }' "$1" && grep -q "^GET /v1/migrations/$2/events token\$" "$1"
}
check "... then sent it with every read, the event stream included" sent_token "$T/proxy.log" "$job"
check "the browser reported no error but the proxy's 401 (no request blocked by the policy)" \
    json_is "$SEEN" '[.errors[] | select(test("status of 401") | not)] | length' 0
check "the page asked nothing of any other origin" \
    json_is "$SEEN" '.origins | join(" ")' "http://127.0.0.1:$proxy_port"

see look "$url" "$shots/test-ui-recent.png" "${ids[2]}" > "$T/look.json"
check "see.js look exits 0" [ $? -eq 0 ]
SEEN=$(cat "$T/look.json")
check "the daemon line says migd is ok" json_is "$SEEN" '.daemon | test(": ok$")' true
check "the recent jobs are listed newest first, each with its outcome" \
    json_is "$SEEN" '[.recent[] | .cells[1] + " " + (.cells[4] | split(" ")[0])] | join(", ")' \
    "test cancelled, vm-3 failed, vm-2 completed, vm-1 completed, vm-0 completed"
check "a failure shows its reason" \
    json_is "$SEEN" '.recent[1].cells[4]' "failed the live migration failed: libvirt says the destination refused it"
check "a completed job shows its downtime and no-VF window" \
    json_is "$SEEN" '.recent[2].cells[5:] | join(" ")' "169 ms 2074 ms"
check "the clicked job's chart is shown" json_is "$SEEN" '.detail | .job + " " + .title' "${ids[2]} Migration of vm-2 to B"
check "its chart has the phases of the record, in order" \
    json_is "$SEEN" '[.detail.phases[].state] | join(",")' \
    "pending,checking,reserving,preparing,unplugging,migrating,switchover,replugging,verifying"
check "... a row for the no-VF window, one for the downtime, and no pause" \
    json_is "$SEEN" '.detail.rows | join(",")' "phases,no VF,downtime"
check "the no-VF window is labelled with its length" json_is "$SEEN" '.detail.noVf.label' "no VF 2074 ms"
# Where a person sees it: from the unplug (inside the unplugging phase) to
# the replug's answer (the end of replugging), around the whole migration.
check "the no-VF window starts within the unplugging phase" json_is "$SEEN" \
    '(.detail.phases[] | select(.state == "unplugging")) as $u | .detail.noVf.x > $u.x and .detail.noVf.x < $u.x + $u.width' true
check "... spans the migration and ends with replugging" json_is "$SEEN" \
    '(.detail.phases[] | select(.state == "migrating")) as $m | (.detail.phases[] | select(.state == "replugging")) as $r
     | .detail.noVf.x < $m.x and (.detail.noVf.x + .detail.noVf.width - $r.x - $r.width | fabs) <= 2' true
check "the downtime ends where the switchover starts" json_is "$SEEN" \
    '(.detail.phases[] | select(.state == "switchover")) as $s | (.detail.downtime.x + .detail.downtime.width - $s.x | fabs) <= 2' true
check "the figures beside the chart" json_is "$SEEN" '.detail.figures' \
    "no-VF window 2074 ms · paused — · downtime 169 ms · took 2806 ms"
check "VFs per pool: each pool with its counts" json_is "$SEEN" '[.pools[].title] | join("; ")' \
    "fast 1 VF: 1 free, 0 leased, 0 in use; lab 3 VFs: 2 free, 1 leased, 0 in use"
check "... and the leased VF with its domain and job" \
    json_is "$SEEN" '.pools[1].vfs[] | select(.[1] == "leased") | .[0:4] | join(" ")' "tvf0 leased vm-in incoming-1"
check "the browser reported no error (no request blocked by the policy)" json_is "$SEEN" '.errors | length' 0
check "the page asked nothing of any other origin" json_is "$SEEN" '.origins | join(" ")' "http://127.0.0.1:$port"
check "without a proxy that wants one, the page asks for no token" json_is "$SEEN" '.asked' null
check "the screenshots are saved beside the log" \
    [ -s "$shots/test-ui-recent.png" -a -s "$shots/test-ui-cancelled.png" ]

stop_migd TERM
check "migd stops cleanly" [ $? -eq 0 ]
tap_finish
