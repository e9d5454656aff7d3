"""Abuse limits, against the real server process and real client addresses.

Each test starts `latchkey serve` with the limit under test set low, on SQLite and on
PostgreSQL, and drives it over HTTP from several loopback addresses (127.0.0.0/8 is all
local on Linux, so binding the client socket to 127.0.0.2 makes the server see another
client):

- brute force: failed password sign-ins are throttled per account (whatever the address,
  known or unknown username alike) and per client address (whatever the username), with
  429, `Retry-After` and Stencila's error shape; a throttled account is refused even with
  its right password, while other accounts and addresses still sign in. `X-Forwarded-For`
  counts only from a trusted proxy (`--trusted-proxy`), and then names the client;
- the bounded password pool: past `--password-workers` + `--password-queue`, sign-ins get
  503 with `Retry-After` at once, while token checks (no password work) keep answering;
- sign-ins whose client has gone are dropped before their password check starts
  (no `signin.failed` is recorded for them; the log shows 499, not an error);
- the live-token cap per user (`--token-limit-per-user`), in the Stencila and Quay shapes;
- the token creation rate per user (`--token-create-rate`).

Users are made before the server starts (so no first `admin` account is made): with
`latchkey user create` (an scrypt hash) when they sign in successfully, or imported with a
bcrypt hash of cost 4 (`latchkey user import`: no scrypt work to set up) when they only
fail. Every password check costs one scrypt derivation (about 3 s on a debug build), for
unknown usernames and imported hashes too, so the requests that need one are few and are
sent in parallel.
"""

import json
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bcrypt
import pytest

from conftest import Answer, Latchkey, backends, fresh_postgres_database, run_cli

INCORRECT = {"message": "Incorrect authentication credentials."}
SIGNIN_THROTTLED = re.compile(r"Too many sign-in attempts; try again in (\d+) seconds\.")
SERVER_BUSY = re.compile(r"The server is busy; try again in (\d+) seconds\.")
TOKENS_THROTTLED = re.compile(r"Too many tokens created; try again in (\d+) seconds\.")
QUAY_ERROR_KEYS = {"detail", "error_message", "error_type", "title", "type", "status"}
SECRET = re.compile(r"lk_[0-9A-Za-z]{36}")


def bcrypt_hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


def start(backend: str, directory: Path, args: list[str], users: dict[str, str] | None = None,
          name: str = "server", created: dict[str, str] | None = None) -> Latchkey:
    """A server on a fresh database holding `users` (imported with bcrypt hashes) and `created`
    (made with `latchkey user create`, so with scrypt hashes), started with the serve options `args`."""
    database = fresh_postgres_database() if backend == "postgres" else str(directory / f"{name}.db")
    if users:
        lines = [json.dumps({"username": username, "email": f"{username}@example.org", "password": bcrypt_hash(pw),
                             "is_active": True, "is_admin": False}) for username, pw in users.items()]
        (directory / f"{name}-users.jsonl").write_text("\n".join(lines) + "\n")
        result = run_cli(database, "user", "import", str(directory / f"{name}-users.jsonl"))
        assert result.returncode == 0, result.stderr
    for username, password in (created or {}).items():
        result = run_cli(database, "user", "create", username, "--email", f"{username}@example.org",
                         "--password-stdin", stdin=password + "\n")
        assert result.returncode == 0, result.stderr
    return Latchkey(directory, database, name=name, args=args)


def signin(server: Latchkey, username: str, password: str, source: str = "127.0.0.1",
           headers: dict[str, str] | None = None) -> Answer:
    return server.request("POST", "/api/tokens/", {"username": username, "password": password}, headers, source)


def parallel(calls) -> list:
    """Runs the callables at once (each its own connection); answers their results in order."""
    calls = list(calls)
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [future.result() for future in [pool.submit(call) for call in calls]]


def assert_refused(answer: Answer, status: int, pattern: re.Pattern, most_seconds: int) -> int:
    """`answer` is `status` with an integer `Retry-After` of 1 to `most_seconds`, and Stencila's shape
    `{"message": ...}` naming the same number of seconds; answers that number."""
    assert answer.status == status, answer
    retry_after = answer.headers.get("retry-after", "")
    assert retry_after.isdigit() and 1 <= int(retry_after) <= most_seconds, answer
    assert isinstance(answer.json, dict) and set(answer.json) == {"message"}, answer
    match = pattern.fullmatch(answer.json["message"])
    assert match and match.group(1) == retry_after, answer
    return int(retry_after)


def assert_signin_throttled(answer: Answer, window_seconds: int = 900) -> None:
    # The two-window estimate may ask for up to two windows when the last one was full.
    assert_refused(answer, 429, SIGNIN_THROTTLED, 2 * window_seconds)


def error_lines(log: str) -> list[str]:
    """The log's lines at level error or critical (`<time> <level> latchkey: ...`)."""
    return re.findall(r"^\S+ (?:error|critical) .*$", log, re.MULTILINE)


def audit(server: Latchkey, *args: str) -> list[dict]:
    return json.loads(server.cli("audit", "--json", "--limit", "1000", *args))


@pytest.mark.parametrize("backend", backends())
def test_signin_brute_force_is_throttled_per_account_and_per_address(backend, tmp_path):
    alice, bob = "alice-password-1", "bob-password-1"
    server = start(backend, tmp_path, ["--signin-limit-account", "5/15m", "--signin-limit-address", "8/15m",
                                       # Room for the parallel checks below: the pool is not under test here.
                                       "--password-queue", "32"],
                   users={"alice": alice}, created={"bob": bob})
    try:
        # In parallel: 5 wrong passwords for alice from 127.0.0.1, 5 for an unknown username from
        # 127.0.0.6, and 8 for 8 different unknown usernames from 127.0.0.3. Each limit counts an
        # attempt when it starts, so all of these are checked and refused as wrong.
        answers = parallel(
            [lambda i=i: signin(server, "alice", f"wrong-{i}", "127.0.0.1") for i in range(5)]
            + [lambda i=i: signin(server, "nobody-by-that-name", f"guess-{i}", "127.0.0.6") for i in range(5)]
            + [lambda i=i: signin(server, f"unknown-{i}", f"guess-{i}", "127.0.0.3") for i in range(8)])
        for answer in answers:
            assert answer.status == 403 and answer.json == INCORRECT, answer

        # The account limit: the 6th attempt on alice is refused without a check, even with her password,
        # and from any address.
        assert_signin_throttled(signin(server, "alice", "wrong-5", "127.0.0.1"))
        assert_signin_throttled(signin(server, "alice", alice, "127.0.0.1"))
        assert_signin_throttled(signin(server, "alice", alice, "127.0.0.7"))
        # An unknown username is treated exactly alike.
        assert_signin_throttled(signin(server, "nobody-by-that-name", "guess-5", "127.0.0.6"))
        assert_signin_throttled(signin(server, "nobody-by-that-name", "guess-6", "127.0.0.8"))
        # The address limit: after 8 failures from 127.0.0.3, the 9th is refused for a username never
        # tried there, and for bob's right password...
        assert_signin_throttled(signin(server, "never-tried", "guess", "127.0.0.3"))
        assert_signin_throttled(signin(server, "bob", bob, "127.0.0.3"))
        # ...and X-Forwarded-For from a peer that is not a trusted proxy changes nothing.
        for n in range(3):
            forwarded = {"X-Forwarded-For": f"203.0.113.{n + 1}"}
            assert_signin_throttled(signin(server, f"forwarded-{n}", "guess", "127.0.0.3", headers=forwarded))

        # Meanwhile bob signs in from 127.0.0.2 and from 127.0.0.4.
        for answer in parallel([lambda: signin(server, "bob", bob, "127.0.0.2"),
                                lambda: signin(server, "bob", bob, "127.0.0.4")]):
            assert answer.status == 201 and SECRET.fullmatch(answer.json["token"]), answer

        events = audit(server, "--since", "1h")
        throttled = sorted((event.get("user") or "-", event.get("address"), event["detail"])
                           for event in events if event["kind"] == "signin.throttled")
        # Once per engagement of a limit, not once per refused attempt: alice's and the unknown
        # name's logins, and 127.0.0.3's address.
        assert throttled == sorted([
            ("alice", "127.0.0.1", "too many failures for this account"),
            ("-", "127.0.0.6", "too many failures for this account"),
            ("-", "127.0.0.3", "too many failures from this address"),
        ]), throttled
        failed = [event.get("address") for event in events if event["kind"] == "signin.failed"]
        assert sorted(failed) == ["127.0.0.1"] * 5 + ["127.0.0.3"] * 8 + ["127.0.0.6"] * 5, failed
        succeeded = sorted(event.get("address") for event in events if event["kind"] == "signin.succeeded")
        assert succeeded == ["127.0.0.2", "127.0.0.4"], succeeded
    finally:
        server.stop()

    # Behind a trusted proxy, X-Forwarded-For names the client whose attempts are counted.
    proxied = start(backend, tmp_path, ["--trusted-proxy", "127.0.0.5", "--signin-limit-address", "2/15m"],
                    users={"bob": bob}, name="proxied")
    try:
        via_7 = {"X-Forwarded-For": "198.51.100.7"}
        for answer in parallel([lambda i=i: signin(proxied, f"unknown-{i}", "guess", "127.0.0.5", via_7)
                                for i in range(2)]):
            assert answer.status == 403 and answer.json == INCORRECT, answer
        assert_signin_throttled(signin(proxied, "unknown-2", "guess", "127.0.0.5", via_7))
        # The proxy's own address was not throttled: forwarding for another client, bob signs in.
        answer = signin(proxied, "bob", bob, "127.0.0.5", {"X-Forwarded-For": "198.51.100.8"})
        assert answer.status == 201, answer
        events = audit(proxied)
        failed = [event.get("address") for event in events if event["kind"] == "signin.failed"]
        assert failed == ["198.51.100.7"] * 2, events
        throttled = [event.get("address") for event in events if event["kind"] == "signin.throttled"]
        assert throttled == ["198.51.100.7"], events
        succeeded = [(event["user"], event.get("address")) for event in events if event["kind"] == "signin.succeeded"]
        assert succeeded == [("bob", "198.51.100.8")], events
    finally:
        proxied.stop()


@pytest.mark.parametrize("backend", backends())
def test_password_pool_refuses_beyond_its_queue_and_token_checks_go_on(backend, tmp_path):
    server = start(backend, tmp_path, ["--password-workers", "1", "--password-queue", "2",
                                       "--signin-limit-address", "1000/15m"],
                   users={"holder": "holder-password"})
    try:
        token = json.loads(server.cli("token", "create", "--user", "holder", "--title", "t", "--json"))["token"]
        assert SECRET.fullmatch(token), token
        count = 12
        barrier = threading.Barrier(count)
        answers: list[Answer | None] = [None] * count

        def attempt(i: int) -> None:
            barrier.wait(timeout=60)
            answers[i] = signin(server, f"nobody-{i}", f"guess-{i}")

        threads = [threading.Thread(target=attempt, args=(i,), daemon=True) for i in range(count)]
        for thread in threads:
            thread.start()
        # Token checks need no password work: they answer while the sign-ins wait or are refused.
        checks = []
        while True:
            running = any(thread.is_alive() for thread in threads)
            checks.append(server.request("GET", "/api/users/me", headers={"Authorization": "Token " + token}))
            if not running:
                break
            time.sleep(0.05)  # polling; a tight loop would only slow the password work down
        for thread in threads:
            thread.join(timeout=300)
        assert not any(thread.is_alive() for thread in threads)
        assert all(answer.status == 200 and answer.json["username"] == "holder" for answer in checks), [
            answer for answer in checks if answer.status != 200][:3]

        statuses = sorted(answer.status for answer in answers)
        assert set(statuses) <= {403, 503}, answers
        busy = [answer for answer in answers if answer.status == 503]
        assert busy, f"no sign-in of {count} at once was refused by a pool of 1 worker and 2 places: {statuses}"
        # A refusal means the worker and both places were taken: at least 3 were checked (and wrong).
        assert statuses.count(403) >= 3, statuses
        for answer in answers:
            if answer.status == 403:
                assert answer.json == INCORRECT, answer
            else:
                assert_refused(answer, 503, SERVER_BUSY, 3600)
    finally:
        server.stop()
    assert not error_lines(server.log_path.read_text())


@pytest.mark.parametrize("backend", backends())
def test_abandoned_signins_are_dropped_before_their_password_check(backend, tmp_path):
    # alice is made with `user create`: an scrypt hash, so each check takes seconds on a debug build.
    server = start(backend, tmp_path, ["--password-workers", "1", "--password-queue", "20"],
                   created={"alice": "alice-password-3"})
    try:
        abandoned = 6

        def leave_early(i: int) -> str:
            try:
                answer = server.request("POST", "/api/tokens/", {"username": "alice", "password": f"wrong-{i}"},
                                        timeout=0.2)
                return f"answered {answer.status}"
            except (socket.timeout, TimeoutError):
                return "left"

        outcomes = parallel([lambda i=i: leave_early(i) for i in range(abandoned)])
        assert outcomes == ["left"] * abandoned, outcomes
        # The queue is first in, first out: once a later sign-in is answered, every abandoned one
        # has either been checked or dropped.
        probe = signin(server, "probe-nobody", "guess", "127.0.0.2")
        assert probe.status == 403 and probe.json == INCORRECT, probe

        def failed_events() -> list[dict]:
            return [event for event in audit(server, "--user", "alice") if event["kind"] == "signin.failed"]

        # And the audit log no longer changes (bounded polling of the process's effects).
        events = failed_events()
        for _ in range(120):
            again = failed_events()
            if again == events:
                break
            events = again
        else:
            pytest.fail(f"alice's audit events kept changing: {events}")
        # The first started at once and ran its check to the end (the client had gone by then);
        # the others waited behind it and were dropped when their turn came, unchecked.
        assert 1 <= len(events) <= 2 < abandoned, events
    finally:
        server.stop()

    log = server.log_path.read_text()
    signins = re.findall(r"POST /api/tokens (\d{3})", log)
    assert not error_lines(log), log
    # Every abandoned sign-in is logged: checked ones as 403, dropped ones as 499 (client closed).
    assert signins.count("499") == abandoned - len(events), log
    assert signins.count("403") == len(events) + 1 and len(signins) == abandoned + 1, log


@pytest.mark.parametrize("backend", backends())
def test_live_tokens_per_user_are_capped(backend, tmp_path):
    alice = "alice-password-4"
    server = start(backend, tmp_path, ["--token-limit-per-user", "3"], created={"alice": alice})
    try:
        sessions = []
        for answer in parallel([lambda: signin(server, "alice", alice)] * 3):
            assert answer.status == 201, answer
            sessions.append(answer.json["token"])
        answer = signin(server, "alice", alice)
        assert answer.status == 403, answer
        assert answer.json == {"message": "Maximum amount of tokens allowed per user exceeded (3); revoke some first."}

        quay = server.request("POST", "/api/v1/user/apptoken", {"title": "x"},
                              headers={"Authorization": "Bearer " + sessions[0]})
        assert 400 <= quay.status < 500, quay
        assert isinstance(quay.json, dict) and set(quay.json) == QUAY_ERROR_KEYS, quay
        assert quay.json["status"] == quay.status, quay
        assert "Maximum amount of tokens allowed per user exceeded (3)" in quay.json["error_message"], quay

        revoked = server.request("DELETE", f"/api/tokens/{sessions[1]}/")
        assert revoked.status == 204, revoked
        answer = signin(server, "alice", alice)
        assert answer.status == 201, answer
    finally:
        server.stop()


@pytest.mark.parametrize("backend", backends())
def test_token_creation_rate_per_user(backend, tmp_path):
    alice = "alice-password-5"
    server = start(backend, tmp_path, ["--token-create-rate", "2/1m"], created={"alice": alice})
    try:
        # All three pass the password check; the creation limit then lets exactly two through.
        answers = parallel([lambda: signin(server, "alice", alice)] * 3)
        assert sorted(answer.status for answer in answers) == [201, 201, 429], answers
        refused = next(answer for answer in answers if answer.status == 429)
        assert_refused(refused, 429, TOKENS_THROTTLED, 120)
        kinds = [event["kind"] for event in audit(server, "--user", "alice")]
        assert kinds.count("token.created") == 2 and kinds.count("token.creation_throttled") == 1, kinds
    finally:
        server.stop()
