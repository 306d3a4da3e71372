"""What a bulk job's own bookkeeping costs the database: the same statements for 3 items as for 40."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from tests.api.test_bulk import job, tickets
from tests.builders import Tenant, make_oauth_tenant
from ticketbridge.jobs.worker import Worker
from ticketbridge.services.job_handlers import ticket_job_handlers
from ticketbridge.state import Runtime

#: What only the worker's heartbeat and claims send (their UPDATE and the claims' advisory lock).
WORKER_STATEMENTS = ("UPDATE jobs SET lease_expires_at", "started_at=coalesce(", "pg_advisory_xact_lock")


@asynccontextmanager
async def statements(runtime: Runtime) -> AsyncIterator[Counter[str]]:
    """Counts the statements sent to the database, by their first words (the statement, the table),
    less the worker's own: the heartbeat renews leases on a timer and the claims follow its wake-ups
    (on PostgreSQL, its LISTEN connection's first one comes whenever it has connected), so how often
    they run depends on the machine, not on the job."""
    seen: Counter[str] = Counter()

    def count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if not any(mark in statement for mark in WORKER_STATEMENTS):
            seen[" ".join(statement.split()[:3])] += 1

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)


async def run_jobs_on_wakeups(runtime: Runtime) -> None:
    """Runs the queue dry with a worker that claims only when woken (the enqueue, a run's end): its poll
    timer, whose firings depend on how fast the machine runs the job, is a minute, far past these jobs."""
    settings = runtime.settings.model_copy(update={"job_poll_interval_seconds": 60.0})
    worker = Worker(
        sessionmaker=runtime.sessionmaker,
        settings=settings,
        handlers=ticket_job_handlers(runtime),
        wakeup=runtime.job_wakeup,
        metrics=runtime.job_metrics,
        concurrency=4,
    )
    await worker.run_until_idle()


async def run_counted(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, submit: Callable[[], Awaitable[httpx.Response]]
) -> Counter[str]:
    accepted = await submit()
    assert accepted.status_code == 202, accepted.text
    async with statements(runtime) as seen:
        await run_jobs_on_wakeups(runtime)
        # The background read-back of what the job created is counted in this run, never the next.
        await runtime.read_backs.drain()
    done = await job(client, tenant, accepted.json()["job_id"])
    assert done["status"] == "SUCCESS", done
    return seen


async def test_a_bulk_create_job_costs_the_same_statements_for_3_items_as_for_40(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)

    def submit(count: int) -> Callable[[], Awaitable[httpx.Response]]:
        body = {"tickets": tickets(count)}
        return lambda: client.post("/v1/itsm/tickets/bulk", json=body, headers=tenant.headers)

    await run_counted(client, runtime, tenant, submit(1))  # warms what the connection caches
    few = await run_counted(client, runtime, tenant, submit(3))
    many = await run_counted(client, runtime, tenant, submit(40))
    assert many == few
    assert few["UPDATE job_items SET"] == 1  # the whole batch's ledger in one (executemany) statement


async def test_a_bulk_update_job_costs_the_same_statements_for_3_items_as_for_40(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    created = await client.post("/v1/itsm/tickets/bulk/sync", json={"tickets": tickets(44)}, headers=tenant.headers)
    ticket_ids = [r["ticket_id"] for r in created.json()["results"]]

    def submit(ids: list[str]) -> Callable[[], Awaitable[httpx.Response]]:
        body = {"ticket_ids": ids, "updates": {"status": "IN_PROGRESS", "name": "Triaged"}}
        return lambda: client.post("/v1/itsm/tickets/bulk/update", json=body, headers=tenant.headers)

    await run_counted(client, runtime, tenant, submit(ticket_ids[:1]))
    few = await run_counted(client, runtime, tenant, submit(ticket_ids[1:4]))
    many = await run_counted(client, runtime, tenant, submit(ticket_ids[4:44]))
    assert many == few
    assert few["UPDATE job_items SET"] == 1
