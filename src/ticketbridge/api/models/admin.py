"""Provisioning models for /v1/admin."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ticketbridge.domain.tenancy import ApiKeyRead, ConnectionRead, OrganizationRead
from ticketbridge.enums import ConnectionState, HealthName, ResolutionOwner, Vendor

ItemT = TypeVar("ItemT")


class ItemList(BaseModel, Generic[ItemT]):
    items: list[ItemT]


class OrganizationCreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)


class OrganizationModel(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime

    @classmethod
    def of(cls, org: OrganizationRead) -> OrganizationModel:
        return cls.model_validate(org.model_dump())


class ApiKeyCreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field("default", min_length=1, max_length=200)


class ApiKeyModel(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKeyRead) -> ApiKeyModel:
        return cls.model_validate(key.model_dump())


class ApiKeyCreatedModel(ApiKeyModel):
    api_key: str = Field(description="The key itself. It is shown once and cannot be retrieved again.")


class ConnectionCreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization_id: uuid.UUID
    vendor: Vendor
    base_url: str = Field(min_length=1, max_length=500, description="Jira site URL or Rezolve API URL")
    credentials: dict[str, Any] = Field(
        description="JIRA: {email, api_token} or {oauth_token}. "
        "REZOLVE: {tenant_id, realm, client_id, client_secret, auth_url?}."
    )
    status_mapping: dict[str, str] | None = Field(None, description="Vendor status name -> normalized status")
    priority_mapping: dict[str, str] | None = Field(None, description="Vendor priority -> normalized priority")
    refresh_interval_secs: int = Field(21600, ge=60)
    timeout_secs: int = Field(1800, ge=10)


class ConnectionUpdateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: ConnectionState | None = None
    base_url: str | None = Field(None, min_length=1, max_length=500)
    credentials: dict[str, Any] | None = None
    status_mapping: dict[str, str] | None = None
    priority_mapping: dict[str, str] | None = None
    refresh_interval_secs: int | None = Field(None, ge=60)
    timeout_secs: int | None = Field(None, ge=10)


class ConnectionHealthModel(BaseModel):
    name: HealthName
    status: str
    description: str | None
    resolution_owner: ResolutionOwner | None
    last_successful_sync_at: datetime | None


class ConnectionModel(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    vendor: Vendor
    state: ConnectionState
    is_active: bool
    base_url: str
    status_mapping: dict[str, str]
    priority_mapping: dict[str, str]
    refresh_interval_secs: int
    timeout_secs: int
    health: ConnectionHealthModel
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, connection: ConnectionRead) -> ConnectionModel:
        health = connection.health_name
        return cls(
            **connection.model_dump(exclude={"health_name", "health_description", "last_synced_at"}),
            is_active=connection.state is ConnectionState.ACTIVE,
            health=ConnectionHealthModel(
                name=health,
                status=health.status,
                description=connection.health_description,
                resolution_owner=health.resolution_owner,
                last_successful_sync_at=connection.last_synced_at,
            ),
        )
