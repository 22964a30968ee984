"""The consistency record: a multi-visit key turned into what the record showed at each visit, with
discrepancies planted among legitimate changes (the consistency task's material).

Like the fault planter (``faults.py``) for verify tasks, this takes the answer key and returns a changed
copy plus the list of what was planted; the key itself is never modified. Each visit becomes a
*snapshot*: the registration (a ``Patient``), the problem list, medication list (``MedicationStatement``)
and allergies reviewed that day, the vitals, labs, diagnoses and note. Same key + seed → same record.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from simulator.clinical import load_catalog
from simulator.fhir import HITSIM, ICD10CM, RXNORM, SNOMED
from simulator.generate.faults import _change_digit, _is_date, _misspell
from simulator.generate.key import GeneratedCase, uuid4_of
from simulator.reports import consistency_rules as rules
from simulator.reports.consistency_record import (
    HEIGHT,
    TO_KG,
    WEIGHT,
    Chart,
    charts_of,
    note_text,
    read_record,
    read_visit,
)

TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
LEGITIMATE_URL = f"{HITSIM}/StructureDefinition/consistency-legitimate-change"
WRONG_UNITS = {  # UCUM code -> (a unit a busy clerk might have typed instead, as shown)
    "mg/dL": ("mmol/L", "mmol/L"), "mmol/L": ("mg/dL", "mg/dL"), "%": ("mg/dL", "mg/dL"), "g/dL": ("g/L", "g/L"),
    "m[IU]/L": ("ng/mL", "ng/mL"), "pg/mL": ("ng/mL", "ng/mL"), "ng/mL": ("ng/dL", "ng/dL"),
    "10*3/uL": ("10*6/uL", "x10⁶/µL"), "mL/min/{1.73_m2}": ("mL/min", "mL/min"), "mg/g{creat}": ("mg/dL", "mg/dL"),
    "{INR}": ("s", "seconds"),
}
STREETS = ("Mesquite Ln", "Palo Verde Dr", "Camelback Rd", "Saguaro Blvd", "Ocotillo Ave", "Sonoran Way")


@dataclass(frozen=True)
class PlantedChange:
    """A discrepancy the student should find, or a legitimate change the student should leave alone."""

    kind: str
    legitimate: bool
    visits: tuple[str, ...]  # Encounter ids
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "legitimate": self.legitimate, "visits": list(self.visits), "detail": self.detail}


@dataclass(frozen=True)
class ConsistencyCase:
    record: dict[str, Any]  # the visit-snapshot Bundle the student reads (shares parts with the key: never change it)
    planted: tuple[PlantedChange, ...]
    charts: tuple[Chart, ...] = ()  # the record as the report reads it (``read_record(record)``)

    @property
    def discrepancies(self) -> list[PlantedChange]:
        return [p for p in self.planted if not p.legitimate]


@dataclass
class _Snap:
    """One visit as the record showed it (mutable while planting)."""

    date: dt.date
    encounter: dict[str, Any]
    patient: dict[str, Any]
    problems: list[dict[str, Any]] = field(default_factory=list)
    meds: list[dict[str, Any]] = field(default_factory=list)
    allergies: list[dict[str, Any]] = field(default_factory=list)
    observations: list[dict[str, Any]] = field(default_factory=list)
    diagnoses: list[dict[str, Any]] = field(default_factory=list)
    note: dict[str, Any] | None = None

    def obs(self, loinc: str) -> dict[str, Any] | None:
        return next((o for o in self.observations if o["code"]["coding"][0]["code"] == loinc), None)

    def own(self, obs: dict[str, Any]) -> dict[str, Any]:
        """A copy of one of this visit's observations, put in its place, to change: the snapshots share the key's
        observations until one is changed (copying them all would be most of the copying)."""
        at = next(i for i, o in enumerate(self.observations) if o is obs)
        self.observations[at] = _clone(obs)
        return self.observations[at]

    def note_text(self) -> str:
        return note_text(self.note) if self.note else ""

    def set_note(self, text: str) -> None:
        """A new note in place of the visit's (never changed in place: it is the key's until rewritten)."""
        if self.note:
            first, *rest = self.note["content"]
            data = base64.b64encode(text.encode("utf-8")).decode("ascii")
            self.note = {**self.note, "content": [{**first, "attachment": {**first["attachment"], "data": data}}, *rest]}

    def active_meds(self) -> dict[str, dict[str, Any]]:
        return {_drug(m): m for m in self.meds if m["status"] == "active"}


@dataclass
class _Chart:
    mrn: str
    snaps: list[_Snap]


def _ref(reference: Any) -> str:
    return str((reference or {}).get("reference", "")).removeprefix("urn:uuid:")


def _drug(med: dict[str, Any]) -> str:
    return str(med["medicationCodeableConcept"]["coding"][0]["display"])


def _cc(system: str, code: str, display: str, text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [{"system": system, "code": code, "display": display}]}
    if text:
        out["text"] = text
    return out


def _status(system: str, code: str) -> dict[str, Any]:
    return _cc(f"{TERMINOLOGY}/{system}", code, code.capitalize())


def _label(i: int, snap: _Snap) -> str:
    return f"visit {i + 1} ({snap.date:%m/%d/%Y})"


# ------------------------------------------------------------------------------------- snapshots
def _clone(value: Any) -> Any:
    """A deep copy of JSON data (orjson: about 5x faster than a json round trip, 20x copy.deepcopy, for FHIR dicts)."""
    return orjson.loads(orjson.dumps(value))


def _snapshots(key: dict[str, Any]) -> list[_Chart]:
    """Each key patient's visits as snapshots: what the record listed on each visit day.

    The key is never changed, and not copied whole (most of a build's copying): a snapshot's registration, problems,
    medications, allergies and diagnoses are copies per visit; its encounter, observations and note are the key's,
    which planting copies before it changes one (``_Snap.own``, ``_Snap.set_note``).
    """
    resources = [e["resource"] for e in key["entry"]]
    by_id = {r["id"]: r for r in resources}
    per_patient: dict[str, list[dict[str, Any]]] = {}
    per_visit: dict[str, list[dict[str, Any]]] = {}
    for r in resources:
        per_patient.setdefault(_ref(r.get("subject") or r.get("patient")), []).append(r)
        visit = _ref(r.get("encounter")) or (_ref(r["context"]["encounter"][0]) if "context" in r else "")
        per_visit.setdefault(visit, []).append(r)
    charts = []
    for patient in (r for r in resources if r["resourceType"] == "Patient"):
        mine = per_patient.get(patient["id"], [])
        encounters = sorted((r for r in mine if r["resourceType"] == "Encounter"), key=lambda e: e["period"]["start"])
        if not encounters:
            continue
        chronic = [r for r in mine if r["resourceType"] == "Condition"
                   and r["category"][0]["coding"][0]["code"] == "problem-list-item"]
        meds = [r for r in mine if r["resourceType"] in ("MedicationRequest", "MedicationStatement")]
        allergies = [r for r in mine if r["resourceType"] == "AllergyIntolerance"]
        dates = [dt.date.fromisoformat(e["period"]["start"][:10]) for e in encounters]
        acute: list[tuple[int, dict[str, Any]]] = []  # (visit index, condition) of visit-only diagnoses
        snaps = []
        for i, (enc, day) in enumerate(zip(encounters, dates, strict=True)):
            dx = [by_id[_ref(d["condition"])] for d in sorted(enc.get("diagnosis", []), key=lambda d: d["rank"])]
            acute += [(i, c) for c in dx if c["category"][0]["coding"][0]["code"] == "encounter-diagnosis"
                      and not c["code"]["coding"][0]["code"].startswith("Z")]
            problems = [_problem(c, "active") for c in chronic]
            for j, c in acute:
                if j == i:
                    problems.append(_problem(c, "active"))
                else:
                    problems.append(_problem(c, "resolved", min(dates[j] + dt.timedelta(days=14), day)))
            statements = [_statement(m, enc["id"], day, dates[i - 1] if i else None) for m in meds]
            linked = per_visit.get(enc["id"], [])
            snaps.append(_Snap(
                day, {k: v for k, v in enc.items() if k != "diagnosis"}, _clone(patient),
                problems=_clone(problems), meds=_clone([m for m in statements if m is not None]),
                allergies=_clone(allergies),
                observations=[r for r in linked if r["resourceType"] == "Observation"],
                diagnoses=_clone([_diagnosis(c) for c in dx]),
                note=next((r for r in linked if r["resourceType"] == "DocumentReference"), None)))
        charts.append(_Chart(patient["identifier"][0]["value"], snaps))
    return charts


def _problem(cond: dict[str, Any], status: str, resolved: dt.date | None = None) -> dict[str, Any]:
    """A problem-list line (shares its parts with ``cond``: the caller clones)."""
    out = {k: v for k, v in cond.items() if k not in ("encounter", "id")}
    out["category"] = [_cc(f"{TERMINOLOGY}/condition-category", "problem-list-item", "Problem List Item")]
    out["clinicalStatus"] = _status("condition-clinical", status)
    if resolved is not None:
        out["abatementDateTime"] = resolved.isoformat()
    return out


def _diagnosis(cond: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in cond.items() if k not in ("encounter", "id", "clinicalStatus")}
    out["category"] = [_cc(f"{TERMINOLOGY}/condition-category", "encounter-diagnosis", "Encounter Diagnosis")]
    out["clinicalStatus"] = _status("condition-clinical", "active")
    return out


def _statement(order: dict[str, Any], encounter_id: str, day: dt.date, previous: dt.date | None) -> dict[str, Any] | None:
    """The medication list's line for ``order`` on ``day``: active, completed since the last visit, or None."""
    period = order.get("effectivePeriod") or (order.get("dispenseRequest") or {}).get("validityPeriod") or {}
    start = str(period.get("start") or order.get("authoredOn") or "")[:10]
    end = str(period.get("end") or "")[:10]
    if not start or start > day.isoformat():
        return None
    if end and end < day.isoformat():
        if previous is None or end < previous.isoformat():
            return None
        status = "completed"
    else:
        status = "active"
    dosage = (order.get("dosageInstruction") or order.get("dosage") or [{}])[0]
    out: dict[str, Any] = {
        "resourceType": "MedicationStatement", "status": status,
        "medicationCodeableConcept": order["medicationCodeableConcept"],
        "effectivePeriod": {"start": start, **({"end": end} if end else {})},
        "dateAsserted": day.isoformat(), "dosage": [{"text": dosage.get("text", "")}],
    }
    if _ref(order.get("encounter")) == encounter_id and previous is not None:
        out["note"] = [{"text": "New at this visit: prescribed by the provider, see today's note."}]
    return out


# ------------------------------------------------------------------------------------- planting
class _Planter:
    """One method per kind: plant it at visit ``k`` (k >= 1) of a chart, or return None when it does not fit."""

    def __init__(self, charts: list[_Chart], rng: random.Random):
        self.charts, self.rng = charts, rng
        self.cat = load_catalog()
        self.touched_meds: set[tuple[int, str]] = set()  # (chart index, drug) already changed
        self.touched: set[tuple[int, str]] = set()  # (chart index, kind) planted once per chart

    def ids(self, c: int, *indexes: int) -> tuple[str, ...]:
        snaps = self.charts[c].snaps
        return tuple(snaps[i].encounter["id"] for i in indexes if 0 <= i < len(snaps))

    def plant(self, kind: str, c: int, k: int) -> PlantedChange | None:
        return getattr(self, kind.replace("-", "_"))(c, k)

    # -------------------------------------------------------------- registration
    def _demographic(self, kind: str, c: int, k: int, change: Callable[[dict[str, Any]], str | None]) -> PlantedChange | None:
        if (c, kind) in self.touched:
            return None
        what = change(self.charts[c].snaps[k].patient)
        if what is None:
            return None
        self.touched.add((c, kind))
        return PlantedChange(kind, False, self.ids(c, k - 1, k), what)

    def dob_mismatch(self, c: int, k: int) -> PlantedChange | None:
        snap = self.charts[c].snaps[k]

        def change(p: dict[str, Any]) -> str | None:
            new = _change_digit(self.rng, p["birthDate"], lambda t: _is_date(t, snap.date.isoformat()), skip=2)
            if not new:
                return None
            old, p["birthDate"] = p["birthDate"], new
            return f"Date of birth {new} at {_label(k, snap)}; {old} at the other visits"
        return self._demographic("dob-mismatch", c, k, change)

    def sex_mismatch(self, c: int, k: int) -> PlantedChange | None:
        def change(p: dict[str, Any]) -> str:
            p["gender"] = "male" if p["gender"] == "female" else "female"
            return f"Sex recorded as {p['gender']} at {_label(k, self.charts[c].snaps[k])}"
        return self._demographic("sex-mismatch", c, k, change)

    def name_spelling(self, c: int, k: int) -> PlantedChange | None:
        def change(p: dict[str, Any]) -> str:
            name = p["name"][0]
            if self.rng.random() < 0.5 or len(name["given"][0]) < 3:
                old, name["family"] = name["family"], _misspell(self.rng, name["family"])
                new = name["family"]
            else:
                old, name["given"][0] = name["given"][0], _misspell(self.rng, name["given"][0])
                new = name["given"][0]
            return f"Name spelt {new} instead of {old} at {_label(k, self.charts[c].snaps[k])}"
        return self._demographic("name-spelling", c, k, change)

    # -------------------------------------------------------------- problems and medications
    def allergy_conflict(self, c: int, k: int) -> PlantedChange | None:
        chart, snap = self.charts[c], self.charts[c].snaps[k]
        knowledge = rules.catalog_knowledge()
        in_chart = {_drug(m) for s in chart.snaps for m in s.meds}
        classes_in_chart = set().union(*(knowledge.drug_classes.get(d.casefold(), frozenset()) for d in in_chart))
        drug, allergy = None, None
        for a in snap.allergies:
            avoid = knowledge.allergy_avoids.get(a["code"]["coding"][0]["code"], frozenset())
            drug = next((m for m in self.cat.medications.values() if set(m.classes) & avoid
                         and m.name not in in_chart), None)
            if drug is not None:
                allergy = a["code"]["text"]
                break
        if drug is None:
            pen = self.cat.allergies["penicillin"]
            if set(pen.avoid) & classes_in_chart:  # the patient took a penicillin: no allergy to add
                return None
            allergy, drug = pen.substance, self.cat.medications["amoxicillin"]
            new = {
                "resourceType": "AllergyIntolerance",
                "clinicalStatus": _cc(f"{TERMINOLOGY}/allergyintolerance-clinical", "active", "Active"),
                "verificationStatus": _cc(f"{TERMINOLOGY}/allergyintolerance-verification", "confirmed", "Confirmed"),
                "type": "allergy", "category": ["medication"], "criticality": "low",
                "code": _cc(RXNORM, pen.rxnorm, pen.substance, pen.substance),
                "recordedDate": chart.snaps[0].date.isoformat(),
                "reaction": [{"manifestation": [_cc(SNOMED, "247472004", "Weal", "hives")], "severity": "moderate"}],
            }
            for s in chart.snaps:
                s.allergies = [a for a in s.allergies if a["code"]["coding"][0]["code"] != "409137002"]
                s.allergies.append(copy.deepcopy(new))
                s.set_note(s.note_text().replace("Allergies: NKDA", "Allergies: penicillin (hives)"))
        if (c, drug.name) in self.touched_meds:
            return None
        self.touched_meds.add((c, drug.name))
        sig = drug.sigs[0]
        snap.meds.append({
            "resourceType": "MedicationStatement", "status": "active",
            "medicationCodeableConcept": _cc(RXNORM, drug.rxnorm, drug.name, f"{drug.name} {drug.strengths[0]} {drug.form}"),
            "effectivePeriod": {"start": snap.date.isoformat()}, "dateAsserted": snap.date.isoformat(),
            "dosage": [{"text": f"{sig.dose:g} {sig.unit} {sig.frequency}"}],
        })
        return PlantedChange("allergy-conflict", False, self.ids(c, k),
                             f"{drug.name} prescribed at {_label(k, snap)} although the chart lists an allergy to {allergy}")

    def vanished_problem(self, c: int, k: int) -> PlantedChange | None:
        snaps = self.charts[c].snaps
        before = {p["code"]["coding"][0]["code"]: p for p in snaps[k - 1].problems
                  if p["clinicalStatus"]["coding"][0]["code"] == "active"}
        options = [p for p in snaps[k].problems if p["code"]["coding"][0]["code"] in before
                   and "abatementDateTime" not in p]
        if not options or (c, "vanished-problem") in self.touched:
            return None
        gone = self.rng.choice(options)
        code = gone["code"]["coding"][0]["code"]
        for s in snaps[k:]:
            s.problems = [p for p in s.problems if p["code"]["coding"][0]["code"] != code]
        self.touched.add((c, "vanished-problem"))
        return PlantedChange("vanished-problem", False, self.ids(c, k - 1, k),
                             f"{gone['code']['text']} drops off the problem list at {_label(k, snaps[k])}")

    def _change_dose(self, c: int, k: int) -> tuple[str, str, str, list[dict[str, Any]]] | None:
        """A drug active at visits k-1 and k gets another strength from visit k on: (drug, old, new, lines)."""
        snaps = self.charts[c].snaps
        before = snaps[k - 1].active_meds()
        options = [m for name, m in snaps[k].active_meds().items() if name in before
                   and (c, name) not in self.touched_meds and not m.get("note")]
        if not options:
            return None
        med = self.rng.choice(options)
        name, text = _drug(med), med["medicationCodeableConcept"]["text"]
        old = rules.strength_of(text)
        catalog = next((m for m in self.cat.medications.values() if m.name == name), None)
        others = [s for s in (catalog.strengths if catalog else ()) if s != old]
        if others:
            new = self.rng.choice(others)
        else:
            number, _, unit = old.partition(" ")
            try:
                new = f"{float(number) * 2:g} {unit}"
            except ValueError:
                return None
        self.touched_meds.add((c, name))
        lines = []
        for s in snaps[k:]:
            line = s.active_meds().get(name)
            if line is None:
                break
            line["medicationCodeableConcept"]["text"] = text.replace(old, new, 1)
            lines.append(line)
        return name, old, new, lines

    def undocumented_dose_change(self, c: int, k: int) -> PlantedChange | None:
        change = self._change_dose(c, k)
        if change is None:
            return None
        name, old, new, _ = change
        return PlantedChange("undocumented-dose-change", False, self.ids(c, k - 1, k),
                             f"{name} {old} → {new} at {_label(k, self.charts[c].snaps[k])}, with no note")

    def active_after_stop(self, c: int, k: int) -> PlantedChange | None:
        snaps = self.charts[c].snaps
        before = snaps[k - 1].active_meds()
        options = [(n, m) for n, m in snaps[k].active_meds().items() if n in before and (c, n) not in self.touched_meds]
        if not options:
            return None
        name, med = self.rng.choice(options)
        self.touched_meds.add((c, name))
        stop = snaps[k - 1].date + (snaps[k].date - snaps[k - 1].date) / 2
        if stop >= snaps[k].date:
            return None
        med["effectivePeriod"]["end"] = stop.isoformat()
        for s in snaps[k + 1:]:
            s.meds = [m for m in s.meds if _drug(m) != name]
        return PlantedChange("active-after-stop", False, self.ids(c, k),
                             f"{name} stopped {stop:%m/%d/%Y} but listed active at {_label(k, snaps[k])}")

    # -------------------------------------------------------------- measurements
    def height_loss(self, c: int, k: int) -> PlantedChange | None:
        obs = self.charts[c].snaps[k].obs(HEIGHT)
        if obs is None or self.charts[c].snaps[k - 1].obs(HEIGHT) is None:
            return None
        q = self.charts[c].snaps[k].own(obs)["valueQuantity"]
        old = q["value"]
        q["value"] = old - (4 if q["code"] == "[in_i]" else 10)
        return PlantedChange("height-loss", False, self.ids(c, k - 1, k),
                             f"Height {q['value']} {q['unit']} at {_label(k, self.charts[c].snaps[k])} (was {old})")

    def implausible_weight(self, c: int, k: int) -> PlantedChange | None:
        snaps = self.charts[c].snaps
        obs, prev = snaps[k].obs(WEIGHT), snaps[k - 1].obs(WEIGHT)
        if obs is None or prev is None or (c, "weight") in self.touched:
            return None
        q, p = snaps[k].own(obs)["valueQuantity"], prev["valueQuantity"]
        per_kg = TO_KG[q["code"]]
        before_kg = p["value"] * TO_KG[p["code"]]
        allowed = rules.weight_change_allowed((snaps[k].date - snaps[k - 1].date).days)
        change_kg = allowed * 1.5 + 5
        up = self.rng.random() < 0.5 or before_kg - change_kg < before_kg * 0.5
        q["value"] = round((before_kg + (change_kg if up else -change_kg)) / per_kg, 1)
        self.touched.add((c, "weight"))
        return PlantedChange("implausible-weight", False, self.ids(c, k - 1, k, k + 1),
                             f"Weight {q['value']} {q['unit']} at {_label(k, snaps[k])}")

    def lab_unit(self, c: int, k: int) -> PlantedChange | None:
        snap = self.charts[c].snaps[k]
        labs = [o for o in snap.observations if o["category"][0]["coding"][0]["code"] == "laboratory"
                and "valueQuantity" in o and o["valueQuantity"]["code"] in WRONG_UNITS]
        if not labs:
            return None
        obs = snap.own(self.rng.choice(labs))
        q = obs["valueQuantity"]
        right = q["unit"]
        q["code"], q["unit"] = WRONG_UNITS[q["code"]]
        for bound in ("low", "high"):
            for rr in obs.get("referenceRange", []):
                if bound in rr:
                    rr[bound]["code"], rr[bound]["unit"] = q["code"], q["unit"]
        return PlantedChange("lab-unit", False, self.ids(c, k),
                             f"{obs['code']['coding'][0]['display']} in {q['unit']} instead of {right} at "
                             f"{_label(k, snap)}")

    # -------------------------------------------------------------- the visit's words
    def unsupported_diagnosis(self, c: int, k: int) -> PlantedChange | None:
        snap = self.charts[c].snaps[k]
        text = snap.note_text()
        if not text:
            return None
        present = {d["code"]["coding"][0]["code"] for s in self.charts[c].snaps for d in s.diagnoses + s.problems}
        knowledge = rules.catalog_knowledge()
        options = [(v.name, v.codes[0]) for cond in self.cat.conditions.values() if cond.kind in ("chronic", "acute")
                   for v in cond.variants[:1] if v.codes[0] not in present and not v.codes[0].startswith("Z")
                   and not rules.supported_by_note(v.codes[0], v.name, text, knowledge)]
        if not options:
            return None
        name, code = self.rng.choice(options)
        snap.diagnoses.append({
            "resourceType": "Condition",
            "clinicalStatus": _status("condition-clinical", "active"),
            "verificationStatus": _cc(f"{TERMINOLOGY}/condition-ver-status", "confirmed", "Confirmed"),
            "category": [_cc(f"{TERMINOLOGY}/condition-category", "encounter-diagnosis", "Encounter Diagnosis")],
            "code": _cc(ICD10CM, code, self.cat.icd10cm_titles[code], name),
            "recordedDate": snap.date.isoformat(),
        })
        return PlantedChange("unsupported-diagnosis", False, self.ids(c, k),
                             f"{name} ({code}) added to {_label(k, snap)}'s diagnoses; the note never mentions it")

    def copy_forward(self, c: int, k: int) -> PlantedChange | None:
        snaps = self.charts[c].snaps
        now, before = _bp(snaps[k]), _bp(snaps[k - 1])
        text = snaps[k].note_text()
        written = f"BP {now[0]}/{now[1]}" if now else ""
        if not now or not before or now == before or written not in text:
            return None
        snaps[k].set_note(text.replace(written, f"BP {before[0]}/{before[1]}", 1))
        return PlantedChange("copy-forward", False, self.ids(c, k),
                             f"The note of {_label(k, snaps[k])} repeats BP {before[0]}/{before[1]} from the visit before")

    def duplicate_chart(self, c: int, k: int) -> PlantedChange | None:
        chart = self.charts[c]
        patient = chart.snaps[k].patient
        given, dob = patient["name"][0]["given"][0], patient["birthDate"]
        nickname = sorted(rules.NICKNAMES.get(given.casefold(), ()))
        new_dob = _slipped_date(dob, chart.snaps[k].date)
        if nickname and (self.rng.random() < 0.5 or new_dob is None):
            change, how = "given", f"first name {self.rng.choice(nickname).capitalize()} (a nickname of {given})"
            new_given = how.split(" ")[2]
        elif new_dob is not None:
            change, how, new_given = "dob", f"birth date {new_dob} instead of {dob}", given
        else:
            return None
        mrn = f"{self.rng.randint(1000000, 9999999)}"
        moved = chart.snaps[k:]
        for s in moved:
            p = s.patient
            p["identifier"][0]["value"] = mrn
            if change == "given":
                p["name"][0]["given"][0] = new_given
            else:
                p["birthDate"] = new_dob
        chart.snaps = chart.snaps[:k]
        self.charts.append(_Chart(mrn, moved))
        visits = tuple(s.encounter["id"] for s in (*chart.snaps, *moved))
        return PlantedChange("duplicate-chart", False, visits,
                             f"MRN {mrn} opened at {moved[0].date:%m/%d/%Y} for the patient of MRN {chart.mrn}, "
                             f"with {how}")

    # -------------------------------------------------------------- legitimate changes
    def weight_drift(self, c: int, k: int) -> PlantedChange | None:
        snaps = self.charts[c].snaps
        if len(snaps) < 3 or (c, "weight") in self.touched:
            return None
        per_visit = self.rng.choice((-1, 1)) * self.rng.uniform(0.5, 0.9)
        for i, s in enumerate(snaps):
            obs = s.obs(WEIGHT)
            if obs is not None:
                q = s.own(obs)["valueQuantity"]
                q["value"] = round(q["value"] + i * per_visit / TO_KG[q["code"]], 1)
        self.touched.add((c, "weight"))
        months = round((snaps[-1].date - snaps[0].date).days / 30.4)
        return PlantedChange("weight-drift", True, self.ids(c, *range(len(snaps))),
                             f"weight {'gained' if per_visit > 0 else 'lost'} gradually, about "
                             f"{abs(per_visit) * (len(snaps) - 1):.0f} kg over {months} months: a plausible change")

    def explained_dose_change(self, c: int, k: int) -> PlantedChange | None:
        change = self._change_dose(c, k)
        if change is None:
            return None
        name, old, new, lines = change
        why = f"Dose changed from {old} to {new} at this visit: goal not reached on the lower dose."
        lines[0]["note"] = [{"text": why}]
        snap = self.charts[c].snaps[k]
        snap.set_note(snap.note_text() + f"\nMed change: {name} {old} -> {new} (goal not reached).")
        return PlantedChange("explained-dose-change", True, self.ids(c, k - 1, k),
                             f"{name} went from {old} to {new} at {_label(k, snap)}, and the note explains why: "
                             f"a documented dose change, not a discrepancy")

    def new_medication_with_note(self, c: int, k: int) -> PlantedChange | None:
        snap = self.charts[c].snaps[k]
        drug = self.cat.medications["cholecalciferol"]
        if any(_drug(m) == drug.name for s in self.charts[c].snaps for m in s.meds):
            return None
        for s in self.charts[c].snaps[k:]:
            s.meds.append({
                "resourceType": "MedicationStatement", "status": "active",
                "medicationCodeableConcept": _cc(RXNORM, drug.rxnorm, drug.name,
                                                 f"{drug.name} {drug.strengths[0]} {drug.form}"),
                "effectivePeriod": {"start": snap.date.isoformat()}, "dateAsserted": s.date.isoformat(),
                "dosage": [{"text": "1 tab PO QD"}],
                **({"note": [{"text": "Patient started vitamin D over the counter; added at medication "
                                      "reconciliation."}]} if s is snap else {}),
            })
        return PlantedChange("new-medication-with-note", True, self.ids(c, k - 1, k),
                             f"{drug.name} appears at {_label(k, snap)} with a note saying the patient started it: "
                             f"a new medication, documented")

    def address_move(self, c: int, k: int) -> PlantedChange | None:
        snaps = self.charts[c].snaps
        if (c, "address") in self.touched:
            return None
        line = f"{self.rng.randint(100, 9899)} {self.rng.choice(STREETS)}"
        for s in snaps[k:]:
            s.patient["address"][0]["line"] = [line]
        self.touched.add((c, "address"))
        return PlantedChange("address-move", True, self.ids(c, k - 1, k),
                             f"the address changes to {line} at {_label(k, snaps[k])} and stays: the patient moved")


def _bp(snap: _Snap) -> tuple[int, int] | None:
    obs = snap.obs("85354-9")
    if obs is None:
        return None
    parts = [int(x["valueQuantity"]["value"]) for x in obs.get("component", [])]
    return (parts[0], parts[1]) if len(parts) == 2 else None


def _slipped_date(dob: str, before: dt.date) -> str | None:
    """The birth date with two neighbouring digits swapped (a transposition), when that is still a date."""
    for i in (8, 2, 5):  # day, year's last two digits, month
        if dob[i] != dob[i + 1]:
            new = dob[:i] + dob[i + 1] + dob[i] + dob[i + 2:]
            if _is_date(new, before.isoformat()):
                return new
    return None


# ------------------------------------------------------------------------------------- the bundle
@dataclass(frozen=True)
class _Ids:
    """The ids one visit's resources get in the record."""

    patient: str
    problems: tuple[str, ...]
    diagnoses: tuple[str, ...]
    meds: tuple[str, ...]
    allergies: tuple[str, ...]


def _new_ids(charts: list[_Chart], rng: random.Random) -> tuple[list[list[_Ids]], str]:
    """Every id the record's resources get, and the Bundle's, drawn in one fixed order: the record and its charts
    read straight from the snapshots (``_read_charts``) then name the same resources."""
    def new_id() -> str:
        return uuid4_of(rng.getrandbits(128))

    def some(items: list[Any]) -> tuple[str, ...]:
        return tuple(new_id() for _ in items)

    per_chart = []
    for chart in charts:
        per_chart.append([
            _Ids(new_id(), some(snap.problems), some(snap.diagnoses), some(snap.meds), some(snap.allergies))
            for snap in chart.snaps])
    return per_chart, new_id()


def _bundle(charts: list[_Chart], key: dict[str, Any], ids: list[list[_Ids]], bundle_id: str) -> dict[str, Any]:
    def ref(resource_id: str) -> dict[str, str]:
        return {"reference": f"urn:uuid:{resource_id}"}

    entries: list[dict[str, Any]] = [e for e in key["entry"]
                                     if e["resource"]["resourceType"] in ("Organization", "Practitioner")]

    def add(resource: dict[str, Any]) -> dict[str, Any]:
        entries.append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})
        return resource

    for chart, chart_ids in zip(charts, ids, strict=True):
        for snap, i in zip(chart.snaps, chart_ids, strict=True):
            patient = ref(i.patient)
            add({**snap.patient, "id": i.patient})
            enc = add({**snap.encounter, "subject": patient})
            visit = ref(enc["id"])
            for p, pid in zip(snap.problems, i.problems, strict=True):
                add({"resourceType": "Condition", "id": pid, **{k: v for k, v in p.items() if k != "resourceType"},
                     "subject": patient, "encounter": visit})
            for d, did in zip(snap.diagnoses, i.diagnoses, strict=True):
                add({"resourceType": "Condition", "id": did,
                     **{k: v for k, v in d.items() if k != "resourceType"}, "subject": patient, "encounter": visit})
            if i.diagnoses:
                enc["diagnosis"] = _diagnosis_refs(i)
            for m, mid in zip(snap.meds, i.meds, strict=True):
                add({**m, "id": mid, "subject": patient, "context": visit})
            for a, aid in zip(snap.allergies, i.allergies, strict=True):
                add({**a, "id": aid, "patient": patient, "encounter": visit})
            for o in snap.observations:
                add({**o, "subject": patient})
            if snap.note is not None:
                add({**snap.note, "subject": patient})
    return {
        "resourceType": "Bundle", "id": bundle_id,
        "meta": {"tag": [{"system": f"{HITSIM}/tag", "code": "consistency-record",
                          "display": "Multi-visit record with planted discrepancies"}]},
        "type": "collection", "entry": entries,
    }


def _diagnosis_refs(i: _Ids) -> list[dict[str, Any]]:
    return [{"condition": {"reference": f"urn:uuid:{d}"}, "rank": rank} for rank, d in enumerate(i.diagnoses, start=1)]


def _read_charts(charts: list[_Chart], ids: list[list[_Ids]]) -> tuple[Chart, ...]:
    """``read_record(_bundle(...))`` read straight from the snapshots, without building the Bundle (most of the
    build's time for a many-visit record): each visit is read by the same ``read_visit`` from the same resources."""
    visits = []
    for chart, chart_ids in zip(charts, ids, strict=True):
        for snap, i in zip(chart.snaps, chart_ids, strict=True):
            encounter = {**snap.encounter, "diagnosis": _diagnosis_refs(i)}
            linked = [*snap.problems, *snap.meds, *snap.allergies, *snap.observations,
                      *((snap.note,) if snap.note is not None else ())]
            visits.append((str(snap.encounter["period"]["start"]), read_visit(
                encounter, {**snap.patient, "id": i.patient}, linked, dict(zip(i.diagnoses, snap.diagnoses, strict=True)))))
    return tuple(charts_of(visits))


def plant_consistency(key: dict[str, Any], count: int, rng: random.Random,
                      kinds: tuple[str, ...] = tuple(rules.DISCREPANCY_KINDS),
                      legitimate: tuple[str, ...] = tuple(rules.LEGITIMATE_CHANGES)) -> ConsistencyCase:
    """The visit-snapshot record of ``key`` with ``count`` discrepancies and the listed legitimate changes.

    Every kind is used once before any repeats; each discrepancy takes its own visit-to-visit change
    (a chart of n visits holds n - 1), so no two discrepancies hide each other. Fewer are planted when
    the record offers fewer places (a visit without labs cannot get a lab in the wrong unit).
    """
    charts, planted, ids, bundle_id = _planted_snapshots(key, count, rng, kinds, legitimate)
    record = _bundle(charts, key, ids, bundle_id)
    read = tuple(read_record(record))
    return ConsistencyCase(record, tuple(_in_rule_words(planted, read)), read)


def _planted_snapshots(key: dict[str, Any], count: int, rng: random.Random, kinds: tuple[str, ...],
                       legitimate: tuple[str, ...]) -> tuple[list[_Chart], list[PlantedChange], list[list[_Ids]], str]:
    """The snapshots with their discrepancies and legitimate changes planted, what was planted (in the planter's
    words), and the ids of the record's resources."""
    charts = _snapshots(key)
    planter = _Planter(charts, rng)
    planted: list[PlantedChange] = []
    used: set[tuple[str, str]] = set()  # (encounter id of visit k, "discrepancy") slots taken

    def slots() -> list[tuple[int, int]]:
        out = [(c, k) for c, chart in enumerate(charts) for k in range(1, len(chart.snaps))]
        rng.shuffle(out)
        return out

    order = [k for k in kinds]
    rng.shuffle(order)
    if "duplicate-chart" in order:  # a duplicate splits a chart: plant it first, the rest on the charts it leaves
        order.remove("duplicate-chart")
        order.insert(0, "duplicate-chart")
    wanted = [order[i % len(order)] for i in range(count)] if order else []
    for kind in wanted:
        for c, k in slots():
            slot = (charts[c].snaps[k].encounter["id"], "d")
            if slot in used:
                continue
            change = planter.plant(kind, c, k)
            if change is not None:
                used.add(slot)
                planted.append(change)
                break
    for kind in legitimate:
        if kind == "resolved-acute-problem":
            continue
        for c, k in slots():
            if (charts[c].snaps[k].encounter["id"], "d") in used:
                continue
            change = planter.plant(kind, c, k)
            if change is not None:
                planted.append(change)
                break
    if "resolved-acute-problem" in legitimate:
        planted += _resolved_acute(charts)
    ids, bundle_id = _new_ids(charts, rng)
    return charts, planted, ids, bundle_id


def _resolved_acute(charts: list[_Chart]) -> list[PlantedChange]:
    out = []
    for chart in charts:
        for k in range(1, len(chart.snaps)):
            before = {p["code"]["coding"][0]["code"] for p in chart.snaps[k - 1].problems
                      if p["clinicalStatus"]["coding"][0]["code"] == "active"}
            for p in chart.snaps[k].problems:
                if "abatementDateTime" in p and p["code"]["coding"][0]["code"] in before:
                    out.append(PlantedChange(
                        "resolved-acute-problem", True,
                        (chart.snaps[k - 1].encounter["id"], chart.snaps[k].encounter["id"]),
                        f"{p['code']['text']} is active at {_label(k - 1, chart.snaps[k - 1])} and resolved at "
                        f"{_label(k, chart.snaps[k])}: an acute problem that got better"))
    return out


def _in_rule_words(planted: list[PlantedChange], charts: tuple[Chart, ...]) -> list[PlantedChange]:
    """Planted discrepancies described as the rules describe them (the words the student's feedback uses)."""
    label = {v.encounter_id: f"{c.label}" for c in charts for v in c.visits}
    found = rules.run_all(charts)
    out = []
    for p in planted:
        if p.legitimate:
            out.append(PlantedChange(p.kind, True, p.visits, f"{label[p.visits[0]]}: {p.detail}"))
            continue
        match = next((d for d in found if d.kind == p.kind and set(d.visits) & set(p.visits)), None)
        words = match.detail if match else p.detail
        visits = tuple(dict.fromkeys(p.visits + (match.visits if match else ())))
        out.append(PlantedChange(p.kind, False, visits, f"{label[p.visits[-1]]}: {words}"))
    return out


def consistency_for(case: GeneratedCase) -> ConsistencyCase:
    """The consistency task's record for a generated case (same case and seed, same record)."""
    sc = case.scenario
    return plant_consistency(case.key, sc.consistency_count, random.Random(f"consistency:{case.seed}"),
                             sc.consistency_kinds, sc.legitimate_changes)


def record_charts(case: GeneratedCase) -> tuple[Chart, ...]:
    """The charts the student compares: ``consistency_for(case).charts``, without describing what was planted in
    the rules' words (a run of every rule over the record), which only grading needs, and without the Bundle."""
    sc = case.scenario
    charts, _, ids, _ = _planted_snapshots(case.key, sc.consistency_count, random.Random(f"consistency:{case.seed}"),
                                           sc.consistency_kinds, sc.legitimate_changes)
    return _read_charts(charts, ids)


# ------------------------------------------------------------------------------------- as FHIR
def detected_issues(case: ConsistencyCase) -> list[dict[str, Any]]:
    """The planted discrepancies and legitimate changes as DetectedIssue resources (the answer key's part)."""
    visit = {v.encounter_id: (c, v) for c in case.charts or read_record(case.record) for v in c.visits}
    out = []
    for i, p in enumerate(case.planted, start=1):
        names = rules.DISCREPANCY_KINDS | rules.LEGITIMATE_CHANGES
        issue: dict[str, Any] = {
            "resourceType": "DetectedIssue", "id": f"planted-{i}", "status": "final",
            "code": _cc(rules.SYSTEM, p.kind, names[p.kind]),
            "implicated": [{"reference": f"urn:uuid:{e}",
                            "display": f"MRN {visit[e][0].mrn} {visit[e][1].label}"} for e in p.visits if e in visit],
            "detail": p.detail,
        }
        if p.legitimate:
            issue["extension"] = [{"url": LEGITIMATE_URL, "valueBoolean": True}]
        out.append(issue)
    return out
