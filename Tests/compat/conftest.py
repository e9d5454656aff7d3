"""Shared fixtures: a real `latchkey serve` on a free port with a fresh database."""

import base64
import http.client
import json
import os
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest
import requests

LATCHKEY = os.environ.get("LATCHKEY_BIN") or str(Path(__file__).resolve().parents[2] / ".build" / "debug" / "latchkey")
POSTGRES_URL = os.environ.get("LATCHKEY_TEST_POSTGRES_URL", "")
PSQL = "/usr/lib/postgresql/15/bin/psql"
# Nodes sharing a PostgreSQL database share this key (base64 of 32 bytes).
SERVER_KEY = base64.b64encode(b"latchkey-compat-suite-server-key").decode()


def backends() -> list[str]:
    if os.environ.get("CI") == "true" and not POSTGRES_URL:
        raise RuntimeError("CI=true but LATCHKEY_TEST_POSTGRES_URL is not set: the PostgreSQL suites would be skipped")
    return ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]


def fresh_postgres_database() -> str:
    """A new, empty database on the test server; answers its URL."""
    name = "latchkey_" + uuid.uuid4().hex[:12]
    subprocess.run([PSQL, POSTGRES_URL, "-q", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    base, _, query = POSTGRES_URL.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + ("?" + query if query else "")


def eventually(call, check, seconds: float = 30):
    """Calls `call` until `check` holds of its answer, for at most `seconds`, polling quickly;
    answers the last answer (the caller asserts on it, so a failure shows what was last seen).
    For a change made by another process (the CLI, another node) that a server hears of
    asynchronously: the suite asserts that it arrives, under a deadline generous enough for a
    loaded machine; how fast it arrives is measured by bench/propagation.py."""
    deadline = time.monotonic() + seconds
    while True:
        answer = call()
        if check(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def latchkey_environment() -> dict[str, str]:
    """The environment the server and the CLI run with: none of the caller's LATCHKEY_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LATCHKEY_")}
    env["LATCHKEY_SERVER_KEY"] = SERVER_KEY
    return env


def run_cli(database: str, *args: str, stdin: str = "", env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess:
    """`latchkey ARGS --database DATABASE`, whatever its exit status (no server needed)."""
    return subprocess.run(
        [LATCHKEY, *args, "--database", database],
        input=stdin, capture_output=True, text=True, env=env if env is not None else latchkey_environment(),
    )


class Answer:
    """An HTTP answer: status, headers (names lowercased) and the body, parsed when it is JSON."""

    def __init__(self, status: int, headers: dict[str, str], text: str):
        self.status = status
        self.headers = headers
        self.text = text
        try:
            self.json = json.loads(text) if text else None
        except ValueError:
            self.json = None

    def __repr__(self) -> str:
        return f"<{self.status} {self.headers} {self.text[:300]!r}>"


def http_request(port: int, method: str, path: str, body=None, headers: dict[str, str] | None = None,
                 source: str = "127.0.0.1", timeout: float = 120) -> Answer:
    """One request to the server on 127.0.0.1:`port` from the local address `source` (any of
    127.0.0.0/8), so that tests can play several client addresses; `body` is sent as JSON."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    try:
        headers = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        text = response.read().decode("utf-8", errors="replace")
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, text)
    finally:
        connection.close()


class Latchkey:
    """A running server and the CLI pointed at its database."""

    def __init__(self, directory: Path, database: str | None = None, name: str = "server", wait: bool = True,
                 args: Sequence[str] = (), prefix: Sequence[str] = ()):
        """`args`: further `serve` options, after `--port` and `--database`; `prefix`: a command
        that runs the server (its arguments follow), which must exec it, so that the process
        started is the server (`unshare -m sh -c '… exec "$@"' …`)."""
        self.directory = directory
        self.database = database or str(directory / "latchkey.db")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = latchkey_environment()
        self.log_path = directory / f"{name}.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [*prefix, LATCHKEY, "serve", "--port", str(self.port), "--database", self.database, *args],
            stdout=self.log, stderr=subprocess.STDOUT, env=self.env, cwd=directory,
        )
        if wait:
            self.wait_until("/readyz")

    def wait_until(self, path: str, status: int = 200, seconds: float = 60) -> None:
        """Polls the running server until `path` answers `status` (a bounded wait for a process)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                if requests.get(self.base + path, timeout=10).status_code == status:
                    return
            except requests.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{path} never answered {status}: " + self.log_path.read_text())
            time.sleep(0.1)

    def log_text(self, containing: str = "", seconds: float = 30) -> str:
        """The server's log so far; with `containing`, once it holds that text, for at most
        `seconds` (lines reach the file from a writer thread every 20 ms, not as they happen)."""
        deadline = time.monotonic() + seconds
        while True:
            text = self.log_path.read_text()
            if containing in text or time.monotonic() > deadline:
                return text
            time.sleep(0.02)

    def cli(self, *args: str, stdin: str = "") -> str:
        result = run_cli(self.database, *args, stdin=stdin, env=self.env)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def cli_failing(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        """A CLI command expected to fail: asserts a non-zero exit and answers the result."""
        result = run_cli(self.database, *args, stdin=stdin, env=self.env)
        assert result.returncode != 0, f"`latchkey {' '.join(args)}` succeeded: {result.stdout}"
        return result

    def request(self, method: str, path: str, body=None, headers: dict[str, str] | None = None,
                source: str = "127.0.0.1", timeout: float = 120) -> Answer:
        return http_request(self.port, method, path, body, headers, source, timeout)

    def create_user(self, username: str, password: str, *names: str, email: str | None = None) -> int:
        """Creates a user with the CLI and answers its id."""
        args = ["user", "create", username, "--password-stdin", "--json"]
        if names:
            args += ["--first-name", names[0], "--last-name", names[1]]
        if email:
            args += ["--email", email]
        return json.loads(self.cli(*args, stdin=password + "\n"))["id"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture(scope="session", params=backends())
def latchkey(request):
    """One server per backend; every test using it runs once for SQLite and once for PostgreSQL."""
    with tempfile.TemporaryDirectory(prefix="latchkey-compat-") as directory:
        database = fresh_postgres_database() if request.param == "postgres" else None
        server = Latchkey(Path(directory), database)
        server.sam_id = server.create_user("sam", "sam", "Sam", "Smith", email="sam@example.org")
        server.create_user("kim", "kim-password", "Kim", "Lee")
        server.create_user("nameless", "nameless-password")
        try:
            yield server
        finally:
            server.stop()
