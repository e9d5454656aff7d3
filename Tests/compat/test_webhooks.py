"""Webhooks (issue 15) against the real server process, on SQLite and on PostgreSQL.

A receiver in this process (`ThreadingHTTPServer` on 127.0.0.1) plays the operator's endpoint: it
records every request and checks each with the Standard Webhooks reference library
(`standardwebhooks.Webhook(secret).verify`), and can be told to answer 500 a few times, to hang
without answering, or to write an answer of a test's own (test_webhook_delivery_safety.py). Each
test starts its own `latchkey serve` with `--allow-insecure-webhooks` (the receiver is on loopback
over http), a short `--webhook-retry-schedule` and `--webhook-timeout`, and checks what an operator
would notice:

- token.created, token.rotated and token.revoked reach the endpoint, signed (every signature
  verifies), in the documented shape, and never carrying a token's secret;
- a receiver that fails twice gets the same message (same `webhook-id`) a third time, signed anew,
  and `latchkey webhook deliveries` shows the three attempts (500, 500, 200) and `succeeded`;
- a receiver that never answers is given up on per attempt (`timed out`), and once the retry
  schedule runs out the delivery shows `failed`;
- a server killed with SIGKILL while the receiver holds its delivery unanswered loses nothing: after
  a restart on the same database the same message is sent again and succeeds;
- two nodes on one PostgreSQL database deliver each event once, not once per node;
- bad `latchkey webhook` input is one line on stderr and a non-zero exit, and creates nothing;
- `/v1/webhooks` takes sign-in sessions only: an administrator makes operator endpoints, an app
  token is refused, and a user sees only endpoints about their own account.

Every wait is a poll with a deadline; the delivery loop runs every second on every node.
"""

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bcrypt
import pytest
from standardwebhooks import Webhook

from conftest import POSTGRES_URL, Answer, Latchkey, backends, fresh_postgres_database, run_cli

SECRET = re.compile(r"lk_[0-9A-Za-z]{36}")
MESSAGE_ID = re.compile(r"msg_[0-9a-f]{32}")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")
TIMED_OUT = re.compile(r"time[sd]?[ -]?out", re.IGNORECASE)
DEADLINE = 30.0  # for a delivery the loop (every second) makes within a tick or two; generous on a busy machine
HANG_SECONDS = 60.0  # a hanging answer; ended early when the receiver closes


def new_database(backend: str, directory: Path) -> str:
    return fresh_postgres_database() if backend == "postgres" else str(directory / "latchkey.db")


def serve_args(schedule: str = "1s,1s,1s", timeout: str = "2s") -> list[str]:
    return ["--allow-insecure-webhooks", "--webhook-retry-schedule", schedule, "--webhook-timeout", timeout]


def parallel(calls) -> list:
    calls = list(calls)
    with ThreadPoolExecutor(max_workers=min(len(calls), 4)) as pool:
        return [future.result() for future in [pool.submit(call) for call in calls]]


def until(what: str, call, done, seconds: float = DEADLINE, server: Latchkey | None = None, interval: float = 0.05):
    """Calls `call` until `done` holds of its answer; answers that answer, or fails after
    `seconds` naming `what`, the last answer and the end of the server's log."""
    deadline = time.monotonic() + seconds
    while True:
        answer = call()
        if done(answer):
            return answer
        if time.monotonic() > deadline:
            log = server.log_path.read_text()[-3000:] if server else ""
            raise AssertionError(f"{what}: not within {seconds:g} s; last seen: {answer!r:.2000}\n{log}")
        time.sleep(interval)


class Hang:
    """A receiver's answer: none at all, for `seconds` (or until the receiver closes)."""

    def __init__(self, seconds: float = HANG_SECONDS):
        self.seconds = seconds

    def __repr__(self) -> str:
        return f"Hang({self.seconds:g})"


# What the receiver does with a request: answer a status, hang, or write an answer of its own.
Behaviour = int | Hang | Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Received:
    """One request the receiver got: when (monotonic), how, and whether its signature verified."""

    at: float
    method: str
    path: str
    headers: dict[str, str]  # names lowercased
    body: bytes
    payload: dict | None  # what `Webhook.verify` answered; None when it refused
    failure: str | None  # why it refused

    @property
    def id(self) -> str | None:
        return self.headers.get("webhook-id")

    @property
    def verified(self) -> bool:
        return self.failure is None

    @property
    def type(self) -> str | None:
        return self.payload.get("type") if isinstance(self.payload, dict) else None

    @property
    def token_uuid(self) -> str | None:
        try:
            return self.payload["data"]["token"]["uuid"]
        except (KeyError, TypeError):
            return None

    def __repr__(self) -> str:
        return (f"<{self.method} {self.path} id={self.id} ts={self.headers.get('webhook-timestamp')} "
                f"type={self.type} verified={self.verified}{'' if self.verified else ' (' + self.failure + ')'}>")


class Receiver:
    """An operator's webhook endpoint on 127.0.0.1: records every request and verifies its
    signature with the endpoint's secret (`secret`, set once `webhook create` has printed it).

    What each request gets is planned with `answer(*plan, then=...)`: the next requests get the
    plan's entries in order (a status; `Hang()`: no answer; or a function given the
    `BaseHTTPRequestHandler`, which writes an answer of its own), every later one `then`.
    `holding` is set once a request is being held without an answer."""

    def __init__(self):
        self.secret: str | None = None
        self.received: list[Received] = []
        self._plan: list[Behaviour] = []
        self._then: Behaviour = 200
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.holding = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                receiver._handle(self)

            do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.url = self.base + "/hooks/latchkey"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, *plan: Behaviour, then: Behaviour = 200) -> None:
        with self._lock:
            self._plan = list(plan)
            self._then = then

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def verified(self, kind: str | None = None) -> list[Received]:
        return [r for r in self.requests() if r.verified and (kind is None or r.type == kind)]

    def with_id(self, message: str) -> list[Received]:
        return [r for r in self.requests() if r.id == message]

    def close(self) -> None:
        self._closing.set()  # ends every hang at once
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
        if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(handler.rfile.read(size))
                handler.rfile.readline()
        return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        body = self._read_body(handler)
        headers = {name.lower(): value for name, value in handler.headers.items()}
        try:
            if not self.secret:
                raise ValueError("no secret known yet")
            payload, failure = Webhook(self.secret).verify(body, headers), None
        except Exception as error:  # WebhookVerificationError, bad base64, not JSON, not UTF-8...
            payload, failure = None, f"{type(error).__name__}: {error}"
        with self._lock:
            self.received.append(Received(time.monotonic(), handler.command, handler.path, headers, body,
                                          payload, failure))
            behaviour = self._plan.pop(0) if self._plan else self._then
        if isinstance(behaviour, Hang):
            self.holding.set()
            self._closing.wait(behaviour.seconds)
            return  # no answer at all; the connection is closed
        if callable(behaviour):
            behaviour(handler)
            return
        try:
            handler.send_response(behaviour)
            handler.send_header("Content-Length", "0")
            handler.send_header("Connection", "close")
            handler.end_headers()
        except OSError:
            pass  # the server gave up on this attempt already


@pytest.fixture
def receiver():
    made = Receiver()
    try:
        yield made
    finally:
        made.close()


def create_endpoint(server: Latchkey, receiver: Receiver, *events: str, url: str | None = None) -> dict:
    """`latchkey webhook create` for the receiver, as JSON; the receiver learns the secret."""
    args = ["webhook", "create", url or receiver.url, "--allow-insecure", "--json"]
    for event in events or ("*",):
        args += ["--event", event]
    endpoint = json.loads(server.cli(*args))
    assert endpoint["secret"].startswith("whsec_"), endpoint
    assert endpoint["url"] == (url or receiver.url) and endpoint.get("disabled_at") is None, endpoint
    receiver.secret = endpoint["secret"]
    return endpoint


def deliveries(server: Latchkey, endpoint: str, *flags: str) -> list[dict]:
    return json.loads(server.cli("webhook", "deliveries", "--endpoint", endpoint, "--json", *flags))


def delivery_of(server: Latchkey, endpoint: str, message: str) -> dict | None:
    found = [d for d in deliveries(server, endpoint) if d["message"] == message]
    assert len(found) <= 1, f"one message, several deliveries to one endpoint: {found}"
    return found[0] if found else None


def attempts_in_order(delivery: dict) -> list[dict]:
    """The delivery's attempts, oldest first (whatever order the listing gives them in)."""
    return sorted(delivery["attempts"], key=lambda a: datetime.fromisoformat(a["at"].replace("Z", "+00:00")))


def wait_for_delivery(server: Latchkey, endpoint: str, message: str, state: str, attempts: int | None = None,
                      seconds: float = DEADLINE) -> dict:
    """Polls `webhook deliveries` until the message's delivery is in `state` (with `attempts`
    attempts recorded, when given): the state is written with the last attempt."""
    return until(f"delivery of {message} {state}" + (f" after {attempts} attempts" if attempts else ""),
                 lambda: delivery_of(server, endpoint, message),
                 lambda d: d is not None and d["state"] == state and (attempts is None or len(d["attempts"]) == attempts),
                 seconds, server, interval=0.2)


def bcrypt_hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


def import_users(database: str, directory: Path, users: dict[str, tuple[str, bool]]) -> None:
    """Imports `users` (username -> (password, is_admin)) with cheap bcrypt hashes (no scrypt work
    to set up; a sign-in costs one scrypt derivation, seconds in a debug build)."""
    lines = [json.dumps({"username": name, "email": f"{name}@example.org", "password": bcrypt_hash(password),
                         "is_active": True, "is_admin": admin}) for name, (password, admin) in users.items()]
    (directory / "users.jsonl").write_text("\n".join(lines) + "\n")
    result = run_cli(database, "user", "import", str(directory / "users.jsonl"))
    assert result.returncode == 0, result.stderr


def signin(server: Latchkey, username: str, password: str) -> str:
    answer = server.request("POST", "/api/tokens/", {"username": username, "password": password})
    assert answer.status == 201, answer
    return answer.json["token"]


def assert_no_secret(received: list[Received], secrets: list[str]) -> None:
    for request in received:
        text = request.body.decode("utf-8", errors="replace") + "\n" + json.dumps(request.headers)
        for secret in secrets:
            assert secret not in text, f"a secret ({secret[:8]}…) was sent to the endpoint: {request}"
        assert not SECRET.search(text), f"a token secret was sent to the endpoint: {request}"


@pytest.mark.parametrize("backend", backends())
def test_token_events_arrive_signed_and_without_secrets(backend, tmp_path, receiver):
    """An operator who subscribes to every event hears of a token's creation, rotation and
    revocation within seconds; each request verifies with the reference Standard Webhooks library
    and the secret `webhook create` printed, carries the token's uuid and owner, and never the
    token's secret."""
    server = Latchkey(tmp_path, new_database(backend, tmp_path), args=serve_args())
    try:
        server.cli("user", "create", "alice", "--no-password")
        endpoint = create_endpoint(server, receiver, "*")
        assert endpoint["events"] == ["*"] and endpoint.get("owner") is None, endpoint

        created = json.loads(server.cli("token", "create", "--user", "alice", "--title", "ci", "--json"))
        rotated = json.loads(server.cli("token", "rotate", created["uuid"], "--json"))
        server.cli("token", "revoke", rotated["uuid"])
        secrets = [created["token"], rotated["token"]]
        assert all(SECRET.fullmatch(secret) for secret in secrets), secrets

        def about(kind: str, token: str) -> list[Received]:
            return [r for r in receiver.verified(kind) if r.token_uuid == token]

        wanted = [("token.created", created["uuid"]), ("token.rotated", created["uuid"]),
                  ("token.revoked", rotated["uuid"])]
        until("token.created, token.rotated and token.revoked delivered and verified",
              receiver.requests, lambda _: all(about(kind, token) for kind, token in wanted), server=server)

        received = receiver.requests()
        assert all(r.verified for r in received), [r for r in received if not r.verified]
        ids = [r.id for r in received]
        assert len(ids) == len(set(ids)), f"an event was delivered twice to an endpoint that answered 200: {received}"
        for kind, token in wanted:
            (request,) = about(kind, token)
            event = request.payload
            assert event["type"] == kind and TIMESTAMP.fullmatch(event["timestamp"]), event
            assert json.loads(request.body) == event
            data = event["data"]
            assert data["token"]["uuid"] == token and data["token"]["kind"] == "app", event
            assert data["token"]["title"] == "ci", event
            assert data["owner"]["username"] == "alice" and isinstance(data["owner"]["id"], int), event
            assert data["actor"]["via"] == "cli", event
            assert request.method == "POST" and request.path == "/hooks/latchkey", request
            assert MESSAGE_ID.fullmatch(request.id), request.headers
            assert request.headers["webhook-signature"].startswith("v1,"), request.headers
            assert request.headers.get("content-type", "").startswith("application/json"), request.headers
            assert request.headers.get("user-agent") == "Latchkey-Webhooks/1", request.headers
        (rotation,) = about("token.rotated", created["uuid"])
        assert rotation.payload["data"]["successor"]["uuid"] == rotated["uuid"], rotation.payload
        assert_no_secret(received, secrets + [endpoint["secret"]])

        for kind, token in wanted:
            (request,) = about(kind, token)
            delivery = wait_for_delivery(server, endpoint["id"], request.id, "succeeded", attempts=1)
            assert delivery["type"] == kind and delivery["endpoint"] == endpoint["id"], delivery
            assert delivery["attempts"][0]["status"] == 200, delivery
    finally:
        server.stop()


@pytest.mark.parametrize("backend", backends())
def test_failed_attempts_are_retried_with_the_same_message_id(backend, tmp_path, receiver):
    """An endpoint that answers 500 twice gets the same message (same `webhook-id`) a third time,
    freshly signed each time (a new `webhook-timestamp`), and `webhook deliveries` shows it
    `succeeded` after three attempts: 500, 500, 200."""
    receiver.answer(500, 500, then=200)
    server = Latchkey(tmp_path, new_database(backend, tmp_path), args=serve_args("1s,1s,1s", "2s"))
    try:
        server.cli("user", "create", "alice", "--no-password")
        endpoint = create_endpoint(server, receiver, "token.created")
        token = json.loads(server.cli("token", "create", "--user", "alice", "--title", "retried", "--json"))

        first = until("the first attempt", lambda: receiver.verified("token.created"), bool, server=server)[0]
        assert first.token_uuid == token["uuid"], first
        attempts = until("three attempts of one message", lambda: receiver.with_id(first.id),
                         lambda found: len(found) >= 3, server=server)
        assert all(r.verified for r in attempts), attempts
        assert all(r.body == first.body for r in attempts), "a retry sent another body"
        stamps = [int(r.headers["webhook-timestamp"]) for r in attempts]
        assert stamps == sorted(set(stamps)), f"each attempt is signed anew with its own timestamp: {stamps}"

        delivery = wait_for_delivery(server, endpoint["id"], first.id, "succeeded", attempts=3)
        assert [a["status"] for a in attempts_in_order(delivery)] == [500, 500, 200], delivery
        assert len(receiver.with_id(first.id)) == 3, receiver.requests()
        assert delivery["type"] == "token.created", delivery
    finally:
        server.stop()


@pytest.mark.parametrize("backend", backends())
def test_an_endpoint_that_never_answers_times_out_and_fails(backend, tmp_path, receiver):
    """An endpoint that never answers holds no delivery for long: each attempt ends after
    `--webhook-timeout` and shows a timeout in `webhook deliveries`, and once the retry schedule
    (here one retry) runs out the delivery is `failed`, listed by `--failed`, with nothing left
    scheduled."""
    receiver.answer(then=Hang())
    server = Latchkey(tmp_path, new_database(backend, tmp_path), args=serve_args("1s", "1s"))
    try:
        server.cli("user", "create", "alice", "--no-password")
        endpoint = create_endpoint(server, receiver, "token.created")
        server.cli("token", "create", "--user", "alice", "--title", "unanswered")
        first = until("the first attempt", lambda: receiver.verified("token.created"), bool, server=server)[0]

        delivery = wait_for_delivery(server, endpoint["id"], first.id, "failed", attempts=2)
        for attempt in delivery["attempts"]:
            assert attempt["status"] is None and TIMED_OUT.search(attempt["error"] or ""), delivery
        assert delivery.get("next_attempt_at") is None, delivery
        sent = receiver.with_id(first.id)
        assert len(sent) == 2 and all(r.verified for r in sent), sent
        assert [d["message"] for d in deliveries(server, endpoint["id"], "--failed")] == [first.id]
        # The operator's log tells the same story: a timeout, not a failure to connect.
        server.stop()
        failures = [line for line in server.log_path.read_text().splitlines() if "Webhook attempt failed" in line]
        assert len(failures) == 2 and all("timed out" in line for line in failures), failures
    finally:
        server.stop()


@pytest.mark.parametrize("backend", backends())
def test_a_delivery_cut_off_by_sigkill_is_sent_after_restart(backend, tmp_path, receiver):
    """A node killed (SIGKILL) while its endpoint has not yet answered loses no event: once the
    delivery's lease (timeout + 5 s) has passed, the restarted server sends the same message (same
    `webhook-id`, a valid signature) again, and it ends `succeeded` after that one recorded
    attempt (the attempt cut off left no record)."""
    # The kill must land while the attempt is under way: the receiver holds the request for up to
    # a minute, and the server gives up on it after `timeout`, so the kill follows the moment the
    # receiver says it holds the request (an event, not a poll), far inside `timeout`. Had it come
    # too late anyway, a timed-out attempt would be recorded, and the last assertion says so.
    timeout = 3.0
    database = new_database(backend, tmp_path)
    receiver.answer(Hang(), then=200)
    server = Latchkey(tmp_path, database, name="before-kill", args=serve_args("1s,1s,1s", f"{timeout:g}s"))
    try:
        server.cli("user", "create", "alice", "--no-password")
        endpoint = create_endpoint(server, receiver, "token.created")
        server.cli("token", "create", "--user", "alice", "--title", "cut off")
        assert receiver.holding.wait(DEADLINE), "the delivery never reached the receiver:\n" + server.log_text()
        server.process.kill()
        server.process.wait(timeout=30)
        server.stop()
        (first,) = receiver.requests()
        assert first.verified and first.type == "token.created", first
        receiver.answer(then=200)

        server = Latchkey(tmp_path, database, name="after-kill", args=serve_args("1s,1s,1s", f"{timeout:g}s"))
        again = until("the same message sent again after the restart",
                      lambda: [r for r in receiver.with_id(first.id) if r is not first and r.verified], bool,
                      seconds=timeout + 5 + DEADLINE, server=server)
        assert again[0].body == first.body, "the message sent again is not the same event"
        delivery = wait_for_delivery(server, endpoint["id"], first.id, "succeeded")
        assert [a["status"] for a in delivery["attempts"]] == [200], (
            f"the killed attempt was recorded (the kill did not land mid-delivery?): {delivery}")
        assert len(receiver.with_id(first.id)) == 2, receiver.requests()
    finally:
        server.stop()


@pytest.mark.skipif(not POSTGRES_URL, reason="needs LATCHKEY_TEST_POSTGRES_URL (scripts/test starts one)")
def test_two_nodes_deliver_each_event_once(tmp_path, receiver):
    """Two nodes on one PostgreSQL database, both running the delivery loop: each of 20 new tokens
    (made through both nodes at once) is announced to the endpoint exactly once, not once per
    node, and each delivery shows one attempt."""
    database = fresh_postgres_database()
    import_users(database, tmp_path, {"ann": ("ann-webhook-password", False)})
    a = Latchkey(tmp_path, database, name="node-a", wait=False, args=serve_args())
    b = Latchkey(tmp_path, database, name="node-b", wait=False, args=serve_args())
    try:
        a.wait_until("/readyz")
        b.wait_until("/readyz")
        endpoint = create_endpoint(a, receiver, "token.created")
        session = signin(a, "ann", "ann-webhook-password")

        def make(n: int) -> dict:
            node = (a, b)[n % 2]
            answer = node.request("POST", "/api/v1/user/apptoken", {"title": f"two nodes {n}"},
                                  headers={"Authorization": "Bearer " + session})
            assert answer.status == 200, answer
            return answer.json["token"]

        tokens = parallel([lambda n=n: make(n) for n in range(20)])
        uuids = {token["uuid"] for token in tokens}
        assert len(uuids) == 20

        def announced() -> list[Received]:
            return [r for r in receiver.verified("token.created") if r.token_uuid in uuids]

        until("20 token.created events delivered", announced,
              lambda found: {r.token_uuid for r in found} == uuids, server=a)
        messages = {r.token_uuid: r.id for r in announced()}
        until("20 deliveries recorded as succeeded",
              lambda: [d for d in deliveries(a, endpoint["id"]) if d["message"] in messages.values()],
              lambda found: len(found) == 20 and all(d["state"] == "succeeded" for d in found),
              server=a, interval=0.2)
        # Both nodes stop (SIGTERM; each exits once its delivery loop has ended): from then on
        # neither can send anything, so a duplicate either node had claimed has arrived by now or
        # never will. What follows reads the final record, no sooner than that.
        a.stop()
        b.stop()
        received = receiver.requests()
        assert all(r.verified for r in received), [r for r in received if not r.verified]
        ids = [r.id for r in received]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        assert not repeated, f"delivered more than once: {[r for r in received if r.id in repeated]}"
        per_token = [r.token_uuid for r in received if r.token_uuid in uuids]
        assert sorted(per_token) == sorted(uuids), "a token.created event arrived twice under two ids"
        listed = [d for d in deliveries(a, endpoint["id"]) if d["message"] in messages.values()]
        assert len(listed) == 20 and all(len(d["attempts"]) == 1 for d in listed), listed
        assert_no_secret(received, [token["token_code"] for token in tokens] + [session])
    finally:
        a.stop()
        b.stop()


@pytest.mark.parametrize("backend", backends())
def test_bad_webhook_input_is_one_line_and_creates_nothing(backend, tmp_path):
    """Typing an unknown event type, an ftp:// URL, or an http:// or loopback URL without
    `--allow-insecure` gets one line on stderr and a non-zero exit (no usage dump, no crash), as
    does naming an endpoint that does not exist; no endpoint is made by any of them."""
    database = new_database(backend, tmp_path)
    made = run_cli(database, "webhook", "create", "http://127.0.0.1:9/hook", "--event", "token.created",
                   "--allow-insecure", "--json")
    assert made.returncode == 0, made.stderr
    control = json.loads(made.stdout)["id"]
    cases = {
        "unknown event type": ["webhook", "create", "http://127.0.0.1:9/hook", "--event", "token.exploded",
                               "--allow-insecure"],
        "ftp:// URL": ["webhook", "create", "ftp://127.0.0.1/hook", "--event", "token.created", "--allow-insecure"],
        "http:// without --allow-insecure": ["webhook", "create", "http://127.0.0.1:9/hook",
                                             "--event", "token.created"],
        "loopback without --allow-insecure": ["webhook", "create", "https://127.0.0.1:9/hook",
                                              "--event", "token.created"],
        "unknown endpoint id": ["webhook", "disable", str(uuid.uuid4())],
    }
    for case, args in cases.items():
        result = run_cli(database, *args)
        assert result.returncode != 0, f"{case}: `latchkey {' '.join(args)}` succeeded: {result.stdout}"
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("latchkey: "), f"{case}: {result.stderr!r}"
        for crash in ("Traceback", "Fatal error", "Stack dump", "Usage:", "Current stack trace"):
            assert crash not in result.stderr, f"{case}: {result.stderr!r}"
        assert not result.stdout.strip(), f"{case}: printed {result.stdout!r}"
    listed = run_cli(database, "webhook", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [endpoint["id"] for endpoint in json.loads(listed.stdout)] == [control], listed.stdout


def assert_problem(answer: Answer, status: int, codes: set[str]) -> None:
    assert answer.status == status, answer
    assert answer.headers.get("content-type", "").startswith("application/problem+json"), answer
    assert answer.json and answer.json.get("code") in codes, answer


@pytest.mark.parametrize("backend", backends())
def test_v1_webhooks_need_a_session_and_show_each_user_their_own(backend, tmp_path, receiver):
    """Over `/v1/webhooks`: an administrator's sign-in session makes an operator endpoint (201, the
    secret this once, `Location`, `no-store`) and sees every endpoint; an app token, even the
    administrator's, is refused with 403; a user's session makes endpoints about their own account
    and sees, reads and deletes only those."""
    database = new_database(backend, tmp_path)
    import_users(database, tmp_path, {"boss": ("boss-webhook-password", True),
                                      "alice": ("alice-webhook-password", False),
                                      "bob": ("bob-webhook-password", False)})
    server = Latchkey(tmp_path, database, args=serve_args())
    try:
        boss, alice = parallel([lambda: signin(server, "boss", "boss-webhook-password"),
                                lambda: signin(server, "alice", "alice-webhook-password")])
        app = json.loads(server.cli("token", "create", "--user", "boss", "--title", "app", "--json"))["token"]
        bob_endpoint = json.loads(server.cli("webhook", "create", receiver.base + "/bob", "--event", "*",
                                             "--user", "bob", "--allow-insecure", "--json"))
        assert bob_endpoint["owner"] == "bob", bob_endpoint

        def call(token: str, method: str, path: str, body=None) -> Answer:
            return server.request(method, path, body, headers={"Authorization": "Bearer " + token})

        made = call(boss, "POST", "/v1/webhooks", {"url": receiver.base + "/operator", "events": ["*"],
                                                   "description": "operator"})
        assert made.status == 201, made
        operator = made.json
        assert operator["secret"].startswith("whsec_") and Webhook(operator["secret"]), operator
        assert operator.get("owner") is None and operator["events"] == ["*"], operator
        assert operator["description"] == "operator" and operator["url"] == receiver.base + "/operator", operator
        assert made.headers.get("location", "").endswith(f"/v1/webhooks/{operator['id']}"), made
        assert "no-store" in made.headers.get("cache-control", ""), made

        for method, body in (("GET", None), ("POST", {"url": receiver.base + "/app", "events": ["*"]})):
            assert_problem(call(app, method, "/v1/webhooks", body), 403, {"forbidden", "insufficient_scope"})

        mine = call(alice, "POST", "/v1/webhooks", {"url": receiver.base + "/alice",
                                                    "events": ["token.created", "token.revoked"]})
        assert mine.status == 201 and mine.json["owner"] == "alice", mine
        assert mine.json["events"] == ["token.created", "token.revoked"], mine
        alice_id = mine.json["id"]

        listed = call(alice, "GET", "/v1/webhooks")
        assert listed.status == 200 and [e["id"] for e in listed.json["webhooks"]] == [alice_id], listed
        assert all("secret" not in e for e in listed.json["webhooks"]), listed
        for other in (operator["id"], bob_endpoint["id"]):
            answer = call(alice, "GET", f"/v1/webhooks/{other}")
            assert answer.status in (403, 404), answer
            answer = call(alice, "DELETE", f"/v1/webhooks/{other}")
            assert answer.status in (403, 404), answer
        read = call(alice, "GET", f"/v1/webhooks/{alice_id}")
        assert read.status == 200 and read.json["id"] == alice_id and "secret" not in read.json, read

        everything = call(boss, "GET", "/v1/webhooks")
        assert everything.status == 200, everything
        assert sorted(e["id"] for e in everything.json["webhooks"]) == sorted(
            [operator["id"], alice_id, bob_endpoint["id"]])
        assert all("secret" not in e for e in everything.json["webhooks"]), everything
        assert call(boss, "GET", f"/v1/webhooks/{alice_id}").status == 200

        assert call(alice, "DELETE", f"/v1/webhooks/{alice_id}").status == 204
        remaining = call(boss, "GET", "/v1/webhooks")
        assert sorted(e["id"] for e in remaining.json["webhooks"]) == sorted(
            [operator["id"], bob_endpoint["id"]]), remaining
    finally:
        server.stop()
