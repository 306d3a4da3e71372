"""The PyPI `jira` client (synchronous, on requests) against the sandbox served by uvicorn on a free port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import uvicorn
from jira import JIRA, JIRAError
from starlette.types import ASGIApp

from tests.sandboxes.jira.jira_support import adf
from ticketbridge.sandboxes.jira import DEMO_API_TOKEN, DEMO_EMAIL, JiraSandboxConfig, create_app

STARTUP_SECONDS = 10


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def serve_in_thread(build: Callable[[str], ASGIApp]) -> Iterator[str]:
    """Serves `build(url)` with uvicorn in a daemon thread on a free port; yields the URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(build(url), host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        assert time.monotonic() < deadline, "sandbox did not start"
        time.sleep(0.01)
    yield url
    server.should_exit = True
    thread.join(STARTUP_SECONDS)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    yield from serve_in_thread(lambda url: create_app(JiraSandboxConfig(base_url=url, in_process=False)))


@pytest.fixture
def jira(server_url: str) -> JIRA:
    httpx.post(f"{server_url}/__sandbox__/reset").raise_for_status()
    return JIRA(server=server_url, basic_auth=(DEMO_EMAIL, DEMO_API_TOKEN), options={"rest_api_version": "3"})


def test_the_client_sees_a_cloud_site(jira: JIRA) -> None:
    assert jira._is_cloud
    assert jira.myself()["emailAddress"] == DEMO_EMAIL


def test_create_issues_maps_partial_failures_back_to_inputs(jira: JIRA) -> None:
    fields = [
        {"project": {"key": "DEMO"}, "summary": "From the client", "issuetype": {"name": "Task"}},
        {"project": {"key": "DEMO"}, "summary": "", "issuetype": {"name": "Task"}},
        {"project": {"key": "DEMO"}, "summary": "Bug from the client", "issuetype": {"name": "Bug"}},
    ]

    results = jira.create_issues(field_list=fields)

    assert [r["status"] for r in results] == ["Success", "Error", "Success"]
    assert results[0]["issue"].fields.summary == "From the client"
    assert results[2]["issue"].fields.issuetype.name == "Bug"
    assert "summary" in results[1]["error"]


def test_search_pages_with_tokens_and_fetches_everything(jira: JIRA) -> None:
    jql = "project = DEMO ORDER BY key ASC"

    first = jira.search_issues(jql, maxResults=2)
    second = jira.enhanced_search_issues(jql, maxResults=2, nextPageToken=first.nextPageToken)
    everything = jira.search_issues(jql, maxResults=False)

    assert [i.key for i in first] == ["DEMO-1", "DEMO-2"]
    assert [i.key for i in second] == ["DEMO-3"]
    assert [i.key for i in everything] == ["DEMO-1", "DEMO-2", "DEMO-3"]


def test_transition_by_id_and_by_name(jira: JIRA) -> None:
    jira.transition_issue("DEMO-1", "11")
    jira.transition_issue("DEMO-1", "Request Review")

    assert jira.issue("DEMO-1").fields.status.name == "In Review"
    with pytest.raises(JIRAError) as refused:
        jira.transition_issue("DEMO-1", "11")
    assert refused.value.status_code == 400


def test_projects_and_comments(jira: JIRA) -> None:
    keys = [p.key for p in jira.projects()]
    demo = jira.project("DEMO")
    jira.add_comment("DEMO-2", adf("Seen from the client"))  # v3 wants ADF, not text

    assert keys == ["DEMO", "OPS"]
    assert demo.name == "Demo"
    assert [c.raw["body"]["content"][0]["content"][0]["text"] for c in jira.comments("DEMO-2")] == [
        "Seen from the client"
    ]


def test_a_dropped_connection_breaks_the_socket_when_standalone(server_url: str) -> None:
    httpx.put(f"{server_url}/__sandbox__/faults", json={"drop_rate": 1}).raise_for_status()
    try:
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"{server_url}/rest/api/3/serverInfo")
    finally:
        httpx.put(f"{server_url}/__sandbox__/faults", json={}).raise_for_status()
