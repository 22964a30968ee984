"""Settings come from HITSIM_* variables; a bad value names the variable."""

from __future__ import annotations

import pytest

from simulator.config import ConfigError, Settings


def test_defaults_put_sqlite_in_the_data_directory(tmp_path):
    s = Settings.from_env({"HITSIM_DATA_DIR": str(tmp_path / "d")})
    assert s.database_url == f"sqlite:///{tmp_path / 'd' / 'hitsim.sqlite3'}"
    assert (s.host, s.port) == ("127.0.0.1", 8080)


def test_every_setting_is_read_from_its_variable(tmp_path):
    s = Settings.from_env({"HITSIM_DATA_DIR": str(tmp_path), "HITSIM_DATABASE_URL": "postgresql://h/db",
                           "HITSIM_STORAGE_SECRET": "s3cret", "HITSIM_HOST": "0.0.0.0", "HITSIM_PORT": "9000"})
    assert (s.database_url, s.storage_secret, s.host, s.port) == ("postgresql://h/db", "s3cret", "0.0.0.0", 9000)


def test_the_storage_secret_is_generated_once_and_kept(tmp_path):
    env = {"HITSIM_DATA_DIR": str(tmp_path / "d")}
    first = Settings.from_env(env).ensure_data_dir()
    second = Settings.from_env(env).ensure_data_dir()
    assert len(first.storage_secret) >= 32 and first.storage_secret == second.storage_secret
    assert (tmp_path / "d" / "storage-secret").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("port", ["eighty", "0", "70000"])
def test_a_bad_port_names_the_variable(port):
    with pytest.raises(ConfigError, match="HITSIM_PORT must be a port number"):
        Settings.from_env({"HITSIM_PORT": port})


def test_the_sqlite_file_is_readable_by_its_owner_only(tmp_path):
    """It holds password hashes and every attempt's seed: 0600, its WAL files too; an existing file is tightened."""
    from simulator.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'new.sqlite3'}")
    with store.session():
        pass
    files = [p for p in tmp_path.iterdir() if p.name.startswith("new.sqlite3")]
    assert files and all(p.stat().st_mode & 0o077 == 0 for p in files)
    store.dispose()
    old = tmp_path / "old.sqlite3"
    old.touch(mode=0o644)
    old.chmod(0o644)
    open_store(f"sqlite:///{old}").dispose()
    assert old.stat().st_mode & 0o777 == 0o600
