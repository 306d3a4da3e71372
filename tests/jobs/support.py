"""Helpers for the engine's tests: tenants as rows, runtimes with job settings, jobs in bulk."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.conftest import empty_tables, make_settings
from tests.jobs.effects import TEST_EFFECT
from ticketbridge.config import Settings
from ticketbridge.enums import ConnectionState, Vendor
from ticketbridge.jobs.context import JobContext
from ticketbridge.jobs.engine import enqueue_job
from ticketbridge.jobs.models import Job, JobItem, JobItemSpec, JobStatus
from ticketbridge.jobs.registry import JobHandler
from ticketbridge.jobs.worker import Worker
from ticketbridge.state import Runtime
from ticketbridge.store import connections as connections_store
from ticketbridge.store import jobs as jobs_store
from ticketbridge.store import organizations as organizations_store
from ticketbridge.store.tables import JobRow


@dataclass(frozen=True)
class TenantIds:
    organization_id: uuid.UUID
    connection_id: uuid.UUID


def job_settings(database_url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "job_lease_seconds": 2.0,
        "job_poll_interval_seconds": 0.2,
        "job_backoff_seconds": 0.0,
        "job_max_attempts": 3,
        **overrides,
    }
    return make_settings(database_url, data_dir, **values)


@asynccontextmanager
async def built_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime.build(settings)
    try:
        yield runtime
    finally:
        await empty_tables(runtime.engine)
        await runtime.close()


async def make_tenant_rows(runtime: Runtime, name: str = "Acme") -> TenantIds:
    async with runtime.sessionmaker() as db, db.begin():
        org = await organizations_store.create_organization(db, name=name)
        connection = await connections_store.create_connection(
            db,
            organization_id=org.id,
            vendor=Vendor.JIRA,
            base_url="https://acme.atlassian.net",
            credentials_encrypted="not-used",
            state=ConnectionState.ACTIVE,
            status_mapping={},
            priority_mapping={},
            refresh_interval_secs=3600,
            timeout_secs=60,
        )
    return TenantIds(organization_id=org.id, connection_id=connection.id)


async def enqueue(
    runtime: Runtime,
    tenant: TenantIds,
    *,
    job_type: str = TEST_EFFECT,
    payload: dict[str, Any] | None = None,
    items: list[JobItemSpec] | None = None,
) -> Job:
    async with runtime.sessionmaker() as db, db.begin():
        return await enqueue_job(
            db,
            organization_id=tenant.organization_id,
            connection_id=tenant.connection_id,
            job_type=job_type,
            payload=payload or {},
            items=items if items is not None else [JobItemSpec(key="0", request_index=0)],
        )


async def load_job(runtime: Runtime, job_id: uuid.UUID) -> Job:
    async with runtime.sessionmaker() as db, db.begin():
        return await jobs_store.get_job_by_id(db, job_id)


async def load_items(runtime: Runtime, job_id: uuid.UUID) -> list[JobItem]:
    async with runtime.sessionmaker() as db, db.begin():
        return await jobs_store.list_items(db, job_id)


async def all_jobs(runtime: Runtime) -> list[Any]:
    async with runtime.sessionmaker() as db, db.begin():
        return list((await db.execute(select(JobRow.__table__))).all())


async def run_with_competing_workers(
    runtime: Runtime, effect: Callable[[JobContext], Awaitable[None]], *, hang_seconds: float = 20.0
) -> tuple[Job, int]:
    """Enqueues one job and runs `effect` for it with two workers competing for it (either would take
    over a lease it took for lost, and start the job again) until the job has ended; returns the
    ended job and how many times it started."""
    job = await enqueue(runtime, await make_tenant_rows(runtime))
    starts = 0
    finished = asyncio.Event()

    async def counted(ctx: JobContext) -> None:
        nonlocal starts
        starts += 1
        await effect(ctx)
        finished.set()

    handlers = {TEST_EFFECT: JobHandler(counted)}
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(Worker.for_runtime(runtime, handlers=handlers, concurrency=2).run(stop)) for _ in range(2)
    ]
    await asyncio.wait_for(finished.wait(), hang_seconds)
    while (await load_job(runtime, job.id)).status is JobStatus.RUNNING:
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(*tasks)
    return await load_job(runtime, job.id), starts
