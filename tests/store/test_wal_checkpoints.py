"""SQLite's WAL is checkpointed in the background (store.base.run_wal_checkpoints), not by the commit
that happens to cross SQLite's threshold on a request's path."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.store.conftest import ScratchSqlite
from ticketbridge.store.base import WAL_AUTOCHECKPOINT_PAGES, checkpoint_wal, run_wal_checkpoints

ROUNDS = 60
ROW_BYTES = 20_000  # five 4 KiB pages a round, and as many WAL frames


BLOBS = "CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB)"


async def write_rounds(engine: AsyncEngine) -> None:
    for _ in range(ROUNDS):
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO blobs (body) VALUES (:body)"), {"body": os.urandom(ROW_BYTES)})
        await asyncio.sleep(0.01)


def wal_bytes(engine: AsyncEngine) -> int:
    database = engine.url.database
    assert database is not None
    return Path(f"{database}-wal").stat().st_size


async def test_commits_leave_checkpoints_to_the_background_task(sqlite_with: ScratchSqlite) -> None:
    engine = await sqlite_with(BLOBS)
    async with engine.connect() as connection:
        threshold = (await connection.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar_one()
    assert threshold == WAL_AUTOCHECKPOINT_PAGES

    # Without the task the WAL holds every round's frames: no commit here crossed the threshold.
    await write_rounds(engine)
    unchecked = wal_bytes(engine)
    assert unchecked > ROUNDS * ROW_BYTES

    frames, checkpointed = await checkpoint_wal(engine)
    assert frames > 0 and checkpointed == frames

    # With it, writers start the WAL over after each checkpoint: it stays a few rounds long.
    stop = asyncio.Event()
    task = asyncio.create_task(run_wal_checkpoints(engine, stop, interval_seconds=0.02))
    try:
        await write_rounds(engine)
    finally:
        stop.set()
        await task
    assert wal_bytes(engine) == unchecked  # the file keeps its size once grown; what matters is reuse
    async with engine.connect() as connection:
        (written,) = (await connection.exec_driver_sql("SELECT count(*) FROM blobs")).one()
    assert written == 2 * ROUNDS
    frames, checkpointed = await checkpoint_wal(engine)
    assert frames < ROUNDS * ROW_BYTES // 4096 // 4, f"{frames} frames: the WAL was not restarted"
