"""What connector tests of every vendor build: a connection row as services pass it, connectors of
it, create items, and the stored baseline of a ticket."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from ticketbridge.connectors import ConnectorFactory
from ticketbridge.connectors.base import Connector
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import CreateItem, TicketBaseline, VendorTicket
from ticketbridge.enums import ConnectionState, HealthName, Vendor
from ticketbridge.state import Runtime

T = TypeVar("T", bound=httpx.AsyncBaseTransport)


def make_connection(vendor: Vendor, base_url: str) -> ConnectionRead:
    """An ACTIVE connection of `vendor` at `base_url`, with the default mappings."""
    now = datetime.now(UTC)
    return ConnectionRead(
        id=uuid.uuid4(),
        organization_id=uuid.uuid4(),
        vendor=vendor,
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


@asynccontextmanager
async def connectors_of(
    factory: ConnectorFactory, connection: ConnectionRead, credentials: dict[str, Any]
) -> AsyncIterator[Callable[..., Connector]]:
    """Builds connectors of `connection` (so one metadata cache), each with `credentials` and the call's
    keyword overrides over them; every one built is closed on exit."""
    built: list[Connector] = []

    def build(**overrides: Any) -> Connector:
        connector = factory.build(connection, {**credentials, **overrides})
        assert connector.vendor is connection.vendor
        built.append(connector)
        return connector

    try:
        yield build
    finally:
        for connector in built:
            await connector.aclose()


def make_item(n: int, *, project_vendor_id: str, type_vendor_id: str, **overrides: Any) -> CreateItem:
    """Item `n` with a fresh marker (24 hex digits after `tb-`: short enough for every marker field)."""
    values: dict[str, Any] = {
        "key": f"item-{n}",
        "marker": f"tb-{uuid.uuid4().hex[:24]}",
        "name": f"Ticket {n}",
        "project_vendor_id": project_vendor_id,
        "type_vendor_id": type_vendor_id,
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


def reroute(runtime: Runtime, wrap: Callable[[httpx.AsyncBaseTransport], T]) -> T:
    """Puts `wrap(the transport the runtime reaches its sandboxes by)` in its place, for the
    operations that follow (a test's hand on the network): the connection caches stay, the pools and
    their rate-limit gates are new ones over the wrapped transport."""
    transport = runtime.connectors.transport
    assert transport is not None, "the test runtime reaches its sandboxes through a transport"
    wrapped = wrap(transport)
    runtime.connectors = dataclasses.replace(runtime.connectors, transport=wrapped)
    return wrapped
