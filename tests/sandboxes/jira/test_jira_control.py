from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.sandboxes.jira.jira_support import API, create_issue, status_of
from ticketbridge.sandboxes.faults import SandboxTransport
from ticketbridge.sandboxes.jira import DEMO_API_TOKEN, DEMO_EMAIL, JiraSandboxConfig, create_app

pytestmark = pytest.mark.anyio


async def test_calls_are_counted_by_operation_id_and_cleared(client: httpx.AsyncClient) -> None:
    key = await create_issue(client)
    await client.get(f"{API}/issue/{key}/transitions")
    await client.get(f"{API}/issue/{key}/transitions")
    await client.post(f"{API}/search/jql", json={"jql": "project = DEMO"})

    counts = (await client.get("/__sandbox__/calls")).json()
    cleared = await client.delete("/__sandbox__/calls")

    assert counts == {"createIssue": 1, "getTransitions": 2, "searchAndReconsileIssuesUsingJqlPost": 1}
    assert cleared.status_code == 204
    assert (await client.get("/__sandbox__/calls")).json() == {}


async def test_reset_restores_the_demo_site(client: httpx.AsyncClient) -> None:
    await create_issue(client)

    response = await client.post("/__sandbox__/reset")

    assert response.json() == {"issues": 5}
    assert (await client.get("/__sandbox__/issues/count", params={"project": "DEMO"})).json() == {"count": 3}


async def test_seed_adds_users_workflows_projects_and_issues(client: httpx.AsyncClient) -> None:
    seed = {
        "users": [{"account_id": "acc-lee", "display_name": "Lee Park", "email": "lee@x.example"}],
        "statuses": [{"id": "20000", "name": "Triage", "category": "new"}],
        "workflows": [
            {
                "id": "triage",
                "name": "Triage flow",
                "initial_status": "20000",
                "statuses": ["20000", "10002"],
                "transitions": [{"id": 7, "name": "Close", "to": "10002", "from": ["20000"]}],
            }
        ],
        "projects": [
            {
                "id": "10100",
                "key": "HELP",
                "name": "Help",
                "lead": "acc-lee",
                "issue_types": ["10001"],
                "workflow": "triage",
            }
        ],
        "issues": [{"project": "HELP", "summary": "Seeded", "assignee": "acc-lee", "labels": ["s"]}],
    }

    response = await client.post("/__sandbox__/seed", json=seed)

    assert response.status_code == 200
    assert response.json()["keys"] == ["HELP-1"]
    transitions = (await client.get(f"{API}/issue/HELP-1/transitions")).json()["transitions"]
    assert [t["name"] for t in transitions] == ["Close"]
    assert await status_of(client, "HELP-1") == "Triage"


async def test_seed_refuses_unknown_references(client: httpx.AsyncClient) -> None:
    response = await client.post("/__sandbox__/seed", json={"issues": [{"project": "NOPE", "summary": "x"}]})

    assert response.status_code == 400
    assert "NOPE" in response.json()["errorMessages"][0]


async def test_ui_edit_changes_status_and_fields_and_bumps_updated(client: httpx.AsyncClient) -> None:
    key = await create_issue(client)
    before = (await client.get(f"{API}/issue/{key}")).json()["fields"]["updated"]

    response = await client.post(
        f"/__sandbox__/issues/{key}/ui-edit",
        json={"status": "Done", "fields": {"summary": "Closed by a human"}},
    )

    assert response.status_code == 204
    issue = (await client.get(f"/__sandbox__/issues/{key}")).json()
    assert issue["fields"]["status"]["name"] == "Done"
    assert issue["fields"]["summary"] == "Closed by a human"
    assert issue["fields"]["updated"] >= before


async def test_ui_edit_refuses_a_status_outside_the_workflow(client: httpx.AsyncClient) -> None:
    key = await create_issue(client, project="OPS")

    response = await client.post(f"/__sandbox__/issues/{key}/ui-edit", json={"status": "In Review"})

    assert response.status_code == 400
    assert await status_of(client, key) == "To Do"


async def test_a_persisted_site_survives_a_restart(tmp_path: Path) -> None:
    config = JiraSandboxConfig(persist_path=tmp_path / "jira.sqlite3")
    auth = (DEMO_EMAIL, DEMO_API_TOKEN)

    async with httpx.AsyncClient(transport=SandboxTransport(create_app(config)), base_url="http://t", auth=auth) as a:
        key = await create_issue(a, labels=["kept"])
        await a.post(f"{API}/issue/{key}/transitions", json={"transition": {"id": "11"}})
        await a.post(f"{API}/issue/{key}/comment", json={"body": {"type": "doc", "version": 1, "content": []}})
        await a.delete(f"{API}/issue/DEMO-1")
    async with httpx.AsyncClient(transport=SandboxTransport(create_app(config)), base_url="http://t", auth=auth) as b:
        issue = (await b.get(f"{API}/issue/{key}")).json()
        gone = await b.get(f"{API}/issue/DEMO-1")
        next_key = await create_issue(b)

    assert issue["fields"]["labels"] == ["kept"]
    assert issue["fields"]["status"]["name"] == "In Progress"
    assert issue["fields"]["comment"]["total"] == 1
    assert gone.status_code == 404
    assert int(next_key.split("-")[1]) == int(key.split("-")[1]) + 1
