"""The request path's lookups of API keys and connections, cached for a short while, and the keys'
last_used_at recorded off the request path.

Staleness bound: an entry (a key, a connection, or a failed lookup of either) is used for at most
`ttl_seconds` after the lookup that made it *started*, so a change committed at time T is seen by
every process from T + ttl_seconds on, with no cross-process messaging. In the process that makes
the change it is seen at once: a commit that flushed an ApiKey or Connection row drops its entries,
and a lookup that was in flight meanwhile stores nothing. (A change written by a plain UPDATE
statement rather than through the ORM gets the TTL bound only.)

Entries are keyed by the key's SHA-256 hash, never the key itself. Concurrent misses of one entry
share one lookup. Both maps are bounded (least recently stored first out), so unknown keys sent in
bulk cost memory only up to the bound.

last_used_at: `note_use` collects the time in memory, at most once a minute per key (the column's
resolution, `LAST_USED_RESOLUTION`), and `run_flusher` writes what was collected every few seconds
in one short write transaction, so an authenticated read never writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from ticketbridge.crypto import hash_api_key
from ticketbridge.domain.tenancy import ApiKeyRead, ConnectionRead
from ticketbridge.errors import Conflict, NotFound, TicketbridgeError, Unauthenticated
from ticketbridge.observability import get_logger
from ticketbridge.services import connections as connections_service
from ticketbridge.store import organizations as organizations_store
from ticketbridge.store.base import read_session, session_class_of, utcnow
from ticketbridge.store.tables import ApiKey, Connection

log = get_logger("ticketbridge.auth_cache")

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

#: Entries each map holds at most.
MAX_ENTRIES = 10_000
#: Failed lookups are cached (within the TTL) only for these errors, which carry nothing but a message.
_CACHEABLE_ERRORS: tuple[type[TicketbridgeError], ...] = (Unauthenticated, NotFound, Conflict)
_CHANGES_INFO_KEY = "auth_cache_changes"


@dataclass(frozen=True, slots=True)
class _Outcome(Generic[T]):
    """A lookup's answer: a value, or the error to raise anew (never the same instance twice)."""

    value: T | None
    error: type[TicketbridgeError] | None
    message: str
    expires_at: float

    def get(self) -> T:
        if self.error is not None:
            raise self.error(self.message)
        assert self.value is not None
        return self.value


class _TtlMap(Generic[K, T]):
    def __init__(self, ttl_seconds: float, max_entries: int) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[K, _Outcome[T]] = OrderedDict()
        self._pending: dict[K, asyncio.Future[_Outcome[T]]] = {}
        #: Bumped by every invalidation: a lookup that started before one stores nothing.
        self._generation = 0

    async def get(self, key: K, lookup: Callable[[], Awaitable[T]]) -> T:
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at > now:
            return entry.get()
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._look_up(key, lookup, now))
            self._pending[key] = pending
            pending.add_done_callback(lambda done: self._settled(key, done))
        # Shielded: one waiter's cancellation must not cancel the lookup the others wait for.
        return (await asyncio.shield(pending)).get()

    def _settled(self, key: K, done: asyncio.Future[_Outcome[T]]) -> None:
        if self._pending.get(key) is done:
            del self._pending[key]
        if not done.cancelled():
            done.exception()  # retrieved here too: every waiter may have been cancelled meanwhile

    async def _look_up(self, key: K, lookup: Callable[[], Awaitable[T]], started: float) -> _Outcome[T]:
        generation = self._generation
        expires_at = started + self.ttl_seconds
        try:
            outcome: _Outcome[T] = _Outcome(await lookup(), None, "", expires_at)
        except _CACHEABLE_ERRORS as exc:
            outcome = _Outcome(None, type(exc), exc.message, expires_at)
        if self.ttl_seconds > 0 and generation == self._generation:
            self._entries[key] = outcome
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return outcome

    def discard(self, match: Callable[[K], bool]) -> None:
        self._generation += 1
        for key in [key for key in self._entries if match(key)]:
            del self._entries[key]

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()


class AuthCache:
    """Per process (one per Runtime). `watch` a sessionmaker so its commits invalidate at once."""

    def __init__(self, *, ttl_seconds: float = 1.0, max_entries: int = MAX_ENTRIES) -> None:
        self._keys: _TtlMap[str, ApiKeyRead] = _TtlMap(ttl_seconds, max_entries)
        #: (organization_id, connection_id) -> the connection, if it may serve requests.
        self._connections: _TtlMap[tuple[uuid.UUID, uuid.UUID], ConnectionRead] = _TtlMap(ttl_seconds, max_entries)
        self._uses: dict[uuid.UUID, datetime] = {}
        #: When this process last collected a use of each key (so it collects one a minute at most).
        self._noted: dict[uuid.UUID, datetime] = {}

    async def authenticate(self, sessionmaker: async_sessionmaker[AsyncSession], plaintext: str | None) -> ApiKeyRead:
        """Resolves an X-API-KEY value; missing, unknown and revoked keys look the same (Unauthenticated)."""
        if not plaintext:
            raise Unauthenticated("The X-API-KEY header is missing.")
        key_hash = hash_api_key(plaintext)

        async def lookup() -> ApiKeyRead:
            async with read_session(sessionmaker) as db:
                key = await organizations_store.find_active_api_key(db, key_hash)
            if key is None:
                raise Unauthenticated("The API key is invalid or has been revoked.")
            return key

        key = await self._keys.get(key_hash, lookup)
        self.note_use(key)
        return key

    async def usable_connection(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, organization_id: uuid.UUID, connection_id: uuid.UUID
    ) -> ConnectionRead:
        """`connections.get_usable_connection`, cached: NotFound, or Conflict for one that serves no requests."""

        async def lookup() -> ConnectionRead:
            async with read_session(sessionmaker) as db:
                return await connections_service.get_usable_connection(
                    db, organization_id=organization_id, connection_id=connection_id
                )

        return await self._connections.get((organization_id, connection_id), lookup)

    def note_use(self, key: ApiKeyRead, now: datetime | None = None) -> None:
        """Collects a use of `key` for the next flush, unless one within the minute is known."""
        now = now or utcnow()
        last = max(filter(None, (key.last_used_at, self._noted.get(key.id))), default=None)
        if last is not None and now - last < organizations_store.LAST_USED_RESOLUTION:
            return
        self._noted[key.id] = now
        self._uses[key.id] = now

    async def flush_uses(self, sessionmaker: async_sessionmaker[AsyncSession]) -> int:
        """Writes the uses collected so far (one UPDATE); on a database error they wait for the next flush."""
        if not self._uses:
            return 0
        uses, self._uses = self._uses, {}
        try:
            async with sessionmaker.begin() as db:
                await organizations_store.record_last_used(db, uses)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("auth_cache.flush_failed", keys=len(uses), error=str(exc))
            for key_id, at in uses.items():
                self._uses.setdefault(key_id, at)
            return 0
        now = utcnow()
        for key_id in [
            key_id for key_id, at in self._noted.items() if now - at >= organizations_store.LAST_USED_RESOLUTION
        ]:
            del self._noted[key_id]
        return len(uses)

    async def run_flusher(
        self, sessionmaker: async_sessionmaker[AsyncSession], stop: asyncio.Event, *, interval_seconds: float
    ) -> None:
        """Flushes every `interval_seconds` until `stop`, then once more (the lifespan runs it)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_seconds)
            await self.flush_uses(sessionmaker)

    def invalidate_keys(self, key_hashes: set[str]) -> None:
        self._keys.discard(lambda key_hash: key_hash in key_hashes)

    def invalidate_connections(self, connection_ids: set[uuid.UUID]) -> None:
        self._connections.discard(lambda key: key[1] in connection_ids)

    def clear(self) -> None:
        self._keys.clear()
        self._connections.clear()

    def watch(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Invalidates the entries of every ApiKey and Connection row that a commit of `sessionmaker`'s
        sessions flushed (inserted, changed or deleted), once the commit has happened."""
        session_class = session_class_of(sessionmaker)
        event.listen(session_class, "after_flush", _collect_changes)
        event.listen(session_class, "after_commit", self._apply_changes)
        event.listen(session_class, "after_rollback", _forget_changes)

    def _apply_changes(self, session: Session) -> None:
        changes: _Changes | None = session.info.pop(_CHANGES_INFO_KEY, None)
        if changes is None:
            return
        if changes.key_hashes:
            self.invalidate_keys(changes.key_hashes)
        if changes.connection_ids:
            self.invalidate_connections(changes.connection_ids)


@dataclass(slots=True)
class _Changes:
    key_hashes: set[str]
    connection_ids: set[uuid.UUID]


def _collect_changes(session: Session, _context: Any) -> None:
    changes: _Changes | None = None
    for row in (*session.new, *session.dirty, *session.deleted):
        if not isinstance(row, ApiKey | Connection):
            continue
        if changes is None:
            changes = session.info.setdefault(_CHANGES_INFO_KEY, _Changes(set(), set()))
        if isinstance(row, ApiKey):
            changes.key_hashes.add(row.key_hash)
        else:
            changes.connection_ids.add(row.id)


def _forget_changes(session: Session) -> None:
    session.info.pop(_CHANGES_INFO_KEY, None)
