"""Jobs as a tenant sees them: one job with its progress and results, a page of jobs, a retry."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.domain.inputs import BoundedDateTime
from ticketbridge.jobs import engine
from ticketbridge.jobs.models import ItemResult, ItemState, Job, JobItem, JobStatus, Progress
from ticketbridge.services import cursors
from ticketbridge.store import jobs as store

#: [created_at, id]
_CURSOR = TypeAdapter(tuple[BoundedDateTime, uuid.UUID])


@dataclass(frozen=True, slots=True)
class JobView:
    """A job with what its ledger says: progress, and the results of the items processed so far."""

    job: Job
    progress: Progress
    results: list[ItemResult]

    @classmethod
    def of(cls, job: Job, ledger: list[JobItem]) -> JobView:
        done = [item for item in ledger if item.state is not ItemState.PENDING]
        return cls(
            job=job,
            progress=Progress(
                total=len(ledger),
                succeeded=sum(item.state is ItemState.SUCCEEDED for item in done),
                failed=sum(item.state is ItemState.FAILED for item in done),
            ),
            results=[ItemResult.of(item) for item in done],
        )


@dataclass(frozen=True, slots=True)
class JobPage:
    items: list[JobView]
    next_cursor: str | None


async def get_job(db: AsyncSession, job_id: uuid.UUID, *, organization_id: uuid.UUID, connection_id: uuid.UUID) -> Job:
    """The connection's job; another organization's or connection's is NotFound, like a missing one."""
    return await store.get_job(db, job_id, organization_id=organization_id, connection_id=connection_id)


async def view_job(db: AsyncSession, job: Job) -> JobView:
    ledger = await store.list_items_of(db, [job.id])
    return JobView.of(job, ledger[job.id])


async def list_jobs(
    db: AsyncSession,
    *,
    organization_id: uuid.UUID,
    connection_id: uuid.UUID,
    limit: int,
    cursor: str | None = None,
    status: JobStatus | None = None,
    job_type: str | None = None,
) -> JobPage:
    """The connection's jobs, newest first; `cursor` is the previous page's `next_cursor`."""
    jobs = await store.list_jobs(
        db,
        organization_id=organization_id,
        connection_id=connection_id,
        limit=limit + 1,
        status=status,
        job_type=job_type,
        after=None if cursor is None else _decode_cursor(cursor),
    )
    page, more = jobs[:limit], len(jobs) > limit
    ledger = await store.list_items_of(db, [job.id for job in page])
    return JobPage(
        items=[JobView.of(job, ledger[job.id]) for job in page],
        next_cursor=_encode_cursor(page[-1]) if more else None,
    )


async def retry_failed(db: AsyncSession, job: Job) -> Job:
    """A new job over `job`'s failed items (Conflict if it is unfinished or none failed)."""
    return await engine.enqueue_retry_of_failed(db, job)


def _encode_cursor(job: Job) -> str:
    return cursors.encode([job.created_at.isoformat(), str(job.id)])


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    return cursors.decode(cursor, _CURSOR, issued_by="jobs")
