"""Declarative base, portable column types, the engine factory, and the two kinds of transaction.

A write transaction (every session by default) starts with `BEGIN IMMEDIATE` on SQLite, so that the
one writer's lock is claimed at the start rather than on a first write that could then fail
(SQLITE_BUSY_SNAPSHOT). A read transaction (`read_session`) starts with a plain, deferred `BEGIN` on
SQLite: in WAL mode it reads a snapshot and never waits for a writer nor holds one up; on PostgreSQL it
is `BEGIN READ ONLY`, so a write in it fails loudly.

One schema serves SQLite (embedded mode) and PostgreSQL 15+ (distributed mode): UUIDs are native on
PostgreSQL and 32-char hex on SQLite, JSON is JSONB on PostgreSQL, and every timestamp is UTC-aware
on both (SQLite stores naive UTC text; `UTCDateTime` puts the zone back on the way out).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, ColumnElement, DateTime, MetaData, Uuid, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from ticketbridge.observability import get_logger
from ticketbridge.store.sqlite_driver import one_trip_dbapi

log = get_logger("ticketbridge.store")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        uuid.UUID: Uuid(),
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
    }


def read_columns(row_class: type[Base], read: type[BaseModel]) -> tuple[ColumnElement[Any], ...]:
    """The table columns that `read` (a Pydantic model) is validated from, for Core selects whose rows
    go straight into `read.model_validate` (no ORM instances on the way)."""
    table = row_class.__table__
    return tuple(table.c[name] for name in read.model_fields)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


#: The execution option that makes a connection's transaction a read transaction (see `read_session`).
READ_ONLY_OPTION = "ticketbridge_read_only"
_READ_ONLY_OPTIONS: dict[str, dict[str, Any]] = {
    "sqlite": {READ_ONLY_OPTION: True},
    "postgresql": {READ_ONLY_OPTION: True, "postgresql_readonly": True},
}


def create_engine(
    database_url: str,
    *,
    echo: bool = False,
    pool_size: int = 10,
    max_overflow: int = 10,
    statement_cache_size: int = 100,
) -> AsyncEngine:
    """Builds the async engine; on SQLite turns on WAL and foreign keys for every connection. On
    PostgreSQL, `pool_size` + `max_overflow` bound the connections of this process, and asyncpg keeps
    up to `statement_cache_size` prepared statements per connection (0 turns the cache off, as a
    transaction-pooling PgBouncer needs)."""
    url = to_async_url(database_url)
    if url.startswith("sqlite"):
        driver = {"module": one_trip_dbapi()} if url.startswith("sqlite+aiosqlite") else {}
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30}, **driver)
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
        return engine
    connect_args = (
        {"prepared_statement_cache_size": statement_cache_size} if url.startswith("postgresql+asyncpg") else {}
    )
    return create_async_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        connect_args=connect_args,
    )


def to_async_url(database_url: str) -> str:
    """Accepts the usual sync URL forms and names the async driver we ship."""
    if database_url.startswith("postgresql://") or database_url.startswith("postgres://"):
        return "postgresql+asyncpg://" + database_url.split("://", 1)[1]
    if database_url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + database_url.split(":///", 1)[1]
    return database_url


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # pysqlite's own transaction handling would defer BEGIN; we issue BEGIN IMMEDIATE ourselves
    # (see _sqlite_on_begin) so that SQLite's single writer is claimed at the start of a transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # A commit that crosses this many WAL pages checkpoints the WAL itself, in the committing request
    # (SQLite's default of 1,000 made about one commit in a hundred take 8-16 ms). The server
    # checkpoints every second in the background instead (`run_wal_checkpoints`); this bound is
    # what remains for a process that runs none.
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    cursor.close()


#: See `_sqlite_on_connect`: about 40 MB of WAL at SQLite's 4 KiB pages.
WAL_AUTOCHECKPOINT_PAGES = 10_000


async def checkpoint_wal(engine: AsyncEngine) -> tuple[int, int]:
    """One PASSIVE checkpoint of a SQLite database (it waits for no reader or writer): the WAL's
    frames, and how many of them are now in the database file."""
    async with engine.connect() as connection:
        # On the driver's connection, outside any transaction: a transaction's own snapshot would
        # hold the checkpoint back.
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        ((_busy, frames, checkpointed),) = await driver.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
    return int(frames), int(checkpointed)


async def run_wal_checkpoints(engine: AsyncEngine, stop: asyncio.Event, *, interval_seconds: float = 1.0) -> None:
    """Checkpoints a SQLite database's WAL every `interval_seconds` until `stop`, so that no commit
    on a request's path does (see `_sqlite_on_connect`). Nothing to do on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_seconds)
        try:
            await checkpoint_wal(engine)
        except (SQLAlchemyError, OSError) as exc:  # the next round tries again; commits still bound the WAL
            log.warning("store.wal_checkpoint_failed", error=str(exc))


def _sqlite_on_begin(connection: Any) -> None:
    if connection.get_execution_options().get(READ_ONLY_OPTION):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose transactions write (`BEGIN IMMEDIATE` on SQLite). Each sessionmaker gets its own
    sync Session class, so session events can be listened for per sessionmaker (`session_class_of`)."""
    session_class = type("TicketbridgeSession", (Session,), {})
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False, sync_session_class=session_class)


def session_class_of(sessionmaker: async_sessionmaker[AsyncSession]) -> type[Session]:
    """The sync Session class of `sessionmaker`'s sessions: the target for its session events."""
    session_class: type[Session] = sessionmaker.kw.get("sync_session_class", Session)
    return session_class


@asynccontextmanager
async def read_session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session with one read transaction: deferred `BEGIN` on SQLite (no write lock, never waits for
    a writer), `BEGIN READ ONLY` on PostgreSQL. It is rolled back at the end: nothing done in it is
    kept (and on PostgreSQL a write in it fails).

    Like any session it takes a pooled connection at its first statement, not before: a request's
    read session is opened before its authentication runs, and an eager one would hold a connection
    while the authentication waited for another (with the pool's worth of such requests at once,
    none would get one until the pool's timeout)."""
    engine = sessionmaker.kw["bind"]
    options = _READ_ONLY_OPTIONS.get(engine.dialect.name, {READ_ONLY_OPTION: True})
    async with sessionmaker(bind=engine.execution_options(**options)) as session:
        yield session
