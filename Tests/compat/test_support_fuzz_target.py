"""The server under fuzz (test_fuzz.py): a `Target` is one `latchkey serve` on a fresh database and
everything the fuzzer knows about it: the credentials it set up (sessions and app tokens of
several scopes for alice and the administrator boss, an OAuth client, revoked tokens, a pool of
live ones), the tokens issued and revoked since, the requests sent and the failures seen.

`Target.send` checks every request as it goes: an answer came, its status is below 500, and the
server process is still running; every 100 requests `GET /healthz` must answer 200. A crash is
recorded with the exact request and the end of the server's log, the server is restarted on the
same database, and fuzzing goes on; `Target.report` lists the failures.

Leak reports are rate-limited per client address: the target sends them from ever new loopback
addresses (127.x.y.z, all this machine), so that they reach the parser instead of the limiter.

Support code, not tests. Its name starts with `test_` as a test module's does, so that pytest
rewrites its asserts as it does the tests' own, and so that hypothesis leaves its literals out of
what it generates: hypothesis mixes in the literals of every other (non-test) module loaded, which
would change the requests test_fuzz.py's fixed seeds replay, and make them depend on which suites
run beside it.
"""

import http.client
import json
import os
import random
import re
import time
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path

from conftest import Latchkey, fresh_postgres_database
from test_support_fuzz_values import authorization, forged_token

REQUEST_TIMEOUT = 60
HEALTH_EVERY = 100
# The crashed thread's backtrace, quickly symbolicated: the process exits within seconds.
CRASH_BACKTRACE = "enable=yes,interactive=no,threads=crashed,symbolicate=fast"
# How long a process that stopped answering may take to exit before it counts as hung.
CRASH_EXIT_SECONDS = 90
# After this many crashes the fuzzer stops: the failures so far are reported.
MAX_RESTARTS = 25

ALICE_PASSWORD = "alice-fuzz-password"
BOSS_PASSWORD = "boss-fuzz-password"


@dataclass
class Sent:
    method: str
    path: str
    headers: list
    body: bytes


@dataclass
class Answer:
    status: int
    headers: list
    body: bytes

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass
class Failure:
    kind: str
    request: Sent | None
    detail: str
    log_tail: str = ""


@dataclass
class Issued:
    """A token the fuzzer was given: its secret, and its Quay uuid when it has one."""
    secret: str
    uuid: str | None = None
    owner: str = "alice"
    note: str = ""


class Target:
    """One server and everything the fuzzer knows about it: credentials, tokens issued and
    revoked, the requests sent and the failures seen. Restarts the server after a crash."""

    def __init__(self, directory: Path, backend: str):
        self.directory = directory
        self.backend = backend
        self.database = fresh_postgres_database() if backend == "postgres" else str(directory / "latchkey.db")
        self.rng = random.Random(1)
        self.sent = 0
        self.restarts = 0
        self.exhausted = False
        self.failures: list[Failure] = []
        self.recent: deque[Sent] = deque(maxlen=5)
        self.slowest: list[tuple[float, str]] = []
        self.statuses: Counter = Counter()
        self.routes: Counter = Counter()  # (method, route, status): what was covered
        self.anchors: dict[str, Issued] = {}
        self.pool: list[Issued] = []
        self.created: deque[Issued] = deque()  # every Quay token the fuzzer made, oldest first
        self.housekeeping = 0  # requests sent to keep lists short, not counted as fuzz
        self.revoked: list[Issued] = []
        self.forged = [forged_token(self.rng) for _ in range(8)]
        self.leak_reports = 0
        self.conns: dict[str, http.client.HTTPConnection] = {}
        self.server = self._start()
        self._set_up()

    def _start(self) -> Latchkey:
        """A server on this target's database, started as conftest starts every server, but
        with the Swift runtime's crash backtrace kept short: by default it symbolicates every
        thread of the 170 MB debug binary for about a minute, with the crashing request's
        connection held open, before the process exits."""
        saved = os.environ.get("SWIFT_BACKTRACE")
        os.environ["SWIFT_BACKTRACE"] = saved or CRASH_BACKTRACE
        try:
            return Latchkey(self.directory, self.database, name=f"server-{self.restarts}")
        finally:
            if saved is None:
                del os.environ["SWIFT_BACKTRACE"]

    # -- set-up ---------------------------------------------------------------------------

    def _set_up(self) -> None:
        cli = self.server.cli
        cli("user", "create", "alice", "--email", "alice@example.org", "--first-name", "Alice", "--last-name",
            "Liddell", "--password-stdin", stdin=ALICE_PASSWORD + "\n")
        cli("user", "create", "boss", "--admin", "--password-stdin", stdin=BOSS_PASSWORD + "\n")
        cli("user", "create", "nopass", "--no-password")
        client = json.loads(cli("client", "create", "fuzz-client", "--json"))
        self.client_id, self.client_secret = client["client_id"], client["client_secret"]
        # Two password sign-ins in all (seconds of scrypt each in a debug build).
        for user, password in (("alice", ALICE_PASSWORD), ("boss", BOSS_PASSWORD)):
            answer = self.send("POST", "/api/tokens/", [("Content-Type", "application/json")],
                               json.dumps({"username": user, "password": password}).encode())
            assert answer is not None and answer.status == 201, f"sign-in of {user} failed: {answer}"
            self.anchors[f"{user} session"] = Issued(answer.json()["token"], owner=user, note=f"{user} session")
        for name, creator, scopes in (
            ("alice user:admin app", "alice session", ["user:admin"]),
            ("alice repo:read app", "alice session", ["repo:read"]),
            ("alice unscoped app", "alice session", []),
            ("boss user:admin app", "boss session", ["user:admin", "repo:read"]),
        ):
            issued = self.quay_create(self.anchors[creator].secret, {"title": name, "scopes": scopes},
                                      owner=creator.split()[0])
            assert issued is not None, f"could not create the {name} token"
            issued.note = name
            self.anchors[name] = issued
        # Revoked tokens: two Quay tokens deleted by uuid, a session token deleted by secret.
        for index in range(2):
            issued = self.quay_create(self.anchors["alice session"].secret, {"title": f"revoked {index}"})
            assert issued is not None
            answer = self.send("DELETE", f"/api/v1/user/apptoken/{issued.uuid}", self.auth("Bearer", "alice session"))
            assert answer is not None and answer.status == 204
            self.revoked.append(issued)
        minted = self.send("POST", "/api/tokens/", self.auth("Token", "alice session"))
        assert minted is not None and minted.status == 201
        secret = minted.json()["token"]
        assert self.send("DELETE", f"/api/tokens/{secret}/").status == 204
        self.revoked.append(Issued(secret, note="revoked session"))
        for index in range(10):
            issued = self.quay_create(self.anchors["alice session"].secret, {"title": f"pool {index}"})
            assert issued is not None
            self.pool.append(issued)

    def quay_create(self, secret: str, body: dict, owner: str = "alice") -> Issued | None:
        answer = self.send("POST", "/api/v1/user/apptoken",
                           [("Authorization", "Bearer " + secret), ("Content-Type", "application/json")],
                           json.dumps(body).encode())
        if answer is None or answer.status != 200:
            return None
        token = answer.json()["token"]
        return Issued(token["token_code"], token["uuid"], owner)

    # -- credentials ----------------------------------------------------------------------

    def secret_of(self, source) -> str | None:
        """Resolves a symbolic credential drawn by hypothesis to a string (or None: no header)."""
        kind, value = source
        if kind == "anchor":
            return self.anchors[value].secret
        if kind == "pool":
            return self.pool[value % len(self.pool)].secret if self.pool else None
        if kind == "revoked":
            return self.revoked[value % len(self.revoked)].secret if self.revoked else None
        if kind == "forged":
            return self.forged[value % len(self.forged)]
        if kind == "mangled":
            # A real secret with one character changed, cut short, or with something added.
            secret = self.anchors[sorted(self.anchors)[value % len(self.anchors)]].secret
            return [secret[:-1] + ("A" if secret[-1] != "A" else "B"), secret[:-1], secret + "A", secret.upper(),
                    " " + secret, secret[:8]][value % 6]
        if kind == "literal":
            return value
        return None

    def auth(self, scheme: str, anchor_or_secret: str | None) -> list:
        secret = self.anchors[anchor_or_secret].secret if anchor_or_secret in self.anchors else anchor_or_secret
        return authorization(scheme, secret)

    def names(self) -> dict[str, str]:
        """Secrets shown by name in failure messages."""
        named = {issued.secret: f"<{name}>" for name, issued in self.anchors.items()}
        named.update({secret: "<revoked token>" for secret in (i.secret for i in self.revoked)})
        return named

    # -- sending ---------------------------------------------------------------------------

    def _connection(self, path: str) -> http.client.HTTPConnection:
        # Leak reports are limited to 10 a minute per address: each few reports come from
        # another loopback address (the whole of 127.0.0.0/8 is this machine), except those
        # marked `same-address`, which test the limit itself.
        source = "127.0.0.1"
        if path.startswith("/api/v1/tokens/leaked"):
            if "same-address" in path:
                source = "127.254.254.254"
            else:
                n = self.leak_reports // 8
                self.leak_reports += 1
                source = f"127.{1 + n // 62500 % 250}.{n // 250 % 250}.{2 + n % 250}"
                for old in [s for s in self.conns if s not in ("127.0.0.1", "127.254.254.254", source)]:
                    self.conns.pop(old).close()
        if source not in self.conns:
            self.conns[source] = http.client.HTTPConnection(
                "127.0.0.1", self.server.port, timeout=REQUEST_TIMEOUT, source_address=(source, 0))
        return self.conns[source]

    def _drop_connections(self) -> None:
        for conn in self.conns.values():
            conn.close()
        self.conns.clear()

    def send(self, method: str, path: str, headers=(), body: bytes = b"", *, may_drop: bool = False,
             counted: bool = True) -> Answer | None:
        """Sends one request on a kept-alive connection and checks the outcome: an answer,
        below 500, from a server that is still running. Answers None when there was none
        (a failure is then recorded, unless `may_drop`: a request the server may rightly cut).
        Requests not `counted` are housekeeping, outside the fuzz budget."""
        if self.exhausted:
            return None
        request = Sent(method, path, list(headers), body)
        if counted:
            self.sent += 1
        else:
            self.housekeeping += 1
        self.recent.append(request)
        started = time.monotonic()
        answer = None
        for attempt in (1, 2):
            conn = self._connection(path)
            try:
                answer = self._exchange(conn, request)
                break
            except (http.client.InvalidURL, UnicodeError):
                raise  # http.client refused to send it: a bug in the fuzzer, not the server
            except (OSError, http.client.HTTPException) as error:
                self._drop_connections()
                if self._crashed():
                    self._record_crash(request)
                    return None
                if isinstance(error, TimeoutError):
                    self._record("hang", request, f"no answer within {REQUEST_TIMEOUT} s")
                    return None
                if attempt == 2:
                    if not may_drop:
                        self._record("no answer", request, f"the connection ended without an answer: {error!r}")
                    return None
        elapsed = time.monotonic() - started
        self.slowest = sorted(self.slowest + [(elapsed, f"{method} {path[:100]}")], reverse=True)[:5]
        self.statuses[answer.status] += 1
        self.routes[(method, route_of(path), answer.status)] += 1
        if answer.status >= 500:
            self._record("server error", request, f"answered {answer.status}: {answer.body[:300]!r}")
        if self.server.process.poll() is not None:
            self._record_crash(request)
        elif self.sent % HEALTH_EVERY == 0:
            self.check_health()
        return answer

    def _exchange(self, conn: http.client.HTTPConnection, request: Sent) -> Answer:
        conn.putrequest(request.method, request.path, skip_host=True, skip_accept_encoding=True)
        names = {name.lower() for name, _ in request.headers}
        if "host" not in names:
            conn.putheader("Host", f"127.0.0.1:{self.server.port}")
        for name, value in request.headers:
            conn.putheader(name, value)
        if request.body or request.method in ("POST", "PUT", "PATCH"):
            if "content-length" not in names and "transfer-encoding" not in names:
                conn.putheader("Content-Length", str(len(request.body)))
        try:
            conn.endheaders(request.body or None)
        except OSError:
            pass  # the server may answer (413) and stop reading a body it will not take
        response = conn.getresponse()  # http.client reconnects next time if the server closes
        body = response.read()
        return Answer(response.status, response.getheaders(), body)

    def check_health(self) -> None:
        """The process is running and `GET /healthz` answers 200 on a new connection."""
        if self.exhausted:
            return
        if self.server.process.poll() is not None:
            self._record_crash(self.recent[-1] if self.recent else None)
            return
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=REQUEST_TIMEOUT)
            conn.request("GET", "/healthz")
            status = conn.getresponse().status
            conn.close()
        except (OSError, http.client.HTTPException) as error:
            status = repr(error)
        if status != 200:
            if self._crashed():
                self._record_crash(self.recent[-1] if self.recent else None)
            else:
                self._record("unhealthy", self.recent[-1] if self.recent else None,
                             f"GET /healthz answered {status} after this request")

    def _crashed(self) -> bool:
        """Whether the process has exited: at once if /healthz still answers, else a bounded poll."""
        if self.server.process.poll() is not None:
            return True
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            conn.close()
            return self.server.process.poll() is not None
        except (OSError, http.client.HTTPException):
            pass
        deadline = time.monotonic() + CRASH_EXIT_SECONDS
        while time.monotonic() < deadline:
            if self.server.process.poll() is not None:
                return True
            time.sleep(0.05)
        return False

    def _log_tail(self, lines: int = 12) -> str:
        """The end of the server's log: after a crash, its fatal error and the crashed
        thread's first frames; otherwise the last lines."""
        try:
            text = self.server.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        for number, line in enumerate(text):
            if "Fatal error" in line or "💣" in line or "Program crashed" in line:
                return "\n".join(line[:400] for line in text[max(0, number - 3):number + 30])
        return "\n".join(line[:400] for line in text[-lines:])

    def _record(self, kind: str, request: Sent | None, detail: str) -> None:
        self.failures.append(Failure(kind, request, detail, self._log_tail()))

    def _record_crash(self, request: Sent | None) -> None:
        code = self.server.process.poll()
        self.failures.append(Failure("CRASH", request, f"the server process exited with {describe_exit(code)}",
                                     self._log_tail()))
        self._restart()

    def _restart(self) -> None:
        self._drop_connections()
        self.server.stop()
        self.restarts += 1
        if self.restarts > MAX_RESTARTS:
            self.exhausted = True
            return
        self.server = self._start()

    def tidy(self, most: int = 1500, keep: int = 500) -> None:
        """Once the fuzzer has made more than `most` Quay tokens, deletes the oldest down to
        `keep`, so that Quay's unpaginated lists stay small however long the run
        (bench/fuzz.sh). These deletions are checked like every request, but are not counted
        as fuzz requests."""
        if len(self.created) <= most:
            return
        while len(self.created) > keep and not self.exhausted:
            issued = self.created.popleft()
            owner = "boss session" if issued.owner == "boss" else "alice session"
            self.send("DELETE", f"/api/v1/user/apptoken/{issued.uuid}", self.auth("Bearer", owner), counted=False)
            if issued in self.pool:
                self.pool.remove(issued)

    def stop(self) -> None:
        self._drop_connections()
        self.server.stop()

    # -- reporting -------------------------------------------------------------------------

    def describe(self, request: Sent | None) -> str:
        if request is None:
            return "  (no request)"
        names = self.names()

        def redact(text: str) -> str:
            for secret, name in names.items():
                text = text.replace(secret, name)
            return text

        def show(value) -> str:
            text = value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else str(value)
            return redact(text if len(text) <= 300 else text[:300] + f"… ({len(text)} characters)")

        lines = [f"  {show(request.method)} {show(request.path)}"]
        lines += [f"  {show(name)}: {show(value)}" for name, value in request.headers]
        body = request.body
        lines.append(f"  body ({len(body)} bytes): {redact(repr(body[:300]))}{'…' if len(body) > 300 else ''}")
        return "\n".join(lines)

    def report(self, failures: list[Failure]) -> str:
        kinds = Counter(f.kind for f in failures)
        routes = Counter(
            f"{f.kind} {f.request.method} {re.sub(r'lk_[0-9A-Za-z]{36}', 'lk_…', f.request.path)[:60].split('?')[0]}"
            for f in failures if f.request)
        parts = [f"{len(failures)} failure(s) on {self.backend} ({dict(kinds)}); by route: {dict(routes)}"]
        seen = set()
        for failure in failures:
            request = failure.request
            signature = (failure.kind, request and (request.method, request.path[:60], request.body[:60],
                                                    repr(request.headers)[:200]))
            if signature in seen:
                continue
            seen.add(signature)
            if len(seen) > 20:
                parts.append("… (more failures left out)")
                break
            parts.append(f"\n{failure.kind}: {failure.detail}\n{self.describe(failure.request)}")
            if failure.kind in ("CRASH", "server error", "hang", "unhealthy") and failure.log_tail:
                parts.append("  server log tail:\n    " + failure.log_tail.replace("\n", "\n    "))
        return "\n".join(parts)


def route_of(path: str) -> str:
    """The route a path names, for coverage counts: secrets, uuids and other segments elided."""
    path = path.split("?")[0]
    path = re.sub(r"lk_[0-9A-Za-z]{36}", "{secret}", path)
    path = re.sub(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "{uuid}", path)
    for known in ("/api/tokens/", "/api/v1/user/apptoken/"):
        if path.startswith(known) and path.rstrip("/") != known.rstrip("/") and "{" not in path:
            return known + "{other}"
    return path if len(path) < 50 else path[:50] + "…"


def describe_exit(code) -> str:
    if code is None:
        return "nothing (still running)"
    if code < 0:
        import signal
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"
