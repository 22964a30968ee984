"""The store on a real database: versioned FHIR resources, migrations, and clear connection errors."""

from __future__ import annotations

import pytest

from simulator.store import StoreError, open_store, repo
from simulator.store.db import schema_tables
from simulator.store.repo import VersionConflict
from tests.conftest import make_user


def _attempt(store) -> tuple[int, int]:
    from simulator.generate import load_scenario
    from simulator.services import assignments

    teacher = make_user(store, "teacher", "instructor")
    student = make_user(store, "pupil")
    with store.session() as s:
        c = repo.create_class(s, name="HIT 101", term="Fall", instructor_id=teacher.id)
        repo.enrol(s, class_id=c.id, user_id=student.id)
        class_id = c.id
    aid = assignments.create_assignment(store, user=teacher, class_id=class_id, title="A",
                                        scenario=load_scenario("clinic-chronic-care"), due_at=None)
    return assignments.open_assignment(store, user=student, assignment_id=aid), student.id


def test_migrations_create_every_table(store):
    assert {"users", "classes", "enrolments", "scenarios", "assignments", "attempts", "fhir_resources",
            "grade_reports", "alembic_version"} <= schema_tables(store.engine)


def test_every_save_appends_a_version_and_reading_returns_the_latest(store):
    attempt_id, user_id = _attempt(store)
    patient = {"resourceType": "Patient", "id": "p1", "birthDate": "1962-03-14"}
    with store.session() as s:
        assert repo.save_resource(s, attempt_id=attempt_id, resource=patient, saved_by=user_id, expected_version=0) == 1
    with store.session() as s:
        v2 = repo.save_resource(s, attempt_id=attempt_id, resource={**patient, "birthDate": "1962-03-15"},
                                saved_by=user_id, expected_version=1)
        assert v2 == 2
    with store.session() as s:
        latest = repo.latest_resources(s, attempt_id=attempt_id)
        assert [r["birthDate"] for r in latest] == ["1962-03-15"]
        assert latest[0]["meta"]["versionId"] == "2"
        history = repo.resource_history(s, attempt_id=attempt_id, resource_type="Patient", logical_id="p1")
        assert [h.version for h in history] == [2, 1]
        assert '"1962-03-14"' in history[1].content  # the first save is still there


def test_a_stale_save_is_refused_and_writes_nothing(store):
    attempt_id, user_id = _attempt(store)
    res = {"resourceType": "AllergyIntolerance", "id": "a1", "patient": {"reference": "Patient/p1"}}
    with store.session() as s:
        repo.save_resource(s, attempt_id=attempt_id, resource=res, saved_by=user_id, expected_version=0)
        repo.save_resource(s, attempt_id=attempt_id, resource=res, saved_by=user_id, expected_version=1)
    with pytest.raises(VersionConflict), store.session() as s:
        repo.save_resource(s, attempt_id=attempt_id, resource=res, saved_by=user_id, expected_version=1)
    with store.session() as s:
        assert len(repo.resource_history(s, attempt_id=attempt_id, resource_type="AllergyIntolerance",
                                         logical_id="a1")) == 2


def test_a_deletion_is_a_version_too(store):
    attempt_id, user_id = _attempt(store)
    res = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}}
    with store.session() as s:
        repo.save_resource(s, attempt_id=attempt_id, resource=res, saved_by=user_id)
        repo.save_resource(s, attempt_id=attempt_id, resource=res, saved_by=user_id, deleted=True)
        assert repo.latest_resources(s, attempt_id=attempt_id) == []
        assert len(repo.resource_history(s, attempt_id=attempt_id, resource_type="Condition", logical_id="c1")) == 2


def test_workspaces_do_not_see_each_others_resources(store):
    attempt_id, user_id = _attempt(store)
    with store.session() as s:
        repo.save_resource(s, attempt_id=attempt_id, resource={"resourceType": "Patient", "id": "x"}, saved_by=user_id)
        assert repo.latest_resources(s, attempt_id=attempt_id + 1000) == []


def test_reopening_an_existing_database_keeps_its_data(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    first = open_store(url)
    make_user(first, "kept")
    first.dispose()
    again = open_store(url)
    with again.session() as s:
        assert repo.get_user_by_username(s, username="kept") is not None


def test_an_unreachable_database_names_the_setting_to_change():
    with pytest.raises(StoreError, match=r"cannot reach the database at .*127\.0\.0\.1:1/.*HITSIM_DATABASE_URL"):
        open_store("postgresql://nobody@127.0.0.1:1/none")


def test_a_malformed_database_url_says_what_is_expected():
    with pytest.raises(StoreError, match="HITSIM_DATABASE_URL 'not a url' is not a database URL"):
        open_store("not a url")


def test_a_sqlite_file_in_a_missing_folder_is_explained(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        open_store(f"sqlite:///{tmp_path / 'missing' / 'db.sqlite3'}")
