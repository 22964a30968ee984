"""The access-audit section: a student's flags against the planted violations, precision and recall (pure).

Inputs are FHIR: the key's planted violations and the student's flags are ``DetectedIssue`` resources
whose ``implicated`` references name ``AuditEvent/<id>`` (an access) or ``Practitioner/<id>`` (a user),
whose ``code`` is the privacy-policy category, and whose ``detail`` is the explanation (key) or the note
(student). Scoring: a flag on any access of a violation finds it (a second flag on the same violation
neither earns nor costs); a flag on a user finds one of that user's violations; the right category earns
full credit, another category half. Precision = credit ÷ flags that count, recall = credit ÷ violations,
the section score is F1 × its points, and every miss, false alarm and wrong category is explained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grading.report import Finding, GradeReport, SectionScore

SECTION, TITLE = "access_audit", "Access audit"
WRONG_CATEGORY_CREDIT = 0.5
USER_LEVEL_KINDS = ("terminated", "bulk")  # a flag on the user is the natural answer to these


def _code(issue: dict[str, Any]) -> str:
    return str(((issue.get("code") or {}).get("coding") or [{}])[0].get("code", ""))


def _refs(issue: dict[str, Any]) -> list[str]:
    return [str(r.get("reference", "")) for r in issue.get("implicated") or [] if isinstance(r, dict)]


@dataclass
class _Violation:
    kind: str
    user_ref: str
    event_refs: list[str]
    text: str
    credit: float = 0.0
    found: bool = False


@dataclass(frozen=True)
class AuditResult:
    precision: float
    recall: float
    f1: float
    section: SectionScore
    findings: list[Finding]

    def report(self) -> GradeReport:
        """The audit section as a whole grade report (scenarios whose only task is the audit)."""
        scale = 100.0 / self.section.points_possible if self.section.points_possible else 0.0
        section = SectionScore(SECTION, TITLE, 100.0, self.section.points_earned * scale)
        findings = [Finding(f.section, f.path, f.expected, f.entered, f.points_lost * scale, f.kind, f.message)
                    for f in self.findings]
        return GradeReport(section.points_earned, [section], findings)


def grade_audit(key_issues: list[dict[str, Any]], flags: list[dict[str, Any]], explanations: dict[str, str],
                categories: dict[str, str], points: float = 100.0) -> AuditResult:
    """Score ``flags`` against ``key_issues``; ``explanations`` says, per flagged reference that is not a
    violation, what it was and why it is allowed; ``categories`` names each category in the policy's words."""
    violations = []
    for issue in key_issues:
        refs = _refs(issue)
        violations.append(_Violation(_code(issue), next((r for r in refs if r.startswith("Practitioner/")), ""),
                                     [r for r in refs if r.startswith("AuditEvent/")], str(issue.get("detail", ""))))
    by_event = {ref: v for v in violations for ref in v.event_refs}
    counted = 0
    notes: list[tuple[float, Finding]] = []  # (weight of the points lost, finding)

    def label(code: str) -> str:
        return categories.get(code, code or "no category")

    for flag in flags:
        refs = _refs(flag)
        target = refs[0] if refs else ""
        category = _code(flag)
        if target.startswith("AuditEvent/"):
            candidates = [by_event[target]] if target in by_event else []
        else:
            mine = [v for v in violations if v.user_ref == target]
            candidates = sorted(mine, key=lambda v: (v.found, v.kind not in USER_LEVEL_KINDS))
        match = candidates[0] if candidates else None
        if match is not None and match.found:
            continue  # another flag already found this violation: neither earns nor costs
        counted += 1
        if match is None:
            what = explanations.get(target, target or "nothing")
            notes.append((1.0, Finding(TITLE.lower(), target, "", label(category), 0.0, "extra",
                                       f"You flagged {what} — not a violation.")))
            continue
        match.found = True
        match.credit = 1.0 if category == match.kind else WRONG_CATEGORY_CREDIT
        if match.credit < 1.0:
            notes.append((1.0 - match.credit, Finding(
                TITLE.lower(), target, label(match.kind), label(category), 0.0, "partial",
                f"Right access, wrong reason: {match.text}. The policy category is \u201c{label(match.kind)}\u201d, "
                f"you chose \u201c{label(category)}\u201d.")))
    for v in violations:
        if not v.found:
            notes.append((1.0, Finding(TITLE.lower(), v.event_refs[0] if v.event_refs else v.user_ref,
                                       label(v.kind), "", 0.0, "missing",
                                       f"Missed ({label(v.kind)}): {v.text}.")))
    credit = sum(v.credit for v in violations)
    precision = credit / counted if counted else (1.0 if not violations else 0.0)
    recall = credit / len(violations) if violations else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    lost = points * (1.0 - f1)
    weight = sum(w for w, _ in notes)
    findings = [Finding(f.section, f.path, f.expected, f.entered, lost * w / weight if weight else 0.0, f.kind,
                        f.message) for w, f in notes]
    summary = Finding(TITLE.lower(), "", "", "", 0.0, "partial",
                      f"Precision {precision:.0%} (of your {counted} flag{'s' if counted != 1 else ''}, how much was right), "
                      f"recall {recall:.0%} (of {len(violations)} violation{'s' if len(violations) != 1 else ''}, "
                      f"how much you found): F1 {f1:.2f}.")
    return AuditResult(precision, recall, f1, SectionScore(SECTION, TITLE, points, points * f1), [summary, *findings])


def with_audit(report: GradeReport, audit: AuditResult) -> GradeReport:
    """A chart grade with the audit section added: the other sections keep their share of the rest."""
    share = audit.section.points_possible / 100.0
    keep = 1.0 - share
    sections = [SectionScore(s.section, s.title, s.points_possible * keep, s.points_earned * keep) for s in report.sections]
    findings = [Finding(f.section, f.path, f.expected, f.entered, f.points_lost * keep, f.kind, f.message)
                for f in report.findings]
    return GradeReport(report.score * keep + audit.section.points_earned, [*sections, audit.section],
                       findings + audit.findings)
