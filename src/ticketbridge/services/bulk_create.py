"""Bulk create: synchronously (POST /v1/itsm/tickets/bulk/sync) or as a job (POST /v1/itsm/tickets/bulk).

Both resolve and validate every item before any vendor call, then create through `vendor_creates`
(identifier claims, at most one vendor create per identifier) and store each success locally at
once, including tickets named by vendor ids (read-your-writes, which Leen does not give).
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
from ticketbridge.services import create_claims
from ticketbridge.services.ticket_requests import ResolvedCreate, TicketCreate, resolve_creates
from ticketbridge.services.vendor_creates import CreateResult, create_once
from ticketbridge.services.vendors import VendorAccess

#: Items claimed and sent to the vendor at once by a job (the vendor's largest bulk call).
CLAIM_BATCH = 50


@dataclass(frozen=True, slots=True)
class BulkItemResult:
    request_index: int
    success: bool
    ticket_id: str | None
    vendor_ticket_id: str | None
    identifier: str | None
    error: str | None
    code: str | None


async def create_tickets_now(
    sessionmaker: async_sessionmaker[AsyncSession],
    access: VendorAccess,
    connection: ConnectionRead,
    requests: Sequence[TicketCreate],
) -> list[BulkItemResult]:
    """The sync bulk endpoint: per-item results in request order. Items whose identifier another
    writer holds are waited for a little, then reported as in progress."""
    async with sessionmaker.begin() as db:
        resolved = await resolve_creates(db, connection, requests, in_bulk=True)
    async with access.open(connection) as connector:
        terms = access.claim_terms(connector, create_claims.request_owner())
        decisions = await create_claims.claim_waiting(
            sessionmaker, connection, [entry.identifier for entry in resolved], terms
        )
        results = await create_once(sessionmaker.begin, connector, connection, resolved, decisions, terms)
    return [
        BulkItemResult(
            result.entry.request_index,
            result.ticket is not None,
            str(result.ticket.id) if result.ticket else None,
            result.ticket.vendor_key if result.ticket else None,
            result.entry.identifier,
            result.warning if result.ticket else result.error,
            None if result.ticket else result.code,
        )
        for result in results
    ]


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
    """The job handler: claims the pending items' identifiers and creates them at most once (see
    `vendor_creates`). Items another writer holds, or whose unconfirmed create is not yet visible
    to a marker search, stay pending and the job is deferred until they can be settled."""
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
    waits: list[float] = []
    try:
        # The lease is checked before each vendor write request, not once per job.
        async with access.open(connection, before_write=ctx.check_lease) as connector:
            terms = access.claim_terms(connector, create_claims.job_owner(ctx.job.id))
            for start in range(0, len(entries), CLAIM_BATCH):
                batch = entries[start : start + CLAIM_BATCH]
                async with ctx.transaction() as db:
                    decisions = await create_claims.claim(db, connection, [e.identifier for e in batch], terms)
                results = await create_once(ctx.transaction, connector, connection, batch, decisions, terms)
                waits += await _record(ctx, results)
    except (RateLimited, VendorUnavailable) as exc:
        raise RetryLater(exc.retry_after_seconds, exc.message) from exc
    except (VendorAuthFailed, VendorRefused) as exc:  # nothing of this batch can succeed as it is
        for item in await ctx.pending_items():
            await ctx.item_failed(item.key, error=exc.message, code=exc.code)
        return
    if waits:
        raise RetryLater(min(waits), f"{len(waits)} item(s) wait for a create in progress or unconfirmed")


async def _record(ctx: JobContext, results: Sequence[CreateResult]) -> list[float]:
    """Writes each settled item's outcome to the ledger; returns the waits of the unsettled ones."""
    waits: list[float] = []
    async with ctx.transaction() as db:
        for result in results:
            key = result.entry.item.key
            if result.ticket is not None:
                await ctx.item_succeeded(
                    key,
                    vendor_ref=result.ticket.vendor_key,
                    result={"ticket_id": str(result.ticket.id)},
                    db=db,
                )
            elif result.retry_after is not None:
                waits.append(result.retry_after)
            else:
                await ctx.item_failed(
                    key,
                    error=result.error or "The vendor refused the ticket.",
                    code=result.code or VendorRefused.code,
                    db=db,
                )
    return waits
