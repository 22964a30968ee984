"""Engine, sessions and migrations. Only ``simulator.store`` talks SQL."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker


class StoreError(Exception):
    """The database cannot be used; the message says why and which setting to change."""


def _alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("simulator.store").joinpath("migrations")))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"HITSIM_DATABASE_URL {url!r} is not a database URL "
                         "(expected e.g. sqlite:///path/hitsim.sqlite3 or postgresql+psycopg://user@host/db)") from exc
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        engine = create_engine(parsed, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"HITSIM_DATABASE_URL uses {parsed.drivername!r}, whose driver is not installed "
                         "(for PostgreSQL: pip install 'hitsim[postgres]')") from exc
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (creates it on an empty database)."""
    url = engine.url.render_as_string(hide_password=False)
    cfg = _alembic_config(url)
    try:
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
    except OperationalError as exc:
        shown = engine.url.render_as_string(hide_password=True)
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StoreError(f"cannot reach the database at {shown}: {reason}. "
                         "Check HITSIM_DATABASE_URL (or unset it to use the built-in SQLite file).") from exc


def schema_tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


class Store:
    """The database: one engine, sessions that commit on success and roll back on error.

    ``seed_secret`` is the installation's key that students' case seeds derive from (see
    ``simulator.services.cases``); it lives in the data directory, never in the database.
    """

    def __init__(self, engine: Engine, seed_secret: str | None = None):
        self.engine = engine
        # Without the installation's key (tests, tools that create no attempts) a key for this process only:
        # seeds are stored with each attempt, so nothing depends on deriving them again.
        self.seed_secret = (seed_secret or secrets.token_urlsafe(48)).encode()
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def _owner_only(path: os.PathLike[str] | str) -> None:
    """The SQLite file holds password hashes and every attempt's seed: readable by its owner only (0600). A new file
    is created so before SQLite opens it (its -wal and -shm files take the database file's mode); an existing one is
    tightened."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o600)
    else:
        os.close(fd)


def open_store(url: str, *, seed_secret: str | None = None) -> Store:
    """Connect, migrate to the newest schema, and return the store. Raises StoreError with advice."""
    if url.startswith("sqlite:///"):
        from pathlib import Path

        path = Path(url.removeprefix("sqlite:///"))
        if str(path) not in ("", ":memory:") and not path.parent.exists():
            raise StoreError(f"HITSIM_DATABASE_URL points at {path}, but the folder {path.parent} does not exist")
        if str(path) not in ("", ":memory:"):
            _owner_only(path)
    engine = make_engine(url)
    migrate(engine)
    return Store(engine, seed_secret)
