"""Cases: the generated key and paper chart behind an attempt, regenerated from the stored scenario text.

Generation is deterministic, so nothing but the scenario text and the seed needs storing; a small
cache avoids regenerating on every page open. The key never leaves the server through this module:
callers get chart pages (what the student may read), not the Bundle.
"""

from __future__ import annotations

import hmac
import secrets
from functools import lru_cache
from typing import Any

from grading import GradeReport, Rubric, grade
from simulator.chart import ChartPage, chart_pages
from simulator.generate import GeneratedCase, generate_case
from simulator.generate.case_files import preentered_record
from simulator.generate.consistency import ConsistencyCase, detected_issues, record_charts
from simulator.generate.consistency import consistency_for as consistency_of
from simulator.generate.scenario import Scenario, parse_scenario
from simulator.reports.consistency_record import Chart


@lru_cache(maxsize=256)
def case_for(source_toml: str, slug: str, seed: int) -> GeneratedCase:
    return generate_case(scenario_for(source_toml, slug), seed)


@lru_cache(maxsize=256)
def pages_for(source_toml: str, slug: str, seed: int) -> tuple[ChartPage, ...]:
    case = case_for(source_toml, slug, seed)
    return tuple(chart_pages(case.key, case.style))


@lru_cache(maxsize=256)
def scenario_for(source_toml: str, slug: str) -> Scenario:
    """The stored scenario text parsed (what an attempt's tasks are, without generating its case)."""
    return parse_scenario(source_toml, f"stored scenario {slug}", slug)


def consistency_for(source_toml: str, slug: str, seed: int) -> ConsistencyCase:
    """The consistency task's record (what the student reads) and what was planted in it (the key). Not cached: the
    student's record is kept by the consistency service (stored and in memory), and grading rebuilds the planted
    list from the key like any other key."""
    return consistency_of(case_for(source_toml, slug, seed))


def consistency_charts(source_toml: str, slug: str, seed: int) -> tuple[Chart, ...]:
    """The consistency task's record as the student compares it. The generated case is not kept: a many-visit key
    would cost memory and every later full collection time, and grading generates it again when it needs it."""
    return record_charts(generate_case(scenario_for(source_toml, slug), seed))


def grading_key(case: GeneratedCase) -> dict[str, Any]:
    """What a submission is graded against: the key, plus the planted discrepancies for a consistency task
    (alone when the scenario has no entry task, so only the consistency report is graded)."""
    if "consistency" not in case.scenario.tasks:
        return case.key
    issues = detected_issues(consistency_of(case))
    entered = {"enter", "verify"} & set(case.scenario.tasks)
    return {**case.key, "entry": (case.key["entry"] if entered else [])
            + [{"fullUrl": f"urn:uuid:{i['id']}", "resource": i} for i in issues]}


SEED_BITS = 62  # fits the database's signed 64-bit seed columns


def new_base_seed() -> int:
    """An assignment's base seed: random, never the scenario's public default, so nobody can guess it."""
    return secrets.randbits(SEED_BITS)


def variant_seed(secret: bytes, base_seed: int, student_id: int, attempt_number: int) -> int:
    """The case seed of one student's attempt: HMAC-SHA256 under the installation's secret key.

    Stable (the server can always derive it again) and different for each student and attempt; without
    the key, the public code and a student's own data (their id, attempt number, chart) do not give it.
    """
    message = f"hitsim-case-seed:v2:{base_seed}:{student_id}:{attempt_number}".encode()
    digest = hmac.new(secret, message, "sha256").digest()
    return int.from_bytes(digest[:8], "big") >> (64 - SEED_BITS)


def grade_case(case: GeneratedCase, submission: Any, rubric: Rubric | None = None) -> GradeReport:
    """Grade a student's record the way the app does: the scenario's rubric (coding only when coding is a task),
    the planted discrepancies of a consistency task and, for a verify task, the errors planted in the pre-entered
    record. The CLI uses this too."""
    planted = [f.as_dict() for f in preentered_record(case)[1]] if "verify" in case.scenario.tasks else None
    return grade(grading_key(case), submission, rubric or case.scenario.rubric(), planted=planted)


@lru_cache(maxsize=256)
def graded_sections(source_toml: str, slug: str, seed: int) -> tuple[tuple[str, float], ...]:
    """(section title, points out of 100) of what this case grades, for the student's instructions.

    Read off the report of an empty record: the sections and their points, never the key's contents.
    """
    case = case_for(source_toml, slug, seed)
    empty = {"resourceType": "Bundle", "type": "collection", "entry": []}
    report = grade_case(case, empty)
    return tuple((s.title, round(s.points_possible, 1)) for s in report.sections if s.points_possible > 0)
