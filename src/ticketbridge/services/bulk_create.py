"""Bulk create: synchronously (POST /v1/itsm/tickets/bulk/sync) or as a job (POST /v1/itsm/tickets/bulk).

Both resolve and validate every item before any vendor call, create through the connector's bulk
path, and store each success locally at once, including tickets named by vendor ids (read-your-
writes, which Leen does not give). The job records each vendor reference in its ledger before the
local write, and a re-run reconciles by marker, so nothing is created twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import CreateItem
from ticketbridge.errors import RateLimited, VendorAuthFailed, VendorRefused, VendorUnavailable
from ticketbridge.jobs.context import JobContext
from ticketbridge.jobs.engine import enqueue_job
from ticketbridge.jobs.models import Job, JobItemSpec, JobType, RetryLater
from ticketbridge.services import connections as connections_service
from ticketbridge.services.ticket_requests import ResolvedCreate, TicketCreate, resolve_creates
from ticketbridge.services.tickets import persist_vendor_tickets
from ticketbridge.services.vendors import VendorAccess
from ticketbridge.store import tickets as tickets_store


@dataclass(frozen=True, slots=True)
class BulkItemResult:
    request_index: int
    success: bool
    ticket_id: str | None
    vendor_ticket_id: str | None
    identifier: str | None
    error: str | None


async def create_tickets_now(
    sessionmaker: async_sessionmaker[AsyncSession],
    access: VendorAccess,
    connection: ConnectionRead,
    requests: Sequence[TicketCreate],
) -> list[BulkItemResult]:
    """The sync bulk endpoint: per-item results in request order."""
    async with sessionmaker.begin() as db:
        resolved = await resolve_creates(db, connection, requests, in_bulk=True)
        results = await already_created(db, connection, resolved)
    to_create = [entry for entry in resolved if entry.request_index not in results]
    if to_create:
        async with access.open(connection) as connector:
            outcomes = await connector.create_tickets([entry.item for entry in to_create], reconcile=True)
        pairs = list(zip(to_create, outcomes, strict=True))
        async with sessionmaker.begin() as db:
            stored = await persist_vendor_tickets(
                db,
                connection,
                [(outcome.ticket, entry.identifier) for entry, outcome in pairs if outcome.ticket],
            )
        by_vendor_id = {ticket.vendor_id: ticket for ticket in stored}
        for entry, outcome in pairs:
            ticket = by_vendor_id[outcome.ticket.vendor_id] if outcome.ticket else None
            results[entry.request_index] = (
                BulkItemResult(
                    entry.request_index,
                    True,
                    str(ticket.id),
                    ticket.vendor_key,
                    entry.identifier,
                    outcome.warning,
                )
                if ticket is not None
                else BulkItemResult(entry.request_index, False, None, None, entry.identifier, outcome.error)
            )
    return [results[index] for index in sorted(results)]


async def already_created(
    db: AsyncSession, connection: ConnectionRead, entries: Sequence[ResolvedCreate]
) -> dict[int, BulkItemResult]:
    """Results for the entries whose identifier already names a stored ticket: the same request made
    again reports that ticket; a different one with the same identifier fails."""
    existing = await tickets_store.find_by_identifiers(db, [e.identifier for e in entries], connection_id=connection.id)
    results: dict[int, BulkItemResult] = {}
    for entry in entries:
        found = existing.get(entry.identifier)
        if found is None:
            continue
        if found.name == entry.item.name and found.project_vendor_id == entry.item.project_vendor_id:
            results[entry.request_index] = BulkItemResult(
                entry.request_index, True, str(found.id), found.vendor_key, entry.identifier, None
            )
        else:
            results[entry.request_index] = BulkItemResult(
                entry.request_index,
                False,
                None,
                None,
                entry.identifier,
                f"Identifier {entry.identifier!r} is already used by ticket {found.id}.",
            )
    return results


async def enqueue_bulk_create(db: AsyncSession, connection: ConnectionRead, requests: Sequence[TicketCreate]) -> Job:
    """Validates every item now (a bad request is a 422 and enqueues nothing), then enqueues."""
    resolved = await resolve_creates(db, connection, requests, in_bulk=True)
    return await enqueue_job(
        db,
        organization_id=connection.organization_id,
        connection_id=connection.id,
        job_type=JobType.ITSM_TICKET_BULK_CREATE,
        payload={},
        items=[
            JobItemSpec(
                key=str(entry.request_index),
                request_index=entry.request_index,
                payload={"item": entry.item.model_dump(mode="json"), "identifier": entry.identifier},
                known={"identifier": entry.identifier},
            )
            for entry in resolved
        ],
    )


async def run_bulk_create(ctx: JobContext, access: VendorAccess) -> None:
    """The job handler: creates the pending items, noting each vendor reference before the local write."""
    pending = await ctx.pending_items()
    if not pending:
        return
    entries = [
        ResolvedCreate(
            item=CreateItem.model_validate(item.payload["item"]),
            identifier=item.payload["identifier"],
            request_index=item.request_index,
        )
        for item in pending
    ]
    async with ctx.sessionmaker.begin() as db:
        connection = await connections_service.get_connection(db, ctx.job.connection_id)
        done = await already_created(db, connection, entries)
    if done:
        async with ctx.transaction() as db:
            for entry in entries:
                result = done.get(entry.request_index)
                if result is None:
                    continue
                if result.success:
                    await ctx.item_succeeded(
                        entry.item.key,
                        vendor_ref=result.vendor_ticket_id,
                        result={"ticket_id": result.ticket_id},
                        db=db,
                    )
                else:
                    await ctx.item_failed(entry.item.key, error=result.error or "", db=db)
    pending = [item for item in pending if item.request_index not in done]
    if not pending:
        return
    items = [entry.item for entry in entries if entry.request_index not in done]
    identifiers = {entry.item.key: entry.identifier for entry in entries}
    ctx.check_lease()
    try:
        async with access.open(connection) as connector:
            # Always reconcile: any earlier run (crashed, timed out, deferred) may have created some of
            # these already, and one marker search per batch is cheap next to a duplicate.
            outcomes = await connector.create_tickets(items, reconcile=True)
    except (RateLimited, VendorUnavailable) as exc:
        raise RetryLater(exc.retry_after_seconds, exc.message) from exc
    except (VendorAuthFailed, VendorRefused) as exc:  # nothing of this batch can succeed as it is
        for item in pending:
            await ctx.item_failed(item.key, error=exc.message)
        return
    async with ctx.transaction() as db:
        for outcome in outcomes:
            if outcome.ticket is not None:
                await ctx.item_vendor_ref(outcome.key, outcome.ticket.key, db=db)
    created = [(outcome.key, outcome.ticket) for outcome in outcomes if outcome.ticket is not None]
    async with ctx.transaction() as db:
        stored = await persist_vendor_tickets(db, connection, [(t, identifiers[key]) for key, t in created])
        for (key, _), ticket in zip(created, stored, strict=True):
            await ctx.item_succeeded(key, vendor_ref=ticket.vendor_key, result={"ticket_id": str(ticket.id)}, db=db)
        for outcome in outcomes:
            if outcome.ticket is None:
                await ctx.item_failed(outcome.key, error=outcome.error or "The vendor refused the ticket.", db=db)
