"""Honest saving through NiceGUI's simulated user: emptied fields stay empty, two tabs on a fresh attempt
make one Patient, a conflict leaves the indicator saying 'not saved', the instructions and FHIR view."""

from __future__ import annotations

import pytest
from nicegui.testing import User

from simulator.services.demo import seed_demo
from tests.test_workspace_ui import open_workspace, saved, value_of


@pytest.fixture
def demo(app_store):
    return seed_demo(app_store)


async def test_clearing_both_insurance_fields_removes_the_coverage(demo, app_store, user: User):
    await open_workspace(user, demo)
    user.find(marker="demographics-payer").type("Medicare").trigger("blur")
    user.find(marker="demographics-member_id").type("9R37XV8XN11").trigger("blur")
    await user.should_see("All changes saved at")
    assert saved(app_store, demo).of("Coverage")
    user.find(marker="demographics-payer").clear().trigger("blur")
    user.find(marker="demographics-member_id").clear().trigger("blur")
    await user.should_see("All changes saved at")
    assert saved(app_store, demo).of("Coverage") == []
    await user.open("/attempt/1")
    await user.should_see(marker="ehr-tabs")
    assert not value_of(user, "demographics-payer")


async def test_two_tabs_on_a_fresh_attempt_make_one_patient_and_the_second_is_told(demo, app_store, create_user):
    tab_a, tab_b = create_user(), create_user()
    await open_workspace(tab_a, demo)
    await open_workspace(tab_b, demo)  # both opened before anything was saved
    tab_a.find(marker="demographics-family").type("Alpha").trigger("blur")
    await tab_a.should_see("All changes saved at")
    tab_b.find(marker="demographics-family").type("Beta").trigger("blur")
    await tab_b.should_see("changed in another tab or window")
    await tab_b.should_see("Not saved:")
    await tab_b.should_not_see("All changes saved at")
    patients = saved(app_store, demo).of("Patient")
    assert [p.resource["name"][0]["family"] for p in patients] == ["Alpha"]


async def test_instructions_say_what_goes_where_and_what_is_graded(demo, user: User):
    await open_workspace(user, demo)
    user.find(marker="open-instructions").click()
    await user.should_see(marker="what-goes-where")
    await user.should_see("Visit diagnoses")
    await user.should_see(marker="graded-sections")
    await user.should_see("Coding is scored as coding audits do")


async def test_the_fhir_view_shows_what_was_entered(demo, user: User):
    await open_workspace(user, demo)
    user.find(marker="demographics-family").type("Young").trigger("blur")
    await user.should_see("All changes saved at")
    user.find(marker="ehr-tab-fhir").click()
    user.find(marker="fhir-refresh").click()
    await user.should_see(marker="fhir-Patient")
