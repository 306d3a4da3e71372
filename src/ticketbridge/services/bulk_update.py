"""Bulk update (POST /v1/itsm/tickets/bulk/update): the same changes on 1-50 tickets, as a job.

With a vendor whose spec declares `bulk_update` (Jira), the job moves status with the vendor's bulk
transition, edits the other fields in bulk only for the tickets whose transition succeeded, then stores
each updated ticket. With any other, it updates one ticket a call and stores each as soon as it is
answered. Updates set values, so a re-run repeats nothing harmful; a ticket already at the target
status counts as moved.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.connectors.base import Connector
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import ItemOutcome, TicketChanges, TicketRead, TicketRef
from ticketbridge.errors import (
    InvalidFields,
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
from ticketbridge.services import preflight, write_metadata
from ticketbridge.services.persist import persist_vendor_tickets
from ticketbridge.services.ticket_requests import TicketPatch, resolve_changes, users_named
from ticketbridge.services.vendors import VendorAccess
from ticketbridge.services.write_metadata import Scope
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
            for group, group_changes in await _preflight(ctx, connector, present, changes):
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


async def _preflight(
    ctx: JobContext, connector: Connector, tickets: Sequence[TicketRead], changes: TicketChanges
) -> list[tuple[list[TicketRead], TicketChanges]]:
    """Checks each ticket against its edit metadata (no vendor write): a ticket refused is failed
    with the per-field details; the others are grouped by the changes they get (converted values
    may differ where the tickets' screens differ). Without custom fields, see `_preflight_cleared`."""
    custom_fields = ctx.job.payload.get("custom_fields") or {}
    given, cleared = preflight.unified_of(changes)
    if not custom_fields:
        return [(await _preflight_cleared(ctx, connector, tickets, cleared), changes)]
    users = ctx.job.payload.get("users") or {}
    groups: dict[str, tuple[list[TicketRead], TicketChanges]] = {}
    for ticket in tickets:
        meta = await connector.edit_metadata(ticket.vendor_key)
        checked = preflight.check_update(
            meta,
            unified_given=given,
            unified_cleared=cleared,
            custom_fields=custom_fields,
            users=users,
            prefix=["body", "updates"],
            target_status=changes.target_status,
        )
        if checked.problems:
            await ctx.item_failed(
                str(ticket.id),
                error="The update does not pass the vendor's field configuration for this ticket.",
                code=InvalidFields.code,
                result={"details": checked.problems},
            )
            continue
        ticket_changes = changes.model_copy(update={"custom_fields": checked.values})
        key = json.dumps(ticket_changes.model_dump(mode="json"), sort_keys=True)
        groups.setdefault(key, ([], ticket_changes))[0].append(ticket)
    return list(groups.values())


async def _preflight_cleared(
    ctx: JobContext, connector: Connector, tickets: Sequence[TicketRead], cleared: set[str]
) -> list[TicketRead]:
    """The tickets an update of unified fields only may go to, the others failed: clearing a field
    that the ticket's project and type require. Which are required is read from the create metadata
    of each distinct (project, type) among the stored tickets, once each (from the cache when
    fresh), not from each ticket's edit metadata, so a bulk update stays one call of each bulk API;
    the values it sets the vendor's bulk APIs judge per ticket themselves."""
    if not cleared:
        return list(tickets)
    required: dict[Scope, set[str]] = {}
    passed: list[TicketRead] = []
    refused: list[Failed] = []
    for ticket in tickets:
        if ticket.project_vendor_id is None:
            passed.append(ticket)
            continue
        scope = (ticket.project_vendor_id, ticket.type_vendor_id, None if ticket.type_vendor_id else ticket.type)
        if scope not in required:
            meta = await write_metadata.metadata_for(connector, scope)
            required[scope] = {f.name for f in meta.unified if f.required} if meta is not None else set()
        problems = [
            {
                "loc": ["body", "updates", name],
                "msg": f"{name} is required in this project and cannot be cleared",
                "type": preflight.REQUIRED_MISSING,
            }
            for name in sorted(cleared & required[scope])
        ]
        if problems:
            message = "The update does not pass the vendor's field configuration for this ticket."
            refused.append(Failed(str(ticket.id), message, InvalidFields.code, {"details": problems}))
        else:
            passed.append(ticket)
    if refused:
        await ctx.record_items(refused)
    return passed


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
