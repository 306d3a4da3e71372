"""A bulk update changing status, preflighted against the transition into the target status: the
tickets it would refuse fail with the details a PATCH answers, and the vendor never sees them.

Rezolve's sandbox enforces `requiredFields` on workflow transitions; the Jira sandbox has no
transition screens, so on Jira the preflight refuses nothing and costs one editmeta per group."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.api.test_bulk import job, run_jobs, tickets
from tests.api.test_custom_fields_rezolve import configure
from tests.api.test_rezolve import request_ticket, rezolve_tenant
from tests.builders import Tenant, make_oauth_tenant
from tests.support.sandboxes import control as sandbox
from ticketbridge.sandboxes.jira.demo import BUG
from ticketbridge.sandboxes.rezolve.demo import AGENT_ALEX_ID
from ticketbridge.state import Runtime

ON_START = {"requiredOnTransitionTo": ["in_progress"]}
START = {"status": "IN_PROGRESS"}


async def transition_fields(rezolve_sandbox: FastAPI) -> dict[str, str]:
    """Moving a Service Request to In Progress takes an assignee and a triage note (neither is
    required on create)."""
    return await configure(
        rezolve_sandbox,
        {"name": "triage", "label": "Triage note", "type": "text", **ON_START},
        {"name": "assignee", "label": "Assigned To", "type": "user", **ON_START},
    )


async def make(client: httpx.AsyncClient, tenant: Tenant, name: str, *, assigned: bool, triaged: bool) -> str:
    fields: dict[str, Any] = {"custom_fields": {"Triage note": "seen"}} if triaged else {}
    if assigned:
        fields["assigned_user_vendor_id"] = AGENT_ALEX_ID
    created = await client.post("/v1/itsm/tickets", json=request_ticket(name, **fields), headers=tenant.headers)
    assert created.status_code == 200, created.text
    ticket_id: str = created.json()["id"]
    return ticket_id


async def bulk_update(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, ticket_ids: list[str], updates: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Runs the job to its end; answers each ticket's result."""
    accepted = await client.post(
        "/v1/itsm/tickets/bulk/update", json={"ticket_ids": ticket_ids, "updates": updates}, headers=tenant.headers
    )
    assert accepted.status_code == 202, accepted.text
    await run_jobs(runtime)
    done = await job(client, tenant, accepted.json()["job_id"])
    return {result["ticket_id"]: result for result in done["results"]}


async def patch_details(client: httpx.AsyncClient, tenant: Tenant, ticket_id: str, updates: dict[str, Any]) -> Any:
    """What a PATCH with the same updates answers for the ticket, `loc` as a bulk item has it."""
    refused = await client.patch(f"/v1/itsm/tickets/{ticket_id}", json=updates, headers=tenant.headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "INVALID_FIELDS"
    return [{**d, "loc": ["body", "updates", *d["loc"][1:]]} for d in refused.json()["detail"]]


async def calls(app: FastAPI) -> dict[str, int]:
    counted: dict[str, int] = await sandbox(app, "GET", "/calls")
    return counted


async def status_of(client: httpx.AsyncClient, tenant: Tenant, ticket_id: str) -> str:
    ticket = (await client.get(f"/v1/itsm/tickets/{ticket_id}", headers=tenant.headers)).json()
    status: str = ticket["status"]
    return status


async def test_a_bulk_status_change_fails_only_the_tickets_lacking_a_field_the_transition_requires(
    client: httpx.AsyncClient, runtime: Runtime, rezolve_sandbox: FastAPI
) -> None:
    ids = await transition_fields(rezolve_sandbox)
    tenant = await rezolve_tenant(client)
    good = [await make(client, tenant, f"good {n}", assigned=True, triaged=True) for n in range(3)]
    unassigned = [await make(client, tenant, f"unassigned {n}", assigned=False, triaged=True) for n in range(2)]
    untriaged = await make(client, tenant, "untriaged", assigned=True, triaged=False)
    ticket_ids = [good[0], unassigned[0], good[1], untriaged, good[2], unassigned[1]]
    before = await calls(rezolve_sandbox)
    results = await bulk_update(client, runtime, tenant, ticket_ids, START)
    after = await calls(rezolve_sandbox)
    assert {t for t, r in results.items() if r["success"]} == set(good)
    assert after.get("updateTicket", 0) - before.get("updateTicket", 0) == len(good)  # the others never sent
    for ticket_id in [*unassigned, untriaged]:
        assert results[ticket_id]["code"] == "INVALID_FIELDS"
        assert results[ticket_id]["details"] == await patch_details(client, tenant, ticket_id, START)
        assert await status_of(client, tenant, ticket_id) == "TODO"
    assert [d["loc"] for d in results[unassigned[0]]["details"]] == [["body", "updates", "assigned_user_id"]]
    assert [d["loc"] for d in results[untriaged]["details"]] == [["body", "updates", "custom_fields", ids["triage"]]]
    assert {d["type"] for r in results.values() if not r["success"] for d in r["details"]} == {"required_missing"}
    for ticket_id in good:
        assert await status_of(client, tenant, ticket_id) == "IN_PROGRESS"
    # Given the field it lacked, the untriaged one moves.
    moved = await bulk_update(client, runtime, tenant, [untriaged], {**START, "custom_fields": {"Triage note": "ok"}})
    assert moved[untriaged]["success"], moved


async def test_only_tickets_whose_stored_copy_lacks_a_field_cost_a_read(
    client: httpx.AsyncClient, runtime: Runtime, rezolve_sandbox: FastAPI
) -> None:
    """One ticket's edit metadata speaks for its (project, type, status), and a ticket whose stored
    copy holds every field the transition takes is not read itself. Clearing a field the transition
    takes refuses every ticket whatever it holds: four refusals cost one read and no write."""
    await transition_fields(rezolve_sandbox)
    tenant = await rezolve_tenant(client)
    ticket_ids = [await make(client, tenant, f"T{n}", assigned=True, triaged=True) for n in range(4)]
    before = await calls(rezolve_sandbox)
    cleared = {**START, "assigned_user_id": None}
    results = await bulk_update(client, runtime, tenant, ticket_ids, cleared)
    after = await calls(rezolve_sandbox)
    assert not any(result["success"] for result in results.values())
    expected = await patch_details(client, tenant, ticket_ids[3], cleared)
    assert [d["type"] for d in expected] == ["required_missing"]
    assert all(result["details"] == expected for result in results.values())
    assert after.get("updateTicket", 0) == before.get("updateTicket", 0)
    assert after.get("getTicket", 0) - before.get("getTicket", 0) == 1  # the first ticket's, no other


async def test_a_ticket_gone_from_the_vendor_does_not_stop_the_preflight(
    client: httpx.AsyncClient, runtime: Runtime, rezolve_sandbox: FastAPI
) -> None:
    """The first ticket the vendor still knows speaks for the group; the gone one fails as the
    vendor answers its update."""
    await transition_fields(rezolve_sandbox)
    tenant = await rezolve_tenant(client)
    gone = await make(client, tenant, "gone", assigned=True, triaged=True)
    unassigned = await make(client, tenant, "unassigned", assigned=False, triaged=True)
    good = await make(client, tenant, "good", assigned=True, triaged=True)
    vendor_id = (await client.get(f"/v1/itsm/tickets/{gone}", headers=tenant.headers)).json()["vendor_attributes"]["id"]
    await sandbox(rezolve_sandbox, "DELETE", f"/tickets/{vendor_id}")
    before = await calls(rezolve_sandbox)
    results = await bulk_update(client, runtime, tenant, [gone, unassigned, good], START)
    after = await calls(rezolve_sandbox)
    assert (results[gone]["code"], results[unassigned]["code"]) == ("VENDOR_REJECTED", "INVALID_FIELDS")
    assert results[good]["success"], results
    assert after.get("updateTicket", 0) - before.get("updateTicket", 0) == 1


async def test_on_jira_the_preflight_reads_one_editmeta_per_type_and_status_and_refuses_nothing(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    body = {"tickets": [*tickets(3), *tickets(2, type_vendor_id=BUG)]}
    created = await client.post("/v1/itsm/tickets/bulk/sync", json=body, headers=tenant.headers)
    ticket_ids = [r["ticket_id"] for r in created.json()["results"]]
    started = await bulk_update(client, runtime, tenant, ticket_ids[:2], START)
    assert all(result["success"] for result in started.values()), started
    await sandbox(jira_sandbox, "DELETE", "/calls")
    # Ticket 1 first: its editmeta is not cached (the first job read ticket 0's).
    results = await bulk_update(client, runtime, tenant, [ticket_ids[1], ticket_ids[0], *ticket_ids[2:]], START)
    assert all(result["success"] for result in results.values()), [r["error"] for r in results.values()]
    counted = await calls(jira_sandbox)
    # Tasks and Bugs in To Do: one issue's editmeta each; the Tasks already In Progress need none.
    assert counted.get("getIssue", 0) == 2, counted
    assert (counted["submitBulkTransition"], counted["getAvailableTransitions"]) == (1, 1), counted
    for ticket_id in ticket_ids:
        assert await status_of(client, tenant, ticket_id) == "IN_PROGRESS"
