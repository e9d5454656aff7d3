"""The fuzz suite's hostile values (test_fuzz.py), and how the fuzzer writes them into requests.

The values: integer boundaries, huge and negative years, NaN, empty and 1 MB strings, NUL
bytes, invalid UTF-8, deeply nested and duplicate-keyed JSON, wrong types, wrong content types,
oversized bodies, malformed `Authorization` headers, forged `lk_` secrets, hostile path segments,
and every route the server knows, and some it does not. The writers: an `Authorization` header in
each way a client might write one, header values, paths and queries as http.client sends them,
and fuzzed sign-in bodies kept away from a password check (seconds of scrypt each).

Support code, not tests. Its name starts with `test_` as a test module's does, so that pytest
rewrites its asserts as it does the tests' own, and so that hypothesis leaves its literals out of
what it generates: hypothesis mixes in the literals of every other (non-test) module loaded, which
would change the requests test_fuzz.py's fixed seeds replay, and make them depend on which suites
run beside it.
"""

import base64
import json
import random
import re
import string
import zlib
from urllib.parse import quote

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


# ---------------------------------------------------------------------------------------------
# Hostile values


def base62(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, rest = divmod(value, 62)
        digits.append(BASE62[rest])
    return "".join(reversed(digits))


def forged_token(rng: random.Random) -> str:
    """A well-formed `lk_` secret with a correct checksum that the server never issued:
    it passes the format check and reaches the database lookup."""
    body = "lk_" + "".join(rng.choice(BASE62) for _ in range(30))
    return body + base62(zlib.crc32(body.encode()), 6)


MEGABYTE = "A" * (1 << 20)
INTEGER_TEXTS = [
    "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
    "18446744073709551615", "18446744073709551616", "9223372036854775806", "9223372036854775757",
    "4611686018427387904", "2147483647", "2147483648", "-2147483649", "4294967296",
    "-1", "0", "1", "50", "999", "1000", "1001", "3162240000", "3162240001",
    "99999999999999999999999999999999999999",
]
NUMBER_TEXTS = INTEGER_TEXTS + [
    "1e308", "-1e308", "1e309", "1E400", "-1e400", "4.9e-324", "1e-400", "-0", "0.5", "1.0", "-0.0",
    "NaN", "nan", "Infinity", "-Infinity", "inf", "+5", " 5", "5 ", "0x10", "1_000", "٣", "１", "5e2",
]
DATE_TEXTS = [
    "300000-01-01T00:00:00Z", "99999-12-31T23:59:59Z", "-0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z", "10000-01-01T00:00:00Z", "292277026596-12-04T15:30:07Z", "+275760-09-13T00:00:00Z",
    "2100-02-30T00:00:00Z", "2030-01-01T24:00:00Z", "2030-01-01T00:00:60Z", "2030-13-01T00:00:00Z",
    "2030-01-01T00:00:00+99:99", "2030-01-01T00:00:00-23:59", "2030-01-01T00:00:00.999999999999999Z",
    "2030-01-01T00:00:00.5Z", "2999-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59Z",
    "2030-01-01", "2030-01-01T00:00:00", "Tue, 21 Oct 2025 19:00:59 -0000", "T", "Z", "",
]
STRING_VALUES = [
    "", " ", "\t", "\n", "null", "None", "true", "false", "[]", "{}", "\x00", "a\x00b", "\u202e", "é", "e\u0301",
    "👍🏽", "\uffff", "\ufeff", "%", "%00", "%ff", "%zz", "../..", "/", "\\", '"', "'", "<script>", "${jndi:x}",
    "'; DROP TABLE tokens; --", "lk_", "lk_" + "A" * 36, "LK_" + "a" * 36, "user:admin", "repo:read",
    "a" * 255, "a" * 256, "é" * 255, "é" * 256, "e\u0301" * 255, "👍" * 300, "x" * 65536,
] + NUMBER_TEXTS + DATE_TEXTS
BIG_STRINGS = [MEGABYTE, "é" * (1 << 19), "\x00" * 70000]
JSON_FRAGMENTS = [
    "null", "true", "false", "[]", "{}", "[[[]]]", '""', '"\\u0000"', '"\\ud800"', '"\\udc00\\ud800"',
    '"\\uDBFF\\uDFFF"', '"\\x41"', "'single'", "[1,]", "{,}", "01", "1.", ".5", "-", "+1", "0x1",
] + NUMBER_TEXTS + [json.dumps(value) for value in STRING_VALUES]
HOSTILE_BODIES = [
    b"", b"{", b"}", b"[", b"null", b"0", b'"x"', b"[]", b"{}", b"\x00", b"\xff\xfe\xfd", b"\xef\xbb\xbf{}",
    '{"title": "utf16"}'.encode("utf-16"), b'{"title": "\xff\xfe"}', b'{"title": "a\x00b"}', b"title=x&title=",
    b"%", b"=", b"&&&", b"a=%zz&b=%ff%fe&c=%00", b"--x\r\n", b"[" * 65000, b"{\"a\":" * 13000,
    b"[" * 100000, b"x" * (64 * 1024 + 1), b"x" * (2 << 20),
]
CONTENT_TYPES = [
    "application/json", "application/json; charset=utf-8", "application/json; charset=utf-16", "APPLICATION/JSON",
    "application/x-www-form-urlencoded", "multipart/form-data", "multipart/form-data; boundary=",
    'multipart/form-data; boundary=""', "multipart/form-data; boundary=x", "text/plain", "application/xml",
    "application/json;", ";;;", "", "*/*", "application/" + "j" * 10000, "\x7f", "é",
]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "FOO", "PROPFIND", "get", "M" * 100]
SCHEMES = [
    "Token", "token", "TOKEN", "Bearer", "bearer", "basic-user", "basic-user-nocolon", "basic-app", "basic-APP",
    "Token-tab", "Token-two-spaces", "Token-extra-word", "Bearer-leading-space", "none",
]
MALFORMED_AUTHORIZATIONS = [
    "", " ", "Token", "Token ", "Bearer", "Basic", "Basic ", "Token a b", "Basic a b", "Basic ////", "Basic =",
    "Basic ====", "Basic A", "Basic AA", "Basic AAA", "Basic " + base64.b64encode(b"user:pass").decode(),
    "Basic " + base64.b64encode(b"\xff\xfe:\x00").decode(), "Basic " + base64.b64encode(b"$app:").decode(),
    "Basic " + base64.b64encode(b":").decode(), "Basic " + base64.b64encode(b":x").decode(),
    "Basic " + base64.b64encode(b"fake-token").decode(), "Digest username=x", "Token\t", "Negotiate " + "A" * 5000,
    "Token " + "A" * 100000, "Bearer lk_", "Bearer lk_" + "0" * 36, "Token " + "\u00e9" * 20,
]
KNOWN_ROUTES = [
    "/api/tokens/", "/api/tokens", "/api/tokens/{seg}/", "/api/tokens/{seg}", "/api/users/me", "/api/users/me/",
    "/api/v1/user/apptoken", "/api/v1/user/apptoken/", "/api/v1/user/apptoken/{seg}", "/api/v1/superuser/apptokens",
    "/api/v1/user/", "/api/v1/user", "/oauth/introspect", "/oauth/revoke", "/api/v1/tokens/leaked", "/healthz",
    "/readyz", "/metrics", "/openapi.json", "/v1/tokens", "/v1/tokens/self", "/v1/tokens/self/rotate",
    "/v1/tokens/{seg}", "/v1/tokens/{seg}/rotate", "/v1/webhooks", "/v1/webhooks/{seg}",
    "/v1/webhooks/{seg}/rotate-secret", "/v1/webhooks/{seg}/deliveries",
    "/v1/webhooks/{seg}/deliveries/{seg}/redeliver",
    # The web pages (HTML; a browser's session cookie, not a header).
    "/", "/signin", "/signout", "/tokens", "/tokens/new", "/tokens/{seg}/revoke", "/tokens/{seg}/rotate", "/admin",
    "/admin/users", "/admin/users/{seg}/activate", "/admin/users/{seg}/deactivate", "/admin/tokens",
    "/admin/tokens/{seg}/revoke", "/admin/audit", "/signin/openid", "/signin/openid/callback", "/static/{seg}",
]
UNKNOWN_ROUTES = [
    "/api", "/api/", "/api/v1", "/api/v1/", "/api/tokens/{seg}/{seg}", "/api/v1/user/apptoken/{seg}/{seg}",
    "/api/v1/superuser/apptokens/{seg}", "/api/users/{seg}", "/oauth", "/oauth/token", "/oauth/{seg}", "/{seg}",
    "//api//tokens//", "/api/tokens/%2e%2e/", "/API/TOKENS/", "/healthz/../api/tokens/", "/api/./tokens/",
    "/api/v2/tokens/leaked", "/metrics/{seg}", "/openapi.json/{seg}", "/.well-known/openid-configuration",
]
PATH_SEGMENTS = [
    "", ".", "..", "%2e%2e", "%2F", "%2f..%2f", "%00", "%ff", "%", "%%", "%zz", ";", ";x=y", "~", "*", "+", "@",
    "someuuid", "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF", "{00000000-0000-0000-0000-000000000000}", "0" * 32, "lk_", "lk_AbC12",
    "lk_" + "A" * 36, "x" * 100000, quote("é" * 40), quote("\x00\x01\x02"), "%C0%AE%C0%AE", "%ED%A0%80",
    # Eight characters once decoded, like a token's public key, so they reach a lookup by key.
    "%00" * 8, "lk_%00abcd", "lk_AbC1%00", "lk_AbC1%FF", "lk_AbC1é", "lk_AbC1%27", "lk_AbC1%5C",
] + [quote(value, safe="") for value in INTEGER_TEXTS + DATE_TEXTS[:6]]
EXPIRING_VALUES = ["", "true", "True", "false", "FALSE", "0", "1", "null", "None", "yes", "%00", "%ff", "x" * 10000]


# ---------------------------------------------------------------------------------------------
# Writing values into requests


def authorization(scheme: str, secret: str | None) -> list:
    """The `Authorization` header carrying `secret` in one of the ways a client might write it."""
    if secret is None or scheme == "none":
        return []
    value: str | bytes
    match scheme:
        case "basic-user":
            value = "Basic " + b64(secret + ":")
        case "basic-user-nocolon":
            value = "Basic " + b64(secret)
        case "basic-app":
            value = "Basic " + b64("$app:" + secret)
        case "basic-APP":
            value = "Basic " + b64("$APP:" + secret)
        case "Token-tab":
            value = "Token\t" + secret
        case "Token-two-spaces":
            value = "Token  " + secret
        case "Token-extra-word":
            value = "Token " + secret + " extra"
        case "Bearer-leading-space":
            value = " Bearer " + secret
        case _:
            value = scheme + " " + secret
    return [("Authorization", header_bytes(value))]


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8", "surrogatepass")).decode()


def header_bytes(value: str) -> bytes:
    """A header value as bytes: any text, even invalid UTF-8, minus the line breaks that
    would end the header (raw-socket cases send those on purpose)."""
    return value.encode("utf-8", "surrogatepass").replace(b"\r", b" ").replace(b"\n", b" ")


def path_text(value: str) -> str:
    """A path or query as http.client will send it: control characters, spaces and
    non-ASCII percent-encoded (raw-socket cases send those raw)."""
    return "".join(c if 0x20 < ord(c) < 0x7F else quote(c.encode("utf-8", "surrogatepass")) for c in value)


def quoted(text: str) -> str:
    """Percent-encodes any text, lone surrogates included (as their invalid UTF-8 bytes)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def scrypt_safe(method: str, path: str, body: bytes) -> bytes:
    """No fuzzed body signs in with a password: a body naming both a username and a
    password would cost a second of scrypt per request."""
    if method.upper() == "POST" and re.match(r"^/+api/+tokens/*(\?|$)", path) and b"username" in body:
        return body.replace(b"password", b"passw0rd")
    return body
