"""The database schema as SQLAlchemy 2 typed models. Alembic migrations own the real schema."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ROLES = ("student", "instructor", "admin")
ATTEMPT_STATUSES = ("in-progress", "submitted", "graded")
RELEASE_POLICIES = ("after-submission", "after-due-date", "never")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('student', 'instructor', 'admin')", name="ck_users_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(254), default="", server_default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Every session remembers the epoch it began in; raising it (sign-out, deactivation, password reset) ends them all.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SchoolClass(Base):
    """A class (course section) an instructor teaches; students are enrolled in it."""

    __tablename__ = "classes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    term: Mapped[str] = mapped_column(String(64), default="")
    instructor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    instructor: Mapped[User] = relationship()


class Enrolment(Base):
    __tablename__ = "enrolments"

    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    enrolled_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ScenarioVersion(Base):
    """One immutable version of a scenario file: assignments point here, so a key can always be regenerated."""

    __tablename__ = "scenarios"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), index=True)
    title: Mapped[str] = mapped_column(String(300))
    difficulty: Mapped[str] = mapped_column(String(32))
    source_toml: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (
        CheckConstraint("attempts_allowed >= 1", name="ck_assignments_attempts"),
        CheckConstraint("release_policy IN ('after-submission', 'after-due-date', 'never')",
                        name="ck_assignments_release"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id"))
    title: Mapped[str] = mapped_column(String(300))
    opens_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    attempts_allowed: Mapped[int] = mapped_column(Integer, default=1)
    per_student_variants: Mapped[bool] = mapped_column(Boolean, default=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    release_policy: Mapped[str] = mapped_column(String(32), default="after-due-date")
    retry_same_chart: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    scenario: Mapped[ScenarioVersion] = relationship()
    school_class: Mapped[SchoolClass] = relationship()


class Attempt(Base):
    """A student's workspace for one try at an assignment."""

    __tablename__ = "attempts"
    __table_args__ = (
        UniqueConstraint("assignment_id", "student_id", "number", name="uq_attempts_number"),
        CheckConstraint("status IN ('in-progress', 'submitted', 'graded')", name="ck_attempts_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    number: Mapped[int] = mapped_column(Integer, default=1)
    seed: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="in-progress")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    assignment: Mapped[Assignment] = relationship()


class ConsistencyRecordRow(Base):
    """The consistency task's record as the student reads it (the charts of visits), built once per scenario version
    and seed so that every later open, after a restart too, is a read. Never the planted list: that is the key,
    rebuilt on the server for grading."""

    __tablename__ = "consistency_records"

    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"), primary_key=True)
    seed: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    format: Mapped[int] = mapped_column(Integer)  # consistency_record.RECORD_FORMAT it was written in
    charts: Mapped[bytes] = mapped_column(LargeBinary)  # zlib-compressed JSON (consistency_record.charts_to_json)
    built_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FhirResourceVersion(Base):
    """One saved version of one FHIR resource in a workspace. Rows are only ever added, never updated."""

    __tablename__ = "fhir_resources"
    __table_args__ = (
        UniqueConstraint("attempt_id", "resource_type", "logical_id", "version", name="uq_fhir_resources_version"),
        Index("ix_fhir_resources_lookup", "attempt_id", "resource_type", "logical_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"))
    resource_type: Mapped[str] = mapped_column(String(64))
    logical_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)  # FHIR JSON; for a deletion, the last content
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    saved_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    saved_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class GradeReportRow(Base):
    __tablename__ = "grade_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"), index=True)
    score: Mapped[float] = mapped_column(Float)
    report: Mapped[str] = mapped_column(Text)  # the GradeReport as JSON
    grader_version: Mapped[str] = mapped_column(String(32))
    graded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEventRow(Base):
    """One FHIR AuditEvent of the access trail. Append-only: rows are never updated or deleted (the
    migration adds triggers that refuse it), and each row's hash chains it to the row before it."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)  # 1, 2, 3… the event's place in the chain
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    content: Mapped[str] = mapped_column(Text)  # the AuditEvent as canonical JSON (what is hashed)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class LibraryScenario(Base):
    """An instructor's own scenario in the library (a copy of a shipped one, edited, or an upload)."""

    __tablename__ = "library_scenarios"
    __table_args__ = (UniqueConstraint("owner_id", "slug", name="uq_library_scenarios_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    difficulty: Mapped[str] = mapped_column(String(32))
    source_toml: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ScoreOverride(Base):
    """An instructor's change to a graded attempt's score, with the reason. Rows are only added: the history is the audit."""

    __tablename__ = "score_overrides"
    __table_args__ = (CheckConstraint("score >= 0 AND score <= 100", name="ck_score_overrides_score"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"), index=True)
    score: Mapped[float] = mapped_column(Float)
    previous_score: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    overridden_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    overridden_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
