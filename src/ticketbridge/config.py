"""Settings, read once from the environment (prefix `TICKETBRIDGE_`) and passed down explicitly."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/ticketbridge.db"


class LogFormat(StrEnum):
    JSON = "json"  #: one JSON object a line, for log shippers
    CONSOLE = "console"  #: coloured key=value lines, for a person at a terminal


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TICKETBRIDGE_", env_file=None, extra="ignore", frozen=True)

    database_url: str = DEFAULT_DATABASE_URL
    #: Comma-separated Fernet keys; the first encrypts, all decrypt (rotation). Or a file holding them.
    secrets_key: SecretStr | None = None
    secrets_key_file: Path | None = None
    data_dir: Path = Path("./data")
    worker_enabled: bool = True
    worker_concurrency: int = Field(4, ge=1)
    #: A claimed job stays held this long unless its worker's heartbeat renews it (every third of it).
    job_lease_seconds: float = Field(30.0, gt=0)
    #: Runs a job may start before it ends FAILED; a deferred run (RetryLater) gives its attempt back.
    job_max_attempts: int = Field(5, ge=1)
    #: At most this many jobs of one connection run at once, across all workers.
    job_connection_concurrency: int = Field(2, ge=1)
    #: Finished jobs are swept after this long.
    job_retention_days: float = Field(14.0, gt=0)
    #: Workers poll this often when no wake-up arrives.
    job_poll_interval_seconds: float = Field(2.0, gt=0)
    #: The first retry waits up to this long after a failed attempt, doubling with each further one.
    job_backoff_seconds: float = Field(2.0, ge=0)
    log_level: str = "INFO"
    log_format: LogFormat | None = None
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    admin_token: SecretStr | None = None
    max_body_bytes: int = Field(1_048_576, ge=1024)
    #: Embedded mode migrates on start; set false to require `ticketbridge db upgrade` first.
    auto_migrate: bool | None = None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def is_embedded(self) -> bool:
        """SQLite means the embedded single-process mode; anything else is distributed."""
        return self.database_url.startswith("sqlite")

    @property
    def should_auto_migrate(self) -> bool:
        return self.is_embedded if self.auto_migrate is None else self.auto_migrate

    @property
    def effective_log_format(self) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        return LogFormat.CONSOLE if sys.stderr.isatty() else LogFormat.JSON
