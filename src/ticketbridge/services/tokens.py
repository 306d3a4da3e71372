"""The tokens of OAuth 2.0 (3LO) Jira connections: stored encrypted, refreshed by one caller at a time.

`StoredTokenSource` is what a connector gets as its `TokenSource` (connectors/oauth.py). The protocol:

- `current()` reads the stored access token once per unit of work and uses it until it is within
  `refresh_margin_seconds` of its expiry; then it refreshes.
- `refresh(failed)` runs after the gateway answered 401 to `failed`.
- A refresh takes this process's lock for the connection (so its coroutines queue here, not on the
  database), then the row lock (`store.oauth.lock_tokens`: FOR UPDATE on PostgreSQL, the write
  transaction on SQLite), and re-reads the stored tokens: if another caller refreshed meanwhile (the
  stored token is fresh, or is not the one that failed), it uses that one and calls nobody. Otherwise
  it calls the token endpoint while holding the lock and commits the new pair (a refresh token
  rotates; an answer without one keeps the old) before anyone uses the new access token.
- What the token endpoint answers decides what happens next: `invalid_grant` means the grant is gone,
  so the connection is marked for re-authorization (health UNAUTHORIZED, owner CUSTOMER) and every
  later request answers 409 without a vendor call; a refused client secret is the operator's
  configuration (OAuthClientRejected, tokens kept); 5xx, 429 and network errors are transient
  (VendorRetriable, tokens kept, the connector's retries back off).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketbridge.config import Settings
from ticketbridge.connectors.http import build_client
from ticketbridge.connectors.jira.oauth import AtlassianOAuthClient, OAuthApp, OAuthGrantRefused, TokenGrant
from ticketbridge.connectors.oauth import OAuthClientRejected, ReauthorizationRequired
from ticketbridge.crypto import CredentialCipher
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.enums import HealthName
from ticketbridge.observability import get_logger
from ticketbridge.store import connections as connections_store
from ticketbridge.store import oauth as oauth_store
from ticketbridge.store.base import read_session, utcnow

log = get_logger("ticketbridge.services.tokens")


@dataclass(frozen=True, slots=True)
class JiraOAuthConfig:
    """The operator's OAuth app and Atlassian's endpoints (Settings' TICKETBRIDGE_JIRA_OAUTH_*)."""

    app: OAuthApp
    auth_base_url: str
    api_base_url: str
    refresh_margin_seconds: float
    #: One token-endpoint or accessible-resources request ends within this long.
    timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> JiraOAuthConfig | None:
        """None unless the client id, secret and redirect URI are all set."""
        secret = settings.jira_oauth_client_secret
        if not (settings.jira_oauth_client_id and secret is not None and settings.jira_oauth_redirect_uri):
            return None
        return cls(
            app=OAuthApp(
                client_id=settings.jira_oauth_client_id,
                client_secret=secret.get_secret_value(),
                redirect_uri=settings.jira_oauth_redirect_uri,
            ),
            auth_base_url=settings.jira_oauth_auth_base_url.rstrip("/"),
            api_base_url=settings.jira_oauth_api_base_url.rstrip("/"),
            refresh_margin_seconds=settings.jira_oauth_refresh_margin_seconds,
            timeout_seconds=settings.effective_vendor_timeout_seconds,
        )


@asynccontextmanager
async def atlassian_client(
    config: JiraOAuthConfig, transport: httpx.AsyncBaseTransport | None
) -> AsyncIterator[AtlassianOAuthClient]:
    """A client of the authorization server and the gateway, closed on exit."""
    auth = build_client(config.auth_base_url, auth=None, transport=transport, timeout_secs=config.timeout_seconds)
    api = build_client(config.api_base_url, auth=None, transport=transport, timeout_secs=config.timeout_seconds)
    try:
        yield AtlassianOAuthClient(auth=auth, api=api, app=config.app)
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


def reauthorization_message(connection: ConnectionRead) -> str:
    return (
        f"Connection {connection.id} needs to be re-authorized: Atlassian no longer honours its OAuth grant "
        "(the app was uninstalled or its consent revoked or expired). The customer must connect the site "
        f"again: POST /v1/admin/organizations/{connection.organization_id}/connections/jira/authorize."
    )


class UnconfiguredTokens:
    """The token source of a 3LO connection while the operator's OAuth app is not configured."""

    async def current(self) -> str:
        raise OAuthClientRejected(
            "the Jira OAuth app is not configured (TICKETBRIDGE_JIRA_OAUTH_CLIENT_ID, _CLIENT_SECRET, "
            "_REDIRECT_URI): the operator must set them; the customer need not reconnect"
        )

    async def refresh(self, failed: str) -> str:
        return await self.current()


class StoredTokenSource:
    """The `TokenSource` of one 3LO connection for one unit of work (see the module docstring)."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        cipher: CredentialCipher,
        connection: ConnectionRead,
        config: JiraOAuthConfig,
        transport: httpx.AsyncBaseTransport | None,
        locks: TokenLocks,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._cipher = cipher
        self._connection = connection
        self._config = config
        self._transport = transport
        self._locks = locks
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
        return await self._refreshed(failed=None)

    async def refresh(self, failed: str) -> str:
        return await self._refreshed(failed=failed)

    def _is_fresh(self, expires_at: datetime) -> bool:
        return expires_at - timedelta(seconds=self._config.refresh_margin_seconds) > utcnow()

    def _check(self, stored: oauth_store.StoredTokens | None) -> tuple[str, str]:
        """The stored (access, refresh) pair; ReauthorizationRequired when there is none to use."""
        if stored is None or stored.status == oauth_store.REAUTHORIZE:
            raise ReauthorizationRequired(reauthorization_message(self._connection))
        tokens: dict[str, Any] = self._cipher.decrypt(stored.tokens_encrypted)
        return str(tokens["access_token"]), str(tokens["refresh_token"])

    async def _refreshed(self, *, failed: str | None) -> str:
        connection_id = self._connection.id
        refused: OAuthGrantRefused | None = None
        async with self._locks.for_connection(connection_id), self._sessionmaker.begin() as db:
            stored = await oauth_store.lock_tokens(db, connection_id)
            access, refresh_token = self._check(stored)
            assert stored is not None
            if self._is_fresh(stored.access_token_expires_at) and access != failed:
                # Another caller refreshed while this one waited for the lock.
                self._access, self._expires_at = access, stored.access_token_expires_at
                return access
            try:
                async with atlassian_client(self._config, self._transport) as client:
                    grant = await client.refresh(refresh_token)
            except OAuthGrantRefused as exc:
                refused = exc
                description = reauthorization_message(self._connection)
                await oauth_store.set_status(db, connection_id, oauth_store.REAUTHORIZE)
                await connections_store.update_connection(
                    db, connection_id, health_name=HealthName.UNAUTHORIZED, health_description=description
                )
            else:
                expires_at = expiry_of(grant, utcnow())
                await oauth_store.record_refresh(
                    db,
                    connection_id,
                    tokens_encrypted=encrypt_tokens(
                        self._cipher,
                        access_token=grant.access_token,
                        # Atlassian rotates refresh tokens; an answer without one keeps the old one.
                        refresh_token=grant.refresh_token or refresh_token,
                    ),
                    access_token_expires_at=expires_at,
                )
        # Committed: the new refresh token is stored before the new access token is used.
        if refused is not None:
            log.warning("oauth.token.grant_refused", connection_id=str(connection_id), error=refused.message)
            raise ReauthorizationRequired(reauthorization_message(self._connection)) from refused
        log.info("oauth.token.refreshed", connection_id=str(connection_id), rotated=grant.refresh_token is not None)
        self._access, self._expires_at = grant.access_token, expires_at
        return grant.access_token
