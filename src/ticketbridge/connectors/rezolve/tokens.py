"""The access token of one Rezolve connection: fetched with the client-credentials grant, cached until
shortly before it expires, and refreshed by one coroutine at a time.

The cache lives in the connection's `MetadataCache`, not in a connector, because a connector lives
for one unit of work and Keycloak would otherwise mint a token for every request a service handles.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ticketbridge.connectors.base import MetadataCache

#: Refresh this long before the token's `expires_in` runs out, so no request carries a token that
#: expires in flight. Keycloak's default lifetime is 300 s; the reference suggests exp - 30 s.
EXPIRY_MARGIN_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    expires_in_seconds: float


Fetch = Callable[[], Awaitable[Token]]


@dataclass(slots=True)
class TokenCache:
    """One token and the lock that makes its refresh single-flight."""

    clock: Callable[[], float] = time.monotonic
    _value: str | None = None
    _refresh_at: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def token(self, fetch: Fetch, *, rejected: str | None = None) -> str:
        """A valid token, fetching one when none is cached, it is about to expire, or it is the
        `rejected` one (a 401 answered it). Coroutines that wait on the lock reuse the token the
        first one fetched instead of fetching again."""
        if self._is_usable(rejected):
            assert self._value is not None
            return self._value
        async with self._lock:
            if self._is_usable(rejected):
                assert self._value is not None
                return self._value
            fetched = await fetch()
            self._value = fetched.value
            margin = min(EXPIRY_MARGIN_SECONDS, fetched.expires_in_seconds / 2)
            self._refresh_at = self.clock() + fetched.expires_in_seconds - margin
            return self._value

    def _is_usable(self, rejected: str | None) -> bool:
        return self._value is not None and self._value != rejected and self.clock() < self._refresh_at


def token_cache_for(cache: MetadataCache, *, token_url: str, client_id: str, client_secret: str) -> TokenCache:
    """The connection's token cache. It is keyed by the credentials too, so that changing them on a
    connection never reuses a token minted for the old ones."""
    fingerprint = hashlib.sha256(f"{token_url}\n{client_id}\n{client_secret}".encode()).hexdigest()
    key = ("rezolve.token", fingerprint)
    entry = cache.entries.get(key)
    if entry is None:
        entry = (time.monotonic(), TokenCache())
        cache.entries[key] = entry
    tokens: TokenCache = entry[1]
    return tokens
