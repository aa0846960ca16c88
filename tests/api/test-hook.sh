#!/bin/bash
# migd-hook, libvirt's qemu hook, run the way libvirt runs it: fail closed on
# "migrate begin" whatever goes wrong, warn only on "stopped"/"release", stay
# silent and away from migd on everything else. A fake migd on a unix socket
# plays each kind of answer; the real one checks the endpoint itself.
. "$(dirname "$0")/lib.sh"
: "${MIGD_HOOK:?run through make check, or set MIGD_HOOK to the migd-hook binary}"

FAKE_PID=
trap '[ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null; cleanup' EXIT

export XML="<domain type='qemu'><name>vm1</name><description>Grüße</description></domain>"

# hook SOCKET OPERATION SUB-OPERATION [STDIN]: runs the hook on domain vm1;
# sets RC, OUT (stdout) and ERR (stderr).
hook() {
    printf '%s' "${4-$XML}" | MIGD_HOOK_SOCKET=$1 "$MIGD_HOOK" vm1 "$2" "$3" - \
        >"$T/out" 2>"$T/err"
    RC=$?
    OUT=$(cat "$T/out")
    ERR=$(cat "$T/err")
}

# err_is EXPECTED: the hook printed exactly EXPECTED on stderr.
err_is() {
    [ "$ERR" = "$1" ] && return 0
    echo "# stderr is: $ERR"
    echo "# expected:  $1"
    return 1
}

# --- no migd at all --------------------------------------------------------
none=$T/no-migd.sock
hook "$none" migrate begin
check "migrate begin without migd exits 1, so libvirt refuses the migration" [ $RC -eq 1 ]
check "... and prints nothing on stdout" [ -z "$OUT" ]
check "... and says on stderr what failed and why" err_is \
    "migd-hook: refusing the incoming migration of domain 'vm1': cannot reach migd at $none: No such file or directory. Is migd running? Check 'systemctl status migd' or pass --socket/--url."

hook "$none" stopped end
check "stopped end without migd exits 0" [ $RC -eq 0 -a -z "$OUT" ]
check "... with a warning that names the domain and the reason" bash -c \
    '[[ $0 == "migd-hook: warning: could not tell migd that domain '"'vm1'"' stopped: cannot reach migd at "* ]]' "$ERR"

hook "$none" release end
check "release end without migd exits 0 with a warning" \
    bash -c '[ "$0" -eq 0 ] && [[ $1 == *"domain '"'vm1'"' was released: cannot reach migd"* ]]' "$RC" "$ERR"

hook "$none" migrate begin ""
check "migrate begin with no XML on stdin fails closed, saying so" \
    [ $RC -eq 1 -a -z "$OUT" -a "$ERR" = "migd-hook: refusing the incoming migration of domain 'vm1': libvirt gave no domain XML on stdin." ]

hook "$none" migrate begin "$(printf '<domain><name>\xff</name></domain>')"
check "migrate begin with XML that is not UTF-8 fails closed, saying so" \
    bash -c '[ "$0" -eq 1 ] && [[ $1 == *"is not valid UTF-8"* ]]' "$RC" "$ERR"

# One byte over migd's 1 MiB body limit: refused here, before migd is asked.
big="<domain><name>vm1</name><description>$(head -c $((1024 * 1024)) /dev/zero | tr '\0' x)</description></domain>"
hook "$none" migrate begin "$big"
check "migrate begin with XML over migd's 1 MiB limit fails closed before asking migd" \
    [ $RC -eq 1 -a -z "$OUT" -a "$ERR" = "migd-hook: refusing the incoming migration of domain 'vm1': the domain XML on stdin is larger than 1 MiB, more than any domain needs." ]

"$MIGD_HOOK" vm1 migrate >/dev/null 2>"$T/err"; RC=$?
check "run by hand with the wrong arguments it exits 2 and says how libvirt calls it" \
    bash -c '[ "$0" -eq 2 ] && grep -q "DOMAIN OPERATION SUB-OPERATION EXTRA" "$1"' "$RC" "$T/err"

# --- a fake migd: every kind of answer -------------------------------------
# It answers each request with $T/answer (first line the status and
# optionally a delay in seconds, then the body) and appends the request to
# $T/requests as one JSON line. It serves one request at a time.
cat > "$T/fake-migd.py" <<'PY'
import http.server, json, os, socketserver, sys, time
sock, answer, log = sys.argv[1:4]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(answer, "rb") as f:
            head, _, reply = f.read().partition(b"\n")
        with open(log, "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path,
                                "type": self.headers.get("Content-Type"),
                                "body": body.decode("utf-8", "replace")}) + "\n")
        status, *delay = head.split()
        time.sleep(float(delay[0]) if delay else 0)
        self.send_response(int(status))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)
    do_GET = do_POST
    def log_message(self, *args):
        pass
class Server(socketserver.UnixStreamServer):
    def get_request(self):
        return self.socket.accept()[0], ("fake-migd", 0)
Server(sock, Handler).serve_forever()
PY
fake=$T/fake.sock
: > "$T/requests"
python3 "$T/fake-migd.py" "$fake" "$T/answer" "$T/requests" 2>"$T/fake.log" &
FAKE_PID=$!
# answer STATUS BODY: what the fake migd says next.
answer() { printf '%s\n%s' "$1" "$2" > "$T/answer"; }
answer 200 '{}'
for _ in $(seq 100); do [ -S "$fake" ] && break; sleep 0.05; done
# The last request the fake migd got, as JSON.
last_request() { tail -n 1 "$T/requests"; }
requests() { wc -l < "$T/requests"; }

answer 200 '{"xml":"<domain type='"'qemu'"'><name>vm1</name><description>rewritten</description></domain>\n"}'
hook "$fake" migrate begin
check "migrate begin: a 200 answer's XML is printed on stdout, exactly" \
    [ $RC -eq 0 -a "$(cat "$T/out")" = "<domain type='qemu'><name>vm1</name><description>rewritten</description></domain>" ]
check "... with nothing on stderr" [ -z "$ERR" ]
req=$(last_request)
check "... it POSTed JSON to /v1/hooks/qemu" json_is "$req" '.method + " " + .path + " " + .type' "POST /v1/hooks/qemu application/json"
check "... naming the domain and the operation, with the XML from stdin intact" \
    json_is "$(jq -r .body <<<"$req")" '[.domain, .operation, .sub_operation, .xml == $ENV.XML, (keys | length)] | join(" ")' \
    "vm1 migrate begin true 4"

n=$(requests)
for op in "prepare begin" "start begin" "started begin" "stopped begin" "release begin" \
          "migrate end" "restore begin" "reconnect begin" "attach begin"; do
    # shellcheck disable=SC2086 # operation and sub-operation, two words
    hook "$fake" $op
    [ $RC -eq 0 -a -z "$OUT" -a -z "$ERR" ] || { echo "# '$op': exit $RC, stdout '$OUT', stderr '$ERR'"; break; }
done
check "every other operation exits 0 at once and prints nothing" [ $RC -eq 0 -a -z "$OUT" -a -z "$ERR" ]
check "... without contacting migd" [ "$(requests)" -eq "$n" ]
hook "$none" prepare begin
check "... even when migd is down" [ $RC -eq 0 -a -z "$OUT" -a -z "$ERR" ]

answer 404 '{"error":{"code":"not_found","message":"there is no endpoint at /v1/hooks/qemu; the API is described in the README"}}'
hook "$fake" migrate begin
check "migrate begin: a 404 fails closed (exit 1, no stdout)" [ $RC -eq 1 -a -z "$OUT" ]
check "... quoting migd's error, its code and the HTTP status" err_is \
    "migd-hook: refusing the incoming migration of domain 'vm1': there is no endpoint at /v1/hooks/qemu; the API is described in the README (not_found, HTTP 404)"

answer 500 'Internal Server Error'
hook "$fake" migrate begin
check "migrate begin: a 500 without the error envelope fails closed, naming the status" \
    bash -c '[ "$0" -eq 1 ] && [ -z "$1" ] && [[ $2 == *"migd answered HTTP 500 without the usual error description"* ]]' "$RC" "$OUT" "$ERR"

answer 201 '{"xml":"<domain/>"}'
hook "$fake" migrate begin
check "migrate begin: a 2xx other than 200 fails closed" bash -c '[ "$0" -eq 1 ] && [ -z "$1" ] && [[ $2 == *"HTTP 201"* ]]' "$RC" "$OUT" "$ERR"

for case in 'not json|is not the {"xml": ...} the hook expects' \
            '{"xml":""}|its '"'xml'"' is empty' \
            '{"xml":42}|is not the {"xml": ...} the hook expects' \
            '{}|is not the {"xml": ...} the hook expects'; do
    answer 200 "${case%%|*}"
    hook "$fake" migrate begin
    check "migrate begin: a 200 answer '${case%%|*}' fails closed, saying why" \
        bash -c '[ "$0" -eq 1 ] && [ -z "$1" ] && [[ $2 == "migd-hook: refusing the incoming migration of domain '"'vm1'"': migd'"'"'s answer to POST /v1/hooks/qemu "*"$3"* ]]' \
        "$RC" "$OUT" "$ERR" "${case#*|}"
done

answer 200 '{}'
hook "$fake" stopped end
check "stopped end: exit 0, silent, on a 200" [ $RC -eq 0 -a -z "$OUT" -a -z "$ERR" ]
check "... it sent the domain and the operation, without the XML" \
    json_is "$(last_request | jq -r .body)" '[.domain, .operation, .sub_operation, has("xml")] | join(" ")' "vm1 stopped end false"
hook "$fake" release end
check "release end: the operation is 'release'" \
    json_is "$(last_request | jq -r .body)" '.operation + " " + .sub_operation' "release end"

answer 500 '{"error":{"code":"internal","message":"the store is not writable"}}'
hook "$fake" stopped end
check "stopped end: an error answer is a warning quoting migd, and exit 0" \
    bash -c '[ "$0" -eq 0 ] && [[ $1 == *"stopped: the store is not writable (internal, HTTP 500)"* ]]' "$RC" "$ERR"

# libvirt holds the domain's lock while these run: a migd that is slow to
# answer (here busy for 3 s with another request) must not hold libvirt for
# long, and is still told.
answer "200 3" '{}'
n=$(requests)
curl -s --max-time 10 --unix-socket "$fake" -X POST -d '{}' http://localhost/busy >/dev/null &
for _ in $(seq 100); do [ "$(requests)" -gt "$n" ] && break; sleep 0.05; done
answer 200 '{}'
n=$(requests)
t0=$EPOCHREALTIME
hook "$fake" stopped end
took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
check "stopped end: a migd slow to answer holds libvirt about 1 s, not until it answers (${took} s)" \
    bash -c '[ "$0" -eq 0 ] && [ -z "$1" ] && awk -v t="$2" "BEGIN { exit !(t >= 0.9 && t < 2.5) }"' "$RC" "$ERR" "$took"
for _ in $(seq 100); do [ "$(requests)" -gt "$n" ] && break; sleep 0.05; done
check "... and migd still gets the news, from the hook's child, once it is free" \
    json_is "$(last_request | jq -r .body)" '.operation + " " + .sub_operation' "stopped end"

kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null; FAKE_PID=

# --- the real migd ---------------------------------------------------------
write_conf "$T/migd.conf"
start_migd "$T/migd.conf" || { not_ok "migd starts"; tap_finish; }
sock=$T/migd.sock

hook "$sock" migrate begin "<domain type='qemu'><name>vm1</name><memory>131072</memory><devices/></domain>"
check "migrate begin of a domain without passthrough NICs prints its XML back" \
    bash -c '[ "$0" -eq 0 ] && [ -z "$2" ] && [[ $1 == *"<name>vm1</name>"* ]]' "$RC" "$OUT" "$ERR"
hook "$sock" stopped end
check "stopped end is acknowledged without a warning" [ $RC -eq 0 -a -z "$ERR" ]
hook "$sock" release end
check "release end is acknowledged without a warning" [ $RC -eq 0 -a -z "$ERR" ]
hook "$sock" migrate begin "this is not XML"
check "migrate begin of XML migd cannot parse fails closed with migd's reason" \
    bash -c '[ "$0" -eq 1 ] && [ -z "$1" ] && [[ $2 == *", HTTP 4"??")" ]]' "$RC" "$OUT" "$ERR"
stop_migd TERM

tap_finish
