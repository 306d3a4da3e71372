"""The worker: claims jobs while it has free slots, runs each under a lease that one heartbeat loop
renews for all of them, and on shutdown stops claiming, lets running jobs finish for up to one lease,
then releases the rest to the queue.

The same `Worker` runs inside `ticketbridge serve` (embedded mode, started by the app's lifespan) and
as `ticketbridge worker --concurrency K` (distributed mode, `run_worker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketbridge.config import Settings
from ticketbridge.errors import NotMigrated
from ticketbridge.jobs import engine
from ticketbridge.jobs.context import Lease
from ticketbridge.jobs.metrics import JobMetrics
from ticketbridge.jobs.models import JobType
from ticketbridge.jobs.registry import HandlerRegistry, RegistryFactory
from ticketbridge.jobs.runner import JobRun
from ticketbridge.jobs.schedule import (
    SCHEDULE_INTERVAL_SECONDS,
    enqueue_due_syncs,
    enqueue_idle_refreshes,
    run_schedule,
)
from ticketbridge.jobs.wakeup import JobWakeup, listen_for_notifications
from ticketbridge.observability import get_logger
from ticketbridge.state import Runtime
from ticketbridge.store import idempotency as idempotency_store
from ticketbridge.store import migrate
from ticketbridge.store.base import utcnow

log = get_logger("ticketbridge.jobs")

#: How often a worker deletes jobs past their retention (and expired Idempotency-Keys).
SWEEP_INTERVAL_SECONDS = 600.0
#: A heartbeat that skipped a locked lease tries again after this fraction of its interval.
BUSY_RETRY_FRACTION = 0.1


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        handlers: HandlerRegistry,
        wakeup: JobWakeup,
        metrics: JobMetrics,
        concurrency: int,
        owner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.owner = owner or default_owner()
        self._sessionmaker = sessionmaker
        self._settings = settings
        self._handlers = handlers
        self._wakeup = wakeup
        self._metrics = metrics
        self._concurrency = concurrency
        self._clock = clock
        self._runs: dict[uuid.UUID, tuple[JobRun, asyncio.Task[None]]] = {}
        self._last_sweep: float | None = None
        self._log = log.bind(worker=self.owner)

    @classmethod
    def for_runtime(cls, runtime: Runtime, *, handlers: HandlerRegistry, concurrency: int) -> Worker:
        return cls(
            sessionmaker=runtime.sessionmaker,
            settings=runtime.settings,
            handlers=handlers,
            wakeup=runtime.job_wakeup,
            metrics=runtime.job_metrics,
            concurrency=concurrency,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Works until `stop` is set, then shuts down gracefully."""
        await self._work(stop, until_idle=False)

    async def run_until_idle(self) -> None:
        """Works until no job is running and none is due (tests and one-off drains)."""
        await self._work(asyncio.Event(), until_idle=True)

    async def _work(self, stop: asyncio.Event, *, until_idle: bool) -> None:
        self._log.info("jobs.worker_started", concurrency=self._concurrency, job_types=sorted(self._handlers))
        helpers = [
            asyncio.create_task(self._heartbeat_loop()),
            asyncio.create_task(self._relay(stop)),
        ]
        if not self._settings.is_embedded:
            helpers.append(
                asyncio.create_task(
                    listen_for_notifications(
                        self._settings.database_url,
                        self._wakeup,
                        retry_seconds=self._settings.job_poll_interval_seconds,
                        stop=stop,
                    )
                )
            )
        try:
            while not stop.is_set():
                # Idle means: nothing was running when the claim began, and it found nothing. (A
                # run that ends during the claim may have requeued its job after the claim looked.)
                was_running = bool(self._runs)
                claimed_any = await self._claim_and_start()
                if until_idle and not was_running and not claimed_any:
                    break
                await self._sweep_if_due()
                if not claimed_any or until_idle:
                    await self._wakeup.wait(self._settings.job_poll_interval_seconds)
        finally:
            await self._drain()
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            self._log.info("jobs.worker_stopped")

    async def _claim_and_start(self) -> bool:
        """Claims for every free slot; True if it got any job (more may be waiting: the per-connection
        cap can cut a claim short)."""
        free = self._concurrency - len(self._runs)
        if free <= 0:
            return False
        claimed_monotonic = time.monotonic()
        try:
            token, jobs = await engine.claim_jobs(
                self._sessionmaker,
                owner=self.owner,
                job_types=self._handlers.keys(),
                limit=free,
                lease_seconds=self._settings.job_lease_seconds,
                connection_cap=self._settings.job_connection_concurrency,
                now=self._clock(),
            )
        except Exception:
            self._log.exception("jobs.claim_failed")
            return False
        for job in jobs:
            lease = Lease.starting(token, self._settings.job_lease_seconds, claimed_monotonic=claimed_monotonic)
            run = JobRun(
                job,
                lease,
                self._handlers[job.job_type],
                sessionmaker=self._sessionmaker,
                settings=self._settings,
                metrics=self._metrics,
                clock=self._clock,
            )
            self._runs[job.id] = (run, asyncio.create_task(self._execute(run)))
        return bool(jobs)

    async def _execute(self, run: JobRun) -> None:
        try:
            await run.run()
        except Exception:
            # The database failed under the run: the job stays RUNNING until its lease expires,
            # then another claim retries it.
            self._log.exception("jobs.run_crashed", job_id=str(run.job.id))
        finally:
            self._runs.pop(run.job.id, None)
            self._wakeup.notify()

    async def _heartbeat_loop(self) -> None:
        interval = self._settings.job_lease_seconds / 3
        delay = interval
        while True:
            await asyncio.sleep(delay)
            delay = interval
            held = {job_id: run.lease.token for job_id, (run, _task) in self._runs.items()}
            if not held:
                continue
            started = time.monotonic()
            try:
                renewal = await engine.renew_leases(
                    self._sessionmaker,
                    held,
                    lease_seconds=self._settings.job_lease_seconds,
                    now=self._clock(),
                )
            except Exception:
                self._log.exception("jobs.heartbeat_failed")
                continue
            if renewal.busy:
                # Their rows were locked by the jobs' own transactions (no takeover can happen
                # meanwhile): try again soon rather than a third of a lease later.
                delay = interval * BUSY_RETRY_FRACTION
            for job_id in held:
                entry = self._runs.get(job_id)
                if entry is None or job_id in renewal.busy:
                    continue
                if job_id in renewal.renewed:
                    entry[0].lease.renewed(at_monotonic=started)
                else:
                    entry[0].lose_lease()

    async def _relay(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wakeup.notify()

    async def _sweep_if_due(self) -> None:
        if self._last_sweep is not None and time.monotonic() - self._last_sweep < SWEEP_INTERVAL_SECONDS:
            return
        self._last_sweep = time.monotonic()
        try:
            swept = await engine.sweep_finished_jobs(
                self._sessionmaker, retention_days=self._settings.job_retention_days, now=self._clock()
            )
            # Expired Idempotency-Keys go on the same schedule (the API already ignores them).
            async with self._sessionmaker.begin() as db:
                expired_keys = await idempotency_store.delete_expired(db, now=self._clock())
        except Exception:
            self._log.exception("jobs.sweep_failed")
            return
        if swept:
            self._log.info("jobs.swept", count=swept)
        if expired_keys:
            self._log.info("idempotency.swept", count=expired_keys)

    async def _drain(self) -> None:
        """Lets running jobs finish for up to one lease, then releases the rest to the queue."""
        tasks = [task for _run, task in self._runs.values()]
        if not tasks:
            return
        self._log.info("jobs.draining", running=len(tasks))
        _done, pending = await asyncio.wait(tasks, timeout=self._settings.job_lease_seconds)
        for run, task in list(self._runs.values()):
            if task in pending:
                run.interrupt()
        if pending:
            await asyncio.wait(pending)


async def prepare_schema(runtime: Runtime) -> None:
    """A standalone worker migrates only where the app would (embedded mode); otherwise it refuses
    to run on a database that `ticketbridge db upgrade` has not brought to head."""
    if runtime.settings.should_auto_migrate:
        await migrate.upgrade(runtime.engine)
    elif not await migrate.is_at_head(runtime.engine):
        raise NotMigrated()


def schedulers(runtime: Runtime, handlers: HandlerRegistry, stop: asyncio.Event) -> list[Coroutine[Any, Any, None]]:
    """The periodic schedulers to run beside a worker with these handlers, until `stop` is set."""
    tasks: list[Coroutine[Any, Any, None]] = []
    if JobType.CONNECTOR_SYNC in handlers:
        tasks.append(
            run_schedule(
                "syncs",
                lambda: enqueue_due_syncs(runtime.sessionmaker, now=utcnow()),
                stop,
                interval_seconds=SCHEDULE_INTERVAL_SECONDS,
            )
        )
    if JobType.OAUTH_IDLE_REFRESH in handlers:
        settings = runtime.settings
        idle_seconds = settings.oauth_idle_refresh_days * 86_400
        tasks.append(
            run_schedule(
                "oauth_idle_refreshes",
                lambda: enqueue_idle_refreshes(runtime.sessionmaker, now=runtime.clock(), idle_seconds=idle_seconds),
                stop,
                interval_seconds=settings.oauth_idle_sweep_interval_seconds,
            )
        )
    return tasks


def freeze_startup_heap() -> None:
    """Moves what the process built at startup (modules, models, the Runtime) out of the garbage
    collector's reach: it lives as long as the process, and every full collection would walk it
    again, pausing whatever job is running (150 ms a collection on 2 loaded cores). What startup
    left as garbage is collected first, so nothing dead is kept."""
    gc.collect()
    gc.freeze()


async def run_worker(settings: Settings, *, concurrency: int, registry: RegistryFactory) -> None:
    """`ticketbridge worker`: runs until SIGTERM or SIGINT, then shuts down gracefully."""
    runtime = Runtime.build(settings)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    try:
        await prepare_schema(runtime)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        handlers = registry(runtime)
        worker = Worker.for_runtime(runtime, handlers=handlers, concurrency=concurrency)
        freeze_startup_heap()
        await asyncio.gather(worker.run(stop), *schedulers(runtime, handlers, stop))
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(signum)
        await runtime.close()
