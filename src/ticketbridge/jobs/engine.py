"""Enqueueing, claiming, heartbeats and the end of a run: every state change of a job.

Each function here owns its short transaction (taken from the sessionmaker) except `enqueue_job` and
`enqueue_retry_of_failed`, which write into the caller's unit of work and only flush.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketbridge.errors import Conflict
from ticketbridge.jobs.models import Failure, ItemResult, ItemState, Job, JobItem, JobItemSpec, JobStatus
from ticketbridge.jobs.wakeup import wakeup_of
from ticketbridge.observability import get_logger
from ticketbridge.store import jobs as store
from ticketbridge.store.base import read_session, utcnow

log = get_logger("ticketbridge.jobs")

#: A RetryLater run gives its attempt back; this bounds how often a job may be deferred in a row.
MAX_DEFERRALS = 50
#: Exponential backoff stops growing here.
MAX_BACKOFF_SECONDS = 300.0


async def enqueue_job(
    db: AsyncSession,
    *,
    organization_id: uuid.UUID,
    connection_id: uuid.UUID,
    job_type: str,
    payload: dict[str, Any],
    items: list[JobItemSpec],
    retry_of_job_id: uuid.UUID | None = None,
) -> Job:
    """Adds a QUEUED job (and its items) to the caller's transaction; flushes, never commits.

    The job exists exactly when the caller's own writes do: there is no second system to tell.
    Workers wake when the transaction commits (in-process event, or PostgreSQL NOTIFY).
    """
    keys = [spec.key for spec in items]
    if len(set(keys)) != len(keys):
        raise ValueError("job item keys must be unique within a job")
    job = await store.insert_job(
        db,
        organization_id=organization_id,
        connection_id=connection_id,
        job_type=job_type,
        payload=payload,
        item_specs=items,
        now=utcnow(),
        retry_of_job_id=retry_of_job_id,
    )
    wakeup = wakeup_of(db)
    if wakeup is not None:
        wakeup.notify_on_commit(db)
    # Within a request, this line ties the job id to the request id (the job's own lines carry only the former).
    log.info("jobs.enqueued", job_id=str(job.id), job_type=job_type, items=len(items))
    return job


async def enqueue_retry_of_failed(db: AsyncSession, job: Job) -> Job:
    """A new job of the same type and payload over only `job`'s failed items.

    An item's known fields and vendor reference travel with it, so a vendor write that already
    happened is adopted, not repeated. Raises Conflict if `job` is unfinished or nothing failed.
    """
    if not job.status.is_finished:
        raise Conflict(f"Job {job.id} has not finished; only a finished job's failed items can be retried.")
    failed = await store.list_items(db, job.id, states=[ItemState.FAILED])
    if not failed:
        raise Conflict(f"Job {job.id} has no failed items to retry.")
    return await enqueue_job(
        db,
        organization_id=job.organization_id,
        connection_id=job.connection_id,
        job_type=job.job_type,
        payload=job.payload,
        items=[
            JobItemSpec(
                key=item.key,
                request_index=item.request_index,
                payload=item.payload,
                known=item.result,
                vendor_ref=item.vendor_ref,
            )
            for item in failed
        ],
        retry_of_job_id=job.id,
    )


async def claim_jobs(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    owner: str,
    job_types: Collection[str],
    limit: int,
    lease_seconds: float,
    connection_cap: int,
    now: datetime,
) -> tuple[uuid.UUID, list[Job]]:
    """Claims up to `limit` jobs in one short transaction; returns the lease token and the jobs."""
    token = uuid.uuid4()
    if limit <= 0 or not job_types:
        return token, []
    async with sessionmaker() as db, db.begin():
        claimed = await store.claim_jobs(
            db,
            owner=owner,
            token=token,
            job_types=job_types,
            limit=limit,
            lease_seconds=lease_seconds,
            connection_cap=connection_cap,
            now=now,
        )
    return token, claimed


async def renew_leases(
    sessionmaker: async_sessionmaker[AsyncSession],
    held: Mapping[uuid.UUID, uuid.UUID],
    *,
    lease_seconds: float,
    now: datetime,
) -> store.Renewal:
    """The heartbeat: extends every lease in `held` (job id -> token) whose row is not locked right
    now; says which were renewed and which were skipped while still held (see `store.renew_leases`)."""
    if not held:
        return store.Renewal(set(), set())
    async with sessionmaker() as db, db.begin():
        return await store.renew_leases(
            db, held.keys(), set(held.values()), expires_at=now + timedelta(seconds=lease_seconds)
        )


def failure_breakdown(items: list[JobItem], *, breakdown_key: str) -> dict[str, Any]:
    """Leen's failure_reason object: counts plus one entry per item, by request index (Leen's
    fields, and our stable `code` beside each `error`)."""
    results = [ItemResult.of(item) for item in items]
    return {
        "total": len(results),
        "succeeded": sum(result.success for result in results),
        "failed": sum(not result.success for result in results),
        "results": [
            {
                "success": result.success,
                "error": result.error,
                "code": result.code,
                "request_index": result.request_index,
                breakdown_key: getattr(result, breakdown_key),
            }
            for result in results
        ],
    }


async def finish_from_ledger(
    sessionmaker: async_sessionmaker[AsyncSession],
    job: Job,
    token: uuid.UUID,
    *,
    breakdown_key: str,
    now: datetime,
) -> JobStatus | None:
    """Ends a run whose handler returned: SUCCESS if every item succeeded, FAILED (with Leen's
    breakdown) if any failed. Returns None, changing nothing, if an item is still pending (the
    attempt failed). Raises LeaseLost if another worker owns the job now."""
    async with sessionmaker() as db, db.begin():
        if await store.finish_if_succeeded(db, job.id, token, now=now):
            return JobStatus.SUCCESS
        await store.hold_lease(db, job.id, token)
        ledger = await store.list_items(db, job.id)
        if any(item.state is ItemState.PENDING for item in ledger):
            return None
        if any(item.state is ItemState.FAILED for item in ledger):
            reason = json.dumps(failure_breakdown(ledger, breakdown_key=breakdown_key))
            status = JobStatus.FAILED
        else:
            reason, status = None, JobStatus.SUCCESS
        await store.finish_job(db, job.id, token, status=status, failure_reason=reason, last_error=None, now=now)
    return status


async def give_up(
    sessionmaker: async_sessionmaker[AsyncSession],
    job: Job,
    token: uuid.UUID,
    *,
    failure: Failure,
    breakdown_key: str,
    now: datetime,
) -> bool:
    """Ends a job as FAILED for a reason of its own (attempts or deferrals exhausted): the items
    still pending fail with that reason, and the breakdown carries it under "error" and "code".
    `failure.detail` goes to last_error only."""
    message = store.bounded(failure.message)
    async with sessionmaker() as db, db.begin():
        await store.hold_lease(db, job.id, token)
        await store.fail_pending_items(db, job.id, code=failure.code, error=message, now=now)
        breakdown = failure_breakdown(await store.list_items(db, job.id), breakdown_key=breakdown_key)
        return await store.finish_job(
            db,
            job.id,
            token,
            status=JobStatus.FAILED,
            failure_reason=json.dumps({**breakdown, "error": message, "code": failure.code}),
            last_error=failure.detail,
            now=now,
        )


async def requeue(
    sessionmaker: async_sessionmaker[AsyncSession],
    job: Job,
    token: uuid.UUID,
    *,
    run_at: datetime,
    error: str | None,
    refund_attempt: bool,
    deferral: bool = False,
) -> bool:
    """Puts a held job back in the queue (fenced). `refund_attempt` gives the run's attempt back:
    for a deferral (RetryLater) and for a release at shutdown."""
    async with sessionmaker() as db, db.begin():
        return await store.requeue_job(
            db,
            job.id,
            token,
            run_at=run_at,
            last_error=error,
            refund_attempt=refund_attempt,
            deferral=deferral,
        )


async def deferrals_of(sessionmaker: async_sessionmaker[AsyncSession], job: Job) -> int:
    async with read_session(sessionmaker) as db:
        return await store.get_deferrals(db, job.id)


def backoff_seconds(failures: int, *, base_seconds: float) -> float:
    """Exponential backoff with full jitter: uniform in [0, base * 2**(failures-1)], capped."""
    ceiling = min(MAX_BACKOFF_SECONDS, base_seconds * 2 ** max(0, failures - 1))
    return random.uniform(0, ceiling)


async def sweep_finished_jobs(
    sessionmaker: async_sessionmaker[AsyncSession], *, retention_days: float, now: datetime
) -> int:
    """Deletes jobs finished more than `retention_days` ago; returns how many."""
    async with sessionmaker() as db, db.begin():
        return await store.sweep_finished_jobs(db, finished_before=now - timedelta(days=retention_days))
