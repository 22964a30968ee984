"""The coding section: scored as coding audits do, every finding explaining itself."""

from __future__ import annotations

import copy

import pytest

from grading import grade, parse_rubric

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"
OPTIONAL = "https://hitsim.org/fhir/StructureDefinition/coding-optional"
# Only coding counts here, so a finding's points are easy to reason about.
CODING_ONLY = parse_rubric("""
[sections.demographics]
points = 0
[sections.encounters]
points = 0
[sections.coding]
points = 100
""")
W = CODING_ONLY.weights("coding")
C = CODING_ONLY.coding


def claim(diagnoses: list[str], lines: list[tuple], optional: tuple[str, ...] = ()) -> dict:
    dx = []
    for seq, code in enumerate(diagnoses, start=1):
        entry = {"sequence": seq, "diagnosisCodeableConcept": {"coding": [{"system": ICD, "code": code}]}}
        if code in optional:
            entry["extension"] = [{"url": OPTIONAL, "valueBoolean": True}]
        dx.append(entry)
    items = []
    for seq, (code, units, modifiers, pointers) in enumerate(lines, start=1):
        item = {"sequence": seq, "productOrService": {"coding": [{"system": CPT, "code": code}]}, "quantity": {"value": units},
                "diagnosisSequence": pointers, "encounter": [{"reference": "Encounter/e1"}]}
        if modifiers:
            item["modifier"] = [{"coding": [{"system": CPT, "code": m}]} for m in modifiers]
        items.append(item)
    return {"resourceType": "Claim", "id": "c1", "status": "active", "use": "claim", "patient": {"reference": "Patient/p1"},
            "created": "2025-03-04", "diagnosis": dx, "item": items}


def bundle(c: dict) -> dict:
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:p1", "resource": {"resourceType": "Patient", "id": "p1", "gender": "female"}},
        {"fullUrl": "urn:uuid:e1", "resource": {"resourceType": "Encounter", "id": "e1", "status": "finished",
                                                "class": {"code": "AMB"}, "subject": {"reference": "Patient/p1"},
                                                "period": {"start": "2025-03-04T09:30:00-07:00"}}},
        {"fullUrl": "urn:uuid:c1", "resource": c}]}


KEY = claim(["I10", "E78.5", "Z79.01"], [("99214", 1, ["25"], [1, 2]), ("93000", 1, [], [1])], optional=("Z79.01",))
PARTS = W["first_listed"] + W["other_diagnoses"] + W["service_lines"]


def score(student: dict) -> tuple[float, list]:
    report = grade(bundle(KEY), bundle(student), CODING_ONLY)
    return report.score, report.findings


def test_the_key_against_itself_scores_100():
    assert score(copy.deepcopy(KEY)) == (100.0, [])


def test_the_first_listed_diagnosis_is_scored_on_its_own():
    # Same codes, same pointers to the same diagnoses, only the sequence is wrong: just the first-listed score is lost.
    got, findings = score(claim(["E78.5", "I10"], [("99214", 1, ["25"], [1, 2]), ("93000", 1, [], [2])]))
    assert [f.message for f in findings] == ["I10 expected first-listed; you listed E78.5 first"]
    assert 100 - got == pytest.approx(100 * W["first_listed"] / PARTS)


def test_other_codes_are_correct_over_max_of_entered_and_key_and_extras_cost_like_missing():
    got, findings = score(claim(["I10", "E78.5", "E55.9", "K21.9"], [("99214", 1, ["25"], [1, 2]), ("93000", 1, [], [1])]))
    # key others {E78.5}, entered others {E78.5, E55.9, K21.9}: 1 correct / max(3, 1)
    assert 100 - got == pytest.approx(100 * W["other_diagnoses"] / PARTS * (1 - 1 / 3))
    assert sorted(f.message for f in findings) == ["E55.9 coded but not supported by the chart",
                                                   "K21.9 coded but not supported by the chart"]
    got, findings = score(claim(["I10"], [("99214", 1, ["25"], [1]), ("93000", 1, [], [1])]))
    assert [f.message for f in findings] == ["E78.5 expected; not coded"]
    assert 100 - got == pytest.approx(100 * W["other_diagnoses"] / PARTS)


def test_optional_codes_neither_earn_nor_cost():
    with_optional, _ = score(copy.deepcopy(KEY))
    without, findings = score(claim(["I10", "E78.5"], [("99214", 1, ["25"], [1, 2]), ("93000", 1, [], [1])]))
    assert with_optional == without == 100.0 and findings == []


@pytest.mark.parametrize(("entered", "credit", "message"), [
    ("I10", 1.0, None),
    ("I1", 0.0, "First-listed diagnosis: I1 is a category header, not billable: I10 expected"),
])
def test_a_header_instead_of_the_code_is_wrong_with_the_reason(entered, credit, message):
    got, findings = score(claim([entered, "E78.5"], [("99214", 1, ["25"], [1, 2]), ("93000", 1, [], [1])]))
    if message:
        assert findings[0].message == message
        assert 100 - got == pytest.approx(100 * W["first_listed"] / PARTS * (1 - credit))
    else:
        assert got == 100.0


def test_right_category_wrong_specificity_gets_a_small_credit():
    key = claim(["E11.22", "N18.31"], [("99214", 1, [], [1, 2])])
    report = grade(bundle(key), bundle(claim(["E11.9", "N18.31"], [("99214", 1, [], [1, 2])])), CODING_ONLY)
    assert report.findings[0].message == ("First-listed diagnosis: E11.9 is the right category (E11) but not the right "
                                          "specificity: E11.22 expected")
    assert 100 - report.score == pytest.approx(100 * W["first_listed"] / PARTS * (1 - C["right_category_wrong_specificity"]))


def test_seventh_character_wrong_or_missing():
    key = claim(["S52.531A"], [("29125", 1, [], [1])])
    wrong = grade(bundle(key), bundle(claim(["S52.531D"], [("29125", 1, [], [1])])), CODING_ONLY)
    assert wrong.findings[0].message == "First-listed diagnosis: S52.531D has the wrong 7th character: S52.531A expected"
    parts = W["first_listed"] + W["service_lines"]
    assert 100 - wrong.score == pytest.approx(100 * W["first_listed"] / parts * (1 - C["wrong_seventh_character"]))
    missing = grade(bundle(key), bundle(claim(["S52.531"], [("29125", 1, [], [1])])), CODING_ONLY)
    assert missing.findings[0].message == "First-listed diagnosis: S52.531 is missing its 7th character: S52.531A expected"


def test_service_lines_modifiers_units_and_pointers():
    got, findings = score(claim(["I10", "E78.5"], [("99214", 2, [], [2]), ("99000", 1, [], [1])]))
    messages = {f.message for f in findings}
    assert "99214: should point to E78.5, I10; it points to E78.5" not in messages  # one right pointer is enough
    assert "99214: modifier 25 expected, you entered none" in messages
    assert "99214: 1 unit(s) expected, you entered 2" in messages
    assert "93000 expected on the claim; not entered" in messages
    assert "99000 entered but not supported by the chart" in messages
    per_line = 100 * W["service_lines"] / PARTS / 2
    expected = per_line * (C["modifier_missing_or_wrong"] + C["units_wrong"]) + per_line  # 93000 missing / 99000 extra
    assert 100 - got == pytest.approx(expected)


def test_a_line_pointing_at_the_wrong_diagnosis_is_explained():
    got, findings = score(claim(["I10", "E78.5"], [("99214", 1, ["25"], [1, 2]), ("93000", 1, [], [2])]))
    assert [f.message for f in findings] == ["93000: should point to I10; it points to E78.5"]
    assert 100 - got == pytest.approx(100 * W["service_lines"] / PARTS / 2 * C["diagnosis_pointer_wrong"])


def test_no_claim_at_all_loses_the_visits_coding():
    report = grade(bundle(KEY), {"resourceType": "Bundle", "type": "collection", "entry": bundle(KEY)["entry"][:2]},
                   CODING_ONLY)
    assert report.score == pytest.approx(0.0)
    assert report.findings[0].message == "I10 expected first-listed; no diagnosis entered"


def test_a_scenario_without_a_coding_task_does_not_grade_coding():
    from simulator.generate import load_scenario

    assert load_scenario("verify-registration").rubric().points("coding") == 0
    assert load_scenario("clinic-chronic-care").rubric().points("coding") > 0
