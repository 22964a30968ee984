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
        model = cls.model_validate(resource)
    except pydantic.ValidationError as exc:
        return [
            Problem(label, _loc_to_path(rtype, tuple(err["loc"])), "structure", err["msg"])
            for err in exc.errors(include_url=False)
        ]
    return [Problem(label, path, "binding", f"{value!r} is not one of the codes FHIR R4 requires here: "
                                            f"{', '.join(sorted(allowed))}")
            for path, value, allowed in _unbound_codes(model, rtype)]


# Required bindings whose code list the models abbreviate with "+" (the R4 value sets in full):
# http://hl7.org/fhir/R4/valueset-observation-status.html, http://hl7.org/fhir/R4/valueset-encounter-status.html
_FULL_CODE_LISTS = {
    "Observation.status": frozenset({"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                                     "entered-in-error", "unknown"}),
    "Encounter.status": frozenset({"planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled",
                                   "entered-in-error", "unknown"}),
}


def _unbound_codes(model: pydantic.BaseModel, path: str) -> Iterator[tuple[str, str, frozenset[str]]]:
    """Codes outside their element's required value set (Patient.gender "yes", Observation.status "bogus").

    The R4B models carry each required binding's codes (``enum_values``) but do not enforce them."""
    for name, field in type(model).model_fields.items():
        value = getattr(model, name, None)
        if value is None:
            continue
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        codes = extra.get("enum_values")
        element = f"{path}.{name}"
        allowed: frozenset[str] | None = None
        if isinstance(codes, list) and codes:
            allowed = _FULL_CODE_LISTS.get(element, frozenset()) if "+" in codes else frozenset(map(str, codes))
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            where = f"{element}[{i}]" if isinstance(value, list) else element
            if allowed and isinstance(item, str) and item not in allowed:
                yield where, item, allowed
            elif isinstance(item, pydantic.BaseModel) and not (name == "resource" or name == "contained"):
                yield from _unbound_codes(item, where)


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
            shell = dict(resource)
            if isinstance(resource.get("entry"), list):  # anything else is left for the structure check to name
                shell["entry"] = [{k: v for k, v in e.items() if k != "resource"}
                                  for e in resource["entry"] if isinstance(e, dict)]
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


MAX_JSON_BYTES = 200 * 1024 * 1024  # far above any class's export; a file linked to /dev/zero stops here
MAX_JSON_DEPTH = 100  # FHIR resources nest a few levels deep; 100,000 levels is an attack on the parser


def load_json_file(path: Path) -> Any:
    """Parsed JSON, or NotFhirJson with one line for the user: never a traceback, never unbounded work."""
    try:
        if not path.is_file():
            if path.is_dir():
                raise NotFhirJson(f"{path}: is a directory, expected a FHIR JSON file")
            if path.exists():
                raise NotFhirJson(f"{path}: not a regular file (a device or a pipe), expected a FHIR JSON file")
            raise NotFhirJson(f"{path}: no such file")
        with path.open("rb") as fh:
            data = fh.read(MAX_JSON_BYTES + 1)
    except OSError as exc:
        raise NotFhirJson(f"{path}: cannot be read: {exc.strerror}") from exc
    if len(data) > MAX_JSON_BYTES:
        raise NotFhirJson(f"{path}: larger than {MAX_JSON_BYTES // (1024 * 1024)} MB; expected one FHIR JSON document")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotFhirJson(f"{path}: not a text file (expected UTF-8 FHIR JSON)") from exc
    depth = _nesting_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise NotFhirJson(f"{path}: JSON nested more than {MAX_JSON_DEPTH} levels deep; not a FHIR document")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotFhirJson(f"{path}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from exc
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise NotFhirJson(f"{path}: holds a number thousands of digits long; not a FHIR document") from exc
    except RecursionError as exc:
        raise NotFhirJson(f"{path}: JSON nested too deeply; not a FHIR document") from exc


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


def _nesting_depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings, counted without recursion."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_JSON_STRING.sub("", text)):
        depth += 1 if match.group() in "[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_JSON_DEPTH:
                break
    return deepest


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
