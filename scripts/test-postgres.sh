# Sourced by scripts/test: starts a throwaway PostgreSQL 15 (initdb + pg_ctl in a
# temporary directory, on a free loopback port) unless LATCHKEY_TEST_POSTGRES_URL
# already names one, exports LATCHKEY_TEST_POSTGRES_URL, and stops it on exit.

pg_bin=/usr/lib/postgresql/15/bin

ensure_postgres_installed() {
    [ -x "$pg_bin/initdb" ] && return
    echo "installing PostgreSQL 15 (Debian's postgresql-15)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
}

# initdb refuses to run as root: run the server as the 'postgres' user then.
as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_test_postgres() {
    if [ -n "${LATCHKEY_TEST_POSTGRES_URL:-}" ]; then
        echo "using the PostgreSQL in LATCHKEY_TEST_POSTGRES_URL"
        return
    fi
    ensure_postgres_installed
    pg_dir=$(mktemp -d /tmp/latchkey-postgres.XXXXXX)
    chmod 755 "$pg_dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$pg_dir"
    local password=latchkey-test-password
    echo "$password" > "$pg_dir/pwfile"
    [ "$(id -u)" = 0 ] && chown postgres: "$pg_dir/pwfile"
    as_postgres "$pg_bin/initdb" -D "$pg_dir/data" -U latchkey --pwfile="$pg_dir/pwfile" \
        --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$pg_dir/initdb.log" 2>&1 \
        || { cat "$pg_dir/initdb.log"; return 1; }
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 \
        -o "-p $port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null \
        || { cat "$pg_dir/server.log"; return 1; }
    trap stop_test_postgres EXIT
    export LATCHKEY_TEST_POSTGRES_URL="postgres://latchkey:$password@127.0.0.1:$port/postgres?sslmode=disable"
    echo "started PostgreSQL 15 on 127.0.0.1:$port (data in $pg_dir)"
}

stop_test_postgres() {
    as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
}
