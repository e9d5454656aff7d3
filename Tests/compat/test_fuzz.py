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

The pieces, beside this file: test_support_fuzz_values.py (the hostile values, and how they are
written into requests), test_support_fuzz_target.py (the server under fuzz, and the checks made
after every request), test_support_fuzz_cases.py (the hand-written edge cases and raw-socket
requests) and test_support_fuzz_machine.py (the state machine). Both tests below share one server
per backend, in this order: the state machine starts from what the hand-written cases left.
"""

import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, Verbosity, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from conftest import backends
from test_support_fuzz_cases import hand_written_cases, raw_cases, raw_exchange
from test_support_fuzz_machine import make_machine
from test_support_fuzz_target import Target
from test_support_fuzz_values import authorization, path_text, scrypt_safe

# Hypothesis warns when it shows a megabyte-sized argument; those are on purpose here.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")

# Requests the state machine sends per backend (the hand-written cases come on top).
FUZZ_REQUESTS = int(os.environ.get("LATCHKEY_FUZZ_REQUESTS", "5000"))
# A bound on the fuzzing time per backend: generous, it is a hang guard, not a pace.
FUZZ_SECONDS = float(os.environ.get("LATCHKEY_FUZZ_SECONDS", str(max(900, FUZZ_REQUESTS * 0.2))))
# Steps per state-machine run: short runs, many of them, so that hypothesis's choice of
# which rules each run uses (swarm testing) evens out over the routes.
STEPS = 25


@pytest.fixture(scope="module", params=backends())
def target(request):
    """A fresh server and database per backend for this module alone."""
    with tempfile.TemporaryDirectory(prefix="latchkey-fuzz-") as directory:
        fuzzed = Target(Path(directory), request.param)
        try:
            yield fuzzed
        finally:
            fuzzed.stop()


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
