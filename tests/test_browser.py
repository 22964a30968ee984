"""The demo, as a student meets it, in a real Chromium: `hitsim demo`, sign in, open the assignment, read the chart."""

from __future__ import annotations

import re

from simulator.services.demo import DEMO_VERIFY_ASSIGNMENT
from tests.browser_steps import ARTIFACTS, CHROMIUM, launch, pytestmark, sign_in, start_from_card  # noqa: F401  (marks)


def test_student_signs_in_and_reads_the_paper_chart_in_chromium(demo_server):
    from playwright.sync_api import expect, sync_playwright

    base, passwords, _ = demo_server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(base + "/")
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        page.get_by_label("Username").fill("student")
        page.get_by_label("Password").fill(passwords["student"])
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Chart entry: chronic care clinic")).to_be_visible(timeout=30_000)  # a busy machine
        page.screenshot(path=str(ARTIFACTS / "assignments.png"), full_page=True)
        page.get_by_role("button", name="Start").first.click()  # the chart-entry assignment
        page.get_by_role("button", name="Start attempt 1").click()  # starting asks first
        page.get_by_role("button", name="Got it").click()  # the instructions
        expect(page.get_by_text("Patient registration")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "chart-face-sheet.png"), full_page=True)
        page.get_by_role("tab", name="Progress notes").click()
        expect(page.get_by_text("Electronically signed").first).to_be_visible()
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "chart-progress-notes.png"), full_page=True)
        assert re.search(r"/attempt/\d+$", page.url)
        browser.close()


def test_student_enters_a_record_submits_and_sees_the_score_in_chromium(demo_server):
    from playwright.sync_api import expect, sync_playwright

    base, passwords, _ = demo_server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        sign_in(page, base, "student", passwords["student"])
        page.get_by_role("button", name="Start").first.click()  # the chart-entry assignment
        page.get_by_role("button", name="Start attempt 1").click()
        page.get_by_role("button", name="Got it").click()
        expect(page.get_by_text("Electronic health record")).to_be_visible()
        saved = page.locator("[data-testid=save-status], .text-positive").filter(has_text="All changes saved at")

        def pick(label: str, option: str, typed: str | None = None) -> None:
            page.get_by_label(label, exact=True).click()
            if typed:
                page.get_by_label(label, exact=True).fill(typed)
            page.get_by_role("option", name=option, exact=True).click()

        # Demographics, read off the face sheet on the left.
        face = page.locator(".hitsim-chart-paper").first
        family = face.locator(".field", has_text="Last name").locator(".value").inner_text()
        dob = face.locator(".field", has_text="Date of birth").locator(".value").inner_text()
        page.get_by_label("Last name", exact=True).fill(family)
        page.get_by_label("Date of birth", exact=True).fill(dob)
        page.get_by_label("Date of birth", exact=True).press("Tab")
        expect(saved).to_be_visible()
        expect(page.get_by_text("DOB ")).to_be_visible()

        page.get_by_role("tab", name="Encounters").click()
        page.get_by_label("Visit date", exact=True).fill("03/04/2025")
        page.get_by_label("Visit date", exact=True).press("Tab")
        pick("Class", "Ambulatory (office)")
        page.get_by_label("Reason for visit (chief complaint)").fill("f/u HTN")
        page.get_by_label("Reason for visit (chief complaint)").press("Tab")

        page.get_by_role("tab", name="Problem list").click()
        pick("Problem", "Essential hypertension", "Essential hyper")

        page.get_by_role("tab", name="Medications").click()
        pick("Medication", "lisinopril", "lisino")
        page.get_by_label("Strength", exact=True).fill("10 mg")
        page.get_by_label("Strength", exact=True).press("Tab")

        page.get_by_role("tab", name="Vital signs").last.click()  # the first is the paper chart's
        page.get_by_label("Pulse", exact=True).fill("72")
        page.get_by_label("Pulse", exact=True).press("Tab")
        expect(saved).to_be_visible()
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "workspace.png"), full_page=True)

        # Send the visit to coding and assign two codes: one typed, one found with the encoder.
        page.get_by_role("tab", name="Coding").click()
        page.get_by_role("button", name="Send to coding").click()
        page.get_by_role("dialog").get_by_role("button", name="Send to coding").click()  # it asks first
        expect(page.get_by_text("sent to coding", exact=True)).to_be_visible()
        page.get_by_label("Add diagnosis code").fill("i10")
        page.get_by_label("Add diagnosis code").press("Enter")
        expect(page.get_by_text("Essential (primary) hypertension")).to_be_visible()
        page.get_by_label("Search codes").fill("office visit established moderate")
        page.get_by_label("Search codes").press("Enter")
        page.get_by_role("button", name="Add").first.click()
        expect(page.get_by_text("Office visit, established patient, moderate decision making").last).to_be_visible()
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "coding.png"), full_page=True)

        page.get_by_role("button", name="Submit for grading").click()
        page.get_by_role("button", name="Submit", exact=True).click()
        expect(page.get_by_text("out of 100")).to_be_visible(timeout=15_000)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        score = float(page.locator(".text-h3").first.inner_text())
        assert 0 < score < 100
        browser.close()


def test_a_verify_report_opens_with_the_planted_errors_caught_in_chromium(demo_server):
    from playwright.sync_api import expect, sync_playwright

    base, passwords, _ = demo_server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(base + "/")
        page.get_by_label("Username").fill("student")
        page.get_by_label("Password").fill(passwords["student"])
        page.get_by_role("button", name="Sign in").click()
        start_from_card(page, DEMO_VERIFY_ASSIGNMENT)  # the clerk's record, errors included
        expect(page.get_by_text("Patient registration")).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="Submit for grading").click()
        page.get_by_role("button", name="Submit", exact=True).click()
        expect(page.get_by_text("out of 100")).to_be_visible(timeout=15_000)
        expect(page.get_by_text(re.compile(r"You caught 0 of \d+ planted errors"))).to_be_visible()
        expect(page.get_by_text("Missed:").first).to_be_visible()
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "verify-report.png"), full_page=False)
        browser.close()
