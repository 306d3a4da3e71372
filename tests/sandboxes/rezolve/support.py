"""Helpers shared by the Rezolve sandbox tests: tokens, the seed's headers and query, tickets."""

from __future__ import annotations

from typing import Any

import httpx

from ticketbridge.sandboxes.rezolve import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REALM,
    DEMO_TENANT_ID,
    REQUEST_FIELDS,
    SERVICE_REQUEST_TYPE_ID,
)

BASE_URL = "http://rezolve.test"
#: The seed's required query.
QUERY = {"type": "template", "module": "ticketing"}
TICKETS = "/api/v2/ticketing/ticket"
#: The Service Request description field, the UUID of the seed's example.
DESCRIPTION = REQUEST_FIELDS.description


def token_path(realm: str = DEMO_REALM) -> str:
    return f"/auth/realms/{realm}/protocol/openid-connect/token"


async def fetch_token(
    client: httpx.AsyncClient,
    client_id: str = DEMO_CLIENT_ID,
    secret: str = DEMO_CLIENT_SECRET,
    realm: str = DEMO_REALM,
) -> str:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    response = await client.post(token_path(realm), data=form)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def api_headers(token: str, tenant_id: str = DEMO_TENANT_ID, realm: str = DEMO_REALM) -> dict[str, str]:
    """The seed's headers for a ticketing call."""
    return {
        "authorization": f"Bearer {token}",
        "accept": "application/json",
        "x-tenantid": tenant_id,
        "realmname": realm,
        "issupportrequest": "false",
    }


async def create_request(
    client: httpx.AsyncClient, headers: dict[str, str], summary: str = "Printer jammed", **values: Any
) -> dict[str, Any]:
    """Creates a Service Request in team "it"; `values` are keyed by field UUID."""
    response = await client.post(
        f"{TICKETS}/create/it/{SERVICE_REQUEST_TYPE_ID}",
        params=QUERY,
        headers=headers,
        json={
            "source": "api",
            "summary": summary,
            "ticketBody": values,
            "attachments": {},
            "ticketRelation": None,
        },
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def get_ticket(client: httpx.AsyncClient, headers: dict[str, str], object_id: str) -> dict[str, Any]:
    response = await client.get(f"{TICKETS}/{object_id}", params=QUERY, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def patch_ticket(
    client: httpx.AsyncClient, headers: dict[str, str], object_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.patch(f"{TICKETS}/{object_id}/update", params=QUERY, headers=headers, json=body)
