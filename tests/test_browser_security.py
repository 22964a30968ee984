"""Sessions in a real Chromium: a tab left open is signed out when the account signs out elsewhere; the
not-found, start and sign-out pages as a student sees them (screenshots in tests/artifacts/)."""

from __future__ import annotations

from simulator.services.demo import DEMO_ASSIGNMENT
from tests.browser_steps import ARTIFACTS, CHROMIUM, launch, pytestmark, start_from_card  # noqa: F401  (marks)


def _sign_in(page, base: str, password: str) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.goto(base + "/")
    page.get_by_label("Username").fill("student")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Chart entry: chronic care clinic")).to_be_visible(timeout=20_000)


def test_an_open_tab_is_signed_out_and_foreign_ids_are_not_found_in_chromium(demo_server):
    from playwright.sync_api import expect, sync_playwright

    base, passwords, _ = demo_server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        lab = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
        _sign_in(lab, base, passwords["student"])
        start_from_card(lab, DEMO_ASSIGNMENT)
        expect(lab.get_by_text("Paper chart", exact=True)).to_be_visible(timeout=30_000)  # the instructions say it too
        lab.get_by_role("button", name="Got it").click()  # a fresh attempt opens with the instructions
        home = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
        _sign_in(home, base, passwords["student"])
        home.goto(base + "/attempt/abc")
        expect(home.get_by_text("No such attempt among the ones you may open.")).to_be_visible()
        home.screenshot(path=str(ARTIFACTS / "security-not-found.png"))
        home.goto(base + "/assignment/2")
        expect(home.get_by_role("button", name="Start")).to_be_visible()
        home.screenshot(path=str(ARTIFACTS / "security-start-assignment.png"))
        home.goto(base + "/logout")
        expect(home.get_by_text("Every open tab and computer")).to_be_visible()
        home.screenshot(path=str(ARTIFACTS / "security-sign-out.png"))
        home.get_by_role("button", name="Sign out").last.click()
        expect(home.get_by_role("button", name="Sign in")).to_be_visible()
        lab.get_by_label("Last name").fill("Young")
        lab.get_by_label("First name").click()
        expect(lab.get_by_text("You were signed out").first).to_be_visible(timeout=20_000)
        lab.screenshot(path=str(ARTIFACTS / "security-signed-out-tab.png"))
        browser.close()
