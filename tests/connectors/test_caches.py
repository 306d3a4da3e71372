"""The connection caches: one load per key however many miss at once, and a new cache as soon as a
connection's base URL or credentials change (for every vendor, in the factory)."""

from __future__ import annotations

import asyncio

from ticketbridge.connectors import ConnectorFactory
from ticketbridge.connectors.base import MetadataCache
from ticketbridge.sandboxes import jira

from .rezolve.support import credentials, make_connection

KEY = ("metadata", "priorities")


async def test_concurrent_misses_of_one_key_share_one_load() -> None:
    cache = MetadataCache()
    loads = 0

    async def load() -> dict[str, str]:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.01)
        return {"high": "1"}

    values = await asyncio.gather(*(cache.cached(KEY, load, ttl_seconds=60) for _ in range(10)))

    assert loads == 1 and values == [{"high": "1"}] * 10


async def test_other_keys_do_not_wait_for_a_slow_load() -> None:
    cache = MetadataCache()
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "slow"

    async def quick() -> str:
        return "quick"

    pending = asyncio.create_task(cache.cached(("metadata", "slow"), slow, ttl_seconds=60))
    assert await asyncio.wait_for(cache.cached(("metadata", "quick"), quick, ttl_seconds=60), 1) == "quick"
    release.set()
    assert await pending == "slow"


async def test_an_expired_entry_or_a_refresh_loads_again() -> None:
    cache = MetadataCache()
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        return loads

    assert await cache.cached(KEY, load, ttl_seconds=60) == 1
    assert await cache.cached(KEY, load, ttl_seconds=60) == 1
    assert await cache.cached(KEY, load, ttl_seconds=0) == 2
    assert await cache.cached(KEY, load, ttl_seconds=60, refresh=True) == 3


def test_the_factory_keeps_a_connections_cache_while_nothing_it_depends_on_changes() -> None:
    factory = ConnectorFactory()
    connection = make_connection()

    first = factory.cache_for(connection, credentials())
    first.entries[KEY] = (0.0, "old site's data")

    assert factory.cache_for(connection, credentials()) is first
    moved = factory.cache_for(connection.model_copy(update={"base_url": "http://elsewhere.test"}), credentials())
    assert moved is not first and not moved.entries
    rotated = factory.cache_for(connection, credentials(client_secret="rotated"))
    assert rotated is not moved and not rotated.entries
    # One cache per connection: the ones for old settings are dropped, not kept alongside.
    assert len(factory.caches) == 1


def test_the_cache_key_is_a_keyed_hash_never_the_secret() -> None:
    factory = ConnectorFactory()
    connection = make_connection()
    secret = jira.DEMO_API_TOKEN

    factory.cache_for(connection, {"email": jira.DEMO_EMAIL, "api_token": secret})
    ((depends_on, _),) = factory.caches.values()

    assert secret not in depends_on and len(depends_on) == 64
    # Keyed per factory (per process): the same credentials give another value elsewhere.
    other = ConnectorFactory()
    other.cache_for(connection, {"email": jira.DEMO_EMAIL, "api_token": secret})
    assert next(iter(other.caches.values()))[0] != depends_on
