"""Open the consistency report for 50 patients x 12 visits and print how long it takes.

Goal (issue #15): the report opens in < 500 ms. Run: python benchmarks/consistency_report.py [--opens N]
Measured on a real SQLite store with a student's attempt holding 40 discrepancy records. An open is what the attempt
page asks before it draws: the attempt's header (``attempt_view``), the record (awaited off the event loop), the
student's records, and the side-by-side table of the first patient.
- first open straight after Start: the record is built on a background thread when the attempt starts and stored;
  the open waits for the build;
- open after a server restart: every in-memory cache dropped; the record is read from the database;
- a cold build (no record stored, nothing cached): what the first open after Start waits for at most;
- every later open, and switching to another patient.
NiceGUI's own page build is not included (about 45 ms for a page of this size on this machine,
NOTES-nicegui.md). Figures taken on a shared 2-core machine are inflated: the load average is printed, and the
process's CPU time next to the waits (on an idle machine a wait is about its CPU time).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import delete

from simulator.generate.scenario import parse_scenario
from simulator.reports.consistency_rules import DISCREPANCY_KINDS
from simulator.services import accounts, assignments, cases, consistency
from simulator.services.accounts import SignedInUser
from simulator.services.consistency import DiscrepancyInput, ReportView
from simulator.store import Store, open_store, repo
from simulator.store.models import ConsistencyRecordRow
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


SECTIONS = ["demographics", "problems", "medications", "allergies", "vitals", "labs", "visit"]


def open_report(store: Store, student: SignedInUser, attempt: int) -> ReportView:
    """What the attempt page asks before it draws the report (the record awaited as the page awaits it)."""
    view = assignments.attempt_view(store, user=student, attempt_id=attempt)
    assert "consistency" in view.tasks
    consistency.prepare_record(store, user=student, attempt_id=attempt).result()
    report = consistency.load_report(store, user=student, attempt_id=attempt)
    table_html(report.charts[0], SECTIONS)
    return report


def forget_everything() -> None:
    """What a server restart forgets: every in-memory cache of cases and records (the database stays)."""
    consistency.builds_stored()
    consistency.forget_records()
    for cached in (cases.case_for, cases.pages_for, cases.graded_sections, cases.scenario_for):
        cached.cache_clear()


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
        t0, c0 = time.perf_counter(), time.process_time()
        view = open_report(store, student, attempt)
        straight, straight_cpu = time.perf_counter() - t0, time.process_time() - c0
        kinds = list(DISCREPANCY_KINDS)
        for i in range(40):
            chart = view.charts[i % len(view.charts)]
            consistency.save_discrepancy(store, user=student, attempt_id=attempt, expected_version=0, data=DiscrepancyInput(
                kinds[i % len(kinds)], (chart.visits[-1].encounter_id,), note="benchmark record"))
        restarted = []
        for _ in range(3):
            forget_everything()
            t0 = time.perf_counter()
            open_report(store, student, attempt)
            restarted.append(time.perf_counter() - t0)
        forget_everything()
        with store.session() as s:
            s.execute(delete(ConsistencyRecordRow))
        t0, c0 = time.perf_counter(), time.process_time()
        consistency.prepare_record(store, user=student, attempt_id=attempt).result()
        cold, cold_cpu = time.perf_counter() - t0, time.process_time() - c0
        opens, switches = [], []
        for i in range(args.opens):
            t0 = time.perf_counter()
            view = open_report(store, student, attempt)
            opens.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            table_html(view.charts[(i + 1) % len(view.charts)], SECTIONS)
            switches.append(time.perf_counter() - t0)
        html = table_html(view.charts[0], SECTIONS)
        visits = sum(len(c.visits) for c in view.charts)
        print(f"record: {len(view.charts)} charts, {visits} visits, {len(view.records)} student records, "
              f"table of one patient {len(html) / 1024:.0f} KB of HTML")
        print(f"load average {os.getloadavg()[0]:.2f} (2 cores; figures above ~0.5 are inflated)")
        print(f"start the attempt: {started * 1000:.0f} ms; the record is then built on a background thread and stored")
        print(f"first open straight after Start: {straight * 1000:.0f} ms, CPU {straight_cpu * 1000:.0f} ms (waits for "
              "the build; the page shows 'Preparing…' meanwhile and the event loop is never blocked) (goal < 500 ms)")
        print(f"open after a restart (record read from the database): median {statistics.median(restarted) * 1000:.0f} "
              f"ms, max {max(restarted) * 1000:.0f} ms over {len(restarted)} (goal < 500 ms)")
        print(f"cold build (no record stored, e.g. an attempt started before the record was stored): {cold * 1000:.0f} ms, "
              f"CPU {cold_cpu * 1000:.0f} ms, off the event loop")
        print(f"later opens: median {statistics.median(opens) * 1000:.1f} ms, "
              f"max {max(opens) * 1000:.1f} ms over {args.opens} opens (goal < 500 ms)")
        print(f"switch patient: median {statistics.median(switches) * 1000:.1f} ms")
        store.dispose()


if __name__ == "__main__":
    main()
