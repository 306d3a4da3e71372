"""The SQLite engine's statements cost one round trip to the connection's thread each
(store/sqlite_driver.py), and behave as the stock adapter's: rows, counts, errors, streaming."""

from __future__ import annotations

from queue import SimpleQueue
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.store.conftest import ScratchSqlite

ITEMS = "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"


class CountedQueue:
    """Stands in front of an aiosqlite connection's queue of calls for its thread, counting them."""

    def __init__(self, queue: SimpleQueue[Any]) -> None:
        self.queue = queue
        self.calls = 0

    def put_nowait(self, item: Any) -> None:
        self.calls += 1
        self.queue.put_nowait(item)


async def counted(connection: AsyncConnection) -> CountedQueue:
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    counter = CountedQueue(driver._tx)
    driver._tx = counter
    return counter


async def test_each_statement_is_one_round_trip_with_its_rows_and_counts(sqlite_with: ScratchSqlite) -> None:
    engine = await sqlite_with(ITEMS)
    async with engine.connect() as connection:
        await connection.begin()  # BEGIN IMMEDIATE: a statement (and a round trip) of its own
        counter = await counted(connection)
        await connection.execute(text("INSERT INTO items (name) VALUES (:name)"), [{"name": "a"}, {"name": "b"}])
        assert counter.calls == 1
        inserted = await connection.execute(text("INSERT INTO items (name) VALUES ('c')"))
        assert (inserted.rowcount, inserted.lastrowid) == (1, 3)
        assert counter.calls == 2
        rows = await connection.execute(text("SELECT id, name FROM items WHERE id > :after ORDER BY id"), {"after": 1})
        assert [tuple(row) for row in rows] == [(2, "b"), (3, "c")]
        assert counter.calls == 3
        renamed = await connection.execute(text("UPDATE items SET name = name || '!' WHERE id < 3"))
        assert renamed.rowcount == 2 and counter.calls == 4


async def test_driver_errors_come_out_as_sqlalchemy_errors(sqlite_with: ScratchSqlite) -> None:
    engine = await sqlite_with(ITEMS)
    async with engine.connect() as connection:
        await connection.execute(text("INSERT INTO items (name) VALUES ('a')"))
        with pytest.raises(IntegrityError):
            await connection.execute(text("INSERT INTO items (name) VALUES ('a')"))
        with pytest.raises(OperationalError):
            await connection.execute(text("SELECT nothing FROM nowhere"))
        assert (await connection.execute(text("SELECT count(*) FROM items"))).scalar_one() == 1


async def test_streaming_results_still_page_through_the_rows(sqlite_with: ScratchSqlite) -> None:
    engine = await sqlite_with(ITEMS)
    async with engine.begin() as connection:
        rows = [{"name": str(i)} for i in range(250)]
        await connection.execute(text("INSERT INTO items (name) VALUES (:name)"), rows)
    async with engine.connect() as connection:
        result = await connection.stream(text("SELECT name FROM items ORDER BY id"))
        names = [name async for (name,) in result]
    assert names == [str(i) for i in range(250)]
