"""Editing `parent` as the document allows: one level up the hierarchy (a standard issue under an epic, a
sub-task under a standard issue), Jira's error otherwise, recorded in the history and seen by search."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandboxes.jira.jira_support import API, create_issue

pytestmark = pytest.mark.anyio
HIERARCHY = "Given parent issue does not belong to appropriate hierarchy."
EPIC, SUBTASK = "10004", "10005"


async def _edit(client: httpx.AsyncClient, key: str, parent: Any) -> httpx.Response:
    return await client.put(f"{API}/issue/{key}", json={"fields": {"parent": parent}})


async def _parent_of(client: httpx.AsyncClient, key: str) -> str | None:
    fields = (await client.get(f"{API}/issue/{key}", params={"fields": "parent"})).json()["fields"]
    return fields["parent"]["key"] if fields["parent"] else None


async def _subtasks_of(client: httpx.AsyncClient, key: str) -> list[str]:
    fields = (await client.get(f"{API}/issue/{key}", params={"fields": "subtasks"})).json()["fields"]
    return [s["key"] for s in fields["subtasks"]]


@pytest.fixture
async def tree(client: httpx.AsyncClient) -> dict[str, str]:
    """Two epics, two stories (the first under the first epic) and a sub-task of the first story."""
    epic = await create_issue(client, summary="Epic A", issuetype={"id": EPIC})
    other_epic = await create_issue(client, summary="Epic B", issuetype={"id": EPIC})
    story = await create_issue(client, summary="Story", parent={"key": epic})
    other_story = await create_issue(client, summary="Other story")
    subtask = await create_issue(client, summary="Sub", issuetype={"id": SUBTASK}, parent={"key": story})
    return {"epic": epic, "other_epic": other_epic, "story": story, "other_story": other_story, "subtask": subtask}


async def test_a_standard_issue_moves_to_another_epic_by_key_or_id(
    client: httpx.AsyncClient, tree: dict[str, str]
) -> None:
    other_epic_id = (await client.get(f"{API}/issue/{tree['other_epic']}")).json()["id"]

    by_key = await _edit(client, tree["other_story"], {"key": tree["epic"]})
    by_id = await _edit(client, tree["story"], {"id": other_epic_id})

    assert (by_key.status_code, by_id.status_code) == (204, 204)
    assert await _parent_of(client, tree["other_story"]) == tree["epic"]
    assert await _parent_of(client, tree["story"]) == tree["other_epic"]
    assert await _subtasks_of(client, tree["epic"]) == [tree["other_story"]]
    assert await _subtasks_of(client, tree["other_epic"]) == [tree["story"]]


async def test_a_sub_task_moves_to_another_standard_issue(client: httpx.AsyncClient, tree: dict[str, str]) -> None:
    response = await _edit(client, tree["subtask"], {"key": tree["other_story"]})

    assert response.status_code == 204
    assert await _parent_of(client, tree["subtask"]) == tree["other_story"]
    assert await _subtasks_of(client, tree["story"]) == []
    assert await _subtasks_of(client, tree["other_story"]) == [tree["subtask"]]


async def test_null_removes_a_standard_issues_parent_but_not_a_sub_tasks(
    client: httpx.AsyncClient, tree: dict[str, str]
) -> None:
    removed = await _edit(client, tree["story"], None)
    refused = await _edit(client, tree["subtask"], None)

    assert removed.status_code == 204
    assert await _parent_of(client, tree["story"]) is None
    assert await _subtasks_of(client, tree["epic"]) == []
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"parent": "Sub-task parent is required."}


@pytest.mark.parametrize(
    ("child", "parent", "message"),
    [
        ("story", "other_story", HIERARCHY),  # a standard issue under a standard issue
        ("subtask", "epic", HIERARCHY),  # a sub-task under an epic
        ("epic", "other_epic", HIERARCHY),  # nothing above an epic here
        ("story", "story", HIERARCHY),  # its own parent
        ("other_story", "subtask", "Sub-tasks cannot have sub-tasks."),
    ],
)
async def test_a_parent_off_the_hierarchy_is_refused(
    client: httpx.AsyncClient, tree: dict[str, str], child: str, parent: str, message: str
) -> None:
    before = await _parent_of(client, tree[child])

    response = await _edit(client, tree[child], {"key": tree[parent]})

    assert response.status_code == 400
    assert response.json() == {"errorMessages": [], "errors": {"parent": message}}
    assert await _parent_of(client, tree[child]) == before


async def test_an_unknown_or_foreign_parent_is_refused(client: httpx.AsyncClient, tree: dict[str, str]) -> None:
    unknown = await _edit(client, tree["story"], {"key": "DEMO-999"})
    other_project = await _edit(client, tree["story"], {"key": "OPS-1"})

    assert unknown.json()["errors"] == {"parent": HIERARCHY}
    assert other_project.json()["errors"] == {"parent": HIERARCHY}


async def test_the_move_is_in_the_history_editmeta_and_search(client: httpx.AsyncClient, tree: dict[str, str]) -> None:
    await _edit(client, tree["story"], {"key": tree["other_epic"]})

    changelog = (await client.get(f"{API}/issue/{tree['story']}/changelog")).json()["values"]
    editmeta = (await client.get(f"{API}/issue/{tree['story']}/editmeta")).json()["fields"]
    under_b = await client.post(f"{API}/search/jql", json={"jql": f"parent = {tree['other_epic']}", "fields": ["key"]})
    epic_of_sub = await client.post(
        f"{API}/search/jql", json={"jql": f"parentEpic = {tree['other_epic']}", "fields": ["key"]}
    )

    item = changelog[-1]["items"][0]
    assert (item["field"], item["fromString"], item["toString"]) == (
        "IssueParentAssociation",
        tree["epic"],
        tree["other_epic"],
    )
    assert editmeta["parent"]["operations"] == ["set"]
    assert [i["key"] for i in under_b.json()["issues"]] == [tree["story"]]
    assert {i["key"] for i in epic_of_sub.json()["issues"]} == {tree["other_epic"], tree["story"], tree["subtask"]}


async def test_deleting_an_epic_keeps_its_children_and_a_story_its_sub_tasks_go(
    client: httpx.AsyncClient, tree: dict[str, str]
) -> None:
    assert (await client.delete(f"{API}/issue/{tree['epic']}")).status_code == 204
    story_stays = await _parent_of(client, tree["story"])
    refused = await client.delete(f"{API}/issue/{tree['story']}")  # Jira too: sub-tasks go only when asked
    assert (await client.delete(f"{API}/issue/{tree['story']}?deleteSubtasks=true")).status_code == 204

    assert story_stays is None
    assert refused.status_code == 400
    assert (await client.get(f"{API}/issue/{tree['subtask']}")).status_code == 404
