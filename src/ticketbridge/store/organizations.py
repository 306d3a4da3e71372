"""Organizations and their API keys."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.domain.tenancy import ApiKeyRead, OrganizationRead
from ticketbridge.errors import NotFound
from ticketbridge.store.base import utcnow
from ticketbridge.store.tables import ApiKey, Organization

#: last_used_at is a hint for people, so it is written at most this often per key.
LAST_USED_RESOLUTION = timedelta(minutes=1)


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
    row = await db.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)))
    return None if row is None else ApiKeyRead.model_validate(row)


async def touch_api_key(db: AsyncSession, key: ApiKeyRead, now: datetime | None = None) -> None:
    now = now or utcnow()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    await db.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))


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
