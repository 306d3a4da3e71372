"""Tickets: lookups on behalf of a connection, and the one upsert that both writes and syncs use."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.domain.tickets import TicketRead
from ticketbridge.errors import NotFound
from ticketbridge.store.base import utcnow
from ticketbridge.store.tables import TicketRow


@dataclass(frozen=True, slots=True)
class TicketValues:
    """Every column a write or a sync sets, already normalized and with local references resolved."""

    vendor: str
    vendor_id: str
    vendor_key: str
    name: str
    description: str | None
    status: str | None
    vendor_status: str | None
    status_category: str | None
    priority: str | None
    vendor_priority: str | None
    type: str | None
    type_vendor_id: str | None
    project_id: uuid.UUID | None
    project_vendor_id: str | None
    assigned_user_id: uuid.UUID | None
    assigned_user_vendor_id: str | None
    created_by_user_id: uuid.UUID | None
    created_by_vendor_id: str | None
    parent_ticket_id: uuid.UUID | None
    parent_ticket_vendor_id: str | None
    tags: list[str]
    url: str | None
    due_date: datetime | None
    closed_at: datetime | None
    ticket_created_at: datetime | None
    ticket_updated_at: datetime | None
    vendor_version: str | None
    custom_fields: dict[str, Any]


def _readable(connection_id: uuid.UUID) -> Select[TicketRow]:
    return select(TicketRow).where(TicketRow.connection_id == connection_id)


async def get_ticket_or_none(db: AsyncSession, ticket_id: uuid.UUID, *, connection_id: uuid.UUID) -> TicketRead | None:
    row = await db.scalar(_readable(connection_id).where(TicketRow.id == ticket_id))
    return None if row is None else TicketRead.model_validate(row)


async def get_ticket(db: AsyncSession, ticket_id: uuid.UUID, *, connection_id: uuid.UUID) -> TicketRead:
    ticket = await get_ticket_or_none(db, ticket_id, connection_id=connection_id)
    if ticket is None:
        raise NotFound(f"Ticket {ticket_id} not found.")
    return ticket


async def get_tickets(
    db: AsyncSession, ticket_ids: Sequence[uuid.UUID], *, connection_id: uuid.UUID
) -> dict[uuid.UUID, TicketRead]:
    rows = await db.scalars(_readable(connection_id).where(TicketRow.id.in_(list(ticket_ids))))
    return {row.id: TicketRead.model_validate(row) for row in rows}


async def get_by_identifier(db: AsyncSession, identifier: str, *, connection_id: uuid.UUID) -> TicketRead | None:
    row = await db.scalar(_readable(connection_id).where(TicketRow.identifier == identifier))
    return None if row is None else TicketRead.model_validate(row)


async def find_by_identifiers(
    db: AsyncSession, identifiers: Sequence[str], *, connection_id: uuid.UUID
) -> dict[str, TicketRead]:
    rows = await db.scalars(_readable(connection_id).where(TicketRow.identifier.in_(list(identifiers))))
    return {row.identifier: TicketRead.model_validate(row) for row in rows if row.identifier is not None}


async def find_by_vendor_refs(
    db: AsyncSession, refs: Sequence[str], *, connection_id: uuid.UUID
) -> dict[str, TicketRead]:
    """Tickets whose vendor id or vendor key is among `refs`, keyed by the ref that matched."""
    wanted = list(refs)
    rows = await db.scalars(
        _readable(connection_id).where(or_(TicketRow.vendor_id.in_(wanted), TicketRow.vendor_key.in_(wanted)))
    )
    found: dict[str, TicketRead] = {}
    for row in rows:
        ticket = TicketRead.model_validate(row)
        for ref in (row.vendor_id, row.vendor_key):
            if ref in wanted:
                found[ref] = ticket
    return found


async def upsert_ticket(
    db: AsyncSession,
    values: TicketValues,
    *,
    organization_id: uuid.UUID,
    connection_id: uuid.UUID,
    identifier: str | None = None,
) -> TicketRead | None:
    """Inserts, or updates the row with the same vendor id, unless the stored row reflects a newer
    vendor change (a sync never reverts a newer write). Returns None when the row was newer.

    An identifier given here is kept; None never erases an identifier already stored."""
    now = utcnow()
    columns = asdict(values) | {"updated_at": now, "status_updated_at": values.ticket_updated_at or now}
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(TicketRow).values(
        id=uuid.uuid4(),
        organization_id=organization_id,
        connection_id=connection_id,
        identifier=identifier,
        created_at=now,
        active=True,
        **columns,
    )
    update_columns: dict[str, Any] = {name: statement.excluded[name] for name in columns}
    # The status time moves only when the status does.
    update_columns["status_updated_at"] = case(
        (TicketRow.status.is_distinct_from(statement.excluded.status), statement.excluded.status_updated_at),
        else_=TicketRow.status_updated_at,
    )
    update_columns["active"] = statement.excluded.active
    if identifier is not None:
        update_columns["identifier"] = statement.excluded.identifier
    newer_or_equal = or_(
        TicketRow.ticket_updated_at.is_(None),
        statement.excluded.ticket_updated_at.is_(None),
        TicketRow.ticket_updated_at <= statement.excluded.ticket_updated_at,
    )
    upsert = statement.on_conflict_do_update(
        index_elements=[TicketRow.connection_id, TicketRow.vendor_id],
        set_=update_columns,
        where=newer_or_equal,
    ).returning(TicketRow)
    row = await db.scalar(upsert, execution_options={"populate_existing": True})
    return None if row is None else TicketRead.model_validate(row)
