#!/bin/bash
# GET /v1/migrations in pages, against a real migd that loaded 120 finished
# records (copies of a real lab migration's): limit (100 by default), the
# cursor that "next" gives, the filters kept from page to page, a cursor
# that outlives its job, and clear refusals of a bad limit, a bad cursor or
# a parameter the list does not take.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")

write_conf "$T/migd.conf"
mapfile -t ids < <("$here/../tools/make-records" "$here/../data/records/completed.json" \
    "$T/state" 120 5)
check "120 records are made" [ "${#ids[@]}" = 120 ]
start_migd "$T/migd.conf" || { not_ok "migd starts"; tap_finish; }

# ids_are JSON EXPECTED-INDEXES...: the page lists exactly those records.
ids_are() {
    local body=$1 want="" i
    shift
    for i in "$@"; do want+="${ids[$i]} "; done
    json_is "$body" '[.migrations[].id] | join(" ") + " "' "${want:- }"
}

# next_of: the last answer's next.
next_of() {
    jq -r .next "$T/body"
}

api GET /v1/migrations
check "without a limit the first 100 records are listed, oldest first" \
    ids_are "$BODY" $(seq 0 99)
api GET "/v1/migrations?cursor=$(next_of)"
check "... and next is the cursor of the 20 left" ids_are "$BODY" $(seq 100 119)
check "... whose next is null" json_is "$BODY" '.next' null

api GET '/v1/migrations?limit=10'
check "limit=10 lists the first 10" ids_are "$BODY" $(seq 0 9)
next=$(next_of)
api GET "/v1/migrations?limit=10&cursor=$next"
check "cursor=next lists the next 10" ids_are "$BODY" $(seq 10 19)
api GET "/v1/migrations?limit=1000&cursor=$next"
check "limit=1000 from there lists the 110 left" ids_are "$BODY" $(seq 10 119)
check "... and its next is null" json_is "$BODY" '.next' null
api GET '/v1/migrations?limit=20'
api GET "/v1/migrations?limit=100&cursor=$(next_of)"
check "a page that ends exactly at the end says next null" json_is "$BODY" '.next' null

# The filters hold across pages.
api GET '/v1/migrations?domain=vm-1&limit=2'
check "domain=vm-1&limit=2: its first two" ids_are "$BODY" 1 6
api GET "/v1/migrations?domain=vm-1&limit=2&cursor=$(next_of)"
check "the next page keeps the filter" ids_are "$BODY" 11 16
api GET "/v1/migrations?domain=vm-1&limit=20&cursor=$(next_of)"
check "and the last holds the 20 left" ids_are "$BODY" $(seq 21 5 116)
check "... next null" json_is "$BODY" .next null
api GET '/v1/migrations?state=failed&limit=3'
check "a filter nothing matches: an empty page, next null" \
    json_is "$BODY" '(.migrations | length | tostring) + " " + (.next | tostring)' "0 null"

# migctl list follows the cursors (all 120 take a page of 100 and one of 20)
# and passes the filters.
ctl_ids=$("$MIGCTL" --socket "$T/migd.sock" -o json list --domain vm-1 | jq -r '.migrations[].id')
check "migctl list --domain vm-1 shows its 24 records, oldest first" \
    [ "$ctl_ids" = "$(printf '%s\n' "${ids[@]}" | awk 'NR % 5 == 2')" ]
check "migctl list shows all 120, across two pages" \
    [ "$("$MIGCTL" --socket "$T/migd.sock" list | grep -c ' vm-')" = 120 ]

# A cursor whose job has gone since (its record past its retention, here
# removed by hand while migd was stopped) still says where the page ends.
api GET '/v1/migrations?limit=10'
next=$(next_of)
stop_migd TERM
rm "$T/state/jobs/${ids[9]}.json"
start_migd "$T/migd.conf" || { not_ok "migd starts again"; tap_finish; }
api GET "/v1/migrations?limit=3&cursor=$next"
check "the cursor of a job that has gone lists the jobs after it" ids_are "$BODY" 10 11 12

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
for bad in '' xyz "${ids[3]}" 'ffffffffffffffff%2F..'; do
    api GET "/v1/migrations?cursor=$bad"
    check "cursor='$bad' is refused with 400 naming the cursor" refused "^cursor .* is not a cursor"
done
api GET "/v1/migrations?after=${ids[3]}"
check "a parameter the list does not take is refused, naming it" refused "no parameter 'after'"

tap_finish
