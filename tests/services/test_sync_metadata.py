"""The sync's directory beyond tickets: each vendor's priorities and statuses stored per connection,
and projects, priorities and statuses the vendor stops listing marked inactive (and active again)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute

from tests.api.test_rezolve import control, rezolve_tenant
from tests.api.test_tickets import sandbox
from tests.builders import Tenant, make_oauth_tenant, make_tenant
from tests.services.support import run_sync
from ticketbridge.sandboxes.jira.demo import DEMO_ACCOUNT_ID, DONE, IN_PROGRESS, IN_REVIEW, TASK, TO_DO
from ticketbridge.state import Runtime
from ticketbridge.store.tables import PriorityRow, ProjectRow, StatusRow

JIRA_PRIORITIES = {("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"), ("5", "Lowest")}
JIRA_STATUSES = {
    (TO_DO, "To Do", "new"),
    (IN_PROGRESS, "In Progress", "indeterminate"),
    (IN_REVIEW, "In Review", "indeterminate"),
    (DONE, "Done", "done"),
}
#: Added to the Jira demo site through the control API; a reset takes them away again.
EXTRAS: dict[str, Any] = {
    "priorities": [{"id": "6", "name": "Trivial"}],
    "statuses": [{"id": "10100", "name": "Blocked", "category": "indeterminate"}],
    "projects": [
        {
            "id": "10002",
            "key": "LEGACY",
            "name": "Legacy",
            "lead": DEMO_ACCOUNT_ID,
            "issue_types": [TASK],
            "workflow": "software",
        }
    ],
}
REZOLVE_PRIORITIES = {("low", "Low"), ("medium", "Medium"), ("high", "High"), ("critical", "Critical")}
#: The union of the two demo workflows. "resolved" is terminal for Service Requests (listed first)
#: but not for Incidents: the first type's flags decide.
REZOLVE_STATUSES = {
    ("submitted", "Submitted", "new"),
    ("new", "New", "new"),
    ("in_progress", "In Progress", "indeterminate"),
    ("resolved", "Resolved", "done"),
    ("cancelled", "Cancelled", "done"),
    ("closed", "Closed", "done"),
}


async def stored(runtime: Runtime, tenant: Tenant, *columns: InstrumentedAttribute[Any]) -> set[tuple[Any, ...]]:
    """The given columns of the connection's rows in the columns' table."""
    table = columns[0].class_
    async with runtime.sessionmaker() as db:
        rows = await db.execute(select(*columns).where(table.connection_id == uuid.UUID(tenant.connection_id)))
    return {tuple(row) for row in rows}


def with_active(rows: set[tuple[Any, ...]], active: bool) -> set[tuple[Any, ...]]:
    return {(*row, active) for row in rows}


async def priorities(runtime: Runtime, tenant: Tenant) -> set[tuple[Any, ...]]:
    return await stored(runtime, tenant, PriorityRow.vendor_id, PriorityRow.name, PriorityRow.active)


async def statuses(runtime: Runtime, tenant: Tenant) -> set[tuple[Any, ...]]:
    return await stored(runtime, tenant, StatusRow.vendor_id, StatusRow.name, StatusRow.category, StatusRow.active)


async def projects(runtime: Runtime, tenant: Tenant) -> set[tuple[Any, ...]]:
    return await stored(runtime, tenant, ProjectRow.vendor_id, ProjectRow.active)


async def test_a_jira_sync_stores_the_sites_priorities_and_statuses_with_categories(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_oauth_tenant(client, jira_sandbox, runtime)
    await run_sync(runtime, tenant.connection_id)

    assert await priorities(runtime, tenant) == with_active(JIRA_PRIORITIES, True)
    assert await statuses(runtime, tenant) == with_active(JIRA_STATUSES, True)


async def test_what_jira_stops_listing_becomes_inactive_and_comes_back_when_listed_again(
    client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI
) -> None:
    tenant = await make_tenant(client)  # an API token: the test's reset of the site ends every OAuth grant
    await sandbox(jira_sandbox, "POST", "/seed", json=EXTRAS)
    await run_sync(runtime, tenant.connection_id)
    assert await priorities(runtime, tenant) == with_active(JIRA_PRIORITIES | {("6", "Trivial")}, True)
    row_ids = await stored(runtime, tenant, PriorityRow.vendor_id, PriorityRow.id)

    await sandbox(jira_sandbox, "POST", "/reset")  # the demo site as it was: the extras are gone
    await run_sync(runtime, tenant.connection_id)

    assert await priorities(runtime, tenant) == with_active(JIRA_PRIORITIES, True) | {("6", "Trivial", False)}
    blocked = ("10100", "Blocked", "indeterminate", False)
    assert await statuses(runtime, tenant) == with_active(JIRA_STATUSES, True) | {blocked}
    assert await projects(runtime, tenant) == {("DEMO", True), ("OPS", True), ("LEGACY", False)}

    renamed = {"id": "1", "name": "Blocker"}
    await sandbox(jira_sandbox, "POST", "/seed", json={**EXTRAS, "priorities": [*EXTRAS["priorities"], renamed]})
    await run_sync(runtime, tenant.connection_id)

    back = (JIRA_PRIORITIES - {("1", "Highest")}) | {("1", "Blocker"), ("6", "Trivial")}
    assert await priorities(runtime, tenant) == with_active(back, True)
    assert await statuses(runtime, tenant) == with_active(JIRA_STATUSES | {blocked[:3]}, True)
    assert await projects(runtime, tenant) == {("DEMO", True), ("OPS", True), ("LEGACY", True)}
    # Updated in place: a row keeps its id through deactivation, renaming and reactivation.
    assert await stored(runtime, tenant, PriorityRow.vendor_id, PriorityRow.id) == row_ids


async def test_a_rezolve_sync_stores_the_ticket_types_priorities_and_statuses(
    client: httpx.AsyncClient, runtime: Runtime, rezolve_sandbox: FastAPI
) -> None:
    tenant = await rezolve_tenant(client)
    await run_sync(runtime, tenant.connection_id)

    assert await priorities(runtime, tenant) == with_active(REZOLVE_PRIORITIES, True)
    assert await statuses(runtime, tenant) == with_active(REZOLVE_STATUSES, True)

    # The first run left the ticket types in the connection's metadata cache; the next run still asks
    # Rezolve, or an option removed meanwhile would stay active.
    await control(rezolve_sandbox, "DELETE", "/calls")
    await run_sync(runtime, tenant.connection_id)
    assert (await control(rezolve_sandbox, "GET", "/calls"))["listTicketTypes"] >= 1
