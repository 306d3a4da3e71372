"""The two deployments under load, with their Jira sandbox and tenants.

Inbound rate limits are set far above what the run can reach (INBOUND_RATE_LIMIT, per key and per
organization), not switched off, so every request still goes through the limiter. The Jira sandbox's
own limits are raised the same way through `PUT /__sandbox__/rate-limits` (SANDBOX_RATE_LIMITS): its
burst buckets are 100 POST/s per endpoint by default, which 200 clients would hit; the per-issue write
windows keep Jira's values (an issue is written once or twice here), and the points quota only
governs OAuth traffic, not the API tokens used here. Jira's search lag keeps its default (2000 ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from bench.load import processes
from bench.load.processes import Process
from ticketbridge.sandboxes import jira

#: Per key and per organization: about 100,000 requests/s, never reached on this machine.
INBOUND_RATE_LIMIT = "1000000/10seconds"
SANDBOX_RATE_LIMITS: dict[str, Any] = {
    "enabled": True,
    "get_per_second": 100_000,
    "post_per_second": 100_000,
    "put_per_second": 100_000,
    "delete_per_second": 100_000,
}
ADMIN_TIMEOUT_SECONDS = 60.0
SYNC_DEADLINE_SECONDS = 90.0


@dataclass(frozen=True)
class Tenant:
    """One organization with one API key and one Jira connection."""

    index: int
    api_key: str
    connection_id: str
    organization_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-KEY": self.api_key, "X-CONNECTION-ID": self.connection_id}


@dataclass
class Deployment:
    mode: str  #: "distributed" or "embedded"
    database: str  #: "postgresql" or "sqlite"
    #: asyncpg DSN (PostgreSQL) or the SQLite file's path: where the checks count rows.
    database_location: str
    sandbox: Process
    apis: list[Process]
    workers: list[Process]
    tenants: list[Tenant] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def api_urls(self) -> list[str]:
        return [api.url for api in self.apis]

    @property
    def services(self) -> list[Process]:
        return [self.sandbox, *self.apis, *self.workers]


def _env(database_url: str, directory: Path, admin_token: str, *, auto_migrate: bool) -> dict[str, str]:
    return {
        **os.environ,
        "TICKETBRIDGE_DATABASE_URL": database_url,
        "TICKETBRIDGE_SECRETS_KEY": Fernet.generate_key().decode(),
        "TICKETBRIDGE_ADMIN_TOKEN": admin_token,
        "TICKETBRIDGE_DATA_DIR": str(directory),
        "TICKETBRIDGE_AUTO_MIGRATE": "true" if auto_migrate else "false",
        "TICKETBRIDGE_LOG_FORMAT": "json",
        "TICKETBRIDGE_RATE_LIMIT_PER_KEY": INBOUND_RATE_LIMIT,
        "TICKETBRIDGE_RATE_LIMIT_PER_ORGANIZATION": INBOUND_RATE_LIMIT,
    }


def _documented(env: dict[str, str]) -> dict[str, str]:
    """The TICKETBRIDGE_* settings of the run, secrets left out."""
    hidden = {"TICKETBRIDGE_SECRETS_KEY", "TICKETBRIDGE_ADMIN_TOKEN"}
    return {k: v for k, v in sorted(env.items()) if k.startswith("TICKETBRIDGE_") and k not in hidden}


@contextlib.asynccontextmanager
async def distributed(directory: Path, *, tenants: int) -> AsyncIterator[Deployment]:
    """Two `serve --no-worker` and two `worker` on a throwaway PostgreSQL database, migrated first."""
    directory.mkdir(parents=True, exist_ok=True)
    admin_token = secrets.token_urlsafe(24)
    async with processes.throwaway_postgres() as (url, dsn), processes.jira_sandbox(directory) as sandbox:
        env = _env(url, directory, admin_token, auto_migrate=False)
        processes.db_upgrade(env)
        async with (
            processes.api_server(directory, env, name="api-1", worker=False) as api_1,
            processes.api_server(directory, env, name="api-2", worker=False) as api_2,
            processes.worker(directory, env, name="worker-1") as worker_1,
            processes.worker(directory, env, name="worker-2") as worker_2,
        ):
            deployment = Deployment(
                "distributed",
                "postgresql",
                dsn,
                sandbox,
                [api_1, api_2],
                [worker_1, worker_2],
                settings=_documented(env),
            )
            await _prepare(deployment, admin_token, tenants)
            yield deployment


@contextlib.asynccontextmanager
async def embedded(directory: Path, *, tenants: int) -> AsyncIterator[Deployment]:
    """One `ticketbridge serve` with its in-process worker on SQLite, migrating itself at start."""
    directory.mkdir(parents=True, exist_ok=True)
    admin_token = secrets.token_urlsafe(24)
    path = directory / "ticketbridge.db"
    env = _env(f"sqlite+aiosqlite:///{path}", directory, admin_token, auto_migrate=True)
    async with (
        processes.jira_sandbox(directory) as sandbox,
        processes.api_server(directory, env, name="api", worker=True) as api,
    ):
        deployment = Deployment("embedded", "sqlite", str(path), sandbox, [api], [], settings=_documented(env))
        await _prepare(deployment, admin_token, tenants)
        yield deployment


async def _prepare(deployment: Deployment, admin_token: str, tenants: int) -> None:
    async with httpx.AsyncClient(base_url=deployment.sandbox.url, timeout=ADMIN_TIMEOUT_SECONDS) as control:
        expect(await control.put("/__sandbox__/rate-limits", json=SANDBOX_RATE_LIMITS))
        deployment.settings["sandbox_rate_limits"] = str(expect(await control.get("/__sandbox__/rate-limits")))
        deployment.settings["sandbox_search_lag_ms"] = str(
            expect(await control.get("/__sandbox__/consistency"))["search_lag_ms"]
        )
    headers = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(
        base_url=deployment.apis[0].url, headers=headers, timeout=ADMIN_TIMEOUT_SECONDS
    ) as admin:
        for index in range(tenants):
            name = f"load-{index}"
            org = expect(await admin.post("/v1/admin/organizations", json={"name": name}), 201)
            key = expect(await admin.post(f"/v1/admin/organizations/{org['id']}/api-keys", json={"name": name}), 201)
            connection = expect(
                await admin.post(
                    "/v1/admin/connections",
                    json={
                        "organization_id": org["id"],
                        "vendor": "JIRA",
                        "base_url": deployment.sandbox.url,
                        "credentials": {"email": jira.DEMO_EMAIL, "api_token": jira.DEMO_API_TOKEN},
                    },
                ),
                201,
            )
            if connection.get("state") != "ACTIVE":
                raise RuntimeError(f"connection {connection['id']} is {connection.get('state')}: {connection}")
            tenant = Tenant(index, key["api_key"], connection["id"], org["id"])
            # The first sync, requested now and awaited, so that the scheduler (every 30 s) does not
            # start one in the middle of the load.
            job = expect(await admin.post(f"/v1/admin/connections/{tenant.connection_id}/sync"), 202)
            await _wait_for_job(admin, tenant, job["job_id"])
            deployment.tenants.append(tenant)


async def _wait_for_job(http: httpx.AsyncClient, tenant: Tenant, job_id: str) -> None:
    deadline = time.monotonic() + SYNC_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        job = expect(await http.get(f"/v1/jobs/{job_id}", headers=tenant.headers))
        if job["status"] in ("SUCCESS", "FAILED"):
            if job["status"] == "FAILED":
                raise RuntimeError(f"the first sync of {tenant.connection_id} failed: {job.get('failure_reason')}")
            return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"the first sync of {tenant.connection_id} did not finish in {SYNC_DEADLINE_SECONDS:g} s")


def expect(response: httpx.Response, status: int = 200) -> Any:
    if response.status_code != status:
        request = response.request
        raise RuntimeError(f"{request.method} {request.url.path}: {response.status_code} {response.text[:500]}")
    return response.json()
