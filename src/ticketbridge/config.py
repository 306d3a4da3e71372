"""Settings, read once from the environment (prefix `TICKETBRIDGE_`) and passed down explicitly."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import limits
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ticketbridge.enums import Vendor

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/ticketbridge.db"
#: What `ticketbridge demo` allows besides TICKETBRIDGE_CORS_ORIGINS: any local development server
#: (`python3 -m http.server 8080`, Vite, ...) on localhost or 127.0.0.1, any port, plain HTTP.
LOCAL_DEV_ORIGIN_REGEX = r"http://(localhost|127\.0\.0\.1)(:[0-9]{1,5})?"
#: No retry wait (backoff, or a vendor's Retry-After) longer than this is slept inline: the error goes
#: to the caller, and a job defers for it instead of holding a worker.
VENDOR_RETRY_WAIT_MAX_SECONDS = 10.0
DEFAULT_VENDOR_TIMEOUT_SECONDS = 8.0
#: A host name or IPv4 address, `*.` and a domain, or an IPv6 address (without brackets).
_HOST_PATTERN = re.compile(r"(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*")


class LogFormat(StrEnum):
    JSON = "json"  #: one JSON object a line, for log shippers
    CONSOLE = "console"  #: coloured key=value lines, for a person at a terminal


@dataclass(frozen=True, slots=True)
class OAuthAppSettings:
    """One vendor's OAuth app (TICKETBRIDGE_<VENDOR>_OAUTH_*); None endpoints are the vendor's own."""

    client_id: str
    client_secret: SecretStr
    redirect_uri: str
    auth_base_url: str | None
    api_base_url: str | None
    refresh_margin_seconds: float


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
    #: One vendor HTTP request, connect to last byte, ends within this long (a total, not per phase).
    #: Unset: 8 s, or the retry budget when that is shorter. A connection's `timeout_secs` can only lower it.
    vendor_timeout_seconds: float | None = Field(None, gt=0)
    #: Attempts of one vendor call, the first included, when the failure is transient (429, 5xx, timeout).
    vendor_retry_attempts: int = Field(5, ge=1)
    #: One vendor call, with its inline retries and their waits, ends within this long: a retry or a
    #: wait that could end later is cut, and the error goes to the caller (a job defers).
    #: Unset: 90% of a third of the lease (9 s at the default 30 s lease).
    vendor_retry_budget_seconds: float | None = Field(None, gt=0)
    #: How long after an unconfirmed create a vendor whose search lags (Jira) is searched for its
    #: marker. Unset: the connector's own default (`marker_settle_seconds`, 15 s for Jira). It must
    #: exceed the vendor's real index lag, or a retry may create a duplicate.
    vendor_search_settle_seconds: float | None = Field(None, ge=0)
    #: PostgreSQL connections each process keeps open, and how many more it may open under load. A
    #: request holds one only for its short transactions, and each running job step one; unset, the
    #: pool is 10 plus `worker_concurrency` (the in-process or standalone worker's jobs).
    database_pool_size: int | None = Field(None, ge=1)
    database_max_overflow: int = Field(10, ge=0)
    #: Prepared statements asyncpg keeps per PostgreSQL connection (SQLAlchemy's
    #: `prepared_statement_cache_size`); 0 turns the cache off, as a transaction-pooling PgBouncer needs.
    database_statement_cache_size: int = Field(500, ge=0)
    #: API keys and connections are looked up at most this often per process: a revoked key, or a
    #: paused or deleted connection, is refused by every process within this long (at once by the
    #: process that made the change). Failed lookups are kept no longer. 0 looks up every request.
    auth_cache_ttl_seconds: float = Field(1.0, ge=0, le=60)
    #: The API keys' last_used_at is written by a background task this often (one UPDATE per flush),
    #: never on the request path; it is a hint for people, kept to the minute.
    api_key_usage_flush_seconds: float = Field(5.0, gt=0, le=60)
    log_level: str = "INFO"
    log_format: LogFormat | None = None
    #: Browser origins allowed to call the API, exactly as the browser sends them. None by default.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: Origins matching this regular expression (whole origin) are allowed too; `ticketbridge demo`
    #: sets LOCAL_DEV_ORIGIN_REGEX when it is unset.
    cors_origin_regex: str | None = None
    admin_token: SecretStr | None = None
    #: Vendor base URLs may use plain http for any host (e.g. sandboxes on another machine). Off, http is
    #: accepted only for loopback hosts (127.0.0.0/8, ::1, localhost, *.localhost); https everywhere else.
    allow_http_vendors: bool = False
    #: Per vendor, the hosts its connections may point at, as JSON: {"JIRA": ["*.atlassian.net"]}. A
    #: pattern is a host name or IP address, or `*.` and a domain (any host under it, not the domain
    #: itself). A vendor left out (or an empty object) may point anywhere; loopback hosts are not exempt.
    vendor_hosts: dict[Vendor, list[str]] = Field(default_factory=dict)
    max_body_bytes: int = Field(1_048_576, ge=1024)
    #: Embedded mode migrates on start; set false to require `ticketbridge db upgrade` first.
    auto_migrate: bool | None = None
    #: Inbound rate limits in the `limits` notation: "200/10seconds" is at most 200 requests in any
    #: 10 s (a moving window). One per API key (and per admin token), a looser one per organization,
    #: across its keys. Empty or 0 disables one. The README's "Rate limits" justifies the defaults.
    rate_limit_per_key: str | None = "200/10seconds"
    rate_limit_per_organization: str | None = "600/10seconds"
    #: The Jira Cloud OAuth 2.0 (3LO) app customers connect through (developer.atlassian.com console):
    #: its client id and secret, and the callback registered for it, which must reach
    #: `GET /v1/oauth/jira/callback`. Unset: connecting with OAuth answers 404 NOT_CONFIGURED; API
    #: tokens work as ever.
    jira_oauth_client_id: str | None = None
    jira_oauth_client_secret: SecretStr | None = None
    jira_oauth_redirect_uri: str | None = None
    #: Atlassian's authorization server (`/authorize`, `/oauth/token`) and API gateway
    #: (`/oauth/token/accessible-resources`, `/ex/jira/{cloudId}/...`); unset, Atlassian's own
    #: (auth.atlassian.com, api.atlassian.com). The Jira sandbox serves both.
    jira_oauth_auth_base_url: str | None = None
    jira_oauth_api_base_url: str | None = None
    #: An access token is refreshed this long before it expires (Atlassian's last an hour).
    jira_oauth_refresh_margin_seconds: float = Field(300.0, ge=0, le=3000)
    #: The idle-expiry guard: a grant whose refresh token has gone unused this long is refreshed by
    #: the worker (Atlassian expires a refresh token after 90 days unused), every
    #: `oauth_idle_sweep_interval_seconds`.
    oauth_idle_refresh_days: float = Field(75.0, gt=0, lt=90)
    oauth_idle_sweep_interval_seconds: float = Field(3600.0, gt=0)
    #: Redis shared by the API processes (the rate limits' counters); unset, each process counts alone.
    redis_url: str | None = None
    #: Prefixes every key this service writes to Redis, so several deployments can share one server.
    redis_key_prefix: str = "ticketbridge"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("vendor_hosts")
    @classmethod
    def _check_host_patterns(cls, value: dict[Vendor, list[str]]) -> dict[Vendor, list[str]]:
        for patterns in value.values():
            for pattern in patterns:
                if not _HOST_PATTERN.fullmatch(pattern):
                    raise ValueError(f"{pattern!r} is not a host name, an IP address, or `*.` and a domain")
        return {vendor: [pattern.lower() for pattern in patterns] for vendor, patterns in value.items()}

    @field_validator("rate_limit_per_key", "rate_limit_per_organization")
    @classmethod
    def _check_rate_limit(cls, value: str | None) -> str | None:
        if value is None or value.strip() in ("", "0"):
            return None
        parsed = list(limits.parse_many(value))  # ValueError on anything but the notation
        if len(parsed) != 1 or parsed[0].amount < 1:
            raise ValueError(f"{value!r} is not one limit of at least 1 request, such as '200/10seconds'")
        return value.strip()

    @model_validator(mode="after")
    def _vendor_calls_fit_the_lease(self) -> Settings:
        """A vendor write starts only while a third of the lease is left (JobContext.check_lease), so
        one call, inline retries included, must end within that third: else another worker could take
        the job over while the write is still in flight."""
        timeout, budget = self.effective_vendor_timeout_seconds, self.effective_vendor_retry_budget_seconds
        if timeout > budget:
            raise ValueError(
                f"TICKETBRIDGE_VENDOR_TIMEOUT_SECONDS={timeout:g} is longer than the retry budget "
                f"(TICKETBRIDGE_VENDOR_RETRY_BUDGET_SECONDS, here {budget:g} s), which bounds every vendor call "
                "including its first attempt: lower the timeout or raise the budget"
            )
        limit = self.job_lease_seconds / 3
        worst = self.vendor_call_worst_case_seconds
        if worst > limit:
            raise ValueError(
                f"one vendor call can last {worst:g} s (TICKETBRIDGE_VENDOR_TIMEOUT_SECONDS={timeout:g} x "
                f"TICKETBRIDGE_VENDOR_RETRY_ATTEMPTS={self.vendor_retry_attempts} plus retry waits, cut at "
                f"TICKETBRIDGE_VENDOR_RETRY_BUDGET_SECONDS={budget:g}), more than a third of "
                f"TICKETBRIDGE_JOB_LEASE_SECONDS={self.job_lease_seconds:g} ({limit:g} s): lower the vendor "
                "timeout, the attempts or the retry budget, or lengthen the lease"
            )
        return self

    @property
    def effective_vendor_retry_budget_seconds(self) -> float:
        if self.vendor_retry_budget_seconds is not None:
            return self.vendor_retry_budget_seconds
        return 0.9 * self.job_lease_seconds / 3

    @property
    def effective_vendor_timeout_seconds(self) -> float:
        if self.vendor_timeout_seconds is not None:
            return self.vendor_timeout_seconds
        return min(DEFAULT_VENDOR_TIMEOUT_SECONDS, self.effective_vendor_retry_budget_seconds)

    @property
    def vendor_call_worst_case_seconds(self) -> float:
        """The longest one vendor call can take: every attempt timing out and each wait at its cap,
        all of it cut at the retry budget (connectors.http.with_retries enforces both)."""
        attempts = self.vendor_retry_attempts
        unbounded = attempts * self.effective_vendor_timeout_seconds + (attempts - 1) * VENDOR_RETRY_WAIT_MAX_SECONDS
        return min(unbounded, self.effective_vendor_retry_budget_seconds)

    @property
    def oauth_apps(self) -> dict[str, OAuthAppSettings]:
        """The OAuth apps configured, by the vendor's slug (`OAuthProvider.slug`); an app lacking its
        client id, secret or redirect URI is left out."""
        apps: dict[str, OAuthAppSettings] = {}
        secret = self.jira_oauth_client_secret
        if self.jira_oauth_client_id and secret is not None and self.jira_oauth_redirect_uri:
            apps["jira"] = OAuthAppSettings(
                client_id=self.jira_oauth_client_id,
                client_secret=secret,
                redirect_uri=self.jira_oauth_redirect_uri,
                auth_base_url=self.jira_oauth_auth_base_url,
                api_base_url=self.jira_oauth_api_base_url,
                refresh_margin_seconds=self.jira_oauth_refresh_margin_seconds,
            )
        return apps

    @property
    def effective_database_pool_size(self) -> int:
        return self.database_pool_size if self.database_pool_size is not None else 10 + self.worker_concurrency

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
