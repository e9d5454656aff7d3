"""The server's log never holds a secret, even at the most verbose level.

A server runs with LOG_LEVEL=trace; the test drives every route that takes or returns a
secret (password sign-in in each body encoding, minting from a token, retrieving and deleting
a token named by its secret in the path, Quay create and read, introspection, revocation,
leak reports), authentication failures with valid, revoked, forged and malformed secrets in
`Authorization`, and secrets in the query strings and paths of known and unknown routes. It
collects every secret the server issued (`token`, `token_code`), every `lk_` string and
password it sent and the service client's secret, stops the server, and then asserts that
none of them, nor the Basic credentials that carried them, appears in the log file, and that
nothing in the log looks like a whole `lk_` secret at all.

So that the test cannot pass vacuously, the log must be non-empty and hold a line for the
requests made, at the request-logging level the server uses.
"""

import base64
import json
import random
import re
import string
import zlib
from urllib.parse import quote, urlsplit

import pytest
import requests

from conftest import SERVER_KEY, Latchkey, backends, fresh_postgres_database

PASSWORD = "log-test-password-Xq7"
WRONG_PASSWORD = "log-test-wrong-password-Zr4"
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
SECRET_PATTERN = re.compile(r"lk_[0-9A-Za-z]{36}")


def forged_token(rng: random.Random) -> str:
    """A well-formed, checksum-valid `lk_` secret the server never issued."""
    body = "lk_" + "".join(rng.choice(BASE62) for _ in range(30))
    crc, digits = zlib.crc32(body.encode()), []
    for _ in range(6):
        crc, rest = divmod(crc, 62)
        digits.append(BASE62[rest])
    return body + "".join(reversed(digits))


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("backend", backends())
def test_trace_logs_hold_no_secret(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "trace")
    database = fresh_postgres_database() if backend == "postgres" else None
    server = Latchkey(tmp_path, database, name="trace")
    base = server.base
    issued: set[str] = set()  # secrets the server handed out
    sent: set[str] = {PASSWORD, WRONG_PASSWORD}  # secrets the test sent
    statuses: list[tuple[str, int]] = []

    def call(method: str, path: str, **kwargs) -> requests.Response:
        response = requests.request(method, base + path, timeout=60, **kwargs)
        statuses.append((f"{method} {path[:60]}", response.status_code))
        assert response.status_code < 500, (method, path, response.status_code, response.text[:300])
        for found in SECRET_PATTERN.findall(path + json.dumps(kwargs.get("headers", {}))
                                            + str(kwargs.get("data", "")) + json.dumps(kwargs.get("json", ""))):
            sent.add(found)
        return response

    def keep(response: requests.Response, status: int) -> str:
        assert response.status_code == status, (response.status_code, response.text[:300])
        body = response.json()
        secret = body["token"] if isinstance(body["token"], str) else body["token"]["token_code"]
        issued.add(secret)
        return secret

    try:
        server.create_user("sam", PASSWORD, "Sam", "Smith", email="sam@example.org")
        client = json.loads(server.cli("client", "create", "log-test", "--json"))
        client_auth = (client["client_id"], client["client_secret"])
        sent.add(client["client_secret"])
        rng = random.Random(7)
        forged = [forged_token(rng) for _ in range(3)]
        sent.update(forged)

        # Sign-in in every body encoding (three seconds of scrypt in all), and a wrong password.
        a = keep(call("POST", "/api/tokens/", json={"username": "sam", "password": PASSWORD}), 201)
        b = keep(call("POST", "/api/tokens/", data={"username": "sam@example.org", "password": PASSWORD}), 201)
        c = keep(call("POST", "/api/tokens/", files={"username": (None, "sam"), "password": (None, PASSWORD)}), 201)
        assert call("POST", "/api/tokens/", json={"username": "sam", "password": WRONG_PASSWORD}).status_code == 403
        # Minting from a token, then the Stencila calls that name a token by its secret.
        d = keep(call("POST", "/api/tokens/", headers={"Authorization": "Token " + a}), 201)
        assert call("GET", f"/api/tokens/{a}/").status_code == 200
        assert call("GET", f"/api/tokens/{b}").status_code == 200
        assert call("DELETE", f"/api/tokens/{d}/").status_code == 204
        assert call("GET", f"/api/tokens/{d}/").status_code == 404
        assert call("DELETE", f"/api/tokens/{d}/").status_code == 404
        assert call("DELETE", f"/api/tokens/{c[:8]}/", headers={"Authorization": "Token " + a}).status_code == 204
        assert call("GET", "/api/tokens/?limit=1&offset=1", headers={"Authorization": "Token " + a}).status_code == 200
        assert call("GET", "/api/users/me", headers={"Authorization": "Bearer " + a}).status_code == 200
        assert call("GET", "/api/users/me", auth=(b, "")).status_code == 200

        # Quay: create, read (the code is shown again), use as docker login does, delete.
        quay = {"Authorization": "Bearer " + a}
        e_body = call("POST", "/api/v1/user/apptoken", headers=quay, json={"title": "logs"})
        e = keep(e_body, 200)
        e_uuid = e_body.json()["token"]["uuid"]
        f_body = call("POST", "/api/v1/user/apptoken", headers=quay, json={"title": "admin", "scopes": ["user:admin"]})
        f = keep(f_body, 200)
        read = call("GET", f"/api/v1/user/apptoken/{e_uuid}", headers=quay)
        assert read.status_code == 200 and read.json()["token"]["token_code"] == e
        assert call("GET", "/api/v1/user/apptoken?expiring=true", headers=quay).status_code == 200
        assert call("GET", "/api/v1/user/", auth=("$app", e)).status_code == 200
        assert call("GET", "/api/v1/user/apptoken", auth=("$app", f)).status_code == 200
        assert call("DELETE", f"/api/v1/user/apptoken/{e_uuid}", headers=quay).status_code == 204

        # Introspection and revocation, as a service client and as the token's holder.
        introspected = call("POST", "/oauth/introspect", auth=client_auth, data={"token": f})
        assert introspected.json()["active"] is True
        assert call("POST", "/oauth/introspect", auth=client_auth, data={"token": forged[0]}).json() == {"active": False}
        assert call("POST", "/oauth/introspect", auth=(client["client_id"], "wrong-" + client["client_secret"]),
                    data={"token": f}).status_code == 401
        g = keep(call("POST", "/api/v1/user/apptoken", headers=quay, json={"title": "holder"}), 200)
        assert call("POST", "/oauth/revoke", headers={"Authorization": "Bearer " + g}, data={"token": g}).status_code == 200
        assert call("POST", "/oauth/revoke", auth=client_auth, data={"token": f}).status_code == 200
        assert call("POST", "/oauth/revoke", headers={"Authorization": "Bearer " + a}, data={"token": b}).status_code == 401

        # Leak reports: as strings and as objects with a URL holding the secret.
        h = keep(call("POST", "/api/v1/user/apptoken", headers=quay, json={"title": "leaked 1"}), 200)
        i = keep(call("POST", "/api/v1/user/apptoken", headers=quay, json={"title": "leaked 2"}), 200)
        report = [h, {"token": i, "url": f"https://paste.example.org/{i}?t={i}"}, forged[1]]
        assert call("POST", "/api/v1/tokens/leaked", json=report).status_code == 202
        assert call("GET", "/api/v1/user/", auth=("$app", h)).status_code == 401

        # Failed authentications: revoked, forged, mistyped and malformed secrets, and a password.
        for secret in (d, e, f, g, h, forged[2], a[:-1] + ("A" if a[-1] != "A" else "B"), a + "x"):
            for headers in ({"Authorization": "Token " + secret}, {"Authorization": "Bearer " + secret},
                            {"Authorization": "Basic " + b64(secret + ":")},
                            {"Authorization": "Basic " + b64("$app:" + secret)},
                            {"Authorization": "Token " + secret + " trailing"}):
                call("GET", "/api/users/me", headers=headers)
                call("GET", "/api/v1/user/", headers=headers)
                call("POST", "/api/tokens/", headers=headers)
        call("GET", "/api/users/me", headers={"Authorization": "Basic " + b64(f"sam:{PASSWORD}")})
        call("GET", "/api/v1/user/", headers={"Authorization": "Basic " + b64(f"sam:{PASSWORD}")})

        # Secrets in query strings and in the paths of unknown routes and refused methods.
        for path in (f"/api/users/me?token={a}", f"/api/tokens/?access_token={a}&limit=1", f"/healthz?t={a}",
                     f"/nope/{a}?x={b}", f"/api/tokens/{a}/extra", f"/api/v2/{b}", f"/api/v1/user/apptoken/{f}",
                     f"/api/tokens/{forged[2]}/", f"/api/tokens/{a[:-1]}Q/", f"/{a}", f"/metrics?{a}"):
            call("GET", path)
            call("POST", path, data={"token": a})
        for method in ("PUT", "PATCH", "OPTIONS", "HEAD"):
            call(method, f"/api/tokens/{a}/")
        call("POST", f"/api/tokens/{a}/", json={"password": PASSWORD})

        # The web pages: a password sign-in, the session in a cookie, a token made on a page.
        web = requests.Session()
        page = web.get(base + "/signin", timeout=60)
        signin_token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        sent.add(signin_token)
        signed_in = web.post(base + "/signin", data={"login": "sam", "password": PASSWORD, "csrf": signin_token},
                             timeout=60, allow_redirects=False)
        assert signed_in.status_code == 303, signed_in.text[:300]
        issued.add(web.cookies["latchkey_session"])
        form_token = re.search(r'name="csrf" value="([^"]+)"', web.get(base + "/tokens/new", timeout=60).text).group(1)
        sent.add(form_token)
        made = web.post(base + "/tokens", data={"title": "web", "lifetime": "7", "csrf": form_token}, timeout=60)
        issued.add(re.search(r'<code id="secret">([^<]+)</code>', made.text).group(1))
        assert web.post(base + "/signin", data={"login": "sam", "password": WRONG_PASSWORD, "csrf": "x"},
                        timeout=60).status_code == 403
    finally:
        server.stop()  # flushes and closes the log

    log = server.log_path.read_text(errors="replace")
    assert log.strip(), "the server wrote no log at all: the test would pass vacuously"
    request_lines = [line for line in log.splitlines() if "/api/tokens" in line or "/oauth/introspect" in line
                     or "/api/v1/user/apptoken" in line]
    assert len(request_lines) >= 20, (
        "the log has too few lines about the requests made; the test would pass vacuously:\n" + log[-3000:])
    assert re.search(r"\b(trace|debug)\b", log, re.IGNORECASE), "LOG_LEVEL=trace wrote no trace or debug line"
    assert len(issued) >= 9 and len(sent) >= 12, (issued, sent)

    # The server key and the database password are secrets too (the first account's password,
    # which `serve` prints once on an empty database by design, is not checked).
    others = {"the server key": SERVER_KEY, "the server key in hex": base64.b64decode(SERVER_KEY).hex()}
    if database:
        others["the database password"] = urlsplit(database).password
    leaks = [f"{how} on log line {number}: {line[:300]}"
             for how, value in others.items() if value
             for number, line in enumerate(log.splitlines(), 1) if value in line]
    for secret in sorted(issued | sent):
        forms = {secret: "as is", quote(secret, safe=""): "percent-encoded", b64(secret + ":"): "Basic token:",
                 b64("$app:" + secret): "Basic $app:token", b64(f"sam:{secret}"): "Basic sam:password"}
        for form, how in forms.items():
            for number, line in enumerate(log.splitlines(), 1):
                if form in line:
                    leaks.append(f"{secret[:8]}… ({how}) on log line {number}: {line[:300]}")
                    break
    lookalikes = sorted(set(SECRET_PATTERN.findall(log)))
    assert not leaks and not lookalikes, (
        f"{len(leaks)} secret(s) found in the {backend} server's trace log:\n  " + "\n  ".join(leaks[:40])
        + (f"\nwhole lk_ secrets in the log: {[s[:8] + '…' for s in lookalikes]}" if lookalikes else ""))
