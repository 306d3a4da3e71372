"""Scenario 8: a full sync of `sync_issues` seeded Jira sandbox issues against bare paging, and the
peak memory of a full sync of `memory_sync_issues` (issue #16: 100,000 issues within 200 MB).

ticketbridge: a fresh SQLite deployment per repetition (`serve` with its in-process worker, so the
peak RSS read from /proc is this one sync's), a new connection, POST /v1/admin/connections/{id}/sync,
polled every 0.1 s until the job succeeds: the full walk, the directory and the deletion walk.
Baseline: bench/pager.py in its own process pages /rest/api/3/search/jql over the same issues and
discards them. Both talk to one dedicated sandbox (search lag 0, rate limits off) seeded through
/__sandbox__/seed. Figures are issues/s over the sandbox's issue count; the minimum number of calls
is one search per 100 issues.

The memory row: one such sync on its own sandbox, the `serve` process's VmRSS sampled every
`RSS_SAMPLE_SECONDS` and its VmHWM read at the end; the bare pager's peak RSS over the same issues
is its baseline. Memory flat in the number of tickets shows as the RSS at the walk's end close to
the RSS at its middle.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sys
import time
from collections.abc import AsyncIterator
from functools import partial

import httpx

from bench.context import Context, Sizes, wait_for_job
from bench.deployment import sqlite_deployment
from bench.measure import Calls, Result, interleave
from bench.processes import Process, jira_sandbox
from bench.sandbox import SandboxControl, calls_delta

PAGE_SIZE = 100
PAGER_TIMEOUT_SECONDS = 900
RSS_SAMPLE_SECONDS = 0.5
#: Issue #16's memory target: 200 MB (10^6 bytes), in MiB.
MEMORY_TARGET_MIB = 200e6 / 2**20


@contextlib.asynccontextmanager
async def seeded_sandbox(context: Context, name: str, issues: int) -> AsyncIterator[tuple[SandboxControl, int]]:
    """A dedicated Jira sandbox process seeded with `issues` issues; yields it and its issue count."""
    async with jira_sandbox(context.directory, name) as sandbox_process:
        sandbox = SandboxControl(sandbox_process.url)
        try:
            await sandbox.configure()
            await sandbox.seed_issues(issues)
            yield sandbox, await sandbox.issue_count()
        finally:
            await sandbox.aclose()


async def full_sync(context: Context) -> Result:
    issues = context.sizes.sync_issues
    name = f"8. full sync of {issues:,} issues"
    calls: dict[str, list[float]] = {"a": [], "b": []}
    memory: list[tuple[float, float]] = []
    memory_bare: list[float] = []
    runs: list[int] = []
    async with seeded_sandbox(context, "jira-sync", issues) as (sandbox, total):
        repetition = 0

        async def ours() -> float:
            nonlocal repetition
            repetition += 1
            directory = context.directory / f"sync-{repetition}"
            async with sqlite_deployment(directory, name=f"sync-{repetition}") as deployment:
                tenant = await deployment.tenant(sandbox.url, name=f"sync-{repetition}")
                rss_before = deployment.api.memory_mib()[0]
                before = await sandbox.calls()
                started = time.perf_counter()
                job_id = await deployment.request_sync(tenant.connection_id)
                async with httpx.AsyncClient(base_url=deployment.api.url, timeout=60) as api:
                    job = await wait_for_job(api, tenant, job_id, poll_seconds=0.1)
                elapsed = time.perf_counter() - started
                if job["status"] != "SUCCESS":
                    raise RuntimeError(f"sync ended {job['status']}: {job['failure_reason']}")
                calls["a"].append(sum(calls_delta(before, await sandbox.calls()).values()))
                memory.append((rss_before, deployment.api.memory_mib()[1]))
                runs.append(sync_runs(deployment.api))
            return total / elapsed

        pairs = await interleave(
            ours,
            partial(_bare_pager, sandbox, calls["b"], memory_bare, total),
            repetitions=context.sizes.sync_repetitions,
            warmup=0,
        )
    result = Result(name=name, unit="tickets/s", target=">= 50 % of bare, calls <= 1.1x", better="higher")
    result.with_pairs(pairs).check(0.5)
    ours_calls = sorted(calls["a"])[len(calls["a"]) // 2]
    bare_calls = sorted(calls["b"])[len(calls["b"]) // 2]
    result.calls = Calls(ours_calls, bare_calls, math.ceil(total / PAGE_SIZE))
    if result.target_met is not None:
        result.target_met = result.target_met and ours_calls <= 1.1 * bare_calls
    rss_before = max(before for before, _ in memory)
    peak = max(peak for _, peak in memory)
    result.extra.update(
        issues=total,
        api_rss_before_mib=rss_before,
        api_peak_rss_mib=peak,
        bare_peak_rss_mib=max(memory_bare),
        sync_runs=runs,
    )
    result.notes.append(
        f"{total:,} issues ({issues:,} seeded + the demo site's); peak RSS of the syncing `serve` process "
        f"{peak:.0f} MiB (RSS {rss_before:.0f} MiB before the sync), bare pager {max(memory_bare):.0f} MiB; "
        "calls are ticketbridge's whole run (directory and deletion walk included)"
        + (f"; sync runs per job {runs} (more than 1: an attempt was cut short)" if any(n != 1 for n in runs) else "")
    )
    return result


async def _bare_pager(sandbox: SandboxControl, calls: list[float], memory: list[float], total: int) -> float:
    """bench/pager.py in its own process over every issue; returns its issues/s (calls and peak RSS
    appended to `calls` and `memory`)."""
    before = await sandbox.calls()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.pager",
        "--base-url",
        sandbox.url,
        "--page-size",
        str(PAGE_SIZE),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), PAGER_TIMEOUT_SECONDS)
    if process.returncode != 0:
        raise RuntimeError(f"pager failed: {err.decode(errors='replace')[-500:]}")
    figures = json.loads(out)
    calls.append(sum(calls_delta(before, await sandbox.calls()).values()))
    memory.append(figures["peak_rss_mib"])
    if figures["issues"] != total:
        raise RuntimeError(f"the pager saw {figures['issues']} issues, not {total}")
    return float(figures["issues"]) / float(figures["seconds"])


def memory_name(sizes: Sizes) -> str:
    quick = " (quick size; the target is at 100,000)" if sizes.memory_sync_issues < 100_000 else ""
    return f"8. peak RSS, full sync of {sizes.memory_sync_issues:,} issues{quick}"


async def sync_memory(context: Context) -> Result:
    """One full sync of `memory_sync_issues`: the syncing process's peak RSS against 200 MB."""
    issues = context.sizes.memory_sync_issues
    async with seeded_sandbox(context, "jira-sync-memory", issues) as (sandbox, total):
        directory = context.directory / "sync-memory"
        async with sqlite_deployment(directory, name="sync-memory") as deployment:
            tenant = await deployment.tenant(sandbox.url, name="sync-memory")
            rss_before = deployment.api.memory_mib()[0]
            samples: list[float] = []
            job_id = await deployment.request_sync(tenant.connection_id)
            sampler = asyncio.create_task(_sample_rss(deployment.api, samples))
            try:
                async with httpx.AsyncClient(base_url=deployment.api.url, timeout=60) as api:
                    job = await wait_for_job(api, tenant, job_id, poll_seconds=0.5)
            finally:
                sampler.cancel()
            if job["status"] != "SUCCESS":
                raise RuntimeError(f"sync ended {job['status']}: {job['failure_reason']}")
            peak = deployment.api.memory_mib()[1]
            attempts = sync_runs(deployment.api)
        bare: list[float] = []
        await _bare_pager(sandbox, [], bare, total)
    middle = samples[len(samples) // 2] if samples else rss_before
    end = samples[-1] if samples else rss_before
    result = Result(
        name=memory_name(context.sizes),
        unit="MiB",
        target="peak RSS <= 200 MB (190.7 MiB) at 100,000",
        better="lower",
        ticketbridge=peak,
        baseline=bare[0],
        repetitions=1,
    )
    result.ratio_median = result.ratio_min = result.ratio_max = peak / bare[0]
    # The target is for 100,000 issues: a smaller (quick) run reports its figure and judges nothing.
    result.target_met = peak <= MEMORY_TARGET_MIB if issues >= 100_000 else None
    result.extra.update(
        issues=total,
        api_rss_before_mib=rss_before,
        api_rss_mid_sync_mib=middle,
        api_rss_end_sync_mib=end,
        api_peak_rss_mib=peak,
        bare_peak_rss_mib=bare[0],
        sync_runs=attempts,
    )
    result.notes.append(
        f"{total:,} issues; peak RSS (VmHWM) of the syncing `serve` process {peak:.0f} MiB: {rss_before:.0f} MiB "
        f"before the sync, {middle:.0f} MiB half-way through it, {end:.0f} MiB at its end; bare pager {bare[0]:.0f} MiB"
        + (f"; the job took {attempts} sync runs (an attempt was cut short)" if attempts != 1 else "")
    )
    return result


def sync_runs(process: Process) -> int:
    """How many sync runs the process's log shows: more than one means an attempt was cut short (a
    lease lost, say) and the figures include a resumed run."""
    return process.log_path.read_text(errors="replace").count('"event": "sync.started"')


async def _sample_rss(process: Process, samples: list[float]) -> None:
    while True:
        samples.append(process.memory_mib()[0])
        await asyncio.sleep(RSS_SAMPLE_SECONDS)
