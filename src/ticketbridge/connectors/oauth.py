"""Bearer tokens that expire: the connector's side of OAuth 2.0 authorization-code connections.

A connector never stores a token. Services hand it a `TokenSource` (through `VendorHttp.oauth`), and
`TokenSourceAuth`, its `httpx.Auth` flow, asks the source for the current token before each request;
when the vendor answers 401 it asks for a refresh, naming the token that failed, and sends the
request once more with what it gets. The source decides whether a refresh is really needed (another
request may have refreshed meanwhile) and keeps the stored tokens consistent (`services/tokens.py`).

    VendorAuthError
     └── ReauthorizationRequired   the grant is gone: the customer must connect again
    VendorError
     └── OAuthClientRejected       the OAuth app's own credentials were refused: the operator must fix them
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass
from typing import Protocol

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
