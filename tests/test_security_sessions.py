"""Sessions that end, sign-in that cannot be hammered, redirects that stay home, ids that cannot be probed."""

from __future__ import annotations

import logging

import pytest
from nicegui.testing import User

from simulator.generate import load_scenario
from simulator.services import accounts, assignments, workspace
from simulator.services.accounts import SignedOut, SignInThrottle, SignInThrottled
from simulator.services.demo import DEMO_ASSIGNMENT, seed_demo
from simulator.services.errors import NotFound
from simulator.store import repo
from simulator.ui.pages import parse_id, safe_target
from tests.conftest import make_user, until_signed_in_or_refused
from tests.ui_steps import open_or_start

NOT_YOURS = "No such attempt among the ones you may open."


# ------------------------------------------------------------------------------------------ services
def _student_with_attempt(store):
    teacher = make_user(store, "teacher", "instructor")
    make_user(store, "ann")
    with store.session() as s:
        c = repo.create_class(s, name="HIT 101", term="Fall", instructor_id=teacher.id)
        repo.enrol(s, class_id=c.id, user_id=repo.get_user_by_username(s, username="ann").id)
        class_id = c.id
    aid = assignments.create_assignment(store, user=teacher, class_id=class_id, title="Work", due_at=None,
                                        scenario=load_scenario("clinic-chronic-care"), attempts_allowed=3)
    ann = accounts.authenticate(store, username="ann", password="ann-password-1")
    return ann, assignments.open_assignment(store, user=ann, assignment_id=aid), aid


PATIENT = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Young"}]}


@pytest.mark.parametrize("end", ["sign-out", "password-reset", "deactivation"])
def test_ending_a_session_stops_every_open_tab_of_the_account(store, end):
    ann, attempt, aid = _student_with_attempt(store)
    other_tab = accounts.authenticate(store, username="ann", password="ann-password-1")  # another computer
    workspace.save_entry(store, user=other_tab, attempt_id=attempt, resource=PATIENT, expected_version=0)
    if end == "sign-out":
        accounts.sign_out(store, user=ann)
    elif end == "password-reset":
        accounts.reset_password(store, username="ann", password="a-brand-new-password")
    else:
        accounts.set_account_active(store, username="ann", active=False)
    for tab in (ann, other_tab):
        with pytest.raises(SignedOut, match="You were signed out"):
            workspace.save_entry(store, user=tab, attempt_id=attempt, resource=PATIENT, expected_version=1)
        with pytest.raises(SignedOut):
            workspace.submit_attempt(store, user=tab, attempt_id=attempt)
        with pytest.raises(SignedOut):
            assignments.open_assignment(store, user=tab, assignment_id=aid)
        assert not accounts.session_is_live(store, user=tab)
    with store.session() as s:
        assert repo.get_attempt(s, attempt_id=attempt).status == "in-progress"  # no attempt used up after sign-out


def test_after_signing_out_a_new_sign_in_works_again(store):
    ann, attempt, _ = _student_with_attempt(store)
    accounts.sign_out(store, user=ann)
    again = accounts.authenticate(store, username="ann", password="ann-password-1")
    assert again.epoch == ann.epoch + 1
    workspace.save_entry(store, user=again, attempt_id=attempt, resource=PATIENT, expected_version=0)


def test_wrong_passwords_slow_the_account_down_with_a_growing_delay_and_are_logged(store, caplog):
    make_user(store, "ann")
    caplog.set_level(logging.WARNING, logger="hitsim.auth")
    for _ in range(SignInThrottle.FREE["account"]):
        assert accounts.authenticate(store, username="ann", password="wrong-password", address="10.0.0.9") is None
    with pytest.raises(SignInThrottled, match="Too many sign-in attempts. Wait"):  # even the right password waits
        accounts.authenticate(store, username="ann", password="ann-password-1", address="10.0.0.10")
    assert "failed sign-in for 'ann' from 10.0.0.9 (5 in a row)" in caplog.text
    assert "throttled" in caplog.text


def test_the_delay_doubles_and_is_capped():
    throttle = SignInThrottle()
    key = [("account", "ann")]
    waits = []
    for n in range(1, 20):
        throttle.failed(key, now=1000.0 * n)
        waits.append(throttle.wait(key, now=1000.0 * n))
    assert waits[:4] == [0, 0, 0, 0] and waits[4:8] == [1, 2, 4, 8] and max(waits) == SignInThrottle.MAX_DELAY
    assert throttle.wait(key, now=1000.0 * 19 + SignInThrottle.MAX_DELAY) == 0  # waiting it out is enough


def test_one_address_trying_many_accounts_is_slowed_down(store):
    make_user(store, "ann")
    for i in range(SignInThrottle.FREE["address"]):
        accounts.authenticate(store, username=f"guess{i}", password="wrong-password", address="203.0.113.5")
    with pytest.raises(SignInThrottled):
        accounts.authenticate(store, username="ann", password="ann-password-1", address="203.0.113.5")
    assert accounts.authenticate(store, username="ann", password="ann-password-1", address="198.51.100.7")


@pytest.mark.parametrize("attempt_id", [0, -1, 2**31, 2**63, 10**40])
def test_huge_or_negative_ids_are_simply_not_found_on_every_database(store, attempt_id):
    ann, _, _ = _student_with_attempt(store)
    with pytest.raises(NotFound, match=NOT_YOURS):
        assignments.attempt_view(store, user=ann, attempt_id=attempt_id)
    with pytest.raises(NotFound, match=NOT_YOURS):
        workspace.load_workspace(store, user=ann, attempt_id=attempt_id)


def test_not_yours_and_does_not_exist_give_the_same_answer(store):
    ann, attempt, _ = _student_with_attempt(store)
    ben = make_user(store, "ben")
    answers = []
    for attempt_id in (attempt, attempt + 1000):
        with pytest.raises(NotFound) as info:
            assignments.attempt_view(store, user=ben, attempt_id=attempt_id)
        answers.append(str(info.value))
    assert answers == [NOT_YOURS, NOT_YOURS]


# ------------------------------------------------------------------------------------------ redirects and ids
@pytest.mark.parametrize("target", ["/\\evil.example/", "//evil.example/", "/\t/evil.example", "https://evil.example/",
                                    "/%5Cevil.example/", "/%09/evil.example", "/\\/evil.example", "javascript:alert(1)",
                                    "evil.example", "/login", "/logout", "/" + "a" * 400, "/attempt/1\r\nSet-Cookie: x"])
def test_a_sign_in_never_leads_off_the_app(target):
    assert safe_target(target) == "/"


@pytest.mark.parametrize("target", ["/", "/attempt/12", "/attempt/12/report", "/attempt/3?patient=p-1"])
def test_a_sign_in_leads_back_to_the_page_asked_for(target):
    assert safe_target(target) == target


@pytest.mark.parametrize("raw", ["abc", "", "-1", "0", "1e5", "１２", "99999999999999999999", " 1", "1.0"])
def test_malformed_ids_are_no_ids(raw):
    assert parse_id(raw) is None


# ------------------------------------------------------------------------------------------ pages
@pytest.fixture
def demo(app_store):
    return seed_demo(app_store)


async def sign_in(user: User, username: str, password: str, path: str = "/login") -> None:
    await user.open(path)
    user.find(marker="username").type(username)
    user.find(marker="password").type(password)
    user.find(marker="sign-in").click()
    await until_signed_in_or_refused(user)


async def test_signing_in_issues_a_new_session_id_so_a_planted_cookie_is_worthless(demo, create_user):
    victim, attacker = create_user(), create_user()
    await victim.open("/login")
    planted = victim.http_client.cookies.get("session")  # the anonymous cookie, e.g. left on a lab computer
    assert planted
    await sign_in(victim, "student", demo.new_passwords["student"])
    await victim.should_see(DEMO_ASSIGNMENT, retries=20)
    assert victim.http_client.cookies.get("session") != planted
    attacker.http_client.cookies.set("session", planted)
    await attacker.open("/")
    await attacker.should_see(marker="sign-in")


async def test_the_session_cookie_lives_twelve_hours_and_pages_cannot_be_framed(demo, user: User):
    await sign_in(user, "student", demo.new_passwords["student"])
    response = await user.http_client.get("/", follow_redirects=False)
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    user.http_client.cookies.clear()  # a new visitor: the response starts a session and sets its cookie
    login = await user.http_client.get("/login")
    cookie = login.headers.get("set-cookie", "").lower()
    assert "max-age=43200" in cookie and "httponly" in cookie and "samesite=lax" in cookie


async def test_an_open_tab_is_signed_out_when_the_account_signs_out_elsewhere(demo, app_store, create_user):
    tab, elsewhere = create_user(), create_user()
    await sign_in(tab, "student", demo.new_passwords["student"])
    await tab.should_see(DEMO_ASSIGNMENT, retries=20)
    await open_or_start(tab, "open-1")  # starting an attempt asks first
    await tab.should_see(marker="ehr-tabs", retries=40)
    await sign_in(elsewhere, "student", demo.new_passwords["student"])
    await elsewhere.should_see(DEMO_ASSIGNMENT, retries=20)
    elsewhere.find(marker="logout").click()
    await elsewhere.should_see(marker="sign-in", retries=20)
    tab.find(marker="demographics-family").type("Young").trigger("blur")
    await tab.should_see("You were signed out", retries=40)
    with app_store.session() as s:
        assert repo.latest_resources(s, attempt_id=1) == []  # nothing was saved after the sign-out
    await tab.open("/")
    await tab.should_see(marker="sign-in")


async def test_a_password_reset_ends_the_session_of_a_signed_in_browser(demo, app_store, user: User):
    await sign_in(user, "student", demo.new_passwords["student"])
    await user.should_see(DEMO_ASSIGNMENT, retries=20)
    accounts.reset_password(app_store, username="student", password="a-brand-new-password")
    await user.open("/")
    await user.should_see(marker="sign-in")


@pytest.mark.parametrize("target", ["/%5Cevil.example/", "/%09/evil.example", "//evil.example"])
async def test_sign_in_with_a_foreign_redirect_lands_on_the_start_page(demo, user: User, target):
    await sign_in(user, "student", demo.new_passwords["student"], f"/login?redirect_to={target}")
    await user.should_see(DEMO_ASSIGNMENT, retries=20)
    assert user.client.request.url.path == "/" and user.client.request.url.hostname == "test"


async def test_sign_in_leads_back_to_the_page_that_asked_for_it(demo, user: User):
    await user.open("/attempt/1/report")  # not signed in: to the sign-in page, remembering where to go
    await user.should_see(marker="sign-in")
    user.find(marker="username").type("student")
    user.find(marker="password").type(demo.new_passwords["student"])
    user.find(marker="sign-in").click()
    await until_signed_in_or_refused(user)
    await user.should_see(NOT_YOURS, retries=20)  # the report page, which has no attempt 1 for this student yet


@pytest.mark.parametrize("path", ["/attempt/abc", "/attempt/99999999999999999999999", "/attempt/-1", "/attempt/1",
                                  "/attempt/1e5/report", "/attempt/%00", "/assignment/abc", "/assignment/999999999999"])
async def test_huge_malformed_and_foreign_ids_give_one_friendly_not_found(demo, create_user, path):
    ann, ben = create_user(), create_user()
    await sign_in(ann, "student", demo.new_passwords["student"])
    await ann.should_see(DEMO_ASSIGNMENT, retries=20)
    await open_or_start(ann, "open-1")  # starting an attempt asks first
    await ann.should_see(marker="ehr-tabs", retries=40)  # attempt 1 is ann's
    await sign_in(ben, "student2", demo.new_passwords["student2"])
    await ben.should_see(DEMO_ASSIGNMENT, retries=20)
    response = await ben.http_client.get(path)
    assert response.status_code == 200 and "Traceback" not in response.text and "SELECT" not in response.text
    await ben.open(path)
    await ben.should_see(marker="error")
    await ben.should_not_see(marker="ehr-tabs")


async def test_opening_a_link_to_an_assignment_starts_nothing_until_the_student_clicks(demo, app_store, user: User):
    await sign_in(user, "student", demo.new_passwords["student"])
    await user.should_see(DEMO_ASSIGNMENT, retries=20)
    await user.open("/assignment/1")
    await user.should_see(marker="start")
    with app_store.session() as s:
        assert repo.get_attempt(s, attempt_id=1) is None
    user.find(marker="start").click()
    await user.should_see(marker="ehr-tabs", retries=40)
    with app_store.session() as s:
        assert repo.get_attempt(s, attempt_id=1) is not None


async def test_a_link_to_logout_asks_before_signing_out(demo, user: User):
    await sign_in(user, "student", demo.new_passwords["student"])
    await user.should_see(DEMO_ASSIGNMENT, retries=20)
    await user.open("/logout")
    await user.should_see(marker="confirm-logout")
    await user.open("/")
    await user.should_see(DEMO_ASSIGNMENT)  # still signed in: a GET changed nothing
    await user.open("/logout")
    user.find(marker="confirm-logout").click()
    await user.should_see(marker="sign-in", retries=20)
    await user.open("/")
    await user.should_see(marker="sign-in")
