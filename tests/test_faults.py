"""The fault planter: a pre-entered record with exactly the listed errors, the key untouched."""

from __future__ import annotations

import copy
import json
import random

from simulator.fhir.validation import validate_document
from simulator.generate import generate_case, load_scenario, plant_faults
from simulator.generate.case_files import preentered_record
from simulator.generate.scenario import FAULT_KINDS


def by_id(bundle: dict) -> dict[str, dict]:
    return {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}


def test_planted_faults_are_listed_real_and_leave_the_key_alone():
    sc = load_scenario("verify-registration")
    for seed in range(60):
        key = generate_case(sc, seed).key
        before = copy.deepcopy(key)
        record, faults = plant_faults(key, 6, random.Random(seed))
        assert key == before
        assert len(faults) == 6
        assert len({(f.resource_id, f.path) for f in faults}) == 6
        assert validate_document(record) == []
        assert not any(e["resource"]["resourceType"] == "Claim" for e in record["entry"])
        key_res, rec_res = by_id(key), by_id(record)
        for f in faults:
            assert f.expected != f.planted
            if f.kind.startswith("missing-"):
                assert f.resource_id not in rec_res
            else:
                assert key_res[f.resource_id] != rec_res[f.resource_id]
        # Nothing else differs: every other resource is as in the key.
        touched = {f.resource_id for f in faults}
        for rid, res in rec_res.items():
            if rid not in touched and res["resourceType"] != "Encounter":
                assert res == key_res[rid]


def test_every_fault_kind_can_be_planted():
    sc = load_scenario("verify-registration")
    seen = set()
    for seed in range(80):
        _, faults = plant_faults(generate_case(sc, seed).key, 8, random.Random(seed))
        seen |= {f.kind for f in faults}
    assert seen == set(FAULT_KINDS)


def test_the_same_case_plants_the_same_faults():
    case = generate_case(load_scenario("verify-registration"), 4)
    a = preentered_record(case)
    b = preentered_record(case)
    assert json.dumps(a[0]) == json.dumps(b[0]) and a[1] == b[1]


def test_a_patient_without_allergies_cannot_lose_one():
    key = generate_case(load_scenario("verify-registration"), 1).key
    for e in key["entry"]:
        if e["resource"]["resourceType"] == "AllergyIntolerance":
            e["resource"]["code"]["coding"][0]["code"] = "409137002"
    _, faults = plant_faults(key, 5, random.Random(1), ("missing-allergy", "dob-digit"))
    assert [f.kind for f in faults] == ["dob-digit"]
