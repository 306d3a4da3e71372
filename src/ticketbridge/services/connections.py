"""Connections: provisioning, state changes (each one written to the audit log), and access on behalf
of a tenant.

A connection is ACTIVE only once the vendor has accepted its site and credentials (`services.verification`
runs the check): it is created PENDING, and a change of base_url or credentials, or a request to make it
ACTIVE, puts it back to PENDING until the check passes (`record_verification`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.connectors import spec_for
from ticketbridge.connectors.credentials import dump_secret
from ticketbridge.crypto import CredentialCipher
from ticketbridge.domain.tenancy import ConnectionRead, ConnectionSecrets
from ticketbridge.domain.vocabulary import NormalizedPriority, NormalizedStatus
from ticketbridge.enums import ConnectionState, HealthName, Vendor
from ticketbridge.errors import Conflict, InvalidRequest, NotFound
from ticketbridge.services.vendor_sites import PRODUCTION_SITES, SitePolicy
from ticketbridge.store import audit as audit_store
from ticketbridge.store import connections as store
from ticketbridge.store import organizations as organizations_store
from ticketbridge.store.audit import ConnectionAuditRead

NORMALIZED_STATUSES = frozenset(NormalizedStatus)
NORMALIZED_PRIORITIES = frozenset(NormalizedPriority)


#: Sync at most every minute and at least every 30 days.
RefreshIntervalSecs = Annotated[int, Field(ge=60, le=2_592_000, description="From 60 s to 30 days")]
#: Lowers the vendor request timeout (never raises it): from 10 s to a day.
TimeoutSecs = Annotated[int, Field(ge=10, le=86_400, description="From 10 s to a day")]


class AuditAction(StrEnum):
    CREATED = "created"  #: provisioned
    UPDATED = "updated"  #: settings changed (base URL, mappings, intervals), possibly credentials too
    CREDENTIALS_CHANGED = "credentials_changed"  #: new credentials, and nothing else
    PAUSED = "paused"  #: state set to PAUSED
    RESUMED = "resumed"  #: state set to ACTIVE (it becomes ACTIVE once verified, "verified" follows)
    DELETED = "deleted"  #: state set to DELETED
    CREDENTIALS_ROTATED = "credentials_rotated"  #: re-encrypted under a new secrets key (`secrets rotate`)
    VERIFIED = "verified"  #: the vendor accepted the site and credentials: state set from PENDING to ACTIVE
    VERIFICATION_FAILED = "verification_failed"  #: the vendor refused an ACTIVE connection's credentials: PENDING


_STATE_ACTIONS = {
    ConnectionState.PAUSED: AuditAction.PAUSED,
    ConnectionState.ACTIVE: AuditAction.RESUMED,
    ConnectionState.DELETED: AuditAction.DELETED,
}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who changes a connection, as the audit log records it."""

    name: str
    #: The X-Request-ID of the API request that makes the change.
    request_id: str | None = None


CLI_ACTOR = Actor("cli")

#: A failed check that disproves the credentials (rather than a vendor that is down or throttling),
#: so an ACTIVE connection goes back to PENDING.
REFUSING_HEALTHS = frozenset({HealthName.UNAUTHORIZED, HealthName.VENDOR_CLIENT_ERROR})
#: What a change must touch for the vendor to check the connection again.
VERIFIED_FIELDS = frozenset({"base_url", "credentials"})


class ConnectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization_id: uuid.UUID
    vendor: Vendor
    base_url: str
    credentials: dict[str, Any]
    status_mapping: dict[str, str] | None = None
    priority_mapping: dict[str, str] | None = None
    refresh_interval_secs: RefreshIntervalSecs = 21600
    timeout_secs: TimeoutSecs = 1800


class ConnectionPatch(BaseModel):
    """Only the fields set change; none of them may be set to None."""

    model_config = ConfigDict(extra="forbid")

    state: ConnectionState | None = None
    base_url: str | None = None
    credentials: dict[str, Any] | None = None
    status_mapping: dict[str, str] | None = None
    priority_mapping: dict[str, str] | None = None
    refresh_interval_secs: RefreshIntervalSecs | None = None
    timeout_secs: TimeoutSecs | None = None


async def create_connection(
    db: AsyncSession,
    cipher: CredentialCipher,
    data: ConnectionCreate,
    *,
    sites: SitePolicy = PRODUCTION_SITES,
    actor: Actor = CLI_ACTOR,
) -> ConnectionRead:
    await organizations_store.get_organization(db, data.organization_id)
    base_url = sites.check(data.vendor, data.base_url)
    credentials_encrypted = _encrypt_credentials(cipher, sites, data.vendor, data.credentials)
    spec = spec_for(data.vendor)
    status_mapping = _plain(data.status_mapping if data.status_mapping is not None else spec.default_status_mapping)
    priority_mapping = _plain(
        data.priority_mapping if data.priority_mapping is not None else spec.default_priority_mapping
    )
    _check_mappings(status_mapping, priority_mapping)
    connection = await store.create_connection(
        db,
        organization_id=data.organization_id,
        vendor=data.vendor,
        base_url=base_url,
        credentials_encrypted=credentials_encrypted,
        state=ConnectionState.PENDING,
        status_mapping=status_mapping,
        priority_mapping=priority_mapping,
        refresh_interval_secs=data.refresh_interval_secs,
        timeout_secs=data.timeout_secs,
    )
    await _audit(db, connection, actor, AuditAction.CREATED, data.model_fields_set - {"organization_id"})
    return connection


async def update_connection(
    db: AsyncSession,
    cipher: CredentialCipher,
    connection_id: uuid.UUID,
    patch: ConnectionPatch,
    *,
    sites: SitePolicy = PRODUCTION_SITES,
    actor: Actor = CLI_ACTOR,
) -> ConnectionRead:
    """Changes the fields set in `patch`. A new base_url needs new credentials in the same patch,
    so stored credentials never follow a site change (InvalidRequest naming `credentials`).

    A connection asked to be ACTIVE, or an ACTIVE one given a new base_url or credentials, is stored
    PENDING: only `record_verification` makes it ACTIVE. A PAUSED one stays PAUSED (its resume verifies).
    PENDING cannot be asked for (InvalidRequest naming `state`)."""
    current = await store.get_connection(db, connection_id)
    given = patch.model_dump(exclude_unset=True)
    nulls = sorted(name for name, value in given.items() if value is None)
    if nulls:
        raise InvalidRequest(
            f"{', '.join(nulls)} cannot be null; leave a field out to keep its value.",
            details=[{"loc": ["body", name], "msg": "cannot be null", "type": "null_not_allowed"} for name in nulls],
        )
    if given.get("state") is ConnectionState.PENDING:
        raise InvalidRequest(
            "PENDING is set by verification, not by a request: set ACTIVE to verify and activate the connection.",
            details=[{"loc": ["body", "state"], "msg": "PENDING cannot be set", "type": "enum"}],
        )
    values = {name: value for name, value in given.items() if name != "credentials"}
    if "base_url" in values:
        values["base_url"] = sites.check(current.vendor, values["base_url"])
        if values["base_url"] != current.base_url and patch.credentials is None:
            raise InvalidRequest(
                "Changing base_url needs the credentials for the new site in the same request.",
                details=[
                    {
                        "loc": ["body", "credentials"],
                        "msg": "required when base_url changes: stored credentials are never sent to a new site",
                        "type": "missing",
                    }
                ],
            )
    if current.state is ConnectionState.DELETED and values.get("state", current.state) != current.state:
        raise Conflict("A deleted connection cannot change state.")
    _check_mappings(values.get("status_mapping", {}), values.get("priority_mapping", {}))
    changed = {name for name, value in values.items() if getattr(current, name) != value}
    if patch.credentials is not None:
        values["credentials_encrypted"] = _encrypt_credentials(cipher, sites, current.vendor, patch.credentials)
        changed.add("credentials")
    requested = values.get("state", current.state)
    if requested is ConnectionState.ACTIVE and (
        current.state is not ConnectionState.ACTIVE or changed & VERIFIED_FIELDS
    ):
        values["state"] = ConnectionState.PENDING  # until the vendor has checked it
    connection = await store.update_connection(db, connection_id, **values)
    if changed:
        await _audit(db, connection, actor, _action_for(current.state, requested, changed), changed)
    return connection


def needs_verification(patch: ConnectionPatch, connection: ConnectionRead) -> bool:
    """Whether `connection`, as `patch` left it, waits for the vendor's check."""
    asked = bool(patch.model_fields_set & VERIFIED_FIELDS) or patch.state is ConnectionState.ACTIVE
    return asked and connection.state is ConnectionState.PENDING


async def record_verification(
    db: AsyncSession,
    cipher: CredentialCipher,
    checked: ConnectionSecrets,
    health: HealthName,
    description: str | None,
    *,
    actor: Actor = CLI_ACTOR,
) -> ConnectionRead:
    """Records the vendor's check of `checked` (the connection and credentials it was run with).

    A PENDING connection that passed becomes ACTIVE; an ACTIVE one whose credentials were refused
    (REFUSING_HEALTHS) goes back to PENDING; any other outcome only sets the health. When the base URL
    or the credentials changed since the check (a concurrent change), or the connection was deleted,
    the check says nothing about the connection as it is now: nothing is written."""
    current = await store.get_connection(db, checked.connection.id)
    stored = cipher.decrypt(await store.get_encrypted_credentials(db, current.id))
    if (
        current.state is ConnectionState.DELETED
        or current.base_url != checked.connection.base_url
        or stored != checked.credentials
    ):
        return current
    state, action = current.state, None
    if current.state is ConnectionState.PENDING and health is HealthName.HEALTHY:
        state, action = ConnectionState.ACTIVE, AuditAction.VERIFIED
    elif current.state is ConnectionState.ACTIVE and health in REFUSING_HEALTHS:
        state, action = ConnectionState.PENDING, AuditAction.VERIFICATION_FAILED
    connection = await store.update_connection(
        db, current.id, state=state, health_name=health, health_description=description
    )
    if action is not None:
        await _audit(db, connection, actor, action, ["state"])
    return connection


async def list_connections(db: AsyncSession, *, organization_id: uuid.UUID | None) -> list[ConnectionRead]:
    return await store.list_connections(db, organization_id=organization_id)


async def get_connection(db: AsyncSession, connection_id: uuid.UUID) -> ConnectionRead:
    return await store.get_connection(db, connection_id)


async def get_usable_connection(
    db: AsyncSession, *, organization_id: uuid.UUID, connection_id: uuid.UUID
) -> ConnectionRead:
    """The tenant's connection, if it may serve data requests (`ensure_usable`)."""
    connection = await store.get_connection_or_none(db, connection_id, organization_id=organization_id)
    return ensure_usable(connection, organization_id=organization_id)


def ensure_usable(connection: ConnectionRead | None, *, organization_id: uuid.UUID) -> ConnectionRead:
    """`connection` as read (None: there is none), if it may serve `organization_id`'s data requests:
    a missing one or another tenant's is NotFound; a PAUSED, DELETED or PENDING (not verified) one is
    a Conflict. The one rule of the request path, whether it reads one connection or a batch."""
    if connection is None or connection.organization_id != organization_id:
        raise NotFound("Connection not found.")
    if connection.state in (ConnectionState.PAUSED, ConnectionState.DELETED):
        raise Conflict(f"Connection {connection.id} is {connection.state.lower()}; it serves no requests.")
    if connection.state is ConnectionState.PENDING:
        raise Conflict(_not_verified_message(connection))
    return connection


def _not_verified_message(connection: ConnectionRead) -> str:
    verify = f"POST /v1/admin/connections/{connection.id}/verify"
    if connection.health_name is HealthName.HEALTHY:
        return f"Connection {connection.id} is not verified yet; it serves no requests until {verify} passes."
    reason = connection.health_name.value
    if connection.health_description:
        reason += f" ({connection.health_description})"
    return (
        f"Connection {connection.id} is not verified: {reason}. Fix its base_url or credentials "
        f"(PATCH /v1/admin/connections/{connection.id}) or retry {verify}."
    )


async def load_secrets(db: AsyncSession, cipher: CredentialCipher, connection: ConnectionRead) -> ConnectionSecrets:
    token = await store.get_encrypted_credentials(db, connection.id)
    return ConnectionSecrets(connection=connection, credentials=cipher.decrypt(token))


async def list_changes(db: AsyncSession, connection_id: uuid.UUID, *, limit: int) -> list[ConnectionAuditRead]:
    """The connection's audit log, newest first; NotFound for an unknown connection."""
    await store.get_connection(db, connection_id)
    return await audit_store.list_changes(db, connection_id, limit=limit)


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


def _encrypt_credentials(cipher: CredentialCipher, sites: SitePolicy, vendor: Vendor, data: dict[str, Any]) -> str:
    credentials = spec_for(vendor).parse_credentials(data)
    # A URL the secrets are sent to (a token endpoint elsewhere) follows the base URL's rules.
    checked = {
        name: sites.check(vendor, url, loc=("body", "credentials", name))
        for name, url in credentials.secret_urls().items()
    }
    if checked:
        credentials = credentials.model_copy(update=checked)
    return cipher.encrypt(dump_secret(credentials))


def _plain(mapping: Mapping[str, str]) -> dict[str, str]:
    """A mapping as stored: plain strings (a spec's defaults hold enum members)."""
    return {str(name): str(value) for name, value in mapping.items()}


def _action_for(before: ConnectionState, requested: ConnectionState, changed: set[str]) -> AuditAction:
    if before is not requested and requested in _STATE_ACTIONS:
        return _STATE_ACTIONS[requested]
    return AuditAction.CREDENTIALS_CHANGED if changed == {"credentials"} else AuditAction.UPDATED


async def _audit(
    db: AsyncSession, connection: ConnectionRead, actor: Actor, action: AuditAction, fields: Iterable[str]
) -> None:
    await audit_store.record_change(
        db,
        organization_id=connection.organization_id,
        connection_id=connection.id,
        actor=actor.name,
        action=action,
        fields=list(fields),
        request_id=actor.request_id,
    )
