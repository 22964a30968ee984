"""The consistency report through NiceGUI's simulated user: side-by-side visits, filters, records that
autosave, bad input refused at the field, and the graded section after submitting."""

from __future__ import annotations

import pytest
from nicegui.testing import User
from nicegui.testing.user_interaction import UserInteraction

from simulator.generate.scenario import load_scenario
from simulator.services import accounts, assignments, consistency
from simulator.services.demo import DEMO_CLASS, seed_demo
from simulator.store import repo
from tests.conftest import until_signed_in_or_refused
from tests.ui_steps import open_or_start

TITLE = "Consistency report: a year of visits"


@pytest.fixture
def setup(app_store):
    demo = seed_demo(app_store)
    instructor = accounts.authenticate(app_store, username="instructor", password=demo.new_passwords["instructor"])
    with app_store.session() as s:
        class_id = repo.find_class(s, name=DEMO_CLASS, instructor_id=instructor.id).id
    assignment_id = assignments.create_assignment(
        app_store, user=instructor, class_id=class_id, scenario=load_scenario("consistency-duplicate-chart"),
        title=TITLE, due_at=None, attempts_allowed=2)
    return demo, assignment_id


async def open_report(user: User, setup) -> None:
    demo, assignment_id = setup
    await user.open("/login")
    user.find(marker="username").type("student")
    user.find(marker="password").type(demo.new_passwords["student"])
    user.find(marker="sign-in").click()
    await until_signed_in_or_refused(user)
    await user.should_see(TITLE, retries=50)  # signing in hashes a password: slow on a busy machine
    await open_or_start(user, f"open-{assignment_id}")
    await user.should_see(marker="visit-table-html", retries=100)


def only(user: User, marker: str):
    elements = list(user.find(marker=marker).elements)
    assert len(elements) == 1, f"{marker}: {len(elements)} elements"
    return elements[0]


def pick(user: User, marker: str, option: str, nth: int = -1) -> None:
    select = user.find(marker=marker)
    elements = list(select.elements)
    target = elements[nth]
    UserInteraction(user, {target}, None).click()
    UserInteraction(user, {target}, option).click()


def several_visits(user: User, view):
    """Show a patient with a second visit (the seed is random per assignment: some charts hold one visit only)."""
    chart = next(c for c in view.charts if len(c.visits) > 1)
    if chart is not view.charts[0]:
        pick(user, "patient-filter", chart_option(chart))
    return chart


def chart_option(chart) -> str:
    return f"{chart.label} · {len(chart.visits)} visits"


def student_view(app_store, setup):
    demo, _ = setup
    student = accounts.authenticate(app_store, username="student", password=demo.new_passwords["student"])
    return student, consistency.load_report(app_store, user=student, attempt_id=1)


async def test_every_visit_of_a_patient_side_by_side_with_changes_marked(setup, app_store, user: User):
    await open_report(user, setup)
    _, view = student_view(app_store, setup)
    chart = view.charts[0]
    table = only(user, "visit-table-html").content
    for v in chart.visits:
        assert f"Visit {v.number}<br>" in table and f"{v.date:%m/%d/%Y}" in table
    for section in ("Demographics", "Problem list", "Medications", "Allergies", "Vital signs", "Diagnoses and note"):
        assert section in table
    # Somewhere in the record a change from one visit to the next is marked.
    marked = False
    for c in view.charts:
        pick(user, "patient-filter", chart_option(c))
        marked = marked or "class='cr-changed'" in only(user, "visit-table-html").content
    assert marked


async def test_filters_by_patient_and_by_section(setup, app_store, user: User):
    await open_report(user, setup)
    _, view = student_view(app_store, setup)
    second = view.charts[1]
    pick(user, "patient-filter", chart_option(second))
    table = only(user, "visit-table-html").content
    assert second.label in table and view.charts[0].label not in table
    for key in ("demographics", "problems", "medications", "allergies", "labs", "visit"):
        only(user, f"section-{key}").set_value(False)
    table = only(user, "visit-table-html").content
    assert "Vital signs" in table and "Problem list" not in table and "Date of birth" not in table
    only(user, "section-vitals").set_value(False)
    only(user, "section-demographics").set_value(True)
    only(user, "only-changes").set_value(True)
    table = only(user, "visit-table-html").content
    assert "Phone" not in table  # nobody's phone changes between visits


async def test_a_discrepancy_record_autosaves_with_category_visits_note_and_correction(setup, app_store, user: User):
    await open_report(user, setup)
    student, view = student_view(app_store, setup)
    chart = several_visits(user, view)
    user.find(marker="add-discrepancy").click()
    await user.should_see(marker="record-category")
    pick(user, "record-category", "Date of birth differs between visits")
    v2 = chart.visits[1]
    pick(user, "record-visits", f"Visit 2 · {v2.date:%m/%d/%Y}")
    user.find(marker="record-note").type("DOB typed two ways").trigger("blur")
    user.find(marker="record-correction").type("Correct visit 2 to match the ID").trigger("blur")
    await user.should_see("All changes saved at")
    (saved,) = consistency.load_report(app_store, user=student, attempt_id=1).records
    data = consistency.read_input(saved.resource)
    assert data.category == "dob-mismatch" and data.visits == (v2.encounter_id,)
    assert data.note == "DOB typed two ways" and data.correction == "Correct visit 2 to match the ID"
    # Reopening shows it again, with the patient it belongs to.
    await user.open("/attempt/1")
    await user.should_see(marker="discrepancy-record")
    assert only(user, "record-category").value == "dob-mismatch"
    assert only(user, "record-note").value == "DOB typed two ways"


async def test_a_record_without_category_or_visits_is_refused_at_the_field(setup, app_store, user: User):
    await open_report(user, setup)
    student, _ = student_view(app_store, setup)
    user.find(marker="add-discrepancy").click()
    user.find(marker="record-note").type("Something is off").trigger("blur")
    await user.should_see("Category: choose what kind of discrepancy this is")
    assert only(user, "record-category").error.startswith("Category:")
    pick(user, "record-category", "Implausible height loss")
    await user.should_see("Visits: choose at least one visit involved")
    assert only(user, "record-visits").error.startswith("Visits:")
    assert consistency.load_report(app_store, user=student, attempt_id=1).records == []


async def test_submitting_grades_the_consistency_section_by_f1_with_misses_explained(setup, app_store, user: User):
    await open_report(user, setup)
    student, view = student_view(app_store, setup)
    chart = several_visits(user, view)
    user.find(marker="add-discrepancy").click()
    pick(user, "record-category", "Implausible height loss")
    pick(user, "record-visits", f"Visit 2 · {chart.visits[1].date:%m/%d/%Y}")
    await user.should_see("All changes saved at")
    user.find(marker="submit").click()
    user.find(marker="confirm-submit").click()
    await user.should_see("Consistency report (found", retries=150)
    await user.should_see("Missed: ")
    await user.should_see("False alarm: ")
