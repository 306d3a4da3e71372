"""The vendor calls of a sync beyond its pages: a new connection's first sync, right after the
verification that made the connection, asks Jira for the searching user's time zone no more."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.api.test_tickets import sandbox
from tests.builders import make_tenant
from tests.services.support import run_sync
from ticketbridge.state import Runtime


async def test_the_sync_after_a_verification_reuses_its_answer_for_the_time_zone(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    await sandbox(jira_sandbox, "DELETE", "/calls")
    tenant = await make_tenant(client)  # verified: one GET /myself

    await run_sync(runtime, tenant.connection_id)

    calls = await sandbox(jira_sandbox, "GET", "/calls")
    assert calls["getCurrentUser"] == 1, calls
    assert calls["searchAndReconsileIssuesUsingJqlPost"] >= 1  # the sync did run
