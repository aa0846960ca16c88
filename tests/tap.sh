# TAP helpers shared by the shell tests (tests/api, tests/lab): one line a
# check, a plan at the end, and waits that end on an event, not a sleep.
tap_count=0
tap_failed=0

ok() {
    tap_count=$((tap_count + 1))
    echo "ok $tap_count - $*"
}

not_ok() {
    tap_count=$((tap_count + 1))
    tap_failed=$((tap_failed + 1))
    echo "not ok $tap_count - $*"
}

# check DESCRIPTION COMMAND...: one TAP line for whether COMMAND succeeds.
check() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# The plan, and "N passed, N failed" for tests/run-all; exits accordingly.
tap_finish() {
    echo "1..$tap_count"
    echo "$((tap_count - tap_failed)) passed, $tap_failed failed"
    [ "$tap_failed" -eq 0 ]
    exit $?
}

# json_is JSON FILTER EXPECTED: jq's FILTER of JSON prints EXPECTED.
json_is() {
    local got
    got=$(printf '%s' "$1" | jq -r "$2" 2>/dev/null)
    if [ "$got" != "$3" ]; then
        echo "# $2 is '$got', expected '$3' in: $1"
        return 1
    fi
}

file_size() {
    stat -c %s "$1" 2>/dev/null || echo 0
}

# wait_log FILE OFFSET PATTERN SECONDS: waits until a line matching the
# extended regex PATTERN is written to FILE after byte OFFSET (take it with
# file_size before causing the event), for at most SECONDS.
wait_log() {
    local fd pid rc
    exec {fd}< <(exec timeout "$4" tail -c +"$(($2 + 1))" -F "$1" 2>/dev/null)
    pid=$!
    grep -E -m1 -q -- "$3" <&"$fd"
    rc=$?
    kill "$pid" 2>/dev/null
    exec {fd}<&-
    return $rc
}
