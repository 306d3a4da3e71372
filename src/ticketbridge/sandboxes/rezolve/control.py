"""The `/__sandbox__/` control API (JSON, no auth), apart from the vendor surface like moto's /moto-api/.

POST   /__sandbox__/reset                     fresh state (demo data per config), call counts cleared
POST   /__sandbox__/seed                      {"count", "tenantId"} -> {"objectIds": [...]}
GET    /__sandbox__/faults                    the FaultConfig in force
PUT    /__sandbox__/faults                    replace it (FaultConfig body)
GET    /__sandbox__/calls                     {"calls": {operation: n}, "faults": {fault: n}}
DELETE /__sandbox__/calls                     clear both counters
GET    /__sandbox__/tickets/count             {"count": n} tickets of a tenant (?tenantId=, default the demo)
POST   /__sandbox__/tickets/{objectId}/edit   edit as a person in the Rezolve UI (new etag)
DELETE /__sandbox__/tickets/{objectId}        delete as a person in the Rezolve UI (the API has no delete)
POST   /__sandbox__/tokens                    mint a token with any claims (expired, other tenant, ...)
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.types import ASGIApp

from ticketbridge.sandboxes.faults import FaultConfig, FaultMiddleware
from ticketbridge.sandboxes.rezolve.demo import (
    AGENT_ALEX_ID,
    DEMO_CLIENT_ID,
    DEMO_REALM,
    DEMO_TENANT_ID,
    seed_tickets,
)
from ticketbridge.sandboxes.rezolve.deps import IssuerDep, StateDep
from ticketbridge.sandboxes.rezolve.errors import not_found, tenant_not_found
from ticketbridge.sandboxes.rezolve.models import Actor, ActorType, Tenant
from ticketbridge.sandboxes.rezolve.state import SandboxState
from ticketbridge.sandboxes.rezolve.tickets import update_ticket

PREFIX = "/__sandbox__"
router = APIRouter(prefix=PREFIX)


class SeedRequest(BaseModel):
    count: int = Field(10, ge=1, le=1000)
    tenantId: str = DEMO_TENANT_ID


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


@router.post("/reset", status_code=204)
async def reset(state: StateDep) -> None:
    state.reset()


@router.post("/seed")
async def seed(request: SeedRequest, state: StateDep) -> dict[str, list[str]]:
    with state.writing():
        object_ids = seed_tickets(_tenant(state, request.tenantId), request.count)
    return {"objectIds": object_ids}


@router.get("/faults")
async def get_faults(request: Request) -> FaultConfig:
    return fault_middleware(request.app).config


@router.put("/faults")
async def put_faults(config: FaultConfig, request: Request) -> FaultConfig:
    fault_middleware(request.app).configure(config)
    return config


@router.get("/calls")
async def get_calls(request: Request, state: StateDep) -> dict[str, dict[str, int]]:
    return {"calls": dict(state.calls), "faults": dict(fault_middleware(request.app).counts)}


@router.delete("/calls", status_code=204)
async def clear_calls(request: Request, state: StateDep) -> None:
    state.calls.clear()
    fault_middleware(request.app).counts.clear()


@router.get("/tickets/count")
async def count_tickets(state: StateDep, tenantId: str = DEMO_TENANT_ID) -> dict[str, int]:
    return {"count": len(_tenant(state, tenantId).tickets)}


@router.post("/tickets/{object_id}/edit")
async def edit_as_person(object_id: str, edit: PersonEdit, state: StateDep) -> dict[str, str]:
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
async def delete_as_person(object_id: str, state: StateDep, tenantId: str = DEMO_TENANT_ID) -> None:
    """Deletes a ticket the way a person in the UI would; Rezolve's API documents no delete, but its
    SSE stream has a `deleted` event, so tickets do disappear."""
    tenant = _tenant(state, tenantId)
    with state.writing():
        if tenant.tickets.pop(object_id, None) is None:
            raise not_found(f"Ticket not found ({object_id})")


@router.post("/tokens")
async def mint_token(request: TokenRequest, state: StateDep, issuer: IssuerDep) -> dict[str, str]:
    tenant = state.store.tenant_of_realm(request.realm)
    client = tenant.client(request.clientId) if tenant else None
    if tenant is None or client is None:
        raise not_found(f"Client not found ({request.realm}/{request.clientId})")
    claims = issuer.claims_for(tenant, client, list(client.scopes))
    claims["exp"] = int(time.time()) + request.expiresInSeconds
    return {"access_token": issuer.sign(claims | request.claims)}


def fault_middleware(app: ASGIApp) -> FaultMiddleware:
    """The app's FaultMiddleware, found by walking the middleware stack Starlette builds lazily
    (it exists by now: this request went through it)."""
    layer: Any = getattr(app, "middleware_stack", None)
    while layer is not None and not isinstance(layer, FaultMiddleware):
        layer = getattr(layer, "app", None)
    if layer is None:
        raise RuntimeError("the Rezolve sandbox app has no FaultMiddleware")
    return layer


def _tenant(state: SandboxState, tenant_id: str) -> Tenant:
    tenant = state.tenant(tenant_id)
    if tenant is None:
        raise tenant_not_found()
    return tenant
