"""fhir_samples/ is exactly what the generator makes today, and valid FHIR."""

from __future__ import annotations

import pytest

from simulator.fhir.validation import validate_file
from simulator.generate import generate_case, load_scenario
from simulator.generate.case_files import case_files
from tests.conftest import ROOT

SAMPLES = [("clinic-chronic-care", 1001), ("verify-registration", 5005)]


@pytest.mark.parametrize(("scenario", "seed"), SAMPLES)
def test_samples_match_the_generator_byte_for_byte(scenario, seed):
    folder = ROOT / "fhir_samples" / f"{scenario}-seed-{seed}"
    files = case_files(generate_case(load_scenario(scenario), seed)).files
    assert sorted(p.name for p in folder.iterdir()) == sorted(files)
    for name, text in files.items():
        assert (folder / name).read_text(encoding="utf-8") == text, f"{name} differs: regenerate the sample"


@pytest.mark.parametrize(("scenario", "seed"), SAMPLES)
def test_sample_bundles_are_valid_fhir(scenario, seed):
    folder = ROOT / "fhir_samples" / f"{scenario}-seed-{seed}"
    for name in ("key.json", "preentered.json"):
        assert validate_file(folder / name) == []
