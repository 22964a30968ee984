"""Access-audit report speed: plant a 50,000-event history, then time every filter of the report.

Prints the generation time and, per filter, p50/p95 over repeated runs of what the page does for it
(parse the filters, filter, sort, summary counts, both charts, the first page of rows; the report's
index of rows and sort orders is built once per log, when it is first opened). Goal: p95 < 300 ms.
Figures measured on a shared 2-core machine are inflated by whatever else runs on it.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.audit.planted import FACILITY_TZ, plant_history  # noqa: E402
from simulator.audit.settings import AuditSettings  # noqa: E402
from simulator.reports import access_audit as report  # noqa: E402

EVENTS, RUNS = 50_000, 25


def main() -> None:
    started = time.perf_counter()
    history = plant_history(AuditSettings(events=EVENTS, weeks=4), 2026)
    planted = time.perf_counter() - started
    started = time.perf_counter()
    rows = report.planted_rows(history)
    index = report.ReportIndex(rows)
    as_rows = time.perf_counter() - started
    print(f"planted history: {len(history.accesses):,} events, {len(history.staff)} staff, "
          f"{len(history.patients):,} patients in {planted:.1f} s; report rows and sort orders in {as_rows * 1000:.0f} ms (once per log)")
    a_user = rows[len(rows) // 2]
    filters = {
        "no filter": {},
        "user": {"user": a_user.user_name.split()[1].lower()},
        "patient": {"patient": a_user.patient_name.split()[0].lower()},
        "department": {"department": "Cardiology"},
        "role": {"role": "nurse"},
        "date and time range": {"from_date": "03/10/2025", "from_time": "07:00", "to_date": "03/14/2025", "to_time": "19:00"},
        "after hours": {"after_hours": True},
        "workstation": {"workstation": "ED-WS0"},
        "open longer than 30 min": {"min_minutes": "30"},
        "action": {"activity": "print"},
        "everything at once": {"role": "nurse", "after_hours": True, "min_minutes": "5", "from_date": "03/03/2025",
                               "to_date": "03/28/2025"},
    }
    print(f"{'filter':<26} {'rows':>7} {'p50 ms':>8} {'p95 ms':>8}")
    worst = 0.0
    for name, raw in filters.items():
        times = []
        for run in range(RUNS):
            t = time.perf_counter()
            shown = index.filter(report.parse_filters(raw, FACILITY_TZ))
            ordered = index.ordered(shown, ("start", "minutes", "user_name")[run % 3], descending=bool(run % 2))
            index.overview(shown)
            index.page(ordered, 1, 25)
            times.append((time.perf_counter() - t) * 1000)
        p95 = statistics.quantiles(times, n=20)[18]
        worst = max(worst, p95)
        print(f"{name:<26} {len(shown):>7,} {statistics.median(times):>8.1f} {p95:>8.1f}")
    started = time.perf_counter()
    csv_text = report.to_csv(rows)
    print(f"CSV export of all rows: {len(csv_text) / 1e6:.1f} MB in {(time.perf_counter() - started) * 1000:.0f} ms")
    print(f"worst p95: {worst:.1f} ms ({'meets' if worst < 300 else 'misses'} the 300 ms goal)")


if __name__ == "__main__":
    main()
