"""The access-audit report: rows, filters, sorting, summary counts, accesses by hour and by user, CSV.

Pure functions over plain rows, so the same report runs on the planted history of the exercise and on
hitsim's own trail, and answers in milliseconds on 50,000 events (see benchmarks/audit_report.py).
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

from simulator.audit.planted import DEPARTMENTS, PlantedHistory
from simulator.reports.audit_rules import in_shift

LONG_MINUTES = 60


@dataclass(frozen=True, slots=True)
class Row:
    event_id: str
    start: dt.datetime
    end: dt.datetime | None
    minutes: float | None
    user: str
    user_name: str
    role: str
    department: str
    workstation: str
    address: str
    patient: str  # the patient's id (or the record's), what a flag or a filter names
    patient_name: str
    activity: str  # open | read | print | export | create | edit | delete | submit | grade
    purpose: str
    after_hours: bool
    patient_location: str  # where the patient was at the time ("Cardiology", "not admitted", …)
    vip: bool = False
    search_user: str = ""  # lower-case user id and name, for the user filter
    search_patient: str = ""


@dataclass(frozen=True)
class Filters:
    user: str = ""
    patient: str = ""
    department: str = ""
    role: str = ""
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    after_hours: bool = False
    workstation: str = ""
    min_minutes: float | None = None
    activity: str = ""


class FilterError(ValueError):
    """A filter value the report cannot use; ``field`` names the filter, the message says what is expected."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


_DATE_FORMATS = ("%m/%d/%Y", "%m/%d/%y", "%Y-%m-%d")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _date(field: str, label: str, text: str) -> dt.date | None:
    text = text.strip()
    if not text:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise FilterError(field, f"{label}: {text!r} is not a date; expected e.g. 03/14/2025 or 2025-03-14")


def _time(field: str, label: str, text: str) -> dt.time | None:
    text = text.strip()
    if not text:
        return None
    match = _TIME.match(text)
    if not match:
        raise FilterError(field, f"{label}: {text!r} is not a time; expected hours and minutes, e.g. 07:30 or 22:00")
    return dt.time(int(match.group(1)), int(match.group(2)))


def parse_filters(raw: dict[str, str], tz: dt.tzinfo) -> Filters:
    """Filters from what was typed. Raises FilterError naming the filter for a malformed or impossible value."""
    get = lambda key: str(raw.get(key) or "").strip()  # noqa: E731
    from_date, to_date = _date("from_date", "From date", get("from_date")), _date("to_date", "To date", get("to_date"))
    from_time, to_time = _time("from_time", "From time", get("from_time")), _time("to_time", "To time", get("to_time"))
    if from_time and not from_date:
        raise FilterError("from_date", "From date: needed with a From time")
    if to_time and not to_date:
        raise FilterError("to_date", "To date: needed with a To time")
    start = dt.datetime.combine(from_date, from_time or dt.time(0, 0), tz) if from_date else None
    end = dt.datetime.combine(to_date, to_time or dt.time(23, 59, 59), tz) if to_date else None
    if start and end and end < start:
        raise FilterError("to_date" if to_date != from_date else "to_time",
                          f"To: {end:%m/%d/%Y %H:%M} is before From ({start:%m/%d/%Y %H:%M}); the end must come after the start")
    minutes_text = get("min_minutes")
    minutes = None
    if minutes_text:
        try:
            minutes = float(minutes_text)
        except ValueError:
            raise FilterError("min_minutes", f"Open longer than: {minutes_text!r} is not a number; "
                                             "expected minutes, e.g. 30") from None
        if not 0 <= minutes <= 100_000 or minutes != minutes:
            raise FilterError("min_minutes", "Open longer than: expected minutes from 0 upwards, e.g. 30")
    return Filters(user=get("user").lower(), patient=get("patient").lower(), department=get("department"),
                   role=get("role"), start=start, end=end, after_hours=bool(raw.get("after_hours")),
                   workstation=get("workstation").lower(), min_minutes=minutes, activity=get("activity"))


def apply_filters(rows: Sequence[Row], f: Filters) -> list[Row]:
    """The rows every filter lets through (all of them when no filter is set)."""
    return [rows[i] for i in filtered_positions(rows, f)]


def filtered_positions(rows: Sequence[Row], f: Filters) -> list[int]:
    out = []
    for i, r in enumerate(rows):
        if f.start is not None and r.start < f.start:
            continue
        if f.end is not None and r.start > f.end:
            continue
        if f.user and f.user not in r.search_user:
            continue
        if f.patient and f.patient not in r.search_patient:
            continue
        if f.department and r.department != f.department:
            continue
        if f.role and r.role != f.role:
            continue
        if f.after_hours and not r.after_hours:
            continue
        if f.workstation and f.workstation not in r.workstation.lower():
            continue
        if f.min_minutes is not None and (r.minutes is None or r.minutes <= f.min_minutes):
            continue
        if f.activity and r.activity != f.activity:
            continue
        out.append(i)
    return out


SORTABLE = ("start", "minutes", "user_name", "role", "department", "workstation", "patient_name", "activity")


def sort_rows(rows: list[Row], key: str = "start", descending: bool = False) -> list[Row]:
    if key not in SORTABLE:
        key = "start"
    return sorted(rows, key=lambda r: _sort_key(r, key), reverse=descending)


@dataclass(frozen=True)
class Summary:
    events: int
    users: int
    patients: int
    after_hours: int
    long_sessions: int  # open longer than LONG_MINUTES
    prints_exports: int
    workstations: int


def summarize(rows: Iterable[Row]) -> Summary:
    users, patients, stations = set(), set(), set()
    n = after = long = printed = 0
    for r in rows:
        n += 1
        users.add(r.user)
        patients.add(r.patient)
        stations.add(r.workstation)
        after += r.after_hours
        long += r.minutes is not None and r.minutes > LONG_MINUTES
        printed += r.activity in ("print", "export")
    return Summary(n, len(users), len(patients), after, long, printed, len(stations))


def by_hour(rows: Iterable[Row]) -> list[int]:
    counts = [0] * 24
    for r in rows:
        counts[r.start.hour] += 1
    return counts


def by_user(rows: Iterable[Row], top: int = 15) -> list[tuple[str, int]]:
    return Counter(r.user_name for r in rows).most_common(top)


CSV_FIELDS = ("event_id", "start", "end", "minutes", "user", "user_name", "role", "department", "workstation",
              "address", "patient", "patient_name", "activity", "purpose", "after_hours", "patient_location")


def to_csv(rows: Iterable[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_FIELDS)
    for r in rows:
        writer.writerow([r.event_id, r.start.isoformat(timespec="minutes"),
                         r.end.isoformat(timespec="minutes") if r.end else "",
                         "" if r.minutes is None else f"{r.minutes:.1f}", r.user, r.user_name, r.role, r.department,
                         r.workstation, r.address, r.patient, r.patient_name, r.activity, r.purpose,
                         "yes" if r.after_hours else "no", r.patient_location])
    return buffer.getvalue()


assert set(CSV_FIELDS) <= {f.name for f in fields(Row)}


# ------------------------------------------------------------------------------------------ sources
def planted_rows(history: PlantedHistory) -> list[Row]:
    """The exercise's planted log as report rows (oldest first)."""
    rows = []
    for a in history.accesses:
        s, p = history.staff[a.user], history.patients[a.patient]
        location = "not admitted"
        for stay in p.stays:
            if stay.admitted <= a.start <= stay.discharged:
                location = DEPARTMENTS[stay.department]
            elif stay.discharged < a.start and location == "not admitted":
                location = f"discharged {stay.discharged:%m/%d} from {DEPARTMENTS[stay.department]}"
        minutes = (a.end - a.start).total_seconds() / 60
        rows.append(Row(a.event_id, a.start, a.end, minutes, s.id, s.name, s.role, DEPARTMENTS[s.department],
                        a.workstation, history.workstation_address[a.workstation], p.id, p.name, a.activity,
                        a.purpose, not in_shift(s, a.start), location, bool(p.vip),
                        f"{s.id} {s.name}".lower(), f"{p.id} {p.mrn} {p.name}".lower()))
    return rows


class ReportIndex:
    """The rows of one report, prepared once so that each filter, sort and page answers in milliseconds:
    every sortable column's order is computed up front, and a sort of filtered rows is one pass over it."""

    def __init__(self, rows: Sequence[Row]):
        self.rows = list(rows)  # oldest first
        self.orders = {key: self._order(key) for key in SORTABLE if key != "start"}
        # Columns, so each filter is one tight pass over a list (and the time range a binary search).
        rows = self.rows
        self.starts = [r.start.timestamp() for r in rows]
        self.users = [r.search_user for r in rows]
        self.patients = [r.search_patient for r in rows]
        self.departments = [r.department for r in rows]
        self.roles = [r.role for r in rows]
        self.after = [r.after_hours for r in rows]
        self.stations = [r.workstation.lower() for r in rows]
        self.minutes = [-1.0 if r.minutes is None else r.minutes for r in rows]
        self.activities = [r.activity for r in rows]
        self.user_ids = [r.user for r in rows]
        self.patient_ids = [r.patient for r in rows]
        self.names = [r.user_name for r in rows]
        self.hours = [r.start.hour for r in rows]
        self.long = [r.minutes is not None and r.minutes > LONG_MINUTES for r in rows]
        self.printed = [r.activity in ("print", "export") for r in rows]
        self.chronological = all(a <= b for a, b in zip(self.starts, self.starts[1:], strict=False))
        self._everything: tuple[Summary, list[int], list[tuple[str, int]]] | None = None

    def _order(self, key: str) -> list[int]:
        rows = self.rows
        return sorted(range(len(rows)), key=lambda i: _sort_key(rows[i], key))

    def filter(self, f: Filters) -> list[int]:
        """Positions of the rows every filter lets through, oldest first."""
        if not self.chronological:
            return filtered_positions(self.rows, f)
        lo = bisect.bisect_left(self.starts, f.start.timestamp()) if f.start else 0
        hi = bisect.bisect_right(self.starts, f.end.timestamp()) if f.end else len(self.rows)
        positions: Iterable[int] = range(lo, hi)
        for wanted, column, test in (
                (f.user, self.users, "in"), (f.patient, self.patients, "in"), (f.workstation, self.stations, "in"),
                (f.department, self.departments, "=="), (f.role, self.roles, "=="), (f.activity, self.activities, "==")):
            if wanted:
                if test == "in":
                    positions = [i for i in positions if wanted in column[i]]
                else:
                    positions = [i for i in positions if column[i] == wanted]
        if f.after_hours:
            after = self.after
            positions = [i for i in positions if after[i]]
        if f.min_minutes is not None:
            minutes, floor = self.minutes, f.min_minutes
            positions = [i for i in positions if minutes[i] > floor]
        return list(positions)

    def ordered(self, positions: list[int], key: str = "start", descending: bool = False) -> list[int]:
        if key not in SORTABLE or key == "start":
            ordered = positions
        elif len(positions) == len(self.rows):
            ordered = self.orders[key]
        else:
            mask = bytearray(len(self.rows))
            for i in positions:
                mask[i] = 1
            ordered = [i for i in self.orders[key] if mask[i]]
        return ordered[::-1] if descending else ordered

    def page(self, ordered: list[int], page: int, size: int) -> list[Row]:
        return [self.rows[i] for i in ordered[(page - 1) * size:page * size]]

    def overview(self, positions: list[int]) -> tuple[Summary, list[int], list[tuple[str, int]]]:
        """Summary counts, accesses by hour and by user (the unfiltered one is computed once)."""
        everything = len(positions) == len(self.rows)
        if everything and self._everything is not None:
            return self._everything
        pick = positions.__iter__
        result = (Summary(len(positions), len(set(map(self.user_ids.__getitem__, pick()))),
                          len(set(map(self.patient_ids.__getitem__, pick()))), sum(map(self.after.__getitem__, pick())),
                          sum(map(self.long.__getitem__, pick())), sum(map(self.printed.__getitem__, pick())),
                          len(set(map(self.stations.__getitem__, pick())))),
                  [Counter(map(self.hours.__getitem__, pick())).get(h, 0) for h in range(24)],
                  Counter(map(self.names.__getitem__, pick())).most_common(12))
        if everything:
            self._everything = result
        return result


def _sort_key(row: Row, key: str) -> tuple:
    if key == "minutes":
        return (row.minutes is None, row.minutes or 0.0)
    return (getattr(row, key), row.start)
