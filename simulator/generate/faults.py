"""The fault planter: from an answer key, the record as a careless clerk would have pre-entered it.

Used by the *verify* task (the student corrects a pre-entered record) and later by consistency
reports. Returns the pre-entered Bundle and the list of what was planted, so the grader can tell a
correction from a new error.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from simulator.fhir import HITSIM
from simulator.generate.scenario import FAULT_KINDS


@dataclass(frozen=True)
class PlantedFault:
    kind: str
    resource_type: str
    resource_id: str
    path: str  # element path, e.g. "Patient.birthDate"
    expected: str  # what the paper chart says
    planted: str  # what the pre-entered record says ("" when the fact was left out)
    description: str  # for the instructor's answer sheet

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class _Record:
    def __init__(self, bundle: dict[str, Any]):
        self.bundle = bundle
        self.entries = bundle["entry"]

    def of(self, resource_type: str, where: Callable[[dict[str, Any]], bool] = lambda _: True) -> list[dict[str, Any]]:
        return [e["resource"] for e in self.entries if e["resource"]["resourceType"] == resource_type
                and where(e["resource"])]

    def remove(self, resource: dict[str, Any]) -> None:
        ref = f"urn:uuid:{resource['id']}"
        self.entries[:] = [e for e in self.entries if e["resource"] is not resource]
        for enc in self.of("Encounter"):
            if "diagnosis" in enc:
                enc["diagnosis"] = [d for d in enc["diagnosis"] if d["condition"]["reference"] != ref]
                for rank, d in enumerate(enc["diagnosis"], start=1):
                    d["rank"] = rank
                if not enc["diagnosis"]:
                    del enc["diagnosis"]


def _change_digit(rng: random.Random, text: str, valid: Callable[[str], bool], skip: int = 0) -> str | None:
    """``text`` with one digit changed (not among the first ``skip`` characters), or None."""
    positions = [i for i, ch in enumerate(text) if ch.isdigit() and i >= skip]
    for _ in range(30):
        i = rng.choice(positions)
        new = text[:i] + str((int(text[i]) + rng.randint(1, 9)) % 10) + text[i + 1:]
        if new != text and valid(new):
            return new
    return None


def _transpose_digits(rng: random.Random, text: str) -> str | None:
    pairs = [i for i in range(len(text) - 1) if text[i].isdigit() and text[i + 1].isdigit() and text[i] != text[i + 1]]
    if not pairs:
        return None
    i = rng.choice(pairs)
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]


def _misspell(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word) - 1) if len(word) > 2 else 0
    how = rng.choice(("swap", "drop", "double"))
    if how == "swap" and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if how == "drop":
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]


def _is_date(text: str, not_after: str) -> bool:
    try:
        return dt.date.fromisoformat(text).isoformat() <= not_after
    except ValueError:
        return False


class FaultPlanter:
    """One method per fault kind: given one resource, plant that error in it and say what was planted."""

    def __init__(self, record: _Record, rng: random.Random):
        self.r, self.rng = record, rng
        starts = [e["period"]["start"][:10] for e in record.of("Encounter")]
        self.first_visit = min(starts) if starts else "9999-12-31"

    def candidates(self, kind: str) -> list[dict[str, Any]]:
        vital = lambda o: o["category"][0]["coding"][0]["code"] == "vital-signs" and "valueQuantity" in o  # noqa: E731
        lab = lambda o: o["category"][0]["coding"][0]["code"] == "laboratory" and "valueQuantity" in o  # noqa: E731
        return {
            "encounter-date": lambda: self.r.of("Encounter"),
            "dose-swap": lambda: self.r.of("MedicationRequest"),
            "wrong-medication-frequency": lambda: self.r.of("MedicationRequest"),
            "missing-allergy": lambda: self.r.of("AllergyIntolerance", lambda a: a["code"]["coding"][0]["code"] != "409137002"),
            "missing-problem": lambda: self.r.of("Condition", lambda c: c["category"][0]["coding"][0]["code"]
                                                 == "problem-list-item"),
            "vital-transposed": lambda: self.r.of("Observation", vital),
            "lab-value": lambda: self.r.of("Observation", lab),
        }.get(kind, lambda: self.r.of("Patient"))()

    def plant(self, kind: str, res: dict[str, Any]) -> PlantedFault | None:
        return getattr(self, kind.replace("-", "_"))(res)

    def _fault(self, kind: str, res: dict[str, Any], path: str, expected: Any, planted: Any, what: str) -> PlantedFault:
        return PlantedFault(kind, res["resourceType"], res["id"], path, str(expected), str(planted), what)

    def dob_digit(self, p: dict[str, Any]) -> PlantedFault | None:
        new = _change_digit(self.rng, p["birthDate"], lambda t: _is_date(t, self.first_visit), skip=2)
        if not new:
            return None
        old, p["birthDate"] = p["birthDate"], new
        return self._fault("dob-digit", p, "Patient.birthDate", old, new, "Date of birth: one digit wrong")

    def name_misspelling(self, p: dict[str, Any]) -> PlantedFault | None:
        name = p["name"][0]
        if self.rng.random() < 0.5:
            old = name["family"]
            name["family"] = _misspell(self.rng, old)
            return self._fault("name-misspelling", p, "Patient.name.family", old, name["family"], "Last name misspelt")
        old = name["given"][0]
        name["given"][0] = _misspell(self.rng, old)
        return self._fault("name-misspelling", p, "Patient.name.given", old, name["given"][0], "First name misspelt")

    def phone_digit(self, p: dict[str, Any]) -> PlantedFault | None:
        old = p["telecom"][0]["value"]
        new = _change_digit(self.rng, old, lambda t: True)
        if not new:
            return None
        p["telecom"][0]["value"] = new
        return self._fault("phone-digit", p, "Patient.telecom.value", old, new, "Phone number: one digit wrong")

    def address_typo(self, p: dict[str, Any]) -> PlantedFault | None:
        line = p["address"][0]["line"]
        old = line[0]
        number, _, street = old.partition(" ")
        new = f"{_transpose_digits(self.rng, number) or number} {street}"
        if new == old:
            new = f"{number} {_misspell(self.rng, street)}"
        line[0] = new
        return self._fault("address-typo", p, "Patient.address.line", old, new, "Street address mistyped")

    def wrong_sex(self, p: dict[str, Any]) -> PlantedFault | None:
        old = p["gender"]
        p["gender"] = "male" if old == "female" else "female"
        return self._fault("wrong-sex", p, "Patient.gender", old, p["gender"], "Sex entered wrong")

    def encounter_date(self, enc: dict[str, Any]) -> PlantedFault | None:
        old = enc["period"]["start"]
        shift = dt.timedelta(days=self.rng.choice((-10, -7, -2, -1, 1, 2, 7, 10, 30)))
        new_day = (dt.date.fromisoformat(old[:10]) + shift).isoformat()
        enc["period"]["start"] = new_day + old[10:]
        enc["period"]["end"] = new_day + enc["period"]["end"][10:]
        return self._fault("encounter-date", enc, "Encounter.period.start", old[:10], new_day, "Visit date entered wrong")

    def dose_swap(self, med: dict[str, Any]) -> PlantedFault | None:
        text = med["medicationCodeableConcept"]["text"]
        match = re.search(r"(\d+(?:\.\d+)?) (mg|mcg|units|%)", text)
        if not match:
            return None
        value = match.group(1)
        new_value = {"5": "50", "10": "100", "20": "200", "25": "250", "50": "5", "100": "10"}.get(value, value + "0")
        new = text[:match.start(1)] + new_value + text[match.end(1):]
        med["medicationCodeableConcept"]["text"] = new
        return self._fault("dose-swap", med, "MedicationRequest.medicationCodeableConcept.text", text, new,
                           "Medication strength entered wrong")

    def wrong_medication_frequency(self, med: dict[str, Any]) -> PlantedFault | None:
        swaps = {"BID": "TID", "TID": "BID", "QD": "BID", "QHS": "QAM", "QAM": "QHS", "QID": "TID"}
        dosage = med["dosageInstruction"][0]
        code = dosage.get("timing", {}).get("code", {}).get("text")
        if code not in swaps:
            return None
        old = dosage["text"]
        dosage["text"] = re.sub(rf"\b{code}\b", swaps[code], old, count=1)
        dosage["timing"]["code"]["text"] = swaps[code]
        dosage["timing"]["repeat"]["frequency"] = {"BID": 2, "TID": 3, "QID": 4}.get(swaps[code], 1)
        return self._fault("wrong-medication-frequency", med, "MedicationRequest.dosageInstruction.text", old,
                           dosage["text"], "Medication frequency entered wrong")

    def missing_allergy(self, a: dict[str, Any]) -> PlantedFault | None:
        self.r.remove(a)
        return self._fault("missing-allergy", a, "AllergyIntolerance", a["code"]["text"], "", "Allergy left out")

    def missing_problem(self, c: dict[str, Any]) -> PlantedFault | None:
        self.r.remove(c)
        return self._fault("missing-problem", c, "Condition", c["code"]["text"], "", "Problem left off the list")

    def vital_transposed(self, o: dict[str, Any]) -> PlantedFault | None:
        q = o["valueQuantity"]
        new = _transpose_digits(self.rng, str(q["value"]))
        if not new:
            return None
        old = q["value"]
        q["value"] = float(new) if "." in new else int(new)
        return self._fault("vital-transposed", o, "Observation.valueQuantity.value", old, q["value"],
                           f"{o['code']['coding'][0]['display']}: digits transposed")

    def lab_value(self, o: dict[str, Any]) -> PlantedFault | None:
        q = o["valueQuantity"]
        old = q["value"]
        new = _transpose_digits(self.rng, str(old))
        q["value"] = (float(new) if "." in new else int(new)) if new else round(old * 10, 2)
        return self._fault("lab-value", o, "Observation.valueQuantity.value", old, q["value"],
                           f"{o['code']['coding'][0]['display']}: result entered wrong")


def plant_faults(key: dict[str, Any], count: int, rng: random.Random,
                 kinds: tuple[str, ...] = FAULT_KINDS) -> tuple[dict[str, Any], list[PlantedFault]]:
    """A pre-entered copy of ``key`` (claims removed: coding is its own task) with ``count`` errors.

    Every kind is used once before any repeats; each fault touches a different field, and a removed
    resource carries no other fault. The key itself is never modified. Fewer faults are planted when
    the record offers fewer places (a patient with no allergy cannot lose one).
    """
    record = _Record(copy.deepcopy(key))
    record.entries[:] = [e for e in record.entries if e["resource"]["resourceType"] != "Claim"]
    record.bundle["meta"] = {"tag": [{"system": f"{HITSIM}/tag", "code": "pre-entered",
                                      "display": "Pre-entered record with planted errors"}]}
    planter = FaultPlanter(record, rng)
    pool = [(kind, res) for kind in kinds for res in planter.candidates(kind)]
    rng.shuffle(pool)
    firsts: list[tuple[str, dict[str, Any]]] = []
    for item in pool:  # the first candidate of each kind, in shuffled order
        if all(item[0] != kind for kind, _ in firsts):
            firsts.append(item)
    ordered = firsts + [item for item in pool if not any(item is f for f in firsts)]
    planted: list[PlantedFault] = []
    touched: dict[str, set[str]] = {}  # resource id -> kinds planted in it
    for kind, res in ordered:
        if len(planted) == count:
            break
        kinds_here = touched.get(res["id"], set())
        # One fault per resource, except the Patient, which takes at most one fault of each kind.
        if kinds_here and (res["resourceType"] != "Patient" or kind in kinds_here):
            continue
        fault = planter.plant(kind, res)
        if fault is not None:
            planted.append(fault)
            touched.setdefault(res["id"], set()).add(kind)
    return record.bundle, planted

