"""Lists of synced data: GET /v1/itsm/tickets, /v1/itsm/projects, /v1/itsm/users.

Answered from the local store as of the last sync (and every write made through ticketbridge);
see services/listing.py for the order and the cursor guarantee.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query

from ticketbridge.api.deps import ConnectionDep, ReadDbSession
from ticketbridge.api.models.errors import error_responses
from ticketbridge.api.models.lists import (
    ITSMProjectListRespModel,
    ITSMProjectRespModel,
    ITSMTicketListRespModel,
    ITSMUserListRespModel,
    ITSMUserRespModel,
)
from ticketbridge.api.models.tickets import ScopedITSMTicketRespModel
from ticketbridge.domain.inputs import MAX_OFFSET, MAX_SHORT_TEXT, BoundedDateTime, SafeStr
from ticketbridge.services import listing
from ticketbridge.services.normalize import ticket_etag
from ticketbridge.store.listing import DirectoryFilters, TicketFilters

router = APIRouter(prefix="/v1/itsm", tags=["ITSM"], responses=error_responses(401, 404, 409, 422, 500))

Limit = Annotated[int, Query(ge=1, le=100, description="Page size, 1 to 100")]
Cursor = Annotated[
    str | None,
    Query(max_length=500, pattern="^[A-Za-z0-9_-]+$", description="next_cursor or previous_cursor of a page"),
]
Offset = Annotated[
    int,
    Query(ge=0, le=MAX_OFFSET, description="Rows to skip (without cursor); cursors are stable, offsets not"),
]
UpdatedSince = Annotated[
    BoundedDateTime | None, Query(description="Rows stored or changed at or after this time (RFC 3339)")
]


class UserStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    DELETED = "DELETED"


@router.get("/tickets", operation_id="list_tickets", tags=["Tickets"], summary="List ITSM Tickets")
async def list_tickets(
    connection: ConnectionDep,
    db: ReadDbSession,
    status: Annotated[
        SafeStr | None, Query(max_length=MAX_SHORT_TEXT, description="Normalized status, e.g. IN_PROGRESS")
    ] = None,
    priority: Annotated[
        SafeStr | None, Query(max_length=MAX_SHORT_TEXT, description="Normalized priority, e.g. HIGH")
    ] = None,
    project_id: uuid.UUID | None = None,
    assigned_user_id: uuid.UUID | None = None,
    type: Annotated[SafeStr | None, Query(max_length=MAX_SHORT_TEXT, description="Ticket type name, e.g. Bug")] = None,
    identifier: Annotated[SafeStr | None, Query(max_length=MAX_SHORT_TEXT)] = None,
    updated_since: UpdatedSince = None,
    name: Annotated[
        SafeStr | None, Query(max_length=MAX_SHORT_TEXT, description="Name contains (case-insensitive)")
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    offset: Offset = 0,
) -> ITSMTicketListRespModel:
    """The connection's tickets, oldest change first: synced and written ones alike."""
    filters = TicketFilters(
        status=status,
        priority=priority,
        project_id=project_id,
        assigned_user_id=assigned_user_id,
        type=type,
        identifier=identifier,
        updated_since=updated_since,
        name=name,
    )
    page = await listing.list_tickets(db, connection, filters, limit=limit, cursor=cursor, offset=offset)
    return ITSMTicketListRespModel(
        items=[ScopedITSMTicketRespModel.of(ticket, ticket_etag(ticket)) for ticket in page.items],
        next_cursor=page.next_cursor,
        previous_cursor=page.previous_cursor,
    )


@router.get("/projects", operation_id="list_projects", tags=["Projects"], summary="List ITSM Projects")
async def list_projects(
    connection: ConnectionDep,
    db: ReadDbSession,
    name: Annotated[
        SafeStr | None, Query(max_length=MAX_SHORT_TEXT, description="Name contains (case-insensitive)")
    ] = None,
    updated_since: Annotated[BoundedDateTime | None, Query(alias="updatedSince")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    offset: Offset = 0,
) -> ITSMProjectListRespModel:
    filters = DirectoryFilters(name=name, updated_since=updated_since)
    page = await listing.list_projects(db, connection, filters, limit=limit, cursor=cursor, offset=offset)
    return ITSMProjectListRespModel(
        items=[ITSMProjectRespModel.of(project, connection.vendor) for project in page.items],
        next_cursor=page.next_cursor,
        previous_cursor=page.previous_cursor,
    )


@router.get("/users", operation_id="list_users", tags=["Users"], summary="List ITSM Users")
async def list_users(
    connection: ConnectionDep,
    db: ReadDbSession,
    name: Annotated[
        SafeStr | None, Query(max_length=MAX_SHORT_TEXT, description="Name contains (case-insensitive)")
    ] = None,
    email: Annotated[
        SafeStr | None, Query(max_length=MAX_SHORT_TEXT, description="Email contains (case-insensitive)")
    ] = None,
    status: UserStatus | None = None,
    project_id: Annotated[
        uuid.UUID | None,
        Query(alias="projectId", description="Users assigned to or reporting a ticket of this project"),
    ] = None,
    updated_since: Annotated[BoundedDateTime | None, Query(alias="updatedSince")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    offset: Offset = 0,
) -> ITSMUserListRespModel:
    filters = DirectoryFilters(
        name=name,
        email=email,
        status=status.value if status else None,
        project_id=project_id,
        updated_since=updated_since,
    )
    page = await listing.list_users(db, connection, filters, limit=limit, cursor=cursor, offset=offset)
    return ITSMUserListRespModel(
        items=[ITSMUserRespModel.of(user, connection.vendor) for user in page.items],
        next_cursor=page.next_cursor,
        previous_cursor=page.previous_cursor,
    )
