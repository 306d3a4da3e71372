"""The deletion walk marks a ticket inactive only once the vendor confirms it gone: a listing that
misses a live ticket (a page that shifted, an index behind) costs a direct look-up, not the ticket."""

from __future__ import annotations

import json
import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from tests.api.test_rezolve import control, rezolve_tenant
from tests.builders import Tenant, make_oauth_tenant
from tests.services.support import jira_call, run_sync
from tests.support.connectors import reroute
from ticketbridge.state import Runtime
from ticketbridge.store.tables import TicketRow


class ForgetfulListing(httpx.AsyncBaseTransport):
    """Drops `hidden` from the id listings of the deletion walk, as a listing that shifted would."""

    def __init__(self, inner: httpx.AsyncBaseTransport, hidden: set[str]) -> None:
        self.inner = inner
        self.hidden = hidden
        self.dropped = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = request.content.decode() if request.method == "POST" else ""
        is_jira_ids = request.url.path.endswith("/search/jql") and json.loads(body or "{}").get("jql", "").startswith(
            "id >"
        )
        is_rezolve_ids = request.url.path.endswith("/ticket/list") and '"createdAt"' in body
        if not (is_jira_ids or is_rezolve_ids):
            return response
        await response.aread()
        answer = response.json()
        listed = answer["issues"] if is_jira_ids else answer["data"]["tickets"]
        kept = [item for item in listed if str(item["id"]) not in self.hidden]
        self.dropped += len(listed) - len(kept)
        listed[:] = kept
        return httpx.Response(response.status_code, headers={"content-type": "application/json"}, json=answer)


async def activity(runtime: Runtime, tenant: Tenant) -> dict[str, bool]:
    async with runtime.sessionmaker() as db:
        rows = await db.execute(
            select(TicketRow.vendor_key, TicketRow.active).where(
                TicketRow.connection_id == uuid.UUID(tenant.connection_id)
            )
        )
        return {key: active for key, active in rows}


async def test_a_jira_issue_the_id_listing_missed_stays_active_and_a_deleted_one_does_not(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    await run_sync(runtime, tenant.connection_id)
    live = (await jira_call(jira_sandbox, "GET", "/rest/api/3/issue/DEMO-2")).json()["id"]
    assert (await jira_call(jira_sandbox, "DELETE", "/rest/api/3/issue/DEMO-3")).status_code == 204
    forgetful = reroute(runtime, lambda transport: ForgetfulListing(transport, {live}))

    report = await run_sync(runtime, tenant.connection_id)

    assert forgetful.dropped == 1 and report["tickets_deactivated"] == 1
    states = await activity(runtime, tenant)
    assert states["DEMO-2"] is True and states["DEMO-3"] is False


async def test_a_rezolve_ticket_the_id_listing_missed_stays_active_and_a_deleted_one_does_not(
    client: httpx.AsyncClient, runtime: Runtime, rezolve_sandbox: FastAPI
) -> None:
    tenant = await rezolve_tenant(client)
    await run_sync(runtime, tenant.connection_id)
    async with runtime.sessionmaker() as db:
        live = await db.scalar(select(TicketRow.vendor_id).where(TicketRow.vendor_key == "REQ-0002"))
    assert live is not None
    await control(rezolve_sandbox, "DELETE", "/tickets/INC-0001")
    forgetful = reroute(runtime, lambda transport: ForgetfulListing(transport, {live}))

    report = await run_sync(runtime, tenant.connection_id)

    assert forgetful.dropped == 1 and report["tickets_deactivated"] == 1
    states = await activity(runtime, tenant)
    assert states["REQ-0002"] is True and states["INC-0001"] is False
