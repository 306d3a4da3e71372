"""/v1/jobs: poll, list and retry the connection's asynchronous jobs; and /metrics.

Polls and lists read in a read transaction (`ReadDbSession`): a client polling a job never waits for
SQLite's write lock, which the job's own worker takes for each of its steps."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from prometheus_client import CONTENT_TYPE_LATEST

from ticketbridge.api.deps import ConnectionDep, DbSession, ReadDbSession, RuntimeDep
from ticketbridge.api.models.errors import error_responses
from ticketbridge.api.models.jobs import JobListModel, JobModel, JobResponseModel
from ticketbridge.domain.inputs import SafeStr
from ticketbridge.jobs.models import Job, JobStatus
from ticketbridge.services import jobs as jobs_service
from ticketbridge.store.base import utcnow

router = APIRouter(prefix="/v1/jobs", tags=["Jobs"], responses=error_responses(401, 404, 409, 422, 500))
metrics_router = APIRouter(tags=["Health"])


async def get_job(job_id: uuid.UUID, db: DbSession, connection: ConnectionDep) -> Job:
    return await jobs_service.get_job(
        db, job_id, organization_id=connection.organization_id, connection_id=connection.id
    )


async def get_job_to_read(job_id: uuid.UUID, db: ReadDbSession, connection: ConnectionDep) -> Job:
    return await jobs_service.get_job(
        db, job_id, organization_id=connection.organization_id, connection_id=connection.id
    )


JobDep = Annotated[Job, Depends(get_job)]
#: The same lookup in the request's read transaction, for routes that only read.
ReadJobDep = Annotated[Job, Depends(get_job_to_read)]


@router.get("/{job_id}", operation_id="get_job")
async def get_job_status(job: ReadJobDep, db: ReadDbSession) -> JobModel:
    """A job's status, progress and per-item results. Another connection's job answers 404."""
    return JobModel.of(await jobs_service.view_job(db, job))


@router.get("", operation_id="list_jobs")
async def list_jobs(
    db: ReadDbSession,
    connection: ConnectionDep,
    status_filter: Annotated[JobStatus | None, Query(alias="status")] = None,
    job_type: Annotated[SafeStr | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=200, pattern="^[A-Za-z0-9_-]+$")] = None,
) -> JobListModel:
    """The connection's jobs, newest first, one page at a time."""
    page = await jobs_service.list_jobs(
        db,
        organization_id=connection.organization_id,
        connection_id=connection.id,
        limit=limit,
        cursor=cursor,
        status=status_filter,
        job_type=job_type,
    )
    return JobListModel.of(page)


@router.post(
    "/{job_id}/retry-failed",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="retry_failed_job_items",
)
async def retry_failed(job: JobDep, db: DbSession) -> JobResponseModel:
    """Runs only the failed items of a finished job again, as a new job (409 if none failed)."""
    retried = await jobs_service.retry_failed(db, job)
    return JobResponseModel(job_id=str(retried.id))


@metrics_router.get("/metrics", operation_id="metrics", include_in_schema=False)
async def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus text format: jobs by state, the oldest due job's wait, run durations."""
    body = await runtime.job_metrics.render(runtime.sessionmaker, now=utcnow())
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
