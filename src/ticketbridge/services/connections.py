"""Connections: provisioning, state changes, and access on behalf of a tenant."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.connectors.credentials import dump_secret, parse_credentials
from ticketbridge.crypto import CredentialCipher
from ticketbridge.domain.tenancy import ConnectionRead, ConnectionSecrets
from ticketbridge.enums import ConnectionState, HealthName, Vendor
from ticketbridge.errors import Conflict, InvalidRequest
from ticketbridge.store import connections as store
from ticketbridge.store import organizations as organizations_store

#: Default mappings, vendor name -> normalized value (Leen's, for Jira); a connection may override them.
DEFAULT_STATUS_MAPPINGS: dict[Vendor, dict[str, str]] = {
    Vendor.JIRA: {
        "To Do": "TODO",
        "Open": "OPEN",
        "In Progress": "IN_PROGRESS",
        "In Review": "IN_REVIEW",
        "Resolved": "RESOLVED",
        "Done": "CLOSED",
        "Closed": "CLOSED",
    },
    Vendor.REZOLVE: {
        "New": "OPEN",
        "Submitted": "TODO",
        "In Progress": "IN_PROGRESS",
        "Resolved": "RESOLVED",
        "Closed": "CLOSED",
        "Cancelled": "CLOSED",
    },
}
DEFAULT_PRIORITY_MAPPINGS: dict[Vendor, dict[str, str]] = {
    Vendor.JIRA: {
        "Highest": "CRITICAL",
        "High": "HIGH",
        "Medium": "MEDIUM",
        "Low": "LOW",
        "Lowest": "INFORMATIONAL",
    },
    Vendor.REZOLVE: {"Critical": "CRITICAL", "High": "HIGH", "Medium": "MEDIUM", "Low": "LOW"},
}
NORMALIZED_STATUSES = frozenset({"OPEN", "TODO", "IN_PROGRESS", "IN_REVIEW", "RESOLVED", "CLOSED"})
NORMALIZED_PRIORITIES = frozenset({"CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNKNOWN"})


class ConnectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization_id: uuid.UUID
    vendor: Vendor
    base_url: str = Field(min_length=1, max_length=500)
    credentials: dict[str, Any]
    status_mapping: dict[str, str] | None = None
    priority_mapping: dict[str, str] | None = None
    refresh_interval_secs: int = Field(21600, ge=60)
    timeout_secs: int = Field(1800, ge=10)


class ConnectionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: ConnectionState | None = None
    base_url: str | None = Field(None, min_length=1, max_length=500)
    credentials: dict[str, Any] | None = None
    status_mapping: dict[str, str] | None = None
    priority_mapping: dict[str, str] | None = None
    refresh_interval_secs: int | None = Field(None, ge=60)
    timeout_secs: int | None = Field(None, ge=10)


async def create_connection(db: AsyncSession, cipher: CredentialCipher, data: ConnectionCreate) -> ConnectionRead:
    await organizations_store.get_organization(db, data.organization_id)
    credentials = parse_credentials(data.vendor, data.credentials)
    status_mapping = data.status_mapping if data.status_mapping is not None else DEFAULT_STATUS_MAPPINGS[data.vendor]
    priority_mapping = (
        data.priority_mapping if data.priority_mapping is not None else DEFAULT_PRIORITY_MAPPINGS[data.vendor]
    )
    _check_mappings(status_mapping, priority_mapping)
    return await store.create_connection(
        db,
        organization_id=data.organization_id,
        vendor=data.vendor,
        base_url=data.base_url.rstrip("/"),
        credentials_encrypted=cipher.encrypt(dump_secret(credentials)),
        state=ConnectionState.ACTIVE,
        status_mapping=status_mapping,
        priority_mapping=priority_mapping,
        refresh_interval_secs=data.refresh_interval_secs,
        timeout_secs=data.timeout_secs,
    )


async def update_connection(
    db: AsyncSession, cipher: CredentialCipher, connection_id: uuid.UUID, patch: ConnectionPatch
) -> ConnectionRead:
    current = await store.get_connection(db, connection_id)
    values: dict[str, Any] = patch.model_dump(exclude_unset=True, exclude={"credentials"})
    if any(values.get(name) is None and name in values for name in ("state", "base_url")):
        raise InvalidRequest("state and base_url cannot be null.")
    if patch.credentials is not None:
        credentials = parse_credentials(current.vendor, patch.credentials)
        values["credentials_encrypted"] = cipher.encrypt(dump_secret(credentials))
    if current.state is ConnectionState.DELETED and values.get("state", current.state) != current.state:
        raise Conflict("A deleted connection cannot change state.")
    _check_mappings(values.get("status_mapping") or {}, values.get("priority_mapping") or {})
    if "base_url" in values:
        values["base_url"] = values["base_url"].rstrip("/")
    return await store.update_connection(db, connection_id, **values)


async def list_connections(db: AsyncSession, *, organization_id: uuid.UUID | None) -> list[ConnectionRead]:
    return await store.list_connections(db, organization_id=organization_id)


async def get_connection(db: AsyncSession, connection_id: uuid.UUID) -> ConnectionRead:
    return await store.get_connection(db, connection_id)


async def get_usable_connection(
    db: AsyncSession, *, organization_id: uuid.UUID, connection_id: uuid.UUID
) -> ConnectionRead:
    """The tenant's connection, if it may serve data requests; another tenant's is NotFound."""
    connection = await store.get_connection(db, connection_id, organization_id=organization_id)
    if connection.state in (ConnectionState.PAUSED, ConnectionState.DELETED):
        raise Conflict(f"Connection {connection.id} is {connection.state.lower()}; it serves no requests.")
    return connection


async def load_secrets(db: AsyncSession, cipher: CredentialCipher, connection: ConnectionRead) -> ConnectionSecrets:
    token = await store.get_encrypted_credentials(db, connection.id)
    return ConnectionSecrets(connection=connection, credentials=cipher.decrypt(token))


async def record_health(
    db: AsyncSession, connection_id: uuid.UUID, health: HealthName, description: str | None = None
) -> ConnectionRead:
    return await store.update_connection(db, connection_id, health_name=health, health_description=description)


def _check_mappings(status_mapping: dict[str, str], priority_mapping: dict[str, str]) -> None:
    details = [
        {"loc": ["body", "status_mapping", name], "msg": f"{value!r} is not a normalized status"}
        for name, value in status_mapping.items()
        if value not in NORMALIZED_STATUSES
    ] + [
        {"loc": ["body", "priority_mapping", name], "msg": f"{value!r} is not a normalized priority"}
        for name, value in priority_mapping.items()
        if value not in NORMALIZED_PRIORITIES
    ]
    if details:
        raise InvalidRequest("The mappings name unknown normalized values.", details=details)
