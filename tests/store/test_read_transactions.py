"""Read transactions (store.base.read_session) take no write lock; write transactions take it at BEGIN."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from ticketbridge.state import Runtime
from ticketbridge.store import organizations
from ticketbridge.store.base import read_session
from ticketbridge.store.tables import Organization


@pytest.fixture
def sqlite_path(runtime: Runtime) -> Iterator[str]:
    url = runtime.settings.database_url
    if not url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    yield url.split(":///", 1)[1]


def try_write_lock(path: str) -> bool:
    """Whether another connection can take the write lock now, without waiting."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


async def test_a_read_transaction_leaves_the_write_lock_free(runtime: Runtime, sqlite_path: str) -> None:
    async with read_session(runtime.sessionmaker) as db:
        await db.scalars(select(Organization))
        assert try_write_lock(sqlite_path)


async def test_a_write_transaction_takes_the_write_lock_at_its_start(runtime: Runtime, sqlite_path: str) -> None:
    async with runtime.sessionmaker.begin() as db:
        await db.scalars(select(Organization))  # a read, yet BEGIN IMMEDIATE has claimed the lock
        assert not try_write_lock(sqlite_path)
    assert try_write_lock(sqlite_path)


async def test_a_read_transaction_reads_while_another_connection_writes(runtime: Runtime, sqlite_path: str) -> None:
    async with runtime.sessionmaker.begin() as db:
        organization = await organizations.create_organization(db, name="Acme")
    holder = sqlite3.connect(sqlite_path, timeout=0, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("INSERT INTO organizations (id, name, created_at) VALUES ('0' , 'uncommitted', '2026-01-01')")

        async def read() -> list[str]:
            async with read_session(runtime.sessionmaker) as db:
                return [row.name for row in await organizations.list_organizations(db)]

        # busy_timeout is 30 s: a transaction that wanted the lock would still be waiting.
        assert await asyncio.wait_for(read(), 5) == [organization.name]
    finally:
        holder.execute("ROLLBACK")
        holder.close()


async def test_a_write_in_a_read_transaction_fails_on_postgresql(runtime: Runtime) -> None:
    if not runtime.settings.database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's READ ONLY transactions")
    with pytest.raises(DBAPIError, match="read-only transaction"):
        async with read_session(runtime.sessionmaker) as db:
            await db.execute(
                text("INSERT INTO organizations (id, name, created_at) VALUES (gen_random_uuid(), 'x', now())")
            )
    async with runtime.sessionmaker.begin() as db:  # the pool's connection is writable again
        await organizations.create_organization(db, name="Acme")
