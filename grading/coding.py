"""The coding section: each visit's claim against the key's, the way HIM educators and coding audits score.

- The first-listed diagnosis is scored on its own (the right code in first position).
- Other diagnoses and the service lines: correct codes / max(codes entered, codes in the key);
  an extra code costs what a missing one does.
- Codes the key marks optional neither earn nor cost.
- Near misses get feedback and at most a small credit: the right category at the wrong specificity,
  a wrong or missing 7th character, a non-billable header; modifiers, units and diagnosis pointers
  of a service line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grading.report import Finding
from grading.rubric import Rubric

OPTIONAL_CODE_URL = "https://hitsim.org/fhir/StructureDefinition/coding-optional"
CLAIM_ENCOUNTER_URL = "https://hitsim.org/fhir/StructureDefinition/claim-encounter"


def nodot(code: str) -> str:
    return code.replace(".", "").upper()


@dataclass(frozen=True)
class Line:
    code: str
    units: float
    modifiers: frozenset[str]
    pointers: frozenset[str]  # the diagnosis codes the line points to


@dataclass(frozen=True)
class ClaimCodes:
    diagnoses: list[str]  # in sequence
    optional: frozenset[str]
    lines: list[Line]


def _first_code(concept: Any) -> str | None:
    if isinstance(concept, dict):
        for coding in concept.get("coding") or []:
            if isinstance(coding, dict) and isinstance(coding.get("code"), str) and coding["code"].strip():
                return coding["code"].strip().upper()
    return None


def read_claim(claim: dict[str, Any], resolve: Any) -> ClaimCodes:
    """The codes of a Claim, tolerant of missing parts; diagnosisReference is followed to its Condition."""
    diagnoses: list[tuple[int, str, bool]] = []
    for i, dx in enumerate(claim.get("diagnosis") or []):
        if not isinstance(dx, dict):
            continue
        code = _first_code(dx.get("diagnosisCodeableConcept"))
        if code is None and dx.get("diagnosisReference") is not None:
            target = resolve(dx.get("diagnosisReference"))
            code = _first_code(target.get("code")) if target else None
        if code is None:
            continue
        optional = any(isinstance(e, dict) and e.get("url") == OPTIONAL_CODE_URL and e.get("valueBoolean")
                       for e in dx.get("extension") or [])
        raw_seq = dx.get("sequence")
        seq = raw_seq if isinstance(raw_seq, int) else 1000 + i
        diagnoses.append((seq, code, optional))
    diagnoses.sort()
    by_seq = {seq: code for seq, code, _ in diagnoses}
    lines = []
    for item in claim.get("item") or []:
        if not isinstance(item, dict):
            continue
        code = _first_code(item.get("productOrService"))
        if code is None:
            continue
        quantity = (item.get("quantity") or {}).get("value", 1) if isinstance(item.get("quantity"), dict) else 1
        units = float(quantity) if isinstance(quantity, int | float) and not isinstance(quantity, bool) else 1.0
        modifiers = frozenset(c for m in item.get("modifier") or [] if (c := _first_code(m)))
        pointers = frozenset(by_seq[s] for s in item.get("diagnosisSequence") or [] if s in by_seq)
        lines.append(Line(code, units, modifiers, pointers))
    return ClaimCodes([c for _, c, _ in diagnoses], frozenset(nodot(c) for _, c, opt in diagnoses if opt), lines)


def claim_encounter(claim: dict[str, Any]) -> Any:
    for ext in claim.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == CLAIM_ENCOUNTER_URL:
            return ext.get("valueReference")
    for item in claim.get("item") or []:
        if isinstance(item, dict) and item.get("encounter"):
            return (item["encounter"] or [None])[0]
    return None


def near_miss(expected: str, entered: str, rubric: Rubric) -> tuple[float, str] | None:
    """(credit, why) when ``entered`` is close to ``expected`` but not it; None when unrelated."""
    e, g = nodot(expected), nodot(entered)
    if e == g:
        return None
    if e.startswith(g):
        if len(e) == 7 and (g == e[:-1] or g.rstrip("X") == e[:-1].rstrip("X")):
            return 0.0, f"{entered} is missing its 7th character: {expected} expected"
        return 0.0, f"{entered} is a category header, not billable: {expected} expected"
    if len(e) == 7 and len(g) == 7 and e[:-1] == g[:-1]:
        return rubric.coding["wrong_seventh_character"], f"{entered} has the wrong 7th character: {expected} expected"
    if e[:3] == g[:3]:
        return (rubric.coding["right_category_wrong_specificity"],
                f"{entered} is the right category ({e[:3]}) but not the right specificity: {expected} expected")
    return None


def _agrees_with_itself(codes: ClaimCodes) -> bool:
    """A claim graded against itself has nothing to find, unless the key itself is odd: an optional code listed
    first (then the first-listed code expected is another), a code listed twice, or a line's units not a number."""
    normal = [nodot(c) for c in codes.diagnoses]
    return (not normal or normal[0] not in codes.optional) and len(set(normal)) == len(normal) \
        and all(line.units == line.units for line in codes.lines)


class ClaimGrader:
    """Grades one visit's claim; ``value`` is what the visit's coding is worth in points."""

    def __init__(self, rubric: Rubric, value: float, where: str):
        self.rubric, self.value, self.where = rubric, value, where
        self.findings: list[Finding] = []

    def _add(self, path: str, expected: str, entered: str, lost: float, kind: str, message: str) -> None:
        self.findings.append(Finding(self.where, f"Claim[{self.where}].{path}", expected, entered, lost, kind,  # type: ignore[arg-type]
                                     message))

    def grade(self, key: ClaimCodes, sub: ClaimCodes | None) -> None:
        if sub is key and _agrees_with_itself(key):
            return  # the student's claim is the key's (read once): every code is right
        weights = self.rubric.weights("coding")
        required = [c for c in key.diagnoses if nodot(c) not in key.optional]
        key_first = required[0] if required else None
        key_rest = [c for c in required[1:]]
        parts = {"first_listed": key_first is not None, "other_diagnoses": bool(key_rest), "service_lines": bool(key.lines)}
        total = sum(weights[p] for p, present in parts.items() if present)
        if not total:
            return
        share = {p: self.value * weights[p] / total for p, present in parts.items() if present}
        entered = sub.diagnoses if sub else []
        if key_first is not None:
            self._first_listed(key_first, entered, share["first_listed"])
        if key_rest:
            # The student's first-listed code was judged against the key's first-listed (right or a near miss):
            # it is not counted again among the others.
            # A wrong first-listed code is charged once, as first-listed; it is not also an unsupported secondary
            # (unless it is one of the key's secondaries, listed first by mistake: then it counts there).
            judged_first = bool(entered) and key_first is not None and nodot(entered[0]) not in {nodot(c) for c in key_rest}
            rest = [c for i, c in enumerate(entered) if nodot(c) not in key.optional and nodot(c) != nodot(key_first or "")
                    and not (i == 0 and judged_first)]
            self._sets("diagnosis", key_rest, rest, share["other_diagnoses"], self._dx_credit)
        if key.lines:
            # Lines pointing at the wrong first-listed code point where the key's first-listed would be: the
            # error was charged once, as first-listed.
            instead = {nodot(entered[0]): key_first} if entered and key_first and nodot(entered[0]) != nodot(key_first) \
                and nodot(entered[0]) not in {nodot(c) for c in key.diagnoses} else {}
            self._services(key.lines, sub.lines if sub else [], share["service_lines"], instead)

    # -------------------------------------------------------------- first-listed diagnosis
    def _first_listed(self, expected: str, entered: list[str], points: float) -> None:
        if not entered:
            self._add("diagnosis[1]", expected, "", points, "missing", f"{expected} expected first-listed; no diagnosis entered")
            return
        got = entered[0]
        if nodot(got) == nodot(expected):
            return
        near = near_miss(expected, got, self.rubric)
        if near:
            credit, why = near
            self._add("diagnosis[1]", expected, got, points * (1 - credit), "partial" if credit else "wrong",
                      f"First-listed diagnosis: {why}")
        else:
            self._add("diagnosis[1]", expected, got, points, "wrong", f"{expected} expected first-listed; you listed {got} first")

    # -------------------------------------------------------------- correct / max(entered, key)
    def _dx_credit(self, expected: str, got: str) -> tuple[float, str] | None:
        return near_miss(expected, got, self.rubric)

    def _sets(self, what: str, key: list[str], entered: list[str], points: float, near: Any) -> None:
        remaining = list(entered)
        exact = []
        for code in key:
            match = next((g for g in remaining if nodot(g) == nodot(code)), None)
            if match is not None:
                remaining.remove(match)
                exact.append(code)
        missing = [c for c in key if c not in exact]
        pairs = []
        for code in list(missing):
            for got in remaining:
                found = near(code, got)
                if found:
                    pairs.append((code, got, *found))
                    remaining.remove(got)
                    missing.remove(code)
                    break
        denominator = max(len(key), len(entered))
        per = points / denominator
        for code, got, credit, why in pairs:
            self._add(what, code, got, per * (1 - credit), "partial" if credit else "wrong", why)
        loose = len(missing) + len(remaining)
        slots = denominator - len(exact) - len(pairs)  # what is left to lose: missing and extra codes share it
        each = per * slots / loose if loose else 0.0
        for code in missing:
            self._add(what, code, "", each, "missing", f"{code} expected; not coded")
        for got in remaining:
            self._add(what, "", got, each, "extra", f"{got} coded but not supported by the chart")

    # -------------------------------------------------------------- service lines
    def _services(self, key: list[Line], entered: list[Line], points: float, instead: dict[str, str] | None = None) -> None:
        remaining = list(entered)
        matched: list[tuple[Line, Line]] = []
        for line in key:
            got = next((g for g in remaining if g.code == line.code), None)
            if got is not None:
                remaining.remove(got)
                matched.append((line, got))
        missing = [ln for ln in key if all(ln is not m for m, _ in matched)]
        denominator = max(len(key), len(entered))
        per = points / denominator
        c = self.rubric.coding
        for want, got in matched:
            if want.modifiers != got.modifiers:
                need = ", ".join(sorted(want.modifiers)) or "none"
                have = ", ".join(sorted(got.modifiers)) or "none"
                self._add(f"item[{want.code}].modifier", need, have, per * c["modifier_missing_or_wrong"], "partial",
                          f"{want.code}: modifier {need} expected, you entered {have}")
            if want.units != got.units:
                self._add(f"item[{want.code}].quantity", f"{want.units:g}", f"{got.units:g}", per * c["units_wrong"],
                          "partial", f"{want.code}: {want.units:g} unit(s) expected, you entered {got.units:g}")
            pointers = {(instead or {}).get(nodot(g), g) for g in got.pointers}
            if pointers and want.pointers and not any(
                    nodot(w) == nodot(g) or near_miss(w, g, self.rubric) for w in want.pointers for g in pointers):
                need = ", ".join(sorted(want.pointers))
                have = ", ".join(sorted(got.pointers))
                self._add(f"item[{want.code}].diagnosisSequence", need, have, per * c["diagnosis_pointer_wrong"], "partial",
                          f"{want.code}: should point to {need}; it points to {have}")
        loose = len(missing) + len(remaining)
        slots = denominator - len(matched)
        each = per * slots / loose if loose else 0.0
        for line in missing:
            self._add(f"item[{line.code}]", line.code, "", each, "missing", f"{line.code} expected on the claim; not entered")
        for line in remaining:
            self._add(f"item[{line.code}]", "", line.code, each, "extra", f"{line.code} entered but not supported by the chart")
