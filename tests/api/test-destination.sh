#!/bin/bash
# API tests of where POST /v1/migrations may send a guest: migd opens the
# destination's libvirt as root, so a request must not make it run a command
# or read a file (test+ext:///...?command=, test:///FILE), and a destination
# that is this host is refused before anything is queued.
. "$(dirname "$0")/lib.sh"

# A script that leaves a trace if anyone runs it, and a file whose first line
# libvirt's test driver would quote in its parse error.
cat > "$T/evil" <<EOS
#!/bin/sh
id > "$T/ran"
EOS
chmod +x "$T/evil"
secret="SECRET-FIRST-LINE-$RANDOM$RANDOM"
echo "$secret" > "$T/secret"

migrate() {
    api POST /v1/migrations -H 'Content-Type: application/json' \
        -d "{\"domain\":\"test\",\"destination\":\"$1\"}"
}

# refused DESCRIPTION DESTINATION STATUS: the request is refused with STATUS,
# the script did not run, the file is not quoted, and nothing was queued.
refused() {
    rm -f "$T/ran"
    migrate "$2"
    REFUSAL=$BODY
    check "$1: status $3 ($(printf '%s' "$BODY" | jq -r .error.code))" [ "$STATUS" = "$3" ]
    check "$1: the command did not run" [ ! -e "$T/ran" ]
    check "$1: the file's content is not in the answer" [ "${BODY#*$secret}" = "$BODY" ]
    api GET /v1/migrations
    check "$1: nothing was queued" json_is "$BODY" '.migrations | length' 0
}

port=$((20000 + RANDOM % 20000))
write_conf "$T/migd.conf" "tcp_listen=127.0.0.1:$port"
cat >> "$T/migd.conf" <<EOF2
[peer.self]
libvirt_uri = test:///default
migd_url = http://127.0.0.1:$port/

[peer.same]
libvirt_uri = test:///default
EOF2
start_migd "$T/migd.conf" || { not_ok "migd starts"; tap_finish; }

# --- by default only [peer.NAME] destinations ---------------------------------
refused "test+ext with command=, by default" "test+ext:///default?command=$T/evil" 400
check "the refusal says how to allow a URI" json_is "$REFUSAL" '.error.message | test("allow_uri_destinations = true")' true
refused "test:///FILE, by default" "test://$T/secret" 400
refused "qemu+tcp URI, by default" "qemu+tcp://10.0.0.2/system" 400
refused "the peer whose migd_url is this migd's own" self 400
check "the refusal says it is this host" json_is "$REFUSAL" '.error.message' "destination 'self' is this host: [peer.self] migd_url http://127.0.0.1:$port/ is this migd's own address (tcp_listen = 127.0.0.1:$port); migrate the guest to another host"
refused "the peer whose libvirt is this migd's own" same 400
check "the refusal names the libvirt" json_is "$REFUSAL" '.error.message' "destination 'same' is this host: [peer.same] libvirt_uri test:///default is the libvirt this migd manages ([daemon] libvirt_uri); migrate the guest to another host"
stop_migd

# --- allow_uri_destinations: qemu+tcp/tls/ssh only, without parameters --------
hold_port=$((port + 1))
write_conf "$T/allow.conf" "tcp_listen=127.0.0.1:$port"
cat >> "$T/allow.conf" <<EOF2
[migration]
allow_uri_destinations = true

[peer.hold]
libvirt_uri = qemu+tcp://127.0.0.1:$hold_port/system
EOF2
start_migd "$T/allow.conf" || { not_ok "migd starts with allow_uri_destinations"; tap_finish; }

refused "test+ext with command=, allowed URIs" "test+ext:///default?command=$T/evil" 400
check "the refusal names the transports migd opens" json_is "$REFUSAL" '.error.message | test("only qemu\\+tcp, qemu\\+tls and qemu\\+ssh")' true
refused "test:///FILE, allowed URIs" "test://$T/secret" 400
refused "qemu+ssh with command=" "qemu+ssh://b.example/system?command=$T/evil" 400
check "the refusal names the parameter" json_is "$REFUSAL" '.error.message | test("the parameter .command.")' true
refused "qemu+tcp with socket=" "qemu+tcp://b.example/system?socket=/run/libvirt/libvirt-sock" 400
refused "qemu+ssh with a host that ssh reads as an option" "qemu+ssh://-oProxyCommand=$T%2Fevil/system" 400
refused "qemu+tcp to this host" "qemu+tcp://localhost/system" 400

rm -f "$T/ran"
migrate "qemu+tcp://no-such-host.invalid/system"
check "an allowed URI whose libvirt does not answer is a 422" [ "$STATUS" = 422 ]
check "the 422 is migd's sentence, not libvirt's" json_is "$BODY" .error.message "the destination's libvirt does not answer at qemu+tcp://no-such-host.invalid/system; nothing was started (migd's log says what libvirt reported)"
check "libvirt's reason is in migd's log" grep -q "no-such-host.invalid.*Unable to resolve" "$T/migd.log"

# --- the checks run in a worker: the API answers while one is pending ---------
# A listener that accepts the destination's connection and never answers, so
# the check stays pending until the listener goes.
cat > "$T/hold.py" <<'EOS'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
print("accepted", flush=True)
sys.stdin.read()
EOS
mkfifo "$T/hold.in"
exec 8<>"$T/hold.in"

# post_held NAME: starts the listener and a POST to peer hold in the
# background (answer in $T/NAME.status and NAME.body; sets hold_pid,
# post_pid); succeeds once the check has reached the listener.
post_held() {
    python3 "$T/hold.py" "$hold_port" <&8 >"$T/$1.log" 2>&1 &
    hold_pid=$!
    wait_log "$T/$1.log" 0 listening 10
    curl -s --max-time 30 --unix-socket "$T/migd.sock" -o "$T/$1.body" -w '%{http_code}' \
        -H 'Content-Type: application/json' -d '{"domain":"test","destination":"hold"}' \
        http://localhost/v1/migrations > "$T/$1.status" &
    post_pid=$!
    wait_log "$T/$1.log" 0 accepted 10
}

check "the destination's check reached the listener" post_held pending
api GET /v1/health
check "GET /v1/health answers while the check is pending" [ "$STATUS" = 200 ]
api GET /v1/migrations
check "GET /v1/migrations answers while the check is pending" [ "$STATUS" = 200 ]
check "the POST is still waiting for its check" kill -0 "$post_pid"
kill "$hold_pid" 2>/dev/null
wait "$hold_pid" 2>/dev/null
wait "$post_pid"
check "the POST is answered once the destination hangs up" [ "$(cat "$T/pending.status")" = 422 ]
check "and nothing was queued" json_is "$(curl -s --unix-socket "$T/migd.sock" http://localhost/v1/migrations)" '.migrations | length' 0

# --- a check pending at shutdown is answered 503 shutting_down -----------------
check "a second check reached the listener" post_held stopped
rc=0; stop_migd || rc=$?
check "migd stops cleanly with a check pending" [ $rc -eq 0 ]
wait "$post_pid"
check "the pending request is answered 503" [ "$(cat "$T/stopped.status")" = 503 ]
check "with the code shutting_down" json_is "$(cat "$T/stopped.body")" .error.code shutting_down
kill "$hold_pid" 2>/dev/null
wait "$hold_pid" 2>/dev/null
tap_finish
