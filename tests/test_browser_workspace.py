"""The workspace as a student meets it on a laptop and a desktop, in a real Chromium: keyboard, layout,
confirmations, honest saving, review versus a new attempt. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import os
import re

import pytest

from tests.test_browser import ARTIFACTS, CHROMIUM, launch

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="browser tests need Debian's chromium"),
]

SIZES = {"laptop": (1366, 768), "desktop": (1920, 1080)}


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(250)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def sign_in(page, base: str, password: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Username").fill("student")
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")


@pytest.mark.parametrize("size", SIZES)
def test_a_student_works_by_keyboard_on_a_laptop_and_a_desktop(demo_server, size):
    from playwright.sync_api import expect, sync_playwright

    base, passwords, proc = demo_server
    width, height = SIZES[size]
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(30_000)  # the machine is shared: generous waits, no timing asserted
        expect.set_options(timeout=30_000)
        sign_in(page, base, passwords["student"])
        # Starting an attempt asks first and says how many remain.
        page.get_by_role("button", name="Start").first.click()
        expect(page.get_by_text("Start attempt 1 of 2?")).to_be_visible()
        expect(page.get_by_text("This uses one attempt; 1 will be left after it.")).to_be_visible()
        page.get_by_role("button", name="Start attempt 1").click()
        # A fresh attempt opens with the instructions.
        expect(page.get_by_text("How this assignment works")).to_be_visible()
        expect(page.get_by_text("Visit diagnoses", exact=True)).to_be_visible()
        shot(page, f"ws-{size}-instructions")
        page.get_by_role("button", name="Got it").click()
        saved = page.locator(".hitsim-save-status")

        # Every EHR tab is on screen (they wrap; no chevrons hide them), and Submit is above the record.
        panel = page.locator(".hitsim-workspace .q-splitter__after").bounding_box()
        for name in ("Demographics", "Encounters", "Problem list", "Medications", "Allergies", "Lab results",
                     "Procedures", "Notes", "Coding", "FHIR view"):
            box = page.get_by_role("tab", name=name, exact=True).last.bounding_box()
            assert box is not None and box["x"] >= panel["x"] - 1 and box["x"] + box["width"] <= panel["x"] + panel[
                "width"] + 1, f"{name} tab is off screen at {size}"
        submit = page.get_by_role("button", name="Submit for grading").bounding_box()
        tabs = page.locator("[role=tablist]").last.bounding_box()
        assert submit["y"] + submit["height"] <= tabs["y"], "Submit must not cover the record"
        assert page.locator(".q-tabs__arrow:visible").count() == 0

        # Type-ahead in a pick-list, the chart's own date format, and Tab skipping the clear (x) buttons.
        page.get_by_label("Date of birth", exact=True).fill("13 May 1991")
        page.get_by_label("Date of birth", exact=True).press("Tab")
        expect(page.get_by_text("DOB 05/13/1991")).to_be_visible()
        page.get_by_label("Sex", exact=True).focus()
        page.keyboard.press("m")  # type-ahead: M picks Male, F then Female
        expect(page.get_by_text("Sex Male")).to_be_visible()
        page.wait_for_timeout(1100)  # a new word after a pause, as in any type-ahead list
        page.keyboard.press("f")
        expect(page.get_by_text("Sex Female")).to_be_visible()
        page.get_by_label("Sex", exact=True).focus()
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.classList.contains('q-field__focusable-action')") is False
        assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Street address"
        expect(saved).to_have_text(re.compile("All changes saved at"))
        shot(page, f"ws-{size}-demographics")

        # Enter in a pick-list picks; it does not add a row.
        page.get_by_role("tab", name="Encounters").click()
        page.get_by_label("Visit date", exact=True).fill("1 Oct 2022")
        page.get_by_label("Visit date", exact=True).press("Tab")
        page.keyboard.press("Tab")  # Time in -> Class
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        expect(page.locator(".hitsim-entry-row")).to_have_count(1)
        expect(page.get_by_label("Class", exact=True).locator("xpath=ancestor::label")).to_contain_text("Ambulatory")
        # Tab after the row's last field, then Enter, never deletes the saved row.
        page.get_by_label("Reason for visit (chief complaint)").fill("f/u HTN")
        page.get_by_label("Reason for visit (chief complaint)").press("Tab")
        page.keyboard.press("Enter")
        expect(page.get_by_text("Delete this encounter entry?")).to_have_count(0)
        expect(page.get_by_label("Visit date", exact=True).first).to_have_value("1 Oct 2022")
        # Deleting asks first.
        page.locator(".hitsim-entry-row").first.locator("button:has-text('delete_outline')").click()
        expect(page.get_by_text("Delete this encounter entry?")).to_be_visible()
        page.get_by_role("button", name="Keep it").click()
        expect(page.get_by_label("Visit date", exact=True).first).to_have_value("1 Oct 2022")
        shot(page, f"ws-{size}-encounters")

        # Labs: a searchable test list; the unit (UCUM, shown as the chart prints it) and range come from the test.
        page.get_by_role("tab", name="Lab results").last.click()
        page.get_by_label("Visit", exact=True).last.click()
        page.get_by_role("option", name=re.compile("Visit 1")).click()
        page.get_by_label("Test", exact=True).last.click()
        page.keyboard.type("egfr")
        page.get_by_role("option", name="eGFR (CKD-EPI 2021)").click()
        expect(page.get_by_label("Unit", exact=True).last.locator("xpath=ancestor::label")).to_contain_text(
            "mL/min/1.73m²")
        expect(page.get_by_label("Reference range", exact=True).last).to_have_value("60-120 mL/min/1.73m²")
        page.get_by_label("Result", exact=True).last.fill("52")
        page.get_by_label("Result", exact=True).last.press("Enter")  # a new row, with the same visit
        expect(page.get_by_label("Visit", exact=True).last.locator("xpath=ancestor::label")).to_contain_text("Visit 1")
        expect(saved).to_have_text(re.compile("All changes saved at"))
        shot(page, f"ws-{size}-labs")

        # Send to coding asks first, saying what it does.
        page.get_by_role("tab", name="Coding").click()
        page.get_by_role("button", name="Send to coding").click()
        expect(page.get_by_text("Only your instructor can reopen it")).to_be_visible()
        shot(page, f"ws-{size}-send-to-coding")
        page.get_by_role("button", name="Not yet").click()
        expect(page.get_by_text("Entry in progress")).to_be_visible()
        page.get_by_role("button", name="Send to coding").first.click()
        page.get_by_role("dialog").get_by_role("button", name="Send to coding").last.click()
        expect(page.get_by_text("sent to coding", exact=True)).to_be_visible()
        page.get_by_label("Add diagnosis code").fill("i10")
        page.get_by_label("Add diagnosis code").press("Enter")
        page.get_by_label("Add service code").fill("99213")
        page.get_by_label("Add service code").press("Enter")
        expect(page.get_by_text("Essential (primary) hypertension")).to_be_visible()
        shot(page, f"ws-{size}-coding")

        # The FHIR view shows what was entered, read-only.
        page.get_by_role("tab", name="FHIR view").click()
        page.get_by_text("Observation (1)").click()
        expect(page.get_by_text('"mL/min/{1.73_m2}"').first).to_be_visible()
        shot(page, f"ws-{size}-fhir")

        # Submit; the list shows the score; Review opens the report, another attempt is a separate action.
        page.get_by_role("button", name="Submit for grading").click()
        page.get_by_role("button", name="Submit", exact=True).click()
        expect(page.get_by_text("out of 100")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("The expected codes are not shown yet")).to_be_visible()
        shot(page, f"ws-{size}-report")
        page.goto(base + "/")
        expect(page.get_by_text(re.compile(r"\d+\.\d / 100")).first).to_be_visible()
        shot(page, f"ws-{size}-assignments")
        page.get_by_role("button", name="Review").first.click()
        expect(page.get_by_text("out of 100")).to_be_visible()
        assert re.search(r"/attempt/\d+/report$", page.url)
        page.goto(base + "/")
        page.get_by_role("button", name="Start attempt 2").first.click()
        expect(page.get_by_text("This is your last attempt.")).to_be_visible()
        page.get_by_role("button", name="Start attempt 2").last.click()
        expect(page.get_by_text("Attempt 2 of 2")).to_be_visible()
        page.get_by_role("button", name="Got it").click()

        # The server dies: the indicator stops saying saved.
        page.get_by_label("Last name", exact=True).fill("Young")
        page.get_by_label("Last name", exact=True).press("Tab")
        expect(saved).to_have_text(re.compile("All changes saved at"))
        proc.terminate()
        proc.wait(timeout=10)
        expect(saved).to_have_text(re.compile("connection to the server is lost"), timeout=20_000)
        shot(page, f"ws-{size}-server-gone")
        browser.close()
