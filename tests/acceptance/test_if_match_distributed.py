"""If-Match means the same in embedded and distributed mode, on every vendor of the registry.

The answer to "did the ticket change since the version the client saw" comes from the stored row at
that version, not from what a process remembers. Here:

- distributed: a separate `ticketbridge worker` process syncs the tickets; a newly started
  `ticketbridge serve --no-worker` process, which never saw any version, serves the PATCHes;
- embedded: one Runtime syncs in process and serves the PATCHes.

In both, a person then edits two tickets in the vendor: one in a field the PATCH does not write
(its priority), one in the field it writes (its name). A vendor with conditional writes (Rezolve's
etag) proves the first PATCH safe: 200, the person's edit kept; one without (Jira, ServiceNow)
refuses both with 412. Either way the person's edits are never overwritten.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_bulk import run_jobs
from tests.builders import ADMIN, Tenant, make_tenant
from tests.jobs.processes import wait_for
from tests.sandboxes.jira.test_jira_pypi_client import serve_in_thread
from tests.support.processes import api_server, process_env, started
from tests.support.vendor_cases import VendorCase, cases, control
from ticketbridge.app import create_app
from ticketbridge.config import Settings
from ticketbridge.connectors import ConnectorFactory
from ticketbridge.state import Runtime

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=cases(), ids=str)
def served(request: pytest.FixtureRequest) -> Iterator[tuple[VendorCase, str]]:
    """A vendor's sandbox on a real socket, so that the worker process reaches it too."""
    case: VendorCase = request.param
    for url in serve_in_thread(case.standalone):
        yield case, url


@pytest.fixture
async def sandbox(served: tuple[VendorCase, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served[1]) as http:
        await control(http, "POST", "/reset")
        yield http


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


async def person_edits(case: VendorCase, sandbox: httpx.AsyncClient) -> str:
    """Someone changes both tickets in the vendor after the sync: our stored versions are now old.
    Answers the priority the person set on the first."""
    untouched_field, same_field = case.demo_keys
    priority = await case.lower_priority(sandbox, untouched_field)
    await case.rename(sandbox, same_field, "Theirs")
    return priority


async def patch_both(
    http: httpx.AsyncClient, case: VendorCase, tenant: Tenant, seen: dict[str, dict[str, Any]], priority: str
) -> None:
    """PATCHes both tickets' names with If-Match of the synced versions; checks the answers."""
    untouched_field, same_field = case.demo_keys
    first = await http.patch(
        f"/v1/itsm/tickets/{seen[untouched_field]['id']}",
        json={"name": "Ours"},
        headers={**tenant.headers, "If-Match": seen[untouched_field]["etag"]},
    )
    if case.spec.capabilities.conditional_writes:
        assert first.status_code == 200, first.text
        assert (first.json()["name"], first.json()["priority"]) == ("Ours", priority)  # the person's edit is kept
    else:
        assert first.status_code == 412, first.text

    stale = await http.patch(
        f"/v1/itsm/tickets/{seen[same_field]['id']}",
        json={"name": "Ours"},
        headers={**tenant.headers, "If-Match": seen[same_field]["etag"]},
    )
    assert stale.status_code == 412, stale.text
    if case.spec.capabilities.conditional_writes:  # it can tell which field changed, and says so
        assert [detail["loc"] for detail in stale.json()["detail"]] == [["body", "name"]]
        assert "name" in stale.json()["message"]

    # The person's rename survives: re-read from the vendor (a PATCH without If-Match reads it back).
    fresh = await http.patch(
        f"/v1/itsm/tickets/{seen[same_field]['id']}", json={"priority": priority}, headers=tenant.headers
    )
    assert fresh.status_code == 200 and fresh.json()["name"] == "Theirs", fresh.text


async def test_if_match_in_distributed_mode(
    settings: Settings, served: tuple[VendorCase, str], sandbox: httpx.AsyncClient, tmp_path: Path
) -> None:
    case, url = served
    env = process_env(settings.database_url, tmp_path)
    async with api_server(env, tmp_path / "api-0.log") as provisioning:
        tenant = await make_tenant(provisioning, **case.connection(url))
        async with started(["worker", "--concurrency", "1"], env, tmp_path / "worker.log") as worker:
            job_id = await request_sync(provisioning, tenant)

            async def synced() -> bool:
                assert worker.poll() is None, (tmp_path / "worker.log").read_text()
                return await job_status(provisioning, tenant, job_id) == "SUCCESS"

            await wait_for(synced, "the worker process to sync the connection")
    assert "connector_sync" in (tmp_path / "worker.log").read_text().lower()
    priority = await person_edits(case, sandbox)

    async with api_server(env, tmp_path / "api-1.log") as fresh:
        await patch_both(fresh, case, tenant, await stored_by_key(fresh, tenant), priority)


async def test_if_match_in_embedded_mode(
    settings: Settings, served: tuple[VendorCase, str], sandbox: httpx.AsyncClient
) -> None:
    case, url = served
    runtime = Runtime.build(settings)
    runtime.connectors = ConnectorFactory(transport=None)
    app = create_app(settings, runtime=runtime)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
            tenant = await make_tenant(http, **case.connection(url))
            job_id = await request_sync(http, tenant)
            await run_jobs(runtime)  # the worker inside the serving process
            assert await job_status(http, tenant, job_id) == "SUCCESS"
            priority = await person_edits(case, sandbox)

            await patch_both(http, case, tenant, await stored_by_key(http, tenant), priority)
    finally:
        await runtime.close()
