"""Data functions: the only place that reads and writes rows. Keyword-only, so call sites read as sentences."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from simulator.store.models import (
    Assignment,
    Attempt,
    ConsistencyRecordRow,
    Enrolment,
    FhirResourceVersion,
    GradeReportRow,
    LibraryScenario,
    ScenarioVersion,
    SchoolClass,
    ScoreOverride,
    User,
    utcnow,
)


class VersionConflict(Exception):
    """Someone saved this resource since the version the caller read; the caller must reload."""

    def __init__(self, resource_type: str, logical_id: str, expected: int | None, current: int):
        super().__init__(f"{resource_type}/{logical_id} was saved elsewhere (version {current}, you had {expected})")
        self.current = current


# ------------------------------------------------------------------------------------------ users
def create_user(session: Session, *, username: str, display_name: str, role: str, password_hash: str) -> User:
    user = User(username=username.lower(), display_name=display_name, role=role, password_hash=password_hash)
    session.add(user)
    session.flush()
    return user


def get_user_by_username(session: Session, *, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username.lower()))


MAX_ID = 2**31 - 1  # ids are 32-bit integer columns; a larger number is no row (PostgreSQL would raise)


def _valid_id(value: int) -> bool:
    return isinstance(value, int) and 0 < value <= MAX_ID


def get_user(session: Session, *, user_id: int) -> User | None:
    return session.get(User, user_id) if _valid_id(user_id) else None


def set_password_hash(session: Session, *, user_id: int, password_hash: str) -> None:
    user = session.get(User, user_id)
    if user is not None:
        user.password_hash = password_hash


def end_sessions(session: Session, *, user_id: int) -> None:
    """Raise the account's session epoch: every session that began before is over."""
    user = session.get(User, user_id)
    if user is not None:
        user.session_epoch += 1


def set_active(session: Session, *, user_id: int, active: bool) -> None:
    user = session.get(User, user_id)
    if user is not None:
        user.active = active


# ------------------------------------------------------------------------------------------ classes
def create_class(session: Session, *, name: str, term: str, instructor_id: int) -> SchoolClass:
    school_class = SchoolClass(name=name, term=term, instructor_id=instructor_id)
    session.add(school_class)
    session.flush()
    return school_class


def find_class(session: Session, *, name: str, instructor_id: int) -> SchoolClass | None:
    return session.scalar(select(SchoolClass).where(SchoolClass.name == name,
                                                    SchoolClass.instructor_id == instructor_id))


def enrol(session: Session, *, class_id: int, user_id: int) -> None:
    if session.get(Enrolment, (class_id, user_id)) is None:
        session.add(Enrolment(class_id=class_id, user_id=user_id))
        session.flush()


def is_enrolled(session: Session, *, class_id: int, user_id: int) -> bool:
    return session.get(Enrolment, (class_id, user_id)) is not None


def classes_taught_by(session: Session, *, instructor_id: int) -> list[SchoolClass]:
    return list(session.scalars(select(SchoolClass).where(SchoolClass.instructor_id == instructor_id)
                                .order_by(SchoolClass.name)))


def students_of(session: Session, *, class_id: int) -> list[User]:
    return list(session.scalars(select(User).join(Enrolment, Enrolment.user_id == User.id)
                                .where(Enrolment.class_id == class_id, User.role == "student")
                                .order_by(User.display_name)))


def class_size(session: Session, *, class_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Enrolment).where(Enrolment.class_id == class_id)) or 0


# ------------------------------------------------------------------------------------------ scenarios
def store_scenario_version(session: Session, *, slug: str, title: str, difficulty: str, source_toml: str) -> ScenarioVersion:
    """The stored version of this exact scenario text, added when new (versions are immutable)."""
    digest = hashlib.sha256(source_toml.encode("utf-8")).hexdigest()
    existing = session.scalar(select(ScenarioVersion).where(ScenarioVersion.sha256 == digest))
    if existing is not None:
        return existing
    version = ScenarioVersion(slug=slug, title=title, difficulty=difficulty, source_toml=source_toml, sha256=digest)
    session.add(version)
    session.flush()
    return version


# ------------------------------------------------------------------------------------------ assignments
def create_assignment(session: Session, *, class_id: int, scenario_id: int, title: str, due_at: dt.datetime | None,
                      attempts_allowed: int, per_student_variants: bool, seed: int, release_policy: str,
                      created_by: int, opens_at: dt.datetime | None = None,
                      retry_same_chart: bool = False) -> Assignment:
    assignment = Assignment(class_id=class_id, scenario_id=scenario_id, title=title, due_at=due_at,
                            attempts_allowed=attempts_allowed, per_student_variants=per_student_variants, seed=seed,
                            release_policy=release_policy, created_by=created_by, opens_at=opens_at,
                            retry_same_chart=retry_same_chart)
    session.add(assignment)
    session.flush()
    return assignment


def get_assignment(session: Session, *, assignment_id: int) -> Assignment | None:
    return session.get(Assignment, assignment_id) if _valid_id(assignment_id) else None


def assignments_for_student(session: Session, *, student_id: int) -> list[Assignment]:
    query = (select(Assignment).join(Enrolment, Enrolment.class_id == Assignment.class_id)
             .where(Enrolment.user_id == student_id).order_by(Assignment.due_at, Assignment.id))
    return list(session.scalars(query))


def assignments_for_class(session: Session, *, class_id: int) -> list[Assignment]:
    return list(session.scalars(select(Assignment).where(Assignment.class_id == class_id).order_by(Assignment.id)))


def find_assignment(session: Session, *, class_id: int, title: str) -> Assignment | None:
    return session.scalar(select(Assignment).where(Assignment.class_id == class_id, Assignment.title == title))


# ------------------------------------------------------------------------------------------ attempts
def attempts_of(session: Session, *, assignment_id: int, student_id: int) -> list[Attempt]:
    return list(session.scalars(select(Attempt).where(Attempt.assignment_id == assignment_id,
                                                      Attempt.student_id == student_id).order_by(Attempt.number)))


def create_attempt(session: Session, *, assignment_id: int, student_id: int, number: int, seed: int) -> Attempt:
    attempt = Attempt(assignment_id=assignment_id, student_id=student_id, number=number, seed=seed)
    session.add(attempt)
    session.flush()
    return attempt


def get_attempt(session: Session, *, attempt_id: int) -> Attempt | None:
    return session.get(Attempt, attempt_id) if _valid_id(attempt_id) else None


def mark_submitted(session: Session, *, attempt_id: int) -> None:
    attempt = session.get(Attempt, attempt_id)
    if attempt is not None:
        attempt.status, attempt.submitted_at = "submitted", utcnow()


def claim_submission(session: Session, *, attempt_id: int) -> bool:
    """Mark an in-progress attempt submitted, atomically: True for exactly one of several concurrent callers.

    One conditional UPDATE, so two tabs (or two app processes) submitting at once cannot both win, on
    SQLite (writes are serialised) as on PostgreSQL (the row lock makes the loser re-check the status).
    """
    result = session.execute(update(Attempt).where(Attempt.id == attempt_id, Attempt.status == "in-progress")
                             .values(status="submitted", submitted_at=utcnow())
                             .execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0) == 1)


# ------------------------------------------------------------------------------------------ FHIR resources
def consistency_record(session: Session, *, scenario_id: int, seed: int) -> ConsistencyRecordRow | None:
    return session.get(ConsistencyRecordRow, (scenario_id, seed))


def save_consistency_record(session: Session, *, scenario_id: int, seed: int, format: int, charts: bytes) -> None:
    """Store (or replace, when written in an older format) the record of one scenario version and seed."""
    row = session.get(ConsistencyRecordRow, (scenario_id, seed))
    if row is None:
        session.add(ConsistencyRecordRow(scenario_id=scenario_id, seed=seed, format=format, charts=charts))
    else:
        row.format, row.charts, row.built_at = format, charts, utcnow()


def _latest_version(session: Session, attempt_id: int, resource_type: str, logical_id: str) -> int:
    return session.scalar(select(func.max(FhirResourceVersion.version)).where(
        FhirResourceVersion.attempt_id == attempt_id, FhirResourceVersion.resource_type == resource_type,
        FhirResourceVersion.logical_id == logical_id)) or 0


def save_resource(session: Session, *, attempt_id: int, resource: dict[str, Any], saved_by: int,
                  expected_version: int | None = None, deleted: bool = False) -> int:
    """Append a new version of ``resource`` (never overwrites) and return its version number.

    ``expected_version`` is the version the caller last read (0 for a new resource); when someone has
    saved since, VersionConflict is raised and nothing is written.
    """
    rtype, rid = resource["resourceType"], resource["id"]
    current = _latest_version(session, attempt_id, rtype, rid)
    if expected_version is not None and expected_version != current:
        raise VersionConflict(rtype, rid, expected_version, current)
    version = current + 1
    stored = dict(resource)
    stored["meta"] = {**resource.get("meta", {}), "versionId": str(version)}
    session.add(FhirResourceVersion(attempt_id=attempt_id, resource_type=rtype, logical_id=rid, version=version,
                                    content=json.dumps(stored, ensure_ascii=False), deleted=deleted,
                                    saved_by=saved_by))
    session.flush()
    return version


@dataclass(frozen=True)
class LatestRow:
    resource: dict[str, Any]
    version: int
    saved_at: dt.datetime


def latest_rows(session: Session, *, attempt_id: int) -> list[LatestRow]:
    """The newest version of every live resource in a workspace, with its version and save time."""
    return [LatestRow(json.loads(row.content), row.version, row.saved_at) for row in _latest(session, attempt_id, None)]


def latest_row(session: Session, *, attempt_id: int, resource_type: str, logical_id: str) -> LatestRow | None:
    """The newest version of one resource (None when it was never saved or its newest version is a deletion)."""
    row = session.scalar(select(FhirResourceVersion).where(
        FhirResourceVersion.attempt_id == attempt_id, FhirResourceVersion.resource_type == resource_type,
        FhirResourceVersion.logical_id == logical_id).order_by(FhirResourceVersion.version.desc()).limit(1))
    if row is None or row.deleted:
        return None
    return LatestRow(json.loads(row.content), row.version, row.saved_at)


def latest_resources(session: Session, *, attempt_id: int, resource_type: str | None = None) -> list[dict[str, Any]]:
    """The newest version of every resource in a workspace that is not deleted, oldest first."""
    return [json.loads(row.content) for row in _latest(session, attempt_id, resource_type)]


def _latest(session: Session, attempt_id: int, resource_type: str | None) -> list[FhirResourceVersion]:
    newest = (select(FhirResourceVersion.resource_type, FhirResourceVersion.logical_id,
                     func.max(FhirResourceVersion.version).label("version"))
              .where(FhirResourceVersion.attempt_id == attempt_id)
              .group_by(FhirResourceVersion.resource_type, FhirResourceVersion.logical_id).subquery())
    query = (select(FhirResourceVersion).join(newest, (FhirResourceVersion.resource_type == newest.c.resource_type)
                                              & (FhirResourceVersion.logical_id == newest.c.logical_id)
                                              & (FhirResourceVersion.version == newest.c.version))
             .where(FhirResourceVersion.attempt_id == attempt_id, FhirResourceVersion.deleted.is_(False))
             .order_by(FhirResourceVersion.id))
    if resource_type is not None:
        query = query.where(FhirResourceVersion.resource_type == resource_type)
    return list(session.scalars(query))


def resource_history(session: Session, *, attempt_id: int, resource_type: str, logical_id: str) -> list[FhirResourceVersion]:
    """Every saved version of one resource, newest first (like FHIR ``_history``)."""
    return list(session.scalars(select(FhirResourceVersion).where(
        FhirResourceVersion.attempt_id == attempt_id, FhirResourceVersion.resource_type == resource_type,
        FhirResourceVersion.logical_id == logical_id).order_by(FhirResourceVersion.version.desc())))


# ------------------------------------------------------------------------------------------ grades
def save_grade_report(session: Session, *, attempt_id: int, score: float, report: dict[str, Any],
                      grader_version: str) -> GradeReportRow:
    row = GradeReportRow(attempt_id=attempt_id, score=score, report=json.dumps(report, ensure_ascii=False),
                         grader_version=grader_version)
    session.add(row)
    attempt = session.get(Attempt, attempt_id)
    if attempt is not None:
        attempt.status = "graded"
    session.flush()
    return row


def latest_grade_report(session: Session, *, attempt_id: int) -> GradeReportRow | None:
    return session.scalar(select(GradeReportRow).where(GradeReportRow.attempt_id == attempt_id)
                          .order_by(GradeReportRow.id.desc()).limit(1))


# ------------------------------------------------------------------------------------------ instructor side
def all_classes(session: Session) -> list[SchoolClass]:
    return list(session.scalars(select(SchoolClass).order_by(SchoolClass.name, SchoolClass.id)))


def get_class(session: Session, *, class_id: int) -> SchoolClass | None:
    return session.get(SchoolClass, class_id)


def all_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.role, User.username)))


def usernames_taken(session: Session, *, usernames: list[str]) -> set[str]:
    if not usernames:
        return set()
    return set(session.scalars(select(User.username).where(User.username.in_(usernames))))


def set_role(session: Session, *, user_id: int, role: str) -> None:
    user = session.get(User, user_id)
    if user is not None:
        user.role = role


def set_email(session: Session, *, user_id: int, email: str) -> None:
    user = session.get(User, user_id)
    if user is not None:
        user.email = email


def update_assignment(session: Session, *, assignment_id: int, **values: Any) -> None:
    assignment = session.get(Assignment, assignment_id)
    if assignment is not None:
        for key, value in values.items():
            setattr(assignment, key, value)
        session.flush()


def attempts_for_assignment(session: Session, *, assignment_id: int) -> list[Attempt]:
    return list(session.scalars(select(Attempt).where(Attempt.assignment_id == assignment_id)
                                .order_by(Attempt.student_id, Attempt.number)))


def library_scenarios(session: Session, *, owner_id: int | None) -> list[LibraryScenario]:
    """An instructor's own scenarios (every instructor's when ``owner_id`` is None)."""
    query = select(LibraryScenario).order_by(LibraryScenario.title)
    if owner_id is not None:
        query = query.where(LibraryScenario.owner_id == owner_id)
    return list(session.scalars(query))


def get_library_scenario(session: Session, *, scenario_id: int) -> LibraryScenario | None:
    return session.get(LibraryScenario, scenario_id)


def save_library_scenario(session: Session, *, owner_id: int, slug: str, title: str, difficulty: str,
                          source_toml: str) -> LibraryScenario:
    """Add the instructor's scenario, or replace the text of the one with the same slug."""
    row = session.scalar(select(LibraryScenario).where(LibraryScenario.owner_id == owner_id,
                                                       LibraryScenario.slug == slug))
    if row is None:
        row = LibraryScenario(owner_id=owner_id, slug=slug, title=title, difficulty=difficulty, source_toml=source_toml)
        session.add(row)
    else:
        row.title, row.difficulty, row.source_toml, row.updated_at = title, difficulty, source_toml, utcnow()
    session.flush()
    return row


def add_score_override(session: Session, *, attempt_id: int, score: float, previous_score: float | None, reason: str,
                       overridden_by: int) -> ScoreOverride:
    row = ScoreOverride(attempt_id=attempt_id, score=score, previous_score=previous_score, reason=reason,
                        overridden_by=overridden_by)
    session.add(row)
    session.flush()
    return row


def score_overrides(session: Session, *, attempt_id: int) -> list[ScoreOverride]:
    """Every override of an attempt's score, newest first."""
    return list(session.scalars(select(ScoreOverride).where(ScoreOverride.attempt_id == attempt_id)
                                .order_by(ScoreOverride.id.desc())))
