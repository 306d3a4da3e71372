"""Each connector's write metadata against its sandbox: what createmeta, Rezolve's ticket types and
ServiceNow's dictionary say, cached in the connection's MetadataCache until refreshed, and custom
field values carried to the vendor's shapes and back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from tests.support.connectors import make_connection, make_item
from tests.support.sandboxes import control
from tests.vendors import JIRA_URL, REZOLVE_URL
from ticketbridge.connectors import ConnectorFactory
from ticketbridge.connectors.base import Connector
from ticketbridge.connectors.errors import VendorRejected
from ticketbridge.domain.fields import Accepts, FieldValue
from ticketbridge.domain.tickets import TicketChanges
from ticketbridge.enums import Vendor
from ticketbridge.sandboxes import jira, rezolve
from ticketbridge.sandboxes.faults import SandboxTransport

TASK = "10001"
REQUIRED_ON_TASK = [{"project": "DEMO", "issuetype": "Task"}]


@pytest.fixture
async def jira_connector(jira_sandbox: FastAPI) -> AsyncIterator[Connector]:
    factory = ConnectorFactory(transport=SandboxTransport(jira_sandbox))
    credentials = {"email": jira.DEMO_EMAIL, "api_token": jira.DEMO_API_TOKEN}
    connector = factory.build(make_connection(Vendor.JIRA, JIRA_URL), credentials)
    yield connector
    await connector.aclose()


@pytest.fixture
async def rezolve_connector(rezolve_sandbox: FastAPI) -> AsyncIterator[Connector]:
    factory = ConnectorFactory(transport=SandboxTransport(rezolve_sandbox))
    credentials = {
        "tenant_id": rezolve.DEMO_TENANT_ID,
        "realm": rezolve.DEMO_REALM,
        "client_id": rezolve.DEMO_CLIENT_ID,
        "client_secret": rezolve.DEMO_CLIENT_SECRET,
    }
    connector = factory.build(make_connection(Vendor.REZOLVE, REZOLVE_URL), credentials)
    yield connector
    await connector.aclose()


async def test_jira_createmeta_is_cached_until_refreshed(jira_connector: Connector, jira_sandbox: FastAPI) -> None:
    seeded = await control(
        jira_sandbox,
        "POST",
        "/seed",
        json={
            "custom_fields": [{"name": "Severity", "type": "select", "options": ["S1"], "required": REQUIRED_ON_TASK}]
        },
    )
    severity = seeded["custom_fields"]["Severity"]
    meta = await jira_connector.write_metadata("DEMO", type_vendor_id=None, type_name="Task")
    field = meta.custom(severity)
    assert field is not None and field.required and field.accepts is Accepts.OPTION
    assert [allowed.value for allowed in field.allowed_values or ()] == ["S1"]
    reads = (await control(jira_sandbox, "GET", "/calls"))["getCreateIssueMetaIssueTypeId"]
    assert await jira_connector.write_metadata("DEMO", type_vendor_id=TASK, type_name=None) == meta
    assert (await control(jira_sandbox, "GET", "/calls"))["getCreateIssueMetaIssueTypeId"] == reads
    await jira_connector.write_metadata("DEMO", type_vendor_id=TASK, type_name=None, refresh=True)
    assert (await control(jira_sandbox, "GET", "/calls"))["getCreateIssueMetaIssueTypeId"] == reads + 1


async def test_jira_custom_values_travel_as_jira_shapes_and_read_back(
    jira_connector: Connector, jira_sandbox: FastAPI
) -> None:
    fields = [
        {"name": "Notes", "type": "textarea"},
        {"name": "Found at", "type": "datetime"},
        {"name": "Areas", "type": "multiselect", "options": ["web", "api"]},
    ]
    ids = (await control(jira_sandbox, "POST", "/seed", json={"custom_fields": fields}))["custom_fields"]
    meta = await jira_connector.write_metadata("DEMO", type_vendor_id=TASK, type_name=None)
    areas = {allowed.value: allowed.id for allowed in meta.custom(ids["Areas"]).allowed_values or ()}  # type: ignore[union-attr]
    item = make_item(
        1,
        project_vendor_id="DEMO",
        type_vendor_id=TASK,
        custom_fields={
            ids["Notes"]: FieldValue(accepts=Accepts.MARKDOWN, value="**bold** text"),
            ids["Found at"]: FieldValue(accepts=Accepts.DATETIME, value="2026-12-01T09:30:00+01:00"),
            ids["Areas"]: FieldValue(accepts=Accepts.OPTIONS, value=[areas["api"]]),
        },
    )
    (outcome,) = await jira_connector.create_tickets([item])
    assert outcome.ticket is not None, outcome.error
    issue = (await control(jira_sandbox, "GET", f"/issues/{outcome.ticket.key}"))["fields"]
    assert issue[ids["Notes"]]["type"] == "doc"
    assert issue[ids["Found at"]] == "2026-12-01T09:30:00.000+0100"  # Jira's own date-time form
    read = await jira_connector.get_ticket(outcome.ticket.key)
    assert read.custom_fields[ids["Notes"]] == "**bold** text"
    assert read.custom_fields[ids["Areas"]] == [{"id": areas["api"], "value": "api"}]


async def test_a_jira_refusal_names_the_field(jira_connector: Connector, jira_sandbox: FastAPI) -> None:
    fields = [{"name": "Severity", "type": "select", "options": ["S1"], "required": REQUIRED_ON_TASK}]
    ids = (await control(jira_sandbox, "POST", "/seed", json={"custom_fields": fields}))["custom_fields"]
    (outcome,) = await jira_connector.create_tickets([make_item(1, project_vendor_id="DEMO", type_vendor_id=TASK)])
    assert outcome.ticket is None
    assert [(r.field, r.message) for r in outcome.field_errors] == [(ids["Severity"], "Severity is required.")]


async def test_rezolve_type_fields_are_the_metadata_and_refusals_name_field_uuids(
    rezolve_connector: Connector, rezolve_sandbox: FastAPI
) -> None:
    configured = await control(
        rezolve_sandbox,
        "PUT",
        f"/ticket-types/{rezolve.SERVICE_REQUEST_TYPE_ID}/fields",
        json={"fields": [{"name": "site", "label": "Site", "type": "text", "required": True}]},
    )
    site = configured["fields"]["site"]
    meta = await rezolve_connector.write_metadata("it", type_vendor_id=rezolve.SERVICE_REQUEST_TYPE_ID, type_name=None)
    assert [(f.id, f.name, f.required, f.accepts) for f in meta.custom_fields] == [(site, "Site", True, Accepts.STRING)]
    item = make_item(1, project_vendor_id="it", type_vendor_id=rezolve.SERVICE_REQUEST_TYPE_ID)
    (refused,) = await rezolve_connector.create_tickets([item])
    assert [(r.field, r.message) for r in refused.field_errors] == [(site, "Field is required")]
    given = item.model_copy(update={"custom_fields": {site: FieldValue(accepts=Accepts.STRING, value="Oslo")}})
    (created,) = await rezolve_connector.create_tickets([given])
    assert created.ticket is not None and created.ticket.custom_fields[site] == "Oslo"


async def test_rezolve_edit_metadata_names_each_transitions_required_fields_which_rezolve_enforces(
    rezolve_connector: Connector, rezolve_sandbox: FastAPI
) -> None:
    field = {"name": "triage", "label": "Triage note", "type": "text", "requiredOnTransitionTo": ["in_progress"]}
    path = f"/ticket-types/{rezolve.SERVICE_REQUEST_TYPE_ID}/fields"
    triage = (await control(rezolve_sandbox, "PUT", path, json={"fields": [field]}))["fields"]["triage"]
    item = make_item(1, project_vendor_id="it", type_vendor_id=rezolve.SERVICE_REQUEST_TYPE_ID)
    (created,) = await rezolve_connector.create_tickets([item])
    assert created.ticket is not None
    meta = await rezolve_connector.edit_metadata(created.ticket.key)
    reachable = {t.to_status_vendor_id: [(f.id, f.required) for f in t.custom_fields] for t in meta.transitions}
    assert reachable == {"in_progress": [(triage, True)], "cancelled": []}
    start = TicketChanges(target_status="In Progress")
    with pytest.raises(VendorRejected) as refused:
        await rezolve_connector.update_ticket(created.ticket.key, start, expected=None)
    assert refused.value.field_errors == {triage: "Field is required for this transition"}
    noted = start.model_copy(update={"custom_fields": {triage: FieldValue(accepts=Accepts.STRING, value="seen")}})
    moved = await rezolve_connector.update_ticket(created.ticket.key, noted, expected=None)
    assert moved.status_name == "In Progress"
    after = await rezolve_connector.edit_metadata(created.ticket.key)
    assert {t.to_status_vendor_id for t in after.transitions} == {"resolved", "cancelled"}
