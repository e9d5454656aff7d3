"""The fuzz suite's state machine, for test_fuzz.py's `test_stateful_fuzz`.

`make_machine(target)` answers a hypothesis `RuleBasedStateMachine` bound to one target, whose
rules create tokens (well-formed and hostile), mint sessions from the tokens held, authenticate
and list with hostile queries, read and revoke tokens in both dialects, introspect and revoke
them over OAuth, report them leaked, and send any method to any route, known or not, with any
credentials, query and body. Credentials and path segments are drawn symbolically and resolved
against what the target holds when a rule runs, so tokens made by earlier rules are fed to later
ones. The strategies below draw the hostile values of test_support_fuzz_values.py.

Support code, not tests. Its name starts with `test_` as a test module's does, so that pytest
rewrites its asserts as it does the tests' own, and so that hypothesis leaves its literals out of
what it generates: hypothesis mixes in the literals of every other (non-test) module loaded, which
would change the requests test_fuzz.py's fixed seeds replay, and make them depend on which suites
run beside it.
"""

import json
from urllib.parse import quote

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from test_support_fuzz_target import Issued, Target
from test_support_fuzz_values import (
    BIG_STRINGS,
    CONTENT_TYPES,
    DATE_TEXTS,
    EXPIRING_VALUES,
    HOSTILE_BODIES,
    JSON_FRAGMENTS,
    KNOWN_ROUTES,
    MALFORMED_AUTHORIZATIONS,
    METHODS,
    NUMBER_TEXTS,
    PATH_SEGMENTS,
    SCHEMES,
    STRING_VALUES,
    UNKNOWN_ROUTES,
    authorization,
    b64,
    header_bytes,
    path_text,
    quoted,
    scrypt_safe,
)


# Symbolic credentials: resolved against what the target knows when a rule runs.
indices = st.integers(min_value=0, max_value=1 << 16)
small_text = st.one_of(
    st.sampled_from(STRING_VALUES), st.text(max_size=40), st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)
# Body fields also get the megabyte-sized strings (paths, queries and headers get them in the
# hand-written cases only: each costs the server a megabyte to read).
hostile_text = st.one_of(small_text, st.sampled_from(STRING_VALUES + BIG_STRINGS))
ANCHOR_NAMES = ["alice session", "boss session", "alice user:admin app", "alice repo:read app", "alice unscoped app",
                "boss user:admin app"]
anchors = st.sampled_from(ANCHOR_NAMES).map(lambda name: ("anchor", name))
credentials = st.one_of(
    anchors,
    indices.map(lambda i: ("pool", i)),
    indices.map(lambda i: ("revoked", i)),
    indices.map(lambda i: ("forged", i)),
    indices.map(lambda i: ("mangled", i)),
    small_text.map(lambda s: ("literal", s)),
    st.just(("none", None)),
)
# Mostly credentials that work (the anchors, and pool tokens, most of them live), so that
# hostile queries and bodies get past authentication; any credential at all otherwise.
valid_credentials = st.one_of(anchors, indices.map(lambda i: ("pool", i)), credentials)
managers = st.sampled_from(["alice session", "boss session", "alice user:admin app", "boss user:admin app"])
schemes = st.sampled_from(SCHEMES)
fragments = st.one_of(
    st.sampled_from(JSON_FRAGMENTS),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                 max_leaves=6).map(json.dumps),
    hostile_text.map(json.dumps),
)
scope_lists = st.one_of(
    st.lists(st.sampled_from(["user:admin", "repo:read", "repo:write", "", "a" * 65, "\x00", "é"]), max_size=4)
    .map(json.dumps),
    fragments,
)
expirations = st.one_of(
    st.sampled_from(NUMBER_TEXTS),
    st.sampled_from(DATE_TEXTS).map(json.dumps),
    st.integers(min_value=-(1 << 70), max_value=1 << 70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(json.dumps),
    st.datetimes().map(lambda d: json.dumps(d.isoformat() + "Z")),
    fragments,
)


@st.composite
def quay_bodies(draw) -> bytes:
    """A body for `POST /api/v1/user/apptoken`: mostly an object of hostile fields (keys may
    repeat), sometimes any JSON text or bytes at all."""
    kind = draw(st.sampled_from(["object"] * 6 + ["fragment", "bytes"]))
    if kind == "fragment":
        return draw(fragments).encode("utf-8", "surrogatepass")
    if kind == "bytes":
        return draw(st.one_of(st.sampled_from(HOSTILE_BODIES), st.binary(max_size=200)))
    keys = draw(st.lists(st.sampled_from(["title", "title", "expiration", "expiration", "scopes", "scopes", "Title",
                                          "extra", ""]), max_size=5))
    values = {"title": st.one_of(hostile_text.map(json.dumps), fragments), "expiration": expirations,
              "scopes": scope_lists}
    parts = [json.dumps(key) + ":" + draw(values.get(key, fragments)) for key in keys]
    return ("{" + ",".join(parts) + "}").encode("utf-8", "surrogatepass")


@st.composite
def sign_in_bodies(draw) -> tuple[str, bytes]:
    """A content type and body for `POST /api/tokens/` that never asks for a password check."""
    fields = draw(st.dictionaries(st.sampled_from(["username", "openid", "password", "other"]), hostile_text,
                                  max_size=3))
    encoding = draw(st.sampled_from(["json", "form", "multipart", "raw"]))
    if encoding == "json":
        body = json.dumps(fields).encode("utf-8", "surrogatepass")
        content_type = "application/json"
    elif encoding == "form":
        body = "&".join(f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in fields.items()).encode()
        content_type = "application/x-www-form-urlencoded"
    elif encoding == "multipart":
        body = b"".join(b"--B\r\nContent-Disposition: form-data; name=\"" + k.encode() + b"\"\r\n\r\n"
                        + v.encode("utf-8", "surrogatepass") + b"\r\n" for k, v in fields.items()) + b"--B--\r\n"
        content_type = draw(st.sampled_from(["multipart/form-data; boundary=B", "multipart/form-data"]))
    else:
        body = draw(st.sampled_from(HOSTILE_BODIES))
        content_type = draw(st.sampled_from(CONTENT_TYPES))
    return content_type, body


@st.composite
def queries(draw) -> str:
    """A query string: hostile values for limit, offset, expiring and names nobody reads."""
    pairs = draw(st.lists(st.tuples(
        st.sampled_from(["limit", "offset", "expiring", "limit", "offset", "token", "", "a[]", "%00", "%ff"]),
        st.one_of(st.sampled_from(NUMBER_TEXTS), st.sampled_from(EXPIRING_VALUES), small_text.map(quoted),
                  st.sampled_from(["%", "%zz", "%ff%fe", "+", "%2B1", "&", "="]))), max_size=4))
    return "&".join(f"{name}={value}" if value is not None else name for name, value in pairs)


segments = st.one_of(
    st.sampled_from(PATH_SEGMENTS),
    indices.map(lambda i: ("pool-secret", i)), indices.map(lambda i: ("pool-key", i)),
    indices.map(lambda i: ("pool-uuid", i)), indices.map(lambda i: ("revoked", i)), indices.map(lambda i: ("forged", i)),
    small_text.map(quoted),
)


def make_machine(t: Target):
    """The state machine class bound to one target."""

    def segment(choice) -> str:
        if isinstance(choice, str):
            return choice
        kind, i = choice
        if kind == "revoked":
            return t.revoked[i % len(t.revoked)].secret
        if kind == "forged":
            return t.forged[i % len(t.forged)]
        issued = t.pool[i % len(t.pool)] if t.pool else Issued("lk_", "someuuid")
        return {"pool-secret": issued.secret, "pool-key": issued.secret[:8], "pool-uuid": issued.uuid or "x"}[kind]

    def send(method, path, headers=(), body=b""):
        path = path_text(path)
        body = scrypt_safe(method, path, body)
        return t.send(method, path, headers, body, may_drop=len(body) > 64 * 1024 or len(path) > 60000)

    def remember(issued: Issued) -> None:
        if issued.uuid:
            t.created.append(issued)
        t.pool.append(issued)
        if len(t.pool) > 300:
            del t.pool[:100]

    def forget(issued: Issued) -> None:
        if issued in t.pool:
            t.pool.remove(issued)
        t.revoked.append(issued)
        if len(t.revoked) > 100:
            del t.revoked[:50]

    class LatchkeyFuzz(RuleBasedStateMachine):
        @initialize()
        def fresh_token(self):
            """Each run starts with one new, valid app token among those the rules pick from."""
            issued = t.quay_create(t.anchors["alice session"].secret, {"title": "fuzz run"})
            if issued:
                remember(issued)
            t.tidy()

        @rule(manager=managers, scheme=schemes, body=quay_bodies(),
              content_type=st.sampled_from(["application/json"] * 4 + CONTENT_TYPES))
        def create_hostile(self, manager, scheme, body, content_type):
            answer = send("POST", "/api/v1/user/apptoken",
                          t.auth(scheme, manager) + [("Content-Type", header_bytes(content_type))], body)
            if answer is not None and answer.status == 200 and answer.json():
                token = answer.json()["token"]
                remember(Issued(token["token_code"], token["uuid"], manager.split()[0]))

        @rule(manager=managers, title=st.text(max_size=30),
              scopes=st.lists(st.sampled_from(["user:admin", "repo:read", "repo:write"]), max_size=2),
              expiration=st.one_of(st.none(), st.integers(1, 100 * 86400)))
        def create(self, manager, title, scopes, expiration):
            body = {"title": title, "scopes": scopes}
            if expiration:
                body["expiration"] = expiration
            answer = send("POST", "/api/v1/user/apptoken",
                          t.auth("Bearer", manager) + [("Content-Type", "application/json")],
                          json.dumps(body).encode("utf-8", "surrogatepass"))
            if answer is not None and answer.status == 200:
                token = answer.json()["token"]
                remember(Issued(token["token_code"], token["uuid"], manager.split()[0]))

        @rule(credential=valid_credentials, scheme=schemes, body=sign_in_bodies())
        def mint_session(self, credential, scheme, body):
            content_type, data = body
            answer = send("POST", "/api/tokens/",
                          authorization(scheme, t.secret_of(credential)) + [("Content-Type", header_bytes(content_type))],
                          data)
            if answer is not None and answer.status == 201 and answer.json():
                remember(Issued(answer.json()["token"], note="session"))

        @rule(credential=valid_credentials, scheme=schemes,
              path=st.sampled_from(["/api/users/me", "/api/v1/user/", "/api/v1/user/apptoken", "/api/tokens/",
                                    "/api/v1/superuser/apptokens", "/api/tokens", "/api/users/me/"]))
        def authenticate(self, credential, scheme, path):
            send("GET", path, authorization(scheme, t.secret_of(credential)))

        @rule(credential=valid_credentials, path=st.sampled_from(["/api/tokens/", "/api/tokens", "/api/v1/user/apptoken",
                                                            "/api/v1/superuser/apptokens"]), query=queries())
        def list_with_query(self, credential, path, query):
            send("GET", path + "?" + query, authorization("Bearer", t.secret_of(credential)))

        @rule(manager=managers, choice=segments, method=st.sampled_from(["GET", "GET", "DELETE"]))
        def quay_token(self, manager, choice, method):
            answer = send(method, "/api/v1/user/apptoken/" + segment(choice), t.auth("Bearer", manager))
            if method == "DELETE" and answer is not None and answer.status == 204:
                for issued in list(t.pool):
                    if issued.uuid == segment(choice):
                        forget(issued)

        @rule(credential=valid_credentials, choice=segments, method=st.sampled_from(["GET", "GET", "DELETE"]),
              slash=st.booleans())
        def stencila_token(self, credential, choice, method, slash):
            named = segment(choice)
            answer = send(method, "/api/tokens/" + named + ("/" if slash else ""),
                          authorization("Token", t.secret_of(credential)))
            if method == "DELETE" and answer is not None and answer.status == 204:
                for issued in list(t.pool):
                    if named in (issued.secret, issued.secret[:8]):
                        forget(issued)

        @rule(client=st.sampled_from(["right", "wrong", "none", "holder", "junk"]), junk=small_text, choice=segments,
              path=st.sampled_from(["/oauth/introspect", "/oauth/revoke"]),
              extra=st.sampled_from(["", "&token_type_hint=access_token", "&token_type_hint=%ff", "&token=", "&x"]))
        def oauth(self, client, junk, choice, path, extra):
            token = segment(choice)
            headers = {"right": [("Authorization", "Basic " + b64(f"{t.client_id}:{t.client_secret}"))],
                       "wrong": [("Authorization", "Basic " + b64(f"{t.client_id}:nope"))],
                       "junk": [("Authorization", "Basic " + b64(f"{junk}:{junk or 'x'}"))],
                       "none": [], "holder": authorization("Bearer", token)}[client]
            answer = send("POST", path, headers + [("Content-Type", "application/x-www-form-urlencoded")],
                          ("token=" + token + extra).encode("utf-8", "surrogatepass"))
            if path == "/oauth/revoke" and answer is not None and answer.status == 200:
                for issued in list(t.pool):
                    if issued.secret == token:
                        forget(issued)

        @rule(items=st.lists(st.one_of(segments, st.sampled_from([None, 1, [], {}])), max_size=5),
              shape=st.sampled_from(["strings", "objects", "mixed"]))
        def report_leaked(self, items, shape):
            values = [segment(item) if isinstance(item, (str, tuple)) else item for item in items]
            if shape == "objects":
                values = [{"token": value, "url": "https://example.org/" + str(value)[:20]} for value in values]
            elif shape == "mixed":
                values = [{"token": value} if i % 2 else value for i, value in enumerate(values)]
            answer = send("POST", "/api/v1/tokens/leaked", [("Content-Type", "application/json")],
                          json.dumps(values).encode("utf-8", "surrogatepass"))
            if answer is not None and answer.status == 202:
                for issued in list(t.pool):
                    if issued.secret in [v if isinstance(v, str) else (v or {}).get("token") for v in values
                                         if isinstance(v, (str, dict))]:
                        forget(issued)

        @rule(method=st.sampled_from(METHODS), route=st.sampled_from(KNOWN_ROUTES + UNKNOWN_ROUTES), choice=segments,
              query=st.one_of(st.just(None), queries()), credential=credentials, scheme=schemes,
              malformed=st.one_of(st.none(), st.sampled_from(MALFORMED_AUTHORIZATIONS)),
              content_type=st.one_of(st.none(), st.sampled_from(CONTENT_TYPES)),
              body=st.one_of(st.just(b""), quay_bodies(), sign_in_bodies().map(lambda pair: pair[1])))
        def hostile(self, method, route, choice, query, credential, scheme, malformed, content_type, body):
            """Any method, on any route known or not, with any credentials, query and body."""
            path = route.replace("{seg}", segment(choice)) + ("?" + query if query is not None else "")
            headers = ([("Authorization", header_bytes(malformed))] if malformed is not None
                       else authorization(scheme, t.secret_of(credential)))
            if content_type is not None:
                headers.append(("Content-Type", header_bytes(content_type)))
            # A DELETE of an anchor's own secret or key would end the run's credentials.
            if method.upper() == "DELETE" and any(a.secret[:8] in path for a in t.anchors.values()):
                return
            send(method, path, headers, body)

    return LatchkeyFuzz
