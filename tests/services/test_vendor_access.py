"""Opening a connection's connector reads its credentials in a read transaction (no write lock)."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import update

from tests.jobs.support import make_tenant_rows
from ticketbridge.services import connections as connections_service
from ticketbridge.state import Runtime
from ticketbridge.store.tables import Connection


async def test_a_connector_opens_while_another_connection_holds_the_write_lock(runtime: Runtime) -> None:
    url = runtime.settings.database_url
    if not url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    tenant = await make_tenant_rows(runtime)
    credentials = {"email": "bot@example.com", "api_token": "t0ken"}
    async with runtime.sessionmaker.begin() as db:
        await db.execute(
            update(Connection)
            .where(Connection.id == tenant.connection_id)
            .values(credentials_encrypted=runtime.cipher.encrypt(credentials))
        )
        connection = await connections_service.get_connection(db, tenant.connection_id)
    holder = sqlite3.connect(url.split(":///", 1)[1], timeout=0, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")

        async def open_connector() -> None:
            async with runtime.vendor_access.open(connection):
                pass

        # busy_timeout is 30 s: a write transaction would still be waiting for the lock.
        await asyncio.wait_for(open_connector(), 5)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
