"""JQL naming an issue that does not exist (deleted, never created, or in a project the caller cannot
see) is refused whole, as Jira refuses it: 400 "An issue with key 'X' does not exist for field 'F'.",
for keys and ids alike (Jira names an id a key in this message), with `=`, `in` and `not in`."""

from __future__ import annotations

import httpx
import pytest

from tests.sandboxes.jira.jira_support import API, create_issue
from ticketbridge.sandboxes.jira import OUTSIDER_API_TOKEN, OUTSIDER_EMAIL

pytestmark = pytest.mark.anyio


async def _search(client: httpx.AsyncClient, jql: str, **kwargs: object) -> httpx.Response:
    return await client.post(f"{API}/search/jql", json={"jql": jql, "fields": ["key"]}, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def deleted(client: httpx.AsyncClient) -> tuple[str, str]:
    """The key and id of an issue that existed and was deleted."""
    key = await create_issue(client, summary="Short-lived")
    issue_id: str = (await client.get(f"{API}/issue/{key}")).json()["id"]
    assert (await client.delete(f"{API}/issue/{key}")).status_code == 204
    return key, issue_id


@pytest.mark.parametrize(
    ("template", "field", "named"),
    [
        ("id in (10000, {id})", "id", "id"),
        ("id not in (10000, {id})", "id", "id"),
        ("project = DEMO AND id not in ({id})", "id", "id"),
        ("id = {id}", "id", "id"),
        ("key in (DEMO-1, {key})", "key", "key"),
        ("key not in ({key})", "key", "key"),
        ("issue = {key}", "issue", "key"),
        ("issuekey != {key}", "issuekey", "key"),
        ("parent = {key}", "parent", "key"),
    ],
)
async def test_a_deleted_issue_is_refused_by_key_and_id(
    client: httpx.AsyncClient, deleted: tuple[str, str], template: str, field: str, named: str
) -> None:
    key, issue_id = deleted
    value = key if named == "key" else issue_id

    response = await _search(client, template.format(key=key, id=issue_id))

    assert response.status_code == 400
    assert response.json() == {
        "errorMessages": [f"An issue with key '{value}' does not exist for field '{field}'."],
        "errors": {},
    }


async def test_every_missing_issue_is_named_and_counting_refuses_too(
    client: httpx.AsyncClient, deleted: tuple[str, str]
) -> None:
    key, issue_id = deleted
    jql = f"id not in ({issue_id}, 99999) OR key = {key}"

    search = await _search(client, jql)
    count = await client.post(f"{API}/search/approximate-count", json={"jql": jql})

    expected = [
        f"An issue with key '{issue_id}' does not exist for field 'id'.",
        "An issue with key '99999' does not exist for field 'id'.",
        f"An issue with key '{key}' does not exist for field 'key'.",
    ]
    assert (search.status_code, search.json()["errorMessages"]) == (400, expected)
    assert (count.status_code, count.json()["errorMessages"]) == (400, expected)


async def test_existing_ids_and_keys_still_match(client: httpx.AsyncClient, deleted: tuple[str, str]) -> None:
    response = await _search(client, "id in (10000, 10001) OR key = DEMO-3 OR id > 0 ORDER BY key ASC")

    assert response.status_code == 200
    assert [i["key"] for i in response.json()["issues"]] == ["DEMO-1", "DEMO-2", "DEMO-3", "OPS-1", "OPS-2"]


async def test_an_issue_the_caller_cannot_see_is_unknown_to_them(client: httpx.AsyncClient) -> None:
    outsider = await _search(client, "key in (DEMO-1, OPS-1)", auth=(OUTSIDER_EMAIL, OUTSIDER_API_TOKEN))
    admin = await _search(client, "key in (DEMO-1, OPS-1)")

    assert outsider.status_code == 400
    assert outsider.json()["errorMessages"] == ["An issue with key 'OPS-1' does not exist for field 'key'."]
    assert admin.status_code == 200
