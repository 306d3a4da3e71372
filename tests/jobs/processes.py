"""Worker processes for the conformance tests (tests/jobs/worker_main.py), and polling helpers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

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

    async def kill(self) -> None:
        self.signal(signal.SIGKILL)
        await asyncio.to_thread(self.process.wait, DEADLINE_SECONDS)
        self._log.close()


async def wait_for(
    condition: Callable[[], Awaitable[bool]], what: str, *, every_seconds: float = 0.2
) -> None:
    """Polls `condition` until true; fails after DEADLINE_SECONDS (a hang, not slowness)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_SECONDS
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(every_seconds)
