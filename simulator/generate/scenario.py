"""Scenario files: what an instructor writes to describe a case (TOML in ``scenarios/``).

Loading is strict: an unknown key, a wrong type, a condition not in the catalog or an impossible
range is refused with the file, the key and what is expected.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grading import Rubric, RubricError, rubric_with
from simulator.clinical import Catalog, load_catalog
from simulator.coding.rules import CodingPolicy
from simulator.reports.consistency_rules import DISCREPANCY_KINDS, LEGITIMATE_CHANGES

DIFFICULTIES = ("introductory", "intermediate", "advanced")
SETTINGS = ("office", "emergency")
TASKS = ("enter", "verify", "code", "audit", "consistency")
SEED_POLICIES = ("fixed", "per-student")
DATE_FORMATS = ("iso", "us", "us-short", "long")
UNIT_STYLES = ("us", "metric", "mixed")
FAULT_KINDS = (
    "dob-digit", "name-misspelling", "phone-digit", "address-typo", "wrong-sex", "encounter-date",
    "dose-swap", "missing-allergy", "missing-problem", "vital-transposed", "lab-value", "wrong-medication-frequency",
)


class ScenarioError(Exception):
    """A scenario file cannot be used; the message names the file, the key and what is expected."""


@dataclass(frozen=True)
class Scenario:
    slug: str
    title: str
    description: str
    difficulty: str
    setting: str
    tasks: tuple[str, ...]
    patient_count: int
    visits: tuple[int, int]
    ages: tuple[int, int]
    sex: str
    months_between_visits: tuple[int, int]
    chronic: tuple[str, ...]
    chronic_per_patient: tuple[int, int]
    acute: tuple[str, ...]
    acute_visit_share: float
    preventive: tuple[str, ...]
    allergy_rate: float
    seed_policy: str
    default_seed: int
    start: dt.date
    date_formats: tuple[str, ...]
    units: str
    abbreviations: float
    fault_count: int
    fault_kinds: tuple[str, ...]
    source: str  # the TOML text, kept so a stored assignment regenerates the same key
    rubric_overrides: dict[str, Any]  # the scenario's [rubric] table: changes to the default grading rubric
    consistency_count: int = 0  # [consistency]: discrepancies planted for the consistency task
    consistency_kinds: tuple[str, ...] = tuple(DISCREPANCY_KINDS)
    legitimate_changes: tuple[str, ...] = tuple(LEGITIMATE_CHANGES)
    coding_policy: CodingPolicy = CodingPolicy()  # [coding]: choices the coding rules leave open
    superbill_em: str = "hidden"  # [coding]: does the superbill show the provider's E/M level (hidden | shown)
    copy_forward: float = 0.0  # [messiness]: chance a visit's history is copied from the previous note
    audit: Any = None  # the [audit] table, checked (simulator.audit.settings.AuditSettings) when tasks include audit

    def rubric(self) -> Rubric:
        """The grading rubric for this scenario: coding counts only when coding is one of its tasks."""
        overrides = self.rubric_overrides
        coding = overrides.get("sections", {}).get("coding", {})
        if "code" not in self.tasks and "points" not in coding:
            overrides = {**overrides, "sections": {**overrides.get("sections", {}), "coding": {**coding, "points": 0}}}
        return rubric_with(overrides, f"{self.slug}: rubric")


class _Reader:
    """Reads one table of the scenario, recording which keys were used."""

    def __init__(self, file: str, prefix: str, table: Any):
        if not isinstance(table, dict):
            raise ScenarioError(f"{file}: {prefix or '(top level)'}: expected a table")
        self.file, self.prefix, self.table = file, prefix, table
        self.used: set[str] = set()

    def fail(self, key: str, expected: str, value: Any) -> ScenarioError:
        return ScenarioError(f"{self.file}: {self.prefix}{key}: expected {expected}, got {value!r}")

    def get(self, key: str, kind: type | tuple[type, ...], expected: str, default: Any = ...,
            check: Callable[[Any], bool] = lambda _: True) -> Any:
        self.used.add(key)
        if key not in self.table:
            if default is ...:
                raise ScenarioError(f"{self.file}: {self.prefix}{key}: missing; expected {expected}")
            return default
        value = self.table[key]
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            raise self.fail(key, expected, value)
        if not isinstance(value, kind) or not check(value):
            raise self.fail(key, expected, value)
        return value

    def choice(self, key: str, options: tuple[str, ...], default: Any = ...) -> str:
        return self.get(key, str, "one of " + ", ".join(options), default, lambda v: v in options)

    def choices(self, key: str, options: tuple[str, ...], default: Any = ..., allow_empty: bool = False) -> tuple[str, ...]:
        expected = "a list of " + ", ".join(options)
        value = self.get(key, list, expected, default,
                         lambda v: (allow_empty or bool(v)) and all(x in options for x in v))
        return tuple(value)

    def span(self, key: str, low: float, high: float, default: Any = ..., kind: type = int) -> tuple[Any, Any]:
        expected = f"[min, max] with {low} <= min <= max <= {high}"
        value = self.get(key, list, expected, default, lambda v: (
            len(v) == 2 and all(isinstance(x, kind) and not isinstance(x, bool) for x in v) and low <= v[0] <= v[1] <= high))
        return (value[0], value[1])

    def number(self, key: str, low: float, high: float, default: Any = ..., kind: type | tuple = int) -> Any:
        return self.get(key, kind, f"a number from {low} to {high}", default, lambda v: low <= v <= high)

    def finish(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            known = ", ".join(sorted(self.used))
            raise ScenarioError(f"{self.file}: {self.prefix}{unknown[0]}: unknown key; expected one of {known}")


def _conditions(r: _Reader, key: str, catalog: Catalog, kind: str, default: Any = ...) -> tuple[str, ...]:
    value = r.get(key, list, f"a list of {kind} condition keys from the clinical catalog", default,
                  lambda v: all(isinstance(x, str) for x in v))
    for name in value:
        cond = catalog.conditions.get(name)
        if cond is None:
            raise ScenarioError(f"{r.file}: {r.prefix}{key}: {name!r} is not a condition in the clinical catalog "
                                f"(see `hitsim conditions`)")
        if cond.kind != kind:
            raise ScenarioError(f"{r.file}: {r.prefix}{key}: {name!r} is a {cond.kind} condition, expected {kind}")
    return tuple(value)


def parse_scenario(text: str, file: str, slug: str, catalog: Catalog | None = None) -> Scenario:
    catalog = catalog or load_catalog()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{file}: not valid TOML: {exc}") from exc
    except RecursionError:
        raise ScenarioError(f"{file}: not valid TOML: nested too deeply") from None
    top = _Reader(file, "", data)
    title = top.get("title", str, "a non-empty title", check=lambda v: bool(v.strip()))
    description = top.get("description", str, "a description", "")
    difficulty = top.choice("difficulty", DIFFICULTIES)
    setting = top.choice("setting", SETTINGS, "office")
    tasks = top.choices("tasks", TASKS)
    p = _Reader(file, "patients.", top.get("patients", dict, "a [patients] table"))
    patient_count = p.number("count", 1, 50, 1)
    visits = p.span("visits", 1, 12, [3, 3])
    ages = p.span("ages", 0, 100, [18, 85])
    sex = p.choice("sex", ("any", "female", "male"), "any")
    months = p.span("months_between_visits", 0, 24, [1, 6])
    p.finish()
    m = _Reader(file, "case_mix.", top.get("case_mix", dict, "a [case_mix] table"))
    chronic = _conditions(m, "chronic", catalog, "chronic", [])
    chronic_per_patient = m.span("chronic_per_patient", 0, 6, [1, 2])
    acute = _conditions(m, "acute", catalog, "acute", [])
    acute_share = m.number("acute_visit_share", 0, 1, 0.4, (int, float))
    preventive = _conditions(m, "preventive", catalog, "preventive", [])
    allergy_rate = m.number("allergy_rate", 0, 1, 0.4, (int, float))
    m.finish()
    if not (chronic or acute or preventive):
        raise ScenarioError(f"{file}: case_mix: expected at least one condition in chronic, acute or preventive")
    if chronic_per_patient[0] > len(chronic):
        raise ScenarioError(f"{file}: case_mix.chronic_per_patient: minimum {chronic_per_patient[0]} is more than "
                            f"the {len(chronic)} chronic conditions listed")
    if setting == "emergency" and not acute:
        raise ScenarioError(f"{file}: case_mix.acute: an emergency scenario needs acute conditions")
    for key in acute:
        if setting not in catalog.conditions[key].settings:
            raise ScenarioError(f"{file}: case_mix.acute: {key!r} is not seen in the {setting} setting "
                                f"(it is seen in: {', '.join(catalog.conditions[key].settings)})")
    _check_ages(file, catalog, ages, sex, chronic + acute + preventive)
    s = _Reader(file, "seed.", top.get("seed", dict, "a [seed] table", {}))
    seed_policy = s.choice("policy", SEED_POLICIES, "per-student")
    default_seed = s.number("default", 0, 2**63 - 1, 1)
    s.finish()
    t = _Reader(file, "timeline.", top.get("timeline", dict, "a [timeline] table", {}))
    start = t.get("start", dt.date, "a date like 2025-01-06", dt.date(2025, 1, 6),
                  lambda v: not isinstance(v, dt.datetime) and 1990 <= v.year <= 2100)
    t.finish()
    x = _Reader(file, "messiness.", top.get("messiness", dict, "a [messiness] table", {}))
    date_formats = x.choices("date_formats", DATE_FORMATS, ["us"])
    units = x.choice("units", UNIT_STYLES, "us")
    abbreviations = x.number("abbreviations", 0, 1, 0.5, (int, float))
    copy_forward = x.number("copy_forward", 0, 1, 0.0, (int, float))
    x.finish()
    k = _Reader(file, "coding.", top.get("coding", dict, "a [coding] table", {}))
    external_causes = k.choice("external_causes", ("optional", "required"), "optional")
    superbill_em = k.choice("superbill_em", ("hidden", "shown"), "hidden")
    em_basis = k.choice("em_basis", ("mdm", "time", "higher"), "mdm")
    g2211 = k.choice("g2211", ("never", "medicare", "all"), "never")
    time_documented = k.number("time_documented", 0, 1, 0.0, (int, float))
    distinct_modifier = k.choice("distinct_modifier", ("59", "XS"), "59")
    k.finish()
    f = _Reader(file, "faults.", top.get("faults", dict, "a [faults] table", {}))
    fault_count = f.number("count", 0, 30, 0)
    fault_kinds = f.choices("kinds", FAULT_KINDS, list(FAULT_KINDS))
    f.finish()
    c = _Reader(file, "consistency.", top.get("consistency", dict, "a [consistency] table", {}))
    consistency_count = c.number("count", 0, 200, 0)
    consistency_kinds = c.choices("kinds", tuple(DISCREPANCY_KINDS), list(DISCREPANCY_KINDS))
    legitimate = c.choices("legitimate", tuple(LEGITIMATE_CHANGES), list(LEGITIMATE_CHANGES), allow_empty=True)
    c.finish()
    _check_consistency_room(file, tasks, patient_count, visits, consistency_count)
    rubric_overrides = top.get("rubric", dict, "a [rubric] table (see grading/rubric.toml)", {})
    try:
        rubric_with(rubric_overrides, f"{file}: rubric")
    except RubricError as exc:
        raise ScenarioError(str(exc).replace(f"{file}: rubric: ", f"{file}: rubric.")) from exc
    audit = None
    if "audit" in tasks or "audit" in data:
        from simulator.audit.settings import AuditSettingsError, parse_audit_settings

        try:
            audit = parse_audit_settings(top.get("audit", dict, "an [audit] table", {}), file)
        except AuditSettingsError as exc:
            raise ScenarioError(str(exc)) from exc
    top.finish()
    return Scenario(
        slug=slug, title=title.strip(), description=description.strip(), difficulty=difficulty, setting=setting,
        tasks=tasks, patient_count=patient_count, visits=visits, ages=ages, sex=sex, months_between_visits=months,
        chronic=chronic, chronic_per_patient=chronic_per_patient, acute=acute, acute_visit_share=float(acute_share),
        preventive=preventive, allergy_rate=float(allergy_rate), seed_policy=seed_policy,
        default_seed=default_seed, start=start, date_formats=date_formats, units=units,
        abbreviations=float(abbreviations), fault_count=fault_count, fault_kinds=fault_kinds, source=text,
        rubric_overrides=rubric_overrides, consistency_count=consistency_count, consistency_kinds=consistency_kinds,
        legitimate_changes=legitimate, coding_policy=CodingPolicy(
            external_causes=external_causes, em_basis=em_basis, g2211=g2211,  # type: ignore[arg-type]
            time_documented=float(time_documented), distinct_modifier=distinct_modifier),  # type: ignore[arg-type]
        superbill_em=superbill_em, copy_forward=float(copy_forward),
        audit=audit,
    )


def _check_consistency_room(file: str, tasks: tuple[str, ...], patients: int, visits: tuple[int, int],
                            count: int) -> None:
    """Each planted discrepancy needs its own visit-to-visit change: a patient with n visits holds n - 1."""
    room = patients * (visits[0] - 1)
    if "consistency" in tasks and count == 0:
        raise ScenarioError(f"{file}: consistency.count: the consistency task needs at least 1 planted discrepancy, "
                            f"got 0")
    if count > room:
        raise ScenarioError(f"{file}: consistency.count: {count} planted discrepancies need {count} visit-to-visit "
                            f"changes, but {patients} patient(s) with at least {visits[0]} visits hold only {room} "
                            f"(raise patients.count or the minimum of patients.visits, or plant fewer)")


def _check_ages(file: str, catalog: Catalog, ages: tuple[int, int], sex: str, keys: tuple[str, ...]) -> None:
    """Each listed condition must be possible for some patient the scenario can produce."""
    for key in keys:
        c = catalog.conditions[key]
        if c.ages[1] < ages[0] or c.ages[0] > ages[1]:
            raise ScenarioError(f"{file}: patients.ages: {ages[0]}-{ages[1]} never meets {key!r}, "
                                f"which occurs at ages {c.ages[0]}-{c.ages[1]}")
        if sex != "any" and c.sex not in ("any", sex):
            raise ScenarioError(f"{file}: patients.sex: {sex} patients cannot have {key!r} ({c.sex} only)")


def scenarios_dir() -> Path:
    """The scenario library shipped with hitsim (``scenarios/`` at the project root)."""
    return Path(__file__).resolve().parents[2] / "scenarios"


MAX_SCENARIO_BYTES = 1024 * 1024


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A scenario by file path, or by name from the shipped library (``clinic-chronic-care``)."""
    path = Path(name_or_path)
    if not path.suffix:
        candidate = scenarios_dir() / f"{path.name}.toml"
        if candidate.exists() or not path.exists():
            path = candidate
    if not path.is_file():
        known = ", ".join(p.stem for p in list_scenario_files())
        raise ScenarioError(f"{name_or_path}: no such scenario file; shipped scenarios: {known}")
    try:
        if path.stat().st_size > MAX_SCENARIO_BYTES:
            raise ScenarioError(f"{path}: larger than {MAX_SCENARIO_BYTES // 1024} KB; a scenario file is a few KB")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot be read: {exc}") from exc
    return parse_scenario(text, str(path), path.stem)


def list_scenario_files() -> list[Path]:
    return sorted(scenarios_dir().glob("*.toml"))
