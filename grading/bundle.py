"""Read a FHIR Bundle (dict or fhir.resources model) tolerantly: group resources by patient, resolve
references, and note what cannot be used instead of failing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

GRADED_TYPES = ("Patient", "Coverage", "Encounter", "Condition", "MedicationRequest", "AllergyIntolerance", "Claim",
                "Observation", "Procedure", "DocumentReference")
_FILED_TYPES = frozenset(GRADED_TYPES) - {"Patient"}  # filed under the patient they name


@dataclass
class Problem:
    """Something in the submission that could not be graded, reported as a finding."""

    path: str
    message: str


@dataclass
class PatientRecord:
    patient: dict[str, Any]
    resources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    _categories: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict, repr=False, compare=False)

    def of(self, resource_type: str) -> list[dict[str, Any]]:
        return self.resources.get(resource_type, [])

    def in_category(self, resource_type: str, code: str) -> list[dict[str, Any]]:
        """The resources whose first category carries ``code`` (vital signs, laboratory), in record order."""
        groups = self._categories.get(resource_type)
        if groups is None:
            groups = self._categories[resource_type] = {}
            for res in self.of(resource_type):
                categories = res.get("category")
                first = categories[0] if isinstance(categories, list) and categories else None
                codings = first.get("coding") if isinstance(first, dict) else None
                if not isinstance(codings, list):
                    continue
                seen: set[str] = set()
                for c in codings:
                    value = c.get("code") if isinstance(c, dict) else None
                    if isinstance(value, str) and value not in seen:
                        seen.add(value)
                        groups.setdefault(value, []).append(res)
        return groups.get(code, [])


@dataclass
class Chart:
    patients: list[PatientRecord]
    by_ref: dict[str, dict[str, Any]]
    problems: list[Problem]

    def resolve(self, reference: Any) -> dict[str, Any] | None:
        if not isinstance(reference, dict) or not isinstance(reference.get("reference"), str):
            return None
        ref = reference["reference"]
        found = self.by_ref.get(ref)
        if found is not None:
            return found
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
    if type(document) is dict:  # JSON already (the usual case): no attribute lookup that fails
        return document
    dump = getattr(document, "model_dump", None)
    if callable(dump):
        return dump(mode="json", by_alias=True, exclude_none=True)
    return document


# Elements the grader reads, with the JSON type FHIR gives them and words for the student.
_SHAPES: dict[str, dict[str, tuple[type, str]]] = {
    "Patient": {"birthDate": (str, 'a date as text, like "1962-03-14"'), "gender": (str, 'a code as text, like "female"'),
                "name": (list, "a list of names"), "telecom": (list, "a list of contact points"),
                "address": (list, "a list of addresses"), "identifier": (list, "a list of identifiers")},
    "Encounter": {"period": (dict, "a period with start and end"), "class": (dict, "a coding"),
                  "type": (list, "a list of concepts"), "reasonCode": (list, "a list of concepts")},
    "Condition": {"code": (dict, "a concept"), "onsetDateTime": (str, "a date as text"),
                  "clinicalStatus": (dict, "a concept"), "category": (list, "a list of concepts")},
    "MedicationRequest": {"medicationCodeableConcept": (dict, "a concept"), "authoredOn": (str, "a date as text"),
                          "status": (str, "a code as text"), "dosageInstruction": (list, "a list of dosages")},
    "AllergyIntolerance": {"code": (dict, "a concept"), "reaction": (list, "a list of reactions")},
    "Observation": {"code": (dict, "a concept"), "valueQuantity": (dict, "a quantity with value and unit"),
                    "component": (list, "a list of components"), "effectiveDateTime": (str, "a date-time as text")},
    "Coverage": {"subscriberId": (str, "text"), "payor": (list, "a list of references")},
    "Procedure": {"code": (dict, "a concept"), "performedDateTime": (str, "a date-time as text")},
}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    return {int: "the number", float: "the number", str: "the text", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__)


# The same, as (element, JSON type) pairs: checked for every resource of the submission.
_KINDS: dict[str, tuple[tuple[str, type], ...]] = {
    rtype: tuple((k, kind) for k, (kind, _) in shape.items()) for rtype, shape in _SHAPES.items()}


def _well_typed(res: dict[str, Any], problems: list[Problem]) -> dict[str, Any]:
    """The resource without the elements whose JSON type is wrong (a date of birth given as a number), each noted
    as a problem; the input is never changed."""
    kinds = _KINDS.get(res.get("resourceType", ""))
    if not kinds:
        return res
    for k, kind in kinds:  # the usual case: every element has its type, the resource is used as it is
        if k in res and not isinstance(res[k], kind):
            break
    else:
        return res
    shape = _SHAPES[res["resourceType"]]
    bad = [k for k, kind in kinds if k in res and not isinstance(res[k], kind)]
    for k in bad:
        value = res[k]
        problems.append(Problem(f"{res['resourceType']}.{k}",
                                f"{res['resourceType']}.{k}: expected {shape[k][1]}, got {_kind(value)} "
                                f"{str(value)[:40]}; not graded"))
    return {k: v for k, v in res.items() if k not in bad}


def read_chart(document: Any, who: str) -> Chart:
    """``who`` is 'submission' or 'key' (used in messages)."""
    document = as_dict(document)
    problems: list[Problem] = []
    late: list[Problem] = []  # what is wrong inside a resource, reported after the entries that have none
    by_ref: dict[str, dict[str, Any]] = {}
    usable: list[tuple[str, dict[str, Any]]] = []
    records: dict[int, PatientRecord] = {}
    check_types = who == "submission"

    raw_entries: Any = []
    if isinstance(document, dict) and document.get("resourceType") == "Bundle":
        raw_entries = document.get("entry", [])
        if not isinstance(raw_entries, list):
            problems.append(Problem("Bundle.entry", f"the {who}'s Bundle.entry is not a list; nothing could be read"))
            raw_entries = []
    elif isinstance(document, dict) and isinstance(document.get("resourceType"), str):
        problems.append(Problem(document["resourceType"], f"the {who} is a single {document['resourceType']}, "
                                                          "not a Bundle; it was graded as a Bundle of one resource"))
        raw_entries = [{"resource": document}]
    else:
        problems.append(Problem("(document)", f"the {who} is not a FHIR Bundle (a JSON object with resourceType "
                                              "'Bundle'); nothing could be graded"))
    for i, entry in enumerate(raw_entries):
        res = entry.get("resource") if isinstance(entry, dict) else None
        if res is not None and not isinstance(res, dict):
            res = as_dict(res)
        if not isinstance(res, dict):
            problems.append(Problem(f"Bundle.entry[{i}]", "entry without a resource was skipped"))
            continue
        rtype = res.get("resourceType")
        known = _known_types.get(rtype) if isinstance(rtype, str) else False
        if known is None:
            known = is_resource_type(rtype)  # type: ignore[arg-type]
        if not known:
            late.append(Problem(str(rtype), f"{rtype!r} is not a FHIR resource type; that entry was skipped"))
            continue
        if check_types and rtype in _KINDS:
            res = _well_typed(res, late)
        full_url = entry.get("fullUrl")
        if full_url and isinstance(full_url, str):
            by_ref[full_url] = res
        rid = res.get("id")
        if isinstance(rid, str):
            by_ref[f"{rtype}/{rid}"] = res
        if rtype == "Patient":
            records[id(res)] = PatientRecord(res)
        elif rtype in _FILED_TYPES:
            usable.append((rtype, res))  # type: ignore[arg-type]
    problems += late
    chart = Chart(list(records.values()), by_ref, problems)
    for rtype, res in usable:  # each graded resource filed under its patient (known now that all are read)
        subject_field = "subject" if "subject" in res else "patient" if "patient" in res else (
            "beneficiary" if "beneficiary" in res else None)
        subject = res[subject_field] if subject_field else None
        ref = subject.get("reference") if isinstance(subject, dict) else None
        target = by_ref.get(ref) if isinstance(ref, str) else None  # the usual case: the reference as stored
        if target is None and subject_field:
            target = chart.resolve(subject)
        record = records.get(id(target)) if target is not None else None
        if record is None:
            label = f"{rtype}/{res.get('id', '?')}"
            ref = (res.get(subject_field) or {}).get("reference") if subject_field else None
            problems.append(Problem(f"{label}.{subject_field or 'subject'}",
                                    f"{label} points to patient {ref!r}, which is not in the record; not graded"
                                    if ref else f"{label} names no patient; not graded"))
            continue
        bucket = record.resources.get(rtype)
        if bucket is None:
            record.resources[rtype] = [res]
        else:
            bucket.append(res)
    return chart
