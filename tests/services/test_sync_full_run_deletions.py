"""A full run's ticket pages are its deletion walk: it lists no ids, and still marks inactive only the
tickets the vendor confirms gone."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from tests.builders import make_tenant
from tests.services.support import jira_call, record, run_sync
from ticketbridge.state import Runtime
from ticketbridge.store import sync_state
from ticketbridge.store.tables import TicketRow


async def test_a_full_run_deactivates_a_deleted_issue_without_an_id_walk(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_tenant(client)
    connection_id = uuid.UUID(tenant.connection_id)
    await run_sync(runtime, tenant.connection_id)
    assert (await jira_call(jira_sandbox, "DELETE", "/rest/api/3/issue/DEMO-3")).status_code == 204
    async with runtime.sessionmaker.begin() as db:  # forget the last run: the next one is full again
        await sync_state.update_sync_state(db, connection_id, high_water_mark=None)
    recording = record(runtime)

    report = await run_sync(runtime, tenant.connection_id)

    assert report["tickets_deactivated"] == 1
    assert recording.ticket_queries and not [q for q in recording.queries if q.startswith("id >")]
    async with runtime.sessionmaker() as db:
        rows = await db.execute(
            select(TicketRow.vendor_key, TicketRow.active).where(TicketRow.connection_id == connection_id)
        )
        active = {key: is_active for key, is_active in rows}
    assert active["DEMO-3"] is False and active["DEMO-2"] is True
    assert all(active[key] for key in active if key != "DEMO-3")
