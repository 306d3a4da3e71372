"""HTTP plumbing shared by connectors: the client with explicit timeouts, and the retry policy.

Transient failures (429, 5xx, timeouts, dropped connections) are retried here with exponential
backoff and jitter, bounded, honouring Retry-After. A wait longer than `max_inline_wait` is not
slept: it surfaces as `VendorRetriable` so a job can be rescheduled instead of holding a worker.
Writes are never retried blindly: a write whose answer was lost raises `VendorOutcomeUnknown` for
the connector to reconcile.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx

from ticketbridge.connectors.errors import VendorOutcomeUnknown, VendorRetriable
from ticketbridge.observability import get_logger

log = get_logger("ticketbridge.connectors.http")
T = TypeVar("T")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0
    #: Retry-After waits up to this long are slept inline; longer ones are handed to the caller.
    max_inline_wait: float = 10.0

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2^attempt)]."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


def build_client(
    base_url: str,
    *,
    auth: httpx.Auth | None,
    transport: httpx.AsyncBaseTransport | None,
    timeout_secs: float = 30.0,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        auth=auth,
        transport=transport,
        timeout=httpx.Timeout(timeout_secs, connect=min(10.0, timeout_secs)),
        headers={"Accept": "application/json"},
        follow_redirects=False,
    )


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


async def with_retries(call: Callable[[], Awaitable[T]], *, policy: RetryPolicy, operation: str, idempotent: bool) -> T:
    """Runs `call`, retrying VendorRetriable errors. A non-idempotent call whose outcome is unknown
    is not retried: the caller must reconcile first."""
    attempt = 0
    while True:
        try:
            return await call()
        except VendorRetriable as exc:
            if isinstance(exc, VendorOutcomeUnknown) and not idempotent:
                raise
            error = exc
            wait = exc.retry_after if exc.retry_after is not None else policy.backoff(attempt)
        attempt += 1
        if attempt >= policy.attempts or wait > policy.max_inline_wait:
            raise error
        log.info(
            "connector.retry",
            operation=operation,
            attempt=attempt,
            wait_seconds=round(wait, 3),
            status=error.status_code,
        )
        await asyncio.sleep(wait)
