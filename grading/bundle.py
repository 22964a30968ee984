"""Read a FHIR Bundle (dict or fhir.resources model) tolerantly: group resources by patient, resolve
references, and note what cannot be used instead of failing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

GRADED_TYPES = ("Patient", "Coverage", "Encounter", "Condition", "MedicationRequest", "AllergyIntolerance", "Claim",
                "Observation", "Procedure", "DocumentReference")
SUBJECT_FIELDS = ("subject", "patient", "beneficiary")


@dataclass
class Problem:
    """Something in the submission that could not be graded, reported as a finding."""

    path: str
    message: str


@dataclass
class PatientRecord:
    patient: dict[str, Any]
    resources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def of(self, resource_type: str) -> list[dict[str, Any]]:
        return self.resources.get(resource_type, [])


@dataclass
class Chart:
    patients: list[PatientRecord]
    by_ref: dict[str, dict[str, Any]]
    problems: list[Problem]

    def resolve(self, reference: Any) -> dict[str, Any] | None:
        if not isinstance(reference, dict) or not isinstance(reference.get("reference"), str):
            return None
        ref = reference["reference"]
        if ref in self.by_ref:
            return self.by_ref[ref]
        parts = ref.rstrip("/").split("/")
        return self.by_ref.get("/".join(parts[-2:])) if len(parts) >= 2 else None


_known_types: dict[str, bool] = {}


def is_resource_type(name: str) -> bool:
    if name not in _known_types:
        try:
            get_fhir_model_class(name)
            _known_types[name] = True
        except (KeyError, ValueError):
            _known_types[name] = False
    return _known_types[name]


def as_dict(document: Any) -> Any:
    """fhir.resources models become FHIR JSON dicts; anything else is returned as it is."""
    dump = getattr(document, "model_dump", None)
    if callable(dump):
        return dump(mode="json", by_alias=True, exclude_none=True)
    return document


def read_chart(document: Any, who: str) -> Chart:
    """``who`` is 'submission' or 'key' (used in messages)."""
    document = as_dict(document)
    problems: list[Problem] = []
    entries: list[tuple[str | None, Any]] = []
    if isinstance(document, dict) and document.get("resourceType") == "Bundle":
        raw_entries = document.get("entry", [])
        if not isinstance(raw_entries, list):
            problems.append(Problem("Bundle.entry", f"the {who}'s Bundle.entry is not a list; nothing could be read"))
            raw_entries = []
        for i, entry in enumerate(raw_entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
                problems.append(Problem(f"Bundle.entry[{i}]", "entry without a resource was skipped"))
                continue
            entries.append((entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None,
                            as_dict(entry["resource"])))
    elif isinstance(document, dict) and isinstance(document.get("resourceType"), str):
        problems.append(Problem(document["resourceType"], f"the {who} is a single {document['resourceType']}, "
                                                          "not a Bundle; it was graded as a Bundle of one resource"))
        entries.append((None, document))
    else:
        problems.append(Problem("(document)", f"the {who} is not a FHIR Bundle (a JSON object with resourceType "
                                              "'Bundle'); nothing could be graded"))
    by_ref: dict[str, dict[str, Any]] = {}
    usable: list[dict[str, Any]] = []
    for full_url, res in entries:
        rtype = res.get("resourceType")
        if not isinstance(rtype, str) or not is_resource_type(rtype):
            problems.append(Problem(str(rtype), f"{rtype!r} is not a FHIR resource type; that entry was skipped"))
            continue
        usable.append(res)
        if full_url:
            by_ref[full_url] = res
        if isinstance(res.get("id"), str):
            by_ref[f"{rtype}/{res['id']}"] = res
    chart = Chart([], by_ref, problems)
    records: dict[int, PatientRecord] = {}
    for res in usable:
        if res["resourceType"] == "Patient":
            records[id(res)] = PatientRecord(res)
    chart.patients = list(records.values())
    for res in usable:
        rtype = res["resourceType"]
        if rtype == "Patient" or rtype not in GRADED_TYPES:
            continue
        subject_field = next((f for f in SUBJECT_FIELDS if f in res), None)
        target = chart.resolve(res.get(subject_field)) if subject_field else None
        if target is None or id(target) not in records:
            label = f"{rtype}/{res.get('id', '?')}"
            ref = (res.get(subject_field) or {}).get("reference") if subject_field else None
            problems.append(Problem(f"{label}.{subject_field or 'subject'}",
                                    f"{label} points to patient {ref!r}, which is not in the record; not graded"
                                    if ref else f"{label} names no patient; not graded"))
            continue
        records[id(target)].resources.setdefault(rtype, []).append(res)
    return chart
