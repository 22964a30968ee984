"""Coding rules of injuries, burns, poisonings, sepsis, COVID-19 and the ED (issue #17, area A).

Each test is a fact pattern as a coder reads it in the note and the claim a certified coder would submit, citing
the guideline. The corpus tests in test_coding_rules.py run the same rules over 500 keys of every scenario.
"""

from __future__ import annotations

import datetime as dt

import pytest

from simulator.clinical import load_catalog
from simulator.coding import rules, rules_injury
from simulator.coding.rules import CodingPolicy, ExternalCause, Performed, Problem, VisitFacts
from simulator.generate import generate_case, load_scenario

CAT = load_catalog()
C = CAT.conditions
DAY = dt.date(2025, 6, 2)


def problem(key: str, role: str = "reason", kind: str = "acute", variant: int = 0) -> Problem:
    c = C[key]
    return Problem(c, c.variants[variant].codes, key, role, kind)  # type: ignore[arg-type]


def facts(*problems: Problem, **kw) -> VisitFacts:
    base = dict(setting="emergency", preventive=False, date=DAY, age=45, last_seen=None, problems=tuple(problems))
    base.update(kw)
    return VisitFacts(**base)  # type: ignore[arg-type]


def codes(coded: rules.CodedVisit) -> list[str]:
    return [d.code for d in coded.diagnoses]


def lines(coded: rules.CodedVisit) -> list[tuple[str, tuple[str, ...], int]]:
    return [(ln.code, ln.modifiers, ln.units) for ln in coded.services]


# ============================================================================ Table of Drugs (I.C.19.e.5)
def test_poisoning_code_first_then_its_manifestation():
    """I.C.19.e.5.b: the poisoning (intent as documented) first, then the manifestations."""
    coded = rules.code_visit(facts(problem("acetaminophen-overdose", kind="threat"), hospitalization_decision=True), CAT)
    assert codes(coded) == ["T39.1X2A", "R11.2"]
    coded = rules.code_visit(facts(problem("benzodiazepine-poisoning")), CAT)
    assert codes(coded) == ["T42.4X1A", "R40.0"]


def test_adverse_effect_manifestation_first_then_the_t_code_with_5():
    """I.C.19.e.5.a: the nature of the adverse effect first, then the drug's T36-T50 code with 5th/6th character 5."""
    c = C["ace-inhibitor-angioedema"]
    reversed_order = Problem(c, ("T46.4X5A", "T78.3XXA"), "", "reason", "acute")
    assert codes(rules.code_visit(facts(reversed_order), CAT)) == ["T78.3XXA", "T46.4X5A"]
    assert codes(rules.code_visit(facts(problem("amoxicillin-rash")), CAT)) == ["L27.0", "T36.0X5A"]


def test_underdosing_never_first_and_noncompliance_follows():
    """I.C.19.e.5.c: the condition that worsened first, the underdosing code (6th character 6) after it, then the
    Z91.12-/Z91.13- code for the intentional or unintentional underdosing."""
    c = C["antihypertensive-underdosing"]
    shuffled = Problem(c, ("Z91.120", "T46.5X6A", "I16.0", "I10"), "", "reason", "acute-systemic")
    assert codes(rules.code_visit(facts(shuffled), CAT)) == ["I16.0", "I10", "T46.5X6A", "Z91.120"]
    assert codes(rules.code_visit(facts(problem("antiepileptic-underdosing")), CAT)) == ["G40.909", "T42.6X6A", "Z91.138"]


def test_table_of_drugs_columns():
    assert rules_injury.drug_column("T39.1X2A") == "poisoning"
    assert rules_injury.drug_column("T46.4X5A") == "adverse effect"
    assert rules_injury.drug_column("T42.6X6A") == "underdosing"
    assert rules_injury.drug_column("T51.0X1A") == "poisoning"  # toxic effects are sequenced like poisonings
    assert rules_injury.drug_column("T22.211A") == ""


# ============================================================================ burns (I.C.19.d)
def test_burns_highest_degree_first_and_t31_from_the_documented_extent():
    """I.C.19.d.1: the highest degree first; I.C.19.d.6 and the T20-T25 note: T31 for the body surface involved."""
    coded = rules.code_visit(facts(problem("burn-forearm-hand"), burn_tbsa=4), CAT)
    assert codes(coded)[:3] == ["T22.211A", "T23.101A", "T31.0"]
    major = rules.code_visit(facts(problem("burn-thigh-forearm-major", kind="threat"), burn_tbsa=16,
                                   burn_third_degree=11, hospitalization_decision=True), CAT)
    assert codes(major) == ["T24.311A", "T22.211A", "T31.11"]


@pytest.mark.parametrize("tbsa, third, code", [(4, 0, "T31.0"), (9.5, 0, "T31.0"), (12, 4, "T31.10"),
                                               (18, 11, "T31.11"), (25, 25, "T31.22"), (97, 95, "T31.99")])
def test_t31_fourth_character_is_the_total_fifth_the_third_degree_in_tens(tbsa, third, code):
    assert rules_injury.extent_code(tbsa, third) == code


# ============================================================================ injuries (I.C.19.a-c, I.C.20)
def test_multiple_injuries_most_serious_first():
    """I.C.19.b: the most serious injury first (concussion with LOC, then the fracture, then the contusion)."""
    assert codes(rules.code_visit(facts(problem("mvc-multiple-injuries", kind="threat")), CAT)) == \
        ["S06.0X1A", "S42.021A", "S20.211A"]
    assert codes(rules.code_visit(facts(problem("fall-multiple-injuries")), CAT)) == ["S52.531A", "S06.0X0A", "S01.01XA"]
    # An open fracture (7th character B/C) outranks an intracranial injury.
    assert rules_injury.injury_severity("S82.221B") < rules_injury.injury_severity("S06.0X1A")


def test_sequela_residual_first_then_the_injury_with_s():
    """I.C.19.a (sequela): the residual condition first, the injury code with 7th character S after it."""
    c = C["burn-scar"]
    as_written = Problem(c, ("T22.211S", "L90.5"), "", "reason", "acute")
    assert codes(rules.code_visit(facts(as_written, setting="office"), CAT)) == ["L90.5", "T22.211S"]


def test_external_causes_at_a_follow_up_only_the_cause_with_the_same_7th_character():
    """I.C.20.b/c/k: place, activity and status only at the initial encounter; the cause code carries the injury's
    7th character at subsequent (D) and sequela (S) encounters."""
    events = tuple(ExternalCause(code, "") for code in ("W01.0XXD", "Y93.01", "Y92.480", "Y99.8"))
    coded = rules.code_visit(facts(problem("wrist-fracture-recheck"), setting="office", external_causes=events), CAT)
    assert codes(coded) == ["S52.531D", "W01.0XXD"]
    initial = tuple(ExternalCause(code, "") for code in ("W01.0XXA", "Y93.01", "Y92.480", "Y99.8"))
    assert codes(rules.code_visit(facts(problem("wrist-fracture"), external_causes=initial), CAT)) == \
        ["S52.531A", "W01.0XXA", "Y93.01", "Y92.480", "Y99.8"]


def test_aftercare_of_an_injury_is_the_injury_code_with_d_not_a_z_code():
    """I.C.19.a and I.C.21.c.7: a cast change or healing check of a fracture is the fracture code with D."""
    coded = rules.code_visit(facts(problem("wrist-fracture-recheck"), setting="office", last_seen=DAY - dt.timedelta(days=14),
                                   procedures=(Performed("wrist-xray-2view", "wrist-fracture-recheck", "right"),
                                               Performed("short-arm-cast", "wrist-fracture-recheck", "right"))), CAT)
    assert codes(coded) == ["S52.531D"]
    assert lines(coded)[1:] == [("73100", ("RT",), 1), ("29075", ("RT",), 1)]
    assert coded.services[0].modifiers == ("25",)


# ============================================================================ sepsis and COVID-19 (I.C.1.d, I.C.1.g)
def test_sepsis_systemic_infection_first_then_severe_sepsis_then_the_localized_infection():
    """I.C.1.d.4: A41.x first, R65.20/R65.21 next (R65.2 "code first underlying infection"), then the local
    infection and the organ dysfunction."""
    c = C["severe-sepsis-cellulitis"]
    as_written = Problem(c, ("L03.115", "N17.9", "R65.20", "A41.01"), "", "reason", "threat")
    assert codes(rules.code_visit(facts(as_written), CAT)) == ["A41.01", "R65.20", "L03.115", "N17.9"]
    assert codes(rules.code_visit(facts(problem("sepsis-uti", kind="threat")), CAT)) == ["A41.9", "N39.0"]


def test_covid_first_with_its_manifestation_and_exposure_while_pending():
    """I.C.1.g.1.a: U07.1 then the manifestation (J12.82); I.C.1.g.1.g-e: symptoms plus Z20.822 when not confirmed."""
    c = C["covid-pneumonia"]
    assert codes(rules.code_visit(facts(Problem(c, ("J12.82", "U07.1"), "", "reason", "acute-systemic")), CAT)) == \
        ["U07.1", "J12.82"]
    assert codes(rules.code_visit(facts(problem("covid-suspected", kind="undiagnosed")), CAT)) == \
        ["R05.1", "R50.9", "Z20.822"]


# ============================================================================ services
@pytest.mark.parametrize("minutes, expected", [(25, []), (30, [("99291", 1)]), (74, [("99291", 1)]),
                                               (75, [("99291", 1), ("99292", 1)]), (104, [("99291", 1), ("99292", 1)]),
                                               (105, [("99291", 1), ("99292", 2)])])
def test_critical_care_by_time_replaces_the_ed_visit(minutes, expected):
    """CPT critical care time table: 99291 for 30-74 minutes, 99292 per further 30 minutes; under 30 an ED E/M."""
    f = facts(problem("septic-shock-pneumonia", kind="threat"), hospitalization_decision=True,
              critical_care_minutes=minutes, procedures=(Performed("ecg", "septic-shock-pneumonia"),))
    got = [(ln.code, ln.units) for ln in rules.code_visit(f, CAT).services]
    if expected:
        assert got == expected + [("93010", 1)]
    else:
        assert got[0][0] in rules.EMERGENCY and got[1:] == [("93010", 1)]


def test_repairs_summed_per_family_and_group_the_more_complex_first_the_lesser_with_59():
    """CPT repair guidelines: lengths of one classification and anatomic group are added; the more complicated
    repair is listed first, the less complicated with modifier 59 (XS where the scenario chooses it: NCCI Ch. I §E)."""
    perf = (Performed("repair-intermediate-forearm", "multiple-lacerations", length=4.0),
            Performed("repair-simple-hand", "multiple-lacerations", length=2.0),
            Performed("repair-simple-knee", "multiple-lacerations", length=1.5))
    f = facts(problem("multiple-lacerations"), procedures=perf)
    coded = rules.code_visit(f, CAT)
    assert lines(coded) == [("12032", (), 1), ("12002", ("59",), 1)]  # simple 2.0 + 1.5 = 3.5 cm -> 12002
    xs = rules.code_visit(f, CAT, CodingPolicy(distinct_modifier="XS"))
    assert lines(xs)[1] == ("12002", ("XS",), 1)
    # CMS-1500 item 24E: each repair line points to the wounds it closed (forearm; hand and knee)
    assert [ln.diagnosis_codes for ln in coded.services] == [("S51.811A",), ("S61.411A", "S81.011A")]
    assert rules_injury.repair_code("intermediate", "scalp-trunk-limbs", 2.5) == "12031"
    assert rules_injury.repair_code("intermediate", "scalp-trunk-limbs", 2.6) == "12032"
    assert rules_injury.repair_code("complex", "forehead-cheeks-chin-neck-hands-feet", 6.0) == "13132"


def test_every_repair_code_a_rule_can_choose_is_in_the_catalog():
    for bands in rules_injury.REPAIRS.values():
        for _, code in bands:
            assert code in CAT.services and CAT.services[code].global_days is not None, code


def test_tissue_adhesive_only_is_g0168_for_medicare_a_simple_repair_otherwise():
    perf = (Performed("adhesive-closure-face", "chin-laceration-adhesive", length=1.8),)
    assert lines(rules.code_visit(facts(problem("chin-laceration-adhesive", kind="minor"), procedures=perf,
                                        medicare=True, age=70), CAT)) == [("G0168", (), 1)]
    assert lines(rules.code_visit(facts(problem("chin-laceration-adhesive", kind="minor"), procedures=perf), CAT)) == \
        [("12011", (), 1)]


def test_inside_the_global_period_the_follow_up_is_99024_an_unrelated_problem_gets_modifier_24():
    """Claims Processing Manual Ch. 12 §40.1.A: post-operative visits are in the repair's global package (99024);
    CPT modifier 24: an unrelated E/M during the post-operative period."""
    base = dict(setting="office", last_seen=DAY - dt.timedelta(days=8), global_ends=DAY + dt.timedelta(days=2),
                global_for="forearm-laceration-recheck")
    coded = rules.code_visit(facts(problem("forearm-laceration-recheck", kind="minor"), **base), CAT)
    assert lines(coded) == [("99024", (), 1)]
    later = dict(base, global_ends=DAY - dt.timedelta(days=1))
    assert lines(rules.code_visit(facts(problem("forearm-laceration-recheck", kind="minor"), **later), CAT))[0][0] == "99212"
    both = rules.code_visit(facts(problem("forearm-laceration-recheck", kind="minor"),
                                  problem("amoxicillin-rash", role="addressed"), prescription_management=True, **base), CAT)
    assert both.services[0].modifiers == ("24",) and both.services[0].diagnosis_codes == ("L27.0",)


# ============================================================================ generated visits
def test_the_injury_clinic_follows_an_injury_from_a_to_d_to_s_on_the_same_side():
    sc = load_scenario("injury-clinic")
    seen = set()
    for seed in range(60):
        key = generate_case(sc, seed).key
        claims = [e["resource"] for e in key["entry"] if e["resource"]["resourceType"] == "Claim"]
        chains: dict[str, list[str]] = {}
        for c in claims:
            chains.setdefault(c["patient"]["reference"], []).append(c["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0]["code"])
        for a, b in ((a, b) for chain in chains.values() for a, b in zip(chain, chain[1:], strict=False)):
            if a.startswith("S52.53") and b.startswith("S52.53"):
                assert a[:6] == b[:6] and (a[-1], b[-1]) == ("A", "D")
                seen.add("D")
            if b.startswith("M12.53"):
                assert a.startswith("S52.53") and a[-1] == "D" and a[6] == b[6]  # same wrist
                seen.add("S")
    assert seen == {"D", "S"}


def test_an_ed_physicians_formal_reading_of_a_film_is_the_professional_component_26():
    """CPT modifier 26 (and NCCI Policy Manual Ch. I §C): the physician who writes the report of a film the hospital
    took reports the code with 26; the hospital reports the technical part. It is then not also counted as an
    independent interpretation in MDM."""
    f = facts(problem("open-tibia-fracture", kind="threat"), hospitalization_decision=True,
              procedures=(Performed("tibia-xray", "open-tibia-fracture", "right"),))
    assert lines(rules.code_visit(f, CAT)) == [("99285", (), 1), ("73590", ("26",), 1)]
    office = facts(problem("open-tibia-fracture", kind="threat"), setting="office", last_seen=DAY,
                   procedures=(Performed("tibia-xray", "open-tibia-fracture", "right"),))
    assert ("73590", (), 1) in lines(rules.code_visit(office, CAT))  # global service in the office


def test_a_patient_allergic_to_the_drug_is_never_given_its_adverse_effect():
    sc = load_scenario("ed-poisonings-burns")
    for seed in range(80):
        key = generate_case(sc, seed).key
        for e in key["entry"]:
            r = e["resource"]
            if r["resourceType"] != "Claim" or r["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0]["code"] != "L27.0":
                continue
            allergies = [a["code"]["text"] for x in key["entry"] if (a := x["resource"])["resourceType"] == "AllergyIntolerance"
                         and a["patient"]["reference"] == r["patient"]["reference"]]
            assert "penicillin" not in allergies


def test_a_splint_on_one_wrist_carries_rt_or_lt_and_the_e_m_25():
    f = facts(problem("wrist-fracture", kind="injury-complicated", variant=1), prescription_management=True,
              procedures=(Performed("wrist-xray", "wrist-fracture", "left"), Performed("short-arm-splint", "wrist-fracture", "left")))
    assert lines(rules.code_visit(f, CAT)) == [("99284", ("25",), 1), ("29125", ("LT",), 1)]


def test_a_trip_through_a_glass_door_is_a_fall_striking_glass_not_contact_with_glass():
    """W25's Excludes1: a fall on the same level from tripping with subsequent striking against sharp glass is
    W01.110- (I.A.12.a); a place the note does not specify is not assumed (a house's type: Y92.008)."""
    events = [e for e in CAT.conditions["multiple-lacerations"].injury_events if "fell" in e.text]
    assert events and all(e.codes[0] == "W01.110A" and "Y93.01" not in e.codes for e in events)
    assert "Y92.008" in events[0].codes and "Y92.018" not in events[0].codes
