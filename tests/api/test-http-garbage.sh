#!/bin/bash
# Raw bytes that no well-behaved client sends (what tests/fuzz/fuzz-http
# found, and its seeds), on migd's unix socket: each gets a clean answer,
# migd's JSON envelope wherever migd rather than libmicrohttpd answers, and
# migd stays up.
. "$(dirname "$0")/lib.sh"

write_conf "$T/migd.conf"
start_migd "$T/migd.conf" || { not_ok "migd starts"; tap_finish; }

# raw BYTES: BYTES (printf escapes) written at once to the socket; what came
# back, until migd closed or went quiet for a second, in $T/raw. Sets STATUS
# (the first answer's code), BODY (its body), HEADERS and ANSWERS (how many
# status lines came back).
raw() {
    printf "$1" | python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
out = b""
# migd closing with bytes of ours unread resets the connection, after what
# it answered.
try:
    s.sendall(sys.stdin.buffer.read())
except (ConnectionResetError, BrokenPipeError):
    pass
s.settimeout(1.0)
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except (socket.timeout, ConnectionResetError):
    pass
sys.stdout.buffer.write(out)
' "$T/migd.sock" > "$T/raw"
    STATUS=$(head -n 1 "$T/raw" | cut -d' ' -f2)
    HEADERS=$(sed -n '1,/^\r$/p' "$T/raw")
    BODY=$(sed -n '/^\r$/,$p' "$T/raw" | sed -n '2p')
    ANSWERS=$(grep -c '^HTTP/1\.1 ' "$T/raw")
}

raw 'G\377T /v1/health HTTP/1.1\r\nHost: migd\r\nConnection: close\r\n\r\n'
check "a method that is not UTF-8 gets 405, not 500" [ "$STATUS" = 405 ]
check "as method_not_allowed, in the envelope" json_is "$BODY" '.error.code' method_not_allowed
check "whose message says what to use" \
    json_is "$BODY" '.error.message' "/v1/health does not accept the method sent, which is not an HTTP method name; use GET"
check "with an Allow header" grep -q '^Allow: GET' "$T/raw"

raw 'BREW /v1/health HTTP/1.1\r\nHost: migd\r\nConnection: close\r\n\r\n'
check "an unknown method gets 405 method_not_allowed" json_is "$STATUS $BODY" '.error.code' method_not_allowed
check "which names it" json_is "$BODY" '.error.message' "/v1/health does not accept BREW; use GET"

raw 'GET /v1/dr\303ains HTTP/1.1\r\nHost: migd\r\nConnection: close\r\n\r\n'
check "a raw byte that is not UTF-8 in the path gets 400" [ "$STATUS" = 400 ]
check "as invalid_argument" json_is "$BODY" '.error.code' invalid_argument

raw 'GET /v1/migrations?domain=%%ff HTTP/1.1\r\nHost: migd\r\nConnection: close\r\n\r\n'
check "a query that decodes to invalid UTF-8 gets 400 invalid_argument" \
    json_is "$STATUS $BODY" '.error.code' invalid_argument

raw 'GET /v1/version HTTP/1.1\r\nHost: migd\r\n\r\nGET /v1/migrations/nope HTTP/1.1\r\nHost: migd\r\n\r\nGET /v1/health HTTP/1.1\r\nHost: migd\r\nConnection: close\r\n\r\n'
check "three pipelined requests get three answers" [ "$ANSWERS" = 3 ]
check "in order: 200, 404, 200" \
    [ "$(grep -o '^HTTP/1\.1 [0-9]*' "$T/raw" | cut -d' ' -f2 | tr '\n' ' ')" = "200 404 200 " ]
# Refused from the headers alone, a request's body (if any) is never read,
# so the connection cannot go on: what was pipelined after it is not read.
raw 'GET /v1/version HTTP/1.1\r\nHost: migd\r\n\r\nBREW /v1/health HTTP/1.1\r\nHost: migd\r\n\r\nGET /v1/health HTTP/1.1\r\nHost: migd\r\n\r\n'
check "a pipelined request refused from its headers is answered, in order" \
    [ "$(grep -o '^HTTP/1\.1 [0-9]*' "$T/raw" | cut -d' ' -f2 | tr '\n' ' ')" = "200 405 " ]
check "with Connection: close" grep -q '^Connection: close' "$T/raw"

raw 'POST /v1/migrations HTTP/1.1\r\nHost: migd\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\n{"dom\r\n0\r\n\r\n'
check "a chunked body that is not JSON gets 400 invalid_json" json_is "$STATUS $BODY" '.error.code' invalid_json

big=$(head -c 40000 /dev/zero | tr '\0' a)
raw "GET /v1/health HTTP/1.1\r\nHost: migd\r\nX-Big: $big\r\n\r\n"
# libmicrohttpd 0.9.75 answers this itself, with HTML it has compiled in.
check "headers past 32 KiB get 431 from libmicrohttpd" [ "$STATUS" = 431 ]
check "which closes the connection" grep -q '^Connection: close' "$T/raw"

raw 'GET /v1/health HTTP/2.0\r\nHost: migd\r\n\r\n'
check "an HTTP version migd does not speak gets 505 from libmicrohttpd" [ "$STATUS" = 505 ]
raw 'POST /v1/migrations HTTP/1.1\r\nHost: migd\r\nContent-Length: 4x\r\n\r\n{}'
check "a Content-Length that is not a number gets 400 from libmicrohttpd" [ "$STATUS" = 400 ]
check "and the connection closed after it" grep -q '^Connection: close' "$T/raw"
raw 'GET /v1/health HTTP/1.1\r\nConnection: close\r\n\r\n'
check "HTTP/1.1 without Host: is answered (libmicrohttpd 0.9.75 does not insist)" [ "$STATUS" = 200 ]

check "migd is still up" kill -0 "$MIGD_PID"
api GET /v1/health
check "and answers" [ "$STATUS" = 200 ]
check "it logged no critical" bash -c "! grep -q CRITICAL '$T/migd.log'"
stop_migd
tap_finish
