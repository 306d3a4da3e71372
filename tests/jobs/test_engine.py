"""Enqueue, claim, lease, fencing and the end of a run, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from tests.jobs.effects import REJECTED, TEST_EFFECT, effect_files, effect_handlers
from tests.jobs.support import all_jobs, enqueue, load_items, load_job, make_tenant_rows
from ticketbridge.jobs import engine
from ticketbridge.jobs.context import JobContext, Lease
from ticketbridge.jobs.models import ItemState, Job, JobItemSpec, JobStatus, LeaseLost
from ticketbridge.jobs.registry import JobHandler
from ticketbridge.jobs.worker import Worker
from ticketbridge.state import Runtime
from ticketbridge.store.base import utcnow

LEASE_SECONDS = 2.0


def worker(runtime: Runtime, handlers: dict[str, JobHandler] | None = None, concurrency: int = 4) -> Worker:
    return Worker.for_runtime(runtime, handlers=handlers or effect_handlers(), concurrency=concurrency)


async def claim(
    runtime: Runtime, owner: str, *, at_offset_seconds: float = 0, cap: int = 10, limit: int = 10
) -> tuple[uuid.UUID, list[Job]]:
    return await engine.claim_jobs(
        runtime.sessionmaker,
        owner=owner,
        job_types=[TEST_EFFECT],
        limit=limit,
        lease_seconds=LEASE_SECONDS,
        connection_cap=cap,
        now=utcnow() + timedelta(seconds=at_offset_seconds),
    )


async def test_enqueue_belongs_to_the_callers_transaction(jobs_runtime: Runtime) -> None:
    tenant = await make_tenant_rows(jobs_runtime)
    async with jobs_runtime.sessionmaker() as db, db.begin():
        await engine.enqueue_job(
            db,
            organization_id=tenant.organization_id,
            connection_id=tenant.connection_id,
            job_type=TEST_EFFECT,
            payload={},
            items=[JobItemSpec(key="0", request_index=0)],
        )
        assert not jobs_runtime.job_wakeup.is_pending
        await db.rollback()
    assert await all_jobs(jobs_runtime) == []
    assert not jobs_runtime.job_wakeup.is_pending

    job = await enqueue(jobs_runtime, tenant)
    assert jobs_runtime.job_wakeup.is_pending
    assert job.status is JobStatus.QUEUED and job.attempt == 0
    assert [(item.key, item.state) for item in await load_items(jobs_runtime, job.id)] == [("0", ItemState.PENDING)]


async def test_a_run_records_every_item_and_the_ledger_decides_the_status(
    jobs_runtime: Runtime, effects_dir: Path
) -> None:
    tenant = await make_tenant_rows(jobs_runtime)
    payload = {"effects_dir": str(effects_dir)}
    good = await enqueue(
        jobs_runtime,
        tenant,
        payload=payload,
        items=[JobItemSpec(key=f"k{i}", request_index=i, known={"identifier": f"id-{i}"}) for i in range(3)],
    )
    mixed = await enqueue(
        jobs_runtime,
        tenant,
        payload=payload,
        items=[
            JobItemSpec(key="a", request_index=0, known={"identifier": "A"}),
            JobItemSpec(key="b", request_index=1, payload={"reject": True}, known={"identifier": "B"}),
        ],
    )
    await worker(jobs_runtime).run_until_idle()

    finished = await load_job(jobs_runtime, good.id)
    assert finished.status is JobStatus.SUCCESS and finished.failure_reason is None
    for item in await load_items(jobs_runtime, good.id):
        [effect] = effect_files(effects_dir, good.id, item.key)
        assert item.state is ItemState.SUCCEEDED and item.vendor_ref == effect.read_text()

    failed = await load_job(jobs_runtime, mixed.id)
    assert failed.status is JobStatus.FAILED
    a_ref = (await load_items(jobs_runtime, mixed.id))[0].vendor_ref
    assert failed.failure_reason is not None
    assert json.loads(failed.failure_reason) == {
        "total": 2,
        "succeeded": 1,
        "failed": 1,
        "results": [
            {"success": True, "error": None, "code": None, "request_index": 0, "identifier": "A"},
            {"success": False, "error": REJECTED, "code": "VENDOR_REJECTED", "request_index": 1, "identifier": "B"},
        ],
    }
    assert a_ref is not None and effect_files(effects_dir, mixed.id, "b") == []


async def test_claims_hold_the_per_connection_cap(jobs_runtime: Runtime) -> None:
    busy = await make_tenant_rows(jobs_runtime, "Busy")
    quiet = await make_tenant_rows(jobs_runtime, "Quiet")
    for _ in range(5):
        await enqueue(jobs_runtime, busy)
    quiet_job = await enqueue(jobs_runtime, quiet)

    _token, first = await claim(jobs_runtime, "a", cap=2)
    assert sorted(job.connection_id == busy.connection_id for job in first) == [False, True, True]
    assert quiet_job.id in {job.id for job in first}
    _token, second = await claim(jobs_runtime, "b", cap=2)
    assert second == []


async def test_an_expired_lease_is_claimable_exactly_when_it_expires(jobs_runtime: Runtime) -> None:
    tenant = await make_tenant_rows(jobs_runtime)
    job = await enqueue(jobs_runtime, tenant)
    first_token, [held] = await claim(jobs_runtime, "a")
    assert held.attempt == 1 and held.lease_token == first_token

    _token, early = await claim(jobs_runtime, "b", at_offset_seconds=LEASE_SECONDS - 0.5)
    assert early == []
    second_token, [taken] = await claim(jobs_runtime, "b", at_offset_seconds=LEASE_SECONDS + 0.5)
    assert taken.id == job.id and taken.attempt == 2 and second_token != first_token
    assert taken.started_at == held.started_at


async def test_a_worker_that_lost_its_lease_cannot_write_or_finish(jobs_runtime: Runtime) -> None:
    tenant = await make_tenant_rows(jobs_runtime)
    job = await enqueue(jobs_runtime, tenant)
    old_token, [old] = await claim(jobs_runtime, "frozen")
    new_token, [new] = await claim(jobs_runtime, "rescuer", at_offset_seconds=LEASE_SECONDS + 1)

    stale = JobContext(
        job=old,
        lease=Lease.starting(old_token, LEASE_SECONDS, claimed_monotonic=0),
        sessionmaker=jobs_runtime.sessionmaker,
        clock=utcnow,
    )
    with pytest.raises(LeaseLost):
        await stale.item_succeeded("0", vendor_ref="DUPLICATE")
    with pytest.raises(LeaseLost):
        await engine.finish_from_ledger(
            jobs_runtime.sessionmaker, old, old_token, breakdown_key="identifier", now=utcnow()
        )
    assert not await engine.requeue(
        jobs_runtime.sessionmaker, old, old_token, run_at=utcnow(), error=None, refund_attempt=True
    )
    assert (await load_job(jobs_runtime, job.id)).lease_token == new_token
    assert (await load_items(jobs_runtime, job.id))[0].state is ItemState.PENDING

    current = JobContext(
        job=new,
        lease=Lease.starting(new_token, LEASE_SECONDS, claimed_monotonic=0),
        sessionmaker=jobs_runtime.sessionmaker,
        clock=utcnow,
    )
    await current.item_succeeded("0", vendor_ref="REAL")
    status = await engine.finish_from_ledger(
        jobs_runtime.sessionmaker, new, new_token, breakdown_key="identifier", now=utcnow()
    )
    assert status is JobStatus.SUCCESS
    assert [item.vendor_ref for item in await load_items(jobs_runtime, job.id)] == ["REAL"]


async def test_check_lease_refuses_a_vendor_write_once_the_lease_runs_low(jobs_runtime: Runtime) -> None:
    tenant = await make_tenant_rows(jobs_runtime)
    await enqueue(jobs_runtime, tenant)
    token, [job] = await claim(jobs_runtime, "w")
    now = time.monotonic()

    def context(lease: Lease) -> JobContext:
        return JobContext(job=job, lease=lease, sessionmaker=jobs_runtime.sessionmaker, clock=utcnow)

    fresh = Lease.starting(token, LEASE_SECONDS, claimed_monotonic=now)
    context(fresh).check_lease()
    running_low = Lease.starting(token, LEASE_SECONDS, claimed_monotonic=now - LEASE_SECONDS * 0.9)
    with pytest.raises(LeaseLost):
        context(running_low).check_lease()
    fresh.lost = True  # what the heartbeat does when a renewal comes back without the job
    with pytest.raises(LeaseLost):
        context(fresh).check_lease()
