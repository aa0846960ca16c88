# Shared by tests/bench/api and tests/bench/scale (benchmarks that print
# figures, run by hand, not by run-all): the built migd, a scratch folder
# removed at the end, migd started with N finished job records and timed to
# READY=1, and what wrk and /proc say. Needs tests/install-deps and
# tests/build (or BUILD_DIR: a build folder of tests/build's layout).
set -euo pipefail

bench=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$bench/../.." && pwd)
build=${BUILD_DIR:-$top/build}
migd=$build/daemon/migd
template=$top/tests/data/records/completed.json

for tool in "$migd" "$(command -v wrk || true)" "$(command -v curl || true)" \
    "$(command -v jq || true)" "$(command -v python3 || true)"; do
    if [[ ! -x $tool ]]; then
        echo "$(basename "$0"): ${tool:-wrk, curl, jq or python3} is missing: run tests/install-deps" \
            "and tests/build first (or set BUILD_DIR to the build folder)" >&2
        exit 1
    fi
done

T=$(mktemp -d /tmp/migd-bench.XXXXXX)
chmod 755 "$T"      # nginx's worker reads its files as nobody
PIDS=()

bench_cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$T"
}
trap bench_cleanup EXIT

# free_port: a TCP port of 127.0.0.1 that nothing listens on now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# migd_conf DIR PORT [LINES...]: DIR/migd.conf for a migd on the test
# driver, its state in DIR/state, TCP on PORT readable without a
# credential, logging at info (a debug line per request would be part of
# what is measured).
migd_conf() {
    local dir=$1 port=$2
    shift 2
    mkdir -p "$dir"
    {
        echo "[daemon]"
        echo "libvirt_uri = test:///default"
        echo "unix_socket = $dir/migd.sock"
        echo "state_dir = $dir/state"
        echo "tcp_listen = 127.0.0.1:$port"
        echo "log_level = info"
        # wrk and curl read over TCP without a credential, as a monitoring
        # system configured for it would (the default, authenticated, is a 401).
        echo "tcp_read = open"
        printf '%s\n' "$@"
    } > "$dir/migd.conf"
}

# make_records DIR COUNT: COUNT finished records in DIR/state (their ids,
# oldest first, in DIR/ids).
make_records() {
    "$top/tests/tools/make-records" "$template" "$1/state" "$2" > "$1/ids"
}

# start_migd DIR: starts migd on DIR/migd.conf; sets MIGD_PID and READY_MS
# (from exec to READY=1).
start_migd() {
    local out
    out=$("$bench/start-notified" "$1/migd.log" "$migd" --config "$1/migd.conf") || {
        tail -n 20 "$1/migd.log" >&2
        exit 1
    }
    read -r MIGD_PID READY_MS <<<"$out"
    PIDS+=("$MIGD_PID")
}

# stop_pid PID: TERM, and waits for it to go.
stop_pid() {
    kill -TERM "$1" 2>/dev/null || return 0
    for _ in $(seq 100); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null || true
}

# rss_mib PID: its resident memory, MiB.
rss_mib() {
    awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

# run_wrk OUT URL [WRK-ARGS...]: wrk -t1 -c16 -d5s --latency (BENCH_SECONDS
# changes the 5), its report in OUT.
run_wrk() {
    local out=$1 url=$2
    shift 2
    wrk -t1 -c"${BENCH_CONNECTIONS:-16}" -d"${BENCH_SECONDS:-5}s" --latency "$@" "$url" > "$out"
    if grep -q 'Non-2xx' "$out"; then
        echo "$(basename "$0"): $url answered errors under load:" >&2
        cat "$out" >&2
        exit 1
    fi
}

# wrk_rate OUT: requests per second; wrk_ms OUT PERCENT: that percentile of
# the latency in ms (PERCENT is 50, 75, 90 or 99).
wrk_rate() {
    awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$1"
}
wrk_ms() {
    awk -v p="$2%" '$1 == p {
        v = $2; unit = v; sub(/[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v)
        printf "%.3f", unit == "us" ? v / 1000 : unit == "s" ? v * 1000 : v
    }' "$1"
}

# median NUMBERS...
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# page_paths DIR PORT LIMIT [QUERY]: walks GET /v1/migrations page by page
# with curl, once, writing each page's path to DIR/pages; prints the
# slowest page's time in ms (this first walk serialises each record).
page_paths() {
    local dir=$1 port=$2 limit=$3 query=${4:-} path next slowest=0 ms
    path="/v1/migrations?limit=$limit$query"
    : > "$dir/pages"
    while :; do
        echo "$path" >> "$dir/pages"
        ms=$(curl -s -o "$dir/page.json" -w '%{time_total}' "http://127.0.0.1:$port$path" |
            awk '{ printf "%.3f", $1 * 1000 }')
        slowest=$(awk -v a="$slowest" -v b="$ms" 'BEGIN { print (b > a) ? b : a }')
        next=$(jq -r .next "$dir/page.json")
        [[ $next == null ]] && break
        path="/v1/migrations?limit=$limit$query&cursor=$next"
    done
    echo "$slowest"
}
