"""The coding rules: the documented clinical facts of one visit -> the claim a certified coder would submit.

This is the one place that knows the coding conventions. The generator decides what happened at a
visit (``VisitFacts``); ``code_visit`` turns those facts into the answer key's diagnoses (ICD-10-CM,
in sequence, optional codes marked) and service lines (CPT/HCPCS with units, modifiers and diagnosis
pointers). Each rule is a small function that cites the guideline it applies; instructional notes
come from the Tabular itself (``simulator.coding.tabular``), clinical specifics from the catalog.

References: ICD-10-CM Official Guidelines for Coding and Reporting (FY2026), Sections I and IV;
CPT Evaluation and Management Services Guidelines (office 2021, emergency department 2023);
the CMS NCCI Policy Manual (Chapter I, Chapter XI) and the Medicare Claims Processing Manual
(Chapter 12 for physicians' services, Chapter 18 for preventive services).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Literal

from simulator.clinical import Catalog, Condition, bmi_code
from simulator.coding import rules_injury, rules_office, rules_outpatient, tabular

Setting = Literal["office", "emergency"]
# How a documented problem weighs in medical decision making (CPT E/M guidelines, "Number and
# complexity of problems addressed"): the generator sets it from the catalog and the visit.
ProblemType = Literal["minor", "acute", "chronic-stable", "chronic-not-at-goal", "acute-systemic",
                      "injury-complicated", "undiagnosed", "threat", "preventive"]
Role = Literal["reason", "addressed", "coexisting"]
LEVELS = ("straightforward", "low", "moderate", "high")
OFFICE_NEW = ("99202", "99203", "99204", "99205")
OFFICE_ESTABLISHED = ("99212", "99213", "99214", "99215")
EMERGENCY = ("99282", "99283", "99284", "99285")
THREE_YEARS = 3


@dataclass(frozen=True)
class Problem:
    """A condition documented in the assessment (or, for ``coexisting``, in the history and A/P)."""

    condition: Condition
    codes: tuple[str, ...]  # the variant's codes (laterality, stage) before any combination
    text: str  # the clinician's words for it, as the note's assessment line reads
    role: Role = "addressed"
    kind: ProblemType = "acute"


@dataclass(frozen=True)
class ExternalCause:
    """A documented external cause of an injury (Chapter 20): how, doing what, where, and status."""

    code: str
    text: str


@dataclass(frozen=True)
class Performed:
    """A procedure done at the visit (catalog key) and the condition it was done for."""

    procedure: str
    for_condition: str
    side: str = ""  # right / left: the side of the condition it treats (RT/LT)
    length: float = 0.0  # a repair: the documented wound length (cm)
    minutes: int = 0  # an infusion's documented running time


@dataclass(frozen=True)
class Collected:
    """A lab panel collected or run at the visit and the condition it was ordered for."""

    panel: str
    for_condition: str


@dataclass(frozen=True)
class LongTermDrug:
    code: str  # Z79.x
    drug: str
    for_condition: str


@dataclass(frozen=True)
class VisitFacts:
    """What the note documents about one visit: everything the coding rules may read."""

    setting: Setting
    preventive: bool
    date: dt.date
    age: int
    last_seen: dt.date | None  # last professional service by this practice (same group, same specialty)
    problems: tuple[Problem, ...]  # in the order the note gives them, the reason for the visit first
    external_causes: tuple[ExternalCause, ...] = ()
    tobacco: Literal["never", "former", "current", "unknown"] = "unknown"
    long_term_drugs: tuple[LongTermDrug, ...] = ()
    bmi: float | None = None
    procedures: tuple[Performed, ...] = ()
    panels: tuple[Collected, ...] = ()
    prescription_management: bool = False  # a prescription drug started, continued, changed or stopped
    otc_drugs: bool = False
    independent_historian: bool = False
    external_notes_reviewed: int = 0
    independent_interpretations: int = 0  # tests interpreted by this physician but billed by another
    hospitalization_decision: bool = False
    medicare: bool = False
    awv_elements: bool = False  # health risk assessment, cognition, function/safety, written screening plan
    prior_awv: dt.date | None = None
    abnormal_findings: bool = False  # a preventive exam found something abnormal (coded among the problems)
    total_minutes: int = 0  # total time on the date the note documents (0: not documented)
    vaccine_counseling: bool = False  # the physician documents counseling on each vaccine given
    gestation_days: int | None = None  # a pregnant patient: days since the last menstrual period
    birth_date: dt.date | None = None  # for a newborn's age in days
    critical_care_minutes: int = 0  # documented critical care time, excluding separately billed procedures
    burn_tbsa: float = 0.0  # burns: documented percent of total body surface area
    burn_third_degree: float = 0.0  # burns: the part of it that is third degree (percent of the body surface)
    global_ends: dt.date | None = None  # last day of the global period of a procedure done for the injury followed up
    global_for: str = ""  # the condition (catalog key) this visit follows up inside that global period


@dataclass(frozen=True)
class CodingPolicy:
    """Where the rules leave a choice, the scenario decides (``[coding]`` in a scenario file)."""

    external_causes: Literal["optional", "required"] = "optional"
    em_basis: Literal["mdm", "time", "higher"] = "mdm"  # office E/M level by MDM, or by documented time
    g2211: Literal["never", "medicare", "all"] = "never"  # which payers take the visit-complexity add-on
    time_documented: float = 0.0  # share of office visits whose note documents the total time on the date
    distinct_modifier: Literal["59", "XS"] = "59"  # a distinct procedure the same day (NCCI Ch. I §E)


@dataclass
class Diagnosis:
    code: str
    title: str  # official ICD-10-CM title
    text: str  # the clinician's words
    condition: str  # catalog key ("" for a code a rule adds: Z79, Z68, Z87.891, external causes)
    optional: bool = False


@dataclass
class ServiceLine:
    code: str
    units: int = 1
    modifiers: tuple[str, ...] = ()
    diagnosis_codes: tuple[str, ...] = ()
    text: str = ""  # the service in the provider's words (the superbill's checkbox label)


@dataclass(frozen=True)
class Mdm:
    problems: int
    data: int
    risk: int

    @property
    def level(self) -> int:
        """Two of the three elements must meet or exceed a level: the middle of the three."""
        return sorted((self.problems, self.data, self.risk))[1]


@dataclass
class CodedVisit:
    diagnoses: list[Diagnosis] = field(default_factory=list)
    services: list[ServiceLine] = field(default_factory=list)
    mdm: Mdm | None = None
    patient_status: Literal["new", "established"] = "established"


# ====================================================================================== diagnoses
def combined_codes(problem: Problem, others: tuple[Problem, ...]) -> tuple[str, ...]:
    """The "with" convention and combination codes (Guidelines I.A.15, I.B.9; diabetes I.C.4.a,
    hypertension with CKD / heart disease I.C.9.a.1-2): when the Index links two documented
    conditions by "with", the link is presumed and the combination code replaces the single one.
    Which pairs combine is catalog data (``combine``: with a condition tagged X, use these codes)."""
    tags = {t for o in others if o is not problem for t in o.condition.tags}
    for comb in problem.condition.combine:
        if set(comb.with_tag.split("+")) <= tags:  # "ckd+heart-failure": all of them (I13, I.C.9.a.3)
            return problem.codes + comb.codes if comb.keep else comb.codes
    return problem.codes


def is_unspecified(title: str) -> bool:
    low = title.lower()
    return "unspecified" in low or "without complications" in low or "uncomplicated" in low


def drop_redundant(dx: list[Diagnosis]) -> list[Diagnosis]:
    """No unspecified code beside a specific one for the same condition (Guidelines I.A.9 "Other and
    Unspecified codes", I.B.9 combination codes): J44.9 goes when J44.1 is coded, E11.9 when E11.22 is."""
    out = []
    for d in dx:
        same_category = [o for o in dx if o is not d and o.code[:3] == d.code[:3]]
        if same_category and is_unspecified(d.title) and any(not is_unspecified(o.title) for o in same_category):
            continue
        out.append(d)
    return out


def sequence(dx: list[Diagnosis]) -> list[Diagnosis]:
    """First-listed is the reason for the visit (Section IV.A, IV.G); the Tabular's "code first" and
    "use additional code" notes then fix the order of the pairs they name (I.A.13, I.B.7): I12.9 before
    N18.31, I11.0 before I50.22, E11.22 before N18.31. External causes never come first (I.C.20.a)."""
    order = list(dx)
    for _ in range(len(order) ** 2 + 1):
        moved = False
        for i in range(len(order)):
            for j in range(i + 1, len(order)):
                if tabular.must_precede(order[j].code, order[i].code):
                    order.insert(i, order.pop(j))
                    moved = True
                    break
            if moved:
                break
        if not moved:
            break
    return [d for d in order if not _chapter20(d.code)] + [d for d in order if _chapter20(d.code)]


def _chapter20(code: str) -> bool:
    return code[:1] in "VWXY"


def external_cause_codes(facts: VisitFacts, coded: list[str], policy: CodingPolicy) -> list[tuple[str, str, bool]]:
    """Chapter 19's note "use secondary code(s) from Chapter 20" (Guidelines I.C.19, I.C.20): cause,
    activity, place and status as documented. There is no national requirement to report them
    (I.C.20 introduction), so the key carries them optional unless the scenario requires them.
    Place (Y92) and status (Y99) are reported once, at the initial encounter (I.C.20.b, I.C.20.k)."""
    if not any(tabular.needs_external_cause(c) for c in coded):
        return []
    out, seen_heads = [], set()
    for cause in facts.external_causes:
        head = cause.code[:3]
        if head in ("Y92", "Y99") and head in seen_heads:
            continue
        seen_heads.add(head)
        out.append((cause.code, cause.text, policy.external_causes == "optional"))
    return out


def tobacco_code(facts: VisitFacts, coded: list[str]) -> tuple[str, bool] | None:
    """``coded``: the required diagnosis codes of the claim."""
    """A documented former smoker gets Z87.891, history of nicotine dependence (I.C.21.c.4). Required
    when a coded diagnosis's "use additional code" note asks for it (I10, J44: Tabular), else optional."""
    if facts.tobacco != "former":
        return None
    return "Z87.891", not any(tabular.asks_for(c, "Z87.891") for c in coded)


def long_term_drug_codes(facts: VisitFacts, coded: dict[str, str], optional: set[str] = frozenset()  # type: ignore[assignment]
                         ) -> list[tuple[str, str, bool]]:
    """Z79 long-term (current) drug therapy, only for a drug treating a condition coded at this visit
    (I.C.21.c.3; diabetes: I.C.4.a.3, insulin and oral drugs both coded). Required when the coded
    condition's "use additional code" note names it (E11 -> Z79.4, Z79.84), optional otherwise."""
    out = []
    for drug in facts.long_term_drugs:
        owner = coded.get(drug.for_condition)
        if owner is None or not rules_outpatient.long_term_drug_applies(owner, drug.code):
            continue
        out.append((drug.code, f"Long-term use of {drug.drug}", owner in optional or not tabular.asks_for(owner, drug.code)))
    return out


def diagnoses(facts: VisitFacts, cat: Catalog, policy: CodingPolicy) -> list[Diagnosis]:
    dx: list[Diagnosis] = []
    first_code_of: dict[str, str] = {}

    def add(code: str, text: str, condition: str, optional: bool = False) -> None:
        if all(d.code != code for d in dx):
            dx.append(Diagnosis(code, cat.icd10cm_titles[code], text, condition, optional))

    for p in _documented_order(facts):
        codes = rules_office.trimester_codes(p.condition, combined_codes(p, facts.problems), facts.gestation_days)
        codes = rules_office.newborn_exam_codes(p.condition, codes, rules_office.age_in_days(facts))
        first_code_of.setdefault(p.condition.key, codes[0])
        for code in codes:
            add(code, p.text, p.condition.key)
    if facts.preventive:
        dx = _preventive_diagnoses(facts, dx, cat)
    dx = drop_redundant(dx)
    dropped = rules_outpatient.substance_hierarchy([d.code for d in dx])
    dx = [d for d in dx if d.code not in dropped]
    superseded = rules_office.superseded_supervision([d.code for d in dx])
    dx = [d for d in dx if d.code not in superseded]
    first_code_of = {k: v for k, v in first_code_of.items() if any(d.code == v for d in dx)}
    extent = rules_injury.burn_extent(facts)
    if extent:
        add(extent, f"TBSA {facts.burn_tbsa:g}%", "")
    coded = [d.code for d in dx if not d.optional]
    optional_codes = {d.code for d in dx if d.optional}
    for code, text, optional in long_term_drug_codes(facts, first_code_of, optional_codes):
        add(code, text, "", optional)
    # BMI only with an associated reportable diagnosis such as obesity (I.B.14, I.C.21.c.3): optional
    # when that diagnosis is.
    owners = [d for d in dx if d.condition and any(p.condition.bmi_code and p.condition.key == d.condition
                                                   for p in facts.problems)]
    if facts.bmi is not None and owners:
        z68 = bmi_code(facts.bmi)
        if z68:
            add(z68, f"BMI {facts.bmi}", "", all(d.optional for d in owners))
    tobacco = tobacco_code(facts, coded)
    if tobacco:
        add(tobacco[0], "Former smoker", "", tobacco[1])
    weeks = rules_office.weeks_of_gestation(facts, coded, [d.code for d in dx])
    if weeks:
        add(*weeks[:2], "", weeks[2])
    for code, text, optional in rules_injury.encounter_causes(external_cause_codes(facts, coded, policy), coded):
        add(code, text, "", optional)
    if facts.problems:
        dx = rules_injury.order_reason(dx, _documented_order(facts)[0].condition.key)
    return sequence(dx)


def _documented_order(facts: VisitFacts) -> list[Problem]:
    """The reason for the visit first, then problems addressed, then coexisting conditions that affect
    care (Section IV.A, IV.J)."""
    rank = {"reason": 0, "addressed": 1, "coexisting": 2}
    return sorted(facts.problems, key=lambda p: rank[p.role])


def _preventive_diagnoses(facts: VisitFacts, dx: list[Diagnosis], cat: Catalog) -> list[Diagnosis]:
    """Routine examinations "with" or "without abnormal findings" (I.C.21.c.13, Section IV.P): with
    findings, the exam code stays first-listed and the findings follow. Chronic conditions merely
    listed as stable at a checkup are optional."""
    exam = dx[0]
    with_findings = {"Z00.00": "Z00.01", "Z00.129": "Z00.121"}
    if facts.abnormal_findings and exam.code in with_findings:
        code = with_findings[exam.code]
        exam = Diagnosis(code, cat.icd10cm_titles[code], exam.text, exam.condition)
    rest = []
    for d in dx[1:]:
        kind = next((p.kind for p in facts.problems if p.condition.key == d.condition), "chronic-stable")
        rest.append(replace(d, optional=kind == "chronic-stable"))
    return [exam] + rest


# ====================================================================================== E/M
def patient_status(visit: dt.date, last_seen: dt.date | None) -> Literal["new", "established"]:
    """New patient: no professional service from this physician or one of the same specialty in the
    same group within the past three years (CPT E/M guidelines, "New and Established Patients")."""
    if last_seen is None:
        return "new"
    try:
        limit = visit.replace(year=visit.year - THREE_YEARS)
    except ValueError:  # 29 February
        limit = visit.replace(year=visit.year - THREE_YEARS, day=28)
    return "new" if last_seen < limit else "established"


PROBLEM_LEVEL = {"minor": 0, "acute": 1, "chronic-stable": 1, "chronic-not-at-goal": 2, "acute-systemic": 2,
                 "injury-complicated": 2, "undiagnosed": 2, "threat": 3, "preventive": 0}


def problems_level(facts: VisitFacts) -> int:
    """Number and complexity of problems addressed (CPT 2021 MDM table). Coexisting conditions only
    noted, not managed, are not problems addressed."""
    kinds = [p.kind for p in facts.problems if p.role != "coexisting"]
    level = max((PROBLEM_LEVEL[k] for k in kinds), default=0)
    if kinds.count("minor") >= 2:
        level = max(level, 1)
    if kinds.count("chronic-stable") >= 2:
        level = max(level, 2)
    return level


def data_level(facts: VisitFacts, cat: Catalog) -> int:
    """Amount and complexity of data (CPT 2021 MDM table). Each unique test ordered counts once (its
    review is part of the order); a test whose interpretation this physician reports (ECG 93000/93010,
    a global x-ray, spirometry) does not count (CPT: "ordering and interpretation ... reported separately")."""
    billed_here = {p.procedure for p in facts.procedures if _billed_by(cat, p.procedure, facts.setting)}
    tests = {c.panel for c in facts.panels}
    tests |= {p.procedure for p in facts.procedures
              if cat.procedures[p.procedure].test and p.procedure not in billed_here}
    items = len(tests) + facts.external_notes_reviewed
    categories = [items + facts.independent_historian >= 3, facts.independent_interpretations > 0]
    if sum(categories) >= 2:
        return 3
    if any(categories):
        return 2
    if items >= 2 or facts.independent_historian:
        return 1
    return 0


def risk_level(facts: VisitFacts, cat: Catalog) -> int:
    """Risk of complications of patient management (CPT 2021 MDM table): OTC drugs or minor surgery
    low; prescription drug management moderate; a decision about hospitalization high."""
    if facts.hospitalization_decision:
        return 3
    if facts.prescription_management:
        return 2
    if facts.otc_drugs or any(cat.services[cat.procedures[p.procedure].service].global_days is not None
                              for p in facts.procedures):
        return 1
    return 0


def medical_decision_making(facts: VisitFacts, cat: Catalog) -> Mdm:
    return Mdm(problems_level(facts), data_level(facts, cat), risk_level(facts, cat))


def em_code(setting: Setting, status: str, level: int) -> str:
    """Office 99202-99205 / 99212-99215 by MDM (CPT 2021); ED 99282-99285 by MDM (CPT 2023), no
    new/established distinction in the emergency department."""
    if setting == "emergency":
        return EMERGENCY[level]
    return (OFFICE_NEW if status == "new" else OFFICE_ESTABLISHED)[level]


def preventive_code(age: int, status: str, medicare: bool, awv_elements: bool, prior_awv: dt.date | None,
                    day: dt.date) -> str:
    """Medicare's annual wellness visit (G0438 first, G0439 subsequent, 12 months after the last) only
    when the note documents its elements (42 CFR 410.15; Claims Processing Manual Ch. 18 §140);
    otherwise the age-banded preventive medicine code, new or established (CPT 99381-99397)."""
    if medicare and awv_elements:
        return "G0439" if prior_awv is not None and (day - prior_awv).days > 365 else "G0438"
    bands = ((0, 0, "1"), (1, 4, "2"), (5, 11, "3"), (12, 17, "4"), (18, 39, "5"), (40, 64, "6"), (65, 200, "7"))
    digit = next(d for lo, hi, d in bands if lo <= age <= hi)
    return f"99{'38' if status == 'new' else '39'}{digit}"


# ====================================================================================== services
def _billed_by(cat: Catalog, procedure: str, setting: Setting) -> str:
    """The code the treating physician reports for a procedure: in the office the practice owns the
    equipment and staff and reports the global service, drug and administration; in the emergency
    department the hospital reports those (facility claim) and the physician only what they performed
    or interpreted: e.g. ECG interpretation 93010 (CPT professional services; Claims Processing
    Manual Ch. 12 §20.4.2 and §30.6.1; NCCI Policy Manual Ch. I §C)."""
    proc = cat.procedures[procedure]
    return proc.service if setting == "office" else proc.ed_service


def _pointers(codes: list[str], wanted: list[str]) -> tuple[str, ...]:
    """Up to four diagnosis pointers per line, to the diagnoses that justify it (CMS-1500 item 24E)."""
    return tuple(c for c in codes if c in wanted)[:4] or tuple(codes[:1])


def dx_codes(dx: list[Diagnosis]) -> list[tuple[str, str]]:
    return [(d.condition, d.code) for d in dx]


def services(facts: VisitFacts, dx: list[Diagnosis], cat: Catalog, mdm: Mdm, status: str,
             policy: CodingPolicy | None = None) -> list[ServiceLine]:
    policy = policy or CodingPolicy()
    coded = [d.code for d in dx]
    required = [d.code for d in dx if not d.optional]
    code_of = {d.condition: d.code for d in reversed(dx) if d.condition}
    lines: list[ServiceLine] = []
    vaccines, infusions = [], []
    for perf in facts.procedures:
        proc = cat.procedures[perf.procedure]
        code = _billed_by(cat, perf.procedure, facts.setting)
        if not code or proc.repair:
            continue
        why = _pointers(coded, [rules_office.finding_at_checkup(perf.for_condition, dx_codes(dx))
                                or code_of.get(perf.for_condition, "")])
        sided = rules_injury.side_modifier(perf.side) if proc.sided else ()
        if facts.setting == "emergency" and proc.ed_modifier:
            sided = (proc.ed_modifier, *sided)  # the professional component only (CPT modifier 26)
        if proc.components:  # a vaccine: administration coded for all vaccines together, pointing to Z23 (I.C.21.c.2)
            why = _pointers(coded, ["Z23"])
            vaccines.append((proc, why))
        elif proc.infusion and facts.setting == "office":
            if proc.infusion == "hydration":  # IV fluids are for the volume depletion documented (E86.-)
                why = _pointers(coded, [c for c in coded if c.startswith("E86")] or list(why))
            infusions.append((proc, why, perf.minutes))
        else:
            for billed in rules_outpatient.payer_codes(proc, code, facts.medicare):
                lines.append(ServiceLine(billed, 1, sided, why, proc.name if code == proc.service else proc.ed_words))
        if proc.drug and facts.setting == "office":
            lines.append(ServiceLine(proc.drug, proc.units, (), why, proc.name))
        if proc.add_on and code == proc.service:  # e.g. 17003 per lesion after the first (CPT add-on codes)
            lines.append(ServiceLine(proc.add_on, proc.add_on_units, (), why, f"{proc.name}, additional lesions"))
    lines = rules_outpatient.infusion_lines(infusions) + rules_outpatient.immunization_administration(facts, vaccines) + lines
    lines += rules_injury.repair_lines(facts, cat, lambda key: _pointers(coded, [code_of.get(key, "")]),
                                       policy.distinct_modifier, coded)
    if facts.setting == "office":
        lines += _lab_lines(facts, cat, coded, code_of)
    critical = rules_injury.critical_care_lines(facts, tuple(d for d in required if d in code_of.values())[:4])
    em, by_time = (None, False) if critical else _em_line(facts, cat, mdm, status, required,
                                                          {d.code for d in dx if d.condition}, lines, policy)
    em = rules_injury.global_period_visit(facts, em, code_of)
    if em is None:
        return critical + lines
    add_ons = [] if em.code == "99024" else rules_outpatient.em_add_ons(facts, cat, policy, em, by_time, lines)
    return critical + [em] + add_ons + lines


def _lab_lines(facts: VisitFacts, cat: Catalog, coded: list[str], code_of: dict[str, str]) -> list[ServiceLine]:
    """In-office (waived) tests are reported by the practice; specimens sent to a reference lab are
    billed by the lab, the practice reports the venipuncture 36415 once per visit, pointing to the
    diagnoses the drawn tests were for (NCCI Policy Manual Ch. X; CMS-1500 item 24E)."""
    lines, drawn_for = [], []
    for c in facts.panels:
        panel = cat.panels[c.panel]
        why = _pointers(coded, [code_of.get(c.for_condition, "")])
        if panel.in_office and panel.service:
            # Medicare: a CLIA-waived test done in the office carries QW unless CMS exempts it (81002, 82962…)
            qw = ("QW",) if facts.medicare and cat.services[panel.service].waived_qw else ()
            lines.append(ServiceLine(panel.service, 1, qw, why, panel.name))
        elif panel.specimen == "blood":
            drawn_for += [w for w in why if w not in drawn_for]
    if drawn_for:
        lines.append(ServiceLine("36415", 1, (), tuple(drawn_for[:4]), "Venipuncture"))
    return lines


def _em_line(facts: VisitFacts, cat: Catalog, mdm: Mdm, status: str, required: list[str], conditions: set[str],
             others: list[ServiceLine], policy: CodingPolicy) -> tuple[ServiceLine | None, bool]:
    """The visit's E/M line, with modifier 25 where NCCI requires it, or none at all when the visit
    was only the decision to do a minor procedure (Claims Processing Manual Ch. 12 §40.1.C and §30.6.6;
    NCCI Policy Manual Ch. I §D and Ch. XI §A; CPT Appendix A, modifier 25)."""
    antepartum = rules_office.routine_antepartum(facts)
    if antepartum:
        return ServiceLine(antepartum[0], 1, (), tuple(required[:1]), antepartum[1]), False
    if facts.preventive:
        code = preventive_code(facts.age, status, facts.medicare, facts.awv_elements, facts.prior_awv, facts.date)
        words = "Annual wellness visit" if code.startswith("G") else "Preventive visit"
        return ServiceLine(code, 1, (), tuple(required[:1]), words), False
    if rules_outpatient.immunization_only(facts):
        return None, False
    minor = [p for p in facts.procedures if cat.services.get(_billed_by(cat, p.procedure, facts.setting) or "")
             and cat.services[_billed_by(cat, p.procedure, facts.setting)].global_days is not None]
    managed = [p for p in facts.problems if p.role != "coexisting"]
    if minor and all(p.condition.key in {m.for_condition for m in minor} and not p.condition.separate_em
                     for p in managed):
        return None, False  # the evaluation was the decision for the minor procedure: included in it
    level, by_time = rules_outpatient.em_level(facts, policy, status, mdm.level)
    code = em_code(facts.setting, status, level)
    documented = [d for d in required if d in conditions] or required
    needs_25 = any(cat.services[ln.code].em_modifier == "25" for ln in others if ln.code in cat.services)
    words = "ED visit" if facts.setting == "emergency" else f"Office visit, {status} patient"
    return ServiceLine(code, 1, ("25",) if needs_25 else (), tuple(documented[:4]), words), by_time


# ====================================================================================== the claim
def code_visit(facts: VisitFacts, cat: Catalog, policy: CodingPolicy | None = None) -> CodedVisit:
    """The whole claim for one visit from its documented facts."""
    policy = policy or CodingPolicy()
    dx = diagnoses(facts, cat, policy)
    status = patient_status(facts.date, facts.last_seen)
    mdm = medical_decision_making(facts, cat)
    return CodedVisit(dx, services(facts, dx, cat, mdm, status, policy), mdm, status)
