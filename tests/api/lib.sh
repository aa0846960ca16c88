# Shared by the API tests: TAP output, a scratch folder, and a migd started
# the way systemd starts it (NOTIFY_SOCKET), waited for by its READY=1.
# Needs MIGD, MIGCTL and SD_RECV (set by `make check`).
set -u

: "${MIGD:?run through make check, or set MIGD to the migd binary}"
: "${SD_RECV:?run through make check, or set SD_RECV to tests/tools/sd-recv}"

. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"

T=$(mktemp -d /tmp/migd-test.XXXXXX)
MIGD_PID=

diag() {
    sed 's/^/# /' "$@" 2>/dev/null || true
}

cleanup() {
    if [ -n "$MIGD_PID" ] && kill -0 "$MIGD_PID" 2>/dev/null; then
        kill -KILL "$MIGD_PID" 2>/dev/null || true
    fi
    rm -rf "$T"
}
trap cleanup EXIT

# write_conf FILE [KEY=VALUE...]: a [daemon] config on the test driver.
write_conf() {
    local file=$1
    shift
    {
        echo "[daemon]"
        echo "libvirt_uri = test:///default"
        echo "unix_socket = $T/migd.sock"
        echo "state_dir = $T/state"
        echo "log_level = debug"
        for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
    } > "$file"
}

# reload: SIGHUP to migd ($MIGD_PID), then waits for its log to say
# whether the configuration was reloaded or the reload refused.
reload() {
    local offset
    offset=$(file_size "$T/migd.log")
    kill -HUP "$MIGD_PID"
    wait_log "$T/migd.log" "$offset" "Configuration (reloaded|reload refused)" 20
}

# start_migd CONF [ENV=VALUE...]: starts migd and waits for READY=1 (or
# for UNTIL, when set). Sets MIGD_PID; migd's stderr goes to $T/migd.log.
start_migd() {
    local conf=$1
    shift
    start_notified env "$@" "$MIGD" --config "$conf"
}

# start_notified COMMAND...: runs COMMAND (which becomes migd) with a
# NOTIFY_SOCKET and waits for UNTIL (default READY=1). Sets MIGD_PID.
start_notified() {
    local status
    rm -f "$T/ready"
    mkfifo "$T/ready"
    exec 7<>"$T/ready"
    "$SD_RECV" --report "$T/ready" --until "${UNTIL:-READY=1}" --timeout 20 \
        --log "$T/notify.log" -- "$@" >>"$T/migd.log" 2>&1 &
    MIGD_PID=$!
    if ! read -r -t 30 -u 7 status || [ "$status" != ok ]; then
        echo "# migd did not become ready: ${status:-no report}"
        diag "$T/migd.log"
        return 1
    fi
}

# stop_migd [SIGNAL]: signals migd and returns its exit status.
stop_migd() {
    local rc=0
    kill -"${1:-TERM}" "$MIGD_PID"
    wait "$MIGD_PID" || rc=$?
    MIGD_PID=
    return $rc
}

# api METHOD PATH [CURL-ARGS...]: one request on the unix socket; sets
# STATUS (the HTTP code) and BODY, and HEADERS when CURL-ARGS has -i.
api() {
    local method=$1 path=$2
    shift 2
    STATUS=$(curl -s -S --max-time 10 --unix-socket "$T/migd.sock" -X "$method" \
        -o "$T/body" -D "$T/headers" -w '%{http_code}' "$@" "http://localhost$path")
    BODY=$(cat "$T/body")
    HEADERS=$(cat "$T/headers")
    record_response "$method" "$path"
}

# With MIGD_API_RECORD set (make check sets it to a folder), every answer
# api() receives is kept as a line of JSON in a file for this script, for
# test-openapi.sh to validate against docs/openapi.json.
MIGD_API_RECORD_FILE=
if [ -n "${MIGD_API_RECORD:-}" ]; then
    mkdir -p "$MIGD_API_RECORD"
    MIGD_API_RECORD_FILE=$MIGD_API_RECORD/$(basename "$0" .sh).jsonl
    : > "$MIGD_API_RECORD_FILE"
fi

# record_response METHOD PATH: the answer in $STATUS, $T/headers and $T/body.
record_response() {
    [ -n "$MIGD_API_RECORD_FILE" ] || return 0
    local type
    type=$(sed -n 's/^[Cc]ontent-[Tt]ype: *\([^;[:space:]]*\).*/\1/p' "$T/headers" | tail -n 1)
    jq -nc --arg method "$1" --arg path "$2" --argjson status "$STATUS" --arg type "$type" \
        --rawfile body "$T/body" --arg script "$(basename "$0")" \
        '{script: $script, method: $method, path: $path, status: $status, content_type: $type, body: $body}' \
        >> "$MIGD_API_RECORD_FILE"
}

# npm_install FOLDER DIR: DIR's pinned npm packages in FOLDER (tests/tools/
# npm-cached); npm's output goes to $T/npm.log.
npm_install() {
    "$(dirname "${BASH_SOURCE[0]}")/../tools/npm-cached" "$2" "$1" > "$T/npm.log" 2>&1
}
