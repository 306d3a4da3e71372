"""Passthrough: teams as projects, ticket types as issue types, users, and ticket search."""

from __future__ import annotations

import pytest

from ticketbridge.connectors.errors import VendorRejected
from ticketbridge.connectors.rezolve.connector import RezolveConnector
from ticketbridge.sandboxes.rezolve.demo import AGENT_ALEX_ID, AGENT_PRIYA_ID, REQUESTER_SAM_ID


async def test_teams_are_the_projects(connector: RezolveConnector) -> None:
    page = await connector.list_projects(limit=1, offset=1, with_issue_types=False)

    assert page.total == 2
    assert [(p.vendor_id, p.internal_id, p.name) for p in page.items] == [("hr", "team-002", "HR")]
    assert [[p.vendor_id for p in batch] async for batch in connector.iter_projects()] == [["it", "hr"]]


async def test_ticket_types_are_the_issue_types(connector: RezolveConnector) -> None:
    types = await connector.list_issue_types("it")

    assert [(t.vendor_id, t.name) for t in types] == [("16910", "Service Request"), ("16911", "Incident")]


async def test_assignable_users_are_the_teams_agents(connector: RezolveConnector) -> None:
    everyone = await connector.list_assignable_users("it", None, 10)
    hr = await connector.list_assignable_users("hr", None, 10)
    found = await connector.list_assignable_users("it", "PATEL", 10)

    assert {u.vendor_id for u in everyone} == {AGENT_ALEX_ID, AGENT_PRIYA_ID}
    assert [u.vendor_id for u in hr] == [AGENT_PRIYA_ID]
    assert [(u.name, u.email, u.active) for u in found] == [("Priya Patel", "priya@demo.example", True)]


async def test_every_user_is_iterated(connector: RezolveConnector) -> None:
    pages = [page async for page in connector.iter_users()]

    assert {u.vendor_id for u in pages[0]} == {AGENT_ALEX_ID, AGENT_PRIYA_ID, REQUESTER_SAM_ID}


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ('status="In Progress"', ["REQ-0002"]),
        ("priority=High", ["INC-0001", "REQ-0002"]),
        ("type=Incident", ["INC-0001", "INC-0002"]),
        ("project=hr", ["INC-0002"]),
        ("payroll", ["INC-0002"]),
        ("tags=vpn", ["REQ-0001"]),
        ("key=REQ-0001,INC-0002", ["INC-0002", "REQ-0001"]),
        ("externalReference=HR-42", ["INC-0002"]),
        ("name~battery priority!=low", ["REQ-0002"]),
        ("created>=2000-01-01 type=16910", ["REQ-0001", "REQ-0002"]),
        ("updated<2000-01-01", []),
    ],
)
async def test_search_maps_the_query_to_rezolve_filters(
    connector: RezolveConnector, query: str, keys: list[str]
) -> None:
    page = await connector.search_tickets(query, cursor=None, limit=50)

    assert sorted(t.key for t in page.items) == keys
    assert page.next_cursor is None


async def test_search_pages_with_a_cursor(connector: RezolveConnector) -> None:
    first = await connector.search_tickets("", cursor=None, limit=3)
    assert first.next_cursor is not None
    second = await connector.search_tickets("", cursor=first.next_cursor, limit=3)

    assert len(first.items) == 3 and len(second.items) == 1 and second.next_cursor is None
    assert {t.key for t in [*first.items, *second.items]} == {"REQ-0001", "REQ-0002", "INC-0001", "INC-0002"}


@pytest.mark.parametrize("query", ["bogus=1", 'name~"unclosed', "updated>yesterday"])
async def test_a_bad_query_is_rejected(connector: RezolveConnector, query: str) -> None:
    with pytest.raises(VendorRejected):
        await connector.search_tickets(query, cursor=None, limit=10)
