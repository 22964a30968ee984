"""The authorization matrix: every service entry point and page route, run as each kind of user, against the
allow/deny table written here. A change of who may do what changes this table, on purpose."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from nicegui.testing import User

from simulator.generate import load_scenario
from simulator.services import accounts, assignments, workspace
from simulator.services.accounts import SignedInUser
from simulator.services.errors import NotFound, PermissionDenied
from simulator.store import Store, repo
from tests.conftest import until_signed_in_or_refused

PERSONAS = ("student", "other_student", "student_other_class", "instructor", "instructor_other_class", "admin")
Y, N = True, False

# entry point: allowed for (student, other_student, student_other_class, instructor, instructor_other_class, admin)
SERVICE_MATRIX = {
    "student_assignments":  (Y, Y, Y, N, N, N),
    "open_assignment":      (Y, Y, N, N, N, N),  # another student of the class opens their own attempt
    "attempt_view":         (Y, N, N, Y, N, Y),
    "load_workspace":       (Y, N, N, Y, N, Y),
    "export_bundle":        (Y, N, N, Y, N, Y),
    "grade_report":         (Y, N, N, Y, N, Y),
    "save_entry":           (Y, N, N, N, N, N),  # instructors read only
    "delete_entry":         (Y, N, N, N, N, N),
    "send_to_coding":       (Y, N, N, N, N, N),
    "reopen_for_entry":     (N, N, N, Y, N, Y),
    "submit_attempt":       (Y, N, N, N, N, N),
    "instructor_overview":  (N, N, N, Y, Y, Y),
    "assignment_progress":  (N, N, N, Y, N, Y),
    "create_assignment":    (N, N, N, Y, N, Y),  # into a class one teaches; an administrator into any class
    "reset_password":       (N, N, N, Y, N, Y),  # the student's password: their instructor or an admin
    "deactivate_account":   (N, N, N, Y, N, Y),
}


@dataclass
class World:
    store: Store
    people: dict[str, SignedInUser]
    class_id: int
    assignment_id: int
    attempt_id: int
    encounter_id: str


def _person(store: Store, username: str, role: str) -> SignedInUser:
    accounts.create_account(store, username=username, display_name=username.title(), role=role,
                            password=f"{username}-password-1")
    user = accounts.authenticate(store, username=username, password=f"{username}-password-1")
    assert user is not None
    return user


def build_world(store: Store) -> World:
    roles = {"student": "student", "other_student": "student", "student_other_class": "student",
             "instructor": "instructor", "instructor_other_class": "instructor", "admin": "admin"}
    people = {name: _person(store, name.replace("_", "-"), role) for name, role in roles.items()}
    with store.session() as s:
        a = repo.create_class(s, name="HIT 101", term="Fall", instructor_id=people["instructor"].id)
        b = repo.create_class(s, name="HIT 102", term="Fall", instructor_id=people["instructor_other_class"].id)
        for name in ("student", "other_student"):
            repo.enrol(s, class_id=a.id, user_id=people[name].id)
        repo.enrol(s, class_id=b.id, user_id=people["student_other_class"].id)
        class_id, other_class = a.id, b.id
    aid = assignments.create_assignment(store, user=people["instructor"], class_id=class_id, title="Work", due_at=None,
                                        scenario=load_scenario("clinic-chronic-care"), attempts_allowed=3)
    assignments.create_assignment(store, user=people["instructor_other_class"], class_id=other_class, title="Other",
                                  due_at=None, scenario=load_scenario("clinic-chronic-care"))
    attempt = assignments.open_assignment(store, user=people["student"], assignment_id=aid)
    encounter = {"resourceType": "Encounter", "id": "enc-1", "status": "finished",
                 "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                 "period": {"start": "2025-03-04"}}
    workspace.save_entry(store, user=people["student"], attempt_id=attempt, resource=encounter, expected_version=0)
    return World(store, people, class_id, aid, attempt, "enc-1")


def _call(world: World, entry: str, user: SignedInUser) -> Callable[[], object]:
    st, att = world.store, world.attempt_id
    note = {"resourceType": "Patient", "id": f"p-{user.id}", "name": [{"family": "Young"}]}
    calls: dict[str, Callable[[], object]] = {
        "student_assignments": lambda: assignments.student_assignments(st, user=user),
        "open_assignment": lambda: assignments.open_assignment(st, user=user, assignment_id=world.assignment_id),
        "attempt_view": lambda: assignments.attempt_view(st, user=user, attempt_id=att),
        "load_workspace": lambda: workspace.load_workspace(st, user=user, attempt_id=att),
        "export_bundle": lambda: workspace.export_bundle(st, user=user, attempt_id=att),
        "grade_report": lambda: workspace.grade_report(st, user=user, attempt_id=att),
        "save_entry": lambda: workspace.save_entry(st, user=user, attempt_id=att, resource=note, expected_version=0),
        "delete_entry": lambda: workspace.delete_entry(
            st, user=user, attempt_id=att, resource=workspace.load_workspace(st, user=world.people["student"],
                                                                             attempt_id=att).of("Encounter")[0].resource,
            expected_version=1),
        "send_to_coding": lambda: workspace.send_to_coding(st, user=user, attempt_id=att, encounter_id=world.encounter_id),
        "reopen_for_entry": lambda: workspace.reopen_for_entry(st, user=user, attempt_id=att,
                                                               encounter_id=world.encounter_id),
        "submit_attempt": lambda: workspace.submit_attempt(st, user=user, attempt_id=att),
        "instructor_overview": lambda: assignments.instructor_overview(st, user=user),
        "assignment_progress": lambda: assignments.assignment_progress(st, user=user, assignment_id=world.assignment_id),
        "create_assignment": lambda: assignments.create_assignment(
            st, user=user, class_id=world.class_id, scenario=load_scenario("clinic-chronic-care"), title="New",
            due_at=None),
        "reset_password": lambda: accounts.reset_password(st, username="student", password="a-new-password-1", by=user),
        "deactivate_account": lambda: accounts.set_account_active(st, username="student", active=False, by=user),
    }
    return calls[entry]


@pytest.mark.parametrize("entry", list(SERVICE_MATRIX))
def test_every_service_entry_point_allows_exactly_whom_the_table_says(store, entry):
    world = build_world(store)
    expected = dict(zip(PERSONAS, SERVICE_MATRIX[entry], strict=True))
    # Refusals first, so that an allowed call that changes the world (submit, reset) cannot hide one.
    for persona in sorted(PERSONAS, key=lambda p: expected[p]):
        call = _call(world, entry, world.people[persona])
        if expected[persona]:
            call()
        else:
            with pytest.raises((PermissionDenied, NotFound)):
                call()
    if entry == "reopen_for_entry":  # reopening needs a visit sent to coding: also allowed by the table's owner
        workspace.send_to_coding(store, user=world.people["student"], attempt_id=world.attempt_id,
                                 encounter_id=world.encounter_id)


# ------------------------------------------------------------------------------------------ pages
# route: allowed for (anonymous, student, other_student, student_other_class, instructor, instructor_other_class, admin)
PAGE_MATRIX = {
    "/":                    (N, Y, Y, Y, Y, Y, Y),
    "/assignment/1":        (N, Y, Y, N, N, N, N),
    "/attempt/1":           (N, Y, N, N, Y, N, Y),
    "/attempt/1/report":    (N, Y, N, N, Y, N, Y),
}
PAGE_PERSONAS = ("anonymous",) + PERSONAS


@pytest.mark.parametrize("persona", PAGE_PERSONAS)
async def test_every_page_route_allows_exactly_whom_the_table_says(app_store, create_user, persona):
    world = build_world(app_store)
    user: User = create_user()
    if persona != "anonymous":
        username = persona.replace("_", "-")
        await user.open("/login")
        user.find(marker="username").type(username)
        user.find(marker="password").type(f"{username}-password-1")
        user.find(marker="sign-in").click()
        await until_signed_in_or_refused(user)
        await user.should_see(marker="signed-in-as", retries=40)
    assert world.attempt_id == 1 and world.assignment_id == 1
    for route, row in PAGE_MATRIX.items():
        allowed = dict(zip(PAGE_PERSONAS, row, strict=True))[persona]
        await user.open(route)
        if persona == "anonymous":
            await user.should_see(marker="sign-in")
        elif allowed:
            await user.should_not_see(marker="error")
            await user.should_not_see(marker="sign-in")
        else:
            await user.should_see(marker="error")
