"""One bad vendor record never stops a sync: vendor strings are made storable, converters do not
raise, and a ticket the store still refuses is skipped, reported and retried by the next run."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text, update

from tests.api.test_bulk import job, run_jobs
from tests.api.test_rezolve import control, rezolve_tenant
from tests.api.test_tickets import sandbox
from tests.builders import ADMIN, Tenant, make_oauth_tenant, make_tenant
from tests.services.support import run_sync
from ticketbridge.domain.tickets import VendorTicket, storable, storable_text
from ticketbridge.sandboxes.rezolve.demo import REQUEST_FIELDS
from ticketbridge.state import Runtime
from ticketbridge.store import jobs as jobs_store
from ticketbridge.store import sync_state
from ticketbridge.store.base import utcnow
from ticketbridge.store.tables import SyncStateRow, TicketRow

POISON = "poison"


async def stored(runtime: Runtime, tenant: Tenant) -> dict[str, TicketRow]:
    async with runtime.sessionmaker() as db:
        rows = await db.scalars(select(TicketRow).where(TicketRow.connection_id == uuid.UUID(tenant.connection_id)))
        return {row.vendor_key: row for row in rows}


async def sync_job(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Runs a CONNECTOR_SYNC job through the engine; returns the job and its report."""
    accepted = await client.post(f"/v1/admin/connections/{tenant.connection_id}/sync", headers=ADMIN)
    assert accepted.status_code == 202, accepted.text
    await run_jobs(runtime)
    done = await job(client, tenant, accepted.json()["job_id"])
    async with runtime.sessionmaker() as db:
        (item,) = await jobs_store.list_items(db, uuid.UUID(done["id"]))
    return done, item.result


async def health(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, Any]:
    response = await client.get(f"/v1/admin/connections/{tenant.connection_id}", headers=ADMIN)
    body: dict[str, Any] = response.json()["health"]
    return body


def test_vendor_strings_lose_nul_and_lone_surrogates_anywhere() -> None:
    assert storable_text("a\x00b\x00") == "ab"
    assert storable_text("x\ud800y\udfff") == "x\ufffdy\ufffd"
    assert storable_text("\ud83d\ude00") == "\U0001f600"  # a pair is joined, not replaced
    assert storable({"k\x00": ["\x00", ("t\ud800",)], "n": 1}) == {"k": ["", ("t\ufffd",)], "n": 1}
    ticket = VendorTicket.model_validate(
        {
            "vendor_id": "1\x00",
            "key": "K-1",
            "project_vendor_id": None,
            "type_name": None,
            "type_vendor_id": None,
            "status_name": "Open\x00",
            "status_category": None,
            "priority_name": None,
            "assignee_vendor_id": None,
            "reporter_vendor_id": None,
            "parent_vendor_id": None,
            "name": "N\ud800",
            "description": None,
            "labels": ("a\x00",),
            "url": None,
            "created_at": None,
            "updated_at": None,
            "custom_fields": {"f\x00": {"deep": ["\x00x"]}},
            "version": "1",
        }
    )
    assert (ticket.vendor_id, ticket.status_name, ticket.name, ticket.labels) == ("1", "Open", "N\ufffd", ("a",))
    assert ticket.custom_fields == {"f": {"deep": ["x"]}}


async def test_a_nul_in_a_jira_summary_is_stored_without_it_and_the_next_sync_runs(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    await sandbox(
        jira_sandbox, "POST", "/seed", json={"issues": [{"project": "DEMO", "summary": "Printer\x00 on \x00fire"}]}
    )

    first, report = await sync_job(client, runtime, tenant)

    assert first["status"] == "SUCCESS", first
    assert report["tickets_skipped"] == 0 and report["skipped_vendor_ids"] == []
    rows = await stored(runtime, tenant)
    assert len(rows) == 6 and rows["DEMO-4"].name == "Printer on fire"
    second, _ = await sync_job(client, runtime, tenant)
    assert second["status"] == "SUCCESS", second
    assert (await health(client, tenant))["name"] == "HEALTHY"


async def test_a_rezolve_list_starting_at_a_superscript_is_converted_and_the_next_sync_runs(
    client: httpx.AsyncClient, runtime: Runtime, rezolve_sandbox: FastAPI
) -> None:
    tenant = await rezolve_tenant(client)
    odd = {
        REQUEST_FIELDS.description: '<ol start="²"><li>Plug in</li><li>Reboot</li></ol>',
        REQUEST_FIELDS.summary: "VPN\x00 access",
    }
    await control(rezolve_sandbox, "POST", "/tickets/REQ-0001/edit", json={"ticketUpdate": odd})

    first, report = await sync_job(client, runtime, tenant)

    assert first["status"] == "SUCCESS", first
    assert report["tickets_skipped"] == 0 and report["tickets_synced"] >= 4
    ticket = (await stored(runtime, tenant))["REQ-0001"]
    assert (ticket.name, ticket.description) == ("VPN access", "1. Plug in\n2. Reboot")
    second, _ = await sync_job(client, runtime, tenant)
    assert second["status"] == "SUCCESS", second


@pytest.fixture
async def poison_refused(runtime: Runtime) -> AsyncIterator[None]:
    """A fault in the store: tickets named like POISON violate a constraint (a CHECK on PostgreSQL, a
    trigger on SQLite, which cannot add one to a table). Dropped at the end of the test."""
    engine = runtime.engine
    if engine.dialect.name == "postgresql":
        create = [f"ALTER TABLE tickets ADD CONSTRAINT test_poison CHECK (name NOT LIKE '%{POISON}%')"]
        drop = ["ALTER TABLE tickets DROP CONSTRAINT IF EXISTS test_poison"]
    else:
        create = [
            f"CREATE TRIGGER test_poison_{event} BEFORE {event} ON tickets WHEN NEW.name LIKE '%{POISON}%' "
            "BEGIN SELECT RAISE(ABORT, 'poison row'); END"
            for event in ("INSERT", "UPDATE")
        ]
        drop = [f"DROP TRIGGER IF EXISTS test_poison_{event}" for event in ("INSERT", "UPDATE")]

    async def run(statements: list[str]) -> None:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))

    await run(create)
    try:
        yield
    finally:
        await run(drop)


async def test_a_ticket_the_store_refuses_is_skipped_reported_and_retried_by_the_next_run(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI, poison_refused: None
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    issues = [{"project": "DEMO", "summary": f"Issue {n}"} for n in range(4)]
    issues.insert(2, {"project": "DEMO", "summary": f"A {POISON} pill"})
    keys = (await sandbox(jira_sandbox, "POST", "/seed", json={"issues": issues}))["keys"]
    poison_id = (await sandbox(jira_sandbox, "GET", f"/issues/{keys[2]}"))["id"]

    first, report = await sync_job(client, runtime, tenant)

    assert first["status"] == "SUCCESS", first
    assert report["tickets_skipped"] == 1 and report["skipped_vendor_ids"] == [poison_id]
    rows = await stored(runtime, tenant)
    assert keys[2] not in rows and {*keys} - {keys[2]} <= set(rows) and len(rows) == 5 + 4
    unhealthy = await health(client, tenant)
    assert unhealthy["name"] == "INTERNAL_ERROR" and poison_id in unhealthy["description"]
    async with runtime.sessionmaker.begin() as db:
        assert await sync_state.skipped_ids(db, uuid.UUID(tenant.connection_id)) == [poison_id]

    # The store is fixed. The ticket did not change, and the next run's window starts after it
    # (as if the last run had started long after the ticket's change): only the retry can bring it.
    async with runtime.engine.begin() as connection:
        for statement in (
            ["ALTER TABLE tickets DROP CONSTRAINT test_poison"]
            if runtime.engine.dialect.name == "postgresql"
            else ["DROP TRIGGER test_poison_INSERT", "DROP TRIGGER test_poison_UPDATE"]
        ):
            await connection.execute(text(statement))
    async with runtime.sessionmaker.begin() as db:
        await db.execute(
            update(SyncStateRow)
            .where(SyncStateRow.connection_id == uuid.UUID(tenant.connection_id))
            .values(high_water_mark=utcnow() + timedelta(hours=1))
        )

    second, report = await sync_job(client, runtime, tenant)

    assert second["status"] == "SUCCESS", second
    assert report["tickets_skipped"] == 0
    assert (await stored(runtime, tenant))[keys[2]].name == f"A {POISON} pill"
    assert (await health(client, tenant))["name"] == "HEALTHY"
    async with runtime.sessionmaker.begin() as db:
        assert await sync_state.skipped_ids(db, uuid.UUID(tenant.connection_id)) == []


async def test_a_skipped_ticket_deleted_meanwhile_is_forgotten(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI, poison_refused: None
) -> None:
    tenant = await make_tenant(client)  # an API token: the test's reset of the site ends every OAuth grant
    keys = (await sandbox(jira_sandbox, "POST", "/seed", json={"issues": [{"project": "DEMO", "summary": POISON}]}))[
        "keys"
    ]
    report = await run_sync(runtime, tenant.connection_id)
    assert report["tickets_skipped"] == 1
    await sandbox(jira_sandbox, "POST", "/reset", json={"seed_demo": True})  # the poison issue is gone

    report = await run_sync(runtime, tenant.connection_id)

    assert report["tickets_skipped"] == 0 and keys[0] not in await stored(runtime, tenant)
