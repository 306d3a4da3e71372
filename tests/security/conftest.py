"""The two-tenant world of the security suite: Acme and Globex, each with a connection on every vendor
the fixtures can provision, on sites of their own.

Acme's Jira is the suite's usual sandbox (JIRA_URL), Globex's is a second Jira site (GLOBEX_JIRA_URL)
with a project only it has; on Rezolve both share one sandbox, as two tenants of one SaaS do: Acme is
the sandbox's "demo" tenant, Globex its "acme" tenant (other teams). On ServiceNow each has an
instance of its own, as ServiceNow customers do (SERVICENOW_URL and GLOBEX_SERVICENOW_URL), both
from the demo data, Acme's tickets in the Service Desk group and Globex's in Network. Each connection gets tickets
created through the API (one with an identifier), a bulk-create job, a bulk-update job and a sync
(which brings in the site's projects, users and tickets), all through the API and the worker.

Every sandbox runs at its production defaults, Jira's search lag and rate limits included, as in
tests/conftest.py: the sync comes after the writes have reached search (`catch_up_search`, as waiting
would), and a burst the vendor refuses is retried by the product per Retry-After.

Inbound rate limits stay on (their headers are part of every answer compared), set high enough that
the suite's few thousand requests are never refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.test_bulk import run_jobs
from tests.builders import ADMIN, make_api_key, make_organization
from tests.conftest import make_settings
from tests.support.sandboxes import catch_up_search
from tests.vendors import JIRA_URL, REZOLVE_URL, SERVICENOW_URL, SandboxRouter
from ticketbridge.config import Settings
from ticketbridge.enums import Vendor
from ticketbridge.sandboxes import jira, rezolve, servicenow
from ticketbridge.sandboxes.faults import SandboxTransport
from ticketbridge.sandboxes.jira.demo import BUG, DEMO_ACCOUNT_ID, TASK
from ticketbridge.sandboxes.rezolve.demo import IT_TEAM, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, OTHER_REALM
from ticketbridge.sandboxes.servicenow.demo import demo_sys_id
from ticketbridge.state import Runtime

GLOBEX_JIRA_URL = "http://jira-globex.test"
GLOBEX_SERVICENOW_URL = "http://servicenow-globex.test"
#: A Jira project only Globex's site has (Acme's site has DEMO and OPS, like Globex's).
GLOBEX_JIRA_PROJECT = "GLBX"
#: The team of Rezolve's second tenant ("acme" in the sandbox, Globex here).
GLOBEX_REZOLVE_TEAM = "ops"
#: High enough never to refuse the suite, low enough to stay on (its headers are compared).
GENEROUS_LIMIT = "1000000/10seconds"
ORGANIZATIONS = ("Acme", "Globex")


def security_settings(database_url: str, data_dir: Path, **overrides: object) -> Settings:
    return make_settings(
        database_url,
        data_dir,
        rate_limit_per_key=GENEROUS_LIMIT,
        rate_limit_per_organization=GENEROUS_LIMIT,
        **overrides,
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return security_settings(database_url, tmp_path)


@pytest.fixture
def globex_jira_sandbox() -> FastAPI:
    """Globex's Jira site at the sandbox's production defaults, like Acme's (tests/conftest.py)."""
    return jira.create_app(jira.JiraSandboxConfig(base_url=GLOBEX_JIRA_URL))


@pytest.fixture
def globex_servicenow_sandbox() -> FastAPI:
    """Globex's instance at the sandbox's production defaults, like Acme's (tests/conftest.py)."""
    return servicenow.create_app(servicenow.ServiceNowSandboxConfig(base_url=GLOBEX_SERVICENOW_URL))


@pytest.fixture
def sandboxes(
    jira_sandbox: FastAPI,
    globex_jira_sandbox: FastAPI,
    rezolve_sandbox: FastAPI,
    servicenow_sandbox: FastAPI,
    globex_servicenow_sandbox: FastAPI,
) -> dict[str, FastAPI]:
    """The suite's sandboxes (tests/conftest.py) and Globex's Jira site and ServiceNow instance, by URL."""
    return {
        JIRA_URL: jira_sandbox,
        GLOBEX_JIRA_URL: globex_jira_sandbox,
        REZOLVE_URL: rezolve_sandbox,
        SERVICENOW_URL: servicenow_sandbox,
        GLOBEX_SERVICENOW_URL: globex_servicenow_sandbox,
    }


@pytest.fixture
def vendor_transport(sandboxes: dict[str, FastAPI]) -> SandboxRouter:
    """Each of `sandboxes` at the host of its URL."""
    return SandboxRouter({httpx.URL(url).host: SandboxTransport(app) for url, app in sandboxes.items()})


async def sandbox_call(app: FastAPI, base_url: str, method: str, path: str, **kwargs: Any) -> Any:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as http:
        response = await http.request(method, f"/__sandbox__{path}", **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None


# --- what each vendor needs, per tenant ---


@dataclass(frozen=True)
class VendorSetup:
    """How the fixtures provision one vendor for tenant 0 (Acme) and tenant 1 (Globex)."""

    #: The connection create body (without organization_id), by tenant index.
    connection: Callable[[int], dict[str, Any]]
    #: A valid ticket create body for the tenant, without name and identifier.
    ticket: Callable[[int], dict[str, Any]]
    #: A query the vendor's passthrough search accepts.
    search: str


def _jira_connection(index: int) -> dict[str, Any]:
    return {
        "vendor": "JIRA",
        "base_url": (JIRA_URL, GLOBEX_JIRA_URL)[index],
        "credentials": {"email": jira.DEMO_EMAIL, "api_token": jira.DEMO_API_TOKEN},
    }


def _jira_ticket(index: int) -> dict[str, Any]:
    return {"project_vendor_id": ("DEMO", GLOBEX_JIRA_PROJECT)[index], "type_vendor_id": (BUG, TASK)[index]}


def _rezolve_connection(index: int) -> dict[str, Any]:
    credentials = (
        {
            "tenant_id": rezolve.DEMO_TENANT_ID,
            "realm": rezolve.DEMO_REALM,
            "client_id": rezolve.DEMO_CLIENT_ID,
            "client_secret": rezolve.DEMO_CLIENT_SECRET,
        },
        {
            "tenant_id": rezolve.OTHER_TENANT_ID,
            "realm": OTHER_REALM,
            "client_id": OTHER_CLIENT_ID,
            "client_secret": OTHER_CLIENT_SECRET,
        },
    )[index]
    return {"vendor": "REZOLVE", "base_url": REZOLVE_URL, "credentials": credentials}


def _rezolve_ticket(index: int) -> dict[str, Any]:
    return {
        "project_vendor_id": (IT_TEAM, GLOBEX_REZOLVE_TEAM)[index],
        "type_vendor_id": rezolve.SERVICE_REQUEST_TYPE_ID,
    }


def _servicenow_connection(index: int) -> dict[str, Any]:
    return {
        "vendor": "SERVICENOW",
        "base_url": (SERVICENOW_URL, GLOBEX_SERVICENOW_URL)[index],
        "credentials": {"username": servicenow.DEMO_USERNAME, "password": servicenow.DEMO_PASSWORD},
    }


def _servicenow_ticket(index: int) -> dict[str, Any]:
    group = ("Service Desk", "Network")[index]
    return {"project_vendor_id": demo_sys_id("sys_user_group", group), "type_vendor_id": ("network", "software")[index]}


#: Vendors the fixtures can provision. A vendor of the registry missing here is skipped, with a reason.
VENDOR_SETUPS: dict[Vendor, VendorSetup] = {
    Vendor.JIRA: VendorSetup(
        connection=_jira_connection, ticket=_jira_ticket, search="project = DEMO ORDER BY created DESC"
    ),
    Vendor.REZOLVE: VendorSetup(connection=_rezolve_connection, ticket=_rezolve_ticket, search="status!=closed"),
    Vendor.SERVICENOW: VendorSetup(
        connection=_servicenow_connection, ticket=_servicenow_ticket, search="active=true^ORDERBYnumber"
    ),
}


# --- the world ---


@dataclass
class ConnectionData:
    """One connection and everything made on it; `objects` maps a kind to the ids of that kind."""

    organization: str
    organization_id: str
    api_key: str
    vendor: Vendor
    connection_id: str
    ticket_body: dict[str, Any]
    objects: dict[str, list[str]] = field(default_factory=dict)
    #: Strings that appear in this connection's data and nowhere else (ids, names, identifiers).
    markers: set[str] = field(default_factory=set)

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-KEY": self.api_key, "X-CONNECTION-ID": self.connection_id}


@dataclass
class World:
    connections: list[ConnectionData]
    api_keys: dict[str, str]
    organization_ids: dict[str, str]

    def of(self, organization: str) -> list[ConnectionData]:
        return [c for c in self.connections if c.organization == organization]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


async def _items(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    body = await _ok(await client.get(path, params={"limit": 100}, headers=headers))
    items: list[dict[str, Any]] = body["items"]
    return items


async def build_world(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, FastAPI], *, tickets_per_connection: int = 1
) -> World:
    """Provisions both tenants on every vendor in VENDOR_SETUPS, through the admin and data APIs, on
    `sandboxes` (the fixture)."""
    await sandbox_call(
        sandboxes[GLOBEX_JIRA_URL],
        GLOBEX_JIRA_URL,
        "POST",
        "/seed",
        json={
            "projects": [
                {
                    "id": "10900",
                    "key": GLOBEX_JIRA_PROJECT,
                    "name": "Globex Secret Project",
                    "lead": DEMO_ACCOUNT_ID,
                    "issue_types": [TASK, BUG],
                    "workflow": "software",
                }
            ]
        },
    )
    connections: list[ConnectionData] = []
    api_keys: dict[str, str] = {}
    organization_ids: dict[str, str] = {}
    for index, organization in enumerate(ORGANIZATIONS):
        organization_id = await make_organization(client, organization)
        api_key = await make_api_key(client, organization_id)
        organization_ids[organization], api_keys[organization] = organization_id, api_key
        for vendor, setup in VENDOR_SETUPS.items():
            body = {"organization_id": organization_id, **setup.connection(index)}
            created = await _ok(await client.post("/v1/admin/connections", json=body, headers=ADMIN), 201)
            connections.append(
                ConnectionData(
                    organization=organization,
                    organization_id=organization_id,
                    api_key=api_key,
                    vendor=vendor,
                    connection_id=str(created["id"]),
                    ticket_body=setup.ticket(index),
                )
            )
    for data in connections:
        await _populate(client, data, tickets_per_connection)
    await run_jobs(runtime)
    # The syncs come later than any search lag, so they find what was just written.
    for app in sandboxes.values():
        await catch_up_search(app)
    for data in connections:
        await _ok(await client.post(f"/v1/admin/connections/{data.connection_id}/sync", headers=ADMIN), 202)
    await run_jobs(runtime)
    for data in connections:
        await _collect(client, data)
    return World(connections=connections, api_keys=api_keys, organization_ids=organization_ids)


async def _populate(client: httpx.AsyncClient, data: ConnectionData, tickets: int) -> None:
    """Tickets through the API, a bulk create and a bulk update (the jobs run later)."""
    prefix = f"{data.organization}-{data.vendor}"
    data.markers |= {data.connection_id}
    created: list[str] = []
    for n in range(tickets):
        name, identifier = unique(f"{prefix}-ticket{n}"), unique(f"{prefix}-ident{n}")
        body = {**data.ticket_body, "name": name, "identifier": identifier}
        ticket = await _ok(await client.post("/v1/itsm/tickets", json=body, headers=data.headers))
        created.append(ticket["id"])
        data.markers |= {name, identifier}
    bulk_name = unique(f"{prefix}-bulk")
    # One good item and one the vendor refuses (no such type): a FAILED job, so retry-failed has work.
    bulk = {
        "tickets": [
            {**data.ticket_body, "name": bulk_name, "identifier": unique(f"{prefix}-bulkident")},
            {**data.ticket_body, "name": bulk_name, "type_vendor_id": "99999"},
        ]
    }
    await _ok(await client.post("/v1/itsm/tickets/bulk", json=bulk, headers=data.headers), 202)
    data.markers.add(bulk_name)
    updated_name = unique(f"{prefix}-updated")
    update = {"ticket_ids": created, "updates": {"name": updated_name}}
    await _ok(await client.post("/v1/itsm/tickets/bulk/update", json=update, headers=data.headers), 202)
    data.markers.add(updated_name)


async def _collect(client: httpx.AsyncClient, data: ConnectionData) -> None:
    tickets = await _items(client, "/v1/itsm/tickets", data.headers)
    jobs = await _items(client, "/v1/jobs", data.headers)
    projects = await _items(client, "/v1/itsm/projects", data.headers)
    users = await _items(client, "/v1/itsm/users", data.headers)
    assert tickets and projects and len(jobs) == 3, (data.vendor, tickets, jobs, projects)
    assert sorted(job["status"] for job in jobs) == ["FAILED", "SUCCESS", "SUCCESS"], jobs
    data.objects = {
        "ticket": [t["id"] for t in tickets],
        "identifier": [t["identifier"] for t in tickets if t.get("identifier")],
        "job": [j["id"] for j in jobs],
        "project": [p["id"] for p in projects],
        "user": [u["id"] for u in users],
        "project_key": [p.get("vendor_id") or p.get("vendor_attributes", {}).get("id") or str(p) for p in projects],
    }
    for kind in ("ticket", "identifier", "job", "project", "user"):
        data.markers |= set(data.objects[kind])
