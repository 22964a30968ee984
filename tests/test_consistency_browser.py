"""The consistency report in a real Chromium at 1366x768: open it, switch patient, record a discrepancy, submit."""

from __future__ import annotations

import re
from pathlib import Path

from simulator.generate.scenario import load_scenario
from simulator.services import accounts, assignments
from simulator.services.demo import DEMO_CLASS
from simulator.store import open_store, repo
from tests.browser_steps import ARTIFACTS, launch, pytestmark, sign_in, start_from_card  # noqa: F401  (marks)

TITLE = "Consistency report: a year of visits"


def _assign(data_dir: Path, instructor_password: str) -> int:
    """The instructor assigns the consistency scenario (straight through the services, on the demo's database)."""
    store = open_store(f"sqlite:///{data_dir / 'hitsim.sqlite3'}")
    try:
        instructor = accounts.authenticate(store, username="instructor", password=instructor_password)
        with store.session() as s:
            class_id = repo.find_class(s, name=DEMO_CLASS, instructor_id=instructor.id).id
        return assignments.create_assignment(store, user=instructor, class_id=class_id, title=TITLE, due_at=None,
                                             scenario=load_scenario("consistency-duplicate-chart"), attempts_allowed=2)
    finally:
        store.dispose()


def test_student_runs_the_consistency_report_records_a_discrepancy_and_submits(demo_server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    base, passwords, _ = demo_server
    _assign(tmp_path / "data", passwords["instructor"])
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        sign_in(page, base, "student", passwords["student"])
        start_from_card(page, TITLE)
        expect(page.get_by_text("Consistency report: compare each patient's visits")).to_be_visible(timeout=20_000)
        table = page.locator("table.cr")
        expect(table.get_by_text("Visit 1", exact=False).first).to_be_visible()
        page.get_by_label("Patient (chart)").click()  # another patient with a second visit (some charts hold one)
        page.get_by_role("option", name=re.compile(r"· ([2-9]|\d\d) visits$")).nth(1).click()
        expect(table.locator("td.cr-changed").first).to_be_attached()  # what changed since the visit before
        page.get_by_role("button", name="Add").click()
        page.get_by_label("Category").click()
        page.get_by_role("option", name="Implausible height loss").click()
        page.get_by_label("Visits involved").click()
        page.get_by_role("option", name=re.compile(r"^Visit 2 · ")).click()  # not an option of the closing menu
        page.keyboard.press("Escape")
        page.get_by_label("Note: what does not add up").fill("Height drops between visits; check the measurement")
        page.get_by_label("Proposed correction (optional)").fill("Re-measure and correct the height at visit 2")
        page.get_by_label("Proposed correction (optional)").press("Tab")
        expect(page.get_by_text("All changes saved at")).to_be_visible()
        page.wait_for_timeout(400)
        page.screenshot(path=str(ARTIFACTS / "consistency-report.png"))

        page.get_by_role("button", name="Submit for grading").click()
        page.get_by_role("button", name="Submit", exact=True).click()
        expect(page.get_by_text("out of 100")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Consistency report (found")).to_be_visible()
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "consistency-grade.png"), full_page=True)
        browser.close()
