"""Validate FHIR R4 JSON: structure with the R4B models, then the HL7 error-level invariants.

Used by ``hitsim validate``, by the generator's self-check and by every import of FHIR JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import fhirpathpy
import pydantic
from fhirpathpy.models import models as fhirpath_models

from simulator.fhir import model_class

# dom-2..dom-5 only speak about contained resources: each is `contained.….empty()`,
# vacuously true when a resource contains none, so they are skipped then.
CONTAINED_ONLY_RULES = frozenset({"dom-2", "dom-3", "dom-4", "dom-5"})


@dataclass(frozen=True)
class Problem:
    """One reason a FHIR document is not valid, in the words ``hitsim validate`` prints."""

    resource: str  # e.g. "Patient/123" or "Bundle.entry[3]"
    path: str  # element path, e.g. "Patient.birthDate"
    rule: str  # "structure" or the invariant key, e.g. "obs-6"
    message: str

    def line(self, source: str) -> str:
        return f"{source}: {self.resource}: {self.path}: [{self.rule}] {self.message}"


@dataclass(frozen=True)
class _Invariant:
    key: str
    path: str
    human: str
    check: Any  # compiled FHIRPath
    guards: tuple[str, ...]  # elements any of whose absence makes the rule true without evaluating it

    def vacuous_for(self, resource: dict[str, Any]) -> bool:
        return any(not _has_element(resource, g) for g in self.guards)


def _has_element(resource: dict[str, Any], name: str) -> bool:
    """True when ``name`` (or a choice form of it, ``value`` -> ``valueQuantity``) is present."""
    return any(k == name or (k.startswith(name) and k[len(name)].isupper()) for k in resource)


def _top_level(expression: str) -> str:
    """The expression with the contents of every parenthesis removed: `a.where(x or y)` -> `a.where()`."""
    out, depth = [], 0
    for ch in expression:
        if ch == "(":
            depth += 1
            if depth == 1:
                out.append(ch)
        elif ch == ")":
            depth -= 1
            if depth == 0:
                out.append(ch)
        elif depth == 0:
            out.append(ch)
    return "".join(out)


# A disjunct `X.a.where(…).b.empty()`: a path from element X through navigation and filters only,
# tested for emptiness. When X is absent the path is empty, so the disjunct and the rule are true.
_EMPTY_PATH = re.compile(r"^([a-z][A-Za-z]*)(\.(?:[a-z][A-Za-z]*|where\(\)|ofType\(\)))*\.empty\(\)$")


def _guards(path: str, expression: str) -> tuple[str, ...]:
    """Elements whose absence makes a rule vacuously true (so it need not be evaluated)."""
    parts = path.split(".")
    if len(parts) > 1:
        return (parts[1],)  # `Patient.contact.all(...)` is true when there is no contact
    guards = []
    for disjunct in _top_level(expression).split(" or "):
        match = _EMPTY_PATH.match(disjunct.strip())
        if match:
            guards.append(match.group(1))
    return tuple(guards)


@cache
def _invariants() -> dict[str, tuple[_Invariant, ...]]:
    table = json.loads(resources.files("simulator.fhir").joinpath("r4-invariants.json").read_text())
    model = fhirpath_models["r4"]
    compiled: dict[str, tuple[_Invariant, ...]] = {}
    for resource_type, constraints in table["resources"].items():
        items = []
        for c in constraints:
            # R4's dom-3 applies `as(canonical)` to collections, which FHIRPath N1 makes an error;
            # the HL7 validator reads it as a filter, which is `ofType()`.
            body = c["expression"].replace(".as(", ".ofType(")
            # trace() only prints to the console; it has no effect on the result.
            body = re.sub(r"\.trace\([^)]*\)", "", body)
            # Evaluate every instance of the element at once: `Patient.contact.all(<expr>)`.
            expression = f"{c['path']}.all({body})"
            items.append(_Invariant(c["key"], c["path"], c["human"], fhirpathpy.compile(expression, model),
                                    _guards(c["path"], c["expression"])))
        compiled[resource_type] = tuple(items)
    return compiled


def _loc_to_path(resource_type: str, loc: tuple[Any, ...]) -> str:
    path = resource_type
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in ("__root__",):
            path += f".{part}"
    return path


def _label(resource: dict[str, Any], fallback: str) -> str:
    rtype = resource.get("resourceType")
    rid = resource.get("id")
    if isinstance(rtype, str) and isinstance(rid, str):
        return f"{rtype}/{rid}"
    return fallback


def check_structure(resource: dict[str, Any], label: str) -> list[Problem]:
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str):
        return [Problem(label, "resourceType", "structure", "missing resourceType: this is not a FHIR resource")]
    try:
        cls = model_class(rtype)
    except KeyError:
        return [Problem(label, "resourceType", "structure", f"{rtype!r} is not a FHIR R4 resource type")]
    try:
        cls.model_validate(resource)
    except pydantic.ValidationError as exc:
        return [
            Problem(label, _loc_to_path(rtype, tuple(err["loc"])), "structure", err["msg"])
            for err in exc.errors(include_url=False)
        ]
    return []


def check_invariants(resource: dict[str, Any], label: str) -> list[Problem]:
    problems = []
    has_contained = "contained" in resource
    for inv in _invariants().get(resource["resourceType"], ()):
        if (inv.key in CONTAINED_ONLY_RULES and not has_contained) or inv.vacuous_for(resource):
            continue
        try:
            result = inv.check(resource, {"resource": resource})
        except Exception as exc:  # noqa: BLE001 - a FHIRPath engine error is reported, not raised
            problems.append(Problem(label, inv.path, inv.key, f"could not be evaluated: {str(exc)[:200]}"))
            continue
        if result != [True]:
            problems.append(Problem(label, inv.path, inv.key, inv.human))
    return problems


def _resources(document: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """The document itself, and for a Bundle each entry's resource, with a label for messages."""
    yield document, _label(document, str(document.get("resourceType", "document")))
    if document.get("resourceType") != "Bundle" or not isinstance(document.get("entry"), list):
        return
    for i, entry in enumerate(document["entry"]):
        if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
            yield entry["resource"], _label(entry["resource"], f"Bundle.entry[{i}].resource")


def validate_document(document: Any) -> list[Problem]:
    """All problems of a parsed FHIR JSON document (a Bundle or a single resource)."""
    if not isinstance(document, dict):
        kind = type(document).__name__
        return [Problem("document", "(root)", "structure", f"expected a FHIR resource (a JSON object), got a {kind}")]
    problems: list[Problem] = []
    for i, (resource, label) in enumerate(_resources(document)):
        if i == 0 and resource.get("resourceType") == "Bundle":
            # Entries are checked one by one below, with their own labels.
            shell = {**resource, "entry": [{k: v for k, v in e.items() if k != "resource"}
                                           for e in resource.get("entry", []) if isinstance(e, dict)]}
            if not shell["entry"]:
                del shell["entry"]
            problems += check_structure(shell, label)
            continue
        structure = check_structure(resource, label)
        problems += structure
        if not structure:
            problems += check_invariants(resource, label)
    return problems


class NotFhirJson(Exception):
    """A file that cannot be read as JSON; the message is one line for the user."""


def load_json_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise NotFhirJson(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise NotFhirJson(f"{path}: is a directory, expected a FHIR JSON file") from exc
    except UnicodeDecodeError as exc:
        raise NotFhirJson(f"{path}: not a text file (expected UTF-8 FHIR JSON)") from exc
    except OSError as exc:
        raise NotFhirJson(f"{path}: cannot be read: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotFhirJson(f"{path}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from exc


def validate_file(path: Path) -> list[str]:
    """Problem lines for one file, each naming the file, the resource, the element and the rule."""
    try:
        document = load_json_file(path)
    except NotFhirJson as exc:
        return [str(exc)]
    if not isinstance(document, dict):
        kind = {list: "an array", str: "a string", int: "a number", float: "a number"}.get(type(document), "a value")
        return [f"{path}: not FHIR: expected a Bundle or a resource (a JSON object), got {kind}"]
    if "resourceType" not in document:
        return [f"{path}: not FHIR: the JSON object has no resourceType (expected a Bundle or a resource)"]
    return [p.line(str(path)) for p in validate_document(document)]
