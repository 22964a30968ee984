"""The equivalence knowledge (grading/equivalents.toml) and the pricing rules, checked against the catalog and the
scenario library so they cannot drift apart."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import grading
from grading import equivalents as eq
from grading import parse_rubric
from simulator.clinical import load_catalog
from simulator.generate import generate_case, load_scenario
from simulator.generate.scenario import list_scenario_files
from simulator.services.cases import grade_case
from tests import grading_cases as gc

CATALOG = load_catalog()
SCENARIOS = [load_scenario(f) for f in list_scenario_files()]


def test_every_catalog_drug_has_its_brand_names_and_each_brand_names_one_drug():
    table = eq.equivalents()
    for med in CATALOG.medications.values():
        name = " ".join(eq.words(med.name))
        assert name in table.drug_names and table.drug_names[name] == name, f"{med.name}: no [brands] entry"
        assert eq.ingredient(f"{med.name} {med.strengths[0]} {med.form}") == name
    catalog = {" ".join(eq.words(m.name)) for m in CATALOG.medications.values()}
    assert set(table.drug_names.values()) <= catalog  # every brand leads to a catalog drug


@pytest.mark.parametrize(("typed", "drug"), [
    ("Lipitor 20 mg tablet", "atorvastatin"), ("SYNTHROID 100 mcg", "levothyroxine"), ("Zofran ODT 4 mg", "ondansetron odt"),
    ("Acetaminophen 325 MG Oral Tablet", "acetaminophen"), ("amoxicillin oral suspension 400 mg/5 mL", "amoxicillin oral suspension"),
    ("amoxicillin 500 mg capsule", "amoxicillin"), ("Toprol XL 50 mg", "metoprolol succinate er"), ("Tylenol", "acetaminophen")])
def test_a_drug_is_known_by_its_brand_its_generic_and_its_clinical_drug_name(typed, drug):
    assert eq.ingredient(typed) == drug


def test_the_rxnorm_clinical_drugs_lead_to_catalog_ingredients():
    catalog = {" ".join(eq.words(m.name)) for m in CATALOG.medications.values()}
    assert set(eq.equivalents().rxnorm_drugs.values()) <= catalog


def test_every_catalog_condition_has_a_snomed_ct_concept():
    import tomllib
    from importlib import resources

    known = set().union(*eq.equivalents().snomed_to_icd.values())
    data = tomllib.loads(resources.files("grading").joinpath("equivalents.toml").read_text(encoding="utf-8"))
    known |= {code.replace(".", "") for code in data["snomed_unmapped"]}  # each with its reason, reported
    for cond in CATALOG.conditions.values():
        if cond.kind == "preventive":
            continue  # an encounter for an examination is not a problem
        for variant in cond.variants:
            for code in variant.codes:
                assert code.replace(".", "") in known, f"{cond.key}: {code} has no SNOMED CT concept"


@pytest.mark.parametrize(("a", "b"), [
    ("1 tablet by mouth twice daily", "1 tablet PO BID"), ("1 tab PO daily", "1 tablet PO QD"),
    ("1 tablet orally once a day", "1 tablet PO QD"), ("1 cap by mouth four times daily for 7 days", "1 capsule PO QID x 7 days"),
    ("2 puffs inhaled every 4 hours as needed for wheezing or SOB", "2 puffs INH Q4H PRN wheezing or shortness of breath"),
    ("1 tablet PO at bedtime", "1 tablet PO QHS")])
def test_sigs_in_words_and_in_abbreviations_are_the_same(a, b):
    assert eq.sig_words(a) == eq.sig_words(b)


@pytest.mark.parametrize(("a", "b"), [("1 tablet PO BID", "1 tablet PO TID"), ("1 tablet PO QD", "2 tablets PO QD"),
                                      ("1 tablet PO QHS", "1 tablet PO QAM")])
def test_different_sigs_stay_different(a, b):
    assert eq.sig_words(a) != eq.sig_words(b)


@pytest.mark.parametrize(("a", "b"), [("thyroid f/u", "thyroid follow-up"), ("f/u HTN", "follow up hypertension"),
                                      ("f/u high blood pressure", "f/u HTN"), ("sinus pressure x 10 days", "sinus pressure for 10 days"),
                                      ("worsening SOB and cough", "worsening shortness of breath and cough")])
def test_a_reason_for_visit_with_abbreviations_spelt_out_is_the_same(a, b):
    assert eq.reason_words(a) == eq.reason_words(b)


@pytest.mark.parametrize("typed", ["NKDA", "nkda", "No known drug allergies", "NKA", "none known", "No Known Allergies"])
def test_nkda_phrasings(typed):
    assert eq.is_nkda({"text": typed})
    assert not eq.is_nkda({"text": "penicillin"})


def test_units_as_printed_are_their_ucum_codes():
    assert eq.unit("mL/min/1.73m²") == eq.unit("mL/min/1.73m2") == "mL/min/{1.73_m2}"
    assert eq.unit("mg/dl") == "mg/dL" and eq.unit("mmHg") == "mm[Hg]"


def test_every_vital_sign_of_the_form_has_the_charts_name():
    from simulator.ehr.forms import VITALS

    for vital in VITALS:
        assert eq.equivalents().vital_labels[vital.loinc] == vital.label


# ------------------------------------------------------------------------------------------ pricing
# Scenarios where the student enters the visits. A consistency-only or audit-only task has none to leave out: its
# attempt is graded on the report alone (services.cases.grading_key drops the chart's resources from the key).
ENTRY_SCENARIOS = [s for s in SCENARIOS if {"enter", "verify"} & set(s.tasks)]


@pytest.mark.parametrize("scenario", ENTRY_SCENARIOS, ids=lambda s: s.slug)
def test_a_missing_visit_costs_more_than_any_single_field_anywhere(scenario):
    for seed in range(3):
        key = generate_case(scenario, seed).key
        sub = gc.student_copy(key, coding="code" in scenario.tasks)
        rubric = scenario.rubric()
        biggest_field = 0.0
        for rtype in ("Patient", "MedicationRequest", "AllergyIntolerance", "Condition", "Observation", "Procedure"):
            for res in gc.of(sub, rtype):  # one resource left out is the most a single field can cost
                one = {**sub, "entry": [e for e in sub["entry"] if e["resource"] is not res]}
                biggest_field = max(biggest_field, 100 - grading.grade(key, one, rubric).score) if rtype != "Patient" else biggest_field
        cheapest_visit = 100.0
        for nth in range(len(gc.of(sub, "Encounter"))):
            one = json.loads(json.dumps(sub))
            gc.drop_encounter(one, key, nth)
            report = grading.grade(key, one, rubric)
            visit_findings = [f for f in report.findings if "on the chart but not entered" in f.message and "visit" in f.message]
            assert visit_findings
            cheapest_visit = min(cheapest_visit, 100 - report.score)
        assert cheapest_visit > biggest_field, (scenario.slug, seed, cheapest_visit, biggest_field)


def test_an_instructor_can_set_a_section_to_fixed_points_per_item():
    key = generate_case(load_scenario("clinic-chronic-care"), 1001).key
    rubric = parse_rubric("[sections.allergies]\nper_item = 2\n[sections.coding]\npoints = 0")
    report = grading.grade(key, key, rubric)
    allergies = next(s for s in report.sections if s.section == "allergies")
    assert allergies.points_possible == pytest.approx(2.0 * len(gc.of(key, "AllergyIntolerance")))
    assert sum(s.points_possible for s in report.sections) == pytest.approx(100.0)
    sub = gc.student_copy(key, coding=False)
    sub["entry"] = [e for e in sub["entry"] if e["resource"]["resourceType"] != "AllergyIntolerance"]
    assert 100 - grading.grade(key, sub, rubric).score == pytest.approx(2.0 * len(gc.of(key, "AllergyIntolerance")))


def test_a_negative_per_item_is_refused():
    with pytest.raises(grading.RubricError, match="per_item"):
        parse_rubric("[sections.allergies]\nper_item = -1")


def test_the_readme_worked_example_is_what_the_grader_charges():
    """README, 'How points are priced': clinic-chronic-care seed 1001, the default rubric with coding."""
    key = generate_case(load_scenario("clinic-chronic-care"), 1001).key
    sub = gc.student_copy(key, coding=True)
    gc.set_patient(sub, key, "birthDate", "1941-10-25")
    assert 100 - grading.grade(key, sub).score == pytest.approx(2.59, abs=0.005)
    sub = gc.student_copy(key, coding=True)
    gc.member_id_typo(sub, key)
    assert 100 - grading.grade(key, sub).score == pytest.approx(1.30, abs=0.005)
    sub = gc.student_copy(key, coding=True)
    gc.drop_allergy(sub, key, "NKDA")
    assert 100 - grading.grade(key, sub).score == pytest.approx(8.00, abs=0.005)
    assert 100 - grading.grade(key, sub, parse_rubric("[sections.allergies]\nper_item = 2")).score == pytest.approx(2.0)
    sub = gc.student_copy(key, coding=True)
    gc.drop_encounter(sub, key, 1)
    report = grading.grade(key, sub)
    assert 100 - report.score == pytest.approx(19.85, abs=0.005) and len(report.findings) == 1
    assert report.findings[0].message.startswith("visit 2 (05/14/2025): on the chart but not entered; with it")


# ------------------------------------------------------------------------------------------ CLI = app
def test_hitsim_grade_applies_the_rubric_and_planted_errors_the_app_applies(tmp_path):
    from simulator.cli import main

    main(["generate", "verify-registration", "--seed", "5005", "--out", str(tmp_path)])
    key = json.loads((tmp_path / "key.json").read_text())
    sub = json.loads((tmp_path / "preentered.json").read_text())
    app = grade_case(generate_case(load_scenario("verify-registration"), 5005), sub).to_dict()
    out = subprocess.run([sys.executable, "-m", "simulator.cli", "grade", "--key", str(tmp_path / "key.json"),
                          "--submission", str(tmp_path / "preentered.json"), "--json"], capture_output=True, text=True)
    cli = json.loads(out.stdout)
    assert cli["score"] == app["score"] and cli["summary"] == app["summary"]
    assert cli["summary"].startswith("You caught 0 of 6 planted errors")
    assert "coding" not in {s["section"] for s in cli["sections"]}  # verify tasks have no coding, in the app too
    assert key["identifier"]["value"] == "verify-registration:5005"
