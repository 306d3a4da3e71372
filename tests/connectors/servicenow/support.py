"""Helpers for the ServiceNow connector tests: the connection, credentials, items, a transport that
records every request the connector sends, and a Table API client acting as the instance's admin.
What every vendor's connector tests share lives in tests/support/connectors.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support import connectors
from tests.support.vendor_cases import VENDOR_CASES, control
from tests.vendors import SERVICENOW_URL as BASE_URL
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import CreateItem
from ticketbridge.enums import Vendor
from ticketbridge.sandboxes.control import PREFIX
from ticketbridge.sandboxes.servicenow.demo import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    demo_sys_id,
)

CONTROL = PREFIX
CASE = VENDOR_CASES[Vendor.SERVICENOW]
SERVICE_DESK = CASE.project_vendor_id
NETWORK = demo_sys_id("sys_user_group", "Network")
BETH = demo_sys_id("sys_user", "beth.anglin")
DAVID = demo_sys_id("sys_user", "david.loo")


def make_connection(base_url: str = BASE_URL) -> ConnectionRead:
    return connectors.make_connection(Vendor.SERVICENOW, base_url)


def credentials(**overrides: Any) -> dict[str, Any]:
    return {**CASE.credentials, **overrides}


def oauth_credentials(**overrides: Any) -> dict[str, Any]:
    return credentials(**{"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET, **overrides})


def make_item(n: int, **overrides: Any) -> CreateItem:
    """Incident `n`, of the Service Desk's network category unless `overrides` say otherwise."""
    target = {"name": f"Incident {n}", "project_vendor_id": SERVICE_DESK, "type_vendor_id": CASE.type_vendor_id}
    return connectors.make_item(n, **(target | overrides))


@dataclass
class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes every request on, and remembers it as "METHOD /path"."""

    inner: httpx.AsyncBaseTransport
    sent: list[str] = field(default_factory=list)
    #: The encoded query of every list read, in order.
    queries: list[str] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(f"{request.method} {request.url.path}")
        if "sysparm_query" in request.url.params:
            self.queries.append(request.url.params["sysparm_query"])
        return await self.inner.handle_async_request(request)

    def writes(self) -> list[str]:
        return [line for line in self.sent if not line.startswith("GET ")]


class Instance:
    """The instance as its admin sees it, through the Table API and the control plane."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def incidents(self, query: str) -> list[dict[str, Any]]:
        response = await self.http.get(
            "/api/now/table/incident",
            params={"sysparm_query": query, "sysparm_exclude_reference_link": "true"},
            auth=(DEMO_USERNAME, DEMO_PASSWORD),
        )
        assert response.status_code == 200, response.text
        result: list[dict[str, Any]] = response.json()["result"]
        return result

    async def edit(self, sys_id: str, values: dict[str, Any]) -> dict[str, Any]:
        """A person's edit in the instance (sys_mod_count moves on)."""
        response = await self.http.patch(
            f"/api/now/table/incident/{sys_id}", json=values, auth=(DEMO_USERNAME, DEMO_PASSWORD)
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()["result"]
        return result

    async def faults(self, **config: Any) -> None:
        await control(self.http, "PUT", "/faults", json=config)

    async def calls(self) -> dict[str, int]:
        calls: dict[str, int] = await control(self.http, "GET", "/calls")
        return calls
