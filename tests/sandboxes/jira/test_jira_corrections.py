"""Corrections to the sandbox's surface: error shapes and statuses as documented, paths Jira serves."""

from __future__ import annotations

import httpx
import pytest

from tests.sandboxes.jira.jira_support import API, issue_fields
from ticketbridge.sandboxes.jira import (
    DEMO_ACCOUNT_ID,
    DEMO_CLOUD_ID,
    DEMO_OAUTH_TOKEN,
    OUTSIDER_API_TOKEN,
    OUTSIDER_EMAIL,
)
from ticketbridge.sandboxes.jira.demo import MIA_ACCOUNT_ID

pytestmark = pytest.mark.anyio
BAD_AUTH = ("x@y.z", "bad")


async def test_unserved_paths_and_methods_answer_jira_shaped(client: httpx.AsyncClient) -> None:
    missing = await client.get(f"{API}/dashboard/10000")
    outside = await client.get("/nothing/here")
    wrong_method = await client.delete(f"{API}/myself")

    for response in (missing, outside, wrong_method):
        assert set(response.json()) == {"errorMessages", "errors"}, response.text
        assert "detail" not in response.text
    assert (missing.status_code, outside.status_code, wrong_method.status_code) == (404, 404, 405)
    assert "GET" in wrong_method.headers["allow"]


async def test_json_answers_carry_jiras_content_type(client: httpx.AsyncClient) -> None:
    answers = [
        await client.get(f"{API}/myself"),
        await client.get(f"{API}/issue/DEMO-404"),
        await client.post(f"{API}/issue/bulk", json={"issueUpdates": []}),
        await client.get(f"{API}/search"),
        await client.get(f"{API}/nope"),
        await client.get(f"{API}/myself", auth=BAD_AUTH),
    ]

    assert {a.headers["content-type"] for a in answers} == {"application/json;charset=UTF-8"}


async def test_unparsable_parameters_answer_jira_words(client: httpx.AsyncClient) -> None:
    search = await client.get(f"{API}/search/jql", params={"jql": "project = DEMO", "maxResults": "many"})
    bulk = await client.get(f"{API}/bulk/issues/transition")
    types = await client.get(f"{API}/issuetype/project", params={"projectId": "DEMO"})

    assert search.json() == {
        "errorMessages": ["The value 'many' is not valid for the 'maxResults' parameter."],
        "errors": {},
    }
    assert bulk.status_code == 400
    assert bulk.json() == {"errors": [{"message": "The 'issueIdsOrKeys' parameter is required."}]}
    assert types.status_code == 400
    for text in (search.text, bulk.text, types.text):
        assert "Input should be" not in text and "valid integer" not in text and "Field required" not in text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/bulk/issues/transition?issueIdsOrKeys=DEMO-1"),
        ("POST", "/bulk/issues/transition"),
        ("POST", "/bulk/issues/fields"),
        ("GET", "/bulk/queue/10000"),
    ],
)
async def test_bulk_operations_answer_401_as_bulk_operation_errors(
    anonymous: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await anonymous.request(method, f"{API}{path}", json={} if method == "POST" else None)

    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "Client must be authenticated to access this resource."}]}
    assert "www-authenticate" in response.headers


async def test_bulk_edit_without_the_permission_answers_its_documented_400(client: httpx.AsyncClient) -> None:
    body = {
        "selectedActions": ["priority"],
        "selectedIssueIdsOrKeys": ["DEMO-1"],
        "editedFieldsInput": {"priority": {"priorityId": "2"}},
    }

    response = await client.post(f"{API}/bulk/issues/fields", json=body, auth=(OUTSIDER_EMAIL, OUTSIDER_API_TOKEN))

    assert response.status_code == 400
    assert list(response.json()) == ["errors"]


@pytest.mark.parametrize("body", [{}, {"issueUpdates": []}, {"issueUpdates": "x"}, []])
async def test_an_empty_bulk_create_answers_created_issues(client: httpx.AsyncClient, body: object) -> None:
    response = await client.post(f"{API}/issue/bulk", json=body)

    assert response.status_code == 400
    answer = response.json()
    assert answer["issues"] == []
    assert [e["failedElementNumber"] for e in answer["errors"]] == [0]
    assert answer["errors"][0]["elementErrors"]["errorMessages"]


async def test_the_gateway_serves_only_the_sites_cloud_id(anonymous: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"Bearer {DEMO_OAUTH_TOKEN}"}

    tenant = await anonymous.get("/_edge/tenant_info")
    own = await anonymous.get(f"/ex/jira/{DEMO_CLOUD_ID}/rest/api/2/myself", headers=headers)
    other = await anonymous.get("/ex/jira/00000000-0000-0000-0000-000000000000/rest/api/3/myself", headers=headers)
    not_rest = await anonymous.get(f"/ex/jira/{DEMO_CLOUD_ID}/secure/Dashboard.jspa", headers=headers)

    assert tenant.json() == {"cloudId": DEMO_CLOUD_ID}
    assert own.status_code == 200
    assert (other.status_code, not_rest.status_code) == (404, 404)
    assert set(other.json()) == {"errorMessages", "errors"}


async def test_deprecated_createmeta_is_served_not_read_as_an_issue_key(client: httpx.AsyncClient) -> None:
    await client.delete("/__sandbox__/calls")

    plain = await client.get(f"{API}/issue/createmeta", params={"projectKeys": "DEMO"})
    expanded = await client.get(
        f"{API}/issue/createmeta",
        params={"projectKeys": "OPS", "issuetypeNames": "Bug", "expand": "projects.issuetypes.fields"},
    )
    every = await client.get(f"{API}/issue/createmeta")
    calls = (await client.get("/__sandbox__/calls")).json()

    assert plain.status_code == 200
    assert [p["key"] for p in plain.json()["projects"]] == ["DEMO"]
    assert [t["name"] for t in plain.json()["projects"][0]["issuetypes"]] == [
        "Task",
        "Bug",
        "Story",
        "Epic",
        "Sub-task",
    ]
    assert "fields" not in plain.json()["projects"][0]["issuetypes"][0]
    bug = expanded.json()["projects"][0]["issuetypes"]
    assert [t["name"] for t in bug] == ["Bug"]
    assert bug[0]["fields"]["summary"]["required"] is True
    assert [p["key"] for p in every.json()["projects"]] == ["DEMO", "OPS"]
    assert calls == {"getCreateIssueMeta": 3}


async def test_assigning_minus_one_assigns_the_projects_default_assignee(client: httpx.AsyncClient) -> None:
    key = (
        await client.post(f"{API}/issue", json={"fields": issue_fields(assignee={"accountId": MIA_ACCOUNT_ID})})
    ).json()["key"]

    response = await client.put(f"{API}/issue/{key}/assignee", json={"accountId": "-1"})
    issue = (await client.get(f"{API}/issue/{key}", params={"fields": "assignee"})).json()

    assert response.status_code == 204
    assert issue["fields"]["assignee"]["accountId"] == DEMO_ACCOUNT_ID


async def test_assignable_users_accept_an_issue_id(client: httpx.AsyncClient) -> None:
    issue_id = (await client.get(f"{API}/issue/OPS-1", params={"fields": "id"})).json()["id"]

    by_id = await client.get(f"{API}/user/assignable/search", params={"issueId": issue_id})
    by_key = await client.get(f"{API}/user/assignable/search", params={"issueKey": "OPS-1"})
    bad = await client.get(f"{API}/user/assignable/search", params={"issueId": "OPS-1"})
    missing = await client.get(f"{API}/user/assignable/search", params={"issueId": "99999"})

    assert by_id.status_code == 200
    assert by_id.json() == by_key.json()
    assert (bad.status_code, missing.status_code) == (400, 404)
