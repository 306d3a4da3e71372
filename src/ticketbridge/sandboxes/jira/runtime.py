"""What one running sandbox holds: its site, config, call counts, limiter, bulk queue, search cache, store,
the OAuth server and the other sites it hosts for the gateway."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from starlette.types import ASGIApp

from ticketbridge.sandboxes.calls import CallCounter
from ticketbridge.sandboxes.faults import FaultMiddleware
from ticketbridge.sandboxes.jira.bulk_tasks import BulkQueue
from ticketbridge.sandboxes.jira.config import JiraSandboxConfig
from ticketbridge.sandboxes.jira.oauth import OAuthServer
from ticketbridge.sandboxes.jira.persistence import SiteStore
from ticketbridge.sandboxes.jira.ratelimit import RateLimiter
from ticketbridge.sandboxes.jira.scopes import OperationScopes, operation_scopes
from ticketbridge.sandboxes.jira.state import Site

SEARCH_CACHE_SIZE = 16
SearchKey = tuple[str, str, int, int, tuple[int, ...]]


@dataclass(frozen=True)
class HostedSite:
    """Another Jira site served in this process, reached through the gateway (`/ex/jira/{cloud_id}/...`)
    and its control API (`/__sandbox__/sites/{cloud_id}/...`): a sandbox app of its own."""

    cloud_id: str
    name: str
    url: str
    app: ASGIApp


@dataclass
class Runtime:
    config: JiraSandboxConfig
    site: Site
    limiter: RateLimiter
    queue: BulkQueue
    store: SiteStore | None
    calls: CallCounter = field(default_factory=CallCounter)
    #: (jql, account id, site version, index version, reconciled ids not yet indexed) -> matching issue ids
    #: in order; pages re-read it.
    search_cache: OrderedDict[SearchKey, list[int]] = field(default_factory=OrderedDict)
    faults: FaultMiddleware | None = None
    #: Signs `/search/jql` page tokens; one per running sandbox, so another sandbox's tokens are foreign.
    page_token_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    #: The OAuth 2.0 (3LO) authorization server (auth.atlassian.com), with its own clock.
    oauth: OAuthServer = field(init=False)
    #: operationId -> OAuth scopes, from Atlassian's OpenAPI document (read once per process).
    scopes: OperationScopes = field(default_factory=operation_scopes)
    #: cloudId -> the other sites this process hosts (`POST /__sandbox__/oauth/sites`).
    hosted_sites: dict[str, HostedSite] = field(default_factory=dict)
    #: Builds a hosted site's app (create_app), set by create_app: the runtime cannot import the app.
    build_site: Callable[[JiraSandboxConfig], ASGIApp] | None = None

    def __post_init__(self) -> None:
        self.site.index.lag_ms = self.config.search_lag_ms
        self.oauth = OAuthServer(self.config.oauth.model_copy(deep=True))

    @property
    def base(self) -> str:
        return self.config.base_url.rstrip("/")

    @property
    def search_lag_ms(self) -> float:
        """The search lag in force: the configured one, or what `PUT /__sandbox__/consistency` set."""
        return self.site.index.lag_ms

    @search_lag_ms.setter
    def search_lag_ms(self, value: float) -> None:
        self.site.index.set_lag(value)

    def replace_site(self, site: Site) -> None:
        """Serves `site` from now on, keeping the search lag in force (a reset does not undo a PUT)."""
        site.index.lag_ms = self.search_lag_ms
        self.site = site

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
