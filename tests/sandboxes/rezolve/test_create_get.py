"""Create (objectId and etag back) and get (etag at the top level, data keyed by field UUID)."""

from __future__ import annotations

import httpx
import pytest

from ticketbridge.sandboxes.rezolve import (
    INCIDENT_FIELDS,
    INCIDENT_TYPE_ID,
    REQUEST_FIELDS,
    SERVICE_REQUEST_TYPE_ID,
)

from .support import QUERY, TICKETS, create_request, get_ticket

pytestmark = pytest.mark.anyio


async def test_create_answers_id_display_id_and_etag(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    body = await create_request(client, writer, "New monitor", **{REQUEST_FIELDS.priority: "low"})

    assert body["success"] is True
    assert body["message"] == "ticket created successfully"
    assert body["status"] == 200
    # The demo holds REQ-0001 and REQ-0002; numbering is per ticket type, four digits.
    assert body["objectId"] == "REQ-0003"
    assert len(body["id"]) == 36
    assert len(body["etag"]) == 36


async def test_get_returns_the_created_values_keyed_by_field_uuid(
    client: httpx.AsyncClient, writer: dict[str, str]
) -> None:
    created = await create_request(
        client, writer, "New monitor", **{REQUEST_FIELDS.tags: ["hardware"], "offerId": "offer-7"}
    )

    ticket = await get_ticket(client, writer, created["objectId"])

    assert ticket["success"] is True
    assert ticket["id"] == created["id"]
    assert ticket["object_id"] == created["objectId"]
    assert ticket["etag"] == created["etag"]
    assert ticket["ticketTypeId"] == SERVICE_REQUEST_TYPE_ID
    assert ticket["teamId"] == "it"
    # summary fills the summary field; status and priority take the type's defaults; offerId is no field.
    assert ticket["data"] == {
        REQUEST_FIELDS.summary: "New monitor",
        REQUEST_FIELDS.status: "submitted",
        REQUEST_FIELDS.priority: "medium",
        REQUEST_FIELDS.tags: ["hardware"],
    }
    assert ticket["createdBy"] == ticket["lastUpdatedBy"] == {"id": "sa-tenant-demo-1", "type": "service_account"}


async def test_display_ids_count_per_ticket_type(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    response = await client.post(
        f"{TICKETS}/create/hr/{INCIDENT_TYPE_ID}",
        params=QUERY,
        headers=writer,
        json={"summary": "Badge reader offline", "ticketBody": {INCIDENT_FIELDS.parent: "INC-0001"}},
    )

    assert response.json()["objectId"] == "INC-0003"


async def test_create_without_required_values_names_the_missing_field(
    client: httpx.AsyncClient, writer: dict[str, str]
) -> None:
    response = await client.post(
        f"{TICKETS}/create/it/{SERVICE_REQUEST_TYPE_ID}",
        params=QUERY,
        headers=writer,
        json={"ticketBody": {REQUEST_FIELDS.status: "bogus"}},
    )

    assert response.status_code == 400
    assert response.json()["validationResult"]["reason"] == {
        REQUEST_FIELDS.summary: "Field is required",
        REQUEST_FIELDS.status: "Invalid option 'bogus'",
    }


@pytest.mark.parametrize(
    ("team", "type_id", "message"),
    [
        ("nope", SERVICE_REQUEST_TYPE_ID, "Team not found (nope)"),
        ("it", "99999", "Ticket type not found (99999)"),
    ],
)
async def test_create_in_an_unknown_team_or_type_is_not_found(
    client: httpx.AsyncClient, writer: dict[str, str], team: str, type_id: str, message: str
) -> None:
    response = await client.post(
        f"{TICKETS}/create/{team}/{type_id}", params=QUERY, headers=writer, json={"summary": "x"}
    )

    assert response.status_code == 404
    assert response.json() == {"error": True, "message": message}


async def test_create_needs_a_write_role(client: httpx.AsyncClient, reader: dict[str, str]) -> None:
    response = await client.post(
        f"{TICKETS}/create/it/{SERVICE_REQUEST_TYPE_ID}", params=QUERY, headers=reader, json={"summary": "x"}
    )

    assert response.status_code == 401
    assert response.json() == {
        "error": True,
        "code": "USER_PERMISSION_FAILURE",
        "message": "You do not have the permission to create the ticket",
        "status": 401,
    }


async def test_read_only_client_can_read(client: httpx.AsyncClient, reader: dict[str, str]) -> None:
    ticket = await get_ticket(client, reader, "REQ-0001")

    assert ticket["data"][REQUEST_FIELDS.summary] == "VPN access for a new hire"


async def test_get_answers_304_to_the_current_etag(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    first = await client.get(f"{TICKETS}/REQ-0001", headers=writer)

    cached = await client.get(f"{TICKETS}/REQ-0001", headers=writer | {"if-none-match": first.headers["etag"]})
    stale = await client.get(f"{TICKETS}/REQ-0001", headers=writer | {"if-none-match": '"something-else"'})

    assert first.headers["etag"] == f'"{first.json()["etag"]}"'
    assert cached.status_code == 304
    assert stale.status_code == 200


async def test_get_rejects_a_wrong_type_parameter(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    response = await client.get(f"{TICKETS}/REQ-0001", params={"type": "bogus"}, headers=writer)

    assert response.status_code == 400
    assert response.json()["validationResult"]["reason"] == {"type": "type must be one of template, agent, user"}
