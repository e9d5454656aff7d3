"""A PostgreSQL database that is unreachable at start, lost mid-run, or gone silent.

The server reaches PostgreSQL through a TCP relay this test controls, so the database can be
taken away and given back without touching the server itself: switched off (every socket
closed, as when PostgreSQL stops), held (nothing passes either way but every socket stays open,
as in a network partition: what the server sends waits for the database, and the database's
answers wait for the server), or, one connection at a time, severed (that connection carries
nothing more, ever, and nobody is told, as when a NAT forgets an idle connection).
"""

import asyncio
import json
import re
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import LATCHKEY, POSTGRES_URL, Latchkey, eventually, free_port, fresh_postgres_database

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="needs LATCHKEY_TEST_POSTGRES_URL (scripts/test starts one)")

# StorageUnavailable.publicMessage: what every dialect says while the database is away.
UNAVAILABLE = "The service is temporarily unavailable; try again shortly."


class Link:
    """One connection through the relay: the server's socket and PostgreSQL's."""

    def __init__(self, client: socket.socket, upstream: socket.socket):
        self.client = client
        self.upstream = upstream
        # From the startup message: the listening connection is `latchkey changes …`.
        self.application_name = ""
        self.severed = False
        # Bytes the server sent that the relay holds back (it is held): a call waits on them.
        self.holding = False
        # The server's own heartbeat notifications that reached the server on this connection.
        self.heartbeats = 0
        # When the server closed its end (monotonic), if it has.
        self.closed_by_server: float | None = None


class Relay:
    """Forwards a local port to the PostgreSQL server while switched on."""

    def __init__(self, target_port: int):
        self.port = free_port()
        self.target_port = target_port
        self.listener = None
        self.links: list[Link] = []
        # Guards `links` and every link's fields; notified whenever one of them changes.
        self.changed = threading.Condition()
        self.flowing = threading.Event()
        self.flowing.set()

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
        with self.changed:
            links, self.links = self.links, []
        for link in links:
            for s in (link.client, link.upstream):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def hold(self):
        """Nothing passes either way from now on, on every connection, old or new; sockets stay open."""
        self.flowing.clear()

    def release(self):
        """Everything held back is delivered, and forwarding goes on."""
        self.flowing.set()

    def sever(self, link: Link):
        """`link` carries nothing more, ever; neither end is told."""
        with self.changed:
            link.severed = True

    def wait_for(self, condition, seconds: float = 60):
        """Waits until `condition()` holds of the links (checked whenever one changes); fails after `seconds`."""
        with self.changed:
            assert self.changed.wait_for(condition, timeout=seconds), "the relay never saw what it waited for"

    def listeners(self) -> list[Link]:
        """The server's listening connections (`LISTEN latchkey_changes`), oldest first."""
        with self.changed:
            return [link for link in self.links if link.application_name.startswith("latchkey changes")]

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            link = Link(client, socket.create_connection(("127.0.0.1", self.target_port)))
            with self.changed:
                self.links.append(link)
                self.changed.notify_all()
            threading.Thread(target=self._from_server, args=(link,), daemon=True).start()
            threading.Thread(target=self._to_server, args=(link,), daemon=True).start()

    def _from_server(self, link: Link):
        first = True
        try:
            while data := link.client.recv(65536):
                if first:
                    # sslmode=disable (see `relayed`): the startup message is plain, and
                    # comes first, as key\0value\0 pairs.
                    first = False
                    name = data.partition(b"application_name\0")[2].partition(b"\0")[0]
                    with self.changed:
                        link.application_name = name.decode(errors="replace")
                if not self.flowing.is_set():
                    with self.changed:
                        link.holding = True
                        self.changed.notify_all()
                self.flowing.wait()
                link.holding = False
                if not link.severed:
                    link.upstream.sendall(data)
        except OSError:
            pass
        with self.changed:
            link.closed_by_server = time.monotonic()
            self.changed.notify_all()
        for s in (link.client, link.upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _to_server(self, link: Link):
        try:
            while data := link.upstream.recv(65536):
                self.flowing.wait()
                if link.severed:
                    continue
                link.client.sendall(data)
                # Counted once delivered: a heartbeat counted is one the server has heard.
                if b" heartbeat:latchkey changes " in data:
                    with self.changed:
                        link.heartbeats += 1
                        self.changed.notify_all()
        except OSError:
            pass
        if not link.severed:
            try:
                link.client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def relayed(direct: str, relay: Relay) -> str:
    """`direct` (a database URL) through `relay`, without TLS, so that the relay can read each
    connection's startup message (the test server's own URL says sslmode=disable too)."""
    url = re.sub(r"@([^:/]+):\d+/", f"@127.0.0.1:{relay.port}/", direct)
    url = re.sub(r"([?&])sslmode=[^&]*&?", r"\1", url).rstrip("?&")
    return url + ("&" if "?" in url else "?") + "sslmode=disable"


def relayed_server(tmp_path, *, wait: bool = True, on: bool = True) -> tuple[Latchkey, Relay, str]:
    """A server on a fresh database reached through a relay; answers it, the relay and the
    database's direct URL (for the CLI, which goes around the relay)."""
    direct = fresh_postgres_database()
    relay = Relay(int(re.search(r"@[^:/]+:(\d+)/", direct).group(1)))
    if on:
        relay.on()
    return Latchkey(tmp_path, relayed(direct, relay), wait=wait), relay, direct


SAM = {"username": "sam", "password": "sam-password"}


def sign_in(server: Latchkey) -> str:
    answer = requests.post(server.base + "/api/tokens/", json=SAM, timeout=60)
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


def status_of(server: Latchkey, token: str) -> int:
    """What `GET /api/users/me` with `token` answers: 200, or 403 once the token is refused."""
    answer = requests.get(server.base + "/api/users/me", headers={"Authorization": "Token " + token}, timeout=60)
    return answer.status_code


def timed(call) -> tuple[float, requests.Response]:
    start = time.monotonic()
    answer = call()
    return time.monotonic() - start, answer


def test_unreachable_at_start_then_lost_mid_run(tmp_path):
    server, relay, _ = relayed_server(tmp_path, wait=False, on=False)
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
        token = sign_in(server)
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


def test_a_database_gone_silent_answers_503_in_each_dialect_within_5_s_and_recovers(tmp_path):
    server, relay, _ = relayed_server(tmp_path)
    try:
        server.create_user("sam", "sam-password")
        session, doomed = sign_in(server), sign_in(server)
        bearer = {"Authorization": "Bearer " + session}
        # Verified once before the silence, so that each call below is refused for want of its
        # own database work (a write, a read of an account), not for want of a token check.
        for token in (session, doomed):
            assert status_of(server, token) == 200

        relay.hold()
        base = server.base
        calls = {
            # Each needs the database: a sign-in reads the account, the others write.
            "stencila": lambda: requests.post(base + "/api/tokens/", json=SAM, timeout=60),
            "quay": lambda: requests.post(base + "/api/v1/user/apptoken", json={"title": "t"}, headers=bearer,
                                          timeout=60),
            "v1": lambda: requests.post(base + "/v1/tokens", json={"title": "t"}, headers=bearer, timeout=60),
            # `doomed`, not `session`: if this revocation's query went out, it is done once the relay lets go.
            "oauth": lambda: requests.post(base + "/oauth/revoke", data={"token": doomed},
                                           headers={"Authorization": "Bearer " + doomed}, timeout=60),
            "readyz": lambda: requests.get(base + "/readyz", timeout=60),
        }
        # All at once: each is timed from its own start.
        with ThreadPoolExecutor(len(calls)) as pool:
            answers = dict(zip(calls, pool.map(timed, calls.values())))

        # docs/operating.md's figure is the promise: each 503 within 5 s of its own request.
        for name, (elapsed, _) in answers.items():
            assert elapsed < 5.0, f"{name}: 503 after {elapsed:.3f} s; docs/operating.md promises 5 s"
        shapes = {name: (answer.status_code, answer.json()) for name, (_, answer) in answers.items()}
        assert shapes["stencila"] == (503, {"message": UNAVAILABLE})
        status, quay = shapes["quay"]
        assert status == 503 and quay["error_type"] == "downstream_issue" and quay["status"] == 503
        assert quay["detail"] == UNAVAILABLE
        assert shapes["v1"] == (503, {"type": "about:blank", "title": "Service Unavailable", "status": 503,
                                      "detail": UNAVAILABLE, "code": "unavailable"})
        assert answers["v1"][1].headers["Content-Type"] == "application/problem+json"
        assert shapes["oauth"] == (503, {"error": "temporarily_unavailable"})
        assert shapes["readyz"] == (503, {"error": {"message": "The database is not reachable."}})
        # "Even while a call still waits on a dead connection": some query went out on a pooled
        # connection and is still held, unanswered, by the relay.
        relay.wait_for(lambda: any(link.holding for link in relay.links))
        assert server.process.poll() is None

        # The database answers again: everything held is delivered, and the server recovers.
        relay.release()
        server.wait_until("/readyz", seconds=60)
        made = requests.post(base + "/api/v1/user/apptoken", json={"title": "after"}, headers=bearer, timeout=60)
        assert made.status_code == 200, made.text
        assert status_of(server, session) == 200
    finally:
        relay.release()
        server.stop()
        relay.off()


async def burst(port: int, request: bytes, count: int) -> tuple[list[tuple[float, bytes]], float, bytes]:
    """Sends `request` (which says `Connection: close`) on `count` connections at once, and,
    as soon as the first answer comes back, once more on a connection of its own (the probe).
    Answers (seconds, answer) for each of the burst, and the probe's."""
    connections = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port) for _ in range(count)))

    async def send(reader, writer):
        start = time.monotonic()
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 120)
        writer.close()
        return time.monotonic() - start, answer

    pending = [asyncio.create_task(send(*connection)) for connection in connections]
    await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    probe = await send(*await asyncio.open_connection("127.0.0.1", port))
    return list(await asyncio.gather(*pending)), *probe


def parse(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


def test_beyond_1000_calls_waiting_on_a_silent_database_a_call_is_refused_at_once(tmp_path):
    server, relay, _ = relayed_server(tmp_path)
    try:
        server.create_user("sam", "sam-password")
        relay.hold()
        body = json.dumps(SAM).encode()
        request = (b"POST /api/tokens/ HTTP/1.1\r\nHost: latchkey\r\nContent-Type: application/json\r\n"
                   b"Connection: close\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body))
        # 1,100 sign-ins at once, each needing the database (the account is read before any
        # password work): 1,000 may wait for it, the rest are refused.
        answers, probe_seconds, probe = asyncio.run(burst(server.port, request, 1100))

        assert all(parse(answer) == (503, {"message": UNAVAILABLE}) for _, answer in answers)
        # A call kept waiting is answered at its deadline (4.5 s, so that the answer is out within
        # docs/operating.md's 5 s); one refused, long before it.
        waited = [seconds for seconds, _ in answers if seconds >= 4.0]
        refused = [seconds for seconds, _ in answers if seconds < 4.0]
        assert len(refused) >= 50, f"only {len(refused)} of 1,100 refused before the deadline"
        # The server's own background calls (the heartbeat, last-use writes, webhook rounds)
        # count among the 1,000 too: nearly all of them are requests of the burst.
        assert len(waited) >= 950, f"only {len(waited)} of 1,100 kept waiting: the cap is below 1,000"
        log = server.log_text(containing="1000 calls are already waiting")
        assert "1000 calls are already waiting" in log
        # Sent once the cap is full (the first answer back is a refusal, long before anything
        # waiting could be answered): refused at once, not queued. docs/operating.md gives "at once"
        # no figure; a call queued instead would take the 4.5 s deadline, so about half of it tells
        # the two apart on a busy machine (it takes about 0.1 to 0.3 s here).
        assert parse(probe) == (503, {"message": UNAVAILABLE})
        assert probe_seconds < 2.5, f"a call beyond the cap took {probe_seconds:.3f} s"
        assert server.process.poll() is None

        relay.release()
        server.wait_until("/readyz", seconds=60)
        sign_in(server)
    finally:
        relay.release()
        server.stop()
        relay.off()


def test_the_heartbeat_finds_a_listening_connection_gone_silent_within_10_s(tmp_path):
    server, relay, direct = relayed_server(tmp_path)
    try:
        server.create_user("sam", "sam-password")
        token = sign_in(server)
        # Verified: from here the node answers this token from memory, trusting its listening
        # connection to hear of any change made elsewhere.
        assert status_of(server, token) == 200
        [listener] = relay.listeners()

        # Severed just after a heartbeat reached the server: the worst moment, the longest wait
        # before the heartbeat can notice that the next one is overdue.
        heard = listener.heartbeats
        relay.wait_for(lambda: listener.heartbeats > heard)
        relay.sever(listener)
        severed = time.monotonic()
        revoked = subprocess.run([LATCHKEY, "token", "revoke", "--user", "sam", "--all", "--database", direct],
                                 capture_output=True, text=True, env=server.env)
        assert revoked.returncode == 0, revoked.stderr
        # The relay really silenced the listener: PostgreSQL's notification of the revocation
        # went nowhere, and the node still answers the token from memory.
        assert status_of(server, token) == 200

        # Once the heartbeat finds the connection dead, the node stops answering from memory.
        assert eventually(lambda: status_of(server, token), lambda status: status == 403) == 403
        # docs/operating.md's figure is the promise: within 10 s of going deaf.
        found = time.monotonic() - severed
        assert found < 10.0, f"the dead listening connection was found after {found:.3f} s; docs/operating.md promises 10 s"
        # It gave the dead connection up (it closed its end, which the relay saw), said so, ...
        relay.wait_for(lambda: listener.closed_by_server is not None)
        log = server.log_text(containing="Cannot observe changes to tokens")
        assert "Cannot observe changes to tokens; the token caches answer nothing until they can again" in log
        # ... and listens again on a connection of its own, one that hears its heartbeats.
        relay.wait_for(lambda: len(relay.listeners()) == 2 and relay.listeners()[1].heartbeats > 0)
        assert relay.listeners()[1].closed_by_server is None

        # Service as before: a new sign-in works, and a revocation made elsewhere reaches the node.
        again = sign_in(server)
        assert status_of(server, again) == 200
        revoked = subprocess.run([LATCHKEY, "token", "revoke", "--user", "sam", "--all", "--database", direct],
                                 capture_output=True, text=True, env=server.env)
        assert revoked.returncode == 0, revoked.stderr
        assert eventually(lambda: status_of(server, again), lambda status: status == 403) == 403
    finally:
        server.stop()
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
