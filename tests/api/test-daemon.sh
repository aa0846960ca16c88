#!/bin/bash
# API tests of a real migd: options, configuration checks, readiness and the
# systemd protocols, the HTTP error envelope, reload and shutdown. libvirt is
# its test driver here; tests/lab drives the same daemon against real QEMU.
. "$(dirname "$0")/lib.sh"

# --- options and configuration checks ---------------------------------------
out=$("$MIGD" --version)
check "--version prints the version" [ "$out" = "migd 0.1.0" ]

write_conf "$T/good.conf"
out=$("$MIGD" -n -c "$T/good.conf" 2>&1)
check "-n accepts a good configuration" [ "$out" = "configuration OK" ]

printf '[daemon]\nlog_level = info\nlibvirt_url = qemu:///system\n' > "$T/typo.conf"
out=$("$MIGD" --check-config --config "$T/typo.conf" 2>&1); rc=$?
check "-n refuses an unknown key, naming it and its line" \
    [ $rc -eq 1 -a "$out" = "migd: $T/typo.conf:3: unknown key 'libvirt_url' in [daemon]; the commented migd.conf shipped with migd lists every key it knows" ]

out=$("$MIGD" -n -c "$T/missing.conf" 2>&1); rc=$?
check "a missing configuration file is named" [ $rc -eq 1 -a "${out#*missing.conf}" != "$out" ]

out=$("$MIGD" --frobnicate 2>&1); rc=$?
check "an unknown option is a usage error (exit 2)" [ $rc -eq 2 -a "${out#*frobnicate}" != "$out" ]

check "the shipped migd.conf is valid" "$MIGD" -n -c "$TOP_SRCDIR/conf/migd.conf"

# --- start-up: READY=1 once the socket and libvirt are up -------------------
port=$((20000 + RANDOM % 20000))
write_conf "$T/migd.conf" "tcp_listen=127.0.0.1:$port" "tcp_read=open"
if start_migd "$T/migd.conf"; then ok "migd sends READY=1"; else not_ok "migd sends READY=1"; fi
check "STATUS= says what migd is connected to" grep -q "^STATUS=Serving the API; connected to test:///default" "$T/notify.log"
check "the unix socket has mode 0660" [ "$(stat -c %a "$T/migd.sock")" = 660 ]

api GET /v1/health
check "GET /v1/health answers 200 on the unix socket" [ "$STATUS" = 200 ]
check "health reports the libvirt connection" json_is "$BODY" '.status + " " + (.libvirt.connected|tostring) + " " + .libvirt.uri' "ok true test:///default"

body=$(curl -s --max-time 10 "http://127.0.0.1:$port/v1/version")
check "GET /v1/version answers on TCP (tcp_read = open)" json_is "$body" '.version + " " + .api' "0.1.0 v1"

# --- the error envelope ----------------------------------------------------
api GET /v1/no-such-thing
check "an unknown path is a 404 with the error envelope" [ "$STATUS" = 404 ]
check "the 404 names the path" json_is "$BODY" '.error.code + ": " + .error.message' "not_found: there is no endpoint at /v1/no-such-thing; the API is described in the README"

api PUT /v1/health
check "a wrong method is a 405" [ "$STATUS" = 405 ]
check "the 405 carries an Allow header" grep -qi '^Allow: GET' "$T/headers"
check "the 405 body says which method to use" json_is "$BODY" .error.code method_not_allowed

api GET /v1/version -H 'Content-Type: application/json' --data-binary '{"domain": "vm1",}'
check "malformed JSON is a 400" [ "$STATUS" = 400 ]
check "the 400 names the problem and where" json_is "$BODY" '.error.code + " " + (.error.message | test("line 1, column"; "") | tostring)' "invalid_json true"

head -c 2000000 /dev/zero | tr '\0' ' ' > "$T/big"
api GET /v1/version --data-binary @"$T/big"
check "a body over 1 MiB is a 413" [ "$STATUS" = 413 ]
check "the 413 uses the error envelope" json_is "$BODY" .error.code payload_too_large

# --- one daemon per socket -------------------------------------------------
out=$("$MIGD" -c "$T/migd.conf" 2>&1); rc=$?
check "a second migd on the same socket is refused" [ $rc -ne 0 -a "${out#*already listens on $T/migd.sock}" != "$out" ]
api GET /v1/health
check "the first migd still answers" [ "$STATUS" = 200 ]

# --- SIGHUP ----------------------------------------------------------------
# Each reload is waited for by the line migd logs once it has handled it.

cp "$T/migd.conf" "$T/migd.conf.good"
echo "log_level = shouty" >> "$T/migd.conf"
offset=$(file_size "$T/migd.log")
reload
check "a bad reload is refused and logged with its reason" \
    wait_log "$T/migd.log" "$offset" "Configuration reload refused, the running configuration is kept: .*log_level.*shouty" 1
api GET /v1/health
check "migd keeps serving after a refused reload" [ "$STATUS" = 200 ]

sed 's|^libvirt_uri = .*|libvirt_uri = test:///no/such/file.xml|' "$T/migd.conf.good" > "$T/migd.conf"
check "a good reload is applied" reload
api GET /v1/health
check "the new libvirt URI is in use" json_is "$BODY" '.libvirt.uri' "test:///no/such/file.xml"
check "health reports the outage with a 503" [ "$STATUS" = 503 ]
check "the 503 carries the error envelope" json_is "$BODY" '.status + " " + .error.code' "degraded libvirt_disconnected"

cp "$T/migd.conf.good" "$T/migd.conf"
offset=$(file_size "$T/migd.log")
reload
check "reload back to a reachable URI reconnects" \
    wait_log "$T/migd.log" "$offset" "Connected to test:///default" 20
api GET /v1/health
check "health is ok again" [ "$STATUS" = 200 ]

# --- SIGTERM ---------------------------------------------------------------
stop_migd TERM; rc=$?
check "SIGTERM ends migd with status 0" [ $rc -eq 0 ]
check "SIGTERM removes the unix socket" [ ! -e "$T/migd.sock" ]

# --- a stale socket left by a crash ----------------------------------------
start_migd "$T/migd.conf" >/dev/null
stop_migd KILL
check "kill -9 leaves the socket file behind" [ -S "$T/migd.sock" ]
if start_migd "$T/migd.conf"; then ok "migd starts over a stale socket"; else not_ok "migd starts over a stale socket"; fi
stop_migd TERM

# --- libvirt unreachable at start: API up, READY withheld ------------------
write_conf "$T/down.conf" "libvirt_uri=qemu+unix:///system?socket=$T/no-libvirt.sock"
: > "$T/notify.log"
if UNTIL="STATUS=Serving the API; waiting for libvirt at qemu+unix:///system?socket=$T/no-libvirt.sock: cannot connect to qemu+unix:///system?socket=$T/no-libvirt.sock: Failed to connect socket to '$T/no-libvirt.sock': No such file or directory" \
    start_migd "$T/down.conf"; then ok "STATUS= says migd waits for libvirt and why"; else not_ok "STATUS= says migd waits for libvirt and why"; diag "$T/notify.log"; fi
api GET /v1/health
check "health is 503 while libvirt is unreachable" [ "$STATUS" = 503 ]
check "health names the URI and counts attempts" json_is "$BODY" '.libvirt.uri + " " + (.libvirt.reconnect_attempts >= 1 | tostring)' "qemu+unix:///system?socket=$T/no-libvirt.sock true"
check "READY=1 is withheld until libvirt is up" bash -c "! grep -q '^READY=1' '$T/notify.log'"
stop_migd TERM

# --- the watchdog ----------------------------------------------------------
if UNTIL=WATCHDOG=1 start_migd "$T/migd.conf" WATCHDOG_USEC=200000; then
    ok "WATCHDOG=1 is sent when WatchdogSec is set"
else
    not_ok "WATCHDOG=1 is sent when WatchdogSec is set"
fi
stop_migd TERM

# --- socket activation -----------------------------------------------------
write_conf "$T/act.conf"
cat > "$T/activate.py" <<'PY'
# Does what systemd does for socket activation: bind, then exec the service.
import os, socket, sys
path, migd, conf = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(8)
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(migd, [migd, "--config", conf])
PY
if start_notified python3 "$T/activate.py" "$T/activated.sock" "$MIGD" "$T/act.conf"; then
    ok "socket activation: migd becomes ready"
else
    not_ok "socket activation: migd becomes ready"
fi
body=$(curl -s --max-time 10 --unix-socket "$T/activated.sock" http://localhost/v1/health)
check "socket activation: migd serves on the socket systemd passed" json_is "$body" .status ok
check "socket activation: the configured socket is not created" [ ! -e "$T/migd.sock" ]
stop_migd TERM

# --- journal logging -------------------------------------------------------
# In a private mount namespace migd gets a journal of ours: the datagram
# socket it sends entries to, and a stream socket under
# /run/systemd/journal/ as its stderr, which is how GLib (like systemd)
# recognises a service whose output the journal takes.
cat > "$T/journal-stream.py" <<'PY'
import os, socket, sys
capture, cmd = sys.argv[1], sys.argv[2:]
path = "/run/systemd/journal/stdout"
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
server.listen(1)
client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
client.connect(path)
if os.fork() == 0:
    client.close()      # else our copy would keep the stream from ever ending
    conn, _ = server.accept()
    with open(capture, "wb") as out:
        while data := conn.recv(4096):
            out.write(data)
            out.flush()
    os._exit(0)
server.close()
os.dup2(client.fileno(), 2)
os.execvp(cmd[0], cmd)
PY
unshare --mount bash -c '
    mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal
    mkfifo "$0/journal-fifo" && exec 7<>"$0/journal-fifo"
    "$1" --report "$0/journal-fifo" --socket /run/systemd/journal/socket --env UNUSED \
        --until "MIGD_LIBVIRT_URI=test:///default" --timeout 20 --log "$0/journal.log" -- \
        python3 "$0/journal-stream.py" "$0/journal-stderr" "$2" --config "$3" &
    pid=$!
    read -r -t 30 -u 7 status
    echo "$status" > "$0/journal-report"
    kill $pid; wait $pid
' "$T" "$SD_RECV" "$MIGD" "$T/act.conf"
check "under systemd, messages go to the journal with MIGD_* fields" grep -qx ok "$T/journal-report"
check "the journal entry has MESSAGE and PRIORITY" grep -q "^MESSAGE=Connected to test:///default" "$T/journal.log"
check "nothing is written to stderr when the journal takes it" bash -c "! grep -q 'Connected to' '$T/journal-stderr'"

tap_finish
