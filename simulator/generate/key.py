"""Scenario + seed -> the answer key: one FHIR R4 Bundle (type collection) holding every patient.

Deterministic: every random choice comes from ``random.Random(seed)`` (and Faker seeded from it);
no clock, locale or hash order is read, so the same scenario and seed give byte-identical JSON.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
from dataclasses import dataclass
from typing import Any

from simulator.clinical import FREQUENCIES, ROUTES, Catalog, load_catalog
from simulator.coding import rules_injury
from simulator.fhir import CPT, HCPCS, HITSIM, ICD10CM, LOINC, MRN_SYSTEM, RXNORM, SNOMED, UCUM
from simulator.generate.clinical_course import Course, CourseBuilder, Visit
from simulator.generate.notes import qualitative_text, sig_text
from simulator.generate.people import (
    CLINIC_TZ,
    CLINICS,
    CREDENTIALS,
    HOSPITALS,
    Person,
    faker_for,
    make_person,
    member_id,
    npi,
    payer_for,
)
from simulator.generate.scenario import Scenario

OPTIONAL_CODE_URL = f"{HITSIM}/StructureDefinition/coding-optional"
CLAIM_ENCOUNTER_URL = f"{HITSIM}/StructureDefinition/claim-encounter"  # a claim with no service line still names its visit
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
UNIT_NAMES = {"[lb_av]": "lb", "kg": "kg", "[in_i]": "in", "cm": "cm", "[degF]": "°F", "Cel": "°C",
              "mL/min/{1.73_m2}": "mL/min/1.73m²", "m[IU]/L": "mIU/L", "10*3/uL": "x10³/µL",
              "mg/g{creat}": "mg/g creatinine", "{INR}": "ratio", "mm[Hg]": "mmHg"}
VITAL_CODES = {
    "bp": ("85354-9", "Blood pressure panel with all children optional"),
    "systolic": ("8480-6", "Systolic blood pressure"),
    "diastolic": ("8462-4", "Diastolic blood pressure"),
    "heart_rate": ("8867-4", "Heart rate"),
    "resp_rate": ("9279-1", "Respiratory rate"),
    "temp": ("8310-5", "Body temperature"),
    "spo2": ("2708-6", "Oxygen saturation in Arterial blood"),
    "weight": ("29463-7", "Body weight"),
    "height": ("8302-2", "Body height"),
    "bmi": ("39156-5", "Body mass index (BMI) [Ratio]"),
}
ENCOUNTER_TYPES = {
    "new": ("185349003", "Encounter for check up"),
    "follow-up": ("390906007", "Follow-up encounter"),
    "acute": ("185345009", "Encounter for symptom"),
    "preventive": ("410620009", "Well child visit"),
    "emergency": ("50849002", "Emergency room admission"),
}
NOTE_TYPES = {"office": ("11506-3", "Progress note"), "emergency": ("34111-5", "Emergency department Note")}


@dataclass(frozen=True)
class GeneratedCase:
    """What the generator makes: the answer key and how its paper chart is to be printed."""

    key: dict[str, Any]
    style: ChartStyle
    scenario: Scenario
    seed: int


@dataclass(frozen=True)
class ChartStyle:
    """Presentation choices of the paper chart (the messiness knobs), fixed by the seed."""

    date_formats: dict[str, str]  # section -> iso | us | us-short | long


CHART_SECTIONS = ("face", "notes", "meds", "vitals", "labs", "superbill")


def uuid4_of(bits: int) -> str:
    """``str(uuid.UUID(int=bits, version=4))``, without building the UUID object (thousands per case)."""
    h = "%032x" % (bits & ~(0xF000 << 64) & ~(0xC000 << 48) | 0x4000 << 64 | 0x8000 << 48)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class _Ids:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def new(self) -> str:
        return uuid4_of(self.rng.getrandbits(128))


def _ref(resource: dict[str, Any]) -> dict[str, str]:
    return {"reference": f"urn:uuid:{resource['id']}"}


def _cc(system: str, code: str, display: str, text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [{"system": system, "code": code, "display": display}]}
    if text:
        out["text"] = text
    return out


def _when(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + CLINIC_TZ


def _quantity(value: float, unit: str, decimals: int | None = None) -> dict[str, Any]:
    number: float | int = int(value) if decimals == 0 or (decimals is None and float(value).is_integer()) else value
    return {"value": number, "unit": UNIT_NAMES.get(unit, unit), "system": UCUM, "code": unit}


class KeyBuilder:
    def __init__(self, scenario: Scenario, seed: int, catalog: Catalog | None = None):
        self.sc, self.seed = scenario, seed
        self.cat = catalog or load_catalog()
        self.rng = random.Random(seed)
        self.ids = _Ids(random.Random(self.rng.getrandbits(64)))
        self.entries: list[dict[str, Any]] = []

    def add(self, resource: dict[str, Any]) -> dict[str, Any]:
        self.entries.append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})
        return resource

    # ---------------------------------------------------------------- organisation
    def _organisation(self) -> tuple[dict[str, Any], dict[str, Any]]:
        rng = self.rng
        name, street, city, zip_code = rng.choice(HOSPITALS if self.sc.setting == "emergency" else CLINICS)
        org = self.add({
            "resourceType": "Organization", "id": self.ids.new(), "active": True,
            "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": npi(rng)}],
            "type": [_cc(f"{TERMINOLOGY}/organization-type", "prov", "Healthcare Provider")],
            "name": name,
            "telecom": [{"system": "phone", "value": f"(602) {rng.randint(200, 989)}-{rng.randint(0, 9999):04d}",
                         "use": "work"}],
            "address": [{"use": "work", "line": [street], "city": city, "state": "AZ", "postalCode": zip_code}],
        })
        doc = make_person(rng, rng.choice(("female", "male")))
        cred = rng.choice(CREDENTIALS)
        practitioner = self.add({
            "resourceType": "Practitioner", "id": self.ids.new(), "active": True,
            "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": npi(rng)}],
            "name": [{"use": "official", "family": doc.family, "given": [doc.given], "suffix": [cred]}],
            "gender": doc.sex,
        })
        return org, practitioner

    # ---------------------------------------------------------------- the bundle
    def build(self) -> GeneratedCase:
        org, practitioner = self._organisation()
        payers: dict[str, dict[str, Any]] = {}
        for _ in range(self.sc.patient_count):
            prng = random.Random(self.rng.getrandbits(64))
            course = CourseBuilder(self.cat, self.sc, prng).build()
            self._patient(course, prng, org, practitioner, payers)
        style_rng = random.Random(self.rng.getrandbits(64))
        style = ChartStyle({s: style_rng.choice(self.sc.date_formats) for s in CHART_SECTIONS})
        bundle_id = self.ids.new()
        bundle = {
            "resourceType": "Bundle", "id": bundle_id,
            "meta": {"tag": [{"system": f"{HITSIM}/tag", "code": "answer-key",
                              "display": f"{self.sc.slug} seed {self.seed}"}]},
            "identifier": {"system": f"{HITSIM}/sid/case", "value": f"{self.sc.slug}:{self.seed}"},
            "type": "collection",
            "timestamp": _when(dt.datetime.combine(self.sc.start, dt.time(0, 0))),
            "entry": self.entries,
        }
        return GeneratedCase(bundle, style, self.sc, self.seed)

    def _payer(self, payers: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
        if name not in payers:
            payers[name] = self.add({
                "resourceType": "Organization", "id": self.ids.new(), "active": True,
                "type": [_cc(f"{TERMINOLOGY}/organization-type", "pay", "Payer")], "name": name,
            })
        return payers[name]

    def _patient(self, course: Course, rng: random.Random, org: dict[str, Any], doc: dict[str, Any],
                 payers: dict[str, dict[str, Any]]) -> None:
        person = make_person(rng, course.sex)
        first_visit = course.visits[0].start.date()
        age = first_visit.year - course.birth_date.year
        mrn = f"{rng.randint(1000000, 9999999)}"
        patient = self.add(self._patient_resource(person, course, mrn, rng, doc))
        payer_name = payer_for(rng, age)
        payer = self._payer(payers, payer_name)
        coverage = self.add({
            "resourceType": "Coverage", "id": self.ids.new(), "status": "active",
            "type": _cc("http://terminology.hl7.org/CodeSystem/v3-ActCode", "HIP", "health insurance plan policy"),
            "subscriberId": member_id(rng, payer_name), "beneficiary": _ref(patient),
            "relationship": _cc(f"{TERMINOLOGY}/subscriber-relationship", "self", "Self"),
            "payor": [_ref(payer) | {"display": payer_name}],
        })
        if course.allergies:
            for key, reaction_key in course.allergies:
                self.add(self._allergy(patient, key, reaction_key, first_visit))
        else:
            self.add({
                "resourceType": "AllergyIntolerance", "id": self.ids.new(),
                "clinicalStatus": _cc(f"{TERMINOLOGY}/allergyintolerance-clinical", "active", "Active"),
                "verificationStatus": _cc(f"{TERMINOLOGY}/allergyintolerance-verification", "confirmed", "Confirmed"),
                "code": _cc(SNOMED, "409137002", "No known drug allergy", "NKDA"),
                "patient": _ref(patient), "recordedDate": first_visit.isoformat(),
            })
        problem_refs: dict[str, dict[str, Any]] = {}
        for ac in course.chronic:
            for code in ac.codes:
                cond = self.add(self._condition(patient, None, code, ac.name if code == ac.codes[0] else None,
                                                "problem-list-item", ac.onset, first_visit))
                problem_refs[code] = cond
        med_resources = []
        for order in course.meds:
            if order.start < first_visit:
                med_resources.append(self.add(self._medication(patient, None, doc, order, course)))
        for visit in course.visits:
            self._visit(visit, course, patient, org, doc, coverage, problem_refs)

    def _patient_resource(self, person: Person, course: Course, mrn: str, rng: random.Random,
                          doc: dict[str, Any]) -> dict[str, Any]:
        given = [person.given] + ([person.middle] if person.middle else [])
        line = [person.street] + ([person.apartment] if person.apartment else [])
        fake = faker_for(rng)
        contact_sex = rng.choice(("female", "male"))
        contact_given = fake.first_name_female() if contact_sex == "female" else fake.first_name_male()
        adult = course.birth_date.year <= course.visits[0].start.year - 18
        relation = rng.choice((("SPS", "spouse"), ("CHILD", "child"), ("SIB", "sibling"), ("FRND", "friend"))
                              if adult else (("MTH", "mother"), ("FTH", "father")))
        return {
            "resourceType": "Patient", "id": self.ids.new(),
            "identifier": [{
                "use": "usual", "type": _cc("http://terminology.hl7.org/CodeSystem/v2-0203", "MR", "Medical record number"),
                "system": MRN_SYSTEM, "value": mrn,
            }],
            "active": True,
            "name": [{"use": "official", "family": person.family, "given": given}],
            "telecom": [{"system": "phone", "value": person.phone, "use": rng.choice(("home", "mobile"))}],
            "gender": person.sex,
            "birthDate": course.birth_date.isoformat(),
            "address": [{"use": "home", "line": line, "city": person.city, "state": person.state,
                         "postalCode": person.zip}],
            "contact": [{
                "relationship": [_cc("http://terminology.hl7.org/CodeSystem/v3-RoleCode", relation[0], relation[1])],
                "name": {"family": person.family if relation[0] != "FRND" else fake.last_name(), "given": [contact_given]},
                "telecom": [{"system": "phone", "value": f"({rng.choice(('480', '602', '520'))}) "
                                                         f"{rng.randint(200, 989)}-{rng.randint(0, 9999):04d}"}],
            }],
            "generalPractitioner": [_ref(doc)],
        }

    def _allergy(self, patient: dict[str, Any], key: str, reaction_key: str, day: dt.date) -> dict[str, Any]:
        allergy = self.cat.allergies[key]
        reaction = self.cat.reactions[reaction_key]
        severe = reaction_key in ("anaphylaxis", "angioedema")
        return {
            "resourceType": "AllergyIntolerance", "id": self.ids.new(),
            "clinicalStatus": _cc(f"{TERMINOLOGY}/allergyintolerance-clinical", "active", "Active"),
            "verificationStatus": _cc(f"{TERMINOLOGY}/allergyintolerance-verification", "confirmed", "Confirmed"),
            "type": "allergy", "category": ["medication"], "criticality": "high" if severe else "low",
            "code": _cc(RXNORM, allergy.rxnorm, allergy.substance, allergy.substance),
            "patient": _ref(patient), "recordedDate": day.isoformat(),
            "reaction": [{
                "manifestation": [_cc(SNOMED, reaction.snomed, reaction.display, reaction_key)],
                "severity": "severe" if severe else "moderate" if reaction_key in ("hives", "shortness of breath") else "mild",
            }],
        }

    def _condition(self, patient: dict[str, Any], encounter: dict[str, Any] | None, code: str, text: str | None,
                   category: str, onset: dt.date, recorded: dt.date) -> dict[str, Any]:
        title = self.cat.icd10cm_titles[code]
        resource = {
            "resourceType": "Condition", "id": self.ids.new(),
            "clinicalStatus": _cc(f"{TERMINOLOGY}/condition-clinical", "active", "Active"),
            "verificationStatus": _cc(f"{TERMINOLOGY}/condition-ver-status", "confirmed", "Confirmed"),
            "category": [_cc(f"{TERMINOLOGY}/condition-category", category,
                             "Problem List Item" if category == "problem-list-item" else "Encounter Diagnosis")],
            "code": _cc(ICD10CM, code, title, text or title),
            "subject": _ref(patient),
            "onsetDateTime": onset.isoformat(),
            "recordedDate": recorded.isoformat(),
        }
        if encounter is not None:
            resource["encounter"] = _ref(encounter)
        return resource

    def _medication(self, patient: dict[str, Any], encounter: dict[str, Any] | None, doc: dict[str, Any],
                    order: Any, course: Course) -> dict[str, Any]:
        med, sig = order.medication, order.sig
        words, frequency, period, unit = FREQUENCIES[sig.frequency]
        route_abbr, route_code, route_display = ROUTES[med.route]
        last_visit = course.visits[-1].start.date()
        status = "stopped" if order.stopped else "active" if order.end is None or order.end >= last_visit else "completed"
        timing: dict[str, Any] = {"repeat": {"frequency": frequency, "period": period, "periodUnit": unit}}
        if sig.frequency != "ONCE":
            timing["code"] = {"text": sig.frequency}
        else:
            timing["repeat"]["count"] = 1
        dosage: dict[str, Any] = {
            "sequence": 1, "text": sig_text(order, abbreviated=True), "timing": timing,
            "route": _cc(SNOMED, route_code, route_display, route_abbr),
            "doseAndRate": [{"doseQuantity": {"value": int(sig.dose) if float(sig.dose).is_integer() else sig.dose,
                                              "unit": sig.unit}}],
        }
        if sig.prn:
            dosage["asNeededCodeableConcept"] = {"text": sig.prn}
        resource: dict[str, Any] = {
            "resourceType": "MedicationRequest", "id": self.ids.new(), "status": status, "intent": "order",
            "medicationCodeableConcept": _cc(RXNORM, med.rxnorm, med.name, f"{med.name} {order.strength} {med.form}"),
            "subject": _ref(patient), "authoredOn": order.start.isoformat(), "requester": _ref(doc),
            "dosageInstruction": [dosage],
        }
        if encounter is not None:
            resource["encounter"] = _ref(encounter)
        if order.end is not None:
            resource["dispenseRequest"] = {"validityPeriod": {"start": order.start.isoformat(),
                                                              "end": order.end.isoformat()}}
        return resource

    # ---------------------------------------------------------------- one visit
    def _visit(self, visit: Visit, course: Course, patient: dict[str, Any], org: dict[str, Any],
               doc: dict[str, Any], coverage: dict[str, Any], problem_refs: dict[str, dict[str, Any]]) -> None:
        emergency = visit.setting == "emergency"
        type_code, type_display = ENCOUNTER_TYPES[visit.kind]
        if visit.kind == "preventive" and visit.focus[0].condition.key != "well-child":
            type_code, type_display = "185349003", "Encounter for check up"
        encounter = self.add({
            "resourceType": "Encounter", "id": self.ids.new(), "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                      "code": "EMER" if emergency else "AMB", "display": "emergency" if emergency else "ambulatory"},
            "type": [_cc(SNOMED, type_code, type_display)],
            "subject": _ref(patient),
            "participant": [{"individual": _ref(doc)}],
            "period": {"start": _when(visit.start), "end": _when(visit.end)},
            "reasonCode": [{"text": visit.complaint}],
            "serviceProvider": _ref(org),
        })
        day = visit.start.date()
        diagnosis_refs = []
        # Encounter diagnoses are the conditions the note documents; codes a rule adds from other
        # documentation (Z79, Z68, Z87.891, external causes) are on the claim only.
        for rank, dx in enumerate((d for d in visit.diagnoses if d.condition), start=1):
            if dx.code in problem_refs:
                cond = problem_refs[dx.code]
            else:
                cond = self.add(self._condition(patient, encounter, dx.code, dx.text, "encounter-diagnosis", day, day))
            diagnosis_refs.append({"condition": _ref(cond), "rank": rank})
        encounter["diagnosis"] = diagnosis_refs
        self._vital_observations(visit, patient, encounter)
        for result in visit.labs:
            self.add(self._lab(result, patient, encounter, visit))
        for key in visit.procedures:
            proc = self.cat.procedures[key]
            service = self.cat.services[proc.service]
            if proc.repair and not proc.repair.startswith("adhesive"):  # the repair as done: its own length's code
                family, group = proc.repair.split(":")
                service = self.cat.services[rules_injury.repair_code(family, group, visit.wound_lengths[key])]
            self.add({
                "resourceType": "Procedure", "id": self.ids.new(), "status": "completed",
                "code": _cc(CPT if service.system == "CPT" else HCPCS, service.code, service.description, proc.name),
                "subject": _ref(patient), "encounter": _ref(encounter),
                "performedDateTime": _when(visit.start + (visit.end - visit.start) / 2),
                "performer": [{"actor": _ref(doc)}],
            })
        for order in visit.meds_started:
            self.add(self._medication(patient, encounter, doc, order, course))
        self.add(self._note(visit, course, patient, encounter, doc))
        self.add(self._claim(visit, patient, encounter, org, coverage))

    def _vital_observations(self, visit: Visit, patient: dict[str, Any], encounter: dict[str, Any]) -> None:
        v = visit.vitals
        assert v is not None
        when = _when(visit.start + dt.timedelta(minutes=5))

        def obs(kind: str, **value: Any) -> None:
            code, display = VITAL_CODES[kind]
            self.add({
                "resourceType": "Observation", "id": self.ids.new(), "status": "final",
                "category": [_cc(f"{TERMINOLOGY}/observation-category", "vital-signs", "Vital Signs")],
                "code": _cc(LOINC, code, display), "subject": _ref(patient), "encounter": _ref(encounter),
                "effectiveDateTime": when, **value,
            })

        def component(kind: str, value: int) -> dict[str, Any]:
            code, display = VITAL_CODES[kind]
            return {"code": _cc(LOINC, code, display), "valueQuantity": _quantity(value, "mm[Hg]")}

        obs("bp", component=[component("systolic", v.systolic), component("diastolic", v.diastolic)])
        obs("heart_rate", valueQuantity=_quantity(v.heart_rate, "/min"))
        obs("resp_rate", valueQuantity=_quantity(v.resp_rate, "/min"))
        obs("temp", valueQuantity=_quantity(v.temp, v.temp_unit, 1))
        obs("spo2", valueQuantity=_quantity(v.spo2, "%"))
        obs("weight", valueQuantity=_quantity(v.weight, v.weight_unit, 1))
        obs("height", valueQuantity=_quantity(v.height, v.height_unit, 0))
        if v.bmi is not None:
            obs("bmi", valueQuantity=_quantity(v.bmi, "kg/m2", 1))

    def _lab(self, result: Any, patient: dict[str, Any], encounter: dict[str, Any], visit: Visit) -> dict[str, Any]:
        lab = self.cat.labs[result.lab]
        resource: dict[str, Any] = {
            "resourceType": "Observation", "id": self.ids.new(), "status": "final",
            "category": [_cc(f"{TERMINOLOGY}/observation-category", "laboratory", "Laboratory")],
            "code": _cc(LOINC, lab.loinc, lab.name), "subject": _ref(patient), "encounter": _ref(encounter),
            "effectiveDateTime": _when(visit.start + dt.timedelta(minutes=15)),
        }
        if lab.qualitative:
            resource["valueString"] = qualitative_text(result.lab, result.value)
            resource["referenceRange"] = [{"text": "Negative"}]
            flag = "A" if result.value > 0 else "N"
        else:
            resource["valueQuantity"] = _quantity(result.value, lab.unit, lab.decimals)
            resource["referenceRange"] = [{"low": _quantity(lab.normal[0], lab.unit, lab.decimals),
                                           "high": _quantity(lab.normal[1], lab.unit, lab.decimals)}]
            flag = "H" if result.value > lab.normal[1] else "L" if result.value < lab.normal[0] else "N"
        resource["interpretation"] = [_cc("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", flag,
                                          INTERPRETATIONS[flag])]
        return resource

    def _note(self, visit: Visit, course: Course, patient: dict[str, Any], encounter: dict[str, Any],
              doc: dict[str, Any]) -> dict[str, Any]:
        code, display = NOTE_TYPES[visit.setting]
        text = visit.note
        return {
            "resourceType": "DocumentReference", "id": self.ids.new(), "status": "current", "docStatus": "final",
            "type": _cc(LOINC, code, display),
            "category": [_cc("http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                             "clinical-note", "Clinical Note")],
            "subject": _ref(patient), "date": _when(visit.end), "author": [_ref(doc)],
            "description": f"{display}, visit {visit.number}",
            "content": [{"attachment": {"contentType": "text/plain; charset=utf-8",
                                        "data": base64.b64encode(text.encode("utf-8")).decode("ascii"),
                                        "title": f"{display} {visit.start.date().isoformat()}"}}],
            "context": {"encounter": [_ref(encounter)],
                        "period": {"start": _when(visit.start), "end": _when(visit.end)}},
        }

    def _claim(self, visit: Visit, patient: dict[str, Any], encounter: dict[str, Any], org: dict[str, Any],
               coverage: dict[str, Any]) -> dict[str, Any]:
        diagnoses = []
        for seq, dx in enumerate(visit.diagnoses, start=1):
            entry: dict[str, Any] = {"sequence": seq, "diagnosisCodeableConcept": _cc(ICD10CM, dx.code, dx.title)}
            if dx.optional:
                entry["extension"] = [{"url": OPTIONAL_CODE_URL, "valueBoolean": True}]
            diagnoses.append(entry)
        seq_of = {dx.code: seq for seq, dx in enumerate(visit.diagnoses, start=1)}
        items = []
        for seq, line in enumerate(visit.services, start=1):
            service = self.cat.services[line.code]
            item: dict[str, Any] = {
                "sequence": seq,
                "diagnosisSequence": [seq_of[c] for c in line.diagnosis_codes],
                "productOrService": _cc(CPT if service.system == "CPT" else HCPCS, line.code, service.description,
                                        line.text or None),
                "servicedDate": visit.start.date().isoformat(),
                "quantity": {"value": line.units},
                "encounter": [_ref(encounter)],
            }
            if line.modifiers:
                item["modifier"] = [{"coding": [{"system": CPT, "code": m}]} for m in line.modifiers]
            items.append(item)
        return {
            "resourceType": "Claim", "id": self.ids.new(), "status": "active",
            "type": _cc(f"{TERMINOLOGY}/claim-type", "professional", "Professional"),
            "use": "claim", "patient": _ref(patient), "created": visit.start.date().isoformat(),
            "provider": _ref(org),
            "priority": _cc(f"{TERMINOLOGY}/processpriority", "normal", "Normal"),
            "insurance": [{"sequence": 1, "focal": True, "coverage": _ref(coverage)}],
            "diagnosis": diagnoses, "item": items,
            "extension": [{"url": CLAIM_ENCOUNTER_URL, "valueReference": _ref(encounter)}],
        }


INTERPRETATIONS = {"H": "High", "L": "Low", "N": "Normal", "A": "Abnormal"}


def generate_case(scenario: Scenario, seed: int, catalog: Catalog | None = None) -> GeneratedCase:
    return KeyBuilder(scenario, seed, catalog).build()


def key_json(case: GeneratedCase) -> str:
    """The answer key as the exact bytes ``hitsim generate`` writes (stable key order, UTF-8)."""
    return json.dumps(case.key, indent=2, ensure_ascii=False) + "\n"
