"""Ticket write and read endpoints under /v1/itsm/tickets (seeds 000, 001, 002, 004)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response, status

from ticketbridge.api.deps import ConnectionDep, DbSession, ReadDbSession, RuntimeDep
from ticketbridge.api.models.errors import error_responses
from ticketbridge.api.models.jobs import JobItemResultModel, JobResponseModel
from ticketbridge.api.models.tickets import (
    ITSMTicketBulkCreateRequestModel,
    ITSMTicketBulkSyncRespModel,
    ITSMTicketBulkUpdateRequestModel,
    ITSMTicketCreateRequestModel,
    ITSMTicketCreateRespModel,
    ITSMTicketUpdateRequestModel,
    ITSMTicketWriteMetaModel,
    ScopedITSMTicketRespModel,
)
from ticketbridge.domain.inputs import MAX_SHORT_TEXT, SafeStr
from ticketbridge.services import bulk_create, bulk_update, vendor_docs, write_metadata
from ticketbridge.services import tickets as tickets_service
from ticketbridge.services.ticket_requests import TicketCreate, TicketPatch

router = APIRouter(
    prefix="/v1/itsm/tickets", tags=["ITSM", "Tickets"], responses=error_responses(401, 404, 409, 422, 500)
)
VENDOR_ERRORS = (429, 502, 503)


@router.post(
    "",
    operation_id="create_ticket",
    summary="Create ITSM Ticket",
    responses=error_responses(413, *VENDOR_ERRORS),
)
async def create_ticket(
    body: ITSMTicketCreateRequestModel, connection: ConnectionDep, runtime: RuntimeDep, response: Response
) -> ITSMTicketCreateRespModel:
    """Creates the ticket in the vendor first, then stores it; answers the ticket (200).

    A vendor whose create answers only ids (Jira) is not asked again before answering once its
    project and type have shown what a new ticket gets (status, default priority and assignee):
    the answer is the request plus those, and what only the vendor knows (`ticket_created_at`,
    `created_by_user_id`, `vendor_attributes.created_at`/`updated_at`) is null until the ticket is
    read back, right after the answer (GET shows it then). The ETag stays the same through that
    read-back, so it serves a conditional update at once."""
    written = await tickets_service.create_ticket(
        runtime.sessionmaker,
        runtime.vendor_access,
        connection,
        TicketCreate.model_validate(body.model_dump()),
    )
    response.headers["ETag"] = written.etag
    return ITSMTicketCreateRespModel.of_created(written.ticket, written.etag, written.warnings)


@router.post(
    "/bulk",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="bulk_create_tickets",
    summary="Bulk Create ITSM Tickets (Async)",
    responses=error_responses(413),
)
async def bulk_create_tickets(
    body: ITSMTicketBulkCreateRequestModel, connection: ConnectionDep, db: DbSession
) -> JobResponseModel:
    """Validates the 1-50 tickets and answers 202 with a job id; poll GET /v1/jobs/{job_id}."""
    requests = [TicketCreate.model_validate(ticket.model_dump()) for ticket in body.tickets]
    job = await bulk_create.enqueue_bulk_create(db, connection, requests)
    return JobResponseModel(job_id=str(job.id))


@router.post(
    "/bulk/sync",
    operation_id="bulk_create_tickets_sync",
    summary="Bulk Create ITSM Tickets (Sync)",
    responses=error_responses(413, *VENDOR_ERRORS),
)
async def bulk_create_tickets_sync(
    body: ITSMTicketBulkCreateRequestModel, connection: ConnectionDep, runtime: RuntimeDep
) -> ITSMTicketBulkSyncRespModel:
    """Creates 1-50 tickets now and answers per-ticket results in request order (always 200 once the
    request is valid: check `failed`). The tickets are stored before the answer; what only the vendor
    sets may be read back just after it, as for a single create."""
    requests = [TicketCreate.model_validate(ticket.model_dump()) for ticket in body.tickets]
    results = await bulk_create.create_tickets_now(runtime.sessionmaker, runtime.vendor_access, connection, requests)
    succeeded = sum(result.success for result in results)
    return ITSMTicketBulkSyncRespModel(
        total=len(results),
        succeeded=succeeded,
        failed=len(results) - succeeded,
        results=[JobItemResultModel.model_validate(result, from_attributes=True) for result in results],
    )


@router.post(
    "/bulk/update",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="bulk_update_tickets",
    summary="Bulk Update ITSM Tickets (Async)",
    responses=error_responses(413),
)
async def bulk_update_tickets(
    body: ITSMTicketBulkUpdateRequestModel, connection: ConnectionDep, db: DbSession
) -> JobResponseModel:
    """Validates the tickets and the updates and answers 202 with a job id. The job preflights
    each ticket before any vendor write: one the vendor's field configuration would refuse (a
    required field cleared, a status change whose transition requires a field not given, a bad
    custom field) fails with INVALID_FIELDS and per-field details, and is not sent."""
    fields_set = set(body.updates.model_fields_set)
    patch = TicketPatch.model_validate(body.updates.model_dump())
    job = await bulk_update.enqueue_bulk_update(db, connection, body.ticket_ids, patch, fields_set)
    return JobResponseModel(job_id=str(job.id))


ShortQuery = Annotated[SafeStr | None, Query(max_length=MAX_SHORT_TEXT)]


@router.get(
    "/meta/create",
    operation_id="get_ticket_create_meta",
    summary="Fields a Create Takes",
    responses=error_responses(*VENDOR_ERRORS),
)
async def get_create_meta(
    connection: ConnectionDep,
    runtime: RuntimeDep,
    project_id: Annotated[uuid.UUID | None, Query(description="Our project UUID")] = None,
    project_vendor_id: Annotated[ShortQuery, Query(description="The vendor's project key or id")] = None,
    type: Annotated[ShortQuery, Query(description="The ticket type's name")] = None,
    type_vendor_id: Annotated[ShortQuery, Query(description="The vendor's ticket type id")] = None,
) -> ITSMTicketWriteMetaModel:
    """What a create into that project and ticket type takes now: the unified fields with whether
    each is required there, and the custom fields with their schema, allowed values and what to send
    (`accepts`). Read from the vendor and cached a few minutes; a create the vendor refuses for a
    field reason reads it again."""
    target = write_metadata.CreateTarget(
        project_id=project_id, project_vendor_id=project_vendor_id, type=type, type_vendor_id=type_vendor_id
    )
    meta = await write_metadata.create_metadata(runtime.sessionmaker, runtime.vendor_access, connection, target)
    return ITSMTicketWriteMetaModel.of(meta)


@router.get(
    "/{ticket_id}/meta/update",
    operation_id="get_ticket_update_meta",
    summary="Fields an Update Can Set",
    responses=error_responses(*VENDOR_ERRORS),
)
async def get_update_meta(
    ticket_id: uuid.UUID, connection: ConnectionDep, runtime: RuntimeDep
) -> ITSMTicketWriteMetaModel:
    """What an update of that ticket can set now (the vendor's edit screen), in the same shape."""
    meta = await write_metadata.update_metadata(runtime.sessionmaker, runtime.vendor_access, connection, ticket_id)
    return ITSMTicketWriteMetaModel.of(meta)


@router.get("/by-identifier/{identifier}", operation_id="get_ticket_by_identifier")
async def get_ticket_by_identifier(
    identifier: Annotated[SafeStr, Path(max_length=MAX_SHORT_TEXT)],
    connection: ConnectionDep,
    db: ReadDbSession,
    response: Response,
) -> ScopedITSMTicketRespModel:
    written = await tickets_service.get_ticket_by_identifier(db, connection, identifier)
    response.headers["ETag"] = written.etag
    return ScopedITSMTicketRespModel.of(written.ticket, written.etag)


@router.get("/{ticket_id}", operation_id="get_ticket")
async def get_ticket(
    ticket_id: uuid.UUID, connection: ConnectionDep, db: ReadDbSession, response: Response
) -> ScopedITSMTicketRespModel:
    written = await tickets_service.get_ticket(db, connection, ticket_id)
    response.headers["ETag"] = written.etag
    return ScopedITSMTicketRespModel.of(written.ticket, written.etag)


@router.patch(
    "/{ticket_id}",
    operation_id="update_ticket",
    summary="Update ITSM Ticket",
    description=vendor_docs.update_description(),
    responses=error_responses(412, 413, *VENDOR_ERRORS),
)
async def update_ticket(
    ticket_id: uuid.UUID,
    body: ITSMTicketUpdateRequestModel,
    connection: ConnectionDep,
    runtime: RuntimeDep,
    response: Response,
    if_match: Annotated[str | None, Header(description="An ETag of the ticket; 412 if it changed since")] = None,
) -> ScopedITSMTicketRespModel:
    written = await tickets_service.update_ticket(
        runtime.sessionmaker,
        runtime.vendor_access,
        connection,
        ticket_id,
        TicketPatch.model_validate(body.model_dump()),
        set(body.model_fields_set),
        if_match=if_match,
    )
    response.headers["ETag"] = written.etag
    return ScopedITSMTicketRespModel.of(written.ticket, written.etag)
