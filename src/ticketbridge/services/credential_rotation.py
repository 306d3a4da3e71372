"""`ticketbridge secrets rotate`: every stored credential re-encrypted under the first secrets key.

Online: connections are walked by id in batches, each batch one short transaction that locks its
rows, so a concurrent credentials PATCH waits a moment instead of being overwritten. Every row holds
either its old or its new ciphertext, and a service configured with both keys reads both. A row
already under the first key is left alone, so a second run rotates nothing; once a run reports no
failures, the old key can be removed. Two columns hold lasting ciphertexts: connection credentials
and 3LO tokens (walked in a pass of their own, so that a token refresh, which locks its token row,
never waits on a batch that holds connection rows). Two others live briefly and need no rotation:
an Idempotency-Key's stored answer (24 h; one its key cannot open runs again) and a 3LO connect
flow's pending tokens (10 minutes).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketbridge.crypto import CredentialCipher
from ticketbridge.services.connections import Actor, AuditAction
from ticketbridge.store import audit as audit_store
from ticketbridge.store import connections as store
from ticketbridge.store import oauth as oauth_store

DEFAULT_BATCH_SIZE = 100


@dataclass(frozen=True, slots=True)
class RotationReport:
    rotated: int
    already_current: int
    #: Connections whose credentials no configured key decrypts (left as they are).
    failed: tuple[uuid.UUID, ...]


async def rotate_credentials(
    sessionmaker: async_sessionmaker[AsyncSession],
    cipher: CredentialCipher,
    *,
    actor: Actor,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> RotationReport:
    rotated = current = 0
    failed: list[uuid.UUID] = []
    for lock_batch, store_new, field in (
        (store.lock_credentials_batch, store.set_encrypted_credentials, "credentials"),
        (oauth_store.lock_encrypted_batch, oauth_store.set_encrypted, "oauth_tokens"),
    ):
        after: uuid.UUID | None = None
        while True:
            async with sessionmaker.begin() as db:
                batch = await lock_batch(db, after=after, limit=batch_size)
                for connection_id, organization_id, token in batch:
                    if cipher.is_current(token):
                        current += 1
                        continue
                    try:
                        new_token = cipher.rotate(token)
                    except ValueError:
                        failed.append(connection_id)
                        continue
                    await store_new(db, connection_id, new_token)
                    await audit_store.record_change(
                        db,
                        organization_id=organization_id,
                        connection_id=connection_id,
                        actor=actor.name,
                        action=AuditAction.CREDENTIALS_ROTATED,
                        fields=[field],
                        request_id=actor.request_id,
                    )
                    rotated += 1
            if len(batch) < batch_size:
                break
            after = batch[-1][0]
    return RotationReport(rotated=rotated, already_current=current, failed=tuple(failed))
