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
#   verify again while N clients (--signins, default 20) sign in with passwords in a loop
# and prints requests/second for each, verify/floor, and verify-during-sign-ins/verify
# (each sign-in is an scrypt derivation of 128 MiB, on the bounded password pool).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=10
database=""
signins=20
while [ $# -gt 0 ]; do
    case "$1" in
        --database) database=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --signins) signins=$2; shift 2 ;;
        *) echo "usage: bench/verify.sh [--database URL] [--seconds N] [--signins N]" >&2; exit 2 ;;
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
# Limits out of the way: the sign-in load must reach the password pool, not the throttle.
LOG_LEVEL=error "$bin" serve --port "$port" --database "$database" --signin-limit-account 1000000/1s \
    --signin-limit-address 1000000/1s --token-create-rate 1000000/1s --token-limit-per-user 1000000 \
    >"$work/server.log" 2>&1 &
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

# N clients signing in back to back (correct password), for the length of one more run.
python3 - "$port" "$user" "$signins" "$((seconds + 2))" >"$work/signins.txt" <<'PY' &
import sys, threading, time, urllib.error, urllib.parse, urllib.request
port, user, clients, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
body = urllib.parse.urlencode({"username": user, "password": "bench-password"}).encode()
counts = {"ok": 0, "busy": 0, "other": 0}
lock = threading.Lock()
def loop():
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/tokens/", body, timeout=30).read()
            outcome = "ok"
        except urllib.error.HTTPError as error:
            outcome = "busy" if error.code == 503 else "other"
            time.sleep(0.05 if error.code == 503 else 0)  # a client honouring 503 backs off a little
        with lock:
            counts[outcome] += 1
threads = [threading.Thread(target=loop) for _ in range(clients)]
for thread in threads: thread.start()
for thread in threads: thread.join()
print(counts["ok"], counts["busy"], counts["other"])
PY
signers=$!
sleep 1
loaded=$(rate /api/users/me "Authorization: Token $token")
wait $signers
read -r signed busy other <"$work/signins.txt"
python3 - "$floor" "$verify" "$loaded" "$signins" "$signed" "$busy" "$other" <<'PY'
import sys
floor, verify, loaded = map(float, sys.argv[1:4])
clients, signed, busy, other = map(int, sys.argv[4:])
print(f"floor   GET /healthz        {floor:10.0f} req/s")
print(f"verify  GET /api/users/me   {verify:10.0f} req/s")
print(f"verify/floor                {verify / floor:10.2f}")
print(f"verify during {clients} sign-in clients {loaded:10.0f} req/s  "
      f"({signed} sign-ins done, {busy} answered 503 busy, {other} other)")
print(f"verify-during-sign-ins/verify {loaded / verify:8.2f}")
PY
