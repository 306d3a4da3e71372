"""What every scenario gets: the run's sizes, its directory, the sandbox, the deployments, helpers."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.deployment import Deployment, Tenant, expect
from bench.sandbox import SandboxControl
from ticketbridge.connectors.jira.adf import markdown_to_adf

PROJECT = "DEMO"
ISSUE_TYPE = "Task"
#: Each ticket's description is this with its own host number (`{host}`): no two in a run are alike,
#: so neither side can gain from converting a repeated text once.
DESCRIPTION = (
    "The nightly export failed on **db-{host}** after the disk filled up.\n\n"
    "Steps seen so far:\n\n"
    "- the backup job started at 02:00\n"
    "- `/var/lib/export` reached 100 %\n"
    "- the job retried three times, then gave up\n\n"
    "See the [runbook](https://runbooks.example.com/export) before re-running it."
)
JOB_DEADLINE_SECONDS = 600.0
__all__ = ["expect"]  # re-exported for the scenarios


@dataclass(frozen=True)
class Sizes:
    write_repetitions: int  #: scenarios 1 and 2
    single_repetitions: int  #: scenario 3
    job_repetitions: int  #: scenario 5, per database
    load_seconds: float  #: one measured window of scenarios 6 and 7
    load_repetitions: int
    stored_tickets: int  #: scenario 6
    sync_issues: int  #: scenario 8
    sync_repetitions: int
    memory_sync_issues: int  #: scenario 8's peak-RSS row (issue #16's target is at 100,000)
    rate_limited_jobs: int  #: scenario 9
    rate_limited_repetitions: int
    scale_jobs: int  #: scenario 10, per worker count


FULL = Sizes(20, 30, 10, 8.0, 3, 10_000, 20_000, 3, 100_000, 40, 2, 48)
QUICK = Sizes(6, 10, 4, 3.0, 2, 10_000, 5_000, 2, 30_000, 10, 1, 24)


@dataclass
class Context:
    sizes: Sizes
    directory: Path
    sandbox: SandboxControl
    sqlite: Deployment
    postgres: Deployment | None
    postgres_reason: str | None  #: why `postgres` is None

    @property
    def jira_url(self) -> str:
        return self.sandbox.url


async def fresh_tenant(context: Context, deployment: Deployment, name: str) -> Tenant:
    """A new tenant on a freshly reset sandbox (demo site only), its first sync already done.

    A new connection is due for a sync at once: the worker's schedule enqueues one within 30 s. Run
    then, it would add vendor calls and load to whatever is being measured, so it runs here, at 0 ms
    latency, and the next one is not due for the connection's refresh interval (6 h).
    """
    await context.sandbox.reset()
    await context.sandbox.configure()
    tenant = await deployment.tenant(context.jira_url, name=name)
    job_id = await deployment.request_sync(tenant.connection_id)
    async with httpx.AsyncClient(base_url=deployment.api.url, timeout=60) as api:
        job = await wait_for_job(api, tenant, job_id, poll_seconds=0.1)
    if job["status"] != "SUCCESS":
        raise RuntimeError(f"the first sync of {name} ended {job['status']}: {job['failure_reason']}")
    return tenant


def tickets(count: int, *, description: bool) -> list[dict[str, Any]]:
    """`count` tickets with names never used before (so no identifier repeats across repetitions)."""
    tag = uuid.uuid4().hex[:10]
    return [
        {
            "name": f"bench {tag} {index}",
            "project_vendor_id": PROJECT,
            "type": ISSUE_TYPE,
            **({"description": DESCRIPTION.format(host=f"{tag}-{index}")} if description else {}),
        }
        for index in range(count)
    ]


def issue_fields(ticket: dict[str, Any]) -> dict[str, Any]:
    """The same ticket as Jira fields, the description already ADF (converted here, before the
    baseline's timer starts: the baseline does no conversion)."""
    fields: dict[str, Any] = {
        "project": {"key": PROJECT},
        "summary": ticket["name"],
        "issuetype": {"name": ISSUE_TYPE},
    }
    if "description" in ticket:
        fields["description"] = markdown_to_adf(ticket["description"])
    return fields


async def wait_for_job(api: httpx.AsyncClient, tenant: Tenant, job_id: str, *, poll_seconds: float) -> dict[str, Any]:
    """Polls GET /v1/jobs/{id} every `poll_seconds` until it finishes (bounded); answers the job."""
    deadline = time.monotonic() + JOB_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        time_left = deadline - time.monotonic()
        await asyncio.sleep(max(0.0, min(poll_seconds, time_left)))
        response = await api.get(f"/v1/jobs/{job_id}", headers=tenant.headers)
        response.raise_for_status()
        job: dict[str, Any] = response.json()
        if job["status"] in ("SUCCESS", "FAILED"):
            return job
    raise RuntimeError(f"job {job_id} did not finish within {JOB_DEADLINE_SECONDS:g} s")
