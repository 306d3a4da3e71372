"""The Rezolve sandbox's part of the `/__sandbox__/` control plane: `RezolveControls` (the reset and seed
format the shared router of sandboxes/control.py serves; Rezolve's list reads its own writes) and the
Rezolve-only control routes:

GET    /__sandbox__/tickets/count             {"count": n} tickets of a tenant (?tenantId=, default the demo)
POST   /__sandbox__/tickets/{objectId}/edit   edit as a person in the Rezolve UI (new etag)
DELETE /__sandbox__/tickets/{objectId}        delete as a person in the Rezolve UI (the API has no delete)
POST   /__sandbox__/tokens                    mint a token with any claims (expired, other tenant, ...)
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ticketbridge.sandboxes.control import PREFIX, Controls, seed_result
from ticketbridge.sandboxes.rezolve.config import RateLimitConfig
from ticketbridge.sandboxes.rezolve.demo import (
    AGENT_ALEX_ID,
    DEMO_CLIENT_ID,
    DEMO_REALM,
    DEMO_TENANT_ID,
    seed_tickets,
)
from ticketbridge.sandboxes.rezolve.deps import IssuerDep, RuntimeDep
from ticketbridge.sandboxes.rezolve.errors import not_found, tenant_not_found
from ticketbridge.sandboxes.rezolve.models import Actor, ActorType, Tenant
from ticketbridge.sandboxes.rezolve.runtime import Runtime
from ticketbridge.sandboxes.rezolve.seeding import SeedRequest
from ticketbridge.sandboxes.rezolve.tickets import update_ticket

router = APIRouter(prefix=PREFIX)


class RezolveControls(Controls[SeedRequest, RateLimitConfig]):
    """The store's reset and seed format (seeding.py); the shared plane serves the rest."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, seed_model=SeedRequest, rate_limit_model=RateLimitConfig)
        self.runtime = runtime

    def reset(self, seed_demo: bool) -> int:
        """Fresh store (tenants, clients, catalogs; the demo tickets if asked)."""
        self.runtime.reset(with_tickets=seed_demo)
        return sum(len(tenant.tickets) for tenant in self.runtime.store.tenants.values())

    def seed(self, request: SeedRequest) -> dict[str, Any]:
        tenant = _tenant(self.runtime, request.tenantId)
        with self.runtime.writing():
            object_ids = seed_tickets(tenant, request.count)
        return seed_result(object_ids)


class PersonEdit(BaseModel):
    tenantId: str = DEMO_TENANT_ID
    #: The person editing; recorded in lastUpdatedBy as a user.
    userId: str = AGENT_ALEX_ID
    ticketUpdate: dict[str, Any] = Field(min_length=1)


class TokenRequest(BaseModel):
    realm: str = DEMO_REALM
    clientId: str = DEMO_CLIENT_ID
    #: Negative values mint a token that has already expired.
    expiresInSeconds: int = 300
    #: Merged over the client's usual claims, e.g. {"tenant_id": "...", "scope": "tickets:read"}.
    claims: dict[str, Any] = Field(default_factory=dict)


@router.get("/tickets/count")
async def count_tickets(state: RuntimeDep, tenantId: str = DEMO_TENANT_ID) -> dict[str, int]:
    return {"count": len(_tenant(state, tenantId).tickets)}


@router.post("/tickets/{object_id}/edit")
async def edit_as_person(object_id: str, edit: PersonEdit, state: RuntimeDep) -> dict[str, str]:
    """Changes a ticket the way a person in the UI would: no etag from the caller, workflow not
    enforced, a new etag all the same, so an API writer holding the old one gets ETAG_MISMATCH."""
    tenant = _tenant(state, edit.tenantId)
    if tenant.user(edit.userId) is None:
        raise not_found(f"User not found ({edit.userId})")
    with state.writing():
        current = tenant.tickets.get(object_id)
        ticket = update_ticket(
            tenant,
            object_id,
            etag=current.etag if current else "",
            changes=edit.ticketUpdate,
            actor=Actor(id=edit.userId, type=ActorType.USER),
            workflow_roles=None,
        )
    return {"object_id": ticket.object_id, "etag": ticket.etag}


@router.delete("/tickets/{object_id}", status_code=204)
async def delete_as_person(object_id: str, state: RuntimeDep, tenantId: str = DEMO_TENANT_ID) -> None:
    """Deletes a ticket the way a person in the UI would; Rezolve's API documents no delete, but its
    SSE stream has a `deleted` event, so tickets do disappear."""
    tenant = _tenant(state, tenantId)
    with state.writing():
        if tenant.tickets.pop(object_id, None) is None:
            raise not_found(f"Ticket not found ({object_id})")


@router.post("/tokens")
async def mint_token(request: TokenRequest, state: RuntimeDep, issuer: IssuerDep) -> dict[str, str]:
    tenant = state.store.tenant_of_realm(request.realm)
    client = tenant.client(request.clientId) if tenant else None
    if tenant is None or client is None:
        raise not_found(f"Client not found ({request.realm}/{request.clientId})")
    claims = issuer.claims_for(tenant, client, list(client.scopes))
    claims["exp"] = int(time.time()) + request.expiresInSeconds
    return {"access_token": issuer.sign(claims | request.claims)}


def _tenant(state: Runtime, tenant_id: str) -> Tenant:
    tenant = state.tenant(tenant_id)
    if tenant is None:
        raise tenant_not_found()
    return tenant
