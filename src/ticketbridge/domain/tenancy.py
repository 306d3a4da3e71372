"""Organizations, API keys and connections as the layers above the store see them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from ticketbridge.enums import ConnectionState, HealthName, Vendor


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class OrganizationRead(Frozen):
    id: uuid.UUID
    name: str
    created_at: datetime


class ApiKeyRead(Frozen):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ConnectionRead(Frozen):
    """A connection without its credentials; `credentials_encrypted` never leaves the store."""

    id: uuid.UUID
    organization_id: uuid.UUID
    vendor: Vendor
    state: ConnectionState
    base_url: str
    status_mapping: dict[str, str]
    priority_mapping: dict[str, str]
    refresh_interval_secs: int
    timeout_secs: int
    health_name: HealthName
    health_description: str | None
    last_synced_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ConnectionSecrets(Frozen):
    """A connection with its decrypted vendor credentials, for building a connector only."""

    connection: ConnectionRead
    credentials: dict[str, Any]
