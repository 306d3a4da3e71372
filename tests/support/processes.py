"""Real ticketbridge processes for distributed-mode tests: `serve --no-worker` and `worker`."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.builders import Tenant
from tests.conftest import ADMIN_TOKEN, SECRETS_KEY
from tests.jobs.processes import DEADLINE_SECONDS, REPO_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_env(database_url: str, data_dir: Path) -> dict[str, str]:
    """What every process of one deployment shares: the database, the secrets key, the admin token."""
    return {
        **os.environ,
        "TICKETBRIDGE_DATABASE_URL": database_url,
        "TICKETBRIDGE_SECRETS_KEY": SECRETS_KEY,
        "TICKETBRIDGE_ADMIN_TOKEN": ADMIN_TOKEN,
        "TICKETBRIDGE_DATA_DIR": str(data_dir),
        "TICKETBRIDGE_AUTO_MIGRATE": "false",
        "TICKETBRIDGE_JOB_POLL_INTERVAL_SECONDS": "0.2",
        "TICKETBRIDGE_LOG_FORMAT": "json",
    }


@asynccontextmanager
async def started(args: list[str], env: dict[str, str], log_path: Path) -> AsyncIterator[subprocess.Popen[bytes]]:
    """`python -m ticketbridge ARGS` for the duration of the block, its output in `log_path`."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ticketbridge", *args], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            process.terminate()
            process.wait(DEADLINE_SECONDS)


@asynccontextmanager
async def api_server(env: dict[str, str], log_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A `ticketbridge serve --no-worker` process, and a client for it once /healthz answers."""
    async with api_process(env, log_path) as (_process, http):
        yield http


@asynccontextmanager
async def api_process(
    env: dict[str, str], log_path: Path
) -> AsyncIterator[tuple[subprocess.Popen[bytes], httpx.AsyncClient]]:
    """`api_server`, with the process too (for a test that kills it)."""
    port = free_port()
    async with (
        started(["serve", "--no-worker", "--port", str(port)], env, log_path) as process,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http,
    ):
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            assert process.poll() is None, log_path.read_text(errors="replace")
            try:
                if (await http.get("/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the API process did not start"
            await asyncio.sleep(0.1)
        yield process, http


async def wait_job(http: httpx.AsyncClient, tenant: Tenant, job_id: str) -> dict[str, Any]:
    """The job once it has ended (SUCCESS or FAILED), polled over the API."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        answer = await http.get(f"/v1/jobs/{job_id}", headers=tenant.headers)
        assert answer.status_code == 200, answer.text
        if answer.json()["status"] in ("SUCCESS", "FAILED"):
            return dict(answer.json())
        assert time.monotonic() < deadline, answer.text
        await asyncio.sleep(0.3)
