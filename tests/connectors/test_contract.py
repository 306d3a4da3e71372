"""The connector contract (connectors/base.py), one set of test bodies run against each registered
vendor's connector, built by the registry's spec against the vendor's in-process sandbox.

Where vendors legitimately differ, the tests read the spec's `Capabilities`, never the vendor's name:
a vendor with conditional writes proves an update against an older version safe when the fields it
writes did not change; one whose search lags writes waits `marker_settle_seconds` before trusting a
marker search. A vendor added to the registry is tested here once tests/support/vendor_cases.py has
its case.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from tests.support.connectors import baseline, connectors_of, make_connection, make_item
from tests.support.sandboxes import catch_up_search
from tests.support.vendor_cases import VendorCase, cases, sandbox_client, sandbox_of
from ticketbridge.connectors import ConnectorFactory
from ticketbridge.connectors.base import Connector, SearchConsistency
from ticketbridge.connectors.errors import VendorAuthError, VendorNotFound, VersionConflict
from ticketbridge.domain.tickets import CreateItem, TicketChanges, TicketRef, VendorTicket
from ticketbridge.sandboxes.faults import SandboxTransport

Build = Callable[..., Connector]


@pytest.fixture(params=cases(), ids=str)
def case(request: pytest.FixtureRequest) -> VendorCase:
    case: VendorCase = request.param
    return case


@pytest.fixture
def sandbox(request: pytest.FixtureRequest, case: VendorCase) -> FastAPI:
    return sandbox_of(request, case)


@pytest.fixture
async def build(case: VendorCase, sandbox: FastAPI) -> AsyncIterator[Build]:
    """Connectors of one connection, each with the demo credentials and `overrides` over them."""
    factory = ConnectorFactory(transport=SandboxTransport(sandbox))
    async with connectors_of(factory, make_connection(case.vendor, case.base_url), case.credentials) as build:
        yield build


@pytest.fixture
def connector(build: Build) -> Connector:
    return build()


def item(case: VendorCase, n: int, **overrides: Any) -> CreateItem:
    return make_item(n, project_vendor_id=case.project_vendor_id, type_vendor_id=case.type_vendor_id, **overrides)


async def create(connector: Connector, *items: CreateItem) -> list[VendorTicket]:
    outcomes = await connector.create_tickets(items)
    assert [o.key for o in outcomes] == [i.key for i in items] and all(o.succeeded for o in outcomes), outcomes
    return [o.ticket for o in outcomes if o.ticket is not None]


async def count(case: VendorCase, sandbox: FastAPI) -> int:
    async with sandbox_client(sandbox, case.base_url) as http:
        return await case.count(http)


async def test_creates_come_back_in_order_and_a_reconciled_item_is_adopted_not_created_again(
    case: VendorCase, sandbox: FastAPI, connector: Connector
) -> None:
    before = await count(case, sandbox)
    items = [item(case, n, name=f"Contract {n}") for n in range(3)]
    created = await create(connector, *items)
    assert [t.name for t in created] == [i.name for i in items]
    assert {t.project_vendor_id for t in created} == {case.project_vendor_id}
    assert await count(case, sandbox) == before + 3

    # An earlier attempt of each may have reached the vendor: once a marker search can be trusted
    # (`marker_settle_seconds` later: the lag is waited out at once), each is found by its marker.
    await catch_up_search(sandbox)
    again = await connector.create_tickets(items, reconcile={i.key for i in items})
    assert [o.ticket.vendor_id if o.ticket else o for o in again] == [t.vendor_id for t in created]
    assert await count(case, sandbox) == before + 3
    # One whose earlier attempt never arrived is created, once.
    new = item(case, 9)
    (outcome,) = await connector.create_tickets([new], reconcile={new.key})
    assert outcome.succeeded and outcome.ticket is not None and outcome.ticket.name == new.name, outcome
    assert await count(case, sandbox) == before + 4


async def test_a_ticket_is_read_by_id_and_key_and_a_deleted_one_is_missing(
    case: VendorCase, sandbox: FastAPI, connector: Connector
) -> None:
    kept, deleted = await create(connector, item(case, 1), item(case, 2))
    for ref in (kept.vendor_id, kept.key):
        read = await connector.get_ticket(ref)
        assert (read.vendor_id, read.key, read.name, read.version) == (
            kept.vendor_id,
            kept.key,
            kept.name,
            kept.version,
        )
    async with sandbox_client(sandbox, case.base_url) as http:
        await case.delete(http, deleted.key)
    with pytest.raises(VendorNotFound):
        await connector.get_ticket(deleted.vendor_id)
    assert await connector.existing_ticket_ids([kept.vendor_id, deleted.vendor_id]) == {kept.vendor_id}


async def test_an_update_writes_only_its_fields_and_moves_the_version(case: VendorCase, connector: Connector) -> None:
    (ticket,) = await create(connector, item(case, 1, description="Kept as it is"))
    updated = await connector.update_ticket(ticket.vendor_id, TicketChanges(name="Renamed"), expected=None)
    assert (updated.vendor_id, updated.name, updated.description) == (ticket.vendor_id, "Renamed", ticket.description)
    assert updated.version != ticket.version
    assert (await connector.get_ticket(ticket.vendor_id)).name == "Renamed"


async def test_an_update_expecting_an_older_version_never_overwrites_a_change_made_since(
    case: VendorCase, build: Build
) -> None:
    ours, theirs = build(), build()  # two writers of one connection
    first, second = await create(ours, item(case, 1, name="Original"), item(case, 2, name="Original"))
    # At the version it expects, an update goes through.
    current = await ours.update_ticket(first.vendor_id, TicketChanges(name="Ours"), expected=baseline(first))
    assert current.name == "Ours"

    # Someone renames the ticket: our rename against the version we saw is a conflict, and writes nothing.
    renamed = await theirs.update_ticket(first.vendor_id, TicketChanges(name="Theirs"), expected=None)
    with pytest.raises(VersionConflict):
        await ours.update_ticket(first.vendor_id, TicketChanges(name="Ours again"), expected=baseline(current))
    assert (await theirs.get_ticket(first.vendor_id)).name == renamed.name == "Theirs"

    # Someone changes another field. A vendor with conditional writes can prove our rename safe;
    # one without can only compare versions, and refuses.
    priorities = [p.name for p in await ours.list_priorities() if p.name != second.priority_name]
    await theirs.update_ticket(second.vendor_id, TicketChanges(priority_name=priorities[-1]), expected=None)
    rename = TicketChanges(name="Ours")
    if case.spec.capabilities.conditional_writes:
        merged = await ours.update_ticket(second.vendor_id, rename, expected=baseline(second))
        assert (merged.name, merged.priority_name) == ("Ours", priorities[-1])
    else:
        with pytest.raises(VersionConflict):
            await ours.update_ticket(second.vendor_id, rename, expected=baseline(second))
        assert (await ours.get_ticket(second.vendor_id)).name == "Original"


async def test_a_bulk_update_answers_each_ticket_in_order_by_vendor_id(case: VendorCase, connector: Connector) -> None:
    tickets = await create(connector, *(item(case, n) for n in range(3)))
    target = next(p.name for p in await connector.list_priorities() if p.name != tickets[0].priority_name)
    refs = [TicketRef(vendor_id=t.vendor_id, key=t.key, status_name=t.status_name) for t in reversed(tickets)]
    outcomes = await connector.update_tickets(refs, TicketChanges(priority_name=target))
    assert [o.key for o in outcomes] == [ref.vendor_id for ref in refs]
    assert all(o.succeeded and o.ticket is not None and o.ticket.priority_name == target for o in outcomes), outcomes
    assert {(await connector.get_ticket(t.vendor_id)).priority_name for t in tickets} == {target}


async def test_the_walks_page_through_every_ticket_once(
    case: VendorCase, sandbox: FastAPI, connector: Connector
) -> None:
    await create(connector, *(item(case, n) for n in range(4)))
    await catch_up_search(sandbox)  # walks read through the vendor's search
    exists = set(case.tickets(sandbox))
    pages = [page async for page in connector.iter_tickets(updated_since=None, page_size=2)]
    walked = [t.vendor_id for page in pages for t in page]
    assert all(len(page) <= 2 for page in pages) and len(pages) >= len(exists) // 2
    assert sorted(walked) == sorted(exists)  # each once, none missing
    id_pages = [page async for page in connector.iter_ticket_ids(page_size=2)]
    assert all(len(page) <= 2 for page in id_pages)
    assert sorted(i for page in id_pages for i in page) == sorted(exists)

    # A walk since the latest change brings a ticket changed after it.
    latest = max(t.updated_at for page in pages for t in page if t.updated_at is not None)
    changed = await connector.update_ticket(walked[0], TicketChanges(name="Changed"), expected=None)
    await catch_up_search(sandbox)
    since = [t.vendor_id async for page in connector.iter_tickets(updated_since=latest, page_size=2) for t in page]
    assert changed.vendor_id in since and len(since) == len(set(since))


async def test_the_directory_and_the_passthrough_search(
    case: VendorCase, sandbox: FastAPI, connector: Connector
) -> None:
    listed, offset, total = [], 0, None
    while True:
        page = await connector.list_projects(limit=1, offset=offset, with_issue_types=True)
        assert len(page.items) <= 1
        listed += page.items
        total = page.total if page.total is not None else total
        offset += 1
        if not page.items or (page.total is not None and offset >= page.total):
            break
    project = next(p for p in listed if p.vendor_id == case.project_vendor_id)
    assert total is None or total == len(listed)
    if project.issue_types is not None:
        assert case.type_vendor_id in {t.vendor_id for t in project.issue_types}
    assert case.type_vendor_id in {t.vendor_id for t in await connector.list_issue_types(case.project_vendor_id)}
    assert await connector.list_statuses() and await connector.list_priorities()

    users = await connector.list_assignable_users(case.project_vendor_id, None, 2)
    assert 1 <= len(users) <= 2
    (assigned,) = await create(connector, item(case, 1, assignee_vendor_id=users[0].vendor_id))
    assert assigned.assignee_vendor_id == users[0].vendor_id
    await catch_up_search(sandbox)

    found: list[str] = []
    cursor: str | None = None
    for _ in range(100):
        result = await connector.search_tickets(case.search, cursor=cursor, limit=2)
        assert len(result.items) <= 2
        found += [t.vendor_id for t in result.items]
        cursor = result.next_cursor
        if cursor is None:
            break
    assert assigned.vendor_id in found and len(found) == len(set(found))


async def test_health_fails_with_bad_credentials(case: VendorCase, build: Build) -> None:
    await build().check_health()
    fields = case.spec.credentials_model.model_fields
    secrets = [
        name for name, value in case.credentials.items() if fields[name].annotation in (SecretStr, SecretStr | None)
    ]
    assert secrets, f"{case}: the demo credentials carry no secret"
    with pytest.raises(VendorAuthError):
        await build(**{name: "wrong-secret" for name in secrets}).check_health()


async def test_marker_settle_seconds_follow_the_search_consistency(case: VendorCase, build: Build) -> None:
    settle = build().marker_settle_seconds
    if case.spec.capabilities.search_consistency is SearchConsistency.EVENTUAL:
        assert settle > 0  # an empty marker search right after a create proves nothing
    else:
        assert settle == 0  # the search reads its own writes
