"""The cases and targets of bench/run (which builds the binary and starts PostgreSQL)."""

import argparse
import base64
import json
import os
import re
import shutil
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
CREATORS = 32
PSQL = "/usr/lib/postgresql/15/bin/psql"


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
             "--token-create-rate", "1000000/1s"],
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

    def sign_in(self, username="bench"):
        body = urllib.parse.urlencode({"username": username, "password": PASSWORD}).encode()
        with urllib.request.urlopen(self.base + "/api/tokens/", body, timeout=30) as response:
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


def wrk(server, path, seconds, token=True, method="GET", work=None, tokens=None):
    """requests/second, p50 ms, p99 ms with 32 keep-alive connections; with `tokens`,
    each request presents the next of them."""
    command = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency"]
    if token and not tokens:
        command += ["-H", f"Authorization: Token {server.token}"]
    if method != "GET" or tokens:
        script = os.path.join(work, "requests.lua")
        with open(script, "w") as lua:
            lua.write(f'wrk.method = "{method}"\n')
            if tokens:
                lua.write("tokens = {" + ", ".join(f'"{t}"' for t in tokens) + "}\nsent = 0\n")
                lua.write("request = function()\n  sent = sent + 1\n"
                          "  return wrk.format(nil, nil, {Authorization = \"Token \" .. tokens[sent % #tokens + 1]})\n"
                          "end\n")
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


def add_creators(path, count):
    """`count` users with the bench user's password (its hash copied): creation is measured
    across many users, each well within the default per-user token limit."""
    with sqlite3.connect(path) as db:
        db.execute(
            """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
            INSERT INTO users (username, username_folded, password_hash, created_us)
            SELECT 'creator' || i, 'creator' || i, password_hash, created_us FROM n, users WHERE username = 'bench'
            """, (count,))


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
        [PSQL, url, "-q", "-v", "ON_ERROR_STOP=1", "-c",
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


def median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--postgres", required=True)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--signins", type=int, default=20)
    arguments = parser.parse_args()
    os.environ["LATCHKEY_SERVER_KEY"] = base64.b64encode(os.urandom(32)).decode()
    seconds = arguments.seconds
    work = tempfile.mkdtemp(prefix="latchkey-bench-")

    # Every server runs for the whole benchmark, each on a database of its own; the cases
    # take turns round after round, and each ratio is the median of its rounds, so that a
    # noisy moment on the machine lands on both sides of a ratio or on neither.
    database = os.path.join(work, "bench.db")
    create_users(arguments.bin, database)
    seed_sqlite(database, 1_000)
    add_creators(database, CREATORS)
    for copy in ("quiet.db", "big.db"):
        shutil.copyfile(database, os.path.join(work, copy))
    seed_sqlite(os.path.join(work, "big.db"), arguments.tokens - 1_000)
    name = f"bench_{os.getpid()}"
    subprocess.run([PSQL, arguments.postgres, "-q", "-c", f"CREATE DATABASE {name}"], check=True)
    url = re.sub(r"/postgres\?", f"/{name}?", arguments.postgres)
    create_users(arguments.bin, url)
    seed_postgres(url, 1_000)

    main_server = Server(arguments.bin, database, work)
    quiet = Server(arguments.bin, os.path.join(work, "quiet.db"), work, log_level="error")
    big = Server(arguments.bin, os.path.join(work, "big.db"), work)
    shared = Server(arguments.bin, url, work)
    servers = [main_server, quiet, big, shared]
    rss_idle = main_server.rss_mib()
    for _ in range(60):
        main_server.post("/api/tokens/")  # a page of 50 of the bench user's own tokens to list
    for server in servers:
        wrk(server, "/api/users/me", 1)  # warm up

    cases = {
        "floor": lambda: wrk(main_server, "/healthz", seconds, token=False),
        "verify": lambda: wrk(main_server, "/api/users/me", seconds),
        "list": lambda: wrk(main_server, "/api/tokens/", seconds),
        "unlogged": lambda: wrk(quiet, "/api/users/me", seconds),
        "big": lambda: wrk(big, "/api/users/me", seconds),
        "pg floor": lambda: wrk(shared, "/healthz", seconds, token=False),
        "pg verify": lambda: wrk(shared, "/api/users/me", seconds),
    }
    runs = {case: [] for case in cases}
    for _ in range(arguments.rounds):
        for case, measure in cases.items():
            runs[case].append(measure())
    sessions = [main_server.sign_in(f"creator{i}") for i in range(1, CREATORS + 1)]
    created = wrk(main_server, "/api/tokens/", seconds, method="POST", work=work, tokens=sessions)
    loaded, signed, busy = verify_during_signins(main_server, seconds, arguments.signins)
    verify_alone = wrk(main_server, "/api/users/me", seconds)
    rss_big = big.rss_mib()
    for server in servers:
        server.stop()

    def figures(case):
        """The median round's req/s, p50 and p99."""
        return sorted(runs[case])[len(runs[case]) // 2]

    def ratio(top, bottom):
        return median([a[0] / b[0] for a, b in zip(runs[top], runs[bottom])])

    rows = [  # case, (req/s, p50, p99), ratio name, ratio, target
        ("GET /healthz (floor)", figures("floor"), "", None, None),
        ("GET /api/users/me", figures("verify"), "/floor", ratio("verify", "floor"), 0.85),
        ("GET /api/tokens/ (50)", figures("list"), "/floor", ratio("list", "floor"), 0.50),
        (f"POST /api/tokens/ (create, {CREATORS} users)", created, "per second", created[0], 2000),
        (f"GET /api/users/me, {arguments.signins} sign-in clients", (loaded, 0, 0), "/verify",
         loaded / verify_alone[0], 0.60),
        ("GET /api/users/me, LOG_LEVEL=error", figures("unlogged"), "logged/unlogged",
         ratio("verify", "unlogged"), 0.90),
        (f"GET /api/users/me, {arguments.tokens:,} tokens", figures("big"), "/1,000 tokens",
         ratio("big", "verify"), 0.95),
        ("PostgreSQL GET /healthz", figures("pg floor"), "", None, None),
        ("PostgreSQL GET /api/users/me", figures("pg verify"), "/floor", ratio("pg verify", "pg floor"), 0.70),
    ]
    missed = []
    print(f"{'case':44} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7}   {'ratio':>17} {'target':>8}")
    for case, (rate, p50, p99), ratio_name, value, target in rows:
        line = f"{case:44} {rate:9.0f} {p50:7.2f} {p99:7.2f}"
        if value is not None:
            ok = value >= target
            shown = f"{value:.0f}" if target >= 100 else f"{value:.2f}"
            line += f"   {ratio_name:>15} {shown:>6} {'>=' + str(target):>8} {'ok' if ok else 'MISSED'}"
            if not ok:
                missed.append(case)
        print(line)
    p99 = figures("verify")[2]
    print(f"{'p99 of GET /api/users/me':44} {p99:9.2f} ms {'<= 2 ms':>34} {'ok' if p99 <= 2.0 else 'MISSED'}")
    if p99 > 2.0:
        missed.append("p99 of GET /api/users/me")
    print(f"RSS: {rss_idle:.0f} MiB idle; {rss_big:.0f} MiB after serving with {arguments.tokens:,} tokens")
    print(f"sign-ins during that run: {signed} done, {busy} answered 503 busy")
    print(f"ratios: the median of {arguments.rounds} rounds; machine: {os.cpu_count()} cores, "
          f"{os.uname().release}; wrk -t2 -c32 -d{seconds}s on the same machine")
    if missed:
        print("targets missed: " + "; ".join(missed))
        sys.exit(1)


if __name__ == "__main__":
    main()
