"""Refreshing the tokens of OAuth 2.0 (3LO) Jira connections: one refresh for many concurrent callers,
rotation committed first, and failures classified by what happens next (reconnect, operator, retry)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from tests.api.test_oauth_connect import configure_oauth, connected, oauth_settings, sandbox
from tests.builders import make_api_key, make_organization
from ticketbridge.config import Settings
from ticketbridge.connectors.errors import VendorRetriable
from ticketbridge.connectors.oauth import OAuthClientRejected
from ticketbridge.enums import HealthName, Vendor
from ticketbridge.jobs.worker import Worker
from ticketbridge.sandboxes.jira import DEMO_OAUTH_CLIENT_ID
from ticketbridge.services.job_handlers import ticket_job_handlers
from ticketbridge.services.tokens import OAuthConfig, StoredTokenSource, TokenLocks
from ticketbridge.state import Runtime
from ticketbridge.store import connections as connections_store
from ticketbridge.store import oauth as oauth_store
from ticketbridge.store.base import read_session, utcnow

TICKET = {"name": "Finding", "project_vendor_id": "DEMO", "type_vendor_id": "10002"}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # The sandbox's search is read-after-write here (conftest), so a marker search is trusted at once.
    return oauth_settings(database_url, tmp_path, vendor_search_settle_seconds=0)


async def tenant(client: httpx.AsyncClient, jira: FastAPI) -> tuple[dict[str, str], str]:
    org_id = await make_organization(client)
    body = await connected(client, jira, org_id)
    api_key = await make_api_key(client, org_id)
    connection_id = body["connection"]["id"]
    return {"X-API-KEY": api_key, "X-CONNECTION-ID": connection_id}, connection_id


async def stored(runtime: Runtime, connection_id: str) -> tuple[oauth_store.StoredTokens, dict[str, Any]]:
    async with read_session(runtime.sessionmaker) as db:
        tokens = await oauth_store.get_tokens_or_none(db, uuid.UUID(connection_id))
    assert tokens is not None
    return tokens, runtime.cipher.decrypt(tokens.tokens_encrypted)


async def test_concurrent_writes_after_expiry_make_exactly_one_refresh(
    client: httpx.AsyncClient, jira_sandbox: FastAPI, runtime: Runtime
) -> None:
    headers, connection_id = await tenant(client, jira_sandbox)
    before, old = await stored(runtime, connection_id)
    await sandbox(jira_sandbox, "POST", "/oauth/expire-access-tokens")
    await sandbox(jira_sandbox, "DELETE", "/calls")

    answers = await asyncio.gather(
        *(client.post("/v1/itsm/tickets", json=TICKET | {"name": f"Finding {n}"}, headers=headers) for n in range(20))
    )

    assert [answer.status_code for answer in answers] == [200] * 20, [a.text for a in answers if a.status_code != 200]
    calls = await sandbox(jira_sandbox, "GET", "/calls")
    assert calls.get("oauth.token.refresh_token") == 1, calls
    assert calls.get("oauth.token.invalid", 0) == 0
    after, new = await stored(runtime, connection_id)
    # Rotated and committed: the new refresh token is the stored one.
    assert new["refresh_token"] != old["refresh_token"] and new["access_token"] != old["access_token"]
    assert after.access_token_expires_at >= before.access_token_expires_at and after.refreshed_at is not None
    health = await client.get("/v1/connection", headers=headers)
    assert health.json()["name"] == "HEALTHY"


async def test_a_token_near_expiry_is_refreshed_before_use(
    client: httpx.AsyncClient, jira_sandbox: FastAPI, runtime: Runtime
) -> None:
    headers, connection_id = await tenant(client, jira_sandbox)
    # A minute left: inside the 5-minute margin.
    tokens, _ = await stored(runtime, connection_id)
    async with runtime.sessionmaker.begin() as db:
        await oauth_store.record_refresh(
            db,
            uuid.UUID(connection_id),
            tokens_encrypted=tokens.tokens_encrypted,
            access_token_expires_at=utcnow() + timedelta(seconds=60),
            now=utcnow(),
        )
    await sandbox(jira_sandbox, "DELETE", "/calls")

    answer = await client.post("/v1/itsm/tickets", json=TICKET, headers=headers)

    assert answer.status_code == 200, answer.text
    calls = await sandbox(jira_sandbox, "GET", "/calls")
    assert calls.get("oauth.token.refresh_token") == 1


async def test_an_answer_without_a_refresh_token_keeps_the_old_one(
    client: httpx.AsyncClient, jira_sandbox: FastAPI, runtime: Runtime
) -> None:
    headers, connection_id = await tenant(client, jira_sandbox)
    _, old = await stored(runtime, connection_id)
    await configure_oauth(jira_sandbox, omit_refresh_token=True)

    for _ in range(2):
        await sandbox(jira_sandbox, "POST", "/oauth/expire-access-tokens")
        answer = await client.post("/v1/itsm/tickets", json=TICKET, headers=headers)
        assert answer.status_code == 200, answer.text

    _, new = await stored(runtime, connection_id)
    assert new["refresh_token"] == old["refresh_token"] and new["access_token"] != old["access_token"]


async def test_a_revoked_grant_needs_the_customer_to_reconnect_and_calls_jira_no_more(
    client: httpx.AsyncClient, jira_sandbox: FastAPI, runtime: Runtime
) -> None:
    headers, connection_id = await tenant(client, jira_sandbox)
    await sandbox(jira_sandbox, "POST", "/oauth/revoke", json={"client_id": DEMO_OAUTH_CLIENT_ID})

    first = await client.post("/v1/itsm/tickets", json=TICKET, headers=headers)

    assert first.status_code == 409, first.text
    assert "needs to be re-authorized" in first.json()["message"]
    health = (await client.get("/v1/connection", headers=headers)).json()
    assert health["name"] == "UNAUTHORIZED" and health["resolution_owner"] == "CUSTOMER"
    await sandbox(jira_sandbox, "DELETE", "/calls")
    again = await client.post("/v1/itsm/tickets", json=TICKET, headers=headers)
    assert again.status_code == 409, again.text
    assert "needs to be re-authorized" in again.json()["message"]
    calls = await sandbox(jira_sandbox, "GET", "/calls")
    assert not any(calls.values()), calls  # no vendor call at all, the token endpoint's included
    tokens, _ = await stored(runtime, connection_id)
    assert tokens.status == oauth_store.REAUTHORIZE


async def test_reconnecting_the_site_revives_the_same_connection(
    client: httpx.AsyncClient, jira_sandbox: FastAPI, runtime: Runtime
) -> None:
    headers, connection_id = await tenant(client, jira_sandbox)
    await sandbox(jira_sandbox, "POST", "/oauth/revoke", json={"client_id": DEMO_OAUTH_CLIENT_ID})
    assert (await client.post("/v1/itsm/tickets", json=TICKET, headers=headers)).status_code == 409
    async with read_session(runtime.sessionmaker) as db:
        connection = await connections_store.get_connection(db, uuid.UUID(connection_id))

    again = await connected(client, jira_sandbox, str(connection.organization_id))

    assert again["connection"]["id"] == connection_id
    assert (await client.post("/v1/itsm/tickets", json=TICKET, headers=headers)).status_code == 200


def jira_oauth(runtime: Runtime) -> OAuthConfig:
    return runtime.vendor_access.oauth_apps[Vendor.JIRA]


def token_endpoint_answering(jira: FastAPI, status: int, body: dict[str, Any]) -> httpx.AsyncBaseTransport:
    """The sandbox, except that its token endpoint answers `status` (an outage, a refused client)."""
    inner = httpx.ASGITransport(app=jira)

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(status, json=body)
        return await inner.handle_async_request(request)

    class Transport(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return await handle(request)

    return Transport()


async def source_for(
    runtime: Runtime, connection_id: str, transport: httpx.AsyncBaseTransport, **config: Any
) -> StoredTokenSource:
    async with read_session(runtime.sessionmaker) as db:
        connection = await connections_store.get_connection(db, uuid.UUID(connection_id))
    base = jira_oauth(runtime)
    return StoredTokenSource(
        sessionmaker=runtime.sessionmaker,
        cipher=runtime.cipher,
        connection=connection,
        config=replace(base, **config),
        transport=transport,
        locks=TokenLocks(),
    )


async def test_an_outage_of_the_token_endpoint_is_transient_and_keeps_the_tokens(
    client: httpx.AsyncClient, jira_sandbox: FastAPI, runtime: Runtime
) -> None:
    _, connection_id = await tenant(client, jira_sandbox)
    _, old = await stored(runtime, connection_id)
    source = await source_for(runtime, connection_id, token_endpoint_answering(jira_sandbox, 503, {"error": "x"}))

    with pytest.raises(VendorRetriable):
        await source.refresh(old["access_token"])

    after, kept = await stored(runtime, connection_id)
    assert kept == old and after.status == oauth_store.ACTIVE
    async with read_session(runtime.sessionmaker) as db:
        connection = await connections_store.get_connection(db, uuid.UUID(connection_id))
    assert connection.health_name is HealthName.HEALTHY


async def test_a_refused_client_secret_is_the_operators_error_not_a_reconnect(
    client: httpx.AsyncClient, jira_sandbox: FastAPI, runtime: Runtime
) -> None:
    _, connection_id = await tenant(client, jira_sandbox)
    _, old = await stored(runtime, connection_id)
    wrong_app = replace(jira_oauth(runtime).app, client_secret="wrong")
    source = await source_for(runtime, connection_id, httpx.ASGITransport(app=jira_sandbox), app=wrong_app)

    with pytest.raises(OAuthClientRejected) as raised:
        await source.refresh(old["access_token"])

    assert "operator" in raised.value.message and "_CLIENT_SECRET" in raised.value.message
    after, kept = await stored(runtime, connection_id)
    assert kept == old and after.status == oauth_store.ACTIVE


class RevokingBeforeSecondBulkCreate(httpx.AsyncBaseTransport):
    """The vendor transport, except that the customer uninstalls the app (POST
    /__sandbox__/oauth/revoke) just before the job's second bulk create reaches Jira: mid job."""

    def __init__(self, inner: httpx.AsyncBaseTransport, jira: FastAPI) -> None:
        self._inner = inner
        self._jira = jira
        self._creates = 0
        self.revoked = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/rest/api/3/issue/bulk"):
            self._creates += 1
            if self._creates == 2:
                self.revoked = True
                await sandbox(self._jira, "POST", "/oauth/revoke", json={"client_id": DEMO_OAUTH_CLIENT_ID})
        return await self._inner.handle_async_request(request)


async def finished_job(
    client: httpx.AsyncClient, runtime: Runtime, headers: dict[str, str], job_id: str
) -> dict[str, Any]:
    """Runs the worker until the job ends; items whose create went unconfirmed wait a second
    (`IN_PROGRESS_RETRY_SECONDS`) before their marker search."""
    for _ in range(20):
        await Worker.for_runtime(runtime, handlers=ticket_job_handlers(runtime), concurrency=2).run_until_idle()
        job: dict[str, Any] = (await client.get(f"/v1/jobs/{job_id}", headers=headers)).json()
        if job["status"] in ("SUCCESS", "FAILED"):
            return job
        await asyncio.sleep(0.25)
    pytest.fail(f"job {job_id} did not end: {job}")


async def test_a_grant_revoked_mid_bulk_job_fails_every_unfinished_item_with_the_reason(
    client: httpx.AsyncClient, jira_sandbox: FastAPI, runtime: Runtime
) -> None:
    headers, _ = await tenant(client, jira_sandbox)
    before = (await sandbox(jira_sandbox, "GET", "/issues/count?project=DEMO"))["count"]
    inner = runtime.connectors.transport
    assert inner is not None
    revoking = RevokingBeforeSecondBulkCreate(inner, jira_sandbox)
    # Ten issues a create call (Jira takes 50), so that one job of 30 makes three calls.
    spec = runtime.connectors.registry[Vendor.JIRA]
    small = replace(spec, capabilities=replace(spec.capabilities, bulk_create_size=10))
    runtime.connectors = replace(
        runtime.connectors, transport=revoking, registry=runtime.connectors.registry | {Vendor.JIRA: small}
    )
    tickets = [TICKET | {"name": f"Bulk {n}"} for n in range(30)]
    accepted = await client.post("/v1/itsm/tickets/bulk", json={"tickets": tickets}, headers=headers)
    assert accepted.status_code == 202, accepted.text

    job = await finished_job(client, runtime, headers, accepted.json()["job_id"])

    assert revoking.revoked
    assert job["status"] == "FAILED", job
    written = [result for result in job["results"] if result["success"]]
    unfinished = [result for result in job["results"] if not result["success"]]
    assert len(written) == 10 and len(unfinished) == 20, job["progress"]
    for result in unfinished:
        assert result["code"] == "CONNECTION_NEEDS_REAUTHORIZATION", result
        assert "needs to be re-authorized" in result["error"] and "uninstalled" in result["error"]
    # Exactly the first call's tickets reached Jira, each once.
    after = (await sandbox(jira_sandbox, "GET", "/issues/count?project=DEMO"))["count"]
    assert after - before == 10
    assert len({result["vendor_ticket_id"] for result in written}) == 10
    # The job is over: running the worker again writes nothing more.
    await Worker.for_runtime(runtime, handlers=ticket_job_handlers(runtime), concurrency=2).run_until_idle()
    assert (await sandbox(jira_sandbox, "GET", "/issues/count?project=DEMO"))["count"] == after


class TokenEndpointUnreachable(httpx.AsyncBaseTransport):
    """The vendor transport, except that the token endpoint cannot be reached (a network error)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            raise httpx.ConnectError("connection refused", request=request)
        return await self._inner.handle_async_request(request)


@pytest.mark.parametrize("outage", ["network", "503"])
async def test_a_token_endpoint_outage_on_a_data_request_never_demands_a_reconnect(
    client: httpx.AsyncClient, jira_sandbox: FastAPI, runtime: Runtime, outage: str
) -> None:
    headers, connection_id = await tenant(client, jira_sandbox)
    _, old = await stored(runtime, connection_id)
    inner = runtime.connectors.transport
    assert inner is not None
    broken = (
        TokenEndpointUnreachable(inner)
        if outage == "network"
        else token_endpoint_answering(jira_sandbox, 503, {"error": "temporarily_unavailable"})
    )
    runtime.connectors = replace(runtime.connectors, transport=broken)
    await sandbox(jira_sandbox, "POST", "/oauth/expire-access-tokens")

    answer = await client.post("/v1/itsm/tickets", json=TICKET, headers=headers)

    assert answer.status_code == 503, answer.text
    health = (await client.get("/v1/connection", headers=headers)).json()
    assert health["name"] != "UNAUTHORIZED" and health["resolution_owner"] != "CUSTOMER", health
    after, kept = await stored(runtime, connection_id)
    assert kept == old and after.status == oauth_store.ACTIVE
    # The outage over, the same tokens refresh.
    runtime.connectors = replace(runtime.connectors, transport=inner)
    again = await client.post("/v1/itsm/tickets", json=TICKET, headers=headers)
    assert again.status_code == 200, again.text


async def test_a_gateway_401_rereads_the_stored_token_before_refreshing(
    client: httpx.AsyncClient, jira_sandbox: FastAPI, runtime: Runtime
) -> None:
    _, connection_id = await tenant(client, jira_sandbox)
    transport = httpx.ASGITransport(app=jira_sandbox)
    slow = await source_for(runtime, connection_id, transport)
    failed = await slow.current()  # read before another process refreshed
    other = await source_for(runtime, connection_id, transport)
    fresh = await other.refresh(failed)
    assert fresh != failed
    await sandbox(jira_sandbox, "DELETE", "/calls")

    used = await slow.refresh(failed)  # the gateway refused `failed`: the stored token is another

    assert used == fresh
    calls = await sandbox(jira_sandbox, "GET", "/calls")
    assert not any("token" in name for name in calls), calls


async def test_a_wrong_client_secret_on_a_data_request_is_the_operators_to_fix(
    client: httpx.AsyncClient, jira_sandbox: FastAPI, runtime: Runtime
) -> None:
    headers, connection_id = await tenant(client, jira_sandbox)
    _, old = await stored(runtime, connection_id)
    # The operator rotates the app's secret at Atlassian but deploys a wrong one.
    runtime.settings = runtime.settings.model_copy(update={"jira_oauth_client_secret": SecretStr("not-the-secret")})
    await sandbox(jira_sandbox, "POST", "/oauth/expire-access-tokens")

    answer = await client.post("/v1/itsm/tickets", json=TICKET, headers=headers)

    assert answer.status_code == 503, answer.text
    assert "operator" in answer.json()["message"] and "not-the-secret" not in answer.text
    health = (await client.get("/v1/connection", headers=headers)).json()
    assert health["name"] == "INTERNAL_ERROR" and health["resolution_owner"] == "TICKETBRIDGE", health
    after, kept = await stored(runtime, connection_id)
    assert kept == old and after.status == oauth_store.ACTIVE
