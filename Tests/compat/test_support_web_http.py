"""The web pages without a browser, for the web-page suites (test_web_*.py).

Statuses and headers a browser cannot show are read with plain HTTP, carrying a browser's
cookies (`Browser.http` in test_support_web_browser.py) or none (`anonymous`), with forms posted
as a browser posts them, and the API is asked about the secrets the pages show: each works
against `/api/users/me` until the page says it is gone, and not after.

Support code, not tests. Its name starts with `test_` as a test module's does, so that pytest
rewrites its asserts as it does the tests' own, and so that hypothesis leaves its literals out of
what it generates: hypothesis mixes in the literals of every other (non-test) module loaded, which
would change the requests test_fuzz.py's fixed seeds replay, and make them depend on which suites
run beside it.
"""

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests

from conftest import Answer, Latchkey

SESSION_COOKIE = "latchkey_session"
SECRET = re.compile(r"lk_[0-9A-Za-z]{36}")

# How long a page may take: a sign-in checks a password (an scrypt derivation, seconds on a
# debug build, more on a busy machine); anything else answers at once.
WAIT = 30
SIGN_IN_WAIT = 120


# --- Pages fetched without a browser -------------------------------------------------------

@dataclass
class Form:
    action: str
    method: str
    hidden: dict[str, str] = field(default_factory=dict)


class Page(HTMLParser):
    """What the tests read from a page fetched without a browser: its forms by id (action,
    method, hidden fields), the text of its `p.error` paragraphs, and the secret in `code#secret`."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.forms: dict[str, Form] = {}
        self.errors: list[str] = []
        self.secret: str | None = None
        self._form: Form | None = None
        self._reading: tuple[str, str, list[str]] | None = None  # (what, closing tag, text so far)
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._form = Form(attributes.get("action", ""), (attributes.get("method") or "get").lower())
            if attributes.get("id"):
                self.forms[attributes["id"]] = self._form
        elif tag == "input" and self._form is not None and attributes.get("type", "").lower() == "hidden":
            if attributes.get("name"):
                self._form.hidden[attributes["name"]] = attributes.get("value", "")
        elif self._reading is None and tag == "p" and "error" in attributes.get("class", "").split():
            self._reading = ("error", "p", [])
        elif self._reading is None and tag == "code" and attributes.get("id") == "secret":
            self._reading = ("secret", "code", [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        if self._reading is not None and tag == self._reading[1]:
            what, _, text = self._reading
            if what == "error":
                self.errors.append(" ".join("".join(text).split()))
            else:
                self.secret = "".join(text).strip()
            self._reading = None

    def handle_data(self, data: str) -> None:
        if self._reading is not None:
            self._reading[2].append(data)


def get(http: requests.Session, url: str) -> requests.Response:
    return http.get(url, allow_redirects=False, timeout=SIGN_IN_WAIT)


def post(http: requests.Session, url: str, data: Sequence[tuple[str, str]]) -> requests.Response:
    """A form posted as a browser posts it (urlencoded), redirects not followed."""
    return http.post(url, data=list(data), allow_redirects=False, timeout=SIGN_IN_WAIT)


def fetch_form(http: requests.Session, url: str, form_id: str) -> tuple[str, Form]:
    """The form `form_id` on the page at `url`: where it posts (absolute) and the form itself."""
    answer = get(http, url)
    assert answer.status_code == 200, (url, answer.status_code, answer.text[:500])
    form = Page(answer.text).forms.get(form_id)
    assert form is not None, f"no form#{form_id} on {url}: {answer.text[:500]}"
    return urljoin(url, form.action), form


def media_type(answer: requests.Response) -> str:
    return answer.headers.get("Content-Type", "").split(";")[0].strip().lower()


def assert_html_error(answer: requests.Response, status: int) -> list[str]:
    """`answer` is `status` with an HTML page holding a `p.error` (not JSON); answers its errors."""
    assert answer.status_code == status, (answer.status_code, answer.headers, answer.text[:500])
    assert media_type(answer) == "text/html", answer.headers
    errors = Page(answer.text).errors
    assert errors, f"no p.error on the {status} page: {answer.text[:500]}"
    return errors


def redirects_to_sign_in(answer: requests.Response) -> bool:
    return 300 <= answer.status_code < 400 and urlsplit(answer.headers.get("Location", "")).path == "/signin"


def anonymous(server: Latchkey) -> requests.Session:
    """Plain HTTP with no cookies yet, sent from the server's origin (as a browser's forms are)."""
    session = requests.Session()
    session.headers["Origin"] = server.base
    return session


# --- The API, with the secrets the pages show ----------------------------------------------

def me(server: Latchkey, secret: str) -> Answer:
    return server.request("GET", "/api/users/me", headers={"Authorization": "Token " + secret})


def assert_works(server: Latchkey, secret: str, username: str) -> None:
    answer = me(server, secret)
    assert answer.status == 200 and answer.json["username"] == username, answer


def assert_refused(server: Latchkey, secret: str) -> None:
    answer = me(server, secret)
    assert answer.status in (401, 403), f"a secret that should be dead still works: {answer}"


def token_of(server: Latchkey, secret: str) -> dict:
    """The token `secret` is, as `/v1/tokens/self` describes it (uuid, kind, title, scopes, expiry)."""
    answer = server.request("GET", "/v1/tokens/self", headers={"Authorization": "Token " + secret})
    assert answer.status == 200, answer
    return answer.json


def utc(timestamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
