"""Rate limits as Atlassian documents them now: the hourly points quota, and the headers of every answer
and every 429 (the limiter's, the bulk-task cap's and injected ones)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from tests.sandboxes.jira.jira_support import API
from ticketbridge.sandboxes.jira import DEMO_OAUTH_TOKEN, JiraSandboxConfig, RateLimitConfig
from ticketbridge.sandboxes.jira.config import JiraSandboxConfig as Config
from ticketbridge.sandboxes.jira.ratelimit import RateLimiter

pytestmark = pytest.mark.anyio
BEARER = {"Authorization": f"Bearer {DEMO_OAUTH_TOKEN}"}
REFUSAL_HEADERS = {
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-nearlimit",
    "ratelimit-reason",
}


async def limit(client: httpx.AsyncClient, **settings: object) -> None:
    response = await client.put("/__sandbox__/rate-limits", json={"enabled": True} | settings)
    assert response.status_code == 200, response.text


def _refusal_headers(response: httpx.Response) -> set[str]:
    return {name for name in REFUSAL_HEADERS if name in response.headers}


def test_limits_are_on_by_default_at_jiras_documented_values(sandbox_config: JiraSandboxConfig) -> None:
    limits = Config().rate_limits

    assert limits.enabled is True
    assert (limits.get_per_second, limits.post_per_second, limits.put_per_second, limits.delete_per_second) == (
        100,
        100,
        50,
        50,
    )
    assert (limits.issue_writes_short, limits.issue_window_short_seconds) == (20, 2)
    assert (limits.issue_writes_long, limits.issue_window_long_seconds) == (100, 30)
    assert (limits.quota_points_per_hour, limits.quota_applies_to) == (65_000, "oauth")
    assert sandbox_config.rate_limits.enabled is False  # the tests' fixture, explicitly


async def test_every_answer_carries_the_burst_headers_and_near_limit_under_20_percent(
    client: httpx.AsyncClient,
) -> None:
    await limit(client, get_per_second=10)

    answers = [await client.get(f"{API}/issue/DEMO-{n}") for n in (1, 2, 404, 3, 4, 5, 6, 7, 8)]

    assert [a.headers["x-ratelimit-remaining"] for a in answers] == [str(n) for n in range(9, 0, -1)]
    assert {a.headers["x-ratelimit-limit"] for a in answers} == {"10"}
    assert answers[2].status_code == 404  # errors carry them too
    assert [a.headers.get("x-ratelimit-nearlimit") for a in answers[-2:]] == [None, "true"]
    assert "retry-after" not in answers[-1].headers and "ratelimit-reason" not in answers[-1].headers


async def test_the_hourly_quota_charges_oauth_traffic_by_points(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    await limit(client, quota_points_per_hour=10)
    oauth = anonymous

    issue = await oauth.get(f"{API}/issue/DEMO-1", headers=BEARER)  # 1 + 1 issue
    search = await oauth.post(f"{API}/search/jql", json={"jql": "project = DEMO"}, headers=BEARER)  # 1 + 3
    write = await oauth.put(f"{API}/issue/DEMO-1", json={"fields": {"summary": "x"}}, headers=BEARER)  # 1
    myself = await oauth.get(f"{API}/myself", headers=BEARER)  # 1 + 2 for a user
    api_token = await client.get(f"{API}/issue/DEMO-1")  # API-token traffic: not under the quota

    assert issue.headers["ratelimit-policy"] == '"global-app-quota";q=10;w=3600'
    assert (issue.headers["x-ratelimit-limit"], issue.headers["x-ratelimit-remaining"]) == ("10", "8")
    assert search.headers["x-ratelimit-remaining"] == "4"
    assert "x-ratelimit-nearlimit" not in search.headers
    assert write.headers["x-ratelimit-remaining"] == "3"
    assert "x-ratelimit-nearlimit" not in write.headers
    assert (myself.status_code, myself.headers["x-ratelimit-remaining"]) == (200, "0")
    assert myself.headers["x-ratelimit-nearlimit"] == "true"
    assert api_token.headers["x-ratelimit-limit"] == "100"  # the burst bucket's
    assert "ratelimit-policy" not in api_token.headers


async def test_a_spent_quota_denies_everything_until_the_top_of_the_hour(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    await limit(client, quota_points_per_hour=2, quota_pool="tenant")
    await anonymous.get(f"{API}/issue/DEMO-1", headers=BEARER)

    refused = [await anonymous.get(path, headers=BEARER) for path in (f"{API}/myself", f"{API}/priority")]
    api_token = await client.get(f"{API}/myself")

    now = datetime.now(UTC)
    seconds_left = 3600 - (now.minute * 60 + now.second)
    for response in refused:
        assert response.status_code == 429
        assert _refusal_headers(response) == REFUSAL_HEADERS
        assert response.headers["ratelimit-reason"] == "jira-quota-tenant-based"
        assert response.headers["x-ratelimit-limit"] == "2"
        assert abs(int(response.headers["retry-after"]) - seconds_left) <= 2
        assert response.headers["x-ratelimit-reset"].endswith(":00:00Z")
    assert api_token.status_code == 200


def test_the_quota_resets_at_the_top_of_each_utc_hour() -> None:
    wall = [7200.0 + 3590]
    limiter = RateLimiter(RateLimitConfig(quota_points_per_hour=3), clock=lambda: 0.0, wall_clock=lambda: wall[0])

    assert limiter.admit("GET", "/x", None, quota=True) is None
    limiter.charge(3)
    refused = limiter.admit("GET", "/y", None, quota=True)
    wall[0] = 3 * 3600 + 1

    assert refused is not None and refused.retry_after_seconds == pytest.approx(10)
    assert limiter.admit("GET", "/z", None, quota=True) is None


async def test_every_429_carries_the_same_headers(client: httpx.AsyncClient) -> None:
    await limit(client, get_per_second=1)
    await client.get(f"{API}/myself")
    burst = await client.get(f"{API}/myself")
    await limit(client, issue_writes_short=1)
    await client.put(f"{API}/issue/DEMO-1", json={"fields": {"summary": "a"}})
    per_issue = await client.put(f"{API}/issue/DEMO-1", json={"fields": {"summary": "b"}})
    await client.put("/__sandbox__/rate-limits", json={"enabled": False})
    await client.post("/__sandbox__/seed", json={"issues": 60, "project": "DEMO"})
    body = {"bulkTransitionInputs": [{"selectedIssueIdsOrKeys": [f"DEMO-{n}" for n in range(4, 64)],
                                      "transitionId": "11"}]}  # fmt: skip
    for _ in range(5):
        await client.post(f"{API}/bulk/issues/transition", json=body)
    capped = await client.post(f"{API}/bulk/issues/transition", json=body)
    await client.put("/__sandbox__/faults", json={"rate_limit_rate": 1, "retry_after_seconds": 7})
    injected = await client.get(f"{API}/myself")
    await client.put("/__sandbox__/faults", json={})

    for response in (burst, per_issue, capped, injected):
        assert response.status_code == 429
        assert _refusal_headers(response) == REFUSAL_HEADERS, response.headers
    assert [r.headers["ratelimit-reason"] for r in (burst, per_issue, capped, injected)] == [
        "jira-burst-based",
        "jira-per-issue-on-write",
        "jira-burst-based",
        "jira-burst-based",
    ]
    assert list(capped.json()) == ["errors"]  # still the bulk operations' error shape
    assert injected.headers["retry-after"] == "7"
    assert injected.headers["content-type"] == "application/json;charset=UTF-8"


async def test_a_configurable_share_of_injected_503s_carries_retry_after(client: httpx.AsyncClient) -> None:
    faults = {"error_rate": 1, "error_statuses": [503], "retry_after_seconds": 4}
    await client.put("/__sandbox__/faults", json=faults | {"retry_after_503_rate": 1})
    with_header = await client.get(f"{API}/myself")
    await client.put("/__sandbox__/faults", json=faults)
    without = await client.get(f"{API}/myself")
    await client.put("/__sandbox__/faults", json=faults | {"retry_after_503_rate": 0.5, "seed": 7})
    shares = [("retry-after" in (await client.get(f"{API}/myself")).headers) for _ in range(200)]
    await client.put("/__sandbox__/faults", json={})

    assert (with_header.status_code, with_header.headers["retry-after"]) == (503, "4")
    assert without.status_code == 503 and "retry-after" not in without.headers
    assert 60 < sum(shares) < 140
