"""Tickets written through ticketbridge, read back by the independent PyPI `jira` client.

Here the Jira sandbox runs standalone on a real socket (the `jira` client speaks `requests`), and
ticketbridge reaches it over real HTTP too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from jira import JIRA

from tests.builders import make_tenant
from tests.sandboxes.jira.test_jira_pypi_client import serve_in_thread
from ticketbridge.connectors import ConnectorFactory
from ticketbridge.sandboxes.jira import DEMO_API_TOKEN, DEMO_EMAIL, JiraSandboxConfig, create_app
from ticketbridge.state import Runtime


@pytest.fixture(scope="module")
def jira_url() -> Iterator[str]:
    # The sandbox's defaults (2 s search lag, rate limits on), as the suite's other tests run against.
    yield from serve_in_thread(lambda url: create_app(JiraSandboxConfig(base_url=url, in_process=False)))


async def catch_up_search(jira_url: str) -> None:
    """`tests.support.sandboxes.catch_up_search` over the socket: the index has every write so far."""
    async with httpx.AsyncClient(base_url=f"{jira_url}/__sandbox__") as http:
        lag = (await http.get("/consistency")).raise_for_status().json()
        (await http.put("/consistency", json={"search_lag_ms": 0})).raise_for_status()
        (await http.put("/consistency", json=lag)).raise_for_status()


async def test_created_and_updated_tickets_read_back_through_the_jira_client(
    client: httpx.AsyncClient, runtime: Runtime, jira_url: str
) -> None:
    runtime.connectors = ConnectorFactory(transport=None)  # real HTTP to the standalone sandbox
    async with httpx.AsyncClient() as http:  # one sandbox serves the module: start from the demo site
        (await http.post(f"{jira_url}/__sandbox__/reset")).raise_for_status()
    tenant = await make_tenant(client, base_url=jira_url)
    created = await client.post(
        "/v1/itsm/tickets",
        json={
            "name": "XSS in search",
            "project_vendor_id": "DEMO",
            "type": "Bug",
            "priority": "CRITICAL",
            "description": "# Impact\n\nSession theft via `q` parameter.\n\n1. open /search\n2. inject",
            "assigned_user_vendor_id": "5b109f2e9729b51b54dc274d",
            "status": "IN_PROGRESS",
        },
        headers=tenant.headers,
    )
    assert created.status_code == 200, created.text
    key = created.json()["vendor_attributes"]["id"]
    patched = await client.patch(
        f"/v1/itsm/tickets/{created.json()['id']}", json={"name": "XSS in /search"}, headers=tenant.headers
    )
    assert patched.status_code == 200, patched.text

    jira = JIRA(server=jira_url, basic_auth=(DEMO_EMAIL, DEMO_API_TOKEN), options={"rest_api_version": "3"})
    issue = await asyncio.to_thread(jira.issue, key)
    assert issue.fields.summary == "XSS in /search"
    assert issue.fields.issuetype.name == "Bug"
    assert issue.fields.priority.name == "Highest"
    assert issue.fields.status.name == "In Progress"
    assert issue.fields.assignee.accountId == "5b109f2e9729b51b54dc274d"
    description = issue.raw["fields"]["description"]
    assert description["type"] == "doc"
    assert [node["type"] for node in description["content"]] == ["heading", "paragraph", "orderedList"]
    await catch_up_search(jira_url)  # JQL finds a write once Jira's index has it, as waiting would
    found = await asyncio.to_thread(jira.search_issues, 'summary ~ "search" AND priority = Highest')
    assert [found_issue.key for found_issue in found] == [key]
