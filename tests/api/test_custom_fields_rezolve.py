"""Custom fields and preflight on a REZOLVE connection: the ticket type's fields (with `required` and
options, configured in the sandbox as in Rezolve's type designer) are the write metadata; the same
checks refuse a bad write before any vendor call, and what they miss Rezolve refuses per field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.test_bulk import job, run_jobs
from tests.api.test_rezolve import REQUEST_TYPE, request_ticket, rezolve_tenant
from tests.support.custom_fields import FieldsTenant, problems
from tests.support.sandboxes import control as sandbox
from ticketbridge.sandboxes.rezolve.demo import AGENT_ALEX_ID
from ticketbridge.state import Runtime

IMPACT = "Customers on **EU** cannot log in.\n\n- web\n- mobile"
SEVERITIES = [{"value": "s1", "label": "S1"}, {"value": "s2", "label": "S2"}, {"value": "s3", "label": "S3"}]


async def configure(rezolve_sandbox: FastAPI, *fields: dict[str, Any]) -> dict[str, str]:
    """The Service Request type's fields, by name -> field UUID."""
    answer = await sandbox(rezolve_sandbox, "PUT", f"/ticket-types/{REQUEST_TYPE}/fields", json={"fields": fields})
    ids: dict[str, str] = answer["fields"]
    return ids


#: The Service Request type's fields of most tests: two required, one of each other kind.
FIELDS = (
    {"name": "severity", "label": "Severity", "type": "select", "required": True, "options": SEVERITIES},
    {"name": "impact", "label": "Impact", "type": "richtext", "required": True},
    {"name": "site", "label": "Site", "type": "text"},
    {"name": "owner", "label": "Owner", "type": "user"},
    {"name": "noticed", "label": "Noticed on", "type": "date"},
    {"name": "areas", "label": "Areas", "type": "array", "options": [{"value": "web", "label": "Web"}]},
)


async def set_up(
    client: httpx.AsyncClient, rezolve_sandbox: FastAPI, *fields: dict[str, Any]
) -> tuple[dict[str, str], FieldsTenant]:
    """The Service Request type with `fields`, by name -> field UUID, then a tenant connected to Rezolve."""
    ids = await configure(rezolve_sandbox, *fields)
    return ids, FieldsTenant.of(await rezolve_tenant(client), client, rezolve_sandbox, ("createTicket",))


async def test_create_metadata_is_the_ticket_types_fields(client: httpx.AsyncClient, rezolve_sandbox: FastAPI) -> None:
    ids, tenant = await set_up(client, rezolve_sandbox, *FIELDS)
    response = await client.get(
        "/v1/itsm/tickets/meta/create",
        params={"project_vendor_id": "it", "type_vendor_id": REQUEST_TYPE},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    unified = {field["name"]: field["required"] for field in response.json()["fields"]}
    assert unified == {
        "name": True,
        "description": False,
        "status": False,  # required, but Rezolve fills in its default
        "priority": False,
        "assigned_user_id": False,
        "parent_ticket_id": False,
    }
    custom = {field["id"]: field for field in response.json()["custom_fields"]}
    assert set(custom) == set(ids.values())  # the marker field is ours, not offered
    severity = custom[ids["severity"]]
    assert (severity["name"], severity["required"], severity["accepts"]) == ("Severity", True, "option")
    assert severity["allowed_values"] == [
        {"id": "s1", "value": "S1"},
        {"id": "s2", "value": "S2"},
        {"id": "s3", "value": "S3"},
    ]
    assert (custom[ids["impact"]]["accepts"], custom[ids["impact"]]["required"]) == ("markdown", True)
    assert {custom[ids[n]]["accepts"] for n in ("site", "owner", "noticed", "areas")} == {
        "string",
        "user",
        "date",
        "options",
    }
    unknown = await client.get(
        "/v1/itsm/tickets/meta/create",
        params={"project_vendor_id": "nope", "type": "Service Request"},
        headers=tenant.headers,
    )
    assert unknown.status_code == 404, unknown.text


async def test_create_without_required_fields_is_refused_before_rezolve_is_written(
    client: httpx.AsyncClient, rezolve_sandbox: FastAPI
) -> None:
    ids, tenant = await set_up(client, rezolve_sandbox, *FIELDS)
    response = await tenant.post(request_ticket("VPN down"))
    assert response.status_code == 422, response.text
    assert problems(response) == {ids["severity"]: "required_missing", ids["impact"]: "required_missing"}
    assert await tenant.vendor_creates() == 0


async def test_custom_fields_reach_rezolve_and_read_back(client: httpx.AsyncClient, rezolve_sandbox: FastAPI) -> None:
    ids, tenant = await set_up(client, rezolve_sandbox, *FIELDS)
    values = {"Severity": "S2", ids["impact"]: IMPACT, "site": "Berlin", "Owner": AGENT_ALEX_ID, "Areas": ["Web"]}
    response = await tenant.post(request_ticket("VPN down", custom_fields=values))
    assert response.status_code == 200, response.text
    object_id = response.json()["vendor_attributes"]["id"]
    tickets = (await sandbox(rezolve_sandbox, "GET", "/tickets/count"))["count"]
    assert tickets >= 1
    custom = response.json()["vendor_attributes"]["data"]["customFields"]
    assert custom[ids["severity"]] == "s2"
    assert custom[ids["impact"]] == IMPACT  # HTML on Rezolve, Markdown again here
    assert (custom[ids["site"]], custom[ids["owner"]], custom[ids["areas"]]) == ("Berlin", AGENT_ALEX_ID, ["web"])
    stored = await client.get(f"/v1/itsm/tickets/{response.json()['id']}", headers=tenant.headers)
    assert stored.json()["vendor_attributes"]["data"]["customFields"] == custom
    assert object_id.startswith("REQ-")


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"Severity": "S9"}, "invalid_option"),
        ({"Site": 42}, "wrong_type"),
        ({"Noticed on": "yesterday"}, "wrong_type"),
        ({"Nope": "x"}, "not_settable"),
    ],
)
async def test_each_bad_value_is_refused_before_any_vendor_write(
    client: httpx.AsyncClient, rezolve_sandbox: FastAPI, values: dict[str, Any], code: str
) -> None:
    _, tenant = await set_up(client, rezolve_sandbox, *FIELDS)
    response = await tenant.post(request_ticket("x", custom_fields={"Severity": "S1", "Impact": "x", **values}))
    assert response.status_code == 422, response.text
    assert list(problems(response).values()) == [code], response.json()
    assert await tenant.vendor_creates() == 0


async def test_an_ambiguous_label_names_the_candidates(client: httpx.AsyncClient, rezolve_sandbox: FastAPI) -> None:
    ids, tenant = await set_up(
        client,
        rezolve_sandbox,
        *FIELDS,
        {"name": "team_primary", "label": "Team", "type": "text"},
        {"name": "team_backup", "label": "Team", "type": "text"},
    )
    base = {"Severity": "S1", "Impact": "x"}
    response = await tenant.post(request_ticket("x", custom_fields={**base, "Team": "Blue"}))
    (problem,) = response.json()["detail"]
    assert problem["type"] == "ambiguous_name"
    assert sorted(problem["candidates"]) == sorted([ids["team_primary"], ids["team_backup"]])
    assert await tenant.vendor_creates() == 0


async def test_a_required_priority_is_checked_before_the_vendor(
    client: httpx.AsyncClient, rezolve_sandbox: FastAPI
) -> None:
    priorities = [{"value": "low", "label": "Low"}, {"value": "high", "label": "High"}]
    _, tenant = await set_up(
        client,
        rezolve_sandbox,
        {"name": "priority", "label": "Priority", "type": "select", "required": True, "options": priorities},
    )
    response = await tenant.post(request_ticket("No priority"))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "priority"]
    assert problems(response) == {"priority": "required_missing"}
    assert await tenant.vendor_creates() == 0
    assert (await tenant.post(request_ticket("With one", priority="HIGH"))).status_code == 200


async def test_patch_writes_custom_fields_and_refuses_clearing_a_required_one(
    client: httpx.AsyncClient, rezolve_sandbox: FastAPI
) -> None:
    ids, tenant = await set_up(client, rezolve_sandbox, *FIELDS)
    created = (await tenant.post(request_ticket("x", custom_fields={"Severity": "S1", "Impact": "x"}))).json()
    meta = await client.get(f"/v1/itsm/tickets/{created['id']}/meta/update", headers=tenant.headers)
    assert meta.status_code == 200 and ids["severity"] in {f["id"] for f in meta.json()["custom_fields"]}
    patched = await client.patch(
        f"/v1/itsm/tickets/{created['id']}",
        json={"custom_fields": {"Severity": "s3", "Site": "Paris"}},
        headers=tenant.headers,
    )
    assert patched.status_code == 200, patched.text
    custom = patched.json()["vendor_attributes"]["data"]["customFields"]
    assert (custom[ids["severity"]], custom[ids["site"]]) == ("s3", "Paris")
    updates = await tenant.vendor_calls("updateTicket")
    cleared = await client.patch(
        f"/v1/itsm/tickets/{created['id']}", json={"custom_fields": {"Impact": None}}, headers=tenant.headers
    )
    assert problems(cleared) == {ids["impact"]: "required_missing"}
    assert await tenant.vendor_calls("updateTicket") == updates


async def test_bulk_create_of_50_with_5_invalid(client: httpx.AsyncClient, rezolve_sandbox: FastAPI) -> None:
    ids, tenant = await set_up(client, rezolve_sandbox, *FIELDS)
    invalid = {0, 9, 25, 26, 48}
    tickets = [
        request_ticket(f"T{i}", custom_fields={"Severity": "S9" if i in invalid else "S1", "Impact": f"n{i}"})
        for i in range(50)
    ]
    response = await client.post("/v1/itsm/tickets/bulk/sync", json={"tickets": tickets}, headers=tenant.headers)
    body = response.json()
    assert (body["succeeded"], body["failed"]) == (45, 5), response.text
    failed = [r for r in body["results"] if not r["success"]]
    assert [r["request_index"] for r in failed] == sorted(invalid)
    assert all(r["details"][0]["loc"][-1] == ids["severity"] for r in failed)
    assert all(r["details"][0]["type"] == "invalid_option" for r in failed)
    assert await tenant.vendor_creates() == 45  # Rezolve has no bulk create: one call per valid ticket


async def test_async_bulk_create_fails_invalid_items_with_details(
    client: httpx.AsyncClient, runtime: Runtime, rezolve_sandbox: FastAPI
) -> None:
    ids, tenant = await set_up(client, rezolve_sandbox, *FIELDS)
    tickets = [request_ticket("Good", custom_fields={"Severity": "S1", "Impact": "x"}), request_ticket("Bad")]
    accepted = await client.post("/v1/itsm/tickets/bulk", json={"tickets": tickets}, headers=tenant.headers)
    await run_jobs(runtime)
    results = {r["request_index"]: r for r in (await job(client, tenant, accepted.json()["job_id"]))["results"]}
    assert results[0]["success"] is True
    assert {d["loc"][-1]: d["type"] for d in results[1]["details"]} == {
        ids["severity"]: "required_missing",
        ids["impact"]: "required_missing",
    }


async def test_a_field_made_required_meanwhile_is_refused_by_rezolve_and_refreshes_the_cache(
    client: httpx.AsyncClient, rezolve_sandbox: FastAPI
) -> None:
    _, tenant = await set_up(client, rezolve_sandbox, *FIELDS)
    params = {"project_vendor_id": "it", "type_vendor_id": REQUEST_TYPE}

    async def required_now() -> set[str]:
        meta = await client.get("/v1/itsm/tickets/meta/create", params=params, headers=tenant.headers)
        return {field["name"] for field in meta.json()["custom_fields"] if field["required"]}

    assert await required_now() == {"Severity", "Impact"}
    ids = await configure(rezolve_sandbox, {"name": "site", "label": "Site", "type": "text", "required": True})
    assert await required_now() == {"Severity", "Impact"}  # cached within the TTL
    refused = await tenant.post(request_ticket("x", custom_fields={"Severity": "S1", "Impact": "x"}))
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"] == [
        {"loc": ["body", "custom_fields", ids["site"]], "msg": "Field is required", "type": "required_missing"}
    ]
    assert await required_now() == {"Severity", "Impact", "Site"}


async def test_bulk_update_writes_custom_fields_on_rezolve(
    client: httpx.AsyncClient, runtime: Runtime, rezolve_sandbox: FastAPI
) -> None:
    ids, tenant = await set_up(client, rezolve_sandbox, *FIELDS)
    base = {"Severity": "S1", "Impact": "x"}
    ticket_ids = [(await tenant.post(request_ticket(f"T{i}", custom_fields=base))).json()["id"] for i in range(3)]
    body = {"ticket_ids": ticket_ids, "updates": {"custom_fields": {"Severity": "S2", "Site": "Oslo"}}}
    accepted = await client.post("/v1/itsm/tickets/bulk/update", json=body, headers=tenant.headers)
    await run_jobs(runtime)
    assert (await job(client, tenant, accepted.json()["job_id"]))["status"] == "SUCCESS"
    for ticket_id in ticket_ids:
        ticket = (await client.get(f"/v1/itsm/tickets/{ticket_id}", headers=tenant.headers)).json()
        custom = ticket["vendor_attributes"]["data"]["customFields"]
        assert (custom[ids["severity"]], custom[ids["site"]]) == ("s2", "Oslo")
    updates = await tenant.vendor_calls("updateTicket")
    bad = {"ticket_ids": ticket_ids, "updates": {"custom_fields": {"Severity": "S7"}}}
    accepted = await client.post("/v1/itsm/tickets/bulk/update", json=bad, headers=tenant.headers)
    await run_jobs(runtime)
    done = await job(client, tenant, accepted.json()["job_id"])
    assert {result["details"][0]["type"] for result in done["results"]} == {"invalid_option"}
    assert await tenant.vendor_calls("updateTicket") == updates


async def test_a_status_change_must_give_the_fields_its_transition_requires(
    client: httpx.AsyncClient, rezolve_sandbox: FastAPI
) -> None:
    """Rezolve's `workflow.transitions[].requiredFields`: the update metadata lists them per reachable
    status, and a PATCH moving there without them is refused before Rezolve is written."""
    on_start = {"requiredOnTransitionTo": ["in_progress"]}
    ids, tenant = await set_up(
        client,
        rezolve_sandbox,
        *FIELDS,
        {"name": "triage", "label": "Triage note", "type": "text", **on_start},
        {"name": "assignee", "label": "Assigned To", "type": "user", **on_start},
    )
    values = {"Severity": "S1", "Impact": "x"}
    unassigned = (await tenant.post(request_ticket("a", custom_fields=values))).json()
    assigned = (
        await tenant.post(request_ticket("b", custom_fields=values, assigned_user_vendor_id=AGENT_ALEX_ID))
    ).json()

    async def transitions(ticket_id: str) -> dict[str, dict[str, bool]]:
        meta = await client.get(f"/v1/itsm/tickets/{ticket_id}/meta/update", headers=tenant.headers)
        assert meta.status_code == 200, meta.text
        return {
            t["to_status_vendor_id"]: {f["name"]: f["required"] for f in [*t["fields"], *t["custom_fields"]]}
            for t in meta.json()["transitions"]
        }

    assert await transitions(unassigned["id"]) == {
        "in_progress": {"assigned_user_id": True, "Triage note": True},
        "cancelled": {},
    }
    assert (await transitions(assigned["id"]))["in_progress"] == {"assigned_user_id": False, "Triage note": True}
    updates = await tenant.vendor_calls("updateTicket")
    start = {"status": "IN_PROGRESS"}
    refused = await client.patch(f"/v1/itsm/tickets/{unassigned['id']}", json=start, headers=tenant.headers)
    assert refused.status_code == 422, refused.text
    assert problems(refused) == {"assigned_user_id": "required_missing", ids["triage"]: "required_missing"}
    assert ["body", "custom_fields", ids["triage"]] in [problem["loc"] for problem in refused.json()["detail"]]
    refused = await client.patch(f"/v1/itsm/tickets/{assigned['id']}", json=start, headers=tenant.headers)
    assert problems(refused) == {ids["triage"]: "required_missing"}
    assert await tenant.vendor_calls("updateTicket") == updates
    moved = await client.patch(
        f"/v1/itsm/tickets/{assigned['id']}",
        json={**start, "custom_fields": {"Triage note": "seen"}},
        headers=tenant.headers,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "IN_PROGRESS"


async def test_bulk_update_clearing_a_required_unified_field_is_refused_before_rezolve(
    client: httpx.AsyncClient, runtime: Runtime, rezolve_sandbox: FastAPI
) -> None:
    """Without custom fields the bulk preflight reads the metadata of each (project, type) once, not
    each ticket's edit metadata (which would cost a ticket read each)."""
    assignee = {"name": "assignee", "label": "Assigned To", "type": "user", "required": True}
    _, tenant = await set_up(client, rezolve_sandbox, assignee)
    ticket_ids = [
        (await tenant.post(request_ticket(f"T{i}", assigned_user_vendor_id=AGENT_ALEX_ID))).json()["id"]
        for i in range(3)
    ]
    before = await sandbox(rezolve_sandbox, "GET", "/calls")
    body = {"ticket_ids": ticket_ids, "updates": {"name": "Renamed", "assigned_user_id": None}}
    accepted = await client.post("/v1/itsm/tickets/bulk/update", json=body, headers=tenant.headers)
    assert accepted.status_code == 202, accepted.text
    await run_jobs(runtime)
    done = await job(client, tenant, accepted.json()["job_id"])
    assert done["status"] == "FAILED"
    assert {result["code"] for result in done["results"]} == {"INVALID_FIELDS"}
    details = [result["details"] for result in done["results"]]
    assert (
        details
        == [[{"loc": ["body", "updates", "assigned_user_id"], "msg": details[0][0]["msg"], "type": "required_missing"}]]
        * 3
    )
    after = await sandbox(rezolve_sandbox, "GET", "/calls")
    assert after.get("updateTicket", 0) == before.get("updateTicket", 0)
    assert after.get("getTicket", 0) == before.get("getTicket", 0)  # no read per ticket
    assert after.get("listTicketTypes", 0) - before.get("listTicketTypes", 0) <= 1  # one (project, type)
