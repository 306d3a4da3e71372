"""SQLAlchemy's aiosqlite adapter with one thread round trip per statement instead of four.

aiosqlite runs each SQLite call on its connection's own thread, and SQLAlchemy's adapter makes
four such calls per statement (create a cursor, execute, fetch all, close). Each is a hand-off to
that thread and back to the event loop, which on this project's 2-core machines costs more than
SQLite's own work for the statements of a request: a `SELECT 1` in a session took 0.55 ms, of
which 0.3 ms were the three extra hand-offs. Here the four calls run as one function on the
connection's thread, so a statement costs one hand-off; the rows are fetched eagerly, as the stock
cursor does too.

It relies on internals of two pinned libraries, which the SQLite suite exercises on every
statement and `tests/store/test_sqlite_driver.py` checks directly: SQLAlchemy's adapted
connection's `_cursor_cls` and `_execute_mutex`, and aiosqlite's `Connection._execute` and
`Connection._conn` (the call that runs a function on the connection's thread, and its sqlite3
connection). Server-side cursors (`stream`) keep the stock class.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

#: What one statement leaves behind: cursor.description, rowcount, lastrowid, and every row.
_Outcome = tuple[Any, int, int | None, list[Any]]


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """The whole statement, on the connection's thread."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, () if parameters is None else parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statement runs in one call on the connection's thread."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        # No driver cursor is made here (the stock class makes one: a round trip of its own).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]  # None before any insert, as sqlite3's

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass  # every row is fetched at once: there is no fetch size to set

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._go(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        self._go(operation, seq_of_parameters, many=True)

    def _go(self, operation: str, parameters: Any, *, many: bool) -> None:
        try:
            outcome = await_(self._round_trip(operation, parameters, many))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows)

    async def _round_trip(self, operation: str, parameters: Any, many: bool) -> _Outcome:
        async with self._adapt_connection._execute_mutex:
            connection = self._connection
            outcome: _Outcome = await connection._execute(_run, connection._conn, operation, parameters, many)
            return outcome

    async def _async_soft_close(self) -> None:
        pass  # the driver cursor is closed on the thread already

    def close(self) -> None:
        self._rows.clear()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DB-API module an engine is given (`module=`): the stock one, with one-trip cursors."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        stock = super().connect(*arg, **kw)
        return OneTripConnection(self, stock._connection)


def one_trip_dbapi() -> OneTripDBAPI:
    return OneTripDBAPI(aiosqlite, sqlite3)
