"""What the webhook suites (test_webhooks*.py, test_webhook_delivery_safety.py) share.

A receiver in this process (`ThreadingHTTPServer` on 127.0.0.1) plays the operator's endpoint: it
records every request and checks each with the Standard Webhooks reference library
(`standardwebhooks.Webhook(secret).verify`), and can be told to answer 500 a few times, to hang
without answering, or to write an answer of a test's own (test_webhook_delivery_safety.py). The
`receiver` fixture gives each test a fresh one; a module takes it by naming it:
`receiver = test_support_webhooks.receiver`. Beside it: the `latchkey serve` options the suites
run with, the CLI's view of an endpoint's deliveries, users imported with cheap bcrypt hashes and
signed in, and `until`, the poll with a deadline behind every wait.

Support code, not tests. Its name starts with `test_` as a test module's does, so that pytest
rewrites its asserts as it does the tests' own, and so that hypothesis leaves its literals out of
what it generates: hypothesis mixes in the literals of every other (non-test) module loaded, which
would change the requests test_fuzz.py's fixed seeds replay, and make them depend on which suites
run beside it.
"""

import json
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bcrypt
import pytest
from standardwebhooks import Webhook

from conftest import Latchkey, fresh_postgres_database, run_cli

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
