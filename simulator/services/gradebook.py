"""The gradebook: students × assignments, the instructor's drill-down, score overrides, regrading and CSV export.

Every function checks on the server that the signed-in user teaches the class (or is an administrator).
An override never replaces a grade: it is a new row with the reason, who and when, shown to the student.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grading import GRADER_VERSION, grade
from simulator.audit import trail
from simulator.audit.trail import Workstation
from simulator.generate.scenario import Scenario
from simulator.services import cases, workspace
from simulator.services.accounts import SignedInUser
from simulator.services.assignments import RUBRIC_SECTIONS, STATUS_LABELS, instructors_assignment
from simulator.services.classes import class_for
from simulator.services.errors import InvalidInput, NotFound, PermissionDenied, ServiceError
from simulator.store import Store, repo
from simulator.store.models import Assignment

LMS_FORMATS = ("canvas", "moodle")


@dataclass(frozen=True)
class Cell:
    status: str  # not started | in progress | submitted | graded
    score: float | None  # the score that counts: the override when there is one
    graded_score: float | None  # what the grader gave
    overridden: bool
    attempt_id: int | None  # the latest attempt
    attempts_used: int


@dataclass(frozen=True)
class GradebookRow:
    student_id: int
    name: str
    username: str
    email: str
    cells: dict[int, Cell]  # assignment id -> cell


@dataclass(frozen=True)
class Gradebook:
    class_id: int
    class_name: str
    term: str
    assignments: list[tuple[int, str]]  # id, title
    rows: list[GradebookRow]


@dataclass(frozen=True)
class Override:
    score: float
    previous_score: float | None
    reason: str
    by: str
    at: dt.datetime


def _cell(s, assignment_id: int, student_id: int) -> Cell:  # type: ignore[no-untyped-def]
    attempts = repo.attempts_of(s, assignment_id=assignment_id, student_id=student_id)
    latest = attempts[-1] if attempts else None
    report = repo.latest_grade_report(s, attempt_id=latest.id) if latest else None
    overrides = repo.score_overrides(s, attempt_id=latest.id) if latest else []
    graded = report.score if report else None
    score = overrides[0].score if overrides else graded
    return Cell(STATUS_LABELS[latest.status if latest else None], score, graded, bool(overrides),
                latest.id if latest else None, len(attempts))


def gradebook(store: Store, *, user: SignedInUser, class_id: int) -> Gradebook:
    with store.session() as s:
        c = class_for(s, user, class_id)
        assignments = repo.assignments_for_class(s, class_id=class_id)
        rows = [GradebookRow(st.id, st.display_name, st.username, st.email,
                             {a.id: _cell(s, a.id, st.id) for a in assignments})
                for st in repo.students_of(s, class_id=class_id)]
        return Gradebook(c.id, c.name, c.term, [(a.id, a.title) for a in assignments], rows)


# ------------------------------------------------------------------------------------------ drill-down and overrides
def _instructors_attempt(s, user: SignedInUser, attempt_id: int):  # type: ignore[no-untyped-def]
    if user.role not in ("instructor", "admin"):
        raise PermissionDenied("This page is for instructors.")
    attempt = repo.get_attempt(s, attempt_id=attempt_id)
    if attempt is None:
        raise NotFound("No such attempt.")
    instructors_assignment(s, user, attempt.assignment_id)
    return attempt


def _overrides(s, attempt_id: int) -> list[Override]:  # type: ignore[no-untyped-def]
    out = []
    for row in repo.score_overrides(s, attempt_id=attempt_id):
        by = repo.get_user(s, user_id=row.overridden_by)
        out.append(Override(row.score, row.previous_score, row.reason, by.display_name if by else "?", row.overridden_at))
    return out


@dataclass(frozen=True)
class InstructorReport:
    student: str
    assignment_title: str
    attempt_number: int
    report: dict[str, Any] | None
    overrides: list[Override]  # newest first
    key: dict[str, Any]  # the answer key Bundle the attempt was graded against


def instructor_report(store: Store, *, user: SignedInUser, attempt_id: int,
                      workstation: Workstation | None = None) -> InstructorReport:
    """What the student reads, plus the answer key and the history of score changes. With ``workstation`` (the
    instructor opening the drill-down) the view is recorded in the audit trail."""
    with store.session() as s:
        attempt = _instructors_attempt(s, user, attempt_id)
        a: Assignment = attempt.assignment
        student = repo.get_user(s, user_id=attempt.student_id)
        row = repo.latest_grade_report(s, attempt_id=attempt_id)
        key = cases.case_for(a.scenario.source_toml, a.scenario.slug, attempt.seed).key
        review = InstructorReport(student.display_name if student else "?", a.title, attempt.number,
                                  json.loads(row.report) if row else None, _overrides(s, attempt_id), key)
    if workstation is not None:
        trail.record(store, user=user, activity="report", attempt_id=attempt_id, workstation=workstation)
    return review


def override_score(store: Store, *, user: SignedInUser, attempt_id: int, score: float | None, reason: str,
                   workstation: Workstation | None = None) -> None:
    """Change a graded attempt's score; the reason is kept, shown to the student, and every change stays on record
    (a row of its own, and an AuditEvent in the access-audit trail)."""
    if score is None or isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 100:
        raise InvalidInput("score", "Score: a number from 0 to 100")
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise InvalidInput("reason", "Reason: required; the student reads it (e.g. \"credit for the illegible DOB\")")
    if len(reason) > 1000:
        raise InvalidInput("reason", "Reason: at most 1000 characters")
    with store.session() as s:
        attempt = _instructors_attempt(s, user, attempt_id)
        report = repo.latest_grade_report(s, attempt_id=attempt.id)
        if report is None:
            raise InvalidInput("score", "Score: this attempt has not been graded yet")
        previous = repo.score_overrides(s, attempt_id=attempt.id)
        repo.add_score_override(s, attempt_id=attempt.id, score=round(float(score), 1),
                                previous_score=previous[0].score if previous else report.score, reason=reason,
                                overridden_by=user.id)
    trail.record(store, user=user, activity="override", attempt_id=attempt_id, workstation=workstation)


def score_overrides_for(store: Store, *, user: SignedInUser, attempt_id: int) -> list[Override]:
    """The score changes of an attempt, newest first: for its student (their own) and its instructor."""
    with store.session() as s:
        attempt = repo.get_attempt(s, attempt_id=attempt_id)
        if attempt is None:
            raise NotFound("No such attempt.")
        if user.role == "student":
            if attempt.student_id != user.id:
                raise PermissionDenied("This attempt belongs to another student.")
        else:
            _instructors_attempt(s, user, attempt_id)
        return _overrides(s, attempt_id)


# ------------------------------------------------------------------------------------------ rubric and regrading
class NeedsConfirmation(ServiceError):
    """The change affects submitted work: ask the instructor before doing it."""

    def __init__(self, submissions: int):
        super().__init__(f"{submissions} submission{'s' if submissions != 1 else ''} exist{'s' if submissions == 1 else ''} "
                         "for this assignment; they will be regraded with the new rubric.")
        self.submissions = submissions


def _scenario_of(a: Assignment, seed: int | None = None) -> Scenario:
    return cases.case_for(a.scenario.source_toml, a.scenario.slug, a.seed if seed is None else seed).scenario


def submitted_attempts(store: Store, *, user: SignedInUser, assignment_id: int) -> list[int]:
    with store.session() as s:
        instructors_assignment(s, user, assignment_id)
        return [t.id for t in repo.attempts_for_assignment(s, assignment_id=assignment_id) if t.status != "in-progress"]


def change_rubric(store: Store, *, user: SignedInUser, assignment_id: int, section_points: dict[str, Any],
                  confirmed: bool = False) -> int:
    """Give the assignment new section points (same charts and keys). Returns the submissions to regrade.

    When submissions exist and ``confirmed`` is False nothing changes: NeedsConfirmation says how many.
    """
    from simulator.services.library import with_changes

    points: dict[str, float] = {}
    for section, value in section_points.items():
        if section not in RUBRIC_SECTIONS:
            raise InvalidInput(section, f"{section}: not a rubric section ({', '.join(RUBRIC_SECTIONS)})")
        if value is None or isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
            raise InvalidInput(section, f"{section.replace('_', ' ').capitalize()}: points from 0 to 100")
        points[section] = float(value)
    if not any(points.values()):
        raise InvalidInput(next(iter(points), "demographics"), "Points: at least one section must be worth points")
    with store.session() as s:
        a = instructors_assignment(s, user, assignment_id)
        scenario = _scenario_of(a)
        submitted = [t for t in repo.attempts_for_assignment(s, assignment_id=a.id) if t.status != "in-progress"]
        if submitted and not confirmed:
            raise NeedsConfirmation(len(submitted))
        rubric = json.loads(json.dumps(scenario.rubric_overrides))
        sections = rubric.setdefault("sections", {})
        for section, value in points.items():
            sections.setdefault(section, {})["points"] = value
        changed = with_changes(scenario, rubric=rubric)
        version = repo.store_scenario_version(s, slug=changed.slug, title=changed.title, difficulty=changed.difficulty,
                                              source_toml=changed.source)
        repo.update_assignment(s, assignment_id=a.id, scenario_id=version.id)
        return len(submitted)


def regrade_assignment(store: Store, *, user: SignedInUser, assignment_id: int,
                       progress: Callable[[int, int], None] | None = None) -> int:
    """Grade every submitted attempt again with the assignment's current rubric; returns how many were regraded.

    Each attempt's new report is added (older reports stay); overrides stay in force.
    """
    attempt_ids = submitted_attempts(store, user=user, assignment_id=assignment_id)
    for done, attempt_id in enumerate(attempt_ids, start=1):
        with store.session() as s:
            attempt = _instructors_attempt(s, user, attempt_id)
            a = attempt.assignment
            source, slug, seed = a.scenario.source_toml, a.scenario.slug, attempt.seed
        bundle = workspace.export_bundle(store, user=user, attempt_id=attempt_id)
        case = cases.case_for(source, slug, seed)
        report = grade(case.key, bundle, case.scenario.rubric()).to_dict()
        with store.session() as s:
            repo.save_grade_report(s, attempt_id=attempt_id, score=report["score"], report=report,
                                   grader_version=GRADER_VERSION)
        if progress:
            progress(done, len(attempt_ids))
    return len(attempt_ids)


# ------------------------------------------------------------------------------------------ export
def _text(value: str) -> str:
    """A cell a spreadsheet opens as text, never as a formula (names come from rosters: treat them as hostile)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _canvas_name(name: str) -> str:
    parts = name.split()
    return _text(f"{parts[-1]}, {' '.join(parts[:-1])}" if len(parts) > 1 else name)


def export_csv(store: Store, *, user: SignedInUser, class_id: int, lms: str = "canvas") -> str:
    """The gradebook as CSV for an LMS import (columns documented in the README, "Gradebook export").

    Each assignment is one column, scored out of 100 (the override when there is one); an ungraded
    cell is left empty, which both Canvas and Moodle read as "no grade".
    """
    if lms not in LMS_FORMATS:
        raise InvalidInput("lms", f"Format: one of {', '.join(LMS_FORMATS)}")
    book = gradebook(store, user=user, class_id=class_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    titles = [_text(f"{title} ({aid})") for aid, title in book.assignments]
    section = f"{book.class_name} {book.term}".strip()

    def score(row: GradebookRow, aid: int) -> str:
        value = row.cells[aid].score
        return "" if value is None else f"{value:.1f}"

    if lms == "canvas":
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *titles])
        writer.writerow(["Points Possible", "", "", "", "", *["100"] * len(titles)])
        for row in book.rows:
            writer.writerow([_canvas_name(row.name), "", row.username, row.username, _text(section),
                             *[score(row, aid) for aid, _ in book.assignments]])
    else:
        writer.writerow(["Full name", "Username", "Email address", *titles])
        for row in book.rows:
            writer.writerow([_text(row.name), row.username, _text(row.email), *[score(row, aid) for aid, _ in book.assignments]])
    return out.getvalue()
