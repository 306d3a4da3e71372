"""Single-ticket endpoints against the Jira sandbox: create, read, update with optimistic concurrency."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from tests.builders import Tenant, make_oauth_tenant, make_tenant, revoke_credentials
from tests.support.connectors import reroute
from tests.support.sandboxes import control as sandbox
from ticketbridge.services.ticket_requests import marker_for
from ticketbridge.state import Runtime

BUG = "10002"
TASK = "10001"


async def create(client: httpx.AsyncClient, tenant: Tenant, **fields: Any) -> httpx.Response:
    body = {"name": "SQL injection in /login", "project_vendor_id": "DEMO", "type_vendor_id": BUG, **fields}
    return await client.post("/v1/itsm/tickets", json=body, headers=tenant.headers)


async def test_create_returns_the_full_ticket_and_writes_jira(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    description = "## Finding\n\nThe `username` field is **not** escaped.\n\n- step one\n- step two"
    response = await create(client, tenant, description=description, priority="HIGH", identifier="finding-1")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "TODO" and body["priority"] == "HIGH"
    assert body["identifier"] == "finding-1" and body["type"] == "Bug" and body["type_vendor_id"] == BUG
    assert body["description"] == description
    assert body["etag"] == response.headers["etag"]
    attributes = body["vendor_attributes"]
    assert attributes["vendor"] == "JIRA" and attributes["id"].startswith("DEMO-")
    assert attributes["status"] == "To Do" and attributes["priority"] == "High"
    assert attributes["data"]["statusCategory"] == "new"
    # Through the gateway, with the access token refreshed once: the one issued at consent had expired.
    assert (await sandbox(jira_sandbox, "GET", "/calls"))["oauth.token.refresh_token"] == 1
    issue = await sandbox(jira_sandbox, "GET", f"/issues/{attributes['id']}")
    assert issue["fields"]["summary"] == "SQL injection in /login"
    assert issue["fields"]["description"]["type"] == "doc"  # Markdown went to Jira as ADF
    stored = await client.get(f"/v1/itsm/tickets/{body['id']}", headers=tenant.headers)
    assert stored.status_code == 200 and stored.json()["description"] == description
    by_identifier = await client.get("/v1/itsm/tickets/by-identifier/finding-1", headers=tenant.headers)
    assert by_identifier.json()["id"] == body["id"]


async def test_status_at_create_is_reached_through_the_workflow(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    response = await create(client, tenant, status="IN_REVIEW")  # two transitions away from To Do
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "IN_REVIEW"
    assert response.json()["warnings"] == []
    unreachable = await create(client, tenant, name="other", status="Blocked")
    assert unreachable.status_code == 200
    assert unreachable.json()["status"] == "TODO"
    assert "Blocked" in unreachable.json()["warnings"][0]


async def test_reference_fields_are_exclusive_and_checked_before_any_vendor_call(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    await sandbox(jira_sandbox, "DELETE", "/calls")
    both = await create(client, tenant, project_id="00000000-0000-4000-8000-000000000001")
    assert both.status_code == 422
    assert ["body", "project_id"] in [problem["loc"] for problem in both.json()["detail"]]
    unknown = await client.post(
        "/v1/itsm/tickets",
        json={
            "name": "x",
            "project_id": "00000000-0000-4000-8000-000000000001",
            "type": "Bug",
            "assigned_user_id": "00000000-0000-4000-8000-000000000002",
        },
        headers=tenant.headers,
    )
    assert unknown.status_code == 422
    assert {tuple(p["loc"]) for p in unknown.json()["detail"]} == {
        ("body", "project_id"),
        ("body", "assigned_user_id"),
    }
    no_type = await client.post(
        "/v1/itsm/tickets", json={"name": "x", "project_vendor_id": "DEMO"}, headers=tenant.headers
    )
    assert no_type.status_code == 422
    assert await sandbox(jira_sandbox, "GET", "/calls") == {}


async def test_type_vendor_id_is_preferred_over_type(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    response = await create(client, tenant, type="Task", type_vendor_id=BUG)
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "Bug"
    by_name = await create(client, tenant, name="by name", type="Task", type_vendor_id=None)
    assert by_name.json()["type"] == "Task"


async def test_a_repeated_request_returns_the_same_ticket_and_a_reused_identifier_conflicts(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    first = await create(client, tenant)
    again = await create(client, tenant)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    marker = marker_for(uuid.UUID(tenant.connection_id), first.json()["identifier"])
    assert await sandbox(jira_sandbox, "GET", f"/issues/count?label={marker}") == {"count": 1}
    clash = await create(client, tenant, name="something else", identifier=first.json()["identifier"])
    assert clash.status_code == 409
    assert clash.json()["detail"][0]["ticket_id"] == first.json()["id"]


async def test_tickets_of_another_organization_are_not_found(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    acme = await make_oauth_tenant(client, jira_sandbox, runtime, "Acme")
    globex = await make_oauth_tenant(client, jira_sandbox, runtime, "Globex")
    ticket = (await create(client, acme)).json()
    for path in (
        f"/v1/itsm/tickets/{ticket['id']}",
        f"/v1/itsm/tickets/by-identifier/{ticket['identifier']}",
    ):
        response = await client.get(path, headers=globex.headers)
        assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"
    patch = await client.patch(f"/v1/itsm/tickets/{ticket['id']}", json={"name": "x"}, headers=globex.headers)
    assert patch.status_code == 404


async def test_patch_changes_only_the_given_fields(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    ticket = (await create(client, tenant, priority="LOW", description="keep me")).json()
    response = await client.patch(
        f"/v1/itsm/tickets/{ticket['id']}",
        json={"status": "CLOSED", "name": "Renamed"},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Renamed" and body["status"] == "CLOSED" and body["priority"] == "LOW"
    assert body["description"] == "keep me"
    assert body["etag"] != ticket["etag"] and response.headers["etag"] == body["etag"]
    issue = await sandbox(jira_sandbox, "GET", f"/issues/{ticket['vendor_attributes']['id']}")
    assert issue["fields"]["status"]["name"] == "Done" and issue["fields"]["summary"] == "Renamed"


class JiraAnswers(httpx.AsyncBaseTransport):
    """Keeps every answer the connector got from the sandboxes, on the way back."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.answers: list[httpx.Response] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.answers.append(response)
        return response


async def test_jiras_per_issue_write_limit_is_waited_out_as_its_retry_after_says(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    """Jira's limits are on throughout the suite; this test tightens the per-issue write window (what
    it tests) so that back-to-back edits of one issue meet Jira's 429 for certain."""
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    ticket = (await create(client, tenant)).json()
    limits = await sandbox(jira_sandbox, "GET", "/rate-limits")
    await sandbox(
        jira_sandbox, "PUT", "/rate-limits", json=limits | {"issue_writes_short": 2, "issue_window_short_seconds": 1}
    )
    seen = reroute(runtime, JiraAnswers)

    for n in range(4):
        edited = await client.patch(
            f"/v1/itsm/tickets/{ticket['id']}", json={"name": f"edit {n}"}, headers=tenant.headers
        )
        assert edited.status_code == 200, edited.text

    refused = [answer for answer in seen.answers if answer.status_code == 429]
    assert refused, [answer.status_code for answer in seen.answers]
    assert all(answer.headers["RateLimit-Reason"] == "jira-per-issue-on-write" for answer in refused)
    assert all(0 < float(answer.headers["Retry-After"]) <= 1 for answer in refused)
    issue = await sandbox(jira_sandbox, "GET", f"/issues/{ticket['vendor_attributes']['id']}")
    assert issue["fields"]["summary"] == "edit 3"


async def test_if_match_protects_an_edit_made_in_jira_meanwhile(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    ticket = (await create(client, tenant)).json()
    key = ticket["vendor_attributes"]["id"]
    current = await client.patch(
        f"/v1/itsm/tickets/{ticket['id']}",
        json={"name": "v2"},
        headers={**tenant.headers, "If-Match": ticket["etag"]},
    )
    assert current.status_code == 200, current.text
    etag = current.json()["etag"]
    await sandbox(jira_sandbox, "POST", f"/issues/{key}/ui-edit", json={"fields": {"summary": "edited by a person"}})
    stale = await client.patch(
        f"/v1/itsm/tickets/{ticket['id']}", json={"name": "v3"}, headers={**tenant.headers, "If-Match": etag}
    )
    assert stale.status_code == 412, stale.text
    assert stale.json()["code"] == "PRECONDITION_FAILED"
    issue = await sandbox(jira_sandbox, "GET", f"/issues/{key}")
    assert issue["fields"]["summary"] == "edited by a person"
    wrong = await client.patch(
        f"/v1/itsm/tickets/{ticket['id']}",
        json={"name": "v3"},
        headers={**tenant.headers, "If-Match": '"nope"'},
    )
    assert wrong.status_code == 412
    without = await client.patch(f"/v1/itsm/tickets/{ticket['id']}", json={"name": "v3"}, headers=tenant.headers)
    assert without.status_code == 200 and without.json()["name"] == "v3"


async def test_vendor_auth_failure_is_a_502_and_marks_the_connection(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(client)
    await revoke_credentials(runtime, tenant.connection_id, {"email": "admin@demo.example", "api_token": "wrong"})
    response = await create(client, tenant)
    assert response.status_code == 502, response.text
    assert "UNAUTHORIZED" in response.json()["message"]
    health = await client.get("/v1/connection", headers=tenant.headers)
    assert health.json()["name"] == "UNAUTHORIZED" and health.json()["resolution_owner"] == "CUSTOMER"
