"""The pages. Each one builds widgets and asks a service; access rules live in the services.

Sessions: the signed browser cookie holds the account and the session epoch it began in; the one
AuthMiddleware checks it against the database on every page request, and every service call checks it
again (``accounts.require_live_session``), so a session ended elsewhere ends in open tabs too.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, run, ui
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.types import ASGIApp

from simulator.coding.encoder import Encoder
from simulator.services import accounts, assignments, workspace
from simulator.services.errors import NO_SUCH_ATTEMPT, NotFound, PermissionDenied, ServiceError
from simulator.store import Store
from simulator.ui import frame as frame_module
from simulator.ui.frame import frame, signed_in_user
from simulator.ui.workspace import ehr_panel

SESSION_HOURS = 12
OPEN_PATHS = ("/login", "/_nicegui", "/favicon")
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",  # no framing: clickjacking
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# Where a sign-in may lead: a path of this app (letters, digits, - _ . ~ in segments) and a plain query.
# No scheme, no host, no "//", no backslash, no encoded or control characters: never another site.
_APP_PATH = re.compile(r"/(?:[A-Za-z0-9_.~-]+(?:/[A-Za-z0-9_.~-]+)*/?)?(?:\?[A-Za-z0-9_.~=&%-]*)?", re.ASCII)
_ID = re.compile(r"[0-9]{1,9}", re.ASCII)


def safe_target(raw: str | None) -> str:
    """``raw`` when it is a same-origin path of this app, else the start page."""
    target = raw or "/"
    if len(target) > 300 or not _APP_PATH.fullmatch(target) or target.startswith(("/login", "/logout")):
        return "/"
    return target


def parse_id(raw: str) -> int | None:
    """A database id from a URL, or None for anything else (letters, a 40-digit number, -1): 'not found'."""
    return int(raw) if _ID.fullmatch(raw or "") and int(raw) > 0 else None


def session_user(session: dict[str, Any]) -> accounts.SignedInUser | None:
    """The account in a browser session that has not expired (not yet checked against the database)."""
    data = session.get("account")
    signed_in_at = session.get("signed_in_at")
    if not isinstance(data, dict) or not isinstance(signed_in_at, int | float):
        return None
    if not 0 <= time.time() - signed_in_at <= SESSION_HOURS * 3600:
        return None
    try:
        return accounts.SignedInUser.from_dict(data)
    except (KeyError, TypeError, ValueError):
        return None


class AuthMiddleware(BaseHTTPMiddleware):
    """Every page but the sign-in page needs a live session: not expired, not ended (sign-out, deactivation,
    password reset). Every response carries the headers that forbid framing."""

    def __init__(self, app: ASGIApp, store: Store):
        super().__init__(app)
        self.store = store

    async def dispatch(self, request: Request, call_next):  # type: ignore[no-untyped-def]
        path = request.url.path
        if not path.startswith(OPEN_PATHS):
            user = session_user(request.session)
            if user is None or not await run.io_bound(accounts.session_is_live, self.store, user=user):
                request.session.clear()
                target = safe_target(path + (f"?{request.url.query}" if request.url.query else ""))
                response = RedirectResponse(f"/login?redirect_to={quote(target, safe='/')}" if target != "/" else "/login")
                response.headers.update(SECURITY_HEADERS)
                return response
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response


@dataclass(frozen=True)
class _PendingSignIn:
    account: dict[str, Any]
    session_id: str
    target: str
    expires: float


_pending_sign_ins: dict[str, _PendingSignIn] = {}


def _hand_over(account: accounts.SignedInUser, session_id: str, target: str) -> str:
    """A one-time token (60 s, this browser only) with which /login/finish starts the session under a new id."""
    now = time.time()
    for token in [t for t, p in _pending_sign_ins.items() if p.expires < now]:
        _pending_sign_ins.pop(token, None)
    token = secrets.token_urlsafe(32)
    _pending_sign_ins[token] = _PendingSignIn(account.as_dict(), session_id, target, now + 60)
    return token


def _format_due(due: dt.datetime | None) -> str:
    if due is None:
        return "no due date"
    if due.tzinfo is None:
        due = due.replace(tzinfo=dt.UTC)
    return due.strftime("%b %d, %Y %H:%M UTC")


def register_pages(store: Store, get_encoder: Callable[[], Encoder] | None = None) -> None:
    def live_user() -> accounts.SignedInUser | None:
        user = signed_in_user()
        return user if user is not None and accounts.session_is_live(store, user=user) else None

    frame_module.on_sign_out(lambda user: accounts.sign_out(store, user=user))

    @app.on_page_exception
    def page_error() -> None:
        """A bug, not the user's doing: a plain apology, never the exception or SQL (it is in the server log)."""
        with frame("Something went wrong"):
            ui.label("This page could not be shown because of an error on our side; it was logged. "
                     "Try again, or go back to the start page.").mark("error")
            ui.link("Back to the start page", "/")

    @ui.page("/login")
    def login_page(redirect_to: str = "/") -> RedirectResponse | None:
        if live_user() is not None:
            return RedirectResponse("/")
        target = safe_target(redirect_to)

        async def try_login() -> None:
            request = ui.context.client.request
            address = request.client.host if request.client else ""
            try:
                user = await run.io_bound(accounts.authenticate, store, username=username.value or "",
                                          password=password.value or "", address=address)
            except accounts.SignInThrottled as exc:
                user, problem = None, str(exc)
            else:
                problem = "Username or password is not right. Check both and try again."
            if user is None:
                message.set_text(problem)
                message.set_visibility(True)
                password.set_value("")
                return
            ui.navigate.to(f"/login/finish?token={_hand_over(user, str(app.storage.browser.get('id', '')), target)}")

        with frame("Sign in"):
            with ui.card().classes("w-96 self-center p-6 gap-3"):
                ui.label("Sign in with the account your instructor gave you.").classes("hitsim-muted")
                username = ui.input("Username").props("autofocus outlined maxlength=64").classes("w-full").mark("username")
                password = ui.input("Password", password=True, password_toggle_button=True).props(
                    "outlined maxlength=256").classes("w-full").mark("password")
                password.on("keydown.enter", try_login)
                message = ui.label().classes("text-negative").mark("login-error")
                message.set_visibility(False)
                ui.button("Sign in", on_click=try_login).classes("w-full").mark("sign-in")
        return None

    @ui.page("/login/finish")
    def finish_sign_in(request: Request, token: str = "") -> RedirectResponse:
        """Start the signed-in session under a new session id: the anonymous one is never reused (no fixation)."""
        pending = _pending_sign_ins.pop(token[:100], None)
        if pending is None or pending.expires < time.time() or pending.session_id != request.session.get("id"):
            return RedirectResponse("/login", status_code=303)
        request.session.clear()
        request.session.update({"id": str(uuid.uuid4()), "account": pending.account, "signed_in_at": time.time()})
        return RedirectResponse(pending.target, status_code=303)

    @ui.page("/logout")
    def logout_page() -> RedirectResponse | None:
        """Reached by a link: asks first, so that no page elsewhere can sign anyone out with a plain GET."""
        user = live_user()
        if user is None:
            return RedirectResponse("/login")
        with frame("Sign out"):
            ui.label(f"Sign out {user.display_name}? Every open tab and computer signed in to this account will "
                     "need to sign in again.")
            ui.button("Sign out", icon="logout", on_click=lambda: frame_module.sign_out(user)).mark("confirm-logout")
        return None

    @ui.page("/")
    def home_page() -> None:
        user = signed_in_user()
        assert user is not None  # the middleware guarantees it
        if user.role == "student":
            _student_home(store, user)
        else:
            _instructor_home(store, user)

    @ui.page("/assignment/{assignment_id}")
    def assignment_page(assignment_id: str) -> RedirectResponse | None:
        """A link to an assignment: continues the attempt there is; starting a new one takes a click (no GET does)."""
        user = signed_in_user()
        assert user is not None
        wanted = parse_id(assignment_id)
        try:
            rows = assignments.student_assignments(store, user=user)
            row = next((r for r in rows if r.assignment_id == wanted), None)
            if row is None:
                raise NotFound("No such assignment in your classes.")
        except (NotFound, PermissionDenied) as exc:
            _refused("Assignment", exc)
            return None
        if row.latest_attempt_id is not None and (row.status == "in progress" or row.attempts_left == 0):
            return RedirectResponse(f"/attempt/{row.latest_attempt_id}")
        with frame(row.title):
            ui.label(f"{row.class_name} · {row.scenario_title} · due {_format_due(row.due_at)}").classes("hitsim-muted")
            ui.label(f"Attempts left: {row.attempts_left} of {row.attempts_allowed}")
            ui.button("Start", icon="play_arrow", on_click=lambda: start_attempt(store, user, row.assignment_id)).mark(
                "start")
        return None

    @ui.page("/attempt/{attempt_id}")
    def attempt_page(attempt_id: str, patient: str = "") -> None:
        user = signed_in_user()
        assert user is not None
        try:
            view = assignments.attempt_view(store, user=user, attempt_id=_known_id(attempt_id))
        except (NotFound, PermissionDenied) as exc:
            _refused("Attempt", exc)
            return
        _workspace(store, user, view, patient[:100], get_encoder)

    @ui.page("/attempt/{attempt_id}/report")
    def report_page(attempt_id: str) -> None:
        user = signed_in_user()
        assert user is not None
        try:
            view = assignments.attempt_view(store, user=user, attempt_id=_known_id(attempt_id))
            report = workspace.grade_report(store, user=user, attempt_id=view.attempt_id)
        except (NotFound, PermissionDenied) as exc:
            _refused("Grade report", exc)
            return
        with frame(f"Grade report: {view.assignment_title}"):
            if report is None:
                ui.label("This attempt has not been graded yet.").mark("not-graded")
                ui.link("Back to the attempt", f"/attempt/{attempt_id}")
                return
            grade_report_view(report)
            with ui.row().classes("gap-4"):
                ui.link("See your submitted record next to the chart", f"/attempt/{attempt_id}")
                ui.link("Back to your assignments", "/")


def _known_id(raw: str) -> int:
    """The id in a URL; a malformed or huge one is answered exactly like an id that does not exist."""
    parsed = parse_id(raw)
    if parsed is None:
        raise NotFound(NO_SUCH_ATTEMPT)
    return parsed


def start_attempt(store: Store, user: accounts.SignedInUser, assignment_id: int) -> None:
    """Open an assignment (continue or start an attempt) on a click, then show its workspace."""
    try:
        attempt_id = assignments.open_assignment(store, user=user, assignment_id=assignment_id)
    except ServiceError as exc:
        ui.notify(str(exc), type="negative")
        return
    ui.navigate.to(f"/attempt/{attempt_id}")


def _refused(title: str, exc: Exception) -> None:
    """A page the signed-in user may not see: the reason, and the way back."""
    with frame(title):
        ui.label(str(exc)).classes("text-negative").mark("error")
        ui.link("Back to the start page", "/")


def _student_home(store: Store, user: accounts.SignedInUser) -> None:
    rows = assignments.student_assignments(store, user=user)
    with frame("Your assignments"):
        if not rows:
            ui.label("No assignments yet. When your instructor assigns work to your class, it appears here.").classes(
                "hitsim-muted").mark("no-assignments")
            return
        for row in rows:
            with ui.card().classes("w-full").mark(f"assignment-{row.assignment_id}"):
                with ui.row().classes("w-full items-start justify-between"):
                    with ui.column().classes("gap-1"):
                        ui.label(row.title).classes("hitsim-card-title")
                        ui.label(f"{row.class_name} · {row.scenario_title} · {row.difficulty}").classes("hitsim-muted")
                        ui.label(f"Due {_format_due(row.due_at)}").classes("text-sm")
                    with ui.column().classes("items-end gap-1"):
                        ui.badge(row.status, color="grey-7" if row.status == "not started" else "primary").mark(
                            "status")
                        ui.label(f"Attempts left: {row.attempts_left} of {row.attempts_allowed}").classes("text-sm")
                        label = "Continue" if row.status == "in progress" else (
                            "Open" if row.status == "not started" else "Review")
                        ui.button(label, icon="folder_open",
                                  on_click=lambda r=row: start_attempt(store, user, r.assignment_id)).mark(
                            f"open-{row.assignment_id}")


def _instructor_home(store: Store, user: accounts.SignedInUser) -> None:
    try:
        classes = assignments.instructor_overview(store, user=user)
    except PermissionDenied as exc:
        with frame("Classes"):
            ui.label(str(exc)).classes("text-negative")
        return
    with frame("Your classes"):
        if not classes:
            ui.label("You do not teach a class yet.").classes("hitsim-muted")
        for c in classes:
            with ui.card().classes("w-full").mark(f"class-{c.class_id}"):
                ui.label(f"{c.name} ({c.term})").classes("hitsim-card-title")
                ui.label(f"{c.students} student{'s' if c.students != 1 else ''} enrolled").classes("hitsim-muted")
                if not c.assignments:
                    ui.label("No assignments yet.").classes("hitsim-muted")
                for assignment_id, title, scenario_title, due in c.assignments:
                    with ui.row().classes("w-full items-baseline gap-4 border-t pt-2").mark(f"assignment-{assignment_id}"):
                        ui.label(title).classes("font-medium")
                        ui.label(scenario_title).classes("hitsim-muted")
                        ui.label(f"Due {_format_due(due)}").classes("text-sm")
                    _progress_table(store, user, assignment_id)


def _progress_table(store: Store, user: accounts.SignedInUser, assignment_id: int) -> None:
    """Each student's status and score, with the way to their record and their grade report."""
    rows = assignments.assignment_progress(store, user=user, assignment_id=assignment_id)
    with ui.column().classes("w-full gap-0 pl-4"):
        for row in rows:
            with ui.row().classes("w-full items-center gap-4 py-1 border-b").mark(f"progress-{row.username}"):
                ui.label(row.student).classes("w-48")
                ui.badge(row.status, color="grey-7" if row.status == "not started" else "primary")
                ui.label(f"attempts: {row.attempts_used}").classes("text-sm hitsim-muted")
                ui.label("—" if row.score is None else f"{row.score:.1f} / 100").classes("w-24 font-medium").mark("score")
                if row.attempt_id is not None:
                    ui.link("record", f"/attempt/{row.attempt_id}").classes("text-sm")
                if row.score is not None:
                    ui.link("grade report", f"/attempt/{row.attempt_id}/report").classes("text-sm").mark("report-link")


def _workspace(store: Store, user: accounts.SignedInUser, view: assignments.AttemptView, patient: str,
               get_encoder: Callable[[], Encoder] | None) -> None:
    with frame(view.assignment_title, wide=True):
        with ui.row().classes("w-full items-center gap-3 hitsim-muted"):
            ui.label(f"{view.class_name} · {view.scenario_title}")
            ui.label(f"Attempt {view.number} of {view.attempts_allowed}")
            ui.badge(view.status).mark("attempt-status")
            ui.label(f"Due {_format_due(view.due_at)}")
            if view.status == "graded":
                ui.link("See your grade report", f"/attempt/{view.attempt_id}/report").mark("report-link")
        with ui.splitter(value=46, limits=(25, 75)).classes("w-full").style("height: calc(100vh - 190px)") as split:
            with split.before:
                with ui.column().classes("w-full h-full overflow-auto pr-3"):
                    _paper_chart(view)
            with split.after:
                with ui.column().classes("w-full h-full overflow-auto pl-3 gap-2"):
                    ehr_panel(store, user, view, patient, get_encoder if view.codes else None)


def _paper_chart(view: assignments.AttemptView) -> None:
    ui.label("Paper chart").classes("text-h6")
    patients = list(dict.fromkeys(p.patient for p in view.pages))
    with ui.tabs().classes("w-full text-primary").props("align=left dense no-caps outside-arrows mobile-arrows").mark(
            "chart-tabs") as tabs:
        tab_list = []
        for p in view.pages:
            label = p.title if len(patients) == 1 else f"{p.patient.split()[-1]}: {p.title}"
            tab_list.append(ui.tab(f"{p.patient}|{p.section}", label=label).mark(f"tab-{p.section}"))
    with ui.tab_panels(tabs, value=tab_list[0], animated=False).classes("w-full bg-transparent"):
        for p, tab in zip(view.pages, tab_list, strict=True):
            with ui.tab_panel(tab).classes("px-0"):
                with ui.element("div").classes("hitsim-chart hitsim-chart-paper").mark(f"chart-{p.section}"):
                    ui.html(f"<h2>{escape(p.title)} — {escape(p.patient)}</h2>{p.html}").classes("w-full")


def grade_report_view(report: dict) -> None:
    """The score, the points by section, and every finding in the student's words."""
    with ui.row().classes("items-baseline gap-4"):
        ui.label(f"{report['score']:.1f}").classes("text-h3 text-primary").mark("score")
        ui.label("out of 100").classes("text-h6 hitsim-muted")
    with ui.card().classes("w-full"):
        ui.label("Points by section").classes("hitsim-card-title")
        for s in report["sections"]:
            with ui.row().classes("w-full justify-between border-b py-1"):
                ui.label(s["title"])
                ui.label(f"{s['points_earned']:.2f} / {s['points_possible']:.2f}")
    with ui.card().classes("w-full"):
        ui.label(f"Findings ({len(report['findings'])})").classes("hitsim-card-title")
        if not report["findings"]:
            ui.label("Everything on the chart was entered correctly.").mark("no-findings")
        groups: dict[str, list[dict]] = {}
        for f in report["findings"]:
            groups.setdefault(f["section"], []).append(f)
        for section, items in groups.items():
            lost = sum(f["points_lost"] for f in items)
            title = f"{section.capitalize()} — {len(items)} finding{'s' if len(items) != 1 else ''}, −{lost:.2f} points"
            with ui.expansion(title, value=len(groups) <= 3).classes("w-full").props("dense header-class=text-weight-medium"):
                for f in items:
                    with ui.row().classes("w-full items-start gap-3 border-b py-2 no-wrap").mark("finding"):
                        ui.badge(f["kind"], color={"missing": "orange-8", "extra": "purple-6", "wrong": "red-7",
                                                    "partial": "amber-8"}.get(f["kind"], "grey")).classes("mt-1")
                        with ui.column().classes("gap-0 grow"):
                            ui.label(f["message"])
                            ui.label(f["path"]).classes("text-xs hitsim-muted")
                        ui.label(f"−{f['points_lost']:.2f}").classes("text-negative font-medium")
