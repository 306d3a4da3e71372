"""Both PyPI clients in their default configurations against the sandbox served by uvicorn.

`atlassian-python-api`'s `Jira(cloud=True)` and the `jira` client talk to `/rest/api/2` unless told
otherwise (the `jira` client's assign uses `/rest/api/latest`, v2 on Cloud; atlassian-python-api's search
uses `/rest/api/3/search/jql`): descriptions and comments are plain strings there.
The sandbox runs with its defaults (Jira's rate limits on) except for the search lag.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from atlassian import Jira
from jira import JIRA

from tests.sandboxes.jira.test_jira_pypi_client import serve_in_thread
from ticketbridge.sandboxes.jira import DEMO_ACCOUNT_ID, DEMO_API_TOKEN, DEMO_EMAIL, JiraSandboxConfig, create_app
from ticketbridge.sandboxes.jira.demo import MIA_ACCOUNT_ID


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    yield from serve_in_thread(
        lambda url: create_app(JiraSandboxConfig(base_url=url, in_process=False, search_lag_ms=0))
    )


@pytest.fixture
def atlassian(server_url: str) -> Jira:
    httpx.post(f"{server_url}/__sandbox__/reset").raise_for_status()
    return Jira(url=server_url, username=DEMO_EMAIL, password=DEMO_API_TOKEN, cloud=True)


@pytest.fixture
def jira(server_url: str) -> JIRA:
    httpx.post(f"{server_url}/__sandbox__/reset").raise_for_status()
    return JIRA(server=server_url, basic_auth=(DEMO_EMAIL, DEMO_API_TOKEN))


def _calls(server_url: str) -> dict[str, int]:
    calls: dict[str, int] = httpx.get(f"{server_url}/__sandbox__/calls").json()
    return calls


def test_atlassian_client_creates_reads_updates_and_comments_in_plain_text(atlassian: Jira) -> None:
    created = atlassian.issue_create(
        fields={
            "project": {"key": "DEMO"},
            "issuetype": {"name": "Task"},
            "summary": "From atlassian-python-api",
            "description": "First line\nsecond line",
        }
    )
    atlassian.update_issue_field(created["key"], {"summary": "Renamed", "description": "Now this"})
    atlassian.issue_add_comment(created["key"], "A plain comment")

    issue = atlassian.issue(created["key"])

    assert created["self"].endswith(f"/rest/api/2/issue/{created['id']}")
    assert issue["fields"]["summary"] == "Renamed"
    assert issue["fields"]["description"] == "Now this"
    assert [c["body"] for c in issue["fields"]["comment"]["comments"]] == ["A plain comment"]


def test_atlassian_client_searches_assigns_and_transitions(atlassian: Jira, server_url: str) -> None:
    atlassian.assign_issue("DEMO-1", MIA_ACCOUNT_ID)
    atlassian.set_issue_status("DEMO-1", "In Progress")

    found = atlassian.jql("project = DEMO ORDER BY key ASC", fields="summary,status,assignee", limit=2)
    every = atlassian.enhanced_jql_get_list_of_tickets("project = DEMO ORDER BY key ASC", fields="key")
    issue = atlassian.issue("DEMO-1", fields="status,assignee")

    assert [i["key"] for i in found["issues"]] == ["DEMO-1", "DEMO-2"]
    assert found["isLast"] is False
    assert [i["key"] for i in every] == ["DEMO-1", "DEMO-2", "DEMO-3"]
    assert issue["fields"]["status"]["name"] == "In Progress"
    assert issue["fields"]["assignee"]["accountId"] == MIA_ACCOUNT_ID
    assert {"assignIssue", "doTransition", "searchAndReconsileIssuesUsingJql"} <= set(_calls(server_url))


def test_atlassian_client_bulk_create_gets_per_element_errors(atlassian: Jira) -> None:
    task = {"project": {"key": "DEMO"}, "issuetype": {"id": "10001"}}

    answer = atlassian.create_issues(
        [{"fields": task | {"summary": "fine", "description": "text"}}, {"fields": task | {"summary": ""}}]
    )

    assert [i["key"] for i in answer["issues"]] == ["DEMO-4"]
    assert answer["errors"][0]["failedElementNumber"] == 1


def test_jira_client_defaults_to_v2_with_string_descriptions_and_comments(jira: JIRA, server_url: str) -> None:
    issue = jira.create_issue(
        project={"key": "DEMO"}, issuetype={"name": "Task"}, summary="From jira", description="Plain *wiki*"
    )
    jira.add_comment(issue.key, "Plain comment")
    jira.transition_issue(issue.key, "11", comment="Started")  # v2 takes the comment as a string
    issue.update(description="Edited")
    jira.assign_issue(issue.key, "-1")

    fetched = jira.issue(issue.key)

    assert jira._options["rest_api_version"] == "2"
    assert fetched.fields.description == "Edited"
    assert [c.body for c in jira.comments(issue.key)] == ["Plain comment", "Started"]
    assert fetched.fields.status.name == "In Progress"
    assert fetched.fields.assignee.accountId == DEMO_ACCOUNT_ID  # DEMO's lead, its default assignee
    assert [i.key for i in jira.search_issues("project = DEMO ORDER BY key ASC", maxResults=False)] == [
        "DEMO-1",
        "DEMO-2",
        "DEMO-3",
        issue.key,
    ]


def test_jira_client_create_issues_over_50_reports_an_error_per_input(jira: JIRA) -> None:
    fields = [{"project": {"key": "DEMO"}, "summary": f"n{n}", "issuetype": {"id": "10001"}} for n in range(51)]

    results = jira.create_issues(field_list=fields)

    assert [r["status"] for r in results] == ["Error"] * 51
    assert all(r["issue"] is None for r in results)
    assert jira.search_issues("project = DEMO AND summary ~ n1", maxResults=False) == []
