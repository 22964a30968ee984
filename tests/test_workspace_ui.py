"""The student's journey through NiceGUI's simulated user: enter, autosave, bad input, reopen, submit."""

from __future__ import annotations

import asyncio

import pytest
from nicegui import ui
from nicegui.testing import User
from nicegui.testing.user_interaction import UserInteraction

from simulator.services import accounts, workspace
from simulator.services.demo import DEMO_ASSIGNMENT, DEMO_VERIFY_ASSIGNMENT, seed_demo
from tests.conftest import until_signed_in_or_refused
from tests.ui_steps import open_or_start


@pytest.fixture
def demo(app_store):
    return seed_demo(app_store)


async def sign_in(user: User, demo, username: str) -> None:
    await user.open("/login")
    user.find(marker="username").type(username)
    user.find(marker="password").type(demo.new_passwords[username])
    user.find(marker="sign-in").click()
    await until_signed_in_or_refused(user)


async def open_workspace(user: User, demo, username: str = "student") -> None:
    """Open the first assignment: continue the attempt in progress, or start the first one (which asks first)."""
    await sign_in(user, demo, username)
    await user.should_see(DEMO_ASSIGNMENT, retries=50)  # signing in hashes a password: slow on a busy machine
    await open_assignment(user, "open-1")


async def open_assignment(user: User, marker: str) -> None:
    await open_or_start(user, marker)
    await user.should_see(marker="ehr-tabs")
    if list(user.find(marker="close-instructions").elements):
        user.find(marker="close-instructions").click()


async def add_visit(user: User, day: str = "03/04/2025") -> None:
    """Enter a visit's date on the Encounters tab and wait until it is saved."""
    user.find(marker="ehr-tab-encounters").click()
    user.find(marker="encounters-date").type(day).trigger("blur")
    await user.should_see("All changes saved at")


def value_of(user: User, marker: str):
    elements = list(user.find(marker=marker).elements)
    assert len(elements) == 1, f"{marker}: {len(elements)} elements"
    return elements[0].value


def saved(app_store, demo) -> workspace.WorkspaceView:
    student = accounts.authenticate(app_store, username="student", password=demo.new_passwords["student"])
    return workspace.load_workspace(app_store, user=student, attempt_id=1)


def pick(user: User, marker: str, option: str) -> None:
    """Open a pick-list and choose an option by the words it shows (the chart may show the same words)."""
    select = user.find(marker=marker)
    select.click()
    UserInteraction(user, select.elements, option).click()


async def test_demographics_are_saved_as_typed_and_survive_reopening(demo, app_store, user: User):
    await open_workspace(user, demo)
    await user.should_see("Nothing entered yet")
    user.find(marker="demographics-family").type("Young").trigger("blur")
    user.find(marker="demographics-birth_date").type("10/20/1942").trigger("blur")
    await user.should_see("All changes saved at")
    patient = saved(app_store, demo).of("Patient")[0].resource
    assert patient["name"][0]["family"] == "Young" and patient["birthDate"] == "1942-10-20"
    await user.open("/attempt/1")
    await user.should_see(marker="ehr-tabs")
    assert value_of(user, "demographics-family") == "Young"
    assert value_of(user, "demographics-birth_date") == "10/20/1942"
    await user.should_see("DOB 10/20/1942")


async def test_a_bad_date_of_birth_is_explained_at_the_field_and_the_saved_one_is_kept(demo, app_store, user: User):
    await open_workspace(user, demo)
    user.find(marker="demographics-birth_date").type("10/20/1942").trigger("blur")
    await user.should_see("All changes saved at")
    user.find(marker="demographics-birth_date").clear().type("02/30/1980").trigger("blur")
    await user.should_see("Date of birth: 02/30/1980 is not a date")
    assert saved(app_store, demo).of("Patient")[0].resource["birthDate"] == "1942-10-20"
    user.find(marker="demographics-birth_date").clear().type("01/01/2099").trigger("blur")
    await user.should_see("Date of birth: 01/01/2099 is in the future")
    assert saved(app_store, demo).of("Patient")[0].resource["birthDate"] == "1942-10-20"


async def test_encounter_problem_medication_allergy_and_vital_are_saved(demo, app_store, user: User):
    await open_workspace(user, demo)
    await add_visit(user)
    pick(user, "encounters-class", "Ambulatory (office)")
    user.find(marker="encounters-reason").type("f/u HTN").trigger("blur")
    user.find(marker="ehr-tab-problems").click()
    pick(user, "problems-problem", "Essential hypertension")
    user.find(marker="ehr-tab-medications").click()
    pick(user, "medications-drug", "lisinopril")
    user.find(marker="medications-strength").type("10 mg").trigger("blur")
    user.find(marker="ehr-tab-allergies").click()
    pick(user, "allergies-substance", "penicillin")
    user.find(marker="ehr-tab-vitals").click()
    user.find(marker="vital-pulse").type("72").trigger("blur")
    await user.should_see("Allergies: penicillin")
    await eventually(lambda: saved(app_store, demo).of("Observation") and "reasonCode" in
                     saved(app_store, demo).of("Encounter")[0].resource)  # the last saves run a moment after the typing
    view = saved(app_store, demo)
    encounter = view.of("Encounter")[0].resource
    assert encounter["period"]["start"] == "2025-03-04" and encounter["class"]["code"] == "AMB"
    assert encounter["reasonCode"][0]["text"] == "f/u HTN"
    assert view.of("Condition")[0].resource["code"]["coding"][0]["code"] == "I10"
    med = view.of("MedicationRequest")[0].resource
    assert med["medicationCodeableConcept"]["text"] == "lisinopril 10 mg tablet"
    assert view.of("AllergyIntolerance")[0].resource["code"]["text"] == "penicillin"
    pulse = view.of("Observation")[0].resource
    assert pulse["valueQuantity"]["value"] == 72 and pulse["encounter"]["reference"] == f"Encounter/{encounter['id']}"


async def eventually(check, seconds: float = 15.0) -> None:
    for _ in range(int(seconds / 0.1)):
        if check():
            return
        await asyncio.sleep(0.1)
    assert check()


async def test_a_field_left_empty_shows_the_default_the_record_saved(demo, app_store, user: User):
    """A note saved without a type is a progress note: the row says so instead of an empty pick-list."""
    await open_workspace(user, demo)
    await add_visit(user)
    user.find(marker="ehr-tab-notes").click()
    pick(user, "notes-visit", "Visit 1: 03/04/2025")
    user.find(marker="notes-text").type("Seen for follow-up.").trigger("blur")
    await eventually(lambda: saved(app_store, demo).of("DocumentReference"))
    await eventually(lambda: value_of(user, "notes-type") == "11506-3")
    note = saved(app_store, demo).of("DocumentReference")[0].resource
    assert note["type"]["coding"][0]["code"] == "11506-3"


async def test_vitals_need_a_visit_and_an_extreme_value_asks_first(demo, app_store, user: User):
    await open_workspace(user, demo)
    user.find(marker="ehr-tab-vitals").click()
    await user.should_see(marker="vitals-need-visits")
    await add_visit(user)
    user.find(marker="ehr-tab-vitals").click()
    user.find(marker="vital-bp").type("400/20").trigger("blur")
    await user.should_see("Are you sure?")
    assert saved(app_store, demo).of("Observation") == []
    user.find(marker="confirm-keep").click()
    await user.should_see("All changes saved at")
    bp = saved(app_store, demo).of("Observation")[0].resource
    assert [c["valueQuantity"]["value"] for c in bp["component"]] == [400, 20]


async def test_script_in_free_text_is_stored_and_shown_as_text(demo, app_store, user: User):
    await open_workspace(user, demo)
    user.find(marker="demographics-family").type("<script>alert(1)</script>").trigger("blur")
    await user.should_see("All changes saved at")
    await user.should_see("<script>alert(1)</script>")  # the banner shows it as text
    assert saved(app_store, demo).of("Patient")[0].resource["name"][0]["family"] == "<script>alert(1)</script>"


async def test_submit_grades_the_record_and_shows_the_report(demo, app_store, user: User):
    await open_workspace(user, demo)
    user.find(marker="demographics-family").type("Young").trigger("blur")
    await user.should_see("All changes saved at")
    user.find(marker="submit").click()
    user.find(marker="confirm-submit").click()
    await user.should_see(marker="score", retries=100)  # grading takes a moment
    await user.should_see("out of 100")
    await user.should_see(marker="finding")
    report = workspace.grade_report(app_store, user=accounts.authenticate(
        app_store, username="student", password=demo.new_passwords["student"]), attempt_id=1)
    assert report is not None and report["score"] < 50
    await user.open("/attempt/1")
    await user.should_see("graded")
    await user.should_not_see(marker="submit")
    # each finding links to its section of the record: the record opens at that tab
    await user.open("/attempt/1/report")
    links = [e.props["href"] for e in user.find(marker="finding-link").elements]
    assert "/attempt/1?tab=demographics" in links and "/attempt/1?tab=problems" in links
    await user.open("/attempt/1?tab=problems")
    shown = [getattr(e.value, "_props", {}).get("name", e.value) for e in user.find(ui.tab_panels).elements]
    assert "problems" in shown and "demographics" not in shown  # the record's tabs open at the problem list


async def test_another_student_cannot_open_the_report_or_the_workspace(demo, create_user):
    ann, ben = create_user(), create_user()
    await open_workspace(ann, demo)
    await open_workspace(ben, demo, "student2")
    await ben.open("/attempt/1/report")
    await ben.should_see("No such attempt among the ones you may open.")
    await ben.open("/attempt/1")
    await ben.should_see("No such attempt among the ones you may open.")
    await ben.should_not_see(marker="ehr-tabs")


async def test_two_tabs_cannot_silently_overwrite_each_other(demo, app_store, create_user):
    tab_a, tab_b = create_user(), create_user()
    await open_workspace(tab_a, demo)
    tab_a.find(marker="demographics-family").type("Alpha").trigger("blur")
    await tab_a.should_see("All changes saved at")
    await open_workspace(tab_b, demo)
    assert value_of(tab_b, "demographics-family") == "Alpha"
    tab_a.find(marker="demographics-family").clear().type("Alpha2").trigger("blur")
    await tab_a.should_see("All changes saved at")
    tab_b.find(marker="demographics-family").clear().type("Beta").trigger("blur")
    await tab_b.should_see("changed in another tab or window")
    assert value_of(tab_b, "demographics-family") == "Alpha2"
    assert saved(app_store, demo).of("Patient")[0].resource["name"][0]["family"] == "Alpha2"


async def test_coding_journey_send_to_coding_search_and_assign_codes(demo, app_store, user: User):
    await open_workspace(user, demo)
    await add_visit(user)
    user.find(marker="ehr-tab-coding").click()
    await user.should_see("Finish entering this visit, then send it to coding.")
    user.find(marker="send-to-coding").click()
    user.find(marker="confirm-send-to-coding").click()
    await user.should_see(marker="sent-badge")
    # The visit's entry is now read-only, on the server too.
    user.find(marker="ehr-tab-encounters").click()
    assert not list(user.find(marker="encounters-date").elements)[0].enabled
    # Type codes straight onto the claim: harmless forms are normalised, bad ones refused with the reason.
    user.find(marker="ehr-tab-coding").click()
    user.find(marker="add-dx").type("E11.2").trigger("keydown.enter")
    await user.should_see("E11.2 is a category header, not billable")
    user.find(marker="add-dx").clear().type("E11.2.2").trigger("keydown.enter")
    await user.should_see("E11.2.2 is not an ICD-10-CM code")
    user.find(marker="add-dx").clear().type("i10").trigger("keydown.enter")
    await user.should_see("Essential (primary) hypertension")
    # Find a code with the encoder and add it.
    user.find(marker="encoder-search").type("dm2 ckd").trigger("keydown.enter")
    await user.should_see(marker="encoder-add-E11.22")
    user.find(marker="encoder-add-E11.22").click()
    user.find(marker="add-service").type("99214").trigger("keydown.enter")
    await user.should_see("Office visit, established patient, moderate decision making")
    claim = saved(app_store, demo).of("Claim")[0].resource
    assert [d["diagnosisCodeableConcept"]["coding"][0]["code"] for d in claim["diagnosis"]] == ["I10", "E11.22"]
    assert claim["item"][0]["productOrService"]["coding"][0]["code"] == "99214"
    assert claim["item"][0]["diagnosisSequence"] == [1]


async def test_the_instructor_sees_each_students_score_and_reads_the_report(demo, app_store, create_user):
    student, teacher = create_user(), create_user()
    await open_workspace(student, demo)
    student.find(marker="demographics-family").type("Young").trigger("blur")
    await student.should_see("All changes saved at")
    student.find(marker="submit").click()
    student.find(marker="confirm-submit").click()
    await student.should_see(marker="score", retries=100)
    await sign_in(teacher, demo, "instructor")
    await teacher.should_see(marker="progress-student")
    await teacher.should_see("graded")
    await teacher.should_see("not started")  # student2
    teacher.find(marker="report-link").click()
    await teacher.should_see("Points by section")
    await teacher.should_see("out of 100")


async def test_the_instructor_reopens_a_visit_sent_to_coding(demo, app_store, create_user):
    student, teacher = create_user(), create_user()
    await open_workspace(student, demo)
    student.find(marker="ehr-tab-encounters").click()
    student.find(marker="encounters-date").type("03/04/2025").trigger("blur")
    await student.should_see("All changes saved at")
    student.find(marker="ehr-tab-coding").click()
    student.find(marker="send-to-coding").click()
    student.find(marker="confirm-send-to-coding").click()
    await student.should_see(marker="sent-badge")
    await sign_in(teacher, demo, "instructor")
    await teacher.should_see("Your classes")
    await teacher.open("/attempt/1")
    teacher.find(marker="ehr-tab-coding").click()
    teacher.find(marker="reopen-entry").click()
    await teacher.should_see("The visit is open for entry again")
    encounter = saved(app_store, demo).of("Encounter")[0].resource
    assert not workspace.is_sent_to_coding(encounter)


async def test_a_case_with_several_patients_gets_a_record_per_patient(demo, app_store, user: User):
    from simulator.generate import load_scenario
    from simulator.services import assignments

    teacher = accounts.authenticate(app_store, username="instructor", password=demo.new_passwords["instructor"])
    sick = assignments.create_assignment(app_store, user=teacher, class_id=1, title="Sick visits", due_at=None,
                                         scenario=load_scenario("acute-office-visits"))
    await sign_in(user, demo, "student")
    await user.should_see("Sick visits")
    await open_assignment(user, f"open-{sick}")
    await user.should_see("This case has several patients")
    user.find(marker="demographics-family").type("Alpha").trigger("blur")
    await user.should_see("All changes saved at")
    user.find(marker="new-patient").click()
    await user.should_see("New patient (saved once you type)")
    user.find(marker="demographics-family").type("Beta").trigger("blur")
    await user.should_see("All changes saved at")
    student = accounts.authenticate(app_store, username="student", password=demo.new_passwords["student"])
    attempt = assignments.open_assignment(app_store, user=student, assignment_id=sick)
    view = workspace.load_workspace(app_store, user=student, attempt_id=attempt)
    assert sorted(p.resource["name"][0]["family"] for p in view.of("Patient")) == ["Alpha", "Beta"]


async def test_a_verify_report_says_how_many_planted_errors_were_caught(demo, app_store, user: User):
    await sign_in(user, demo, "student")
    await user.should_see(DEMO_VERIFY_ASSIGNMENT, retries=50)
    await open_or_start(user, "open-2")  # the verify assignment: the clerk's record, errors included
    await user.should_see(marker="submit", retries=40)
    user.find(marker="submit").click()
    user.find(marker="confirm-submit").click()
    await user.should_see(marker="verify-summary", retries=20)
    await user.should_see("planted errors")
    await user.should_see("Missed:")


async def test_printing_the_record_asks_why_and_is_recorded_in_the_audit_trail(demo, app_store, user: User):
    from simulator.audit import trail
    from simulator.audit.events import read_access

    await open_workspace(user, demo)
    user.find(marker="open-print").click()
    await user.should_see("Every print of a patient's record is recorded")
    user.find(marker="confirm-print").click()
    await user.should_see("Reason for printing: choose one of treatment")  # at the field, nothing recorded
    assert not [e for e in trail.trail_events(app_store) if read_access(e).activity == "print"]
    pick(user, "print-purpose", "Patient request")
    user.find(marker="confirm-print").click()
    for _ in range(50):
        printed = [read_access(e) for e in trail.trail_events(app_store) if read_access(e).activity == "print"]
        if printed:
            break
        await asyncio.sleep(0.1)  # the print is recorded off the event loop
    assert [(p.user_id, p.purpose) for p in printed] == [("student", "PATRQT")]
