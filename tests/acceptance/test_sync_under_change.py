"""A sync never skips: 2,000 vendor tickets are synced while people update 200 of them and delete 50,
in the middle of the change walk and of the deletion walk; one incremental sync later the store
holds every live ticket, active, with its latest values, and every deleted one inactive. On Jira and
on Rezolve, on SQLite and on PostgreSQL.

The changes are made through the sandbox's own surface (Jira's REST API; Rezolve's "a person in the
UI" control calls, its API having no delete) by a transport that steps in before chosen pages of
the sync's walks reach the vendor.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.api.test_rezolve import control, rezolve_tenant
from tests.api.test_tickets import sandbox
from tests.builders import Tenant, make_tenant
from tests.services.support import jira_call, run_sync
from ticketbridge.sandboxes.rezolve import DEMO_TENANT_ID
from ticketbridge.services import sync
from ticketbridge.state import Runtime
from ticketbridge.store.tables import TicketRow

TICKETS = 2000
UPDATES = 200
DELETIONS = 50


class Vendor(Protocol):
    async def tenant(self, client: httpx.AsyncClient) -> Tenant: ...
    async def seed(self, count: int) -> None: ...
    def truth(self) -> dict[str, str]:
        """Vendor id -> name of every ticket that exists now, read from the sandbox's state."""

    def walk_of(self, request: httpx.Request) -> str | None:
        """ "tickets", "ids" or None: which of the sync's walks `request` belongs to."""

    async def rename(self, vendor_id: str, name: str) -> None: ...
    async def delete(self, vendor_id: str) -> None: ...


@dataclass
class Jira:
    app: FastAPI

    async def tenant(self, client: httpx.AsyncClient) -> Tenant:
        return await make_tenant(client)

    async def seed(self, count: int) -> None:
        await sandbox(self.app, "POST", "/seed", json={"issues": count})

    def truth(self) -> dict[str, str]:
        return {str(issue.id): issue.summary for issue in self.app.state.runtime.site.issues.values()}

    def walk_of(self, request: httpx.Request) -> str | None:
        if not request.url.path.endswith("/search/jql"):
            return None
        jql: str = json.loads(request.content)["jql"]
        return "tickets" if jql.startswith("updated >=") else "ids" if jql.startswith("id >") else None

    async def rename(self, vendor_id: str, name: str) -> None:
        response = await jira_call(
            self.app, "PUT", f"/rest/api/3/issue/{vendor_id}", json={"fields": {"summary": name}}
        )
        assert response.status_code == 204, response.text

    async def delete(self, vendor_id: str) -> None:
        response = await jira_call(self.app, "DELETE", f"/rest/api/3/issue/{vendor_id}")
        assert response.status_code == 204, response.text


@dataclass
class Rezolve:
    app: FastAPI

    async def tenant(self, client: httpx.AsyncClient) -> Tenant:
        return await rezolve_tenant(client)

    async def seed(self, count: int) -> None:
        for start in range(0, count, 1000):
            await control(self.app, "POST", "/seed", json={"count": min(1000, count - start)})

    def _tenant(self) -> Any:
        return self.app.state.runtime.tenant(DEMO_TENANT_ID)

    def _summary_field(self, ticket: Any) -> str:
        field_id: str = self._tenant().ticket_type(ticket.ticketTypeId).field_named("summary").id
        return field_id

    def truth(self) -> dict[str, str]:
        return {t.id: t.data.get(self._summary_field(t)) for t in self._tenant().tickets.values()}

    def walk_of(self, request: httpx.Request) -> str | None:
        if not request.url.path.endswith("/ticket/list"):
            return None
        body = request.content.decode()
        return "tickets" if "updatedAt" in body else "ids" if "createdAt" in body else None

    def _object_id(self, vendor_id: str) -> Any:
        return next(t for t in self._tenant().tickets.values() if t.id == vendor_id)

    async def rename(self, vendor_id: str, name: str) -> None:
        ticket = self._object_id(vendor_id)
        update = {"ticketUpdate": {self._summary_field(ticket): name}}
        await control(self.app, "POST", f"/tickets/{ticket.object_id}/edit", json=update)

    async def delete(self, vendor_id: str) -> None:
        await control(self.app, "DELETE", f"/tickets/{self._object_id(vendor_id).object_id}")


@dataclass
class People:
    """What people do to the vendor while the sync walks: before the `n`th page of a walk reaches
    the vendor, the actions planned for it run."""

    vendor: Vendor
    plan: dict[tuple[str, int], Callable[[], Awaitable[None]]]
    pages: dict[str, int] = field(default_factory=lambda: {"tickets": 0, "ids": 0})
    renamed: dict[str, str] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)


class Interfering(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, people: People) -> None:
        self.inner = inner
        self.people = people

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        walk = self.people.vendor.walk_of(request)
        if walk is not None:
            self.people.pages[walk] += 1
            action = self.people.plan.pop((walk, self.people.pages[walk]), None)
            if action is not None:
                await action()
        return await self.inner.handle_async_request(request)


async def stored(runtime: Runtime, tenant: Tenant) -> dict[str, TicketRow]:
    async with runtime.sessionmaker() as db:
        rows = await db.scalars(select(TicketRow).where(TicketRow.connection_id == uuid.UUID(tenant.connection_id)))
        return {row.vendor_id: row for row in rows}


@pytest.fixture(params=["jira", "rezolve"])
def vendor(request: pytest.FixtureRequest, jira_sandbox: FastAPI, rezolve_sandbox: FastAPI) -> Vendor:
    return Jira(jira_sandbox) if request.param == "jira" else Rezolve(rezolve_sandbox)


async def test_a_sync_under_change_skips_nothing_and_deactivates_only_what_is_gone(
    client: httpx.AsyncClient, runtime: Runtime, vendor: Vendor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Jira lists 5000 ids a page: smaller pages, so that deletions land mid deletion walk.
    monkeypatch.setattr(sync, "ID_PAGE_SIZE", 500)
    tenant = await vendor.tenant(client)
    await vendor.seed(TICKETS)
    rng = random.Random(2026)
    people = People(vendor, plan={})
    candidates = sorted(vendor.truth(), key=int if isinstance(vendor, Jira) else str)

    async def rename(count: int) -> None:
        fresh = [c for c in candidates if c not in people.deleted and c not in people.renamed]
        for vendor_id in rng.sample(fresh, count):
            people.renamed[vendor_id] = f"Renamed mid-sync {len(people.renamed)}"
            await vendor.rename(vendor_id, people.renamed[vendor_id])

    async def delete(count: int, among: list[str]) -> None:
        for vendor_id in rng.sample([c for c in among if c not in people.deleted], count):
            people.deleted.add(vendor_id)
            await vendor.delete(vendor_id)

    half = DELETIONS // 2

    async def mid_change_walk() -> None:  # edits ahead of and behind the walk, deletions anywhere
        await rename(UPDATES // 2)
        await delete(half, candidates)

    async def later_in_change_walk() -> None:
        await rename(UPDATES - UPDATES // 2)

    async def mid_deletion_walk() -> None:  # deleting ids already listed shifts every later one
        await delete(DELETIONS - half, candidates[: len(candidates) // 2])

    people.plan = {("tickets", 3): mid_change_walk, ("tickets", 9): later_in_change_walk, ("ids", 2): mid_deletion_walk}
    runtime.connectors.transport = Interfering(runtime.connectors.transport, people)  # type: ignore[arg-type]

    first = await run_sync(runtime, tenant.connection_id)

    assert not people.plan, f"the walks were shorter than planned: {people.pages}"
    assert len(people.renamed) == UPDATES and len(people.deleted) == DELETIONS
    live = vendor.truth()
    after_first = await stored(runtime, tenant)
    # Nothing that exists was skipped or marked inactive, whatever moved during the walks.
    assert set(live) <= set(after_first), f"{len(set(live) - set(after_first))} live tickets never stored"
    assert not [v for v in live if not after_first[v].active], "a live ticket was marked inactive"
    assert first["tickets_skipped"] == 0

    await run_sync(runtime, tenant.connection_id)

    final = await stored(runtime, tenant)
    active = {vendor_id: row.name for vendor_id, row in final.items() if row.active}
    assert active == live  # every live ticket, active, with its latest name; nothing else active
    assert all(final[v].name == name for v, name in people.renamed.items() if v in live)
    assert all(v not in final or not final[v].active for v in people.deleted)
