"""Each registered vendor as the three-vendor tests need it, in one place: how to provision a
connection to its sandbox, a ticket it accepts, how to seed and count its tickets, and what a person
does in the vendor meanwhile (rename, reprioritize, delete a ticket).

The tests run one body over `VENDOR_CASES` (see `cases()`), so a vendor added to the connector
registry needs one `VendorCase` here and nothing in the tests themselves; `cases()` fails, naming it,
until it has one. Everything the shared control plane offers (reset, seed, faults, consistency) goes
through `/__sandbox__/`; what it has no route for (counting, a person's edit) uses the sandbox's own
control routes, or its vendor API where the vendor has one (Jira's and ServiceNow's deletes).

A person's edits take an `httpx.AsyncClient` whose base URL is the sandbox's, in process
(`sandbox_client`) or on a real socket, so the same case serves both.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import FastAPI

from tests.builders import Tenant, make_tenant
from tests.vendors import JIRA_URL, REZOLVE_URL, SERVICENOW_URL
from ticketbridge.connectors import default_registry, spec_for
from ticketbridge.connectors.base import ConnectorSpec
from ticketbridge.enums import Vendor
from ticketbridge.sandboxes import jira, rezolve, servicenow
from ticketbridge.sandboxes.control import PREFIX
from ticketbridge.sandboxes.faults import SandboxTransport
from ticketbridge.sandboxes.rezolve.demo import IT_TEAM, TypeFields
from ticketbridge.sandboxes.servicenow.demo import DEMO_PASSWORD, DEMO_USERNAME, demo_sys_id


@asynccontextmanager
async def sandbox_client(app: FastAPI, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the in-process sandbox `app`, at its URL (faults and rate limits apply to it too,
    but for the control plane)."""
    async with httpx.AsyncClient(transport=SandboxTransport(app), base_url=base_url) as http:
        yield http


async def control(http: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
    """`method` `/__sandbox__{path}`, which must answer 2xx; its JSON, or None. Like
    `tests.support.sandboxes.control`, but through a client, so it reaches a sandbox on a socket too."""
    response = await http.request(method, f"{PREFIX}{path}", **kwargs)
    assert response.is_success, f"{method} {PREFIX}{path}: {response.status_code} {response.text}"
    return response.json() if response.content else None


class VendorCase(ABC):
    """One vendor of the registry, in the suite's sandboxes (tests/conftest.py)."""

    vendor: ClassVar[Vendor]
    #: Where the suite's sandbox of this vendor answers (tests/vendors.py).
    base_url: ClassVar[str]
    #: The fixture of tests/conftest.py that builds that sandbox.
    sandbox_fixture: ClassVar[str]
    #: What the demo data lets a connection log in with.
    credentials: ClassVar[dict[str, Any]]
    #: The project and issue type every created ticket goes to (vendor ids).
    project_vendor_id: ClassVar[str]
    type_vendor_id: ClassVar[str]
    #: Two tickets of the demo data, by display key.
    demo_keys: ClassVar[tuple[str, str]]
    #: A passthrough search that every newly created ticket matches.
    search: ClassVar[str]
    #: The most tickets one `POST /__sandbox__/seed` adds.
    seed_chunk: ClassVar[int] = 1000

    @property
    def spec(self) -> ConnectorSpec:
        return spec_for(self.vendor)

    def __str__(self) -> str:
        return str(self.vendor).lower()

    def connection(self, base_url: str | None = None, **credentials: Any) -> dict[str, Any]:
        """The admin API's connection body (without organization_id) for the demo credentials."""
        return {
            "vendor": str(self.vendor),
            "base_url": base_url or self.base_url,
            "credentials": {**self.credentials, **credentials},
        }

    def ticket(self, name: str, **fields: Any) -> dict[str, Any]:
        """An API create body the demo project accepts."""
        return {
            "name": name,
            "project_vendor_id": self.project_vendor_id,
            "type_vendor_id": self.type_vendor_id,
            **fields,
        }

    @abstractmethod
    def standalone(self, url: str) -> FastAPI:
        """A fresh sandbox served at `url` by a real server, configured as the vendor's fixture in
        tests/conftest.py configures it (Jira's at its production defaults: search lag, rate limits)."""

    @abstractmethod
    def seed_body(self, count: int) -> dict[str, Any]:
        """The shared `POST /__sandbox__/seed` body adding `count` tickets to the demo project."""

    async def seed(self, http: httpx.AsyncClient, count: int) -> None:
        for start in range(0, count, self.seed_chunk):
            await control(http, "POST", "/seed", json=self.seed_body(min(self.seed_chunk, count - start)))

    @abstractmethod
    async def count(self, http: httpx.AsyncClient) -> int:
        """Every ticket the sandbox holds for the demo credentials."""

    @abstractmethod
    def tickets(self, app: FastAPI) -> dict[str, tuple[str, str]]:
        """Vendor id -> (display key, name) of every ticket that exists now, read from the sandbox's
        state (not through any code under test)."""

    @abstractmethod
    def walk_of(self, request: httpx.Request) -> str | None:
        """ "tickets" (changes), "ids" (deletion) or None: the sync walk `request` belongs to."""

    @abstractmethod
    def id_order(self, vendor_id: str) -> Any:
        """The sort key of the deletion walk's order."""

    @abstractmethod
    async def rename(self, http: httpx.AsyncClient, key: str, name: str) -> None:
        """A person renames the ticket `key` in the vendor's UI."""

    @abstractmethod
    async def lower_priority(self, http: httpx.AsyncClient, key: str) -> str:
        """A person sets the ticket's priority to the one the default mapping reads as LOW; answers
        that normalized priority."""

    @abstractmethod
    async def delete(self, http: httpx.AsyncClient, key: str) -> None:
        """A person deletes the ticket `key`."""


class JiraCase(VendorCase):
    vendor = Vendor.JIRA
    base_url = JIRA_URL
    sandbox_fixture = "jira_sandbox"
    credentials: ClassVar[dict[str, Any]] = {"email": jira.DEMO_EMAIL, "api_token": jira.DEMO_API_TOKEN}
    project_vendor_id = jira.DEMO_PROJECT_KEY
    type_vendor_id = "10002"  # Bug
    demo_keys = ("DEMO-1", "DEMO-2")
    search = "project = DEMO ORDER BY created DESC"
    seed_chunk = 5000

    def standalone(self, url: str) -> FastAPI:
        return jira.create_app(jira.JiraSandboxConfig(base_url=url, in_process=False))

    def seed_body(self, count: int) -> dict[str, Any]:
        return {"issues": count}

    async def count(self, http: httpx.AsyncClient) -> int:
        counted: int = (await control(http, "GET", "/issues/count"))["count"]
        return counted

    def tickets(self, app: FastAPI) -> dict[str, tuple[str, str]]:
        return {str(issue.id): (issue.key, issue.summary) for issue in app.state.runtime.site.issues.values()}

    def walk_of(self, request: httpx.Request) -> str | None:
        if not request.url.path.endswith("/search/jql"):
            return None
        jql: str = json.loads(request.content)["jql"]
        return "tickets" if jql.startswith("updated >=") else "ids" if jql.startswith("id >") else None

    def id_order(self, vendor_id: str) -> Any:
        return int(vendor_id)

    async def rename(self, http: httpx.AsyncClient, key: str, name: str) -> None:
        await control(http, "POST", f"/issues/{key}/ui-edit", json={"fields": {"summary": name}})

    async def lower_priority(self, http: httpx.AsyncClient, key: str) -> str:
        await control(http, "POST", f"/issues/{key}/ui-edit", json={"fields": {"priority": {"name": "Low"}}})
        return "LOW"

    async def delete(self, http: httpx.AsyncClient, key: str) -> None:
        response = await http.delete(f"/rest/api/3/issue/{key}", auth=(jira.DEMO_EMAIL, jira.DEMO_API_TOKEN))
        assert response.status_code == 204, response.text


class RezolveCase(VendorCase):
    vendor = Vendor.REZOLVE
    base_url = REZOLVE_URL
    sandbox_fixture = "rezolve_sandbox"
    credentials: ClassVar[dict[str, Any]] = {
        "tenant_id": rezolve.DEMO_TENANT_ID,
        "realm": rezolve.DEMO_REALM,
        "client_id": rezolve.DEMO_CLIENT_ID,
        "client_secret": rezolve.DEMO_CLIENT_SECRET,
    }
    project_vendor_id = IT_TEAM
    type_vendor_id = rezolve.SERVICE_REQUEST_TYPE_ID
    demo_keys = ("REQ-0001", "REQ-0002")
    search = "status!=closed"

    def standalone(self, url: str) -> FastAPI:
        return rezolve.create_app(rezolve.RezolveSandboxConfig(base_url=url, in_process=False))

    def seed_body(self, count: int) -> dict[str, Any]:
        return {"count": count}

    async def count(self, http: httpx.AsyncClient) -> int:
        counted: int = (await control(http, "GET", "/tickets/count"))["count"]
        return counted

    def tickets(self, app: FastAPI) -> dict[str, tuple[str, str]]:
        tenant = app.state.runtime.tenant(rezolve.DEMO_TENANT_ID)
        return {
            t.id: (t.object_id, t.data.get(tenant.ticket_type(t.ticketTypeId).field_named("summary").id))
            for t in tenant.tickets.values()
        }

    def walk_of(self, request: httpx.Request) -> str | None:
        if not request.url.path.endswith("/ticket/list"):
            return None
        body = request.content.decode()
        return "tickets" if "updatedAt" in body else "ids" if "createdAt" in body else None

    def id_order(self, vendor_id: str) -> Any:
        return vendor_id

    @staticmethod
    def _fields(key: str) -> TypeFields:
        # Display ids carry their ticket type's prefix (Service Request REQ-, Incident INC-).
        return rezolve.INCIDENT_FIELDS if key.startswith("INC-") else rezolve.REQUEST_FIELDS

    async def rename(self, http: httpx.AsyncClient, key: str, name: str) -> None:
        await control(http, "POST", f"/tickets/{key}/edit", json={"ticketUpdate": {self._fields(key).summary: name}})

    async def lower_priority(self, http: httpx.AsyncClient, key: str) -> str:
        await control(http, "POST", f"/tickets/{key}/edit", json={"ticketUpdate": {self._fields(key).priority: "low"}})
        return "LOW"

    async def delete(self, http: httpx.AsyncClient, key: str) -> None:
        await control(http, "DELETE", f"/tickets/{key}")  # Rezolve's API has no delete; its UI does


class ServiceNowCase(VendorCase):
    vendor = Vendor.SERVICENOW
    base_url = SERVICENOW_URL
    sandbox_fixture = "servicenow_sandbox"
    credentials: ClassVar[dict[str, Any]] = {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}
    project_vendor_id = demo_sys_id("sys_user_group", "Service Desk")
    type_vendor_id = "network"
    demo_keys = ("INC0010001", "INC0010002")
    search = "active=true^ORDERBYnumber"
    seed_chunk = 5000

    def standalone(self, url: str) -> FastAPI:
        return servicenow.create_app(servicenow.ServiceNowSandboxConfig(base_url=url, in_process=False))

    def seed_body(self, count: int) -> dict[str, Any]:
        return {"incidents": count}

    async def count(self, http: httpx.AsyncClient) -> int:
        counted: int = (await control(http, "GET", "/tables/incident/count"))["count"]
        return counted

    def tickets(self, app: FastAPI) -> dict[str, tuple[str, str]]:
        rows = app.state.runtime.instance.rows("incident")
        return {sys_id: (row["number"], row["short_description"]) for sys_id, row in rows.items()}

    def walk_of(self, request: httpx.Request) -> str | None:
        if not request.url.path.endswith("/table/incident") or request.method != "GET":
            return None
        query = request.url.params.get("sysparm_query", "")
        if "sys_updated_on" in query:
            return "tickets"
        return "ids" if query.endswith("ORDERBYsys_id") and "IN" not in query else None

    def id_order(self, vendor_id: str) -> Any:
        return vendor_id

    async def _sys_id(self, http: httpx.AsyncClient, number: str) -> str:
        (row,) = (await self._table(http, "GET", "", params={"number": number, "sysparm_fields": "sys_id"}))["result"]
        return str(row["sys_id"])

    async def _table(self, http: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
        response = await http.request(
            method, f"/api/now/table/incident{path}", auth=(DEMO_USERNAME, DEMO_PASSWORD), **kwargs
        )
        assert response.is_success, response.text
        return response.json() if response.content else None

    async def _ui_edit(self, http: httpx.AsyncClient, key: str, fields: dict[str, str]) -> None:
        sys_id = await self._sys_id(http, key)
        await control(http, "POST", f"/tables/incident/{sys_id}/ui-edit", json={"fields": fields})

    async def rename(self, http: httpx.AsyncClient, key: str, name: str) -> None:
        await self._ui_edit(http, key, {"short_description": name})

    async def lower_priority(self, http: httpx.AsyncClient, key: str) -> str:
        await self._ui_edit(http, key, {"impact": "2", "urgency": "3"})  # the instance computes 4 - Low
        return "LOW"

    async def delete(self, http: httpx.AsyncClient, key: str) -> None:
        await self._table(http, "DELETE", f"/{await self._sys_id(http, key)}")


VENDOR_CASES: dict[Vendor, VendorCase] = {case.vendor: case for case in (JiraCase(), RezolveCase(), ServiceNowCase())}


def cases(where: Callable[[VendorCase], bool] = lambda case: True) -> list[VendorCase]:
    """The case of every vendor of the registry (that `where` keeps), for `parametrize`. A registered
    vendor without a case fails at collection, naming it."""
    missing = [str(vendor) for vendor in default_registry() if vendor not in VENDOR_CASES]
    if missing:
        pytest.fail(f"no VendorCase in tests/support/vendor_cases.py for {', '.join(missing)}", pytrace=False)
    return [VENDOR_CASES[vendor] for vendor in default_registry() if where(VENDOR_CASES[vendor])]


async def make_vendor_tenant(
    client: httpx.AsyncClient, case: VendorCase, name: str = "Acme", **credentials: Any
) -> Tenant:
    """An organization with an API key and a verified connection to `case`'s sandbox."""
    return await make_tenant(client, name, **case.connection(**credentials))


def sandbox_of(request: pytest.FixtureRequest, case: VendorCase) -> FastAPI:
    """The suite's sandbox of `case`'s vendor, the one `vendor_transport` routes to."""
    app: FastAPI = request.getfixturevalue(case.sandbox_fixture)
    return app
