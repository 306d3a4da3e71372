"""The deletion walk's scratch rows: emptied a batch at a time after a run's end, and never counted
by the next run when a run stopped before emptying them."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.builders import make_tenant
from tests.services.support import jira_call, run_sync
from ticketbridge.services import sync
from ticketbridge.state import Runtime
from ticketbridge.store import sync_state
from ticketbridge.store.tables import SyncSeenRow, TicketRow


async def seen_rows(runtime: Runtime, connection_id: uuid.UUID) -> int:
    async with runtime.sessionmaker() as db:
        count = await db.scalar(select(func.count()).where(SyncSeenRow.connection_id == connection_id))
    return int(count or 0)


async def test_a_run_empties_the_walks_rows_a_batch_at_a_time(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await make_tenant(client)
    connection_id = uuid.UUID(tenant.connection_id)
    monkeypatch.setattr(sync, "CLEAR_PAGE_SIZE", 2)  # the demo site's tickets take several batches

    report = await run_sync(runtime, tenant.connection_id)

    assert report["tickets_synced"] > 2 * sync.CLEAR_PAGE_SIZE
    assert await seen_rows(runtime, connection_id) == 0


async def test_rows_a_stopped_run_left_count_for_nothing_in_the_next_run(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await make_tenant(client)
    connection_id = uuid.UUID(tenant.connection_id)
    await run_sync(runtime, tenant.connection_id)
    async with runtime.sessionmaker.begin() as db:
        vendor_ids = list(await db.scalars(select(TicketRow.vendor_id).where(TicketRow.connection_id == connection_id)))
        # What a run that stopped between its end and its clearing leaves; and a full run next.
        await sync_state.add_seen(db, connection_id, vendor_ids)
        await sync_state.update_sync_state(db, connection_id, high_water_mark=None)
    assert (await jira_call(jira_sandbox, "DELETE", "/rest/api/3/issue/DEMO-3")).status_code == 204
    monkeypatch.setattr(sync, "CLEAR_PAGE_SIZE", 3)

    report = await run_sync(runtime, tenant.connection_id)

    assert report["tickets_deactivated"] == 1
    async with runtime.sessionmaker() as db:
        active = await db.scalar(
            select(TicketRow.active).where(TicketRow.connection_id == connection_id, TicketRow.vendor_key == "DEMO-3")
        )
    assert active is False
    assert await seen_rows(runtime, connection_id) == 0
