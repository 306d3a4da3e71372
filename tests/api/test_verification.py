"""Connections are verified with the vendor before they are ACTIVE: on create, on a change of site or
credentials, on resume and on POST .../verify; PENDING connections refuse data requests."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.test_rezolve import request_ticket
from tests.api.test_tickets import BUG
from tests.builders import ADMIN, Tenant, make_api_key, make_organization, revoke_credentials
from tests.connectors.test_http import make_connection
from tests.support.sandboxes import calls as vendor_calls
from tests.support.sandboxes import control
from tests.vendors import JIRA_URL, REZOLVE_URL, SandboxRouter
from ticketbridge.connectors import ConnectorFactory
from ticketbridge.connectors.errors import VendorNotFound, VendorRejected, VendorRetriable
from ticketbridge.enums import HealthName
from ticketbridge.enums import Vendor as VendorName
from ticketbridge.sandboxes import jira, rezolve
from ticketbridge.sandboxes.faults import SandboxTransport
from ticketbridge.services.verification import failure
from ticketbridge.state import Runtime

REZOLVE_CREDENTIALS = {
    "tenant_id": rezolve.DEMO_TENANT_ID,
    "realm": rezolve.DEMO_REALM,
    "client_id": rezolve.DEMO_CLIENT_ID,
    "client_secret": rezolve.DEMO_CLIENT_SECRET,
}


@dataclass(frozen=True)
class Vendor:
    """One vendor and credential kind, with the sandbox that answers for it."""

    name: str
    base_url: str
    credentials: dict[str, Any]
    wrong_credentials: dict[str, Any]
    ticket: dict[str, Any]
    sandbox: str

    def body(self, organization_id: str, **overrides: Any) -> dict[str, Any]:
        return {
            "organization_id": organization_id,
            "vendor": self.name,
            "base_url": self.base_url,
            "credentials": self.credentials,
            **overrides,
        }


JIRA_BASIC = Vendor(
    name="JIRA",
    base_url=JIRA_URL,
    credentials={"email": jira.DEMO_EMAIL, "api_token": jira.DEMO_API_TOKEN},
    wrong_credentials={"email": jira.DEMO_EMAIL, "api_token": "wrong-token"},
    ticket={"name": "SQL injection in /login", "project_vendor_id": "DEMO", "type_vendor_id": BUG},
    sandbox="jira_sandbox",
)
JIRA_OAUTH = Vendor(
    name="JIRA",
    base_url=JIRA_URL,
    credentials={"oauth_token": jira.DEMO_OAUTH_TOKEN},
    wrong_credentials={"oauth_token": "expired-or-wrong"},
    ticket=JIRA_BASIC.ticket,
    sandbox="jira_sandbox",
)
REZOLVE = Vendor(
    name="REZOLVE",
    base_url=REZOLVE_URL,
    credentials=REZOLVE_CREDENTIALS,
    wrong_credentials={**REZOLVE_CREDENTIALS, "client_secret": "wrong-secret"},
    ticket=request_ticket("Laptop for new hire"),
    sandbox="rezolve_sandbox",
)
VENDORS = pytest.mark.parametrize(
    "vendor", [JIRA_BASIC, JIRA_OAUTH, REZOLVE], ids=["jira-basic", "jira-oauth", "rezolve"]
)


@pytest.fixture
def sandboxes(jira_sandbox: FastAPI, rezolve_sandbox: FastAPI) -> dict[str, FastAPI]:
    return {"jira_sandbox": jira_sandbox, "rezolve_sandbox": rezolve_sandbox}


async def organization(client: httpx.AsyncClient) -> tuple[str, str]:
    org = await make_organization(client)
    return org, await make_api_key(client, org)


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/admin/connections", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def patch(client: httpx.AsyncClient, connection_id: str, **body: Any) -> dict[str, Any]:
    response = await client.patch(f"/v1/admin/connections/{connection_id}", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
    patched: dict[str, Any] = response.json()
    return patched


async def verify(client: httpx.AsyncClient, connection_id: str) -> dict[str, Any]:
    response = await client.post(f"/v1/admin/connections/{connection_id}/verify", headers=ADMIN)
    assert response.status_code == 200, response.text
    verified: dict[str, Any] = response.json()
    return verified


async def audit_actions(client: httpx.AsyncClient, connection_id: str) -> list[str]:
    response = await client.get(f"/v1/admin/connections/{connection_id}/audit", headers=ADMIN)
    assert response.status_code == 200, response.text
    return [change["action"] for change in reversed(response.json()["items"])]


async def create_ticket(client: httpx.AsyncClient, tenant: Tenant, vendor: Vendor) -> httpx.Response:
    return await client.post("/v1/itsm/tickets", json=vendor.ticket, headers=tenant.headers)


def closed_loopback_url() -> str:
    """http://127.0.0.1:<a port nothing listens on> (the port was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def assert_pending(connection: dict[str, Any], health: str, *words: str) -> None:
    assert (connection["state"], connection["is_active"]) == ("PENDING", False), connection
    assert connection["health"]["name"] == health, connection["health"]
    assert connection["health"]["status"] == "UNHEALTHY"
    for word in words:
        assert word in connection["health"]["description"], connection["health"]


# --- create ---


@VENDORS
async def test_a_connection_the_vendor_accepts_is_created_active(
    client: httpx.AsyncClient, sandboxes: dict[str, FastAPI], vendor: Vendor
) -> None:
    org, api_key = await organization(client)
    created = await create(client, vendor.body(org))
    assert (created["state"], created["is_active"], created["health"]["name"]) == ("ACTIVE", True, "HEALTHY")
    assert await audit_actions(client, created["id"]) == ["created", "verified"]
    assert sum((await vendor_calls(sandboxes[vendor.sandbox])).values()) >= 1  # the check reached the vendor
    tenant = Tenant(organization_id=org, api_key=api_key, connection_id=created["id"])
    assert (await create_ticket(client, tenant, vendor)).status_code == 200


@VENDORS
async def test_wrong_credentials_leave_it_pending_unauthorized_and_data_requests_409_without_a_vendor_call(
    client: httpx.AsyncClient, sandboxes: dict[str, FastAPI], vendor: Vendor
) -> None:
    org, api_key = await organization(client)
    created = await create(client, vendor.body(org, credentials=vendor.wrong_credentials))
    assert_pending(created, "UNAUTHORIZED", vendor.name.title())
    assert created["health"]["resolution_owner"] == "CUSTOMER"
    assert "wrong" not in created["health"]["description"]  # never the credentials themselves
    assert await audit_actions(client, created["id"]) == ["created"]

    tenant = Tenant(organization_id=org, api_key=api_key, connection_id=created["id"])
    before = await vendor_calls(sandboxes[vendor.sandbox])
    response = await create_ticket(client, tenant, vendor)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "CONFLICT"
    assert "is not verified: UNAUTHORIZED" in response.json()["message"]
    for path in ("/v1/connection", "/v1/itsm/passthrough/projects"):
        refused = await client.get(path, headers=tenant.headers)
        assert refused.status_code == 409 and "not verified" in refused.json()["message"], refused.text
    assert await vendor_calls(sandboxes[vendor.sandbox]) == before  # no write, no call at all
    sync = await client.post(f"/v1/admin/connections/{created['id']}/sync", headers=ADMIN)
    assert sync.status_code == 409, sync.text


@pytest.mark.parametrize("vendor", [JIRA_BASIC, REZOLVE], ids=["jira", "rezolve"])
async def test_an_unreachable_site_leaves_it_pending_naming_the_site(
    client: httpx.AsyncClient, runtime: Runtime, vendor: Vendor
) -> None:
    runtime.connectors = ConnectorFactory(transport=None)  # real TCP: connection refused on loopback
    org, _ = await organization(client)
    site = closed_loopback_url()
    created = await create(client, vendor.body(org, base_url=site))
    assert_pending(created, "EXECUTION_TIMEOUT", "unreachable", site)
    assert created["health"]["resolution_owner"] == "VENDOR"


async def test_a_site_that_times_out_leaves_it_pending(client: httpx.AsyncClient, jira_sandbox: FastAPI) -> None:
    await control(jira_sandbox, "PUT", "/faults", json={"timeout_rate": 1})
    org, _ = await organization(client)
    created = await create(client, JIRA_BASIC.body(org))
    assert_pending(created, "EXECUTION_TIMEOUT", "no answer from Jira")


async def test_a_vendor_outage_leaves_it_pending_as_a_server_error(
    client: httpx.AsyncClient, rezolve_sandbox: FastAPI
) -> None:
    await control(rezolve_sandbox, "PUT", "/faults", json={"error_rate": 1, "error_statuses": [503]})
    org, _ = await organization(client)
    created = await create(client, REZOLVE.body(org))
    assert_pending(created, "VENDOR_SERVER_ERROR", "HTTP 503")


async def test_a_missing_permission_is_named_as_the_vendor_says(
    client: httpx.AsyncClient, runtime: Runtime, vendor_transport: SandboxRouter
) -> None:
    """A Rezolve service account without a reading role: Rezolve answers USER_PERMISSION_FAILURE."""
    strict = rezolve.create_app(rezolve.RezolveSandboxConfig(base_url=REZOLVE_URL, read_roles=frozenset({"nobody"})))
    runtime.connectors = ConnectorFactory(transport=SandboxRouter({"rezolve.test": SandboxTransport(strict)}))
    org, _ = await organization(client)
    created = await create(client, REZOLVE.body(org))
    assert_pending(created, "UNAUTHORIZED", "USER_PERMISSION_FAILURE")


def test_a_refused_check_is_a_client_error_with_the_vendors_message() -> None:
    connection = make_connection(VendorName.JIRA)
    refused = failure(connection, VendorRejected("You do not have permission to browse users.", status_code=403))
    assert refused.health is HealthName.VENDOR_CLIENT_ERROR
    assert refused.description == "Verification failed: HTTP 403: You do not have permission to browse users."
    not_an_api = failure(connection, VendorNotFound("Not Found", status_code=404))
    assert not_an_api.health is HealthName.VENDOR_CLIENT_ERROR
    throttled = failure(connection, VendorRetriable("Jira rate limit: slow down", status_code=429))
    assert throttled.health is HealthName.RATE_LIMIT_EXCEEDED


# --- POST .../verify ---


@VENDORS
async def test_verify_after_the_vendor_accepts_the_credentials_makes_it_active(
    client: httpx.AsyncClient, sandboxes: dict[str, FastAPI], vendor: Vendor
) -> None:
    app = sandboxes[vendor.sandbox]
    await control(app, "PUT", "/faults", json={"error_rate": 1, "error_statuses": [401]})  # not yet allowed
    org, api_key = await organization(client)
    created = await create(client, vendor.body(org))
    assert_pending(created, "UNAUTHORIZED")
    again = await verify(client, created["id"])
    assert_pending(again, "UNAUTHORIZED")

    await control(app, "PUT", "/faults", json={})  # the vendor now accepts them
    verified = await verify(client, created["id"])
    assert (verified["state"], verified["health"]["name"], verified["health"]["description"]) == (
        "ACTIVE",
        "HEALTHY",
        None,
    )
    assert await audit_actions(client, created["id"]) == ["created", "verified"]
    tenant = Tenant(organization_id=org, api_key=api_key, connection_id=created["id"])
    assert (await create_ticket(client, tenant, vendor)).status_code == 200


@pytest.mark.parametrize("vendor", [JIRA_BASIC, REZOLVE], ids=["jira", "rezolve"])
async def test_verify_of_an_active_connection(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, FastAPI], vendor: Vendor
) -> None:
    """Refused credentials send it back to PENDING; a vendor outage only changes its health."""
    org, _ = await organization(client)
    created = await create(client, vendor.body(org))
    await control(sandboxes[vendor.sandbox], "PUT", "/faults", json={"error_rate": 1, "error_statuses": [503]})
    outage = await verify(client, created["id"])
    assert (outage["state"], outage["health"]["name"]) == ("ACTIVE", "VENDOR_SERVER_ERROR")
    await control(sandboxes[vendor.sandbox], "PUT", "/faults", json={})
    assert (await verify(client, created["id"]))["health"]["name"] == "HEALTHY"

    await revoke_credentials(runtime, created["id"], vendor.wrong_credentials)
    revoked = await verify(client, created["id"])
    assert_pending(revoked, "UNAUTHORIZED")
    assert await audit_actions(client, created["id"]) == ["created", "verified", "verification_failed"]


async def test_verify_answers_404_409_and_401(client: httpx.AsyncClient) -> None:
    org, _ = await organization(client)
    created = await create(client, JIRA_BASIC.body(org))
    path = f"/v1/admin/connections/{created['id']}/verify"
    assert (await client.post(path)).status_code == 401
    missing = await client.post("/v1/admin/connections/00000000-0000-4000-8000-000000000000/verify", headers=ADMIN)
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
    assert (await client.post("/v1/admin/connections/nope/verify", headers=ADMIN)).status_code == 422
    await patch(client, created["id"], state="PAUSED")
    paused = await verify(client, created["id"])
    assert (paused["state"], paused["health"]["name"]) == ("PAUSED", "HEALTHY")  # checked, still paused
    await patch(client, created["id"], state="DELETED")
    deleted = await client.post(path, headers=ADMIN)
    assert deleted.status_code == 409 and "deleted" in deleted.json()["message"], deleted.text


async def test_verify_is_documented(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    responses = spec["paths"]["/v1/admin/connections/{connection_id}/verify"]["post"]["responses"]
    assert {"200", "401", "404", "409", "422"} <= set(responses)


# --- PATCH re-verifies ---


@VENDORS
async def test_patching_the_credentials_or_site_verifies_again(
    client: httpx.AsyncClient, sandboxes: dict[str, FastAPI], vendor: Vendor
) -> None:
    org, api_key = await organization(client)
    created = await create(client, vendor.body(org))
    tenant = Tenant(organization_id=org, api_key=api_key, connection_id=created["id"])

    wrong = await patch(client, created["id"], credentials=vendor.wrong_credentials)
    assert_pending(wrong, "UNAUTHORIZED")
    assert (await create_ticket(client, tenant, vendor)).status_code == 409

    fixed = await patch(client, created["id"], credentials=vendor.credentials)
    assert (fixed["state"], fixed["health"]["name"]) == ("ACTIVE", "HEALTHY")
    assert (await create_ticket(client, tenant, vendor)).status_code == 200

    moved = await patch(client, created["id"], base_url=closed_loopback_url(), credentials=vendor.credentials)
    assert_pending(moved, "EXECUTION_TIMEOUT", "unreachable")
    back = await patch(client, created["id"], base_url=vendor.base_url, credentials=vendor.credentials)
    assert back["state"] == "ACTIVE"
    assert await audit_actions(client, created["id"]) == [
        "created",
        "verified",
        "credentials_changed",
        "credentials_changed",
        "verified",
        "updated",
        "updated",
        "verified",
    ]

    before = await vendor_calls(sandboxes[vendor.sandbox])
    settings_only = await patch(client, created["id"], refresh_interval_secs=3600, timeout_secs=60)
    assert settings_only["state"] == "ACTIVE"
    assert await vendor_calls(sandboxes[vendor.sandbox]) == before  # nothing to verify: no vendor call


async def test_resuming_verifies_and_pending_cannot_be_asked_for(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    org, _ = await organization(client)
    created = await create(client, JIRA_BASIC.body(org))
    await patch(client, created["id"], state="PAUSED")
    paused = await patch(client, created["id"], credentials=JIRA_BASIC.wrong_credentials)
    assert paused["state"] == "PAUSED"  # no check while paused: resuming checks
    resumed = await patch(client, created["id"], state="ACTIVE")
    assert_pending(resumed, "UNAUTHORIZED")
    active = await patch(client, created["id"], state="ACTIVE", credentials=JIRA_BASIC.credentials)
    assert active["state"] == "ACTIVE"

    response = await client.patch(f"/v1/admin/connections/{created['id']}", json={"state": "PENDING"}, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "state"]


# --- inline, and bounded ---


async def test_the_check_is_one_cheap_read(client: httpx.AsyncClient, jira_sandbox: FastAPI) -> None:
    org, _ = await organization(client)
    await create(client, JIRA_BASIC.body(org))
    assert await vendor_calls(jira_sandbox) == {"getCurrentUser": 1}


async def test_a_failing_check_is_tried_at_most_twice(
    client: httpx.AsyncClient, jira_sandbox: FastAPI, runtime: Runtime
) -> None:
    await control(jira_sandbox, "PUT", "/faults", json={"error_rate": 1, "error_statuses": [503]})
    org, _ = await organization(client)
    created = await create(client, JIRA_BASIC.body(org))
    assert_pending(created, "VENDOR_SERVER_ERROR")
    assert await control(jira_sandbox, "GET", "/faults/injected") == {"status_503": 2}
