"""The scenario library: the shipped scenarios plus each instructor's own copies and uploads.

Instructors browse, preview (paper chart and answer key for a sample seed), copy and edit scenarios
through a form over the TOML, or upload a file. Every scenario is validated exactly like a shipped file.
Only instructors and administrators reach any of this: a preview shows the answer key.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from typing import Any

import tomli_w

from simulator.chart import ChartPage, chart_pages
from simulator.generate import generate_case
from simulator.generate.scenario import DIFFICULTIES, Scenario, ScenarioError, list_scenario_files, parse_scenario
from simulator.services.accounts import SignedInUser
from simulator.services.errors import InvalidInput, PermissionDenied
from simulator.store import Store, repo

SHIPPED, OWN = "shipped", "own"
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,60}$")
MAX_UPLOAD_BYTES = 64 * 1024
# Form keys whose values are whole numbers (a browser number field gives floats).
_INTEGER_KEYS = {"patients.count", "patients.visits", "patients.ages", "patients.months_between_visits",
                 "case_mix.chronic_per_patient", "seed.default", "faults.count"}


@dataclass(frozen=True)
class LibraryEntry:
    key: str  # "shipped:clinic-chronic-care" or "own:12": what pages and forms pass back
    slug: str
    title: str
    description: str
    difficulty: str
    setting: str
    tasks: tuple[str, ...]
    patients: int
    owner: str  # "hitsim" for a shipped scenario, else the instructor's name
    editable: bool


@dataclass(frozen=True)
class Preview:
    entry: LibraryEntry
    seed: int
    pages: tuple[ChartPage, ...]
    key: dict[str, Any]  # the answer-key Bundle: instructors only


def require_instructor(user: SignedInUser) -> None:
    if user.role not in ("instructor", "admin"):
        raise PermissionDenied("This page is for instructors.")


def _entry(scenario: Scenario, key: str, owner: str, editable: bool) -> LibraryEntry:
    return LibraryEntry(key=key, slug=scenario.slug, title=scenario.title, description=scenario.description,
                        difficulty=scenario.difficulty, setting=scenario.setting, tasks=scenario.tasks,
                        patients=scenario.patient_count, owner=owner, editable=editable)


def _shipped() -> dict[str, Scenario]:
    out = {}
    for path in list_scenario_files():
        out[path.stem] = parse_scenario(path.read_text(encoding="utf-8"), str(path), path.stem)
    return out


def list_library(store: Store, *, user: SignedInUser) -> list[LibraryEntry]:
    """Shipped scenarios, easiest first, then the instructor's own (an administrator sees everyone's)."""
    require_instructor(user)
    order = {d: i for i, d in enumerate(DIFFICULTIES)}
    shipped = sorted((_entry(s, f"{SHIPPED}:{slug}", "hitsim", False) for slug, s in _shipped().items()),
                     key=lambda e: (order[e.difficulty], e.title))
    own = []
    with store.session() as s:
        for row in repo.library_scenarios(s, owner_id=None if user.role == "admin" else user.id):
            owner = repo.get_user(s, user_id=row.owner_id)
            scenario = parse_scenario(row.source_toml, f"library scenario {row.slug}", row.slug)
            own.append(_entry(scenario, f"{OWN}:{row.id}", owner.display_name if owner else "?", True))
    return shipped + own


def load_entry(store: Store, *, user: SignedInUser, key: str) -> tuple[LibraryEntry, Scenario]:
    """The library scenario named by ``key``; an unknown key or another instructor's scenario is refused."""
    require_instructor(user)
    kind, _, name = str(key).partition(":")
    if kind == SHIPPED:
        scenario = _shipped().get(name)
        if scenario is None:
            raise InvalidInput("scenario", f"Scenario: {name!r} is not in the library")
        return _entry(scenario, key, "hitsim", False), scenario
    if kind == OWN and name.isdigit():
        with store.session() as s:
            row = repo.get_library_scenario(s, scenario_id=int(name))
            if row is not None and (user.role == "admin" or row.owner_id == user.id):
                scenario = parse_scenario(row.source_toml, f"library scenario {row.slug}", row.slug)
                owner = repo.get_user(s, user_id=row.owner_id)
                return _entry(scenario, key, owner.display_name if owner else "?", True), scenario
    raise InvalidInput("scenario", "Scenario: choose one from the library")


def preview(store: Store, *, user: SignedInUser, key: str, seed: int | None = None) -> Preview:
    """The paper chart and the answer key that ``seed`` gives (the scenario's default seed when None)."""
    entry, scenario = load_entry(store, user=user, key=key)
    if seed is not None and not 0 <= seed < 2**63:
        raise InvalidInput("seed", "Sample seed: a whole number from 0")
    seed = scenario.default_seed if seed is None else seed
    case = generate_case(scenario, seed)
    return Preview(entry=entry, seed=seed, pages=tuple(chart_pages(case.key, case.style)), key=case.key)


# ------------------------------------------------------------------------------------------ the form over the TOML
def form_values(scenario: Scenario) -> dict[str, Any]:
    """Every setting of a scenario as the form shows it: dotted keys, as in the TOML file."""
    values: dict[str, Any] = {
        "title": scenario.title, "description": scenario.description, "difficulty": scenario.difficulty,
        "setting": scenario.setting, "tasks": list(scenario.tasks),
        "patients.count": scenario.patient_count, "patients.visits": list(scenario.visits),
        "patients.ages": list(scenario.ages), "patients.sex": scenario.sex,
        "patients.months_between_visits": list(scenario.months_between_visits),
        "case_mix.chronic": list(scenario.chronic), "case_mix.chronic_per_patient": list(scenario.chronic_per_patient),
        "case_mix.acute": list(scenario.acute), "case_mix.acute_visit_share": scenario.acute_visit_share,
        "case_mix.preventive": list(scenario.preventive), "case_mix.allergy_rate": scenario.allergy_rate,
        "seed.policy": scenario.seed_policy, "seed.default": scenario.default_seed,
        "timeline.start": scenario.start.isoformat(),
        "messiness.date_formats": list(scenario.date_formats), "messiness.units": scenario.units,
        "messiness.abbreviations": scenario.abbreviations,
        "faults.count": scenario.fault_count, "faults.kinds": list(scenario.fault_kinds),
    }
    if scenario.rubric_overrides:
        values["rubric"] = scenario.rubric_overrides
    return values


def _whole(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_whole(v) for v in value]
    return value


def toml_from_form(values: dict[str, Any]) -> str:
    """The scenario TOML the form describes (not yet validated). Empty fields are left out."""
    data: dict[str, Any] = {}
    for dotted, value in values.items():
        if value is None or value == "" or (isinstance(value, list) and any(v is None for v in value)):
            continue
        if dotted in _INTEGER_KEYS:
            value = _whole(value)
        if dotted == "timeline.start" and isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value.strip())
            except ValueError:
                pass  # the validator names the field and what is expected
        table, _, key = dotted.rpartition(".")
        target = data
        for part in filter(None, table.split(".")):
            target = target.setdefault(part, {})
        target[key] = value
    return tomli_w.dumps(data)


def check_scenario(text: str, file: str, slug: str) -> Scenario:
    """Validate like a shipped file; a problem becomes InvalidInput at the key it names (e.g. ``patients.visits``)."""
    try:
        return parse_scenario(text, file, slug)
    except ScenarioError as exc:
        message = str(exc)
        rest = message.removeprefix(f"{file}: ")
        field, sep, _ = rest.partition(": ")
        if not sep or " " in field:
            field = "file"
        if field.startswith("rubric"):
            field = "rubric"
        raise InvalidInput(field, rest) from None


def _check_slug(slug: str) -> str:
    slug = slug.strip().lower()
    if not SLUG.match(slug):
        raise InvalidInput("slug", "Short name: 2-61 lowercase letters, digits and dashes, e.g. my-diabetes-case")
    return slug


def save_from_form(store: Store, *, user: SignedInUser, slug: str, values: dict[str, Any]) -> str:
    """Save the instructor's scenario from the form (replacing their own one of the same short name); returns its key."""
    require_instructor(user)
    slug = _check_slug(slug)
    text = toml_from_form(values)
    scenario = check_scenario(text, "form", slug)
    with store.session() as s:
        row = repo.save_library_scenario(s, owner_id=user.id, slug=slug, title=scenario.title,
                                         difficulty=scenario.difficulty, source_toml=text)
        return f"{OWN}:{row.id}"


def upload(store: Store, *, user: SignedInUser, filename: str, content: bytes) -> str:
    """Add an uploaded scenario file to the instructor's library, validated like the shipped ones; returns its key."""
    require_instructor(user)
    name = re.sub(r"[^a-z0-9-]+", "-", filename.rsplit("/", 1)[-1].removesuffix(".toml").lower()).strip("-")
    if len(content) > MAX_UPLOAD_BYTES:
        raise InvalidInput("file", f"{filename}: larger than {MAX_UPLOAD_BYTES // 1024} KB; a scenario file is a few KB")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("file", f"{filename}: not UTF-8 text (byte {exc.start + 1}); save the file as UTF-8") from None
    slug = _check_slug(name or "uploaded")
    scenario = check_scenario(text, filename, slug)
    with store.session() as s:
        row = repo.save_library_scenario(s, owner_id=user.id, slug=slug, title=scenario.title,
                                         difficulty=scenario.difficulty, source_toml=text)
        return f"{OWN}:{row.id}"


def with_changes(scenario: Scenario, *, tasks: tuple[str, ...] | None = None,
                 rubric: dict[str, Any] | None = None) -> Scenario:
    """The same scenario (same charts and keys) with other tasks or another [rubric] table."""
    data = tomllib.loads(scenario.source)
    if tasks is not None:
        data["tasks"] = list(tasks)
    if rubric is not None:
        if rubric:
            data["rubric"] = rubric
        else:
            data.pop("rubric", None)
    return check_scenario(tomli_w.dumps(data), f"scenario {scenario.slug}", scenario.slug)
