"""The consistency task's service on a real database (SQLite and PostgreSQL): who may read and write,
what is refused, and that grading uses the planted discrepancies while the student never sees them."""

from __future__ import annotations

import json
import zlib

import pytest
from sqlalchemy import delete, select

from simulator.services import assignments, cases, consistency, workspace
from simulator.services.consistency import DiscrepancyInput
from simulator.services.errors import InvalidInput, NotFound, PermissionDenied
from simulator.store.models import Attempt, ConsistencyRecordRow
from tests.test_workspace import setup_class


def several_visits(view):
    """A patient with a second visit (the seed is random per assignment: some charts hold one visit only)."""
    return next(c for c in view.charts if len(c.visits) > 1)


@pytest.fixture
def task(store):
    teacher, ann, ben, aid = setup_class(store, scenario="consistency-duplicate-chart", attempts_allowed=2)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    return teacher, ann, ben, attempt


def test_a_record_is_saved_versioned_and_shown_again(store, task):
    _, ann, _, attempt = task
    view = consistency.load_report(store, user=ann, attempt_id=attempt)
    visit = several_visits(view).visits[1]
    first = consistency.save_discrepancy(store, user=ann, attempt_id=attempt, expected_version=0, data=DiscrepancyInput(
        "height-loss", (visit.encounter_id,), note="height drops"))
    second = consistency.save_discrepancy(store, user=ann, attempt_id=attempt, expected_version=first.version,
                                          data=DiscrepancyInput("height-loss", (visit.encounter_id,), note="height drops",
                                                                correction="re-measure", id=first.resource["id"]))
    assert second.version == first.version + 1
    (saved,) = consistency.load_report(store, user=ann, attempt_id=attempt).records
    assert consistency.read_input(saved.resource).correction == "re-measure"
    assert saved.resource["implicated"][0]["display"].endswith(visit.label)


@pytest.mark.parametrize(("data", "field", "words"), [
    (DiscrepancyInput("", ("x",)), "category", "Category: choose"),
    (DiscrepancyInput("made-up", ("x",)), "category", "Category: choose"),
    (DiscrepancyInput("dob-mismatch", ()), "visits", "Visits: choose at least one visit"),
    (DiscrepancyInput("dob-mismatch", ("not-a-visit",)), "visits", "Visits: only visits of this record"),
])
def test_a_record_without_category_or_visits_is_refused_naming_the_field(store, task, data, field, words):
    _, ann, _, attempt = task
    if data.visits == ("x",):
        data = DiscrepancyInput(data.category, (consistency.load_report(store, user=ann, attempt_id=attempt)
                                                .charts[0].visits[0].encounter_id,))
    with pytest.raises(InvalidInput, match=words) as info:
        consistency.save_discrepancy(store, user=ann, attempt_id=attempt, data=data, expected_version=0)
    assert info.value.field == field
    assert consistency.load_report(store, user=ann, attempt_id=attempt).records == []


def test_only_the_student_writes_and_only_the_teacher_and_student_read(store, task):
    teacher, ann, ben, attempt = task
    view = consistency.load_report(store, user=ann, attempt_id=attempt)
    data = DiscrepancyInput("lab-unit", (view.charts[0].visits[0].encounter_id,))
    # another student's attempt is "not found", like one that does not exist: ids cannot be probed (SECURITY.md)
    with pytest.raises(NotFound):
        consistency.load_report(store, user=ben, attempt_id=attempt)
    with pytest.raises(NotFound):
        consistency.save_discrepancy(store, user=ben, attempt_id=attempt, data=data, expected_version=0)
    with pytest.raises(PermissionDenied):
        consistency.save_discrepancy(store, user=teacher, attempt_id=attempt, data=data, expected_version=0)
    assert consistency.load_report(store, user=teacher, attempt_id=attempt).read_only


def test_the_student_sees_the_record_never_the_planted_list(store, task):
    _, ann, _, attempt = task
    view = consistency.load_report(store, user=ann, attempt_id=attempt)
    shown = json.dumps([c.label for c in view.charts]) + repr(view)
    assert "planted" not in shown and "legitimate" not in shown.lower()


def test_submitting_grades_only_the_consistency_section_against_the_planted_list(store, task):
    _, ann, _, attempt = task
    with store.session() as s:
        from simulator.store import repo

        a = repo.get_attempt(s, attempt_id=attempt)
        source, slug, seed = a.assignment.scenario.source_toml, a.assignment.scenario.slug, a.seed
    planted = cases.consistency_for(source, slug, seed).discrepancies
    for p in planted[:5]:
        consistency.save_discrepancy(store, user=ann, attempt_id=attempt, expected_version=0,
                                     data=DiscrepancyInput(p.kind, p.visits[:1]))
    report = workspace.submit_attempt(store, user=ann, attempt_id=attempt)
    assert [s["section"] for s in report["sections"]] == ["consistency"]
    recall = 5 / len(planted)
    assert report["score"] == pytest.approx(100 * 2 * recall / (1 + recall), abs=0.06)
    assert sum(f["kind"] == "missing" for f in report["findings"]) == len(planted) - 5


def test_starting_the_attempt_builds_its_record_in_the_background_once(store, task):
    _, ann, ben, attempt = task
    building = consistency.prepare_record(store, user=ann, attempt_id=attempt)  # started by open_assignment already
    assert consistency.prepare_record(store, user=ann, attempt_id=attempt) is building  # one build per record
    record = building.result(timeout=120)
    assert consistency.load_report(store, user=ann, attempt_id=attempt).charts == record.charts
    with pytest.raises(NotFound):  # another student cannot start (or learn anything from) the build
        consistency.prepare_record(store, user=ben, attempt_id=attempt)


def _restart() -> None:
    """What a server restart forgets: the in-memory records and generated cases (the database stays)."""
    consistency.builds_stored()
    consistency.forget_records()
    for cached in (cases.case_for, cases.pages_for, cases.graded_sections, cases.scenario_for):
        cached.cache_clear()


@pytest.fixture
def builds(monkeypatch):
    """Counts the record builds (the real build runs; only counted)."""
    made: list[int] = []
    real = cases.consistency_charts

    def counted(source_toml: str, slug: str, seed: int):
        made.append(seed)
        return real(source_toml, slug, seed)
    monkeypatch.setattr(cases, "consistency_charts", counted)
    return made


def test_the_record_is_stored_and_an_open_after_a_restart_reads_it_unchanged(store, task, builds):
    _, ann, _, attempt = task
    before = consistency.load_report(store, user=ann, attempt_id=attempt).charts
    _restart()
    builds.clear()
    after = consistency.load_report(store, user=ann, attempt_id=attempt).charts
    assert after == before
    assert builds == []  # read from the database: nothing was generated again


def test_a_rebuilt_record_is_the_stored_one_the_same_attempt_gives_the_same_record(store, task, builds):
    _, ann, _, attempt = task
    stored = consistency.load_report(store, user=ann, attempt_id=attempt).charts
    _restart()
    with store.session() as s:
        s.execute(delete(ConsistencyRecordRow))
    builds.clear()
    rebuilt = consistency.load_report(store, user=ann, attempt_id=attempt).charts
    assert len(builds) == 1  # nothing stored: built again, from the attempt's seed
    assert rebuilt == stored
    consistency.builds_stored()
    with store.session() as s:
        assert len(s.scalars(select(ConsistencyRecordRow)).all()) == 1  # and stored again


def test_the_stored_record_holds_no_planted_answer(store, task):
    _, ann, _, attempt = task
    consistency.load_report(store, user=ann, attempt_id=attempt)
    consistency.builds_stored()
    with store.session() as s:
        (row,) = s.scalars(select(ConsistencyRecordRow)).all()
        a = s.get(Attempt, attempt)
        source, slug, seed = a.assignment.scenario.source_toml, a.assignment.scenario.slug, a.seed
    stored = zlib.decompress(row.charts).decode("utf-8")
    planted = cases.consistency_for(source, slug, seed).planted
    assert planted and "planted" not in stored and "legitimate" not in stored.lower()
    for p in planted:  # what the grader's feedback says of each planted change is nowhere in the stored record
        assert p.detail not in stored and p.detail.split(": ", 1)[1] not in stored


def test_opening_a_consistency_attempt_generates_nothing_on_the_event_loop(store, task, builds):
    """The attempt page reads its header first, on the event loop: it must not generate the case or the record."""
    _, ann, _, attempt = task
    consistency.prepare_record(store, user=ann, attempt_id=attempt).result(timeout=120)
    _restart()
    builds.clear()
    view = assignments.attempt_view(store, user=ann, attempt_id=attempt)
    assert "consistency" in view.tasks and view.pages == () and view.graded_sections == ()
    assert cases.case_for.cache_info().currsize == 0 and builds == []
