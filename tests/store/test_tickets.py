"""The guard of the ticket upserts: an older vendor version never
overwrites a newer row, and a row written with an identifier keeps it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

from tests.jobs.support import make_tenant_rows
from ticketbridge.state import Runtime
from ticketbridge.store import tickets
from ticketbridge.store.tickets import TicketValues

WRITTEN_AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def values(name: str, updated: datetime, vendor_id: str = "10001") -> TicketValues:
    return TicketValues(
        vendor="JIRA", vendor_id=vendor_id, vendor_key=f"DEMO-{vendor_id}", name=name, description=None,
        status="TODO", vendor_status="To Do", status_category="new", priority=None, vendor_priority=None,
        type="Task", type_vendor_id="10001", project_id=None, project_vendor_id="DEMO", assigned_user_id=None,
        assigned_user_vendor_id=None, created_by_user_id=None, created_by_vendor_id=None,
        parent_ticket_id=None, parent_ticket_vendor_id=None, tags=[], url=None, due_date=None, closed_at=None,
        ticket_created_at=WRITTEN_AT, ticket_updated_at=updated, vendor_version=updated.isoformat(),
        custom_fields={},
    )  # fmt: skip


async def test_a_stale_page_never_reverts_a_newer_write_and_a_newer_one_lands(runtime: Runtime) -> None:
    tenant = await make_tenant_rows(runtime)
    scope = {"organization_id": tenant.organization_id, "connection_id": tenant.connection_id}
    async with runtime.sessionmaker.begin() as db:
        (written,) = (await tickets.upsert_written(db, [(values("Written", WRITTEN_AT), "w-1")], **scope)).values()
        stale = values("Stale sync", WRITTEN_AT - timedelta(minutes=1))
        other = values("Another ticket", WRITTEN_AT, vendor_id="10002")
        await tickets.upsert_tickets(db, [stale, other], **scope)
    async with runtime.sessionmaker.begin() as db:
        kept = await tickets.get_ticket(db, written.id, connection_id=tenant.connection_id)
        found = await tickets.find_by_vendor_refs(db, ["10002"], connection_id=tenant.connection_id)
    assert kept.name == "Written" and found["10002"].name == "Another ticket"

    newer = values("Renamed in Jira", WRITTEN_AT + timedelta(minutes=1))
    async with runtime.sessionmaker.begin() as db:
        await tickets.upsert_tickets(db, [dataclasses.replace(newer, status="CLOSED")], **scope)
    async with runtime.sessionmaker.begin() as db:
        synced = await tickets.get_ticket(db, written.id, connection_id=tenant.connection_id)
    assert (synced.name, synced.identifier, synced.status) == ("Renamed in Jira", "w-1", "CLOSED")
    assert synced.status_updated_at == newer.ticket_updated_at


async def test_an_upsert_answers_the_rows_as_a_read_of_them_gives_them(runtime: Runtime) -> None:
    """The answer is built from the rows sent plus the columns the database decides: it must equal a
    read of the same rows, for a new row and for one already stored (whose id, creation time and
    identifier the database keeps), with times sent in another offset than UTC."""
    tenant = await make_tenant_rows(runtime)
    scope = {"organization_id": tenant.organization_id, "connection_id": tenant.connection_id}
    elsewhere = timezone(timedelta(hours=-5))
    first = dataclasses.replace(values("First", WRITTEN_AT), custom_fields={"zeta": 1, "alpha": [1, "b"]})
    async with runtime.sessionmaker.begin() as db:
        (created,) = (await tickets.upsert_written(db, [(first, "id-1")], **scope)).values()
    later = dataclasses.replace(
        values("Renamed", (WRITTEN_AT + timedelta(minutes=5)).astimezone(elsewhere)),
        status="DONE",
        due_date=datetime(2026, 12, 24, 9, 30, 15, 123456, tzinfo=elsewhere),
        tags=["b", "a"],
    )
    async with runtime.sessionmaker.begin() as db:
        (updated,) = (await tickets.upsert_written(db, [(later, None)], **scope)).values()
    async with runtime.sessionmaker.begin() as db:
        read = await tickets.get_ticket(db, created.id, connection_id=tenant.connection_id)

    assert updated == read
    assert (updated.id, updated.identifier, updated.created_at) == (created.id, "id-1", created.created_at)
    assert updated.status_updated_at == later.ticket_updated_at and updated.due_date == later.due_date
    assert updated.due_date is not None and updated.due_date.utcoffset() == timedelta(0)
