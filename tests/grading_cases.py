"""The adversarial grading set's machinery: a student's copy of a key, and the edits a student makes.

The cases themselves are data (tests/data/grading_adversarial.toml), written from the HIM side: what a
student types that means the same as the chart, one real error with the price the rubric promises,
and bad input. Each case names an *edit* below and its parameters; the edit turns the student's
faithful copy of the chart into what that student typed.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import functools
import tomllib
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulator.generate import generate_case, load_scenario
from simulator.generate.case_files import preentered_record

CASES_FILE = Path(__file__).parent / "data" / "grading_adversarial.toml"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
STAFF = ("Organization", "Practitioner")


def load_cases() -> list[dict[str, Any]]:
    return tomllib.loads(CASES_FILE.read_text(encoding="utf-8"))["case"]


@functools.cache
def scenario(slug: str):
    return load_scenario(slug)


@functools.cache
def case_key(slug: str, seed: int) -> dict[str, Any]:
    return generate_case(scenario(slug), seed).key


@functools.cache
def planted(slug: str, seed: int) -> tuple[dict[str, Any], list[dict[str, str]]]:
    record, faults = preentered_record(generate_case(scenario(slug), seed))
    return record, [f.as_dict() for f in faults]


def of(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def category(r: dict[str, Any]) -> str:
    return ((r.get("category") or [{}])[0].get("coding") or [{}])[0].get("code", "")


def code_of(r: dict[str, Any], element: str = "code") -> str:
    concept = r.get(element) or {}
    return ((concept.get("coding") or [{}])[0]).get("code", "")


def note_text(doc: dict[str, Any]) -> str:
    return base64.b64decode(doc["content"][0]["attachment"]["data"]).decode("utf-8")


# ------------------------------------------------------------------------------------------ finding a key
def has(key: dict[str, Any], need: str) -> bool:
    """Does this key have what a case needs? ``need`` is e.g. ``med:atorvastatin``, ``allergy:NKDA``."""
    what, _, value = need.partition(":")
    if what == "med":
        return any(_med_name(m) == value for m in of(key, "MedicationRequest"))
    if what == "allergy":
        return any(_allergy_name(a) == value for a in of(key, "AllergyIntolerance"))
    if what == "problem":
        return any(code_of(c) == value for c in of(key, "Condition"))
    if what == "lab":
        return any(code_of(o) == value for o in of(key, "Observation"))
    if what == "patients":
        return len(of(key, "Patient")) >= int(value)
    if what == "visits":
        return len(of(key, "Encounter")) >= int(value)
    if what == "procedure":
        return bool(of(key, "Procedure"))
    if what == "superbill-only-dx":
        return any(superbill_only_codes(key).values())
    if what == "dose-text":
        return any(value in (m.get("dosageInstruction") or [{}])[0].get("text", "") for m in of(key, "MedicationRequest"))
    if what == "reason":
        return any(value in (e.get("reasonCode") or [{}])[0].get("text", "") for e in of(key, "Encounter"))
    raise ValueError(f"unknown need {need!r}")


@functools.cache
def key_with(slug: str, needs: tuple[str, ...]) -> tuple[int, dict[str, Any]]:
    """The first seed (from the scenario's default on) whose key has everything ``needs`` lists."""
    start = scenario(slug).default_seed
    for seed in range(start, start + 400):
        key = case_key(slug, seed)
        if all(has(key, n) for n in needs):
            return seed, key
    raise LookupError(f"{slug}: no seed with {needs}")


def _med_name(m: dict[str, Any]) -> str:
    concept = m.get("medicationCodeableConcept") or {}
    return ((concept.get("coding") or [{}])[0]).get("display") or concept.get("text", "")


def _allergy_name(a: dict[str, Any]) -> str:
    return (a.get("code") or {}).get("text", "")


def superbill_only_diagnoses(key: dict[str, Any]) -> list[dict[str, Any]]:
    """Visit diagnoses the progress note never names (they come from the superbill's coding lines)."""
    notes = {ref(d["context"]["encounter"][0]): note_text(d).lower() for d in of(key, "DocumentReference")}
    out = []
    for c in of(key, "Condition"):
        if category(c) == "encounter-diagnosis" and c["code"].get("text", "").lower() not in notes.get(ref(c["encounter"]), ""):
            out.append(c)
    return out


def superbill_only_codes(key: dict[str, Any]) -> dict[str, set[str]]:
    """Per visit (encounter id), the claim's diagnosis codes that no condition the note names carries: the lines
    the coder adds from the medication list or the history (Z79 long-term use, Z87.891), printed on the superbill."""
    notes = {ref(d["context"]["encounter"][0]): note_text(d).lower() for d in of(key, "DocumentReference")}
    out: dict[str, set[str]] = {}
    for claim in of(key, "Claim"):
        visit = next(ref(x) for i in claim.get("item", []) for x in i.get("encounter", []))
        named = {code_of(c) for c in of(key, "Condition") if c["code"].get("text", "").lower() in notes.get(visit, "")}
        codes = {c["code"] for d in claim.get("diagnosis", []) for c in d["diagnosisCodeableConcept"]["coding"]}
        out[visit] = codes - named
    return out


def ref(reference: dict[str, Any]) -> str:
    return str(reference.get("reference", "")).rsplit(":", 1)[-1].rsplit("/", 1)[-1]


# ------------------------------------------------------------------------------------------ the student's copy
def student_copy(key: dict[str, Any], *, coding: bool) -> dict[str, Any]:
    """What a careful student's workspace exports for this chart: new ids, `Type/id` references, no staff
    resources (the form has none), a Coverage with the payer as text, claims only when the task is coding."""
    entries = [copy.deepcopy(e["resource"]) for e in key["entry"] if e["resource"]["resourceType"] not in STAFF
               and (coding or e["resource"]["resourceType"] != "Claim")]
    types = {e["resource"]["id"]: e["resource"]["resourceType"] for e in key["entry"]}
    new_id = {old: str(uuid.uuid5(uuid.NAMESPACE_URL, f"student:{old}")) for old in types}

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for k, val in node.items():
                if k == "reference" and isinstance(val, str) and val.startswith("urn:uuid:"):
                    old = val.removeprefix("urn:uuid:")
                    if types.get(old) in STAFF:
                        return None
                    out[k] = f"{types[old]}/{new_id[old]}"
                else:
                    val = rewrite(val)
                    if val is not None:
                        out[k] = val
            return out
        if isinstance(node, list):
            return [x for x in (rewrite(x) for x in node) if x is not None]
        return node

    resources = []
    for r in entries:
        payer = [p.get("display") for p in r.get("payor", [])] if r["resourceType"] == "Coverage" else []
        r = rewrite(r)
        r["id"] = new_id[r["id"]]
        for k in ("requester", "serviceProvider", "generalPractitioner", "author", "participant", "performer"):
            if k in r and not r[k]:
                del r[k]
        if r["resourceType"] == "Coverage":
            r["payor"] = [{"display": p} for p in payer]
        if r["resourceType"] == "Claim":
            r["provider"] = {"display": "Rendering clinic"}
        resources.append(r)
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]}


# ------------------------------------------------------------------------------------------ edits
EDITS: dict[str, Callable[..., None]] = {}


def edit(fn: Callable[..., None]) -> Callable[..., None]:
    EDITS[fn.__name__] = fn
    return fn


def _pick(items: list[dict[str, Any]], pred: Callable[[dict[str, Any]], bool] | None = None, nth: int = 0) -> dict[str, Any]:
    chosen = [r for r in items if pred is None or pred(r)]
    return chosen[nth]


def _drop(sub: dict[str, Any], resource: dict[str, Any]) -> None:
    sub["entry"] = [e for e in sub["entry"] if e["resource"] is not resource]


def _add(sub: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    resource["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"added:{len(sub['entry'])}:{resource['resourceType']}"))
    sub["entry"].append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})
    return resource


def med(sub: dict[str, Any], drug: str | None = None) -> dict[str, Any]:
    return _pick(of(sub, "MedicationRequest"), (lambda m: _med_name(m) == drug) if drug else None)


def patient(sub: dict[str, Any], nth: int = 0) -> dict[str, Any]:
    return of(sub, "Patient")[nth]


def vital(sub: dict[str, Any], loinc: str, nth: int = 0) -> dict[str, Any]:
    return _pick(of(sub, "Observation"), lambda o: code_of(o) == loinc, nth)


@edit
def nothing(sub: dict[str, Any], key: dict[str, Any]) -> None:
    """The faithful copy itself."""


STREET_SUFFIXES = {"Road": "Rd", "Street": "St", "Avenue": "Ave", "Drive": "Dr", "Lane": "Ln", "Boulevard": "Blvd",
                   "Court": "Ct", "Place": "Pl", "Circle": "Cir", "Parkway": "Pkwy", "Radial": "Radl", "Mount": "Mt",
                   "Trail": "Trl", "Terrace": "Ter", "Highway": "Hwy", "Square": "Sq", "Heights": "Hts", "Ridge": "Rdg",
                   "Point": "Pt", "Crossing": "Xing", "Estates": "Ests", "Junction": "Jct", "Manor": "Mnr",
                   "Station": "Sta", "Village": "Vlg", "View": "Vw", "Way": "Way"}


def resolve(value: Any, current: Any) -> Any:
    """Placeholders in the case data, computed from what the chart says (``current``)."""
    if not (isinstance(value, str) and value.startswith("__")):
        return value
    cur = str(current)
    if value == "__UPPER__":
        return cur.upper()
    if value == "__CAPITALISED__":
        return cur[:1].upper() + cur[1:]
    if value == "__STREET_LONG__":
        words = cur.split()
        full = {v: k for k, v in STREET_SUFFIXES.items()}
        last = words[-1]
        words[-1] = full.get(last, STREET_SUFFIXES.get(last, last))
        return " ".join(words)
    if value == "__DIGITS__":
        return "".join(ch for ch in cur if ch.isdigit())
    if value == "__DASHES__":
        d = "".join(ch for ch in cur if ch.isdigit())
        return f"{d[:3]}-{d[3:6]}-{d[6:]}"
    if value == "__SPACED__":
        return cur[: len(cur) // 2] + " " + cur[len(cur) // 2:]
    if value == "__DOB_DIGIT__":
        return cur[:3] + str((int(cur[3]) + 1) % 10) + cur[4:]
    if value == "__DIGIT__":
        return cur[:-1] + str((int(cur[-1]) + 1) % 10)
    if value == "__MISSPELT__":
        i = next(i for i in range(1, len(cur)) if cur[i] in "aeiou")
        return cur[:i] + ("e" if cur[i] != "e" else "a") + cur[i + 1:]
    if value == "__OTHER_SEX__":
        return "female" if cur == "male" else "male"
    if value in ("__MG__", "__NOSPACE__", "__GRAM__", "__OTHER_STRENGTH__"):
        number, unit = cur.split()[:2]
        n = float(number)
        if value == "__MG__":
            return f"{n / 1000:g} mg" if unit == "mcg" else f"{n * 1000:g} mcg"
        if value == "__NOSPACE__":
            return f"{number}{unit}"
        if value == "__GRAM__":
            return f"{n / 1000:g} g"
        return f"{n * 2:g} {unit}"
    raise ValueError(f"unknown placeholder {value}")


@edit
def set_patient(sub, key, field: str, value: Any, nth: int = 0) -> None:
    p = patient(sub, nth)
    if field == "family":
        p["name"][0]["family"] = resolve(value, p["name"][0]["family"])
    elif field == "given":
        p["name"][0]["given"][0] = resolve(value, p["name"][0]["given"][0])
    elif field == "line":
        p["address"][0]["line"][0] = resolve(value, p["address"][0]["line"][0])
    elif field in ("city", "state", "postalCode"):
        p["address"][0][field] = resolve(value, p["address"][0][field])
    elif field == "phone":
        p["telecom"][0]["value"] = resolve(value, p["telecom"][0]["value"])
    elif field == "mrn":
        p["identifier"][0]["value"] = resolve(value, p["identifier"][0]["value"])
    else:
        p[field] = resolve(value, p.get(field))


@edit
def drop_patient_field(sub, key, field: str) -> None:
    patient(sub).pop(field, None)


@edit
def set_coverage(sub, key, payer: str | None = None, member: str | None = None, nth: int = 0) -> None:
    cov = of(sub, "Coverage")[nth]
    if payer is not None:
        cov["payor"] = [{"display": resolve(payer, cov["payor"][0]["display"])}]
    if member is not None:
        cov["subscriberId"] = resolve(member, cov["subscriberId"])


@edit
def member_id_typo(sub, key) -> None:
    cov = of(sub, "Coverage")[0]
    mid = cov["subscriberId"]
    swap = "7" if mid[-1] != "7" else "8"
    cov["subscriberId"] = mid[:-1] + swap


@edit
def drop_coverage(sub, key) -> None:
    _drop(sub, of(sub, "Coverage")[0])


@edit
def med_text(sub, key, text: str, drug: str | None = None) -> None:
    """A drug typed in words the form's list doesn't have: stored as text only (e.g. a brand name)."""
    m = med(sub, drug)
    full = m["medicationCodeableConcept"].get("text", "")
    name = _med_name(m)
    strength = full[len(name):].strip() if full.startswith(name) else ""
    m["medicationCodeableConcept"] = {"text": text.format(strength=strength)}


@edit
def med_code(sub, key, code: str, display: str, drug: str | None = None, keep_text: bool = True) -> None:
    m = med(sub, drug)
    concept = {"coding": [{"system": RXNORM, "code": code, "display": display}]}
    if keep_text:
        concept["text"] = m["medicationCodeableConcept"].get("text", display)
    m["medicationCodeableConcept"] = concept


@edit
def med_swap(sub, key, drug: str, to: str, code: str, text: str | None = None) -> None:
    """The wrong drug on a row: another catalog drug, coded as the form codes it."""
    m = med(sub, drug)
    full = m["medicationCodeableConcept"].get("text", "")
    m["medicationCodeableConcept"] = {"coding": [{"system": RXNORM, "code": code, "display": to}],
                                      "text": text or full.replace(drug, to)}


@edit
def med_strength_text(sub, key, drug: str, strength: str) -> None:
    m = med(sub, drug)
    concept = m["medicationCodeableConcept"]
    name = _med_name(m)
    rest = concept["text"][len(name):].split()
    current, form = " ".join(rest[:2]), " ".join(rest[2:])
    concept["text"] = f"{name} {resolve(strength, current)} {form}".strip()


@edit
def med_sig_text(sub, key, text: str, drug: str | None = None, structured: bool = True) -> None:
    """Directions typed in other words; ``structured=False`` drops the coded timing (a free-text sig)."""
    dosage = med(sub, drug)["dosageInstruction"][0]
    dosage["text"] = text
    if not structured:
        for k in ("timing", "route", "doseAndRate", "asNeededCodeableConcept"):
            dosage.pop(k, None)


@edit
def med_frequency(sub, key, code: str, frequency: int, period: float, unit: str, drug: str | None = None) -> None:
    dosage = med(sub, drug)["dosageInstruction"][0]
    old = dosage["timing"]["code"]["text"]
    dosage["timing"] = {"repeat": {"frequency": frequency, "period": period, "periodUnit": unit}, "code": {"text": code}}
    dosage["text"] = dosage["text"].replace(old, code)


@edit
def med_field(sub, key, field: str, value: Any, drug: str | None = None) -> None:
    m = med(sub, drug)
    if field == "status" and not drug:  # a status case changes a drug the chart lists with another status
        m = _pick(of(sub, "MedicationRequest"), lambda r: r.get("status") != value)
    if value is None:
        m.pop(field, None)
    else:
        m[field] = value


@edit
def drop_med(sub, key, drug: str | None = None) -> None:
    _drop(sub, med(sub, drug))


@edit
def duplicate_med(sub, key, drug: str | None = None) -> None:
    _add(sub, copy.deepcopy(med(sub, drug)))


@edit
def nkda_as(sub, key, text: str, coded: bool = False) -> None:
    a = _pick(of(sub, "AllergyIntolerance"), lambda a: _allergy_name(a) == "NKDA")
    a["code"] = ({"coding": [{"system": SNOMED, "code": "409137002", "display": "No known drug allergy"}], "text": text}
                 if coded else {"text": text})


@edit
def drop_allergy(sub, key, substance: str) -> None:
    _drop(sub, _pick(of(sub, "AllergyIntolerance"), lambda a: _allergy_name(a) == substance))


@edit
def allergy_swap(sub, key, substance: str, to: str, code: str) -> None:
    a = _pick(of(sub, "AllergyIntolerance"), lambda a: _allergy_name(a) == substance)
    a["code"] = {"coding": [{"system": RXNORM, "code": code, "display": to}], "text": to}


@edit
def allergy_text(sub, key, substance: str, text: str) -> None:
    a = _pick(of(sub, "AllergyIntolerance"), lambda a: _allergy_name(a) == substance)
    a["code"] = {"text": text}


@edit
def allergy_severity(sub, key, substance: str, severity: str | None) -> None:
    a = _pick(of(sub, "AllergyIntolerance"), lambda a: _allergy_name(a) == substance)
    for reaction in a.get("reaction", []):
        if severity is None:
            reaction.pop("severity", None)
        else:
            reaction["severity"] = severity


def _problem(sub, code: str) -> dict[str, Any]:
    return _pick(of(sub, "Condition"), lambda c: code_of(c) == code and category(c) == "problem-list-item")


@edit
def problem_coding(sub, key, code: str, system: str, to: str, display: str, keep_text: bool = True) -> None:
    c = _problem(sub, code)
    concept = {"coding": [{"system": system, "code": to, "display": display}]}
    if keep_text:
        concept["text"] = c["code"].get("text", display)
    c["code"] = concept


@edit
def problem_text_only(sub, key, code: str, text: str) -> None:
    _problem(sub, code)["code"] = {"text": text}


@edit
def problem_onset(sub, key, code: str, onset: str | None) -> None:
    c = _problem(sub, code)
    if onset is None:
        c.pop("onsetDateTime", None)
    else:
        c["onsetDateTime"] = onset


@edit
def problem_status(sub, key, code: str, status: str) -> None:
    _problem(sub, code)["clinicalStatus"]["coding"][0]["code"] = status


@edit
def drop_problem(sub, key, code: str) -> None:
    _drop(sub, _problem(sub, code))


@edit
def drop_superbill_only_dx(sub, key) -> None:
    """The student records the visit diagnoses the note's assessment names, not the superbill's extra lines
    (whether the key makes them visit diagnoses the note never names, or puts them on the claim only)."""
    texts = {(c["code"]["text"], c.get("onsetDateTime")) for c in superbill_only_diagnoses(key)}
    claim_only: dict[str, set[str]] = {}
    for visit, codes in superbill_only_codes(key).items():  # the student's copy renames every id
        claim_only[visit] = claim_only[str(uuid.uuid5(uuid.NAMESPACE_URL, f"student:{visit}"))] = codes
    ids = {c["id"] for c in superbill_only_diagnoses(key)} | {c for codes in claim_only.values() for c in codes}
    for c in list(of(sub, "Condition")):
        if category(c) == "encounter-diagnosis" and ((c["code"].get("text"), c.get("onsetDateTime")) in texts
                                                     or code_of(c) in claim_only.get(ref(c.get("encounter") or {}), ())):
            _drop(sub, c)
    for enc in of(sub, "Encounter"):
        kept = [d for d in enc.get("diagnosis", []) if ref(d["condition"]) in {r["id"] for r in of(sub, "Condition")}]
        if "diagnosis" in enc:
            enc["diagnosis"] = kept
    assert ids


@edit
def visit_dx_without_onset(sub, key) -> None:
    for c in of(sub, "Condition"):
        if category(c) == "encounter-diagnosis":
            c.pop("onsetDateTime", None)


def encounter(sub, nth: int = 0, pat: int | None = None) -> dict[str, Any]:
    encs = of(sub, "Encounter")
    if pat is not None:
        pid = patient(sub, pat)["id"]
        encs = [e for e in encs if ref(e["subject"]) == pid]
    return sorted(encs, key=lambda e: e["period"]["start"])[nth]


@edit
def set_reason(sub, key, text: str, nth: int = 0) -> None:
    enc = encounter(sub, nth)
    enc["reasonCode"] = [{"text": resolve(text, enc["reasonCode"][0]["text"])}]


@edit
def reason_replace(sub, key, old: str, new: str) -> None:
    enc = _pick(of(sub, "Encounter"), lambda e: old in (e.get("reasonCode") or [{}])[0].get("text", ""))
    enc["reasonCode"][0]["text"] = enc["reasonCode"][0]["text"].replace(old, new)


def _shift(instant: str, hours: int) -> str:
    when = dt.datetime.fromisoformat(instant)
    return when.astimezone(dt.timezone(dt.timedelta(hours=hours))).isoformat()


@edit
def encounter_in_zone(sub, key, hours: int, nth: int = 0, everything: bool = False) -> None:
    """The same instant written in another time zone (``hours`` from UTC)."""
    targets = [encounter(sub, nth)] if not everything else of(sub, "Encounter")
    for enc in targets:
        enc["period"] = {k: _shift(v, hours) for k, v in enc["period"].items()}
    if everything:
        for o in of(sub, "Observation"):
            o["effectiveDateTime"] = _shift(o["effectiveDateTime"], hours)


@edit
def encounter_date(sub, key, date: str | None = None, days: int = 0, nth: int = 0) -> None:
    enc = encounter(sub, nth)
    start = enc["period"]["start"]
    new = (dt.date.fromisoformat(start[:10]) + dt.timedelta(days=days)).isoformat() if date is None else date
    enc["period"] = {"start": new + start[10:]}


@edit
def encounter_time(sub, key, time: str, nth: int = 0) -> None:
    enc = encounter(sub, nth)
    start = enc["period"]["start"]
    enc["period"] = {"start": start[:11] + time + start[16:]}


@edit
def encounter_class(sub, key, code: str, nth: int = 0) -> None:
    encounter(sub, nth)["class"] = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": code}


@edit
def drop_encounter(sub, key, nth: int = 0, pat: int | None = None) -> None:
    """A whole visit left out: the encounter and everything recorded at it."""
    enc = encounter(sub, nth, pat)
    _drop(sub, enc)
    for r in [e["resource"] for e in sub["entry"]]:
        linked = r.get("encounter") or (r.get("context") or {}).get("encounter", [None])[0]
        if isinstance(linked, list):
            linked = linked[0] if linked else None
        if linked and ref(linked) == enc["id"]:
            _drop(sub, r)
        if r["resourceType"] == "Claim" and any(ref(x) == enc["id"] for i in r.get("item", []) for x in i.get("encounter", [])):
            _drop(sub, r)


@edit
def duplicate_encounter(sub, key, nth: int = 0) -> None:
    _add(sub, copy.deepcopy(encounter(sub, nth)))


@edit
def break_observation_links(sub, key, nth: int = 0) -> None:
    """The visit was entered with another id than its observations point at (a broken link)."""
    enc = encounter(sub, nth)
    for o in of(sub, "Observation"):
        if ref(o["encounter"]) == enc["id"]:
            o["encounter"] = {"reference": "Encounter/0d6f0bde-0000-4000-8000-00000000dead"}


@edit
def bp_split(sub, key, nth: int = 0) -> None:
    """Blood pressure as two Observations (systolic 8480-6, diastolic 8462-4), as many EHRs store it."""
    bp = vital(sub, "85354-9", nth)
    _drop(sub, bp)
    for comp in bp["component"]:
        obs = {k: copy.deepcopy(v) for k, v in bp.items() if k not in ("component", "id", "code")}
        obs["code"] = comp["code"]
        obs["valueQuantity"] = comp["valueQuantity"]
        _add(sub, obs)


@edit
def bp_code(sub, key, code: str, display: str, nth: int = 0) -> None:
    vital(sub, "85354-9", nth)["code"] = {"coding": [{"system": LOINC, "code": code, "display": display}]}


@edit
def bp_transposed(sub, key, nth: int = 0) -> None:
    comps = vital(sub, "85354-9", nth)["component"]
    comps[0]["valueQuantity"]["value"], comps[1]["valueQuantity"]["value"] = (
        comps[1]["valueQuantity"]["value"], comps[0]["valueQuantity"]["value"])


@edit
def vital_value(sub, key, loinc: str, value: float | None = None, add: float = 0.0, unit: str | None = None,
                code: str | None = None, nth: int = 0, convert: str | None = None) -> None:
    q = vital(sub, loinc, nth)["valueQuantity"]
    if convert == "lb->kg":
        q.update(value=round(q["value"] * 0.45359237, 2), unit="kg", code="kg")
    elif convert == "degF->Cel":
        q.update(value=round((q["value"] - 32) * 5 / 9, 2), unit="°C", code="Cel")
    elif convert == "in->cm":
        q.update(value=round(q["value"] * 2.54, 1), unit="cm", code="cm")
    else:
        q["value"] = value if value is not None else round(q["value"] + add, 2)
    if unit is not None:
        q["unit"] = unit
    if code is not None:
        q["code"] = code


@edit
def drop_vital(sub, key, loinc: str, nth: int = 0) -> None:
    _drop(sub, vital(sub, loinc, nth))


@edit
def lab_value(sub, key, loinc: str, value: float | None = None, unit: str | None = None, code: str | None = None,
              text_value: str | None = None) -> None:
    o = vital(sub, loinc)
    q = o.get("valueQuantity", {})
    if value is not None:
        q["value"] = value
    if unit is not None:
        q["unit"] = unit
    if code is not None:
        q["code"] = code
    if text_value is not None:
        o.pop("valueQuantity", None)
        o["valueString"] = text_value


@edit
def lab_unit_only(sub, key, loinc: str, unit: str) -> None:
    """The unit typed as the lab report prints it: the form stores what is typed as unit and code."""
    q = vital(sub, loinc)["valueQuantity"]
    q["unit"] = unit
    q["code"] = unit


@edit
def procedure_date(sub, key, days: int) -> None:
    p = of(sub, "Procedure")[0]
    when = p["performedDateTime"]
    p["performedDateTime"] = (dt.date.fromisoformat(when[:10]) + dt.timedelta(days=days)).isoformat()


@edit
def procedure_date_only(sub, key) -> None:
    p = of(sub, "Procedure")[0]
    p["performedDateTime"] = p["performedDateTime"][:10]


@edit
def drop_procedure(sub, key) -> None:
    _drop(sub, of(sub, "Procedure")[0])


@edit
def note_text_edit(sub, key, keep: float = 1.0, nth: int = 0, append: str = "", case: str = "") -> None:
    doc = sorted(of(sub, "DocumentReference"), key=lambda d: d["date"])[nth]
    text = note_text(doc)
    words = text.split()
    text = " ".join(words[: max(1, int(len(words) * keep))]) if keep < 1 else text
    text = text + append
    if case == "upper":
        text = text.upper()
    if case == "reflow":
        text = " ".join(text.split())
    doc["content"][0]["attachment"]["data"] = base64.b64encode(text.encode()).decode()


@edit
def note_summary(sub, key, nth: int = 0) -> None:
    """A short note: only the chief complaint line."""
    doc = sorted(of(sub, "DocumentReference"), key=lambda d: d["date"])[nth]
    text = note_text(doc).splitlines()[0]
    doc["content"][0]["attachment"]["data"] = base64.b64encode(text.encode()).decode()


def _claims(sub) -> list[dict[str, Any]]:
    return sorted(of(sub, "Claim"), key=lambda c: c["created"])


@edit
def claim_first_dx(sub, key, to: str, nth: int = 0) -> None:
    """A wrong first-listed diagnosis: the code at sequence 1 replaced (pointers unchanged)."""
    c = _claims(sub)[nth]
    c["diagnosis"][0]["diagnosisCodeableConcept"] = {"coding": [{"system": ICD, "code": to}]}


@edit
def claim_swap_first_two(sub, key, nth: int = 0) -> None:
    c = _claims(sub)[nth]
    d = c["diagnosis"]
    d[0]["diagnosisCodeableConcept"], d[1]["diagnosisCodeableConcept"] = d[1]["diagnosisCodeableConcept"], d[0]["diagnosisCodeableConcept"]


@edit
def claim_code_format(sub, key, nth: int = 0) -> None:
    """Codes typed without the dot and in lower case (e1165 for E11.65)."""
    for dx in _claims(sub)[nth]["diagnosis"]:
        coding = dx["diagnosisCodeableConcept"]["coding"][0]
        coding["code"] = coding["code"].replace(".", "").lower()


@edit
def claim_drop_line(sub, key, nth: int = 0, line: int = -1) -> None:
    c = _claims(sub)[nth]
    c["item"].pop(line)


@edit
def claim_dx_order(sub, key, nth: int = 0) -> None:
    """Secondary diagnoses in another order, pointers following them (the order of secondaries is free)."""
    c = _claims(sub)[nth]
    dx = c["diagnosis"]
    if len(dx) < 3:
        return
    old = [d["sequence"] for d in dx]
    rest = dx[1:][::-1]
    new_order = [dx[0], *rest]
    remap = {d["sequence"]: i + 1 for i, d in enumerate(new_order)}
    for i, d in enumerate(new_order):
        d["sequence"] = i + 1
    c["diagnosis"] = new_order
    for item in c["item"]:
        item["diagnosisSequence"] = [remap[s] for s in item.get("diagnosisSequence", []) if s in remap]
    assert old


@edit
def replace_submission(sub, key, value: Any) -> None:
    sub.clear()
    sub["__replace__"] = value


@edit
def patient_value(sub, key, field: str, value: Any) -> None:
    patient(sub)[field] = value


@edit
def verify_fix(sub, key, leave: int = 0) -> None:
    """Verify task: start from the pre-entered record and correct every planted error except ``leave`` of them."""


def apply(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, str]] | None]:
    """(key, submission, planted faults or None) for one case."""
    slug = case["scenario"]
    seed, key = key_with(slug, tuple(case.get("needs", ())))
    sc = scenario(slug)
    faults = None
    if "verify" in sc.tasks:
        record, faults = planted(slug, seed)
        sub = verify_submission(key, record, faults, case.get("leave", 0))
    else:
        sub = student_copy(key, coding="code" in sc.tasks)
    params = {k: v for k, v in case.items() if k not in ("id", "scenario", "expect", "why", "held_out", "needs", "edit",
                                                          "at_most", "blank", "message", "section", "findings", "leave",
                                                          "not_message", "kind", "min_lost", "max_lost")}
    EDITS[case["edit"]](sub, key, **params)
    if "__replace__" in sub:
        return key, sub["__replace__"], faults
    return key, sub, faults


def corrected(faults: list[dict[str, str]], leave: int) -> list[dict[str, str]]:
    """The planted errors a verify student corrects: all but those on the resources of the first ``leave``."""
    left = {f["resource_id"] for f in faults[:leave]}
    return [f for f in faults if f["resource_id"] not in left]


def verify_submission(key: dict[str, Any], record: dict[str, Any], faults: list[dict[str, str]], leave: int) -> dict[str, Any]:
    """A verify student's record: the clerk's record, with all planted errors but the first ``leave`` corrected.

    Correcting an error means putting back what the chart says: the key's resource, which has the same id."""
    sub = copy.deepcopy(record)
    sub["entry"] = [e for e in sub["entry"] if e["resource"]["resourceType"] not in STAFF]
    by_id = {e["resource"]["id"]: e["resource"] for e in key["entry"]}
    for fault in corrected(faults, leave):
        good = copy.deepcopy(by_id[fault["resource_id"]])
        sub["entry"] = [e for e in sub["entry"] if e["resource"]["id"] != fault["resource_id"]]
        if any(e["resource"]["id"] == good["id"] for e in sub["entry"]):
            continue
        sub["entry"].append({"fullUrl": f"urn:uuid:{good['id']}", "resource": good})
    return sub
