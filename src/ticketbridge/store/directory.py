"""Projects, users, priorities and statuses of a connection: resolving our UUIDs to vendor ids, upserts
from the vendor, and marking inactive what the vendor no longer lists."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from functools import cache
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from ticketbridge.domain.directory import VendorPriority, VendorStatus
from ticketbridge.domain.tickets import VendorProject, VendorUser
from ticketbridge.store.base import utcnow
from ticketbridge.store.tables import PriorityRow, ProjectRow, StatusRow, UserRow

#: The tables keyed by (connection_id, vendor_id) that the sync fills.
DirectoryTable = type[ProjectRow] | type[UserRow] | type[PriorityRow] | type[StatusRow]
#: Vendor ids per UPDATE when marking rows inactive, well below every driver's bind-parameter limit.
DEACTIVATE_CHUNK = 500


async def _pairs(
    db: AsyncSession,
    key: InstrumentedAttribute[Any],
    value: InstrumentedAttribute[Any],
    wanted: Sequence[Any],
    *,
    connection_id: uuid.UUID,
) -> dict[Any, Any]:
    """{key: value} for the rows of one connection whose `key` is in `wanted` (one query)."""
    if not wanted:
        return {}
    rows = await db.execute(
        _pairs_statement(key, value), {"connection_id": connection_id, "wanted": list(dict.fromkeys(wanted))}
    )
    return {row[0]: row[1] for row in rows}


@cache
def _pairs_statement(key: InstrumentedAttribute[Any], value: InstrumentedAttribute[Any]) -> Select[Any]:
    """Built once per pair of columns: a write resolves its references with it on every request."""
    table = cast(Table, key.class_.__table__)
    keys = table.c[key.key]
    return select(keys, table.c[value.key]).where(
        table.c.connection_id == bindparam("connection_id"), keys.in_(bindparam("wanted", expanding=True))
    )


async def project_vendor_ids(
    db: AsyncSession, project_ids: Sequence[uuid.UUID], *, connection_id: uuid.UUID
) -> dict[uuid.UUID, str]:
    return await _pairs(db, ProjectRow.id, ProjectRow.vendor_id, project_ids, connection_id=connection_id)


async def user_vendor_ids(
    db: AsyncSession, user_ids: Sequence[uuid.UUID], *, connection_id: uuid.UUID
) -> dict[uuid.UUID, str]:
    return await _pairs(db, UserRow.id, UserRow.vendor_id, user_ids, connection_id=connection_id)


async def project_ids_by_vendor(
    db: AsyncSession, vendor_ids: Sequence[str], *, connection_id: uuid.UUID
) -> dict[str, uuid.UUID]:
    return await _pairs(db, ProjectRow.vendor_id, ProjectRow.id, vendor_ids, connection_id=connection_id)


async def user_ids_by_vendor(
    db: AsyncSession, vendor_ids: Sequence[str], *, connection_id: uuid.UUID
) -> dict[str, uuid.UUID]:
    return await _pairs(db, UserRow.vendor_id, UserRow.id, vendor_ids, connection_id=connection_id)


def _insert_for(db: AsyncSession):  # type: ignore[no-untyped-def]
    return pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert


async def _upsert(
    db: AsyncSession,
    table: DirectoryTable,
    rows: Sequence[dict[str, Any]],
    *,
    organization_id: uuid.UUID,
    connection_id: uuid.UUID,
) -> None:
    """Inserts `rows` (vendor_id plus the vendor's values) or, for a vendor id already stored, updates
    every value given (and `updated_at`); ids and `created_at` stay."""
    if not rows:
        return
    now = utcnow()
    statement = _insert_for(db)(table).values(
        [
            {
                "id": uuid.uuid4(),
                "organization_id": organization_id,
                "connection_id": connection_id,
                "created_at": now,
                "updated_at": now,
                **row,
            }
            for row in rows
        ]
    )
    refreshed = [name for name in rows[0] if name != "vendor_id"] + ["updated_at"]
    await db.execute(
        statement.on_conflict_do_update(
            index_elements=[table.connection_id, table.vendor_id],
            set_={name: statement.excluded[name] for name in refreshed},
        )
    )


async def upsert_projects(
    db: AsyncSession,
    projects: Sequence[VendorProject],
    *,
    organization_id: uuid.UUID,
    connection_id: uuid.UUID,
) -> None:
    """Listed projects are active, including any that had been marked inactive."""
    rows = [
        {
            "vendor_id": p.vendor_id,
            "internal_id": p.internal_id,
            "name": p.name,
            "project_type": p.project_type,
            "active": True,
        }
        for p in projects
    ]
    await _upsert(db, ProjectRow, rows, organization_id=organization_id, connection_id=connection_id)


async def upsert_users(
    db: AsyncSession, users: Sequence[VendorUser], *, organization_id: uuid.UUID, connection_id: uuid.UUID
) -> None:
    rows = [
        {
            "vendor_id": u.vendor_id,
            "name": u.name,
            "email": u.email,
            "status": "ACTIVE" if u.active else "INACTIVE",
            "account_type": u.account_type,
        }
        for u in users
    ]
    await _upsert(db, UserRow, rows, organization_id=organization_id, connection_id=connection_id)


async def replace_priorities(
    db: AsyncSession,
    priorities: Sequence[VendorPriority],
    *,
    organization_id: uuid.UUID,
    connection_id: uuid.UUID,
) -> int:
    """Stores the vendor's complete list: each listed priority active (again, if it had been marked
    inactive), every other one of the connection inactive. Returns how many were marked inactive."""
    rows = [{"vendor_id": p.vendor_id, "name": p.name, "active": True} for p in priorities]
    await _upsert(db, PriorityRow, rows, organization_id=organization_id, connection_id=connection_id)
    listed = {p.vendor_id for p in priorities}
    return await _deactivate_unlisted(db, PriorityRow, listed, connection_id=connection_id)


async def replace_statuses(
    db: AsyncSession, statuses: Sequence[VendorStatus], *, organization_id: uuid.UUID, connection_id: uuid.UUID
) -> int:
    """As `replace_priorities`, for statuses."""
    rows = [{"vendor_id": s.vendor_id, "name": s.name, "category": s.category, "active": True} for s in statuses]
    await _upsert(db, StatusRow, rows, organization_id=organization_id, connection_id=connection_id)
    listed = {s.vendor_id for s in statuses}
    return await _deactivate_unlisted(db, StatusRow, listed, connection_id=connection_id)


async def deactivate_projects(db: AsyncSession, listed: Collection[str], *, connection_id: uuid.UUID) -> int:
    """Marks inactive the connection's active projects whose vendor id is not in `listed`, a complete
    listing gathered page by page; returns how many."""
    return await _deactivate_unlisted(db, ProjectRow, listed, connection_id=connection_id)


async def _deactivate_unlisted(
    db: AsyncSession,
    table: type[ProjectRow] | type[PriorityRow] | type[StatusRow],
    listed: Collection[str],
    *,
    connection_id: uuid.UUID,
) -> int:
    # The difference is taken here rather than as NOT IN (listed): a listing may hold more vendor ids
    # than one statement can bind, while the rows that went missing are usually none or a few.
    active = await db.scalars(
        select(table.vendor_id).where(table.connection_id == connection_id, table.active.is_(True))
    )
    gone = sorted(set(active) - set(listed))
    now = utcnow()
    for start in range(0, len(gone), DEACTIVATE_CHUNK):
        await db.execute(
            update(table)
            .where(table.connection_id == connection_id, table.vendor_id.in_(gone[start : start + DEACTIVATE_CHUNK]))
            .values(active=False, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    return len(gone)
