"""The clinical catalog: conditions, medications, labs, procedures and services, loaded from TOML.

The generator draws every clinical fact from here, so a chart is coherent (meds, vitals and labs
follow the conditions) and every code it carries is one a test has checked.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

Kind = Literal["chronic", "acute", "preventive"]
Setting = Literal["office", "emergency"]
VITAL_KEYS = ("systolic", "diastolic", "heart_rate", "resp_rate", "temp_f", "spo2", "bmi")

# Sig frequencies: abbreviation -> (plain words, FHIR timing: frequency, period, periodUnit)
FREQUENCIES: dict[str, tuple[str, int, float, str]] = {
    "QD": ("once daily", 1, 1, "d"),
    "QAM": ("every morning", 1, 1, "d"),
    "QHS": ("at bedtime", 1, 1, "d"),
    "BID": ("twice daily", 2, 1, "d"),
    "TID": ("three times daily", 3, 1, "d"),
    "QID": ("four times daily", 4, 1, "d"),
    "Q5MIN": ("every 5 minutes", 1, 5, "min"),
    "Q2H": ("every 2 hours", 1, 2, "h"),
    "Q4H": ("every 4 hours", 1, 4, "h"),
    "Q6H": ("every 6 hours", 1, 6, "h"),
    "Q8H": ("every 8 hours", 1, 8, "h"),
    "WEEKLY": ("once a week", 1, 1, "wk"),
    "ONCE": ("one time only", 1, 1, "d"),
}
ROUTES: dict[str, tuple[str, str, str]] = {
    # route -> (abbreviation, SNOMED CT code, SNOMED display)
    "oral": ("PO", "26643006", "Oral route"),
    "inhaled": ("INH", "447694001", "Respiratory tract route"),
    "subcutaneous": ("SC", "34206005", "Subcutaneous route"),
    "topical": ("TOP", "6064005", "Topical route"),
    "intranasal": ("IN", "46713006", "Nasal route"),
    "transdermal": ("TD", "45890007", "Transdermal route"),
    "sublingual": ("SL", "37839007", "Sublingual route"),
    "ophthalmic": ("OPH", "54485002", "Ophthalmic route"),
}


class CatalogError(Exception):
    """The catalog data is inconsistent; the message names the entry and the field."""


@dataclass(frozen=True)
class Service:
    code: str
    system: Literal["CPT", "HCPCS"]
    description: str
    global_days: int | None = None  # a minor procedure's global period (0 or 10 days): NCCI / CMS
    em_modifier: str = ""  # "25": an E/M billed the same day needs modifier 25 (NCCI edit with this code)
    waived_qw: bool = False  # a CLIA-waived test that Medicare wants with modifier QW (not on CMS's exempt list)


@dataclass(frozen=True)
class Procedure:
    key: str
    name: str  # the provider's words on the superbill
    service: str
    drug: str | None = None
    units: int = 1
    ed_service: str | None = None  # what the ED physician reports: None = the same code, "" = facility only
    ed_words: str = ""
    test: bool = False  # a diagnostic test (counts as data in medical decision making unless billed here)
    result: tuple[str, ...] = ()  # how the note documents it was done, several phrasings ({n} etc. filled in)
    size: tuple[float, float] = (0.0, 0.0)  # a repair: the wound lengths (cm) its code stands for
    components: int = 0  # a vaccine: its antigen components (CPT 90461 counts the ones after the first)
    medicare: tuple[str, ...] = ()  # codes billed to Medicare instead of `service` (G0008, G0442 + G0443)
    first_visit_only: bool = False  # a screening done once in a case (AUDIT, DAST), not at every follow-up
    infusion: str = ""  # an IV infusion in the office: "therapeutic" or "hydration" (codes by time and hierarchy)
    minutes: tuple[int, int] = (0, 0)  # an infusion: the range of its documented running time
    margin: float = 0.0  # a lesion excision: the margin (cm) each side; `size` is then the excised diameter
    add_on: str = ""  # an add-on code reported with the primary one (17003 with 17000), with its units
    add_on_units: int = 0
    repair: str = ""  # "family:anatomic group" (CPT repair families): the code follows the summed length
    sided: bool = False  # done on one of a pair of body parts: RT / LT from the condition's side
    ed_modifier: str = ""  # "26": the ED physician reports only the professional component of ed_service

    def __post_init__(self) -> None:
        if self.ed_service is None:
            object.__setattr__(self, "ed_service", self.service)


@dataclass(frozen=True)
class Lab:
    key: str
    name: str
    abbrev: str
    loinc: str
    unit: str
    normal: tuple[float, float]
    decimals: int

    @property
    def qualitative(self) -> bool:
        """Dipstick and antigen results: 0 negative, 1 positive, 2-3 graded positive."""
        return self.unit == "{score}"


@dataclass(frozen=True)
class Panel:
    key: str
    name: str
    labs: tuple[str, ...]
    service: str | None = None
    in_office: bool = False
    specimen: str = "blood"


@dataclass(frozen=True)
class Sig:
    dose: float
    unit: str
    frequency: str
    prn: str = ""
    note: str = ""


@dataclass(frozen=True)
class Medication:
    key: str
    name: str
    rxnorm: str
    form: str
    strengths: tuple[str, ...]
    route: str
    classes: tuple[str, ...]
    sigs: tuple[Sig, ...]
    days: int = 0
    long_term_code: str | None = None
    otc: bool = False  # over the counter (MDM risk: low), not a prescription (moderate)
    mg_per_kg: float = 0.0  # children: daily dose by weight, split by the sig's frequency, capped at max_mg
    max_mg: float = 0.0
    mg_per_ml: float = 0.0  # liquid forms: concentration, so a weight-based dose is written in mL
    min_kg: float = 0.0  # fixed adult doses: not below this weight
    max_kg: float = 999.0  # weight-based children's forms: not above this weight


@dataclass(frozen=True)
class Reaction:
    key: str
    snomed: str
    display: str


@dataclass(frozen=True)
class Allergy:
    key: str
    substance: str
    rxnorm: str
    avoid: tuple[str, ...]
    reactions: tuple[str, ...]
    min_age: int = 0  # an allergy found only once a drug was taken (e.g. ACE inhibitors in adults)


@dataclass(frozen=True)
class Variant:
    name: str
    codes: tuple[str, ...]
    side: str = ""


@dataclass(frozen=True)
class Combination:
    with_tag: str
    name: str
    codes: tuple[str, ...]
    keep: bool = False  # add these codes to the condition's own (E11.621 + L97.- stay, E11.22 joins them)


@dataclass(frozen=True)
class InjuryEvent:
    """How an injury happened, as the note tells it, with its Chapter 20 codes (cause, activity, place, status)."""

    text: str
    codes: tuple[str, ...]


PROBLEM_TYPES = ("minor", "acute", "chronic", "acute-systemic", "injury-complicated", "undiagnosed", "threat",
                 "preventive")


@dataclass(frozen=True)
class Condition:
    key: str
    variants: tuple[Variant, ...]
    kind: Kind
    ages: tuple[int, int]
    sex: Literal["any", "female", "male"] = "any"
    abbrev: str = ""
    settings: tuple[Setting, ...] = ("office",)
    tags: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    meds: tuple[str, ...] = ()
    med_count: int = 1
    panels: tuple[str, ...] = ()
    labs: dict[str, tuple[float, float]] = field(default_factory=dict)
    procedures: tuple[str, ...] = ()
    vitals: dict[str, tuple[float, float]] = field(default_factory=dict)
    bmi_code: bool = False
    combine: tuple[Combination, ...] = ()
    complaint: tuple[str, ...] = ()
    subjective: tuple[str, ...] = ()
    exam: tuple[str, ...] = ()
    plan: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # how clinicians write the diagnosis in an assessment (never the code title)
    problem: str = "acute"  # MDM: how complex a problem it is (chronic: stable or not at goal per visit)
    separate_em: bool = False  # a visit for it with a minor procedure still has a separate E/M
    history: str = ""  # an exacerbation: the chronic condition the patient must already have
    months: tuple[int, ...] = ()  # seasonal: the months it is seen in (empty: all year)
    tobacco: str = ""  # "former": the condition documents the patient as a former smoker
    uncontrolled: dict[str, tuple[float, float]] = field(default_factory=dict)  # vitals/labs when not at goal
    injury_events: tuple[InjuryEvent, ...] = ()
    hospitalization_decision: bool = False
    independent_interpretation: bool = False  # ED: the physician reads the images/tracing themselves
    not_at_goal: tuple[str, ...] = ()  # how the note says it is not at goal, where the usual words would change the code
    goal_rate: float = 0.6  # chronic: chance it is at goal at a visit (when `uncontrolled` says how it shows)
    findings: dict[str, str] = field(default_factory=dict)  # test findings the note writer fills in (cxr, rhythm)
    vaccine_counseling: bool = False  # the physician counsels on each vaccine (CPT 90460/90461 under age 19)
    by_trimester: tuple[str, ...] = ()  # pregnancy: codes whose last character is the trimester (stems: "Z34.8")
    not_with: tuple[str, ...] = ()  # acute: never offered to a patient with one of these chronic conditions
    critical_care: tuple[int, int] = (0, 0)  # ED: critical care minutes documented (range)
    tbsa: tuple[float, float] = (0.0, 0.0)  # burns: percent of body surface burned (range)
    third_degree: tuple[float, float] = (0.0, 0.0)  # burns: percent of body surface with third-degree burns
    rule_codes: tuple[str, ...] = ()  # codes a coding rule can add for it (e.g. the T31 extent of a burn)
    encounter: str = ""  # injuries: "subsequent" or "sequela" visit (the note says so); "" = initial
    follow_up: str = ""  # an injury seen again: the condition (same side) of the patient's next visit
    follow_days: tuple[int, int] = (7, 14)  # how many days after this visit the follow-up visit is
    disposition: str = ""  # ED: where the patient goes when not home ("admitted to medicine", "transferred ...")
    allergy_excludes: tuple[str, ...] = ()  # allergies a patient with this condition cannot have (on that drug)

    def fits(self, age: int, sex: str) -> bool:
        return self.ages[0] <= age <= self.ages[1] and self.sex in ("any", sex)


@dataclass(frozen=True)
class Catalog:
    conditions: dict[str, Condition]
    medications: dict[str, Medication]
    labs: dict[str, Lab]
    panels: dict[str, Panel]
    procedures: dict[str, Procedure]
    services: dict[str, Service]
    allergies: dict[str, Allergy]
    reactions: dict[str, Reaction]
    icd10cm_titles: dict[str, str]

    def icd10cm_codes(self) -> set[str]:
        """Every ICD-10-CM code the generator can put on a claim."""
        codes = {m.long_term_code for m in self.medications.values() if m.long_term_code}
        for c in self.conditions.values():
            for v in c.variants:
                codes.update(v.codes)
            for comb in c.combine:
                codes.update(comb.codes)
            codes.update(stem + n for stem in c.by_trimester for n in "123")
            if "pregnancy" in c.tags:
                codes.update(GESTATION_CODES)
            if "newborn-exam" in c.tags:
                codes.update(NEWBORN_EXAM_CODES)
        codes.update(BMI_CODES)
        for c in self.conditions.values():
            for event in c.injury_events:
                codes.update(event.codes)
            codes.update(c.rule_codes)
        codes.update(RULE_CODES)
        return codes


# Adult BMI Z-codes: Z68.30-Z68.39 by whole BMI unit, then Z68.41-Z68.45 by band.
BMI_BANDS = ((70.0, "Z68.45"), (60.0, "Z68.44"), (50.0, "Z68.43"), (45.0, "Z68.42"), (40.0, "Z68.41"))
BMI_CODES = {f"Z68.{n}" for n in range(30, 40)} | {code for _, code in BMI_BANDS}


# Codes the coding rules add from the documentation (not from one condition): history of nicotine
# dependence, the "with abnormal findings" preventive codes.
RULE_CODES = {"Z87.891", "Z00.01", "Z00.121"}
# Newborn checkups by days of life, added by simulator.coding.rules_office for a "newborn-exam" condition.
NEWBORN_EXAM_CODES = {"Z00.110", "Z00.111", "Z00.121", "Z00.129"}
# Weeks of gestation (Z3A), on the mother's record at prenatal and pregnancy-complication visits.
GESTATION_CODES = {f"Z3A.{weeks:02d}" for weeks in range(8, 43)} | {"Z3A.01", "Z3A.49"}


def bmi_code(bmi: float) -> str | None:
    """The adult BMI Z-code for a BMI of 30 or more; None below 30."""
    if bmi < 30:
        return None
    if bmi < 40:
        return f"Z68.{int(bmi)}"
    return next(code for bound, code in BMI_BANDS if bmi >= bound)


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


def _range(where: str, value: Any) -> tuple[float, float]:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(x, int | float) for x in value)):
        raise CatalogError(f"{where}: expected [low, high], got {value!r}")
    if value[0] > value[1]:
        raise CatalogError(f"{where}: low {value[0]} is above high {value[1]}")
    return (float(value[0]), float(value[1]))


def parse_catalog(data: dict[str, Any]) -> Catalog:
    services = {code: Service(code, s["system"], s["description"], s.get("global_days"), s.get("em_modifier", ""),
                              s.get("waived_qw", False))
                for code, s in data["services"].items()}
    procedures = {k: Procedure(key=k, **{n: tuple(v) if isinstance(v, list) else v for n, v in p.items()})
                  for k, p in data["procedures"].items()}
    labs = {
        k: Lab(key=k, name=v["name"], abbrev=v["abbrev"], loinc=v["loinc"], unit=v["unit"],
               normal=_range(f"labs.{k}.normal", v["normal"]), decimals=v["decimals"])
        for k, v in data["labs"].items()
    }
    panels = {k: Panel(key=k, name=v["name"], labs=tuple(v["labs"]), service=v.get("service"),
                       in_office=v.get("in_office", False), specimen=v.get("specimen", "blood"))
              for k, v in data["panels"].items()}
    medications = {
        k: Medication(key=k, name=v["name"], rxnorm=v["rxnorm"], form=v["form"], strengths=tuple(v["strengths"]),
                      route=v["route"], classes=tuple(v["classes"]), sigs=tuple(Sig(**s) for s in v["sigs"]),
                      days=v.get("days", 0), long_term_code=v.get("long_term_code"), otc=v.get("otc", False),
                      mg_per_kg=v.get("mg_per_kg", 0.0), max_mg=v.get("max_mg", 0.0), mg_per_ml=v.get("mg_per_ml", 0.0),
                      min_kg=v.get("min_kg", 0.0), max_kg=v.get("max_kg", 999.0))
        for k, v in data["medications"].items()
    }
    reactions = {k: Reaction(k, v["snomed"], v["display"]) for k, v in data["reactions"].items()}
    allergies = {k: Allergy(key=k, substance=v["substance"], rxnorm=v["rxnorm"], avoid=tuple(v["avoid"]),
                            reactions=tuple(v["reactions"]), min_age=v.get("min_age", 0))
                 for k, v in data["allergies"].items()}
    conditions = {}
    for k, v in data["conditions"].items():
        v = dict(v)
        if "variants" in v:
            variants = tuple(Variant(x["name"], tuple(x["codes"]), x.get("side", "")) for x in v.pop("variants"))
        else:
            variants = (Variant(v.pop("name"), tuple(v.pop("codes"))),)
        kwargs: dict[str, Any] = {}
        for name, value in v.items():
            if name in ("labs", "vitals", "uncontrolled"):
                kwargs[name] = {lk: _range(f"conditions.{k}.{name}.{lk}", r) for lk, r in value.items()}
            elif name == "ages":
                low, high = _range(f"conditions.{k}.ages", value)
                kwargs[name] = (int(low), int(high))
            elif name == "injury_events":
                kwargs[name] = tuple(InjuryEvent(e["text"], tuple(e["codes"])) for e in value)
            elif name == "combine":
                kwargs[name] = tuple(Combination(c["with_tag"], c["name"], tuple(c["codes"]), c.get("keep", False))
                                     for c in value)
            elif isinstance(value, list):
                kwargs[name] = _tuple(value)
            else:
                kwargs[name] = value
        conditions[k] = Condition(key=k, variants=variants, **kwargs)
    catalog = Catalog(conditions, medications, labs, panels, procedures, services, allergies, reactions,
                      dict(data["icd10cm"]))
    _check_references(catalog)
    return catalog


def _check_references(cat: Catalog) -> None:
    """Every key a condition names must exist, so a typo fails at load time, not mid-generation."""
    def need(where: str, key: str | None, table: dict[str, Any], what: str) -> None:
        if key is not None and key not in table:
            raise CatalogError(f"{where}: unknown {what} {key!r}")

    for code in sorted(cat.icd10cm_codes()):
        need("icd10cm", code, cat.icd10cm_titles, "ICD-10-CM title for code")
    for p in cat.procedures.values():
        need(f"procedures.{p.key}.service", p.service, cat.services, "service")
        if p.ed_service:
            need(f"procedures.{p.key}.ed_service", p.ed_service, cat.services, "service")
        need(f"procedures.{p.key}.drug", p.drug, cat.services, "service")
        for code in p.medicare:
            need(f"procedures.{p.key}.medicare", code, cat.services, "service")
        need(f"procedures.{p.key}.add_on", p.add_on or None, cat.services, "service")
    for pan in cat.panels.values():
        need(f"panels.{pan.key}.service", pan.service, cat.services, "service")
        for lab in pan.labs:
            need(f"panels.{pan.key}.labs", lab, cat.labs, "lab")
    for m in cat.medications.values():
        need(f"medications.{m.key}.route", m.route, ROUTES, "route")
        for s in m.sigs:
            need(f"medications.{m.key}.sigs", s.frequency, FREQUENCIES, "frequency")
    for a in cat.allergies.values():
        for r in a.reactions:
            need(f"allergies.{a.key}.reactions", r, cat.reactions, "reaction")
    for c in cat.conditions.values():
        where = f"conditions.{c.key}"
        for med_key in c.meds:
            need(f"{where}.meds", med_key, cat.medications, "medication")
        for panel_key in c.panels:
            need(f"{where}.panels", panel_key, cat.panels, "panel")
        for procedure_key in c.procedures:
            need(f"{where}.procedures", procedure_key, cat.procedures, "procedure")
        for lab in c.labs:
            need(f"{where}.labs", lab, cat.labs, "lab")
        for x in c.excludes:
            need(f"{where}.excludes", x, cat.conditions, "condition")
        for x in c.allergy_excludes:
            need(f"{where}.allergy_excludes", x, cat.allergies, "allergy")
        for vital in c.vitals:
            if vital not in VITAL_KEYS:
                raise CatalogError(f"{where}.vitals: unknown vital {vital!r}; expected one of {', '.join(VITAL_KEYS)}")
        if not (c.complaint and c.subjective and c.exam and c.plan and c.names):
            raise CatalogError(f"{where}: names, complaint, subjective, exam and plan phrases are all required")
        if c.problem not in PROBLEM_TYPES:
            raise CatalogError(f"{where}.problem: expected one of {', '.join(PROBLEM_TYPES)}, got {c.problem!r}")
        if c.history:
            need(f"{where}.history", c.history, cat.conditions, "condition")
        for x in c.not_with:
            need(f"{where}.not_with", x, cat.conditions, "condition")
        if c.follow_up:
            need(f"{where}.follow_up", c.follow_up, cat.conditions, "condition")
        for vital in c.uncontrolled:
            if vital not in VITAL_KEYS and vital not in cat.labs:
                raise CatalogError(f"{where}.uncontrolled: {vital!r} is neither a vital sign nor a lab")


TABLES = ("services", "procedures", "labs", "panels", "medications", "reactions", "allergies", "conditions", "icd10cm")


def merge_catalog_files(files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One catalog from several TOML files (``catalog.toml`` and ``catalog-<area>.toml``), each adding entries.

    A key defined in two files is an error naming both, so one area cannot silently replace another's entry.
    """
    merged: dict[str, dict[str, Any]] = {table: {} for table in TABLES}
    origin: dict[tuple[str, str], str] = {}
    for name, data in files.items():
        for table, entries in data.items():
            if table not in merged:
                raise CatalogError(f"{name}: unknown table [{table}]; expected one of {', '.join(TABLES)}")
            for key, value in entries.items():
                if (table, key) in origin and merged[table][key] != value:
                    raise CatalogError(f"{name}: {table}.{key} is already defined in {origin[table, key]}")
                origin.setdefault((table, key), name)
                merged[table][key] = value
    return merged


def catalog_files() -> dict[str, dict[str, Any]]:
    """The catalog's TOML files, ``catalog.toml`` first, then the areas in name order."""
    folder = resources.files("simulator.clinical")
    names = sorted(p.name for p in folder.iterdir() if p.name.startswith("catalog-") and p.name.endswith(".toml"))
    return {name: tomllib.loads(folder.joinpath(name).read_text(encoding="utf-8")) for name in ["catalog.toml", *names]}


@cache
def load_catalog() -> Catalog:
    return parse_catalog(merge_catalog_files(catalog_files()))
