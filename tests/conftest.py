"""Shared fixtures: a real database (SQLite file; PostgreSQL when HITSIM_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from sqlalchemy import MetaData, create_engine

from simulator.services import accounts
from simulator.store import Store, open_store

PG_URL = os.environ.get("HITSIM_TEST_DATABASE_URL", "")
DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]


def _reset_postgres(url: str) -> None:
    """Drop every table (the schema is then rebuilt by the real migrations)."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    meta = MetaData()
    meta.reflect(engine)
    meta.drop_all(engine)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty database: a SQLite file, and PostgreSQL when HITSIM_TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        s = open_store(f"sqlite:///{tmp_path / 'hitsim.sqlite3'}")
    else:
        if not PG_URL:
            pytest.skip("PostgreSQL tests need HITSIM_TEST_DATABASE_URL (e.g. postgresql://127.0.0.1:5432/test)")
        _reset_postgres(PG_URL)
        s = open_store(PG_URL)
    yield s
    s.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'hitsim.sqlite3'}")
    yield s
    s.dispose()


@pytest.fixture(autouse=True)
def _fresh_sign_in_throttle() -> None:
    """Wrong passwords of one test do not slow down the next one's sign-ins."""
    accounts.throttle = accounts.SignInThrottle()


async def until_signed_in_or_refused(user) -> None:  # type: ignore[no-untyped-def]
    """After a click on Sign in: wait until the password check (off the event loop) led to another page or a message."""
    import asyncio

    login_client = user.client
    for _ in range(600):
        if user.client is not login_client:
            return
        try:
            if user.find(marker="login-error").elements:  # found only once visible
                return
        except AssertionError:
            pass
        await asyncio.sleep(0.05)


def make_user(store: Store, username: str, role: str = "student") -> accounts.SignedInUser:
    return accounts.create_account(store, username=username, display_name=username.title(), role=role,
                                   password=f"{username}-password-1")


def enter_the_visits(store: Store, student: accounts.SignedInUser, attempt_id: int) -> None:
    """The student enters the chart's patients and visits as the chart has them, and nothing recorded at them.

    A visit left out folds everything recorded at it into one finding, its claim included (grading/grade.py,
    _fold_missing_visits); with the visits entered, each code the chart calls for is a finding of its own."""
    from simulator.services import cases, workspace
    from simulator.store import repo
    from tests.grading_cases import student_copy

    with store.session() as s:
        a = repo.get_attempt(s, attempt_id=attempt_id)
        key = cases.case_for(a.assignment.scenario.source_toml, a.assignment.scenario.slug, a.seed).key
    for entry in student_copy(key, coding=False)["entry"]:
        if entry["resource"]["resourceType"] in ("Patient", "Encounter"):
            workspace.save_entry(store, user=student, attempt_id=attempt_id, resource=entry["resource"], expected_version=0)


@pytest.fixture
def app_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoder_path: Path) -> Iterator[Store]:
    """The database the app under the `user` fixture runs on (tests/app_main.py reads these settings)."""
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    monkeypatch.setenv("HITSIM_ENCODER_INDEX", str(encoder_path))
    monkeypatch.setenv("HITSIM_DATABASE_URL", url)
    monkeypatch.setenv("HITSIM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HITSIM_STORAGE_SECRET", "test-secret-not-for-production")
    s = open_store(url)
    yield s
    s.dispose()


@pytest.fixture(scope="session")
def encoder_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The encoder index, built once for the test session (the app builds it once per data directory)."""
    from simulator.coding.encoder import build_index, default_path

    return build_index(default_path(tmp_path_factory.mktemp("encoder")))


@pytest.fixture(scope="session")
def encoder(encoder_path: Path):
    from simulator.coding.encoder import Encoder

    return Encoder(encoder_path)


# ------------------------------------------------------------------------------------------ browser tests
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DemoServer(NamedTuple):
    base: str  # http://127.0.0.1:PORT
    passwords: dict[str, str]  # the demo accounts' new passwords, as `hitsim demo` prints them
    process: subprocess.Popen[str]


@pytest.fixture
def demo_server(tmp_path: Path, encoder_path: Path) -> Iterator[DemoServer]:
    """`hitsim demo` as a subprocess on a free port, for every browser test (one way to start the app under test).

    PYTEST_CURRENT_TEST is removed from its environment: with it NiceGUI believes it runs in its own test
    harness (NOTES-nicegui.md). The wait for start-up is generous: the machine may be busy."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST" and not k.startswith("HITSIM_")}
    env |= {"HITSIM_DATA_DIR": str(tmp_path / "data"), "HITSIM_PORT": str(port), "PYTHONUNBUFFERED": "1",
            "HITSIM_ENCODER_INDEX": str(encoder_path)}
    proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", "demo"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    passwords: dict[str, str] = {}
    deadline = time.time() + 180
    try:
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = re.match(r"\s+(\w+)\s+password: (\S+)", line)
            if match:
                passwords[match.group(1)] = match.group(2)
            if "ready to go" in line:
                break
        else:
            pytest.fail("hitsim demo did not start:\n" + "".join(lines))
        assert {"instructor", "student"} <= passwords.keys(), "".join(lines)
        yield DemoServer(f"http://127.0.0.1:{port}", passwords, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
