"""The office case mix's coding rules: pregnancy, skin lesions and their procedures, blood, HIV, eye, newborns.

Hand-made facts as a coder reads a note -> the claim a certified coder would submit (each test names the
guideline), then the same rules over 500 generated keys of each office-area scenario.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import partial

import pytest

from simulator.clinical import Condition, Variant, load_catalog
from simulator.coding import rules, rules_office
from simulator.coding.rules import Collected, Performed, Problem
from tests.test_coding_rules import corpus
from tests.test_coding_rules import facts as base_facts
from tests.test_coding_rules import problem as base_problem

CAT = load_catalog()
C = CAT.conditions
DAY = dt.date(2025, 6, 2)
OFFICE_SCENARIOS = ["prenatal-clinic", "dermatology-procedures", "blood-eye-hiv-clinic", "well-baby-clinic"]


def problem(key: str, role: str = "reason", kind: str = "acute", side: int = 0) -> Problem:
    """A documented problem, by default the acute reason for the visit."""
    return base_problem(key, role, kind, side)


facts = partial(base_facts, age=30, last_seen=DAY - dt.timedelta(days=30))  # a 30-year-old seen a month ago


def dx(coded: rules.CodedVisit) -> list[tuple[str, bool]]:
    return [(d.code, d.optional) for d in coded.diagnoses]


def lines(coded: rules.CodedVisit) -> list[tuple[str, int, tuple[str, ...]]]:
    return [(ln.code, ln.units, ln.modifiers) for ln in coded.services]


def weeks(w: int, d: int = 0) -> int:
    return w * 7 + d


# ============================================================================ pregnancy
@pytest.mark.parametrize("days, code", [(weeks(10), "Z34.81"), (weeks(13, 6), "Z34.81"), (weeks(14), "Z34.82"),
                                        (weeks(27, 6), "Z34.82"), (weeks(28), "Z34.83"), (weeks(39, 2), "Z34.83")])
def test_the_trimester_character_follows_the_gestational_age_of_the_visit(days, code):
    """I.C.15.a.3 and Chapter 15's note: 1st trimester < 14w0d, 2nd 14w0d to < 28w0d, 3rd from 28w0d."""
    coded = rules.code_visit(facts(problem("pregnancy-normal", kind="chronic-stable"), gestation_days=days), CAT)
    assert coded.diagnoses[0].code == code


def test_routine_normal_pregnancy_is_z34_first_with_weeks_of_gestation_optional():
    """I.C.15.b.1: Z34 first-listed at a routine visit; Z3A (I.C.15.d) is asked for by Chapter 15 codes only."""
    coded = rules.code_visit(facts(problem("pregnancy-first", kind="chronic-stable"), gestation_days=weeks(23, 6)), CAT)
    assert dx(coded) == [("Z34.02", False), ("Z3A.23", True)]


def test_high_risk_supervision_is_o09_with_weeks_of_gestation_required():
    """I.C.15.b.2: O09 first-listed for a high-risk pregnancy; the Chapter 15 note asks for Z3A."""
    coded = rules.code_visit(facts(problem("pregnancy-ama", kind="chronic-stable"), age=38, gestation_days=weeks(30, 1)),
                             CAT)
    assert dx(coded) == [("O09.523", False), ("Z3A.30", False)]
    coded = rules.code_visit(facts(problem("pregnancy-preterm-history", kind="chronic-stable"), gestation_days=weeks(9)),
                             CAT)
    assert dx(coded) == [("O09.211", False), ("Z3A.09", False)]


def test_z34_is_never_reported_with_a_chapter_15_code():
    """I.C.15.b.1: Z34 codes are not used with Chapter 15 codes; the complication's O-code and the specific
    condition follow (O99.01- "use additional code to identify specific condition")."""
    f = facts(problem("pregnancy-normal", kind="chronic-stable"), problem("anemia-in-pregnancy", "addressed"),
              gestation_days=weeks(20, 3))
    assert dx(rules.code_visit(f, CAT)) == [("O99.012", False), ("D50.9", False), ("Z3A.20", False)]


def test_a_complication_of_pregnancy_is_coded_in_chapter_15_with_its_trimester():
    f = facts(problem("uti-in-pregnancy"), gestation_days=weeks(31), prescription_management=True,
              panels=(Collected("urine-dip", "uti-in-pregnancy"),))
    coded = rules.code_visit(f, CAT)
    assert dx(coded) == [("O23.43", False), ("Z3A.31", False)]
    # A problem visit outside routine antepartum care: an E/M, and the dipstick is billed.
    assert [code for code, *_ in lines(coded)] == ["99213", "81002"]


def test_an_incidental_pregnancy_is_z33_1_without_chapter_15_or_weeks():
    """I.C.15.a.1: when the provider documents that the pregnancy is incidental, Z33.1 replaces Chapter 15."""
    f = facts(problem("ankle-sprain-pregnancy-incidental"), gestation_days=weeks(22))
    codes = [code for code, _ in dx(rules.code_visit(f, CAT))]
    assert codes == ["S93.401A", "Z33.1"]


def test_routine_prenatal_visits_are_tracked_under_the_global_package_not_billed_as_office_visits():
    """CPT Maternity Care and Delivery: antepartum care is part of the global package; 0500F at the first
    prenatal visit, 0502F after it, no E/M."""
    day = DAY
    lmp = day - dt.timedelta(days=weeks(12))
    first = facts(problem("pregnancy-normal", kind="chronic-stable"), gestation_days=weeks(12),
                  last_seen=lmp - dt.timedelta(days=200))
    assert lines(rules.code_visit(first, CAT)) == [("0500F", 1, ())]
    assert lines(rules.code_visit(facts(problem("pregnancy-normal", kind="chronic-stable"), gestation_days=weeks(12),
                                        last_seen=None), CAT)) == [("0500F", 1, ())]
    later = facts(problem("pregnancy-normal", kind="chronic-stable"), gestation_days=weeks(16),
                  last_seen=day - dt.timedelta(days=28))
    assert lines(rules.code_visit(later, CAT)) == [("0502F", 1, ())]


@pytest.mark.parametrize("days, code", [(weeks(5), "Z3A.01"), (weeks(8), "Z3A.08"), (weeks(42, 6), "Z3A.42"),
                                        (weeks(43), "Z3A.49")])
def test_weeks_of_gestation_are_completed_weeks(days, code):
    assert rules_office.weeks_of_gestation_code(days) == code


# ============================================================================ skin lesions
def test_benign_excision_is_coded_from_the_pathology_with_no_separate_office_visit():
    """The Neoplasm Table by behaviour (pathology: benign nevus, D22); 114xx by site and excised diameter;
    the decision for a minor procedure is part of it (Claims Processing Manual Ch. 12 §40.1.C)."""
    f = facts(problem("nevus-back-excision"),
              procedures=(Performed("excision-benign-trunk", "nevus-back-excision"),
                          Performed("skin-pathology", "nevus-back-excision")))
    coded = rules.code_visit(f, CAT)
    assert dx(coded) == [("D22.5", False)]
    assert lines(coded) == [("11402", 1, ()), ("88305", 1, ())]


@pytest.mark.parametrize("procedure, lesion_range", [("excision-benign-arm", (0.4, 0.8)), ("excision-benign-trunk", (0.7, 1.6)),
                                                     ("excision-malignant-face", (0.3, 1.2)),
                                                     ("wide-excision-melanoma", (0.6, 1.6))])
def test_the_excision_code_stands_for_lesion_plus_twice_the_margin(procedure, lesion_range):
    """CPT: the excised diameter is the lesion's diameter plus the narrowest margins on both sides."""
    p = CAT.procedures[procedure]
    assert p.margin > 0
    low, high = p.size
    assert (round(low - 2 * p.margin, 1), round(high - 2 * p.margin, 1)) == lesion_range


def test_malignant_excision_of_the_hand_uses_the_hand_site_group_and_the_upper_limb_icd_code():
    f = facts(problem("scc-hand", side=1), procedures=(Performed("excision-malignant-hand", "scc-hand"),
                                                       Performed("skin-pathology", "scc-hand")))
    coded = rules.code_visit(f, CAT)
    assert dx(coded) == [("C44.629", False)]
    assert [code for code, *_ in lines(coded)] == ["11622", "88305"]


def test_actinic_keratosis_destruction_first_lesion_then_each_added_one_or_fifteen_and_more():
    """CPT 17000 for the first lesion with add-on 17003 for lesions 2-14; 17004 alone for 15 or more."""
    five = rules.code_visit(facts(problem("actinic-keratoses", kind="minor"),
                                  procedures=(Performed("ak-cryotherapy-5", "actinic-keratoses"),)), CAT)
    assert lines(five) == [("17000", 1, ()), ("17003", 4, ())]
    many = rules.code_visit(facts(problem("actinic-keratoses-many", kind="minor"),
                                  procedures=(Performed("ak-cryotherapy-18", "actinic-keratoses-many"),)), CAT)
    assert lines(many) == [("17004", 1, ())]


def test_a_separate_problem_at_a_procedure_visit_gets_an_e_m_with_modifier_25():
    f = facts(problem("actinic-keratoses", kind="minor"), problem("hypertension", "addressed", "chronic-not-at-goal"),
              age=70, prescription_management=True, procedures=(Performed("ak-cryotherapy-5", "actinic-keratoses"),))
    coded = rules.code_visit(f, CAT)
    assert coded.services[0].modifiers == ("25",) and coded.services[0].code.startswith("992")


def test_follow_up_after_completed_melanoma_treatment_is_z08_then_z85():
    """I.C.2.d (history when treatment is complete), I.C.21.c.8 (follow-up); Z85's "code first Z08"."""
    coded = rules.code_visit(facts(problem("melanoma-history-skin-check"), tobacco="former"), CAT)
    assert dx(coded) == [("Z08", False), ("Z85.820", False), ("Z87.891", False)]  # Z85 asks for Z87.891


# ============================================================================ blood, neoplasms, HIV, eye
def test_anemia_in_ckd_follows_the_kidney_disease_and_anemia_in_neoplastic_disease_the_cancer():
    """D63.1 "code first underlying chronic kidney disease"; D63.0 "code first neoplasm" (I.C.2.c.1)."""
    assert [c for c, _ in dx(rules.code_visit(facts(problem("anemia-ckd", kind="chronic-stable"), age=70), CAT))] == \
        ["N18.4", "D63.1"]
    coded = rules.code_visit(facts(problem("anemia-in-cancer"), age=60), CAT)
    assert [c for c, _ in dx(coded)] == ["C50.912", "D63.0", "Z17.0"]


def test_a_malignancy_under_treatment_is_current_with_its_receptor_status_and_drug():
    """I.C.2.a-e: coded as current while under treatment; C50's note asks for Z17; Z79.811 optional, and its own
    "use additional code" note puts it before Z17.0."""
    f = facts(problem("breast-cancer-active", kind="chronic-stable"), age=62,
              long_term_drugs=(rules.LongTermDrug("Z79.811", "anastrozole", "breast-cancer-active"),))
    assert dx(rules.code_visit(f, CAT)) == [("C50.912", False), ("Z79.811", True), ("Z17.0", False)]


def test_b12_injection_in_the_office_is_administration_plus_the_drug_with_modifier_25_on_the_visit():
    f = facts(problem("b12-anemia", kind="chronic-stable"), age=70, prescription_management=True,
              procedures=(Performed("b12-injection", "b12-anemia"),), panels=(Collected("cbc-office", "b12-anemia"),))
    coded = rules.code_visit(f, CAT)
    assert [(c, m) for c, _, m in lines(coded)][1:] == [("96372", ()), ("J3420", ()), ("85025", ())]
    assert coded.services[0].modifiers == ("25",)


@pytest.mark.parametrize("key, codes", [("hiv-disease", ["B20"]), ("hiv-asymptomatic", ["Z21"]),
                                        ("hiv-inconclusive", ["R75"]), ("hiv-thrush", ["B20", "B37.0"])])
def test_hiv_b20_z21_or_r75_as_documented_and_b20_before_its_manifestation(key, codes):
    """I.C.1.a.1 (confirmed by the provider's statement), I.C.1.a.2.a (B20 first, then manifestations),
    I.C.1.a.2.d-f (asymptomatic Z21, inconclusive R75, any prior HIV-related illness B20)."""
    assert [c for c, _ in dx(rules.code_visit(facts(problem(key)), CAT))] == codes


def test_eye_codes_carry_laterality():
    """I.B.13: laterality from the documentation; bilateral has its own code."""
    assert [rules.code_visit(facts(problem("mucopurulent-conjunctivitis", side=s)), CAT).diagnoses[0].code
            for s in range(3)] == ["H10.021", "H10.022", "H10.023"]
    assert [v.codes[0] for v in C["cataract"].variants] == ["H25.11", "H25.12", "H25.13"]
    assert [v.codes[0] for v in C["glaucoma-suspect"].variants] == ["H40.001", "H40.002", "H40.003"]


def test_an_inconclusive_hiv_visit_is_never_offered_to_a_patient_with_known_hiv():
    assert set(C["hiv-inconclusive"].not_with) == {"hiv-disease", "hiv-asymptomatic"}


# ============================================================================ newborns
@pytest.mark.parametrize("age_days, code, em", [(4, "Z00.110", "99381"), (15, "Z00.111", "99391"),
                                                (40, "Z00.129", "99391")])
def test_newborn_checkups_by_days_of_life_and_the_under_one_preventive_code(age_days, code, em):
    """Z00.110 under 8 days, Z00.111 at 8-28 days, Z00.129 after (Tabular Z00.1-, I.C.21.c.13); CPT 99381 /
    99391 for a preventive visit under one year."""
    newborn = Condition("newborn-check", (Variant("Newborn check", ("Z00.110",)),), "preventive", (0, 0),
                        tags=("newborn-exam",), problem="preventive")
    birth = DAY - dt.timedelta(days=age_days)
    f = facts(Problem(newborn, ("Z00.110",), "newborn check", "reason", "preventive"), preventive=True, age=0,
              birth_date=birth, last_seen=None if age_days < 8 else birth + dt.timedelta(days=3))
    coded = rules.code_visit(f, CAT)
    assert coded.diagnoses[0].code == code and coded.services[0].code == em


# ============================================================================ 500 keys of each office scenario
@pytest.mark.slow
@pytest.mark.parametrize("slug", OFFICE_SCENARIOS)
def test_corpus_office_codes_agree_with_what_the_note_prints(slug):
    """The trimester and Z3A agree with the gestational age the note prints; Z34 never beside an O-code; routine
    prenatal visits carry 0500F/0502F and no E/M; an excision's code agrees with lesion + 2 margins as printed."""
    ga = re.compile(r"(?:(\d+)w(\d)d|(\d+) weeks (\d) days pregnant)")
    excision_band = {"11401": (0.6, 1.0), "11402": (1.1, 2.0), "11403": (2.1, 3.0), "11603": (2.1, 3.0),
                     "11622": (1.1, 2.0), "11642": (1.1, 2.0), "11606": (4.01, 99.0)}
    seen: set[str] = set()
    for v in corpus(slug):
        codes = [c for c, _ in v["dx"]]
        services = [ln[0] for ln in v["lines"]]
        seen.update(codes)
        match = ga.search(v["note"])
        if match:
            w, d = (int(x) for x in (match.group(1) or match.group(3), match.group(2) or match.group(4)))
            trimester = "1" if w < 14 else "2" if w < 28 else "3"
            for c in codes:
                if c[:5] in ("Z34.0", "Z34.8", "O23.4") or c[:6] in ("O09.52", "O09.21", "O99.01"):
                    assert c[-1] == trimester, (v["seed"], c, w)
            if "Z33.1" not in codes:
                assert f"Z3A.{w:02d}" in codes, (v["seed"], codes, w, d)
        assert not (any(c.startswith("O") for c in codes) and any(c.startswith("Z34") for c in codes)), codes
        infant = re.search(r"(\d+)-day-old infant|infant \((\d+) days\)", v["note"])
        if infant:
            days = int(infant.group(1) or infant.group(2))
            finding = "abnormal finding:" in v["note"]
            assert codes[0] == ("Z00.110" if days < 8 else "Z00.111" if days <= 28 else
                                "Z00.121" if finding else "Z00.129"), (v["seed"], days, codes)
            assert ("P59.9" in codes) == finding and not any(c.startswith("Z38") for c in codes)
            assert services[0] == ("99381" if re.search(r"New patient|First visit with us", v["note"]) else "99391")
        if codes[0][:3] in ("Z34", "O09"):
            assert services in (["0500F"], ["0502F"]), (v["seed"], services)
        for code in services:
            if code in excision_band:
                lesion, margin = _lesion_and_margin(v["note"])
                low, high = excision_band[code]
                assert low - 0.001 <= round(lesion + 2 * margin, 1) <= high + 0.001, (v["seed"], code, lesion, margin)
    if slug == "prenatal-clinic":
        assert {"Z34.01", "Z34.82", "O09.523", "Z33.1"} <= seen
    if slug == "well-baby-clinic":
        assert {"Z00.110", "Z00.111", "Z00.129", "Z00.121", "P59.9"} <= seen
    if slug == "dermatology-procedures":
        assert {"D22.5", "C44.319", "C43.59", "L57.0", "Z08"} <= seen


def _lesion_and_margin(note: str) -> tuple[float, float]:
    """The lesion's diameter and the margin as the procedure line prints them; the excised diameter, where
    the note also gives it, is left out so that the test recomputes it."""
    proc = next(ln for ln in note.splitlines() if ln.startswith("Procedures:"))
    margin = re.search(r"(\d+(?:\.\d+)?) cm margins", proc)
    assert margin, proc
    rest = re.sub(r"\d+(?:\.\d+)? cm margins|excised diameter \d+(?:\.\d+)? cm", "", proc)
    lesion = re.search(r"(\d+(?:\.\d+)?) cm", rest)
    assert lesion, proc
    return float(lesion.group(1)), float(margin.group(1))
