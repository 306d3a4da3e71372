"""What one running sandbox holds: the instance, config, call counts, limiter, tokens, ACL rules, store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from starlette.types import ASGIApp

from ticketbridge.sandboxes.calls import CallCounter
from ticketbridge.sandboxes.faults import FaultMiddleware
from ticketbridge.sandboxes.persistence import Store
from ticketbridge.sandboxes.servicenow.config import ServiceNowSandboxConfig
from ticketbridge.sandboxes.servicenow.ratelimit import RateLimiter
from ticketbridge.sandboxes.servicenow.state import Instance
from ticketbridge.sandboxes.servicenow.tokens import TokenStore


@dataclass
class Runtime:
    config: ServiceNowSandboxConfig
    instance: Instance
    limiter: RateLimiter
    tokens: TokenStore
    #: Where the instance is kept across restarts (`persist_path`), if anywhere.
    store: Store[Instance] | None = None
    calls: CallCounter = field(default_factory=CallCounter)
    #: table -> encoded query of rows a read ACL hides from users without the admin role
    #: (`PUT /__sandbox__/acls`); applied after sysparm_limit when `limit_before_acl`.
    hidden: dict[str, str] = field(default_factory=dict)
    limit_before_acl: bool = True
    faults: FaultMiddleware | None = None
    #: The app without the fault layer: where batch items are dispatched.
    inner: ASGIApp | None = None

    def __post_init__(self) -> None:
        self.limit_before_acl = self.config.limit_before_acl

    @property
    def base(self) -> str:
        return self.config.base_url.rstrip("/")

    def save(self) -> None:
        """Writes the instance through to its store, when the sandbox persists."""
        if self.store is not None:
            self.store.save(self.instance)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
