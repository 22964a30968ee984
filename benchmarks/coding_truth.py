"""Quality figures of the answer keys, on the seeds the tests use and on held-out seeds never tuned on.

Run: python benchmarks/coding_truth.py [--keys N]. Prints, per scenario and seed set: visits, the share of
assessment lines that are an ICD-10-CM title, visits sharing a note paragraph, rule violations found by
independent checks (the same checks as tests/test_coding_rules.py, counted instead of asserted), and the
E/M level mix.
"""

from __future__ import annotations

import argparse
import base64
import re
from collections import Counter

import simple_icd_10_cm as icd

from simulator.clinical import load_catalog
from simulator.coding import rules, tabular
from simulator.generate import generate_case, load_scenario
from simulator.generate.scenario import list_scenario_files

CAT = load_catalog()
SEED_SETS = {"tuning (tests)": 70_000, "held-out": 500_000}
FACILITY = {"36415", "96372", "94640", "73610", "73110", "71046", "93000", "81002", "87880", "83036", "82962", "87804"}


def norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).split())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=300)
    args = parser.parse_args()
    titles = {norm(icd.get_description(c)) for c in icd.get_all_codes(with_dots=True)}
    print(f"{'scenario':22} {'seeds':15} {'visits':>6} {'title lines':>11} {'dup paras':>9} {'violations':>10}  E/M mix")
    for path in list_scenario_files():
        sc = load_scenario(path)
        for label, first in SEED_SETS.items():
            visits = lines = title_hits = dup = 0
            violations: Counter[str] = Counter()
            em: Counter[str] = Counter()
            for seed in range(first, first + args.keys):
                key = generate_case(sc, seed).key
                res = [e["resource"] for e in key["entry"]]
                notes = {d["context"]["encounter"][0]["reference"]: base64.b64decode(d["content"][0]["attachment"]["data"]).decode()
                         for d in res if d["resourceType"] == "DocumentReference"}
                seen: dict[str, set[str]] = {}
                for claim in (r for r in res if r["resourceType"] == "Claim"):
                    visits += 1
                    enc = claim["extension"][0]["valueReference"]["reference"]
                    note = notes[enc]
                    patient = claim["patient"]["reference"]
                    for para in note.split("\n\n"):
                        dup += para in seen.setdefault(patient, set())
                        seen[patient].add(para)
                    for ln in note.split("\nA:\n")[1].split("\nP:")[0].splitlines():
                        lines += 1
                        title_hits += norm(re.sub(r"^\d+\. ", "", ln).split(" — ")[0]) in titles
                    codes = [d["diagnosisCodeableConcept"]["coding"][0]["code"] for d in claim["diagnosis"]]
                    services = [i["productOrService"]["coding"][0]["code"] for i in claim["item"]]
                    for i, a in enumerate(codes):
                        for b in codes[i + 1:]:
                            violations["sequence"] += tabular.must_precede(b, a)
                    violations["with"] += any(c.startswith("N18") for c in codes) and any(
                        c.startswith("E11") for c in codes) and "E11.22" not in codes
                    violations["ED facility item"] += sc.setting == "emergency" and bool(set(services) & FACILITY)
                    violations["injury w/o ext. cause"] += any(c[:1] in "ST" for c in codes) and not any(
                        c[:1] in "VWXY" for c in codes)
                    violations["former smoker w/o Z87.891"] += bool(re.search(r"Former smoker|Ex-smoker", note)) and (
                        "Z87.891" not in codes)
                    em.update(s for s in services if s in rules.OFFICE_NEW + rules.OFFICE_ESTABLISHED + rules.EMERGENCY)
            mix = " ".join(f"{k}:{v}" for k, v in sorted(em.items()))
            print(f"{sc.slug:22} {label:15} {visits:6d} {title_hits / max(lines, 1):10.1%} {dup:9d} "
                  f"{sum(violations.values()):10d}  {mix}")


if __name__ == "__main__":
    main()
