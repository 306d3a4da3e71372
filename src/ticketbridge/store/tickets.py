"""Tickets: lookups on behalf of a connection, and the one upsert that both writes and syncs use."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Insert, Select, Table, bindparam, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.domain.tickets import TicketRead
from ticketbridge.errors import NotFound
from ticketbridge.store.base import read_columns, utcnow
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


_TICKETS = cast(Table, TicketRow.__table__)
#: The columns TicketRead is validated from: lookups and upserts answer Core rows, never ORM
#: instances (no identity map to keep in step with the Core upserts, no ORM loading cost).
_READ_COLUMNS = read_columns(TicketRow, TicketRead)


def _readable(connection_id: uuid.UUID) -> Select[Any]:
    return select(*_READ_COLUMNS).where(TicketRow.connection_id == connection_id)


#: Built once (GET /v1/itsm/tickets/{id} runs it on every request).
_TICKET_BY_ID = select(*_READ_COLUMNS).where(
    TicketRow.connection_id == bindparam("connection_id"), TicketRow.id == bindparam("ticket_id")
)


async def get_ticket_or_none(db: AsyncSession, ticket_id: uuid.UUID, *, connection_id: uuid.UUID) -> TicketRead | None:
    result = await db.execute(_TICKET_BY_ID, {"connection_id": connection_id, "ticket_id": ticket_id})
    row = result.first()
    return None if row is None else TicketRead.model_validate(row)


async def get_ticket(db: AsyncSession, ticket_id: uuid.UUID, *, connection_id: uuid.UUID) -> TicketRead:
    ticket = await get_ticket_or_none(db, ticket_id, connection_id=connection_id)
    if ticket is None:
        raise NotFound(f"Ticket {ticket_id} not found.")
    return ticket


async def get_tickets(
    db: AsyncSession, ticket_ids: Sequence[uuid.UUID], *, connection_id: uuid.UUID
) -> dict[uuid.UUID, TicketRead]:
    rows = await db.execute(_readable(connection_id).where(TicketRow.id.in_(list(ticket_ids))))
    return {row.id: TicketRead.model_validate(row) for row in rows}


async def get_by_identifier(db: AsyncSession, identifier: str, *, connection_id: uuid.UUID) -> TicketRead | None:
    row = (await db.execute(_readable(connection_id).where(TicketRow.identifier == identifier))).first()
    return None if row is None else TicketRead.model_validate(row)


#: Built once (every create's claim runs it).
_TICKETS_BY_IDENTIFIERS = select(*_READ_COLUMNS).where(
    TicketRow.connection_id == bindparam("connection_id"),
    TicketRow.identifier.in_(bindparam("identifiers", expanding=True)),
)


async def find_by_identifiers(
    db: AsyncSession, identifiers: Sequence[str], *, connection_id: uuid.UUID
) -> dict[str, TicketRead]:
    if not identifiers:
        return {}
    rows = await db.execute(
        _TICKETS_BY_IDENTIFIERS, {"connection_id": connection_id, "identifiers": list(dict.fromkeys(identifiers))}
    )
    return {row.identifier: TicketRead.model_validate(row) for row in rows if row.identifier is not None}


async def find_by_vendor_refs(
    db: AsyncSession, refs: Sequence[str], *, connection_id: uuid.UUID
) -> dict[str, TicketRead]:
    """Tickets whose vendor id or vendor key is among `refs`, keyed by the ref that matched."""
    wanted = list(refs)
    if not wanted:
        return {}
    rows = await db.execute(
        _readable(connection_id).where(or_(TicketRow.vendor_id.in_(wanted), TicketRow.vendor_key.in_(wanted)))
    )
    found: dict[str, TicketRead] = {}
    for row in rows:
        ticket = TicketRead.model_validate(row)
        for ref in (row.vendor_id, row.vendor_key):
            if ref in wanted:
                found[ref] = ticket
    return found


#: The columns a write or a sync sets, in TicketValues order.
VALUE_COLUMNS = tuple(field.name for field in fields(TicketValues))


async def upsert_written(
    db: AsyncSession,
    written: Sequence[tuple[TicketValues, str | None]],
    *,
    organization_id: uuid.UUID,
    connection_id: uuid.UUID,
) -> dict[str, TicketRead]:
    """Stores tickets a write just made or read (with their identifiers) in one statement, and
    returns the rows it wrote by vendor id. A row that reflects a newer vendor change is kept as it
    is (a sync never reverts a newer write, nor a write a newer sync) and is missing from the answer.

    An identifier given here is stored; None never erases an identifier already stored."""
    latest = {values.vendor_id: (values, identifier) for values, identifier in written}
    if not latest:
        return {}
    rows = {
        values.vendor_id: _row(
            values, organization_id=organization_id, connection_id=connection_id, identifier=identifier
        )
        for values, identifier in latest.values()
    }
    stored = await db.execute(_upsert(_dialect(db), set_identifier=True, returning=True), list(rows.values()))
    return {
        decided.vendor_id: TicketRead.model_validate({**_in_utc(rows[decided.vendor_id]), **decided._mapping})
        for decided in stored
    }


def _in_utc(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the database gives it back: its times in UTC (a vendor may answer other offsets)."""
    return {name: value.astimezone(UTC) if isinstance(value, datetime) else value for name, value in row.items()}


async def set_identifiers(db: AsyncSession, identifiers: dict[str, str], *, connection_id: uuid.UUID) -> None:
    """Vendor id -> identifier, for rows a guarded upsert kept as they were (rare: one statement each)."""
    for vendor_id, identifier in identifiers.items():
        await db.execute(
            update(_TICKETS)
            .where(_TICKETS.c.connection_id == connection_id, _TICKETS.c.vendor_id == vendor_id)
            .values(identifier=identifier)
        )


async def upsert_tickets(
    db: AsyncSession, values: Sequence[TicketValues], *, organization_id: uuid.UUID, connection_id: uuid.UUID
) -> None:
    """The form of `upsert_written` for sync pages: one statement per page. A sync sets no identifier."""
    # One row per vendor id (the last wins): ON CONFLICT may not touch a row twice in one statement.
    latest = {value.vendor_id: value for value in values}
    if not latest:
        return
    rows = [
        _row(value, organization_id=organization_id, connection_id=connection_id, identifier=None)
        for value in latest.values()
    ]
    await db.execute(_upsert(_dialect(db), set_identifier=False, returning=False), rows)


def _row(
    values: TicketValues, *, organization_id: uuid.UUID, connection_id: uuid.UUID, identifier: str | None
) -> dict[str, Any]:
    now = utcnow()
    row = {name: getattr(values, name) for name in VALUE_COLUMNS}
    row.update(
        id=uuid.uuid4(),
        organization_id=organization_id,
        connection_id=connection_id,
        identifier=identifier,
        created_at=now,
        updated_at=now,
        active=True,
        status_updated_at=values.ticket_updated_at or now,
    )
    return row


def _dialect(db: AsyncSession) -> str:
    return "postgresql" if db.get_bind().dialect.name == "postgresql" else "sqlite"


@cache
def _upsert(dialect: str, *, set_identifier: bool, returning: bool) -> Insert:
    """INSERT ... ON CONFLICT (connection, vendor id) DO UPDATE, guarded so that a stored row holding
    a newer vendor change is kept; the status time moves only when the status does.

    Built once per dialect and form, with every value a bound parameter, and run with a list of rows
    (executemany): SQLAlchemy compiles it once and batches the rows itself ("insertmanyvalues" when it
    returns rows, the driver's executemany otherwise), where a statement built from the rows' values
    was compiled again for every batch (about 65 % of a sync's time)."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(_TICKETS)
    excluded = statement.excluded
    stored = _TICKETS.c
    update_columns: dict[str, Any] = {name: excluded[name] for name in (*VALUE_COLUMNS, "updated_at", "active")}
    update_columns["status_updated_at"] = case(
        (stored.status.is_distinct_from(excluded.status), excluded.status_updated_at),
        else_=stored.status_updated_at,
    )
    if set_identifier:
        update_columns["identifier"] = func.coalesce(excluded.identifier, stored.identifier)
    newer_or_equal = or_(
        stored.ticket_updated_at.is_(None),
        excluded.ticket_updated_at.is_(None),
        stored.ticket_updated_at <= excluded.ticket_updated_at,
    )
    upsert = statement.on_conflict_do_update(
        index_elements=[stored.connection_id, stored.vendor_id], set_=update_columns, where=newer_or_equal
    )
    return upsert.returning(*_DECIDED_COLUMNS) if returning else upsert


#: What an upsert returns: the columns the database decides (the id and creation time of a row
#: already there, the identifier kept, the status time). Every other column is the row as sent, so
#: the answer is built from it rather than parsed back (UUID and time parsing was a third of a
#: bulk create's storing).
_DECIDED_COLUMNS = tuple(
    _TICKETS.c[name] for name in ("id", "vendor_id", "identifier", "status_updated_at", "created_at", "updated_at")
)
