"""After the load: wait for every accepted job, then count every identifier locally and in Jira.

- Jobs: each job answered 202 is polled (GET /v1/jobs/{id}) until SUCCESS or FAILED, for at most
  `drain_seconds`; one still QUEUED or RUNNING then counts as unfinished (lost, for this run).
- Local: rows of the `tickets` table per (connection, identifier), read from the database itself;
  leftover `create_claims` rows and the `jobs` table by status.
- Jira: every issue of the project is listed through the Jira REST search (labels only), once the
  search lag has passed, and each identifier's create marker (`marker_for(connection, identifier)`,
  a label) is counted; the repeated identifiers and a sample of the others are counted again through
  the sandbox's `/__sandbox__/issues/count?label=`.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx

from bench.load.deployments import Deployment, expect
from bench.load.traffic import PROJECT, TenantPool, ticket_body
from ticketbridge.sandboxes import jira
from ticketbridge.services.ticket_requests import marker_for

FINISHED = frozenset({"SUCCESS", "FAILED"})
POLL_CONCURRENCY = 16
POLL_PAUSE_SECONDS = 1.0
JIRA_PAGE = 100
#: Identifiers counted again one by one through the sandbox's control API, besides every repeated one.
CONTROL_SAMPLE = 300
#: Wait this much longer than the sandbox's search lag before listing.
SEARCH_MARGIN_SECONDS = 2.0
RETRY_ATTEMPTS = 5
RETRY_WAIT_CAP_SECONDS = 10.0
RETRY_DEADLINE_SECONDS = 120.0


async def drain_jobs(deployment: Deployment, pools: list[TenantPool], drain_seconds: float) -> dict[str, Any]:
    """Polls every accepted job until it finishes or the drain time is over; adds job results to pools."""
    started = time.monotonic()
    deadline = started + drain_seconds
    pending = {(pool.tenant.index, job_id) for pool in pools for job_id, _ in pool.jobs}
    by_tenant = {pool.tenant.index: pool for pool in pools}
    finished: dict[tuple[int, str], dict[str, Any]] = {}
    semaphore = asyncio.Semaphore(POLL_CONCURRENCY)
    async with httpx.AsyncClient(base_url=deployment.api_urls[0], timeout=60) as http:

        async def poll(key: tuple[int, str]) -> None:
            async with semaphore:
                response = await http.get(f"/v1/jobs/{key[1]}", headers=by_tenant[key[0]].tenant.headers)
            if response.status_code == 200 and response.json()["status"] in FINISHED:
                finished[key] = response.json()

        sweeps = 0
        while pending and time.monotonic() < deadline and sweeps < 10_000:
            sweeps += 1
            await asyncio.gather(*(poll(key) for key in sorted(pending)), return_exceptions=True)
            pending -= finished.keys()
            if pending:
                await asyncio.sleep(POLL_PAUSE_SECONDS)
    statuses: Counter[str] = Counter(job["status"] for job in finished.values())
    item_codes: Counter[str] = Counter()
    durations: list[float] = []
    for (tenant, _), job in finished.items():
        pool = by_tenant[tenant]
        for result in job["results"]:
            if result["success"] and result["identifier"] and result["ticket_id"]:
                pool.answered.setdefault(result["identifier"], set()).add(result["ticket_id"])
            elif not result["success"]:
                item_codes[result.get("code") or "NONE"] += 1
        if job["finished_at"] and job["created_at"]:
            durations.append(
                (datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["created_at"])).total_seconds()
            )
    failed_jobs = [
        {"job_id": job["id"], "failure_reason": (job.get("failure_reason") or "")[:1000]}
        for job in finished.values()
        if job["status"] == "FAILED"
    ][:10]
    return {
        "accepted": len(finished) + len(pending),
        "finished": len(finished),
        "by_status": dict(statuses),
        "unfinished": sorted(job_id for _, job_id in pending)[:50],
        "unfinished_count": len(pending),
        "drain_seconds": round(time.monotonic() - started, 1),
        "drain_limit_seconds": drain_seconds,
        "failed_item_codes": dict(item_codes),
        "failed_jobs_sample": failed_jobs,
        "seconds_to_finish": durations,
    }


async def retry_unsettled(deployment: Deployment, pools: list[TenantPool]) -> list[dict[str, Any]]:
    """Does what the API tells a client to do: each identifier that no request settled (no 200, no
    accepted job: a 5xx, a transport error, a 409 only) is sent again, the same create, until a 200
    or RETRY_ATTEMPTS, waiting Retry-After (at most RETRY_WAIT_CAP_SECONDS) in between."""
    outcomes: list[dict[str, Any]] = []
    deadline = time.monotonic() + RETRY_DEADLINE_SECONDS
    async with httpx.AsyncClient(base_url=deployment.api_urls[0], timeout=60) as http:
        for pool in pools:
            for identifier, statuses in pool.statuses.items():
                if 200 in statuses or 202 in statuses:
                    continue
                answers: list[str] = []
                for _ in range(RETRY_ATTEMPTS):
                    if time.monotonic() >= deadline:
                        break
                    response = await http.post(
                        "/v1/itsm/tickets", json=ticket_body(identifier), headers=pool.tenant.headers
                    )
                    body = response.json()
                    answers.append(
                        f"{response.status_code} {body.get('code', '') if response.status_code >= 400 else ''}"
                    )
                    if response.status_code == 200:
                        pool.answer(identifier, body["id"])
                        break
                    wait = float(response.headers.get("Retry-After", "1") or 1)
                    await asyncio.sleep(min(wait, RETRY_WAIT_CAP_SECONDS))
                outcomes.append({"identifier": identifier, "during_load": statuses, "retries": answers})
    return outcomes


async def local_rows(deployment: Deployment, prefix: str) -> tuple[list[tuple[str, str, str]], dict[str, Any]]:
    """((connection id, identifier, ticket id) of every ticket of the run, store facts)."""
    pattern = f"{prefix}-%"
    if deployment.database == "postgresql":
        db = await asyncpg.connect(deployment.database_location, timeout=10)
        try:
            rows = await db.fetch(
                "SELECT connection_id::text, identifier, id::text FROM tickets WHERE identifier LIKE $1", pattern
            )
            tickets = [(r[0], r[1], r[2]) for r in rows]
            claims = await db.fetchval("SELECT count(*) FROM create_claims")
            jobs = {
                r[0]: r[1] for r in await db.fetch("SELECT job_type || ' ' || status, count(*) FROM jobs GROUP BY 1")
            }
            total = await db.fetchval("SELECT count(*) FROM tickets")
        finally:
            await db.close()
    else:
        with sqlite3.connect(f"file:{deployment.database_location}?mode=ro", uri=True, timeout=30) as db:
            rows = db.execute(
                "SELECT connection_id, identifier, id FROM tickets WHERE identifier LIKE ?", (pattern,)
            ).fetchall()
            tickets = [(str(uuid.UUID(str(r[0]))), r[1], str(uuid.UUID(str(r[2])))) for r in rows]
            claims = db.execute("SELECT count(*) FROM create_claims").fetchone()[0]
            jobs = dict(db.execute("SELECT job_type || ' ' || status, count(*) FROM jobs GROUP BY 1").fetchall())
            total = db.execute("SELECT count(*) FROM tickets").fetchone()[0]
    return tickets, {"leftover_create_claims": claims, "jobs_table": jobs, "tickets_table_rows": total}


async def jira_labels(deployment: Deployment, search_lag_ms: float) -> tuple[Counter[str], int, int]:
    """(issues per label, issues listed, issues the sandbox holds in the project)."""
    await asyncio.sleep(search_lag_ms / 1000 + SEARCH_MARGIN_SECONDS)
    labels: Counter[str] = Counter()
    listed = 0
    auth = (jira.DEMO_EMAIL, jira.DEMO_API_TOKEN)
    async with httpx.AsyncClient(base_url=deployment.sandbox.url, auth=auth, timeout=120) as http:
        held = expect(await http.get("/__sandbox__/issues/count", params={"project": PROJECT}))["count"]
        token: str | None = None
        for _ in range(held // JIRA_PAGE + 20):
            params: dict[str, Any] = {"jql": f"project = {PROJECT} ORDER BY created ASC", "fields": "labels"}
            params["maxResults"] = JIRA_PAGE
            if token:
                params["nextPageToken"] = token
            page = expect(await http.get("/rest/api/3/search/jql", params=params))
            for issue in page["issues"]:
                listed += 1
                labels.update(issue["fields"].get("labels") or [])
            token = page.get("nextPageToken")
            if not token or page.get("isLast"):
                break
    return labels, listed, held


async def control_counts(deployment: Deployment, markers: list[str]) -> dict[str, int]:
    semaphore = asyncio.Semaphore(8)
    counts: dict[str, int] = {}
    async with httpx.AsyncClient(base_url=deployment.sandbox.url, timeout=60) as http:

        async def one(marker: str) -> None:
            async with semaphore:
                counts[marker] = expect(await http.get("/__sandbox__/issues/count", params={"label": marker}))["count"]

        await asyncio.gather(*(one(marker) for marker in markers))
    return counts


async def verify(deployment: Deployment, pools: list[TenantPool], prefix: str, search_lag_ms: float) -> dict[str, Any]:
    """Every identifier sent: its local tickets, its Jira issues, and the ticket ids answered for it."""
    rows, store = await local_rows(deployment, prefix)
    local: dict[tuple[str, str], list[str]] = {}
    for connection_id, identifier, ticket_id in rows:
        local.setdefault((connection_id, identifier), []).append(ticket_id)
    labels, listed, held = await jira_labels(deployment, search_lag_ms)
    rng = random.Random(7)
    problems: list[dict[str, Any]] = []
    summary: Counter[str] = Counter()
    to_control: list[tuple[str, str, int]] = []
    for pool in pools:
        connection_id = pool.tenant.connection_id
        for identifier, times_sent in pool.sent.items():
            marker = marker_for(uuid.UUID(connection_id), identifier)
            tickets = local.get((connection_id, identifier), [])
            issues = labels.get(marker, 0)
            answered = pool.answered.get(identifier, set())
            summary["identifiers"] += 1
            summary["repeated_identifiers"] += times_sent > 1
            summary[f"local_{_bucket(len(tickets))}"] += 1
            summary[f"jira_{_bucket(issues)}"] += 1
            mismatch = bool(answered) and answered != set(tickets)
            summary["answered_other_ticket"] += mismatch
            if len(tickets) != 1 or issues != 1 or mismatch:
                problems.append(
                    {
                        "identifier": identifier,
                        "connection_id": connection_id,
                        "marker": marker,
                        "local_tickets": tickets,
                        "jira_issues": issues,
                        "answered_ticket_ids": sorted(answered),
                        "times_sent": times_sent,
                        "statuses_answered": pool.statuses.get(identifier, []),
                    }
                )
            if times_sent > 1 or rng.random() < CONTROL_SAMPLE / max(1, len(pool.sent) * len(pools)):
                to_control.append((identifier, marker, issues))
    counted = await control_counts(deployment, [marker for _, marker, _ in to_control])
    disagreements = [
        {"identifier": identifier, "listed": issues, "control_count": counted[marker]}
        for identifier, marker, issues in to_control
        if counted[marker] != issues
    ]
    return {
        "identifiers": summary["identifiers"],
        "repeated_identifiers": summary["repeated_identifiers"],
        "local": {k.removeprefix("local_"): v for k, v in summary.items() if k.startswith("local_")},
        "jira": {k.removeprefix("jira_"): v for k, v in summary.items() if k.startswith("jira_")},
        "answered_other_ticket": summary["answered_other_ticket"],
        "problems": problems[:50],
        "problem_count": len(problems),
        "jira_issues_listed": listed,
        "jira_issues_in_project": held,
        "control_api_checked": len(to_control),
        "control_api_disagreements": disagreements[:20],
        **store,
    }


def _bucket(count: int) -> str:
    return {0: "missing", 1: "exactly_one"}.get(count, "duplicated")
