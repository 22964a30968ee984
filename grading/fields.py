"""What each section grades: how to find an item's fields in FHIR JSON, compare them, and show them."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grading import equivalents as eq
from grading import normalize as n
from grading.rubric import Rubric

STRENGTH = re.compile(r"(\d+(?:\.\d+)?)\s*(mg|mcg|g|units?|%|mL|meq|iu)\b(?:\s*/\s*(\d*(?:\.\d+)?)\s*(mL|actuation|spray|hr|capsule|g))?",
                      re.IGNORECASE)


# ------------------------------------------------------------------------------------------ JSON access
def first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else (None if isinstance(value, list) else value)


def get(res: Any, *path: str) -> Any:
    for key in path:
        res = first(res)
        if not isinstance(res, dict):
            return None
        res = res.get(key)
    return res


_NO_CODES: frozenset[str] = frozenset()
_code_forms: dict[str, str] = {}  # code as written -> normalised ('e11.9' -> 'E119'), a cache


def _code_form(value: str) -> str:
    form = _code_forms.get(value)
    if form is None:
        form = "".join(value.split()).replace(".", "").upper()
        if len(_code_forms) < 100_000:  # bounded: codes typed by students are not a limited set
            _code_forms[value] = form
    return form


def codes(concept: Any) -> frozenset[str]:
    """Normalised codes of a CodeableConcept (system ignored: ICD 'E11.9' = 'e119')."""
    if isinstance(concept, list):
        concept = concept[0] if concept else None
    coding = concept.get("coding") if isinstance(concept, dict) else None
    if not isinstance(coding, list):
        return _NO_CODES
    if len(coding) == 1:  # the usual case: one coding
        x = coding[0]
        value = x.get("code") if isinstance(x, dict) else None
        if isinstance(value, str):
            value = _code_form(value)
            if value:
                return frozenset((value,))
        return _NO_CODES
    out = []
    for x in coding:  # n.code inlined: this runs for every coded element of both records
        value = x.get("code") if isinstance(x, dict) else None
        if isinstance(value, str):
            value = _code_form(value)
            if value:
                out.append(value)
    return frozenset(out)


def concept_text(concept: Any) -> str | None:
    if not isinstance(concept, dict):
        return None
    return n.text(concept.get("text")) or n.text(get(concept, "coding", "display"))


def concept_show(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    text = concept.get("text") if isinstance(concept.get("text"), str) else get(concept, "coding", "display")
    code = get(concept, "coding", "code")
    return str(text or code or "")


def show_date(value: Any) -> str:
    d = n.date(value)
    return d.strftime("%m/%d/%Y") if d else ("" if value is None else str(value))


def encounter_of(res: dict[str, Any]) -> Any:
    ref = res.get("encounter")
    if ref is None and isinstance(res.get("context"), dict):
        ref = first(res["context"].get("encounter"))
    return ref


# ------------------------------------------------------------------------------------------ comparing
@dataclass(frozen=True)
class Field:
    name: str  # rubric field key
    label: str  # words a student reads, e.g. "Date of birth"
    path: str  # FHIR element path for the finding
    value: Callable[[dict[str, Any], Any], Any]  # (resource, context) -> comparable value or None
    show: Callable[[dict[str, Any], Any], str]  # (resource, context) -> what to print
    compare: Callable[[Any, Any, Rubric], float] = lambda a, b, _r: 1.0 if a == b else 0.0


def name_compare(a: Any, b: Any, rubric: Rubric) -> float:
    if a == b:
        return 1.0
    if isinstance(a, str) and isinstance(b, str) and n.one_letter_off(a, b):
        return rubric.partial_credit["name_one_letter_off"]
    return 0.0


def date_compare(a: Any, b: Any, rubric: Rubric) -> float:
    if a == b:
        return 1.0
    if isinstance(a, dt.date) and isinstance(b, dt.date) and a.year == b.year and (a.month, a.day) == (b.day, b.month):
        return rubric.partial_credit["date_month_day_swapped"]
    return 0.0


def value_compare(a: Any, b: Any, rubric: Rubric) -> float:
    """Observation values: quantities after unit conversion within tolerance; other kinds exactly."""
    if a is None or b is None:
        return 0.0
    if a[0] == "quantity" and b[0] == "quantity":
        qa, qb = a[1], b[1]
        if n.same_quantity(qa, qb, rubric.tolerances):
            return 1.0
        return 1.0 if a[2] is not None and a[2] == b[2] and b[3] is None else 0.0  # a bare number with no unit
    if a[0] == "components" and b[0] == "components":
        return 1.0 if len(a[1]) == len(b[1]) and all(
            code_a == code_b and n.same_quantity(qa, qb, rubric.tolerances)
            for (code_a, qa), (code_b, qb) in zip(a[1], b[1], strict=True)) else 0.0
    return 1.0 if a == b else 0.0


def note_compare(a: Any, b: Any, rubric: Rubric) -> float:
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    want, got = a, b
    common = sum(min(want.count(w), got.count(w)) for w in set(want))
    ratio = common / max(len(want), len(got))
    return rubric.partial_credit["note_text_mostly_right"] if ratio >= 0.8 else 0.0


# ------------------------------------------------------------------------------------------ observation values
def observation_value(res: dict[str, Any], _ctx: Any) -> Any:
    if isinstance(res.get("valueQuantity"), dict):
        q = res["valueQuantity"]
        unit = q.get("code") or q.get("unit")
        return ("quantity", n.quantity(q), n.number(q.get("value")), unit if isinstance(unit, str) else None)
    if isinstance(res.get("component"), list):
        parts = []
        for comp in res["component"]:
            if isinstance(comp, dict):
                parts.append((codes(comp.get("code")), n.quantity(comp.get("valueQuantity"))))
        return ("components", tuple(sorted(parts, key=lambda p: sorted(p[0]))))
    if "valueString" in res:
        return ("text", n.text(res["valueString"]))
    if "valueCodeableConcept" in res:
        c = res["valueCodeableConcept"]
        return ("concept", codes(c) or concept_text(c))
    for key in ("valueBoolean", "valueInteger"):
        if key in res:
            return ("other", res[key])
    return None


def show_observation_value(res: dict[str, Any], _ctx: Any) -> str:
    if isinstance(res.get("valueQuantity"), dict):
        q = res["valueQuantity"]
        return f"{q.get('value')} {q.get('unit') or q.get('code') or ''}".strip()
    if isinstance(res.get("component"), list):
        return "/".join(str(get(c, "valueQuantity", "value")) for c in res["component"])
    if "valueString" in res:
        return str(res["valueString"])
    if "valueCodeableConcept" in res:
        return concept_show(res["valueCodeableConcept"])
    return ""


def observation_unit_kind(res: dict[str, Any], _ctx: Any) -> Any:
    if isinstance(res.get("valueQuantity"), dict):
        q = n.quantity(res["valueQuantity"])
        return q[0] if q else None
    if isinstance(res.get("component"), list):
        kinds = [n.quantity(get(c, "valueQuantity")) for c in res["component"]]
        return tuple(k[0] if k else None for k in kinds)
    return "no unit" if any(k in res for k in ("valueString", "valueCodeableConcept")) else None


# ------------------------------------------------------------------------------------------ resource helpers
def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def official_name(patient: dict[str, Any]) -> dict[str, Any]:
    names = [x for x in _list(patient.get("name")) if isinstance(x, dict)]
    return next((x for x in names if x.get("use") == "official"), names[0] if names else {})


def given(patient: dict[str, Any], i: int) -> Any:
    g = official_name(patient).get("given")
    return g[i] if isinstance(g, list) and len(g) > i else None


def mrn(patient: dict[str, Any]) -> Any:
    for ident in _list(patient.get("identifier")):
        if isinstance(ident, dict) and ("MR" in codes(ident.get("type")) or "mrn" in str(ident.get("system", "")).lower()):
            return ident.get("value")
    return None


def phone_of(patient: dict[str, Any]) -> Any:
    return next((t.get("value") for t in _list(patient.get("telecom")) if isinstance(t, dict) and t.get("system") == "phone"), None)


def address_of(patient: dict[str, Any]) -> dict[str, Any]:
    a = first(patient.get("address"))
    return a if isinstance(a, dict) else {}


def address_line(patient: dict[str, Any]) -> Any:
    line = address_of(patient).get("line")
    return " ".join(x for x in line if isinstance(x, str)) if isinstance(line, list) else None


def zip5(value: Any) -> str | None:
    return re.sub(r"\D", "", value)[:5] or None if isinstance(value, str) else None


def ident(value: Any) -> str | None:
    return re.sub(r"[\s-]", "", value).upper() or None if isinstance(value, str) else None


def medication_identity(res: dict[str, Any]) -> frozenset[str]:
    """What names the drug: its codes, its name, and the catalog ingredient behind a brand or clinical-drug name."""
    concept = res.get("medicationCodeableConcept")
    out = {f"c:{c}" for c in codes(concept)}
    name = med_name(res)
    if name:
        out.add(f"n:{name}")
    table = eq.equivalents().rxnorm_drugs
    for candidate in (get(concept, "text"), *(c.get("display") for c in _list(get(concept, "coding")) if isinstance(c, dict)),
                      *(table.get(c.get("code", "")) for c in _list(get(concept, "coding")) if isinstance(c, dict))):
        found = eq.ingredient(candidate) if isinstance(candidate, str) else None
        if found:
            out.add(f"i:{found}")
    return frozenset(out)


def identity_compare(a: Any, b: Any, _rubric: Rubric) -> float:
    return 1.0 if a and b and a & b else 0.0


def med_name(res: dict[str, Any]) -> str | None:
    concept = res.get("medicationCodeableConcept")
    display = get(concept, "coding", "display")
    if isinstance(display, str):
        return n.text(display)
    text = get(concept, "text")
    if isinstance(text, str):
        match = STRENGTH.search(text)
        return n.text(text[:match.start()] if match else text)
    return None


def strength(res: dict[str, Any]) -> tuple[str, ...] | None:
    """(amount in the base unit, unit kind, per amount, per unit): 100 mcg = 0.1 mg = ('0.1', 'mass', '', '')."""
    concept = res.get("medicationCodeableConcept")
    for candidate in (get(concept, "text"), get(concept, "coding", "display")):
        if isinstance(candidate, str):
            match = STRENGTH.search(candidate)
            if match:
                amount, unit, per, per_unit = match.groups()
                kind, factor = eq.equivalents().strength_units.get(unit.lower(), (unit.lower().rstrip("s"), 1.0))
                value = n.number(amount)
                scaled = n.number(round(float(value) * factor, 9)) if value is not None else None
                return (str(scaled), kind, str(n.number(per) if per else ""), (per_unit or "").lower().rstrip("s"))
    return None


def show_strength(res: dict[str, Any], _ctx: Any) -> str:
    concept = res.get("medicationCodeableConcept")
    text = get(concept, "text")
    match = STRENGTH.search(text) if isinstance(text, str) else None
    return match.group(0) if match else ""


def directions(res: dict[str, Any]) -> Any:
    dosage = first(res.get("dosageInstruction"))
    if not isinstance(dosage, dict):
        return None
    repeat = get(dosage, "timing", "repeat")
    dose = get(dosage, "doseAndRate", "doseQuantity", "value")
    words = eq.sig_words(dosage.get("text")) or None
    if isinstance(repeat, dict) and (repeat.get("frequency") is not None or dose is not None):
        prn = bool(dosage.get("asNeededBoolean") or dosage.get("asNeededCodeableConcept"))
        return (("structured", n.number(dose), repeat.get("frequency"), n.number(repeat.get("period")),
                 repeat.get("periodUnit"), n.text(get(dosage, "timing", "code", "text")), prn), words)
    return (None, words) if words else None


def directions_compare(a: Any, b: Any, _rubric: Rubric) -> float:
    """Both coded: the coded schedule decides. Otherwise the sig's words after abbreviations are expanded
    ('1 tab by mouth twice daily' = '1 tablet PO BID')."""
    if a[0] is not None and b[0] is not None:
        return 1.0 if a[0] == b[0] else 0.0
    return 1.0 if a[1] is not None and a[1] == b[1] else 0.0


def note_text(res: dict[str, Any]) -> str | None:
    attachment = get(res, "content", "attachment")
    data = attachment.get("data") if isinstance(attachment, dict) else None
    if isinstance(data, str):
        try:
            return base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
    return None


def note_words(res: dict[str, Any]) -> tuple[str, ...] | None:
    attachment = get(res, "content", "attachment")
    if not isinstance(attachment, dict):
        return None
    data = attachment.get("data")
    if isinstance(data, str):
        try:
            return tuple(n.words(base64.b64decode(data, validate=True).decode("utf-8")))
        except (binascii.Error, UnicodeDecodeError):
            return None
    return None


def reactions(res: dict[str, Any]) -> tuple[frozenset[str], ...] | None:
    """One set of names per reaction (its codes and its text), so 'hives' matches SNOMED 247472004 'hives'."""
    found = []
    for reaction in res.get("reaction") or [] if isinstance(res.get("reaction"), list) else []:
        for m in (reaction.get("manifestation") or []) if isinstance(reaction, dict) else []:
            text = concept_text(m)
            names = set(codes(m)) | ({text} if text else set())
            if names:
                found.append(frozenset(names))
    return tuple(found) or None


def reactions_compare(a: Any, b: Any, _rubric: Rubric) -> float:
    if not a or not b:
        return 0.0
    covered = all(any(x & y for y in b) for x in a) and all(any(x & y for x in a) for y in b)
    return 1.0 if covered else 0.0


def performed_date(res: dict[str, Any]) -> Any:
    return n.date(res.get("performedDateTime") or get(res, "performedPeriod", "start"))
