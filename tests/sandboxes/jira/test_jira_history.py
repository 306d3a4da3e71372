"""Change history: every write path records who changed which field when; served by `expand=changelog`,
the changelog endpoints and JQL's WAS/CHANGED, behind the search lag like every other value; and the
other `expand`s of get issue and search."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jira import JIRA

from tests.sandboxes.jira.jira_support import API, create_issue
from tests.sandboxes.jira.test_jira_pypi_client import serve_in_thread
from ticketbridge.sandboxes.jira import DEMO_API_TOKEN, DEMO_EMAIL, JiraSandboxConfig, create_app
from ticketbridge.sandboxes.jira.demo import DEMO_ACCOUNT_ID, MIA_ACCOUNT_ID


def items(changelog: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    return [(i["field"], i["fromString"], i["toString"]) for h in changelog["histories"] for i in h["items"]]


async def expanded(client: httpx.AsyncClient, key: str, expand: str = "changelog", **params: Any) -> dict[str, Any]:
    response = await client.get(f"{API}/issue/{key}", params={"expand": expand, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_new_issue_has_an_empty_changelog(client: httpx.AsyncClient) -> None:
    key = await create_issue(client)

    assert (await expanded(client, key))["changelog"] == {"startAt": 0, "maxResults": 0, "total": 0, "histories": []}


async def test_an_edit_records_one_group_with_an_item_per_field(client: httpx.AsyncClient) -> None:
    key = await create_issue(client, summary="Old")
    edit = {
        "fields": {"summary": "New", "assignee": {"accountId": MIA_ACCOUNT_ID}, "priority": {"id": "2"}},
        "update": {"labels": [{"add": "triaged"}]},
    }
    assert (await client.put(f"{API}/issue/{key}", json=edit)).status_code == 204

    changelog = (await expanded(client, key))["changelog"]
    (group,) = changelog["histories"]

    assert group["author"]["accountId"] == DEMO_ACCOUNT_ID
    assert group["created"].endswith("+0000")
    assert sorted(items(changelog)) == [
        ("assignee", None, "Mia Krystof"),
        ("labels", None, "triaged"),
        ("priority", "Medium", "High"),
        ("summary", "Old", "New"),
    ]
    by_field = {i["field"]: i for i in group["items"]}
    assert by_field["assignee"] == {
        "field": "assignee", "fieldtype": "jira", "fieldId": "assignee",
        "from": None, "fromString": None, "to": MIA_ACCOUNT_ID, "toString": "Mia Krystof",
    }  # fmt: skip
    assert by_field["priority"]["from"] == "3" and by_field["priority"]["to"] == "2"


async def test_an_edit_that_changes_nothing_records_nothing(client: httpx.AsyncClient) -> None:
    key = await create_issue(client, summary="Same")
    await client.put(f"{API}/issue/{key}", json={"fields": {"summary": "Same"}})

    assert (await expanded(client, key))["changelog"]["total"] == 0


async def test_transitions_record_status_and_resolution(client: httpx.AsyncClient) -> None:
    for transition in ("11", "21", "31"):
        response = await client.post(f"{API}/issue/DEMO-1/transitions", json={"transition": {"id": transition}})
        assert response.status_code == 204

    changelog = (await expanded(client, "DEMO-1"))["changelog"]

    assert items(changelog) == [
        ("status", "To Do", "In Progress"),
        ("status", "In Progress", "In Review"),
        ("status", "In Review", "Done"),
        ("resolution", None, "Done"),
    ]
    issue = await expanded(client, "DEMO-1", fields="resolution,resolutiondate")
    assert issue["fields"]["resolution"]["name"] == "Done"
    assert issue["fields"]["resolutiondate"] is not None
    await client.post(f"{API}/issue/DEMO-1/transitions", json={"transition": {"id": "41"}})
    reopened = await expanded(client, "DEMO-1", fields="resolution")
    assert reopened["fields"]["resolution"] is None
    assert items(reopened["changelog"])[-2:] == [("status", "Done", "To Do"), ("resolution", "Done", None)]


async def test_a_ui_edit_records_the_person_and_the_status_jump(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/__sandbox__/issues/DEMO-1/ui-edit",
        json={"status": "In Review", "fields": {"summary": "Renamed in the UI"}, "account_id": MIA_ACCOUNT_ID},
    )
    assert response.status_code == 204

    (group,) = (await expanded(client, "DEMO-1"))["changelog"]["histories"]

    assert group["author"]["accountId"] == MIA_ACCOUNT_ID
    assert sorted((i["field"], i["toString"]) for i in group["items"]) == [
        ("status", "In Review"),
        ("summary", "Renamed in the UI"),
    ]


async def _finish(client: httpx.AsyncClient, response: httpx.Response) -> None:
    assert response.status_code == 201, response.text
    task = response.json()["taskId"]
    for _ in range(50):
        progress = (await client.get(f"{API}/bulk/queue/{task}")).json()
        if progress["status"] == "COMPLETE":
            return
    raise AssertionError(progress)


async def test_bulk_transition_and_bulk_edit_record_history(client: httpx.AsyncClient) -> None:
    transition = {"bulkTransitionInputs": [{"selectedIssueIdsOrKeys": ["DEMO-1"], "transitionId": "11"}]}
    await _finish(client, await client.post(f"{API}/bulk/issues/transition", json=transition))
    edit = {
        "selectedActions": ["priority"],
        "selectedIssueIdsOrKeys": ["DEMO-1"],
        "editedFieldsInput": {"priority": {"priorityId": "1"}},
    }
    await _finish(client, await client.post(f"{API}/bulk/issues/fields", json=edit))

    changelog = (await expanded(client, "DEMO-1"))["changelog"]

    assert items(changelog) == [("status", "To Do", "In Progress"), ("priority", "Medium", "Highest")]
    assert {h["author"]["accountId"] for h in changelog["histories"]} == {DEMO_ACCOUNT_ID}


async def test_the_changelog_endpoint_pages_oldest_first(client: httpx.AsyncClient) -> None:
    key = await create_issue(client, summary="v0")
    for n in range(1, 4):
        await client.put(f"{API}/issue/{key}", json={"fields": {"summary": f"v{n}"}})

    first = (await client.get(f"{API}/issue/{key}/changelog", params={"maxResults": 2})).json()
    second = (await client.get(f"{API}/issue/{key}/changelog", params={"startAt": 2, "maxResults": 2})).json()

    assert [v["items"][0]["toString"] for v in first["values"]] == ["v1", "v2"]
    assert (first["startAt"], first["maxResults"], first["total"], first["isLast"]) == (0, 2, 3, False)
    assert first["nextPage"].endswith(f"/issue/{key}/changelog?startAt=2&maxResults=2")
    assert [v["items"][0]["toString"] for v in second["values"]] == ["v3"]
    assert second["isLast"] is True and "nextPage" not in second

    ids = [int(first["values"][1]["id"]), int(second["values"][0]["id"])]
    listed = (await client.post(f"{API}/issue/{key}/changelog/list", json={"changelogIds": ids})).json()
    assert [h["items"][0]["toString"] for h in listed["histories"]] == ["v2", "v3"]
    refused = await client.post(f"{API}/issue/{key}/changelog/list", json={"changelogIds": []})
    assert refused.status_code == 400


async def test_changelog_of_an_invisible_issue_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{API}/issue/NOPE-1/changelog")).status_code == 404


async def test_search_expands_changelog_and_sees_history_only_once_indexed(client: httpx.AsyncClient) -> None:
    await client.put("/__sandbox__/consistency", json={"search_lag_ms": 60_000})
    await client.post(f"{API}/issue/DEMO-1/transitions", json={"transition": {"id": "11"}})
    query = {"jql": 'status WAS "In Progress" AND key = DEMO-1', "expand": "changelog", "fields": ["summary"]}

    lagging = (await client.post(f"{API}/search/jql", json=query)).json()
    reconciled = (await client.post(f"{API}/search/jql", json=query | {"reconcileIssues": [10000]})).json()

    assert lagging["issues"] == []
    assert items(reconciled["issues"][0]["changelog"]) == [("status", "To Do", "In Progress")]
    await client.put("/__sandbox__/consistency", json={"search_lag_ms": 0})
    settled = (await client.post(f"{API}/search/jql", json=query)).json()
    assert [i["key"] for i in settled["issues"]] == ["DEMO-1"]


async def test_a_lagging_search_returns_the_old_changelog(client: httpx.AsyncClient) -> None:
    await client.put("/__sandbox__/consistency", json={"search_lag_ms": 60_000})
    await client.put(f"{API}/issue/DEMO-2", json={"fields": {"summary": "Edited"}})
    query = {"jql": "key = DEMO-2", "expand": "changelog", "fields": ["summary"]}

    (issue,) = (await client.post(f"{API}/search/jql", json=query)).json()["issues"]

    assert issue["fields"]["summary"] == "Add dark mode"
    assert issue["changelog"]["histories"] == []


async def test_rendered_fields_names_schema_and_the_rest(client: httpx.AsyncClient) -> None:
    description = {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Steps"}]},
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "Press "},
                    {"type": "text", "text": "<Save>", "marks": [{"type": "strong"}]},
                ],
            },
        ],
    }
    key = await create_issue(client, description=description, duedate="2026-12-24")
    expand = "renderedFields,names,schema,transitions,editmeta,operations"

    body = await expanded(client, key, expand, fields="summary,description,duedate,created")

    assert body["renderedFields"]["description"] == "<h2>Steps</h2><p>Press <b>&lt;Save&gt;</b></p>"
    assert body["renderedFields"]["duedate"] == "24/Dec/26"
    assert body["renderedFields"]["summary"] is None
    assert body["names"] == {
        "summary": "Summary",
        "description": "Description",
        "duedate": "Due date",
        "created": "Created",
    }
    assert body["schema"]["duedate"] == {"type": "date", "system": "duedate"}
    assert [t["id"] for t in body["transitions"]] == ["11"]
    assert body["editmeta"]["fields"]["summary"]["required"] is True
    assert "project" not in body["editmeta"]["fields"]
    assert body["operations"] == {"linkGroups": []}


async def test_versioned_representations_replace_fields(client: httpx.AsyncClient) -> None:
    body = await expanded(client, "DEMO-1", "versionedRepresentations", fields="summary")

    assert "fields" not in body
    assert body["versionedRepresentations"]["summary"] == {"1": "Checkout page times out"}
    assert body["versionedRepresentations"]["status"]["1"]["name"] == "To Do"  # every field: `fields` is ignored


async def test_unknown_expand_values_are_ignored_as_jira_ignores_them(client: httpx.AsyncClient) -> None:
    body = await expanded(client, "DEMO-1", "nonsense,changelog", fields="summary")

    assert set(body) == {"expand", "id", "self", "key", "fields", "changelog"}


async def test_search_answers_names_and_schema_once_for_the_page(client: httpx.AsyncClient) -> None:
    query = {"jql": "project = DEMO", "fields": ["summary", "status"], "expand": "names,schema,renderedFields"}

    body = (await client.post(f"{API}/search/jql", json=query)).json()
    by_get = (await client.get(f"{API}/search/jql", params=query | {"fields": "summary,status"})).json()

    assert body["names"] == {"summary": "Summary", "status": "Status"}
    assert body["schema"]["status"] == {"type": "status", "system": "status"}
    assert all("names" not in i and "renderedFields" in i for i in body["issues"])
    assert by_get["names"] == body["names"]
    assert (await client.post(f"{API}/search/jql", json=query | {"expand": ["names"]})).status_code == 400


async def test_writes_in_parallel_each_get_their_own_group(client: httpx.AsyncClient) -> None:
    key = await create_issue(client)
    await asyncio.gather(*(client.put(f"{API}/issue/{key}", json={"fields": {"summary": f"s{n}"}}) for n in range(5)))

    changelog = (await expanded(client, key))["changelog"]

    assert changelog["total"] == 5
    assert len({h["id"] for h in changelog["histories"]}) == 5


async def test_a_persisted_site_keeps_the_history(tmp_path: Any) -> None:
    path = tmp_path / "site.db"
    for attempt in range(2):
        app = create_app(JiraSandboxConfig(base_url="http://jira.test", search_lag_ms=0, persist_path=path))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://jira.test", auth=(DEMO_EMAIL, DEMO_API_TOKEN)
        ) as client:
            if attempt == 0:
                await client.post(f"{API}/issue/DEMO-1/transitions", json={"transition": {"id": "11"}})
            else:
                assert items((await expanded(client, "DEMO-1"))["changelog"]) == [("status", "To Do", "In Progress")]
                found = await client.post(f"{API}/search/jql", json={"jql": "status CHANGED AND project = DEMO"})
                assert [i["id"] for i in found.json()["issues"]] == ["10000"]


# -- the PyPI client ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    yield from serve_in_thread(
        lambda url: create_app(JiraSandboxConfig(base_url=url, in_process=False, search_lag_ms=0))
    )


@pytest.fixture
def jira(server_url: str) -> JIRA:
    httpx.post(f"{server_url}/__sandbox__/reset").raise_for_status()
    return JIRA(server=server_url, basic_auth=(DEMO_EMAIL, DEMO_API_TOKEN), options={"rest_api_version": "3"})


def test_the_client_reads_the_changelog_through_expand(jira: JIRA) -> None:
    jira.transition_issue("DEMO-1", "11")
    jira.issue("DEMO-1").update(fields={"summary": "From the client"}, notify=True)

    issue = jira.issue("DEMO-1", expand="changelog,renderedFields")

    histories = issue.changelog.histories
    assert [(i.field, i.fromString, i.toString) for h in histories for i in h.items] == [
        ("status", "To Do", "In Progress"),
        ("summary", "Checkout page times out", "From the client"),
    ]
    assert histories[0].author.accountId == DEMO_ACCOUNT_ID
    assert issue.renderedFields.description == "<p>Checkout page times out.</p>"
    found = jira.search_issues('status WAS "In Progress" AND project = DEMO', expand="changelog")
    assert sorted(i.key for i in found) == ["DEMO-1", "DEMO-2"]
