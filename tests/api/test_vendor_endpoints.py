"""The bulk endpoints end to end on a connection of every vendor of the registry: bulk sync and
async creates, then a bulk update through the job worker, read back through the API."""

from __future__ import annotations

import httpx
import pytest

from tests.api.test_bulk import job, run_jobs
from tests.support.vendor_cases import VendorCase, cases, make_vendor_tenant
from ticketbridge.state import Runtime


@pytest.mark.parametrize("case", cases(), ids=str)
async def test_bulk_sync_async_and_update(client: httpx.AsyncClient, runtime: Runtime, case: VendorCase) -> None:
    tenant = await make_vendor_tenant(client, case)
    sync = await client.post(
        "/v1/itsm/tickets/bulk/sync",
        json={"tickets": [case.ticket(f"Sync {n}") for n in range(5)]},
        headers=tenant.headers,
    )
    assert sync.status_code == 200 and sync.json()["succeeded"] == 5, sync.text
    accepted = await client.post(
        "/v1/itsm/tickets/bulk",
        json={"tickets": [case.ticket(f"Async {n}") for n in range(7)]},
        headers=tenant.headers,
    )
    await run_jobs(runtime)
    created = await job(client, tenant, accepted.json()["job_id"])
    assert created["status"] == "SUCCESS", created
    ticket_ids = [r["ticket_id"] for r in created["results"]]
    update = await client.post(
        "/v1/itsm/tickets/bulk/update",
        json={"ticket_ids": ticket_ids, "updates": {"status": "IN_PROGRESS", "priority": "LOW"}},
        headers=tenant.headers,
    )
    await run_jobs(runtime)
    updated = await job(client, tenant, update.json()["job_id"])
    assert updated["status"] == "SUCCESS", updated.get("failure_reason")
    for ticket_id in ticket_ids:
        one = (await client.get(f"/v1/itsm/tickets/{ticket_id}", headers=tenant.headers)).json()
        assert (one["status"], one["priority"], one["vendor_attributes"]["vendor"]) == (
            "IN_PROGRESS",
            "LOW",
            str(case.vendor),
        )
