"""The tokens of OAuth 2.0 (3LO) connections: stored encrypted, refreshed by one caller at a time.

`StoredTokenSource` is what a connector gets as its `TokenSource` (connectors/oauth.py). The protocol:

- `current()` reads the stored access token once per unit of work and uses it until it is within
  `refresh_margin_seconds` of its expiry; then it refreshes.
- `refresh(failed)` runs after the gateway answered 401 to `failed`.
- `refresh_if_idle(used_before)` is the idle-expiry guard's (services/token_sweep.py): a refresh
  only if the stored refresh token is still one issued before `used_before`.
- A refresh takes this process's lock for the connection (so its coroutines queue here, not on the
  database), then the row lock (`store.oauth.lock_tokens`: FOR UPDATE on PostgreSQL, the write
  transaction on SQLite), and re-reads the stored tokens: if another caller refreshed meanwhile (the
  stored token is fresh, or is not the one that failed), it uses that one and calls nobody. Otherwise
  it calls the token endpoint while holding the lock and commits the new pair (a refresh token
  rotates; an answer without one keeps the old) before anyone uses the new access token.
- What the token endpoint answers decides what happens next: `invalid_grant` means the grant is gone,
  so the connection is marked for re-authorization (health UNAUTHORIZED, owner CUSTOMER, the reason
  told from the grant's lifetimes: expired, idle, else revoked) and every later request answers 409
  without a vendor call; a refused client secret is the operator's configuration
  (OAuthClientRejected, tokens kept); 5xx, 429 and network errors are transient (VendorRetriable,
  tokens kept, the connector's retries back off).

Time is read from the injected `clock` (`VendorAccess.clock`), never from the wall clock directly,
so a test can move it along with the sandbox's OAuth clock.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketbridge.config import Settings
from ticketbridge.connectors.base import ConnectorSpec
from ticketbridge.connectors.http import build_client
from ticketbridge.connectors.oauth import (
    AuthorizationServer,
    OAuthApp,
    OAuthClientRejected,
    OAuthGrantRefused,
    OAuthProvider,
    ReauthorizationRequired,
    TokenGrant,
)
from ticketbridge.crypto import CredentialCipher
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.enums import HealthName, Vendor
from ticketbridge.observability import get_logger
from ticketbridge.store import connections as connections_store
from ticketbridge.store import oauth as oauth_store
from ticketbridge.store.base import read_session, utcnow

log = get_logger("ticketbridge.services.tokens")

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class OAuthConfig:
    """One vendor's OAuth app as the operator configured it, with the vendor's provider."""

    vendor: Vendor
    provider: OAuthProvider
    app: OAuthApp
    auth_base_url: str
    api_base_url: str
    refresh_margin_seconds: float
    #: One token-endpoint or accessible-resources request ends within this long.
    timeout_seconds: float


def oauth_configs(settings: Settings, registry: Mapping[Vendor, ConnectorSpec]) -> dict[Vendor, OAuthConfig]:
    """The OAuth apps configured for the registry's OAuth-capable vendors (`Settings.oauth_apps`)."""
    configs: dict[Vendor, OAuthConfig] = {}
    apps = settings.oauth_apps
    for vendor, spec in registry.items():
        provider = spec.oauth
        app = apps.get(provider.slug) if provider is not None else None
        if provider is None or app is None:
            continue
        configs[vendor] = OAuthConfig(
            vendor=vendor,
            provider=provider,
            app=OAuthApp(
                client_id=app.client_id,
                client_secret=app.client_secret.get_secret_value(),
                redirect_uri=app.redirect_uri,
            ),
            auth_base_url=(app.auth_base_url or provider.auth_base_url).rstrip("/"),
            api_base_url=(app.api_base_url or provider.api_base_url).rstrip("/"),
            refresh_margin_seconds=app.refresh_margin_seconds,
            timeout_seconds=settings.effective_vendor_timeout_seconds,
        )
    return configs


@asynccontextmanager
async def authorization_server(
    config: OAuthConfig, transport: httpx.AsyncBaseTransport | None
) -> AsyncIterator[AuthorizationServer]:
    """A client of the vendor's authorization server and gateway, closed on exit."""
    auth = build_client(config.auth_base_url, auth=None, transport=transport, timeout_secs=config.timeout_seconds)
    api = build_client(config.api_base_url, auth=None, transport=transport, timeout_secs=config.timeout_seconds)
    try:
        yield config.provider.authorization_server(auth, api, config.app)
    finally:
        await auth.aclose()
        await api.aclose()


@dataclass(slots=True)
class TokenLocks:
    """This process's refresh locks, one per connection (the database lock covers other processes)."""

    _locks: dict[uuid.UUID, asyncio.Lock] = field(default_factory=dict)

    def for_connection(self, connection_id: uuid.UUID) -> asyncio.Lock:
        return self._locks.setdefault(connection_id, asyncio.Lock())


def encrypt_tokens(cipher: CredentialCipher, *, access_token: str, refresh_token: str) -> str:
    return cipher.encrypt({"access_token": access_token, "refresh_token": refresh_token})


def expiry_of(grant: TokenGrant, now: datetime) -> datetime:
    return now + timedelta(seconds=grant.expires_in_seconds)


@dataclass(frozen=True, slots=True)
class GrantExpiries:
    """When a connection's OAuth grant runs out, as far as we can tell from our side."""

    access_token_expires_at: datetime
    #: The refresh token in use was issued (its last use, or the consent) then.
    refresh_token_last_used_at: datetime
    #: It expires then unless it is used before (the idle lifetime, capped by the grant's).
    refresh_token_expires_at: datetime
    #: Consent plus the grant's absolute lifetime: nothing but a new consent goes past it.
    absolute_expires_at: datetime
    scopes: tuple[str, ...]
    needs_reauthorization: bool

    @classmethod
    def of(cls, provider: OAuthProvider, stored: oauth_store.StoredTokens) -> GrantExpiries:
        absolute = stored.granted_at + timedelta(seconds=provider.grant_lifetime_seconds)
        idle = stored.refresh_token_used_at + timedelta(seconds=provider.idle_lifetime_seconds)
        return cls(
            access_token_expires_at=stored.access_token_expires_at,
            refresh_token_last_used_at=stored.refresh_token_used_at,
            refresh_token_expires_at=min(idle, absolute),
            absolute_expires_at=absolute,
            scopes=tuple(stored.scopes),
            needs_reauthorization=stored.status == oauth_store.REAUTHORIZE,
        )


async def grant_expiries(
    db: AsyncSession, registry: Mapping[Vendor, ConnectorSpec], connection: ConnectionRead
) -> GrantExpiries | None:
    """The connection's grant expiries; None for a connection without an OAuth grant."""
    spec = registry.get(connection.vendor)
    if spec is None or spec.oauth is None:
        return None
    stored = await oauth_store.get_tokens_or_none(db, connection.id)
    return None if stored is None else GrantExpiries.of(spec.oauth, stored)


def _date(moment: datetime) -> str:
    return moment.date().isoformat()


def refusal_reason(provider: OAuthProvider, stored: oauth_store.StoredTokens, now: datetime) -> str:
    """Why the authorization server no longer honours the grant, told from its lifetimes."""
    expiries = GrantExpiries.of(provider, stored)
    if now >= expiries.absolute_expires_at:
        days = round(provider.grant_lifetime_seconds / 86_400)
        return f"the consent given on {_date(stored.granted_at)} expired after {days} days"
    if now >= expiries.refresh_token_expires_at:
        days = round(provider.idle_lifetime_seconds / 86_400)
        return f"its refresh token went unused for {days} days, since {_date(stored.refresh_token_used_at)}"
    return "the app was uninstalled, or the consent revoked"


def reauthorization_message(connection: ConnectionRead, provider: OAuthProvider, reason: str) -> str:
    return (
        f"Connection {connection.id} needs to be re-authorized: {provider.authority} no longer honours its OAuth "
        f"grant ({reason}). The customer must connect the site again: POST /v1/admin/organizations/"
        f"{connection.organization_id}/connections/{provider.slug}/authorize."
    )


class UnconfiguredTokens:
    """The token source of an OAuth connection while the operator's OAuth app is not configured."""

    def __init__(self, provider: OAuthProvider) -> None:
        self._provider = provider

    async def current(self) -> str:
        raise OAuthClientRejected(
            f"the {self._provider.authority} OAuth app is not configured "
            f"(TICKETBRIDGE_{self._provider.slug.upper()}_OAUTH_CLIENT_ID, _CLIENT_SECRET, _REDIRECT_URI): "
            "the operator must set them; the customer need not reconnect"
        )

    async def refresh(self, failed: str) -> str:
        return await self.current()


class StoredTokenSource:
    """The `TokenSource` of one OAuth connection for one unit of work (see the module docstring)."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        cipher: CredentialCipher,
        connection: ConnectionRead,
        config: OAuthConfig,
        transport: httpx.AsyncBaseTransport | None,
        locks: TokenLocks,
        clock: Clock = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._cipher = cipher
        self._connection = connection
        self._config = config
        self._transport = transport
        self._locks = locks
        self._clock = clock
        self._access: str | None = None
        self._expires_at: datetime | None = None

    async def current(self) -> str:
        if self._access is None or self._expires_at is None:
            async with read_session(self._sessionmaker) as db:
                stored = await oauth_store.get_tokens_or_none(db, self._connection.id)
            access, _refresh = self._check(stored)
            assert stored is not None
            self._access, self._expires_at = access, stored.access_token_expires_at
        if self._is_fresh(self._expires_at):
            return self._access
        return await self._refreshed(lambda stored, access: not self._is_fresh(stored.access_token_expires_at))

    async def refresh(self, failed: str) -> str:
        return await self._refreshed(
            lambda stored, access: access == failed or not self._is_fresh(stored.access_token_expires_at)
        )

    async def refresh_if_idle(self, used_before: datetime) -> bool:
        """Refreshes when the stored refresh token was issued before `used_before` (else another
        caller used it since); True when this call refreshed. Raises as `refresh`."""
        refreshed = False

        def is_idle(stored: oauth_store.StoredTokens, access: str) -> bool:
            nonlocal refreshed
            refreshed = stored.refresh_token_used_at < used_before
            return refreshed

        await self._refreshed(is_idle)
        return refreshed

    def _is_fresh(self, expires_at: datetime) -> bool:
        return expires_at - timedelta(seconds=self._config.refresh_margin_seconds) > self._clock()

    def _check(self, stored: oauth_store.StoredTokens | None) -> tuple[str, str]:
        """The stored (access, refresh) pair; ReauthorizationRequired when there is none to use."""
        provider = self._config.provider
        if stored is None:
            raise ReauthorizationRequired(reauthorization_message(self._connection, provider, "no tokens are stored"))
        if stored.status == oauth_store.REAUTHORIZE:
            connection = self._connection
            if connection.health_name is HealthName.UNAUTHORIZED and connection.health_description:
                # What was recorded when the grant was refused: the reason as it was then.
                raise ReauthorizationRequired(connection.health_description)
            reason = refusal_reason(provider, stored, self._clock())
            raise ReauthorizationRequired(reauthorization_message(connection, provider, reason))
        tokens: dict[str, Any] = self._cipher.decrypt(stored.tokens_encrypted)
        return str(tokens["access_token"]), str(tokens["refresh_token"])

    async def _refreshed(self, needed: Callable[[oauth_store.StoredTokens, str], bool]) -> str:
        """Under the locks: the stored access token when `needed(stored, access)` says no refresh is
        (another caller refreshed while this one waited), else a new one, committed first."""
        connection_id = self._connection.id
        refused: str | None = None
        async with self._locks.for_connection(connection_id), self._sessionmaker.begin() as db:
            stored = await oauth_store.lock_tokens(db, connection_id)
            access, refresh_token = self._check(stored)
            assert stored is not None
            if not needed(stored, access):
                self._access, self._expires_at = access, stored.access_token_expires_at
                return access
            try:
                async with authorization_server(self._config, self._transport) as server:
                    grant = await server.refresh(refresh_token)
            except OAuthGrantRefused as exc:
                now = self._clock()
                refused = reauthorization_message(
                    self._connection, self._config.provider, refusal_reason(self._config.provider, stored, now)
                )
                log.warning("oauth.token.grant_refused", connection_id=str(connection_id), error=exc.message)
                await oauth_store.set_status(db, connection_id, oauth_store.REAUTHORIZE)
                await connections_store.update_connection(
                    db, connection_id, health_name=HealthName.UNAUTHORIZED, health_description=refused
                )
            else:
                now = self._clock()
                expires_at = expiry_of(grant, now)
                await oauth_store.record_refresh(
                    db,
                    connection_id,
                    tokens_encrypted=encrypt_tokens(
                        self._cipher,
                        access_token=grant.access_token,
                        # Refresh tokens rotate; an answer without one keeps the old one.
                        refresh_token=grant.refresh_token or refresh_token,
                    ),
                    access_token_expires_at=expires_at,
                    now=now,
                )
        # Committed: the new refresh token is stored before the new access token is used.
        if refused is not None:
            raise ReauthorizationRequired(refused)
        log.info("oauth.token.refreshed", connection_id=str(connection_id), rotated=grant.refresh_token is not None)
        self._access, self._expires_at = grant.access_token, expires_at
        return grant.access_token
