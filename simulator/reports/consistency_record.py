"""The record a consistency report reads: each chart (one MRN) as its visits, each visit as a snapshot.

A *visit snapshot* is what the record showed at that office visit: the registration (a ``Patient``
whose ``Encounter.subject`` points at it), the problem list, the medication list and the allergies
reviewed that day (resources whose ``encounter``/``context`` is the visit), the vital signs, the lab
results, the visit's diagnoses and its progress note. This module turns such a FHIR Bundle into plain
frozen data the rules and the report page read; it never changes the Bundle.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

WEIGHT, HEIGHT, BP = "29463-7", "8302-2", "85354-9"
TO_KG = {"kg": 1.0, "[lb_av]": 0.45359237, "g": 0.001}
TO_CM = {"cm": 1.0, "[in_i]": 2.54, "m": 100.0}


@dataclass(frozen=True)
class Problem:
    code: str
    text: str
    status: str  # active | resolved | inactive …
    abatement: str = ""  # date the problem resolved, when it did


@dataclass(frozen=True)
class Medication:
    name: str  # the drug ("Lisinopril"), what identifies it from visit to visit
    text: str  # "Lisinopril 10 mg tablet"
    rxnorm: str
    dosage: str  # "1 tab PO QD"
    status: str  # active | completed | stopped …
    start: str
    end: str
    note: str


@dataclass(frozen=True)
class Allergy:
    substance: str
    rxnorm: str


@dataclass(frozen=True)
class Measurement:
    loinc: str
    name: str
    value: float
    unit: str  # as shown ("lb")
    unit_code: str  # UCUM ("[lb_av]")

    def shown(self) -> str:
        number = f"{self.value:g}"
        return f"{number} {self.unit}".strip()


@dataclass(frozen=True)
class Diagnosis:
    code: str
    text: str


@dataclass(frozen=True)
class Visit:
    encounter_id: str
    number: int  # 1, 2, … within its chart, by date
    date: dt.date
    patient_id: str  # the registration snapshot of this visit
    family: str
    given: str
    birth_date: str
    sex: str
    address: str
    phone: str
    mrn: str
    problems: tuple[Problem, ...] = ()
    medications: tuple[Medication, ...] = ()
    allergies: tuple[Allergy, ...] = ()
    vitals: tuple[Measurement, ...] = ()
    blood_pressure: tuple[int, int] | None = None
    labs: tuple[Measurement, ...] = ()
    diagnoses: tuple[Diagnosis, ...] = ()
    note: str = ""

    @property
    def name(self) -> str:
        return f"{self.given} {self.family}".strip()

    @property
    def label(self) -> str:
        return f"visit {self.number} ({self.date:%m/%d/%Y})"

    def vital(self, loinc: str) -> Measurement | None:
        return next((m for m in self.vitals if m.loinc == loinc), None)

    def weight_kg(self) -> float | None:
        m = self.vital(WEIGHT)
        return m.value * TO_KG[m.unit_code] if m and m.unit_code in TO_KG else None

    def height_cm(self) -> float | None:
        m = self.vital(HEIGHT)
        return m.value * TO_CM[m.unit_code] if m and m.unit_code in TO_CM else None


@dataclass(frozen=True)
class Chart:
    """One medical record number and its visits, oldest first."""

    mrn: str
    visits: tuple[Visit, ...]
    ids: frozenset[str] = field(default=frozenset())  # every Encounter id of the chart

    @property
    def label(self) -> str:
        last = self.visits[-1]
        return f"{last.family}, {last.given} · MRN {self.mrn}"


def _codes(concept: Any) -> list[tuple[str, str]]:
    return [(c.get("system", ""), c.get("code", "")) for c in (concept or {}).get("coding", [])]


def _first_code(concept: Any) -> str:
    codings = (concept or {}).get("coding") or ()
    return str(codings[0].get("code", "")) if codings else ""


def _text(concept: Any) -> str:
    concept = concept or {}
    codings = concept.get("coding") or [{}]
    return str(concept.get("text") or codings[0].get("display") or "")


def _ref(reference: Any) -> str:
    ref = (reference or {}).get("reference", "") if isinstance(reference, dict) else ""
    return ref.removeprefix("urn:uuid:").rsplit("/", 1)[-1]


def _visit_of(resource: dict[str, Any]) -> str:
    if "encounter" in resource:
        return _ref(resource["encounter"])
    context = resource.get("context")
    if isinstance(context, dict):
        if "encounter" in context:
            return _ref(context["encounter"][0])
        return _ref(context)
    return ""


def note_text(doc: dict[str, Any]) -> str:
    try:
        data = doc["content"][0]["attachment"]["data"]
        return base64.b64decode(data).decode("utf-8")
    except (KeyError, IndexError, binascii.Error, UnicodeDecodeError):
        return ""


def _measurement(obs: dict[str, Any]) -> Measurement | None:
    q = obs.get("valueQuantity")
    if not isinstance(q, dict) or not isinstance(q.get("value"), int | float):
        return None
    code = next((c for s, c in _codes(obs.get("code")) if "loinc" in s), "")
    return Measurement(code, _text(obs.get("code")), float(q["value"]), str(q.get("unit", "")),
                       str(q.get("code", q.get("unit", ""))))


def _medication(res: dict[str, Any]) -> Medication:
    concept = res.get("medicationCodeableConcept") or {}
    coding = (concept.get("coding") or [{}])[0]
    dosage = (res.get("dosage") or res.get("dosageInstruction") or [{}])[0]
    period = res.get("effectivePeriod") or (res.get("dispenseRequest") or {}).get("validityPeriod") or {}
    notes = " ".join(n.get("text", "") for n in res.get("note", []))
    return Medication(
        name=str(coding.get("display") or _text(concept)), text=_text(concept), rxnorm=str(coding.get("code", "")),
        dosage=str(dosage.get("text", "")), status=str(res.get("status", "")),
        start=str(period.get("start") or res.get("authoredOn") or "")[:10], end=str(period.get("end") or "")[:10],
        note=notes)


def read_record(bundle: dict[str, Any]) -> list[Chart]:
    """The charts of a visit-snapshot record, in the order their patients first appear."""
    resources = [e["resource"] for e in bundle.get("entry", [])]
    by_id = {r.get("id"): r for r in resources}
    per_visit: dict[str, list[dict[str, Any]]] = {}
    for res in resources:
        visit = _visit_of(res)
        if visit:
            per_visit.setdefault(visit, []).append(res)
    visits = []
    for enc in resources:
        if enc["resourceType"] == "Encounter":
            patient = by_id.get(_ref(enc.get("subject")))
            if patient is not None:
                visits.append((str(enc.get("period", {}).get("start", "")),
                               read_visit(enc, patient, per_visit.get(enc["id"], []), by_id)))
    return charts_of(visits)


def charts_of(visits: Iterable[tuple[str, Visit]]) -> list[Chart]:
    """(start, visit) pairs as charts: grouped by MRN, numbered by date, each chart where its first visit falls."""
    charts: dict[str, list[Visit]] = {}
    for _, visit in sorted(visits, key=lambda pair: pair[0]):
        charts.setdefault(visit.mrn, []).append(visit)
    out = []
    for mrn, same in charts.items():
        numbered = tuple(_renumber(v, i) for i, v in enumerate(same, start=1))
        out.append(Chart(mrn, numbered, frozenset(v.encounter_id for v in numbered)))
    return out


def _renumber(visit: Visit, number: int) -> Visit:
    return replace(visit, number=number)


def read_visit(enc: dict[str, Any], patient: dict[str, Any], linked: Iterable[dict[str, Any]],
               by_id: dict[Any, dict[str, Any]]) -> Visit:
    """One visit as the record showed it: its encounter, the registration it points at, the resources linked to it
    (``by_id`` finds the diagnoses the encounter lists)."""
    name = (patient.get("name") or [{}])[0]
    address = (patient.get("address") or [{}])[0]
    mrn = next((i.get("value", "") for i in patient.get("identifier", []) if str(i.get("system", "")).endswith("/mrn")),
               patient.get("id", ""))
    problems: list[Problem] = []
    meds: list[Medication] = []
    allergies: list[Allergy] = []
    vitals: list[Measurement] = []
    labs: list[Measurement] = []
    note = ""
    bp: tuple[int, int] | None = None
    for res in linked:
        rtype = res["resourceType"]
        if rtype == "Condition":
            category = _first_code((res.get("category") or [{}])[0])
            if category == "problem-list-item":
                code = _first_code(res.get("code"))
                problems.append(Problem(code, _text(res.get("code")), _first_code(
                    res.get("clinicalStatus")), str(res.get("abatementDateTime", ""))[:10]))
        elif rtype in ("MedicationStatement", "MedicationRequest"):
            meds.append(_medication(res))
        elif rtype == "AllergyIntolerance":
            code = _first_code(res.get("code"))
            allergies.append(Allergy(_text(res.get("code")), code))
        elif rtype == "Observation":
            category = _first_code((res.get("category") or [{}])[0])
            if category == "vital-signs" and any(c == BP for _, c in _codes(res.get("code"))):
                parts = [int(c["valueQuantity"]["value"]) for c in res.get("component", []) if "valueQuantity" in c]
                bp = (parts[0], parts[1]) if len(parts) == 2 else None
            elif (m := _measurement(res)) is not None:
                (vitals if category == "vital-signs" else labs).append(m)
        elif rtype == "DocumentReference":
            note = note_text(res)
    diagnoses = []
    for d in sorted(enc.get("diagnosis", []), key=lambda d: d.get("rank", 0)):
        cond = by_id.get(_ref(d.get("condition")))
        if cond is not None:
            diagnoses.append(Diagnosis(_first_code(cond.get("code")), _text(cond.get("code"))))
    return Visit(
        encounter_id=enc["id"], number=0, date=dt.date.fromisoformat(str(enc["period"]["start"])[:10]),
        patient_id=patient["id"], family=str(name.get("family", "")), given=" ".join(name.get("given", [])),
        birth_date=str(patient.get("birthDate", "")), sex=str(patient.get("gender", "")),
        address=", ".join([*address.get("line", []), address.get("city", ""), address.get("state", "")]).strip(", "),
        phone=str((patient.get("telecom") or [{}])[0].get("value", "")), mrn=str(mrn),
        problems=tuple(problems), medications=tuple(meds), allergies=tuple(allergies), vitals=tuple(vitals),
        blood_pressure=bp, labs=tuple(labs), diagnoses=tuple(diagnoses), note=note,
    )


# ------------------------------------------------------------------------------------- stored form
RECORD_FORMAT = 1  # raise when a field of Chart, Visit or their parts changes: records stored before are rebuilt


def _plain(value: Any) -> Any:
    if isinstance(value, frozenset):
        return sorted(value)
    raise TypeError(f"not part of a stored record: {type(value).__name__}")


def charts_to_bytes(charts: Iterable[Chart]) -> bytes:
    """The charts as compressed JSON, to store (about 250 KB for 50 patients x 12 visits)."""
    return zlib.compress(orjson.dumps(tuple(charts), default=_plain), 1)


def charts_from_bytes(data: bytes) -> tuple[Chart, ...]:
    """The charts ``charts_to_bytes`` stored, equal to the ones it was given."""
    return tuple(Chart(c["mrn"], tuple(_stored_visit(v) for v in c["visits"]), frozenset(c["ids"]))
                 for c in orjson.loads(zlib.decompress(data)))


def _stored_visit(v: dict[str, Any]) -> Visit:
    bp = v["blood_pressure"]
    return Visit(
        encounter_id=v["encounter_id"], number=v["number"], date=dt.date.fromisoformat(v["date"]),
        patient_id=v["patient_id"], family=v["family"], given=v["given"], birth_date=v["birth_date"], sex=v["sex"],
        address=v["address"], phone=v["phone"], mrn=v["mrn"],
        problems=tuple(Problem(**p) for p in v["problems"]),
        medications=tuple(Medication(**m) for m in v["medications"]),
        allergies=tuple(Allergy(**a) for a in v["allergies"]),
        vitals=tuple(Measurement(**m) for m in v["vitals"]),
        blood_pressure=(bp[0], bp[1]) if bp else None,
        labs=tuple(Measurement(**m) for m in v["labs"]),
        diagnoses=tuple(Diagnosis(**d) for d in v["diagnoses"]),
        note=v["note"],
    )
