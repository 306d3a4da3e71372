"""Worker processes for the conformance tests (tests/jobs/worker_main.py), and polling helpers."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

REPO_ROOT = Path(__file__).resolve().parents[2]
#: A guard against a hang, not a speed requirement: generous on a loaded 2-core CI machine.
DEADLINE_SECONDS = 150.0


class WorkerProcess:
    def __init__(self, database_url: str, log_path: Path, *, concurrency: int, lease_seconds: float) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.jobs.worker_main",
                database_url,
                "--concurrency",
                str(concurrency),
                "--lease-seconds",
                str(lease_seconds),
            ],
            cwd=REPO_ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def owns(self, lease_owner: str | None) -> bool:
        return lease_owner is not None and f":{self.pid}:" in lease_owner

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def stop(self) -> int:
        """SIGTERM, then the exit code (the worker drains gracefully)."""
        if self.process.poll() is None:
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGTERM)
        code = await asyncio.to_thread(self.process.wait, DEADLINE_SECONDS)
        self._log.close()
        return code

    async def freeze_outside_a_transaction(self, database_url: str, job_id: uuid.UUID) -> None:
        """SIGSTOP at a moment the process holds no lock on `job_id` (nor, on SQLite, the single
        writer): frozen inside a heartbeat's transaction, it would block the takeover under test."""
        while True:
            self.signal(signal.SIGSTOP)
            if await _job_row_is_writable(database_url, job_id):
                return
            self.signal(signal.SIGCONT)
            await asyncio.sleep(0.01)

    async def kill(self) -> None:
        self.signal(signal.SIGKILL)
        await asyncio.to_thread(self.process.wait, DEADLINE_SECONDS)
        self._log.close()


async def wait_for(condition: Callable[[], Awaitable[bool]], what: str, *, every_seconds: float = 0.2) -> None:
    """Polls `condition` until true; fails after DEADLINE_SECONDS (a hang, not slowness)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_SECONDS
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(every_seconds)


async def _job_row_is_writable(database_url: str, job_id: uuid.UUID) -> bool:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return await asyncio.to_thread(_sqlite_writer_is_free, str(url.database))
    connection = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        async with connection.transaction():
            await connection.execute("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE NOWAIT", job_id)
        return True
    except asyncpg.LockNotAvailableError:
        return False
    finally:
        await connection.close()


def _sqlite_writer_is_free(path: str) -> bool:
    connection = sqlite3.connect(path, timeout=0.2, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        connection.close()
