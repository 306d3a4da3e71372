"""Ticket types (fields and workflow), tenant metadata (teams, statuses, priorities), users."""

from __future__ import annotations

import httpx
import pytest

from ticketbridge.sandboxes.rezolve import INCIDENT_TYPE_ID, REQUEST_FIELDS, SERVICE_REQUEST_TYPE_ID
from ticketbridge.sandboxes.rezolve.demo import AGENT_ALEX_ID, AGENT_PRIYA_ID, REQUESTER_SAM_ID

from .support import QUERY

pytestmark = pytest.mark.anyio


async def test_ticket_types_describe_fields_and_workflow(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    response = await client.get("/api/v2/ticketing/ticket-type", params=QUERY, headers=writer)

    data = response.json()["data"]
    assert data["@odata.count"] == 2
    request_type = next(row for row in data["value"] if row["id"] == SERVICE_REQUEST_TYPE_ID)
    assert request_type["properties"]["prefix"] == "REQ"
    fields = {field["name"]: field for field in request_type["fields"]}
    assert fields["description"]["id"] == REQUEST_FIELDS.description
    assert {name: field["type"] for name, field in fields.items()} == {
        "summary": "text",
        "description": "richtext",
        "status": "select",
        "priority": "select",
        "assignee": "user",
        "dueDate": "date",
        "parent": "text",
        "tags": "array",
        "externalReference": "text",
    }
    assert fields["summary"]["required"] is True
    assert [option["value"] for option in fields["priority"]["options"]] == [
        "low",
        "medium",
        "high",
        "critical",
    ]
    workflow = request_type["workflow"]
    assert [status["key"] for status in workflow["statuses"] if status["isInitial"]] == ["submitted"]
    assert {
        "from": ["submitted"],
        "to": "in_progress",
        "allowedRoles": ["ticket_agent", "tenant_admin"],
        "requiredFields": [],
    } in workflow["transitions"]


async def test_ticket_types_page_and_select_odata_style(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    response = await client.get(
        "/api/v2/ticketing/ticket-type",
        params=QUERY | {"$top": "1", "$skip": "1", "$select": "name,properties"},
        headers=writer,
    )

    data = response.json()["data"]
    assert data["@odata.count"] == 2
    assert data["value"] == [
        {
            "id": INCIDENT_TYPE_ID,
            "name": "Incident",
            "properties": {"prefix": "INC", "digits": 4, "startAt": 1},
        }
    ]


async def test_tenant_meta_lists_teams_statuses_and_priorities(
    client: httpx.AsyncClient, writer: dict[str, str]
) -> None:
    response = await client.get("/api/v2/ticketing/tenant/meta", params=QUERY, headers=writer)

    data = response.json()["data"]
    assert data["teams"] == [
        {"id": "team-001", "name": "IT", "key": "it"},
        {"id": "team-002", "name": "HR", "key": "hr"},
    ]
    assert [status["key"] for status in data["statuses"]] == [
        "submitted",
        "in_progress",
        "resolved",
        "cancelled",
        "new",
        "closed",
    ]
    assert [priority["key"] for priority in data["priorities"]] == ["low", "medium", "high", "critical"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"type": "user"}, {AGENT_ALEX_ID, AGENT_PRIYA_ID, REQUESTER_SAM_ID}),
        ({"type": "agent"}, {AGENT_ALEX_ID, AGENT_PRIYA_ID}),
        ({"type": "agent", "team": "hr"}, {AGENT_PRIYA_ID}),
    ],
)
async def test_user_list_filters_assignable_agents_and_teams(
    client: httpx.AsyncClient, writer: dict[str, str], params: dict[str, str], expected: set[str]
) -> None:
    response = await client.get("/api/v2/ticketing/user/list", params={"module": "ticketing", **params}, headers=writer)

    data = response.json()["data"]
    assert {user["id"] for user in data["users"]} == expected
    assert data["totalCount"] == len(expected)
