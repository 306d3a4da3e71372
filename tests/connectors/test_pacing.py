"""A vendor connection's rate-limit gates (`connectors.pacing`), through its pooled transport against
the Jira sandbox's burst limits: no 429 spent on a burst the vendor's headers announce, one 429 holding
the requests behind it, a turn too far off refused before it is sent, and writes before reads."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.sandboxes.jira.jira_support import API, issue_fields
from tests.vendors import JIRA_URL
from ticketbridge.connectors.errors import VendorRetriable
from ticketbridge.connectors.http import ConnectionTransports, RetryPolicy, build_client, with_retries
from ticketbridge.connectors.jira.client import JiraClient
from ticketbridge.connectors.pacing import WRITE_EXTENSION, reset_seconds
from ticketbridge.sandboxes import jira
from ticketbridge.sandboxes.faults import SandboxTransport

AUTH = httpx.BasicAuth(jira.DEMO_EMAIL, jira.DEMO_API_TOKEN)
ISSUES = [{"fields": issue_fields()}]


class Recorded(httpx.AsyncBaseTransport):
    """The pool's transport: the in-process sandbox, and the order requests reached it in."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = SandboxTransport(app)
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request.headers.get("x-name", ""))
        return await self.inner.handle_async_request(request)


@pytest.fixture
def recorded(jira_sandbox: FastAPI) -> Recorded:
    return Recorded(jira_sandbox)


@pytest.fixture
async def client(recorded: Recorded) -> AsyncIterator[httpx.AsyncClient]:
    """One operation's client on one connection's pool (so on its gates)."""
    transports = ConnectionTransports(build=lambda proxy: recorded)
    http = build_client(JIRA_URL, auth=AUTH, transport=transports.lease("connection", "v1"), timeout_secs=5)
    yield http
    await http.aclose()


@pytest.fixture
async def control(jira_sandbox: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox directly, past the gates: its control plane, and a client of its own."""
    async with httpx.AsyncClient(transport=SandboxTransport(jira_sandbox), base_url=JIRA_URL, auth=AUTH) as http:
        yield http


async def limit(control: httpx.AsyncClient, **settings: Any) -> None:
    response = await control.put("/__sandbox__/rate-limits", json={"enabled": True} | settings)
    assert response.status_code == 200, response.text


async def creates_seen(control: httpx.AsyncClient) -> int:
    calls: dict[str, int] = (await control.get("/__sandbox__/calls")).json()
    return calls.get("createIssues", 0)


async def create(client: httpx.AsyncClient, policy: RetryPolicy | None = None) -> dict[str, Any]:
    jira_client = JiraClient(client)
    return await with_retries(
        partial(jira_client.create_issues, ISSUES), policy=policy or RetryPolicy(), operation="c", idempotent=False
    )


async def test_a_burst_on_a_fresh_connection_spends_no_429(
    client: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    """The first answer names the bucket; the rest of the burst goes as it refills, none refused."""
    await limit(control, post_per_second=4)

    created = await asyncio.gather(*(create(client) for _ in range(8)))

    assert all(body.get("issues") for body in created)
    assert await creates_seen(control) == 8


async def test_a_429_holds_the_requests_behind_it_until_its_retry_after(
    client: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    """Another client spent the bucket: the first request collects the 429, the others wait at the
    gate for its Retry-After instead of each collecting one."""
    await limit(control, post_per_second=2)
    for _ in range(2):
        assert (await control.post(f"{API}/issue/bulk", json={"issueUpdates": ISSUES})).status_code == 201

    created = await asyncio.gather(*(create(client) for _ in range(3)))

    assert all(body.get("issues") for body in created)
    assert await creates_seen(control) == 2 + 3 + 1


async def test_a_turn_further_off_than_the_inline_wait_is_refused_without_sending(
    client: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    """A bucket of a twentieth of a token: every POST is refused for about 19 s. The first request
    learns it from the vendor; the next one is refused here, never sent, so even a write may go again."""
    await limit(control, post_per_second=0.05)
    policy = RetryPolicy(max_inline_wait=5.0)

    with pytest.raises(VendorRetriable) as first:
        await create(client, policy)
    with pytest.raises(VendorRetriable) as second:
        await create(client, policy)

    assert first.value.retry_after is not None and first.value.retry_after > 5
    assert second.value.retry_after is not None and second.value.retry_after > 5
    assert second.value.is_rate_limit
    assert await creates_seen(control) == 1


async def test_writes_waiting_at_a_gate_go_before_the_reads_waiting_there(
    client: httpx.AsyncClient, control: httpx.AsyncClient, recorded: Recorded
) -> None:
    await limit(control, post_per_second=2)
    body = {"jql": "project = DEMO", "fields": ["id"], "maxResults": 1}

    async def search(name: str, *, write: bool) -> int:
        response = await client.post(
            f"{API}/search/jql", json=body, headers={"x-name": name}, extensions={WRITE_EXTENSION: write}
        )
        return response.status_code

    for n in range(2):  # the bucket is empty after these
        assert await search(f"warm-{n}", write=False) == 200
    tasks = []
    for name, write in (("read-1", False), ("read-2", False), ("write", True)):
        tasks.append(asyncio.create_task(search(name, write=write)))
        await asyncio.sleep(0)  # queued in this order

    assert await asyncio.gather(*tasks) == [200, 200, 200]
    assert recorded.sent[2:] == ["write", "read-1", "read-2"]


async def test_an_attempt_cut_while_waiting_for_its_turn_was_not_sent(
    client: httpx.AsyncClient, control: httpx.AsyncClient, recorded: Recorded
) -> None:
    """A write whose timeout ends while it waits at the gate (here, for the first answer on a fresh
    connection) is retriable, not of unknown outcome: reconciling it would search for nothing."""
    await control.put("/__sandbox__/faults", json={"latency_ms": 1000})
    slow = asyncio.create_task(create(client, RetryPolicy(attempts=1, attempt_timeout=0.6)))
    await asyncio.sleep(0.05)

    with pytest.raises(VendorRetriable) as waiting:
        await create(client, RetryPolicy(attempts=1, attempt_timeout=0.2))

    assert type(waiting.value) is VendorRetriable and waiting.value.is_rate_limit
    with pytest.raises(VendorRetriable) as sent:
        await slow
    assert type(sent.value) is not VendorRetriable  # VendorOutcomeUnknown: it was sent
    assert len(recorded.sent) == 1


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [("2", 2, 2), ("{in_30_s}", 28, 31), ("2099-01-01T00:00:00Z", 1e9, 1e10), ("soon", None, None)],
)
def test_reset_reads_seconds_unix_times_and_jiras_iso_times(value: str, low: float | None, high: float | None) -> None:
    header = value.format(in_30_s=int(time.time()) + 30)

    seconds = reset_seconds(httpx.Response(429, headers={"X-RateLimit-Reset": header}))

    if low is None:
        assert seconds is None
    else:
        assert seconds is not None and low <= seconds <= high
