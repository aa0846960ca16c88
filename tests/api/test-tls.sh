#!/bin/bash
# HTTPS on the TCP listener: who gets in with which client certificate (none,
# another CA's, an expired one, a host's own), a host's certificate acting
# for another peer (403), the bearer token as the weaker way in, migctl over
# https, and certificates reloaded on SIGHUP (a broken one refused, the old
# kept serving). The CA and certificates are made with openssl here.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../tls-certs.sh"
: "${MIGCTL:?run through make check, or set MIGCTL to the migctl binary}"

P=$T/pki
tls_make_ca "$P" ca && tls_make_ca "$P" otherca &&
    tls_make_host "$P" ca hosta 30 127.0.0.1 && tls_make_host "$P" ca hostb 30 &&
    tls_make_host "$P" otherca rogue 30 && tls_make_host "$P" ca stale -1 ||
    { not_ok "openssl makes the CA and the certificates"; tap_finish; }
serial_of() { openssl x509 -noout -serial -in "$1"; }

port=$((20000 + RANDOM % 12000))
token=$(head -c 24 /dev/urandom | base64)
(umask 077; echo "$token" > "$T/peer.token")
write_conf "$T/migd.conf" "tcp_listen=127.0.0.1:$port" "peer_token_file=$T/peer.token" \
    "tls_cert=$P/hosta.pem" "tls_key=$P/hosta.key" "tls_ca=$P/ca.pem"
cat >> "$T/migd.conf" <<EOF2

[peer.hostb]
libvirt_uri = qemu+tls://hostb/system
migd_url = https://hostb:7480/
cert_name = hostb

[peer.hostc]
libvirt_uri = qemu+tls://hostc/system
migd_url = https://hostc:7480
cert_name = hostc
EOF2
check "migd -n accepts the TLS configuration" "$MIGD" -n -c "$T/migd.conf"
start_migd "$T/migd.conf" || { not_ok "migd starts with TLS"; tap_finish; }

# tcps METHOD PATH [CURL-ARGS...]: one request over HTTPS, migd verified
# against the CA; sets STATUS and BODY, and records the answer.
tcps() {
    local method=$1 path=$2
    shift 2
    STATUS=$(curl -s -S --max-time 10 --cacert "$P/ca.pem" -X "$method" -o "$T/body" \
        -D "$T/headers" -w '%{http_code}' "$@" "https://127.0.0.1:$port$path")
    BODY=$(cat "$T/body")
    record_response "$method" "$path"
}
as() { echo --cert "$P/$1.pem" --key "$P/$1.key"; }
reservation() {
    echo "{\"job\":\"$1\",\"domain\":\"vm-$1\",\"source\":\"src\",\"source_url\":\"$2\",\"strategy\":\"unplug\",\"nics\":[]}"
}

# --- the server's side --------------------------------------------------------
check "plain HTTP on the TLS port gets no answer" \
    bash -c "! curl -s --max-time 5 http://127.0.0.1:$port/v1/health > /dev/null"
check "a client that trusts another CA refuses migd's certificate" \
    bash -c "! curl -s --max-time 5 --cacert '$P/otherca.pem' https://127.0.0.1:$port/v1/health"
check "migd's certificate is the one in tls_cert" bash -c \
    "openssl s_client -connect 127.0.0.1:$port -CAfile '$P/ca.pem' </dev/null 2>/dev/null | openssl x509 -noout -serial | grep -qx '$(serial_of "$P/hosta.pem")'"

# --- client certificates ------------------------------------------------------
tcps GET /v1/health
check "no client certificate and no token: reading is refused with 401" [ "$STATUS" = 401 ]
check "the refusal says which credentials would do" json_is "$BODY" '.error.code + ": " + (.error.message | test("needs a client certificate signed by tls_ca, or the peer token.*none was sent") | tostring)' "unauthenticated: true"
tcps POST /v1/reservations -d "$(reservation j0 https://hostb:7480)"
check "no client certificate: a reservation is refused with 401" [ "$STATUS" = 401 ]
tcps GET /v1/health $(as rogue)
check "a certificate from another CA is refused with 401" [ "$STATUS" = 401 ]
check "the refusal says its issuer is unknown" json_is "$BODY" '.error.message | test("does not verify against tls_ca: .*issuer is unknown")' true
tcps GET /v1/health $(as stale)
check "an expired certificate is refused with 401" [ "$STATUS" = 401 ]
check "the refusal says it expired" json_is "$BODY" '.error.message | test("does not verify against tls_ca: .*expired")' true
tcps GET /v1/health $(as hostb)
check "a certificate signed by tls_ca may read" [ "$STATUS" = 200 ]
tcps GET /v1/health $(as hostb) -H "Authorization: Bearer not-the-token-at-all"
check "a good certificate with a wrong token is refused" [ "$STATUS" = 401 ]

# --- a host acting for another peer -------------------------------------------
tcps POST /v1/reservations $(as hosta) -d "$(reservation j1 https://hostb:7480)"
check "hosta's certificate claiming peer hostb's URL is refused with 403" [ "$STATUS" = 403 ]
check "the 403 names the peer, the name it needs and the certificate's" json_is "$BODY" '.error.code + ": " + (.error.message | test("comes from peer .hostb., whose certificate must name hostb .*but the client certificate names hosta") | tostring)' "forbidden: true"
tcps POST /v1/reservations $(as hostb) -d "$(reservation j1 https://hostc:7480/)"
check "hostb's certificate claiming peer hostc is refused with 403" [ "$STATUS" = 403 ]
tcps POST /v1/reservations $(as hostb) -d "$(reservation j1 https://elsewhere:7480)"
check "hostb's certificate claiming a source that is no peer is refused with 403" [ "$STATUS" = 403 ]
check "the 403 says the certificate is hostb's" json_is "$BODY" '.error.message | test("the client certificate is the one of peer .hostb. .*does not come from it")' true
tcps POST /v1/reservations $(as hostb) \
    -d '{"job":"j9","domain":"vm-j9","source":"some-host","strategy":"unplug","nics":[]}'
check "without a source_url (a wildcard tcp_listen), a source that names no peer is taken on its certificate" [ "$STATUS" = 201 ]
tcps POST /v1/reservations $(as hostb) \
    -d '{"job":"j8","domain":"vm-j8","source":"hostc","strategy":"unplug","nics":[]}'
check "but one that names another peer is refused (403)" [ "$STATUS" = 403 ]
api DELETE /v1/reservations/j9
api GET /v1/reservations
check "the refused reservations left nothing behind" json_is "$BODY" '.reservations | length' 0
tcps POST /v1/reservations $(as hostb) -d "$(reservation j1 https://hostb:7480)"
check "hostb's certificate reserves as hostb (201)" [ "$STATUS" = 201 ]
tcps POST /v1/reservations/j1/renew $(as hosta)
check "hosta's certificate cannot renew hostb's reservation (403)" [ "$STATUS" = 403 ]
tcps DELETE /v1/reservations/j1 $(as hosta)
check "nor release it (403)" [ "$STATUS" = 403 ]
check "the 403 names the reservation" json_is "$BODY" '.error.message | test("reservation j1 .*comes from peer .hostb.")' true
tcps DELETE /v1/reservations/j1 $(as hostb)
check "hostb's certificate releases it" [ "$STATUS" = 200 ]

# --- the token, weaker: any host that holds it may act for any peer ------------
tcps GET /v1/health -H "Authorization: Bearer $token"
check "the token alone reads over TLS" [ "$STATUS" = 200 ]
tcps POST /v1/reservations -H "Authorization: Bearer $token" -d "$(reservation j2 https://hostb:7480)"
check "the token alone reserves, for whichever peer it names" [ "$STATUS" = 201 ]
tcps DELETE /v1/reservations/j2 -H "Authorization: Bearer $token"
check "and releases" [ "$STATUS" = 200 ]

# --- migctl over https --------------------------------------------------------
out=$("$MIGCTL" --url "https://127.0.0.1:$port" --cacert "$P/ca.pem" --cert "$P/hostb.pem" \
    --key "$P/hostb.key" -o json health); rc=$?
check "migctl --url https:// with --cacert, --cert and --key reads health" json_is "$out" .status ok
out=$(MIGCTL_URL="https://127.0.0.1:$port" MIGCTL_CACERT="$P/ca.pem" MIGCTL_CERT="$P/hostb.pem" \
    MIGCTL_KEY="$P/hostb.key" "$MIGCTL" -o json health)
check "or with MIGCTL_CACERT, MIGCTL_CERT and MIGCTL_KEY" json_is "$out" .status ok
out=$("$MIGCTL" --url "https://127.0.0.1:$port" --cacert "$P/ca.pem" health 2>&1); rc=$?
check "migctl without a client certificate is refused: exit 1" [ $rc -eq 1 ]
check "and says so" grep -q "client certificate signed by tls_ca" <<<"$out"
out=$("$MIGCTL" --url "https://127.0.0.1:$port" --cert "$P/hostb.pem" --key "$P/hostb.key" \
    health 2>&1); rc=$?
check "migctl that does not trust migd's CA does not talk to it: exit 3" [ $rc -eq 3 ]
check "and says the certificate did not verify, and what to pass" grep -q "certificate.*--cacert" <<<"$out"
out=$("$MIGCTL" --url "https://127.0.0.1:$port" --cert "$P/hostb.pem" health 2>&1); rc=$?
check "--cert without --key is a usage error (exit 2)" bash -c "[ $rc -eq 2 ] && grep -q -- '--key' <<<\"\$1\"" _ "$out"

# --- SIGHUP -------------------------------------------------------------------
served_serial() {
    openssl s_client -connect "127.0.0.1:$port" -CAfile "$P/ca.pem" </dev/null 2>/dev/null |
        openssl x509 -noout -serial
}
old_serial=$(serial_of "$P/hosta.pem")
cp "$P/hosta.pem" "$P/hosta.pem.good"
echo "not a certificate" > "$P/hosta.pem"
offset=$(file_size "$T/migd.log")
reload
check "a broken tls_cert is refused on SIGHUP, and the log says why" \
    wait_log "$T/migd.log" "$offset" "reload refused, the running configuration is kept: tls_cert $P/hosta.pem is not a PEM certificate chain" 1
check "new connections still get the old certificate" [ "$(served_serial)" = "$old_serial" ]
tcps GET /v1/health $(as hostb)
check "and are served" [ "$STATUS" = 200 ]

cp "$P/hosta.pem.good" "$P/hosta.pem"
sed "s|^tls_key = .*|tls_key = $P/hostb.key|" "$T/migd.conf" > "$T/mismatch.conf"
cp "$T/migd.conf" "$T/migd.conf.good"
cp "$T/mismatch.conf" "$T/migd.conf"
offset=$(file_size "$T/migd.log")
reload
check "a tls_key that is not the certificate's is refused" \
    wait_log "$T/migd.log" "$offset" "tls_key $P/hostb.key is not the key of the certificate in tls_cert" 1
cp "$T/migd.conf.good" "$T/migd.conf"

openssl x509 -req -in "$P/hosta.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial \
    -out "$P/hosta.pem" -days -1 -extfile "$P/hosta.ext" 2>/dev/null
offset=$(file_size "$T/migd.log")
reload
check "an expired tls_cert is refused" wait_log "$T/migd.log" "$offset" "tls_cert $P/hosta.pem expired on" 1

tls_make_host "$P" ca hosta 30 127.0.0.1
new_serial=$(serial_of "$P/hosta.pem")
offset=$(file_size "$T/migd.log")
reload
check "a good new certificate is taken on SIGHUP" \
    wait_log "$T/migd.log" "$offset" "certificate is reloaded" 1
check "new connections get it" [ "$(served_serial)" = "$new_serial" ]
tcps GET /v1/health $(as hostb)
check "and are served" [ "$STATUS" = 200 ]

# --- the peer client ----------------------------------------------------------
# This migd is its own source ([peer.self], cert_name hosta: its own
# certificate), and no token is set: after a restart it asks itself over
# HTTPS about a reservation's job, verifying its certificate against tls_ca
# and presenting its own, and releases the reservation when the job is
# unknown. Without the certificate the answer would be a 401, and the
# reservation kept.
stop_migd
rm -rf "$T/state"
self="https://127.0.0.1:$port"
write_conf "$T/migd.conf" "tcp_listen=127.0.0.1:$port" \
    "tls_cert=$P/hosta.pem" "tls_key=$P/hosta.key" "tls_ca=$P/ca.pem"
printf '\n[peer.self]\nlibvirt_uri = test:///default\nmigd_url = %s\ncert_name = hosta\n' "$self" >> "$T/migd.conf"
start_migd "$T/migd.conf" || { not_ok "migd starts as its own peer"; tap_finish; }
tcps POST /v1/reservations $(as hosta) -d "$(reservation gone-1 "$self")"
check "a reservation from [peer.self], with its certificate" [ "$STATUS" = 201 ]
stop_migd
offset=$(file_size "$T/migd.log")
start_migd "$T/migd.conf" || { not_ok "migd starts again"; tap_finish; }
check "after a restart it asks its source over HTTPS with its certificate, and releases the reservation" \
    wait_log "$T/migd.log" "$offset" "Released the reservation of job gone-1 \\(vm-gone-1\\): its job is unknown on its source $self" 20
check "its own API let it read (404, not 401): the certificate was its credential" \
    bash -c "tail -c +$((offset + 1)) '$T/migd.log' | grep -q 'GET /v1/migrations/gone-1 from 127.0.0.1:[0-9]* -> 404'"

# --- the configuration --------------------------------------------------------
write_conf "$T/bad.conf" "tls_cert=$P/hosta.pem"
out=$("$MIGD" -n -c "$T/bad.conf" 2>&1)
check "tls_cert without tls_key is refused" grep -q "tls_cert is set but tls_key is not" <<<"$out"
write_conf "$T/bad.conf" "tls_cert=$P/hosta.pem" "tls_key=$P/hostb.key"
out=$("$MIGD" -n -c "$T/bad.conf" 2>&1)
check "migd -n checks the key against the certificate" grep -q "is not the key of the certificate" <<<"$out"
write_conf "$T/bad.conf" "tcp_read=sometimes"
out=$("$MIGD" -n -c "$T/bad.conf" 2>&1)
check "tcp_read takes authenticated or open" grep -q "'sometimes' is not a tcp_read setting" <<<"$out"

check "migd is still up" kill -0 "$MIGD_PID"
stop_migd
tap_finish
