"""The cached key and connection lookups (services/auth_cache.py): changes reach another process within
the TTL, at once in the process that made them, and a read never writes (last_used_at is flushed in
the background)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select

from tests.builders import ADMIN, Tenant, make_tenant
from tests.conftest import empty_tables, make_settings
from tests.vendors import SandboxRouter
from ticketbridge.app import create_app
from ticketbridge.config import Settings
from ticketbridge.connectors import ConnectorFactory
from ticketbridge.crypto import hash_api_key
from ticketbridge.services.auth_cache import AuthCache
from ticketbridge.state import Runtime
from ticketbridge.store.tables import ApiKey

TTL_SECONDS = 1.0
#: Scheduling slack on a loaded machine, on top of the TTL.
SLACK_SECONDS = 1.0


@asynccontextmanager
async def serving(settings: Settings, transport: SandboxRouter) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """A Runtime of its own (another process, as far as the cache knows) and a client of its app,
    with the lifespan running (so the last_used_at flusher runs too)."""
    runtime = Runtime.build(settings)
    runtime.connectors = ConnectorFactory(transport=transport)
    app = create_app(settings, runtime=runtime)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client,
        ):
            yield runtime, client
    finally:
        await runtime.close()


@pytest.fixture
async def two(
    database_url: str, tmp_path: Path, vendor_transport: SandboxRouter
) -> AsyncIterator[tuple[tuple[Runtime, httpx.AsyncClient], tuple[Runtime, httpx.AsyncClient]]]:
    settings = make_settings(
        database_url, tmp_path, auth_cache_ttl_seconds=TTL_SECONDS, api_key_usage_flush_seconds=0.2
    )
    async with serving(settings, vendor_transport) as first, serving(settings, vendor_transport) as second:
        try:
            yield first, second
        finally:
            await empty_tables(first[0].engine)


async def within_ttl(check: Callable[[], Awaitable[bool]]) -> float:
    """Seconds until `check` holds; fails past the TTL plus slack."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < TTL_SECONDS + SLACK_SECONDS, "the change was not seen within the TTL"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def status_of(client: httpx.AsyncClient, tenant: Tenant) -> int:
    return (await client.get("/v1/connection", headers=tenant.headers)).status_code


async def test_a_key_revoked_in_one_process_is_refused_by_another_within_the_ttl(two: Any) -> None:
    (_, first), (_, second) = two
    tenant = await make_tenant(first)
    issued = await first.post(
        f"/v1/admin/organizations/{tenant.organization_id}/api-keys", json={"name": "k"}, headers=ADMIN
    )
    key = Tenant(tenant.organization_id, issued.json()["api_key"], tenant.connection_id)
    assert await status_of(first, key) == 200 and await status_of(second, key) == 200  # both cached it
    revoked = await first.delete(f"/v1/admin/api-keys/{issued.json()['id']}", headers=ADMIN)
    assert revoked.status_code == 200
    assert await status_of(first, key) == 401  # the process that revoked it: at once

    async def refused() -> bool:
        return await status_of(second, key) == 401

    await within_ttl(refused)
    assert await status_of(second, tenant) == 200  # the other key of the organization still works


async def test_a_connection_paused_in_one_process_is_refused_by_another_and_resumed_likewise(two: Any) -> None:
    (_, first), (_, second) = two
    tenant = await make_tenant(first)
    assert await status_of(second, tenant) == 200
    paused = await first.patch(f"/v1/admin/connections/{tenant.connection_id}", json={"state": "PAUSED"}, headers=ADMIN)
    assert paused.status_code == 200
    assert await status_of(first, tenant) == 409

    async def refused() -> bool:
        return await status_of(second, tenant) == 409

    await within_ttl(refused)
    # The refusal is cached no longer than a success: the resumed connection serves again within the TTL.
    resumed = await first.patch(
        f"/v1/admin/connections/{tenant.connection_id}", json={"state": "ACTIVE"}, headers=ADMIN
    )
    assert resumed.json()["state"] == "ACTIVE"
    assert await status_of(first, tenant) == 200

    async def served() -> bool:
        return await status_of(second, tenant) == 200

    await within_ttl(served)


async def test_a_get_takes_no_write_lock_and_last_used_at_is_flushed_in_the_background(
    two: Any, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    (runtime, client), _ = two
    tenant = await make_tenant(client)
    created = await client.post(
        "/v1/itsm/tickets",
        json={"name": "Read me", "project_vendor_id": "DEMO", "type_vendor_id": "10001"},
        headers=tenant.headers,
    )
    assert created.status_code == 200, created.text
    await runtime.read_backs.drain()  # the create's background read-back writes: not a request's lock
    runtime.auth_cache.clear()  # the lookups below must read the database, under the lock
    holder = sqlite3.connect(database_url.split(":///", 1)[1], timeout=0, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        for path in ("/v1/itsm/tickets?limit=50", f"/v1/itsm/tickets/{created.json()['id']}", "/v1/connection"):
            # A request that wanted the write lock would wait for it (busy_timeout 30 s).
            response = await asyncio.wait_for(client.get(path, headers=tenant.headers), 10)
            assert response.status_code == 200, response.text
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    async def recorded() -> bool:
        async with runtime.sessionmaker() as db:
            used = await db.scalar(select(ApiKey.last_used_at).where(ApiKey.key_hash == hash_api_key(tenant.api_key)))
        return used is not None

    await within_ttl(recorded)


async def test_concurrent_misses_share_one_lookup_keyed_by_the_hash(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    tenant = await make_tenant(client)
    cache = AuthCache(ttl_seconds=TTL_SECONDS)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "api_keys" in statement:
            statements.append(statement)

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
    try:
        keys = await asyncio.gather(*(cache.authenticate(runtime.sessionmaker, tenant.api_key) for _ in range(20)))
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)
    assert {key.organization_id for key in keys} == {uuid.UUID(tenant.organization_id)}
    assert len(statements) == 1
    assert cache._keys._entries.keys() == {hash_api_key(tenant.api_key)}  # never the key itself


async def test_unknown_keys_are_refused_alike_and_a_failure_expires_with_the_ttl(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    tenant = await make_tenant(client)
    cache = AuthCache(ttl_seconds=0.2)
    unknown = "tb_" + "x" * 43
    for _ in range(2):  # the second one answers from the cache: a new error each time
        with pytest.raises(Exception, match="invalid or has been revoked"):
            await cache.authenticate(runtime.sessionmaker, unknown)
    with pytest.raises(Exception, match="missing"):
        await cache.authenticate(runtime.sessionmaker, None)
    unknown_connection = uuid.uuid4()
    organization_id = uuid.UUID(tenant.organization_id)
    with pytest.raises(Exception, match="not found"):
        await cache.usable_connection(
            runtime.sessionmaker, organization_id=organization_id, connection_id=unknown_connection
        )
    await asyncio.sleep(0.25)
    assert cache._keys._entries[hash_api_key(unknown)].expires_at < time.monotonic()
