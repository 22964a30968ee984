"""Coding rules of area C (issue #17): diabetes, substance use, immunizations and the E/M extras.

Pure functions over the documented facts of one visit and the catalog, called from ``rules.py``. Each
cites its source: the ICD-10-CM Official Guidelines for Coding and Reporting (FY2026), the CPT
immunization-administration and E/M guidelines (codes and our own words only), and the CMS rules for
Medicare claims (Physician Fee Schedule final rules, Claims Processing Manual).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.clinical import Catalog, Procedure
    from simulator.coding.rules import CodingPolicy, ServiceLine, VisitFacts

# Vaccine administration: CPT 90460/90461 (under 19, counselled by the physician), 90471/90472, and
# Medicare Part B's own codes for influenza (G0008) and pneumococcal (G0009) vaccine.
IMMUNIZATION_ADMIN = frozenset({"90460", "90461", "90471", "90472", "G0008", "G0009"})
# Medicare Part B preventive services that may carry modifier 25's reason without blocking G2211.
PART_B_PREVENTIVE = frozenset({"G0008", "G0009", "G0442", "G0443", "G0444", "G0438", "G0439"})
OFFICE_EM = frozenset({"99202", "99203", "99204", "99205", "99212", "99213", "99214", "99215"})
# CPT 2021 office E/M by total time on the date (2024 wording: "must be met or exceeded"), straightforward..high.
TIME_NEW = (15, 30, 45, 60)
TIME_ESTABLISHED = (10, 20, 30, 40)
# Prolonged services start: CPT 99417 at 15 minutes past the level-5 minimum; Medicare's G2212 at 15 minutes
# past the end of the level-5 time range (CY2021 PFS final rule; CMS MLN "Evaluation and Management Services").
PROLONGED_CPT = {"99205": 75, "99215": 55}
PROLONGED_MEDICARE = {"99205": 89, "99215": 69}
SUBSTANCE_CATEGORIES = frozenset({"F10", "F11", "F12", "F13", "F14", "F15", "F16", "F18", "F19"})
SUBSTANCE_RANK = {"9": 0, "1": 1, "2": 2}  # 4th character: use, abuse, dependence


# ====================================================================================== diagnoses
def long_term_drug_applies(owner_code: str, drug_code: str) -> bool:
    """Z79.4, long-term use of insulin, is not assigned for type 1 diabetes: insulin is inherent to
    it (Guidelines I.C.4.a.3). With type 2 on insulin and oral drugs both Z79.4 and Z79.84 are coded."""
    return not (drug_code == "Z79.4" and owner_code.startswith("E10"))


def substance_hierarchy(codes: list[str]) -> set[str]:
    """The codes to drop under the psychoactive-substance hierarchy (Guidelines I.C.5.b.2): when use,
    abuse and dependence of the same substance are documented, only the highest is coded — abuse over
    use, dependence over abuse and use. Remission (F1x.11, F1x.21) is coded as the provider documents
    it (I.C.5.b.1) and ranks with its own abuse or dependence."""
    best: dict[str, int] = {}
    for code in codes:
        if code[:3] in SUBSTANCE_CATEGORIES and len(code) > 4:
            best[code[:3]] = max(best.get(code[:3], -1), SUBSTANCE_RANK.get(code[4], -1))
    return {c for c in codes if c[:3] in best and len(c) > 4 and SUBSTANCE_RANK.get(c[4], -1) < best[c[:3]]}


# ====================================================================================== services
def payer_codes(proc: Procedure, code: str, medicare: bool) -> tuple[str, ...]:
    """Medicare is billed its own HCPCS codes for some services: annual alcohol misuse screening G0442
    and brief counseling G0443 instead of CPT 99408 (NCD 210.8; Claims Processing Manual Ch. 18 §180)."""
    return proc.medicare if medicare and proc.medicare and code == proc.service else (code,)


def immunization_administration(facts: VisitFacts, vaccines: list[tuple[Procedure, tuple[str, ...]]]
                                ) -> list[ServiceLine]:
    """The administration lines for the vaccines given (the product codes are billed beside them, and
    the diagnosis is Z23, Guidelines I.C.21.c.2): under 19 with the physician's counseling documented,
    CPT 90460 per vaccine and 90461 per further antigen component; otherwise 90471 for the first
    vaccine and 90472 for each further one (CPT immunization administration guidelines). Medicare
    Part B pays influenza and pneumococcal vaccine administration as G0008 / G0009 (Claims Processing
    Manual Ch. 18 §10.2)."""
    from simulator.coding.rules import ServiceLine

    out: list[ServiceLine] = []
    rest = []
    for proc, why in vaccines:
        if facts.medicare and proc.medicare:
            out.append(ServiceLine(proc.medicare[0], 1, (), why, f"{proc.name}: administration"))
        else:
            rest.append((proc, why))
    if not rest:
        return out
    why = tuple(dict.fromkeys(w for _, ws in rest for w in ws))[:4]
    if facts.age < 19 and facts.vaccine_counseling:
        out.append(ServiceLine("90460", len(rest), (), why, "Vaccine counseling and administration, each vaccine"))
        extra = sum(max(0, proc.components - 1) for proc, _ in rest)
        if extra:
            out.append(ServiceLine("90461", extra, (), why, "Vaccine counseling, each further component"))
    else:
        out.append(ServiceLine("90471", 1, (), why, "Vaccine administration, first"))
        if len(rest) > 1:
            out.append(ServiceLine("90472", len(rest) - 1, (), why, "Vaccine administration, each further"))
    return out


def _added_hours(minutes: int) -> int:
    """Units of an "each additional hour" code: one per hour begun, once more than 30 minutes into it (CPT)."""
    units = 0
    while minutes > 30:
        units, minutes = units + 1, minutes - 60
    return units


def infusion_lines(infusions: list[tuple[Procedure, tuple[str, ...], int]]) -> list[ServiceLine]:
    """IV infusions given in the office by the physician's staff, coded by their documented running time
    and the CPT hierarchy (CPT "Hydration, Therapeutic, Prophylactic, Diagnostic Injections and Infusions"
    guidelines; NCCI Policy Manual Ch. XI §C): one initial service per encounter — in the physician's
    office the primary reason for the visit, here the therapeutic infusion (96365, over 15 minutes, 96366
    for each further hour) before hydration; hydration alone is 96360 (over 30 minutes) + 96361, and
    hydration after another initial service is 96361 only, each hour once more than 30 minutes."""
    from simulator.coding.rules import ServiceLine

    out: list[ServiceLine] = []
    initial_taken = False
    ordered = sorted(infusions, key=lambda item: item[0].infusion != "therapeutic")
    for proc, why, minutes in ordered:
        if proc.infusion == "therapeutic" and minutes > 15 and not initial_taken:
            out.append(ServiceLine("96365", 1, (), why, proc.name))
            extra, add_on = _added_hours(minutes - 60), "96366"
            initial_taken = True
        elif proc.infusion == "hydration" and not initial_taken and minutes > 30:
            out.append(ServiceLine("96360", 1, (), why, proc.name))
            extra, add_on = _added_hours(minutes - 60), "96361"
            initial_taken = True
        else:
            extra, add_on = _added_hours(minutes), "96366" if proc.infusion == "therapeutic" else "96361"
        if extra:
            out.append(ServiceLine(add_on, extra, (), why, f"{proc.name}, additional hour"))
    return out


def immunization_only(facts: VisitFacts) -> bool:
    """A visit only for vaccines (Z23 the only reason) has no E/M line: the administration codes hold
    the work, and CPT allows an E/M beside them only for a significant, separately identifiable service
    (CPT immunization administration guidelines; NCCI Policy Manual Ch. XI §A)."""
    managed = [p for p in facts.problems if p.role != "coexisting"]
    return bool(managed and facts.procedures) and all(p.codes == ("Z23",) for p in managed)


def time_level(status: str, minutes: int) -> int | None:
    """The office E/M level the documented total time on the date supports (CPT 2021 office E/M
    guidelines), or None below the lowest threshold."""
    thresholds = TIME_NEW if status == "new" else TIME_ESTABLISHED
    met = [level for level, floor in enumerate(thresholds) if minutes >= floor]
    return met[-1] if met else None


def em_level(facts: VisitFacts, policy: CodingPolicy, status: str, mdm_level: int) -> tuple[int, bool]:
    """The office E/M level and whether it was chosen by time. Time counts only when the note documents
    the total time on the date; then the level is by time or by MDM, as the scenario decides
    (``[coding] em_basis``: ``mdm``, ``time`` or ``higher`` — CPT lets the provider choose the basis that
    fits the visit). ED codes are by MDM only (CPT 2023 ED guidelines: time is not a descriptor)."""
    if facts.setting != "office" or not facts.total_minutes or policy.em_basis == "mdm":
        return mdm_level, False
    by_time = time_level(status, facts.total_minutes)
    if by_time is None:
        return mdm_level, False
    if policy.em_basis == "time" or by_time >= mdm_level:
        return by_time, True
    return mdm_level, False


def em_add_ons(facts: VisitFacts, cat: Catalog, policy: CodingPolicy, em: ServiceLine, by_time: bool,
               others: list[ServiceLine]) -> list[ServiceLine]:
    """The lines added to an office E/M: prolonged services and the visit-complexity add-on G2211."""
    from simulator.coding.rules import ServiceLine

    out = []
    if by_time and em.code in PROLONGED_CPT:
        start = (PROLONGED_MEDICARE if facts.medicare else PROLONGED_CPT)[em.code]
        if facts.total_minutes >= start:
            code = "G2212" if facts.medicare else "99417"
            units = (facts.total_minutes - start) // 15 + 1
            out.append(ServiceLine(code, units, (), em.diagnosis_codes, "Prolonged visit, each 15 minutes"))
    if _complexity_add_on(facts, cat, policy, em, others):
        out.append(ServiceLine("G2211", 1, (), em.diagnosis_codes, "Ongoing care of a serious or complex condition"))
    return out


def _complexity_add_on(facts: VisitFacts, cat: Catalog, policy: CodingPolicy, em: ServiceLine,
                       others: list[ServiceLine]) -> bool:
    """G2211 goes with an office E/M when this practice is the continuing focal point of the patient's
    care or manages a serious or complex condition over time: here, a visit for a chronic condition the
    practice follows (CY2024 PFS final rule, 88 FR 78818). Not when the E/M carries modifier 25, unless
    the 25 is only for an annual wellness visit, a vaccine administration or another Part B preventive
    service the same day (CY2025 PFS final rule, 89 FR 97710). Whether payers other than Medicare take
    it is the scenario's choice (``[coding] g2211``: never, medicare, all)."""
    if policy.g2211 == "never" or (policy.g2211 == "medicare" and not facts.medicare):
        return False
    if em.code not in OFFICE_EM:
        return False
    reason = next((p for p in facts.problems if p.role == "reason"), None)
    if reason is None or not reason.kind.startswith("chronic"):
        return False
    if "25" in em.modifiers:
        causes = {ln.code for ln in others if ln.code in cat.services and cat.services[ln.code].em_modifier == "25"}
        return causes <= (IMMUNIZATION_ADMIN | PART_B_PREVENTIVE)
    return True
