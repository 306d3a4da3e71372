"""Projects and users of a connection: resolving our UUIDs to vendor ids, and upserts from the vendor."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from ticketbridge.domain.tickets import VendorProject, VendorUser
from ticketbridge.store.base import utcnow
from ticketbridge.store.tables import ProjectRow, UserRow


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
    table = key.class_
    rows = await db.execute(select(key, value).where(table.connection_id == connection_id, key.in_(list(wanted))))
    return {row[0]: row[1] for row in rows}


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


async def upsert_projects(
    db: AsyncSession,
    projects: Sequence[VendorProject],
    *,
    organization_id: uuid.UUID,
    connection_id: uuid.UUID,
) -> None:
    if not projects:
        return
    now = utcnow()
    insert = _insert_for(db)
    statement = insert(ProjectRow).values(
        [
            {
                "id": uuid.uuid4(),
                "organization_id": organization_id,
                "connection_id": connection_id,
                "vendor_id": p.vendor_id,
                "internal_id": p.internal_id,
                "name": p.name,
                "project_type": p.project_type,
                "active": True,
                "created_at": now,
                "updated_at": now,
            }
            for p in projects
        ]
    )
    await db.execute(
        statement.on_conflict_do_update(
            index_elements=[ProjectRow.connection_id, ProjectRow.vendor_id],
            set_={
                name: statement.excluded[name]
                for name in ("internal_id", "name", "project_type", "active", "updated_at")
            },
        )
    )


async def upsert_users(
    db: AsyncSession, users: Sequence[VendorUser], *, organization_id: uuid.UUID, connection_id: uuid.UUID
) -> None:
    if not users:
        return
    now = utcnow()
    insert = _insert_for(db)
    statement = insert(UserRow).values(
        [
            {
                "id": uuid.uuid4(),
                "organization_id": organization_id,
                "connection_id": connection_id,
                "vendor_id": u.vendor_id,
                "name": u.name,
                "email": u.email,
                "status": "ACTIVE" if u.active else "INACTIVE",
                "account_type": u.account_type,
                "created_at": now,
                "updated_at": now,
            }
            for u in users
        ]
    )
    await db.execute(
        statement.on_conflict_do_update(
            index_elements=[UserRow.connection_id, UserRow.vendor_id],
            set_={name: statement.excluded[name] for name in ("name", "email", "status", "account_type", "updated_at")},
        )
    )
