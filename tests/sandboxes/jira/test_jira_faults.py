from __future__ import annotations

import random
import time

import httpx
import pytest

from tests.sandboxes.jira.jira_support import API, issue_fields
from ticketbridge.sandboxes.faults import FaultConfig, SandboxTransport
from ticketbridge.sandboxes.jira import JiraSandboxConfig, create_app

pytestmark = pytest.mark.anyio


async def set_faults(client: httpx.AsyncClient, **settings: object) -> None:
    response = await client.put("/__sandbox__/faults", json=settings)
    assert response.status_code == 200, response.text


async def demo_count(client: httpx.AsyncClient) -> int:
    count: int = (await client.get("/__sandbox__/issues/count", params={"project": "DEMO"})).json()["count"]
    return count


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_share_of_errors_answers_the_configured_status(client: httpx.AsyncClient, status: int) -> None:
    await set_faults(client, error_rate=1, error_statuses=[status])

    response = await client.post(f"{API}/issue", json={"fields": issue_fields()})

    assert response.status_code == status
    assert "errorMessages" in response.json()
    assert await demo_count(client) == 3
    assert (await client.get("/__sandbox__/faults/injected")).json() == {f"status_{status}": 1}


async def test_an_error_share_hits_about_that_share_of_requests(client: httpx.AsyncClient) -> None:
    await set_faults(client, error_rate=0.3, seed=7)

    statuses = [(await client.get(f"{API}/myself")).status_code for _ in range(200)]

    assert 40 <= sum(s >= 500 for s in statuses) <= 80


async def test_a_timeout_is_never_processed(client: httpx.AsyncClient) -> None:
    await set_faults(client, timeout_rate=1)

    with pytest.raises(httpx.ReadTimeout):
        await client.post(f"{API}/issue", json={"fields": issue_fields()})

    assert await demo_count(client) == 3


async def test_a_dropped_connection_is_not_processed(client: httpx.AsyncClient) -> None:
    await set_faults(client, drop_rate=1)

    with pytest.raises(httpx.RemoteProtocolError):
        await client.post(f"{API}/issue", json={"fields": issue_fields()})

    assert await demo_count(client) == 3


async def test_a_lost_response_means_the_write_was_applied(client: httpx.AsyncClient) -> None:
    await set_faults(client, lost_response_rate=1)

    with pytest.raises(httpx.RemoteProtocolError):
        await client.post(f"{API}/issue", json={"fields": issue_fields(labels=["tb-lost"])})
    reads = await client.get("/__sandbox__/issues/count", params={"label": "tb-lost"})

    assert reads.json() == {"count": 1}
    assert (await client.get("/__sandbox__/calls")).json() == {"createIssue": 1}


async def test_fixed_latency_delays_each_request(client: httpx.AsyncClient) -> None:
    await set_faults(client, latency_ms=60)

    started = time.perf_counter()
    response = await client.get(f"{API}/myself")

    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.06


async def test_jitter_adds_a_seeded_random_delay(client: httpx.AsyncClient) -> None:
    await set_faults(client, jitter_ms=80, seed=3)
    expected = random.Random(3).uniform(0, 80) / 1000

    started = time.perf_counter()
    await client.get(f"{API}/myself")

    assert time.perf_counter() - started >= expected


async def test_writes_only_faults_spare_reads(client: httpx.AsyncClient) -> None:
    await set_faults(client, error_rate=1, error_statuses=[503], writes_only=True)

    read = await client.get(f"{API}/myself")
    write = await client.post(f"{API}/issue", json={"fields": issue_fields()})

    assert (read.status_code, write.status_code) == (200, 503)


async def test_the_control_api_is_exempt_and_reports_the_config(client: httpx.AsyncClient) -> None:
    await set_faults(client, error_rate=1, drop_rate=1)

    response = await client.get("/__sandbox__/faults")

    assert response.status_code == 200
    assert response.json()["error_rate"] == 1


async def test_faults_can_be_configured_at_startup() -> None:
    config = JiraSandboxConfig(faults=FaultConfig(rate_limit_rate=1, retry_after_seconds=3))
    transport = SandboxTransport(create_app(config))

    async with httpx.AsyncClient(transport=transport, base_url="http://jira.test") as http:
        response = await http.get(f"{API}/serverInfo")

    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
