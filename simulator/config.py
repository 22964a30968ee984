"""One typed settings object, read from the environment (prefix ``HITSIM_``).

Nothing else in hitsim reads ``os.environ``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
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
    seed_secret: str = ""  # the HMAC key students' case seeds derive from; default: generated into the data directory
    secure_cookies: bool = False  # the session cookie only travels over HTTPS (set when served behind TLS)

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
        secure = get("SECURE_COOKIES", "0").lower()
        if secure not in ("0", "1", "true", "false", "yes", "no"):
            raise ConfigError(f"HITSIM_SECURE_COOKIES must be 1 (served over HTTPS) or 0, got {secure!r}")
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            storage_secret=secret,
            host=get("HOST", "127.0.0.1"),
            port=int(port_text),
            encoder_index=Path(index).expanduser().resolve() if index else None,
            seed_secret=env.get(ENV_PREFIX + "SEED_SECRET", "").strip(),
            secure_cookies=secure in ("1", "true", "yes"),
        )

    @property
    def session_storage(self) -> Path:
        """Where NiceGUI keeps its server-side storage: inside the data directory, not the working directory."""
        return self.data_dir / "sessions"

    def ensure_data_dir(self) -> Settings:
        """Create the data directory (owner-only) and the secrets that were not given, kept inside it (0600)."""
        try:
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            if self.data_dir.stat().st_uid == os.getuid():
                self.data_dir.chmod(0o700)
            storage_secret = self.storage_secret or read_or_create_secret(self.data_dir / "storage-secret")
            seed_secret = self.seed_secret or read_or_create_secret(self.data_dir / "seed-secret")
        except OSError as exc:
            raise ConfigError(f"HITSIM_DATA_DIR {self.data_dir} cannot be used: {exc.strerror}") from exc
        return replace(self, storage_secret=storage_secret, seed_secret=seed_secret)


def read_or_create_secret(path: Path) -> str:
    """The secret kept in ``path``, created first if missing: written owner-only (0600) under a temporary name,
    then linked into place, so no other user ever sees it and two processes starting at once agree on one."""
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
            try:
                os.link(tmp, path)  # fails if another process created it first: then theirs is kept
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise OSError(0, f"{path.name} holds a secret shorter than 32 characters; delete the file to generate a new one")
    return secret
