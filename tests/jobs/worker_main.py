"""A worker process for the multi-process tests: `python -m tests.jobs.worker_main <database-url>
--concurrency K --lease-seconds S` runs `run_worker` over the TEST_EFFECT handler until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet

from tests.jobs.effects import effect_handlers
from ticketbridge.config import Settings
from ticketbridge.jobs.worker import run_worker
from ticketbridge.observability import configure_logging


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--lease-seconds", type=float, default=2.0)
    parser.add_argument("--poll-seconds", type=float, default=0.2)
    parser.add_argument("--max-attempts", type=int, default=10)
    parser.add_argument("--connection-cap", type=int, default=4)
    args = parser.parse_args()
    settings = Settings(
        database_url=args.database_url,
        secrets_key=Fernet.generate_key().decode(),
        data_dir=Path(tempfile.gettempdir()),
        auto_migrate=False,
        log_format="json",
        job_lease_seconds=args.lease_seconds,
        job_poll_interval_seconds=args.poll_seconds,
        job_max_attempts=args.max_attempts,
        job_connection_concurrency=args.connection_cap,
        job_backoff_seconds=0.1,
    )
    configure_logging(settings)
    asyncio.run(run_worker(settings, concurrency=args.concurrency, registry=lambda _runtime: effect_handlers()))


if __name__ == "__main__":
    main()
