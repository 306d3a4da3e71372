"""The clients: a closed loop each, over a weighted mix of list, get, create and bulk, until a deadline.

Client i talks to API process i mod P as tenant (i div P) mod T, so every tenant reaches every API
process. Each request carries its own X-Request-ID (`load-<mode>-<client>-<n>`), which is how a 5xx
is found again in the server logs. Every answer is recorded, whatever its status; a transport error
(timeout, refused connection) is recorded with status 0.

Repeated identifiers are sent on purpose: a share of the single creates reuses an identifier that is
still in flight (another client's create or bulk item is running: the create claims must make one
writer win) or one already sent earlier (the stored ticket must be answered). A repeated identifier
always carries the same name and project, so it is the same request again, not another ticket under
a taken identifier. Every bulk of 10 may carry one such identifier too.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.load.deployments import Tenant

OPERATIONS = ("list", "get", "create", "bulk")
#: Shares of the operations in every client's loop.
WEIGHTS = {"list": 0.30, "get": 0.30, "create": 0.30, "bulk": 0.10}
#: Shares of single creates that repeat an identifier, and of bulks that carry one repeated item.
REPEAT_SHARE = 0.10
BULK_REPEAT_SHARE = 0.20
BULK_SIZE = 10
LIST_LIMIT = 25
PROJECT = "DEMO"
#: One request ends within this long, so the run ends at most this long after its deadline.
REQUEST_TIMEOUT_SECONDS = 60.0
#: A bound on each client's loop besides the deadline.
MAX_REQUESTS_PER_CLIENT = 100_000
RECENT_IDENTIFIERS = 256
KNOWN_TICKETS = 2_000
FAILURE_SAMPLES = 50


def ticket_body(identifier: str) -> dict[str, Any]:
    """The create request of an identifier: always the same for the same identifier."""
    return {
        "name": f"Load {identifier}",
        "project_vendor_id": PROJECT,
        "type": "Task",
        "description": f"Created by `bench.load` as **{identifier}**.",
        "identifier": identifier,
    }


@dataclass
class TenantPool:
    """What the clients of one tenant share: identifiers sent, in flight, and tickets seen."""

    tenant: Tenant
    prefix: str
    issued: int = 0
    #: Requests that carried each identifier (a create or a bulk item).
    sent: Counter[str] = field(default_factory=Counter)
    in_flight: Counter[str] = field(default_factory=Counter)
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=RECENT_IDENTIFIERS))
    known_tickets: deque[str] = field(default_factory=lambda: deque(maxlen=KNOWN_TICKETS))
    #: Ticket ids answered for each identifier (200 to a create; job results are added later).
    answered: dict[str, set[str]] = field(default_factory=dict)
    #: (job id, identifiers of its items) of every bulk answered 202.
    jobs: list[tuple[str, list[str]]] = field(default_factory=list)
    #: The statuses answered to the requests that carried each identifier (0: transport error).
    statuses: dict[str, list[int]] = field(default_factory=dict)

    def fresh(self) -> str:
        self.issued += 1
        return f"{self.prefix}-t{self.tenant.index}-{self.issued:06d}"

    def repeat(self, rng: random.Random, exclude: frozenset[str] = frozenset()) -> tuple[str, bool] | None:
        """(an identifier sent before, whether a single create carrying it is still in flight)."""
        busy = [identifier for identifier, count in self.in_flight.items() if count > 0 and identifier not in exclude]
        if busy and rng.random() < 0.5:
            return rng.choice(busy), True
        candidates = [identifier for identifier in self.recent if identifier not in exclude]
        return (rng.choice(candidates), False) if candidates else None

    def note(self, identifier: str, status: int) -> None:
        self.statuses.setdefault(identifier, []).append(status)

    def answer(self, identifier: str, ticket_id: str) -> None:
        self.answered.setdefault(identifier, set()).add(ticket_id)
        self.known_tickets.append(ticket_id)


@dataclass
class Recorder:
    started: float = 0.0
    ended: float = 0.0
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in OPERATIONS})
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: {op: Counter() for op in OPERATIONS})
    #: Error codes of non-2xx answers (ErrorResponse.code), and transport error types.
    codes: dict[str, Counter[str]] = field(default_factory=lambda: {op: Counter() for op in OPERATIONS})
    #: Every 5xx and transport error, with what was sent (the first FAILURE_SAMPLES kept whole).
    failures: list[dict[str, Any]] = field(default_factory=list)
    failure_count: int = 0
    repeated_creates: int = 0
    repeated_bulk_items: int = 0
    #: Repeats (single or bulk item) sent while a single create of the same identifier was in flight.
    repeated_in_flight: int = 0

    def record(self, op: str, status: int, elapsed_ms: float, code: str | None) -> None:
        self.latencies_ms[op].append(elapsed_ms)
        self.statuses[op][status] += 1
        if code is not None:
            self.codes[op][code] += 1

    def failure(self, entry: dict[str, Any]) -> None:
        self.failure_count += 1
        if len(self.failures) < FAILURE_SAMPLES:
            self.failures.append(entry)


class Load:
    def __init__(self, *, mode: str, api_urls: list[str], tenants: list[Tenant], clients: int, seed: int, prefix: str):
        self.mode = mode
        self.api_urls = api_urls
        self.clients = clients
        self.pools = [TenantPool(tenant, prefix) for tenant in tenants]
        self.recorder = Recorder()
        self.seed = seed

    def _assignment(self, index: int) -> tuple[int, TenantPool]:
        processes = len(self.api_urls)
        return index % processes, self.pools[(index // processes) % len(self.pools)]

    async def warm_up(self, https: list[httpx.AsyncClient], per_tenant: int) -> None:
        """A few creates per tenant before the clock starts, so that `get` has tickets to read."""
        for pool in self.pools:
            for n in range(per_tenant):
                identifier = pool.fresh()
                pool.sent[identifier] += 1
                response = await https[n % len(https)].post(
                    "/v1/itsm/tickets", json=ticket_body(identifier), headers=pool.tenant.headers
                )
                if response.status_code != 200:
                    raise RuntimeError(f"warm-up create: {response.status_code} {response.text[:300]}")
                pool.answer(identifier, response.json()["id"])
                pool.recent.append(identifier)

    async def run(self, seconds: float) -> Recorder:
        limits = httpx.Limits(max_connections=self.clients, max_keepalive_connections=self.clients)
        https = [
            httpx.AsyncClient(base_url=url, limits=limits, timeout=REQUEST_TIMEOUT_SECONDS) for url in self.api_urls
        ]
        try:
            await self.warm_up(https, per_tenant=5)
            deadline = time.monotonic() + seconds
            self.recorder.started = time.monotonic()
            await asyncio.gather(*(self._client(index, https, deadline) for index in range(self.clients)))
            self.recorder.ended = time.monotonic()
        finally:
            for http in https:
                await http.aclose()
        return self.recorder

    async def _client(self, index: int, https: list[httpx.AsyncClient], deadline: float) -> None:
        rng = random.Random(self.seed * 100_003 + index)
        process, pool = self._assignment(index)
        http = https[process]
        ops, weights = list(WEIGHTS), list(WEIGHTS.values())
        for n in range(MAX_REQUESTS_PER_CLIENT):
            if time.monotonic() >= deadline:
                return
            op = rng.choices(ops, weights)[0]
            request_id = f"load-{self.mode}-{index}-{n}"
            if op == "get" and not pool.known_tickets:
                op = "list"
            if op == "list":
                await self._send(http, pool, op, "GET", "/v1/itsm/tickets", request_id, params={"limit": LIST_LIMIT})
            elif op == "get":
                ticket_id = rng.choice(pool.known_tickets)
                await self._send(http, pool, op, "GET", f"/v1/itsm/tickets/{ticket_id}", request_id)
            elif op == "create":
                await self._create(http, pool, rng, request_id)
            else:
                await self._bulk(http, pool, rng, request_id)

    async def _create(self, http: httpx.AsyncClient, pool: TenantPool, rng: random.Random, request_id: str) -> None:
        repeated = pool.repeat(rng) if rng.random() < REPEAT_SHARE else None
        if repeated is None:
            identifier = pool.fresh()
        else:
            identifier = repeated[0]
            self.recorder.repeated_creates += 1
            self.recorder.repeated_in_flight += repeated[1]
        pool.sent[identifier] += 1
        pool.in_flight[identifier] += 1
        try:
            body = await self._send(
                http, pool, "create", "POST", "/v1/itsm/tickets", request_id, json=ticket_body(identifier)
            )
        finally:
            pool.in_flight[identifier] -= 1
            if pool.in_flight[identifier] == 0:
                del pool.in_flight[identifier]
            pool.recent.append(identifier)
        pool.note(identifier, 0 if body is None else body[0])
        if body is not None and body[0] == 200:
            pool.answer(identifier, body[1]["id"])

    async def _bulk(self, http: httpx.AsyncClient, pool: TenantPool, rng: random.Random, request_id: str) -> None:
        identifiers = [pool.fresh() for _ in range(BULK_SIZE)]
        if rng.random() < BULK_REPEAT_SHARE:
            repeated = pool.repeat(rng, exclude=frozenset(identifiers))
            if repeated is not None:
                identifiers[-1] = repeated[0]
                self.recorder.repeated_bulk_items += 1
                self.recorder.repeated_in_flight += repeated[1]
        for identifier in identifiers:
            pool.sent[identifier] += 1
        body = await self._send(
            http,
            pool,
            "bulk",
            "POST",
            "/v1/itsm/tickets/bulk",
            request_id,
            json={"tickets": [ticket_body(identifier) for identifier in identifiers]},
        )
        pool.recent.extend(identifiers)
        for identifier in identifiers:
            pool.note(identifier, 0 if body is None else body[0])
        if body is not None and body[0] == 202:
            pool.jobs.append((body[1]["job_id"], identifiers))

    async def _send(
        self,
        http: httpx.AsyncClient,
        pool: TenantPool,
        op: str,
        method: str,
        path: str,
        request_id: str,
        **kwargs: Any,
    ) -> tuple[int, Any] | None:
        """(status, JSON body) of the answer, or None on a transport error; recorded either way."""
        headers = {**pool.tenant.headers, "X-Request-ID": request_id}
        sent = time.perf_counter()
        try:
            response = await http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            elapsed = (time.perf_counter() - sent) * 1000
            self.recorder.record(op, 0, elapsed, type(exc).__name__)
            self.recorder.failure(_failure(op, method, path, 0, request_id, kwargs, f"{type(exc).__name__}: {exc}"))
            return None
        elapsed = (time.perf_counter() - sent) * 1000
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        code = body.get("code") if response.status_code >= 400 and isinstance(body, dict) else None
        self.recorder.record(op, response.status_code, elapsed, code if response.status_code >= 400 else None)
        if response.status_code >= 500:
            self.recorder.failure(
                _failure(op, method, path, response.status_code, request_id, kwargs, response.text[:1000])
            )
        return response.status_code, body


def _failure(
    op: str, method: str, path: str, status: int, request_id: str, kwargs: dict[str, Any], answer: str
) -> dict[str, Any]:
    sent = kwargs.get("json")
    if isinstance(sent, dict) and "tickets" in sent:
        sent = {
            "tickets": f"{len(sent['tickets'])} tickets, identifiers "
            + ", ".join(t["identifier"] for t in sent["tickets"])
        }
    return {
        "op": op,
        "method": method,
        "path": path,
        "status": status,
        "request_id": request_id,
        "request_body": sent,
        "answer": answer,
    }
