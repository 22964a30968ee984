"""A student's workspace: load, save (versioned, validated, with an optimistic check), submit and export.

Every write checks on the server that the signed-in student owns the attempt, that it is still in
progress and that the due date has not passed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import pydantic
from sqlalchemy.exc import IntegrityError

from grading import GRADER_VERSION
from simulator.audit import trail
from simulator.audit.events import PURPOSES
from simulator.audit.trail import Workstation
from simulator.ehr.claims import claim_problems
from simulator.ehr.forms import ref_id
from simulator.fhir import model_class
from simulator.generate.case_files import preentered_record
from simulator.services import cases
from simulator.services.accounts import SignedInUser, require_live_session
from simulator.services.errors import NO_SUCH_ATTEMPT, InvalidInput, NotFound, PermissionDenied
from simulator.store import Store, repo
from simulator.store.models import Attempt
from simulator.store.repo import VersionConflict

__all__ = ["SavedResource", "VersionConflict", "WorkspaceView", "delete_entry", "ensure_patient", "export_bundle",
           "first_patient_id", "grade_report", "load_workspace", "save_entry", "submit_attempt"]

PATIENT_IDS = uuid.UUID("6f0d5c1e-8a57-4d55-9a43-2f1c3b8e9d10")


@dataclass(frozen=True)
class SavedResource:
    resource: dict[str, Any]
    version: int


@dataclass(frozen=True)
class WorkspaceView:
    attempt_id: int
    status: str  # in-progress | submitted | graded
    read_only: bool
    task: str  # enter | verify
    resources: list[SavedResource]
    last_saved_at: dt.datetime | None

    def of(self, resource_type: str) -> list[SavedResource]:
        return [r for r in self.resources if r.resource["resourceType"] == resource_type]


def _attempt_for(s, user: SignedInUser, attempt_id: int, write: bool) -> Attempt:  # type: ignore[no-untyped-def]
    require_live_session(s, user)
    attempt = repo.get_attempt(s, attempt_id=attempt_id)
    # One answer whether it does not exist or is someone else's: ids cannot be probed.
    if (attempt is None or (user.role == "student" and attempt.student_id != user.id)
            or (user.role == "instructor" and attempt.assignment.school_class.instructor_id != user.id)):
        raise NotFound(NO_SUCH_ATTEMPT)
    if user.role != "student" and write:
        raise PermissionDenied("Only the student can change this attempt.")
    if write:
        if attempt.status != "in-progress":
            raise PermissionDenied("This attempt was submitted; it can no longer be changed.")
        due = attempt.assignment.due_at
        if due is not None and dt.datetime.now(dt.UTC) > (due if due.tzinfo else due.replace(tzinfo=dt.UTC)):
            raise PermissionDenied("The due date has passed; the attempt can no longer be changed.")
    return attempt


def task_of(attempt: Attempt) -> str:
    from simulator.generate.scenario import parse_scenario

    scenario = parse_scenario(attempt.assignment.scenario.source_toml, "stored scenario", attempt.assignment.scenario.slug)
    return "verify" if "verify" in scenario.tasks else "enter"


def prefill_verify_task(store: Store, *, attempt_id: int) -> None:
    """A verify task starts from the record a clerk pre-entered, with the scenario's planted errors."""
    with store.session() as s:
        attempt = repo.get_attempt(s, attempt_id=attempt_id)
        if attempt is None or task_of(attempt) != "verify" or repo.latest_resources(s, attempt_id=attempt_id):
            return
        a = attempt.assignment
        record, _ = preentered_record(cases.case_for(a.scenario.source_toml, a.scenario.slug, attempt.seed))
        for entry in record["entry"]:
            res = entry["resource"]
            if res["resourceType"] in ("Organization", "Practitioner"):
                continue
            repo.save_resource(s, attempt_id=attempt_id, resource=res, saved_by=a.created_by)


def load_workspace(store: Store, *, user: SignedInUser, attempt_id: int) -> WorkspaceView:
    with store.session() as s:
        attempt = _attempt_for(s, user, attempt_id, write=False)
        rows = repo.latest_rows(s, attempt_id=attempt_id)
        return WorkspaceView(
            attempt_id=attempt_id, status=attempt.status, read_only=attempt.status != "in-progress" or user.role != "student",
            task=task_of(attempt), resources=[SavedResource(r.resource, r.version) for r in rows],
            last_saved_at=max((r.saved_at for r in rows), default=None),
        )


def _validate(resource: dict[str, Any]) -> None:
    try:
        model_class(resource["resourceType"]).model_validate(resource)
    except KeyError:
        raise InvalidInput("resourceType", f"{resource.get('resourceType')!r} is not a FHIR resource type") from None
    except pydantic.ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        raise InvalidInput(where, f"{resource['resourceType']}.{where}: {err['msg']}") from None
    if resource["resourceType"] == "Claim":
        problem = claim_problems(resource)
        if problem:
            raise InvalidInput("diagnosis", problem)


SENT_TO_CODING = {"system": "https://hitsim.org/fhir/tag", "code": "sent-to-coding", "display": "Sent to coding"}


def is_sent_to_coding(encounter: dict[str, Any]) -> bool:
    return any(t.get("code") == SENT_TO_CODING["code"] for t in encounter.get("meta", {}).get("tag", []))


def visit_ids(resource: dict[str, Any]) -> list[str]:
    """The visits (Encounter ids) a resource belongs to: itself for an Encounter, else what it refers to."""
    if resource["resourceType"] == "Encounter":
        return [resource["id"]]
    refs = [resource.get("encounter")] + list((resource.get("context") or {}).get("encounter") or [])
    return [ref_id(r) for r in refs if isinstance(r, dict)]


def _check_not_sent(s, attempt_id: int, resource: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    """Once a visit is sent to coding its entry is read-only; only its claim may still change."""
    if resource["resourceType"] == "Claim":
        return
    ids = set(visit_ids(resource))
    if not ids:
        return
    for enc in repo.latest_resources(s, attempt_id=attempt_id, resource_type="Encounter"):
        if enc["id"] in ids and is_sent_to_coding(enc):
            start = str(enc.get("period", {}).get("start", ""))[:10]
            raise PermissionDenied(f"The visit of {start} was sent to coding; its entry is read-only now.")


def _current_visit(s, attempt_id: int, encounter_id: str) -> SavedResource:  # type: ignore[no-untyped-def]
    rows = {r.resource["id"]: r for r in repo.latest_rows(s, attempt_id=attempt_id)}
    current = rows.get(encounter_id)
    if current is None or current.resource["resourceType"] != "Encounter":
        raise NotFound("No such visit in this record.")
    return SavedResource(current.resource, current.version)


def _save_visit(s, user: SignedInUser, attempt_id: int, current: SavedResource,  # type: ignore[no-untyped-def]
                sent: bool) -> SavedResource:
    """A new version of the visit, tagged as sent to coding or not."""
    resource = {k: v for k, v in current.resource.items() if k != "meta"}
    meta: dict[str, Any] = {"tag": [SENT_TO_CODING]} if sent else {}
    if meta:
        resource["meta"] = meta
    version = repo.save_resource(s, attempt_id=attempt_id, resource=resource, saved_by=user.id,
                                 expected_version=current.version)
    return SavedResource({**resource, "meta": {**meta, "versionId": str(version)}}, version)


def send_to_coding(store: Store, *, user: SignedInUser, attempt_id: int, encounter_id: str,
                   workstation: Workstation | None = None) -> SavedResource:
    """Move a visit to the coding queue: its entry becomes read-only and its claim can be coded."""
    with store.session() as s:
        _attempt_for(s, user, attempt_id, write=True)
        current = _current_visit(s, attempt_id, encounter_id)
        if is_sent_to_coding(current.resource):
            return current
        saved = _save_visit(s, user, attempt_id, current, sent=True)
    trail.record(store, user=user, activity="edit", attempt_id=attempt_id, workstation=workstation)
    return saved


def reopen_for_entry(store: Store, *, user: SignedInUser, attempt_id: int, encounter_id: str,
                     workstation: Workstation | None = None) -> SavedResource:
    """The instructor gives a visit back to entry (after it was sent to coding), e.g. to let a student fix it."""
    if user.role not in ("instructor", "admin"):
        raise PermissionDenied("Only the instructor can reopen a visit for entry.")
    with store.session() as s:
        attempt = _attempt_for(s, user, attempt_id, write=False)
        if attempt.status != "in-progress":
            raise PermissionDenied("This attempt was submitted; it can no longer be changed.")
        saved = _save_visit(s, user, attempt_id, _current_visit(s, attempt_id, encounter_id), sent=False)
    trail.record(store, user=user, activity="edit", attempt_id=attempt_id, workstation=workstation)
    return saved


def save_entry(store: Store, *, user: SignedInUser, attempt_id: int, resource: dict[str, Any],
               expected_version: int, workstation: Workstation | None = None) -> SavedResource:
    """Save one resource as a new version. ``expected_version`` is the version the form was showing
    (0 for a new entry); if another tab saved since, VersionConflict is raised and nothing is written."""
    if not isinstance(resource.get("id"), str):
        resource = {**resource, "id": str(uuid.uuid4())}
    _validate(resource)
    try:
        with store.session() as s:
            _attempt_for(s, user, attempt_id, write=True)
            _check_not_sent(s, attempt_id, resource)
            version = repo.save_resource(s, attempt_id=attempt_id, resource=resource, saved_by=user.id,
                                         expected_version=expected_version)
    except IntegrityError:  # another tab wrote the same version number at the same moment
        raise VersionConflict(resource["resourceType"], resource["id"], expected_version, expected_version + 1) from None
    stored = {**resource, "meta": {**resource.get("meta", {}), "versionId": str(version)}}
    trail.record(store, user=user, activity="create" if version == 1 else "edit", attempt_id=attempt_id,
                 workstation=workstation)
    return SavedResource(stored, version)


def first_patient_id(attempt_id: int) -> str:
    """The id of a fresh attempt's patient: the same in every tab, so two tabs make one Patient, not two."""
    return str(uuid.uuid5(PATIENT_IDS, f"attempt-{attempt_id}"))


def ensure_patient(store: Store, *, user: SignedInUser, attempt_id: int, patient_id: str) -> SavedResource:
    """The Patient that other entries refer to: created (empty) when missing, else the saved one. Idempotent."""
    def current() -> SavedResource | None:
        with store.session() as s:
            _attempt_for(s, user, attempt_id, write=True)
            row = repo.latest_row(s, attempt_id=attempt_id, resource_type="Patient", logical_id=patient_id)
            return SavedResource(row.resource, row.version) if row else None

    found = current()
    if found is not None:
        return found
    try:
        with store.session() as s:
            version = repo.save_resource(s, attempt_id=attempt_id, resource={"resourceType": "Patient", "id": patient_id},
                                         saved_by=user.id)
    except IntegrityError:  # another tab created it at the same moment
        found = current()
        if found is None:
            raise
        return found
    return SavedResource({"resourceType": "Patient", "id": patient_id, "meta": {"versionId": str(version)}}, version)


def delete_entry(store: Store, *, user: SignedInUser, attempt_id: int, resource: dict[str, Any],
                 expected_version: int, workstation: Workstation | None = None) -> None:
    with store.session() as s:
        _attempt_for(s, user, attempt_id, write=True)
        _check_not_sent(s, attempt_id, resource)
        repo.save_resource(s, attempt_id=attempt_id, resource=resource, saved_by=user.id,
                           expected_version=expected_version, deleted=True)
    trail.record(store, user=user, activity="delete", attempt_id=attempt_id, workstation=workstation)


def export_bundle(store: Store, *, user: SignedInUser, attempt_id: int,
                  workstation: Workstation | None = None) -> dict[str, Any]:
    """The workspace as a FHIR Bundle (type collection): what `hitsim attempt export` writes (an audited export)."""
    bundle = _bundle(store, user, attempt_id)
    trail.record(store, user=user, activity="export", attempt_id=attempt_id, workstation=workstation,
                 purpose="HOPERAT")
    return bundle


def _bundle(store: Store, user: SignedInUser, attempt_id: int) -> dict[str, Any]:
    """The workspace as a FHIR Bundle (type collection): what is graded."""
    view = load_workspace(store, user=user, attempt_id=attempt_id)
    return {
        "resourceType": "Bundle", "type": "collection",
        "identifier": {"system": "https://hitsim.org/fhir/sid/attempt", "value": str(attempt_id)},
        "entry": [{"fullUrl": f"urn:uuid:{r.resource['id']}", "resource": r.resource} for r in view.resources],
    }


def submit_attempt(store: Store, *, user: SignedInUser, attempt_id: int,
                   workstation: Workstation | None = None) -> dict[str, Any]:
    """Snapshot the workspace, grade it against the key, store and return the report (as the user may see it).

    Idempotent per attempt: a second submission (another tab, a double click, a retry after a lost
    connection) grades nothing and returns the report of the first.
    """
    with store.session() as s:
        attempt = _attempt_for(s, user, attempt_id, write=False)
        if attempt.status != "in-progress" and user.role == "student" and attempt.student_id == user.id:
            existing = grade_report(store, user=user, attempt_id=attempt_id)
            if existing is not None:
                return existing
        attempt = _attempt_for(s, user, attempt_id, write=True)
        a = attempt.assignment
        source, slug, seed = a.scenario.source_toml, a.scenario.slug, attempt.seed
    bundle = _bundle(store, user, attempt_id)
    case = cases.case_for(source, slug, seed)
    graded = cases.grade_case(case, bundle)
    if "audit" in case.scenario.tasks:
        from simulator.services.audit_exercise import grade_audit_task

        graded = grade_audit_task(case.scenario, seed, bundle, graded)
    report = graded.to_dict()
    with store.session() as s:
        _attempt_for(s, user, attempt_id, write=False)  # still ours
        won = repo.claim_submission(s, attempt_id=attempt_id)
        if won:
            repo.save_grade_report(s, attempt_id=attempt_id, score=report["score"], report=report,
                                   grader_version=GRADER_VERSION)
    if won:
        trail.record(store, user=user, activity="submit", attempt_id=attempt_id, workstation=workstation)
        trail.record(store, user=user, activity="grade", attempt_id=attempt_id, workstation=trail.SERVER)
    if not won:  # another tab submitted first: its report is the attempt's report
        existing = grade_report(store, user=user, attempt_id=attempt_id)
        if existing is None:
            raise PermissionDenied("This attempt was submitted in another tab; its report is being prepared.")
        return existing
    return grade_report(store, user=user, attempt_id=attempt_id) or report


def key_released(attempt: Attempt, now: dt.datetime | None = None) -> bool:
    """Whether the student may see the answer key's codes for this attempt (the assignment's release policy).

    after-submission: at once; after-due-date: once the due date has passed (without a due date, once the
    student has no attempt left); never: not to students.
    """
    a = attempt.assignment
    if a.release_policy == "after-submission":
        return True
    if a.release_policy == "never":
        return False
    now = now or dt.datetime.now(dt.UTC)
    if a.due_at is not None:
        return now > (a.due_at if a.due_at.tzinfo else a.due_at.replace(tzinfo=dt.UTC))
    return attempt.number >= a.attempts_allowed and attempt.status != "in-progress"


def withhold_key(report: dict[str, Any]) -> dict[str, Any]:
    """The report without the answer key's codes: the score and what was wrong stay, the expected codes go.

    Entry findings quote the paper chart, which the student has; coding findings would quote the key.
    """
    findings = []
    for f in report.get("findings", []):
        if not str(f.get("path", "")).startswith("Claim["):
            findings.append(f)
            continue
        findings.append({**f, "expected": "", "path": _claim_part(f["path"]), "message": _coding_message(f)})
    return {**report, "findings": findings, "key_withheld": True}


def _claim_part(path: str) -> str:
    head, _, rest = path.partition("].")
    part = "diagnosis" if rest.startswith("diagnosis") else "service line"
    return f"{head}].{part}"


def _coding_message(f: dict[str, Any]) -> str:
    entered, kind, path = f.get("entered") or "", f.get("kind"), str(f.get("path", ""))
    line = path.partition("item[")[2].partition("]")[0]
    if ".modifier" in path:
        return f"{line}: the modifiers are not right (you entered {entered})"
    if ".quantity" in path:
        return f"{line}: the units are not right (you entered {entered})"
    if ".diagnosisSequence" in path:
        return f"{line}: the diagnosis pointers are not right (it points to {entered})"
    what = "diagnosis" if ".diagnosis" in path else "service line"
    if kind == "missing":
        if path.endswith("diagnosis[1]"):
            return "No first-listed diagnosis entered"
        return f"A {what} the chart supports is missing"
    if kind == "extra":
        return f"{entered}: coded but not supported by the chart"
    if path.endswith("diagnosis[1]"):
        return f"First-listed diagnosis: {entered} is not the right first-listed code"
    if kind == "partial":
        return f"{entered}: close (right category) but not the right code: check specificity and 7th character"
    return f"{entered}: not the right {what}"


def grade_report(store: Store, *, user: SignedInUser, attempt_id: int,
                 workstation: Workstation | None = None) -> dict[str, Any] | None:
    """The attempt's latest report; for a student, without the key's codes until the assignment releases them.

    With ``workstation`` (a person opening the report page) the view is recorded in the audit trail: the report
    shows the patient's record field by field."""
    import json

    with store.session() as s:
        attempt = _attempt_for(s, user, attempt_id, write=False)
        row = repo.latest_grade_report(s, attempt_id=attempt_id)
        if row is None:
            return None
        report = json.loads(row.report)
        if user.role == "student" and not key_released(attempt):
            report = withhold_key(report)
    if workstation is not None:
        trail.record(store, user=user, activity="report", attempt_id=attempt_id, workstation=workstation)
    return report


def print_record(store: Store, *, user: SignedInUser, attempt_id: int, purpose: str,
                 workstation: Workstation | None = None) -> None:
    """Record that ``user`` printed the record, with the reason: a print needs a documented purpose of use."""
    if purpose not in PURPOSES:
        raise InvalidInput("purpose", "Reason for printing: choose one of " + ", ".join(PURPOSES.values()))
    with store.session() as s:
        _attempt_for(s, user, attempt_id, write=False)
    trail.record(store, user=user, activity="print", attempt_id=attempt_id, workstation=workstation, purpose=purpose)
