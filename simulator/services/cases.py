"""Cases: the generated key and paper chart behind an attempt, regenerated from the stored scenario text.

Generation is deterministic, so nothing but the scenario text and the seed needs storing; a small
cache avoids regenerating on every page open. The key never leaves the server through this module:
callers get chart pages (what the student may read), not the Bundle.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from simulator.chart import ChartPage, chart_pages
from simulator.generate import GeneratedCase, generate_case
from simulator.generate.consistency import ConsistencyCase, detected_issues
from simulator.generate.consistency import consistency_for as consistency_of
from simulator.generate.scenario import parse_scenario


@lru_cache(maxsize=256)
def case_for(source_toml: str, slug: str, seed: int) -> GeneratedCase:
    scenario = parse_scenario(source_toml, f"stored scenario {slug}", slug)
    return generate_case(scenario, seed)


@lru_cache(maxsize=256)
def pages_for(source_toml: str, slug: str, seed: int) -> tuple[ChartPage, ...]:
    case = case_for(source_toml, slug, seed)
    return tuple(chart_pages(case.key, case.style))


@lru_cache(maxsize=64)
def consistency_for(source_toml: str, slug: str, seed: int) -> ConsistencyCase:
    """The consistency task's record (what the student reads) and what was planted in it (the key)."""
    return consistency_of(case_for(source_toml, slug, seed))


def grading_key(source_toml: str, slug: str, seed: int) -> dict[str, Any]:
    """What a submission is graded against: the key, plus the planted discrepancies for a consistency task
    (alone when the scenario has no entry task, so only the consistency report is graded)."""
    case = case_for(source_toml, slug, seed)
    if "consistency" not in case.scenario.tasks:
        return case.key
    issues = detected_issues(consistency_for(source_toml, slug, seed))
    entered = {"enter", "verify"} & set(case.scenario.tasks)
    return {**case.key, "entry": (case.key["entry"] if entered else [])
            + [{"fullUrl": f"urn:uuid:{i['id']}", "resource": i} for i in issues]}


def variant_seed(base_seed: int, student_id: int, attempt_number: int) -> int:
    """A per-student seed derived from the assignment's seed: stable, and different for each student."""
    digest = hashlib.sha256(f"{base_seed}:{student_id}:{attempt_number}".encode()).digest()
    return int.from_bytes(digest[:6], "big")
