"""Small builders for test data, through the admin API as a user would provision."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.vendors import JIRA_URL
from ticketbridge.sandboxes import jira

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
    return result


async def make_tenant(client: httpx.AsyncClient, name: str = "Acme", **connection: Any) -> Tenant:
    organization_id = await make_organization(client, name)
    api_key = await make_api_key(client, organization_id)
    created = await make_connection(client, organization_id, **connection)
    return Tenant(organization_id=organization_id, api_key=api_key, connection_id=str(created["id"]))
