"""Connecting Jira Cloud sites with OAuth 2.0 (3LO) through the HTTP endpoints, against the Jira
sandbox's authorization server in process: the sandbox's /authorize redirect is followed with httpx to
get the code, then our callback is called as the customer's browser would."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI

from tests.builders import ADMIN, make_api_key, make_organization
from tests.conftest import make_settings
from tests.vendors import JIRA_URL
from ticketbridge.config import Settings
from ticketbridge.crypto import CredentialCipher
from ticketbridge.sandboxes.jira import (
    DEMO_CLOUD_ID,
    DEMO_OAUTH_CLIENT_ID,
    DEMO_OAUTH_CLIENT_SECRET,
    DEMO_OAUTH_REDIRECT_URI,
)
from ticketbridge.services import oauth as oauth_service
from ticketbridge.services.connections import Actor
from ticketbridge.services.credential_rotation import rotate_credentials
from ticketbridge.state import Runtime
from ticketbridge.store.tables import OAuthTokenRow

SECOND_CLOUD_ID = "7c0e3b52-2f4d-4d61-9b1e-5a8c2d9e0f11"
SECOND_URL = "https://second.atlassian.net"


def oauth_settings(database_url: str, data_dir: Path, **overrides: object) -> Settings:
    return make_settings(
        database_url,
        data_dir,
        jira_oauth_client_id=DEMO_OAUTH_CLIENT_ID,
        jira_oauth_client_secret=DEMO_OAUTH_CLIENT_SECRET,
        jira_oauth_redirect_uri=DEMO_OAUTH_REDIRECT_URI,
        jira_oauth_auth_base_url=JIRA_URL,
        jira_oauth_api_base_url=JIRA_URL,
        **overrides,
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return oauth_settings(database_url, tmp_path)


async def sandbox(jira: FastAPI, method: str, path: str, **kwargs: Any) -> Any:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=jira), base_url=JIRA_URL) as http:
        response = await http.request(method, f"/__sandbox__{path}", **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None


async def configure_oauth(jira: FastAPI, **changes: Any) -> None:
    current = await sandbox(jira, "GET", "/oauth")
    await sandbox(jira, "PUT", "/oauth", json=current | changes)


async def authorize(client: httpx.AsyncClient, org_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await client.post(
        f"/v1/admin/organizations/{org_id}/connections/jira/authorize", json=body, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def consent(jira: FastAPI, authorize_url: str) -> dict[str, str]:
    """The customer at Atlassian's consent screen: the redirect's query (code or error, and state)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=jira)) as browser:
        response = await browser.get(authorize_url)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(DEMO_OAUTH_REDIRECT_URI + "?")
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


async def callback(client: httpx.AsyncClient, query: dict[str, str]) -> httpx.Response:
    return await client.get("/v1/oauth/jira/callback", params=query)


async def connect(
    client: httpx.AsyncClient, jira: FastAPI, org_id: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    start = await authorize(client, org_id, body)
    return await callback(client, await consent(jira, start["authorize_url"]))


async def connected(client: httpx.AsyncClient, jira: FastAPI, org_id: str) -> dict[str, Any]:
    response = await connect(client, jira, org_id)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["connection"]["state"] == "ACTIVE", body
    return body


def with_scope(authorize_url: str, scope: str) -> str:
    parts = urlsplit(authorize_url)
    query = dict(parse_qsl(parts.query)) | {"scope": scope}
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_connect_flow_end_to_end_creates_a_verified_connection_that_writes_through_the_gateway(
    client: httpx.AsyncClient, jira_sandbox: FastAPI
) -> None:
    org_id = await make_organization(client)
    start = await authorize(client, org_id)
    url = urlsplit(start["authorize_url"])
    params = dict(parse_qsl(url.query))
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{JIRA_URL}/authorize"
    assert params["scope"].split() == ["read:jira-work", "write:jira-work", "read:jira-user", "offline_access"]
    assert params["state"] == start["state"] and params["prompt"] == "consent"

    response = await callback(client, await consent(jira_sandbox, start["authorize_url"]))

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["cloud_id"] == DEMO_CLOUD_ID and body["site_url"] == JIRA_URL
    assert {"read:jira-work", "write:jira-work", "read:jira-user", "offline_access"} <= set(body["scopes"])
    assert body["connection"]["state"] == "ACTIVE" and body["connection"]["base_url"] == JIRA_URL
    api_key = await make_api_key(client, org_id)
    headers = {"X-API-KEY": api_key, "X-CONNECTION-ID": body["connection"]["id"]}
    await sandbox(jira_sandbox, "DELETE", "/calls")
    created = await client.post(
        "/v1/itsm/tickets",
        json={"name": "via 3LO", "project_vendor_id": "DEMO", "type_vendor_id": "10002"},
        headers=headers,
    )
    assert created.status_code in (200, 201), created.text
    assert created.json()["url"].startswith(f"{JIRA_URL}/browse/")
    calls = await sandbox(jira_sandbox, "GET", "/calls")
    assert calls.get("createIssues", 0) + calls.get("createIssue", 0) >= 1


async def test_api_token_connections_are_unchanged(client: httpx.AsyncClient) -> None:
    org_id = await make_organization(client)
    body = {
        "organization_id": org_id,
        "vendor": "JIRA",
        "base_url": JIRA_URL,
        "credentials": {"email": "admin@demo.example", "api_token": "demo-api-token"},
    }
    from ticketbridge.sandboxes import jira

    body["credentials"] = {"email": jira.DEMO_EMAIL, "api_token": jira.DEMO_API_TOKEN}
    response = await client.post("/v1/admin/connections", json=body, headers=ADMIN)
    assert response.status_code == 201 and response.json()["state"] == "ACTIVE", response.text


async def test_a_replayed_state_is_refused(client: httpx.AsyncClient, jira_sandbox: FastAPI) -> None:
    org_id = await make_organization(client)
    start = await authorize(client, org_id)
    query = await consent(jira_sandbox, start["authorize_url"])
    assert (await callback(client, query)).status_code == 201

    replayed = await callback(client, query)

    assert replayed.status_code == 400, replayed.text
    assert replayed.json()["code"] == "INVALID_OAUTH_STATE"


async def test_an_expired_or_forged_state_is_refused(
    client: httpx.AsyncClient, jira_sandbox: FastAPI, runtime: Runtime
) -> None:
    org_id = await make_organization(client)
    start = await authorize(client, org_id)
    query = await consent(jira_sandbox, start["authorize_url"])
    expired = oauth_service.ConnectState(
        nonce="n" * 20, organization_id=uuid.UUID(org_id), expires_at=int(time.time()) - 1, vendor="jira"
    )

    late = await callback(client, query | {"state": oauth_service.sign_state(runtime.cipher, expired)})
    forged = await callback(client, query | {"state": start["state"][:-4] + "AAAA"})

    for response in (late, forged):
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "INVALID_OAUTH_STATE"
    assert "expired" in late.json()["message"]
    # The genuine state was not spent by the refused ones.
    assert (await callback(client, query)).status_code == 201


async def test_denied_consent_is_a_clear_400(client: httpx.AsyncClient, jira_sandbox: FastAPI) -> None:
    await configure_oauth(jira_sandbox, consent="deny")
    org_id = await make_organization(client)

    response = await connect(client, jira_sandbox, org_id)

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "OAUTH_ACCESS_DENIED"
    assert "did not grant access" in response.json()["message"]
    listed = await client.get("/v1/admin/connections", params={"organization_id": org_id}, headers=ADMIN)
    assert listed.json()["items"] == []


async def test_missing_scopes_are_a_422_naming_them(client: httpx.AsyncClient, jira_sandbox: FastAPI) -> None:
    org_id = await make_organization(client)
    start = await authorize(client, org_id)
    # An app whose console lacks write:jira-work: Atlassian grants the others only.
    query = await consent(
        jira_sandbox, with_scope(start["authorize_url"], "read:jira-work read:jira-user offline_access")
    )

    response = await callback(client, query)

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "OAUTH_SCOPES_MISSING" and "write:jira-work" in body["message"]
    assert [entry["loc"] for entry in body["detail"]] == [["scope", "write:jira-work"]]


async def test_several_sites_are_never_chosen_silently(client: httpx.AsyncClient, jira_sandbox: FastAPI) -> None:
    await sandbox(
        jira_sandbox, "POST", "/oauth/sites", json={"cloud_id": SECOND_CLOUD_ID, "name": "second", "url": SECOND_URL}
    )
    org_id = await make_organization(client)
    # The customer first grants the app the second site (the only one then: connected at once) ...
    await configure_oauth(jira_sandbox, consent_site=SECOND_CLOUD_ID)
    first = await connected(client, jira_sandbox, org_id)
    assert first["cloud_id"] == SECOND_CLOUD_ID and first["site_url"] == SECOND_URL
    # ... then the demo site: the grant now reaches both, and none was named.
    await configure_oauth(jira_sandbox, consent_site=None)
    start = await authorize(client, org_id)

    response = await callback(client, await consent(jira_sandbox, start["authorize_url"]))

    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "JIRA_SITE_CHOICE_REQUIRED"
    choice = body["detail"][0]
    assert choice["state"] == start["state"]
    assert sorted(site["cloud_id"] for site in choice["sites"]) == sorted([DEMO_CLOUD_ID, SECOND_CLOUD_ID])
    assert {site["url"] for site in choice["sites"]} == {JIRA_URL, SECOND_URL}
    complete = f"/v1/admin/organizations/{org_id}/connections/jira/complete"
    unknown = await client.post(complete, json={"state": start["state"], "cloud_id": "nope"}, headers=ADMIN)
    assert unknown.status_code == 422, unknown.text

    done = await client.post(complete, json={"state": start["state"], "cloud_id": DEMO_CLOUD_ID}, headers=ADMIN)

    assert done.status_code == 201, done.text
    assert done.json()["cloud_id"] == DEMO_CLOUD_ID and done.json()["connection"]["state"] == "ACTIVE"
    again = await client.post(complete, json={"state": start["state"], "cloud_id": DEMO_CLOUD_ID}, headers=ADMIN)
    assert again.status_code == 400, again.text
    other_org = await make_organization(client, "Globex")
    foreign = await client.post(
        f"/v1/admin/organizations/{other_org}/connections/jira/complete",
        json={"state": start["state"], "cloud_id": DEMO_CLOUD_ID},
        headers=ADMIN,
    )
    assert foreign.status_code == 400, foreign.text


async def test_a_site_named_at_authorize_is_the_one_connected(client: httpx.AsyncClient, jira_sandbox: FastAPI) -> None:
    await sandbox(
        jira_sandbox, "POST", "/oauth/sites", json={"cloud_id": SECOND_CLOUD_ID, "name": "second", "url": SECOND_URL}
    )
    org_id = await make_organization(client)
    await configure_oauth(jira_sandbox, consent_site=SECOND_CLOUD_ID)
    await connected(client, jira_sandbox, org_id)
    await configure_oauth(jira_sandbox, consent_site=None)

    response = await connect(client, jira_sandbox, org_id, {"site_url": JIRA_URL + "/"})

    assert response.status_code == 201, response.text
    assert response.json()["cloud_id"] == DEMO_CLOUD_ID


async def test_authorize_needs_the_admin_token_and_a_known_organization(client: httpx.AsyncClient) -> None:
    org_id = await make_organization(client)
    path = f"/v1/admin/organizations/{org_id}/connections/jira/authorize"
    assert (await client.post(path)).status_code == 401
    unknown = await client.post(f"/v1/admin/organizations/{uuid.uuid4()}/connections/jira/authorize", headers=ADMIN)
    assert unknown.status_code == 404
    both = await client.post(path, json={"site_url": JIRA_URL, "cloud_id": DEMO_CLOUD_ID}, headers=ADMIN)
    assert both.status_code == 422


async def test_secrets_rotate_moves_the_3lo_tokens_to_the_new_key(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    org_id = await make_organization(client)
    body = await connected(client, jira_sandbox, org_id)
    assert runtime.settings.secrets_key is not None
    old_key = runtime.settings.secrets_key.get_secret_value().split(",")[0]
    new_key = Fernet.generate_key().decode()

    report = await rotate_credentials(runtime.sessionmaker, CredentialCipher([new_key, old_key]), actor=Actor("test"))

    assert report.failed == () and report.rotated >= 2  # the connection's credentials and its tokens
    async with runtime.sessionmaker() as db:
        row = await db.get(OAuthTokenRow, uuid.UUID(body["connection"]["id"]))
    assert row is not None
    tokens = CredentialCipher([new_key]).decrypt(row.tokens_encrypted)
    assert {"access_token", "refresh_token"} <= set(tokens)


async def test_a_vendor_without_oauth_is_a_404_on_every_connect_path(client: httpx.AsyncClient) -> None:
    org_id = await make_organization(client)
    answers = [
        await client.post(f"/v1/admin/organizations/{org_id}/connections/rezolve/authorize", headers=ADMIN),
        await client.post(
            f"/v1/admin/organizations/{org_id}/connections/nosuchvendor/complete",
            json={"state": "x", "cloud_id": DEMO_CLOUD_ID},
            headers=ADMIN,
        ),
        await client.get("/v1/oauth/rezolve/callback", params={"state": "x", "code": "y"}),
    ]
    for answer in answers:
        assert answer.status_code == 404, answer.text
        assert answer.json()["code"] == "NOT_FOUND" and "jira" in answer.json()["message"]


async def test_a_state_is_bound_to_its_vendor(
    client: httpx.AsyncClient, jira_sandbox: FastAPI, runtime: Runtime
) -> None:
    org_id = await make_organization(client)
    start = await authorize(client, org_id)
    query = await consent(jira_sandbox, start["authorize_url"])
    other = oauth_service.ConnectState(
        nonce="m" * 20, organization_id=uuid.UUID(org_id), expires_at=int(time.time()) + 60, vendor="elsewhere"
    )

    foreign = await callback(client, query | {"state": oauth_service.sign_state(runtime.cipher, other)})

    assert foreign.status_code == 400, foreign.text
    assert foreign.json()["code"] == "INVALID_OAUTH_STATE" and "another vendor" in foreign.json()["message"]


async def test_the_admin_get_shows_the_grants_expiries(client: httpx.AsyncClient, jira_sandbox: FastAPI) -> None:
    org_id = await make_organization(client)
    body = await connected(client, jira_sandbox, org_id)

    response = await client.get(f"/v1/admin/connections/{body['connection']['id']}", headers=ADMIN)

    assert response.status_code == 200, response.text
    oauth = response.json()["oauth"]
    granted = datetime.fromisoformat(oauth["refresh_token_last_used_at"])
    assert datetime.fromisoformat(oauth["access_token_expires_at"]) == datetime.fromisoformat(
        body["access_token_expires_at"]
    )
    assert datetime.fromisoformat(oauth["refresh_token_expires_at"]) == granted + timedelta(days=90)
    assert datetime.fromisoformat(oauth["absolute_expires_at"]) == granted + timedelta(days=365)
    assert "offline_access" in oauth["scopes"] and oauth["needs_reauthorization"] is False


async def test_the_connect_paths_are_documented_with_the_vendor_parameter(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    paths = document["paths"]
    for path in (
        "/v1/admin/organizations/{org_id}/connections/{vendor}/authorize",
        "/v1/admin/organizations/{org_id}/connections/{vendor}/complete",
        "/v1/oauth/{vendor}/callback",
    ):
        operation = next(iter(paths[path].values()))
        vendor = next(p for p in operation["parameters"] if p["name"] == "vendor")
        assert vendor["in"] == "path" and "jira" in vendor["description"]
        assert {"400", "404"} & set(operation["responses"]), operation["responses"]
    answered = paths["/v1/admin/connections/{connection_id}"]["get"]["responses"]["200"]
    schema = answered["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    oauth = document["components"]["schemas"][schema]["properties"]["oauth"]
    assert oauth["description"] and "null" in oauth["description"]
    expiries = document["components"]["schemas"]["ConnectionOAuthModel"]["properties"]
    assert {"access_token_expires_at", "refresh_token_last_used_at", "absolute_expires_at"} <= set(expiries)
