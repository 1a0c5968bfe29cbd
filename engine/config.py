"""Settings from the environment (``CALLGOV_*``), in one place, with the defaults a newcomer needs.

Every variable is listed in ``docs/configuration.md``. Secrets are never read from files in the
repository (DESIGN decision 12).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """The configuration of one callgov process."""

    instance_path: Path
    database_url: str
    storage_path: Path
    scheduler_enabled: bool = False
    secret_key: str | None = None
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``environ`` (default: the process environment)."""
        env = dict(os.environ if environ is None else environ)
        instance = Path(env.get("CALLGOV_INSTANCE_PATH") or Path.cwd() / "instance").resolve()
        database = env.get("CALLGOV_DATABASE_URL") or f"sqlite:///{instance / 'callgov.sqlite3'}"
        storage = Path(env.get("CALLGOV_STORAGE_PATH") or instance / "storage").resolve()
        return cls(
            instance_path=instance,
            database_url=database,
            storage_path=storage,
            scheduler_enabled=_flag(env.get("CALLGOV_SCHEDULER"), False),
            secret_key=env.get("CALLGOV_SECRET_KEY") or None,
            environ=env,
        )

    def ensure_instance_folder(self) -> None:
        """Create the instance folder (and the SQLite file's folder) if they do not exist."""
        self.instance_path.mkdir(parents=True, exist_ok=True)
        if self.database_url.startswith("sqlite:///"):
            Path(self.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
