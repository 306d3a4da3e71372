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

from tests.api.test_oauth_connect import configure_oauth, connected, oauth_settings, sandbox
from tests.builders import make_api_key, make_organization
from ticketbridge.config import Settings
from ticketbridge.connectors.errors import VendorRetriable
from ticketbridge.connectors.oauth import OAuthClientRejected
from ticketbridge.enums import HealthName
from ticketbridge.sandboxes.jira import DEMO_OAUTH_CLIENT_ID
from ticketbridge.services.tokens import JiraOAuthConfig, StoredTokenSource, TokenLocks
from ticketbridge.state import Runtime
from ticketbridge.store import connections as connections_store
from ticketbridge.store import oauth as oauth_store
from ticketbridge.store.base import read_session, utcnow

TICKET = {"name": "Finding", "project_vendor_id": "DEMO", "type_vendor_id": "10002"}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return oauth_settings(database_url, tmp_path)


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
    base = JiraOAuthConfig.from_settings(runtime.settings)
    assert base is not None
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
    wrong_app = replace(JiraOAuthConfig.from_settings(runtime.settings).app, client_secret="wrong")  # type: ignore[union-attr]
    source = await source_for(runtime, connection_id, httpx.ASGITransport(app=jira_sandbox), app=wrong_app)

    with pytest.raises(OAuthClientRejected) as raised:
        await source.refresh(old["access_token"])

    assert "operator" in raised.value.message and "_CLIENT_SECRET" in raised.value.message
    after, kept = await stored(runtime, connection_id)
    assert kept == old and after.status == oauth_store.ACTIVE
