"""The instructor's pages through NiceGUI's simulated `user`: each step, and who may reach which page."""

from __future__ import annotations

import csv
import io

import pytest
from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User

from simulator.services import accounts, assignments, classes, gradebook
from simulator.services.demo import seed_demo
from simulator.store import repo
from tests.test_instructor import submit
from tests.test_ui import sign_in as sign_in_form

INSTRUCTOR_PAGES = ["/library", "/library/preview?key=shipped:pediatric-clinic", "/library/edit?key=shipped:pediatric-clinic",
                    "/classes/new", "/classes/1", "/classes/1/gradebook", "/assign", "/assignments/1", "/review/1", "/admin"]


@pytest.fixture
def demo(app_store):
    return seed_demo(app_store)


async def sign_in(user: User, username: str, password: str) -> None:
    await sign_in_form(user, username, password)
    await user.should_see(marker="signed-in-as", retries=100)


def who(store, username):
    with store.session() as s:
        u = repo.get_user_by_username(s, username=username)
        return accounts.SignedInUser(u.id, u.username, u.display_name, u.role)


def value_of(user: User, marker: str):
    return next(iter(user.find(marker=marker).elements))


async def test_a_student_reaches_no_instructor_page_by_url(demo, app_store, user: User):
    submit(app_store, who(app_store, "student"), 1)
    await sign_in(user, "student", demo.new_passwords["student"])
    await user.should_see("Your assignments")
    await user.should_not_see(marker="nav-library")
    for path in INSTRUCTOR_PAGES:
        await user.open(path)
        await user.should_see(marker="error")
        await user.should_not_see(marker="answer-key")
        await user.should_not_see(marker="gradebook")


async def test_another_instructor_reaches_none_of_the_demo_class(demo, app_store, user: User):
    accounts.create_account(app_store, username="other", display_name="Other Teacher", role="instructor",
                            password="other-password-1")
    submit(app_store, who(app_store, "student"), 1)
    await sign_in(user, "other", "other-password-1")
    await user.should_see("You do not teach a class yet.")
    for path in ("/classes/1", "/classes/1/gradebook", "/assignments/1", "/review/1", "/admin"):
        await user.open(path)
        await user.should_see(marker="error")
        await user.should_not_see("Sam Student")


async def test_the_library_lists_previews_and_copies_a_scenario(demo, user: User):
    await sign_in(user, "instructor", demo.new_passwords["instructor"])
    user.find(marker="open-library").click()
    await user.should_see("Scenario library")
    for slug in ("diabetes-complications", "ed-fracture", "pediatric-clinic", "verify-registration"):
        await user.should_see(marker=f"scenario-{slug}")
    user.find(marker="preview-ed-fracture").click()
    await user.should_see("Sample seed 7007")
    await user.should_see(marker="answer-key")
    await user.should_see(marker="chart-tabs")
    await user.should_see("S52.53")  # the fracture's code is in the key the instructor reads
    await user.open("/library/edit?key=shipped:ed-fracture")
    await user.should_see("Copy and edit")
    value_of(user, "field-patients.visits").value = 5
    user.find(marker="save-scenario").click()
    await user.should_see("patients.visits: expected [min, max] with 1 <= min <= max <= 12, got [5, 1]")
    value_of(user, "field-patients.visits").value = 1
    user.find(marker="field-title").clear().type("My fracture case")
    user.find(marker="save-scenario").click()
    await user.should_see("Preview: My fracture case")


async def test_an_uploaded_scenario_with_a_bad_key_is_refused_with_the_key(demo, user: User):
    await sign_in(user, "instructor", demo.new_passwords["instructor"])
    await user.open("/library")
    upload = next(iter(user.find(ui.upload).elements))
    await upload.handle_uploads([SmallFileUpload("bad.toml", "text/plain", b'title = "x"\ndifficulty = "hard"\n')])
    await user.should_see("difficulty: expected one of introductory, intermediate, advanced, got 'hard'")


async def test_the_instructor_creates_a_class_and_adds_students(demo, app_store, user: User):
    await sign_in(user, "instructor", demo.new_passwords["instructor"])
    user.find(marker="new-class").click()
    await user.should_see(marker="class-name")
    user.find(marker="create-class").click()
    await user.should_see("Class name: required")
    user.find(marker="class-name").type("HIT 210 - Coding I")
    user.find(marker="class-term").type("Spring 2027")
    user.find(marker="create-class").click()
    await user.should_see("HIT 210 - Coding I (Spring 2027)")
    await user.should_see("0 enrolled")
    user.find(marker="student-name").type("Nia Park")
    user.find(marker="student-username").type("npark")
    user.find(marker="add-student-button").click()
    await user.should_see(marker="passwords")
    await user.should_see("Initial password for Nia Park")
    shown = next(iter(user.find(marker="passwords").elements)).default_slot.children[2].rows
    assert accounts.authenticate(app_store, username="npark", password=shown[0]["password"]) is not None
    upload = next(iter(user.find(marker="roster-upload").elements))
    roster = b"name,username,email\nOmar Diaz,odiaz,o@x.edu\n,nobody,n@x.edu\nOmar Twin,odiaz,t@x.edu\n\xff\xfe,bad,b@x.edu\n"
    await upload.handle_uploads([SmallFileUpload("roster.csv", "text/csv", roster)])
    await user.should_see("1 created, 0 already had an account, 3 refused", retries=100)
    await user.should_see("Row 3: empty name")
    await user.should_see("Row 4: duplicate username 'odiaz' (also on row 2)")
    await user.should_see("Row 5: not UTF-8 text")
    await user.should_see("2 enrolled")


async def test_an_assignment_form_refuses_a_due_date_before_the_open_date_then_creates_and_generates(demo, app_store,
                                                                                                  user: User):
    await sign_in(user, "instructor", demo.new_passwords["instructor"])
    await user.open("/assign?class_id=1&scenario=shipped:pediatric-clinic")
    await user.should_see("New assignment")
    assert value_of(user, "assign-title").value == "Pediatric clinic: checkups and sick visits"
    user.find(marker="assign-opens").type("2030-03-10T08:00")
    user.find(marker="assign-due").type("2030-03-01T23:59")
    user.find(marker="create-assignment").click()
    await user.should_see("Due date: must be after the open date")
    value_of(user, "assign-attempts").value = 0
    user.find(marker="assign-due").clear().type("2030-03-20T23:59")
    user.find(marker="create-assignment").click()
    await user.should_see("Attempts allowed: a whole number from 1 to 20")
    value_of(user, "assign-attempts").value = 3
    user.find(marker="assign-retry-same").click()
    user.find(marker="create-assignment").click()
    await user.should_see("A retry keeps the same chart")
    await user.should_see("charts ready (2 different patients)", retries=900)  # a worker process: slow to spawn when busy
    with app_store.session() as s:  # the demo's three assignments come first
        created = repo.find_assignment(s, class_id=1, title="Pediatric clinic: checkups and sick visits").id
    settings = assignments.assignment_settings(app_store, user=who(app_store, "instructor"), assignment_id=created)
    assert settings.retry_same_chart and settings.attempts_allowed == 3 and settings.opens_at.year == 2030


async def test_the_gradebook_shows_scores_filters_and_exports(demo, app_store, user: User):
    submit(app_store, who(app_store, "student"), 1)
    await sign_in(user, "instructor", demo.new_passwords["instructor"])
    user.find(marker="gradebook-1").click()
    await user.should_see("Gradebook: HIT 101")
    table = next(iter(user.find(marker="gradebook").elements))
    rows = {r["username"]: r for r in table.rows}
    assert rows["student"]["a1"] > 0 and rows["student"]["s1"] == "graded"
    assert rows["student2"]["a1"] is None and rows["student2"]["s1"] == "not started"
    value_of(user, "gradebook-status").value = "graded"
    assert [r["username"] for r in table.rows] == ["student"]
    value_of(user, "gradebook-status").value = "any status"
    user.find(marker="gradebook-filter").type("alex")
    assert [r["username"] for r in table.rows] == ["student2"]
    user.find(marker="export-canvas").click()
    response = await user.download.next()
    exported = list(csv.DictReader(io.StringIO(response.text)))
    assert exported[0]["Student"] == "Points Possible"
    assert {r["SIS Login ID"] for r in exported[1:]} == {"student", "student2"}


async def test_an_override_with_a_reason_reaches_the_student(demo, app_store, create_user):
    attempt = submit(app_store, who(app_store, "student"), 1)
    teacher = create_user()
    await sign_in(teacher, "instructor", demo.new_passwords["instructor"])
    await teacher.open(f"/review/{attempt}")
    await teacher.should_see(marker="key-section")
    teacher.find(marker="override-score").type("88")
    teacher.find(marker="override-save").click()
    await teacher.should_see("Reason: required")
    teacher.find(marker="override-reason-input").type("Name was illegible on the face sheet")
    teacher.find(marker="override-save").click()
    await teacher.should_see("→ 88.0 · Name was illegible on the face sheet")
    student = create_user()
    await sign_in(student, "student", demo.new_passwords["student"])
    await student.open(f"/attempt/{attempt}/report")
    await student.should_see("Your instructor changed the score to 88.0 / 100")
    await student.should_see("Reason: Name was illegible on the face sheet")


async def test_a_rubric_change_with_submissions_asks_first_and_regrades(demo, app_store, user: User):
    attempt = submit(app_store, who(app_store, "student"), 1)
    teacher = who(app_store, "instructor")
    before = gradebook.gradebook(app_store, user=teacher, class_id=1).rows
    await sign_in(user, "instructor", demo.new_passwords["instructor"])
    await user.open("/assignments/1")
    await user.should_see(marker="item-analysis")
    await user.should_see(marker="missed-fields")
    value_of(user, "rubric-demographics").value = 90
    user.find(marker="save-rubric").click()
    await user.should_see("1 submission exists for this assignment; they will be regraded with the new rubric.")
    user.find(marker="confirm-yes").click()
    await user.should_see("1 submission regraded.", retries=50)
    after = gradebook.gradebook(app_store, user=teacher, class_id=1).rows
    score = {r.username: r.cells[1].score for r in before}["student"]
    assert {r.username: r.cells[1].score for r in after}["student"] != score
    with app_store.session() as s:
        assert repo.latest_grade_report(s, attempt_id=attempt).score != score


async def test_an_admin_makes_an_instructor(app_store, user: User):
    accounts.create_account(app_store, username="root", display_name="Site Admin", role="admin", password="root-password-1")
    pat = accounts.create_account(app_store, username="pkim", display_name="Pat Kim", role="student", password="pkim-password-1")
    await sign_in(user, "root", "root-password-1")
    user.find(marker="nav-admin").click()
    await user.should_see("Administration: accounts and classes")
    value_of(user, "role-account").value = pat.id
    user.find(marker="change-role-button").click()
    await user.should_see("Role changed")
    assert who(app_store, "pkim").role == "instructor"
    assert classes.list_classes(app_store, user=who(app_store, "pkim")) == []
