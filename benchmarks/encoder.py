"""Encoder speed: cold start (first search in a fresh process) and p50/p95 over 1,000 realistic queries.

Goals (issue #6): search p95 < 5 ms; first search after start < 1 s. Run: python benchmarks/encoder.py
The index is built first if missing (that is a one-time step per data directory, timed separately).
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.coding.encoder import build_index, default_path  # noqa: E402
from tests.encoder_queries import QUERIES  # noqa: E402

COLD = """
import sys, time
t0 = time.perf_counter()
from pathlib import Path
from simulator.coding.encoder import Encoder
hits = Encoder(Path(sys.argv[1])).search("type 2 diabetes kidney")
print(time.perf_counter() - t0, hits[0].code)
"""


def main() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="hitsim-encoder-"))
    path = default_path(data_dir)
    t0 = time.perf_counter()
    build_index(path)
    print(f"index build         {time.perf_counter() - t0:6.2f} s (once per data directory), "
          f"{path.stat().st_size / 1e6:.0f} MB")
    cold = subprocess.run([sys.executable, "-c", COLD, str(path)], capture_output=True, text=True, check=True)
    seconds, first = cold.stdout.split()
    print(f"cold start          {float(seconds) * 1000:6.1f} ms (import + open + first search -> {first})")
    from simulator.coding.encoder import Encoder

    encoder = Encoder(path)
    rng = random.Random(6)
    queries = [rng.choice(QUERIES)[0] for _ in range(1000)]
    times = []
    for q in queries:
        t = time.perf_counter()
        encoder.search(q, 20)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(f"1,000 searches      p50 {statistics.median(times):.2f} ms, p95 {times[949]:.2f} ms, max {times[-1]:.2f} ms "
          "(goal: p95 < 5 ms)")


if __name__ == "__main__":
    main()
