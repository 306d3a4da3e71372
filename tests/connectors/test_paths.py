"""Tenant values never steer a vendor request: every key that goes into a vendor URL path matches the
vendor's pattern and is encoded as one segment. Through the API and the connectors, against the
sandboxes, with every vendor request path recorded."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from fastapi import FastAPI

from tests.api.test_rezolve import REQUEST_TYPE, rezolve_tenant
from tests.builders import make_tenant
from tests.connectors.rezolve.support import credentials as rezolve_credentials
from tests.connectors.rezolve.support import make_connection
from tests.vendors import JIRA_URL, REZOLVE_URL, SandboxRouter
from ticketbridge.connectors import ConnectorFactory
from ticketbridge.connectors.errors import VendorNotFound
from ticketbridge.connectors.jira.client import ISSUE_ID_OR_KEY, PROJECT_ID_OR_KEY
from ticketbridge.connectors.paths import checked, segment
from ticketbridge.connectors.rezolve.client import OBJECT_ID, TEAM_KEY
from ticketbridge.enums import Vendor
from ticketbridge.sandboxes import jira
from ticketbridge.sandboxes.faults import SandboxTransport
from ticketbridge.sandboxes.rezolve.demo import IT_TEAM

#: What reached a vendor in the reported attacks, and its relatives.
TRAVERSALS = [
    "../../../../../__sandbox__/tokens#",
    "%2E%2E",
    "%2e%2e%2f__sandbox__",
    "..",
    ".",
    "DEMO/../../__sandbox__/reset",
    "DEMO?fields=*all",
    "DEMO#fragment",
    "DEMO\r\nX-Injected: 1",
    "DEMO\x01",
    "DEMO ",
    "ÄBC",
]
SANDBOX_HOSTS = ("jira.test", "rezolve.test")


class RecordingRouter(httpx.AsyncBaseTransport):
    """The sandboxes, with the raw path of every request sent to them."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.raw_path.decode().split("?", 1)[0])
        return await self.inner.handle_async_request(request)


@pytest.fixture
def vendor_transport(jira_sandbox: FastAPI, rezolve_sandbox: FastAPI) -> RecordingRouter:
    return RecordingRouter(
        SandboxRouter({"jira.test": SandboxTransport(jira_sandbox), "rezolve.test": SandboxTransport(rezolve_sandbox)})
    )


def assert_no_stray_path(recorder: RecordingRouter) -> None:
    for path in recorder.paths:
        segments = unquote(path).split("/")
        assert "__sandbox__" not in path and ".." not in segments and "." not in segments, path
        assert path.startswith(("/rest/api/3/", "/api/v2/ticketing/", "/auth/realms/")), path


@pytest.mark.parametrize("value", TRAVERSALS)
def test_a_value_off_the_vendor_pattern_names_nothing(value: str) -> None:
    for kind in (PROJECT_ID_OR_KEY, ISSUE_ID_OR_KEY, TEAM_KEY, OBJECT_ID):
        with pytest.raises(VendorNotFound) as raised:
            segment(value, kind)
        assert raised.value.field_errors.keys() == {kind.field}


def test_well_formed_keys_pass_as_one_segment() -> None:
    assert segment("DEMO", PROJECT_ID_OR_KEY) == "DEMO"
    assert segment("10001", PROJECT_ID_OR_KEY) == "10001"
    assert segment("DEMO-42", ISSUE_ID_OR_KEY) == "DEMO-42"
    assert segment("REQ-0509", OBJECT_ID) == "REQ-0509"
    assert segment("it", TEAM_KEY) == "it"
    assert checked("team-001", TEAM_KEY) == "team-001"
    with pytest.raises(VendorNotFound):
        segment("A" * 256, PROJECT_ID_OR_KEY)


@pytest.mark.parametrize("value", ["%2E%2E", "..", "DEMO?x=1", "DEMO#x", "../../../../../__sandbox__/tokens#"])
async def test_jira_passthrough_project_key_cannot_leave_its_path(
    client: httpx.AsyncClient, vendor_transport: RecordingRouter, value: str
) -> None:
    tenant = await make_tenant(client)
    for endpoint in ("issue-types", "assignable-users"):
        response = await client.get(
            f"/v1/itsm/passthrough/projects/{quote(value, safe='')}/{endpoint}", headers=tenant.headers
        )
        assert response.status_code == 404, response.text
        assert set(response.json()) == {"type", "code", "message", "detail"}
    assert_no_stray_path(vendor_transport)
    assert not any("createmeta" in path or "assignable" in path for path in vendor_transport.paths)


@pytest.mark.parametrize("field", ["project_vendor_id", "parent_ticket_vendor_id"])
async def test_rezolve_create_with_a_crafted_vendor_id_sends_nothing_astray(
    client: httpx.AsyncClient, vendor_transport: RecordingRouter, field: str
) -> None:
    tenant = await rezolve_tenant(client)
    for value in ("../../../../../__sandbox__/tokens#", "it/../../__sandbox__/reset", "%2E%2E", "REQ-1?x"):
        body = {"name": "Crafted", "project_vendor_id": IT_TEAM, "type_vendor_id": REQUEST_TYPE, field: value}
        response = await client.post("/v1/itsm/tickets", json=body, headers=tenant.headers)
        assert response.status_code == 422, response.text
        if field == "project_vendor_id":  # the team goes into the create path: refused before sending
            assert "project_vendor_id: " in response.json()["message"]
    assert_no_stray_path(vendor_transport)
    if field == "project_vendor_id":
        assert not any("/ticket/create/" in path for path in vendor_transport.paths)


async def test_jira_create_with_a_crafted_project_key_stays_in_the_body(
    client: httpx.AsyncClient, vendor_transport: RecordingRouter
) -> None:
    tenant = await make_tenant(client)
    body = {"name": "Crafted", "project_vendor_id": "../../../../../__sandbox__/tokens#", "type": "Bug"}
    response = await client.post("/v1/itsm/tickets", json=body, headers=tenant.headers)
    assert response.status_code == 422, response.text
    assert_no_stray_path(vendor_transport)


@pytest.mark.parametrize("vendor", [Vendor.JIRA, Vendor.REZOLVE])
async def test_get_by_a_crafted_vendor_ref_sends_nothing(vendor_transport: RecordingRouter, vendor: Vendor) -> None:
    secrets: dict[str, Any]
    if vendor is Vendor.JIRA:
        connection = make_connection(JIRA_URL).model_copy(update={"vendor": Vendor.JIRA})
        secrets = {"email": jira.DEMO_EMAIL, "api_token": jira.DEMO_API_TOKEN}
    else:
        connection, secrets = make_connection(REZOLVE_URL), rezolve_credentials()
    connector = ConnectorFactory(transport=vendor_transport).build(connection, secrets)
    try:
        for ref in ("../../__sandbox__/reset", "REQ-1/../../x", "DEMO-1?fields=x", "..", "%2E%2E"):
            with pytest.raises(VendorNotFound):
                await connector.get_ticket(ref)
    finally:
        await connector.aclose()
    assert_no_stray_path(vendor_transport)
    assert not any("/issue/" in path or "/ticket/" in path for path in vendor_transport.paths)
