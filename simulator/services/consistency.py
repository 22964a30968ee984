"""The consistency task: the record to compare (per chart, per visit) and the student's discrepancy records.

A discrepancy record is a FHIR ``DetectedIssue`` saved in the attempt's versioned workspace like any
other resource (autosave, optimistic check, history): category in ``code``, the visits in
``implicated`` (Encounter references), the note in ``detail``, the proposed correction as a
``mitigation`` action. The planted list (the key) never leaves the server.
"""

from __future__ import annotations

import datetime as dt
import gc
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from simulator.generate.scenario import parse_scenario
from simulator.reports.consistency_record import Chart
from simulator.reports.consistency_rules import DISCREPANCY_KINDS, SYSTEM
from simulator.services import cases, workspace
from simulator.services.accounts import SignedInUser
from simulator.services.errors import InvalidInput
from simulator.services.workspace import SavedResource
from simulator.store import Store

NOTE_MAX, CORRECTION_MAX = 2000, 500


@dataclass(frozen=True)
class ReportView:
    attempt_id: int
    read_only: bool
    charts: tuple[Chart, ...]
    records: list[SavedResource]  # the student's DetectedIssues, oldest first
    last_saved_at: dt.datetime | None

    def visit_label(self, encounter_id: str) -> str:
        for c in self.charts:
            for v in c.visits:
                if v.encounter_id == encounter_id:
                    return f"MRN {c.mrn} {v.label}"
        return "a visit not in this record"


@dataclass(frozen=True)
class DiscrepancyInput:
    """What the student typed for one discrepancy."""

    category: str
    visits: tuple[str, ...]  # Encounter ids
    note: str = ""
    correction: str = ""
    id: str | None = None


def _source(store: Store, user: SignedInUser, attempt_id: int) -> tuple[str, str, int]:
    with store.session() as s:
        attempt = workspace._attempt_for(s, user, attempt_id, write=False)
        a = attempt.assignment
        return a.scenario.source_toml, a.scenario.slug, attempt.seed


def is_consistency_task(store: Store, *, user: SignedInUser, attempt_id: int) -> bool:
    source, slug, _ = _source(store, user, attempt_id)
    return "consistency" in parse_scenario(source, f"stored scenario {slug}", slug).tasks


@dataclass(frozen=True)
class _Record:
    charts: tuple[Chart, ...]
    visit_ids: frozenset[str]


# Building a record (a 50-patient, 12-visit scenario: about a second of CPU) runs on one builder thread, never on
# the event loop: it starts when the attempt starts (``prepare_record``), and the page awaits it if it is not done.
_BUILDER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="consistency-record")
_BUILDS: OrderedDict[tuple[str, str, int], Future[_Record]] = OrderedDict()
_BUILDS_LOCK = threading.Lock()
RECORDS_KEPT = 64


def _build(source: str, slug: str, seed: int) -> _Record:
    # The cyclic collector rescans the growing record again and again while it is built (about half of the build
    # time); paused, then one collection at the end leaves the heap as it would have been, in about half the time.
    gc.disable()
    try:
        charts = cases.consistency_for(source, slug, seed).charts
    finally:
        gc.enable()
        gc.collect()
    return _Record(charts, frozenset(v.encounter_id for c in charts for v in c.visits))


def _record_future(source: str, slug: str, seed: int) -> Future[_Record]:
    """The record being built or built (one build per record; a failed build is tried again)."""
    key = (source, slug, seed)
    with _BUILDS_LOCK:
        future = _BUILDS.get(key)
        if future is not None and not (future.done() and future.exception() is not None):
            _BUILDS.move_to_end(key)
            return future
        future = _BUILDER.submit(_build, source, slug, seed)
        _BUILDS[key] = future
        while len(_BUILDS) > RECORDS_KEPT:
            _BUILDS.popitem(last=False)
        return future


def _record(source: str, slug: str, seed: int) -> _Record:
    return _record_future(source, slug, seed).result()


def prepare_record(store: Store, *, user: SignedInUser, attempt_id: int) -> Future[_Record]:
    """Start building the attempt's record in the background (checks the user may see the attempt); the page
    awaits the returned future so the event loop stays free for everyone else."""
    source, slug, seed = _source(store, user, attempt_id)
    return _record_future(source, slug, seed)


def load_report(store: Store, *, user: SignedInUser, attempt_id: int) -> ReportView:
    """The record to compare and the student's records so far (checks the user may see the attempt)."""
    source, slug, seed = _source(store, user, attempt_id)
    view = workspace.load_workspace(store, user=user, attempt_id=attempt_id)
    record = _record(source, slug, seed)
    return ReportView(attempt_id, view.read_only, record.charts, view.of("DetectedIssue"), view.last_saved_at)


def check_input(data: DiscrepancyInput, visit_ids: frozenset[str]) -> None:
    """Refuse a record a grader could not use, naming the field."""
    if data.category not in DISCREPANCY_KINDS:
        raise InvalidInput("category", "Category: choose what kind of discrepancy this is; a record without a "
                                       "category is not saved")
    if not data.visits:
        raise InvalidInput("visits", "Visits: choose at least one visit involved; a record without visits is not saved")
    unknown = [v for v in data.visits if v not in visit_ids]
    if unknown:
        raise InvalidInput("visits", "Visits: only visits of this record can be chosen")
    if len(data.note) > NOTE_MAX:
        raise InvalidInput("note", f"Note: at most {NOTE_MAX:,} characters (you have {len(data.note):,})")
    if len(data.correction) > CORRECTION_MAX:
        raise InvalidInput("correction", f"Proposed correction: at most {CORRECTION_MAX} characters "
                                         f"(you have {len(data.correction)})")


def as_detected_issue(data: DiscrepancyInput, label: dict[str, str]) -> dict[str, Any]:
    issue: dict[str, Any] = {
        "resourceType": "DetectedIssue", "id": data.id or str(uuid.uuid4()), "status": "preliminary",
        "code": {"coding": [{"system": SYSTEM, "code": data.category, "display": DISCREPANCY_KINDS[data.category]}]},
        "implicated": [{"reference": f"urn:uuid:{v}", "display": label[v]} for v in data.visits],
    }
    if data.note.strip():
        issue["detail"] = data.note.strip()
    if data.correction.strip():
        issue["mitigation"] = [{"action": {"text": data.correction.strip()}}]
    return issue


def read_input(issue: dict[str, Any]) -> DiscrepancyInput:
    """A saved DetectedIssue back as the form's values."""
    coding = ((issue.get("code") or {}).get("coding") or [{}])[0]
    return DiscrepancyInput(
        category=str(coding.get("code", "")),
        visits=tuple(str(r.get("reference", "")).removeprefix("urn:uuid:") for r in issue.get("implicated", [])),
        note=str(issue.get("detail", "")),
        correction=str(((issue.get("mitigation") or [{}])[0].get("action") or {}).get("text", "")),
        id=issue.get("id"))


def save_discrepancy(store: Store, *, user: SignedInUser, attempt_id: int, data: DiscrepancyInput,
                     expected_version: int) -> SavedResource:
    """Save one discrepancy record as a new version (refused with a message naming the field when unusable)."""
    source, slug, seed = _source(store, user, attempt_id)
    record = _record(source, slug, seed)
    check_input(data, record.visit_ids)
    labels = {v.encounter_id: f"MRN {c.mrn} {v.label}" for c in record.charts for v in c.visits}
    return workspace.save_entry(store, user=user, attempt_id=attempt_id, resource=as_detected_issue(data, labels),
                                expected_version=expected_version)


def delete_discrepancy(store: Store, *, user: SignedInUser, attempt_id: int, saved: SavedResource) -> None:
    if saved.resource.get("resourceType") != "DetectedIssue":
        raise InvalidInput("record", "Only discrepancy records can be deleted here")
    workspace.delete_entry(store, user=user, attempt_id=attempt_id, resource=saved.resource,
                           expected_version=saved.version)
