"""One vendor create per identifier: concurrent duplicates, lost answers under search lag, failed
local writes, abandoned claims; through the API, on both databases, against the sandboxes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from tests.api.test_bulk import job, run_jobs, tickets
from tests.api.test_tickets import sandbox
from tests.builders import Tenant, make_tenant
from tests.conftest import make_settings
from tests.support.sandboxes import catch_up_search
from ticketbridge.config import Settings
from ticketbridge.services.ticket_requests import marker_for
from ticketbridge.state import Runtime
from ticketbridge.store.base import utcnow
from ticketbridge.store.tables import CreateClaimRow, JobRow, TicketRow

#: The Jira sandbox's search lag in these tests, and the settle time the connector waits out.
LAG_MS = 600
SETTLE_SECONDS = 0.8


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url,
        tmp_path,
        vendor_search_settle_seconds=SETTLE_SECONDS,
        job_backoff_seconds=0.05,
        job_poll_interval_seconds=0.05,
    )


async def issue_count(jira: FastAPI, marker: str | None = None) -> int:
    path = "/issues/count?project=DEMO" + (f"&label={marker}" if marker else "")
    return int((await sandbox(jira, "GET", path))["count"])


def ticket_body(identifier: str, name: str = "Exposed S3 bucket") -> dict[str, Any]:
    return {**tickets(1)[0], "name": name, "identifier": identifier}


async def stored_tickets(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as db:
        return int(await db.scalar(select(func.count()).select_from(TicketRow)) or 0)


async def claims_left(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as db:
        return int(await db.scalar(select(func.count()).select_from(CreateClaimRow)) or 0)


def claim_row(tenant: Tenant, identifier: str, *, owner: str, until: datetime) -> CreateClaimRow:
    """A CLAIMED row of another writer, expiring (and reconcilable) at `until`."""
    return CreateClaimRow(
        connection_id=uuid.UUID(tenant.connection_id),
        organization_id=uuid.UUID(tenant.organization_id),
        identifier=identifier,
        owner=owner,
        state="CLAIMED",
        expires_at=until,
        reconcile_after=until,
    )


async def run_jobs_to_end(runtime: Runtime) -> None:
    """Drains the queue, deferred jobs included (`run_jobs` stops while a job waits for its time)."""
    async with asyncio.timeout(60):
        while True:
            await run_jobs(runtime)
            async with runtime.sessionmaker() as db:
                unfinished = await db.scalar(
                    select(func.count()).select_from(JobRow).where(JobRow.status.not_in(["SUCCESS", "FAILED"]))
                )
            if not unfinished:
                return
            await asyncio.sleep(0.1)


@contextmanager
def failing_ticket_inserts(runtime: Runtime, times: int, *, also: str | None = None) -> Iterator[list[str]]:
    """The next `times` INSERTs into tickets (and statements starting with `also`, as many) fail as
    a database error would (a fault hook)."""
    failed: list[str] = []
    prefixes = ("INSERT INTO TICKETS", *([also.upper()] if also else []))

    def fail(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        prefix = next((p for p in prefixes if statement.lstrip().upper().startswith(p)), None)
        if prefix is not None and failed.count(prefix) < times:
            failed.append(prefix)
            raise OperationalError(statement, {}, RuntimeError("injected: the store is down"))

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", fail)
    try:
        yield failed
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", fail)


async def test_concurrent_creates_with_one_identifier_make_one_vendor_ticket(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_tenant(client)
    before = await issue_count(jira_sandbox)
    await sandbox(jira_sandbox, "PUT", "/faults", json={"latency_ms": 300, "jitter_ms": 300, "seed": 5})

    answers = await asyncio.gather(
        *(client.post("/v1/itsm/tickets", json=ticket_body("dup-1"), headers=tenant.headers) for _ in range(20))
    )

    await sandbox(jira_sandbox, "PUT", "/faults", json={})
    assert await issue_count(jira_sandbox) == before + 1
    statuses = sorted({answer.status_code for answer in answers})
    assert set(statuses) <= {200, 409}, [answer.text for answer in answers]
    ids = {answer.json()["id"] for answer in answers if answer.status_code == 200}
    assert len(ids) == 1
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["code"] == "CREATE_IN_PROGRESS"
            assert int(answer.headers["Retry-After"]) >= 1
    assert await stored_tickets(runtime) == 1
    assert await claims_left(runtime) == 0


async def test_concurrent_bulk_sync_requests_make_one_vendor_ticket_per_identifier(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_tenant(client)
    before = await issue_count(jira_sandbox)
    body = {"tickets": [ticket_body(f"bulk-{n}", f"Finding {n}") for n in range(10)]}
    await sandbox(jira_sandbox, "PUT", "/faults", json={"latency_ms": 300, "jitter_ms": 300, "seed": 9})

    answers = await asyncio.gather(
        *(client.post("/v1/itsm/tickets/bulk/sync", json=body, headers=tenant.headers) for _ in range(4))
    )

    await sandbox(jira_sandbox, "PUT", "/faults", json={})
    assert all(answer.status_code == 200 for answer in answers), [answer.text for answer in answers]
    assert await issue_count(jira_sandbox) == before + 10
    by_identifier: dict[str, set[str]] = {}
    for answer in answers:
        for item in answer.json()["results"]:
            if item["success"]:
                by_identifier.setdefault(item["identifier"], set()).add(item["ticket_id"])
            else:
                assert "in progress" in item["error"]
    assert all(len(ids) == 1 for ids in by_identifier.values())
    assert await stored_tickets(runtime) == 10


async def test_two_identical_async_jobs_make_one_vendor_ticket_per_identifier(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_tenant(client)
    before = await issue_count(jira_sandbox)
    body = {"tickets": [ticket_body(f"job-{n}", f"Finding {n}") for n in range(20)]}
    accepted = await asyncio.gather(
        *(client.post("/v1/itsm/tickets/bulk", json=body, headers=tenant.headers) for _ in range(2))
    )
    await sandbox(jira_sandbox, "PUT", "/faults", json={"latency_ms": 300, "jitter_ms": 300, "seed": 2})

    await run_jobs_to_end(runtime)

    await sandbox(jira_sandbox, "PUT", "/faults", json={})
    assert await issue_count(jira_sandbox) == before + 20
    jobs = [await job(client, tenant, answer.json()["job_id"]) for answer in accepted]
    assert [finished["status"] for finished in jobs] == ["SUCCESS", "SUCCESS"]
    first, second = ({r["identifier"]: r["ticket_id"] for r in finished["results"]} for finished in jobs)
    assert first == second and len(first) == 20
    assert await claims_left(runtime) == 0


async def test_a_lost_answer_under_search_lag_is_reconciled_once_search_settles(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_tenant(client)
    await sandbox(jira_sandbox, "PUT", "/consistency", json={"search_lag_ms": LAG_MS})
    before = await issue_count(jira_sandbox)
    await sandbox(jira_sandbox, "PUT", "/faults", json={"lost_response_rate": 1, "writes_only": True})

    lost = await client.post("/v1/itsm/tickets", json=ticket_body("lost-1"), headers=tenant.headers)

    await sandbox(jira_sandbox, "PUT", "/faults", json={})
    assert lost.status_code == 503, lost.text
    assert lost.json()["code"] == "VENDOR_UNAVAILABLE" and "same identifier" in lost.json()["message"]
    assert await issue_count(jira_sandbox) == before + 1  # Jira has it; our search cannot see it yet
    early = await client.post("/v1/itsm/tickets", json=ticket_body("lost-1"), headers=tenant.headers)
    # Searching now would find nothing and create a duplicate: the retry waits for the settle time
    # (answering the ticket when it settles within the wait, or 409 until then).
    assert early.status_code in (200, 409), early.text
    if early.status_code == 409:
        await asyncio.sleep(SETTLE_SECONDS)
        early = await client.post("/v1/itsm/tickets", json=ticket_body("lost-1"), headers=tenant.headers)
    assert early.status_code == 200, early.text
    assert await issue_count(jira_sandbox) == before + 1
    marker = marker_for(uuid.UUID(tenant.connection_id), "lost-1")
    assert await issue_count(jira_sandbox, marker) == 1
    assert early.json()["vendor_attributes"]["id"].startswith("DEMO-")


async def test_a_failed_local_write_keeps_the_vendor_ticket_and_the_retry_stores_it(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_tenant(client)
    before = await issue_count(jira_sandbox)

    with failing_ticket_inserts(runtime, times=1) as failed:
        first = await client.post("/v1/itsm/tickets", json=ticket_body("store-1"), headers=tenant.headers)
    assert failed
    assert first.status_code == 503, first.text
    assert first.json()["code"] == "TICKET_NOT_STORED" and "DEMO-" in first.json()["message"]
    assert "Retry-After" in first.headers
    assert await stored_tickets(runtime) == 0

    retry = await client.post("/v1/itsm/tickets", json=ticket_body("store-1"), headers=tenant.headers)

    assert retry.status_code == 200, retry.text
    assert await issue_count(jira_sandbox) == before + 1
    assert await stored_tickets(runtime) == 1
    assert await claims_left(runtime) == 0


async def test_a_create_whose_claim_cannot_be_marked_either_is_reconciled_by_marker(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_tenant(client)
    before = await issue_count(jira_sandbox)

    # Storing fails, and so does marking the claim WRITTEN afterwards: the claim stays CLAIMED.
    with failing_ticket_inserts(runtime, times=1, also="UPDATE create_claims") as failed:
        first = await client.post("/v1/itsm/tickets", json=ticket_body("store-2"), headers=tenant.headers)
    assert len(failed) == 2
    assert first.status_code == 503, first.text
    assert first.json()["code"] == "TICKET_NOT_STORED"
    async with runtime.sessionmaker.begin() as db:
        claim = await db.scalar(select(CreateClaimRow).where(CreateClaimRow.identifier == "store-2"))
        assert claim is not None and claim.state == "CLAIMED" and claim.vendor_ref is None
        claim.expires_at = claim.reconcile_after = utcnow() - timedelta(minutes=5)  # its writer is long gone
    await catch_up_search(jira_sandbox)

    retry = await client.post("/v1/itsm/tickets", json=ticket_body("store-2"), headers=tenant.headers)

    assert retry.status_code == 200, retry.text
    assert retry.json()["vendor_attributes"]["id"] in first.json()["message"]
    assert await issue_count(jira_sandbox) == before + 1
    assert await claims_left(runtime) == 0


async def test_a_failed_local_write_in_a_job_is_stored_by_its_retry_without_a_second_create(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_tenant(client)
    before = await issue_count(jira_sandbox)
    body = {"tickets": [ticket_body(f"jobstore-{n}", f"Finding {n}") for n in range(5)]}
    accepted = await client.post("/v1/itsm/tickets/bulk", json=body, headers=tenant.headers)

    with failing_ticket_inserts(runtime, times=1) as failed:
        await run_jobs_to_end(runtime)

    assert failed
    finished = await job(client, tenant, accepted.json()["job_id"])
    assert finished["status"] == "SUCCESS", finished
    assert await issue_count(jira_sandbox) == before + 5
    assert await stored_tickets(runtime) == 5


async def test_an_abandoned_claim_is_taken_over_and_reconciled_by_marker(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_tenant(client)
    # A writer created the issue in Jira and died before recording anything: only its claim is left.
    first = await client.post("/v1/itsm/tickets", json=ticket_body("dead-1"), headers=tenant.headers)
    assert first.status_code == 200
    before = await issue_count(jira_sandbox)
    async with runtime.sessionmaker.begin() as db:
        row = await db.get(TicketRow, uuid.UUID(first.json()["id"]))
        assert row is not None
        await db.delete(row)
        db.add(claim_row(tenant, "dead-1", owner="request:dead", until=utcnow() - timedelta(minutes=5)))
    await catch_up_search(jira_sandbox)  # its claim ran out minutes ago: the index has its create by now

    adopted = await client.post("/v1/itsm/tickets", json=ticket_body("dead-1"), headers=tenant.headers)

    assert adopted.status_code == 200, adopted.text
    assert adopted.json()["vendor_attributes"]["id"] == first.json()["vendor_attributes"]["id"]
    assert await issue_count(jira_sandbox) == before
    assert await claims_left(runtime) == 0


async def test_a_live_claim_of_another_writer_answers_in_progress(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await make_tenant(client)
    monkeypatch.setattr("ticketbridge.services.create_claims.WAIT_SECONDS", 0.3)
    async with runtime.sessionmaker.begin() as db:
        db.add(claim_row(tenant, "busy-1", owner="request:other", until=utcnow() + timedelta(minutes=5)))
    before = await issue_count(jira_sandbox)

    answer = await client.post("/v1/itsm/tickets", json=ticket_body("busy-1"), headers=tenant.headers)

    assert answer.status_code == 409, answer.text
    assert answer.json()["code"] == "CREATE_IN_PROGRESS"
    assert answer.headers["Retry-After"] == "1"
    assert await issue_count(jira_sandbox) == before


async def test_claims_are_per_connection(client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI) -> None:
    one, two = await make_tenant(client), await make_tenant(client, name="Globex")
    before = await issue_count(jira_sandbox)

    answers = await asyncio.gather(
        client.post("/v1/itsm/tickets", json=ticket_body("shared-id"), headers=one.headers),
        client.post("/v1/itsm/tickets", json=ticket_body("shared-id"), headers=two.headers),
    )

    assert [answer.status_code for answer in answers] == [200, 200]
    assert await issue_count(jira_sandbox) == before + 2


async def test_a_failed_local_write_is_stored_by_the_next_sync_under_its_identifier(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI, admin_headers: dict[str, str]
) -> None:
    tenant = await make_tenant(client)
    before = await issue_count(jira_sandbox)
    with failing_ticket_inserts(runtime, times=1):
        first = await client.post("/v1/itsm/tickets", json=ticket_body("sync-1"), headers=tenant.headers)
    assert first.status_code == 503, first.text

    # A sync right away may come before Jira's index has the issue; the one after it has stores it.
    for _ in range(2):
        synced = await client.post(f"/v1/admin/connections/{tenant.connection_id}/sync", headers=admin_headers)
        assert synced.status_code == 202, synced.text
        await run_jobs_to_end(runtime)
        await catch_up_search(jira_sandbox)

    by_identifier = await client.get("/v1/itsm/tickets/by-identifier/sync-1", headers=tenant.headers)
    assert by_identifier.status_code == 200, by_identifier.text
    assert await issue_count(jira_sandbox) == before + 1
    assert await claims_left(runtime) == 0
