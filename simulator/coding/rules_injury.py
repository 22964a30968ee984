"""Coding rules for injuries, burns, poisonings, sepsis, COVID-19 and the emergency department (issue #17, area A).

Pure functions over the documented facts (``VisitFacts``) and the catalog; ``rules.py`` calls them. Each cites the
ICD-10-CM Official Guidelines for Coding and Reporting (FY2026) section, the CPT guideline or the CMS manual chapter
it applies. The Tabular's own "code first" / "use additional code" notes stay in ``rules.sequence``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from simulator.clinical import Catalog
    from simulator.coding.rules import Diagnosis, ServiceLine, VisitFacts

Encounter = Literal["initial", "subsequent", "sequela", ""]

# ====================================================================================== diagnoses
INITIAL, SUBSEQUENT, SEQUELA = set("ABC"), set("DEFGHJKMNPQR"), {"S"}


def seventh_character(code: str) -> str:
    """The 7th character of a Chapter 19/20 code ("" for a code without one)."""
    plain = code.replace(".", "")
    return plain[6] if len(plain) == 7 and code[:1] in "STVWXY" else ""


def encounter_of(code: str) -> Encounter:
    """Initial (A, B, C), subsequent (D and the healing characters) or sequela (S) (Guidelines I.C.19.a)."""
    ch = seventh_character(code)
    if ch in INITIAL:
        return "initial"
    if ch in SUBSEQUENT:
        return "subsequent"
    if ch in SEQUELA:
        return "sequela"
    return ""


def is_drug_t_code(code: str) -> bool:
    """T36-T50 (drugs, medicaments, biologicals), the Table of Drugs' columns by the 5th/6th character."""
    return code[:1] == "T" and code[1:3].isdigit() and 36 <= int(code[1:3]) <= 50


def drug_column(code: str) -> str:
    """The Table of Drugs' column a T36-T50 code stands for: poisoning (6th character 1-4), adverse effect (5)
    or underdosing (6) (Guidelines I.C.19.e.5). T51-T65 are toxic effects, coded like poisonings."""
    plain = code.replace(".", "")
    if code[:1] == "T" and code[1:3].isdigit() and 51 <= int(code[1:3]) <= 65:
        return "poisoning"
    if not is_drug_t_code(code) or len(plain) < 6:
        return ""
    return {"5": "adverse effect", "6": "underdosing"}.get(plain[5], "poisoning")


def burn_degree(code: str) -> int:
    """Degree of a burn code T20-T25 (4th character 1-3 burn, 5-7 corrosion of the first to third degree)."""
    if code[:1] == "T" and code[1:3].isdigit() and 20 <= int(code[1:3]) <= 25 and len(code) > 4:
        return {"1": 1, "2": 2, "3": 3, "5": 1, "6": 2, "7": 3}.get(code[4], 0)
    return 0


def injury_severity(code: str) -> int:
    """How serious an injury code is, most serious 0 (Guidelines I.C.19.b: the most serious injury, as determined
    by the provider and the focus of treatment, first). The provider's documentation in the catalog agrees with
    this order: open fractures, intracranial injury with loss of consciousness, other fractures and deep burns,
    intracranial injury without it, open wounds, dislocations and sprains, superficial injuries."""
    if code[:1] != "S":
        degree = burn_degree(code)
        return {3: 2, 2: 4, 1: 6}.get(degree, 7)
    kind = code[2]  # S06 intracranial, S_2 fracture, S_1 open wound, S_3 dislocation/sprain, S_0 superficial
    if kind == "2" and seventh_character(code) in ("B", "C"):
        return 0
    if code[:3] == "S06":
        return 1 if code[6:7] not in ("0", "") else 3
    return {"2": 2, "1": 4, "3": 5, "0": 6}.get(kind, 5)


def _rank(code: str) -> tuple[int, int]:
    """Sequencing group of a code within the reason for the visit (lower first)."""
    if code[:3] in ("A40", "A41") or code == "U07.1":
        # Sepsis: the systemic infection first, then R65.2-, then the localized infection (I.C.1.d.4);
        # COVID-19 first, then its manifestations (I.C.1.g.1.a).
        return (0, 0)
    if code.startswith("R65.2"):
        return (1, 0)
    column = drug_column(code)
    if column == "poisoning":
        return (2, 0)  # poisoning / toxic effect first, then the manifestations (I.C.19.e.5.b)
    if column in ("adverse effect", "underdosing"):
        return (5, 0)  # after the manifestation / the condition (I.C.19.e.5.a, I.C.19.e.5.c)
    if code.startswith(("Z91.12", "Z91.13")):
        return (6, 0)  # noncompliance with the underdosing (I.C.19.e.5.c)
    if encounter_of(code) == "sequela" and code[:1] in "ST":
        return (5, 0)  # the residual first, then the injury with 7th character S (I.C.19.a)
    if code.startswith(("T31", "T32")):
        return (4, 0)  # extent of body surface after the burn codes (I.C.19.d.6)
    if code[:1] == "S" or burn_degree(code):
        return (3, injury_severity(code))  # most serious injury first (I.C.19.b), highest degree burn (I.C.19.d.1)
    return (3, 8)


def order_reason(dx: list[Diagnosis], reason: str) -> list[Diagnosis]:
    """Reorder the codes of the reason for the visit (the condition ``reason``) by the Chapter 1 and 19
    sequencing rules; the other diagnoses keep their places. A stable sort: codes of one rank keep the
    order the provider documented them in."""
    slots = [i for i, d in enumerate(dx) if d.condition == reason]
    block = sorted((dx[i] for i in slots), key=lambda d: _rank(d.code))
    out = list(dx)
    for i, d in zip(slots, block, strict=True):
        out[i] = d
    return out


def extent_code(tbsa: float, third_degree: float) -> str:
    """T31 burns classified by extent of body surface involved (Guidelines I.C.19.d.6, rule of nines): the 4th
    character the total percent in tens, the 5th the percent of third-degree burn in tens (T31.0 under 10%)."""
    total = min(9, int(tbsa // 10))
    if total == 0:
        return "T31.0"
    third = min(total, int(third_degree // 10))
    return f"T31.{total}{third}"


def burn_extent(facts: VisitFacts) -> str | None:
    """A documented TBSA on a burn visit gets its T31 code (Tabular T20-T25: "use additional code from category
    T31 or T32 to identify extent of body surface involved"; I.C.19.d.6)."""
    if facts.burn_tbsa <= 0 or not any(burn_degree(c) for p in facts.problems for c in p.codes):
        return None
    return extent_code(facts.burn_tbsa, facts.burn_third_degree)


def encounter_causes(causes: Sequence[tuple[str, str, bool]], coded: list[str]) -> list[tuple[str, str, bool]]:
    """External causes at a subsequent or sequela encounter: the cause code with the injury's 7th character
    (I.C.20.a.3 and I.C.20.h for sequelae), while place (Y92), activity (Y93) and status (Y99) are reported only
    at the initial encounter (I.C.20.b, I.C.20.c, I.C.20.k)."""
    injuries = [encounter_of(c) for c in coded if c[:1] in "ST" and encounter_of(c)]
    if not injuries or "initial" in injuries:
        return list(causes)
    return [c for c in causes if c[0][:3] not in ("Y92", "Y93", "Y99")]


# ====================================================================================== services
# The CPT repair families by anatomic group and summed length (CPT Integumentary guidelines, "Repair (Closure)":
# lengths of wounds of the same classification and the same anatomic group are added and reported as one code).
# (upper bound in cm, code); complex repair starts above 1.0 cm (CPT: 1.0 cm or less is simple or intermediate).
REPAIRS: dict[tuple[str, str], tuple[tuple[float, str], ...]] = {
    ("simple", "scalp-neck-trunk-limbs"): ((2.5, "12001"), (7.5, "12002"), (12.5, "12004")),
    ("simple", "face"): ((2.5, "12011"), (5.0, "12013"), (7.5, "12014")),
    ("intermediate", "scalp-trunk-limbs"): ((2.5, "12031"), (7.5, "12032"), (12.5, "12034")),
    ("intermediate", "neck-hands-feet"): ((2.5, "12041"), (7.5, "12042")),
    ("complex", "forehead-cheeks-chin-neck-hands-feet"): ((2.5, "13131"), (7.5, "13132")),
}
FAMILY_ORDER = {"complex": 0, "intermediate": 1, "simple": 2}


def repair_code(family: str, group: str, total_cm: float) -> str:
    """The repair code for the summed length of one family and anatomic group."""
    bands = REPAIRS[family, group]
    length = round(total_cm, 1)
    for upper, code in bands:
        if length <= upper:
            return code
    raise ValueError(f"{family} repair of {length} cm ({group}) is beyond the codes the catalog carries")


def tissue_adhesive_code(facts: VisitFacts) -> str | None:
    """Medicare: a wound closed with tissue adhesive only is G0168, not a CPT repair code (CMS HCPCS G0168;
    Claims Processing Manual Ch. 12 §30). Other payers take the simple repair code (a scenario's payer mix)."""
    return "G0168" if facts.medicare else None


def repair_lines(facts: VisitFacts, cat: Catalog, pointers: Callable[[str], tuple[str, ...]],
                 distinct: str, coded: Sequence[str] = ()) -> list[ServiceLine]:
    """Repairs of one visit: lengths summed per family and anatomic group (CPT repair guidelines), the most
    complicated family first; a less complicated family on the same day carries modifier 59 or XS (CPT repair
    guidelines, "list the more complicated as the primary procedure and the less complicated as the secondary
    procedure using modifier 59"; NCCI Policy Manual Ch. I §E for 59 and the X{EPSU} subset, a scenario setting)."""
    from simulator.coding.rules import ServiceLine

    sums: dict[tuple[str, str], float] = {}
    owners: dict[tuple[str, str], list[str]] = {}
    wounds: dict[tuple[str, str], list[str]] = {}  # the wound codes each repair line stands for (its pointers)
    names: dict[tuple[str, str], str] = {}
    adhesive: list[ServiceLine] = []
    for perf in facts.procedures:
        proc, length = cat.procedures[perf.procedure], perf.length
        if not proc.repair:
            continue
        family, group = proc.repair.split(":")
        if family == "adhesive":
            code = tissue_adhesive_code(facts) or repair_code("simple", group, length)
            adhesive.append(ServiceLine(code, 1, (), pointers(perf.for_condition), proc.name))
            continue
        sums[family, group] = sums.get((family, group), 0.0) + length
        owners.setdefault((family, group), []).append(perf.for_condition)
        wound = _wound_code(facts, cat, perf.procedure, perf.for_condition)
        if wound:
            wounds.setdefault((family, group), []).append(wound)
        names[family, group] = f"{names[family, group]} + {proc.name}" if (family, group) in names else proc.name
    lines = []
    for n, key in enumerate(sorted(sums, key=lambda k: FAMILY_ORDER[k[0]])):
        code = repair_code(key[0], key[1], sums[key])
        modifiers = (distinct,) if n and FAMILY_ORDER[key[0]] > min(FAMILY_ORDER[k[0]] for k in sums) else ()
        # CMS-1500 item 24E: a line points to the diagnoses it treats, here the wounds this repair closed
        why = tuple(c for c in wounds.get(key, []) if c in coded) or pointers(owners[key][0])
        lines.append(ServiceLine(code, 1, modifiers, tuple(dict.fromkeys(why))[:4],
                                 f"{names[key]}, {round(sums[key], 1):g} cm in all"))
    return lines + adhesive


def _wound_code(facts: VisitFacts, cat: Catalog, procedure: str, condition: str) -> str:
    """The wound a repair closed, when one condition is several wounds: its codes and its repair procedures are
    listed in the same order in the catalog (forearm, hand, knee); "" when the condition is one wound."""
    procedures = cat.conditions[condition].procedures
    for p in facts.problems:
        if p.condition.key == condition and len(p.codes) > 1 and len(p.codes) == len(procedures):
            return p.codes[procedures.index(procedure)]
    return ""


def side_modifier(side: str) -> tuple[str, ...]:
    """RT / LT on a procedure done on one of a pair of body parts (HCPCS level II modifiers; NCCI Policy Manual
    Ch. I §E: anatomic modifiers)."""
    return {"right": ("RT",), "left": ("LT",)}.get(side, ())


CRITICAL_CARE_FIRST, CRITICAL_CARE_EACH = 30, 30


def critical_care_units(minutes: int) -> tuple[int, int]:
    """99291 for the first 30-74 minutes, 99292 for each further full 30 minutes beyond 74 (CPT critical care
    guidelines' time table; Claims Processing Manual Ch. 12 §30.6.12). Under 30 minutes is not critical care:
    the visit is reported with the E/M code its MDM supports. Returns (99291 units, 99292 units)."""
    if minutes < CRITICAL_CARE_FIRST:
        return 0, 0
    if minutes < 75:
        return 1, 0
    return 1, (minutes - 75) // CRITICAL_CARE_EACH + 1


def critical_care_lines(facts: VisitFacts, pointers: tuple[str, ...]) -> list[ServiceLine]:
    """Critical care in place of the ED E/M when the patient is critically ill from arrival and the physician
    documents 30 minutes or more of critical care time (CPT critical care guidelines; the ED visit and critical
    care on the same day are both reported only when the patient became critical after the ED visit)."""
    from simulator.coding.rules import ServiceLine

    first, more = critical_care_units(facts.critical_care_minutes)
    if not first:
        return []
    lines = [ServiceLine("99291", 1, (), pointers, "Critical care, first hour")]
    if more:
        lines.append(ServiceLine("99292", more, (), pointers, "Critical care, each added 30 minutes"))
    return lines


def with_side(line: ServiceLine, side: str) -> ServiceLine:
    return replace(line, modifiers=line.modifiers + side_modifier(side))


def in_global_period(facts: VisitFacts) -> bool:
    """The visit falls inside the global period of a procedure this practice did for the injury it follows up."""
    return facts.global_ends is not None and facts.date <= facts.global_ends


def global_period_visit(facts: VisitFacts, em: ServiceLine | None, code_of: dict[str, str]) -> ServiceLine | None:
    """Inside a procedure's global period the follow-up visits for that procedure are part of its payment
    (Claims Processing Manual Ch. 12 §40.1.A; NCCI Policy Manual Ch. I §D): the visit is reported with 99024,
    no charge, for tracking. An E/M for a problem unrelated to the procedure is reported with modifier 24,
    pointing to the unrelated diagnoses (CPT Appendix A, modifier 24; Ch. 12 §40.2.A.8)."""
    from simulator.coding.rules import ServiceLine

    if em is None or not in_global_period(facts):
        return em
    managed = [p for p in facts.problems if p.role != "coexisting"]
    unrelated = [p for p in managed if p.condition.key != facts.global_for]
    if not unrelated:
        return ServiceLine("99024", 1, (), em.diagnosis_codes[:1], "Post-op visit, no charge")
    pointers = tuple(code_of[p.condition.key] for p in unrelated if p.condition.key in code_of)[:4]
    return replace(em, modifiers=("24", *em.modifiers), diagnosis_codes=pointers or em.diagnosis_codes)
