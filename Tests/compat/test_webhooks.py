"""Webhooks (issue 15) against the real server process, on SQLite and on PostgreSQL: delivery.

- token.created, token.rotated and token.revoked reach the endpoint, signed (every signature
  verifies), in the documented shape, and never carrying a token's secret;
- a receiver that fails twice gets the same message (same `webhook-id`) a third time, signed anew,
  and `latchkey webhook deliveries` shows the three attempts (500, 500, 200) and `succeeded`;
- a receiver that never answers is given up on per attempt (`timed out`), and once the retry
  schedule runs out the delivery shows `failed`.

Each test starts its own `latchkey serve` with `--allow-insecure-webhooks` (the receiver of
test_support_webhooks.py is on loopback over http), a short `--webhook-retry-schedule` and
`--webhook-timeout`, and checks what an operator would notice. Every wait is a poll with a
deadline; the delivery loop runs every second on every node.

The other webhook suites: test_webhooks_sigkill_and_two_nodes.py (nothing lost to a SIGKILL,
nothing sent twice by two nodes), test_webhooks_endpoints.py (bad `latchkey webhook` input, and
who may do what over `/v1/webhooks`) and test_webhook_delivery_safety.py (the safety checks made
at each attempt).
"""

import json

import pytest

import test_support_webhooks
from conftest import Latchkey, backends
from test_support_webhooks import (
    MESSAGE_ID,
    SECRET,
    TIMED_OUT,
    TIMESTAMP,
    Hang,
    Received,
    assert_no_secret,
    attempts_in_order,
    create_endpoint,
    deliveries,
    new_database,
    serve_args,
    until,
    wait_for_delivery,
)

# A fresh receiver for each test that names it: a fixture of test_support_webhooks.py.
receiver = test_support_webhooks.receiver


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
