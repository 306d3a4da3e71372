"""Organizations and API keys: issuing and revoking keys (services/auth_cache.py authenticates them)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.crypto import display_prefix, generate_api_key, hash_api_key
from ticketbridge.domain.tenancy import ApiKeyRead, OrganizationRead
from ticketbridge.store import organizations as store


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    """A new key: `plaintext` exists only in this value and is shown to the caller once."""

    key: ApiKeyRead
    plaintext: str


async def create_organization(db: AsyncSession, *, name: str) -> OrganizationRead:
    return await store.create_organization(db, name=name)


async def list_organizations(db: AsyncSession) -> list[OrganizationRead]:
    return await store.list_organizations(db)


async def issue_api_key(db: AsyncSession, *, organization_id: uuid.UUID, name: str) -> IssuedApiKey:
    await store.get_organization(db, organization_id)
    plaintext = generate_api_key()
    key = await store.create_api_key(
        db,
        organization_id=organization_id,
        name=name,
        prefix=display_prefix(plaintext),
        key_hash=hash_api_key(plaintext),
    )
    return IssuedApiKey(key=key, plaintext=plaintext)


async def revoke_api_key(db: AsyncSession, key_id: uuid.UUID) -> ApiKeyRead:
    return await store.revoke_api_key(db, key_id)
