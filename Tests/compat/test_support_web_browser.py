"""The browsers the web-page suites (test_web_*.py) drive, the server they drive them against, and
what they read off the pages.

The browser is Debian's Chromium, headless, driven by Selenium. Each test module gets one server
(the `server` fixture), on SQLite only (browsers are slow; the pages act through the same
services as the APIs, which the other suites run on both backends), with three accounts made by
the CLI before it starts (so no first `admin` account is made): the administrator ada, kim, and
sam, who has no password (only the CLI and an administrator's page act on that account). One
browser per role, each kept for the whole module: kim's and ada's (the `kim` and `ada` fixtures)
sign in once through the sign-in form; the visitor's (`visitor`) starts signed out. A module takes
the fixtures it uses by naming them: `kim = test_support_web_browser.kim`.

Nothing here downloads a browser or a driver: Selenium is handed Debian's chromedriver
(scripts/browser-env.sh installs both), and Selenium Manager is kept offline.

Support code, not tests. Its name starts with `test_` as a test module's does, so that pytest
rewrites its asserts as it does the tests' own, and so that hypothesis leaves its literals out of
what it generates: hypothesis mixes in the literals of every other (non-test) module loaded, which
would change the requests test_fuzz.py's fixed seeds replay, and make them depend on which suites
run beside it.
"""

import os
import re
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit

# Selenium Manager (which downloads browsers and drivers) is never run, since the driver's
# path is given; should it be, it must not reach the network.
os.environ.setdefault("SE_OFFLINE", "true")
os.environ.setdefault("SE_AVOID_STATS", "true")

import pytest  # noqa: E402
import requests  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import (  # noqa: E402
    ElementClickInterceptedException,
    ElementNotInteractableException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

from conftest import Latchkey, run_cli  # noqa: E402
from test_support_web_http import SECRET, SIGN_IN_WAIT, WAIT, anonymous  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

ADA = ("ada", "ada-web-password-1")  # an administrator
KIM = ("kim", "kim-web-password-1")
DESKTOP = (1280, 900)
PHONE = (390, 844)


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
