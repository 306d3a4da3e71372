"""Every write endpoint on a REZOLVE connection, and optimistic concurrency end to end (the bulk
endpoints of every vendor are in test_vendor_endpoints.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI

from tests.builders import Tenant
from tests.support.sandboxes import control
from tests.support.vendor_cases import VENDOR_CASES, make_vendor_tenant
from ticketbridge.enums import Vendor
from ticketbridge.sandboxes import rezolve
from ticketbridge.sandboxes.rezolve.demo import IT_TEAM
from ticketbridge.state import Runtime

REZOLVE = VENDOR_CASES[Vendor.REZOLVE]
REQUEST_TYPE = REZOLVE.type_vendor_id


async def rezolve_tenant(client: httpx.AsyncClient) -> Tenant:
    return await make_vendor_tenant(client, REZOLVE)


def request_ticket(name: str, **fields: Any) -> dict[str, Any]:
    return REZOLVE.ticket(name, **fields)


async def test_create_get_and_patch_on_rezolve(client: httpx.AsyncClient) -> None:
    tenant = await rezolve_tenant(client)
    created = await client.post(
        "/v1/itsm/tickets",
        json=request_ticket("Laptop for new hire", description="Needs **16 GB**", priority="HIGH"),
        headers=tenant.headers,
    )
    assert created.status_code == 200, created.text
    ticket = created.json()
    assert ticket["vendor_attributes"]["vendor"] == "REZOLVE"
    assert ticket["vendor_attributes"]["id"].startswith("REQ-")
    assert (ticket["priority"], ticket["status"]) == ("HIGH", "TODO")
    assert ticket["description"] == "Needs **16 GB**"
    patched = await client.patch(
        f"/v1/itsm/tickets/{ticket['id']}",
        json={"status": "RESOLVED", "name": "Laptop"},
        headers={**tenant.headers, "If-Match": ticket["etag"]},
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["status"], patched.json()["name"]) == ("RESOLVED", "Laptop")
    assert patched.json()["etag"] != ticket["etag"]


async def test_two_clients_patch_with_the_same_if_match_exactly_one_wins(
    client: httpx.AsyncClient, rezolve_sandbox: FastAPI
) -> None:
    tenant = await rezolve_tenant(client)
    ticket = (await client.post("/v1/itsm/tickets", json=request_ticket("Contended"), headers=tenant.headers)).json()
    headers = {**tenant.headers, "If-Match": ticket["etag"]}
    first, second = await asyncio.gather(
        client.patch(f"/v1/itsm/tickets/{ticket['id']}", json={"name": "Alice's title"}, headers=headers),
        client.patch(f"/v1/itsm/tickets/{ticket['id']}", json={"name": "Bob's title"}, headers=headers),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 412], (first.text, second.text)
    winner = first if first.status_code == 200 else second
    vendor = await control(rezolve_sandbox, "GET", "/calls")
    assert vendor["updateTicket"] >= 1
    stored = (await client.get(f"/v1/itsm/tickets/{ticket['id']}", headers=tenant.headers)).json()
    assert stored["name"] == winner.json()["name"]
    fresh = await client.patch(f"/v1/itsm/tickets/{ticket['id']}", json={"priority": "LOW"}, headers=tenant.headers)
    assert fresh.json()["name"] == winner.json()["name"]  # the vendor holds the winner's value


async def test_an_edit_of_the_same_field_in_rezolve_is_a_conflict_naming_it(
    client: httpx.AsyncClient, rezolve_sandbox: FastAPI
) -> None:
    tenant = await rezolve_tenant(client)
    ticket = (await client.post("/v1/itsm/tickets", json=request_ticket("Original"), headers=tenant.headers)).json()
    object_id = ticket["vendor_attributes"]["id"]  # Rezolve addresses tickets by display id
    fields = rezolve.REQUEST_FIELDS
    await control(
        rezolve_sandbox,
        "POST",
        f"/tickets/{object_id}/edit",
        json={"ticketUpdate": {fields.summary: "By a person"}},
    )
    stale = await client.patch(
        f"/v1/itsm/tickets/{ticket['id']}",
        json={"name": "Ours"},
        headers={**tenant.headers, "If-Match": ticket["etag"]},
    )
    assert stale.status_code == 412, stale.text
    assert ["body", "name"] in [detail["loc"] for detail in stale.json()["detail"]]


async def test_passthrough_and_read_endpoints_on_rezolve(client: httpx.AsyncClient, runtime: Runtime) -> None:
    tenant = await rezolve_tenant(client)
    base = "/v1/itsm/passthrough/projects"
    types = await client.get(f"{base}/{IT_TEAM}/issue-types", headers=tenant.headers)
    assert types.status_code == 200, types.text
    type_ids = {item["vendor_id"] for item in types.json()["items"]}
    assert REQUEST_TYPE in type_ids
    users = await client.get(f"{base}/{IT_TEAM}/assignable-users", headers=tenant.headers)
    assert users.status_code == 200 and users.json()["items"], users.text
    assignee = users.json()["items"][0]["vendor_id"]
    created = await client.post(
        "/v1/itsm/tickets", json=request_ticket("Assigned", assigned_user_vendor_id=assignee), headers=tenant.headers
    )
    assert created.status_code == 200 and created.json()["assigned_user_vendor_id"] == assignee, created.text
    listed = await client.get(
        "/v1/itsm/tickets", params={"identifier": created.json()["identifier"]}, headers=tenant.headers
    )
    assert [item["id"] for item in listed.json()["items"]] == [created.json()["id"]]
    accepted = await client.post(
        "/v1/itsm/tickets/bulk", json={"tickets": [request_ticket("Job")]}, headers=tenant.headers
    )
    jobs = await client.get("/v1/jobs", headers=tenant.headers)
    assert [item["id"] for item in jobs.json()["items"]] == [accepted.json()["job_id"]]
