"""grade(key, submission, rubric) -> GradeReport: pure, deterministic, never mutates its inputs."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from grading import coding, consistency
from grading import equivalents as eq
from grading import fields as f
from grading import normalize as n
from grading.bundle import Chart, PatientRecord, read_chart
from grading.matching import best_pairs
from grading.report import Finding, GradeReport, Kind, SectionScore
from grading.rubric import SECTION_TITLES, Rubric, default_rubric

GRADER_VERSION = "2"


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
    zone: dt.tzinfo | None = None  # the clinic's UTC offset (from the key's visits): an instant's local day and time
    who: str = ""  # "Ana Diaz — " in a chart with several patients, so every finding names its patient
    optional: set[int] = field(default_factory=set)  # id(key resource): neither earns nor costs
    key_resources: set[int] = field(default_factory=set)  # id() of the key's conditions (told apart from the student's)


@dataclass(frozen=True)
class Section:
    name: str  # rubric key
    resource_type: str
    category: str | None  # the code an Observation's first category carries (None: every resource of the type)
    fields: tuple[f.Field, ...]
    # What identifies an item: a key item and a student item may be paired only when they share a
    # token (the same drug, the same LOINC code in the same visit…). (resource, context, is_key) -> tokens
    tokens: Callable[[dict[str, Any], Context, bool], frozenset[str]]
    label: Callable[[dict[str, Any], Context], str]  # "lisinopril 10 mg tablet"
    where: Callable[[dict[str, Any], Context], str] = lambda _r, _c: ""  # finding section, default the title
    identity: str | None = None  # the field that says what the item is: its value is the item's tokens
    by_visit: bool = False  # the tokens name the item's visit (the student's visit mapped to the key's)
    pairs_visits: bool = False  # the pairing itself is used later (the encounters: the visit map), never skipped


ANY = frozenset({"*"})


def _any(_r: dict[str, Any], _ctx: Context, _is_key: bool) -> frozenset[str]:
    return ANY


def _concept_tokens(concept: Any) -> set[str]:
    texts = {f.concept_text(concept), n.text(f.get(concept, "coding", "display"))} - {None}
    codes = f.codes(concept)
    out = {f"c:{c}" for c in codes} | {f"t:{t}" for t in texts}
    snomed = eq.equivalents().snomed_to_icd
    for c in codes:  # a SNOMED CT concept with the meaning of an ICD-10-CM code is that code
        out |= {f"c:{icd}" for icd in snomed.get(c, ())}
    return out


def _code_or_text(concept_key: str) -> Callable[[dict[str, Any], Context, bool], frozenset[str]]:
    return lambda r, _c, _k: frozenset(_concept_tokens(r.get(concept_key)))


def _allergy_tokens(r: dict[str, Any], _ctx: Context, _is_key: bool) -> frozenset[str]:
    concept = r.get("code")
    if eq.is_nkda(concept):  # 'No known drug allergies', NKA, 'none known', SNOMED 409137002
        return frozenset({"nkda"})
    out = _concept_tokens(concept)
    for text in (f.get(concept, "text"), f.get(concept, "coding", "display")):
        found = eq.allergen(text)
        if found:
            out.add(f"a:{found}")
    return frozenset(out)


def _identity(tokens: Callable[[dict[str, Any], Context, bool], frozenset[str]]) -> Callable[[dict[str, Any], Any], Any]:
    """The field that says *what* an item is (the drug, the problem): its identifying tokens."""
    return lambda r, ctx: tokens(r, ctx, False)


def _local_date(value: Any, ctx: Context) -> dt.date | None:
    """The calendar day of a date or dateTime at the clinic: the same instant written in another zone is the same day."""
    return _day_at(value, ctx.zone) if isinstance(value, str) else n.date(value)


@functools.lru_cache(maxsize=8192)
def _day_at(value: str, zone: dt.tzinfo | None) -> dt.date | None:
    moment = n.moment(value) if zone is not None and len(value) > 19 else None
    if moment is not None and value[19:]:  # an offset or Z is written: compare instants
        return moment.astimezone(zone).date()
    return n.date(value)


def _local_time(value: Any, ctx: Context) -> str | None:
    return _time_at(value, ctx.zone) if isinstance(value, str) else n.local_time(value)


@functools.lru_cache(maxsize=8192)
def _time_at(value: str, zone: dt.tzinfo | None) -> str | None:
    moment = n.moment(value) if zone is not None and len(value) > 19 else None
    if moment is not None and value[19:]:
        return moment.astimezone(zone).strftime("%H:%M")
    return n.local_time(value)


def _visit_tokens(r: dict[str, Any], ctx: Context, is_key: bool, when: str) -> tuple[str, ...]:
    """The key encounter a resource belongs to (the student's encounter is mapped to the key's), else its day."""
    enc = (ctx.key_chart if is_key else ctx.sub_chart).resolve(f.encounter_of(r))
    if enc is not None:
        return (f"e{id(enc) if is_key else ctx.reverse_map.get(id(enc), 'unmatched')}",)
    return (f"d{_local_date(f.get(r, *when.split('.')), ctx)}",)


def _visit_token(r: dict[str, Any], ctx: Context, is_key: bool, when: str) -> frozenset[str]:
    return frozenset(_visit_tokens(r, ctx, is_key, when))


def _by_day(r: dict[str, Any], ctx: Context) -> frozenset[str]:
    """A key observation's tokens by its day: a student's result whose visit link is broken is paired this way."""
    day = f"d{_local_date(r.get('effectiveDateTime'), ctx)}"
    return frozenset(f"{code}@{day}" for code in _observation_codes(r))


_BP = frozenset({"85354-9"})


def _observation_codes(r: dict[str, Any]) -> frozenset[str]:
    codes = f.codes(r.get("code"))
    if not codes.isdisjoint(_bp_panels()):  # 55284-4, 35094-2 … are the blood pressure 85354-9
        return _BP
    return codes


@functools.cache
def _bp_panels() -> frozenset[str]:
    return eq.equivalents().bp_panels


def _observation_tokens(r: dict[str, Any], ctx: Context, is_key: bool) -> frozenset[str]:
    ref = r.get("encounter")
    enc = (ctx.key_chart if is_key else ctx.sub_chart).resolve(ref if ref is not None else f.encounter_of(r))
    if enc is not None:
        visit = f"e{id(enc) if is_key else ctx.reverse_map.get(id(enc), 'unmatched')}"
    else:
        visit = f"d{_local_date(r.get('effectiveDateTime'), ctx)}"
    codes = _observation_codes(r)
    if len(codes) == 1:
        for code in codes:
            return frozenset((f"{code}@{visit}",))
    return frozenset(f"{code}@{visit}" for code in codes)


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
    "demographics", "Patient", None,
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
        f.Field("payer", "Primary insurance", "Coverage.payor.display", _coverage_field("payer"), _coverage_show("payer")),
        f.Field("member_id", "Member ID", "Coverage.subscriberId", _coverage_field("member_id"),
                _coverage_show("member_id")),
    ),
    _any,
    lambda r, _c: " ".join(str(x) for x in (f.given(r, 0), f.official_name(r).get("family")) if x) or "patient",
)

ENCOUNTERS = Section(
    "encounters", "Encounter", None,
    (
        f.Field("date", "Visit date", "Encounter.period.start", lambda r, c: _local_date(f.get(r, "period", "start"), c),
                lambda r, c: _show_day(_local_date(f.get(r, "period", "start"), c)), f.date_compare),
        f.Field("time", "Time in", "Encounter.period.start", lambda r, c: _local_time(f.get(r, "period", "start"), c),
                lambda r, c: _local_time(f.get(r, "period", "start"), c) or ""),
        f.Field("class", "Encounter class", "Encounter.class", lambda r, _c: n.code(f.get(r, "class", "code")),
                _raw(lambda r: f.get(r, "class", "display") or f.get(r, "class", "code"))),
        f.Field("type", "Encounter type", "Encounter.type", lambda r, _c: f.codes(f.first(r.get("type")))
                or f.concept_text(f.first(r.get("type"))), lambda r, _c: f.concept_show(f.first(r.get("type")))),
        f.Field("reason", "Reason for visit", "Encounter.reasonCode",
                lambda r, _c: eq.reason_words(f.concept_text(f.first(r.get("reasonCode")))) or None,
                lambda r, _c: f.concept_show(f.first(r.get("reasonCode")))),
    ),
    _any,
    lambda r, c: f"visit {c.encounter_number.get(id(r), '?')}",
    lambda r, c: f"encounter {c.encounter_number.get(id(r), '?')}",
    pairs_visits=True,
)


def _show_day(day: dt.date | None) -> str:
    return day.strftime("%m/%d/%Y") if day else ""


def _is_visit_diagnosis(r: dict[str, Any]) -> bool:
    return "ENCOUNTER-DIAGNOSIS" in f.codes(f.first(r.get("category")))


def _onset(r: dict[str, Any], ctx: Any) -> Any:
    """A visit diagnosis's onset is the visit day the chart never states as such: not graded."""
    if ctx is not None and id(r) in ctx.key_resources and _is_visit_diagnosis(r):
        return None
    return n.date(r.get("onsetDateTime"))

PROBLEMS = Section(
    "problem_list", "Condition", None,
    (
        f.Field("problem", "Problem", "Condition.code", _identity(_code_or_text("code")),
                lambda r, _c: f.concept_show(r.get("code")), f.identity_compare),
        f.Field("onset", "Onset date", "Condition.onset", _onset,
                lambda r, _c: f.show_date(r.get("onsetDateTime")), f.date_compare),
        f.Field("clinical_status", "Status", "Condition.clinicalStatus", lambda r, _c: f.codes(r.get("clinicalStatus")) or None,
                lambda r, _c: f.concept_show(r.get("clinicalStatus"))),
        f.Field("category", "Category", "Condition.category", lambda r, _c: f.codes(f.first(r.get("category"))) or None,
                lambda r, _c: f.concept_show(f.first(r.get("category")))),
    ),
    _code_or_text("code"),
    lambda r, _c: f.concept_show(r.get("code")) or "problem",
    identity="problem",
)

MEDICATIONS = Section(
    "medications", "MedicationRequest", None,
    (
        f.Field("medication", "Medication", "MedicationRequest.medication", lambda r, _c: f.medication_identity(r),
                lambda r, _c: f.concept_show(r.get("medicationCodeableConcept")), f.identity_compare),
        f.Field("strength", "Strength", "MedicationRequest.medicationCodeableConcept.text",
                lambda r, _c: f.strength(r), f.show_strength),
        f.Field("directions", "Directions (sig)", "MedicationRequest.dosageInstruction",
                lambda r, _c: f.directions(r), _raw(lambda r: f.get(r, "dosageInstruction", "text")), f.directions_compare),
        f.Field("start_date", "Start date", "MedicationRequest.authoredOn", lambda r, _c: n.date(r.get("authoredOn")),
                lambda r, _c: f.show_date(r.get("authoredOn")), f.date_compare),
        f.Field("status", "Status", "MedicationRequest.status", lambda r, _c: n.text(r.get("status")),
                _raw(lambda r: r.get("status"))),
    ),
    lambda r, _c, _k: f.medication_identity(r),
    lambda r, _c: f.concept_show(r.get("medicationCodeableConcept")) or "medication",
    identity="medication",
)

ALLERGIES = Section(
    "allergies", "AllergyIntolerance", None,
    (
        f.Field("substance", "Substance", "AllergyIntolerance.code", _identity(_allergy_tokens),
                lambda r, _c: f.concept_show(r.get("code")), f.identity_compare),
        f.Field("reaction", "Reaction", "AllergyIntolerance.reaction.manifestation", lambda r, _c: f.reactions(r),
                lambda r, _c: ", ".join(f.concept_show(m) for x in (r.get("reaction") or []) if isinstance(x, dict)
                                        for m in (x.get("manifestation") or [])), f.reactions_compare),
        f.Field("severity", "Severity", "AllergyIntolerance.reaction.severity",
                lambda r, _c: n.text(f.get(r, "reaction", "severity")), _raw(lambda r: f.get(r, "reaction", "severity"))),
    ),
    _allergy_tokens,
    lambda r, _c: f.concept_show(r.get("code")) or "allergy",
    identity="substance",
)


def _observation_section(name: str, category: str) -> Section:
    return Section(
        name, "Observation", category,
        (
            f.Field("value", "Value", "Observation.value", f.observation_value, f.show_observation_value, f.value_compare),
            f.Field("unit", "Unit", "Observation.value.unit", f.observation_unit_kind,
                    _raw(lambda r: f.get(r, "valueQuantity", "unit") or f.get(r, "valueQuantity", "code"))),
        ),
        _observation_tokens,
        lambda r, c: f"{_observation_name(r)}{_visit(r, c)}",
        by_visit=True,
    )


def _observation_name(r: dict[str, Any]) -> str:
    """Vital signs as the chart names them ('Blood pressure', 'BMI'), other results by their name."""
    labels = eq.equivalents().vital_labels
    for code in _observation_codes(r):
        if code in labels:
            return labels[code]
    return f.concept_show(r.get("code"))


PROCEDURES = Section(
    "procedures", "Procedure", None,
    (
        f.Field("procedure", "Procedure", "Procedure.code", _identity(_code_or_text("code")),
                lambda r, _c: f.concept_show(r.get("code")), f.identity_compare),
        f.Field("date", "Date performed", "Procedure.performed", lambda r, _c: f.performed_date(r),
                lambda r, _c: f.show_date(r.get("performedDateTime") or f.get(r, "performedPeriod", "start")),
                f.date_compare),
    ),
    _code_or_text("code"),
    lambda r, c: f"{f.concept_show(r.get('code'))}{_visit(r, c)}",
    identity="procedure",
)

NOTES = Section(
    "notes", "DocumentReference", None,
    (
        f.Field("type", "Note type", "DocumentReference.type", lambda r, _c: f.codes(r.get("type")) or f.concept_text(r.get("type")),
                lambda r, _c: f.concept_show(r.get("type"))),
        f.Field("text", "Note text", "DocumentReference.content.attachment", lambda r, _c: f.note_words(r),
                lambda r, _c: f"{len(f.note_words(r) or ())} words", f.note_compare),
    ),
    lambda r, c, k: _visit_token(r, c, k, "date"),
    lambda r, c: f"{f.concept_show(r.get('type')) or 'note'}{_visit(r, c)}",
    by_visit=True,
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
            self._values = _values(self._section, self.resource, self._ctx, self.tokens)
        return self._values


def _values(section: Section, res: dict[str, Any], ctx: Context, tokens: frozenset[str]) -> dict[str, Any]:
    # The identity field's value is the item's identifying tokens, already worked out for the pairing.
    identity = section.identity
    return {fd.name: tokens if fd.name == identity else fd.value(res, ctx) for fd in section.fields}


def _graded(section: Section, rubric: Rubric) -> tuple[tuple[f.Field, float], ...]:
    """The section's fields the rubric gives weight to, with their weights, in the section's order."""
    weights = rubric.weights(section.name)
    return tuple((fd, weights[fd.name]) for fd in section.fields if weights.get(fd.name, 0) > 0)


def _credits(graded: tuple[tuple[f.Field, float], ...], key: _Item, sub: _Item, rubric: Rubric) -> dict[str, float]:
    """Credit per field the key has (0 to 1), for the fields the rubric weighs."""
    out = {}
    expected_values, got_values = key.values, sub.values
    for fd, _weight in graded:
        expected = expected_values[fd.name]
        if expected is None:
            continue
        got = got_values[fd.name]
        out[fd.name] = 0.0 if got is None else fd.compare(expected, got, rubric)
    return out


def _same_but_ids(a: Any, b: Any) -> bool:
    """Equal but for the ids a record gives its resources: the entry's own id and the ids its references carry.
    No graded field reads either (what a reference points at is graded through the pairing's visit tokens).
    An entry under the key's own id is not one (equality decides there): the fault planter's copies pay nothing."""
    if a.get("id") == b.get("id") or a.keys() != b.keys():
        return False
    for k, v in a.items():
        if k != "id" and v != b[k] and not _equal_but_references(v, b[k]):
            return False
    return True


def _equal_but_references(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        if not isinstance(b, dict) or a.keys() != b.keys():
            return False
        return all(k == "reference" or v == b[k] or _equal_but_references(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_equal_but_references, a, b))
    return False  # unequal values (the caller compared them first)


def _similarity(section: Section, graded: tuple[tuple[f.Field, float], ...], key: _Item, sub: _Item,
                rubric: Rubric) -> float:
    if key.resource is sub.resource or key.resource == sub.resource and (
            section is not DEMOGRAPHICS or  # insurance is in the Coverage
            key._ctx.coverage.get(id(key.resource)) == sub._ctx.coverage.get(id(sub.resource))):
        return 1.0  # entered exactly as in the key: every field is right
    if section is not DEMOGRAPHICS and _same_but_ids(key.resource, sub.resource):
        return 1.0  # the key's entry under the student's own ids
    credits = _credits(graded, key, sub, rubric)
    weights = rubric.weights(section.name)
    total = sum(weights[k] for k in credits)
    return sum(weights[k] * c for k, c in credits.items()) / total if total else 1.0


def _chosen(section: Section, record: PatientRecord | None, is_key: bool) -> list[dict[str, Any]]:
    """The resources a section grades in one patient's record (the student's split blood pressures joined)."""
    if record is None:
        return []
    if section.name == "demographics":
        return [record.patient]
    if section.category is None:
        return record.of(section.resource_type)
    chosen = record.in_category(section.resource_type, section.category)
    if section.name == "vitals" and not is_key:
        chosen = _blood_pressure_panels(chosen)
    return chosen


def _items(section: Section, resources: list[dict[str, Any]], ctx: Context, is_key: bool) -> list[_Item]:
    tokens = section.tokens
    return [_Item(r, section, ctx, tokens(r, ctx, is_key)) for r in resources]


def _same_link(res: dict[str, Any], ctx: Context, seen: dict[str, bool]) -> bool:
    """A resource present in both records is linked to the same visit in each (the student's visit mapped to the
    key's), or to none: its visit tokens are the same on both sides and it is not an unlinked entry."""
    link = f.encounter_of(res)
    if link is None:
        return True  # paired by its date, the same on both sides
    ref = link.get("reference") if isinstance(link, dict) else None
    same = seen.get(ref) if isinstance(ref, str) else None
    if same is None:
        key_enc, sub_enc = ctx.key_chart.resolve(link), ctx.sub_chart.resolve(link)
        same = key_enc is not None and sub_enc is not None and ctx.reverse_map.get(id(sub_enc)) == id(key_enc)
        if isinstance(ref, str):
            seen[ref] = same
    return same


def _linked_alike(key_res: dict[str, Any], sub_res: dict[str, Any], ctx: Context) -> bool:
    """An entry under the student's own ids is linked to the visit the key's item is linked to (the student's visit
    mapped to the key's), or both to none (paired by their date, the same on both sides)."""
    key_link, sub_link = f.encounter_of(key_res), f.encounter_of(sub_res)
    if key_link is None or sub_link is None:
        return key_link is None and sub_link is None
    key_enc, sub_enc = ctx.key_chart.resolve(key_link), ctx.sub_chart.resolve(sub_link)
    return key_enc is not None and sub_enc is not None and ctx.reverse_map.get(id(sub_enc)) == id(key_enc)


def _same_coverage(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    return a == b or a is not None and b is not None and _same_but_ids(a, b)


def _verbatim(section: Section, keys: list[dict[str, Any]], subs: list[dict[str, Any]], ctx: Context) -> bool:
    """The student's items are the chart's own, equal one for one and in order, each linked to the visit the key's
    is linked to. Then each is paired with its copy at full credit and nothing is missing, extra or unlinked:
    the section has nothing to find, and pairing and comparing can be skipped (the grade is the same)."""
    if section.pairs_visits or len(keys) != len(subs):
        return False
    own_ids = keys != subs
    if own_ids and not all(map(_same_but_ids, keys, subs)):
        return False
    if section is DEMOGRAPHICS:  # the insurance fields are read from the patient's Coverage
        return all(_same_coverage(ctx.coverage.get(id(k)), ctx.coverage.get(id(s))) for k, s in zip(keys, subs, strict=True))
    # An item with nothing that identifies it (no code, no name) is never paired, not even with its copy.
    if section.resource_type == "Observation":
        if not all(_observation_codes(r) for r in keys):
            return False
    elif section is not NOTES and not all(section.tokens(r, ctx, True) for r in keys):  # a note always has its visit
        return False
    if not section.by_visit:
        return True  # what identifies these items is in the items themselves
    if own_ids:
        return all(map(functools.partial(_linked_alike, ctx=ctx), keys, subs))
    seen: dict[str, bool] = {}
    return all(_same_link(res, ctx, seen) for res in keys)


def _student_items(section: Section, resources: list[dict[str, Any]], keys: list[_Item], ctx: Context
                   ) -> tuple[list[_Item], set[int]]:
    """The student's items, and the places i where the entry is the key's item i itself (equal, same visit): such an
    entry has the key item's tokens, which are not worked out again."""
    if section.pairs_visits or section is DEMOGRAPHICS:
        return _items(section, resources, ctx, False), set()
    tokens, out, same = section.tokens, [], set()
    seen: dict[str, bool] = {}
    for i, res in enumerate(resources):
        if i < len(keys) and (keys[i].resource == res and (not section.by_visit or _same_link(res, ctx, seen))
                              or _same_but_ids(keys[i].resource, res)
                              and (not section.by_visit or _linked_alike(keys[i].resource, res, ctx))):
            out.append(_Item(res, section, ctx, keys[i].tokens))
            same.add(i)
        else:
            out.append(_Item(res, section, ctx, tokens(res, ctx, False)))
    return out, same


def _blood_pressure_panels(observations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Systolic and diastolic entered as two Observations of one visit and time read as one blood pressure."""
    e = eq.equivalents()
    halves: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for o in observations:
        codes = f.codes(o.get("code"))
        part = "s" if e.bp_systolic in codes else "d" if e.bp_diastolic in codes else None
        if part and isinstance(o.get("valueQuantity"), dict):
            when = (str(f.get(o, "encounter", "reference")), str(o.get("effectiveDateTime")))
            halves.setdefault(when, {})[part] = o
    merged = []
    for pair in halves.values():
        if len(pair) == 2:
            sbp, dbp = pair["s"], pair["d"]
            panel = {k: v for k, v in sbp.items() if k not in ("code", "valueQuantity", "id")}
            panel["code"] = {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]}
            panel["component"] = [{"code": sbp["code"], "valueQuantity": sbp["valueQuantity"]},
                                  {"code": dbp["code"], "valueQuantity": dbp["valueQuantity"]}]
            merged.append((sbp, dbp, panel))
    if not merged:
        return observations
    used = {id(x) for sbp, dbp, _ in merged for x in (sbp, dbp)}
    return [o for o in observations if id(o) not in used] + [panel for _, _, panel in merged]


def _blocks(keys: list[_Item], subs: list[_Item]) -> list[tuple[list[int], list[int]]]:
    """Groups of key and student items that share identifying tokens; matching runs within each group."""
    if all(len(item.tokens) == 1 for item in keys) and all(len(item.tokens) == 1 for item in subs):
        # one token each: the groups are the tokens
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


def _copied_visits(keys: list[_Item], subs: list[_Item], rubric: Rubric) -> bool:
    """The student entered the chart's visits in its order, each as the chart has it (every field equal), and no two
    visits share a day. Then each visit pairs with its own entry at full credit, and any other pairing joins visits
    of different days, whose date (a weighed field) is wrong: its score is lower. The pairing is the order itself,
    with nothing missing, extra or wrong, and the visits need not be scored against each other."""
    if len(keys) != len(subs) or rubric.weights(ENCOUNTERS.name).get("date", 0) <= 0 \
            or rubric.partial_credit["date_month_day_swapped"] >= 1:
        return False
    days = [k.values["date"] for k in keys]
    if None in days or len(set(days)) != len(days):
        return False
    return all(k.resource == s.resource or k.values == s.values for k, s in zip(keys, subs, strict=True))


def _copies_aside(keys: list[_Item], subs: list[_Item], same: set[int]) -> tuple[list[int], list[int]] | None:
    """The key items and entries left once the copies (``same``: entry i is key item i itself) are set aside, when
    no copy shares an identifying token with them. Each copy then pairs with its own item at full credit, whatever
    the others do (pairing runs within groups of items that share tokens), so the others can be paired alone."""
    copy_tokens: set[str] = set()
    for i in same:
        if not keys[i].tokens:
            return None  # an item with nothing that identifies it is never paired, not even with its copy
        copy_tokens |= keys[i].tokens
    rest_keys = [i for i in range(len(keys)) if i not in same]
    rest_subs = [j for j in range(len(subs)) if j not in same]
    if any(not copy_tokens.isdisjoint(keys[i].tokens) for i in rest_keys) or any(
            not copy_tokens.isdisjoint(subs[j].tokens) for j in rest_subs):
        return None
    return rest_keys, rest_subs


SUBSTITUTABLE = ("problem_list", "medications", "allergies", "procedures")


class _SectionGrader:
    def __init__(self, section: Section, rubric: Rubric, item_value: float):
        self.section, self.rubric, self.value = section, rubric, item_value
        self.graded = _graded(section, rubric)
        self.findings: list[Finding] = []
        self.extras: list[tuple[_Item, Context]] = []
        self.source: dict[int, dict[str, Any]] = {}  # id(finding) -> the key resource it is about
        self.unlinked: list[tuple[_Item, Context]] = []  # student items paired by day: their visit link is broken

    def grade(self, keys: list[_Item], subs: list[_Item], ctx: Context, same: set[int] | None = None
              ) -> list[tuple[int, int]]:
        """Pair, compare and note findings; ``same``: places where the entry is the key item itself (see
        _student_items). Returns the pairs (key index, student index)."""
        if self.section is ENCOUNTERS and _copied_visits(keys, subs, self.rubric):
            return [(i, i) for i in range(len(keys))]
        if not same or (rest := _copies_aside(keys, subs, same)) is None:
            return self._pair_and_compare(keys, subs, ctx, same, frozenset())
        # Copies of the key's items pair with their own, and only the other entries are paired and compared.
        rest_keys, rest_subs = rest
        optional_copies = frozenset().union(*(keys[i].tokens for i in same if id(keys[i].resource) in ctx.optional))
        pairs = self._pair_and_compare([keys[i] for i in rest_keys], [subs[j] for j in rest_subs], ctx, None,
                                       optional_copies)
        return sorted([(rest_keys[i], rest_subs[j]) for i, j in pairs] + [(i, i) for i in same])

    def _pair_and_compare(self, keys: list[_Item], subs: list[_Item], ctx: Context, same: set[int] | None,
                          optional_elsewhere: frozenset[str]) -> list[tuple[int, int]]:
        """``optional_elsewhere``: tokens of optional key items set aside (an entry that matches one costs nothing)."""
        sec, rubric, graded = self.section, self.rubric, self.graded
        pairs = []
        for key_ix, sub_ix in _blocks(keys, subs):
            if same and key_ix == sub_ix and same.issuperset(key_ix):
                # Only copies of the key's items: each is paired with its own at full credit (any optimal pairing
                # of this block is all full credit, so nothing else in the grade depends on which one is chosen).
                pairs += [(i, i, 1.0) for i in key_ix]
                continue
            if len(key_ix) == 1 and len(sub_ix) == 1:  # the usual block: one chart item, one entry (best_pairs' 1 x 1)
                a, b = keys[key_ix[0]], subs[sub_ix[0]]
                if not a.tokens.isdisjoint(b.tokens):
                    pairs.append((key_ix[0], sub_ix[0], _similarity(sec, graded, a, b, rubric)))
                continue
            found = best_pairs([keys[i] for i in key_ix], [subs[j] for j in sub_ix],
                               lambda a, b: _pairing_score(sec, graded, a, b, rubric, ctx))
            if sec.name == "problem_list":  # the stored similarity is the fields' agreement, without the tie-break
                found = [(i, j, _similarity(sec, graded, keys[key_ix[i]], subs[sub_ix[j]], rubric)) for i, j, _ in found]
            pairs += [(key_ix[i], sub_ix[j], sim) for i, j, sim in found]
        # Observations a student linked to no visit of theirs carry day tokens ('…@d2025-01-28').
        by_day = [next(iter(x.tokens), "@e").split("@")[-1][:1] == "d" for x in subs] \
            if sec.resource_type == "Observation" else []
        if any(by_day):
            pairs += self._pair_by_day(keys, subs, pairs, ctx)
        substituted: set[tuple[int, int]] = set()
        if sec.name in SUBSTITUTABLE and len(pairs) < len(subs):  # the wrong item in a row: one "chart says A, you entered B"
            paired_keys, paired_subs = {p[0] for p in pairs}, {p[1] for p in pairs}
            left_keys = [i for i in range(len(keys)) if i not in paired_keys and id(keys[i].resource) not in ctx.optional]
            left_subs = [j for j in range(len(subs)) if j not in paired_subs]
            found = best_pairs([keys[i] for i in left_keys], [subs[j] for j in left_subs],
                               lambda a, b: _similarity(sec, graded, a, b, rubric) if _same_place(a, b, ctx) else None)
            for i, j, sim in found:
                pairs.append((left_keys[i], left_subs[j], sim))
                substituted.add((left_keys[i], left_subs[j]))
        pairs.sort()
        matched_keys = {i for i, _, _ in pairs}
        matched_subs = {j for _, j, _ in pairs}
        weights = rubric.weights(sec.name)
        for i, j, sim in pairs:
            key, sub = keys[i], subs[j]
            if id(key.resource) in ctx.optional:
                continue
            if by_day and by_day[j] and f.encounter_of(sub.resource) is not None:
                self.unlinked.append((sub, ctx))
            if sim == 1.0:  # every graded field is right (the similarity is their weighted agreement)
                continue
            credits = _credits(graded, key, sub, rubric)
            total = sum(weights[k] for k in credits)
            if (i, j) in substituted:
                lost = sum(self.value * weights[k] / total * (1 - c) for k, c in credits.items()) if total else self.value
                self._substitution(key, sub, ctx, min(lost, self.value))
                continue
            for fd in sec.fields:
                if fd.name not in credits:
                    continue
                share = self.value * weights[fd.name] / total if total else 0.0
                if credits[fd.name] < 1.0:
                    self._field_finding(fd, key, sub, ctx, share * (1 - credits[fd.name]), credits[fd.name])
        for i, key in enumerate(keys):
            if i not in matched_keys and id(key.resource) not in ctx.optional:
                label = sec.label(key.resource, ctx)
                self._add(Finding(self._where(key.resource, ctx), f"{sec.resource_type}[{label}]", label, "",
                                  self.value, "missing", f"{ctx.who}{label}: on the chart but not entered"), key.resource)
        # An item entered twice (or more) counts once as extra; what matches an optional key item costs nothing.
        optional_tokens = optional_elsewhere.union(*(k.tokens for k in keys if id(k.resource) in ctx.optional))
        seen: set[str] = set()
        for j, sub in enumerate(subs):
            if j in matched_subs or sub.tokens & optional_tokens:
                continue
            sig = _signature(sub)
            if sig not in seen:
                self.extras.append((sub, ctx))
                seen.add(sig)
        return [(i, j) for i, j, _ in pairs]

    def _pair_by_day(self, keys: list[_Item], subs: list[_Item], pairs: list[tuple[int, int, float]], ctx: Context
                     ) -> list[tuple[int, int, float]]:
        paired_keys, paired_subs = {p[0] for p in pairs}, {p[1] for p in pairs}
        left_keys = [i for i in range(len(keys)) if i not in paired_keys]
        left_subs = [j for j in range(len(subs)) if j not in paired_subs]
        days = {i: _by_day(keys[i].resource, ctx) for i in left_keys}
        found = best_pairs(left_keys, left_subs, lambda i, j: _similarity(self.section, self.graded, keys[i], subs[j], self.rubric)
                           if days[i] & subs[j].tokens else None)
        return [(left_keys[i], left_subs[j], sim) for i, j, sim in found]

    def _add(self, finding: Finding, source: dict[str, Any] | None = None) -> None:
        self.findings.append(finding)
        if source is not None:
            self.source[id(finding)] = source

    def _where(self, res: dict[str, Any], ctx: Context) -> str:
        return self.section.where(res, ctx) or SECTION_TITLES[self.section.name].lower()

    def _substitution(self, key: _Item, sub: _Item, ctx: Context, lost: float) -> None:
        label = _with_code(self.section.label(key.resource, ctx), key.resource)
        entered = _with_code(self.section.label(sub.resource, ctx), sub.resource)
        noun = {"problem_list": "Problem", "medications": "Medication", "allergies": "Allergy",
                "procedures": "Procedure"}[self.section.name]
        self._add(Finding(self._where(key.resource, ctx), f"{self.section.resource_type}[{label}]", label, entered, lost,
                          "wrong", f"{ctx.who}{noun}: chart says {label}, you entered {entered}"), key.resource)

    def _field_finding(self, fd: f.Field, key: _Item, sub: _Item, ctx: Context, lost: float, credit: float) -> None:
        expected = fd.show(key.resource, ctx)
        entered = fd.show(sub.resource, ctx) if sub.values[fd.name] is not None else ""
        label = self.section.label(key.resource, ctx)
        # Demographics and encounters name the item in the section already ("encounter 2").
        prefix = ctx.who + (f"{label}: " if self.section.name not in ("demographics", "encounters") else "")
        kind: Kind
        if fd.name == "text" and self.section.name == "notes":
            missing = _missing_facts(key.resource, sub.resource)
            kind, message = ("partial" if credit > 0 else "wrong"), (
                f"{prefix}{fd.label}: key facts missing from your note: {', '.join(missing) or 'wording differs'}"
                + (f" (close: {credit:.0%} credit)" if credit > 0 else ""))
        elif sub.values[fd.name] is None:
            kind, message = "missing", f"{prefix}{fd.label}: chart says {expected}, nothing entered"
        elif credit > 0:
            kind, message = "partial", (f"{prefix}{fd.label}: chart says {expected}, you entered {entered} "
                                        f"(close: {credit:.0%} credit)")
        else:
            kind, message = "wrong", f"{prefix}{fd.label}: chart says {expected}, you entered {entered}"
        self._add(Finding(self._where(key.resource, ctx), f"{self.section.resource_type}[{label}].{fd.path.split('.', 1)[-1]}"
                          if self.section.name != "demographics" else fd.path, expected, entered, lost, kind, message),
                  key.resource)

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
            message = f"{ctx.who}{label}: entered but not on the chart"
            where = self._where(item.resource, ctx)
            if self.section.name == "encounters":
                label, message = _extra_visit(item.resource, ctx)
                where = "encounters"
            self.findings.append(Finding(where, f"{self.section.resource_type}[{label}]", "", label, lost, "extra", message))
        by_target: dict[tuple[int, str], list[_Item]] = {}
        for item, ctx in self.unlinked:
            by_target.setdefault((id(ctx), str(f.get(item.resource, "encounter", "reference"))), []).append(item)
        for (_c, target), items in by_target.items():
            lost = min(self.value * self.rubric.partial_credit["unlinked_item"] * len(items), room)
            room -= lost
            day = show_day(items[0].resource.get("effectiveDateTime"))
            self.findings.append(Finding(SECTION_TITLES[self.section.name].lower(), f"Observation.encounter[{target}]",
                                         "", target, lost, "wrong",
                                         f"{len(items)} {SECTION_TITLES[self.section.name].lower()} of {day} point to a "
                                         f"visit that is not in your record ({target[:22]}…): link them to the visit "
                                         f"of {day} (they were graded by their date)"))
        return room


def _with_code(label: str, res: dict[str, Any]) -> str:
    """'Hypothyroidism, unspecified (E03.9)': a coder reads the code beside the words."""
    concept = res.get("code") if res.get("resourceType") in ("Condition", "Procedure") else None
    code = f.get(concept, "coding", "code") if concept else None
    return f"{label} ({code})" if isinstance(code, str) and code not in label else label


def show_day(value: Any) -> str:
    return f.show_date(value)


_SAME_VISIT = 1e-3  # smaller than any field's share of an item: it only breaks ties


def _pairing_score(sec: Section, graded: tuple[tuple[f.Field, float], ...], a: _Item, b: _Item, rubric: Rubric,
                   ctx: Context) -> float | None:
    """How well a chart item and an entry pair; a visit diagnosis prefers the entry made at its own visit.

    The same code at two visits (cellulitis in May and again in October) is otherwise a tie, and a student who
    left out the May visit would be told the October diagnosis they entered is missing."""
    if not a.tokens & b.tokens:
        return None
    sim = _similarity(sec, graded, a, b, rubric)
    if sec.name == "problem_list" and _is_visit_diagnosis(a.resource) and _same_place(a, b, ctx):
        sim += _SAME_VISIT
    return sim


def _same_place(a: _Item, b: _Item, ctx: Context) -> bool:
    """A substitution pairs a leftover chart item with a leftover entry of the same kind and place: a problem-list
    item with a problem-list item, a visit diagnosis with one of the same visit."""
    ka, kb = _is_visit_diagnosis(a.resource), _is_visit_diagnosis(b.resource)
    if ka != kb:
        return False
    if not ka:
        return True
    enc_a = ctx.key_chart.resolve(f.encounter_of(a.resource))
    enc_b = ctx.sub_chart.resolve(f.encounter_of(b.resource))
    return enc_a is not None and enc_b is not None and ctx.reverse_map.get(id(enc_b)) == id(enc_a)


def _extra_visit(res: dict[str, Any], ctx: Context) -> tuple[str, str]:
    day = _local_date(f.get(res, "period", "start"), ctx)
    shown = _show_day(day) or "no date"
    if ctx.key is not None:
        for enc in ctx.key.of("Encounter"):
            if day is not None and _local_date(f.get(enc, "period", "start"), ctx) == day:
                number = ctx.encounter_number.get(id(enc), "?")
                return (f"visit on {shown}",
                        f"{ctx.who}Visit on {shown}: duplicate of visit {number} ({shown}); a visit is entered once")
    return f"visit on {shown}", f"{ctx.who}Visit on {shown}: entered but not on the chart"


def _missing_facts(key: dict[str, Any], sub: dict[str, Any], most: int = 5) -> list[str]:
    """The chart note's facts ('BP 133/75', 'Steroid injection given today') that the student's note leaves out:
    its phrases with a number or a clinical word of which at least half the words are missing, in the note's order."""
    text = f.note_text(key) or ""
    got = set(f.note_words(sub) or ())
    out: list[str] = []
    for clause in re.split(r"\.(?=\s|$)|[;\n]|, (?=[A-Z])", text):
        ws = n.words(clause)
        salient = [w for w in ws if w not in got and (any(ch.isdigit() for ch in w) or (len(w) >= 5 and w not in _COMMON))]
        if salient and sum(w not in got for w in ws) * 2 >= len(ws) and not (len(ws) == 1 and ws[0].isdigit()):
            phrase = " ".join(clause.split())
            out.append(phrase if len(phrase) <= 48 else phrase[:47] + "…")
    return [f"“{p}”" for p in out[:most]] + ([f"and {len(out) - most} more"] if len(out) > most else [])


_COMMON = frozenset("""about after again before being below could denies every given other their there these those
three under until where which while would today return visit reports patient continue normal states since
without within""".split())

def _pair_patients(key_chart: Chart, sub_chart: Chart, rubric: Rubric) -> list[tuple[PatientRecord | None, PatientRecord | None]]:
    if len(key_chart.patients) == 1 and len(sub_chart.patients) == 1:  # the usual case: nothing to choose
        return [(key_chart.patients[0], sub_chart.patients[0])]
    empty = Context(key_chart, sub_chart, None, None)
    keys = [_Item(p.patient, DEMOGRAPHICS, empty) for p in key_chart.patients]
    subs = [_Item(p.patient, DEMOGRAPHICS, empty) for p in sub_chart.patients]
    graded = _graded(DEMOGRAPHICS, rubric)
    pairs = best_pairs(keys, subs, lambda a, b: _similarity(DEMOGRAPHICS, graded, a, b, rubric))
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


def _grade_coding(contexts: list[Context], rubric: Rubric, claim_value: float,
                  sources: dict[int, dict[str, Any]] | None = None) -> list[Finding]:
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
                grader = coding.ClaimGrader(rubric, claim_value, f"{ctx.who}coding, visit {number or '?'}")
                other = student[i] if i < len(student) else None
                key_codes = coding.read_claim(claim, ctx.key_chart.resolve)
                if other is not None and _reads_alike(claim, other):
                    sub_codes: coding.ClaimCodes | None = key_codes  # the same claim: read once
                else:
                    sub_codes = coding.read_claim(other, ctx.sub_chart.resolve) if other else None
                grader.grade(key_codes, sub_codes)
                findings += grader.findings
                if sources is not None:
                    sources.update({id(x): claim for x in grader.findings})
    return findings


def _reads_alike(key_claim: dict[str, Any], claim: dict[str, Any]) -> bool:
    """The student's claim is the key's (the same or an equal one) with no diagnosis given by reference, which would
    be looked up in each record: its codes read the same."""
    if claim is not key_claim and claim != key_claim:
        return False
    diagnoses = claim.get("diagnosis")
    return not isinstance(diagnoses, list) or not any(
        isinstance(dx, dict) and dx.get("diagnosisReference") is not None for dx in diagnoses)


def _clinic_zone(record: PatientRecord | None) -> dt.tzinfo | None:
    for enc in record.of("Encounter") if record else []:
        moment = n.moment(f.get(enc, "period", "start"))
        if moment is not None:
            return moment.tzinfo
    return None


def _patient_name(record: PatientRecord) -> str:
    p = record.patient
    return " ".join(str(x) for x in (f.given(p, 0), f.official_name(p).get("family")) if isinstance(x, str)) or "patient"


def _superbill_only(record: PatientRecord, chart: Chart) -> set[int]:
    """Visit diagnoses the visit's progress note never names: they come from the superbill's coding lines (a
    long-term-drug Z code, a BMI code), which the coding task grades. Entering them is neither right nor wrong."""
    visit_dx = [c for c in record.of("Condition") if _is_visit_diagnosis(c)]
    if not visit_dx:
        return set()
    notes: dict[int, str] = {}
    for doc in record.of("DocumentReference"):
        enc = chart.resolve(f.encounter_of(doc))
        if enc is not None:
            notes[id(enc)] = " ".join((f.note_text(doc) or "").lower().split())
    out = set()
    for cond in visit_dx:
        enc = chart.resolve(f.encounter_of(cond))
        text = " ".join(f.concept_show(cond.get("code")).lower().split())
        if enc is not None and id(enc) in notes and text and text not in notes[id(enc)]:
            out.add(id(cond))
    return out


def _fold_missing_visits(findings: list[Finding], sources: dict[int, dict[str, Any]], contexts: list[Context]
                         ) -> list[Finding]:
    """A visit left out is one finding: what was recorded at it is folded under it (its points included)."""
    missing_visit: dict[int, Finding] = {}
    for x in findings:
        res = sources.get(id(x))
        if x.kind == "missing" and res is not None and res.get("resourceType") == "Encounter":
            missing_visit[id(res)] = x
    if not missing_visit:
        return findings
    folded: dict[int, list[Finding]] = {k: [] for k in missing_visit}
    keep = []
    charts = [c.key_chart for c in contexts]
    for x in findings:
        res = sources.get(id(x))
        link = (coding.claim_encounter(res) if res.get("resourceType") == "Claim" else f.encounter_of(res)) if res else None
        enc = charts[0].resolve(link) if link is not None and charts else None
        if res is not None and enc is not None and id(enc) in missing_visit and x is not missing_visit.get(id(res)):
            folded[id(enc)].append(x)
        else:
            keep.append(x)
    out = []
    for x in keep:
        res = sources.get(id(x))
        if res is not None and id(res) in folded and x is missing_visit[id(res)]:
            items = folded[id(res)]
            day = f.show_date(f.get(res, "period", "start"))
            counted: dict[str, int] = {}
            for y in items:
                if y.path.startswith("Claim"):
                    continue
                where = y.section.split(" — ")[-1]
                counted[where] = counted.get(where, 0) + 1
            parts = [f"{k} {v}" for k, v in counted.items()] + (["its claim"] if any(y.path.startswith("Claim")
                                                                                     for y in items) else [])
            lost = x.points_lost + sum(y.points_lost for y in items)
            message = x.message.replace(": on the chart but not entered", f" ({day}): on the chart but not entered")
            if parts:
                message += f"; with it, what was recorded at that visit: {', '.join(parts)}"
            x = Finding(x.section, x.path, x.expected, "", lost, "missing", message)
        out.append(x)
    return out


@dataclass(frozen=True)
class ExtraSection:
    """A section graded by its own module (coding here; access audit and consistency plug in the same way).

    ``count(contexts)`` says how many items the key has (0: the section is not in play); ``grade(contexts, rubric,
    item_value, sources)`` returns its findings and may note in ``sources`` (id(finding) -> key resource) what
    each is about, so a missing visit folds them and a verify task sees them. The rubric needs
    ``[sections.<name>]`` and SECTION_TITLES a title.
    """

    name: str
    count: Callable[[list[Context]], int]
    grade: Callable[[list[Context], Rubric, float, dict[int, dict[str, Any]]], list[Finding]]


EXTRA_SECTIONS: list[ExtraSection] = [
    ExtraSection("coding", lambda contexts: sum(len(c.key.of("Claim")) for c in contexts if c.key),
                 lambda contexts, rubric, value, sources: _grade_coding(contexts, rubric, value, sources)),
]


def _section_points(rubric: Rubric, counts: dict[str, int]) -> dict[str, float]:
    """Points of each section in play, out of 100: sections with ``per_item`` points get exactly that per item;
    the others share what is left in proportion to their ``points``."""
    fixed = {name: rubric.per_item(name) * count for name, count in counts.items() if count and rubric.per_item(name)}
    fixed_total = sum(fixed.values())
    if fixed_total > 100:
        fixed = {k: v * 100 / fixed_total for k, v in fixed.items()}
        fixed_total = 100.0
    shared = {name: rubric.points(name) for name, count in counts.items() if count and name not in fixed}
    raw = sum(shared.values())
    rest = 100.0 - fixed_total if raw else 0.0
    if not raw and fixed_total:  # only fixed sections: they are the whole grade
        return {k: v * 100 / fixed_total for k, v in fixed.items()}
    return fixed | {k: v * rest / raw for k, v in shared.items()}


def grade(key: Any, submission: Any, rubric: Rubric | None = None, *,
          planted: list[dict[str, Any]] | None = None) -> GradeReport:
    """Compare a student's record with the answer key, field by field; explain every point lost.

    ``planted``: for a verify task, the errors planted in the pre-entered record (``hitsim generate``'s
    planted-faults.json); the report then opens with how many the student caught.
    """
    rubric = rubric or default_rubric()
    key_chart = read_chart(key, "key")
    sub_chart = read_chart(submission, "submission")
    coverage = _coverages(key_chart) | _coverages(sub_chart)
    several = len(key_chart.patients) > 1
    contexts = []
    for key_rec, sub_rec in _pair_patients(key_chart, sub_chart, rubric):
        ctx = Context(key_chart, sub_chart, key_rec, sub_rec, coverage=coverage, zone=_clinic_zone(key_rec))
        if key_rec is not None:
            encounters = sorted(key_rec.of("Encounter"), key=lambda e: str(f.get(e, "period", "start") or ""))
            ctx.encounter_number = {id(e): i for i, e in enumerate(encounters, start=1)}
            ctx.optional = _superbill_only(key_rec, key_chart)
            ctx.key_resources = {id(c) for c in key_rec.of("Condition")}
            if several:
                ctx.who = f"{_patient_name(key_rec)} — "
        elif several and sub_rec is not None:
            ctx.who = f"{_patient_name(sub_rec)} — "
        contexts.append(ctx)
    key_chosen = {(s.name, i): _chosen(s, c.key, True) for s in SECTIONS for i, c in enumerate(contexts)}
    counts = {s.name: sum(len(key_chosen[s.name, i]) if not c.optional else
                          sum(1 for r in key_chosen[s.name, i] if id(r) not in c.optional) for i, c in enumerate(contexts))
              if rubric.points(s.name) else 0 for s in SECTIONS}
    for extra in EXTRA_SECTIONS:
        counts[extra.name] = extra.count(contexts) if rubric.points(extra.name) else 0
    counts["consistency"] = consistency.planted_count(key) if rubric.points("consistency") else 0
    points = _section_points(rubric, counts)
    section_scores, findings = [], []
    sources: dict[int, dict[str, Any]] = {}
    for section in SECTIONS:
        possible = points.get(section.name, 0.0)
        grader = _SectionGrader(section, rubric, possible / counts[section.name] if counts[section.name] else 0.0)
        for i, ctx in enumerate(contexts):
            key_res, sub_res = key_chosen[section.name, i], _chosen(section, ctx.sub, False)
            if _verbatim(section, key_res, sub_res, ctx):
                continue
            keys = _items(section, key_res, ctx, True)
            subs, same = _student_items(section, sub_res, keys, ctx)
            pairs = grader.grade(keys, subs, ctx, same)
            if section is ENCOUNTERS:
                ctx.reverse_map = {id(subs[j].resource): id(keys[i].resource) for i, j in pairs}
        earned = grader.finish(possible)
        if counts[section.name] or grader.findings:
            section_scores.append(SectionScore(section.name, SECTION_TITLES[section.name], possible, earned))
        findings += grader.findings
        sources.update(grader.source)
    for extra in EXTRA_SECTIONS:
        if counts[extra.name]:
            possible = points[extra.name]
            extra_findings = extra.grade(contexts, rubric, possible / counts[extra.name], sources)
            lost = sum(x.points_lost for x in extra_findings)
            section_scores.append(SectionScore(extra.name, SECTION_TITLES[extra.name], possible, max(0.0, possible - lost)))
            findings += extra_findings
    if counts["consistency"]:
        section_score, found = consistency.grade_consistency(key, submission, points["consistency"])
        section_scores.append(section_score)
        findings += found
    for problem in key_chart.problems:
        raise ValueError(f"answer key: {problem.path}: {problem.message}")
    findings = _fold_missing_visits(findings, sources, contexts)
    # What could not be read comes first: it explains the rest.
    findings = [Finding("submission", p.path, "", "", 0.0, "wrong", p.message) for p in sub_chart.problems] + findings
    score = 100.0 - sum(x.points_lost for x in findings) if points else 0.0
    summary, missed = verification(planted, key_chart, findings, sources) if planted is not None else ("", [])
    return GradeReport(min(100.0, max(0.0, score)), section_scores, findings, summary=summary, missed=missed)


def verification(planted: list[dict[str, Any]], key_chart: Chart, findings: list[Finding],
                 sources: dict[int, dict[str, Any]]) -> tuple[str, list[dict[str, str]]]:
    """Verify task: a planted error is caught when nothing is still wrong at the place it was planted (the same
    element of the same item; for an item left out, the item itself)."""
    on_item: dict[str, list[Finding]] = {}
    for x in findings:
        res = sources.get(id(x))
        if res is not None and isinstance(res.get("id"), str):
            on_item.setdefault(res["id"], []).append(x)
    missed = []
    for fault in planted:
        element = _element(str(fault.get("path", "")))
        still = [x for x in on_item.get(str(fault.get("resource_id")), [])
                 if not element or x.kind == "missing" and not _element(x.path)
                 or _element(x.path) and (element in _element(x.path) or _element(x.path) in element)]
        if still:
            best = still[0]
            missed.append({"description": str(fault.get("description", "")),
                           "chart_says": best.expected or str(fault.get("expected", "")),
                           "record_has": best.entered or str(fault.get("planted", "")) or "(nothing)"})
    caught = len(planted) - len(missed)
    summary = f"You caught {caught} of {len(planted)} planted errors."
    if missed:
        summary += " Missed: " + "; ".join(f"{m['description']} — chart says {m['chart_says'] or '(nothing)'}, "
                                            f"the record still has {m['record_has']}" for m in missed) + "."
    return summary, missed


def _element(path: str) -> str:
    """'Encounter[visit 2].period.start' -> 'period.start'; 'Patient.name.given[0]' -> 'name.given';
    'Patient.telecom(phone).value' -> 'telecom.value' (a planted fault names the element without the qualifier)."""
    plain = re.sub(r"\[[^\]]*\]|\([^)]*\)", "", path)
    return plain.split(".", 1)[1] if "." in plain else ""
