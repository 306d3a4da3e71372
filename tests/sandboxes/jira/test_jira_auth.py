from __future__ import annotations

import httpx
import pytest

from tests.sandboxes.jira.jira_support import API, issue_fields
from ticketbridge.sandboxes.jira import DEMO_CLOUD_ID, DEMO_OAUTH_TOKEN, OUTSIDER_API_TOKEN, OUTSIDER_EMAIL

pytestmark = pytest.mark.anyio


@pytest.fixture
def outsider_auth() -> tuple[str, str]:
    return (OUTSIDER_EMAIL, OUTSIDER_API_TOKEN)


async def test_missing_credentials_answer_401_with_www_authenticate(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get(f"{API}/myself")

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")
    assert response.json() == {
        "errorMessages": ["Client must be authenticated to access this resource."],
        "errors": {},
    }


async def test_a_wrong_token_answers_401_without_echoing_it(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get(f"{API}/myself", auth=("admin@demo.example", "s3cret-wrong"))

    assert response.status_code == 401
    assert "s3cret-wrong" not in response.text


async def test_oauth_bearer_works_directly_and_through_the_gateway_path(anonymous: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"Bearer {DEMO_OAUTH_TOKEN}"}

    direct = await anonymous.get(f"{API}/myself", headers=headers)
    gateway = await anonymous.get(f"/ex/jira/{DEMO_CLOUD_ID}/rest/api/3/myself", headers=headers)
    other_site = await anonymous.get("/ex/jira/11223344-a1b2/rest/api/3/myself", headers=headers)
    bad = await anonymous.get(f"{API}/myself", headers={"Authorization": "Bearer nope"})

    assert direct.status_code == gateway.status_code == 200
    assert other_site.status_code == 404
    assert set(other_site.json()) == {"errorMessages", "errors"}
    assert direct.json()["emailAddress"] == "admin@demo.example"
    assert bad.status_code == 401


async def test_server_info_says_cloud_without_credentials(anonymous: httpx.AsyncClient) -> None:
    body = (await anonymous.get(f"{API}/serverInfo")).json()

    assert body["deploymentType"] == "Cloud"
    assert body["versionNumbers"] == [1001, 0, 0]


async def test_a_project_the_user_cannot_browse_looks_missing(
    client: httpx.AsyncClient, outsider_auth: tuple[str, str]
) -> None:
    ops_issue = (await client.post(f"{API}/issue", json={"fields": issue_fields(project="OPS")})).json()["key"]

    read = await client.get(f"{API}/issue/{ops_issue}", auth=outsider_auth)
    edit = await client.put(f"{API}/issue/{ops_issue}", json={"fields": {"summary": "x"}}, auth=outsider_auth)
    project = await client.get(f"{API}/project/OPS", auth=outsider_auth)
    create = await client.post(f"{API}/issue", json={"fields": issue_fields(project="OPS")}, auth=outsider_auth)
    search = await client.post(f"{API}/search/jql", json={"jql": "project = OPS"}, auth=outsider_auth)

    assert read.status_code == edit.status_code == project.status_code == 404
    assert read.json()["errorMessages"] == ["Issue does not exist or you do not have permission to see it."]
    assert create.status_code == 400
    assert set(create.json()["errors"]) == {"project"}
    assert search.status_code == 400
    assert (await client.get(f"{API}/issue/{ops_issue}")).status_code == 200


async def test_bulk_changes_need_the_global_permission(
    client: httpx.AsyncClient, outsider_auth: tuple[str, str]
) -> None:
    body = {"bulkTransitionInputs": [{"selectedIssueIdsOrKeys": ["DEMO-1"], "transitionId": "11"}]}

    response = await client.post(f"{API}/bulk/issues/transition", json=body, auth=outsider_auth)

    assert response.status_code == 403
    assert list(response.json()) == ["errors"]
    assert "message" in response.json()["errors"][0]
