"""What both benchmarks need: a migrated SQLite store with one Jira connection, and a table printer."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from cryptography.fernet import Fernet

from ticketbridge.config import Settings
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.sandboxes import jira
from ticketbridge.services import connections as connections_service
from ticketbridge.state import Runtime
from ticketbridge.store import migrate
from ticketbridge.store import organizations as organizations_store


async def sqlite_runtime(directory: Path) -> Runtime:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{directory / 'bench.db'}",
        secrets_key=Fernet.generate_key().decode(),
        data_dir=directory,
        worker_enabled=False,
        auto_migrate=False,
    )
    runtime = Runtime.build(settings)
    await migrate.upgrade(runtime.engine)
    return runtime


async def jira_connection(runtime: Runtime, base_url: str) -> ConnectionRead:
    async with runtime.sessionmaker.begin() as db:
        org = await organizations_store.create_organization(db, name="Bench")
        return await connections_service.create_connection(
            db,
            runtime.cipher,
            connections_service.ConnectionCreate(
                organization_id=org.id,
                vendor="JIRA",
                base_url=base_url,
                credentials={"email": jira.DEMO_EMAIL, "api_token": jira.DEMO_API_TOKEN},
            ),
        )


async def median_ms(run: Callable[[], Awaitable[object]], *, repeat: int) -> float:
    """The median wall time of `repeat` runs, after one warm-up run."""
    await run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    print(f"\n{title}\n{'-' * (width + 20)}")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
