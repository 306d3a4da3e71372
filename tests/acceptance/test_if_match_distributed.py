"""If-Match on Rezolve means the same in embedded and distributed mode.

Rezolve keeps no history, so "did a field being written change since the version the client saw"
is answered from the stored row at that version, not from what a process remembers. Here:

- distributed: a separate `ticketbridge worker` process syncs the tickets; a newly started
  `ticketbridge serve --no-worker` process, which never saw any version, serves the PATCHes;
- embedded: one Runtime syncs in process and serves the PATCHes.

In both, a person then edits two tickets in Rezolve: one in a field the PATCH does not write (200,
the person's edit kept), one in the field it writes (412 naming the field).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_bulk import run_jobs
from tests.builders import ADMIN, Tenant, make_tenant
from tests.jobs.processes import wait_for
from tests.sandboxes.jira.test_jira_pypi_client import serve_in_thread
from tests.support.processes import api_server, process_env, started
from ticketbridge.app import create_app
from ticketbridge.config import Settings
from ticketbridge.connectors import ConnectorFactory
from ticketbridge.sandboxes import rezolve
from ticketbridge.state import Runtime

pytestmark = pytest.mark.slow

FIELDS = rezolve.REQUEST_FIELDS
UNTOUCHED_FIELD = "REQ-0001"  # the person changes its priority; we rename it
SAME_FIELD = "REQ-0002"  # the person renames it too


@pytest.fixture(scope="module")
def rezolve_url() -> Iterator[str]:
    """The Rezolve sandbox on a real socket, so that the worker process reaches it too."""
    yield from serve_in_thread(
        lambda url: rezolve.create_app(rezolve.RezolveSandboxConfig(base_url=url, in_process=False))
    )


@pytest.fixture
def sandbox(rezolve_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{rezolve_url}/__sandbox__") as http:
        http.post("/reset").raise_for_status()
        yield http


async def provision(http: httpx.AsyncClient, rezolve_url: str) -> Tenant:
    return await make_tenant(
        http,
        vendor="REZOLVE",
        base_url=rezolve_url,
        credentials={
            "tenant_id": rezolve.DEMO_TENANT_ID,
            "realm": rezolve.DEMO_REALM,
            "client_id": rezolve.DEMO_CLIENT_ID,
            "client_secret": rezolve.DEMO_CLIENT_SECRET,
        },
    )


async def request_sync(http: httpx.AsyncClient, tenant: Tenant) -> str:
    response = await http.post(f"/v1/admin/connections/{tenant.connection_id}/sync", headers=ADMIN)
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


async def job_status(http: httpx.AsyncClient, tenant: Tenant, job_id: str) -> str:
    response = await http.get(f"/v1/jobs/{job_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


async def stored_by_key(http: httpx.AsyncClient, tenant: Tenant) -> dict[str, dict[str, Any]]:
    response = await http.get("/v1/itsm/tickets", params={"limit": 100}, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return {item["vendor_attributes"]["id"]: item for item in response.json()["items"]}


def person_edits(sandbox: httpx.Client) -> None:
    """Someone changes both tickets in Rezolve after the sync: our stored versions are now old."""
    for object_id, update in [(UNTOUCHED_FIELD, {FIELDS.priority: "low"}), (SAME_FIELD, {FIELDS.summary: "Theirs"})]:
        sandbox.post(f"/tickets/{object_id}/edit", json={"ticketUpdate": update}).raise_for_status()


async def patch_both(http: httpx.AsyncClient, tenant: Tenant, seen: dict[str, dict[str, Any]]) -> None:
    """PATCH both tickets' names with If-Match of the synced versions; checks the answers."""
    fine = await http.patch(
        f"/v1/itsm/tickets/{seen[UNTOUCHED_FIELD]['id']}",
        json={"name": "Ours"},
        headers={**tenant.headers, "If-Match": seen[UNTOUCHED_FIELD]["etag"]},
    )
    assert fine.status_code == 200, fine.text
    assert (fine.json()["name"], fine.json()["priority"]) == ("Ours", "LOW")  # the person's edit is kept

    stale = await http.patch(
        f"/v1/itsm/tickets/{seen[SAME_FIELD]['id']}",
        json={"name": "Ours"},
        headers={**tenant.headers, "If-Match": seen[SAME_FIELD]["etag"]},
    )
    assert stale.status_code == 412, stale.text
    assert [detail["loc"] for detail in stale.json()["detail"]] == [["body", "name"]]
    assert "name" in stale.json()["message"]


async def test_if_match_in_distributed_mode(
    settings: Settings, rezolve_url: str, sandbox: httpx.Client, tmp_path: Path
) -> None:
    env = process_env(settings.database_url, tmp_path)
    async with api_server(env, tmp_path / "api-0.log") as provisioning:
        tenant = await provision(provisioning, rezolve_url)
        async with started(["worker", "--concurrency", "1"], env, tmp_path / "worker.log") as worker:
            job_id = await request_sync(provisioning, tenant)

            async def synced() -> bool:
                assert worker.poll() is None, (tmp_path / "worker.log").read_text()
                return await job_status(provisioning, tenant, job_id) == "SUCCESS"

            await wait_for(synced, "the worker process to sync the connection")
    assert "connector_sync" in (tmp_path / "worker.log").read_text().lower()
    person_edits(sandbox)

    async with api_server(env, tmp_path / "api-1.log") as fresh:
        await patch_both(fresh, tenant, await stored_by_key(fresh, tenant))


async def test_if_match_in_embedded_mode(settings: Settings, rezolve_url: str, sandbox: httpx.Client) -> None:
    runtime = Runtime.build(settings)
    runtime.connectors = ConnectorFactory(transport=None)
    app = create_app(settings, runtime=runtime)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
            tenant = await provision(http, rezolve_url)
            job_id = await request_sync(http, tenant)
            await run_jobs(runtime)  # the worker inside the serving process
            assert await job_status(http, tenant, job_id) == "SUCCESS"
            person_edits(sandbox)

            await patch_both(http, tenant, await stored_by_key(http, tenant))
    finally:
        await runtime.close()
