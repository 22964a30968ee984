"""Generate and validate 1,000 three-visit charts on one core and print charts per second.

Goal (issue #3): >= 250 charts/s on one core. Run: python benchmarks/generate.py [--charts N]
A "chart" is one patient's three-visit answer key from `clinic-chronic-care` (about 70 FHIR resources),
validated as `hitsim validate` does: R4B structure plus the HL7 error-level invariants.
"""

from __future__ import annotations

import argparse
import os
import time

from simulator.fhir.validation import validate_document
from simulator.generate import generate_case, load_scenario


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--charts", type=int, default=1000)
    parser.add_argument("--scenario", default="clinic-chronic-care")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    scenario = load_scenario(args.scenario)
    validate_document(generate_case(scenario, 0).key)  # warm-up: model classes, compiled FHIRPath

    gen_time = val_time = 0.0
    resources = problems = 0
    for seed in range(1, args.charts + 1):
        t0 = time.perf_counter()
        key = generate_case(scenario, seed).key
        t1 = time.perf_counter()
        problems += len(validate_document(key))
        t2 = time.perf_counter()
        gen_time += t1 - t0
        val_time += t2 - t1
        resources += len(key["entry"])
    total = gen_time + val_time
    print(f"scenario            {args.scenario} ({scenario.visits[0]}-{scenario.visits[1]} visits per chart)")
    print(f"charts              {args.charts}  ({resources / args.charts:.0f} FHIR resources each, {problems} problems)")
    print(f"generate            {args.charts / gen_time:8.1f} charts/s  ({gen_time / args.charts * 1000:.2f} ms/chart)")
    print(f"validate            {args.charts / val_time:8.1f} charts/s  ({val_time / args.charts * 1000:.2f} ms/chart)")
    print(f"generate + validate {args.charts / total:8.1f} charts/s  on one core (goal: 250)")


if __name__ == "__main__":
    main()
