"""Each Rezolve answer classified once, into the connector errors, by the client itself."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from ticketbridge.connectors.base import MetadataCache
from ticketbridge.connectors.errors import (
    VendorNotFound,
    VendorOutcomeUnknown,
    VendorRejected,
    VendorRetriable,
)
from ticketbridge.connectors.rezolve.client import EtagMismatch, RezolveClient
from ticketbridge.connectors.rezolve.tokens import token_cache_for
from ticketbridge.sandboxes.rezolve import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REALM,
    DEMO_TENANT_ID,
    REQUEST_FIELDS,
)

from .support import BASE_URL, Control, SteppingTransport

TOKEN_URL = f"{BASE_URL}/auth/realms/{DEMO_REALM}/protocol/openid-connect/token"


@pytest.fixture
async def client(transport: SteppingTransport) -> AsyncIterator[RezolveClient]:
    http = httpx.AsyncClient(transport=transport, base_url=BASE_URL)
    tokens = token_cache_for(
        MetadataCache(), token_url=TOKEN_URL, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET
    )
    client = RezolveClient(
        http,
        tenant_id=DEMO_TENANT_ID,
        realm=DEMO_REALM,
        token_url=TOKEN_URL,
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        tokens=tokens,
    )
    yield client
    await client.aclose()


async def test_a_stale_etag_is_an_etag_mismatch(client: RezolveClient) -> None:
    with pytest.raises(EtagMismatch):
        await client.update_ticket("REQ-0001", "b5f8c028-924c-4e2c-af9e-eed4aa584e99", {REQUEST_FIELDS.priority: "low"})


async def test_invalid_values_are_rejected_with_the_field_uuids(client: RezolveClient) -> None:
    etag = (await client.get_ticket("REQ-0001"))["etag"]

    with pytest.raises(VendorRejected) as caught:
        await client.update_ticket("REQ-0001", etag, {REQUEST_FIELDS.priority: "urgent"})

    assert caught.value.field_errors == {REQUEST_FIELDS.priority: "Invalid option 'urgent'"}


async def test_a_bad_filter_is_rejected(client: RezolveClient) -> None:
    with pytest.raises(VendorRejected) as caught:
        await client.list_tickets({"filter": {"op": "AND", "operand": [{"column": "nope", "op": "EQ", "operand": 1}]}})

    assert caught.value.status_code == 422


async def test_a_missing_ticket_is_not_found(client: RezolveClient) -> None:
    with pytest.raises(VendorNotFound, match=r"Ticket not found \(REQ-9999\)"):
        await client.get_ticket("REQ-9999")


@pytest.mark.parametrize(
    ("faults", "status"),
    [
        ({"rate_limit_rate": 1, "retry_after_seconds": 7}, 429),
        ({"error_rate": 1, "error_statuses": [503]}, 503),
    ],
)
async def test_throttling_and_server_errors_are_retriable(
    client: RezolveClient, control: Control, faults: dict[str, object], status: int
) -> None:
    await control.faults(**faults)

    with pytest.raises(VendorRetriable) as caught:
        await client.get_ticket("REQ-0001")

    assert caught.value.status_code == status
    assert caught.value.retry_after == (7 if status == 429 else None)


async def test_a_write_without_an_answer_has_an_unknown_outcome_a_read_is_retriable(
    client: RezolveClient, control: Control
) -> None:
    await control.faults(timeout_rate=1)

    with pytest.raises(VendorOutcomeUnknown):
        await client.create_ticket("it", "16910", {"summary": "x"})
    with pytest.raises(VendorRetriable) as caught:
        await client.list_tickets({})

    assert not isinstance(caught.value, VendorOutcomeUnknown)


async def test_an_unreachable_host_is_retriable_even_for_a_write(
    client: RezolveClient, transport: SteppingTransport
) -> None:
    await client.get_ticket("REQ-0001")  # the token is cached; the next call cannot connect

    async def refuse(request: httpx.Request) -> None:
        raise httpx.ConnectError("connection refused", request=request)

    transport.hooks[("POST", "/create/it/16910")] = refuse

    with pytest.raises(VendorRetriable) as caught:
        await client.create_ticket("it", "16910", {"summary": "x"})

    assert not isinstance(caught.value, VendorOutcomeUnknown)


async def test_the_seed_headers_go_with_every_call(client: RezolveClient, transport: SteppingTransport) -> None:
    seen: list[httpx.Headers] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request.headers)

    transport.hooks[("GET", "/ticket/REQ-0001")] = record

    await client.get_ticket("REQ-0001")

    headers = seen[0]
    assert headers["x-tenantid"] == DEMO_TENANT_ID and headers["realmname"] == DEMO_REALM
    assert headers["authorization"].startswith("Bearer ") and headers["issupportrequest"] == "false"
