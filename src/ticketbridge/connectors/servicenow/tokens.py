"""The OAuth access token of one ServiceNow connection: minted with the password grant, renewed with
the refresh token shortly before it expires (or when a 401 rejects it), and fetched by one coroutine
at a time.

The cache lives in the connection's `MetadataCache`, not in a connector, because a connector lives
for one unit of work and the instance would otherwise mint a token for every request we serve.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ticketbridge.connectors.base import MetadataCache
from ticketbridge.connectors.errors import VendorAuthError

#: Renew this long before `expires_in` runs out, so no request carries a token that expires in
#: flight. ServiceNow's default access token lifespan is 1800 s.
EXPIRY_MARGIN_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    refresh_token: str | None
    expires_in_seconds: float


#: `fetch(refresh_token)`: the password grant when None, else the refresh grant.
Fetch = Callable[[str | None], Awaitable[Token]]


@dataclass(slots=True)
class TokenCache:
    clock: Callable[[], float] = time.monotonic
    _value: str | None = None
    _refresh_token: str | None = None
    _renew_at: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def token(self, fetch: Fetch, *, rejected: str | None = None) -> str:
        """A valid token: the cached one, unless none is cached, it is about to expire, or it is the
        `rejected` one. Coroutines waiting on the lock reuse what the first one fetched. A refresh
        token the instance refuses (expired, revoked) falls back to the password grant."""
        if self._is_usable(rejected):
            assert self._value is not None
            return self._value
        async with self._lock:
            if self._is_usable(rejected):
                assert self._value is not None
                return self._value
            fetched: Token | None = None
            if self._refresh_token is not None:
                try:
                    fetched = await fetch(self._refresh_token)
                except VendorAuthError:
                    self._refresh_token = None
            if fetched is None:
                fetched = await fetch(None)
            self._value = fetched.value
            self._refresh_token = fetched.refresh_token or self._refresh_token
            margin = min(EXPIRY_MARGIN_SECONDS, fetched.expires_in_seconds / 2)
            self._renew_at = self.clock() + fetched.expires_in_seconds - margin
            return self._value

    def _is_usable(self, rejected: str | None) -> bool:
        return self._value is not None and self._value != rejected and self.clock() < self._renew_at


def token_cache_for(
    cache: MetadataCache, *, instance_url: str, client_id: str, username: str, secret: str
) -> TokenCache:
    """The connection's token cache, keyed by the credentials too: a change of credentials never
    reuses a token minted for the old ones."""
    fingerprint = hashlib.sha256(f"{instance_url}\n{client_id}\n{username}\n{secret}".encode()).hexdigest()
    return cache.setdefault(("servicenow.token", fingerprint), TokenCache)
