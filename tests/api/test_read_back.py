"""Creates answered without a read-back (provisional), then read back off the request path.

Jira answers a create with ids only. The first create into a project and type reads the issue back
and learns what Jira gives new issues there; later creates answer from the request and those
defaults, and the background read-back (`services/read_backs.py`) stores the vendor's dates."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.builders import Tenant, make_oauth_tenant
from tests.services.support import run_sync
from tests.support.sandboxes import calls, catch_up_search, control
from tests.vendors import SandboxRouter
from ticketbridge.connectors import ConnectorFactory
from ticketbridge.state import Runtime

TASK = "10001"
SEARCH = "searchAndReconsileIssuesUsingJqlPost"


def ticket(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "project_vendor_id": "DEMO", "type_vendor_id": TASK, **fields}


async def create(client: httpx.AsyncClient, tenant: Tenant, name: str, **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/itsm/tickets", json=ticket(name, **fields), headers=tenant.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["etag"] == response.headers["etag"]
    return body


async def fresh_tenant(client: httpx.AsyncClient, jira_sandbox: FastAPI, runtime: Runtime) -> Tenant:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    first = await create(client, tenant, "learns the defaults")  # read back at once: nothing learned yet
    assert first["ticket_created_at"] is not None and first["vendor_attributes"]["status"] == "To Do"
    await runtime.read_backs.drain()
    await control(jira_sandbox, "DELETE", "/calls")
    return tenant


async def test_a_later_create_answers_before_its_read_back_with_the_learned_defaults(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await fresh_tenant(client, jira_sandbox, runtime)
    answer = await create(client, tenant, "SQL injection", description="The **login** form")
    # What only Jira sets is not in the answer: the create was not read back before answering.
    assert answer["ticket_created_at"] is None and answer["created_by_user_id"] is None
    # What every new DEMO Task gets, learned from the first create, is.
    assert answer["status"] == "TODO" and answer["vendor_attributes"]["status"] == "To Do"
    assert answer["vendor_attributes"]["data"]["statusCategory"] == "new"
    assert answer["priority"] == "MEDIUM" and answer["type"] == "Task"
    assert answer["description"] == "The **login** form"
    await runtime.read_backs.drain()
    assert (await calls(jira_sandbox)).get(SEARCH) == 1 and (await calls(jira_sandbox))["createIssues"] == 1
    stored = (await client.get(f"/v1/itsm/tickets/{answer['id']}", headers=tenant.headers)).json()
    assert stored["ticket_created_at"] is not None and stored["vendor_attributes"]["created_at"] is not None
    for field in ("status", "priority", "type", "name", "description", "url", "tags", "assigned_user_id"):
        assert stored[field] == answer[field], field
    # The version is the same before and after the read-back: the answer's ETag is good for If-Match.
    assert stored["etag"] == answer["etag"]
    patched = await client.patch(
        f"/v1/itsm/tickets/{answer['id']}",
        json={"name": "SQL injection in /login"},
        headers={**tenant.headers, "If-Match": answer["etag"]},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["etag"] != answer["etag"]


async def test_a_bulk_of_fifty_costs_one_create_and_one_read_back(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await fresh_tenant(client, jira_sandbox, runtime)
    body = {"tickets": [ticket(f"Finding {n}") for n in range(50)]}
    response = await client.post("/v1/itsm/tickets/bulk/sync", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.json()["succeeded"] == 50, response.text
    await runtime.read_backs.drain()
    counted = await calls(jira_sandbox)
    assert counted["createIssues"] == 1 and counted[SEARCH] == 1, counted
    listed = await client.get("/v1/itsm/tickets", params={"limit": 100}, headers=tenant.headers)
    assert len(listed.json()["items"]) == 51
    assert all(item["ticket_created_at"] is not None for item in listed.json()["items"])


async def test_a_create_that_sets_a_status_or_custom_fields_is_read_back_before_answering(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await fresh_tenant(client, jira_sandbox, runtime)
    moved = await create(client, tenant, "moved", status="IN_PROGRESS")
    assert moved["ticket_created_at"] is not None and moved["status"] == "IN_PROGRESS"


class SearchOutage(httpx.AsyncBaseTransport):
    """The vendor's network as the connectors see it, with Jira's search refusing while `down`."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down and request.url.path.endswith("/search/jql"):
            return httpx.Response(400, json={"errorMessages": ["The search is unavailable."], "errors": {}})
        return await self.inner.handle_async_request(request)


async def test_a_failed_read_back_leaves_the_answer_stored_and_the_next_sync_completes_it(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI, vendor_transport: SandboxRouter
) -> None:
    outage = SearchOutage(vendor_transport)
    runtime.connectors = ConnectorFactory(transport=outage)
    tenant = await fresh_tenant(client, jira_sandbox, runtime)
    outage.down = True
    answer = await create(client, tenant, "read back later")
    await runtime.read_backs.drain()
    assert (await calls(jira_sandbox))["createIssues"] == 1
    stored = (await client.get(f"/v1/itsm/tickets/{answer['id']}", headers=tenant.headers)).json()
    assert stored["ticket_created_at"] is None
    assert stored == {name: value for name, value in answer.items() if name in stored}
    outage.down = False
    await catch_up_search(jira_sandbox)
    await run_sync(runtime, tenant.connection_id)
    synced = (await client.get(f"/v1/itsm/tickets/{answer['id']}", headers=tenant.headers)).json()
    assert synced["ticket_created_at"] is not None and synced["name"] == "read back later"
    assert synced["etag"] == answer["etag"]
