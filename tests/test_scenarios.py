"""Scenario files: the shipped library loads; bad files are refused with the file, the key and what is expected."""

from __future__ import annotations

import pytest

from simulator.generate.scenario import ScenarioError, list_scenario_files, load_scenario, parse_scenario

GOOD = """
title = "T"
difficulty = "introductory"
tasks = ["enter"]
[patients]
count = 1
visits = [2, 3]
ages = [40, 70]
[case_mix]
chronic = ["hypertension"]
chronic_per_patient = [1, 1]
"""


def test_every_shipped_scenario_loads():
    files = list_scenario_files()
    assert len(files) >= 4
    for f in files:
        sc = load_scenario(f)
        assert sc.title and sc.tasks and sc.slug == f.stem


def test_a_scenario_is_found_by_name():
    assert load_scenario("clinic-chronic-care").setting == "office"


def test_an_unknown_scenario_name_lists_the_library():
    with pytest.raises(ScenarioError, match="no such scenario file; shipped scenarios: .*clinic-chronic-care"):
        load_scenario("no-such-case")


@pytest.mark.parametrize(("change", "message"), [
    (("[patients]", "[patients]\nsize = 3"), r"bad\.toml: patients\.size: unknown key; expected one of"),
    (('difficulty = "introductory"', 'difficulty = "easy"'),
     r"bad\.toml: difficulty: expected one of introductory, intermediate, advanced, got 'easy'"),
    (("count = 1", 'count = "one"'), r"bad\.toml: patients\.count: expected a number from 1 to 50, got 'one'"),
    (("visits = [2, 3]", "visits = [4, 2]"), r"bad\.toml: patients\.visits: expected \[min, max\] with 1 <= min <= max"),
    (('chronic = ["hypertension"]', 'chronic = ["dragon-pox"]'),
     r"bad\.toml: case_mix\.chronic: 'dragon-pox' is not a condition in the clinical catalog"),
    (('chronic = ["hypertension"]', 'chronic = ["uti"]'),
     r"bad\.toml: case_mix\.chronic: 'uti' is a acute condition, expected chronic"),
    (("ages = [40, 70]", "ages = [1, 10]"), r"bad\.toml: patients\.ages: 1-10 never meets 'hypertension'"),
    (('tasks = ["enter"]', 'tasks = ["dance"]'), r"bad\.toml: tasks: expected a list of enter, verify"),
    (("count = 1", "count = true"), r"bad\.toml: patients\.count: expected a number"),
    (('title = "T"', "title = 3"), r"bad\.toml: title: expected a non-empty title, got 3"),
    (("[case_mix]", "[case_mix]\n[oops"), r"bad\.toml: not valid TOML"),
])
def test_bad_scenarios_are_refused_with_file_key_and_expectation(change, message):
    text = GOOD.replace(*change)
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(text, "bad.toml", "bad")


def test_the_good_example_itself_loads():
    sc = parse_scenario(GOOD, "good.toml", "good")
    assert sc.visits == (2, 3) and sc.chronic == ("hypertension",)


def test_a_sex_restricted_condition_cannot_be_given_to_the_other_sex():
    text = GOOD.replace("ages = [40, 70]", 'ages = [40, 70]\nsex = "male"').replace('["hypertension"]', '["osteoporosis"]')
    with pytest.raises(ScenarioError, match=r"patients\.sex: male patients cannot have 'osteoporosis'"):
        parse_scenario(text, "bad.toml", "bad")


def test_a_scenario_may_override_the_grading_rubric():
    sc = parse_scenario(GOOD + "[rubric.sections.allergies]\npoints = 30\n", "s.toml", "s")
    assert sc.rubric().points("allergies") == 30
    assert parse_scenario(GOOD, "s.toml", "s").rubric().points("allergies") == 10


@pytest.mark.parametrize(("table", "message"), [
    ("[rubric.sections.allergies]\npoints = -1\n", r"s\.toml: rubric\.sections\.allergies\.points: expected a number of at least 0"),
    ("[rubric.sections.vitals.fields]\ncolour = 2\n", r"s\.toml: rubric\.sections\.vitals\.fields\.colour: unknown key"),
])
def test_a_bad_rubric_override_in_a_scenario_names_the_key(table, message):
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(GOOD + table, "s.toml", "s")
