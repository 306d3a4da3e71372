"""Opening a connector for a connection, and what vendor failures mean for the caller.

`VendorAccess.open` yields a ready connector; vendor errors that escape it become domain errors
(401 from the vendor -> VendorAuthFailed and the connection marked UNAUTHORIZED, 429 -> RateLimited
with Retry-After, 5xx/timeouts -> VendorUnavailable), and the connection's health follows each outcome.
Health is written in a short transaction of its own, so it survives the request's rollback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketbridge.connectors import ConnectorFactory
from ticketbridge.connectors.base import Connector, SearchConsistency
from ticketbridge.connectors.errors import (
    VendorAuthError,
    VendorError,
    VendorNotFound,
    VendorRejected,
    VendorRetriable,
)
from ticketbridge.connectors.oauth import OAuthClientRejected, OAuthSession, ReauthorizationRequired
from ticketbridge.crypto import CredentialCipher
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.enums import HealthName, Vendor
from ticketbridge.errors import (
    NotFound,
    RateLimited,
    ReauthorizationNeeded,
    ServiceUnavailable,
    TicketbridgeError,
    VendorAuthFailed,
    VendorRefused,
    VendorUnavailable,
)
from ticketbridge.services import connections as connections_service
from ticketbridge.services.create_claims import ClaimTerms
from ticketbridge.services.read_backs import ReadBacks
from ticketbridge.services.tokens import OAuthConfig, StoredTokenSource, TokenLocks, UnconfiguredTokens
from ticketbridge.store.base import read_session, utcnow


@dataclass(frozen=True, slots=True)
class VendorAccess:
    sessionmaker: async_sessionmaker[AsyncSession]
    cipher: CredentialCipher
    factory: ConnectorFactory
    #: How long a create claim protects a writer's vendor call (a job lease: vendor calls end well
    #: inside it, see jobs/README.md).
    claim_ttl_seconds: float = 30.0
    #: Replaces the settle time of connectors whose search lags (`Settings.vendor_search_settle_seconds`).
    search_settle_seconds: float | None = None
    #: The operator's OAuth 2.0 (3LO) apps, by vendor (`services.tokens.oauth_configs`); a vendor
    #: left out has none configured.
    oauth_apps: Mapping[Vendor, OAuthConfig] = field(default_factory=dict)
    #: This process's token-refresh locks (one set per process: `Runtime.token_locks`).
    token_locks: TokenLocks = field(default_factory=TokenLocks)
    #: What OAuth token expiries are compared with (`Runtime.clock`).
    clock: Callable[[], datetime] = utcnow
    #: This process's read-backs of provisional tickets (`Runtime.read_backs`).
    read_backs: ReadBacks = field(default_factory=ReadBacks)

    def factory_for(self, connection: ConnectionRead, credentials: dict[str, Any]) -> ConnectorFactory:
        """The factory, with the connection's token source when its credentials are an OAuth 2.0
        (3LO) grant (`OAuthProvider.granted_site`): the connector asks it for tokens and never sees
        the store."""
        spec = self.factory.registry.get(connection.vendor)
        provider = spec.oauth if spec is not None else None
        if provider is None or provider.granted_site(credentials) is None:
            return self.factory
        config = self.oauth_apps.get(connection.vendor)
        if config is None:
            unconfigured = OAuthSession(api_base_url=provider.api_base_url, tokens=UnconfiguredTokens(provider))
            return replace(self.factory, http=replace(self.factory.http, oauth=unconfigured))
        oauth = OAuthSession(api_base_url=config.api_base_url, tokens=self.token_source(connection, config))
        return replace(self.factory, http=replace(self.factory.http, oauth=oauth))

    def token_source(self, connection: ConnectionRead, config: OAuthConfig) -> StoredTokenSource:
        """The connection's stored OAuth tokens, refreshed by one caller at a time."""
        return StoredTokenSource(
            sessionmaker=self.sessionmaker,
            cipher=self.cipher,
            connection=connection,
            config=config,
            transport=self.factory.transport,
            locks=self.token_locks,
            clock=self.clock,
        )

    def read_back_later(self, connection: ConnectionRead, vendor_ids: Collection[str]) -> None:
        """Reads these provisional tickets back off the request path (`services/read_backs.py`)."""
        self.read_backs.schedule(self, connection, vendor_ids)

    def claim_terms(self, connector: Connector, owner: str) -> ClaimTerms:
        settle = connector.marker_settle_seconds
        lags = connector.capabilities.search_consistency is SearchConsistency.EVENTUAL
        if lags and self.search_settle_seconds is not None:
            settle = self.search_settle_seconds
        return ClaimTerms(owner=owner, ttl_seconds=self.claim_ttl_seconds, settle_seconds=settle)

    @asynccontextmanager
    async def open(
        self, connection: ConnectionRead, *, before_write: Callable[[], None] | None = None
    ) -> AsyncIterator[Connector]:
        """`before_write` runs before every write request the connector sends (a job passes
        `ctx.check_lease`); what it raises propagates unchanged."""
        async with read_session(self.sessionmaker) as db:  # a read: no write lock for every vendor operation
            secrets = await connections_service.load_secrets(db, self.cipher, connection)
        factory = self.factory_for(connection, secrets.credentials)
        connector = factory.build(connection, secrets.credentials, before_write=before_write)
        try:
            yield connector
        except VendorError as exc:
            await self.record_health(connection, health_for(exc), exc.message)
            raise to_domain_error(exc, connection) from exc
        else:
            if connection.health_name is not HealthName.HEALTHY:
                await self.record_health(connection, HealthName.HEALTHY, None)
        finally:
            await connector.aclose()

    async def record_health(
        self, connection: ConnectionRead, health: HealthName | None, description: str | None
    ) -> None:
        if health is None or (health is connection.health_name and description == connection.health_description):
            return
        async with self.sessionmaker.begin() as db:
            await connections_service.record_health(db, connection.id, health, description)


def health_for(error: VendorError) -> HealthName | None:
    """The connection health a vendor error implies; None when it says nothing about the connection."""
    if isinstance(error, VendorAuthError):
        return HealthName.UNAUTHORIZED
    if isinstance(error, OAuthClientRejected):
        return HealthName.INTERNAL_ERROR  # the operator's OAuth app configuration (owner TICKETBRIDGE)
    if isinstance(error, VendorRetriable):
        if error.is_rate_limit:
            return HealthName.RATE_LIMIT_EXCEEDED
        return HealthName.VENDOR_SERVER_ERROR if error.status_code else HealthName.EXECUTION_TIMEOUT
    return None


def to_domain_error(error: VendorError, connection: ConnectionRead) -> TicketbridgeError:
    if isinstance(error, ReauthorizationRequired):
        return ReauthorizationNeeded(error.message)
    if isinstance(error, OAuthClientRejected):
        return ServiceUnavailable(f"{connection.vendor} connection {connection.id} cannot get tokens: {error.message}.")
    if isinstance(error, VendorAuthError):
        return VendorAuthFailed(
            f"{connection.vendor} rejected the credentials of connection {connection.id}; its health is now "
            f"{HealthName.UNAUTHORIZED}. Update the credentials (PATCH /v1/admin/connections/{connection.id})."
        )
    if isinstance(error, VendorRetriable):
        if error.is_rate_limit:
            return RateLimited(
                f"{connection.vendor} is rate limiting this connection.",
                retry_after_seconds=error.retry_after or 1.0,
            )
        return VendorUnavailable(
            f"{connection.vendor} did not answer successfully: {error.message}",
            retry_after_seconds=error.retry_after,
        )
    if isinstance(error, VendorNotFound):
        return NotFound(f"{connection.vendor} says: {error.message}")
    if isinstance(error, VendorRejected):
        details = [{"loc": ["vendor", field], "msg": message} for field, message in error.field_errors.items()]
        return VendorRefused(f"{connection.vendor} refused the request: {error.message}", details=details)
    return VendorUnavailable(f"{connection.vendor} failed: {error.message}")
