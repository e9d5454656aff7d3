"""Shared fixtures: a real `latchkey serve` on a free port with a fresh database."""

import json
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

LATCHKEY = os.environ.get("LATCHKEY_BIN") or str(Path(__file__).resolve().parents[2] / ".build" / "debug" / "latchkey")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Latchkey:
    """A running server and the CLI pointed at its database."""

    def __init__(self, directory: Path, extra_env: dict | None = None):
        self.directory = directory
        self.database = str(directory / "latchkey.db")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LATCHKEY_")}
        self.env.update(extra_env or {})
        self.log = open(directory / "server.log", "w")
        self.process = subprocess.Popen(
            [LATCHKEY, "serve", "--port", str(self.port), "--database", self.database],
            stdout=self.log, stderr=subprocess.STDOUT, env=self.env, cwd=directory,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(self.base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("latchkey serve did not start: " + (directory / "server.log").read_text())
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


@pytest.fixture(scope="session")
def latchkey():
    with tempfile.TemporaryDirectory(prefix="latchkey-compat-") as directory:
        server = Latchkey(Path(directory))
        server.sam_id = server.create_user("sam", "sam", "Sam", "Smith", email="sam@example.org")
        server.create_user("kim", "kim-password", "Kim", "Lee")
        server.create_user("nameless", "nameless-password")
        try:
            yield server
        finally:
            server.stop()
