from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ticketbridge.store.base import create_engine

#: `await sqlite_with(ddl)`: an engine as the app builds it, on a new SQLite database holding `ddl`.
ScratchSqlite = Callable[[str], Awaitable[AsyncEngine]]


@pytest.fixture
async def sqlite_with(tmp_path: Path) -> AsyncIterator[ScratchSqlite]:
    engines: list[AsyncEngine] = []

    async def build(ddl: str) -> AsyncEngine:
        engine = create_engine(f"sqlite:///{tmp_path / f'scratch-{len(engines)}.db'}")
        engines.append(engine)
        async with engine.begin() as connection:
            await connection.execute(text(ddl))
        return engine

    yield build
    for engine in engines:
        await engine.dispose()
