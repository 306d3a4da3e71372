"""The connection audit log: one row per change (who, when, which fields), never a value."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.domain.tenancy import Frozen
from ticketbridge.store.tables import ConnectionAuditRow


class ConnectionAuditRead(Frozen):
    id: uuid.UUID
    connection_id: uuid.UUID
    actor: str
    action: str
    fields: list[str]
    request_id: str | None
    created_at: datetime


async def record_change(
    db: AsyncSession,
    *,
    organization_id: uuid.UUID,
    connection_id: uuid.UUID,
    actor: str,
    action: str,
    fields: Sequence[str],
    request_id: str | None,
) -> None:
    db.add(
        ConnectionAuditRow(
            organization_id=organization_id,
            connection_id=connection_id,
            actor=actor,
            action=action,
            fields=sorted(fields),
            request_id=request_id,
        )
    )
    await db.flush()


async def list_changes(db: AsyncSession, connection_id: uuid.UUID, *, limit: int) -> list[ConnectionAuditRead]:
    """The connection's newest changes first."""
    rows = await db.scalars(
        select(ConnectionAuditRow)
        .where(ConnectionAuditRow.connection_id == connection_id)
        .order_by(ConnectionAuditRow.created_at.desc(), ConnectionAuditRow.id.desc())
        .limit(limit)
    )
    return [ConnectionAuditRead.model_validate(row) for row in rows]
