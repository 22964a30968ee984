"""The access-audit exercise in a real Chromium: filter, flag, leave the chart; the trail records how long it was open."""

from __future__ import annotations

import time

from tests.browser_steps import ARTIFACTS, launch, pytestmark, sign_in, start_from_card  # noqa: F401  (marks)


def test_student_audits_the_log_flags_an_access_and_the_visit_is_in_the_trail_in_chromium(demo_server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from simulator.audit import trail
    from simulator.store import open_store

    base, passwords, _ = demo_server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        sign_in(page, base, "student", passwords["student"])
        start_from_card(page, "Access audit: who looked")
        expect(page.get_by_text("accesses", exact=False).first).to_be_visible(timeout=90_000)  # a 5,000-row log
        opened_at = time.time()
        page.get_by_label("Open longer than (min)").fill("abc")
        page.get_by_role("button", name="Apply").click()
        expect(page.get_by_text("Open longer than: 'abc' is not a number")).to_be_visible()
        page.get_by_label("Open longer than (min)").fill("30")
        page.get_by_role("button", name="Apply").click()
        expect(page.get_by_text("Open longer than: 'abc'")).to_have_count(0)
        page.locator(".hitsim-audit-table th", has_text="Min").click()  # sort by duration, shortest first
        page.locator(".hitsim-audit-table th", has_text="Min").click()  # and again: longest first
        page.wait_for_timeout(500)
        first_row = page.locator(".hitsim-audit-table tbody tr").first
        expect(first_row).to_contain_text("read")
        first_row.locator("button").click()  # the flag icon puts the access into the flag form
        expect(page.get_by_label("Access or user id")).not_to_have_value("")
        page.get_by_label("Reason (policy category)").click()
        page.get_by_role("option", name="Unusually long session").click()
        page.get_by_label("Note").first.fill("chart open for hours")
        page.get_by_role("button", name="Add flag").click()
        expect(page.get_by_label("Reason", exact=True)).to_be_visible()
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "audit-report.png"))
        page.screenshot(path=str(ARTIFACTS / "audit-report-full.png"), full_page=True)
        page.wait_for_timeout(1500)
        page.get_by_role("link", name="Assignments").click()  # leaving the chart ends the chart session
        expect(page.get_by_text("Your assignments")).to_be_visible()
        browser.close()
    stayed = time.time() - opened_at
    store = open_store(f"sqlite:///{tmp_path / 'data' / 'hitsim.sqlite3'}")
    for _ in range(50):
        reads = [a for a in trail.trail_accesses(store) if a.activity == "read" and a.user_id == "student"]
        if reads:
            break
        time.sleep(0.2)
    assert reads, "the chart session was not closed in the trail"
    read = reads[-1]
    assert read.minutes is not None and 1.0 <= read.minutes * 60 <= stayed + 15
    assert read.workstation.startswith("WS-") and read.address == "127.0.0.1" and "Chrome" in read.user_agent
    flags = [a for a in trail.trail_accesses(store) if a.activity == "create" and a.user_id == "student"]
    assert flags, "saving the flag is an edit of the student's record, and is audited"
    assert trail.verify_trail(store).intact
    store.dispose()
