"""The consistency report's section: the student's discrepancy records against the planted ones.

Both sides are FHIR ``DetectedIssue`` resources: the answer key holds one per planted discrepancy and
one per legitimate change (marked with the ``consistency-legitimate-change`` extension); the student's
record holds the discrepancies they recorded. A record matches a planted discrepancy of the same
category that shares at least one visit; matching is one-to-one and as large as possible. The section
is worth its points × F1 (precision and recall), and every miss and false alarm is explained in words.
A record naming more than one visit beyond those the discrepancy involves does not match (no wide nets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grading.bundle import as_dict
from grading.report import Finding, SectionScore

SECTION, TITLE = "consistency", "Consistency report"
SYSTEM = "https://hitsim.org/fhir/CodeSystem/consistency-discrepancy"
LEGITIMATE_URL = "https://hitsim.org/fhir/StructureDefinition/consistency-legitimate-change"


# The legitimate change a false alarm of each category most likely mistook for a discrepancy.
RELATED = {
    "undocumented-dose-change": ("explained-dose-change", "new-medication-with-note"),
    "allergy-conflict": ("new-medication-with-note",), "active-after-stop": ("new-medication-with-note",),
    "implausible-weight": ("weight-drift",), "height-loss": ("weight-drift",),
    "vanished-problem": ("resolved-acute-problem",),
    "dob-mismatch": ("address-move",), "sex-mismatch": ("address-move",), "name-spelling": ("address-move",),
    "duplicate-chart": ("address-move",),
}


@dataclass(frozen=True)
class Issue:
    category: str
    label: str  # the category in words
    visits: frozenset[str]  # Encounter ids
    visit_names: str  # "MRN 123 visit 2 (04/02/2025), …"
    detail: str
    legitimate: bool
    names: tuple[str, ...] = ()  # each visit's name, in the order of sorted(visits)


def _issues(bundle: Any) -> list[Issue]:
    bundle = as_dict(bundle)
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    out = []
    for entry in entries if isinstance(entries, list) else []:
        res = as_dict(entry.get("resource")) if isinstance(entry, dict) else None
        if not isinstance(res, dict) or res.get("resourceType") != "DetectedIssue":
            continue
        codings = (res.get("code") or {}).get("coding") or [{}]
        coding = next((c for c in codings if isinstance(c, dict) and c.get("system") == SYSTEM), {})
        implicated = [r for r in res.get("implicated") or [] if isinstance(r, dict)]
        named = {str(r.get("reference", "")).removeprefix("urn:uuid:").rsplit("/", 1)[-1]: str(r.get("display") or "")
                 for r in implicated if r.get("reference")}
        visits = frozenset(named)
        legit = any(isinstance(x, dict) and x.get("url") == LEGITIMATE_URL and x.get("valueBoolean")
                    for x in res.get("extension") or [])
        out.append(Issue(str(coding.get("code") or ""), str(coding.get("display") or coding.get("code") or ""),
                         visits, ", ".join(str(r.get("display") or r.get("reference")) for r in implicated),
                         str(res.get("detail") or ""), legit, tuple(named[v] for v in sorted(named))))
    return out


def planted_count(key: Any) -> int:
    """How many discrepancies the key planted (0: the scenario has no consistency task)."""
    return sum(1 for i in _issues(key) if not i.legitimate)


def _fits(record: Issue, issue: Issue) -> bool:
    """Same category, a shared visit, and not a net cast wide: at most one visit more than the discrepancy
    involves (naming every visit of the record for every category must not score)."""
    return (issue.category == record.category and bool(issue.visits & record.visits)
            and len(record.visits) <= len(issue.visits) + 1)


def _match(planted: list[Issue], records: list[Issue]) -> dict[int, int]:
    """record index -> planted index: a maximum one-to-one matching of records that fit a planted discrepancy."""
    fits = [[p for p, issue in enumerate(planted) if _fits(r, issue)] for r in records]
    owner: dict[int, int] = {}  # planted -> record

    def claim(r: int, seen: set[int]) -> bool:
        for p in fits[r]:
            if p not in seen:
                seen.add(p)
                if p not in owner or claim(owner[p], seen):
                    owner[p] = r
                    return True
        return False

    for r in range(len(records)):
        claim(r, set())
    return {r: p for p, r in owner.items()}


def _why_false_alarm(record: Issue, planted: list[Issue], legit: list[Issue], matched: set[int]) -> str:
    where = record.visit_names or "no visits"
    if not record.category:
        return f"A record without a category ({where}) cannot count as a discrepancy"
    if not record.visits:
        return f"{record.label}: the record names no visits, so it cannot be checked"
    for p, issue in enumerate(planted):
        if issue.category == record.category and issue.visits & record.visits:
            if not _fits(record, issue):
                return (f"{record.label}: the record names {len(record.visits)} visits; name only the visits "
                        f"involved ({len(issue.visits)} here)")
            if p in matched:
                return f"{record.label} at {where}: already recorded — this discrepancy counts once"
    near = [i for i in legit if i.visits & record.visits]
    if near:
        related = RELATED.get(record.category, ())
        issue = min(near, key=lambda i: (related.index(i.category) if i.category in related else 99,
                                          -len(i.visits & record.visits), len(i.visits)))
        return f"{record.label} at {where} is not a discrepancy: {issue.detail}"
    other = next((i for i in planted if i.visits & record.visits), None)
    if other is not None:
        return (f"{record.label} at {where}: there is a discrepancy at these visits, but it is "
                f"“{other.label}”, not this one")
    return f"{record.label} at {where}: the record shows no such discrepancy at these visits"


def grade_consistency(key: Any, submission: Any, possible: float) -> tuple[SectionScore, list[Finding]]:
    """The section's score (``possible`` × F1) and one finding per miss and per false alarm."""
    planted = [i for i in _issues(key) if not i.legitimate]
    legit = [i for i in _issues(key) if i.legitimate]
    names: dict[str, str] = {}  # Encounter id -> how the key names that visit ("MRN 123 visit 2 (04/02/2025)")
    for issue in planted + legit:
        for visit, name in zip(sorted(issue.visits), issue.names, strict=False):
            names.setdefault(visit, name)
    records = [Issue(r.category, r.label, r.visits, ", ".join(sorted(names.get(v, "a visit not in the record")
                                                                     for v in r.visits)), r.detail, r.legitimate)
               for r in _issues(submission)]
    pairs = _match(planted, records)
    hits = len(pairs)
    precision = hits / len(records) if records else 0.0
    recall = hits / len(planted) if planted else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    missed = [p for p in range(len(planted)) if p not in pairs.values()]
    false = [r for r in range(len(records)) if r not in pairs]
    lost_each = possible * (1 - f1) / (len(missed) + len(false)) if missed or false else 0.0
    findings = [Finding(SECTION, "DetectedIssue", planted[p].label, "", lost_each, "missing",
                        f"Missed: {planted[p].detail}") for p in missed]
    matched_planted = set(pairs.values())
    findings += [Finding(SECTION, "DetectedIssue", "", records[r].label or "(no category)", lost_each, "extra",
                         "False alarm: " + _why_false_alarm(records[r], planted, legit, matched_planted))
                 for r in false]
    title = f"{TITLE} (found {hits} of {len(planted)}; precision {precision:.2f}, recall {recall:.2f}, F1 {f1:.2f})"
    return SectionScore(SECTION, title, possible, possible * f1), findings
