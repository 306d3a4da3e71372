"""`python -m bench.load [--quick] [--mode distributed|embedded|both]`: see bench/load/__init__.py.

Full: 60 s per deployment, 200 clients (distributed) and 50 (embedded), writing
bench/results/load-<mode>.json and .md. `--quick`: 10 s, 40 and 10 clients, written as
load-<mode>-quick.*. Each process's log is kept in the run directory printed at the start.
Exits 1 when a check failed (a 5xx, a transport error, a lost or duplicated job or ticket).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.load import checks, deployments, processes, report, traffic
from bench.load.deployments import Deployment


@dataclass(frozen=True)
class Plan:
    mode: str
    description: str
    clients: int
    seconds: float
    tenants: int
    drain_seconds: float


def plans(quick: bool) -> dict[str, Plan]:
    seconds = 10.0 if quick else 60.0
    drain = 120.0 if quick else 300.0
    return {
        "distributed": Plan(
            "distributed",
            "2 x `serve --no-worker` + 2 x `worker`, PostgreSQL",
            40 if quick else 200,
            seconds,
            4,
            drain,
        ),
        "embedded": Plan("embedded", "1 x `serve` with its worker, SQLite", 10 if quick else 50, seconds, 2, drain),
    }


def _deployment(plan: Plan, directory: Path) -> contextlib.AbstractAsyncContextManager[Deployment]:
    factory = deployments.distributed if plan.mode == "distributed" else deployments.embedded
    return factory(directory / plan.mode, tenants=plan.tenants)


def _self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_plan(plan: Plan, directory: Path, *, quick: bool, seed: int) -> dict[str, Any]:
    host = report.machine()
    print(f"[load] {plan.mode}: starting ({plan.clients} clients, {plan.seconds:g} s)", flush=True)
    async with _deployment(plan, directory) as deployment:
        prefix = f"ld{uuid.uuid4().hex[:8]}"
        load = traffic.Load(
            mode=plan.mode,
            api_urls=deployment.api_urls,
            tenants=deployment.tenants,
            clients=plan.clients,
            seed=seed,
            prefix=prefix,
        )
        cpu_before = {service.name: service.cpu_seconds() for service in deployment.services}
        self_before = _self_cpu_seconds()
        recorder = await load.run(plan.seconds)
        elapsed = recorder.ended - recorder.started
        cpu = {
            name: round(service.cpu_seconds() - cpu_before[name], 1)
            for name, service in ((s.name, s) for s in deployment.services)
        }
        cpu["load-generator"] = round(_self_cpu_seconds() - self_before, 1)
        load_after = [round(value, 2) for value in os.getloadavg()]
        print(f"[load] {plan.mode}: load over after {elapsed:.1f} s; draining jobs", flush=True)
        jobs = await checks.drain_jobs(deployment, load.pools, plan.drain_seconds)
        retries = await checks.retry_unsettled(deployment, load.pools)
        print(f"[load] {plan.mode}: counting tickets and Jira issues", flush=True)
        search_lag_ms = float(deployment.settings["sandbox_search_lag_ms"])
        verification = await checks.verify(deployment, load.pools, prefix, search_lag_ms)
        errors = report.log_evidence(deployment.services, recorder.failures)
        server_statuses = report.server_statuses(deployment.apis, plan.mode)
        sandbox_statuses = report.sandbox_statuses(deployment.sandbox)
        peak_rss = {service.name: round(service.peak_rss_mib(), 1) for service in deployment.services}
        result: dict[str, Any] = {
            "mode": plan.mode,
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "quick": quick,
            "run": {
                "description": plan.description,
                "clients": plan.clients,
                "seconds": plan.seconds,
                "elapsed_seconds": round(elapsed, 2),
                "mix": traffic.WEIGHTS,
                "repeat_share_of_creates": traffic.REPEAT_SHARE,
                "bulk_share_with_a_repeated_item": traffic.BULK_REPEAT_SHARE,
                "bulk_size": traffic.BULK_SIZE,
                "repeated_creates_sent": recorder.repeated_creates,
                "repeated_bulk_items_sent": recorder.repeated_bulk_items,
                "repeated_while_in_flight": recorder.repeated_in_flight,
                "identifier_prefix": prefix,
                "database": deployment.database,
                "api_processes": len(deployment.apis),
                "worker_processes": len(deployment.workers) or "in the API process",
                "settings": deployment.settings,
                "log_directory": str(directory / plan.mode),
            },
            "machine": host,
            "load_average_after": load_after,
            "tenants": [
                {"organization_id": t.organization_id, "connection_id": t.connection_id} for t in deployment.tenants
            ],
            "operations": report.operations(recorder),
            "cpu_seconds_during_load": cpu,
            "load_generator_cpu_share": round(cpu["load-generator"] / elapsed, 2) if elapsed > 0 else None,
            "peak_rss_mib": peak_rss,
            "jobs": jobs,
            "retries_after_load": retries,
            "checks": verification,
            "server_statuses": server_statuses,
            "sandbox_statuses": sandbox_statuses,
            "failures": {"count": recorder.failure_count, "samples": recorder.failures},
            "server_log_errors": errors,
        }
    result["ok"] = _ok(result)
    json_path, md_path = report.write(plan.mode, result, quick=quick)
    print(report.markdown(result), flush=True)
    print(
        f"[load] {plan.mode}: {'OK' if result['ok'] else 'CHECKS FAILED'}; wrote {json_path} and {md_path}", flush=True
    )
    return result


def _ok(result: dict[str, Any]) -> bool:
    statuses = result["operations"]["all"]["statuses"]
    checked = result["checks"]
    return (
        not any(status.startswith("5") or status == "0" for status in statuses)
        and not any(status.startswith("5") for status in result["server_statuses"])
        and result["jobs"]["unfinished_count"] == 0
        and checked["problem_count"] == 0
        and not checked["control_api_disagreements"]
    )


@contextlib.asynccontextmanager
async def run_directory() -> AsyncIterator[Path]:
    yield Path(tempfile.mkdtemp(prefix="ticketbridge-load-"))


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s per deployment, fewer clients")
    parser.add_argument("--mode", choices=("distributed", "embedded", "both"), default="both")
    parser.add_argument("--seconds", type=float, help="override the duration of each run")
    parser.add_argument("--clients", type=int, help="override the number of clients of each run")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    chosen = plans(args.quick)
    modes = ["distributed", "embedded"] if args.mode == "both" else [args.mode]
    ok = True
    async with run_directory() as directory:
        print(f"[load] logs under {directory}", flush=True)
        for mode in modes:
            plan = chosen[mode]
            if args.seconds is not None:
                plan = Plan(
                    plan.mode,
                    plan.description,
                    plan.clients,
                    min(args.seconds, 600.0),
                    plan.tenants,
                    plan.drain_seconds,
                )
            if args.clients is not None:
                plan = Plan(
                    plan.mode, plan.description, min(args.clients, 1000), plan.seconds, plan.tenants, plan.drain_seconds
                )
            if mode == "distributed" and (reason := await processes.postgres_reason()) is not None:
                print(f"[load] distributed: not run: {reason}", flush=True)
                ok = False
                continue
            started = time.monotonic()
            result = await run_plan(plan, directory, quick=args.quick, seed=args.seed)
            ok = ok and result["ok"]
            print(f"[load] {mode}: {time.monotonic() - started:.0f} s in all", flush=True)
    return 0 if ok else 1


def _run(argv: list[str]) -> int:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with the locked dependencies
        return asyncio.run(main(argv))
    return uvloop.run(main(argv))


if __name__ == "__main__":
    sys.exit(_run(sys.argv[1:]))
