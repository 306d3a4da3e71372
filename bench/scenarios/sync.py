"""Scenario 8: a full sync of `sync_issues` seeded Jira sandbox issues against bare paging.

ticketbridge: a fresh SQLite deployment per repetition (`serve` with its in-process worker, so the
peak RSS read from /proc is this one sync's), a new connection, POST /v1/admin/connections/{id}/sync,
polled every 0.1 s until the job succeeds: the full walk, the directory and the deletion walk.
Baseline: bench/pager.py in its own process pages /rest/api/3/search/jql over the same issues and
discards them. Both talk to one dedicated sandbox (search lag 0, rate limits off) seeded through
/__sandbox__/seed. Figures are issues/s over the sandbox's issue count; the minimum number of calls
is one search per 100 issues.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time

import httpx

from bench.context import Context, wait_for_job
from bench.deployment import sqlite_deployment
from bench.measure import Calls, Result, interleave
from bench.processes import jira_sandbox
from bench.sandbox import SandboxControl, calls_delta

PAGE_SIZE = 100
PAGER_TIMEOUT_SECONDS = 900


async def full_sync(context: Context) -> Result:
    issues = context.sizes.sync_issues
    name = f"8. full sync of {issues:,} issues"
    calls: dict[str, list[float]] = {"a": [], "b": []}
    memory: list[tuple[float, float]] = []
    memory_bare: list[float] = []
    async with jira_sandbox(context.directory, "jira-sync") as sandbox_process:
        sandbox = SandboxControl(sandbox_process.url)
        try:
            await sandbox.configure()
            await sandbox.seed_issues(issues)
            total = await sandbox.issue_count()
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
                return total / elapsed

            async def theirs() -> float:
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
                calls["b"].append(sum(calls_delta(before, await sandbox.calls()).values()))
                memory_bare.append(figures["peak_rss_mib"])
                if figures["issues"] != total:
                    raise RuntimeError(f"the pager saw {figures['issues']} issues, not {total}")
                return float(figures["issues"]) / float(figures["seconds"])

            pairs = await interleave(ours, theirs, repetitions=context.sizes.sync_repetitions, warmup=0)
        finally:
            await sandbox.aclose()
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
        issues=total, api_rss_before_mib=rss_before, api_peak_rss_mib=peak, bare_peak_rss_mib=max(memory_bare)
    )
    result.notes.append(
        f"{total:,} issues ({issues:,} seeded + the demo site's); peak RSS of the syncing `serve` process "
        f"{peak:.0f} MiB (RSS {rss_before:.0f} MiB before the sync), bare pager {max(memory_bare):.0f} MiB; "
        "calls are ticketbridge's whole run (directory and deletion walk included)"
    )
    return result
