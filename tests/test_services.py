"""Services on a real database: accounts, the demo, assignments and who may open what."""

from __future__ import annotations

import datetime as dt

import pytest

from simulator.generate import load_scenario
from simulator.services import accounts, assignments
from simulator.services.demo import DEMO_ASSIGNMENT, DEMO_AUDIT_ASSIGNMENT, DEMO_VERIFY_ASSIGNMENT, seed_demo
from simulator.services.errors import InvalidInput, NotFound, PermissionDenied
from simulator.store import repo
from tests.conftest import make_user


def test_passwords_are_stored_as_argon2id_hashes(store):
    make_user(store, "ada")
    with store.session() as s:
        stored = repo.get_user_by_username(s, username="ada").password_hash
    assert stored.startswith("$argon2id$") and "ada-password-1" not in stored


def test_sign_in_needs_the_right_password(store):
    make_user(store, "ada")
    assert accounts.authenticate(store, username="ada", password="ada-password-1").username == "ada"
    assert accounts.authenticate(store, username="ADA ", password="ada-password-1") is not None
    assert accounts.authenticate(store, username="ada", password="wrong-password") is None
    assert accounts.authenticate(store, username="nobody", password="ada-password-1") is None


@pytest.mark.parametrize(("field", "kwargs", "message"), [
    ("username", {"username": "A B"}, "Username: use 2-63 lowercase letters"),
    ("password", {"password": "short"}, "Password: at least 10 characters"),
    ("role", {"role": "dean"}, "Role: expected one of student, instructor, admin"),
])
def test_bad_account_details_are_refused_at_the_field(store, field, kwargs, message):
    args = {"username": "valid", "display_name": "V", "role": "student", "password": "long-enough-pw"} | kwargs
    with pytest.raises(InvalidInput, match=message) as info:
        accounts.create_account(store, **args)
    assert info.value.field == field


def test_a_username_is_taken_once(store):
    make_user(store, "ada")
    with pytest.raises(InvalidInput, match="already taken"):
        make_user(store, "ada")


def test_demo_creates_accounts_class_and_assignment_once(store):
    first = seed_demo(store)
    assert set(first.new_passwords) == {"instructor", "student", "student2"}
    again = seed_demo(store)
    assert again.new_passwords == {} and set(again.existing) == {"instructor", "student", "student2"}
    student = accounts.authenticate(store, username="student", password=first.new_passwords["student"])
    rows = assignments.student_assignments(store, user=student)
    assert sorted(r.title for r in rows) == sorted([DEMO_ASSIGNMENT, DEMO_VERIFY_ASSIGNMENT, DEMO_AUDIT_ASSIGNMENT])
    assert all(r.status == "not started" and r.attempts_left == 2 for r in rows)


def _class_with_assignment(store, **kwargs):
    teacher = make_user(store, "teacher", "instructor")
    students = [make_user(store, name) for name in ("ann", "ben")]
    with store.session() as s:
        c = repo.create_class(s, name="HIT 101", term="Fall", instructor_id=teacher.id)
        for st in students:
            repo.enrol(s, class_id=c.id, user_id=st.id)
        class_id = c.id
    aid = assignments.create_assignment(store, user=teacher, class_id=class_id, title="Chart entry",
                                        scenario=load_scenario("clinic-chronic-care"), **({"due_at": None} | kwargs))
    return teacher, students, aid


def test_opening_an_assignment_starts_one_attempt_and_reopens_it(store):
    _, (ann, _), aid = _class_with_assignment(store)
    first = assignments.open_assignment(store, user=ann, assignment_id=aid)
    assert assignments.open_assignment(store, user=ann, assignment_id=aid) == first
    view = assignments.attempt_view(store, user=ann, attempt_id=first)
    assert [p.section for p in view.pages] == ["face", "notes", "meds", "vitals", "labs", "superbill"]
    assert assignments.student_assignments(store, user=ann)[0].status == "in progress"


def test_each_student_gets_their_own_patient(store):
    _, (ann, ben), aid = _class_with_assignment(store)
    a = assignments.attempt_view(store, user=ann, attempt_id=assignments.open_assignment(store, user=ann, assignment_id=aid))
    b = assignments.attempt_view(store, user=ben, attempt_id=assignments.open_assignment(store, user=ben, assignment_id=aid))
    assert a.pages[0].patient != b.pages[0].patient


def test_a_student_cannot_open_another_students_attempt(store):
    _, (ann, ben), aid = _class_with_assignment(store)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    with pytest.raises(NotFound, match="No such attempt among the ones you may open"):
        assignments.attempt_view(store, user=ben, attempt_id=attempt)


def test_a_student_outside_the_class_cannot_open_its_assignment(store):
    _, _, aid = _class_with_assignment(store)
    outsider = make_user(store, "outsider")
    with pytest.raises(NotFound):
        assignments.open_assignment(store, user=outsider, assignment_id=aid)


def test_an_instructor_of_another_class_cannot_see_an_attempt(store):
    _, (ann, _), aid = _class_with_assignment(store)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    other = make_user(store, "other-teacher", "instructor")
    with pytest.raises(NotFound, match="No such attempt among the ones you may open"):
        assignments.attempt_view(store, user=other, attempt_id=attempt)


def test_a_past_due_assignment_cannot_be_started(store):
    past = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    _, (ann, _), aid = _class_with_assignment(store, due_at=past)
    with pytest.raises(PermissionDenied, match="can no longer be started"):
        assignments.open_assignment(store, user=ann, assignment_id=aid)


def test_students_cannot_create_assignments_and_instructors_only_for_their_classes(store):
    teacher, (ann, _), _ = _class_with_assignment(store)
    with pytest.raises(PermissionDenied):
        assignments.create_assignment(store, user=ann, class_id=1, title="x",
                                      scenario=load_scenario("clinic-chronic-care"), due_at=None)
    other = make_user(store, "other-teacher", "instructor")
    with pytest.raises(PermissionDenied, match="classes you teach"):
        assignments.create_assignment(store, user=other, class_id=1, title="x",
                                      scenario=load_scenario("clinic-chronic-care"), due_at=None)


def test_the_instructor_sees_their_class_and_its_assignments(store):
    teacher, _, _ = _class_with_assignment(store)
    overview = assignments.instructor_overview(store, user=teacher)
    assert overview[0].students == 2 and overview[0].assignments[0][1] == "Chart entry"


def test_the_same_scenario_text_is_stored_once(store):
    teacher, _, _ = _class_with_assignment(store)
    with store.session() as s:
        c = repo.classes_taught_by(s, instructor_id=teacher.id)[0]
    assignments.create_assignment(store, user=teacher, class_id=c.id, title="Again",
                                  scenario=load_scenario("clinic-chronic-care"), due_at=None)
    with store.session() as s:
        a, b = repo.assignments_for_class(s, class_id=c.id)
        assert a.scenario_id == b.scenario_id


def test_the_instructor_sees_each_students_progress_and_no_one_else_does(store):
    teacher, (ann, ben), aid = _class_with_assignment(store)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    from simulator.services import workspace

    workspace.submit_attempt(store, user=ann, attempt_id=attempt)
    rows = {r.username: r for r in assignments.assignment_progress(store, user=teacher, assignment_id=aid)}
    assert rows["ann"].status == "graded" and rows["ann"].score is not None and rows["ann"].attempt_id == attempt
    assert rows["ben"].status == "not started" and rows["ben"].score is None
    other = make_user(store, "other-teacher", "instructor")
    with pytest.raises(NotFound):  # the same answer as for an assignment that does not exist
        assignments.assignment_progress(store, user=other, assignment_id=aid)
    with pytest.raises(PermissionDenied):
        assignments.assignment_progress(store, user=ann, assignment_id=aid)
