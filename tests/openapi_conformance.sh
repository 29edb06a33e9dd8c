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
# Run twice: as the shared list, and in owner mode (every request an admin's token).
#
# Usage: tests/openapi_conformance.sh ST WASMTIME [MAX_EXAMPLES] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
ST=$1
WASMTIME=$2
MAX_EXAMPLES=${3:-50}
SEED=${4:-1}
WASM=target/portable/wasm32-wasip2/release/todo_api.wasm
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# conform NAME [AUTHORIZATION] -- [TODO_SETTING=VALUE ...]: one server on a fresh data
# directory with those settings, schemathesis against it (every request with the given
# Authorization header, where one is given).
conform() {
    local name=$1 authorization=$2
    shift 2
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir "$work/$name"
    local settings=()
    for setting in "$@"; do settings+=(--env "$setting"); done
    "$WASMTIME" serve -S cli --addr "127.0.0.1:$port" --dir "$work/$name::/data" \
        ${settings[@]+"${settings[@]}"} "$WASM" >"$work/$name.log" 2>&1 &
    local server=$!
    for _ in $(seq 200); do
        curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
        sleep 0.05
    done
    local headers=()
    if [ -n "$authorization" ]; then headers=(--header "Authorization: $authorization"); fi
    local status=0
    "$ST" --config-file tests/schemathesis.toml run "http://127.0.0.1:$port/openapi.json" \
        --checks all ${headers[@]+"${headers[@]}"} \
        --max-examples "$MAX_EXAMPLES" --seed "$SEED" \
        --generation-database none --no-color --report-dir "$work/$name-report" || status=$?
    if grep -q "panicked\|wasm trap" "$work/$name.log"; then
        echo "$name: the component panicked or trapped:" >&2
        grep -m 5 "panicked\|wasm trap" "$work/$name.log" >&2
        status=1
    fi
    kill "$server" 2>/dev/null || true
    return "$status"
}

status=0
# As make serve runs it by default: one shared list, no tokens.
conform shared "" || status=1
# Owner mode (jwt_owner_claim), every request an admin's, so that every schema-valid request
# (another owner's list with ?owner= too) may be accepted.
SECRET=openapi-conformance-secret-of-32-bytes+
TOKEN=$(python3 - "$SECRET" <<'PY'
import base64, hashlib, hmac, json, sys, time
def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=")
signing = b64(json.dumps({"alg": "HS256"}).encode()) + b"." + b64(json.dumps(
    {"sub": "conformance", "scope": "todos:admin", "exp": int(time.time()) + 3600}).encode())
print((signing + b"." + b64(hmac.new(sys.argv[1].encode(), signing, hashlib.sha256).digest())).decode())
PY
)
conform owners "Bearer $TOKEN" TODO_JWT_HS256_SECRET="$SECRET" TODO_JWT_OWNER_CLAIM=sub \
    TODO_JWT_ADMIN_SCOPE=todos:admin || status=1
exit "$status"
