"""The encoder's answers, saved and compared: a change meant to keep the answers (a faster index build, a
refactor) must give the same top five, search and Index path, for every dev query and every project query.

    python benchmarks/encoder_answers.py save before.json [--index FILE]
    ... change the code ...
    python benchmarks/encoder_answers.py compare before.json [--index FILE]

Without --index a fresh index is built (the build is what is checked). ``compare`` prints each query whose
answers changed and exits 1 if any did. The held-out parts are never read here (tune on dev only).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.coding.encoder import Encoder, build_index, default_path  # noqa: E402
from tests.encoder_queries import QUERIES, evaluation_set  # noqa: E402


def answers(encoder: Encoder) -> dict[str, dict[str, list[list[str | None]]]]:
    queries = dict.fromkeys([q for q, _code in QUERIES] + [q.query for q in evaluation_set("dev")])
    return {q: {"search": [[h.code, *h.also] for h in encoder.search(q, 5)],
                "index": [[path, code] for path, code, _see in encoder.alphabetic_index(q, 5)]}
            for q in queries}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["save", "compare"])
    parser.add_argument("file", type=Path)
    parser.add_argument("--index", type=Path, help="a built index (default: build a fresh one)")
    args = parser.parse_args()
    path = args.index or build_index(default_path(Path(tempfile.mkdtemp(prefix="hitsim-encoder-"))))
    now = answers(Encoder(path))
    if args.action == "save":
        args.file.write_text(json.dumps(now, indent=1) + "\n", encoding="utf-8")
        print(f"{len(now)} queries' answers saved to {args.file}")
        return
    before = json.loads(args.file.read_text(encoding="utf-8"))
    changed = [q for q in sorted(set(before) | set(now)) if before.get(q) != now.get(q)]
    for q in changed:
        print(f"{q!r}\n  before {before.get(q)}\n  now    {now.get(q)}")
    print(f"{len(now)} queries, {len(changed)} with different answers")
    sys.exit(1 if changed else 0)


if __name__ == "__main__":
    main()
