"""One typed settings object, read from the environment (prefix ``HITSIM_``).

Nothing else in hitsim reads ``os.environ``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

ENV_PREFIX = "HITSIM_"


class ConfigError(Exception):
    """A setting has a value hitsim cannot use; the message names the setting."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    storage_secret: str
    host: str
    port: int
    encoder_index: Path | None = None  # the encoder's index file; default: in the data directory

    @property
    def encoder_path(self) -> Path:
        from simulator.coding.encoder import default_path

        return self.encoder_index or default_path(self.data_dir)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str, default: str) -> str:
            return env.get(ENV_PREFIX + name, default).strip() or default

        data_dir = Path(get("DATA_DIR", str(Path.cwd() / "hitsim-data"))).expanduser().resolve()
        port_text = get("PORT", "8080")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"HITSIM_PORT must be a port number between 1 and 65535, got {port_text!r}")
        database_url = get("DATABASE_URL", f"sqlite:///{data_dir / 'hitsim.sqlite3'}")
        secret = env.get(ENV_PREFIX + "STORAGE_SECRET", "").strip()
        index = env.get(ENV_PREFIX + "ENCODER_INDEX", "").strip()
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            storage_secret=secret,
            host=get("HOST", "127.0.0.1"),
            port=int(port_text),
            encoder_index=Path(index).expanduser().resolve() if index else None,
        )

    def ensure_data_dir(self) -> Settings:
        """Create the data directory and, when none was given, a storage secret kept inside it."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"HITSIM_DATA_DIR {self.data_dir} cannot be created: {exc.strerror}") from exc
        if self.storage_secret:
            return self
        secret_file = self.data_dir / "storage-secret"
        if not secret_file.exists():
            secret_file.write_text(secrets.token_urlsafe(48))
            secret_file.chmod(0o600)
        return Settings(
            data_dir=self.data_dir,
            database_url=self.database_url,
            storage_secret=secret_file.read_text().strip(),
            host=self.host,
            port=self.port,
            encoder_index=self.encoder_index,
        )
