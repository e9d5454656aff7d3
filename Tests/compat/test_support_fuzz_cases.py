"""The fuzz suite's hand-written edge cases, for test_fuzz.py's `test_hand_written_edge_cases`.

The edge cases: integer boundaries, huge and negative years, NaN, empty and 1 MB strings, NUL
bytes, invalid UTF-8, deeply nested and duplicate-keyed JSON, wrong types, wrong content types,
oversized bodies, forged, revoked and mangled tokens and malformed `Authorization` headers (the
values are in test_support_fuzz_values.py). `hand_written_cases` sends them route family by route
family: the Stencila token list (every boundary in limit and offset), retrieve and delete; Quay's
app tokens (list, create, read, delete); who am I, through every kind of credential; sign-in
without a password check; OAuth introspection and revocation; leak reports; the operations
endpoints; the web pages (session cookies and form tokens right and wrong); methods nobody serves,
on every route. `raw_cases` are requests only a raw socket sends (invalid UTF-8 and NUL in the
request line and headers, broken framing, other protocols), each sent by `raw_exchange`.

Support code, not tests. Its name starts with `test_` as a test module's does, so that pytest
rewrites its asserts as it does the tests' own, and so that hypothesis leaves its literals out of
what it generates: hypothesis mixes in the literals of every other (non-test) module loaded, which
would change the requests test_fuzz.py's fixed seeds replay, and make them depend on which suites
run beside it.
"""

import base64
import hashlib
import hmac
import http.client
import json
import socket
from urllib.parse import quote

from test_support_fuzz_target import Sent, Target
from test_support_fuzz_values import (
    CONTENT_TYPES,
    DATE_TEXTS,
    EXPIRING_VALUES,
    HOSTILE_BODIES,
    INTEGER_TEXTS,
    JSON_FRAGMENTS,
    KNOWN_ROUTES,
    MALFORMED_AUTHORIZATIONS,
    MEGABYTE,
    METHODS,
    NUMBER_TEXTS,
    PATH_SEGMENTS,
    SCHEMES,
    STRING_VALUES,
    UNKNOWN_ROUTES,
    authorization,
    b64,
    header_bytes,
)


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
