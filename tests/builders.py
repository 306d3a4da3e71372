"""Small builders for test data, through the admin API as a user would provision (and one store-level
helper for what no API request can do: credentials the vendor stops accepting after verification).

`make_tenant` connects Jira with an API token (which never expires); `make_oauth_tenant` connects it
by consent (OAuth 2.0 3LO, through the Jira sandbox's authorization server) and lets the access
token's hour pass, so the test's first Jira call already needs a refresh, as on a connection in use.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from fastapi import FastAPI

from tests.conftest import ADMIN_TOKEN
from tests.support.sandboxes import control
from tests.vendors import JIRA_URL
from ticketbridge.sandboxes import jira
from ticketbridge.state import Runtime
from ticketbridge.store import connections as connections_store

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@dataclass(frozen=True)
class Tenant:
    organization_id: str
    api_key: str
    connection_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-KEY": self.api_key, "X-CONNECTION-ID": self.connection_id}


async def make_organization(client: httpx.AsyncClient, name: str = "Acme") -> str:
    response = await client.post("/v1/admin/organizations", json={"name": name}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def make_api_key(client: httpx.AsyncClient, organization_id: str) -> str:
    response = await client.post(
        f"/v1/admin/organizations/{organization_id}/api-keys", json={"name": "test"}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    return str(response.json()["api_key"])


async def make_connection(client: httpx.AsyncClient, organization_id: str, **overrides: Any) -> dict[str, Any]:
    """A connection created through the admin API and verified there: it must end ACTIVE."""
    body: dict[str, Any] = {
        "organization_id": organization_id,
        "vendor": "JIRA",
        "base_url": JIRA_URL,
        "credentials": {"email": jira.DEMO_EMAIL, "api_token": jira.DEMO_API_TOKEN},
        **overrides,
    }
    response = await client.post("/v1/admin/connections", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    assert result["state"] == "ACTIVE", result["health"]
    return result


async def revoke_credentials(runtime: Runtime, connection_id: str, credentials: dict[str, Any]) -> None:
    """Stores `credentials` for a verified, ACTIVE connection without a check, as if the vendor had
    revoked the verified ones since: an admin PATCH would verify them and leave the connection PENDING."""
    async with runtime.sessionmaker.begin() as db:
        await connections_store.update_connection(
            db, uuid.UUID(connection_id), credentials_encrypted=runtime.cipher.encrypt(credentials)
        )


async def make_tenant(client: httpx.AsyncClient, name: str = "Acme", **connection: Any) -> Tenant:
    organization_id = await make_organization(client, name)
    api_key = await make_api_key(client, organization_id)
    created = await make_connection(client, organization_id, **connection)
    return Tenant(organization_id=organization_id, api_key=api_key, connection_id=str(created["id"]))


async def let_time_pass(jira_sandbox: FastAPI, runtime: Runtime, seconds: float) -> None:
    """`seconds` pass for OAuth on both sides: the Jira sandbox's authorization server (its movable
    clock) and ticketbridge's token expiries (`Runtime.clock`) move forward together."""
    moved = await control(jira_sandbox, "POST", "/oauth/clock", json={"advance_seconds": seconds})
    offset = timedelta(seconds=moved["offset_seconds"])
    runtime.clock = lambda: datetime.now(UTC) + offset


async def make_oauth_tenant(
    client: httpx.AsyncClient, jira_sandbox: FastAPI, runtime: Runtime, name: str = "Acme"
) -> Tenant:
    """A tenant whose Jira connection was made by consent (3LO) an access token's lifetime ago: its
    stored access token has expired, so its first Jira call refreshes it (and rotates the refresh
    token). The deployment must have the Jira OAuth app configured (`tests.conftest.JIRA_OAUTH_APP`)."""
    organization_id = await make_organization(client, name)
    start = await client.post(
        f"/v1/admin/organizations/{organization_id}/connections/jira/authorize", json={}, headers=ADMIN
    )
    assert start.status_code == 200, start.text
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=jira_sandbox)) as browser:
        consent = await browser.get(start.json()["authorize_url"])  # the sandbox consents at once
    assert consent.status_code == 302, consent.text
    callback = await client.get(
        "/v1/oauth/jira/callback", params=dict(parse_qsl(urlsplit(consent.headers["location"]).query))
    )
    assert callback.status_code == 201, callback.text
    connection = callback.json()["connection"]
    assert connection["state"] == "ACTIVE", connection["health"]
    oauth = await control(jira_sandbox, "GET", "/oauth")
    await let_time_pass(jira_sandbox, runtime, oauth["access_token_seconds"])
    api_key = await make_api_key(client, organization_id)
    return Tenant(organization_id=organization_id, api_key=api_key, connection_id=str(connection["id"]))
