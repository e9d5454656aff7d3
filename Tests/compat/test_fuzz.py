"""Fuzzing the built server process: no request, however hostile, crashes it or makes it fail.

Each backend gets its own server on a fresh database (fuzz damage stays out of the other
suites). Every route and method is driven, with no credentials, valid session and app tokens
of several scopes, an administrator's session, revoked tokens, forged `lk_` strings and
malformed `Authorization` headers, and with hostile values in every query parameter, path
segment and body field: integer boundaries, huge and negative years, NaN, empty and 1 MB
strings, NUL bytes, invalid UTF-8 (in bodies, and through a raw socket in paths and headers),
deeply nested and duplicate-keyed JSON, wrong types, wrong content types, oversized bodies.

Two tests per backend:

- `test_hand_written_edge_cases`: an explicit list of the edge cases above, then raw-socket
  requests that no HTTP library would send.
- `test_stateful_fuzz`: a hypothesis `RuleBasedStateMachine` (fixed seeds, so CI is
  deterministic) whose rules create tokens, use them, list, read and revoke them, report them
  leaked, introspect them and send hostile requests; tokens made by earlier rules are fed to
  later ones. It sends `LATCHKEY_FUZZ_REQUESTS` requests (5,000 by default; bench/fuzz.sh
  raises it) and asserts that many were sent.

After every request: an answer came, its status is below 500 (the database is healthy, so no
5xx at all is acceptable), and the server process is still running; every 100 requests
`GET /healthz` must answer 200. A crash is recorded with the exact request and the end of the
server's log, the server is restarted on the same database, and fuzzing goes on, so that one
run lists every crashing request; the test then fails listing them all.

Password sign-in costs seconds of scrypt in a debug build, so the fuzzer checks a password only
six times per backend (two sign-ins to start, four hand-written cases) and never sends a fuzzed
body holding both a username and a password to `POST /api/tokens/`; it mints session tokens
from the session tokens it holds instead, which costs nothing.

Leak reports are rate-limited per client address: the fuzzer sends them from ever new loopback
addresses (127.x.y.z, all this machine), so that they reach the parser instead of the limiter.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import socket
import string
import tempfile
import time
import zlib
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, Phase, Verbosity, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from conftest import Latchkey, backends, fresh_postgres_database

# Hypothesis warns when it shows a megabyte-sized argument; those are on purpose here.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")

# Requests the state machine sends per backend (the hand-written cases come on top).
FUZZ_REQUESTS = int(os.environ.get("LATCHKEY_FUZZ_REQUESTS", "5000"))
# A bound on the fuzzing time per backend: generous, it is a hang guard, not a pace.
FUZZ_SECONDS = float(os.environ.get("LATCHKEY_FUZZ_SECONDS", str(max(900, FUZZ_REQUESTS * 0.2))))
REQUEST_TIMEOUT = 60
HEALTH_EVERY = 100
# The crashed thread's backtrace, quickly symbolicated: the process exits within seconds.
CRASH_BACKTRACE = "enable=yes,interactive=no,threads=crashed,symbolicate=fast"
# How long a process that stopped answering may take to exit before it counts as hung.
CRASH_EXIT_SECONDS = 90
# Steps per state-machine run: short runs, many of them, so that hypothesis's choice of
# which rules each run uses (swarm testing) evens out over the routes.
STEPS = 25
# After this many crashes the fuzzer stops: the failures so far are reported.
MAX_RESTARTS = 25

ALICE_PASSWORD = "alice-fuzz-password"
BOSS_PASSWORD = "boss-fuzz-password"
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase

# ---------------------------------------------------------------------------------------------
# Hostile values


def base62(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, rest = divmod(value, 62)
        digits.append(BASE62[rest])
    return "".join(reversed(digits))


def forged_token(rng: random.Random) -> str:
    """A well-formed `lk_` secret with a correct checksum that the server never issued:
    it passes the format check and reaches the database lookup."""
    body = "lk_" + "".join(rng.choice(BASE62) for _ in range(30))
    return body + base62(zlib.crc32(body.encode()), 6)


MEGABYTE = "A" * (1 << 20)
INTEGER_TEXTS = [
    "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
    "18446744073709551615", "18446744073709551616", "9223372036854775806", "9223372036854775757",
    "4611686018427387904", "2147483647", "2147483648", "-2147483649", "4294967296",
    "-1", "0", "1", "50", "999", "1000", "1001", "3162240000", "3162240001",
    "99999999999999999999999999999999999999",
]
NUMBER_TEXTS = INTEGER_TEXTS + [
    "1e308", "-1e308", "1e309", "1E400", "-1e400", "4.9e-324", "1e-400", "-0", "0.5", "1.0", "-0.0",
    "NaN", "nan", "Infinity", "-Infinity", "inf", "+5", " 5", "5 ", "0x10", "1_000", "٣", "１", "5e2",
]
DATE_TEXTS = [
    "300000-01-01T00:00:00Z", "99999-12-31T23:59:59Z", "-0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z", "10000-01-01T00:00:00Z", "292277026596-12-04T15:30:07Z", "+275760-09-13T00:00:00Z",
    "2100-02-30T00:00:00Z", "2030-01-01T24:00:00Z", "2030-01-01T00:00:60Z", "2030-13-01T00:00:00Z",
    "2030-01-01T00:00:00+99:99", "2030-01-01T00:00:00-23:59", "2030-01-01T00:00:00.999999999999999Z",
    "2030-01-01T00:00:00.5Z", "2999-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59Z",
    "2030-01-01", "2030-01-01T00:00:00", "Tue, 21 Oct 2025 19:00:59 -0000", "T", "Z", "",
]
STRING_VALUES = [
    "", " ", "\t", "\n", "null", "None", "true", "false", "[]", "{}", "\x00", "a\x00b", "\u202e", "é", "e\u0301",
    "👍🏽", "\uffff", "\ufeff", "%", "%00", "%ff", "%zz", "../..", "/", "\\", '"', "'", "<script>", "${jndi:x}",
    "'; DROP TABLE tokens; --", "lk_", "lk_" + "A" * 36, "LK_" + "a" * 36, "user:admin", "repo:read",
    "a" * 255, "a" * 256, "é" * 255, "é" * 256, "e\u0301" * 255, "👍" * 300, "x" * 65536,
] + NUMBER_TEXTS + DATE_TEXTS
BIG_STRINGS = [MEGABYTE, "é" * (1 << 19), "\x00" * 70000]
JSON_FRAGMENTS = [
    "null", "true", "false", "[]", "{}", "[[[]]]", '""', '"\\u0000"', '"\\ud800"', '"\\udc00\\ud800"',
    '"\\uDBFF\\uDFFF"', '"\\x41"', "'single'", "[1,]", "{,}", "01", "1.", ".5", "-", "+1", "0x1",
] + NUMBER_TEXTS + [json.dumps(value) for value in STRING_VALUES]
HOSTILE_BODIES = [
    b"", b"{", b"}", b"[", b"null", b"0", b'"x"', b"[]", b"{}", b"\x00", b"\xff\xfe\xfd", b"\xef\xbb\xbf{}",
    '{"title": "utf16"}'.encode("utf-16"), b'{"title": "\xff\xfe"}', b'{"title": "a\x00b"}', b"title=x&title=",
    b"%", b"=", b"&&&", b"a=%zz&b=%ff%fe&c=%00", b"--x\r\n", b"[" * 65000, b"{\"a\":" * 13000,
    b"[" * 100000, b"x" * (64 * 1024 + 1), b"x" * (2 << 20),
]
CONTENT_TYPES = [
    "application/json", "application/json; charset=utf-8", "application/json; charset=utf-16", "APPLICATION/JSON",
    "application/x-www-form-urlencoded", "multipart/form-data", "multipart/form-data; boundary=",
    'multipart/form-data; boundary=""', "multipart/form-data; boundary=x", "text/plain", "application/xml",
    "application/json;", ";;;", "", "*/*", "application/" + "j" * 10000, "\x7f", "é",
]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "FOO", "PROPFIND", "get", "M" * 100]
SCHEMES = [
    "Token", "token", "TOKEN", "Bearer", "bearer", "basic-user", "basic-user-nocolon", "basic-app", "basic-APP",
    "Token-tab", "Token-two-spaces", "Token-extra-word", "Bearer-leading-space", "none",
]
MALFORMED_AUTHORIZATIONS = [
    "", " ", "Token", "Token ", "Bearer", "Basic", "Basic ", "Token a b", "Basic a b", "Basic ////", "Basic =",
    "Basic ====", "Basic A", "Basic AA", "Basic AAA", "Basic " + base64.b64encode(b"user:pass").decode(),
    "Basic " + base64.b64encode(b"\xff\xfe:\x00").decode(), "Basic " + base64.b64encode(b"$app:").decode(),
    "Basic " + base64.b64encode(b":").decode(), "Basic " + base64.b64encode(b":x").decode(),
    "Basic " + base64.b64encode(b"fake-token").decode(), "Digest username=x", "Token\t", "Negotiate " + "A" * 5000,
    "Token " + "A" * 100000, "Bearer lk_", "Bearer lk_" + "0" * 36, "Token " + "\u00e9" * 20,
]
KNOWN_ROUTES = [
    "/api/tokens/", "/api/tokens", "/api/tokens/{seg}/", "/api/tokens/{seg}", "/api/users/me", "/api/users/me/",
    "/api/v1/user/apptoken", "/api/v1/user/apptoken/", "/api/v1/user/apptoken/{seg}", "/api/v1/superuser/apptokens",
    "/api/v1/user/", "/api/v1/user", "/oauth/introspect", "/oauth/revoke", "/api/v1/tokens/leaked", "/healthz",
    "/readyz", "/metrics", "/openapi.json", "/v1/tokens", "/v1/tokens/self", "/v1/tokens/self/rotate",
    "/v1/tokens/{seg}", "/v1/tokens/{seg}/rotate", "/v1/webhooks", "/v1/webhooks/{seg}",
    "/v1/webhooks/{seg}/rotate-secret", "/v1/webhooks/{seg}/deliveries",
    "/v1/webhooks/{seg}/deliveries/{seg}/redeliver",
    # The web pages (HTML; a browser's session cookie, not a header).
    "/", "/signin", "/signout", "/tokens", "/tokens/new", "/tokens/{seg}/revoke", "/tokens/{seg}/rotate", "/admin",
    "/admin/users", "/admin/users/{seg}/activate", "/admin/users/{seg}/deactivate", "/admin/tokens",
    "/admin/tokens/{seg}/revoke", "/admin/audit", "/signin/openid", "/signin/openid/callback", "/static/{seg}",
]
UNKNOWN_ROUTES = [
    "/api", "/api/", "/api/v1", "/api/v1/", "/api/tokens/{seg}/{seg}", "/api/v1/user/apptoken/{seg}/{seg}",
    "/api/v1/superuser/apptokens/{seg}", "/api/users/{seg}", "/oauth", "/oauth/token", "/oauth/{seg}", "/{seg}",
    "//api//tokens//", "/api/tokens/%2e%2e/", "/API/TOKENS/", "/healthz/../api/tokens/", "/api/./tokens/",
    "/api/v2/tokens/leaked", "/metrics/{seg}", "/openapi.json/{seg}", "/.well-known/openid-configuration",
]
PATH_SEGMENTS = [
    "", ".", "..", "%2e%2e", "%2F", "%2f..%2f", "%00", "%ff", "%", "%%", "%zz", ";", ";x=y", "~", "*", "+", "@",
    "someuuid", "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF", "{00000000-0000-0000-0000-000000000000}", "0" * 32, "lk_", "lk_AbC12",
    "lk_" + "A" * 36, "x" * 100000, quote("é" * 40), quote("\x00\x01\x02"), "%C0%AE%C0%AE", "%ED%A0%80",
    # Eight characters once decoded, like a token's public key, so they reach a lookup by key.
    "%00" * 8, "lk_%00abcd", "lk_AbC1%00", "lk_AbC1%FF", "lk_AbC1é", "lk_AbC1%27", "lk_AbC1%5C",
] + [quote(value, safe="") for value in INTEGER_TEXTS + DATE_TEXTS[:6]]
EXPIRING_VALUES = ["", "true", "True", "false", "FALSE", "0", "1", "null", "None", "yes", "%00", "%ff", "x" * 10000]


# ---------------------------------------------------------------------------------------------
# The server under fuzz


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


def authorization(scheme: str, secret: str | None) -> list:
    """The `Authorization` header carrying `secret` in one of the ways a client might write it."""
    if secret is None or scheme == "none":
        return []
    value: str | bytes
    match scheme:
        case "basic-user":
            value = "Basic " + b64(secret + ":")
        case "basic-user-nocolon":
            value = "Basic " + b64(secret)
        case "basic-app":
            value = "Basic " + b64("$app:" + secret)
        case "basic-APP":
            value = "Basic " + b64("$APP:" + secret)
        case "Token-tab":
            value = "Token\t" + secret
        case "Token-two-spaces":
            value = "Token  " + secret
        case "Token-extra-word":
            value = "Token " + secret + " extra"
        case "Bearer-leading-space":
            value = " Bearer " + secret
        case _:
            value = scheme + " " + secret
    return [("Authorization", header_bytes(value))]


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8", "surrogatepass")).decode()


def header_bytes(value: str) -> bytes:
    """A header value as bytes: any text, even invalid UTF-8, minus the line breaks that
    would end the header (raw-socket cases send those on purpose)."""
    return value.encode("utf-8", "surrogatepass").replace(b"\r", b" ").replace(b"\n", b" ")


def path_text(value: str) -> str:
    """A path or query as http.client will send it: control characters, spaces and
    non-ASCII percent-encoded (raw-socket cases send those raw)."""
    return "".join(c if 0x20 < ord(c) < 0x7F else quote(c.encode("utf-8", "surrogatepass")) for c in value)


def quoted(text: str) -> str:
    """Percent-encodes any text, lone surrogates included (as their invalid UTF-8 bytes)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def scrypt_safe(method: str, path: str, body: bytes) -> bytes:
    """No fuzzed body signs in with a password: a body naming both a username and a
    password would cost a second of scrypt per request."""
    if method.upper() == "POST" and re.match(r"^/+api/+tokens/*(\?|$)", path) and b"username" in body:
        return body.replace(b"password", b"passw0rd")
    return body


@pytest.fixture(scope="module", params=backends())
def target(request):
    """A fresh server and database per backend for this module alone."""
    with tempfile.TemporaryDirectory(prefix="latchkey-fuzz-") as directory:
        fuzzed = Target(Path(directory), request.param)
        try:
            yield fuzzed
        finally:
            fuzzed.stop()


# ---------------------------------------------------------------------------------------------
# Hand-written edge cases


def hand_written_cases(t: Target):
    """(method, path, headers, body) for each edge case named in this module's docstring."""
    alice = t.auth("Token", "alice session")
    bearer = t.auth("Bearer", "alice session")
    boss = t.auth("Bearer", "boss session")
    scoped = t.auth("Bearer", "alice repo:read app")
    app_admin = t.auth("basic-app", "alice user:admin app")
    as_json = [("Content-Type", "application/json")]
    as_form = [("Content-Type", "application/x-www-form-urlencoded")]
    client = [("Authorization", "Basic " + b64(f"{t.client_id}:{t.client_secret}"))]
    wrong_client = [("Authorization", "Basic " + b64(f"{t.client_id}:wrong"))]

    # Stencila list: every boundary in limit and offset, with and without credentials.
    for value in NUMBER_TEXTS:
        q = quote(value, safe="")
        for query in (f"offset={q}", f"limit={q}", f"limit={q}&offset={q}", f"limit=1&offset={q}",
                      f"limit=1000&offset={q}", f"offset={q}&limit=1"):
            yield "GET", "/api/tokens/?" + query, alice, b""
        yield "GET", f"/api/tokens?offset={q}", [], b""
    for query in ("limit=&offset=", "limit", "offset", "offset=%00", "offset=%ff%fe", "offset=1%2B1", "offset=1&offset=2",
                  "limit=1&limit=9223372036854775807", "&&&", "=", "%", "a=" + "x" * 100000,
                  "&".join(f"p{i}={i}" for i in range(5000)), "offset=9223372036854775807&x=%ff"):
        yield "GET", "/api/tokens/?" + query, alice, b""

    # Quay lists, for a user and for an administrator.
    for value in EXPIRING_VALUES + NUMBER_TEXTS[:8]:
        yield "GET", "/api/v1/user/apptoken?expiring=" + quote(value, safe=""), bearer, b""
        yield "GET", "/api/v1/superuser/apptokens?expiring=" + quote(value, safe=""), boss, b""
    yield "GET", "/api/v1/superuser/apptokens", bearer, b""
    yield "GET", "/api/v1/user/apptoken?expiring=1&expiring=0", scoped, b""

    # Quay create: every hostile expiration, title and scopes, and bodies that are not objects.
    for fragment in JSON_FRAGMENTS + [json.dumps(d) for d in DATE_TEXTS]:
        yield "POST", "/api/v1/user/apptoken", bearer + as_json, f'{{"title": "t", "expiration": {fragment}}}'.encode()
    for value in INTEGER_TEXTS:
        yield "POST", "/api/v1/user/apptoken", bearer + as_json, f'{{"title": "t", "expiration": "{value}"}}'.encode()
    for title in STRING_VALUES[:45] + ["x" * 60000]:
        yield "POST", "/api/v1/user/apptoken", bearer + as_json, json.dumps({"title": title}).encode()
    for fragment in JSON_FRAGMENTS[:25]:
        yield "POST", "/api/v1/user/apptoken", bearer + as_json, f'{{"title": {fragment}}}'.encode()
        yield "POST", "/api/v1/user/apptoken", bearer + as_json, f'{{"title": "s", "scopes": {fragment}}}'.encode()
        yield "POST", "/api/v1/user/apptoken", bearer + as_json, fragment.encode()
    for scopes in (["user:admin"], ["repo:read", "repo:read"], ["a" * 64], ["a" * 65], [""], [" "], ["\x00"], ["é"],
                   ['"'], ["\\"], [1], [None], [[]], [{}], ["x"] * 1000, [f"s{i}" for i in range(3000)]):
        yield "POST", "/api/v1/user/apptoken", bearer + as_json, json.dumps({"title": "s", "scopes": scopes}).encode()
        yield "POST", "/api/v1/user/apptoken", scoped + as_json, json.dumps({"title": "s", "scopes": scopes}).encode()
    for body in HOSTILE_BODIES + [b'{"title":"a","title":1}', b'{"title":1,"title":"a"}',
                                  b'{"title":"a","expiration":1,"expiration":"300000-01-01T00:00:00Z"}',
                                  b'{"title": "' + b"\\u0000" * 10000 + b'"}', b'{"title":"t"}' + b" " * 70000,
                                  b'{"title":"t"} trailing', b'{"title":"t"}{"title":"u"}']:
        for content_type in ("application/json", "text/plain", "application/x-www-form-urlencoded"):
            yield "POST", "/api/v1/user/apptoken", bearer + [("Content-Type", content_type)], body
    yield "POST", "/api/v1/user/apptoken", bearer, b"title=x"
    yield "POST", "/api/v1/user/apptoken", app_admin + as_json, b'{"title": "from an app token"}'
    yield "POST", "/api/v1/user/apptoken", [], b'{"title": "anonymous"}'

    # Quay read and delete: uuids that are someone else's, unknown, malformed or huge.
    other = t.anchors["boss user:admin app"].uuid
    mine = t.pool[0].uuid
    for segment in [other, other.upper(), mine.upper(), mine.replace("-", ""), "{" + mine + "}", mine + "%00",
                    mine + "/", "someuuid"] + PATH_SEGMENTS:
        yield "GET", "/api/v1/user/apptoken/" + segment, bearer, b""
        yield "DELETE", "/api/v1/user/apptoken/" + segment, bearer, b""
        yield "GET", "/api/v1/user/apptoken/" + segment, [], b""
    yield "GET", "/api/v1/user/apptoken/" + mine, scoped, b""
    yield "DELETE", "/api/v1/user/apptoken/" + t.pool[1].uuid, boss, b""

    # Stencila retrieve and delete: by secret, by key, malformed, someone else's, huge.
    throwaway = t.pool[2]
    for segment in [throwaway.secret[:8], t.anchors["boss session"].secret[:8], t.revoked[0].secret, t.forged[0],
                    throwaway.secret[:-1] + "0", throwaway.secret.lower()] + PATH_SEGMENTS:
        yield "GET", f"/api/tokens/{segment}/", alice, b""
        yield "GET", f"/api/tokens/{segment}", [], b""
        yield "DELETE", f"/api/tokens/{segment}/", alice, b""
    yield "DELETE", f"/api/tokens/{throwaway.secret}/", [], b""
    yield "DELETE", f"/api/tokens/{throwaway.secret}/", [], b""

    # Who am I, through every kind of credential and every malformed Authorization header.
    for name in t.anchors:
        for scheme in SCHEMES:
            yield "GET", "/api/users/me", t.auth(scheme, name), b""
            yield "GET", "/api/v1/user/", t.auth(scheme, name), b""
    for secret in [issued.secret for issued in t.revoked] + t.forged[:3]:
        for scheme in ("Token", "Bearer", "basic-user", "basic-app"):
            yield "GET", "/api/users/me", authorization(scheme, secret), b""
            yield "GET", "/api/v1/user/apptoken", authorization(scheme, secret), b""
    for header in MALFORMED_AUTHORIZATIONS:
        for path in ("/api/users/me", "/api/v1/user/", "/api/tokens/", "/oauth/introspect", "/healthz"):
            yield "GET" if not path.startswith("/oauth") else "POST", path, [("Authorization", header_bytes(header))], b""
        yield "POST", "/api/tokens/", [("Authorization", header_bytes(header))] + as_json, b"{}"

    # Sign-in without a password check: blank, null, wrong types, openid junk, every body
    # encoding and content type; minting from an existing token.
    for body in ({}, {"username": "alice"}, {"password": "x"}, {"username": ""}, {"password": ""},
                 {"username": "", "password": ""}, {"username": None}, {"username": 1e308},
                 {"username": 9223372036854775808}, {"username": []}, {"username": {}}, {"username": True},
                 {"openid": ""}, {"openid": "a"}, {"openid": "a.b.c"}, {"openid": "eyJhbGciOiJub25lIn0.e30."},
                 {"openid": "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2FjY291bnRzLmdvb2dsZS5jb20ifQ.AAAA"},
                 {"openid": "." * 60000}, {"openid": None}, {"openid": 1}, {"username": "alice", "openid": "x.y.z"}):
        yield "POST", "/api/tokens/", as_json, json.dumps(body).encode()
        yield "POST", "/api/tokens/", alice + as_json, json.dumps(body).encode()
    for body in [b"username=&password=", b"username=alice", b"openid=%zz", b"openid=" + b"%ff" * 100,
                 b"username=%00", b"\xff\xfe=\xfd"]:
        yield "POST", "/api/tokens/", as_form, body
    multipart = (b"--XyZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n--XyZ--\r\n")
    for content_type in ("multipart/form-data; boundary=XyZ", "multipart/form-data", "multipart/form-data; boundary=",
                         "multipart/form-data; boundary=Other", 'multipart/form-data; boundary="XyZ"',
                         "multipart/form-data; boundary=" + "B" * 5000):
        yield "POST", "/api/tokens/", [("Content-Type", content_type)], multipart
        yield "POST", "/api/tokens/", [("Content-Type", content_type)], b"--XyZ\r\n" * 5000
        yield "POST", "/api/tokens/", [("Content-Type", content_type)], b"\xff" * 100
    for body in HOSTILE_BODIES:
        for content_type in CONTENT_TYPES:
            yield "POST", "/api/tokens/", [("Content-Type", header_bytes(content_type))], body
    yield "POST", "/api/tokens/", alice, b""
    yield "POST", "/api/tokens/", t.auth("basic-app", "alice unscoped app") + as_form, b""

    # OAuth introspection and revocation: clients right and wrong, tokens right and hostile.
    for token in [t.anchors["alice unscoped app"].secret, t.revoked[0].secret, t.forged[1]] + STRING_VALUES[:60]:
        form = b"token=" + quote(token, safe="").encode()
        yield "POST", "/oauth/introspect", client + as_form, form
        yield "POST", "/oauth/introspect", client + as_form, form + b"&token_type_hint=" + form
        yield "POST", "/oauth/revoke", wrong_client + as_form, form
    for body in [b"", b"token=", b"token", b"token=&token=", b"=x", b"token=%zz", b"token=%ff%fe", b"token=\xff\xfe",
                 b'{"token": "x"}', b"token=" + b"A" * 20000, b"token=x&" * 3000] + HOSTILE_BODIES:
        yield "POST", "/oauth/introspect", client + as_form, body
        yield "POST", "/oauth/revoke", client + as_form, body
    for header in ["Basic " + b64("%zz:%zz"), "Basic " + b64("%:%"), "Basic " + b64("lkc_x:" + "y" * 5000),
                   "Basic " + b64("lkc_\x00:x"), "Basic " + b64("%00:%00"), "Basic " + b64(f"{t.client_id}%00:x"),
                   "Basic " + b64(f"{t.client_id}:{t.client_secret}%00"), "Basic " + b64("é:é"),
                   "Basic " + b64(f"{t.client_id}:"), "Basic " + b64(":" + t.client_secret)]:
        yield "POST", "/oauth/introspect", [("Authorization", header)] + as_form, b"token=x"
    victim = t.pool[3]
    yield "POST", "/oauth/revoke", authorization("Bearer", victim.secret) + as_form, b"token=" + victim.secret.encode()
    yield "POST", "/oauth/revoke", authorization("Bearer", victim.secret) + as_form, b"token=" + victim.secret.encode()
    yield "POST", "/oauth/revoke", alice + as_form, b"token=" + t.pool[4].secret.encode()

    # Leak reports: shapes, sizes and nesting (each few from another loopback address).
    for body in [b"[]", b"{}", b'"x"', b"[1, 2, 3]", b"[null]", b"[[]]", b'[{"token": 1}]', b'[{"token": null}]',
                 b'[{"url": "x"}]', json.dumps([t.pool[5].secret, {"token": t.forged[2], "url": "u" * 100000}]).encode(),
                 # A valid token with a URL that is recorded in the audit event: NUL, huge, not a string.
                 json.dumps([{"token": t.pool[6].secret, "url": "https://example.org/\x00"}]).encode(),
                 json.dumps([{"token": t.pool[7].secret, "url": "u" * 900000}]).encode(),
                 json.dumps([{"token": t.pool[8].secret, "url": {"a": [1e308]}}]).encode(),
                 json.dumps(["x"] * 1000).encode(), json.dumps(["x"] * 1001).encode(),
                 json.dumps([t.forged[3]] * 1000).encode(), json.dumps([MEGABYTE[:1000000]]).encode(),
                 json.dumps([MEGABYTE]).encode(), b"[" * 1000000, b"[" * 100000 + b"]" * 100000,
                 b'{"a":' * 100000, b"[" + b'"x",' * 200000 + b'"x"]', b'["\xff\xfe"]', b"[\"\\ud800\"]"] + HOSTILE_BODIES:
        yield "POST", "/api/v1/tokens/leaked", as_json, body
    for _ in range(12):  # over the limit from one address: 429, never worse
        yield "POST", "/api/v1/tokens/leaked?same-address", as_json, b"[]"

    # Operations endpoints, every method, junk queries.
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        for method in METHODS:
            yield method, path, [], b""
        yield "GET", path + "?" + "x" * 50000, alice, b""
        yield "GET", path, [("Authorization", b"Token \xff")], b""

    # The web pages: the session cookie (alice's, boss's, an app token, junk), form tokens right
    # and wrong, hostile forms and queries. Alice's own session is never signed out or revoked.
    alice_secret = t.anchors["alice session"].secret
    boss_secret = t.anchors["boss session"].secret
    def page_session(secret: str) -> list:
        return [("Cookie", f"latchkey_session={secret}")]
    def form_token(secret: str) -> str:
        mac = hmac.new(secret.encode(), b"latchkey web form", hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")
    web_alice = page_session(alice_secret)
    web_boss = page_session(boss_secret)
    alice_csrf = "csrf=" + form_token(alice_secret)
    boss_csrf = "csrf=" + form_token(boss_secret)
    for cookie in [alice_secret, boss_secret, t.anchors["alice user:admin app"].secret, t.forged[0], "", "x" * 10000,
                   "\xff", "lk_", "a=b; latchkey_session=" + alice_secret, "%00"]:
        for path in ("/", "/tokens", "/tokens/new", "/admin", "/admin/users", "/admin/tokens", "/admin/audit"):
            yield "GET", path, [("Cookie", f"latchkey_session={cookie}")], b""
    for query in ["notice=revoked", "notice=" + "x" * 10000, "notice=%ff", "user=alice&kind=token.created&since=1h",
                  "user=" + "x" * 5000, "user=%00", "kind=nope&since=nope", "since=all", "kind=" + "%ff" * 100,
                  "user=alice&user=boss", "since=" + INTEGER_TEXTS[0]]:
        yield "GET", "/admin/audit?" + query, web_boss, b""
        yield "GET", "/signin?" + query, [], b""
    for body in [b"", b"title=x", b"title=x&lifetime=7&" + alice_csrf.encode(),
                 ("lifetime=custom&expires_on=2026-02-31&" + alice_csrf).encode(),
                 ("lifetime=custom&expires_on=99999-01-01&" + alice_csrf).encode(),
                 ("lifetime=custom&expires_on=1970-01-01&" + alice_csrf).encode(),
                 ("lifetime=custom&expires_on=%ff%00&" + alice_csrf).encode(),
                 ("lifetime=" + INTEGER_TEXTS[0] + "&" + alice_csrf).encode(),
                 ("lifetime=-7&" + alice_csrf).encode(), ("lifetime=never&" + alice_csrf).encode(),
                 ("lifetime=30&scopes=superuser&" + alice_csrf).encode(),
                 ("lifetime=30&other_scopes=" + "a " * 200 + "&" + alice_csrf).encode(),
                 ("lifetime=30&title=" + "t" * 10000 + "&" + alice_csrf).encode(),
                 ("lifetime=30&title=%00%01&" + alice_csrf).encode(), alice_csrf.encode() + b"&title=%ff%fe",
                 b"%zz=%zz&" + alice_csrf.encode(), b"&&&===&&&", b"x" * 70000] + HOSTILE_BODIES[:4]:
        yield "POST", "/tokens", web_alice + as_form, body
        yield "POST", "/tokens", web_alice + as_json, body
    for overlap in ["0", "3600", "-1", "99999999999999999999", "x", "%00", ""]:
        for segment in [t.pool[9].uuid, t.forged[0], "x"]:
            yield "POST", f"/tokens/{segment}/rotate", web_alice + as_form, f"overlap={overlap}&{alice_csrf}".encode()
    for segment in ["0", "-1", "99999999999999999999", "x", "%00", t.forged[1]]:
        yield "POST", f"/admin/users/{segment}/deactivate", web_boss + as_form, boss_csrf.encode()
        yield "POST", f"/admin/tokens/{segment}/revoke", web_boss + as_form, boss_csrf.encode()
        yield "POST", f"/tokens/{segment}/revoke", web_alice + as_form, alice_csrf.encode()
    for body in [b"", b"login=alice&password=wrong", b"login=alice&password=wrong&csrf=x",
                 b"login=" + b"a" * 50000 + b"&password=x", b"login=%ff&password=%00"]:
        yield "POST", "/signin", as_form, body
        yield "POST", "/signin", as_form + [("Cookie", "latchkey_signin=x")], body + b"&csrf=x"
    for query in ["", "provider=0", "provider=-1", "provider=99999999999999999999", "provider=%00",
                  "code=x&state=y", "error=access_denied&state=y", "error=" + "x" * 10000, "state=" + "y" * 10000]:
        yield "GET", "/signin/openid?" + query, [], b""
        yield "GET", "/signin/openid/callback?" + query, [("Cookie", "latchkey_openid=0.a.b.c")], b""
    for name in ["latchkey.css", "latchkey.js", "..%2fopenapi.json", "%00", "x" * 1000]:
        yield "GET", "/static/" + name, [], b""

    # Methods nobody serves, on every route; unknown paths with secrets in them.
    for path in KNOWN_ROUTES + UNKNOWN_ROUTES:
        path = path.replace("{seg}", t.forged[4])
        for method in METHODS:
            yield method, path, alice, b'{"title": "x"}'
    for segment in ["x" * 100000, "%", "%ff", "%00", ".."]:
        yield "GET", "/" + segment, [], b""


def raw_cases(t: Target):
    """(description, bytes) for requests only a raw socket sends: invalid UTF-8 and NUL in the
    request line and headers, broken framing, other protocols."""
    host = f"127.0.0.1:{t.server.port}".encode()
    secret = t.anchors["alice session"].secret.encode()
    auth = b"Authorization: Token " + secret + b"\r\n"

    def get(path: bytes, extra: bytes = b"") -> bytes:
        return b"GET " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\n" + extra + b"\r\n"

    def post(path: bytes, body: bytes, extra: bytes = b"") -> bytes:
        return (b"POST " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\n" + extra
                + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)

    json_type = b"Content-Type: application/json\r\n"
    for path in (b"/api/tokens/\xff\xfe/", b"/api/tokens/\x00/", b"/api/tokens/" + secret + b"\x00/",
                 b"/api/v1/user/apptoken/\xc0\xae", b"/api/v1/user/apptoken/\xed\xa0\x80", b"/api/tokens/?offset=\xff",
                 b"/api/tokens/?offset=9223372036854775807\x00", b"/api/v1/user/apptoken?expiring=\xff\x00",
                 b"/api/users/me\xff", b"/\xff", b"/api/tokens/\xe9/", b"/api/tokens/\x7f/", b"/a b", b"/api/tokens/\t/",
                 b"*", b"http://127.0.0.1/healthz", b"healthz", b"", b"/" + b"\xff" * 10000):
        yield "path " + repr(path[:40]), get(path, auth)
    for header in (b"Authorization: Token \xff\xfe\r\n", b"Authorization: Basic \xff\r\n",
                   b"Authorization: Bearer lk_\x00" + b"A" * 35 + b"\r\n", b"Authorization: Token " + secret + b"\xff\r\n",
                   b"Authorization: \x00\r\n", b"Authorization: Token " + secret + b"\r\n" + auth,
                   b"Auth\xffrization: x\r\n", b"\xff: x\r\n", b": x\r\n", b"X: a\r\n b\r\n",
                   b"X-Long: " + b"a" * (1 << 20) + b"\r\n",
                   b"".join(b"X-%d: y\r\n" % i for i in range(10000)), b"Content-Type: \xff\r\n", b"Host: \xff\r\n"):
        yield "header " + repr(header[:40]), get(b"/api/users/me", header)
        yield "header on a create " + repr(header[:40]), post(b"/api/v1/user/apptoken", b'{"title": "raw"}',
                                                              header + json_type)
    yield "no Host", b"GET /api/users/me HTTP/1.1\r\n" + auth + b"\r\n"
    yield "HTTP/1.0", b"GET /api/users/me HTTP/1.0\r\n" + auth + b"\r\n"
    for line in (b"GET / HTTP/9.9", b"GET / FOO/1.1", b"GET", b"GET  /  HTTP/1.1", b"G\x00T / HTTP/1.1",
                 b"\xff\xfe / HTTP/1.1", b"OPTIONS * HTTP/1.1", b"CONNECT 127.0.0.1:1 HTTP/1.1", b"PRI * HTTP/2.0",
                 b"GET /healthz HTTP/1.1 extra", b"GET /healthz"):
        yield "request line " + repr(line[:40]), line + b"\r\nHost: " + host + b"\r\n\r\n"
    yield "TLS hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 100
    yield "HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    yield "blank lines", b"\r\n\r\n\r\n"
    yield "NUL bytes", b"\x00" * 1000
    body = b'{"title": "chunked"}'
    create = b"POST /api/v1/user/apptoken HTTP/1.1\r\nHost: " + host + b"\r\n" + auth + json_type
    yield "chunked create", create + b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    yield "chunked, bad size", create + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n" + body + b"\r\n0\r\n\r\n"
    yield "chunked, huge size", create + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n" + body
    yield "chunked, negative size", create + b"Transfer-Encoding: chunked\r\n\r\n-1\r\n" + body + b"\r\n0\r\n\r\n"
    yield "chunked and length", create + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"
    yield "gzip transfer coding", create + b"Transfer-Encoding: gzip\r\n\r\n" + body
    yield "negative length", create + b"Content-Length: -1\r\n\r\n" + body
    yield "huge length", create + b"Content-Length: 18446744073709551616\r\n\r\n" + body
    yield "length not a number", create + b"Content-Length: abc\r\n\r\n" + body
    yield "two lengths", create + b"Content-Length: 2\r\nContent-Length: 20\r\n\r\n" + body
    yield "short body", create + b"Content-Length: 1000\r\n\r\n" + body
    yield "expect continue", create + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    yield "pipelined", get(b"/api/users/me", auth) + get(b"/api/tokens/?offset=-1", auth) + get(b"/healthz")
    yield "deep JSON with chunks", create + b"Transfer-Encoding: chunked\r\n\r\n" + b"".join(
        b"%x\r\n" % 1000 + b"[" * 1000 + b"\r\n" for _ in range(60)) + b"0\r\n\r\n"
    yield "sign-in body with NUL in form", post(b"/api/tokens/", b"username=\x00&openid=\x00",
                                               b"Content-Type: application/x-www-form-urlencoded\r\n")


def raw_exchange(t: Target, description: str, data: bytes, seconds: float = 5) -> None:
    """Sends `data` on a new socket, reads the first answer if one comes, then checks that the
    server is still running and healthy. A server may refuse such bytes by closing the
    connection or by not answering; only a 5xx or a crash is a failure."""
    t.sent += 1
    request = Sent("RAW", description, [], data)
    t.recent.append(request)
    status = None
    with socket.create_connection(("127.0.0.1", t.server.port), timeout=seconds) as sock:
        try:
            sock.sendall(data)
            response = http.client.HTTPResponse(sock, method="GET")
            response.begin()
            status = response.status
            response.read()
        except (OSError, http.client.HTTPException):
            pass
    if status is not None:
        t.statuses[status] += 1
    if status is not None and status >= 500:
        t._record("server error", request, f"answered {status}")
    if t.server.process.poll() is not None or (status is None and t._crashed()):
        t._record_crash(request)
    else:
        t.check_health()


def test_hand_written_edge_cases(target):
    """Every edge case in the list, and every raw-socket request, leaves the server running
    and answers below 500."""
    started = target.sent
    for method, path, headers, body in hand_written_cases(target):
        path = path_text(path)
        body = scrypt_safe(method, path, body)
        target.send(method, path, headers, body, may_drop=len(body) > 64 * 1024 or len(path) > 60000)
    # A handful of real password checks (each seconds of scrypt in a debug build): a wrong
    # password, an account without one, a NUL in the looked-up name, a huge password.
    for body in ({"username": "alice", "password": "wrong"}, {"username": "nopass", "password": "x"},
                 {"username": "ali\u0000ce", "password": "x"}, {"username": "alice@example.org", "password": "p" * 60000}):
        target.send("POST", "/api/tokens/", [("Content-Type", "application/json")], json.dumps(body).encode())
    for description, data in raw_cases(target):
        if target.exhausted:
            break
        raw_exchange(target, description, data)
    target.check_health()
    sent = target.sent - started
    print(f"\n{target.backend}: {sent} hand-written requests; statuses {dict(sorted(target.statuses.items()))}; "
          f"slowest {target.slowest}")
    assert sent >= 1000, f"only {sent} hand-written requests were sent"
    if target.failures:
        pytest.fail(target.report(target.failures), pytrace=False)


# ---------------------------------------------------------------------------------------------
# The state machine

# Symbolic credentials: resolved against what the target knows when a rule runs.
indices = st.integers(min_value=0, max_value=1 << 16)
small_text = st.one_of(
    st.sampled_from(STRING_VALUES), st.text(max_size=40), st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)
# Body fields also get the megabyte-sized strings (paths, queries and headers get them in the
# hand-written cases only: each costs the server a megabyte to read).
hostile_text = st.one_of(small_text, st.sampled_from(STRING_VALUES + BIG_STRINGS))
ANCHOR_NAMES = ["alice session", "boss session", "alice user:admin app", "alice repo:read app", "alice unscoped app",
                "boss user:admin app"]
anchors = st.sampled_from(ANCHOR_NAMES).map(lambda name: ("anchor", name))
credentials = st.one_of(
    anchors,
    indices.map(lambda i: ("pool", i)),
    indices.map(lambda i: ("revoked", i)),
    indices.map(lambda i: ("forged", i)),
    indices.map(lambda i: ("mangled", i)),
    small_text.map(lambda s: ("literal", s)),
    st.just(("none", None)),
)
# Mostly credentials that work (the anchors, and pool tokens, most of them live), so that
# hostile queries and bodies get past authentication; any credential at all otherwise.
valid_credentials = st.one_of(anchors, indices.map(lambda i: ("pool", i)), credentials)
managers = st.sampled_from(["alice session", "boss session", "alice user:admin app", "boss user:admin app"])
schemes = st.sampled_from(SCHEMES)
fragments = st.one_of(
    st.sampled_from(JSON_FRAGMENTS),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                 max_leaves=6).map(json.dumps),
    hostile_text.map(json.dumps),
)
scope_lists = st.one_of(
    st.lists(st.sampled_from(["user:admin", "repo:read", "repo:write", "", "a" * 65, "\x00", "é"]), max_size=4)
    .map(json.dumps),
    fragments,
)
expirations = st.one_of(
    st.sampled_from(NUMBER_TEXTS),
    st.sampled_from(DATE_TEXTS).map(json.dumps),
    st.integers(min_value=-(1 << 70), max_value=1 << 70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(json.dumps),
    st.datetimes().map(lambda d: json.dumps(d.isoformat() + "Z")),
    fragments,
)


@st.composite
def quay_bodies(draw) -> bytes:
    """A body for `POST /api/v1/user/apptoken`: mostly an object of hostile fields (keys may
    repeat), sometimes any JSON text or bytes at all."""
    kind = draw(st.sampled_from(["object"] * 6 + ["fragment", "bytes"]))
    if kind == "fragment":
        return draw(fragments).encode("utf-8", "surrogatepass")
    if kind == "bytes":
        return draw(st.one_of(st.sampled_from(HOSTILE_BODIES), st.binary(max_size=200)))
    keys = draw(st.lists(st.sampled_from(["title", "title", "expiration", "expiration", "scopes", "scopes", "Title",
                                          "extra", ""]), max_size=5))
    values = {"title": st.one_of(hostile_text.map(json.dumps), fragments), "expiration": expirations,
              "scopes": scope_lists}
    parts = [json.dumps(key) + ":" + draw(values.get(key, fragments)) for key in keys]
    return ("{" + ",".join(parts) + "}").encode("utf-8", "surrogatepass")


@st.composite
def sign_in_bodies(draw) -> tuple[str, bytes]:
    """A content type and body for `POST /api/tokens/` that never asks for a password check."""
    fields = draw(st.dictionaries(st.sampled_from(["username", "openid", "password", "other"]), hostile_text,
                                  max_size=3))
    encoding = draw(st.sampled_from(["json", "form", "multipart", "raw"]))
    if encoding == "json":
        body = json.dumps(fields).encode("utf-8", "surrogatepass")
        content_type = "application/json"
    elif encoding == "form":
        body = "&".join(f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in fields.items()).encode()
        content_type = "application/x-www-form-urlencoded"
    elif encoding == "multipart":
        body = b"".join(b"--B\r\nContent-Disposition: form-data; name=\"" + k.encode() + b"\"\r\n\r\n"
                        + v.encode("utf-8", "surrogatepass") + b"\r\n" for k, v in fields.items()) + b"--B--\r\n"
        content_type = draw(st.sampled_from(["multipart/form-data; boundary=B", "multipart/form-data"]))
    else:
        body = draw(st.sampled_from(HOSTILE_BODIES))
        content_type = draw(st.sampled_from(CONTENT_TYPES))
    return content_type, body


@st.composite
def queries(draw) -> str:
    """A query string: hostile values for limit, offset, expiring and names nobody reads."""
    pairs = draw(st.lists(st.tuples(
        st.sampled_from(["limit", "offset", "expiring", "limit", "offset", "token", "", "a[]", "%00", "%ff"]),
        st.one_of(st.sampled_from(NUMBER_TEXTS), st.sampled_from(EXPIRING_VALUES), small_text.map(quoted),
                  st.sampled_from(["%", "%zz", "%ff%fe", "+", "%2B1", "&", "="]))), max_size=4))
    return "&".join(f"{name}={value}" if value is not None else name for name, value in pairs)


segments = st.one_of(
    st.sampled_from(PATH_SEGMENTS),
    indices.map(lambda i: ("pool-secret", i)), indices.map(lambda i: ("pool-key", i)),
    indices.map(lambda i: ("pool-uuid", i)), indices.map(lambda i: ("revoked", i)), indices.map(lambda i: ("forged", i)),
    small_text.map(quoted),
)


def make_machine(t: Target):
    """The state machine class bound to one target."""

    def segment(choice) -> str:
        if isinstance(choice, str):
            return choice
        kind, i = choice
        if kind == "revoked":
            return t.revoked[i % len(t.revoked)].secret
        if kind == "forged":
            return t.forged[i % len(t.forged)]
        issued = t.pool[i % len(t.pool)] if t.pool else Issued("lk_", "someuuid")
        return {"pool-secret": issued.secret, "pool-key": issued.secret[:8], "pool-uuid": issued.uuid or "x"}[kind]

    def send(method, path, headers=(), body=b""):
        path = path_text(path)
        body = scrypt_safe(method, path, body)
        return t.send(method, path, headers, body, may_drop=len(body) > 64 * 1024 or len(path) > 60000)

    def remember(issued: Issued) -> None:
        if issued.uuid:
            t.created.append(issued)
        t.pool.append(issued)
        if len(t.pool) > 300:
            del t.pool[:100]

    def forget(issued: Issued) -> None:
        if issued in t.pool:
            t.pool.remove(issued)
        t.revoked.append(issued)
        if len(t.revoked) > 100:
            del t.revoked[:50]

    class LatchkeyFuzz(RuleBasedStateMachine):
        @initialize()
        def fresh_token(self):
            """Each run starts with one new, valid app token among those the rules pick from."""
            issued = t.quay_create(t.anchors["alice session"].secret, {"title": "fuzz run"})
            if issued:
                remember(issued)
            t.tidy()

        @rule(manager=managers, scheme=schemes, body=quay_bodies(),
              content_type=st.sampled_from(["application/json"] * 4 + CONTENT_TYPES))
        def create_hostile(self, manager, scheme, body, content_type):
            answer = send("POST", "/api/v1/user/apptoken",
                          t.auth(scheme, manager) + [("Content-Type", header_bytes(content_type))], body)
            if answer is not None and answer.status == 200 and answer.json():
                token = answer.json()["token"]
                remember(Issued(token["token_code"], token["uuid"], manager.split()[0]))

        @rule(manager=managers, title=st.text(max_size=30),
              scopes=st.lists(st.sampled_from(["user:admin", "repo:read", "repo:write"]), max_size=2),
              expiration=st.one_of(st.none(), st.integers(1, 100 * 86400)))
        def create(self, manager, title, scopes, expiration):
            body = {"title": title, "scopes": scopes}
            if expiration:
                body["expiration"] = expiration
            answer = send("POST", "/api/v1/user/apptoken",
                          t.auth("Bearer", manager) + [("Content-Type", "application/json")],
                          json.dumps(body).encode("utf-8", "surrogatepass"))
            if answer is not None and answer.status == 200:
                token = answer.json()["token"]
                remember(Issued(token["token_code"], token["uuid"], manager.split()[0]))

        @rule(credential=valid_credentials, scheme=schemes, body=sign_in_bodies())
        def mint_session(self, credential, scheme, body):
            content_type, data = body
            answer = send("POST", "/api/tokens/",
                          authorization(scheme, t.secret_of(credential)) + [("Content-Type", header_bytes(content_type))],
                          data)
            if answer is not None and answer.status == 201 and answer.json():
                remember(Issued(answer.json()["token"], note="session"))

        @rule(credential=valid_credentials, scheme=schemes,
              path=st.sampled_from(["/api/users/me", "/api/v1/user/", "/api/v1/user/apptoken", "/api/tokens/",
                                    "/api/v1/superuser/apptokens", "/api/tokens", "/api/users/me/"]))
        def authenticate(self, credential, scheme, path):
            send("GET", path, authorization(scheme, t.secret_of(credential)))

        @rule(credential=valid_credentials, path=st.sampled_from(["/api/tokens/", "/api/tokens", "/api/v1/user/apptoken",
                                                            "/api/v1/superuser/apptokens"]), query=queries())
        def list_with_query(self, credential, path, query):
            send("GET", path + "?" + query, authorization("Bearer", t.secret_of(credential)))

        @rule(manager=managers, choice=segments, method=st.sampled_from(["GET", "GET", "DELETE"]))
        def quay_token(self, manager, choice, method):
            answer = send(method, "/api/v1/user/apptoken/" + segment(choice), t.auth("Bearer", manager))
            if method == "DELETE" and answer is not None and answer.status == 204:
                for issued in list(t.pool):
                    if issued.uuid == segment(choice):
                        forget(issued)

        @rule(credential=valid_credentials, choice=segments, method=st.sampled_from(["GET", "GET", "DELETE"]),
              slash=st.booleans())
        def stencila_token(self, credential, choice, method, slash):
            named = segment(choice)
            answer = send(method, "/api/tokens/" + named + ("/" if slash else ""),
                          authorization("Token", t.secret_of(credential)))
            if method == "DELETE" and answer is not None and answer.status == 204:
                for issued in list(t.pool):
                    if named in (issued.secret, issued.secret[:8]):
                        forget(issued)

        @rule(client=st.sampled_from(["right", "wrong", "none", "holder", "junk"]), junk=small_text, choice=segments,
              path=st.sampled_from(["/oauth/introspect", "/oauth/revoke"]),
              extra=st.sampled_from(["", "&token_type_hint=access_token", "&token_type_hint=%ff", "&token=", "&x"]))
        def oauth(self, client, junk, choice, path, extra):
            token = segment(choice)
            headers = {"right": [("Authorization", "Basic " + b64(f"{t.client_id}:{t.client_secret}"))],
                       "wrong": [("Authorization", "Basic " + b64(f"{t.client_id}:nope"))],
                       "junk": [("Authorization", "Basic " + b64(f"{junk}:{junk or 'x'}"))],
                       "none": [], "holder": authorization("Bearer", token)}[client]
            answer = send("POST", path, headers + [("Content-Type", "application/x-www-form-urlencoded")],
                          ("token=" + token + extra).encode("utf-8", "surrogatepass"))
            if path == "/oauth/revoke" and answer is not None and answer.status == 200:
                for issued in list(t.pool):
                    if issued.secret == token:
                        forget(issued)

        @rule(items=st.lists(st.one_of(segments, st.sampled_from([None, 1, [], {}])), max_size=5),
              shape=st.sampled_from(["strings", "objects", "mixed"]))
        def report_leaked(self, items, shape):
            values = [segment(item) if isinstance(item, (str, tuple)) else item for item in items]
            if shape == "objects":
                values = [{"token": value, "url": "https://example.org/" + str(value)[:20]} for value in values]
            elif shape == "mixed":
                values = [{"token": value} if i % 2 else value for i, value in enumerate(values)]
            answer = send("POST", "/api/v1/tokens/leaked", [("Content-Type", "application/json")],
                          json.dumps(values).encode("utf-8", "surrogatepass"))
            if answer is not None and answer.status == 202:
                for issued in list(t.pool):
                    if issued.secret in [v if isinstance(v, str) else (v or {}).get("token") for v in values
                                         if isinstance(v, (str, dict))]:
                        forget(issued)

        @rule(method=st.sampled_from(METHODS), route=st.sampled_from(KNOWN_ROUTES + UNKNOWN_ROUTES), choice=segments,
              query=st.one_of(st.just(None), queries()), credential=credentials, scheme=schemes,
              malformed=st.one_of(st.none(), st.sampled_from(MALFORMED_AUTHORIZATIONS)),
              content_type=st.one_of(st.none(), st.sampled_from(CONTENT_TYPES)),
              body=st.one_of(st.just(b""), quay_bodies(), sign_in_bodies().map(lambda pair: pair[1])))
        def hostile(self, method, route, choice, query, credential, scheme, malformed, content_type, body):
            """Any method, on any route known or not, with any credentials, query and body."""
            path = route.replace("{seg}", segment(choice)) + ("?" + query if query is not None else "")
            headers = ([("Authorization", header_bytes(malformed))] if malformed is not None
                       else authorization(scheme, t.secret_of(credential)))
            if content_type is not None:
                headers.append(("Content-Type", header_bytes(content_type)))
            # A DELETE of an anchor's own secret or key would end the run's credentials.
            if method.upper() == "DELETE" and any(a.secret[:8] in path for a in t.anchors.values()):
                return
            send(method, path, headers, body)

    return LatchkeyFuzz


def test_stateful_fuzz(target):
    """The state machine's rules, run with fixed seeds until the request budget is spent:
    no request crashes the server or makes it answer 5xx, and the credentials it started
    with still work afterwards (nothing it sent revoked them)."""
    machine = make_machine(target)
    target.statuses.clear()
    target.routes.clear()
    failures_before = len(target.failures)
    started_requests = target.sent
    started = time.monotonic()
    runs = 0
    while (target.sent - started_requests < FUZZ_REQUESTS and not target.exhausted
           and time.monotonic() - started < FUZZ_SECONDS and runs < 10 * (FUZZ_REQUESTS // 1000 + 1)):
        remaining = FUZZ_REQUESTS - (target.sent - started_requests)
        seed(1000 + runs)(machine)  # each round of examples its own fixed seed: deterministic
        run_state_machine_as_test(machine, settings=settings(
            max_examples=max(2, min(100, remaining // STEPS + 1)), stateful_step_count=STEPS, deadline=None,
            database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet, derandomize=False))
        runs += 1
    target.check_health()
    for name, issued in target.anchors.items():
        if not target.exhausted:
            answer = target.send("GET", "/api/v1/user/", authorization("Bearer", issued.secret))
            if answer is not None and answer.status != 200:
                target._record("lost credential", None, f"the {name} token no longer authenticates ({answer.status})")
    sent = target.sent - started_requests
    elapsed = time.monotonic() - started
    print(f"\n{target.backend}: {sent} fuzz requests in {elapsed:.0f} s over {runs} seeded runs (and "
          f"{target.housekeeping} deletions to keep lists short); restarts {target.restarts}; "
          f"statuses {dict(sorted(target.statuses.items()))}; slowest {target.slowest}")
    covered = Counter()
    for (method, route, status), count in target.routes.items():
        covered[f"{method} {route}"] += count
    print("most requested routes: " + ", ".join(f"{route} ×{count}" for route, count in covered.most_common(25)))
    successes = sorted(f"{m} {r} {s}×{c}" for (m, r, s), c in target.routes.items() if s < 300)
    print("successful: " + ", ".join(successes))
    failures = target.failures[failures_before:]
    if failures:
        pytest.fail(target.report(failures), pytrace=False)
    assert sent >= FUZZ_REQUESTS, f"only {sent} of {FUZZ_REQUESTS} fuzz requests were sent in {elapsed:.0f} s"
