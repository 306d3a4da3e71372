"""Reading back what was just written: Jira's search is eventually consistent, and only the issues
named in `reconcileIssues` (50 at most) are read strongly, so a read-back searches 50 ids at a time."""

from __future__ import annotations

from fastapi import FastAPI

from ticketbridge.connectors.jira.connector import JiraConnector
from ticketbridge.domain.tickets import CreateItem


def items(count: int) -> list[CreateItem]:
    fields = {
        "project_vendor_id": "DEMO", "type_vendor_id": None, "type_name": "Task", "description": None,
        "priority_name": None, "assignee_vendor_id": None, "parent_vendor_id": None, "target_status": None,
    }  # fmt: skip
    return [CreateItem(key=str(n), marker=f"tb-read-{n}", name=f"Finding {n}", **fields) for n in range(count)]


async def test_issues_created_a_moment_ago_all_read_back(connector: JiraConnector, jira_sandbox: FastAPI) -> None:
    # The sandbox lags its search index 2 s behind writes, as Jira does; nothing here waits.
    outcomes = await connector.create_tickets(items(75))
    ids = [outcome.ticket.vendor_id for outcome in outcomes if outcome.ticket is not None]
    assert len(ids) == 75

    read = await connector.get_tickets(ids)

    assert sorted(read) == sorted(ids)
    assert all(ticket.status_name == "To Do" for ticket in read.values())
