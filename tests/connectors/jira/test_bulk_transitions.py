"""The Jira connector's bulk transition over issues of more than 50 workflows: getAvailableTransitions
answers 50 workflows a page, and the connector follows the cursor to the last page every round.

The API caps a bulk update at 50 tickets, so at most 50 workflows reach the connector through it
(tests/api/test_bulk_transitions.py); more come only from the connector's own callers, as here."""

from __future__ import annotations

from fastapi import FastAPI

from tests.sandboxes.jira.test_jira_bulk_transition_pages import many_workflows
from tests.support.sandboxes import control
from ticketbridge.connectors.jira.connector import JiraConnector
from ticketbridge.domain.tickets import TicketChanges, TicketRef


async def refs_of(app: FastAPI, keys: list[str]) -> list[TicketRef]:
    issues = [await control(app, "GET", f"/issues/{key}") for key in keys]
    return [TicketRef(vendor_id=i["id"], key=i["key"], status_name=i["fields"]["status"]["name"]) for i in issues]


async def test_issues_of_61_workflows_all_reach_done(connector: JiraConnector, jira_sandbox: FastAPI) -> None:
    await control(jira_sandbox, "POST", "/seed", json=many_workflows(60))
    # DEMO's workflow (To Do → In Progress → In Review → Done) opens the first page; WF60 ends the second.
    refs = await refs_of(jira_sandbox, ["DEMO-1", "DEMO-2"] + [f"WF{n}-1" for n in range(1, 61)])
    await control(jira_sandbox, "DELETE", "/calls")

    outcomes = await connector.update_tickets(refs, TicketChanges(target_status="Done"))

    assert [o.error for o in outcomes] == [None] * len(refs)
    for ref in refs:
        issue = await control(jira_sandbox, "GET", f"/issues/{ref.key}")
        assert issue["fields"]["status"]["name"] == "Done", ref.key
    calls = await control(jira_sandbox, "GET", "/calls")
    # Rounds To Do → In Progress (61 workflows: 2 pages), In Progress → Done or In Review (2 pages),
    # In Review → Done (DEMO alone: 1 page).
    assert calls["getAvailableTransitions"] == 5, calls
    assert calls["submitBulkTransition"] == 3, calls
