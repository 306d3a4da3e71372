"""Connector sync: the vendor's projects, users, priorities, statuses and tickets into the local store.

Design:
- **Full, then incremental.** The first run asks for every ticket; each later run for the tickets
  changed since the *start* of the last complete run, minus `OVERLAP` (clock skew between us and the
  vendor, minute-precision vendor queries, search indexes that lag behind writes). Starting from the
  previous run's start, not its newest ticket, catches tickets changed while that run was walking.
- **Streaming.** Pages of `PAGE_SIZE` are stored one short transaction each and dropped: memory
  stays flat whatever the number of tickets, and no transaction waits on a vendor call. The next
  page is fetched while one is stored (`connectors.paging.fetch_ahead`, for the ticket walk and the
  deletion walk's ids alike): at most two pages are held.
- **Resume.** After each page the run's checkpoint (the newest vendor change time it stored) is
  committed with the page. A run interrupted by a crash is retried by the job engine and continues
  from that checkpoint, keeping its original start as the next high-water mark.
- **Same rows as writes.** Tickets go through `ticket_values` and `store.tickets.upsert_tickets`,
  keyed by vendor id, whose guard never lets an older vendor version overwrite a newer row (a write
  made meanwhile).
- **One bad ticket never stops a sync.** Vendor strings are made storable where they enter the
  domain (`domain.tickets.VendorValue`), and converters fall back to text. A page the store still
  refuses for its values (`_is_unstorable`) is stored again ticket by ticket; a ticket refused alone
  is skipped, logged with its vendor id, remembered in the sync state and fetched again (by id) at
  the start of the next run, and the run goes on. The run's report and the connection's health
  (INTERNAL_ERROR, ours to fix) name the skipped tickets. More than `MAX_SKIPPED` skipped tickets
  is no longer one bad record: the error is raised and the run fails as before.
- **Directory.** Projects, priorities and statuses are listed whole at the start of every run; the
  ones the vendor no longer lists are marked inactive, and active again once listed (so a project a
  shifting page walk missed heals on the next run).
- **Deletions.** Every run then walks the ids of every vendor ticket into `sync_seen` and marks the
  local tickets it did not list inactive (`active = false`), and active again any it lists; rows
  stored after the walk began are spared. A full run has just listed every ticket: its pages fill
  `sync_seen` as they are stored, and it walks no ids (a call saved per 5,000 tickets). A
  listing can miss a live ticket (a page that shifted, an index that lags), so the ones it did not
  list are first asked of the vendor directly (`existing_ticket_ids`); only those the vendor
  confirms gone become inactive. An interrupted walk starts over. The walk's rows are emptied after
  the run's end, `CLEAR_PAGE_SIZE` a transaction: SQLite holds a transaction's deletions in memory,
  50 MB for one statement over 100,000 rows.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.connectors.base import Connector
from ticketbridge.connectors.errors import VendorNotFound
from ticketbridge.connectors.paging import fetch_ahead
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import VendorTicket
from ticketbridge.enums import ConnectionState, HealthName
from ticketbridge.errors import (
    Conflict,
    NotFound,
    RateLimited,
    ReauthorizationNeeded,
    VendorAuthFailed,
    VendorRefused,
    VendorUnavailable,
)
from ticketbridge.jobs.context import JobContext
from ticketbridge.jobs.models import JobType, LeaseLost, RetryLater
from ticketbridge.jobs.schedule import SYNC_ITEM_KEY, enqueue_sync_job
from ticketbridge.observability import get_logger
from ticketbridge.services import connections as connections_service
from ticketbridge.services import create_claims
from ticketbridge.services.normalize import ticket_values
from ticketbridge.services.vendors import VendorAccess
from ticketbridge.store import connections as connections_store
from ticketbridge.store import directory
from ticketbridge.store import sync_state as store
from ticketbridge.store import tickets as tickets_store
from ticketbridge.store.base import utcnow

log = get_logger("ticketbridge.sync")

#: Tickets a page: Jira's most with the fields a ticket needs (connectors cap it at their own).
PAGE_SIZE = 100
#: Ids a page of the deletion walk: Jira's most for ids only (5000 rows, one INSERT into sync_seen).
ID_PAGE_SIZE = 5000
#: Rows of the deletion walk emptied a transaction at a time (bounds what SQLite holds meanwhile).
CLEAR_PAGE_SIZE = 5000
#: Tickets the deletion walk did not list, confirmed with the vendor this many at a time.
CONFIRM_PAGE_SIZE = 100
#: Skipped tickets a run tolerates (remembered ones included); beyond, the store's error is raised.
MAX_SKIPPED = 100
#: Skipped vendor ids named in the connection's health description.
HEALTH_IDS_SHOWN = 10
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
        await ctx.item_failed(
            SYNC_ITEM_KEY, error=f"Connection {connection.id} is {connection.state}.", code=Conflict.code
        )
        return
    try:
        report = await sync_connection(ctx.transaction, access, connection)
    except (RateLimited, VendorUnavailable) as exc:
        raise RetryLater(exc.retry_after_seconds, exc.message) from exc
    except (VendorAuthFailed, VendorRefused, ReauthorizationNeeded, NotFound) as exc:
        await ctx.item_failed(SYNC_ITEM_KEY, error=exc.message, code=exc.code)
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
        # Rows a run left when it stopped between its end and its own clearing; gone before the new
        # run starts, so that none of them counts as seen by it.
        await _clear_seen(transaction, connection.id)
        state = dataclasses.replace(
            state,
            run_started_at=utcnow(),
            run_since=state.high_water_mark - OVERLAP if state.high_water_mark else None,
            checkpoint=None,
            phase=TICKETS,
            tickets_synced=0,
            tickets_deactivated=0,
        )
        async with transaction() as db:
            await store.update_sync_state(db, connection.id, **{name: getattr(state, name) for name in RUN_FIELDS})
    log.info(
        "sync.started",
        connection_id=str(connection.id),
        full=state.run_since is None and state.checkpoint is None,
        resumed_from=state.checkpoint.isoformat() if state.checkpoint else None,
        phase=state.phase,
    )
    # A full run's ticket pages are its deletion walk (`_PageStore(seen=True)`).
    full = state.run_since is None
    try:
        async with access.open(connection) as connector:
            synced = state.tickets_synced
            if state.phase == TICKETS:
                await _sync_directory(transaction, connector, connection)
                synced = await _sync_tickets(transaction, connector, connection, state, page_size, seen=full)
            assert state.run_started_at is not None
            walked_since = state.run_started_at if full else None
            deactivated = await _sync_deletions(transaction, connector, connection, walked_since=walked_since)
    except (VendorRefused, NotFound) as exc:
        await access.record_health(connection, HealthName.VENDOR_CLIENT_ERROR, exc.message)
        raise
    now = utcnow()
    async with transaction() as db:
        skipped = await store.skipped_ids(db, connection.id)
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
        if skipped:
            # In this transaction, not through `access.record_health`: `open` has just set HEALTHY.
            note = _skipped_note(skipped)
            await connections_service.record_health(db, connection.id, HealthName.INTERNAL_ERROR, note)
    # After the run's end, not before: a run resumed before it still needs the walk's rows.
    await _clear_seen(transaction, connection.id)
    log.info(
        "sync.finished",
        connection_id=str(connection.id),
        tickets=synced,
        deactivated=deactivated,
        skipped=len(skipped),
    )
    return {
        "tickets_synced": synced,
        "tickets_deactivated": deactivated,
        "tickets_skipped": len(skipped),
        "skipped_vendor_ids": skipped,
    }


def _skipped_note(vendor_ids: list[str]) -> str:
    shown = ", ".join(vendor_ids[:HEALTH_IDS_SHOWN]) + (", ..." if len(vendor_ids) > HEALTH_IDS_SHOWN else "")
    return (
        f"The last sync could not store {len(vendor_ids)} ticket(s) (vendor ids {shown}); every other ticket "
        "was stored, and these are retried at the next sync."
    )


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
    *,
    seen: bool,
) -> int:
    pages = _PageStore(transaction, connection, seen=seen)
    synced = state.tickets_synced + await pages.retry_skipped(connector)
    since = state.checkpoint or state.run_since
    async for page in fetch_ahead(connector.iter_tickets(updated_since=since, page_size=page_size)):
        synced += await pages.store(page, synced_before=synced)
    async with transaction() as db:
        await store.update_sync_state(db, connection.id, phase=DELETIONS)
    return synced


def _is_unstorable(exc: StatementError) -> bool:
    """Whether the store refused the values themselves (an encoding, a length, a constraint): the
    row is at fault. A store that is down or a lost connection is not a bad row (DBAPIError)."""
    if isinstance(exc, (DataError, IntegrityError)):
        return True
    return not isinstance(exc, DBAPIError)  # a value the driver could not bind


class _PageStore:
    """Stores pages of vendor tickets for one run, skipping (and remembering) a ticket the store refuses.
    With `seen`, every ticket of a page (stored or refused: the vendor listed it) is also added to
    the deletion walk's rows, in the page's transaction."""

    def __init__(self, transaction: Transaction, connection: ConnectionRead, *, seen: bool = False) -> None:
        self._transaction = transaction
        self._connection = connection
        self._seen = seen
        #: Skipped by this or an earlier run, not stored since.
        self._skipped: set[str] = set()

    async def retry_skipped(self, connector: Connector) -> int:
        """Fetches the tickets earlier runs could not store and stores them; returns how many were."""
        async with self._transaction() as db:
            self._skipped = set(await store.skipped_ids(db, self._connection.id))
        if not self._skipped:
            return 0
        found: list[VendorTicket] = []
        gone: list[str] = []
        for vendor_id in sorted(self._skipped):
            try:
                found.append(await connector.get_ticket(vendor_id))
            except VendorNotFound:
                gone.append(vendor_id)
        if gone:
            async with self._transaction() as db:
                await store.forget_skipped(db, self._connection.id, gone)
            self._skipped.difference_update(gone)
        log.info("sync.retrying_skipped", connection_id=str(self._connection.id), found=len(found), gone=len(gone))
        return await self.store(found, synced_before=None) if found else 0

    async def store(self, page: list[VendorTicket], *, synced_before: int | None) -> int:
        """Stores `page` in one transaction, with the run's checkpoint when `synced_before` is given
        (the count so far); returns how many tickets were stored."""
        try:
            async with self._transaction() as db:
                await self._upsert(db, page)
                await self._add_seen(db, page)
                await self._checkpoint(db, page, synced_before, stored=len(page))
            return len(page)
        except StatementError as exc:
            if not _is_unstorable(exc):
                raise
            log.warning(
                "sync.page_refused",
                connection_id=str(self._connection.id),
                tickets=len(page),
                error=_describe(exc),
            )
        return await self._store_one_by_one(page, synced_before)

    async def _store_one_by_one(self, page: list[VendorTicket], synced_before: int | None) -> int:
        refused: list[str] = []
        error: StatementError | None = None
        for ticket in page:
            try:
                async with self._transaction() as db:
                    await self._upsert(db, [ticket])
            except StatementError as exc:
                if not _is_unstorable(exc):
                    raise
                error = exc
                refused.append(ticket.vendor_id)
                log.error(
                    "sync.ticket_skipped",
                    connection_id=str(self._connection.id),
                    vendor_id=ticket.vendor_id,
                    key=ticket.key,
                    error=_describe(exc),
                )
        self._skipped.update(refused)
        stored = len(page) - len(refused)
        async with self._transaction() as db:
            await store.add_skipped(db, self._connection.id, refused)
            await self._add_seen(db, page)
            await self._checkpoint(db, page, synced_before, stored=stored)
        if len(self._skipped) > MAX_SKIPPED and error is not None:
            log.error("sync.too_many_skipped", connection_id=str(self._connection.id), skipped=len(self._skipped))
            raise error
        return stored

    async def _upsert(self, db: AsyncSession, tickets: list[VendorTicket]) -> None:
        values = await ticket_values(db, self._connection, tickets)
        await tickets_store.upsert_tickets(
            db,
            [values[ticket.vendor_id] for ticket in tickets],
            organization_id=self._connection.organization_id,
            connection_id=self._connection.id,
        )
        await create_claims.adopt_synced(db, self._connection, [ticket.vendor_id for ticket in tickets])
        stored_again = self._skipped.intersection(ticket.vendor_id for ticket in tickets)
        if stored_again:
            await store.forget_skipped(db, self._connection.id, sorted(stored_again))
            self._skipped.difference_update(stored_again)

    async def _add_seen(self, db: AsyncSession, page: list[VendorTicket]) -> None:
        if self._seen:
            await store.add_seen(db, self._connection.id, [ticket.vendor_id for ticket in page])

    async def _checkpoint(
        self, db: AsyncSession, page: list[VendorTicket], synced_before: int | None, *, stored: int
    ) -> None:
        if synced_before is None:
            return
        # A skipped ticket is behind the checkpoint too: the skipped list, not the walk, retries it.
        changed = [t.updated_at for t in page if t.updated_at is not None]
        checkpoint = {"checkpoint": max(changed)} if changed else {}
        await store.update_sync_state(db, self._connection.id, tickets_synced=synced_before + stored, **checkpoint)


def _describe(exc: Exception) -> str:
    """The first line of a store error, short (its parameters would repeat the whole page)."""
    cause = getattr(exc, "orig", None) or exc
    return f"{type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}"[:300]


async def _sync_deletions(
    transaction: Transaction, connector: Connector, connection: ConnectionRead, *, walked_since: datetime | None
) -> int:
    """Marks inactive the tickets the vendor confirms gone. `walked_since`: the ticket walk that
    began then listed every ticket into the seen rows already, so no id walk is needed."""
    walk_started = walked_since
    if walk_started is None:
        await _clear_seen(transaction, connection.id)
        walk_started = utcnow()
        async for ids in fetch_ahead(connector.iter_ticket_ids(page_size=ID_PAGE_SIZE)):
            async with transaction() as db:
                await store.add_seen(db, connection.id, ids)
    await _confirm_unseen(transaction, connector, connection, stored_before=walk_started)
    async with transaction() as db:
        return await store.apply_seen(db, connection.id, stored_before=walk_started)


async def _clear_seen(transaction: Transaction, connection_id: uuid.UUID) -> None:
    """Empties the deletion walk's rows, `CLEAR_PAGE_SIZE` a transaction (see `store.clear_seen`)."""
    cleared = CLEAR_PAGE_SIZE
    while cleared == CLEAR_PAGE_SIZE:
        async with transaction() as db:
            cleared = await store.clear_seen(db, connection_id, limit=CLEAR_PAGE_SIZE)


async def _confirm_unseen(
    transaction: Transaction, connector: Connector, connection: ConnectionRead, *, stored_before: datetime
) -> None:
    """Asks the vendor about every ticket the walk did not list; the ones that exist are added to
    the seen ones, so that only tickets the vendor confirms gone become inactive."""
    after = ""
    missed = 0
    while True:
        async with transaction() as db:
            unseen = await store.unseen_ticket_ids(
                db, connection.id, stored_before=stored_before, after=after, limit=CONFIRM_PAGE_SIZE
            )
        if not unseen:
            break
        alive = sorted(await connector.existing_ticket_ids(unseen))
        if alive:
            missed += len(alive)
            async with transaction() as db:
                await store.add_seen(db, connection.id, alive)
        after = unseen[-1]
    if missed:
        log.warning("sync.deletion_walk_missed", connection_id=str(connection.id), tickets=missed)
