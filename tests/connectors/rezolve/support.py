"""Helpers for the Rezolve connector tests: the connection, the sandbox's control API, items, and
a transport that lets a test step in before a given vendor request reaches the sandbox. What every
vendor's connector tests share lives in tests/support/connectors.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support import connectors
from tests.support.connectors import baseline
from tests.support.vendor_cases import VENDOR_CASES, control
from tests.vendors import REZOLVE_URL as BASE_URL
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import CreateItem
from ticketbridge.enums import Vendor
from ticketbridge.sandboxes.control import PREFIX as CONTROL

__all__ = [
    "BASE_URL",
    "CONTROL",
    "Control",
    "SteppingTransport",
    "baseline",
    "credentials",
    "make_connection",
    "make_item",
]

CASE = VENDOR_CASES[Vendor.REZOLVE]


def make_connection(base_url: str = BASE_URL) -> ConnectionRead:
    return connectors.make_connection(Vendor.REZOLVE, base_url)


def credentials(**overrides: str) -> dict[str, Any]:
    return {**CASE.credentials, **overrides}


def make_item(n: int, **overrides: Any) -> CreateItem:
    """Item `n`, a Service Request of the IT team unless `overrides` say otherwise."""
    target = {"project_vendor_id": CASE.project_vendor_id, "type_vendor_id": CASE.type_vendor_id} | overrides
    return connectors.make_item(n, **target)


@dataclass
class Control:
    """The sandbox's /__sandbox__/ API, never faulted."""

    http: httpx.AsyncClient

    async def faults(self, **faults: Any) -> None:
        await control(self.http, "PUT", "/faults", json=faults)

    async def calls(self) -> dict[str, dict[str, int]]:
        """`{"calls": {operation: n}, "faults": {fault: n}}`: the two counts of the control plane."""
        return {
            "calls": await control(self.http, "GET", "/calls"),
            "faults": await control(self.http, "GET", "/faults/injected"),
        }

    async def clear_calls(self) -> None:
        await control(self.http, "DELETE", "/calls")

    async def edit(self, object_id: str, ticket_update: dict[str, Any]) -> str:
        """Edits the ticket as a person in Rezolve's UI; returns the new etag."""
        edited = await control(self.http, "POST", f"/tickets/{object_id}/edit", json={"ticketUpdate": ticket_update})
        return str(edited["etag"])


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
