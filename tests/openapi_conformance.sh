#!/usr/bin/env bash
# The running portable component against its own OpenAPI document, with schemathesis:
# every operation fuzzed (schema-valid and schema-violating requests, and stateful
# sequences through the document's links) on a fresh data directory. Fails on any 5xx,
# any status, header, content type or body the document does not allow, and any
# schema-violating request that is accepted.
#
# Every check runs; tests/schemathesis.toml lets positive_data_acceptance take 412 for
# a well-formed but stale entity tag, which is the right answer to it.
#
# Usage: tests/openapi_conformance.sh ST WASMTIME [MAX_EXAMPLES] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
ST=$1
WASMTIME=$2
MAX_EXAMPLES=${3:-50}
SEED=${4:-1}
WASM=target/portable/wasm32-wasip2/release/todo_api.wasm
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
work=$(mktemp -d)
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/data"
"$WASMTIME" serve -S cli --addr "127.0.0.1:$PORT" --dir "$work/data::/data" "$WASM" \
    >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 200); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
    sleep 0.05
done
status=0
"$ST" --config-file tests/schemathesis.toml run "http://127.0.0.1:$PORT/openapi.json" \
    --checks all \
    --max-examples "$MAX_EXAMPLES" --seed "$SEED" \
    --generation-database none --no-color --report-dir "$work/report" || status=$?
if grep -q "panicked\|wasm trap" "$work/server.log"; then
    echo "the component panicked or trapped:" >&2
    grep -m 5 "panicked\|wasm trap" "$work/server.log" >&2
    status=1
fi
exit "$status"
