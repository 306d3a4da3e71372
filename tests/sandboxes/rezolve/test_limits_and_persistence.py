"""Optional per-second throttling and optional persistence across restarts."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ticketbridge.sandboxes.faults import SandboxTransport
from ticketbridge.sandboxes.rezolve import RezolveSandboxConfig, create_app
from ticketbridge.sandboxes.rezolve.config import RateLimitConfig

from .support import BASE_URL, QUERY, TICKETS, api_headers, create_request, fetch_token, get_ticket

pytestmark = pytest.mark.anyio


async def test_per_second_limit_answers_429_with_retry_after() -> None:
    app = create_app(RezolveSandboxConfig(rate_limits=RateLimitConfig(enabled=True, requests_per_second=2)))
    async with httpx.AsyncClient(transport=SandboxTransport(app), base_url=BASE_URL) as client:
        headers = api_headers(await fetch_token(client))
        responses = [await client.get(f"{TICKETS}/REQ-0001", params=QUERY, headers=headers) for _ in range(3)]

    assert [response.status_code for response in responses] == [200, 200, 429]
    assert responses[1].headers["x-ratelimit-remaining"] == "0"
    assert responses[2].headers["retry-after"] == "1"
    assert responses[2].json()["code"] == "RATE_LIMIT_EXCEEDED"


async def test_persisted_tickets_survive_a_restart(tmp_path: Path) -> None:
    config = RezolveSandboxConfig(persist_path=tmp_path / "rezolve.json")
    async with httpx.AsyncClient(transport=SandboxTransport(create_app(config)), base_url=BASE_URL) as client:
        created = await create_request(client, api_headers(await fetch_token(client)), "Survives restarts")

    async with httpx.AsyncClient(transport=SandboxTransport(create_app(config)), base_url=BASE_URL) as client:
        ticket = await get_ticket(client, api_headers(await fetch_token(client)), created["objectId"])

    assert ticket["etag"] == created["etag"]


async def test_without_demo_seed_the_tenant_starts_without_tickets() -> None:
    app = create_app(RezolveSandboxConfig(seed_demo=False))
    async with httpx.AsyncClient(transport=SandboxTransport(app), base_url=BASE_URL) as client:
        headers = api_headers(await fetch_token(client))
        listed = await client.post(f"{TICKETS}/list", params=QUERY, headers=headers, json={})
        created = await create_request(client, headers)

    assert listed.json()["data"]["pagination"]["total"] == 0
    assert created["objectId"] == "REQ-0001"


async def test_the_limit_is_set_through_the_control_plane(client: httpx.AsyncClient) -> None:
    off = (await client.get("/__sandbox__/rate-limits")).json()
    put = await client.put("/__sandbox__/rate-limits", json={"enabled": True, "requests_per_second": 1})
    headers = api_headers(await fetch_token(client))
    responses = [await client.get(f"{TICKETS}/REQ-0001", params=QUERY, headers=headers) for _ in range(2)]

    assert off == {"enabled": False, "requests_per_second": 10}
    assert put.status_code == 200 and put.json() == {"enabled": True, "requests_per_second": 1}
    assert [response.status_code for response in responses] == [200, 429]
