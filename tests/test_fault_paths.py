"""Every kind of planted error names a place the grader compares.

A verify student is told "You caught N of M": a planted error counts as caught when nothing is still wrong at the
element it was planted in. If a fault kind's path and the grader's field path drift apart (the phone fault once
named 'Patient.telecom.value' while the grader said 'Patient.telecom(phone).value'), a student who changed
nothing is told they caught it. One kind at a time, over several charts: left alone it is missed, corrected it is
caught."""

from __future__ import annotations

import random

import pytest

import grading
from simulator.generate.faults import plant_faults
from simulator.generate.scenario import FAULT_KINDS
from tests import grading_cases as gc

SCENARIO = "clinic-chronic-care"  # allergies, problems, medications, vitals and labs on every chart


def one_fault(kind: str, seed: int) -> tuple[dict, dict, list[dict[str, str]]] | None:
    key = gc.case_key(SCENARIO, seed)
    record, faults = plant_faults(key, 1, random.Random(f"{kind}:{seed}"), (kind,))
    if not faults:
        return None  # this chart offers no place for the kind (no allergy to leave out, no digits to swap)
    return key, record, [f.as_dict() for f in faults]


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_a_planted_error_left_alone_is_missed_and_corrected_is_caught(kind):
    rubric = gc.scenario(SCENARIO).rubric()
    tried = 0
    for seed in (1001, 1002, 1003):
        planted = one_fault(kind, seed)
        if planted is None:
            continue
        tried += 1
        key, record, faults = planted
        untouched = grading.grade(key, gc.verify_submission(key, record, faults, leave=1), rubric, planted=faults)
        assert untouched.summary.startswith("You caught 0 of 1 planted errors"), (seed, faults, untouched.summary)
        fixed = grading.grade(key, gc.verify_submission(key, record, faults, leave=0), rubric, planted=faults)
        assert fixed.summary == "You caught 1 of 1 planted errors.", (seed, faults, fixed.summary)
    assert tried, f"{kind}: no chart of {SCENARIO} offered a place to plant it"
