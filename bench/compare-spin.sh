#!/usr/bin/env bash
# Side by side on the Spin-faithful host (tests/spin-host, built by make bench-build):
# Spin applications served one after another, each loaded with wrk for a few seconds,
# ROUNDS times in turn so that drift on the machine hits all of them alike; prints the
# median req/s at 8 connections and the median p50 on one connection of each.
#
#   bench/compare-spin.sh ROUNDS LABEL=MANIFEST:WASM:PATH [...]
#   e.g. bench/compare-spin.sh 5 todo=spin.toml:target/spin/wasm32-wasip2/release/todo_api.wasm:/todos/1 \
#            peer=bench/peer-spin-sqlite/spin.toml:-:/todos/1
#
# WASM `-` serves the manifest's own source. Each server gets a fresh SQLite file holding
# 100 todos in the todo component's table (bench/run.py's seed_sqlite; the todo build
# migrates it to its current schema on its first list, other components read it as it is);
# SEED_DB=FILE copies FILE instead. SECONDS_EACH: the length of each load (default 3).
set -euo pipefail

rounds=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)
host=${SPIN_HOST:-$root/target/bench/host/spin-host}
seconds=${SECONDS_EACH:-3}
declare -A rates latencies

p50_us='/^ +50%/ {v=$2; if (v ~ /ms$/) {sub("ms","",v); v*=1000} else if (v ~ /us$/) sub("us","",v); else {sub("s","",v); v*=1e6}; print v}'

one_run() {
    local manifest=$1 wasm=$2 path=$3 data port server source=()
    data=$(mktemp -d)
    if [ -n "${SEED_DB:-}" ]; then
        cp "$SEED_DB" "$data/sqlite_db.db"
    else
        python3 -c "import sys; sys.path.insert(0, '$root/bench'); import run; run.seed_sqlite('$data/sqlite_db.db', 100)"
    fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    [ "$wasm" != "-" ] && source=(--source "$wasm")
    env -u RUST_BACKTRACE "$host" --listen "127.0.0.1:$port" --manifest "$manifest" \
        --sqlite-file "$data/sqlite_db.db" "${source[@]}" >/dev/null 2>&1 &
    server=$!
    for _ in $(seq 200); do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && break
        sleep 0.05
    done
    curl -s -o /dev/null "http://127.0.0.1:$port/todos"
    local rps p50
    rps=$(wrk -t2 -c8 -d"${seconds}s" "http://127.0.0.1:$port$path" | awk '/Requests\/sec/ {print $2}')
    p50=$(wrk -t1 -c1 -d"${seconds}s" --latency "http://127.0.0.1:$port$path" | awk "$p50_us")
    echo "$rps $p50"
    kill "$server"
    wait "$server" 2>/dev/null || true
    rm -rf "$data"
}

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for _ in $(seq "$rounds"); do
    for spec in "$@"; do
        label=${spec%%=*}
        IFS=: read -r manifest wasm path <<<"${spec#*=}"
        read -r rps p50 < <(one_run "$manifest" "$wasm" "$path")
        rates[$label]="${rates[$label]:-} $rps"
        latencies[$label]="${latencies[$label]:-} $p50"
    done
done

printf '%-16s %14s %14s   %s\n' label "req/s c=8 (med)" "p50 µs c=1" "req/s of each round"
for spec in "$@"; do
    label=${spec%%=*}
    printf '%-16s %14s %14s  %s\n' "$label" "$(echo "${rates[$label]}" | median)" \
        "$(echo "${latencies[$label]}" | median)" "${rates[$label]}"
done
