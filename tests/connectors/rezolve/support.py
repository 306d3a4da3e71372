"""Helpers for the Rezolve connector tests: the connection, the sandbox's control API, items, and
a transport that lets a test step in before a given vendor request reaches the sandbox."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import CreateItem, TicketBaseline, VendorTicket
from ticketbridge.enums import ConnectionState, HealthName, Vendor
from ticketbridge.sandboxes.rezolve import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_REALM, DEMO_TENANT_ID

BASE_URL = "http://rezolve.test"
CONTROL = "/__sandbox__"


def make_connection(base_url: str = BASE_URL) -> ConnectionRead:
    now = datetime.now(UTC)
    return ConnectionRead(
        id=uuid.uuid4(),
        organization_id=uuid.uuid4(),
        vendor=Vendor.REZOLVE,
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


def credentials(**overrides: str) -> dict[str, Any]:
    return {
        "tenant_id": DEMO_TENANT_ID,
        "realm": DEMO_REALM,
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        **overrides,
    }


def make_item(n: int, **overrides: Any) -> CreateItem:
    values: dict[str, Any] = {
        "key": f"item-{n}",
        "marker": f"tb-{uuid.uuid4().hex}",
        "name": f"Ticket {n}",
        "project_vendor_id": "it",
        "type_vendor_id": "16910",
        "type_name": None,
        "description": None,
        "priority_name": None,
        "assignee_vendor_id": None,
        "parent_vendor_id": None,
        "target_status": None,
    }
    return CreateItem(**(values | overrides))


def baseline(ticket: VendorTicket, **overrides: Any) -> TicketBaseline:
    """What the store would hold for `ticket` at its version (as services pass it with If-Match)."""
    values: dict[str, Any] = {
        "version": ticket.version,
        "name": ticket.name,
        "description": ticket.description,
        "status_name": ticket.status_name,
        "priority_name": ticket.priority_name,
        "assignee_vendor_id": ticket.assignee_vendor_id,
    }
    return TicketBaseline(**(values | overrides))


@dataclass
class Control:
    """The sandbox's /__sandbox__/ API, never faulted."""

    http: httpx.AsyncClient

    async def faults(self, **faults: Any) -> None:
        response = await self.http.put(f"{CONTROL}/faults", json=faults)
        assert response.status_code == 200, response.text

    async def calls(self) -> dict[str, dict[str, int]]:
        """`{"calls": {operation: n}, "faults": {fault: n}}`: the two counts of the control plane."""
        calls = await self.http.get(f"{CONTROL}/calls")
        faults = await self.http.get(f"{CONTROL}/faults/injected")
        return {"calls": calls.json(), "faults": faults.json()}

    async def clear_calls(self) -> None:
        await self.http.delete(f"{CONTROL}/calls")

    async def edit(self, object_id: str, ticket_update: dict[str, Any]) -> str:
        """Edits the ticket as a person in Rezolve's UI; returns the new etag."""
        response = await self.http.post(f"{CONTROL}/tickets/{object_id}/edit", json={"ticketUpdate": ticket_update})
        assert response.status_code == 200, response.text
        return str(response.json()["etag"])


Hook = Callable[[httpx.Request], Awaitable[None]]


@dataclass
class SteppingTransport(httpx.AsyncBaseTransport):
    """Forwards to the sandbox; runs `hooks[(method, path suffix)]` once, before the first matching
    request goes through (a hook may raise, as a broken network would). Counts requests in flight."""

    inner: httpx.AsyncBaseTransport
    hooks: dict[tuple[str, str], Hook] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for (method, suffix), hook in list(self.hooks.items()):
            if request.method == method and request.url.path.endswith(suffix):
                del self.hooks[(method, suffix)]
                await hook(request)
        counted = request.url.path.startswith("/api/")
        if counted:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self.inner.handle_async_request(request)
        finally:
            if counted:
                self.in_flight -= 1
