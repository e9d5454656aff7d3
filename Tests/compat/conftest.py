"""Shared fixtures: a real `latchkey serve` on a free port with a fresh database."""

import base64
import json
import os
import socket
import subprocess
import tempfile
import time
import uuid
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Latchkey:
    """A running server and the CLI pointed at its database."""

    def __init__(self, directory: Path, database: str | None = None, name: str = "server", wait: bool = True):
        self.directory = directory
        self.database = database or str(directory / "latchkey.db")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LATCHKEY_")}
        self.env["LATCHKEY_SERVER_KEY"] = SERVER_KEY
        self.log_path = directory / f"{name}.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [LATCHKEY, "serve", "--port", str(self.port), "--database", self.database],
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

    def cli(self, *args: str, stdin: str = "") -> str:
        result = subprocess.run(
            [LATCHKEY, *args, "--database", self.database],
            input=stdin, capture_output=True, text=True, env=self.env,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

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
