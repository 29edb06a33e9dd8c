#!/usr/bin/env bash
# A private PostgreSQL server for the tests: its own data directory under target/, a free
# port on 127.0.0.1, run as the `postgres` user (PostgreSQL refuses to run as root).
#
# tests/postgres.sh start   installs PostgreSQL from Debian's packages where it is
#                           missing, starts the server, prints TODO_TEST_POSTGRES_URL=...
# tests/postgres.sh stop    stops it and removes its data directory
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="$PWD/target/postgres"
case "${1:-}" in
start)
    if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    fi
    BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
    if [ -f "$DATA/postmaster.pid" ]; then
        as_postgres "$BIN/pg_ctl" -D "$DATA" stop -m immediate >&2 || true
    fi
    rm -rf "$DATA"
    mkdir -p "$DATA"
    [ "$(id -u)" = 0 ] && chown postgres "$DATA"
    as_postgres "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_postgres "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c max_connections=200 -c fsync=on" start >&2
    echo "TODO_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
    ;;
stop)
    BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$BIN" ] && [ -f "$DATA/postmaster.pid" ]; then
        if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$BIN/pg_ctl" -D "$DATA" stop -m fast >&2
        else "$BIN/pg_ctl" -D "$DATA" stop -m fast >&2; fi
    fi
    rm -rf "$DATA"
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
