"""The GradeReport: score, sections and findings, with JSON, text and HTML renderings of the same data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from html import escape
from typing import Any, Literal

Kind = Literal["missing", "extra", "wrong", "partial"]


@dataclass(frozen=True)
class Finding:
    section: str  # what a student calls it: "demographics", "encounter 2", "medications"…
    path: str  # where in the record, e.g. "Patient.birthDate"
    expected: str  # what the chart says ("" for an extra)
    entered: str  # what the student entered ("" when missing)
    points_lost: float
    kind: Kind
    message: str  # the finding in words, e.g. "Date of birth: chart says 03/14/1962, you entered 03/41/1962"


@dataclass(frozen=True)
class SectionScore:
    section: str  # rubric key, e.g. "problem_list"
    title: str
    points_possible: float
    points_earned: float


@dataclass(frozen=True)
class GradeReport:
    score: float  # 0-100
    sections: list[SectionScore]
    findings: list[Finding] = field(default_factory=list)
    summary: str = ""  # verify tasks: "You caught 5 of 6 planted errors. Missed: …"
    missed: list[dict[str, str]] = field(default_factory=list)  # verify tasks: description, chart_says, record_has

    def to_dict(self) -> dict[str, Any]:
        verify = {"summary": self.summary, "missed": self.missed} if self.summary else {}
        return {
            "score": round(self.score, 1),
            **verify,
            "sections": [{**asdict(s), "points_possible": round(s.points_possible, 2),
                          "points_earned": round(s.points_earned, 2)} for s in self.sections],
            "findings": [{**asdict(f), "points_lost": round(f.points_lost, 2)} for f in self.findings],
        }

    def to_text(self) -> str:
        lines = [f"Score: {self.score:.1f} / 100", ""]
        if self.summary:
            lines[1:1] = [self.summary.split(" Missed: ")[0]] + [
                f"  missed: {m['description']} — chart says {m['chart_says']}, the record still has {m['record_has']}"
                for m in self.missed]
        for s in self.sections:
            lines.append(f"  {s.title:<16} {s.points_earned:6.2f} / {s.points_possible:6.2f}")
        lines.append("")
        if not self.findings:
            lines.append("No findings: everything on the chart was entered correctly.")
        for f in self.findings:
            lost = f"-{f.points_lost:.2f}" if f.points_lost else " 0.00"
            lines.append(f"{lost:>7}  [{f.section}] {f.message}")
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        rows = "".join(
            f"<tr><td>{escape(s.title)}</td><td class='num'>{s.points_earned:.2f}</td>"
            f"<td class='num'>{s.points_possible:.2f}</td></tr>" for s in self.sections)
        items = "".join(
            f"<li class='finding {escape(f.kind)}'><span class='lost'>−{f.points_lost:.2f}</span> "
            f"<span class='section'>{escape(f.section)}</span> {escape(f.message)}"
            f"<span class='path'>{escape(f.path)}</span></li>" for f in self.findings)
        findings = f"<ol class='findings'>{items}</ol>" if items else "<p>No findings: everything was entered correctly.</p>"
        verify = ""
        if self.summary:
            missed = "".join(f"<li>{escape(m['description'])}: chart says <b>{escape(m['chart_says'])}</b>, the record "
                             f"still has <b>{escape(m['record_has'])}</b></li>" for m in self.missed)
            verify = (f"<p class='verify-summary'>{escape(self.summary.split(' Missed: ')[0])}</p>"
                      + (f"<ul class='missed'>{missed}</ul>" if missed else ""))
        return (f"<section class='grade-report'>{verify}<h2>Score: {self.score:.1f} / 100</h2>"
                f"<table class='sections'><tr><th>Section</th><th>Earned</th><th>Possible</th></tr>{rows}</table>"
                f"<h3>Findings</h3>{findings}</section>")
