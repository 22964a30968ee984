"""Item analysis: across a class's graded work on one assignment, what was missed most — what to reteach.

Findings are grouped by the field they concern (a medication's strength, the date of birth, a visit's
time) with the patient-specific parts taken out, and coding findings by the code the key expected.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from typing import Any

from simulator.services.accounts import SignedInUser
from simulator.services.assignments import instructors_assignment
from simulator.store import Store, repo

_BRACKETS = re.compile(r"\[[^\]]*\]")
_NUMBERED = re.compile(r"\s*\d+$|,\s*visit \d+$")
CODE_SECTION = "coding"


@dataclass(frozen=True)
class Item:
    item: str  # what was missed, in words: "medications · Directions (sig)", "vital signs · Weight: Value", "E11.22"
    section: str
    students: int  # how many students missed it (once each)
    share: float  # students / graded students
    points_lost: float  # summed over the class
    example: str  # one finding's message, to show what it looks like


@dataclass(frozen=True)
class ItemAnalysis:
    assignment_id: int
    title: str
    graded: int  # students with a graded attempt
    fields: list[Item]
    codes: list[Item]


def field_of(path: str) -> str:
    """The field a finding's path names, without the parts that differ per patient: Claim[…].item[99214] -> Claim.item."""
    return _BRACKETS.sub("", path)


# Coding findings that are not about one expected code (grading/coding.py paths), in an instructor's words.
CLAIM_WORDS = {"Claim.diagnosis": "diagnosis codes", "Claim.item": "service lines", "Claim.item.modifier": "modifiers",
               "Claim.item.quantity": "units", "Claim.item.diagnosisSequence": "diagnosis pointers", "Claim": "claims"}
KIND_WORDS = {"missing": "left out: on the chart, not entered", "extra": "entered, not on the chart",
              "link": "linked to the wrong visit"}


@cache
def _field_labels() -> dict[str, tuple[str, ...]]:
    """Each graded field's path -> the label students read in their report ("Date of birth")."""
    from grading.grade import SECTIONS

    labels: dict[str, list[str]] = defaultdict(list)
    for section in SECTIONS:
        for fd in section.fields:
            labels[fd.path].append(fd.label)
    return {path: tuple(dict.fromkeys(words)) for path, words in labels.items()}


def item_words(section: str, finding: dict[str, Any]) -> str:
    """What a finding is about, in the words of the report and without patient-specific parts:
    "Date of birth", "Weight: Value", "left out: on the chart, not entered"."""
    path, message = field_of(finding["path"]), finding.get("message", "")
    labels = _field_labels().get(path, ())
    label = next((w for w in labels if f"{w}:" in message), labels[0] if labels else "")
    label = label or CLAIM_WORDS.get(path, "") or KIND_WORDS.get(finding.get("kind", ""), "") or path
    if section in ("vital signs", "lab results") and ":" in message:
        what = _NUMBERED.sub("", message.split(":")[0]).strip()  # "Weight, visit 3" -> "Weight"
        return f"{what}: {label}" if what and what != label else label
    return label


def section_of(section: str) -> str:
    """"coding, visit 2" -> "coding"; "encounter 3" -> "encounter"; "Ana Diaz — coding, visit 1" -> "coding" (the
    grader names the patient in a chart with several, and the class's misses are counted across patients)."""
    return _NUMBERED.sub("", section.split(" — ")[-1])


def item_analysis(store: Store, *, user: SignedInUser, assignment_id: int, limit: int = 15) -> ItemAnalysis:
    with store.session() as s:
        a = instructors_assignment(s, user, assignment_id)
        latest: dict[int, int] = {}
        for attempt in repo.attempts_for_assignment(s, assignment_id=a.id):
            if attempt.status == "graded":
                latest[attempt.student_id] = attempt.id  # ordered by number: the last graded one wins
        reports = []
        for attempt_id in latest.values():
            row = repo.latest_grade_report(s, attempt_id=attempt_id)
            if row is not None:
                reports.append(json.loads(row.report))
        title = a.title
    students: dict[tuple[bool, str, str], set[int]] = defaultdict(set)  # (is a code, section, item)
    lost: dict[tuple[bool, str, str], float] = defaultdict(float)
    example: dict[tuple[bool, str, str], str] = {}
    for index, report in enumerate(reports):
        for f in report["findings"]:
            if not f["points_lost"]:
                continue
            section = section_of(f["section"])
            if section == CODE_SECTION and f["expected"]:
                key = (True, CODE_SECTION, f["expected"])
            else:
                key = (False, section, item_words(section, f))
            students[key].add(index)
            lost[key] += f["points_lost"]
            example.setdefault(key, f["message"])
    graded = len(reports)

    def items(codes: bool) -> list[Item]:
        keys = [k for k in students if k[0] == codes]
        keys.sort(key=lambda k: (-len(students[k]), -lost[k], k))
        return [Item(k[2] if codes else f"{k[1]} · {k[2]}", k[1], len(students[k]),
                     len(students[k]) / graded if graded else 0.0, round(lost[k], 2), example[k]) for k in keys[:limit]]

    return ItemAnalysis(assignment_id, title, graded, items(False), items(True))
