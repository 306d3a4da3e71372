"""Connections. Reads on behalf of a tenant filter by its organization (`_readable`,
`_TENANT_CONNECTION_BY_ID`), so another organization's connection is indistinguishable from a missing one."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.enums import ConnectionState, HealthName, Vendor
from ticketbridge.errors import NotFound
from ticketbridge.store.base import read_columns, utcnow
from ticketbridge.store.tables import Connection

#: A batch read answers Core rows of these columns, never ORM instances (no identity map, no ORM
#: loading cost for a refresh round's hundreds of rows).
_READ_COLUMNS = read_columns(Connection, ConnectionRead)


class StoredCredentials(NamedTuple):
    connection_id: uuid.UUID
    organization_id: uuid.UUID
    token: str


def _readable(organization_id: uuid.UUID | None) -> Select[Connection]:
    statement = select(Connection)
    if organization_id is not None:
        statement = statement.where(Connection.organization_id == organization_id)
    return statement


async def create_connection(
    db: AsyncSession,
    *,
    organization_id: uuid.UUID,
    vendor: Vendor,
    base_url: str,
    credentials_encrypted: str,
    state: ConnectionState,
    status_mapping: dict[str, str],
    priority_mapping: dict[str, str],
    refresh_interval_secs: int,
    timeout_secs: int,
) -> ConnectionRead:
    row = Connection(
        organization_id=organization_id,
        vendor=vendor,
        state=state,
        base_url=base_url,
        credentials_encrypted=credentials_encrypted,
        status_mapping=status_mapping,
        priority_mapping=priority_mapping,
        refresh_interval_secs=refresh_interval_secs,
        timeout_secs=timeout_secs,
        health_name=HealthName.HEALTHY,
    )
    db.add(row)
    await db.flush()
    return ConnectionRead.model_validate(row)


async def get_connection_or_none(
    db: AsyncSession, connection_id: uuid.UUID, *, organization_id: uuid.UUID | None = None
) -> ConnectionRead | None:
    if organization_id is None:
        found = await db.execute(_CONNECTION_BY_ID, {"connection_id": connection_id})
    else:
        found = await db.execute(
            _TENANT_CONNECTION_BY_ID, {"connection_id": connection_id, "organization_id": organization_id}
        )
    row = found.first()
    return None if row is None else ConnectionRead.model_validate(row)


#: Built once: a request's connection lookup and every vendor operation's credentials read run them.
_CONNECTION_BY_ID = select(*_READ_COLUMNS).where(Connection.id == bindparam("connection_id"))
_TENANT_CONNECTION_BY_ID = _CONNECTION_BY_ID.where(Connection.organization_id == bindparam("organization_id"))
_CREDENTIALS_BY_ID = select(Connection.credentials_encrypted).where(Connection.id == bindparam("connection_id"))


async def get_connection(
    db: AsyncSession, connection_id: uuid.UUID, *, organization_id: uuid.UUID | None = None
) -> ConnectionRead:
    connection = await get_connection_or_none(db, connection_id, organization_id=organization_id)
    if connection is None:
        raise NotFound("Connection not found.")
    return connection


async def get_connections(db: AsyncSession, connection_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, ConnectionRead]:
    """The connections among `connection_ids`, by id, in one statement (the caller bounds the batch).
    Of any tenant: the caller checks each one's organization (`services.connections.ensure_usable`)."""
    rows = await db.execute(select(*_READ_COLUMNS).where(Connection.id.in_(list(connection_ids))))
    return {row.id: ConnectionRead.model_validate(row) for row in rows}


async def get_encrypted_credentials(db: AsyncSession, connection_id: uuid.UUID) -> str:
    token = await db.scalar(_CREDENTIALS_BY_ID, {"connection_id": connection_id})
    if token is None:
        raise NotFound("Connection not found.")
    return token


async def lock_credentials_batch(db: AsyncSession, *, after: uuid.UUID | None, limit: int) -> list[StoredCredentials]:
    """The ciphertexts of the next `limit` connections by id after `after`, locked until the
    transaction ends (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already holds the one
    writer's lock)."""
    statement = select(Connection.id, Connection.organization_id, Connection.credentials_encrypted)
    if after is not None:
        statement = statement.where(Connection.id > after)
    result = await db.execute(statement.order_by(Connection.id).limit(limit).with_for_update())
    return [StoredCredentials(*row) for row in result]


async def set_encrypted_credentials(db: AsyncSession, connection_id: uuid.UUID, token: str) -> None:
    """Replaces the ciphertext only: a re-encryption is no change to the connection, so updated_at stays."""
    await db.execute(
        update(Connection)
        .where(Connection.id == connection_id)
        .values(credentials_encrypted=token, updated_at=Connection.updated_at)
    )


async def list_connections(db: AsyncSession, *, organization_id: uuid.UUID | None = None) -> list[ConnectionRead]:
    rows = await db.scalars(_readable(organization_id).order_by(Connection.created_at, Connection.id))
    return [ConnectionRead.model_validate(row) for row in rows]


async def update_connection(db: AsyncSession, connection_id: uuid.UUID, **values: Any) -> ConnectionRead:
    """Sets the given columns (state, mappings, intervals, credentials_encrypted, health_*)."""
    row = await db.get(Connection, connection_id)
    if row is None:
        raise NotFound("Connection not found.")
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    await db.flush()
    return ConnectionRead.model_validate(row)
