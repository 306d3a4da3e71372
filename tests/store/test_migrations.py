"""Migrations upgrade, match the models exactly, and downgrade cleanly on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import create_postgres_database, drop_postgres_database
from ticketbridge.store import migrate
from ticketbridge.store.base import Base, create_engine


@pytest.fixture(params=["sqlite", "postgres"])
async def fresh_engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        if request.param == "sqlite"
        else await create_postgres_database()
    )
    engine = create_engine(url)
    yield engine
    await engine.dispose()
    if request.param == "postgres":
        await drop_postgres_database(url)


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_upgrade_matches_models_and_downgrade_is_clean(fresh_engine: AsyncEngine) -> None:
    assert await migrate.current_revision(fresh_engine) is None
    assert not await migrate.is_at_head(fresh_engine)
    await migrate.upgrade(fresh_engine)
    assert await migrate.is_at_head(fresh_engine)
    async with fresh_engine.connect() as connection:
        assert await connection.run_sync(_diff) == []
        assert {table.name for table in Base.metadata.sorted_tables} <= await connection.run_sync(_tables)

    await migrate.downgrade(fresh_engine, "base")
    async with fresh_engine.connect() as connection:
        assert await connection.run_sync(_tables) <= {"alembic_version"}
    await migrate.upgrade(fresh_engine)
    assert await migrate.is_at_head(fresh_engine)
