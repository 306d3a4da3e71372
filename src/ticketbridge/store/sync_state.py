"""Sync state: the high-water mark and checkpoint of each connection, the deletion walk's scratch
rows, the tickets a sync could not store, and the query that tells the scheduler which connections
are due.

`sync_seen` holds two kinds of row per connection: the vendor ids the deletion walk of the run in
progress listed, and, under `SKIPPED_PREFIX`, the vendor ids of tickets a run could not store (kept
across runs, retried by the next; no vendor id starts with the prefix). Both are sync scratch rows
keyed by (connection, string), so no column of their own is needed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.enums import ConnectionState
from ticketbridge.store.base import utcnow
from ticketbridge.store.tables import Connection, JobRow, SyncSeenRow, SyncStateRow, TicketRow

#: Serializes the scheduler across workers on PostgreSQL (SQLite's BEGIN IMMEDIATE already does).
SCHEDULE_LOCK_KEY = 0x73796E63  # "sync"
#: Marks the `sync_seen` rows that name a ticket a sync could not store.
SKIPPED_PREFIX = "skipped:"


@dataclass(frozen=True, slots=True)
class SyncState:
    connection_id: uuid.UUID
    high_water_mark: datetime | None
    run_started_at: datetime | None
    run_since: datetime | None
    checkpoint: datetime | None
    phase: str | None
    tickets_synced: int
    tickets_deactivated: int
    last_completed_at: datetime | None

    @property
    def in_progress(self) -> bool:
        return self.run_started_at is not None


def _insert_for(db: AsyncSession) -> Any:
    return pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert


async def get_sync_state(db: AsyncSession, connection_id: uuid.UUID) -> SyncState:
    """The connection's state; a connection never synced has an empty one (created here)."""
    await db.execute(
        _insert_for(db)(SyncStateRow)
        .values(connection_id=connection_id, tickets_synced=0, tickets_deactivated=0)
        .on_conflict_do_nothing(index_elements=[SyncStateRow.connection_id])
    )
    row = (
        await db.execute(
            select(SyncStateRow).where(SyncStateRow.connection_id == connection_id),
            execution_options={"populate_existing": True},
        )
    ).scalar_one()
    return SyncState(**{name: getattr(row, name) for name in SyncState.__dataclass_fields__})


async def update_sync_state(db: AsyncSession, connection_id: uuid.UUID, **values: Any) -> None:
    await db.execute(update(SyncStateRow).where(SyncStateRow.connection_id == connection_id).values(**values))


def _is_skipped_row() -> Any:
    return SyncSeenRow.vendor_id.startswith(SKIPPED_PREFIX, autoescape=True)


async def clear_seen(db: AsyncSession, connection_id: uuid.UUID, *, limit: int) -> int:
    """Deletes up to `limit` of the deletion walk's rows (the skipped tickets stay); returns how many
    went. SQLite holds what a transaction deletes in memory until it ends (about 0.5 KiB a row: 50 MB
    for a walk of 100,000), so a walk's rows are emptied `limit` a transaction."""
    batch = (
        select(SyncSeenRow.vendor_id).where(SyncSeenRow.connection_id == connection_id, ~_is_skipped_row()).limit(limit)
    )
    result = await db.execute(
        delete(SyncSeenRow).where(SyncSeenRow.connection_id == connection_id, SyncSeenRow.vendor_id.in_(batch))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def add_seen(db: AsyncSession, connection_id: uuid.UUID, vendor_ids: Sequence[str]) -> None:
    if not vendor_ids:
        return
    # One statement run with a row per id (executemany: compiled once), not one built from 5000 values.
    statement = _insert_for(db)(SyncSeenRow.__table__).on_conflict_do_nothing()
    await db.execute(statement, [{"connection_id": connection_id, "vendor_id": vendor_id} for vendor_id in vendor_ids])


async def unseen_ticket_ids(
    db: AsyncSession, connection_id: uuid.UUID, *, stored_before: datetime, after: str, limit: int
) -> list[str]:
    """The vendor ids, greater than `after` and in order, of the connection's active tickets stored
    before `stored_before` that the deletion walk did not list: the ones `apply_seen` would mark
    inactive, to be confirmed with the vendor first."""
    seen = exists().where(
        SyncSeenRow.connection_id == TicketRow.connection_id, SyncSeenRow.vendor_id == TicketRow.vendor_id
    )
    rows = await db.scalars(
        select(TicketRow.vendor_id)
        .where(
            TicketRow.connection_id == connection_id,
            TicketRow.active.is_(True),
            TicketRow.created_at < stored_before,
            TicketRow.vendor_id > after,
            ~seen,
        )
        .order_by(TicketRow.vendor_id)
        .limit(limit)
    )
    return list(rows)


async def add_skipped(db: AsyncSession, connection_id: uuid.UUID, vendor_ids: Sequence[str]) -> None:
    """Remembers tickets a sync could not store, for the next run to retry."""
    await add_seen(db, connection_id, [SKIPPED_PREFIX + vendor_id for vendor_id in vendor_ids])


async def forget_skipped(db: AsyncSession, connection_id: uuid.UUID, vendor_ids: Sequence[str]) -> None:
    """Drops tickets from the skipped ones (stored at last, or gone from the vendor)."""
    if vendor_ids:
        await db.execute(
            delete(SyncSeenRow).where(
                SyncSeenRow.connection_id == connection_id,
                SyncSeenRow.vendor_id.in_([SKIPPED_PREFIX + vendor_id for vendor_id in vendor_ids]),
            )
        )


async def skipped_ids(db: AsyncSession, connection_id: uuid.UUID) -> list[str]:
    """The vendor ids of the tickets a sync could not store, in order."""
    rows = await db.scalars(
        select(SyncSeenRow.vendor_id)
        .where(SyncSeenRow.connection_id == connection_id, _is_skipped_row())
        .order_by(SyncSeenRow.vendor_id)
    )
    return [row.removeprefix(SKIPPED_PREFIX) for row in rows]


async def apply_seen(db: AsyncSession, connection_id: uuid.UUID, *, stored_before: datetime) -> int:
    """Marks inactive the connection's active tickets that the deletion walk did not list, and active
    again any inactive one it did list (a walk that missed a ticket heals on the next). Rows stored
    after the walk began are spared: the vendor may have created them after the walk passed.
    Returns how many were marked inactive."""
    seen = exists().where(
        SyncSeenRow.connection_id == TicketRow.connection_id, SyncSeenRow.vendor_id == TicketRow.vendor_id
    )
    mine = TicketRow.connection_id == connection_id
    await db.execute(
        update(TicketRow)
        .where(mine, TicketRow.active.is_(False), seen)
        .values(active=True, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    result = await db.execute(
        update(TicketRow)
        .where(mine, TicketRow.active.is_(True), TicketRow.created_at < stored_before, ~seen)
        .values(active=False, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def lock_schedule(db: AsyncSession) -> None:
    """Holds the scheduler's lock until the transaction ends (PostgreSQL; a no-op on SQLite)."""
    if db.get_bind().dialect.name == "postgresql":
        await db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEDULE_LOCK_KEY})


async def due_sync_connections(db: AsyncSession, *, job_type: str, now: datetime) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(organization id, connection id) of each ACTIVE connection with no `job_type` job queued or
    running and none created within its refresh interval: the jobs table is the schedule."""
    pending = exists().where(
        JobRow.connection_id == Connection.id,
        JobRow.job_type == job_type,
        JobRow.status.in_(["QUEUED", "RUNNING"]),
    )
    latest = (
        select(JobRow.connection_id, func.max(JobRow.created_at).label("created_at"))
        .where(JobRow.job_type == job_type)
        .group_by(JobRow.connection_id)
        .subquery()
    )
    rows = await db.execute(
        select(Connection.organization_id, Connection.id, Connection.refresh_interval_secs, latest.c.created_at)
        .outerjoin(latest, latest.c.connection_id == Connection.id)
        .where(Connection.state == ConnectionState.ACTIVE, ~pending)
    )
    return [
        (row.organization_id, row.id)
        for row in rows
        if row.created_at is None or row.created_at + timedelta(seconds=row.refresh_interval_secs) <= now
    ]


async def pending_job_id(db: AsyncSession, connection_id: uuid.UUID, *, job_type: str) -> uuid.UUID | None:
    """The connection's `job_type` job that is queued or running, if any."""
    return await db.scalar(
        select(JobRow.id)
        .where(
            JobRow.connection_id == connection_id,
            JobRow.job_type == job_type,
            JobRow.status.in_(["QUEUED", "RUNNING"]),
        )
        .limit(1)
    )
