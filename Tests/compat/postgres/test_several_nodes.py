"""Several Latchkey nodes on one PostgreSQL database, as behind a load balancer."""

import tempfile
from pathlib import Path

import pytest
import requests

from conftest import POSTGRES_URL, Latchkey, eventually, fresh_postgres_database

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="needs LATCHKEY_TEST_POSTGRES_URL (scripts/test starts one)")


@pytest.fixture(scope="module")
def nodes():
    with tempfile.TemporaryDirectory(prefix="latchkey-nodes-") as directory:
        database = fresh_postgres_database()
        # Both start at once on an empty database: their migrations take turns under the advisory lock.
        a = Latchkey(Path(directory), database, name="node-a", wait=False)
        b = Latchkey(Path(directory), database, name="node-b", wait=False)
        try:
            a.wait_until("/readyz")
            b.wait_until("/readyz")
            a.create_user("sam", "sam-password", "Sam", "Smith")
            yield a, b
        finally:
            a.stop()
            b.stop()


def test_created_on_a_works_on_b_and_revoked_on_b_fails_on_a(nodes):
    a, b = nodes
    created = requests.post(a.base + "/api/tokens/", json={"username": "sam", "password": "sam-password"})
    assert created.status_code == 201
    token = created.json()["token"]
    auth = {"Authorization": "Token " + token}

    on_b = requests.get(b.base + "/api/tokens/", headers=auth)
    assert on_b.status_code == 200
    assert created.json()["id"] in [t["id"] for t in on_b.json()["results"]]
    # Verified on a too: from here a answers from its token cache.
    assert requests.get(a.base + "/api/users/me", headers=auth).status_code == 200

    assert requests.delete(f"{b.base}/api/tokens/{token}/").status_code == 204

    # b's revocation reaches a's cache through PostgreSQL NOTIFY (docs/operating.md: within a second; that
    # speed is bench/propagation.py's to measure, here only that it arrives).
    on_a = eventually(lambda: requests.get(a.base + "/api/tokens/", headers=auth),
                      lambda answer: answer.status_code == 403)
    assert on_a.status_code == 403
    assert on_a.json() == {"message": "Invalid token."}


def test_nodes_share_the_server_key_so_any_node_shows_a_recoverable_code(nodes):
    a, b = nodes
    session = requests.post(a.base + "/api/tokens/", json={"username": "sam", "password": "sam-password"}).json()["token"]
    auth = {"Authorization": "Bearer " + session}
    made = requests.post(a.base + "/api/v1/user/apptoken", json={"title": "from a"}, headers=auth).json()["token"]
    read = requests.get(f"{b.base}/api/v1/user/apptoken/{made['uuid']}", headers=auth)
    assert read.status_code == 200
    assert read.json()["token"]["token_code"] == made["token_code"]
    app_auth = requests.get(a.base + "/api/v1/user/", auth=("$app", made["token_code"]))
    assert app_auth.status_code == 200 and app_auth.json()["username"] == "sam"


def test_a_username_taken_on_one_node_is_taken_on_the_other(nodes):
    a, b = nodes
    a.create_user("kim", "kim-password")
    import subprocess
    from conftest import LATCHKEY
    result = subprocess.run(
        [LATCHKEY, "user", "create", "KIM", "--no-password", "--database", b.database],
        capture_output=True, text=True, env=b.env,
    )
    assert result.returncode != 0
    assert result.stderr == "latchkey: the username 'KIM' is already taken\n"
