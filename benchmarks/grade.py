"""Grade 500 submissions of three-visit charts, each with a few errors, and print submissions per second.

Goal (issue #11): >= 1,000 submissions/s on one core, 1,500 to keep a margin as the grader grows.
Run: python benchmarks/grade.py [--submissions N]. Besides wall-clock time the script prints the rate per
CPU-second of this process: on a machine shared with other work the wall clock is inflated, the CPU time is not.
Each submission is a different student's chart (its own seed) with 3 entry errors from the fault planter,
and its visits coded; graded with the default rubric (all sections, coding included).

Two runs: the submission as the fault planter leaves it (the key's resource ids, which lets the grader set aside
entries identical to the key's), and the same records as a student's EHR holds them (every resource under its own
id, references rewritten) - the figure a class's grading meets.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
import uuid

from grading import default_rubric, grade
from simulator.generate import generate_case, load_scenario, plant_faults


def with_own_ids(submission: dict) -> dict:
    """The same record as the student's EHR stores it: new ids for every resource, references following."""
    text = json.dumps(submission)
    for entry in submission["entry"]:
        old = entry["resource"]["id"]
        text = text.replace(old, str(uuid.uuid5(uuid.NAMESPACE_URL, "student:" + old)))
    return json.loads(text)


def run(work: list, rubric) -> tuple[float, float, list[float], list[float]]:
    times, scores = [], []
    cpu_start = time.process_time()
    start = time.perf_counter()
    for key, submission in work:
        t0 = time.perf_counter()
        scores.append(grade(key, submission, rubric).score)
        times.append(time.perf_counter() - t0)
    return time.perf_counter() - start, time.process_time() - cpu_start, times, scores


def report(label: str, work: list, total: float, cpu: float, times: list[float]) -> None:
    print(f"{label}")
    print(f"  graded           {len(work) / total:8.1f} submissions/s on one core, wall clock (goal: 1000, aim 1500)")
    print(f"                   {len(work) / cpu:8.1f} submissions per CPU-second of this process")
    print(f"  per submission   median {statistics.median(times) * 1000:.2f} ms, "
          f"p95 {sorted(times)[int(len(times) * 0.95)] * 1000:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=500)
    parser.add_argument("--errors", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    scenario = load_scenario("clinic-chronic-care")
    rubric = default_rubric()
    work = []
    for seed in range(args.submissions):
        key = generate_case(scenario, seed).key
        submission, _ = plant_faults(key, args.errors, random.Random(seed))
        # The fault planter leaves coding out; this student also coded every visit (as the key).
        submission["entry"] += [e for e in key["entry"] if e["resource"]["resourceType"] == "Claim"]
        work.append((key, submission))
    own = [(key, with_own_ids(submission)) for key, submission in work]
    grade(*work[0], rubric)  # warm-up: imports, FHIR type table
    resources = sum(len(k["entry"]) + len(s["entry"]) for k, s in work) / len(work)
    print(f"submissions        {len(work)} (three-visit charts, {args.errors} errors each, "
          f"{resources:.0f} resources per key+submission)")
    total, cpu, times, scores = run(work, rubric)
    report("with the key's resource ids (the fault planter's copy)", work, total, cpu, times)
    total, cpu, times, own_scores = run(own, rubric)
    report("with the student's own resource ids (as the EHR stores them)", own, total, cpu, times)
    print(f"mean score         {statistics.mean(scores):.1f} / {statistics.mean(own_scores):.1f} (must be equal)")


if __name__ == "__main__":
    main()
