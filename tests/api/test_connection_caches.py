"""A connection whose base URL or credentials change through the admin API answers from the new site
at once: vendor metadata cached for the old settings is never served again."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.api.test_rezolve import rezolve_tenant
from tests.builders import ADMIN, Tenant, make_tenant
from tests.vendors import JIRA_URL, REZOLVE_URL, SandboxRouter
from ticketbridge.sandboxes import jira, rezolve
from ticketbridge.sandboxes.faults import SandboxTransport
from ticketbridge.sandboxes.rezolve.models import Team

OTHER_REZOLVE_URL = "http://rezolve-eu.test"
OTHER_JIRA_URL = "http://jira-eu.test"
# A new base URL must come with the credentials again (they never follow a site change on their own).
REZOLVE_CREDENTIALS = {
    "tenant_id": rezolve.DEMO_TENANT_ID,
    "realm": rezolve.DEMO_REALM,
    "client_id": rezolve.DEMO_CLIENT_ID,
    "client_secret": rezolve.DEMO_CLIENT_SECRET,
}
JIRA_CREDENTIALS = {"email": jira.DEMO_EMAIL, "api_token": jira.DEMO_API_TOKEN}


@pytest.fixture
def other_rezolve_sandbox() -> FastAPI:
    """Another Rezolve site with the same tenant and client, whose teams differ."""
    app = rezolve.create_app(rezolve.RezolveSandboxConfig(base_url=OTHER_REZOLVE_URL))
    app.state.runtime.store.tenants[rezolve.DEMO_TENANT_ID].teams = [
        Team(id="team-901", name="Facilities", key="facilities")
    ]
    return app


@pytest.fixture
def other_jira_sandbox() -> FastAPI:
    """Another Jira site with the same account, whose projects are named differently."""
    app = jira.create_app(jira.JiraSandboxConfig(base_url=OTHER_JIRA_URL))
    for project in app.state.runtime.site.projects.values():
        project.name = f"{project.name} (EU)"
    return app


@pytest.fixture
def vendor_transport(
    jira_sandbox: FastAPI, rezolve_sandbox: FastAPI, other_jira_sandbox: FastAPI, other_rezolve_sandbox: FastAPI
) -> SandboxRouter:
    return SandboxRouter(
        {
            httpx.URL(JIRA_URL).host: SandboxTransport(jira_sandbox),
            httpx.URL(REZOLVE_URL).host: SandboxTransport(rezolve_sandbox),
            httpx.URL(OTHER_JIRA_URL).host: SandboxTransport(other_jira_sandbox),
            httpx.URL(OTHER_REZOLVE_URL).host: SandboxTransport(other_rezolve_sandbox),
        }
    )


async def projects(client: httpx.AsyncClient, tenant: Tenant) -> list[tuple[str, str]]:
    response = await client.get("/v1/itsm/passthrough/projects", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return [(item["vendor_id"], item["name"]) for item in response.json()["items"]]


async def change_connection(client: httpx.AsyncClient, tenant: Tenant, **body: object) -> None:
    response = await client.patch(f"/v1/admin/connections/{tenant.connection_id}", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text


async def test_rezolve_answers_the_new_sites_data_once_its_base_url_changes(client: httpx.AsyncClient) -> None:
    tenant = await rezolve_tenant(client)
    assert await projects(client, tenant) == [("it", "IT"), ("hr", "HR")]  # now cached for 10 minutes

    await change_connection(client, tenant, base_url=OTHER_REZOLVE_URL, credentials=REZOLVE_CREDENTIALS)

    assert await projects(client, tenant) == [("facilities", "Facilities")]
    await change_connection(client, tenant, base_url=REZOLVE_URL, credentials=REZOLVE_CREDENTIALS)
    assert await projects(client, tenant) == [("it", "IT"), ("hr", "HR")]


async def test_rezolve_answers_the_new_tenants_data_once_its_credentials_change(client: httpx.AsyncClient) -> None:
    tenant = await rezolve_tenant(client)
    assert await projects(client, tenant) == [("it", "IT"), ("hr", "HR")]

    await change_connection(
        client,
        tenant,
        credentials={
            "tenant_id": rezolve.OTHER_TENANT_ID,
            "realm": rezolve.OTHER_REALM,
            "client_id": rezolve.OTHER_CLIENT_ID,
            "client_secret": rezolve.OTHER_CLIENT_SECRET,
        },
    )

    assert await projects(client, tenant) == [("ops", "Operations")]


async def test_jira_answers_the_new_sites_data_once_its_base_url_changes(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(client)
    assert await projects(client, tenant) == [("DEMO", "Demo"), ("OPS", "Operations")]

    await change_connection(client, tenant, base_url=OTHER_JIRA_URL, credentials=JIRA_CREDENTIALS)

    assert await projects(client, tenant) == [("DEMO", "Demo (EU)"), ("OPS", "Operations (EU)")]
