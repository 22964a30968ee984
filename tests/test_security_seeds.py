"""Answer keys cannot be rebuilt offline: students' case seeds derive from the installation's secret key."""

from __future__ import annotations

import hashlib
import inspect
import os
import threading

from simulator.config import Settings
from simulator.generate import generate_case, load_scenario
from simulator.services import assignments, cases
from simulator.store import open_store, repo
from tests.conftest import make_user

SCENARIO = "clinic-chronic-care"


def _class(store, students=("ann", "ben")):
    teacher = make_user(store, "teacher", "instructor")
    people = [make_user(store, name) for name in students]
    with store.session() as s:
        c = repo.create_class(s, name="HIT 101", term="Fall", instructor_id=teacher.id)
        for st in people:
            repo.enrol(s, class_id=c.id, user_id=st.id)
        class_id = c.id
    return teacher, people, class_id


def _assign(store, teacher, class_id, **kwargs):
    return assignments.create_assignment(store, user=teacher, class_id=class_id, title="Chart entry",
                                         scenario=load_scenario(SCENARIO), due_at=None, **kwargs)


def _patient_name(seed: int) -> str:
    key = generate_case(load_scenario(SCENARIO), seed).key
    patient = next(e["resource"] for e in key["entry"] if e["resource"]["resourceType"] == "Patient")
    return f"{patient['name'][0]['given'][0]} {patient['name'][0]['family']}"


def test_a_student_cannot_rebuild_their_key_from_public_code_and_their_own_data(store):
    """The attack of the issue: try the scenario's public seed with every small student id and attempt number,
    with the old unkeyed formula and the new one under guessable keys; none gives the student's patient."""
    teacher, (ann, _ben), class_id = _class(store)
    aid = _assign(store, teacher, class_id)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    view = assignments.attempt_view(store, user=ann, attempt_id=attempt)
    own_patient = view.pages[0].patient  # what the student reads on their chart

    public = load_scenario(SCENARIO).default_seed
    guesses = {public}
    for student_id in range(1, 20):
        for number in (1, 2, 3):
            guesses.add(int.from_bytes(hashlib.sha256(f"{public}:{student_id}:{number}".encode()).digest()[:6], "big"))
            for key in (b"", b"hitsim", b"secret", public.to_bytes(8, "big")):
                guesses.add(cases.variant_seed(key, public, student_id, number))
    rebuilt = {_patient_name(seed) for seed in sorted(guesses)[:60]} | {_patient_name(public)}
    assert own_patient not in rebuilt
    with store.session() as s:
        stored = repo.get_attempt(s, attempt_id=attempt)
        assert stored.seed not in guesses and stored.assignment.seed != public


def test_the_seed_never_reaches_the_students_chart(store):
    teacher, (ann, _), class_id = _class(store)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=_assign(store, teacher, class_id))
    view = assignments.attempt_view(store, user=ann, attempt_id=attempt)
    with store.session() as s:
        seed = repo.get_attempt(s, attempt_id=attempt).seed
    assert all(str(seed) not in page.html and "seed" not in page.html.lower() for page in view.pages)


def test_every_assignment_gets_its_own_random_base_seed_whoever_creates_it(store):
    teacher, _, class_id = _class(store)
    ids = [_assign(store, teacher, class_id) for _ in range(3)]
    with store.session() as s:
        seeds = {repo.get_assignment(s, assignment_id=i).seed for i in ids}
    assert len(seeds) == 3 and load_scenario(SCENARIO).default_seed not in seeds
    assert "seed" not in inspect.signature(assignments.create_assignment).parameters  # no caller can pass a public one


def test_seeds_are_deterministic_under_the_key_and_differ_per_student_attempt_and_key():
    key = b"k" * 48
    assert cases.variant_seed(key, 42, 7, 1) == cases.variant_seed(key, 42, 7, 1)
    derived = {cases.variant_seed(key, 42, s, n) for s in range(1, 30) for n in (1, 2)}
    assert len(derived) == 58
    assert cases.variant_seed(key, 42, 7, 1) != cases.variant_seed(b"other" * 10, 42, 7, 1)
    assert all(0 <= seed < 2 ** 62 for seed in derived)


def test_the_server_derives_the_same_seed_again_with_its_key(tmp_path):
    settings = Settings.from_env({"HITSIM_DATA_DIR": str(tmp_path / "data")}).ensure_data_dir()
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    store = open_store(url, seed_secret=settings.seed_secret)
    teacher, (ann,), class_id = _class(store, ("ann",))
    aid = _assign(store, teacher, class_id)
    attempt = assignments.open_assignment(store, user=ann, assignment_id=aid)
    with store.session() as s:
        row = repo.get_attempt(s, attempt_id=attempt)
        stored, base = row.seed, row.assignment.seed
    store.dispose()
    again = Settings.from_env({"HITSIM_DATA_DIR": str(tmp_path / "data")}).ensure_data_dir()
    assert cases.variant_seed(again.seed_secret.encode(), base, ann.id, 1) == stored


def test_the_seed_secret_is_created_owner_only_once_and_kept(tmp_path):
    env = {"HITSIM_DATA_DIR": str(tmp_path / "d")}
    first = Settings.from_env(env).ensure_data_dir()
    second = Settings.from_env(env).ensure_data_dir()
    assert len(first.seed_secret) >= 32 and first.seed_secret == second.seed_secret != first.storage_secret
    for name in ("seed-secret", "storage-secret"):
        assert (tmp_path / "d" / name).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o700
    assert sorted(os.listdir(tmp_path / "d")) == ["seed-secret", "storage-secret"]  # no temporary files left


def test_processes_starting_together_agree_on_one_secret(tmp_path):
    from simulator.config import read_or_create_secret

    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(read_or_create_secret(tmp_path / "seed-secret")))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results) == 8


def test_a_secret_from_the_environment_is_used_as_given(tmp_path):
    settings = Settings.from_env({"HITSIM_DATA_DIR": str(tmp_path), "HITSIM_SEED_SECRET": "x" * 40}).ensure_data_dir()
    assert settings.seed_secret == "x" * 40 and not (tmp_path / "seed-secret").exists()
