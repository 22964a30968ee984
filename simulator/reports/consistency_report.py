"""The consistency report's side-by-side view: one row per fact, one column per visit, changes marked.

Pure: a chart in, rows out. The page renders them; the benchmark times them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from simulator.reports.consistency_record import BP, TO_CM, TO_KG, Chart, Measurement, Visit

SECTIONS = {
    "demographics": "Demographics", "problems": "Problem list", "medications": "Medications",
    "allergies": "Allergies", "vitals": "Vital signs", "labs": "Lab results", "visit": "Diagnoses and note",
}


@dataclass(frozen=True)
class Cell:
    text: str
    state: str  # "" (as before, or the first visit) | changed | added | removed
    note: str = ""  # a remark under the value (a medication's note, a change in a measurement)


@dataclass(frozen=True)
class Row:
    section: str
    label: str
    cells: tuple[Cell, ...]

    @property
    def changes(self) -> bool:
        return any(c.state for c in self.cells)


def _day(iso: str) -> str:
    try:
        return f"{dt.date.fromisoformat(iso):%m/%d/%Y}"
    except ValueError:
        return iso


def _row(section: str, label: str, visits: tuple[Visit, ...], value: Callable[[Visit], str],
         note: Callable[[Visit], str] = lambda _v: "", key: Callable[[Visit], str] | None = None,
         sparse: bool = False) -> Row:
    """``key`` decides what counts as a change (default: the value shown): measurements change every
    visit, so for them only the unit counts and the note shows by how much. In a ``sparse`` row (labs,
    not drawn every visit) a blank is no change: each value is compared with the last one shown."""
    cells: list[Cell] = []
    before: str | None = None
    for v in visits:
        text = value(v)
        compared = (key(v) if text else "") if key else text
        if sparse and not text:
            cells.append(Cell(text, "", note(v)))
            continue
        if before is None or compared == before:
            state = ""
        elif not before:
            state = "added"
        elif not compared:
            state = "removed"
        else:
            state = "changed"
        cells.append(Cell(text, state, note(v)))
        before = compared
    return Row(section, label, tuple(cells))


def _unit(v: Visit, loinc: str) -> str:
    m = v.vital(loinc) or next((m for m in v.labs if m.loinc == loinc), None)
    return m.unit_code if m else ""


def _keys(items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(key, label) pairs in order of first appearance."""
    return list(dict.fromkeys(items))


def _measure(v: Visit, loinc: str) -> Measurement | None:
    return v.vital(loinc) or next((m for m in v.labs if m.loinc == loinc), None)


def _measure_note(v: Visit, loinc: str, visits: tuple[Visit, ...]) -> str:
    """How a measurement moved since it was last recorded (converted when the unit changed)."""
    i = visits.index(v)
    now = _measure(v, loinc)
    then = next((m for w in reversed(visits[:i]) if (m := _measure(w, loinc)) is not None), None)
    if now is None or then is None:
        return ""
    if now.unit_code == then.unit_code:
        delta = now.value - then.value
        return f"{delta:+.4g} {now.unit}" if delta else ""
    for table, unit in ((TO_KG, "kg"), (TO_CM, "cm")):
        if now.unit_code in table and then.unit_code in table:
            delta = now.value * table[now.unit_code] - then.value * table[then.unit_code]
            return f"unit {then.unit} → {now.unit} ({delta:+.1f} {unit})"
    return f"unit {then.unit} → {now.unit}"


def comparison_rows(chart: Chart, sections: Iterable[str] = tuple(SECTIONS)) -> list[Row]:
    visits = chart.visits
    wanted = set(sections)
    rows: list[Row] = []
    if "demographics" in wanted:
        rows += [
            _row("demographics", "Name", visits, lambda v: v.name),
            _row("demographics", "Date of birth", visits, lambda v: _day(v.birth_date)),
            _row("demographics", "Sex", visits, lambda v: v.sex),
            _row("demographics", "Address", visits, lambda v: v.address),
            _row("demographics", "Phone", visits, lambda v: v.phone),
        ]
    if "problems" in wanted:
        for code, text in _keys((p.code, p.text) for v in visits for p in v.problems):
            def status(v: Visit, code: str = code) -> str:
                p = next((p for p in v.problems if p.code == code), None)
                if p is None:
                    return ""
                return f"{p.status.capitalize()}" + (f" {_day(p.abatement)}" if p.abatement else "")
            rows.append(_row("problems", f"{text} ({code})", visits, status))
    if "medications" in wanted:
        for name, _ in _keys((m.name, "") for v in visits for m in v.medications):
            def line(v: Visit, name: str = name) -> str:
                m = next((m for m in v.medications if m.name == name), None)
                if m is None:
                    return ""
                text = f"{m.text} · {m.dosage} · {m.status}"
                return text + (f" · stop {_day(m.end)}" if m.end else "")

            def med_note(v: Visit, name: str = name) -> str:
                return next((m.note for m in v.medications if m.name == name), "")
            rows.append(_row("medications", name, visits, line, med_note))
    if "allergies" in wanted:
        for substance, _ in _keys((a.substance, "") for v in visits for a in v.allergies):
            rows.append(_row("allergies", substance, visits,
                             lambda v, s=substance: "listed" if any(a.substance == s for a in v.allergies) else ""))
    if "vitals" in wanted:
        rows.append(_row("vitals", "Blood pressure", visits,
                         lambda v: f"{v.blood_pressure[0]}/{v.blood_pressure[1]} mmHg" if v.blood_pressure else "",
                         key=lambda v: "mmHg"))
        for loinc, name in _keys((m.loinc, m.name) for v in visits for m in v.vitals if m.loinc != BP):
            rows.append(_row("vitals", name, visits, lambda v, c=loinc: (m.shown() if (m := v.vital(c)) else ""),
                             lambda v, c=loinc: _measure_note(v, c, visits), lambda v, c=loinc: _unit(v, c)))
    if "labs" in wanted:
        for loinc, name in _keys((m.loinc, m.name) for v in visits for m in v.labs):
            rows.append(_row("labs", name, visits,
                             lambda v, c=loinc: next((m.shown() for m in v.labs if m.loinc == c), ""),
                             lambda v, c=loinc: _measure_note(v, c, visits), lambda v, c=loinc: _unit(v, c), sparse=True))
    if "visit" in wanted:
        rows.append(_row("visit", "Diagnoses", visits, lambda v: "; ".join(f"{d.code} {d.text}" for d in v.diagnoses),
                         key=lambda v: "diagnoses"))
        rows.append(_row("visit", "Progress note", visits, lambda v: v.note, key=lambda v: "note"))
    return rows
