"""A sync never skips: 2,000 vendor tickets are synced while people update 200 of them and delete 50,
in the middle of the change walk and of the deletion walk (of a full sync and of an incremental one);
no run skips a live ticket or marks it inactive, and one sync later the store holds every live
ticket, active, with its latest values, and every deleted one inactive. One test
body for every vendor of the registry, on SQLite and on PostgreSQL.

The changes are made as people make them, in the sandbox (tests/support/vendor_cases.py), by a
transport that steps in before chosen pages of the sync's walks reach the vendor.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.builders import Tenant, make_tenant
from tests.services.support import run_sync
from tests.support.connectors import reroute
from tests.support.sandboxes import catch_up_search
from tests.support.vendor_cases import VendorCase, cases, sandbox_client, sandbox_of
from ticketbridge.services import sync
from ticketbridge.state import Runtime
from ticketbridge.store.tables import TicketRow

TICKETS = 2000
UPDATES = 200
DELETIONS = 50


@dataclass
class People:
    """What people do to the vendor while the sync walks: before the `n`th page of a walk reaches
    the vendor, the actions planned for it run."""

    case: VendorCase
    plan: dict[tuple[str, int], Callable[[], Awaitable[None]]]
    pages: dict[str, int] = field(default_factory=lambda: {"tickets": 0, "ids": 0})
    renamed: dict[str, str] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)


class Interfering(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, people: People) -> None:
        self.inner = inner
        self.people = people

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        walk = self.people.case.walk_of(request)
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


async def check_nothing_live_was_lost(
    case: VendorCase, sandbox: FastAPI, runtime: Runtime, tenant: Tenant, report: dict[str, Any]
) -> None:
    """Nothing that exists was skipped or marked inactive, whatever moved during the walks."""
    live = names(case, sandbox)
    synced = await stored(runtime, tenant)
    assert set(live) <= set(synced), f"{len(set(live) - set(synced))} live tickets never stored"
    assert not [v for v in live if not synced[v].active], "a live ticket was marked inactive"
    assert report["tickets_skipped"] == 0


def names(case: VendorCase, sandbox: FastAPI) -> dict[str, str]:
    """Vendor id -> name of every ticket that exists now."""
    return {vendor_id: name for vendor_id, (_, name) in case.tickets(sandbox).items()}


@pytest.mark.parametrize("case", cases(), ids=str)
async def test_a_sync_under_change_skips_nothing_and_deactivates_only_what_is_gone(
    client: httpx.AsyncClient,
    runtime: Runtime,
    request: pytest.FixtureRequest,
    case: VendorCase,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Jira lists 5000 ids a page: smaller pages, so that deletions land mid deletion walk.
    monkeypatch.setattr(sync, "ID_PAGE_SIZE", 500)
    sandbox = sandbox_of(request, case)
    tenant = await make_tenant(client, **case.connection())
    async with sandbox_client(sandbox, case.base_url) as http:
        await case.seed(http, TICKETS)
        await catch_up_search(sandbox)  # the sync starts long after the tickets were made
        keys = {vendor_id: key for vendor_id, (key, _) in case.tickets(sandbox).items()}
        rng = random.Random(2026)
        people = People(case, plan={})
        candidates = sorted(keys, key=case.id_order)

        async def rename(count: int) -> None:
            fresh = [c for c in candidates if c not in people.deleted and c not in people.renamed]
            for vendor_id in rng.sample(fresh, count):
                people.renamed[vendor_id] = f"Renamed mid-sync {len(people.renamed)}"
                await case.rename(http, keys[vendor_id], people.renamed[vendor_id])

        async def delete(count: int, among: list[str]) -> None:
            for vendor_id in rng.sample([c for c in among if c not in people.deleted], count):
                people.deleted.add(vendor_id)
                await case.delete(http, keys[vendor_id])

        half = DELETIONS // 2

        async def mid_change_walk() -> None:  # edits ahead of and behind the walk, deletions anywhere
            await rename(UPDATES // 2)
            await delete(half, candidates)

        async def later_in_change_walk() -> None:
            await rename(UPDATES - UPDATES // 2)

        async def mid_deletion_walk() -> None:  # deleting ids already listed shifts every later one
            await delete(DELETIONS - half, candidates[: len(candidates) // 2])

        # The first sync is a full one, the second incremental: the id walk of deletion detection runs
        # in the second at the latest (a full run may list its ids by the ticket walk instead).
        people.plan = {("tickets", 3): mid_change_walk, ("tickets", 9): later_in_change_walk}
        reroute(runtime, lambda transport: Interfering(transport, people))
        first = await run_sync(runtime, tenant.connection_id)
        assert not people.plan, f"the change walk was shorter than planned: {people.pages}"
        await check_nothing_live_was_lost(case, sandbox, runtime, tenant, first)

        await catch_up_search(sandbox)  # the next sync comes later than any search lag
        people.plan = {("ids", people.pages["ids"] + 2): mid_deletion_walk}
        second = await run_sync(runtime, tenant.connection_id)
        assert not people.plan, f"the id walk was shorter than planned: {people.pages}"
        await check_nothing_live_was_lost(case, sandbox, runtime, tenant, second)

    assert len(people.renamed) == UPDATES and len(people.deleted) == DELETIONS
    # A ticket deleted after the id walk listed it is found gone by the next run.
    await catch_up_search(sandbox)
    await run_sync(runtime, tenant.connection_id)

    live = names(case, sandbox)
    final = await stored(runtime, tenant)
    active = {vendor_id: row.name for vendor_id, row in final.items() if row.active}
    assert active == live  # every live ticket, active, with its latest name; nothing else active
    assert all(final[v].name == name for v, name in people.renamed.items() if v in live)
    assert all(v not in final or not final[v].active for v in people.deleted)
