"""The operator's commands against a real server process, on SQLite and on PostgreSQL.

- `latchkey user import`: users from Quay (bcrypt `$2a$`, `$2b$`, `$2y$`, made by Python's
  `bcrypt`) and Stencila Hub (Django's `pbkdf2_sha256`, made by Django itself), as JSON lines
  and CSV, imported before the server starts and while it runs. They sign in with their
  passwords and not with others; the stored hash becomes scrypt at the first successful
  sign-in (read straight from the database: the CLI never shows hashes) and still verifies
  afterwards. Bad rows are reported by line number and skipped, the rest imported.
- `user deactivate` / `activate` take effect on live tokens (the server's token cache hears of
  the CLI's change; how quickly is measured by bench/propagation.py) and on sign-in at once;
  `user set-password` (it ends the account's sign-in sessions, not its app tokens); `token list
  --all` (owners, never secrets); `token revoke --user --all`.
- `latchkey audit`: every kind of event the above makes, who did it and through what, its
  filters, and no secret or password anywhere in it.
"""

import json
import re
import sqlite3
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bcrypt
import pytest

from conftest import PSQL, Answer, Latchkey, backends, eventually, fresh_postgres_database, run_cli

INCORRECT = {"message": "Incorrect authentication credentials."}
INACTIVE = {"message": "User inactive or deleted."}
INVALID_TOKEN = {"message": "Invalid token."}
SECRET = re.compile(r"lk_[0-9A-Za-z]{36}")
COLUMNS = ["username", "email", "first_name", "last_name", "password", "is_active", "is_admin"]
AUDIT_FIELDS = {"id", "at", "kind", "user", "userID", "by", "byID", "via", "address", "token", "detail"}


def bcrypt_hash(password: str, prefix: bytes = b"2b") -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4, prefix=prefix)).decode()


def django_hash(password: str) -> str:
    """Django's own PBKDF2 hasher at its default iteration count, as Stencila Hub stores it."""
    from django.conf import settings
    if not settings.configured:
        settings.configure(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"])
        import django
        django.setup()
    from django.contrib.auth.hashers import make_password
    return make_password(password)


def new_database(backend: str, directory: Path) -> str:
    return fresh_postgres_database() if backend == "postgres" else str(directory / "latchkey.db")


def stored_hash(database: str, username: str) -> str:
    """The password hash in the database itself (nothing the CLI or the API shows)."""
    if database.startswith("postgres://"):
        # Read from standard input, where psql interpolates :'name' as a quoted literal (not in -c).
        result = subprocess.run([PSQL, database, "-At", "-v", "ON_ERROR_STOP=1", "-v", "name=" + username],
                                input="SELECT password_hash FROM users WHERE username = :'name';\n",
                                capture_output=True, text=True, check=True)
        return result.stdout.strip()
    with sqlite3.connect(database) as connection:
        (found,) = connection.execute("SELECT password_hash FROM users WHERE username = ?", (username,)).fetchone()
    return found


def signin(server: Latchkey, username: str, password: str) -> Answer:
    return server.request("POST", "/api/tokens/", {"username": username, "password": password})


def me(server: Latchkey, token: str) -> Answer:
    return server.request("GET", "/api/users/me", headers={"Authorization": "Token " + token})


def parallel(calls) -> list:
    calls = list(calls)
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [future.result() for future in [pool.submit(call) for call in calls]]


def usernames(server: Latchkey) -> set[str]:
    return {user["username"] for user in json.loads(server.cli("user", "list", "--json"))}


@pytest.mark.parametrize("backend", backends())
def test_import_quay_and_stencila_hashes(backend, tmp_path):
    database = new_database(backend, tmp_path)
    bcrypt_2b = bcrypt_hash("quay-2b-password")
    assert bcrypt_2b.startswith("$2b$04$")
    bcrypt_2y = "$2y$" + bcrypt_hash("quay-2y-password")[4:]
    passwords = {"quay2b": "quay-2b-password", "quay2a": "quay-2a-password", "quay2y": "quay-2y-password",
                 "hub": "hub-password", "gone": "gone-password", "boss": "boss-password",
                 "csvquay": "csv-quay-password", "csvhub": "csv-hub-password"}
    hashes = {"quay2b": bcrypt_2b, "quay2a": bcrypt_hash("quay-2a-password", b"2a"), "quay2y": bcrypt_2y,
              "hub": django_hash("hub-password"), "gone": bcrypt_hash("gone-password"),
              "boss": bcrypt_hash("boss-password"), "csvquay": bcrypt_hash("csv-quay-password"),
              "csvhub": django_hash("csv-hub-password")}
    assert hashes["quay2a"].startswith("$2a$04$") and hashes["hub"].startswith("pbkdf2_sha256$")

    rows = [
        {"username": "quay2b", "email": "quay2b@example.org", "first_name": "Quay", "last_name": "Bee",
         "password": hashes["quay2b"], "is_active": True, "is_admin": False},
        {"username": "quay2a", "email": "quay2a@example.org", "first_name": "", "last_name": "",
         "password": hashes["quay2a"], "is_active": True, "is_admin": False},
        {"username": "quay2y", "email": "quay2y@example.org", "first_name": "", "last_name": "",
         "password": hashes["quay2y"], "is_active": True, "is_admin": False},
        {"username": "hub", "email": "hub@example.org", "first_name": "Hub", "last_name": "User",
         "password": hashes["hub"], "is_active": True, "is_admin": False},
        {"username": "gone", "email": "gone@example.org", "first_name": "", "last_name": "",
         "password": hashes["gone"], "is_active": False, "is_admin": False},
        {"username": "boss", "email": "boss@example.org", "first_name": "", "last_name": "",
         "password": hashes["boss"], "is_active": True, "is_admin": True},
    ]
    jsonl = tmp_path / "users.jsonl"
    jsonl.write_text("".join(json.dumps(row) + "\n" for row in rows))
    # Before the server starts...
    result = run_cli(database, "user", "import", str(jsonl))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported 6 users, skipped 0", result.stdout

    server = Latchkey(tmp_path, database)
    try:
        # ...and while it runs: CSV, one boolean style each, a quoted field holding a comma.
        csv = tmp_path / "users.csv"
        csv.write_text(",".join(COLUMNS) + "\n"
                       + f'csvquay,csvquay@example.org,Csv,"Quay, Jr.",{hashes["csvquay"]},true,false\n'
                       + f'csvhub,csvhub@example.org,Csv,Hub,{hashes["csvhub"]},1,0\n')
        assert server.cli("user", "import", str(csv)).strip() == "imported 2 users, skipped 0"

        listed = {user["username"]: user for user in json.loads(server.cli("user", "list", "--json"))}
        assert set(passwords) <= set(listed), listed
        assert listed["gone"]["active"] is False and listed["boss"]["admin"] is True, listed
        assert listed["csvquay"]["lastName"] == "Quay, Jr." and listed["quay2b"]["email"] == "quay2b@example.org"
        listing = json.dumps(listed)
        assert "$2" not in listing and "pbkdf2" not in listing and "$scrypt$" not in listing, listing
        assert not any("password" in key or "hash" in key for user in listed.values() for key in user), listed
        for username, imported in hashes.items():
            assert stored_hash(database, username) == imported, username

        active = [name for name in passwords if name not in ("gone", "boss")]
        # Wrong passwords against the imported hashes, one of each kind.
        for answer in parallel([lambda name=name: signin(server, name, passwords[name] + "x")
                                for name in ("quay2b", "quay2a", "quay2y", "hub")]):
            assert answer.status == 403 and answer.json == INCORRECT, answer
        # Right ones: each signs in, and its hash becomes scrypt.
        for name, answer in zip(active, parallel([lambda name=name: signin(server, name, passwords[name])
                                                   for name in active])):
            assert answer.status == 201 and answer.json["username"] == name, (name, answer)
        for name in active:
            assert stored_hash(database, name).startswith("$scrypt$"), name
        # The inactive account does not sign in, even with its password; its hash stays as imported.
        answer = signin(server, "gone", passwords["gone"])
        assert answer.status == 403 and answer.json == INCORRECT, answer
        assert stored_hash(database, "gone") == hashes["gone"]
        # The scrypt hashes made from the imported ones verify the same passwords.
        again = parallel([lambda: signin(server, "hub", passwords["hub"]),
                          lambda: signin(server, "quay2a", passwords["quay2b"])])
        assert [answer.status for answer in again] == [201, 403], again
    finally:
        server.stop()


@pytest.mark.parametrize("backend", backends())
def test_import_reports_and_skips_bad_rows(backend, tmp_path):
    database = new_database(backend, tmp_path)
    lines = [
        json.dumps({"username": "good1", "email": "good1@example.org", "password": bcrypt_hash("good-1-password"),
                    "is_active": True, "is_admin": False}),
        json.dumps({"username": "badhash", "email": "badhash@example.org", "password": "$2b$04$tooshort",
                    "is_active": True, "is_admin": False}),
        json.dumps({"email": "nameless@example.org", "password": bcrypt_hash("nameless-password"),
                    "is_active": True, "is_admin": False}),
        "this is not JSON",
        json.dumps({"username": "good2", "email": "good2@example.org", "password": bcrypt_hash("good-2-password"),
                    "is_active": True, "is_admin": False}),
    ]
    (tmp_path / "mixed.jsonl").write_text("\n".join(lines) + "\n")
    result = run_cli(database, "user", "import", str(tmp_path / "mixed.jsonl"))
    assert result.returncode != 0, result
    assert result.stdout.strip() == "imported 2 users, skipped 3", result.stdout
    errors = result.stderr.strip().splitlines()
    reported = [re.fullmatch(r"latchkey: line (\d+): (\S.*)", line) for line in errors[:-1]]
    assert all(reported) and [int(match.group(1)) for match in reported] == [2, 3, 4], result.stderr
    assert "username" in errors[1], errors
    assert errors[-1] == "latchkey: 3 of 5 rows were skipped (see the lines above)", result.stderr

    server = Latchkey(tmp_path, database)
    try:
        assert usernames(server) == {"good1", "good2"}
        answers = parallel([lambda: signin(server, "good1", "good-1-password"),
                            lambda: signin(server, "good2", "good-2-password")])
        assert [answer.status for answer in answers] == [201, 201], answers
    finally:
        server.stop()


@pytest.mark.parametrize("backend", backends())
def test_operator_commands_take_effect_at_once(backend, tmp_path):
    database = new_database(backend, tmp_path)
    rows = [{"username": name, "email": f"{name}@example.org", "password": bcrypt_hash(f"{name}-password"),
             "is_active": True, "is_admin": False} for name in ("alice", "bob")]
    (tmp_path / "users.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert run_cli(database, "user", "import", str(tmp_path / "users.jsonl")).returncode == 0
    server = Latchkey(tmp_path, database)
    try:
        alice_session, bob_session = (answer.json["token"] for answer in parallel(
            [lambda: signin(server, "alice", "alice-password"), lambda: signin(server, "bob", "bob-password")]))
        alice_app = json.loads(server.cli("token", "create", "--user", "alice", "--title", "app", "--json"))["token"]
        bob_app = json.loads(server.cli("token", "create", "--user", "bob", "--title", "app", "--json"))["token"]
        secrets = [alice_session, bob_session, alice_app, bob_app]
        assert all(SECRET.fullmatch(secret) for secret in secrets), secrets

        for token in secrets:  # each now answered from the server's cache
            assert me(server, token).status == 200
        server.cli("user", "deactivate", "alice")
        for token in (alice_session, alice_app):
            answer = eventually(lambda: me(server, token), lambda answer: answer.status == 403)
            assert answer.status == 403 and answer.json == INACTIVE, answer
        answer = signin(server, "alice", "alice-password")
        assert answer.status == 403 and answer.json == INCORRECT, answer
        assert me(server, bob_session).status == 200

        server.cli("user", "activate", "alice")
        answer = eventually(lambda: me(server, alice_session), lambda answer: answer.status == 200)
        assert answer.status == 200 and answer.json["username"] == "alice", answer

        server.cli("user", "set-password", "alice", "--password-stdin", stdin="new-pass\n")
        new, old = parallel([lambda: signin(server, "alice", "new-pass"),
                             lambda: signin(server, "alice", "alice-password")])
        assert new.status == 201, new
        assert old.status == 403 and old.json == INCORRECT, old
        secrets.append(new.json["token"])
        # The new password ended the session signed in with the old one; the app token stays.
        answer = eventually(lambda: me(server, alice_session), lambda answer: answer.status == 403)
        assert answer.status == 403 and answer.json == INVALID_TOKEN, answer
        assert me(server, alice_app).status == 200

        listing = server.cli("token", "list", "--all", "--json")
        tokens = json.loads(listing)
        owners = [token["owner"] for token in tokens]
        assert sorted(owners) == ["alice", "alice", "bob", "bob"], tokens
        for secret in secrets:  # listed by key, never by secret (the ended session not at all)
            assert secret not in listing and (secret[:8] in listing) == (secret != alice_session), secret[:8]
        assert not SECRET.search(listing), listing

        for token in (alice_app, new.json["token"]):
            assert me(server, token).status == 200  # cached again
        revoked = server.cli("token", "revoke", "--user", "alice", "--all").strip()
        assert revoked == "revoked 2 tokens of user alice", revoked
        for token in (alice_app, new.json["token"]):
            answer = eventually(lambda: me(server, token), lambda answer: answer.status == 403)
            assert answer.status == 403 and answer.json == INVALID_TOKEN, answer
        for token in (bob_session, bob_app):
            assert me(server, token).status == 200
        assert [token["owner"] for token in json.loads(server.cli("token", "list", "--all", "--json"))] == [
            "bob", "bob"]
        failed = server.cli_failing("user", "deactivate", "nobody")
        assert failed.stderr.startswith("latchkey: "), failed.stderr
    finally:
        server.stop()


@pytest.mark.parametrize("backend", backends())
def test_audit_log_records_operator_and_signin_events(backend, tmp_path):
    database = new_database(backend, tmp_path)
    passwords = ["alice-audit-password", "alice-wrong-password", "carol-audit-password", "carol-wrong-password",
                 "alice-new-audit-password"]
    result = run_cli(database, "user", "create", "alice", "--email", "alice@example.org", "--password-stdin",
                     stdin=passwords[0] + "\n")
    assert result.returncode == 0, result.stderr
    (tmp_path / "carol.jsonl").write_text(json.dumps(
        {"username": "carol", "email": "carol@example.org", "password": bcrypt_hash(passwords[2]),
         "is_active": True, "is_admin": False}) + "\n")
    assert run_cli(database, "user", "import", str(tmp_path / "carol.jsonl")).returncode == 0
    server = Latchkey(tmp_path, database, args=["--signin-limit-account", "3/15m"])
    secrets = []
    try:
        # Through the API: alice signs in (and fails once); carol fails until throttled, then 10 more times.
        answers = parallel([lambda: signin(server, "alice", passwords[0]),
                            lambda: signin(server, "alice", passwords[1])]
                           + [lambda: signin(server, "carol", passwords[3])] * 3)
        assert [answer.status for answer in answers] == [201, 403, 403, 403, 403], answers
        secrets.append(answers[0].json["token"])
        for _ in range(10):
            assert signin(server, "carol", passwords[2]).status == 429
        # The session is revoked through the API; the rest is the operator's.
        session = server.cli("token", "create", "--user", "alice", "--title", "audit", "--json")
        secrets.append(json.loads(session)["token"])
        assert server.request("DELETE", f"/api/tokens/{secrets[0]}/").status == 204
        server.cli("user", "deactivate", "alice")
        server.cli("user", "activate", "alice")
        server.cli("user", "set-password", "alice", "--password-stdin", stdin=passwords[4] + "\n")
        assert server.cli("token", "revoke", "--user", "alice", "--all").strip() == "revoked 1 token of user alice"

        text = server.cli("audit", "--json")
        events = json.loads(text)
        assert isinstance(events, list) and events
        ids = [event["id"] for event in events]
        assert ids == sorted(ids, reverse=True) and [e["at"] for e in events] == sorted(
            (e["at"] for e in events), reverse=True), "not newest first"
        for event in events:
            assert set(event) == AUDIT_FIELDS, event  # every key, null when empty
        kinds = [event["kind"] for event in events]
        for kind in ("token.created", "token.revoked", "signin.succeeded", "signin.failed", "signin.throttled",
                     "user.created", "user.deactivated", "user.activated", "user.password_changed",
                     "user.imported"):
            assert kind in kinds, (kind, kinds)

        def of(kind: str, user: str) -> list[dict]:
            return [event for event in events if event["kind"] == kind and event.get("user") == user]

        # Once per engagement of the limit, not once per refused attempt.
        assert len(of("signin.throttled", "carol")) == 1 and kinds.count("signin.throttled") == 1, events
        assert len(of("signin.failed", "carol")) == 3 and len(of("signin.failed", "alice")) == 1, events
        for event in events:
            if event["kind"].startswith("signin."):
                assert event["via"] == "stencila" and event.get("address") == "127.0.0.1", event
        for kind in ("user.created", "user.imported", "user.deactivated", "user.activated", "user.password_changed"):
            assert [event["via"] for event in events if event["kind"] == kind] == ["cli"], (kind, events)
        created = of("token.created", "alice")
        assert sorted(event["via"] for event in created) == ["cli", "stencila"], created
        assert sorted(event["via"] for event in of("token.revoked", "alice")) == ["cli", "stencila"], events
        assert all(event.get("token") for event in created + of("token.revoked", "alice")), events
        web = next(event for event in created if event["via"] == "stencila")
        assert web.get("by") == "alice" and web.get("address") == "127.0.0.1", web

        only_alice = json.loads(server.cli("audit", "--json", "--user", "alice"))
        assert only_alice and {event.get("user") for event in only_alice} == {"alice"}, only_alice
        assert [event["id"] for event in only_alice] == [event["id"] for event in events
                                                        if event.get("user") == "alice"]
        recent = json.loads(server.cli("audit", "--json", "--since", "1h"))
        assert [event["id"] for event in recent] == ids

        for secret in secrets:
            assert secret not in text, secret[:8]
        for password in passwords:
            assert password not in text, password
        assert not SECRET.search(text)
        table = server.cli("audit")
        assert table.splitlines()[0].split()[:3] == ["TIME", "EVENT", "USER"] and "signin.throttled" in table
    finally:
        server.stop()
