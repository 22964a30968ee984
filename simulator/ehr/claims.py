"""The claim a student codes for one visit: diagnoses in sequence and service lines, as a FHIR Claim."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from simulator.fhir import CPT, HCPCS, ICD10CM

CLAIM_ENCOUNTER_URL = "https://hitsim.org/fhir/StructureDefinition/claim-encounter"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"

# The professional claim's limits: the CMS-1500 (02/12) has twelve diagnosis slots (item 21, A-L) and
# four diagnosis pointers per service line (item 24E); the 837P carries the same (HI segment: up to 12
# diagnosis codes; SV107: up to 4 diagnosis code pointers). NUCC 1500 Claim Form Reference Instruction
# Manual, items 21 and 24E.
MAX_DIAGNOSES = 12
MAX_POINTERS = 4


@dataclass
class ClaimLine:
    code: str
    title: str = ""
    units: int = 1
    modifiers: list[str] = field(default_factory=list)
    pointers: list[str] = field(default_factory=list)  # diagnosis codes this line is for


@dataclass
class ClaimDraft:
    diagnoses: list[tuple[str, str]] = field(default_factory=list)  # (code, title) in sequence
    lines: list[ClaimLine] = field(default_factory=list)


def service_system(code: str) -> str:
    return CPT if re.fullmatch(r"\d{4}[0-9FTU]", code) else HCPCS


def read_claim(claim: dict[str, Any] | None) -> ClaimDraft:
    draft = ClaimDraft()
    if not claim:
        return draft
    by_seq = {}
    for dx in sorted(claim.get("diagnosis", []), key=lambda d: d.get("sequence", 0)):
        coding = (dx.get("diagnosisCodeableConcept", {}).get("coding") or [{}])[0]
        draft.diagnoses.append((coding.get("code", ""), coding.get("display", "")))
        by_seq[dx.get("sequence")] = coding.get("code", "")
    for item in sorted(claim.get("item", []), key=lambda i: i.get("sequence", 0)):
        coding = (item.get("productOrService", {}).get("coding") or [{}])[0]
        draft.lines.append(ClaimLine(
            code=coding.get("code", ""), title=coding.get("display", ""),
            units=int(item.get("quantity", {}).get("value", 1)),
            modifiers=[(m.get("coding") or [{}])[0].get("code", "") for m in item.get("modifier", [])],
            pointers=[by_seq[s] for s in item.get("diagnosisSequence", []) if s in by_seq]))
    return draft


def claim_problems(claim: dict[str, Any]) -> str | None:
    """Why this claim could not be filed on a CMS-1500 / 837P (None when it could)."""
    diagnoses = claim.get("diagnosis") or []
    if len(diagnoses) > MAX_DIAGNOSES:
        return (f"A claim takes at most {MAX_DIAGNOSES} diagnoses (CMS-1500 item 21, A-L); "
                f"this one has {len(diagnoses)}")
    for item in claim.get("item") or []:
        pointers = item.get("diagnosisSequence") or []
        if len(pointers) > MAX_POINTERS:
            return (f"A service line points to at most {MAX_POINTERS} diagnoses (CMS-1500 item 24E); "
                    f"line {item.get('sequence', '?')} points to {len(pointers)}")
    return None


def build_claim(draft: ClaimDraft, *, patient_id: str, encounter: dict[str, Any], coverage: dict[str, Any] | None,
                existing: dict[str, Any] | None) -> dict[str, Any]:
    res = {k: v for k, v in (existing or {}).items() if k != "meta"}
    res.setdefault("id", str(uuid.uuid4()))
    day = str(encounter.get("period", {}).get("start", ""))[:10] or dt.date.today().isoformat()
    seq_of = {code: i for i, (code, _t) in enumerate(draft.diagnoses, start=1)}
    res.update({
        "resourceType": "Claim", "status": "active",
        "type": {"coding": [{"system": f"{TERMINOLOGY}/claim-type", "code": "professional", "display": "Professional"}]},
        "use": "claim", "patient": {"reference": f"Patient/{patient_id}"}, "created": day,
        "provider": {"display": "Rendering clinic"},
        "priority": {"coding": [{"system": f"{TERMINOLOGY}/processpriority", "code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True,
                       "coverage": {"reference": f"Coverage/{coverage['id']}"} if coverage else {"display": "self-pay"}}],
        "extension": [{"url": CLAIM_ENCOUNTER_URL, "valueReference": {"reference": f"Encounter/{encounter['id']}"}}],
    })
    res["diagnosis"] = [{"sequence": i, "diagnosisCodeableConcept": {"coding": [{"system": ICD10CM, "code": code,
                                                                                   "display": title}]}}
                        for i, (code, title) in enumerate(draft.diagnoses, start=1)]
    if not res["diagnosis"]:
        res.pop("diagnosis")
    items = []
    for i, line in enumerate(draft.lines, start=1):
        item: dict[str, Any] = {
            "sequence": i, "productOrService": {"coding": [{"system": service_system(line.code), "code": line.code,
                                                            "display": line.title}]},
            "servicedDate": day, "quantity": {"value": line.units},
            "encounter": [{"reference": f"Encounter/{encounter['id']}"}],
        }
        pointers = [seq_of[c] for c in line.pointers if c in seq_of]
        if pointers:
            item["diagnosisSequence"] = pointers
        if line.modifiers:
            item["modifier"] = [{"coding": [{"system": CPT, "code": m}]} for m in line.modifiers]
        items.append(item)
    if items:
        res["item"] = items
    else:
        res.pop("item", None)
    return res
