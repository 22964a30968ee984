"""The consistency task: the planted record, one rule per kind, the reference run and the graded section."""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from functools import cache

import pytest

from grading import default_rubric, grade
from grading.consistency import grade_consistency
from simulator.fhir.validation import validate_document
from simulator.generate import generate_case, load_scenario
from simulator.generate.consistency import (
    ConsistencyCase,
    consistency_for,
    detected_issues,
    plant_consistency,
    record_charts,
)
from simulator.generate.key import uuid4_of
from simulator.generate.scenario import ScenarioError, parse_scenario
from simulator.reports import consistency_rules as rules
from simulator.reports.consistency_record import charts_from_bytes, charts_to_bytes, read_record

KINDS = tuple(rules.DISCREPANCY_KINDS)
SMALL = """
title = "Three patients, five visits"
difficulty = "intermediate"
tasks = ["consistency"]
[patients]
count = 3
visits = [5, 5]
ages = [40, 80]
months_between_visits = [2, 4]
[case_mix]
chronic = ["hypertension", "type2-diabetes", "hyperlipidemia", "hypothyroidism", "gerd"]
chronic_per_patient = [2, 3]
acute = ["acute-bronchitis", "sinusitis"]
acute_visit_share = 0.3
allergy_rate = 0.5
[messiness]
units = "mixed"
[consistency]
count = 1
"""


@cache
def _key(seed: int) -> dict:
    return generate_case(parse_scenario(SMALL, "small.toml", "small"), seed).key


def _plant(seed: int, kinds: tuple[str, ...], count: int = 1, legitimate: tuple[str, ...] = ()) -> ConsistencyCase:
    return plant_consistency(_key(seed), count, random.Random(seed), kinds, legitimate)


def _record_of(issues: list[dict]) -> dict:
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": f"urn:uuid:{i['id']}", "resource": i} for i in issues]}


def _student_issue(kind: str, visits: tuple[str, ...], n: int = 1) -> dict:
    return {"resourceType": "DetectedIssue", "id": f"s{n}", "status": "preliminary",
            "code": {"coding": [{"system": rules.SYSTEM, "code": kind}]},
            "implicated": [{"reference": f"urn:uuid:{v}"} for v in visits]}


def _grade(case: ConsistencyCase, records: list[dict]):
    return grade(_record_of(detected_issues(case)), _record_of(records), default_rubric())


def test_an_unplanted_record_raises_no_discrepancy():
    for seed in range(6):
        case = _plant(seed, KINDS, count=0)
        assert case.planted == ()
        assert rules.run_all(read_record(case.record)) == []


@pytest.mark.parametrize("kind", KINDS)
def test_each_rule_finds_its_planted_kind_and_a_student_record_of_it_scores(kind):
    for seed in range(8):
        case = _plant(seed, (kind,))
        if case.discrepancies:
            break
    else:
        pytest.fail(f"{kind}: not planted in 8 seeds")
    (planted,) = case.discrepancies
    found = rules.RULES[kind](read_record(case.record), rules.catalog_knowledge())
    assert [d for d in found if set(d.visits) & set(planted.visits)], f"{kind}: rule did not find {planted.detail}"
    # The student records it (one visit of it is enough): full marks for the section.
    report = _grade(case, [_student_issue(kind, planted.visits[-1:])])
    assert report.score == pytest.approx(100.0)
    # Another category at the same visits is a miss and a false alarm, explained in words.
    other = next(k for k in KINDS if k != kind)
    report = _grade(case, [_student_issue(other, planted.visits)])
    assert report.score == pytest.approx(0.0)
    messages = [f.message for f in report.findings]
    assert any(m.startswith("Missed: ") and planted.detail.split(": ", 1)[1][:20] in m for m in messages)
    assert any("False alarm" in m and "not this one" in m for m in messages)


def test_reference_run_finds_every_planted_discrepancy_and_flags_no_legitimate_change():
    sc = load_scenario("consistency-duplicate-chart")
    seen_kinds, seen_legit = set(), set()
    for seed in range(12):
        case = plant_consistency(generate_case(sc, seed).key, sc.consistency_count, random.Random(seed),
                                 sc.consistency_kinds, sc.legitimate_changes)
        found = rules.run_all(read_record(case.record))
        for p in case.discrepancies:
            assert any(d.kind == p.kind and set(d.visits) & set(p.visits) for d in found), (seed, p)
        for d in found:
            assert any(d.kind == p.kind and set(d.visits) & set(p.visits) for p in case.discrepancies), (seed, d)
        seen_kinds |= {p.kind for p in case.discrepancies}
        seen_legit |= {p.kind for p in case.planted if p.legitimate}
        assert len(case.discrepancies) == sc.consistency_count
    assert seen_kinds == set(KINDS)
    assert seen_legit == set(rules.LEGITIMATE_CHANGES)


def test_flagging_a_legitimate_change_costs_and_says_why_it_is_normal():
    case = _plant(2, ("height-loss",), legitimate=tuple(rules.LEGITIMATE_CHANGES))
    (planted,) = case.discrepancies
    mistaken_for = {"weight-drift": "implausible-weight", "resolved-acute-problem": "vanished-problem",
                    "new-medication-with-note": "allergy-conflict", "explained-dose-change": "undocumented-dose-change",
                    "address-move": "name-spelling"}
    legits = [p for p in case.planted if p.legitimate]
    assert {p.kind for p in legits} == set(mistaken_for)
    for legit in legits:
        report = _grade(case, [_student_issue("height-loss", planted.visits),
                               _student_issue(mistaken_for[legit.kind], legit.visits, 2)])
        assert 0 < report.score < 100  # precision 1/2, recall 1/1: F1 2/3
        assert report.score == pytest.approx(100 * 2 / 3)
        (alarm,) = [f for f in report.findings if f.kind == "extra"]
        assert "is not a discrepancy" in alarm.message and legit.detail in alarm.message


def test_f1_counts_misses_and_false_alarms_and_the_points_add_up():
    case = _plant(1, ("dob-mismatch", "lab-unit", "height-loss", "copy-forward"), count=4)
    assert len(case.discrepancies) == 4
    found = case.discrepancies[:2]
    records = [_student_issue(p.kind, p.visits, i) for i, p in enumerate(found)]
    records.append(_student_issue(found[0].kind, found[0].visits, 9))  # the same one twice
    section, findings = grade_consistency(_record_of(detected_issues(case)), _record_of(records), 30.0)
    precision, recall = 2 / 3, 2 / 4
    assert section.points_earned == pytest.approx(30 * 2 * precision * recall / (precision + recall))
    assert sum(f.points_lost for f in findings) == pytest.approx(30 - section.points_earned)
    assert sum(f.kind == "missing" for f in findings) == 2
    assert any("already recorded" in f.message for f in findings)
    assert "precision 0.67, recall 0.50" in section.title


def test_records_without_category_or_visits_are_false_alarms_with_a_reason():
    case = _plant(1, ("sex-mismatch",))
    bad = [{"resourceType": "DetectedIssue", "id": "a", "status": "preliminary"},
           _student_issue("sex-mismatch", (), 2)]
    report = _grade(case, bad)
    messages = " ".join(f.message for f in report.findings)
    assert "without a category" in messages and "names no visits" in messages


def test_the_record_is_valid_fhir_deterministic_and_leaves_the_key_alone():
    key = _key(4)
    before = json.dumps(key, sort_keys=True)
    a = plant_consistency(key, 10, random.Random(7))
    b = plant_consistency(key, 10, random.Random(7))
    assert json.dumps(key, sort_keys=True) == before
    assert json.dumps(a.record) == json.dumps(b.record) and a.planted == b.planted
    assert validate_document(a.record) == []
    assert validate_document(_record_of(detected_issues(a))) == []
    types = {e["resource"]["resourceType"] for e in a.record["entry"]}
    assert "Claim" not in types and {"MedicationStatement", "Patient", "Encounter", "DocumentReference"} <= types


def test_a_scenario_asking_for_more_discrepancies_than_its_visits_hold_is_refused_naming_the_key():
    text = SMALL.replace("[consistency]\ncount = 1", "[consistency]\ncount = 13")
    with pytest.raises(ScenarioError, match=r"big.toml: consistency.count: 13 planted discrepancies .* hold only 12"):
        parse_scenario(text, "big.toml", "big")
    with pytest.raises(ScenarioError, match=r"consistency.count: the consistency task needs at least 1"):
        parse_scenario(SMALL.replace("[consistency]\ncount = 1", "[consistency]\ncount = 0"), "zero.toml", "zero")
    with pytest.raises(ScenarioError, match=r"consistency.kinds: expected a list of dob-mismatch"):
        parse_scenario(SMALL.replace("[consistency]\ncount = 1", "[consistency]\ncount = 1\nkinds = [\"typo\"]"),
                       "kinds.toml", "kinds")


def test_rule_helpers_know_nicknames_and_transposed_dates():
    assert rules.same_first_name("William", "Bill") and not rules.same_first_name("William", "Robert")
    assert rules.dates_one_slip_apart("1962-03-14", "1926-03-14")
    assert rules.dates_one_slip_apart("1962-03-14", "1962-03-15")
    assert not rules.dates_one_slip_apart("1962-03-14", "1963-04-14")
    assert rules.weight_change_allowed(0) < rules.weight_change_allowed(90)


def test_hitsim_generate_writes_the_consistency_record_and_its_key():
    from simulator.generate.case_files import case_files

    sc = load_scenario("consistency-duplicate-chart")
    files = case_files(generate_case(sc, 3)).files
    record, key = json.loads(files["consistency-record.json"]), json.loads(files["consistency-key.json"])
    assert validate_document(record) == [] and validate_document(key) == []
    issues = [e["resource"] for e in key["entry"]]
    assert sum(1 for i in issues if "extension" not in i) == sc.consistency_count
    assert files == case_files(generate_case(sc, 3)).files  # same scenario and seed, same bytes


def test_naming_every_visit_for_every_category_does_not_score():
    case = _plant(3, KINDS, count=8)
    every_visit = tuple(v.encounter_id for c in read_record(case.record) for v in c.visits)
    records = [_student_issue(kind, every_visit, i) for i, kind in enumerate(KINDS)]
    report = _grade(case, records)
    assert report.score == pytest.approx(0.0)
    assert any("name only the visits involved" in f.message for f in report.findings)


def test_a_dose_change_the_days_note_orders_is_documented():
    note = "P:\n1. HTN not at goal: increase lisinopril from 10 mg to 20 mg.\nRx: Lisinopril 20 mg 1 tab PO QD"
    assert rules.note_orders(note, "Lisinopril", "20 mg")
    assert not rules.note_orders(note, "Lisinopril", "40 mg")
    assert not rules.note_orders("Continue apixaban 2.5 mg BID.", "Apixaban", "5 mg")  # 2.5 mg is not 5 mg


def test_the_stored_form_of_the_record_gives_back_the_same_charts():
    """What the app stores for an attempt reads back equal: every visit, value, unit, note and blood pressure."""
    case = plant_consistency(_key(4), 10, random.Random(7))
    charts = tuple(read_record(case.record))
    back = charts_from_bytes(charts_to_bytes(charts))
    assert back == charts and case.charts == charts
    assert any(v.blood_pressure for c in back for v in c.visits) and all(c.ids for c in back)
    assert isinstance(back[0].visits[0].date, dt.date) and isinstance(back[0].visits[0].blood_pressure, tuple | None)


@pytest.mark.parametrize("seed", [3, 11])
def test_the_charts_read_straight_from_the_planting_are_the_records_charts(seed):
    """The app builds the student's charts without the Bundle; they must be what reading the Bundle gives."""
    case = generate_case(load_scenario("consistency-duplicate-chart"), seed)
    assert record_charts(case) == tuple(read_record(consistency_for(case).record))


def test_record_ids_are_the_uuid4_the_standard_library_makes():
    rng = random.Random(5)
    for _ in range(2000):
        bits = rng.getrandbits(128)
        assert uuid4_of(bits) == str(uuid.UUID(int=bits, version=4))
