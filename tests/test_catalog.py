"""The clinical catalog: every code it can put on a chart or a claim is real and usable."""

from __future__ import annotations

import csv
import re
from importlib import resources

import pytest
import simple_icd_10_cm as icd

from simulator.clinical import BMI_CODES, CatalogError, bmi_code, load_catalog, parse_catalog

CAT = load_catalog()


def loinc_check_digit_ok(code: str) -> bool:
    """LOINC codes end in a mod-10 check digit computed over the digits before the dash."""
    body, _, check = code.partition("-")
    if not (body.isdigit() and check.isdigit() and len(check) == 1):
        return False
    digits = [int(d) for d in body]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            total += d // 10 + d % 10
        else:
            total += d
    return (10 - total % 10) % 10 == int(check)


def test_catalog_has_at_least_40_conditions_including_those_the_seed_names():
    assert len(CAT.conditions) >= 40
    for key in ("hypertension", "type2-diabetes", "type2-diabetes-ckd", "hyperlipidemia", "asthma-mild", "copd",
                "heart-failure", "atrial-fibrillation", "ckd-3a", "gerd", "hypothyroidism", "depression", "anxiety",
                "migraine", "osteoarthritis-knee", "low-back-pain", "obesity", "nicotine-dependence", "uti",
                "pneumonia", "acute-bronchitis", "strep-pharyngitis", "otitis-media", "cellulitis-leg",
                "ankle-sprain", "wrist-fracture", "laceration-hand", "allergic-rhinitis", "well-child",
                "annual-wellness-adult"):
        assert key in CAT.conditions, key


@pytest.mark.parametrize("code", sorted(CAT.icd10cm_codes()))
def test_every_icd10cm_code_is_valid_and_billable_in_the_pinned_release(code):
    assert icd.is_valid_item(code), f"{code} is not in the pinned ICD-10-CM release"
    assert icd.is_leaf(code), f"{code} is a header, not a billable code"
    assert CAT.icd10cm_titles[code] == icd.get_description(code)


def test_seventh_character_codes_are_used_for_injuries():
    injury_codes = [c for c in CAT.icd10cm_codes() if c.startswith("S")]
    assert injury_codes and all(len(c.replace(".", "")) == 7 for c in injury_codes)
    assert "S01.01XA" in injury_codes  # the placeholder X before the 7th character


def test_the_seventh_character_agrees_with_the_encounter_the_condition_documents():
    """I.C.19.a: A (B/C for open fractures, I.C.19.c.1) at the initial encounter, D at a subsequent one
    (healing injury, aftercare of the injury), S for a sequela; external causes carry the same (I.C.20)."""
    wanted = {"": set("ABC"), "subsequent": {"D"}, "sequela": {"S"}}
    for c in CAT.conditions.values():
        for v in c.variants:
            for code in v.codes:
                if code[:1] in "ST" and len(code.replace(".", "")) == 7 and not code.startswith(("T31", "T32")):
                    assert code[-1] in wanted[c.encounter], (c.key, code)
                    assert code[-1] in "BC" or "open fracture" not in CAT.icd10cm_titles[code], (c.key, code)
        for event in c.injury_events:
            assert event.codes[0][-1] in wanted[c.encounter], (c.key, event.codes)
        assert c.encounter in wanted, c.key
        if c.follow_up:
            after = CAT.conditions[c.follow_up]
            assert after.encounter in ("subsequent", "sequela"), (c.key, c.follow_up)
            assert {v.side for v in after.variants} >= {v.side for v in c.variants}, (c.key, c.follow_up)


@pytest.mark.parametrize("lab", sorted(CAT.labs.values(), key=lambda lab: lab.key), ids=lambda lab: lab.key)
def test_lab_loinc_codes_have_valid_check_digits(lab):
    assert loinc_check_digit_ok(lab.loinc), lab.loinc
    assert lab.normal[0] <= lab.normal[1]


def test_vital_sign_loinc_codes_have_valid_check_digits():
    from simulator.generate.key import VITAL_CODES

    assert all(loinc_check_digit_ok(code) for code, _ in VITAL_CODES.values())


def test_medications_carry_rxnorm_ingredient_codes_and_usable_sigs():
    for med in CAT.medications.values():
        assert re.fullmatch(r"\d{2,8}", med.rxnorm), med.key
        assert med.strengths and med.sigs, med.key


def test_cpt_numbers_are_five_characters_and_hcpcs_match_the_cms_file():
    shipped = resources.files("simulator.clinical").joinpath("hcpcs-2025-oct-subset.csv").read_text()
    cms = {row["code"]: row for row in csv.DictReader(shipped.splitlines())}
    for code, service in CAT.services.items():
        if service.system == "CPT":
            assert re.fullmatch(r"\d{5}|\d{4}F", code), code  # Category I, or Category II tracking (0502F)
        else:
            assert code in cms, f"{code} not in the CMS HCPCS file"
            assert service.description == cms[code]["long_description"]
            assert not cms[code]["termination_date"], f"{code} is terminated"


def test_cpt_descriptions_are_hitsims_own_plain_words():
    """No AMA descriptor text: our descriptions are short plain-language phrases."""
    for code, service in CAT.services.items():
        if service.system == "CPT":
            assert len(service.description) < 90 and "Office or other outpatient" not in service.description, code


def test_every_condition_fits_its_own_age_range_and_has_documentation_phrases():
    for c in CAT.conditions.values():
        assert c.ages[0] <= c.ages[1]
        assert c.complaint and c.subjective and c.exam and c.plan


@pytest.mark.parametrize(("bmi", "code"), [(29.9, None), (30.0, "Z68.30"), (34.7, "Z68.34"), (39.99, "Z68.39"),
                                           (40.0, "Z68.41"), (44.9, "Z68.41"), (45.0, "Z68.42"), (52.0, "Z68.43"),
                                           (65.0, "Z68.44"), (71.5, "Z68.45")])
def test_adult_bmi_z_codes_follow_the_bmi(bmi, code):
    assert bmi_code(bmi) == code
    assert code is None or code in BMI_CODES


def test_catalog_with_a_dangling_reference_is_refused_naming_the_entry():
    import tomllib

    data = tomllib.loads(resources.files("simulator.clinical").joinpath("catalog.toml").read_text())
    data["conditions"]["hypertension"]["meds"] = ["no-such-drug"]
    with pytest.raises(CatalogError, match=r"conditions\.hypertension\.meds: unknown medication 'no-such-drug'"):
        parse_catalog(data)


def test_catalog_area_files_add_entries_and_a_key_defined_twice_names_both_files():
    from simulator.clinical import CatalogError, merge_catalog_files

    base = {"services": {"99213": {"system": "CPT", "description": "Office visit"}}}
    area = {"services": {"99214": {"system": "CPT", "description": "Office visit, moderate"},
                         "99213": {"system": "CPT", "description": "Office visit"}}}
    merged = merge_catalog_files({"catalog.toml": base, "catalog-office.toml": area})
    assert set(merged["services"]) == {"99213", "99214"}
    clash = {"services": {"99213": {"system": "CPT", "description": "Something else"}}}
    with pytest.raises(CatalogError, match=r"catalog-b\.toml: services\.99213 is already defined in catalog\.toml"):
        merge_catalog_files({"catalog.toml": base, "catalog-b.toml": clash})
    with pytest.raises(CatalogError, match=r"unknown table \[servics\]"):
        merge_catalog_files({"catalog-c.toml": {"servics": {}}})


def test_a_modifier_must_be_a_cpt_or_hcpcs_modifier_in_use():
    from simulator.coding.codes import CodeError, check_modifier, modifiers

    assert [check_modifier(m) for m in ("25", "rt", " XS", "QW", "26", "TC", "59")] == ["25", "RT", "XS", "QW", "26",
                                                                                     "TC", "59"]
    for wrong, words in (("ZZ", "not a CPT or HCPCS modifier in use"), ("00", "not a CPT or HCPCS modifier"),
                         ("2", "modifiers are 2 characters")):
        with pytest.raises(CodeError, match=words):
            check_modifier(wrong)
    # CPT modifiers are numbers with hitsim's words (no AMA text); HCPCS Level II modifiers are CMS's words
    assert modifiers()["RT"].startswith("Right side") and "distinct" in modifiers()["59"].lower()


def test_every_modifier_an_answer_key_uses_can_be_typed():
    from simulator.coding.codes import modifiers
    from simulator.generate import generate_case, load_scenario
    from simulator.generate.scenario import list_scenario_files

    used = set()
    for path in list_scenario_files():
        scenario = load_scenario(path.stem)
        for seed in range(25):
            for entry in generate_case(scenario, seed).key["entry"]:
                for item in entry["resource"].get("item", []) if entry["resource"]["resourceType"] == "Claim" else []:
                    used |= {m["coding"][0]["code"] for m in item.get("modifier", [])}
    assert used and used <= set(modifiers())
