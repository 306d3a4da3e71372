"""What a handler gets for one run: the job, its pending items, and fenced ways to record outcomes."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketbridge.jobs.models import ItemState, Job, JobItem, LeaseLost
from ticketbridge.store import jobs as store
from ticketbridge.store.base import read_session


@dataclass(slots=True)
class Lease:
    """This worker's hold on one job: the fencing token and, by the local monotonic clock, when the
    hold runs out unless the heartbeat renews it."""

    token: uuid.UUID
    seconds: float
    expires_monotonic: float
    lost: bool = False

    @classmethod
    def starting(cls, token: uuid.UUID, seconds: float, *, claimed_monotonic: float) -> Lease:
        return cls(token=token, seconds=seconds, expires_monotonic=claimed_monotonic + seconds)

    def renewed(self, *, at_monotonic: float) -> None:
        self.expires_monotonic = at_monotonic + self.seconds

    @property
    def remaining_seconds(self) -> float:
        return self.expires_monotonic - time.monotonic()


@dataclass(frozen=True, slots=True)
class Succeeded:
    """An item done: `result` is merged into what is known (ticket_id, identifier, ...)."""

    key: str
    vendor_ref: str | None = None
    result: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Failed:
    """An item failed for good, with a safe message for the tenant and its stable code."""

    key: str
    error: str
    code: str
    result: dict[str, Any] | None = None


class JobContext:
    """One run of one job, as its handler sees it.

    Every write goes through a fenced transaction: it first locks the job row under this run's
    lease token, so once another worker has taken the job over, nothing from this run can land
    (`LeaseLost` is raised instead). Handlers let LeaseLost propagate.
    """

    def __init__(
        self,
        *,
        job: Job,
        lease: Lease,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
    ) -> None:
        self.job = job
        self.sessionmaker = sessionmaker
        self._lease = lease
        self._clock = clock

    async def pending_items(self) -> list[JobItem]:
        """The items not yet done, by request index: a re-run skips what an earlier run finished.

        A read transaction: on SQLite it waits for no writer (a claim of the worker's next job, say)."""
        async with read_session(self.sessionmaker) as db:
            return await store.list_items(db, self.job.id, states=[ItemState.PENDING])

    def check_lease(self) -> None:
        """Raises LeaseLost unless at least a third of the lease remains by the local clock.

        Call it right before a vendor write: a worker that was frozen or starved (its heartbeat
        late) stops before a write it might not be able to record, rather than after.
        """
        if self._lease.lost or self._lease.remaining_seconds < self._lease.seconds / 3:
            raise LeaseLost(f"job {self.job.id}: the lease is lost or about to expire")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A transaction that commits only while this run holds the lease. Use it to make the
        handler's own store writes atomic with an item's outcome (pass it as `db=`)."""
        async with self.sessionmaker() as db, db.begin():
            await store.hold_lease(db, self.job.id, self._lease.token)
            yield db

    async def item_vendor_ref(self, key: str, vendor_ref: str, *, db: AsyncSession | None = None) -> None:
        """Notes that the vendor write for `key` happened (e.g. the Jira key), before anything else is
        written, so that a re-run adopts it and never writes to the vendor again."""
        await self._write([store.ItemChange(key, vendor_ref=vendor_ref)], db)

    async def item_succeeded(
        self,
        key: str,
        *,
        vendor_ref: str | None = None,
        result: dict[str, Any] | None = None,
        db: AsyncSession | None = None,
    ) -> None:
        """Marks `key` done. `result` is merged into what is known (ticket_id, identifier, ...)."""
        await self.record_items([Succeeded(key, vendor_ref=vendor_ref, result=result)], db=db)

    async def item_failed(
        self,
        key: str,
        *,
        error: str,
        code: str,
        result: dict[str, Any] | None = None,
        db: AsyncSession | None = None,
    ) -> None:
        """Marks `key` failed for good (the vendor rejected it): the job goes on, and ends FAILED.

        The tenant sees `error` and `code` (a stable code such as a domain error's): give a safe
        message, never an exception's text. Messages are cut to `store.MESSAGE_MAX_CHARS`."""
        await self.record_items([Failed(key, error=error, code=code, result=result)], db=db)

    async def record_items(self, outcomes: Sequence[Succeeded | Failed], *, db: AsyncSession | None = None) -> None:
        """Records a batch of outcomes in the same few statements whatever its size (see
        `store.update_items`), in `db` when given (it must come from `transaction()`), else in a
        fenced transaction of its own."""
        changes = [
            store.ItemChange(
                outcome.key,
                state=ItemState.SUCCEEDED,
                vendor_ref=outcome.vendor_ref,
                merge=outcome.result,
            )
            if isinstance(outcome, Succeeded)
            else store.ItemChange(
                outcome.key,
                state=ItemState.FAILED,
                error=outcome.error,
                merge={**(outcome.result or {}), store.ERROR_CODE_KEY: outcome.code},
            )
            for outcome in outcomes
        ]
        await self._write(changes, db)

    async def _write(self, changes: list[store.ItemChange], db: AsyncSession | None) -> None:
        if not changes:
            return
        if db is None:
            async with self.transaction() as fenced:
                await store.update_items(fenced, self.job.id, changes, now=self._clock())
        else:
            await store.update_items(db, self.job.id, changes, now=self._clock())
