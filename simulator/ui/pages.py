"""The pages. Each one builds widgets and asks a service; access rules live in the services.

Sessions: the signed browser cookie holds the account and the session epoch it began in; the one
AuthMiddleware checks it against the database on every page request, and every service call checks it
again (``accounts.require_live_session``), so a session ended elsewhere ends in open tabs too.
"""

from __future__ import annotations

import asyncio
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
from simulator.services import accounts, assignments, consistency, workspace
from simulator.services.errors import NO_SUCH_ATTEMPT, NotFound, PermissionDenied, ServiceError
from simulator.store import Store
from simulator.ui import frame as frame_module
from simulator.ui.audit_session import current_workstation, track_chart_session
from simulator.ui.classes import class_links
from simulator.ui.consistency_report import consistency_page
from simulator.ui.frame import frame, signed_in_user
from simulator.ui.instructor_common import score_change_notice
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
    async def attempt_page(attempt_id: str, patient: str = "", tab: str = "") -> None:
        user = signed_in_user()
        assert user is not None
        try:
            view = assignments.attempt_view(store, user=user, attempt_id=_known_id(attempt_id))
        except (NotFound, PermissionDenied) as exc:
            _refused("Attempt", exc)
            return
        if "consistency" in view.tasks:
            # The record is built off the event loop (started with the attempt); until it is ready the page says so.
            record = consistency.prepare_record(store, user=user, attempt_id=view.attempt_id)
            if not record.done():
                with ui.column().classes("w-full items-center mt-16 gap-4") as waiting:
                    ui.spinner(size="xl")
                    ui.label("Preparing this attempt's record of visits to compare…").mark("record-preparing")
                await ui.context.client.connected()
                await asyncio.wrap_future(record)
                waiting.delete()
            consistency_page(store, user, view, patient)
            return
        _workspace(store, user, view, patient[:100], get_encoder, tab[:20])

    @ui.page("/class/{class_id}/audit")
    def class_audit_page(class_id: int) -> None:
        from simulator.ui.audit_report import class_audit_report

        user = signed_in_user()
        assert user is not None
        class_audit_report(store, user, class_id, _refused)

    @ui.page("/attempt/{attempt_id}/report")
    def report_page(attempt_id: str) -> None:
        user = signed_in_user()
        assert user is not None
        try:
            view = assignments.attempt_view(store, user=user, attempt_id=_known_id(attempt_id))
            report = workspace.grade_report(store, user=user, attempt_id=view.attempt_id, workstation=current_workstation())
        except (NotFound, PermissionDenied) as exc:
            _refused("Grade report", exc)
            return
        with frame(f"Grade report: {view.assignment_title}"):
            if report is None:
                ui.label("This attempt has not been graded yet.").mark("not-graded")
                ui.link("Back to the attempt", f"/attempt/{attempt_id}")
                return
            score_change_notice(store, user, view.attempt_id)
            if report.get("key_withheld"):
                ui.label("Your score and what was wrong are below. The expected codes are not shown yet" + (
                    ": they are shown after the due date." if view.release_policy == "after-due-date" else
                    " (this assignment does not show them to students).")).classes(
                    "text-sm bg-amber-1 p-2 rounded").mark("key-withheld")
            grade_report_view(report, view.attempt_id)
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
    """Start the next attempt of an assignment on a click (no GET starts one), then show its workspace."""
    try:
        attempt_id = assignments.start_attempt(store, user=user, assignment_id=assignment_id)
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
                        with ui.row().classes("items-center gap-3"):
                            if row.score is not None:
                                ui.label(f"{row.score:.1f} / 100").classes("text-h6 text-primary").mark("list-score")
                            ui.badge(row.status, color="grey-7" if row.status == "not started" else "primary").mark(
                                "status")
                        ui.label(f"Attempts left: {row.attempts_left} of {row.attempts_allowed}").classes("text-sm")
                        _assignment_actions(store, user, row)


def _assignment_actions(store: Store, user: accounts.SignedInUser, row: assignments.AssignmentSummary) -> None:
    """Continue, review and start are separate actions; starting an attempt asks first and says what is left."""
    with ui.row().classes("gap-2"):
        if row.in_progress_attempt_id is not None:
            ui.button("Continue", icon="edit_note",
                      on_click=lambda: ui.navigate.to(f"/attempt/{row.in_progress_attempt_id}")).mark(
                f"open-{row.assignment_id}")
        elif row.latest_attempt_id is not None:
            target = (f"/attempt/{row.graded_attempt_id}/report" if row.graded_attempt_id is not None
                      else f"/attempt/{row.latest_attempt_id}")
            ui.button("Review", icon="fact_check", on_click=lambda: ui.navigate.to(target)).mark(
                f"review-{row.assignment_id}")
        if row.may_start:
            number = row.attempts_used + 1
            label = "Start" if number == 1 else f"Start attempt {number}"
            with ui.dialog() as dialog, ui.card().classes("max-w-lg").mark("start-dialog"):
                ui.label(f"Start attempt {number} of {row.attempts_allowed}?").classes("text-h6")
                left = row.attempts_left - 1
                ui.label(f"This uses one attempt; {left} will be left after it." if left else
                         "This is your last attempt.").mark("attempts-after-start")
                if number > 1:
                    ui.label("Your earlier attempts and their reports stay as they are. " + (
                        "The new attempt has the same chart; you start with an empty record." if row.same_chart else
                        "The new attempt has a new patient chart; you start with an empty record."))

                def start() -> None:
                    dialog.close()
                    try:
                        attempt_id = assignments.start_attempt(store, user=user, assignment_id=row.assignment_id)
                    except (NotFound, PermissionDenied) as exc:
                        ui.notify(str(exc), type="negative")
                        return
                    ui.navigate.to(f"/attempt/{attempt_id}")

                with ui.row().classes("justify-end w-full"):
                    ui.button("Cancel", on_click=dialog.close).props("flat")
                    ui.button(f"Start attempt {number}", icon="play_arrow", on_click=start).mark("confirm-start")
            ui.button(label, icon="play_arrow", on_click=dialog.open).props(
                "outline" if row.latest_attempt_id is not None else "").mark(
                f"start-{row.assignment_id}" if row.latest_attempt_id is not None else f"open-{row.assignment_id}")


def _instructor_home(store: Store, user: accounts.SignedInUser) -> None:
    try:
        classes = assignments.instructor_overview(store, user=user)
    except PermissionDenied as exc:
        with frame("Classes"):
            ui.label(str(exc)).classes("text-negative")
        return
    with frame("Your classes"):
        with ui.row().classes("gap-2"):
            ui.button("New class", icon="add", on_click=lambda: ui.navigate.to("/classes/new")).props("outline").mark("new-class")
            ui.button("Scenario library", icon="library_books", on_click=lambda: ui.navigate.to("/library")).props(
                "outline").mark("open-library")
        if not classes:
            ui.label("You do not teach a class yet.").classes("hitsim-muted")
        for c in classes:
            with ui.card().classes("w-full").mark(f"class-{c.class_id}"):
                ui.label(f"{c.name} ({c.term})").classes("hitsim-card-title")
                with ui.row().classes("items-baseline gap-4"):
                    ui.label(f"{c.students} student{'s' if c.students != 1 else ''} enrolled").classes("hitsim-muted")
                    ui.link("Access audit of this class's records", f"/class/{c.class_id}/audit").classes(
                        "text-sm").mark(f"class-audit-{c.class_id}")
                class_links(c.class_id)
                if not c.assignments:
                    ui.label("No assignments yet.").classes("hitsim-muted")
                for assignment_id, title, scenario_title, due in c.assignments:
                    with ui.row().classes("w-full items-baseline gap-4 border-t pt-2").mark(f"assignment-{assignment_id}"):
                        ui.label(title).classes("font-medium")
                        ui.label(scenario_title).classes("hitsim-muted")
                        ui.label(f"Due {_format_due(due)}").classes("text-sm")
                        ui.link("settings & analysis", f"/assignments/{assignment_id}").classes("text-sm")
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


WORKSPACE_CSS = """
.hitsim-wrap-tabs .q-tabs__content { flex-wrap: wrap !important; }
.hitsim-wrap-tabs .q-tabs__arrow { display: none !important; }
.hitsim-wrap-tabs .q-tab { min-height: 34px; padding: 0 8px; flex: 0 1 auto; }
.hitsim-workspace .q-splitter__separator { width: 6px; background: #d8dcd4; }
/* The workspace fills the window and no more: the page never scrolls, each side scrolls on its own. */
.nicegui-content:has(.hitsim-workspace) { padding: 0; }
.hitsim-page.wide:has(.hitsim-workspace) { height: calc(100vh - 48px); padding: 8px 16px 8px; gap: 4px; flex-wrap: nowrap; }
.hitsim-page.wide:has(.hitsim-workspace) > .text-2xl { font-size: 1.25rem; line-height: 1.75rem; }
.hitsim-workspace { flex: 1 1 0; min-height: 360px; }
/* List rows: compact fields that keep their room for a message; the long names take what is left of the line. */
.hitsim-entry-row > .q-field { flex: 0 0 auto; }
.hitsim-entry-row > .q-textarea { order: 1; }  /* a note's text under its visit and type, Delete beside those */
.hitsim-entry-row > .q-field.hitsim-grow { flex: 1 1 auto; }
.hitsim-entry-row .q-field--dense .q-field__control { padding: 0 8px; }
/* The clear (x) button shows on the field under the pointer or with the focus: text has the room otherwise. */
.hitsim-entry-row .q-field:not(:hover):not(.q-field--focused) .q-field__append:has(.q-field__focusable-action) {
  display: none; }
.hitsim-entry-row { container-type: inline-size; }
.hitsim-row-break { flex-basis: 100%; height: 0; }
.hitsim-ehr-actions .q-btn__content { flex-wrap: nowrap; white-space: nowrap; }
@media print {  /* a printed record: the EHR side only, without the app's header, the paper chart or buttons */
  .q-header, .hitsim-ehr-actions, .hitsim-workspace .q-splitter__before, .hitsim-workspace .q-splitter__separator,
  .q-btn { display: none !important; }
  .hitsim-workspace .q-splitter__after { width: 100% !important; }
  .hitsim-workspace, .hitsim-page.wide:has(.hitsim-workspace) { height: auto !important; }
  .hitsim-workspace .overflow-auto { overflow: visible !important; height: auto !important; }
}
"""

# Runs in the browser: the clear (x) buttons of pick-lists leave the tab order (Tab goes field to field);
# type-ahead in a closed pick-list ("F" picks Female, "FF" the next F...) as in a desktop EHR; and when the
# connection to the server drops, the save indicator says so at once (it cannot stay green for changes
# the server never received).
WORKSPACE_JS = """
<script>
(() => {
  const untab = (root) => root.querySelectorAll('.q-field__focusable-action').forEach(el => el.setAttribute('tabindex', '-1'));
  new MutationObserver(() => untab(document)).observe(document.documentElement, {childList: true, subtree: true});
  const typed = {text: '', until: 0};
  document.addEventListener('keydown', (e) => {
    const target = e.target;
    if (!target.classList || !target.classList.contains('q-select__focus-target')) return;
    if (e.key.length !== 1 || e.key === ' ' || e.altKey || e.ctrlKey || e.metaKey) return;
    if (target.getAttribute('aria-expanded') === 'true') return;  // an open list: Quasar's own type-ahead
    let select = null;  // the QSelect behind this field: the nearest NiceGUI element that holds one
    for (let el = target; el && !select; el = el.parentElement) {
      const vm = el.id && el.id.startsWith('c') ? getElement(el) : null;
      select = vm && vm.$refs && vm.$refs.qRef && vm.$refs.qRef.toggleOption ? vm.$refs.qRef : null;
    }
    if (!select || !select.options || select.options.length === 0) return;
    const now = Date.now();
    typed.text = (now < typed.until ? typed.text : '') + e.key.toLowerCase();
    typed.until = now + 1000;
    const repeat = typed.text.split('').every(c => c === typed.text[0]);
    const prefix = repeat ? typed.text[0] : typed.text;
    const options = select.options;
    const current = options.findIndex(o => select.isOptionSelected(o));
    const matches = (o) => String(select.getOptionLabel(o)).toLowerCase().startsWith(prefix);
    let pick = -1;
    for (let step = repeat ? 1 : 0; step <= options.length; step++) {
      const i = ((current < 0 ? 0 : current) + step) % options.length;
      if (matches(options[i])) { pick = i; break; }
    }
    e.preventDefault();
    e.stopPropagation();
    if (pick >= 0 && !select.isOptionSelected(options[pick])) select.toggleOption(options[pick]);
  }, true);
  const watch = setInterval(() => {
    if (!window.socket) return;
    clearInterval(watch);
    const shown = new Map();  // what the indicator said before the connection dropped
    window.socket.on('disconnect', () => document.querySelectorAll('.hitsim-save-status').forEach(el => {
      shown.set(el, [el.textContent, el.className]);
      el.textContent = 'Not saved: the connection to the server is lost. Changes you make now are not saved '
        + 'until it comes back.';
      el.classList.remove('text-positive', 'text-grey-8');
      el.classList.add('text-negative');
    }));
    // Back on the same server: what it said stands, and changes typed meanwhile are sent now (a restarted
    // server makes NiceGUI reload the page instead, which shows what the server has).
    window.socket.on('connect', () => shown.forEach(([text, cls], el) => { el.textContent = text; el.className = cls; }));
  }, 200);
})();
</script>
"""


def _workspace(store: Store, user: accounts.SignedInUser, view: assignments.AttemptView, patient: str,
               get_encoder: Callable[[], Encoder] | None, tab: str = "") -> None:
    workstation = track_chart_session(store, user, view.attempt_id)
    if "audit" in view.tasks and not set(view.tasks) & {"enter", "verify", "code"}:
        _audit_workspace(store, user, view, workstation)
        return
    ui.add_css(WORKSPACE_CSS)
    ui.add_head_html(WORKSPACE_JS)
    with frame(view.assignment_title, wide=True):
        with ui.row().classes("w-full items-center gap-3 hitsim-muted text-sm"):
            ui.label(f"{view.class_name} · {view.scenario_title}")
            ui.label(f"Attempt {view.number} of {view.attempts_allowed}")
            ui.badge(view.status).mark("attempt-status")
            ui.label(f"Due {_format_due(view.due_at)}")
            if view.status == "graded":
                ui.link("See your grade report", f"/attempt/{view.attempt_id}/report").mark("report-link")
        # The split is resizable (drag the bar); both sides scroll on their own within the window.
        # The EHR side, where the typing is, gets the larger share: at 1366 px a lab result fits on one line.
        with ui.splitter(value=42, limits=(20, 80)).classes("w-full hitsim-workspace") as split:
            with split.before:
                with ui.column().classes("w-full h-full overflow-auto pr-2"):
                    _paper_chart(view)
            with split.after:
                with ui.column().classes("w-full h-full overflow-auto pl-2 gap-2 pb-4"):
                    ehr_panel(store, user, view, patient, get_encoder if view.codes else None, tab)


def _audit_workspace(store: Store, user: accounts.SignedInUser, view: assignments.AttemptView, workstation) -> None:  # type: ignore[no-untyped-def]
    """A scenario whose task is the access audit: the report over the facility's log, and the student's flags."""
    from simulator.ui.audit_report import audit_exercise_panel

    with frame(view.assignment_title, wide=True):
        with ui.row().classes("w-full items-center gap-3 hitsim-muted"):
            ui.label(f"{view.class_name} · {view.scenario_title}")
            ui.label(f"Attempt {view.number} of {view.attempts_allowed}")
            ui.badge(view.status).mark("attempt-status")
            ui.label(f"Due {_format_due(view.due_at)}")
            if view.status == "graded":
                ui.link("See your grade report", f"/attempt/{view.attempt_id}/report").mark("report-link")
        ui.label("Run the access-audit report on the facility's log and flag every access that breaks the access "
                 "policy, with the policy category and a note. Flags are saved as you make them.").classes("text-sm")
        audit_exercise_panel(store, user, view.attempt_id, workstation)
        if view.status == "in progress" and user.role == "student":
            from simulator.ui.workspace import submit_button

            with ui.row().classes("w-full justify-end mt-4"):
                submit_button(store, user, view)


def _paper_chart(view: assignments.AttemptView) -> None:
    ui.label("Paper chart").classes("text-h6")
    patients = list(dict.fromkeys(p.patient for p in view.pages))
    with ui.tabs().classes("w-full text-primary hitsim-wrap-tabs").props("align=left dense no-caps").mark(
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


# A report section -> the record's tab where its entries are ("encounter 2" -> encounters).
FINDING_TABS = {"demographics": "demographics", "insurance": "demographics", "encounter": "encounters",
                "encounters": "encounters", "problem list": "problems", "medications": "medications",
                "allergies": "allergies", "vital signs": "vitals", "lab results": "labs", "procedures": "procedures",
                "notes": "notes", "coding": "coding"}


def finding_tab(section: str) -> str | None:
    """The record's tab for a finding's section ("Mary Young — coding, visit 2" -> "coding"); None: no one tab."""
    words = re.sub(r"(,\s*visit|\s)\s*\d+$", "", section.split(" — ")[-1]).strip()
    return FINDING_TABS.get(words)


def grade_report_view(report: dict, attempt_id: int | None = None) -> None:
    """The score, the points by section, and every finding in the student's words; with ``attempt_id`` each
    finding links to its section of the record (shown next to the chart, read-only once submitted)."""
    if report.get("summary"):  # verify task: how many planted errors were caught, and the ones missed
        with ui.card().classes("w-full").mark("verify-summary"):
            ui.label(report["summary"].split(" Missed: ")[0]).classes("text-h6")
            for m in report.get("missed", []):
                ui.label(f"Missed: {m['description']} — chart says {m['chart_says']}, "
                         f"the record still has {m['record_has']}").classes("text-negative")
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
            title = f"{section[:1].upper()}{section[1:]} — {len(items)} finding{'s' if len(items) != 1 else ''}, −{lost:.2f} points"
            with ui.expansion(title, value=len(groups) <= 3).classes("w-full").props("dense header-class=text-weight-medium"):
                for f in items:
                    with ui.row().classes("w-full items-start gap-3 border-b py-2 no-wrap").mark("finding"):
                        ui.badge(f["kind"], color={"missing": "orange-8", "extra": "purple-6", "wrong": "red-7",
                                                    "partial": "amber-8"}.get(f["kind"], "grey")).classes("mt-1")
                        with ui.column().classes("gap-0 grow"):
                            ui.label(f["message"])
                            with ui.row().classes("items-baseline gap-3"):
                                tab = finding_tab(section)
                                if attempt_id is not None and tab:
                                    ui.link("Show in the record", f"/attempt/{attempt_id}?tab={tab}").classes(
                                        "text-xs").mark("finding-link")
                                ui.label(f["path"]).classes("text-xs hitsim-muted")
                        ui.label(f"−{f['points_lost']:.2f}").classes("text-negative font-medium")
