"""`python -m bench.loadgen`: a closed-loop HTTP load of N connections for S seconds; prints JSON.

Pure Python (httpx on uvloop when available), in its own process so that it does not share an event
loop with the server it loads. Each of the `--concurrency` tasks sends GETs back to back over its own
keep-alive connection, cycling through the `--path`s; the run stops at `--seconds` or `--max-requests`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import time
from collections import Counter
from typing import Any

import httpx

from bench.measure import percentile


async def load(
    base_url: str, paths: list[str], headers: dict[str, str], *, concurrency: int, seconds: float, max_requests: int
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    #: What each failure was: its HTTP status, or the transport error's type.
    failures: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=30) as http:
        await asyncio.gather(*(http.get(paths[i % len(paths)]) for i in range(concurrency)))  # open the pool
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()

        async def client(offset: int) -> None:
            nonlocal errors
            index = offset
            while time.perf_counter() < deadline and len(latencies) + errors < max_requests:
                sent = time.perf_counter()
                try:
                    response = await http.get(paths[index % len(paths)])
                    outcome = str(response.status_code)
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                if outcome == "200":
                    latencies.append((time.perf_counter() - sent) * 1000)
                else:
                    errors += 1
                    failures[outcome] += 1
                index += 1

        await asyncio.gather(*(client(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "errors": errors,
        "failures": dict(failures),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        # Near 1.0, the load generator itself was the bottleneck (one core, pure Python).
        "loadgen_cpu_share": _cpu_seconds() / elapsed,
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--path", action="append", required=True)
    parser.add_argument("--header", action="append", default=[], help="NAME=VALUE")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    args = parser.parse_args()
    headers = dict(item.split("=", 1) for item in args.header)
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    figures = asyncio.run(
        load(
            args.base_url,
            args.path,
            headers,
            concurrency=args.concurrency,
            seconds=args.seconds,
            max_requests=args.max_requests,
        )
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
