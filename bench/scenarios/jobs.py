"""Scenarios 5 and 9: asynchronous bulk jobs.

5. POST /v1/itsm/tickets/bulk of 50 at 100 ms vendor latency, then GET /v1/jobs/{id} every
   POLL_SECONDS until SUCCESS; on SQLite (embedded, in-process worker) and on PostgreSQL (a separate
   `ticketbridge worker`). Baseline: one bare POST /rest/api/3/issue/bulk of the same 50, measured in
   the same run, plus one client poll interval (the soonest a polling client could know).
9. 40 bulk jobs of 50 enqueued at once under a vendor limit of 2 POST/s per endpoint (the sandbox's
   burst bucket, which holds one second of the rate), against the bound that limit allows: the
   first `rate` creates pass at once, every later one waits 1/rate s. Not interleaved: the baseline
   is arithmetic, not a measurement.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from bench.context import Context, expect, fresh_tenant, issue_fields, tickets, wait_for_job
from bench.deployment import Deployment
from bench.measure import Calls, Result, interleave
from bench.sandbox import bare_jira, calls_delta
from bench.scenarios.writes import BULK, LATENCY_MS, MINIMUM_CALLS, CallCounter, counted

#: How often the benchmark's client polls a job (the "one poll interval" of scenario 5's baseline).
POLL_SECONDS = 0.25
RATE_POST_PER_SECOND = 2.0


async def bulk_job(context: Context, deployment: Deployment | None, database: str) -> Result:
    name = f"5. async bulk job of 50, 100 ms vendor, {database}"
    target = "<= 1.3x"
    if deployment is None:
        return Result(name=name, unit="ms", target=target, skipped=context.postgres_reason or "no deployment")
    tenant = await fresh_tenant(context, deployment, f"jobs-{database}")
    await context.sandbox.configure(latency_ms=LATENCY_MS)
    counter = CallCounter()
    async with httpx.AsyncClient(base_url=deployment.api.url, timeout=60) as api, bare_jira(context.jira_url) as bare:

        async def ours() -> float:
            body = {"tickets": tickets(BULK, description=True)}
            started = time.perf_counter()
            job_id = expect(await api.post("/v1/itsm/tickets/bulk", json=body, headers=tenant.headers), 202)["job_id"]
            job = await wait_for_job(api, tenant, job_id, poll_seconds=POLL_SECONDS)
            elapsed = time.perf_counter() - started
            if job["status"] != "SUCCESS":
                raise RuntimeError(f"job {job_id} ended {job['status']}: {job['failure_reason']}")
            return elapsed * 1000

        async def theirs() -> float:
            body = {"issueUpdates": [{"fields": issue_fields(t)} for t in tickets(BULK, description=True)]}
            started = time.perf_counter()
            expect(await bare.post("/rest/api/3/issue/bulk", json=body), 201)
            return (time.perf_counter() - started + POLL_SECONDS) * 1000

        pairs = await interleave(
            counted(context, counter, "a", ours),
            counted(context, counter, "b", theirs),
            repetitions=context.sizes.job_repetitions,
        )
    result = Result(name=name, unit="ms", target=target).with_pairs(pairs).check(1.3)
    result.calls = Calls(counter.per_run("a"), counter.per_run("b"), MINIMUM_CALLS, counter.detail("a"))
    worker = "in-process worker (embedded)" if deployment.worker is None else "separate `ticketbridge worker`"
    result.notes.append(
        f"{worker}; the client polls every {POLL_SECONDS:g} s; baseline = bare bulk create + {POLL_SECONDS:g} s"
    )
    return result


def rate_bound_seconds(creates: int, rate: float) -> float:
    """The least time `creates` POSTs take through a full bucket of `rate` tokens refilled at `rate`/s."""
    return max(0.0, (creates - rate) / rate)


async def rate_limited_jobs(context: Context) -> Result:
    jobs = context.sizes.rate_limited_jobs
    name = f"9. {jobs} bulk jobs of 50 under 2 POST/s per endpoint"
    deployment = context.sqlite
    tenant = await fresh_tenant(context, deployment, "rate-limited")
    bound_seconds = rate_bound_seconds(jobs, RATE_POST_PER_SECOND)
    bound_rate = jobs * BULK / bound_seconds
    rates: list[float] = []
    per_job_calls: list[float] = []
    retried: list[int] = []
    async with httpx.AsyncClient(base_url=deployment.api.url, timeout=60) as api:
        for _ in range(context.sizes.rate_limited_repetitions):
            # A new configuration also refills the buckets: every repetition starts from a full one.
            await context.sandbox.configure(
                rate_limits={"enabled": True, "post_per_second": RATE_POST_PER_SECOND, "get_per_second": 100}
            )
            before = await context.sandbox.calls()
            started = time.perf_counter()
            job_ids = [
                expect(
                    await api.post(
                        "/v1/itsm/tickets/bulk",
                        json={"tickets": tickets(BULK, description=True)},
                        headers=tenant.headers,
                    ),
                    202,
                )["job_id"]
                for _ in range(jobs)
            ]
            finished = await asyncio.gather(
                *(wait_for_job(api, tenant, job_id, poll_seconds=0.2) for job_id in job_ids)
            )
            elapsed = time.perf_counter() - started
            failed = [job for job in finished if job["status"] != "SUCCESS"]
            if failed:
                raise RuntimeError(f"{len(failed)} of {jobs} jobs ended FAILED: {failed[0]['failure_reason']}")
            delta = calls_delta(before, await context.sandbox.calls())
            rates.append(jobs * BULK / elapsed)
            per_job_calls.append(sum(delta.values()) / jobs)
            retried.append(delta["createIssues"] - jobs)
    await context.sandbox.configure()
    ratios = [rate / bound_rate for rate in rates]
    result = Result(
        name=name,
        unit="tickets/s",
        target=">= 90 % of the bound",
        ticketbridge=sorted(rates)[len(rates) // 2],
        baseline=bound_rate,
        better="higher",
        ratio_median=sorted(ratios)[len(ratios) // 2],
        ratio_min=min(ratios),
        ratio_max=max(ratios),
        repetitions=len(rates),
        calls=Calls(sorted(per_job_calls)[len(per_job_calls) // 2], None, MINIMUM_CALLS),
    ).check(0.9)
    result.notes.append(
        f"bound: {jobs} createIssues through a bucket of {RATE_POST_PER_SECOND:g} refilled at "
        f"{RATE_POST_PER_SECOND:g}/s = {bound_seconds:.1f} s for {jobs * BULK} tickets; "
        f"createIssues calls beyond one per job (429s included: the sandbox counts before it throttles), per run: "
        f"{retried}; calls are per job"
    )
    return result
