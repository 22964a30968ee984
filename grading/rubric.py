"""The grading rubric: points per section, weights per field, partial credit and tolerances (TOML)."""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

SECTION_TITLES = {
    "demographics": "Demographics",
    "encounters": "Encounters",
    "problem_list": "Problem list",
    "medications": "Medications",
    "allergies": "Allergies",
    "vitals": "Vital signs",
    "labs": "Lab results",
    "procedures": "Procedures",
    "notes": "Notes",
    "coding": "Coding",
    "consistency": "Consistency report",
}


class RubricError(Exception):
    """A rubric file cannot be used; the message names the key and what is expected."""


@dataclass(frozen=True)
class Rubric:
    sections: dict[str, dict[str, Any]]  # name -> {"points": float, "fields": {field: weight}}
    partial_credit: dict[str, float]
    tolerances: dict[str, float]
    coding: dict[str, float]

    def points(self, section: str) -> float:
        return float(self.sections[section]["points"])

    def weights(self, section: str) -> dict[str, float]:
        return self.sections[section]["fields"]

    def per_item(self, section: str) -> float:
        """Fixed points per item an instructor set for a section (0: the section shares its ``points``)."""
        return float(self.sections[section].get("per_item", 0.0))


@cache
def _default_data() -> dict[str, Any]:
    return tomllib.loads(resources.files("grading").joinpath("rubric.toml").read_text(encoding="utf-8"))


def default_rubric() -> Rubric:
    return _build(copy.deepcopy(_default_data()), "default rubric")


def _check_number(where: str, value: Any, low: float = 0.0, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RubricError(f"{where}: expected a number, got {value!r}")
    if value < low:
        raise RubricError(f"{where}: expected a number of at least {low:g}, got {value!r} (no negative points)")
    if high is not None and value > high:
        raise RubricError(f"{where}: expected a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _merge(base: dict[str, Any], override: dict[str, Any], where: str) -> None:
    """Apply ``override`` onto ``base``; every key must already exist in the default rubric."""
    for key, value in override.items():
        path = f"{where}.{key}" if where else key
        if key not in base and key == "per_item" and where.startswith("sections."):
            base[key] = value  # optional: fixed points per item for this section
            continue
        if key not in base:
            known = ", ".join(sorted(base))
            raise RubricError(f"{path}: unknown key; expected one of {known}")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise RubricError(f"{path}: expected a table")
            _merge(base[key], value, path)
        else:
            base[key] = value


def _build(data: dict[str, Any], source: str) -> Rubric:
    for name, section in data["sections"].items():
        _check_number(f"{source}: sections.{name}.points", section["points"])
        if "per_item" in section:
            _check_number(f"{source}: sections.{name}.per_item", section["per_item"], 0.0, 100.0)
        for field, weight in section["fields"].items():
            _check_number(f"{source}: sections.{name}.fields.{field}", weight)
    for key, value in data["partial_credit"].items():
        _check_number(f"{source}: partial_credit.{key}", value, 0.0, 1.0 if key != "extra_item" else 10.0)
    for key, value in data["tolerances"].items():
        _check_number(f"{source}: tolerances.{key}", value)
    for key, value in data["coding"].items():
        _check_number(f"{source}: coding.{key}", value, 0.0, 1.0)
    return Rubric(data["sections"], data["partial_credit"], data["tolerances"], data["coding"])


def parse_rubric(text: str, source: str = "rubric") -> Rubric:
    """The default rubric with the overrides in ``text`` (TOML) applied."""
    try:
        override = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(f"{source}: not valid TOML: {exc}") from exc
    except RecursionError:
        raise RubricError(f"{source}: not valid TOML: nested too deeply") from None
    return rubric_with(override, source)


def rubric_with(override: dict[str, Any], source: str = "rubric") -> Rubric:
    """The default rubric with ``override`` (the same keys, e.g. from a scenario's [rubric] table) applied."""
    data = copy.deepcopy(_default_data())
    try:
        _merge(data, override, "")
    except RubricError as exc:
        raise RubricError(f"{source}: {exc}") from exc
    return _build(data, source)


def load_rubric(path: str | Path) -> Rubric:
    path = Path(path)
    try:
        if not path.is_file():
            raise RubricError(f"{path}: no such file (expected a rubric TOML file)")
        if path.stat().st_size > 1024 * 1024:
            raise RubricError(f"{path}: larger than 1 MB; a rubric file is a few lines")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RubricError(f"{path}: cannot be read: {exc}") from exc
    return parse_rubric(text, str(path))
