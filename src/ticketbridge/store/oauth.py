"""OAuth 2.0 (3LO) rows: each connection's tokens, and the connect flow's used states.

Tokens stay encrypted here (the ciphertext goes in and out as is); `services/tokens.py` decrypts
them. `lock_tokens` is the refresh lock: FOR UPDATE on PostgreSQL, and on SQLite the write
transaction every session begins with (BEGIN IMMEDIATE) already makes the caller the one writer.
Times are the caller's (`now`): the token service runs on an injectable clock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.enums import ConnectionState
from ticketbridge.store.base import utcnow
from ticketbridge.store.tables import Connection, JobRow, OAuthStateRow, OAuthTokenRow

ACTIVE = "ACTIVE"
#: The grant is gone (revoked, expired, refresh token refused): only a new consent helps.
REAUTHORIZE = "REAUTHORIZE"


@dataclass(frozen=True, slots=True)
class StoredTokens:
    connection_id: uuid.UUID
    organization_id: uuid.UUID
    tokens_encrypted: str
    access_token_expires_at: datetime
    scopes: list[str]
    cloud_id: str
    status: str
    granted_at: datetime
    refreshed_at: datetime | None

    @property
    def refresh_token_used_at(self) -> datetime:
        """When the refresh token in use was issued: the last refresh, or the consent."""
        return self.refreshed_at or self.granted_at


def _stored(row: OAuthTokenRow) -> StoredTokens:
    return StoredTokens(
        connection_id=row.connection_id,
        organization_id=row.organization_id,
        tokens_encrypted=row.tokens_encrypted,
        access_token_expires_at=row.access_token_expires_at,
        scopes=[str(scope) for scope in row.scopes],
        cloud_id=row.cloud_id,
        status=row.status,
        granted_at=row.granted_at,
        refreshed_at=row.refreshed_at,
    )


async def get_tokens_or_none(db: AsyncSession, connection_id: uuid.UUID) -> StoredTokens | None:
    row = await db.get(OAuthTokenRow, connection_id, populate_existing=True)
    return None if row is None else _stored(row)


async def lock_tokens(db: AsyncSession, connection_id: uuid.UUID) -> StoredTokens | None:
    """The connection's tokens, locked until the transaction ends: at most one refresh at a time,
    across processes. A waiter reads what the refresh before it committed."""
    statement = select(OAuthTokenRow).where(OAuthTokenRow.connection_id == connection_id).with_for_update()
    row = (await db.execute(statement.execution_options(populate_existing=True))).scalar_one_or_none()
    return None if row is None else _stored(row)


async def save_tokens(
    db: AsyncSession,
    *,
    connection_id: uuid.UUID,
    organization_id: uuid.UUID,
    tokens_encrypted: str,
    access_token_expires_at: datetime,
    scopes: list[str],
    cloud_id: str,
    granted_at: datetime,
) -> None:
    """Inserts or replaces the connection's tokens (a new consent at `granted_at`), ACTIVE again."""
    row = await db.get(OAuthTokenRow, connection_id)
    if row is None:
        row = OAuthTokenRow(connection_id=connection_id, organization_id=organization_id)
        db.add(row)
    row.tokens_encrypted = tokens_encrypted
    row.access_token_expires_at = access_token_expires_at
    row.scopes = list(scopes)
    row.cloud_id = cloud_id
    row.status = ACTIVE
    row.granted_at = granted_at
    row.refreshed_at = None
    await db.flush()


async def record_refresh(
    db: AsyncSession,
    connection_id: uuid.UUID,
    *,
    tokens_encrypted: str,
    access_token_expires_at: datetime,
    now: datetime,
) -> None:
    await db.execute(
        update(OAuthTokenRow)
        .where(OAuthTokenRow.connection_id == connection_id)
        .values(
            tokens_encrypted=tokens_encrypted,
            access_token_expires_at=access_token_expires_at,
            refreshed_at=now,
            updated_at=now,
        )
    )


async def set_status(db: AsyncSession, connection_id: uuid.UUID, status: str) -> None:
    await db.execute(
        update(OAuthTokenRow)
        .where(OAuthTokenRow.connection_id == connection_id)
        .values(status=status, updated_at=utcnow())
    )


async def idle_grants(
    db: AsyncSession, *, used_before: datetime, job_type: str, retry_after: datetime
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(organization id, connection id) of each live grant whose refresh token was last used before
    `used_before`, on a connection that is not deleted, with no `job_type` job queued or running and
    none created since `retry_after` (so a refresh that keeps failing is not retried every round)."""
    recent = exists().where(
        JobRow.connection_id == OAuthTokenRow.connection_id,
        JobRow.job_type == job_type,
        (JobRow.status.in_(["QUEUED", "RUNNING"])) | (JobRow.created_at >= retry_after),
    )
    rows = await db.execute(
        select(OAuthTokenRow.organization_id, OAuthTokenRow.connection_id)
        .join(Connection, Connection.id == OAuthTokenRow.connection_id)
        .where(
            OAuthTokenRow.status == ACTIVE,
            Connection.state != ConnectionState.DELETED,
            func.coalesce(OAuthTokenRow.refreshed_at, OAuthTokenRow.granted_at) < used_before,
            ~recent,
        )
        .order_by(OAuthTokenRow.connection_id)
    )
    return [(row.organization_id, row.connection_id) for row in rows]


async def use_state(db: AsyncSession, state_id: str, *, organization_id: uuid.UUID, expires_at: datetime) -> bool:
    """Records the state as used; False when it was used before. Expired rows are swept first (their
    states are refused by their own expiry anyway)."""
    now = utcnow()
    await db.execute(delete(OAuthStateRow).where(OAuthStateRow.expires_at < now))
    try:
        async with db.begin_nested():
            db.add(OAuthStateRow(id=state_id, organization_id=organization_id, used_at=now, expires_at=expires_at))
    except IntegrityError:
        return False
    return True


async def hold_pending(db: AsyncSession, state_id: str, pending_encrypted: str) -> None:
    await db.execute(
        update(OAuthStateRow).where(OAuthStateRow.id == state_id).values(pending_encrypted=pending_encrypted)
    )


async def take_pending(db: AsyncSession, state_id: str, *, organization_id: uuid.UUID) -> str | None:
    """The tokens held for the state, taken once (a second call answers None), by its organization
    only and before the state expires."""
    pending = await db.scalar(
        select(OAuthStateRow.pending_encrypted)
        .where(
            OAuthStateRow.id == state_id,
            OAuthStateRow.organization_id == organization_id,
            OAuthStateRow.completed_at.is_(None),
            OAuthStateRow.expires_at > utcnow(),
        )
        .with_for_update()
    )
    if pending is None:
        return None
    await db.execute(
        update(OAuthStateRow).where(OAuthStateRow.id == state_id).values(completed_at=utcnow(), pending_encrypted=None)
    )
    return pending


async def lock_encrypted_batch(
    db: AsyncSession, *, after: uuid.UUID | None, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID, str]]:
    """(connection id, organization id, ciphertext) of the next `limit` token rows by connection id
    after `after`, locked until the transaction ends (for `secrets rotate`)."""
    statement = select(OAuthTokenRow.connection_id, OAuthTokenRow.organization_id, OAuthTokenRow.tokens_encrypted)
    if after is not None:
        statement = statement.where(OAuthTokenRow.connection_id > after)
    result = await db.execute(statement.order_by(OAuthTokenRow.connection_id).limit(limit).with_for_update())
    return [(row[0], row[1], row[2]) for row in result]


async def set_encrypted(db: AsyncSession, connection_id: uuid.UUID, token: str) -> None:
    """Replaces the ciphertext only (a re-encryption changes nothing else)."""
    await db.execute(
        update(OAuthTokenRow)
        .where(OAuthTokenRow.connection_id == connection_id)
        .values(tokens_encrypted=token, updated_at=OAuthTokenRow.updated_at)
    )
