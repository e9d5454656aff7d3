"""Webhook endpoints, made and read through the CLI and `/v1/webhooks`, on SQLite and on PostgreSQL.

- bad `latchkey webhook` input is one line on stderr and a non-zero exit, and creates nothing;
- `/v1/webhooks` takes sign-in sessions only: an administrator makes operator endpoints, an app
  token is refused, and a user sees only endpoints about their own account.

Each test starts its own `latchkey serve` with `--allow-insecure-webhooks` (the receiver of
test_support_webhooks.py is on loopback over http), a short `--webhook-retry-schedule` and
`--webhook-timeout`, and checks what an operator would notice. Every wait is a poll with a
deadline; the delivery loop runs every second on every node.
"""

import json
import uuid

import pytest
from standardwebhooks import Webhook

import test_support_webhooks
from conftest import Answer, Latchkey, backends, run_cli
from test_support_webhooks import import_users, new_database, parallel, serve_args, signin

# A fresh receiver for each test that names it: a fixture of test_support_webhooks.py.
receiver = test_support_webhooks.receiver


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
