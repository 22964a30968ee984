"""The command line against hostile files and arguments: one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from simulator.cli import main


@pytest.fixture
def key(tmp_path):
    main(["generate", "clinic-chronic-care", "--seed", "5", "--out", str(tmp_path / "case")])
    return tmp_path / "case" / "key.json"


def _one_line_failure(capsys, code: int, expected_code: int = 2) -> str:
    err = capsys.readouterr().err.strip()
    assert code == expected_code and "Traceback" not in err
    return err


@pytest.mark.parametrize(("content", "message"), [
    ('{"resourceType": "Patient", "id": "p", "x": ' + "9" * 5000 + "}", "number thousands of digits long"),
    ("[" * 100_000 + "]" * 100_000, "nested more than 100 levels"),
    ("{" * 50 + "}" * 50, "not JSON"),
])
def test_hostile_json_gets_one_line_from_validate_and_grade(tmp_path, capsys, key, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert main(["validate", str(bad)]) == 1
    assert message in capsys.readouterr().out
    code = main(["grade", "--key", str(key), "--submission", str(bad)])
    assert message in _one_line_failure(capsys, code)


def test_a_file_linked_to_dev_zero_is_refused_not_read(tmp_path, capsys, key):
    link = tmp_path / "zero.json"
    os.symlink("/dev/zero", link)
    assert main(["validate", str(link)]) == 1
    assert "not a regular file" in capsys.readouterr().out
    assert "not a regular file" in _one_line_failure(capsys, main(["grade", "--key", str(key), "--submission", str(link)]))
    assert "no such file" in _one_line_failure(capsys, main(["grade", "--key", str(key), "--submission", str(key),
                                                              "--rubric", str(link)]))


def test_validate_checks_required_value_set_bindings(tmp_path, capsys):
    doc = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p", "gender": "yes"}},
        {"resource": {"resourceType": "Observation", "id": "o", "status": "bogus", "code": {"text": "BP"}}},
        {"resource": {"resourceType": "Observation", "id": "ok", "status": "corrected", "code": {"text": "BP"}}}]}
    path = tmp_path / "b.json"
    path.write_text(json.dumps(doc))
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "Patient/p: Patient.gender: [binding] 'yes'" in out and "Observation/o: Observation.status: [binding]" in out
    assert "Observation/ok" not in out


def test_grading_against_an_empty_key_is_refused(tmp_path, capsys, key):
    empty = tmp_path / "empty.json"
    empty.write_text('{"resourceType": "Bundle", "type": "collection"}')
    code = main(["grade", "--key", str(empty), "--submission", str(key)])
    assert "no resources to grade against" in _one_line_failure(capsys, code)


@pytest.mark.parametrize(("args", "message"), [
    (["generate", "clinic-chronic-care", "--seed", "-1", "--out", "X"], "--seed -1: expected a whole number"),
    (["generate", "clinic-chronic-care", "--seed", str(2**70), "--out", "X"], "expected a whole number"),
    (["generate", "clinic-chronic-care", "--out", ""], "--out: expected a directory name"),
    (["codes", "search", "htn", "--limit", str(10**30)], "--limit"),
    (["codes", "search", "htn", "--limit", "0"], "--limit 0"),
    (["attempt", "export", "1", "--out", ""], "--out: expected a file name"),
])
def test_bad_arguments_get_one_line_and_exit_2(capsys, args, message):
    assert message in _one_line_failure(capsys, main(args))


def test_an_unwritable_out_and_a_huge_attempt_id_get_one_line(tmp_path, monkeypatch, capsys, key):
    monkeypatch.setenv("HITSIM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HITSIM_DATABASE_URL", raising=False)
    code = main(["attempt", "export", str(10**30)])
    assert "No such attempt" in _one_line_failure(capsys, code)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        code = main(["generate", "clinic-chronic-care", "--out", str(ro / "case")])
        assert "could not write" in _one_line_failure(capsys, code) or "cannot" in capsys.readouterr().err
    finally:
        ro.chmod(0o700)


@pytest.mark.parametrize(("content", "message"), [
    ('code,descriptor\n99213,"Office visit\n', "not valid CSV"),
    ("code,descriptor\n99213,Office visit\n99213,Again\n", "code 99213 appears again (first on line 2)"),
])
def test_load_cpt_refuses_broken_quotes_and_duplicate_codes(tmp_path, monkeypatch, capsys, encoder_path, content, message):
    monkeypatch.setenv("HITSIM_ENCODER_INDEX", str(encoder_path))
    monkeypatch.setenv("HITSIM_DATA_DIR", str(tmp_path / "data"))
    csv_file = tmp_path / "cpt.csv"
    csv_file.write_text(content)
    code = main(["codes", "load-cpt", str(csv_file)])
    captured = capsys.readouterr().err
    assert code == 2 and message in captured and "nothing was loaded" in captured


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                      st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                                   lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                               max_size=3),
                                   max_leaves=20).map(lambda v: json.dumps({"resourceType": "Bundle", "entry": v}).encode())))
@example(data=b'{"resourceType": "Bundle", "entry": true}')  # found by Hypothesis: the key's entries were iterated
def test_any_file_given_to_validate_or_grade_ends_in_a_clear_exit_code(tmp_path, capsys, key, data):
    path = tmp_path / "input.json"
    path.write_bytes(data)
    assert main(["validate", str(path)]) in (0, 1)
    assert main(["grade", "--key", str(key), "--submission", str(path)]) in (0, 2)
    assert main(["grade", "--key", str(path), "--submission", str(key)]) in (0, 2)
    assert "Traceback" not in capsys.readouterr().err
