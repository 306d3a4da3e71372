"""Faults injected through the shared FaultMiddleware, in Rezolve's error shape, set over HTTP."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from ticketbridge.sandboxes.rezolve import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

from .support import QUERY, TICKETS, get_ticket, token_path

pytestmark = pytest.mark.anyio


async def set_faults(client: httpx.AsyncClient, **faults: Any) -> None:
    response = await client.put("/__sandbox__/faults", json=faults)
    assert response.status_code == 200, response.text


async def create(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post(f"{TICKETS}/create/it/16910", params=QUERY, headers=headers, json={"summary": "Faulty"})


async def test_faults_are_read_back_as_set(client: httpx.AsyncClient) -> None:
    await set_faults(client, error_rate=0.25, error_statuses=[503], seed=7)

    faults = (await client.get("/__sandbox__/faults")).json()

    assert (faults["error_rate"], faults["error_statuses"], faults["seed"]) == (0.25, [503], 7)


async def test_server_errors_come_in_rezolve_shape_and_are_counted(
    client: httpx.AsyncClient, writer: dict[str, str]
) -> None:
    await set_faults(client, error_rate=1, error_statuses=[503])

    response = await client.get(f"{TICKETS}/REQ-0001", params=QUERY, headers=writer)

    assert response.status_code == 503
    assert response.json() == {"error": True, "message": "Internal server error", "status": 503}
    assert (await client.get("/__sandbox__/faults/injected")).json() == {"status_503": 1}
    assert "getTicket" not in (await client.get("/__sandbox__/calls")).json()


async def test_throttling_answers_429_with_retry_after(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    await set_faults(client, rate_limit_rate=1, retry_after_seconds=7)

    response = await client.get(f"{TICKETS}/REQ-0001", params=QUERY, headers=writer)

    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json() == {
        "error": True,
        "code": "RATE_LIMIT_EXCEEDED",
        "message": "Too many requests",
        "status": 429,
    }


async def test_timeout_raises_read_timeout_and_nothing_is_written(
    client: httpx.AsyncClient, writer: dict[str, str]
) -> None:
    await set_faults(client, timeout_rate=1)

    with pytest.raises(httpx.ReadTimeout):
        await create(client, writer)

    assert (await client.get("/__sandbox__/calls")).json().get("createTicket") is None


async def test_dropped_connection_raises_a_protocol_error(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    await set_faults(client, drop_rate=1)

    with pytest.raises(httpx.RemoteProtocolError):
        await create(client, writer)


async def test_lost_response_still_creates_the_ticket(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    await set_faults(client, lost_response_rate=1)

    with pytest.raises(httpx.RemoteProtocolError):
        await create(client, writer)

    await set_faults(client)
    assert (await get_ticket(client, writer, "REQ-0003"))["source"] == "api"


async def test_latency_delays_vendor_calls(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    await set_faults(client, latency_ms=60)

    started = time.perf_counter()
    await get_ticket(client, writer, "REQ-0001")

    assert time.perf_counter() - started >= 0.06


async def test_token_endpoint_and_control_api_are_never_faulted(client: httpx.AsyncClient) -> None:
    await set_faults(client, error_rate=1, timeout_rate=1)
    form = {
        "grant_type": "client_credentials",
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
    }

    token = await client.post(token_path(), data=form)
    calls = await client.get("/__sandbox__/calls")

    assert token.status_code == 200
    assert calls.status_code == 200
