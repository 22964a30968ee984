"""The coding rules: each rule on hand-made facts, then every rule over 500 generated keys of every scenario.

The unit tests build ``VisitFacts`` the way a coder reads a note and check the claim a certified coder
would submit; the corpus tests check that the generated keys obey the same rules everywhere.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from functools import cache
from importlib import resources

import pytest

from simulator.clinical import load_catalog
from simulator.coding import rules, rules_injury, tabular
from simulator.coding.rules import CodingPolicy, Collected, ExternalCause, LongTermDrug, Performed, Problem, VisitFacts
from simulator.generate import generate_case, load_scenario
from simulator.generate.scenario import list_scenario_files

CAT = load_catalog()
C = CAT.conditions
DAY = dt.date(2025, 6, 2)
EM_OFFICE = set(rules.OFFICE_NEW + rules.OFFICE_ESTABLISHED)
EM_ALL = EM_OFFICE | set(rules.EMERGENCY)
ANTEPARTUM = {"0500F", "0502F"}
PREVENTIVE = {f"99{a}{b}" for a in ("38", "39") for b in "1234567"} | {"G0438", "G0439"}


def problem(key: str, role: str = "reason", kind: str = "chronic-stable", side: int = 0) -> Problem:
    c = C[key]
    return Problem(c, c.variants[side].codes, key, role, kind)  # type: ignore[arg-type]


def facts(*problems: Problem, **kw) -> VisitFacts:
    base = dict(setting="office", preventive=False, date=DAY, age=60, last_seen=DAY - dt.timedelta(days=200),
                problems=tuple(problems))
    base.update(kw)
    return VisitFacts(**base)  # type: ignore[arg-type]


def codes(coded: rules.CodedVisit, with_optional: bool = True) -> list[str]:
    return [d.code for d in coded.diagnoses if with_optional or not d.optional]


def line(coded: rules.CodedVisit, code: str) -> rules.ServiceLine:
    return next(ln for ln in coded.services if ln.code == code)


# ============================================================================ the Tabular's notes
def test_the_shipped_tabular_notes_are_the_librarys_own():
    """The notes file is extracted from simple-icd-10-cm, not typed by hand: rebuilding it gives the same."""
    shipped = json.loads(resources.files("simulator.coding").joinpath("data", tabular.NOTES_FILE).read_text())
    assert shipped["codes"] == tabular.build_notes(CAT.icd10cm_codes())


def test_note_references_cover_codes_categories_and_ranges():
    assert tabular.names("stage of chronic kidney disease (N18.1-N18.4, N18.9)", "N18.31")
    assert not tabular.names("stage of chronic kidney disease (N18.1-N18.4, N18.9)", "N18.5")
    assert tabular.names("hypertensive chronic kidney disease (I12.-, I13.-)", "I12.9")
    assert tabular.names("tobacco dependence (F17.-)", "F17.210")
    assert not tabular.names("heart failure complicating abortion (O00-O07, O08.8)", "I11.0")


# ============================================================================ each rule on hand-made facts
def test_with_convention_diabetes_and_ckd_is_the_combination_code():
    """I.A.15 / I.C.4.a: DM2 and CKD documented -> E11.22 + N18.31, never E11.9 + N18.31."""
    coded = rules.code_visit(facts(problem("type2-diabetes"), problem("ckd-3a", "addressed")), CAT)
    assert codes(coded)[:2] == ["E11.22", "N18.31"]
    assert "E11.9" not in codes(coded)


def test_hypertension_with_ckd_and_with_heart_failure_use_the_combination_codes_sequenced_by_the_tabular():
    """I.C.9.a.1-2: I12.9 + N18.x and I11.0 + I50.x, and the code-first note puts them first even when the
    kidney or heart condition is listed first in the note (I.A.13)."""
    coded = rules.code_visit(facts(problem("ckd-3b"), problem("hypertension", "addressed")), CAT)
    assert codes(coded) == ["I12.9", "N18.32"]
    coded = rules.code_visit(facts(problem("heart-failure"), problem("hypertension", "addressed")), CAT)
    assert codes(coded) == ["I11.0", "I50.22"]


def test_diabetes_with_hyperglycemia_and_ckd_keeps_both_diabetic_complications():
    """I.C.4.a: as many codes from E08-E13 as needed to describe all complications."""
    coded = rules.code_visit(facts(problem("type2-diabetes-hyperglycemia"), problem("ckd-3a", "addressed")), CAT)
    assert set(codes(coded)[:3]) == {"E11.22", "E11.65", "N18.31"}
    assert codes(coded).index("N18.31") > codes(coded).index("E11.22")


def test_no_unspecified_code_beside_the_specific_one():
    """I.A.9 / I.B.9: J44.9 is redundant when J44.1 is coded."""
    coded = rules.code_visit(facts(problem("copd-exacerbation", kind="acute-systemic"), problem("copd", "addressed")), CAT)
    assert "J44.1" in codes(coded) and "J44.9" not in codes(coded)
    coded = rules.code_visit(facts(problem("asthma-exacerbation", kind="acute-systemic"), problem("asthma-mild", "addressed")), CAT)
    assert codes(coded) == ["J45.21"]


def test_external_causes_follow_the_injury_optional_by_default_required_by_setting():
    """I.C.19 note -> Chapter 20 (I.C.20): cause, activity, place, status; voluntary unless required."""
    events = tuple(ExternalCause(c, "cut hand on kitchen knife") for c in ("W26.0XXA", "Y93.G3", "Y92.010", "Y99.8"))
    f = facts(problem("laceration-hand", kind="acute"), external_causes=events,
              procedures=(Performed("laceration-repair-small", "laceration-hand"),))
    coded = rules.code_visit(f, CAT)
    assert codes(coded) == ["S61.411A", "W26.0XXA", "Y93.G3", "Y92.010", "Y99.8"]
    assert [d.optional for d in coded.diagnoses] == [False, True, True, True, True]
    required = rules.code_visit(f, CAT, CodingPolicy(external_causes="required"))
    assert not any(d.optional for d in required.diagnoses)
    # Without an injury code there is nothing to explain.
    assert codes(rules.code_visit(facts(problem("uti", kind="acute"), external_causes=events), CAT)) == ["N39.0"]


def test_place_and_status_are_reported_once():
    events = tuple(ExternalCause(c, "") for c in ("W01.0XXA", "Y92.480", "Y92.010", "Y99.8", "Y99.0"))
    coded = rules.code_visit(facts(problem("ankle-sprain", kind="acute"), external_causes=events), CAT)
    assert [c for c in codes(coded) if c[:3] in ("Y92", "Y99")] == ["Y92.480", "Y99.8"]


def test_former_smoker_gets_z87_891_required_when_the_tabular_asks_for_it():
    """I10 and J44 say "use additional code ... history of tobacco dependence (Z87.891)"."""
    coded = rules.code_visit(facts(problem("hypertension"), tobacco="former"), CAT)
    assert codes(coded, with_optional=False) == ["I10", "Z87.891"]
    coded = rules.code_visit(facts(problem("gerd"), tobacco="former"), CAT)
    assert codes(coded) == ["K21.9", "Z87.891"] and coded.diagnoses[1].optional
    assert "Z87.891" not in codes(rules.code_visit(facts(problem("hypertension"), tobacco="never"), CAT))


def test_long_term_drug_codes_only_with_the_condition_they_treat():
    """I.C.21.c.3 / I.C.4.a.3: Z79.84 with the diabetes it treats, required by E11's note; Z79.01 optional."""
    drugs = (LongTermDrug("Z79.84", "metformin", "type2-diabetes"), LongTermDrug("Z79.01", "apixaban", "atrial-fibrillation"))
    coded = rules.code_visit(facts(problem("type2-diabetes"), long_term_drugs=drugs), CAT)
    assert codes(coded) == ["E11.9", "Z79.84"] and not coded.diagnoses[1].optional
    coded = rules.code_visit(facts(problem("atrial-fibrillation"), long_term_drugs=drugs), CAT)
    assert codes(coded) == ["I48.0", "Z79.01"] and coded.diagnoses[1].optional


def test_bmi_code_only_with_obesity_documented():
    assert codes(rules.code_visit(facts(problem("obesity"), bmi=34.2), CAT)) == ["E66.9", "Z68.34"]
    assert codes(rules.code_visit(facts(problem("gerd"), bmi=34.2), CAT)) == ["K21.9"]


def test_emergency_physician_claim_holds_only_professional_services():
    """The ED physician reports E/M, procedures performed and 93010; the hospital reports the rest."""
    f = facts(problem("chest-pain", kind="threat"), setting="emergency", hospitalization_decision=True,
              procedures=(Performed("ecg", "chest-pain"), Performed("chest-xray", "chest-pain")),
              panels=(Collected("cbc", "chest-pain"), Collected("troponin", "chest-pain")), independent_interpretations=1)
    coded = rules.code_visit(f, CAT)
    assert [ln.code for ln in coded.services] == ["99285", "93010"]
    neb = facts(problem("copd-exacerbation", kind="acute-systemic"), setting="emergency", prescription_management=True,
                procedures=(Performed("nebulizer", "copd-exacerbation"),))
    assert [ln.code for ln in rules.code_visit(neb, CAT).services] == ["99284"]
    office = facts(problem("copd-exacerbation", kind="acute-systemic"), prescription_management=True,
                   procedures=(Performed("nebulizer", "copd-exacerbation"),))
    assert [ln.code for ln in rules.code_visit(office, CAT).services] == ["99214", "94640", "J7613"]


def test_modifier_25_with_an_injection_and_with_cessation_counselling():
    """NCCI: an E/M with 96372 or 99406 on the same day needs modifier 25."""
    f = facts(problem("low-back-pain", kind="acute"), prescription_management=True,
              procedures=(Performed("ketorolac-injection", "low-back-pain"),))
    coded = rules.code_visit(f, CAT)
    assert line(coded, coded.services[0].code).modifiers == ("25",)
    assert line(coded, "J1885").units == 2
    f = facts(problem("nicotine-dependence"), problem("hypertension", "addressed"), prescription_management=True,
              procedures=(Performed("smoking-counseling", "nicotine-dependence"),))
    assert rules.code_visit(f, CAT).services[0].modifiers == ("25",)
    f = facts(problem("hypertension"), problem("atrial-fibrillation", "addressed"), procedures=(Performed("ecg", "atrial-fibrillation"),))
    assert rules.code_visit(f, CAT).services[0].modifiers == ()


def test_no_em_when_the_visit_was_only_the_decision_for_a_minor_procedure():
    """Claims Processing Manual Ch.12 §40.1.C: the decision to do a minor procedure is part of it."""
    f = facts(problem("skin-abscess", kind="acute"), procedures=(Performed("abscess-drainage", "skin-abscess"),),
              prescription_management=True)
    assert [ln.code for ln in rules.code_visit(f, CAT).services] == ["10060"]
    # Another problem managed at the same visit: a separate E/M with modifier 25.
    f2 = facts(problem("skin-abscess", kind="acute"), problem("hypertension", "addressed", "chronic-not-at-goal"),
               procedures=(Performed("abscess-drainage", "skin-abscess"),), prescription_management=True)
    coded = rules.code_visit(f2, CAT)
    assert coded.services[0].code in EM_OFFICE and coded.services[0].modifiers == ("25",)
    # A fracture evaluation is more than the decision to splint.
    f3 = facts(problem("wrist-fracture", kind="injury-complicated"), setting="emergency", prescription_management=True,
               procedures=(Performed("wrist-xray", "wrist-fracture"), Performed("short-arm-splint", "wrist-fracture")))
    assert [(ln.code, ln.modifiers) for ln in rules.code_visit(f3, CAT).services] == [("99284", ("25",)), ("29125", ())]


@pytest.mark.parametrize("last_seen, status", [(None, "new"), (dt.date(2022, 6, 3), "established"),
                                               (dt.date(2022, 6, 1), "new"), (dt.date(2025, 1, 2), "established")])
def test_new_or_established_by_the_three_year_rule(last_seen, status):
    assert rules.patient_status(DAY, last_seen) == status
    coded = rules.code_visit(facts(problem("gerd"), last_seen=last_seen), CAT)
    assert coded.services[0].code == ("99202" if status == "new" else "99212")


def test_em_level_comes_from_medical_decision_making():
    """CPT 2021: two of three elements. Stable chronic illness, no data, no drugs -> 99212; chronic
    illness not at goal with prescription management -> 99214; two stable chronic illnesses with
    prescriptions and labs -> 99214; acute uncomplicated with Rx and one test -> 99213."""
    assert rules.code_visit(facts(problem("gerd")), CAT).services[0].code == "99212"
    assert rules.code_visit(facts(problem("hypertension", kind="chronic-not-at-goal"), prescription_management=True),
                            CAT).services[0].code == "99214"
    two = facts(problem("hypertension"), problem("hyperlipidemia", "addressed"), prescription_management=True,
                panels=(Collected("bmp", "hypertension"), Collected("lipid", "hyperlipidemia")))
    assert rules.code_visit(two, CAT).services[0].code == "99214"
    strep = facts(problem("strep-pharyngitis", kind="acute"), prescription_management=True,
                  panels=(Collected("rapid-strep", "strep-pharyngitis"),))
    assert rules.code_visit(strep, CAT).services[0].code == "99213"
    assert rules.Mdm(3, 0, 2).level == 2 and rules.Mdm(0, 1, 3).level == 1


def test_ed_level_by_mdm():
    uri = facts(problem("viral-uri", kind="minor"), setting="emergency")
    assert rules.code_visit(uri, CAT).services[0].code == "99282"
    pneumonia = facts(problem("pneumonia", kind="acute-systemic"), setting="emergency", prescription_management=True,
                      procedures=(Performed("chest-xray", "pneumonia"),), panels=(Collected("cbc", "pneumonia"),),
                      independent_interpretations=1)
    assert rules.code_visit(pneumonia, CAT).services[0].code == "99284"


def test_each_service_points_to_the_diagnosis_that_justifies_it():
    f = facts(problem("hypertension"), problem("type2-diabetes", "addressed"), problem("gerd", "addressed"),
              panels=(Collected("bmp", "hypertension"), Collected("a1c-poc", "type2-diabetes")), prescription_management=True)
    coded = rules.code_visit(f, CAT)
    assert line(coded, "83036").diagnosis_codes == ("E11.9",)
    assert line(coded, "36415").diagnosis_codes == ("I10",)  # the blood drawn was for the BMP, not for GERD


def test_preventive_codes_agree_with_the_findings_and_the_awv_elements():
    """I.C.21.c.13: with abnormal findings -> Z00.01 plus the finding; G0438 only with AWV elements."""
    exam = problem("annual-wellness-adult", kind="preventive")
    htn = problem("hypertension", "addressed", "chronic-not-at-goal")
    coded = rules.code_visit(facts(exam, htn, preventive=True, abnormal_findings=True), CAT)
    assert codes(coded, with_optional=False) == ["Z00.01", "I10"]
    coded = rules.code_visit(facts(exam, problem("gerd", "addressed"), preventive=True), CAT)
    assert codes(coded) == ["Z00.00", "K21.9"] and coded.diagnoses[1].optional
    old = dict(preventive=True, age=70, medicare=True)
    assert rules.code_visit(facts(exam, **old), CAT).services[0].code == "99397"
    assert rules.code_visit(facts(exam, awv_elements=True, **old), CAT).services[0].code == "G0438"
    assert rules.code_visit(facts(exam, awv_elements=True, prior_awv=DAY - dt.timedelta(days=400), **old),
                            CAT).services[0].code == "G0439"
    assert rules.code_visit(facts(exam, preventive=True, age=30, last_seen=None), CAT).services[0].code == "99385"


# ============================================================================ 500 generated keys of every scenario
SCENARIOS = [load_scenario(f) for f in list_scenario_files()]
KEYS_PER_SCENARIO = 500
CHAPTER19 = re.compile(r"^[ST]")


def _resources(key: dict, rtype: str) -> list[dict]:
    return [e["resource"] for e in key["entry"] if e["resource"]["resourceType"] == rtype]


@cache
def corpus(slug: str) -> list[dict]:
    """Per visit: the scenario, the note, the claim's codes and lines, and the patient's chart around it."""
    sc = next(s for s in SCENARIOS if s.slug == slug)
    out = []
    for seed in range(KEYS_PER_SCENARIO):
        key = generate_case(sc, 70_000 + seed).key
        by_ref = {e["fullUrl"]: e["resource"] for e in key["entry"]}
        notes = {d["context"]["encounter"][0]["reference"]: base64.b64decode(d["content"][0]["attachment"]["data"]).decode()
                 for d in _resources(key, "DocumentReference")}
        for claim in _resources(key, "Claim"):
            enc_ref = claim["extension"][0]["valueReference"]["reference"]
            enc = by_ref[enc_ref]
            patient = enc["subject"]["reference"]
            coverage = by_ref.get(claim["insurance"][0]["coverage"]["reference"], {})
            out.append({
                "seed": seed, "setting": sc.setting, "note": notes[enc_ref], "encounter": enc, "patient": patient,
                "medicare": any("Medicare" in (p.get("display") or "") for p in coverage.get("payor", [])),
                "dx": [(d["diagnosisCodeableConcept"]["coding"][0]["code"], "extension" in d) for d in claim["diagnosis"]],
                "lines": [(i["productOrService"]["coding"][0]["code"], tuple(m["coding"][0]["code"] for m in i.get("modifier", [])),
                           [claim["diagnosis"][s - 1]["diagnosisCodeableConcept"]["coding"][0]["code"] for s in i["diagnosisSequence"]],
                           i["quantity"]["value"]) for i in claim["item"]],
                "problems": [c["code"]["coding"][0]["code"] for c in _resources(key, "Condition")
                             if c["subject"]["reference"] == patient and c["category"][0]["coding"][0]["code"] == "problem-list-item"],
                "meds": [m for m in _resources(key, "MedicationRequest") if m["subject"]["reference"] == patient],
            })
    return out


slow_scenarios = pytest.mark.parametrize("slug", [s.slug for s in SCENARIOS])


def _codes(v: dict) -> list[str]:
    return [c for c, _ in v["dx"]]


@pytest.mark.slow
@slow_scenarios
def test_corpus_with_convention_and_no_redundant_codes(slug):
    for v in corpus(slug):
        codes_ = _codes(v)
        if any(c.startswith("N18") for c in codes_) and any(c.startswith("E11") for c in codes_):
            assert "E11.22" in codes_, (v["seed"], codes_)
        assert "I10" not in codes_ or not any(c[:3] in ("N18", "I50") for c in codes_), codes_
        for a in codes_:
            for b in codes_:
                if a != b and a[:3] == b[:3]:
                    assert not (rules.is_unspecified(CAT.icd10cm_titles[a]) and not rules.is_unspecified(CAT.icd10cm_titles[b])), codes_


@pytest.mark.slow
@slow_scenarios
def test_corpus_sequence_follows_the_tabular_and_external_causes_come_last(slug):
    for v in corpus(slug):
        codes_ = _codes(v)
        for i, a in enumerate(codes_):
            for b in codes_[i + 1:]:
                assert not tabular.must_precede(b, a), (v["seed"], codes_)
        assert codes_[0][:1] not in "VWXY"
        chapter20 = [i for i, c in enumerate(codes_) if c[:1] in "VWXY"]
        assert chapter20 == list(range(len(codes_) - len(chapter20), len(codes_)))


@pytest.mark.slow
@slow_scenarios
def test_corpus_injuries_carry_optional_external_causes(slug):
    """I.C.20: cause, activity, place and status at the initial encounter; at a subsequent or sequela encounter
    only the cause, with the injury's 7th character (I.C.20.b-c-k, I.C.20.h). None with a Table of Drugs code,
    whose intent and cause are in the code itself. Optional unless the scenario requires them."""
    injuries = 0
    required = next(s for s in SCENARIOS if s.slug == slug).coding_policy.external_causes == "required"
    for v in corpus(slug):
        codes_ = _codes(v)
        if any(rules_injury.drug_column(c) for c in codes_) or not any(CHAPTER19.match(c) for c in codes_):
            assert not any(c[:1] in "VWXY" for c in codes_), codes_
            continue
        injuries += 1
        external = [(c, opt) for c, opt in v["dx"] if c[:1] in "VWXY"]
        assert all(opt != required for _, opt in external)
        assert any(c[:1] in "VWX" for c, _ in external), codes_
        stage = {rules_injury.encounter_of(c) for c in codes_ if c[:1] in "ST"} - {""}
        if "initial" in stage:
            assert sum(c.startswith("Y92") for c, _ in external) == 1 and sum(c.startswith("Y99") for c, _ in external) == 1
        else:
            assert not any(c[:3] in ("Y92", "Y93", "Y99") for c, _ in external), codes_
            assert {c[-1] for c, _ in external} == {c[-1] for c in codes_ if c[:1] in "ST" and rules_injury.encounter_of(c)}
    if slug == "emergency-department":
        assert injuries > 100


@pytest.mark.slow
@slow_scenarios
def test_corpus_tobacco_history_from_the_note(slug):
    for v in corpus(slug):
        former = bool(re.search(r"Former smoker|Ex-smoker", v["note"]))
        codes_ = dict(v["dx"])
        assert ("Z87.891" in codes_) == former, (v["seed"], v["note"][:200])
        if former and any(tabular.asks_for(c, "Z87.891") for c, opt in v["dx"] if not opt):
            assert codes_["Z87.891"] is False  # required


@pytest.mark.slow
@slow_scenarios
def test_corpus_ed_claims_hold_only_professional_services(slug):
    facility = {"36415", "96372", "94640", "73610", "73110", "71046", "93000", "81002", "87880", "83036", "82962", "87804",
                "73100", "73000", "70450"}
    for v in corpus(slug):
        codes_ = {c for c, *_ in v["lines"]}
        if v["setting"] == "emergency":
            assert not codes_ & facility and not any(c.startswith("J") for c in codes_), codes_
            if "ECG" in v["note"] or "Electrocardiogram" in v["note"] or "electrocardiogram" in v["note"]:
                assert "93010" in codes_


@pytest.mark.slow
@slow_scenarios
def test_corpus_modifier_25_and_minor_procedures(slug):
    needs_25 = {code for code, s in CAT.services.items() if s.em_modifier == "25"}
    for v in corpus(slug):
        lines = v["lines"]
        visit_lines = EM_ALL | PREVENTIVE
        em = [ln for ln in lines if ln[0] in visit_lines]
        others = {ln[0] for ln in lines if ln[0] not in visit_lines}
        if em and em[0][0] in PREVENTIVE:
            assert em[0][1] == (), (v["seed"], lines)  # immunizations are reported beside a preventive visit
        elif em:
            assert (em[0][1] == ("25",)) == bool(others & needs_25), (v["seed"], lines)
        else:
            # No E/M only when a minor procedure, or immunizations alone (Z23), were the whole visit, at a routine
            # prenatal visit of the global obstetric package (tracked with 0500F / 0502F), when critical care took its
            # place (CPT), or inside a procedure's global period (99024).
            assert (any(CAT.services[c].global_days is not None for c in others) or _codes(v)[:1] == ["Z23"]
                    or others & ANTEPARTUM or others & {"99291", "99024"}), (v["seed"], lines)
        # Other lines: RT/LT on a procedure of one of paired parts, 59/XS on a distinct repair (NCCI Ch. I §E), 26 on
        # an ED physician's own formal reading of a film (the professional component).
        # QW on a CLIA-waived test done in the office, for Medicare only (CMS CLIA-waived test list).
        assert all(set(ln[1]) <= {"RT", "LT", "59", "XS", "26", "QW"} for ln in lines if ln[0] not in EM_ALL), lines
        assert all(("QW" in ln[1]) == (v["medicare"] and CAT.services[ln[0]].waived_qw)
                   for ln in lines if ln[0] in CAT.services and CAT.services[ln[0]].waived_qw), (v["seed"], lines)
        assert all(ln[1] == ("26",) for ln in lines if ln[0] == "73590")


@pytest.mark.slow
@slow_scenarios
def test_corpus_new_or_established_agrees_with_the_history_the_note_prints(slug):
    for v in corpus(slug):
        em = [ln[0] for ln in v["lines"] if ln[0] in EM_OFFICE or ln[0][:4] in ("9938", "9939")]
        if not em:
            continue
        new = bool(re.search(r"New patient|First visit with us|long absence", v["note"]))
        assert (em[0] in rules.OFFICE_NEW or em[0].startswith("9938")) == new, (v["seed"], em, v["note"][:160])
        match = re.search(r"last seen in this practice (\d+/\d+/\d+)", v["note"])
        if match:
            seen = dt.datetime.strptime(match.group(1), "%m/%d/%Y").date()
            day = dt.date.fromisoformat(v["encounter"]["period"]["start"][:10])
            assert (day - seen).days > 3 * 365


@pytest.mark.slow
@slow_scenarios
def test_corpus_em_level_follows_the_documented_mdm(slug):
    """A chronic illness documented not at goal with its drug changed is at least moderate; a visit with one
    stable or minor problem, no tests and no prescription is at most low."""
    for v in corpus(slug):
        em = [ln[0] for ln in v["lines"] if ln[0] in EM_OFFICE]
        if not em:
            continue
        level = int(em[0][-1])
        note = v["note"]
        if re.search(r"— (not at goal|above goal|suboptimally controlled|not controlled)", note) and "Rx:" in note:
            assert level >= 4, (v["seed"], em)
        problems = note.split("\nA:\n")[1].split("\nP:")[0].count("\n") + 1
        timed = "Total time on the date" in note  # the level may be chosen by documented time
        if problems == 1 and not timed and "Results:" not in note and "Rx:" not in note and "Continue" not in note \
                and "Cont " not in note \
                and "Stay on" not in note and "continue" not in note and "Procedures:" not in note and "Ordered:" not in note:
            assert level <= 3, (v["seed"], em)


WITH_FINDINGS = {"Z00.01": "annual-wellness-adult", "Z00.121": "well-child"}


def _condition_of(code: str) -> set[str]:
    out = {WITH_FINDINGS[code]} if code in WITH_FINDINGS else set()
    for c in CAT.conditions.values():
        if any(code in var.codes for var in c.variants) or any(code in comb.codes for comb in c.combine) \
                or code[:-1] in c.by_trimester:
            out.add(c.key)
    return out


@pytest.mark.slow
@slow_scenarios
def test_corpus_services_point_to_the_diagnosis_that_justifies_them(slug):
    panel_service = {p.service: p.key for p in CAT.panels.values() if p.service}
    proc_service = {}
    for p in CAT.procedures.values():
        proc_service.setdefault(p.service, set()).add(p.key)
        if p.ed_service:
            proc_service.setdefault(p.ed_service, set()).add(p.key)
        if p.drug:
            proc_service.setdefault(p.drug, set()).add(p.key)
    repairs = {code for bands in rules_injury.REPAIRS.values() for _, code in bands} | {"G0168"}
    for v in corpus(slug):
        for code, _mods, pointers, _units in v["lines"]:
            assert pointers, (v["seed"], code)
            owners = set().union(*(_condition_of(p) for p in pointers))
            if code in repairs:
                assert any(CAT.procedures[p].repair or CAT.procedures[p].size[1] for k in owners
                           for p in CAT.conditions[k].procedures), (v["seed"], code, pointers)
            elif code in panel_service:
                assert any(panel_service[code] in CAT.conditions[k].panels for k in owners), (v["seed"], code, pointers)
            elif code in proc_service:
                assert any(proc_service[code] & set(CAT.conditions[k].procedures) for k in owners), (v["seed"], code, pointers)
            elif code == "36415":
                for p in pointers:
                    assert any(CAT.panels[panel].specimen == "blood" and not CAT.panels[panel].in_office
                               for k in _condition_of(p) for panel in CAT.conditions[k].panels), (v["seed"], pointers)


@pytest.mark.slow
@slow_scenarios
def test_corpus_z_codes_only_with_their_condition_and_preventive_codes_agree_with_findings(slug):
    for v in corpus(slug):
        codes_ = _codes(v)
        if "Z79.84" in codes_ or "Z79.4" in codes_:
            assert any(c.startswith("E11") for c in codes_)
        if "Z79.4" in codes_:
            assert not any(c.startswith("E10") for c in codes_), (v["seed"], codes_)  # I.C.4.a.3
        if "Z79.01" in codes_:
            assert "I48.0" in codes_
        if any(c.startswith("Z68") for c in codes_):
            assert "E66.9" in codes_
        services = [ln[0] for ln in v["lines"]]
        if "G0438" in services or "G0439" in services:
            assert "Health risk assessment completed" in v["note"]
        if codes_[0] in ("Z00.00", "Z00.01", "Z00.129", "Z00.121"):
            abnormal = "abnormal finding:" in v["note"]
            assert (codes_[0] in ("Z00.01", "Z00.121")) == abnormal, (v["seed"], codes_)
            bp = re.search(r"BP (\d+)/(\d+)", v["note"])
            if bp and (int(bp.group(1)) >= 140 or int(bp.group(2)) >= 90):
                assert codes_[0] == "Z00.01", (v["seed"], codes_, bp.group(0))


# ============================================================================ the notes read like a clinician's
@cache
def _titles() -> set[str]:
    import simple_icd_10_cm as icd

    return {_norm(icd.get_description(c)) for c in icd.get_all_codes(with_dots=True)}


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).split())


@pytest.mark.slow
@slow_scenarios
def test_fewer_than_5_percent_of_assessment_lines_are_icd10cm_titles(slug):
    titles = _titles()
    lines = 0
    hits = []
    for v in corpus(slug):
        assessment = v["note"].split("\nA:\n")[1].split("\nP:")[0]
        for ln in assessment.splitlines():
            name = re.sub(r"^\d+\. ", "", ln).split(" — ")[0]
            lines += 1
            if _norm(name) in titles:
                hits.append(name)
    assert lines > 400
    assert len(hits) / lines < 0.05, sorted(set(hits))


@pytest.mark.slow
@slow_scenarios
def test_no_two_visits_of_a_patient_share_a_note_paragraph(slug):
    sc = next(s for s in SCENARIOS if s.slug == slug)
    assert sc.copy_forward == 0
    seen: dict[tuple[int, str], set[str]] = {}
    for v in corpus(slug):
        mine = seen.setdefault((v["seed"], v["patient"]), set())
        for paragraph in v["note"].split("\n\n"):
            assert paragraph not in mine, (v["seed"], paragraph[:120])
            mine.add(paragraph)


def test_copy_forward_is_planted_only_when_the_scenario_asks():
    from simulator.generate.scenario import parse_scenario

    # By name: the scenario folder grows, and a scenario without a [messiness] table would plant nothing.
    plain = next(f for f in list_scenario_files() if f.stem == "clinic-chronic-care").read_text()
    assert "[messiness]" in plain

    def histories(text: str) -> list[str]:
        key = generate_case(parse_scenario(text, "copy.toml", "copy"), 3).key
        return [base64.b64decode(d["content"][0]["attachment"]["data"]).decode().split("\n\n")[0]
                for d in _resources(key, "DocumentReference")]

    copied = histories(plain.replace("[messiness]", "[messiness]\ncopy_forward = 1.0"))
    assert len(copied) >= 2 and copied[1] == copied[0]
    written = histories(plain)
    assert written[1] != written[0]


# ============================================================================ a coherent course
@pytest.mark.slow
@slow_scenarios
def test_corpus_clinical_course_is_coherent(slug):
    for v in corpus(slug):
        codes_, note = _codes(v), v["note"]
        day = dt.date.fromisoformat(v["encounter"]["period"]["start"][:10])
        # Exacerbations only of diseases on the history; influenza only in season.
        if "J44.1" in codes_:
            assert "J44.9" in v["problems"]
        if "J45.21" in codes_:
            assert "J45.20" in v["problems"]
        if "J11.1" in codes_:
            assert day.month in (10, 11, 12, 1, 2, 3, 4)
        # Every test mentioned has its result.
        if re.search(r"troponin", note, re.I):
            assert "Trop I" in note
        if re.search(r"x-ray|CXR|chest film", note, re.I):
            assert "my read" in note or "reviewed by me" in note
        # One exam does not say both "edema" and "no edema".
        exam = note.split("\n\n")[1]
        if re.search(r"\bNo (peripheral )?edema\b", exam):
            assert not re.search(r"(pitting|pedal|ankle|trace) edema|1\+ edema", exam, re.I), exam
        # Plans continue or change only drugs on the medication list.
        names = {m["medicationCodeableConcept"]["coding"][0]["display"] for m in v["meds"]}
        for drug in re.findall(r"(?:Continue|Cont|Stay on|continue|Increase|Add|add) ([a-z][a-z /()-]+?)(?: from)? \d", note):
            assert drug.strip() in names, (v["seed"], drug, names)


@pytest.mark.slow
def test_children_have_age_vitals_and_weight_based_doses():
    checked = 0
    for v in corpus("pediatric-clinic"):
        note = v["note"]
        bp = re.search(r"BP (\d+)/(\d+)", note)
        assert bp and int(bp.group(1)) <= 124, bp.group(0) if bp else note[:100]
        for rx in re.findall(r"(\S+) mL PO (BID|QD) x \d+ days \((\d+) mg/kg/day at ([\d.]+) kg(, capped at (\d+) mg/day)?\)", note):
            ml, freq, per_kg, kg, capped, cap = rx
            per_day = {"BID": 2, "QD": 1}[freq]
            daily_mg = float(ml) * per_day * (80 if per_kg in ("50", "90") else 40 if per_kg == "12" else 6)
            expected = min(float(per_kg) * float(kg), float(cap) if capped else 1e9)
            assert abs(daily_mg - expected) <= per_day * 0.25 * 80 + 1, rx
            checked += 1
        assert "lisinopril (" not in note  # no ACE-inhibitor allergy before adulthood
    assert checked > 50


# ============================================================================ through the real grader
def test_a_student_who_codes_what_the_note_supports_gets_full_coding_credit():
    """The key's required codes, with or without its optional ones, score 100 on coding; facility items
    on an ED claim cost points."""
    from grading import grade, parse_rubric

    rubric = parse_rubric("[sections.coding]\npoints = 100\n" + "".join(
        f"[sections.{s}]\npoints = 0\n" for s in ("demographics", "encounters", "problem_list", "medications",
                                                  "allergies", "vitals", "labs", "procedures", "notes")))
    for sc in SCENARIOS:
        for seed in range(8):
            key = generate_case(sc, 90_000 + seed).key
            for keep_optional in (False, True):
                sub = json.loads(json.dumps(key))
                for e in sub["entry"]:
                    r = e["resource"]
                    if r["resourceType"] == "Claim" and not keep_optional:
                        kept = [d for d in r["diagnosis"] if "extension" not in d]
                        renumber = {d["sequence"]: n for n, d in enumerate(kept, start=1)}
                        for n, d in enumerate(kept, start=1):
                            d["sequence"] = n
                        r["diagnosis"] = kept
                        for item in r["item"]:
                            item["diagnosisSequence"] = [renumber[s] for s in item["diagnosisSequence"] if s in renumber]
                report = grade(key, sub, rubric)
                assert report.score == 100.0, (sc.slug, seed, [f.message for f in report.findings])
    ed = generate_case(next(s for s in SCENARIOS if s.setting == "emergency"), 1).key
    sub = json.loads(json.dumps(ed))
    claim = next(e["resource"] for e in sub["entry"] if e["resource"]["resourceType"] == "Claim")
    claim["item"].append({"sequence": 99, "productOrService": {"coding": [{"system": "http://www.ama-assn.org/go/cpt",
                                                                           "code": "36415"}]}, "quantity": {"value": 1},
                          "diagnosisSequence": [1]})
    assert grade(ed, sub, rubric).score < 100


def test_the_superbill_shows_the_providers_em_level_only_when_the_scenario_says_so():
    from simulator.chart import render_chart_html

    shown = render_chart_html(generate_case(load_scenario("clinic-chronic-care"), 5))
    hidden = render_chart_html(generate_case(load_scenario("acute-office-visits"), 5))
    assert "(provider&#x27;s choice)" in shown or "(provider's choice)" in shown
    assert "provider's choice" not in hidden and "provider&#x27;s choice" not in hidden
    for markup in (shown, hidden):
        for superbill in re.findall(r"class='superbill'>(.*?)</section>", markup, re.S):
            assert not re.search(r"\b9921[2-5]\b|\b9920[2-5]\b|Encounter for|unspecified", superbill)


def test_a_waived_test_in_the_office_carries_qw_for_medicare_only():
    """CMS CLIA-waived tests: Medicare wants QW on a waived test (83036 with a waived analyser) unless the code is
    on its exempt list (81002, 82962…); other payers here do not."""
    def poc(medicare: bool) -> list[tuple[str, tuple[str, ...]]]:
        f = facts(problem("type2-diabetes"), medicare=medicare, age=70 if medicare else 50,
                  panels=(Collected("a1c-poc", "type2-diabetes"), Collected("urine-dip", "type2-diabetes")))
        return [(ln.code, ln.modifiers) for ln in rules.code_visit(f, CAT).services if ln.code in ("83036", "81002")]
    assert poc(True) == [("83036", ("QW",)), ("81002", ())]
    assert poc(False) == [("83036", ()), ("81002", ())]
