"""AuditEvent resources (FHIR R4) for accesses to a patient's record, and the hash that chains them.

One shape for every access, whether a user of hitsim made it or the exercise planted it:
type "Patient Record" (DICOM 110110), a subtype naming the activity, the action code, the period
the record was open, the user as requesting agent, the workstation as a second agent (named id,
network address, user agent), and the patient as entity.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from simulator.fhir import HITSIM, model_class

ACTIVITY_SYSTEM = f"{HITSIM}/CodeSystem/record-access"
USER_SYSTEM = f"{HITSIM}/sid/user"
WORKSTATION_SYSTEM = f"{HITSIM}/sid/workstation"
ROLE_SYSTEM = f"{HITSIM}/CodeSystem/user-role"
PURPOSE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActReason"

# activity → (FHIR AuditEvent.action, words). C create, R read/view/print, U update, D delete, E execute.
ACTIVITIES: dict[str, tuple[str, str]] = {
    "open": ("R", "opened the chart"),
    "read": ("R", "read the chart"),
    "create": ("C", "added to the chart"),
    "edit": ("U", "edited the chart"),
    "delete": ("D", "deleted an entry"),
    "print": ("R", "printed the chart"),
    "export": ("R", "exported the chart"),
    "submit": ("E", "submitted the record"),
    "grade": ("E", "graded the record"),
    "report": ("R", "viewed the grade report"),
    "override": ("U", "changed the score"),
}
# Reasons a print or an export may carry (HL7 v3 ActReason, the purpose of use).
PURPOSES = {
    "TREAT": "treatment",
    "HPAYMT": "payment",
    "HOPERAT": "operations",
    "PATRQT": "patient request",
    "HLEGAL": "legal",
}


@dataclass(frozen=True)
class Workstation:
    """Where an access came from: a named workstation id (kept per browser), network address and user agent."""

    id: str
    address: str = ""
    user_agent: str = ""


SERVER = Workstation("hitsim-server", "", "hitsim")
COMMAND_LINE = Workstation("hitsim-cli", "", "hitsim command line")


def iso(moment: dt.datetime) -> str:
    """FHIR instant: UTC, seconds, with an explicit offset."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def audit_event(*, event_id: str, activity: str, recorded: dt.datetime, user_id: str, user_name: str, role: str,
                workstation: Workstation, patient_ref: str | None, patient_name: str = "",
                start: dt.datetime | None = None, end: dt.datetime | None = None, outcome: str = "0",
                purpose: str | None = None, details: dict[str, str] | None = None) -> dict[str, Any]:
    """An R4 AuditEvent for one access to one patient's record."""
    action, words = ACTIVITIES[activity]
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": event_id,
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110", "display": "Patient Record"},
        "subtype": [{"system": ACTIVITY_SYSTEM, "code": activity, "display": words}],
        "action": action,
        "recorded": iso(recorded),
        "outcome": outcome,
        "agent": [
            {
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
                                     "code": "humanuser", "display": "human user"}]},
                "role": [{"coding": [{"system": ROLE_SYSTEM, "code": role}], "text": role}],
                "who": {"identifier": {"system": USER_SYSTEM, "value": user_id}, "display": user_name},
                "requestor": True,
                **({"network": {"address": workstation.address, "type": "2"}} if workstation.address else {}),
            },
            {
                "type": {"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110153",
                                     "display": "Source Role ID"}]},
                "who": {"identifier": {"system": WORKSTATION_SYSTEM, "value": workstation.id},
                        "display": workstation.id},
                **({"name": workstation.user_agent[:500]} if workstation.user_agent else {}),
                "requestor": False,
                **({"network": {"address": workstation.address, "type": "2"}} if workstation.address else {}),
            },
        ],
        "source": {"site": "hitsim", "observer": {"display": "hitsim"},
                   "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4",
                             "display": "Application Server"}]},
    }
    if start is not None:
        event["period"] = {"start": iso(start), **({"end": iso(end)} if end is not None else {})}
    if purpose:
        event["purposeOfEvent"] = [{"coding": [{"system": PURPOSE_SYSTEM, "code": purpose,
                                                "display": PURPOSES.get(purpose, purpose)}]}]
    entity: dict[str, Any] = {
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person"},
        "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"},
    }
    if patient_ref:
        entity["what"] = {"reference": patient_ref, **({"display": patient_name} if patient_name else {})}
    if patient_name:
        entity["name"] = patient_name
    if details:
        entity["detail"] = [{"type": k, "valueString": v} for k, v in details.items() if v]
    event["entity"] = [entity]
    return event


_AUDIT_EVENT = model_class("AuditEvent")  # loaded once, at start-up, not at the first chart a user opens


def validate(event: dict[str, Any]) -> None:
    """Raise when the event is not a valid R4 AuditEvent (a programming error: events are built here)."""
    _AUDIT_EVENT.model_validate(event)


def canonical_json(resource: dict[str, Any]) -> str:
    """One spelling for one resource: sorted keys, no spaces, UTF-8 text (what the chain hashes)."""
    return json.dumps(resource, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(seq: int, prev_hash: str, content: str) -> str:
    """SHA-256 over the previous event's hash, this event's place in the chain and its canonical JSON."""
    return hashlib.sha256(f"{prev_hash}\n{seq}\n{content}".encode()).hexdigest()


# ------------------------------------------------------------------------------------------ reading
def detail(event: dict[str, Any], name: str) -> str:
    for d in (event.get("entity") or [{}])[0].get("detail", []):
        if d.get("type") == name:
            return str(d.get("valueString", ""))
    return ""


@dataclass(frozen=True)
class AccessView:
    """An AuditEvent read back as the columns of an audit report."""

    event_id: str
    recorded: dt.datetime
    activity: str
    action: str
    user_id: str
    user_name: str
    role: str
    workstation: str
    address: str
    user_agent: str
    patient_ref: str
    patient_name: str
    start: dt.datetime | None
    end: dt.datetime | None
    purpose: str
    session: str
    student: str  # for hitsim's own trail: whose record (the attempt's student)
    attempt: str

    @property
    def minutes(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return (self.end - self.start).total_seconds() / 60


def read_access(event: dict[str, Any]) -> AccessView:
    user = event["agent"][0]
    station = event["agent"][1] if len(event["agent"]) > 1 else {}
    entity = (event.get("entity") or [{}])[0]
    period = event.get("period") or {}
    purpose = ((event.get("purposeOfEvent") or [{}])[0].get("coding") or [{}])[0].get("code", "")
    return AccessView(
        event_id=event["id"], recorded=parse_instant(event["recorded"]), activity=event["subtype"][0]["code"],
        action=event["action"], user_id=user["who"]["identifier"]["value"], user_name=user["who"].get("display", ""),
        role=(user.get("role") or [{}])[0].get("text", ""),
        workstation=station.get("who", {}).get("identifier", {}).get("value", ""),
        address=user.get("network", {}).get("address", ""), user_agent=station.get("name", ""),
        patient_ref=entity.get("what", {}).get("reference", ""), patient_name=entity.get("name", ""),
        start=parse_instant(period["start"]) if "start" in period else None,
        end=parse_instant(period["end"]) if "end" in period else None,
        purpose=purpose, session=detail(event, "session"), student=detail(event, "student"),
        attempt=detail(event, "attempt"),
    )
