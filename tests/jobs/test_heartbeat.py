"""The heartbeat: it renews every lease of a worker in one statement, and never queues behind a job's
own transaction (which holds the job row while it writes), without weakening the fence."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from tests.jobs.effects import TEST_EFFECT
from tests.jobs.support import (
    built_runtime,
    enqueue,
    job_settings,
    load_job,
    make_tenant_rows,
    run_with_competing_workers,
)
from ticketbridge.jobs import engine
from ticketbridge.jobs.context import JobContext, Lease
from ticketbridge.jobs.models import Job, JobStatus
from ticketbridge.state import Runtime
from ticketbridge.store.base import utcnow
from ticketbridge.store.jobs import Renewal

LEASE_SECONDS = 2.0
#: Far longer than any renewal takes: past it, the heartbeat is waiting for the job's lock (a hang).
HANG_SECONDS = 20.0


async def claim(runtime: Runtime, owner: str, *, at_offset_seconds: float = 0) -> tuple[Lease, list[Job]]:
    token, jobs = await engine.claim_jobs(
        runtime.sessionmaker,
        owner=owner,
        job_types=[TEST_EFFECT],
        limit=10,
        lease_seconds=LEASE_SECONDS,
        connection_cap=10,
        now=utcnow() + timedelta(seconds=at_offset_seconds),
    )
    return Lease.starting(token, LEASE_SECONDS, claimed_monotonic=0), jobs


async def renew(runtime: Runtime, job: Job, lease: Lease) -> Renewal:
    # Bounded, so that a heartbeat that waits for the lock fails the test instead of hanging it.
    return await asyncio.wait_for(
        engine.renew_leases(runtime.sessionmaker, {job.id: lease.token}, lease_seconds=LEASE_SECONDS, now=utcnow()),
        HANG_SECONDS,
    )


async def test_the_heartbeat_skips_a_lease_whose_job_holds_its_row_and_renews_it_after(
    jobs_runtime: Runtime,
) -> None:
    if jobs_runtime.settings.is_embedded:
        pytest.skip("SQLite has one writer: its heartbeat waits for the job's transaction, as any write does")
    tenant = await make_tenant_rows(jobs_runtime)
    await enqueue(jobs_runtime, tenant)
    lease, [job] = await claim(jobs_runtime, "w")
    context = JobContext(job=job, lease=lease, sessionmaker=jobs_runtime.sessionmaker, clock=utcnow)
    claimed_until = (await load_job(jobs_runtime, job.id)).lease_expires_at

    async with context.transaction():
        during = await renew(jobs_runtime, job, lease)
        # Locked, the row cannot be taken over either, even once its lease has run out.
        _, taken = await claim(jobs_runtime, "rescuer", at_offset_seconds=LEASE_SECONDS + 1)
    assert during.busy == {job.id} and during.renewed == set()
    assert taken == []
    assert (await load_job(jobs_runtime, job.id)).lease_expires_at == claimed_until

    after = await renew(jobs_runtime, job, lease)
    assert after.renewed == {job.id} and after.busy == set()
    renewed = await load_job(jobs_runtime, job.id)
    assert renewed.lease_token == lease.token
    assert claimed_until is not None and renewed.lease_expires_at is not None
    assert renewed.lease_expires_at > claimed_until


async def test_a_lease_taken_over_is_neither_renewed_nor_busy(jobs_runtime: Runtime) -> None:
    tenant = await make_tenant_rows(jobs_runtime)
    await enqueue(jobs_runtime, tenant)
    old, [job] = await claim(jobs_runtime, "frozen")
    new, _ = await claim(jobs_runtime, "rescuer", at_offset_seconds=LEASE_SECONDS + 1)

    stale = await renew(jobs_runtime, job, old)
    assert stale.renewed == set() and stale.busy == set()
    assert (await load_job(jobs_runtime, job.id)).lease_token == new.token


async def test_a_job_holding_its_row_through_heartbeats_keeps_its_lease(database_url: str, tmp_path: Path) -> None:
    settings = job_settings(database_url, tmp_path, job_lease_seconds=1.0, job_poll_interval_seconds=0.05)

    async def holds_its_row(ctx: JobContext) -> None:
        async with ctx.transaction():
            await asyncio.sleep(0.5)  # across a heartbeat (every third of the lease)
        await ctx.item_succeeded("0")

    # A skipped renewal taken for a lost lease would cancel the run; the idle worker would rerun it.
    async with built_runtime(settings) as runtime:
        done, starts = await run_with_competing_workers(runtime, holds_its_row, hang_seconds=HANG_SECONDS)

    assert done.status is JobStatus.SUCCESS and done.attempt == 1
    assert starts == 1
