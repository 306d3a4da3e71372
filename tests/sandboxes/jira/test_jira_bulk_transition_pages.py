"""getAvailableTransitions over more than 50 workflows: 50 workflows a page, the cursors both ways, the
400s for bad cursors and too many issues, every answer valid against Atlassian's document, and the
pages walked by `atlassian-python-api`'s `JiraCloud.get_available_transitions`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from atlassian import JiraCloud
from openapi_core import OpenAPI

from tests.sandboxes.jira.conformance_support import Served
from tests.sandboxes.jira.jira_support import API
from tests.sandboxes.jira.openapi_support import Answer, validate_answer
from ticketbridge.sandboxes.jira import DEMO_ACCOUNT_ID, DEMO_API_TOKEN, DEMO_EMAIL

PATH = "/bulk/issues/transition"


def many_workflows(count: int) -> dict[str, Any]:
    """A seed of `count` workflows (To Do -11-> In Progress -21-> Done), a project on each (WF1, WF2, ...)
    and one issue in each project (WFn-1)."""
    transitions = [
        {"id": 11, "name": "Start", "to": "3", "from": ["10000"]},
        {"id": 21, "name": "Finish", "to": "10002", "from": ["3"]},
    ]
    numbers = range(1, count + 1)
    return {
        "workflows": [
            {"id": f"wf-{n}", "name": f"Flow {n}", "initial_status": "10000",
             "statuses": ["10000", "3", "10002"], "transitions": transitions}
            for n in numbers
        ],
        "projects": [
            {"id": str(30000 + n), "key": f"WF{n}", "name": f"Flow {n}", "lead": DEMO_ACCOUNT_ID,
             "issue_types": ["10001"], "workflow": f"wf-{n}"}
            for n in numbers
        ],
        "issues": [{"project": f"WF{n}", "summary": f"In flow {n}"} for n in numbers],
    }  # fmt: skip


async def available(client: httpx.AsyncClient, keys: list[str], **cursor: str) -> httpx.Response:
    return await client.get(f"{API}{PATH}", params={"issueIdsOrKeys": ",".join(keys), **cursor})


def validated(openapi: OpenAPI, response: httpx.Response) -> dict[str, Any]:
    content_type = response.headers.get("content-type", "")
    answer = Answer("GET", response.request.url.path, response.status_code, content_type, response.content)
    validate_answer(openapi, answer, PATH)
    body: dict[str, Any] = response.json()
    return body


def issues_of(page: dict[str, Any]) -> list[str]:
    return [key for group in page["availableTransitions"] for key in group["issues"]]


@pytest.mark.anyio
async def test_workflows_come_fifty_a_page_in_the_order_of_the_issues_asked(
    client: httpx.AsyncClient, jira_openapi: OpenAPI
) -> None:
    await client.post("/__sandbox__/seed", json=many_workflows(120))
    # Two issues of one workflow (DEMO) open the request; 121 workflows in all.
    keys = ["DEMO-1", "DEMO-2"] + [f"WF{n}-1" for n in range(1, 121)]

    first = validated(jira_openapi, await available(client, keys))
    second = validated(jira_openapi, await available(client, keys, startingAfter=first["startingAfter"]))
    last = validated(jira_openapi, await available(client, keys, startingAfter=second["startingAfter"]))
    back = validated(jira_openapi, await available(client, keys, endingBefore=last["endingBefore"]))

    assert [len(page["availableTransitions"]) for page in (first, second, last)] == [50, 50, 21]
    assert first["availableTransitions"][0]["issues"] == ["DEMO-1", "DEMO-2"]
    assert issues_of(first) + issues_of(second) + issues_of(last) == keys
    assert "endingBefore" not in first and "startingAfter" not in last
    assert back == second
    assert second["availableTransitions"][0]["transitions"] == [
        {"transitionId": 11, "transitionName": "Start", "to": {"statusId": 3, "statusName": "In Progress"}}
    ]


@pytest.mark.anyio
async def test_fifty_workflows_fit_one_page_without_cursors(client: httpx.AsyncClient) -> None:
    await client.post("/__sandbox__/seed", json=many_workflows(50))

    page = (await available(client, [f"WF{n}-1" for n in range(1, 51)])).json()

    assert len(page["availableTransitions"]) == 50
    assert set(page) == {"availableTransitions"}


@pytest.mark.anyio
async def test_bad_cursors_and_too_many_issues_answer_the_bulk_400(
    client: httpx.AsyncClient, jira_openapi: OpenAPI
) -> None:
    await client.post("/__sandbox__/seed", json=many_workflows(60))
    keys = [f"WF{n}-1" for n in range(1, 61)]
    cursor = (await available(client, keys)).json()["startingAfter"]

    garbage = await available(client, keys, startingAfter="%%%")
    other_issues = await available(client, ["DEMO-1"], startingAfter=cursor)
    both = await available(client, keys, startingAfter=cursor, endingBefore=cursor)
    too_many = await available(client, keys * 17)  # 1020 issues, duplicates included

    for response in (garbage, other_issues, both, too_many):
        assert response.status_code == 400, response.text
        validated(jira_openapi, response)
    assert garbage.json() == {"errors": [{"message": "The startingAfter cursor is not valid for these issues."}]}
    assert other_issues.json() == garbage.json()
    assert both.json() == {"errors": [{"message": "Only one of startingAfter and endingBefore can be given."}]}
    assert too_many.json() == {"errors": [{"message": "The number of issues must not exceed 1000."}]}


@pytest.mark.usefixtures("conformant")
def test_atlassian_cloud_client_walks_the_pages(served: Served) -> None:
    httpx.post(f"{served.url}/__sandbox__/seed", json=many_workflows(70)).raise_for_status()
    jira = JiraCloud(url=served.url, username=DEMO_EMAIL, password=DEMO_API_TOKEN)
    keys = ",".join(f"WF{n}-1" for n in range(1, 71))

    first = jira.get_available_transitions(issue_ids_or_keys=keys)
    second = jira.get_available_transitions(issue_ids_or_keys=keys, starting_after=first["startingAfter"])

    assert [len(page["availableTransitions"]) for page in (first, second)] == [50, 20]
    assert second["availableTransitions"][-1]["issues"] == ["WF70-1"]
