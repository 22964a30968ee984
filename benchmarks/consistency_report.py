"""Open the consistency report for 50 patients x 12 visits and print how long it takes.

Goal (issue #15): the report opens in < 500 ms. Run: python benchmarks/consistency_report.py [--opens N]
Measured on a real SQLite store with a student's attempt holding 40 discrepancy records:
- the build (generating the 50-patient key, planting the record, reading it): started on a background thread when
  the attempt starts; printed as the wait of a report opened straight after Start, and as a cold build;
- every later open: what the page asks on each open (the service's check and load, the records, the
  side-by-side table of the first patient) and switching to another patient.
NiceGUI's own page build is not included (about 45 ms for a page of this size on this machine,
NOTES-nicegui.md). Figures taken on a shared 2-core machine are inflated.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from simulator.generate.scenario import parse_scenario
from simulator.reports.consistency_rules import DISCREPANCY_KINDS
from simulator.services import accounts, assignments, cases, consistency
from simulator.services.consistency import DiscrepancyInput
from simulator.store import open_store, repo
from simulator.ui.consistency_report import table_html

SCENARIO = """
title = "Benchmark: 50 patients, 12 visits each"
difficulty = "advanced"
tasks = ["consistency"]
[patients]
count = 50
visits = [12, 12]
ages = [35, 85]
months_between_visits = [1, 3]
[case_mix]
chronic = ["hypertension", "type2-diabetes", "hyperlipidemia", "hypothyroidism", "gerd", "obesity"]
chronic_per_patient = [2, 3]
acute = ["acute-bronchitis", "sinusitis", "uti"]
[seed]
policy = "fixed"
default = 4242
[messiness]
units = "mixed"
[consistency]
count = 60
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--opens", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        teacher = accounts.create_account(store, username="teacher", display_name="T", role="instructor", password="pw-123456789")
        student = accounts.create_account(store, username="student", display_name="S", role="student", password="pw-123456789")
        with store.session() as s:
            class_id = repo.create_class(s, name="C", term="T", instructor_id=teacher.id).id
            repo.enrol(s, class_id=class_id, user_id=student.id)
        scenario = parse_scenario(SCENARIO, "benchmark.toml", "benchmark")
        aid = assignments.create_assignment(store, user=teacher, class_id=class_id, scenario=scenario, title="B",
                                            due_at=None)
        t0 = time.perf_counter()
        attempt = assignments.open_assignment(store, user=student, assignment_id=aid)  # starts the record's build
        started = time.perf_counter() - t0
        t0 = time.perf_counter()
        view = consistency.load_report(store, user=student, attempt_id=attempt)  # waits for the build if not done
        straight = time.perf_counter() - t0
        # What a page pays with no build started (the server restarted since the attempt began): a cold build.
        consistency._BUILDS.clear()
        cases.case_for.cache_clear()
        cases.consistency_for.cache_clear()
        t0 = time.perf_counter()
        future = consistency.prepare_record(store, user=student, attempt_id=attempt)
        future.result()
        cold = time.perf_counter() - t0
        kinds = list(DISCREPANCY_KINDS)
        for i in range(40):
            chart = view.charts[i % len(view.charts)]
            consistency.save_discrepancy(store, user=student, attempt_id=attempt, expected_version=0, data=DiscrepancyInput(
                kinds[i % len(kinds)], (chart.visits[-1].encounter_id,), note="benchmark record"))
        opens, switches = [], []
        for i in range(args.opens):
            t0 = time.perf_counter()
            consistency.is_consistency_task(store, user=student, attempt_id=attempt)
            view = consistency.load_report(store, user=student, attempt_id=attempt)
            html = table_html(view.charts[0], ["demographics", "problems", "medications", "allergies", "vitals", "labs",
                                               "visit"])
            opens.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            table_html(view.charts[(i + 1) % len(view.charts)], ["demographics", "problems", "medications",
                                                                  "allergies", "vitals", "labs", "visit"])
            switches.append(time.perf_counter() - t0)
        visits = sum(len(c.visits) for c in view.charts)
        print(f"record: {len(view.charts)} charts, {visits} visits, {len(view.records)} student records, "
              f"table of one patient {len(html) / 1024:.0f} KB of HTML")
        print(f"start the attempt: {started * 1000:.0f} ms; the record is then built on a background thread")
        print(f"report opened straight after Start: {straight * 1000:.0f} ms (waiting for the build; the page shows "
              "'Preparing…' meanwhile and the event loop is never blocked)")
        print(f"cold build (no build started, e.g. after a restart): {cold * 1000:.0f} ms, off the event loop")
        print(f"later opens: median {statistics.median(opens) * 1000:.1f} ms, "
              f"max {max(opens) * 1000:.1f} ms over {args.opens} opens (goal < 500 ms)")
        print(f"switch patient: median {statistics.median(switches) * 1000:.1f} ms")
        store.dispose()


if __name__ == "__main__":
    main()
