"""GET /v1/itsm/tickets, /projects and /users: filters, cursor pagination and its edge cases."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.api.test_tickets import BUG, sandbox
from tests.builders import Tenant, make_oauth_tenant, make_tenant
from tests.services.support import run_sync
from ticketbridge.sandboxes import jira
from ticketbridge.state import Runtime

DEMO_ISSUES = 5


async def get(client: httpx.AsyncClient, tenant: Tenant, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def walk(client: httpx.AsyncClient, tenant: Tenant, limit: int, **params: Any) -> list[str]:
    """Every key, following next_cursor from the first page to the last."""
    keys: list[str] = []
    page = await get(client, tenant, "/v1/itsm/tickets", limit=limit, **params)
    while True:
        keys += [t["vendor_attributes"]["id"] for t in page["items"]]
        if page["next_cursor"] is None:
            return keys
        page = await get(client, tenant, "/v1/itsm/tickets", limit=limit, cursor=page["next_cursor"])


async def synced_tenant(client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI, extra: int) -> Tenant:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    if extra:
        await sandbox(jira_sandbox, "POST", "/seed", json={"issues": extra})
    await run_sync(runtime, tenant.connection_id)
    return tenant


async def test_an_empty_list_has_no_cursors(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(client)
    for path in ("/v1/itsm/tickets", "/v1/itsm/projects", "/v1/itsm/users"):
        assert await get(client, tenant, path) == {"items": [], "next_cursor": None, "previous_cursor": None}


async def test_exactly_one_page_and_the_last_page(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await synced_tenant(client, runtime, jira_sandbox, extra=0)
    whole = await get(client, tenant, "/v1/itsm/tickets", limit=DEMO_ISSUES)
    assert len(whole["items"]) == DEMO_ISSUES
    assert whole["next_cursor"] is None and whole["previous_cursor"] is None

    first = await get(client, tenant, "/v1/itsm/tickets", limit=3)
    assert len(first["items"]) == 3 and first["next_cursor"] and first["previous_cursor"] is None
    last = await get(client, tenant, "/v1/itsm/tickets", limit=3, cursor=first["next_cursor"])
    assert len(last["items"]) == 2 and last["next_cursor"] is None and last["previous_cursor"]
    back = await get(client, tenant, "/v1/itsm/tickets", limit=3, cursor=last["previous_cursor"])
    assert back["items"] == first["items"] and back["previous_cursor"] is None
    assert back["next_cursor"] is not None
    ids = [t["id"] for t in first["items"] + last["items"]]
    assert sorted(ids) == sorted(t["id"] for t in whole["items"])


async def test_rows_inserted_or_changed_between_pages_are_never_skipped(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await synced_tenant(client, runtime, jira_sandbox, extra=5)
    before = await walk(client, tenant, limit=100)
    first = await get(client, tenant, "/v1/itsm/tickets", limit=4)
    seen = [t["vendor_attributes"]["id"] for t in first["items"]]
    body = {"name": "Inserted meanwhile", "project_vendor_id": "DEMO", "type_vendor_id": BUG}
    inserted = (await client.post("/v1/itsm/tickets", json=body, headers=tenant.headers)).json()
    changed = seen[0]  # already listed; a change moves it behind every position passed
    patch = {"name": "Changed meanwhile"}
    changed_id = first["items"][0]["id"]
    assert (await client.patch(f"/v1/itsm/tickets/{changed_id}", json=patch, headers=tenant.headers)).is_success

    rest = await walk(client, tenant, limit=4, cursor=first["next_cursor"])

    keys = seen + rest
    assert set(keys) == set(before) | {inserted["vendor_attributes"]["id"]}
    unchanged = [key for key in keys if key != changed]
    assert len(unchanged) == len(set(unchanged))  # each unchanged row exactly once
    assert keys.count(changed) == 2 and rest[-1] in (changed, inserted["vendor_attributes"]["id"])


async def test_offset_pages_and_bad_cursors(client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI) -> None:
    tenant = await synced_tenant(client, runtime, jira_sandbox, extra=0)
    every = await walk(client, tenant, limit=100)
    third = await get(client, tenant, "/v1/itsm/tickets", limit=2, offset=2)
    assert [t["vendor_attributes"]["id"] for t in third["items"]] == every[2:4]
    assert third["previous_cursor"] and third["next_cursor"]
    for params in ({"cursor": "nonsense"}, {"limit": 0}, {"limit": 101}, {"offset": -1}):
        response = await client.get("/v1/itsm/tickets", params=params, headers=tenant.headers)
        assert response.status_code == 422, response.text
    projects_cursor = (await get(client, tenant, "/v1/itsm/projects", limit=1))["next_cursor"]
    mixed = await client.get("/v1/itsm/tickets", params={"cursor": projects_cursor}, headers=tenant.headers)
    assert mixed.status_code == 422 and mixed.json()["detail"][0]["loc"] == ["query", "cursor"]


async def test_ticket_filters(client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI) -> None:
    tenant = await synced_tenant(client, runtime, jira_sandbox, extra=0)
    body = {
        "name": "Filter me 100%",
        "project_vendor_id": "DEMO",
        "type_vendor_id": BUG,
        "priority": "CRITICAL",
        "assigned_user_vendor_id": jira.DEMO_ACCOUNT_ID,
        "identifier": "filter-1",
    }
    created = await client.post("/v1/itsm/tickets", json=body, headers=tenant.headers)
    assert created.status_code == 200, created.text
    ticket = created.json()
    assert ticket["assigned_user_id"] and ticket["project_id"]

    async def ids(**params: Any) -> list[str]:
        return [t["id"] for t in (await get(client, tenant, "/v1/itsm/tickets", **params))["items"]]

    assert await ids(identifier="filter-1") == [ticket["id"]]
    assert await ids(name="ME 100%") == [ticket["id"]]  # contains, case-insensitive, % taken literally
    assert await ids(name="me 1000") == []
    assert ticket["id"] in await ids(priority="CRITICAL")
    assert ticket["id"] in await ids(assigned_user_id=ticket["assigned_user_id"])
    assert ticket["id"] in await ids(type="Bug", status="TODO", project_id=ticket["project_id"])
    assert ticket["id"] not in await ids(status="CLOSED")
    assert len(await ids(project_id=ticket["project_id"])) == 3 + 1  # the demo's DEMO issues and ours
    assert ticket["id"] in await ids(updated_since=ticket["vendor_attributes"]["updated_at"][:19] + "Z")
    assert await ids(updated_since="2999-01-01T00:00:00Z") == []
    naive = await client.get(
        "/v1/itsm/tickets", params={"updated_since": "2026-01-01T00:00:00"}, headers=tenant.headers
    )
    assert naive.status_code == 422


async def test_projects_and_users_with_leens_filters(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await synced_tenant(client, runtime, jira_sandbox, extra=0)
    projects = (await get(client, tenant, "/v1/itsm/projects"))["items"]
    names = {p["vendor_attributes"]["id"]: p for p in projects}
    assert names["DEMO"]["project_type"] == "software" and names["OPS"]["project_type"] == "service_desk"
    only = await get(client, tenant, "/v1/itsm/projects", name="operat")
    assert [p["vendor_attributes"]["id"] for p in only["items"]] == ["OPS"]

    users = (await get(client, tenant, "/v1/itsm/users"))["items"]
    admin = next(u for u in users if u["vendor_attributes"]["id"] == jira.DEMO_ACCOUNT_ID)
    assert admin["email"] == jira.DEMO_EMAIL and "accountType" in admin["vendor_attributes"]["data"]
    by_email = await get(client, tenant, "/v1/itsm/users", email=jira.DEMO_EMAIL.upper())
    assert [u["id"] for u in by_email["items"]] == [admin["id"]]
    assert len((await get(client, tenant, "/v1/itsm/users", status="ACTIVE"))["items"]) == len(users)
    assert (await get(client, tenant, "/v1/itsm/users", status="DELETED"))["items"] == []
    in_ops = await get(client, tenant, "/v1/itsm/users", projectId=names["OPS"]["id"])
    ops_tickets = (await get(client, tenant, "/v1/itsm/tickets", project_id=names["OPS"]["id"]))["items"]
    people = {t[field] for t in ops_tickets for field in ("assigned_user_id", "created_by_user_id")} - {None}
    assert people and {u["id"] for u in in_ops["items"]} == people
    paged = await get(client, tenant, "/v1/itsm/users", limit=3)
    rest = await get(client, tenant, "/v1/itsm/users", limit=3, cursor=paged["next_cursor"])
    assert len(paged["items"]) + len(rest["items"]) == len(users) and rest["next_cursor"] is None
    assert (await get(client, tenant, "/v1/itsm/users", updatedSince="2999-01-01T00:00:00Z"))["items"] == []
