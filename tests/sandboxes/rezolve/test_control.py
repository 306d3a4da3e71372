"""The /__sandbox__/ control API: reset, seed, call counts, person edits, minted tokens."""

from __future__ import annotations

import httpx
import pytest

from ticketbridge.sandboxes.rezolve import REQUEST_FIELDS
from ticketbridge.sandboxes.rezolve.demo import AGENT_PRIYA_ID

from .support import DESCRIPTION, QUERY, TICKETS, create_request, get_ticket, patch_ticket

pytestmark = pytest.mark.anyio


async def test_calls_are_counted_per_operation_and_cleared(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    created = await create_request(client, writer)
    await get_ticket(client, writer, created["objectId"])
    await patch_ticket(client, writer, created["objectId"], {"etag": "stale", "ticketUpdate": {DESCRIPTION: ""}})
    await client.post(f"{TICKETS}/list", params=QUERY, headers=writer, json={})

    counted = (await client.get("/__sandbox__/calls")).json()
    cleared = await client.delete("/__sandbox__/calls")
    after = (await client.get("/__sandbox__/calls")).json()

    assert counted == {
        "token": 1,
        "createTicket": 1,
        "getTicket": 1,
        "updateTicket": 1,
        "listTickets": 1,
    }
    assert cleared.status_code == 204
    assert after == {}


async def test_seed_adds_tickets_and_reset_restores_the_demo(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    seeded = await client.post("/__sandbox__/seed", json={"count": 3})
    assert seeded.json() == {
        "created": 3,
        "first_key": "REQ-0003",
        "last_key": "REQ-0005",
        "keys": ["REQ-0003", "REQ-0004", "REQ-0005"],
    }
    assert (await get_ticket(client, writer, "REQ-0005"))["data"][REQUEST_FIELDS.summary] == "Seeded request 3"

    reset = await client.post("/__sandbox__/reset")

    assert reset.status_code == 200 and reset.json() == {"issues": 4}
    gone = await client.get(f"{TICKETS}/REQ-0005", params=QUERY, headers=writer)
    assert gone.status_code == 404
    assert (await get_ticket(client, writer, "REQ-0001"))["object_id"] == "REQ-0001"


async def test_seed_into_an_unknown_tenant_is_tenant_not_found(client: httpx.AsyncClient) -> None:
    response = await client.post("/__sandbox__/seed", json={"count": 1, "tenantId": "nope"})

    assert response.status_code == 404
    assert response.json() == {"error": True, "message": "Tenant not found"}


async def test_person_edit_bumps_the_etag_so_the_api_writer_gets_etag_mismatch(
    client: httpx.AsyncClient, writer: dict[str, str]
) -> None:
    read = await get_ticket(client, writer, "REQ-0001")

    edit = await client.post(
        "/__sandbox__/tickets/REQ-0001/edit",
        json={"userId": AGENT_PRIYA_ID, "ticketUpdate": {REQUEST_FIELDS.status: "resolved"}},
    )
    write = await patch_ticket(client, writer, "REQ-0001", {"etag": read["etag"], "ticketUpdate": {DESCRIPTION: ""}})

    assert edit.status_code == 200
    assert write.status_code == 400
    assert write.json()["code"] == "ETAG_MISMATCH"
    after = await get_ticket(client, writer, "REQ-0001")
    assert after["etag"] == edit.json()["etag"] != read["etag"]
    # A person skips the workflow (submitted -> resolved) and is audited as a user.
    assert after["data"][REQUEST_FIELDS.status] == "resolved"
    assert after["lastUpdatedBy"] == {"id": AGENT_PRIYA_ID, "type": "user"}


async def test_person_edit_still_validates_values(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/__sandbox__/tickets/REQ-0001/edit", json={"ticketUpdate": {REQUEST_FIELDS.priority: "someday"}}
    )

    assert response.status_code == 400
    assert response.json()["validationResult"]["reason"] == {REQUEST_FIELDS.priority: "Invalid option 'someday'"}


async def test_person_edit_of_a_missing_ticket_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.post("/__sandbox__/tickets/REQ-9999/edit", json={"ticketUpdate": {DESCRIPTION: ""}})

    assert response.status_code == 404
    assert response.json() == {"error": True, "message": "Ticket not found (REQ-9999)"}


async def test_minting_a_token_for_an_unknown_client_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.post("/__sandbox__/tokens", json={"clientId": "nobody"})

    assert response.status_code == 404
