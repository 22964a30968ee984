"""The ``[audit]`` table of a scenario: how big the planted facility history is and which violations it hides."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Each kind of violation is one category of the privacy policy the student applies.
VIOLATION_KINDS: dict[str, str] = {
    "vip": "VIP record without need to know",
    "coworker": "Co-worker's record",
    "relative": "Family member's record",
    "terminated": "Access after the account was terminated",
    "after-hours": "After hours from an unusual workstation",
    "bulk": "Many records opened in minutes (browsing)",
    "no-relationship": "No treatment or work relationship",
    "long-session": "Unusually long session",
    "print-export": "Printed or exported without a documented reason",
}


class AuditSettingsError(ValueError):
    pass


@dataclass(frozen=True)
class AuditSettings:
    events: int = 5000  # accesses in the planted history (violations included)
    weeks: int = 3
    violations: dict[str, int] = field(default_factory=lambda: {kind: 1 for kind in VIOLATION_KINDS})
    categories: tuple[str, ...] = tuple(VIOLATION_KINDS)  # the reason categories a student may pick

    @property
    def staff(self) -> int:
        return max(30, min(400, self.events // 200))


def parse_audit_settings(table: dict[str, Any], file: str) -> AuditSettings:
    """Check an ``[audit]`` table; the message names the file, the key and what is expected."""
    known = {"events", "weeks", "violations", "categories"}
    for key in table:
        if key not in known:
            raise AuditSettingsError(f"{file}: audit.{key}: unknown key; expected one of {', '.join(sorted(known))}")
    events = table.get("events", 5000)
    if isinstance(events, bool) or not isinstance(events, int) or not 300 <= events <= 50_000:
        raise AuditSettingsError(f"{file}: audit.events: expected a number from 300 to 50000, got {events!r}")
    weeks = table.get("weeks", 3)
    if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= 8:
        raise AuditSettingsError(f"{file}: audit.weeks: expected a number from 1 to 8, got {weeks!r}")
    violations = table.get("violations", {kind: 1 for kind in VIOLATION_KINDS})
    if not isinstance(violations, dict):
        raise AuditSettingsError(f"{file}: audit.violations: expected a table of kind = count, got {violations!r}")
    for kind, count in violations.items():
        if kind not in VIOLATION_KINDS:
            raise AuditSettingsError(f"{file}: audit.violations.{kind}: unknown kind; expected one of "
                                     f"{', '.join(VIOLATION_KINDS)}")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 10:
            raise AuditSettingsError(f"{file}: audit.violations.{kind}: expected a number from 0 to 10, got {count!r}")
    categories = table.get("categories", list(VIOLATION_KINDS))
    if (not isinstance(categories, list) or not categories
            or any(c not in VIOLATION_KINDS for c in categories)):
        raise AuditSettingsError(f"{file}: audit.categories: expected a list of {', '.join(VIOLATION_KINDS)}, "
                                 f"got {categories!r}")
    missing = [k for k, n in violations.items() if n and k not in categories]
    if missing:
        raise AuditSettingsError(f"{file}: audit.categories: {missing[0]!r} is planted but not a category a student "
                                 "can pick")
    return AuditSettings(events=events, weeks=weeks, violations={k: violations[k] for k in VIOLATION_KINDS
                                                                 if violations.get(k)},
                         categories=tuple(c for c in VIOLATION_KINDS if c in categories))
