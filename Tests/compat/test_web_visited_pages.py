"""The web pages: every page the other test_web_*.py files visited passes axe-core and has its
landmarks, at desktop and phone widths.

The pages are checked where those tests reach them (test_support_web_checks.py keeps the
findings, and the screenshots go to test-artifacts/screenshots); these two tests assert what was
found. So they must run after the other test_web_*.py files, in the same pytest run: pytest takes
the files in name order, and this file's name sorts after theirs. Run alone, they report the pages
never reached.
"""

from test_support_web_checks import CHECKS, PAGES, violation_report


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
