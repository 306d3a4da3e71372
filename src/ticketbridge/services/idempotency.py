"""Idempotency-Key, with Stripe's semantics: a POST's first answer, replayed to repeats for 24 hours.

A request with a key calls `begin`, which answers one of:

- a `Hold`: this request runs. The key's row is IN_PROGRESS until `finish` stores the answer (DONE)
  or frees the key. `keep_locked` renews `locked_until` while it runs; a row left IN_PROGRESS past
  it belongs to a process that died, and the next request with the same key and request takes over.
- a `StoredResponse`: the first answer, to send again (the same key, method, path and body).
- `IdempotencyInProgress` (the first request still runs) or `IdempotencyKeyReused` (another request).

Not stored, so that a retry with the same key runs again: 5xx answers, and answers that ask for a
retry with Retry-After (429 throttling, 409 CREATE_IN_PROGRESS); replaying those would refuse for a
day the very retry they ask for. Every other 4xx is stored, as Stripe stores them.

Stored bodies are encrypted with the secrets key (an answer may show a secret once: a new API key),
so nothing readable is kept at rest. A body sealed under a key that has since been retired cannot
be replayed: the key then runs its request again, as after its 24 hours.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketbridge.crypto import CredentialCipher
from ticketbridge.errors import IdempotencyInProgress, IdempotencyKeyReused
from ticketbridge.observability import get_logger
from ticketbridge.store import idempotency as store
from ticketbridge.store.base import utcnow
from ticketbridge.store.idempotency import Hold

log = get_logger("ticketbridge.idempotency")

#: How long a key answers its first response (and refuses other requests).
KEY_TTL = timedelta(hours=24)
#: A running request's lock lasts this long and is renewed every third of it, so a dead process's
#: key runs again within this time while a slow request is never run twice.
LOCK_SECONDS = 30.0
#: The most attempts `begin` makes when the row it found vanishes before it could read it.
_BEGIN_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class KeyScope:
    """Whose keys these are: one organization's connection, or the admin API."""

    name: str
    organization_id: uuid.UUID | None

    @classmethod
    def for_connection(cls, organization_id: uuid.UUID, connection_id: uuid.UUID) -> KeyScope:
        return cls(f"{organization_id}/{connection_id}", organization_id)


ADMIN_SCOPE = KeyScope("admin", None)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """An answer as it went on the wire: status, raw header pairs, body."""

    status_code: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    @property
    def is_replayable(self) -> bool:
        asks_for_retry = any(name.lower() == b"retry-after" for name, _value in self.headers)
        return self.status_code < 500 and not asks_for_retry


def request_hash(method: str, path: str, query_string: bytes, body: bytes) -> str:
    """SHA-256 of what makes two requests the same one."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query_string, body):
        digest.update(len(part).to_bytes(8, "big") + part)  # length-prefixed: no two splits collide
    return digest.hexdigest()


async def begin(
    sessionmaker: async_sessionmaker[AsyncSession],
    cipher: CredentialCipher,
    scope: KeyScope,
    key: str,
    request_hash: str,
    *,
    now: datetime | None = None,
) -> Hold | StoredResponse:
    """Claims `key` for this request, or answers the stored response. Raises IdempotencyInProgress
    while another request holds it, IdempotencyKeyReused when it was used with another request."""
    now = now or utcnow()
    hold = Hold(scope=scope.name, key=key, lock_token=uuid.uuid4().hex)
    locked_until, expires_at = now + timedelta(seconds=LOCK_SECONDS), now + KEY_TTL
    async with sessionmaker.begin() as db:
        for _ in range(_BEGIN_ATTEMPTS):
            inserted = await store.insert_if_absent(
                db,
                hold,
                organization_id=scope.organization_id,
                request_hash=request_hash,
                locked_until=locked_until,
                expires_at=expires_at,
                now=now,
            )
            if inserted:
                return hold
            record = await store.lock_record(db, scope.name, key)
            if record is None:  # freed after the insert saw it: claim it on the next turn
                continue
            if record.expires_at > now:
                if record.request_hash != request_hash:
                    raise IdempotencyKeyReused()
                if record.state == store.DONE:
                    stored = _stored(cipher, record)
                    if stored is not None:
                        return stored
                    log.warning("idempotency.body_unreadable", scope=scope.name)
                elif record.locked_until > now:
                    raise IdempotencyInProgress()
                else:
                    log.warning(
                        "idempotency.taken_over", scope=scope.name, locked_until=record.locked_until.isoformat()
                    )
            await store.take_over(
                db, hold, request_hash=request_hash, locked_until=locked_until, expires_at=expires_at, now=now
            )
            return hold
    raise IdempotencyInProgress()


async def keep_locked(sessionmaker: async_sessionmaker[AsyncSession], hold: Hold) -> None:
    """Renews the hold's lock every third of LOCK_SECONDS until cancelled, or until it is lost."""
    while True:
        await asyncio.sleep(LOCK_SECONDS / 3)
        try:
            async with sessionmaker.begin() as db:
                held = await store.extend_lock(db, hold, locked_until=utcnow() + timedelta(seconds=LOCK_SECONDS))
        except Exception:
            log.exception("idempotency.renew_failed", scope=hold.scope)
            continue
        if not held:
            log.warning("idempotency.hold_lost", scope=hold.scope)
            return


async def finish(
    sessionmaker: async_sessionmaker[AsyncSession], cipher: CredentialCipher, hold: Hold, response: StoredResponse
) -> None:
    """Stores the answer for replay, or frees the key when the answer is not replayable."""
    async with sessionmaker.begin() as db:
        if not response.is_replayable:
            await store.delete_held(db, hold)
            return
        headers = [[name.decode("latin-1"), value.decode("latin-1")] for name, value in response.headers]
        stored = await store.store_response(
            db, hold, status_code=response.status_code, headers=headers, body=cipher.seal(response.body)
        )
    if not stored:
        log.warning("idempotency.hold_lost", scope=hold.scope)


async def abandon(sessionmaker: async_sessionmaker[AsyncSession], hold: Hold) -> None:
    """Frees the key of a request that ended without a complete answer: a retry runs again."""
    async with sessionmaker.begin() as db:
        await store.delete_held(db, hold)


def _stored(cipher: CredentialCipher, record: store.IdempotencyRecord) -> StoredResponse | None:
    """The stored answer, or None when its body was sealed under a retired secrets key."""
    assert record.status_code is not None, "a DONE row has its answer"
    try:
        body = cipher.unseal(record.response_body) if record.response_body else b""
    except ValueError:
        return None
    return StoredResponse(
        status_code=record.status_code,
        headers=[(name.encode("latin-1"), value.encode("latin-1")) for name, value in record.response_headers],
        body=body,
    )
