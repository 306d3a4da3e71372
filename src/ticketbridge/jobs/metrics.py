"""Prometheus metrics of the job engine, in a registry of their own (nothing global).

Counts by state and the oldest due job's wait are read from the database at scrape time, so any API
process reports the whole queue. Run durations are observed by the worker in this process.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketbridge.jobs.models import JobStatus
from ticketbridge.store import jobs as store

RUN_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


class JobMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.jobs = Gauge("ticketbridge_jobs", "Jobs by stored state.", ["status"], registry=self.registry)
        self.oldest_queued_age = Gauge(
            "ticketbridge_jobs_oldest_queued_age_seconds",
            "How long the longest-waiting due QUEUED job has waited (0 when none waits).",
            registry=self.registry,
        )
        self.run_seconds = Histogram(
            "ticketbridge_job_run_seconds",
            "Duration of job runs in this process, by job type and how the run ended.",
            ["job_type", "outcome"],
            buckets=RUN_SECONDS_BUCKETS,
            registry=self.registry,
        )

    def observe_run(self, *, job_type: str, outcome: str, seconds: float) -> None:
        self.run_seconds.labels(job_type=job_type, outcome=outcome).observe(seconds)

    async def render(self, sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime) -> bytes:
        """Reads the queue's gauges from the database, then renders the text exposition format."""
        async with sessionmaker() as db, db.begin():
            counts = await store.count_jobs_by_status(db)
            oldest = await store.oldest_due_run_at(db, now=now)
        for status in JobStatus:
            self.jobs.labels(status=status.value).set(counts[status])
        self.oldest_queued_age.set(0 if oldest is None else max(0.0, (now - oldest).total_seconds()))
        return generate_latest(self.registry)
