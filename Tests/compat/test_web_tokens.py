"""The web pages, in a real browser: the token pages.

Creating, rotating (overlap 0) and revoking an app token on the pages: each secret read off the
page works against `/api/users/me` until the page says it is gone, and not after; the copy
button copies it; the pages that show it are never cached; a token that expires within a week
is flagged.

Each module gets its own server and browsers (test_support_web_browser.py): `latchkey serve` on
SQLite with the administrator ada, kim, and sam (who has no password), and one browser per role,
kept for the whole module. Statuses and headers a browser cannot show are read with plain HTTP,
carrying the browser's cookies (test_support_web_http.py). Each page reached is checked with
axe-core and photographed at desktop and phone widths (test_support_web_checks.py);
test_web_visited_pages.py asserts the findings.
"""

import datetime as dt

from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select

import test_support_web_browser
from test_support_web_browser import (
    cell,
    create_token_on_page,
    fill_new_token_form,
    link_path,
    offers_rotation,
    read_secret,
    token_row,
    token_rows,
)
from test_support_web_checks import check_page
from test_support_web_http import (
    SECRET,
    Page,
    assert_refused,
    assert_works,
    fetch_form,
    media_type,
    post,
    token_of,
    utc,
)

# This module's server and browsers: module-scoped fixtures of test_support_web_browser.py.
server = test_support_web_browser.server
kim = test_support_web_browser.kim


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
