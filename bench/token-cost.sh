#!/usr/bin/env bash
# What a bearer token costs per request inside the component: GET /todos/1 under
# `wasmtime serve`, without tokens, with an HS256 token and with an ES256 token (reads
# protected), N requests each, one at a time. Reports the median and 90th percentile of the
# time the component itself logs for each request, so the HTTP client's and the host's own
# time are left out. Usage: bench/token-cost.sh [N]   (run `make build` first)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-300}
WASMTIME=${WASMTIME:-$(ls .tools/wasmtime-*/wasmtime_cli/wasmtime | head -n 1)}
WASM=target/portable/wasm32-wasip2/release/todo_api.wasm
SECRET=token-cost-secret-of-32-bytes-or-more
PORT=${PORT:-39123}
work=$(mktemp -d)
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

mint() { cargo run -q --example mint_token -- "$@"; }
HS=$(mint hs256 "$SECRET")
ES=$(mint es256 7 k1)
JWKS=$(mint jwks 7 k1)

serve() { # $1: log file; the rest: extra wasmtime flags
    local log=$1; shift
    mkdir -p "$work/data"
    "$WASMTIME" serve -S cli --addr "127.0.0.1:$PORT" --dir "$work/data::/data" "$@" "$WASM" \
        >"$log" 2>&1 &
    server=$!
    until curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz"; do sleep 0.05; done
}
stop() { kill "$server"; wait "$server" 2>/dev/null || true; }
get_many() { # $1: authorization header value, or empty
    for _ in $(seq "$N"); do
        if [ -n "$1" ]; then
            curl -s -o /dev/null -H "authorization: $1" "http://127.0.0.1:$PORT/todos/1"
        else
            curl -s -o /dev/null "http://127.0.0.1:$PORT/todos/1"
        fi
    done
}

serve "$work/none.log"
curl -s -o /dev/null -X POST -H 'content-type: application/json' -d '{"title":"a"}' \
    "http://127.0.0.1:$PORT/todos"
get_many ""
stop
serve "$work/tokens.log" --env TODO_JWT_HS256_SECRET="$SECRET" --env TODO_JWT_JWKS="$JWKS" \
    --env TODO_JWT_PROTECT_READS=true
get_many "Bearer $HS"
get_many "Bearer $ES"
stop

python3 - "$work/none.log" "$work/tokens.log" "$N" <<'PY'
import re, statistics, sys
def times(path):
    return [float(t) for t in re.findall(r"GET /todos/1 200 ([0-9.]+)ms", open(path).read())]
n = int(sys.argv[3])
none, tokens = times(sys.argv[1]), times(sys.argv[2])
runs = {"no token": none, "HS256": tokens[:n], "ES256": tokens[n:]}
base = statistics.median(none)
print("| GET /todos/1 | requests | median (ms) | p90 (ms) | median vs no token |")
print("|---|---|---|---|---|")
for name, xs in runs.items():
    assert len(xs) == n, f"{name}: {len(xs)} of {n} requests answered 200"
    xs = sorted(xs)
    median = statistics.median(xs)
    print(f"| {name} | {n} | {median:.3f} | {xs[int(n * 0.9)]:.3f} | {median / base:.2f}x |")
PY
