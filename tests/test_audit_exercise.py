"""The access-audit exercise: planted history, the reference detector, flags and their grade."""

from __future__ import annotations

import pytest

from grading.audit import grade_audit
from simulator.audit.planted import plant_history, to_audit_event
from simulator.audit.settings import VIOLATION_KINDS, AuditSettings, AuditSettingsError, parse_audit_settings
from simulator.fhir import model_class
from simulator.generate import load_scenario
from simulator.reports.audit_rules import detect, rule_broken
from simulator.services import assignments, audit_exercise, workspace
from simulator.services.errors import InvalidInput
from tests.test_workspace import setup_class

CATEGORIES = dict(VIOLATION_KINDS)


def history_with(kind: str, seed: int = 11):
    return plant_history(AuditSettings(events=900, weeks=2, violations={kind: 1}), seed)


def flag(target: str, category: str, note: str = "") -> dict:
    return {"resourceType": "DetectedIssue", "id": "f", "status": "preliminary",
            "code": {"coding": [{"code": category}]}, "implicated": [{"reference": target}], "detail": note}


def test_the_history_is_deterministic_from_the_seed_and_events_are_r4b_audit_events():
    settings = AuditSettings(events=1200)
    first, again, other = plant_history(settings, 5), plant_history(settings, 5), plant_history(settings, 6)
    assert [(a.event_id, a.user, a.patient, a.start) for a in first.accesses] == \
           [(a.event_id, a.user, a.patient, a.start) for a in again.accesses]
    assert first.violations == again.violations
    assert [a.user for a in first.accesses[:50]] != [a.user for a in other.accesses[:50]]
    assert 1150 <= len(first.accesses) <= 1200
    for access in first.accesses[::40]:
        model_class("AuditEvent").model_validate(to_audit_event(first, access))


@pytest.mark.parametrize("kind", list(VIOLATION_KINDS))
def test_the_reference_detector_finds_each_planted_violation_kind_and_nothing_else(kind):
    for seed in (11, 12):
        history = history_with(kind, seed)
        assert [v.kind for v in history.violations] == [kind]
        assert detect(history) == history.violations


@pytest.mark.parametrize("kind", list(VIOLATION_KINDS))
def test_a_flag_on_each_violation_kind_scores_and_a_flag_on_a_normal_access_costs(kind):
    history = history_with(kind)
    key = audit_exercise.audit_key(history)
    violation = history.violations[0]
    right = [flag(f"AuditEvent/{violation.events[0]}", kind, "saw it")]
    result = grade_audit(key, right, audit_exercise.explanations(history, right), CATEGORIES)
    assert result.f1 == 1.0 and result.section.points_earned == 100.0
    normal = next(a for a in history.accesses if not rule_broken(history, a) and a.event_id not in violation.events)
    both = right + [flag(f"AuditEvent/{normal.event_id}", "no-relationship")]
    worse = grade_audit(key, both, audit_exercise.explanations(history, both), CATEGORIES)
    assert worse.precision == 0.5 and worse.recall == 1.0 and worse.section.points_earned < 100.0
    false_alarm = next(f for f in worse.findings if f.kind == "extra")
    staff = history.staff[normal.user]
    assert false_alarm.message.startswith(f"You flagged {staff.short} ({staff.role}") and "not a violation" in false_alarm.message
    assert false_alarm.points_lost == pytest.approx(100.0 - worse.section.points_earned)
    missed = grade_audit(key, [], {}, CATEGORIES)
    assert missed.f1 == 0.0 and any(f.kind == "missing" and f.message.startswith("Missed") for f in missed.findings)


def test_a_flag_on_the_user_finds_a_terminated_account_and_a_wrong_category_earns_half():
    history = history_with("terminated")
    key = audit_exercise.audit_key(history)
    user = history.violations[0].user
    assert grade_audit(key, [flag(f"Practitioner/{user}", "terminated")], {}, CATEGORIES).f1 == 1.0
    half = grade_audit(key, [flag(f"Practitioner/{user}", "vip")], {}, CATEGORIES)
    assert half.recall == 0.5 and any("wrong reason" in f.message for f in half.findings)


def test_flags_on_several_accesses_of_one_burst_count_once():
    history = history_with("bulk")
    key = audit_exercise.audit_key(history)
    flags = [flag(f"AuditEvent/{e}", "bulk") for e in history.violations[0].events[:5]]
    assert grade_audit(key, flags, {}, CATEGORIES).f1 == 1.0


def test_a_bad_audit_table_is_refused_naming_the_key():
    with pytest.raises(AuditSettingsError, match="audit.events: expected a number from 300 to 50000"):
        parse_audit_settings({"events": 60000}, "x.toml")
    with pytest.raises(AuditSettingsError, match="audit.violations.snooping: unknown kind"):
        parse_audit_settings({"violations": {"snooping": 1}}, "x.toml")


def test_a_student_flags_through_the_service_a_flag_without_a_reason_is_refused_and_submit_grades(store):
    _, ann, _, aid = setup_class(store, scenario="audit-vip-snooping")
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    exercise = audit_exercise.audit_exercise(store, user=ann, attempt_id=attempt)
    assert len(exercise.index.rows) == len(exercise.history.accesses) >= 4900
    violation = exercise.history.violations[0]
    with pytest.raises(InvalidInput, match="Reason: pick the policy category") as refused:
        audit_exercise.save_flag(store, user=ann, attempt_id=attempt, target=f"AuditEvent/{violation.events[0]}",
                                 category="", note="odd")
    assert refused.value.field == "category"
    with pytest.raises(InvalidInput, match="is not an access or a user"):
        audit_exercise.save_flag(store, user=ann, attempt_id=attempt, target="AuditEvent/nope", category="vip", note="")
    saved = audit_exercise.save_flag(store, user=ann, attempt_id=attempt, target=f"AuditEvent/{violation.events[0]}",
                                     category=violation.kind, note="first try")
    audit_exercise.save_flag(store, user=ann, attempt_id=attempt, target=f"AuditEvent/{violation.events[0]}",
                             category=violation.kind, note="looked again", current=saved)
    flags = audit_exercise.audit_exercise(store, user=ann, attempt_id=attempt).flags
    assert [f.resource["detail"] for f in flags] == ["looked again"]
    report = workspace.submit_attempt(store, user=ann, attempt_id=attempt)
    n = len(exercise.history.violations)
    assert [s["section"] for s in report["sections"]] == ["access_audit"]
    assert report["score"] == pytest.approx(100 * 2 * (1 / n) / (1 + 1 / n), abs=0.1)
    assert sum(1 for f in report["findings"] if f["kind"] == "missing") == n - 1


def test_the_shipped_audit_scenario_loads():
    scenario = load_scenario("audit-vip-snooping")
    assert scenario.tasks == ("audit",) and scenario.audit.events == 5000


def test_the_reports_index_filters_and_sorts_exactly_like_the_plain_functions():
    from simulator.audit.planted import FACILITY_TZ
    from simulator.reports import access_audit as report

    rows = report.planted_rows(plant_history(AuditSettings(events=1500), 4))
    index = report.ReportIndex(rows)
    for raw in ({}, {"user": "a"}, {"patient": "jo"}, {"department": "Cardiology"}, {"role": "nurse", "after_hours": True},
                {"from_date": "03/05/2025", "from_time": "07:00", "to_date": "03/10/2025", "to_time": "12:30"},
                {"min_minutes": "20", "workstation": "ed"}, {"activity": "print"}):
        f = report.parse_filters(raw, FACILITY_TZ)
        positions = index.filter(f)
        assert [rows[i] for i in positions] == report.apply_filters(rows, f)
        for key in ("user_name", "minutes", "department"):
            ordered = [rows[i] for i in index.ordered(positions, key, descending=True)]
            assert ordered == report.sort_rows([rows[i] for i in positions], key, descending=True)[::1] or \
                [report._sort_key(r, key) for r in ordered] == sorted((report._sort_key(r, key) for r in ordered),
                                                                       reverse=True)


def test_the_reports_summary_and_charts_count_what_the_filters_let_through():
    from simulator.audit.planted import FACILITY_TZ
    from simulator.reports import access_audit as report

    rows = report.planted_rows(plant_history(AuditSettings(events=1500), 4))
    index = report.ReportIndex(rows)
    for raw in ({}, {"role": "nurse"}, {"after_hours": True}):
        positions = index.filter(report.parse_filters(raw, FACILITY_TZ))
        shown = [rows[i] for i in positions]
        summary, hours, users = index.overview(positions)
        assert summary == report.summarize(shown) and hours == report.by_hour(shown)
        assert dict(users) == dict(report.by_user(shown, 12)) or [n for _, n in users] == [n for _, n in report.by_user(shown, 12)]
