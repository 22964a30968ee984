"""Hostile values in every form field: bounded parsing, a message at the field, nothing out of bounds stored."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.ehr import forms
from simulator.ehr import values as v
from simulator.ehr.forms import FieldError, NeedsConfirmation
from simulator.fhir.validation import validate_document

TODAY = dt.date(2026, 11, 24)
ENC = {"resourceType": "Encounter", "id": "e1", "period": {"start": "2025-03-04T09:30:00-07:00"}}
HOSTILE = ["1e1000000", "1e10000000", "1e-5000", "1e308", "-1", "-0.0001", "0", "NaN", "Infinity", "9" * 4001,
           "１２", "٣", "1_000", "0x10", " 12 ", "1.5.2", "+.5", "\u202e12", "12\x00", "", "   "]


def ctx() -> forms.EntryContext:
    return forms.EntryContext(patient_id="p1", birth_date=dt.date(1962, 3, 14), encounters=[ENC], today=TODAY)


# Values a student could type, plus what an attacker sends over the websocket.
typed = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=40),
    st.from_regex(r"[+-]?[0-9]{0,30}(\.[0-9]{0,30})?([eE][+-]?[0-9]{1,9})?", fullmatch=True),
    st.text(alphabet="0123456789/-: .", max_size=14),
)


def _quantities(resource: dict) -> list[Decimal]:
    found = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "value" and isinstance(value, int | float) and not isinstance(value, bool):
                    found.append(Decimal(str(value)))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(resource)
    return found


@pytest.mark.parametrize("spec", forms.LIST_SECTIONS, ids=lambda s: s.key)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_value_in_any_list_field_escapes_as_an_exception_or_is_stored_out_of_bounds(spec, data):
    row = {f.name: data.draw(typed, label=f.name) for f in spec.fields}
    try:
        res = spec.build(row, ctx(), None)
    except FieldError as exc:
        assert exc.field in {f.name for f in spec.fields} and len(str(exc)) < 300
        return
    assert validate_document({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": res}]}) == []
    for q in _quantities(res):
        assert 0 <= q <= forms.MAX_LAB_RESULT


@settings(max_examples=200, deadline=None)
@given(values=st.fixed_dictionaries({f.name: typed for f in forms.DEMOGRAPHIC_FIELDS}))
def test_no_value_in_the_demographics_escapes_as_an_exception(values):
    try:
        patient = forms.build_patient(values, ctx(), None)
        coverage = forms.build_coverage(values, ctx(), None)
    except FieldError as exc:
        assert exc.field in {f.name for f in forms.DEMOGRAPHIC_FIELDS}
        return
    entries = [{"resource": patient}] + ([{"resource": coverage}] if coverage else [])
    assert validate_document({"resourceType": "Bundle", "type": "collection", "entry": entries}) == []
    if "birthDate" in patient:
        assert patient["birthDate"] >= "1900"


@pytest.mark.parametrize("vital", forms.VITALS, ids=lambda vt: vt.key)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=typed, confirmed=st.booleans())
def test_no_vital_sign_escapes_as_an_exception_or_is_stored_impossible(vital, raw, confirmed):
    for unit in vital.units:
        try:
            res = forms.build_vital(vital, raw, unit, ENC, ctx(), None, confirmed=confirmed)
        except (FieldError, NeedsConfirmation) as exc:
            assert exc.field == vital.key
            continue
        if res is None:
            assert not raw.strip()
            continue
        low, high = vital.possible[unit]
        assert all(low <= q <= high for q in _quantities(res))


@pytest.mark.parametrize("raw", ["1e1000000", "1e10000000", "1e-5000", "1e308", "9" * 4001, "１２", "NaN", "0x10"])
def test_exponents_huge_and_non_ascii_numbers_are_refused_with_what_is_expected(raw):
    with pytest.raises(v.EntryError, match="is not a number; type digits") as info:
        v.number("Dose", raw)
    assert len(str(info.value)) < 120  # the message does not repeat a 4,001-digit paste


def test_a_tiny_dose_is_refused_not_stored_as_zero():
    with pytest.raises(FieldError, match="Dose: .*is not a number"):
        forms.MEDICATIONS.build({"drug": "lisinopril", "dose": "1e-5000"}, ctx(), None)
    with pytest.raises(FieldError, match="Dose: must be more than 0"):
        forms.MEDICATIONS.build({"drug": "lisinopril", "dose": "0.0000"}, ctx(), None)
    with pytest.raises(FieldError, match="Dose: 20000 is above 10000"):
        forms.MEDICATIONS.build({"drug": "lisinopril", "dose": "20000"}, ctx(), None)


def test_lab_results_are_never_negative_or_absurdly_long():
    row = {"visit": "e1", "test": "Glucose", "unit": "mg/dL"}
    with pytest.raises(FieldError, match="Result: -5 is below 0"):
        forms.LABS.build(row | {"value": "-5"}, ctx(), None)
    with pytest.raises(FieldError, match="Result: 9{24}… is not a number"):
        forms.LABS.build(row | {"value": "9" * 4001}, ctx(), None)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("birth_date", "01/01/0001", "before 1900"),
    ("birth_date", "1800-06-01", "before 1900"),
    ("state", "ZZ", "ZZ is not a US state"),
    ("zip", "８５０１３", "is not a ZIP code"),
    ("phone", "(６０２) 555-0134", "is not a phone number"),
    ("family", "Smith\u202egnirts", "text-direction character"),
])
def test_absurd_demographics_are_refused_at_the_field(field, value, message):
    with pytest.raises(FieldError, match=message) as info:
        forms.build_patient({field: value}, ctx(), None)
    assert info.value.field == field


def test_an_impossible_vital_sign_is_refused_even_when_confirmed():
    weight = next(vt for vt in forms.VITALS if vt.key == "weight")
    with pytest.raises(FieldError, match="Weight: 1e308 lb is not|not a number"):
        forms.build_vital(weight, "1e308", "[lb_av]", ENC, ctx(), None, confirmed=True)
    with pytest.raises(FieldError, match="Weight: 5000 lb is not possible; expected 0.5 to 1500"):
        forms.build_vital(weight, "5000", "[lb_av]", ENC, ctx(), None, confirmed=True)
    spo2 = next(vt for vt in forms.VITALS if vt.key == "spo2")
    with pytest.raises(FieldError, match="not possible"):
        forms.build_vital(spo2, "101", "%", ENC, ctx(), None, confirmed=True)
    bp = forms.VITALS[0]
    with pytest.raises(FieldError, match="not a blood pressure"):
        forms.build_vital(bp, "１２０/80", "mm[Hg]", ENC, ctx(), None, confirmed=True)


def test_notes_keep_line_breaks_but_refuse_direction_overrides():
    ok = forms.NOTES.build({"visit": "e1", "text": "S: fine\r\nO: BP 120/80\tok"}, ctx(), None)
    assert ok["resourceType"] == "DocumentReference"
    with pytest.raises(FieldError, match="text-direction"):
        forms.NOTES.build({"visit": "e1", "text": "S: \u2066fine"}, ctx(), None)
