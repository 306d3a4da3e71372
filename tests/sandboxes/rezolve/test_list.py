"""`POST /ticket/list`: filters (status, type, team, updated since, marker), search, sort, pages."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from ticketbridge.sandboxes.rezolve import INCIDENT_TYPE_ID, REQUEST_FIELDS

from .support import QUERY, TICKETS, create_request, get_ticket, patch_ticket

pytestmark = pytest.mark.anyio


async def list_ids(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> list[str]:
    response = await client.post(f"{TICKETS}/list", params=QUERY, headers=headers, json=body)
    assert response.status_code == 200, response.text
    return [ticket["object_id"] for ticket in response.json()["data"]["tickets"]]


def where(*conditions: dict[str, Any], op: str = "AND") -> dict[str, Any]:
    return {"op": op, "operand": list(conditions)}


async def test_pages_walk_every_ticket_once_with_has_more(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    await client.post("/__sandbox__/seed", json={"count": 5})
    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    offset = 0
    while True:
        response = await client.post(
            f"{TICKETS}/list",
            params=QUERY,
            headers=writer,
            json={"top": 3, "offset": offset, "sort": "createdAt", "searchOrder": "ASC"},
        )
        data = response.json()["data"]
        seen += [ticket["object_id"] for ticket in data["tickets"]]
        pages.append(data["pagination"])
        if not data["pagination"]["hasMore"]:
            break
        offset += 3

    expected = {"REQ-0001", "REQ-0002", "INC-0001", "INC-0002", *(f"REQ-{n:04d}" for n in range(3, 8))}
    assert len(seen) == len(set(seen)) == 9
    assert set(seen) == expected
    assert pages[0] == {"total": 9, "top": 3, "offset": 0, "hasMore": True}
    assert pages[-1] == {"total": 9, "top": 3, "offset": 6, "hasMore": False}


async def test_list_items_carry_etag_and_data(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    response = await client.post(
        f"{TICKETS}/list",
        params=QUERY,
        headers=writer,
        json={"filter": where({"column": "object_id", "op": "EQ", "operand": "REQ-0001"})},
    )

    item = response.json()["data"]["tickets"][0]
    assert item == {key: value for key, value in (await get_ticket(client, writer, "REQ-0001")).items() if key in item}
    assert {"etag", "data", "lastUpdatedBy", "updatedAt"} <= set(item)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"column": "status", "op": "EQ", "operand": "in_progress"}, ["REQ-0002"]),
        (
            {"column": "status", "op": "IN", "operand": ["new", "submitted"]},
            ["INC-0001", "INC-0002", "REQ-0001"],
        ),
        ({"column": "ticketTypeId", "op": "EQ", "operand": INCIDENT_TYPE_ID}, ["INC-0001", "INC-0002"]),
        ({"column": "teamId", "op": "EQ", "operand": "hr"}, ["INC-0002"]),
        ({"column": "teamId", "op": "NE", "operand": "it"}, ["INC-0002"]),
        ({"column": "externalReference", "op": "EQ", "operand": "HR-42"}, ["INC-0002"]),
        ({"column": REQUEST_FIELDS.tags, "op": "EQ", "operand": "vpn"}, ["REQ-0001"]),
        ({"column": "tags", "op": "LIKE", "operand": "VP"}, ["REQ-0001"]),
        ({"column": "priority", "op": "EQ", "operand": "high"}, ["INC-0001", "REQ-0002"]),
        ({"column": "dueDate", "op": "GE", "operand": "2026-11-01"}, ["REQ-0002"]),
    ],
)
async def test_filters_by_system_column_field_uuid_or_field_name(
    client: httpx.AsyncClient, writer: dict[str, str], condition: dict[str, Any], expected: list[str]
) -> None:
    ids = await list_ids(client, writer, filter=where(condition), sort="object_id", searchOrder="ASC")

    assert ids == expected


async def test_nested_groups_combine_with_or(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    condition = where(
        {"column": "teamId", "op": "EQ", "operand": "hr"},
        where({"column": "status", "op": "EQ", "operand": "in_progress"}),
        op="OR",
    )

    assert await list_ids(client, writer, filter=condition, sort="object_id", searchOrder="ASC") == [
        "INC-0002",
        "REQ-0002",
    ]


async def test_updated_since_finds_only_later_writes(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    before = await get_ticket(client, writer, "REQ-0001")
    # Timestamps have millisecond resolution: move past the demo tickets' before taking the watermark.
    await anyio.sleep(0.005)
    watermark = (await create_request(client, writer, "Watermark"))["objectId"]
    since = (await get_ticket(client, writer, watermark))["updatedAt"]
    await patch_ticket(client, writer, "REQ-0001", {"etag": before["etag"], "ticketUpdate": {REQUEST_FIELDS.tags: []}})

    ids = await list_ids(client, writer, filter=where({"column": "updatedAt", "op": "GE", "operand": since}))

    assert set(ids) == {watermark, "REQ-0001"}


async def test_marker_search_finds_the_ticket_that_stored_it(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    marker = "tb:4f9784fa-7885"
    created = await create_request(client, writer, "Marked", **{REQUEST_FIELDS.externalReference: marker})

    ids = await list_ids(client, writer, filter=where({"column": "externalReference", "op": "EQ", "operand": marker}))

    assert ids == [created["objectId"]]


async def test_search_matches_text_and_richtext_case_insensitively(
    client: httpx.AsyncClient, writer: dict[str, str]
) -> None:
    assert await list_ids(client, writer, search="monday") == ["REQ-0001"]
    assert await list_ids(client, writer, search="EMAIL") == ["INC-0001"]


@pytest.mark.parametrize(
    "bad_filter",
    [
        where({"column": "status", "op": "REGEX", "operand": "x"}),
        where({"column": "nonexistent", "op": "EQ", "operand": "x"}),
        where({"column": "status", "op": "IN", "operand": "new"}),
        where({"column": "updatedAt", "op": "GE", "operand": "yesterday"}),
        {"op": "XOR", "operand": []},
    ],
)
async def test_bad_filters_are_invalid_filter(
    client: httpx.AsyncClient, writer: dict[str, str], bad_filter: dict[str, Any]
) -> None:
    response = await client.post(f"{TICKETS}/list", params=QUERY, headers=writer, json={"filter": bad_filter})

    assert response.status_code == 422
    body = response.json()
    assert (body["error"], body["code"], body["status"]) == (True, "INVALID_FILTER", 422)


async def test_page_size_is_capped_at_100(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    response = await client.post(f"{TICKETS}/list", params=QUERY, headers=writer, json={"top": 101})

    assert response.status_code == 400
    assert set(response.json()["validationResult"]["reason"]) == {"top"}
