from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandboxes.jira.jira_support import API, create_issue, status_of
from ticketbridge.sandboxes.jira.bulk_tasks import BulkQueue, TaskStatus

pytestmark = pytest.mark.anyio


async def seed_issues(client: httpx.AsyncClient, count: int) -> list[str]:
    specs = [{"project": "DEMO", "summary": f"bulk {n}"} for n in range(count)]
    response = await client.post("/__sandbox__/seed", json={"issues": specs})
    assert response.status_code == 200, response.text
    keys: list[str] = response.json()["keys"]
    return keys


async def submit_transition(client: httpx.AsyncClient, keys: list[str], transition_id: str) -> httpx.Response:
    body = {
        "bulkTransitionInputs": [{"selectedIssueIdsOrKeys": keys, "transitionId": transition_id}],
        "sendBulkNotification": False,
    }
    return await client.post(f"{API}/bulk/issues/transition", json=body)


async def poll(client: httpx.AsyncClient, task_id: str) -> dict[str, Any]:
    response = await client.get(f"{API}/bulk/queue/{task_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_available_transitions_are_grouped_by_workflow(client: httpx.AsyncClient) -> None:
    demo = await create_issue(client)
    ops = await create_issue(client, project="OPS")

    response = await client.get(f"{API}/bulk/issues/transition", params={"issueIdsOrKeys": f"{demo},{ops}"})

    assert response.status_code == 200
    groups = {tuple(g["issues"]): g for g in response.json()["availableTransitions"]}
    assert groups[(demo,)]["transitions"] == [
        {
            "transitionId": 11,
            "transitionName": "Start Progress",
            "to": {"statusId": 3, "statusName": "In Progress"},
        }
    ]
    assert groups[(ops,)]["transitions"][0]["transitionName"] == "Start Work"


async def test_available_transitions_keep_only_those_common_to_the_group(client: httpx.AsyncClient) -> None:
    todo = await create_issue(client)
    started = await create_issue(client)
    await client.post(f"{API}/issue/{started}/transitions", json={"transition": {"id": "11"}})

    response = await client.get(f"{API}/bulk/issues/transition", params={"issueIdsOrKeys": f"{todo},{started}"})

    (group,) = response.json()["availableTransitions"]
    assert group["transitions"] == []
    assert group["isTransitionsFiltered"] is True


async def test_invalid_keys_in_available_transitions_answer_the_bulk_error_shape(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"{API}/bulk/issues/transition", params={"issueIdsOrKeys": "DEMO-1,NOPE-9"})

    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": "Some of the issues in the issueIdsOrKeys are not valid"}]}


async def test_bulk_transition_progresses_step_by_step_and_reports_failures(
    client: httpx.AsyncClient,
) -> None:
    keys = await seed_issues(client, 24)
    await client.post(f"{API}/issue/{keys[5]}/transitions", json={"transition": {"id": "11"}})

    submitted = await submit_transition(client, [*keys, "DEMO-99999"], "11")

    assert submitted.status_code == 201
    task_id = submitted.json()["taskId"]
    snapshots = [await poll(client, task_id) for _ in range(3)]
    assert [(s["status"], s["progressPercent"]) for s in snapshots] == [
        ("RUNNING", 41),
        ("RUNNING", 83),
        ("COMPLETE", 100),
    ]
    final = snapshots[-1]
    assert final["totalIssueCount"] == 25
    assert final["invalidOrInaccessibleIssueCount"] == 1
    failed_id = (await client.get(f"{API}/issue/{keys[5]}")).json()["id"]
    assert list(final["failedAccessibleIssues"]) == [failed_id]
    assert len(final["processedAccessibleIssues"]) == 23
    assert all(isinstance(i, int) for i in final["processedAccessibleIssues"])
    assert isinstance(final["created"], int) and final["started"] >= final["created"]
    assert await status_of(client, keys[0]) == "In Progress"


async def test_only_five_bulk_tasks_run_at_once(client: httpx.AsyncClient) -> None:
    # Every request advances running tasks a step of 10 issues: 100-issue tasks outlive the submissions.
    seeded = (await client.post("/__sandbox__/seed", json={"issues": 500, "project": "DEMO"})).json()
    first = int(seeded["first_key"].split("-")[1])
    keys = [f"DEMO-{n}" for n in range(first, first + 500)]
    batches = [keys[i : i + 100] for i in range(0, 500, 100)]

    accepted = [await submit_transition(client, batch, "11") for batch in batches]
    refused = await submit_transition(client, keys[:1], "11")

    assert [r.status_code for r in accepted] == [201] * 5
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert "errors" in refused.json()
    for response in accepted:
        while (await poll(client, response.json()["taskId"]))["status"] != "COMPLETE":
            pass
    assert (await submit_transition(client, keys[:1], "21")).status_code == 201


async def test_bulk_edit_applies_labels_and_priority(client: httpx.AsyncClient) -> None:
    keys = await seed_issues(client, 3)
    body = {
        "selectedActions": ["labels", "priority"],
        "selectedIssueIdsOrKeys": keys,
        "editedFieldsInput": {
            "labelsFields": [
                {"fieldId": "labels", "labels": [{"name": "bulk"}], "bulkEditMultiSelectFieldOption": "ADD"}
            ],
            "priority": {"priorityId": "1"},
        },
    }

    submitted = await client.post(f"{API}/bulk/issues/fields", json=body)
    progress = await poll(client, submitted.json()["taskId"])

    assert submitted.status_code == 201
    assert progress["status"] == "COMPLETE"
    fields = (await client.get(f"{API}/issue/{keys[2]}")).json()["fields"]
    assert fields["labels"] == ["bulk"]
    assert fields["priority"]["name"] == "Highest"


async def test_bulk_edit_refuses_inputs_not_listed_as_actions(client: httpx.AsyncClient) -> None:
    body = {
        "selectedActions": ["priority"],
        "selectedIssueIdsOrKeys": ["DEMO-1"],
        "editedFieldsInput": {"issueType": {"issueTypeId": "10002"}, "priority": {"priorityId": "1"}},
    }

    response = await client.post(f"{API}/bulk/issues/fields", json=body)

    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"message": "The following editedFieldInput values are not listed as selectedActions : issuetype"}]
    }


async def test_bulk_edit_reports_per_issue_failures(client: httpx.AsyncClient) -> None:
    ops = await create_issue(client, project="OPS")
    demo = await create_issue(client)
    body = {
        "selectedActions": ["issuetype"],
        "selectedIssueIdsOrKeys": [demo, ops],
        "editedFieldsInput": {"issueType": {"issueTypeId": "10003"}},
    }

    task_id = (await client.post(f"{API}/bulk/issues/fields", json=body)).json()["taskId"]
    progress = await poll(client, task_id)

    ops_id = (await client.get(f"{API}/issue/{ops}")).json()["id"]
    assert progress["status"] == "COMPLETE"
    assert list(progress["failedAccessibleIssues"]) == [ops_id]
    assert (await client.get(f"{API}/issue/{demo}")).json()["fields"]["issuetype"]["name"] == "Story"


async def test_unknown_task_answers_the_documented_400(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/bulk/queue/424242")

    assert response.status_code == 400
    assert list(response.json()) == ["errors"]


async def test_more_than_1000_issues_are_refused(client: httpx.AsyncClient) -> None:
    response = await submit_transition(client, [f"DEMO-{n}" for n in range(1001)], "11")

    assert response.status_code == 400
    assert "1000" in response.json()["errors"][0]["message"]


def test_with_a_step_interval_tasks_advance_with_wall_clock_time() -> None:
    now = [1_000]
    done: list[int] = []

    def record(issue_id: int) -> list[str]:
        done.append(issue_id)
        return []

    queue = BulkQueue(step_issues=2, step_ms=100, max_active=5, clock_ms=lambda: now[0])
    task = queue.submit("someone", [1, 2, 3, 4, 5, 6], record, 0)

    queue.advance()
    after_first = list(done)
    now[0] += 50
    queue.advance()
    after_half_interval = list(done)
    now[0] += 150
    queue.advance()

    assert after_first == [1, 2]
    assert after_half_interval == [1, 2]
    assert done == [1, 2, 3, 4, 5, 6]
    assert task.status is TaskStatus.COMPLETE


async def test_bulk_editable_fields_list_what_bulk_edit_applies(client: httpx.AsyncClient) -> None:
    every = await client.get(f"{API}/bulk/issues/fields", params={"issueIdsOrKeys": "DEMO-1,OPS-1"})
    searched = await client.get(f"{API}/bulk/issues/fields", params={"issueIdsOrKeys": "DEMO-1", "searchText": "PRIO"})

    fields = {f["id"]: f for f in every.json()["fields"]}
    assert every.status_code == 200
    assert set(fields) == {"assignee", "description", "environment", "issuetype", "labels", "priority", "reporter",
                           "summary"}  # fmt: skip
    assert fields["labels"]["multiSelectFieldOptions"] == ["ADD", "REMOVE", "REPLACE", "REMOVE_ALL"]
    assert fields["assignee"]["searchUrl"].endswith("/user/assignable/multiProjectSearch?projectKeys=DEMO,OPS&query=")
    assert [o["priority"] for o in fields["priority"]["fieldOptions"]][:2] == ["Highest", "High"]
    assert [f["id"] for f in searched.json()["fields"]] == ["priority"]
