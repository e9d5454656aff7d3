"""Webhooks against the real server process: no event lost to a SIGKILL, none sent twice by two nodes.

- a server killed with SIGKILL while the receiver holds its delivery unanswered loses nothing: after
  a restart on the same database the same message is sent again and succeeds (on SQLite and on
  PostgreSQL);
- two nodes on one PostgreSQL database deliver each event once, not once per node.

Each test starts its own `latchkey serve` with `--allow-insecure-webhooks` (the receiver of
test_support_webhooks.py is on loopback over http), a short `--webhook-retry-schedule` and
`--webhook-timeout`, and checks what an operator would notice. Every wait is a poll with a
deadline; the delivery loop runs every second on every node.
"""

import pytest

import test_support_webhooks
from conftest import POSTGRES_URL, Latchkey, backends, fresh_postgres_database
from test_support_webhooks import (
    DEADLINE,
    Hang,
    Received,
    assert_no_secret,
    create_endpoint,
    deliveries,
    import_users,
    new_database,
    parallel,
    serve_args,
    signin,
    until,
    wait_for_delivery,
)

# A fresh receiver for each test that names it: a fixture of test_support_webhooks.py.
receiver = test_support_webhooks.receiver


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
