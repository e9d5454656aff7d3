"""Accessibility checks and screenshots for the web-page suites (test_web_*.py).

`check_page` runs axe-core on the page on screen at desktop (1280x900) and phone (390x844)
widths (no violation of impact "serious" or "critical" may stand) and photographs it at both
into $LATCHKEY_ARTIFACTS/screenshots (default test-artifacts/screenshots), full height; it also
notes whether the page has its <main>, <h1> and nav, and any script error or content its policy
blocked. The findings are kept in `CHECKS` and asserted by test_web_visited_pages.py, once every
other web test has run, so that a flow's own failure is not hidden behind an accessibility one.

Support code, not tests. Its name starts with `test_` as a test module's does, so that pytest
rewrites its asserts as it does the tests' own, and so that hypothesis leaves its literals out of
what it generates: hypothesis mixes in the literals of every other (non-test) module loaded, which
would change the requests test_fuzz.py's fixed seeds replay, and make them depend on which suites
run beside it.
"""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from axe_selenium_python import Axe
from selenium.webdriver.remote.webdriver import WebDriver

from test_support_web_browser import DESKTOP, PHONE, Browser

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("LATCHKEY_ARTIFACTS") or REPO / "test-artifacts") / "screenshots"
BLOCKING_IMPACTS = {"serious", "critical"}
# axe-core 3.1.1 (what axe-selenium-python bundles for Python 3.11): every rule but the two that
# axe-core deprecated in 3.4 for their false positives and removed in 4.0 (they fail a fieldset
# that holds anything besides its radio buttons or checkboxes, such as the custom expiry date).
AXE_OPTIONS = json.dumps({"rules": {"radiogroup": {"enabled": False}, "checkboxgroup": {"enabled": False}}})
# Every page the test_web_*.py files check with axe-core and photograph, by the name of its screenshots.
PAGES = [
    "signin", "signin-error", "tokens", "new-token", "secret", "rotate", "revoke", "revoked-notice",
    "csrf-refused", "admin-users", "admin-tokens", "admin-revoke", "admin-audit", "forbidden",
]


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
    test_web_visited_pages.py."""
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
