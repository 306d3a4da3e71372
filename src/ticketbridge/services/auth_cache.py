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

Refresh-ahead: so that a tenant sending a request every second or two does not find its entries
expired each time, `run_refresher` re-reads, every `ttl_seconds / 2`, the entries that served a
request successfully within `KEEP_WARM_SECONDS`, and replaces them with what it read (a key revoked
meanwhile becomes the refusal, a paused connection the Conflict). The staleness bound is unchanged: a
refreshed entry, too, is used for at most `ttl_seconds` after its round *started*, and an invalidation
during a round wins (the round stores nothing for that map). An entry unused for the window is left
to expire; refusals alone never keep an entry warm, so unknown keys sent in bulk add no refresh work.
Its cost, per process: one read transaction every `ttl_seconds / 2` while any entry is warm, with one
statement per map (per `REFRESH_CHUNK` entries); the warm set is bounded like the maps. A round that
fails (the database is down) is logged, and the entries then expire as without the refresher.

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
from collections.abc import Awaitable, Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from ticketbridge.crypto import hash_api_key
from ticketbridge.domain.tenancy import ApiKeyRead, ConnectionRead
from ticketbridge.errors import Conflict, NotFound, TicketbridgeError, Unauthenticated
from ticketbridge.observability import get_logger
from ticketbridge.services import connections as connections_service
from ticketbridge.store import connections as connections_store
from ticketbridge.store import organizations as organizations_store
from ticketbridge.store.base import read_session, session_class_of, utcnow
from ticketbridge.store.tables import ApiKey, Connection

log = get_logger("ticketbridge.auth_cache")

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

#: Entries each map holds at most (and entries each map keeps warm at most).
MAX_ENTRIES = 10_000
#: An entry that served no request for this long is no longer refreshed: it expires. Short, because
#: a round re-reads every warm entry twice a second (about 50 us an entry on SQLite), while a key used
#: less often than this pays one lookup per use at most.
KEEP_WARM_SECONDS = 10.0
#: Hashes or ids per statement of a refresh round (far below SQLite's bound-parameter limit).
REFRESH_CHUNK = 500
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

    @classmethod
    def failed(cls, exc: TicketbridgeError, expires_at: float) -> _Outcome[T]:
        return cls(None, type(exc), exc.message, expires_at)

    def get(self) -> T:
        if self.error is not None:
            raise self.error(self.message)
        assert self.value is not None
        return self.value


def _settle(compute: Callable[[], T], expires_at: float) -> _Outcome[T]:
    """The outcome of applying a rule to a row a refresh round read."""
    try:
        return _Outcome(compute(), None, "", expires_at)
    except _CACHEABLE_ERRORS as exc:
        return _Outcome.failed(exc, expires_at)


class _TtlMap(Generic[K, T]):
    def __init__(self, ttl_seconds: float, max_entries: int, keep_warm_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.keep_warm_seconds = keep_warm_seconds
        self._entries: OrderedDict[K, _Outcome[T]] = OrderedDict()
        self._pending: dict[K, asyncio.Future[_Outcome[T]]] = {}
        #: When each key last served a request successfully, least recent first: what refresh keeps warm.
        self._used: OrderedDict[K, float] = OrderedDict()
        #: Bumped by every invalidation: a lookup or refresh round that started before one stores nothing.
        self.generation = 0

    async def get(self, key: K, lookup: Callable[[], Awaitable[T]]) -> T:
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is None or entry.expires_at <= now:
            entry = await self._shared_lookup(key, lookup, now)
        if entry.error is None and self.ttl_seconds > 0:
            self._note_use(key, now)
        return entry.get()

    async def _shared_lookup(self, key: K, lookup: Callable[[], Awaitable[T]], now: float) -> _Outcome[T]:
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._look_up(key, lookup, now))
            self._pending[key] = pending
            pending.add_done_callback(lambda done: self._settled(key, done))
        # Shielded: one waiter's cancellation must not cancel the lookup the others wait for.
        return await asyncio.shield(pending)

    def _note_use(self, key: K, now: float) -> None:
        self._used[key] = now
        self._used.move_to_end(key)
        if len(self._used) > self.max_entries:
            self._used.popitem(last=False)

    def warm_keys(self, now: float) -> list[K]:
        """The keys that served a request within the keep-warm window; the others are forgotten."""
        horizon = now - self.keep_warm_seconds
        while self._used and next(iter(self._used.values())) < horizon:
            self._used.popitem(last=False)
        return list(self._used)

    def refreshed(self, generation: int, outcomes: Mapping[K, _Outcome[T]]) -> int:
        """Stores a refresh round's outcomes, unless an invalidation came after the round began (it
        wins), and never over an entry that outlives them (a lookup that started later made it)."""
        if generation != self.generation:
            return 0
        fresher = [
            (key, outcome)
            for key, outcome in outcomes.items()
            if key not in self._entries or self._entries[key].expires_at < outcome.expires_at
        ]
        for key, outcome in fresher:
            self._store(key, outcome)
        return len(fresher)

    def _settled(self, key: K, done: asyncio.Future[_Outcome[T]]) -> None:
        if self._pending.get(key) is done:
            del self._pending[key]
        if not done.cancelled():
            done.exception()  # retrieved here too: every waiter may have been cancelled meanwhile

    async def _look_up(self, key: K, lookup: Callable[[], Awaitable[T]], started: float) -> _Outcome[T]:
        generation = self.generation
        expires_at = started + self.ttl_seconds
        try:
            outcome: _Outcome[T] = _Outcome(await lookup(), None, "", expires_at)
        except _CACHEABLE_ERRORS as exc:
            outcome = _Outcome.failed(exc, expires_at)
        if self.ttl_seconds > 0 and generation == self.generation:
            self._store(key, outcome)
        return outcome

    def _store(self, key: K, outcome: _Outcome[T]) -> None:
        self._entries[key] = outcome
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def discard(self, match: Callable[[K], bool]) -> None:
        """Drops the matching entries; they stay warm, so the next round reads them anew."""
        self.generation += 1
        for key in [key for key in self._entries if match(key)]:
            del self._entries[key]

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
        self._used.clear()


class AuthCache:
    """Per process (one per Runtime). `watch` a sessionmaker so its commits invalidate at once."""

    def __init__(
        self,
        *,
        ttl_seconds: float = 1.0,
        max_entries: int = MAX_ENTRIES,
        keep_warm_seconds: float = KEEP_WARM_SECONDS,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._keys: _TtlMap[str, ApiKeyRead] = _TtlMap(ttl_seconds, max_entries, keep_warm_seconds)
        #: (organization_id, connection_id) -> the connection, if it may serve requests.
        self._connections: _TtlMap[tuple[uuid.UUID, uuid.UUID], ConnectionRead] = _TtlMap(
            ttl_seconds, max_entries, keep_warm_seconds
        )
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
                return _active(await organizations_store.find_active_api_key(db, key_hash))

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

    async def refresh(self, sessionmaker: async_sessionmaker[AsyncSession]) -> int:
        """One refresh round: re-reads every warm entry in one read transaction and stores what it read
        (see the module docstring). Returns the entries stored; 0 after a database error (logged)."""
        if self.ttl_seconds <= 0:
            return 0
        started = time.monotonic()
        key_generation, connection_generation = self._keys.generation, self._connections.generation
        hashes, pairs = self._keys.warm_keys(started), self._connections.warm_keys(started)
        if not hashes and not pairs:
            return 0
        try:
            async with read_session(sessionmaker) as db:
                keys, connections = await _read_batches(db, hashes, list({pair[1] for pair in pairs}))
        except (SQLAlchemyError, OSError) as exc:
            log.warning("auth_cache.refresh_failed", keys=len(hashes), connections=len(pairs), error=_describe(exc))
            return 0
        expires_at = started + self.ttl_seconds
        key_outcomes = {key_hash: _settle(partial(_active, keys.get(key_hash)), expires_at) for key_hash in hashes}
        connection_outcomes = {
            pair: _settle(
                partial(connections_service.ensure_usable, connections.get(pair[1]), organization_id=pair[0]),
                expires_at,
            )
            for pair in pairs
        }
        return self._keys.refreshed(key_generation, key_outcomes) + self._connections.refreshed(
            connection_generation, connection_outcomes
        )

    async def run_refresher(self, sessionmaker: async_sessionmaker[AsyncSession], stop: asyncio.Event) -> None:
        """Refreshes every `ttl_seconds / 2` until `stop` (the lifespan runs it); nothing to do with
        caching off. Half the TTL: a round's entries are refreshed by the next round before they expire."""
        if self.ttl_seconds <= 0:
            return
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.ttl_seconds / 2)
            if not stop.is_set():
                await self.refresh(sessionmaker)

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


def _active(key: ApiKeyRead | None) -> ApiKeyRead:
    """The key as read by its hash (None: unknown or revoked), or the refusal."""
    if key is None:
        raise Unauthenticated("The API key is invalid or has been revoked.")
    return key


async def _read_batches(
    db: AsyncSession, hashes: Sequence[str], connection_ids: Sequence[uuid.UUID]
) -> tuple[dict[str, ApiKeyRead], dict[uuid.UUID, ConnectionRead]]:
    """The unrevoked keys and the connections among those asked for, REFRESH_CHUNK per statement."""
    keys: dict[str, ApiKeyRead] = {}
    for hash_chunk in _chunks(hashes):
        keys.update(await organizations_store.find_active_api_keys(db, hash_chunk))
    connections: dict[uuid.UUID, ConnectionRead] = {}
    for id_chunk in _chunks(connection_ids):
        connections.update(await connections_store.get_connections(db, id_chunk))
    return keys, connections


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), REFRESH_CHUNK):
        yield items[start : start + REFRESH_CHUNK]


def _describe(exc: SQLAlchemyError | OSError) -> str:
    """The error without the statement's parameters (a StatementError's text lists them: the hashes)."""
    return f"{type(exc).__name__}: {exc.orig}" if isinstance(exc, StatementError) else str(exc)


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
