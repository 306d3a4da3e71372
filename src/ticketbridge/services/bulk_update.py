"""Bulk update (POST /v1/itsm/tickets/bulk/update): the same changes on 1-50 tickets, as a job.

With a vendor whose spec declares `bulk_update` (Jira), the job moves status with the vendor's bulk
transition, edits the other fields in bulk only for the tickets whose transition succeeded, then stores
each updated ticket. With any other, it updates one ticket a call and stores each as soon as it is
answered. Updates set values, so a re-run repeats nothing harmful; a ticket already at the target
status counts as moved. First, the tickets the vendor's field configuration would refuse are failed
with per-field details, and nothing is sent for them (`bulk_update_preflight.py`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.connectors.base import Connector
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import ItemOutcome, TicketChanges, TicketRead, TicketRef
from ticketbridge.errors import (
    InvalidRequest,
    NotFound,
    RateLimited,
    ReauthorizationNeeded,
    VendorAuthFailed,
    VendorRefused,
    VendorUnavailable,
)
from ticketbridge.jobs.context import Failed, JobContext, Succeeded
from ticketbridge.jobs.engine import enqueue_job
from ticketbridge.jobs.models import Job, JobItemSpec, JobType, RetryLater
from ticketbridge.services import connections as connections_service
from ticketbridge.services.bulk_update_preflight import preflight_updates
from ticketbridge.services.persist import persist_vendor_tickets
from ticketbridge.services.ticket_requests import TicketPatch, resolve_changes, users_named
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
    custom_fields = patch.custom_fields or {}
    users = await users_named(db, connection, [custom_fields])
    return await enqueue_job(
        db,
        organization_id=connection.organization_id,
        connection_id=connection.id,
        job_type=JobType.ITSM_TICKET_BULK_UPDATE,
        payload={"changes": changes.model_dump(mode="json"), "custom_fields": custom_fields, "users": users},
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
    await ctx.record_items(
        [Failed(item.key, f"Ticket {item.key} no longer exists.", NotFound.code) for item in missing]
    )
    present = [tickets[uuid.UUID(item.key)] for item in pending if uuid.UUID(item.key) in tickets]
    if not present:
        return
    ctx.check_lease()
    try:
        # Every vendor write (a transition round, the bulk edit, one ticket's update) checks the
        # lease again before it is sent.
        async with access.open(connection, before_write=ctx.check_lease) as connector:
            checked = await preflight_updates(
                connector,
                present,
                changes,
                custom_fields=ctx.job.payload.get("custom_fields") or {},
                users=ctx.job.payload.get("users") or {},
            )
            await ctx.record_items(checked.refused)
            for group, group_changes in checked.groups:
                if connector.capabilities.bulk_update:
                    await _update_together(ctx, connection, connector, group, group_changes)
                else:
                    await _update_each(ctx, connection, connector, group, group_changes)
    except (RateLimited, VendorUnavailable) as exc:
        raise RetryLater(exc.retry_after_seconds, exc.message) from exc
    except (VendorAuthFailed, VendorRefused, ReauthorizationNeeded) as exc:  # nothing left of this batch can succeed
        await ctx.record_items([Failed(item.key, exc.message, exc.code) for item in await ctx.pending_items()])


async def _update_together(
    ctx: JobContext,
    connection: ConnectionRead,
    connector: Connector,
    tickets: Sequence[TicketRead],
    changes: TicketChanges,
) -> None:
    """One bulk update of every ticket (the vendor's bulk APIs), recorded when it is done."""
    outcomes = await connector.update_tickets([_ref(ticket) for ticket in tickets], changes)
    async with ctx.transaction() as db:
        await _record(ctx, db, connection, list(zip(tickets, outcomes, strict=True)))


async def _update_each(
    ctx: JobContext,
    connection: ConnectionRead,
    connector: Connector,
    tickets: Sequence[TicketRead],
    changes: TicketChanges,
) -> None:
    """One update per ticket (the connector bounds how many run at once), each recorded as soon as it
    is answered, so an error about the connection (429, 5xx, credentials) midway keeps what was
    done: it is raised once every update has ended, and only the tickets not yet recorded go again."""

    async def update(ticket: TicketRead) -> None:
        (outcome,) = await connector.update_tickets([_ref(ticket)], changes)
        async with ctx.transaction() as db:
            await _record(ctx, db, connection, [(ticket, outcome)])

    results = await asyncio.gather(*(update(ticket) for ticket in tickets), return_exceptions=True)
    failure = next((result for result in results if isinstance(result, BaseException)), None)
    if failure is not None:
        raise failure


def _ref(ticket: TicketRead) -> TicketRef:
    return TicketRef(vendor_id=ticket.vendor_id, key=ticket.vendor_key, status_name=ticket.vendor_status)


async def _record(
    ctx: JobContext, db: AsyncSession, connection: ConnectionRead, answered: Sequence[tuple[TicketRead, ItemOutcome]]
) -> None:
    """Stores the updated tickets and records every outcome, in a few statements however many."""
    updated = [outcome.ticket for _, outcome in answered if outcome.ticket is not None and not outcome.error]
    stored = await persist_vendor_tickets(db, connection, [(ticket, None) for ticket in updated]) if updated else []
    outcomes: list[Succeeded | Failed] = [Succeeded(str(ticket.id), ticket.vendor_key) for ticket in stored]
    outcomes += [
        Failed(str(ticket.id), outcome.error or "The vendor refused the update.", VendorRefused.code)
        for ticket, outcome in answered
        if outcome.ticket is None or outcome.error
    ]
    await ctx.record_items(outcomes, db=db)
