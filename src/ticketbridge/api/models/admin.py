"""Provisioning models for /v1/admin."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from ticketbridge.domain.inputs import RequestModel, SafeStr, check_text
from ticketbridge.domain.tenancy import ApiKeyRead, ConnectionRead, OrganizationRead
from ticketbridge.enums import ConnectionState, HealthName, ResolutionOwner, Vendor
from ticketbridge.services import vendor_docs
from ticketbridge.services.connections import AuditAction, RefreshIntervalSecs, TimeoutSecs
from ticketbridge.store.audit import ConnectionAuditRead

ItemT = TypeVar("ItemT")


BASE_URL_DESCRIPTION = vendor_docs.base_url_description()
STATE_DESCRIPTION = (
    "PENDING until the vendor has accepted the site and credentials (then ACTIVE); PAUSED and DELETED "
    "are set by an admin. Only an ACTIVE connection serves data requests (409 otherwise)."
)
STATE_UPDATE_DESCRIPTION = (
    "ACTIVE (verified with the vendor first: PENDING with the failure in health if the check fails), "
    "PAUSED or DELETED; PENDING cannot be set"
)
CREDENTIALS_DESCRIPTION = vendor_docs.credentials_description()


def _check_nested_text(value: Any) -> Any:
    """check_text for every key and string nested in a JSON value (its message repeats no value:
    credentials pass through here)."""
    if isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            _check_nested_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_nested_text(item)
    else:
        check_text(value)
    return value


BaseUrl = Annotated[str, Field(min_length=1, max_length=500, description=BASE_URL_DESCRIPTION)]
#: Vendor name (at most 200 characters) -> normalized value.
Mapping = dict[Annotated[SafeStr, Field(min_length=1, max_length=200)], SafeStr]
Credentials = Annotated[dict[str, Any], AfterValidator(_check_nested_text)]


class ItemList(BaseModel, Generic[ItemT]):
    items: list[ItemT]


class OrganizationCreateRequest(RequestModel):
    name: str = Field(min_length=1, max_length=200)


class OrganizationModel(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime

    @classmethod
    def of(cls, org: OrganizationRead) -> OrganizationModel:
        return cls.model_validate(org.model_dump())


class ApiKeyCreateRequest(RequestModel):
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


class ConnectionCreateRequest(RequestModel):
    organization_id: uuid.UUID
    vendor: Vendor
    base_url: BaseUrl
    credentials: Credentials = Field(description=CREDENTIALS_DESCRIPTION)
    status_mapping: Mapping | None = Field(None, description="Vendor status name -> normalized status")
    priority_mapping: Mapping | None = Field(None, description="Vendor priority -> normalized priority")
    refresh_interval_secs: RefreshIntervalSecs = 21600
    timeout_secs: TimeoutSecs = 1800


class ConnectionUpdateRequest(RequestModel):
    """Only the fields given change, and none may be null. A new `base_url` needs `credentials` in
    the same request: stored credentials are never sent to a new site. A new `base_url` or
    `credentials`, or `state: ACTIVE`, is verified with the vendor before the connection is ACTIVE."""

    # SkipJsonSchema: None is only "not given"; an explicit null is refused (422 naming the field).
    state: ConnectionState | SkipJsonSchema[None] = Field(None, description=STATE_UPDATE_DESCRIPTION)
    base_url: BaseUrl | SkipJsonSchema[None] = None
    credentials: Credentials | SkipJsonSchema[None] = Field(None, description=CREDENTIALS_DESCRIPTION)
    status_mapping: Mapping | SkipJsonSchema[None] = None
    priority_mapping: Mapping | SkipJsonSchema[None] = None
    refresh_interval_secs: RefreshIntervalSecs | SkipJsonSchema[None] = None
    timeout_secs: TimeoutSecs | SkipJsonSchema[None] = None


class ConnectionAuditModel(BaseModel):
    """One change to a connection. `fields` names what changed; values are never recorded."""

    id: uuid.UUID
    connection_id: uuid.UUID
    actor: str = Field(description='"admin-token:<first 8 hex of its SHA-256>" for the admin API, "cli" for the CLI')
    action: AuditAction
    fields: list[str]
    request_id: str | None = Field(description="The X-Request-ID of the admin request that made the change")
    created_at: datetime

    @classmethod
    def of(cls, change: ConnectionAuditRead) -> ConnectionAuditModel:
        return cls.model_validate(change.model_dump())


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
    state: ConnectionState = Field(description=STATE_DESCRIPTION)
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


class ConnectionOAuthModel(BaseModel):
    """The OAuth 2.0 (3LO) grant of a connection made by consent, as far as ticketbridge can tell: the
    vendor expires a refresh token left unused (Atlassian: 90 days; the worker refreshes grants idle
    for TICKETBRIDGE_OAUTH_IDLE_REFRESH_DAYS, 75 by default) and every grant some time after consent
    (Atlassian: 365 days), when only the customer can connect the site again."""

    access_token_expires_at: datetime = Field(description="The stored access token expires then (refreshed ahead)")
    refresh_token_last_used_at: datetime = Field(
        description="The refresh token in use was issued then: at the last refresh, or at consent"
    )
    refresh_token_expires_at: datetime = Field(
        description="It expires then unless used before (the idle lifetime, capped by the absolute expiry)"
    )
    absolute_expires_at: datetime = Field(
        description="Consent plus the grant's lifetime: no refresh goes past it; the customer must consent again"
    )
    scopes: list[str] = Field(description="The scopes the vendor granted")
    needs_reauthorization: bool = Field(
        description="The vendor refused the grant (revoked, expired): data requests answer 409 until a new consent"
    )


class ConnectionDetailModel(ConnectionModel):
    oauth: ConnectionOAuthModel | None = Field(
        description="The connection's OAuth grant and its expiries; null for a connection without one (API token)"
    )
