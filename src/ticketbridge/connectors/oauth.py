"""OAuth 2.0 authorization-code connections, the connectors' side: bearer tokens that expire, and
the `OAuthProvider` a vendor's spec declares when its customers connect by consent.

A connector never stores a token. Services hand it a `TokenSource` (through `VendorHttp.oauth`), and
`TokenSourceAuth`, its `httpx.Auth` flow, asks the source for the current token before each request;
when the vendor answers 401 it asks for a refresh, naming the token that failed, and sends the
request once more with what it gets. The source decides whether a refresh is really needed (another
request may have refreshed meanwhile) and keeps the stored tokens consistent (`services/tokens.py`).

An `OAuthProvider` says what the connect flow and the token store (`services/oauth.py`,
`services/tokens.py`) need of a vendor without naming it: its authorization server's client, the
scopes a connection needs, the grant's lifetimes, and how a site the grant reaches becomes a
connection (its base URL and credentials).

    VendorAuthError
     ├── ReauthorizationRequired   the grant is gone: the customer must connect again
     └── OAuthGrantRefused         the authorization server refused a code or refresh token (invalid_grant)
    VendorError
     └── OAuthClientRejected       the OAuth app's own credentials were refused: the operator must fix them
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from ticketbridge.connectors.errors import VendorAuthError, VendorError

#: Atlassian's gateway answer when the token lacks the operation's scopes: a refresh cannot help.
SCOPE_MISMATCH = "scope does not match"


class TokenSource(Protocol):
    """The tokens of one connection, as services keep them."""

    async def current(self) -> str:
        """A usable access token (refreshed first when it is about to expire). Raises
        ReauthorizationRequired, OAuthClientRejected or VendorRetriable (the token endpoint is down)."""
        ...

    async def refresh(self, failed: str) -> str:
        """A token to use instead of `failed`, which the vendor refused: the stored one if it is
        another already, else a new one from the token endpoint. Raises as `current`."""
        ...


@dataclass(frozen=True, slots=True)
class OAuthSession:
    """What a connector of an OAuth connection needs besides its credentials."""

    #: Where the bearer token goes: the vendor's API gateway (https://api.atlassian.com).
    api_base_url: str
    tokens: TokenSource


class ReauthorizationRequired(VendorAuthError):
    """The vendor no longer honours the connection's grant (revoked, expired, refresh token refused):
    only the customer can fix it, by connecting again. No vendor call is made meanwhile."""


class OAuthClientRejected(VendorError):
    """The authorization server refused the OAuth app's client id or secret: an operator
    configuration error, not the customer's; the connection's tokens are kept."""


class OAuthGrantRefused(VendorAuthError):
    """The authorization server refused the code or refresh token (`invalid_grant`)."""


@dataclass(frozen=True, slots=True)
class OAuthApp:
    """The operator's OAuth app, registered with the vendor."""

    client_id: str
    client_secret: str
    redirect_uri: str


@dataclass(frozen=True, slots=True)
class TokenGrant:
    access_token: str
    #: None when the answer carries none (keep the one sent).
    refresh_token: str | None
    expires_in_seconds: float
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AccessibleSite:
    """A site the grant reaches, as the vendor lists it."""

    site_id: str
    url: str
    name: str
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SiteConnection:
    """What a connection to a granted site is made of: the tokens aside, its base URL and credentials."""

    base_url: str
    credentials: dict[str, Any]


class AuthorizationServer(Protocol):
    """The vendor's authorization server and the list of sites a token reaches; one call each.
    Raises OAuthGrantRefused, OAuthClientRejected, VendorRetriable (down, throttling, no answer)."""

    async def exchange_code(self, code: str) -> TokenGrant: ...

    async def refresh(self, refresh_token: str) -> TokenGrant: ...

    async def accessible_resources(self, access_token: str) -> list[AccessibleSite]: ...


#: `authorization_server(auth, api, app)`: a client on the authorization server (`auth`) and the API
#: gateway (`api`); the caller owns and closes both HTTP clients.
BuildAuthorizationServer = Callable[[httpx.AsyncClient, httpx.AsyncClient, OAuthApp], AuthorizationServer]


@dataclass(frozen=True, slots=True)
class OAuthProvider:
    """A vendor's OAuth 2.0 (3LO) connect flow, declared in its spec (`ConnectorSpec.oauth`)."""

    #: The vendor's path segment in the connect flow's URLs (`/connections/{slug}/authorize`).
    slug: str
    #: Who runs the authorization server, for messages ("Atlassian").
    authority: str
    #: Production endpoints: the authorization server (consent, token) and the API gateway.
    auth_base_url: str
    api_base_url: str
    #: What a connection needs; a grant lacking one is refused (422 naming it).
    required_scopes: tuple[str, ...]
    #: The scope that yields a refresh token: granted without one, it was not really granted.
    offline_scope: str
    #: A refresh token unused this long expires (Atlassian: 90 days).
    idle_lifetime_seconds: float
    #: Every refresh token of a consent expires this long after it (Atlassian: 365 days).
    grant_lifetime_seconds: float
    #: `authorize_url(auth_base_url, app, state)`: the consent screen's URL.
    authorize_url: Callable[[str, OAuthApp, str], str]
    authorization_server: BuildAuthorizationServer
    #: A granted site as a connection (base URL, credentials naming the site).
    site_connection: Callable[[AccessibleSite], SiteConnection]
    #: The site a connection's credentials name when they are a grant's; None for other credentials
    #: (an API token), whose connections have no tokens to refresh.
    granted_site: Callable[[Mapping[str, Any]], str | None]


class TokenSourceAuth(httpx.Auth):
    """Bearer auth from a `TokenSource`: one refresh (and one resend) when the vendor answers 401."""

    def __init__(self, tokens: TokenSource) -> None:
        self._tokens = tokens

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("TokenSourceAuth works with httpx.AsyncClient only")

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._tokens.current()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        await response.aread()
        if SCOPE_MISMATCH in response.text:
            return
        fresh = await self._tokens.refresh(token)
        if fresh == token:
            return
        request.headers["Authorization"] = f"Bearer {fresh}"
        yield request
