"""SQLite's WAL is checkpointed in the background (store.base.run_wal_checkpoints), not by the commit
that happens to cross SQLite's threshold on a request's path."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.store.conftest import ScratchSqlite
from ticketbridge.store.base import WAL_AUTOCHECKPOINT_PAGES, checkpoint_wal, run_wal_checkpoints

BLOBS = "CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB)"
ROUNDS = 60
ROW_BYTES = 20_000  # five 4 KiB pages a round
WRITTEN = ROUNDS * ROW_BYTES


async def write_rounds(engine: AsyncEngine) -> None:
    for _ in range(ROUNDS):
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO blobs (body) VALUES (:body)"), {"body": os.urandom(ROW_BYTES)})


def file_bytes(engine: AsyncEngine, suffix: str = "") -> int:
    """The size of the database file (where a checkpoint copies the WAL's pages), or of its WAL."""
    database = engine.url.database
    assert database is not None
    return Path(database + suffix).stat().st_size


async def test_commits_leave_checkpoints_to_the_background_task(sqlite_with: ScratchSqlite) -> None:
    engine = await sqlite_with(BLOBS)
    async with engine.connect() as connection:
        threshold = (await connection.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar_one()
    assert threshold == WAL_AUTOCHECKPOINT_PAGES

    # No commit checkpointed: the rows are in the WAL only, the database file has not grown.
    await write_rounds(engine)
    assert file_bytes(engine, "-wal") > WRITTEN > file_bytes(engine)

    stop = asyncio.Event()
    task = asyncio.create_task(run_wal_checkpoints(engine, stop, interval_seconds=0.05))
    try:
        deadline = time.monotonic() + 10
        while file_bytes(engine) < WRITTEN and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    assert file_bytes(engine) > WRITTEN, "the background task copied nothing into the database file"


async def test_a_checkpoint_answers_what_it_copied(sqlite_with: ScratchSqlite) -> None:
    engine = await sqlite_with(BLOBS)
    await write_rounds(engine)
    frames, checkpointed = await checkpoint_wal(engine)
    assert frames >= ROUNDS * (ROW_BYTES // 4096) and checkpointed == frames
