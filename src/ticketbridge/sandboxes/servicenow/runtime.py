"""What one running sandbox holds: the instance, config, call counts, limiter, tokens, ACL rules, store."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from starlette.types import ASGIApp

from ticketbridge.sandboxes.faults import FaultMiddleware
from ticketbridge.sandboxes.servicenow.config import ServiceNowSandboxConfig
from ticketbridge.sandboxes.servicenow.persistence import save_instance
from ticketbridge.sandboxes.servicenow.ratelimit import RateLimiter
from ticketbridge.sandboxes.servicenow.state import Instance
from ticketbridge.sandboxes.servicenow.tokens import TokenStore


@dataclass
class Runtime:
    config: ServiceNowSandboxConfig
    instance: Instance
    limiter: RateLimiter
    tokens: TokenStore
    calls: Counter[str] = field(default_factory=Counter)
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
        path: Path | None = self.config.persist_path
        if path is not None:
            save_instance(path, self.instance)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
