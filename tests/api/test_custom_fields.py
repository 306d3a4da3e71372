"""Custom fields and preflight on a JIRA connection: write metadata, custom_fields on every write,
and the checks that refuse a bad write before any vendor call (the sandbox's call counts prove it).

The DEMO project's Task type gets a required select (Severity) and a required rich-text field
(Impact); the sandbox validates them with Jira's own messages, so what the preflight misses (a
configuration changed since it was cached) the sandbox refuses, field by field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from functools import partial
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from jira import JIRA

from tests.api.test_bulk import job, run_jobs
from tests.builders import make_tenant
from tests.sandboxes.jira.test_jira_pypi_client import serve_in_thread
from tests.support.custom_fields import FieldsTenant, problems
from tests.support.sandboxes import control as sandbox
from ticketbridge.connectors import ConnectorFactory
from ticketbridge.sandboxes.jira import DEMO_API_TOKEN, DEMO_EMAIL, JiraSandboxConfig, create_app
from ticketbridge.sandboxes.jira.state import CustomField
from ticketbridge.state import Runtime

TASK = "10001"
BUG = "10002"
REQUIRED_ON_TASK = [{"project": "DEMO", "issuetype": "Task"}]
OTHER_TEAM = "customfield_19999"
IMPACT = "## Impact\n\nCustomers on **EU** cannot log in.\n\n- web\n- mobile"


async def seed_fields(jira_sandbox: FastAPI, *extra: dict[str, Any]) -> dict[str, str]:
    fields = [
        {"name": "Severity", "type": "select", "options": ["S1", "S2", "S3"], "required": REQUIRED_ON_TASK},
        {"name": "Impact", "type": "textarea", "required": REQUIRED_ON_TASK},
        {"name": "Story points", "type": "number"},
        {"name": "Due on", "type": "date"},
        {"name": "Found at", "type": "datetime"},
        {"name": "Owner", "type": "user"},
        {"name": "Areas", "type": "multiselect", "options": ["web", "mobile", "api"]},
        *extra,
    ]
    answer = await sandbox(jira_sandbox, "POST", "/seed", json={"custom_fields": fields})
    ids: dict[str, str] = answer["custom_fields"]
    return ids


def task(name: str = "Login broken", **fields: Any) -> dict[str, Any]:
    return {"name": name, "project_vendor_id": "DEMO", "type_vendor_id": TASK, **fields}


def required_values(ids: dict[str, str]) -> dict[str, Any]:
    return {ids["Severity"]: "S1", "Impact": IMPACT}


async def set_up(
    client: httpx.AsyncClient, jira_sandbox: FastAPI, *extra: dict[str, Any]
) -> tuple[dict[str, str], FieldsTenant]:
    """The fields of `seed_fields` (and `extra`) on the site, by name -> id, then a tenant connected to it."""
    ids = await seed_fields(jira_sandbox, *extra)
    return ids, FieldsTenant.of(await make_tenant(client), client, jira_sandbox, ("createIssues", "createIssue"))


async def test_create_metadata_names_required_fields_schemas_and_options(
    client: httpx.AsyncClient, jira_sandbox: FastAPI
) -> None:
    ids, tenant = await set_up(client, jira_sandbox)
    response = await client.get(
        "/v1/itsm/tickets/meta/create",
        params={"project_vendor_id": "DEMO", "type_vendor_id": TASK},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    meta = response.json()
    unified = {field["name"]: field["required"] for field in meta["fields"]}
    assert unified["name"] is True and unified["priority"] is False and "status" in unified
    custom = {field["id"]: field for field in meta["custom_fields"]}
    severity, impact = custom[ids["Severity"]], custom[ids["Impact"]]
    assert (severity["name"], severity["required"], severity["accepts"]) == ("Severity", True, "option")
    assert severity["schema"]["type"] == "option" and severity["schema"]["custom"].endswith(":select")
    assert [value["value"] for value in severity["allowed_values"]] == ["S1", "S2", "S3"]
    assert (impact["required"], impact["accepts"], impact["allowed_values"]) == (True, "markdown", None)
    accepts = {custom[ids[name]]["accepts"] for name in ("Story points", "Due on", "Found at", "Owner", "Areas")}
    assert accepts == {"number", "date", "datetime", "user", "options"}
    on_bug = await client.get(
        "/v1/itsm/tickets/meta/create", params={"project_vendor_id": "DEMO", "type": "Bug"}, headers=tenant.headers
    )
    assert {field["id"]: field["required"] for field in on_bug.json()["custom_fields"]}[ids["Severity"]] is False


async def test_create_metadata_refuses_bad_queries(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(client)
    neither = await client.get("/v1/itsm/tickets/meta/create", headers=tenant.headers)
    assert neither.status_code == 422
    assert {tuple(problem["loc"]) for problem in neither.json()["detail"]} == {
        ("query", "project_id"),
        ("query", "type"),
    }
    unknown = await client.get(
        "/v1/itsm/tickets/meta/create",
        params={"project_vendor_id": "DEMO", "type": "Epic saga"},
        headers=tenant.headers,
    )
    assert unknown.status_code == 404, unknown.text


async def test_create_without_required_fields_is_refused_before_jira_is_written(
    client: httpx.AsyncClient, jira_sandbox: FastAPI
) -> None:
    ids, tenant = await set_up(client, jira_sandbox)
    response = await tenant.post(task())
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "INVALID_FIELDS"
    assert problems(response) == {ids["Severity"]: "required_missing", ids["Impact"]: "required_missing"}
    assert {tuple(p["loc"]) for p in response.json()["detail"]} == {
        ("body", "custom_fields", ids["Severity"]),
        ("body", "custom_fields", ids["Impact"]),
    }
    assert await tenant.vendor_creates() == 0


async def test_custom_fields_reach_jira_and_read_back_converted(
    client: httpx.AsyncClient, jira_sandbox: FastAPI
) -> None:
    ids, tenant = await set_up(client, jira_sandbox)
    values = {
        **required_values(ids),
        "story points": 5,
        ids["Due on"]: "2026-12-24",
        "Found at": "2026-12-01T09:30:00+01:00",
        "Owner": "5b109f2e9729b51b54dc274d",
        "Areas": ["web", "API"],
    }
    response = await tenant.post(task(custom_fields=values))
    assert response.status_code == 200, response.text
    key = response.json()["vendor_attributes"]["id"]
    issue = (await sandbox(jira_sandbox, "GET", f"/issues/{key}"))["fields"]
    assert issue[ids["Severity"]]["value"] == "S1"
    assert issue[ids["Impact"]]["type"] == "doc"  # Markdown went to Jira as ADF
    assert issue[ids["Story points"]] == 5
    assert issue[ids["Due on"]] == "2026-12-24"
    assert issue[ids["Owner"]]["accountId"] == "5b109f2e9729b51b54dc274d"
    assert [option["value"] for option in issue[ids["Areas"]]] == ["web", "api"]
    stored = await client.get(f"/v1/itsm/tickets/{response.json()['id']}", headers=tenant.headers)
    custom = stored.json()["vendor_attributes"]["data"]["customFields"]
    assert custom[ids["Impact"]] == IMPACT
    assert custom[ids["Severity"]]["value"] == "S1"
    assert custom[ids["Owner"]] == "5b109f2e9729b51b54dc274d"
    assert custom == response.json()["vendor_attributes"]["data"]["customFields"]


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"Severity": "S9"}, "invalid_option"),
        ({"Story points": "five"}, "wrong_type"),
        ({"Due on": "24/12/2026"}, "wrong_type"),
        ({"Found at": "2026-12-01T09:30:00"}, "wrong_type"),  # no offset
        ({"No such field": "x"}, "not_settable"),
        ({"Sprint": 1}, "not_settable"),  # not on the create screen (no sprints on this site)
    ],
)
async def test_each_bad_value_is_refused_before_any_vendor_write(
    client: httpx.AsyncClient, jira_sandbox: FastAPI, values: dict[str, Any], code: str
) -> None:
    _, tenant = await set_up(client, jira_sandbox)
    body = task(custom_fields={"Severity": "S2", "Impact": "x", **values})
    response = await tenant.post(body)
    assert response.status_code == 422, response.text
    assert list(problems(response).values()) == [code], response.json()
    if code == "invalid_option":
        assert [a["value"] for a in response.json()["detail"][0]["allowed"]] == ["S1", "S2", "S3"]
        assert "S1, S2, S3" in response.json()["detail"][0]["msg"]
    assert await tenant.vendor_creates() == 0


async def test_an_ambiguous_name_names_the_candidates(client: httpx.AsyncClient, jira_sandbox: FastAPI) -> None:
    """Jira lets two custom fields share a name; the sandbox's seed does not, so the second is added
    to the site directly."""
    ids, tenant = await set_up(client, jira_sandbox, {"name": "Team", "type": "text"})
    jira_sandbox.state.runtime.site.custom_fields[OTHER_TEAM] = CustomField(OTHER_TEAM, "team", "text")
    ids["team"] = OTHER_TEAM
    response = await tenant.post(task(custom_fields={**required_values(ids), "TEAM": "Blue"}))
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["type"] == "ambiguous_name" and problem["loc"] == ["body", "custom_fields", "TEAM"]
    assert sorted(problem["candidates"]) == sorted([ids["Team"], ids["team"]])
    assert await tenant.vendor_creates() == 0
    by_id = await tenant.post(task(custom_fields={**required_values(ids), ids["team"]: "Blue"}))
    assert by_id.status_code == 200, by_id.text


async def test_update_metadata_and_custom_fields_on_patch(client: httpx.AsyncClient, jira_sandbox: FastAPI) -> None:
    ids, tenant = await set_up(client, jira_sandbox)
    created = (await tenant.post(task(custom_fields=required_values(ids)))).json()
    meta = await client.get(f"/v1/itsm/tickets/{created['id']}/meta/update", headers=tenant.headers)
    assert meta.status_code == 200, meta.text
    editable = {field["id"]: field for field in meta.json()["custom_fields"]}
    assert editable[ids["Severity"]]["required"] is True
    patched = await client.patch(
        f"/v1/itsm/tickets/{created['id']}",
        json={"custom_fields": {"Severity": "S3", "Story points": 8}},
        headers=tenant.headers,
    )
    assert patched.status_code == 200, patched.text
    custom = patched.json()["vendor_attributes"]["data"]["customFields"]
    assert custom[ids["Severity"]]["value"] == "S3" and custom[ids["Story points"]] == 8
    edits_before = await tenant.vendor_calls("editIssue")
    cleared = await client.patch(
        f"/v1/itsm/tickets/{created['id']}", json={"custom_fields": {"Severity": None}}, headers=tenant.headers
    )
    assert cleared.status_code == 422, cleared.text
    assert problems(cleared) == {ids["Severity"]: "required_missing"}
    bad = await client.patch(
        f"/v1/itsm/tickets/{created['id']}", json={"custom_fields": {"Areas": ["desktop"]}}, headers=tenant.headers
    )
    assert problems(bad) == {ids["Areas"]: "invalid_option"}
    assert await tenant.vendor_calls("editIssue") == edits_before


async def test_bulk_create_of_50_with_5_invalid_creates_45_in_one_call(
    client: httpx.AsyncClient, jira_sandbox: FastAPI
) -> None:
    ids, tenant = await set_up(client, jira_sandbox)
    invalid = {3, 11, 20, 37, 49}
    tickets = [
        task(f"Ticket {i}", custom_fields={ids["Severity"]: "S9" if i in invalid else "S2", "Impact": f"item {i}"})
        for i in range(50)
    ]
    response = await client.post("/v1/itsm/tickets/bulk/sync", json={"tickets": tickets}, headers=tenant.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"], body["succeeded"], body["failed"]) == (50, 45, 5)
    failed = [result for result in body["results"] if not result["success"]]
    assert [result["request_index"] for result in failed] == sorted(invalid)
    for result in failed:
        assert result["code"] == "INVALID_FIELDS"
        (detail,) = result["details"]
        assert detail["type"] == "invalid_option"
        assert detail["loc"] == ["body", "tickets", result["request_index"], "custom_fields", ids["Severity"]]
    assert await tenant.vendor_calls("createIssues") == 1


async def test_async_bulk_create_fails_invalid_items_with_details(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    ids, tenant = await set_up(client, jira_sandbox)
    tickets = [task("Good", custom_fields=required_values(ids)), task("Missing both")]
    accepted = await client.post("/v1/itsm/tickets/bulk", json={"tickets": tickets}, headers=tenant.headers)
    assert accepted.status_code == 202, accepted.text
    await run_jobs(runtime)
    done = await job(client, tenant, accepted.json()["job_id"])
    results = {result["request_index"]: result for result in done["results"]}
    assert results[0]["success"] is True
    assert results[1]["code"] == "INVALID_FIELDS"
    assert {d["type"] for d in results[1]["details"]} == {"required_missing"}
    assert {d["loc"][-1] for d in results[1]["details"]} == {ids["Severity"], ids["Impact"]}


async def test_metadata_changed_in_jira_is_refused_by_jira_and_refreshes_the_cache(
    client: httpx.AsyncClient, jira_sandbox: FastAPI
) -> None:
    """Within the TTL the metadata comes from the cache; a field made required in Jira meanwhile is
    refused by Jira itself, per field and coded alike, and that refusal refreshes the cache."""
    ids, tenant = await set_up(client, jira_sandbox)
    params = {"project_vendor_id": "DEMO", "type_vendor_id": TASK}

    async def required_now() -> set[str]:
        meta = await client.get("/v1/itsm/tickets/meta/create", params=params, headers=tenant.headers)
        return {field["id"] for field in meta.json()["custom_fields"] if field["required"]}

    assert await required_now() == {ids["Severity"], ids["Impact"]}
    await sandbox(
        jira_sandbox,
        "POST",
        "/seed",
        json={"custom_fields": [{"name": "Story points", "type": "number", "required": REQUIRED_ON_TASK}]},
    )
    assert await required_now() == {ids["Severity"], ids["Impact"]}  # cached: the TTL has not run out
    refused = await tenant.post(task(custom_fields=required_values(ids)))
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "VENDOR_REJECTED"
    (detail,) = refused.json()["detail"]
    assert detail["loc"] == ["body", "custom_fields", ids["Story points"]]
    assert (detail["type"], detail["msg"]) == ("required_missing", "Story points is required.")
    assert await required_now() == {ids["Severity"], ids["Impact"], ids["Story points"]}
    creates_before = await tenant.vendor_creates()
    again = await tenant.post(task(custom_fields=required_values(ids)))
    assert problems(again) == {ids["Story points"]: "required_missing"}  # now by the preflight
    assert await tenant.vendor_creates() == creates_before


@pytest.fixture(scope="module")
def jira_url() -> Iterator[str]:
    config = partial(JiraSandboxConfig, in_process=False, search_lag_ms=0)
    yield from serve_in_thread(lambda url: create_app(config(base_url=url)))


async def test_custom_fields_read_back_through_the_pypi_jira_client(
    client: httpx.AsyncClient, runtime: Runtime, jira_url: str
) -> None:
    runtime.connectors = ConnectorFactory(transport=None)  # real HTTP to the standalone sandbox
    fields = [
        {"name": "Severity", "type": "select", "options": ["S1", "S2"], "required": REQUIRED_ON_TASK},
        {"name": "Impact", "type": "textarea", "required": REQUIRED_ON_TASK},
    ]
    async with httpx.AsyncClient() as http:
        (await http.post(f"{jira_url}/__sandbox__/reset")).raise_for_status()
        seeded = await http.post(f"{jira_url}/__sandbox__/seed", json={"custom_fields": fields})
        ids: dict[str, str] = seeded.json()["custom_fields"]
    tenant = await make_tenant(client, base_url=jira_url)
    body = task(custom_fields={"Severity": "S2", "Impact": IMPACT})
    created = await client.post("/v1/itsm/tickets", json=body, headers=tenant.headers)
    assert created.status_code == 200, created.text
    jira = JIRA(server=jira_url, basic_auth=(DEMO_EMAIL, DEMO_API_TOKEN), options={"rest_api_version": "3"})
    issue = await asyncio.to_thread(jira.issue, created.json()["vendor_attributes"]["id"])
    assert getattr(issue.fields, ids["Severity"]).value == "S2"
    impact = issue.raw["fields"][ids["Impact"]]
    assert impact["type"] == "doc"
    assert [node["type"] for node in impact["content"]] == ["heading", "paragraph", "bulletList"]


async def test_the_metadata_endpoints_are_documented_with_their_schemas(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    create_meta = document["paths"]["/v1/itsm/tickets/meta/create"]["get"]
    update_meta = document["paths"]["/v1/itsm/tickets/{ticket_id}/meta/update"]["get"]
    for operation in (create_meta, update_meta):
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": "#/components/schemas/ITSMTicketWriteMetaModel"}
        assert {"401", "404", "422", "429", "502", "503"} <= set(operation["responses"])
    assert {p["name"] for p in create_meta["parameters"]} >= {
        "project_id",
        "project_vendor_id",
        "type",
        "type_vendor_id",
    }
    schemas = document["components"]["schemas"]
    custom = schemas["ITSMCustomFieldMetaModel"]["properties"]
    assert {"id", "name", "required", "schema", "allowed_values", "accepts"} <= set(custom)
    transitions = schemas["ITSMTicketWriteMetaModel"]["properties"]["transitions"]
    assert transitions["items"] == {"$ref": "#/components/schemas/ITSMTransitionMetaModel"}
    transition = schemas["ITSMTransitionMetaModel"]["properties"]
    assert {"to_status", "to_status_vendor_id", "fields", "custom_fields"} <= set(transition)
    assert transition["custom_fields"]["items"] == {"$ref": "#/components/schemas/ITSMCustomFieldMetaModel"}
    assert schemas["Accepts"]["enum"] == [
        "string",
        "markdown",
        "number",
        "date",
        "datetime",
        "option",
        "options",
        "user",
        "users",
        "labels",
    ]
    create_body = schemas["ITSMTicketCreateRequestModel"]["properties"]
    assert "custom_fields" in create_body and "custom_fields" in schemas["ITSMTicketUpdateRequestModel"]["properties"]


async def test_bulk_update_writes_custom_fields_and_fails_a_refused_clear_per_ticket(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    ids, tenant = await set_up(client, jira_sandbox)
    created = [(await tenant.post(task(f"T{i}", custom_fields=required_values(ids)))).json() for i in range(3)]
    ticket_ids = [ticket["id"] for ticket in created]
    body = {"ticket_ids": ticket_ids, "updates": {"custom_fields": {"Severity": "S3", "Story points": 3}}}
    accepted = await client.post("/v1/itsm/tickets/bulk/update", json=body, headers=tenant.headers)
    assert accepted.status_code == 202, accepted.text
    await run_jobs(runtime)
    assert (await job(client, tenant, accepted.json()["job_id"]))["status"] == "SUCCESS"
    for ticket_id in ticket_ids:
        custom = (await client.get(f"/v1/itsm/tickets/{ticket_id}", headers=tenant.headers)).json()
        fields = custom["vendor_attributes"]["data"]["customFields"]
        assert (fields[ids["Severity"]]["value"], fields[ids["Story points"]]) == ("S3", 3)
    edits = await tenant.vendor_calls("editIssue")
    clear = {"ticket_ids": ticket_ids, "updates": {"custom_fields": {"Impact": None}}}
    accepted = await client.post("/v1/itsm/tickets/bulk/update", json=clear, headers=tenant.headers)
    await run_jobs(runtime)
    done = await job(client, tenant, accepted.json()["job_id"])
    assert done["status"] == "FAILED"
    assert {result["code"] for result in done["results"]} == {"INVALID_FIELDS"}
    assert all(result["details"][0]["type"] == "required_missing" for result in done["results"])
    assert await tenant.vendor_calls("editIssue") == edits
