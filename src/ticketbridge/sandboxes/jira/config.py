"""Settings of one Jira sandbox site: links, persistence, seeding, rate limits, faults, search lag, bulk pace."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from ticketbridge.sandboxes.faults import FaultConfig

DEFAULT_SEARCH_LAG_MS = 2000


class RateLimitConfig(BaseModel):
    """Jira Cloud's burst and per-issue write limits (token buckets per endpoint and method)."""

    enabled: bool = False
    #: Steady-state requests per second per endpoint, by method class (Jira's defaults).
    get_per_second: float = Field(100, gt=0)
    post_per_second: float = Field(100, gt=0)
    put_per_second: float = Field(50, gt=0)
    delete_per_second: float = Field(50, gt=0)
    #: Per-issue write windows: (writes, seconds) pairs, as Jira documents them.
    issue_writes_short: int = Field(20, gt=0)
    issue_window_short_seconds: float = Field(2, gt=0)
    issue_writes_long: int = Field(100, gt=0)
    issue_window_long_seconds: float = Field(30, gt=0)


class JiraSandboxConfig(BaseModel):
    base_url: str = "http://127.0.0.1:8100"
    persist_path: Path | None = None
    seed_demo: bool = True
    rate_limits: RateLimitConfig = Field(default_factory=RateLimitConfig)
    faults: FaultConfig = Field(default_factory=FaultConfig)
    in_process: bool = True
    #: Jira's search index lags behind writes: for this long a created issue stays out of `/search/jql`
    #: and an edited one is found and returned as it was, unless its id is in `reconcileIssues`. Live Jira
    #: shows most writes "within seconds"; 0 makes search read-after-write consistent (tests ask for it).
    search_lag_ms: float = Field(DEFAULT_SEARCH_LAG_MS, ge=0, allow_inf_nan=False)
    #: Issues a bulk task processes per step.
    bulk_step_issues: int = Field(10, gt=0)
    #: Wall-clock milliseconds per bulk step; 0 means one step per request the site receives, which
    #: keeps progress deterministic in tests without any sleeping.
    bulk_step_ms: float = Field(0, ge=0)
    #: Jira allows this many bulk-operation tasks to run at once across all users.
    bulk_max_concurrent_tasks: int = Field(5, gt=0)
