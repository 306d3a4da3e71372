"""Bulk update (POST /v1/itsm/tickets/bulk/update): the same changes on 1-50 tickets, as a job.

The job moves status with the vendor's bulk transition, edits the other fields in bulk only for the
tickets whose transition succeeded, then stores each updated ticket. Updates set values, so a re-run
repeats nothing harmful; a ticket already at the target status counts as moved.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import TicketChanges, TicketRef
from ticketbridge.errors import (
    InvalidRequest,
    NotFound,
    RateLimited,
    VendorAuthFailed,
    VendorRefused,
    VendorUnavailable,
)
from ticketbridge.jobs.context import JobContext
from ticketbridge.jobs.engine import enqueue_job
from ticketbridge.jobs.models import Job, JobItemSpec, JobType, RetryLater
from ticketbridge.services import connections as connections_service
from ticketbridge.services.persist import persist_vendor_ticket
from ticketbridge.services.ticket_requests import TicketPatch, resolve_changes
from ticketbridge.services.vendors import VendorAccess
from ticketbridge.store import tickets as tickets_store


async def enqueue_bulk_update(
    db: AsyncSession,
    connection: ConnectionRead,
    ticket_ids: Sequence[uuid.UUID],
    patch: TicketPatch,
    fields_set: set[str],
) -> Job:
    """Checks every ticket id and the changes now (422 naming each problem, nothing enqueued)."""
    duplicates = sorted({str(t) for t in ticket_ids if list(ticket_ids).count(t) > 1})
    found = await tickets_store.get_tickets(db, ticket_ids, connection_id=connection.id)
    problems = [
        {
            "loc": ["body", "ticket_ids", index],
            "msg": f"unknown ticket {ticket_id} on this connection",
            "type": "value_error",
        }
        for index, ticket_id in enumerate(ticket_ids)
        if ticket_id not in found
    ]
    problems += [
        {"loc": ["body", "ticket_ids"], "msg": f"ticket {ticket_id} is listed twice", "type": "value_error"}
        for ticket_id in duplicates
    ]
    if problems:
        raise InvalidRequest("Some tickets cannot be updated.", details=problems)
    changes = await resolve_changes(db, connection, patch, fields_set, ["body", "updates"])
    return await enqueue_job(
        db,
        organization_id=connection.organization_id,
        connection_id=connection.id,
        job_type=JobType.ITSM_TICKET_BULK_UPDATE,
        payload={"changes": changes.model_dump(mode="json")},
        items=[
            JobItemSpec(key=str(ticket_id), request_index=index, known={"ticket_id": str(ticket_id)})
            for index, ticket_id in enumerate(ticket_ids)
        ],
    )


async def run_bulk_update(ctx: JobContext, access: VendorAccess) -> None:
    pending = await ctx.pending_items()
    if not pending:
        return
    changes = TicketChanges.model_validate(ctx.job.payload["changes"])
    async with ctx.sessionmaker.begin() as db:
        connection = await connections_service.get_connection(db, ctx.job.connection_id)
        tickets = await tickets_store.get_tickets(
            db, [uuid.UUID(item.key) for item in pending], connection_id=connection.id
        )
    missing = [item for item in pending if uuid.UUID(item.key) not in tickets]
    for item in missing:
        await ctx.item_failed(item.key, error=f"Ticket {item.key} no longer exists.", code=NotFound.code)
    present = [tickets[uuid.UUID(item.key)] for item in pending if uuid.UUID(item.key) in tickets]
    if not present:
        return
    refs = [TicketRef(vendor_id=t.vendor_id, key=t.vendor_key, status_name=t.vendor_status) for t in present]
    ctx.check_lease()
    try:
        # One bulk call moves all the tickets, but through several vendor writes (transition rounds,
        # the bulk edit), each of which checks the lease again before it is sent.
        async with access.open(connection, before_write=ctx.check_lease) as connector:
            outcomes = await connector.update_tickets(refs, changes)
    except (RateLimited, VendorUnavailable) as exc:
        raise RetryLater(exc.retry_after_seconds, exc.message) from exc
    except (VendorAuthFailed, VendorRefused) as exc:  # nothing of this batch can succeed as it is
        for ticket in present:
            await ctx.item_failed(str(ticket.id), error=exc.message, code=exc.code)
        return
    async with ctx.transaction() as db:
        for ticket, outcome in zip(present, outcomes, strict=True):
            if outcome.ticket is None or outcome.error:
                refusal = outcome.error or "The vendor refused the update."
                await ctx.item_failed(str(ticket.id), error=refusal, code=VendorRefused.code, db=db)
                continue
            stored = await persist_vendor_ticket(db, connection, outcome.ticket, identifier=None)
            await ctx.item_succeeded(str(stored.id), vendor_ref=stored.vendor_key, db=db)
