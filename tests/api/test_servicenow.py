"""Every endpoint on a SERVICENOW connection: create, PATCH with If-Match, lists after a sync,
passthrough, and the close requirements (the bulk endpoints of every vendor are in
test_vendor_endpoints.py)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.api.test_bulk import run_jobs
from tests.builders import ADMIN, Tenant
from tests.support.vendor_cases import VENDOR_CASES, make_vendor_tenant
from tests.vendors import SERVICENOW_URL
from ticketbridge.enums import Vendor
from ticketbridge.sandboxes.servicenow.demo import DEMO_PASSWORD, DEMO_USERNAME, demo_sys_id
from ticketbridge.state import Runtime

SERVICENOW = VENDOR_CASES[Vendor.SERVICENOW]
SERVICE_DESK = SERVICENOW.project_vendor_id
NETWORK = demo_sys_id("sys_user_group", "Network")
CLOSE = {"close_code": "Solution provided", "close_notes": "Closed by ticketbridge"}


async def servicenow_tenant(client: httpx.AsyncClient, **credentials: Any) -> Tenant:
    return await make_vendor_tenant(client, SERVICENOW, **credentials)


async def sandbox(app: FastAPI, method: str, path: str, **kwargs: Any) -> Any:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=SERVICENOW_URL) as http:
        response = await http.request(method, path, auth=(DEMO_USERNAME, DEMO_PASSWORD), **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None


def request_ticket(name: str, **fields: Any) -> dict[str, Any]:
    return SERVICENOW.ticket(name, **fields)


async def test_create_get_and_patch_with_if_match_on_servicenow(
    client: httpx.AsyncClient, servicenow_sandbox: FastAPI
) -> None:
    tenant = await servicenow_tenant(client, **CLOSE)
    created = await client.post(
        "/v1/itsm/tickets",
        json=request_ticket("Printer on fire", description="It is **really** on fire", priority="HIGH"),
        headers=tenant.headers,
    )
    assert created.status_code == 200, created.text
    ticket = created.json()
    assert ticket["vendor_attributes"]["vendor"] == "SERVICENOW"
    assert (ticket["priority"], ticket["status"]) == ("HIGH", "OPEN")
    assert ticket["description"] == "It is really on fire"  # ServiceNow keeps plain text
    patched = await client.patch(
        f"/v1/itsm/tickets/{ticket['id']}",
        json={"status": "RESOLVED", "name": "Printer"},
        headers={**tenant.headers, "If-Match": ticket["etag"]},
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["status"], patched.json()["name"]) == ("RESOLVED", "Printer")
    number = patched.json()["vendor_attributes"]["id"]
    (incident,) = (await sandbox(servicenow_sandbox, "GET", "/api/now/table/incident", params={"number": number}))[
        "result"
    ]
    assert (incident["state"], incident["close_code"]) == ("6", "Solution provided")
    # A person edits the incident in ServiceNow: sys_mod_count moves on, the ETag we handed out is stale.
    await sandbox(servicenow_sandbox, "PATCH", f"/api/now/table/incident/{incident['sys_id']}", json={"urgency": "1"})
    stale = await client.patch(
        f"/v1/itsm/tickets/{ticket['id']}",
        json={"name": "Ours"},
        headers={**tenant.headers, "If-Match": patched.json()["etag"]},
    )
    assert stale.status_code == 412, stale.text


async def test_resolving_without_close_values_is_a_422_naming_them(client: httpx.AsyncClient) -> None:
    tenant = await servicenow_tenant(client)
    ticket = (await client.post("/v1/itsm/tickets", json=request_ticket("Open"), headers=tenant.headers)).json()
    refused = await client.patch(f"/v1/itsm/tickets/{ticket['id']}", json={"status": "CLOSED"}, headers=tenant.headers)
    assert refused.status_code == 422, refused.text
    assert {tuple(detail["loc"]) for detail in refused.json()["detail"]} >= {
        ("vendor", "close_code"),
        ("vendor", "close_notes"),
    }


async def test_sync_lists_and_passthrough_on_servicenow(client: httpx.AsyncClient, runtime: Runtime) -> None:
    tenant = await servicenow_tenant(client)
    synced = await client.post(f"/v1/admin/connections/{tenant.connection_id}/sync", headers=ADMIN)
    assert synced.status_code == 202, synced.text
    await run_jobs(runtime)
    tickets = await client.get("/v1/itsm/tickets", params={"limit": 50}, headers=tenant.headers)
    assert tickets.status_code == 200 and len(tickets.json()["items"]) == 5, tickets.text  # the demo incidents
    projects = await client.get("/v1/itsm/projects", headers=tenant.headers)
    assert {p["name"] for p in projects.json()["items"]} >= {"Service Desk", "Network"}, projects.text
    base = "/v1/itsm/passthrough/projects"
    listed = await client.get(base, headers=tenant.headers)
    assert listed.status_code == 200 and listed.json()["items"], listed.text
    types = await client.get(f"{base}/{SERVICE_DESK}/issue-types", headers=tenant.headers)
    assert "network" in {item["vendor_id"] for item in types.json()["items"]}, types.text
    users = await client.get(f"{base}/{NETWORK}/assignable-users", headers=tenant.headers)
    assert users.status_code == 200 and len(users.json()["items"]) == 2, users.text
    assignee = users.json()["items"][0]["vendor_id"]
    created = await client.post(
        "/v1/itsm/tickets", json=request_ticket("Assigned", assigned_user_vendor_id=assignee), headers=tenant.headers
    )
    assert created.status_code == 200 and created.json()["assigned_user_vendor_id"] == assignee, created.text
    search = await client.get(
        "/v1/itsm/passthrough/tickets/search", params={"jql": "category=network^ORDERBYnumber"}, headers=tenant.headers
    )
    assert search.status_code == 200, search.text
    assert created.json()["vendor_attributes"]["id"] in {item["key"] for item in search.json()["items"]}
    missing = await client.get(f"{base}/not-a-group/issue-types", headers=tenant.headers)
    assert missing.status_code == 404, missing.text
