"""Assignments and attempts: what a student sees and opens, what an instructor sets up.

Every function takes the signed-in user and checks, on the server, that they may do this.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

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
    score: float | None = None  # of the latest graded attempt
    graded_attempt_id: int | None = None  # the latest graded attempt: what "Review" opens
    in_progress_attempt_id: int | None = None  # what "Continue" opens
    may_start: bool = False  # attempts remain and the due date has not passed
    same_chart: bool = False  # whether another attempt gets the same chart (no per-student variants)

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
    tasks: tuple[str, ...] = ()  # the scenario's tasks: enter, verify, code, audit, consistency
    graded_sections: tuple[tuple[str, float], ...] = ()  # (section title, points out of 100)
    release_policy: str = "after-due-date"  # when the answer key's codes are shown to the student


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
            graded = next((t for t in reversed(attempts) if t.status == "graded"), None)
            report = repo.latest_grade_report(s, attempt_id=graded.id) if graded else None
            in_progress = latest if latest is not None and latest.status == "in-progress" else None
            out.append(AssignmentSummary(
                assignment_id=a.id, title=a.title, class_name=a.school_class.name, scenario_title=a.scenario.title,
                difficulty=a.scenario.difficulty, due_at=a.due_at,
                status=STATUS_LABELS[latest.status if latest else None], attempts_used=len(attempts),
                attempts_allowed=a.attempts_allowed, latest_attempt_id=latest.id if latest else None,
                score=report.score if report else None, graded_attempt_id=graded.id if graded else None,
                in_progress_attempt_id=in_progress.id if in_progress else None,
                may_start=in_progress is None and len(attempts) < a.attempts_allowed and not _past_due(a),
                same_chart=not a.per_student_variants,
            ))
    return out


def _past_due(a: Assignment) -> bool:
    return a.due_at is not None and dt.datetime.now(dt.UTC) > _aware(a.due_at)


def open_assignment(store: Store, *, user: SignedInUser, assignment_id: int) -> int:
    """The attempt to open: the one in progress, else the latest one (to review it), else the first one.

    Opening never starts a second attempt: that is ``start_attempt``, a separate action the student confirms.
    """
    _require_role(user, "student")
    with store.session() as s:
        a = _enrolled_assignment(s, user, assignment_id)
        attempts = repo.attempts_of(s, assignment_id=a.id, student_id=user.id)
        if attempts:
            return attempts[-1].id
    return start_attempt(store, user=user, assignment_id=assignment_id)


def start_attempt(store: Store, *, user: SignedInUser, assignment_id: int) -> int:
    """Start the next attempt while attempts remain and the due date has not passed. Returns its id.

    With an attempt already in progress (a second tab, a double click) that one is returned: at most one
    attempt is ever in progress.
    """
    _require_role(user, "student")
    with store.session() as s:
        a = _enrolled_assignment(s, user, assignment_id)
        attempts = repo.attempts_of(s, assignment_id=a.id, student_id=user.id)
        if attempts and attempts[-1].status == "in-progress":
            return attempts[-1].id
        if len(attempts) >= a.attempts_allowed:
            raise PermissionDenied(f"No attempts remain for this assignment (you used {len(attempts)} of "
                                   f"{a.attempts_allowed}).")
        if a.opens_at is not None and dt.datetime.now(dt.UTC) < _aware(a.opens_at):
            raise PermissionDenied(f"This assignment opens {a.opens_at:%b %d, %Y %H:%M} UTC.")
        if _past_due(a):
            raise PermissionDenied(f"This assignment was due {a.due_at:%b %d, %Y %H:%M} UTC; "
                                   "a new attempt can no longer be started.")
        number = len(attempts) + 1
        seed = attempt_seed(store, a, user.id, number)
        try:
            with s.begin_nested():
                attempt_id = repo.create_attempt(s, assignment_id=a.id, student_id=user.id, number=number, seed=seed).id
        except IntegrityError:  # another tab started it at the same moment
            attempt_id = repo.attempts_of(s, assignment_id=a.id, student_id=user.id)[-1].id
            return attempt_id
        from simulator.services import consistency, workspace

        record = consistency.RecordSource(a.scenario_id, a.scenario.source_toml, a.scenario.slug, seed)
    workspace.prefill_verify_task(store, attempt_id=attempt_id)
    if record.is_consistency_task:
        consistency.record_future(store, record)  # built in the background from now, then stored
    return attempt_id


def _enrolled_assignment(s, user: SignedInUser, assignment_id: int) -> Assignment:  # type: ignore[no-untyped-def]
    require_live_session(s, user)
    a = repo.get_assignment(s, assignment_id=assignment_id)
    if a is None or not repo.is_enrolled(s, class_id=a.class_id, user_id=user.id):
        raise NotFound("No such assignment in your classes.")
    return a


def attempt_seed(store: Store, a: Assignment, student_id: int, number: int) -> int:
    """The chart an attempt gets: per student or shared, and the same on a retry when the assignment says so.

    Every seed but the assignment's own base seed is derived under the installation's secret (cases.variant_seed).
    """
    chart_number = 1 if a.retry_same_chart else number
    if a.per_student_variants:
        return cases.variant_seed(store.seed_secret, a.seed, student_id, chart_number)
    return a.seed if chart_number == 1 else cases.variant_seed(store.seed_secret, a.seed, 0, chart_number)


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
        source, slug = a.scenario.source_toml, a.scenario.slug
        scenario = cases.scenario_for(source, slug)
        # The consistency page shows neither the paper chart nor the instructions' graded sections: generating them
        # (the case, and the whole consistency record for the sections' points) would hold the event loop.
        workspace_page = "consistency" not in scenario.tasks
        return AttemptView(
            attempt_id=attempt.id, assignment_id=a.id, assignment_title=a.title, scenario_title=a.scenario.title,
            class_name=a.school_class.name, number=attempt.number, attempts_allowed=a.attempts_allowed,
            status=STATUS_LABELS[attempt.status], due_at=a.due_at,
            pages=cases.pages_for(source, slug, attempt.seed) if workspace_page else (),
            codes="code" in scenario.tasks, tasks=tuple(scenario.tasks), release_policy=a.release_policy,
            graded_sections=cases.graded_sections(source, slug, attempt.seed) if workspace_page else (),
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
                      release_policy: str = "after-due-date", opens_at: dt.datetime | None = None,
                      retry_same_chart: bool = False, tasks: tuple[str, ...] | None = None) -> int:
    """A new assignment. Its base seed is drawn at random here, whoever calls: never the scenario's public default."""
    _require_role(user, "instructor", "admin")
    if not title.strip():
        raise InvalidInput("title", "Title: required")
    if len(title.strip()) > 300:
        raise InvalidInput("title", "Title: at most 300 characters")
    if isinstance(attempts_allowed, bool) or not isinstance(attempts_allowed, int) or not 1 <= attempts_allowed <= 20:
        raise InvalidInput("attempts_allowed", "Attempts allowed: a whole number from 1 to 20")
    if release_policy not in RELEASE_POLICIES:
        raise InvalidInput("release_policy", f"Answer key release: one of {', '.join(RELEASE_POLICIES)}")
    if opens_at is not None and due_at is not None and _aware(due_at) <= _aware(opens_at):
        raise InvalidInput("due_at", f"Due date: must be after the open date ({_aware(opens_at):%m/%d/%Y %H:%M})")
    if tasks is not None and tuple(tasks) != scenario.tasks:
        unknown = [t for t in tasks if t not in scenario.tasks]
        if not tasks or unknown:
            raise InvalidInput("tasks", f"Tasks: choose from this scenario's tasks ({', '.join(scenario.tasks)})")
        from simulator.services.library import with_changes

        scenario = with_changes(scenario, tasks=tuple(t for t in scenario.tasks if t in tasks))
    with store.session() as s:
        require_live_session(s, user)
        school_class = repo.get_class(s, class_id=class_id)
        if school_class is None or (user.role != "admin" and school_class.instructor_id != user.id):
            raise PermissionDenied("You can only assign work to classes you teach.")
        version = repo.store_scenario_version(s, slug=scenario.slug, title=scenario.title,
                                              difficulty=scenario.difficulty, source_toml=scenario.source)
        return repo.create_assignment(
            s, class_id=class_id, scenario_id=version.id, title=title.strip(), due_at=due_at,
            attempts_allowed=attempts_allowed, per_student_variants=per_student_variants,
            seed=cases.new_base_seed(), release_policy=release_policy, created_by=user.id,
            opens_at=opens_at, retry_same_chart=retry_same_chart,
        ).id


def assign_from_library(store: Store, *, user: SignedInUser, class_id: int | None, scenario_key: str, title: str,
                        opens_at: dt.datetime | None, due_at: dt.datetime | None, attempts_allowed: int,
                        release_policy: str, per_student_variants: bool, retry_same_chart: bool,
                        tasks: tuple[str, ...] | None = None) -> int:
    """The instructor's assignment form: a library scenario for one of their classes, checked field by field."""
    from simulator.services import classes, library

    if class_id is None:
        raise InvalidInput("class_id", "Class: choose one of your classes")
    with store.session() as s:
        classes.class_for(s, user, class_id)
    _, scenario = library.load_entry(store, user=user, key=scenario_key)
    return create_assignment(store, user=user, class_id=class_id, scenario=scenario, title=title, due_at=due_at,
                             attempts_allowed=attempts_allowed, per_student_variants=per_student_variants,
                             release_policy=release_policy, opens_at=opens_at, retry_same_chart=retry_same_chart,
                             tasks=tasks)


@dataclass(frozen=True)
class AssignmentSettings:
    assignment_id: int
    class_id: int
    class_name: str
    title: str
    scenario_title: str
    scenario_slug: str
    tasks: tuple[str, ...]
    opens_at: dt.datetime | None
    due_at: dt.datetime | None
    attempts_allowed: int
    release_policy: str
    per_student_variants: bool
    retry_same_chart: bool
    rubric_sections: dict[str, float]  # section -> points, as graded now
    submissions: int


def assignment_settings(store: Store, *, user: SignedInUser, assignment_id: int) -> AssignmentSettings:
    with store.session() as s:
        a = instructors_assignment(s, user, assignment_id)
        scenario = cases.case_for(a.scenario.source_toml, a.scenario.slug, a.seed).scenario
        rubric = scenario.rubric()
        submitted = [t for t in repo.attempts_for_assignment(s, assignment_id=a.id) if t.status != "in-progress"]
        return AssignmentSettings(
            assignment_id=a.id, class_id=a.class_id, class_name=a.school_class.name, title=a.title,
            scenario_title=a.scenario.title, scenario_slug=a.scenario.slug, tasks=scenario.tasks, opens_at=a.opens_at,
            due_at=a.due_at, attempts_allowed=a.attempts_allowed, release_policy=a.release_policy,
            per_student_variants=a.per_student_variants, retry_same_chart=a.retry_same_chart,
            rubric_sections={name: rubric.points(name) for name in RUBRIC_SECTIONS}, submissions=len(submitted))


@dataclass(frozen=True)
class ClassAssignment:
    assignment_id: int
    title: str
    scenario_title: str
    opens_at: dt.datetime | None
    due_at: dt.datetime | None


def class_assignments(store: Store, *, user: SignedInUser, class_id: int) -> list[ClassAssignment]:
    from simulator.services.classes import class_for

    with store.session() as s:
        class_for(s, user, class_id)
        return [ClassAssignment(a.id, a.title, a.scenario.title, a.opens_at, a.due_at)
                for a in repo.assignments_for_class(s, class_id=class_id)]


RUBRIC_SECTIONS = ("demographics", "encounters", "problem_list", "medications", "allergies", "vitals", "labs",
                   "procedures", "notes", "coding")


def instructors_assignment(s, user: SignedInUser, assignment_id: int) -> Assignment:  # type: ignore[no-untyped-def]
    """The assignment, when the user teaches its class (or is an administrator)."""
    _require_role(user, "instructor", "admin")
    a = repo.get_assignment(s, assignment_id=assignment_id)
    if a is None:
        raise NotFound("No such assignment.")
    if user.role != "admin" and a.school_class.instructor_id != user.id:
        raise PermissionDenied("This assignment belongs to a class you do not teach.")
    return a


# ------------------------------------------------------------------------------------------ variants
@dataclass(frozen=True)
class VariantPlan:
    source_toml: str
    slug: str
    seeds: list[int]  # one per enrolled student (their first attempt's chart)


def variant_plan(store: Store, *, user: SignedInUser, assignment_id: int) -> VariantPlan:
    """What generating the class's variants means: one chart per enrolled student."""
    with store.session() as s:
        a = instructors_assignment(s, user, assignment_id)
        seeds = [attempt_seed(store, a, student.id, 1) for student in repo.students_of(s, class_id=a.class_id)]
        return VariantPlan(a.scenario.source_toml, a.scenario.slug, seeds)


def generate_variants(source_toml: str, slug: str, seeds: list[int]) -> list[str]:
    """Generate these variants (answer key and paper chart); return each case's first patient's name.

    Pure and picklable: the page runs it in a worker process, a batch at a time, to show progress.
    """
    names = []
    for seed in seeds:
        case = cases.case_for(source_toml, slug, seed)
        cases.pages_for(source_toml, slug, seed)
        patient = next(e["resource"] for e in case.key["entry"] if e["resource"]["resourceType"] == "Patient")
        name = patient["name"][0]
        names.append(" ".join([*name.get("given", []), name.get("family", "")]))
    return names
