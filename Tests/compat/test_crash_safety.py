"""Acknowledged writes survive the server being killed with SIGKILL mid-burst.

Each round, several threads create app tokens (`POST /api/v1/user/apptoken` with a session
token) and revoke others (`DELETE /api/v1/user/apptoken/{uuid}`) as fast as the server
answers; once a seeded-random number of operations has been acknowledged, while the threads
are still sending, the server is killed with SIGKILL. It is restarted on the same database
(same path or URL, same LATCHKEY_SERVER_KEY), and then:

- every creation that was acknowledged (200 with its `token_code`) still authenticates
  (`GET /api/v1/user/` with `Authorization: Bearer <secret>` answers 200);
- every revocation that was acknowledged (204) still holds (the same call answers 401).

Requests in flight at the kill may have gone either way and are not checked (nor is a token
whose revocation was in flight). Each round also asserts that the kill landed mid-burst (some
requests failed for want of a server) and that enough operations were acknowledged to mean
something. Three rounds per backend; LATCHKEY_CRASH_ROUNDS raises that (bench/crash.sh).
"""

import os
import random
import signal
import threading
import time

import pytest
import requests

from conftest import Latchkey, backends, fresh_postgres_database

ROUNDS = int(os.environ.get("LATCHKEY_CRASH_ROUNDS", "3"))
CREATORS = 3
REVOKERS = 2
MIN_CREATED = 20  # acknowledged creations per round, at least
MIN_REVOKED = 10  # acknowledged revocations per round, at least
POOL = 40  # tokens made before each burst for the revokers to start on
BURST_SECONDS = 60  # the kill comes sooner; this bounds a burst on a very slow machine
RECHECK_EARLIER = 150  # tokens from earlier rounds checked again after each restart
PASSWORD = "crash-password"


class Burst:
    """The threads of one round and what the server acknowledged to them."""

    def __init__(self, base: str, session: str, pool: list[tuple[str, str]], round_number: int):
        self.base = base
        self.auth = {"Authorization": "Bearer " + session}
        self.lock = threading.Lock()
        self.created: dict[str, str] = {}  # uuid -> secret, acknowledged
        self.revoked: dict[str, str] = {}  # uuid -> secret, acknowledged
        self.uncertain: set[str] = set()  # uuids whose revocation was sent but not acknowledged
        self.to_revoke = list(pool)  # (uuid, secret), revoked from the end
        self.acknowledged = 0
        self.cut_off = 0  # requests sent before the kill that got no answer: they were in flight
        self.errors: list[str] = []  # unexpected answers (the burst stops on the first)
        self.killed = threading.Event()  # set just before the SIGKILL
        self.round = round_number

    def _send(self, session: requests.Session, method: str, path: str, **kwargs) -> requests.Response | None:
        """One request; None when it got no answer (counted as cut off if it left before the kill)."""
        before_kill = not self.killed.is_set()
        try:
            return session.request(method, self.base + path, headers=self.auth, timeout=30, **kwargs)
        except requests.RequestException:
            with self.lock:
                self.cut_off += before_kill
            return None

    def _done(self) -> bool:
        return self.killed.is_set() or bool(self.errors)

    def create(self, worker: int) -> None:
        session = requests.Session()
        for n in range(100_000):
            if self._done():
                return
            response = self._send(session, "POST", "/api/v1/user/apptoken",
                                  json={"title": f"crash {self.round}.{worker}.{n}"})
            if response is None:
                continue
            if response.status_code != 200:
                self.errors.append(f"creation answered {response.status_code}: {response.text[:300]}")
                return
            token = response.json()["token"]
            with self.lock:
                self.created[token["uuid"]] = token["token_code"]
                self.acknowledged += 1
                if n % 2 == 0:  # half of the new tokens are revoked again during the burst
                    self.to_revoke.append((token["uuid"], token["token_code"]))

    def revoke(self) -> None:
        session = requests.Session()
        for _ in range(100_000):
            if self._done():
                return
            with self.lock:
                item = self.to_revoke.pop() if self.to_revoke else None
                if item:
                    self.uncertain.add(item[0])
            if item is None:
                time.sleep(0.005)  # waiting for a creator to make one; bounded by the loop
                continue
            uuid, secret = item
            response = self._send(session, "DELETE", f"/api/v1/user/apptoken/{uuid}")
            if response is None:
                continue
            if response.status_code != 204:
                self.errors.append(f"revocation of {uuid} answered {response.status_code}: {response.text[:300]}")
                return
            with self.lock:
                self.uncertain.discard(uuid)
                self.revoked[uuid] = secret
                self.acknowledged += 1


def authenticates(base: str, secret: str) -> int:
    return requests.get(base + "/api/v1/user/", headers={"Authorization": "Bearer " + secret}, timeout=30).status_code


@pytest.mark.parametrize("backend", backends())
def test_acknowledged_writes_survive_sigkill(backend, tmp_path):
    database = fresh_postgres_database() if backend == "postgres" else str(tmp_path / "latchkey.db")
    rng = random.Random(42)
    server = Latchkey(tmp_path, database, name="round-0")
    try:
        server.create_user("crash", PASSWORD)
        # One password sign-in in all: the session token outlives every restart.
        session = requests.post(server.base + "/api/tokens/", json={"username": "crash", "password": PASSWORD},
                                timeout=60).json()["token"]
        live: dict[str, str] = {}  # uuid -> secret: acknowledged, never revoked or revocation uncertain
        dead: dict[str, str] = {}  # uuid -> secret: revocation acknowledged
        for round_number in range(1, ROUNDS + 1):
            pool = []
            for n in range(POOL):
                response = requests.post(server.base + "/api/v1/user/apptoken",
                                         headers={"Authorization": "Bearer " + session},
                                         json={"title": f"pool {round_number}.{n}"}, timeout=30)
                assert response.status_code == 200, response.text
                token = response.json()["token"]
                pool.append((token["uuid"], token["token_code"]))
                live[token["uuid"]] = token["token_code"]

            burst = Burst(server.base, session, pool, round_number)
            threads = [threading.Thread(target=burst.create, args=(i,), daemon=True) for i in range(CREATORS)]
            threads += [threading.Thread(target=burst.revoke, daemon=True) for _ in range(REVOKERS)]
            kill_after = rng.randint(60, 200)
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + BURST_SECONDS
            while burst.acknowledged < kill_after and time.monotonic() < deadline and not burst.errors:
                time.sleep(0.002)
            burst.killed.set()
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(timeout=30)
            for thread in threads:
                thread.join(timeout=60)
            assert not any(t.is_alive() for t in threads), "a burst thread did not stop after the kill"
            server.stop()
            assert not burst.errors, f"round {round_number}: " + "; ".join(burst.errors[:5])

            created, revoked = dict(burst.created), dict(burst.revoked)
            assert len(created) >= MIN_CREATED and len(revoked) >= MIN_REVOKED, (
                f"round {round_number}: only {len(created)} creations and {len(revoked)} revocations were "
                f"acknowledged before the kill; too few for the round to mean something")
            assert burst.cut_off >= 1, (
                f"round {round_number}: no request in flight was cut off by the kill; it did not land mid-burst")

            live.update(created)
            for uuid, secret in revoked.items():
                live.pop(uuid, None)
                dead[uuid] = secret
            for uuid in burst.uncertain:  # revocation in flight at the kill: either outcome is right
                live.pop(uuid, None)

            server = Latchkey(tmp_path, database, name=f"round-{round_number}")
            assert authenticates(server.base, session) == 200, "the session token did not survive the restart"
            earlier = [u for u in live if u not in created]
            checked_live = list(created.keys() & live.keys()) + rng.sample(earlier, min(RECHECK_EARLIER, len(earlier)))
            lost = [u for u in checked_live if authenticates(server.base, live[u]) != 200]
            earlier_dead = [u for u in dead if u not in revoked]
            checked_dead = list(revoked) + rng.sample(earlier_dead, min(RECHECK_EARLIER, len(earlier_dead)))
            resurrected = [u for u in checked_dead if authenticates(server.base, dead[u]) != 401]
            print(f"{backend} round {round_number}: killed after {burst.acknowledged} acknowledged operations "
                  f"({len(created)} creations, {len(revoked)} revocations, {burst.cut_off} cut off in flight); "
                  f"checked {len(checked_live)} live and {len(checked_dead)} revoked tokens")
            assert not lost and not resurrected, (
                f"{backend}, round {round_number}: {len(lost)} acknowledged creation(s) no longer authenticate "
                f"(uuids {lost[:10]}) and {len(resurrected)} acknowledged revocation(s) authenticate again "
                f"(uuids {resurrected[:10]}) after SIGKILL and restart")
        listed = requests.get(server.base + "/api/v1/user/apptoken", headers={"Authorization": "Bearer " + session},
                              timeout=60).json()["tokens"]
        listed_uuids = {token["uuid"] for token in listed}
        assert set(live) <= listed_uuids, "an acknowledged creation is missing from the list"
        assert not (set(dead) & listed_uuids), "an acknowledged revocation is still listed"
    finally:
        server.stop()
