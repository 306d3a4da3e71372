"""HTTP plumbing shared by connectors: the client with explicit timeouts, and the retry policy.

Transient failures (429, 5xx, timeouts, dropped connections) are retried here with exponential
backoff and jitter, bounded, honouring Retry-After. A wait longer than `max_inline_wait` is not
slept: it surfaces as `VendorRetriable` so a job can be rescheduled instead of holding a worker.
Writes are never retried blindly: a write whose answer was lost raises `VendorOutcomeUnknown` for
the connector to reconcile.

Time is bounded twice, so that a vendor write started after `JobContext.check_lease` ends within a
third of the lease (jobs/README.md): each attempt within `attempt_timeout` (a total, where httpx's own
timeouts are per phase and a trickling answer could outlive them), and the whole call, retries and
waits included, within `budget`. Settings refuses values whose worst case outlives that third.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx

from ticketbridge.config import DEFAULT_VENDOR_TIMEOUT_SECONDS, VENDOR_RETRY_WAIT_MAX_SECONDS, Settings
from ticketbridge.connectors.errors import VendorOutcomeUnknown, VendorRetriable
from ticketbridge.connectors.oauth import OAuthSession
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.observability import get_logger

log = get_logger("ticketbridge.connectors.http")
T = TypeVar("T")

#: httpx's connect phase never gets more than this, even under a longer vendor timeout.
CONNECT_TIMEOUT_SECONDS = 5.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0
    #: Retry-After waits up to this long are slept inline; longer ones are handed to the caller.
    max_inline_wait: float = VENDOR_RETRY_WAIT_MAX_SECONDS
    #: Each attempt, as a whole, ends within this long (None: only httpx's per-phase timeouts).
    attempt_timeout: float | None = None
    #: The whole call, attempts and waits, ends within this long (None: only `attempts` bounds it).
    budget: float | None = None

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2^attempt)]."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


@dataclass(frozen=True, slots=True)
class VendorHttp:
    """How every connector talks to its vendor: one timeout and one retry policy for all vendors,
    from Settings (the defaults are Settings' defaults at the default lease)."""

    timeout_seconds: float = DEFAULT_VENDOR_TIMEOUT_SECONDS
    retry: RetryPolicy = RetryPolicy(attempt_timeout=DEFAULT_VENDOR_TIMEOUT_SECONDS, budget=9.0)
    #: Runs before every request that may write (any method but GET, HEAD, OPTIONS), retries included;
    #: a job handler passes `ctx.check_lease`, so no write starts on a lease about to run out.
    before_write: Callable[[], None] | None = None
    #: For an OAuth connection: its API gateway and token source (services pass them per unit of work).
    oauth: OAuthSession | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> VendorHttp:
        timeout = settings.effective_vendor_timeout_seconds
        return cls(
            timeout_seconds=timeout,
            retry=RetryPolicy(
                attempts=settings.vendor_retry_attempts,
                attempt_timeout=timeout,
                budget=settings.effective_vendor_retry_budget_seconds,
            ),
        )

    def for_connection(self, connection: ConnectionRead) -> VendorHttp:
        """A connection's `timeout_secs` lowers the timeout for its vendor; it never raises it, since
        the settings' value is what keeps a vendor write within the job lease."""
        timeout = min(self.timeout_seconds, float(connection.timeout_secs))
        return replace(self, timeout_seconds=timeout, retry=replace(self.retry, attempt_timeout=timeout))


DEFAULT_VENDOR_HTTP = VendorHttp()


def build_client(
    base_url: str,
    *,
    auth: httpx.Auth | None,
    transport: httpx.AsyncBaseTransport | None,
    timeout_secs: float,
    before_write: Callable[[], None] | None = None,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        auth=auth,
        transport=transport,
        timeout=httpx.Timeout(timeout_secs, connect=min(CONNECT_TIMEOUT_SECONDS, timeout_secs)),
        headers={"Accept": "application/json"},
        follow_redirects=False,
        event_hooks={"request": [_write_guard(before_write)]} if before_write is not None else None,
    )


def _write_guard(check: Callable[[], None]) -> Callable[[httpx.Request], Awaitable[None]]:
    async def hook(request: httpx.Request) -> None:
        if request.method not in SAFE_METHODS:
            check()

    return hook


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
    is not retried: the caller must reconcile first. An attempt cut by the policy's attempt timeout or
    budget raises VendorOutcomeUnknown (a write may have landed) or, when idempotent, VendorRetriable."""
    deadline = None if policy.budget is None else time.monotonic() + policy.budget
    attempt = 0
    while True:
        try:
            return await _attempt(call, policy, deadline, operation)
        except VendorRetriable as exc:
            if isinstance(exc, VendorOutcomeUnknown) and not idempotent:
                raise
            error = exc
            wait = exc.retry_after if exc.retry_after is not None else policy.backoff(attempt)
        attempt += 1
        out_of_budget = deadline is not None and time.monotonic() + wait >= deadline
        if attempt >= policy.attempts or wait > policy.max_inline_wait or out_of_budget:
            raise error
        log.info(
            "connector.retry",
            operation=operation,
            attempt=attempt,
            wait_seconds=round(wait, 3),
            status=error.status_code,
        )
        await asyncio.sleep(wait)


async def _attempt(call: Callable[[], Awaitable[T]], policy: RetryPolicy, deadline: float | None, operation: str) -> T:
    limits = [policy.attempt_timeout] if policy.attempt_timeout is not None else []
    if deadline is not None:
        limits.append(deadline - time.monotonic())
    if not limits:
        return await call()
    seconds = max(0.0, min(limits))
    try:
        async with asyncio.timeout(seconds):
            return await call()
    except TimeoutError:
        raise VendorOutcomeUnknown(f"{operation}: no complete answer within {seconds:.3g} s") from None
