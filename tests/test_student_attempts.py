"""What a student relies on around an attempt, on a real database: review is not a new attempt, one
submission per attempt however many tabs submit, one Patient per fresh attempt, claim limits, the
answer key's release policy, and the chart's own date formats and units."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from simulator.ehr import claims, forms
from simulator.ehr import values as v
from simulator.services import assignments, workspace
from simulator.services.errors import InvalidInput, PermissionDenied
from simulator.services.workspace import VersionConflict
from simulator.store import repo
from tests.conftest import enter_the_visits
from tests.test_workspace import setup_class

ENC = {"resourceType": "Encounter", "id": "e1", "period": {"start": "2025-03-04T09:30:00-07:00"}}


def test_review_opens_the_submitted_attempt_and_another_attempt_is_a_separate_action(store):
    _, ann, _, aid = setup_class(store, attempts_allowed=2)
    first = assignments.open_assignment(store, user=ann, assignment_id=aid)
    workspace.submit_attempt(store, user=ann, attempt_id=first)
    assert assignments.open_assignment(store, user=ann, assignment_id=aid) == first  # twice: still a review
    assert assignments.open_assignment(store, user=ann, assignment_id=aid) == first
    row = assignments.student_assignments(store, user=ann)[0]
    assert (row.attempts_used, row.graded_attempt_id, row.in_progress_attempt_id, row.may_start) == (1, first, None, True)
    assert row.score is not None  # the score is on the assignment list
    second = assignments.start_attempt(store, user=ann, assignment_id=aid)
    assert second != first
    assert assignments.start_attempt(store, user=ann, assignment_id=aid) == second  # a double click starts one
    workspace.submit_attempt(store, user=ann, attempt_id=second)
    with pytest.raises(PermissionDenied, match="No attempts remain"):
        assignments.start_attempt(store, user=ann, assignment_id=aid)
    assert not assignments.student_assignments(store, user=ann)[0].may_start


def test_three_tabs_submitting_at_once_make_one_report_and_use_one_attempt(store):
    _, ann, _, aid = setup_class(store, attempts_allowed=3)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    results: list[object] = []

    def submit() -> None:
        try:
            results.append(workspace.submit_attempt(store, user=ann, attempt_id=attempt)["score"])
        except Exception as exc:  # noqa: BLE001 - the test reports whatever a tab would have met
            results.append(exc)

    tabs = [threading.Thread(target=submit) for _ in range(3)]
    for tab in tabs:
        tab.start()
    for tab in tabs:
        tab.join()
    assert all(isinstance(r, float) for r in results), results
    assert len(set(results)) == 1
    with store.session() as s:
        assert len(repo.attempts_of(s, assignment_id=aid, student_id=ann.id)) == 1
        from sqlalchemy import func, select

        from simulator.store.models import GradeReportRow
        assert s.scalar(select(func.count()).select_from(GradeReportRow)) == 1
    assert workspace.submit_attempt(store, user=ann, attempt_id=attempt)["score"] == results[0]  # later: same report


def test_two_tabs_on_a_fresh_attempt_make_one_patient(store):
    _, ann, _, aid = setup_class(store)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    pid = workspace.first_patient_id(attempt)
    assert pid == workspace.first_patient_id(attempt)  # both tabs compute the same id
    a = workspace.ensure_patient(store, user=ann, attempt_id=attempt, patient_id=pid)
    b = workspace.ensure_patient(store, user=ann, attempt_id=attempt, patient_id=pid)
    assert a.version == b.version == 1
    tab_a = forms.build_patient({"family": "Alpha"}, forms.EntryContext(patient_id=pid), a.resource)
    tab_b = forms.build_patient({"family": "Beta"}, forms.EntryContext(patient_id=pid), b.resource)
    workspace.save_entry(store, user=ann, attempt_id=attempt, resource=tab_a, expected_version=1)
    with pytest.raises(VersionConflict):  # the second tab is told, not silently duplicated
        workspace.save_entry(store, user=ann, attempt_id=attempt, resource=tab_b, expected_version=1)
    assert [p.resource["name"][0]["family"] for p in workspace.load_workspace(
        store, user=ann, attempt_id=attempt).of("Patient")] == ["Alpha"]


def test_a_claim_takes_twelve_diagnoses_and_four_pointers_per_line(store):
    _, ann, _, aid = setup_class(store)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    codes = [f"E11.{i}" for i in range(13)]
    draft = claims.ClaimDraft(diagnoses=[(c, "a diagnosis") for c in codes[:12]],
                              lines=[claims.ClaimLine("99213", "Office visit", pointers=codes[:4])])
    ok = claims.build_claim(draft, patient_id="p1", encounter=ENC, coverage=None, existing=None)
    assert claims.claim_problems(ok) is None
    draft.lines[0].pointers = codes[:5]
    five = claims.build_claim(draft, patient_id="p1", encounter=ENC, coverage=None, existing=None)
    with pytest.raises(InvalidInput, match="at most 4 diagnoses"):
        workspace.save_entry(store, user=ann, attempt_id=attempt, resource=five, expected_version=0)
    draft.lines[0].pointers = codes[:1]
    draft.diagnoses.append((codes[12], "a diagnosis"))
    thirteen = claims.build_claim(draft, patient_id="p1", encounter=ENC, coverage=None, existing=None)
    with pytest.raises(InvalidInput, match="at most 12 diagnoses"):
        workspace.save_entry(store, user=ann, attempt_id=attempt, resource=thirteen, expected_version=0)


def _coded_and_submitted(store, **settings):
    """The student enters the patient and the visits but codes nothing: every code of the key is a finding."""
    _, ann, _, aid = setup_class(store, scenario="clinic-chronic-care", **settings)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    enter_the_visits(store, ann, attempt)
    workspace.submit_attempt(store, user=ann, attempt_id=attempt)
    return ann, attempt


def test_before_release_the_student_sees_score_and_what_was_wrong_but_no_expected_codes(store):
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
    ann, attempt = _coded_and_submitted(store, due_at=future, release_policy="after-due-date", attempts_allowed=2)
    report = workspace.grade_report(store, user=ann, attempt_id=attempt)
    assert report is not None and report["key_withheld"] and report["score"] < 100
    coding = [f for f in report["findings"] if f["section"] != "submission" and "Claim[" in f["path"]]
    assert coding, "the chart has claims to code"
    from simulator.services import cases
    with store.session() as s:
        a = repo.get_attempt(s, attempt_id=attempt)
        key = cases.case_for(a.assignment.scenario.source_toml, a.assignment.scenario.slug, a.seed).key
    key_codes = {c["code"] for e in key["entry"] if e["resource"]["resourceType"] == "Claim"
                 for d in e["resource"].get("diagnosis", []) for c in d["diagnosisCodeableConcept"]["coding"]}
    key_codes |= {c["code"] for e in key["entry"] if e["resource"]["resourceType"] == "Claim"
                  for i in e["resource"].get("item", []) for c in i["productOrService"]["coding"]}
    text = str(coding)
    assert not any(code in text for code in key_codes), "an expected code reached the student before release"
    assert all(f["message"] for f in coding)  # still says what was wrong


def test_after_release_the_expected_codes_are_shown(store):
    ann, attempt = _coded_and_submitted(store, release_policy="after-submission")
    report = workspace.grade_report(store, user=ann, attempt_id=attempt)
    assert report is not None and not report.get("key_withheld")
    assert any("expected" in f["message"] for f in report["findings"] if "Claim[" in f["path"])


@pytest.mark.parametrize("typed, expected", [
    ("13 May 1991", dt.date(1991, 5, 13)), ("1 Oct 2022", dt.date(2022, 10, 1)), ("May 13, 1991", dt.date(1991, 5, 13)),
    ("13-May-1991", dt.date(1991, 5, 13)), ("1 Sept 2020", dt.date(2020, 9, 1)), ("03/14/1962", dt.date(1962, 3, 14)),
    ("3/14/62", dt.date(1962, 3, 14)), ("1962-03-14", dt.date(1962, 3, 14)),
])
def test_every_date_format_the_paper_chart_prints_is_accepted(typed, expected):
    assert v.date("Date of birth", typed, today=dt.date(2026, 1, 1)) == expected


def test_every_date_the_generated_chart_prints_reads_back():
    from simulator.chart.render import format_date

    for style in ("iso", "us", "us-short", "long"):
        for day in (dt.date(1991, 5, 13), dt.date(2022, 10, 1), dt.date(1942, 12, 31)):
            assert v.date("Date", format_date(day.isoformat(), style), today=dt.date(2026, 1, 1)) == day, style


def test_a_date_that_is_not_one_names_what_is_expected():
    with pytest.raises(v.EntryError, match="31 Feb 2020 is not a date"):
        v.date("Visit date", "31 Feb 2020")
    with pytest.raises(v.EntryError, match="MM/DD/YYYY"):
        v.date("Visit date", "yesterday")


def test_lab_units_are_ucum_with_the_charts_display_and_grade_right():
    from grading.normalize import quantity

    c = forms.EntryContext(patient_id="p1", encounters=[ENC], today=dt.date(2026, 1, 1))
    assert forms.lab_units()["mL/min/{1.73_m2}"] == "mL/min/1.73m²"
    res = forms.LABS.build({"visit": "e1", "test": "eGFR (CKD-EPI 2021)", "value": "52"}, c, None)  # unit from the test
    assert res["valueQuantity"] == {"value": 52, "unit": "mL/min/1.73m²", "system": "http://unitsofmeasure.org",
                                    "code": "mL/min/{1.73_m2}"}
    assert res["referenceRange"][0]["low"]["value"] == 60
    key_q = {"value": 52, "unit": "mL/min/1.73m²", "system": "http://unitsofmeasure.org", "code": "mL/min/{1.73_m2}"}
    assert quantity(res["valueQuantity"]) == quantity(key_q)
    with pytest.raises(forms.FieldError, match="pick one from the list"):
        forms.LABS.build({"visit": "e1", "test": "Glucose", "value": "90", "unit": "mL/min/1.73m²"}, c, None)


def test_a_huge_paste_is_refused_at_the_field_not_dropped():
    with pytest.raises(v.EntryError, match="at most 500 characters"):
        v.text("Last name", "x" * 501)
