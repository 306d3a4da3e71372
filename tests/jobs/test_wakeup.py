"""Wake-ups: an enqueue wakes workers on commit only, in-process and through PostgreSQL NOTIFY."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.jobs.processes import wait_for
from tests.jobs.support import built_runtime, enqueue, job_settings, make_tenant_rows
from ticketbridge.jobs.wakeup import JobWakeup, listen_for_notifications
from ticketbridge.state import Runtime


async def test_an_enqueue_wakes_this_process_on_commit_only(jobs_runtime: Runtime) -> None:
    tenant = await make_tenant_rows(jobs_runtime)
    wakeup = jobs_runtime.job_wakeup
    await wakeup.wait(0)
    async with jobs_runtime.sessionmaker() as db, db.begin():
        await db.execute(text("SELECT 1"))
        wakeup.notify_on_commit(db)
        await db.rollback()
    assert not wakeup.is_pending
    await enqueue(jobs_runtime, tenant)
    assert wakeup.is_pending
    await wakeup.wait(0)
    assert not wakeup.is_pending


async def test_an_enqueue_in_another_process_wakes_listeners_through_notify(
    database_url: str, tmp_path: Path, jobs_runtime: Runtime
) -> None:
    if jobs_runtime.settings.is_embedded:
        pytest.skip("LISTEN/NOTIFY is the distributed mode's wake-up")
    tenant = await make_tenant_rows(jobs_runtime)
    listener_wakeup, stop = JobWakeup(), asyncio.Event()
    listening = asyncio.create_task(
        listen_for_notifications(database_url, listener_wakeup, retry_seconds=0.1, stop=stop)
    )
    try:

        async def listener_ready() -> bool:
            async with jobs_runtime.engine.connect() as connection:
                count = await connection.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND query LIKE 'LISTEN %'"
                    )
                )
            return bool(count)

        await wait_for(listener_ready, "the listener to LISTEN", every_seconds=0.02)
        await listener_wakeup.wait(0)  # the wake-up every (re)connection gives
        # Another process's enqueue: its own Runtime, so only NOTIFY can reach the listener.
        async with built_runtime(job_settings(database_url, tmp_path)) as elsewhere:
            await enqueue(elsewhere, tenant)

            async def woken() -> bool:
                return listener_wakeup.is_pending

            await wait_for(woken, "the NOTIFY to arrive", every_seconds=0.02)
    finally:
        stop.set()
        await listening
