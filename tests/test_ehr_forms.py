"""The EHR forms: what a student types becomes valid FHIR, and bad input gets a message naming the field."""

from __future__ import annotations

import datetime as dt

import pytest

from simulator.ehr import forms
from simulator.ehr.forms import FieldError, NeedsConfirmation
from simulator.fhir.validation import validate_document

TODAY = dt.date(2026, 11, 24)
ENC = {"resourceType": "Encounter", "id": "e1", "period": {"start": "2025-03-04T09:30:00-07:00"}}


def ctx() -> forms.EntryContext:
    return forms.EntryContext(patient_id="p1", birth_date=dt.date(1962, 3, 14), encounters=[ENC], today=TODAY)


@pytest.mark.parametrize("spec, values", [
    (forms.ENCOUNTERS, {"date": "03/04/2025", "time": "9:30", "class": "AMB", "type": "390906007", "reason": "f/u HTN"}),
    (forms.PROBLEMS, {"problem": "Essential hypertension", "onset": "2019-05-01", "status": "active",
                      "category": "problem-list-item"}),
    (forms.MEDICATIONS, {"drug": "lisinopril", "strength": "10 mg", "dose": "1", "unit": "tablet", "route": "oral",
                         "frequency": "QD", "start": "03/04/2025", "status": "active"}),
    (forms.ALLERGIES, {"substance": "penicillin", "reaction": "hives", "severity": "moderate"}),
    (forms.ALLERGIES, {"substance": "NKDA"}),
    (forms.LABS, {"visit": "e1", "test": "Hemoglobin A1c", "value": "7.4", "unit": "%"}),
    (forms.LABS, {"visit": "e1", "test": "Streptococcus pyogenes antigen, throat, rapid", "value": "positive"}),
    (forms.PROCEDURES, {"procedure": "12-lead electrocardiogram", "date": "03/04/2025", "visit": "e1"}),
    (forms.NOTES, {"visit": "e1", "type": "11506-3", "text": "CC: f/u\nS: doing well <script>alert(1)</script>"}),
])
def test_each_section_builds_valid_fhir_and_reads_back_what_was_typed(spec, values):
    res = spec.build(values, ctx(), None)
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": res}]}
    assert validate_document(bundle) == []
    again = spec.read(res)
    for key, typed in values.items():
        expected = {"time": "09:30", "onset": "05/01/2019", "value": "Positive" if typed == "positive" else typed}.get(key, typed)
        assert again[key] == expected, key


def test_medication_directions_are_structured_like_the_key():
    res = forms.MEDICATIONS.build({"drug": "metformin", "strength": "500 mg", "dose": "1", "unit": "tablet",
                                   "route": "oral", "frequency": "BID"}, ctx(), None)
    dosage = res["dosageInstruction"][0]
    assert dosage["text"] == "1 tablet PO BID"
    assert dosage["timing"]["repeat"] == {"frequency": 2, "period": 1, "periodUnit": "d"}
    assert res["medicationCodeableConcept"]["coding"][0]["code"] == "6809"


def test_patient_and_coverage_round_trip():
    values = {"family": "Young", "given": "Mary", "middle": "E", "birth_date": "10/20/1942", "sex": "female",
              "mrn": "8108799", "street": "5839 Singh Walk", "city": "New Stephanieport", "state": "AZ", "zip": "85420",
              "phone": "(520) 638-4151", "payer": "Medicare", "member_id": "9R37XV8XN11"}
    patient = forms.build_patient(values, ctx(), None)
    coverage = forms.build_coverage(values, ctx(), None)
    back = forms.read_patient(patient, coverage)
    assert {k: back[k] for k in values} == values


@pytest.mark.parametrize(("field", "typed", "message"), [
    ("birth_date", "02/30/1980", "Date of birth: 02/30/1980 is not a date"),
    ("birth_date", "13/01/1980", "Date of birth: 13/01/1980 is not a date"),
    ("birth_date", "yesterday", "Date of birth: yesterday is not a date; type it as MM/DD/YYYY"),
    ("birth_date", "01/01/2030", "Date of birth: 01/01/2030 is in the future"),
    ("zip", "8501", "ZIP code: 8501 is not a ZIP code"),
    ("phone", "555-12", "Phone: 555-12 is not a phone number"),
    ("state", "Arizona", "State: Arizona is not a US state"),
    ("family", "x" * 101, "Last name: at most 100 characters"),
])
def test_bad_demographics_name_the_field_and_what_is_expected(field, typed, message):
    with pytest.raises(FieldError, match=message) as info:
        forms.build_patient({field: typed}, ctx(), None)
    assert info.value.field == field


def test_a_visit_before_birth_is_refused():
    with pytest.raises(FieldError, match="Visit date: 01/01/1950 is before the date of birth") as info:
        forms.ENCOUNTERS.build({"date": "01/01/1950"}, ctx(), None)
    assert info.value.field == "date"


def test_required_fields_and_pick_lists_explain_themselves():
    with pytest.raises(FieldError, match="Problem: required"):
        forms.PROBLEMS.build({"problem": " "}, ctx(), None)
    with pytest.raises(FieldError, match="Frequency: pick one from the list"):
        forms.MEDICATIONS.build({"drug": "x", "frequency": "sometimes"}, ctx(), None)
    with pytest.raises(FieldError, match="Visit: required"):
        forms.NOTES.build({"text": "hello"}, ctx(), None)
    with pytest.raises(FieldError, match="Strength: 10 is not a strength"):
        forms.MEDICATIONS.build({"drug": "lisinopril", "strength": "10"}, ctx(), None)


def test_free_text_problems_and_drugs_are_kept_uncoded():
    res = forms.PROBLEMS.build({"problem": "Chronic tiredness"}, ctx(), None)
    assert res["code"] == {"text": "Chronic tiredness"}
    med = forms.MEDICATIONS.build({"drug": "Grandma's tea", "strength": "5 mg"}, ctx(), None)
    assert med["medicationCodeableConcept"] == {"text": "Grandma's tea 5 mg"}


def test_an_extreme_blood_pressure_asks_are_you_sure_and_is_kept_when_confirmed():
    bp = forms.VITALS[0]
    with pytest.raises(NeedsConfirmation, match="Blood pressure 400/20 mmHg is outside 40–260. Are you sure"):
        forms.build_vital(bp, "400/20", "mm[Hg]", ENC, ctx(), None)
    res = forms.build_vital(bp, "400/20", "mm[Hg]", ENC, ctx(), None, confirmed=True)
    assert [c["valueQuantity"]["value"] for c in res["component"]] == [400, 20]
    with pytest.raises(FieldError, match="not a blood pressure; type it as 120/80"):
        forms.build_vital(bp, "high", "mm[Hg]", ENC, ctx(), None)


def test_a_bad_field_keeps_its_last_saved_value_and_the_rest_is_saved():
    saved = forms.build_patient({"family": "Young", "birth_date": "10/20/1942"}, ctx(), None)
    resource, errors = forms.build_keeping_valid(forms.build_patient, lambda r: forms.read_patient(r, None),
                                                 {"family": "Younger", "birth_date": "02/30/1980"}, ctx(), saved)
    assert errors == {"birth_date": "Date of birth: 02/30/1980 is not a date"}
    assert resource["name"][0]["family"] == "Younger" and resource["birthDate"] == "1942-10-20"


def test_us_and_iso_dates_are_both_accepted():
    a = forms.build_patient({"birth_date": "03/14/1962"}, ctx(), None)
    b = forms.build_patient({"birth_date": "1962-03-14"}, ctx(), None)
    c = forms.build_patient({"birth_date": "3/14/62"}, ctx(), None)
    assert a["birthDate"] == b["birthDate"] == c["birthDate"] == "1962-03-14"


def test_a_new_patient_gets_the_id_the_other_entries_refer_to():
    patient = forms.build_patient({"family": "Young"}, ctx(), None)
    encounter = forms.ENCOUNTERS.build({"date": "03/04/2025"}, ctx(), None)
    assert patient["id"] == "p1" and encounter["subject"]["reference"] == "Patient/p1"
