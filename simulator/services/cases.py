"""Cases: the generated key and paper chart behind an attempt, regenerated from the stored scenario text.

Generation is deterministic, so nothing but the scenario text and the seed needs storing; a small
cache avoids regenerating on every page open. The key never leaves the server through this module:
callers get chart pages (what the student may read), not the Bundle.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from grading import GradeReport, Rubric, grade
from simulator.chart import ChartPage, chart_pages
from simulator.generate import GeneratedCase, generate_case
from simulator.generate.case_files import preentered_record
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


def grade_case(case: GeneratedCase, submission: Any, rubric: Rubric | None = None) -> GradeReport:
    """Grade a student's record the way the app does: the scenario's rubric (coding only when coding is a task)
    and, for a verify task, the errors planted in the pre-entered record. The CLI uses this too."""
    planted = [f.as_dict() for f in preentered_record(case)[1]] if "verify" in case.scenario.tasks else None
    return grade(case.key, submission, rubric or case.scenario.rubric(), planted=planted)
