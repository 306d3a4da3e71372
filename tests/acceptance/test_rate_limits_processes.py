"""The per-key limit holds across API processes: two `ticketbridge serve --no-worker` on one database
and one Redis admit, together, a burst's worth of the key's limit once, not once per process."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.api.test_rate_limits import REDIS_URL, redis_key_prefix
from tests.builders import ADMIN
from tests.support.processes import api_server, process_env
from ticketbridge.store import migrate
from ticketbridge.store.base import create_engine

LIMIT = 20


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    async with redis_key_prefix() as prefix:
        yield prefix


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file of this test's own: the windows live in Redis, the database only holds the key."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'ticketbridge.db'}"
    engine = create_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    return url


async def test_two_api_processes_admit_the_key_limit_once(sqlite_url: str, tmp_path: Path, redis_prefix: str) -> None:
    env = process_env(sqlite_url, tmp_path) | {
        "TICKETBRIDGE_REDIS_URL": REDIS_URL,
        "TICKETBRIDGE_REDIS_KEY_PREFIX": redis_prefix,
        "TICKETBRIDGE_RATE_LIMIT_PER_KEY": f"{LIMIT}/minute",
        "TICKETBRIDGE_RATE_LIMIT_PER_ORGANIZATION": "",
    }
    async with api_server(env, tmp_path / "api-0.log") as first, api_server(env, tmp_path / "api-1.log") as second:
        organization = await first.post("/v1/admin/organizations", json={"name": "Acme"}, headers=ADMIN)
        issued = await second.post(
            f"/v1/admin/organizations/{organization.json()['id']}/api-keys", json={"name": "burst"}, headers=ADMIN
        )
        assert issued.status_code == 201, issued.text
        key = {"X-API-KEY": issued.json()["api_key"]}

        # Twice the limit at once, half to each process. Without a connection id, an admitted request
        # is a 422 (authenticated, then refused for the missing header).
        apis = (first, second)
        burst = await asyncio.gather(*(apis[n % 2].get("/v1/jobs", headers=key) for n in range(2 * LIMIT)))
        assert Counter(answer.status_code for answer in burst) == {422: LIMIT, 429: LIMIT}

        # Both processes count in the one window: the key is spent on each.
        for http in apis:
            spent = await http.get("/v1/jobs", headers=key)
            assert spent.status_code == 429 and spent.headers["X-RateLimit-Remaining"] == "0"
