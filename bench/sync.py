"""A 100,000-issue sync from the Jira sandbox into a SQLite store: wall time and peak memory.

The sandbox runs standalone in its own process (over real HTTP), so this process's peak RSS is the
sync's own: pages of 100 issues stream through and are dropped, so it stays flat as issues grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.support import jira_connection, print_table, sqlite_runtime
from ticketbridge.services.sync import sync_connection

ISSUES = 100_000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def standalone_sandbox() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "ticketbridge", "sandbox", "jira", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _wait_and_seed(base_url: str, issues: int) -> float:
    async with httpx.AsyncClient(base_url=base_url, timeout=600) as http:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/__sandbox__/calls")).is_success:
                    break
            await asyncio.sleep(0.1)
        started = time.perf_counter()
        response = await http.post("/__sandbox__/seed", json={"issues": issues})
        response.raise_for_status()
        return time.perf_counter() - started


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def run(issues: int = ISSUES) -> list[tuple[str, str]]:
    with standalone_sandbox() as base_url, tempfile.TemporaryDirectory() as directory:
        seeded = await _wait_and_seed(base_url, issues)
        runtime = await sqlite_runtime(Path(directory))
        try:
            connection = await jira_connection(runtime, base_url)
            before = _peak_rss_mib()
            started = time.perf_counter()
            report = await sync_connection(runtime.sessionmaker.begin, runtime.vendor_access, connection)
            elapsed = time.perf_counter() - started
            after = _peak_rss_mib()
        finally:
            await runtime.close()
    synced = report["tickets_synced"]
    return [
        ("issues in the sandbox (seeded + demo)", f"{issues + 5:,} (seeding took {seeded:.1f} s)"),
        ("tickets synced (full sync + deletion walk)", f"{synced:,}"),
        ("sync wall time", f"{elapsed:.1f} s ({synced / elapsed:,.0f} tickets/s)"),
        ("peak RSS before the sync", f"{before:.0f} MiB"),
        ("peak RSS after the sync", f"{after:.0f} MiB (+{after - before:.0f} MiB)"),
    ]


async def main(issues: int = ISSUES) -> None:
    print_table(f"Sync of {issues:,} Jira sandbox issues into SQLite", await run(issues))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else ISSUES))
