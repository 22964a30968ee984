"""Cases: the generated key and paper chart behind an attempt, regenerated from the stored scenario text.

Generation is deterministic, so nothing but the scenario text and the seed needs storing; a small
cache avoids regenerating on every page open. The key never leaves the server through this module:
callers get chart pages (what the student may read), not the Bundle.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from simulator.chart import ChartPage, chart_pages
from simulator.generate import GeneratedCase, generate_case
from simulator.generate.scenario import parse_scenario


@lru_cache(maxsize=256)
def case_for(source_toml: str, slug: str, seed: int) -> GeneratedCase:
    scenario = parse_scenario(source_toml, f"stored scenario {slug}", slug)
    return generate_case(scenario, seed)


@lru_cache(maxsize=256)
def pages_for(source_toml: str, slug: str, seed: int) -> tuple[ChartPage, ...]:
    case = case_for(source_toml, slug, seed)
    return tuple(chart_pages(case.key, case.style))


def variant_seed(base_seed: int, student_id: int, attempt_number: int) -> int:
    """A per-student seed derived from the assignment's seed: stable, and different for each student."""
    digest = hashlib.sha256(f"{base_seed}:{student_id}:{attempt_number}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


@lru_cache(maxsize=256)
def graded_sections(source_toml: str, slug: str, seed: int) -> tuple[tuple[str, float], ...]:
    """(section title, points out of 100) of what this case grades, for the student's instructions.

    Read off the report of an empty record: the sections and their points, never the key's contents.
    """
    from grading import grade

    case = case_for(source_toml, slug, seed)
    empty = {"resourceType": "Bundle", "type": "collection", "entry": []}
    report = grade(case.key, empty, case.scenario.rubric())
    return tuple((s.title, round(s.points_possible, 1)) for s in report.sections if s.points_possible > 0)
