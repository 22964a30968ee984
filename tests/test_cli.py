"""The command line as a user runs it: `hitsim generate`, `validate`, `scenarios`, `conditions`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.cli import main
from tests.conftest import DATA

R4 = DATA / "fhir" / "r4-examples"
SYNTHEA = DATA / "fhir" / "synthea"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], capture_output=True, text=True)


def test_generate_writes_key_and_chart_identically_every_time(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["generate", "clinic-chronic-care", "--seed", "7", "--out", str(a)]) == 0
    assert main(["generate", "clinic-chronic-care", "--seed", "7", "--out", str(b)]) == 0
    for name in ("key.json", "chart.html", "preentered.json", "planted-faults.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    key = json.loads((a / "key.json").read_text())
    assert key["type"] == "collection"
    assert "<!DOCTYPE html>" in (a / "chart.html").read_text()
    assert not list(a.glob(".*.tmp"))


def test_generated_files_pass_hitsim_validate(tmp_path):
    main(["generate", "verify-registration", "--seed", "3", "--out", str(tmp_path)])
    result = run("validate", str(tmp_path / "key.json"), str(tmp_path / "preentered.json"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_generate_with_a_bad_scenario_says_why_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('title = "x"\ndifficulty = "hard"\ntasks = ["enter"]\n[patients]\n[case_mix]\nchronic = ["hypertension"]\n')
    out = tmp_path / "out"
    result = run("generate", str(bad), "--out", str(out))
    assert result.returncode == 2
    assert "bad.toml: difficulty: expected one of introductory, intermediate, advanced, got 'hard'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_generate_into_a_file_path_is_refused(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    result = run("generate", "clinic-chronic-care", "--out", str(target))
    assert result.returncode == 2 and "exists and is not a directory" in result.stderr
    assert target.read_text() == "x"


def test_official_hl7_examples_and_synthea_bundles_validate():
    files = sorted(R4.glob("*.json")) + sorted(SYNTHEA.glob("*.json"))
    assert len(files) > 150
    result = run("validate", *map(str, files))
    assert result.returncode == 0, result.stdout[:2000]


def write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(("resource", "rule", "path"), [
    ({"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
      "valueQuantity": {"value": 1}, "dataAbsentReason": {"text": "asked"}}, "obs-6", "Observation"),
    ({"resourceType": "Patient", "id": "p1", "contact": [{"gender": "male"}]}, "pat-1", "Patient.contact"),
    ({"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
      "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                     "code": "active"}]}, "abatementDateTime": "2020-01-01"}, "con-4", "Condition"),
    ({"resourceType": "Observation", "id": "o2", "status": "final", "code": {"text": "x"},
      "referenceRange": [{"appliesTo": [{"text": "adults"}]}]}, "obs-3", "Observation.referenceRange"),
    ({"resourceType": "Observation", "id": "o3", "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}, "valueQuantity": {"value": 70},
      "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                     "valueQuantity": {"value": 70}}]}, "obs-7", "Observation"),
    ({"resourceType": "AllergyIntolerance", "id": "a1", "patient": {"reference": "Patient/p"},
      "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                                         "code": "entered-in-error"}]},
      "clinicalStatus": {"coding": [{"code": "active"}]}}, "ait-2", "AllergyIntolerance"),
])
def test_invariant_violations_are_reported_with_resource_path_and_rule(tmp_path, resource, rule, path):
    f = write(tmp_path, "r.json", resource)
    result = run("validate", str(f))
    assert result.returncode == 1
    rtype, rid = resource["resourceType"], resource["id"]
    assert f"{f}: {rtype}/{rid}: {path}: [{rule}]" in result.stdout


def test_structure_errors_name_the_element(tmp_path):
    f = write(tmp_path, "p.json", {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1", "birthDate": "1962-14-03"}},
        {"resource": {"resourceType": "Patient", "id": "p2", "gender": 7}}]})
    result = run("validate", str(f))
    assert result.returncode == 1
    assert f"{f}: Patient/p1: Patient.birthDate: [structure]" in result.stdout
    assert f"{f}: Patient/p2: Patient.gender: [structure]" in result.stdout


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not JSON"),
    ("[1, 2]", "not FHIR: expected a Bundle or a resource (a JSON object), got an array"),
    ('{"name": "x"}', "not FHIR: the JSON object has no resourceType"),
    ('{"resourceType": "Spaceship"}', "'Spaceship' is not a FHIR R4 resource type"),
])
def test_files_that_are_not_fhir_get_one_clear_line(tmp_path, content, message):
    f = tmp_path / "x.json"
    f.write_text(content)
    result = run("validate", str(f))
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(f) in lines[0]
    assert "Traceback" not in result.stderr


def test_a_missing_or_binary_file_is_reported_not_raised(tmp_path):
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe\x00")
    result = run("validate", str(tmp_path / "nope.json"), str(binary))
    assert result.returncode == 1
    assert "nope.json: no such file" in result.stdout and "not a text file" in result.stdout


def test_scenarios_lists_title_difficulty_and_tasks():
    result = run("scenarios")
    assert result.returncode == 0
    assert "clinic-chronic-care" in result.stdout and "intermediate" in result.stdout and "enter, code" in result.stdout


def test_conditions_lists_the_catalog_with_codes():
    result = run("conditions")
    assert "hypertension" in result.stdout and "I10" in result.stdout
    # grouped by ICD-10-CM chapter, each condition under the chapter of its first code, with its scenarios
    chapter9 = result.stdout.split("Chapter 9: ")[1].split("\nChapter ")[0]
    assert chapter9.startswith("Diseases of the circulatory system") and "hypertension" in chapter9
    assert "wrist-fracture" not in chapter9 and "ed-fracture" in result.stdout.split("Chapter 19: ")[1]
    assert "conditions in" in result.stdout.splitlines()[-1]


def test_hitsim_console_script_is_installed():
    assert shutil.which("hitsim") is not None


def test_grade_prints_a_text_report_and_json(tmp_path):
    main(["generate", "verify-registration", "--seed", "5", "--out", str(tmp_path)])
    key, sub = str(tmp_path / "key.json"), str(tmp_path / "preentered.json")
    text = run("grade", "--key", key, "--submission", sub)
    assert text.returncode == 0 and text.stdout.startswith("Score: ")
    assert "chart says" in text.stdout
    as_json = run("grade", "--key", key, "--submission", sub, "--json")
    data = json.loads(as_json.stdout)
    assert 0 <= data["score"] < 100 and data["score"] == round(data["score"], 1)
    assert {"section", "path", "expected", "entered", "points_lost", "kind"} <= set(data["findings"][0])
    same = run("grade", "--key", key, "--submission", key, "--json")
    assert json.loads(same.stdout)["score"] == 100.0


def test_grade_refuses_files_that_are_not_fhir_with_exit_2(tmp_path):
    main(["generate", "clinic-chronic-care", "--seed", "5", "--out", str(tmp_path)])
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    result = run("grade", "--key", str(tmp_path / "key.json"), "--submission", str(bad))
    assert result.returncode == 2 and "submission:" in result.stderr and "not JSON" in result.stderr
    array = tmp_path / "array.json"
    array.write_text("[]")
    result = run("grade", "--key", str(array), "--submission", str(tmp_path / "key.json"))
    assert result.returncode == 2 and "key:" in result.stderr and "not FHIR" in result.stderr
    assert "Traceback" not in result.stderr


def test_grade_with_a_bad_rubric_names_the_key(tmp_path):
    main(["generate", "clinic-chronic-care", "--seed", "5", "--out", str(tmp_path)])
    rubric = tmp_path / "rubric.toml"
    rubric.write_text("[sections.allergies]\npoints = -1\n")
    key = str(tmp_path / "key.json")
    result = run("grade", "--key", key, "--submission", key, "--rubric", str(rubric))
    assert result.returncode == 2 and "sections.allergies.points" in result.stderr


def test_attempt_export_writes_the_workspace_as_a_bundle(tmp_path, monkeypatch):
    from simulator.services import accounts, assignments, workspace
    from simulator.services.demo import seed_demo
    from simulator.store import open_store

    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    store = open_store(url)
    demo = seed_demo(store)
    student = accounts.authenticate(store, username="student", password=demo.new_passwords["student"])
    attempt = assignments.open_assignment(store, user=student, assignment_id=1)
    workspace.save_entry(store, user=student, attempt_id=attempt, expected_version=0,
                         resource={"resourceType": "Patient", "id": "p1", "gender": "female"})
    env = {"HITSIM_DATABASE_URL": url, "HITSIM_DATA_DIR": str(tmp_path / "data")}
    import os
    out = tmp_path / "export.json"
    result = subprocess.run([sys.executable, "-m", "simulator.cli", "attempt", "export", str(attempt), "--out", str(out)],
                            capture_output=True, text=True, env={**os.environ, **env})
    assert result.returncode == 0, result.stderr
    bundle = json.loads(out.read_text())
    assert bundle["resourceType"] == "Bundle" and bundle["entry"][0]["resource"]["gender"] == "female"
    missing = subprocess.run([sys.executable, "-m", "simulator.cli", "attempt", "export", "999"],
                             capture_output=True, text=True, env={**os.environ, **env})
    assert missing.returncode == 2 and "attempt 999: No such attempt" in missing.stderr
