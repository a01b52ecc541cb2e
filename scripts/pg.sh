#!/usr/bin/env bash
# A throw-away PostgreSQL 15 server for the tests (and for a developer's ctest run):
#   scripts/pg.sh start    makes a cluster in a new temporary directory, starts it listening
#                          only on a Unix socket in that directory (listen_addresses='', so no
#                          TCP port is opened), creates the database fluxbot_test and prints
#                          the directory on line 1 and the URL on line 2
#                          (postgresql:///fluxbot_test?host=DIR&user=postgres)
#   scripts/pg.sh stop DIR stops that server and removes DIR
# The server refuses to run as root, and CI runs as root: then initdb, pg_ctl and the server
# run as the postgres system user (runuser), which owns DIR. As another user they run as that
# user. Authentication is trust on the socket only; the directory is 0700, so only its owner
# (and root) can reach it.
set -euo pipefail
pgbin=${FLUXBOT_PG_BIN:-/usr/lib/postgresql/15/bin}

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

case "${1:-}" in
start)
    dir=$(mktemp -d "${TMPDIR:-/tmp}/fluxbot-pg-XXXXXX")
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
    chmod 0700 "$dir"
    if ! as_owner "$pgbin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale \
        --no-sync >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        rm -rf "$dir"
        exit 1
    fi
    # fsync off: a test cluster is thrown away, durability buys nothing and costs the disk.
    if ! as_owner "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off -c max_connections=200" \
        start >/dev/null; then
        cat "$dir/server.log" >&2
        rm -rf "$dir"
        exit 1
    fi
    as_owner "$pgbin/createdb" -h "$dir" -U postgres fluxbot_test
    echo "$dir"
    echo "postgresql:///fluxbot_test?host=$dir&user=postgres"
    ;;
stop)
    dir=${2:?usage: $0 stop DIR}
    as_owner "$pgbin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start | stop DIR" >&2
    exit 2
    ;;
esac
