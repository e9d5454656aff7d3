"""The cases and targets of bench/run (which builds the binary and starts PostgreSQL)."""

import argparse
import base64
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

PASSWORD = "bench-password"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `latchkey serve` on `database`, limits out of the benchmark's way."""

    def __init__(self, binary, database, work, log_level="info"):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, LOG_LEVEL=log_level)
        self.log = open(os.path.join(work, f"server-{self.port}.log"), "w")
        self.process = subprocess.Popen(
            [binary, "serve", "--port", str(self.port), "--database", database,
             "--signin-limit-account", "1000000/1s", "--signin-limit-address", "1000000/1s",
             "--token-create-rate", "1000000/1s", "--token-limit-per-user", "1000000"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            try:
                urllib.request.urlopen(self.base + "/readyz", timeout=1).read()
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        else:
            raise SystemExit(f"the server on {database} did not become ready")
        self.token = self.sign_in()

    def sign_in(self):
        body = urllib.parse.urlencode({"username": "bench", "password": PASSWORD}).encode()
        with urllib.request.urlopen(self.base + "/api/tokens/", body, timeout=30) as response:
            import json
            return json.load(response)["token"]

    def post(self, path):
        request = urllib.request.Request(
            self.base + path, method="POST", data=b"", headers={"Authorization": f"Token {self.token}"})
        urllib.request.urlopen(request, timeout=30).read()

    def rss_mib(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def to_ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(server, path, seconds, token=True, method="GET", work=None):
    """requests/second, p50 ms, p99 ms with 32 keep-alive connections."""
    command = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency"]
    if token:
        command += ["-H", f"Authorization: Token {server.token}"]
    if method != "GET":
        script = os.path.join(work, "method.lua")
        with open(script, "w") as lua:
            lua.write(f'wrk.method = "{method}"\n')
        command += ["-s", script]
    output = subprocess.run(command + [server.base + path], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = to_ms(re.search(r"\s50%\s+(\S+)", output).group(1))
    p99 = to_ms(re.search(r"\s99%\s+(\S+)", output).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non2xx:
        raise SystemExit(f"{method} {path}: {non2xx.group(1)} answers were not 2xx")
    return rate, p50, p99


def create_users(binary, database):
    for name in ("bench", "filler"):
        subprocess.run([binary, "user", "create", name, "--password-stdin", "--database", database],
                       input=PASSWORD + "\n", text=True, check=True, capture_output=True)


def seed_sqlite(path, count):
    """Filler tokens of another user, straight into the file: no HTTP calls, no secrets anyone holds."""
    with sqlite3.connect(path) as db:
        owner = db.execute("SELECT id FROM users WHERE username = 'filler'").fetchone()[0]
        db.execute(
            """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
            INSERT INTO tokens (uuid, key, user_id, kind, scopes, created_us, digest)
            SELECT lower(hex(randomblob(16))), 'lk_' || substr(hex(randomblob(3)), 1, 5), ?, 'app', '',
                   1800000000000000, randomblob(32) FROM n
            """, (count, owner))


def seed_postgres(url, count):
    subprocess.run(
        ["/usr/lib/postgresql/15/bin/psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-c",
         f"""
         INSERT INTO tokens (uuid, key, user_id, kind, scopes, created_us, digest)
         SELECT gen_random_uuid(), 'lk_' || substr(md5(random()::text), 1, 5),
                (SELECT id FROM users WHERE username = 'filler'), 'app', '', 1800000000000000,
                decode(md5(random()::text) || md5(random()::text), 'hex')
         FROM generate_series(1, {count})
         """], check=True)


def verify_during_signins(server, seconds, clients):
    """Verification while `clients` sign in with passwords back to back; (req/s, sign-ins done)."""
    body = urllib.parse.urlencode({"username": "bench", "password": PASSWORD}).encode()
    done = {"ok": 0, "busy": 0}
    lock = threading.Lock()
    stop = time.monotonic() + seconds + 2

    def loop():
        while time.monotonic() < stop:
            try:
                urllib.request.urlopen(server.base + "/api/tokens/", body, timeout=30).read()
                outcome = "ok"
            except urllib.error.HTTPError as error:
                outcome = "busy"
                time.sleep(0.05 if error.code == 503 else 0)
            with lock:
                done[outcome] += 1

    threads = [threading.Thread(target=loop) for _ in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    rate = wrk(server, "/api/users/me", seconds)[0]
    for thread in threads:
        thread.join()
    return rate, done["ok"], done["busy"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--postgres", required=True)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--signins", type=int, default=20)
    arguments = parser.parse_args()
    os.environ["LATCHKEY_SERVER_KEY"] = base64.b64encode(os.urandom(32)).decode()
    seconds = arguments.seconds
    work = tempfile.mkdtemp(prefix="latchkey-bench-")
    rows = []  # (case, req/s, p50, p99, ratio name, ratio, target)
    notes = []

    def row(case, measured, ratio_name="", ratio=None, target=None):
        rate, p50, p99 = measured
        rows.append((case, rate, p50, p99, ratio_name, ratio, target))

    # SQLite, 1,000 tokens in the database, default log level (info).
    database = os.path.join(work, "bench.db")
    create_users(arguments.bin, database)
    seed_sqlite(database, 1_000)
    server = Server(arguments.bin, database, work)
    rss_idle = server.rss_mib()
    for _ in range(60):
        server.post("/api/tokens/")  # a page of 50 of the bench user's own tokens to list
    wrk(server, "/api/users/me", 2)  # warm up
    floor = wrk(server, "/healthz", seconds, token=False)
    row("GET /healthz (floor)", floor)
    verify = wrk(server, "/api/users/me", seconds)
    row("GET /api/users/me", verify, "/floor", verify[0] / floor[0], 0.85)
    listed = wrk(server, "/api/tokens/", seconds)
    row("GET /api/tokens/ (50)", listed, "/floor", listed[0] / floor[0], 0.50)
    created = wrk(server, "/api/tokens/", seconds, method="POST", work=work)
    row("POST /api/tokens/ (create)", created, "per second", created[0], 2000)
    loaded, signed, busy = verify_during_signins(server, seconds, arguments.signins)
    row(f"  during {arguments.signins} sign-in clients", (loaded, 0, 0), "/verify", loaded / verify[0], 0.60)
    notes.append(f"sign-ins during that run: {signed} done, {busy} answered 503 busy")
    server.stop()

    quiet = Server(arguments.bin, database, work, log_level="error")
    wrk(quiet, "/api/users/me", 2)
    unlogged = wrk(quiet, "/api/users/me", seconds)
    quiet.stop()
    row("GET /api/users/me, LOG_LEVEL=error", unlogged, "logged/unlogged", verify[0] / unlogged[0], 0.90)

    # The same with --tokens in the database.
    seed_sqlite(database, arguments.tokens - 1_000)
    big = Server(arguments.bin, database, work)
    wrk(big, "/api/users/me", 2)
    many = wrk(big, "/api/users/me", seconds)
    rss_big = big.rss_mib()
    big.stop()
    row(f"GET /api/users/me, {arguments.tokens:,} tokens", many, "/1,000 tokens", many[0] / verify[0], 0.95)

    # PostgreSQL: a database of its own on the throwaway server.
    name = f"bench_{os.getpid()}"
    subprocess.run(["/usr/lib/postgresql/15/bin/psql", arguments.postgres, "-q", "-c", f"CREATE DATABASE {name}"],
                   check=True)
    url = re.sub(r"/postgres\?", f"/{name}?", arguments.postgres)
    create_users(arguments.bin, url)
    seed_postgres(url, 1_000)
    shared = Server(arguments.bin, url, work)
    wrk(shared, "/api/users/me", 2)
    pg_floor = wrk(shared, "/healthz", seconds, token=False)
    row("PostgreSQL GET /healthz", pg_floor)
    pg_verify = wrk(shared, "/api/users/me", seconds)
    row("PostgreSQL GET /api/users/me", pg_verify, "/floor", pg_verify[0] / pg_floor[0], 0.70)
    shared.stop()

    missed = []
    print(f"{'case':44} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7}   {'ratio':>17} {'target':>8}")
    for case, rate, p50, p99, ratio_name, ratio, target in rows:
        line = f"{case:44} {rate:9.0f} {p50:7.2f} {p99:7.2f}"
        if ratio is not None:
            ok = ratio >= target
            shown = f"{ratio:.0f}" if target >= 100 else f"{ratio:.2f}"
            line += f"   {ratio_name:>10} {shown:>6} {'>=' + str(target):>8} {'ok' if ok else 'MISSED'}"
            if not ok:
                missed.append(case)
        print(line)
    p99_ok = verify[2] <= 2.0
    print(f"{'p99 of GET /api/users/me':44} {verify[2]:9.2f} ms {'<= 2 ms':>29} {'ok' if p99_ok else 'MISSED'}")
    if not p99_ok:
        missed.append("p99 of GET /api/users/me")
    print(f"RSS: {rss_idle:.0f} MiB idle; {rss_big:.0f} MiB after serving with {arguments.tokens:,} tokens")
    for note in notes:
        print(note)
    print(f"machine: {os.cpu_count()} cores, {os.uname().release}; wrk -t2 -c32 -d{seconds}s on the same machine")
    if missed:
        print("targets missed: " + "; ".join(missed))
        sys.exit(1)


if __name__ == "__main__":
    main()
