from __future__ import annotations

import httpx
import pytest

from tests.sandboxes.jira.jira_support import API, adf, create_issue, issue_fields

pytestmark = pytest.mark.anyio


async def test_create_returns_id_key_and_self_and_the_issue_reads_back(client: httpx.AsyncClient) -> None:
    fields = issue_fields(description=adf("It smokes."), labels=["tb-123"], priority={"id": "2"})
    response = await client.post(f"{API}/issue", json={"fields": fields})

    assert response.status_code == 201
    created = response.json()
    assert set(created) == {"id", "key", "self"}
    assert created["key"].startswith("DEMO-")
    assert created["self"] == f"http://jira.test{API}/issue/{created['id']}"
    issue = (await client.get(f"{API}/issue/{created['key'].lower()}")).json()
    assert issue["id"] == created["id"]
    assert issue["fields"]["summary"] == "Printer on fire"
    assert issue["fields"]["status"]["name"] == "To Do"
    assert issue["fields"]["status"]["statusCategory"] == {
        "self": f"http://jira.test{API}/statuscategory/2",
        "id": 2,
        "key": "new",
        "colorName": "blue-gray",
        "name": "To Do",
    }
    assert issue["fields"]["priority"]["name"] == "High"
    assert issue["fields"]["labels"] == ["tb-123"]
    assert issue["fields"]["description"] == adf("It smokes.")
    assert issue["fields"]["created"].endswith("+0000")


async def test_plain_string_description_is_rejected_with_jiras_adf_message(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/issue", json={"fields": issue_fields(description="just text")})

    assert response.status_code == 400
    assert response.json() == {
        "errorMessages": [],
        "errors": {"description": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"},
    }


async def test_status_cannot_be_set_at_create(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/issue", json={"fields": issue_fields(status={"name": "Done"})})

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "status": "Field 'status' cannot be set. It is not on the appropriate screen, or unknown."
    }


async def test_missing_summary_and_type_are_reported_per_field(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/issue", json={"fields": {"project": {"key": "DEMO"}}})

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "issuetype": "Specify an issue type",
        "summary": "You must specify a summary of the issue.",
    }


async def test_create_with_a_transition_lands_in_its_target_status(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/issue", json={"fields": issue_fields(), "transition": {"id": "11"}})

    assert response.status_code == 201
    assert response.json()["transition"]["status"] == 200
    issue = (await client.get(f"{API}/issue/{response.json()['key']}")).json()
    assert issue["fields"]["status"]["name"] == "In Progress"


async def test_bulk_create_partial_failure_keeps_input_order_and_indexes(client: httpx.AsyncClient) -> None:
    updates = [
        {"fields": issue_fields("first")},
        {"fields": issue_fields("")},
        {"fields": issue_fields("third")},
        {"fields": issue_fields("fourth", description="plain")},
    ]
    response = await client.post(f"{API}/issue/bulk", json={"issueUpdates": updates})

    assert response.status_code == 201
    body = response.json()
    summaries = [(await client.get(f"{API}/issue/{i['key']}")).json()["fields"]["summary"] for i in body["issues"]]
    assert summaries == ["first", "third"]
    assert [e["failedElementNumber"] for e in body["errors"]] == [1, 3]
    assert body["errors"][0] == {
        "status": 400,
        "failedElementNumber": 1,
        "elementErrors": {
            "errorMessages": [],
            "errors": {"summary": "You must specify a summary of the issue."},
        },
    }


async def test_bulk_create_with_every_element_failing_answers_400(client: httpx.AsyncClient) -> None:
    updates = [{"fields": issue_fields(project="NOPE")}, {"fields": issue_fields(issuetype={"id": "999"})}]
    response = await client.post(f"{API}/issue/bulk", json={"issueUpdates": updates})

    assert response.status_code == 400
    body = response.json()
    assert body["issues"] == []
    assert [e["failedElementNumber"] for e in body["errors"]] == [0, 1]
    assert body["errors"][1]["elementErrors"]["errors"] == {"issuetype": "The issue type selected is invalid."}


async def test_bulk_create_refuses_more_than_50(client: httpx.AsyncClient) -> None:
    updates = [{"fields": issue_fields(f"n{i}")} for i in range(51)]
    response = await client.post(f"{API}/issue/bulk", json={"issueUpdates": updates})

    assert response.status_code == 400
    body = response.json()
    assert body["issues"] == []
    assert [e["failedElementNumber"] for e in body["errors"]] == list(range(51))
    assert "50" in body["errors"][0]["elementErrors"]["errorMessages"][0]
    count = (await client.get("/__sandbox__/issues/count", params={"project": "DEMO"})).json()["count"]
    assert count == 3


async def test_edit_applies_fields_and_label_operations_and_bumps_updated(client: httpx.AsyncClient) -> None:
    key = await create_issue(client, labels=["keep", "drop"])
    before = (await client.get(f"{API}/issue/{key}")).json()["fields"]["updated"]

    response = await client.put(
        f"{API}/issue/{key}",
        json={"fields": {"summary": "Renamed"}, "update": {"labels": [{"add": "new"}, {"remove": "drop"}]}},
    )

    assert response.status_code == 204
    fields = (await client.get(f"{API}/issue/{key}")).json()["fields"]
    assert fields["summary"] == "Renamed"
    assert fields["labels"] == ["keep", "new"]
    assert fields["updated"] >= before


async def test_edit_rejects_unknown_fields_and_leaves_the_issue_alone(client: httpx.AsyncClient) -> None:
    key = await create_issue(client)

    response = await client.put(f"{API}/issue/{key}", json={"fields": {"summary": "changed", "customfield_99999": "x"}})

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "customfield_99999": (
            "Field 'customfield_99999' cannot be set. It is not on the appropriate screen, or unknown."
        )
    }
    assert (await client.get(f"{API}/issue/{key}")).json()["fields"]["summary"] == "Printer on fire"


async def test_edit_with_return_issue_answers_200_with_the_issue(client: httpx.AsyncClient) -> None:
    key = await create_issue(client)

    response = await client.put(
        f"{API}/issue/{key}", params={"returnIssue": "true"}, json={"fields": {"summary": "Returned"}}
    )

    assert response.status_code == 200
    assert response.json()["fields"]["summary"] == "Returned"


async def test_missing_issue_answers_jiras_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/issue/DEMO-999")

    assert response.status_code == 404
    assert response.json() == {
        "errorMessages": ["Issue does not exist or you do not have permission to see it."],
        "errors": {},
    }


async def test_delete_removes_the_issue_and_its_subtasks_only_when_asked(client: httpx.AsyncClient) -> None:
    parent = await create_issue(client)
    child = await create_issue(client, issuetype={"id": "10005"}, parent={"key": parent})

    refused = await client.delete(f"{API}/issue/{parent}")
    deleted = await client.delete(f"{API}/issue/{parent}", params={"deleteSubtasks": "true"})

    assert refused.status_code == 400
    assert deleted.status_code == 204
    assert (await client.get(f"{API}/issue/{child}")).status_code == 404


async def test_subtask_needs_a_parent(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/issue", json={"fields": issue_fields(issuetype={"name": "Sub-task"})})

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"parent"}


async def test_comments_take_adf_and_are_listed(client: httpx.AsyncClient) -> None:
    key = await create_issue(client)

    added = await client.post(f"{API}/issue/{key}/comment", json={"body": adf("Looking into it")})
    refused = await client.post(f"{API}/issue/{key}/comment", json={"body": "plain"})
    listed = (await client.get(f"{API}/issue/{key}/comment")).json()

    assert added.status_code == 201
    assert added.json()["body"] == adf("Looking into it")
    assert refused.status_code == 400
    assert listed["total"] == 1
    assert listed["comments"][0]["id"] == added.json()["id"]


async def test_fields_parameter_limits_and_excludes_fields(client: httpx.AsyncClient) -> None:
    key = await create_issue(client)

    only = (await client.get(f"{API}/issue/{key}", params=[("fields", "summary"), ("fields", "labels")])).json()
    without = (await client.get(f"{API}/issue/{key}", params={"fields": "*all,-description"})).json()

    assert set(only["fields"]) == {"summary", "labels"}
    assert "description" not in without["fields"]
    assert "status" in without["fields"]


async def test_assign_sets_and_clears_the_assignee(client: httpx.AsyncClient) -> None:
    key = await create_issue(client)

    assigned = await client.put(f"{API}/issue/{key}/assignee", json={"accountId": "5b109f2e9729b51b54dc274d"})
    name = (await client.get(f"{API}/issue/{key}")).json()["fields"]["assignee"]["displayName"]
    unknown = await client.put(f"{API}/issue/{key}/assignee", json={"accountId": "nobody"})
    cleared = await client.put(f"{API}/issue/{key}/assignee", json={"accountId": None})

    assert (assigned.status_code, name, unknown.status_code, cleared.status_code) == (
        204,
        "Mia Krystof",
        400,
        204,
    )
    assert (await client.get(f"{API}/issue/{key}")).json()["fields"]["assignee"] is None
