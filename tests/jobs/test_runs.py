"""How runs end: retries and their bounds, deferrals, heartbeats, re-runs that skip done items,
graceful release at shutdown, and retention."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

from tests.jobs.effects import TEST_EFFECT
from tests.jobs.support import (
    built_runtime,
    enqueue,
    job_settings,
    load_items,
    load_job,
    make_tenant_rows,
    run_with_competing_workers,
)
from ticketbridge.jobs import engine
from ticketbridge.jobs.context import JobContext
from ticketbridge.jobs.models import ItemState, JobItemSpec, JobStatus, RetryLater
from ticketbridge.jobs.registry import JobHandler
from ticketbridge.jobs.worker import Worker
from ticketbridge.state import Runtime
from ticketbridge.store import jobs as store
from ticketbridge.store.base import utcnow


def worker(runtime: Runtime, handle: JobHandler, concurrency: int = 2) -> Worker:
    return Worker.for_runtime(runtime, handlers={TEST_EFFECT: handle}, concurrency=concurrency)


async def test_a_job_that_keeps_failing_ends_failed_after_its_attempts(jobs_runtime: Runtime) -> None:
    tenant = await make_tenant_rows(jobs_runtime)
    job = await enqueue(jobs_runtime, tenant, items=[JobItemSpec(key="t1", request_index=0, known={"ticket_id": "t1"})])
    runs: list[int] = []

    async def always_down(ctx: JobContext) -> None:
        runs.append(ctx.job.attempt)
        raise ConnectionError("vendor unreachable")

    await worker(jobs_runtime, JobHandler(always_down, breakdown_key="ticket_id")).run_until_idle()

    assert runs == [1, 2, 3]
    failed = await load_job(jobs_runtime, job.id)
    assert failed.status is JobStatus.FAILED and failed.attempt == 3
    assert failed.failure_reason is not None
    reason = json.loads(failed.failure_reason)
    # An unexpected exception is ours: its text goes to the log (tests/jobs/test_failure_reasons.py).
    expected_error = (
        f"Gave up after 3 attempts; last error: The job failed on our side; it has been logged under job {job.id}."
    )
    assert reason == {
        "total": 1,
        "succeeded": 0,
        "failed": 1,
        "results": [
            {"success": False, "error": expected_error, "code": "INTERNAL_ERROR", "request_index": 0, "ticket_id": "t1"}
        ],
        "error": expected_error,
        "code": "INTERNAL_ERROR",
    }


async def test_runs_lost_with_their_workers_count_as_attempts(jobs_runtime: Runtime) -> None:
    tenant = await make_tenant_rows(jobs_runtime)
    job = await enqueue(jobs_runtime, tenant)
    max_attempts = jobs_runtime.settings.job_max_attempts
    lease = jobs_runtime.settings.job_lease_seconds
    start = utcnow()
    for attempt in range(max_attempts):
        # Each "worker" claims and dies: the next claim comes after its lease expired.
        _token, [claimed] = await engine.claim_jobs(
            jobs_runtime.sessionmaker,
            owner=f"dead-{attempt}",
            job_types=[TEST_EFFECT],
            limit=1,
            lease_seconds=lease,
            connection_cap=5,
            now=start + timedelta(seconds=2 * lease * attempt),
        )
        assert claimed.attempt == attempt + 1
    ran: list[int] = []

    async def never_reached(ctx: JobContext) -> None:
        ran.append(ctx.job.attempt)

    later = Worker(
        sessionmaker=jobs_runtime.sessionmaker,
        settings=jobs_runtime.settings,
        handlers={TEST_EFFECT: JobHandler(never_reached)},
        wakeup=jobs_runtime.job_wakeup,
        metrics=jobs_runtime.job_metrics,
        concurrency=1,
        clock=lambda: start + timedelta(seconds=2 * lease * max_attempts),
    )
    await later.run_until_idle()
    failed = await load_job(jobs_runtime, job.id)
    assert ran == [] and failed.status is JobStatus.FAILED
    assert failed.failure_reason is not None
    assert "lease expired" in json.loads(failed.failure_reason)["error"]


async def test_a_long_job_keeps_its_lease_through_heartbeats(database_url: str, tmp_path: Path) -> None:
    settings = job_settings(database_url, tmp_path, job_lease_seconds=1.0, job_poll_interval_seconds=0.05)

    async def slow(ctx: JobContext) -> None:
        await asyncio.sleep(3.2)  # more than three leases
        await ctx.item_succeeded("0")

    # Two workers compete: without heartbeats the idle one would take the job over.
    async with built_runtime(settings) as runtime:
        done, starts = await run_with_competing_workers(runtime, slow)

    assert done.status is JobStatus.SUCCESS and done.attempt == 1
    assert starts == 1


async def test_retry_later_requeues_at_the_named_time_without_spending_an_attempt(
    jobs_runtime: Runtime,
) -> None:
    tenant = await make_tenant_rows(jobs_runtime)
    job = await enqueue(jobs_runtime, tenant)

    async def rate_limited(_ctx: JobContext) -> None:
        raise RetryLater(120, "429 Too Many Requests")

    await worker(jobs_runtime, JobHandler(rate_limited)).run_until_idle()
    deferred = await load_job(jobs_runtime, job.id)
    assert deferred.status is JobStatus.QUEUED and deferred.visible_status is JobStatus.RUNNING
    assert deferred.attempt == 0 and deferred.last_error == "429 Too Many Requests"
    async with jobs_runtime.sessionmaker() as db, db.begin():
        assert await store.get_deferrals(db, job.id) == 1
        assert await store.oldest_due_run_at(db, now=utcnow()) is None  # not due for two minutes
        assert await store.oldest_due_run_at(db, now=utcnow() + timedelta(seconds=121)) is not None


async def test_deferrals_are_bounded(jobs_runtime: Runtime) -> None:
    tenant = await make_tenant_rows(jobs_runtime)
    job = await enqueue(jobs_runtime, tenant)
    runs: list[int] = []

    async def forever_busy(ctx: JobContext) -> None:
        runs.append(ctx.job.attempt)
        raise RetryLater(0, "busy")

    await worker(jobs_runtime, JobHandler(forever_busy)).run_until_idle()
    failed = await load_job(jobs_runtime, job.id)
    assert failed.status is JobStatus.FAILED and len(runs) == engine.MAX_DEFERRALS + 1
    assert set(runs) == {1}
    assert failed.failure_reason is not None
    assert json.loads(failed.failure_reason)["error"].startswith("Still deferred after")


async def test_a_re_run_sees_only_the_items_not_yet_done(jobs_runtime: Runtime) -> None:
    tenant = await make_tenant_rows(jobs_runtime)
    job = await enqueue(jobs_runtime, tenant, items=[JobItemSpec(key=str(i), request_index=i) for i in range(3)])
    seen: list[list[str]] = []

    async def crashes_after_first_item(ctx: JobContext) -> None:
        pending = await ctx.pending_items()
        seen.append([item.key for item in pending])
        if ctx.job.attempt == 1:
            await ctx.item_succeeded(pending[0].key, vendor_ref="V-0")
            await ctx.item_vendor_ref(pending[1].key, "V-1")
            raise RuntimeError("crashed between the vendor write and its record")
        for item in pending:
            await ctx.item_succeeded(item.key, vendor_ref=item.vendor_ref or f"V-{item.key}")

    await worker(jobs_runtime, JobHandler(crashes_after_first_item)).run_until_idle()
    assert seen == [["0", "1", "2"], ["1", "2"]]
    assert (await load_job(jobs_runtime, job.id)).status is JobStatus.SUCCESS
    assert [item.vendor_ref for item in await load_items(jobs_runtime, job.id)] == ["V-0", "V-1", "V-2"]


async def test_a_handler_that_leaves_items_pending_has_failed_its_attempt(jobs_runtime: Runtime) -> None:
    tenant = await make_tenant_rows(jobs_runtime)
    job = await enqueue(jobs_runtime, tenant)

    async def forgetful(_ctx: JobContext) -> None:
        return None

    await worker(jobs_runtime, JobHandler(forgetful)).run_until_idle()
    failed = await load_job(jobs_runtime, job.id)
    assert failed.status is JobStatus.FAILED and failed.attempt == jobs_runtime.settings.job_max_attempts
    assert [item.state for item in await load_items(jobs_runtime, job.id)] == [ItemState.FAILED]


async def test_shutdown_lets_running_jobs_finish_then_releases_the_rest(database_url: str, tmp_path: Path) -> None:
    settings = job_settings(database_url, tmp_path, job_lease_seconds=0.5)
    async with built_runtime(settings) as runtime:
        tenant = await make_tenant_rows(runtime)
        quick, stuck = await enqueue(runtime, tenant), await enqueue(runtime, tenant)
        both_started = asyncio.Barrier(3)

        async def handle(ctx: JobContext) -> None:
            await both_started.wait()
            if ctx.job.id == stuck.id:
                await asyncio.Event().wait()  # never finishes on its own
            await asyncio.sleep(0.1)
            await ctx.item_succeeded("0")

        stop = asyncio.Event()
        task = asyncio.create_task(worker(runtime, JobHandler(handle)).run(stop))
        await both_started.wait()
        stop.set()
        await task

        assert (await load_job(runtime, quick.id)).status is JobStatus.SUCCESS
        released = await load_job(runtime, stuck.id)
        assert released.status is JobStatus.QUEUED and released.attempt == 0
        assert released.lease_token is None and released.last_error == "released at worker shutdown"


async def test_finished_jobs_are_swept_after_their_retention(jobs_runtime: Runtime) -> None:
    tenant = await make_tenant_rows(jobs_runtime)
    old, recent, waiting = [await enqueue(jobs_runtime, tenant) for _ in range(3)]
    for job, age_days in ((old, 15), (recent, 13)):
        token, [claimed] = await engine.claim_jobs(
            jobs_runtime.sessionmaker,
            owner="w",
            job_types=[TEST_EFFECT],
            limit=1,
            lease_seconds=30,
            connection_cap=5,
            now=utcnow(),
        )
        assert claimed.id == job.id
        async with jobs_runtime.sessionmaker() as db, db.begin():
            await store.finish_job(
                db,
                job.id,
                token,
                status=JobStatus.SUCCESS,
                failure_reason=None,
                last_error=None,
                now=utcnow() - timedelta(days=age_days),
            )
    swept = await engine.sweep_finished_jobs(jobs_runtime.sessionmaker, retention_days=14, now=utcnow())
    assert swept == 1
    async with jobs_runtime.sessionmaker() as db, db.begin():
        assert await store.get_job_by_id(db, recent.id)
        assert await store.get_job_by_id(db, waiting.id)
        assert await store.list_items(db, old.id) == []
