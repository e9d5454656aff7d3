"""The web pages, in a real browser: CSRF.

Forms posted without their hidden `csrf` field, or with one that is not theirs, are refused with
403 and an HTML error, and change nothing: no token is made, none is revoked, no session opened.

Each module gets its own server and browsers (test_support_web_browser.py): `latchkey serve` on
SQLite with the administrator ada, kim, and sam (who has no password), and one browser per role,
kept for the whole module. Statuses and headers a browser cannot show are read with plain HTTP,
carrying the browser's cookies (test_support_web_http.py). Each page reached is checked with
axe-core and photographed at desktop and phone widths (test_support_web_checks.py);
test_web_visited_pages.py asserts the findings.
"""

import test_support_web_browser
from test_support_web_browser import KIM, create_token_on_page, fill_new_token_form, titles, token_rows
from test_support_web_checks import check_page
from test_support_web_http import (
    SESSION_COOKIE,
    anonymous,
    assert_html_error,
    assert_works,
    fetch_form,
    post,
    token_of,
)

# This module's server and browsers: module-scoped fixtures of test_support_web_browser.py.
server = test_support_web_browser.server
kim = test_support_web_browser.kim


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
