"""The consistency task: the record to compare (per chart, per visit) and the student's discrepancy records.

A discrepancy record is a FHIR ``DetectedIssue`` saved in the attempt's versioned workspace like any
other resource (autosave, optimistic check, history): category in ``code``, the visits in
``implicated`` (Encounter references), the note in ``detail``, the proposed correction as a
``mitigation`` action. The planted list (the key) never leaves the server.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from simulator.reports.consistency_record import RECORD_FORMAT, Chart, charts_from_bytes, charts_to_bytes
from simulator.reports.consistency_rules import DISCREPANCY_KINDS, SYSTEM
from simulator.services import cases, workspace
from simulator.services.accounts import SignedInUser
from simulator.services.errors import InvalidInput
from simulator.services.workspace import SavedResource
from simulator.store import Store, repo

NOTE_MAX, CORRECTION_MAX = 2000, 500
log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class RecordSource:
    """What an attempt's record is made from: the stored scenario version and the attempt's seed."""

    scenario_id: int
    source_toml: str
    slug: str
    seed: int

    @property
    def is_consistency_task(self) -> bool:
        return "consistency" in cases.scenario_for(self.source_toml, self.slug).tasks


def _source(store: Store, user: SignedInUser, attempt_id: int) -> RecordSource:
    """The attempt's record source, in one read that checks the user may see the attempt."""
    with store.session() as s:
        attempt = workspace._attempt_for(s, user, attempt_id, write=False)
        a = attempt.assignment
        return RecordSource(a.scenario_id, a.scenario.source_toml, a.scenario.slug, attempt.seed)


@dataclass(frozen=True)
class _Record:
    """The record the student compares (no planted list: that stays with the key, rebuilt for grading)."""

    charts: tuple[Chart, ...]
    visit_ids: frozenset[str]


# A record is built once per scenario version and seed (a 50-patient, 12-visit scenario: about 0.4 s of CPU) on
# one builder thread, never on the event loop, when the attempt starts; it is then stored, so every later open, after
# a restart too, is a read (tens of milliseconds, on a reader thread that never waits behind a build). The futures
# below are the one in-memory cache of it; the page awaits one when it is not done.
_BUILDER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="consistency-build")
_READER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="consistency-read")
_RECORDS: OrderedDict[tuple[str, int, int], Future[_Record]] = OrderedDict()  # (database, scenario id, seed)
_RECORDS_LOCK = threading.Lock()
RECORDS_KEPT = 32


def _record_of(charts: tuple[Chart, ...]) -> _Record:
    return _Record(charts, frozenset(v.encounter_id for c in charts for v in c.visits))


def _build(store: Store, source: RecordSource, out: Future[_Record]) -> None:
    """Build the record into ``out`` (whoever waits gets it at once), then store it for every later open."""
    # The cyclic collector would rescan the growing record again and again while it is built (about half of the
    # build time). Paused; the build's temporaries are freed as it returns, and a collection of the young generation
    # (what the build left: the charts) then finds any cycle among them, without the whole-heap pass a full
    # collection makes (which holds every thread, the event loop's too, for a tenth of a second or more).
    gc.disable()
    try:
        charts = cases.consistency_charts(source.source_toml, source.slug, source.seed)
    except BaseException as exc:
        out.set_exception(exc)
        return
    finally:
        gc.enable()
    out.set_result(_record_of(charts))
    gc.collect(0)
    try:
        with store.session() as s:
            repo.save_consistency_record(s, scenario_id=source.scenario_id, seed=source.seed, format=RECORD_FORMAT,
                                         charts=charts_to_bytes(charts))
    except IntegrityError:  # another app process stored the same record first
        pass
    except SQLAlchemyError as exc:  # served from memory meanwhile; the next process builds it again
        log.warning("consistency record of scenario %s not stored: %s", source.scenario_id, exc)


def _read_or_build(store: Store, source: RecordSource, out: Future[_Record]) -> None:
    """Read the stored record into ``out``; when none is stored (or in an older format), build it."""
    try:
        with store.session() as s:
            row = repo.consistency_record(s, scenario_id=source.scenario_id, seed=source.seed)
            stored = row.charts if row is not None and row.format == RECORD_FORMAT else None
        if stored is None:
            _BUILDER.submit(_build, store, source, out)
        else:
            out.set_result(_record_of(charts_from_bytes(stored)))
    except BaseException as exc:
        out.set_exception(exc)


def record_future(store: Store, source: RecordSource) -> Future[_Record]:
    """The record read or built, or being so (one per record; a failed one is tried again)."""
    key = (store.engine.url.render_as_string(), source.scenario_id, source.seed)
    with _RECORDS_LOCK:
        future = _RECORDS.get(key)
        if future is not None and not (future.done() and future.exception() is not None):
            _RECORDS.move_to_end(key)
            return future
        future = Future()
        _RECORDS[key] = future
        while len(_RECORDS) > RECORDS_KEPT:
            _RECORDS.popitem(last=False)
    _READER.submit(_read_or_build, store, source, future)
    return future


def builds_stored() -> None:
    """Wait until every build started so far is stored (a build hands its record over first, then stores it)."""
    _BUILDER.submit(lambda: None).result()


def forget_records() -> None:
    """Drop the in-memory records (what a restart does; the stored ones stay)."""
    with _RECORDS_LOCK:
        _RECORDS.clear()


def prepare_record(store: Store, *, user: SignedInUser, attempt_id: int) -> Future[_Record]:
    """Start reading or building the attempt's record in the background (checks the user may see the attempt); the
    page awaits the returned future so the event loop stays free for everyone else."""
    return record_future(store, _source(store, user, attempt_id))


def load_report(store: Store, *, user: SignedInUser, attempt_id: int) -> ReportView:
    """The record to compare and the student's records so far (checks the user may see the attempt)."""
    source = _source(store, user, attempt_id)
    view = workspace.load_workspace(store, user=user, attempt_id=attempt_id)
    record = record_future(store, source).result()
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
    record = record_future(store, _source(store, user, attempt_id)).result()
    check_input(data, record.visit_ids)
    labels = {v.encounter_id: f"MRN {c.mrn} {v.label}" for c in record.charts for v in c.visits}
    return workspace.save_entry(store, user=user, attempt_id=attempt_id, resource=as_detected_issue(data, labels),
                                expected_version=expected_version)


def delete_discrepancy(store: Store, *, user: SignedInUser, attempt_id: int, saved: SavedResource) -> None:
    if saved.resource.get("resourceType") != "DetectedIssue":
        raise InvalidInput("record", "Only discrepancy records can be deleted here")
    workspace.delete_entry(store, user=user, attempt_id=attempt_id, resource=saved.resource,
                           expected_version=saved.version)
