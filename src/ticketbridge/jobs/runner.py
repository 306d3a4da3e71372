"""One run of one claimed job: the handler runs in its own task under the lease, and the run ends in
exactly one fenced state change (finished, requeued, given up, released) or in none, if the lease
was lost to another worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketbridge.config import Settings
from ticketbridge.errors import ServiceUnavailable, TicketbridgeError
from ticketbridge.jobs import engine
from ticketbridge.jobs.context import JobContext, Lease
from ticketbridge.jobs.metrics import JobMetrics
from ticketbridge.jobs.models import Failure, Job, LeaseLost, RetryLater
from ticketbridge.jobs.registry import JobHandler
from ticketbridge.observability import get_logger

log = get_logger("ticketbridge.jobs")
#: The code of a failure on our side; its message names the job, under which the log has the detail.
INTERNAL_ERROR = "INTERNAL_ERROR"


class JobRun:
    def __init__(
        self,
        job: Job,
        lease: Lease,
        handler: JobHandler,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        metrics: JobMetrics,
        clock: Callable[[], datetime],
    ) -> None:
        self.job = job
        self.lease = lease
        self._handler = handler
        self._sessionmaker = sessionmaker
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._log = log.bind(job_id=str(job.id), job_type=job.job_type, attempt=job.attempt)

    def lose_lease(self) -> None:
        """The heartbeat found the job taken over: stop the handler; nothing of this run may land."""
        self.lease.lost = True
        if self._task is not None:
            self._task.cancel()

    def interrupt(self) -> None:
        """Shutdown: stop the handler; the run releases the job to the queue."""
        if self._task is not None:
            self._task.cancel()

    async def run(self) -> str:
        """Runs the job to the end of this attempt; returns how the run ended (for metrics and logs)."""
        started = time.monotonic()
        try:
            outcome = await self._run()
        except LeaseLost:
            outcome = "lease_lost"
        if outcome == "lease_lost":
            self._log.warning("jobs.lease_lost")
        else:
            self._log.info("jobs.run_ended", outcome=outcome)
        self._metrics.observe_run(job_type=self.job.job_type, outcome=outcome, seconds=time.monotonic() - started)
        return outcome

    async def _run(self) -> str:
        max_attempts = self._settings.job_max_attempts
        if self.job.attempt > max_attempts:
            # The run of the last attempt vanished (lease expired): the attempts are spent.
            self._log.error("jobs.worker_lost", last_error=self.job.last_error)
            message = (
                f"Gave up after {max_attempts} attempts: its worker stopped before finishing (lease expired); "
                f"it has been logged under job {self.job.id}."
            )
            await self._give_up(Failure(INTERNAL_ERROR, message, f"lease expired; last error: {self.job.last_error}"))
            return "failed"
        context = JobContext(job=self.job, lease=self.lease, sessionmaker=self._sessionmaker, clock=self._clock)
        self._task = asyncio.create_task(self._handler.handle(context))
        await asyncio.wait({self._task})
        if self._task.cancelled():
            if self.lease.lost:
                return "lease_lost"
            released = await engine.requeue(
                self._sessionmaker,
                self.job,
                self.lease.token,
                run_at=self._clock(),
                error="released at worker shutdown",
                refund_attempt=True,
            )
            return "released" if released else "lease_lost"
        error = self._task.exception()
        if error is None:
            status = await engine.finish_from_ledger(
                self._sessionmaker,
                self.job,
                self.lease.token,
                breakdown_key=self._handler.breakdown_key,
                now=self._clock(),
            )
            if status is not None:
                return status.lower()
            self._log.error("jobs.items_left_pending")
            return await self._attempt_failed(self._internal("the handler returned with items still pending"))
        if isinstance(error, RetryLater):
            return await self._defer(error)
        if isinstance(error, LeaseLost):
            # The handler saw the lease slipping (check_lease) or a fenced write failed. If the
            # job is still ours after all, hand it back now rather than after the lease expires.
            released = await engine.requeue(
                self._sessionmaker,
                self.job,
                self.lease.token,
                run_at=self._clock(),
                error=str(error),
                refund_attempt=True,
            )
            return "released" if released else "lease_lost"
        failure = self._failure_of(error)
        # The traceback, the exception's own text and the job id go to the log, never to the tenant.
        self._log.warning("jobs.attempt_failed", code=failure.code, exc_info=error)
        return await self._attempt_failed(failure)

    def _failure_of(self, error: BaseException) -> Failure:
        """A domain or vendor error keeps its code and message, written to be shown; anything else
        (a database error carrying SQL and parameters, a bug) becomes INTERNAL_ERROR."""
        detail = f"{type(error).__name__}: {error}"
        if isinstance(error, TicketbridgeError):
            return Failure(error.code, error.message, detail)
        return self._internal(detail)

    def _internal(self, detail: str) -> Failure:
        message = f"The job failed on our side; it has been logged under job {self.job.id}."
        return Failure(INTERNAL_ERROR, message, detail)

    async def _attempt_failed(self, failure: Failure) -> str:
        max_attempts = self._settings.job_max_attempts
        if self.job.attempt >= max_attempts:
            message = f"Gave up after {max_attempts} attempts; last error: {failure.message}"
            await self._give_up(Failure(failure.code, message, failure.detail))
            return "failed"
        delay = engine.backoff_seconds(self.job.attempt, base_seconds=self._settings.job_backoff_seconds)
        await self._requeue(delay, failure.detail, refund_attempt=False, deferral=False)
        return "retry"

    async def _defer(self, retry: RetryLater) -> str:
        deferrals = await engine.deferrals_of(self._sessionmaker, self.job)
        if deferrals >= engine.MAX_DEFERRALS:
            # Services raise RetryLater from the domain error (rate limited, vendor down) that says why.
            cause = retry.__cause__
            code = cause.code if isinstance(cause, TicketbridgeError) else ServiceUnavailable.code
            message = f"Still deferred after {deferrals} deferrals; last reason: {retry.reason}"
            await self._give_up(Failure(code, message, message))
            return "failed"
        delay = retry.after_seconds
        if delay is None:
            delay = engine.backoff_seconds(deferrals + 1, base_seconds=self._settings.job_backoff_seconds)
        await self._requeue(delay, retry.reason, refund_attempt=True, deferral=True)
        return "deferred"

    async def _requeue(self, delay_seconds: float, error: str, *, refund_attempt: bool, deferral: bool) -> None:
        requeued = await engine.requeue(
            self._sessionmaker,
            self.job,
            self.lease.token,
            run_at=self._clock() + timedelta(seconds=delay_seconds),
            error=error,
            refund_attempt=refund_attempt,
            deferral=deferral,
        )
        if not requeued:
            raise LeaseLost(f"job {self.job.id} was taken over before it could be requeued")

    async def _give_up(self, failure: Failure) -> None:
        self._log.error("jobs.gave_up", code=failure.code, reason=failure.message)
        given_up = await engine.give_up(
            self._sessionmaker,
            self.job,
            self.lease.token,
            failure=failure,
            breakdown_key=self._handler.breakdown_key,
            now=self._clock(),
        )
        if not given_up:
            raise LeaseLost(f"job {self.job.id} was taken over before it could be ended")
