"""The generator: deterministic, valid FHIR, billable codes, and clinically coherent charts."""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys

import pytest
import simple_icd_10_cm as icd

from simulator.clinical import bmi_code, load_catalog
from simulator.fhir import ICD10CM
from simulator.fhir.validation import validate_document
from simulator.generate import generate_case, key_json, load_scenario
from simulator.generate.clinical_course import ckd_epi_2021
from simulator.generate.scenario import list_scenario_files

CAT = load_catalog()
SCENARIOS = [load_scenario(f) for f in list_scenario_files()]


def resources(key: dict, rtype: str) -> list[dict]:
    return [e["resource"] for e in key["entry"] if e["resource"]["resourceType"] == rtype]


def test_same_scenario_and_seed_give_byte_identical_keys():
    sc = load_scenario("clinic-chronic-care")
    assert key_json(generate_case(sc, 42)) == key_json(generate_case(sc, 42))
    assert key_json(generate_case(sc, 42)) != key_json(generate_case(sc, 43))


def test_generation_does_not_depend_on_hash_seed_or_the_global_random(tmp_path):
    """Another process with another PYTHONHASHSEED and a disturbed global random gives the same bytes."""
    code = ("import random,sys; random.seed(999); from simulator.generate import generate_case, key_json, load_scenario;"
            "sys.stdout.write(key_json(generate_case(load_scenario('emergency-department'), 7)))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out == key_json(generate_case(load_scenario("emergency-department"), 7))


def test_generation_leaves_the_global_random_untouched():
    state = random.getstate()
    generate_case(SCENARIOS[0], 5)
    assert random.getstate() == state


def test_key_is_a_collection_bundle_with_every_part_of_the_chart():
    key = generate_case(load_scenario("clinic-chronic-care"), 11).key
    assert key["resourceType"] == "Bundle" and key["type"] == "collection"
    types = {e["resource"]["resourceType"] for e in key["entry"]}
    assert {"Patient", "Encounter", "Condition", "MedicationRequest", "AllergyIntolerance", "Observation",
            "DocumentReference", "Claim", "Coverage", "Practitioner", "Organization"} <= types
    assert len(resources(key, "Encounter")) == 3
    assert len(resources(key, "Claim")) == len(resources(key, "Encounter"))
    assert all(e["fullUrl"] == f"urn:uuid:{e['resource']['id']}" for e in key["entry"])


def test_500_seeds_across_every_scenario_are_valid_fhir_with_only_billable_codes():
    problems, checked = [], 0
    for i in range(500):
        sc = SCENARIOS[i % len(SCENARIOS)]
        key = generate_case(sc, 10_000 + i).key
        problems += [(sc.slug, i, p) for p in validate_document(key)]
        for claim in resources(key, "Claim"):
            for dx in claim["diagnosis"]:
                coding = dx["diagnosisCodeableConcept"]["coding"][0]
                assert coding["system"] == ICD10CM
                assert icd.is_leaf(coding["code"]), coding["code"]
                checked += 1
    assert problems == []
    assert checked > 1000


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.slug)
def test_charts_are_clinically_coherent(scenario):
    for seed in range(40):
        key = generate_case(scenario, seed).key
        patients = {p["id"]: p for p in resources(key, "Patient")}
        by_patient: dict[str, list[dict]] = {pid: [] for pid in patients}
        for e in key["entry"]:
            r = e["resource"]
            ref = (r.get("subject") or r.get("patient") or r.get("beneficiary") or {}).get("reference", "")
            if ref.startswith("urn:uuid:") and ref[9:] in by_patient:
                by_patient[ref[9:]].append(r)
        for pid, items in by_patient.items():
            _check_patient(patients[pid], items)


def _check_patient(patient: dict, items: list[dict]) -> None:
    allergy_avoid = set()
    for a in (r for r in items if r["resourceType"] == "AllergyIntolerance"):
        for allergy in CAT.allergies.values():
            if allergy.rxnorm == a["code"]["coding"][0]["code"]:
                allergy_avoid |= set(allergy.avoid)
    # No medication from a class the patient is allergic to.
    for m in (r for r in items if r["resourceType"] == "MedicationRequest"):
        name = m["medicationCodeableConcept"]["coding"][0]["display"]
        med = next(x for x in CAT.medications.values() if x.name == name)
        assert not (set(med.classes) & allergy_avoid), f"{name} prescribed despite allergy"
    encounters = [r for r in items if r["resourceType"] == "Encounter"]
    birth = patient["birthDate"]
    for enc in encounters:
        assert enc["period"]["start"][:10] > birth, "visit before birth"
    # Diagnoses fit the patient's sex and age.
    conditions = {c["code"]["coding"][0]["code"] for c in items if c["resourceType"] == "Condition"}
    keys_for: dict[str, list] = {}  # a code may belong to several conditions (a sprain; a sprain in pregnancy)
    for c in CAT.conditions.values():
        for v in c.variants:
            for code in v.codes:
                keys_for.setdefault(code, []).append(c)
    for code in conditions:
        conds = keys_for.get(code, [])
        if conds and all(c.sex != "any" for c in conds):
            assert any(c.sex == patient["gender"] for c in conds), f"{code} for a {patient['gender']} patient"
    # eGFR follows creatinine (CKD-EPI 2021) and the BMI Z-code follows the measured BMI.
    obs = [r for r in items if r["resourceType"] == "Observation"]
    for enc in encounters:
        ref = f"urn:uuid:{enc['id']}"
        here = {o["code"]["coding"][0]["code"]: o for o in obs if o["encounter"]["reference"] == ref}
        if "2160-0" in here and "98979-8" in here:
            age = int(enc["period"]["start"][:4]) - int(birth[:4])
            scr = here["2160-0"]["valueQuantity"]["value"]
            egfr = here["98979-8"]["valueQuantity"]["value"]
            assert abs(egfr - ckd_epi_2021(scr, patient["gender"], age)) <= 3
        claim = next(c for c in items if c["resourceType"] == "Claim" and c["item"][0]["encounter"][0]["reference"] == ref)
        codes = [d["diagnosisCodeableConcept"]["coding"][0]["code"] for d in claim["diagnosis"]]
        z68 = [c for c in codes if c.startswith("Z68")]
        if z68:
            assert z68 == [bmi_code(here["39156-5"]["valueQuantity"]["value"])]
        assert "I10" not in codes or not any(c.startswith("N18") or c.startswith("I50") for c in codes), \
            "hypertension with CKD or heart failure must use the combination code"


def test_progress_notes_are_soap_notes_with_the_visit_vitals():
    key = generate_case(load_scenario("clinic-chronic-care"), 3).key
    for doc in resources(key, "DocumentReference"):
        text = base64.b64decode(doc["content"][0]["attachment"]["data"]).decode()
        for part in ("CC:", "S:", "O: BP ", "A:", "P:"):
            assert part in text


def test_hypertension_with_ckd_is_coded_as_hypertensive_ckd():
    sc = load_scenario("clinic-chronic-care")
    found = False
    for seed in range(300):
        key = generate_case(sc, seed).key
        for claim in resources(key, "Claim"):
            codes = [d["diagnosisCodeableConcept"]["coding"][0]["code"] for d in claim["diagnosis"]]
            if "I12.9" in codes:
                assert any(c.startswith("N18") for c in codes)
                found = True
    assert found, "no seed combined hypertension with CKD"


def test_key_json_is_stable_utf8_text():
    text = key_json(generate_case(SCENARIOS[1], 1))
    assert text.endswith("\n") and json.loads(text)["type"] == "collection"
