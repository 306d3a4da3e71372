"""Idempotency keys: the statements behind `services/idempotency.py`.

The primary key (scope, key) makes the first claim atomic on both databases and across processes:
`insert_if_absent` claims a free key, `lock_record` reads a taken one under a row lock (PostgreSQL;
SQLite's transactions already hold the single write lock) so that a takeover is decided once.
Every write of a running request names its `lock_token`, so a request whose row was taken over
cannot overwrite what the new holder stores.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.store.tables import IdempotencyKeyRow

IN_PROGRESS = "IN_PROGRESS"
DONE = "DONE"


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    request_hash: str
    state: str
    locked_until: datetime
    expires_at: datetime
    status_code: int | None
    response_headers: list[list[str]]
    response_body: bytes | None


@dataclass(frozen=True, slots=True)
class Hold:
    """What a running request writes: its row's key and the token that proves it still holds it."""

    scope: str
    key: str
    lock_token: str


async def insert_if_absent(
    db: AsyncSession,
    hold: Hold,
    *,
    organization_id: uuid.UUID | None,
    request_hash: str,
    locked_until: datetime,
    expires_at: datetime,
    now: datetime,
) -> bool:
    """Claims a key nobody holds (IN_PROGRESS); False if a row exists for it, live or not."""
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(IdempotencyKeyRow)
        .values(
            scope=hold.scope,
            key=hold.key,
            organization_id=organization_id,
            request_hash=request_hash,
            state=IN_PROGRESS,
            lock_token=hold.lock_token,
            locked_until=locked_until,
            response_headers=[],
            created_at=now,
            expires_at=expires_at,
        )
        .on_conflict_do_nothing(index_elements=[IdempotencyKeyRow.scope, IdempotencyKeyRow.key])
        .returning(IdempotencyKeyRow.key)
    )
    return (await db.scalar(statement)) is not None


async def lock_record(db: AsyncSession, scope: str, key: str) -> IdempotencyRecord | None:
    """The key's row, locked for this transaction; None if it went away meanwhile."""
    row = await db.scalar(
        select(IdempotencyKeyRow)
        .where(IdempotencyKeyRow.scope == scope, IdempotencyKeyRow.key == key)
        .with_for_update()
    )
    if row is None:
        return None
    return IdempotencyRecord(
        request_hash=row.request_hash,
        state=row.state,
        locked_until=row.locked_until,
        expires_at=row.expires_at,
        status_code=row.status_code,
        response_headers=row.response_headers,
        response_body=row.response_body,
    )


async def take_over(
    db: AsyncSession, hold: Hold, *, request_hash: str, locked_until: datetime, expires_at: datetime, now: datetime
) -> None:
    """Gives a row that `lock_record` returned (expired, or held by a dead request) to a new request."""
    await db.execute(
        update(IdempotencyKeyRow)
        .where(IdempotencyKeyRow.scope == hold.scope, IdempotencyKeyRow.key == hold.key)
        .values(
            request_hash=request_hash,
            state=IN_PROGRESS,
            lock_token=hold.lock_token,
            locked_until=locked_until,
            status_code=None,
            response_headers=[],
            response_body=None,
            created_at=now,
            expires_at=expires_at,
        )
    )


async def extend_lock(db: AsyncSession, hold: Hold, *, locked_until: datetime) -> bool:
    """Renews a running request's lock; False if the row is no longer its own."""
    result = await db.execute(
        update(IdempotencyKeyRow).where(*_held(hold)).values(locked_until=locked_until).returning(IdempotencyKeyRow.key)
    )
    return result.first() is not None


async def store_response(
    db: AsyncSession, hold: Hold, *, status_code: int, headers: list[list[str]], body: bytes
) -> bool:
    """Marks the row DONE with the answer to replay; False if the row is no longer this request's."""
    result = await db.execute(
        update(IdempotencyKeyRow)
        .where(*_held(hold))
        .values(state=DONE, status_code=status_code, response_headers=headers, response_body=body)
        .returning(IdempotencyKeyRow.key)
    )
    return result.first() is not None


async def delete_held(db: AsyncSession, hold: Hold) -> None:
    """Frees the key of a request that stores no answer, if the row is still its own."""
    await db.execute(delete(IdempotencyKeyRow).where(*_held(hold)))


async def delete_expired(db: AsyncSession, *, now: datetime) -> int:
    """Deletes rows past their `expires_at`; returns how many."""
    rows = await db.execute(
        delete(IdempotencyKeyRow).where(IdempotencyKeyRow.expires_at <= now).returning(IdempotencyKeyRow.key)
    )
    return len(rows.all())


def _held(hold: Hold) -> tuple[ColumnElement[bool], ...]:
    return (
        IdempotencyKeyRow.scope == hold.scope,
        IdempotencyKeyRow.key == hold.key,
        IdempotencyKeyRow.state == IN_PROGRESS,
        IdempotencyKeyRow.lock_token == hold.lock_token,
    )
