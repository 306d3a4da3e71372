from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from tests.sandboxes.jira.jira_support import API, create_issue
from ticketbridge.sandboxes.jira.config import RateLimitConfig
from ticketbridge.sandboxes.jira.ratelimit import RateLimiter

pytestmark = pytest.mark.anyio


async def limit(client: httpx.AsyncClient, **settings: object) -> None:
    response = await client.put("/__sandbox__/rate-limits", json={"enabled": True} | settings)
    assert response.status_code == 200, response.text


async def test_the_tests_sandbox_is_unthrottled(client: httpx.AsyncClient) -> None:
    """The fixture turns the limits off explicitly (they are on by default, at Jira's values)."""
    statuses = {(await client.get(f"{API}/myself")).status_code for _ in range(150)}

    assert statuses == {200}
    assert (await client.get("/__sandbox__/rate-limits")).json()["enabled"] is False


async def test_burst_limit_answers_429_with_jiras_headers(client: httpx.AsyncClient) -> None:
    await limit(client, get_per_second=3)

    responses = [await client.get(f"{API}/myself") for _ in range(4)]

    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    throttled = responses[-1]
    assert throttled.headers["retry-after"] == "1"
    assert throttled.headers["x-ratelimit-limit"] == "3"
    assert throttled.headers["x-ratelimit-remaining"] == "0"
    assert throttled.headers["ratelimit-reason"] == "jira-burst-based"
    assert datetime.strptime(throttled.headers["x-ratelimit-reset"], "%Y-%m-%dT%H:%M:%SZ")


async def test_burst_buckets_are_per_endpoint_and_method(client: httpx.AsyncClient) -> None:
    await limit(client, get_per_second=1)

    first = await client.get(f"{API}/myself")
    other_endpoint = await client.get(f"{API}/priority")
    again = await client.get(f"{API}/myself")

    assert (first.status_code, other_endpoint.status_code, again.status_code) == (200, 200, 429)


async def test_per_issue_write_limit_throttles_only_that_issue(client: httpx.AsyncClient) -> None:
    busy = await create_issue(client)
    quiet = await create_issue(client)
    await limit(client, issue_writes_short=2)

    writes = [await client.put(f"{API}/issue/{busy}", json={"fields": {"summary": f"v{n}"}}) for n in range(3)]
    other = await client.put(f"{API}/issue/{quiet}", json={"fields": {"summary": "fine"}})

    assert [w.status_code for w in writes] == [204, 204, 429]
    assert writes[-1].headers["ratelimit-reason"] == "jira-per-issue-on-write"
    assert other.status_code == 204


def test_buckets_refill_at_the_steady_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(RateLimitConfig(enabled=True, post_per_second=2), clock=lambda: now[0])

    assert limiter.admit("POST", "/x", None) is None
    assert limiter.admit("POST", "/x", None) is None
    refused = limiter.admit("POST", "/x", None)
    now[0] = 0.5

    assert refused is not None and refused.retry_after_seconds == pytest.approx(0.5)
    assert limiter.admit("POST", "/x", None) is None


def test_per_issue_long_window_applies_after_the_short_one_clears() -> None:
    now = [0.0]
    config = RateLimitConfig(enabled=True, issue_writes_short=100, issue_writes_long=3)
    limiter = RateLimiter(config, clock=lambda: now[0])

    for step in range(3):
        now[0] = step * 5.0
        assert limiter.admit("PUT", f"/r{step}", "10001") is None
    now[0] = 20.0
    refused = limiter.admit("PUT", "/r9", "10001")
    now[0] = 30.5

    assert refused is not None and refused.limit == 3
    assert limiter.admit("PUT", "/r9", "10001") is None
