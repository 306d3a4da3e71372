"""What a bulk job's own bookkeeping costs the database: the same statements for 3 items as for 40."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from tests.api.test_bulk import job, run_jobs, tickets
from tests.builders import Tenant, make_oauth_tenant
from ticketbridge.state import Runtime


@asynccontextmanager
async def statements(runtime: Runtime) -> AsyncIterator[Counter[str]]:
    """Counts the statements sent to the database, by their first words (the statement, the table)."""
    seen: Counter[str] = Counter()

    def count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        seen[" ".join(statement.split()[:3])] += 1

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)


def ledger_and_job_statements(seen: Counter[str]) -> Counter[str]:
    # The heartbeat renews leases on a timer, so how often it runs depends on the machine, not the job.
    return Counter({words: n for words, n in seen.items() if "lease_expires_at" not in words})


async def run_counted(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, submit: Callable[[], Awaitable[httpx.Response]]
) -> Counter[str]:
    accepted = await submit()
    assert accepted.status_code == 202, accepted.text
    async with statements(runtime) as seen:
        await run_jobs(runtime)
    done = await job(client, tenant, accepted.json()["job_id"])
    assert done["status"] == "SUCCESS", done
    return ledger_and_job_statements(seen)


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
