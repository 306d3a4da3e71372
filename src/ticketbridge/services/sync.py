"""Connector sync: the vendor's projects, users, priorities, statuses and tickets into the local store.

Design:
- **Full, then incremental.** The first run asks for every ticket; each later run for the tickets
  changed since the *start* of the last complete run, minus `OVERLAP` (clock skew between us and the
  vendor, minute-precision vendor queries, search indexes that lag behind writes). Starting from the
  previous run's start, not its newest ticket, catches tickets changed while that run was walking.
- **Streaming.** Pages of `PAGE_SIZE` are stored one short transaction each and dropped: memory
  stays flat whatever the number of tickets, and no transaction is open during a vendor call.
- **Resume.** After each page the run's checkpoint (the newest vendor change time it stored) is
  committed with the page. A run interrupted by a crash is retried by the job engine and continues
  from that checkpoint, keeping its original start as the next high-water mark.
- **Same rows as writes.** Tickets go through `ticket_values` and `store.tickets.upsert_tickets`,
  keyed by vendor id, whose guard never lets an older vendor version overwrite a newer row (a write
  made meanwhile).
- **Directory.** Projects, priorities and statuses are listed whole at the start of every run; the
  ones the vendor no longer lists are marked inactive, and active again once listed (so a project a
  shifting page walk missed heals on the next run).
- **Deletions.** Every run then walks the ids of every vendor ticket into `sync_seen` and marks the
  local tickets it did not list inactive (`active = false`), and active again any it lists; rows
  stored after the walk began are spared. An interrupted walk starts over.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.connectors.base import Connector
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.enums import ConnectionState, HealthName
from ticketbridge.errors import (
    Conflict,
    NotFound,
    RateLimited,
    VendorAuthFailed,
    VendorRefused,
    VendorUnavailable,
)
from ticketbridge.jobs.context import JobContext
from ticketbridge.jobs.models import JobType, LeaseLost, RetryLater
from ticketbridge.jobs.schedule import SYNC_ITEM_KEY, enqueue_sync_job
from ticketbridge.observability import get_logger
from ticketbridge.services import connections as connections_service
from ticketbridge.services.normalize import ticket_values
from ticketbridge.services.vendors import VendorAccess
from ticketbridge.store import connections as connections_store
from ticketbridge.store import directory
from ticketbridge.store import sync_state as store
from ticketbridge.store import tickets as tickets_store
from ticketbridge.store.base import utcnow

log = get_logger("ticketbridge.sync")

PAGE_SIZE = 100
ID_PAGE_SIZE = 1000
OVERLAP = timedelta(minutes=10)
TICKETS, DELETIONS = "tickets", "deletions"
#: What a run starts afresh (and keeps across a resume).
RUN_FIELDS = ("run_started_at", "run_since", "checkpoint", "phase", "tickets_synced", "tickets_deactivated")

#: A short transaction: the job run's fenced one, or a plain sessionmaker.begin() outside jobs.
Transaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]


async def request_sync(db: AsyncSession, connection_id: uuid.UUID, *, trigger: str) -> uuid.UUID:
    """Enqueues a sync of the connection, or returns the id of the one already queued or running (at
    most one per connection). Conflict unless the connection is ACTIVE."""
    connection = await connections_service.get_connection(db, connection_id)
    if connection.state is not ConnectionState.ACTIVE:
        raise Conflict(f"Connection {connection.id} is {connection.state.lower()}; it does not sync.")
    await store.lock_schedule(db)
    pending = await store.pending_job_id(db, connection.id, job_type=JobType.CONNECTOR_SYNC)
    if pending is not None:
        return pending
    job = await enqueue_sync_job(
        db, organization_id=connection.organization_id, connection_id=connection.id, trigger=trigger
    )
    return job.id


async def run_sync_job(ctx: JobContext, access: VendorAccess) -> None:
    """The CONNECTOR_SYNC handler. Rate limits and outages defer the job (it resumes from its
    checkpoint); refused credentials or requests fail it with the vendor's message."""
    if not await ctx.pending_items():
        return
    async with ctx.sessionmaker.begin() as db:
        connection = await connections_service.get_connection(db, ctx.job.connection_id)
    if connection.state is not ConnectionState.ACTIVE:
        await ctx.item_failed(SYNC_ITEM_KEY, error=f"Connection {connection.id} is {connection.state}.")
        return
    try:
        report = await sync_connection(ctx.transaction, access, connection)
    except (RateLimited, VendorUnavailable) as exc:
        raise RetryLater(exc.retry_after_seconds, exc.message) from exc
    except (VendorAuthFailed, VendorRefused, NotFound) as exc:
        await ctx.item_failed(SYNC_ITEM_KEY, error=exc.message)
        return
    except LeaseLost:
        raise
    except Exception as exc:
        # Our fault, not the vendor's: say so in the health, then let the engine retry the attempt.
        await access.record_health(connection, HealthName.INTERNAL_ERROR, f"Sync failed: {type(exc).__name__}")
        raise
    await ctx.item_succeeded(SYNC_ITEM_KEY, result=report)


async def sync_connection(
    transaction: Transaction, access: VendorAccess, connection: ConnectionRead, *, page_size: int = PAGE_SIZE
) -> dict[str, Any]:
    """One run, resumed if one was interrupted; returns its counts. Raises the domain errors of
    `VendorAccess.open`; a vendor 4xx other than auth also marks the connection VENDOR_CLIENT_ERROR."""
    async with transaction() as db:
        state = await store.get_sync_state(db, connection.id)
        if not state.in_progress:
            state = dataclasses.replace(
                state,
                run_started_at=utcnow(),
                run_since=state.high_water_mark - OVERLAP if state.high_water_mark else None,
                checkpoint=None,
                phase=TICKETS,
                tickets_synced=0,
                tickets_deactivated=0,
            )
            await store.update_sync_state(
                db,
                connection.id,
                **{name: getattr(state, name) for name in RUN_FIELDS},
            )
    log.info(
        "sync.started",
        connection_id=str(connection.id),
        full=state.run_since is None and state.checkpoint is None,
        resumed_from=state.checkpoint.isoformat() if state.checkpoint else None,
        phase=state.phase,
    )
    try:
        async with access.open(connection) as connector:
            synced = state.tickets_synced
            if state.phase == TICKETS:
                await _sync_directory(transaction, connector, connection)
                synced = await _sync_tickets(transaction, connector, connection, state, page_size)
            deactivated = await _sync_deletions(transaction, connector, connection)
    except (VendorRefused, NotFound) as exc:
        await access.record_health(connection, HealthName.VENDOR_CLIENT_ERROR, exc.message)
        raise
    now = utcnow()
    async with transaction() as db:
        await store.update_sync_state(
            db,
            connection.id,
            high_water_mark=state.run_started_at,
            run_started_at=None,
            run_since=None,
            checkpoint=None,
            phase=None,
            tickets_deactivated=deactivated,
            last_completed_at=now,
        )
        await connections_store.update_connection(db, connection.id, last_synced_at=now)
    log.info("sync.finished", connection_id=str(connection.id), tickets=synced, deactivated=deactivated)
    return {"tickets_synced": synced, "tickets_deactivated": deactivated}


async def _sync_directory(transaction: Transaction, connector: Connector, connection: ConnectionRead) -> None:
    """Projects, priorities, statuses and users first, so that tickets resolve their references to our ids."""
    scope = {"organization_id": connection.organization_id, "connection_id": connection.id}
    projects_gone = await _sync_projects(transaction, connector, connection)
    priorities = await connector.list_priorities()
    async with transaction() as db:
        priorities_gone = await directory.replace_priorities(db, priorities, **scope)
    statuses = await connector.list_statuses()
    async with transaction() as db:
        statuses_gone = await directory.replace_statuses(db, statuses, **scope)
    async for users in connector.iter_users():
        async with transaction() as db:
            await directory.upsert_users(db, users, **scope)
    log.info(
        "sync.directory",
        connection_id=str(connection.id),
        deactivated={"projects": projects_gone, "priorities": priorities_gone, "statuses": statuses_gone},
    )


async def _sync_projects(transaction: Transaction, connector: Connector, connection: ConnectionRead) -> int:
    """Stores every project page by page, then marks inactive those not listed; returns how many."""
    listed: set[str] = set()
    async for projects in connector.iter_projects():
        async with transaction() as db:
            await directory.upsert_projects(
                db, projects, organization_id=connection.organization_id, connection_id=connection.id
            )
        listed.update(project.vendor_id for project in projects)
    async with transaction() as db:
        return await directory.deactivate_projects(db, listed, connection_id=connection.id)


async def _sync_tickets(
    transaction: Transaction,
    connector: Connector,
    connection: ConnectionRead,
    state: store.SyncState,
    page_size: int,
) -> int:
    synced = state.tickets_synced
    since = state.checkpoint or state.run_since
    async for page in connector.iter_tickets(updated_since=since, page_size=page_size):
        async with transaction() as db:
            values = await ticket_values(db, connection, page)
            await tickets_store.upsert_tickets(
                db,
                [values[ticket.vendor_id] for ticket in page],
                organization_id=connection.organization_id,
                connection_id=connection.id,
            )
            synced += len(page)
            changed = [t.updated_at for t in page if t.updated_at is not None]
            checkpoint = max(changed) if changed else None
            await store.update_sync_state(
                db, connection.id, tickets_synced=synced, **({"checkpoint": checkpoint} if checkpoint else {})
            )
    async with transaction() as db:
        await store.update_sync_state(db, connection.id, phase=DELETIONS)
    return synced


async def _sync_deletions(transaction: Transaction, connector: Connector, connection: ConnectionRead) -> int:
    async with transaction() as db:
        await store.clear_seen(db, connection.id)
    walk_started = utcnow()
    async for ids in connector.iter_ticket_ids(page_size=ID_PAGE_SIZE):
        async with transaction() as db:
            await store.add_seen(db, connection.id, ids)
    async with transaction() as db:
        deactivated = await store.apply_seen(db, connection.id, stored_before=walk_started)
        await store.clear_seen(db, connection.id)
    return deactivated
