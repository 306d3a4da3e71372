"""The load runs' processes: bench/processes.py's helpers (the one home of start / wait-ready /
stop), with the defaults the load runs want (Jira's default search lag, `/readyz`), and a throwaway
database.
"""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

from bench import processes
from bench.deployment import POSTGRES_DSN, postgres_reason
from bench.processes import REPO_ROOT, Process, ticketbridge

__all__ = ["REPO_ROOT", "Process", "api_server", "db_upgrade", "postgres_reason", "throwaway_postgres", "worker"]


def jira_sandbox(directory: Path) -> contextlib.AbstractAsyncContextManager[Process]:
    """`ticketbridge sandbox jira` with its default search lag (2000 ms, as live Jira)."""
    return processes.jira_sandbox(directory, "jira-sandbox", search_lag_ms=None)


def api_server(
    directory: Path, env: dict[str, str], *, name: str, worker: bool
) -> contextlib.AbstractAsyncContextManager[Process]:
    return processes.api_server(directory, env, worker=worker, name=name, ready_path="/readyz")


def worker(directory: Path, env: dict[str, str], *, name: str) -> contextlib.AbstractAsyncContextManager[Process]:
    return processes.worker_process(directory, env, name=name)


def db_upgrade(env: dict[str, str]) -> None:
    subprocess.run(ticketbridge("db", "upgrade"), cwd=REPO_ROOT, env=env, check=True, capture_output=True, timeout=180)


@contextlib.asynccontextmanager
async def throwaway_postgres() -> AsyncIterator[tuple[str, str]]:
    """(SQLAlchemy URL, asyncpg DSN) of a new database for the block; dropped after, connections forced out."""
    name = f"ticketbridge_load_{uuid.uuid4().hex[:12]}"
    server = await asyncpg.connect(POSTGRES_DSN, timeout=10)
    try:
        await server.execute(f'CREATE DATABASE "{name}"')
    finally:
        await server.close()
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        server = await asyncpg.connect(POSTGRES_DSN, timeout=10)
        try:
            await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await server.close()
