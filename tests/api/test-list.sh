#!/bin/bash
# GET /v1/migrations in pages, against a real migd that loaded 25 finished
# records (copies of a real lab migration's): limit, the "after" cursor and
# "next", the filters kept from page to page, and clear refusals of a bad
# limit or a cursor that names no migration.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")

write_conf "$T/migd.conf"
mapfile -t ids < <("$here/../tools/make-records" "$here/../data/records/completed.json" \
    "$T/state" 25 5)
check "25 records are made" [ "${#ids[@]}" = 25 ]
start_migd "$T/migd.conf" || { not_ok "migd starts"; tap_finish; }

# ids_are JSON EXPECTED-INDEXES...: the page lists exactly those records.
ids_are() {
    local body=$1 want="" i
    shift
    for i in "$@"; do want+="${ids[$i]} "; done
    json_is "$body" '[.migrations[].id] | join(" ") + " "' "${want:- }"
}

api GET /v1/migrations
check "without a limit every record is listed, oldest first" \
    ids_are "$BODY" $(seq 0 24)
check "... and next is null" json_is "$BODY" '.next' null

api GET '/v1/migrations?limit=10'
check "limit=10 lists the first 10" ids_are "$BODY" $(seq 0 9)
check "... and next names the 10th" json_is "$BODY" '.next' "${ids[9]}"
api GET "/v1/migrations?limit=10&after=${ids[9]}"
check "after=next lists the next 10" ids_are "$BODY" $(seq 10 19)
api GET "/v1/migrations?limit=10&after=${ids[19]}"
check "the last page holds the 5 left" ids_are "$BODY" $(seq 20 24)
check "... and its next is null" json_is "$BODY" '.next' null
api GET "/v1/migrations?limit=5&after=${ids[19]}"
check "a page that ends exactly at the end says next null" json_is "$BODY" '.next' null

# The filters hold across pages; the cursor may name a job they exclude.
api GET '/v1/migrations?domain=vm-1&limit=2'
check "domain=vm-1&limit=2: its first two" ids_are "$BODY" 1 6
check "... next is the second" json_is "$BODY" '.next' "${ids[6]}"
api GET "/v1/migrations?domain=vm-1&limit=2&after=${ids[6]}"
check "the next page keeps the filter" ids_are "$BODY" 11 16
api GET "/v1/migrations?domain=vm-1&limit=2&after=${ids[16]}"
check "and the last holds one" ids_are "$BODY" 21
check "... next null" json_is "$BODY" .next null
api GET "/v1/migrations?domain=vm-1&after=${ids[2]}&state=completed"
check "a cursor on another domain's job starts after it" ids_are "$BODY" 6 11 16 21
api GET '/v1/migrations?state=failed&limit=3'
check "a filter nothing matches: an empty page, next null" \
    json_is "$BODY" '(.migrations | length | tostring) + " " + (.next | tostring)' "0 null"

# refused PATTERN: the last answer is a 400 invalid_argument whose message
# matches PATTERN (a jq regex).
refused() {
    [ "$STATUS" = 400 ] && json_is "$BODY" .error.code invalid_argument &&
        json_is "$BODY" "(.error.message | test(\"$1\"))" true
}

for bad in 0 1001 ten -1 '5%20'; do
    api GET "/v1/migrations?limit=$bad"
    check "limit=$bad is refused with 400 naming the limit" refused '^limit .* from 1 to 1000'
done
api GET '/v1/migrations?after=00000000-0000-0000-0000-000000000000'
check "an after that names no migration is refused with 400 saying so" refused 'names no migration'

tap_finish
