"""One ticketbridge deployment for the benchmarks: a database, the API process(es), and tenants.

SQLite is the embedded mode (`serve` with its in-process worker). PostgreSQL is the distributed mode:
a throwaway database on 127.0.0.1:5432 (trust auth), migrated with `ticketbridge db upgrade`, served by
`serve --no-worker` beside a separate `ticketbridge worker`, and dropped afterwards.

Inbound rate limiting is off in every benchmark process (TICKETBRIDGE_RATE_LIMIT_PER_KEY and
_PER_ORGANIZATION empty): the benchmarks measure the write and read paths, not the limiter's refusals.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
from cryptography.fernet import Fernet

from bench.processes import REPO_ROOT, Process, api_server, ticketbridge, worker_process
from ticketbridge.sandboxes import jira

POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
ADMIN_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Tenant:
    """One organization's API key and one Jira connection: the headers every ITSM call carries."""

    api_key: str
    connection_id: str
    organization_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-KEY": self.api_key, "X-CONNECTION-ID": self.connection_id}


@dataclass
class Deployment:
    database: str  #: "sqlite" or "postgresql"
    database_url: str
    env: dict[str, str]
    directory: Path
    api: Process
    worker: Process | None = None
    admin_token: str = field(default="", repr=False)

    async def tenant(self, jira_url: str, name: str = "bench") -> Tenant:
        """A fresh organization, API key and Jira connection (fresh: no tickets, no sync state)."""
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        async with httpx.AsyncClient(base_url=self.api.url, headers=headers, timeout=ADMIN_TIMEOUT_SECONDS) as admin:
            org = expect(await admin.post("/v1/admin/organizations", json={"name": name}), 201)
            key = expect(await admin.post(f"/v1/admin/organizations/{org['id']}/api-keys", json={"name": name}), 201)
            connection = expect(
                await admin.post(
                    "/v1/admin/connections",
                    json={
                        "organization_id": org["id"],
                        "vendor": "JIRA",
                        "base_url": jira_url,
                        "credentials": {"email": jira.DEMO_EMAIL, "api_token": jira.DEMO_API_TOKEN},
                    },
                ),
                201,
            )
        return Tenant(api_key=key["api_key"], connection_id=connection["id"], organization_id=org["id"])

    async def request_sync(self, connection_id: str) -> str:
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        async with httpx.AsyncClient(base_url=self.api.url, headers=headers, timeout=ADMIN_TIMEOUT_SECONDS) as admin:
            return str(expect(await admin.post(f"/v1/admin/connections/{connection_id}/sync"), 202)["job_id"])


def expect(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The answer's JSON, or a RuntimeError naming the call when the status is not `status`."""
    if response.status_code != status:
        request = response.request
        raise RuntimeError(f"{request.method} {request.url.path}: {response.status_code} {response.text[:500]}")
    body: dict[str, Any] = response.json()
    return body


def base_env(database_url: str, directory: Path, admin_token: str) -> dict[str, str]:
    return {
        **os.environ,
        "TICKETBRIDGE_DATABASE_URL": database_url,
        "TICKETBRIDGE_SECRETS_KEY": Fernet.generate_key().decode(),
        "TICKETBRIDGE_ADMIN_TOKEN": admin_token,
        "TICKETBRIDGE_DATA_DIR": str(directory),
        "TICKETBRIDGE_LOG_FORMAT": "json",
        "TICKETBRIDGE_RATE_LIMIT_PER_KEY": "",
        "TICKETBRIDGE_RATE_LIMIT_PER_ORGANIZATION": "",
    }


@contextlib.asynccontextmanager
async def sqlite_deployment(directory: Path, *, name: str = "sqlite") -> AsyncIterator[Deployment]:
    """Embedded mode: `ticketbridge serve` with its in-process worker, migrating on start."""
    directory.mkdir(parents=True, exist_ok=True)
    admin_token = secrets.token_urlsafe(24)
    url = f"sqlite+aiosqlite:///{directory / 'ticketbridge.db'}"
    env = base_env(url, directory, admin_token)
    async with api_server(directory, env, worker=True, name=f"api-{name}") as api:
        yield Deployment("sqlite", url, env, directory, api, admin_token=admin_token)


@contextlib.asynccontextmanager
async def throwaway_postgres() -> AsyncIterator[str]:
    """A new database on the local server for the block, dropped after (its connections forced out)."""
    name = f"ticketbridge_bench_{uuid.uuid4().hex[:12]}"
    server = await asyncpg.connect(POSTGRES_DSN, timeout=10)
    try:
        await server.execute(f'CREATE DATABASE "{name}"')
    finally:
        await server.close()
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        server = await asyncpg.connect(POSTGRES_DSN, timeout=10)
        try:
            await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await server.close()


async def postgres_reason() -> str | None:
    """Why PostgreSQL scenarios cannot run here, or None when the server answers."""
    try:
        server = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL at 127.0.0.1:5432 unavailable ({type(exc).__name__}: {exc})"
    await server.close()
    return None


@contextlib.asynccontextmanager
async def postgres_deployment(directory: Path, *, name: str = "postgresql") -> AsyncIterator[Deployment]:
    """Distributed mode: `serve --no-worker` and one `ticketbridge worker`, on a throwaway database."""
    directory.mkdir(parents=True, exist_ok=True)
    admin_token = secrets.token_urlsafe(24)
    async with throwaway_postgres() as url:
        env = {**base_env(url, directory, admin_token), "TICKETBRIDGE_AUTO_MIGRATE": "false"}
        subprocess.run(
            ticketbridge("db", "upgrade"),
            cwd=REPO_ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        async with (
            api_server(directory, env, worker=False, name=f"api-{name}") as api,
            worker_process(directory, env, name=f"worker-{name}") as worker,
        ):
            yield Deployment("postgresql", url, env, directory, api, worker, admin_token=admin_token)
