"""Crash conformance with real worker processes, on SQLite and PostgreSQL.

kill -9: workers are killed with SIGKILL mid-run, several times, over many tiny jobs. Every job must
end in its right final state, the killed workers' jobs must be taken over, and every side effect
must exist exactly once and be the one the ledger recorded.

SIGSTOP: a worker frozen past its lease cannot complete a job that another worker has taken over.

Sizes are configurable: TICKETBRIDGE_CONFORMANCE_JOBS (default 1000), _WORKERS (3), _KILLS (3).
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.jobs.effects import REJECTED, TEST_EFFECT, effect_files
from tests.jobs.processes import WorkerProcess, wait_for
from tests.jobs.support import TenantIds, load_items, load_job, make_tenant_rows
from ticketbridge.jobs.models import ItemState, JobItemSpec, JobStatus
from ticketbridge.state import Runtime
from ticketbridge.store.base import utcnow
from ticketbridge.store.jobs import insert_job, items, jobs

pytestmark = pytest.mark.slow

JOBS = int(os.environ.get("TICKETBRIDGE_CONFORMANCE_JOBS", "1000"))
WORKERS = int(os.environ.get("TICKETBRIDGE_CONFORMANCE_WORKERS", "3"))
KILLS = int(os.environ.get("TICKETBRIDGE_CONFORMANCE_KILLS", "3"))
LEASE_SECONDS = 2.0
CONCURRENCY = 4


def _rejects(index: int) -> bool:
    return index % 50 == 7


def _item_specs(index: int) -> list[JobItemSpec]:
    count = 2 if index % 5 == 0 else 1
    specs = [JobItemSpec(key=f"k{n}", request_index=n, known={"identifier": f"j{index}-{n}"}) for n in range(count)]
    if _rejects(index):
        specs.append(JobItemSpec(key="bad", request_index=count, payload={"reject": True}))
    return specs


async def _enqueue_many(runtime: Runtime, tenants: list[TenantIds], effects_dir: Path) -> dict[uuid.UUID, int]:
    """One transaction, as a burst of bulk requests would leave them; job id -> its index."""
    payload = {"effects_dir": str(effects_dir), "prepare_seconds": 0.005, "record_seconds": 0.005}
    created: dict[uuid.UUID, int] = {}
    async with runtime.sessionmaker() as db, db.begin():
        for index in range(JOBS):
            tenant = tenants[index % len(tenants)]
            job = await insert_job(
                db,
                organization_id=tenant.organization_id,
                connection_id=tenant.connection_id,
                job_type=TEST_EFFECT,
                payload=payload,
                item_specs=_item_specs(index),
                now=utcnow(),
            )
            created[job.id] = index
    return created


async def _count_finished(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as db, db.begin():
        statement = select(func.count()).where(jobs.c.status.in_([JobStatus.SUCCESS, JobStatus.FAILED]))
        return int(await db.scalar(statement) or 0)


async def _running_owners(runtime: Runtime) -> list[tuple[uuid.UUID, str]]:
    async with runtime.sessionmaker() as db, db.begin():
        rows = await db.execute(select(jobs.c.id, jobs.c.lease_owner).where(jobs.c.status == JobStatus.RUNNING))
        return [(row.id, row.lease_owner) for row in rows]


async def test_kill_9_workers_mid_run(jobs_runtime: Runtime, database_url: str, tmp_path: Path) -> None:
    effects_dir = tmp_path / "effects"
    effects_dir.mkdir()
    tenants = [await make_tenant_rows(jobs_runtime, f"Org {n}") for n in range(4)]
    created = await _enqueue_many(jobs_runtime, tenants, effects_dir)

    def start(n: int) -> WorkerProcess:
        return WorkerProcess(
            database_url, tmp_path / f"worker-{n}.log", concurrency=CONCURRENCY, lease_seconds=LEASE_SECONDS
        )

    workers = [start(n) for n in range(WORKERS)]
    held_at_kill: set[uuid.UUID] = set()
    try:
        for round_ in range(KILLS):
            threshold = JOBS * (round_ + 1) // (KILLS + 2)
            await wait_for(_finished_at_least(jobs_runtime, threshold), f"{threshold} finished jobs")

            async def someone_holds_jobs() -> bool:
                owners = await _running_owners(jobs_runtime)
                return any(worker.owns(owner) for worker in workers for _job, owner in owners)

            await wait_for(someone_holds_jobs, "a worker holding jobs", every_seconds=0.01)
            owners = await _running_owners(jobs_runtime)
            victim = next(worker for worker in workers if any(worker.owns(owner) for _job, owner in owners))
            await victim.kill()
            held_at_kill.update(job_id for job_id, owner in owners if victim.owns(owner))
            workers[workers.index(victim)] = start(WORKERS + round_)

        await wait_for(_finished_at_least(jobs_runtime, JOBS), "every job to finish")
    finally:
        codes = [await worker.stop() for worker in workers if worker.process.returncode is None]
    assert codes == [0] * len(codes), "a surviving worker did not shut down cleanly"

    rows = {row.id: row for row in (await _all(jobs_runtime, select(jobs)))}
    assert len(rows) == JOBS
    retried = [job_id for job_id in held_at_kill if rows[job_id].attempts >= 2]
    assert retried, "no kill landed on a running job"
    ledger: dict[uuid.UUID, list[Any]] = {}
    for row in await _all(jobs_runtime, select(items).order_by(items.c.request_index)):
        ledger.setdefault(row.job_id, []).append(row)

    for job_id, index in created.items():
        row = rows[job_id]
        assert row.lease_token is None and 1 <= row.attempts <= 10
        expected = JobStatus.FAILED if _rejects(index) else JobStatus.SUCCESS
        assert row.status == expected, (index, row.status, row.last_error)
        for item in ledger[job_id]:
            effects = effect_files(effects_dir, job_id, item.key)
            if item.key == "bad":
                assert item.state == ItemState.FAILED and item.error == REJECTED and effects == []
                continue
            assert item.state == ItemState.SUCCEEDED
            assert len(effects) == 1, f"job {index} item {item.key}: {len(effects)} effects"
            assert item.vendor_ref == effects[0].read_text()
        if expected is JobStatus.FAILED:
            reason = json.loads(row.failure_reason)
            assert (reason["total"], reason["failed"]) == (len(ledger[job_id]), 1)


async def test_a_frozen_worker_cannot_complete_a_job_taken_over(
    jobs_runtime: Runtime, database_url: str, tmp_path: Path
) -> None:
    effects_dir = tmp_path / "effects"
    effects_dir.mkdir()
    tenant = await make_tenant_rows(jobs_runtime)
    frozen = WorkerProcess(database_url, tmp_path / "frozen.log", concurrency=1, lease_seconds=LEASE_SECONDS)
    rescuer: WorkerProcess | None = None
    try:
        job_id = await _enqueue_one(jobs_runtime, tenant, {"effects_dir": str(effects_dir), "prepare_seconds": 1.0})

        async def held_by_frozen() -> bool:
            return frozen.owns((await load_job_row(jobs_runtime, job_id)).lease_owner)

        await wait_for(held_by_frozen, "the first worker to claim the job", every_seconds=0.01)
        await frozen.freeze_outside_a_transaction(database_url, job_id)
        rescuer = WorkerProcess(database_url, tmp_path / "rescuer.log", concurrency=1, lease_seconds=LEASE_SECONDS)

        async def finished() -> bool:
            return (await load_job(jobs_runtime, job_id)).status.is_finished

        await wait_for(finished, "the rescuer to finish the job")
        after_rescue = await load_job(jobs_runtime, job_id)
        ledger_after_rescue = await load_items(jobs_runtime, job_id)

        frozen.signal(signal.SIGCONT)

        async def frozen_noticed() -> bool:
            return "jobs.lease_lost" in frozen.log_text()

        await wait_for(frozen_noticed, "the thawed worker to find its lease lost")
        assert await load_job(jobs_runtime, job_id) == after_rescue
        assert await load_items(jobs_runtime, job_id) == ledger_after_rescue
    finally:
        codes = [await frozen.stop()] + ([await rescuer.stop()] if rescuer else [])
    assert codes == [0, 0]
    assert after_rescue.status is JobStatus.SUCCESS and after_rescue.attempt == 2
    [item] = ledger_after_rescue
    assert item.result["worker_pid"] == rescuer.pid
    [effect] = effect_files(effects_dir, job_id, item.key)
    assert item.vendor_ref == effect.read_text()


async def _enqueue_one(runtime: Runtime, tenant: TenantIds, payload: dict[str, Any]) -> uuid.UUID:
    async with runtime.sessionmaker() as db, db.begin():
        job = await insert_job(
            db,
            organization_id=tenant.organization_id,
            connection_id=tenant.connection_id,
            job_type=TEST_EFFECT,
            payload=payload,
            item_specs=[JobItemSpec(key="only", request_index=0)],
            now=utcnow(),
        )
    return job.id


async def load_job_row(runtime: Runtime, job_id: uuid.UUID) -> Any:
    [row] = await _all(runtime, select(jobs).where(jobs.c.id == job_id))
    return row


async def _all(runtime: Runtime, statement: Any) -> list[Any]:
    async with runtime.sessionmaker() as db, db.begin():
        return list((await db.execute(statement)).all())


def _finished_at_least(runtime: Runtime, threshold: int) -> Callable[[], Awaitable[bool]]:
    async def condition() -> bool:
        return await _count_finished(runtime) >= threshold

    return condition
