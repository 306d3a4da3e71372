"""HTTP plumbing shared by connectors: the client with explicit timeouts, and the retry policy.

Transient failures (429, 5xx, timeouts, dropped connections) are retried here with exponential
backoff and jitter, bounded, honouring Retry-After. A wait longer than `max_inline_wait` is not
slept: it surfaces as `VendorRetriable` so a job can be rescheduled instead of holding a worker.
Writes are never retried blindly: a write whose answer was lost raises `VendorOutcomeUnknown` for
the connector to reconcile.

Clients are cheap, their connections are not: every operation builds its own `httpx.AsyncClient`
(its auth, timeouts and write guard), but the connections under it are one keep-alive pool per vendor
connection (`ConnectionTransports`), so that an operation reuses the TCP and TLS connections and the
TLS context of the ones before it (a new TLS context alone cost a third of a bulk create's CPU).
The pool also holds the connection's rate-limit gates (`pacing`): what the vendor's answers say of
its limits paces every operation of the connection in the process, so concurrent jobs of one
connection neither spend 429s on a bucket the headers showed empty nor each collect one after it.

Time is bounded twice, so that a vendor write started after `JobContext.check_lease` ends within a
third of the lease (jobs/README.md): each attempt within `attempt_timeout` (a total, where httpx's own
timeouts are per phase and a trickling answer could outlive them), and the whole call, retries and
waits included, within `budget`. Settings refuses values whose worst case outlives that third.
Time spent waiting at a gate is given back to the attempt (within the budget), and an attempt cut
while it waits was never sent: it is retriable, even a write.
"""

from __future__ import annotations

import asyncio
import random
import time
import urllib.request
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

import httpx

from ticketbridge.config import DEFAULT_VENDOR_TIMEOUT_SECONDS, VENDOR_RETRY_WAIT_MAX_SECONDS, Settings
from ticketbridge.connectors.errors import VendorOutcomeUnknown, VendorRetriable
from ticketbridge.connectors.oauth import OAuthSession
from ticketbridge.connectors.pacing import ATTEMPT, PER_SECOND, SAFE_METHODS, AttemptTerms, LimitWindow, Pacing
from ticketbridge.connectors.pacing import retry_after_seconds as retry_after_seconds
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.observability import get_logger

log = get_logger("ticketbridge.connectors.http")
T = TypeVar("T")

#: httpx's connect phase never gets more than this, even under a longer vendor timeout.
CONNECT_TIMEOUT_SECONDS = 5.0


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


#: Vendor connections whose HTTP pools one process keeps open; beyond, the least recently used closes.
MAX_POOLED_CONNECTIONS = 256


def _environment_proxy(url: httpx.URL) -> str | None:
    """The proxy httpx itself would take from the environment for `url` (HTTPS_PROXY, NO_PROXY, ...):
    a pooled transport is handed to the client, and httpx reads the environment only without one."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if proxy is None or urllib.request.proxy_bypass(url.host):
        return None
    return proxy


@dataclass(eq=False)
class _Pool:
    """One vendor connection's keep-alive connections, per proxy (usually one: no proxy), and its
    rate-limit gates (`pacing`): every operation of the connection in this process passes them."""

    depends_on: str
    build: Callable[[str | None], httpx.AsyncBaseTransport]
    transports: dict[str | None, httpx.AsyncBaseTransport] = field(default_factory=dict)
    pacing: Pacing = field(default_factory=Pacing)
    #: Operations whose client holds the pool now.
    users: int = 0
    #: Replaced or evicted: closed once its last user is done.
    retired: bool = False
    closed: bool = False

    def transport_for(self, url: httpx.URL) -> httpx.AsyncBaseTransport:
        if self.closed:
            raise RuntimeError("the vendor connection's HTTP pool is closed (the process is stopping)")
        proxy = _environment_proxy(url)
        transport = self.transports.get(proxy)
        if transport is None:
            transport = self.transports[proxy] = self.build(proxy)
        return transport

    async def aclose(self) -> None:
        self.closed = True
        transports, self.transports = list(self.transports.values()), {}
        for transport in transports:
            await transport.aclose()


class _Lease(httpx.AsyncBaseTransport):
    """One operation's hold on its connection's pool: its client's `aclose` gives the pool back
    (closing it only if it was retired meanwhile and this was its last user)."""

    def __init__(self, owner: ConnectionTransports, pool: _Pool) -> None:
        self._owner = owner
        self._pool: _Pool | None = pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        pool = self._pool
        if pool is None:
            raise RuntimeError("this operation's client is closed")
        transport = pool.transport_for(request.url)
        async with pool.pacing.turn(request) as answered:
            response = await transport.handle_async_request(request)
            answered(response)
        return response

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await self._owner.release(pool)

    def abandon(self) -> None:
        """Gives the pool back without closing anything now (no client was built on this lease)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            self._owner.give_back(pool)


class _Borrowed(httpx.AsyncBaseTransport):
    """Another owner's transport, used and never closed here."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self._transport = transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._transport.handle_async_request(request)


def _default_transport(proxy: str | None) -> httpx.AsyncBaseTransport:
    return httpx.AsyncHTTPTransport(proxy=proxy)


class ConnectionTransports:
    """The HTTP connection pools of one process, one per vendor connection, never shared between
    connections. `lease(connection_id, depends_on)` hands out the connection's pool; `depends_on` is
    what the pool was opened for (`ConnectorFactory`'s fingerprint of vendor, base URL and
    credentials): when it changes, the connection gets a new pool and the old one closes once the
    operations using it end. At most `max_pools` are kept (least recently used out first);
    `aclose` closes them all (at shutdown: `Runtime.close`)."""

    def __init__(
        self,
        *,
        max_pools: int = MAX_POOLED_CONNECTIONS,
        build: Callable[[str | None], httpx.AsyncBaseTransport] = _default_transport,
    ) -> None:
        self._max_pools = max_pools
        self._build = build
        #: The transport `over` built these pools on, if any.
        self.borrowed: httpx.AsyncBaseTransport | None = None
        self._pools: OrderedDict[str, _Pool] = OrderedDict()
        #: Retired while unused: closed at the next release (or `aclose`), which can await.
        self._to_close: list[_Pool] = []

    @classmethod
    def over(cls, transport: httpx.AsyncBaseTransport) -> ConnectionTransports:
        """Pools whose requests all go through `transport` (in-process sandboxes), which its owner
        closes: the gates and leases are production's, only the sockets are not."""
        pools = cls(build=lambda _proxy: _Borrowed(transport))
        pools.borrowed = transport
        return pools

    def __len__(self) -> int:
        return len(self._pools)

    def lease(self, connection_id: str, depends_on: str, window: LimitWindow = PER_SECOND) -> _Lease:
        """`window`: what the vendor's `X-RateLimit-Limit` counts, for a new pool's gates."""
        pool = self._pools.get(connection_id)
        if pool is None or pool.depends_on != depends_on:
            if pool is not None:
                self._retire(pool)
            pool = self._pools[connection_id] = _Pool(depends_on=depends_on, build=self._build, pacing=Pacing(window))
        self._pools.move_to_end(connection_id)
        while len(self._pools) > self._max_pools:
            _, oldest = self._pools.popitem(last=False)
            self._retire(oldest)
        pool.users += 1
        return _Lease(self, pool)

    def _retire(self, pool: _Pool) -> None:
        pool.retired = True
        if pool.users == 0:
            self._to_close.append(pool)

    def give_back(self, pool: _Pool) -> None:
        pool.users -= 1
        if pool.retired and pool.users == 0:
            self._to_close.append(pool)

    async def release(self, pool: _Pool) -> None:
        self.give_back(pool)
        await self._close_retired()

    async def _close_retired(self) -> None:
        closing, self._to_close = self._to_close, []
        for pool in closing:
            await pool.aclose()

    async def aclose(self) -> None:
        """Closes every pool, in use or not (the process is stopping)."""
        pools = [*self._pools.values(), *self._to_close]
        self._pools.clear()
        self._to_close = []
        for pool in pools:
            pool.retired = True
            await pool.aclose()


def _write_guard(check: Callable[[], None]) -> Callable[[httpx.Request], Awaitable[None]]:
    async def hook(request: httpx.Request) -> None:
        if request.method not in SAFE_METHODS:
            check()

    return hook


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
    """One attempt, under the terms the connection's rate-limit gates read (`pacing.ATTEMPT`)."""
    terms = AttemptTerms(max_wait=policy.max_inline_wait, deadline=deadline)
    limits = [policy.attempt_timeout] if policy.attempt_timeout is not None else []
    if deadline is not None:
        limits.append(deadline - time.monotonic())
    token = ATTEMPT.set(terms)
    try:
        if not limits:
            return await call()
        seconds = max(0.0, min(limits))
        try:
            async with asyncio.timeout(seconds) as terms.timeout:
                return await call()
        except TimeoutError:
            if terms.at_gate:  # cut while waiting for its turn: nothing was sent
                raise VendorRetriable(
                    f"{operation}: no rate-limit turn within {seconds:.3g} s", status_code=429
                ) from None
            raise VendorOutcomeUnknown(f"{operation}: no complete answer within {seconds:.3g} s") from None
    finally:
        ATTEMPT.reset(token)
