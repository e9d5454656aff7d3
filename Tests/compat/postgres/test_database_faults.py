"""A PostgreSQL database that is unreachable at start, and lost mid-run.

The server reaches PostgreSQL through a TCP relay this test controls, so the
database can be taken away and given back without touching the server itself.
"""

import re
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
import requests

from conftest import LATCHKEY, POSTGRES_URL, Latchkey, free_port, fresh_postgres_database

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="needs LATCHKEY_TEST_POSTGRES_URL (scripts/test starts one)")


class Relay:
    """Forwards a local port to the PostgreSQL server while switched on."""

    def __init__(self, target_port: int):
        self.port = free_port()
        self.target_port = target_port
        self.listener = None
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()

    def on(self):
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def off(self):
        # shutdown() wakes the thread blocked in accept(); close() alone would not.
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            for connection in self.connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                connection.close()
            self.connections.clear()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def test_unreachable_at_start_then_lost_mid_run(tmp_path):
    direct = fresh_postgres_database()
    target_port = int(re.search(r"@[^:/]+:(\d+)/", direct).group(1))
    relay = Relay(target_port)
    relayed = re.sub(r"@([^:/]+):\d+/", f"@127.0.0.1:{relay.port}/", direct)

    server = Latchkey(tmp_path, relayed, wait=False)
    try:
        # Unreachable at start: the server serves, says it is not ready, and retries.
        server.wait_until("/healthz")
        assert requests.get(server.base + "/readyz").status_code == 503
        server.wait_until("/readyz", status=503)
        log = server.log_text(containing="Cannot prepare the database; retrying")
        assert "Cannot prepare the database; retrying" in log
        assert "connection refused" in log
        assert "latchkey-test-password" not in log, "the password never reaches a log"
        assert server.process.poll() is None, "no crash"

        relay.on()
        server.wait_until("/readyz", seconds=60)
        server.create_user("sam", "sam-password")
        token = requests.post(server.base + "/api/tokens/", json={"username": "sam", "password": "sam-password"}).json()["token"]
        auth = {"Authorization": "Token " + token}
        assert requests.get(server.base + "/api/tokens/", headers=auth).status_code == 200

        # Lost mid-run: 503 in each dialect's own shape, never a crash.
        relay.off()
        stencila = requests.get(server.base + "/api/tokens/", headers=auth, timeout=30)
        assert stencila.status_code == 503
        assert set(stencila.json()) == {"message"}
        quay = requests.get(server.base + "/api/v1/user/apptoken", headers={"Authorization": "Bearer " + token}, timeout=30)
        assert quay.status_code == 503
        assert quay.json()["error_type"] == "downstream_issue" and quay.json()["status"] == 503
        assert requests.get(server.base + "/readyz", timeout=30).status_code == 503
        assert server.process.poll() is None

        # Back again: the same token still works; nothing acknowledged was lost.
        relay.on()
        server.wait_until("/readyz", seconds=60)
        assert requests.get(server.base + "/api/tokens/", headers=auth, timeout=30).status_code == 200
    finally:
        server.stop()
        if relay.listener:
            relay.off()


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda url: url.replace("latchkey-test-password", "wrong-password"), 'password authentication failed for user "latchkey"'),
        (lambda url: re.sub(r"/([^/?]+)(\?|$)", r"/no_such_database\2", url), 'database "no_such_database" does not exist'),
        (lambda url: re.sub(r"@([^:/]+):\d+/", f"@127.0.0.1:{free_port()}/", url), "connection refused"),
    ],
)
def test_a_bad_database_url_is_one_clear_line_naming_the_problem(mutate, reason):
    url = mutate(POSTGRES_URL)
    result = subprocess.run([LATCHKEY, "user", "list", "--database", url], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert reason in lines[0]
    assert "wrong-password" not in lines[0] and "latchkey-test-password" not in lines[0]


def test_serving_postgres_without_a_shared_server_key_is_refused(tmp_path):
    result = subprocess.run(
        [LATCHKEY, "serve", "--port", str(free_port()), "--database", POSTGRES_URL],
        capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert result.stderr.startswith("latchkey: on PostgreSQL every node needs the same server key")
