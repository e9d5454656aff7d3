"""`serve` stops gracefully on SIGTERM or SIGINT.

docs/operating.md (Installing): "it stops accepting connections, finishes the requests in flight, and
exits 0"; and (Last use off the request path) last uses are "written in batches every 5 s and
once more at graceful shutdown (SIGTERM)".
"""

import http.client
import json
import signal
import socket
from datetime import datetime, timedelta, timezone

import pytest

from conftest import Latchkey, backends, eventually, fresh_postgres_database


def start(tmp_path, backend: str) -> Latchkey:
    server = Latchkey(tmp_path, fresh_postgres_database() if backend == "postgres" else None)
    server.create_user("sam", "sam-password")
    return server


def app_token(server: Latchkey, *scopes: str) -> dict:
    """A new app token of sam's, made by the CLI: its uuid, key and secret (`token`)."""
    args = [arg for scope in scopes for arg in ("--scope", scope)]
    return json.loads(server.cli("token", "create", "--user", "sam", "--title", "t", *args, "--json"))


def show(server: Latchkey, uuid: str) -> dict:
    """The token as the database holds it, read by the CLI (no server involved)."""
    return json.loads(server.cli("token", "show", uuid, "--json"))


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=10).close()
        return False
    except ConnectionRefusedError:
        return True


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("backend", backends())
def test_a_request_in_flight_at_the_signal_is_finished_then_the_server_exits_0(tmp_path, backend, stop):
    server = start(tmp_path, backend)
    try:
        admin = app_token(server, "user:admin")
        # A keep-alive connection, idle at the signal: it must not hold the stop up.
        idle = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: latchkey\r\n\r\n")
        answer = http.client.HTTPResponse(idle, method="GET")
        answer.begin()
        assert answer.status == 200 and answer.read() == b'{"status":"ok"}'

        # A creation whose body has only half arrived when the signal comes. It follows a
        # /healthz in the same packet: once /healthz is answered, the server has read the
        # creation's head too (HTTP/1.1 pipelining), so the creation is in flight.
        body = json.dumps({"title": "made during the stop"}).encode()
        head = (b"POST /v1/tokens HTTP/1.1\r\nHost: latchkey\r\nAuthorization: Bearer %b\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (admin["token"].encode(), len(body)))
        busy = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        busy.sendall(b"GET /healthz HTTP/1.1\r\nHost: latchkey\r\n\r\n" + head + body[:10])
        answer = http.client.HTTPResponse(busy, method="GET")
        answer.begin()
        assert answer.status == 200 and answer.read() == b'{"status":"ok"}'

        server.process.send_signal(stop)
        # The stop has begun: the idle connection is closed, and new ones are refused ...
        assert idle.recv(1) == b"", "the idle connection is closed"
        assert eventually(lambda: refuses_connections(server.port), bool), "new connections are refused"
        # ... while the request in flight is still waited for: the rest of its body arrives
        # only now, and it is answered in full.
        assert server.process.poll() is None
        busy.sendall(body[10:])
        answer = http.client.HTTPResponse(busy, method="POST")
        answer.begin()
        made = json.loads(answer.read())
        assert answer.status == 201, made
        assert made["title"] == "made during the stop" and made["token"].startswith(made["key"])

        assert server.process.wait(timeout=60) == 0
        # What it acknowledged is in the database.
        assert show(server, made["uuid"])["title"] == "made during the stop"
    finally:
        server.stop()


@pytest.mark.parametrize("backend", backends())
def test_a_last_use_just_before_sigterm_is_in_the_database_after_the_stop(tmp_path, backend):
    server = start(tmp_path, backend)
    try:
        token = app_token(server)

        def use(source: str, agent: str):
            answer = server.request("GET", "/v1/tokens/self", source=source,
                                    headers={"Authorization": "Bearer " + token["token"], "User-Agent": agent})
            assert answer.status == 200, answer

        # A first use, written by the batch every 5 s: seeing it arrive says a batch was just
        # written, so the next is about 5 s away.
        use("127.0.0.1", "first use")
        assert eventually(lambda: show(server, token["uuid"]), lambda shown: shown["last_used_ip"] == "127.0.0.1"
                    )["last_used_user_agent"] == "first use"

        # A second use, from a new address (so it is recorded, though within the minute), and
        # straight after, SIGTERM. Before the signal the database does not hold it yet: only
        # the write at shutdown can put it there.
        before = datetime.now(timezone.utc)
        use("127.0.0.2", "last use before the stop")
        after = datetime.now(timezone.utc)
        assert show(server, token["uuid"])["last_used_ip"] == "127.0.0.1", "written before the stop: this proves nothing"
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=60) == 0

        shown = show(server, token["uuid"])
        assert shown["last_used_ip"] == "127.0.0.2"
        assert shown["last_used_user_agent"] == "last use before the stop"
        assert shown["recent_ips"] == ["127.0.0.2", "127.0.0.1"]
        # The time of the use itself (to the microsecond), not of the write.
        used = datetime.fromisoformat(shown["last_used_at"].replace("Z", "+00:00"))
        assert before - timedelta(microseconds=1) <= used <= after + timedelta(microseconds=1)
    finally:
        server.stop()
