"""Write metadata and preflight on a SERVICENOW connection: sys_dictionary's `mandatory` flags and the
incident's custom `u_` columns (a column added the way an administrator adds one)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.api.test_servicenow import request_ticket, sandbox, servicenow_tenant
from tests.support.sandboxes import control

IMPACT_COLUMN = {
    "name": "incident",
    "element": "u_business_impact",
    "column_label": "Business impact",
    "internal_type": "string",
    "mandatory": "true",
}


async def test_a_mandatory_custom_column_is_required_before_any_insert(
    client: httpx.AsyncClient, servicenow_sandbox: FastAPI
) -> None:
    await sandbox(servicenow_sandbox, "POST", "/api/now/table/sys_dictionary", json=IMPACT_COLUMN)
    tenant = await servicenow_tenant(client)
    group = request_ticket("x")["project_vendor_id"]
    meta = await client.get(
        "/v1/itsm/tickets/meta/create", params={"project_vendor_id": group, "type": "inquiry"}, headers=tenant.headers
    )
    assert meta.status_code == 200, meta.text
    unified = {field["name"] for field in meta.json()["fields"]}
    assert {"name", "description", "status", "priority", "assigned_user_id"} <= unified
    (column,) = meta.json()["custom_fields"]
    assert (column["id"], column["name"], column["required"], column["accepts"]) == (
        "u_business_impact",
        "Business impact",
        True,
        "string",
    )
    await control(servicenow_sandbox, "DELETE", "/calls")
    refused = await client.post("/v1/itsm/tickets", json=request_ticket("No impact"), headers=tenant.headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"] == ["body", "custom_fields", "u_business_impact"]
    assert refused.json()["detail"][0]["type"] == "required_missing"
    calls = await control(servicenow_sandbox, "GET", "/calls")
    assert not any(operation.startswith("table.incident.POST") for operation in calls), calls
    given = request_ticket("With impact", custom_fields={"Business impact": "Payroll is late"})
    assert (await client.post("/v1/itsm/tickets", json=given, headers=tenant.headers)).status_code == 200
    after = await control(servicenow_sandbox, "GET", "/calls")
    assert any(operation.startswith("table.incident.POST") for operation in after), after  # the name is right
