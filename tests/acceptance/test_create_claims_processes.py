"""One vendor create per identifier across processes: two `ticketbridge serve --no-worker` processes
and a `ticketbridge worker` on one PostgreSQL, the Jira sandbox on a real socket answering in
300 ± 300 ms. Concurrent single creates, bulk/sync requests and identical async jobs with the same
identifiers make exactly one Jira issue per identifier, and no answer is a 5xx."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.builders import ADMIN, Tenant
from tests.sandboxes.jira.test_jira_pypi_client import serve_in_thread
from tests.support.processes import api_server, process_env, started, wait_job
from ticketbridge.sandboxes import jira
from ticketbridge.sandboxes.jira import JiraSandboxConfig, create_app
from ticketbridge.services.ticket_requests import marker_for

pytestmark = pytest.mark.slow

TASK = "10002"
LATENCY = {"latency_ms": 300, "jitter_ms": 300, "seed": 13}


@pytest.fixture(scope="module")
def jira_url() -> Iterator[str]:
    yield from serve_in_thread(lambda url: create_app(JiraSandboxConfig(base_url=url, in_process=False)))


@pytest.fixture
def postgres_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("distributed mode runs on PostgreSQL")
    return database_url


async def provision(http: httpx.AsyncClient, jira_url: str) -> Tenant:
    org = await http.post("/v1/admin/organizations", json={"name": "Acme"}, headers=ADMIN)
    assert org.status_code == 201, org.text
    org_id = org.json()["id"]
    key = await http.post(f"/v1/admin/organizations/{org_id}/api-keys", json={"name": "t"}, headers=ADMIN)
    assert key.status_code == 201, key.text
    connection = await http.post(
        "/v1/admin/connections",
        json={
            "organization_id": org_id,
            "vendor": "JIRA",
            "base_url": jira_url,
            "credentials": {"email": jira.DEMO_EMAIL, "api_token": jira.DEMO_API_TOKEN},
        },
        headers=ADMIN,
    )
    assert connection.status_code == 201, connection.text
    return Tenant(organization_id=org_id, api_key=key.json()["api_key"], connection_id=connection.json()["id"])


def body(identifier: str, name: str = "Exposed S3 bucket") -> dict[str, Any]:
    return {"name": name, "project_vendor_id": "DEMO", "type_vendor_id": TASK, "identifier": identifier}


def sandbox(jira_url: str, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, f"{jira_url}/__sandbox__{path}", **kwargs)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def issues_with_marker(jira_url: str, tenant: Tenant, identifier: str) -> int:
    marker = marker_for(uuid.UUID(tenant.connection_id), identifier)
    return int(sandbox(jira_url, "GET", f"/issues/count?label={marker}")["count"])


async def test_concurrent_duplicates_over_two_api_processes_and_a_worker_write_once(
    postgres_url: str, jira_url: str, tmp_path: Path
) -> None:
    sandbox(jira_url, "POST", "/reset")
    env = process_env(postgres_url, tmp_path)
    async with (
        api_server(env, tmp_path / "api-0.log") as first_api,
        api_server(env, tmp_path / "api-1.log") as second_api,
    ):
        apis = [first_api, second_api]
        tenant = await provision(apis[0], jira_url)
        sandbox(jira_url, "PUT", "/faults", json=LATENCY)

        # 20 single creates of one identifier, alternating between the two processes.
        singles = await asyncio.gather(
            *(apis[n % 2].post("/v1/itsm/tickets", json=body("one"), headers=tenant.headers) for n in range(20))
        )
        # 4 bulk/sync requests of the same 10 identifiers.
        bulk = {"tickets": [body(f"bulk-{n}", f"Finding {n}") for n in range(10)]}
        syncs = await asyncio.gather(
            *(apis[n % 2].post("/v1/itsm/tickets/bulk/sync", json=bulk, headers=tenant.headers) for n in range(4))
        )
        # Two identical async jobs submitted at once, run by a separate worker process.
        jobs_body = {"tickets": [body(f"job-{n}", f"Job finding {n}") for n in range(10)]}
        accepted = await asyncio.gather(
            *(apis[n].post("/v1/itsm/tickets/bulk", json=jobs_body, headers=tenant.headers) for n in range(2))
        )
        async with started(["worker", "--concurrency", "4"], env, tmp_path / "worker.log"):
            finished = [await wait_job(apis[0], tenant, answer.json()["job_id"]) for answer in accepted]
        sandbox(jira_url, "PUT", "/faults", json={})

    assert all(answer.status_code in (200, 409) for answer in singles), [a.text for a in singles]
    assert len({answer.json()["id"] for answer in singles if answer.status_code == 200}) == 1
    assert all(a.json()["code"] == "CREATE_IN_PROGRESS" for a in singles if a.status_code == 409)
    assert issues_with_marker(jira_url, tenant, "one") == 1

    assert all(answer.status_code == 200 for answer in syncs), [a.text for a in syncs]
    ids: dict[str, set[str]] = {}
    for answer in syncs:
        for item in answer.json()["results"]:
            if item["success"]:
                ids.setdefault(item["identifier"], set()).add(item["ticket_id"])
    assert all(len(found) == 1 for found in ids.values())
    assert [issues_with_marker(jira_url, tenant, f"bulk-{n}") for n in range(10)] == [1] * 10

    assert [job["status"] for job in finished] == ["SUCCESS", "SUCCESS"], finished
    first, second = ({r["identifier"]: r["ticket_id"] for r in job["results"]} for job in finished)
    assert first == second and len(first) == 10
    assert [issues_with_marker(jira_url, tenant, f"job-{n}") for n in range(10)] == [1] * 10
