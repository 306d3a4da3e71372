"""Settings of one Rezolve sandbox: links, persistence, seeding, tokens, roles, limits, faults."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ticketbridge.sandboxes.faults import FaultConfig


class RateLimitConfig(BaseModel):
    """A fixed one-second window per tenant, answered with 429 and Retry-After. Rezolve's overview
    mentions 429 and X-RateLimit-* headers but publishes no numbers, so it is off unless asked for."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    #: Requests per second per tenant (`x-tenantid`) before 429.
    requests_per_second: int = Field(10, gt=0)


class RezolveSandboxConfig(BaseModel):
    #: Issuer prefix of the tokens: `{base_url}/auth/realms/{realm}`.
    base_url: str = "http://127.0.0.1:8200"
    #: JSON file the state is loaded from at start and saved to after every write.
    persist_path: Path | None = None
    #: Start with the demo tickets; tenants, clients, teams, users and ticket types are always there.
    seed_demo: bool = True
    faults: FaultConfig = Field(default_factory=FaultConfig)
    in_process: bool = True
    token_ttl_seconds: int = Field(300, gt=0)
    #: Realm roles that may create and update tickets (the create page names these three).
    write_roles: frozenset[str] = frozenset({"ticket_agent", "ticket_user", "tenant_admin"})
    #: Realm roles that may read; `requestor` is here so the demo read-only client can read.
    read_roles: frozenset[str] = frozenset({"ticket_agent", "ticket_user", "ticket_admin", "tenant_admin", "requestor"})
    #: Reject status changes that the ticket type's workflow does not allow for the caller's roles.
    enforce_workflow: bool = True
    #: The per-tenant limit (`GET`/`PUT /__sandbox__/rate-limits`); off by default.
    rate_limits: RateLimitConfig = Field(default_factory=RateLimitConfig)
