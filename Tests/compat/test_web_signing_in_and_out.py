"""The web pages, in a real browser: signing in and out.

Visitors are sent to sign in and members to their tokens; signing in gives a session cookie that
is HttpOnly and SameSite=Lax and that scripts cannot read; a wrong password shows the sign-in page
again, 401, with its error; signing out ends the session (the old cookie, put back, opens nothing).

Each module gets its own server and browsers (test_support_web_browser.py): `latchkey serve` on
SQLite with the administrator ada, kim, and sam (who has no password), and one browser per role,
kept for the whole module. Statuses and headers a browser cannot show are read with plain HTTP,
carrying the browser's cookies (test_support_web_http.py). Each page reached is checked with
axe-core and photographed at desktop and phone widths (test_support_web_checks.py);
test_web_visited_pages.py asserts the findings.
"""

from selenium.webdriver.common.by import By

import test_support_web_browser
from test_support_web_browser import KIM, cell, sign_in, token_rows
from test_support_web_checks import check_page
from test_support_web_http import (
    SESSION_COOKIE,
    SIGN_IN_WAIT,
    anonymous,
    assert_html_error,
    fetch_form,
    get,
    post,
    redirects_to_sign_in,
)

# This module's server and browsers: module-scoped fixtures of test_support_web_browser.py.
server = test_support_web_browser.server
visitor = test_support_web_browser.visitor
kim = test_support_web_browser.kim


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
