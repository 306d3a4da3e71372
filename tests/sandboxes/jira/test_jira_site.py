from __future__ import annotations

import httpx
import pytest

from tests.sandboxes.jira.jira_support import API

pytestmark = pytest.mark.anyio


async def test_project_search_pages_with_a_cap_of_100(client: httpx.AsyncClient) -> None:
    projects = [
        {
            "id": str(20000 + n),
            "key": f"P{n:03d}",
            "name": f"Project {n}",
            "lead": "5b10a2844c20165700ede21g",
            "issue_types": ["10001"],
            "workflow": "software",
        }
        for n in range(120)
    ]
    await client.post("/__sandbox__/seed", json={"projects": projects})

    first = (await client.get(f"{API}/project/search", params={"maxResults": 500})).json()
    last = (await client.get(f"{API}/project/search", params={"startAt": 100, "maxResults": 100})).json()

    assert (first["maxResults"], len(first["values"]), first["total"], first["isLast"]) == (
        100,
        100,
        122,
        False,
    )
    assert "startAt=100" in first["nextPage"]
    assert (len(last["values"]), last["isLast"]) == (22, True)


async def test_project_search_answers_404_when_nothing_matches(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/project/search", params={"query": "zzz"})

    assert response.status_code == 404


async def test_project_by_key_lists_its_issue_types(client: httpx.AsyncClient) -> None:
    project = (await client.get(f"{API}/project/OPS", params={"expand": "issueTypes"})).json()

    assert project["key"] == "OPS"
    assert project["projectTypeKey"] == "service_desk"
    assert [t["name"] for t in project["issueTypes"]] == ["Task", "Bug", "Sub-task"]


async def test_createmeta_lists_issue_types_and_their_fields(client: httpx.AsyncClient) -> None:
    types = (await client.get(f"{API}/issue/createmeta/DEMO/issuetypes")).json()
    fields = (await client.get(f"{API}/issue/createmeta/DEMO/issuetypes/10005")).json()
    too_many = await client.get(f"{API}/issue/createmeta/DEMO/issuetypes", params={"maxResults": 201})

    assert {t["id"]: t["name"] for t in types["issueTypes"]} == {
        "10001": "Task", "10002": "Bug", "10003": "Story", "10004": "Epic", "10005": "Sub-task",
    }  # fmt: skip
    required = {f["fieldId"] for f in fields["fields"] if f["required"]}
    assert required == {"summary", "issuetype", "project", "parent"}
    priority = next(f for f in fields["fields"] if f["fieldId"] == "priority")
    assert [p["id"] for p in priority["allowedValues"]] == ["1", "2", "3", "4", "5"]
    assert too_many.status_code == 400


async def test_assignable_users_filter_by_project_membership_and_query(client: httpx.AsyncClient) -> None:
    everyone = (await client.get(f"{API}/user/assignable/search", params={"project": "DEMO"})).json()
    ops = (await client.get(f"{API}/user/assignable/search", params={"project": "OPS"})).json()
    mia = (await client.get(f"{API}/user/assignable/search", params={"project": "DEMO", "query": "mi"})).json()

    assert len(everyone) == 4
    assert {u["displayName"] for u in ops} == {"Demo Admin", "Mia Krystof"}
    assert [u["displayName"] for u in mia] == ["Mia Krystof"]


async def test_priorities_statuses_and_fields_are_bare_arrays(client: httpx.AsyncClient) -> None:
    priorities = (await client.get(f"{API}/priority")).json()
    statuses = (await client.get(f"{API}/status")).json()
    fields = (await client.get(f"{API}/field")).json()

    assert [(p["id"], p["name"]) for p in priorities] == [
        ("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"), ("5", "Lowest"),
    ]  # fmt: skip
    assert {s["name"]: s["statusCategory"]["key"] for s in statuses} == {
        "To Do": "new", "In Progress": "indeterminate", "In Review": "indeterminate", "Done": "done",
    }  # fmt: skip
    assert {"summary", "labels", "description"} <= {f["id"] for f in fields}


async def test_myself_describes_the_caller(client: httpx.AsyncClient) -> None:
    me = (await client.get(f"{API}/myself")).json()

    assert me["accountId"] == "5b10a2844c20165700ede21g"
    assert me["accountType"] == "atlassian"
