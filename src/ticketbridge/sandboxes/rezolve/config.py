"""Settings of one Rezolve sandbox: links, persistence, seeding, tokens, roles, limits, faults."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from ticketbridge.sandboxes.faults import FaultConfig


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
    #: Requests per second per tenant before 429 with Retry-After; None disables the limit.
    rate_limit_per_second: int | None = Field(None, gt=0)
