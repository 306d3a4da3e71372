"""/v1/jobs: polling, listing, retrying failed items, tenant isolation; and /metrics."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.builders import Tenant, make_connection, make_tenant
from tests.jobs.effects import REJECTED, TEST_EFFECT, effect_handlers
from ticketbridge.jobs.engine import enqueue_job
from ticketbridge.jobs.models import JobItemSpec
from ticketbridge.jobs.worker import Worker
from ticketbridge.state import Runtime

#: Far longer than a poll takes: past it, the poll is waiting for the writer (a hang).
HANG_SECONDS = 20.0


@pytest.fixture
def effects_dir(tmp_path: Path) -> Path:
    path = tmp_path / "effects"
    path.mkdir()
    return path


async def enqueue(
    runtime: Runtime,
    tenant: Tenant,
    effects_dir: Path,
    *,
    rejects: tuple[int, ...] = (),
    count: int = 3,
    job_type: str = TEST_EFFECT,
) -> str:
    async with runtime.sessionmaker() as db, db.begin():
        job = await enqueue_job(
            db,
            organization_id=uuid.UUID(tenant.organization_id),
            connection_id=uuid.UUID(tenant.connection_id),
            job_type=job_type,
            payload={"effects_dir": str(effects_dir)},
            items=[
                JobItemSpec(
                    key=str(index),
                    request_index=index,
                    payload={"reject": index in rejects},
                    known={"identifier": f"ID-{index}"},
                )
                for index in range(count)
            ],
        )
    return str(job.id)


async def run_jobs(runtime: Runtime) -> None:
    await Worker.for_runtime(runtime, handlers=effect_handlers(), concurrency=4).run_until_idle()


async def get_job(client: httpx.AsyncClient, tenant: Tenant, job_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/jobs/{job_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_job_reads_queued_then_success_with_every_result(
    client: httpx.AsyncClient, runtime: Runtime, effects_dir: Path
) -> None:
    tenant = await make_tenant(client)
    job_id = await enqueue(runtime, tenant, effects_dir)
    queued = await get_job(client, tenant, job_id)
    assert queued["status"] == "QUEUED" and queued["job_type"] == TEST_EFFECT
    assert queued["progress"] == {"total": 3, "processed": 0, "succeeded": 0, "failed": 0}
    assert queued["results"] == [] and queued["failure_reason"] is None
    assert queued["started_at"] is None and queued["finished_at"] is None

    await run_jobs(runtime)
    done = await get_job(client, tenant, job_id)
    assert done["status"] == "SUCCESS" and done["failure_reason"] is None
    assert done["progress"] == {"total": 3, "processed": 3, "succeeded": 3, "failed": 0}
    assert done["started_at"] is not None and done["finished_at"] is not None
    assert [set(result) for result in done["results"]] == [
        {"request_index", "success", "ticket_id", "vendor_ticket_id", "identifier", "error", "code"}
    ] * 3
    assert [(r["request_index"], r["success"], r["identifier"]) for r in done["results"]] == [
        (0, True, "ID-0"),
        (1, True, "ID-1"),
        (2, True, "ID-2"),
    ]
    assert all(result["vendor_ticket_id"] for result in done["results"])


async def test_polls_and_lists_answer_while_a_writer_holds_the_database(
    client: httpx.AsyncClient, runtime: Runtime, effects_dir: Path
) -> None:
    tenant = await make_tenant(client)
    job_id = await enqueue(runtime, tenant, effects_dir)
    await get_job(client, tenant, job_id)  # the key and connection lookups are cached from here on
    # What a worker's step holds: SQLite's one write lock, or (PostgreSQL) a lock that bars every writer.
    hold = "SELECT 1" if runtime.settings.is_embedded else "LOCK TABLE jobs, job_items IN EXCLUSIVE MODE"
    async with runtime.sessionmaker() as writer, writer.begin():
        await writer.execute(text(hold))
        # Bounded: a poll that waited for the writer would hang here until the bound, and fail.
        polled = await asyncio.wait_for(get_job(client, tenant, job_id), HANG_SECONDS)
        listed = await asyncio.wait_for(client.get("/v1/jobs", headers=tenant.headers), HANG_SECONDS)
    assert polled["status"] == "QUEUED"
    assert listed.status_code == 200 and [job["id"] for job in listed.json()["items"]] == [job_id]


async def test_a_job_with_a_failed_item_is_failed_with_leens_breakdown(
    client: httpx.AsyncClient, runtime: Runtime, effects_dir: Path
) -> None:
    tenant = await make_tenant(client)
    job_id = await enqueue(runtime, tenant, effects_dir, rejects=(1,))
    await run_jobs(runtime)
    body = await get_job(client, tenant, job_id)
    assert body["status"] == "FAILED"
    assert body["progress"] == {"total": 3, "processed": 3, "succeeded": 2, "failed": 1}
    assert json.loads(body["failure_reason"]) == {
        "total": 3,
        "succeeded": 2,
        "failed": 1,
        "results": [
            {"success": True, "error": None, "code": None, "request_index": 0, "identifier": "ID-0"},
            {"success": False, "error": REJECTED, "code": "VENDOR_REJECTED", "request_index": 1, "identifier": "ID-1"},
            {"success": True, "error": None, "code": None, "request_index": 2, "identifier": "ID-2"},
        ],
    }
    assert body["results"][1] == {
        "request_index": 1,
        "success": False,
        "ticket_id": None,
        "vendor_ticket_id": None,
        "identifier": "ID-1",
        "error": REJECTED,
        "code": "VENDOR_REJECTED",
    }


async def test_retry_failed_reruns_only_the_failed_items_as_a_new_job(
    client: httpx.AsyncClient, runtime: Runtime, effects_dir: Path
) -> None:
    tenant = await make_tenant(client)
    job_id = await enqueue(runtime, tenant, effects_dir, rejects=(0, 2))

    unfinished = await client.post(f"/v1/jobs/{job_id}/retry-failed", headers=tenant.headers)
    assert unfinished.status_code == 409, unfinished.text
    await run_jobs(runtime)

    retried = await client.post(f"/v1/jobs/{job_id}/retry-failed", headers=tenant.headers)
    assert retried.status_code == 202, retried.text
    retry_id = retried.json()["job_id"]
    assert retry_id != job_id
    body = await get_job(client, tenant, retry_id)
    assert body["status"] == "QUEUED" and body["progress"]["total"] == 2

    await run_jobs(runtime)  # the items are still rejected: the retry fails the same way
    again = await get_job(client, tenant, retry_id)
    assert [(r["request_index"], r["identifier"], r["success"]) for r in again["results"]] == [
        (0, "ID-0", False),
        (2, "ID-2", False),
    ]
    succeeded_only = await enqueue(runtime, tenant, effects_dir)
    await run_jobs(runtime)
    nothing = await client.post(f"/v1/jobs/{succeeded_only}/retry-failed", headers=tenant.headers)
    assert nothing.status_code == 409 and nothing.json()["code"] == "CONFLICT"


async def test_other_organizations_and_connections_cannot_see_or_retry_a_job(
    client: httpx.AsyncClient, runtime: Runtime, effects_dir: Path
) -> None:
    acme = await make_tenant(client, "Acme")
    globex = await make_tenant(client, "Globex")
    job_id = await enqueue(runtime, acme, effects_dir, rejects=(0,))
    await run_jobs(runtime)
    second_connection = await make_connection(client, acme.organization_id)
    acme_elsewhere = {**acme.headers, "X-CONNECTION-ID": str(second_connection["id"])}

    missing = await client.get(f"/v1/jobs/{uuid.uuid4()}", headers=globex.headers)
    assert missing.status_code == 404
    for headers in (globex.headers, acme_elsewhere):
        foreign = await client.get(f"/v1/jobs/{job_id}", headers=headers)
        assert foreign.status_code == 404 and foreign.json() == missing.json()
        retry = await client.post(f"/v1/jobs/{job_id}/retry-failed", headers=headers)
        assert retry.status_code == 404
        listing = await client.get("/v1/jobs", headers=headers)
        assert listing.json()["items"] == []
    borrowed = {"X-API-KEY": globex.api_key, "X-CONNECTION-ID": acme.connection_id}
    assert (await client.get(f"/v1/jobs/{job_id}", headers=borrowed)).status_code == 404
    assert (await client.get(f"/v1/jobs/{job_id}", headers=acme.headers)).status_code == 200


async def test_listing_is_newest_first_paginated_and_filterable(
    client: httpx.AsyncClient, runtime: Runtime, effects_dir: Path
) -> None:
    tenant = await make_tenant(client)
    failed = await enqueue(runtime, tenant, effects_dir, rejects=(0,), count=1)
    succeeded = await enqueue(runtime, tenant, effects_dir, count=1)
    await run_jobs(runtime)
    other_type = await enqueue(runtime, tenant, effects_dir, count=1, job_type="CONNECTOR_SYNC")
    newest_first = [other_type, succeeded, failed]

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/jobs", headers=tenant.headers, params=params)).json()
        seen += [job["id"] for job in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == newest_first

    async def ids(**params: str) -> list[str]:
        response = await client.get("/v1/jobs", headers=tenant.headers, params=params)
        assert response.status_code == 200, response.text
        return [job["id"] for job in response.json()["items"]]

    assert await ids(status="FAILED") == [failed]
    assert await ids(status="QUEUED") == [other_type]
    assert await ids(status="RUNNING") == []
    assert await ids(job_type=TEST_EFFECT) == [succeeded, failed]
    assert await ids(job_type=TEST_EFFECT, status="SUCCESS") == [succeeded]
    bad = await client.get("/v1/jobs", headers=tenant.headers, params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422
    unknown = await client.get("/v1/jobs", headers=tenant.headers, params={"status": "DONE"})
    assert unknown.status_code == 422


async def test_metrics_report_jobs_by_state_queue_age_and_run_durations(
    client: httpx.AsyncClient, runtime: Runtime, effects_dir: Path
) -> None:
    tenant = await make_tenant(client)
    await enqueue(runtime, tenant, effects_dir)
    await enqueue(runtime, tenant, effects_dir, job_type="CONNECTOR_SYNC")
    await run_jobs(runtime)

    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    assert samples['ticketbridge_jobs{status="SUCCESS"}'] == 1
    assert samples['ticketbridge_jobs{status="QUEUED"}'] == 1
    assert samples['ticketbridge_jobs{status="RUNNING"}'] == 0
    assert samples["ticketbridge_jobs_oldest_queued_age_seconds"] > 0
    assert samples['ticketbridge_job_run_seconds_count{job_type="TEST_EFFECT",outcome="success"}'] == 1


def _samples(text: str) -> dict[str, float]:
    return {
        name: float(value)
        for line in text.splitlines()
        if line and not line.startswith("#")
        for name, value in [line.rsplit(" ", 1)]
    }
