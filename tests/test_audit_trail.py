"""The access-audit trail on a real database: R4B-valid AuditEvents, one hash chain, tampering detected."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from simulator.audit import trail
from simulator.audit.events import Workstation, read_access
from simulator.fhir import model_class
from simulator.services import assignments, workspace
from simulator.store.audit_rows import audit_event_count
from tests.test_workspace import patient, setup_class

DESK = Workstation("WS-TEST01", "10.0.0.7", "Mozilla/5.0 (X11; Linux x86_64) Chrome/140")


def events(store) -> list[dict]:
    return list(trail.trail_events(store))


def test_every_access_to_a_record_is_an_r4b_audit_event_with_agent_workstation_and_patient(store):
    teacher, ann, _, aid = setup_class(store)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    start = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
    session = trail.open_chart(store, user=ann, attempt_id=attempt, workstation=DESK, now=start)
    workspace.save_entry(store, user=ann, attempt_id=attempt, resource=patient(), expected_version=0, workstation=DESK)
    workspace.save_entry(store, user=ann, attempt_id=attempt, resource=patient("Younger"), expected_version=1,
                         workstation=DESK)
    trail.close_chart(store, user=ann, session=session, workstation=DESK, now=start + dt.timedelta(minutes=17, seconds=30))
    workspace.export_bundle(store, user=teacher, attempt_id=attempt)
    workspace.submit_attempt(store, user=ann, attempt_id=attempt, workstation=DESK)
    trail_events = events(store)
    assert [e["subtype"][0]["code"] for e in trail_events] == ["open", "create", "edit", "read", "export", "submit", "grade"]
    assert [e["action"] for e in trail_events] == ["R", "C", "U", "R", "R", "E", "E"]
    for event in trail_events:
        model_class("AuditEvent").model_validate(event)  # R4B-valid, every one
    read = read_access(trail_events[3])
    assert read.minutes == pytest.approx(17.5) and read.workstation == "WS-TEST01" and read.address == "10.0.0.7"
    assert read.user_id == "ann" and read.role == "student" and read.student == "ann"
    assert read.user_agent.startswith("Mozilla/5.0") and read.session == session.id
    assert read_access(trail_events[2]).patient_ref == "Patient/p1"
    assert read_access(trail_events[2]).patient_name == "Mary Younger"
    assert read_access(trail_events[4]).user_id == "teacher" and read_access(trail_events[4]).purpose == "HOPERAT"
    assert trail.verify_trail(store).intact


def test_printing_viewing_the_grade_report_and_changing_a_score_are_audited(store):
    from simulator.services import gradebook
    from simulator.services.errors import InvalidInput, NotFound

    teacher, ann, ben, aid = setup_class(store)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    workspace.save_entry(store, user=ann, attempt_id=attempt, resource=patient(), expected_version=0, workstation=DESK)
    with pytest.raises(InvalidInput, match="Reason for printing: choose one of treatment") as refused:
        workspace.print_record(store, user=ann, attempt_id=attempt, purpose="", workstation=DESK)
    assert refused.value.field == "purpose"
    workspace.print_record(store, user=ann, attempt_id=attempt, purpose="TREAT", workstation=DESK)
    with pytest.raises(NotFound):  # not hers: refused, and nothing recorded
        workspace.print_record(store, user=ben, attempt_id=attempt, purpose="TREAT", workstation=DESK)
    workspace.submit_attempt(store, user=ann, attempt_id=attempt, workstation=DESK)
    assert workspace.grade_report(store, user=ann, attempt_id=attempt) is not None  # a service reading: not a view
    workspace.grade_report(store, user=ann, attempt_id=attempt, workstation=DESK)  # the page: a view
    gradebook.instructor_report(store, user=teacher, attempt_id=attempt, workstation=DESK)
    gradebook.override_score(store, user=teacher, attempt_id=attempt, score=90, reason="credit for the DOB",
                             workstation=DESK)
    accesses = [read_access(e) for e in events(store)]
    assert [(a.activity, a.action, a.user_id) for a in accesses if a.activity in ("print", "report", "override")] == [
        ("print", "R", "ann"), ("report", "R", "ann"), ("report", "R", "teacher"), ("override", "U", "teacher")]
    printed = next(a for a in accesses if a.activity == "print")
    assert printed.purpose == "TREAT" and printed.patient_ref == "Patient/p1" and printed.workstation == "WS-TEST01"
    for event in events(store):
        model_class("AuditEvent").model_validate(event)
    assert trail.verify_trail(store).intact


def test_no_code_path_updates_or_deletes_an_event_the_database_refuses(store):
    _, ann, _, aid = setup_class(store)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    trail.record(store, user=ann, activity="read", attempt_id=attempt, workstation=DESK)
    for statement in ("UPDATE audit_events SET content = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(Exception, match="append-only"), store.session() as s:
            s.execute(text(statement))
    assert audit_event_count(store) == 1


def _drop_guards(store) -> None:
    """What a tamperer with the database owner's rights would do first."""
    with store.session() as s:
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("DROP TRIGGER audit_events_append_only ON audit_events"))
        else:
            s.execute(text("DROP TRIGGER audit_events_no_update"))
            s.execute(text("DROP TRIGGER audit_events_no_delete"))


def _trail_of_five(store):
    _, ann, _, aid = setup_class(store)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    for _ in range(5):
        trail.record(store, user=ann, activity="read", attempt_id=attempt, workstation=DESK)
    assert trail.verify_trail(store).intact
    _drop_guards(store)


def test_verify_finds_an_edited_event(store):
    _trail_of_five(store)
    with store.session() as s:
        content = s.execute(text("SELECT content FROM audit_events WHERE seq = 3")).scalar_one()
        forged = content.replace('"ann"', '"someone-else"')
        s.execute(text("UPDATE audit_events SET content = :c WHERE seq = 3"), {"c": forged})
    result = trail.verify_trail(store)
    assert not result.intact and result.broken_seq == 3 and "edited" in result.reason


def test_verify_finds_a_deleted_event(store):
    _trail_of_five(store)
    with store.session() as s:
        s.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    result = trail.verify_trail(store)
    assert not result.intact and result.broken_seq == 3 and "missing" in result.reason


def test_verify_finds_reordered_events(store):
    _trail_of_five(store)
    with store.session() as s:  # swap the places of events 2 and 4 (their seq numbers)
        s.execute(text("UPDATE audit_events SET seq = -2 WHERE seq = 2"))
        s.execute(text("UPDATE audit_events SET seq = 2 WHERE seq = 4"))
        s.execute(text("UPDATE audit_events SET seq = 4 WHERE seq = -2"))
    result = trail.verify_trail(store)
    assert not result.intact and result.broken_seq == 2 and "reordered" in result.reason


def test_concurrent_writers_keep_one_chain(store):
    _, ann, ben, aid = setup_class(store)
    attempts = [assignments.open_assignment(store, user=u, assignment_id=aid) for u in (ann, ben)]
    errors: list[BaseException] = []

    def writer(user, attempt: int) -> None:
        try:
            for _ in range(15):
                trail.record(store, user=user, activity="read", attempt_id=attempt, workstation=DESK)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(u, a)) for u, a in zip((ann, ben, ann, ben), attempts * 2, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    result = trail.verify_trail(store)
    assert result.intact and result.events == 60
    with store.session() as s:
        seqs = [r[0] for r in s.execute(text("SELECT seq FROM audit_events ORDER BY seq"))]
        prevs = [r[0] for r in s.execute(text("SELECT prev_hash FROM audit_events"))]
    assert seqs == list(range(1, 61)) and len(set(prevs)) == 60  # no two events claim the same predecessor


def test_export_writes_ndjson_and_csv_since_a_time(store):
    _, ann, _, aid = setup_class(store)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    old = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    trail.record(store, user=ann, activity="read", attempt_id=attempt, workstation=DESK, now=old)
    trail.record(store, user=ann, activity="print", attempt_id=attempt, workstation=DESK, purpose="PATRQT")
    lines = trail.export_text(store).splitlines()
    assert [json.loads(x)["resourceType"] for x in lines] == ["AuditEvent", "AuditEvent"]
    recent = trail.export_text(store, since=dt.datetime(2026, 6, 1, tzinfo=dt.UTC), fmt="csv").splitlines()
    assert recent[0].startswith("recorded,activity,action,user") and len(recent) == 2 and ",print,R,ann," in recent[1]


def _cli(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HITSIM_DATABASE_URL": url, "HITSIM_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run([sys.executable, "-m", "simulator.cli", "audit", *args], capture_output=True, text=True,
                          env=env)


def test_hitsim_audit_verify_and_export_from_the_command_line(tmp_path):
    from simulator.store import open_store

    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    empty = _cli(url, tmp_path, "verify")
    assert empty.returncode == 0 and "No audit trail" in empty.stdout
    store = open_store(url)
    _, ann, _, aid = setup_class(store)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    for _ in range(3):
        trail.record(store, user=ann, activity="read", attempt_id=attempt, workstation=DESK)
    ok = _cli(url, tmp_path, "verify")
    assert ok.returncode == 0 and "intact: 3 events" in ok.stdout
    csv_out = _cli(url, tmp_path, "export", "--format", "csv", "--since", "2000-01-01")
    assert csv_out.returncode == 0 and len(csv_out.stdout.splitlines()) == 4
    bad = _cli(url, tmp_path, "export", "--since", "last tuesday")
    assert bad.returncode == 2 and "--since 'last tuesday': expected a date" in bad.stderr
    _drop_guards(store)
    with store.session() as s:
        s.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    store.dispose()
    broken = _cli(url, tmp_path, "verify")
    assert broken.returncode == 1 and "BROKEN at event 3" in broken.stdout
