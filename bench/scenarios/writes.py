"""Scenarios 1-4: synchronous writes through the API against the same writes sent straight to Jira.

1. POST /v1/itsm/tickets/bulk/sync of 50 tickets with descriptions, vendor latency 100 ms, against
   POST /rest/api/3/issue/bulk of the same 50 (descriptions already ADF) by bare httpx.
2. The same without descriptions at 0 ms: the API's overhead per ticket, wall and CPU (utime+stime
   of the `serve` process from /proc, around the ticketbridge request and the background read-back
   it sets off).
3. POST /v1/itsm/tickets at 100 ms against a bare POST /rest/api/3/issue.
4. Vendor calls per bulk of 50 and per single create, against 1 create + at most 1 read-back.

Creates answer before their read-back (`services/read_backs.py`); each side's calls are counted once
the sandbox has been quiet for a moment (`settled_calls`, outside the timed figure), so a read-back
lands in the count of the request that set it off.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import httpx

from bench.context import Context, expect, fresh_tenant, issue_fields, tickets
from bench.measure import Calls, Result, interleave
from bench.sandbox import bare_jira, calls_delta

BULK = 50
LATENCY_MS = 100
#: One create plus at most one read-back of what was written.
MINIMUM_CALLS = 2


class CallCounter:
    """Vendor calls made by each run of each side; figures are medians over runs (the warm-up, which
    may fill caches, is one run among many)."""

    def __init__(self) -> None:
        self.runs: dict[str, list[Counter[str]]] = {"a": [], "b": []}

    def per_run(self, side: str) -> float:
        return statistics.median(sum(run.values()) for run in self.runs[side])

    def detail(self, side: str) -> dict[str, float]:
        operations = sorted({name for run in self.runs[side] for name in run})
        return {name: statistics.median(run[name] for run in self.runs[side]) for name in operations}


def counted(
    context: Context, counter: CallCounter, side: str, run: Callable[[], Awaitable[float]]
) -> Callable[[], Awaitable[float]]:
    async def wrapped() -> float:
        before = await context.sandbox.settled_calls()
        figure = await run()
        counter.runs[side].append(calls_delta(before, await context.sandbox.settled_calls()))
        return figure

    return wrapped


async def _bulk(context: Context, *, description: bool, latency_ms: float, name: str, target: str) -> Result:
    deployment = context.sqlite
    tenant = await fresh_tenant(context, deployment, name)
    await context.sandbox.configure(latency_ms=latency_ms)
    counter = CallCounter()
    cpu_seconds: list[float] = []
    async with httpx.AsyncClient(base_url=deployment.api.url, timeout=120) as api, bare_jira(context.jira_url) as bare:

        async def ours() -> float:
            body = {"tickets": tickets(BULK, description=description)}
            cpu_before = deployment.api.cpu_seconds()
            started = time.perf_counter()
            answer = expect(await api.post("/v1/itsm/tickets/bulk/sync", json=body, headers=tenant.headers))
            elapsed = time.perf_counter() - started
            await context.sandbox.settled_calls()  # the CPU of the background read-back counts too
            cpu_seconds.append(deployment.api.cpu_seconds() - cpu_before)
            if answer["succeeded"] != BULK:
                raise RuntimeError(f"bulk/sync: {answer['failed']} of {BULK} failed: {answer['results'][:2]}")
            return elapsed * 1000

        async def theirs() -> float:
            body = {"issueUpdates": [{"fields": issue_fields(t)} for t in tickets(BULK, description=description)]}
            started = time.perf_counter()
            answer = expect(await bare.post("/rest/api/3/issue/bulk", json=body), 201)
            elapsed = time.perf_counter() - started
            if len(answer["issues"]) != BULK:
                raise RuntimeError(f"bare bulk create: {answer.get('errors')}")
            return elapsed * 1000

        pairs = await interleave(
            counted(context, counter, "a", ours),
            counted(context, counter, "b", theirs),
            repetitions=context.sizes.write_repetitions,
        )
    result = Result(name=name, unit="ms", target=target).with_pairs(pairs)
    result.calls = Calls(counter.per_run("a"), counter.per_run("b"), MINIMUM_CALLS, counter.detail("a"))
    measured_cpu = cpu_seconds[-len(pairs.a) :]  # the warm-up's figure left out
    result.extra["api_cpu_ms_per_request_median"] = sorted(measured_cpu)[len(measured_cpu) // 2] * 1000
    return result


async def bulk_sync_latency(context: Context) -> Result:
    result = await _bulk(
        context,
        description=True,
        latency_ms=LATENCY_MS,
        name="1. bulk/sync 50 with descriptions, 100 ms vendor",
        target="<= 1.10x",
    )
    return result.check(1.10)


async def bulk_sync_overhead(context: Context) -> list[Result]:
    """Two rows: wall time per ticket (reported), and the API process's CPU per ticket (the target)."""
    wall = await _bulk(
        context,
        description=False,
        latency_ms=0,
        name="2. bulk/sync 50 no descriptions, 0 ms, per ticket",
        target="reported",
    )
    assert wall.ticketbridge is not None and wall.baseline is not None
    overhead = (wall.ticketbridge - wall.baseline) / BULK
    cpu_per_ticket = wall.extra["api_cpu_ms_per_request_median"] / BULK
    wall.ticketbridge, wall.baseline = wall.ticketbridge / BULK, wall.baseline / BULK
    wall.extra.update(api_cpu_ms_per_ticket=cpu_per_ticket, overhead_wall_ms_per_ticket=overhead)
    wall.notes.append(f"overhead {overhead:.2f} ms/ticket wall (median difference / {BULK})")
    cpu = Result(
        name="2. API process CPU per ticket",
        unit="ms",
        target="<= 1 ms/ticket",
        ticketbridge=cpu_per_ticket,
        repetitions=wall.repetitions,
        calls=wall.calls,
        target_met=cpu_per_ticket <= 1.0,
    )
    cpu.notes.append("utime+stime of the `serve` process from /proc/<pid>/stat around each request; median / 50")
    return [wall, cpu]


async def single_create(context: Context) -> Result:
    deployment = context.sqlite
    name = "3. single POST /v1/itsm/tickets, 100 ms vendor"
    tenant = await fresh_tenant(context, deployment, "single")
    await context.sandbox.configure(latency_ms=LATENCY_MS)
    counter = CallCounter()
    async with httpx.AsyncClient(base_url=deployment.api.url, timeout=60) as api, bare_jira(context.jira_url) as bare:

        async def ours() -> float:
            body = tickets(1, description=True)[0]
            started = time.perf_counter()
            expect(await api.post("/v1/itsm/tickets", json=body, headers=tenant.headers))
            return (time.perf_counter() - started) * 1000

        async def theirs() -> float:
            body = {"fields": issue_fields(tickets(1, description=True)[0])}
            started = time.perf_counter()
            expect(await bare.post("/rest/api/3/issue", json=body), 201)
            return (time.perf_counter() - started) * 1000

        pairs = await interleave(
            counted(context, counter, "a", ours),
            counted(context, counter, "b", theirs),
            repetitions=context.sizes.single_repetitions,
        )
    result = Result(name=name, unit="ms", target="<= 1.3x").with_pairs(pairs).check(1.3)
    result.calls = Calls(counter.per_run("a"), counter.per_run("b"), MINIMUM_CALLS, counter.detail("a"))
    return result


def vendor_calls(source: Result, name: str) -> Result:
    """Scenario 4, from the counts taken in scenario 1 or 3: calls per request against the minimum."""
    if source.skipped or source.calls.ticketbridge is None:
        return Result(name=name, unit="calls", target="<= 2", skipped=f"its source did not run ({source.skipped})")
    result = Result(
        name=name,
        unit="calls",
        target=f"<= {MINIMUM_CALLS} (1 create + 1 read-back)",
        ticketbridge=source.calls.ticketbridge,
        baseline=MINIMUM_CALLS,
        ratio_median=source.calls.ticketbridge / MINIMUM_CALLS,
        repetitions=source.repetitions,
        calls=source.calls,
    )
    result.target_met = source.calls.ticketbridge <= MINIMUM_CALLS
    detail = ", ".join(f"{operation} {count:g}" for operation, count in source.calls.detail.items())
    result.notes.append(f"per request: {detail}")
    return result
