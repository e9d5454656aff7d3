"""What the "Safety" section of docs/webhooks.md promises about each delivery attempt, against the
real server process:

- a host that resolves to loopback is refused at delivery, not only at creation (and looked up
  again before every attempt), with `--allow-insecure-webhooks` off: the attempt is recorded as
  `the host does not resolve to a public address` and nothing connects to the loopback address;
- a 3xx answer is a failed attempt, and its `Location` is not followed;
- at most 64 KiB of an answer is read: an endless 200 is recorded as answered, not timed out,
  and the receiver is cut off long before it has sent what it offered;
- answers are not decompressed: the request offers no compressed encoding, and a gzip bomb is
  recorded as an answer like any other.

Attempts are read as their owner reads them, through `GET /v1/webhooks/{id}/deliveries`. These are
the dispatcher's HTTP side, the same code on either backend, so they run on SQLite only.
"""

import gzip
import os
import shutil
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from conftest import Latchkey
from test_support_webhooks import Receiver, import_users, signin, until

PASSWORD = "alice-safety-password"
NOT_PUBLIC = "the host does not resolve to a public address"
HOST = "hooks.latchkey.test"
# TEST-NET-3 (RFC 5737): public to Latchkey's check, and nobody answers there.
PUBLIC_ADDRESS = "203.0.113.7"
DEADLINE = 30.0
OFFERED = 1 << 30  # the Content-Length of the endless answer: 1 GiB
# What an endless answer may get into the sockets before the server stops reading: 64 KiB read,
# plus the kernel's send and receive buffers on loopback (a few MiB each when autotuned).
CUT_OFF_BELOW = 32 << 20


class Owner:
    """alice's sign-in session on a server, and her webhook endpoints through /v1."""

    def __init__(self, server: Latchkey):
        self.server = server
        self.session = signin(server, "alice", PASSWORD)

    def call(self, method: str, path: str, body=None):
        return self.server.request(method, path, body, headers={"Authorization": "Bearer " + self.session})

    def endpoint(self, url: str) -> dict:
        made = self.call("POST", "/v1/webhooks", {"url": url, "events": ["token.created"]})
        assert made.status == 201, made
        return made.json

    def announce(self) -> None:
        """A new app token of alice's: one token.created event for her endpoints."""
        made = self.call("POST", "/v1/tokens", {"title": "announced"})
        assert made.status == 201, made

    def delivery(self, endpoint: dict, done, what: str) -> dict:
        """Polls the endpoint's deliveries until its one delivery satisfies `done`."""
        def one():
            answer = self.call("GET", f"/v1/webhooks/{endpoint['id']}/deliveries")
            assert answer.status == 200, answer
            listed = answer.json["deliveries"]
            assert len(listed) <= 1, f"one event, several deliveries: {listed}"
            return listed[0] if listed else None
        return until(what, one, lambda d: d is not None and done(d), seconds=DEADLINE, server=self.server,
                     interval=0.1)


def users(tmp_path: Path, database: str) -> None:
    import_users(database, tmp_path, {"alice": (PASSWORD, False)})


# --- a. A host that resolves to loopback is refused at delivery -----------------------------


class Listener:
    """A TCP port on 127.0.0.1 that counts the connections made to it (a TLS handshake, had the
    server got that far, would begin with one)."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.accepted = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return  # closed
            self.accepted += 1
            connection.close()

    def close(self):
        self.socket.close()


def hosts_prefix(hosts: Path) -> list[str]:
    """Runs the server in a mount namespace of its own where `hosts` is /etc/hosts. glibc reads
    /etc/hosts anew at each lookup, and the bind mount follows the file's inode, so a test that
    rewrites `hosts` in place changes what the server's next lookup answers."""
    return ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', str(hosts)]


def bind_mount_refusal(tmp_path: Path) -> str | None:
    """Why a mount namespace with our own /etc/hosts cannot be had here, or None."""
    if not shutil.which("unshare"):
        return "no unshare(1) on this machine"
    probe = tmp_path / "hosts-probe"
    probe.write_text(f"{PUBLIC_ADDRESS} probe.{HOST}\n")
    result = subprocess.run(hosts_prefix(probe) + ["grep", "-q", f"probe.{HOST}", "/etc/hosts"],
                            capture_output=True, text=True)
    return None if result.returncode == 0 else f"unshare -m with a bind mount failed: {result.stderr.strip()}"


def test_a_host_resolving_to_loopback_is_refused_at_each_attempt(tmp_path):
    """Without `--allow-insecure-webhooks`, alice registers https://hooks.latchkey.test (creation
    looks nothing up: the name is no address). While the name resolves to a public address the
    server tries to connect (the attempt fails with no answer, as nobody is there); once it
    resolves to 127.0.0.1, where a port is listening, every attempt is recorded as `the host does
    not resolve to a public address`, nothing ever connects to that port, and when the retries run
    out the delivery has failed and the endpoint is disabled."""
    refusal = bind_mount_refusal(tmp_path)
    if refusal:
        if os.environ.get("CI") == "true":
            pytest.fail(refusal + " (CI runs as root, where it must work)")
        pytest.skip(refusal + " (a private /etc/hosts for the server needs unshare(1) and root)")
    hosts = tmp_path / "hosts"
    original = Path("/etc/hosts").read_text()
    hosts.write_text(original + f"\n{PUBLIC_ADDRESS} {HOST}\n")
    listener = Listener()
    database = str(tmp_path / "latchkey.db")
    users(tmp_path, database)
    server = Latchkey(tmp_path, database, args=["--webhook-retry-schedule", "1s,1s,1s", "--webhook-timeout", "2s"],
                      prefix=hosts_prefix(hosts))
    try:
        alice = Owner(server)
        endpoint = alice.endpoint(f"https://{HOST}:{listener.port}/hook")
        alice.announce()

        first = alice.delivery(endpoint, lambda d: d["attempts"], "the first attempt")["attempts"][0]
        # Passed the check and tried to connect: the server reads the test's hosts file.
        assert first["status"] is None and first["error"] in ("could not connect", "timed out after 2 s"), (
            f"{first}: the server did not see {HOST} resolve to {PUBLIC_ADDRESS} (its lookups ask for addresses"
            " of families configured on a non-loopback interface: does this machine have IPv4?)")

        with open(hosts, "r+") as file:  # in place: the bind mount holds this inode
            file.truncate(0)
            file.write(original + f"\n127.0.0.1 {HOST}\n")

        # The failed state is written with the last attempt: every attempt has been made by then.
        final = alice.delivery(endpoint, lambda d: d["state"] == "failed", "the delivery failed for good")
        errors = [attempt["error"] for attempt in final["attempts"]]
        assert len(errors) == 4 and all(attempt["status"] is None for attempt in final["attempts"]), final
        # An attempt already under way when the file changed may have used the old address;
        # from the first refusal on, every attempt is refused.
        assert NOT_PUBLIC in errors, final
        assert set(errors[errors.index(NOT_PUBLIC):]) == {NOT_PUBLIC}, final
        assert listener.accepted == 0, "the server connected to the loopback address"
        disabled = alice.call("GET", f"/v1/webhooks/{endpoint['id']}").json
        assert (disabled["disabled_reason"] or "").startswith("every delivery failed since"), disabled
        assert HOST not in Path("/etc/hosts").read_text(), "the bind mount leaked out of its namespace"
    finally:
        server.stop()
        listener.close()


# --- b, c, d. What the server does with an answer -------------------------------------------


@pytest.fixture(scope="module")
def insecure(tmp_path_factory):
    """One server for alice's loopback receivers (`--allow-insecure-webhooks`), one retry a second
    after a failure, 5 s for each attempt; each test makes and deletes an endpoint of its own."""
    directory = tmp_path_factory.mktemp("safety")
    database = str(directory / "latchkey.db")
    users(directory, database)
    server = Latchkey(directory, database, args=["--allow-insecure-webhooks", "--webhook-retry-schedule", "1s",
                                                 "--webhook-timeout", "5s"])
    try:
        yield Owner(server)
    finally:
        server.stop()


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make() -> Receiver:
        made.append(Receiver())
        return made[-1]
    try:
        yield make
    finally:
        for receiver in made:
            receiver.close()


def endpoint_for(alice: Owner, receiver: Receiver) -> dict:
    endpoint = alice.endpoint(receiver.url)
    receiver.secret = endpoint["secret"]
    return endpoint


def redirect(status: int, location: str):
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    return answer


def test_a_redirect_is_a_failed_attempt_and_not_followed(insecure, receivers):
    """An endpoint that answers 302, then 307 (which keeps the POST), to another receiver: both
    attempts are recorded as failed with those statuses, the delivery fails once its one retry is
    spent, and the place it was sent to hears nothing."""
    alice = insecure
    receiver, elsewhere = receivers(), receivers()
    receiver.answer(redirect(302, elsewhere.url), redirect(307, elsewhere.url), then=200)
    endpoint = endpoint_for(alice, receiver)
    try:
        alice.announce()
        # Each attempt is recorded only after its answer was dealt with: a redirect followed would
        # have reached `elsewhere` before the record (and recorded its 200 instead).
        final = alice.delivery(endpoint, lambda d: d["state"] == "failed", "the delivery failed for good")
        assert [(a["status"], a["error"]) for a in final["attempts"]] == [(302, None), (307, None)], final
        assert len(receiver.requests()) == 2 and all(r.verified for r in receiver.requests()), receiver.requests()
        assert elsewhere.requests() == [], "a redirect was followed"
    finally:
        alice.call("DELETE", f"/v1/webhooks/{endpoint['id']}")


class Endless:
    """An answer of 200 that offers 1 GiB and writes it until the connection breaks; counts
    what the socket took."""

    def __init__(self):
        self.sent = 0
        self.ended = threading.Event()
        self.how = ""

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        chunk = b"x" * 65536
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "text/plain")
            handler.send_header("Content-Length", str(OFFERED))
            handler.end_headers()
            while self.sent < OFFERED:
                handler.wfile.write(chunk)
                self.sent += len(chunk)
            self.how = "sent it all"
        except OSError as error:
            self.how = f"cut off: {type(error).__name__}"
        finally:
            self.ended.set()


def test_at_most_64_kib_of_an_answer_is_read(insecure, receivers):
    """An endpoint that answers 200 with a 1 GiB body: the attempt is recorded as answered 200
    (not timed out after 5 s, as reading it all might be), and the server cuts the connection:
    the receiver's writes fail long before 32 MiB."""
    alice = insecure
    receiver, endless = receivers(), Endless()
    receiver.answer(endless, then=200)
    endpoint = endpoint_for(alice, receiver)
    try:
        alice.announce()
        final = alice.delivery(endpoint, lambda d: d["state"] != "pending", "the attempt recorded")
        assert final["state"] == "succeeded", final
        assert [(a["status"], a["error"]) for a in final["attempts"]] == [(200, None)], final
        # The server has moved on; the receiver's writes end when the server closes its side.
        assert endless.ended.wait(DEADLINE), (
            f"the server still holds the connection open after recording the attempt ({endless.sent} bytes taken)")
        assert endless.how.startswith("cut off") and endless.sent < CUT_OFF_BELOW, (endless.how, endless.sent)
    finally:
        alice.call("DELETE", f"/v1/webhooks/{endpoint['id']}")


def gzip_bomb() -> bytes:
    """50 MiB of zeros gzipped to about 50 KiB: within the 64 KiB the server reads."""
    bomb = gzip.compress(bytes(50 << 20), compresslevel=9)
    assert len(bomb) < 64 << 10, len(bomb)
    return bomb


def test_answers_are_not_decompressed(insecure, receivers):
    """The request offers no compressed encoding (a receiver has no reason to compress), and a gzip
    bomb sent anyway is recorded as the 200 it is, the server still serving afterwards.

    What is not observable from outside: whether the server inflated the bomb. It keeps none of an
    answer and records the status from the answer's head, and even an inflating client would stop
    at 64 KiB of output; so this shows the request's side and that a bomb does no harm, not the
    absence of an inflater."""
    alice = insecure
    receiver, bomb = receivers(), gzip_bomb()

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(bomb)))
        handler.end_headers()
        try:
            handler.wfile.write(bomb)
        except OSError:
            pass
    receiver.answer(answer, then=200)
    endpoint = endpoint_for(alice, receiver)
    try:
        alice.announce()
        final = alice.delivery(endpoint, lambda d: d["state"] != "pending", "the attempt recorded")
        assert [(a["status"], a["error"]) for a in final["attempts"]] == [(200, None)], final
        assert final["state"] == "succeeded", final
        (request,) = receiver.requests()
        assert request.verified, request
        offered = request.headers.get("accept-encoding", "").lower()
        assert not any(coding in offered for coding in ("gzip", "deflate", "br", "compress", "zstd")), offered
        assert alice.server.process.poll() is None, "the server exited"
        assert alice.call("GET", "/v1/tokens/self").status == 200
    finally:
        alice.call("DELETE", f"/v1/webhooks/{endpoint['id']}")
