"""Refresh-ahead of the cached key and connection lookups (services/auth_cache.py): warm entries are
re-read in the background so a request finds them fresh, while a change made by another process is
still seen within the TTL, an invalidation during a round wins, and entries nobody uses expire.

The caches here are built by the tests, so the app's admin API (the runtime's own cache) plays
another process: its commits never invalidate them."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from structlog.testing import capture_logs

from tests.api.test_auth_cache import serving
from tests.builders import ADMIN, Tenant, make_tenant
from tests.conftest import empty_tables, make_settings
from tests.vendors import SandboxRouter
from ticketbridge.crypto import hash_api_key
from ticketbridge.errors import Conflict, Unauthenticated
from ticketbridge.services.auth_cache import AuthCache
from ticketbridge.state import Runtime
from ticketbridge.store.base import create_engine, create_sessionmaker

#: Rounds run every TTL_SECONDS / 2: an entry's round may come up to that late and it is still fresh.
TTL_SECONDS = 0.5
#: Long enough that an entry not refreshed would have expired twice over.
PAST_THE_TTL = 2.5 * TTL_SECONDS
#: Scheduling slack on a loaded machine, on top of the TTL.
SLACK_SECONDS = 1.0


@contextmanager
def statements(engine: AsyncEngine, table: str) -> Iterator[list[str]]:
    """The statements run on `table` while the block runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if f"FROM {table}" in statement:
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@asynccontextmanager
async def refreshing(
    cache: AuthCache, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(cache.run_refresher(sessionmaker, stop))
    try:
        yield task
    finally:
        stop.set()
        await task


async def use(cache: AuthCache, runtime: Runtime, tenant: Tenant) -> None:
    """What a data request asks of the cache: its key, then its connection."""
    key = await cache.authenticate(runtime.sessionmaker, tenant.api_key)
    await cache.usable_connection(
        runtime.sessionmaker, organization_id=key.organization_id, connection_id=uuid.UUID(tenant.connection_id)
    )


async def lookups_of(engine: AsyncEngine, request: Callable[[], Awaitable[object]]) -> int:
    """The key and connection lookups `request` runs itself: a refresh round may run while a miss waits
    for its lookup, but its statements are batch reads (IN), which the request path never runs."""
    with statements(engine, "api_keys") as keys, statements(engine, "connections") as connections:
        await request()
    return len([statement for statement in keys + connections if " IN " not in statement])


async def issue_key(client: httpx.AsyncClient, tenant: Tenant) -> tuple[Tenant, str]:
    issued = await client.post(
        f"/v1/admin/organizations/{tenant.organization_id}/api-keys", json={"name": "k"}, headers=ADMIN
    )
    assert issued.status_code == 201, issued.text
    return Tenant(tenant.organization_id, issued.json()["api_key"], tenant.connection_id), issued.json()["id"]


async def until_refused(request: Callable[[], Awaitable[object]], error: type[Exception]) -> None:
    """Repeats `request` (as a tenant's traffic would) until it raises `error`; fails past the TTL plus slack."""
    started = time.monotonic()
    while True:
        try:
            await request()
        except error:
            return
        assert time.monotonic() - started < TTL_SECONDS + SLACK_SECONDS, "the change was not seen within the TTL"
        await asyncio.sleep(0.05)


async def test_warm_entries_are_refreshed_so_a_request_past_the_ttl_looks_nothing_up(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    tenant = await make_tenant(client)
    cache = AuthCache(ttl_seconds=TTL_SECONDS)
    assert await lookups_of(runtime.engine, lambda: use(cache, runtime, tenant)) == 2  # the first use: misses
    async with refreshing(cache, runtime.sessionmaker):
        for _ in range(2):
            await asyncio.sleep(PAST_THE_TTL)
            assert await lookups_of(runtime.engine, lambda: use(cache, runtime, tenant)) == 0


async def test_a_key_revoked_elsewhere_is_refused_within_the_ttl_while_the_refresher_runs(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    tenant, key_id = await issue_key(client, await make_tenant(client))
    cache = AuthCache(ttl_seconds=TTL_SECONDS)
    async with refreshing(cache, runtime.sessionmaker):
        await use(cache, runtime, tenant)
        revoked = await client.delete(f"/v1/admin/api-keys/{key_id}", headers=ADMIN)
        assert revoked.status_code == 200, revoked.text
        await until_refused(lambda: cache.authenticate(runtime.sessionmaker, tenant.api_key), Unauthenticated)
        await asyncio.sleep(PAST_THE_TTL)  # the refusal stays: the refresher never brings the key back
        with pytest.raises(Unauthenticated):
            await cache.authenticate(runtime.sessionmaker, tenant.api_key)


async def test_a_connection_paused_elsewhere_is_a_conflict_within_the_ttl_while_the_refresher_runs(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    tenant = await make_tenant(client)
    cache = AuthCache(ttl_seconds=TTL_SECONDS)
    async with refreshing(cache, runtime.sessionmaker):
        await use(cache, runtime, tenant)
        paused = await client.patch(
            f"/v1/admin/connections/{tenant.connection_id}", json={"state": "PAUSED"}, headers=ADMIN
        )
        assert paused.status_code == 200, paused.text
        await until_refused(lambda: use(cache, runtime, tenant), Conflict)


async def test_an_entry_unused_for_the_keep_warm_window_is_left_to_expire(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    tenant = await make_tenant(client)
    cache = AuthCache(ttl_seconds=TTL_SECONDS, keep_warm_seconds=TTL_SECONDS)
    async with refreshing(cache, runtime.sessionmaker):
        await use(cache, runtime, tenant)
        await asyncio.sleep(TTL_SECONDS + PAST_THE_TTL)  # past the window, and past the last round's TTL
        with statements(runtime.engine, "api_keys") as keys, statements(runtime.engine, "connections") as connections:
            await asyncio.sleep(PAST_THE_TTL)
        assert keys == [] and connections == []  # no rounds for entries nobody uses
        assert await lookups_of(runtime.engine, lambda: use(cache, runtime, tenant)) == 2


async def test_an_invalidation_during_a_round_wins_over_what_the_round_read(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    tenant, key_id = await issue_key(client, await make_tenant(client))
    cache = AuthCache(ttl_seconds=60)  # whatever a round stored would be served for a minute
    await use(cache, runtime, tenant)
    connection_id = uuid.UUID(tenant.connection_id)

    def commit_lands_after_the_read(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # As this process's commit of a revocation and a pause would, right after the round read the rows.
        if "FROM api_keys" in statement:
            cache.invalidate_keys({hash_api_key(tenant.api_key)})
        if "FROM connections" in statement:
            cache.invalidate_connections({connection_id})

    event.listen(runtime.engine.sync_engine, "after_cursor_execute", commit_lands_after_the_read)
    try:
        assert await cache.refresh(runtime.sessionmaker) == 0
    finally:
        event.remove(runtime.engine.sync_engine, "after_cursor_execute", commit_lands_after_the_read)
    assert (await client.delete(f"/v1/admin/api-keys/{key_id}", headers=ADMIN)).status_code == 200
    with pytest.raises(Unauthenticated):
        await cache.authenticate(runtime.sessionmaker, tenant.api_key)
    paused = await client.patch(f"/v1/admin/connections/{connection_id}", json={"state": "PAUSED"}, headers=ADMIN)
    assert paused.status_code == 200, paused.text
    with pytest.raises(Conflict):
        await cache.usable_connection(
            runtime.sessionmaker, organization_id=uuid.UUID(tenant.organization_id), connection_id=connection_id
        )
    assert await cache.refresh(runtime.sessionmaker) == 2  # a round without an invalidation stores


async def test_a_failed_round_is_logged_without_the_hashes_and_the_refresher_goes_on(
    runtime: Runtime, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    tenant = await make_tenant(client)
    cache = AuthCache(ttl_seconds=TTL_SECONDS)
    await use(cache, runtime, tenant)
    empty = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")  # no tables: every round fails
    try:
        with capture_logs() as logs:
            async with refreshing(cache, create_sessionmaker(empty)) as refresher:
                await asyncio.sleep(PAST_THE_TTL)
                assert not refresher.done()
    finally:
        await empty.dispose()
    failures = [entry for entry in logs if entry["event"] == "auth_cache.refresh_failed"]
    assert len(failures) >= 2
    assert all(hash_api_key(tenant.api_key) not in str(entry) for entry in failures)
    # The entries expired as without a refresher: the next use looks them up.
    assert await lookups_of(runtime.engine, lambda: use(cache, runtime, tenant)) == 2


async def test_caching_off_gives_the_refresher_nothing_to_do(runtime: Runtime, client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(client)
    cache = AuthCache(ttl_seconds=0)
    await use(cache, runtime, tenant)
    with statements(runtime.engine, "api_keys") as keys:
        assert await cache.refresh(runtime.sessionmaker) == 0
        await asyncio.wait_for(cache.run_refresher(runtime.sessionmaker, asyncio.Event()), 5)  # returns at once
    assert keys == []


async def test_the_apps_lifespan_keeps_a_tenants_key_warm(
    database_url: str, tmp_path: Path, vendor_transport: SandboxRouter
) -> None:
    settings = make_settings(database_url, tmp_path, auth_cache_ttl_seconds=TTL_SECONDS)
    async with serving(settings, vendor_transport) as (runtime, client):
        try:
            tenant = await make_tenant(client)
            assert (await client.get("/v1/connection", headers=tenant.headers)).status_code == 200
            await asyncio.sleep(PAST_THE_TTL)
            with statements(runtime.engine, "api_keys") as keys:
                assert (await client.get("/v1/connection", headers=tenant.headers)).status_code == 200
            # Only the refresher's batch reads (IN), if a round ran meanwhile: the request looked nothing up.
            assert [statement for statement in keys if " IN " not in statement] == []
        finally:
            await empty_tables(runtime.engine)
