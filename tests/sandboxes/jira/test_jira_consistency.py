"""Search lags behind writes as on live Jira: defaults, `/__sandbox__/consistency`, reconcileIssues, the CLI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from tests.sandboxes.jira.conftest import BASE_URL
from tests.sandboxes.jira.jira_support import API, adf, create_issue
from ticketbridge.cli import app as cli_app
from ticketbridge.sandboxes.faults import SandboxTransport
from ticketbridge.sandboxes.jira import DEMO_API_TOKEN, DEMO_EMAIL, JiraSandboxConfig, create_app
from ticketbridge.sandboxes.jira.runtime import Runtime

pytestmark = pytest.mark.anyio
#: Small enough to wait out in a test, long enough for a few in-process requests to fit inside it.
LAG_MS = 200
#: A lag no test waits out: what is asserted "at once" cannot pass by the lag running out.
LONG_LAG_MS = 60_000


@pytest.fixture
async def lagging() -> AsyncIterator[httpx.AsyncClient]:
    """A sandbox whose search lags a minute behind writes."""
    app = create_app(JiraSandboxConfig(base_url=BASE_URL, search_lag_ms=LONG_LAG_MS))
    auth = (DEMO_EMAIL, DEMO_API_TOKEN)
    async with httpx.AsyncClient(transport=SandboxTransport(app), base_url=BASE_URL, auth=auth) as http:
        yield http


async def search(client: httpx.AsyncClient, jql: str, **extra: Any) -> list[dict[str, Any]]:
    response = await client.post(f"{API}/search/jql", json={"jql": jql, "fields": ["labels", "status"]} | extra)
    assert response.status_code == 200, response.text
    issues: list[dict[str, Any]] = response.json()["issues"]
    return issues


async def issue_id(client: httpx.AsyncClient, key: str) -> int:
    return int((await client.get(f"{API}/issue/{key}")).json()["id"])


def test_the_default_lag_is_two_seconds_as_on_live_jira() -> None:
    assert JiraSandboxConfig().search_lag_ms == 2000
    assert JiraSandboxConfig(in_process=False).search_lag_ms == 2000


async def test_consistency_reads_and_sets_the_lag(client: httpx.AsyncClient) -> None:
    before = await client.get("/__sandbox__/consistency")
    put = await client.put("/__sandbox__/consistency", json={"search_lag_ms": 250})
    after = await client.get("/__sandbox__/consistency")
    fractional = await client.put("/__sandbox__/consistency", json={"search_lag_ms": 0.5})

    assert before.json() == {"search_lag_ms": 0}
    assert put.status_code == 200 and put.json() == {"search_lag_ms": 250}
    assert after.json() == {"search_lag_ms": 250}
    assert fractional.json() == {"search_lag_ms": 0.5}


@pytest.mark.parametrize(
    "body",
    [{"search_lag_ms": -1}, {"search_lag_ms": "100"}, {"search_lag_ms": True}, {"search_lag_ms": None}, {}, 100],
)
async def test_consistency_refuses_anything_but_a_non_negative_number(client: httpx.AsyncClient, body: Any) -> None:
    response = await client.put("/__sandbox__/consistency", json=body)

    assert response.status_code == 400
    assert response.json()["errorMessages"] and response.json()["errors"] == {}
    assert (await client.get("/__sandbox__/consistency")).json() == {"search_lag_ms": 0}


async def test_reset_keeps_the_lag_in_force(client: httpx.AsyncClient) -> None:
    await client.put("/__sandbox__/consistency", json={"search_lag_ms": LONG_LAG_MS})
    await client.post("/__sandbox__/reset")
    key = await create_issue(client, labels=["tb-after-reset"])

    assert (await client.get("/__sandbox__/consistency")).json() == {"search_lag_ms": LONG_LAG_MS}
    assert await search(client, "labels = tb-after-reset") == []
    assert (await client.get(f"{API}/issue/{key}")).status_code == 200


async def test_a_created_issue_reaches_search_after_the_lag(client: httpx.AsyncClient) -> None:
    await client.put("/__sandbox__/consistency", json={"search_lag_ms": LAG_MS})
    key = await create_issue(client, labels=["tb-lagged"])

    early = await search(client, "labels = tb-lagged")
    count = (await client.post(f"{API}/search/approximate-count", json={"jql": "labels = tb-lagged"})).json()
    await asyncio.sleep(LAG_MS / 1000 + 0.1)
    late = await search(client, "labels = tb-lagged")

    assert early == [] and count == {"count": 0}
    assert [i["key"] for i in late] == [key]


async def test_a_created_issue_is_read_at_once_by_get_and_by_reconcile(lagging: httpx.AsyncClient) -> None:
    key = await create_issue(lagging, labels=["tb-fresh"])
    got = await lagging.get(f"{API}/issue/{key}")
    fresh_id = int(got.json()["id"])

    plain = await search(lagging, "labels = tb-fresh")
    reconciled = await search(lagging, "labels = tb-fresh", reconcileIssues=[fresh_id])
    other_jql = await search(lagging, "labels = tb-elsewhere", reconcileIssues=[fresh_id])
    by_get = await lagging.get(f"{API}/search/jql", params={"jql": "labels = tb-fresh", "reconcileIssues": fresh_id})

    assert got.status_code == 200 and got.json()["key"] == key
    assert plain == []
    assert [i["key"] for i in reconciled] == [key]
    assert other_jql == []  # reconciled issues are returned only if they match the JQL
    assert [i["id"] for i in by_get.json()["issues"]] == [str(fresh_id)]


async def test_bulk_created_issues_lag_too(lagging: httpx.AsyncClient) -> None:
    fields = {"project": {"key": "DEMO"}, "issuetype": {"id": "10001"}, "summary": "bulk", "labels": ["tb-bulk"]}
    created = await lagging.post(f"{API}/issue/bulk", json={"issueUpdates": [{"fields": fields}] * 2})
    ids = [int(i["id"]) for i in created.json()["issues"]]

    assert await search(lagging, "labels = tb-bulk") == []
    assert len(await search(lagging, "labels = tb-bulk", reconcileIssues=ids)) == 2


async def test_an_edited_issue_is_found_with_its_old_values_until_indexed(lagging: httpx.AsyncClient) -> None:
    """DEMO-1 existed before: search keeps matching and returning its old labels and status."""
    demo_id = await issue_id(lagging, "DEMO-1")
    await lagging.put(f"{API}/issue/DEMO-1", json={"fields": {"labels": ["tb-new"]}})
    await lagging.post(f"{API}/issue/DEMO-1/transitions", json={"transition": {"id": "11"}})

    by_old = await search(lagging, "project = DEMO AND labels = demo AND status = 'To Do'")
    by_new = await search(lagging, "labels = tb-new")
    reconciled_new = await search(lagging, "labels = tb-new", reconcileIssues=[demo_id])
    reconciled_old = await search(
        lagging, "project = DEMO AND labels = demo AND status = 'To Do'", reconcileIssues=[demo_id]
    )
    now = (await lagging.get(f"{API}/issue/DEMO-1")).json()["fields"]

    assert [(i["key"], i["fields"]["labels"], i["fields"]["status"]["name"]) for i in by_old] == [
        ("DEMO-1", ["demo"], "To Do")
    ]
    assert by_new == []
    assert [(i["fields"]["labels"], i["fields"]["status"]["name"]) for i in reconciled_new] == [
        (["tb-new"], "In Progress")
    ]
    assert reconciled_old == []  # read-after-write: the current version no longer matches
    assert (now["labels"], now["status"]["name"]) == (["tb-new"], "In Progress")


async def test_an_edit_reaches_search_after_the_lag(client: httpx.AsyncClient) -> None:
    await client.put("/__sandbox__/consistency", json={"search_lag_ms": LAG_MS})
    await client.put(f"{API}/issue/DEMO-2", json={"fields": {"labels": ["tb-edited"]}})

    early = await search(client, "labels = tb-edited")
    await asyncio.sleep(LAG_MS / 1000 + 0.1)
    late = await search(client, "labels = tb-edited")

    assert early == []
    assert [(i["key"], i["fields"]["labels"]) for i in late] == [("DEMO-2", ["tb-edited"])]


async def test_setting_the_lag_to_zero_makes_earlier_writes_searchable_at_once(lagging: httpx.AsyncClient) -> None:
    key = await create_issue(lagging, labels=["tb-flushed"])

    await lagging.put("/__sandbox__/consistency", json={"search_lag_ms": 0})

    assert [i["key"] for i in await search(lagging, "labels = tb-flushed")] == [key]


async def test_ui_edits_and_comments_lag_and_seeded_issues_do_not(lagging: httpx.AsyncClient) -> None:
    seed = {"issues": [{"project": "DEMO", "summary": "Seeded", "labels": ["tb-seeded"]}]}
    seeded = await lagging.post("/__sandbox__/seed", json=seed)
    await lagging.post("/__sandbox__/issues/DEMO-3/ui-edit", json={"fields": {"labels": ["tb-ui"]}})
    await lagging.post(f"{API}/issue/DEMO-2/comment", json={"body": adf("zebra crossing")})

    assert [i["key"] for i in await search(lagging, "labels = tb-seeded")] == seeded.json()["keys"]
    assert await search(lagging, "labels = tb-ui") == []
    assert await search(lagging, "text ~ zebra") == []
    assert len(await search(lagging, "text ~ zebra", reconcileIssues=[await issue_id(lagging, "DEMO-2")])) == 1


async def test_bulk_transitions_lag_too(lagging: httpx.AsyncClient) -> None:
    body = {"bulkTransitionInputs": [{"selectedIssueIdsOrKeys": ["DEMO-1"], "transitionId": "11"}]}
    task_id = (await lagging.post(f"{API}/bulk/issues/transition", json=body)).json()["taskId"]
    for _ in range(50):  # each request the site receives advances the task one step
        if (await lagging.get(f"{API}/bulk/queue/{task_id}")).json()["status"] == "COMPLETE":
            break
    assert (await lagging.get("/__sandbox__/issues/DEMO-1")).json()["fields"]["status"]["name"] == "In Progress"
    jql = "project = DEMO AND status = 'In Progress'"

    found = [i["key"] for i in await search(lagging, jql)]
    reconciled = [i["key"] for i in await search(lagging, jql, reconcileIssues=[await issue_id(lagging, "DEMO-1")])]

    assert found == ["DEMO-2"]  # the demo's issue that was In Progress already
    assert sorted(reconciled) == ["DEMO-1", "DEMO-2"]


async def test_more_than_50_reconciled_ids_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API}/search/jql", json={"jql": "project = DEMO", "reconcileIssues": list(range(10000, 10051))}
    )

    assert response.status_code == 400
    assert "50" in response.json()["errorMessages"][0]


def run_cli_sandbox(monkeypatch: pytest.MonkeyPatch, *args: str) -> Runtime:
    """Runs `ticketbridge sandbox jira ARGS` with uvicorn stubbed out; returns the sandbox it would serve."""
    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.append(app))
    result = CliRunner().invoke(cli_app, ["sandbox", "jira", *args])
    assert result.exit_code == 0, result.output
    runtime: Runtime = served[0].state.runtime
    return runtime


def test_the_standalone_sandbox_lags_two_seconds_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = run_cli_sandbox(monkeypatch)

    assert runtime.search_lag_ms == 2000
    assert runtime.config.in_process is False


def test_the_cli_sets_the_lag(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli_sandbox(monkeypatch, "--search-lag-ms", "150").search_lag_ms == 150
    assert run_cli_sandbox(monkeypatch, "--search-lag-ms", "0").search_lag_ms == 0


def test_the_cli_refuses_a_negative_lag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: pytest.fail("must not serve"))

    result = CliRunner().invoke(cli_app, ["sandbox", "jira", "--search-lag-ms", "-5"])

    assert result.exit_code == 2
