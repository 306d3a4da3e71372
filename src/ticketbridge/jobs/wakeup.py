"""Waking workers when a job is enqueued, instead of waiting for their next poll.

In-process, an enqueue's commit sets this process's `JobWakeup`. Across processes, the enqueue's
`pg_notify` (store/jobs.py) reaches every worker that LISTENs; PostgreSQL delivers it only if the
transaction commits. Workers still poll, so a lost notification only costs one poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.observability import get_logger
from ticketbridge.store.jobs import WAKEUP_CHANNEL

log = get_logger("ticketbridge.jobs")

#: Key under which a session's `info` carries the process's JobWakeup (set up in state.Runtime).
WAKEUP_INFO_KEY = "job_wakeup"


class JobWakeup:
    """A level-triggered wake-up: `notify` any number of times, one `wait` consumes them all."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    @property
    def is_pending(self) -> bool:
        """A notification has arrived that no `wait` has consumed yet."""
        return self._event.is_set()

    async def wait(self, timeout_seconds: float) -> None:
        """Returns when notified or after `timeout_seconds` (the polling fallback)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout_seconds)
        self._event.clear()

    def notify_on_commit(self, db: AsyncSession) -> None:
        """Wakes this process's worker once `db` commits (a rollback wakes no one)."""

        def _committed(_session: Any) -> None:
            self.notify()

        event.listen(db.sync_session, "after_commit", _committed, once=True)


def wakeup_of(db: AsyncSession) -> JobWakeup | None:
    wakeup = db.info.get(WAKEUP_INFO_KEY)
    return wakeup if isinstance(wakeup, JobWakeup) else None


async def listen_for_notifications(
    database_url: str, wakeup: JobWakeup, *, retry_seconds: float, stop: asyncio.Event
) -> None:
    """LISTENs on PostgreSQL until `stop`; reconnects after a failure (polling covers the gap)."""
    url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)

    def _notified(*_args: object) -> None:
        wakeup.notify()

    while not stop.is_set():
        try:
            connection = await asyncpg.connect(url)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("jobs.listen.connect_failed", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), retry_seconds)
            continue
        try:
            await connection.add_listener(WAKEUP_CHANNEL, _notified)
            # Whatever was notified while no one listened is lost: look at the queue now.
            wakeup.notify()
            await _until_stopped_or_closed(connection, stop)
        finally:
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                await connection.close(timeout=5)


async def _until_stopped_or_closed(connection: asyncpg.Connection, stop: asyncio.Event) -> None:
    closed = asyncio.Event()
    connection.add_termination_listener(lambda _connection: closed.set())
    waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(closed.wait())}
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
