#!/bin/bash
# docs/openapi.json against the server: migd serves it at GET /v1/openapi.json,
# and every answer the other API tests received (recorded by lib.sh in
# MIGD_API_RECORD) is validated against it with ajv (tests/openapi/), so the
# description cannot drift from migd. Runs after the other API tests
# (tests/Makefile.am). Needs npm: ajv is installed from the npm registry,
# once, into a cache folder (MIGD_NPM_DIR, default ~/.cache/migd/openapi-check).
. "$(dirname "$0")/lib.sh"
: "${MIGD_API_RECORD:?run through make check, or set MIGD_API_RECORD to the folder of the recorded answers}"

openapi=$TOP_SRCDIR/docs/openapi.json
npm_dir=${MIGD_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/migd/openapi-check}

write_conf "$T/migd.conf"
start_migd "$T/migd.conf" || { not_ok "migd starts"; tap_finish; }
api GET /v1/openapi.json
check "GET /v1/openapi.json answers 200" [ "$STATUS" = 200 ]
check "GET /v1/openapi.json is docs/openapi.json" \
    cmp -s <(jq -S . "$T/body" 2>/dev/null) <(jq -S . "$openapi")
# The endpoints no other API test reaches (they need a migration or a
# reservation under way), on an ID migd does not know: recorded and
# validated below like every other answer.
unknown=00000000-0000-4000-8000-000000000000
for request in "POST /v1/migrations/$unknown/cancel" "POST /v1/migrations/$unknown/force-complete" \
    "GET /v1/migrations/$unknown/events" "POST /v1/reservations/$unknown/renew" \
    "POST /v1/reservations/$unknown/switchover" "POST /v1/reservations/$unknown/resume"; do
    api $request
    check "$request of an unknown ID: 404 not_found" json_is "$BODY" .error.code not_found
done
stop_migd TERM
check "migd stops cleanly" [ $? -eq 0 ]

# ajv and ajv-formats at the versions package-lock.json pins.
if ! npm_install "$npm_dir" "$TOP_SRCDIR/tests/openapi"; then
    not_ok "npm ci installs ajv into $npm_dir (the npm registry must be reachable)"
    diag "$T/npm.log"
    tap_finish
fi
ok "ajv is installed in $npm_dir"

records=("$MIGD_API_RECORD"/*.jsonl)
check "the other API tests recorded their answers in $MIGD_API_RECORD" [ -s "${records[0]}" ]
if NODE_PATH=$npm_dir/node_modules node "$TOP_SRCDIR/tests/openapi/validate.js" "$openapi" \
    "${records[@]}" > "$T/validate.out" 2>&1; then
    ok "every recorded answer matches docs/openapi.json: $(tail -n 1 "$T/validate.out")"
else
    not_ok "every recorded answer matches docs/openapi.json"
    diag "$T/validate.out"
fi

tap_finish
