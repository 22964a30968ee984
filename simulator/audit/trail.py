"""The one service that writes the access-audit trail, and the checks and exports that read it.

Every access to a patient's record — opening it (with the period it stayed open), editing, deleting,
exporting, submitting, grading — is recorded here, by whoever made it, from the UI or the command
line. Nothing else writes audit rows. Each event is validated as an R4 AuditEvent, serialised as
canonical JSON and appended to one SHA-256 hash chain.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from simulator.audit.events import (
    COMMAND_LINE,
    SERVER,
    AccessView,
    Workstation,
    audit_event,
    canonical_json,
    chain_hash,
    iso,
    parse_instant,
    read_access,
    validate,
)
from simulator.services.accounts import SignedInUser
from simulator.store import Store, repo
from simulator.store.audit_rows import GENESIS, append_audit_event, audit_chain, has_audit_table

__all__ = ["COMMAND_LINE", "SERVER", "ChartSession", "VerifyResult", "Workstation", "close_chart", "export_trail",
           "open_chart", "record", "trail_accesses", "verify_trail"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _record_subject(store: Store, attempt_id: int) -> tuple[str | None, str, str]:
    """The patient reference and name of an attempt's record, and the student whose record it is."""
    with store.session() as s:
        attempt = repo.get_attempt(s, attempt_id=attempt_id)
        if attempt is None:
            return None, "", ""
        student = repo.get_user(s, user_id=attempt.student_id)
        patients = repo.latest_resources(s, attempt_id=attempt_id, resource_type="Patient")
    owner = student.username if student else ""
    if not patients:
        return None, "", owner
    p = patients[0]
    name = (p.get("name") or [{}])[0]
    full = " ".join([*name.get("given", []), name.get("family", "")]).strip()
    return f"Patient/{p['id']}", full, owner


def record(store: Store, *, user: SignedInUser, activity: str, attempt_id: int, workstation: Workstation | None = None,
           start: dt.datetime | None = None, end: dt.datetime | None = None, purpose: str | None = None,
           session: str = "", outcome: str = "0", now: dt.datetime | None = None) -> dict[str, Any]:
    """Append one AuditEvent for ``user``'s ``activity`` on the record of ``attempt_id``; returns the event."""
    recorded = now or _now()
    patient_ref, patient_name, student = _record_subject(store, attempt_id)
    event = audit_event(
        event_id=str(uuid.uuid4()), activity=activity, recorded=recorded, user_id=user.username,
        user_name=user.display_name, role=user.role, workstation=workstation or SERVER, patient_ref=patient_ref,
        patient_name=patient_name, start=start, end=end, outcome=outcome, purpose=purpose,
        details={"attempt": str(attempt_id), "student": student, "session": session},
    )
    validate(event)
    append_audit_event(store, recorded_at=recorded, content=canonical_json(event), link=chain_hash)
    return event


# ------------------------------------------------------------------------------------------ chart sessions
@dataclass(frozen=True)
class ChartSession:
    """A chart open in one browser tab: from the moment it opened until the tab leaves, closes or idles."""

    id: str
    attempt_id: int
    start: dt.datetime


def new_chart_session(attempt_id: int, now: dt.datetime | None = None) -> ChartSession:
    return ChartSession(str(uuid.uuid4()), attempt_id, now or _now())


def open_chart(store: Store, *, user: SignedInUser, attempt_id: int, workstation: Workstation,
               now: dt.datetime | None = None, session: ChartSession | None = None) -> ChartSession:
    """Record that ``user`` opened the record (period start); ``close_chart`` records how long it stayed open."""
    session = session or new_chart_session(attempt_id, now)
    record(store, user=user, activity="open", attempt_id=attempt_id, workstation=workstation, start=session.start,
           session=session.id, now=session.start)
    return session


def close_chart(store: Store, *, user: SignedInUser, session: ChartSession, workstation: Workstation,
                now: dt.datetime | None = None) -> dict[str, Any]:
    """Record the whole time the chart was open (a "read" with period start → end)."""
    end = max(now or _now(), session.start)
    return record(store, user=user, activity="read", attempt_id=session.attempt_id, workstation=workstation,
                  start=session.start, end=end, session=session.id, now=end)


# ------------------------------------------------------------------------------------------ verify
@dataclass(frozen=True)
class VerifyResult:
    events: int
    intact: bool
    broken_seq: int | None = None  # the first event that does not fit the chain
    reason: str = ""
    head_hash: str = ""  # write it down: a later verify that ends on another head means the end was cut
    no_trail: bool = False

    def text(self) -> str:
        if self.no_trail:
            return "No audit trail: this database has no audit events yet (nothing was recorded)."
        if self.intact:
            return (f"Audit trail intact: {self.events} event{'s' if self.events != 1 else ''}, "
                    f"hash chain unbroken. Head: {self.head_hash}")
        return f"Audit trail BROKEN at event {self.broken_seq}: {self.reason} ({self.events} events read)"


def verify_trail(store: Store) -> VerifyResult:
    """Walk the chain: every event must follow the one before (seq and previous hash) and hash to its stored hash.

    An edited row no longer hashes to its hash; a deleted row leaves a gap; reordered rows break the
    previous-hash links. (Cutting events off the end leaves a shorter valid chain: compare the head
    hash with one written down earlier.)
    """
    if not has_audit_table(store):
        return VerifyResult(0, True, no_trail=True)
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for row in audit_chain(store):
        count += 1

        def broken(reason: str, row_seq: int = row.seq, n: int = count) -> VerifyResult:
            return VerifyResult(n, False, row_seq, reason)

        if row.seq != expected_seq:
            return broken(f"expected event {expected_seq} here, found {row.seq} (events missing)")
        if row.prev_hash != prev_hash:
            return broken("its previous-hash does not match the event before it (rows deleted or reordered)")
        if chain_hash(row.seq, row.prev_hash, row.content) != row.hash:
            return broken("its content does not match its hash (the row was edited)")
        try:
            event = json.loads(row.content)
            recorded = parse_instant(event["recorded"])
        except (ValueError, KeyError, TypeError):
            return broken("its content is not an AuditEvent")
        stored = row.recorded_at if row.recorded_at.tzinfo else row.recorded_at.replace(tzinfo=dt.UTC)
        if abs((stored - recorded).total_seconds()) >= 1:
            return broken("its recorded time column does not match the event (the row was edited)")
        prev_hash, expected_seq = row.hash, expected_seq + 1
    if count == 0:
        return VerifyResult(0, True, no_trail=True)
    return VerifyResult(count, True, head_hash=prev_hash)


# ------------------------------------------------------------------------------------------ read and export
def trail_events(store: Store, *, since: dt.datetime | None = None) -> Iterator[dict[str, Any]]:
    if not has_audit_table(store):
        return
    for row in audit_chain(store, since=since):
        yield json.loads(row.content)


def trail_accesses(store: Store, *, since: dt.datetime | None = None) -> list[AccessView]:
    return [read_access(e) for e in trail_events(store, since=since)]


CSV_COLUMNS = ("recorded", "activity", "action", "user", "user_name", "role", "workstation", "address", "patient",
               "patient_name", "start", "end", "minutes", "purpose", "student", "attempt", "session", "id")


def access_csv_row(a: AccessView) -> list[str]:
    minutes = a.minutes
    return [iso(a.recorded), a.activity, a.action, a.user_id, a.user_name, a.role, a.workstation, a.address,
            a.patient_ref, a.patient_name, iso(a.start) if a.start else "", iso(a.end) if a.end else "",
            f"{minutes:.1f}" if minutes is not None else "", a.purpose, a.student, a.attempt, a.session, a.event_id]


def export_trail(store: Store, out: TextIO, *, since: dt.datetime | None = None, fmt: str = "ndjson") -> int:
    """Write the trail (oldest first): one AuditEvent JSON per line, or a CSV with one access per row."""
    count = 0
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for event in trail_events(store, since=since):
            writer.writerow(access_csv_row(read_access(event)))
            count += 1
        return count
    for event in trail_events(store, since=since):
        out.write(canonical_json(event) + "\n")
        count += 1
    return count


def export_text(store: Store, *, since: dt.datetime | None = None, fmt: str = "ndjson") -> str:
    buffer = io.StringIO()
    export_trail(store, buffer, since=since, fmt=fmt)
    return buffer.getvalue()
