"""Ticketing metadata: ticket types with their fields and workflow, tenant meta, assignable users."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from ticketbridge.sandboxes.rezolve.deps import (
    CatalogType,
    OptionalCatalogDep,
    ReaderDep,
    RequiredCatalogDep,
    counted,
)
from ticketbridge.sandboxes.rezolve.listing import MAX_PAGE_SIZE
from ticketbridge.sandboxes.rezolve.tickets import timestamp

router = APIRouter(prefix="/api/v2/ticketing")

AGENT_ROLE = "ticket_agent"


@router.get("/ticket-type", dependencies=[Depends(counted("listTicketTypes"))])
async def list_ticket_types(
    caller: ReaderDep,
    catalog: RequiredCatalogDep,
    select: Annotated[str | None, Query(alias="$select")] = None,
    top: Annotated[int, Query(alias="$top", ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
    skip: Annotated[int, Query(alias="$skip", ge=0)] = 0,
) -> dict[str, Any]:
    """OData-style paging; `$select` keeps only the named keys of each type (`id` always stays)."""
    ticket_types = caller.tenant.ticketTypes
    rows = [ticket_type.model_dump(mode="json") for ticket_type in ticket_types[skip : skip + top]]
    if select:
        keep = {"id", *(key.strip() for key in select.split(","))}
        rows = [{key: value for key, value in row.items() if key in keep} for row in rows]
    return {
        "success": True,
        "message": "Ticket types retrieved successfully",
        "data": {"value": rows, "@odata.count": len(ticket_types)},
        "timestamp": timestamp(),
    }


@router.get("/tenant/meta", dependencies=[Depends(counted("getTenantMeta"))])
async def get_tenant_meta(caller: ReaderDep, catalog: OptionalCatalogDep) -> dict[str, Any]:
    """Teams, and the union of the ticket types' statuses and priorities."""
    tenant = caller.tenant
    statuses: dict[str, dict[str, Any]] = {}
    priorities: dict[str, dict[str, Any]] = {}
    for ticket_type in tenant.ticketTypes:
        for status in ticket_type.workflow.statuses:
            statuses.setdefault(status.key, {"key": status.key, "name": status.name, "isTerminal": status.isTerminal})
        priority = ticket_type.field_named("priority")
        options = priority.options if priority is not None and priority.options else []
        for option in options:
            priorities.setdefault(option.value, {"key": option.value, "name": option.label})
    return {
        "success": True,
        "data": {
            "tenantId": tenant.id,
            "teams": [team.model_dump() for team in tenant.teams],
            "statuses": list(statuses.values()),
            "priorities": list(priorities.values()),
        },
    }


@router.get("/user/list", dependencies=[Depends(counted("listUsers"))])
async def list_users(
    caller: ReaderDep,
    catalog: RequiredCatalogDep,
    team: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    """`type=agent` lists assignable users (the ticket_agent role); `team` keeps one team's members."""
    users = caller.tenant.users
    if catalog is CatalogType.AGENT:
        users = [user for user in users if AGENT_ROLE in user.roles]
    if team is not None:
        users = [user for user in users if team in user.teams]
    return {
        "success": True,
        "data": {"users": [user.model_dump() for user in users], "totalCount": len(users)},
    }
