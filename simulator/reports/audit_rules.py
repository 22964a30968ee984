"""The facility's access policy as rules, and the reference detector that applies them (pure functions).

The rules an HIM privacy officer applies to an access log (HIPAA Privacy Rule "minimum necessary",
45 CFR 164.502(b) and 164.514(d); workforce access and termination procedures of the Security Rule,
45 CFR 164.308(a)(3)(ii)(B)-(C); audit controls, 164.312(b)):

1. terminated: an account is used after the person's employment ended.
2. bulk: one user opens 20 or more different patients' charts within 10 minutes (browsing).
3. vip: a VIP's chart opened by someone outside the VIP's care.
4. coworker: a co-worker's chart opened outside their care (the patient is on the staff directory).
5. relative: a family member's chart (same surname and address as the user) opened outside their care.
6. no-relationship: a chart opened by someone with no treatment or work relationship to the patient.
   A relationship is: clinical staff of the unit the patient was in (from an hour before admission to a
   day after discharge); registration within a day of admission; coding within 30 days after discharge.
7. after-hours: outside the user's shift (30 minutes' grace) AND from a workstation that is not theirs.
   Either one alone is normal (charting after the shift at one's desk; floating to another terminal).
8. long-session: a chart open for more than 120 minutes.
9. print-export: a print or export without a documented reason (purpose of use).

An access breaks the first rule in this order that it meets; the bulk rule takes the whole burst.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from simulator.audit.planted import SHIFTS, Access, Patient, PlantedHistory, Staff, Violation

GRACE = dt.timedelta(minutes=30)
BULK_PATIENTS, BULK_WINDOW = 20, dt.timedelta(minutes=10)
LONG_SESSION = dt.timedelta(minutes=120)
CARE_BEFORE, CARE_AFTER = dt.timedelta(hours=1), dt.timedelta(hours=24)
REGISTRATION_WINDOW, CODING_WINDOW = dt.timedelta(hours=24), dt.timedelta(days=30)


def in_shift(staff: Staff, at: dt.datetime) -> bool:
    """Whether ``at`` falls in the hours of the user's shift (with 30 minutes' grace either side)."""
    a, b = SHIFTS[staff.shift]
    minute = at.hour * 60 + at.minute
    start, end = a * 60 - GRACE.seconds // 60, b * 60 + GRACE.seconds // 60
    if a < b:
        return start <= minute < end
    return minute >= start or minute < end  # a night shift runs past midnight


def relationship(staff: Staff, patient: Patient, at: dt.datetime) -> str:
    """Why ``staff`` may open ``patient``'s chart at ``at`` (in words), or "" when nothing allows it."""
    for stay in patient.stays:
        if staff.role in ("nurse", "physician") and staff.department == stay.department \
                and stay.admitted - CARE_BEFORE <= at <= stay.discharged + CARE_AFTER:
            return f"a treating {staff.role} of the unit the patient was in"
        if staff.role == "registration clerk" and stay.admitted - CARE_BEFORE <= at <= stay.admitted + REGISTRATION_WINDOW:
            return "registration at the patient's admission"
        if staff.role == "coder" and stay.discharged <= at <= stay.discharged + CODING_WINDOW:
            return "coding the stay after discharge"
    return ""


def is_coworker(history: PlantedHistory, staff: Staff, patient: Patient) -> bool:
    return any(s.id != staff.id and s.given == patient.given and s.family == patient.family
               and s.street == patient.street for s in history.staff.values())


def is_relative(staff: Staff, patient: Patient) -> bool:
    return (staff.family == patient.family and staff.street == patient.street and staff.city == patient.city
            and staff.given != patient.given)


def rule_broken(history: PlantedHistory, access: Access) -> str:
    """The first rule (other than bulk) that one access breaks, or ""."""
    staff, patient = history.staff[access.user], history.patients[access.patient]
    if staff.terminated is not None and access.start >= staff.terminated:
        return "terminated"
    if not relationship(staff, patient, access.start):
        if patient.vip:
            return "vip"
        if is_coworker(history, staff, patient):
            return "coworker"
        if is_relative(staff, patient):
            return "relative"
        return "no-relationship"
    if not in_shift(staff, access.start) and access.workstation not in staff.workstations:
        return "after-hours"
    if access.end - access.start > LONG_SESSION:
        return "long-session"
    if access.activity in ("print", "export") and not access.purpose:
        return "print-export"
    return ""


def bursts(accesses: Iterable[Access]) -> list[list[Access]]:
    """Runs of one user's accesses where 20+ different patients are opened within 10 minutes."""
    by_user: dict[str, list[Access]] = {}
    for a in accesses:
        by_user.setdefault(a.user, []).append(a)
    found = []
    for user in sorted(by_user):
        items = sorted(by_user[user], key=lambda a: a.start)
        i = 0
        while i < len(items):
            j = i
            while j + 1 < len(items) and items[j + 1].start - items[i].start <= BULK_WINDOW:
                j += 1
            if len({a.patient for a in items[i:j + 1]}) >= BULK_PATIENTS:
                while j + 1 < len(items) and items[j + 1].start - items[j].start <= dt.timedelta(minutes=2):
                    j += 1  # the burst goes on while the next chart follows within two minutes
                found.append(items[i:j + 1])
                i = j + 1
            else:
                i += 1
    return found


@dataclass(frozen=True)
class Finding:
    kind: str
    user: str
    events: tuple[str, ...]


def detect(history: PlantedHistory) -> list[Violation]:
    """The reference detector: every violation of the access policy in the history, oldest first."""
    found: list[Violation] = []
    in_burst: set[str] = set()
    for burst in bursts(history.accesses):
        found.append(Violation("bulk", burst[0].user, tuple(a.event_id for a in burst)))
        in_burst.update(a.event_id for a in burst)
    for access in history.accesses:
        if access.event_id in in_burst:
            continue
        kind = rule_broken(history, access)
        if kind:
            found.append(Violation(kind, access.user, (access.event_id,), access.patient))
    return sorted(found, key=lambda v: v.events[0])


def why_normal(history: PlantedHistory, access: Access) -> str:
    """Why an access that breaks no rule is allowed, in words a student reads in feedback."""
    staff, patient = history.staff[access.user], history.patients[access.patient]
    reasons = [relationship(staff, patient, access.start) or "a work relationship"]
    reasons.append("on shift" if in_shift(staff, access.start) else "after the shift, but at their own workstation")
    if access.activity in ("print", "export"):
        reasons.append(f"with a documented reason ({access.purpose})")
    return ", ".join(reasons)


def describe(history: PlantedHistory, access: Access) -> str:
    """One access in words: who, whose chart, when."""
    staff, patient = history.staff[access.user], history.patients[access.patient]
    verb = {"print": "printing", "export": "exporting"}.get(access.activity, "opening")
    return f"{staff.short} ({staff.role}, {staff.department}) {verb} {patient.short}'s chart at {access.start:%a %m/%d %H:%M}"
