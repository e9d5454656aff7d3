"""How long a change takes to reach a server's token cache from elsewhere (bench/propagation.sh
builds the binary and starts PostgreSQL). The compat suites only assert that such a change
arrives (conftest.eventually, 30 s); this measures how fast, against docs/operating.md's "within a
second". Cases, each over --rounds rounds:

- revoke, PostgreSQL: node A revokes (DELETE /v1/tokens/{uuid}) a token node B has cached; from
  A's 204 until B refuses it (PostgreSQL NOTIFY).
- deactivate, PostgreSQL: `latchkey user deactivate` (the CLI, a process of its own) on the
  owner of a token both nodes have cached; from the command's exit until B refuses it.
- deactivate, SQLite: the same against one server on a SQLite file (its data_version poll).

B is asked as fast as one keep-alive connection allows (about a millisecond a request), so the
figures are accurate to about that.
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

from run import PSQL, free_port  # bench/run.py, beside this file

PASSWORD = "propagation-password"
# Nodes on one PostgreSQL database share a server key (base64 of 32 bytes).
SERVER_KEY = "bGF0Y2hrZXktcHJvcGFnYXRpb24tYmVuY2gta2V5ISE="
DEADLINE = 30.0  # a change that has not arrived by then is reported as lost, not waited for


def environment():
    env = {k: v for k, v in os.environ.items() if not k.startswith("LATCHKEY_")}
    env["LATCHKEY_SERVER_KEY"] = SERVER_KEY
    return env


def cli(binary, database, *args, stdin=""):
    result = subprocess.run([binary, *args, "--database", database], input=stdin, capture_output=True,
                            text=True, env=environment())
    if result.returncode != 0:
        raise SystemExit(f"latchkey {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


class Node:
    """One `latchkey serve`, asked over one keep-alive connection."""

    def __init__(self, binary, database, work, name):
        self.port = free_port()
        self.log = open(os.path.join(work, f"{name}.log"), "w")
        self.process = subprocess.Popen(
            [binary, "serve", "--port", str(self.port), "--database", database,
             "--token-create-rate", "1000000/1s"],
            env=dict(environment(), LOG_LEVEL="error"), stdout=self.log, stderr=subprocess.STDOUT)
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        deadline = time.monotonic() + 60
        while self.status("GET", "/readyz") != 200:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(f"{name} did not become ready; see {self.log.name}")
            time.sleep(0.1)

    def call(self, method, path, token=None, body=None):
        headers = {"Authorization": "Bearer " + token} if token else {}
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            self.connection.request(method, path, body=data, headers=headers)
            response = self.connection.getresponse()
            return response.status, response.read()
        except (ConnectionError, http.client.HTTPException, OSError):
            self.connection.close()  # reconnects on the next request
            return None, b""

    def status(self, method, path, token=None):
        return self.call(method, path, token)[0]

    def stop(self):
        self.connection.close()
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def until_refused(node, token):
    """Seconds until `node` refuses `token` (401/403 on /api/users/me), asking without pause;
    None if it still accepts after DEADLINE."""
    started = time.monotonic()
    while time.monotonic() - started < DEADLINE:
        if node.status("GET", "/api/users/me", token) in (401, 403):
            return time.monotonic() - started
    return None


def warm(node, token):
    """Asks until `node` accepts `token`, so that it answers from its cache from here on."""
    deadline = time.monotonic() + DEADLINE
    while node.status("GET", "/api/users/me", token) != 200:
        if time.monotonic() > deadline:
            raise SystemExit("a node never accepted a token (or an account activated again)")
        time.sleep(0.01)


def sign_in(node, username):
    status, body = node.call("POST", "/api/tokens/", body={"username": username, "password": PASSWORD})
    if status != 201:
        raise SystemExit(f"sign-in of {username}: {status} {body[:200]!r}")
    return json.loads(body)["token"]


def revoke_rounds(a, b, rounds):
    session = sign_in(a, "creator")
    times = []
    for _ in range(rounds):
        status, body = a.call("POST", "/v1/tokens", session, {"title": "propagation"})
        assert status == 201, (status, body)
        made = json.loads(body)
        warm(b, made["token"])
        status, _ = a.call("DELETE", f"/v1/tokens/{made['uuid']}", session)
        assert status == 204, status
        times.append(until_refused(b, made["token"]))
    return times


def deactivate_rounds(binary, database, node, rounds, others=()):
    """The CLI deactivates the owner of a token `node` (and `others`) have cached; then it is
    activated again, and each node is asked until it accepts the token once more."""
    token = json.loads(cli(binary, database, "token", "create", "--user", "subject", "--title", "p", "--json"))["token"]
    times = []
    for _ in range(rounds):
        for n in (node, *others):
            warm(n, token)
        cli(binary, database, "user", "deactivate", "subject")
        times.append(until_refused(node, token))
        cli(binary, database, "user", "activate", "subject")
    return times


def summary(name, times):
    lost = sum(t is None for t in times)
    arrived = sorted(t * 1000 for t in times if t is not None)
    if not arrived:
        return f"{name:<34} {len(times):>3} rounds: none arrived within {DEADLINE:g} s"
    p90 = arrived[min(len(arrived) - 1, round(0.9 * (len(arrived) - 1)))]
    return (f"{name:<34} {len(times):>3} rounds  median {statistics.median(arrived):7.1f} ms  "
            f"p90 {p90:7.1f} ms  max {arrived[-1]:7.1f} ms" + (f"  LOST {lost}" if lost else ""))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--postgres", help="a PostgreSQL URL; each run makes a database of its own there")
    parser.add_argument("--rounds", type=int, default=20)
    arguments = parser.parse_args()
    binary = arguments.bin
    cases = []  # (name, seconds of each round; None: the change never arrived)
    with tempfile.TemporaryDirectory(prefix="latchkey-propagation-") as work:
        databases = []
        if arguments.postgres:
            name = "propagation_" + uuid.uuid4().hex[:12]
            subprocess.run([PSQL, arguments.postgres, "-q", "-c", f"CREATE DATABASE {name}"], check=True)
            base, _, query = arguments.postgres.partition("?")
            databases.append(("PostgreSQL", base.rsplit("/", 1)[0] + "/" + name + ("?" + query if query else "")))
        databases.append(("SQLite", os.path.join(work, "latchkey.db")))
        for backend, database in databases:
            for user in ("creator", "subject"):
                cli(binary, database, "user", "create", user, "--password-stdin", stdin=PASSWORD + "\n")
            if backend == "PostgreSQL":
                a, b = Node(binary, database, work, "node-a"), Node(binary, database, work, "node-b")
                try:
                    cases.append(("revoke on A, refused on B", revoke_rounds(a, b, arguments.rounds)))
                    cases.append(("CLI deactivate, refused on B",
                                  deactivate_rounds(binary, database, b, arguments.rounds, others=(a,))))
                finally:
                    a.stop()
                    b.stop()
            else:
                node = Node(binary, database, work, "sqlite")
                try:
                    cases.append(("CLI deactivate, refused (SQLite)",
                                  deactivate_rounds(binary, database, node, arguments.rounds)))
                finally:
                    node.stop()
    print("\n".join(summary(name, times) for name, times in cases))
    if any(t is None for _, times in cases for t in times):
        sys.exit(1)


if __name__ == "__main__":
    main()
