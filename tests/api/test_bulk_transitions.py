"""Bulk status updates against the Jira sandbox when the tickets start in different statuses.

Jira's getAvailableTransitions groups the issues by workflow and lists only the transitions common to
every issue of a group, so issues of one workflow in different statuses usually share none: the
connector has to move them status by status, one getAvailableTransitions walk (50 workflows a page) and
one submitBulkTransition per round. A bulk update takes at most 50 tickets, so it spans at most 50
workflows: one page (more, and the connector's walk of the pages, in tests/connectors/jira/test_bulk_transitions.py)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.api.test_bulk import job, run_jobs, tickets
from tests.builders import Tenant, make_oauth_tenant
from tests.sandboxes.jira.test_jira_bulk_transition_pages import many_workflows
from tests.support.sandboxes import control as sandbox
from ticketbridge.state import Runtime

#: Where each created ticket starts: DEMO uses a four-status workflow (To Do → In Progress → In Review
#: → Done), OPS a three-status one (To Do → In Progress → Done).
STARTS = [
    ("DEMO", None),
    ("DEMO", None),
    ("DEMO", "IN_PROGRESS"),
    ("DEMO", "IN_PROGRESS"),
    ("DEMO", "IN_REVIEW"),
    ("DEMO", "IN_REVIEW"),
    ("OPS", None),
    ("OPS", "IN_PROGRESS"),
]


async def create_spread(client: httpx.AsyncClient, tenant: Tenant) -> list[dict[str, Any]]:
    """The tickets of STARTS, each moved to its starting status through the API."""
    body = {
        "tickets": [
            {**ticket, "project_vendor_id": project}
            for ticket, (project, _) in zip(tickets(len(STARTS)), STARTS, strict=True)
        ]
    }
    created = await client.post("/v1/itsm/tickets/bulk/sync", json=body, headers=tenant.headers)
    assert created.status_code == 200, created.text
    results: list[dict[str, Any]] = created.json()["results"]
    for result, (_, status) in zip(results, STARTS, strict=True):
        assert result["success"], result
        if status:
            moved = await client.patch(
                f"/v1/itsm/tickets/{result['ticket_id']}", json={"status": status}, headers=tenant.headers
            )
            assert moved.status_code == 200, moved.text
    return results


async def bulk_close(client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, ticket_ids: list[str]) -> None:
    accepted = await client.post(
        "/v1/itsm/tickets/bulk/update",
        json={"ticket_ids": ticket_ids, "updates": {"status": "CLOSED"}},
        headers=tenant.headers,
    )
    assert accepted.status_code == 202, accepted.text
    await run_jobs(runtime)
    done = await job(client, tenant, accepted.json()["job_id"])
    assert done["status"] == "SUCCESS", done.get("failure_reason")


async def assert_all_done(
    client: httpx.AsyncClient, jira_sandbox: FastAPI, tenant: Tenant, ticket_ids: list[str]
) -> None:
    for ticket_id in ticket_ids:
        ticket = (await client.get(f"/v1/itsm/tickets/{ticket_id}", headers=tenant.headers)).json()
        assert ticket["status"] == "CLOSED", ticket
        issue = await sandbox(jira_sandbox, "GET", f"/issues/{ticket['vendor_attributes']['id']}")
        assert issue["fields"]["status"]["name"] == "Done", issue["key"]


async def test_tickets_in_different_statuses_reach_a_status_several_hops_away(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    ticket_ids = [r["ticket_id"] for r in await create_spread(client, tenant)]
    await sandbox(jira_sandbox, "DELETE", "/calls")

    await bulk_close(client, runtime, tenant, ticket_ids)

    await assert_all_done(client, jira_sandbox, tenant, ticket_ids)
    calls = await sandbox(jira_sandbox, "GET", "/calls")
    # Status by status, the furthest behind first, so each round's movers join the next one's issues:
    # To Do → In Progress (both workflows); In Progress → In Review (DEMO) and → Done (OPS); In Review → Done.
    assert calls["getAvailableTransitions"] == 3, calls
    assert calls["submitBulkTransition"] == 3, calls
    assert "doTransition" not in calls, calls


async def test_tickets_moved_in_jira_behind_our_back_still_reach_the_target(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    results = await create_spread(client, tenant)
    ticket_ids = [r["ticket_id"] for r in results]
    # Someone moves a To Do ticket to In Review in Jira: our copy still says To Do.
    stale = (await client.get(f"/v1/itsm/tickets/{ticket_ids[0]}", headers=tenant.headers)).json()
    await sandbox(
        jira_sandbox, "POST", f"/issues/{stale['vendor_attributes']['id']}/ui-edit", json={"status": "In Review"}
    )
    await sandbox(jira_sandbox, "DELETE", "/calls")

    await bulk_close(client, runtime, tenant, ticket_ids)

    await assert_all_done(client, jira_sandbox, tenant, ticket_ids)
    calls = await sandbox(jira_sandbox, "GET", "/calls")
    # The To Do round moves the OPS ticket but finds no transition common to the stale DEMO ticket and
    # the other one, so the connector reads the pending tickets' statuses again (one search; the other
    # is the read-back of the results) and goes on, a round each for To Do, In Progress and In Review.
    assert calls["getAvailableTransitions"] == 4, calls
    assert calls["submitBulkTransition"] == 4, calls
    assert calls["searchAndReconsileIssuesUsingJqlPost"] == 2, calls


async def test_a_bulk_update_of_fifty_tickets_in_fifty_workflows_asks_one_page_a_round(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    await sandbox(jira_sandbox, "POST", "/seed", json=many_workflows(50))
    body = {"tickets": [{**ticket, "project_vendor_id": f"WF{n}"} for n, ticket in enumerate(tickets(50), start=1)]}
    created = await client.post("/v1/itsm/tickets/bulk/sync", json=body, headers=tenant.headers)
    assert created.status_code == 200, created.text
    ticket_ids = [result["ticket_id"] for result in created.json()["results"]]
    await sandbox(jira_sandbox, "DELETE", "/calls")

    await bulk_close(client, runtime, tenant, ticket_ids)

    await assert_all_done(client, jira_sandbox, tenant, ticket_ids)
    calls = await sandbox(jira_sandbox, "GET", "/calls")
    # Two rounds (To Do → In Progress → Done), each a single page: 50 workflows fill it, no cursor follows.
    assert calls["getAvailableTransitions"] == 2, calls
    assert calls["submitBulkTransition"] == 2, calls
