"""The grader: pure, deterministic, order-blind, normalising, and explaining every point it takes."""

from __future__ import annotations

import base64
import copy
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import grading
from grading import RubricError, parse_rubric
from simulator.generate import generate_case, load_scenario, plant_faults
from simulator.generate.scenario import FAULT_KINDS, list_scenario_files
from tests.conftest import DATA
from tests.grading_cases import superbill_only_diagnoses

SCENARIOS = [load_scenario(f) for f in list_scenario_files()]
# Entry sections only: the coding section has its own tests (tests/test_grading_coding.py).
RUBRIC = parse_rubric("[sections.coding]\npoints = 0")


def grade(key, submission, rubric=RUBRIC):
    return grading.grade(key, submission, rubric)
SYNTHEA = sorted((DATA / "fhir" / "synthea").glob("*.json"))


def key_for(scenario: str = "clinic-chronic-care", seed: int = 3) -> dict:
    return generate_case(load_scenario(scenario), seed).key


def of(bundle: dict, rtype: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def lost(report) -> float:
    return round(100 - report.score, 6)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.slug)
def test_a_key_graded_against_itself_scores_100_with_no_findings(scenario):
    for seed in range(5):
        key = generate_case(scenario, seed).key
        report = grading.grade(key, key)  # the default rubric, coding included
        assert report.score == 100.0 and report.findings == []
        assert abs(sum(s.points_possible for s in report.sections) - 100) < 1e-9


def test_grading_never_mutates_its_inputs_and_is_deterministic():
    key = key_for()
    sub, _ = plant_faults(key, 4, random.Random(1))
    before = (json.dumps(key), json.dumps(sub))
    first, second = grade(key, sub), grade(key, sub)
    assert (json.dumps(key), json.dumps(sub)) == before
    assert first.to_dict() == second.to_dict()


def test_the_order_of_entry_never_matters():
    key = key_for(seed=9)
    sub, _ = plant_faults(key, 5, random.Random(9))
    expected = grade(key, sub)
    for seed in range(5):
        shuffled = copy.deepcopy(sub)
        random.Random(seed).shuffle(shuffled["entry"])
        again = grade(key, shuffled)
        assert again.score == pytest.approx(expected.score, abs=1e-9)
        assert sorted(f.message for f in again.findings) == sorted(f.message for f in expected.findings)


def _scale(key: dict) -> float:
    report = grade(key, key)
    return 100.0 / sum(RUBRIC.points(s.section) for s in report.sections)


def _expected_loss(key: dict, fault) -> float:
    """The rubric's price of one planted fault, computed from the rubric and the key's counts."""
    scale = _scale(key)
    vitals = [o for o in of(key, "Observation") if o["category"][0]["coding"][0]["code"] == "vital-signs"]
    labs = [o for o in of(key, "Observation") if o["category"][0]["coding"][0]["code"] == "laboratory"]
    counts = {"demographics": len(of(key, "Patient")), "encounters": len(of(key, "Encounter")),
              # visit diagnoses only the superbill names (long-term-use Z codes) neither earn nor cost
              "problem_list": len(of(key, "Condition")) - len(superbill_only_diagnoses(key)),
              "medications": len(of(key, "MedicationRequest")),
              "allergies": len(of(key, "AllergyIntolerance")), "vitals": len(vitals), "labs": len(labs)}

    def field_loss(section: str, field: str, present: list[str], credit: float = 0.0) -> float:
        w = RUBRIC.weights(section)
        item = RUBRIC.points(section) * scale / counts[section]
        return item * w[field] / sum(w[x] for x in present) * (1 - credit)

    patient = next(p for p in of(key, "Patient") if p["id"] == fault.resource_id) if fault.resource_type == "Patient" else None
    demo_fields = [f for f in RUBRIC.weights("demographics") if f != "middle_name" or
                   (patient and len(patient["name"][0]["given"]) > 1)]
    name_credit = RUBRIC.partial_credit["name_one_letter_off"]
    return {
        "dob-digit": lambda: field_loss("demographics", "birth_date", demo_fields),
        "name-misspelling": lambda: field_loss("demographics", "family_name" if fault.path.endswith("family")
                                               else "given_name", demo_fields, name_credit),
        "phone-digit": lambda: field_loss("demographics", "phone", demo_fields),
        "address-typo": lambda: field_loss("demographics", "address_line", demo_fields),
        "wrong-sex": lambda: field_loss("demographics", "gender", demo_fields),
        "encounter-date": lambda: field_loss("encounters", "date", list(RUBRIC.weights("encounters"))),
        "dose-swap": lambda: field_loss("medications", "strength", list(RUBRIC.weights("medications"))),
        "wrong-medication-frequency": lambda: field_loss("medications", "directions", list(RUBRIC.weights("medications"))),
        "missing-allergy": lambda: RUBRIC.points("allergies") * scale / counts["allergies"],
        "missing-problem": lambda: RUBRIC.points("problem_list") * scale / counts["problem_list"],
        "vital-transposed": lambda: field_loss("vitals", "value", ["value", "unit"]),
        "lab-value": lambda: field_loss("labs", "value", ["value", "unit"]),
    }[fault.kind]()


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_planted_error_costs_exactly_the_rubric_amount_with_one_finding(kind):
    tried = 0
    for seed in range(30):
        key = key_for("verify-registration", seed)
        sub, faults = plant_faults(key, 1, random.Random(seed), (kind,))
        if not faults:
            continue
        report = grade(key, sub)
        assert len(report.findings) == 1, [f.message for f in report.findings]
        finding = report.findings[0]
        assert lost(report) == pytest.approx(_expected_loss(key, faults[0]), abs=1e-6)
        assert finding.points_lost == pytest.approx(lost(report), abs=1e-6)
        assert finding.kind in ("wrong", "partial", "missing")
        tried += 1
        if tried == 3:
            break
    assert tried, f"no seed could plant {kind}"


def test_the_date_of_birth_finding_reads_like_the_issue_says():
    key = key_for()
    sub = copy.deepcopy(key)
    of(sub, "Patient")[0]["birthDate"] = "1962-03-14"
    of(key, "Patient")[0]["birthDate"] = "1962-03-15"
    finding = grade(key, sub).findings[0]
    assert finding.message == "Date of birth: chart says 03/15/1962, you entered 03/14/1962"
    assert (finding.section, finding.path, finding.kind) == ("demographics", "Patient.birthDate", "wrong")


def test_unit_conversions_and_serialisation_differences_are_not_errors():
    key = key_for()
    sub = copy.deepcopy(key)
    for o in of(sub, "Observation"):
        q = o.get("valueQuantity", {})
        if q.get("code") == "[lb_av]":
            o["valueQuantity"] = {"value": round(q["value"] * 0.45359237, 2), "unit": "kg", "code": "kg",
                                  "system": "http://unitsofmeasure.org"}
        elif q.get("code") == "[in_i]":
            o["valueQuantity"] = {"value": round(q["value"] * 2.54, 1), "unit": "cm", "code": "cm"}
        elif q.get("code") == "[degF]":
            o["valueQuantity"] = {"value": round((q["value"] - 32) * 5 / 9, 2), "unit": "°C", "code": "Cel"}
        elif isinstance(q.get("value"), float):
            o["valueQuantity"]["value"] = f"{q['value']}0"  # 1.5 written as "1.50"
        o["effectiveDateTime"] = o["effectiveDateTime"].replace("-07:00", "-07:00")
    for e in of(sub, "Encounter"):
        e["period"]["start"] = e["period"]["start"]  # same instant
    assert grade(key, sub).score == 100.0


def test_a_weight_outside_the_tolerance_is_wrong():
    key = key_for()
    sub = copy.deepcopy(key)
    weight = next(o for o in of(sub, "Observation") if o["code"]["coding"][0]["code"] == "29463-7")
    weight["valueQuantity"] = {"value": round(weight["valueQuantity"]["value"] * 0.45359237 + 0.5, 2), "code": "kg"}
    report = grade(key, sub)
    assert len(report.findings) == 1 and "Weight, visit 1" in report.findings[0].message


def test_names_addresses_phones_and_sex_are_normalised():
    key = key_for()
    sub = copy.deepcopy(key)
    p = of(sub, "Patient")[0]
    p["name"][0]["family"] = "  " + p["name"][0]["family"].upper() + " "
    p["name"][0]["given"][0] = p["name"][0]["given"][0].lower()
    p["telecom"][0]["value"] = "1-" + p["telecom"][0]["value"].replace("(", "").replace(") ", "-")
    p["address"][0]["line"][0] = p["address"][0]["line"][0].upper() + "."
    assert grade(key, sub).score == 100.0
    k, s = copy.deepcopy(key), copy.deepcopy(key)
    of(k, "Patient")[0]["name"][0]["family"] = "Núñez-Smith"
    of(k, "Patient")[0]["address"][0]["line"] = ["12 North Main Street", "Apartment 4"]
    of(s, "Patient")[0]["name"][0]["family"] = "nunez smith"
    of(s, "Patient")[0]["address"][0]["line"] = ["12 N Main St", "# 4"]
    assert grade(k, s).score == 100.0


def test_a_resource_entered_twice_counts_once_as_extra():
    key = key_for()
    sub = copy.deepcopy(key)
    med = next(e for e in sub["entry"] if e["resource"]["resourceType"] == "MedicationRequest")
    for n in (1, 2):
        dup = copy.deepcopy(med)
        dup["resource"]["id"] = f"dup-{n}"
        dup["fullUrl"] = f"urn:uuid:dup-{n}"
        sub["entry"].append(dup)
    report = grade(key, sub)
    extras = [f for f in report.findings if f.kind == "extra"]
    assert len(extras) == 1 and "entered but not on the chart" in extras[0].message
    assert extras[0].points_lost == pytest.approx(lost(report))


@pytest.mark.parametrize("submission", [[1, 2], "text", {"resourceType": "Bundle", "entry": "x"}, {"no": "type"}])
def test_a_submission_that_is_not_a_bundle_is_graded_zero_with_a_finding(submission):
    report = grade(key_for(), submission)
    assert report.score == 0.0
    assert any(f.section == "submission" for f in report.findings)


def test_unknown_types_unresolved_references_and_wrong_value_types_become_findings():
    key = key_for()
    sub = copy.deepcopy(key)
    sub["entry"].append({"resource": {"resourceType": "Spaceship", "id": "x"}})
    obs = next(o for o in of(sub, "Observation"))
    obs["subject"] = {"reference": "Patient/nobody"}
    of(sub, "Patient")[0]["birthDate"] = 19620314
    report = grade(key, sub)
    messages = " | ".join(f.message for f in report.findings)
    assert "'Spaceship' is not a FHIR resource type" in messages
    assert "points to patient 'Patient/nobody', which is not in the record" in messages
    assert "Date of birth: chart says" in messages
    assert 0 < report.score < 100


def test_a_single_resource_is_graded_as_a_bundle_of_one():
    key = key_for()
    report = grade(key, of(key, "Patient")[0])
    assert report.findings[0].section == "submission" and "single Patient" in report.findings[0].message
    assert 0 < report.score < 30


def test_fhir_resources_models_are_accepted():
    from fhir.resources.R4B.bundle import Bundle

    key = key_for()
    assert grade(Bundle.model_validate(key), Bundle.model_validate(key)).score == 100.0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), errors=st.integers(1, 6), more=st.integers(1, 4))
def test_more_errors_never_raise_the_score(seed, errors, more):
    key = key_for("verify-registration", seed % 50)
    fewer, planted = plant_faults(key, errors, random.Random(seed))
    # New errors go to fields not yet wrong (a second sex swap would put the first one right).
    other_kinds = tuple(k for k in FAULT_KINDS if k not in {f.kind for f in planted})
    worse, _ = plant_faults(fewer, more, random.Random(seed + 1), other_kinds)
    a, b = grade(key, fewer), grade(key, worse)
    assert 0.0 <= b.score <= a.score <= 100.0
    assert grade(key, worse).to_dict() == b.to_dict()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), drop=st.lists(st.integers(0, 200), max_size=30))
def test_the_score_stays_within_0_and_100_and_findings_add_up(seed, drop):
    key = key_for("acute-office-visits", seed % 40)
    sub = copy.deepcopy(key)
    sub["entry"] = [e for i, e in enumerate(sub["entry"]) if i not in set(drop)]
    report = grade(key, sub)
    assert 0.0 <= report.score <= 100.0
    assert sum(f.points_lost for f in report.findings) == pytest.approx(100 - report.score, abs=1e-6)


@pytest.mark.parametrize("path", SYNTHEA, ids=lambda p: p.name[:12])
def test_synthea_bundles_graded_against_themselves_score_100(path):
    bundle = json.loads(path.read_text())
    report = grading.grade(bundle, bundle)  # the default rubric: Synthea's claims are graded too
    assert report.score == 100.0 and report.findings == []


@pytest.mark.parametrize("path", SYNTHEA, ids=lambda p: p.name[:12])
def test_a_synthea_condition_left_out_loses_exactly_its_points(path):
    bundle = json.loads(path.read_text())
    conditions = [i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "Condition"]
    sub = copy.deepcopy(bundle)
    del sub["entry"][conditions[len(conditions) // 2]]
    report = grade(bundle, sub)
    scale = 100.0 / sum(RUBRIC.points(s.section) for s in grade(bundle, bundle).sections)
    assert lost(report) == pytest.approx(RUBRIC.points("problem_list") * scale / len(conditions), abs=1e-6)
    assert [f.kind for f in report.findings] == ["missing"]


def test_the_report_renders_as_json_and_escaped_html():
    key = key_for()
    sub = copy.deepcopy(key)
    of(sub, "Patient")[0]["name"][0]["family"] = "<b>x</b>"
    report = grade(key, sub)
    data = report.to_dict()
    assert set(data) == {"score", "sections", "findings"}
    assert set(data["findings"][0]) == {"section", "path", "expected", "entered", "points_lost", "kind", "message"}
    html = report.to_html()
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html


def test_notes_are_graded_by_visit_and_type_with_partial_credit_for_text():
    key = key_for()
    sub = copy.deepcopy(key)
    note = of(sub, "DocumentReference")[0]
    text = base64.b64decode(note["content"][0]["attachment"]["data"]).decode()
    note["content"][0]["attachment"]["data"] = base64.b64encode(text.replace("A:", "A: typo").encode()).decode()
    report = grade(key, sub)
    assert [f.kind for f in report.findings] == ["partial"]


@pytest.mark.parametrize(("text", "message"), [
    ("[sections.vitals]\npoints = -3", r"sections\.vitals\.points: expected a number of at least 0"),
    ("[sections.vitals.fields]\ncolour = 1", r"sections\.vitals\.fields\.colour: unknown key"),
    ("[bonus]\npoints = 1", r"bonus: unknown key"),
    ("[tolerances]\nweight_kg = 'a'", r"tolerances\.weight_kg: expected a number"),
])
def test_a_bad_rubric_is_refused_naming_the_key(text, message):
    with pytest.raises(RubricError, match=message):
        parse_rubric(text, "rubric.toml")


def test_a_rubric_override_changes_the_price_of_an_error():
    key = key_for()
    sub = copy.deepcopy(key)
    of(sub, "Patient")[0]["gender"] = "female" if of(key, "Patient")[0]["gender"] == "male" else "male"
    heavier = parse_rubric("[sections.demographics.fields]\ngender = 10.0")
    assert lost(grade(key, sub, heavier)) > lost(grade(key, sub))


def _under_own_ids(bundle: dict) -> dict:
    """The same record as a student's EHR stores it: every resource under a new id, references following."""
    text = json.dumps(bundle)
    for entry in bundle["entry"]:
        old = entry["resource"]["id"]
        text = text.replace(old, f"own-{old[::-1]}")
    return json.loads(text)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.slug)
def test_a_students_own_ids_get_the_report_the_keys_ids_get(scenario):
    """Entries equal to the key's but for their ids and references cost nothing, like exact copies; every planted
    error is still found (issue #11: the grader no longer reads such entries field by field)."""
    for seed in (2, 5):
        key = generate_case(scenario, seed).key
        sub, planted = plant_faults(key, 3, random.Random(seed))
        sub["entry"] += [copy.deepcopy(e) for e in key["entry"] if e["resource"]["resourceType"] == "Claim"]
        own = _under_own_ids(sub)
        assert own["entry"][0]["resource"]["id"] != sub["entry"][0]["resource"]["id"]
        as_keyed = grading.grade(key, sub, grading.default_rubric())
        as_own = grading.grade(key, own, grading.default_rubric())
        assert planted and as_keyed.findings
        assert round(as_own.score, 9) == round(as_keyed.score, 9)
        assert sorted(map(repr, as_own.findings)) == sorted(map(repr, as_keyed.findings))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.slug)
def test_an_entry_under_own_ids_linked_to_another_visit_is_charged_as_with_the_keys_ids(scenario):
    """A result and a note otherwise equal to the chart's but filed under another visit are not taken for the
    chart's own entries because their ids differ (issue #11)."""
    key = generate_case(scenario, 4).key
    sub = copy.deepcopy(key)
    visits = [f"urn:uuid:{r['id']}" for r in of(sub, "Encounter")]
    moved = [r for r in of(sub, "Observation")[:1] + of(sub, "DocumentReference")[:1]
             if isinstance(r.get("encounter"), dict) or r.get("context")]
    if len(visits) < 2 or not moved:
        pytest.skip("the chart needs two visits and a result or note linked to one")
    for res in moved:
        link = res["encounter"] if "encounter" in res else res["context"]["encounter"][0]
        link["reference"] = visits[(visits.index(link["reference"]) + 1) % len(visits)]
    as_keyed = grading.grade(key, sub, grading.default_rubric())
    as_own = grading.grade(key, _under_own_ids(sub), grading.default_rubric())
    assert as_keyed.score < 100
    assert round(as_own.score, 9) == round(as_keyed.score, 9)
    # The extra's label is left out: it names the visit by the key's ids (an entry under its own ids gets none).
    assert sorted((x.section, x.kind, round(x.points_lost, 9)) for x in as_own.findings) == sorted(
        (x.section, x.kind, round(x.points_lost, 9)) for x in as_keyed.findings)


def test_a_member_id_typo_under_own_ids_is_charged_as_with_the_keys_ids():
    """The patient entered as on the chart but for its own ids, the insurance member ID one character off: the
    demographics are not taken as a copy of the chart's, and the member ID costs its share (issue #11)."""
    key = key_for()
    sub = copy.deepcopy(key)
    coverage = of(sub, "Coverage")[0]
    coverage["subscriberId"] = coverage["subscriberId"][:-1] + ("0" if coverage["subscriberId"][-1] != "0" else "1")
    as_keyed = grading.grade(key, sub, grading.default_rubric())
    as_own = grading.grade(key, _under_own_ids(sub), grading.default_rubric())
    assert [x.path for x in as_own.findings] == ["Coverage.subscriberId"]
    assert sorted(map(repr, as_own.findings)) == sorted(map(repr, as_keyed.findings))
