"""The multi-row form of `tickets.upsert_ticket`, for sync pages.

One INSERT ... ON CONFLICT per page instead of one per ticket: building and compiling a statement
per row cost ~6 ms a ticket, which would make a 100,000-issue sync take ten minutes. The columns
and the guard are `upsert_ticket`'s: a stored row holding a newer vendor change is kept (a sync never
reverts a newer write), and the status time moves only when the status does. A sync never sets an
identifier, so none is written (and one already stored stays), and nothing is returned.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import case, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.store.base import utcnow
from ticketbridge.store.tables import TicketRow
from ticketbridge.store.tickets import TicketValues


async def upsert_tickets(
    db: AsyncSession, values: Sequence[TicketValues], *, organization_id: uuid.UUID, connection_id: uuid.UUID
) -> None:
    if not values:
        return
    now = utcnow()
    # One row per vendor id (the last wins): ON CONFLICT may not touch a row twice in one statement.
    latest = {value.vendor_id: value for value in values}
    rows = [
        asdict(value)
        | {
            "id": uuid.uuid4(),
            "organization_id": organization_id,
            "connection_id": connection_id,
            "identifier": None,
            "created_at": now,
            "active": True,
            "updated_at": now,
            "status_updated_at": value.ticket_updated_at or now,
        }
        for value in latest.values()
    ]
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(TicketRow).values(rows)
    excluded = statement.excluded
    changed = [*asdict(values[0]), "updated_at", "active"]
    update_columns: dict[str, Any] = {name: excluded[name] for name in changed}
    update_columns["status_updated_at"] = case(
        (TicketRow.status.is_distinct_from(excluded.status), excluded.status_updated_at),
        else_=TicketRow.status_updated_at,
    )
    newer_or_equal = or_(
        TicketRow.ticket_updated_at.is_(None),
        excluded.ticket_updated_at.is_(None),
        TicketRow.ticket_updated_at <= excluded.ticket_updated_at,
    )
    await db.execute(
        statement.on_conflict_do_update(
            index_elements=[TicketRow.connection_id, TicketRow.vendor_id],
            set_=update_columns,
            where=newer_or_equal,
        )
    )
