"""OAuth 2.0 (3LO) token refresh across real processes: `ticketbridge serve --no-worker` and
`ticketbridge worker` on one PostgreSQL, the Jira sandbox (Atlassian's authorization server too) on a
real socket, the connection made through the connect flow over HTTP.

The tests stop the processes at chosen points with PostgreSQL's own locks, never with a hook in the
product: a test that holds the connection's token row (FOR UPDATE) makes every process that needs a
refresh queue behind it; a test that holds the token table in SHARE mode lets a refresh lock the row
and call the token endpoint but makes its UPDATE wait, which is the moment between the token
endpoint's answer and the commit.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest

from tests.builders import ADMIN, Tenant
from tests.conftest import SECRETS_KEY, empty_tables
from tests.jobs.processes import DEADLINE_SECONDS
from tests.sandboxes.jira.test_jira_pypi_client import serve_in_thread
from tests.support.processes import api_process, process_env, started, wait_job
from ticketbridge.crypto import CredentialCipher
from ticketbridge.sandboxes.jira import (
    DEMO_OAUTH_CLIENT_ID,
    DEMO_OAUTH_CLIENT_SECRET,
    DEMO_OAUTH_REDIRECT_URI,
    JiraSandboxConfig,
    create_app,
)
from ticketbridge.services.ticket_requests import marker_for
from ticketbridge.store.base import create_engine

pytestmark = pytest.mark.slow

TASK = "10002"
REFRESHES = "oauth.token.refresh_token"
#: The sandbox's default leeway (Atlassian's 10 minutes), during which a rotated refresh token still works.
LEEWAY_SECONDS = 600
#: How long the test watches for calls nobody should make.
QUIET_SECONDS = 3.0
#: What the processes run while the test holds a lock (pg_stat_activity.query).
ROW_LOCK_QUERY = "SELECT %FROM oauth_tokens%FOR UPDATE%"
TOKEN_UPDATE_QUERY = "UPDATE oauth_tokens %"


@pytest.fixture(scope="module")
def jira_url() -> Iterator[str]:
    yield from serve_in_thread(lambda url: create_app(JiraSandboxConfig(base_url=url, in_process=False)))


@pytest.fixture
async def postgres_url(database_url: str) -> AsyncIterator[str]:
    if not database_url.startswith("postgresql"):
        pytest.skip("several processes share one database in distributed mode, on PostgreSQL")
    # Workers claim any queued job of the database: start from no jobs of earlier tests.
    engine = create_engine(database_url)
    await empty_tables(engine)
    yield database_url
    await empty_tables(engine)
    await engine.dispose()


@pytest.fixture
async def sandbox(jira_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{jira_url}/__sandbox__", timeout=30) as http:
        await control(http, "POST", "/reset")
        yield http


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[asyncpg.Connection]:
    """The test's session that watches what the processes wait for. It never opens a transaction:
    PostgreSQL keeps one snapshot of pg_stat_activity per transaction."""
    connection = await asyncpg.connect(postgres_url)
    yield connection
    await connection.close()


@pytest.fixture
async def locker(postgres_url: str) -> AsyncIterator[asyncpg.Connection]:
    """The test's session that holds the locks."""
    connection = await asyncpg.connect(postgres_url)
    yield connection
    await connection.close()


def oauth_env(postgres_url: str, data_dir: Path, jira_url: str) -> dict[str, str]:
    """The deployment's OAuth app is the sandbox's seeded one; the sandbox is auth.atlassian.com and
    api.atlassian.com."""
    return process_env(postgres_url, data_dir) | {
        "TICKETBRIDGE_JIRA_OAUTH_CLIENT_ID": DEMO_OAUTH_CLIENT_ID,
        "TICKETBRIDGE_JIRA_OAUTH_CLIENT_SECRET": DEMO_OAUTH_CLIENT_SECRET,
        "TICKETBRIDGE_JIRA_OAUTH_REDIRECT_URI": DEMO_OAUTH_REDIRECT_URI,
        "TICKETBRIDGE_JIRA_OAUTH_AUTH_BASE_URL": jira_url,
        "TICKETBRIDGE_JIRA_OAUTH_API_BASE_URL": jira_url,
    }


@dataclass(frozen=True)
class Deployment:
    """What a test starts processes with (their environment, and `logs`, their data and log folder)
    and watches them through: the sandbox's control plane, and the test's two PostgreSQL sessions."""

    env: dict[str, str]
    logs: Path
    sandbox: httpx.AsyncClient
    pg: asyncpg.Connection
    locker: asyncpg.Connection

    def api(self, name: str) -> AbstractAsyncContextManager[tuple[subprocess.Popen[bytes], httpx.AsyncClient]]:
        """An API process (`api_process`), its output in `<name>.log`."""
        return api_process(self.env, self.logs / f"{name}.log")

    def worker(self, name: str, *args: str) -> AbstractAsyncContextManager[subprocess.Popen[bytes]]:
        """`ticketbridge worker ARGS`, its output in `<name>.log`."""
        return started(["worker", *args], self.env, self.logs / f"{name}.log")

    def log_text(self) -> str:
        """Every process's output so far."""
        return "\n".join(path.read_text(errors="replace") for path in sorted(self.logs.glob("*.log")))


@pytest.fixture
def deployment(
    postgres_url: str,
    jira_url: str,
    sandbox: httpx.AsyncClient,
    pg: asyncpg.Connection,
    locker: asyncpg.Connection,
    tmp_path: Path,
) -> Deployment:
    return Deployment(oauth_env(postgres_url, tmp_path, jira_url), tmp_path, sandbox, pg, locker)


async def control(sandbox: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
    response = await sandbox.request(method, path, **kwargs)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


async def connect_over_http(api: httpx.AsyncClient) -> Tenant:
    """An organization and its API key, and its Jira site connected as a customer does: authorize, the
    consent screen (the sandbox consents at once), then the callback, which the redirect would reach
    through the deployment's public URL (DEMO_OAUTH_REDIRECT_URI)."""
    org = await api.post("/v1/admin/organizations", json={"name": "Acme"}, headers=ADMIN)
    assert org.status_code == 201, org.text
    org_id = org.json()["id"]
    key = await api.post(f"/v1/admin/organizations/{org_id}/api-keys", json={"name": "t"}, headers=ADMIN)
    assert key.status_code == 201, key.text
    start = await api.post(f"/v1/admin/organizations/{org_id}/connections/jira/authorize", headers=ADMIN)
    assert start.status_code == 200, start.text
    async with httpx.AsyncClient(timeout=30) as browser:
        consent = await browser.get(start.json()["authorize_url"])
    assert consent.status_code == 302, consent.text
    location = consent.headers["location"]
    assert location.startswith(DEMO_OAUTH_REDIRECT_URI + "?"), location
    query = {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
    connected = await api.get("/v1/oauth/jira/callback", params=query)
    assert connected.status_code == 201, connected.text
    connection = connected.json()["connection"]
    assert connection["state"] == "ACTIVE", connection
    return Tenant(organization_id=org_id, api_key=key.json()["api_key"], connection_id=connection["id"])


def ticket(identifier: str) -> dict[str, Any]:
    return {
        "name": f"Finding {identifier}",
        "project_vendor_id": "DEMO",
        "type_vendor_id": TASK,
        "identifier": identifier,
    }


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def waiting_for_locks(pg: asyncpg.Connection, query: str) -> list[int]:
    """The backends (pids) blocked on a lock while running a statement like `query`."""
    rows = await pg.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
        "AND query LIKE $1",
        query,
    )
    return [int(row["pid"]) for row in rows]


async def refreshes(sandbox: httpx.AsyncClient) -> int:
    return int((await control(sandbox, "GET", "/calls")).get(REFRESHES, 0))


async def stored_tokens(pg: asyncpg.Connection, connection_id: str) -> dict[str, Any]:
    row = await pg.fetchrow(
        "SELECT tokens_encrypted, refreshed_at FROM oauth_tokens WHERE connection_id = $1", uuid.UUID(connection_id)
    )
    assert row is not None
    tokens: dict[str, Any] = CredentialCipher([SECRETS_KEY]).decrypt(row["tokens_encrypted"])
    return tokens | {"refreshed_at": row["refreshed_at"]}


async def health(api: httpx.AsyncClient, tenant: Tenant) -> dict[str, Any]:
    answer = await api.get(f"/v1/admin/connections/{tenant.connection_id}", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()["health"]
    return found


async def wait_first_sync(api: httpx.AsyncClient, tenant: Tenant) -> None:
    """A worker schedules a sync of a connection never synced at once; let it end before the test
    starts counting token calls."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        listed = await api.get("/v1/jobs", params={"job_type": "CONNECTOR_SYNC"}, headers=tenant.headers)
        assert listed.status_code == 200, listed.text
        jobs = listed.json()["items"]
        if jobs and all(job["status"] in ("SUCCESS", "FAILED") for job in jobs):
            assert [job["status"] for job in jobs] == ["SUCCESS"], jobs
            return
        assert time.monotonic() < deadline, jobs
        await asyncio.sleep(0.3)


async def test_fifty_writes_on_an_expired_token_over_three_processes_refresh_it_once(deployment: Deployment) -> None:
    sandbox, pg, locker = deployment.sandbox, deployment.pg, deployment.locker
    async with deployment.api("api") as (_api_process, api):
        tenant = await connect_over_http(api)
        # One job at a time per worker, so that the two bulk jobs run on the two workers.
        async with (
            deployment.worker("worker-0", "--concurrency", "1"),
            deployment.worker("worker-1", "--concurrency", "1"),
        ):
            await wait_first_sync(api, tenant)
            await control(sandbox, "POST", "/oauth/expire-access-tokens")
            await control(sandbox, "DELETE", "/calls")

            # Every process that needs the refresh queues behind the test's row lock: the race is real.
            holder = locker.transaction()
            await holder.start()
            await locker.execute(
                "SELECT 1 FROM oauth_tokens WHERE connection_id = $1 FOR UPDATE", uuid.UUID(tenant.connection_id)
            )
            singles = [
                asyncio.create_task(api.post("/v1/itsm/tickets", json=ticket(f"single-{n}"), headers=tenant.headers))
                for n in range(20)
            ]
            bulks = [
                asyncio.create_task(
                    api.post(
                        "/v1/itsm/tickets/bulk",
                        json={"tickets": [ticket(f"job-{j}-{n}") for n in range(15)]},
                        headers=tenant.headers,
                    )
                )
                for j in range(2)
            ]
            await eventually(lambda: _at_least(pg, 3), "the API process and both workers to wait for the refresh")
            # Each process queues its own callers on a lock of its own: one waiter per process.
            assert len(await waiting_for_locks(pg, ROW_LOCK_QUERY)) == 3
            await holder.rollback()

            answers = await asyncio.gather(*singles)
            accepted = await asyncio.gather(*bulks)
            assert [a.status_code for a in accepted] == [202, 202], [a.text for a in accepted]
            finished = [await wait_job(api, tenant, answer.json()["job_id"]) for answer in accepted]
            connection_health = await health(api, tenant)

    assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers if a.status_code != 200]
    assert [job["status"] for job in finished] == ["SUCCESS", "SUCCESS"], finished
    assert all(len(job["results"]) == 15 and all(r["success"] for r in job["results"]) for job in finished)
    calls = await control(sandbox, "GET", "/calls")
    assert calls.get(REFRESHES) == 1, calls
    assert not {name for name in calls if "token" in name} - {REFRESHES}, calls
    identifiers = [f"single-{n}" for n in range(20)] + [f"job-{j}-{n}" for j in range(2) for n in range(15)]
    connection_id = uuid.UUID(tenant.connection_id)
    counts = [
        (await control(sandbox, "GET", f"/issues/count?label={marker_for(connection_id, identifier)}"))["count"]
        for identifier in identifiers
    ]
    assert counts == [1] * 50
    assert connection_health["name"] == "HEALTHY", connection_health
    assert "invalid_grant" not in deployment.log_text()


async def _at_least(pg: asyncpg.Connection, waiters: int) -> bool:
    return len(await waiting_for_locks(pg, ROW_LOCK_QUERY)) >= waiters


async def kill_between_token_answer_and_commit(
    victim: subprocess.Popen[bytes],
    http: httpx.AsyncClient,
    tenant: Tenant,
    deployment: Deployment,
    *,
    identifier: str,
) -> None:
    """A write on `victim` after the access token expired: its refresh gets the token endpoint's new
    pair, then waits to store it behind the test's SHARE lock on the token table; there it is killed
    with SIGKILL. Returns once PostgreSQL has ended the killed process's session (its transaction
    rolled back)."""
    sandbox, pg, locker = deployment.sandbox, deployment.pg, deployment.locker
    await control(sandbox, "POST", "/oauth/expire-access-tokens")
    answered = await refreshes(sandbox)
    holder = locker.transaction()
    await holder.start()
    await locker.execute("LOCK TABLE oauth_tokens IN SHARE MODE")
    try:
        write = asyncio.create_task(http.post("/v1/itsm/tickets", json=ticket(identifier), headers=tenant.headers))

        async def storing() -> bool:
            return await refreshes(sandbox) == answered + 1 and bool(await waiting_for_locks(pg, TOKEN_UPDATE_QUERY))

        await eventually(storing, "the refresh to get its answer and wait to store it")
        (backend,) = await waiting_for_locks(pg, TOKEN_UPDATE_QUERY)
        victim.send_signal(signal.SIGKILL)
        victim.wait(DEADLINE_SECONDS)
        with pytest.raises(httpx.TransportError):
            await write
    finally:
        await holder.rollback()

    async def gone() -> bool:
        return not await pg.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", backend)

    await eventually(gone, "PostgreSQL to end the killed process's session")


async def test_a_refresh_killed_before_its_commit_is_redone_within_the_leeway_and_needs_a_reconnect_after(
    deployment: Deployment,
) -> None:
    sandbox, pg = deployment.sandbox, deployment.pg
    async with deployment.api("api") as (_survivor_process, api):
        tenant = await connect_over_http(api)
        await control(sandbox, "DELETE", "/calls")
        consented = await stored_tokens(pg, tenant.connection_id)

        # Within the leeway: the refresh token the killed process rotated is the stored one, and works.
        async with deployment.api("victim-0") as (victim, victim_http):
            await kill_between_token_answer_and_commit(victim, victim_http, tenant, deployment, identifier="killed-0")
        assert await stored_tokens(pg, tenant.connection_id) == consented  # nothing was committed
        redone = await api.post("/v1/itsm/tickets", json=ticket("after-kill-0"), headers=tenant.headers)
        assert redone.status_code == 200, redone.text
        assert await refreshes(sandbox) == 2
        rotated = await stored_tokens(pg, tenant.connection_id)
        assert rotated["refresh_token"] != consented["refresh_token"] and rotated["refreshed_at"] is not None
        assert (await health(api, tenant))["name"] == "HEALTHY"

        # After the leeway: the only refresh token stored was rotated too long ago; Atlassian revokes the
        # grant, and the customer must connect again.
        async with deployment.api("victim-1") as (victim, victim_http):
            await kill_between_token_answer_and_commit(victim, victim_http, tenant, deployment, identifier="killed-1")
        assert await stored_tokens(pg, tenant.connection_id) == rotated
        await control(sandbox, "POST", "/oauth/clock", json={"advance_seconds": LEEWAY_SECONDS + 1})
        refused = await api.post("/v1/itsm/tickets", json=ticket("after-kill-1"), headers=tenant.headers)
        assert refused.status_code == 409, refused.text
        assert "re-authorized" in refused.json()["message"]
        assert await refreshes(sandbox) == 4
        unauthorized = await health(api, tenant)
        assert (unauthorized["name"], unauthorized["resolution_owner"]) == ("UNAUTHORIZED", "CUSTOMER"), unauthorized
        assert "re-authorized" in unauthorized["description"]

        # Nothing retries in a loop: requests, a bulk job and a worker's scheduled sync call nobody.
        before = await control(sandbox, "GET", "/calls")
        async with deployment.worker("worker"):
            job = await api.post(
                "/v1/itsm/tickets/bulk",
                json={"tickets": [ticket(f"job-{n}") for n in range(3)]},
                headers=tenant.headers,
            )
            assert job.status_code == 202, job.text
            again = [
                await api.post("/v1/itsm/tickets", json=ticket(f"again-{n}"), headers=tenant.headers) for n in range(3)
            ]
            finished = await wait_job(api, tenant, job.json()["job_id"])
            await asyncio.sleep(QUIET_SECONDS)
        after = await control(sandbox, "GET", "/calls")
        assert [a.status_code for a in again] == [409] * 3, [a.text for a in again]
        assert finished["status"] == "FAILED", finished
        assert [(r["success"], "re-authorized" in (r["error"] or "")) for r in finished["results"]] == [
            (False, True)
        ] * 3
        assert after == before
        assert (await health(api, tenant))["name"] == "UNAUTHORIZED"
