from __future__ import annotations

import time

import httpx
import pytest

from tests.sandboxes.jira.jira_support import API, create_issue
from ticketbridge.sandboxes.jira import DEMO_API_TOKEN, DEMO_EMAIL

pytestmark = pytest.mark.anyio
DEMO_AUTH = (DEMO_EMAIL, DEMO_API_TOKEN)


async def walk(client: httpx.AsyncClient, jql: str, page_size: int) -> list[list[str]]:
    pages, token = [], None
    while True:
        body = {"jql": jql, "maxResults": page_size, "fields": ["summary"]} | (
            {"nextPageToken": token} if token else {}
        )
        response = await client.post(f"{API}/search/jql", json=body)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append([issue["key"] for issue in page["issues"]])
        if page["isLast"]:
            assert "nextPageToken" not in page
            return pages
        token = page["nextPageToken"]


async def test_token_paging_walks_every_match_once(client: httpx.AsyncClient) -> None:
    await client.post("/__sandbox__/seed", json={"issues": 23, "project": "DEMO"})

    pages = await walk(client, "project = DEMO AND labels = generated ORDER BY key ASC", 10)

    assert [len(p) for p in pages] == [10, 10, 3]
    keys = [k for p in pages for k in p]
    assert len(set(keys)) == 23
    assert keys == sorted(keys, key=lambda k: int(k.split("-")[1]))


async def test_labels_are_searchable_for_idempotency_markers(client: httpx.AsyncClient) -> None:
    key = await create_issue(client, labels=["tb-marker-42"])
    await create_issue(client, labels=["tb-marker-43"])

    response = await client.post(f"{API}/search/jql", json={"jql": 'labels = "tb-marker-42"', "fields": ["key"]})

    assert [i["key"] for i in response.json()["issues"]] == [key]


async def test_a_write_is_visible_to_the_next_search(client: httpx.AsyncClient) -> None:
    key = await create_issue(client, summary="Findable")
    await client.put(f"{API}/issue/{key}", json={"update": {"labels": [{"add": "later"}]}})

    response = await client.get(f"{API}/search/jql", params={"jql": "labels = later"})

    assert [i["id"] for i in response.json()["issues"]] == [(await client.get(f"{API}/issue/{key}")).json()["id"]]


async def test_default_fields_are_ids_only_and_repeated_fields_params_work(client: httpx.AsyncClient) -> None:
    plain = (await client.get(f"{API}/search/jql", params={"jql": "project = DEMO"})).json()
    chosen = (
        await client.get(
            f"{API}/search/jql",
            params=[("jql", "project = DEMO"), ("fields", "summary"), ("fields", "status")],
        )
    ).json()

    assert all("fields" not in issue for issue in plain["issues"])
    assert plain["isLast"] is True
    assert {frozenset(i["fields"]) for i in chosen["issues"]} == {frozenset({"summary", "status"})}


async def test_post_tolerates_the_nulls_the_jira_client_sends(client: httpx.AsyncClient) -> None:
    body = {
        "jql": "project = DEMO",
        "expand": None,
        "properties": None,
        "reconcileIssues": [],
        "fields": ["*all"],
    }

    response = await client.post(f"{API}/search/jql", json=body)

    assert response.status_code == 200
    assert len(response.json()["issues"]) == 3


async def test_invalid_jql_answers_jiras_400(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/search/jql", json={"jql": "project = NOPE"})

    assert response.status_code == 400
    body = response.json()
    assert body["errors"] == {}
    assert body["errorMessages"] and "NOPE" in body["errorMessages"][0]


async def test_unbounded_jql_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/search/jql", json={"jql": "ORDER BY key DESC"})

    assert response.status_code == 400
    assert response.json()["errorMessages"] == [
        "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
    ]


async def test_a_token_from_another_query_is_refused(client: httpx.AsyncClient) -> None:
    first = (await client.post(f"{API}/search/jql", json={"jql": "project = DEMO", "maxResults": 1})).json()

    response = await client.post(
        f"{API}/search/jql", json={"jql": "project = OPS", "nextPageToken": first["nextPageToken"]}
    )

    assert response.status_code == 400


@pytest.mark.parametrize("version", ["2", "3"])
async def test_the_removed_search_answers_410(client: httpx.AsyncClient, version: str) -> None:
    response = await client.get(f"/rest/api/{version}/search", params={"jql": "project = DEMO"})

    assert response.status_code == 410
    assert response.json()["errorMessages"][0].startswith("The requested API has been removed.")


async def test_approximate_count(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/search/approximate-count", json={"jql": "project = DEMO"})

    assert response.json() == {"count": 3}


async def test_searching_100k_issues_stays_fast(client: httpx.AsyncClient) -> None:
    started = time.perf_counter()
    seeded = await client.post("/__sandbox__/seed", json={"issues": 100_000, "project": "DEMO"})
    seeded_in = time.perf_counter() - started
    started = time.perf_counter()
    page = await client.post(
        f"{API}/search/jql",
        json={"jql": "project = DEMO AND labels = bench ORDER BY created DESC", "maxResults": 100},
    )
    searched_in = time.perf_counter() - started

    assert seeded.json()["created"] == 100_000
    assert page.status_code == 200 and len(page.json()["issues"]) == 100
    assert seeded_in < 10 and searched_in < 2, (seeded_in, searched_in)


async def test_bulk_fetch_returns_visible_issues_and_lists_the_rest(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API}/issue/bulkfetch", json={"issueIdsOrKeys": ["DEMO-1", "DEMO-404"], "fields": ["summary"]}
    )

    body = response.json()
    assert [(i["key"], set(i["fields"])) for i in body["issues"]] == [("DEMO-1", {"summary"})]
    assert body["issueErrors"] == [
        {"id": "DEMO-404", "errorMessage": "Issue does not exist or you do not have permission to see it."}
    ]
