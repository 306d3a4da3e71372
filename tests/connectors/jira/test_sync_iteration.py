"""The Jira connector's sync walks: changed tickets by minute with nothing skipped, every id by
keyset, every project and assignable user once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from structlog.testing import capture_logs

from tests.support import sandboxes
from tests.vendors import JIRA_URL
from ticketbridge.connectors.jira.connector import JiraConnector
from ticketbridge.sandboxes import jira


async def control(app: FastAPI, method: str, path: str, **kwargs: object) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=JIRA_URL) as http:
        response = await http.request(method, f"/__sandbox__{path}", **kwargs)  # type: ignore[arg-type]
        assert response.is_success, response.text


async def test_an_issue_changed_mid_walk_skips_no_other(connector: JiraConnector, jira_sandbox: FastAPI) -> None:
    await control(jira_sandbox, "POST", "/seed", json={"issues": 10})
    keys: list[str] = []
    pages = 0
    async for page in connector.iter_tickets(updated_since=None, page_size=3):
        pages += 1
        if pages == 2:  # mid-walk, a person edits an issue already listed
            await control(jira_sandbox, "POST", f"/issues/{keys[0]}/ui-edit", json={"fields": {"summary": "x"}})
        keys += [ticket.key for ticket in page]

    assert set(keys) == {f"DEMO-{n}" for n in range(1, 14)} | {"OPS-1", "OPS-2"}
    assert len(keys) - len(set(keys)) <= 1  # only the edited issue may come twice


async def test_every_id_comes_once_by_keyset(connector: JiraConnector, jira_sandbox: FastAPI) -> None:
    await control(jira_sandbox, "POST", "/seed", json={"issues": 7})
    pages = [page async for page in connector.iter_ticket_ids(page_size=4)]
    ids = [int(i) for page in pages for i in page]
    assert [len(page) for page in pages] == [4, 4, 4] and ids == sorted(ids) and len(set(ids)) == 12


async def test_projects_and_assignable_users_come_once(connector: JiraConnector) -> None:
    projects = [p.vendor_id async for page in connector.iter_projects() for p in page]
    users = [u.vendor_id async for page in connector.iter_users() for u in page]
    assert projects == ["DEMO", "OPS"]
    assert jira.DEMO_ACCOUNT_ID in users and len(users) == len(set(users)) == 4


async def test_a_deleted_issue_among_the_excluded_ids_falls_back_to_the_plain_query(
    connector: JiraConnector, jira_sandbox: FastAPI
) -> None:
    """Jira refuses `id not in (...)` naming an issue that no longer exists; the walk then asks the same
    query without the exclusion and drops the repeats, so nothing is skipped or yielded twice."""
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=1)
    minutes = [0, 1, 1, 1, 2, 2]  # the first page ends inside minute 1: its next query excludes by id
    seeds = [
        {"project": "DEMO", "summary": f"walked {n}", "created": (start + timedelta(minutes=m)).isoformat()}
        for n, m in enumerate(minutes)
    ]
    await control(jira_sandbox, "POST", "/seed", json={"issues": seeds})
    pages: list[list[str]] = []
    with capture_logs() as logs:
        async for page in connector.iter_tickets(updated_since=None, page_size=3):
            pages.append([ticket.key for ticket in page])
            if len(pages) == 1:  # an issue the next query leaves out by id is deleted meanwhile
                await delete_issue(jira_sandbox, pages[0][1])

    keys = [key for page in pages for key in page]
    assert pages[0] == ["DEMO-4", "DEMO-5", "DEMO-6"]
    assert sorted(keys) == sorted({f"DEMO-{n}" for n in range(1, 10)} | {"OPS-1", "OPS-2"})
    assert "connector.jira.exclusion_refused" in [entry["event"] for entry in logs]


async def delete_issue(app: FastAPI, key: str) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=JIRA_URL, auth=(jira.DEMO_EMAIL, jira.DEMO_API_TOKEN)
    ) as http:
        response = await http.delete(f"/rest/api/3/issue/{key}")
        assert response.status_code == 204, response.text


async def test_a_read_back_naming_a_deleted_issue_returns_the_others(
    connector: JiraConnector, jira_sandbox: FastAPI
) -> None:
    """The read-back after a write (`get_tickets`, `id in (...)`) meets Jira's refusal of a JQL naming an
    issue deleted since: the others still come back, the deleted one does not."""
    tickets = [ticket async for page in connector.iter_tickets(updated_since=None, page_size=50) for ticket in page]
    kept, deleted = tickets[0], tickets[1]
    await delete_issue(jira_sandbox, deleted.key)
    await sandboxes.control(jira_sandbox, "DELETE", "/calls")
    fresh = await connector.get_tickets([kept.vendor_id, deleted.vendor_id])
    assert list(fresh) == [kept.vendor_id]
    # Refused once, the survivors found by a direct lookup, then searched again.
    counted = await sandboxes.calls(jira_sandbox)
    assert counted.get("bulkFetchIssues") == 1, counted
