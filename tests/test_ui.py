"""Pages through NiceGUI's simulated `user`: sign in, see the assignment, read the paper chart."""

from __future__ import annotations

import pytest
from nicegui.testing import User

from simulator.services import accounts, assignments
from simulator.services.demo import DEMO_ASSIGNMENT, seed_demo
from tests.conftest import until_signed_in_or_refused
from tests.ui_steps import open_or_start


@pytest.fixture
def demo(app_store):
    return seed_demo(app_store)


async def sign_in(user: User, username: str, password: str) -> None:
    await user.open("/login")
    user.find(marker="username").type(username)
    user.find(marker="password").type(password)
    user.find(marker="sign-in").click()
    await until_signed_in_or_refused(user)


async def test_pages_need_a_signed_in_user(demo, user: User):
    await user.open("/")
    await user.should_see(marker="sign-in")


async def test_a_wrong_password_is_explained_and_keeps_the_user_out(demo, user: User):
    await sign_in(user, "student", "not-the-password")
    await user.should_see("Username or password is not right")
    await user.open("/")
    await user.should_see(marker="sign-in")


async def test_student_signs_in_sees_the_assignment_and_reads_the_chart(demo, app_store, user: User):
    await sign_in(user, "student", demo.new_passwords["student"])
    await user.should_see(DEMO_ASSIGNMENT)
    await user.should_see("not started")
    await user.should_see("Attempts left: 2 of 2")
    await open_or_start(user, "open-1")  # starting an attempt asks first
    await user.should_see(marker="chart-tabs")
    await user.should_see("Face sheet")
    await user.should_see("Patient registration")
    student = accounts.authenticate(app_store, username="student", password=demo.new_passwords["student"])
    attempt = assignments.open_assignment(app_store, user=student, assignment_id=1)
    patient = assignments.attempt_view(app_store, user=student, attempt_id=attempt).pages[0].patient
    await user.should_see(f"Face sheet — {patient}")
    await user.should_see("Progress notes")
    await user.should_see("Superbill")


async def test_a_student_cannot_open_another_students_attempt_by_url(demo, app_store, create_user):
    ann, ben = create_user(), create_user()
    await sign_in(ann, "student", demo.new_passwords["student"])
    await ann.should_see(DEMO_ASSIGNMENT)
    await open_or_start(ann, "open-1")
    await ann.should_see(marker="chart-tabs")
    await sign_in(ben, "student2", demo.new_passwords["student2"])
    await ben.should_see(DEMO_ASSIGNMENT)
    await ben.open("/attempt/1")
    await ben.should_see("No such attempt among the ones you may open.")
    await ben.should_not_see(marker="chart-tabs")


async def test_the_instructor_sees_the_class_and_its_assignment(demo, user: User):
    await sign_in(user, "instructor", demo.new_passwords["instructor"])
    await user.should_see("Your classes")
    await user.should_see("HIT 101 - Health Data Management")
    await user.should_see(DEMO_ASSIGNMENT)


async def test_signing_out_ends_the_session(demo, user: User):
    await sign_in(user, "student", demo.new_passwords["student"])
    await user.should_see(DEMO_ASSIGNMENT)
    user.find(marker="logout").click()
    await user.should_see(marker="sign-in")
    await user.open("/")
    await user.should_see(marker="sign-in")
