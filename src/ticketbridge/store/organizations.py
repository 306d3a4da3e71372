"""Organizations and their API keys."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.domain.tenancy import ApiKeyRead, OrganizationRead
from ticketbridge.errors import NotFound
from ticketbridge.store.base import read_columns, utcnow
from ticketbridge.store.tables import ApiKey, Organization

#: last_used_at is a hint for people, so it is written at most this often per key.
LAST_USED_RESOLUTION = timedelta(minutes=1)

#: Built once: the authentication lookup runs on every cache miss.
_ACTIVE_KEY = select(ApiKey).where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None))
#: The batch form (the cache's refresh rounds): Core rows, with the hash they were asked by.
_ACTIVE_KEYS = select(*read_columns(ApiKey, ApiKeyRead), ApiKey.key_hash).where(ApiKey.revoked_at.is_(None))
_api_keys = cast(Table, ApiKey.__table__)
#: One statement, executed once per key (executemany); it never moves last_used_at back.
_RECORD_LAST_USED = (
    update(_api_keys)
    .where(
        _api_keys.c.id == bindparam("key_id"),
        or_(_api_keys.c.last_used_at.is_(None), _api_keys.c.last_used_at < bindparam("used_at")),
    )
    .values(last_used_at=bindparam("used_at"))
)


async def create_organization(db: AsyncSession, *, name: str) -> OrganizationRead:
    row = Organization(name=name)
    db.add(row)
    await db.flush()
    return OrganizationRead.model_validate(row)


async def list_organizations(db: AsyncSession) -> list[OrganizationRead]:
    rows = await db.scalars(select(Organization).order_by(Organization.created_at, Organization.id))
    return [OrganizationRead.model_validate(row) for row in rows]


async def get_organization(db: AsyncSession, organization_id: uuid.UUID) -> OrganizationRead:
    row = await db.get(Organization, organization_id)
    if row is None:
        raise NotFound("Organization not found.")
    return OrganizationRead.model_validate(row)


async def create_api_key(
    db: AsyncSession, *, organization_id: uuid.UUID, name: str, prefix: str, key_hash: str
) -> ApiKeyRead:
    row = ApiKey(organization_id=organization_id, name=name, prefix=prefix, key_hash=key_hash)
    db.add(row)
    await db.flush()
    return ApiKeyRead.model_validate(row)


async def find_active_api_key(db: AsyncSession, key_hash: str) -> ApiKeyRead | None:
    row = await db.scalar(_ACTIVE_KEY, {"key_hash": key_hash})
    return None if row is None else ApiKeyRead.model_validate(row)


async def find_active_api_keys(db: AsyncSession, key_hashes: Collection[str]) -> dict[str, ApiKeyRead]:
    """The unrevoked keys among `key_hashes`, by hash, in one statement (the caller bounds the batch)."""
    rows = await db.execute(_ACTIVE_KEYS.where(ApiKey.key_hash.in_(list(key_hashes))))
    return {row.key_hash: ApiKeyRead.model_validate(row) for row in rows}


async def touch_api_key(db: AsyncSession, key: ApiKeyRead, now: datetime | None = None) -> None:
    now = now or utcnow()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    await db.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))


async def record_last_used(db: AsyncSession, used: Mapping[uuid.UUID, datetime]) -> None:
    """Sets each key's last_used_at to the time given, unless it is already later (one UPDATE,
    executed for every key)."""
    if used:
        await db.execute(_RECORD_LAST_USED, [{"key_id": key_id, "used_at": at} for key_id, at in used.items()])


async def revoke_api_key(db: AsyncSession, key_id: uuid.UUID) -> ApiKeyRead:
    row = await db.get(ApiKey, key_id)
    if row is None:
        raise NotFound("API key not found.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await db.flush()
    return ApiKeyRead.model_validate(row)


async def list_api_keys(db: AsyncSession, organization_id: uuid.UUID) -> list[ApiKeyRead]:
    rows = await db.scalars(select(ApiKey).where(ApiKey.organization_id == organization_id).order_by(ApiKey.created_at))
    return [ApiKeyRead.model_validate(row) for row in rows]
