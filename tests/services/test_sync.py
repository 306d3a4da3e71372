"""Connector sync against the sandboxes: full then incremental, resume after a crash, deletions,
one row per ticket whether written or synced, health, and the periodic schedule."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from tests.api.test_bulk import job, run_jobs
from tests.api.test_rezolve import rezolve_tenant
from tests.api.test_tickets import BUG, sandbox
from tests.builders import ADMIN, Tenant, make_oauth_tenant, make_tenant, revoke_credentials
from tests.services.support import Crash, jira_call, record, run_sync
from tests.support.sandboxes import catch_up_search
from ticketbridge.jobs.schedule import enqueue_due_syncs
from ticketbridge.services.sync import OVERLAP
from ticketbridge.state import Runtime
from ticketbridge.store import sync_state
from ticketbridge.store import tickets as tickets_store
from ticketbridge.store.base import utcnow
from ticketbridge.store.tables import JobRow, TicketRow

DEMO_ISSUES = 5  # three DEMO and two OPS issues on the demo site


async def tickets(client: httpx.AsyncClient, tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/v1/itsm/tickets", params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def stored_count(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as db:
        return int(await db.scalar(select(func.count()).select_from(TicketRow)) or 0)


async def test_the_admin_sync_job_pulls_projects_users_and_tickets(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    await sandbox(jira_sandbox, "POST", "/seed", json={"issues": 3})
    accepted = await client.post(f"/v1/admin/connections/{tenant.connection_id}/sync", headers=ADMIN)
    assert accepted.status_code == 202, accepted.text
    again = await client.post(f"/v1/admin/connections/{tenant.connection_id}/sync", headers=ADMIN)
    assert again.json() == accepted.json()  # at most one sync queued per connection
    await run_jobs(runtime)
    done = await job(client, tenant, accepted.json()["job_id"])
    assert done["status"] == "SUCCESS" and done["job_type"] == "CONNECTOR_SYNC", done

    listed = await tickets(client, tenant)
    assert len(listed) == DEMO_ISSUES + 3
    projects = (await client.get("/v1/itsm/projects", headers=tenant.headers)).json()["items"]
    assert sorted(p["vendor_attributes"]["id"] for p in projects) == ["DEMO", "OPS"]
    users = (await client.get("/v1/itsm/users", headers=tenant.headers)).json()["items"]
    assert len(users) == 4 and all(u["status"] == "ACTIVE" for u in users)
    demo = next(p for p in projects if p["vendor_attributes"]["id"] == "DEMO")
    in_demo = [t for t in listed if t["vendor_attributes"]["id"].startswith("DEMO-")]
    assert {t["project_id"] for t in in_demo} == {demo["id"]}  # references resolved to our ids
    connection = await client.get(f"/v1/admin/connections/{tenant.connection_id}", headers=ADMIN)
    health = connection.json()["health"]
    assert health["name"] == "HEALTHY" and health["last_successful_sync_at"] is not None


async def test_a_sync_updates_written_tickets_in_place_and_never_duplicates_them(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    body = {"name": "Written first", "project_vendor_id": "DEMO", "type_vendor_id": BUG, "identifier": "w-1"}
    written = (await client.post("/v1/itsm/tickets", json=body, headers=tenant.headers)).json()
    key = written["vendor_attributes"]["id"]
    await sandbox(jira_sandbox, "POST", f"/issues/{key}/ui-edit", json={"fields": {"summary": "Renamed in Jira"}})

    # Right after the edit Jira's search may still answer the issue as it was: no duplicate either way.
    await run_sync(runtime, tenant.connection_id)
    assert await stored_count(runtime) == DEMO_ISSUES + 1
    await catch_up_search(jira_sandbox)
    await run_sync(runtime, tenant.connection_id)  # the next run finds the edit within its overlap

    assert await stored_count(runtime) == DEMO_ISSUES + 1
    synced = (await client.get(f"/v1/itsm/tickets/{written['id']}", headers=tenant.headers)).json()
    assert synced["name"] == "Renamed in Jira" and synced["identifier"] == "w-1"


async def test_the_first_sync_is_full_and_the_next_asks_for_changes_since_the_last_start(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    recording = record(runtime)
    first = await run_sync(runtime, tenant.connection_id)
    assert first["tickets_synced"] == DEMO_ISSUES
    assert recording.ticket_queries == ['updated >= "1970-01-01 00:00" ORDER BY updated ASC, id ASC']
    async with runtime.sessionmaker.begin() as db:
        state = await sync_state.get_sync_state(db, uuid.UUID(tenant.connection_id))
    assert state.high_water_mark is not None and not state.in_progress

    await sandbox(jira_sandbox, "POST", "/issues/DEMO-2/ui-edit", json={"status": "In Review"})
    recording.queries.clear()
    await run_sync(runtime, tenant.connection_id)

    since = state.high_water_mark - OVERLAP
    assert recording.ticket_queries == [f'updated >= "{since:%Y-%m-%d %H:%M}" ORDER BY updated ASC, id ASC']
    # That run may have come before the edit reached Jira's index; the one after it has, finds it
    # anyway: it starts OVERLAP before the previous run's start, which came after the edit.
    await catch_up_search(jira_sandbox)
    await run_sync(runtime, tenant.connection_id)
    changed = await tickets(client, tenant, status="IN_REVIEW")
    assert [t["vendor_attributes"]["id"] for t in changed] == ["DEMO-2"]


async def test_a_sync_killed_mid_walk_resumes_from_its_checkpoint(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    await sandbox(jira_sandbox, "POST", "/seed", json={"issues": 5})
    store_page = tickets_store.upsert_tickets
    stored_pages = 0

    async def dies_at_the_third_page(*args: Any, **kwargs: Any) -> None:
        nonlocal stored_pages
        if stored_pages == 2:
            raise Crash("killed while storing the third page")
        stored_pages += 1
        await store_page(*args, **kwargs)

    monkeypatch.setattr(tickets_store, "upsert_tickets", dies_at_the_third_page)
    with pytest.raises(Crash):
        await run_sync(runtime, tenant.connection_id, page_size=2)
    async with runtime.sessionmaker.begin() as db:
        interrupted = await sync_state.get_sync_state(db, uuid.UUID(tenant.connection_id))
    assert interrupted.in_progress and interrupted.checkpoint is not None
    # Two pages were stored (pages may come short: the walk skips what it already yielded).
    assert 2 <= interrupted.tickets_synced == await stored_count(runtime) <= 4

    monkeypatch.setattr(tickets_store, "upsert_tickets", store_page)
    recording = record(runtime)
    report = await run_sync(runtime, tenant.connection_id, page_size=2)

    resumed_from = interrupted.checkpoint.replace(second=0, microsecond=0)
    assert recording.ticket_queries[0].startswith(f'updated >= "{resumed_from:%Y-%m-%d %H:%M}"')
    assert resumed_from.year > 1970  # not the full sync's epoch: it went on from the checkpoint
    assert await stored_count(runtime) == DEMO_ISSUES + 5
    async with runtime.sessionmaker.begin() as db:
        finished = await sync_state.get_sync_state(db, uuid.UUID(tenant.connection_id))
    assert not finished.in_progress and finished.high_water_mark == interrupted.run_started_at
    assert report["tickets_synced"] >= DEMO_ISSUES + 5


async def test_tickets_deleted_in_the_vendor_become_inactive(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    await run_sync(runtime, tenant.connection_id)
    deleted = await jira_call(jira_sandbox, "DELETE", "/rest/api/3/issue/DEMO-3")
    assert deleted.status_code == 204, deleted.text

    report = await run_sync(runtime, tenant.connection_id)

    assert report["tickets_deactivated"] == 1
    listed = {t["vendor_attributes"]["id"]: t["active"] for t in await tickets(client, tenant)}
    assert listed["DEMO-3"] is False and sum(listed.values()) == DEMO_ISSUES - 1

    async with runtime.sessionmaker.begin() as db:  # as if a walk had missed DEMO-1
        await db.execute(update(TicketRow).where(TicketRow.vendor_key == "DEMO-1").values(active=False))
    await run_sync(runtime, tenant.connection_id)
    healed = {t["vendor_attributes"]["id"]: t["active"] for t in await tickets(client, tenant)}
    assert healed["DEMO-1"] is True and healed["DEMO-3"] is False


async def test_rejected_credentials_fail_the_sync_and_mark_the_connection_unauthorized(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(client)
    path = f"/v1/admin/connections/{tenant.connection_id}"
    await revoke_credentials(runtime, tenant.connection_id, {"email": "demo@example.com", "api_token": "wrong"})
    accepted = await client.post(f"{path}/sync", headers=ADMIN)
    await run_jobs(runtime)

    done = await job(client, tenant, accepted.json()["job_id"])
    assert done["status"] == "FAILED" and "credentials" in done["failure_reason"]
    health = (await client.get(path, headers=ADMIN)).json()["health"]
    assert health["name"] == "UNAUTHORIZED" and health["resolution_owner"] == "CUSTOMER"
    assert health["last_successful_sync_at"] is None


async def test_rezolve_connections_sync_too(client: httpx.AsyncClient, runtime: Runtime) -> None:
    tenant = await rezolve_tenant(client)
    report = await run_sync(runtime, tenant.connection_id)

    listed = await tickets(client, tenant)
    assert report["tickets_synced"] == len(listed) > 0
    assert {t["vendor_attributes"]["vendor"] for t in listed} == {"REZOLVE"}
    projects = (await client.get("/v1/itsm/projects", headers=tenant.headers)).json()["items"]
    assert projects and all(p["vendor_attributes"]["vendor"] == "REZOLVE" for p in projects)


async def test_the_schedule_enqueues_one_sync_per_due_connection(client: httpx.AsyncClient, runtime: Runtime) -> None:
    tenant = await make_tenant(client)
    now = utcnow()
    assert await enqueue_due_syncs(runtime.sessionmaker, now=now) == 1  # never synced: due at once
    assert await enqueue_due_syncs(runtime.sessionmaker, now=now) == 0  # one is queued already
    await run_jobs(runtime)
    assert await enqueue_due_syncs(runtime.sessionmaker, now=utcnow()) == 0  # synced within the interval
    later = utcnow() + timedelta(seconds=21600)
    assert await enqueue_due_syncs(runtime.sessionmaker, now=later) == 1  # the default 6 h passed
    async with runtime.sessionmaker() as db:
        syncs = await db.scalar(
            select(func.count()).select_from(JobRow).where(JobRow.connection_id == uuid.UUID(tenant.connection_id))
        )
    assert syncs == 2
