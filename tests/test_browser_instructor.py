"""The instructor's journey in a real Chromium: assign from the library, a student submits, the score is in the gradebook."""

from __future__ import annotations

import re

from tests.browser_steps import ARTIFACTS, launch, pytestmark, sign_in, start_from_card  # noqa: F401  (marks)

TITLE = "Adult primary care: two follow-up visits"


def test_instructor_assigns_from_the_library_and_sees_the_students_score_in_chromium(demo_server):
    from playwright.sync_api import expect, sync_playwright

    base, passwords, _ = demo_server
    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=20_000)  # generating charts on a shared 2-core machine takes seconds
    with sync_playwright() as p:
        browser, student_browser = launch(p), launch(p)  # one browser each: neither tab is in the background
        teacher = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
        sign_in(teacher, base, "instructor", passwords["instructor"])
        expect(teacher.get_by_text("Your classes")).to_be_visible()
        teacher.get_by_role("button", name="Scenario library").click()
        expect(teacher.get_by_text("Diabetes with complications")).to_be_visible()
        teacher.screenshot(path=str(ARTIFACTS / "instructor-library.png"))
        card = teacher.locator(".q-card", has_text=TITLE)
        card.get_by_role("button", name="Preview").click()
        expect(teacher.get_by_text("Answer key", exact=True)).to_be_visible()
        teacher.wait_for_timeout(300)
        teacher.screenshot(path=str(ARTIFACTS / "instructor-preview.png"))
        teacher.goto(base + "/library")
        teacher.locator(".q-card", has_text=TITLE).get_by_role("button", name="Assign").click()
        expect(teacher.get_by_text("New assignment").first).to_be_visible()
        expect(teacher.get_by_label("Title students see")).to_have_value(TITLE)
        teacher.get_by_label("Due (UTC)").fill("2030-03-20T23:59")
        teacher.get_by_label("Opens (UTC; empty: now)").fill("2030-03-25T08:00")
        teacher.get_by_role("button", name="Create assignment").click()
        expect(teacher.get_by_text("Due date: must be after the open date").first).to_be_visible()
        teacher.screenshot(path=str(ARTIFACTS / "instructor-assign-error.png"))
        teacher.get_by_label("Opens (UTC; empty: now)").fill("")
        teacher.get_by_label("Attempts allowed").fill("2")
        teacher.get_by_role("button", name="Create assignment").click()
        expect(teacher.get_by_text(re.compile(r"2 charts ready"))).to_be_visible(timeout=180_000)  # a worker process
        teacher.screenshot(path=str(ARTIFACTS / "instructor-assignment.png"))
        assignment_url = teacher.url.split("?")[0]

        student = student_browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
        sign_in(student, base, "student", passwords["student"])
        start_from_card(student, TITLE)
        expect(student.get_by_text("Electronic health record")).to_be_visible(timeout=20_000)
        student.get_by_role("button", name="Got it").click()  # a fresh attempt opens with the instructions
        face = student.locator(".hitsim-chart-paper").first
        family = face.locator(".field", has_text="Last name").locator(".value").inner_text()
        student.get_by_label("Last name", exact=True).fill(family)
        student.get_by_label("Last name", exact=True).press("Tab")
        expect(student.locator(".text-positive").filter(has_text="All changes saved at")).to_be_visible()
        student.get_by_role("button", name="Submit for grading").click()
        student.get_by_role("button", name="Submit", exact=True).click()
        expect(student.get_by_text("out of 100")).to_be_visible(timeout=20_000)
        score = student.locator(".text-h3").first.inner_text()
        assert 0 < float(score) < 100

        teacher = teacher.context.new_page()  # the instructor's second tab (same session)
        teacher.goto(base + "/")
        teacher.get_by_role("link", name="Gradebook").first.click()
        expect(teacher.get_by_text("Gradebook: HIT 101")).to_be_visible()
        cell = teacher.locator("td", has_text=score).first
        expect(cell).to_be_visible()
        teacher.screenshot(path=str(ARTIFACTS / "instructor-gradebook.png"))
        cell.get_by_role("link").click()
        expect(teacher.get_by_text("Change the score")).to_be_visible()
        teacher.screenshot(path=str(ARTIFACTS / "instructor-review.png"))
        teacher.goto(assignment_url)
        expect(teacher.get_by_text("Item analysis: what the class missed most")).to_be_visible()
        teacher.get_by_text("Item analysis: what the class missed most").scroll_into_view_if_needed()
        teacher.wait_for_timeout(500)
        teacher.screenshot(path=str(ARTIFACTS / "instructor-item-analysis.png"), full_page=True)
        student_browser.close()
        browser.close()
