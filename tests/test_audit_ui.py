"""The access-audit report through NiceGUI's simulated user: the student's exercise and the instructor's class trail."""

from __future__ import annotations

import asyncio

import pytest
from nicegui import ui
from nicegui.testing import User

from simulator.audit import trail
from simulator.services import accounts, audit_exercise
from simulator.services.demo import DEMO_AUDIT_ASSIGNMENT, seed_demo
from tests.test_workspace_ui import pick, sign_in
from tests.ui_steps import open_or_start


@pytest.fixture
def demo(app_store):
    return seed_demo(app_store)


async def open_audit(user: User, demo) -> None:
    await sign_in(user, demo, "student")
    await user.should_see(DEMO_AUDIT_ASSIGNMENT, retries=50)
    await open_or_start(user, "open-3")
    await user.should_see(marker="audit-table", retries=300)


def count_text(user: User) -> str:
    return next(iter(user.find(marker="row-count").elements)).text


def error_of(user: User, marker: str):
    return next(iter(user.find(marker=marker).elements)).error


async def test_the_student_filters_the_log_and_bad_filters_get_a_message_at_the_filter(demo, app_store, user: User):
    await open_audit(user, demo)
    total = count_text(user)
    student = accounts.authenticate(app_store, username="student", password=demo.new_passwords["student"])
    logged = len(audit_exercise.audit_exercise(app_store, user=student, attempt_id=1).index.rows)
    assert logged > 4000 and total == f"{logged:,} of {logged:,} accesses"  # the log's size follows the random seed
    user.find(marker="filter-min_minutes").type("abc")
    user.find(marker="apply-filters").click()
    assert "Open longer than: 'abc' is not a number" in error_of(user, "filter-min_minutes")
    assert count_text(user) == total  # nothing changed
    user.find(marker="filter-min_minutes").clear().type("100")
    user.find(marker="filter-from_date").type("03/20/2025")
    user.find(marker="filter-to_date").type("03/10/2025")
    user.find(marker="apply-filters").click()
    assert "is before From" in error_of(user, "filter-to_date")
    user.find(marker="filter-to_date").clear()
    user.find(marker="filter-from_date").clear()
    user.find(marker="filter-from_time").type("7:75")
    user.find(marker="apply-filters").click()
    assert "From time: '7:75' is not a time" in error_of(user, "filter-from_time")
    user.find(marker="filter-from_time").clear()
    user.find(marker="apply-filters").click()
    assert error_of(user, "filter-min_minutes") is None
    assert count_text(user).startswith("1 of")  # the one session open over 100 minutes: the long session


async def test_a_flag_needs_a_reason_and_a_saved_flag_is_kept(demo, app_store, user: User):
    await open_audit(user, demo)
    student = accounts.authenticate(app_store, username="student", password=demo.new_passwords["student"])
    exercise = audit_exercise.audit_exercise(app_store, user=student, attempt_id=1)
    long_session = next(v for v in exercise.history.violations if v.kind == "long-session")
    user.find(marker="flag-target").type(long_session.events[0])
    user.find(marker="add-flag").click()
    assert "Reason: pick the policy category" in error_of(user, "flag-category")
    assert not audit_exercise.audit_exercise(app_store, user=student, attempt_id=1).flags
    pick(user, "flag-category", "Unusually long session")
    user.find(marker="flag-note").type("open all afternoon")
    user.find(marker="add-flag").click()
    await user.should_see(marker="flag-edit-note")
    flags = audit_exercise.audit_exercise(app_store, user=student, attempt_id=1).flags
    assert [(audit_exercise.flag_target(f.resource), f.resource["detail"]) for f in flags] == [
        (f"AuditEvent/{long_session.events[0]}", "open all afternoon")]


async def test_the_students_own_opening_is_in_the_trail_and_the_instructor_reports_on_the_class(demo, app_store,
                                                                                                user: User):
    await open_audit(user, demo)
    for _ in range(50):  # the opening is written once the browser is connected, off the event loop
        opened = [a for a in trail.trail_accesses(app_store) if a.activity == "open"]
        if opened:
            break
        await asyncio.sleep(0.1)
    assert opened and opened[0].user_id == "student" and opened[0].workstation.startswith("WS-")
    await user.open("/logout")  # asks first: no GET signs anyone out
    user.find(marker="confirm-logout").click()
    await user.should_see(marker="sign-in", retries=40)
    await sign_in(user, demo, "instructor")
    await user.should_see(marker="class-audit-1", retries=50)
    await user.open("/class/1/audit")
    await user.should_see(marker="audit-table")
    table = next(iter(user.find(marker="audit-table").elements))
    assert isinstance(table, ui.table)
    mine = [r for r in table.rows if r["user_name"].startswith("Sam Student") and r["action"] == "open"]
    assert mine and mine[0]["patient_name"] == "student's record" and mine[0]["workstation"].startswith("WS-")


async def test_the_report_of_an_empty_trail_says_so(demo, app_store, user: User):
    await sign_in(user, demo, "instructor")
    await user.should_see(marker="class-audit-1")
    await user.open("/class/1/audit")
    await user.should_see(marker="empty-trail")
