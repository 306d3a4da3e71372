"""REST v2 and `latest`: the v3 operations with strings where v3 has Atlassian Document Format."""

from __future__ import annotations

import httpx
import pytest

from tests.sandboxes.jira.jira_support import API, adf, issue_fields
from ticketbridge.sandboxes.jira.versions import adf_to_text, text_to_adf

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("version", ["2", "latest"])
async def test_v2_and_latest_take_and_give_strings(client: httpx.AsyncClient, version: str) -> None:
    v2 = f"/rest/api/{version}"
    created = await client.post(f"{v2}/issue", json={"fields": issue_fields(description="One\ntwo\n\nThree")})
    key = created.json()["key"]

    as_v2 = (await client.get(f"{v2}/issue/{key}", params={"fields": "description"})).json()
    as_v3 = (await client.get(f"{API}/issue/{key}", params={"fields": "description"})).json()

    assert created.status_code == 201
    assert created.json()["self"].startswith(f"http://jira.test{v2}/issue/")
    assert as_v2["fields"]["description"] == "One\ntwo\n\nThree"
    assert as_v2["self"] == f"http://jira.test{v2}/issue/{as_v2['id']}"
    assert as_v3["fields"]["description"] == text_to_adf("One\ntwo\n\nThree")


async def test_v2_comments_edits_and_transitions_with_strings(client: httpx.AsyncClient) -> None:
    v2 = "/rest/api/2"

    added = await client.post(f"{v2}/issue/DEMO-1/comment", json={"body": "Plain"})
    edited = await client.put(
        f"{v2}/issue/DEMO-1",
        json={"update": {"description": [{"set": "Set by update"}], "comment": [{"add": {"body": "Via update"}}]}},
    )
    moved = await client.post(
        f"{v2}/issue/DEMO-1/transitions",
        json={"transition": {"id": "11"}, "update": {"comment": [{"add": {"body": "Moving"}}]}},
    )
    issue = (await client.get(f"{v2}/issue/DEMO-1", params={"fields": "description,comment,status"})).json()

    assert (added.status_code, edited.status_code, moved.status_code) == (201, 204, 204)
    assert added.json()["body"] == "Plain"
    assert issue["fields"]["description"] == "Set by update"
    assert [c["body"] for c in issue["fields"]["comment"]["comments"]] == ["Plain", "Via update", "Moving"]
    assert issue["fields"]["status"]["name"] == "In Progress"


async def test_v2_empty_description_clears_it(client: httpx.AsyncClient) -> None:
    await client.put(f"{API}/issue/DEMO-1", json={"fields": {"description": adf("something")}})

    cleared = await client.put("/rest/api/2/issue/DEMO-1", json={"fields": {"description": ""}})
    issue = (await client.get("/rest/api/2/issue/DEMO-1", params={"fields": "description"})).json()

    assert cleared.status_code == 204
    assert issue["fields"]["description"] is None


async def test_v2_bulk_create_and_search_answer_text(client: httpx.AsyncClient) -> None:
    body = {"issueUpdates": [{"fields": issue_fields("bulk v2", description="Bulk text")}]}

    created = await client.post("/rest/api/2/issue/bulk", json=body)
    found = await client.post(
        "/rest/api/2/search/jql", json={"jql": 'summary ~ "bulk v2"', "fields": ["description", "summary"]}
    )

    assert created.status_code == 201
    assert [i["fields"]["description"] for i in found.json()["issues"]] == ["Bulk text"]


async def test_v2_errors_counts_and_removed_search_are_v3s(client: httpx.AsyncClient) -> None:
    await client.delete("/__sandbox__/calls")

    missing = await client.get("/rest/api/2/issue/DEMO-404")
    removed = await client.get("/rest/api/latest/search")
    calls = (await client.get("/__sandbox__/calls")).json()

    assert missing.status_code == 404
    assert missing.json()["errorMessages"] == ["Issue does not exist or you do not have permission to see it."]
    assert removed.status_code == 410
    assert calls == {"getIssue": 1, "searchForIssuesUsingJql": 1}


def test_text_and_documents_convert_simply() -> None:
    document = {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Title"}]},
            {"type": "bulletList", "content": [
                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "a"}]}]},
                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "b"}]}]},
            ]},
        ],
    }  # fmt: skip

    assert adf_to_text(document) == "Title\n\n* a\n* b"
    assert text_to_adf("") is None
    assert text_to_adf("\n\n") is None
    doc = text_to_adf("x\ny")
    assert doc is not None and adf_to_text(doc) == "x\ny"
