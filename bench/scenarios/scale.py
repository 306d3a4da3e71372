"""Scenario 10: scale-out. Scenario 9's burst of bulk jobs of 50 on PostgreSQL with 1, 2 and 4
`ticketbridge worker` processes, the vendor limit raised so high that it never binds, at 100 ms vendor
latency. The jobs are spread over TENANTS connections, so that the per-connection cap
(`TICKETBRIDGE_JOB_CONNECTION_CONCURRENCY`, 2) never binds either: what is left is the workers, the
database and the machine's 2 cores.

Figures: tickets/s from the first enqueue to the last SUCCESS with N workers, against the same with
one worker (the scaling factor). The notes give each step's median wait from enqueue to start (where
the claim's advisory lock, which serializes claims by design, would show) and the CPU seconds each
kind of process spent, which says where the next bottleneck is.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from datetime import datetime

import httpx

from bench.context import Context, expect, tickets, wait_for_job
from bench.deployment import Tenant
from bench.measure import Calls, Result
from bench.processes import Process, worker_process
from bench.sandbox import calls_delta
from bench.scenarios.writes import BULK, LATENCY_MS, MINIMUM_CALLS

WORKERS = (1, 2, 4)
#: Connections the jobs are spread over: 4 workers x 4 jobs each / 2 jobs per connection.
TENANTS = 8
#: Far above what the run sends: the limit must not bind here (scenario 9 measures it binding).
UNBINDING_PER_SECOND = 100_000


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


async def _tenants(context: Context) -> list[Tenant]:
    """TENANTS connections on one freshly reset sandbox, each with its first sync done."""
    deployment = context.postgres
    assert deployment is not None
    await context.sandbox.reset()
    await context.sandbox.configure()
    made = []
    async with httpx.AsyncClient(base_url=deployment.api.url, timeout=60) as api:
        for index in range(TENANTS):
            tenant = await deployment.tenant(context.jira_url, name=f"scale-{index}")
            job = await wait_for_job(api, tenant, await deployment.request_sync(tenant.connection_id), poll_seconds=0.1)
            if job["status"] != "SUCCESS":
                raise RuntimeError(f"the first sync of scale-{index} ended {job['status']}")
            made.append(tenant)
    return made


async def _burst(context: Context, tenants: list[Tenant], jobs: int) -> tuple[float, list[float], int]:
    """Enqueues `jobs` bulk jobs round-robin over `tenants`; answers (seconds to the last SUCCESS,
    each job's wait from enqueue to start, vendor calls)."""
    deployment = context.postgres
    assert deployment is not None
    await context.sandbox.configure(
        latency_ms=LATENCY_MS,
        rate_limits={
            "enabled": True,
            "post_per_second": UNBINDING_PER_SECOND,
            "get_per_second": UNBINDING_PER_SECOND,
        },
    )
    before = await context.sandbox.calls()
    async with httpx.AsyncClient(base_url=deployment.api.url, timeout=60) as api:
        started = time.perf_counter()
        submitted = []
        for index in range(jobs):
            tenant = tenants[index % len(tenants)]
            body = {"tickets": tickets(BULK, description=True)}
            answer = expect(await api.post("/v1/itsm/tickets/bulk", json=body, headers=tenant.headers), 202)
            submitted.append((tenant, answer["job_id"]))
        finished = await asyncio.gather(
            *(wait_for_job(api, tenant, job_id, poll_seconds=0.1) for tenant, job_id in submitted)
        )
        elapsed = time.perf_counter() - started
    failed = [job for job in finished if job["status"] != "SUCCESS"]
    if failed:
        raise RuntimeError(f"{len(failed)} of {jobs} jobs ended FAILED: {failed[0]['failure_reason']}")
    waits = [_seconds(job["created_at"], job["started_at"]) for job in finished]
    calls = sum(calls_delta(before, await context.sandbox.calls()).values())
    return elapsed, waits, calls


async def scale_out(context: Context) -> list[Result]:
    names = [f"10. {context.sizes.scale_jobs} bulk jobs of 50 on PostgreSQL, {n} worker(s)" for n in WORKERS]
    target = "reported (scaling against 1 worker)"
    deployment = context.postgres
    if deployment is None or deployment.worker is None:
        reason = context.postgres_reason or "no PostgreSQL deployment"
        return [Result(name=name, unit="tickets/s", target=target, skipped=reason) for name in names]
    jobs = context.sizes.scale_jobs
    tenants = await _tenants(context)
    results: list[Result] = []
    single: float | None = None
    for count, name in zip(WORKERS, names, strict=True):
        async with contextlib.AsyncExitStack() as stack:
            extra: list[Process] = [
                await stack.enter_async_context(
                    worker_process(deployment.directory, deployment.env, name=f"scale-worker-{count}-{index}")
                )
                for index in range(count - 1)
            ]
            workers = [deployment.worker, *extra]
            api_cpu = deployment.api.cpu_seconds()
            worker_cpu = sum(worker.cpu_seconds() for worker in workers)
            elapsed, waits, calls = await _burst(context, tenants, jobs)
            api_cpu = deployment.api.cpu_seconds() - api_cpu
            worker_cpu = sum(worker.cpu_seconds() for worker in workers) - worker_cpu
        rate = jobs * BULK / elapsed
        single = rate if single is None else single
        result = Result(
            name=name,
            unit="tickets/s",
            target=target,
            ticketbridge=rate,
            baseline=single,
            better="higher",
            ratio_median=rate / single,
            repetitions=1,
            calls=Calls(calls / jobs, None, MINIMUM_CALLS),
        )
        result.extra.update(
            workers=count,
            seconds=elapsed,
            start_wait_median_s=statistics.median(waits),
            start_wait_max_s=max(waits),
            api_cpu_s=api_cpu,
            workers_cpu_s=worker_cpu,
        )
        result.notes.append(
            f"{jobs} jobs over {TENANTS} connections in {elapsed:.1f} s, {LATENCY_MS} ms vendor latency, limit "
            f"{UNBINDING_PER_SECOND:,}/s (never binds); enqueue to start: median {statistics.median(waits):.2f} s, "
            f"max {max(waits):.2f} s; CPU: API {api_cpu:.1f} s, workers {worker_cpu:.1f} s together "
            f"({(api_cpu + worker_cpu) / elapsed:.2f} of the 2 cores); baseline = the 1-worker rate"
        )
        results.append(result)
    await context.sandbox.configure()
    return results
