"""The EHR's entry forms: each section's fields, and the mapping between a form row and FHIR JSON.

A row's values are the strings the student typed (or picked); ``build`` parses them with the rules
in ``values`` and returns the FHIR resource, or raises FieldError naming the field. ``read`` turns a
saved resource back into form values, so reopening shows exactly what was saved.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from simulator.clinical import FREQUENCIES, ROUTES, load_catalog
from simulator.ehr import values as v
from simulator.fhir import CPT, HCPCS, ICD10CM, LOINC, MRN_SYSTEM, RXNORM, SNOMED, UCUM
from simulator.generate.people import CLINIC_TZ

TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"


class FieldError(v.EntryError):
    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: str = "text"  # text | date | time | select | combo | number | textarea
    options: Callable[[EntryContext], dict[str, str]] | None = None  # value -> what the list shows
    hint: str = ""
    width: str = "w-40"
    fills: Callable[[str], dict[str, str]] | None = None  # picking this fills other fields (e.g. a test its unit)
    searchable: bool = False  # a long pick-list: typing filters it
    shown_only: bool = False  # shown to help (e.g. the reference range), not typed and not saved from the form
    grow: bool = False  # in a list row, takes the room left on its line (the long names: problem, drug, test)
    # A row too narrow for all its fields on one line (a laptop) breaks here, before this field, when it is
    # narrower than this many pixels: a medication's schedule under the drug, not fields wrapping at random.
    new_line: int = 0


@dataclass
class EntryContext:
    """What a form needs to know about the record it writes into."""

    patient_id: str
    birth_date: dt.date | None = None
    encounters: list[dict[str, Any]] = field(default_factory=list)
    today: dt.date = field(default_factory=dt.date.today)

    def visit_options(self) -> dict[str, str]:
        ordered = sorted(self.encounters, key=lambda e: str(e.get("period", {}).get("start", "")))
        return {e["id"]: f"Visit {i}: {_show_date(e.get('period', {}).get('start'))}" for i, e in enumerate(ordered, 1)}

    def encounter(self, encounter_id: str | None) -> dict[str, Any] | None:
        return next((e for e in self.encounters if e["id"] == encounter_id), None)


@dataclass(frozen=True)
class SectionSpec:
    key: str
    title: str
    resource_type: str
    fields: tuple[FieldSpec, ...]
    read: Callable[[dict[str, Any]], dict[str, str]]
    build: Callable[[dict[str, str], EntryContext, dict[str, Any] | None], dict[str, Any]]
    belongs: Callable[[dict[str, Any]], bool] = lambda _r: True
    add_label: str = "Add"
    carry: tuple[str, ...] = ()  # fields a new row takes from the row above (e.g. the visit of 20 lab results)


# ------------------------------------------------------------------------------------------ helpers
def _show_date(value: Any) -> str:
    if isinstance(value, str) and len(value) >= 10:
        try:
            return dt.date.fromisoformat(value[:10]).strftime("%m/%d/%Y")
        except ValueError:
            return value
    return ""


def _cc(system: str, code: str, display: str, text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [{"system": system, "code": code, "display": display}]}
    if text:
        out["text"] = text
    return out


def _code(concept: Any) -> str:
    if isinstance(concept, dict) and concept.get("coding"):
        return str(concept["coding"][0].get("code", ""))
    return ""


def _text(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    return str(concept.get("text") or (concept.get("coding") or [{}])[0].get("display", "") or "")


def _parse(name: str, parse: Callable[[], Any]) -> Any:
    try:
        return parse()
    except v.EntryError as exc:
        raise FieldError(name, str(exc)) from None


def _base(existing: dict[str, Any] | None, resource_type: str) -> dict[str, Any]:
    """Start from the saved resource, so fields the form does not show are kept."""
    res = {k: val for k, val in (existing or {}).items() if k != "meta"}
    res.setdefault("resourceType", resource_type)
    res.setdefault("id", str(uuid.uuid4()))
    return res


def _set(res: dict[str, Any], key: str, value: Any) -> None:
    if value in (None, "", [], {}):
        res.pop(key, None)
    else:
        res[key] = value


def _when(day: dt.date, hhmm: str | None) -> str:
    return f"{day.isoformat()}T{hhmm}:00{CLINIC_TZ}" if hhmm else day.isoformat()


def _required_visit(values: dict[str, str], ctx: EntryContext) -> dict[str, Any]:
    enc = _visit(values, ctx)
    if enc is None:
        raise FieldError("visit", "Visit: required; pick the visit this belongs to (add it under Encounters first)")
    return enc


def _visit(values: dict[str, str], ctx: EntryContext) -> dict[str, Any] | None:
    raw = values.get("visit") or ""
    if not raw:
        return None
    enc = ctx.encounter(raw)
    if enc is None:
        raise FieldError("visit", "Visit: pick one from the list")
    return enc


def ref_id(reference: Any) -> str:
    """The id a reference points at: 'Encounter/abc' and 'urn:uuid:abc' both give 'abc'."""
    ref = reference.get("reference", "") if isinstance(reference, dict) else ""
    return str(ref).split("/")[-1].removeprefix("urn:uuid:")


def _subject(ctx: EntryContext) -> dict[str, str]:
    return {"reference": f"Patient/{ctx.patient_id}"}


# ------------------------------------------------------------------------------------------ catalog lists
@cache
def problem_options() -> dict[str, str]:
    """Problem names a student can pick (free text is allowed too) -> ICD-10-CM code, kept server-side."""
    cat = load_catalog()
    out: dict[str, str] = {}
    for c in cat.conditions.values():
        for variant in c.variants:
            out[variant.name] = variant.codes[0]
        for comb in c.combine:
            out[comb.name] = comb.codes[0]
    for code, title in cat.icd10cm_titles.items():
        out.setdefault(title, code)
    return dict(sorted(out.items()))


@cache
def medication_options() -> dict[str, Any]:
    cat = load_catalog()
    return {m.name: m for m in sorted(cat.medications.values(), key=lambda m: m.name)}


@cache
def allergy_options() -> dict[str, Any]:
    cat = load_catalog()
    return {"NKDA": None} | {a.substance: a for a in sorted(cat.allergies.values(), key=lambda a: a.substance)}


@cache
def procedure_options() -> dict[str, Any]:
    cat = load_catalog()
    return {p.name: cat.services[p.service] for p in sorted(cat.procedures.values(), key=lambda p: p.name)}


@cache
def lab_options() -> dict[str, Any]:
    cat = load_catalog()
    return {lab.name: lab for lab in sorted(cat.labs.values(), key=lambda lab: lab.name)}


ENCOUNTER_CLASSES = {"AMB": "Ambulatory (office)", "EMER": "Emergency", "IMP": "Inpatient"}
ENCOUNTER_TYPES = {
    "185349003": "Encounter for check up", "390906007": "Follow-up encounter", "185345009": "Encounter for symptom",
    "410620009": "Well child visit", "50849002": "Emergency room admission",
}
CONDITION_STATUS = {"active": "Active", "resolved": "Resolved", "inactive": "Inactive", "remission": "In remission"}
CONDITION_CATEGORY = {"problem-list-item": "Problem list item", "encounter-diagnosis": "Visit diagnosis"}
MED_STATUS = {"active": "Active", "completed": "Completed", "stopped": "Stopped", "on-hold": "On hold"}
MAX_DOSE = 10_000  # in any dose unit (tablets, mL, units, puffs): more is a typing slip
MAX_LAB_RESULT = 1_000_000  # in the catalog's units; results are never negative
DOSE_UNITS = ["tablet", "tablets", "capsule", "capsules", "puffs", "mL", "units", "patch", "sprays each nostril",
              "capsule inhaled", "thin layer", "drops"]
SEVERITIES = {"mild": "Mild", "moderate": "Moderate", "severe": "Severe"}
NOTE_TYPES = {"11506-3": "Progress note", "34111-5": "Emergency department note"}


# ------------------------------------------------------------------------------------------ encounters
def _read_encounter(r: dict[str, Any]) -> dict[str, str]:
    start = r.get("period", {}).get("start", "")
    return {"date": _show_date(start), "time": start[11:16] if len(start) > 10 else "",
            "class": r.get("class", {}).get("code", ""), "type": _code((r.get("type") or [None])[0]),
            "reason": _text((r.get("reasonCode") or [None])[0])}


def _build_encounter(values: dict[str, str], ctx: EntryContext, existing: dict[str, Any] | None) -> dict[str, Any]:
    day = _parse("date", lambda: v.date("Visit date", values.get("date"), True, ctx.today, ctx.birth_date, "date of birth"))
    hhmm = _parse("time", lambda: v.time("Time in", values.get("time")))
    klass = _parse("class", lambda: v.choice("Class", values.get("class"), ENCOUNTER_CLASSES))
    etype = _parse("type", lambda: v.choice("Type", values.get("type"), ENCOUNTER_TYPES))
    reason = _parse("reason", lambda: v.text("Reason for visit", values.get("reason")))
    res = _base(existing, "Encounter")
    res["status"] = "finished"
    res["subject"] = _subject(ctx)
    klass = klass or "AMB"
    res["class"] = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": klass,
                    "display": {"AMB": "ambulatory", "EMER": "emergency", "IMP": "inpatient encounter"}[klass]}
    _set(res, "type", [_cc(SNOMED, etype, ENCOUNTER_TYPES[etype])] if etype else None)
    period = dict(res.get("period", {}))
    period["start"] = _when(day, hhmm)
    if "end" in period and (not hhmm or str(period["end"])[:10] != day.isoformat()):
        period.pop("end")
    res["period"] = period
    _set(res, "reasonCode", [{"text": reason}] if reason else None)
    return res


ENCOUNTERS = SectionSpec(
    "encounters", "Encounters", "Encounter",
    (FieldSpec("date", "Visit date", "date", hint="MM/DD/YYYY", width="w-[100px]"),
     FieldSpec("time", "Time in", "time", hint="HH:MM", width="w-[72px]"),
     FieldSpec("class", "Class", "select", lambda _c: ENCOUNTER_CLASSES, width="w-[166px]"),
     FieldSpec("type", "Type", "select", lambda _c: ENCOUNTER_TYPES, width="w-[196px]"),
     FieldSpec("reason", "Reason for visit (chief complaint)", width="w-[134px]", grow=True)),
    _read_encounter, _build_encounter, add_label="Add encounter",
)


# ------------------------------------------------------------------------------------------ problems
def _read_problem(r: dict[str, Any]) -> dict[str, str]:
    return {"problem": _text(r.get("code")), "onset": _show_date(r.get("onsetDateTime")),
            "status": _code(r.get("clinicalStatus")), "category": _code((r.get("category") or [None])[0]),
            "visit": ref_id(r.get("encounter"))}


def _build_problem(values: dict[str, str], ctx: EntryContext, existing: dict[str, Any] | None) -> dict[str, Any]:
    name = _parse("problem", lambda: v.text("Problem", values.get("problem"), True))
    onset = _parse("onset", lambda: v.date("Onset date", values.get("onset"), False, ctx.today))
    status = _parse("status", lambda: v.choice("Status", values.get("status"), CONDITION_STATUS)) or "active"
    category = _parse("category", lambda: v.choice("Category", values.get("category"), CONDITION_CATEGORY))
    category = category or "problem-list-item"
    enc = _visit(values, ctx)
    res = _base(existing, "Condition")
    code = problem_options().get(name)
    res["code"] = _cc(ICD10CM, code, load_catalog().icd10cm_titles.get(code, name), name) if code else {"text": name}
    res["clinicalStatus"] = _cc(f"{TERMINOLOGY}/condition-clinical", status, CONDITION_STATUS[status])
    res["verificationStatus"] = _cc(f"{TERMINOLOGY}/condition-ver-status", "confirmed", "Confirmed")
    res["category"] = [_cc(f"{TERMINOLOGY}/condition-category", category,
                           "Problem List Item" if category == "problem-list-item" else "Encounter Diagnosis")]
    res["subject"] = _subject(ctx)
    _set(res, "onsetDateTime", onset.isoformat() if onset else None)
    _set(res, "encounter", {"reference": f"Encounter/{enc['id']}"} if enc else None)
    return res


PROBLEMS = SectionSpec(
    "problems", "Problem list", "Condition",
    (FieldSpec("problem", "Problem", "combo", lambda _c: {k: k for k in problem_options()}, width="w-[300px]",
               grow=True),
     FieldSpec("onset", "Onset date", "date", hint="MM/DD/YYYY", width="w-[100px]"),
     FieldSpec("status", "Status", "select", lambda _c: CONDITION_STATUS, width="w-[120px]"),
     FieldSpec("category", "Category", "select", lambda _c: CONDITION_CATEGORY, width="w-[160px]",
               new_line=950),
     FieldSpec("visit", "Visit (for a visit diagnosis)", "select", lambda c: c.visit_options(),
               width="w-[200px]")),
    _read_problem, _build_problem, add_label="Add problem",
)


# ------------------------------------------------------------------------------------------ medications
STRENGTH = re.compile(r"^[0-9]{1,6}(\.[0-9]{1,4})?\s*(mg|mcg|g|units|%|mL)(\s*/\s*[\w. ]+)?$", re.IGNORECASE)


def _read_med(r: dict[str, Any]) -> dict[str, str]:
    concept = r.get("medicationCodeableConcept", {})
    name = (concept.get("coding") or [{}])[0].get("display") or concept.get("text", "")
    rest = str(concept.get("text", ""))[len(name):].strip() if str(concept.get("text", "")).startswith(name) else ""
    med = medication_options().get(name)
    strength = rest[: -len(med.form)].strip() if med and rest.endswith(med.form) else rest
    dosage = (r.get("dosageInstruction") or [{}])[0]
    dose = (dosage.get("doseAndRate") or [{}])[0].get("doseQuantity", {})
    return {
        "drug": name, "strength": strength, "dose": "" if dose.get("value") is None else str(dose.get("value")),
        "unit": str(dose.get("unit", "")), "route": next((k for k, (abbr, *_r) in ROUTES.items()
                                                          if abbr == _text(dosage.get("route"))), ""),
        "frequency": str(dosage.get("timing", {}).get("code", {}).get("text", "")),
        "prn": str(dosage.get("asNeededCodeableConcept", {}).get("text", "")),
        "start": _show_date(r.get("authoredOn")),
        "stop": _show_date(r.get("dispenseRequest", {}).get("validityPeriod", {}).get("end")),
        "status": str(r.get("status", "")),
    }


def _build_med(values: dict[str, str], ctx: EntryContext, existing: dict[str, Any] | None) -> dict[str, Any]:
    name = _parse("drug", lambda: v.text("Medication", values.get("drug"), True))
    strength = _parse("strength", lambda: v.text("Strength", values.get("strength")))
    if strength and not STRENGTH.match(strength):
        raise FieldError("strength", f"Strength: {strength} is not a strength; type it like 10 mg or 400 mg/5 mL")
    dose = _parse("dose", lambda: v.number("Dose", values.get("dose"), above=0, high=MAX_DOSE))
    unit = _parse("unit", lambda: v.text("Dose unit", values.get("unit"), limit=40))
    route = _parse("route", lambda: v.choice("Route", values.get("route"), ROUTES))
    freq = _parse("frequency", lambda: v.choice("Frequency", values.get("frequency"), FREQUENCIES))
    prn = _parse("prn", lambda: v.text("As needed for", values.get("prn")))
    start = _parse("start", lambda: v.date("Start date", values.get("start"), False, ctx.today))
    stop = _parse("stop", lambda: v.date("Stop date", values.get("stop"), False, None, start, "start date"))
    status = _parse("status", lambda: v.choice("Status", values.get("status"), MED_STATUS)) or "active"
    med = medication_options().get(name)
    res = _base(existing, "MedicationRequest")
    label = " ".join(x for x in (name, strength, med.form if med else None) if x)
    res["medicationCodeableConcept"] = _cc(RXNORM, med.rxnorm, med.name, label) if med else {"text": label}
    res["status"], res["intent"] = status, "order"
    res["subject"] = _subject(ctx)
    _set(res, "authoredOn", start.isoformat() if start else None)
    dosage: dict[str, Any] = {"sequence": 1}
    sig = []
    if dose is not None:
        sig.append(f"{v.fhir_number(dose)} {unit or ''}".strip())
        dosage["doseAndRate"] = [{"doseQuantity": {"value": v.fhir_number(dose), **({"unit": unit} if unit else {})}}]
    if route:
        abbr, code, display = ROUTES[route]
        sig.append(abbr)
        dosage["route"] = _cc(SNOMED, code, display, abbr)
    if freq:
        words, frequency, period, period_unit = FREQUENCIES[freq]
        sig.append(freq)
        repeat: dict[str, Any] = {"frequency": frequency, "period": period, "periodUnit": period_unit}
        if freq == "ONCE":
            repeat["count"] = 1
        dosage["timing"] = {"repeat": repeat} | ({"code": {"text": freq}} if freq != "ONCE" else {})
    if prn:
        sig.append(f"PRN {prn}")
        dosage["asNeededCodeableConcept"] = {"text": prn}
    if sig:
        dosage["text"] = " ".join(sig)
    _set(res, "dosageInstruction", [dosage] if len(dosage) > 1 else None)
    if stop:
        res["dispenseRequest"] = {"validityPeriod": {**({"start": start.isoformat()} if start else {}),
                                                     "end": stop.isoformat()}}
    else:
        res.pop("dispenseRequest", None)
    return res


MEDICATIONS = SectionSpec(
    "medications", "Medications", "MedicationRequest",
    (FieldSpec("drug", "Medication", "combo", lambda _c: {k: k for k in medication_options()}, width="w-[170px]",
               grow=True),
     FieldSpec("strength", "Strength", hint="e.g. 10 mg", width="w-[84px]"),
     FieldSpec("dose", "Dose", "number", width="w-[64px]"),
     FieldSpec("unit", "Dose unit", "combo", lambda _c: {u: u for u in DOSE_UNITS}, width="w-[110px]"),
     FieldSpec("route", "Route", "select", lambda _c: {k: f"{a} ({k})" for k, (a, *_r) in ROUTES.items()},
               width="w-[160px]"),
     FieldSpec("frequency", "Frequency", "select", lambda _c: {k: f"{k} ({w})" for k, (w, *_r) in FREQUENCIES.items()},
               width="w-[204px]", new_line=1320),
     FieldSpec("prn", "As needed for (PRN)", width="w-[130px]", grow=True),
     FieldSpec("start", "Start date", "date", hint="MM/DD/YYYY", width="w-[100px]"),
     FieldSpec("stop", "Stop date", "date", hint="MM/DD/YYYY", width="w-[100px]"),
     FieldSpec("status", "Status", "select", lambda _c: MED_STATUS, width="w-[120px]")),
    _read_med, _build_med, add_label="Add medication",
)


# ------------------------------------------------------------------------------------------ allergies
def _read_allergy(r: dict[str, Any]) -> dict[str, str]:
    reaction = (r.get("reaction") or [{}])[0]
    manifestation = (reaction.get("manifestation") or [{}])[0]
    code = _code(r.get("code"))
    return {"substance": "NKDA" if code == "409137002" else _text(r.get("code")),
            "reaction": str(manifestation.get("text", "")), "severity": str(reaction.get("severity", ""))}


def _build_allergy(values: dict[str, str], ctx: EntryContext, existing: dict[str, Any] | None) -> dict[str, Any]:
    substance = _parse("substance", lambda: v.text("Substance", values.get("substance"), True))
    reactions = load_catalog().reactions
    reaction = _parse("reaction", lambda: v.choice("Reaction", values.get("reaction"), reactions))
    severity = _parse("severity", lambda: v.choice("Severity", values.get("severity"), SEVERITIES))
    res = _base(existing, "AllergyIntolerance")
    res["clinicalStatus"] = _cc(f"{TERMINOLOGY}/allergyintolerance-clinical", "active", "Active")
    res["verificationStatus"] = _cc(f"{TERMINOLOGY}/allergyintolerance-verification", "confirmed", "Confirmed")
    res["patient"] = _subject(ctx)
    if substance.upper() in ("NKDA", "NO KNOWN DRUG ALLERGIES"):
        if reaction:
            raise FieldError("reaction", "Reaction: leave empty for NKDA")
        res["code"] = _cc(SNOMED, "409137002", "No known drug allergy", "NKDA")
        for key in ("reaction", "type", "category", "criticality"):
            res.pop(key, None)
        return res
    allergy = allergy_options().get(substance)
    res["code"] = _cc(RXNORM, allergy.rxnorm, allergy.substance, allergy.substance) if allergy else {"text": substance}
    res["type"], res["category"] = "allergy", ["medication"]
    res["criticality"] = "high" if severity == "severe" else "low"
    if reaction:
        r = reactions[reaction]
        res["reaction"] = [{"manifestation": [_cc(SNOMED, r.snomed, r.display, reaction)],
                            **({"severity": severity} if severity else {})}]
    else:
        res.pop("reaction", None)
    return res


ALLERGIES = SectionSpec(
    "allergies", "Allergies", "AllergyIntolerance",
    (FieldSpec("substance", "Substance (or NKDA)", "combo", lambda _c: {k: k for k in allergy_options()},
               width="w-[200px]", grow=True),
     FieldSpec("reaction", "Reaction", "select", lambda _c: {k: k for k in load_catalog().reactions},
               width="w-[170px]"),
     FieldSpec("severity", "Severity", "select", lambda _c: SEVERITIES, width="w-[120px]")),
    _read_allergy, _build_allergy, add_label="Add allergy",
)


# ------------------------------------------------------------------------------------------ labs
@cache
def lab_units() -> dict[str, str]:
    """UCUM code -> what the lab report prints (eGFR: mL/min/{1.73_m2} -> mL/min/1.73m²), for every catalog test."""
    from simulator.generate.key import UNIT_NAMES

    codes = dict.fromkeys(lab.unit for lab in lab_options().values() if not lab.qualitative)
    return {code: UNIT_NAMES.get(code, code) for code in codes}


def lab_range(name: str) -> str:
    """The reference range of a catalog test as the lab report prints it: the numbers, in the test's unit (the
    report prints the unit in a column of its own, as the form does beside the result)."""
    lab = lab_options().get(name)
    if lab is None:
        return ""
    if lab.qualitative:
        return "Negative"
    return f"{lab.normal[0]:.{lab.decimals}f}-{lab.normal[1]:.{lab.decimals}f}"


def _lab_fills(name: str) -> dict[str, str]:
    lab = lab_options().get(name)
    if lab is None:
        return {"unit": "", "range": ""}
    return {"unit": "" if lab.qualitative else lab.unit, "range": lab_range(name)}


def _read_lab(r: dict[str, Any]) -> dict[str, str]:
    q = r.get("valueQuantity", {})
    name = next((n for n, lab in lab_options().items() if lab.loinc == _code(r.get("code"))), _text(r.get("code")))
    unit = str(q.get("code") or q.get("unit") or "")
    return {"visit": ref_id(r.get("encounter")), "test": name,
            "value": str(q.get("value", r.get("valueString", ""))), "unit": unit, "range": lab_range(name)}


def _build_lab(values: dict[str, str], ctx: EntryContext, existing: dict[str, Any] | None) -> dict[str, Any]:
    enc = _required_visit(values, ctx)
    name = _parse("test", lambda: v.choice("Test", values.get("test"), lab_options(), True))
    lab = lab_options()[name]
    res = _base(existing, "Observation")
    res["status"] = "final"
    res["category"] = [_cc(f"{TERMINOLOGY}/observation-category", "laboratory", "Laboratory")]
    res["code"] = _cc(LOINC, lab.loinc, lab.name)
    res["subject"] = _subject(ctx)
    res["encounter"] = {"reference": f"Encounter/{enc['id']}"}
    res["effectiveDateTime"] = enc["period"]["start"]
    raw = (values.get("value") or "").strip()
    res.pop("valueQuantity", None)
    res.pop("valueString", None)
    res.pop("referenceRange", None)
    if lab.qualitative:
        value = _parse("value", lambda: v.text("Result", raw, True, 40))
        if not re.fullmatch(r"(?i)negative|positive|[1-4]\+", value or ""):
            raise FieldError("value", "Result: type Negative, Positive, or a grade such as 2+")
        res["valueString"] = value.capitalize() if value and value[0].isalpha() else value
        res["referenceRange"] = [{"text": "Negative"}]
    else:
        number = _parse("value", lambda: v.number("Result", raw, True, low=0, high=MAX_LAB_RESULT))
        units = lab_units()
        unit = _parse("unit", lambda: v.choice("Unit", values.get("unit"), units)) or lab.unit
        res["valueQuantity"] = {"value": v.fhir_number(number), "unit": units[unit], "system": UCUM, "code": unit}
        res["referenceRange"] = [{"low": {"value": lab.normal[0], "unit": units[lab.unit], "system": UCUM, "code": lab.unit},
                                  "high": {"value": lab.normal[1], "unit": units[lab.unit], "system": UCUM,
                                           "code": lab.unit}}]
    return res


LABS = SectionSpec(
    "labs", "Lab results", "Observation",
    (FieldSpec("visit", "Visit", "select", lambda c: c.visit_options(), width="w-[174px]"),
     FieldSpec("test", "Test", "select", lambda _c: {k: k for k in lab_options()}, width="w-[170px]", fills=_lab_fills,
               searchable=True, grow=True),
     FieldSpec("value", "Result", width="w-[68px]"),
     FieldSpec("unit", "Unit", "select", lambda _c: lab_units(), width="w-[150px]"),
     FieldSpec("range", "Ref. range", width="w-[84px]", shown_only=True)),
    _read_lab, _build_lab,
    belongs=lambda r: "laboratory" in {c.get("code") for cat in r.get("category", []) for c in cat.get("coding", [])},
    add_label="Add result", carry=("visit",),
)


# ------------------------------------------------------------------------------------------ procedures
def _read_procedure(r: dict[str, Any]) -> dict[str, str]:
    return {"procedure": _text(r.get("code")), "date": _show_date(r.get("performedDateTime")),
            "visit": ref_id(r.get("encounter"))}


def _build_procedure(values: dict[str, str], ctx: EntryContext, existing: dict[str, Any] | None) -> dict[str, Any]:
    name = _parse("procedure", lambda: v.text("Procedure", values.get("procedure"), True))
    day = _parse("date", lambda: v.date("Date performed", values.get("date"), False, ctx.today, ctx.birth_date,
                                        "date of birth"))
    enc = _visit(values, ctx)
    service = procedure_options().get(name)
    res = _base(existing, "Procedure")
    res["status"] = "completed"
    res["code"] = (_cc(CPT if service.system == "CPT" else HCPCS, service.code, service.description, name)
                   if service else {"text": name})
    res["subject"] = _subject(ctx)
    _set(res, "performedDateTime", day.isoformat() if day else None)
    _set(res, "encounter", {"reference": f"Encounter/{enc['id']}"} if enc else None)
    return res


PROCEDURES = SectionSpec(
    "procedures", "Procedures", "Procedure",
    (FieldSpec("procedure", "Procedure", "combo", lambda _c: {k: k for k in procedure_options()},
               width="w-[200px]", grow=True),
     FieldSpec("date", "Date performed", "date", hint="MM/DD/YYYY", width="w-[110px]"),
     FieldSpec("visit", "Visit", "select", lambda c: c.visit_options(), width="w-[174px]")),
    _read_procedure, _build_procedure, add_label="Add procedure", carry=("visit",),
)


# ------------------------------------------------------------------------------------------ notes
def _read_note(r: dict[str, Any]) -> dict[str, str]:
    data = ((r.get("content") or [{}])[0].get("attachment") or {}).get("data", "")
    try:
        text = base64.b64decode(data).decode("utf-8") if data else ""
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    visit = ((r.get("context") or {}).get("encounter") or [{}])[0]
    return {"visit": ref_id(visit), "type": _code(r.get("type")), "text": text}


def _build_note(values: dict[str, str], ctx: EntryContext, existing: dict[str, Any] | None) -> dict[str, Any]:
    enc = _required_visit(values, ctx)
    ntype = _parse("type", lambda: v.choice("Note type", values.get("type"), NOTE_TYPES)) or "11506-3"
    text = _parse("text", lambda: v.text("Note text", values.get("text"), True, v.MAX_NOTE))
    res = _base(existing, "DocumentReference")
    res["status"], res["docStatus"] = "current", "final"
    res["type"] = _cc(LOINC, ntype, NOTE_TYPES[ntype])
    res["subject"] = _subject(ctx)
    start = enc["period"]["start"]
    res["date"] = start if len(start) > 10 else f"{start}T00:00:00{CLINIC_TZ}"
    res["content"] = [{"attachment": {"contentType": "text/plain; charset=utf-8",
                                      "data": base64.b64encode(text.encode("utf-8")).decode("ascii")}}]
    res["context"] = {"encounter": [{"reference": f"Encounter/{enc['id']}"}]}
    return res


NOTES = SectionSpec(
    "notes", "Notes", "DocumentReference",
    (FieldSpec("visit", "Visit", "select", lambda c: c.visit_options(), width="w-[174px]"),
     FieldSpec("type", "Note type", "select", lambda _c: NOTE_TYPES, width="w-56"),
     FieldSpec("text", "Note text", "textarea", width="w-full")),
    _read_note, _build_note, add_label="Add note", carry=("visit",),
)

LIST_SECTIONS = (ENCOUNTERS, PROBLEMS, MEDICATIONS, ALLERGIES, LABS, PROCEDURES, NOTES)


# ------------------------------------------------------------------------------------------ demographics
# USPS codes of the states, DC and the territories (USPS Publication 28, appendix B).
US_STATES = frozenset("""AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM
NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI UM FM MH PW AA AE AP""".split())
SEXES = {"female": "Female", "male": "Male", "other": "Other", "unknown": "Unknown"}
DEMOGRAPHIC_FIELDS = (
    FieldSpec("family", "Last name", width="w-48"), FieldSpec("given", "First name", width="w-48"),
    FieldSpec("middle", "Middle name or initial", width="w-44"),
    FieldSpec("birth_date", "Date of birth", "date", hint="MM/DD/YYYY", width="w-36"),
    FieldSpec("sex", "Sex", "select", lambda _c: SEXES, width="w-32"), FieldSpec("mrn", "MRN", width="w-36"),
    FieldSpec("street", "Street address", width="w-72"), FieldSpec("apartment", "Apt / unit", width="w-28"),
    FieldSpec("city", "City", width="w-48"), FieldSpec("state", "State", hint="2 letters", width="w-20"),
    FieldSpec("zip", "ZIP code", width="w-28"), FieldSpec("phone", "Phone", hint="(602) 555-0134", width="w-40"),
    FieldSpec("payer", "Primary insurance", width="w-64"), FieldSpec("member_id", "Member ID", width="w-40"),
)


def read_patient(patient: dict[str, Any], coverage: dict[str, Any] | None) -> dict[str, str]:
    name = (patient.get("name") or [{}])[0]
    given = name.get("given") or []
    address = (patient.get("address") or [{}])[0]
    line = address.get("line") or []
    phone = next((t.get("value", "") for t in patient.get("telecom", []) if t.get("system") == "phone"), "")
    mrn = next((i.get("value", "") for i in patient.get("identifier", []) if i.get("system") == MRN_SYSTEM), "")
    cov = coverage or {}
    return {
        "family": name.get("family", ""), "given": given[0] if given else "", "middle": given[1] if len(given) > 1 else "",
        "birth_date": _show_date(patient.get("birthDate")), "sex": patient.get("gender", ""), "mrn": mrn,
        "street": line[0] if line else "", "apartment": line[1] if len(line) > 1 else "",
        "city": address.get("city", ""), "state": address.get("state", ""), "zip": address.get("postalCode", ""),
        "phone": phone, "payer": ((cov.get("payor") or [{}])[0]).get("display", ""),
        "member_id": cov.get("subscriberId", ""),
    }


def build_patient(values: dict[str, str], ctx: EntryContext, existing: dict[str, Any] | None) -> dict[str, Any]:
    family = _parse("family", lambda: v.text("Last name", values.get("family"), limit=100))
    given = _parse("given", lambda: v.text("First name", values.get("given"), limit=100))
    middle = _parse("middle", lambda: v.text("Middle name", values.get("middle"), limit=100))
    birth = _parse("birth_date", lambda: v.date("Date of birth", values.get("birth_date"), False, ctx.today))
    sex = _parse("sex", lambda: v.choice("Sex", values.get("sex"), SEXES))
    mrn = _parse("mrn", lambda: v.text("MRN", values.get("mrn"), limit=40))
    street = _parse("street", lambda: v.text("Street address", values.get("street"), limit=200))
    apartment = _parse("apartment", lambda: v.text("Apt / unit", values.get("apartment"), limit=40))
    city = _parse("city", lambda: v.text("City", values.get("city"), limit=100))
    state = _parse("state", lambda: v.text("State", values.get("state"), limit=2 * 50))
    if state and state.upper() not in US_STATES:
        raise FieldError("state", f"State: {v.shown(state)} is not a US state or territory; the 2-letter USPS code, e.g. AZ")
    zip_code = _parse("zip", lambda: v.text("ZIP code", values.get("zip"), limit=10))
    if zip_code and not re.fullmatch(r"[0-9]{5}(-[0-9]{4})?", zip_code):
        raise FieldError("zip", f"ZIP code: {zip_code} is not a ZIP code; 5 digits, e.g. 85013")
    phone = _parse("phone", lambda: v.text("Phone", values.get("phone"), limit=30))
    if phone and (not re.fullmatch(r"[0-9()+.\- ]+", phone) or len(re.sub(r"[^0-9]", "", phone)) not in (10, 11)):
        raise FieldError("phone", f"Phone: {phone} is not a phone number; 10 digits, e.g. (602) 555-0134")
    res = _base(existing or {"id": ctx.patient_id}, "Patient")  # the workspace's patient, whose id others refer to
    names = [x for x in (given, middle) if x]
    _set(res, "name", [{"use": "official", **({"family": family} if family else {}), **({"given": names} if names else {})}]
         if family or names else None)
    _set(res, "birthDate", birth.isoformat() if birth else None)
    _set(res, "gender", sex)
    _set(res, "identifier", [{"use": "usual", "type": _cc(f"{TERMINOLOGY}/v2-0203", "MR", "Medical record number"),
                              "system": MRN_SYSTEM, "value": mrn}] if mrn else None)
    address = {k: val for k, val in (("line", [x for x in (street, apartment) if x]), ("city", city),
                                     ("state", state.upper() if state else None), ("postalCode", zip_code)) if val}
    _set(res, "address", [{"use": "home", **address}] if address else None)
    _set(res, "telecom", [{"system": "phone", "value": phone}] if phone else None)
    return res


def build_coverage(values: dict[str, str], ctx: EntryContext, existing: dict[str, Any] | None) -> dict[str, Any] | None:
    payer = _parse("payer", lambda: v.text("Primary insurance", values.get("payer"), limit=200))
    member = _parse("member_id", lambda: v.text("Member ID", values.get("member_id"), limit=40))
    if not payer and not member:
        return None
    if not payer:
        raise FieldError("payer", "Primary insurance: required when a member ID is entered")
    res = _base(existing, "Coverage")
    res["status"] = "active"
    res["beneficiary"] = _subject(ctx)
    res["payor"] = [{"display": payer}]
    _set(res, "subscriberId", member)
    return res


# ------------------------------------------------------------------------------------------ vitals
@dataclass(frozen=True)
class Vital:
    key: str
    label: str
    loinc: str
    display: str
    units: dict[str, str]  # UCUM code -> what the form shows
    plausible: dict[str, tuple[float, float]]  # unit -> range outside which we ask "are you sure?"
    possible: dict[str, tuple[int | float, int | float]]  # unit -> range outside which the value is refused


VITALS = (
    Vital("bp", "Blood pressure", "85354-9", "Blood pressure panel with all children optional", {"mm[Hg]": "mmHg"},
          {"mm[Hg]": (40, 260)}, {"mm[Hg]": (10, 400)}),
    Vital("pulse", "Pulse", "8867-4", "Heart rate", {"/min": "/min"}, {"/min": (30, 220)}, {"/min": (1, 350)}),
    Vital("resp", "Respirations", "9279-1", "Respiratory rate", {"/min": "/min"}, {"/min": (6, 60)}, {"/min": (1, 150)}),
    Vital("temp", "Temperature", "8310-5", "Body temperature", {"[degF]": "°F", "Cel": "°C"},
          {"[degF]": (93, 107), "Cel": (34, 42)}, {"[degF]": (59, 115), "Cel": (15, 46)}),
    Vital("spo2", "SpO2", "2708-6", "Oxygen saturation in Arterial blood", {"%": "%"}, {"%": (70, 100)}, {"%": (1, 100)}),
    Vital("weight", "Weight", "29463-7", "Body weight", {"[lb_av]": "lb", "kg": "kg"},
          {"[lb_av]": (2, 700), "kg": (1, 320)}, {"[lb_av]": (0.5, 1500), "kg": (0.2, 700)}),
    Vital("height", "Height", "8302-2", "Body height", {"[in_i]": "in", "cm": "cm"}, {"[in_i]": (12, 90), "cm": (30, 230)},
          {"[in_i]": (6, 110), "cm": (15, 280)}),
    Vital("bmi", "BMI", "39156-5", "Body mass index (BMI) [Ratio]", {"kg/m2": "kg/m²"}, {"kg/m2": (10, 80)},
          {"kg/m2": (5, 250)}),
)
VITAL_BY_LOINC = {vt.loinc: vt for vt in VITALS}


def read_vital(r: dict[str, Any]) -> tuple[str, str]:
    """(value as typed, UCUM unit) of a vital-sign Observation."""
    if r.get("component"):
        parts = [str(c.get("valueQuantity", {}).get("value", "")) for c in r["component"]]
        return "/".join(parts), "mm[Hg]"
    q = r.get("valueQuantity", {})
    return ("" if q.get("value") is None else str(q["value"])), str(q.get("code", ""))


def build_vital(vital: Vital, raw: str, unit: str, enc: dict[str, Any], ctx: EntryContext,
                existing: dict[str, Any] | None, confirmed: bool = False) -> dict[str, Any] | None:
    """The Observation for one vital sign, None when the field is emptied. Implausible values raise
    FieldError with `needs_confirmation` unless ``confirmed``."""
    value = (raw or "").strip()
    if not value:
        return None
    res = _base(existing, "Observation")
    res.pop("valueQuantity", None)
    res.pop("component", None)
    res["status"] = "final"
    res["category"] = [_cc(f"{TERMINOLOGY}/observation-category", "vital-signs", "Vital Signs")]
    res["code"] = _cc(LOINC, vital.loinc, vital.display)
    res["subject"] = _subject(ctx)
    res["encounter"] = {"reference": f"Encounter/{enc['id']}"}
    res["effectiveDateTime"] = enc["period"]["start"]
    low, high = vital.plausible[unit]
    if vital.key == "bp":
        match = re.fullmatch(r"([0-9]{2,3}) */ *([0-9]{2,3})", value)
        if not match:
            raise FieldError(vital.key, f"Blood pressure: {value} is not a blood pressure; type it as 120/80")
        sbp, dbp = int(match.group(1)), int(match.group(2))
        if sbp <= dbp:
            raise FieldError(vital.key, f"Blood pressure: {value}: the first number (systolic) must be the larger")
        if not confirmed and not (low <= dbp and sbp <= high):
            raise NeedsConfirmation(vital.key, f"Blood pressure {value} mmHg is outside {low:g}–{high:g}. Are you sure?")
        res["component"] = [
            {"code": _cc(LOINC, "8480-6", "Systolic blood pressure"),
             "valueQuantity": {"value": sbp, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}},
            {"code": _cc(LOINC, "8462-4", "Diastolic blood pressure"),
             "valueQuantity": {"value": dbp, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}}]
        return res
    hard_low, hard_high = vital.possible[unit]
    number = _parse(vital.key, lambda: v.number(vital.label, value, True, above=0))
    if not hard_low <= number <= hard_high:
        raise FieldError(vital.key, f"{vital.label}: {value} {vital.units[unit]} is not possible; expected "
                                    f"{hard_low:g} to {hard_high:g}")
    if not confirmed and not low <= number <= high:
        raise NeedsConfirmation(vital.key, f"{vital.label} {value} {vital.units[unit]} is outside {low:g}–{high:g}. "
                                           "Are you sure?")
    res["valueQuantity"] = {"value": v.fhir_number(number), "unit": vital.units[unit].replace("kg/m²", "kg/m2"),
                            "system": UCUM, "code": unit}
    return res


def build_keeping_valid(build: Callable[[dict[str, str], EntryContext, dict[str, Any] | None], dict[str, Any]],
                        read: Callable[[dict[str, Any]], dict[str, str]], values: dict[str, str], ctx: EntryContext,
                        existing: dict[str, Any] | None) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """Build the resource from what is valid: a field with a bad value keeps its last saved value.

    Returns (resource or None when even that cannot be built, {field: message} for every bad field).
    """
    saved = read(existing) if existing else {}
    values = dict(values)
    errors: dict[str, str] = {}
    while True:
        try:
            return build(values, ctx, existing), errors
        except FieldError as exc:
            if exc.field in errors:
                return None, errors
            errors[exc.field] = str(exc)
            values[exc.field] = saved.get(exc.field, "")


class NeedsConfirmation(FieldError):
    """A real but extreme value: the student is asked 'are you sure?' before it is saved."""
