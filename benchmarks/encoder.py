"""Encoder quality and speed.

Quality: the independent evaluation set in tests/data/encoder_eval/ (written by a colleague acting as a coder,
who never saw the encoder; see its README): top-1 and top-5 per failure class, for the dev part (tuned on) and
the held-out part (never tuned on), through the search and through the Index path.
- search: a query is found at rank k when every expected code has been offered by the k-th hit (a hit's own code
  or the code offered with it, "use additional code");
- Index path: an entry leads to an expected code when it names it or the category above it (the Index's "-":
  the coder completes the code in the Tabular). CPT/HCPCS rows have no Index path and are left out there.

Speed (goals: search p95 < 5 ms over all codes, cold start < 1 s, index build a few seconds): index build,
cold start (first search in a fresh process), p50/p95 over 1,000 searches drawn from both query lists. Wall
time and CPU time of the process are both printed: on a shared, loaded machine the wall figures are inflated.

Run: python benchmarks/encoder.py [--no-build INDEX_FILE] [--parts dev] [--no-speed]
(``--parts dev`` while tuning: the held-out table is for reporting only.)
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.coding.encoder import Encoder, build_index, default_path  # noqa: E402
from tests.encoder_queries import QUERIES, evaluation_set, index_rank, search_rank  # noqa: E402

COLD = """
import sys, time
t0 = time.perf_counter()
from pathlib import Path
from simulator.coding.encoder import Encoder
hits = Encoder(Path(sys.argv[1])).search("type 2 diabetes kidney")
print(time.perf_counter() - t0, hits[0].code)
"""


def quality(encoder: Encoder, part: str) -> None:
    rows = evaluation_set(part)
    table: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    for q in rows:
        found = search_rank(encoder, q)
        cell = table[q.kind]
        cell[0] += 1
        cell[1] += found == 1
        cell[2] += found is not None
        if q.index_path:
            at = index_rank(encoder, q)
            cell[3] += 1
            cell[4] += at == 1
            cell[5] += at is not None
    print(f"\n{part} ({len(rows)} queries)")
    print(f"{'class':16} {'n':>3}  {'search top-1':>12} {'top-5':>6}   {'index n':>7} {'top-1':>6} {'top-5':>6}")
    total = [0] * 6
    for kind in sorted(table):
        c = table[kind]
        total = [a + b for a, b in zip(total, c, strict=True)]
        print(_line(kind, c))
    print(_line("ALL", total))


def _line(kind: str, c: list[int]) -> str:
    def pct(a: int, n: int) -> str:
        return f"{100 * a / n:5.0f}%" if n else "    -"

    return (f"{kind:16} {c[0]:3}  {pct(c[1], c[0]):>12} {pct(c[2], c[0]):>6}   {c[3]:7} {pct(c[4], c[3]):>6} "
            f"{pct(c[5], c[3]):>6}")


def speed(encoder: Encoder, path: Path) -> None:
    cold = subprocess.run([sys.executable, "-c", COLD, str(path)], capture_output=True, text=True, check=True)
    seconds, first = cold.stdout.split()
    print(f"cold start          {float(seconds) * 1000:6.1f} ms (import + open + first search -> {first})")
    rng = random.Random(6)
    pool = [q for q, _code in QUERIES] + [q.query for q in evaluation_set("dev")]
    queries = [rng.choice(pool) for _ in range(1000)]
    # The first search of a process loads the vocabulary and the lay-term table (the cold start above, timed on
    # its own): one search first, so the figures below are of searches, not of that.
    encoder.search("htn")
    encoder.alphabetic_index("htn")
    for name, run in (("search", lambda q: encoder.search(q, 20)), ("Index path", lambda q: encoder.alphabetic_index(q, 20))):
        wall, cpu = [], []
        for q in queries:
            t, c = time.perf_counter(), time.process_time()
            run(q)
            cpu.append((time.process_time() - c) * 1000)
            wall.append((time.perf_counter() - t) * 1000)
        for label, times in (("wall", wall), ("cpu ", cpu)):
            times.sort()
            print(f"1,000 {name:10} {label} p50 {statistics.median(times):6.2f} ms, p95 {times[949]:6.2f} ms, "
                  f"max {times[-1]:7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-build", metavar="INDEX_FILE", help="use this built index instead of building one")
    parser.add_argument("--parts", nargs="+", default=["dev", "heldout"], choices=["dev", "heldout", "heldout2", "heldout3"],
                        help="which evaluation parts to report (tune on dev only)")
    parser.add_argument("--no-speed", action="store_true", help="skip the cold start and the 1,000-search timing")
    args = parser.parse_args()
    if args.no_build:
        path = Path(args.no_build)
    else:
        path = default_path(Path(tempfile.mkdtemp(prefix="hitsim-encoder-")))
        t0, c0 = time.perf_counter(), time.process_time()
        build_index(path)
        print(f"index build         {time.perf_counter() - t0:6.2f} s wall, {time.process_time() - c0:6.2f} s cpu "
              f"(once per data directory), {path.stat().st_size / 1e6:.0f} MB")
    encoder = Encoder(path)
    if not args.no_speed:
        speed(encoder, path)
    for part in args.parts:
        quality(encoder, part)


if __name__ == "__main__":
    main()

