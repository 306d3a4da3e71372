"""Helpers for the ServiceNow connector tests: the connection, credentials, items, a transport that
records every request the connector sends, and a Table API client acting as the instance's admin."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import CreateItem
from ticketbridge.enums import ConnectionState, HealthName, Vendor
from ticketbridge.sandboxes.servicenow.demo import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    demo_sys_id,
)

BASE_URL = "http://servicenow.test"
CONTROL = "/__sandbox__"
SERVICE_DESK = demo_sys_id("sys_user_group", "Service Desk")
NETWORK = demo_sys_id("sys_user_group", "Network")
BETH = demo_sys_id("sys_user", "beth.anglin")
DAVID = demo_sys_id("sys_user", "david.loo")


def make_connection(base_url: str = BASE_URL) -> ConnectionRead:
    now = datetime.now(UTC)
    return ConnectionRead(
        id=uuid.uuid4(),
        organization_id=uuid.uuid4(),
        vendor=Vendor.SERVICENOW,
        state=ConnectionState.ACTIVE,
        base_url=base_url,
        status_mapping={},
        priority_mapping={},
        refresh_interval_secs=21600,
        timeout_secs=1800,
        health_name=HealthName.HEALTHY,
        health_description=None,
        last_synced_at=None,
        created_at=now,
        updated_at=now,
    )


def credentials(**overrides: Any) -> dict[str, Any]:
    return {"username": DEMO_USERNAME, "password": DEMO_PASSWORD, **overrides}


def oauth_credentials(**overrides: Any) -> dict[str, Any]:
    return credentials(**{"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET, **overrides})


def make_item(n: int, **overrides: Any) -> CreateItem:
    values: dict[str, Any] = {
        "key": f"item-{n}",
        "marker": f"tb-{uuid.uuid4().hex[:24]}",
        "name": f"Incident {n}",
        "project_vendor_id": SERVICE_DESK,
        "type_vendor_id": "network",
        "type_name": None,
        "description": None,
        "priority_name": None,
        "assignee_vendor_id": None,
        "parent_vendor_id": None,
        "target_status": None,
        **overrides,
    }
    return CreateItem(**values)


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
        response = await self.http.put(f"{CONTROL}/faults", json=config)
        assert response.is_success, response.text

    async def calls(self) -> dict[str, int]:
        response = await self.http.get(f"{CONTROL}/calls")
        assert response.is_success, response.text
        calls: dict[str, int] = response.json()
        return calls
