"""Stencila Hub's token API, driven through PyPI's generated `stencila-hub` client.

Each test names the line of ../shared/contract/stencila.md it proves. The client is
used unchanged; raw HTTP appears only where the client cannot say something
(a blank field, which it refuses to send; a method it has no call for).
"""

import base64
import json
import uuid
from datetime import datetime, timezone

import pytest
import requests
import stencila.hub
from stencila.hub.api.tokens_api import TokensApi
from stencila.hub.api.users_api import UsersApi
from stencila.hub.exceptions import ApiException
from stencila.hub.model.tokens_create_request import TokensCreateRequest

from conftest import eventually


def client(latchkey, token=None, prefix="Token", **config):
    configuration = stencila.hub.Configuration(host=latchkey.base + "/api", **config)
    if token is not None:
        configuration.api_key = {"Token": token}
        configuration.api_key_prefix = {"Token": prefix}
    return stencila.hub.ApiClient(configuration)


def tokens(latchkey, token=None, prefix="Token", **config) -> TokensApi:
    return TokensApi(client(latchkey, token, prefix, **config))


def sign_in(latchkey, username="sam", password="sam"):
    return tokens(latchkey).tokens_create(TokensCreateRequest(username=username, password=password))


def error(exc: ApiException):
    return exc.value.status, json.loads(exc.value.body)


def basic(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def fresh_user(latchkey, *names: str) -> tuple[str, str, int]:
    """A user of the calling test alone: the server is shared by the whole session, so only such
    a user's token list can be asserted exactly. Answers (username, password, id)."""
    username = "u" + uuid.uuid4().hex[:12]
    password = username + "-password"
    return username, password, latchkey.create_user(username, password, *names)


def stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- Hub's own test assertions -------------------------------------------------------------


def test_create_list_retrieve_delete(latchkey):
    username, password, user_id = fresh_user(latchkey, "Ada", "Byron")
    before = datetime.now(timezone.utc)
    created = sign_in(latchkey, username, password)
    assert created.username == username
    assert created.user == user_id
    assert created.first_name == "Ada" and created.last_name == "Byron"
    assert created.id == created.token[:8]
    assert before.replace(microsecond=0) <= created.created <= datetime.now(timezone.utc) < created.expiry

    api = tokens(latchkey, created.token)
    listed = api.tokens_list()
    # Hub's test says "results non-empty"; this user holds exactly the one token just made.
    assert listed.count == 1
    assert [t.id for t in listed.results] == [created.id]
    assert listed.results[0].user == user_id

    read = api.tokens_read(created.token)
    assert read.user == created.user
    assert read.id == created.token[:8]
    assert read.created == created.created
    assert read.expiry > created.expiry

    api.tokens_delete(created.token)
    with pytest.raises(ApiException) as exc:
        tokens(latchkey).tokens_read(created.token)
    assert error(exc) == (404, {"message": "Not found."})


def test_create_failures(latchkey):
    with pytest.raises(ApiException) as exc:
        tokens(latchkey).tokens_create(TokensCreateRequest())
    assert error(exc) == (403, {"message": "Authentication credentials were not provided."})

    with pytest.raises(ApiException) as exc:
        tokens(latchkey).tokens_create(TokensCreateRequest(username="foo"))
    assert error(exc) == (403, {"message": "Authentication credentials were not provided."})

    with pytest.raises(ApiException) as exc:
        tokens(latchkey).tokens_create(TokensCreateRequest(username="sam", password="wrong"))
    assert error(exc) == (403, {"message": "Incorrect authentication credentials."})

    with pytest.raises(ApiException) as exc:
        tokens(latchkey).tokens_create(TokensCreateRequest(username="nobody", password="sam"))
    assert error(exc) == (403, {"message": "Incorrect authentication credentials."})

    with pytest.raises(ApiException) as exc:
        tokens(latchkey).tokens_create(TokensCreateRequest(openid="bar"))
    assert error(exc) == (400, {"message": "Bad token: Not enough segments"})


def test_retrieve_and_delete_unknown(latchkey):
    for call in (tokens(latchkey).tokens_read, tokens(latchkey).tokens_delete):
        with pytest.raises(ApiException) as exc:
            call("foo")
        assert error(exc) == (404, {"message": "Not found."})


def test_token_and_basic_authenticate(latchkey):
    username, password, _ = fresh_user(latchkey)
    secret = sign_in(latchkey, username, password).token
    # Each way of presenting the token lists this user's tokens: exactly that one token.
    for credential, prefix in ((secret, "Token"), (secret, "token"), (basic(secret + ":"), "Basic"),
                               (basic(secret), "Basic"), (secret, "Bearer")):
        listed = tokens(latchkey, credential, prefix).tokens_list()
        assert (listed.count, [t.id for t in listed.results]) == (1, [secret[:8]]), (prefix, credential)
    # (Lower-case "token": the prefix is case-insensitive; Basic without a colon: no password;
    # Bearer: RFC 6750, an extension.)


@pytest.mark.parametrize(
    "header, message",
    [
        ("Token fake-token", "Invalid token."),
        ("Token", "Invalid token header. No credentials provided."),
        ("Token a b", "Invalid token header. Token string should not contain spaces."),
        ("Basic", "Invalid Basic authorization header. No credentials provided."),
        ("Basic a b", "Invalid Basic authorization header. Credentials string should not contain spaces."),
        ("Basic //////", "Invalid Basic authorization header. Credentials not correctly base64 encoded."),
        ("Basic " + basic("username:password"), "Basic authorization with a password is not allowed; use an API token instead."),
        ("Basic " + basic("fake-token"), "Invalid token."),
        ("Bearer lk_0000000000000000000000000000000000", "Invalid token."),
    ],
)
def test_bad_authorization_is_403_with_hubs_message(latchkey, header, message):
    api_client = client(latchkey)
    api_client.set_default_header("Authorization", header)
    with pytest.raises(ApiException) as exc:
        TokensApi(api_client).tokens_list()
    assert error(exc) == (403, {"message": message})


# --- The rest of the contract ----------------------------------------------------------------


def test_a_bad_header_fails_even_where_no_authentication_is_needed(latchkey):
    with pytest.raises(ApiException) as exc:
        tokens(latchkey, "fake-token").tokens_create(TokensCreateRequest(username="sam", password="sam"))
    assert error(exc) == (403, {"message": "Invalid token."})
    with pytest.raises(ApiException) as exc:
        tokens(latchkey, "fake-token").tokens_read("foo")
    assert error(exc) == (403, {"message": "Invalid token."})


def test_the_username_field_accepts_the_email(latchkey):
    created = tokens(latchkey).tokens_create(TokensCreateRequest(username="SAM@example.org", password="sam"))
    assert created.username == "sam"


def test_existing_credentials_mint_a_new_token(latchkey):
    first = sign_in(latchkey)
    second = tokens(latchkey, first.token).tokens_create(TokensCreateRequest())
    assert second.token != first.token
    assert second.user == first.user


def test_blank_fields_are_400_invalid_input(latchkey):
    response = requests.post(latchkey.base + "/api/tokens/", json={"username": "sam", "password": ""})
    assert response.status_code == 400
    assert response.json() == {
        "message": "Invalid input.",
        "errors": [{"field": "password", "message": "This field may not be blank."}],
    }
    response = requests.post(latchkey.base + "/api/tokens/", json={"username": "  ", "openid": ""})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "username", "message": "This field may not be blank."},
        {"field": "openid", "message": "This field may not be blank."},
    ]


def test_form_and_multipart_bodies_sign_in(latchkey):
    form = requests.post(latchkey.base + "/api/tokens/", data={"username": "sam", "password": "sam"})
    assert form.status_code == 201 and form.json()["username"] == "sam"
    multipart = requests.post(latchkey.base + "/api/tokens/", files={"username": (None, "sam"), "password": (None, "sam")})
    assert multipart.status_code == 201 and multipart.json()["username"] == "sam"


def test_every_user_passes_the_clients_validation(latchkey):
    created = sign_in(latchkey, "nameless", "nameless-password")
    assert created.username == "nameless"
    assert created.first_name == "nameless" and created.last_name == "-"


def test_response_wire_format(latchkey):
    response = requests.post(latchkey.base + "/api/tokens", json={"username": "sam", "password": "sam"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"token", "id", "created", "expiry", "user", "username", "firstName", "lastName"}
    for field in ("created", "expiry"):
        assert body[field].endswith("Z")
        stamp = datetime.strptime(body[field], "%Y-%m-%dT%H:%M:%S.%fZ" if "." in body[field] else "%Y-%m-%dT%H:%M:%SZ")
        if "." in body[field]:
            assert len(body[field].split(".")[1]) == 7, "six digits of microseconds, then Z"
        assert stamp.year >= 2024
    listed = requests.get(latchkey.base + "/api/tokens", headers={"Authorization": "Token " + body["token"]}).json()
    assert all(set(item) == {"user", "id", "created", "expiry"} for item in listed["results"])
    assert body["token"] not in json.dumps(listed)


def test_pagination_counts_and_links(latchkey):
    latchkey.create_user("pager", "pager-password")
    secrets = [sign_in(latchkey, "pager", "pager-password").token for _ in range(3)]
    api = tokens(latchkey, secrets[0])
    url = latchkey.base + "/api/tokens/"

    page = api.tokens_list(limit=1)
    assert (page.count, len(page.results)) == (3, 1)
    assert page.next == url + "?limit=1&offset=1"
    assert page.previous is None

    page = api.tokens_list(limit=1, offset=1)
    assert page.next == url + "?limit=1&offset=2"
    assert page.previous == url + "?limit=1"

    page = api.tokens_list(limit=1, offset=2)
    assert page.next is None
    assert page.previous == url + "?limit=1&offset=1"
    assert [t.id for t in api.tokens_list().results] == [s[:8] for s in secrets]

    page = api.tokens_list(limit=2, offset=5)
    assert (page.count, page.results, page.next) == (3, [], None)
    assert page.previous == url + "?limit=2&offset=3"


def test_pagination_falls_back_keeps_other_parameters_and_caps_limit(latchkey):
    secret = sign_in(latchkey, "kim", "kim-password").token
    headers = {"Authorization": "Token " + secret}
    url = latchkey.base + "/api/tokens/"

    def page(query):
        return requests.get(url + query, headers=headers).json()

    for bad in ("0", "-1", "abc", ""):
        assert page(f"?limit={bad}&offset=100")["previous"] == url + "?limit=50&offset=50"
    assert page("?offset=-5")["previous"] is None
    assert page("?offset=abc")["previous"] is None
    assert page("?limit=5000&offset=2500")["previous"] == url + "?limit=1000&offset=1500", "limit capped at 1000"
    assert page("?z=a+b&limit=1&offset=3&a=%2F")["previous"] == url + "?a=%2F&limit=1&offset=2&z=a+b"
    no_slash = requests.get(url[:-1] + "?limit=1&offset=1", headers=headers).json()
    assert no_slash["previous"] == url[:-1] + "?limit=1"


def test_list_shows_expired_tokens_and_needs_authentication(latchkey):
    """A token that has really expired (made through /v1 to live one second, and refused once
    that second has passed) is still in its owner's list, with its past expiry, beside the
    live session; the expired token itself no longer opens the list."""
    username, password, user_id = fresh_user(latchkey)
    session = sign_in(latchkey, username, password)
    made = requests.post(latchkey.base + "/v1/tokens", json={"title": "short-lived", "expires_in": 1},
                         headers={"Authorization": "Bearer " + session.token})
    assert made.status_code == 201, made.text
    short = made.json()
    assert (stamp(short["expires_at"]) - stamp(short["created_at"])).total_seconds() == 1, short

    # Wait for the server itself to refuse the token (retrieving it by its secret answers 404
    # once it has expired), rather than for a second of the test's own clock.
    retrieved = eventually(lambda: requests.get(f"{latchkey.base}/api/tokens/{short['token']}/"),
                           lambda answer: answer.status_code != 200)
    assert retrieved.status_code == 404 and retrieved.json() == {"message": "Not found."}, retrieved.text

    listed = tokens(latchkey, session.token).tokens_list()
    assert listed.count == 2
    assert [t.id for t in listed.results] == [session.id, short["key"]], "oldest first, the expired one kept"
    live, expired = listed.results
    now = datetime.now(timezone.utc)
    assert all(t.user == user_id for t in listed.results)
    assert expired.expiry == stamp(short["expires_at"]) and expired.expiry < now, expired
    assert expired.created == stamp(short["created_at"]), expired
    assert live.expiry > now, live

    with pytest.raises(ApiException) as exc:
        tokens(latchkey, short["token"]).tokens_list()
    assert error(exc) == (403, {"message": "Invalid token."})
    with pytest.raises(ApiException) as exc:
        tokens(latchkey).tokens_list()
    assert error(exc) == (403, {"message": "Authentication credentials were not provided."})


def test_a_token_in_the_query_string_is_never_accepted(latchkey):
    secret = sign_in(latchkey).token
    for name in ("token", "access_token", "auth_token", "api_key"):
        response = requests.get(f"{latchkey.base}/api/tokens/?{name}={secret}")
        assert response.status_code == 403
        assert response.json() == {"message": "Authentication credentials were not provided."}


def test_the_id_names_a_token_only_for_its_owner(latchkey):
    owner = sign_in(latchkey)
    other = sign_in(latchkey, "kim", "kim-password")
    mine = tokens(latchkey, owner.token)
    assert mine.tokens_read(owner.id).id == owner.id
    with pytest.raises(ApiException) as exc:
        mine.tokens_read(other.id)
    assert error(exc) == (404, {"message": "Not found."})
    with pytest.raises(ApiException) as exc:
        tokens(latchkey).tokens_read(owner.id)
    assert error(exc) == (404, {"message": "Not found."})

    spare = sign_in(latchkey)
    mine.tokens_delete(spare.id)
    with pytest.raises(ApiException):
        tokens(latchkey).tokens_read(spare.token)
    assert tokens(latchkey).tokens_read(other.token).id == other.id, "kim's token survived"


def test_trailing_slash_is_optional_and_other_methods_are_405(latchkey):
    secret = sign_in(latchkey).token
    headers = {"Authorization": "Token " + secret}
    assert requests.get(latchkey.base + "/api/tokens", headers=headers).status_code == 200
    assert requests.get(f"{latchkey.base}/api/tokens/{secret}", headers=headers).status_code == 200
    assert requests.get(latchkey.base + "/api/users/me/", headers=headers).status_code == 200
    for method, path in (("PUT", "/api/tokens/"), ("PATCH", "/api/tokens"), ("DELETE", "/api/tokens/"),
                         ("POST", f"/api/tokens/{secret}/"), ("PUT", f"/api/tokens/{secret}"), ("POST", "/api/users/me")):
        response = requests.request(method, latchkey.base + path, headers=headers)
        assert response.status_code == 405, (method, path)
        assert response.json() == {"message": f'Method "{method}" not allowed.'}


def test_users_me_through_the_client(latchkey):
    secret = sign_in(latchkey).token
    # The generated client's username pattern is broken (`^[w.@+-]+$/` can match nothing),
    # so its pattern check alone is turned off; every other check of the Me model stays on.
    api = UsersApi(client(latchkey, secret, disabled_client_side_validations="pattern"))
    me = api.users_me()
    assert (me.id, me.username, me.first_name, me.last_name) == (latchkey.sam_id, "sam", "Sam", "Smith")
    assert me.display_name == "Sam Smith"
    with pytest.raises(ApiException) as exc:
        UsersApi(client(latchkey)).users_me()
    assert error(exc) == (403, {"message": "Authentication credentials were not provided."})


def test_bad_bodies_are_4xx_in_hubs_shape(latchkey):
    url = latchkey.base + "/api/tokens/"
    cases = [
        (dict(data="{not json", headers={"Content-Type": "application/json"}), 400),
        (dict(json=[1, 2]), 400),
        (dict(json={"username": None, "password": "x"}), 400),
        (dict(json={"username": True, "password": "x"}), 400),
        (dict(data="x", headers={"Content-Type": "text/plain"}), 415),
        (dict(data="--nope", headers={"Content-Type": "multipart/form-data"}), 400),
    ]
    for kwargs, status in cases:
        response = requests.post(url, **kwargs)
        assert response.status_code == status, kwargs
        assert isinstance(response.json()["message"], str)
    assert requests.post(url, json={"username": "sam", "password": "x" * 100_000}).status_code == 413
