"""`/search/jql` paging as Jira does it: signed tokens bound to the query, expiring; `maxResults: 0`; `*all`."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.sandboxes.jira.conftest import BASE_URL
from ticketbridge.sandboxes.faults import SandboxTransport
from ticketbridge.sandboxes.jira import (
    DEMO_API_TOKEN,
    DEMO_EMAIL,
    OUTSIDER_API_TOKEN,
    OUTSIDER_EMAIL,
    JiraSandboxConfig,
    RateLimitConfig,
    create_app,
)
from ticketbridge.sandboxes.jira.search import BAD_TOKEN, sign_token, token_binding
from ticketbridge.sandboxes.jira.state import CustomField

pytestmark = pytest.mark.anyio
JQL = "project = DEMO ORDER BY key ASC"
SEARCH = "/rest/api/3/search/jql"


async def _search(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post(SEARCH, json={"jql": JQL, "maxResults": 1} | body)


async def _first_token(client: httpx.AsyncClient, **body: Any) -> str:
    token: str = (await _search(client, **body)).json()["nextPageToken"]
    return token


def _refused(response: httpx.Response) -> bool:
    return response.status_code == 400 and response.json() == {"errorMessages": [BAD_TOKEN], "errors": {}}


async def test_tokens_walk_the_query_they_were_issued_for(client: httpx.AsyncClient) -> None:
    token = await _first_token(client, fields=["summary"])

    second = await _search(client, fields=["summary"], nextPageToken=token)
    by_get = await client.get(SEARCH, params={"jql": JQL, "maxResults": 1, "fields": "summary", "nextPageToken": token})

    assert [i["key"] for i in second.json()["issues"]] == ["DEMO-2"]
    assert by_get.json()["issues"] == second.json()["issues"]
    assert "." in token and "DEMO" not in token


async def test_a_token_is_bound_to_the_jql_the_fields_and_the_user(client: httpx.AsyncClient) -> None:
    token = await _first_token(client, fields=["summary"])

    other_jql = await _search(client, jql="project = DEMO ORDER BY key DESC", fields=["summary"], nextPageToken=token)
    other_fields = await _search(client, fields=["status"], nextPageToken=token)
    outsider = await client.post(
        SEARCH,
        json={"jql": JQL, "maxResults": 1, "fields": ["summary"], "nextPageToken": token},
        auth=(OUTSIDER_EMAIL, OUTSIDER_API_TOKEN),
    )

    assert _refused(other_jql) and _refused(other_fields) and _refused(outsider)


async def test_forged_and_foreign_tokens_are_refused(client: httpx.AsyncClient) -> None:
    token = await _first_token(client)
    payload, _, signature = token.partition(".")
    other_sandbox = create_app(JiraSandboxConfig(base_url=BASE_URL, search_lag_ms=0))
    async with httpx.AsyncClient(
        transport=SandboxTransport(other_sandbox), base_url=BASE_URL, auth=(DEMO_EMAIL, DEMO_API_TOKEN)
    ) as other:
        foreign = await _search(other, nextPageToken=token)

    tampered = await _search(client, nextPageToken=payload[:-2] + "AA." + signature)
    garbage = await _search(client, nextPageToken="not-a-token")

    assert _refused(foreign) and _refused(tampered) and _refused(garbage)


async def test_tokens_expire_after_seven_days_by_default(app: FastAPI, client: httpx.AsyncClient) -> None:
    runtime = app.state.runtime
    me = next(u for u in runtime.site.users.values() if u.email == DEMO_EMAIL)
    binding = token_binding(me, JQL, {"id"})
    week = 7 * 24 * 3600
    fresh = sign_token(runtime, binding, 1, issued_at=time.time() - week + 60)
    stale = sign_token(runtime, binding, 1, issued_at=time.time() - week - 60)

    assert runtime.config.page_token_ttl_seconds == week
    assert [i["id"] for i in (await _search(client, nextPageToken=fresh)).json()["issues"]] == ["10001"]
    assert _refused(await _search(client, nextPageToken=stale))


async def test_the_token_lifetime_is_configurable() -> None:
    config = JiraSandboxConfig(
        base_url=BASE_URL, search_lag_ms=0, page_token_ttl_seconds=1, rate_limits=RateLimitConfig(enabled=False)
    )
    app = create_app(config)
    async with httpx.AsyncClient(
        transport=SandboxTransport(app), base_url=BASE_URL, auth=(DEMO_EMAIL, DEMO_API_TOKEN)
    ) as client:
        runtime = app.state.runtime
        me = next(u for u in runtime.site.users.values() if u.email == DEMO_EMAIL)
        stale = sign_token(runtime, token_binding(me, JQL, {"id"}), 1, issued_at=time.time() - 2)

        assert _refused(await _search(client, nextPageToken=stale))


async def test_max_results_zero_answers_no_issues_and_no_next_page(client: httpx.AsyncClient) -> None:
    posted = await _search(client, maxResults=0)
    got = await client.get(SEARCH, params={"jql": JQL, "maxResults": 0})
    bad_jql = await _search(client, maxResults=0, jql="project = = DEMO")

    assert posted.json() == {"issues": [], "isLast": True}
    assert got.json() == {"issues": [], "isLast": True}
    assert bad_jql.status_code == 400


async def test_all_and_navigable_return_every_field_custom_fields_included(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    site = app.state.runtime.site
    site.custom_fields["customfield_10100"] = CustomField("customfield_10100", "Team", "text")
    issue = site.issue("DEMO-1")
    issue.custom = {"customfield_10100": "Platform"}
    site.reindex(issue)
    every = (await client.get("/rest/api/3/issue/DEMO-1")).json()["fields"]

    for selection in (["*all"], ["*navigable"], ["*all,-comment"]):
        found = (await _search(client, jql="key = DEMO-1", fields=selection)).json()["issues"][0]["fields"]
        expected = set(every) - ({"comment"} if selection != ["*all"] else set())

        assert expected <= set(found), selection
        assert found["customfield_10100"] == "Platform"


async def test_exclusions_alone_mean_navigable_minus_them(client: httpx.AsyncClient) -> None:
    found = (await _search(client, fields=["-description"])).json()["issues"][0]["fields"]

    assert "description" not in found
    assert {"summary", "status", "assignee"} <= set(found)
