#!/usr/bin/env bash
# Token verification throughput as a ratio of the framework's floor, both measured
# in this run on this machine (machines here are noisy; absolute figures are not).
#
#   bench/verify.sh [--database URL] [--seconds N]
#
# Builds latchkey in release mode, starts it on a free loopback port with a fresh
# SQLite database (or the given one), signs a user in, then drives with wrk:
#   floor   GET /healthz          (no database, no authentication)
#   verify  GET /api/users/me     with  Authorization: Token <session token>
# and prints requests/second for each and verify/floor.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=10
database=""
while [ $# -gt 0 ]; do
    case "$1" in
        --database) database=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        *) echo "usage: bench/verify.sh [--database URL] [--seconds N]" >&2; exit 2 ;;
    esac
done

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
swift build -c release --product latchkey >/dev/null
bin="$(swift build -c release --show-bin-path)/latchkey"

work=$(mktemp -d)
[ -n "$database" ] || database="$work/bench.db"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export LATCHKEY_SERVER_KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
user="bench$RANDOM"
printf 'bench-password\n' | "$bin" user create "$user" --password-stdin --database "$database" >/dev/null
LOG_LEVEL=error "$bin" serve --port "$port" --database "$database" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done

token=$(curl -sf -X POST "http://127.0.0.1:$port/api/tokens/" -d "username=$user" -d password=bench-password \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')

rate() {  # path [header]
    wrk -t2 -c32 -d"${seconds}s" ${2:+-H "$2"} "http://127.0.0.1:$port$1" | awk '/Requests\/sec/ {print $2}'
}
curl -sf "http://127.0.0.1:$port/api/users/me" -H "Authorization: Token $token" >/dev/null  # warm up
floor=$(rate /healthz)
verify=$(rate /api/users/me "Authorization: Token $token")
python3 - "$floor" "$verify" <<'PY'
import sys
floor, verify = map(float, sys.argv[1:])
print(f"floor   GET /healthz        {floor:10.0f} req/s")
print(f"verify  GET /api/users/me   {verify:10.0f} req/s")
print(f"verify/floor                {verify / floor:10.2f}")
PY
