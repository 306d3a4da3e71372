"""Bulk endpoints against the Jira sandbox: sync and async create, async update, vendor call counts."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import FastAPI

from tests.api.test_tickets import TASK, sandbox
from tests.builders import Tenant, make_oauth_tenant, make_tenant
from ticketbridge.jobs.worker import Worker
from ticketbridge.services.job_handlers import ticket_job_handlers
from ticketbridge.state import Runtime

LOOKUPS = {
    "getProject",
    "getCreateIssueMetaIssueTypes",
    "findAssignableUsers",
    "getIssue",
    "getPriorities",
    "getStatuses",
    "getAllProjects",
    "getIssueTypesForProject",
}


def tickets(count: int, **fields: Any) -> list[dict[str, Any]]:
    return [
        {"name": f"Finding {n}", "project_vendor_id": "DEMO", "type_vendor_id": TASK, **fields} for n in range(count)
    ]


async def run_jobs(runtime: Runtime) -> None:
    await Worker.for_runtime(runtime, handlers=ticket_job_handlers(runtime), concurrency=4).run_until_idle()


async def job(client: httpx.AsyncClient, tenant: Tenant, job_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/jobs/{job_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_sync_bulk_reports_each_ticket_in_request_order(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    body = {"tickets": [*tickets(2), {"name": "bad type", "project_vendor_id": "DEMO", "type_vendor_id": "99999"}]}
    response = await client.post("/v1/itsm/tickets/bulk/sync", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["total"], result["succeeded"], result["failed"]) == (3, 2, 1)
    assert [item["request_index"] for item in result["results"]] == [0, 1, 2]
    assert result["results"][2]["success"] is False and "issuetype" in result["results"][2]["error"]
    for item in result["results"][:2]:
        assert item["success"] and item["vendor_ticket_id"].startswith("DEMO-")
        stored = await client.get(f"/v1/itsm/tickets/{item['ticket_id']}", headers=tenant.headers)
        assert stored.status_code == 200  # written with vendor ids, readable at once


async def test_bulk_size_is_one_to_fifty(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(client)
    for path in ("/v1/itsm/tickets/bulk", "/v1/itsm/tickets/bulk/sync"):
        for count in (0, 51):
            response = await client.post(path, json={"tickets": tickets(count)}, headers=tenant.headers)
            assert response.status_code == 422, response.text
            assert response.json()["code"] == "VALIDATION_ERROR"
            assert response.json()["detail"][0]["loc"] == ["body", "tickets"]
    for count in (0, 51):
        ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(count)]
        response = await client.post(
            "/v1/itsm/tickets/bulk/update", json={"ticket_ids": ids, "updates": {}}, headers=tenant.headers
        )
        assert response.status_code == 422


async def test_async_bulk_create_of_fifty_costs_one_create_call_and_no_lookups(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    await sandbox(jira_sandbox, "DELETE", "/calls")
    accepted = await client.post("/v1/itsm/tickets/bulk", json={"tickets": tickets(50)}, headers=tenant.headers)
    assert accepted.status_code == 202, accepted.text
    queued = await job(client, tenant, accepted.json()["job_id"])
    assert queued["status"] == "QUEUED" and queued["job_type"] == "ITSM_TICKET_BULK_CREATE"
    await run_jobs(runtime)
    done = await job(client, tenant, accepted.json()["job_id"])
    assert done["status"] == "SUCCESS", done
    assert done["failure_reason"] is None
    assert done["progress"] == {"total": 50, "processed": 50, "succeeded": 50, "failed": 0}
    assert sorted(r["request_index"] for r in done["results"]) == list(range(50))
    assert all(r["success"] and r["ticket_id"] and r["vendor_ticket_id"] for r in done["results"])
    calls = await sandbox(jira_sandbox, "GET", "/calls")
    assert calls["createIssues"] == 1
    assert not LOOKUPS & set(calls), calls
    assert await sandbox(jira_sandbox, "GET", "/issues/count?project=DEMO") == {"count": 3 + 50}


async def test_async_bulk_with_a_rejected_item_fails_with_leens_breakdown(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    body = {
        "tickets": [
            *tickets(1),
            {"name": "bad", "project_vendor_id": "DEMO", "type_vendor_id": "99999", "identifier": "bad-one"},
        ]
    }
    accepted = await client.post("/v1/itsm/tickets/bulk", json=body, headers=tenant.headers)
    await run_jobs(runtime)
    done = await job(client, tenant, accepted.json()["job_id"])
    assert done["status"] == "FAILED"
    reason = json.loads(done["failure_reason"])
    assert (reason["total"], reason["succeeded"], reason["failed"]) == (2, 1, 1)
    failed = [r for r in reason["results"] if not r["success"]]
    assert failed[0]["request_index"] == 1 and failed[0]["identifier"] == "bad-one" and failed[0]["error"]
    created = next(r for r in done["results"] if r["success"])
    assert created["ticket_id"] and created["identifier"]


async def test_bulk_update_of_fifty_uses_one_call_of_each_bulk_api(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    created = await client.post("/v1/itsm/tickets/bulk/sync", json={"tickets": tickets(50)}, headers=tenant.headers)
    ticket_ids = [r["ticket_id"] for r in created.json()["results"]]
    await sandbox(jira_sandbox, "DELETE", "/calls")
    updates = {
        "status": "IN_PROGRESS",
        "name": "Triaged",
        "description": "Owned by *security*",
        "assigned_user_id": None,
    }
    accepted = await client.post(
        "/v1/itsm/tickets/bulk/update",
        json={"ticket_ids": ticket_ids, "updates": updates},
        headers=tenant.headers,
    )
    assert accepted.status_code == 202, accepted.text
    await run_jobs(runtime)
    done = await job(client, tenant, accepted.json()["job_id"])
    assert done["status"] == "SUCCESS", done
    assert {r["ticket_id"] for r in done["results"]} == set(ticket_ids)
    calls = await sandbox(jira_sandbox, "GET", "/calls")
    assert calls["getAvailableTransitions"] == 1
    assert calls["submitBulkTransition"] == 1
    assert calls["submitBulkEdit"] == 1
    assert not (LOOKUPS - {"getIssue"}) & set(calls), calls
    # The preflight reads one issue's editmeta (getIssue) per (project, type, status) for the status
    # change, and the createmeta of each (project, type) for clearing the assignee: all fifty are DEMO
    # Tasks in To Do, so one read in all (the createmeta is the bulk create's copy, still cached).
    assert calls.get("getIssue", 0) + calls.get("getCreateIssueMetaIssueTypeId", 0) <= 1, calls
    one = (await client.get(f"/v1/itsm/tickets/{ticket_ids[7]}", headers=tenant.headers)).json()
    # Descriptions come back from Jira's ADF in canonical Markdown: *x* and _x_ are the same emphasis.
    assert (one["status"], one["name"], one["description"]) == (
        "IN_PROGRESS",
        "Triaged",
        "Owned by _security_",
    )
    issue = await sandbox(jira_sandbox, "GET", f"/issues/{one['vendor_attributes']['id']}")
    assert issue["fields"]["status"]["name"] == "In Progress" and issue["fields"]["summary"] == "Triaged"


async def test_bulk_update_reaches_a_status_several_hops_away_and_reports_failures(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    created = await client.post("/v1/itsm/tickets/bulk/sync", json={"tickets": tickets(3)}, headers=tenant.headers)
    ticket_ids = [r["ticket_id"] for r in created.json()["results"]]
    accepted = await client.post(
        "/v1/itsm/tickets/bulk/update",
        json={"ticket_ids": ticket_ids, "updates": {"status": "CLOSED"}},
        headers=tenant.headers,
    )
    await run_jobs(runtime)
    done = await job(client, tenant, accepted.json()["job_id"])
    assert done["status"] == "SUCCESS", done
    for ticket_id in ticket_ids:
        ticket = (await client.get(f"/v1/itsm/tickets/{ticket_id}", headers=tenant.headers)).json()
        assert ticket["status"] == "CLOSED" and ticket["vendor_attributes"]["status"] == "Done"
    bad = await client.post(
        "/v1/itsm/tickets/bulk/update",
        json={"ticket_ids": ticket_ids, "updates": {"priority": "Nonexistent"}},
        headers=tenant.headers,
    )
    await run_jobs(runtime)
    failed = await job(client, tenant, bad.json()["job_id"])
    assert failed["status"] == "FAILED"
    reason = json.loads(failed["failure_reason"])
    assert reason["failed"] == 3 and {r["ticket_id"] for r in reason["results"]} == set(ticket_ids)


async def test_unknown_ticket_ids_are_rejected_before_enqueueing(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(client)
    response = await client.post(
        "/v1/itsm/tickets/bulk/update",
        json={"ticket_ids": ["00000000-0000-4000-8000-000000000001"], "updates": {"name": "x"}},
        headers=tenant.headers,
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "ticket_ids", 0]
    listed = await client.get("/v1/jobs", headers=tenant.headers)
    assert listed.json()["items"] == []


async def test_a_long_retry_after_reschedules_the_job_instead_of_holding_a_worker(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    accepted = await client.post("/v1/itsm/tickets/bulk", json={"tickets": tickets(3)}, headers=tenant.headers)
    await sandbox(jira_sandbox, "PUT", "/faults", json={"rate_limit_rate": 1.0, "retry_after_seconds": 120})
    await run_jobs(runtime)  # returns: the job waits for its Retry-After in the queue, not in a worker
    waiting = await job(client, tenant, accepted.json()["job_id"])
    assert waiting["status"] in ("QUEUED", "RUNNING") and waiting["finished_at"] is None
    assert (await sandbox(jira_sandbox, "GET", "/faults/injected"))["status_429"] == 1
    health = (await client.get("/v1/connection", headers=tenant.headers)).json()
    assert health["name"] == "RATE_LIMIT_EXCEEDED"
    assert await sandbox(jira_sandbox, "GET", "/issues/count?project=DEMO") == {"count": 3}
