"""Assignments and attempts: what a student sees and opens, what an instructor sets up.

Every function takes the signed-in user and checks, on the server, that they may do this.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from simulator.chart import ChartPage
from simulator.generate.scenario import Scenario
from simulator.services import cases
from simulator.services.accounts import SignedInUser, require_live_session
from simulator.services.errors import NO_SUCH_ATTEMPT, InvalidInput, NotFound, PermissionDenied
from simulator.store import Store, repo
from simulator.store.models import RELEASE_POLICIES, Assignment, Attempt

STATUS_LABELS = {None: "not started", "in-progress": "in progress", "submitted": "submitted", "graded": "graded"}


@dataclass(frozen=True)
class AssignmentSummary:
    assignment_id: int
    title: str
    class_name: str
    scenario_title: str
    difficulty: str
    due_at: dt.datetime | None
    status: str  # not started | in progress | submitted | graded
    attempts_used: int
    attempts_allowed: int
    latest_attempt_id: int | None

    @property
    def attempts_left(self) -> int:
        return max(0, self.attempts_allowed - self.attempts_used)


@dataclass(frozen=True)
class AttemptView:
    attempt_id: int
    assignment_id: int
    assignment_title: str
    scenario_title: str
    class_name: str
    number: int
    attempts_allowed: int
    status: str
    due_at: dt.datetime | None
    pages: tuple[ChartPage, ...]
    codes: bool  # whether coding is one of the scenario's tasks


def _require_role(user: SignedInUser, *roles: str) -> None:
    if user.role not in roles:
        raise PermissionDenied("This page is not available to your account.")


def student_assignments(store: Store, *, user: SignedInUser) -> list[AssignmentSummary]:
    _require_role(user, "student")
    out = []
    with store.session() as s:
        require_live_session(s, user)
        for a in repo.assignments_for_student(s, student_id=user.id):
            attempts = repo.attempts_of(s, assignment_id=a.id, student_id=user.id)
            latest = attempts[-1] if attempts else None
            out.append(AssignmentSummary(
                assignment_id=a.id, title=a.title, class_name=a.school_class.name, scenario_title=a.scenario.title,
                difficulty=a.scenario.difficulty, due_at=a.due_at,
                status=STATUS_LABELS[latest.status if latest else None], attempts_used=len(attempts),
                attempts_allowed=a.attempts_allowed, latest_attempt_id=latest.id if latest else None,
            ))
    return out


def open_assignment(store: Store, *, user: SignedInUser, assignment_id: int) -> int:
    """The attempt to work on: the one in progress, else a new one while attempts remain. Returns its id."""
    _require_role(user, "student")
    with store.session() as s:
        require_live_session(s, user)
        a = repo.get_assignment(s, assignment_id=assignment_id)
        if a is None or not repo.is_enrolled(s, class_id=a.class_id, user_id=user.id):
            raise NotFound("No such assignment in your classes.")
        attempts = repo.attempts_of(s, assignment_id=a.id, student_id=user.id)
        if attempts and attempts[-1].status == "in-progress":
            return attempts[-1].id
        if len(attempts) >= a.attempts_allowed:
            if attempts:
                return attempts[-1].id  # read-only review of the last attempt
            raise PermissionDenied("No attempts remain for this assignment.")
        if a.due_at is not None and dt.datetime.now(dt.UTC) > _aware(a.due_at):
            if attempts:
                return attempts[-1].id
            raise PermissionDenied(f"This assignment was due {a.due_at:%b %d, %Y %H:%M} UTC; it can no longer be started.")
        number = len(attempts) + 1
        seed = cases.variant_seed(store.seed_secret, a.seed, user.id, number) if a.per_student_variants else a.seed
        attempt_id = repo.create_attempt(s, assignment_id=a.id, student_id=user.id, number=number, seed=seed).id
    from simulator.services import workspace

    workspace.prefill_verify_task(store, attempt_id=attempt_id)
    return attempt_id


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _owned_attempt(s, user: SignedInUser, attempt_id: int) -> Attempt:  # type: ignore[no-untyped-def]
    require_live_session(s, user)
    attempt = repo.get_attempt(s, attempt_id=attempt_id)
    # One answer whether it does not exist or is someone else's: ids cannot be probed.
    if (attempt is None or (user.role == "student" and attempt.student_id != user.id)
            or (user.role == "instructor" and attempt.assignment.school_class.instructor_id != user.id)):
        raise NotFound(NO_SUCH_ATTEMPT)
    return attempt


def attempt_view(store: Store, *, user: SignedInUser, attempt_id: int) -> AttemptView:
    """The attempt's header and its paper chart: what the student reads. Never the answer key."""
    with store.session() as s:
        attempt = _owned_attempt(s, user, attempt_id)
        a: Assignment = attempt.assignment
        pages = cases.pages_for(a.scenario.source_toml, a.scenario.slug, attempt.seed)
        scenario = cases.case_for(a.scenario.source_toml, a.scenario.slug, attempt.seed).scenario
        return AttemptView(
            attempt_id=attempt.id, assignment_id=a.id, assignment_title=a.title, scenario_title=a.scenario.title,
            class_name=a.school_class.name, number=attempt.number, attempts_allowed=a.attempts_allowed,
            status=STATUS_LABELS[attempt.status], due_at=a.due_at, pages=pages, codes="code" in scenario.tasks,
        )


# ------------------------------------------------------------------------------------------ instructors
@dataclass(frozen=True)
class ClassOverview:
    class_id: int
    name: str
    term: str
    students: int
    assignments: list[tuple[int, str, str, dt.datetime | None]]  # id, title, scenario title, due


def instructor_overview(store: Store, *, user: SignedInUser) -> list[ClassOverview]:
    _require_role(user, "instructor", "admin")
    with store.session() as s:
        require_live_session(s, user)
        return [
            ClassOverview(c.id, c.name, c.term, repo.class_size(s, class_id=c.id),
                          [(a.id, a.title, a.scenario.title, a.due_at) for a in repo.assignments_for_class(s, class_id=c.id)])
            for c in repo.classes_taught_by(s, instructor_id=user.id)
        ]


@dataclass(frozen=True)
class StudentProgress:
    student: str
    username: str
    attempts_used: int
    status: str  # not started | in progress | submitted | graded
    score: float | None  # of the latest graded attempt
    attempt_id: int | None  # the latest attempt


def assignment_progress(store: Store, *, user: SignedInUser, assignment_id: int) -> list[StudentProgress]:
    """Each enrolled student's progress on one assignment, for the instructor who teaches the class."""
    _require_role(user, "instructor", "admin")
    with store.session() as s:
        require_live_session(s, user)
        a = repo.get_assignment(s, assignment_id=assignment_id)
        if a is None or (user.role == "instructor" and a.school_class.instructor_id != user.id):
            raise NotFound("No such assignment in the classes you teach.")
        rows = []
        for student in repo.students_of(s, class_id=a.class_id):
            attempts = repo.attempts_of(s, assignment_id=a.id, student_id=student.id)
            latest = attempts[-1] if attempts else None
            report = repo.latest_grade_report(s, attempt_id=latest.id) if latest else None
            rows.append(StudentProgress(student.display_name, student.username, len(attempts),
                                        STATUS_LABELS[latest.status if latest else None],
                                        report.score if report else None, latest.id if latest else None))
        return rows


def create_assignment(store: Store, *, user: SignedInUser, class_id: int, scenario: Scenario, title: str,
                      due_at: dt.datetime | None, attempts_allowed: int = 1, per_student_variants: bool = True,
                      release_policy: str = "after-due-date") -> int:
    """A new assignment. Its base seed is drawn at random here, whoever calls: never the scenario's public default."""
    _require_role(user, "instructor", "admin")
    if not title.strip():
        raise InvalidInput("title", "Title: required")
    if not 1 <= attempts_allowed <= 20:
        raise InvalidInput("attempts_allowed", "Attempts allowed: a number from 1 to 20")
    if release_policy not in RELEASE_POLICIES:
        raise InvalidInput("release_policy", f"Answer key release: one of {', '.join(RELEASE_POLICIES)}")
    with store.session() as s:
        require_live_session(s, user)
        classes = {c.id for c in repo.classes_taught_by(s, instructor_id=user.id)}
        if class_id not in classes:
            raise PermissionDenied("You can only assign work to classes you teach.")
        version = repo.store_scenario_version(s, slug=scenario.slug, title=scenario.title,
                                              difficulty=scenario.difficulty, source_toml=scenario.source)
        return repo.create_assignment(
            s, class_id=class_id, scenario_id=version.id, title=title.strip(), due_at=due_at,
            attempts_allowed=attempts_allowed, per_student_variants=per_student_variants,
            seed=cases.new_base_seed(), release_policy=release_policy, created_by=user.id,
        ).id
