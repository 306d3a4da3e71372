"""Periodic jobs. Syncs: a CONNECTOR_SYNC job for each connection whose refresh interval has
passed. The jobs table is the schedule: a connection is due when it has no sync queued or running
and none was enqueued within its `refresh_interval_secs`. The idle-expiry guard: an
OAUTH_IDLE_REFRESH job for each OAuth grant whose refresh token has gone unused for the idle
threshold (vendors expire it a little later), likewise at most one per connection at a time. One
transaction under a lock (PostgreSQL's advisory lock, SQLite's single writer) makes this safe with
any number of workers calling it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketbridge.jobs.engine import enqueue_job
from ticketbridge.jobs.models import Job, JobItemSpec, JobType
from ticketbridge.observability import get_logger
from ticketbridge.store import oauth as oauth_store
from ticketbridge.store import sync_state as store

log = get_logger("ticketbridge.jobs.schedule")

#: How often each worker looks for due syncs; a sync starts at most this late.
SCHEDULE_INTERVAL_SECONDS = 30.0
#: A sync job has one ledger item: the run as a whole succeeds or fails.
SYNC_ITEM_KEY = "sync"
#: Likewise an idle refresh.
IDLE_REFRESH_ITEM_KEY = "refresh"
#: An idle refresh that failed for good (the operator's OAuth app refused) is tried again after this.
IDLE_REFRESH_RETRY_SECONDS = 6 * 3600.0


async def enqueue_sync_job(
    db: AsyncSession, *, organization_id: uuid.UUID, connection_id: uuid.UUID, trigger: str
) -> Job:
    return await enqueue_job(
        db,
        organization_id=organization_id,
        connection_id=connection_id,
        job_type=JobType.CONNECTOR_SYNC,
        payload={"trigger": trigger},
        items=[JobItemSpec(key=SYNC_ITEM_KEY, request_index=0)],
    )


async def enqueue_due_syncs(sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime) -> int:
    """Enqueues the due syncs in one short transaction; returns how many."""
    async with sessionmaker() as db, db.begin():
        await store.lock_schedule(db)
        due = await store.due_sync_connections(db, job_type=JobType.CONNECTOR_SYNC, now=now)
        for organization_id, connection_id in due:
            await enqueue_sync_job(db, organization_id=organization_id, connection_id=connection_id, trigger="schedule")
    return len(due)


async def run_schedule(
    name: str, enqueue_due: Callable[[], Awaitable[int]], stop: asyncio.Event, *, interval_seconds: float
) -> None:
    """Runs `enqueue_due` at once and then every `interval_seconds`, beside a worker, until `stop` is
    set. A failed round (the database) is logged and the next one tries again: what is due stays due."""
    while not stop.is_set():
        try:
            enqueued = await enqueue_due()
        except Exception:
            log.exception("jobs.schedule_failed", schedule=name)
        else:
            if enqueued:
                log.info("jobs.enqueued", schedule=name, count=enqueued)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_seconds)


async def enqueue_idle_refreshes(
    sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime, idle_seconds: float
) -> int:
    """Enqueues an OAUTH_IDLE_REFRESH job for each grant unused for `idle_seconds`; returns how many."""
    async with sessionmaker() as db, db.begin():
        await store.lock_schedule(db)
        due = await oauth_store.idle_grants(
            db,
            used_before=now - timedelta(seconds=idle_seconds),
            job_type=JobType.OAUTH_IDLE_REFRESH,
            retry_after=now - timedelta(seconds=IDLE_REFRESH_RETRY_SECONDS),
        )
        for organization_id, connection_id in due:
            await enqueue_job(
                db,
                organization_id=organization_id,
                connection_id=connection_id,
                job_type=JobType.OAUTH_IDLE_REFRESH,
                payload={"idle_seconds": idle_seconds},
                items=[JobItemSpec(key=IDLE_REFRESH_ITEM_KEY, request_index=0)],
            )
    return len(due)
