"""Passthrough endpoints against the sandboxes: projects, issue types, assignable users, ticket search,
and how vendor errors answer."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.api.test_rezolve import rezolve_tenant
from tests.api.test_tickets import sandbox
from tests.builders import ADMIN, Tenant, make_oauth_tenant, make_tenant, revoke_credentials
from ticketbridge.sandboxes import jira
from ticketbridge.state import Runtime

BASE = "/v1/itsm/passthrough"


async def get(client: httpx.AsyncClient, tenant: Tenant, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(f"{BASE}{path}", params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_projects_page_by_offset_and_embed_issue_types(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    every = await get(client, tenant, "/projects")
    assert [(p["vendor_id"], p["project_type"]) for p in every["items"]] == [
        ("DEMO", "software"),
        ("OPS", "service_desk"),
    ]
    assert every["total"] == 2 and every["items"][0]["issue_types"] is None
    second = await get(client, tenant, "/projects", limit=1, offset=1, include_issue_types=True)
    assert [p["vendor_id"] for p in second["items"]] == ["OPS"]
    assert {t["name"] for t in second["items"][0]["issue_types"]} == {"Task", "Bug", "Sub-task"}


async def test_issue_types_and_assignable_users_give_ids_a_create_accepts(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    types = await get(client, tenant, "/projects/DEMO/issue-types")
    bug = next(t for t in types["items"] if t["name"] == "Bug")
    users = await get(client, tenant, "/projects/DEMO/assignable-users", query=jira.DEMO_EMAIL[:4])
    assert users["total"] is None
    assert [u["vendor_id"] for u in users["items"]] == [jira.DEMO_ACCOUNT_ID]
    everyone = await get(client, tenant, "/projects/DEMO/assignable-users")
    assert len(everyone["items"]) > 1

    body = {
        "name": "Picked from passthrough",
        "project_vendor_id": "DEMO",
        "type_vendor_id": bug["vendor_id"],
        "assigned_user_vendor_id": users["items"][0]["vendor_id"],
    }
    created = await client.post("/v1/itsm/tickets", json=body, headers=tenant.headers)
    assert created.status_code == 200, created.text
    assert created.json()["type"] == "Bug" and created.json()["assigned_user_vendor_id"] == jira.DEMO_ACCOUNT_ID
    missing = await client.get(f"{BASE}/projects/NOPE/issue-types", headers=tenant.headers)
    assert missing.status_code == 404, missing.text


async def test_search_pages_with_cursors_on_search_jql(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    await sandbox(jira_sandbox, "POST", "/seed", json={"issues": 3})
    await sandbox(jira_sandbox, "DELETE", "/calls")
    jql = "project = DEMO ORDER BY key ASC"
    first = await get(client, tenant, "/tickets/search", jql=jql, limit=4)
    second = await get(client, tenant, "/tickets/search", jql=jql, limit=4, cursor=first["next_cursor"])

    keys = [t["key"] for t in first["items"] + second["items"]]
    assert keys == [f"DEMO-{n}" for n in range(1, 7)] and second["next_cursor"] is None
    assert first["items"][0]["project_vendor_id"] == "DEMO" and first["items"][0]["status"]
    calls = await sandbox(jira_sandbox, "GET", "/calls")
    # Never the removed /search; one refresh of the access token that expired before the first page.
    assert calls == {"searchAndReconsileIssuesUsingJqlPost": 2, "oauth.token.refresh_token": 1}


async def test_search_bounds(client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    for params in (
        {"jql": "x" * 5001},
        {"jql": "project = DEMO", "limit": 0},
        {"jql": "a", "limit": 101},
        {},
    ):
        response = await client.get(f"{BASE}/tickets/search", params=params, headers=tenant.headers)
        assert response.status_code == 422, (params, response.text)
    default = await get(client, tenant, "/tickets/search", jql="project = DEMO")
    assert len(default["items"]) == 3


async def test_bad_jql_answers_400_with_jiras_message(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    response = await client.get(
        f"{BASE}/tickets/search", params={"jql": "project = DEMO AND ("}, headers=tenant.headers
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "INVALID_QUERY" and "Error in the JQL Query" in body["message"]


async def test_vendor_auth_failure_answers_502_naming_the_health(client: httpx.AsyncClient, runtime: Runtime) -> None:
    tenant = await make_tenant(client)
    path = f"/v1/admin/connections/{tenant.connection_id}"
    await revoke_credentials(runtime, tenant.connection_id, {"email": jira.DEMO_EMAIL, "api_token": "revoked"})
    response = await client.get(f"{BASE}/projects", headers=tenant.headers)
    assert response.status_code == 502, response.text
    assert response.json()["code"] == "VENDOR_UNAUTHORIZED" and "UNAUTHORIZED" in response.json()["message"]
    assert (await client.get(path, headers=ADMIN)).json()["health"]["name"] == "UNAUTHORIZED"


async def test_vendor_rate_limit_answers_429_with_retry_after(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    await sandbox(jira_sandbox, "PUT", "/faults", json={"rate_limit_rate": 1.0, "retry_after_seconds": 30})
    response = await client.get(f"{BASE}/tickets/search", params={"jql": "project = DEMO"}, headers=tenant.headers)
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == "30"
    health = (await client.get(f"/v1/admin/connections/{tenant.connection_id}", headers=ADMIN)).json()["health"]
    assert health["name"] == "RATE_LIMIT_EXCEEDED"
    await sandbox(jira_sandbox, "PUT", "/faults", json={})
    assert (await client.get(f"{BASE}/projects", headers=tenant.headers)).status_code == 200
    health = (await client.get(f"/v1/admin/connections/{tenant.connection_id}", headers=ADMIN)).json()["health"]
    assert health["name"] == "HEALTHY"


async def test_rezolve_takes_its_own_query_language(client: httpx.AsyncClient) -> None:
    tenant = await rezolve_tenant(client)
    teams = await get(client, tenant, "/projects")
    assert teams["items"] and teams["total"] == len(teams["items"])
    incidents = await get(client, tenant, "/tickets/search", jql='type="Incident"', limit=100)
    assert incidents["items"] and all(t["type"] == "Incident" for t in incidents["items"])
    every = await get(client, tenant, "/tickets/search", jql="created>=2000-01-01", limit=100)
    assert len(every["items"]) > len(incidents["items"])
    bad = await client.get(f"{BASE}/tickets/search", params={"jql": 'name~"unclosed'}, headers=tenant.headers)
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_QUERY"
