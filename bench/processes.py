"""Real processes on loopback: the Jira sandbox, `ticketbridge serve`, `ticketbridge worker`, helpers.

The one home of the start / wait-ready / stop helpers of `make bench` and `make load` (bench/load
imports them). Every process gets a free port on 127.0.0.1, its output in a log file under the run's
directory, a bounded wait for its first answer (a worker, with no HTTP surface, counts as started once
it stays up WORKER_SETTLE_SECONDS) and a bounded stop (SIGTERM, then SIGKILL). Only the processes
started here are ever signalled, by their own pid. `Process` reads its CPU time and memory from /proc.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
START_DEADLINE_SECONDS = 90.0
STOP_DEADLINE_SECONDS = 30.0
#: A worker has no HTTP surface: it counts as started once it stays up this long.
WORKER_SETTLE_SECONDS = 3.0
HOST = "127.0.0.1"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    log_path: Path
    url: str

    @property
    def name(self) -> str:
        return self.log_path.stem

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu_seconds(self) -> float:
        """utime + stime of the process so far (its threads included), from /proc/<pid>/stat; 0 once
        the process is gone."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def memory_mib(self) -> tuple[float, float]:
        """(VmRSS, VmHWM): resident memory now and its peak over the process's life, in MiB (0 once
        the process is gone)."""
        values = {"VmRSS": 0.0, "VmHWM": 0.0}
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                name, _, rest = line.partition(":")
                if name in values:
                    values[name] = int(rest.split()[0]) / 1024
        return values["VmRSS"], values["VmHWM"]

    def peak_rss_mib(self) -> float:
        return self.memory_mib()[1]

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@contextlib.asynccontextmanager
async def started(
    args: list[str], *, env: dict[str, str] | None, log_path: Path, url: str = "", ready_path: str | None
) -> AsyncIterator[Process]:
    """`args` for the duration of the block, once GET `url + ready_path` answers 200 (bounded wait),
    or, without a ready path, once the process has stayed up WORKER_SETTLE_SECONDS."""
    with log_path.open("wb") as log:
        popen = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        process = Process(popen=popen, log_path=log_path, url=url)
        try:
            if ready_path is None:
                await asyncio.sleep(WORKER_SETTLE_SECONDS)
                if popen.poll() is not None:
                    raise RuntimeError(f"{process.name} exited early:\n{process.log_tail()}")
            else:
                await _wait_ready(process, ready_path)
            yield process
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


async def _wait_ready(process: Process, path: str) -> None:
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    async with httpx.AsyncClient(base_url=process.url, timeout=5) as http:
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise RuntimeError(f"{process.name} exited early:\n{process.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(path)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{process.name} did not answer within {START_DEADLINE_SECONDS:g} s:\n{process.log_tail()}")


def ticketbridge(*args: str) -> list[str]:
    return [sys.executable, "-m", "ticketbridge", *args]


def jira_sandbox(
    directory: Path, name: str = "jira", *, search_lag_ms: int | None = 0
) -> contextlib.AbstractAsyncContextManager[Process]:
    """A standalone Jira sandbox; search lag 0 by default (read-after-write search, for comparable
    baselines), None for the sandbox's default (2000 ms, as live Jira)."""
    port = free_port()
    lag = [] if search_lag_ms is None else ["--search-lag-ms", str(search_lag_ms)]
    return started(
        ticketbridge("sandbox", "jira", "--host", HOST, "--port", str(port), *lag),
        env=dict(os.environ),
        log_path=directory / f"{name}.log",
        url=f"http://{HOST}:{port}",
        ready_path="/__sandbox__/calls",
    )


def api_server(
    directory: Path, env: dict[str, str], *, worker: bool, name: str = "api", ready_path: str = "/healthz"
) -> contextlib.AbstractAsyncContextManager[Process]:
    port = free_port()
    flags = [] if worker else ["--no-worker"]
    return started(
        ticketbridge("serve", "--host", HOST, "--port", str(port), *flags),
        env=env,
        log_path=directory / f"{name}.log",
        url=f"http://{HOST}:{port}",
        ready_path=ready_path,
    )


def worker_process(
    directory: Path, env: dict[str, str], *, name: str = "worker"
) -> contextlib.AbstractAsyncContextManager[Process]:
    """`ticketbridge worker`: no HTTP surface, so "ready" is a short settle after it stays up."""
    return started(ticketbridge("worker"), env=env, log_path=directory / f"{name}.log", ready_path=None)


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
