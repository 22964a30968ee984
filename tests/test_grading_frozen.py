"""The grader gives the same reports it gave before it was made faster (issue #11).

``tests/data/grading_frozen.json`` holds the full report (score, every section's points, every finding with
its message) of 60 seeded submissions across the library's scenarios, written by the grader before its speed
work. Each submission is a student's copy of the key with planted entry errors and, for most, the visits
coded, some codes then changed; every tenth is a verify task graded with its planted faults. A change to the
grader that moves any figure or word of any report fails here; a deliberate change of grades refreshes the
file (``python tests/test_grading_frozen.py --refresh``) in the same commit that explains it.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest

import grading
from simulator.generate import generate_case, load_scenario, plant_faults
from simulator.generate.case_files import preentered_record

FROZEN = Path(__file__).parent / "data" / "grading_frozen.json"
COUNT = 60


# The scenarios the reports were frozen over (a new scenario in the library does not reshuffle the seeds).
FROZEN_SCENARIOS = ("acute-office-visits", "audit-vip-snooping", "clinic-chronic-care", "consistency-duplicate-chart",
                    "diabetes-complications", "ed-fracture", "emergency-department", "pediatric-clinic",
                    "primary-care-follow-up", "verify-registration")


@functools.cache
def _scenarios() -> list[Any]:
    return [load_scenario(name) for name in FROZEN_SCENARIOS]


def _recode(claims: list[dict[str, Any]], rng: random.Random) -> None:
    """What a coder gets wrong: a code one character off, a line or diagnosis left out, the order swapped."""
    for claim in claims:
        diagnoses, items = claim.get("diagnosis") or [], claim.get("item") or []
        change = rng.choice(("keep", "char", "drop_dx", "swap_dx", "drop_line", "modifier"))
        if change == "char" and diagnoses:
            coding = diagnoses[-1]["diagnosisCodeableConcept"]["coding"][0]
            coding["code"] = coding["code"][:-1] + ("9" if coding["code"][-1] != "9" else "0")
        elif change == "drop_dx" and len(diagnoses) > 1:
            del diagnoses[rng.randrange(len(diagnoses))]
        elif change == "swap_dx" and len(diagnoses) > 1:
            first, second = diagnoses[0]["diagnosisCodeableConcept"], diagnoses[1]["diagnosisCodeableConcept"]
            diagnoses[0]["diagnosisCodeableConcept"], diagnoses[1]["diagnosisCodeableConcept"] = second, first
        elif change == "drop_line" and len(items) > 1:
            del items[rng.randrange(len(items))]
        elif change == "modifier" and items:
            items[0]["modifier"] = [{"coding": [{"code": "25"}]}]


def case(seed: int) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]] | None]:
    """(key, submission, planted faults for a verify task or None) for one seeded student."""
    scenarios = _scenarios()
    generated = generate_case(scenarios[seed % len(scenarios)], 1000 + seed)
    key = generated.key
    if seed % 10 == 9:
        record, faults = preentered_record(generated)
        return key, record, [x.as_dict() for x in faults]
    rng = random.Random(seed)
    submission, _ = plant_faults(key, 1 + seed % 6, rng)
    if seed % 4:
        claims = [copy.deepcopy(e) for e in key["entry"] if e["resource"]["resourceType"] == "Claim"]
        _recode([e["resource"] for e in claims], rng)
        submission["entry"] += claims
    return key, submission, None


def report_of(seed: int) -> dict[str, Any]:
    key, submission, planted = case(seed)
    digest = hashlib.sha256(json.dumps([key, submission, planted], sort_keys=True).encode()).hexdigest()
    report = grading.grade(key, submission, grading.default_rubric(), planted=planted)
    return {
        "seed": seed,
        "inputs": digest[:16],
        "score": round(report.score, 9),
        "summary": report.summary,
        "missed": report.missed,
        "sections": [[s.section, s.title, round(s.points_possible, 9), round(s.points_earned, 9)] for s in report.sections],
        "findings": [[x.section, x.path, x.expected, x.entered, round(x.points_lost, 9), x.kind, x.message]
                     for x in report.findings],
    }


def _frozen() -> dict[int, dict[str, Any]]:
    return {r["seed"]: r for r in json.loads(FROZEN.read_text(encoding="utf-8"))}


@pytest.mark.parametrize("seed", range(COUNT))
def test_the_grader_gives_the_report_it_gave_before(seed: int) -> None:
    frozen = _frozen()[seed]
    now = report_of(seed)
    assert now["inputs"] == frozen["inputs"], (
        "the generator now makes a different chart for this seed: check that the grader is unchanged, then "
        "refresh tests/data/grading_frozen.json with python tests/test_grading_frozen.py --refresh")
    assert now == frozen


def test_the_frozen_reports_cover_every_section_and_every_kind_of_finding() -> None:
    reports = _frozen().values()
    sections = {s[0] for r in reports for s in r["sections"]}
    kinds = {x[5] for r in reports for x in r["findings"]}
    assert {"demographics", "encounters", "problem_list", "medications", "allergies", "vitals", "labs",
            "procedures", "notes", "coding"} <= sections
    assert kinds == {"missing", "extra", "wrong", "partial"}
    assert any(r["summary"] for r in reports)
    assert len({r["score"] for r in reports}) > COUNT // 2


def _reordered(bundle: dict[str, Any]) -> dict[str, Any]:
    """The same record with its entries in the opposite order (what a student enters first does not matter)."""
    out = copy.deepcopy(bundle)
    out["entry"].reverse()
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_verbatim_copy_is_graded_as_the_same_copy_in_another_order(seed: int) -> None:
    """The grader takes a short cut for entries that are the key's own, in the key's order; entered in another
    order the same entries are graded the long way. Both give the same report, also for items with nothing
    that identifies them (an uncoded problem, an uncoded result), which are never paired."""
    key = copy.deepcopy(case(seed)[0])
    resources = [e["resource"] for e in key["entry"]]
    next(r for r in resources if r["resourceType"] == "Condition")["code"] = {}
    next(r for r in resources if r["resourceType"] == "Observation")["code"] = {"text": ""}
    submission, _ = plant_faults(key, 1, random.Random(seed))
    in_order = grading.grade(key, submission, grading.default_rubric())
    other_order = grading.grade(key, _reordered(submission), grading.default_rubric())
    assert in_order.score < 100
    assert round(in_order.score, 9) == round(other_order.score, 9)
    assert sorted(map(repr, in_order.findings)) == sorted(map(repr, other_order.findings))


if __name__ == "__main__" and "--refresh" in sys.argv:
    FROZEN.write_text(json.dumps([report_of(seed) for seed in range(COUNT)], indent=1, ensure_ascii=False) + "\n",
                      encoding="utf-8")
    print(f"wrote {FROZEN}")


def _findings(report: grading.GradeReport) -> list[tuple[Any, ...]]:
    return sorted((x.section, x.path, x.expected, x.entered, round(x.points_lost, 9), x.kind, x.message)
                  for x in report.findings)


@pytest.mark.parametrize("seed", range(0, COUNT, 3))
def test_entries_that_are_the_keys_own_grade_as_the_same_entries_in_another_order(seed: int) -> None:
    """The grader sets aside the entries that are the key's own items at the same place (copies pair with their
    item) and pairs only the others; the same entries in the opposite order are all paired the long way. Both give
    the same score and the same findings (issue #11)."""
    key, submission, planted = case(seed)
    in_order = grading.grade(key, submission, grading.default_rubric(), planted=planted)
    other_order = grading.grade(key, _reordered(submission), grading.default_rubric(), planted=planted)
    assert round(in_order.score, 9) == round(other_order.score, 9)
    assert _findings(in_order) == _findings(other_order)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_entry_sharing_what_identifies_a_copy_is_paired_with_it_the_long_way(seed: int) -> None:
    """A second reading of a vital sign at the same visit (another value) shares its code and visit with the copy
    of the chart's reading: the copies cannot be set aside, and the best pairing keeps the right reading paired
    and charges the second one as extra, as the long way does."""
    key = case(seed)[0]
    submission = copy.deepcopy(key)
    submission["entry"] = [e for e in submission["entry"] if e["resource"]["resourceType"] != "Claim"]
    vital = next(e for e in submission["entry"] if e["resource"]["resourceType"] == "Observation"
                 and e["resource"]["category"][0]["coding"][0]["code"] == "vital-signs"
                 and "valueQuantity" in e["resource"])
    second = copy.deepcopy(vital)
    second["fullUrl"], second["resource"]["id"] = "urn:uuid:second-reading", "second-reading"
    second["resource"]["valueQuantity"]["value"] += 7
    submission["entry"].append(second)
    in_order = grading.grade(key, submission, grading.default_rubric())
    other_order = grading.grade(key, _reordered(submission), grading.default_rubric())
    assert [x.kind for x in in_order.findings if x.section == "vital signs"] == ["extra"]
    assert round(in_order.score, 9) == round(other_order.score, 9)
    assert _findings(in_order) == _findings(other_order)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_copies_are_not_set_aside_when_pairing_them_otherwise_scores_better(seed: int) -> None:
    """The chart has two pulse readings at one visit, 0.3/min apart; the student copied the first and typed the second
    0.3/min below the first. Each entry is within tolerance (0.5 %) of one reading only if the copy goes with the
    second reading: the best pairing, which the grader must find (no vital sign is wrong), rather than pairing the
    copy with its own reading and calling the second entry wrong."""
    key = copy.deepcopy(case(seed)[0])
    first = next(e for e in key["entry"] if e["resource"]["resourceType"] == "Observation"
                 and f"{e['resource'].get('valueQuantity', {}).get('code')}" == "/min")
    second = copy.deepcopy(first)
    second["fullUrl"], second["resource"]["id"] = "urn:uuid:second-reading", "second-reading"
    value = first["resource"]["valueQuantity"]["value"]
    second["resource"]["valueQuantity"]["value"] = value + 0.3
    key["entry"].insert(key["entry"].index(first) + 1, second)
    submission = copy.deepcopy(key)
    submission["entry"] = [e for e in submission["entry"] if e["resource"]["resourceType"] != "Claim"]
    typed = next(e for e in submission["entry"] if e["resource"]["id"] == "second-reading")
    typed["resource"]["valueQuantity"]["value"] = value - 0.3
    report = grading.grade(key, submission, grading.default_rubric())
    assert [x.message for x in report.findings if x.section == "vital signs"] == []
    assert _findings(report) == _findings(grading.grade(key, _reordered(submission), grading.default_rubric()))
