"""Exactly once under chaos: lost write responses, 429s and 503s, and still no duplicate.

100 bulk jobs of 50 tickets run while the vendor sandbox loses 30 % of its write responses after
applying the write, and answers 429 or 503 to a fifth of all calls; on Jira (with its search lagging
writes by 5 s, and again by 0) and on Rezolve. A lost create is reconciled by marker only once the
search has caught up (`vendor_search_settle_seconds` above the lag), never by an early empty search.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.api.test_bulk import tickets
from tests.api.test_rezolve import request_ticket, rezolve_tenant
from tests.builders import Tenant, make_tenant
from tests.conftest import make_settings
from tests.support.sandboxes import control, set_faults
from ticketbridge.config import Settings
from ticketbridge.jobs.worker import Worker
from ticketbridge.services.job_handlers import ticket_job_handlers
from ticketbridge.state import Runtime
from ticketbridge.store.tables import JobRow, TicketRow

JOBS = 100
PER_JOB = 50
CHAOS = {
    "lost_response_rate": 0.3,
    "error_rate": 0.1,
    "error_statuses": [503],
    "rate_limit_rate": 0.1,
    "retry_after_seconds": 1,
    "seed": 7,
}

pytestmark = pytest.mark.slow


@pytest.fixture
def search_lag_ms(request: pytest.FixtureRequest) -> int:
    return int(getattr(request, "param", 0))


@pytest.fixture
def settings(database_url: str, tmp_path: Path, search_lag_ms: int) -> Settings:
    return make_settings(
        database_url,
        tmp_path,
        vendor_search_settle_seconds=search_lag_ms / 1000 + 1,
        job_connection_concurrency=8,
        job_backoff_seconds=0.05,
        job_poll_interval_seconds=0.1,
        job_max_attempts=10,
    )


@pytest.mark.parametrize("search_lag_ms", [5000, 0], indirect=True, ids=["search-lag-5s", "search-lag-0"])
async def test_bulk_jobs_under_chaos_create_each_ticket_exactly_once_on_jira(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI, search_lag_ms: int
) -> None:
    tenant = await make_tenant(client)
    await control(jira_sandbox, "PUT", "/consistency", json={"search_lag_ms": search_lag_ms})
    await run_chaos(client, runtime, tenant, jira_sandbox, tickets(PER_JOB))
    assert await control(jira_sandbox, "GET", "/issues/count?project=DEMO") == {"count": 3 + JOBS * PER_JOB}


async def test_bulk_jobs_under_chaos_create_each_ticket_exactly_once_on_rezolve(
    client: httpx.AsyncClient, runtime: Runtime, rezolve_sandbox: FastAPI
) -> None:
    tenant = await rezolve_tenant(client)
    before = (await control(rezolve_sandbox, "GET", "/tickets/count"))["count"]
    await run_chaos(
        client,
        runtime,
        tenant,
        rezolve_sandbox,
        [request_ticket(f"Request {n}") for n in range(PER_JOB)],
    )
    assert await control(rezolve_sandbox, "GET", "/tickets/count") == {"count": before + JOBS * PER_JOB}


async def run_chaos(
    client: httpx.AsyncClient,
    runtime: Runtime,
    tenant: Tenant,
    vendor: FastAPI,
    template: list[dict[str, Any]],
) -> None:
    """Enqueues the jobs, runs them under chaos, and checks every job and the local store."""
    job_ids = []
    for job_number in range(JOBS):
        batch = [{**ticket, "identifier": f"chaos-{job_number}-{index}"} for index, ticket in enumerate(template)]
        accepted = await client.post("/v1/itsm/tickets/bulk", json={"tickets": batch}, headers=tenant.headers)
        assert accepted.status_code == 202, accepted.text
        job_ids.append(accepted.json()["job_id"])
    await set_faults(vendor, **CHAOS)
    worker = Worker.for_runtime(runtime, handlers=ticket_job_handlers(runtime), concurrency=8)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(600):
            while await unfinished_jobs(runtime):
                await asyncio.sleep(0.5)
    finally:
        stop.set()
        await running
    injected = await set_faults(vendor)
    assert injected.get("lost_response", 0) > 0 and injected.get("status_429", 0) > 0, injected
    statuses = [(await client.get(f"/v1/jobs/{job_id}", headers=tenant.headers)).json()["status"] for job_id in job_ids]
    assert statuses == ["SUCCESS"] * JOBS
    async with runtime.sessionmaker() as db:
        stored = await db.scalar(select(func.count()).select_from(TicketRow))
        distinct_keys = await db.scalar(select(func.count(func.distinct(TicketRow.vendor_key))))
    assert stored == distinct_keys == JOBS * PER_JOB


async def unfinished_jobs(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as db:
        count = await db.scalar(
            select(func.count()).select_from(JobRow).where(JobRow.status.not_in(["SUCCESS", "FAILED"]))
        )
    return count or 0
