"""Idempotency-Key on POSTs under /v1: replays, refusals, scoping, failures, expiry, documentation."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from tests.api.test_bulk import tickets
from tests.api.test_tickets import BUG, sandbox
from tests.builders import ADMIN, Tenant, make_connection, make_tenant
from tests.jobs.processes import wait_for
from ticketbridge.jobs.worker import Worker
from ticketbridge.services import idempotency
from ticketbridge.services.idempotency import KeyScope, StoredResponse
from ticketbridge.services.job_handlers import ticket_job_handlers
from ticketbridge.state import Runtime
from ticketbridge.store import idempotency as idempotency_store
from ticketbridge.store.base import utcnow

TICKET = {"name": "SQL injection in /login", "project_vendor_id": "DEMO", "type_vendor_id": BUG}
SWEPT_KEYS = ("order-42", "second")
#: Headers each answer makes afresh: its own request id, and the caller's rate-limit budget.
PER_REQUEST = {"x-request-id", "x-ratelimit-remaining", "x-ratelimit-reset", "ratelimit"}


def keyed(tenant: Tenant, key: str = "order-42") -> dict[str, str]:
    return {**tenant.headers, "Idempotency-Key": key}


async def create(client: httpx.AsyncClient, tenant: Tenant, key: str = "order-42", **fields: Any) -> httpx.Response:
    return await client.post("/v1/itsm/tickets", json={**TICKET, **fields}, headers=keyed(tenant, key))


def raw(tenant: Tenant) -> list[tuple[bytes, bytes]]:
    return [(name.encode(), value.encode()) for name, value in tenant.headers.items()]


def stored_headers(response: httpx.Response) -> list[tuple[bytes, bytes]]:
    """The answer's raw headers, less the ones each answer makes afresh and the replay mark."""
    skip = {name.encode() for name in PER_REQUEST} | {b"idempotent-replayed"}
    return [(name, value) for name, value in response.headers.raw if name.lower() not in skip]


def assert_replay_of(first: httpx.Response, again: httpx.Response) -> None:
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert stored_headers(again) == stored_headers(first)


async def test_a_repeat_answers_the_first_answer_byte_for_byte_without_a_vendor_call(
    client: httpx.AsyncClient, jira_sandbox: FastAPI
) -> None:
    tenant = await make_tenant(client)
    first = await create(client, tenant)
    assert first.status_code == 200, first.text
    assert first.headers["etag"]
    calls = await sandbox(jira_sandbox, "GET", "/calls")
    assert calls["createIssues"] == 1

    again = await create(client, tenant)
    assert_replay_of(first, again)
    assert await sandbox(jira_sandbox, "GET", "/calls") == calls  # not even a lookup
    listed = await client.get("/v1/itsm/tickets", headers=tenant.headers)
    assert [item["id"] for item in listed.json()["items"]] == [first.json()["id"]]


async def test_an_async_bulk_repeated_with_its_key_is_one_job(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(client)
    body = {"tickets": tickets(3)}
    first = await client.post("/v1/itsm/tickets/bulk", json=body, headers=keyed(tenant))
    again = await client.post("/v1/itsm/tickets/bulk", json=body, headers=keyed(tenant))
    assert first.status_code == 202, first.text
    assert_replay_of(first, again)
    jobs = await client.get("/v1/jobs", headers=tenant.headers)
    assert [job["id"] for job in jobs.json()["items"]] == [first.json()["job_id"]]


async def test_the_same_key_with_another_request_is_refused(client: httpx.AsyncClient, jira_sandbox: FastAPI) -> None:
    tenant = await make_tenant(client)
    assert (await create(client, tenant)).status_code == 200
    calls = await sandbox(jira_sandbox, "GET", "/calls")
    other_body = await create(client, tenant, name="Another finding")
    other_path = await client.post("/v1/itsm/tickets/bulk/sync", json={"tickets": [TICKET]}, headers=keyed(tenant))
    for refused in (other_body, other_path):
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
        assert "idempotent-replayed" not in refused.headers
    assert await sandbox(jira_sandbox, "GET", "/calls") == calls


async def test_a_repeat_while_the_first_runs_answers_409_then_the_replay(
    client: httpx.AsyncClient, jira_sandbox: FastAPI
) -> None:
    tenant = await make_tenant(client)
    await sandbox(jira_sandbox, "PUT", "/faults", json={"latency_ms": 500})

    async def repeat_soon() -> httpx.Response:
        await asyncio.sleep(0.2)
        return await create(client, tenant)

    first, during = await asyncio.gather(create(client, tenant), repeat_soon())
    assert first.status_code == 200, first.text
    assert during.status_code == 409, during.text
    assert during.json()["code"] == "IDEMPOTENCY_IN_PROGRESS"
    assert during.headers["retry-after"] == "1"
    assert_replay_of(first, await create(client, tenant))
    assert (await sandbox(jira_sandbox, "GET", "/calls"))["createIssues"] == 1


async def test_a_5xx_is_not_kept_so_the_retry_runs(client: httpx.AsyncClient, jira_sandbox: FastAPI) -> None:
    tenant = await make_tenant(client)
    await sandbox(jira_sandbox, "PUT", "/faults", json={"error_rate": 1.0, "error_statuses": [503]})
    failed = await create(client, tenant)
    assert failed.status_code == 503, failed.text
    await sandbox(jira_sandbox, "PUT", "/faults", json={})
    retried = await create(client, tenant)
    assert retried.status_code == 200, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert_replay_of(retried, await create(client, tenant))


async def test_an_answer_asking_for_a_retry_is_not_kept(client: httpx.AsyncClient, jira_sandbox: FastAPI) -> None:
    tenant = await make_tenant(client)
    await sandbox(jira_sandbox, "PUT", "/faults", json={"rate_limit_rate": 1.0, "retry_after_seconds": 0})
    throttled = await create(client, tenant)
    assert throttled.status_code == 429, throttled.text
    assert "retry-after" in throttled.headers
    await sandbox(jira_sandbox, "PUT", "/faults", json={})
    retried = await create(client, tenant)
    assert retried.status_code == 200 and "idempotent-replayed" not in retried.headers


async def test_a_4xx_is_kept_and_replayed(client: httpx.AsyncClient, jira_sandbox: FastAPI) -> None:
    tenant = await make_tenant(client)
    first = await create(client, tenant, type_vendor_id="99999")  # Jira has no such issue type
    assert 400 <= first.status_code < 500, first.text
    calls = await sandbox(jira_sandbox, "GET", "/calls")
    assert_replay_of(first, await create(client, tenant, type_vendor_id="99999"))
    assert await sandbox(jira_sandbox, "GET", "/calls") == calls


async def test_keys_are_scoped_to_the_organization_and_the_connection(
    client: httpx.AsyncClient, jira_sandbox: FastAPI
) -> None:
    acme = await make_tenant(client, "Acme")
    globex = await make_tenant(client, "Globex")
    second = await make_connection(client, acme.organization_id)
    acme_second = Tenant(acme.organization_id, acme.api_key, str(second["id"]))
    answers = [await create(client, tenant) for tenant in (acme, globex, acme_second)]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert "idempotent-replayed" not in answer.headers
    assert len({answer.json()["vendor_attributes"]["id"] for answer in answers}) == 3
    assert (await sandbox(jira_sandbox, "GET", "/calls"))["createIssues"] == 3
    # Another organization naming acme's connection does not reach acme's keys either.
    intruder = Tenant(globex.organization_id, globex.api_key, acme.connection_id)
    answer = await create(client, intruder)
    assert answer.status_code == 404 and "idempotent-replayed" not in answer.headers


async def test_keys_must_be_visible_ascii_of_at_most_255_characters(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(client)
    body = json.dumps(TICKET).encode()
    for bad in (b"", b"has space", "\u00e9t\u00e9".encode("latin-1"), b"x" * 256):
        answer = await client.post(
            "/v1/itsm/tickets",
            content=body,
            headers=[*raw(tenant), (b"Content-Type", b"application/json"), (b"Idempotency-Key", bad)],
        )
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    twice = [*raw(tenant), (b"Idempotency-Key", b"a"), (b"Idempotency-Key", b"b")]
    answer = await client.post("/v1/itsm/tickets", content=body, headers=twice)
    assert answer.status_code == 422
    longest = await create(client, tenant, key="~" * 255)
    assert longest.status_code == 200, longest.text


async def test_unauthenticated_requests_pass_through_to_their_401(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(client)
    anonymous = await client.post("/v1/itsm/tickets", json=TICKET, headers={"Idempotency-Key": "order-42"})
    assert anonymous.status_code == 401
    first = await create(client, tenant)
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers


async def test_admin_posts_share_the_admin_scope_under_the_admin_token(client: httpx.AsyncClient) -> None:
    headers = {**ADMIN, "Idempotency-Key": "provision-acme"}
    first = await client.post("/v1/admin/organizations", json={"name": "Acme"}, headers=headers)
    assert first.status_code == 201, first.text
    assert_replay_of(first, await client.post("/v1/admin/organizations", json={"name": "Acme"}, headers=headers))
    listed = await client.get("/v1/admin/organizations", headers=ADMIN)
    assert [org["id"] for org in listed.json()["items"]] == [first.json()["id"]]
    wrong = {"Authorization": "Bearer nope", "Idempotency-Key": "provision-acme"}
    refused = await client.post("/v1/admin/organizations", json={"name": "Acme"}, headers=wrong)
    assert refused.status_code == 401 and "idempotent-replayed" not in refused.headers


async def test_a_key_left_by_a_dead_process_runs_again_once_its_lock_ran_out(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_tenant(client)
    body = json.dumps(TICKET).encode()
    scope = KeyScope.for_connection(uuid.UUID(tenant.organization_id), uuid.UUID(tenant.connection_id))
    fingerprint = idempotency.request_hash("POST", "/v1/itsm/tickets", b"", body)
    headers = {**keyed(tenant), "Content-Type": "application/json"}
    # Two requests that started and never finished: one just now, one whose lock has run out.
    live_since = utcnow()
    assert not isinstance(
        await idempotency.begin(runtime.sessionmaker, runtime.cipher, scope, "live", fingerprint), StoredResponse
    )
    dead_since = live_since - timedelta(seconds=idempotency.LOCK_SECONDS + 1)
    await idempotency.begin(runtime.sessionmaker, runtime.cipher, scope, "order-42", fingerprint, now=dead_since)

    live = await client.post("/v1/itsm/tickets", content=body, headers={**headers, "Idempotency-Key": "live"})
    assert live.status_code == 409 and live.json()["code"] == "IDEMPOTENCY_IN_PROGRESS"
    taken_over = await client.post("/v1/itsm/tickets", content=body, headers=headers)
    assert taken_over.status_code == 200, taken_over.text
    assert (await sandbox(jira_sandbox, "GET", "/calls"))["createIssues"] == 1
    assert_replay_of(taken_over, await client.post("/v1/itsm/tickets", content=body, headers=headers))


async def test_keys_expire_after_24_hours_and_the_worker_sweeps_them(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(client)
    assert (await create(client, tenant)).status_code == 200
    scope = KeyScope.for_connection(uuid.UUID(tenant.organization_id), uuid.UUID(tenant.connection_id))
    other = idempotency.request_hash("POST", "/v1/itsm/tickets", b"", b"{}")
    tomorrow = utcnow() + idempotency.KEY_TTL + timedelta(seconds=1)
    # Past its expiry a key counts as free, swept or not (this claim is rolled into a fresh row).
    assert not isinstance(
        await idempotency.begin(runtime.sessionmaker, runtime.cipher, scope, "order-42", other, now=tomorrow),
        StoredResponse,
    )
    assert (await create(client, tenant, key="second")).status_code == 200

    worker = Worker(
        sessionmaker=runtime.sessionmaker,
        settings=runtime.settings,
        handlers=ticket_job_handlers(runtime),
        wakeup=runtime.job_wakeup,
        metrics=runtime.job_metrics,
        concurrency=1,
        clock=lambda: tomorrow + idempotency.KEY_TTL,
    )

    async def swept() -> bool:
        async with runtime.sessionmaker.begin() as db:
            return all([await idempotency_store.lock_record(db, scope.name, key) is None for key in SWEPT_KEYS])

    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await wait_for(swept, "the worker's first sweep")
    stop.set()
    await running
    for key in SWEPT_KEYS:
        fresh = await create(client, tenant, key=key, name="Another finding")
        assert fresh.status_code == 200 and "idempotent-replayed" not in fresh.headers


async def test_a_body_over_the_limit_passes_through_to_the_413(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(client)
    huge = {**TICKET, "description": "x" * (2 * 1024 * 1024)}
    answer = await client.post("/v1/itsm/tickets", json=huge, headers=keyed(tenant))
    assert answer.status_code == 413
    assert (await create(client, tenant)).status_code == 200  # the key was never taken


async def test_every_post_under_v1_documents_the_header_and_its_answers(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    posts = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            names = {parameter["name"] for parameter in operation.get("parameters", [])}
            if method != "post" or not path.startswith("/v1/"):
                assert "Idempotency-Key" not in names, f"{method} {path}"
                continue
            posts += 1
            assert "Idempotency-Key" in names, path
            for status in ("409", "422"):
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                assert schema["$ref"].endswith("/ErrorResponse"), (path, status)
    assert posts >= 8
