"""The Jira sandbox's control API (/__sandbox__/, never faulted) and the bare-httpx baseline client."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import httpx

from ticketbridge.sandboxes import jira

CONTROL_TIMEOUT_SECONDS = 600  # seeding 20,000 issues takes a while on a loaded machine


class SandboxControl:
    def __init__(self, url: str) -> None:
        self.url = url
        self._http = httpx.AsyncClient(base_url=f"{url}/__sandbox__", timeout=CONTROL_TIMEOUT_SECONDS)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, method: str, path: str, body: Any = None) -> Any:
        response = await self._http.request(method, path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    async def configure(self, *, latency_ms: float = 0, rate_limits: dict[str, Any] | None = None) -> None:
        """Latency on every vendor call; Jira's rate limits off unless `rate_limits` says otherwise
        (PUT /rate-limits also empties the buckets)."""
        await self._send("PUT", "/faults", {"latency_ms": latency_ms})
        await self._send("PUT", "/rate-limits", rate_limits or {"enabled": False})

    async def reset(self) -> None:
        """A fresh demo site (issues and call counts cleared; faults, limits and search lag kept)."""
        await self._send("POST", "/reset", {"seed_demo": True})

    async def calls(self) -> Counter[str]:
        return Counter(await self._send("GET", "/calls"))

    async def settled_calls(self, *, quiet_seconds: float = 0.3, most_seconds: float = 5.0) -> Counter[str]:
        """The call counts once no call has arrived for `quiet_seconds`: what a request set off in the
        background (a create's read-back) lands in that request's count, never in the next one's."""
        counted = await self.calls()
        deadline = time.monotonic() + most_seconds
        while time.monotonic() < deadline:
            await asyncio.sleep(quiet_seconds)
            now = await self.calls()
            if now == counted:
                break
            counted = now
        return counted

    async def seed_issues(self, count: int) -> None:
        await self._send("POST", "/seed", {"issues": count})

    async def issue_count(self) -> int:
        return int((await self._send("GET", "/issues/count"))["count"])


def calls_delta(before: Counter[str], after: Counter[str]) -> Counter[str]:
    return Counter({name: after[name] - before[name] for name in after if after[name] - before[name] > 0})


def bare_jira(url: str) -> httpx.AsyncClient:
    """What a caller without ticketbridge uses: httpx with Basic auth and one keep-alive pool."""
    return httpx.AsyncClient(base_url=url, auth=(jira.DEMO_EMAIL, jira.DEMO_API_TOKEN), timeout=60)
