"""`python -m bench [--quick] [--only 1,2,...] [--label TEXT]`: every scenario against its baseline, in one run.

Prints a table, writes bench/results/latest.json and appends the run to bench/results/history.jsonl.
`--legacy-listing` runs the older in-process listing benchmark over 1,000,000 rows instead.

The processes: one Jira sandbox (search lag 0 so that baselines compare; rate limits off except in
scenario 9), one SQLite deployment (embedded: `serve` with its in-process worker), one PostgreSQL
deployment (throwaway database, `serve --no-worker` + `ticketbridge worker`) for scenarios 5, 6 and 10
(which starts up to 3 more workers), and, for scenario 8, its own sandbox and one fresh SQLite
deployment per repetition.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import traceback
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

from bench import listing
from bench.context import FULL, QUICK, Context, Sizes
from bench.deployment import postgres_deployment, postgres_reason, sqlite_deployment
from bench.measure import Result
from bench.processes import jira_sandbox
from bench.results import Run, table
from bench.sandbox import SandboxControl
from bench.scenarios import jobs, reads, scale, sync, writes

ALL = frozenset(range(1, 11))


async def _attempt(
    results: list[Result],
    names: list[str],
    unit: str,
    target: str,
    run: Callable[[], Awaitable[Result | list[Result]]],
) -> list[Result]:
    """Runs one scenario; a failure becomes a NOT RUN row saying why (never a figure)."""
    try:
        got: Result | list[Result] = await run()
    except Exception as exc:  # the table must say why a scenario did not run, and the run goes on
        traceback.print_exc(file=sys.stderr)
        reason = f"failed: {type(exc).__name__}: {str(exc)[:300]}"
        got = [Result(name=name, unit=unit, target=target, skipped=reason) for name in names]
    added = got if isinstance(got, list) else [got]
    for result in added:
        print(f"  done: {result.name}", file=sys.stderr, flush=True)
    results.extend(added)
    return added


async def run(sizes: Sizes, only: frozenset[int], directory: Path) -> list[Result]:
    results: list[Result] = []
    pg_reason = await postgres_reason()
    stored = f"{sizes.stored_tickets:,}"
    async with (
        jira_sandbox(directory) as sandbox_process,
        sqlite_deployment(directory / "sqlite") as sqlite,
        contextlib.AsyncExitStack() as stack,
    ):
        postgres = None
        if pg_reason is None and only & {5, 6, 10}:
            postgres = await stack.enter_async_context(postgres_deployment(directory / "postgresql"))
        sandbox = SandboxControl(sandbox_process.url)
        stack.push_async_callback(sandbox.aclose)
        context = Context(sizes, directory, sandbox, sqlite, postgres, pg_reason)
        first = third = None
        if 1 in only or 4 in only:
            name = "1. bulk/sync 50 with descriptions, 100 ms vendor"
            first = (await _attempt(results, [name], "ms", "<= 1.10x", lambda: writes.bulk_sync_latency(context)))[0]
        if 2 in only:
            names = ["2. bulk/sync 50 no descriptions, 0 ms, per ticket", "2. API process CPU per ticket"]
            target = "<= 1 ms API CPU/ticket"
            await _attempt(results, names, "ms", target, lambda: writes.bulk_sync_overhead(context))
        if 3 in only or 4 in only:
            name = "3. single POST /v1/itsm/tickets, 100 ms vendor"
            third = (await _attempt(results, [name], "ms", "<= 1.3x", lambda: writes.single_create(context)))[0]
        if 4 in only and first is not None and third is not None:
            results.append(writes.vendor_calls(first, "4. vendor calls, bulk of 50"))
            results.append(writes.vendor_calls(third, "4. vendor calls, single create"))
        if 5 in only:
            for deployment, database in ((sqlite, "sqlite"), (postgres, "postgresql")):
                name = f"5. async bulk job of 50, 100 ms vendor, {database}"
                await _attempt(results, [name], "ms", "<= 1.3x", partial(jobs.bulk_job, context, deployment, database))
        if 6 in only or 7 in only:
            for deployment, database in ((sqlite, "sqlite"), (postgres, "postgresql")):
                names = [
                    f"6. GET tickets?limit=50, {stored} stored, {database}",
                    f"6. GET tickets/{{id}}, {stored} stored, {database}",
                ]
                if database == "sqlite":
                    names.append("7. GET /healthz")
                target = ">= 20 % of bare req/s, p99 <= 20x"
                await _attempt(results, names, "req/s", target, partial(reads.reads, context, deployment, database))
        if 9 in only:
            name = f"9. {sizes.rate_limited_jobs} bulk jobs of 50 under 2 POST/s per endpoint"
            await _attempt(
                results, [name], "tickets/s", ">= 90 % of the bound", lambda: jobs.rate_limited_jobs(context)
            )
        if 10 in only:
            names = [f"10. {sizes.scale_jobs} bulk jobs of 50 on PostgreSQL, {n} worker(s)" for n in scale.WORKERS]
            target = "reported (scaling against 1 worker)"
            await _attempt(results, names, "tickets/s", target, lambda: scale.scale_out(context))
        if 8 in only:
            name = f"8. full sync of {sizes.sync_issues:,} issues"
            target = ">= 50 % of bare, calls <= 1.1x"
            await _attempt(results, [name], "tickets/s", target, lambda: sync.full_sync(context))
            target = "peak RSS <= 200 MB (190.7 MiB) at 100,000"
            await _attempt(results, [sync.memory_name(sizes)], "MiB", target, lambda: sync.sync_memory(context))
    order = {result.name: index for index, result in enumerate(results)}
    return sorted(results, key=lambda result: (result.name.split(".")[0].zfill(2), order[result.name]))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller sizes (a few minutes)")
    parser.add_argument("--only", help="comma-separated scenario numbers, e.g. 1,4,8")
    parser.add_argument("--no-record", action="store_true", help="print the table, write no results file")
    parser.add_argument("--keep", type=Path, help="keep the processes' logs and databases in this directory")
    parser.add_argument("--label", help="what the tree held, recorded with the run (an uncommitted change, say)")
    parser.add_argument("--legacy-listing", action="store_true", help="the in-process 1,000,000-row listing bench")
    parser.add_argument("--rows", type=int, default=listing.ROWS, help="rows for --legacy-listing")
    args = parser.parse_args()
    if args.legacy_listing:
        asyncio.run(listing.main(args.rows))
        return
    only = frozenset(int(part) for part in args.only.split(",")) if args.only else ALL
    if not only <= ALL:
        parser.error(f"scenarios are numbered 1 to 10, not {sorted(only - ALL)}")
    record = Run(mode="quick" if args.quick else "full", selected=sorted(only), label=args.label)
    with contextlib.ExitStack() as stack:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            directory = args.keep
        else:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ticketbridge-bench-")))
        try:
            record.results = asyncio.run(run(QUICK if args.quick else FULL, only, directory))
        except Exception as exc:  # e.g. the API did not start: the record says so, with no figures
            traceback.print_exc(file=sys.stderr)
            reason = f"the processes did not start: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
            record.results = [Result(name="all selected scenarios", unit="-", target="-", skipped=reason)]
    record.finish()
    print(table(record))
    if not args.no_record:
        print(f"\nwritten: {record.write()} (and appended to history.jsonl)")


if __name__ == "__main__":
    main()
