"""Real processes on loopback for the load runs: the Jira sandbox, `serve`, `worker`, a throwaway database.

Each process gets a free port on 127.0.0.1, its output in a log file of the run's directory, a bounded
wait for its first answer and a bounded stop (SIGTERM, then SIGKILL). Only the processes started here
are ever signalled, by their own pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
START_DEADLINE_SECONDS = 90.0
STOP_DEADLINE_SECONDS = 30.0
#: A worker has no HTTP surface: it counts as started once it stays up this long.
WORKER_SETTLE_SECONDS = 3.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def ticketbridge(*args: str) -> list[str]:
    return [sys.executable, "-m", "ticketbridge", *args]


@dataclass
class Service:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    url: str

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu_seconds(self) -> float:
        """utime + stime so far, from /proc/<pid>/stat (0 once the process is gone)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def peak_rss_mib(self) -> float:
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return 0.0
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@contextlib.asynccontextmanager
async def running(
    name: str, args: list[str], *, env: dict[str, str], directory: Path, url: str = "", ready_path: str | None
) -> AsyncIterator[Service]:
    """`args` for the duration of the block, once `url + ready_path` answers 200 (or, without a
    ready path, once the process has stayed up WORKER_SETTLE_SECONDS)."""
    log_path = directory / f"{name}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        service = Service(name=name, popen=popen, log_path=log_path, url=url)
        try:
            if ready_path is None:
                await asyncio.sleep(WORKER_SETTLE_SECONDS)
                if popen.poll() is not None:
                    raise RuntimeError(f"{name} exited early:\n{service.log_tail()}")
            else:
                await _wait_ready(service, ready_path)
            yield service
        finally:
            _stop(popen)


def _stop(popen: subprocess.Popen[bytes]) -> None:
    if popen.poll() is not None:
        return
    popen.terminate()
    try:
        popen.wait(STOP_DEADLINE_SECONDS)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait(STOP_DEADLINE_SECONDS)


async def _wait_ready(service: Service, path: str) -> None:
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    async with httpx.AsyncClient(base_url=service.url, timeout=5) as http:
        while time.monotonic() < deadline:
            if service.popen.poll() is not None:
                raise RuntimeError(f"{service.name} exited early:\n{service.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(path)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{service.name} did not answer within {START_DEADLINE_SECONDS:g} s:\n{service.log_tail()}")


def jira_sandbox(directory: Path) -> contextlib.AbstractAsyncContextManager[Service]:
    """`ticketbridge sandbox jira` with its default search lag (no --search-lag-ms: 2000 ms, as live Jira)."""
    port = free_port()
    return running(
        "jira-sandbox",
        ticketbridge("sandbox", "jira", "--host", HOST, "--port", str(port)),
        env=dict(os.environ),
        directory=directory,
        url=f"http://{HOST}:{port}",
        ready_path="/__sandbox__/calls",
    )


def api_server(
    directory: Path, env: dict[str, str], *, name: str, worker: bool
) -> contextlib.AbstractAsyncContextManager[Service]:
    port = free_port()
    flags = [] if worker else ["--no-worker"]
    return running(
        name,
        ticketbridge("serve", "--host", HOST, "--port", str(port), *flags),
        env=env,
        directory=directory,
        url=f"http://{HOST}:{port}",
        ready_path="/readyz",
    )


def worker(directory: Path, env: dict[str, str], *, name: str) -> contextlib.AbstractAsyncContextManager[Service]:
    return running(name, ticketbridge("worker"), env=env, directory=directory, ready_path=None)


def db_upgrade(env: dict[str, str]) -> None:
    subprocess.run(ticketbridge("db", "upgrade"), cwd=REPO_ROOT, env=env, check=True, capture_output=True, timeout=180)


async def postgres_reason() -> str | None:
    """Why the distributed run cannot happen here, or None when the server answers."""
    try:
        server = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL at 127.0.0.1:5432 unavailable ({type(exc).__name__}: {exc})"
    await server.close()
    return None


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
