"""A 500-student class end to end: roster import, generating every student's chart, submissions, regrade, gradebook.

Run: python benchmarks/class500.py [--students N] [--scenario NAME] [--database-url URL]
Prints the time of each step. Every step goes through the services on a real database (a temporary
SQLite file unless --database-url is given), as the instructor's pages call them. Each student enters
their chart's first patient and submits (graded at once); then the instructor changes nothing and
regrades the whole assignment. Figures measured on a shared machine are inflated by other load.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import tempfile
import time
from pathlib import Path

from simulator.services import accounts, assignments, cases, classes, gradebook, item_analysis, workspace
from simulator.store import open_store, repo


def step(label: str, started: float, count: int) -> float:
    took = time.perf_counter() - started
    print(f"{label:<46} {took:8.1f} s   {count / took:8.1f} per second   ({count})")
    return time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--scenario", default="clinic-chronic-care")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="hitsim-bench-"))
    store = open_store(args.database_url or f"sqlite:///{folder / 'bench.sqlite3'}")
    teacher = accounts.create_account(store, username="bench-teacher", display_name="Bench Teacher", role="instructor",
                                      password="bench-teacher-password")
    class_id = classes.create_class(store, user=teacher, name=f"Benchmark {time.time():.0f}")
    roster = io.StringIO()
    writer = csv.writer(roster)
    writer.writerow(["name", "username", "email"])
    stamp = int(time.time()) % 100000
    writer.writerows([(f"Student {i}", f"s{stamp}-{i}", f"s{i}@example.edu") for i in range(args.students)])
    print(f"{args.students} students, scenario {args.scenario}, database {store.engine.url.get_backend_name()}")

    started = time.perf_counter()
    report = classes.import_roster(store, user=teacher, class_id=class_id, content=roster.getvalue().encode())
    assert len(report.created) == args.students, report.refused[:3]
    started = step("roster import (Argon2 hash per new account)", started, args.students)

    aid = assignments.assign_from_library(
        store, user=teacher, class_id=class_id, scenario_key=f"shipped:{args.scenario}", title="Benchmark",
        opens_at=None, due_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=7), attempts_allowed=1,
        release_policy="after-due-date", per_student_variants=True, retry_same_chart=False)
    plan = assignments.variant_plan(store, user=teacher, assignment_id=aid)
    started = time.perf_counter()
    names = assignments.generate_variants(plan.source_toml, plan.slug, plan.seeds)
    started = step("generate every student's chart and key (1 core)", started, len(names))
    print(f"{'':<46} {len(set(names))} different patients")

    with store.session() as s:
        students = [accounts.SignedInUser(u.id, u.username, u.display_name, u.role)
                    for u in repo.students_of(s, class_id=class_id)]
    cases.case_for.cache_clear()
    for student in students:
        attempt = assignments.open_assignment(store, user=student, assignment_id=aid)
        with store.session() as s:
            a = repo.get_attempt(s, attempt_id=attempt)
            key = cases.case_for(a.assignment.scenario.source_toml, a.assignment.scenario.slug, a.seed).key
        for entry in key["entry"][:8]:
            if entry["resource"]["resourceType"] in ("Patient", "Condition", "MedicationRequest", "AllergyIntolerance"):
                workspace.save_entry(store, user=student, attempt_id=attempt, resource=entry["resource"], expected_version=0)
    started = step("students open, enter a few resources (setup)", started, len(students))
    for student in students:
        workspace.submit_attempt(store, user=student, attempt_id=assignments.open_assignment(store, user=student,
                                                                                            assignment_id=aid))
    started = step("submit + grade (server regenerates each key)", started, len(students))
    count = gradebook.regrade_assignment(store, user=teacher, assignment_id=aid)
    started = step("regrade the whole assignment", started, count)
    book = gradebook.gradebook(store, user=teacher, class_id=class_id)
    started = step("gradebook (students x assignments)", started, len(book.rows))
    text = gradebook.export_csv(store, user=teacher, class_id=class_id, lms="canvas")
    started = step("Canvas CSV export", started, len(text.splitlines()) - 2)
    analysis = item_analysis.item_analysis(store, user=teacher, assignment_id=aid)
    step("item analysis", started, analysis.graded)
    store.dispose()


if __name__ == "__main__":
    main()
