"""Field rules of the create request: references, vendor names, generated identifiers."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.api.test_tickets import BUG, create, sandbox
from tests.builders import make_oauth_tenant, make_tenant
from ticketbridge.state import Runtime

SUBTASK = "10005"


async def test_parent_by_our_uuid_or_by_vendor_key_but_not_both(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    parent = (await create(client, tenant, name="Parent")).json()
    by_uuid = await create(client, tenant, name="Child A", type_vendor_id=SUBTASK, parent_ticket_id=parent["id"])
    assert by_uuid.status_code == 200, by_uuid.text
    assert by_uuid.json()["parent_ticket_id"] == parent["id"]
    child = await sandbox(jira_sandbox, "GET", f"/issues/{by_uuid.json()['vendor_attributes']['id']}")
    assert child["fields"]["parent"]["key"] == parent["vendor_attributes"]["id"]
    by_key = await create(
        client,
        tenant,
        name="Child B",
        type_vendor_id=SUBTASK,
        parent_ticket_vendor_id=parent["vendor_attributes"]["id"],
    )
    assert by_key.status_code == 200 and by_key.json()["parent_ticket_id"] == parent["id"]
    assert by_key.json()["parent_ticket_vendor_id"] == parent["vendor_attributes"]["id"]
    both = await create(
        client,
        tenant,
        name="Child C",
        type_vendor_id=SUBTASK,
        parent_ticket_id=parent["id"],
        parent_ticket_vendor_id=parent["vendor_attributes"]["id"],
    )
    assert both.status_code == 422 and both.json()["detail"][0]["loc"] == ["body", "parent_ticket_id"]
    unknown = await create(client, tenant, name="Child D", parent_ticket_id="00000000-0000-4000-8000-000000000009")
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "parent_ticket_id"]


async def test_jira_names_are_accepted_for_status_and_priority(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    response = await create(client, tenant, status="In Review", priority="Lowest")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["priority"]) == ("IN_REVIEW", "INFORMATIONAL")
    assert (body["vendor_attributes"]["status"], body["vendor_attributes"]["priority"]) == (
        "In Review",
        "Lowest",
    )


async def test_a_normalized_value_without_a_mapping_is_rejected(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(client, status_mapping={"To Do": "TODO"})
    response = await create(client, tenant, status="RESOLVED")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "status"]


async def test_generated_identifiers_are_project_type_hash_and_stable(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    first = (await create(client, tenant, name="Same content")).json()
    assert first["identifier"].startswith(f"DEMO-{BUG}-") and len(first["identifier"].rsplit("-", 1)[1]) == 12
    other = (await create(client, tenant, name="Other content")).json()
    assert other["identifier"] != first["identifier"]
    again = (await create(client, tenant, name="Same content")).json()
    assert again["id"] == first["id"]


async def test_the_description_round_trips_through_adf(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    description = (
        "## Steps\n\n1. Log in as `admin`\n2. Open [the report](https://example.com/r?id=1)\n\n"
        "```python\nprint('payload')\n```\n\n> Seen in production.\n\n**Severity:** _high_"
    )
    created = (await create(client, tenant, description=description)).json()
    assert created["description"] == description
    fetched = (await client.get(f"/v1/itsm/tickets/{created['id']}", headers=tenant.headers)).json()
    assert fetched["description"] == description
