"""The web pages, in a real browser: the administrators' pages.

Administrators see every user's tokens (and revoke another user's), deactivate and activate an
account, and read and filter the audit log; only they get the admin link and the superuser
scope, and everyone else gets 403 on each admin page, even posting an administrator's form.

Each module gets its own server and browsers (test_support_web_browser.py): `latchkey serve` on
SQLite with the administrator ada, kim, and sam (who has no password), and one browser per role,
kept for the whole module. Statuses and headers a browser cannot show are read with plain HTTP,
carrying the browser's cookies (test_support_web_http.py). Each page reached is checked with
axe-core and photographed at desktop and phone widths (test_support_web_checks.py);
test_web_visited_pages.py asserts the findings.
"""

import json
from urllib.parse import parse_qs, urlsplit

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

import test_support_web_browser
from test_support_web_browser import (
    cell,
    create_token_on_page,
    event_rows,
    forms_in,
    offers_rotation,
    submit_button,
    token_row,
    user_row,
)
from test_support_web_checks import check_page
from test_support_web_http import assert_html_error, assert_refused, assert_works, fetch_form, get, post, token_of

ADMIN_PAGES = ["/admin/users", "/admin/tokens", "/admin/audit"]

# This module's server and browsers: module-scoped fixtures of test_support_web_browser.py.
server = test_support_web_browser.server
kim = test_support_web_browser.kim
ada = test_support_web_browser.ada


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
