"""What one running sandbox holds: its site, config, call counts, limiter, bulk queue, search cache, store."""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from ticketbridge.sandboxes.faults import FaultMiddleware
from ticketbridge.sandboxes.jira.bulk_tasks import BulkQueue
from ticketbridge.sandboxes.jira.config import JiraSandboxConfig
from ticketbridge.sandboxes.jira.persistence import SiteStore
from ticketbridge.sandboxes.jira.ratelimit import RateLimiter
from ticketbridge.sandboxes.jira.state import Site

SEARCH_CACHE_SIZE = 16


@dataclass
class Runtime:
    config: JiraSandboxConfig
    site: Site
    limiter: RateLimiter
    queue: BulkQueue
    store: SiteStore | None
    calls: Counter[str] = field(default_factory=Counter)
    #: (jql, account id, site version) -> matching issue ids in order; pages re-read it.
    search_cache: OrderedDict[tuple[str, str, int], list[int]] = field(default_factory=OrderedDict)
    faults: FaultMiddleware | None = None
    #: Issue id -> monotonic time at which search starts to see it (see `search_lag_ms`).
    unindexed: dict[int, float] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.config.base_url.rstrip("/")

    def note_created(self, issue_id: int) -> None:
        if self.config.search_lag_ms:
            self.unindexed[issue_id] = time.monotonic() + self.config.search_lag_ms / 1000

    def is_indexed(self, issue_id: int) -> bool:
        due = self.unindexed.get(issue_id)
        if due is None:
            return True
        if due <= time.monotonic():
            del self.unindexed[issue_id]
            return True
        return False

    def save(self) -> None:
        """Writes the site through to the SQLite file, when the sandbox persists."""
        if self.store is not None and (self.site.dirty_issue_ids or self.site.removed_issue_ids):
            self.store.save(self.site)


def new_queue(config: JiraSandboxConfig) -> BulkQueue:
    return BulkQueue(
        step_issues=config.bulk_step_issues,
        step_ms=config.bulk_step_ms,
        max_active=config.bulk_max_concurrent_tasks,
    )


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
