"""What a certified coder reading generated notes caught as impossible or self-contradicting, over many charts of
every scenario: onsets before birth, quitting smoking as a child, PHQ-9 scores outside the documented severity,
remission lengths that contradict the problem's name."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from simulator.generate import generate_case, load_scenario
from simulator.generate.scenario import list_scenario_files
from tests.grading_cases import note_text, of

SCENARIOS = [load_scenario(f) for f in list_scenario_files()]
SEEDS = range(300, 340)
PHQ_BAND = {"F32.1": (10, 14), "F33.0": (5, 9)}  # Kroenke 2001: 10-14 moderate, 5-9 mild


def keys(sc):
    return [generate_case(sc, seed).key for seed in SEEDS]


@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda s: s.slug)
def test_no_condition_begins_before_the_first_birthday_and_nobody_quit_smoking_as_a_child(sc):
    for key in keys(sc):
        births = {p["id"]: dt.date.fromisoformat(p["birthDate"]) for p in of(key, "Patient")}
        for c in of(key, "Condition"):
            if "onsetDateTime" not in c:
                continue
            birth = births[c["subject"]["reference"].removeprefix("urn:uuid:")]
            onset = dt.date.fromisoformat(c["onsetDateTime"][:10])
            assert onset >= birth, (c["code"].get("text"), onset, birth)
        for doc in of(key, "DocumentReference"):
            birth = births[doc["subject"]["reference"].removeprefix("urn:uuid:")]
            for year in re.findall(r"(?:quit|stopped|quit in) (\d{4})", note_text(doc)):
                assert int(year) - birth.year >= 18, (year, birth)


@pytest.mark.parametrize("sc", [s for s in SCENARIOS if s.slug in ("behavioral-health-clinic", "clinic-chronic-care")],
                         ids=lambda s: s.slug)
def test_a_phq9_score_lies_in_the_band_of_the_depression_severity_documented_that_day(sc):
    seen = 0
    for key in keys(sc):
        for doc in of(key, "DocumentReference"):
            text = note_text(doc)
            scores = [int(s) for s in re.findall(r"PHQ-9[^.]*?(\d+)\.", text)]
            bands = [band for code, band in PHQ_BAND.items() if code in _visit_codes(key, doc)]
            for score in scores:
                seen += 1
                assert any(lo <= score <= hi for lo, hi in bands), (score, bands, text[:200])
    assert seen or sc.slug == "clinic-chronic-care"


def _visit_codes(key, doc) -> set[str]:
    enc = doc["context"]["encounter"][0]["reference"]
    return {cc["code"] for claim in of(key, "Claim") if claim.get("item") and _claim_for(claim, enc)
            for d in claim.get("diagnosis", []) for cc in d.get("diagnosisCodeableConcept", {}).get("coding", [])}


def _claim_for(claim, enc_ref) -> bool:
    return any(e.get("reference") == enc_ref for item in claim["item"] for e in item.get("encounter", []))


def test_a_remission_problem_names_no_length_the_visit_could_contradict():
    from simulator.clinical import load_catalog
    for key in ("alcohol-dependence-remission", "opioid-dependence-remission"):
        for name in load_catalog().conditions[key].names:
            assert not re.search(r"early|sustained|months|year", name), name
