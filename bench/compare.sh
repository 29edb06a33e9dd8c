#!/usr/bin/env bash
# Side by side: components served one after another by wasmtime serve (make serve's
# flags unless FLAGS says otherwise), each loaded with wrk (8 connections) for a few seconds, ROUNDS times in
# turn so that drift on the machine hits all of them alike; prints the median req/s and
# p50 of each. How the changes in README "Performance" were measured against each other.
#
#   bench/compare.sh ROUNDS LABEL=WASM:PATH [LABEL=WASM:PATH ...]
#   e.g. bench/compare.sh 5 floor=target/bench/wasm32-wasip2/release/floor_wasi.wasm:/ \
#            todo=target/portable/wasm32-wasip2/release/todo_api.wasm:/todos/1
#
# Each server gets a fresh data directory holding one todo (created by POST before the
# load). WASMTIME picks the wasmtime CLI (default: the one make installs); SECONDS_EACH
# the length of each load (default 3); FLAGS the wasmtime flags (default: make serve's;
# FLAGS= for wasmtime's own defaults).
set -euo pipefail

rounds=$1
shift
wasmtime=${WASMTIME:-$(dirname "$0")/../.tools/wasmtime-49.0.4/wasmtime_cli/wasmtime}
seconds=${SECONDS_EACH:-3}
flags=${FLAGS-"-O pooling-allocator=y -O pooling-memory-keep-resident=4194304 -O pooling-table-keep-resident=65536 -O memory-init-cow=n"}
declare -A rates latencies

one_run() {
    local wasm=$1 path=$2 data port server
    data=$(mktemp -d)
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    # Without RUST_BACKTRACE, as deployed: with it, wasmtime captures backtraces per request.
    # shellcheck disable=SC2086 # flags are words
    env -u RUST_BACKTRACE "$wasmtime" serve -S cli --addr "127.0.0.1:$port" $flags \
        --dir "$data::/data" "$wasm" >/dev/null 2>&1 &
    server=$!
    for _ in $(seq 200); do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && break
        sleep 0.05
    done
    curl -s -o /dev/null -X POST -H 'content-type: application/json' \
        -d '{"title":"Walk the dog"}' "http://127.0.0.1:$port/todos"
    wrk -t2 -c8 -d"${seconds}s" --latency "http://127.0.0.1:$port$path" |
        awk '/Requests\/sec/ {rps=$2}
             /^ +50%/ {v=$2; if (v ~ /ms$/) {sub("ms","",v); v*=1000} else if (v ~ /us$/) sub("us","",v); else {sub("s","",v); v*=1e6}; p50=v}
             END {print rps, p50}'
    kill "$server"
    wait "$server" 2>/dev/null || true
    rm -rf "$data"
}

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for _ in $(seq "$rounds"); do
    for spec in "$@"; do
        label=${spec%%=*}
        target=${spec#*=}
        read -r rps p50 < <(one_run "${target%:*}" "${target##*:}")
        rates[$label]="${rates[$label]:-} $rps"
        latencies[$label]="${latencies[$label]:-} $p50"
    done
done

printf '%-16s %12s %10s   %s\n' label "req/s (med)" "p50 µs" "req/s of each round"
for spec in "$@"; do
    label=${spec%%=*}
    printf '%-16s %12s %10s  %s\n' "$label" "$(echo "${rates[$label]}" | median)" \
        "$(echo "${latencies[$label]}" | median)" "${rates[$label]}"
done
