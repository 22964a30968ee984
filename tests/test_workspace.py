"""The workspace service on a real database: autosave versions, conflicts, submit and grade, verify tasks."""

from __future__ import annotations

import datetime as dt

import pytest

from simulator.ehr import forms
from simulator.fhir.validation import validate_document
from simulator.generate import load_scenario
from simulator.services import assignments, cases, workspace
from simulator.services.errors import NotFound, PermissionDenied
from simulator.services.workspace import VersionConflict
from simulator.store import repo
from tests.conftest import make_user


def setup_class(store, scenario="clinic-chronic-care", **kwargs):
    teacher = make_user(store, "teacher", "instructor")
    ann, ben = make_user(store, "ann"), make_user(store, "ben")
    with store.session() as s:
        c = repo.create_class(s, name="HIT 101", term="Fall", instructor_id=teacher.id)
        repo.enrol(s, class_id=c.id, user_id=ann.id)
        repo.enrol(s, class_id=c.id, user_id=ben.id)
        class_id = c.id
    aid = assignments.create_assignment(store, user=teacher, class_id=class_id, title="Work",
                                        scenario=load_scenario(scenario), **({"due_at": None} | kwargs))
    return teacher, ann, ben, aid


def patient(family="Young"):
    return forms.build_patient({"family": family, "given": "Mary", "birth_date": "10/20/1942"},
                               forms.EntryContext(patient_id="p1"), {"resourceType": "Patient", "id": "p1"})


def test_saves_append_versions_and_reopening_shows_the_latest(store):
    _, ann, _, aid = setup_class(store)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    first = workspace.save_entry(store, user=ann, attempt_id=attempt, resource=patient(), expected_version=0)
    second = workspace.save_entry(store, user=ann, attempt_id=attempt, resource=patient("Younger"),
                                  expected_version=first.version)
    assert (first.version, second.version) == (1, 2)
    view = workspace.load_workspace(store, user=ann, attempt_id=attempt)
    assert [r.resource["name"][0]["family"] for r in view.of("Patient")] == ["Younger"]
    assert view.last_saved_at is not None and not view.read_only


def test_a_second_tab_cannot_silently_overwrite_the_first(store):
    _, ann, _, aid = setup_class(store)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    workspace.save_entry(store, user=ann, attempt_id=attempt, resource=patient(), expected_version=0)
    workspace.save_entry(store, user=ann, attempt_id=attempt, resource=patient("Tab A"), expected_version=1)
    with pytest.raises(VersionConflict):
        workspace.save_entry(store, user=ann, attempt_id=attempt, resource=patient("Tab B"), expected_version=1)
    assert workspace.load_workspace(store, user=ann, attempt_id=attempt).of("Patient")[0].resource["name"][0][
        "family"] == "Tab A"


def test_invalid_fhir_is_refused_with_a_message_and_nothing_is_saved(store):
    from simulator.services.errors import InvalidInput

    _, ann, _, aid = setup_class(store)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    with pytest.raises(InvalidInput, match="birthDate"):
        workspace.save_entry(store, user=ann, attempt_id=attempt,
                             resource={"resourceType": "Patient", "id": "p1", "birthDate": "1980-02-30"},
                             expected_version=0)
    assert workspace.load_workspace(store, user=ann, attempt_id=attempt).resources == []


def test_submit_grades_stores_the_report_and_closes_the_attempt(store):
    _, ann, _, aid = setup_class(store)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    with store.session() as s:  # the patient as the chart has it: some credit, whatever the random seed drew
        att = repo.get_attempt(s, attempt_id=attempt)
        key = cases.case_for(att.assignment.scenario.source_toml, att.assignment.scenario.slug, att.seed).key
    chart_patient = next(e["resource"] for e in key["entry"] if e["resource"]["resourceType"] == "Patient")
    workspace.save_entry(store, user=ann, attempt_id=attempt, resource=chart_patient, expected_version=0)
    report = workspace.submit_attempt(store, user=ann, attempt_id=attempt)
    assert 0 < report["score"] < 30 and report["findings"]
    assert workspace.grade_report(store, user=ann, attempt_id=attempt) == report
    assert workspace.load_workspace(store, user=ann, attempt_id=attempt).read_only
    with pytest.raises(PermissionDenied, match="submitted"):
        workspace.save_entry(store, user=ann, attempt_id=attempt, resource=patient("Late"), expected_version=1)
    rows = assignments.student_assignments(store, user=ann)
    assert rows[0].status == "graded" and rows[0].attempts_left == 0
    assert assignments.open_assignment(store, user=ann, assignment_id=aid) == attempt  # review, not a new attempt


def test_a_second_attempt_starts_fresh_when_allowed(store):
    _, ann, _, aid = setup_class(store, attempts_allowed=2)
    first = assignments.open_assignment(store, user=ann, assignment_id=aid)
    workspace.submit_attempt(store, user=ann, attempt_id=first)
    assert assignments.open_assignment(store, user=ann, assignment_id=aid) == first  # opening reviews it
    second = assignments.start_attempt(store, user=ann, assignment_id=aid)
    assert second != first
    assert workspace.load_workspace(store, user=ann, attempt_id=second).resources == []


def test_export_is_a_valid_fhir_bundle_of_the_workspace(store):
    _, ann, _, aid = setup_class(store)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    workspace.save_entry(store, user=ann, attempt_id=attempt, resource=patient(), expected_version=0)
    bundle = workspace.export_bundle(store, user=ann, attempt_id=attempt)
    assert bundle["type"] == "collection" and len(bundle["entry"]) == 1
    assert validate_document(bundle) == []


def test_only_the_owner_writes_and_the_instructor_reads(store):
    teacher, ann, ben, aid = setup_class(store)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    with pytest.raises(NotFound, match="No such attempt"):  # the same answer as for an attempt that does not exist
        workspace.save_entry(store, user=ben, attempt_id=attempt, resource=patient(), expected_version=0)
    with pytest.raises(NotFound, match="No such attempt"):
        workspace.export_bundle(store, user=ben, attempt_id=attempt)
    with pytest.raises(PermissionDenied):
        workspace.save_entry(store, user=teacher, attempt_id=attempt, resource=patient(), expected_version=0)
    assert workspace.load_workspace(store, user=teacher, attempt_id=attempt).read_only


def test_nothing_can_be_saved_after_the_due_date(store):
    _, ann, _, aid = setup_class(store, due_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    with store.session() as s:
        repo.get_assignment(s, assignment_id=aid).due_at = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(PermissionDenied, match="due date has passed"):
        workspace.save_entry(store, user=ann, attempt_id=attempt, resource=patient(), expected_version=0)


def test_a_verify_task_starts_from_the_pre_entered_record_and_corrections_raise_the_grade(store):
    _, ann, _, aid = setup_class(store, "verify-registration", attempts_allowed=2)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    view = workspace.load_workspace(store, user=ann, attempt_id=attempt)
    assert view.task == "verify" and view.of("Patient") and view.of("Encounter")
    assert not [r for r in view.resources if r.resource["resourceType"] == "Claim"]
    # What was planted, from the same case, tells which field to correct.
    with store.session() as s:
        att = repo.get_attempt(s, attempt_id=attempt)
        source, slug, seed = att.assignment.scenario.source_toml, att.assignment.scenario.slug, att.seed
    from simulator.generate.case_files import preentered_record
    from simulator.services import cases

    case = cases.case_for(source, slug, seed)
    _, faults = preentered_record(case)
    before = workspace.export_bundle(store, user=ann, attempt_id=attempt)
    from grading import grade

    score_before = grade(case.key, before, case.scenario.rubric()).score
    key_by_id = {e["resource"]["id"]: e["resource"] for e in case.key["entry"]}
    fixable = next(f for f in faults if not f.kind.startswith("missing-"))
    saved = next(r for r in view.resources if r.resource["id"] == fixable.resource_id)
    workspace.save_entry(store, user=ann, attempt_id=attempt, resource=key_by_id[fixable.resource_id],
                         expected_version=saved.version)
    after = workspace.submit_attempt(store, user=ann, attempt_id=attempt)
    assert after["score"] > score_before


def test_a_visit_sent_to_coding_is_read_only_until_the_instructor_reopens_it(store):
    teacher, ann, ben, aid = setup_class(store)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    ctx = forms.EntryContext(patient_id="p1")
    workspace.save_entry(store, user=ann, attempt_id=attempt, resource=patient(), expected_version=0)
    enc = forms.ENCOUNTERS.build({"date": "03/04/2025"}, ctx, None)
    saved = workspace.save_entry(store, user=ann, attempt_id=attempt, resource=enc, expected_version=0)
    vital = forms.build_vital(forms.VITALS[1], "72", "/min", enc, ctx, None)
    workspace.save_entry(store, user=ann, attempt_id=attempt, resource=vital, expected_version=0)
    sent = workspace.send_to_coding(store, user=ann, attempt_id=attempt, encounter_id=enc["id"])
    assert workspace.is_sent_to_coding(sent.resource)
    with pytest.raises(PermissionDenied, match="sent to coding"):
        workspace.save_entry(store, user=ann, attempt_id=attempt, resource={**enc, "status": "finished"},
                             expected_version=sent.version)
    with pytest.raises(PermissionDenied, match="sent to coding"):
        workspace.save_entry(store, user=ann, attempt_id=attempt, resource={**vital, "status": "amended"},
                             expected_version=1)
    with pytest.raises(PermissionDenied, match="Only the instructor"):
        workspace.reopen_for_entry(store, user=ann, attempt_id=attempt, encounter_id=enc["id"])
    reopened = workspace.reopen_for_entry(store, user=teacher, attempt_id=attempt, encounter_id=enc["id"])
    assert not workspace.is_sent_to_coding(reopened.resource) and saved.version < reopened.version
    workspace.save_entry(store, user=ann, attempt_id=attempt, resource={**vital, "status": "amended"}, expected_version=1)
