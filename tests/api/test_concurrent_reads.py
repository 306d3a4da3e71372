"""More concurrent requests than the database pool holds, each needing its authentication looked
up: every request opens its read session before its authentication runs, and must not hold a pooled
connection meanwhile (the pool's worth of such requests would wait for one another until the pool's
timeout, 30 s, and answer 503)."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from tests.api.test_bulk import tickets
from tests.builders import make_tenant
from ticketbridge.state import Runtime

#: Well over the pool's 5 + 10 connections.
CONCURRENT = 40


async def test_polls_beyond_the_pool_all_answer_while_authentication_is_looked_up(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_tenant(client)
    accepted = await client.post("/v1/itsm/tickets/bulk", json={"tickets": tickets(1)}, headers=tenant.headers)
    assert accepted.status_code == 202, accepted.text
    path = f"/v1/jobs/{accepted.json()['job_id']}"
    runtime.auth_cache.clear()  # every request below needs its key and connection looked up

    async with asyncio.timeout(10):
        answers = await asyncio.gather(*(client.get(path, headers=tenant.headers) for _ in range(CONCURRENT)))

    assert [answer.status_code for answer in answers] == [200] * CONCURRENT
