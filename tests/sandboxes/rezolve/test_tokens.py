"""The Keycloak-style token endpoint, the JWKS, and how ticketing calls check the bearer token."""

from __future__ import annotations

import base64
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ticketbridge.sandboxes.faults import SandboxTransport
from ticketbridge.sandboxes.rezolve import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REALM,
    DEMO_TENANT_ID,
    OTHER_REALM,
    RezolveSandboxConfig,
    create_app,
)

from .support import BASE_URL, QUERY, TICKETS, api_headers, fetch_token, token_path

pytestmark = pytest.mark.anyio

UNAUTHORIZED = {"error": True, "code": "UNAUTHORIZED", "message": "Invalid or expired token", "status": 401}
ISSUER = f"http://127.0.0.1:8200/auth/realms/{DEMO_REALM}"


async def test_client_credentials_token_is_a_signed_jwt_checkable_with_the_jwks(
    client: httpx.AsyncClient,
) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "scope": "tickets:read tickets:write",
    }
    response = await client.post(token_path(), data=form)
    jwks = (await client.get(f"/auth/realms/{DEMO_REALM}/protocol/openid-connect/certs")).json()

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == "tickets:read tickets:write"
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(body["access_token"])["kid"]]
    claims = jwt.decode(body["access_token"], key.key, algorithms=["RS256"])
    assert claims["tenant_id"] == DEMO_TENANT_ID
    assert claims["iss"] == ISSUER
    assert claims["sub"] == DEMO_CLIENT_ID
    assert "ticket_agent" in claims["realm_access"]["roles"]
    assert claims["exp"] - claims["iat"] == 300


async def test_client_secret_may_come_as_http_basic(client: httpx.AsyncClient) -> None:
    basic = base64.b64encode(f"{DEMO_CLIENT_ID}:{DEMO_CLIENT_SECRET}".encode()).decode()

    response = await client.post(
        token_path(), data={"grant_type": "client_credentials"}, headers={"authorization": f"Basic {basic}"}
    )

    assert response.status_code == 200
    assert response.json()["scope"] == "tickets:read tickets:write"


async def test_token_lifetime_follows_the_config() -> None:
    app = create_app(RezolveSandboxConfig(token_ttl_seconds=60))
    async with httpx.AsyncClient(transport=SandboxTransport(app), base_url=BASE_URL) as client:
        form = {
            "grant_type": "client_credentials",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        }
        response = await client.post(token_path(), data=form)

    assert response.json()["expires_in"] == 60


@pytest.mark.parametrize(
    ("form", "realm", "status", "error"),
    [
        (
            {"client_secret": "wrong"},
            DEMO_REALM,
            401,
            ("invalid_client", "Invalid client or Invalid client credentials"),
        ),
        (
            {"client_id": "nobody"},
            DEMO_REALM,
            401,
            ("invalid_client", "Invalid client or Invalid client credentials"),
        ),
        ({"grant_type": "password"}, DEMO_REALM, 400, ("unsupported_grant_type", "Unsupported grant_type")),
        ({"scope": "tickets:admin"}, DEMO_REALM, 400, ("invalid_scope", "Invalid scopes: tickets:admin")),
        ({}, OTHER_REALM, 401, ("invalid_client", "Invalid client or Invalid client credentials")),
        ({}, "nowhere", 404, ("Realm does not exist", "Realm does not exist")),
    ],
)
async def test_token_endpoint_refuses_like_keycloak(
    client: httpx.AsyncClient, form: dict[str, str], realm: str, status: int, error: tuple[str, str]
) -> None:
    good = {
        "grant_type": "client_credentials",
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
    }

    response = await client.post(token_path(realm), data=good | form)

    assert response.status_code == status
    assert response.json() == {"error": error[0], "error_description": error[1]}


async def test_expired_token_is_refused(client: httpx.AsyncClient) -> None:
    minted = await client.post("/__sandbox__/tokens", json={"expiresInSeconds": -5})

    response = await client.get(f"{TICKETS}/REQ-0001", params=QUERY, headers=api_headers(minted.json()["access_token"]))

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


async def test_token_signed_with_another_key_is_refused(client: httpx.AsyncClient) -> None:
    foreign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    forged = jwt.encode(
        {
            "iss": ISSUER,
            "sub": DEMO_CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "scope": "tickets:read tickets:write",
            "realm_access": {"roles": ["ticket_agent"]},
            "tenant_id": DEMO_TENANT_ID,
        },
        foreign_key,
        algorithm="RS256",
    )

    response = await client.get(f"{TICKETS}/REQ-0001", params=QUERY, headers=api_headers(forged))

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "Bearer not-a-jwt"},
        {"authorization": "Basic Zm9vOmJhcg=="},
        {"realmname": OTHER_REALM},
    ],
)
async def test_malformed_missing_or_wrong_realm_credentials_are_refused(
    client: httpx.AsyncClient, writer: dict[str, str], headers: dict[str, str]
) -> None:
    response = await client.get(f"{TICKETS}/REQ-0001", params=QUERY, headers=writer | headers)

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


async def test_no_authorization_header_is_refused(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    headers = {key: value for key, value in writer.items() if key != "authorization"}

    response = await client.get(f"{TICKETS}/REQ-0001", params=QUERY, headers=headers)

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


async def test_token_without_tenant_claim_is_tenant_not_found(client: httpx.AsyncClient) -> None:
    minted = await client.post("/__sandbox__/tokens", json={"claims": {"tenant_id": None}})

    response = await client.get(f"{TICKETS}/REQ-0001", params=QUERY, headers=api_headers(minted.json()["access_token"]))

    assert response.status_code == 404
    assert response.json() == {"error": True, "message": "Tenant not found"}


async def test_token_without_any_tickets_scope_cannot_read(client: httpx.AsyncClient) -> None:
    minted = await client.post("/__sandbox__/tokens", json={"claims": {"scope": "profile"}})

    response = await client.get(f"{TICKETS}/REQ-0001", params=QUERY, headers=api_headers(minted.json()["access_token"]))

    assert response.status_code == 401
    assert response.json()["code"] == "USER_PERMISSION_FAILURE"


async def test_token_with_read_scope_only_cannot_update(client: httpx.AsyncClient) -> None:
    token = await fetch_token(client)
    minted = await client.post("/__sandbox__/tokens", json={"claims": {"scope": "tickets:read"}})
    etag = (await client.get(f"{TICKETS}/REQ-0001", headers=api_headers(token))).json()["etag"]

    response = await client.patch(
        f"{TICKETS}/REQ-0001/update",
        params=QUERY,
        headers=api_headers(minted.json()["access_token"]),
        json={"etag": etag, "ticketUpdate": {"x": "y"}},
    )

    assert response.status_code == 401
    assert response.json()["message"] == "You do not have the permission to update the ticket"
