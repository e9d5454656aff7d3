"""The web pages, in a real browser: Debian's Chromium, headless, driven by Selenium.

One server, on SQLite only (browsers are slow; the pages act through the same services as
the APIs, which the other suites run on both backends), with three accounts made by the
CLI before it starts (so no first `admin` account is made): the administrator ada, kim, and
sam, who has no password (only the CLI and an administrator's page act on that account).
One browser per role, each kept for the whole module: kim's and ada's sign in once through
the sign-in form; the visitor's starts signed out.

- Signing in (the session cookie is HttpOnly and SameSite=Lax), a wrong password (the
  sign-in page again, 401, with its error), signing out (the old cookie opens nothing).
- Creating, rotating (overlap 0) and revoking an app token on the pages: each secret read off
  the page works against `/api/users/me` until the page says it is gone, and not after; the
  copy button copies it; the pages that show it are never cached; a token that expires
  within a week is flagged.
- CSRF: forms posted without their hidden `csrf` field, or with one that is not theirs, are
  refused with 403 and an HTML error, and change nothing.
- Administrators: every user's tokens (revoking another user's), deactivating and activating
  an account, the audit log and its filters; everyone else gets 403 on each admin page.
- Every page visited is checked with axe-core (no violation of impact "serious" or
  "critical"), at desktop (1280x900) and phone (390x844) widths, and photographed at both
  into $LATCHKEY_ARTIFACTS/screenshots (default test-artifacts/screenshots), full height;
  each has its <main>, <h1> and nav, and logs no script error or content its policy blocked.
  The findings are asserted by the last two tests, so that a flow's own failure is not
  hidden behind an accessibility one.

Statuses and headers a browser cannot show are read with plain HTTP, carrying the browser's
cookies. Nothing here downloads a browser or a driver: Selenium is handed Debian's
chromedriver (scripts/browser-env.sh installs both), and Selenium Manager is kept offline.
"""

import datetime as dt
import json
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

# Selenium Manager (which downloads browsers and drivers) is never run, since the driver's
# path is given; should it be, it must not reach the network.
os.environ.setdefault("SE_OFFLINE", "true")
os.environ.setdefault("SE_AVOID_STATS", "true")

import pytest  # noqa: E402
import requests  # noqa: E402
from axe_selenium_python import Axe  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import (  # noqa: E402
    ElementClickInterceptedException,
    ElementNotInteractableException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

from conftest import Answer, Latchkey, run_cli  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOTS = Path(os.environ.get("LATCHKEY_ARTIFACTS") or REPO / "test-artifacts") / "screenshots"

ADA = ("ada", "ada-web-password-1")  # an administrator
KIM = ("kim", "kim-web-password-1")
SESSION_COOKIE = "latchkey_session"
SECRET = re.compile(r"lk_[0-9A-Za-z]{36}")
ADMIN_PAGES = ["/admin/users", "/admin/tokens", "/admin/audit"]

# How long a page may take: a sign-in checks a password (an scrypt derivation, seconds on a
# debug build, more on a busy machine); anything else answers at once.
WAIT = 30
SIGN_IN_WAIT = 120
DESKTOP = (1280, 900)
PHONE = (390, 844)
BLOCKING_IMPACTS = {"serious", "critical"}
# axe-core 3.1.1 (what axe-selenium-python bundles for Python 3.11): every rule but the two that
# axe-core deprecated in 3.4 for their false positives and removed in 4.0 (they fail a fieldset
# that holds anything besides its radio buttons or checkboxes, such as the custom expiry date).
AXE_OPTIONS = json.dumps({"rules": {"radiogroup": {"enabled": False}, "checkboxgroup": {"enabled": False}}})
# Every page the tests below check with axe-core and photograph, by the name of its screenshots.
PAGES = [
    "signin", "signin-error", "tokens", "new-token", "secret", "rotate", "revoke", "revoked-notice",
    "csrf-refused", "admin-users", "admin-tokens", "admin-revoke", "admin-audit", "forbidden",
]


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


# --- Browsers ------------------------------------------------------------------------------

def new_driver() -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     f"--window-size={DESKTOP[0]},{DESKTOP[1]}", "--lang=en-US"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(SIGN_IN_WAIT)
    return driver


class Browser:
    """One browser, for one role, on the server."""

    def __init__(self, server: Latchkey, role: str):
        for path in (CHROMIUM, CHROMEDRIVER):
            if not os.access(path, os.X_OK):
                pytest.fail(f"{path} is missing: install Debian's chromium and chromium-driver "
                            "(ensure_chromium in scripts/browser-env.sh)")
        self.server = server
        self.role = role
        self.driver = new_driver()
        # The copy button writes the clipboard, which the test then reads.
        self.driver.execute_cdp_cmd("Browser.grantPermissions", {
            "origin": server.base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})

    def quit(self) -> None:
        self.driver.quit()

    def open(self, path: str) -> None:
        self.driver.get(self.server.base + path)

    @property
    def path(self) -> str:
        return urlsplit(self.driver.current_url).path

    def wait(self, seconds: float = WAIT) -> WebDriverWait:
        return WebDriverWait(self.driver, seconds, poll_frequency=0.05)

    def find(self, css: str, seconds: float = WAIT) -> WebElement:
        """The first element matching `css`, once the page has one."""
        return self.wait(seconds).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)),
                                        f"no {css} on {self.driver.current_url}")

    def all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def has(self, css: str) -> bool:
        return bool(self.all(css))

    def describe(self) -> str:
        """Where this browser is and what the page says, for assertion messages."""
        headings = [h.text for h in self.all("h1")]
        errors = [p.text for p in self.all("p.error")]
        return f"{self.role} at {self.driver.current_url}: h1 {headings}, errors {errors}"

    @contextmanager
    def leaving_page(self, seconds: float = WAIT) -> Iterator[None]:
        """Waits, after the block, until the page it started on has been replaced and the new one
        has loaded."""
        page = self.driver.find_element(By.TAG_NAME, "html")
        yield
        self.wait(seconds).until(lambda _: is_stale(page), f"{self.role} stayed on {self.driver.current_url}")
        self.wait(seconds).until(lambda driver: driver.execute_script("return document.readyState") == "complete")

    def follow(self, element: WebElement, seconds: float = WAIT) -> None:
        """Clicks a link or a submit button and waits for the page it leads to."""
        with self.leaving_page(seconds):
            element.click()

    def http(self) -> requests.Session:
        """Plain HTTP with this browser's cookies, sent from this origin (as its forms are)."""
        session = anonymous(self.server)
        for cookie in self.driver.get_cookies():
            session.cookies.set(cookie["name"], cookie["value"])
        return session


def choose(element: WebElement, checked: bool = True) -> None:
    """Ticks (or unticks) a radio button or checkbox as a person does, by clicking it (or its
    label, when the input itself is styled out of the way)."""
    if element.is_selected() == checked:
        return
    try:
        element.click()
    except (ElementClickInterceptedException, ElementNotInteractableException):
        element.parent.execute_script(
            "const input = arguments[0];"
            "(input.closest('label') || document.querySelector(`label[for='${input.id}']`)).click();", element)
    assert element.is_selected() == checked, element.get_attribute("outerHTML")


def set_date(element: WebElement, iso_date: str) -> None:
    """Fills a date input (typing into one depends on the browser's locale)."""
    element.parent.execute_script(
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
        "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));", element, iso_date)


def sign_in(browser: Browser, username: str, password: str) -> None:
    browser.open("/signin")
    form = browser.find("form#signin")
    form.find_element(By.NAME, "login").send_keys(username)
    form.find_element(By.NAME, "password").send_keys(password)
    browser.follow(form.find_element(By.CSS_SELECTOR, "button#signin-submit"), SIGN_IN_WAIT)


def signed_in(server: Latchkey, role: str, username: str, password: str) -> Browser:
    browser = Browser(server, role)
    try:
        sign_in(browser, username, password)
        assert browser.path == "/tokens", browser.describe()
    except BaseException:
        browser.quit()
        raise
    return browser


def anonymous(server: Latchkey) -> requests.Session:
    """Plain HTTP with no cookies yet, sent from the server's origin (as a browser's forms are)."""
    session = requests.Session()
    session.headers["Origin"] = server.base
    return session


# --- The token pages -----------------------------------------------------------------------

def fill_new_token_form(browser: Browser, title: str, lifetime: str = "30", scopes: Sequence[str] = ("user:read",),
                        other_scopes: str = "", expires_on: str | None = None) -> None:
    """Fills `form#new-token`: exactly `scopes` ticked among the offered ones."""
    form = browser.find("form#new-token")
    title_input = form.find_element(By.CSS_SELECTOR, "input[name=title]")
    title_input.clear()
    title_input.send_keys(title)
    choose(form.find_element(By.CSS_SELECTOR, f'input[name=lifetime][value="{lifetime}"]'))
    if expires_on is not None:
        set_date(form.find_element(By.CSS_SELECTOR, "input[name=expires_on]"), expires_on)
    offered = form.find_elements(By.CSS_SELECTOR, "input[type=checkbox][name=scopes]")
    missing = set(scopes) - {box.get_attribute("value") for box in offered}
    assert not missing, f"scopes not offered on {browser.path}: {missing}"
    for box in offered:
        choose(box, box.get_attribute("value") in scopes)
    if other_scopes:
        form.find_element(By.CSS_SELECTOR, "input[name=other_scopes]").send_keys(other_scopes)


def is_stale(element: WebElement) -> bool:
    """Whether `element` left the document. Chromedriver may say so as a stale reference, or, when
    asked just as the page is replaced, as "Node with given id does not belong to the document"."""
    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if "does not belong to the document" in str(error):
            return True
        raise


def read_secret(browser: Browser) -> str:
    """The secret on the page shown after a creation or rotation, with its warning and copy button."""
    assert browser.has("code#secret"), browser.describe()
    secret = browser.find("code#secret").text.strip()
    assert SECRET.fullmatch(secret), f"code#secret holds {secret!r}"
    warning = browser.find("p#secret-warning").text
    # "... will not be shown again" (or won't, never): a negation and "again".
    assert "again" in warning.lower() and re.search(r"\b(not|never)\b|n['’]t\b", warning, re.I), warning
    assert browser.find("button#copy").is_displayed()
    return secret


def create_token_on_page(browser: Browser, title: str, **choices) -> str:
    """Creates an app token through `/tokens/new`; answers the secret the page shows."""
    browser.open("/tokens/new")
    fill_new_token_form(browser, title, **choices)
    browser.follow(browser.find("button#create"))
    return read_secret(browser)


def token_rows(browser: Browser, table: str = "tokens") -> list[WebElement]:
    return browser.all(f"table#{table} tr[data-uuid]")


def token_row(browser: Browser, uuid: str, table: str = "tokens") -> WebElement | None:
    """The row of the token `uuid` in `table#{table}` (uuids compared in any case)."""
    for row in token_rows(browser, table):
        if (row.get_attribute("data-uuid") or "").lower() == uuid.lower():
            return row
    return None


def cell(row: WebElement, name: str) -> str:
    return row.find_element(By.CSS_SELECTOR, f"td.{name}").text.strip()


def titles(browser: Browser) -> list[str]:
    return [cell(row, "title") for row in token_rows(browser)]


def offers_rotation(row: WebElement | None) -> bool:
    """Whether a token's row offers to rotate it (a dead token's row, if it is listed at all,
    must not: there is nothing left to rotate)."""
    return row is not None and bool(row.find_elements(By.CSS_SELECTOR, "a.rotate"))


def link_path(link: WebElement) -> str:
    return urlsplit(link.get_attribute("href")).path


def user_row(browser: Browser, username: str) -> WebElement:
    rows = browser.all(f'table#users tr[data-username="{username}"]')
    assert rows, f"no row for {username} in table#users: {browser.describe()}"
    return rows[0]


def forms_in(row: WebElement, css: str) -> list[WebElement]:
    return row.find_elements(By.CSS_SELECTOR, css)


def submit_button(form: WebElement) -> WebElement:
    return form.find_element(By.CSS_SELECTOR, "button, input[type=submit]")


def event_rows(browser: Browser) -> list[WebElement]:
    """The rows of `table#events` that hold an event (not its header)."""
    return [row for row in browser.all("table#events tr") if row.find_elements(By.TAG_NAME, "td")]


# --- Accessibility checks and screenshots --------------------------------------------------

@dataclass
class PageCheck:
    path: str
    missing_landmarks: list[str] = field(default_factory=list)
    violations: dict[str, list[dict]] = field(default_factory=dict)  # width → serious and critical ones
    script_errors: list[str] = field(default_factory=list)


CHECKS: dict[str, PageCheck] = {}


def emulate(driver: WebDriver, width: int, height: int, mobile: bool) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})


def check_page(browser: Browser, name: str) -> None:
    """Runs axe-core on the page on screen at desktop and phone widths and saves a full-height
    screenshot at each, as `<name>-desktop.png` and `<name>-phone.png`. The findings are kept for
    the tests at the end of this module."""
    driver = browser.driver
    check = CHECKS[name] = PageCheck(browser.path)
    check.missing_landmarks = [tag for tag in ("main", "h1", "nav") if not browser.has(tag)]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    axe = Axe(driver)
    axe.inject()
    try:
        for width_name, (width, height), mobile in (("desktop", DESKTOP, False), ("phone", PHONE, True)):
            emulate(driver, width, height, mobile)
            results = axe.run(options=AXE_OPTIONS)
            check.violations[width_name] = [v for v in results["violations"] if v.get("impact") in BLOCKING_IMPACTS]
            full = driver.execute_script(
                "return Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)")
            emulate(driver, width, min(max(height, int(full)), 16384), mobile)
            assert driver.save_screenshot(str(SCREENSHOTS / f"{name}-{width_name}.png"))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    # Script errors and content the page's own policy blocked (a failed request is the page's status).
    check.script_errors = [entry["message"] for entry in driver.get_log("browser")
                           if entry.get("level") == "SEVERE" and entry.get("source") != "network"]


def violation_report(name: str, check: PageCheck) -> list[str]:
    lines = []
    for width, violations in check.violations.items():
        for violation in violations:
            lines.append(f"{name} ({check.path}) at {width}: {violation['id']} [{violation['impact']}] "
                         f"{violation['help']}")
            for node in violation["nodes"]:
                lines.append(f"    {' '.join(map(str, node['target']))}: {node['html'][:200]}")
    return lines


# --- Fixtures ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Latchkey]:
    """`latchkey serve` on a fresh SQLite database holding ada (an administrator), kim and sam."""
    directory = tmp_path_factory.mktemp("latchkey-web")
    database = str(directory / "latchkey.db")
    for username, password, extra in [(*ADA, ["--admin"]), (*KIM, []), ("sam", None, [])]:
        access = ["--password-stdin"] if password else ["--no-password"]
        result = run_cli(database, "user", "create", username, "--email", f"{username}@example.org",
                         *access, *extra, stdin=(password or "") + "\n")
        assert result.returncode == 0, result.stderr
    running = Latchkey(directory, database)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def visitor(server: Latchkey) -> Iterator[Browser]:
    """A browser that starts signed out."""
    browser = Browser(server, "visitor")
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture(scope="module")
def kim(server: Latchkey) -> Iterator[Browser]:
    """kim's browser, signed in through the sign-in form."""
    browser = signed_in(server, "kim", *KIM)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture(scope="module")
def ada(server: Latchkey) -> Iterator[Browser]:
    """The administrator's browser, signed in through the sign-in form."""
    browser = signed_in(server, "ada", *ADA)
    try:
        yield browser
    finally:
        browser.quit()


# --- Signing in ----------------------------------------------------------------------------

def test_the_front_page_sends_visitors_to_sign_in_and_members_to_their_tokens(visitor, kim):
    visitor.open("/")
    assert visitor.path == "/signin", visitor.describe()
    visitor.open("/tokens")
    assert visitor.path == "/signin", visitor.describe()
    kim.open("/")
    assert kim.path == "/tokens", kim.describe()


def test_a_wrong_password_shows_the_error_on_the_sign_in_page(server, visitor):
    visitor.open("/signin")
    form = visitor.find("form#signin")
    assert form.find_element(By.CSS_SELECTOR, "input[type=hidden][name=csrf]").get_attribute("value")
    check_page(visitor, "signin")

    form.find_element(By.NAME, "login").send_keys(KIM[0])
    form.find_element(By.NAME, "password").send_keys("not-" + KIM[1])
    visitor.follow(form.find_element(By.CSS_SELECTOR, "button#signin-submit"), SIGN_IN_WAIT)
    assert visitor.driver.execute_script("return document.contentType") == "text/html"
    assert visitor.has("form#signin"), visitor.describe()
    error = visitor.find("p.error")
    assert error.get_attribute("role") == "alert"
    assert "incorrect" in error.text.lower(), error.text
    check_page(visitor, "signin-error")
    visitor.open("/tokens")
    assert visitor.path == "/signin", "a wrong password opened a session: " + visitor.describe()

    # The status, which the browser does not show: 401, and still the HTML page.
    http = anonymous(server)
    action, signin_form = fetch_form(http, server.base + "/signin", "signin")
    answer = post(http, action, [*signin_form.hidden.items(), ("login", KIM[0]), ("password", "not-" + KIM[1])])
    errors = assert_html_error(answer, 401)
    assert any("incorrect" in error.lower() for error in errors), errors
    assert SESSION_COOKIE not in answer.cookies


def test_signing_in_gives_a_session_cookie_that_scripts_cannot_read(kim):
    cookie = kim.driver.get_cookie(SESSION_COOKIE)
    assert cookie is not None, kim.driver.get_cookies()
    assert cookie["httpOnly"] is True, cookie
    assert cookie.get("sameSite") == "Lax", cookie
    kim.open("/tokens")
    assert SESSION_COOKIE not in kim.driver.execute_script("return document.cookie")
    # The session just opened is listed among kim's tokens, and kim can sign out.
    assert "session" in [cell(row, "kind") for row in token_rows(kim)], kim.describe()
    assert kim.has("form#signout button"), kim.describe()


# --- Tokens --------------------------------------------------------------------------------

def test_a_token_created_on_the_page_works_against_the_api(server, kim):
    title = "deploy key made on the page"
    scopes = ["repo:read", "user:read", "org:read", "deploy:write"]
    kim.open("/tokens")
    before = len(token_rows(kim))
    kim.follow(kim.find("a#new-token"))
    assert kim.path == "/tokens/new", kim.describe()
    form = kim.find("form#new-token")
    lifetimes = {radio.get_attribute("value")
                 for radio in form.find_elements(By.CSS_SELECTOR, "input[type=radio][name=lifetime]")}
    assert lifetimes == {"7", "30", "90", "never", "custom"}  # the default policy allows no expiry
    check_page(kim, "new-token")

    fill_new_token_form(kim, title, lifetime="30", scopes=scopes[:2], other_scopes=" ".join(scopes[2:]))
    kim.follow(kim.find("button#create"))
    secret = read_secret(kim)
    check_page(kim, "secret")

    assert_works(server, secret, "kim")
    token = token_of(server, secret)
    assert (token["kind"], token["title"], sorted(token["scopes"])) == ("app", title, sorted(scopes)), token
    lifetime = utc(token["expires_at"]) - dt.datetime.now(dt.timezone.utc)
    assert dt.timedelta(days=29) < lifetime <= dt.timedelta(days=31), token

    kim.follow(kim.find("a#back-to-tokens"))
    assert kim.path == "/tokens", kim.describe()
    assert len(token_rows(kim)) == before + 1
    row = token_row(kim, token["uuid"])
    assert row is not None, kim.describe()
    assert (cell(row, "title"), cell(row, "kind")) == (title, "app")
    assert all(scope in cell(row, "scopes") for scope in scopes), cell(row, "scopes")
    assert cell(row, "created") and cell(row, "expires")
    row.find_element(By.CSS_SELECTOR, "td.last-used")
    assert not row.find_elements(By.CSS_SELECTOR, ".badge-expiring")
    rotate, revoke = row.find_element(By.CSS_SELECTOR, "a.rotate"), row.find_element(By.CSS_SELECTOR, "a.revoke")
    assert link_path(rotate).lower() == f"/tokens/{token['uuid']}/rotate".lower()
    assert link_path(revoke).lower() == f"/tokens/{token['uuid']}/revoke".lower()
    assert secret not in kim.driver.page_source, "the token list shows a secret"
    check_page(kim, "tokens")


def test_the_copy_button_puts_the_secret_on_the_clipboard(kim):
    secret = create_token_on_page(kim, "copied to the clipboard")
    kim.find("button#copy").click()
    read_clipboard = ("const done = arguments[arguments.length - 1];"
                      "navigator.clipboard.readText().then(done, () => done(null));")
    kim.wait().until(lambda driver: driver.execute_async_script(read_clipboard) == secret,
                     "the clipboard never held the secret on the page")


def test_pages_showing_a_secret_are_never_cached(server, kim):
    http = kim.http()
    action, form = fetch_form(http, server.base + "/tokens/new", "new-token")
    answer = post(http, action, [*form.hidden.items(), ("title", "never cached"), ("lifetime", "7"),
                                 ("scopes", "user:read")])
    assert answer.status_code == 200 and media_type(answer) == "text/html", (answer.status_code, answer.text[:500])
    assert "no-store" in answer.headers.get("Cache-Control", "").lower(), answer.headers
    secret = Page(answer.text).secret
    assert secret and SECRET.fullmatch(secret), answer.text[:500]

    uuid = token_of(server, secret)["uuid"]
    action, form = fetch_form(http, f"{server.base}/tokens/{uuid}/rotate", "rotate")
    answer = post(http, action, [*form.hidden.items(), ("overlap", "0")])
    assert answer.status_code == 200, (answer.status_code, answer.text[:500])
    assert "no-store" in answer.headers.get("Cache-Control", "").lower(), answer.headers
    assert Page(answer.text).secret not in (None, secret), answer.text[:500]


def test_rotating_on_the_page_with_no_overlap_stops_the_old_secret_at_once(server, kim):
    old = create_token_on_page(kim, "rotated on the page")
    old_uuid = token_of(server, old)["uuid"]
    kim.open("/tokens")
    row = token_row(kim, old_uuid)
    assert row is not None, kim.describe()
    kim.follow(row.find_element(By.CSS_SELECTOR, "a.rotate"))
    assert kim.path.lower() == f"/tokens/{old_uuid}/rotate".lower(), kim.describe()
    overlap = Select(kim.find("form#rotate select[name=overlap]"))
    assert {option.get_attribute("value") for option in overlap.options} == {"0", "3600", "86400", "604800"}
    check_page(kim, "rotate")
    assert_works(server, old, "kim")  # nothing happens before the confirmation

    overlap.select_by_value("0")
    kim.follow(kim.find("form#rotate button#confirm"))
    new = read_secret(kim)
    assert new != old
    assert_works(server, new, "kim")
    assert_refused(server, old)
    successor = token_of(server, new)
    assert successor["uuid"] != old_uuid and successor.get("rotated_from") == old_uuid, successor

    kim.follow(kim.find("a#back-to-tokens"))
    assert token_row(kim, successor["uuid"]) is not None, kim.describe()
    assert not offers_rotation(token_row(kim, old_uuid)), "the rotated-out token still offers to be rotated"


def test_revoking_on_the_page_asks_first_then_the_api_refuses_the_token(server, kim):
    secret = create_token_on_page(kim, "revoked on the page")
    uuid = token_of(server, secret)["uuid"]
    kim.open("/tokens")
    row = token_row(kim, uuid)
    assert row is not None, kim.describe()
    kim.follow(row.find_element(By.CSS_SELECTOR, "a.revoke"))
    assert kim.path.lower() == f"/tokens/{uuid}/revoke".lower(), kim.describe()
    confirm = kim.find("form#revoke button#confirm")
    check_page(kim, "revoke")
    assert_works(server, secret, "kim")  # nothing happens before the confirmation

    kim.follow(confirm)
    assert kim.path == "/tokens", kim.describe()
    notice = kim.find("p.notice")
    assert notice.get_attribute("role") == "status" and notice.text.strip()
    check_page(kim, "revoked-notice")
    assert_refused(server, secret)
    assert not offers_rotation(token_row(kim, uuid)), "the revoked token still offers to be rotated"


def test_a_token_expiring_within_a_week_is_flagged(server, kim):
    in_three_days = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3)).date()
    soon = create_token_on_page(kim, "expires in three days", lifetime="custom", expires_on=in_three_days.isoformat())
    later = create_token_on_page(kim, "expires in ninety days", lifetime="90")
    soon_token, later_token = token_of(server, soon), token_of(server, later)
    assert abs(utc(soon_token["expires_at"]).date() - in_three_days) <= dt.timedelta(days=1), soon_token

    kim.open("/tokens")
    soon_row, later_row = token_row(kim, soon_token["uuid"]), token_row(kim, later_token["uuid"])
    assert soon_row is not None and later_row is not None, kim.describe()
    badges = soon_row.find_elements(By.CSS_SELECTOR, "span.badge-expiring")
    assert badges and "expires soon" in badges[0].text.lower(), soon_row.get_attribute("outerHTML")
    assert not later_row.find_elements(By.CSS_SELECTOR, ".badge-expiring")


# --- CSRF ----------------------------------------------------------------------------------

def test_forms_posted_without_their_csrf_field_are_refused_and_change_nothing(server, kim):
    title = "posted without its csrf field"
    kim.open("/tokens")
    before = len(token_rows(kim))

    # In the browser: the form with its csrf field taken out.
    kim.open("/tokens/new")
    fill_new_token_form(kim, title)
    kim.driver.execute_script("document.querySelectorAll('form#new-token input[name=csrf]').forEach(e => e.remove())")
    kim.follow(kim.find("button#create"))
    assert not kim.has("code#secret"), "a token was made without a csrf field"
    assert kim.find("p.error").get_attribute("role") == "alert", kim.describe()
    check_page(kim, "csrf-refused")

    # Plain HTTP with kim's cookies: no csrf field, a made-up one, and one issued to another visitor.
    http = kim.http()
    _, elsewhere = fetch_form(anonymous(server), server.base + "/signin", "signin")
    assert elsewhere.hidden.get("csrf"), elsewhere
    fields = [("title", title), ("lifetime", "30"), ("scopes", "user:read")]
    for csrf in ([], [("csrf", "0" * 43)], [("csrf", elsewhere.hidden["csrf"])]):
        assert_html_error(post(http, server.base + "/tokens", fields + csrf), 403)
    kim.open("/tokens")
    assert title not in titles(kim)
    assert len(token_rows(kim)) == before

    # A revocation without it leaves the token working.
    secret = create_token_on_page(kim, "survives a revocation without csrf")
    uuid = token_of(server, secret)["uuid"]
    action, form = fetch_form(http, f"{server.base}/tokens/{uuid}/revoke", "revoke")
    assert_html_error(post(http, action, [(k, v) for k, v in form.hidden.items() if k != "csrf"]), 403)
    assert_works(server, secret, "kim")

    # Nor does a sign-in without it (with the right password) open a session.
    answer = post(anonymous(server), server.base + "/signin", [("login", KIM[0]), ("password", KIM[1])])
    assert_html_error(answer, 403)
    assert SESSION_COOKIE not in answer.cookies


# --- Administrators ------------------------------------------------------------------------

def test_only_administrators_get_the_admin_link_and_the_superuser_scope(kim, ada):
    superuser = "form#new-token input[name=scopes][value=superuser]"
    kim.open("/tokens")
    assert not kim.has("a#admin-link")
    kim.open("/tokens/new")
    kim.find("form#new-token")
    assert not kim.has(superuser)

    ada.open("/tokens/new")
    assert ada.find(superuser)
    ada.follow(ada.find("a#admin-link"))
    assert ada.path.startswith("/admin/"), ada.describe()


def test_an_administrator_revokes_another_users_token(server, kim, ada):
    secret = create_token_on_page(kim, "kim's token that an administrator revokes")
    uuid = token_of(server, secret)["uuid"]
    ada.open("/admin/tokens")
    row = token_row(ada, uuid, "all-tokens")
    assert row is not None, ada.describe()
    assert cell(row, "owner") == "kim"
    assert secret not in ada.driver.page_source, "the administrators' token list shows a secret"
    check_page(ada, "admin-tokens")

    ada.follow(row.find_element(By.CSS_SELECTOR, "a.revoke"))
    assert ada.path.lower() == f"/admin/tokens/{uuid}/revoke".lower(), ada.describe()
    confirm = ada.find("form#revoke button#confirm")
    check_page(ada, "admin-revoke")
    assert_works(server, secret, "kim")  # nothing happens before the confirmation
    ada.follow(confirm)
    assert ada.path == "/admin/tokens", ada.describe()
    assert ada.find("p.notice").get_attribute("role") == "status"
    assert_refused(server, secret)
    kim.open("/tokens")
    assert not offers_rotation(token_row(kim, uuid)), "kim's revoked token still offers to be rotated"


def test_an_administrator_deactivates_and_activates_an_account(server, ada):
    secret = json.loads(server.cli("token", "create", "--user", "sam", "--title", "sam's build",
                                   "--scope", "user:read", "--json"))["token"]
    assert_works(server, secret, "sam")
    ada.open("/admin/users")
    listed = {row.get_attribute("data-username") for row in ada.all("table#users tr[data-username]")}
    assert {"ada", "kim", "sam"} <= listed, listed
    row = user_row(ada, "sam")
    assert forms_in(row, "form.deactivate") and not forms_in(row, "form.activate"), row.get_attribute("outerHTML")
    check_page(ada, "admin-users")

    ada.follow(submit_button(forms_in(row, "form.deactivate")[0]))
    ada.open("/admin/users")
    row = user_row(ada, "sam")
    assert forms_in(row, "form.activate") and not forms_in(row, "form.deactivate"), row.get_attribute("outerHTML")
    assert_refused(server, secret)

    ada.follow(submit_button(forms_in(row, "form.activate")[0]))
    ada.open("/admin/users")
    assert forms_in(user_row(ada, "sam"), "form.deactivate")
    assert_works(server, secret, "sam")


def test_an_administrator_reads_and_filters_the_audit_log(kim, ada):
    ada.open("/admin/audit")
    form = ada.find("form#filters")
    assert (form.get_attribute("method") or "get").lower() == "get"
    for name in ("select[name=kind]", "select[name=since]"):
        form.find_element(By.CSS_SELECTOR, name)
    assert event_rows(ada), "the audit log shows no event: " + ada.describe()
    check_page(ada, "admin-audit")

    user = form.find_element(By.CSS_SELECTOR, "input[name=user]")
    user.clear()
    user.send_keys("kim")
    with ada.leaving_page():
        user.send_keys(Keys.ENTER)
    assert parse_qs(urlsplit(ada.driver.current_url).query).get("user") == ["kim"], ada.driver.current_url
    rows = event_rows(ada)
    assert rows, "no event of kim's (kim has signed in): " + ada.describe()
    assert all("kim" in row.text for row in rows), [row.text for row in rows if "kim" not in row.text]


def test_the_admin_pages_refuse_everyone_else(server, kim, ada):
    http = kim.http()
    for path in ADMIN_PAGES:
        kim.open(path)
        assert kim.find("p.error").get_attribute("role") == "alert", kim.describe()
        assert not kim.has("table#users, table#all-tokens, table#events"), kim.describe()
        if path == ADMIN_PAGES[0]:
            check_page(kim, "forbidden")
        assert_html_error(get(http, server.base + path), 403)

    # Nor does an administrator's form work for kim, even with a csrf field of kim's own.
    ada.open("/admin/users")
    deactivate = forms_in(user_row(ada, "sam"), "form.deactivate")[0]
    fields = [(hidden.get_attribute("name"), hidden.get_attribute("value"))
              for hidden in deactivate.find_elements(By.CSS_SELECTOR, "input[type=hidden]")
              if hidden.get_attribute("name") != "csrf"]
    _, own = fetch_form(http, server.base + "/tokens/new", "new-token")
    assert_html_error(post(http, deactivate.get_attribute("action"), fields + [("csrf", own.hidden["csrf"])]), 403)
    ada.open("/admin/users")
    assert forms_in(user_row(ada, "sam"), "form.deactivate"), "kim deactivated sam"


# --- Signing out ---------------------------------------------------------------------------

def test_signing_out_ends_the_session(server, visitor):
    sign_in(visitor, *KIM)
    assert visitor.path == "/tokens", visitor.describe()
    old = visitor.driver.get_cookie(SESSION_COOKIE)
    assert old is not None

    visitor.follow(visitor.find("form#signout button"))
    assert visitor.path == "/signin", visitor.describe()
    assert visitor.driver.get_cookie(SESSION_COOKIE) is None

    # The old cookie, put back, opens nothing: the session itself is gone, not only the cookie.
    visitor.driver.add_cookie({"name": SESSION_COOKIE, "value": old["value"], "path": "/"})
    visitor.open("/tokens")
    assert visitor.path == "/signin", visitor.describe()
    visitor.driver.delete_all_cookies()
    http = anonymous(server)
    http.cookies.set(SESSION_COOKIE, old["value"])
    answer = get(http, server.base + "/tokens")
    assert redirects_to_sign_in(answer), (answer.status_code, answer.headers)


# --- Every page checked above --------------------------------------------------------------

def test_every_page_visited_passes_axe_core():
    """No violation of impact serious or critical on any page, at either width (the pages are
    checked where the tests above reach them; one they did not reach fails here too)."""
    report = [line for name, check in CHECKS.items() for line in violation_report(name, check)]
    print("\n".join(report))
    assert not report, "axe-core found serious or critical violations:\n" + "\n".join(report)
    assert set(PAGES) <= set(CHECKS), f"pages never reached (an earlier test failed?): {set(PAGES) - set(CHECKS)}"


def test_every_page_visited_has_its_landmarks_and_no_script_errors():
    problems = [f"{name} ({check.path}): no {', '.join(check.missing_landmarks)}"
                for name, check in CHECKS.items() if check.missing_landmarks]
    problems += [f"{name} ({check.path}): {error}" for name, check in CHECKS.items() for error in check.script_errors]
    assert not problems, "\n".join(problems)
    assert set(PAGES) <= set(CHECKS), f"pages never reached (an earlier test failed?): {set(PAGES) - set(CHECKS)}"
