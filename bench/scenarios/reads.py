"""Scenarios 6 and 7: reads under load, against a bare FastAPI app answering the same bytes.

6. GET /v1/itsm/tickets?limit=50 and GET /v1/itsm/tickets/{id} with `stored_tickets` tickets in one
   connection, 32 connections of a closed-loop load (bench/loadgen.py, its own process), on SQLite and
   PostgreSQL. The tickets are written straight into the tickets table (one INSERT per 1,000 rows,
   through the ORM table, so both databases get their own column formats).
7. GET /healthz, the same way.

Each window of ticketbridge alternates with a window of the bare app (ABBA); both servers run the
whole time, so each side sees the same background load. Figures are req/s; p50/p99 are in the notes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

from bench.context import Context, expect, fresh_tenant
from bench.deployment import Deployment, Tenant
from bench.measure import Calls, Pairs, Result, interleave
from bench.processes import HOST, Process, free_port, python_module, started
from ticketbridge.store.tables import TicketRow

CONCURRENCY = 32
INSERT_CHUNK = 1000
LOADGEN_TIMEOUT_EXTRA_SECONDS = 60


async def store_tickets(deployment: Deployment, tenant: Tenant, count: int) -> None:
    engine = create_async_engine(deployment.database_url)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    organization_id, connection_id = uuid.UUID(tenant.organization_id), uuid.UUID(tenant.connection_id)
    try:
        for offset in range(0, count, INSERT_CHUNK):
            rows = []
            for index in range(offset, min(count, offset + INSERT_CHUNK)):
                moment = start + timedelta(seconds=index)
                rows.append(
                    {
                        "id": uuid.uuid4(),
                        "organization_id": organization_id,
                        "connection_id": connection_id,
                        "vendor": "JIRA",
                        "vendor_id": str(100_000 + index),
                        "vendor_key": f"BENCH-{index}",
                        "name": f"Generated ticket {index}",
                        "description": "A stored ticket for the read benchmarks.",
                        "status": "TODO",
                        "vendor_status": "To Do",
                        "status_category": "new",
                        "priority": "MEDIUM",
                        "vendor_priority": "Medium",
                        "type": "Task",
                        "type_vendor_id": "10001",
                        "project_vendor_id": "BENCH",
                        "tags": ["bench"],
                        "url": f"http://jira.test/browse/BENCH-{index}",
                        "ticket_created_at": moment,
                        "ticket_updated_at": moment,
                        "status_updated_at": moment,
                        "vendor_version": str(index),
                        "custom_fields": {},
                        "active": True,
                        "created_at": moment,
                        "updated_at": moment,
                    }
                )
            async with engine.begin() as connection:
                await connection.execute(insert(TicketRow), rows)
    finally:
        await engine.dispose()


async def capture(deployment: Deployment, tenant: Tenant) -> tuple[dict[str, dict[str, str]], list[str]]:
    """The real API's answers (the bare app serves these bytes) and 50 ticket ids to cycle through."""
    async with httpx.AsyncClient(base_url=deployment.api.url, headers=tenant.headers, timeout=60) as api:
        listed = await api.get("/v1/itsm/tickets", params={"limit": 50})
        items = expect(listed)["items"]
        ids = [item["id"] for item in items]
        one = await api.get(f"/v1/itsm/tickets/{ids[0]}")
        expect(one)
        health = await api.get("/healthz")
        expect(health)
    fixtures = {
        "list": {"body": listed.text},
        "get": {"body": one.text, "etag": one.headers.get("etag", "")},
        "healthz": {"body": health.text},
    }
    return fixtures, ids


@contextlib.asynccontextmanager
async def bare_app(directory: Path, fixtures: dict[str, dict[str, str]], name: str) -> AsyncIterator[Process]:
    path = directory / f"fixtures-{name}.json"
    path.write_text(json.dumps(fixtures))
    port = free_port()
    async with started(
        python_module("bench.bare_app", "--host", HOST, "--port", str(port), "--fixtures", str(path)),
        env=None,
        log_path=directory / f"bare-{name}.log",
        url=f"http://{HOST}:{port}",
        ready_path="/healthz",
    ) as process:
        yield process


async def run_load(url: str, paths: list[str], headers: dict[str, str], seconds: float) -> dict[str, float]:
    args = ["--base-url", url, "--concurrency", str(CONCURRENCY), "--seconds", str(seconds)]
    args += [item for path in paths for item in ("--path", path)]
    args += [item for name, value in headers.items() for item in ("--header", f"{name}={value}")]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.loadgen", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), seconds + LOADGEN_TIMEOUT_EXTRA_SECONDS)
    if process.returncode != 0:
        raise RuntimeError(f"loadgen failed: {err.decode(errors='replace')[-500:]}")
    figures: dict[str, float] = json.loads(out)
    return figures


async def _compare(
    context: Context,
    name: str,
    ours: tuple[str, dict[str, str]],
    bare: str,
    paths: list[str],
    *,
    p99_limit: float | None,
) -> Result:
    windows: dict[str, list[dict[str, float]]] = {"a": [], "b": []}
    seconds = context.sizes.load_seconds

    def side(key: str, url: str, headers: dict[str, str]) -> Any:
        async def run() -> float:
            figures = await run_load(url, paths, headers, seconds)
            windows[key].append(figures)
            return figures["rps"]

        return run

    pairs: Pairs = await interleave(
        side("a", *ours), side("b", bare, {}), repetitions=context.sizes.load_repetitions, warmup=0
    )
    target = ">= 20 % of bare req/s" + (f", p99 <= {p99_limit:g}x" if p99_limit else "")
    result = Result(name=name, unit="req/s", target=target, better="higher").with_pairs(pairs)
    p99_a = statistics.median(w["p99_ms"] for w in windows["a"])
    p99_b = statistics.median(w["p99_ms"] for w in windows["b"])
    p50_a = statistics.median(w["p50_ms"] for w in windows["a"])
    p50_b = statistics.median(w["p50_ms"] for w in windows["b"])
    loadgen_cpu = statistics.median(w["loadgen_cpu_share"] for w in windows["b"])
    errors = sum(w["errors"] for w in windows["a"]) + sum(w["errors"] for w in windows["b"])
    failures: Counter[str] = sum((Counter(w.get("failures", {})) for w in windows["a"] + windows["b"]), Counter())
    p99_ratio = p99_a / p99_b if p99_b else float("inf")
    result.extra.update(
        p50_ms=p50_a,
        p99_ms=p99_a,
        bare_p50_ms=p50_b,
        bare_p99_ms=p99_b,
        p99_ratio=p99_ratio,
        errors=errors,
        failures=dict(failures),
        bare_loadgen_cpu_share=loadgen_cpu,
    )
    result.check(0.2)
    if p99_limit is not None and result.target_met is not None:
        result.target_met = result.target_met and p99_ratio <= p99_limit
    result.calls = Calls(0, 0, 0)
    result.notes.append(
        f"p50 {p50_a:.1f} ms vs bare {p50_b:.1f} ms; p99 {p99_a:.1f} ms vs bare {p99_b:.1f} ms "
        f"({p99_ratio:.1f}x); {CONCURRENCY} connections, {seconds:g} s windows, "
        f"non-200 answers: {errors:g}{_described(failures)}; "
        f"load generator CPU during bare windows {loadgen_cpu:.0%} of a core (near 100 %: it, not the bare app, "
        "was the limit, and the ratio understates the API's cost)"
    )
    return result


async def reads(context: Context, deployment: Deployment | None, database: str) -> list[Result]:
    stored = context.sizes.stored_tickets
    names = [
        f"6. GET tickets?limit=50, {stored:,} stored, {database}",
        f"6. GET tickets/{{id}}, {stored:,} stored, {database}",
    ]
    target = ">= 20 % of bare req/s, p99 <= 20x"
    if deployment is None:
        reason = context.postgres_reason or "no deployment"
        return [Result(name=name, unit="req/s", target=target, skipped=reason) for name in names]
    tenant = await fresh_tenant(context, deployment, f"reads-{database}")
    await store_tickets(deployment, tenant, stored)
    fixtures, ids = await capture(deployment, tenant)
    results = []
    async with bare_app(context.directory, fixtures, database) as bare:
        ours = (deployment.api.url, tenant.headers)
        results.append(await _compare(context, names[0], ours, bare.url, ["/v1/itsm/tickets?limit=50"], p99_limit=20))
        paths = [f"/v1/itsm/tickets/{ticket_id}" for ticket_id in ids]
        results.append(await _compare(context, names[1], ours, bare.url, paths, p99_limit=20))
        if database == "sqlite":
            results.append(
                await _compare(
                    context, "7. GET /healthz", (deployment.api.url, {}), bare.url, ["/healthz"], p99_limit=None
                )
            )
            results[-1].target = "none set (reported)"
            results[-1].target_met = None
    return results


def _described(failures: Counter[str]) -> str:
    """` (503 x2, ReadTimeout x1)`: what the non-200 answers were, or nothing when there were none."""
    if not failures:
        return ""
    return " (" + ", ".join(f"{outcome} x{count}" for outcome, count in failures.most_common()) + ")"
