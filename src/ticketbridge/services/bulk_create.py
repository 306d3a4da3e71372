"""Bulk create: synchronously (POST /v1/itsm/tickets/bulk/sync) or as a job (POST /v1/itsm/tickets/bulk).

Both resolve and validate every item before any vendor call, then create through `vendor_creates`
(identifier claims, at most one vendor create per identifier) and store each success locally at
once, including tickets named by vendor ids (read-your-writes, which Leen does not give).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketbridge.domain.fields import WriteMetadata
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import CreateItem
from ticketbridge.errors import (
    InvalidFields,
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
from ticketbridge.services import create_claims, preflight, write_metadata
from ticketbridge.services.ticket_requests import ResolvedCreate, TicketCreate, resolve_creates
from ticketbridge.services.vendor_creates import CreateResult, claim_batch_size, create_once
from ticketbridge.services.vendors import VendorAccess
from ticketbridge.services.write_metadata import Scope

#: Items a job claims and sends to the connector at once at most (`vendor_creates.claim_batch_size`).
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
    #: Per field, why the item failed (preflight codes, or the vendor's refusal coded alike).
    details: list[dict[str, Any]] = field(default_factory=list)


#: The message of an item the preflight stopped; its `details` name each field.
PREFLIGHT_FAILED = "The ticket does not pass the vendor's field configuration."


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
        checked = await write_metadata.preflight_creates(connector, resolved, in_bulk=True)
        terms = access.claim_terms(connector, create_claims.request_owner())
        decisions = await create_claims.claim_waiting(
            sessionmaker, connection, [entry.identifier for entry in checked.passed], terms
        )
        results = await create_once(
            sessionmaker.begin,
            connector,
            connection,
            checked.passed,
            decisions,
            terms,
            read_back_later=access.read_back_later,
        )
        refused = [write_metadata.scope_of(result.entry) for result in results if result.field_errors]
        fresh = await write_metadata.refresh_after_refusal(connector, refused)
    outcomes = {
        result.entry.request_index: BulkItemResult(
            result.entry.request_index,
            result.ticket is not None,
            str(result.ticket.id) if result.ticket else None,
            result.ticket.vendor_key if result.ticket else None,
            result.entry.identifier,
            result.warning if result.ticket else result.error,
            None if result.ticket else result.code,
            _refusal_details(result, fresh),
        )
        for result in results
    }
    for entry in resolved:
        if entry.request_index in checked.failed:
            outcomes[entry.request_index] = BulkItemResult(
                entry.request_index,
                False,
                None,
                None,
                entry.identifier,
                PREFLIGHT_FAILED,
                InvalidFields.code,
                checked.failed[entry.request_index],
            )
    return [outcomes[entry.request_index] for entry in resolved]


def _refusal_details(result: CreateResult, fresh: dict[Scope, WriteMetadata | None]) -> list[dict[str, Any]]:
    if not result.field_errors:
        return []
    meta = fresh.get(write_metadata.scope_of(result.entry))
    return preflight.refusal_details(result.field_errors, ["body", "tickets", result.entry.request_index], meta)


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
                payload={
                    "item": entry.item.model_dump(mode="json"),
                    "identifier": entry.identifier,
                    "custom_fields": entry.custom_input,
                    "users": entry.users,
                },
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
            custom_input=item.payload.get("custom_fields") or {},
            users=item.payload.get("users") or {},
        )
        for item in pending
    ]
    async with ctx.sessionmaker.begin() as db:
        connection = await connections_service.get_connection(db, ctx.job.connection_id)
    waits: list[float] = []
    try:
        # The lease is checked before each vendor write request, not once per job.
        async with access.open(connection, before_write=ctx.check_lease) as connector:
            checked = await write_metadata.preflight_creates(connector, entries, in_bulk=True)
            await _record_preflight(ctx, entries, checked.failed)
            entries = checked.passed
            terms = access.claim_terms(connector, create_claims.job_owner(ctx.job.id))
            size = claim_batch_size(connector.capabilities, CLAIM_BATCH)
            for start in range(0, len(entries), size):
                batch = entries[start : start + size]
                async with ctx.transaction() as db:
                    decisions = await create_claims.claim(db, connection, [e.identifier for e in batch], terms)
                results = await create_once(
                    ctx.transaction,
                    connector,
                    connection,
                    batch,
                    decisions,
                    terms,
                    read_back_later=access.read_back_later,
                )
                refused = [write_metadata.scope_of(result.entry) for result in results if result.field_errors]
                fresh = await write_metadata.refresh_after_refusal(connector, refused)
                waits += await _record(ctx, results, fresh)
    except (RateLimited, VendorUnavailable) as exc:
        raise RetryLater(exc.retry_after_seconds, exc.message) from exc
    except (VendorAuthFailed, VendorRefused, ReauthorizationNeeded) as exc:  # nothing of this batch can succeed
        await ctx.record_items([Failed(item.key, exc.message, exc.code) for item in await ctx.pending_items()])
        return
    if waits:
        raise RetryLater(min(waits), f"{len(waits)} item(s) wait for a create in progress or unconfirmed")


async def _record_preflight(
    ctx: JobContext, entries: Sequence[ResolvedCreate], failed: dict[int, list[dict[str, Any]]]
) -> None:
    """Marks the items the preflight stopped failed for good, with their per-field details."""
    await ctx.record_items(
        [
            Failed(entry.item.key, PREFLIGHT_FAILED, InvalidFields.code, {"details": failed[entry.request_index]})
            for entry in entries
            if entry.request_index in failed
        ]
    )


async def _record(
    ctx: JobContext, results: Sequence[CreateResult], fresh: dict[Scope, WriteMetadata | None]
) -> list[float]:
    """Writes each settled item's outcome to the ledger; returns the waits of the unsettled ones."""
    waits: list[float] = []
    outcomes: list[Succeeded | Failed] = []
    for result in results:
        key = result.entry.item.key
        if result.ticket is not None:
            outcomes.append(Succeeded(key, result.ticket.vendor_key, {"ticket_id": str(result.ticket.id)}))
        elif result.retry_after is not None:
            waits.append(result.retry_after)
        else:
            details = _refusal_details(result, fresh)
            error = result.error or "The vendor refused the ticket."
            outcomes.append(
                Failed(key, error, result.code or VendorRefused.code, {"details": details} if details else None)
            )
    await ctx.record_items(outcomes)
    return waits
