"""The instructor's side on a real database: library, classes and rosters, assignments, gradebook, item analysis."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from simulator.services import assignments, classes, gradebook, item_analysis, library, workspace
from simulator.services.errors import InvalidInput, NotFound, PermissionDenied
from simulator.store import repo
from tests.conftest import enter_the_visits, make_user

NOW = dt.datetime.now(dt.UTC)


def a_class(store, teacher, students=("ann", "ben")):
    class_id = classes.create_class(store, user=teacher, name="HIT 101", term="Fall 2026")
    users = []
    for username in students:
        classes.add_student(store, user=teacher, class_id=class_id, name=username.title() + " Doe", username=username)
        users.append(make_signed_in(store, username))
    return class_id, users


def make_signed_in(store, username):
    from simulator.services.accounts import SignedInUser

    with store.session() as s:
        u = repo.get_user_by_username(s, username=username)
        return SignedInUser(u.id, u.username, u.display_name, u.role)


def assign(store, teacher, class_id, key="shipped:acute-office-visits", **overrides):
    values = dict(class_id=class_id, scenario_key=key, title="Sick visits", opens_at=None,
                  due_at=NOW + dt.timedelta(days=7), attempts_allowed=2, release_policy="after-due-date",
                  per_student_variants=True, retry_same_chart=False)
    return assignments.assign_from_library(store, user=teacher, **(values | overrides))


def submit(store, student, assignment_id, *, visits=False):
    """The student enters the chart's first patient exactly (and, with ``visits``, every patient and visit but
    nothing recorded at them) and submits."""
    from simulator.services import cases

    attempt = assignments.open_assignment(store, user=student, assignment_id=assignment_id)
    if visits:
        enter_the_visits(store, student, attempt)
    else:
        with store.session() as s:
            a = repo.get_attempt(s, attempt_id=attempt)
            key = cases.case_for(a.assignment.scenario.source_toml, a.assignment.scenario.slug, a.seed).key
        first = next(e["resource"] for e in key["entry"] if e["resource"]["resourceType"] == "Patient")
        workspace.save_entry(store, user=student, attempt_id=attempt, resource=first, expected_version=0)
    workspace.submit_attempt(store, user=student, attempt_id=attempt)
    return attempt


# ------------------------------------------------------------------------------------------ library
def test_the_library_lists_every_shipped_scenario_easiest_first(sqlite_store):
    teacher = make_user(sqlite_store, "teacher", "instructor")
    entries = library.list_library(sqlite_store, user=teacher)
    assert len(entries) >= 8
    order = ["introductory", "intermediate", "advanced"]
    assert [order.index(e.difficulty) for e in entries] == sorted(order.index(e.difficulty) for e in entries)
    assert {"diabetes-complications", "ed-fracture"} <= {e.slug for e in entries}


def test_a_preview_shows_the_chart_and_the_key_for_a_sample_seed(sqlite_store):
    teacher = make_user(sqlite_store, "teacher", "instructor")
    one = library.preview(sqlite_store, user=teacher, key="shipped:pediatric-clinic", seed=7)
    again = library.preview(sqlite_store, user=teacher, key="shipped:pediatric-clinic", seed=7)
    other = library.preview(sqlite_store, user=teacher, key="shipped:pediatric-clinic", seed=8)
    assert one.key == again.key and one.key != other.key
    assert one.key["resourceType"] == "Bundle" and {p.section for p in one.pages} >= {"face", "notes"}


def test_students_reach_no_library_service(sqlite_store):
    ann = make_user(sqlite_store, "ann")
    for call in (lambda: library.list_library(sqlite_store, user=ann),
                 lambda: library.preview(sqlite_store, user=ann, key="shipped:pediatric-clinic"),
                 lambda: library.upload(sqlite_store, user=ann, filename="x.toml", content=b"")):
        with pytest.raises(PermissionDenied):
            call()


def test_a_copied_scenario_is_edited_in_the_form_and_validated_at_the_field(store):
    teacher = make_user(store, "teacher", "instructor")
    _, scenario = library.load_entry(store, user=teacher, key="shipped:clinic-chronic-care")
    values = library.form_values(scenario) | {"title": "My chronic care", "patients.visits": [4.0, 2.0]}
    with pytest.raises(InvalidInput) as bad:
        library.save_from_form(store, user=teacher, slug="my-chronic", values=values)
    assert bad.value.field == "patients.visits" and "1 <= min <= max <= 12" in str(bad.value)
    values["patients.visits"] = [2.0, 4.0]
    values["case_mix.chronic"] = ["hypertension", "not-a-condition"]
    with pytest.raises(InvalidInput) as bad:
        library.save_from_form(store, user=teacher, slug="my-chronic", values=values)
    assert bad.value.field == "case_mix.chronic" and "hitsim conditions" in str(bad.value)
    values["case_mix.chronic"] = ["hypertension", "type2-diabetes"]
    values["case_mix.chronic_per_patient"] = [1, 2]
    key = library.save_from_form(store, user=teacher, slug="my-chronic", values=values)
    entry, saved = library.load_entry(store, user=teacher, key=key)
    assert entry.editable and saved.title == "My chronic care" and saved.visits == (2, 4)
    assert key in {e.key for e in library.list_library(store, user=teacher)}


def test_an_uploaded_scenario_is_validated_like_a_shipped_one(store):
    teacher = make_user(store, "teacher", "instructor")
    from simulator.generate.scenario import scenarios_dir

    good = (scenarios_dir() / "pediatric-clinic.toml").read_bytes()
    key = library.upload(store, user=teacher, filename="Kids Clinic.toml", content=good)
    assert library.load_entry(store, user=teacher, key=key)[0].slug == "kids-clinic"
    with pytest.raises(InvalidInput) as bad:
        library.upload(store, user=teacher, filename="bad.toml", content=good.replace(b"ages = [2, 16]", b"ages = [16, 2]"))
    assert bad.value.field == "patients.ages"
    with pytest.raises(InvalidInput, match="not UTF-8"):
        library.upload(store, user=teacher, filename="latin1.toml", content="title = 'Caf\u00e9'".encode("latin-1"))
    with pytest.raises(InvalidInput, match="not valid TOML"):
        library.upload(store, user=teacher, filename="broken.toml", content=b"title = ")


def test_an_instructor_cannot_open_another_instructors_scenario(store):
    teacher, other = make_user(store, "teacher", "instructor"), make_user(store, "other", "instructor")
    _, scenario = library.load_entry(store, user=teacher, key="shipped:pediatric-clinic")
    key = library.save_from_form(store, user=teacher, slug="mine", values=library.form_values(scenario))
    with pytest.raises(InvalidInput):
        library.load_entry(store, user=other, key=key)
    assert key not in {e.key for e in library.list_library(store, user=other)}


# ------------------------------------------------------------------------------------------ classes and rosters
ROSTER = b"""name,username,email
Ann Doe,ann,ann@example.edu
,empty,empty@example.edu
Ben Roe,ben,ben@example.edu
Ben Again,ben,ben2@example.edu
Cat Poe,cat
Dan \xe9\xe9,dan,dan@example.edu
Eve Loe,Bad User!,eve@example.edu
Fay Moe,fay,not-an-email
"""


def test_a_roster_enrols_the_good_rows_and_reports_each_bad_row(store):
    teacher = make_user(store, "teacher", "instructor")
    class_id = classes.create_class(store, user=teacher, name="HIT 101")
    report = classes.import_roster(store, user=teacher, class_id=class_id, content=ROSTER)
    assert [p.username for p in report.created] == ["ann", "ben"]
    assert all(len(p.password) >= 12 for p in report.created)
    refused = dict(report.refused)
    assert refused[3] == "empty name"
    assert "duplicate username 'ben'" in refused[5]
    assert "missing value for email" in refused[6]
    assert "not UTF-8" in refused[7]
    assert "username 'bad user!'" in refused[8]
    assert "e-mail" in refused[9]
    assert [s.username for s in classes.students(store, user=teacher, class_id=class_id)] == ["ann", "ben"]
    for bad in ("empty", "cat", "dan", "fay"):
        with store.session() as s:
            assert repo.get_user_by_username(s, username=bad) is None


def test_importing_the_same_roster_twice_creates_nobody_twice(store):
    teacher = make_user(store, "teacher", "instructor")
    class_id = classes.create_class(store, user=teacher, name="HIT 101")
    classes.import_roster(store, user=teacher, class_id=class_id, content=ROSTER)
    again = classes.import_roster(store, user=teacher, class_id=class_id, content=ROSTER)
    assert again.created == [] and sorted(again.enrolled) == ["ann", "ben"]
    with store.session() as s:
        assert len([u for u in repo.all_users(s) if u.role == "student"]) == 2


def test_a_roster_without_a_column_creates_nobody_and_says_which_column(store):
    teacher = make_user(store, "teacher", "instructor")
    class_id = classes.create_class(store, user=teacher, name="HIT 101")
    report = classes.import_roster(store, user=teacher, class_id=class_id, content=b"name,email\nAnn,a@b.edu\n")
    assert report.created == [] and "missing column username" in report.refused[0][1]
    assert report.refused[1] == (2, "not read: the header is missing a column")


def test_a_student_added_by_hand_gets_a_password_that_signs_in(store):
    from simulator.services import accounts

    teacher = make_user(store, "teacher", "instructor")
    class_id = classes.create_class(store, user=teacher, name="HIT 101")
    new = classes.add_student(store, user=teacher, class_id=class_id, name="Ann Doe", username="Ann", email="a@b.edu")
    assert accounts.authenticate(store, username="ann", password=new.password) is not None
    with pytest.raises(InvalidInput) as bad:
        classes.add_student(store, user=teacher, class_id=class_id, name=" ", username="zed")
    assert bad.value.field == "name"
    reset = classes.reset_student_password(store, user=teacher, class_id=class_id, student_id=make_signed_in(store, "ann").id)
    assert accounts.authenticate(store, username="ann", password=new.password) is None
    assert accounts.authenticate(store, username="ann", password=reset.password) is not None


def test_an_instructor_cannot_see_or_change_another_instructors_class(store):
    teacher, other = make_user(store, "teacher", "instructor"), make_user(store, "other", "instructor")
    class_id, (ann, _) = a_class(store, teacher)
    aid = assign(store, teacher, class_id)
    attempt = submit(store, ann, aid)
    assert classes.list_classes(store, user=other) == []
    denied = [
        lambda: classes.students(store, user=other, class_id=class_id),
        lambda: classes.add_student(store, user=other, class_id=class_id, name="X Y", username="xy"),
        lambda: classes.import_roster(store, user=other, class_id=class_id, content=ROSTER),
        lambda: classes.reset_student_password(store, user=other, class_id=class_id, student_id=ann.id),
        lambda: assign(store, other, class_id),
        lambda: gradebook.gradebook(store, user=other, class_id=class_id),
        lambda: gradebook.export_csv(store, user=other, class_id=class_id),
        lambda: gradebook.instructor_report(store, user=other, attempt_id=attempt),
        lambda: gradebook.override_score(store, user=other, attempt_id=attempt, score=100, reason="mine now"),
        lambda: gradebook.regrade_assignment(store, user=other, assignment_id=aid),
        lambda: gradebook.change_rubric(store, user=other, assignment_id=aid, section_points={"demographics": 50}),
        lambda: item_analysis.item_analysis(store, user=other, assignment_id=aid),
        lambda: assignments.variant_plan(store, user=other, assignment_id=aid),
        lambda: assignments.assignment_settings(store, user=other, assignment_id=aid),
    ]
    for call in denied:
        with pytest.raises(PermissionDenied):
            call()


def test_a_student_reaches_no_instructor_service(store):
    teacher = make_user(store, "teacher", "instructor")
    class_id, (ann, _) = a_class(store, teacher)
    aid = assign(store, teacher, class_id)
    attempt = submit(store, ann, aid)
    denied = [
        lambda: classes.list_classes(store, user=ann),
        lambda: classes.create_class(store, user=ann, name="Mine"),
        lambda: classes.students(store, user=ann, class_id=class_id),
        lambda: classes.import_roster(store, user=ann, class_id=class_id, content=ROSTER),
        lambda: classes.list_accounts(store, user=ann),
        lambda: classes.set_role(store, user=ann, user_id=ann.id, role="instructor"),
        lambda: assign(store, ann, class_id),
        lambda: gradebook.gradebook(store, user=ann, class_id=class_id),
        lambda: gradebook.instructor_report(store, user=ann, attempt_id=attempt),
        lambda: gradebook.override_score(store, user=ann, attempt_id=attempt, score=100, reason="I deserve it"),
        lambda: gradebook.regrade_assignment(store, user=ann, assignment_id=aid),
        lambda: item_analysis.item_analysis(store, user=ann, assignment_id=aid),
    ]
    for call in denied:
        with pytest.raises(PermissionDenied):
            call()


def test_an_admin_sees_every_class_and_makes_an_instructor(store):
    admin = make_user(store, "root", "admin")
    teacher = make_user(store, "teacher", "instructor")
    a_class(store, teacher)
    assert [c.name for c in classes.list_classes(store, user=admin)] == ["HIT 101"]
    new = classes.create_account(store, user=admin, name="Pat Kim", username="pkim", role="student")
    classes.set_role(store, user=admin, user_id=make_signed_in(store, "pkim").id, role="instructor")
    pat = make_signed_in(store, new.username)
    assert pat.role == "instructor"
    class_id = classes.create_class(store, user=admin, name="HIT 102", instructor_username="pkim")
    assert [c.class_id for c in classes.list_classes(store, user=pat)] == [class_id]
    with pytest.raises(PermissionDenied):
        classes.list_accounts(store, user=teacher)


# ------------------------------------------------------------------------------------------ assignments
def test_assignment_form_refuses_bad_values_at_their_field(store):
    teacher = make_user(store, "teacher", "instructor")
    class_id, _ = a_class(store, teacher)
    cases = [
        ({"due_at": NOW, "opens_at": NOW + dt.timedelta(days=1)}, "due_at"),
        ({"attempts_allowed": 0}, "attempts_allowed"),
        ({"scenario_key": "shipped:no-such-scenario"}, "scenario"),
        ({"scenario_key": "../../etc/passwd"}, "scenario"),
        ({"title": "  "}, "title"),
        ({"release_policy": "whenever"}, "release_policy"),
        ({"tasks": ("audit",)}, "tasks"),
        ({"class_id": None}, "class_id"),
    ]
    for overrides, field in cases:
        with pytest.raises(InvalidInput) as bad:
            assign(store, teacher, overrides.pop("class_id", class_id), **overrides)
        assert bad.value.field == field, overrides
    with store.session() as s:
        assert repo.assignments_for_class(s, class_id=class_id) == []


def test_an_assignment_opens_on_its_open_date(store):
    teacher = make_user(store, "teacher", "instructor")
    class_id, (ann, _) = a_class(store, teacher)
    aid = assign(store, teacher, class_id, opens_at=NOW + dt.timedelta(days=1), due_at=NOW + dt.timedelta(days=8))
    with pytest.raises(PermissionDenied, match="opens"):
        assignments.open_assignment(store, user=ann, assignment_id=aid)


@pytest.mark.parametrize("same_chart", [True, False])
def test_a_retry_keeps_the_same_chart_only_when_the_assignment_says_so(store, same_chart):
    teacher = make_user(store, "teacher", "instructor")
    class_id, (ann, _) = a_class(store, teacher)
    aid = assign(store, teacher, class_id, retry_same_chart=same_chart)
    first = submit(store, ann, aid)
    second = assignments.start_attempt(store, user=ann, assignment_id=aid)  # "Start attempt 2", after the review
    with store.session() as s:
        seeds = (repo.get_attempt(s, attempt_id=first).seed, repo.get_attempt(s, attempt_id=second).seed)
    assert (seeds[0] == seeds[1]) is same_chart
    assert assignments.assignment_settings(store, user=teacher, assignment_id=aid).retry_same_chart is same_chart


def test_an_assignment_can_keep_some_of_the_scenarios_tasks(store):
    teacher = make_user(store, "teacher", "instructor")
    class_id, (ann, _) = a_class(store, teacher)
    aid = assign(store, teacher, class_id, tasks=("enter",))
    assert assignments.assignment_settings(store, user=teacher, assignment_id=aid).tasks == ("enter",)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    assert not assignments.attempt_view(store, user=ann, attempt_id=attempt).codes


def test_variants_are_one_distinct_chart_per_student(store):
    teacher = make_user(store, "teacher", "instructor")
    class_id, (ann, _, _) = a_class(store, teacher, students=("ann", "ben", "cat"))
    aid = assign(store, teacher, class_id)
    plan = assignments.variant_plan(store, user=teacher, assignment_id=aid)
    names = assignments.generate_variants(plan.source_toml, plan.slug, plan.seeds)
    assert len(plan.seeds) == 3 and len(set(plan.seeds)) == 3 and len(names) == 3
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    with store.session() as s:
        assert repo.get_attempt(s, attempt_id=attempt).seed in plan.seeds


# ------------------------------------------------------------------------------------------ gradebook
def test_the_gradebook_shows_status_and_score_per_student_and_assignment(store):
    teacher = make_user(store, "teacher", "instructor")
    class_id, (ann, ben) = a_class(store, teacher)
    aid = assign(store, teacher, class_id)
    submit(store, ann, aid)
    assignments.open_assignment(store, user=ben, assignment_id=aid)
    book = gradebook.gradebook(store, user=teacher, class_id=class_id)
    cells = {r.username: r.cells[aid] for r in book.rows}
    assert cells["ann"].status == "graded" and 0 < cells["ann"].score < 100
    assert cells["ben"].status == "in progress" and cells["ben"].score is None


def test_an_override_is_kept_shown_to_the_student_and_on_record(store):
    teacher = make_user(store, "teacher", "instructor")
    class_id, (ann, _) = a_class(store, teacher)
    aid = assign(store, teacher, class_id)
    attempt = submit(store, ann, aid)
    graded = gradebook.gradebook(store, user=teacher, class_id=class_id).rows[0].cells[aid].score
    with pytest.raises(InvalidInput) as bad:
        gradebook.override_score(store, user=teacher, attempt_id=attempt, score=90, reason="")
    assert bad.value.field == "reason"
    with pytest.raises(InvalidInput) as bad:
        gradebook.override_score(store, user=teacher, attempt_id=attempt, score=101, reason="bonus")
    assert bad.value.field == "score"
    gradebook.override_score(store, user=teacher, attempt_id=attempt, score=90, reason="DOB was illegible")
    gradebook.override_score(store, user=teacher, attempt_id=attempt, score=85, reason="second look")
    cell = gradebook.gradebook(store, user=teacher, class_id=class_id).rows[0].cells[aid]
    assert cell.score == 85 and cell.graded_score == graded and cell.overridden
    seen = gradebook.score_overrides_for(store, user=ann, attempt_id=attempt)
    assert [(o.score, o.previous_score, o.reason) for o in seen] == [(85, 90, "second look"),
                                                                     (90, graded, "DOB was illegible")]
    assert seen[0].by == "Teacher"
    ben = make_signed_in(store, "ben")
    with pytest.raises(PermissionDenied):
        gradebook.score_overrides_for(store, user=ben, attempt_id=attempt)


def test_a_rubric_change_with_submissions_asks_first_then_regrades(store):
    teacher = make_user(store, "teacher", "instructor")
    class_id, (ann, _) = a_class(store, teacher)
    aid = assign(store, teacher, class_id)
    attempt = submit(store, ann, aid)
    before = workspace.grade_report(store, user=ann, attempt_id=attempt)
    with pytest.raises(gradebook.NeedsConfirmation, match="1 submission"):
        gradebook.change_rubric(store, user=teacher, assignment_id=aid, section_points={"demographics": 80})
    assert assignments.assignment_settings(store, user=teacher, assignment_id=aid).rubric_sections["demographics"] == 20
    with pytest.raises(InvalidInput) as bad:
        gradebook.change_rubric(store, user=teacher, assignment_id=aid, section_points={"demographics": -1}, confirmed=True)
    assert bad.value.field == "demographics"
    assert gradebook.change_rubric(store, user=teacher, assignment_id=aid, section_points={"demographics": 80},
                                   confirmed=True) == 1
    seen = []
    assert gradebook.regrade_assignment(store, user=teacher, assignment_id=aid,
                                        progress=lambda done, total: seen.append((done, total))) == 1
    after = workspace.grade_report(store, user=ann, attempt_id=attempt)
    assert seen == [(1, 1)] and after["score"] != before["score"]
    with store.session() as s:
        a = repo.get_assignment(s, assignment_id=aid)
        assert a.seed == repo.get_assignment(s, assignment_id=aid).seed  # same charts: only the rubric changed


def test_the_export_parses_back_into_the_gradebook(store):
    teacher = make_user(store, "teacher", "instructor")
    class_id, (ann, ben) = a_class(store, teacher)
    aid = assign(store, teacher, class_id)
    attempt = submit(store, ann, aid)
    gradebook.override_score(store, user=teacher, attempt_id=attempt, score=77.5, reason="regraded by hand")
    with store.session() as s:
        repo.set_email(s, user_id=ben.id, email="ben@example.edu")
    canvas = list(csv.DictReader(io.StringIO(gradebook.export_csv(store, user=teacher, class_id=class_id, lms="canvas"))))
    column = f"Sick visits ({aid})"
    assert list(canvas[0])[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert canvas[0]["Student"] == "Points Possible" and canvas[0][column] == "100"
    by_login = {r["SIS Login ID"]: r for r in canvas[1:]}
    assert by_login["ann"][column] == "77.5" and by_login["ann"]["Student"] == "Doe, Ann"
    assert by_login["ben"][column] == ""
    moodle = list(csv.DictReader(io.StringIO(gradebook.export_csv(store, user=teacher, class_id=class_id, lms="moodle"))))
    assert [(r["Username"], r["Email address"], r[column]) for r in moodle] == [("ann", "", "77.5"),
                                                                              ("ben", "ben@example.edu", "")]


def test_exported_names_cannot_run_as_spreadsheet_formulas(store):
    teacher = make_user(store, "teacher", "instructor")
    class_id = classes.create_class(store, user=teacher, name="HIT 101")
    classes.add_student(store, user=teacher, class_id=class_id, name="=HYPERLINK(\"http://x\")", username="eve")
    text = gradebook.export_csv(store, user=teacher, class_id=class_id, lms="moodle")
    assert "'=HYPERLINK" in text


# ------------------------------------------------------------------------------------------ item analysis
def test_item_analysis_ranks_what_most_students_missed(store):
    teacher = make_user(store, "teacher", "instructor")
    class_id, students = a_class(store, teacher, students=("ann", "ben", "cat"))
    aid = assign(store, teacher, class_id)
    for student in students:
        submit(store, student, aid, visits=True)  # a visit left out folds its codes into one finding
    analysis = item_analysis.item_analysis(store, user=teacher, assignment_id=aid)
    assert analysis.graded == 3
    assert analysis.fields and analysis.codes
    assert analysis.fields[0].students == 3 and analysis.fields[0].share == 1.0
    counts = [i.students for i in analysis.fields]
    assert counts == sorted(counts, reverse=True)
    assert all("[" not in i.item for i in analysis.fields)  # patient-specific parts are grouped away
    assert all(i.section == "coding" and " " not in i.item for i in analysis.codes)  # codes as the key has them


def test_nothing_is_found_for_an_unknown_id(store):
    teacher = make_user(store, "teacher", "instructor")
    with pytest.raises(NotFound):
        classes.students(store, user=teacher, class_id=999)
    with pytest.raises(NotFound):
        gradebook.instructor_report(store, user=teacher, attempt_id=999)


def test_an_initial_password_is_rehashed_at_full_strength_on_first_sign_in(sqlite_store):
    from argon2 import PasswordHasher

    from simulator.services import accounts

    teacher = make_user(sqlite_store, "teacher", "instructor")
    class_id = classes.create_class(sqlite_store, user=teacher, name="HIT 101")
    new = classes.add_student(sqlite_store, user=teacher, class_id=class_id, name="Ann Doe", username="ann")
    with sqlite_store.session() as s:
        assert PasswordHasher().check_needs_rehash(repo.get_user_by_username(s, username="ann").password_hash)
    assert accounts.authenticate(sqlite_store, username="ann", password=new.password) is not None
    with sqlite_store.session() as s:
        assert not PasswordHasher().check_needs_rehash(repo.get_user_by_username(s, username="ann").password_hash)


def test_the_models_match_the_migrated_schema(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from simulator.store.models import Base

    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_item_analysis_names_fields_in_the_words_of_the_report_not_fhir_paths():
    words = item_analysis.item_words
    assert words("demographics", {"path": "Patient.birthDate", "kind": "wrong",
                                  "message": "Date of birth: chart says 08/28/1957, you entered 08/24/1957"}) == "Date of birth"
    assert words("encounter", {"path": "Encounter[2].period.start", "kind": "wrong",
                               "message": "Time in: chart says 09:10, you entered 19:10"}) == "Time in"
    assert words("vital signs", {"path": "Observation[e1].value", "kind": "wrong",
                                 "message": "Weight, visit 3: Value: chart says 177.4 lb, you entered 717.4 lb"}) == "Weight: Value"
    assert words("problem list", {"path": "Condition[x]", "kind": "missing",
                                  "message": "Gout: on the chart but not entered"}) == "left out: on the chart, not entered"
    assert words("coding", {"path": "Claim[1].item[2].modifier", "kind": "wrong", "message": "…"}) == "modifiers"
