"""Ticket create, get, list and update (ticketing v2); update follows the seed to the letter.

Route parameters are declared in the order of the checks in `deps.py`, because FastAPI resolves
dependencies in that order; `catalog` is there for its `type`/`module` check.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ticketbridge.sandboxes.rezolve.deps import (
    CreatorDep,
    OptionalCatalogDep,
    ReaderDep,
    RequiredCatalogDep,
    RuntimeDep,
    TicketDep,
    UpdaterDep,
    counted,
)
from ticketbridge.sandboxes.rezolve.listing import ListQuery, select_tickets
from ticketbridge.sandboxes.rezolve.tickets import create_ticket, update_ticket

router = APIRouter(prefix="/api/v2/ticketing/ticket")

#: A key of `ticketBody` that names a service-catalog offer, not a field.
OFFER_ID_KEY = "offerId"


class CreateTicketBody(BaseModel):
    source: str = "api"
    summary: str | None = None
    ticketBody: dict[str, Any] = Field(default_factory=dict)
    attachments: dict[str, Any] | None = None
    ticketRelation: dict[str, Any] | None = None


class UpdateTicketBody(BaseModel):
    etag: str
    ticketUpdate: dict[str, Any] = Field(min_length=1)


@router.post("/create/{team_id}/{item_type_id}", dependencies=[Depends(counted("createTicket"))])
async def create(
    team_id: str,
    item_type_id: str,
    caller: CreatorDep,
    catalog: RequiredCatalogDep,
    state: RuntimeDep,
    body: CreateTicketBody,
) -> dict[str, Any]:
    values = {key: value for key, value in body.ticketBody.items() if key != OFFER_ID_KEY}
    with state.writing():
        ticket = create_ticket(
            caller.tenant,
            team_key=team_id,
            type_id=item_type_id,
            values=values,
            summary=body.summary,
            source=body.source,
            actor=caller.actor(),
        )
    return {
        "success": True,
        "message": "ticket created successfully",
        "status": 200,
        "id": ticket.id,
        "objectId": ticket.object_id,
        "etag": ticket.etag,
    }


@router.post("/list", dependencies=[Depends(counted("listTickets"))])
async def list_tickets(caller: ReaderDep, catalog: RequiredCatalogDep, query: ListQuery) -> dict[str, Any]:
    page, total = select_tickets(caller.tenant, query)
    return {
        "success": True,
        "status": 200,
        "data": {
            "tickets": [ticket.model_dump(mode="json") for ticket in page],
            "pagination": {
                "total": total,
                "top": query.top,
                "offset": query.offset,
                "hasMore": query.offset + len(page) < total,
            },
        },
    }


@router.get("/{object_id}", dependencies=[Depends(counted("getTicket"))])
async def get(
    caller: ReaderDep,
    catalog: OptionalCatalogDep,
    ticket: TicketDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    # The etag also goes out as an HTTP ETag so `if-none-match` caching works (reference §4.4).
    http_etag = f'"{ticket.etag}"'
    if if_none_match in (http_etag, ticket.etag):
        return Response(status_code=304, headers={"ETag": http_etag})
    body = {"success": True, "status": 200, **ticket.model_dump(mode="json")}
    return JSONResponse(body, headers={"ETag": http_etag})


@router.patch("/{object_id}/update", dependencies=[Depends(counted("updateTicket"))])
async def update(
    object_id: str,
    caller: UpdaterDep,
    catalog: RequiredCatalogDep,
    ticket: TicketDep,
    state: RuntimeDep,
    body: UpdateTicketBody,
) -> dict[str, Any]:
    roles = caller.roles if state.config.enforce_workflow else None
    with state.writing():
        updated = update_ticket(
            caller.tenant,
            object_id,
            etag=body.etag,
            changes=body.ticketUpdate,
            actor=caller.actor(),
            workflow_roles=roles,
        )
    return {"success": True, "message": "ticket updated successfully", "status": 200, "etag": updated.etag}
