"""The idle-expiry guard: the worker refreshes OAuth grants left unused for 75 days, before Atlassian
expires their refresh tokens (90 days), and tells a grant past its absolute expiry (365 days) apart.

The sandbox's OAuth clock is moved with `POST /__sandbox__/oauth/clock`; ticketbridge's own notion of
now (`Runtime.clock`) follows it by the same offset."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.api.test_oauth_connect import connected, oauth_settings, sandbox
from tests.builders import ADMIN, make_api_key, make_organization, make_tenant
from ticketbridge.config import Settings
from ticketbridge.jobs.models import JobType
from ticketbridge.jobs.schedule import enqueue_idle_refreshes
from ticketbridge.jobs.worker import Worker, schedulers
from ticketbridge.services.job_handlers import ticket_job_handlers
from ticketbridge.state import Runtime
from ticketbridge.store.base import read_session, utcnow
from ticketbridge.store.tables import JobRow

DAY_SECONDS = 86_400
IDLE_SECONDS = 75 * DAY_SECONDS
TICKET = {"name": "Finding", "project_vendor_id": "DEMO", "type_vendor_id": "10002"}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return oauth_settings(database_url, tmp_path)


@dataclass
class FollowedClock:
    """ticketbridge's clock, moved by the same offset as the sandbox's OAuth clock."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return utcnow() + self.offset


async def advance(jira: FastAPI, clock: FollowedClock, days: float) -> None:
    await sandbox(jira, "POST", "/oauth/clock", json={"advance_seconds": days * DAY_SECONDS})
    clock.offset += timedelta(days=days)


@pytest.fixture
def clock(runtime: Runtime) -> FollowedClock:
    followed = FollowedClock()
    runtime.clock = followed
    return followed


async def tenant(client: httpx.AsyncClient, jira: FastAPI) -> tuple[dict[str, str], str]:
    org_id = await make_organization(client)
    body = await connected(client, jira, org_id)
    api_key = await make_api_key(client, org_id)
    connection_id = body["connection"]["id"]
    return {"X-API-KEY": api_key, "X-CONNECTION-ID": connection_id}, connection_id


async def sweep(runtime: Runtime) -> int:
    """One round of the worker's idle-refresh schedule, then the worker runs what it enqueued."""
    enqueued = await enqueue_idle_refreshes(runtime.sessionmaker, now=runtime.clock(), idle_seconds=IDLE_SECONDS)
    await Worker.for_runtime(runtime, handlers=ticket_job_handlers(runtime), concurrency=2).run_until_idle()
    return enqueued


async def token_calls(jira: FastAPI) -> int:
    calls: dict[str, int] = await sandbox(jira, "GET", "/calls")
    return sum(count for name, count in calls.items() if "token" in name and "accessible" not in name)


async def oauth_of(client: httpx.AsyncClient, connection_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/admin/connections/{connection_id}", headers=ADMIN)
    assert response.status_code == 200, response.text
    oauth: dict[str, Any] = response.json()["oauth"]
    return oauth


async def idle_refresh_jobs(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get("/v1/jobs", params={"job_type": JobType.OAUTH_IDLE_REFRESH}, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_day_76_without_use_makes_one_refresh_and_day_366_needs_the_customer(
    client: httpx.AsyncClient, jira_sandbox: FastAPI, runtime: Runtime, clock: FollowedClock
) -> None:
    headers, connection_id = await tenant(client, jira_sandbox)
    consented = await oauth_of(client, connection_id)
    await advance(jira_sandbox, clock, 74)
    await sandbox(jira_sandbox, "DELETE", "/calls")
    assert await sweep(runtime) == 0  # 74 days unused: not due yet

    await advance(jira_sandbox, clock, 2)  # day 76
    assert await sweep(runtime) == 1

    assert await token_calls(jira_sandbox) == 1
    assert await sweep(runtime) == 0  # just refreshed: nothing due, no second call
    assert await token_calls(jira_sandbox) == 1
    refreshed = await oauth_of(client, connection_id)
    used_at = datetime.fromisoformat(refreshed["refresh_token_last_used_at"])
    assert abs(used_at - clock()) < timedelta(minutes=1)
    assert refreshed["absolute_expires_at"] == consented["absolute_expires_at"]  # a refresh never extends it
    assert refreshed["needs_reauthorization"] is False
    assert [job["status"] for job in await idle_refresh_jobs(client, headers)] == ["SUCCESS"]
    answer = await client.post("/v1/itsm/tickets", json=TICKET, headers=headers)
    assert answer.status_code == 200, answer.text  # the refreshed grant works

    await advance(jira_sandbox, clock, 290)  # day 366: past the grant's absolute expiry
    await sandbox(jira_sandbox, "DELETE", "/calls")
    assert await sweep(runtime) == 1

    health = (await client.get("/v1/connection", headers=headers)).json()
    assert health["name"] == "UNAUTHORIZED" and health["resolution_owner"] == "CUSTOMER", health
    assert "needs to be re-authorized" in health["description"]
    assert "expired after 365 days" in health["description"], health["description"]
    jobs = await idle_refresh_jobs(client, headers)
    assert jobs[0]["status"] == "FAILED" and "expired after 365 days" in jobs[0]["results"][0]["error"]
    assert (await oauth_of(client, connection_id))["needs_reauthorization"] is True
    await sandbox(jira_sandbox, "DELETE", "/calls")
    refused = await client.post("/v1/itsm/tickets", json=TICKET | {"name": "After a year"}, headers=headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "CONNECTION_NEEDS_REAUTHORIZATION"
    assert "expired after 365 days" in refused.json()["message"]
    calls = await sandbox(jira_sandbox, "GET", "/calls")
    assert not any(calls.values()), calls  # no vendor call, the token endpoint's included
    assert await sweep(runtime) == 0  # a grant gone is not swept again


async def test_a_grant_in_use_is_never_swept(
    client: httpx.AsyncClient, jira_sandbox: FastAPI, runtime: Runtime, clock: FollowedClock
) -> None:
    headers, _ = await tenant(client, jira_sandbox)
    for n in range(1, 4):  # used every 40 days: each use refreshes the expired access token
        await advance(jira_sandbox, clock, 40)
        answer = await client.post("/v1/itsm/tickets", json=TICKET | {"name": f"Day {n * 40}"}, headers=headers)
        assert answer.status_code == 200, answer.text
    await sandbox(jira_sandbox, "DELETE", "/calls")

    assert await sweep(runtime) == 0

    assert await token_calls(jira_sandbox) == 0


async def test_the_worker_runs_the_sweep_on_its_schedule(
    client: httpx.AsyncClient, jira_sandbox: FastAPI, runtime: Runtime, clock: FollowedClock
) -> None:
    _, connection_id = await tenant(client, jira_sandbox)
    await advance(jira_sandbox, clock, 76)
    stop = asyncio.Event()
    handlers = ticket_job_handlers(runtime)
    worker = Worker.for_runtime(runtime, handlers=handlers, concurrency=2)
    running = asyncio.gather(worker.run(stop), *schedulers(runtime, handlers, stop))
    try:
        for _ in range(200):
            if await idle_refresh_status(runtime, connection_id) == "SUCCESS":
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the worker's schedule did not refresh the idle grant")
    finally:
        stop.set()
        await running
    refreshed = await oauth_of(client, connection_id)
    assert abs(datetime.fromisoformat(refreshed["refresh_token_last_used_at"]) - clock()) < timedelta(minutes=1)


async def idle_refresh_status(runtime: Runtime, connection_id: str) -> str | None:
    async with read_session(runtime.sessionmaker) as db:
        status: str | None = await db.scalar(
            select(JobRow.status).where(
                JobRow.connection_id == uuid.UUID(connection_id), JobRow.job_type == JobType.OAUTH_IDLE_REFRESH
            )
        )
    return status


async def test_an_api_token_connection_shows_no_grant(client: httpx.AsyncClient) -> None:
    api_token = await make_tenant(client)
    response = await client.get(f"/v1/admin/connections/{api_token.connection_id}", headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["oauth"] is None
