"""Encoded queries through the Table API."""

from __future__ import annotations

import httpx
import pytest


async def _numbers(client: httpx.AsyncClient, query: str) -> list[str]:
    response = await client.get("/api/now/table/incident", params={"sysparm_query": query, "sysparm_fields": "number"})
    assert response.status_code == 200, response.text
    return [r["number"] for r in response.json()["result"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=1", ["INC0010002"]),
        ("state!=1^active=true", ["INC0010001", "INC0010003", "INC0010004"]),
        ("short_descriptionLIKEserver", ["INC0010001"]),
        ("short_descriptionNOT LIKEserver^active=true", ["INC0010002", "INC0010003", "INC0010004"]),
        ("short_descriptionSTARTSWITHvpn", ["INC0010002"]),
        ("short_descriptionENDSWITHslow", ["INC0010004"]),
        ("stateIN3,6", ["INC0010003", "INC0010004"]),
        ("stateNOT IN1,2,3,6", ["INC0010005"]),
        ("assigned_toISEMPTY", ["INC0010002", "INC0010005"]),
        ("subcategoryISNOTEMPTY^category=network", ["INC0010002"]),
        ("priority<=2", ["INC0010001", "INC0010004"]),
        ("priority>4", ["INC0010003"]),
        ("priorityBETWEEN2@3", ["INC0010002", "INC0010004"]),
        ("state=1^ORstate=7", ["INC0010002", "INC0010005"]),
        ("state=1^NQstate=3", ["INC0010002", "INC0010003"]),
        ("assignment_group.name=Network", ["INC0010002"]),
        ("active=true^ORDERBYDESCpriority", ["INC0010003", "INC0010002", "INC0010004", "INC0010001"]),
        ("ORDERBYcategory^ORDERBYDESCnumber", ["INC0010004", "INC0010003", "INC0010005", "INC0010002", "INC0010001"]),
    ],
)
async def test_operators(client: httpx.AsyncClient, query: str, expected: list[str]) -> None:
    assert await _numbers(client, query) == expected


async def test_invalid_parts_are_ignored_unless_the_property_says_no_rows(client: httpx.AsyncClient) -> None:
    assert await _numbers(client, "u_no_such_field=1^state=1") == ["INC0010002"]

    await client.put("/__sandbox__/properties", json={"glide.invalid_query.returns_no_rows": "true"})

    assert await _numbers(client, "u_no_such_field=1^state=1") == []
    assert await _numbers(client, "state=1") == ["INC0010002"]


async def test_incremental_sync_on_sys_updated_on(client: httpx.AsyncClient) -> None:
    everything = (
        await client.get("/api/now/table/incident", params={"sysparm_fields": "sys_updated_on,sys_id,number"})
    ).json()["result"]
    newest = max(r["sys_updated_on"] for r in everything)
    created = await client.post("/api/now/table/incident", json={"short_description": "after the mark"})
    since = "sys_updated_on>=" + newest + "^ORDERBYsys_updated_on^ORDERBYsys_id"

    found = (
        await client.get(
            "/api/now/table/incident", params={"sysparm_query": since, "sysparm_fields": "sys_id,sys_updated_on"}
        )
    ).json()["result"]

    assert created.json()["result"]["sys_id"] in [r["sys_id"] for r in found]
    keys = [(r["sys_updated_on"], r["sys_id"]) for r in found]
    assert keys == sorted(keys)
    assert await _numbers(client, "sys_updated_on>2999-01-01 00:00:00") == []
    generated = "sys_created_on<javascript:gs.dateGenerate('2999-01-01','00:00:00')"
    assert len(await _numbers(client, generated)) == 6


async def test_limit_and_offset_page_through(client: httpx.AsyncClient) -> None:
    pages = []
    for offset in (0, 2, 4):
        response = await client.get(
            "/api/now/table/incident",
            params={
                "sysparm_query": "ORDERBYnumber",
                "sysparm_limit": 2,
                "sysparm_offset": offset,
                "sysparm_fields": "number",
            },
        )
        pages.append([r["number"] for r in response.json()["result"]])

    assert pages == [["INC0010001", "INC0010002"], ["INC0010003", "INC0010004"], ["INC0010005"]]
