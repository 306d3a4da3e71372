"""Create claims: the durable lock that lets one writer at a time call the vendor for an identifier.

A writer claims every identifier of its batch before any vendor call, in one short transaction
that also looks for tickets already stored under them; the primary key (connection, identifier)
makes the claim atomic on both databases and across processes. `services/create_claims.py` tells
the whole protocol; this module holds its statements.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import cast

from sqlalchemy import Insert, Table, Update, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.store.base import utcnow
from ticketbridge.store.tables import CreateClaimRow

CLAIMED = "CLAIMED"
UNKNOWN = "UNKNOWN"
WRITTEN = "WRITTEN"

_CLAIMS = cast(Table, CreateClaimRow.__table__)


@dataclass(frozen=True, slots=True)
class Claim:
    identifier: str
    owner: str
    state: str
    vendor_ref: str | None
    attempts: int
    expires_at: datetime
    reconcile_after: datetime


async def insert_missing(
    db: AsyncSession,
    identifiers: Sequence[str],
    *,
    organization_id: uuid.UUID,
    connection_id: uuid.UUID,
    owner: str,
    ttl_seconds: float,
    settle_seconds: float,
) -> set[str]:
    """Claims each identifier nobody holds; returns the ones this call claimed."""
    if not identifiers:
        return set()
    now = utcnow()
    expires = now + timedelta(seconds=ttl_seconds)
    rows = [
        {
            "connection_id": connection_id,
            "identifier": identifier,
            "organization_id": organization_id,
            "owner": owner,
            "state": CLAIMED,
            "vendor_ref": None,
            "attempts": 1,
            "expires_at": expires,
            "reconcile_after": expires + timedelta(seconds=settle_seconds),
            "created_at": now,
            "updated_at": now,
        }
        for identifier in dict.fromkeys(identifiers)
    ]
    dialect = "postgresql" if db.get_bind().dialect.name == "postgresql" else "sqlite"
    return {row.identifier for row in await db.execute(_insert_missing(dialect), rows)}


@cache
def _insert_missing(dialect: str) -> Insert:
    """Built once per dialect and run with a list of rows: compiled once, the rows batched by
    SQLAlchemy (a statement built from the values was compiled again for every batch)."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(_CLAIMS)
        .on_conflict_do_nothing(index_elements=[_CLAIMS.c.connection_id, _CLAIMS.c.identifier])
        .returning(_CLAIMS.c.identifier)
    )


async def lock_claims(db: AsyncSession, identifiers: Sequence[str], *, connection_id: uuid.UUID) -> dict[str, Claim]:
    """The claims on these identifiers, locked for this transaction (PostgreSQL; SQLite's
    transactions already hold the single write lock)."""
    if not identifiers:
        return {}
    statement = (
        select(CreateClaimRow)
        .where(CreateClaimRow.connection_id == connection_id, CreateClaimRow.identifier.in_(list(identifiers)))
        .with_for_update()
    )
    return {row.identifier: _claim(row) for row in await db.scalars(statement)}


async def take_over(
    db: AsyncSession,
    identifier: str,
    *,
    connection_id: uuid.UUID,
    owner: str,
    ttl_seconds: float,
    settle_seconds: float,
    keep_written: bool,
) -> None:
    """Hands a claim that `lock_claims` returned to a new writer (its earlier writer is gone). A
    WRITTEN claim stays WRITTEN with its vendor ref when `keep_written`."""
    now = utcnow()
    expires = now + timedelta(seconds=ttl_seconds)
    await db.execute(
        update(CreateClaimRow)
        .where(CreateClaimRow.connection_id == connection_id, CreateClaimRow.identifier == identifier)
        .values(
            owner=owner,
            state=WRITTEN if keep_written else CLAIMED,
            attempts=CreateClaimRow.attempts + 1,
            expires_at=expires,
            reconcile_after=expires + timedelta(seconds=settle_seconds),
            updated_at=now,
        )
    )


async def mark_unknown(
    db: AsyncSession,
    identifiers: Sequence[str],
    *,
    connection_id: uuid.UUID,
    owner: str,
    settle_seconds: float,
) -> None:
    """The vendor call was sent and not confirmed: the claim stays until a marker search settles it."""
    now = utcnow()
    await _update_owned(
        db,
        identifiers,
        connection_id=connection_id,
        owner=owner,
        state=UNKNOWN,
        expires_at=now,
        reconcile_after=now + timedelta(seconds=settle_seconds),
        updated_at=now,
    )


async def mark_written(db: AsyncSession, refs: dict[str, str], *, connection_id: uuid.UUID, owner: str) -> None:
    """The vendor confirmed these creates (identifier -> vendor ref): from now on they are never
    created again, even if storing the ticket fails."""
    if not refs:
        return
    now = utcnow()
    rows = [
        {"b_connection_id": connection_id, "b_identifier": identifier, "b_owner": owner, "b_ref": ref, "b_now": now}
        for identifier, ref in refs.items()
    ]
    await db.execute(_MARK_WRITTEN, rows)


#: One statement run with a row per claim (executemany): each claim gets its own vendor ref.
_MARK_WRITTEN: Update = (
    update(_CLAIMS)
    .where(
        _CLAIMS.c.connection_id == bindparam("b_connection_id"),
        _CLAIMS.c.identifier == bindparam("b_identifier"),
        _CLAIMS.c.owner == bindparam("b_owner"),
    )
    .values(state=WRITTEN, vendor_ref=bindparam("b_ref"), updated_at=bindparam("b_now"))
)


async def release(db: AsyncSession, identifiers: Sequence[str], *, connection_id: uuid.UUID, owner: str) -> None:
    """Drops this owner's claims: the ticket is stored, or the vendor surely created nothing."""
    if not identifiers:
        return
    await db.execute(
        delete(CreateClaimRow).where(
            CreateClaimRow.connection_id == connection_id,
            CreateClaimRow.identifier.in_(list(identifiers)),
            CreateClaimRow.owner == owner,
        )
    )


async def find_written(db: AsyncSession, vendor_refs: Sequence[str], *, connection_id: uuid.UUID) -> dict[str, str]:
    """Vendor ref -> identifier of the WRITTEN claims among these refs (tickets a sync may adopt)."""
    if not vendor_refs:
        return {}
    rows = await db.execute(
        select(CreateClaimRow.vendor_ref, CreateClaimRow.identifier).where(
            CreateClaimRow.connection_id == connection_id,
            CreateClaimRow.state == WRITTEN,
            CreateClaimRow.vendor_ref.in_(list(vendor_refs)),
        )
    )
    return {ref: identifier for ref, identifier in rows if ref is not None}


async def delete_claims(db: AsyncSession, identifiers: Sequence[str], *, connection_id: uuid.UUID) -> None:
    """Drops the claims whatever their owner (their ticket is stored now)."""
    if identifiers:
        await db.execute(_DELETE_CLAIMS, {"connection_id": connection_id, "identifiers": list(identifiers)})


#: Built once (every successful create runs it).
_DELETE_CLAIMS = _CLAIMS.delete().where(
    _CLAIMS.c.connection_id == bindparam("connection_id"),
    _CLAIMS.c.identifier.in_(bindparam("identifiers", expanding=True)),
)


async def _update_owned(
    db: AsyncSession, identifiers: Sequence[str], *, connection_id: uuid.UUID, owner: str, **values: object
) -> None:
    if identifiers:
        await db.execute(
            update(CreateClaimRow)
            .where(
                CreateClaimRow.connection_id == connection_id,
                CreateClaimRow.identifier.in_(list(identifiers)),
                CreateClaimRow.owner == owner,
            )
            .values(**values)
        )


def _claim(row: CreateClaimRow) -> Claim:
    return Claim(
        identifier=row.identifier,
        owner=row.owner,
        state=row.state,
        vendor_ref=row.vendor_ref,
        attempts=row.attempts,
        expires_at=row.expires_at,
        reconcile_after=row.reconcile_after,
    )
