"""grade(key, submission, rubric) -> GradeReport: pure, deterministic, never mutates its inputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from grading import coding, consistency
from grading import fields as f
from grading import normalize as n
from grading.bundle import Chart, PatientRecord, read_chart
from grading.matching import best_pairs
from grading.report import Finding, GradeReport, Kind, SectionScore
from grading.rubric import SECTION_TITLES, Rubric, default_rubric

GRADER_VERSION = "1"


@dataclass
class Context:
    """One key patient and the student's patient matched to it, plus the encounter pairing."""

    key_chart: Chart
    sub_chart: Chart
    key: PatientRecord | None
    sub: PatientRecord | None
    reverse_map: dict[int, int] = field(default_factory=dict)  # id(student encounter) -> id(key encounter)
    encounter_number: dict[int, int] = field(default_factory=dict)  # id(key encounter) -> 1, 2, …
    coverage: dict[int, dict[str, Any]] = field(default_factory=dict)  # id(patient) -> Coverage


@dataclass(frozen=True)
class Section:
    name: str  # rubric key
    resource_type: str
    select: Callable[[dict[str, Any]], bool]
    fields: tuple[f.Field, ...]
    # What identifies an item: a key item and a student item may be paired only when they share a
    # token (the same drug, the same LOINC code in the same visit…). (resource, context, is_key) -> tokens
    tokens: Callable[[dict[str, Any], Context, bool], frozenset[str]]
    label: Callable[[dict[str, Any], Context], str]  # "lisinopril 10 mg tablet"
    where: Callable[[dict[str, Any], Context], str] = lambda _r, _c: ""  # finding section, default the title


ANY = frozenset({"*"})


def _any(_r: dict[str, Any], _ctx: Context, _is_key: bool) -> frozenset[str]:
    return ANY


def _concept_tokens(concept: Any) -> set[str]:
    texts = {f.concept_text(concept), n.text(f.get(concept, "coding", "display"))} - {None}
    return {f"c:{c}" for c in f.codes(concept)} | {f"t:{t}" for t in texts}


def _code_or_text(concept_key: str) -> Callable[[dict[str, Any], Context, bool], frozenset[str]]:
    return lambda r, _c, _k: frozenset(_concept_tokens(r.get(concept_key)))


def _visit_token(r: dict[str, Any], ctx: Context, is_key: bool, when: str) -> str:
    """The key encounter a resource belongs to (the student's encounter is mapped to the key's), else its date."""
    enc = (ctx.key_chart if is_key else ctx.sub_chart).resolve(f.encounter_of(r))
    if enc is not None:
        return f"e{id(enc) if is_key else ctx.reverse_map.get(id(enc), 'unmatched')}"
    return f"d{n.date(f.get(r, *when.split('.')))}"


def _observation_tokens(r: dict[str, Any], ctx: Context, is_key: bool) -> frozenset[str]:
    visit = _visit_token(r, ctx, is_key, "effectiveDateTime")
    return frozenset(f"{code}@{visit}" for code in f.codes(r.get("code")))


def _category(code: str) -> Callable[[dict[str, Any]], bool]:
    def select(r: dict[str, Any]) -> bool:
        categories = r.get("category")
        first = categories[0] if isinstance(categories, list) and categories else None
        codings = first.get("coding") if isinstance(first, dict) else None
        if not isinstance(codings, list):
            return False
        for c in codings:
            if isinstance(c, dict) and c.get("code") == code:
                return True
        return False
    return select


def _visit(r: dict[str, Any], ctx: Context) -> str:
    enc = ctx.key_chart.resolve(f.encounter_of(r))
    number = ctx.encounter_number.get(id(enc)) if enc is not None else None
    return f", visit {number}" if number else ""


def _coverage_field(name: str) -> Callable[[dict[str, Any], Any], Any]:
    def read(patient: dict[str, Any], ctx: Any) -> Any:
        cov = ctx.coverage.get(id(patient), {}) if ctx else {}
        if name == "payer":
            return n.text(f.get(cov, "payor", "display"))
        return f.ident(cov.get("subscriberId"))
    return read


def _coverage_show(name: str) -> Callable[[dict[str, Any], Any], str]:
    def show(patient: dict[str, Any], ctx: Any) -> str:
        cov = ctx.coverage.get(id(patient), {}) if ctx else {}
        value = f.get(cov, "payor", "display") if name == "payer" else cov.get("subscriberId")
        return "" if value is None else str(value)
    return show


def _raw(getter: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any], Any], str]:
    return lambda r, _c: "" if getter(r) is None else str(getter(r))


DEMOGRAPHICS = Section(
    "demographics", "Patient", lambda _r: True,
    (
        f.Field("family_name", "Last name", "Patient.name.family", lambda r, _c: n.name(f.official_name(r).get("family")),
                _raw(lambda r: f.official_name(r).get("family")), f.name_compare),
        f.Field("given_name", "First name", "Patient.name.given[0]", lambda r, _c: n.name(f.given(r, 0)),
                _raw(lambda r: f.given(r, 0)), f.name_compare),
        f.Field("middle_name", "Middle name or initial", "Patient.name.given[1]", lambda r, _c: n.name(f.given(r, 1)),
                _raw(lambda r: f.given(r, 1)), f.name_compare),
        f.Field("birth_date", "Date of birth", "Patient.birthDate", lambda r, _c: n.date(r.get("birthDate")),
                lambda r, _c: f.show_date(r.get("birthDate")), f.date_compare),
        f.Field("gender", "Sex", "Patient.gender", lambda r, _c: n.sex(r.get("gender")), _raw(lambda r: r.get("gender"))),
        f.Field("mrn", "MRN", "Patient.identifier(MR).value", lambda r, _c: f.ident(f.mrn(r)), _raw(f.mrn)),
        f.Field("address_line", "Street address", "Patient.address.line", lambda r, _c: n.address(f.address_line(r)),
                _raw(f.address_line)),
        f.Field("city", "City", "Patient.address.city", lambda r, _c: n.text(f.address_of(r).get("city")),
                _raw(lambda r: f.address_of(r).get("city"))),
        f.Field("state", "State", "Patient.address.state", lambda r, _c: n.text(f.address_of(r).get("state")),
                _raw(lambda r: f.address_of(r).get("state"))),
        f.Field("postal_code", "ZIP code", "Patient.address.postalCode",
                lambda r, _c: f.zip5(f.address_of(r).get("postalCode")), _raw(lambda r: f.address_of(r).get("postalCode"))),
        f.Field("phone", "Phone", "Patient.telecom(phone).value", lambda r, _c: n.phone(f.phone_of(r)), _raw(f.phone_of)),
        f.Field("payer", "Insurance", "Coverage.payor.display", _coverage_field("payer"), _coverage_show("payer")),
        f.Field("member_id", "Member ID", "Coverage.subscriberId", _coverage_field("member_id"),
                _coverage_show("member_id")),
    ),
    _any,
    lambda r, _c: " ".join(str(x) for x in (f.given(r, 0), f.official_name(r).get("family")) if x) or "patient",
)

ENCOUNTERS = Section(
    "encounters", "Encounter", lambda _r: True,
    (
        f.Field("date", "Visit date", "Encounter.period.start", lambda r, _c: n.date(f.get(r, "period", "start")),
                lambda r, _c: f.show_date(f.get(r, "period", "start")), f.date_compare),
        f.Field("time", "Time in", "Encounter.period.start", lambda r, _c: n.local_time(f.get(r, "period", "start")),
                _raw(lambda r: n.local_time(f.get(r, "period", "start")))),
        f.Field("class", "Encounter class", "Encounter.class", lambda r, _c: n.code(f.get(r, "class", "code")),
                _raw(lambda r: f.get(r, "class", "display") or f.get(r, "class", "code"))),
        f.Field("type", "Encounter type", "Encounter.type", lambda r, _c: f.codes(f.first(r.get("type")))
                or f.concept_text(f.first(r.get("type"))), lambda r, _c: f.concept_show(f.first(r.get("type")))),
        f.Field("reason", "Reason for visit", "Encounter.reasonCode", lambda r, _c: f.concept_text(f.first(r.get("reasonCode"))),
                lambda r, _c: f.concept_show(f.first(r.get("reasonCode")))),
    ),
    _any,
    lambda r, c: f"visit {c.encounter_number.get(id(r), '?')}",
    lambda r, c: f"encounter {c.encounter_number.get(id(r), '?')}",
)

PROBLEMS = Section(
    "problem_list", "Condition", lambda _r: True,
    (
        f.Field("problem", "Problem", "Condition.code", lambda r, _c: True, lambda r, _c: f.concept_show(r.get("code"))),
        f.Field("onset", "Onset date", "Condition.onset", lambda r, _c: n.date(r.get("onsetDateTime")),
                lambda r, _c: f.show_date(r.get("onsetDateTime")), f.date_compare),
        f.Field("clinical_status", "Status", "Condition.clinicalStatus", lambda r, _c: f.codes(r.get("clinicalStatus")) or None,
                lambda r, _c: f.concept_show(r.get("clinicalStatus"))),
        f.Field("category", "Category", "Condition.category", lambda r, _c: f.codes(f.first(r.get("category"))) or None,
                lambda r, _c: f.concept_show(f.first(r.get("category")))),
    ),
    _code_or_text("code"),
    lambda r, _c: f.concept_show(r.get("code")) or "problem",
)

MEDICATIONS = Section(
    "medications", "MedicationRequest", lambda _r: True,
    (
        f.Field("medication", "Medication", "MedicationRequest.medication", lambda r, _c: True,
                lambda r, _c: f.concept_show(r.get("medicationCodeableConcept"))),
        f.Field("strength", "Strength", "MedicationRequest.medicationCodeableConcept.text",
                lambda r, _c: f.strength(r), f.show_strength),
        f.Field("directions", "Directions (sig)", "MedicationRequest.dosageInstruction",
                lambda r, _c: f.directions(r), _raw(lambda r: f.get(r, "dosageInstruction", "text"))),
        f.Field("start_date", "Start date", "MedicationRequest.authoredOn", lambda r, _c: n.date(r.get("authoredOn")),
                lambda r, _c: f.show_date(r.get("authoredOn")), f.date_compare),
        f.Field("status", "Status", "MedicationRequest.status", lambda r, _c: n.text(r.get("status")),
                _raw(lambda r: r.get("status"))),
    ),
    lambda r, _c, _k: frozenset(_concept_tokens(r.get("medicationCodeableConcept"))
                                | ({f"n:{f.med_name(r)}"} if f.med_name(r) else set())),
    lambda r, _c: f.concept_show(r.get("medicationCodeableConcept")) or "medication",
)

ALLERGIES = Section(
    "allergies", "AllergyIntolerance", lambda _r: True,
    (
        f.Field("substance", "Substance", "AllergyIntolerance.code", lambda r, _c: True,
                lambda r, _c: f.concept_show(r.get("code"))),
        f.Field("reaction", "Reaction", "AllergyIntolerance.reaction.manifestation", lambda r, _c: f.reactions(r),
                lambda r, _c: ", ".join(f.concept_show(m) for x in (r.get("reaction") or []) if isinstance(x, dict)
                                        for m in (x.get("manifestation") or [])), f.reactions_compare),
        f.Field("severity", "Severity", "AllergyIntolerance.reaction.severity",
                lambda r, _c: n.text(f.get(r, "reaction", "severity")), _raw(lambda r: f.get(r, "reaction", "severity"))),
    ),
    _code_or_text("code"),
    lambda r, _c: f.concept_show(r.get("code")) or "allergy",
)


def _observation_section(name: str, category: str) -> Section:
    return Section(
        name, "Observation", _category(category),
        (
            f.Field("value", "Value", "Observation.value", f.observation_value, f.show_observation_value, f.value_compare),
            f.Field("unit", "Unit", "Observation.value.unit", f.observation_unit_kind,
                    _raw(lambda r: f.get(r, "valueQuantity", "unit") or f.get(r, "valueQuantity", "code"))),
        ),
        _observation_tokens,
        lambda r, c: f"{f.concept_show(r.get('code'))}{_visit(r, c)}",
    )


PROCEDURES = Section(
    "procedures", "Procedure", lambda _r: True,
    (
        f.Field("procedure", "Procedure", "Procedure.code", lambda r, _c: True, lambda r, _c: f.concept_show(r.get("code"))),
        f.Field("date", "Date performed", "Procedure.performed", lambda r, _c: f.performed_date(r),
                lambda r, _c: f.show_date(r.get("performedDateTime") or f.get(r, "performedPeriod", "start")),
                f.date_compare),
    ),
    _code_or_text("code"),
    lambda r, c: f"{f.concept_show(r.get('code'))}{_visit(r, c)}",
)

NOTES = Section(
    "notes", "DocumentReference", lambda _r: True,
    (
        f.Field("type", "Note type", "DocumentReference.type", lambda r, _c: f.codes(r.get("type")) or f.concept_text(r.get("type")),
                lambda r, _c: f.concept_show(r.get("type"))),
        f.Field("text", "Note text", "DocumentReference.content.attachment", lambda r, _c: f.note_words(r),
                lambda r, _c: f"{len(f.note_words(r) or ())} words", f.note_compare),
    ),
    lambda r, c, k: frozenset({_visit_token(r, c, k, "date")}),
    lambda r, c: f"{f.concept_show(r.get('type')) or 'note'}{_visit(r, c)}",
)

SECTIONS = (DEMOGRAPHICS, ENCOUNTERS, PROBLEMS, MEDICATIONS, ALLERGIES, _observation_section("vitals", "vital-signs"),
            _observation_section("labs", "laboratory"), PROCEDURES, NOTES)


# ------------------------------------------------------------------------------------------ scoring
class _Item:
    """One resource of a section, with its comparable field values worked out only when needed."""

    __slots__ = ("resource", "tokens", "_section", "_ctx", "_values")

    def __init__(self, resource: dict[str, Any], section: Section, ctx: Context, tokens: frozenset[str] = ANY):
        self.resource, self.tokens, self._section, self._ctx = resource, tokens, section, ctx
        self._values: dict[str, Any] | None = None

    @property
    def values(self) -> dict[str, Any]:
        if self._values is None:
            self._values = _values(self._section, self.resource, self._ctx)
        return self._values


def _values(section: Section, res: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return {fd.name: fd.value(res, ctx) for fd in section.fields}


def _credits(section: Section, key: _Item, sub: _Item, rubric: Rubric) -> dict[str, float]:
    out = {}
    for fd in section.fields:
        expected = key.values[fd.name]
        if expected is None or rubric.weights(section.name).get(fd.name, 0) <= 0:
            continue
        got = sub.values[fd.name]
        out[fd.name] = 0.0 if got is None else fd.compare(expected, got, rubric)
    return out


def _similarity(section: Section, key: _Item, sub: _Item, rubric: Rubric) -> float:
    if key.resource == sub.resource:
        return 1.0  # entered exactly as in the key: every field is right
    weights = rubric.weights(section.name)
    credits = _credits(section, key, sub, rubric)
    total = sum(weights[k] for k in credits)
    return sum(weights[k] * c for k, c in credits.items()) / total if total else 1.0


def _items(section: Section, record: PatientRecord | None, ctx: Context, is_key: bool) -> list[_Item]:
    if record is None:
        return []
    resources = [record.patient] if section.name == "demographics" else record.of(section.resource_type)
    return [_Item(r, section, ctx, section.tokens(r, ctx, is_key)) for r in resources if section.select(r)]


def _blocks(keys: list[_Item], subs: list[_Item]) -> list[tuple[list[int], list[int]]]:
    """Groups of key and student items that share identifying tokens; matching runs within each group."""
    if all(len(item.tokens) == 1 for item in keys + subs):  # one token each: the groups are the tokens
        simple: dict[str, tuple[list[int], list[int]]] = {}
        for side, items in ((0, keys), (1, subs)):
            for i, item in enumerate(items):
                simple.setdefault(next(iter(item.tokens)), ([], []))[side].append(i)
        return [g for g in simple.values() if g[0] and g[1]]
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for item in keys + subs:
        tokens = sorted(item.tokens)
        for t in tokens[1:]:
            parent[find(t)] = find(tokens[0])
    groups: dict[str, tuple[list[int], list[int]]] = {}
    for side, items in ((0, keys), (1, subs)):
        for i, item in enumerate(items):
            if item.tokens:
                groups.setdefault(find(min(item.tokens)), ([], []))[side].append(i)
    return [g for g in groups.values() if g[0] and g[1]]


def _signature(item: _Item) -> str:
    return repr(sorted((k, repr(v)) for k, v in item.values.items()))


class _SectionGrader:
    def __init__(self, section: Section, rubric: Rubric, item_value: float):
        self.section, self.rubric, self.value = section, rubric, item_value
        self.findings: list[Finding] = []
        self.extras: list[tuple[_Item, Context]] = []

    def grade(self, keys: list[_Item], subs: list[_Item], ctx: Context) -> list[tuple[int, int]]:
        sec, rubric = self.section, self.rubric
        pairs = []
        for key_ix, sub_ix in _blocks(keys, subs):
            found = best_pairs([keys[i] for i in key_ix], [subs[j] for j in sub_ix],
                               lambda a, b: _similarity(sec, a, b, rubric) if a.tokens & b.tokens else None)
            pairs += [(key_ix[i], sub_ix[j], sim) for i, j, sim in found]
        pairs.sort()
        matched_keys = {i for i, _, _ in pairs}
        matched_subs = {j for _, j, _ in pairs}
        weights = rubric.weights(sec.name)
        for i, j, sim in pairs:
            if sim == 1.0:  # every graded field is right (the similarity is their weighted agreement)
                continue
            key, sub = keys[i], subs[j]
            credits = _credits(sec, key, sub, rubric)
            total = sum(weights[k] for k in credits)
            for fd in sec.fields:
                if fd.name not in credits:
                    continue
                share = self.value * weights[fd.name] / total if total else 0.0
                if credits[fd.name] < 1.0:
                    self._field_finding(fd, key, sub, ctx, share * (1 - credits[fd.name]), credits[fd.name])
        for i, key in enumerate(keys):
            if i not in matched_keys:
                label = sec.label(key.resource, ctx)
                self.findings.append(Finding(self._where(key.resource, ctx), f"{sec.resource_type}[{label}]", label, "",
                                             self.value, "missing", f"{label}: on the chart but not entered"))
        # An item entered twice (or more) counts once as extra.
        seen: set[str] = set()
        for j, sub in enumerate(subs):
            if j in matched_subs:
                continue
            sig = _signature(sub)
            if sig not in seen:
                self.extras.append((sub, ctx))
                seen.add(sig)
        return [(i, j) for i, j, _ in pairs]

    def _where(self, res: dict[str, Any], ctx: Context) -> str:
        return self.section.where(res, ctx) or SECTION_TITLES[self.section.name].lower()

    def _field_finding(self, fd: f.Field, key: _Item, sub: _Item, ctx: Context, lost: float, credit: float) -> None:
        expected = fd.show(key.resource, ctx)
        entered = fd.show(sub.resource, ctx) if sub.values[fd.name] is not None else ""
        label = self.section.label(key.resource, ctx)
        # Demographics and encounters name the item in the section already ("encounter 2").
        prefix = f"{label}: " if self.section.name not in ("demographics", "encounters") else ""
        kind: Kind
        if sub.values[fd.name] is None:
            kind, message = "missing", f"{prefix}{fd.label}: chart says {expected}, nothing entered"
        elif credit > 0:
            kind, message = "partial", (f"{prefix}{fd.label}: chart says {expected}, you entered {entered} "
                                        f"(close: {credit:.0%} credit)")
        else:
            kind, message = "wrong", f"{prefix}{fd.label}: chart says {expected}, you entered {entered}"
        self.findings.append(Finding(self._where(key.resource, ctx), f"{self.section.resource_type}[{label}].{fd.path.split('.', 1)[-1]}"
                                     if self.section.name != "demographics" else fd.path,
                                     expected, entered, lost, kind, message))

    def finish(self, possible: float) -> float:
        """Charge the extras (at most what is left of the section) and return the section's points.

        Points are what is possible less what the findings took, so the findings always add up.
        """
        penalty = self.value * self.rubric.partial_credit["extra_item"]
        room = max(0.0, possible - sum(x.points_lost for x in self.findings))
        for item, ctx in self.extras:
            lost = min(penalty, room)
            room -= lost
            label = self.section.label(item.resource, ctx)
            self.findings.append(Finding(self._where(item.resource, ctx), f"{self.section.resource_type}[{label}]", "",
                                         label, lost, "extra", f"{label}: entered but not on the chart"))
        return room


def _pair_patients(key_chart: Chart, sub_chart: Chart, rubric: Rubric) -> list[tuple[PatientRecord | None, PatientRecord | None]]:
    empty = Context(key_chart, sub_chart, None, None)
    keys = [_Item(p.patient, DEMOGRAPHICS, empty) for p in key_chart.patients]
    subs = [_Item(p.patient, DEMOGRAPHICS, empty) for p in sub_chart.patients]
    pairs = best_pairs(keys, subs, lambda a, b: _similarity(DEMOGRAPHICS, a, b, rubric))
    out: list[tuple[PatientRecord | None, PatientRecord | None]] = [
        (key_chart.patients[i], sub_chart.patients[j]) for i, j, _ in pairs]
    out += [(p, None) for i, p in enumerate(key_chart.patients) if i not in {i for i, _, _ in pairs}]
    out += [(None, p) for j, p in enumerate(sub_chart.patients) if j not in {j for _, j, _ in pairs}]
    return out


def _coverages(chart: Chart) -> dict[int, dict[str, Any]]:
    return {id(rec.patient): rec.of("Coverage")[0] for rec in chart.patients if rec.of("Coverage")}


def _claim_order(claim: dict[str, Any]) -> tuple[str, str]:
    items = claim.get("item") or []
    first = coding._first_code(items[0].get("productOrService")) if items and isinstance(items[0], dict) else None
    return (str(claim.get("created", "")), first or "")


def _grade_coding(contexts: list[Context], rubric: Rubric, claim_value: float) -> list[Finding]:
    """Each key claim against the student's claim for the same visit (found through the encounter pairing).

    A visit with several claims (a pharmacy claim beside the professional one) pairs them in order.
    """
    findings: list[Finding] = []
    for ctx in contexts:
        if ctx.key is None:
            continue
        theirs: dict[int, list[dict[str, Any]]] = {}
        for claim in ctx.sub.of("Claim") if ctx.sub else []:
            enc = ctx.sub_chart.resolve(coding.claim_encounter(claim))
            if enc is not None and id(enc) in ctx.reverse_map:
                theirs.setdefault(ctx.reverse_map[id(enc)], []).append(claim)
        ours: dict[int, list[dict[str, Any]]] = {}
        for claim in ctx.key.of("Claim"):
            enc = ctx.key_chart.resolve(coding.claim_encounter(claim))
            ours.setdefault(id(enc) if enc is not None else 0, []).append(claim)
        for enc_id, claims in sorted(ours.items(), key=lambda kv: ctx.encounter_number.get(kv[0], 0)):
            number = ctx.encounter_number.get(enc_id)
            student = sorted(theirs.get(enc_id, []), key=_claim_order)
            for i, claim in enumerate(sorted(claims, key=_claim_order)):
                grader = coding.ClaimGrader(rubric, claim_value, f"coding, visit {number or '?'}")
                other = student[i] if i < len(student) else None
                grader.grade(coding.read_claim(claim, ctx.key_chart.resolve),
                             coding.read_claim(other, ctx.sub_chart.resolve) if other else None)
                findings += grader.findings
    return findings


def grade(key: Any, submission: Any, rubric: Rubric | None = None) -> GradeReport:
    """Compare a student's record with the answer key, field by field; explain every point lost."""
    rubric = rubric or default_rubric()
    key_chart = read_chart(key, "key")
    sub_chart = read_chart(submission, "submission")
    coverage = _coverages(key_chart) | _coverages(sub_chart)
    contexts = []
    for key_rec, sub_rec in _pair_patients(key_chart, sub_chart, rubric):
        ctx = Context(key_chart, sub_chart, key_rec, sub_rec, coverage=coverage)
        if key_rec is not None:
            encounters = sorted(key_rec.of("Encounter"), key=lambda e: str(f.get(e, "period", "start") or ""))
            ctx.encounter_number = {id(e): i for i, e in enumerate(encounters, start=1)}
        contexts.append(ctx)
    key_items = {(s.name, i): _items(s, c.key, c, True) for s in SECTIONS for i, c in enumerate(contexts)}
    counts = {s.name: sum(len(key_items[s.name, i]) for i in range(len(contexts))) if rubric.points(s.name) else 0
              for s in SECTIONS}
    counts["coding"] = sum(len(c.key.of("Claim")) for c in contexts if c.key) if rubric.points("coding") else 0
    counts["consistency"] = consistency.planted_count(key) if rubric.points("consistency") else 0
    possible_raw = sum(rubric.points(name) for name, count in counts.items() if count)
    scale = 100.0 / possible_raw if possible_raw else 0.0
    section_scores, findings = [], []
    for section in SECTIONS:
        possible = rubric.points(section.name) * scale if counts[section.name] else 0.0
        grader = _SectionGrader(section, rubric, possible / counts[section.name] if counts[section.name] else 0.0)
        for i, ctx in enumerate(contexts):
            keys, subs = key_items[section.name, i], _items(section, ctx.sub, ctx, False)
            pairs = grader.grade(keys, subs, ctx)
            if section is ENCOUNTERS:
                ctx.reverse_map = {id(subs[j].resource): id(keys[i].resource) for i, j in pairs}
        earned = grader.finish(possible)
        if counts[section.name] or grader.findings:
            section_scores.append(SectionScore(section.name, SECTION_TITLES[section.name], possible, earned))
        findings += grader.findings
    if counts["coding"]:
        possible = rubric.points("coding") * scale
        coding_findings = _grade_coding(contexts, rubric, possible / counts["coding"])
        lost = sum(x.points_lost for x in coding_findings)
        section_scores.append(SectionScore("coding", SECTION_TITLES["coding"], possible, max(0.0, possible - lost)))
        findings += coding_findings
    if counts["consistency"]:
        section_score, found = consistency.grade_consistency(key, submission, rubric.points("consistency") * scale)
        section_scores.append(section_score)
        findings += found
    for problem in key_chart.problems:
        raise ValueError(f"answer key: {problem.path}: {problem.message}")
    # What could not be read comes first: it explains the rest.
    findings = [Finding("submission", p.path, "", "", 0.0, "wrong", p.message) for p in sub_chart.problems] + findings
    score = 100.0 - sum(x.points_lost for x in findings) if possible_raw else 0.0
    return GradeReport(min(100.0, max(0.0, score)), section_scores, findings)
