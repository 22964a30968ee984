"""The access-audit exercise: the planted log a student audits, their flags, and the grade of the audit.

The log is regenerated from the attempt's seed (deterministic, cached); flags are FHIR DetectedIssue
resources saved in the student's workspace like any other entry (versioned, autosaved, submitted).
The planted violations (the key) never leave the server before grading.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from grading import GradeReport
from grading.audit import AuditResult, grade_audit, with_audit
from simulator.audit.events import Workstation
from simulator.audit.planted import DEPARTMENTS, PlantedHistory, history_for
from simulator.audit.settings import VIOLATION_KINDS, AuditSettings
from simulator.fhir import HITSIM
from simulator.generate.scenario import Scenario, parse_scenario
from simulator.reports.access_audit import ReportIndex, Row, planted_rows
from simulator.reports.audit_rules import describe, why_normal
from simulator.services import workspace
from simulator.services.accounts import SignedInUser
from simulator.services.errors import InvalidInput, NotFound
from simulator.services.workspace import SavedResource
from simulator.store import Store

CATEGORY_SYSTEM = f"{HITSIM}/CodeSystem/privacy-violation"
AUDIT_POINTS_WITH_OTHER_TASKS = 25.0


@dataclass(frozen=True)
class AuditExercise:
    attempt_id: int
    read_only: bool
    settings: AuditSettings
    history: PlantedHistory
    index: ReportIndex  # the rows of the report, with their sort orders
    categories: dict[str, str]  # code → the policy's words, the scenario's categories only
    flags: list[SavedResource]


@lru_cache(maxsize=16)
def _index(settings_key: tuple, seed: int) -> ReportIndex:
    events, weeks, violations, categories = settings_key
    return ReportIndex(planted_rows(history_for(AuditSettings(events, weeks, dict(violations), categories), seed)))


def _settings_key(settings: AuditSettings) -> tuple:
    return (settings.events, settings.weeks, tuple(sorted(settings.violations.items())), settings.categories)


def _scenario_and_seed(store: Store, user: SignedInUser, attempt_id: int) -> tuple[Scenario, int]:
    with store.session() as s:
        attempt = workspace._attempt_for(s, user, attempt_id, write=False)
        stored = attempt.assignment.scenario
        scenario = parse_scenario(stored.source_toml, f"stored scenario {stored.slug}", stored.slug)
        seed = attempt.seed
    if "audit" not in scenario.tasks or scenario.audit is None:
        raise NotFound("This assignment has no access-audit task.")
    return scenario, seed


def audit_exercise(store: Store, *, user: SignedInUser, attempt_id: int) -> AuditExercise:
    """The log to audit and the flags saved so far (for the student, or the instructor of the class)."""
    scenario, seed = _scenario_and_seed(store, user, attempt_id)
    settings = scenario.audit
    view = workspace.load_workspace(store, user=user, attempt_id=attempt_id)
    return AuditExercise(attempt_id, view.read_only, settings, history_for(settings, seed),
                         _index(_settings_key(settings), seed),
                         {c: VIOLATION_KINDS[c] for c in settings.categories}, view.of("DetectedIssue"))


def flag_target(flag: dict[str, Any]) -> str:
    return str(((flag.get("implicated") or [{}])[0]).get("reference", ""))


def flag_category(flag: dict[str, Any]) -> str:
    return str(((flag.get("code") or {}).get("coding") or [{}])[0].get("code", ""))


def save_flag(store: Store, *, user: SignedInUser, attempt_id: int, target: str, category: str, note: str,
              current: SavedResource | None = None, workstation: Workstation | None = None) -> SavedResource:
    """Flag an access (``AuditEvent/<id>``) or a user (``Practitioner/<id>``) with a policy category and a note."""
    exercise = audit_exercise(store, user=user, attempt_id=attempt_id)
    kind, _, ident = target.partition("/")
    known = (ident in {a.event_id for a in exercise.history.accesses}) if kind == "AuditEvent" else (
        kind == "Practitioner" and ident in exercise.history.staff)
    if not known:
        raise InvalidInput("target", f"{target!r} is not an access or a user in this log")
    if not category:
        raise InvalidInput("category", "Reason: pick the policy category this access breaks before the flag is saved")
    if category not in exercise.categories:
        raise InvalidInput("category", f"Reason: expected one of {', '.join(exercise.categories.values())}")
    if len(note) > 2000:
        raise InvalidInput("note", "Note: at most 2,000 characters")
    resource: dict[str, Any] = {
        "resourceType": "DetectedIssue",
        "id": current.resource["id"] if current else str(uuid.uuid4()),
        "status": "preliminary",
        "code": {"coding": [{"system": CATEGORY_SYSTEM, "code": category, "display": exercise.categories[category]}]},
        "implicated": [{"reference": target}],
    }
    if note.strip():
        resource["detail"] = note.strip()
    return workspace.save_entry(store, user=user, attempt_id=attempt_id, resource=resource,
                                expected_version=current.version if current else 0, workstation=workstation)


def remove_flag(store: Store, *, user: SignedInUser, attempt_id: int, flag: SavedResource,
                workstation: Workstation | None = None) -> None:
    workspace.delete_entry(store, user=user, attempt_id=attempt_id, resource=flag.resource,
                           expected_version=flag.version, workstation=workstation)


# ------------------------------------------------------------------------------------------ the key and the grade
def violation_text(history: PlantedHistory, kind: str, user: str, events: tuple[str, ...]) -> str:
    """A planted violation in words, as the feedback names it."""
    by_id = history.by_id()
    first = by_id[events[0]]
    staff, patient = history.staff[user], history.patients[first.patient]
    what = describe(history, first)
    if kind == "bulk":
        last = by_id[events[-1]]
        minutes = max(1, round((last.end - first.start).total_seconds() / 60))
        return (f"{staff.short} ({staff.role}, {staff.department}) opened {len(events)} patients' charts in "
                f"{minutes} minutes from {first.workstation}, starting {first.start:%a %m/%d %H:%M}")
    reason = {
        "vip": f"{patient.short} is a VIP ({patient.vip}) and {staff.short} was not on their care team",
        "coworker": f"{patient.short} is a co-worker on the staff directory, not in {staff.short}'s care",
        "relative": f"{patient.short} has {staff.short}'s surname and address (a family member), not in their care",
        "terminated": f"{staff.short}'s account was terminated on {staff.terminated:%m/%d %H:%M}" if staff.terminated else "",
        "after-hours": f"outside {staff.short}'s {staff.shift_hours} shift, from {first.workstation}, not one of "
                       f"their workstations ({', '.join(staff.workstations)})",
        "no-relationship": f"{patient.short} was never in {DEPARTMENTS[staff.department]}; no treatment or work "
                           "relationship",
        "long-session": f"the chart stayed open {round((first.end - first.start).total_seconds() / 60)} minutes",
        "print-export": f"{first.activity} with no documented reason",
    }[kind]
    return f"{what}: {reason}"


def audit_key(history: PlantedHistory) -> list[dict[str, Any]]:
    """The planted violations as DetectedIssue resources: the audit's answer key (server side only)."""
    return [{
        "resourceType": "DetectedIssue", "id": f"violation-{i}", "status": "final",
        "code": {"coding": [{"system": CATEGORY_SYSTEM, "code": v.kind, "display": VIOLATION_KINDS[v.kind]}]},
        "implicated": [{"reference": f"Practitioner/{v.user}"}] + [{"reference": f"AuditEvent/{e}"} for e in v.events],
        "detail": violation_text(history, v.kind, v.user, v.events),
    } for i, v in enumerate(history.violations, start=1)]


def explanations(history: PlantedHistory, flags: list[dict[str, Any]]) -> dict[str, str]:
    """For each flagged access or user: what it was and why it is allowed (used only when it is no violation)."""
    by_id = history.by_id()
    out = {}
    for flag in flags:
        target = flag_target(flag)
        kind, _, ident = target.partition("/")
        if kind == "AuditEvent" and ident in by_id:
            access = by_id[ident]
            out[target] = f"{describe(history, access)}: {why_normal(history, access)}"
        elif kind == "Practitioner" and ident in history.staff:
            s = history.staff[ident]
            out[target] = f"the user {s.short} ({s.role}, {s.department}): none of their accesses breaks the policy"
    return out


def grade_audit_task(scenario: Scenario, seed: int, bundle: dict[str, Any], chart_grade: GradeReport) -> GradeReport:
    """The submission's grade with the audit section: the whole grade when the audit is the only task."""
    assert scenario.audit is not None
    history = history_for(scenario.audit, seed)
    flags = [e["resource"] for e in bundle.get("entry", []) if e.get("resource", {}).get("resourceType") == "DetectedIssue"]
    categories = {c: VIOLATION_KINDS[c] for c in scenario.audit.categories}
    only_audit = not set(scenario.tasks) & {"enter", "verify", "code"}
    points = 100.0 if only_audit else AUDIT_POINTS_WITH_OTHER_TASKS
    result: AuditResult = grade_audit(audit_key(history), flags, explanations(history, flags), categories, points)
    return result.report() if only_audit else with_audit(chart_grade, result)


# ------------------------------------------------------------------------------------------ the class's own trail
WORKDAY = (7, 19)  # after hours on hitsim's own trail: before 07:00 or after 19:00, server time


def class_access_rows(store: Store, *, user: SignedInUser, class_id: int) -> tuple[str, list[Row]]:
    """hitsim's own trail for one class's records (oldest first), for the instructor who teaches it."""
    from simulator.audit.trail import trail_accesses
    from simulator.services.errors import PermissionDenied
    from simulator.store import repo

    if user.role not in ("instructor", "admin"):
        raise PermissionDenied("Only the class's instructor can run the access audit of its records.")
    with store.session() as s:
        classes = {c.id: c.name for c in repo.classes_taught_by(s, instructor_id=user.id)}
        if class_id not in classes:
            raise PermissionDenied("This class is not one you teach.")
        attempts = {a.id for assignment in repo.assignments_for_class(s, class_id=class_id)
                    for student in repo.students_of(s, class_id=class_id)
                    for a in repo.attempts_of(s, assignment_id=assignment.id, student_id=student.id)}
    local = dt.datetime.now().astimezone().tzinfo
    rows = []
    for a in trail_accesses(store):
        if not a.attempt.isdigit() or int(a.attempt) not in attempts:
            continue
        start = (a.start or a.recorded).astimezone(local)
        end = a.end.astimezone(local) if a.end else None
        record = f"{a.student}'s record" + (f" ({a.patient_name})" if a.patient_name else "")
        rows.append(Row(a.event_id, start, end, a.minutes, a.user_id, a.user_name, a.role, classes[class_id],
                        a.workstation, a.address, f"attempt {a.attempt}", record, a.activity, a.purpose,
                        not WORKDAY[0] <= start.hour < WORKDAY[1], f"attempt {a.attempt}", False,
                        f"{a.user_id} {a.user_name}".lower(), f"{a.student} {a.patient_name} attempt {a.attempt}".lower()))
    return classes[class_id], rows
